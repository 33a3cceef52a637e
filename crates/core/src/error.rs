//! The one error type of aimdb.

use std::fmt;

/// Boxed source error kept from a driver; drivers never appear in signatures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across aimdb.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kinds of records aimdb stores; used to name what an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A [`Model`](crate::Model).
    Model,
    /// A [`ModelVersion`](crate::ModelVersion).
    ModelVersion,
    /// A [`Dataset`](crate::Dataset).
    Dataset,
    /// A [`TrainingRun`](crate::TrainingRun).
    TrainingRun,
    /// A [`Hyperparameter`](crate::Hyperparameter).
    Hyperparameter,
    /// A [`Metric`](crate::Metric).
    Metric,
    /// An [`Experiment`](crate::Experiment).
    Experiment,
    /// An [`ExperimentRun`](crate::ExperimentRun).
    ExperimentRun,
    /// A [`Prediction`](crate::Prediction).
    Prediction,
}

impl Entity {
    /// Every kind.
    pub const ALL: [Entity; 9] = [
        Entity::Model,
        Entity::ModelVersion,
        Entity::Dataset,
        Entity::TrainingRun,
        Entity::Hyperparameter,
        Entity::Metric,
        Entity::Experiment,
        Entity::ExperimentRun,
        Entity::Prediction,
    ];

    /// The snake_case name used in messages and storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            Entity::Model => "model",
            Entity::ModelVersion => "model_version",
            Entity::Dataset => "dataset",
            Entity::TrainingRun => "training_run",
            Entity::Hyperparameter => "hyperparameter",
            Entity::Metric => "metric",
            Entity::Experiment => "experiment",
            Entity::ExperimentRun => "experiment_run",
            Entity::Prediction => "prediction",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error aimdb returns. Match on the variant; the driver's own error, when
/// there is one, is kept as [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record (or the record a request refers to) does not exist.
    #[error("{entity} {key} not found")]
    NotFound {
        /// What was looked up.
        entity: Entity,
        /// The id or name that was looked up.
        key: String,
    },
    /// A record with the same unique key already exists.
    #[error("{entity} {key} already exists")]
    AlreadyExists {
        /// What was being created.
        entity: Entity,
        /// The unique key that collided (a name, or a composite such as `model 3 version v1`).
        key: String,
    },
    /// The request was rejected before anything was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field, e.g. `name` or `metrics[3].metric_value`.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A vector's length differs from what the index or embedder holds.
    #[error("dimension mismatch for {context}: expected {expected}, got {actual}")]
    DimensionMismatch {
        /// What was being checked (a collection, an embedder).
        context: String,
        /// The dimension that was expected.
        expected: usize,
        /// The dimension that was given.
        actual: usize,
    },
    /// The backend could not be reached; the call may succeed if retried.
    #[error("backend unavailable: {message}")]
    Unavailable {
        /// What was being attempted.
        message: String,
        /// The driver error.
        #[source]
        source: Option<BoxError>,
    },
    /// The configuration is wrong or names something not compiled in.
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong, naming the key.
        message: String,
        /// The underlying parse error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other backend failure.
    #[error("backend error: {message}")]
    Backend {
        /// What was being attempted.
        message: String,
        /// The driver error.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// A [`Error::NotFound`] for `entity` with the given key.
    pub fn not_found(entity: Entity, key: impl fmt::Display) -> Self {
        Error::NotFound { entity, key: key.to_string() }
    }

    /// An [`Error::AlreadyExists`] for `entity` with the given key.
    pub fn already_exists(entity: Entity, key: impl fmt::Display) -> Self {
        Error::AlreadyExists { entity, key: key.to_string() }
    }

    /// An [`Error::InvalidInput`] naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), reason: reason.into() }
    }

    /// A [`Error::Config`] without a source.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config { message: message.into(), source: None }
    }

    /// A [`Error::Backend`] keeping `source`.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Backend { message: message.into(), source: Some(source.into()) }
    }

    /// An [`Error::Unavailable`] keeping `source`.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Unavailable { message: message.into(), source: Some(source.into()) }
    }

    /// Whether retrying the same call may succeed (only [`Error::Unavailable`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    /// Whether this is a [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}
