//! [`RedisStore`]: the metadata store over Redis.

use std::collections::{BTreeMap, HashMap};

use aimdb_core::request::{self, COMPLETED_RUN_STATUS};
use aimdb_core::time;
use aimdb_core::{
    Capabilities, Dataset, DatasetId, Entity, Error, Experiment, ExperimentId, ExperimentRun,
    ExperimentRunDetail, ImportBatch, MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId,
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, OptionalJson, Page, Prediction, PredictionId, Result, StoreInfo, StoreStatistics,
    TagTarget, TrainingRun, TrainingRunId, TrainingRunUpdate, validate_tags,
};
use async_trait::async_trait;
use deadpool_redis::{Connection, Pool, Runtime};
use redis::Script;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codec::{self, fields};
use crate::config::RedisConfig;
use crate::error;
use crate::keys::Keys;
use crate::scripts::{self, Op};

/// Metadata in Redis: records as hashes, ids from `INCR`, per-parent lists as sorted sets,
/// every write one Lua script (atomic, references checked inside it).
pub struct RedisStore {
    pool: Pool,
    keys: Keys,
    location: String,
    apply: Script,
    update_run: Script,
    log_params: Script,
    set_tags: Script,
    delete_tag: Script,
    log_metrics: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("location", &self.location).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (checking the server answers) and returns the store.
    pub async fn open(config: RedisConfig) -> Result<Self> {
        let pool = deadpool_redis::Config::from_url(config.url.expose())
            .builder()
            .map_err(|e| Error::Config {
                message: format!("redis URL `{}`: {e}", config.url),
                source: Some(e.into()),
            })?
            .max_size(config.pool_size)
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .recycle_timeout(Some(config.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::config(format!("redis pool: {e}")))?;
        let store = RedisStore {
            pool,
            keys: Keys::new(&config.namespace),
            location: format!("{} (namespace {})", config.url.redacted(), config.namespace),
            apply: Script::new(scripts::APPLY),
            update_run: Script::new(scripts::UPDATE_RUN),
            log_params: Script::new(scripts::LOG_PARAMS),
            set_tags: Script::new(scripts::SET_TAGS),
            delete_tag: Script::new(scripts::DELETE_TAG),
            log_metrics: Script::new(scripts::LOG_METRICS),
        };
        let mut conn = store.conn().await?;
        let _: String =
            redis::cmd("PING").query_async(&mut conn).await.map_err(|e| error::redis("ping", e))?;
        Ok(store)
    }

    async fn conn(&self) -> Result<Connection> {
        self.pool.get().await.map_err(error::pool)
    }

    async fn run_ops(&self, ops: &[Op]) -> Result<Vec<i64>> {
        let json = codec::json(&ops)?;
        let mut conn = self.conn().await?;
        self.apply.arg(json).invoke_async(&mut conn).await.map_err(|e| error::redis("write", e))
    }

    async fn create_one(&self, op: Op) -> Result<i64> {
        Ok(self.run_ops(&[op]).await?.first().copied().unwrap_or_default())
    }

    /// An entity create: a fresh id, the record, the id in the entity's id set.
    fn create_op<T: serde::Serialize + OptionalJson>(&self, entity: Entity, record: &T) -> Result<Op> {
        Ok(Op {
            seq: Some(self.keys.seq(entity)),
            hash: Some(self.keys.record_prefix(entity)),
            fields: fields(record)?,
            zadd: vec![self.keys.ids(entity)],
            ..Op::default()
        })
    }

    fn exists(&self, entity: Entity, id: i64) -> (String, String) {
        (self.keys.record(entity, id), format!("{entity} {id}"))
    }

    async fn get<T: DeserializeOwned + OptionalJson>(&self, entity: Entity, id: i64) -> Result<T> {
        let mut conn = self.conn().await?;
        let hash: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.record(entity, id))
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read", e))?;
        codec::record(entity.as_str(), id, hash)?.ok_or_else(|| Error::not_found(entity, id))
    }

