//! Where the targets of a scan come from: URLs on the command line, a targets
//! file (one URL per line), an OpenAPI 3 document (JSON or YAML).
//!
//! Every input line or path becomes a target or an error naming its place
//! (`FILE:LINE: …`, `FILE: paths./users/{id}: …`); nothing is skipped
//! silently. All errors of a file are collected, so one run shows them all.
//! The same URL given twice is scanned once; the duplicates are reported.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::check_target;

/// The value put in a path template (`{id}`) whose parameter gives no example.
pub(super) const PLACEHOLDER: &str = "1";

/// How many errors are listed before "and N more".
const ERRORS_SHOWN: usize = 20;

/// One URL to scan and where it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The URL, normalized.
    pub url: String,
    /// `argument 1`, `urls.txt:3`, `api.yaml: paths./users/{id}`.
    pub source: String,
}

/// The targets of a run, without duplicates, in input order.
#[derive(Debug, Default)]
pub(super) struct Targets {
    /// The targets.
    pub list: Vec<Target>,
    /// `source (url) repeats source`, for every duplicate dropped.
    pub duplicates: Vec<String>,
}

impl Targets {
    fn push(&mut self, seen: &mut HashMap<String, String>, t: Target) {
        if let Some(first) = seen.get(&t.url) {
            self.duplicates
                .push(format!("{} ({}) repeats {first}", t.source, t.url));
            return;
        }
        seen.insert(t.url.clone(), t.source.clone());
        self.list.push(t);
    }
}

fn joined(errors: Vec<String>) -> String {
    let more = errors.len().saturating_sub(ERRORS_SHOWN);
    let mut out: Vec<String> = errors.into_iter().take(ERRORS_SHOWN).collect();
    if more > 0 {
        out.push(format!("… and {more} more"));
    }
    out.join("\n")
}

/// All the targets: the URL arguments, then the targets file, then the OpenAPI paths.
pub(super) fn collect(
    urls: &[String],
    file: Option<&Path>,
    openapi: Option<&Path>,
    openapi_server: Option<&str>,
) -> Result<Targets, String> {
    let mut out = Targets::default();
    let mut seen = HashMap::new();
    let mut errors = Vec::new();
    for (i, u) in urls.iter().enumerate() {
        match check_target(u) {
            Ok(url) => out.push(
                &mut seen,
                Target {
                    url,
                    source: format!("argument {}", i + 1),
                },
            ),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(path) = file {
        // `-` is standard input (`… | corsgate scan --targets -`).
        let (name, read) = if path == Path::new("-") {
            let mut buf = Vec::new();
            let r = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf);
            ("stdin".to_owned(), r.map(|_| buf))
        } else {
            (path.display().to_string(), std::fs::read(path))
        };
        match read {
            Ok(bytes) => {
                let (targets, errs) = from_lines(&name, &bytes);
                errors.extend(errs);
                for t in targets {
                    out.push(&mut seen, t);
                }
            }
            Err(e) => errors.push(format!("--targets {}: {e}", path.display())),
        }
    }
    if let Some(path) = openapi {
        let shown = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => match from_openapi(&shown, &bytes, openapi_server) {
                Ok((targets, errs)) => {
                    errors.extend(errs);
                    for t in targets {
                        out.push(&mut seen, t);
                    }
                }
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(format!("--openapi {shown}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(joined(errors));
    }
    if out.list.is_empty() {
        return Err(match (file, openapi) {
            (None, None) => "no target: give a URL, --targets FILE or --openapi FILE".to_owned(),
            _ => "no target: the input files hold no URL".to_owned(),
        });
    }
    Ok(out)
}

/// The targets of a targets file's bytes: one URL per line; blank lines and
/// lines whose first non-blank character is `#` are skipped; anything else
/// that is not one http(s) URL is an error `NAME:LINE: …`.
pub(super) fn from_lines(name: &str, bytes: &[u8]) -> (Vec<Target>, Vec<String>) {
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let at = format!("{name}:{}", i + 1);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            errors.push(format!("{at}: the line is not UTF-8 text"));
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains(char::is_whitespace) {
            errors.push(format!(
                "{at}: '{line}' holds a space: write one URL per line (comments start the line with #)"
            ));
            continue;
        }
        match check_target(line) {
            Ok(url) => targets.push(Target { url, source: at }),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    (targets, errors)
}

/// A YAML document as JSON (mapping keys become strings).
fn yaml_to_json(y: &yaml_rust2::Yaml) -> Result<Value, String> {
    use yaml_rust2::Yaml;
    Ok(match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut m = serde_json::Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Real(r) => r.clone(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".to_owned(),
                    _ => return Err("a mapping key is not a scalar".to_owned()),
                };
                m.insert(key, yaml_to_json(v)?);
            }
            Value::Object(m)
        }
        Yaml::Null => Value::Null,
        Yaml::Alias(_) => return Err("YAML aliases are not supported".to_owned()),
        Yaml::BadValue => Value::Null,
    })
}

/// Parses an OpenAPI document: JSON when it starts with `{`, YAML otherwise.
fn parse_document(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "{name}: not UTF-8 text (byte {} is invalid)",
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("{name}: not valid JSON: {e}"));
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text)
        .map_err(|e| format!("{name}: not valid YAML: {e}"))?;
    match docs.as_slice() {
        [doc] => yaml_to_json(doc).map_err(|e| format!("{name}: {e}")),
        [] => Err(format!("{name}: the file is empty")),
        _ => Err(format!(
            "{name}: the file holds {} YAML documents; an OpenAPI file holds one",
            docs.len()
        )),
    }
}

