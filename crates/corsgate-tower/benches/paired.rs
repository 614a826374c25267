//! The same contenders and workloads as `cors.rs`, measured *interleaved*:
//! for each workload, short batches of no layer, corsgate-tower and tower-http
//! alternate for 21 rounds, so a machine whose load drifts (shared CI, a
//! laptop) disturbs all three alike. Reports the fastest batch (the least
//! disturbed) and the median batch, per request, and the ratios.
//!
//! For the allowed actual request a fourth contender joins: the *floor*, a
//! layer that decides nothing and only appends the same four headers with
//! fixed values — what any CORS layer pays to the `http` crate's header map.
//!
//! ```text
//! cargo bench -p corsgate-tower --bench paired
//! ```
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use common::{corsgate, drive, inner, tower_http, Floor, Noop, Origins, Wire, Workload};
use http::HeaderValue;
use tower::Layer;

const ROUNDS: usize = 21;
const BATCH: Duration = Duration::from_millis(2);

fn fmt(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let hostile = HeaderValue::from_bytes(&vec![b','; 1 << 20]).expect("commas are valid");
    drop(hostile.clone());
    println!("| workload | origins | no layer | corsgate | tower-http | floor | corsgate overhead | floor overhead | tower-http / corsgate |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for w in Workload::ALL {
        for origins in [
            Origins::Exact(1),
            Origins::Exact(100),
            Origins::Exact(10_000),
            Origins::Pattern,
        ] {
            let name = format!("{}/{}", w.name(), origins.label());
            if filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let mut none = inner();
            let mut ours = corsgate(origins).layer(inner());
            let mut theirs = tower_http(origins).layer(inner());
            let mut floor = Floor.layer(inner());
            let wire = Wire::new(origins.allowed());
            let contenders = if matches!(w, Workload::ActualAllowed) {
                4
            } else {
                3
            };
            // Iterations per batch, calibrated once per contender.
            let mut per_batch = [0usize; 4];
            let mut samples: [Vec<f64>; 4] = Default::default();
            for round in 0..=ROUNDS {
                for k in 0..contenders {
                    // Rotate the order so no contender always runs first.
                    let i = (k + round) % contenders;
                    let mut run = |n: usize| {
                        let start = Instant::now();
                        for _ in 0..n {
                            let req = w.request(&wire, &hostile);
                            match i {
                                0 => black_box(drive(&mut none, req, &mut cx)),
                                1 => black_box(drive(&mut ours, req, &mut cx)),
                                2 => black_box(drive(&mut theirs, req, &mut cx)),
                                _ => black_box(drive(&mut floor, req, &mut cx)),
                            };
                        }
                        start.elapsed()
                    };
                    if round == 0 {
                        // Calibrate (and warm up).
                        let mut n = 16;
                        while run(n) < BATCH / 4 {
                            n *= 2;
                        }
                        per_batch[i] = n * 4;
                        continue;
                    }
                    let n = per_batch[i];
                    let t = run(n);
                    samples[i].push(t.as_nanos() as f64 / n as f64);
                }
            }
            let stats: Vec<(f64, f64)> = samples
                .iter_mut()
                .take(contenders)
                .map(|s| {
                    s.sort_by(f64::total_cmp);
                    (s[0], s[s.len() / 2])
                })
                .collect();
            let (n, c, t) = (stats[0], stats[1], stats[2]);
            let (floor, floor_overhead) = match stats.get(3) {
                Some(f) => (format!("{} ({})", fmt(f.0), fmt(f.1)), fmt(f.0 - n.0)),
                None => ("—".into(), "—".into()),
            };
            println!(
                "| {} | {} | {} ({}) | {} ({}) | {} ({}) | {} | {} | {} | {:.1}× |",
                w.name(),
                origins
                    .label()
                    .replace("_origins", "")
                    .replace("subdomain_pattern", "pattern"),
                fmt(n.0),
                fmt(n.1),
                fmt(c.0),
                fmt(c.1),
                fmt(t.0),
                fmt(t.1),
                floor,
                fmt(c.0 - n.0),
                floor_overhead,
                t.0 / c.0,
            );
        }
    }
    println!("\nfigures: fastest of {ROUNDS} interleaved batches of about {} ms (median in parentheses), per request", BATCH.as_millis());
    if filter
        .as_deref()
        .is_none_or(|f| "actual_allowed/pattern_rotation".contains(f))
    {
        rotation(&mut cx);
    }
}

/// The cold side of a pattern: 200,000 distinct allowed origins in rotation,
/// more than a policy remembers (`learned`), so nearly every request parses
/// the origin, looks up its parent domains and echoes the request's value,
/// with the memory misses of touching 200,000 strings.
fn rotation(cx: &mut Context<'_>) {
    const N: usize = 200_000;
    let text: String = (0..N)
        .map(|i| format!("https://t{i}.tenants.example.com\n"))
        .collect();
    let buf = bytes::Bytes::from(text.into_bytes());
    let mut origins = Vec::with_capacity(N);
    let mut at = 0;
    while let Some(len) = buf[at..].iter().position(|b| *b == b'\n') {
        let slice = buf.slice(at..at + len);
        origins.push(HeaderValue::from_maybe_shared(slice).expect("valid value"));
        at += len + 1;
    }
    drop(origins[0].clone());
    let mut none = inner();
    let mut ours = corsgate(Origins::Pattern).layer(inner());
    let mut next = 0usize;
    let mut samples: [Vec<f64>; 2] = Default::default();
    for round in 0..=ROUNDS {
        for k in 0..2 {
            let i = (k + round) % 2;
            let start = Instant::now();
            for _ in 0..N / 4 {
                let mut req = http::Request::new(());
                *req.uri_mut() = http::Uri::from_static("/items");
                req.headers_mut()
                    .insert(http::header::ORIGIN, origins[next % N].clone());
                next += 1;
                match i {
                    0 => black_box(drive(&mut none, req, cx)),
                    _ => black_box(drive(&mut ours, req, cx)),
                };
            }
            if round > 0 {
                samples[i].push(start.elapsed().as_nanos() as f64 / (N / 4) as f64);
            }
        }
    }
    for s in &mut samples {
        s.sort_by(f64::total_cmp);
    }
    println!(
        "\n| actual_allowed | {N} distinct pattern origins in rotation | no layer {} ({}) | corsgate {} ({}) | overhead {} |",
        fmt(samples[0][0]),
        fmt(samples[0][ROUNDS / 2]),
        fmt(samples[1][0]),
        fmt(samples[1][ROUNDS / 2]),
        fmt(samples[1][0] - samples[0][0]),
    );
}
