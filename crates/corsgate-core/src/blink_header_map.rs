//! The order of a request's headers in Blink's `HTTPHeaderMap`, which is the
//! order Chromium's network service walks them in
//! (`CorsUnsafeNotForbiddenRequestHeaderNames`) and so decides which of
//! several disallowed request headers its console names.
//!
//! Blink keeps a request's headers in a WTF `HashMap` keyed by
//! case-folding hash (`CaseFoldingHashTraits<AtomicString>`), and copies them
//! into the network request in the table's slot order. This module rebuilds
//! that table:
//!
//! * the hash: Chromium's rapidhash (with its `HashReader` templating) over
//!   the lower-cased name widened to UTF-16 (`CaseFoldingHashReader<LChar>`),
//!   masked to 24 bits, 0 becoming `0x800000` (`StringHasher::MaskTop8Bits`);
//! * the table: open addressing from slot `hash & (size - 1)`, triangular
//!   probing (`i += ++probe_count`), a minimum size of 8, doubling when
//!   `keys * 2 >= size` after an insertion, the rehash reinserting in the old
//!   table's slot order (`HashTable` in `wtf/hash_table.h`);
//! * what is inserted: `fetch()` copies its header list sorted by lower-cased
//!   name (`FetchHeaderList` is an ordered map); `XMLHttpRequest` builds its
//!   own map in the order script set the headers and copies it in that map's
//!   slot order; then Blink adds headers of its own (the user-agent client
//!   hints `Sec-CH-UA`, `-Mobile`, `-Platform` when the URL is potentially
//!   trustworthy, and one more always), which can grow the table and so
//!   reorder it.
//!
//! Found and checked with `examples/blink_header_order.rs` in the
//! conformance crate: 3,400 requests to `http://localhost` (and 800 more
//! from a page on an insecure origin: the request URL decides) and 1,200 to
//! `http://corsgate.test`, with 2 to 6 disallowed headers of random names
//! through `fetch()` (a `Headers` object, a plain object, pairs) and
//! `XMLHttpRequest`, every one named as this order predicts, on Chromium
//! 156; then by the conformance matrix.

/// How script's headers reach Blink's request map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// `fetch()`: its header list is an ordered map, copied in sorted order.
    Sorted,
    /// `XMLHttpRequest`: its own map, filled in the order script set the
    /// headers, copied in that map's slot order.
    ViaOwnMap,
}

/// The header Blink adds to every request's map after script's. Its name
/// matters only through where it lands when the table grows: `User-Agent`
/// fits every observation, as do a few other names.
const ADDED_BY_BLINK: &str = "user-agent";

/// The user-agent client hints Blink adds before it, to requests to a
/// potentially trustworthy URL only (none to `http://corsgate.test`, mapped
/// to 127.0.0.1: checked with the experiment).
const CLIENT_HINTS: [&str; 3] = ["sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform"];

/// Whether Chromium sends the user-agent client hints to `url`: `https`
/// and `wss`, and the loopback hosts (`localhost`, `*.localhost`,
/// `127.0.0.0/8`, `[::1]`).
pub fn sends_client_hints(url: &url::Url) -> bool {
    if matches!(url.scheme(), "https" | "wss") {
        return true;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

const SECRET: [u64; 3] = [
    0x2d35_8dcc_aa6c_78a5,
    0x8bb8_4b93_962e_acc9,
    0x4b33_a62e_d433_d4a3,
];
const SEED: u64 = 0xbdd8_9aa9_8270_4029;

fn mul128(a: u64, b: u64) -> (u64, u64) {
    let r = u128::from(a) * u128::from(b);
    (r as u64, (r >> 64) as u64)
}

fn mix(a: u64, b: u64) -> u64 {
    let (lo, hi) = mul128(a, b);
    lo ^ hi
}

fn read64(p: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[at..at + 8]);
    u64::from_le_bytes(b)
}

fn read32(p: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&p[at..at + 4]);
    u64::from(u32::from_le_bytes(b))
}

