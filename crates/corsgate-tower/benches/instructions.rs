//! One contender, one workload, N requests: the program that
//! `bench/tower/instructions.sh` runs under callgrind to count the
//! instructions a request costs, a figure that does not move with the load
//! of a shared machine (the timed benches `cors` and `paired` do).
//!
//! ```text
//! cargo bench -p corsgate-tower --bench instructions -- WORKLOAD ORIGINS CONTENDER N
//! #   WORKLOAD  actual_allowed | actual_denied | preflight_allowed | preflight_denied | hostile_acrh
//! #   ORIGINS   1 | 100 | 10000 | pattern
//! #   CONTENDER none | corsgate | corsgate-shadow | tower-http | floor
//! #   INNER (optional) empty (default: the response has no header) | json (it has a Content-Type)
//! ```
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Waker};

use common::{
    corsgate, drive, inner, inner_json, tower_http, Floor, Noop, Origins, Wire, Workload,
};
use http::HeaderValue;
use tower::Layer;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (workload, origins, contender, n, json) = match args.as_slice() {
        [w, o, c, n] => (w, o, c, n, false),
        [w, o, c, n, i] if i == "empty" || i == "json" => (w, o, c, n, i == "json"),
        _ => {
            eprintln!("usage: instructions WORKLOAD ORIGINS CONTENDER N [empty|json]");
            return ExitCode::from(2);
        }
    };
    let Some(w) = Workload::ALL.into_iter().find(|w| w.name() == workload) else {
        eprintln!("unknown workload {workload:?}");
        return ExitCode::from(2);
    };
    let origins = match origins.as_str() {
        "pattern" => Origins::Pattern,
        "1" => Origins::Exact(1),
        "100" => Origins::Exact(100),
        "10000" => Origins::Exact(10_000),
        other => {
            eprintln!("unknown origins {other:?}");
            return ExitCode::from(2);
        }
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("N must be a number");
        return ExitCode::from(2);
    };
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let hostile = HeaderValue::from_bytes(&vec![b','; 1 << 20]).expect("commas are valid");
    let wire = Wire::new(origins.allowed());
    let run = |f: &mut dyn FnMut(http::Request<()>)| {
        for _ in 0..n {
            f(w.request(&wire, &hostile));
        }
    };
    macro_rules! contenders {
        ($inner:expr) => {
            match contender.as_str() {
                "none" => {
                    let mut s = $inner;
                    run(&mut |req| drop(black_box(drive(&mut s, req, &mut cx))));
                }
                "corsgate" => {
                    let mut s = corsgate(origins).layer($inner);
                    run(&mut |req| drop(black_box(drive(&mut s, req, &mut cx))));
                }
                "corsgate-shadow" => {
                    // A candidate as large as the policy, judged on every request.
                    let candidate = corsgate(origins).handle().policy();
                    let layer = corsgate(origins).shadow((*candidate).clone());
                    let mut s = layer.layer($inner);
                    run(&mut |req| drop(black_box(drive(&mut s, req, &mut cx))));
                }
                "tower-http" => {
                    let mut s = tower_http(origins).layer($inner);
                    run(&mut |req| drop(black_box(drive(&mut s, req, &mut cx))));
                }
                "floor" => {
                    let mut s = Floor.layer($inner);
                    run(&mut |req| drop(black_box(drive(&mut s, req, &mut cx))));
                }
                other => {
                    eprintln!("unknown contender {other:?}");
                    return ExitCode::from(2);
                }
            }
        };
    }
    if json {
        contenders!(inner_json());
    } else {
        contenders!(inner());
    }
    ExitCode::SUCCESS
}
