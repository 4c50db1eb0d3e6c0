//! A second, unrelated implementation checks the token: Python's `cryptography` (OpenSSL's
//! Ed25519, where opsdeck signs with aws-lc) verifies the signature with the key fetched
//! from the key set, and recomputes the RFC 7638 `kid` from the key. `cryptography` comes
//! with the S3 test server CI installs (moto).

use chrono::Utc;
use opsdeck_core::auth::Role;
use serde_json::Value;

use super::{AUDIENCE, ClockedApp, enable};
use crate::support::db::TestDb;

const VERIFY: &str = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

keys, token = json.loads(sys.argv[1]), sys.argv[2]
head, payload, signature = token.split(".")
header = json.loads(b64(head))
assert header["alg"] == "EdDSA", header
key = next(k for k in keys["keys"] if k["kid"] == header["kid"])
assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": key["x"]}, separators=(",", ":"))
thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
assert thumbprint.decode() == key["kid"], "kid is not the RFC 7638 thumbprint"
Ed25519PublicKey.from_public_bytes(b64(key["x"])).verify(b64(signature), f"{head}.{payload}".encode())
print(json.dumps(json.loads(b64(payload))))
"#;

async fn python_verify(keys: &Value, token: &str) -> Result<Value, String> {
    let output = tokio::process::Command::new("python3")
        .args(["-c", VERIFY, &keys.to_string(), token])
        .output()
        .await
        .expect("python3 runs");
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("claims as JSON"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn openssl_through_python_verifies_the_token_and_its_kid() {
    let app = ClockedApp::spawn(TestDb::sqlite(), Utc::now(), enable).await;
    let (_, support) = app.mint(Role::Support).await;
    let started = app.started(&support, "acme", "user_7", "5m").await;
    let token = started["token"].as_str().unwrap();
    let (_, keys) = app.get_json(None, "/ops/impersonation/jwks.json").await;

    let claims = python_verify(&keys, token).await.expect("verifies");
    assert_eq!(claims["sub"], "user_7");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["jti"], started["jti"]);

    // One byte of the payload changed: the signature no longer holds.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let first = parts[1].remove(0);
    parts[1].insert(0, if first == 'e' { 'f' } else { 'e' });
    let error = python_verify(&keys, &parts.join(".")).await.unwrap_err();
    assert!(error.contains("InvalidSignature"), "{error}");
}
