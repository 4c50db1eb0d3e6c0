//! Impersonation over real HTTP (SPEC §6): the token verifies with an independent JWT
//! library (jsonwebtoken) against the key set fetched from `/ops/impersonation/jwks.json`,
//! and stops verifying once expired, once its key is rotated out, and (for the
//! application) once the revocation feed lists it; viewers and operators are refused every
//! route; bad requests change nothing; starts and ends are audited with the tenant.

mod access;
mod config;
mod flow;
mod python;
mod rotation;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::secret::Secret;
use opsdeck_core::token::{self, Grant, NewToken, Scope, Scopes};
use opsdeck_core::{Clock as _, ManualClock};
use opsdeck_server::config::Config;
use opsdeck_server::state::AppState;
use opsdeck_server::{Application, BuildOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::app::test_config;
use crate::support::db::TestDb;

pub const AUDIENCE: &str = "https://app.example.com";
/// The sealing key of test apps: 32 bytes, base64.
pub const SEALING_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

/// Impersonation on, keys rotated hourly (the shortest allowed), no rate limits (the tests
/// make many writes from one principal).
pub fn enable(config: &mut Config) {
    config.impersonation.enabled = true;
    config.impersonation.audience = AUDIENCE.to_owned();
    config.impersonation.encryption_key = Some(Secret::new(SEALING_KEY.to_owned()));
    config.impersonation.rotate_every = std::time::Duration::from_secs(3600);
    config.rate_limit.enabled = false;
}

/// An app on port 0 whose clock only moves when the test says so.
pub struct ClockedApp {
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub client: reqwest::Client,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ClockedApp {
    /// An app owning `db`, its clock at `start`.
    pub async fn spawn(db: TestDb, start: DateTime<Utc>, tweak: impl FnOnce(&mut Config)) -> Self {
        let url = db.url.clone();
        Self::spawn_on(&url, Some(db), Arc::new(ManualClock::new(start)), tweak).await
    }

    /// Another replica on the database of `self`, sharing its clock.
    pub async fn replica(&self, url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(url, None, self.clock.clone(), tweak).await
    }

    async fn spawn_on(
        url: &str,
        db: Option<TestDb>,
        clock: Arc<ManualClock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = test_config(url);
        tweak(&mut config);
        let app = Application::build(
            config,
            BuildOptions {
                clock: clock.clone(),
            },
        )
        .await
        .expect("build app");
        let addr = app.local_addr().expect("local addr");
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        // The database goes only once the app has stopped writing to it.
        let task = tokio::spawn(async move {
            let _ = app.run_until(async move { drop(stopped.await) }).await;
            drop(db);
        });
        Self {
            clock,
            state,
            client: reqwest::Client::new(),
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn mint_grant(&self, name: &str, grant: Grant) -> (uuid::Uuid, String) {
        let new = NewToken {
            name: TokenName::parse(name).unwrap(),
            grant,
            created_by: Some("test".into()),
            expires_at: None,
        };
        let secret = token::generate(new.kind());
        let record = self
            .state
            .store()
            .create_token(&new, &secret.hash, &secret.display, self.clock.now())
            .await
            .unwrap();
        (record.id, secret.secret.expose().to_owned())
    }

    /// A personal token with `role`: its id (the principal id) and secret.
    pub async fn mint(&self, role: Role) -> (uuid::Uuid, String) {
        self.mint_grant(role.as_str(), Grant::Role(role)).await
    }

    /// An ingest key with scope `events`.
    pub async fn ingest_key(&self) -> String {
        let scopes = Scopes::new([Scope::Events]).unwrap();
        self.mint_grant("app", Grant::Scopes(scopes)).await.1
    }

    /// `POST /ops/tenants/{tenant}/impersonations` with `body`.
    pub async fn start(&self, bearer: &str, tenant: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/ops/tenants/{tenant}/impersonations")))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Starts one that must succeed; returns the answer.
    pub async fn started(&self, bearer: &str, tenant: &str, user: &str, ttl: &str) -> Value {
        let response = self
            .start(
                bearer,
                tenant,
                json!({"user_id": user, "reason": "ticket 4711: cannot see invoices", "ttl": ttl}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `DELETE /ops/tenants/{tenant}/impersonations/{jti}`.
    pub async fn end(&self, bearer: &str, tenant: &str, jti: &str) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/ops/tenants/{tenant}/impersonations/{jti}")))
            .bearer_auth(bearer)
            .json(&json!({"reason": "done with ticket 4711"}))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, bearer: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The key set, as the application fetches it: without credentials.
    pub async fn key_set(&self) -> jsonwebtoken::jwk::JwkSet {
        let response = self
            .client
            .get(self.url("/ops/impersonation/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for ClockedApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What an application does with a token: find its key in the key set by `kid` and verify
/// signature, `aud` and `exp` with jsonwebtoken, an implementation independent of
/// opsdeck's signer.
pub fn verify(
    token: &str,
    keys: &jsonwebtoken::jwk::JwkSet,
) -> Result<Value, jsonwebtoken::errors::Error> {
    use jsonwebtoken::errors::ErrorKind;
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.ok_or(ErrorKind::InvalidToken)?;
    let jwk = keys.find(&kid).ok_or(ErrorKind::InvalidKeyFormat)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims)
}
