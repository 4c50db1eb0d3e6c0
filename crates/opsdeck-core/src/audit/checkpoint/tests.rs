use base64::Engine as _;
use chrono::TimeZone;

use super::*;

/// The secret key of RFC 8032's first Ed25519 test vector, as a base64 seed and as the
/// PKCS#8 PEM OpenSSL writes for it; its public key is known from the RFC.
const SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
    -----END PRIVATE KEY-----\n";
const PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
    MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
    -----END PUBLIC KEY-----\n";
const KEY_ID: &str = "21fe31dfa154a261";
/// SHA-256 of "opsdeck": any well-formed hash does.
const HASH: &str = "bec8bf3c040d4e17d8767e4f3c14f060f9ccb87c03ba77a80be8b9741f15dd77";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(123)
}

fn signed() -> SignedCheckpoint {
    let key = CheckpointKey::parse(SEED).unwrap();
    key.sign(42, HASH, at()).unwrap()
}

/// Checkpoints kept in files and logs must verify with every later version. The text, key id
/// and signature were produced independently of this code (Python for the text and key id,
/// `openssl pkeyutl -sign -rawin` for the signature, Ed25519 signatures being
/// deterministic); changing any of them means a new form with a new first line.
#[test]
fn one_checkpoint_is_pinned_in_its_signed_text_json_and_signature() {
    let checkpoint = signed();
    assert_eq!(
        checkpoint.checkpoint.signed_text(),
        "opsdeck-audit-checkpoint-v1\n\
         seq=42\n\
         hash=bec8bf3c040d4e17d8767e4f3c14f060f9ccb87c03ba77a80be8b9741f15dd77\n\
         at=1796119200123\n\
         key_id=21fe31dfa154a261\n"
    );
    assert_eq!(
        checkpoint.to_json(),
        r#"{"seq":42,"hash":"bec8bf3c040d4e17d8767e4f3c14f060f9ccb87c03ba77a80be8b9741f15dd77","at":"2026-12-01T10:00:00.123Z","key_id":"21fe31dfa154a261","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","signature":"UE6y9DoTfRPfN/VGA0w1zbaE+1mmYrLrfC2/GUKbDv/bYzRmr/dzf5LmEtrPDzgCFoXX1na96B/uEGgV/T7ZDA=="}"#
    );
    assert_eq!(
        SignedCheckpoint::from_json(&checkpoint.to_json()).unwrap(),
        checkpoint
    );
    assert_eq!(checkpoint.verify(&[]), Ok(Trust::Embedded));
}

#[test]
fn every_private_key_form_gives_the_same_key() {
    let from_seed = CheckpointKey::parse(SEED).unwrap();
    assert_eq!(from_seed.public_key().to_base64(), PUBLIC);
    assert_eq!(from_seed.public_key().id(), KEY_ID);
    let unpadded = SEED.trim_end_matches('=');
    let pem_body: String = PKCS8_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for text in [PKCS8_PEM, unpadded, &pem_body, &format!("\n{SEED}\n")] {
        let key = CheckpointKey::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(key.public_key(), from_seed.public_key(), "{text:?}");
    }
    for bad in [
        "",
        "not base64!",
        "AAAA",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n",
    ] {
        let error = CheckpointKey::parse(bad).unwrap_err();
        assert_eq!(error, KeyError::UnreadablePrivate, "{bad:?}");
    }
    assert!(
        !format!("{from_seed:?}").contains(SEED),
        "Debug shows the key id only"
    );
}

#[test]
fn every_public_key_form_gives_the_same_key() {
    let expected = CheckpointKey::parse(SEED).unwrap().public_key().clone();
    let spki_base64: String = PUBLIC_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for text in [
        PUBLIC,
        PUBLIC_PEM,
        &spki_base64,
        PUBLIC.trim_end_matches('='),
    ] {
        assert_eq!(PublicKey::parse(text).unwrap(), expected, "{text:?}");
    }
    assert_eq!(
        PublicKey::parse(SEED.get(..20).unwrap()),
        Err(KeyError::UnreadablePublic)
    );
}

