//! Configuration types (SPEC §5). Parsing from YAML, env and `.env` lives in the
//! `aimdb` facade; these types only describe a resolved configuration.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every metadata backend aimdb knows, with the URL schemes that select it: the one table
/// that opening a store, reading a configuration and their error messages use. Each
/// backend crate's `URL_SCHEMES` is its row here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreScheme {
    /// `sqlite://PATH`, the embedded default.
    Sqlite,
    /// `postgres://`, `postgresql://`.
    Postgres,
    /// `mysql://`, `mariadb://`.
    MySql,
    /// `redis://`, `rediss://`.
    Redis,
    /// `mongodb://`, `mongodb+srv://`.
    MongoDb,
    /// `memory://`, for tests.
    Memory,
    /// `http://`, `https://`: an `aimdb serve` server holding the data.
    Remote,
}

impl StoreScheme {
    /// Every backend, in the order messages list them.
    pub const ALL: [StoreScheme; 7] = [
        StoreScheme::Sqlite,
        StoreScheme::Postgres,
        StoreScheme::MySql,
        StoreScheme::Redis,
        StoreScheme::MongoDb,
        StoreScheme::Memory,
        StoreScheme::Remote,
    ];

    /// The URL schemes that select this backend; the first is the canonical one.
    pub const fn url_schemes(self) -> &'static [&'static str] {
        match self {
            StoreScheme::Sqlite => &["sqlite"],
            StoreScheme::Postgres => &["postgres", "postgresql"],
            StoreScheme::MySql => &["mysql", "mariadb"],
            StoreScheme::Redis => &["redis", "rediss"],
            StoreScheme::MongoDb => &["mongodb", "mongodb+srv"],
            StoreScheme::Memory => &["memory"],
            StoreScheme::Remote => &["http", "https"],
        }
    }

    /// The names the seed's flat `backend:` key takes for this backend (its URL is then
    /// built from `host`, `port`, ... with the canonical scheme).
    pub const fn seed_backends(self) -> &'static [&'static str] {
        match self {
            StoreScheme::Postgres => &["postgres", "postgresql"],
            // The seed has no server of its own.
            StoreScheme::Remote => &[],
            other => std::slice::from_ref(&other.url_schemes()[0]),
        }
    }

    /// The backend whose seed `backend:` name is `name` (any case).
    pub fn from_seed_backend(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|s| s.seed_backends().contains(&name.as_str()))
    }

    /// The backend's name, which is also the cargo feature of the `aimdb` crate that
    /// compiles it in (`memory` is always there).
    pub const fn name(self) -> &'static str {
        match self {
            StoreScheme::Remote => "remote",
            other => other.url_schemes()[0],
        }
    }

    /// The port a server listens on by default (`None` for embedded backends).
    pub const fn default_port(self) -> Option<u16> {
        match self {
            StoreScheme::Postgres => Some(5432),
            StoreScheme::MySql => Some(3306),
            StoreScheme::Redis => Some(6379),
            StoreScheme::MongoDb => Some(27017),
            StoreScheme::Remote => Some(8080),
            StoreScheme::Sqlite | StoreScheme::Memory => None,
        }
    }

    /// The backend one of whose URL schemes is `scheme` (any case).
    pub fn from_scheme(scheme: &str) -> Option<Self> {
        let scheme = scheme.to_ascii_lowercase();
        Self::ALL.into_iter().find(|s| s.url_schemes().contains(&scheme.as_str()))
    }

    /// The backend `url` selects; a [`Error::Config`] naming `field` and listing the
    /// known schemes otherwise.
    pub fn of_url(url: &ConnectionUrl, field: &str) -> Result<Self> {
        Self::from_scheme(&url.scheme()).ok_or_else(|| {
            Error::config(format!(
                "{field}: unknown scheme `{}` in `{url}`; expected {}",
                url.scheme(),
                Self::expected()
            ))
        })
    }

    /// `sqlite://, postgres://, ...` for messages.
    pub fn expected() -> String {
        let all: Vec<String> = Self::ALL.iter().map(|s| format!("{}://", s.url_schemes()[0])).collect();
        all.join(", ")
    }
}

impl fmt::Display for StoreScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A connection URL whose password is never printed: `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a URL such as `postgres://user:secret@host/db` or `sqlite://./aimdb.db`.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl(url.into())
    }

    /// The URL with its secret, for handing to a driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The scheme before `:`, lower-cased (`sqlite`, `postgres`, ...); empty if none.
    pub fn scheme(&self) -> String {
        self.0.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                // Setting a password only fails for URLs that cannot have one.
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(_) => self.0.clone(),
            // Unparseable: hide whatever sits between `://` and `@`, where credentials live.
            Err(_) => match (self.0.find("://"), self.0.rfind('@')) {
                (Some(start), Some(at)) if at > start => {
                    format!("{}***{}", &self.0[..start + 3], &self.0[at..])
                }
                _ => self.0.clone(),
            },
        }
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for ConnectionUrl {
    /// Serialises redacted: a config written back out never leaks a password.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for ConnectionUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(ConnectionUrl)
    }
}

