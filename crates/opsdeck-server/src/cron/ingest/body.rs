//! Reading a ping body: the tail within a limit is kept, the rest is read and dropped.
//!
//! healthchecks.io keeps the first bytes of a body; opsdeck keeps the last ones, as it
//! keeps the tail of every log and error (a failing job prints its error last). A client
//! that sizes its body by `Ping-Body-Limit` (runitor, `opsdeck exec`) sees no difference.
//! The body is read to its end, so the connection stays usable; memory stays within twice
//! the limit whatever its length, and the request timeout bounds how long it may take.

use axum::body::Body;
use http_body_util::BodyExt;

/// The body could not be read to its end (the client went away or broke the framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body could not be read")]
pub struct UnreadableBody;

/// The last `limit` bytes of `body` as text (invalid UTF-8, or a character cut at the
/// limit, becomes U+FFFD).
pub async fn read_tail(mut body: Body, limit: usize) -> Result<String, UnreadableBody> {
    let mut kept: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| UnreadableBody)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        kept.extend_from_slice(&data);
        // Dropping the front only once it is twice the limit keeps the copying linear.
        if kept.len() > limit.saturating_mul(2) {
            kept.drain(..kept.len() - limit);
        }
    }
    if kept.len() > limit {
        kept.drain(..kept.len() - limit);
    }
    Ok(match String::from_utf8(kept) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}
