//! The client's address: the socket peer, or — only when the peer is a configured trusted
//! proxy — the nearest untrusted address in `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};

use crate::config::TrustedProxies;

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
