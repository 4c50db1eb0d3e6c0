//! What the shared store code asks of a backend ([`Dialect`]: how it runs statements, opens a
//! writing transaction, classifies errors), and how that code binds and reads values without
//! naming the backend ([`BindExt`], [`PushExt`], [`RowExt`]).
//!
//! Rust implies the bounds a trait puts on `Self` wherever the trait is required, but not
//! bounds on other types: `i64: Encode<'_, DB>` would have to be repeated on every generic
//! function, with the executor and argument bounds beside it. So the value types the shared
//! code binds and reads are listed once, as supertraits of [`Dialect`] ([`Binds`], [`Reads`]),
//! each backend executes through [`Dialect::on_pool`] and [`Dialect::on_conn`], and generic
//! code needs no bound but `DB: Dialect`.

use chrono::{DateTime, Utc};
use opsdeck_core::{Backend, StoreError, StoreResult};
use sqlx::error::DatabaseError;
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder, Row, Type,
};
use uuid::Uuid;

use crate::values::{Id, SharedText, Time, TimeBound};

/// A database engine as the shared store code sees it. Implemented for `sqlx::Sqlite` and
/// `sqlx::Postgres`; the SQL of each capability is the backend's too (the `…Sql` traits of
/// `crate::shared`).
pub(crate) trait Dialect:
    Database<Arguments: IntoArguments<Self>>
    + Column<String>
    + Column<i64>
    + Column<i32>
    + Column<i16>
    + Column<bool>
    + Column<f64>
    + Column<Time>
    + Column<Id>
    + for<'t> Binds<'t, TimeBound>
    + for<'a> Binds<'a, &'a str>
    + for<'a> Binds<'a, Option<&'a str>>
    + for<'a> Binds<'a, SharedText<'a>>
    + for<'a> Binds<'a, Option<SharedText<'a>>>
{
    const BACKEND: Backend;

    /// Opens a transaction that will write. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a second writer waits out the busy timeout instead of failing
    /// with `SQLITE_BUSY` when its read transaction tries to upgrade.
    const BEGIN_WRITE: &'static str;

    /// Whether binding a borrowed text copies it into new allocations (SQLite's arguments own
    /// their values), so a batch that repeats texts binds them as shared [`SharedText`]s.
    const COPIES_BOUND_TEXT: bool;

    /// The pool as an executor.
    fn on_pool<'c>(pool: &'c Pool<Self>) -> impl Executor<'c, Database = Self>;

    /// A connection (a transaction's) as an executor.
    fn on_conn<'c>(conn: &'c mut Self::Connection) -> impl Executor<'c, Database = Self>;

    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// Whether a database-reported error means the database cannot serve right now.
    fn unavailable(error: &dyn DatabaseError) -> bool;
}

/// `Self` binds values of type `T` (which borrow for `'t`, as in `Query::bind`): implemented
/// for every type the backend encodes.
pub(crate) trait Binds<'t, T>: Database {
    fn bind_to(
        query: Query<'_, Self, Self::Arguments>,
        value: T,
    ) -> Query<'_, Self, Self::Arguments>;

    fn push_to(builder: &mut QueryBuilder<Self>, value: T);

    fn push_separated(separated: &mut Separated<'_, Self, &'static str>, value: T);
}

impl<'t, DB: Database, T> Binds<'t, T> for DB
where
    T: Encode<'t, DB> + Type<DB>,
{
    fn bind_to(
        query: Query<'_, Self, Self::Arguments>,
        value: T,
    ) -> Query<'_, Self, Self::Arguments> {
        query.bind(value)
    }

    fn push_to(builder: &mut QueryBuilder<Self>, value: T) {
        builder.push_bind(value);
    }

    fn push_separated(separated: &mut Separated<'_, Self, &'static str>, value: T) {
        separated.push_bind(value);
    }
}

/// `Self` reads values of type `T` from a named column.
pub(crate) trait Reads<T>: Database {
    fn read(row: &Self::Row, column: &str) -> sqlx::Result<T>;
}

impl<DB: Database, T> Reads<T> for DB
where
    T: for<'r> Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    fn read(row: &Self::Row, column: &str) -> sqlx::Result<T> {
        row.try_get(column)
    }
}

/// `Self` binds and reads `T`, and `Option<T>` for NULL.
pub(crate) trait Column<T>:
    for<'t> Binds<'t, T> + for<'t> Binds<'t, Option<T>> + Reads<T> + Reads<Option<T>>
{
}

impl<DB, T> Column<T> for DB where
    DB: for<'t> Binds<'t, T> + for<'t> Binds<'t, Option<T>> + Reads<T> + Reads<Option<T>>
{
}

/// `.arg(value)` on a statement: `.bind(value)` for any type the dialect [`Binds`].
pub(crate) trait BindExt<DB: Database> {
    fn arg<'t, T>(self, value: T) -> Self
    where
        DB: Binds<'t, T>;
}

impl<DB: Database> BindExt<DB> for Query<'_, DB, DB::Arguments> {
    fn arg<'t, T>(self, value: T) -> Self
    where
        DB: Binds<'t, T>,
    {
        DB::bind_to(self, value)
    }
}

/// `.push_arg(value)` on a query builder or one row of its `push_values`: `.push_bind(value)`
/// for any type the dialect [`Binds`].
pub(crate) trait PushExt<DB: Database> {
    fn push_arg<'t, T>(&mut self, value: T) -> &mut Self
    where
        DB: Binds<'t, T>;
}

impl<DB: Database> PushExt<DB> for QueryBuilder<DB> {
    fn push_arg<'t, T>(&mut self, value: T) -> &mut Self
    where
        DB: Binds<'t, T>,
    {
        DB::push_to(self, value);
        self
    }
}

impl<DB: Database> PushExt<DB> for Separated<'_, DB, &'static str> {
    fn push_arg<'t, T>(&mut self, value: T) -> &mut Self
    where
        DB: Binds<'t, T>,
    {
        DB::push_separated(self, value);
        self
    }
}

/// Reading a row's columns by name, as the domain's types. A column that does not decode is
/// [`StoreError::Other`]; its message names the column and the types, never a value.
pub(crate) trait RowExt: Row {
    fn col<T>(&self, column: &str) -> StoreResult<T>
    where
        Self::Database: Reads<T>,
    {
        <Self::Database as Reads<T>>::read(self, column).map_err(|e| StoreError::Other(e.into()))
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>>
    where
        Self::Database: Reads<Time>,
    {
        self.col::<Time>(column).map(|t| t.0)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>
    where
        Self::Database: Reads<Option<Time>>,
    {
        Ok(self.col::<Option<Time>>(column)?.map(|t| t.0))
    }

    fn id(&self, column: &str) -> StoreResult<Uuid>
    where
        Self::Database: Reads<Id>,
    {
        self.col::<Id>(column).map(|id| id.0)
    }

    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>>
    where
        Self::Database: Reads<Option<Id>>,
    {
        Ok(self.col::<Option<Id>>(column)?.map(|id| id.0))
    }
}

impl<R: Row> RowExt for R {}
