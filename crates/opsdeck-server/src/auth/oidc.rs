//! OIDC/JWT bearer tokens (`[auth.oidc]`): a token signed by the identity provider is
//! checked against its published key set (JWKS) and turned into a [`Principal`].
//!
//! Checks follow the JWT BCP (RFC 8725): the algorithm must be on the configured allow-list
//! (asymmetric only, so `none` and HMAC-with-the-public-key are impossible), the key is
//! chosen by `kid` and must belong to the algorithm's family, `iss` must match exactly,
//! `aud` must contain our audience, and `exp`/`nbf` are checked against the application
//! clock with a small leeway. The key set is cached; it is reloaded on a schedule
//! ([`JwksRefreshJob`]) and, to follow key rotation, when a token names an unknown `kid`
//! (at most once a minute, so random `kid`s cannot make us hammer the provider).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use opsdeck_core::auth::{AuthMethod, Principal};
use serde_json::{Map, Value};

use crate::background::Job;
use crate::config::{OidcConfig, RoleMap};

mod jwks;

pub use jwks::JwksError;
use jwks::{JwksSource, KeySet};

/// The fewest seconds between two key-set reloads triggered by unknown `kid`s.
const MISS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Why a presented JWT was refused. The text is safe to show: it never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed token, or a signature algorithm opsdeck does not accept")]
    Malformed,
    #[error("token signature algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued by another issuer")]
    WrongIssuer,
    #[error("token is meant for another audience")]
    WrongAudience,
    #[error("token lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("no role mapped for this user")]
    NoRole,
}

/// Checks OIDC bearer tokens; shared by every request and the refresh loop.
#[derive(Debug)]
pub struct OidcVerifier {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: i64,
    roles_claim: String,
    name_claim: String,
    role_map: RoleMap,
    source: JwksSource,
    keys: RwLock<Arc<KeySet>>,
    /// When the keys were last loaded successfully.
    loaded_at: std::sync::Mutex<Option<Instant>>,
    /// When an unknown `kid` last caused a reload; the lock also makes concurrent misses
    /// wait for one reload instead of each starting their own.
    last_miss_refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl OidcVerifier {
    /// The verifier `[auth.oidc]` describes, its keys loaded; `None` when OIDC is off.
    /// An unreadable `jwks_file` is an error; an unreachable `jwks_url` is only logged, so
    /// an identity provider outage does not stop opsdeck (tokens are refused until the keys
    /// can be fetched).
    pub async fn from_config(config: &OidcConfig) -> anyhow::Result<Option<Self>> {
        let (Some(issuer), Some(audience)) = (&config.issuer, &config.audience) else {
            return Ok(None);
        };
        let algorithms = config
            .algorithms
            .iter()
            .map(|name| name.parse::<Algorithm>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| anyhow::anyhow!("auth.oidc.algorithms names an unknown algorithm"))?;
        let source = JwksSource::from_config(config)?;
        let verifier = Self {
            issuer: issuer.clone(),
            audience: audience.clone(),
            algorithms,
            leeway: i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX),
            roles_claim: config.roles_claim.clone(),
            name_claim: config.name_claim.clone(),
            role_map: config.role_map.clone(),
            source,
            keys: RwLock::new(Arc::new(KeySet::default())),
            loaded_at: std::sync::Mutex::new(None),
            last_miss_refetch: tokio::sync::Mutex::new(None),
        };
        match verifier.refresh().await {
            Ok(count) => tracing::info!(keys = count, "OIDC signing keys loaded"),
            Err(err) if verifier.source.is_remote() => {
                tracing::warn!(error = %err, "could not fetch the OIDC signing keys; OIDC tokens are refused until they can be fetched");
            }
            Err(err) => return Err(anyhow::Error::new(err).context("loading auth.oidc.jwks_file")),
        }
        Ok(Some(verifier))
    }

