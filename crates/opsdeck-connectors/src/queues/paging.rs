//! Paging shared by the connectors whose states live in Redis lists and sorted sets (BullMQ,
//! RQ): a state is one or more keys ("parts") read in order; a cursor names the part, the
//! offset in it and the last job shown, so a sorted set resumes after that job while it is
//! still there and a deep page costs what the first does. A search by text or tenant reads
//! jobs a batch at a time and answers what it found once it has read its bound (`partial`).
//! And the one test of a job against a list's text and tenant filter, for every connector
//! that filters in memory.

use opsdeck_core::queues::{JobFilter, JobSummary};

use super::{JobPage, JobQuery, QueueError};

/// Whether `job` passes `filter`'s tenant and text (id, name or error, ignoring case).
pub(crate) fn matches(job: &JobSummary, filter: &JobFilter) -> bool {
    let tenant = filter
        .tenant_id
        .as_ref()
        .is_none_or(|t| job.tenant_id.as_ref() == Some(t));
    let text = filter.q.as_deref().map(str::to_lowercase);
    let found = |field: Option<&str>, q: &str| field.is_some_and(|f| f.to_lowercase().contains(q));
    tenant
        && text.as_deref().is_none_or(|q| {
            found(Some(job.id.as_str()), q)
                || found(job.name.as_deref(), q)
                || found(job.error.as_deref(), q)
        })
}

/// How a part is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// A list, head first.
    List,
    /// A sorted set, lowest score first.
    Asc,
    /// A sorted set, highest score first.
    Rev,
}

impl Order {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Order::List => "list",
            Order::Asc => "asc",
            Order::Rev => "rev",
        }
    }
}

/// Where a page starts: the part, the offset in it, the last job shown (sorted sets).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Cursor {
    pub part: usize,
    pub offset: u64,
    pub after: Option<String>,
}

impl Cursor {
    pub(crate) fn parse(text: &str) -> Result<Self, QueueError> {
        let bad = || QueueError::NotFound("no such page: pass back the `next` of a page".into());
        let mut pieces = text.splitn(3, ':');
        let part = pieces.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let offset = pieces.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let after = pieces.next().filter(|a| !a.is_empty()).map(str::to_owned);
        Ok(Self {
            part,
            offset,
            after,
        })
    }

    pub(crate) fn text(&self) -> String {
        format!(
            "{}:{}:{}",
            self.part,
            self.offset,
            self.after.as_deref().unwrap_or_default()
        )
    }
}

/// How a connector reads its parts for [`list`].
pub(crate) trait Pages {
    /// What one read returns per job.
    type Row;

    /// Up to `count` rows of `part` (read in `order`) from `cursor`, and the offset of the
    /// first; fewer than `count` only at the part's end.
    async fn read(
        &self,
        part: &str,
        order: Order,
        cursor: &Cursor,
        count: usize,
    ) -> Result<(u64, Vec<Self::Row>), QueueError>;

    /// The row as a list shows it; `None` for a row to skip (gone since, not a job).
    fn summary(&self, row: &Self::Row) -> Option<JobSummary>;

    /// The member that names the row in its sorted set (a cursor's `after`).
    fn member<'r>(&self, row: &'r Self::Row) -> &'r str;
}

/// A page of the jobs in `parts` that `query` asks for: `batch` rows per read while
/// searching, and at most `scan_max` read before answering `partial`.
pub(crate) async fn list<P: Pages>(
    pages: &P,
    parts: &[(&str, Order)],
    query: &JobQuery,
    batch: usize,
    scan_max: u64,
) -> Result<JobPage, QueueError> {
    let filter = &query.filter;
    let searching = filter.q.is_some() || filter.tenant_id.is_some();
    let limit = query.limit.max(1) as usize;
    let mut cursor = match query.cursor.as_deref() {
        Some(text) => Cursor::parse(text)?,
        None => Cursor::default(),
    };
    let mut jobs = Vec::new();
    let mut scanned = 0u64;
    while let Some((part, order)) = parts.get(cursor.part) {
        let want = if searching { batch } else { limit - jobs.len() };
        let (start, rows) = pages.read(part, *order, &cursor, want).await?;
        scanned += rows.len() as u64;
        let full = rows.len() == want;
        let after = |row: &P::Row| (*order != Order::List).then(|| pages.member(row).to_owned());
        for (index, row) in rows.iter().enumerate() {
            let Some(job) = pages.summary(row) else {
                continue;
            };
            if matches(&job, filter) {
                jobs.push(job);
            }
            if jobs.len() == limit {
                let next = Cursor {
                    part: cursor.part,
                    offset: start + index as u64 + 1,
                    after: after(row),
                };
                let more = index + 1 < rows.len() || full || cursor.part + 1 < parts.len();
                return Ok(JobPage {
                    jobs,
                    next: more.then(|| next.text()),
                    scanned,
                    partial: false,
                });
            }
        }
        if full {
            cursor = Cursor {
                part: cursor.part,
                offset: start + rows.len() as u64,
                after: rows.last().and_then(after),
            };
            if searching && scanned >= scan_max {
                return Ok(JobPage {
                    jobs,
                    next: Some(cursor.text()),
                    scanned,
                    partial: true,
                });
            }
        } else {
            cursor = Cursor {
                part: cursor.part + 1,
                ..Cursor::default()
            };
        }
    }
    Ok(JobPage {
        jobs,
        next: None,
        scanned,
        partial: false,
    })
}
