//! Request structs with builders: only what the seed requires is required.
//!
//! Each request validates itself ([`NewModel::validate`], ...) and every store calls
//! that before writing, so bad input fails the same way on every backend.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::{
    Dataset, Experiment, ExperimentRun, Metric, Model, ModelVersion, Prediction, TrainingRun,
};
use crate::error::{Error, Result};
use crate::ids::{DatasetId, ExperimentId, ModelId, ModelVersionId, PredictionId, TrainingRunId};
use crate::time::{self, Timestamp};
use crate::validate;

/// Default status of a new model version.
pub const DEFAULT_VERSION_STATUS: &str = "active";
/// Default status of a new training run.
pub const DEFAULT_RUN_STATUS: &str = "started";
/// Status that counts a run as completed in statistics.
pub const COMPLETED_RUN_STATUS: &str = "completed";
/// Default status of a new experiment.
pub const DEFAULT_EXPERIMENT_STATUS: &str = "active";
/// Default split of a metric.
pub const DEFAULT_SPLIT: &str = "train";

/// `with_*` setters for optional fields.
macro_rules! setters {
    ($($(#[$doc:meta])* $setter:ident => $field:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $setter(mut self, value: impl Into<$ty>) -> Self {
            self.$field = Some(value.into());
            self
        }
    )*};
}

/// Keyset pagination over ids in ascending order: `after` is the last id seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Only records with an id greater than this.
    pub after: Option<i64>,
    /// At most this many records; `None` for all.
    pub limit: Option<u32>,
}

impl Page {
    /// Every record.
    pub const fn all() -> Self {
        Page { after: None, limit: None }
    }

    /// The first `limit` records.
    pub const fn first(limit: u32) -> Self {
        Page { after: None, limit: Some(limit) }
    }

    /// Records after id `after`.
    #[must_use]
    pub const fn after(mut self, after: i64) -> Self {
        self.after = Some(after);
        self
    }

    /// Whether `id` is past the cursor.
    pub fn admits(&self, id: i64) -> bool {
        self.after.is_none_or(|after| id > after)
    }

    /// The limit as `i64` for SQL, `i64::MAX` for none.
    pub fn sql_limit(&self) -> i64 {
        self.limit.map_or(i64::MAX, i64::from)
    }
}

/// A model to register. Only `name` is required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewModel {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Architecture.
    pub architecture: Option<String>,
    /// Framework.
    pub framework: Option<String>,
    /// Task type.
    pub task_type: Option<String>,
    /// Input shape.
    pub input_shape: Option<Value>,
    /// Output shape.
    pub output_shape: Option<Value>,
}

