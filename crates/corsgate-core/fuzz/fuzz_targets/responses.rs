//! Whole responses through the browser model: no header soup panics it.
#![no_main]
use corsgate_core::{Browser, Credentials, Profile, Request, Response};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 7] = [
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Location",
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let mut resp = Response::new(100 + u16::from(first) * 2);
    for (i, line) in rest.split(|b| *b == b'\n').enumerate() {
        resp.headers.append(NAMES[i % NAMES.len()], line);
    }
    let cred = if first & 1 == 1 { Credentials::Include } else { Credentials::Omit };
    let Ok(req) = Request::builder("https://a.example", "https://b.example/x")
        .method(if first & 2 == 2 { "PUT" } else { "GET" })
        .credentials(cred)
        .build()
    else {
        return;
    };
    for p in Profile::ALL {
        let mut b = Browser::new(p);
        let _ = b.run(req.clone(), |_| Ok::<_, ()>(resp.clone()));
    }
});
