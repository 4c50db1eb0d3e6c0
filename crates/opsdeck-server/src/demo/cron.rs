//! The demo's cron monitors (issue 5 item 12): jobs with days of history, so the cron pages,
//! the overview widget and `/metrics` have something true to show at once: three jobs up
//! with runs of varying length, one late, one failing with its error and log, one paused,
//! one running.
//!
//! The history is written the way real pings are: each signal goes through
//! [`apply_ping`] at its past instant and the steps are committed with
//! [`CronStore::apply_outcomes`](opsdeck_core::CronStore::apply_outcomes), all in one
//! transaction, so the state, the run table and the streaks agree as if the jobs had
//! really run, and the demo starts in a blink instead of waiting for time to pass.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{
    MonitorSource, MonitorSpec, MonitorState, Ping, PingKind, RunSource, Schedule, StateWrite,
    apply_ping,
};
use opsdeck_core::{Store, StoreError};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::MonitorDefinition;

/// How far back the oldest demo monitor was created.
const HISTORY_DAYS: i64 = 15;

/// One demo monitor: its definition, its signals oldest first, and whether it ends paused.
struct DemoMonitor {
    definition: Value,
    signals: Vec<(DateTime<Utc>, Ping)>,
    paused: bool,
}

/// How a demo run ends.
enum End {
    /// Exit status 0 with this output.
    Ok(&'static str),
    /// This exit status with this output (its tail becomes the error snippet).
    Failed(u8, &'static str),
    /// Not yet: the run is still going.
    Running,
}

/// The signals of one run: a start and its finish paired by a run id, like
/// `opsdeck exec` sends them. The finish never lies in the future.
fn run(
    signals: &mut Vec<(DateTime<Utc>, Ping)>,
    source: RunSource,
    start: DateTime<Utc>,
    took: Duration,
    end: End,
    now: DateTime<Utc>,
) {
    if start > now {
        return;
    }
    let rid = Uuid::new_v4();
    signals.push((start, Ping::new(PingKind::Start, source).with_rid(rid)));
    let finish = (start + chrono::Duration::from_std(took).unwrap_or_default()).min(now);
    let (code, output) = match end {
        End::Ok(output) => (0, output),
        End::Failed(code, output) => (code, output),
        End::Running => return,
    };
    let ping = Ping::new(PingKind::Exit(code), source).with_rid(rid);
    signals.push((finish, ping.with_body(output)));
}

/// A spread of `base` plus up to `spread` seconds that differs from run to run but not
/// from demo to demo.
fn varied(i: u32, base: u64, spread: u64) -> Duration {
    let wobble = u64::from(i.wrapping_mul(2_654_435_761) >> 7) % spread.max(1);
    Duration::from_secs(base + wobble)
}

/// The slots of `expr` (in `tz`) from `days` ago up to `now`.
fn slots(expr: &str, tz: Option<&str>, days: i64, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Ok(schedule) = Schedule::cron(expr, tz) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut at = now - chrono::Duration::days(days);
    while let Some(next) = schedule.next_after(at).filter(|next| *next <= now) {
        out.push(next);
        at = next;
    }
    out
}

const BACKUP_LOG: &str = "pg_dump: dumping database \"app\"\n\
    pg_dump: 2.4 GB written to /var/backups/app.dump\n\
    upload: s3://acme-backups/app/latest.dump (2.4 GB) done\n";

const INVOICE_ERROR: &str = "Generating invoices for 1284 accounts\n\
    Fetched 1284 accounts from billing\n\
    Rendering PDFs: 1284/1284\n\
    Charging cards in batches of 100\n\
    Traceback (most recent call last):\n  \
    File \"/app/jobs/invoices.py\", line 88, in run\n    \
    gateway.charge(batch)\n  \
    File \"/app/billing/gateway.py\", line 142, in charge\n    \
    raise GatewayTimeout(self.url, self.timeout)\n\
    billing.gateway.GatewayTimeout: payment gateway did not answer within 30s (POST /v1/charges)\n";

fn monitors(now: DateTime<Utc>) -> Vec<DemoMonitor> {
    let minutes = |m: i64| chrono::Duration::minutes(m);
    let hours = |h: i64| chrono::Duration::hours(h);

    let mut backup = Vec::new();
    for (i, slot) in (0..).zip(slots("30 2 * * *", Some("Europe/Berlin"), 14, now)) {
        let took = varied(i, 9 * 60, 7 * 60);
        run(
            &mut backup,
            RunSource::Exec,
            slot,
            took,
            End::Ok(BACKUP_LOG),
            now,
        );
    }
    let mut sync = Vec::new();
    for (i, slot) in (0..).zip(slots("*/15 * * * *", None, 1, now)) {
        let took = varied(i, 20, 50);
        run(&mut sync, RunSource::Ping, slot, took, End::Ok(""), now);
    }
    let mut digests = Vec::new();
    for (i, slot) in (0..).zip(slots("0 * * * *", None, 3, now)) {
        let took = varied(i, 30, 150);
        let log = End::Ok("queued 412 digests\nsent 412 digests\n");
        run(&mut digests, RunSource::Ping, slot, took, log, now);
    }
    // Every six hours, the last one 6 h 40 min ago: expected 40 minutes ago, within grace.
    let mut import = Vec::new();
    for i in (0..28).rev() {
        let took = varied(i, 18 * 60, 12 * 60);
        let took_chrono = chrono::Duration::from_std(took).unwrap_or_default();
        let start = now - hours(6 * i64::from(i)) - hours(6) - minutes(40) - took_chrono;
        run(
            &mut import,
            RunSource::Ping,
            start,
            took,
            End::Ok("imported 3 tables\n"),
            now,
        );
    }
    // Hourly; the gateway started timing out three runs ago.
    let mut invoices = Vec::new();
    let invoice_slots = slots("5 * * * *", None, 2, now);
    let failing_from = invoice_slots.len().saturating_sub(3);
    for (i, slot) in (0..).zip(&invoice_slots) {
        let failing = usize::try_from(i).is_ok_and(|i| i >= failing_from);
        let (took, end) = if failing {
            (varied(i, 35, 10), End::Failed(1, INVOICE_ERROR))
        } else {
            (varied(i, 60, 90), End::Ok("charged 1284 accounts\n"))
        };
        run(&mut invoices, RunSource::Ping, *slot, took, end, now);
    }
    let mut cleanup = Vec::new();
    for (i, slot) in (0..).zip(slots("0 4 * * *", None, 10, now)) {
        let took = varied(i, 60, 60);
        run(
            &mut cleanup,
            RunSource::Ping,
            slot,
            took,
            End::Ok("removed old rows\n"),
            now,
        );
    }
    // Daily, the latest started 12 minutes ago and still going.
    let mut vacuum = Vec::new();
    for i in (0..7).rev() {
        let start = now - hours(24 * i64::from(i)) - minutes(12);
        let end = if i == 0 {
            End::Running
        } else {
            End::Ok("VACUUM ANALYZE done\n")
        };
        run(
            &mut vacuum,
            RunSource::Ping,
            start,
            varied(i, 35 * 60, 15 * 60),
            end,
            now,
        );
    }

    vec![
        DemoMonitor {
            definition: json!({"slug": "nightly-backup", "name": "Nightly database backup",
                "schedule": "30 2 * * *", "tz": "Europe/Berlin", "grace": "30m",
                "max_runtime": "2h", "tags": ["backup", "db"]}),
            signals: backup,
            paused: false,
        },
        DemoMonitor {
            definition: json!({"slug": "sync-users", "name": "Sync users from the CRM",
                "schedule": "*/15 * * * *", "max_runtime": "10m", "tags": ["crm"]}),
            signals: sync,
            paused: false,
        },
        DemoMonitor {
            definition: json!({"slug": "send-digests", "name": "Send e-mail digests",
                "schedule": "0 * * * *", "max_runtime": "15m", "tags": ["email"]}),
            signals: digests,
            paused: false,
        },
        DemoMonitor {
            definition: json!({"slug": "warehouse-import", "name": "Warehouse import for acme",
                "interval": "6h", "grace": "3h", "max_runtime": "1h", "tags": ["etl"],
                "tenant_id": "acme"}),
            signals: import,
            paused: false,
        },
        DemoMonitor {
            definition: json!({"slug": "invoice-run", "name": "Hourly invoice run for globex",
                "schedule": "5 * * * *", "max_runtime": "20m", "failure_threshold": 2,
                "tags": ["billing"], "tenant_id": "globex"}),
            signals: invoices,
            paused: false,
        },
        DemoMonitor {
            definition: json!({"slug": "legacy-cleanup", "name": "Legacy table cleanup",
                "schedule": "0 4 * * *", "tags": ["db"]}),
            signals: cleanup,
            paused: true,
        },
        DemoMonitor {
            definition: json!({"slug": "db-vacuum", "name": "Vacuum the database",
                "interval": "1d", "grace": "1h", "max_runtime": "3h", "tags": ["db"]}),
            signals: vacuum,
            paused: false,
        },
    ]
}

/// Creates the demo monitors with their history. On the demo's own database, monitors
/// left by an earlier demo are replaced, so their history ends now; on a database the
/// user named, an existing monitor of the same slug is left alone.
pub async fn seed(store: &dyn Store, now: DateTime<Utc>, replace: bool) -> anyhow::Result<()> {
    let created_at = now - chrono::Duration::days(HISTORY_DAYS);
    let mut to_pause = Vec::new();
    for monitor in monitors(now) {
        let definition: MonitorDefinition = serde_json::from_value(monitor.definition)?;
        let spec = definition.to_spec().map_err(|problems| {
            anyhow::anyhow!("demo monitor {}: {problems:?}", definition.slug)
        })?;
        if store.get_monitor(spec.slug()).await?.is_some() {
            if !replace {
                continue;
            }
            store.delete_monitor(spec.slug()).await?;
        }
        seed_one(store, &spec, &monitor.signals, created_at).await?;
        if monitor.paused {
            to_pause.push(spec.slug().clone());
        }
    }
    for slug in to_pause {
        store.set_monitor_paused(&slug, true, now).await?;
    }
    Ok(())
}

/// Times one demo monitor is made before its history is given up on.
const SEED_ATTEMPTS: u32 = 3;

/// Creates one demo monitor and writes its history. A server already running judges a
/// monitor made days in the past at once, and a history chained from the version created
/// then conflicts with that judgement: the monitor is made again, a few times at most.
async fn seed_one(
    store: &dyn Store,
    spec: &MonitorSpec,
    signals: &[(DateTime<Utc>, Ping)],
    created_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    for attempt in 1..=SEED_ATTEMPTS {
        let record = store
            .create_monitor(spec, MonitorSource::Api, created_at)
            .await?;
        let writes = history(spec, record.state, record.version, signals.to_vec());
        if writes.is_empty() {
            return Ok(());
        }
        let results = store.apply_outcomes(&writes).await?;
        match results.into_iter().find_map(Result::err) {
            None => return Ok(()),
            Some(StoreError::Conflict(_)) if attempt < SEED_ATTEMPTS => {
                store.delete_monitor(spec.slug()).await?;
            }
            Some(err) => anyhow::bail!("demo history of {}: {err}", spec.slug()),
        }
    }
    Ok(())
}

/// The steps of `signals`, chained: each names the version the previous one makes.
fn history(
    spec: &MonitorSpec,
    mut state: MonitorState,
    version: u64,
    signals: Vec<(DateTime<Utc>, Ping)>,
) -> Vec<StateWrite> {
    (version..)
        .zip(signals)
        .map(|(version, (at, ping))| {
            let outcome = apply_ping(spec, &mut state, &ping, at);
            StateWrite {
                slug: spec.slug().clone(),
                version,
                next_check_at: state.next_check_at(spec, at),
                state: state.clone(),
                outcome,
                now: at,
            }
        })
        .collect()
}