impl NewModel {
    /// A model named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NewModel {
            name: name.into(),
            description: None,
            architecture: None,
            framework: None,
            task_type: None,
            input_shape: None,
            output_shape: None,
        }
    }

    setters! {
        /// Sets the description.
        with_description => description: String;
        /// Sets the architecture.
        with_architecture => architecture: String;
        /// Sets the framework.
        with_framework => framework: String;
        /// Sets the task type.
        with_task_type => task_type: String;
        /// Sets the input shape.
        with_input_shape => input_shape: Value;
        /// Sets the output shape.
        with_output_shape => output_shape: Value;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::name("name", &self.name)?;
        validate::opt_text("description", self.description.as_deref())?;
        validate::opt_text("architecture", self.architecture.as_deref())?;
        validate::opt_text("framework", self.framework.as_deref())?;
        validate::opt_text("task_type", self.task_type.as_deref())?;
        validate::opt_json("input_shape", self.input_shape.as_ref())?;
        validate::opt_json("output_shape", self.output_shape.as_ref())
    }

    /// The stored record for this request.
    pub fn into_model(self, id: ModelId, now: Timestamp) -> Model {
        Model {
            id,
            name: self.name,
            description: self.description,
            architecture: self.architecture,
            framework: self.framework,
            task_type: self.task_type,
            input_shape: self.input_shape,
            output_shape: self.output_shape,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A version of an existing model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewModelVersion {
    /// The model.
    pub model_id: ModelId,
    /// Version label, unique per model.
    pub version: String,
    /// Where the weights live.
    pub checkpoint_path: Option<String>,
    /// Configuration as JSON.
    pub config: Option<Value>,
    /// Status; `active` when not given.
    pub status: Option<String>,
}

impl NewModelVersion {
    /// Version `version` of model `model_id`.
    pub fn new(model_id: ModelId, version: impl Into<String>) -> Self {
        NewModelVersion {
            model_id,
            version: version.into(),
            checkpoint_path: None,
            config: None,
            status: None,
        }
    }

    setters! {
        /// Sets the checkpoint path.
        with_checkpoint_path => checkpoint_path: String;
        /// Sets the configuration.
        with_config => config: Value;
        /// Sets the status.
        with_status => status: String;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::name("version", &self.version)?;
        validate::opt_text("checkpoint_path", self.checkpoint_path.as_deref())?;
        validate::opt_json("config", self.config.as_ref())?;
        if let Some(status) = &self.status {
            validate::name("status", status)?;
        }
        Ok(())
    }

    /// The stored record for this request.
    pub fn into_version(self, id: ModelVersionId, now: Timestamp) -> ModelVersion {
        ModelVersion {
            id,
            model_id: self.model_id,
            version: self.version,
            checkpoint_path: self.checkpoint_path,
            config: self.config,
            status: self.status.unwrap_or_else(|| DEFAULT_VERSION_STATUS.to_owned()),
            created_at: now,
        }
    }
}

/// A dataset to register. Only `name` is required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewDataset {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Where the data lives.
    pub source_path: Option<String>,
    /// Format.
    pub format: Option<String>,
    /// Size in bytes.
    pub size_bytes: Option<i64>,
    /// Number of samples.
    pub num_samples: Option<i64>,
    /// Split information.
    pub split_info: Option<Value>,
    /// Preprocessing.
    pub preprocessing: Option<Value>,
}

impl NewDataset {
    /// A dataset named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NewDataset {
            name: name.into(),
            description: None,
            source_path: None,
            format: None,
            size_bytes: None,
            num_samples: None,
            split_info: None,
            preprocessing: None,
        }
    }

    setters! {
        /// Sets the description.
        with_description => description: String;
        /// Sets the source path.
        with_source_path => source_path: String;
        /// Sets the format.
        with_format => format: String;
        /// Sets the size in bytes.
        with_size_bytes => size_bytes: i64;
        /// Sets the number of samples.
        with_num_samples => num_samples: i64;
        /// Sets the split information.
        with_split_info => split_info: Value;
        /// Sets the preprocessing.
        with_preprocessing => preprocessing: Value;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::name("name", &self.name)?;
        validate::opt_text("description", self.description.as_deref())?;
        validate::opt_text("source_path", self.source_path.as_deref())?;
        validate::opt_text("format", self.format.as_deref())?;
        validate::opt_non_negative("size_bytes", self.size_bytes)?;
        validate::opt_non_negative("num_samples", self.num_samples)?;
        validate::opt_json("split_info", self.split_info.as_ref())?;
        validate::opt_json("preprocessing", self.preprocessing.as_ref())
    }

    /// The stored record for this request.
    pub fn into_dataset(self, id: DatasetId, now: Timestamp) -> Dataset {
        Dataset {
            id,
            name: self.name,
            description: self.description,
            source_path: self.source_path,
            format: self.format,
            size_bytes: self.size_bytes,
            num_samples: self.num_samples,
            split_info: self.split_info,
            preprocessing: self.preprocessing,
            created_at: now,
        }
    }
}

/// A training run, of an existing model version or of none yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTrainingRun {
    /// The version trained (must exist); left out for a run linked later with
    /// [`TrainingRunUpdate::with_model_version_id`].
    pub model_version_id: Option<ModelVersionId>,
    /// The dataset, if any (must exist).
    pub dataset_id: Option<DatasetId>,
    /// Run name.
    pub run_name: Option<String>,
    /// Status; `started` when not given.
    pub status: Option<String>,
    /// Start time; now when not given.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    /// Artifacts.
    pub artifacts: Option<Value>,
}

impl NewTrainingRun {
    /// A run of `model_version_id`.
    pub fn new(model_version_id: ModelVersionId) -> Self {
        NewTrainingRun { model_version_id: Some(model_version_id), ..Self::without_version() }
    }

