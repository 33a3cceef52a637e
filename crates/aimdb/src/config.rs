//! Loading configuration: a YAML file in the seed's flat format or the composed
//! form, then `.env` and environment overrides (SPEC §5).
//!
//! Seed format (one backend name, presets for `faiss` and `chromadb`):
//!
//! ```yaml
//! backend: sqlite
//! db_path: ./aimdb.db
//! echo: false
//! ```
//!
//! Composed format (any store with any index):
//!
//! ```yaml
//! metadata:
//!   url: postgres://aimdb@localhost/aimdb
//! vectors:
//!   kind: faiss
//!   path: ./faiss_index
//!   index_type: auto
//! embedding:
//!   model: all-MiniLM-L6-v2
//!   device: cpu
//! ```
//!
//! Unknown keys are errors that name the key. Environment variables override the
//! file: `AIMDB_DATABASE_URL`, `AIMDB_INDEX_PATH`, `AIMDB_CHROMA_URL`,
//! `EMBEDDING_MODEL_NAME` (`openai:<model>` for an OpenAI-compatible service, with
//! `OPENAI_BASE_URL` and `OPENAI_API_KEY`), `EMBEDDING_DEVICE` (cpu|cuda|auto),
//! `EMBEDDING_PRECISION` (auto|f32|bf16), `EMBEDDING_NORMALIZE`, `EMBEDDING_DIMENSIONS`, `EMBEDDING_STRICT`.

use std::path::{Path, PathBuf};

pub use aimdb_core::config::*;
use aimdb_core::{Error, Result};
use serde::Deserialize;

/// The file read when no path is given and `AIMDB_CONFIG` is unset, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "aimdb.yaml";
/// The SQLite file used when there is no configuration at all.
pub const DEFAULT_DB_PATH: &str = "aimdb.db";

/// The seed's `backend:` presets that are vector stores (kept beside a SQLite file).
pub const INDEX_BACKENDS: &[&str] = &["faiss", "chromadb"];

/// The prefix of an embedding model served by an OpenAI-compatible service
/// (`openai:text-embedding-3-small`).
const OPENAI_PREFIX: &str = "openai:";

/// Every name the seed's flat `backend:` key takes: each store's
/// ([`StoreScheme::seed_backends`]) and the vector-store presets.
pub fn seed_backends() -> Vec<&'static str> {
    let stores = StoreScheme::ALL.iter().flat_map(|s| s.seed_backends().iter().copied());
    stores.chain(INDEX_BACKENDS.iter().copied()).collect()
}

/// Every key a configuration file may hold: the seed's flat keys and the composed sections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    backend: Option<String>,
    connection_string: Option<String>,
    db_path: Option<PathBuf>,
    persist_directory: Option<PathBuf>,
    index_path: Option<PathBuf>,
    dimension: Option<usize>,
    echo: Option<bool>,
    pool_size: Option<u32>,
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    #[serde(alias = "username")]
    user: Option<String>,
    password: Option<String>,
    index_type: Option<IndexType>,
    nlist: Option<u32>,
    nprobe: Option<u32>,
    m: Option<u32>,
    nbits: Option<u32>,
    metric: Option<DistanceMetric>,
    embedding_model: Option<String>,
    metadata: Option<MetadataConfig>,
    vectors: Option<VectorConfig>,
    embedding: Option<EmbeddingConfig>,
    server: Option<ServerSettings>,
}

impl FileConfig {
    /// Names of the seed keys that are set, to reject mixing them with `metadata:`.
    fn seed_keys_set(&self) -> Vec<&'static str> {
        let set = [
            ("backend", self.backend.is_some()),
            ("connection_string", self.connection_string.is_some()),
            ("db_path", self.db_path.is_some()),
            ("persist_directory", self.persist_directory.is_some()),
            ("index_path", self.index_path.is_some()),
            ("echo", self.echo.is_some()),
            ("pool_size", self.pool_size.is_some()),
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("database", self.database.is_some()),
            ("user", self.user.is_some()),
            ("password", self.password.is_some()),
            ("index_type", self.index_type.is_some()),
            ("nlist", self.nlist.is_some()),
            ("nprobe", self.nprobe.is_some()),
            ("m", self.m.is_some()),
            ("nbits", self.nbits.is_some()),
            ("metric", self.metric.is_some()),
            ("embedding_model", self.embedding_model.is_some()),
        ];
        set.iter().filter(|(_, on)| *on).map(|(k, _)| *k).collect()
    }
}

/// Parses YAML in either format into a resolved configuration.
pub fn from_yaml_str(yaml: &str) -> Result<AimdbConfig> {
    let file: FileConfig = if yaml.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_saphyr::from_str(yaml).map_err(|e| Error::Config {
            message: format!("invalid configuration: {e}"),
            source: Some(Box::new(e)),
        })?
    };
    resolve(file)
}

