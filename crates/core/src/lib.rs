//! Core of aimdb: the domain types of an AI model database, its one error type,
//! the [`MetadataStore`], [`VectorIndex`] and [`Embedder`] traits, configuration
//! types, and an in-memory store for tests.
//!
//! This crate depends on no database driver; backends live in their own crates
//! and the `aimdb` facade composes them.
//!
//! ```
//! use aimdb_core::{MemoryStore, MetadataStore, NewModel, NewModelVersion, Error};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let model = store
//!     .create_model(NewModel::new("resnet50").with_framework("pytorch"))
//!     .await?;
//! store.create_model_version(NewModelVersion::new(model.id, "1.0")).await?;
//!
//! // Names are unique, and the error says which entity and key collided.
//! let err = store.create_model(NewModel::new("resnet50")).await.unwrap_err();
//! assert!(matches!(err, Error::AlreadyExists { .. }));
//! # Ok::<_, Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

pub mod config;
mod embed;
mod entity;
mod error;
pub mod fslock;
mod ids;
mod import;
mod layer;
mod memory;
pub mod request;
mod store;
pub mod tag;
pub mod time;
pub mod validate;
mod vector;

pub use embed::{Embedder, EmbedderIdentity};
pub use entity::{
    Dataset, Experiment, ExperimentRun, ExperimentRunDetail, Hyperparameter, Metric, Model, ModelVersion,
    OptionalJson, Prediction, RunSummary, StoreStatistics, TrainingRun,
};
pub use error::{BoxError, Entity, Error, Result};
pub use ids::{DatasetId, ExperimentId, ModelId, ModelVersionId, PredictionId, TrainingRunId};
pub use import::{Identified, ImportBatch};
pub use layer::StoreLayer;
pub use memory::{MemoryStore, URL_SCHEMES as MEMORY_URL_SCHEMES};
pub use request::{
    NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction,
    NewTrainingRun, Page, TrainingRunUpdate,
};
pub use store::{Capabilities, MetadataStore, StoreInfo};
pub use tag::{TagTarget, validate_tags};
pub use time::Timestamp;
pub use vector::{
    Collection, CollectionInfo, DistanceMetric, VectorFilter, VectorHit, VectorIndex, VectorRecord,
    check_embedder, check_metric,
};
