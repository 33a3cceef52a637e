//! The records aimdb stores (SPEC §2), as read back from any backend.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{DatasetId, ExperimentId, ModelId, ModelVersionId, PredictionId, TrainingRunId};
use crate::request::{
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, TrainingRunUpdate,
};
use crate::time::Timestamp;

/// A registered model; `name` is unique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Model {
    /// Store-assigned id.
    pub id: ModelId,
    /// Unique name.
    pub name: String,
    /// Free text, embedded for semantic search.
    pub description: Option<String>,
    /// E.g. `ResNet-50`, `transformer`.
    pub architecture: Option<String>,
    /// E.g. `pytorch`, `tensorflow`.
    pub framework: Option<String>,
    /// E.g. `image_classification`.
    pub task_type: Option<String>,
    /// Input shape as JSON, e.g. `[null, 3, 224, 224]`.
    pub input_shape: Option<Value>,
    /// Output shape as JSON.
    pub output_shape: Option<Value>,
    /// When the model was registered.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When the model was last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// A version of a model; `version` is unique per model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelVersion {
    /// Store-assigned id.
    pub id: ModelVersionId,
    /// The model this is a version of.
    pub model_id: ModelId,
    /// Version label, unique per model (e.g. `1.0.0`).
    pub version: String,
    /// Where the weights live.
    pub checkpoint_path: Option<String>,
    /// Model configuration as JSON.
    pub config: Option<Value>,
    /// Lifecycle status, `active` unless given.
    pub status: String,
    /// When the version was registered.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// A dataset; `name` is unique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dataset {
    /// Store-assigned id.
    pub id: DatasetId,
    /// Unique name.
    pub name: String,
    /// Free text, embedded for semantic search.
    pub description: Option<String>,
    /// Where the data lives.
    pub source_path: Option<String>,
    /// E.g. `parquet`, `images`.
    pub format: Option<String>,
    /// Size on disk in bytes.
    pub size_bytes: Option<i64>,
    /// Number of samples.
    pub num_samples: Option<i64>,
    /// Split description as JSON, e.g. `{"train": 0.8, "test": 0.2}`.
    pub split_info: Option<Value>,
    /// Preprocessing description as JSON.
    pub preprocessing: Option<Value>,
    /// When the dataset was registered.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// One training of a model version, optionally on a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrainingRun {
    /// Store-assigned id.
    pub id: TrainingRunId,
    /// The version trained; `None` until one is linked (MLflow creates runs before any
    /// model is registered).
    pub model_version_id: Option<ModelVersionId>,
    /// The dataset trained on, if recorded.
    pub dataset_id: Option<DatasetId>,
    /// Human-readable run name.
    pub run_name: Option<String>,
    /// `started` unless given; `completed` counts in statistics.
    pub status: String,
    /// When the run started.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: Timestamp,
    /// When the run completed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// Wall time of the run.
    pub duration_seconds: Option<f64>,
    /// Loss at the end of training.
    pub final_loss: Option<f64>,
    /// Best value of the run's target metric.
    pub best_metric_value: Option<f64>,
    /// Artifacts as JSON (paths, URIs).
    pub artifacts: Option<Value>,
}

/// A hyperparameter of a training run; the JSON type of `value` is preserved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hyperparameter {
    /// The run it belongs to.
    pub training_run_id: TrainingRunId,
    /// Name, unique per run (re-logging overwrites).
    pub name: String,
    /// Value with its JSON type.
    pub value: Value,
}

/// One metric point of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metric {
    /// The run it belongs to.
    pub training_run_id: TrainingRunId,
    /// E.g. `loss`, `accuracy`.
    pub metric_name: String,
    /// The value; always finite (NaN and infinities are rejected on every backend).
    pub metric_value: f64,
    /// Epoch, if recorded.
    pub epoch: Option<i64>,
    /// Step, if recorded.
    pub step: Option<i64>,
    /// `train` unless given.
    pub split: String,
    /// When it was logged.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: Timestamp,
}

/// An experiment grouping training runs; `name` is unique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Experiment {
    /// Store-assigned id.
    pub id: ExperimentId,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// What the experiment sets out to show.
    pub hypothesis: Option<String>,
    /// `active` unless given.
    pub status: String,
    /// When the experiment was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it completed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// Results as JSON.
    pub results: Option<Value>,
}

/// The link between an experiment and one of its training runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentRun {
    /// The experiment.
    pub experiment_id: ExperimentId,
    /// The training run.
    pub training_run_id: TrainingRunId,
    /// E.g. `baseline`, `lr=3e-4`.
    pub variant_name: Option<String>,
    /// Free text.
    pub notes: Option<String>,
}

/// A run with what a run table shows of it: its hyperparameters, tags and the latest point
/// of each metric ([`MetadataStore::get_run_summaries`](crate::MetadataStore::get_run_summaries)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSummary {
    /// The run.
    pub run: TrainingRun,
    /// Its hyperparameters.
    pub hyperparameters: std::collections::BTreeMap<String, Value>,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
    /// The latest point of each metric, by name ([`RunSummary::latest_points`]).
    pub latest_metrics: std::collections::BTreeMap<String, Metric>,
}

