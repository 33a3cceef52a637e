//! [`ChromaIndex`]: the [`VectorIndex`] on a Chroma server.

use std::collections::HashMap;
use std::sync::Arc;

use aimdb_core::config::ChromaConfig;
use aimdb_core::{
    Collection, CollectionInfo, DistanceMetric, EmbedderIdentity, Error, Result, VectorFilter, VectorHit,
    VectorIndex, VectorRecord, check_embedder, check_metric,
};
use async_trait::async_trait;
use chromadb::client::{ChromaClient, ChromaClientOptions};
use chromadb::collection::{ChromaCollection, CollectionEntries, GetOptions, QueryOptions};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::error::{chroma, is_not_found};
use crate::common::{check_vector, prepare, query_vector};

/// Collection metadata keys holding the embedder that built the collection.
const KIND: &str = "aimdb_embedder_kind";
const MODEL: &str = "aimdb_embedder_model";
const DIM: &str = "aimdb_embedder_dim";
/// Chroma's own key for the collection's distance function.
const SPACE: &str = "hnsw:space";
/// Chroma's own key for the HNSW query breadth.
const SEARCH_EF: &str = "hnsw:search_ef";
/// Used when the server does not say its limit.
const DEFAULT_BATCH: usize = 1000;

/// Vectors on a Chroma server: one collection per [`Collection`] in the configured
/// [`DistanceMetric`]'s space (`hnsw:space`), each record's
/// filter fields as Chroma metadata (so `where` filters run in Chroma and Chroma's own clients
/// read the same records), the embedder identity in the collection's metadata.
pub struct ChromaIndex {
    client: ChromaClient,
    url: String,
    metric: DistanceMetric,
    search_ef: Option<u32>,
    batch: usize,
    collections: Mutex<HashMap<Collection, Arc<ChromaCollection>>>,
    /// The embedder the collections were built with, once seen (asked on every write and
    /// search; without this each would cost a request per missing collection).
    identity: Mutex<Option<EmbedderIdentity>>,
}

impl std::fmt::Debug for ChromaIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromaIndex").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The collection's distance function; Chroma's default when unset is `l2`.
fn metric_of(collection: &ChromaCollection) -> Result<DistanceMetric> {
    let space = collection.metadata().and_then(|m| m.get(SPACE)).and_then(Value::as_str).unwrap_or("l2");
    DistanceMetric::from_name(space).ok_or_else(|| {
        Error::config(format!(
            "chroma collection `{}` uses space `{space}`, unknown to aimdb",
            collection.name()
        ))
    })
}

fn identity_of(collection: &ChromaCollection) -> Option<EmbedderIdentity> {
    let meta = collection.metadata()?;
    Some(EmbedderIdentity {
        kind: meta.get(KIND)?.as_str()?.to_owned(),
        model: meta.get(MODEL)?.as_str()?.to_owned(),
        dim: usize::try_from(meta.get(DIM)?.as_u64()?).ok()?,
    })
}

/// Chroma's `where` for equality on every filter field.
fn where_clause(filter: &VectorFilter) -> Option<Value> {
    let mut terms: Vec<Value> = filter.equals.iter().map(|(k, v)| json!({ k: { "$eq": v } })).collect();
    match terms.len() {
        0 => None,
        1 => terms.pop(),
        _ => Some(json!({ "$and": terms })),
    }
}

impl ChromaIndex {
    /// Connects to the server at `config.url` (checking it answers) and reads its batch limit.
    pub async fn open(config: &ChromaConfig) -> Result<Self> {
        if config.search_ef == Some(0) {
            return Err(Error::config("search_ef: must be at least 1"));
        }
        let url = config.url.expose().trim_end_matches('/').to_owned();
        ensure_database(&url, &config.database).await?;
        let options = ChromaClientOptions {
            url: Some(url.clone()),
            database: config.database.clone(),
            ..ChromaClientOptions::default()
        };
        let client = ChromaClient::new(options).await.map_err(|e| chroma("connect", e))?;
        let batch = max_batch_size(&url).await.unwrap_or(DEFAULT_BATCH);
        Ok(ChromaIndex {
            client,
            url: config.url.redacted(),
            metric: config.metric,
            search_ef: config.search_ef,
            batch,
            collections: Mutex::new(HashMap::new()),
            identity: Mutex::new(None),
        })
    }