/// A server object's URL with its `{variables}` replaced by their defaults.
fn server_url(server: &Value) -> Result<String, String> {
    let url = server
        .get("url")
        .and_then(Value::as_str)
        .ok_or("it has no `url` string")?;
    fill(url, |var| {
        server
            .pointer(&format!(
                "/variables/{}/default",
                var.replace('~', "~0").replace('/', "~1")
            ))
            .map(scalar)
            .ok_or_else(|| format!("server variable {{{var}}} has no default"))
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Replaces every `{name}` of `template` with `value(name)`.
fn fill(
    template: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("'{template}' has a `{{` without `}}`"))?;
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return Err(format!("'{template}' has an empty or nested template"));
        }
        out.push_str(&value(name)?);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("'{template}' has a `}}` without `{{`"));
    }
    out.push_str(rest);
    Ok(out)
}

/// The example value of the path parameter `name`, from the path item's or
/// any operation's `parameters`: `example`, `schema.example`, the first of
/// `examples`, `schema.default`, `schema.enum[0]`.
fn example(item: &Value, name: &str) -> Option<String> {
    let lists = std::iter::once(item.get("parameters")).chain(
        [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ]
        .iter()
        .map(|m| item.get(m).and_then(|op| op.get("parameters"))),
    );
    for list in lists.flatten().filter_map(Value::as_array) {
        for p in list {
            if p.get("in").and_then(Value::as_str) != Some("path")
                || p.get("name").and_then(Value::as_str) != Some(name)
            {
                continue;
            }
            let found = p
                .get("example")
                .or_else(|| p.pointer("/schema/example"))
                .or_else(|| {
                    p.get("examples")
                        .and_then(Value::as_object)
                        .and_then(|e| e.values().find_map(|x| x.get("value")))
                })
                .or_else(|| p.pointer("/schema/default"))
                .or_else(|| p.pointer("/schema/enum/0"))
                .filter(|v| !v.is_null() && !v.is_object() && !v.is_array());
            if let Some(v) = found {
                return Some(scalar(v));
            }
        }
    }
    None
}

