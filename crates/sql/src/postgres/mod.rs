//! PostgreSQL.

mod backend;
mod config;
mod rows;

pub use backend::PostgresStore;
pub use config::{PostgresConfig, URL_SCHEMES};
