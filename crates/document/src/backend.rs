//! [`MongoStore`]: the metadata store over MongoDB.

use std::collections::{BTreeMap, HashMap, HashSet};

use aimdb_core::request::{self, COMPLETED_RUN_STATUS};
use aimdb_core::{
    Capabilities, Dataset, DatasetId, Entity, Error, Experiment, ExperimentId, ExperimentRun,
    ExperimentRunDetail, ImportBatch, MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId,
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, OptionalJson, Page, Prediction, PredictionId, Result, StoreInfo, StoreStatistics,
    TagTarget, TrainingRun, TrainingRunId, TrainingRunUpdate, time, validate_tags,
};
use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codec::{JSON_NULLS, from_doc, to_doc};
use crate::config::MongoConfig;
use crate::error::{self, is_duplicate, mongo};

/// An import's documents, the parents they reference, and their unique names (if named).
type ImportDocs = (Vec<Document>, Vec<(Entity, i64)>, Vec<String>);

/// The collection holding each entity.
fn collection_name(entity: Entity) -> &'static str {
    match entity {
        Entity::Model => "models",
        Entity::ModelVersion => "model_versions",
        Entity::Dataset => "datasets",
        Entity::TrainingRun => "training_runs",
        Entity::Hyperparameter => "hyperparameters",
        Entity::Metric => "metrics",
        Entity::Experiment => "experiments",
        Entity::ExperimentRun => "experiment_runs",
        _ => "predictions",
    }
}

/// Metadata in MongoDB: one collection per entity, integer ids from a `counters` collection
/// (atomic `$inc`, as the seed did), unique indexes for names, indexes for every lookup.
#[derive(Clone)]
pub struct MongoStore {
    client: Client,
    db: Database,
    location: String,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore").field("location", &self.location).finish_non_exhaustive()
    }
}

