//! The HTTP scheduler (SPEC §4, issue 5 item 6): opsdeck fires the `[[cron.jobs]]` itself
//! and records each call as a run of the job's monitor (source `scheduler`), and
//! [`trigger`] fires one now for an operator.
//!
//! - **Every replica** runs the loop, every [`TICK`]; a slot fires on the replica whose
//!   [`claim_slot`] wins, a unique key in the database, so each slot fires exactly once
//!   however many replicas there are, and while any one of them is up. A leader lock alone
//!   could not promise that across a failover.
//! - **No history is replayed**: the loop starts from the time it starts. A loop that fell
//!   behind (a stalled process, a slow database) fires only the latest due slot and logs
//!   the ones it skipped: ten calls at once to catch up help no cron endpoint.
//! - **Each firing has its own task**, so a slow endpoint never delays another job's slot,
//!   and overlapping runs of one job each have their own run id. The tasks are the state's
//!   [`Firings`]: shutdown waits for their calls (abandoning those still going after the
//!   shutdown grace, as failed runs) before the ping writer stops, so no run it started is
//!   left `running`.
//! - **Paused** monitors are not fired (the flag is read from the store when a slot is
//!   due, so a pause on any replica counts at once); a **draining** replica fires nothing.
//! - The schedule is the configuration's: `[[cron.jobs]]` defines what is called and when.
//!
//! [`claim_slot`]: opsdeck_core::CronGuardStore::claim_slot
//! [`Firings`]: crate::cron::Firings

mod fire;
mod firings;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use opsdeck_core::cron::Schedule;
use opsdeck_core::ids::Slug;
use uuid::Uuid;

use self::fire::{Firer, http_client};
pub use self::firings::Firings;
use crate::background::Job;
use crate::config::JobRequest;
use crate::cron::ingest::IngestError;
use crate::state::AppState;

/// How often each replica looks for due slots: a job every second fires within this of
/// its slot.
pub const TICK: Duration = Duration::from_millis(250);

/// A cron schedule this many slots behind is not walked further to count the skipped
/// slots: the latest one is looked up directly.
const CATCH_UP_MAX: u64 = 1000;

/// Why [`trigger`] did not fire the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("no cron monitor has this slug")]
    NotFound,
    #[error(
        "this monitor is not an HTTP job opsdeck fires: only [[cron.jobs]] monitors can be triggered"
    )]
    NotAJob,
    /// The run could not be recorded (the database failed or opsdeck is stopping), so the
    /// job was not called: retry later.
    #[error("the run could not be recorded; retry later")]
    Unavailable,
}

/// Fires the HTTP job `slug` now, outside its schedule (no slot is claimed): answers the
/// new run's id once its start is committed, while the call goes on in a task of its own.
/// A paused job fires too: triggering is an operator's explicit decision. Once shutdown
/// drains the firings, nothing fires ([`TriggerError::Unavailable`]).
pub async fn trigger(state: &AppState, slug: &Slug) -> Result<Uuid, TriggerError> {
    let Some(job) = state
        .config()
        .cron
        .jobs
        .iter()
        .find(|job| job.monitor.slug == slug.as_str())
    else {
        return match state.store().get_monitor(slug).await {
            Ok(Some(_)) => Err(TriggerError::NotAJob),
            Ok(None) => Err(TriggerError::NotFound),
            Err(err) => {
                tracing::warn!(slug = %slug, error = %err, "could not look up a cron monitor to trigger");
                Err(TriggerError::Unavailable)
            }
        };
    };
    let firer = Firer {
        ingest: state.ingest().clone(),
        clock: state.clock().clone(),
        http: http_client().map_err(|err| {
            tracing::error!(error = %err, "could not build the HTTP client of the cron scheduler");
            TriggerError::Unavailable
        })?,
        abandoned: state.firings().abandoned().clone(),
    };
    let admitted = state.firings().admit().ok_or(TriggerError::Unavailable)?;
    let rid = firer.start(slug, None).await.map_err(|err| match err {
        // The job is configured but an admin deleted its monitor.
        IngestError::NotFound => TriggerError::NotFound,
        IngestError::Unavailable => TriggerError::Unavailable,
    })?;
    tracing::info!(slug = %slug, run_id = %rid, "HTTP cron job triggered");
    admitted.spawn(firer.finish(slug.clone(), Arc::new(job.request.clone()), rid, None));
    Ok(rid)
}

/// The loop: fires each configured job at its slots.
#[derive(Debug)]
pub struct SchedulerJob {
    state: AppState,
    firer: Firer,
    jobs: Vec<Scheduled>,
}

/// One configured job and how far the loop has handled it.
#[derive(Debug)]
struct Scheduled {
    slug: Slug,
    schedule: Schedule,
    request: Arc<JobRequest>,
    /// Slots up to this time are handled (fired, lost to another replica or skipped).
    handled: Mutex<DateTime<Utc>>,
}

