//! `AiDatabase`: the one handle applications hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use aimdb_core::config::AimdbConfig;
use aimdb_core::{
    Dataset, DatasetId, Embedder, Experiment, ExperimentId, ExperimentRun, ExperimentRunDetail,
    MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId, NewDataset, NewExperiment,
    NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction, NewTrainingRun, Page, Prediction,
    PredictionId, Result, StoreInfo, StoreStatistics, TrainingRun, TrainingRunId, TrainingRunUpdate,
};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

/// Statistics of a whole database (SPEC §3 `get_statistics`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Statistics {
    /// Counts of every entity.
    #[serde(flatten)]
    pub counts: StoreStatistics,
    /// The metadata backend (`sqlite`, ...).
    pub backend: String,
    /// Where the metadata lives (password redacted).
    pub location: String,
}

/// An AI model database: a [`MetadataStore`] (the source of truth) behind one handle.
///
/// `AiDatabase` implements [`MetadataStore`] itself, so everything that accepts a
/// store accepts a database, and the conformance suite runs against it too.
#[derive(Debug, Clone)]
pub struct AiDatabase {
    store: Arc<dyn MetadataStore>,
    embedder: Arc<dyn Embedder>,
    config: Arc<AimdbConfig>,
}

impl AiDatabase {
    /// Wraps an open store and an embedder. Most code calls
    /// [`create_ai_database`](crate::create_ai_database).
    pub fn new(store: Arc<dyn MetadataStore>, embedder: Arc<dyn Embedder>, config: AimdbConfig) -> Self {
        AiDatabase { store, embedder, config: Arc::new(config) }
    }

    /// The embedder (loaded on first use).
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The configuration this database was opened with.
    pub fn config(&self) -> &AimdbConfig {
        &self.config
    }

    /// The underlying metadata store.
    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// Counts of every entity plus which backend holds them.
    pub async fn get_statistics(&self) -> Result<Statistics> {
        let info = self.store.info();
        Ok(Statistics {
            counts: self.store.statistics().await?,
            backend: info.backend.to_owned(),
            location: info.location,
        })
    }
}

#[async_trait]
impl MetadataStore for AiDatabase {
    fn info(&self) -> StoreInfo {
        self.store.info()
    }
    async fn create_model(&self, model: NewModel) -> Result<Model> {
        self.store.create_model(model).await
    }
    async fn get_model(&self, id: ModelId) -> Result<Model> {
        self.store.get_model(id).await
    }
    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        self.store.get_model_by_name(name).await
    }
    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        self.store.list_models(page).await
    }
    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        self.store.create_model_version(version).await
    }
    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        self.store.get_model_version(id).await
    }
    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        self.store.get_model_versions(model_id).await
    }
    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset> {
        self.store.create_dataset(dataset).await
    }
    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        self.store.get_dataset(id).await
    }
    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        self.store.get_dataset_by_name(name).await
    }
    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        self.store.list_datasets(page).await
    }
    async fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun> {
        self.store.create_training_run(run).await
    }
    async fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun> {
        self.store.update_training_run(id, update).await
    }
    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        self.store.get_training_run(id).await
    }
    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        self.store.log_hyperparameters(run, params).await
    }
    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        self.store.get_hyperparameters(run).await
    }
    async fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric> {
        self.store.log_metric(run, metric).await
    }
    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        self.store.log_metrics(run, metrics).await
    }
    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        self.store.get_metrics(run, name).await
    }
    async fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment> {
        self.store.create_experiment(experiment).await
    }
    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.store.get_experiment(id).await
    }
    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        self.store.add_experiment_run(link).await
    }
    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        self.store.get_experiment_runs(id).await
    }
    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction> {
        self.store.log_prediction(prediction).await
    }
    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        self.store.log_predictions(predictions).await
    }
    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        self.store.get_prediction(id).await
    }
    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        self.store.get_predictions(version, limit).await
    }
    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        self.store.list_predictions(page).await
    }
    async fn statistics(&self) -> Result<StoreStatistics> {
        self.store.statistics().await
    }
    async fn close(&self) -> Result<()> {
        self.store.close().await
    }
}
