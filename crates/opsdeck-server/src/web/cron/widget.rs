//! The overview's cron widget: how many monitors are in each status, the failing and late
//! ones with their error snippet, and the runs expected next. Built from one monitor list
//! (the overview gives it a time budget; see `overview.rs`).

use chrono::{DateTime, Utc};
use opsdeck_core::cron::MonitorFilter;

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
    pub fn new(views: &[MonitorView], now: DateTime<Utc>) -> Self {
        let counts = TRIAGE_ORDER
            .into_iter()
            .map(|status| StatusCount {
                word: status.as_str(),
                class: monitor_class(status.as_str()),
                count: views.iter().filter(|v| v.status == status.as_str()).count(),
                href: format!("/cron?status={status}"),
                current: false,
            })
            .collect();
        let mut failing: Vec<MonitorRow> = views
            .iter()
            .filter(|v| matches!(v.status.as_str(), "down" | "late"))
            .map(|v| MonitorRow::new(v, now))
            .collect();
        failing.sort_by(|a, b| (a.status != "down", &a.name).cmp(&(b.status != "down", &b.name)));
        let more_failing = failing.len().saturating_sub(FAILING_SHOWN);
        failing.truncate(FAILING_SHOWN);
        let mut upcoming: Vec<(DateTime<Utc>, &MonitorView)> = views
            .iter()
            .filter_map(|v| v.next_expected_at.filter(|at| *at > now).map(|at| (at, v)))
            .collect();
        upcoming.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
        let next = upcoming
            .into_iter()
            .take(NEXT_SHOWN)
            .map(|(at, v)| NextRun {
                name: v.name.clone(),
                href: format!("/cron/{}", v.slug),
                when: format!("in {}", format::ago(now, at)),
                at: format::time(at),
            })
            .collect();
        Self {
            total: views.len(),
            counts,
            failing,
            more_failing,
            next,
        }
    }
}

/// The widget from the store's monitor list, as of `now`.
pub async fn cron_widget(
    state: &AppState,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<CronWidget, ApiError> {
    let views = cron::list_monitors(state, caller, &MonitorFilter::default(), None).await?;
    Ok(CronWidget::new(&views, now))
}
