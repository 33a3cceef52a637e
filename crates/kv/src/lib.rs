//! Redis metadata store for aimdb.
//!
//! Records are hashes of JSON-encoded fields at `NAMESPACE:entity:ID`, ids come from `INCR`
//! counters, per-parent lists (a model's versions, a version's predictions) are sorted sets
//! scored by id, metrics are lists in logging order. Every write is one Lua script, so a create
//! checks its references and unique names and writes, all or nothing.
//!
//! ```no_run
//! # async fn demo() -> aimdb_core::Result<()> {
//! use aimdb_core::{MetadataStore, NewModel};
//! use aimdb_redis::{RedisConfig, RedisStore};
//!
//! let store = RedisStore::open(RedisConfig::from_url("redis://127.0.0.1:6379/0?namespace=team-a")?).await?;
//! let model = store.create_model(NewModel::new("resnet50")).await?;
//! assert_eq!(store.get_model_by_name("resnet50").await?.id, model.id);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backend;
mod codec;
mod config;
mod error;
mod keys;
mod scripts;

pub use backend::RedisStore;
pub use config::{RedisConfig, URL_SCHEMES};