/// Reads and parses a YAML file.
pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<AimdbConfig> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        message: format!("cannot read configuration file {}: {e}", path.display()),
        source: Some(Box::new(e)),
    })?;
    from_yaml_str(&text).map_err(|e| match e {
        Error::Config { message, source } => {
            Error::Config { message: format!("{}: {message}", path.display()), source }
        }
        other => other,
    })
}

/// The configuration for this process: `.env` is read (never overriding the
/// environment), then the file at `path`, else `$AIMDB_CONFIG`, else `./aimdb.yaml` if
/// present, else SQLite at `./aimdb.db`; then environment overrides apply.
pub fn load(path: Option<&Path>) -> Result<AimdbConfig> {
    read_dotenv()?;
    let from_env = std::env::var_os("AIMDB_CONFIG").map(PathBuf::from);
    let default = Path::new(DEFAULT_CONFIG_FILE);
    let config = match path.map(Path::to_path_buf).or(from_env) {
        Some(path) => from_yaml_file(path)?,
        None if default.exists() => from_yaml_file(default)?,
        None => from_yaml_str("")?,
    };
    apply_env(config, |name| std::env::var(name).ok())
}

/// Reads `./.env` into the environment, never overriding a variable already set.
pub fn read_dotenv() -> Result<()> {
    // A missing .env is normal; a malformed one is worth saying.
    match dotenvy::dotenv() {
        Err(e) if !e.not_found() => {
            Err(Error::Config { message: format!("cannot read .env: {e}"), source: Some(Box::new(e)) })
        }
        _ => Ok(()),
    }
}

/// The keys of a configuration file as a JSON object (the seed's flat keys or the composed
/// sections): what the Python package's `create_ai_database(backend=..., **options)` passes.
/// Unknown keys are errors that name the key, as in a file.
pub fn from_json(options: serde_json::Value) -> Result<AimdbConfig> {
    let file: FileConfig = serde_json::from_value(options).map_err(|e| Error::Config {
        message: format!("invalid configuration: {e}"),
        source: Some(Box::new(e)),
    })?;
    resolve(file)
}

/// Applies the environment's embedding settings (`EMBEDDING_*`) alone: for a database
/// named explicitly (a URL, keyword options), where `AIMDB_DATABASE_URL` must not replace it.
pub fn apply_embedding_env(config: AimdbConfig) -> Result<AimdbConfig> {
    apply_env(config, |name| name.starts_with("EMBEDDING_").then(|| std::env::var(name).ok()).flatten())
}

/// A database named on a command line (`aimdb migrate --from/--to`): a URL
/// (`sqlite://...`, `postgres://...`, `memory://`) or the path of a YAML file. Of the
/// environment only the embedding settings (`EMBEDDING_*`) apply: `AIMDB_DATABASE_URL`
/// must not turn both ends of a migration into the same database.
pub fn from_url_or_file(target: &str) -> Result<AimdbConfig> {
    let config = if target.contains("://") || target.starts_with("sqlite:") {
        AimdbConfig::from_url(target)
    } else {
        from_yaml_file(target)?
    };
    apply_embedding_env(config)
}

/// Applies environment overrides, reading variables through `var` (tests pass a map).
pub fn apply_env(mut config: AimdbConfig, var: impl Fn(&str) -> Option<String>) -> Result<AimdbConfig> {
    if let Some(url) = var("AIMDB_DATABASE_URL") {
        config.metadata.url = ConnectionUrl::new(url);
    }
    if let Some(path) = var("AIMDB_INDEX_PATH") {
        match &mut config.vectors {
            Some(VectorConfig::Faiss(faiss)) => faiss.path = path.into(),
            _ => config.vectors = Some(VectorConfig::Faiss(FaissConfig::new(path))),
        }
    }
    if let Some(url) = var("AIMDB_CHROMA_URL") {
        config.vectors = Some(VectorConfig::Chroma(ChromaConfig::new(url)));
    }
    if let Some(model) = var("EMBEDDING_MODEL_NAME") {
        config.embedding.model = model;
    }
    if let Some(device) = var("EMBEDDING_DEVICE") {
        config.embedding.device =
            device.parse().map_err(|e| Error::config(format!("EMBEDDING_DEVICE: {e}")))?;
    }
    if let Some(v) = var("EMBEDDING_PRECISION") {
        config.embedding.precision =
            v.parse().map_err(|e| Error::config(format!("EMBEDDING_PRECISION: {e}")))?;
    }
    if let Some(v) = var("EMBEDDING_NORMALIZE") {
        config.embedding.normalize = Some(parse_bool("EMBEDDING_NORMALIZE", &v)?);
    }
    if let Some(v) = var("EMBEDDING_DIMENSIONS") {
        let dims =
            v.trim().parse().map_err(|e| Error::config(format!("EMBEDDING_DIMENSIONS: `{v}`: {e}")))?;
        config.embedding.dimensions = Some(dims);
    }
    if let Some(v) = var("EMBEDDING_STRICT") {
        config.embedding.strict = parse_bool("EMBEDDING_STRICT", &v)?;
    }
    Ok(config)
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(Error::config(format!("{name}: expected true or false, got `{other}`"))),
    }
}

