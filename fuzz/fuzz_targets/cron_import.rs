//! `opsdeck cron import` reads files users point it at: crontabs, system crontabs,
//! Kubernetes manifests and vercel.json. Whatever they hold, reading never panics, and what is
//! imported is a set of valid monitors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsdeck_core::cron::import::{Format, Importer};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = match selector % 4 {
        0 => Format::Crontab,
        1 => Format::SystemCrontab,
        2 => Format::Kubernetes,
        _ => Format::Vercel,
    };
    let mut importer = Importer::new(Some("Europe/Berlin")).expect("a known zone");
    importer.add("fuzzed", format, text);
    // The same file twice: slugs stay unique across files.
    importer.add("fuzzed-again", format, text);
    let _ = importer.finish();
});
