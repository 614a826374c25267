//! A lean HTTP/1.1 client for requests without a body, run inside the task
//! that serves the client's request: the request head is written straight
//! to a pooled `TcpStream`, the response head is parsed with `httparse`, and
//! the response body is read from the same socket as the client side asks
//! for it (content-length, chunked, or until the upstream closes).
//!
//! Compared with hyper's `client::conn::http1` this saves, per request, the
//! connection task, its dispatch channel and oneshot, the body channel and
//! the waker round trips between the tasks. Requests with a body still go
//! through hyper (see [`crate::upstream`]), which streams both ways at once.
//!
//! It reads responses as hyper's client does (the differential test in
//! `h1client/differential.rs` holds it to that), stricter in three ways:
//! `Content-Length` with `Transfer-Encoding` is refused, a head is limited
//! to exactly [`MAX_HEAD`] bytes, and chunked framing errors in the bytes
//! that came with the head are found before the head is handed out (a 502
//! rather than a response cut after its head).

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{request, HeaderMap, Method, Response, StatusCode, Version};
use http_body::{Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Most response header fields accepted from an upstream.
const MAX_HEADERS: usize = 128;
/// Largest response head accepted from an upstream, in bytes (exact: a
/// head one byte longer is refused, however the reads fell).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size or trailer line accepted, in bytes.
const MAX_LINE: usize = 4096;
/// Free space made in the read buffer before a read.
const READ_SPACE: usize = 16 * 1024;

/// Why an exchange with the upstream failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// The connection failed or closed before any byte of a response came
    /// back (on a pooled connection: the upstream had closed it).
    NothingReceived(io::Error),
    /// The connection failed after part of the response came back.
    Io(io::Error),
    /// The upstream's response is not valid HTTP/1.1.
    Malformed(&'static str),
}

/// Refusals of well-framed responses the gateway does not pass on (as
/// opposed to responses that break HTTP/1.1 framing).
const HEAD_TOO_LARGE: &str = "the response head is too large";
const TOO_MANY_FIELDS: &str = "too many header fields";
const UNASKED_SWITCH: &str = "unasked protocol switch";
const OTHER_CODING: &str = "a transfer coding other than chunked (not supported by the gateway)";

impl Error {
    /// Whether no byte of a response was received, so the request can be
    /// sent again on another connection if it is idempotent.
    pub(crate) fn nothing_received(&self) -> bool {
        matches!(self, Error::NothingReceived(_))
    }

    /// Whether the response broke HTTP/1.1 framing (garbage where a head
    /// belongs, bad lengths or chunks), rather than being a well-framed
    /// one the gateway does not pass on: then the upstream is not trusted
    /// with connection reuse for a while (see `upstream`).
    pub(crate) fn breaks_framing(&self) -> bool {
        match self {
            Error::Malformed(what) => ![
                HEAD_TOO_LARGE,
                TOO_MANY_FIELDS,
                UNASKED_SWITCH,
                OTHER_CODING,
            ]
            .contains(what),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NothingReceived(_) => {
                f.write_str("the upstream closed the connection without answering")
            }
            Error::Io(_) => f.write_str("the upstream connection failed mid-response"),
            Error::Malformed(what) => write!(f, "malformed upstream response: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::NothingReceived(e) | Error::Io(e) => Some(e),
            Error::Malformed(_) => None,
        }
    }
}

/// An HTTP/1.1 connection to an upstream, idle between exchanges.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// Bytes read from the upstream and not used yet.
    buf: BytesMut,
    /// The request head being written (kept for its allocation).
    head: Vec<u8>,
}

impl Conn {
    /// A connection over a connected stream.
    pub(crate) fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: BytesMut::new(),
            head: Vec::new(),
        }
    }

    /// What arrived on the connection while it was idle. Costs a syscall
    /// only when the reactor saw the socket readable.
    pub(crate) fn idle_state(&self) -> Idle {
        let mut probe = [0u8; 1];
        match self.stream.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Idle::Quiet,
            Ok(0) | Err(_) => Idle::Closed,
            Ok(_) => Idle::Unsolicited,
        }
    }

    #[cfg(test)]
    /// Whether the upstream has not closed the connection (nor sent
    /// anything unasked).
    pub(crate) fn looks_open(&self) -> bool {
        self.idle_state() == Idle::Quiet
    }

    /// The stream, for a hand-over to another client; `None` when bytes
    /// from the upstream are still buffered.
    pub(crate) fn into_stream(self) -> Option<TcpStream> {
        self.buf.is_empty().then_some(self.stream)
    }
}

