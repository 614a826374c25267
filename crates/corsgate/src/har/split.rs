//! A HAR read as a stream of entries: the top-level structure (`log`,
//! `creator`, `entries`) is walked by hand, and each entry's bytes, found by
//! a scanner that jumps through strings with `memchr`, are handed whole to
//! `serde_json::from_slice` (several times faster than
//! `serde_json::from_reader`, which takes its input a byte at a time).
//!
//! Memory: the buffer holds the entry being read and what was read ahead
//! (256 KiB at a time), so it is bounded by the largest entry, never by the
//! file. Malformed input is an error naming the line and column; every
//! value handed on is then validated by serde_json itself.

use std::io::Read;

/// How much is read at a time.
const CHUNK: usize = 256 * 1024;

/// Why reading stopped.
#[derive(Debug)]
pub enum SplitError {
    /// Reading failed.
    Io(std::io::Error),
    /// Not the JSON expected, at this line and column.
    Syntax(String),
}

/// A reader of JSON values from a byte stream, one at a time.
pub(super) struct Splitter<R> {
    inner: R,
    buf: Vec<u8>,
    /// Where the unread bytes start and end in `buf`.
    start: usize,
    end: usize,
    eof: bool,
    /// Newlines in the bytes already dropped from `buf`, and where the last
    /// one was (in bytes of the whole stream), for error positions.
    lines: u64,
    dropped: u64,
    line_start: u64,
}

impl<R: Read> Splitter<R> {
    /// Reads from `inner`.
    pub(super) fn new(inner: R) -> Self {
        Splitter {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            lines: 0,
            dropped: 0,
            line_start: 0,
        }
    }

