//! `opsdeck audit verify`: walks the hash chain and, given a signed checkpoint, proves the
//! chain still reaches it; exit code 1 and what is wrong when an entry was edited, deleted
//! or inserted, or the checkpoint does not verify. `opsdeck audit public-key`: the public
//! key of this configuration's checkpoint key, for verifiers to pin.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use opsdeck_core::Store;
use opsdeck_core::audit::checkpoint::{PublicKey, Trust};
use opsdeck_core::audit::{SignedCheckpoint, VerifyReport, verify_chain, verify_chain_to};
use opsdeck_server::audit::checkpoint::{load_key, read_latest};
use opsdeck_server::config::Config;

/// Entries read per batch while walking the chain.
const BATCH: u32 = 1000;

/// What `audit verify` checks against.
#[derive(Debug, Default)]
pub struct VerifyArgs {
    /// A checkpoint file (its last line is used) or one checkpoint as JSON.
    pub checkpoint: Option<String>,
    /// Public keys the checkpoint must be signed with; empty trusts the embedded one.
    pub public_keys: Vec<String>,
}

pub async fn verify(store: &dyn Store, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let pinned = args
        .public_keys
        .iter()
        .map(String::as_str)
        .map(read_public_key)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Some(source) = &args.checkpoint else {
        let report = verify_chain(store, BATCH).await?;
        let code = print_report(&report, None);
        if report.is_intact() {
            eprintln!(
                "note: this proves the entries up to the newest one left, not that none were \
                 deleted after it; that is only provable against a signed checkpoint: pass \
                 --checkpoint FILE (the audit checkpoints opsdeck logs, appends to \
                 audit.checkpoint_file or sends to audit.checkpoint_webhook)"
            );
        }
        return Ok(code);
    };
    let signed = read_checkpoint(source)?;
    match signed.verify(&pinned) {
        Err(err) => {
            eprintln!("audit checkpoint REFUSED: {err}");
            return Ok(ExitCode::FAILURE);
        }
        Ok(Trust::Pinned) => eprintln!("checkpoint {signed}: signature verified, key pinned"),
        Ok(Trust::Embedded) => eprintln!(
            "checkpoint {signed}: signature verified with the public key it carries ({}).\n\
             warning: anyone can sign with some key; pin the key that signs your checkpoints \
             with --public-key (`opsdeck audit public-key` prints it)",
            signed.public_key
        ),
    }
    let report = verify_chain_to(store, BATCH, &signed.checkpoint).await?;
    Ok(print_report(&report, Some(&signed)))
}

fn print_report(report: &VerifyReport, checkpoint: Option<&SignedCheckpoint>) -> ExitCode {
    match &report.first_break {
        None => {
            let reaches = checkpoint
                .map(|c| format!("; it reaches the checkpoint's seq {}", c.checkpoint.seq))
                .unwrap_or_default();
            eprintln!(
                "audit log intact: {} entries checked{}{reaches}",
                report.checked,
                report
                    .last_seq
                    .map(|s| format!(", last seq {s}"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Some(broken) => {
            eprintln!("audit log BROKEN: {broken}");
            eprintln!("({} entries checked before the break)", report.checked);
            ExitCode::FAILURE
        }
    }
}

/// One checkpoint as JSON, or the last of a file of them.
fn read_checkpoint(source: &str) -> anyhow::Result<SignedCheckpoint> {
    if source.trim_start().starts_with('{') {
        return SignedCheckpoint::from_json(source).context("--checkpoint");
    }
    let path = Path::new(source);
    read_latest(path)?.with_context(|| {
        format!(
            "--checkpoint {}: no checkpoint there (the file is missing or empty)",
            path.display()
        )
    })
}

/// A public key as text, or a file holding one (such as `openssl pkey -pubout`'s PEM).
fn read_public_key(text: &str) -> anyhow::Result<PublicKey> {
    if let Ok(key) = PublicKey::parse(text) {
        return Ok(key);
    }
    let path = Path::new(text);
    if path.is_file() {
        let contents = std::fs::read_to_string(path)
            .with_context(|| format!("--public-key {}", path.display()))?;
        return PublicKey::parse(&contents)
            .with_context(|| format!("--public-key {}", path.display()));
    }
    PublicKey::parse(text).context("--public-key")
}

/// Prints the public key (the only line on stdout) and its id; never generates a key.
pub fn public_key(config: &Config) -> anyhow::Result<ExitCode> {
    let (key, source) = load_key(&config.audit, false)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", key.public_key())?;
    eprintln!("key id {} (from {source})", key.public_key().id());
    Ok(ExitCode::SUCCESS)
}
