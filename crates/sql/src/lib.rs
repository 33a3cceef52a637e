//! SQL metadata stores for aimdb on [sqlx]: SQLite (feature `sqlite`, on by default),
//! PostgreSQL (feature `postgres`) and MySQL/MariaDB (feature `mysql`).
//!
//! One store, [`SqlStore`], is written once over a small [`Dialect`](dialect::Dialect)
//! per database (placeholders, time and JSON types, ids, bulk paths); each database adds
//! its dialect, its migrations (`migrations/<database>`) and its URL schemes.
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
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, reason = "no database compiled in")
)]

mod codec;
pub mod dialect;
mod error;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
mod schema;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;
#[cfg(feature = "sqlite")]
mod sqlite;
mod statements;
mod store;

#[cfg(feature = "mysql")]
pub use mysql::URL_SCHEMES as MYSQL_URL_SCHEMES;
#[cfg(feature = "postgres")]
pub use postgres::URL_SCHEMES as POSTGRES_URL_SCHEMES;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use server::ServerConfig;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConfig, URL_SCHEMES as SQLITE_URL_SCHEMES};
pub use store::SqlStore;

/// The SQLite store (the embedded default).
#[cfg(feature = "sqlite")]
pub type SqliteStore = SqlStore<dialect::Sqlite>;
/// The PostgreSQL store.
#[cfg(feature = "postgres")]
pub type PostgresStore = SqlStore<dialect::Postgres>;
/// How to connect to PostgreSQL.
#[cfg(feature = "postgres")]
pub type PostgresConfig = ServerConfig<dialect::Postgres>;
/// The MySQL / MariaDB store.
#[cfg(feature = "mysql")]
pub type MySqlStore = SqlStore<dialect::MySql>;
/// How to connect to MySQL or MariaDB.
#[cfg(feature = "mysql")]
pub type MySqlConfig = ServerConfig<dialect::MySql>;
