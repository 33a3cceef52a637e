//! An in-memory [`MetadataStore`] for fast unit tests; nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::entity::{
    Dataset, Experiment, ExperimentRun, ExperimentRunDetail, Metric, Model, ModelVersion, Prediction,
    StoreStatistics, TrainingRun,
};
use crate::error::{Entity, Error, Result};
use crate::ids::{DatasetId, ExperimentId, ModelId, ModelVersionId, PredictionId, TrainingRunId};
use crate::import::ImportBatch;
use crate::request::{
    self, COMPLETED_RUN_STATUS, NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel,
    NewModelVersion, NewPrediction, NewTrainingRun, Page, TrainingRunUpdate,
};
use crate::store::{Capabilities, MetadataStore, StoreInfo};
use crate::tag::TagTarget;
use crate::time;

/// URL schemes that select the in-memory store.
pub const URL_SCHEMES: &[&str] = crate::config::StoreScheme::Memory.url_schemes();

#[derive(Debug, Default)]
struct State {
    last_id: HashMap<&'static str, i64>,
    models: BTreeMap<i64, Model>,
    versions: BTreeMap<i64, ModelVersion>,
    datasets: BTreeMap<i64, Dataset>,
    runs: BTreeMap<i64, TrainingRun>,
    hyperparameters: BTreeMap<i64, BTreeMap<String, Value>>,
    metrics: BTreeMap<i64, Vec<Metric>>,
    experiments: BTreeMap<i64, Experiment>,
    experiment_runs: Vec<ExperimentRun>,
    predictions: BTreeMap<i64, Prediction>,
    tags: BTreeMap<TagTarget, BTreeMap<String, String>>,
}

impl State {
    fn next_id(&mut self, entity: Entity) -> i64 {
        let id = self.last_id.entry(entity.as_str()).or_insert(0);
        *id += 1;
        *id
    }

    fn model(&self, id: ModelId) -> Result<&Model> {
        self.models.get(&id.0).ok_or_else(|| Error::not_found(Entity::Model, id))
    }

    fn version(&self, id: ModelVersionId) -> Result<&ModelVersion> {
        self.versions.get(&id.0).ok_or_else(|| Error::not_found(Entity::ModelVersion, id))
    }

    fn dataset(&self, id: DatasetId) -> Result<&Dataset> {
        self.datasets.get(&id.0).ok_or_else(|| Error::not_found(Entity::Dataset, id))
    }

    fn run(&self, id: TrainingRunId) -> Result<&TrainingRun> {
        self.runs.get(&id.0).ok_or_else(|| Error::not_found(Entity::TrainingRun, id))
    }

    fn experiment(&self, id: ExperimentId) -> Result<&Experiment> {
        self.experiments.get(&id.0).ok_or_else(|| Error::not_found(Entity::Experiment, id))
    }

    /// The record a tag is on exists.
    fn tag_target(&self, target: TagTarget) -> Result<()> {
        match target {
            TagTarget::Model(id) => self.model(id).map(drop),
            TagTarget::ModelVersion(id) => self.version(id).map(drop),
            TagTarget::TrainingRun(id) => self.run(id).map(drop),
            TagTarget::Experiment(id) => self.experiment(id).map(drop),
        }
    }

    /// A model may take `name`.
    fn free_model_name(&self, name: &str) -> Result<()> {
        unique_name(self.models.values().map(|m| &m.name), Entity::Model, name)
    }

    /// A dataset may take `name`.
    fn free_dataset_name(&self, name: &str) -> Result<()> {
        unique_name(self.datasets.values().map(|d| &d.name), Entity::Dataset, name)
    }

    /// An experiment may take `name`.
    fn free_experiment_name(&self, name: &str) -> Result<()> {
        unique_name(self.experiments.values().map(|e| &e.name), Entity::Experiment, name)
    }

    /// Model `model` exists and has no version `version` yet.
    fn free_version(&self, model: ModelId, version: &str) -> Result<()> {
        self.model(model)?;
        if self.versions.values().any(|v| v.model_id == model && v.version == version) {
            return Err(Error::already_exists(Entity::ModelVersion, format!("{version} of model {model}")));
        }
        Ok(())
    }

