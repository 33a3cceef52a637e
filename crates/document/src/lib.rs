//! MongoDB metadata store for aimdb.
//!
//! One collection per entity; integer ids from a `counters` collection (atomic `$inc`);
//! unique indexes on names, `(model_id, version)`, `(training_run_id, name)` and
//! `(experiment_id, training_run_id)`; indexes for every lookup. Free-form JSON fields are
//! stored as JSON text. Tested against the MongoDB-wire-compatible `secantusdb`; production
//! targets MongoDB itself.
//!
//! ```no_run
//! # async fn demo() -> aimdb_core::Result<()> {
//! use aimdb_core::{MetadataStore, NewModel};
//! use aimdb_mongo::{MongoConfig, MongoStore};
//!
//! let store = MongoStore::open(MongoConfig::from_url("mongodb://127.0.0.1:27017/aimdb")?).await?;
//! let model = store.create_model(NewModel::new("resnet50")).await?;
//! assert_eq!(store.get_model_by_name("resnet50").await?.id, model.id);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backend;
mod codec;
mod config;
mod error;

pub use backend::MongoStore;
pub use config::{MongoConfig, URL_SCHEMES};
