//! `[auth]`: single sign-on, off by default. `[auth.oidc]` accepts OIDC/JWT bearer tokens
//! checked against the identity provider's published keys (JWKS); `[auth.proxy]` accepts the
//! identity headers of an authenticating reverse proxy (oauth2-proxy style), only from
//! trusted peers. Both map a group or claim value to a role through a [`RoleMap`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use opsdeck_core::auth::Role;
use serde::{Deserialize, Serialize};

use super::duration;
use super::net::TrustedProxies;

mod rules;

pub use rules::same_header;

/// Signature algorithms a token may name: asymmetric only. `none` and the HMAC family
/// (`HS*`) are never accepted: with them, whoever knows the public key could sign.
pub const SUPPORTED_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// `[auth]`: single sign-on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// While opsdeck's own database is unreachable, a token or session it found active this
    /// recently keeps read access (SPEC §8); writes are refused whatever the grace.
    #[serde(with = "duration")]
    pub outage_grace: Duration,
    /// `[auth.oidc]`: OIDC/JWT bearer tokens.
    pub oidc: OidcConfig,
    /// `[auth.proxy]`: identity headers from a trusted authenticating proxy.
    pub proxy: ProxyConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            outage_grace: crate::auth::cache::DEFAULT_OUTAGE_GRACE,
            oidc: OidcConfig::default(),
            proxy: ProxyConfig::default(),
        }
    }
}

/// `[auth.oidc]`: bearer JWTs issued by an OIDC provider. On when `issuer` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The token's `iss` must equal this exactly. Unset: OIDC bearer tokens are off.
    pub issuer: Option<String>,
    /// The token's `aud` must be or contain this (the client id registered for opsdeck).
    pub audience: Option<String>,
    /// A JWKS document on disk; exactly one of `jwks_file` and `jwks_url` is required.
    pub jwks_file: Option<PathBuf>,
    /// Where the provider publishes its JWKS (`jwks_uri` of its discovery document).
    pub jwks_url: Option<String>,
    /// How often the key set is fetched (or read) again.
    #[serde(with = "duration")]
    pub jwks_refresh: Duration,
    /// Algorithms a token may be signed with; any of [`SUPPORTED_ALGORITHMS`].
    pub algorithms: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(with = "duration")]
    pub leeway: Duration,
    /// The claim holding the user's groups or roles: a string or an array of strings.
    /// Looked up as a top-level name first, then as a dotted path (`realm_access.roles`).
    pub roles_claim: String,
    /// The claim naming the user in the audit log; `sub` when it is missing.
    pub name_claim: String,
    /// Claim value → role.
    pub role_map: RoleMap,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh: Duration::from_secs(600),
            algorithms: ["RS256", "ES256", "EdDSA"].map(str::to_owned).to_vec(),
            leeway: Duration::from_secs(30),
            roles_claim: "groups".to_owned(),
            name_claim: "email".to_owned(),
            role_map: RoleMap::default(),
        }
    }
}

impl OidcConfig {
    /// Whether OIDC bearer tokens are accepted.
    pub fn enabled(&self) -> bool {
        self.issuer.is_some()
    }
}

/// `[auth.proxy]`: identity headers set by an authenticating reverse proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Off (the default): identity headers are removed from every request and never read.
    pub enabled: bool,
    /// Peers (the TCP peer, never `X-Forwarded-For`) whose identity headers are believed.
    /// Empty: the same peers as `server.trusted_proxies`.
    pub trusted: TrustedProxies,
    /// Header carrying the user's email; required on an authenticated request.
    pub email_header: String,
    /// Header carrying the user's groups, comma-separated.
    pub groups_header: String,
    /// Header carrying a display name; the email is used without it.
    pub user_header: Option<String>,
    /// Group → role.
    pub role_map: RoleMap,
    /// The role of a user none of whose groups is mapped. Unset: such a user is refused.
    pub default_role: Option<Role>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            trusted: TrustedProxies::default(),
            email_header: "X-Forwarded-Email".to_owned(),
            groups_header: "X-Forwarded-Groups".to_owned(),
            user_header: None,
            role_map: RoleMap::default(),
            default_role: None,
        }
    }
}

impl ProxyConfig {
    /// The peers whose identity headers are believed: `trusted`, or when it is empty the
    /// server's trusted proxies.
    pub fn trusted_peers<'a>(&'a self, server: &'a TrustedProxies) -> &'a TrustedProxies {
        if self.trusted.is_empty() {
            server
        } else {
            &self.trusted
        }
    }
}

/// Group or claim value → role. When several of a user's values are mapped, the most
/// privileged role wins: admin, then operator, then support, then viewer. Operator ranks
/// above support so that someone in both groups does not gain access to tenant data
/// (support's impersonation and diagnostics) through an ambiguous mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleMap(BTreeMap<String, Role>);

impl RoleMap {
    /// A map from pairs.
    pub fn new(entries: impl IntoIterator<Item = (String, Role)>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// The most privileged role any of `values` maps to; `None` when none is mapped.
    pub fn resolve<'a>(&self, values: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        values
            .into_iter()
            .filter_map(|value| self.0.get(value).copied())
            .max_by_key(|role| privilege(*role))
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The order in which mapped roles win (see [`RoleMap`]).
fn privilege(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Support => 1,
        Role::Operator => 2,
        Role::Admin => 3,
    }
}
