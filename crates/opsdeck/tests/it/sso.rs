//! Single sign-on end to end: OIDC bearer tokens signed with keys generated here and checked
//! against a key set served by a real local HTTP server (or read from a file), and identity
//! headers from a trusted proxy, against the real application.

mod oidc;
mod proxy;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use opsdeck_core::audit::{AuditEntry, AuditFilter};
use opsdeck_core::auth::Permission;
use opsdeck_server::app::finish_router;
use opsdeck_server::middleware::auth::{Access, Kind, authorize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support::app::TestApp;
use crate::support::wait_for_async;

pub const ISSUER: &str = "https://idp.test/realms/ops";
pub const AUDIENCE: &str = "opsdeck";

/// A signing key made for one test, with its public half as a JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    /// A fresh P-256 key (ES256).
    pub fn es256(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("generate P-256 key");
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(pkcs8.as_ref()),
        )
    }

    /// A fresh Ed25519 key (EdDSA).
    pub fn ed25519(kid: &str) -> Self {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).expect("generate Ed25519 key");
        Self::new(
            kid,
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(pkcs8.as_ref()),
        )
    }

    fn new(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk: serde_json::to_value(jwk).expect("JWK as JSON"),
        }
    }

    /// A token over `claims`, signed with this key and naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign token")
    }
}

/// Claims of a valid token for `groups`, expiring in five minutes.
pub fn claims(groups: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER,
        "aud": [AUDIENCE, "another-client"],
        "sub": "user-7",
        "email": "ada@example.com",
        "groups": groups,
        "iat": now,
        "exp": now + 300,
    })
}

/// A JWKS document with these keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

/// A key set served over HTTP from 127.0.0.1, replaceable while running, counting fetches.
pub struct JwksServer {
    pub url: String,
    document: Arc<RwLock<Value>>,
    fetches: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Served {
    document: Arc<RwLock<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(document: Value) -> Self {
        let served = Served {
            document: Arc::new(RwLock::new(document)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let router = Router::new()
            .route(
                "/certs",
                get(|State(s): State<Served>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(s.document.read().expect("document").clone())
                }),
            )
            .with_state(served.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind JWKS server");
        let addr = listener.local_addr().expect("JWKS address");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("JWKS server");
        });
        Self {
            url: format!("http://{addr}/certs"),
            document: served.document,
            fetches: served.fetches,
            task,
        }
    }

    pub fn serve(&self, document: Value) {
        *self.document.write().expect("document") = document;
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A route that needs the admin permission, served behind the app's full middleware stack
/// on its own port: what a viewer is refused and an admin allowed.
pub async fn admin_probe(app: &TestApp) -> SocketAddr {
    let routes = Router::new().route(
        "/probe/admin",
        get(|| async { "ok" }).layer(axum::middleware::from_fn(|request, next| {
            authorize(
                Access::Requires(Permission::Administer),
                Kind::Json,
                request,
                next,
            )
        })),
    );
    let router = finish_router(routes, app.state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind probe");
    let addr = listener.local_addr().expect("probe address");
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    addr
}

/// The audit entries of an actor (by id), waiting until at least one is written.
pub async fn audited(app: &TestApp, actor_id: &str) -> Vec<AuditEntry> {
    wait_for_async(Duration::from_secs(5), "the audit entry", || async {
        let filter = AuditFilter {
            actor: Some(actor_id.to_owned()),
            action: None,
            target_kind: None,
            target_id: None,
            tenant_id: None,
            since: None,
            until: None,
            before_seq: None,
            limit: 10,
        };
        let entries = app.state.store().list_audit(&filter).await.expect("audit");
        (!entries.is_empty()).then_some(entries)
    })
    .await
}
