//! SQLite configuration: a file path or URL plus pool and logging settings.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use aimdb_core::config::{MetadataConfig, StoreScheme};
use aimdb_core::{Error, Result};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

/// URL schemes that select SQLite.
pub const URL_SCHEMES: &[&str] = StoreScheme::Sqlite.url_schemes();

/// Readers opened when no pool size is given.
const DEFAULT_READERS: u32 = 4;

/// Rows sqlx may buffer between its SQLite worker thread and the reading task.
const ROW_BUFFER: usize = 4_096;

/// How long a writer waits on a lock held by another process before `Unavailable`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How to open a SQLite store. Build with [`SqliteConfig::new`] or [`SqliteConfig::from_url`].
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    pub(crate) target: Target,
    pub(crate) echo: bool,
    pub(crate) readers: u32,
    pub(crate) create_if_missing: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Target {
    File(PathBuf),
    Memory,
}

impl SqliteConfig {
    /// A database file at `path`, created if missing.
    pub fn new(path: impl AsRef<Path>) -> Self {
        SqliteConfig {
            target: Target::File(path.as_ref().to_path_buf()),
            echo: false,
            readers: DEFAULT_READERS,
            create_if_missing: true,
        }
    }

    /// A private in-memory database (gone when the store is dropped).
    pub fn in_memory() -> Self {
        SqliteConfig { target: Target::Memory, ..Self::new("") }
    }

    /// From `sqlite://path`, `sqlite:path`, `sqlite:///abs/path` or `sqlite::memory:`.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| Error::config(format!("not a sqlite URL: `{url}` (expected sqlite://PATH)")))?;
        if rest.trim_start_matches("//").starts_with(":memory:") {
            return Ok(Self::in_memory());
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if path.is_empty() {
            return Err(Error::config(format!("sqlite URL `{url}` names no file")));
        }
        Ok(Self::new(path))
    }

    /// From the facade's metadata configuration.
    pub fn from_metadata(config: &MetadataConfig) -> Result<Self> {
        let mut this = Self::from_url(config.url.expose())?.with_echo(config.echo);
        if let Some(n) = config.pool_size {
            this = this.with_readers(n);
        }
        Ok(this)
    }

    /// Logs every statement at INFO (target `sqlx::query`).
    #[must_use]
    pub fn with_echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// Number of reader connections (writes always go through one connection).
    #[must_use]
    pub fn with_readers(mut self, readers: u32) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// Whether to create the file when it does not exist (default true).
    #[must_use]
    pub fn with_create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Where the data lives, for messages.
    pub fn location(&self) -> String {
        match &self.target {
            Target::File(p) => format!("sqlite://{}", p.display()),
            Target::Memory => "sqlite::memory:".to_owned(),
        }
    }

    pub(crate) fn connect_options(&self) -> Result<SqliteConnectOptions> {
        let options = match &self.target {
            Target::File(path) => SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(self.create_if_missing)
                // WAL lets readers run beside the writer; NORMAL is durable across
                // application crashes and loses at most the last commits on power loss.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
            Target::Memory => SqliteConnectOptions::from_str("sqlite::memory:").map_err(|e| {
                Error::Config { message: "sqlite memory options".into(), source: Some(e.into()) }
            })?,
        };
        let options = options
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // A checkpoint that resets the WAL also cuts its file back to this (64 MiB):
            // otherwise one large transaction leaves its size on disk until the last close.
            .pragma("journal_size_limit", "67108864")
            // Rows cross from sqlx's worker thread in a channel; a deep buffer lets the
            // worker run ahead instead of handing over row by row (get_metrics of 100k).
            .row_buffer_size(ROW_BUFFER)
            .optimize_on_close(true, None);
        Ok(if self.echo {
            options.log_statements(log::LevelFilter::Info)
        } else {
            options.log_statements(log::LevelFilter::Debug)
        })
    }
}