    /// The collection, from the cache or the server; created for `create_for` when missing.
    async fn collection(
        &self,
        collection: Collection,
        create_for: Option<&EmbedderIdentity>,
    ) -> Result<Option<Arc<ChromaCollection>>> {
        let mut cache = self.collections.lock().await;
        if let Some(found) = cache.get(&collection) {
            return Ok(Some(Arc::clone(found)));
        }
        let found = match self.client.get_collection(collection.as_str()).await {
            Ok(found) => Some(found),
            Err(e) if is_not_found(&e) => None,
            Err(e) => return Err(chroma("get collection", e)),
        };
        let found = match (found, create_for) {
            (Some(found), _) => Some(Arc::new(found)),
            (None, Some(identity)) => {
                let mut meta = Map::new();
                meta.insert(SPACE.into(), json!(self.metric.as_str()));
                if let Some(ef) = self.search_ef {
                    meta.insert(SEARCH_EF.into(), json!(ef));
                }
                meta.insert(KIND.into(), json!(identity.kind));
                meta.insert(MODEL.into(), json!(identity.model));
                meta.insert(DIM.into(), json!(identity.dim));
                let created = self
                    .client
                    .create_collection(collection.as_str(), Some(meta), true)
                    .await
                    .map_err(|e| chroma("create collection", e))?;
                Some(Arc::new(created))
            }
            (None, None) => None,
        };
        if let Some(found) = &found {
            cache.insert(collection, Arc::clone(found));
        }
        Ok(found)
    }
}

/// Creates `database` in the default tenant unless it exists (the client cannot).
async fn ensure_database(url: &str, database: &str) -> Result<()> {
    let base = format!("{url}/api/v2/tenants/default_tenant/databases");
    let unreachable = |e: reqwest::Error| Error::unavailable(format!("chroma at {url}: cannot connect"), e);
    let found = reqwest::get(format!("{base}/{database}")).await.map_err(unreachable)?;
    if found.status().is_success() {
        return Ok(());
    }
    let created = reqwest::Client::new()
        .post(&base)
        .json(&json!({ "name": database }))
        .send()
        .await
        .map_err(unreachable)?;
    // 409: created meanwhile by another client.
    if created.status().is_success() || created.status().as_u16() == 409 {
        Ok(())
    } else {
        let status = created.status();
        let body = created.text().await.unwrap_or_default();
        Err(Error::backend(
            format!("chroma: create database `{database}`: {status} {body}"),
            "create database",
        ))
    }
}

/// `max_batch_size` from the server's pre-flight checks.
async fn max_batch_size(url: &str) -> Option<usize> {
    let body: Value =
        reqwest::get(format!("{url}/api/v2/pre-flight-checks")).await.ok()?.json().await.ok()?;
    body.get("max_batch_size")?.as_u64().map(|n| n as usize)
}

#[async_trait]
impl VectorIndex for ChromaIndex {
    async fn embedder(&self) -> Result<Option<EmbedderIdentity>> {
        if let Some(known) = self.identity.lock().await.clone() {
            return Ok(Some(known));
        }
        for collection in Collection::ALL {
            if let Some(found) = self.collection(collection, None).await?
                && let Some(identity) = identity_of(&found)
            {
                *self.identity.lock().await = Some(identity.clone());
                return Ok(Some(identity));
            }
        }
        Ok(None)
    }

    async fn upsert(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        records: Vec<VectorRecord>,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let records = prepare(embedder, self.metric, records)?;
        if let Some(stored) = self.embedder().await? {
            check_embedder(&stored, embedder)?;
        }
        let target = self.collection(collection, Some(embedder)).await?.expect("created when missing");
        check_metric(metric_of(&target)?, self.metric)?;
        for chunk in records.chunks(self.batch) {
            let ids: Vec<String> = chunk.iter().map(|r| r.id.to_string()).collect();
            let metadatas = chunk
                .iter()
                .map(|r| {
                    // Never empty (Chroma rejects `{}`): the entity id rides along.
                    let mut meta: Map<String, Value> =
                        r.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                    meta.insert("aimdb_id".into(), json!(r.id));
                    meta
                })
                .collect();
            let entries = CollectionEntries {
                ids: ids.iter().map(String::as_str).collect(),
                metadatas: Some(metadatas),
                documents: None,
                embeddings: Some(chunk.iter().map(|r| r.vector.clone()).collect()),
            };
            target.upsert(entries, None).await.map_err(|e| chroma("upsert", e))?;
        }
        Ok(())
    }

