//! The redactor sees every payload, log line and error message opsdeck stores or shows.
//! Whatever the input, it never panics, redacting twice changes nothing more, and truncation
//! stays within its byte budget on a character boundary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsdeck_core::redact::{redact_text, truncate_redacted};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = redact_text(text);
    let twice = redact_text(&once);
    assert_eq!(once, twice, "redaction is not idempotent");
    let budget = data.len() / 2;
    let cut = truncate_redacted(text, budget);
    assert!(cut.len() <= budget, "{} bytes over a budget of {budget}", cut.len());
});