    /// Loads the key set again and replaces the cached one; returns how many keys it has.
    /// On failure the cached keys stay in use.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let keys = self.source.load().await?;
        let count = keys.len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        *self.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(count)
    }

    /// Whether the keys were loaded successfully less than `age` ago.
    pub fn loaded_within(&self, age: Duration) -> bool {
        self.loaded_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < age)
    }

    fn current_keys(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reloads the keys after an unknown `kid`, unless that was done less than a minute ago.
    async fn refetch_after_miss(&self) {
        let mut last = self.last_miss_refetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < MISS_REFETCH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(err) = self.refresh().await {
            tracing::warn!(error = %err, "could not reload the OIDC signing keys");
        }
    }

    /// Checks a token and maps it to a principal (`oidc:<iss>#<sub>`).
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(Refusal::AlgorithmNotAllowed);
        }
        let kid = header.kid.as_deref();
        let key = match self.current_keys().find(kid, header.alg) {
            Some(key) => key,
            None => {
                self.refetch_after_miss().await;
                self.current_keys()
                    .find(kid, header.alg)
                    .ok_or(Refusal::UnknownKey)?
            }
        };
        // One algorithm per check: the library wants every allowed one in the key's family.
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Time is checked below against the application clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|err| refusal_of(err.kind()))?
            .claims;
        self.check_time(&claims, now)?;
        self.principal(&claims)
    }

    fn check_time(&self, claims: &Map<String, Value>, now: DateTime<Utc>) -> Result<(), Refusal> {
        let now = now.timestamp();
        let exp = numeric(claims, "exp").ok_or_else(|| Refusal::MissingClaim("exp".into()))?;
        if exp.saturating_add(self.leeway) < now {
            return Err(Refusal::Expired);
        }
        if let Some(nbf) = numeric(claims, "nbf")
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(Refusal::NotYetValid);
        }
        Ok(())
    }

    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, Refusal> {
        // `iss` as an array passes the library's check when any element matches; we want
        // the one string the provider issues.
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(Refusal::WrongIssuer);
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Refusal::MissingClaim("sub".into()))?;
        let role = match claim(claims, &self.roles_claim) {
            Some(Value::String(one)) => self.role_map.resolve([one.as_str()]),
            Some(Value::Array(many)) => {
                self.role_map.resolve(many.iter().filter_map(Value::as_str))
            }
            _ => None,
        }
        .ok_or(Refusal::NoRole)?;
        let name = claim(claims, &self.name_claim)
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(sub);
        Ok(Principal {
            id: format!("oidc:{}#{sub}", self.issuer),
            name: name.to_owned(),
            role,
            method: AuthMethod::Oidc,
        })
    }
}

/// A claim by top-level name (namespaced claims such as `https://example.com/roles` contain
/// dots), else by dotted path into nested objects (`realm_access.roles`).
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    claims.get(name).or_else(|| {
        let mut parts = name.split('.');
        let first = claims.get(parts.next()?)?;
        parts.try_fold(first, |value, part| value.get(part))
    })
}

/// A NumericDate claim in whole seconds.
fn numeric(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    let value = claims.get(name)?;
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

fn refusal_of(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::MissingRequiredClaim(name) => Refusal::MissingClaim(name.clone()),
        ErrorKind::InvalidAlgorithm => Refusal::AlgorithmNotAllowed,
        _ => Refusal::Malformed,
    }
}

/// Reloads the OIDC key set every `auth.oidc.jwks_refresh` (`interval`), on every replica.
#[derive(Debug)]
pub struct JwksRefreshJob {
    pub verifier: Arc<OidcVerifier>,
    pub interval: Duration,
}

#[async_trait]
impl Job for JwksRefreshJob {
    async fn tick(&self) -> anyhow::Result<()> {
        // The first tick follows start-up, which has just loaded the keys.
        if self.verifier.loaded_within(self.interval / 2) {
            return Ok(());
        }
        self.verifier.refresh().await?;
        Ok(())
    }
}
