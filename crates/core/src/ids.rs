//! Typed ids, one newtype per entity, so a `ModelId` can never be passed where a
//! `DatasetId` is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(pub i64);

        impl $name {
            /// The raw integer id as stored by the backend.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type! {
    /// Id of a [`Model`](crate::Model).
    ModelId,
    /// Id of a [`ModelVersion`](crate::ModelVersion).
    ModelVersionId,
    /// Id of a [`Dataset`](crate::Dataset).
    DatasetId,
    /// Id of a [`TrainingRun`](crate::TrainingRun).
    TrainingRunId,
    /// Id of an [`Experiment`](crate::Experiment).
    ExperimentId,
    /// Id of a [`Prediction`](crate::Prediction).
    PredictionId,
}
