//! `GET /tokens` (admin): personal tokens and ingest keys, as `GET /ops/tokens` lists them:
//! name, grant, the first characters of the secret, and their life. Never a secret or a
//! hash: those are shown once, at creation, and only to whoever created the token.

use askama::Template;
use axum::extract::State;
use chrono::{DateTime, Utc};

use super::Page;
use super::format;
use super::shell::{Section, Shell};
use crate::error::ApiError;
use crate::middleware::client::BaseUrl;
use crate::ops::Caller;
use crate::ops::tokens::{TokenView, list_tokens};
use crate::state::AppState;

struct Row {
    id: String,
    kind: &'static str,
    name: String,
    /// The role of a personal token, or the scopes of an ingest key.
    grant: String,
    display: String,
    created: String,
    created_by: String,
    expires: String,
    last_used: String,
    /// `active`, `revoked` or `expired`.
    state: &'static str,
}

impl Row {
    fn new(view: TokenView, now: DateTime<Utc>) -> Self {
        let optional = |at: Option<DateTime<Utc>>, none: &str| {
            at.map_or_else(|| none.to_owned(), format::time)
        };
        let state = view.state();
        Self {
            id: view.id.to_string(),
            kind: if view.kind == "personal" {
                "personal token"
            } else {
                "ingest key"
            },
            name: view.name,
            grant: view.role.unwrap_or_else(|| view.scopes.join(", ")),
            display: view.display,
            created: format::time(view.created_at),
            created_by: view.created_by.unwrap_or_default(),
            expires: optional(view.expires_at, "never"),
            last_used: view.last_used_at.map_or_else(
                || "never".to_owned(),
                |at| format!("{} ago", format::ago(at, now)),
            ),
            state,
        }
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    shell: Shell,
    rows: Vec<Row>,
    active: usize,
    /// Where the browser reached opsdeck, so the commands shown work as pasted.
    base: String,
}

/// `GET /tokens`.
pub async fn show_tokens(
    State(state): State<AppState>,
    shell: Shell,
    caller: Caller,
    BaseUrl(base): BaseUrl,
) -> Result<Page<impl Template>, ApiError> {
    let now = state.clock().now();
    let rows: Vec<Row> = list_tokens(state.ops(), &caller)
        .await?
        .into_iter()
        .map(|view| Row::new(view, now))
        .collect();
    Ok(Page::new(TokensPage {
        shell: shell.at(Section::Tokens),
        active: rows.iter().filter(|r| r.state == "active").count(),
        rows,
        base,
    }))
}
