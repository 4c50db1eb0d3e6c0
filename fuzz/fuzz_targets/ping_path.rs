//! The parts of a ping URL a client controls: the slug, what follows it (`start`, `fail`,
//! `log`, an exit status) and `rid`. Parsing never panics; what parses is what was sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsdeck_core::cron::{PingKind, parse_rid};
use opsdeck_core::ids::Slug;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (slug, tail) = text.split_once('/').unwrap_or((text, ""));
    if let Ok(parsed) = Slug::parse(slug) {
        assert_eq!(parsed.as_str(), slug);
    }
    if let Ok(PingKind::Exit(code)) = PingKind::parse_tail(tail) {
        assert!(tail.bytes().all(|b| b.is_ascii_digit()), "{tail:?}");
        assert_eq!(tail.parse::<u8>(), Ok(code));
    }
    if let Ok(rid) = parse_rid(text) {
        assert!(!rid.to_string().is_empty());
    }
});
