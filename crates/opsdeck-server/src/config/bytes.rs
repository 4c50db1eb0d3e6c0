//! Byte sizes in the configuration: `"1MiB"`, `"512KiB"`, `"65536"` or a bare integer, for
//! `#[serde(with = "bytes")]` on `usize` fields (the type body limits take).
//!
//! Binary units (KiB, MiB, GiB) and decimal ones (KB, MB, GB) both parse, case-insensitively,
//! because both are in common use and each means exactly one thing.

use std::fmt;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserializer, Serializer};

const UNITS: [(&str, u64); 7] = [
    ("b", 1),
    ("kb", 1000),
    ("kib", 1 << 10),
    ("mb", 1000 * 1000),
    ("mib", 1 << 20),
    ("gb", 1000 * 1000 * 1000),
    ("gib", 1 << 30),
];

/// Parses a byte size: digits with an optional unit (B, KB, KiB, MB, MiB, GB, GiB).
pub fn parse(text: &str) -> Result<usize, String> {
    let invalid = || {
        format!(
            "invalid byte size \"{text}\"; write a whole number with an optional unit \
             B, KB, KiB, MB, MiB, GB or GiB, e.g. \"1MiB\" or \"65536\""
        )
    };
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    let number: u64 = digits.parse().map_err(|_| invalid())?;
    let unit = unit.trim().to_ascii_lowercase();
    let factor = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, factor)| *factor)
            .ok_or_else(invalid)?
    };
    number
        .checked_mul(factor)
        .and_then(|total| usize::try_from(total).ok())
        .ok_or_else(|| format!("byte size \"{text}\" is too large"))
}

/// Formats with the largest binary unit that divides the size exactly (`1MiB`, `1536KiB`).
pub fn format(size: usize) -> String {
    let size = u64::try_from(size).unwrap_or(u64::MAX);
    for (name, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if size != 0 && size % factor == 0 {
            return format!("{}{name}", size / factor);
        }
    }
    format!("{size}B")
}

/// Writes the size with a unit, readable back by [`deserialize`].
pub fn serialize<S: Serializer>(value: &usize, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*value))
}

/// Reads a byte size from a string with a unit or a non-negative integer.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    deserializer.deserialize_any(ByteSizeVisitor)
}

struct ByteSizeVisitor;

impl Visitor<'_> for ByteSizeVisitor {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte size such as \"1MiB\", \"512KiB\" or 65536")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<usize, E> {
        parse(value).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<usize, E> {
        usize::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<usize, E> {
        usize::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }
}
