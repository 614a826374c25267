//! Request-header safelisting: whatever the bytes, the unsafe names are
//! lower-case, sorted, unique, and parse back as tokens.
#![no_main]
use corsgate_core::lists::split_tokens;
use corsgate_core::safelist::{request_headers_value, unsafe_request_header_names};
use corsgate_core::{HeaderList, Profile};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = ["Accept", "Accept-Language", "Content-Language", "Content-Type", "Range", "X-Custom"];

fuzz_target!(|data: &[u8]| {
    let mut h = HeaderList::new();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        h.append(NAMES[i % NAMES.len()], line);
    }
    let names = unsafe_request_header_names(&h, Profile::Standard);
    let value = request_headers_value(&names);
    let mut back = Vec::new();
    assert!(split_tokens(value.as_bytes(), |t| back.push(t.to_owned())).is_ok());
    let mut sorted = back.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(back, sorted);
});