    /// A run of no model version yet, as MLflow starts them.
    pub fn without_version() -> Self {
        NewTrainingRun {
            model_version_id: None,
            dataset_id: None,
            run_name: None,
            status: None,
            started_at: None,
            artifacts: None,
        }
    }

    setters! {
        /// Sets the dataset.
        with_dataset_id => dataset_id: DatasetId;
        /// Sets the run name.
        with_run_name => run_name: String;
        /// Sets the status.
        with_status => status: String;
        /// Sets the start time (truncated to microseconds when stored).
        with_started_at => started_at: Timestamp;
        /// Sets the artifacts.
        with_artifacts => artifacts: Value;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::opt_text("run_name", self.run_name.as_deref())?;
        if let Some(status) = &self.status {
            validate::name("status", status)?;
        }
        validate::opt_json("artifacts", self.artifacts.as_ref())
    }

    /// The stored record for this request.
    pub fn into_run(self, id: TrainingRunId, now: Timestamp) -> TrainingRun {
        TrainingRun {
            id,
            model_version_id: self.model_version_id,
            dataset_id: self.dataset_id,
            run_name: self.run_name,
            status: self.status.unwrap_or_else(|| DEFAULT_RUN_STATUS.to_owned()),
            started_at: self.started_at.map_or(now, time::truncate),
            completed_at: None,
            duration_seconds: None,
            final_loss: None,
            best_metric_value: None,
            artifacts: self.artifacts,
        }
    }
}

/// A partial update of a training run: only the fields that are set change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrainingRunUpdate {
    /// The model version the run trained (must exist): links a run created without one.
    pub model_version_id: Option<ModelVersionId>,
    /// New status.
    pub status: Option<String>,
    /// Completion time.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// Duration in seconds.
    pub duration_seconds: Option<f64>,
    /// Final loss.
    pub final_loss: Option<f64>,
    /// Best metric value.
    pub best_metric_value: Option<f64>,
    /// Artifacts (replaces the previous value).
    pub artifacts: Option<Value>,
}

impl TrainingRunUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the run `completed` now, the common end of a run.
    #[must_use]
    pub fn completed() -> Self {
        Self::new().with_status(COMPLETED_RUN_STATUS).with_completed_at(time::now())
    }

    setters! {
        /// Links the run to a model version.
        with_model_version_id => model_version_id: ModelVersionId;
        /// Sets the status.
        with_status => status: String;
        /// Sets the completion time (truncated to microseconds when stored).
        with_completed_at => completed_at: Timestamp;
        /// Sets the duration.
        with_duration_seconds => duration_seconds: f64;
        /// Sets the final loss.
        with_final_loss => final_loss: f64;
        /// Sets the best metric value.
        with_best_metric_value => best_metric_value: f64;
        /// Sets the artifacts.
        with_artifacts => artifacts: Value;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if let Some(status) = &self.status {
            validate::name("status", status)?;
        }
        validate::opt_finite("duration_seconds", self.duration_seconds)?;
        validate::opt_finite("final_loss", self.final_loss)?;
        validate::opt_finite("best_metric_value", self.best_metric_value)?;
        validate::opt_json("artifacts", self.artifacts.as_ref())
    }

    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Names of the [`TrainingRun`] fields this update sets, for stores that write only those.
    pub fn fields_set(&self) -> Vec<&'static str> {
        let set = [
            ("model_version_id", self.model_version_id.is_some()),
            ("status", self.status.is_some()),
            ("completed_at", self.completed_at.is_some()),
            ("duration_seconds", self.duration_seconds.is_some()),
            ("final_loss", self.final_loss.is_some()),
            ("best_metric_value", self.best_metric_value.is_some()),
            ("artifacts", self.artifacts.is_some()),
        ];
        set.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect()
    }

    /// Applies the update to a run read from a store.
    pub fn apply(self, run: &mut TrainingRun) {
        if let Some(version) = self.model_version_id {
            run.model_version_id = Some(version);
        }
        if let Some(status) = self.status {
            run.status = status;
        }
        if let Some(completed_at) = self.completed_at {
            run.completed_at = Some(time::truncate(completed_at));
        }
        if let Some(v) = self.duration_seconds {
            run.duration_seconds = Some(v);
        }
        if let Some(v) = self.final_loss {
            run.final_loss = Some(v);
        }
        if let Some(v) = self.best_metric_value {
            run.best_metric_value = Some(v);
        }
        if let Some(v) = self.artifacts {
            run.artifacts = Some(v);
        }
    }
}

