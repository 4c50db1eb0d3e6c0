//! Multi-row statements in a few fixed sizes, for both backends.
//!
//! A batch goes in as statements of [`INSERT_SHAPES`] rows (at most 256; with 15 binds a
//! row that stays well below SQLite's 32,766 and PostgreSQL's 65,535 binds). A statement's
//! text depends only on its row count, so these few are prepared once per connection and
//! reused; one statement sized to each batch would have to be parsed and planned again for
//! almost every batch (they vary in size, and the statement cache is bounded), and
//! preparing a 256-row insert takes about a third as long as inserting its rows.

use std::collections::HashMap;

use opsdeck_core::cron::StateWrite;

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