    /// A run's references exist.
    fn run_parents(&self, version: Option<ModelVersionId>, dataset: Option<DatasetId>) -> Result<()> {
        version.map_or(Ok(()), |v| self.version(v).map(drop))?;
        dataset.map_or(Ok(()), |d| self.dataset(d).map(drop))
    }

    fn insert_prediction(&mut self, p: NewPrediction, now: time::Timestamp) -> Prediction {
        let id = PredictionId(self.next_id(Entity::Prediction));
        let prediction = p.into_prediction(id, now);
        self.predictions.insert(id.0, prediction.clone());
        prediction
    }
}

/// A [`MetadataStore`] held in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half write: every method
        // checks everything before it mutates, so the state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unique_name<'a>(mut names: impl Iterator<Item = &'a String>, entity: Entity, name: &str) -> Result<()> {
    if names.any(|n| n == name) { Err(Error::already_exists(entity, name)) } else { Ok(()) }
}

/// Inserts the records whose ids are new once every one of them passed `check` (a batch
/// cannot collide with itself: `ImportBatch::validate` rejects repeated ids and names), and
/// moves the id counter past them.
fn import_into<T: crate::import::Identified>(
    s: &mut State,
    records: Vec<T>,
    table: fn(&mut State) -> &mut BTreeMap<i64, T>,
    check: impl Fn(&State, &T) -> Result<()>,
) -> Result<u64> {
    let new: Vec<T> = records.into_iter().filter(|r| !table(s).contains_key(&r.id())).collect();
    for record in &new {
        check(s, record)?;
    }
    let written = new.len() as u64;
    for record in new {
        let id = record.id();
        table(s).insert(id, record);
        let last = s.last_id.entry(T::ENTITY.as_str()).or_insert(0);
        *last = (*last).max(id);
    }
    Ok(written)
}

/// The entries of `map` among `ids`, in the order of `ids`.
fn pick<T: Clone>(map: &BTreeMap<i64, T>, ids: impl IntoIterator<Item = i64>) -> Vec<T> {
    ids.into_iter().filter_map(|id| map.get(&id).cloned()).collect()
}

fn page<T: Clone>(map: &BTreeMap<i64, T>, page: Page) -> Vec<T> {
    let start = page.after.map_or(i64::MIN, |a| a.saturating_add(1));
    map.range(start..).take(page.limit.map_or(usize::MAX, |l| l as usize)).map(|(_, v)| v.clone()).collect()
}

#[async_trait]
impl MetadataStore for MemoryStore {
    fn info(&self) -> StoreInfo {
        StoreInfo { backend: "memory", location: "memory://".into(), capabilities: Capabilities::ephemeral() }
    }

    async fn create_model(&self, model: NewModel) -> Result<Model> {
        model.validate()?;
        let mut s = self.state();
        s.free_model_name(&model.name)?;
        let id = ModelId(s.next_id(Entity::Model));
        let model = model.into_model(id, time::now());
        s.models.insert(id.0, model.clone());
        Ok(model)
    }