/// One metric point to log on a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMetric {
    /// Metric name.
    pub metric_name: String,
    /// Value; must be finite.
    pub metric_value: f64,
    // Unset fields are left out when sent: a 10k-point batch is a third smaller on the wire.
    /// Epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// Step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,
    /// Split; `train` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Time; now when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub timestamp: Option<Timestamp>,
}

impl NewMetric {
    /// Metric `name` with `value`.
    pub fn new(metric_name: impl Into<String>, metric_value: f64) -> Self {
        NewMetric {
            metric_name: metric_name.into(),
            metric_value,
            epoch: None,
            step: None,
            split: None,
            timestamp: None,
        }
    }

    setters! {
        /// Sets the epoch.
        with_epoch => epoch: i64;
        /// Sets the step.
        with_step => step: i64;
        /// Sets the split.
        with_split => split: String;
        /// Sets the time (truncated to microseconds when stored).
        with_timestamp => timestamp: Timestamp;
    }

    /// Checks every field; `prefix` names the item in a batch (e.g. `metrics[3].`).
    pub fn validate_in(&self, prefix: &str) -> Result<()> {
        self.validate().map_err(|e| within(prefix, e))
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::name("metric_name", &self.metric_name)?;
        validate::finite("metric_value", self.metric_value)?;
        if let Some(split) = &self.split {
            validate::name("split", split)?;
        }
        Ok(())
    }

    /// The stored record for this request.
    pub fn into_metric(self, training_run_id: TrainingRunId, now: Timestamp) -> Metric {
        Metric {
            training_run_id,
            metric_name: self.metric_name,
            metric_value: self.metric_value,
            epoch: self.epoch,
            step: self.step,
            split: self.split.unwrap_or_else(|| DEFAULT_SPLIT.to_owned()),
            timestamp: self.timestamp.map_or(now, time::truncate),
        }
    }
}

/// Validates a batch of metrics, naming the failing item as `metrics[i].field`.
pub fn validate_metrics(metrics: &[NewMetric]) -> Result<()> {
    metrics
        .iter()
        .enumerate()
        .try_for_each(|(i, m)| m.validate().map_err(|e| within(&format!("metrics[{i}]."), e)))
}

/// Puts `prefix` before the field an [`Error::InvalidInput`] names.
///
/// Why not format each field's full name up front: a 10k-point batch would format
/// 30k strings to validate, as long as the insert itself.
fn within(prefix: &str, error: Error) -> Error {
    match error {
        Error::InvalidInput { field, reason } if !prefix.is_empty() => {
            Error::InvalidInput { field: format!("{prefix}{field}"), reason }
        }
        other => other,
    }
}

/// Validates hyperparameter names.
pub fn validate_hyperparameters<'a>(names: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Result<()> {
    names.into_iter().try_for_each(|(name, value)| {
        validate::name("hyperparameters.name", name)?;
        validate::json(&format!("hyperparameters.{name}"), value)
    })
}

/// An experiment to create. Only `name` is required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewExperiment {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Hypothesis.
    pub hypothesis: Option<String>,
    /// Status; `active` when not given.
    pub status: Option<String>,
    /// Completion time.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// Results.
    pub results: Option<Value>,
}

impl NewExperiment {
    /// An experiment named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NewExperiment {
            name: name.into(),
            description: None,
            hypothesis: None,
            status: None,
            completed_at: None,
            results: None,
        }
    }

    setters! {
        /// Sets the description.
        with_description => description: String;
        /// Sets the hypothesis.
        with_hypothesis => hypothesis: String;
        /// Sets the status.
        with_status => status: String;
        /// Sets the completion time.
        with_completed_at => completed_at: Timestamp;
        /// Sets the results.
        with_results => results: Value;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::name("name", &self.name)?;
        validate::opt_text("description", self.description.as_deref())?;
        validate::opt_text("hypothesis", self.hypothesis.as_deref())?;
        if let Some(status) = &self.status {
            validate::name("status", status)?;
        }
        validate::opt_json("results", self.results.as_ref())
    }

    /// The stored record for this request.
    pub fn into_experiment(self, id: ExperimentId, now: Timestamp) -> Experiment {
        Experiment {
            id,
            name: self.name,
            description: self.description,
            hypothesis: self.hypothesis,
            status: self.status.unwrap_or_else(|| DEFAULT_EXPERIMENT_STATUS.to_owned()),
            created_at: now,
            completed_at: self.completed_at.map(time::truncate),
            results: self.results,
        }
    }
}

