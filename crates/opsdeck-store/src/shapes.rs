//! Multi-row INSERTs in a few fixed sizes, for both backends.
//!
//! A batch goes in as statements of [`INSERT_SHAPES`] rows (at most 256; with 15 binds a
//! row that stays well below SQLite's 32,766 and PostgreSQL's 65,535 binds). A statement's
//! text depends only on its row count, so these few are prepared once per connection and
//! reused; one statement sized to each batch would have to be parsed and planned again for
//! almost every batch (they vary in size, and the statement cache is bounded), and
//! preparing a 256-row insert takes about a third as long as inserting its rows.

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
