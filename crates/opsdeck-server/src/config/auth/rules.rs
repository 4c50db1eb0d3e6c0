//! The rules of `[auth]` that types cannot express: what an enabled OIDC or proxy setup
//! needs, algorithms that are never safe, header names, and trust that is too wide.

use std::time::Duration;

use super::{AuthConfig, OidcConfig, ProxyConfig, SUPPORTED_ALGORITHMS};
use crate::config::TrustedProxies;

/// Problems of one section: (key within the section, message).
type Problems = Vec<(&'static str, String)>;

/// The most clock skew worth tolerating; more is a misreading of the unit.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

impl AuthConfig {
    /// Semantic problems of `[auth]`; `server_trusted` is `server.trusted_proxies`, which
    /// `auth.proxy.trusted` falls back to.
    pub(crate) fn problems(&self, server_trusted: &TrustedProxies) -> Problems {
        let mut out = self.oidc.problems();
        out.extend(self.proxy.problems(server_trusted));
        out
    }
}

impl OidcConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        let Some(issuer) = &self.issuer else {
            let configured = self.audience.is_some()
                || self.jwks_file.is_some()
                || self.jwks_url.is_some()
                || !self.role_map.is_empty();
            if configured {
                out.push((
                    "oidc.issuer",
                    "must be set for the other auth.oidc keys to take effect".to_owned(),
                ));
            }
            return out;
        };
        if issuer.trim().is_empty() {
            out.push(("oidc.issuer", "must not be empty".to_owned()));
        }
        if self.audience.as_ref().is_none_or(|a| a.trim().is_empty()) {
            out.push((
                "oidc.audience",
                "required: the client id tokens are issued for".to_owned(),
            ));
        }
        match (&self.jwks_file, &self.jwks_url) {
            (None, None) => out.push(("oidc.jwks_url", "set jwks_url or jwks_file".to_owned())),
            (Some(_), Some(_)) => out.push((
                "oidc.jwks_file",
                "set only one of jwks_file and jwks_url".to_owned(),
            )),
            (None, Some(url)) => {
                let parsed = reqwest::Url::parse(url);
                if !parsed.is_ok_and(|u| matches!(u.scheme(), "https" | "http")) {
                    out.push((
                        "oidc.jwks_url",
                        "must be an http:// or https:// URL".to_owned(),
                    ));
                }
            }
            (Some(_), None) => {}
        }
        if self.jwks_refresh.is_zero() {
            out.push(("oidc.jwks_refresh", "must be greater than zero".to_owned()));
        }
        if self.algorithms.is_empty() {
            out.push((
                "oidc.algorithms",
                "must list at least one algorithm".to_owned(),
            ));
        }
        for alg in &self.algorithms {
            if !SUPPORTED_ALGORITHMS.contains(&alg.as_str()) {
                out.push((
                    "oidc.algorithms",
                    format!(
                        "\"{alg}\" is not accepted; expected some of {} (never none or HS*)",
                        SUPPORTED_ALGORITHMS.join(", ")
                    ),
                ));
            }
        }
        if self.leeway > MAX_LEEWAY {
            out.push(("oidc.leeway", "must be at most 5m".to_owned()));
        }
        for (key, value) in [
            ("oidc.roles_claim", &self.roles_claim),
            ("oidc.name_claim", &self.name_claim),
        ] {
            if value.trim().is_empty() {
                out.push((key, "must not be empty".to_owned()));
            }
        }
        if self.role_map.is_empty() {
            out.push((
                "oidc.role_map",
                "map at least one claim value to a role, or every token is refused".to_owned(),
            ));
        }
        out
    }
}

impl ProxyConfig {
    fn problems(&self, server_trusted: &TrustedProxies) -> Problems {
        let mut out = Problems::new();
        let mut names = vec![
            ("proxy.email_header", &self.email_header),
            ("proxy.groups_header", &self.groups_header),
        ];
        if let Some(user) = &self.user_header {
            names.push(("proxy.user_header", user));
        }
        for (i, (key, name)) in names.iter().enumerate() {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                out.push((key, format!("\"{name}\" is not a valid HTTP header name")));
            } else if names[..i].iter().any(|(_, other)| same_header(other, name)) {
                out.push((
                    key,
                    "must differ from the other identity headers".to_owned(),
                ));
            }
        }
        if !self.enabled {
            return out;
        }
        let trusted = self.trusted_peers(server_trusted);
        if trusted.is_empty() {
            out.push((
                "proxy.trusted",
                "proxy auth is enabled but trusts no peer; list the proxy's addresses here or in server.trusted_proxies".to_owned(),
            ));
        }
        if trusted.ranges().iter().any(|cidr| cidr.prefix() == 0) {
            // oauth2-proxy's old default: anyone who reaches the port could log in as anyone.
            out.push((
                "proxy.trusted",
                "must not trust every address (a /0 range): anyone could send identity headers"
                    .to_owned(),
            ));
        }
        if self.role_map.is_empty() && self.default_role.is_none() {
            out.push((
                "proxy.role_map",
                "map at least one group to a role or set default_role, or every user is refused"
                    .to_owned(),
            ));
        }
        out
    }
}

/// Header names as a server may fold them: case-insensitive, `_` the same as `-`.
pub fn same_header(a: &str, b: &str) -> bool {
    let fold = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}
