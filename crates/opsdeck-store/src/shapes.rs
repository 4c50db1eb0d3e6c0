//! Multi-row statements in a few fixed sizes, for both backends, and the bookkeeping of a
//! batch of cron steps written with them (its rounds, each step's answer), which is the same
//! whatever the SQL.
//!
//! A batch goes in as statements of [`INSERT_SHAPES`] rows (at most 256; with 15 binds a
//! row that stays well below SQLite's 32,766 and PostgreSQL's 65,535 binds). A statement's
//! text depends only on its row count, so these few are prepared once per connection and
//! reused; one statement sized to each batch would have to be parsed and planned again for
//! almost every batch (they vary in size, and the statement cache is bounded), and
//! preparing a 256-row insert takes about a third as long as inserting its rows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use opsdeck_core::cron::{LogAppend, Run, StateWrite};
use opsdeck_core::{StoreError, StoreResult};

/// Rows per INSERT statement, largest first.
const INSERT_SHAPES: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// `items` cut into consecutive runs whose lengths are all in [`INSERT_SHAPES`], in order.
pub(crate) fn shaped_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = INSERT_SHAPES
            .into_iter()
            .find(|size| *size <= items.len())?;
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

/// The text of one multi-row INSERT per shape, built on first use: for a statement run for
/// every batch (the audit log's), so each batch binds its values without first writing out
/// thousands of placeholders.
pub(crate) struct InsertTexts {
    texts: [OnceLock<String>; INSERT_SHAPES.len()],
    table: &'static str,
    columns: &'static str,
    placeholders: Placeholders,
}

/// How a backend numbers its bind parameters.
#[derive(Clone, Copy)]
pub(crate) enum Placeholders {
    /// SQLite: `?`, in order.
    Question,
    /// PostgreSQL: `$1`, `$2`, …
    Numbered,
}

impl InsertTexts {
    /// Statements `INSERT INTO table (columns) VALUES (…), (…)`; `columns` is the list
    /// as it goes between the parentheses.
    pub(crate) const fn new(
        table: &'static str,
        columns: &'static str,
        placeholders: Placeholders,
    ) -> Self {
        Self {
            texts: [const { OnceLock::new() }; INSERT_SHAPES.len()],
            table,
            columns,
            placeholders,
        }
    }

    /// The statement for a chunk of `rows` rows, as [`shaped_chunks`] cuts them.
    pub(crate) fn get(&'static self, rows: usize) -> &'static str {
        let Some(slot) = INSERT_SHAPES.iter().position(|size| *size == rows) else {
            unreachable!("shaped_chunks yields only INSERT_SHAPES sizes, not {rows}");
        };
        self.texts[slot].get_or_init(|| self.build(rows))
    }

    fn build(&self, rows: usize) -> String {
        let mut text = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns);
        let columns = self.columns.split(',').count();
        let mut number = 0;
        for row in 0..rows {
            text.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..columns {
                if column > 0 {
                    text.push_str(", ");
                }
                number += 1;
                match self.placeholders {
                    Placeholders::Question => text.push('?'),
                    Placeholders::Numbered => {
                        let _ = write!(text, "${number}");
                    }
                }
            }
            text.push(')');
        }
        text
    }
}

/// `writes` as indexes, in rounds that name no monitor twice, so each round can be one
/// multi-row update: a monitor's first step goes in the first round, its second in the
/// second, and so on, so each step finds the version the one before it wrote.
pub(crate) fn rounds(writes: &[StateWrite]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, write) in writes.iter().enumerate() {
        let round = seen.entry(write.slug.as_str()).or_default();
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(index);
        *round += 1;
    }
    rounds
}

/// What a batch of steps answers, one slot per step, filled in as the rounds are written.
pub(crate) type StepResults = Vec<Option<StoreResult<u64>>>;

/// The answer of a step whose monitor the round's update did (`written` names it, with its
/// new version) or did not take (`None`: the caller finds out why).
pub(crate) fn written_version(
    written: &HashMap<String, i64>,
    write: &StateWrite,
) -> Option<StoreResult<u64>> {
    written.get(write.slug.as_str()).map(|&version| {
        u64::try_from(version).map_err(|_| crate::error::corrupt("cron monitor version"))
    })
}

/// The runs and logs of the steps whose state was written, in step order: the runs go in
/// with a few multi-row statements rather than one each (a busy monitor's batch is hundreds
/// of runs), then the logs, whose runs then all exist.
#[expect(
    clippy::type_complexity,
    reason = "two plain lists of pairs; a named type would hide no more"
)]
pub(crate) fn written_outcomes<'w>(
    writes: &'w [StateWrite],
    results: &StepResults,
) -> (
    Vec<(&'w StateWrite, &'w Run)>,
    Vec<(&'w StateWrite, &'w LogAppend)>,
) {
    let mut runs = Vec::new();
    let mut logs = Vec::new();
    for (write, result) in writes.iter().zip(results) {
        if matches!(result, Some(Ok(_))) {
            runs.extend(write.outcome.runs.iter().map(|run| (write, run)));
            logs.extend(write.outcome.logs.iter().map(|log| (write, log)));
        }
    }
    (runs, logs)
}

/// The batch's answers; a step no round answered (a bug) answers an error, not a panic.
pub(crate) fn answers(results: StepResults) -> Vec<StoreResult<u64>> {
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(StoreError::Other("a write went unanswered".into())))
        })
        .collect()
}

/// Refuses a batch with a step that writes another monitor's run (a caller's bug) before
/// anything is written.
pub(crate) fn check_runs_belong(writes: &[StateWrite]) -> StoreResult<()> {
    match writes.iter().find(|write| write.stray_run().is_some()) {
        Some(write) => Err(StoreError::Other(
            format!(
                "a step of cron monitor {} writes another monitor's run",
                write.slug
            )
            .into(),
        )),
        None => Ok(()),
    }
}
