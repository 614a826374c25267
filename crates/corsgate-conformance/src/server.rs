//! The loopback servers: the page origin and two cross-origin targets, all
//! answering case URLs from [`Case::respond`] and logging, per case and API,
//! every request that reached them.
//!
//! A deliberately small HTTP/1.1 server on std threads (one per connection,
//! keep-alive, `Content-Length` framing), written by hand so that header
//! lines go out byte for byte as the case says: duplicates, empty values,
//! control bytes and all.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::case::{route, Api, Case, Route, Site, Wire};

/// Rewrites a case's answer before it goes out: given the route, whether it
/// is a preflight, and the answer [`Case::respond`] made (used by the fixes
/// test to serve the remedied answers).
pub type Patch = Arc<dyn Fn(Route, bool, Wire) -> Wire + Send + Sync>;

/// One request that reached a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The hop it was for.
    pub hop: usize,
    /// Whether it was a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub preflight: bool,
    /// The method on the wire.
    pub method: String,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// `Access-Control-Request-Headers`, if any.
    pub request_headers: Option<String>,
    /// Every header name the request carried, lower case, in order.
    pub names: Vec<String>,
    /// Every header line the request carried, as sent (the value lossily
    /// decoded), in order.
    pub lines: Vec<(String, String)>,
}

type Log = HashMap<(u32, Api), Vec<Logged>>;

/// Extra HTML pages by path (see [`Servers::add_page`]).
type Pages = HashMap<String, String>;

/// The running servers.
#[derive(Debug)]
pub struct Servers {
    site: Site,
    log: Arc<Mutex<Log>>,
    pages: Arc<Mutex<Pages>>,
    stop: Arc<AtomicBool>,
    addrs: Vec<std::net::SocketAddr>,
}

/// The page the browser loads; it only needs to exist on the page origin.
const PAGE: &str = "<!doctype html><meta charset=utf-8><title>corsgate conformance</title><p>corsgate conformance page</p>";

impl Servers {
    /// Binds three loopback ports and starts serving `cases`.
    pub fn start(cases: Arc<Vec<Case>>) -> io::Result<Servers> {
        Servers::start_patched(cases, Arc::new(|_, _, wire| wire))
    }

    /// Like [`Servers::start`], with every case answer passed through `patch`.
    pub fn start_patched(cases: Arc<Vec<Case>>, patch: Patch) -> io::Result<Servers> {
        let page = TcpListener::bind("127.0.0.1:0")?;
        let target = TcpListener::bind("127.0.0.1:0")?;
        let other = TcpListener::bind("127.0.0.1:0")?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let site = Site {
            page: format!("http://localhost:{}", page.local_addr()?.port()),
            target: format!("http://localhost:{}", target.local_addr()?.port()),
            other: format!("http://127.0.0.1:{}", other.local_addr()?.port()),
            run: format!("r{:x}", nanos & 0xffff_ffff_ffff),
        };
        let log = Arc::new(Mutex::new(Log::new()));
        let pages = Arc::new(Mutex::new(Pages::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut addrs = Vec::new();
        for listener in [page, target, other] {
            addrs.push(listener.local_addr()?);
            let (cases, site, log, stop) = (cases.clone(), site.clone(), log.clone(), stop.clone());
            let (patch, pages) = (patch.clone(), pages.clone());
            let ctx = Ctx {
                cases,
                site,
                log,
                pages,
                patch,
            };
            thread::spawn(move || accept_loop(listener, ctx, stop));
        }
        Ok(Servers {
            site,
            log,
            pages,
            stop,
            addrs,
        })
    }

    /// The origins and run tag.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Serves `html` at `path` (on every origin) from now on: the WebKit
    /// console pass loads its runner page from here.
    pub fn add_page(&self, path: &str, html: String) {
        self.pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), html);
    }

    /// What reached the servers for one case and API, in order.
    pub fn requests(&self, id: u32, api: Api) -> Vec<Logged> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(id, api))
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for a in &self.addrs {
            // Wake the accept loops so they see the flag.
            let _ = TcpStream::connect_timeout(a, Duration::from_millis(200));
        }
    }
}