impl SchedulerJob {
    /// The loop over the configured jobs, starting from now; `None` when there is none.
    pub fn new(state: &AppState) -> anyhow::Result<Option<Self>> {
        let now = state.clock().now();
        let mut jobs = Vec::new();
        for job in &state.config().cron.jobs {
            // Loading validated every job; this only guards configurations built in code.
            let spec = job.monitor.to_spec().map_err(|problems| {
                anyhow::anyhow!(
                    "cron job {}: {}",
                    job.monitor.slug,
                    problems
                        .iter()
                        .map(|(key, message)| format!("{key}: {message}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
            jobs.push(Scheduled {
                slug: spec.slug().clone(),
                schedule: spec.schedule().clone(),
                request: Arc::new(job.request.clone()),
                handled: Mutex::new(now),
            });
        }
        if jobs.is_empty() {
            return Ok(None);
        }
        let firer = Firer {
            ingest: state.ingest().clone(),
            clock: state.clock().clone(),
            http: http_client()?,
            abandoned: state.firings().abandoned().clone(),
        };
        Ok(Some(Self {
            state: state.clone(),
            firer,
            jobs,
        }))
    }

    /// Fires `job`'s latest due slot if this replica claims it. A failure leaves the slot
    /// unhandled, so the next tick tries again (until a newer slot supersedes it).
    async fn handle(&self, job: &Scheduled) -> anyhow::Result<()> {
        let now = self.state.clock().now();
        let after = *job.handled.lock().unwrap_or_else(|e| e.into_inner());
        let Some(due) = latest_due(&job.schedule, after, now) else {
            return Ok(());
        };
        if due.skipped > 0 {
            tracing::warn!(
                slug = %job.slug, skipped = due.skipped, slot = %due.slot,
                "cron scheduler fell behind: firing only the latest due slot, skipping older ones"
            );
        }
        let store = self.state.store();
        let fire = match store.get_monitor(&job.slug).await? {
            None => {
                tracing::debug!(slug = %job.slug, "cron job's monitor was deleted: not firing");
                None
            }
            Some(record) if record.spec.is_paused() => None,
            Some(_) if self.state.is_draining() => return Ok(()),
            Some(_) => {
                // Admitted before the claim: a slot claimed once shutdown drains the
                // firings would be neither fired here nor left to another replica.
                let Some(admitted) = self.state.firings().admit() else {
                    return Ok(());
                };
                store
                    .claim_slot(&job.slug, due.slot, self.state.instance().id, now)
                    .await?
                    .then_some(admitted)
            }
        };
        *job.handled.lock().unwrap_or_else(|e| e.into_inner()) = due.slot;
        if let Some(admitted) = fire {
            tracing::debug!(slug = %job.slug, slot = %due.slot, "firing HTTP cron job");
            admitted.spawn(fire_slot(
                self.firer.clone(),
                job.slug.clone(),
                job.request.clone(),
                due.slot,
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Job for SchedulerJob {
    async fn tick(&self) -> anyhow::Result<()> {
        let mut failed = None;
        for job in &self.jobs {
            if self.state.is_draining() {
                break;
            }
            // One job's failure must not hold back the others' slots.
            if let Err(err) = self.handle(job).await {
                failed.get_or_insert(err.context(format!("cron job {}", job.slug)));
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// One scheduled firing, in its own task.
async fn fire_slot(firer: Firer, slug: Slug, request: Arc<JobRequest>, slot: DateTime<Utc>) {
    match firer.start(&slug, Some(slot)).await {
        Ok(rid) => firer.finish(slug, request, rid, Some(slot)).await,
        Err(err) => tracing::warn!(
            slug = %slug, error = %err,
            "could not record the start of a scheduled HTTP cron job run; it was not called"
        ),
    }
}

/// The slot to fire and how many older due slots it supersedes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Due {
    slot: DateTime<Utc>,
    skipped: u64,
}

/// The latest fire time in `(after, now]`, if any.
fn latest_due(schedule: &Schedule, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<Due> {
    let first = schedule
        .next_fire_after(after)
        .filter(|first| *first <= now)?;
    match schedule {
        Schedule::Interval(every) => {
            // Slots are multiples of the interval since the epoch: the one after
            // `now - interval` is the last one at or before `now`.
            let step = TimeDelta::from_std(every.get()).ok()?;
            let slot = schedule
                .next_fire_after(now.checked_sub_signed(step)?)
                .filter(|slot| *slot >= first)?;
            let skipped = (slot - first).num_milliseconds() / step.num_milliseconds().max(1);
            Some(Due {
                slot,
                skipped: u64::try_from(skipped).unwrap_or(0),
            })
        }
        Schedule::Cron(cron) => {
            let mut due = Due {
                slot: first,
                skipped: 0,
            };
            while let Some(next) = schedule.next_fire_after(due.slot).filter(|n| *n <= now) {
                if due.skipped == CATCH_UP_MAX {
                    due.slot = cron
                        .last_at_or_before(now)
                        .filter(|last| *last > due.slot)
                        .unwrap_or(next);
                    break;
                }
                due = Due {
                    slot: next,
                    skipped: due.skipped + 1,
                };
            }
            Some(due)
        }
    }
}
