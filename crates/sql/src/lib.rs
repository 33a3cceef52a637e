//! SQL metadata stores for aimdb on [sqlx]: SQLite (feature `sqlite`, on by default) and
//! PostgreSQL (feature `postgres`), each with its own migrations; MySQL joins the same way.
//!
//! ```
//! use aimdb_core::{MetadataStore, NewModel};
//! use aimdb_sql::SqliteStore;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}", dir.path().join("aimdb.db").display());
//! let store = SqliteStore::connect(&url).await?;
//! let model = store.create_model(NewModel::new("resnet50")).await?;
//! assert_eq!(store.get_model_by_name("resnet50").await?.id, model.id);
//! store.close().await?;
//! # Ok::<_, aimdb_core::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

mod codec;
#[macro_use]
mod columns;
mod error;
#[macro_use]
mod import;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "mysql")]
pub use mysql::{MySqlConfig, MySqlStore, URL_SCHEMES as MYSQL_URL_SCHEMES};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStore, URL_SCHEMES as POSTGRES_URL_SCHEMES};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConfig, SqliteStore, URL_SCHEMES as SQLITE_URL_SCHEMES};