/// What an idle connection's socket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Nothing: the connection can carry a request.
    Quiet,
    /// The upstream closed it (or it failed).
    Closed,
    /// Bytes no request asked for.
    Unsolicited,
}

/// Whether a request may be sent again after its connection failed without
/// an answer (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Header fields added to a request as its head is written.
#[derive(Debug, Default)]
pub(crate) struct Extra<'a> {
    /// The `Host` to send instead of the request's own.
    pub host: Option<&'a HeaderValue>,
    /// Fields written after the request's own.
    pub fields: &'a [Option<(&'static HeaderName, HeaderValue)>],
    /// Header lines written as they are after `fields` (each `name: value`
    /// and CRLF), e.g. [`crate::forward::ForwardingCache::fresh_lines`].
    pub lines: &'a [u8],
}

/// Sends a bodiless request (its URI in origin form, its headers ready for
/// the upstream but for `extra`) and reads the response head. The body is
/// read later, through the returned [`ResponseBody`]. Hop-by-hop fields of
/// the response are left out of its header map, but for a `Connection`
/// field that names other fields (to be removed by the caller).
pub(crate) async fn exchange(
    mut conn: Conn,
    req: &request::Parts,
    extra: &Extra<'_>,
) -> Result<Response<ResponseBody>, Error> {
    write_head(&mut conn.head, req, extra);
    if let Err(e) = conn.stream.write_all(&conn.head).await {
        return Err(Error::NothingReceived(e));
    }
    let mut received = false;
    loop {
        if !conn.buf.is_empty() {
            if let Some(mut resp) = parse_head(&mut conn, req)? {
                if let Framing::Chunked(state) = resp.body().framing {
                    // Framing errors in what came with the head become a
                    // 502 for the client, not a response cut after its head.
                    check_chunked(&conn.buf, state)?;
                }
                resp.body_mut().conn = Some(conn);
                return Ok(resp);
            }
        }
        if conn.buf.len() >= MAX_HEAD {
            // `parse_head` found no complete head in this many bytes.
            return Err(Error::Malformed(HEAD_TOO_LARGE));
        }
        conn.buf.reserve(READ_SPACE);
        match tokio::io::AsyncReadExt::read_buf(&mut conn.stream, &mut conn.buf).await {
            Ok(0) if !received => {
                return Err(Error::NothingReceived(io::ErrorKind::UnexpectedEof.into()))
            }
            Ok(0) => return Err(Error::Malformed("the response head was cut short")),
            Ok(_) => received = true,
            Err(e) if !received => return Err(Error::NothingReceived(e)),
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// Writes `METHOD target HTTP/1.1`, the header fields and the blank line.
fn write_head(out: &mut Vec<u8>, req: &request::Parts, extra: &Extra<'_>) {
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    let target = req.uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    fn field(out: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(host) = extra.host {
        field(out, &header::HOST, host);
    }
    // A map yields the values of one name one after the other: the
    // `cookie` fields an HTTP/2 client splits go out as one line, joined
    // with "; " (RFC 9113 §8.2.3).
    let mut last_was_cookie = false;
    for (name, value) in &req.headers {
        if extra.host.is_some() && name == header::HOST {
            continue;
        }
        if name == header::COOKIE {
            if last_was_cookie {
                out.truncate(out.len() - 2);
                out.extend_from_slice(b"; ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
                continue;
            }
            last_was_cookie = true;
        } else {
            last_was_cookie = false;
        }
        field(out, name, value);
    }
    for (name, value) in extra.fields.iter().flatten() {
        field(out, name, value);
    }
    out.extend_from_slice(extra.lines);
    // A request whose method expects a body says that it has none.
    if matches!(req.method, Method::POST | Method::PUT | Method::PATCH)
        && !req.headers.contains_key(header::CONTENT_LENGTH)
    {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses a complete response head at the front of the buffer; `None` when
/// more bytes are needed. Interim (1xx) responses are skipped.
fn parse_head(
    conn: &mut Conn,
    req: &request::Parts,
) -> Result<Option<Response<ResponseBody>>, Error> {
    loop {
        // Left uninitialised until parsed: no 4 KiB to zero per response.
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut parsed,
            &conn.buf,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
                return Err(Error::Malformed(HEAD_TOO_LARGE))
            }
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(Error::Malformed(TOO_MANY_FIELDS)),
            Err(_) => return Err(Error::Malformed("not an HTTP/1.x response head")),
        };
        let code = parsed.code.unwrap_or(0);
        let Ok(status) = StatusCode::from_u16(code) else {
            return Err(Error::Malformed("invalid status code"));
        };
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::Malformed(UNASKED_SWITCH));
        }
        if status.is_informational() {
            // 100 Continue and the like: the final response follows.
            conn.buf.advance(len);
            continue;
        }
        let version = match parsed.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        // Where each kept field lies in the buffer, so that the values can
        // share the head's bytes instead of being copied.
        let base = conn.buf.as_ptr() as usize;
        let mut spans: Vec<(HeaderName, usize, usize)> = Vec::with_capacity(parsed.headers.len());
        let mut facts = Facts::default();
        for f in parsed.headers.iter() {
            let Ok(name) = HeaderName::from_bytes(f.name.as_bytes()) else {
                return Err(Error::Malformed("invalid header name"));
            };
            if !facts.note(&name, f.value)? {
                continue;
            }
            let start = f.value.as_ptr() as usize - base;
            spans.push((name, start, start + f.value.len()));
        }
        if facts.chunked.is_some() {
            // A transfer coding overrides any content-length (RFC 9112 §6.3).
            spans.retain(|(n, _, _)| *n != header::CONTENT_LENGTH);
        }
        let head = conn.buf.split_to(len).freeze();
        // Room for the CORS fields the gateway adds.
        let mut headers = HeaderMap::with_capacity(spans.len() + 6);
        for (name, start, end) in spans {
            let Ok(value) = HeaderValue::from_maybe_shared(head.slice(start..end)) else {
                return Err(Error::Malformed("invalid header value"));
            };
            headers.append(name, value);
        }
        let framing = facts.framing(req, status, version)?;
        // As hyper's client: HTTP/1.1 unless told to close, HTTP/1.0 when
        // told to keep alive.
        let keep_alive = !facts.close && (version == Version::HTTP_11 || facts.keep_alive);
        let mut resp = Response::new(ResponseBody {
            conn: None,
            framing,
            keep_alive,
        });
        *resp.status_mut() = status;
        *resp.version_mut() = version;
        *resp.headers_mut() = headers;
        return Ok(Some(resp));
    }
}

/// What the framing and hop-by-hop fields of a response head say.
#[derive(Default)]
struct Facts {
    /// A transfer coding was given; whether the last one is chunked.
    chunked: Option<bool>,
    content_length: Option<u64>,
    /// `Connection: close`.
    close: bool,
    /// `Connection: keep-alive` (what keeps an HTTP/1.0 connection open).
    keep_alive: bool,
}

impl Facts {
    /// Notes one field; `false` when it stays out of the header map.
    fn note(&mut self, name: &HeaderName, value: &[u8]) -> Result<bool, Error> {
        if *name == header::CONTENT_LENGTH {
            let n = content_length(value).ok_or(Error::Malformed("invalid content-length"))?;
            if self.content_length.is_some_and(|l| l != n) {
                return Err(Error::Malformed("conflicting content-length values"));
            }
            self.content_length = Some(n);
            return Ok(true);
        }
        if *name == header::TRANSFER_ENCODING {
            // Only `chunked` is decoded here. Any other coding (gzip…) could
            // not reach the client undeclared once the hop-by-hop
            // `Transfer-Encoding` is dropped: refused rather than corrupted.
            if !is_only_chunked(value) {
                return Err(Error::Malformed(OTHER_CODING));
            }
            self.chunked = Some(true);
            return Ok(false);
        }
        if *name == header::CONNECTION {
            // Kept only when it names fields other than the hop-by-hop ones.
            let mut names_others = false;
            for token in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if !token.is_empty() {
                    names_others = true;
                }
            }
            return Ok(names_others);
        }
        Ok(!matches!(
            name.as_str(),
            "keep-alive"
                | "proxy-connection"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "trailer"
                | "upgrade"
        ))
    }

    /// How the response body is delimited (RFC 9112 §6.3).
    fn framing(
        &self,
        req: &request::Parts,
        status: StatusCode,
        version: Version,
    ) -> Result<Framing, Error> {
        if self.chunked.is_some() && self.content_length.is_some() {
            // RFC 9112 §6.3 lets chunked win, but a message with both
            // "ought to be handled as an error" (a sign of smuggling or of
            // a broken upstream): refused, as nginx does.
            return Err(Error::Malformed(
                "both content-length and transfer-encoding",
            ));
        }
        if req.method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok(Framing::Length(0));
        }
        match self.chunked {
            Some(_) if version == Version::HTTP_10 => Err(Error::Malformed(
                "transfer-encoding in an HTTP/1.0 response",
            )),
            Some(true) => Ok(Framing::Chunked(Chunk::Size)),
            Some(false) => Ok(Framing::Close),
            None => Ok(self.content_length.map_or(Framing::Close, Framing::Length)),
        }
    }
}

/// The length a `Content-Length` value gives: a list of equal decimal
/// numbers (no sign, no overflow), as hyper's client reads it.
fn content_length(value: &[u8]) -> Option<u64> {
    let mut length = None;
    for part in value.split(|b| *b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() {
            return None;
        }
        let n = part.iter().try_fold(0u64, |n, d| {
            let d = d.is_ascii_digit().then(|| u64::from(d - b'0'))?;
            n.checked_mul(10)?.checked_add(d)
        })?;
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

/// Whether the `Content-Length` fields of a message agree on one valid
/// length (or are absent).
pub(crate) fn content_length_is_valid(values: http::header::GetAll<'_, HeaderValue>) -> bool {
    let mut length = None;
    for v in values {
        match content_length(v.as_bytes()) {
            Some(n) if length.is_none_or(|l| l == n) => length = Some(n),
            _ => return false,
        }
    }
    true
}

/// Whether a `Transfer-Encoding` value names `chunked` and nothing else
/// (empty list elements aside).
pub(crate) fn is_only_chunked(value: &[u8]) -> bool {
    let mut codings = value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty());
    codings
        .next()
        .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        && codings.next().is_none()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked transfer coding, at this point.
    Chunked(Chunk),
    /// Everything until the upstream closes.
    Close,
    /// The body has been read to its end.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk: this many data bytes are left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank one.
    Trailers,
}

/// A response body read from the upstream connection on demand.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    /// The connection; `None` once it failed.
    conn: Option<Conn>,
    framing: Framing,
    keep_alive: bool,
}

impl ResponseBody {
    /// Closes the connection: the body will not be read to its end.
    pub(crate) fn abandon(&mut self) {
        self.conn = None;
    }

    /// Whether the body has been read to its end.
    pub(crate) fn is_end_stream(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Length(0))
    }

    /// Whether bytes came after the end of the response in the same reads
    /// (a body after 204/304/HEAD, more than the length, anything after the
    /// last chunk, a second response).
    pub(crate) fn overran(&self) -> bool {
        self.is_end_stream() && self.conn.as_ref().is_some_and(|c| !c.buf.is_empty())
    }

    /// The connection, if the body was read to its end and the connection
    /// can carry another request.
    pub(crate) fn reusable_conn(&mut self) -> Option<Conn> {
        if !self.is_end_stream() || !self.keep_alive {
            return None;
        }
        let conn = self.conn.take()?;
        // Bytes past the end of the response: the stream cannot be trusted.
        conn.buf.is_empty().then_some(conn)
    }

    /// The size of what is left, when known.
    pub(crate) fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }

    /// The next piece of the body.
    pub(crate) fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.framing {
                Framing::Done => return Poll::Ready(None),
                Framing::Length(0) => {
                    this.framing = Framing::Done;
                    return Poll::Ready(None);
                }
                Framing::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = left.min(conn.buf.len() as u64);
                        this.framing = Framing::Length(left - n);
                        let data = conn.buf.split_to(n as usize).freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Framing::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Framing::Chunked(state) => match chunk_step(&conn.buf, state) {
                    Ok((Step::Data(n), next)) => {
                        this.framing = next;
                        let data = conn.buf.split_to(n).freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok((Step::Moved(used), next)) => {
                        conn.buf.advance(used);
                        this.framing = next;
                        continue;
                    }
                    Ok((Step::NeedMore, _)) => {}
                    Err(e) => {
                        this.conn = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            }
            // The buffer holds nothing usable: read from the upstream.
            match ready!(poll_read(conn, cx)) {
                Ok(0) if this.framing == Framing::Close => {
                    this.framing = Framing::Done;
                    this.keep_alive = false;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream closed the connection before the body's end",
                    )))));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            }
        }
    }
}

