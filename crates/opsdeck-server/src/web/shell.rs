//! The frame of every signed-in page: who is signed in, the session's CSRF token for the
//! forms on the page, and the navigation. A section is linked only when the principal's role
//! may open it, and that is read from the route table itself, so the menu cannot offer a
//! page the server would refuse (nor hide one it would serve).

use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use opsdeck_core::auth::{Permission, Role};

use crate::auth::Authenticated;
use crate::auth::session::SessionContext;
use crate::error::ApiError;
use crate::router::{Access, Kind};

/// The pages of SPEC §7, in menu order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Health,
    Cron,
    Queues,
    Tenants,
    Alerts,
    Audit,
    Tokens,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Overview,
        Section::Health,
        Section::Cron,
        Section::Queues,
        Section::Tenants,
        Section::Alerts,
        Section::Audit,
        Section::Tokens,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Health => "Health",
            Section::Cron => "Cron",
            Section::Queues => "Queues",
            Section::Tenants => "Tenants",
            Section::Alerts => "Alerts",
            Section::Audit => "Audit log",
            Section::Tokens => "Tokens and keys",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Section::Overview => "/",
            Section::Health => "/health",
            Section::Cron => "/cron",
            Section::Queues => "/queues",
            Section::Tenants => "/tenants",
            Section::Alerts => "/alerts",
            Section::Audit => "/audit",
            Section::Tokens => "/tokens",
        }
    }
}

/// What each section's page requires, as the route table declares it; a section whose page
/// is not served is absent.
static SECTION_ACCESS: LazyLock<Vec<(Section, Permission)>> = LazyLock::new(|| {
    let table = crate::router::route_table();
    Section::ALL
        .into_iter()
        .filter_map(|section| {
            table
                .routes()
                .iter()
                .find(|r| {
                    r.kind == Kind::Html
                        && r.method == axum::http::Method::GET
                        && r.path == section.href()
                })
                .and_then(|r| match r.access {
                    Access::Requires(permission) => Some((section, permission)),
                    Access::Public | Access::ScrapeToken | Access::Ingest(_) => None,
                })
        })
        .collect()
});

/// Whether `role` may open the page of `section`.
pub fn may_open(role: Role, section: Section) -> bool {
    SECTION_ACCESS
        .iter()
        .any(|(s, permission)| *s == section && role.allows(*permission))
}

/// One entry of the menu.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The signed-in frame of a page; an extractor, valid on routes that require a principal.
#[derive(Debug, Clone)]
pub struct Shell {
    pub name: String,
    pub role: Role,
    /// The session's CSRF token for the page's forms; `None` for a bearer-token caller,
    /// whose requests carry no cookie to forge.
    pub csrf: Option<String>,
    pub nav: Vec<NavLink>,
    /// Since when opsdeck's own database has been unreachable, during an outage.
    pub database_down: Option<DateTime<Utc>>,
}

impl Shell {
    /// The outage banner's time, e.g. `2026-12-07 18:58:49 UTC`.
    pub fn database_down_since(&self) -> String {
        self.database_down
            .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default()
    }

    /// Marks `section` as the page shown.
    pub fn at(mut self, section: Section) -> Self {
        for link in &mut self.nav {
            link.current = link.href == section.href();
        }
        self
    }

    /// Whether the principal may use actions that need `permission` (buttons a role may not
    /// use are not shown; the route table refuses them anyway).
    pub fn may(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// The page of tenant `id` when the principal may open tenant pages (support, admin),
    /// else empty: other roles see the id as text, not a link they would be refused.
    pub fn tenant_href(&self, id: &str) -> String {
        if id.is_empty() || !may_open(self.role, Section::Tenants) {
            return String::new();
        }
        super::tenants::tenant_href(id)
    }

    pub fn csrf_token(&self) -> &str {
        self.csrf.as_deref().unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Shell {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(principal) = parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        let csrf = parts
            .extensions
            .get::<SessionContext>()
            .map(|s| s.csrf().to_owned());
        let nav = Section::ALL
            .into_iter()
            .filter(|section| may_open(principal.role, *section))
            .map(|section| NavLink {
                label: section.label(),
                href: section.href(),
                current: false,
            })
            .collect();
        let database_down = parts
            .extensions
            .get::<crate::middleware::outage::DatabaseDown>()
            .map(|down| down.since);
        Ok(Self {
            name: principal.name,
            role: principal.role,
            csrf,
            nav,
            database_down,
        })
    }
}
