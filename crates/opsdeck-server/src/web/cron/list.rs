//! `GET /cron`: the monitors a page at a time, by slug, with their status, schedule, last
//! run, next expected run, failure streak and tags, the failing ones with their error
//! snippet. Filtered by status and tag and searched by slug or name on the server, through
//! the query string (a plain GET form, so it works without script); the counts per status
//! come from the store's aggregate, so a page costs the same with 100,000 monitors as with
//! ten.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use opsdeck_core::cron::{MonitorFilter, MonitorStatus};
use opsdeck_core::ids::Slug;
use serde::Deserialize;

use super::{MonitorRow, monitor_class};
use crate::error::ApiError;
use crate::extract::Query;
use crate::ops::Caller;
use crate::ops::cron;
use crate::state::AppState;
use crate::web::Page;
use crate::web::format;
use crate::web::shell::{Section, Shell};

/// The statuses in the order people triage them: what is broken first.
pub const TRIAGE_ORDER: [MonitorStatus; 6] = [
    MonitorStatus::Down,
    MonitorStatus::Late,
    MonitorStatus::Running,
    MonitorStatus::Up,
    MonitorStatus::Paused,
    MonitorStatus::New,
];

/// Monitors per page of the list.
const PAGE_SIZE: u32 = 100;

/// The filter form as submitted; an empty field means "any".
#[derive(Debug, Default, Deserialize)]
pub struct ListForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
    /// Text the slug or name contains.
    #[serde(default)]
    q: String,
    /// The slug the page starts after (the previous page's last).
    #[serde(default)]
    after: String,
    /// The slug of a monitor just deleted from its page, for the notice.
    #[serde(default)]
    deleted: String,
}

impl ListForm {
    /// The monitor just deleted, if the query names one.
    fn deleted(&self) -> Option<&str> {
        Slug::parse(&self.deleted)
            .ok()
            .map(|_| self.deleted.as_str())
    }

    /// Whether any condition narrows the list.
    fn narrows(&self) -> bool {
        !(self.status.trim().is_empty() && self.tag.trim().is_empty() && self.q.trim().is_empty())
    }

    /// `/cron` with this form's tag and text, a status, and where the page starts.
    fn link(&self, status: Option<&str>, after: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(status) = status.filter(|s| !s.is_empty()) {
            query.append_pair("status", status);
        }
        for (key, value) in [("tag", self.tag.trim()), ("q", self.q.trim())] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        if let Some(after) = after {
            query.append_pair("after", after);
        }
        let query = query.finish();
        if query.is_empty() {
            "/cron".to_owned()
        } else {
            format!("/cron?{query}")
        }
    }
}

/// How many monitors have one status, with the link that lists them.
#[derive(Debug, Clone)]
pub struct StatusCount {
    pub word: &'static str,
    pub class: &'static str,
    pub count: u64,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "cron.html")]
struct ListPage {
    shell: Shell,
    form: ListForm,
    counts: Vec<StatusCount>,
    /// Monitors the tag and text select, whatever their status.
    total: u64,
    /// The "all" link: the tag and text kept, the status dropped.
    all_href: String,
    rows: Vec<MonitorRow>,
    /// The next page, when there is one.
    next_href: Option<String>,
    /// The first page, when this is a later one.
    first_href: Option<String>,
    error: Option<String>,
    at: String,
}

/// `GET /cron`: a page of the monitors the form selects, by slug, with the counts by
/// status over all pages.
pub async fn show_monitors(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    Query(form): Query<ListForm>,
) -> Result<Page<impl Template>, ApiError> {
    let now = state.clock().now();
    let mut error = None;
    let status = match form.status.trim() {
        "" => None,
        text => text.parse::<MonitorStatus>().ok().or_else(|| {
            error =
                Some("Status: choose one of new, up, running, late, down or paused.".to_owned());
            None
        }),
    };
    let after = match form.after.trim() {
        "" => None,
        text => Slug::parse(text).ok().or_else(|| {
            error = Some("That page no longer exists: start from the first page.".to_owned());
            None
        }),
    };
    let text = |field: &str| Some(field.trim().to_owned()).filter(|t| !t.is_empty());
    let filter = MonitorFilter {
        status,
        tag: text(&form.tag),
        tenant_id: None,
        text: text(&form.q),
    };
    let any_status = filter.any_status();
    let (page, counts) = tokio::join!(
        cron::list_monitors(&state, &caller, &filter, after.as_ref(), PAGE_SIZE),
        cron::count_monitors(&state, &caller, &any_status),
    );
    let (page, counts) = (page?, counts?);
    let counts_shown = TRIAGE_ORDER
        .into_iter()
        .map(|s| StatusCount {
            word: s.as_str(),
            class: monitor_class(s.as_str()),
            count: counts.get(s),
            href: form.link(Some(s.as_str()), None),
            current: status == Some(s),
        })
        .collect();
    let rows = page
        .monitors
        .iter()
        .map(|v| MonitorRow::new(v, now))
        .collect();
    let status_word = status.map(MonitorStatus::as_str);
    let next_href = page
        .next
        .as_ref()
        .map(|slug| form.link(status_word, Some(slug.as_str())));
    let first_href = after.is_some().then(|| form.link(status_word, None));
    let code = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        shell: shell.at(Section::Cron),
        total: counts.total(),
        all_href: form.link(None, None),
        form,
        counts: counts_shown,
        rows,
        next_href,
        first_href,
        error,
        at: format::time(now),
    };
    Ok(Page::with_status(page, code))
}
