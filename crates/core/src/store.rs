//! The `MetadataStore` trait: the unified API of SPEC §3 over one backend.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::{
    Dataset, Experiment, ExperimentRun, ExperimentRunDetail, Metric, Model, ModelVersion, Prediction,
    RunSummary, StoreStatistics, TrainingRun,
};
use crate::error::Result;
use crate::ids::{DatasetId, ExperimentId, ModelId, ModelVersionId, PredictionId, TrainingRunId};
use crate::import::ImportBatch;
use crate::request::{
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, Page, TrainingRunUpdate,
};
use crate::tag::TagTarget;

/// What a store can do; conformance tests branch on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capabilities {
    /// Data survives `close` and a new connection to the same location.
    pub persistent: bool,
    /// Several processes may use the same data at once.
    pub shared: bool,
}

impl Capabilities {
    /// Capabilities of a store that keeps data across reopen.
    pub const fn persistent() -> Self {
        Capabilities { persistent: true, shared: false }
    }

    /// Capabilities of a server-backed store.
    pub const fn server() -> Self {
        Capabilities { persistent: true, shared: true }
    }

    /// Capabilities of a store that lives and dies with the process.
    pub const fn ephemeral() -> Self {
        Capabilities { persistent: false, shared: false }
    }
}

/// Which backend a store is, for statistics and messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// Backend name: `sqlite`, `postgres`, `mysql`, `redis`, `mongodb`, `memory`.
    pub backend: &'static str,
    /// Where the data lives, with any password redacted.
    pub location: String,
    /// What the store can do.
    pub capabilities: Capabilities,
}

/// The source of truth: every entity of SPEC §2 behind one async API.
///
/// Contract, checked by `aimdb-testkit` on every implementation:
/// - requests are validated first ([`NewModel::validate`] ...); a rejected request writes nothing;
/// - references are checked: a version of a missing model is [`Error::NotFound`](crate::Error::NotFound)
///   naming the model; reading the children of a missing parent is `NotFound` too;
/// - unique names collide as [`Error::AlreadyExists`](crate::Error::AlreadyExists);
/// - batches are all-or-nothing;
/// - versions and predictions come newest first, metrics in logging order,
///   lists of models, datasets and predictions in ascending id order.
#[async_trait]
pub trait MetadataStore: Send + Sync + Debug {
    /// Which backend this is.
    fn info(&self) -> StoreInfo;

    /// Registers a model.
    async fn create_model(&self, model: NewModel) -> Result<Model>;
    /// A model by id.
    async fn get_model(&self, id: ModelId) -> Result<Model>;
    /// A model by its unique name.
    async fn get_model_by_name(&self, name: &str) -> Result<Model>;
    /// The models among `ids` that exist, in the order of `ids`, in one read (what search
    /// hits resolve through; a missing id is skipped, not an error).
    async fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>>;
    /// Models in ascending id order.
    async fn list_models(&self, page: Page) -> Result<Vec<Model>>;

    /// Registers a version of an existing model.
    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion>;
    /// A model version by id.
    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion>;
    /// The versions of a model, newest first.
    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>>;

    /// Registers a dataset.
    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset>;
    /// A dataset by id.
    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset>;
    /// A dataset by its unique name.
    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset>;
    /// The datasets among `ids` that exist, in the order of `ids` (see [`get_models_by_ids`](Self::get_models_by_ids)).
    async fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>>;
    /// Datasets in ascending id order.
    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>>;

    /// Starts a training run.
    async fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun>;
    /// Changes only the fields set in `update`; returns the run after the change.
    async fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun>;
    /// A training run by id.
    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun>;
    /// Training runs in ascending id order.
    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>>;

    /// Logs hyperparameters; a name logged again is overwritten.
    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()>;
    /// The hyperparameters of a run, JSON types preserved.
    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>>;

    /// Logs one metric point.
    async fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric>;
    /// Logs a batch of metric points in one transaction; returns how many were written.
    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize>;
    /// The metrics of a run in logging order, optionally of one name only.
    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>>;

    /// Creates an experiment.
    async fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment>;
    /// An experiment by id.
    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment>;
    /// Experiments in ascending id order.
    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>>;
    /// Adds a training run to an experiment (once per run).
    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun>;
    /// The runs of an experiment in the order they were added, joined with their outcome.
    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>>;

    /// Logs one prediction.
    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction>;
    /// Logs a batch of predictions in one transaction, returned in the order given.
    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>>;
    /// A prediction by id.
    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction>;
    /// The predictions among `ids` that exist, in the order of `ids` (see [`get_models_by_ids`](Self::get_models_by_ids)).
    async fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>>;
    /// The latest `limit` predictions of a model version, newest first.
    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>>;
    /// All predictions in ascending id order (for reindexing and migration).
    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>>;

    /// Sets tags on a model, version, run or experiment in one write: each key is added or
    /// its value replaced; other keys stay. `NotFound` when the record does not exist.
    async fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()>;
    /// The tags of a record (empty when it has none; `NotFound` when it does not exist).
    async fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>>;
    /// Removes one tag; whether it was there. `NotFound` when the record does not exist.
    async fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool>;

    /// Runs among `ids` that exist, in the order of `ids`, each with its hyperparameters,
    /// tags and latest metric points: what a run table or MLflow's `runs/search` reads. The
    /// default makes four calls per run; stores override it with a few bulk reads.
    async fn get_run_summaries(&self, ids: &[TrainingRunId]) -> Result<Vec<RunSummary>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let run = match self.get_training_run(id).await {
                Ok(run) => run,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            out.push(RunSummary {
                run,
                hyperparameters: self.get_hyperparameters(id).await?,
                tags: self.get_tags(TagTarget::TrainingRun(id)).await?,
                latest_metrics: RunSummary::latest_points(self.get_metrics(id, None).await?),
            });
        }
        Ok(out)
    }

    /// Writes records exactly as given, ids and timestamps kept (migration, restore).
    ///
    /// The batch is validated like the create requests; a record whose id is already
    /// present is left as it is and not counted; the others are written all or nothing,
    /// with references and unique names checked as on create. Ids created afterwards
    /// continue after the highest id present. Returns how many records were written.
    async fn import(&self, batch: ImportBatch) -> Result<u64>;

    /// Counts of every entity.
    async fn statistics(&self) -> Result<StoreStatistics>;

    /// Flushes and releases connections; the store must not be used afterwards.
    async fn close(&self) -> Result<()>;
}
