//! `GET /queues`: every source with its status (a source that does not answer is shown
//! stale, with its error and since when, never as empty) and every queue of every source
//! with its counts by state, backlog, oldest waiting job, failures in the last hour and
//! whether it is paused. Served from the view in memory: it never waits on a source.

use askama::Template;
use axum::extract::State;

use super::{QueueRow, SourceRow};
use crate::error::ApiError;
use crate::ops::Caller;
use crate::ops::queues;
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

/// A source with its queues.
#[derive(Debug, Clone)]
pub struct SourceBlock {
    pub source: SourceRow,
    pub queues: Vec<QueueRow>,
}

#[derive(Debug, Template)]
#[template(path = "queues.html")]
pub struct QueuesPage {
    shell: Shell,
    at: String,
    blocks: Vec<SourceBlock>,
    queues: usize,
    stale: usize,
}

/// `GET /queues`.
pub async fn show_queues(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
) -> Result<Page<QueuesPage>, ApiError> {
    let overview = queues::list_queues(&state, &caller)?;
    let now = state.clock().now();
    let blocks: Vec<SourceBlock> = overview
        .sources
        .iter()
        .map(|source| SourceBlock {
            source: SourceRow::new(source, now),
            queues: overview
                .queues
                .iter()
                .filter(|q| q.source == source.name)
                .map(|q| QueueRow::new(q, now))
                .collect(),
        })
        .collect();
    Ok(Page::new(QueuesPage {
        shell: shell.at(Section::Queues),
        at: format::time(now),
        queues: overview.queues.len(),
        stale: blocks.iter().filter(|b| b.source.stale).count(),
        blocks,
    }))
}
