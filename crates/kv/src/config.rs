//! Redis configuration: a URL, a key namespace and pool settings.

use std::time::Duration;

use aimdb_core::config::{ConnectionUrl, MetadataConfig};
use aimdb_core::{Error, Result};

/// URL schemes that select Redis.
pub const URL_SCHEMES: &[&str] = aimdb_core::config::StoreScheme::Redis.url_schemes();

const DEFAULT_NAMESPACE: &str = "aimdb";

/// How to reach Redis. Build with [`RedisConfig::from_url`].
#[derive(Clone, Debug)]
pub struct RedisConfig {
    pub(crate) url: ConnectionUrl,
    pub(crate) namespace: String,
    pub(crate) pool_size: usize,
    pub(crate) timeout: Duration,
}

impl RedisConfig {
    /// From `redis://[user:password@]host:port/db`; `?namespace=NAME` prefixes every key with
    /// `NAME:` (default `aimdb`), so several databases can share one Redis.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| Error::Config {
            message: format!("invalid redis URL: {e}"),
            source: Some(e.into()),
        })?;
        if !URL_SCHEMES.contains(&parsed.scheme()) {
            return Err(Error::config(format!("not a redis URL: `{}`", ConnectionUrl::new(url))));
        }
        let mut namespace = DEFAULT_NAMESPACE.to_owned();
        let mut rest = Vec::new();
        for (key, value) in parsed.query_pairs() {
            if key == "namespace" {
                namespace = value.into_owned();
            } else {
                rest.push((key.into_owned(), value.into_owned()));
            }
        }
        let mut clean = parsed.clone();
        clean.set_query(None);
        if !rest.is_empty() {
            clean.query_pairs_mut().extend_pairs(rest);
        }
        Ok(RedisConfig {
            url: ConnectionUrl::new(clean.to_string()),
            namespace: validate_namespace(namespace)?,
            pool_size: 16,
            timeout: Duration::from_secs(5),
        })
    }

    /// From the facade's metadata configuration.
    pub fn from_metadata(config: &MetadataConfig) -> Result<Self> {
        let mut this = Self::from_url(config.url.expose())?;
        if let Some(n) = config.pool_size {
            this = this.with_pool_size(n as usize);
        }
        Ok(this)
    }

    /// Prefix of every key (`NAME:...`).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Result<Self> {
        self.namespace = validate_namespace(namespace.into())?;
        Ok(self)
    }

    /// Maximum connections in the pool.
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long a call waits for a connection, or for a connection to be made, before
    /// `Unavailable`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

fn validate_namespace(namespace: String) -> Result<String> {
    let ok = !namespace.is_empty()
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(namespace)
    } else {
        Err(Error::config(format!("redis namespace `{namespace}`: use letters, digits, '-', '_' or '.'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_comes_from_the_query_and_leaves_the_url() {
        let c = RedisConfig::from_url("redis://:secret@127.0.0.1:6380/2?namespace=team-a").unwrap();
        assert_eq!(c.namespace, "team-a");
        assert_eq!(c.url.expose(), "redis://:secret@127.0.0.1:6380/2");
        assert!(!format!("{c:?}").contains("secret"));
        assert!(RedisConfig::from_url("redis://h/0?namespace=a%20b").is_err());
        assert!(RedisConfig::from_url("postgres://h/0").is_err());
    }
}
