//! Pages of SPEC §7 whose features come in later issues (Tenants). They exist
//! so the navigation is complete and the route table already guards them, and they say
//! plainly that nothing is there yet rather than showing invented data.

use askama::Template;

use super::Page;
use super::shell::{Section, Shell};

#[derive(Template)]
#[template(path = "not_yet.html")]
struct NotYetPage {
    shell: Shell,
    title: &'static str,
    what: &'static str,
}

fn not_yet(shell: Shell, section: Section, what: &'static str) -> Page<impl Template> {
    Page::new(NotYetPage {
        shell: shell.at(section),
        title: section.label(),
        what,
    })
}

/// `GET /tenants`.
pub async fn show_tenants(shell: Shell) -> Page<impl Template> {
    not_yet(
        shell,
        Section::Tenants,
        "Tenant diagnostics (usage, recent errors, audit highlights, impersonation)",
    )
}
