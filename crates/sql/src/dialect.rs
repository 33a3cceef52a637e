//! What one SQL database does differently from the others. [`SqlStore`](crate::SqlStore) is
//! written once over this trait; each database implements it in its own module.
//!
//! The trait is public only so that `SqlStore<D>` can be named (`SqliteStore` is
//! `SqlStore<dialect::Sqlite>`); it is sealed, and nothing outside this crate implements it.

use std::fmt::Debug;
use std::future::Future;

use aimdb_core::{Metric, Result, TrainingRunId};

use crate::store::RunDetails;
use sqlx::{Database, Executor, IntoArguments};

#[cfg(feature = "mysql")]
pub use crate::mysql::MySql;
#[cfg(feature = "postgres")]
pub use crate::postgres::Postgres;
pub use crate::schema::{Cell, Kind};
#[cfg(feature = "sqlite")]
pub use crate::sqlite::Sqlite;

/// A query on dialect `D`'s database.
pub(crate) type Query<'q, D> =
    sqlx::query::Query<'q, <D as Dialect>::DB, <<D as Dialect>::DB as Database>::Arguments>;
/// A row of dialect `D`'s database.
pub(crate) type Row<D> = <<D as Dialect>::DB as Database>::Row;
/// A connection of dialect `D`'s database.
pub(crate) type Connection<D> = <<D as Dialect>::DB as Database>::Connection;

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// A connection that statements run on. One bound for what sqlx spells
/// `for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>`, which generic code
/// would otherwise repeat on every function.
pub trait Exec<DB: Database>: Send {
    /// The connection as sqlx's executor.
    fn exec(&mut self) -> impl Executor<'_, Database = DB>;
}

impl<DB: Database, C: Send> Exec<DB> for C
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    fn exec(&mut self) -> impl Executor<'_, Database = DB> {
        self
    }
}

/// One SQL database's differences: placeholders and casts, time and id handling, the
/// upsert clause, and the bulk paths it does better than the generic ones.
pub trait Dialect: Sealed + Debug + Send + Sync + Sized + 'static {
    /// The sqlx driver.
    type DB: Database<Connection: Exec<Self::DB>, Arguments: IntoArguments<Self::DB>>;
    /// The backend name in [`StoreInfo`](aimdb_core::StoreInfo).
    const NAME: &'static str;
    /// URL schemes that select this database.
    const URL_SCHEMES: &'static [&'static str];
    /// Whether an insert reports its id with `RETURNING id` (else the query result has it).
    const RETURNING_ID: bool = false;
    /// The statement that opens a write transaction.
    const BEGIN: &'static str = "BEGIN";
    /// Rows per multi-row insert of metrics (7 parameters each, under the driver's limit).
    const METRIC_CHUNK: usize;
    /// Written between the column list and `VALUES` when inserting explicit ids.
    const EXPLICIT_ID: &'static str = "";
    /// What follows `INSERT INTO hyperparameters ... VALUES ...` to replace a value.
    const UPSERT_HYPERPARAMETER: &'static str =
        "ON CONFLICT (training_run_id, name) DO UPDATE SET value = excluded.value";
    /// What follows the tag insert to replace a tag's value.
    const UPSERT_TAG: &'static str =
        "ON CONFLICT (entity, entity_id, name) DO UPDATE SET value = excluded.value";

    /// This dialect's SQL for `template`, which uses `?` for parameters, `?::json` for a
    /// parameter stored in a JSON column and `column::text` for a JSON column read as text.
    /// The default drops the casts (JSON is text on SQLite and MySQL).
    fn render(template: &str) -> String {
        template.replace("::json", "").replace("::text", "")
    }

    /// Binds one value.
    fn bind(query: Query<'_, Self>, cell: Cell) -> Query<'_, Self>;

    /// Reads column `index` of `row` as `kind`.
    fn read(row: &Row<Self>, index: usize, kind: Kind) -> std::result::Result<Cell, sqlx::Error>;

    /// The id an insert without `RETURNING` created.
    fn last_insert_id(result: &<Self::DB as Database>::QueryResult) -> i64;

    /// How many rows a statement changed.
    fn rows_affected(result: &<Self::DB as Database>::QueryResult) -> u64;

    /// Inserts `metrics` of `run` inside a transaction; `None` leaves it to the generic
    /// multi-row insert.
    fn insert_metrics<'a>(
        conn: &'a mut Connection<Self>,
        run: TrainingRunId,
        metrics: &'a [Metric],
    ) -> impl Future<Output = Option<Result<()>>> + Send + 'a {
        let _ = (conn, run, metrics);
        async { None }
    }

    /// Reads the metrics of `run` (optionally one name) in logging order; `None` leaves it
    /// to the generic query.
    fn read_metrics<'a>(
        conn: &'a mut Connection<Self>,
        run: TrainingRunId,
        name: Option<&'a str>,
    ) -> impl Future<Output = Option<Result<Vec<Metric>>>> + Send + 'a {
        let _ = (conn, run, name);
        async { None }
    }

    /// Reads the hyperparameters, tags and latest metric points of `runs`; `None` leaves
    /// it to the generic queries.
    fn read_run_details<'a>(
        conn: &'a mut Connection<Self>,
        runs: &'a [i64],
    ) -> impl Future<Output = Option<Result<RunDetails>>> + Send + 'a {
        let _ = (conn, runs);
        async { None }
    }

    /// Runs after rows with explicit ids went into `table`, in the same transaction.
    fn after_explicit_ids<'a>(
        conn: &'a mut Connection<Self>,
        table: &'static str,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let _ = (conn, table);
        async { Ok(()) }
    }
}