/// Microseconds since the epoch: the sort key `_ts` of versions and predictions.
fn micros(t: time::Timestamp) -> i64 {
    t.timestamp_micros()
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the indexes (idempotent).
    pub async fn open(config: MongoConfig) -> Result<Self> {
        let mut options = ClientOptions::parse(config.url.expose()).await.map_err(|e| Error::Config {
            message: format!("invalid mongodb URL `{}`: {e}", config.url),
            source: Some(e.into()),
        })?;
        options.server_selection_timeout = Some(config.timeout);
        options.connect_timeout = Some(config.timeout);
        options.app_name = Some("aimdb".to_owned());
        if let Some(n) = config.pool_size {
            options.max_pool_size = Some(n);
        }
        let client = Client::with_options(options).map_err(|e| mongo("client", e))?;
        let db = client.database(&config.database);
        let store = MongoStore {
            client,
            db,
            location: format!("{} (database {})", config.url.redacted(), config.database),
        };
        store.db.run_command(doc! { "ping": 1 }).await.map_err(|e| mongo("ping", e))?;
        store.create_indexes().await?;
        store.create_counters().await?;
        Ok(store)
    }

    fn coll(&self, entity: Entity) -> Collection<Document> {
        self.db.collection(collection_name(entity))
    }

    fn tags(&self) -> Collection<Document> {
        self.db.collection("tags")
    }

    async fn create_indexes(&self) -> Result<()> {
        let unique = || IndexOptions::builder().unique(true).build();
        let indexes: [(Entity, Document, bool); 12] = [
            (Entity::Model, doc! { "name": 1 }, true),
            (Entity::Dataset, doc! { "name": 1 }, true),
            (Entity::Experiment, doc! { "name": 1 }, true),
            (Entity::ModelVersion, doc! { "model_id": 1, "version": 1 }, true),
            (Entity::ModelVersion, doc! { "model_id": 1, "_ts": -1, "_id": -1 }, false),
            (Entity::TrainingRun, doc! { "status": 1 }, false),
            (Entity::Hyperparameter, doc! { "training_run_id": 1, "name": 1 }, true),
            (Entity::Metric, doc! { "training_run_id": 1, "_id": 1 }, false),
            (Entity::Metric, doc! { "training_run_id": 1, "metric_name": 1, "_id": 1 }, false),
            (Entity::ExperimentRun, doc! { "experiment_id": 1, "training_run_id": 1 }, true),
            (Entity::ExperimentRun, doc! { "experiment_id": 1, "_id": 1 }, false),
            (Entity::Prediction, doc! { "model_version_id": 1, "_ts": -1, "_id": -1 }, false),
        ];
        for (entity, keys, is_unique) in indexes {
            let mut model = IndexModel::builder().keys(keys).build();
            if is_unique {
                model.options = Some(unique());
            }
            self.coll(entity).create_index(model).await.map_err(|e| mongo("create index", e))?;
        }
        let by_target = IndexModel::builder()
            .keys(doc! { "entity": 1, "entity_id": 1, "name": 1 })
            .options(unique())
            .build();
        self.tags().create_index(by_target).await.map_err(|e| mongo("create index", e))?;
        Ok(())
    }

    /// Creates every counter that does not exist yet, one at a time: two first writers
    /// racing to upsert the same counter is a duplicate key error in MongoDB.
    async fn create_counters(&self) -> Result<()> {
        let counters: Collection<Document> = self.db.collection("counters");
        for entity in Entity::ALL {
            counters
                .update_one(
                    doc! { "_id": collection_name(entity) },
                    doc! { "$setOnInsert": { "seq": 0_i64 } },
                )
                .upsert(true)
                .await
                .map_err(|e| mongo("create counters", e))?;
        }
        Ok(())
    }

    /// Reserves `n` consecutive ids; returns the first.
    async fn next_ids(&self, entity: Entity, n: usize) -> Result<i64> {
        let counters: Collection<Document> = self.db.collection("counters");
        let updated = counters
            .find_one_and_update(
                doc! { "_id": collection_name(entity) },
                doc! { "$inc": { "seq": n as i64 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| mongo("reserve ids", e))?
            .ok_or_else(|| Error::backend("mongodb: the ids counter is missing", "counters"))?;
        let last = match updated.get("seq") {
            Some(Bson::Int64(v)) => *v,
            Some(Bson::Int32(v)) => i64::from(*v),
            Some(Bson::Double(v)) => *v as i64,
            other => return Err(error::decode("counter", format!("seq is {other:?}"))),
        };
        Ok(last - n as i64 + 1)
    }

    async fn require(&self, entity: Entity, id: i64) -> Result<()> {
        let found = self
            .coll(entity)
            .find_one(doc! { "_id": id })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(|e| mongo("read", e))?;
        if found.is_some() { Ok(()) } else { Err(Error::not_found(entity, id)) }
    }

    async fn get<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        filter: Document,
        key: impl ToString,
    ) -> Result<T> {
        match self.coll(entity).find_one(filter).await.map_err(|e| mongo("read", e))? {
            Some(doc) => from_doc(entity.as_str(), doc),
            None => Err(Error::not_found(entity, key.to_string())),
        }
    }

    /// The records among `ids` that exist, in the order of `ids`, in one query.
    async fn get_existing<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        ids: impl Iterator<Item = i64>,
    ) -> Result<Vec<T>> {
        let ids: Vec<i64> = ids.collect();
        let docs: Vec<Document> = self
            .coll(entity)
            .find(doc! { "_id": { "$in": &ids } })
            .await
            .map_err(|e| mongo("read", e))?
            .try_collect()
            .await
            .map_err(|e| mongo("read", e))?;
        let by_id: std::collections::HashMap<i64, Document> =
            docs.into_iter().filter_map(|d| Some((d.get_i64("_id").ok()?, d))).collect();
        ids.iter().filter_map(|id| by_id.get(id).cloned()).map(|d| from_doc(entity.as_str(), d)).collect()
    }

    async fn find<T: DeserializeOwned + OptionalJson>(
        &self,
        entity: Entity,
        filter: Document,
        sort: Document,
        limit: Option<i64>,
    ) -> Result<Vec<T>> {
        // MongoDB reads a limit of 0 as "no limit".
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let coll = self.coll(entity);
        let mut find = coll.find(filter).sort(sort);
        if let Some(limit) = limit {
            find = find.limit(limit);
        }
        let docs: Vec<Document> =
            find.await.map_err(|e| mongo("find", e))?.try_collect().await.map_err(|e| mongo("find", e))?;
        docs.into_iter().map(|d| from_doc(entity.as_str(), d)).collect()
    }

    async fn page<T: DeserializeOwned + OptionalJson>(&self, entity: Entity, page: Page) -> Result<Vec<T>> {
        let filter = match page.after {
            Some(after) => doc! { "_id": { "$gt": after } },
            None => doc! {},
        };
        self.find(entity, filter, doc! { "_id": 1 }, page.limit.map(i64::from)).await
    }

    /// Inserts a record under a fresh id; a unique index violation is `AlreadyExists(key)`.
    async fn insert<T: Serialize + OptionalJson>(
        &self,
        entity: Entity,
        record: &T,
        extra: Document,
        key: &str,
    ) -> Result<i64> {
        let id = self.next_ids(entity, 1).await?;
        let mut doc = to_doc(record)?;
        doc.insert("_id", id);
        doc.extend(extra);
        match self.coll(entity).insert_one(doc).await {
            Ok(_) => Ok(id),
            Err(e) if is_duplicate(&e) => Err(Error::already_exists(entity, key)),
            Err(e) => Err(mongo("insert", e)),
        }
    }

    /// Inserts a batch under consecutive fresh ids, all or nothing: should the server fail
    /// part way, what was inserted is deleted again before the error is returned.
    async fn insert_batch(&self, entity: Entity, mut docs: Vec<Document>) -> Result<i64> {
        if docs.is_empty() {
            return Ok(0);
        }
        let first = self.next_ids(entity, docs.len()).await?;
        for (i, doc) in docs.iter_mut().enumerate() {
            doc.insert("_id", first + i as i64);
        }
        let last = first + docs.len() as i64 - 1;
        if let Err(e) = self.coll(entity).insert_many(docs).await {
            let undo = self.coll(entity).delete_many(doc! { "_id": { "$gte": first, "$lte": last } }).await;
            if let Err(undo) = undo {
                log::error!("mongodb: {entity} ids {first}..={last} partly written and not removed: {undo}");
            }
            return Err(mongo("insert batch", e));
        }
        Ok(first)
    }

    async fn require_versions(&self, ids: impl IntoIterator<Item = i64>) -> Result<()> {
        self.require_all(Entity::ModelVersion, ids).await
    }

    /// Every id in `ids` exists, or `NotFound` naming the lowest missing one.
    async fn require_all(&self, entity: Entity, ids: impl IntoIterator<Item = i64>) -> Result<()> {
        let wanted: HashSet<i64> = ids.into_iter().collect();
        let found = self.present(entity, wanted.iter().copied().collect()).await?;
        match wanted.iter().filter(|id| !found.contains(id)).min() {
            Some(missing) => Err(Error::not_found(entity, missing)),
            None => Ok(()),
        }
    }

    /// Which of `ids` exist.
    async fn present(&self, entity: Entity, ids: Vec<i64>) -> Result<HashSet<i64>> {
        let found: Vec<Document> = self
            .coll(entity)
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(|e| mongo("read", e))?
            .try_collect()
            .await
            .map_err(|e| mongo("read", e))?;
        Ok(found.iter().filter_map(|d| d.get_i64("_id").ok()).collect())
    }

    /// Imported records as documents (with their sort keys), their parents, and their names.
    fn import_docs(batch: &ImportBatch) -> Result<ImportDocs> {
        fn docs<T: Serialize + OptionalJson>(
            v: &[T],
            ts: impl Fn(&T) -> Option<i64>,
        ) -> Result<Vec<Document>> {
            v.iter()
                .map(|r| {
                    let mut doc = to_doc(r)?;
                    if let Some(ts) = ts(r) {
                        doc.insert("_ts", ts);
                    }
                    Ok(doc)
                })
                .collect()
        }
        Ok(match batch {
            ImportBatch::Models(v) => {
                (docs(v, |_| None)?, vec![], v.iter().map(|r| r.name.clone()).collect())
            }
            ImportBatch::Datasets(v) => {
                (docs(v, |_| None)?, vec![], v.iter().map(|r| r.name.clone()).collect())
            }
            ImportBatch::Experiments(v) => {
                (docs(v, |_| None)?, vec![], v.iter().map(|r| r.name.clone()).collect())
            }
            ImportBatch::ModelVersions(v) => (
                docs(v, |r| Some(micros(r.created_at)))?,
                v.iter().map(|r| (Entity::Model, r.model_id.get())).collect(),
                vec![],
            ),
            ImportBatch::TrainingRuns(v) => (
                docs(v, |_| None)?,
                v.iter()
                    .flat_map(|r| {
                        (r.model_version_id.map(|v| (Entity::ModelVersion, v.get())).into_iter())
                            .chain(r.dataset_id.map(|d| (Entity::Dataset, d.get())))
                    })
                    .collect(),
                vec![],
            ),
            ImportBatch::Predictions(v) => (
                docs(v, |r| Some(micros(r.timestamp)))?,
                v.iter().map(|r| (Entity::ModelVersion, r.model_version_id.get())).collect(),
                vec![],
            ),
            _ => return Err(Error::config(format!("mongodb: cannot import {}", batch.entity()))),
        })
    }
}