/// Reads what the socket has into the connection's buffer.
fn poll_read(conn: &mut Conn, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    if conn.buf.capacity() - conn.buf.len() < READ_SPACE / 4 {
        conn.buf.reserve(READ_SPACE);
    }
    loop {
        ready!(conn.stream.poll_read_ready(cx))?;
        match conn.stream.try_read_buf(&mut conn.buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return Poll::Ready(r),
        }
    }
}

enum Step {
    /// This many body bytes at the front of the buffer.
    Data(usize),
    /// This many framing bytes at the front of the buffer were used.
    Moved(usize),
    /// The buffer ends before the next step.
    NeedMore,
}

/// One step of the chunked decoder over the buffered bytes (nothing is
/// consumed: the caller advances by what the step says), and the state
/// after it. The grammar is hyper's client's, byte for byte: a chunk size
/// of hex digits only (no sign, no leading space, no overflow), then
/// optional spaces or tabs, an extension without a bare LF, and CRLF; CRLF
/// after the data; trailer lines ending in CRLF.
fn chunk_step(buf: &[u8], state: Chunk) -> Result<(Step, Framing), Error> {
    match state {
        Chunk::Size => Ok(match chunk_size_line(buf)? {
            None => (Step::NeedMore, Framing::Chunked(state)),
            Some((0, used)) => (Step::Moved(used), Framing::Chunked(Chunk::Trailers)),
            Some((size, used)) => (Step::Moved(used), Framing::Chunked(Chunk::Data(size))),
        }),
        Chunk::Data(left) => {
            if buf.is_empty() {
                return Ok((Step::NeedMore, Framing::Chunked(state)));
            }
            let n = left.min(buf.len() as u64);
            let next = if n == left {
                Chunk::DataEnd
            } else {
                Chunk::Data(left - n)
            };
            Ok((Step::Data(n as usize), Framing::Chunked(next)))
        }
        Chunk::DataEnd => match buf {
            [] | [b'\r'] => Ok((Step::NeedMore, Framing::Chunked(state))),
            [b'\r', b'\n', ..] => Ok((Step::Moved(2), Framing::Chunked(Chunk::Size))),
            _ => Err(Error::Malformed("chunk data longer than its size")),
        },
        Chunk::Trailers => {
            // Trailer fields are dropped: the gateway does not forward them.
            // A line runs to its CR, which must be followed by LF.
            let Some(cr) = buf.iter().position(|b| *b == b'\r') else {
                if buf.len() > MAX_LINE {
                    return Err(Error::Malformed("a trailer line is too long"));
                }
                return Ok((Step::NeedMore, Framing::Chunked(state)));
            };
            match buf.get(cr + 1) {
                None => Ok((Step::NeedMore, Framing::Chunked(state))),
                Some(b'\n') if cr == 0 => Ok((Step::Moved(2), Framing::Done)),
                Some(b'\n') if cr <= MAX_LINE => {
                    Ok((Step::Moved(cr + 2), Framing::Chunked(Chunk::Trailers)))
                }
                Some(b'\n') => Err(Error::Malformed("a trailer line is too long")),
                Some(_) => Err(Error::Malformed("a trailer line without LF")),
            }
        }
    }
}

