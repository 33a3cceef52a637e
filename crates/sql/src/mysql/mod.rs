//! MySQL 8 and MariaDB 10.5+.

mod backend;
mod config;
mod rows;

pub use backend::MySqlStore;
pub use config::{MySqlConfig, URL_SCHEMES};
