//! The `VectorIndex` trait: nearest-neighbour search over embedded entities.
//! Implemented in `aimdb-vector` (FAISS, Chroma).

use std::collections::BTreeMap;
use std::fmt::{self, Debug};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::embed::EmbedderIdentity;
use crate::error::{Error, Result};

/// The searchable collections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Collection {
    /// Models.
    Models,
    /// Datasets.
    Datasets,
    /// Predictions.
    Predictions,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 3] = [Collection::Models, Collection::Datasets, Collection::Predictions];

    /// The collection's name (`models`, `datasets`, `predictions`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Collection::Models => "models",
            Collection::Datasets => "datasets",
            Collection::Predictions => "predictions",
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entity's vector with the fields filters run on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorRecord {
    /// The entity id.
    pub id: i64,
    /// The embedding.
    pub vector: Vec<f32>,
    /// Filterable fields, e.g. `framework = pytorch`.
    pub metadata: BTreeMap<String, String>,
}

/// Equality filters on record metadata; all must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorFilter {
    /// Field name to required value.
    pub equals: BTreeMap<String, String>,
}

impl VectorFilter {
    /// Whether `metadata` satisfies every condition.
    pub fn matches(&self, metadata: &BTreeMap<String, String>) -> bool {
        self.equals.iter().all(|(k, v)| metadata.get(k) == Some(v))
    }
}

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    /// The entity id.
    pub id: i64,
    /// `(1 + cosine) / 2`, in `[0, 1]`, higher is more similar.
    pub similarity_score: f32,
}

/// How an index compares vectors (the seed's Chroma `hnsw:space`, FAISS's `IndexFlatIP` /
/// `IndexFlatL2`). Recorded with the index when its first vector is written; a configuration
/// that asks for another needs a `reindex`, as another embedder does.
///
/// Every hit's `similarity_score` lies in `[0, 1]`, higher is more similar, and is a strictly
/// monotone function of the metric, so ranking by score is ranking by the metric:
///
/// | metric | compares | `similarity_score` |
/// |---|---|---|
/// | `cosine` (default) | the angle: vectors are stored and queried at unit length | `(1 + cos) / 2` |
/// | `ip` | the inner product of the vectors as given | `1 / (1 + exp(-dot))` |
/// | `l2` | the squared Euclidean distance of the vectors as given | `1 / (1 + d²)` |
///
/// For unit-length vectors (every built-in embedder normalises) the three rank alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DistanceMetric {
    /// Cosine similarity.
    #[default]
    Cosine,
    /// Inner product.
    #[serde(alias = "inner_product", alias = "dot")]
    Ip,
    /// Squared Euclidean distance.
    #[serde(alias = "euclidean")]
    L2,
}

impl DistanceMetric {
    /// Every metric.
    pub const ALL: [DistanceMetric; 3] = [DistanceMetric::Cosine, DistanceMetric::Ip, DistanceMetric::L2];

