//! The SQLite [`MetadataStore`].

use std::collections::{BTreeMap, BTreeSet};

use aimdb_core::request::{self, validate_metrics, validate_predictions};
use aimdb_core::{
    Capabilities, Dataset, DatasetId, Entity, Error, Experiment, ExperimentId, ExperimentRun,
    ExperimentRunDetail, ImportBatch, MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId,
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, Page, Prediction, PredictionId, Result, StoreInfo, StoreStatistics, TrainingRun,
    TrainingRunId, TrainingRunUpdate, time,
};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::bulk;
use super::config::{BUSY_TIMEOUT, SqliteConfig, Target};
use super::rows;
use crate::codec::{self, STATISTICS_SQL, json_text, opt_json_text, parse_json};
use crate::error::{db, write};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Rows per multi-row INSERT: 7 parameters each stays far below SQLite's 32,766.
const METRIC_CHUNK: usize = 2_000;

/// A [`MetadataStore`] on a SQLite file.
///
/// Writes go through a single connection (SQLite allows one writer at a time, so
/// queuing them in the pool beats retrying on `SQLITE_BUSY`); reads use a pool
/// of readers beside it, which WAL allows.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    location: String,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database described by `config`.
    pub async fn open(config: SqliteConfig) -> Result<Self> {
        let options = config.connect_options()?;
        let location = config.location();
        let unavailable = |e: sqlx::Error| db(&format!("open {location}"), e);
        // Held until migrations ran: processes opening a new file (or one a newer aimdb
        // migrates) at once would otherwise both see it unmigrated, and the second fail
        // creating tables that now exist.
        let _opening = match &config.target {
            Target::File(path) if config.create_if_missing || path.exists() => Some(open_lock(path).await?),
            _ => None,
        };
        let (writer, reader) = match config.target {
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
                (pool.clone(), pool)
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
                (writer, reader)
            }
        };
        MIGRATOR.run(&writer).await.map_err(|e| Error::backend(format!("migrate {location}"), e))?;
        Ok(SqliteStore { writer, reader, location })
    }

    /// Opens `sqlite://PATH` (or `sqlite::memory:`) with default settings.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(SqliteConfig::from_url(url)?).await
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        // IMMEDIATE takes the write lock up front, so a transaction never fails
        // half-way on a lock upgrade when another process writes too.
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(|e| db("begin transaction", e))
    }
}

/// Takes the lock on `PATH.lock` that serialises opening (and migrating) one database file,
/// waiting as long as a writer waits for SQLite's own lock.
async fn open_lock(path: &std::path::Path) -> Result<std::fs::File> {
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
    let wait = move || {
        aimdb_core::fslock::lock_within(&file, aimdb_core::fslock::LockMode::Exclusive, BUSY_TIMEOUT)
            .map(|locked| (file, locked))
    };
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

async fn require(conn: &mut SqliteConnection, entity: Entity, id: i64) -> Result<()> {
    let sql = match entity {
        Entity::Model => "SELECT 1 FROM models WHERE id = ?",
        Entity::ModelVersion => "SELECT 1 FROM model_versions WHERE id = ?",
        Entity::Dataset => "SELECT 1 FROM datasets WHERE id = ?",
        Entity::TrainingRun => "SELECT 1 FROM training_runs WHERE id = ?",
        Entity::Experiment => "SELECT 1 FROM experiments WHERE id = ?",
        other => unreachable!("no table lookup for {other}"),
    };
    let found = sqlx::query(sql).bind(id).fetch_optional(conn).await.map_err(|e| db("check reference", e))?;
    if found.is_some() { Ok(()) } else { Err(Error::not_found(entity, id)) }
}

fn bind_cell<'q>(
    q: sqlx::query::Query<'q, Sqlite, <Sqlite as sqlx::Database>::Arguments>,
    cell: &crate::import::Cell,
) -> sqlx::query::Query<'q, Sqlite, <Sqlite as sqlx::Database>::Arguments> {
    use crate::import::Cell;
    match cell {
        Cell::Int(v) => q.bind(*v),
        Cell::Real(v) => q.bind(*v),
        Cell::Text(v) | Cell::Json(v) => q.bind(v.clone()),
        Cell::Time(v) => q.bind(v.map(time::to_micros)),
    }
}

