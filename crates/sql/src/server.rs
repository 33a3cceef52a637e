//! How to connect to a database server (PostgreSQL, MySQL): a URL plus pool and logging
//! settings, the same for every server dialect.

use std::marker::PhantomData;
use std::time::Duration;

use aimdb_core::config::{ConnectionUrl, MetadataConfig};
use aimdb_core::{Error, Result};

use crate::dialect::Dialect;

const DEFAULT_POOL: u32 = 10;

/// How to connect to a database server. Build with [`ServerConfig::from_url`]; the
/// dialect is named by the alias ([`PostgresConfig`](crate::PostgresConfig),
/// [`MySqlConfig`](crate::MySqlConfig)).
#[derive(Clone, Debug)]
pub struct ServerConfig<D: Dialect> {
    pub(crate) url: ConnectionUrl,
    pub(crate) echo: bool,
    pub(crate) pool_size: u32,
    pub(crate) acquire_timeout: Duration,
    dialect: PhantomData<D>,
}

impl<D: Dialect> ServerConfig<D> {
    /// From `scheme://user:password@host:port/database`, the scheme one of the dialect's.
    pub fn from_url(url: &str) -> Result<Self> {
        let url = ConnectionUrl::new(url);
        if !D::URL_SCHEMES.contains(&url.scheme().as_str()) {
            return Err(Error::config(format!("not a {} URL: `{url}`", D::NAME)));
        }
        Ok(ServerConfig {
            url,
            echo: false,
            pool_size: DEFAULT_POOL,
            acquire_timeout: Duration::from_secs(10),
            dialect: PhantomData,
        })
    }

    /// From the facade's metadata configuration.
    pub fn from_metadata(config: &MetadataConfig) -> Result<Self> {
        let mut this = Self::from_url(config.url.expose())?.with_echo(config.echo);
        if let Some(n) = config.pool_size {
            this = this.with_pool_size(n);
        }
        Ok(this)
    }

    /// Logs every statement at INFO (target `sqlx::query`).
    #[must_use]
    pub fn with_echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// Maximum connections in the pool.
    #[must_use]
    pub fn with_pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long a call waits for a connection before `Unavailable`.
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// The statement log level `echo` asks for.
    pub(crate) fn log_level(&self) -> log::LevelFilter {
        if self.echo { log::LevelFilter::Info } else { log::LevelFilter::Debug }
    }

    /// Parses `url` (the configured one, maybe with its scheme rewritten) as driver options.
    pub(crate) fn parse<O: std::str::FromStr<Err = sqlx::Error>>(&self, url: &str) -> Result<O> {
        O::from_str(url).map_err(|e| Error::Config {
            message: format!("invalid {} URL `{}`", D::NAME, self.url),
            source: Some(e.into()),
        })
    }
}
