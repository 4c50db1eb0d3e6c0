//! `GET /` (the overview): the service's status, a tile per health check, recent alerts and
//! the cron and queue widgets. `GET /overview/live` answers the refreshing part alone, which
//! the page's script swaps in every few seconds. Both render from the health monitor's
//! memory: the first byte never waits on a dependency or on a query per check.

use std::time::Duration;

use askama::Template;
use axum::extract::State;

use super::Page;
use super::alerts::{EventRow, recent_events};
use super::checks::Board;
use super::cron::widget::{CronWidget, cron_widget};
use super::queues::widget::{QueueWidget, queue_widget};
use super::shell::{Section, Shell};
use crate::ops::Caller;
use crate::state::AppState;

/// Seconds between refreshes of the live part (script), and of the whole page without it.
const REFRESH_SECONDS: u32 = 5;
const NOSCRIPT_REFRESH_SECONDS: u32 = 15;
/// The overview's queries, recent alerts and the cron widget's monitor list, run side by
/// side and get this long each: a slow database shows as a note in that box, never as a
/// slow page.
const ALERTS_BUDGET: Duration = Duration::from_millis(250);
const CRON_BUDGET: Duration = Duration::from_millis(250);

/// The part of the overview that refreshes: health from memory, alerts and the cron
/// widget from the store.
struct Live {
    board: Board,
    alerts: Result<Vec<EventRow>, &'static str>,
    cron: Result<CronWidget, &'static str>,
    /// From the queue view in memory.
    queues: Result<QueueWidget, &'static str>,
    /// Without webhooks no alert is sent, so none is listed: the page says so.
    webhooks: usize,
}

async fn live(state: &AppState, caller: &Caller) -> Live {
    let snapshot = state.health().snapshot();
    let (alerts, cron) = tokio::join!(
        tokio::time::timeout(ALERTS_BUDGET, recent_events(state, caller, snapshot.at)),
        tokio::time::timeout(CRON_BUDGET, cron_widget(state, caller, state.clock().now())),
    );
    let alerts = match alerts {
        Ok(Ok(events)) => Ok(events),
        Ok(Err(_)) => Err("Recent alerts could not be read from the database."),
        Err(_) => Err("Recent alerts are slow to load; the database is not answering quickly."),
    };
    let cron = match cron {
        Ok(Ok(widget)) => Ok(widget),
        Ok(Err(_)) => Err("Cron monitors could not be read from the database."),
        Err(_) => Err("Cron monitors are slow to load; the database is not answering quickly."),
    };
    Live {
        board: Board::new(&snapshot),
        alerts,
        cron,
        queues: queue_widget(state, caller).map_err(|_| "Queues could not be read."),
        webhooks: state.config().alerts.webhooks.len(),
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    shell: Shell,
    live: Live,
    refresh: u32,
    noscript_refresh: u32,
}

#[derive(Template)]
#[template(path = "overview_live_fragment.html")]
struct OverviewLive {
    live: Live,
}

/// `GET /`.
pub async fn show_overview(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
) -> Page<impl Template> {
    Page::new(OverviewPage {
        shell: shell.at(Section::Overview),
        live: live(&state, &caller).await,
        refresh: REFRESH_SECONDS,
        noscript_refresh: NOSCRIPT_REFRESH_SECONDS,
    })
}

/// `GET /overview/live`: the part of the overview that changes.
pub async fn show_overview_live(
    State(state): State<AppState>,
    caller: Caller,
) -> Page<impl Template> {
    Page::new(OverviewLive {
        live: live(&state, &caller).await,
    })
}
