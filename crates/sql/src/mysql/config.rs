//! MySQL and MariaDB configuration: a URL plus pool and logging settings.

use std::str::FromStr;
use std::time::Duration;

use aimdb_core::config::{ConnectionUrl, MetadataConfig};
use aimdb_core::{Error, Result};
use sqlx::ConnectOptions;
use sqlx::mysql::MySqlConnectOptions;

/// URL schemes that select MySQL (MariaDB too).
pub const URL_SCHEMES: &[&str] = &["mysql", "mariadb"];

const DEFAULT_POOL: u32 = 10;

/// How to connect to MySQL or MariaDB. Build with [`MySqlConfig::from_url`].
#[derive(Clone, Debug)]
pub struct MySqlConfig {
    pub(crate) url: ConnectionUrl,
    pub(crate) echo: bool,
    pub(crate) pool_size: u32,
    pub(crate) acquire_timeout: Duration,
}

impl MySqlConfig {
    /// From `mysql://user:password@host:port/database`.
    pub fn from_url(url: &str) -> Result<Self> {
        let url = ConnectionUrl::new(url);
        if !URL_SCHEMES.contains(&url.scheme().as_str()) {
            return Err(Error::config(format!("not a mysql URL: `{url}`")));
        }
        Ok(MySqlConfig {
            url,
            echo: false,
            pool_size: DEFAULT_POOL,
            acquire_timeout: Duration::from_secs(10),
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

    pub(crate) fn connect_options(&self) -> Result<MySqlConnectOptions> {
        let url = self.url.expose();
        let url = url.strip_prefix("mariadb:").map_or_else(|| url.to_owned(), |rest| format!("mysql:{rest}"));
        let options = MySqlConnectOptions::from_str(&url).map_err(|e| Error::Config {
            message: format!("invalid mysql URL `{}`", self.url),
            source: Some(e.into()),
        })?;
        Ok(options.log_statements(if self.echo { log::LevelFilter::Info } else { log::LevelFilter::Debug }))
    }
}
