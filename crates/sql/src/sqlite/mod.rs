//! SQLite: the embedded default store.

mod bulk;
mod config;

use std::path::Path;

use aimdb_core::fslock::{LockMode, lock_within};
use aimdb_core::{Capabilities, Error, Metric, Result, TrainingRunId, time};
use sqlx::Row as _;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnection, SqlitePoolOptions, SqliteQueryResult, SqliteRow};

use config::{BUSY_TIMEOUT, Target};
pub use config::{SqliteConfig, URL_SCHEMES};

use crate::SqlStore;
use crate::dialect::{Dialect, Query, Sealed};
use crate::error::driver_error;
use crate::schema::{Cell, Kind};
use crate::store::RunDetails;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The SQLite dialect: times as microseconds, JSON as text.
#[derive(Clone, Copy, Debug)]
pub struct Sqlite;

impl Sealed for Sqlite {}

impl Dialect for Sqlite {
    type DB = sqlx::Sqlite;
    const NAME: &'static str = "sqlite";
    const URL_SCHEMES: &'static [&'static str] = URL_SCHEMES;
    // IMMEDIATE takes the write lock up front, so a transaction never fails half-way
    // on a lock upgrade when another process writes too.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    // Measured: RETURNING id costs ~60 µs less per insert than the query result's
    // last_insert_rowid through sqlx (criterion, create_model).
    const RETURNING_ID: bool = true;
    // 7 parameters per row stays far below SQLite's 32,766.
    const METRIC_CHUNK: usize = 2_000;

    fn bind(query: Query<'_, Self>, cell: Cell) -> Query<'_, Self> {
        match cell {
            Cell::Int(v) => query.bind(v),
            Cell::Real(v) => query.bind(v),
            Cell::Text(v) => query.bind(v),
            Cell::Time(v) => query.bind(v.map(time::to_micros)),
        }
    }

    fn read(row: &SqliteRow, index: usize, kind: Kind) -> std::result::Result<Cell, sqlx::Error> {
        Ok(match kind {
            Kind::Int => Cell::Int(row.try_get(index)?),
            Kind::Real => Cell::Real(row.try_get(index)?),
            Kind::Text | Kind::Json => Cell::Text(row.try_get(index)?),
            Kind::Time => Cell::Time(match row.try_get::<Option<i64>, _>(index)? {
                Some(us) => Some(
                    time::from_micros(us)
                        .ok_or_else(|| sqlx::Error::Decode(format!("{us} µs is out of range").into()))?,
                ),
                None => None,
            }),
        })
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn last_insert_id(result: &SqliteQueryResult) -> i64 {
        result.last_insert_rowid()
    }

    fn read_metrics<'a>(
        conn: &'a mut SqliteConnection,
        run: TrainingRunId,
        name: Option<&'a str>,
    ) -> impl Future<Output = Option<Result<Vec<Metric>>>> + Send + 'a {
        async move { Some(read_metrics(conn, run, name).await) }
    }

    fn read_run_details<'a>(
        conn: &'a mut SqliteConnection,
        runs: &'a [i64],
    ) -> impl Future<Output = Option<Result<RunDetails>>> + Send + 'a {
        async move { Some(read_run_details(conn, runs).await) }
    }

    fn insert_metrics<'a>(
        conn: &'a mut SqliteConnection,
        _run: TrainingRunId,
        metrics: &'a [Metric],
    ) -> impl Future<Output = Option<Result<()>>> + Send + 'a {
        async move { Some(insert_metrics(conn, metrics).await) }
    }
}

/// Metrics stepped into SQLite's statement one by one (see `bulk.rs` for why).
async fn insert_metrics(conn: &mut SqliteConnection, metrics: &[Metric]) -> Result<()> {
    let mut handle = conn.lock_handle().await.map_err(|e| driver_error("log metrics", e))?;
    let raw = handle.as_raw_handle();
    synchronous(|| bulk::insert_metrics(raw, metrics))
}

/// The metrics of `run` straight from SQLite's statement (see `bulk.rs` for why).
async fn read_metrics(
    conn: &mut SqliteConnection,
    run: TrainingRunId,
    name: Option<&str>,
) -> Result<Vec<Metric>> {
    let mut handle = conn.lock_handle().await.map_err(|e| driver_error("get metrics", e))?;
    let raw = handle.as_raw_handle();
    synchronous(|| bulk::read_metrics(raw, run, name))
}

/// Run summaries' details straight from SQLite's statements (see `bulk.rs` for why).
async fn read_run_details(conn: &mut SqliteConnection, runs: &[i64]) -> Result<RunDetails> {
    let mut handle = conn.lock_handle().await.map_err(|e| driver_error("read run summaries", e))?;
    let raw = handle.as_raw_handle();
    synchronous(|| bulk::read_run_details(raw, runs))
}

/// Runs synchronous SQLite work (~20 ms for 100k points) on this thread, telling a
/// multi-threaded runtime first so other tasks move off it meanwhile.
fn synchronous<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating and migrating if needed) the database described by `config`.
    pub async fn open(config: SqliteConfig) -> Result<Self> {
        let options = config.connect_options()?;
        let location = config.location();
        let unavailable = |e: sqlx::Error| driver_error(&format!("open {location}"), e);
        // Held until migrations ran: processes opening a new file (or one a newer aimdb
        // migrates) at once would otherwise both see it unmigrated, and the second fail
        // creating tables that now exist.
        let _opening = match &config.target {
            Target::File(path) if config.create_if_missing || path.exists() => Some(open_lock(path).await?),
            _ => None,
        };
        let (writer, reader, capabilities) = match config.target {
            Target::Memory => {
                // Every connection to :memory: is its own database: keep exactly one, forever.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await
                    .map_err(unavailable)?;
                (pool.clone(), pool, Capabilities::ephemeral())
            }
            Target::File(path) => {
                if config.create_if_missing
                    && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::backend(format!("create directory {} for {location}", dir.display()), e)
                    })?;
                }
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options.clone())
                    .await
                    .map_err(unavailable)?;
                let reader =
                    SqlitePoolOptions::new().max_connections(config.readers).connect_lazy_with(options);
                (writer, reader, Capabilities::persistent())
            }
        };
        MIGRATOR.run(&writer).await.map_err(|e| Error::backend(format!("migrate {location}"), e))?;
        Ok(SqlStore::from_pools(writer, reader, location, capabilities))
    }

    /// Opens `sqlite://PATH` (or `sqlite::memory:`) with default settings.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(SqliteConfig::from_url(url)?).await
    }
}

/// Takes the lock on `PATH.lock` that serialises opening (and migrating) one database file,
/// waiting as long as a writer waits for SQLite's own lock.
async fn open_lock(path: &Path) -> Result<std::fs::File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::backend(format!("create directory {}", dir.display()), e))?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::backend(format!("open {}", lock_path.display()), e))?;
    let wait = move || lock_within(&file, LockMode::Exclusive, BUSY_TIMEOUT).map(|locked| (file, locked));
    let (file, locked) = tokio::task::spawn_blocking(wait)
        .await
        .map_err(|e| Error::backend("open lock task", e))?
        .map_err(|e| Error::backend(format!("lock {}", lock_path.display()), e))?;
    if !locked {
        return Err(Error::unavailable(
            format!("{} is being opened by another process for over {BUSY_TIMEOUT:?}", path.display()),
            "open lock timeout",
        ));
    }
    Ok(file)
}
