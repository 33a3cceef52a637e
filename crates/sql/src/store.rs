//! [`SqlStore`]: the whole [`MetadataStore`], written once for every SQL database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use aimdb_core::request::{self, validate_metrics, validate_predictions};
use aimdb_core::{
    Capabilities, Dataset, DatasetId, Entity, Error, Experiment, ExperimentId, ExperimentRun,
    ExperimentRunDetail, ImportBatch, MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId,
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, Page, Prediction, PredictionId, Result, RunSummary, StoreInfo, StoreStatistics,
    TagTarget, TrainingRun, TrainingRunId, TrainingRunUpdate, time, validate_tags,
};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Pool, Transaction};

use crate::codec::count;
use crate::dialect::{Connection, Dialect, Exec, Query};
use crate::error::{driver_error, write_error};
use crate::schema::{self, Cell, Cols, Column, Kind, Record, table_of};
use crate::statements::{self, Sql, Statements};

/// What a [`RunSummary`] adds to its run, by run id.
#[derive(Debug, Default)]
pub struct RunDetails {
    pub(crate) hyperparameters: HashMap<i64, BTreeMap<String, Value>>,
    pub(crate) tags: HashMap<i64, BTreeMap<String, String>>,
    /// Each metric's latest point ([`RunSummary::latest_points`]).
    pub(crate) latest: HashMap<i64, BTreeMap<String, Metric>>,
}

impl RunDetails {
    /// Three reads per chunk of runs instead of four per run.
    async fn read_generic<D: Dialect>(conn: &mut Connection<D>, runs: &[i64]) -> Result<Self> {
        let what = "read run summaries";
        let mut details = RunDetails::default();
        for chunk in runs.chunks(ID_CHUNK) {
            let ids = || chunk.iter().map(|&id| int(id));
            let rows = bind_all::<D>(query::<D>(&statements::hyperparameters_of::<D>(chunk.len())), ids())
                .fetch_all(conn.exec())
                .await
                .map_err(|e| driver_error(what, e))?;
            for row in &rows {
                let c = &mut Cols::<D>::new(row, &[]);
                let (run, name, value): (i64, String, Value) = (c.read()?, c.read()?, c.read()?);
                details.hyperparameters.entry(run).or_default().insert(name, value);
            }
            let keys = std::iter::once(Entity::TrainingRun.as_str().to_owned().cell()).chain(ids());
            let rows = bind_all::<D>(query::<D>(&statements::tags_of::<D>(chunk.len())), keys)
                .fetch_all(conn.exec())
                .await
                .map_err(|e| driver_error(what, e))?;
            for row in &rows {
                let c = &mut Cols::<D>::new(row, &[]);
                let (run, name, value): (i64, String, String) = (c.read()?, c.read()?, c.read()?);
                details.tags.entry(run).or_default().insert(name, value);
            }
            let rows = bind_all::<D>(query::<D>(&statements::latest_metrics_of::<D>(chunk.len())), ids())
                .fetch_all(conn.exec())
                .await
                .map_err(|e| driver_error(what, e))?;
            for row in &rows {
                let c = &mut Cols::<D>::new(row, &[]);
                let run = TrainingRunId(c.read()?);
                let metric = schema::decode_metric(run, c)?;
                details.latest.entry(run.0).or_default().insert(metric.metric_name.clone(), metric);
            }
        }
        Ok(details)
    }
}

/// Rows per `SELECT ... WHERE id IN (...)` and per hyperparameter upsert.
const ID_CHUNK: usize = 500;

/// A [`MetadataStore`] on a SQL database; `D` says which
/// ([`SqliteStore`](crate::SqliteStore), [`PostgresStore`](crate::PostgresStore),
/// [`MySqlStore`](crate::MySqlStore)).
///
/// Writes go through `writer` and reads through `reader`: one pool on a server, and on
/// SQLite a single writer connection (SQLite allows one writer at a time, so queuing in
/// the pool beats retrying on `SQLITE_BUSY`) beside a pool of readers, which WAL allows.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    writer: Pool<D::DB>,
    reader: Pool<D::DB>,
    location: String,
    capabilities: Capabilities,
    sql: Arc<Statements>,
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            location: self.location.clone(),
            capabilities: self.capabilities,
            sql: Arc::clone(&self.sql),
        }
    }
}

fn query<D: Dialect>(sql: &Sql) -> Query<'static, D> {
    sqlx::query(AssertSqlSafe(Arc::clone(sql)))
}

