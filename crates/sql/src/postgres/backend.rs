//! The PostgreSQL [`MetadataStore`].

use std::collections::{BTreeMap, BTreeSet};

use aimdb_core::request::{self, validate_metrics, validate_predictions};
use aimdb_core::{
    Capabilities, Dataset, DatasetId, Entity, Error, Experiment, ExperimentId, ExperimentRun,
    ExperimentRunDetail, ImportBatch, MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId,
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, Page, Prediction, PredictionId, Result, StoreInfo, StoreStatistics, Timestamp,
    TrainingRun, TrainingRunId, TrainingRunUpdate, time,
};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::config::PostgresConfig;
use super::rows::{self, *};
use crate::codec::{self, STATISTICS_SQL, json_text, opt_json_text, parse_json};
use crate::error::{db, write};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// A [`MetadataStore`] on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    location: String,
}

impl PostgresStore {
    /// Connects (running migrations if needed) with `config`.
    pub async fn open(config: PostgresConfig) -> Result<Self> {
        let location = config.url.redacted();
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(config.connect_options()?)
            .await
            .map_err(|e| db(&format!("connect to {location}"), e))?;
        MIGRATOR.run(&pool).await.map_err(|e| Error::backend(format!("migrate {location}"), e))?;
        Ok(PostgresStore { pool, location })
    }

    /// Connects to `postgres://...` with default settings.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(PostgresConfig::from_url(url)?).await
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(|e| db("begin transaction", e))
    }

    async fn one<T>(
        &self,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
        decode: fn(&PgRow) -> Result<T>,
        entity: Entity,
        key: impl std::fmt::Display,
    ) -> Result<T> {
        let row = query.fetch_optional(&self.pool).await.map_err(|e| db(&format!("get {entity}"), e))?;
        row.map_or_else(|| Err(Error::not_found(entity, key)), |r| decode(&r))
    }

    async fn all<T>(
        &self,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
        decode: fn(&PgRow) -> Result<T>,
        what: &str,
    ) -> Result<Vec<T>> {
        let rows = query.fetch_all(&self.pool).await.map_err(|e| db(what, e))?;
        rows.iter().map(decode).collect()
    }
}

async fn require(conn: &mut PgConnection, entity: Entity, id: i64) -> Result<()> {
    let sql = match entity {
        Entity::Model => "SELECT 1 FROM models WHERE id = $1",
        Entity::ModelVersion => "SELECT 1 FROM model_versions WHERE id = $1",
        Entity::Dataset => "SELECT 1 FROM datasets WHERE id = $1",
        Entity::TrainingRun => "SELECT 1 FROM training_runs WHERE id = $1",
        Entity::Experiment => "SELECT 1 FROM experiments WHERE id = $1",
        other => unreachable!("no table lookup for {other}"),
    };
    let found = sqlx::query_scalar::<_, i32>(sql)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(|e| db("check reference", e))?;
    if found.is_some() { Ok(()) } else { Err(Error::not_found(entity, id)) }
}

fn bind_cell<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    cell: &crate::import::Cell,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    use crate::import::Cell;
    match cell {
        Cell::Int(v) => q.bind(*v),
        Cell::Real(v) => q.bind(*v),
        Cell::Text(v) | Cell::Json(v) => q.bind(v.clone()),
        Cell::Time(v) => q.bind(*v),
    }
}

async fn commit(tx: Transaction<'static, Postgres>) -> Result<()> {
    tx.commit().await.map_err(|e| db("commit", e))
}

