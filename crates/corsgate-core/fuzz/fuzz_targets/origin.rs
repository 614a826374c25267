//! Origin parsing: strict header parsing and URL parsing never panic, and a
//! successfully parsed origin serializes back to the input.
#![no_main]
use corsgate_core::Origin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(o) = Origin::parse_header(data) {
        assert_eq!(o.as_str().as_bytes(), data);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(o) = Origin::from_url_str(s) {
            if !o.is_opaque() {
                assert_eq!(Origin::parse_header(o.as_str()).ok(), Some(o));
            }
        }
    }
});
