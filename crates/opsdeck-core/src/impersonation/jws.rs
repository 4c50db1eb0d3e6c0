//! The compact JWS (RFC 7515) of an impersonation token: `{"alg":"EdDSA","typ":"JWT","kid"}`
//! as the header, the [`Claims`] as the payload, an Ed25519 signature (RFC 8037). Only
//! signing lives here: the applications verify with their own JWT library, and opsdeck's
//! tests do the same with an independent one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::{Claims, KeyError, SigningKey};

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The signed token: `header.payload.signature`, each base64url without padding.
pub fn sign(claims: &Claims, key: &SigningKey) -> Result<String, KeyError> {
    let header = Header {
        alg: "EdDSA",
        typ: "JWT",
        kid: key.kid(),
    };
    // Serializing plain structs of strings and integers cannot fail.
    let header = serde_json::to_vec(&header).map_err(|_| KeyError::Crypto("encode"))?;
    let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto("encode"))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}