/// Parses a chunk-size line at the front of `buf`: the size and the bytes
/// the line takes, `None` when the line is not complete yet (every byte so
/// far valid).
fn chunk_size_line(buf: &[u8]) -> Result<Option<(u64, usize)>, Error> {
    #[derive(PartialEq)]
    enum At {
        Digits,
        Space,
        Extension,
        Lf,
    }
    let bad = Error::Malformed("invalid chunk size line");
    let mut at = At::Digits;
    let mut size: u64 = 0;
    for (i, &b) in buf.iter().enumerate() {
        if i >= MAX_LINE {
            return Err(Error::Malformed("a chunk-size line is too long"));
        }
        match at {
            At::Digits => {
                if let Some(d) = (b as char).to_digit(16) {
                    size = size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(d)))
                        .ok_or(Error::Malformed("chunk size too large"))?;
                    continue;
                }
                if i == 0 {
                    return Err(bad);
                }
                at = match b {
                    b' ' | b'\t' => At::Space,
                    b';' => At::Extension,
                    b'\r' => At::Lf,
                    _ => return Err(bad),
                };
            }
            At::Space => {
                at = match b {
                    b' ' | b'\t' => At::Space,
                    b';' => At::Extension,
                    b'\r' => At::Lf,
                    _ => return Err(bad),
                }
            }
            At::Extension => match b {
                b'\r' => at = At::Lf,
                b'\n' => return Err(Error::Malformed("a bare LF in a chunk extension")),
                _ => {}
            },
            At::Lf if b == b'\n' => return Ok(Some((size, i + 1))),
            At::Lf => return Err(bad),
        }
    }
    Ok(None)
}

