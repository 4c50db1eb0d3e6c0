//! Identity headers from an authenticating reverse proxy (`[auth.proxy]`, oauth2-proxy
//! style: `X-Forwarded-Email`, `X-Forwarded-Groups`).
//!
//! A header is only as trustworthy as whoever set it, so identity headers are believed only
//! when the TCP peer itself (never `X-Forwarded-For`) is a trusted proxy. Whatever the
//! peer, identity headers are then removed from the request in every spelling a server or
//! framework might fold together (any case, `_` for `-`): no handler can read a forged one,
//! and a variant a proxy failed to strip cannot be smuggled past us (oauth2-proxy
//! CVE-2025-64484). From a trusted peer, a variant spelling or a repeated header means the
//! proxy passed something through it should not have: the request is refused.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName};
use opsdeck_core::auth::{AuthMethod, Principal};

use crate::config::{ProxyConfig, TrustedProxies, same_header};
use crate::state::AppState;

/// What oauth2-proxy sets upstream. Removed from every request whether or not they are the
/// configured ones, so a proxy setup change can never expose a forged one to a handler.
const OAUTH2_PROXY_HEADERS: [&str; 5] = [
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
];

/// What a request's identity headers amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyIdentity {
    /// Proxy auth is off, the peer is not trusted, or it sent no identity.
    Absent,
    Principal(Principal),
    /// A trusted peer sent identity headers that cannot be believed; the reason is safe to show.
    Refused(String),
}

/// The header names [`strip_identity_headers`] removes for this configuration.
pub fn identity_header_names(config: &ProxyConfig) -> Vec<&str> {
    let mut names: Vec<&str> = OAUTH2_PROXY_HEADERS.to_vec();
    names.push(&config.email_header);
    names.push(&config.groups_header);
    names.extend(config.user_header.as_deref());
    names
}

/// Removes every header whose name, folded (lowercase, `_` as `-`), equals one of `names`.
pub fn strip_identity_headers(headers: &mut HeaderMap, names: &[&str]) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|present| names.iter().any(|name| same_header(present.as_str(), name)))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Reads the identity a trusted proxy asserts. `peer` is the TCP peer's address; `server`
/// is `server.trusted_proxies`, used when `auth.proxy.trusted` is empty.
pub fn resolve(
    config: &ProxyConfig,
    server: &TrustedProxies,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> ProxyIdentity {
    let trusted = config.trusted_peers(server);
    if !config.enabled || !peer.is_some_and(|ip| trusted.contains(ip)) {
        return ProxyIdentity::Absent;
    }
    match read_identity(config, headers) {
        Ok(Some(principal)) => ProxyIdentity::Principal(principal),
        Ok(None) => ProxyIdentity::Absent,
        Err(reason) => ProxyIdentity::Refused(reason.to_owned()),
    }
}

fn read_identity(
    config: &ProxyConfig,
    headers: &HeaderMap,
) -> Result<Option<Principal>, &'static str> {
    let mut configured = vec![config.email_header.as_str(), &config.groups_header];
    configured.extend(config.user_header.as_deref());
    for present in headers.keys() {
        let variant = configured.iter().any(|name| {
            same_header(present.as_str(), name) && !present.as_str().eq_ignore_ascii_case(name)
        });
        if variant {
            return Err("identity header in a non-standard spelling");
        }
    }
    let email = single(headers, &config.email_header)?;
    let groups = single(headers, &config.groups_header)?;
    let user = match &config.user_header {
        Some(name) => single(headers, name)?,
        None => None,
    };
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        return if groups.is_some() || user.is_some() {
            Err("identity headers without an email")
        } else {
            Ok(None)
        };
    };
    let groups = groups
        .into_iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|g| !g.is_empty());
    let role = config
        .role_map
        .resolve(groups)
        .or(config.default_role)
        .ok_or("no role mapped for this user")?;
    Ok(Some(Principal {
        id: format!("proxy:{email}"),
        name: user.filter(|u| !u.is_empty()).unwrap_or(email).to_owned(),
        role,
        method: AuthMethod::Proxy,
    }))
}

/// The trimmed value of a header that may appear at most once.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, &'static str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err("identity header repeated"),
        (Some(value), None) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| "identity header is not text"),
    }
}

/// The proxy step of authentication: reads the identity a trusted proxy asserts, then
/// removes identity headers from the request whoever sent them.
pub fn take_identity(state: &AppState, request: &mut Request) -> ProxyIdentity {
    let config = &state.config().auth.proxy;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let identity = resolve(
        config,
        &state.config().server.trusted_proxies,
        peer,
        request.headers(),
    );
    strip_identity_headers(request.headers_mut(), &identity_header_names(config));
    identity
}
