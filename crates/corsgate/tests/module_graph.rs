//! No import cycles between a crate's modules.
//!
//! For every crate of the workspace, the top-level modules of `src/` and the
//! `crate::…` paths each one names in code (doc comments and test-only
//! modules left out) form a graph; its strongly connected components of more
//! than one module are import cycles. The cycles that predate this check are
//! listed in `KNOWN` (debt, to be broken: see ARCHITECTURE.md); a new cycle,
//! or a known one that grows beyond its listed modules, fails. A known
//! cycle that no longer exists fails too, so that the list only shrinks.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that predate the check: (crate directory, modules).
const KNOWN: &[(&str, &[&str])] = &[];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Code lines only: comment lines dropped, and a `#[cfg(test)] mod tests {…}`
/// block (at the end of a file, where this project keeps them) cut off.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment of every `crate::` path in `code`, grouped imports
/// (`use crate::{a, b::c}`) included.
fn named(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find("crate::") {
        let start = from + i;
        let before = start.checked_sub(1).map(|j| bytes[j]);
        from = start + "crate::".len();
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue; // e.g. `corsgate_core::`
        }
        if bytes.get(from) == Some(&b'{') {
            // Split the group at its top-level commas.
            let mut depth = 0;
            let mut item_start = from + 1;
            for (k, &b) in bytes.iter().enumerate().skip(from) {
                match b {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            out.insert(ident(&code[item_start..k]));
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        out.insert(ident(&code[item_start..k]));
                        item_start = k + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(&code[from..]));
        }
    }
    out.remove("");
    out
}

fn ident(s: &str) -> String {
    s.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Files declared test-only by their parent (`#[cfg(test)] mod x;`), by path
/// without extension, relative to `src/`.
fn test_only(src: &Path, files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for w in lines.windows(2) {
            if w[0].trim() == "#[cfg(test)]" {
                if let Some(name) = w[1]
                    .trim()
                    .strip_prefix("mod ")
                    .and_then(|m| m.strip_suffix(';'))
                {
                    let rel = f.strip_prefix(src).unwrap().with_extension("");
                    let dir = match rel.file_name().and_then(|n| n.to_str()) {
                        Some("lib" | "main" | "mod") => rel.parent().unwrap().to_path_buf(),
                        _ => rel.clone(),
                    };
                    out.insert(dir.join(name));
                }
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The graph of one crate: top-level module -> modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let skip = test_only(src, &files);
    let top = |f: &Path| -> Option<String> {
        let rel = f.strip_prefix(src).unwrap().with_extension("");
        if skip.iter().any(|s| rel.starts_with(s)) {
            return None;
        }
        let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
        match first.as_str() {
            "lib" | "main" | "bin" => None,
            _ => Some(first),
        }
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top(f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(me) = top(f) else { continue };
        let text = code(&std::fs::read_to_string(f).unwrap());
        let entry = g.entry(me.clone()).or_default();
        for n in named(&text) {
            if n != me && modules.contains(&n) {
                entry.insert(n);
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        if let Some(next) = t.g.get(v) {
            for w in next {
                let w = w.as_str();
                if !t.index.contains_key(w) {
                    visit(t, w);
                    let lw = t.low[w];
                    let lv = t.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if t.on.contains(w) {
                    let iw = t.index[w];
                    let lv = t.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_checker_finds_cycles_and_grouped_imports() {
    let names =
        named("use crate::{a, b::{c, d}, e::F};\nfn x() { crate::g::h(); corsgate_core::i(); }");
    let want: BTreeSet<String> = ["a", "b", "e", "g"].iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want);
    let mut g = BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    g.insert("a".to_string(), set(&["b"]));
    g.insert("b".to_string(), set(&["c"]));
    g.insert("c".to_string(), set(&["a", "d"]));
    g.insert("d".to_string(), set(&[]));
    assert_eq!(cycles(&g), vec![set(&["a", "b", "c"])]);
    assert_eq!(code("a\n// crate::x\n  /// crate::y\nb"), "a\nb");
}

#[test]
fn no_new_import_cycles() {
    let root = workspace().join("crates");
    let mut problems = Vec::new();
    let mut seen_known = BTreeSet::new();
    let mut crates: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    crates.sort();
    assert!(crates.len() >= 6, "{crates:?}");
    for dir in crates {
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        for cycle in cycles(&graph(&dir.join("src"))) {
            let known = KNOWN.iter().position(|(c, mods)| {
                *c == name && cycle.iter().all(|m| mods.contains(&m.as_str()))
            });
            match known {
                Some(i) => {
                    seen_known.insert(i);
                }
                None => problems.push(format!("{name}: import cycle {cycle:?}")),
            }
        }
    }
    for (i, (c, mods)) in KNOWN.iter().enumerate() {
        if !seen_known.contains(&i) {
            problems.push(format!(
                "{c}: the known cycle among {mods:?} is gone; remove it from KNOWN"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The corsgate command's two shared modules are leaves: `cli` (the
/// arguments) and `report` (the JSON report types) name no other module of
/// the crate, so every command can use them without a cycle.
#[test]
fn corsgate_argument_and_report_modules_are_leaves() {
    let g = graph(&workspace().join("crates/corsgate/src"));
    for leaf in ["cli", "report", "exit", "output"] {
        let named = g.get(leaf).unwrap_or_else(|| panic!("no module {leaf}"));
        assert!(named.is_empty(), "{leaf} names {named:?}");
    }
}
