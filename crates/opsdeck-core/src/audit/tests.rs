use chrono::TimeZone;

use super::*;

fn record(action: &str) -> AuditRecord {
    AuditRecord {
        at: Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap(),
        actor: Some(Actor {
            id: "tok_1".into(),
            name: "alice".into(),
            method: "token".into(),
        }),
        action: action.into(),
        target: Some(Target {
            kind: "job".into(),
            id: "42".into(),
        }),
        tenant_id: Some(TenantId::parse("acme").unwrap()),
        outcome: 200,
        client_addr: Some("10.0.0.1".into()),
        request_id: Some("req-1".into()),
        reason: Some("stuck".into()),
    }
}

fn chain(n: usize) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = Vec::new();
    for i in 1..=n {
        let prev = entries.last().map_or(GENESIS_HASH, |e| e.hash.as_str());
        let seq = i64::try_from(i).unwrap();
        entries.push(AuditEntry::chain(seq, prev, &record(&format!("a{i}"))));
    }
    entries
}

fn verify(entries: &[AuditEntry]) -> VerifyReport {
    let mut verifier = ChainVerifier::new();
    verifier.check_all(entries);
    verifier.finish()
}

#[test]
fn genesis_is_32_zero_bytes_in_hex() {
    assert_eq!(GENESIS_HASH.len(), 64);
    assert!(GENESIS_HASH.bytes().all(|b| b == b'0'));
}