/// Where metadata lives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// `sqlite://path`, `postgres://...`, `mysql://...`, `redis://...`, `mongodb://...`, `memory://`.
    pub url: ConnectionUrl,
    /// Log every statement (tracing, target `aimdb::sql`).
    #[serde(default)]
    pub echo: bool,
    /// Connection pool size; the backend's default when unset.
    #[serde(default)]
    pub pool_size: Option<u32>,
}

impl MetadataConfig {
    /// Metadata at `url` with defaults.
    pub fn new(url: impl Into<String>) -> Self {
        MetadataConfig { url: ConnectionUrl::new(url), echo: false, pool_size: None }
    }
}

/// Where embeddings are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingDevice {
    /// CPU.
    #[default]
    Cpu,
    /// CUDA GPU (needs the `cuda` feature).
    Cuda,
    /// CUDA when available, else CPU.
    Auto,
}

impl std::str::FromStr for EmbeddingDevice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(EmbeddingDevice::Cpu),
            "cuda" | "gpu" => Ok(EmbeddingDevice::Cuda),
            "auto" => Ok(EmbeddingDevice::Auto),
            other => Err(format!("expected cpu, cuda or auto, got `{other}`")),
        }
    }
}

/// The arithmetic of the CPU encoder's matrix products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingPrecision {
    /// Half precision where the CPU has AVX512-FP16 (twice the multiply-adds per
    /// instruction; vectors within cosine 0.99999 of f32's), f32 elsewhere.
    #[default]
    Auto,
    /// f32 throughout, on every CPU.
    F32,
    /// bfloat16 products where the CPU has AVX512-BF16 (AMD Zen 4 and 5 have it without
    /// FP16): twice f32's multiply-adds per instruction, sums in f32, inputs rounded to 8
    /// significant bits. On MiniLM the vectors stay within cosine 0.9999 of f32's (lowest
    /// 0.99994) and norms within 0.3%: inside the parity bar, with less room than `auto`,
    /// so asked for, not the default. Where the CPU lacks it, as `Auto`, with a warning.
    Bf16,
}

impl std::str::FromStr for EmbeddingPrecision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EmbeddingPrecision::Auto),
            "f32" => Ok(EmbeddingPrecision::F32),
            "bf16" | "bfloat16" => Ok(EmbeddingPrecision::Bf16),
            other => Err(format!("expected auto, f32 or bf16, got `{other}`")),
        }
    }
}

/// Default embedding model.
pub const DEFAULT_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2";
/// Default embedding cache size (entries).
pub const DEFAULT_EMBEDDING_CACHE: usize = 10_000;

/// How text is embedded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingConfig {
    /// `hash`, a short name (`all-MiniLM-L6-v2`), a hub id or a local directory.
    pub model: String,
    /// Where to run the model.
    pub device: EmbeddingDevice,
    /// The CPU encoder's arithmetic (`EMBEDDING_PRECISION`): `auto` (half precision where
    /// the CPU has AVX512-FP16), `f32` or `bf16` (where the CPU has AVX512-BF16).
    pub precision: EmbeddingPrecision,
    /// L2-normalise vectors (`EMBEDDING_NORMALIZE`); unset follows the model, as
    /// sentence-transformers does: normalised when its directory has a `Normalize` module
    /// (all-MiniLM-L6-v2 does), as pooled otherwise.
    pub normalize: Option<bool>,
    /// Fail instead of falling back to the hash embedder when the model cannot load.
    pub strict: bool,
    /// Entries kept in the embedding cache.
    pub cache_size: usize,
    /// `openai:` models: the service's base URL (`https://host/v1`); `OPENAI_BASE_URL`,
    /// else OpenAI's, when unset.
    pub base_url: Option<String>,
    /// `openai:` models: the vector length to ask the service for (models that can
    /// shorten theirs, e.g. `text-embedding-3-*`); the model's own when unset.
    pub dimensions: Option<usize>,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model: DEFAULT_EMBEDDING_MODEL.to_owned(),
            device: EmbeddingDevice::Cpu,
            precision: EmbeddingPrecision::Auto,
            normalize: None,
            strict: false,
            cache_size: DEFAULT_EMBEDDING_CACHE,
            base_url: None,
            dimensions: None,
        }
    }
}

pub use crate::vector::DistanceMetric;

