//! `[tenants]`: the application's own database as a source of tenant facts (SPEC §6),
//! read-only. `directory` lists and searches tenants; each `[[tenants.queries]]` entry is
//! a profile (one row of facts) or a table (a few rows) on the tenant's page. What runs
//! them, and what they promise, is `opsdeck_connectors::tenants`.
//!
//! Statements use `$1` (and `$2`) on every database: for a query `$1` is the tenant id, as
//! text; for the directory `$1` is the search text (trimmed, empty to list every tenant) and
//! `$2` the most rows wanted. A query without a `url` runs on `[tenants] url`, as the
//! directory does.

use std::collections::BTreeSet;
use std::time::Duration;

use opsdeck_connectors::tenants::{
    DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT, DirectoryQuery, MAX_ROW_LIMIT, MAX_TIMEOUT, QueryKind,
    TenantQuery, TenantSources, check_statement, check_url,
};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::duration;

/// Problems of one section: (key within the section, message).
type Problems = Vec<(String, String)>;

/// The longest query name: it keys the query's section on the page and in URLs.
const MAX_NAME: usize = 64;

/// `[tenants]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantsConfig {
    /// The application's database (`postgres://…`, `mysql://…`/`mariadb://…`,
    /// `sqlite://FILE`): the directory's, and every query's that names none.
    pub url: Option<Secret>,
    /// A query listing and searching tenants, returning `id`, `name` and optionally `plan`
    /// and `status`. Without it, the tenants are those opsdeck has seen.
    pub directory: Option<String>,
    /// The statement timeout of the directory, and of each query that sets none.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// `[[tenants.queries]]`.
    pub queries: Vec<TenantQueryConfig>,
}

impl Default for TenantsConfig {
    fn default() -> Self {
        Self {
            url: None,
            directory: None,
            timeout: DEFAULT_TIMEOUT,
            queries: Vec::new(),
        }
    }
}

/// One `[[tenants.queries]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantQueryConfig {
    /// Unique; 1–64 of `a-z 0-9 _ -`.
    pub name: String,
    /// Its database, when not `[tenants] url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// One read statement; `$1` is the tenant id.
    pub sql: String,
    /// `profile` (the first row, as facts) or `table` (rows).
    pub kind: QueryKind,
    /// Columns whose values are shown as `***`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    /// Statement timeout (default `[tenants] timeout`, at most 30s).
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// The most rows a table shows (default 50, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_limit: Option<u32>,
}

impl TenantsConfig {
    /// The sources these settings describe. Nothing connects until a query runs.
    pub fn sources(&self) -> TenantSources {
        let directory = match (&self.directory, &self.url) {
            (Some(sql), Some(url)) => Some(DirectoryQuery {
                url: url.clone(),
                sql: sql.clone(),
                timeout: self.timeout,
            }),
            _ => None,
        };
        let queries = self
            .queries
            .iter()
            .filter_map(|q| {
                Some(TenantQuery {
                    name: q.name.clone(),
                    url: q.url.clone().or_else(|| self.url.clone())?,
                    sql: q.sql.clone(),
                    kind: q.kind,
                    mask: q.mask.clone(),
                    timeout: q.timeout.unwrap_or(self.timeout),
                    row_limit: q.row_limit.unwrap_or(DEFAULT_ROW_LIMIT),
                })
            })
            .collect();
        TenantSources::new(directory, queries)
    }

    /// The key path of what [`TenantSources::prepare_all`] names.
    pub fn key_of(target: &opsdeck_connectors::tenants::Target) -> String {
        match target {
            opsdeck_connectors::tenants::Target::Directory => "tenants.directory".to_owned(),
            opsdeck_connectors::tenants::Target::Query(index, _) => {
                format!("tenants.queries[{index}]")
            }
        }
    }

    pub(crate) fn problems(&self) -> Problems {
        let mut out = Problems::new();
        timeout_problems(&mut out, "timeout".to_owned(), self.timeout);
        let default_url = self.url.as_ref().map(|url| (url, check_url(url.expose())));
        if let Some((_, Err(e))) = &default_url {
            out.push(("url".to_owned(), e.clone()));
        }
        if let Some(sql) = &self.directory {
            match &default_url {
                None => out.push((
                    "directory".to_owned(),
                    "needs tenants.url, the database it runs on".to_owned(),
                )),
                Some((_, Ok(dialect))) => {
                    if let Err(e) = check_statement(sql, *dialect, 2) {
                        out.push(("directory".to_owned(), e));
                    }
                }
                Some((_, Err(_))) => {}
            }
        }
        let mut names = BTreeSet::new();
        for (index, query) in self.queries.iter().enumerate() {
            let at = |key: &str| format!("queries[{index}].{key}");
            if let Err(e) = valid_name(&query.name) {
                out.push((at("name"), e));
            } else if !names.insert(query.name.as_str()) {
                out.push((
                    at("name"),
                    format!("query name \"{}\" is used twice", query.name),
                ));
            }
            let dialect = match (&query.url, &default_url) {
                (Some(url), _) => match check_url(url.expose()) {
                    Ok(dialect) => Some(dialect),
                    Err(e) => {
                        out.push((at("url"), e));
                        None
                    }
                },
                (None, Some((_, Ok(dialect)))) => Some(*dialect),
                (None, Some((_, Err(_)))) => None,
                (None, None) => {
                    out.push((at("url"), "required unless tenants.url is set".to_owned()));
                    None
                }
            };
            if let Some(dialect) = dialect
                && let Err(e) = check_statement(&query.sql, dialect, 1)
            {
                out.push((at("sql"), e));
            }
            let mut masked = BTreeSet::new();
            for column in &query.mask {
                if column.trim().is_empty() {
                    out.push((at("mask"), "column names must not be empty".to_owned()));
                } else if !masked.insert(column.to_ascii_lowercase()) {
                    out.push((at("mask"), format!("column \"{column}\" is listed twice")));
                }
            }
            if let Some(timeout) = query.timeout {
                timeout_problems(&mut out, at("timeout"), timeout);
            }
            match (query.kind, query.row_limit) {
                (QueryKind::Profile, Some(_)) => out.push((
                    at("row_limit"),
                    "a profile shows one row; row_limit applies to a table".to_owned(),
                )),
                (QueryKind::Table, Some(limit)) if limit == 0 || limit > MAX_ROW_LIMIT => {
                    out.push((
                        at("row_limit"),
                        format!("must be between 1 and {MAX_ROW_LIMIT}"),
                    ));
                }
                _ => {}
            }
        }
        out
    }

    pub(crate) fn summary(&self) -> String {
        let directory = match &self.directory {
            Some(_) => "directory query",
            None => "no directory query (tenants seen in events, monitors and jobs)",
        };
        format!(
            "  tenants     {directory}, {} quer{}, timeout {}",
            self.queries.len(),
            if self.queries.len() == 1 { "y" } else { "ies" },
            humantime::format_duration(self.timeout)
        )
    }
}

fn timeout_problems(out: &mut Problems, key: String, timeout: Duration) {
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        out.push((
            key,
            format!(
                "must be greater than zero and at most {}: the tenant page waits for it",
                humantime::format_duration(MAX_TIMEOUT)
            ),
        ));
    }
}

fn valid_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be 1–{MAX_NAME} characters of a-z, 0-9, _ and -"
        ))
    }
}