#[test]
fn hash_is_lowercase_hex_sha256_and_deterministic() {
    let r = record("job.retry");
    let h = entry_hash(1, GENESIS_HASH, &r);
    assert_eq!(h.len(), 64);
    assert!(
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(h, entry_hash(1, GENESIS_HASH, &r.clone()));
}

/// Stored chains must verify with every later version: these hashes were computed by the
/// encoding as documented on [`entry_hash`] and may never change.
#[test]
fn hashes_of_stored_entries_never_change() {
    let full = record("job.retry");
    let bare = AuditRecord {
        actor: None,
        target: None,
        tenant_id: None,
        client_addr: None,
        request_id: None,
        reason: None,
        ..record("auth.failed")
    };
    let prev = "ab".repeat(32);
    assert_eq!(
        entry_hash(7, &prev, &full),
        "31fb5d821614968b589523e370c120f2ce7f51708aca9643a2adca28130e18c0"
    );
    assert_eq!(
        entry_hash(1, GENESIS_HASH, &bare),
        "e8d94a244aadc52aa3ef7c0ab0adb51d40f9e8bf3d8e98c000c6dd85201fd78c"
    );
}

#[test]
fn every_field_changes_the_hash() {
    let base = record("job.retry");
    let h = entry_hash(3, GENESIS_HASH, &base);
    type Edit = fn(&mut AuditRecord);
    let edits: [(&str, Edit); 14] = [
        ("at", |r| r.at += chrono::Duration::milliseconds(1)),
        ("actor", |r| r.actor = None),
        ("actor.id", |r| r.actor.as_mut().unwrap().id.push('x')),
        ("actor.name", |r| r.actor.as_mut().unwrap().name.push('x')),
        ("actor.method", |r| {
            r.actor.as_mut().unwrap().method.push('x')
        }),
        ("action", |r| r.action.push('x')),
        ("target", |r| r.target = None),
        ("target.kind", |r| r.target.as_mut().unwrap().kind.push('x')),
        ("target.id", |r| r.target.as_mut().unwrap().id.push('x')),
        ("tenant_id", |r| r.tenant_id = None),
        ("outcome", |r| r.outcome = 403),
        ("client_addr", |r| r.client_addr = None),
        ("request_id", |r| r.request_id = Some("req-2".into())),
        ("reason", |r| r.reason = Some(String::new())),
    ];
    for (field, edit) in edits {
        let mut changed = base.clone();
        edit(&mut changed);
        assert_ne!(entry_hash(3, GENESIS_HASH, &changed), h, "{field}");
    }
    assert_ne!(entry_hash(4, GENESIS_HASH, &base), h, "seq");
    assert_ne!(entry_hash(3, &"1".repeat(64), &base), h, "prev_hash");
}

#[test]
fn encoding_is_unambiguous() {
    let mut a = record("x");
    let mut b = record("x");
    // The same bytes split differently between adjacent fields.
    a.actor.as_mut().unwrap().name = "ab".into();
    a.actor.as_mut().unwrap().method = "c".into();
    b.actor.as_mut().unwrap().name = "a".into();
    b.actor.as_mut().unwrap().method = "bc".into();
    assert_ne!(
        entry_hash(1, GENESIS_HASH, &a),
        entry_hash(1, GENESIS_HASH, &b)
    );

    // Absent is not empty.
    let (mut a, mut b) = (record("x"), record("x"));
    a.reason = None;
    b.reason = Some(String::new());
    assert_ne!(
        entry_hash(1, GENESIS_HASH, &a),
        entry_hash(1, GENESIS_HASH, &b)
    );

    // A value moved from one optional field to the next.
    let (mut a, mut b) = (record("x"), record("x"));
    (a.client_addr, a.request_id) = (Some("v".into()), None);
    (b.client_addr, b.request_id) = (None, Some("v".into()));
    assert_ne!(
        entry_hash(1, GENESIS_HASH, &a),
        entry_hash(1, GENESIS_HASH, &b)
    );
}

#[test]
fn chaining_truncates_time_to_the_millisecond() {
    let mut r = record("x");
    r.at = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
    let entry = AuditEntry::chain(1, GENESIS_HASH, &r);
    assert_eq!(
        entry.record.at,
        Utc.timestamp_opt(1_700_000_000, 123_000_000).unwrap()
    );
    assert!(entry.hash_matches());
    assert_eq!(
        entry.hash,
        entry_hash(1, GENESIS_HASH, &r),
        "hash keeps ms only"
    );
}

#[test]
fn intact_chains_verify_in_any_batching() {
    let entries = chain(10);
    let report = verify(&entries);
    assert_eq!(
        report,
        VerifyReport {
            checked: 10,
            last_seq: Some(10),
            first_break: None
        }
    );
    let mut verifier = ChainVerifier::new();
    for batch in entries.chunks(3) {
        assert!(verifier.check_all(batch));
    }
    assert_eq!(verifier.finish(), report);
    assert!(verify(&[]).is_intact());
    assert_eq!(verify(&[]).last_seq, None);
}

#[test]
fn edited_entry_breaks_at_its_hash() {
    let mut entries = chain(5);
    entries[2].record.outcome = 500;
    let report = verify(&entries);
    assert_eq!(
        report.first_break,
        Some(ChainBreak::HashMismatch { seq: 3 })
    );
    assert_eq!((report.checked, report.last_seq), (2, Some(2)));
}

#[test]
fn edited_entry_with_recomputed_hash_breaks_the_next_link() {
    let mut entries = chain(5);
    entries[2].record.reason = Some("covered up".into());
    entries[2].hash = entry_hash(3, &entries[2].prev_hash, &entries[2].record);
    let report = verify(&entries);
    assert_eq!(
        report.first_break,
        Some(ChainBreak::PrevHashMismatch { seq: 4 })
    );
}

#[test]
fn deletions_and_reordering_are_named() {
    let entries = chain(6);
    let without = |skip: &[usize]| -> Vec<AuditEntry> {
        (0..entries.len())
            .filter(|i| !skip.contains(i))
            .map(|i| entries[i].clone())
            .collect()
    };
    let first = verify(&without(&[0])).first_break.unwrap();
    assert_eq!(
        first,
        ChainBreak::MissingEntry {
            expected_seq: 1,
            found_seq: 2
        }
    );
    assert_eq!(
        first.to_string(),
        "audit entry 1 is missing: the next stored entry is 2"
    );
    let middle = verify(&without(&[2, 3])).first_break.unwrap();
    assert_eq!(middle.seq(), 3);
    assert_eq!(
        middle.to_string(),
        "audit entries 3 to 4 are missing: the next stored entry is 5"
    );
    assert!(
        verify(&without(&[5])).is_intact(),
        "the newest entry is not covered"
    );

    let mut swapped = entries.clone();
    swapped.swap(1, 2);
    assert_eq!(
        verify(&swapped).first_break,
        Some(ChainBreak::MissingEntry {
            expected_seq: 2,
            found_seq: 3
        }),
        "fed out of order, entry 2 is not where it should be"
    );
}

#[test]
fn first_entry_must_start_from_genesis() {
    let mut entries = chain(2);
    entries[0] = AuditEntry::chain(1, &"f".repeat(64), &entries[0].record);
    let broken = verify(&entries).first_break.unwrap();
    assert_eq!(broken, ChainBreak::PrevHashMismatch { seq: 1 });
    assert!(broken.to_string().contains("genesis"), "{broken}");
}

#[test]
fn checking_stops_at_the_first_break() {
    let mut entries = chain(4);
    entries[1].record.action = "edited".into();
    entries[3].record.action = "edited too".into();
    let mut verifier = ChainVerifier::new();
    assert!(!verifier.check_all(&entries));
    assert!(verifier.is_broken());
    assert!(
        !verifier.check(&entries[0]),
        "a broken verifier stays broken"
    );
    let report = verifier.finish();
    assert_eq!(
        report.first_break,
        Some(ChainBreak::HashMismatch { seq: 2 })
    );
    assert_eq!(report.checked, 1);
}

#[test]
fn duplicated_entry_is_out_of_order() {
    let entries = chain(3);
    let duplicated = [entries[0].clone(), entries[1].clone(), entries[1].clone()];
    assert_eq!(
        verify(&duplicated).first_break,
        Some(ChainBreak::OutOfOrder {
            expected_seq: 3,
            found_seq: 2
        })
    );
}

/// The checkpoint of entry `seq` of `entries` (its signature does not matter here).
fn checkpoint_of(entries: &[AuditEntry], seq: usize) -> Checkpoint {
    let entry = &entries[seq - 1];
    Checkpoint {
        seq: entry.seq,
        hash: entry.hash.clone(),
        at: entry.record.at,
        key_id: "0123456789abcdef".into(),
    }
}

fn verify_reaching(entries: &[AuditEntry], checkpoint: &Checkpoint) -> VerifyReport {
    let mut verifier = ChainVerifier::reaching(checkpoint);
    verifier.check_all(entries);
    verifier.finish()
}

#[test]
fn a_chain_reaching_its_checkpoint_verifies_however_far_it_grew() {
    let entries = chain(6);
    for seq in [1, 4, 6] {
        let report = verify_reaching(&entries, &checkpoint_of(&entries, seq));
        assert!(report.is_intact(), "checkpoint at {seq}: {report:?}");
        assert_eq!(report.checked, 6);
    }
}

#[test]
fn deleting_the_newest_entries_is_named_against_a_checkpoint() {
    let entries = chain(6);
    let checkpoint = checkpoint_of(&entries, 6);
    assert!(
        verify(&entries[..4]).is_intact(),
        "the chain alone cannot tell"
    );
    let report = verify_reaching(&entries[..4], &checkpoint);
    let missing = ChainBreak::MissingTail {
        last_seq: 4,
        checkpoint_seq: 6,
    };
    assert_eq!(report.first_break, Some(missing.clone()));
    assert_eq!((report.checked, report.last_seq), (4, Some(4)));
    assert_eq!(missing.seq(), 5);
    assert_eq!(
        missing.to_string(),
        "audit entries after seq 4 up to the checkpoint's seq 6 are missing: the newest \
         entries were deleted"
    );
    let emptied = verify_reaching(&[], &checkpoint);
    assert_eq!(
        emptied.first_break,
        Some(ChainBreak::MissingTail {
            last_seq: 0,
            checkpoint_seq: 6
        })
    );
}

#[test]
fn entries_appended_in_place_of_deleted_ones_do_not_match_the_checkpoint() {
    let entries = chain(6);
    let checkpoint = checkpoint_of(&entries, 6);
    // Entries 5 and 6 deleted, then three others appended: a valid chain of 7.
    let mut replaced = entries[..4].to_vec();
    for seq in 5..=7 {
        let prev = replaced.last().unwrap().hash.clone();
        replaced.push(AuditEntry::chain(seq, &prev, &record("later")));
    }
    assert!(verify(&replaced).is_intact());
    let report = verify_reaching(&replaced, &checkpoint);
    assert_eq!(
        report.first_break,
        Some(ChainBreak::CheckpointMismatch { seq: 6 })
    );
    assert_eq!(report.checked, 5);
}

#[test]
fn a_break_before_the_checkpoint_is_reported_as_itself() {
    let entries = chain(6);
    let mut gap = entries.clone();
    gap.remove(2);
    let report = verify_reaching(&gap, &checkpoint_of(&entries, 6));
    assert_eq!(
        report.first_break,
        Some(ChainBreak::MissingEntry {
            expected_seq: 3,
            found_seq: 4
        })
    );
}
