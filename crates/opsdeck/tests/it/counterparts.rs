//! Every guarded action of the JSON API has a counterpart for people — a dashboard form or
//! a command — that goes through the same use-case, so both ways in check the same
//! permission and write the same audit entry. [`COUNTERPARTS`] is the table. A static test
//! holds it equal to the guarded JSON actions the router serves (so a new API action
//! without a counterpart fails) and checks each form needs the API route's own permission;
//! a test on both backends calls every action both ways, each with a reason of its own, and
//! finds exactly one audit entry per call with the row's action, the same target and the
//! same outcome. Queue actions act on a `push` source (retries through the application's
//! webhook) and on a real BullMQ queue (discard, pause and resume, which a push source has
//! not). Impersonation acts on the tenant `acme`; its start form answers with the token's
//! page rather than a redirect.

mod calls;

use std::collections::BTreeSet;

use opsdeck_core::auth::Permission;
use opsdeck_core::queues::BulkAction;
use opsdeck_server::router::{Access, Kind, route_table};

use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use calls::World;

on_both_backends!(each_action_writes_one_entry_whichever_way_it_is_taken);

/// The way in for people.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// A dashboard form posted to `path` with `fields` (and a `reason`).
    Form {
        path: &'static str,
        fields: &'static [(&'static str, &'static str)],
    },
    /// `opsdeck <args> --reason …` on the same database.
    Command(&'static [&'static str]),
}

/// What an action acts on, set up afresh in the store (unaudited) before each call, so both
/// ways in find the same world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// The check of opsdeck's own database, always there: `{name}`.
    Check,
    /// No monitor `{slug}` yet: the call creates it.
    NoMonitor,
    /// The monitor `{slug}`, running.
    Monitor,
    /// The monitor `{slug}`, paused.
    PausedMonitor,
    /// The `[[cron.jobs]]` entry `{slug}`, whose URL is a local listener.
    Job,
    /// No token yet: the call creates one.
    NoToken,
    /// An active token `{id}`, minted for the call: a token is revoked once, so each way in
    /// revokes its own, and the targets of the two calls differ only by that id.
    Token,
    /// The failed job `{id}` of the push source's queue `{source}`/`{queue}`, whose retry
    /// webhook is a local listener.
    FailedJob,
    /// A dry run's selection `{id}` pinning that failed job for the action: a selection is
    /// used once, so each way in takes its own.
    Selection(BulkAction),
    /// A job `{id}` of the BullMQ source's queue, failed by a real BullMQ worker: a discard
    /// removes it, so each way in fails its own.
    BullJob,
    /// A selection `{id}` pinning such a job.
    BullSelection(BulkAction),
    /// The BullMQ queue, paused or running.
    BullQueue { paused: bool },
    /// The tenant `{id}`: the call starts an impersonation of one of its users.
    NoImpersonation,
    /// An active impersonation `{jti}` of the tenant `{id}`, recorded for the call: an
    /// impersonation ends once, so each way in ends its own.
    Impersonation,
}

/// One guarded JSON action and its counterpart.
#[derive(Debug, Clone, Copy)]
struct Counterpart {
    /// Method and route of the JSON action, as the route table has them.
    api: (&'static str, &'static str),
    /// Its JSON body, without the reason.
    body: &'static str,
    counterpart: Way,
    /// The audit action both ways write.
    action: &'static str,
    subject: Subject,
}