/// Adds a training run to an experiment; each run joins an experiment once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewExperimentRun {
    /// The experiment.
    pub experiment_id: ExperimentId,
    /// The run.
    pub training_run_id: TrainingRunId,
    /// Variant label.
    pub variant_name: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

impl NewExperimentRun {
    /// Run `training_run_id` in experiment `experiment_id`.
    pub fn new(experiment_id: ExperimentId, training_run_id: TrainingRunId) -> Self {
        NewExperimentRun { experiment_id, training_run_id, variant_name: None, notes: None }
    }

    setters! {
        /// Sets the variant name.
        with_variant_name => variant_name: String;
        /// Sets the notes.
        with_notes => notes: String;
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::opt_text("variant_name", self.variant_name.as_deref())?;
        validate::opt_text("notes", self.notes.as_deref())
    }

    /// The stored record for this request.
    pub fn into_experiment_run(self) -> ExperimentRun {
        ExperimentRun {
            experiment_id: self.experiment_id,
            training_run_id: self.training_run_id,
            variant_name: self.variant_name,
            notes: self.notes,
        }
    }
}

/// A prediction made by an existing model version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPrediction {
    /// The version.
    pub model_version_id: ModelVersionId,
    /// Input.
    pub input_data: Value,
    /// Output.
    pub output_data: Value,
    /// Confidence; must be finite.
    pub confidence: Option<f64>,
    /// Latency; must be finite.
    pub inference_time_ms: Option<f64>,
    /// Time; now when not given.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub timestamp: Option<Timestamp>,
    /// Metadata.
    pub metadata: Option<Value>,
}

impl NewPrediction {
    /// A prediction of `model_version_id` mapping `input_data` to `output_data`.
    pub fn new(model_version_id: ModelVersionId, input_data: Value, output_data: Value) -> Self {
        NewPrediction {
            model_version_id,
            input_data,
            output_data,
            confidence: None,
            inference_time_ms: None,
            timestamp: None,
            metadata: None,
        }
    }

    setters! {
        /// Sets the confidence.
        with_confidence => confidence: f64;
        /// Sets the latency.
        with_inference_time_ms => inference_time_ms: f64;
        /// Sets the time (truncated to microseconds when stored).
        with_timestamp => timestamp: Timestamp;
        /// Sets the metadata.
        with_metadata => metadata: Value;
    }

    /// Checks every field; `prefix` names the item in a batch.
    pub fn validate_in(&self, prefix: &str) -> Result<()> {
        self.validate().map_err(|e| within(prefix, e))
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate::json("input_data", &self.input_data)?;
        validate::json("output_data", &self.output_data)?;
        validate::opt_finite("confidence", self.confidence)?;
        validate::opt_finite("inference_time_ms", self.inference_time_ms)?;
        validate::opt_json("metadata", self.metadata.as_ref())
    }

    /// The stored record for this request.
    pub fn into_prediction(self, id: PredictionId, now: Timestamp) -> Prediction {
        Prediction {
            id,
            model_version_id: self.model_version_id,
            input_data: self.input_data,
            output_data: self.output_data,
            confidence: self.confidence,
            inference_time_ms: self.inference_time_ms,
            timestamp: self.timestamp.map_or(now, time::truncate),
            metadata: self.metadata,
        }
    }
}

/// Validates a batch of predictions, naming the failing item as `predictions[i].field`.
pub fn validate_predictions(predictions: &[NewPrediction]) -> Result<()> {
    predictions
        .iter()
        .enumerate()
        .try_for_each(|(i, p)| p.validate().map_err(|e| within(&format!("predictions[{i}]."), e)))
}
