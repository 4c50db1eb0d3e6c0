//! The dashboard's static files (the stylesheet, one small script, the icon, and the
//! stylesheet only the monitor form's pages load), compiled into the binary so a deployment
//! is one file and no page depends on an outside CDN.
//!
//! Pages link them as `/static/{file}?v={version}`, the version being a hash of the content
//! computed at compile time: the browser may then keep a file for a year, and a new build
//! with a changed file is fetched at once because its URL differs.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Path, Query};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    version: u64,
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../static/", $name));
        Asset {
            name: $name,
            content_type: $content_type,
            body: BODY,
            version: fnv1a(BODY),
        }
    }};
}

static ASSETS: [Asset; 4] = [
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("monitor-form.css", "text/css; charset=utf-8"),
];

/// FNV-1a, 64 bits: not a security hash, only a fingerprint that changes with the content,
/// and simple enough to run at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The URL a page links a static file by, with its content version. Templates call it; an
/// unknown name is a programming error that shows as a broken link, never a panic.
pub fn href(name: &str) -> String {
    match find(name) {
        Some(asset) => format!("/static/{}?v={:016x}", asset.name, asset.version),
        None => format!("/static/{name}"),
    }
}

#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    v: Option<String>,
}

/// `GET /static/{file}`: public (SPEC §2), as the login page needs its stylesheet.
pub async fn get_static(
    Path(file): Path<String>,
    Query(query): Query<VersionQuery>,
    request_headers: HeaderMap,
) -> Response {
    let Some(asset) = find(&file) else {
        return ApiError::not_found("no such static file").into_response();
    };
    let etag = format!("\"{:016x}\"", asset.version);
    // Only a URL naming the current version may be cached for good: an old link must not
    // pin the new content under its name, nor the other way round.
    let current = query
        .v
        .as_deref()
        .is_some_and(|v| v == format!("{:016x}", asset.version));
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}
