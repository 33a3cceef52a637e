//! [`StoreLayer`]: a store that wraps another and changes only some calls (as OpenDAL's
//! `LayeredAccess`). Every method forwards to [`StoreLayer::inner`] unless the layer
//! overrides it, and every layer is a [`MetadataStore`].
//!
//! ```
//! use aimdb_core::{Error, MemoryStore, MetadataStore, Model, NewModel, Result, StoreLayer};
//!
//! /// Refuses new models; everything else goes straight through.
//! #[derive(Debug)]
//! struct NoNewModels(MemoryStore);
//!
//! #[async_trait::async_trait]
//! impl StoreLayer for NoNewModels {
//!     fn inner(&self) -> &dyn MetadataStore {
//!         &self.0
//!     }
//!     async fn create_model(&self, _: NewModel) -> Result<Model> {
//!         Err(Error::invalid("model", "this store takes no new models"))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = NoNewModels(MemoryStore::new());
//! assert!(MetadataStore::create_model(&store, NewModel::new("resnet")).await.is_err());
//! assert_eq!(MetadataStore::statistics(&store).await?.models, 0);
//! # Ok::<_, aimdb_core::Error>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
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
use crate::store::{MetadataStore, StoreInfo};
use crate::tag::TagTarget;

/// Declares [`StoreLayer`] with a forwarding default for each listed [`MetadataStore`]
/// method, and the impl that makes every layer a store. One list, so a method added to
/// the store trait is added here once.
macro_rules! store_layer {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        /// A [`MetadataStore`] over another one: each method forwards to
        /// [`inner`](StoreLayer::inner) unless overridden. Implement this, not
        /// `MetadataStore`, for a wrapper; see the [module docs](self).
        #[async_trait]
        pub trait StoreLayer: Send + Sync + Debug {
            /// The store calls go to.
            fn inner(&self) -> &dyn MetadataStore;

            /// See [`MetadataStore::info`].
            fn info(&self) -> StoreInfo {
                self.inner().info()
            }
            $(
                #[doc = concat!("See [`MetadataStore::", stringify!($name), "`].")]
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.inner().$name($($arg),*).await
                }
            )*
        }

        #[async_trait]
        impl<L: StoreLayer> MetadataStore for L {
            fn info(&self) -> StoreInfo {
                StoreLayer::info(self)
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    StoreLayer::$name(self $(, $arg)*).await
                }
            )*
        }
    };
}

store_layer! {
    fn create_model(&self, model: NewModel) -> Result<Model>;
    fn get_model(&self, id: ModelId) -> Result<Model>;
    fn get_model_by_name(&self, name: &str) -> Result<Model>;
    fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>>;
    fn list_models(&self, page: Page) -> Result<Vec<Model>>;
    fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion>;
    fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion>;
    fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>>;
    fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset>;
    fn get_dataset(&self, id: DatasetId) -> Result<Dataset>;
    fn get_dataset_by_name(&self, name: &str) -> Result<Dataset>;
    fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>>;
    fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>>;
    fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun>;
    fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun>;
    fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun>;
    fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>>;
    fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()>;
    fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>>;
    fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric>;
    fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize>;
    fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>>;
    fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment>;
    fn get_experiment(&self, id: ExperimentId) -> Result<Experiment>;
    fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>>;
    fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun>;
    fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>>;
    fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction>;
    fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>>;
    fn get_prediction(&self, id: PredictionId) -> Result<Prediction>;
    fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>>;
    fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>>;
    fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>>;
    fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()>;
    fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>>;
    fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool>;
    fn get_run_summaries(&self, ids: &[TrainingRunId]) -> Result<Vec<RunSummary>>;
    fn import(&self, batch: ImportBatch) -> Result<u64>;
    fn statistics(&self) -> Result<StoreStatistics>;
    fn close(&self) -> Result<()>;
}
