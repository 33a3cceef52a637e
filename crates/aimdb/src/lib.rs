//! aimdb: an AI model database. Record models, versions, datasets, training runs,
//! hyperparameters, metrics, experiments and predictions through one async API, on
//! the database you already run.
//!
//! ```
//! use aimdb::prelude::*;
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("aimdb.db");
//! let db = create_ai_database(AimdbConfig::sqlite(&path)).await?;
//!
//! let model = db
//!     .create_model(NewModel::new("resnet50").with_framework("pytorch").with_task_type("image_classification"))
//!     .await?;
//! let version = db.create_model_version(NewModelVersion::new(model.id, "1.0")).await?;
//! let run = db.create_training_run(NewTrainingRun::new(version.id).with_run_name("baseline")).await?;
//! db.log_hyperparameters(run.id, [("lr".to_owned(), json!(3e-4))].into()).await?;
//! db.log_metrics(run.id, (1..=3).map(|e| NewMetric::new("loss", 1.0 / e as f64).with_epoch(e)).collect()).await?;
//! db.update_training_run(run.id, TrainingRunUpdate::completed().with_final_loss(0.33)).await?;
//!
//! let stats = db.get_statistics().await?;
//! assert_eq!((stats.counts.metrics, stats.counts.completed_runs), (3, 1));
//! # Ok::<_, aimdb::Error>(())
//! # }).unwrap();
//! ```
//!
//! Configuration comes from YAML (the seed's flat format or a composed one), `.env`
//! and the environment: see [`config`].
#![deny(missing_docs)]

pub mod config;
mod database;
mod migrate;
mod open;
mod remote;
mod repair;
mod search;

pub use aimdb_core::config::AimdbConfig;
pub use aimdb_core::*;
pub use database::{AiDatabase, IndexStatistics, ReindexReport, Statistics};
pub use migrate::{MigrateOptions, MigrationReport};
pub use open::{create_ai_database, open_metadata_store};
pub use repair::RepairReport;
pub use search::{DatasetFilter, ModelFilter, PredictionFilter, SearchHit};

/// Everything an application usually needs, for `use aimdb::prelude::*`.
pub mod prelude {
    pub use crate::{
        AiDatabase, AimdbConfig, DatasetFilter, MetadataStore, ModelFilter, PredictionFilter, SearchHit,
        create_ai_database,
    };
    pub use aimdb_core::{
        Error, NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion,
        NewPrediction, NewTrainingRun, Page, TagTarget, TrainingRunUpdate,
    };
}

// README.md's examples run as doc tests, so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