#[async_trait]
impl MetadataStore for MongoStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "mongodb",
            location: self.location.clone(),
            capabilities: Capabilities::server(),
        }
    }

    async fn create_model(&self, model: NewModel) -> Result<Model> {
        model.validate()?;
        let mut model = model.into_model(ModelId(0), time::now());
        model.id = ModelId(self.insert(Entity::Model, &model, doc! {}, &model.name.clone()).await?);
        Ok(model)
    }

    async fn get_model(&self, id: ModelId) -> Result<Model> {
        self.get(Entity::Model, doc! { "_id": id.get() }, id).await
    }

    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        self.get(Entity::Model, doc! { "name": name }, name).await
    }

    async fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>> {
        self.get_existing(Entity::Model, ids.iter().map(|id| id.get())).await
    }

    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        self.page(Entity::Model, page).await
    }

    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        version.validate()?;
        self.require(Entity::Model, version.model_id.get()).await?;
        let mut version = version.into_version(ModelVersionId(0), time::now());
        let key = format!("{} of model {}", version.version, version.model_id);
        let extra = doc! { "_ts": micros(version.created_at) };
        version.id = ModelVersionId(self.insert(Entity::ModelVersion, &version, extra, &key).await?);
        Ok(version)
    }

    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        self.get(Entity::ModelVersion, doc! { "_id": id.get() }, id).await
    }

    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        self.require(Entity::Model, model_id.get()).await?;
        let filter = doc! { "model_id": model_id.get() };
        self.find(Entity::ModelVersion, filter, doc! { "_ts": -1, "_id": -1 }, None).await
    }

    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset> {
        dataset.validate()?;
        let mut dataset = dataset.into_dataset(DatasetId(0), time::now());
        dataset.id = DatasetId(self.insert(Entity::Dataset, &dataset, doc! {}, &dataset.name.clone()).await?);
        Ok(dataset)
    }

    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        self.get(Entity::Dataset, doc! { "_id": id.get() }, id).await
    }

    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        self.get(Entity::Dataset, doc! { "name": name }, name).await
    }

    async fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>> {
        self.get_existing(Entity::Dataset, ids.iter().map(|id| id.get())).await
    }

    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        self.page(Entity::Dataset, page).await
    }

    async fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun> {
        run.validate()?;
        if let Some(version) = run.model_version_id {
            self.require(Entity::ModelVersion, version.get()).await?;
        }
        if let Some(dataset) = run.dataset_id {
            self.require(Entity::Dataset, dataset.get()).await?;
        }
        let mut run = run.into_run(TrainingRunId(0), time::now());
        run.id = TrainingRunId(self.insert(Entity::TrainingRun, &run, doc! {}, "").await?);
        Ok(run)
    }

    async fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun> {
        update.validate()?;
        if let Some(version) = update.model_version_id {
            self.require(Entity::TrainingRun, id.get()).await?;
            self.require(Entity::ModelVersion, version.get()).await?;
        }
        // `$set` only what the update sets, encoded as a whole run would be.
        let names = update.fields_set();
        let mut changed = NewTrainingRun::without_version().into_run(id, time::now());
        update.apply(&mut changed);
        let mut encoded = to_doc(&changed)?;
        let mut set = Document::new();
        for name in &names {
            set.insert(*name, encoded.remove(*name).unwrap_or(Bson::Null));
        }
        if names.contains(&"artifacts") {
            // `artifacts` is a run's only optional JSON field: its `Some(null)` marker is exact.
            set.insert(JSON_NULLS, encoded.remove(JSON_NULLS).unwrap_or_else(|| Bson::Array(Vec::new())));
        }
        let found = if set.is_empty() {
            self.coll(Entity::TrainingRun).find_one(doc! { "_id": id.get() }).await
        } else {
            self.coll(Entity::TrainingRun)
                .find_one_and_update(doc! { "_id": id.get() }, doc! { "$set": set })
                .return_document(ReturnDocument::After)
                .await
        }
        .map_err(|e| mongo("update run", e))?;
        match found {
            Some(doc) => from_doc("training_run", doc),
            None => Err(Error::not_found(Entity::TrainingRun, id)),
        }
    }

    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        self.get(Entity::TrainingRun, doc! { "_id": id.get() }, id).await
    }

    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>> {
        self.page(Entity::TrainingRun, page).await
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        request::validate_hyperparameters(&params)?;
        self.require(Entity::TrainingRun, run.get()).await?;
        for (name, value) in params {
            self.coll(Entity::Hyperparameter)
                .update_one(
                    doc! { "training_run_id": run.get(), "name": &name },
                    doc! { "$set": { "value": value.to_string() } },
                )
                .upsert(true)
                .await
                .map_err(|e| mongo("log hyperparameter", e))?;
        }
        Ok(())
    }

    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        self.require(Entity::TrainingRun, run.get()).await?;
        let docs: Vec<Document> = self
            .coll(Entity::Hyperparameter)
            .find(doc! { "training_run_id": run.get() })
            .await
            .map_err(|e| mongo("read hyperparameters", e))?
            .try_collect()
            .await
            .map_err(|e| mongo("read hyperparameters", e))?;
        docs.into_iter()
            .map(|d| {
                let name = d.get_str("name").map_err(|e| error::decode("hyperparameter", e))?.to_owned();
                let text = d.get_str("value").map_err(|e| error::decode("hyperparameter", e))?;
                Ok((name, serde_json::from_str(text).map_err(|e| error::decode("hyperparameter", e))?))
            })
            .collect()
    }

    async fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()> {
        validate_tags(&tags)?;
        self.require(target.entity(), target.id()).await?;
        // One document per tag: MLflow's keys hold dots (`mlflow.runName`), which a field
        // path inside one document would read as nesting.
        for (name, value) in tags {
            self.tags()
                .update_one(tag_key(target, &name), doc! { "$set": { "value": value } })
                .upsert(true)
                .await
                .map_err(|e| mongo("set tag", e))?;
        }
        Ok(())
    }

    async fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>> {
        self.require(target.entity(), target.id()).await?;
        let docs: Vec<Document> = self
            .tags()
            .find(doc! { "entity": target.entity().as_str(), "entity_id": target.id() })
            .await
            .map_err(|e| mongo("read tags", e))?
            .try_collect()
            .await
            .map_err(|e| mongo("read tags", e))?;
        docs.into_iter()
            .map(|d| {
                let name = d.get_str("name").map_err(|e| error::decode("tag", e))?;
                let value = d.get_str("value").map_err(|e| error::decode("tag", e))?;
                Ok((name.to_owned(), value.to_owned()))
            })
            .collect()
    }

    async fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool> {
        self.require(target.entity(), target.id()).await?;
        let done = self.tags().delete_one(tag_key(target, key)).await.map_err(|e| mongo("delete tag", e))?;
        Ok(done.deleted_count > 0)
    }

    async fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric> {
        metric.validate()?;
        self.require(Entity::TrainingRun, run.get()).await?;
        let metric = metric.into_metric(run, time::now());
        self.insert_batch(Entity::Metric, vec![to_doc(&metric)?]).await?;
        Ok(metric)
    }

    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        request::validate_metrics(&metrics)?;
        self.require(Entity::TrainingRun, run.get()).await?;
        let now = time::now();
        let docs =
            metrics.into_iter().map(|m| to_doc(&m.into_metric(run, now))).collect::<Result<Vec<_>>>()?;
        let n = docs.len();
        self.insert_batch(Entity::Metric, docs).await?;
        Ok(n)
    }

    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        self.require(Entity::TrainingRun, run.get()).await?;
        let mut filter = doc! { "training_run_id": run.get() };
        if let Some(name) = name {
            filter.insert("metric_name", name);
        }
        self.find(Entity::Metric, filter, doc! { "_id": 1 }, None).await
    }

    async fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment> {
        experiment.validate()?;
        let mut experiment = experiment.into_experiment(ExperimentId(0), time::now());
        let key = experiment.name.clone();
        experiment.id = ExperimentId(self.insert(Entity::Experiment, &experiment, doc! {}, &key).await?);
        Ok(experiment)
    }

    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.get(Entity::Experiment, doc! { "_id": id.get() }, id).await
    }

    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>> {
        self.page(Entity::Experiment, page).await
    }

    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        self.require(Entity::Experiment, link.experiment_id.get()).await?;
        self.require(Entity::TrainingRun, link.training_run_id.get()).await?;
        let link = link.into_experiment_run();
        let key = format!("run {} in experiment {}", link.training_run_id, link.experiment_id);
        self.insert(Entity::ExperimentRun, &link, doc! {}, &key).await?;
        Ok(link)
    }

    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        self.require(Entity::Experiment, id.get()).await?;
        let links: Vec<ExperimentRun> = self
            .find(Entity::ExperimentRun, doc! { "experiment_id": id.get() }, doc! { "_id": 1 }, None)
            .await?;
        let ids: Vec<i64> = links.iter().map(|l| l.training_run_id.get()).collect();
        let runs: Vec<TrainingRun> =
            self.find(Entity::TrainingRun, doc! { "_id": { "$in": ids } }, doc! { "_id": 1 }, None).await?;
        let runs: HashMap<TrainingRunId, TrainingRun> = runs.into_iter().map(|r| (r.id, r)).collect();
        links
            .into_iter()
            .map(|link| {
                let run = runs.get(&link.training_run_id).ok_or_else(|| {
                    Error::backend(
                        format!("experiment run links missing run {}", link.training_run_id),
                        "dangling",
                    )
                })?;
                Ok(ExperimentRunDetail {
                    experiment_id: link.experiment_id,
                    training_run_id: link.training_run_id,
                    variant_name: link.variant_name,
                    notes: link.notes,
                    status: run.status.clone(),
                    final_loss: run.final_loss,
                    best_metric_value: run.best_metric_value,
                })
            })
            .collect()
    }

    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction> {
        prediction.validate()?;
        Ok(self.log_predictions(vec![prediction]).await?.remove(0))
    }

    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        request::validate_predictions(&predictions)?;
        self.require_versions(predictions.iter().map(|p| p.model_version_id.get())).await?;
        let now = time::now();
        let mut predictions: Vec<Prediction> =
            predictions.into_iter().map(|p| p.into_prediction(PredictionId(0), now)).collect();
        let docs = predictions
            .iter()
            .map(|p| {
                let mut doc = to_doc(p)?;
                doc.remove("_id");
                doc.insert("_ts", micros(p.timestamp));
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        let first = self.insert_batch(Entity::Prediction, docs).await?;
        for (i, p) in predictions.iter_mut().enumerate() {
            p.id = PredictionId(first + i as i64);
        }
        Ok(predictions)
    }

    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        self.get(Entity::Prediction, doc! { "_id": id.get() }, id).await
    }

    async fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>> {
        self.get_existing(Entity::Prediction, ids.iter().map(|id| id.get())).await
    }

    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        self.require(Entity::ModelVersion, version.get()).await?;
        let filter = doc! { "model_version_id": version.get() };
        self.find(Entity::Prediction, filter, doc! { "_ts": -1, "_id": -1 }, Some(i64::from(limit))).await
    }

    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        self.page(Entity::Prediction, page).await
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        batch.validate()?;
        let entity = batch.entity();
        let (docs, parents, names) = Self::import_docs(&batch)?;
        let ids = batch.ids();
        let present = self.present(entity, ids.clone()).await?;
        let new: Vec<(i64, Document, Option<String>)> = ids
            .into_iter()
            .zip(docs)
            .zip(names.into_iter().map(Some).chain(std::iter::repeat(None)))
            .filter(|((id, _), _)| !present.contains(id))
            .map(|((id, doc), name)| (id, doc, name))
            .collect();
        if new.is_empty() {
            return Ok(0);
        }
        let mut by_entity: BTreeMap<&str, (Entity, Vec<i64>)> = BTreeMap::new();
        for (parent, id) in parents {
            by_entity.entry(parent.as_str()).or_insert((parent, Vec::new())).1.push(id);
        }
        for (parent, ids) in by_entity.into_values() {
            self.require_all(parent, ids).await?;
        }
        let new_names: Vec<String> = new.iter().filter_map(|(_, _, n)| n.clone()).collect();
        if !new_names.is_empty() {
            let taken = self
                .coll(entity)
                .find_one(doc! { "name": { "$in": new_names } })
                .projection(doc! { "name": 1 })
                .await
                .map_err(|e| mongo("read", e))?;
            if let Some(taken) = taken {
                return Err(Error::already_exists(entity, taken.get_str("name").unwrap_or_default()));
            }
        }
        let ids: Vec<i64> = new.iter().map(|(id, _, _)| *id).collect();
        let written = ids.len() as u64;
        let docs: Vec<Document> = new.into_iter().map(|(_, doc, _)| doc).collect();
        if let Err(e) = self.coll(entity).insert_many(docs).await {
            // All or nothing: take back what went in before the failure.
            let undo = self.coll(entity).delete_many(doc! { "_id": { "$in": ids.clone() } }).await;
            if let Err(undo) = undo {
                log::error!("mongodb: imported {entity} records partly written and not removed: {undo}");
            }
            return Err(if is_duplicate(&e) {
                Error::already_exists(entity, "(a unique key of the imported batch)")
            } else {
                mongo("import", e)
            });
        }
        let highest = ids.iter().copied().max().unwrap_or_default();
        self.db
            .collection::<Document>("counters")
            .update_one(doc! { "_id": collection_name(entity) }, doc! { "$max": { "seq": highest } })
            .await
            .map_err(|e| mongo("move the ids counter", e))?;
        Ok(written)
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        let count = |entity: Entity, filter: Document| async move {
            self.coll(entity).count_documents(filter).await.map_err(|e| mongo("count", e))
        };
        Ok(StoreStatistics {
            models: count(Entity::Model, doc! {}).await?,
            model_versions: count(Entity::ModelVersion, doc! {}).await?,
            datasets: count(Entity::Dataset, doc! {}).await?,
            training_runs: count(Entity::TrainingRun, doc! {}).await?,
            completed_runs: count(Entity::TrainingRun, doc! { "status": COMPLETED_RUN_STATUS }).await?,
            hyperparameters: count(Entity::Hyperparameter, doc! {}).await?,
            metrics: count(Entity::Metric, doc! {}).await?,
            experiments: count(Entity::Experiment, doc! {}).await?,
            experiment_runs: count(Entity::ExperimentRun, doc! {}).await?,
            predictions: count(Entity::Prediction, doc! {}).await?,
        })
    }

    async fn close(&self) -> Result<()> {
        self.client.clone().shutdown().await;
        Ok(())
    }
}

/// The filter (and, upserted, the identity) of one tag.
fn tag_key(target: TagTarget, name: &str) -> Document {
    doc! { "entity": target.entity().as_str(), "entity_id": target.id(), "name": name }
}