/// Percent-encodes what cannot stand in one path segment.
fn segment(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The targets of an OpenAPI 3 document: every path of `paths` under the
/// base URL (`server` if given, else the path item's own `servers[0]`, else
/// the document's `servers[0]`, with server variables at their defaults).
/// A document that is not OpenAPI 3 is an error; a path that cannot become a
/// URL is one error among the returned ones.
pub(super) fn from_openapi(
    name: &str,
    bytes: &[u8],
    server: Option<&str>,
) -> Result<(Vec<Target>, Vec<String>), String> {
    let doc = parse_document(name, bytes)?;
    // `openapi: 3.0` unquoted is a YAML number: read it as the version it means.
    let version = doc.get("openapi").map(scalar);
    match version.as_deref() {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => {
            return Err(format!(
                "{name}: OpenAPI version {v} is not supported (OpenAPI 3.x is)"
            ))
        }
        None if doc.get("swagger").is_some() => {
            return Err(format!(
                "{name}: a Swagger 2.0 document; convert it to OpenAPI 3 (or list the URLs in a --targets file)"
            ))
        }
        None => return Err(format!("{name}: not an OpenAPI document (no `openapi` field)")),
    }
    let top_server = match server {
        Some(s) => Some(Ok(s.to_owned())),
        None => doc
            .pointer("/servers/0")
            .map(|s| server_url(s).map_err(|e| format!("{name}: servers[0]: {e}"))),
    };
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{name}: no `paths` object"))?;
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for (path, item) in paths {
        let at = format!("{name}: paths.{path}");
        if !path.starts_with('/') {
            // `x-` extensions are allowed next to paths; anything else is a mistake.
            if !path.starts_with("x-") {
                errors.push(format!("{at}: a path must start with /"));
            }
            continue;
        }
        let base = match server {
            Some(_) => top_server.clone(),
            None => item
                .pointer("/servers/0")
                .map(|s| server_url(s).map_err(|e| format!("{at}: servers[0]: {e}")))
                .or_else(|| top_server.clone()),
        };
        let base = match base {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                errors.push(e);
                continue;
            }
            None => {
                errors.push(format!(
                    "{at}: the document has no `servers`; give the base URL with --openapi-server"
                ));
                continue;
            }
        };
        if !base.contains("://") {
            errors.push(format!(
                "{at}: the server URL '{base}' is relative; give the base URL with --openapi-server"
            ));
            continue;
        }
        let filled = fill(path, |var| {
            Ok(segment(
                &example(item, var).unwrap_or_else(|| PLACEHOLDER.to_owned()),
            ))
        });
        let filled = match filled {
            Ok(f) => f,
            Err(e) => {
                errors.push(format!("{at}: {e}"));
                continue;
            }
        };
        let url = format!("{}{filled}", base.trim_end_matches('/'));
        match check_target(&url) {
            Ok(url) => targets.push(Target { url, source: at }),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    Ok((targets, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_comments_and_name_bad_lines() {
        let text = b"\xEF\xBB\xBF# header\n\nhttps://a.example/x\r\n   # indented comment\n  http://b.example:8080/y?q=1  \nftp://c.example/\nnot a url\nhttps://\n\xff\xfe\nhttps://d.example/#frag\n";
        let (t, e) = from_lines("urls.txt", text);
        let urls: Vec<&str> = t.iter().map(|t| t.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://a.example/x",
                "http://b.example:8080/y?q=1",
                "https://d.example/#frag"
            ]
        );
        assert_eq!(t[0].source, "urls.txt:3");
        assert_eq!(t[1].source, "urls.txt:5");
        assert_eq!(e.len(), 4, "{e:?}");
        for (err, line) in e.iter().zip([6, 7, 8, 9]) {
            assert!(err.starts_with(&format!("urls.txt:{line}: ")), "{err}");
        }
    }

    #[test]
    fn generated_lines_are_each_accepted_or_named() {
        // Every line is either a target or an error naming exactly its line.
        let pieces = [
            "https://a.example/p",
            "# c",
            "",
            "  ",
            "http://[::1]:9/",
            "https:/x",
            "javascript:alert(1)",
            "http://a b/",
            "\t#tab comment",
            "HTTP://UPPER.example",
            "//no-scheme.example/",
            "http://127.0.0.1:65536/",
        ];
        for seed in 0u64..200 {
            let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let mut lines = Vec::new();
            for _ in 0..(seed % 9 + 1) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lines.push(pieces[(x >> 33) as usize % pieces.len()]);
            }
            let text = lines.join("\n");
            let (t, e) = from_lines("f", text.as_bytes());
            let mut named: Vec<usize> = t
                .iter()
                .map(|t| t.source.as_str())
                .chain(e.iter().map(|e| e.split(": ").next().unwrap_or("")))
                .map(|s| s.trim_start_matches("f:").parse::<usize>().unwrap())
                .collect();
            named.sort_unstable();
            let expected: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty() && !l.trim().starts_with('#'))
                .map(|(i, _)| i + 1)
                .collect();
            assert_eq!(named, expected, "{text:?}");
        }
    }

    const SPEC_YAML: &str = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
servers:
  - url: https://{env}.example.com/v1/
    variables:
      env: {default: api, enum: [api, staging]}
paths:
  /users:
    get: {}
  /users/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, example: 42}}
  /orgs/{org}/repos/{repo name}:
    get:
      parameters:
        - {name: org, in: path, example: "a b/c"}
  /other:
    servers: [{url: "http://other.example:8080"}]
  x-extension: {}
