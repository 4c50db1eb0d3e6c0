//! The overview's cron widget: how many monitors are in each status, the failing and late
//! ones with their error snippet, and the runs expected next. Built from the counts by
//! status and two short lists, never from every monitor (the overview gives it a time
//! budget; see `overview.rs`).

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{MonitorCounts, MonitorFilter, MonitorStatus};

use super::list::{StatusCount, TRIAGE_ORDER};
use super::{MonitorRow, monitor_class};
use crate::error::ApiError;
use crate::ops::Caller;
use crate::ops::cron::{self, MonitorView};
use crate::state::AppState;
use crate::web::format;

/// Failing and late monitors listed by name; the rest are a link away.
const FAILING_SHOWN: usize = 8;
/// Next expected runs listed.
const NEXT_SHOWN: usize = 5;

/// A run expected soon.
#[derive(Debug, Clone)]
pub struct NextRun {
    pub name: String,
    pub href: String,
    /// `in 4 min`.
    pub when: String,
    pub at: String,
}

/// What the widget shows.
#[derive(Debug, Clone)]
pub struct CronWidget {
    pub total: usize,
    pub counts: Vec<StatusCount>,
    /// Down, then late monitors.
    pub failing: Vec<MonitorRow>,
    /// Failing and late monitors beyond those listed.
    pub more_failing: usize,
    pub next: Vec<NextRun>,
}

impl CronWidget {
    /// The widget from the counts by status, the failing monitors (down first, then late,
    /// as listed) and the monitors expected next.
    pub fn new(
        counts: &MonitorCounts,
        failing: &[MonitorView],
        upcoming: &[MonitorView],
        now: DateTime<Utc>,
    ) -> Self {
        let counts_shown = TRIAGE_ORDER
            .into_iter()
            .map(|status| StatusCount {
                word: status.as_str(),
                class: monitor_class(status.as_str()),
                count: counts.get(status),
                href: format!("/cron?status={status}"),
                current: false,
            })
            .collect();
        let failing_total = counts.get(MonitorStatus::Down) + counts.get(MonitorStatus::Late);
        let failing: Vec<MonitorRow> = failing
            .iter()
            .take(FAILING_SHOWN)
            .map(|v| MonitorRow::new(v, now))
            .collect();
        let more_failing = usize::try_from(failing_total)
            .unwrap_or(usize::MAX)
            .saturating_sub(failing.len());
        let next = upcoming
            .iter()
            .take(NEXT_SHOWN)
            .filter_map(|v| Some((v.next_expected_at?, v)))
            .map(|(at, v)| NextRun {
                name: v.name.clone(),
                href: format!("/cron/{}", v.slug),
                when: format!("in {}", format::ago(now, at)),
                at: format::time(at),
            })
            .collect();
        Self {
            total: usize::try_from(counts.total()).unwrap_or(usize::MAX),
            counts: counts_shown,
            failing,
            more_failing,
            next,
        }
    }
}

/// The widget as of `now`: the counts from the store's aggregate, the first down and late
/// monitors and those expected next, each a bounded read however many monitors exist.
pub async fn cron_widget(
    state: &AppState,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<CronWidget, ApiError> {
    let all = MonitorFilter::default();
    let limit = FAILING_SHOWN as u32;
    let with_status = |status| MonitorFilter {
        status: Some(status),
        ..MonitorFilter::default()
    };
    let (down, late) = (
        with_status(MonitorStatus::Down),
        with_status(MonitorStatus::Late),
    );
    let (counts, down, late, upcoming) = tokio::join!(
        cron::count_monitors(state, caller, &all),
        cron::list_monitors(state, caller, &down, None, limit),
        cron::list_monitors(state, caller, &late, None, limit),
        cron::upcoming_monitors(state, caller, NEXT_SHOWN),
    );
    let mut failing = down?.monitors;
    failing.extend(late?.monitors);
    Ok(CronWidget::new(&counts?, &failing, &upcoming?, now))
}