#[test]
fn a_generated_key_round_trips_through_its_pem() {
    let (key, pem) = CheckpointKey::generate().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let again = CheckpointKey::parse(&pem).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    let (other, _) = CheckpointKey::generate().unwrap();
    assert_ne!(other.public_key(), key.public_key());
}

#[test]
fn pinning_accepts_only_the_pinned_keys() {
    let checkpoint = signed();
    let ours = PublicKey::parse(PUBLIC).unwrap();
    let (other, _) = CheckpointKey::generate().unwrap();
    let theirs = other.public_key().clone();
    assert_eq!(
        checkpoint.verify(&[theirs.clone(), ours]),
        Ok(Trust::Pinned)
    );
    assert_eq!(
        checkpoint.verify(&[theirs]),
        Err(CheckpointError::NotPinned {
            key_id: KEY_ID.to_owned()
        })
    );
}

#[test]
fn any_changed_byte_or_value_fails_verification() {
    let good = signed();
    let pinned = [PublicKey::parse(PUBLIC).unwrap()];
    let bad_signature = Err(CheckpointError::BadSignature {
        key_id: KEY_ID.to_owned(),
    });

    let mut signature = base64::engine::general_purpose::STANDARD
        .decode(&good.signature)
        .unwrap();
    signature[10] ^= 0x01;
    let flipped = SignedCheckpoint {
        signature: base64::engine::general_purpose::STANDARD.encode(&signature),
        ..good.clone()
    };
    assert_eq!(flipped.verify(&pinned), bad_signature);
    assert_eq!(
        flipped.verify(&[]),
        bad_signature,
        "with the embedded key too"
    );

    let mut later = good.clone();
    later.checkpoint.seq = 43;
    assert_eq!(later.verify(&pinned), bad_signature);
    let mut other_hash = good.clone();
    other_hash.checkpoint.hash = HASH.replace('b', "c");
    assert_eq!(other_hash.verify(&pinned), bad_signature);
    let mut earlier = good.clone();
    earlier.checkpoint.at -= chrono::Duration::milliseconds(1);
    assert_eq!(earlier.verify(&pinned), bad_signature);

    // A checkpoint re-signed with another key but claiming ours is refused for its key id.
    let (other, _) = CheckpointKey::generate().unwrap();
    let mut forged = other.sign(42, HASH, at()).unwrap();
    forged.checkpoint.key_id = KEY_ID.to_owned();
    assert!(matches!(
        forged.verify(&[]),
        Err(CheckpointError::Malformed(_))
    ));
    let truncated = SignedCheckpoint {
        signature: good.signature[..20].to_owned(),
        ..good.clone()
    };
    assert_eq!(truncated.verify(&pinned), bad_signature);
}

#[test]
fn malformed_values_are_refused_before_any_signature_check() {
    let good = signed();
    type Change = fn(&mut Checkpoint);
    let cases: [(&str, Change); 4] = [
        ("seq 0", |c| c.seq = 0),
        ("uppercase hash", |c| c.hash = c.hash.to_uppercase()),
        ("short hash", |c| c.hash.truncate(10)),
        ("newline in key id", |c| {
            c.key_id = "21fe31dfa154a2\n1".into()
        }),
    ];
    for (what, change) in cases {
        let mut bad = good.clone();
        change(&mut bad.checkpoint);
        assert!(
            matches!(bad.verify(&[]), Err(CheckpointError::Malformed(_))),
            "{what}"
        );
    }
    for text in ["", "{}", "[1]", r#"{"seq":1}"#, "not json"] {
        assert!(
            matches!(
                SignedCheckpoint::from_json(text),
                Err(CheckpointError::Malformed(_))
            ),
            "{text:?}"
        );
    }
}