    /// The name used in configuration: `cosine`, `ip` or `l2` (also Chroma's `hnsw:space`).
    pub fn as_str(self) -> &'static str {
        match self {
            DistanceMetric::Cosine => "cosine",
            DistanceMetric::Ip => "ip",
            DistanceMetric::L2 => "l2",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    pub fn from_name(name: &str) -> Option<DistanceMetric> {
        DistanceMetric::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether vectors are scaled to unit length before they are stored or searched.
    pub fn normalizes(self) -> bool {
        self == DistanceMetric::Cosine
    }

    /// `similarity_score` from the metric's raw value: the cosine, the inner product, or the
    /// squared distance.
    pub fn score(self, raw: f32) -> f32 {
        let score = match self {
            DistanceMetric::Cosine => (1.0 + raw) / 2.0,
            DistanceMetric::Ip => 1.0 / (1.0 + (-raw).exp()),
            DistanceMetric::L2 => 1.0 / (1.0 + raw.max(0.0)),
        };
        // Rounding can step a cosine just past ±1.
        score.clamp(0.0, 1.0)
    }
}

impl fmt::Display for DistanceMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Facts about one collection for statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionInfo {
    /// The collection.
    pub collection: Collection,
    /// Index kind in use, e.g. `flat`, `ivf`, `ivfpq`, `chroma`.
    pub index_kind: String,
    /// Whether the index is trained (always true for exact indexes).
    pub trained: bool,
    /// Vectors held.
    pub vectors: u64,
    /// IVF lists, for IVF indexes.
    pub nlist: Option<u32>,
    /// IVF lists probed per query, for IVF indexes.
    pub nprobe: Option<u32>,
    /// PQ sub-quantisers, for IVF-PQ indexes.
    pub m: Option<u32>,
    /// Bits per PQ code, for IVF-PQ indexes.
    pub nbits: Option<u32>,
    /// How vectors are compared.
    #[serde(default)]
    pub metric: DistanceMetric,
}

impl CollectionInfo {
    /// An exact (untrained-free) collection of `vectors` records.
    pub fn exact(collection: Collection, index_kind: impl Into<String>, vectors: u64) -> Self {
        CollectionInfo {
            collection,
            index_kind: index_kind.into(),
            trained: true,
            vectors,
            nlist: None,
            nprobe: None,
            m: None,
            nbits: None,
            metric: DistanceMetric::Cosine,
        }
    }
}

/// Checks that an index built for `stored` is searched and written with `given`: another
/// metric is a [`Error::Config`] naming `reindex`, since the stored vectors (unit-length for
/// cosine, as given otherwise) and the index structure depend on it.
pub fn check_metric(stored: DistanceMetric, given: DistanceMetric) -> Result<()> {
    if stored != given {
        return Err(Error::config(format!(
            "the vector index was built with metric `{stored}` but the configuration asks for \
             `{given}`; run `reindex` to rebuild it"
        )));
    }
    Ok(())
}

/// Checks that vectors from `given` may be mixed with an index built by `stored`.
///
/// Another dimension is a [`Error::DimensionMismatch`]; the same dimension from another model
/// is a [`Error::Config`]. Both name `reindex`, the way out: vectors from two embedders are
/// not comparable, so padding, truncating or mixing them would return nonsense silently.
pub fn check_embedder(stored: &EmbedderIdentity, given: &EmbedderIdentity) -> Result<()> {
    if stored.dim != given.dim {
        return Err(Error::DimensionMismatch {
            context: format!("index built with {stored}, embedder is {given}; run `reindex`"),
            expected: stored.dim,
            actual: given.dim,
        });
    }
    if stored != given {
        return Err(Error::config(format!(
            "the vector index was built with {stored} but the database embeds with {given}; \
             run `reindex` to rebuild it"
        )));
    }
    Ok(())
}

/// A nearest-neighbour index over the three collections.
#[async_trait]
pub trait VectorIndex: Send + Sync + Debug {
    /// The embedder the index was built with, if it holds any vectors yet.
    async fn embedder(&self) -> Result<Option<EmbedderIdentity>>;
    /// Adds or replaces records; `embedder` must match the index's.
    async fn upsert(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        records: Vec<VectorRecord>,
    ) -> Result<()>;
    /// The `k` nearest records passing `filter`, most similar first.
    async fn search(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>>;
    /// [`search`](VectorIndex::search) for each of `queries`, answers in their order. Indexes
    /// with a batched path override it (FAISS scans once for the whole batch, its threads
    /// splitting the queries); the default searches one query after another.
    async fn search_many(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        queries: &[Vec<f32>],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let mut answers = Vec::with_capacity(queries.len());
        for query in queries {
            answers.push(self.search(collection, embedder, query, k, filter).await?);
        }
        Ok(answers)
    }
    /// Removes records by id; missing ids are ignored.
    async fn remove(&self, collection: Collection, ids: &[i64]) -> Result<()>;
    /// Drops every record of every collection and forgets the embedder (before a reindex).
    async fn reset(&self) -> Result<()>;
    /// Facts about each collection.
    async fn info(&self) -> Result<Vec<CollectionInfo>>;
    /// Every id `collection` holds, ascending: what self-repair compares with the store.
    async fn ids(&self, collection: Collection) -> Result<Vec<i64>>;
    /// Rebuilds one collection's index in the type that suits its current size
    /// (e.g. IVF once it outgrows exact search). Indexes that tune themselves do nothing.
    async fn optimize(&self, collection: Collection) -> Result<CollectionInfo> {
        let info = self.info().await?;
        info.into_iter()
            .find(|i| i.collection == collection)
            .ok_or_else(|| Error::backend(format!("index has no {collection} collection"), "missing"))
    }
    /// Makes everything written so far durable.
    async fn flush(&self) -> Result<()>;
}