const COUNTERPARTS: [Counterpart; 17] = [
    Counterpart {
        api: ("POST", "/ops/health/checks/{name}/run"),
        body: "{}",
        counterpart: Way::Form {
            path: "/health/{name}/run",
            fields: &[],
        },
        action: "health.check.run",
        subject: Subject::Check,
    },
    Counterpart {
        api: ("POST", "/ops/cron"),
        body: r#"{"slug": "{slug}", "interval": "1h"}"#,
        counterpart: Way::Form {
            path: "/cron/+new",
            fields: &[("slug", "{slug}"), ("kind", "interval"), ("interval", "1h")],
        },
        action: "cron.monitor.created",
        subject: Subject::NoMonitor,
    },
    Counterpart {
        api: ("PATCH", "/ops/cron/{slug}"),
        body: r#"{"slug": "{slug}", "name": "Renamed", "schedule": "0 3 * * *"}"#,
        counterpart: Way::Form {
            path: "/cron/{slug}/edit",
            fields: &[
                ("name", "Renamed"),
                ("kind", "schedule"),
                ("schedule", "0 3 * * *"),
            ],
        },
        action: "cron.monitor.updated",
        subject: Subject::Monitor,
    },
    Counterpart {
        api: ("DELETE", "/ops/cron/{slug}"),
        body: "{}",
        counterpart: Way::Form {
            path: "/cron/{slug}/delete",
            fields: &[],
        },
        action: "cron.monitor.deleted",
        subject: Subject::Monitor,
    },
    Counterpart {
        api: ("POST", "/ops/cron/{slug}/pause"),
        body: "{}",
        counterpart: Way::Form {
            path: "/cron/{slug}/pause",
            fields: &[],
        },
        action: "cron.monitor.paused",
        subject: Subject::Monitor,
    },
    Counterpart {
        api: ("POST", "/ops/cron/{slug}/resume"),
        body: "{}",
        counterpart: Way::Form {
            path: "/cron/{slug}/resume",
            fields: &[],
        },
        action: "cron.monitor.resumed",
        subject: Subject::PausedMonitor,
    },
    Counterpart {
        api: ("POST", "/ops/cron/{slug}/trigger"),
        body: "{}",
        counterpart: Way::Form {
            path: "/cron/{slug}/trigger",
            fields: &[],
        },
        action: "cron.monitor.triggered",
        subject: Subject::Job,
    },
    Counterpart {
        api: ("POST", "/ops/tokens"),
        body: r#"{"name": "made-through-the-api", "role": "viewer"}"#,
        counterpart: Way::Command(&[
            "token",
            "create",
            "--name",
            "made-at-the-command-line",
            "--role",
            "viewer",
        ]),
        action: "token.created",
        subject: Subject::NoToken,
    },
    Counterpart {
        api: ("DELETE", "/ops/tokens/{id}"),
        body: "{}",
        counterpart: Way::Command(&["token", "revoke", "{id}"]),
        action: "token.revoked",
        subject: Subject::Token,
    },
    Counterpart {
        api: ("POST", "/ops/queues/{source}/{queue}/jobs/{id}/retry"),
        body: "{}",
        counterpart: Way::Form {
            path: "/queues/{source}/{queue}/jobs/{id}/retry",
            fields: &[],
        },
        action: "queue.job.retried",
        subject: Subject::FailedJob,
    },
    Counterpart {
        api: ("POST", "/ops/queues/{source}/{queue}/jobs/{id}/discard"),
        body: "{}",
        counterpart: Way::Form {
            path: "/queues/{source}/{queue}/jobs/{id}/discard",
            fields: &[],
        },
        action: "queue.job.discarded",
        subject: Subject::BullJob,
    },
    Counterpart {
        api: ("POST", "/ops/queues/{source}/{queue}/retry"),
        body: r#"{"dry_run": false, "selection": "{id}", "expected_count": 1}"#,
        counterpart: Way::Form {
            path: "/queues/{source}/{queue}/retry",
            fields: &[("selection", "{id}"), ("expected_count", "1")],
        },
        action: "queue.jobs.retried",
        subject: Subject::Selection(BulkAction::Retry),
    },
    Counterpart {
        api: ("POST", "/ops/queues/{source}/{queue}/discard"),
        body: r#"{"dry_run": false, "selection": "{id}", "expected_count": 1}"#,
        counterpart: Way::Form {
            path: "/queues/{source}/{queue}/discard",
            fields: &[("selection", "{id}"), ("expected_count", "1")],
        },
        action: "queue.jobs.discarded",
        subject: Subject::BullSelection(BulkAction::Discard),
    },
    Counterpart {
        api: ("POST", "/ops/queues/{source}/{queue}/pause"),
        body: "{}",
        counterpart: Way::Form {
            path: "/queues/{source}/{queue}/pause",
            fields: &[],
        },
        action: "queue.paused",
        subject: Subject::BullQueue { paused: false },
    },
    Counterpart {
        api: ("POST", "/ops/queues/{source}/{queue}/resume"),
        body: "{}",
        counterpart: Way::Form {
            path: "/queues/{source}/{queue}/resume",
            fields: &[],
        },
        action: "queue.resumed",
        subject: Subject::BullQueue { paused: true },
    },
    Counterpart {
        api: ("POST", "/ops/tenants/{id}/impersonations"),
        body: r#"{"user_id": "user_7", "ttl": "15m"}"#,
        counterpart: Way::Form {
            path: "/tenants/{id}/impersonations",
            fields: &[("user_id", "user_7"), ("ttl", "15m")],
        },
        action: "impersonation.started",
        subject: Subject::NoImpersonation,
    },
    Counterpart {
        api: ("DELETE", "/ops/tenants/{id}/impersonations/{jti}"),
        body: "{}",
        counterpart: Way::Form {
            path: "/tenants/{id}/impersonations/{jti}/end",
            fields: &[],
        },
        action: "impersonation.ended",
        subject: Subject::Impersonation,
    },
];

