//! Unit tests of the token text format.

use std::collections::HashSet;

use super::*;

const ALL_KINDS: [TokenKind; 2] = [TokenKind::Personal, TokenKind::IngestKey];

#[test]
fn generated_tokens_have_the_documented_shape() {
    for kind in ALL_KINDS {
        let new = generate(kind);
        let text = new.secret.expose();
        assert_eq!(text.len(), kind.prefix().len() + 36, "{text}");
        let rest = text.strip_prefix(kind.prefix()).expect("prefix");
        assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
        assert_eq!(
            new.display,
            format!("{}…", &text[..kind.prefix().len() + 4])
        );
        assert_eq!(new.hash.as_hex().len(), 64);
        assert!(
            new.hash
                .as_hex()
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    assert_eq!(TokenKind::Personal.prefix(), "opsdeck_pat_");
    assert_eq!(TokenKind::IngestKey.prefix(), "opsdeck_key_");
}

#[test]
fn generated_tokens_are_unique() {
    let mut texts = HashSet::new();
    let mut hashes = HashSet::new();
    for _ in 0..2_000 {
        let new = generate(TokenKind::Personal);
        assert!(texts.insert(new.secret.expose().to_owned()));
        assert!(hashes.insert(new.hash.as_hex().to_owned()));
    }
}

#[test]
fn parse_round_trips_generated_tokens() {
    for kind in ALL_KINDS {
        let new = generate(kind);
        let parsed = parse(new.secret.expose()).expect("a generated token parses");
        assert_eq!(parsed.kind, kind);
        assert_eq!(parsed.hash, new.hash);
        let padded = format!("  {}\n", new.secret.expose());
        assert_eq!(parse(&padded).map(|p| p.hash), Ok(new.hash));
    }
}

/// Known answers, computed independently (Python `zlib.crc32`, `hashlib.sha256`): they pin
/// the alphabet, the checksum's zero padding and the hash, which scanners and stored hashes
/// depend on.
#[test]
fn known_tokens_parse_to_known_hashes() {
    for (text, kind, hash) in [
        (
            "opsdeck_pat_0000000000000000000000000000000TKMkE",
            TokenKind::Personal,
            "a4f204211916d494284723d42c124c0983bbb3fb11c97800441b7acbf683cca5",
        ),
        (
            "opsdeck_key_AbCdEfGhIjKlMnOpQrStUvWxYz01234bBpqg",
            TokenKind::IngestKey,
            "74bbea82d019f07fb16775c8e610e47ab83ebe3a66f8ffe9e49fa9d80e258ecf",
        ),
    ] {
        let parsed = parse(text).expect(text);
        assert_eq!(parsed.kind, kind);
        assert_eq!(parsed.hash.as_hex(), hash);
    }
}

#[test]
fn checksum_catches_every_single_character_substitution() {
    for _ in 0..5 {
        let new = generate(TokenKind::IngestKey);
        let text = new.secret.expose();
        let start = TokenKind::IngestKey.prefix().len();
        for position in start..text.len() {
            for &replacement in BASE62 {
                if text.as_bytes()[position] == replacement {
                    continue;
                }
                let mut altered = text.as_bytes().to_vec();
                altered[position] = replacement;
                let altered = String::from_utf8(altered).expect("ascii");
                assert_eq!(
                    parse(&altered).map(|p| p.kind),
                    Err(TokenFormatError::ChecksumMismatch),
                    "position {position}"
                );
            }
        }
    }
}

#[test]
fn truncated_and_extended_tokens_are_wrong_length() {
    let new = generate(TokenKind::Personal);
    let text = new.secret.expose();
    assert_eq!(
        parse(&text[..text.len() - 1]).map(|p| p.kind),
        Err(TokenFormatError::WrongLength {
            expected: 48,
            actual: 47
        })
    );
    assert_eq!(
        parse(&format!("{text}x")).map(|p| p.kind),
        Err(TokenFormatError::WrongLength {
            expected: 48,
            actual: 49
        })
    );
    assert!(matches!(
        parse("opsdeck_pat_"),
        Err(TokenFormatError::WrongLength { actual: 12, .. })
    ));
}

#[test]
fn other_prefixes_are_not_opsdeck_tokens() {
    let new = generate(TokenKind::Personal);
    let random = &new.secret.expose()["opsdeck_pat_".len()..];
    for prefix in [
        "ghp_",
        "opsdeck_xyz_",
        "OPSDECK_PAT_",
        "opsk_",
        "Bearer opsdeck_pat_",
        "",
    ] {
        let text = format!("{prefix}{random}");
        assert_eq!(
            parse(&text).map(|p| p.kind),
            Err(TokenFormatError::UnknownPrefix),
            "{text}"
        );
    }
    // The right random part under the other kind's prefix fails its checksum.
    let swapped = format!("opsdeck_key_{random}");
    assert_eq!(
        parse(&swapped).map(|p| p.kind),
        Err(TokenFormatError::ChecksumMismatch)
    );
}

#[test]
fn bad_characters_are_located_not_echoed() {
    let new = generate(TokenKind::Personal);
    let mut text = new.secret.expose().to_owned();
    text.replace_range(20..21, "-");
    let error = parse(&text).map(|p| p.kind).expect_err("a dash");
    assert_eq!(error, TokenFormatError::BadCharacter { position: 21 });
    // A multi-byte character counts as one character and must not panic.
    let mut text = new.secret.expose().to_owned();
    text.replace_range(47..48, "é");
    assert_eq!(
        parse(&text).map(|p| p.kind),
        Err(TokenFormatError::BadCharacter { position: 48 })
    );
}

#[test]
fn errors_and_debug_never_show_the_secret() {
    let new = generate(TokenKind::Personal);
    let secret = new.secret.expose().to_owned();
    let random = &secret["opsdeck_pat_".len()..];
    let hidden = &random[4..];
    for shown in [
        format!("{new:?}"),
        format!("{:?}", new.secret),
        new.secret.to_string(),
        format!("{:?}", parse(&secret)),
    ] {
        assert!(!shown.contains(hidden), "{shown}");
        assert!(
            !shown.contains(new.hash.as_hex()),
            "the full hash is not needed: {shown}"
        );
    }
    assert_eq!(new.secret.to_string(), new.display);
    let mut mistyped = secret.clone();
    mistyped.replace_range(47..48, if secret.ends_with('a') { "b" } else { "a" });
    for text in [
        &secret[..40],
        &mistyped,
        &format!("{secret}!"),
        &secret.replace('_', "-"),
    ] {
        let error = parse(text).map(|p| p.kind).expect_err(text);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(&random[..8]), "{shown}");
    }
}

#[test]
fn hash_equality_is_by_value() {
    let a = generate(TokenKind::Personal);
    let b = generate(TokenKind::Personal);
    assert_eq!(a.hash, a.hash.clone());
    assert_ne!(a.hash, b.hash);
}