async fn commit(tx: Transaction<'static, Sqlite>) -> Result<()> {
    tx.commit().await.map_err(|e| db("commit", e))
}

fn one<T>(
    row: Option<SqliteRow>,
    decode: fn(&SqliteRow) -> Result<T>,
    entity: Entity,
    key: impl std::fmt::Display,
) -> Result<T> {
    row.map_or_else(|| Err(Error::not_found(entity, key)), |r| decode(&r))
}

fn all<T>(rows: Vec<SqliteRow>, decode: impl Fn(&SqliteRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(decode).collect()
}

#[async_trait]
impl MetadataStore for SqliteStore {
    fn info(&self) -> StoreInfo {
        let capabilities = if self.location.ends_with(":memory:") {
            Capabilities::ephemeral()
        } else {
            Capabilities::persistent()
        };
        StoreInfo { backend: "sqlite", location: self.location.clone(), capabilities }
    }

    async fn create_model(&self, m: NewModel) -> Result<Model> {
        m.validate()?;
        let now = time::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO models (name, description, architecture, framework, task_type, \
             input_shape, output_shape, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&m.name)
        .bind(&m.description)
        .bind(&m.architecture)
        .bind(&m.framework)
        .bind(&m.task_type)
        .bind(opt_json_text(m.input_shape.as_ref()))
        .bind(opt_json_text(m.output_shape.as_ref()))
        .bind(time::to_micros(now))
        .bind(time::to_micros(now))
        .fetch_one(&self.writer)
        .await
        .map_err(write(Entity::Model, &m.name, None))?;
        Ok(m.into_model(ModelId(id), now))
    }

    async fn get_model(&self, id: ModelId) -> Result<Model> {
        let row = sqlx::query(concat!("SELECT ", model_columns!(), " FROM models WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get model", e))?;
        one(row, rows::model, Entity::Model, id)
    }

    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        let row = sqlx::query(concat!("SELECT ", model_columns!(), " FROM models WHERE name = ?"))
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get model", e))?;
        one(row, rows::model, Entity::Model, name)
    }

    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            model_columns!(),
            " FROM models WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db("list models", e))?;
        all(found, rows::model)
    }

    async fn create_model_version(&self, v: NewModelVersion) -> Result<ModelVersion> {
        v.validate()?;
        let now = time::now();
        let key = format!("{} of model {}", v.version, v.model_id);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO model_versions (model_id, version, checkpoint_path, config, status, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(v.model_id.0)
        .bind(&v.version)
        .bind(&v.checkpoint_path)
        .bind(opt_json_text(v.config.as_ref()))
        .bind(v.status.as_deref().unwrap_or(request::DEFAULT_VERSION_STATUS))
        .bind(time::to_micros(now))
        .fetch_one(&self.writer)
        .await
        .map_err(write(Entity::ModelVersion, key, Some((Entity::Model, v.model_id.0))))?;
        Ok(v.into_version(ModelVersionId(id), now))
    }

    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        let row = sqlx::query(concat!("SELECT ", version_columns!(), " FROM model_versions WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get model version", e))?;
        one(row, rows::version, Entity::ModelVersion, id)
    }

    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        let mut conn = self.reader.acquire().await.map_err(|e| db("get model versions", e))?;
        require(&mut conn, Entity::Model, model_id.0).await?;
        let found = sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM model_versions WHERE model_id = ? ORDER BY created_at DESC, id DESC"
        ))
        .bind(model_id.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get model versions", e))?;
        all(found, rows::version)
    }

    async fn create_dataset(&self, d: NewDataset) -> Result<Dataset> {
        d.validate()?;
        let now = time::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO datasets (name, description, source_path, format, size_bytes, num_samples, \
             split_info, preprocessing, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&d.name)
        .bind(&d.description)
        .bind(&d.source_path)
        .bind(&d.format)
        .bind(d.size_bytes)
        .bind(d.num_samples)
        .bind(opt_json_text(d.split_info.as_ref()))
        .bind(opt_json_text(d.preprocessing.as_ref()))
        .bind(time::to_micros(now))
        .fetch_one(&self.writer)
        .await
        .map_err(write(Entity::Dataset, &d.name, None))?;
        Ok(d.into_dataset(DatasetId(id), now))
    }

    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        let row = sqlx::query(concat!("SELECT ", dataset_columns!(), " FROM datasets WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get dataset", e))?;
        one(row, rows::dataset, Entity::Dataset, id)
    }

    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        let row = sqlx::query(concat!("SELECT ", dataset_columns!(), " FROM datasets WHERE name = ?"))
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get dataset", e))?;
        one(row, rows::dataset, Entity::Dataset, name)
    }

    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            dataset_columns!(),
            " FROM datasets WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db("list datasets", e))?;
        all(found, rows::dataset)
    }

    async fn create_training_run(&self, r: NewTrainingRun) -> Result<TrainingRun> {
        r.validate()?;
        let now = time::now();
        let mut tx = self.begin().await?;
        // Two parents: check each so the error names the missing one.
        require(&mut tx, Entity::ModelVersion, r.model_version_id.0).await?;
        if let Some(dataset) = r.dataset_id {
            require(&mut tx, Entity::Dataset, dataset.0).await?;
        }
        let run = r.into_run(TrainingRunId(0), now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO training_runs (model_version_id, dataset_id, run_name, status, started_at, artifacts) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(run.model_version_id.0)
        .bind(run.dataset_id.map(|d| d.0))
        .bind(&run.run_name)
        .bind(&run.status)
        .bind(time::to_micros(run.started_at))
        .bind(opt_json_text(run.artifacts.as_ref()))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db("create training run", e))?;
        commit(tx).await?;
        Ok(TrainingRun { id: TrainingRunId(id), ..run })
    }

    async fn update_training_run(&self, id: TrainingRunId, u: TrainingRunUpdate) -> Result<TrainingRun> {
        u.validate()?;
        let row = sqlx::query(concat!(
            "UPDATE training_runs SET status = COALESCE(?, status), \
             completed_at = COALESCE(?, completed_at), duration_seconds = COALESCE(?, duration_seconds), \
             final_loss = COALESCE(?, final_loss), best_metric_value = COALESCE(?, best_metric_value), \
             artifacts = COALESCE(?, artifacts) WHERE id = ? RETURNING ",
            run_columns!()
        ))
        .bind(&u.status)
        .bind(u.completed_at.map(|t| time::to_micros(time::truncate(t))))
        .bind(u.duration_seconds)
        .bind(u.final_loss)
        .bind(u.best_metric_value)
        .bind(opt_json_text(u.artifacts.as_ref()))
        .bind(id.0)
        .fetch_optional(&self.writer)
        .await
        .map_err(|e| db("update training run", e))?;
        one(row, rows::run, Entity::TrainingRun, id)
    }

    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        let row = sqlx::query(concat!("SELECT ", run_columns!(), " FROM training_runs WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get training run", e))?;
        one(row, rows::run, Entity::TrainingRun, id)
    }

    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM training_runs WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db("list training runs", e))?;
        all(found, rows::run)
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        request::validate_hyperparameters(&params)?;
        let mut tx = self.begin().await?;
        require(&mut tx, Entity::TrainingRun, run.0).await?;
        for (name, value) in &params {
            sqlx::query(
                "INSERT INTO hyperparameters (training_run_id, name, value) VALUES (?, ?, ?) \
                 ON CONFLICT (training_run_id, name) DO UPDATE SET value = excluded.value",
            )
            .bind(run.0)
            .bind(name)
            .bind(json_text(value))
            .execute(&mut *tx)
            .await
            .map_err(|e| db("log hyperparameter", e))?;
        }
        commit(tx).await
    }

    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        let mut conn = self.reader.acquire().await.map_err(|e| db("get hyperparameters", e))?;
        require(&mut conn, Entity::TrainingRun, run.0).await?;
        let found = sqlx::query("SELECT name, value FROM hyperparameters WHERE training_run_id = ?")
            .bind(run.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| db("get hyperparameters", e))?;
        found
            .iter()
            .map(|row| {
                let name: String = row.try_get(0).map_err(|e| db("decode hyperparameter", e))?;
                let value: String = row.try_get(1).map_err(|e| db("decode hyperparameter", e))?;
                Ok((name, parse_json("hyperparameters.value", &value)?))
            })
            .collect()
    }

    async fn log_metric(&self, run: TrainingRunId, m: NewMetric) -> Result<Metric> {
        m.validate()?;
        let metric = m.into_metric(run, time::now());
        sqlx::query(
            "INSERT INTO metrics (training_run_id, metric_name, metric_value, epoch, step, split, timestamp) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run.0)
        .bind(&metric.metric_name)
        .bind(metric.metric_value)
        .bind(metric.epoch)
        .bind(metric.step)
        .bind(&metric.split)
        .bind(time::to_micros(metric.timestamp))
        .execute(&self.writer)
        .await
        .map_err(write(Entity::Metric, &metric.metric_name, Some((Entity::TrainingRun, run.0))))?;
        Ok(metric)
    }

    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        validate_metrics(&metrics)?;
        let now = time::now();
        let n = metrics.len();
        let mut tx = self.begin().await?;
        require(&mut tx, Entity::TrainingRun, run.0).await?;
        let metrics: Vec<_> = metrics.into_iter().map(|m| m.into_metric(run, now)).collect();
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO metrics (training_run_id, metric_name, metric_value, epoch, step, split, timestamp) ",
        );
        for chunk in metrics.chunks(METRIC_CHUNK) {
            insert.reset();
            insert.push_values(chunk, |mut row, m| {
                row.push_bind(run.0)
                    .push_bind(&m.metric_name)
                    .push_bind(m.metric_value)
                    .push_bind(m.epoch)
                    .push_bind(m.step)
                    .push_bind(&m.split)
                    .push_bind(time::to_micros(m.timestamp));
            });
            insert.build().execute(&mut *tx).await.map_err(|e| db("log metrics", e))?;
        }
        commit(tx).await?;
        Ok(n)
    }

    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        let mut conn = self.reader.acquire().await.map_err(|e| db("get metrics", e))?;
        require(&mut conn, Entity::TrainingRun, run.0).await?;
        let mut handle = conn.lock_handle().await.map_err(|e| db("get metrics", e))?;
        let raw = handle.as_raw_handle();
        // The read is synchronous SQLite work (~20 ms for 100k points): tell a
        // multi-threaded runtime so other tasks move off this thread meanwhile.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| bulk::read_metrics(raw, run, name))
            }
            _ => bulk::read_metrics(raw, run, name),
        }
    }

    async fn create_experiment(&self, e: NewExperiment) -> Result<Experiment> {
        e.validate()?;
        let now = time::now();
        let experiment = e.into_experiment(ExperimentId(0), now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO experiments (name, description, hypothesis, status, created_at, completed_at, results) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&experiment.name)
        .bind(&experiment.description)
        .bind(&experiment.hypothesis)
        .bind(&experiment.status)
        .bind(time::to_micros(now))
        .bind(experiment.completed_at.map(time::to_micros))
        .bind(opt_json_text(experiment.results.as_ref()))
        .fetch_one(&self.writer)
        .await
        .map_err(write(Entity::Experiment, &experiment.name, None))?;
        Ok(Experiment { id: ExperimentId(id), ..experiment })
    }

    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        let row = sqlx::query(concat!("SELECT ", experiment_columns!(), " FROM experiments WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get experiment", e))?;
        one(row, rows::experiment, Entity::Experiment, id)
    }

    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            experiment_columns!(),
            " FROM experiments WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db("list experiments", e))?;
        all(found, rows::experiment)
    }

    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        let key = format!("run {} in experiment {}", link.training_run_id, link.experiment_id);
        let mut tx = self.begin().await?;
        require(&mut tx, Entity::Experiment, link.experiment_id.0).await?;
        require(&mut tx, Entity::TrainingRun, link.training_run_id.0).await?;
        sqlx::query(
            "INSERT INTO experiment_runs (experiment_id, training_run_id, variant_name, notes) VALUES (?, ?, ?, ?)",
        )
        .bind(link.experiment_id.0)
        .bind(link.training_run_id.0)
        .bind(&link.variant_name)
        .bind(&link.notes)
        .execute(&mut *tx)
        .await
        .map_err(write(Entity::ExperimentRun, key, None))?;
        commit(tx).await?;
        Ok(link.into_experiment_run())
    }

    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        let mut conn = self.reader.acquire().await.map_err(|e| db("get experiment runs", e))?;
        require(&mut conn, Entity::Experiment, id.0).await?;
        let found = sqlx::query(
            "SELECT er.experiment_id, er.training_run_id, er.variant_name, er.notes, \
             tr.status, tr.final_loss, tr.best_metric_value \
             FROM experiment_runs er JOIN training_runs tr ON tr.id = er.training_run_id \
             WHERE er.experiment_id = ? ORDER BY er.id",
        )
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get experiment runs", e))?;
        all(found, rows::experiment_run)
    }

    async fn log_prediction(&self, p: NewPrediction) -> Result<Prediction> {
        p.validate()?;
        let prediction = p.into_prediction(PredictionId(0), time::now());
        let id = insert_prediction(&self.writer, &prediction).await.map_err(write(
            Entity::Prediction,
            "",
            Some((Entity::ModelVersion, prediction.model_version_id.0)),
        ))?;
        Ok(Prediction { id: PredictionId(id), ..prediction })
    }

    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        validate_predictions(&predictions)?;
        if predictions.is_empty() {
            return Ok(Vec::new());
        }
        let now = time::now();
        let mut tx = self.begin().await?;
        let versions: BTreeSet<_> = predictions.iter().map(|p| p.model_version_id.0).collect();
        for version in versions {
            require(&mut tx, Entity::ModelVersion, version).await?;
        }
        let mut logged = Vec::with_capacity(predictions.len());
        for p in predictions {
            let prediction = p.into_prediction(PredictionId(0), now);
            let id = insert_prediction(&mut *tx, &prediction).await.map_err(|e| db("log predictions", e))?;
            logged.push(Prediction { id: PredictionId(id), ..prediction });
        }
        commit(tx).await?;
        Ok(logged)
    }

    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        let row = sqlx::query(concat!("SELECT ", prediction_columns!(), " FROM predictions WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| db("get prediction", e))?;
        one(row, rows::prediction, Entity::Prediction, id)
    }

    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        let mut conn = self.reader.acquire().await.map_err(|e| db("get predictions", e))?;
        require(&mut conn, Entity::ModelVersion, version.0).await?;
        let found = sqlx::query(concat!(
            "SELECT ",
            prediction_columns!(),
            " FROM predictions WHERE model_version_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?"
        ))
        .bind(version.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get predictions", e))?;
        all(found, rows::prediction)
    }

    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            prediction_columns!(),
            " FROM predictions WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db("list predictions", e))?;
        all(found, rows::prediction)
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        batch.validate()?;
        let plan = crate::import::plan(&batch);
        let mut tx = self.begin().await?;
        // INTEGER PRIMARY KEY: later ids continue after the highest one by themselves.
        let written = insert_plan!(&mut tx, &plan,
            bind: bind_cell, require: require, placeholder: |_, _| "?".to_owned(), range: ("?", "?"), prefix: "")
        .await?;
        commit(tx).await?;
        Ok(written)
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        let row =
            sqlx::query(STATISTICS_SQL).fetch_one(&self.reader).await.map_err(|e| db("statistics", e))?;
        codec::statistics(&row)
    }

    async fn close(&self) -> Result<()> {
        self.reader.close().await;
        self.writer.close().await;
        Ok(())
    }
}

async fn insert_prediction<'c, E>(conn: E, p: &Prediction) -> std::result::Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    sqlx::query_scalar(
        "INSERT INTO predictions (model_version_id, input_data, output_data, confidence, \
         inference_time_ms, timestamp, metadata) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(p.model_version_id.0)
    .bind(json_text(&p.input_data))
    .bind(json_text(&p.output_data))
    .bind(p.confidence)
    .bind(p.inference_time_ms)
    .bind(time::to_micros(p.timestamp))
    .bind(opt_json_text(p.metadata.as_ref()))
    .fetch_one(conn)
    .await
}