impl RunSummary {
    /// The latest point of each metric: the greatest step (unset counts as 0), then the
    /// latest time, then the one logged last. MLflow's rule for a run's metric value.
    pub fn latest_points(
        points: impl IntoIterator<Item = Metric>,
    ) -> std::collections::BTreeMap<String, Metric> {
        let mut latest: std::collections::BTreeMap<String, Metric> = std::collections::BTreeMap::new();
        for point in points {
            let newer = latest.get(&point.metric_name).is_none_or(|best| {
                (point.step.unwrap_or(0), point.timestamp) >= (best.step.unwrap_or(0), best.timestamp)
            });
            if newer {
                latest.insert(point.metric_name.clone(), point);
            }
        }
        latest
    }
}

/// An experiment run as read back: the link joined with the run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentRunDetail {
    /// The experiment.
    pub experiment_id: ExperimentId,
    /// The training run.
    pub training_run_id: TrainingRunId,
    /// Variant label.
    pub variant_name: Option<String>,
    /// Free text.
    pub notes: Option<String>,
    /// The run's current status.
    pub status: String,
    /// The run's final loss.
    pub final_loss: Option<f64>,
    /// The run's best metric value.
    pub best_metric_value: Option<f64>,
}

/// One inference made by a model version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prediction {
    /// Store-assigned id.
    pub id: PredictionId,
    /// The version that predicted.
    pub model_version_id: ModelVersionId,
    /// Input as JSON.
    pub input_data: Value,
    /// Output as JSON.
    pub output_data: Value,
    /// Confidence in `[0, 1]` by convention (any finite value is kept).
    pub confidence: Option<f64>,
    /// Inference latency.
    pub inference_time_ms: Option<f64>,
    /// When it was logged.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: Timestamp,
    /// Free-form metadata as JSON.
    pub metadata: Option<Value>,
}

/// Counts of every entity held by a store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreStatistics {
    /// Number of models.
    pub models: u64,
    /// Number of model versions.
    pub model_versions: u64,
    /// Number of datasets.
    pub datasets: u64,
    /// Number of training runs.
    pub training_runs: u64,
    /// Training runs whose status is `completed`.
    pub completed_runs: u64,
    /// Number of hyperparameters.
    pub hyperparameters: u64,
    /// Number of metric points.
    pub metrics: u64,
    /// Number of experiments.
    pub experiments: u64,
    /// Number of experiment runs.
    pub experiment_runs: u64,
    /// Number of predictions.
    pub predictions: u64,
}

/// An entity's optional free-form JSON fields, by name.
///
/// Once serialised, `None` and `Some(Value::Null)` are both JSON `null`, so a store that keeps
/// records as serde documents (Redis, MongoDB) records which fields held `Some(null)` and
/// restores them after reading: JSON given is JSON returned, `null` included.
pub trait OptionalJson {
    /// Each optional JSON field with its name.
    fn optional_json(&self) -> Vec<(&'static str, &Option<Value>)>;

    /// Each optional JSON field with its name, to change.
    fn optional_json_mut(&mut self) -> Vec<(&'static str, &mut Option<Value>)>;

    /// Names of the fields that hold `Some(Value::Null)`.
    fn json_nulls(&self) -> Vec<&'static str> {
        self.optional_json()
            .into_iter()
            .filter(|(_, v)| matches!(v, Some(Value::Null)))
            .map(|(name, _)| name)
            .collect()
    }

    /// Sets the named fields back to `Some(Value::Null)`.
    fn restore_json_nulls(&mut self, names: &[&str]) {
        for (name, value) in self.optional_json_mut() {
            if names.contains(&name) {
                *value = Some(Value::Null);
            }
        }
    }
}

macro_rules! optional_json {
    ($($entity:ty => [$($field:ident),*]),* $(,)?) => {$(
        impl OptionalJson for $entity {
            fn optional_json(&self) -> Vec<(&'static str, &Option<Value>)> {
                vec![$((stringify!($field), &self.$field)),*]
            }
            fn optional_json_mut(&mut self) -> Vec<(&'static str, &mut Option<Value>)> {
                vec![$((stringify!($field), &mut self.$field)),*]
            }
        }
    )*};
}

optional_json! {
    Model => [input_shape, output_shape],
    ModelVersion => [config],
    Dataset => [split_info, preprocessing],
    TrainingRun => [artifacts],
    Experiment => [results],
    Prediction => [metadata],
    Hyperparameter => [],
    Metric => [],
    ExperimentRun => [],
    NewModel => [input_shape, output_shape],
    NewModelVersion => [config],
    NewDataset => [split_info, preprocessing],
    NewTrainingRun => [artifacts],
    TrainingRunUpdate => [artifacts],
    NewExperiment => [results],
    NewPrediction => [metadata],
    NewMetric => [],
    NewExperimentRun => [],
}