fn resolve(file: FileConfig) -> Result<AimdbConfig> {
    if let Some(metadata) = file.metadata.clone() {
        let seed = file.seed_keys_set();
        if !seed.is_empty() {
            return Err(Error::config(format!(
                "`metadata:` (composed form) cannot be mixed with seed keys: {}",
                seed.join(", ")
            )));
        }
        return Ok(AimdbConfig {
            metadata,
            vectors: file.vectors,
            embedding: file.embedding.unwrap_or_default(),
            server: file.server.unwrap_or_default(),
        });
    }
    if file.vectors.is_some() {
        return Err(Error::config("`vectors:` needs a `metadata:` section beside it"));
    }
    let mut embedding = file.embedding.clone().unwrap_or_default();
    if let Some(model) = &file.embedding_model {
        embedding.model.clone_from(model);
    }
    if let Some(dim) = file.dimension
        && embedding.model.starts_with(OPENAI_PREFIX)
    {
        // A service's models may shorten their vectors: the seed's dimension is asked for.
        embedding.dimensions = Some(dim);
    } else if let Some(dim) = file.dimension
        && dim != 384
    {
        return Err(Error::config(format!(
            "dimension: {dim} is not produced by any supported embedder (all-MiniLM-L6-v2 and hash give 384)"
        )));
    }
    let backend = file.backend.as_deref().unwrap_or("sqlite").to_ascii_lowercase();
    let sqlite_in = |dir: &Path| format!("sqlite://{}", dir.join("metadata.db").display());
    let (url, vectors) = match backend.as_str() {
        "faiss" => {
            let dir = file.index_path.clone().unwrap_or_else(|| "faiss_index".into());
            let faiss = FaissConfig {
                path: dir.clone(),
                index_type: file.index_type.unwrap_or_default(),
                nlist: file.nlist,
                nprobe: file.nprobe,
                m: file.m,
                nbits: file.nbits,
                metric: file.metric.unwrap_or_default(),
                ..FaissConfig::new(&dir)
            };
            (sqlite_in(&dir), Some(VectorConfig::Faiss(faiss)))
        }
        "chromadb" => {
            let dir = file.persist_directory.clone().unwrap_or_else(|| "chroma_db".into());
            let url = file.connection_string.clone().unwrap_or_else(|| {
                let host = file.host.as_deref().unwrap_or("127.0.0.1");
                format!("http://{host}:{}", file.port.unwrap_or(8000))
            });
            let chroma = ChromaConfig::new(url).with_metric(file.metric.unwrap_or_default());
            (sqlite_in(&dir), Some(VectorConfig::Chroma(chroma)))
        }
        name => match StoreScheme::from_seed_backend(name) {
            Some(StoreScheme::Sqlite) => {
                let url = file.connection_string.clone().unwrap_or_else(|| {
                    let path = file.db_path.clone().unwrap_or_else(|| DEFAULT_DB_PATH.into());
                    format!("sqlite://{}", path.display())
                });
                (url, None)
            }
            Some(StoreScheme::Memory) => ("memory://".to_owned(), None),
            Some(StoreScheme::Redis) => (redis_url(&file)?, None),
            Some(server) => (server_url(&file, server, "aimdb")?, None),
            None => {
                return Err(Error::config(format!(
                    "backend: unknown backend `{name}`; expected one of {}",
                    seed_backends().join(", ")
                )));
            }
        },
    };
    Ok(AimdbConfig {
        metadata: MetadataConfig {
            url: ConnectionUrl::new(url),
            echo: file.echo.unwrap_or(false),
            pool_size: file.pool_size,
        },
        vectors,
        embedding,
        server: file.server.clone().unwrap_or_default(),
    })
}

/// `scheme://user:password@host:port/database` from the seed's separate keys,
/// unless `connection_string` gives the whole URL.
fn server_url(file: &FileConfig, server: StoreScheme, default_db: &str) -> Result<String> {
    if let Some(url) = &file.connection_string {
        return Ok(url.clone());
    }
    let mut url = url::Url::parse(&format!("{server}://placeholder")).expect("static URL parses");
    url.set_host(Some(file.host.as_deref().unwrap_or("127.0.0.1")))
        .map_err(|e| Error::config(format!("host: {e}")))?;
    // These setters only fail for URLs without a host, and this one has one.
    let _ = url.set_port(file.port.or(server.default_port()));
    if let Some(user) = &file.user {
        let _ = url.set_username(user);
    }
    if let Some(password) = &file.password {
        let _ = url.set_password(Some(password));
    }
    url.set_path(file.database.as_deref().unwrap_or(default_db));
    Ok(url.to_string())
}

fn redis_url(file: &FileConfig) -> Result<String> {
    if let Some(db) = &file.database
        && db.parse::<u32>().is_err()
    {
        return Err(Error::config(format!("database: redis databases are numbered, got `{db}`")));
    }
    server_url(file, StoreScheme::Redis, "0")
}
