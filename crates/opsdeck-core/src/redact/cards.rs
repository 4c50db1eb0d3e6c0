//! Card numbers: 13 to 19 digits, optionally in groups separated by single spaces or dashes,
//! that pass the Luhn check. A digit run that fails it (an order id, a timestamp) is kept.
//!
//! A run of digit groups is found first, then the card inside it: the run may hold more
//! than the card (`order 1042 4111 1111 1111 1111`), so every span of whole groups is a
//! candidate, the leftmost-longest valid one wins and the scan goes on after it. A span may
//! only be cut out of its run at a space: dash-joined groups (`2024-01-15`, an all-digit
//! UUID) are one number. Each group start tries at most 19 digits of groups, so the scan
//! stays linear.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::PassResult;

const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]+(?:[ \-][0-9]+)*").expect("valid regex"));

pub(super) fn card_numbers(text: &str) -> PassResult {
    if text.bytes().filter(u8::is_ascii_digit).count() < MIN_DIGITS {
        return None;
    }
    let mut out = String::new();
    let mut copied = 0;
    let mut masked = 0;
    for run in DIGIT_RUN.find_iter(text) {
        let run_digits = run.as_str().bytes().filter(u8::is_ascii_digit).count();
        if run_digits < MIN_DIGITS {
            continue;
        }
        let groups = groups(text, run.range());
        let mut first = 0;
        while first < groups.len() {
            let Some(last) = longest_card(text, &groups, first) else {
                first += 1;
                continue;
            };
            out.push_str(&text[copied..groups[first].start]);
            out.push_str("[card]");
            copied = groups[last].end;
            masked += 1;
            first = last + 1;
        }
    }
    if masked == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some((out, masked))
}

/// The byte ranges of the digit groups of a run.
fn groups(text: &str, run: Range<usize>) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = run.start;
    for (offset, byte) in text[run.clone()].bytes().enumerate() {
        if !byte.is_ascii_digit() {
            groups.push(start..run.start + offset);
            start = run.start + offset + 1;
        }
    }
    groups.push(start..run.end);
    groups
}

/// The last group of the longest card that starts at group `first`, if any.
fn longest_card(text: &str, groups: &[Range<usize>], first: usize) -> Option<usize> {
    if !may_start(text, groups, first) {
        return None;
    }
    let mut digits = 0;
    let mut best = None;
    for last in first..groups.len() {
        digits += groups[last].len();
        if digits > MAX_DIGITS {
            break;
        }
        if digits >= MIN_DIGITS
            && may_end(text, groups, last)
            && luhn_valid(digits_from_right(text, &groups[first..=last]))
        {
            best = Some(last);
        }
    }
    best
}

/// A card starts a run not glued to a word or a decimal point, or follows a space in it.
fn may_start(text: &str, groups: &[Range<usize>], first: usize) -> bool {
    let at = groups[first].start;
    if first > 0 {
        return text.as_bytes()[at - 1] == b' ';
    }
    at == 0 || !matches!(text.as_bytes()[at - 1], b'.' | b'a'..=b'z' | b'A'..=b'Z')
}

/// A card ends a run not glued to a word or a decimal fraction, or precedes a space in it.
fn may_end(text: &str, groups: &[Range<usize>], last: usize) -> bool {
    let at = groups[last].end;
    if last + 1 < groups.len() {
        return text.as_bytes()[at] == b' ';
    }
    match text.as_bytes().get(at..) {
        Some([b'.', next, ..]) => !next.is_ascii_digit(),
        Some([next, ..]) => !next.is_ascii_alphanumeric(),
        _ => true,
    }
}

/// The digits of `groups`, rightmost first.
fn digits_from_right<'t>(
    text: &'t str,
    groups: &'t [Range<usize>],
) -> impl Iterator<Item = u8> + 't {
    groups
        .iter()
        .rev()
        .flat_map(|group| text.as_bytes()[group.clone()].iter().rev().copied())
}

/// The Luhn checksum: every second digit from the right doubled (less 9 when over 9).
fn luhn_valid(digits_from_right: impl Iterator<Item = u8>) -> bool {
    let sum: u32 = digits_from_right
        .enumerate()
        .map(|(i, byte)| {
            let digit = u32::from(byte - b'0');
            if i % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn(number: &str) -> bool {
        luhn_valid(number.bytes().rev())
    }

    #[test]
    fn luhn_accepts_test_card_numbers() {
        for number in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "4222222222222",
        ] {
            assert!(luhn(number), "{number}");
        }
    }

    #[test]
    fn luhn_rejects_a_changed_digit() {
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("1700000000000"));
    }
}