    async fn get_model(&self, id: ModelId) -> Result<Model> {
        self.state().model(id).cloned()
    }

    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        let s = self.state();
        s.models
            .values()
            .find(|m| m.name == name)
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Model, name))
    }

    async fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>> {
        Ok(pick(&self.state().models, ids.iter().map(|id| id.0)))
    }

    async fn list_models(&self, p: Page) -> Result<Vec<Model>> {
        Ok(page(&self.state().models, p))
    }

    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        version.validate()?;
        let mut s = self.state();
        s.free_version(version.model_id, &version.version)?;
        let id = ModelVersionId(s.next_id(Entity::ModelVersion));
        let version = version.into_version(id, time::now());
        s.versions.insert(id.0, version.clone());
        Ok(version)
    }

    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        self.state().version(id).cloned()
    }

    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        let s = self.state();
        s.model(model_id)?;
        let mut versions: Vec<_> = s.versions.values().filter(|v| v.model_id == model_id).cloned().collect();
        versions.sort_by_key(|v| std::cmp::Reverse((v.created_at, v.id)));
        Ok(versions)
    }

    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset> {
        dataset.validate()?;
        let mut s = self.state();
        s.free_dataset_name(&dataset.name)?;
        let id = DatasetId(s.next_id(Entity::Dataset));
        let dataset = dataset.into_dataset(id, time::now());
        s.datasets.insert(id.0, dataset.clone());
        Ok(dataset)
    }

    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        self.state().dataset(id).cloned()
    }

    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        let s = self.state();
        s.datasets
            .values()
            .find(|d| d.name == name)
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Dataset, name))
    }

    async fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>> {
        Ok(pick(&self.state().datasets, ids.iter().map(|id| id.0)))
    }

    async fn list_datasets(&self, p: Page) -> Result<Vec<Dataset>> {
        Ok(page(&self.state().datasets, p))
    }

    async fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun> {
        run.validate()?;
        let mut s = self.state();
        s.run_parents(run.model_version_id, run.dataset_id)?;
        let id = TrainingRunId(s.next_id(Entity::TrainingRun));
        let run = run.into_run(id, time::now());
        s.runs.insert(id.0, run.clone());
        Ok(run)
    }

    async fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun> {
        update.validate()?;
        let mut s = self.state();
        s.run(id)?;
        s.run_parents(update.model_version_id, None)?;
        let run = s.runs.get_mut(&id.0).expect("checked above");
        update.apply(run);
        Ok(run.clone())
    }

    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        self.state().run(id).cloned()
    }

    async fn list_training_runs(&self, p: Page) -> Result<Vec<TrainingRun>> {
        Ok(page(&self.state().runs, p))
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        request::validate_hyperparameters(&params)?;
        let mut s = self.state();
        s.run(run)?;
        s.hyperparameters.entry(run.0).or_default().extend(params);
        Ok(())
    }

    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        let s = self.state();
        s.run(run)?;
        Ok(s.hyperparameters.get(&run.0).cloned().unwrap_or_default())
    }

    async fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric> {
        metric.validate()?;
        let mut s = self.state();
        s.run(run)?;
        let metric = metric.into_metric(run, time::now());
        s.metrics.entry(run.0).or_default().push(metric.clone());
        Ok(metric)
    }

    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        request::validate_metrics(&metrics)?;
        let mut s = self.state();
        s.run(run)?;
        let now = time::now();
        let n = metrics.len();
        s.metrics.entry(run.0).or_default().extend(metrics.into_iter().map(|m| m.into_metric(run, now)));
        Ok(n)
    }

    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        let s = self.state();
        s.run(run)?;
        Ok(s.metrics
            .get(&run.0)
            .map(|all| all.iter().filter(|m| name.is_none_or(|n| m.metric_name == n)).cloned().collect())
            .unwrap_or_default())
    }

    async fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment> {
        experiment.validate()?;
        let mut s = self.state();
        s.free_experiment_name(&experiment.name)?;
        let id = ExperimentId(s.next_id(Entity::Experiment));
        let experiment = experiment.into_experiment(id, time::now());
        s.experiments.insert(id.0, experiment.clone());
        Ok(experiment)
    }

    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.state().experiment(id).cloned()
    }

    async fn list_experiments(&self, p: Page) -> Result<Vec<Experiment>> {
        Ok(page(&self.state().experiments, p))
    }

    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        let mut s = self.state();
        s.experiment(link.experiment_id)?;
        s.run(link.training_run_id)?;
        if s.experiment_runs
            .iter()
            .any(|r| r.experiment_id == link.experiment_id && r.training_run_id == link.training_run_id)
        {
            return Err(Error::already_exists(
                Entity::ExperimentRun,
                format!("run {} in experiment {}", link.training_run_id, link.experiment_id),
            ));
        }
        let link = link.into_experiment_run();
        s.experiment_runs.push(link.clone());
        Ok(link)
    }

    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        let s = self.state();
        s.experiment(id)?;
        s.experiment_runs
            .iter()
            .filter(|r| r.experiment_id == id)
            .map(|r| {
                let run = s.run(r.training_run_id)?;
                Ok(ExperimentRunDetail {
                    experiment_id: r.experiment_id,
                    training_run_id: r.training_run_id,
                    variant_name: r.variant_name.clone(),
                    notes: r.notes.clone(),
                    status: run.status.clone(),
                    final_loss: run.final_loss,
                    best_metric_value: run.best_metric_value,
                })
            })
            .collect()
    }

    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction> {
        prediction.validate()?;
        let mut s = self.state();
        s.version(prediction.model_version_id)?;
        Ok(s.insert_prediction(prediction, time::now()))
    }

    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        request::validate_predictions(&predictions)?;
        let mut s = self.state();
        for p in &predictions {
            s.version(p.model_version_id)?;
        }
        let now = time::now();
        Ok(predictions.into_iter().map(|p| s.insert_prediction(p, now)).collect())
    }

    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        let s = self.state();
        s.predictions.get(&id.0).cloned().ok_or_else(|| Error::not_found(Entity::Prediction, id))
    }

    async fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>> {
        Ok(pick(&self.state().predictions, ids.iter().map(|id| id.0)))
    }

    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        let s = self.state();
        s.version(version)?;
        let mut found: Vec<_> =
            s.predictions.values().filter(|p| p.model_version_id == version).cloned().collect();
        found.sort_by_key(|p| std::cmp::Reverse((p.timestamp, p.id)));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn list_predictions(&self, p: Page) -> Result<Vec<Prediction>> {
        Ok(page(&self.state().predictions, p))
    }

    async fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()> {
        crate::tag::validate_tags(&tags)?;
        let mut s = self.state();
        s.tag_target(target)?;
        s.tags.entry(target).or_default().extend(tags);
        Ok(())
    }

    async fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>> {
        let s = self.state();
        s.tag_target(target)?;
        Ok(s.tags.get(&target).cloned().unwrap_or_default())
    }

    async fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool> {
        let mut s = self.state();
        s.tag_target(target)?;
        Ok(s.tags.get_mut(&target).is_some_and(|tags| tags.remove(key).is_some()))
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        batch.validate()?;
        let mut s = self.state();
        let written = match batch {
            ImportBatch::Models(records) => {
                import_into(&mut s, records, |s| &mut s.models, |s, m| s.free_model_name(&m.name))?
            }
            ImportBatch::ModelVersions(records) => import_into(
                &mut s,
                records,
                |s| &mut s.versions,
                |s, v| s.free_version(v.model_id, &v.version),
            )?,
            ImportBatch::Datasets(records) => {
                import_into(&mut s, records, |s| &mut s.datasets, |s, d| s.free_dataset_name(&d.name))?
            }
            ImportBatch::TrainingRuns(records) => import_into(
                &mut s,
                records,
                |s| &mut s.runs,
                |s, r| s.run_parents(r.model_version_id, r.dataset_id),
            )?,
            ImportBatch::Experiments(records) => {
                import_into(&mut s, records, |s| &mut s.experiments, |s, x| s.free_experiment_name(&x.name))?
            }
            ImportBatch::Predictions(records) => import_into(
                &mut s,
                records,
                |s| &mut s.predictions,
                |s, p| s.version(p.model_version_id).map(drop),
            )?,
        };
        Ok(written)
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        let s = self.state();
        let len = |n: usize| n as u64;
        Ok(StoreStatistics {
            models: len(s.models.len()),
            model_versions: len(s.versions.len()),
            datasets: len(s.datasets.len()),
            training_runs: len(s.runs.len()),
            completed_runs: len(s.runs.values().filter(|r| r.status == COMPLETED_RUN_STATUS).count()),
            hyperparameters: len(s.hyperparameters.values().map(BTreeMap::len).sum()),
            metrics: len(s.metrics.values().map(Vec::len).sum()),
            experiments: len(s.experiments.len()),
            experiment_runs: len(s.experiment_runs.len()),
            predictions: len(s.predictions.len()),
        })
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