/// FAISS index type (SPEC §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexType {
    /// Exact search.
    Flat,
    /// Inverted file.
    Ivf,
    /// Inverted file with product quantisation.
    IvfPq,
    /// Chosen by size: < 10k flat, 10k–1M ivf, > 1M ivfpq.
    #[default]
    Auto,
}

/// The embedded FAISS index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaissConfig {
    /// Directory holding the index files.
    pub path: PathBuf,
    /// Index type.
    #[serde(default)]
    pub index_type: IndexType,
    /// IVF lists; chosen from the size when unset.
    #[serde(default)]
    pub nlist: Option<u32>,
    /// IVF lists probed per query.
    #[serde(default)]
    pub nprobe: Option<u32>,
    /// PQ sub-quantisers.
    #[serde(default)]
    pub m: Option<u32>,
    /// Bits per PQ code.
    #[serde(default)]
    pub nbits: Option<u32>,
    /// How long a process waits for another that holds the index directory's lock before
    /// failing with `Unavailable` (default 30 000 ms).
    #[serde(default)]
    pub lock_timeout_ms: Option<u64>,
    /// How vectors are compared (default cosine).
    #[serde(default)]
    pub metric: DistanceMetric,
    /// Where searches run (default `cpu`): `cuda` searches on GPU 0, `cuda:N` on GPU N,
    /// `cuda:0,1` shards the vectors across those GPUs, `cuda:all` across every visible one.
    /// Needs aimdb-vector's `gpu` feature; the files and the CPU index stay as they are.
    #[serde(default, skip_serializing_if = "VectorDevice::is_cpu")]
    pub device: VectorDevice,
}

/// Where a FAISS directory's searches run (`FaissConfig::device`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum VectorDevice {
    /// FAISS on the CPU.
    #[default]
    Cpu,
    /// These CUDA devices (ordinals), each holding one shard of every collection's vectors;
    /// an ordinal may repeat (several shards on one GPU).
    Cuda(Vec<usize>),
    /// Every visible CUDA device, one shard each.
    CudaAll,
}

impl VectorDevice {
    /// Whether searches run on the CPU.
    pub fn is_cpu(&self) -> bool {
        *self == VectorDevice::Cpu
    }
}

impl std::str::FromStr for VectorDevice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let bad = || {
            Error::config(format!(
                "vectors.device: expected cpu, cuda, cuda:N, cuda:N,M,... or cuda:all, got `{s}`"
            ))
        };
        match s.split_once(':') {
            None if s == "cpu" => Ok(VectorDevice::Cpu),
            None if s == "cuda" || s == "gpu" => Ok(VectorDevice::Cuda(vec![0])),
            Some(("cuda" | "gpu", "all")) => Ok(VectorDevice::CudaAll),
            Some(("cuda" | "gpu", list)) => {
                let ordinals: Vec<usize> =
                    list.split(',').map(|n| n.trim().parse().map_err(|_| bad())).collect::<Result<_>>()?;
                Ok(VectorDevice::Cuda(ordinals))
            }
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for VectorDevice {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<VectorDevice> for String {
    fn from(device: VectorDevice) -> String {
        device.to_string()
    }
}

impl fmt::Display for VectorDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VectorDevice::Cpu => f.write_str("cpu"),
            VectorDevice::CudaAll => f.write_str("cuda:all"),
            VectorDevice::Cuda(ordinals) => {
                let list: Vec<String> = ordinals.iter().map(usize::to_string).collect();
                write!(f, "cuda:{}", list.join(","))
            }
        }
    }
}

impl FaissConfig {
    /// An `auto` index in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FaissConfig {
            path: path.into(),
            index_type: IndexType::Auto,
            nlist: None,
            nprobe: None,
            m: None,
            nbits: None,
            lock_timeout_ms: None,
            metric: DistanceMetric::Cosine,
            device: VectorDevice::Cpu,
        }
    }

    /// Searches on `device` instead of the CPU.
    #[must_use]
    pub fn with_device(mut self, device: VectorDevice) -> Self {
        self.device = device;
        self
    }

    /// Another distance metric.
    #[must_use]
    pub fn with_metric(mut self, metric: DistanceMetric) -> Self {
        self.metric = metric;
        self
    }
}

/// A Chroma server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChromaConfig {
    /// `http://host:port`.
    pub url: ConnectionUrl,
    /// Chroma database (in the default tenant); created when missing.
    #[serde(default = "default_chroma_database")]
    pub database: String,
    /// How vectors are compared: the collections' `hnsw:space` (default cosine).
    #[serde(default)]
    pub metric: DistanceMetric,
    /// Candidates Chroma's HNSW graph keeps per query (`hnsw:search_ef`, Chroma's default
    /// 10): higher finds more of the true nearest neighbours, slower. Set on the collections
    /// aimdb creates; existing collections keep theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_ef: Option<u32>,
}

