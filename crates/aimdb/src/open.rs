//! `create_ai_database`: from a configuration to a running database.

use std::sync::Arc;

use aimdb_core::config::{AimdbConfig, StoreScheme, VectorConfig};
use aimdb_core::{Embedder, Error, MemoryStore, MetadataStore, Result, VectorIndex};

use crate::database::AiDatabase;

/// Opens the store, the vector index and the embedder that `config` names.
///
/// The metadata URL's scheme picks the backend: `sqlite`, `memory`, and, when compiled
/// in, `postgres`, `mysql`, `redis`, `mongodb`. A backend that is not compiled in is a
/// [`Error::Config`] naming the cargo feature to enable. When the index holds a different
/// number of vectors than the store has entities, the index is repaired (see
/// [`AiDatabase::repair_index`]) and a warning says what changed.
pub async fn create_ai_database(config: AimdbConfig) -> Result<AiDatabase> {
    #[cfg(feature = "remote")]
    if StoreScheme::of_url(&config.metadata.url, "metadata.url")? == StoreScheme::Remote {
        return open_remote(config).await;
    }
    let index = match &config.vectors {
        Some(vectors) => Some(open_index(vectors).await?),
        None => None,
    };
    let store = open_metadata_store(&config).await?;
    let embedder = embedder(&config)?;
    let mut db = AiDatabase::new(store, embedder, config);
    if let Some(index) = index {
        db = db.with_index(index);
        // An index that disagrees with the store is brought back in line (with a warning);
        // failing that, the database still opens: the store is the source of truth.
        if let Err(e) = db.repair_if_needed().await {
            log::warn!("could not check the vector index against the store: {e}");
        }
    }
    Ok(db)
}

/// A server's database: its index and embedder are the server's, so `vectors:` here is
/// not opened (a warning says so) and the local embedder is never loaded.
#[cfg(feature = "remote")]
async fn open_remote(config: AimdbConfig) -> Result<AiDatabase> {
    if config.vectors.is_some() {
        log::warn!("vectors: ignored, the server at {} searches with its own index", config.metadata.url);
    }
    let remote = Arc::new(open_remote_store(&config).await?);
    let embedder = embedder(&config)?;
    Ok(AiDatabase::remote(remote, embedder, config))
}

#[cfg(feature = "remote")]
async fn open_remote_store(config: &AimdbConfig) -> Result<aimdb_remote::RemoteStore> {
    aimdb_remote::RemoteStore::open(aimdb_remote::RemoteConfig::from_metadata(&config.metadata)?).await
}

async fn open_index(vectors: &VectorConfig) -> Result<Arc<dyn VectorIndex>> {
    match vectors {
        #[cfg(feature = "faiss")]
        VectorConfig::Faiss(faiss) => Ok(Arc::new(aimdb_vector::FaissIndex::open(faiss).await?)),
        #[cfg(not(feature = "faiss"))]
        VectorConfig::Faiss(_) => Err(not_compiled_index("faiss")),
        #[cfg(feature = "chroma")]
        VectorConfig::Chroma(chroma) => Ok(Arc::new(aimdb_vector::ChromaIndex::open(chroma).await?)),
        #[cfg(not(feature = "chroma"))]
        VectorConfig::Chroma(_) => Err(not_compiled_index("chroma")),
    }
}

#[cfg_attr(
    all(feature = "faiss", feature = "chroma"),
    allow(dead_code, reason = "named only when an index is off")
)]
fn not_compiled_index(kind: &str) -> Error {
    Error::config(format!(
        "vectors.kind: the `{kind}` vector index is not compiled into this build of aimdb \
         (enable the `{kind}` feature); remove `vectors:` to run without semantic search"
    ))
}

/// The configured embedder; nothing is loaded until first use.
fn embedder(config: &AimdbConfig) -> Result<Arc<dyn Embedder>> {
    #[cfg(feature = "embed")]
    {
        Ok(Arc::new(aimdb_embed::TextEmbedder::new(config.embedding.clone())))
    }
    #[cfg(not(feature = "embed"))]
    {
        Err(Error::config(format!(
            "embedding.model: `{}` needs the `embed` feature of the `aimdb` crate",
            config.embedding.model
        )))
    }
}

/// Opens only the metadata store that `config` names (no index, no embedder): what a
/// migration reads from.
pub async fn open_metadata_store(config: &AimdbConfig) -> Result<Arc<dyn MetadataStore>> {
    let metadata = &config.metadata;
    match StoreScheme::of_url(&metadata.url, "metadata.url")? {
        StoreScheme::Memory => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "sqlite")]
        StoreScheme::Sqlite => Ok(Arc::new(
            aimdb_sql::SqliteStore::open(aimdb_sql::SqliteConfig::from_metadata(metadata)?).await?,
        )),
        #[cfg(feature = "postgres")]
        StoreScheme::Postgres => Ok(Arc::new(
            aimdb_sql::PostgresStore::open(aimdb_sql::PostgresConfig::from_metadata(metadata)?).await?,
        )),
        #[cfg(feature = "mysql")]
        StoreScheme::MySql => {
            Ok(Arc::new(aimdb_sql::MySqlStore::open(aimdb_sql::MySqlConfig::from_metadata(metadata)?).await?))
        }
        #[cfg(feature = "redis")]
        StoreScheme::Redis => Ok(Arc::new(
            aimdb_redis::RedisStore::open(aimdb_redis::RedisConfig::from_metadata(metadata)?).await?,
        )),
        #[cfg(feature = "mongodb")]
        StoreScheme::MongoDb => Ok(Arc::new(
            aimdb_mongo::MongoStore::open(aimdb_mongo::MongoConfig::from_metadata(metadata)?).await?,
        )),
        #[cfg(feature = "remote")]
        StoreScheme::Remote => Ok(Arc::new(open_remote_store(config).await?)),
        // A backend this build leaves out.
        #[allow(unreachable_patterns, reason = "reached only when a store feature is off")]
        other => Err(Error::config(format!(
            "metadata.url: the {other} backend is not compiled into this build of aimdb \
             (enable the `{other}` cargo feature of the `aimdb` crate)"
        ))),
    }
}