#[async_trait]
impl MetadataStore for PostgresStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "postgres",
            location: self.location.clone(),
            capabilities: Capabilities::server(),
        }
    }

    async fn create_model(&self, m: NewModel) -> Result<Model> {
        m.validate()?;
        let now = time::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO models (name, description, architecture, framework, task_type, \
             input_shape, output_shape, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6::json, $7::json, $8, $8) RETURNING id",
        )
        .bind(&m.name)
        .bind(&m.description)
        .bind(&m.architecture)
        .bind(&m.framework)
        .bind(&m.task_type)
        .bind(opt_json_text(m.input_shape.as_ref()))
        .bind(opt_json_text(m.output_shape.as_ref()))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(write(Entity::Model, &m.name, None))?;
        Ok(m.into_model(ModelId(id), now))
    }

    async fn get_model(&self, id: ModelId) -> Result<Model> {
        let q = sqlx::query(concat!("SELECT ", pg_model_columns!(), " FROM models WHERE id = $1")).bind(id.0);
        self.one(q, rows::model, Entity::Model, id).await
    }

    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        let q =
            sqlx::query(concat!("SELECT ", pg_model_columns!(), " FROM models WHERE name = $1")).bind(name);
        self.one(q, rows::model, Entity::Model, name).await
    }

    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            pg_model_columns!(),
            " FROM models WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit());
        self.all(q, rows::model, "list models").await
    }

    async fn create_model_version(&self, v: NewModelVersion) -> Result<ModelVersion> {
        v.validate()?;
        let now = time::now();
        let key = format!("{} of model {}", v.version, v.model_id);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO model_versions (model_id, version, checkpoint_path, config, status, created_at) \
             VALUES ($1, $2, $3, $4::json, $5, $6) RETURNING id",
        )
        .bind(v.model_id.0)
        .bind(&v.version)
        .bind(&v.checkpoint_path)
        .bind(opt_json_text(v.config.as_ref()))
        .bind(v.status.as_deref().unwrap_or(request::DEFAULT_VERSION_STATUS))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(write(Entity::ModelVersion, key, Some((Entity::Model, v.model_id.0))))?;
        Ok(v.into_version(ModelVersionId(id), now))
    }

    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        let q = sqlx::query(concat!("SELECT ", pg_version_columns!(), " FROM model_versions WHERE id = $1"))
            .bind(id.0);
        self.one(q, rows::version, Entity::ModelVersion, id).await
    }

    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        let mut conn = self.pool.acquire().await.map_err(|e| db("get model versions", e))?;
        require(&mut conn, Entity::Model, model_id.0).await?;
        let found = sqlx::query(concat!(
            "SELECT ",
            pg_version_columns!(),
            " FROM model_versions WHERE model_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(model_id.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get model versions", e))?;
        found.iter().map(rows::version).collect()
    }

    async fn create_dataset(&self, d: NewDataset) -> Result<Dataset> {
        d.validate()?;
        let now = time::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO datasets (name, description, source_path, format, size_bytes, num_samples, \
             split_info, preprocessing, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8::json, $9) RETURNING id",
        )
        .bind(&d.name)
        .bind(&d.description)
        .bind(&d.source_path)
        .bind(&d.format)
        .bind(d.size_bytes)
        .bind(d.num_samples)
        .bind(opt_json_text(d.split_info.as_ref()))
        .bind(opt_json_text(d.preprocessing.as_ref()))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(write(Entity::Dataset, &d.name, None))?;
        Ok(d.into_dataset(DatasetId(id), now))
    }

    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        let q =
            sqlx::query(concat!("SELECT ", pg_dataset_columns!(), " FROM datasets WHERE id = $1")).bind(id.0);
        self.one(q, rows::dataset, Entity::Dataset, id).await
    }

    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        let q = sqlx::query(concat!("SELECT ", pg_dataset_columns!(), " FROM datasets WHERE name = $1"))
            .bind(name);
        self.one(q, rows::dataset, Entity::Dataset, name).await
    }

    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            pg_dataset_columns!(),
            " FROM datasets WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit());
        self.all(q, rows::dataset, "list datasets").await
    }

    async fn create_training_run(&self, r: NewTrainingRun) -> Result<TrainingRun> {
        r.validate()?;
        let now = time::now();
        let mut tx = self.begin().await?;
        require(&mut tx, Entity::ModelVersion, r.model_version_id.0).await?;
        if let Some(dataset) = r.dataset_id {
            require(&mut tx, Entity::Dataset, dataset.0).await?;
        }
        let run = r.into_run(TrainingRunId(0), now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO training_runs (model_version_id, dataset_id, run_name, status, started_at, artifacts) \
             VALUES ($1, $2, $3, $4, $5, $6::json) RETURNING id",
        )
        .bind(run.model_version_id.0)
        .bind(run.dataset_id.map(|d| d.0))
        .bind(&run.run_name)
        .bind(&run.status)
        .bind(run.started_at)
        .bind(opt_json_text(run.artifacts.as_ref()))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db("create training run", e))?;
        commit(tx).await?;
        Ok(TrainingRun { id: TrainingRunId(id), ..run })
    }

    async fn update_training_run(&self, id: TrainingRunId, u: TrainingRunUpdate) -> Result<TrainingRun> {
        u.validate()?;
        let q = sqlx::query(concat!(
            "UPDATE training_runs SET status = COALESCE($1, status), \
             completed_at = COALESCE($2, completed_at), duration_seconds = COALESCE($3, duration_seconds), \
             final_loss = COALESCE($4, final_loss), best_metric_value = COALESCE($5, best_metric_value), \
             artifacts = COALESCE($6::json, artifacts) WHERE id = $7 RETURNING ",
            pg_run_columns!()
        ))
        .bind(&u.status)
        .bind(u.completed_at.map(time::truncate))
        .bind(u.duration_seconds)
        .bind(u.final_loss)
        .bind(u.best_metric_value)
        .bind(opt_json_text(u.artifacts.as_ref()))
        .bind(id.0);
        self.one(q, rows::run, Entity::TrainingRun, id).await
    }

    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        let q = sqlx::query(concat!("SELECT ", pg_run_columns!(), " FROM training_runs WHERE id = $1"))
            .bind(id.0);
        self.one(q, rows::run, Entity::TrainingRun, id).await
    }

    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            pg_run_columns!(),
            " FROM training_runs WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit());
        self.all(q, rows::run, "list training runs").await
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        request::validate_hyperparameters(&params)?;
        let mut tx = self.begin().await?;
        require(&mut tx, Entity::TrainingRun, run.0).await?;
        let (names, values): (Vec<&String>, Vec<String>) =
            params.iter().map(|(k, v)| (k, json_text(v))).unzip();
        sqlx::query(
            "INSERT INTO hyperparameters (training_run_id, name, value) \
             SELECT $1, name, value::json FROM UNNEST($2::text[], $3::text[]) AS p (name, value) \
             ON CONFLICT (training_run_id, name) DO UPDATE SET value = excluded.value",
        )
        .bind(run.0)
        .bind(names)
        .bind(values)
        .execute(&mut *tx)
        .await
        .map_err(|e| db("log hyperparameters", e))?;
        commit(tx).await
    }

    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        let mut conn = self.pool.acquire().await.map_err(|e| db("get hyperparameters", e))?;
        require(&mut conn, Entity::TrainingRun, run.0).await?;
        let found = sqlx::query("SELECT name, value::text FROM hyperparameters WHERE training_run_id = $1")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(run.0)
        .bind(&metric.metric_name)
        .bind(metric.metric_value)
        .bind(metric.epoch)
        .bind(metric.step)
        .bind(&metric.split)
        .bind(metric.timestamp)
        .execute(&self.pool)
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
        // Column arrays and UNNEST: one statement, no parameter limit, rows in order.
        let mut names = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        let mut epochs: Vec<Option<i64>> = Vec::with_capacity(n);
        let mut steps: Vec<Option<i64>> = Vec::with_capacity(n);
        let mut splits = Vec::with_capacity(n);
        let mut stamps: Vec<Timestamp> = Vec::with_capacity(n);
        for m in metrics.into_iter().map(|m| m.into_metric(run, now)) {
            names.push(m.metric_name);
            values.push(m.metric_value);
            epochs.push(m.epoch);
            steps.push(m.step);
            splits.push(m.split);
            stamps.push(m.timestamp);
        }
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
        .execute(&mut *tx)
        .await
        .map_err(|e| db("log metrics", e))?;
        commit(tx).await?;
        Ok(n)
    }

    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        let mut conn = self.pool.acquire().await.map_err(|e| db("get metrics", e))?;
        require(&mut conn, Entity::TrainingRun, run.0).await?;
        let found = sqlx::query(concat!(
            "SELECT ",
            pg_metric_columns!(),
            " FROM metrics WHERE training_run_id = $1 AND ($2::text IS NULL OR metric_name = $2) ORDER BY id"
        ))
        .bind(run.0)
        .bind(name)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get metrics", e))?;
        found.iter().map(|row| rows::metric(run, row)).collect()
    }

    async fn create_experiment(&self, e: NewExperiment) -> Result<Experiment> {
        e.validate()?;
        let now = time::now();
        let experiment = e.into_experiment(ExperimentId(0), now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO experiments (name, description, hypothesis, status, created_at, completed_at, results) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::json) RETURNING id",
        )
        .bind(&experiment.name)
        .bind(&experiment.description)
        .bind(&experiment.hypothesis)
        .bind(&experiment.status)
        .bind(now)
        .bind(experiment.completed_at)
        .bind(opt_json_text(experiment.results.as_ref()))
        .fetch_one(&self.pool)
        .await
        .map_err(write(Entity::Experiment, &experiment.name, None))?;
        Ok(Experiment { id: ExperimentId(id), ..experiment })
    }

    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        let q = sqlx::query(concat!("SELECT ", pg_experiment_columns!(), " FROM experiments WHERE id = $1"))
            .bind(id.0);
        self.one(q, rows::experiment, Entity::Experiment, id).await
    }

    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            pg_experiment_columns!(),
            " FROM experiments WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit());
        self.all(q, rows::experiment, "list experiments").await
    }

    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        let key = format!("run {} in experiment {}", link.training_run_id, link.experiment_id);
        let mut tx = self.begin().await?;
        require(&mut tx, Entity::Experiment, link.experiment_id.0).await?;
        require(&mut tx, Entity::TrainingRun, link.training_run_id.0).await?;
        sqlx::query(
            "INSERT INTO experiment_runs (experiment_id, training_run_id, variant_name, notes) VALUES ($1, $2, $3, $4)",
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
        let mut conn = self.pool.acquire().await.map_err(|e| db("get experiment runs", e))?;
        require(&mut conn, Entity::Experiment, id.0).await?;
        let found = sqlx::query(
            "SELECT er.experiment_id, er.training_run_id, er.variant_name, er.notes, \
             tr.status, tr.final_loss, tr.best_metric_value \
             FROM experiment_runs er JOIN training_runs tr ON tr.id = er.training_run_id \
             WHERE er.experiment_id = $1 ORDER BY er.id",
        )
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get experiment runs", e))?;
        found.iter().map(rows::experiment_run).collect()
    }

    async fn log_prediction(&self, p: NewPrediction) -> Result<Prediction> {
        p.validate()?;
        let prediction = p.into_prediction(PredictionId(0), time::now());
        let id = insert_prediction(&self.pool, &prediction).await.map_err(write(
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
        let q = sqlx::query(concat!("SELECT ", pg_prediction_columns!(), " FROM predictions WHERE id = $1"))
            .bind(id.0);
        self.one(q, rows::prediction, Entity::Prediction, id).await
    }

    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        let mut conn = self.pool.acquire().await.map_err(|e| db("get predictions", e))?;
        require(&mut conn, Entity::ModelVersion, version.0).await?;
        let found = sqlx::query(concat!(
            "SELECT ",
            pg_prediction_columns!(),
            " FROM predictions WHERE model_version_id = $1 ORDER BY timestamp DESC, id DESC LIMIT $2"
        ))
        .bind(version.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("get predictions", e))?;
        found.iter().map(rows::prediction).collect()
    }

    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            pg_prediction_columns!(),
            " FROM predictions WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(page.sql_limit());
        self.all(q, rows::prediction, "list predictions").await
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        use crate::import::Cell;
        batch.validate()?;
        let plan = crate::import::plan(&batch);
        let mut tx = self.begin().await?;
        let placeholder = |i: usize, cell: &Cell| match cell {
            Cell::Json(_) => format!("${i}::json"),
            _ => format!("${i}"),
        };
        // Ids are GENERATED ALWAYS: an explicit one must say so.
        let written = insert_plan!(&mut tx, &plan,
            bind: bind_cell, require: require, placeholder: placeholder, range: ("$1", "$2"),
            prefix: "OVERRIDING SYSTEM VALUE ")
        .await?;
        // The identity sequence does not see explicit ids: move it past the highest.
        let bump = format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), m, true) FROM (SELECT MAX(id) AS m FROM {0}) t \
             WHERE m IS NOT NULL",
            plan.table
        );
        sqlx::query(sqlx::AssertSqlSafe(bump))
            .execute(&mut *tx)
            .await
            .map_err(|e| db(&format!("import: move the {} id sequence", plan.entity), e))?;
        commit(tx).await?;
        Ok(written)
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        let row = sqlx::query(STATISTICS_SQL).fetch_one(&self.pool).await.map_err(|e| db("statistics", e))?;
        codec::statistics(&row)
    }

    async fn close(&self) -> Result<()> {
        self.pool.close().await;
        Ok(())
    }
}

async fn insert_prediction<'c, E>(conn: E, p: &Prediction) -> std::result::Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    sqlx::query_scalar(
        "INSERT INTO predictions (model_version_id, input_data, output_data, confidence, \
         inference_time_ms, timestamp, metadata) VALUES ($1, $2::json, $3::json, $4, $5, $6, $7::json) RETURNING id",
    )
    .bind(p.model_version_id.0)
    .bind(json_text(&p.input_data))
    .bind(json_text(&p.output_data))
    .bind(p.confidence)
    .bind(p.inference_time_ms)
    .bind(p.timestamp)
    .bind(opt_json_text(p.metadata.as_ref()))
    .fetch_one(conn)
    .await
}
