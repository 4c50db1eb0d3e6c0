//! The overview's queue widget: the backlog and failures across every queue, the oldest
//! waiting job, the stale sources with their error, and the queues that need a look first.
//! Read from the view in memory, so it costs the overview nothing.

use chrono::{DateTime, Utc};

use super::{QueueRow, SourceRow, age};
use crate::error::ApiError;
use crate::ops::Caller;
use crate::ops::queues::{self, QueueView};
use crate::state::AppState;

/// Queues listed by name in the widget; the rest are a link away.
const QUEUES_SHOWN: usize = 5;

/// What the widget shows.
#[derive(Debug, Clone)]
pub struct QueueWidget {
    pub sources: usize,
    pub queues: usize,
    pub backlog: u64,
    /// The oldest waiting job of any queue, and where.
    pub oldest: Option<(String, String)>,
    pub failures: u64,
    pub stale: Vec<SourceRow>,
    /// The queues with the most failures, then the largest backlog.
    pub top: Vec<QueueRow>,
}

impl QueueWidget {
    fn new(overview: &queues::QueuesOverview, now: DateTime<Utc>) -> Self {
        let oldest = overview
            .queues
            .iter()
            .filter_map(|q| q.oldest_waiting_seconds.map(|s| (s, q)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(s, q)| (age(s), format!("{}/{}", q.source, q.queue)));
        let mut ranked: Vec<&QueueView> = overview.queues.iter().collect();
        ranked.sort_by_key(|q| std::cmp::Reverse((q.failures_last_hour.unwrap_or(0), q.backlog)));
        Self {
            sources: overview.sources.len(),
            queues: overview.queues.len(),
            backlog: overview.queues.iter().map(|q| q.backlog).sum(),
            oldest,
            failures: overview
                .queues
                .iter()
                .filter_map(|q| q.failures_last_hour)
                .sum(),
            stale: overview
                .sources
                .iter()
                .filter(|s| s.status == "stale")
                .map(|s| SourceRow::new(s, now))
                .collect(),
            top: ranked
                .into_iter()
                .take(QUEUES_SHOWN)
                .map(|q| QueueRow::new(q, now))
                .collect(),
        }
    }
}

/// The widget, from memory.
pub fn queue_widget(state: &AppState, caller: &Caller) -> Result<QueueWidget, ApiError> {
    let overview = queues::list_queues(state, caller)?;
    Ok(QueueWidget::new(&overview, state.clock().now()))
}