    /// The records of `ids` in one round trip; `None` where one does not exist.
    async fn get_each<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        ids: &[i64],
    ) -> Result<Vec<Option<T>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.keys.record(entity, *id));
        }
        let mut conn = self.conn().await?;
        let hashes: Vec<HashMap<String, String>> =
            pipe.query_async(&mut conn).await.map_err(|e| error::redis("read", e))?;
        ids.iter().zip(hashes).map(|(id, hash)| codec::record(entity.as_str(), *id, hash)).collect()
    }

    /// The records of listed ids.
    async fn get_many<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        ids: &[i64],
    ) -> Result<Vec<T>> {
        // A listed id always has its record: both are written by one script.
        let found = self.get_each(entity, ids).await?;
        ids.iter().zip(found).map(|(id, record)| record.ok_or_else(|| Error::not_found(entity, id))).collect()
    }

    /// The records among `ids` that exist, in the order of `ids`.
    async fn get_existing<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        ids: impl Iterator<Item = i64>,
    ) -> Result<Vec<T>> {
        let ids: Vec<i64> = ids.collect();
        Ok(self.get_each(entity, &ids).await?.into_iter().flatten().collect())
    }

    async fn get_by_name<T: DeserializeOwned + OptionalJson>(&self, entity: Entity, name: &str) -> Result<T> {
        let mut conn = self.conn().await?;
        let id: Option<i64> = redis::cmd("HGET")
            .arg(self.keys.names(entity))
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read", e))?;
        drop(conn);
        match id {
            Some(id) => self.get(entity, id).await,
            None => Err(Error::not_found(entity, name)),
        }
    }

    async fn page<T: DeserializeOwned + OptionalJson>(&self, entity: Entity, page: Page) -> Result<Vec<T>> {
        let min = page.after.map_or("-inf".to_owned(), |a| format!("({a}"));
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.keys.ids(entity)).arg(min).arg("+inf").arg("BYSCORE");
        if let Some(limit) = page.limit {
            cmd.arg("LIMIT").arg(0).arg(limit);
        }
        let mut conn = self.conn().await?;
        let ids: Vec<i64> = cmd.query_async(&mut conn).await.map_err(|e| error::redis("list", e))?;
        drop(conn);
        self.get_many(entity, &ids).await
    }

    async fn require(&self, entity: Entity, id: i64) -> Result<()> {
        let mut conn = self.conn().await?;
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.keys.record(entity, id))
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read", e))?;
        if exists { Ok(()) } else { Err(Error::not_found(entity, id)) }
    }

    /// Newest first: a per-parent sorted set scored by time (microseconds), ties by id.
    async fn newest<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        set: String,
        limit: Option<u32>,
    ) -> Result<Vec<T>> {
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let stop = limit.map_or(-1, |l| i64::from(l) - 1);
        let mut conn = self.conn().await?;
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(set)
            .arg(0)
            .arg(stop)
            .arg("REV")
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("list", e))?;
        drop(conn);
        let ids = members
            .iter()
            .map(|m| m.parse().map_err(|e| Error::backend(format!("redis: bad member `{m}`"), e)))
            .collect::<Result<Vec<i64>>>()?;
        self.get_many(entity, &ids).await
    }

    /// A record with a unique name: the name checked and indexed.
    fn named_op<T: serde::Serialize + OptionalJson>(
        &self,
        entity: Entity,
        record: &T,
        name: &str,
    ) -> Result<Op> {
        let mut op = self.create_op(entity, record)?;
        op.unique_hash.push(unique_name(&self.keys, entity, name));
        op.hset_id.push((self.keys.names(entity), name.to_owned()));
        Ok(op)
    }

    fn model_op(&self, model: &Model) -> Result<Op> {
        self.named_op(Entity::Model, model, &model.name)
    }

    fn dataset_op(&self, dataset: &Dataset) -> Result<Op> {
        self.named_op(Entity::Dataset, dataset, &dataset.name)
    }

    fn experiment_op(&self, experiment: &Experiment) -> Result<Op> {
        self.named_op(Entity::Experiment, experiment, &experiment.name)
    }

    fn version_op(&self, version: &ModelVersion) -> Result<Op> {
        let model = version.model_id.get();
        let mut op = self.create_op(Entity::ModelVersion, version)?;
        op.exists.push(self.exists(Entity::Model, model));
        op.unique_hash.push((
            self.keys.version_names(model),
            version.version.clone(),
            format!("model_version {} of model {model}", version.version),
        ));
        op.hset_id.push((self.keys.version_names(model), version.version.clone()));
        op.zadd_scored.push((self.keys.versions(model), micros(version.created_at)));
        Ok(op)
    }

    fn run_op(&self, run: &TrainingRun) -> Result<Op> {
        let mut op = self.create_op(Entity::TrainingRun, run)?;
        if let Some(version) = run.model_version_id {
            op.exists.push(self.exists(Entity::ModelVersion, version.get()));
        }
        if let Some(dataset) = run.dataset_id {
            op.exists.push(self.exists(Entity::Dataset, dataset.get()));
        }
        if run.status == COMPLETED_RUN_STATUS {
            op.sadd_id.push(self.keys.completed_runs());
        }
        Ok(op)
    }

    fn prediction_op(&self, prediction: &Prediction) -> Result<Op> {
        let version = prediction.model_version_id.get();
        let mut op = self.create_op(Entity::Prediction, prediction)?;
        op.exists.push(self.exists(Entity::ModelVersion, version));
        op.zadd_scored.push((self.keys.version_predictions(version), micros(prediction.timestamp)));
        Ok(op)
    }
}

