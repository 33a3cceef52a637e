//! MongoDB configuration: a URL (its path names the database) and timeouts.

use std::time::Duration;

use aimdb_core::config::{ConnectionUrl, MetadataConfig};
use aimdb_core::{Error, Result};

/// URL schemes that select MongoDB.
pub const URL_SCHEMES: &[&str] = aimdb_core::config::StoreScheme::MongoDb.url_schemes();

const DEFAULT_DATABASE: &str = "aimdb";

/// How to reach MongoDB. Build with [`MongoConfig::from_url`].
#[derive(Clone, Debug)]
pub struct MongoConfig {
    pub(crate) url: ConnectionUrl,
    pub(crate) database: String,
    pub(crate) pool_size: Option<u32>,
    pub(crate) timeout: Duration,
}

impl MongoConfig {
    /// From `mongodb://[user:password@]host:port/database[?options]` (database `aimdb` when
    /// the path is empty).
    pub fn from_url(url: &str) -> Result<Self> {
        let connection = ConnectionUrl::new(url);
        if !URL_SCHEMES.contains(&connection.scheme().as_str()) {
            return Err(Error::config(format!("not a mongodb URL: `{connection}`")));
        }
        // The database is the path: `mongodb://h:1/db?x=y` (a host list may hold commas).
        let after_hosts = url.split_once("://").map_or("", |(_, rest)| rest);
        let path = after_hosts.split_once('/').map_or("", |(_, rest)| rest);
        let database = path.split('?').next().unwrap_or_default();
        let database = if database.is_empty() { DEFAULT_DATABASE } else { database };
        if database.contains(['/', '\\', '.', ' ', '"', '$']) {
            return Err(Error::config(format!("mongodb database name `{database}` is not allowed")));
        }
        Ok(MongoConfig {
            url: connection,
            database: database.to_owned(),
            pool_size: None,
            timeout: Duration::from_secs(5),
        })
    }

    /// From the facade's metadata configuration.
    pub fn from_metadata(config: &MetadataConfig) -> Result<Self> {
        let mut this = Self::from_url(config.url.expose())?;
        this.pool_size = config.pool_size;
        Ok(this)
    }

    /// Another database on the same server.
    #[must_use]
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// How long to wait for a usable server before `Unavailable`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_the_path() {
        assert_eq!(MongoConfig::from_url("mongodb://h:1/ml?w=1").unwrap().database, "ml");
        assert_eq!(MongoConfig::from_url("mongodb://a:1,b:2").unwrap().database, "aimdb");
        assert!(MongoConfig::from_url("mongodb://h/a.b").is_err());
        assert!(MongoConfig::from_url("redis://h/0").is_err());
    }
}
