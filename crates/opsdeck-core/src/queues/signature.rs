//! The signature of opsdeck's calls to an application's webhook (a push source's retry
//! webhook): `X-Opsdeck-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<body>"` with the shared secret — the scheme Stripe made familiar. The timestamp
//! inside the signed text lets the application refuse replays older than a few minutes.

use aws_lc_rs::hmac;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-opsdeck-signature";

/// The header value for `body` sent at `unix_seconds`.
pub fn webhook_signature(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(unix_seconds.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(context.sign().as_ref())
    )
}

/// Whether `header` is a valid signature of `body` made with `secret` no more than
/// `tolerance_seconds` away from `now_seconds`: what an application does with it.
pub fn verify_webhook_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_seconds: i64,
    tolerance_seconds: i64,
) -> bool {
    let mut at = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => at = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(at), Some(signature)) = (at, signature) else {
        return false;
    };
    if (now_seconds - at).abs() > tolerance_seconds {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = at.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    hmac::verify(&key, &signed, &signature).is_ok()
}
