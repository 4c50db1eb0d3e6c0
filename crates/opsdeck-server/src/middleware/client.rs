//! Who the client is and where it reached us: its address — the socket peer, or, only when
//! the peer is a configured trusted proxy, the nearest untrusted address in
//! `X-Forwarded-For` — and the base URL it used ([`BaseUrl`]), under the same rule.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, header};

use crate::config::TrustedProxies;
use crate::state::AppState;

pub fn client_addr(request: &Request, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    // Walk the chain from the nearest hop outwards; the first address that is not one of
    // our proxies is the client. Everything further left could be forged.
    let forwarded: Vec<IpAddr> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(*ip))
            .unwrap_or(peer),
    )
}

/// The base URL a client reached this server at (`https://ops.example.com`), for pages
/// that show commands to copy: the `Host` it asked for (the authority, in HTTP/2) over
/// plain HTTP, or — only when the peer is a trusted proxy, as for [`client_addr`] — the
/// `X-Forwarded-Proto` and `X-Forwarded-Host` the proxy sets. Falls back to the address
/// opsdeck listens on when no valid host was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let server = &state.config().server;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let proxied = peer.is_some_and(|ip| server.trusted_proxies.contains(ip));
        Ok(Self(
            base_url(&parts.headers, parts.uri.authority(), proxied)
                .unwrap_or_else(|| format!("http://{}", server.listen)),
        ))
    }
}

/// `scheme://host` from the request's headers; `proxied` says whether a trusted proxy's
/// `X-Forwarded-*` headers count. `None` without a valid host.
pub fn base_url(
    headers: &HeaderMap,
    authority: Option<&Authority>,
    proxied: bool,
) -> Option<String> {
    // Behind a chain of proxies that each append, the first value is what the outermost
    // one saw: the scheme and host the browser used. The page is the requester's own, so
    // a value a client forged would only mislead that client.
    let forwarded = |name: &str| {
        proxied
            .then(|| {
                headers
                    .get(name)?
                    .to_str()
                    .ok()?
                    .split(',')
                    .next()
                    .map(str::trim)
            })
            .flatten()
            .filter(|value| !value.is_empty())
    };
    let scheme = match forwarded("x-forwarded-proto").map(str::to_ascii_lowercase) {
        Some(scheme) if scheme == "https" || scheme == "http" => scheme,
        _ => "http".to_owned(),
    };
    let host = forwarded("x-forwarded-host")
        .or_else(|| headers.get(header::HOST)?.to_str().ok())
        .map(str::to_owned)
        .or_else(|| authority.map(|a| a.as_str().to_owned()))?;
    // Only a bare `host[:port]`: the value ends up in commands people paste.
    let parsed: Authority = host.parse().ok()?;
    (!parsed.as_str().contains('@')).then(|| format!("{scheme}://{}", parsed.as_str()))
}
