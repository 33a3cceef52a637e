//! What the server listens on, who may call it, and how much one request may carry.

use std::net::SocketAddr;

use aimdb::Error;
use aimdb::config::ServerSettings;
/// What a token may do (the configuration's `access:`).
pub use aimdb::config::TokenAccess as Access;

/// The address `aimdb serve` binds when told nothing.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Largest request body, in bytes (a 10k-metric batch is about 1 MB; three 1 MB JSON
/// fields of a prediction fit).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;
/// Most records in one batch (metrics, predictions, an import).
pub const DEFAULT_MAX_BATCH: usize = 100_000;
/// Read-write tokens, comma-separated.
pub const TOKENS_ENV: &str = "AIMDB_SERVER_TOKENS";
/// Read-only tokens, comma-separated.
pub const READ_TOKENS_ENV: &str = "AIMDB_SERVER_READ_TOKENS";

/// A bearer token and what it may do. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    secret: String,
    access: Access,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("secret", &"<redacted>").field("access", &self.access).finish()
    }
}

impl Token {
    /// A token that may read and write.
    pub fn read_write(secret: impl Into<String>) -> Self {
        Token { secret: secret.into(), access: Access::ReadWrite }
    }

    /// A token that may only read.
    pub fn read_only(secret: impl Into<String>) -> Self {
        Token { secret: secret.into(), access: Access::Read }
    }

    /// What the token may do.
    pub fn access(&self) -> Access {
        self.access
    }

    pub(crate) fn matches(&self, presented: &str) -> bool {
        // Constant time in the presented token's content, so timing does not leak a prefix.
        let (a, b) = (self.secret.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// How `aimdb serve` runs. Build with [`ServerConfig::new`] and the `with_*` setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where to listen.
    pub bind: SocketAddr,
    /// The accepted tokens; empty means no authentication.
    pub tokens: Vec<Token>,
    /// Allow a non-loopback address without tokens.
    pub insecure_no_auth: bool,
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Most records in one batch (413 beyond).
    pub max_batch: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: DEFAULT_BIND.parse().expect("a valid address"),
            tokens: Vec::new(),
            insecure_no_auth: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

impl ServerConfig {
    /// The defaults: loopback port 8080, no tokens, the documented limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// From the configuration file's `server:` section, defaults for what it leaves out.
    pub fn from_settings(settings: &ServerSettings) -> aimdb::Result<Self> {
        let mut config = Self::default();
        if let Some(bind) = &settings.bind {
            config.bind = bind.parse().map_err(|e| {
                Error::config(format!("server.bind: `{bind}` is not an address like 0.0.0.0:8080: {e}"))
            })?;
        }
        config.tokens =
            settings.tokens.iter().map(|t| Token { secret: t.token.clone(), access: t.access }).collect();
        config.max_body_bytes = settings.max_body_bytes.unwrap_or(config.max_body_bytes);
        config.max_batch = settings.max_batch.unwrap_or(config.max_batch);
        config.insecure_no_auth = settings.insecure_no_auth;
        Ok(config)
    }

    /// Listen on `bind`.
    #[must_use]
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }

    /// Accept `token`.
    #[must_use]
    pub fn with_token(mut self, token: Token) -> Self {
        self.tokens.push(token);
        self
    }

    /// Tokens from [`TOKENS_ENV`] (read-write) and [`READ_TOKENS_ENV`] (read-only).
    #[must_use]
    pub fn with_env_tokens(mut self) -> Self {
        let list = |var: &str| -> Vec<String> {
            std::env::var(var)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        };
        self.tokens.extend(list(TOKENS_ENV).into_iter().map(Token::read_write));
        self.tokens.extend(list(READ_TOKENS_ENV).into_iter().map(Token::read_only));
        self
    }

    /// Serve a non-loopback address without tokens (behind a proxy that authenticates).
    #[must_use]
    pub fn with_insecure_no_auth(mut self, insecure: bool) -> Self {
        self.insecure_no_auth = insecure;
        self
    }

    /// Largest request body in bytes.
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Most records in one batch.
    #[must_use]
    pub fn with_max_batch(mut self, records: usize) -> Self {
        self.max_batch = records;
        self
    }

    /// Refuses what would expose the data: no tokens on an address other machines reach.
    pub fn check(&self) -> aimdb::Result<()> {
        if self.tokens.is_empty() && !self.bind.ip().is_loopback() && !self.insecure_no_auth {
            return Err(Error::config(format!(
                "bind {}: without tokens ({TOKENS_ENV}) the server only binds a loopback address; \
                 pass --insecure-no-auth to serve {} anyway (e.g. behind an authenticating proxy)",
                self.bind,
                self.bind.ip()
            )));
        }
        if self.tokens.iter().any(|t| t.secret.trim().is_empty()) {
            return Err(Error::config("tokens: a token must not be empty"));
        }
        Ok(())
    }
}
