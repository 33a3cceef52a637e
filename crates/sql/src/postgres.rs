//! PostgreSQL: `$n` placeholders, `json` columns, `timestamptz`, identity ids.

use aimdb_core::config::StoreScheme;
use aimdb_core::{Capabilities, Error, Metric, Result, Timestamp, TrainingRunId};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgQueryResult, PgRow};
use sqlx::{ConnectOptions, Row as _};

use crate::dialect::{Dialect, Query, Sealed};
use crate::error::driver_error;
use crate::schema::{Cell, Kind};
use crate::{ServerConfig, SqlStore};

/// URL schemes that select PostgreSQL.
pub const URL_SCHEMES: &[&str] = StoreScheme::Postgres.url_schemes();

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The PostgreSQL dialect.
#[derive(Clone, Copy, Debug)]
pub struct Postgres;

impl Sealed for Postgres {}

impl Dialect for Postgres {
    type DB = sqlx::Postgres;
    const NAME: &'static str = "postgres";
    const URL_SCHEMES: &'static [&'static str] = URL_SCHEMES;
    const RETURNING_ID: bool = true;
    // Only imports use it: metrics go in as column arrays (see `insert_metrics`).
    const METRIC_CHUNK: usize = 5_000;
    // Ids are GENERATED ALWAYS: an explicit one must say so.
    const EXPLICIT_ID: &'static str = "OVERRIDING SYSTEM VALUE ";

    /// Numbers the `?` placeholders `$1, $2, ...`; casts stay.
    fn render(template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut n = 0;
        for ch in template.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    }

    fn bind(query: Query<'_, Self>, cell: Cell) -> Query<'_, Self> {
        match cell {
            Cell::Int(v) => query.bind(v),
            Cell::Real(v) => query.bind(v),
            Cell::Text(v) => query.bind(v),
            Cell::Time(v) => query.bind(v),
        }
    }

    fn read(row: &PgRow, index: usize, kind: Kind) -> std::result::Result<Cell, sqlx::Error> {
        Ok(match kind {
            Kind::Int => Cell::Int(row.try_get(index)?),
            Kind::Real => Cell::Real(row.try_get(index)?),
            Kind::Text | Kind::Json => Cell::Text(row.try_get(index)?),
            Kind::Time => Cell::Time(row.try_get(index)?),
        })
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn last_insert_id(_: &PgQueryResult) -> i64 {
        unreachable!("PostgreSQL inserts read their id with RETURNING")
    }

    fn insert_metrics<'a>(
        conn: &'a mut PgConnection,
        run: TrainingRunId,
        metrics: &'a [Metric],
    ) -> impl Future<Output = Option<Result<()>>> + Send + 'a {
        async move { Some(insert_metrics(conn, run, metrics).await) }
    }

    fn after_explicit_ids<'a>(
        conn: &'a mut PgConnection,
        table: &'static str,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        async move {
            // The identity sequence does not see explicit ids: move it past the highest.
            let bump = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), m, true) \
                 FROM (SELECT MAX(id) AS m FROM {table}) t WHERE m IS NOT NULL"
            );
            sqlx::query(sqlx::AssertSqlSafe(bump))
                .execute(conn)
                .await
                .map_err(|e| driver_error(&format!("import: move the {table} id sequence"), e))?;
            Ok(())
        }
    }
}

/// Column arrays and UNNEST: one statement, no parameter limit, rows in order.
async fn insert_metrics(conn: &mut PgConnection, run: TrainingRunId, metrics: &[Metric]) -> Result<()> {
    let column = |f: fn(&Metric) -> &str| metrics.iter().map(f).collect::<Vec<_>>();
    let (names, splits) = (column(|m| &m.metric_name), column(|m| &m.split));
    let values: Vec<f64> = metrics.iter().map(|m| m.metric_value).collect();
    let epochs: Vec<Option<i64>> = metrics.iter().map(|m| m.epoch).collect();
    let steps: Vec<Option<i64>> = metrics.iter().map(|m| m.step).collect();
    let stamps: Vec<Timestamp> = metrics.iter().map(|m| m.timestamp).collect();
    sqlx::query(
        "INSERT INTO metrics (training_run_id, metric_name, metric_value, epoch, step, split, timestamp) \
         SELECT $1, n, v, e, s, sp, t FROM UNNEST($2::text[], $3::float8[], $4::int8[], $5::int8[], \
         $6::text[], $7::timestamptz[]) WITH ORDINALITY AS m (n, v, e, s, sp, t, ord) ORDER BY ord",
    )
    .bind(run.0)
    .bind(names)
    .bind(values)
    .bind(epochs)
    .bind(steps)
    .bind(splits)
    .bind(stamps)
    .execute(conn)
    .await
    .map_err(|e| driver_error("log metrics", e))?;
    Ok(())
}

impl SqlStore<Postgres> {
    /// Connects (running migrations if needed) with `config`.
    pub async fn open(config: ServerConfig<Postgres>) -> Result<Self> {
        let location = config.url.redacted();
        let options: PgConnectOptions = config.parse(config.url.expose())?;
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options.log_statements(config.log_level()))
            .await
            .map_err(|e| driver_error(&format!("connect to {location}"), e))?;
        MIGRATOR.run(&pool).await.map_err(|e| Error::backend(format!("migrate {location}"), e))?;
        Ok(SqlStore::from_pools(pool.clone(), pool, location, Capabilities::server()))
    }

    /// Connects to `postgres://...` with default settings.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(ServerConfig::from_url(url)?).await
    }
}
