//! The response-header list parsers (Allow-Methods/-Headers, Expose-Headers, Max-Age).
#![no_main]
use corsgate_core::lists::parse_token_list;
use corsgate_core::preflight::parse_max_age;
use corsgate_core::{HeaderList, Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut h = HeaderList::new();
    for line in data.split(|b| *b == b'\n') {
        h.append("Access-Control-Allow-Headers", line);
        h.append("Access-Control-Max-Age", line);
    }
    let _ = parse_token_list(&h, "access-control-allow-headers");
    for p in Profile::ALL {
        let m = parse_max_age(&h, p);
        assert!(m.seconds <= p.max_age_cap());
    }
});
