//! `opsdeck audit verify`: walks the hash chain; exit code 1 and the first broken entry
//! when an entry was edited, deleted or inserted.

use std::process::ExitCode;

use opsdeck_core::Store;
use opsdeck_core::audit::verify_chain;

pub async fn verify(store: &dyn Store) -> anyhow::Result<ExitCode> {
    let report = verify_chain(store, 1000).await?;
    match report.first_break {
        None => {
            eprintln!(
                "audit log intact: {} entries checked{}",
                report.checked,
                report
                    .last_seq
                    .map(|s| format!(", last seq {s}"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            eprintln!("audit log BROKEN: {broken}");
            eprintln!("({} entries checked before the break)", report.checked);
            Ok(ExitCode::FAILURE)
        }
    }
}
