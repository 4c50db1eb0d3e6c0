//! The text of a token: `opsdeck_pat_` or `opsdeck_key_`, 30 random base62 characters
//! (≈178 bits), then 6 base62 characters of CRC32 over everything before them. The checksum
//! lets [`parse`] reject a mistyped, truncated or made-up token without touching the
//! database, which makes guessing cheap to refuse and typos easy to explain.
//!
//! Only the SHA-256 of a token ([`TokenHash`]) is stored. The secret is shown once, at
//! creation; everywhere else a token appears as its display prefix (`opsdeck_pat_AbC4…`).

use std::fmt;

use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TokenKind;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random characters after the prefix.
pub const RANDOM_LEN: usize = 30;
/// Checksum characters at the end.
pub const CHECKSUM_LEN: usize = 6;
/// Random characters the display prefix reveals: enough to tell tokens apart in a list,
/// few enough (24 of 178 bits) to leave the rest unguessable.
const DISPLAY_RANDOM_LEN: usize = 4;

/// A freshly generated token: the secret to show once, and what the store keeps.
#[derive(Debug)]
pub struct NewSecret {
    pub secret: TokenSecret,
    pub hash: TokenHash,
    /// The prefix and first random characters followed by `…`; safe to show and to store.
    pub display: String,
}

/// The full token text. `Debug` and `Display` show only the display prefix.
pub struct TokenSecret {
    text: String,
    display: String,
}

impl TokenSecret {
    /// The whole token, for the one time it is shown to its owner.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSecret({})", self.display)
    }
}

impl fmt::Display for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// SHA-256 of the full token text, as 64 lowercase hex characters: what the store indexes.
///
/// Equality is constant-time. Stores look tokens up by hash in a unique index, which leaks
/// nothing useful: the secret has ~178 bits, so knowing hash prefixes does not help guess it.
#[derive(Clone)]
pub struct TokenHash(String);

impl TokenHash {
    fn of(text: &str) -> Self {
        TokenHash(hex::encode(Sha256::digest(text.as_bytes())))
    }

    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or(&self.0))
    }
}

/// A token whose text is well-formed; whether it exists is the store's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    pub kind: TokenKind,
    pub hash: TokenHash,
}

/// Why a text is not an opsdeck token. Messages never repeat the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("not an opsdeck token: it should start with opsdeck_pat_ or opsdeck_key_")]
    UnknownPrefix,
    #[error(
        "the token is {actual} characters long instead of {expected}: was it truncated, or \
         copied with extra text?"
    )]
    WrongLength { expected: usize, actual: usize },
    #[error("the token has a character other than A-Z, a-z or 0-9 at position {position}")]
    BadCharacter { position: usize },
    #[error("the token's checksum does not match: was it mistyped?")]
    ChecksumMismatch,
}

/// A new random token of `kind`, from the thread-local CSPRNG.
pub fn generate(kind: TokenKind) -> NewSecret {
    let mut rng = rand::rng();
    let mut text = String::with_capacity(token_len(kind));
    text.push_str(kind.prefix());
    for _ in 0..RANDOM_LEN {
        text.push(char::from(BASE62[rng.random_range(0..BASE62.len())]));
    }
    let checksum = checksum(&text);
    text.extend(checksum.iter().copied().map(char::from));
    let display = display(kind, &text);
    NewSecret {
        hash: TokenHash::of(&text),
        secret: TokenSecret {
            text,
            display: display.clone(),
        },
        display,
    }
}

/// Checks prefix, length, characters and checksum, in that order, so the error names the
/// first thing wrong. Surrounding whitespace (from copy and paste) is ignored.
pub fn parse(text: &str) -> Result<ParsedToken, TokenFormatError> {
    let text = text.trim();
    let kind = TokenKind::ALL
        .into_iter()
        .find(|kind| text.starts_with(kind.prefix()))
        .ok_or(TokenFormatError::UnknownPrefix)?;
    let expected = token_len(kind);
    let actual = text.chars().count();
    if actual != expected {
        return Err(TokenFormatError::WrongLength { expected, actual });
    }
    let prefix_len = kind.prefix().len();
    if let Some(index) = text
        .chars()
        .skip(prefix_len)
        .position(|c| !c.is_ascii_alphanumeric())
    {
        return Err(TokenFormatError::BadCharacter {
            position: prefix_len + index + 1,
        });
    }
    // All ASCII from here on, so byte offsets are character offsets.
    let (body, sum) = text
        .split_at_checked(expected - CHECKSUM_LEN)
        .ok_or(TokenFormatError::ChecksumMismatch)?;
    if checksum(body) != sum.as_bytes() {
        return Err(TokenFormatError::ChecksumMismatch);
    }
    Ok(ParsedToken {
        kind,
        hash: TokenHash::of(text),
    })
}

fn token_len(kind: TokenKind) -> usize {
    kind.prefix().len() + RANDOM_LEN + CHECKSUM_LEN
}

/// CRC32 of `body` in base62, most significant digit first, zero-padded
/// (62⁶ > 2³², so six digits always suffice).
fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [BASE62[0]; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits
}

fn display(kind: TokenKind, text: &str) -> String {
    let shown = kind.prefix().len() + DISPLAY_RANDOM_LEN;
    format!("{}…", text.get(..shown).unwrap_or(kind.prefix()))
}

#[cfg(test)]
mod tests;