fn bind_all<D: Dialect>(mut q: Query<'_, D>, cells: impl IntoIterator<Item = Cell>) -> Query<'_, D> {
    for cell in cells {
        q = D::bind(q, cell);
    }
    q
}

fn int(v: i64) -> Cell {
    Cell::Int(Some(v))
}

fn decode_all<D: Dialect, T>(
    rows: &[crate::dialect::Row<D>],
    decode: impl Fn(&mut Cols<'_, D>) -> Result<T>,
) -> Result<Vec<T>> {
    rows.iter().map(|row| decode(&mut Cols::<D>::new(row, &[]))).collect()
}

fn records<D: Dialect, R: Record>(rows: &[crate::dialect::Row<D>]) -> Result<Vec<R>> {
    rows.iter().map(|row| R::decode(&mut Cols::<D>::new(row, R::TABLE.columns))).collect()
}

/// `NotFound` unless `entity` number `id` exists.
async fn require<D: Dialect>(
    conn: &mut Connection<D>,
    sql: &Statements,
    entity: Entity,
    id: i64,
) -> Result<()> {
    let table = table_of(entity);
    let found = D::bind(query::<D>(&sql.tables[table.slot].exists), int(id))
        .fetch_optional(conn.exec())
        .await
        .map_err(|e| driver_error("check reference", e))?;
    if found.is_some() { Ok(()) } else { Err(Error::not_found(entity, id)) }
}

/// Runs an insert and returns the id the database gave the row.
async fn insert<D: Dialect>(
    conn: &mut Connection<D>,
    sql: &Sql,
    cells: impl IntoIterator<Item = Cell>,
) -> std::result::Result<i64, sqlx::Error> {
    let q = bind_all::<D>(query::<D>(sql), cells);
    if D::RETURNING_ID {
        // All rows, not the first: SQLite runs its WAL auto-checkpoint only when a statement
        // steps to its end, and an autocommit insert that stops at its row commits on reset,
        // so creates alone grew the WAL without bound (13 KB a model, folded back only at close).
        let rows = q.fetch_all(conn.exec()).await?;
        let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        match D::read(row, 0, Kind::Int)? {
            Cell::Int(Some(id)) => Ok(id),
            other => Err(sqlx::Error::Decode(format!("RETURNING id gave {other:?}").into())),
        }
    } else {
        Ok(D::last_insert_id(&q.execute(conn.exec()).await?))
    }
}

async fn commit<D: Dialect>(tx: Transaction<'static, D::DB>) -> Result<()> {
    tx.commit().await.map_err(|e| driver_error("commit", e))
}

impl<D: Dialect> SqlStore<D> {
    /// A store on pools that are open and migrated.
    pub(crate) fn from_pools(
        writer: Pool<D::DB>,
        reader: Pool<D::DB>,
        location: String,
        capabilities: Capabilities,
    ) -> Self {
        SqlStore { writer, reader, location, capabilities, sql: Arc::new(Statements::new::<D>()) }
    }

    async fn begin(&self) -> Result<Transaction<'static, D::DB>> {
        self.writer.begin_with(D::BEGIN).await.map_err(|e| driver_error("begin transaction", e))
    }

    async fn read_conn(&self, what: &str) -> Result<PoolConnection<D::DB>> {
        self.reader.acquire().await.map_err(|e| driver_error(what, e))
    }

    async fn write_conn(&self, what: &str) -> Result<PoolConnection<D::DB>> {
        self.writer.acquire().await.map_err(|e| driver_error(what, e))
    }

    /// The record whose `column` equals `key`, by the select `sql`.
    async fn one<R: Record>(&self, sql: &Sql, key: Cell, shown: impl std::fmt::Display) -> Result<R> {
        let entity = R::TABLE.entity;
        let mut conn = self.read_conn(&format!("get {entity}")).await?;
        let row = D::bind(query::<D>(sql), key)
            .fetch_optional(conn.exec())
            .await
            .map_err(|e| driver_error(&format!("get {entity}"), e))?;
        match row {
            Some(row) => R::decode(&mut Cols::<D>::new(&row, R::TABLE.columns)),
            None => Err(Error::not_found(entity, shown)),
        }
    }

    async fn get<R: Record>(&self, id: i64) -> Result<R> {
        self.one(&self.sql.tables[R::TABLE.slot].by_id, int(id), id).await
    }

    async fn list<R: Record>(&self, page: Page) -> Result<Vec<R>> {
        let what = format!("list {}", R::TABLE.name);
        let mut conn = self.read_conn(&what).await?;
        let q = query::<D>(&self.sql.tables[R::TABLE.slot].list);
        let rows = bind_all::<D>(q, [int(page.after.unwrap_or(0)), int(page.sql_limit())])
            .fetch_all(conn.exec())
            .await
            .map_err(|e| driver_error(&what, e))?;
        records::<D, R>(&rows)
    }

    /// The records among `ids` that exist, in the order of `ids`.
    async fn get_many<R: Record + Clone>(&self, ids: &[i64]) -> Result<Vec<R>> {
        let what = format!("get {}", R::TABLE.name);
        let mut conn = self.read_conn(&what).await?;
        let mut found = HashMap::with_capacity(ids.len());
        let unique: Vec<i64> = ids.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        for chunk in unique.chunks(ID_CHUNK) {
            let q = query::<D>(&statements::select_ids::<D>(R::TABLE, chunk.len()));
            let rows = bind_all::<D>(q, chunk.iter().map(|&id| int(id)))
                .fetch_all(conn.exec())
                .await
                .map_err(|e| driver_error(&what, e))?;
            found.extend(records::<D, R>(&rows)?.into_iter().map(|r| (r.id(), r)));
        }
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    /// Rows of the child select `sql` for an existing parent, `NotFound` for a missing one.
    async fn children<T>(
        &self,
        parent: (Entity, i64),
        sql: &Sql,
        keys: Vec<Cell>,
        decode: impl Fn(&mut Cols<'_, D>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let what = format!("read {} {}", parent.0, parent.1);
        let mut conn = self.read_conn(&what).await?;
        require::<D>(&mut conn, &self.sql, parent.0, parent.1).await?;
        let rows = bind_all::<D>(query::<D>(sql), keys)
            .fetch_all(conn.exec())
            .await
            .map_err(|e| driver_error(&what, e))?;
        rows.iter().map(|row| decode(&mut Cols::<D>::new(row, &[]))).collect()
    }

    /// Stores a new record and returns it with its id. A record with one parent relies on
    /// the foreign key (its violation names the parent); with more, each is checked first
    /// so that the error names the missing one.
    async fn create<R: Record>(&self, record: R) -> Result<R> {
        let sql = &self.sql.tables[R::TABLE.slot].insert;
        let cells = record.cells().into_iter().skip(1);
        let parents = record.parents();
        let entity = R::TABLE.entity;
        let id = if parents.len() > 1 {
            let mut tx = self.begin().await?;
            for &(parent, id) in &parents {
                require::<D>(&mut tx, &self.sql, parent, id).await?;
            }
            let id =
                insert::<D>(&mut tx, sql, cells).await.map_err(write_error(entity, record.key(), None))?;
            commit::<D>(tx).await?;
            id
        } else {
            let mut conn = self.write_conn(&format!("create {entity}")).await?;
            insert::<D>(&mut conn, sql, cells).await.map_err(write_error(
                entity,
                record.key(),
                parents.first().copied(),
            ))?
        };
        Ok(record.with_id(id))
    }

    /// Inserts the records whose ids are not in the table yet; returns how many.
    async fn import_records<R: Record>(&self, batch: &[R]) -> Result<u64> {
        let table = R::TABLE;
        let (Some(lo), Some(hi)) = (batch.iter().map(R::id).min(), batch.iter().map(R::id).max()) else {
            return Ok(0);
        };
        let sql = &self.sql.tables[table.slot];
        let mut tx = self.begin().await?;
        let existing: HashSet<i64> = bind_all::<D>(query::<D>(&sql.ids_between), [int(lo), int(hi)])
            .fetch_all(tx.exec())
            .await
            .map_err(|e| driver_error("import: read existing ids", e))?
            .iter()
            .map(|row| Cols::<D>::new(row, &[]).read::<i64>())
            .collect::<Result<_>>()?;
        let mut checked = HashSet::new();
        let mut written = 0;
        for record in batch.iter().filter(|r| !existing.contains(&r.id())) {
            for (entity, id) in record.parents() {
                if checked.insert((entity, id)) {
                    require::<D>(&mut tx, &self.sql, entity, id).await?;
                }
            }
            bind_all::<D>(query::<D>(&sql.insert_with_id), record.cells())
                .execute(tx.exec())
                .await
                .map_err(write_error(table.entity, record.key(), None))?;
            written += 1;
        }
        D::after_explicit_ids(&mut tx, table.name).await?;
        commit::<D>(tx).await?;
        Ok(written)
    }
}

#[async_trait]
impl<D: Dialect> MetadataStore for SqlStore<D> {
    fn info(&self) -> StoreInfo {
        StoreInfo { backend: D::NAME, location: self.location.clone(), capabilities: self.capabilities }
    }

    async fn create_model(&self, m: NewModel) -> Result<Model> {
        m.validate()?;
        self.create(m.into_model(ModelId(0), time::now())).await
    }

    async fn get_model(&self, id: ModelId) -> Result<Model> {
        self.get(id.0).await
    }

    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        self.one(&self.sql.model_by_name, name.to_owned().cell(), name).await
    }

    async fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>> {
        self.get_many(&ids.iter().map(|id| id.0).collect::<Vec<_>>()).await
    }

    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        self.list(page).await
    }

    async fn create_model_version(&self, v: NewModelVersion) -> Result<ModelVersion> {
        v.validate()?;
        self.create(v.into_version(ModelVersionId(0), time::now())).await
    }

    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        self.get(id.0).await
    }

    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        let sql = &self.sql.versions_of_model;
        self.children((Entity::Model, model_id.0), sql, vec![int(model_id.0)], |c| ModelVersion::decode(c))
            .await
    }

    async fn create_dataset(&self, d: NewDataset) -> Result<Dataset> {
        d.validate()?;
        self.create(d.into_dataset(DatasetId(0), time::now())).await
    }

    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        self.get(id.0).await
    }

    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        self.one(&self.sql.dataset_by_name, name.to_owned().cell(), name).await
    }

    async fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>> {
        self.get_many(&ids.iter().map(|id| id.0).collect::<Vec<_>>()).await
    }

    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        self.list(page).await
    }

    async fn create_training_run(&self, r: NewTrainingRun) -> Result<TrainingRun> {
        r.validate()?;
        self.create(r.into_run(TrainingRunId(0), time::now())).await
    }

    async fn update_training_run(&self, id: TrainingRunId, u: TrainingRunUpdate) -> Result<TrainingRun> {
        u.validate()?;
        // Update and read back in one transaction: MySQL has no UPDATE ... RETURNING.
        let mut tx = self.begin().await?;
        if let Some(version) = u.model_version_id {
            require::<D>(&mut tx, &self.sql, Entity::TrainingRun, id.0).await?;
            require::<D>(&mut tx, &self.sql, Entity::ModelVersion, version.0).await?;
        }
        let cells = [
            u.model_version_id.cell(),
            u.status.cell(),
            u.completed_at.map(time::truncate).cell(),
            u.duration_seconds.cell(),
            u.final_loss.cell(),
            u.best_metric_value.cell(),
            u.artifacts.cell(),
            id.cell(),
        ];
        bind_all::<D>(query::<D>(&self.sql.update_run), cells)
            .execute(tx.exec())
            .await
            .map_err(|e| driver_error("update training run", e))?;
        let row = D::bind(query::<D>(&self.sql.tables[TrainingRun::TABLE.slot].by_id), int(id.0))
            .fetch_optional(tx.exec())
            .await
            .map_err(|e| driver_error("update training run", e))?;
        let run = match row {
            Some(row) => TrainingRun::decode(&mut Cols::<D>::new(&row, TrainingRun::TABLE.columns))?,
            None => return Err(Error::not_found(Entity::TrainingRun, id)),
        };
        commit::<D>(tx).await?;
        Ok(run)
    }

    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        self.get(id.0).await
    }

    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>> {
        self.list(page).await
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        request::validate_hyperparameters(&params)?;
        let mut tx = self.begin().await?;
        require::<D>(&mut tx, &self.sql, Entity::TrainingRun, run.0).await?;
        let params: Vec<_> = params.into_iter().collect();
        for chunk in params.chunks(ID_CHUNK) {
            let cells = chunk.iter().flat_map(|(name, value)| [run.cell(), name.cell(), value.cell()]);
            bind_all::<D>(query::<D>(&statements::upsert_hyperparameters::<D>(chunk.len())), cells)
                .execute(tx.exec())
                .await
                .map_err(|e| driver_error("log hyperparameters", e))?;
        }
        commit::<D>(tx).await
    }

    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        let sql = &self.sql.hyperparameters;
        let pairs = self
            .children((Entity::TrainingRun, run.0), sql, vec![int(run.0)], |c| Ok((c.read()?, c.read()?)))
            .await?;
        Ok(pairs.into_iter().collect())
    }

    async fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()> {
        validate_tags(&tags)?;
        let mut tx = self.begin().await?;
        require::<D>(&mut tx, &self.sql, target.entity(), target.id()).await?;
        let tags: Vec<_> = tags.into_iter().collect();
        for chunk in tags.chunks(ID_CHUNK) {
            let cells = chunk.iter().flat_map(|(name, value)| {
                [target.entity().as_str().to_owned().cell(), int(target.id()), name.cell(), value.cell()]
            });
            bind_all::<D>(query::<D>(&statements::upsert_tags::<D>(chunk.len())), cells)
                .execute(tx.exec())
                .await
                .map_err(|e| driver_error("set tags", e))?;
        }
        commit::<D>(tx).await
    }

    async fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>> {
        let keys = vec![target.entity().as_str().to_owned().cell(), int(target.id())];
        let pairs = self
            .children((target.entity(), target.id()), &self.sql.tags, keys, |c| Ok((c.read()?, c.read()?)))
            .await?;
        Ok(pairs.into_iter().collect())
    }

    async fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        require::<D>(&mut tx, &self.sql, target.entity(), target.id()).await?;
        let cells = [target.entity().as_str().to_owned().cell(), int(target.id()), key.to_owned().cell()];
        let done = bind_all::<D>(query::<D>(&self.sql.delete_tag), cells)
            .execute(tx.exec())
            .await
            .map_err(|e| driver_error("delete tag", e))?;
        commit::<D>(tx).await?;
        Ok(D::rows_affected(&done) > 0)
    }

    async fn get_run_summaries(&self, ids: &[TrainingRunId]) -> Result<Vec<RunSummary>> {
        let unique: Vec<i64> = ids.iter().map(|id| id.0).collect::<BTreeSet<_>>().into_iter().collect();
        let details = async {
            let mut conn = self.read_conn("read run summaries").await?;
            match D::read_run_details(&mut conn, &unique).await {
                Some(read) => read,
                None => RunDetails::read_generic::<D>(&mut conn, &unique).await,
            }
        };
        // Two connections at once: the runs' rows and their details are independent reads.
        let (runs, details): (Vec<TrainingRun>, _) = tokio::try_join!(self.get_many(&unique), details)?;
        let runs: HashMap<TrainingRunId, TrainingRun> = runs.into_iter().map(|run| (run.id, run)).collect();
        let runs = ids.iter().filter_map(|id| runs.get(id).cloned());
        Ok(runs
            .map(|run| RunSummary {
                // Cloned, not taken: `ids` may name a run twice.
                hyperparameters: details.hyperparameters.get(&run.id.0).cloned().unwrap_or_default(),
                tags: details.tags.get(&run.id.0).cloned().unwrap_or_default(),
                latest_metrics: details.latest.get(&run.id.0).cloned().unwrap_or_default(),
                run,
            })
            .collect())
    }

    async fn log_metric(&self, run: TrainingRunId, m: NewMetric) -> Result<Metric> {
        m.validate()?;
        let metric = m.into_metric(run, time::now());
        let mut conn = self.write_conn("log metric").await?;
        bind_all::<D>(query::<D>(&self.sql.insert_metric), schema::metric_cells(&metric))
            .execute(conn.exec())
            .await
            .map_err(write_error(Entity::Metric, &metric.metric_name, Some((Entity::TrainingRun, run.0))))?;
        Ok(metric)
    }

    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        validate_metrics(&metrics)?;
        let now = time::now();
        let metrics: Vec<_> = metrics.into_iter().map(|m| m.into_metric(run, now)).collect();
        let mut tx = self.begin().await?;
        require::<D>(&mut tx, &self.sql, Entity::TrainingRun, run.0).await?;
        match D::insert_metrics(&mut tx, run, &metrics).await {
            Some(done) => done?,
            None => {
                for chunk in metrics.chunks(D::METRIC_CHUNK) {
                    let sql = if chunk.len() == D::METRIC_CHUNK {
                        Arc::clone(&self.sql.insert_metric_chunk)
                    } else {
                        statements::insert_metrics::<D>(chunk.len())
                    };
                    bind_all::<D>(query::<D>(&sql), chunk.iter().flat_map(schema::metric_cells))
                        .execute(tx.exec())
                        .await
                        .map_err(|e| driver_error("log metrics", e))?;
                }
            }
        }
        commit::<D>(tx).await?;
        Ok(metrics.len())
    }

    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        let mut conn = self.read_conn("get metrics").await?;
        require::<D>(&mut conn, &self.sql, Entity::TrainingRun, run.0).await?;
        if let Some(read) = D::read_metrics(&mut conn, run, name).await {
            return read;
        }
        let q = match name {
            None => D::bind(query::<D>(&self.sql.metrics), int(run.0)),
            Some(name) => {
                bind_all::<D>(query::<D>(&self.sql.metrics_named), [int(run.0), name.to_owned().cell()])
            }
        };
        let rows = q.fetch_all(conn.exec()).await.map_err(|e| driver_error("get metrics", e))?;
        decode_all::<D, _>(&rows, |c| schema::decode_metric(run, c))
    }

    async fn create_experiment(&self, e: NewExperiment) -> Result<Experiment> {
        e.validate()?;
        self.create(e.into_experiment(ExperimentId(0), time::now())).await
    }

    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.get(id.0).await
    }

    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>> {
        self.list(page).await
    }

    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        let key = format!("run {} in experiment {}", link.training_run_id, link.experiment_id);
        let mut tx = self.begin().await?;
        require::<D>(&mut tx, &self.sql, Entity::Experiment, link.experiment_id.0).await?;
        require::<D>(&mut tx, &self.sql, Entity::TrainingRun, link.training_run_id.0).await?;
        let cells = [
            link.experiment_id.cell(),
            link.training_run_id.cell(),
            link.variant_name.cell(),
            link.notes.cell(),
        ];
        bind_all::<D>(query::<D>(&self.sql.add_experiment_run), cells)
            .execute(tx.exec())
            .await
            .map_err(write_error(Entity::ExperimentRun, key, None))?;
        commit::<D>(tx).await?;
        Ok(link.into_experiment_run())
    }

    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        let sql = &self.sql.experiment_runs;
        self.children((Entity::Experiment, id.0), sql, vec![int(id.0)], schema::decode_experiment_run).await
    }

    async fn log_prediction(&self, p: NewPrediction) -> Result<Prediction> {
        p.validate()?;
        self.create(p.into_prediction(PredictionId(0), time::now())).await
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
            require::<D>(&mut tx, &self.sql, Entity::ModelVersion, version).await?;
        }
        let sql = &self.sql.tables[Prediction::TABLE.slot].insert;
        let mut logged = Vec::with_capacity(predictions.len());
        for p in predictions {
            let prediction = p.into_prediction(PredictionId(0), now);
            let cells = prediction.cells().into_iter().skip(1);
            let id =
                insert::<D>(&mut tx, sql, cells).await.map_err(|e| driver_error("log predictions", e))?;
            logged.push(prediction.with_id(id));
        }
        commit::<D>(tx).await?;
        Ok(logged)
    }

    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        self.get(id.0).await
    }

    async fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>> {
        self.get_many(&ids.iter().map(|id| id.0).collect::<Vec<_>>()).await
    }

    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        let sql = &self.sql.predictions_of_version;
        let keys = vec![int(version.0), int(i64::from(limit))];
        self.children((Entity::ModelVersion, version.0), sql, keys, |c| Prediction::decode(c)).await
    }

    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        self.list(page).await
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        batch.validate()?;
        match &batch {
            ImportBatch::Models(v) => self.import_records(v).await,
            ImportBatch::ModelVersions(v) => self.import_records(v).await,
            ImportBatch::Datasets(v) => self.import_records(v).await,
            ImportBatch::TrainingRuns(v) => self.import_records(v).await,
            ImportBatch::Experiments(v) => self.import_records(v).await,
            ImportBatch::Predictions(v) => self.import_records(v).await,
            _ => Err(Error::invalid("batch", "an import batch this store does not know")),
        }
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        let mut conn = self.read_conn("statistics").await?;
        let row = query::<D>(&self.sql.statistics)
            .fetch_one(conn.exec())
            .await
            .map_err(|e| driver_error("statistics", e))?;
        let mut c = Cols::<D>::new(&row, &[]);
        let mut next = || c.read::<i64>().map(count);
        Ok(StoreStatistics {
            models: next()?,
            model_versions: next()?,
            datasets: next()?,
            training_runs: next()?,
            completed_runs: next()?,
            hyperparameters: next()?,
            metrics: next()?,
            experiments: next()?,
            experiment_runs: next()?,
            predictions: next()?,
        })
    }

    async fn close(&self) -> Result<()> {
        self.reader.close().await;
        self.writer.close().await;
        Ok(())
    }
}
