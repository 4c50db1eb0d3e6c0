//! The SQL of one graphile-worker schema: its name quoted once, the expressions that derive
//! a job's state, failure time and tenant, and the statements built from them. Everything
//! here reads graphile-worker's 0.16–0.18 layout (`_private_jobs` aliased `j`).

use opsdeck_core::queues::{JobState, TenantPath};

/// The job columns lists and details read, in this order (see `jobs::summary_of`).
pub const SUMMARY_COLUMNS: &str = "j.id, j.attempts::int4, j.max_attempts::int4, j.created_at, \
     j.run_at, {failed_at} AS failed_at, left(j.last_error, 4000) AS last_error, \
     {tenant} AS tenant, {state} AS state";

/// A job's state as opsdeck names it, derived from its columns (see the module doc).
const STATE: &str = "CASE WHEN j.locked_at IS NOT NULL THEN 'active' \
     WHEN j.attempts >= j.max_attempts THEN 'failed' \
     WHEN j.attempts > 0 AND j.last_error IS NOT NULL THEN 'retrying' \
     WHEN j.run_at <= now() THEN 'waiting' ELSE 'scheduled' END";

/// When a job last failed. A worker's failure sets `run_at` to now plus
/// `exp(least(attempts, 10))` seconds and leaves `updated_at` alone; `permanently_fail_jobs`
/// and `reschedule_jobs` set `updated_at`. The later of the two, never in the future.
const FAILED_AT: &str = "CASE WHEN j.last_error IS NULL THEN NULL ELSE greatest(j.updated_at, \
     least(j.run_at - exp(least(j.attempts, 10)) * interval '1 second', now())) END";

/// Whether a job's latest failure ([`FAILED_AT`]) is within the last hour, written so the
/// back-off is only computed for jobs due within the hour: with `T` an hour ago,
/// `FAILED_AT > T` holds exactly when `updated_at > T` or `run_at - back-off > T`, and the
/// latter needs `run_at > T`.
const FAILED_LAST_HOUR: &str = "j.last_error IS NOT NULL AND (j.updated_at > now() - interval '1 hour' \
     OR (j.run_at > now() - interval '1 hour' \
     AND j.run_at - exp(least(j.attempts, 10)) * interval '1 second' > now() - interval '1 hour'))";

/// Where a job's tenant id is read from, by the source's `tenant_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tenant {
    /// Under the payload: `payload.tenantId`, `payload.args[0].tenant`.
    Payload(Vec<String>),
    /// The job's named queue (per-tenant serial queues).
    QueueName,
    /// The job's key.
    Key,
    /// A path graphile-worker jobs do not have.
    Nowhere,
}

impl Tenant {
    fn of(path: &TenantPath) -> Self {
        let mut steps = Vec::new();
        for segment in path.as_str().split('.') {
            let (key, mut rest) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
            if !key.is_empty() {
                steps.push(key.to_owned());
            }
            while let Some(close) = rest.find(']') {
                steps.push(rest[1..close].to_owned());
                rest = &rest[close + 1..];
            }
        }
        match steps.split_first() {
            Some((root, rest)) if root == "payload" && !rest.is_empty() => {
                Tenant::Payload(rest.to_vec())
            }
            Some((root, [])) if root == "queue_name" => Tenant::QueueName,
            Some((root, [])) if root == "key" => Tenant::Key,
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
    /// The job's tenant id as text, or NULL.
    tenant: String,
    pub migration: String,
    pub task_id: String,
    pub tasks: String,
    pub fast_counts: String,
    pub slow_counts: String,
}

impl Statements {
    pub fn new(schema: &str, tenant_path: Option<&TenantPath>) -> Self {
        let s = format!("\"{}\"", schema.replace('"', "\"\""));
        let tenant = match tenant_path.map(Tenant::of) {
            None | Some(Tenant::Nowhere) => "NULL::text".to_owned(),
            Some(Tenant::Payload(steps)) => {
                let steps: Vec<String> = steps.iter().map(|s| literal(s)).collect();
                format!("(j.payload #>> ARRAY[{}]::text[])", steps.join(", "))
            }
            Some(Tenant::QueueName) => format!(
                "(SELECT tq.queue_name FROM {s}._private_job_queues tq WHERE tq.id = j.job_queue_id)"
            ),
            Some(Tenant::Key) => "j.key".to_owned(),
        };
        Self {
            migration: format!("SELECT max(id) FROM {s}.migrations"),
            task_id: format!("SELECT id FROM {s}._private_tasks WHERE identifier = $1"),
            tasks: format!("SELECT id, identifier FROM {s}._private_tasks ORDER BY identifier"),
            fast_counts: format!(
                "SELECT j.task_id, count(*) FILTER (WHERE j.run_at <= now()), \
                 count(*) FILTER (WHERE j.run_at > now()), \
                 extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.run_at <= now()))::float8 \
                 FROM {s}._private_jobs j WHERE j.is_available GROUP BY j.task_id"
            ),
            slow_counts: format!(
                "SELECT j.task_id, count(*) FILTER (WHERE {active}), \
                 count(*) FILTER (WHERE {failed}), count(*) FILTER (WHERE {retrying}), \
                 count(*) FILTER (WHERE j.locked_at IS NULL AND {FAILED_LAST_HOUR}) \
                 FROM {s}._private_jobs j GROUP BY j.task_id",
                active = condition(JobState::Active).unwrap_or("false"),
                failed = condition(JobState::Failed).unwrap_or("false"),
                retrying = condition(JobState::Retrying).unwrap_or("false"),
            ),
            schema: schema.to_owned(),
            quoted: s,
            tenant,
        }
    }

    /// The schema, quoted.
    pub fn s(&self) -> &str {
        &self.quoted
    }

    /// [`SUMMARY_COLUMNS`] with its expressions filled in.
    pub fn summary_columns(&self) -> String {
        SUMMARY_COLUMNS
            .replace("{failed_at}", FAILED_AT)
            .replace("{tenant}", &self.tenant)
            .replace("{state}", STATE)
    }

    pub fn failed_at(&self) -> &'static str {
        FAILED_AT
    }

    pub fn state(&self) -> &'static str {
        STATE
    }

    /// The conditions of a search: `$q` (lower-cased text in the error or the id) and
    /// `$tenant`, each NULL when not asked for.
    pub fn search(&self, q: usize, tenant: usize) -> String {
        format!(
            "(${q}::text IS NULL OR strpos(lower(coalesce(j.last_error, '')), ${q}) > 0 \
             OR strpos(j.id::text, ${q}) > 0) AND (${tenant}::text IS NULL OR {} = ${tenant})",
            self.tenant
        )
    }
}

/// The condition of jobs in `state` (on `j`), or `None` for a state graphile-worker does
/// not keep.
pub fn condition(state: JobState) -> Option<&'static str> {
    Some(match state {
        JobState::Active => "j.locked_at IS NOT NULL",
        JobState::Failed => "j.locked_at IS NULL AND j.attempts >= j.max_attempts",
        JobState::Retrying => {
            "j.locked_at IS NULL AND j.attempts < j.max_attempts AND j.attempts > 0 \
             AND j.last_error IS NOT NULL"
        }
        JobState::Waiting => "j.is_available AND j.run_at <= now()",
        JobState::Scheduled => "j.is_available AND j.run_at > now()",
        JobState::Dead | JobState::Completed => return None,
    })
}