    async fn search(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>> {
        check_vector(|| "query".to_owned(), query, embedder.dim)?;
        Ok(self
            .search_many(collection, embedder, &[query.to_vec()], k, filter)
            .await?
            .pop()
            .unwrap_or_default())
    }

    /// One Chroma query with every embedding of the batch.
    async fn search_many(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        queries: &[Vec<f32>],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<Vec<VectorHit>>> {
        for (i, query) in queries.iter().enumerate() {
            check_vector(|| format!("queries[{i}]"), query, embedder.dim)?;
        }
        if let Some(stored) = self.embedder().await? {
            check_embedder(&stored, embedder)?;
        }
        let nothing = || vec![Vec::new(); queries.len()];
        let Some(target) = self.collection(collection, None).await? else { return Ok(nothing()) };
        check_metric(metric_of(&target)?, self.metric)?;
        let count = target.count().await.map_err(|e| chroma("count", e))?;
        if k == 0 || count == 0 || queries.is_empty() {
            return Ok(nothing());
        }
        let options = QueryOptions {
            query_embeddings: Some(queries.iter().map(|q| query_vector(self.metric, q)).collect()),
            query_texts: None,
            n_results: Some(k.min(count)),
            where_metadata: where_clause(filter),
            where_document: None,
            include: Some(vec!["distances"]),
        };
        let result = target.query(options, None).await.map_err(|e| chroma("query", e))?;
        let mut distances = result.distances.unwrap_or_default().into_iter();
        result
            .ids
            .into_iter()
            .map(|ids| {
                let distances = distances.next().unwrap_or_default();
                let mut hits = ids
                    .iter()
                    .zip(distances)
                    .map(|(id, distance)| {
                        let id = id
                            .parse()
                            .map_err(|e| Error::backend(format!("chroma: id `{id}` is not aimdb's"), e))?;
                        // Chroma's distances: 1 - cosine, 1 - inner product, squared L2.
                        let raw = match self.metric {
                            DistanceMetric::Cosine | DistanceMetric::Ip => 1.0 - distance,
                            DistanceMetric::L2 => distance,
                        };
                        Ok(VectorHit { id, similarity_score: self.metric.score(raw) })
                    })
                    .collect::<Result<Vec<_>>>()?;
                hits.sort_by(|a, b| b.similarity_score.total_cmp(&a.similarity_score).then(a.id.cmp(&b.id)));
                Ok(hits)
            })
            .collect()
    }

    async fn remove(&self, collection: Collection, ids: &[i64]) -> Result<()> {
        let Some(target) = self.collection(collection, None).await? else { return Ok(()) };
        for chunk in ids.chunks(self.batch) {
            let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
            target
                .delete(Some(ids.iter().map(String::as_str).collect()), None, None)
                .await
                .map_err(|e| chroma("delete", e))?;
        }
        Ok(())
    }

    async fn reset(&self) -> Result<()> {
        let mut cache = self.collections.lock().await;
        cache.clear();
        *self.identity.lock().await = None;
        for collection in Collection::ALL {
            match self.client.delete_collection(collection.as_str()).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(chroma("delete collection", e)),
            }
        }
        Ok(())
    }

    async fn info(&self) -> Result<Vec<CollectionInfo>> {
        let mut out = Vec::with_capacity(3);
        for collection in Collection::ALL {
            let (count, metric) = match self.collection(collection, None).await? {
                Some(found) => (found.count().await.map_err(|e| chroma("count", e))?, metric_of(&found)?),
                None => (0, self.metric),
            };
            let mut info = CollectionInfo::exact(collection, "chroma", count as u64);
            info.metric = metric;
            out.push(info);
        }
        Ok(out)
    }

    async fn ids(&self, collection: Collection) -> Result<Vec<i64>> {
        let Some(target) = self.collection(collection, None).await? else { return Ok(Vec::new()) };
        let mut ids = Vec::new();
        loop {
            let options = GetOptions {
                limit: Some(self.batch),
                offset: Some(ids.len()),
                include: Some(Vec::new()),
                ..GetOptions::default()
            };
            let page = target.get(options).await.map_err(|e| chroma("get ids", e))?;
            let n = page.ids.len();
            for id in page.ids {
                ids.push(
                    id.parse().map_err(|e| Error::backend(format!("chroma: id `{id}` is not aimdb's"), e))?,
                );
            }
            if n < self.batch {
                break;
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    async fn flush(&self) -> Result<()> {
        // The server persists every acknowledged write.
        Ok(())
    }
}