/// Chromium's rapidhash over `p` (the bytes the reader produces), with
/// `small` standing for the reader's `ReadSmall` when `p` is shorter than 4
/// bytes.
fn rapidhash(p: &[u8], small: u64) -> u64 {
    let len = p.len();
    let mut seed = SEED;
    seed ^= mix(seed ^ SECRET[0], SECRET[1]) ^ len as u64;
    let (mut a, mut b);
    if len <= 16 {
        if len >= 4 {
            let last = len - 4;
            a = (read32(p, 0) << 32) | read32(p, last);
            let delta = (len & 24) >> (len >> 3);
            b = (read32(p, delta) << 32) | read32(p, last - delta);
        } else if len > 0 {
            a = small;
            b = 0;
        } else {
            a = 0;
            b = 0;
        }
    } else {
        let mut i = len;
        let mut o = 0;
        if i > 48 {
            let (mut see1, mut see2) = (seed, seed);
            loop {
                seed = mix(read64(p, o) ^ SECRET[0], read64(p, o + 8) ^ seed);
                see1 = mix(read64(p, o + 16) ^ SECRET[1], read64(p, o + 24) ^ see1);
                see2 = mix(read64(p, o + 32) ^ SECRET[2], read64(p, o + 40) ^ see2);
                o += 48;
                i -= 48;
                if i < 48 {
                    break;
                }
            }
            seed ^= see1 ^ see2;
        }
        if i > 16 {
            seed = mix(
                read64(p, o) ^ SECRET[2],
                read64(p, o + 8) ^ seed ^ SECRET[1],
            );
            if i > 32 {
                seed = mix(read64(p, o + 16) ^ SECRET[2], read64(p, o + 24) ^ seed);
            }
        }
        a = read64(p, o + i - 16);
        b = read64(p, o + i - 8);
    }
    a ^= SECRET[1];
    b ^= seed;
    let (a, b) = mul128(a, b);
    mix(a ^ SECRET[0] ^ len as u64, b ^ SECRET[1])
}

/// `CaseFoldingHash::GetHash` of an ASCII header name: 24 bits, never 0.
pub fn case_folding_hash(name: &str) -> u32 {
    let lower = name.to_ascii_lowercase();
    let wide: Vec<u8> = lower.bytes().flat_map(|c| [c, 0]).collect();
    // `CaseFoldingHashReader::ReadSmall` (one character) is the folded
    // character itself.
    let small = lower.bytes().next().map(u64::from).unwrap_or_default();
    let h = (rapidhash(&wide, small) & 0x00ff_ffff) as u32;
    if h == 0 {
        0x0080_0000
    } else {
        h
    }
}

/// A WTF hash table of lower-cased names, only ever inserted into.
struct Table {
    slots: Vec<Option<(String, u32)>>,
    keys: usize,
}

impl Table {
    fn new() -> Self {
        Table {
            slots: Vec::new(),
            keys: 0,
        }
    }

    fn place(slots: &mut [Option<(String, u32)>], name: String, hash: u32) -> bool {
        let mask = slots.len() - 1;
        let mut i = hash as usize & mask;
        let mut probe = 0;
        while let Some((k, _)) = &slots[i] {
            if *k == name {
                return false;
            }
            probe += 1;
            i = (i + probe) & mask;
        }
        slots[i] = Some((name, hash));
        true
    }

    fn insert(&mut self, name: &str) {
        if self.slots.is_empty() {
            self.slots = vec![None; 8];
        }
        let name = name.to_ascii_lowercase();
        let hash = case_folding_hash(&name);
        if Self::place(&mut self.slots, name, hash) {
            self.keys += 1;
            if self.keys * 2 >= self.slots.len() {
                let size = self.slots.len() * 2;
                let old = std::mem::replace(&mut self.slots, vec![None; size]);
                for (k, h) in old.into_iter().flatten() {
                    Self::place(&mut self.slots, k, h);
                }
            }
        }
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().flatten().map(|(k, _)| k.as_str())
    }
}

