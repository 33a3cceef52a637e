//! SQLite: the embedded default store.

mod backend;
mod bulk;
mod config;
mod rows;

pub use backend::SqliteStore;
pub use config::{SqliteConfig, URL_SCHEMES};
