//! The SQL of one pg-boss schema: its name quoted once, the expressions that map a job's
//! `job_state` onto opsdeck's states for each layout, its error and tenant, and the
//! statements built from them. Jobs are read from the partitioned `job` table aliased `j`.

use opsdeck_core::queues::{JobState, TenantPath};

use super::Layout;

/// The job columns lists and details read, in this order (see `jobs::summary_of`).
const SUMMARY_COLUMNS: &str = "j.id, j.retry_count, j.retry_limit, j.created_on, j.start_after, \
     j.started_on, j.completed_on, \
     CASE WHEN j.state IN ('failed', 'retry') THEN left(coalesce(j.output->>'message', \
     j.output->'value'->>'message', j.output->>'value', j.output::text), 4000) END AS error, \
     {tenant} AS tenant, {state} AS state";

/// Where a job's tenant id is read from, by the source's `tenant_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tenant {
    /// Under the job's data: `data.tenantId`.
    Data(Vec<String>),
    /// A column: `group_id` (12.x) or `singleton_key`.
    Column(&'static str),
    /// A path pg-boss jobs do not have.
    Nowhere,
}

impl Tenant {
    fn of(path: &TenantPath) -> Self {
        let steps = path.segments();
        match steps.split_first() {
            Some((root, rest)) if root == "data" && !rest.is_empty() => Tenant::Data(rest.to_vec()),
            Some((root, [])) if root == "group_id" => Tenant::Column("j.group_id"),
            Some((root, [])) if root == "singleton_key" => Tenant::Column("j.singleton_key"),
            _ => Tenant::Nowhere,
        }
    }
}

/// `text` as a SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The statements of one schema.
#[derive(Debug, Clone)]
pub struct Statements {
    /// The schema as configured.
    pub schema: String,
    /// The schema quoted for SQL.
    quoted: String,
    /// The tenant path, as read from each layout.
    tenant: Tenant,
    pub version: String,
    pub queue_exists: String,
}

impl Statements {
    pub fn new(schema: &str, tenant_path: Option<&TenantPath>) -> Self {
        let s = format!("\"{}\"", schema.replace('"', "\"\""));
        Self {
            version: format!("SELECT version::int4 FROM {s}.version"),
            queue_exists: format!("SELECT 1::int4 FROM {s}.queue WHERE name = $1"),
            schema: schema.to_owned(),
            tenant: tenant_path.map_or(Tenant::Nowhere, Tenant::of),
            quoted: s,
        }
    }

    /// The schema, quoted.
    pub fn s(&self) -> &str {
        &self.quoted
    }

    /// The job's tenant id as text, or NULL.
    pub fn tenant(&self, layout: Layout) -> String {
        match &self.tenant {
            Tenant::Nowhere => "NULL::text".to_owned(),
            Tenant::Column("j.group_id") if layout == Layout::V10 => "NULL::text".to_owned(),
            Tenant::Column(column) => (*column).to_owned(),
            Tenant::Data(steps) => {
                let steps: Vec<String> = steps.iter().map(|s| literal(s)).collect();
                format!("(j.data #>> ARRAY[{}]::text[])", steps.join(", "))
            }
        }
    }

    /// [`SUMMARY_COLUMNS`] with its expressions filled in.
    pub fn summary_columns(&self, layout: Layout) -> String {
        SUMMARY_COLUMNS
            .replace("{tenant}", &self.tenant(layout))
            .replace("{state}", &state(layout))
    }

    /// The conditions of a search: `$q` (lower-cased text in the error or the id) and
    /// `$tenant`, each NULL when not asked for.
    pub fn search(&self, layout: Layout, q: usize, tenant: usize) -> String {
        format!(
            "(${q}::text IS NULL OR strpos(lower(coalesce(j.output->>'message', '')), ${q}) > 0 \
             OR strpos(j.id::text, ${q}) > 0) AND (${tenant}::text IS NULL OR {} = ${tenant})",
            self.tenant(layout)
        )
    }
}

/// pg-boss's clock: 12.x writes every time through its `job_now()` (tests move it).
pub fn now(layout: Layout, s: &str) -> String {
    match layout {
        Layout::V10 => "now()".to_owned(),
        Layout::V12 => format!("{s}.job_now()"),
    }
}

/// A job's state as opsdeck names it (see the module doc of `pgboss`).
pub fn state(layout: Layout) -> String {
    let dead_lettered = match layout {
        Layout::V10 => "",
        Layout::V12 => "WHEN j.state < 'active' AND j.source_name IS NOT NULL THEN 'dead' ",
    };
    let blocked = match layout {
        Layout::V10 => "",
        Layout::V12 => " AND NOT j.blocked",
    };
    format!(
        "CASE {dead_lettered}WHEN j.state = 'retry' AND j.start_after > now() THEN 'retrying' \
         WHEN j.state < 'active' AND j.start_after <= now(){blocked} THEN 'waiting' \
         WHEN j.state < 'active' THEN 'scheduled' \
         WHEN j.state = 'cancelled' THEN 'dead' \
         ELSE j.state::text END"
    )
}

/// The condition of jobs in `state` (on `j`) in `layout`. `waiting` and `scheduled` are
/// every job not yet started, due now or later, as pg-boss's own counts have them (its
/// `readyCount` and `deferredCount`): retrying and dead-lettered jobs are among them too.
pub fn condition(layout: Layout, state: JobState) -> String {
    let v12 = layout == Layout::V12;
    match state {
        JobState::Waiting => format!(
            "j.state < 'active' AND j.start_after <= now(){}",
            if v12 { " AND NOT j.blocked" } else { "" }
        ),
        JobState::Scheduled => format!(
            "j.state < 'active' AND (j.start_after > now(){})",
            if v12 { " OR j.blocked" } else { "" }
        ),
        JobState::Retrying => format!(
            "j.state = 'retry' AND j.start_after > now(){}",
            if v12 {
                " AND j.source_name IS NULL"
            } else {
                ""
            }
        ),
        JobState::Active => "j.state = 'active'".to_owned(),
        JobState::Failed => "j.state = 'failed'".to_owned(),
        JobState::Completed => "j.state = 'completed'".to_owned(),
        JobState::Dead if v12 => {
            "(j.state = 'cancelled' OR (j.state < 'active' AND j.source_name IS NOT NULL))"
                .to_owned()
        }
        JobState::Dead => "j.state = 'cancelled'".to_owned(),
    }
}