"#;

    #[test]
    fn openapi_paths_become_urls() {
        let (t, e) = from_openapi("api.yaml", SPEC_YAML.as_bytes(), None).unwrap();
        assert!(e.is_empty(), "{e:?}");
        let urls: Vec<&str> = t.iter().map(|t| t.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://api.example.com/v1/orgs/a%20b%2Fc/repos/1",
                "http://other.example:8080/other",
                "https://api.example.com/v1/users",
                "https://api.example.com/v1/users/42",
            ]
        );
        assert_eq!(t[3].source, "api.yaml: paths./users/{id}");
        // --openapi-server replaces every server.
        let (t, _) =
            from_openapi("api.yaml", SPEC_YAML.as_bytes(), Some("http://127.0.0.1:9")).unwrap();
        assert!(t.iter().all(|t| t.url.starts_with("http://127.0.0.1:9/")));
    }

    #[test]
    fn openapi_json_reads_like_yaml() {
        let yaml = from_openapi("api", SPEC_YAML.as_bytes(), None).unwrap();
        let doc = parse_document("api", SPEC_YAML.as_bytes()).unwrap();
        let json = serde_json::to_vec(&doc).unwrap();
        assert_eq!(from_openapi("api", &json, None).unwrap(), yaml);
    }

    #[test]
    fn openapi_errors_say_where() {
        for (text, server, needle) in [
            ("swagger: '2.0'\npaths: {}", None, "Swagger 2.0"),
            ("openapi: 2.1\npaths: {}", None, "2.1 is not supported"),
            ("openapi: 3.0\npaths:\n  /a: {}\n", None, "no `servers`"),
            ("openapi: '4.0'\npaths: {}", None, "4.0 is not supported"),
            ("openapi: 3.1.0\n", None, "no `paths`"),
            (
                "openapi: 3.1.0\npaths:\n  /a: {}\n",
                None,
                "paths./a: the document has no `servers`",
            ),
            (
                "openapi: 3.1.0\nservers: [{url: /v1}]\npaths:\n  /a: {}\n",
                None,
                "relative",
            ),
            (
                "openapi: 3.1.0\nservers: [{url: 'https://{x}.e.com'}]\npaths:\n  /a: {}\n",
                None,
                "{x} has no default",
            ),
            (
                "openapi: 3.1.0\npaths:\n  /a/{b: {}\n",
                Some("https://e.com"),
                "paths./a/{b",
            ),
            (
                "openapi: 3.1.0\npaths:\n  a: {}\n",
                Some("https://e.com"),
                "must start with /",
            ),
            (
                "openapi: 3.1.0\npaths:\n  /a: {}\n",
                Some("ftp://e.com"),
                "paths./a",
            ),
            ("{\"openapi\": ", None, "not valid JSON"),
            ("openapi: [\n", None, "not valid YAML"),
            ("a: &x 1\nb: *x\n", None, "not an OpenAPI"),
        ] {
            let r = from_openapi("spec.yaml", text.as_bytes(), server);
            let msg = match r {
                Err(e) => e,
                Ok((_, e)) => e.join("\n"),
            };
            assert!(msg.contains("spec.yaml"), "{msg}");
            assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
        }
    }

    #[test]
    fn templates_fill_or_fail() {
        let v = |n: &str| Ok(format!("<{n}>"));
        assert_eq!(fill("/a/{x}/b{y}", v).unwrap(), "/a/<x>/b<y>");
        assert!(fill("/a/{x", v).is_err());
        assert!(fill("/a/x}", v).is_err());
        assert!(fill("/a/{}", v).is_err());
        assert!(fill("/a/{{x}}", v).is_err());
    }
}