    /// Reads more: keeps `buf[start..end]` (moved to the front when the
    /// front is free), grows when full. False at the end of the stream.
    fn fill(&mut self) -> Result<bool, SplitError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            for i in memchr::memchr_iter(b'\n', &self.buf[..self.start]) {
                self.lines += 1;
                self.line_start = self.dropped + i as u64 + 1;
            }
            self.dropped += self.start as u64;
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end + CHUNK / 2 > self.buf.len() {
            let grown = (self.buf.len() * 2).max(self.end + CHUNK);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SplitError::Io(e)),
            }
        }
    }

    /// An error at `buf[at]` (or the end).
    fn error(&self, what: &str, at: usize) -> SplitError {
        let at = at.min(self.end);
        let mut line = self.lines + 1;
        let mut line_start = self.line_start;
        for i in memchr::memchr_iter(b'\n', &self.buf[..at]) {
            line += 1;
            line_start = self.dropped + i as u64 + 1;
        }
        let column = self.dropped + at as u64 - line_start + 1;
        let where_ = if at >= self.end && self.eof {
            format!("at line {line}, column {column} (the end of the file)")
        } else {
            format!("at line {line}, column {column}")
        };
        SplitError::Syntax(format!("{what} {where_}"))
    }

    /// The next byte that is not whitespace, not consumed (`None` at the end).
    pub(super) fn peek(&mut self) -> Result<Option<u8>, SplitError> {
        loop {
            while self.start < self.end {
                match self.buf[self.start] {
                    b' ' | b'\t' | b'\n' | b'\r' => self.start += 1,
                    b => return Ok(Some(b)),
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `byte` (after whitespace), or fails naming `what` was expected.
    pub(super) fn expect(&mut self, byte: u8, what: &str) -> Result<(), SplitError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.start += 1;
                Ok(())
            }
            _ => Err(self.error(&format!("expected {what}"), self.start)),
        }
    }

    /// Consumes a `,` or the closing `close`; true when it was the close.
    pub(super) fn comma_or(&mut self, close: u8) -> Result<bool, SplitError> {
        match self.peek()? {
            Some(b',') => {
                self.start += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.start += 1;
                Ok(true)
            }
            _ => Err(self.error(&format!("expected `,` or `{}`", close as char), self.start)),
        }
    }

    /// The next complete JSON value's bytes (after whitespace), consumed.
    /// Only the value's extent is found here; its syntax is serde_json's to
    /// check.
    pub(super) fn value(&mut self) -> Result<&[u8], SplitError> {
        let Some(first) = self.peek()? else {
            return Err(self.error("expected a value", self.end));
        };
        // Offsets from `start`, which `fill` may move.
        let mut p = 1usize;
        let mut depth: usize = match first {
            b'{' | b'[' => 1,
            b'"' => {
                p = self.string_end(1)?;
                0
            }
            _ => {
                // A scalar: up to a delimiter.
                loop {
                    if self.start + p >= self.end && !self.fill()? {
                        break;
                    }
                    match self.buf[self.start + p] {
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' => break,
                        _ => p += 1,
                    }
                }
                0
            }
        };
        while depth > 0 {
            if self.start + p >= self.end && !self.fill()? {
                return Err(self.error("the file ends inside a value", self.end));
            }
            match self.buf[self.start + p] {
                b'"' => p = self.string_end(p + 1)?,
                b'{' | b'[' => {
                    depth += 1;
                    p += 1;
                }
                b'}' | b']' => {
                    depth -= 1;
                    p += 1;
                }
                _ => p += 1,
            }
        }
        let (from, to) = (self.start, self.start + p);
        self.start = to;
        Ok(&self.buf[from..to])
    }

    /// Past the closing quote of a string whose contents start at offset
    /// `p` from `start`.
    fn string_end(&mut self, mut p: usize) -> Result<usize, SplitError> {
        loop {
            if self.start + p >= self.end && !self.fill()? {
                return Err(self.error("the file ends inside a string", self.end));
            }
            let hay = &self.buf[self.start + p..self.end];
            match memchr::memchr2(b'"', b'\\', hay) {
                Some(i) if hay[i] == b'"' => return Ok(p + i + 1),
                Some(i) => {
                    // An escape: the byte after it is never the end.
                    p += i + 2;
                }
                None => p += hay.len(),
            }
        }
    }

    /// Whether only whitespace is left.
    pub(super) fn at_end(&mut self) -> Result<bool, SplitError> {
        Ok(self.peek()?.is_none())
    }

    /// An error at the current position.
    pub(super) fn here(&self, what: &str) -> SplitError {
        self.error(what, self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives one byte at a time: every value crosses reads.
    struct Dribble<'a>(&'a [u8]);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((b, rest)), false) => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn values_come_whole_whatever_the_reads() {
        let doc = br#" [ {"a": "x\"]}\\", "b": [1, {"c": null}]}, "s\\\"", 12.5e3 , true, {} ] "#;
        let expect: Vec<&[u8]> = vec![
            br#"{"a": "x\"]}\\", "b": [1, {"c": null}]}"#,
            br#""s\\\"""#,
            b"12.5e3",
            b"true",
            b"{}",
        ];
        for whole in [false, true] {
            let mut got = Vec::new();
            let mut run = |s: &mut dyn FnMut() -> Result<Option<Vec<u8>>, SplitError>| {
                while let Some(v) = s().unwrap() {
                    got.push(v);
                }
            };
            if whole {
                let mut sp = Splitter::new(&doc[..]);
                sp.expect(b'[', "[").unwrap();
                let mut done = false;
                run(&mut || {
                    if done {
                        return Ok(None);
                    }
                    let v = sp.value()?.to_vec();
                    done = sp.comma_or(b']')?;
                    Ok(Some(v))
                });
                assert!(sp.at_end().unwrap());
            } else {
                let mut sp = Splitter::new(Dribble(doc));
                sp.expect(b'[', "[").unwrap();
                let mut done = false;
                run(&mut || {
                    if done {
                        return Ok(None);
                    }
                    let v = sp.value()?.to_vec();
                    done = sp.comma_or(b']')?;
                    Ok(Some(v))
                });
                assert!(sp.at_end().unwrap());
            }
            assert_eq!(got, expect, "whole reads: {whole}");
        }
    }

    #[test]
    fn errors_name_the_line() {
        let doc = b"[\n{\"a\": 1},\n{\"b\": \"unterminated";
        let mut sp = Splitter::new(Dribble(doc));
        sp.expect(b'[', "[").unwrap();
        sp.value().unwrap();
        sp.comma_or(b']').unwrap();
        match sp.value() {
            Err(SplitError::Syntax(m)) => assert!(m.contains("end"), "{m}"),
            _ => panic!("an error"),
        }
        let mut sp = Splitter::new(&b"[\n\n  1 2]"[..]);
        sp.expect(b'[', "[").unwrap();
        sp.value().unwrap();
        match sp.comma_or(b']') {
            Err(SplitError::Syntax(m)) => assert!(m.contains("line 3, column 5"), "{m}"),
            _ => panic!("an error"),
        }
    }
}
