//! `Access-Control-Max-Age` as a browser reads it: how long a preflight's
//! answer is cached, after the profile's cap, default and sign rule.

use serde::Serialize;

use crate::browser::profile::{InvalidMaxAge, Profile};
use crate::headers::HeaderList;

/// The outcome of parsing `Access-Control-Max-Age` for a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MaxAge {
    /// Seconds the preflight result may be cached, after the profile's cap.
    pub seconds: u64,
    /// Whether the header was absent (the default applied).
    pub absent: bool,
    /// Whether the header was present but not valid `delta-seconds`.
    pub invalid: bool,
    /// Whether the value was lowered to the profile's cap.
    pub capped: bool,
}

/// Parses `Access-Control-Max-Age` the way `profile` does.
///
/// ```
/// use corsgate_core::{HeaderList, Profile, preflight::parse_max_age};
/// let h = HeaderList::new().with("Access-Control-Max-Age", "86400");
/// assert_eq!(parse_max_age(&h, Profile::Chromium).seconds, 7200);
/// assert_eq!(parse_max_age(&h, Profile::Firefox).seconds, 86400);
/// assert_eq!(parse_max_age(&HeaderList::new(), Profile::Chromium).seconds, 5);
/// ```
pub fn parse_max_age(headers: &HeaderList, profile: Profile) -> MaxAge {
    let cap = profile.max_age_cap();
    let mut lines = headers.get_all("access-control-max-age");
    let Some(first) = lines.next() else {
        return MaxAge {
            seconds: profile.default_max_age(),
            absent: true,
            invalid: false,
            capped: false,
        };
    };
    let several = lines.next().is_some();
    let parsed: Option<i128> = if several {
        None
    } else {
        if profile.max_age_takes_a_sign() {
            // A negative value then means "do not cache".
            parse_signed(first)
        } else {
            parse_digits(first)
        }
    };
    match parsed {
        Some(v) => {
            let v = v.max(0) as u128;
            let capped = v > u128::from(cap);
            MaxAge {
                seconds: if capped { cap } else { v as u64 },
                absent: false,
                invalid: false,
                capped,
            }
        }
        None => MaxAge {
            seconds: match profile.invalid_max_age() {
                InvalidMaxAge::Default => profile.default_max_age(),
                InvalidMaxAge::NoCache => 0,
            },
            absent: false,
            invalid: true,
            capped: false,
        },
    }
}

fn parse_digits(v: &[u8]) -> Option<i128> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Saturate huge values: they are capped anyway.
    let mut n: i128 = 0;
    for d in v {
        n = (n * 10 + i128::from(d - b'0')).min(i128::from(u64::MAX));
    }
    Some(n)
}

fn parse_signed(v: &[u8]) -> Option<i128> {
    match v.split_first() {
        Some((b'-', rest)) => parse_digits(rest).map(|n| -n),
        Some((b'+', rest)) => parse_digits(rest),
        _ => parse_digits(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_per_profile() {
        let h = |v: &str| HeaderList::new().with("Access-Control-Max-Age", v);
        assert_eq!(parse_max_age(&h("600"), Profile::Standard).seconds, 600);
        assert_eq!(parse_max_age(&h("abc"), Profile::Standard).seconds, 5);
        assert_eq!(parse_max_age(&h("abc"), Profile::Firefox).seconds, 0);
        assert_eq!(parse_max_age(&h("-1"), Profile::Chromium).seconds, 0);
        assert_eq!(parse_max_age(&h("-1"), Profile::Standard).seconds, 5);
        // WebKitGTK 2.50.6: -1 caches nothing, an unparsable value 5 s
        // (conformance matrix, e.g. case #563).
        assert_eq!(parse_max_age(&h("-1"), Profile::Safari).seconds, 0);
        assert_eq!(parse_max_age(&h("abc"), Profile::Safari).seconds, 5);
        assert_eq!(
            parse_max_age(&h("99999999999999999999999"), Profile::Safari).seconds,
            600
        );
        let two = h("1").with("Access-Control-Max-Age", "2");
        assert!(parse_max_age(&two, Profile::Standard).invalid);
    }
}
