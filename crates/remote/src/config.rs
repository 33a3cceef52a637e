//! Where the server is, the token, and how long to wait.

use std::time::Duration;

use aimdb_core::config::{ConnectionUrl, MetadataConfig, StoreScheme};
use aimdb_core::{Error, Result};

/// URL schemes that select a remote store.
pub const URL_SCHEMES: &[&str] = StoreScheme::Remote.url_schemes();

/// The environment variable holding the bearer token sent to the server.
pub const TOKEN_ENV: &str = "AIMDB_TOKEN";

/// How to reach an `aimdb serve` server. Build with [`RemoteConfig::from_url`].
#[derive(Clone)]
pub struct RemoteConfig {
    pub(crate) url: url::Url,
    pub(crate) token: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl std::fmt::Debug for RemoteConfig {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RemoteConfig {
    /// From `http://host:port` or `https://host:port` (a path prefix is kept, for a server
    /// behind a reverse proxy at `https://host/aimdb`). No token: see [`with_token`](Self::with_token).
    pub fn from_url(url: &str) -> Result<Self> {
        let redacted = ConnectionUrl::new(url);
        let mut parsed = url::Url::parse(url).map_err(|e| Error::Config {
            message: format!("bad server URL `{redacted}`"),
            source: Some(e.into()),
        })?;
        if !URL_SCHEMES.contains(&parsed.scheme()) {
            return Err(Error::config(format!("not an http(s) URL: `{redacted}`")));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Error::config(format!("`{redacted}`: put the token in {TOKEN_ENV}, not in the URL")));
        }
        // Joining `api/v1/...` onto the base keeps a path prefix only with a trailing slash.
        if !parsed.path().ends_with('/') {
            parsed.set_path(&format!("{}/", parsed.path()));
        }
        Ok(RemoteConfig {
            url: parsed,
            token: None,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// From the facade's metadata configuration, the token from [`TOKEN_ENV`] when set.
    pub fn from_metadata(config: &MetadataConfig) -> Result<Self> {
        let this = Self::from_url(config.url.expose())?;
        Ok(match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.is_empty() => this.with_token(token),
            _ => this,
        })
    }

    /// The bearer token sent with every request.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How long one request may take (default 300 s: a reindex is one request).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long to wait for a connection before `Unavailable` (default 5 s).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }
}