/// What every connection of a server shares.
#[derive(Clone)]
struct Ctx {
    cases: Arc<Vec<Case>>,
    site: Site,
    log: Arc<Mutex<Log>>,
    pages: Arc<Mutex<Pages>>,
    patch: Patch,
}

fn accept_loop(listener: TcpListener, ctx: Ctx, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let ctx = ctx.clone();
        thread::spawn(move || {
            let _ = serve(stream, &ctx);
        });
    }
}

struct Head {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut line = Vec::new();
    let mut lines = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        if line.is_empty() {
            if lines.is_empty() {
                continue; // stray CRLF between requests
            }
            break;
        }
        if lines.len() > 200 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "too many header lines",
            ));
        }
        lines.push(line.clone());
    }
    let request_line = String::from_utf8_lossy(&lines[0]).into_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| {
            let colon = l.iter().position(|b| *b == b':')?;
            let name = String::from_utf8_lossy(&l[..colon]).trim().to_owned();
            let value = l[colon + 1..]
                .iter()
                .copied()
                .skip_while(|b| *b == b' ' || *b == b'\t')
                .collect();
            Some((name, value))
        })
        .collect();
    Ok(Some(Head {
        method,
        path,
        headers,
    }))
}

fn serve(stream: TcpStream, ctx: &Ctx) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(head) = read_head(&mut reader)? {
        let len: u64 = head
            .get("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        io::copy(&mut (&mut reader).take(len), &mut io::sink())?;
        let wire = answer(&head, ctx);
        write_response(&mut writer, &wire, head.method == "HEAD")?;
        if head
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            break;
        }
    }
    Ok(())
}

fn html(page: &str) -> Wire {
    Wire {
        status: 200,
        headers: vec![
            ("Content-Type".into(), b"text/html; charset=utf-8".to_vec()),
            ("Content-Length".into(), page.len().to_string().into_bytes()),
        ],
        body: page.as_bytes().to_vec(),
    }
}

fn answer(head: &Head, ctx: &Ctx) -> Wire {
    let (cases, site, log, patch) = (&ctx.cases, &ctx.site, &ctx.log, &ctx.patch);
    if head.path == "/" {
        return html(PAGE);
    }
    if let Some(page) = ctx
        .pages
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&head.path)
    {
        return html(page);
    }
    let Some(r) = route(&head.path, &site.run) else {
        return not_found();
    };
    let Some(case) = cases.get(r.id as usize).filter(|c| c.id == r.id) else {
        return not_found();
    };
    let preflight = head.method == "OPTIONS"
        && head
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("access-control-request-method"));
    let origin = head
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("origin"))
        .map(|(_, v)| v.clone());
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry((r.id, r.api))
        .or_default()
        .push(Logged {
            hop: r.hop,
            preflight,
            method: head.method.clone(),
            origin: origin
                .as_deref()
                .map(|o| String::from_utf8_lossy(o).into_owned()),
            request_headers: head.get("access-control-request-headers"),
            names: head
                .headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect(),
            lines: head
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
        });
    patch(
        r,
        preflight,
        case.respond(site, r.api, r.hop, preflight, origin.as_deref()),
    )
}

fn not_found() -> Wire {
    Wire {
        status: 404,
        headers: vec![("Content-Length".into(), b"0".to_vec())],
        body: Vec::new(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn write_response(w: &mut impl Write, wire: &Wire, head_only: bool) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", wire.status, reason(wire.status)).into_bytes();
    for (n, v) in &wire.headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    // 1xx, 204, 205 and 304 answers never carry a body: one here would be
    // read as the start of the next response on the connection (libsoup,
    // WebKitGTK's HTTP stack, then fails that next response).
    let bodyless = matches!(wire.status, 100..=199 | 204 | 205 | 304);
    if !head_only && !bodyless {
        out.extend_from_slice(&wire.body);
    }
    w.write_all(&out)?;
    w.flush()
}