fn default_chroma_database() -> String {
    ChromaConfig::DEFAULT_DATABASE.to_owned()
}

impl ChromaConfig {
    /// Chroma's own default database.
    pub const DEFAULT_DATABASE: &'static str = "default_database";

    /// The server at `url`, default database.
    pub fn new(url: impl Into<String>) -> Self {
        ChromaConfig {
            url: ConnectionUrl::new(url),
            database: default_chroma_database(),
            metric: DistanceMetric::Cosine,
            search_ef: None,
        }
    }

    /// Another database on the same server.
    #[must_use]
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// Another distance metric.
    #[must_use]
    pub fn with_metric(mut self, metric: DistanceMetric) -> Self {
        self.metric = metric;
        self
    }

    /// Another HNSW query breadth for the collections aimdb creates.
    #[must_use]
    pub fn with_search_ef(mut self, search_ef: u32) -> Self {
        self.search_ef = Some(search_ef);
        self
    }
}

/// Which vector index to use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VectorConfig {
    /// FAISS files.
    Faiss(FaissConfig),
    /// Chroma over HTTP.
    Chroma(ChromaConfig),
}

/// A resolved configuration: one store, an optional index, an embedder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AimdbConfig {
    /// The metadata store.
    pub metadata: MetadataConfig,
    /// The vector index; semantic search is unavailable without one.
    #[serde(default)]
    pub vectors: Option<VectorConfig>,
    /// The embedder.
    #[serde(default)]
    pub embedding: EmbeddingConfig,
    /// How `aimdb serve` runs (the `server:` section); ignored by everything else.
    #[serde(default)]
    pub server: ServerSettings,
}

/// The `server:` section: what `aimdb serve` binds, who may call it, and its limits. Command
/// line flags and the environment (`AIMDB_BIND`, `AIMDB_SERVER_TOKENS`, ...) override it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerSettings {
    /// Address to listen on, e.g. `0.0.0.0:8080`.
    pub bind: Option<String>,
    /// Accepted bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenSettings>,
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Most records in one batch.
    pub max_batch: Option<usize>,
    /// Serve a non-loopback address without tokens.
    #[serde(default)]
    pub insecure_no_auth: bool,
}

/// One accepted token: `{token: "...", access: read | read-write}`. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The secret clients send as `Authorization: Bearer ...`.
    pub token: String,
    /// What it may do; `read-write` when left out.
    #[serde(default)]
    pub access: TokenAccess,
}

impl fmt::Debug for TokenSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSettings").field("token", &"<redacted>").field("access", &self.access).finish()
    }
}

/// What a token may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenAccess {
    /// Reads only.
    Read,
    /// Reads and writes.
    #[default]
    ReadWrite,
}

impl AimdbConfig {
    /// A store at `url` (scheme picks the backend), no index, default embedder.
    pub fn from_url(url: impl Into<String>) -> Self {
        AimdbConfig {
            metadata: MetadataConfig::new(url),
            vectors: None,
            embedding: EmbeddingConfig::default(),
            server: ServerSettings::default(),
        }
    }

    /// A SQLite file at `path`.
    pub fn sqlite(path: impl AsRef<std::path::Path>) -> Self {
        Self::from_url(format!("sqlite://{}", path.as_ref().display()))
    }

    /// The seed's `faiss` preset: SQLite metadata in `dir/metadata.db` and an `auto` FAISS
    /// index in `dir`.
    pub fn faiss(dir: impl AsRef<std::path::Path>) -> Self {
        let dir = dir.as_ref();
        Self::sqlite(dir.join("metadata.db")).with_vectors(VectorConfig::Faiss(FaissConfig::new(dir)))
    }

    /// The seed's `chromadb` preset: SQLite metadata in `dir/metadata.db` and the Chroma
    /// server at `url`.
    pub fn chromadb(dir: impl AsRef<std::path::Path>, url: impl Into<String>) -> Self {
        let dir = dir.as_ref();
        Self::sqlite(dir.join("metadata.db")).with_vectors(VectorConfig::Chroma(ChromaConfig::new(url)))
    }

    /// Sets the vector index.
    #[must_use]
    pub fn with_vectors(mut self, vectors: VectorConfig) -> Self {
        self.vectors = Some(vectors);
        self
    }

    /// Sets the embedder.
    #[must_use]
    pub fn with_embedding(mut self, embedding: EmbeddingConfig) -> Self {
        self.embedding = embedding;
        self
    }

    /// Turns statement logging on or off.
    #[must_use]
    pub fn with_echo(mut self, echo: bool) -> Self {
        self.metadata.echo = echo;
        self
    }
}