/// A sorted-set score: microseconds since the epoch, exact in an f64 until the year 2255.
fn micros(t: time::Timestamp) -> f64 {
    t.timestamp_micros() as f64
}

fn unique_name(keys: &Keys, entity: Entity, name: &str) -> (String, String, String) {
    (keys.names(entity), name.to_owned(), format!("{entity} {name}"))
}

#[async_trait]
impl MetadataStore for RedisStore {
    fn info(&self) -> StoreInfo {
        StoreInfo { backend: "redis", location: self.location.clone(), capabilities: Capabilities::server() }
    }

    async fn create_model(&self, model: NewModel) -> Result<Model> {
        model.validate()?;
        let mut model = model.into_model(ModelId(0), time::now());
        model.id = ModelId(self.create_one(self.model_op(&model)?).await?);
        Ok(model)
    }

    async fn get_model(&self, id: ModelId) -> Result<Model> {
        self.get(Entity::Model, id.get()).await
    }

    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        self.get_by_name(Entity::Model, name).await
    }

    async fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>> {
        self.get_existing(Entity::Model, ids.iter().map(|id| id.get())).await
    }

    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        self.page(Entity::Model, page).await
    }

    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        version.validate()?;
        let mut version = version.into_version(ModelVersionId(0), time::now());
        version.id = ModelVersionId(self.create_one(self.version_op(&version)?).await?);
        Ok(version)
    }

    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        self.get(Entity::ModelVersion, id.get()).await
    }

    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        self.require(Entity::Model, model_id.get()).await?;
        self.newest(Entity::ModelVersion, self.keys.versions(model_id.get()), None).await
    }

    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset> {
        dataset.validate()?;
        let mut dataset = dataset.into_dataset(DatasetId(0), time::now());
        dataset.id = DatasetId(self.create_one(self.dataset_op(&dataset)?).await?);
        Ok(dataset)
    }

    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        self.get(Entity::Dataset, id.get()).await
    }

    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        self.get_by_name(Entity::Dataset, name).await
    }

    async fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>> {
        self.get_existing(Entity::Dataset, ids.iter().map(|id| id.get())).await
    }

    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        self.page(Entity::Dataset, page).await
    }

    async fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun> {
        run.validate()?;
        let mut run = run.into_run(TrainingRunId(0), time::now());
        run.id = TrainingRunId(self.create_one(self.run_op(&run)?).await?);
        Ok(run)
    }

    async fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun> {
        update.validate()?;
        if let Some(version) = update.model_version_id {
            // Versions are never deleted: checking before the script cannot race a removal.
            self.require(Entity::TrainingRun, id.get()).await?;
            self.require(Entity::ModelVersion, version.get()).await?;
        }
        // Only the fields the update sets, encoded as a whole run would be.
        let status = update.status.clone();
        let names = update.fields_set();
        let mut changed = NewTrainingRun::without_version().into_run(id, time::now());
        update.apply(&mut changed);
        let encoded: HashMap<String, String> =
            fields(&changed)?.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
        let mut args = vec![
            self.keys.record(Entity::TrainingRun, id.get()),
            self.keys.completed_runs(),
            id.get().to_string(),
            u8::from(status.is_some()).to_string(),
            u8::from(status.as_deref() == Some(COMPLETED_RUN_STATUS)).to_string(),
        ];
        for name in &names {
            args.push((*name).to_owned());
            args.push(encoded.get(*name).cloned().unwrap_or_else(|| "null".to_owned()));
        }
        if names.contains(&"artifacts") {
            // `artifacts` is a run's only optional JSON field: its `Some(null)` marker is exact.
            args.push(codec::JSON_NULLS.to_owned());
            args.push(encoded.get(codec::JSON_NULLS).cloned().unwrap_or_default());
        }
        let mut conn = self.conn().await?;
        let mut invocation = self.update_run.prepare_invoke();
        for arg in &args {
            invocation.arg(arg);
        }
        let hash: HashMap<String, String> =
            invocation.invoke_async(&mut conn).await.map_err(|e| error::redis("update run", e))?;
        codec::record("training_run", id.get(), hash)?
            .ok_or_else(|| Error::not_found(Entity::TrainingRun, id))
    }

    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        self.get(Entity::TrainingRun, id.get()).await
    }

    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>> {
        self.page(Entity::TrainingRun, page).await
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        request::validate_hyperparameters(&params)?;
        let mut conn = self.conn().await?;
        let mut invocation = self.log_params.prepare_invoke();
        invocation
            .arg(self.keys.record(Entity::TrainingRun, run.get()))
            .arg(self.keys.params(run.get()))
            .arg(self.keys.count(Entity::Hyperparameter))
            .arg(run.get());
        for (name, value) in &params {
            invocation.arg(name).arg(value.to_string());
        }
        let _: i64 =
            invocation.invoke_async(&mut conn).await.map_err(|e| error::redis("log hyperparameters", e))?;
        Ok(())
    }

    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        self.require(Entity::TrainingRun, run.get()).await?;
        let mut conn = self.conn().await?;
        let hash: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.params(run.get()))
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read hyperparameters", e))?;
        hash.into_iter()
            .map(|(k, v)| Ok((k, serde_json::from_str(&v).map_err(|e| error::decode("hyperparameter", e))?)))
            .collect()
    }

    async fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()> {
        validate_tags(&tags)?;
        let (entity, id) = (target.entity(), target.id());
        let mut conn = self.conn().await?;
        let mut invocation = self.set_tags.prepare_invoke();
        invocation
            .arg(self.keys.record(entity, id))
            .arg(self.keys.tags(entity, id))
            .arg(entity.as_str())
            .arg(id);
        for (name, value) in &tags {
            invocation.arg(name).arg(value);
        }
        let _: i64 = invocation.invoke_async(&mut conn).await.map_err(|e| error::redis("set tags", e))?;
        Ok(())
    }

    async fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>> {
        let (entity, id) = (target.entity(), target.id());
        self.require(entity, id).await?;
        let mut conn = self.conn().await?;
        redis::cmd("HGETALL")
            .arg(self.keys.tags(entity, id))
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read tags", e))
    }

    async fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool> {
        let (entity, id) = (target.entity(), target.id());
        let mut conn = self.conn().await?;
        let removed: i64 = self
            .delete_tag
            .prepare_invoke()
            .arg(self.keys.record(entity, id))
            .arg(self.keys.tags(entity, id))
            .arg(entity.as_str())
            .arg(id)
            .arg(key)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| error::redis("delete tag", e))?;
        Ok(removed > 0)
    }

    async fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric> {
        metric.validate()?;
        let metric = metric.into_metric(run, time::now());
        self.push_metrics(run, std::slice::from_ref(&metric)).await?;
        Ok(metric)
    }

    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        request::validate_metrics(&metrics)?;
        let now = time::now();
        let metrics: Vec<Metric> = metrics.into_iter().map(|m| m.into_metric(run, now)).collect();
        self.push_metrics(run, &metrics).await?;
        Ok(metrics.len())
    }

    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        self.require(Entity::TrainingRun, run.get()).await?;
        let mut conn = self.conn().await?;
        let all: Vec<String> = redis::cmd("LRANGE")
            .arg(self.keys.metrics(run.get()))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read metrics", e))?;
        let mut out = Vec::with_capacity(all.len());
        for json in all {
            let metric: Metric = serde_json::from_str(&json).map_err(|e| error::decode("metric", e))?;
            if name.is_none_or(|n| metric.metric_name == n) {
                out.push(metric);
            }
        }
        Ok(out)
    }

    async fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment> {
        experiment.validate()?;
        let mut experiment = experiment.into_experiment(ExperimentId(0), time::now());
        experiment.id = ExperimentId(self.create_one(self.experiment_op(&experiment)?).await?);
        Ok(experiment)
    }

    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.get(Entity::Experiment, id.get()).await
    }

    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>> {
        self.page(Entity::Experiment, page).await
    }

    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        let link = link.into_experiment_run();
        let (experiment, run) = (link.experiment_id.get(), link.training_run_id.get());
        let op = Op {
            exists: vec![self.exists(Entity::Experiment, experiment), self.exists(Entity::TrainingRun, run)],
            unique_set: vec![(
                self.keys.experiment_run_ids(experiment),
                run.to_string(),
                format!("experiment_run run {run} in experiment {experiment}"),
            )],
            sadd: vec![(self.keys.experiment_run_ids(experiment), run.to_string())],
            rpush: vec![(self.keys.experiment_runs(experiment), codec::json(&link)?)],
            incr: vec![(self.keys.count(Entity::ExperimentRun), 1)],
            ..Op::default()
        };
        self.run_ops(&[op]).await?;
        Ok(link)
    }

    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        self.require(Entity::Experiment, id.get()).await?;
        let mut conn = self.conn().await?;
        let links: Vec<String> = redis::cmd("LRANGE")
            .arg(self.keys.experiment_runs(id.get()))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(|e| error::redis("read experiment runs", e))?;
        drop(conn);
        let links: Vec<ExperimentRun> = links
            .iter()
            .map(|json| serde_json::from_str(json).map_err(|e| error::decode("experiment run", e)))
            .collect::<Result<_>>()?;
        let ids: Vec<i64> = links.iter().map(|l| l.training_run_id.get()).collect();
        let runs: Vec<TrainingRun> = self.get_many(Entity::TrainingRun, &ids).await?;
        Ok(links
            .into_iter()
            .zip(runs)
            .map(|(link, run)| ExperimentRunDetail {
                experiment_id: link.experiment_id,
                training_run_id: link.training_run_id,
                variant_name: link.variant_name,
                notes: link.notes,
                status: run.status,
                final_loss: run.final_loss,
                best_metric_value: run.best_metric_value,
            })
            .collect())
    }

    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction> {
        prediction.validate()?;
        let mut prediction = prediction.into_prediction(PredictionId(0), time::now());
        prediction.id = PredictionId(self.create_one(self.prediction_op(&prediction)?).await?);
        Ok(prediction)
    }

    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        request::validate_predictions(&predictions)?;
        let now = time::now();
        let mut predictions: Vec<Prediction> =
            predictions.into_iter().map(|p| p.into_prediction(PredictionId(0), now)).collect();
        let ops = predictions.iter().map(|p| self.prediction_op(p)).collect::<Result<Vec<_>>>()?;
        let ids = if ops.is_empty() { Vec::new() } else { self.run_ops(&ops).await? };
        for (prediction, id) in predictions.iter_mut().zip(ids) {
            prediction.id = PredictionId(id);
        }
        Ok(predictions)
    }

    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        self.get(Entity::Prediction, id.get()).await
    }

    async fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>> {
        self.get_existing(Entity::Prediction, ids.iter().map(|id| id.get())).await
    }

    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        self.require(Entity::ModelVersion, version.get()).await?;
        self.newest(Entity::Prediction, self.keys.version_predictions(version.get()), Some(limit)).await
    }

    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        self.page(Entity::Prediction, page).await
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        batch.validate()?;
        let mut ops = match &batch {
            ImportBatch::Models(v) => v.iter().map(|r| self.model_op(r)).collect::<Result<Vec<_>>>()?,
            ImportBatch::ModelVersions(v) => v.iter().map(|r| self.version_op(r)).collect::<Result<_>>()?,
            ImportBatch::Datasets(v) => v.iter().map(|r| self.dataset_op(r)).collect::<Result<_>>()?,
            ImportBatch::TrainingRuns(v) => v.iter().map(|r| self.run_op(r)).collect::<Result<_>>()?,
            ImportBatch::Experiments(v) => v.iter().map(|r| self.experiment_op(r)).collect::<Result<_>>()?,
            ImportBatch::Predictions(v) => v.iter().map(|r| self.prediction_op(r)).collect::<Result<_>>()?,
            _ => return Err(Error::config(format!("redis: cannot import {}", batch.entity()))),
        };
        if ops.is_empty() {
            return Ok(0);
        }
        for (op, id) in ops.iter_mut().zip(batch.ids()) {
            op.id = Some(id);
        }
        let ids = self.run_ops(&ops).await?;
        Ok(ids.iter().filter(|&&id| id > 0).count() as u64)
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        let k = &self.keys;
        let mut pipe = redis::pipe();
        for e in [Entity::Model, Entity::ModelVersion, Entity::Dataset, Entity::TrainingRun] {
            pipe.cmd("ZCARD").arg(k.ids(e));
        }
        pipe.cmd("SCARD").arg(k.completed_runs());
        for e in [Entity::Hyperparameter, Entity::Metric] {
            pipe.cmd("GET").arg(k.count(e));
        }
        pipe.cmd("ZCARD").arg(k.ids(Entity::Experiment));
        pipe.cmd("GET").arg(k.count(Entity::ExperimentRun));
        pipe.cmd("ZCARD").arg(k.ids(Entity::Prediction));
        let mut conn = self.conn().await?;
        let c: Vec<Option<u64>> =
            pipe.query_async(&mut conn).await.map_err(|e| error::redis("statistics", e))?;
        let n = |i: usize| c.get(i).copied().flatten().unwrap_or(0);
        Ok(StoreStatistics {
            models: n(0),
            model_versions: n(1),
            datasets: n(2),
            training_runs: n(3),
            completed_runs: n(4),
            hyperparameters: n(5),
            metrics: n(6),
            experiments: n(7),
            experiment_runs: n(8),
            predictions: n(9),
        })
    }

    async fn close(&self) -> Result<()> {
        self.pool.close();
        Ok(())
    }
}

impl RedisStore {
    async fn push_metrics(&self, run: TrainingRunId, metrics: &[Metric]) -> Result<()> {
        let mut conn = self.conn().await?;
        let mut invocation = self.log_metrics.prepare_invoke();
        invocation
            .arg(self.keys.record(Entity::TrainingRun, run.get()))
            .arg(self.keys.metrics(run.get()))
            .arg(self.keys.count(Entity::Metric))
            .arg(run.get());
        for metric in metrics {
            invocation.arg(codec::json(metric)?);
        }
        let _: i64 = invocation.invoke_async(&mut conn).await.map_err(|e| error::redis("log metrics", e))?;
        Ok(())
    }
}