#[test]
fn every_guarded_json_action_has_a_counterpart_needing_the_same_permission() {
    let table = route_table();
    let served: BTreeSet<(String, String)> = table
        .routes()
        .iter()
        .filter(|r| r.kind == Kind::Json && r.method != "GET" && r.path.starts_with("/ops/"))
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let listed: BTreeSet<(String, String)> = COUNTERPARTS
        .iter()
        .map(|row| (row.api.0.to_owned(), row.api.1.to_owned()))
        .collect();
    assert_eq!(
        served, listed,
        "every guarded JSON action needs a row in COUNTERPARTS: a dashboard form or a command \
         through the same use-case"
    );
    assert_eq!(listed.len(), COUNTERPARTS.len(), "one row per action");
    let access = |method: &str, path: &str, kind: Kind| {
        table
            .routes()
            .iter()
            .find(|r| r.method == method && r.path == path && r.kind == kind)
            .map(|r| r.access)
    };
    for row in COUNTERPARTS {
        let api = access(row.api.0, row.api.1, Kind::Json).unwrap();
        match row.counterpart {
            Way::Form { path, .. } => assert_eq!(
                access("POST", path, Kind::Html),
                Some(api),
                "{} is served as a form needing what {} {} needs",
                path,
                row.api.0,
                row.api.1
            ),
            // The command line acts as an admin: whoever runs it can read the database.
            Way::Command(_) => assert_eq!(
                api,
                Access::Requires(Permission::Administer),
                "{} {}",
                row.api.0,
                row.api.1
            ),
        }
    }
}

async fn each_action_writes_one_entry_whichever_way_it_is_taken(db: TestDb) {
    let world = World::start(db).await;
    for row in COUNTERPARTS {
        let through_api = world.take(&row, None).await;
        let through_counterpart = world.take(&row, Some(row.counterpart)).await;
        let what = format!("{} {} and its counterpart", row.api.0, row.api.1);
        let api_target = through_api.target.as_ref().expect("a target");
        let other_target = through_counterpart.target.as_ref().expect("a target");
        assert_eq!(api_target.kind, other_target.kind, "{what}");
        assert_eq!(
            through_api.outcome, through_counterpart.outcome,
            "{what}: an action's entries read the same whichever way it was taken"
        );
        if !matches!(
            row.subject,
            Subject::NoToken
                | Subject::Token
                | Subject::Selection(_)
                | Subject::BullJob
                | Subject::BullSelection(_)
                | Subject::NoImpersonation
                | Subject::Impersonation
        ) {
            assert_eq!(api_target, other_target, "{what}: the same target");
        }
    }
}
