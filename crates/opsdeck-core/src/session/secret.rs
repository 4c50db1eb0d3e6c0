//! The random values behind a session: the cookie secret ([`SessionSecret`]), the SHA-256 the
//! store keeps instead of it ([`SessionHash`]), and the per-session CSRF token.
//!
//! Both random values are 43 base62 characters from the thread-local CSPRNG: 62⁴³ > 2²⁵⁶, so
//! each carries at least 256 bits, and the alphabet needs no escaping in a cookie, a form
//! field or a header.

use std::fmt;

use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters in a session secret and in a CSRF token.
pub const SECRET_LEN: usize = 43;

/// The cookie value. Only its owner's browser ever holds it; `Debug` and `Display` never
/// show any of it.
pub struct SessionSecret(String);

impl SessionSecret {
    /// The cookie value, for the `Set-Cookie` header and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(***)")
    }
}

impl fmt::Display for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// SHA-256 of a session secret, as 64 lowercase hex characters: the only form of it the
/// store keeps, and the key it looks sessions up by.
///
/// Equality is constant-time. A plain hash (no salt, no key) is enough: the secret has 256
/// random bits, so a leaked table of hashes does not help anyone find a secret.
#[derive(Clone)]
pub struct SessionHash(String);

impl SessionHash {
    /// The hash of a presented cookie value, or `None` when the value cannot be a session
    /// secret (wrong length or a character outside base62): such a cookie is refused without
    /// a database round trip.
    pub fn of(cookie_value: &str) -> Option<Self> {
        let well_formed = cookie_value.len() == SECRET_LEN
            && cookie_value.bytes().all(|b| b.is_ascii_alphanumeric());
        well_formed.then(|| Self::digest(cookie_value))
    }

    fn digest(secret: &str) -> Self {
        SessionHash(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

impl PartialEq for SessionHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SessionHash {}

impl fmt::Debug for SessionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionHash({}…)", self.0.get(..8).unwrap_or(&self.0))
    }
}

/// A new session secret for the cookie, and the hash to store.
pub fn generate() -> (SessionSecret, SessionHash) {
    let secret = random_text();
    let hash = SessionHash::digest(&secret);
    (SessionSecret(secret), hash)
}

/// A new CSRF token, independent of the session secret, so a page that shows it reveals
/// nothing about the cookie.
pub fn generate_csrf() -> String {
    random_text()
}

fn random_text() -> String {
    let mut rng = rand::rng();
    (0..SECRET_LEN)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect()
}