/// The lower-cased `names` (each once; for XHR in the order script set
/// them) in the order Chromium's network service sees them, for a request
/// that carries the user-agent client hints (`client_hints`: see
/// [`sends_client_hints`]) or not.
pub fn network_order(names: &[String], insertion: Insertion, client_hints: bool) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for n in names {
        let l = n.to_ascii_lowercase();
        if !unique.contains(&l) {
            unique.push(l);
        }
    }
    let mut map = Table::new();
    match insertion {
        Insertion::Sorted => {
            unique.sort();
            for n in &unique {
                map.insert(n);
            }
        }
        Insertion::ViaOwnMap => {
            let mut own = Table::new();
            for n in &unique {
                own.insert(n);
            }
            for n in own.names() {
                map.insert(n);
            }
        }
    }
    let hints: &[&str] = if client_hints { &CLIENT_HINTS } else { &[] };
    for n in hints.iter().chain([&ADDED_BY_BLINK]) {
        if !unique.iter().any(|u| u == n) {
            map.insert(n);
        }
    }
    map.names()
        .filter(|n| unique.iter().any(|u| u == n))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_hash_folds_case_and_is_24_bits() {
        for name in [
            "x-a",
            "Authorization",
            "q",
            "a-much-longer-header-name-of-more-than-48-bytes-x",
        ] {
            let h = case_folding_hash(name);
            assert_eq!(h, case_folding_hash(&name.to_ascii_uppercase()));
            assert!(h > 0 && h < 1 << 24);
        }
    }

    /// Values of an independent implementation (in Python) that predicted
    /// all 3,400 requests of the experiment; the short, 4-to-16-byte and
    /// over-48-byte paths of rapidhash.
    #[test]
    fn known_hashes() {
        for (name, hash) in [
            ("x-a", 0x3c604d),
            ("Accept", 0x592219),
            ("q", 0x159aa1),
            ("authorization", 0xb67284),
            ("x-requested-with", 0x0f8c57),
            (
                "a-much-longer-header-name-of-more-than-48-bytes-x",
                0x9e3486,
            ),
            ("sec-ch-ua-platform", 0xffbec3),
        ] {
            assert_eq!(case_folding_hash(name), hash, "{name}");
        }
    }

    /// Requests of the experiment, with the header Chromium 156's console
    /// named (the first in this order the answer did not allow): a slot
    /// collision `fetch()` resolves by sorted insertion, the same headers
    /// through XHR, and the growth the four headers Blink adds cause.
    #[test]
    fn orders_as_chromium_named() {
        let cases: &[(Insertion, &[&str], &[&str], &str)] = &[
            (
                Insertion::Sorted,
                &["x-gjdEs.AmBuc", "Pragma", "ykrxrwaSHn1e", "0zxVfHXKJk1Cfnl"],
                &[],
                "pragma",
            ),
            (
                Insertion::ViaOwnMap,
                &[
                    "Content-Language",
                    "dt2ajc",
                    "X-xH8wm1ixnwPxo#w5e&ulAd7a*",
                    "x-b",
                    "ey",
                    "Accept-Language",
                    "!r9bRmza$",
                ],
                &[
                    "content-language",
                    "accept-language",
                    "dt2ajc",
                    "x-xh8wm1ixnwpxo#w5e&ulad7a*",
                ],
                "ey",
            ),
        ];
        for (initiator, headers, allowed, named) in cases {
            let order = network_order(&v(headers), *initiator, true);
            let first = order.iter().find(|n| !allowed.contains(&n.as_str()));
            assert_eq!(first.map(String::as_str), Some(*named), "{headers:?}");
        }
    }

    #[test]
    fn every_name_once() {
        let order = network_order(
            &v(&["X-B", "x-a", "x-b", "X-C"]),
            Insertion::ViaOwnMap,
            false,
        );
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, v(&["x-a", "x-b", "x-c"]));
    }
}