/// Runs the chunked decoder over the bytes buffered after a response head
/// without consuming them: an error there is known before the head goes
/// to the client.
fn check_chunked(buf: &[u8], mut state: Chunk) -> Result<(), Error> {
    let mut at = 0;
    loop {
        let (step, next) = chunk_step(&buf[at..], state)?;
        match step {
            Step::Data(n) | Step::Moved(n) => at += n,
            Step::NeedMore => return Ok(()),
        }
        match next {
            Framing::Chunked(s) => state = s,
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use tokio::io::AsyncReadExt;

    /// A loopback upstream that answers each request head on a connection
    /// with the next response of its script (written in the pieces given),
    /// and closes the connection once the script is done.
    async fn upstream(script: Vec<Vec<&'static [u8]>>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut seen = Vec::new();
            for pieces in script {
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&chunk[..n]),
                    }
                }
                let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                seen.drain(..end + 4);
                for p in pieces {
                    s.write_all(p).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        });
        addr
    }

    async fn connect(addr: SocketAddr) -> Conn {
        Conn::new(TcpStream::connect(addr).await.unwrap())
    }

    fn request(method: &str, target: &str) -> request::Parts {
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(target)
            .header("host", "up.example")
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    /// The whole body, then the connection if it can be reused.
    async fn read_all(mut body: ResponseBody) -> Result<(Vec<u8>, Option<Conn>), Error> {
        let mut out = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Ok(data) = frame?.into_data() {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, body.reusable_conn()))
    }

    async fn one(
        conn: Conn,
        method: &str,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>, Option<Conn>), Error> {
        let req = request(method, "/x");
        let resp = exchange(conn, &req, &Extra::default()).await?;
        let (parts, body) = resp.into_parts();
        let (data, conn) = read_all(body).await?;
        Ok((parts.status, parts.headers, data, conn))
    }

    #[tokio::test]
    async fn content_length_and_reuse() {
        let addr = upstream(vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhel", b"lo"],
            vec![b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-a: 1\r\n\r\nok"],
        ])
        .await;
        let (status, headers, body, conn) = one(connect(addr).await, "GET").await.unwrap();
        assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"hello"[..]));
        assert!(headers.get("connection").is_none() && headers.get("keep-alive").is_none());
        assert_eq!(headers["content-length"], "5");
        let (status, headers, body, conn) = one(conn.expect("reusable"), "GET").await.unwrap();
        assert_eq!((status, body.as_slice()), (StatusCode::CREATED, &b"ok"[..]));
        assert_eq!(headers["x-a"], "1");
        assert!(conn.is_some());
    }

    #[tokio::test]
    async fn chunked_in_pieces_with_extensions_and_trailers() {
        let addr = upstream(vec![
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"5;name=v\r\nhel",
                b"lo\r",
                b"\n0",
                b"\r\nx-trailer: 1\r\n",
                b"\r\n",
            ],
            vec![
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ],
        ])
        .await;
        let (_, headers, body, conn) = one(connect(addr).await, "GET").await.unwrap();
        assert_eq!(body, b"hello");
        assert!(headers.get("transfer-encoding").is_none());
        // Another coding before chunked (gzip) could not reach the client
        // declared once Transfer-Encoding goes: refused, not corrupted.
        let refused = one(conn.expect("reusable"), "GET").await;
        assert!(matches!(refused, Err(Error::Malformed(_))), "{refused:?}");
    }

    #[test]
    fn only_chunked_is_accepted() {
        for (v, ok) in [
            (&b"chunked"[..], true),
            (b"Chunked", true),
            (b" chunked , ", true),
            (b"gzip, chunked", false),
            (b"chunked, chunked", false),
            (b"identity", false),
            (b"", false),
        ] {
            assert_eq!(is_only_chunked(v), ok, "{:?}", String::from_utf8_lossy(v));
        }
    }

    #[tokio::test]
    async fn head_204_and_304_have_no_body() {
        let addr = upstream(vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"],
            vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
            vec![b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
        ])
        .await;
        let (s, h, body, conn) = one(connect(addr).await, "HEAD").await.unwrap();
        assert_eq!((s, body.len()), (StatusCode::OK, 0));
        assert_eq!(h["content-length"], "1000");
        let (s, _, body, conn) = one(conn.unwrap(), "GET").await.unwrap();
        assert_eq!((s, body.len()), (StatusCode::NO_CONTENT, 0));
        let (s, _, body, conn) = one(conn.unwrap(), "GET").await.unwrap();
        assert_eq!((s, body.len()), (StatusCode::NOT_MODIFIED, 0));
        let (s, _, body, conn) = one(conn.unwrap(), "GET").await.unwrap();
        assert_eq!((s, body.len()), (StatusCode::OK, 0));
        assert!(conn.is_some());
    }

    #[tokio::test]
    async fn interim_responses_are_skipped() {
        let addr = upstream(vec![vec![
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ]])
        .await;
        let (s, h, body, _) = one(connect(addr).await, "GET").await.unwrap();
        assert_eq!((s, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
        assert!(h.get("link").is_none());
    }

    #[tokio::test]
    async fn connection_close_and_bodies_until_close() {
        let addr = upstream(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        ]])
        .await;
        let (_, _, body, conn) = one(connect(addr).await, "GET").await.unwrap();
        assert_eq!(body, b"ok");
        assert!(conn.is_none(), "the upstream said close");
        // No length: the body runs to the end of the connection.
        let addr = upstream(vec![vec![b"HTTP/1.1 200 OK\r\n\r\nall ", b"of it"]]).await;
        let (_, _, body, conn) = one(connect(addr).await, "GET").await.unwrap();
        assert_eq!(body, b"all of it");
        assert!(conn.is_none());
        // HTTP/1.0 without keep-alive.
        let addr = upstream(vec![vec![b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n1"]]).await;
        let (_, _, _, conn) = one(connect(addr).await, "GET").await.unwrap();
        assert!(conn.is_none());
        // Bytes past the end of the response.
        let addr = upstream(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1junk",
        ]])
        .await;
        let (_, _, body, conn) = one(connect(addr).await, "GET").await.unwrap();
        assert_eq!(body, b"1");
        assert!(conn.is_none(), "unasked bytes: not reused");
    }

    #[tokio::test]
    async fn a_closed_connection_is_nothing_received() {
        let addr = upstream(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"]]).await;
        let (_, _, _, conn) = one(connect(addr).await, "GET").await.unwrap();
        // The script is done: the upstream closes the pooled connection.
        let conn = conn.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!conn.looks_open());
        let e = one(conn, "GET").await.err().unwrap();
        assert!(e.nothing_received(), "{e}");
    }

    #[tokio::test]
    async fn malformed_responses_are_errors() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"SMTP ready\r\n\r\n",
            b"HTTP/1.1 99 Odd\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            // Ambiguous framing: refused, even where chunked would win.
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
            // Chunk sizes hyper's client refuses too.
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
        ] {
            let addr = upstream(vec![vec![bad]]).await;
            let r = one(connect(addr).await, "GET").await;
            assert!(
                matches!(r, Err(Error::Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                r.map(|(s, _, b, _)| (s, b))
            );
        }
        // Cut short: in the head, and in the body.
        let addr = upstream(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Le"]]).await;
        assert!(matches!(
            one(connect(addr).await, "GET").await,
            Err(Error::Malformed(_))
        ));
        let addr = upstream(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
        ]])
        .await;
        assert!(matches!(
            one(connect(addr).await, "GET").await,
            Err(Error::Io(_))
        ));
    }

    #[tokio::test]
    async fn only_framing_errors_break_trust() {
        for (bytes, breaks) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
                true,
            ),
            (b"SMTP ready\r\n\r\n", true),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+1\r\n",
                true,
            ),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false),
            (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", false),
        ] {
            let addr = upstream(vec![vec![bytes]]).await;
            let e = one(connect(addr).await, "GET").await.err().unwrap();
            assert_eq!(e.breaks_framing(), breaks, "{e}");
        }
    }

    #[test]
    fn the_head_carries_the_extra_fields() {
        let mut out = Vec::new();
        let fields = [
            Some((&header::VIA, HeaderValue::from_static("1.1 corsgate"))),
            None,
        ];
        let host = HeaderValue::from_static("backend:8080");
        let extra = Extra {
            host: Some(&host),
            fields: &fields,
            lines: b"x-a: 1\r\n",
        };
        write_head(&mut out, &request("POST", "/p?q=1"), &extra);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /p?q=1 HTTP/1.1\r\nhost: backend:8080\r\nvia: 1.1 corsgate\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n"
        );
        let mut out = Vec::new();
        write_head(&mut out, &request("GET", "/"), &Extra::default());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nhost: up.example\r\n\r\n"
        );
    }
}
