//! `AiDatabase`: the one handle applications hold.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aimdb_core::config::AimdbConfig;
use aimdb_core::{
    Collection, CollectionInfo, Dataset, DatasetId, Embedder, EmbedderIdentity, Error, ImportBatch,
    MetadataStore, Model, ModelId, NewDataset, NewModel, NewPrediction, Page, Prediction, PredictionId,
    Result, StoreLayer, StoreStatistics, VectorFilter, VectorHit, VectorIndex,
};
use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::remote::{self, Remote};
use crate::repair::RepairReport;
use crate::search::{DatasetFilter, ModelFilter, PredictionFilter, SearchHit, Searchable};

/// Pairs each hit with its entity, read from the store in one call. A hit the store no
/// longer has is skipped: the store is the source of truth and the index may lag it.
/// Every id the answers name, once.
fn unique_ids(hits: &[Vec<VectorHit>]) -> impl Iterator<Item = i64> {
    hits.iter().flatten().map(|hit| hit.id).collect::<std::collections::BTreeSet<_>>().into_iter()
}

/// Each answer's hits with their records (read once for the whole batch).
fn resolve<T: Searchable + Clone>(hits: Vec<Vec<VectorHit>>, items: Vec<T>) -> Vec<Vec<SearchHit<T>>> {
    let by_id: HashMap<i64, T> = items.into_iter().map(|item| (item.id(), item)).collect();
    hits.into_iter()
        .map(|answer| {
            answer
                .into_iter()
                .filter_map(|hit| match by_id.get(&hit.id) {
                    Some(item) => {
                        Some(SearchHit { item: item.clone(), similarity_score: hit.similarity_score })
                    }
                    None => {
                        log::warn!("index holds id {} the store does not", hit.id);
                        None
                    }
                })
                .collect()
        })
        .collect()
}

/// Statistics of a whole database (SPEC §3 `get_statistics`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statistics {
    /// Counts of every entity.
    #[serde(flatten)]
    pub counts: StoreStatistics,
    /// The metadata backend (`sqlite`, ...).
    pub backend: String,
    /// Where the metadata lives (password redacted).
    pub location: String,
    /// The vector index, when one is configured.
    pub index: Option<IndexStatistics>,
}

/// The vector index part of [`Statistics`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndexStatistics {
    /// Index kind and vectors per collection.
    pub collections: Vec<CollectionInfo>,
    /// The embedder in use (`hash` or `transformer`, model, dimension).
    pub embedder: EmbedderIdentity,
    /// The embedder the index was built with, if it holds vectors.
    pub index_embedder: Option<EmbedderIdentity>,
    /// Writes since opening whose vector could not be stored (see the log); the next open
    /// (or `repair_index`) adds them.
    pub failed_vector_writes: u64,
    /// The last repair in this process that changed the index (at open, or `repair_index`):
    /// when, and how many records it added and removed.
    pub last_repair: Option<RepairReport>,
}

/// What [`AiDatabase::reindex`] rebuilt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReindexReport {
    /// Models embedded.
    pub models: u64,
    /// Datasets embedded.
    pub datasets: u64,
    /// Predictions embedded.
    pub predictions: u64,
}

/// Entities read, embedded and indexed per step of a reindex.
const REINDEX_BATCH: u32 = 256;
/// The most results one search may ask for.
const MAX_RESULTS: usize = 10_000;
/// Most queries in one batched search.
const MAX_QUERIES: usize = 10_000;

#[derive(Debug, Default)]
struct IndexSync {
    failed_writes: AtomicU64,
    last_repair: Mutex<Option<RepairReport>>,
}

/// An AI model database: a [`MetadataStore`] (the source of truth), an optional
/// [`VectorIndex`] derived from it, and the [`Embedder`] that feeds the index.
///
/// `AiDatabase` implements [`MetadataStore`] itself, so everything that accepts a
/// store accepts a database, and the conformance suite runs against it too. Creating a
/// model, dataset or prediction stores it first, then embeds and indexes it.
#[derive(Debug, Clone)]
pub struct AiDatabase {
    store: Arc<dyn MetadataStore>,
    embedder: Arc<dyn Embedder>,
    index: Option<Arc<dyn VectorIndex>>,
    config: Arc<AimdbConfig>,
    sync: Arc<IndexSync>,
    /// Set when the store is an `aimdb serve` server, which searches and indexes itself.
    remote: Option<Arc<Remote>>,
}

impl AiDatabase {
    /// Wraps an open store and an embedder, without a vector index. Most code calls
    /// [`create_ai_database`](crate::create_ai_database).
    pub fn new(store: Arc<dyn MetadataStore>, embedder: Arc<dyn Embedder>, config: AimdbConfig) -> Self {
        AiDatabase {
            store,
            embedder,
            index: None,
            config: Arc::new(config),
            sync: Arc::default(),
            remote: None,
        }
    }

    /// A database whose store, index and embedder are an `aimdb serve` server's.
    #[cfg(feature = "remote")]
    pub(crate) fn remote(remote: Arc<Remote>, embedder: Arc<dyn Embedder>, config: AimdbConfig) -> Self {
        let mut db = Self::new(remote.clone(), embedder, config);
        db.remote = Some(remote);
        db
    }

    /// Adds a vector index, enabling semantic search.
    #[must_use]
    pub fn with_index(mut self, index: Arc<dyn VectorIndex>) -> Self {
        self.index = Some(index);
        self
    }

    /// The embedder (loaded on first use).
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The vector index, if one is configured.
    pub fn index(&self) -> Option<&Arc<dyn VectorIndex>> {
        self.index.as_ref()
    }

    /// The configuration this database was opened with.
    pub fn config(&self) -> &AimdbConfig {
        &self.config
    }

    /// The underlying metadata store.
    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// Counts of every entity, which backend holds them, and the index's state.
    pub async fn get_statistics(&self) -> Result<Statistics> {
        if let Some(remote) = &self.remote {
            return remote::statistics(remote).await;
        }
        let info = self.store.info();
        let index = match &self.index {
            Some(index) => Some(IndexStatistics {
                collections: index.info().await?,
                embedder: self.embedder.identity().await?,
                index_embedder: index.embedder().await?,
                failed_vector_writes: self.sync.failed_writes.load(Ordering::Relaxed),
                last_repair: self.sync.last_repair.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            }),
            None => None,
        };
        Ok(Statistics {
            counts: self.store.statistics().await?,
            backend: info.backend.to_owned(),
            location: info.location,
            index,
        })
    }

    /// Models most similar in meaning to `query`, best first.
    pub async fn search_similar_models(
        &self,
        query: &str,
        n_results: usize,
        filter: &ModelFilter,
    ) -> Result<Vec<SearchHit<Model>>> {
        Ok(self.search_similar_models_many(&[query], n_results, filter).await?.pop().unwrap_or_default())
    }

    /// [`search_similar_models`](Self::search_similar_models) for each of `queries`, answers in
    /// their order: the queries are embedded as one batch, searched in one index call (FAISS
    /// scans once for all of them) and their hits read in one lookup.
    pub async fn search_similar_models_many(
        &self,
        queries: &[&str],
        n_results: usize,
        filter: &ModelFilter,
    ) -> Result<Vec<Vec<SearchHit<Model>>>> {
        if let Some(remote) = &self.remote {
            return remote::models(remote, queries, n_results, filter).await;
        }
        let hits = self.similar(Collection::Models, queries, n_results, filter.into()).await?;
        let ids: Vec<ModelId> = unique_ids(&hits).map(ModelId).collect();
        Ok(resolve(hits, self.store.get_models_by_ids(&ids).await?))
    }

    /// Datasets most similar in meaning to `query`, best first.
    pub async fn search_similar_datasets(
        &self,
        query: &str,
        n_results: usize,
        filter: &DatasetFilter,
    ) -> Result<Vec<SearchHit<Dataset>>> {
        Ok(self.search_similar_datasets_many(&[query], n_results, filter).await?.pop().unwrap_or_default())
    }

    /// [`search_similar_datasets`](Self::search_similar_datasets) for each of `queries`, as
    /// one batch (see [`search_similar_models_many`](Self::search_similar_models_many)).
    pub async fn search_similar_datasets_many(
        &self,
        queries: &[&str],
        n_results: usize,
        filter: &DatasetFilter,
    ) -> Result<Vec<Vec<SearchHit<Dataset>>>> {
        if let Some(remote) = &self.remote {
            return remote::datasets(remote, queries, n_results, filter).await;
        }
        let hits = self.similar(Collection::Datasets, queries, n_results, filter.into()).await?;
        let ids: Vec<DatasetId> = unique_ids(&hits).map(DatasetId).collect();
        Ok(resolve(hits, self.store.get_datasets_by_ids(&ids).await?))
    }

    /// Predictions whose input and output are most similar in meaning to `query`, best first.
    pub async fn search_similar_predictions(
        &self,
        query: &str,
        n_results: usize,
        filter: &PredictionFilter,
    ) -> Result<Vec<SearchHit<Prediction>>> {
        Ok(self.search_similar_predictions_many(&[query], n_results, filter).await?.pop().unwrap_or_default())
    }

    /// [`search_similar_predictions`](Self::search_similar_predictions) for each of
    /// `queries`, as one batch (see [`search_similar_models_many`](Self::search_similar_models_many)).
    pub async fn search_similar_predictions_many(
        &self,
        queries: &[&str],
        n_results: usize,
        filter: &PredictionFilter,
    ) -> Result<Vec<Vec<SearchHit<Prediction>>>> {
        if let Some(remote) = &self.remote {
            return remote::predictions(remote, queries, n_results, filter).await;
        }
        let hits = self.similar(Collection::Predictions, queries, n_results, filter.into()).await?;
        let ids: Vec<PredictionId> = unique_ids(&hits).map(PredictionId).collect();
        Ok(resolve(hits, self.store.get_predictions_by_ids(&ids).await?))
    }

    pub(crate) fn require_index(&self) -> Result<&Arc<dyn VectorIndex>> {
        self.index.as_ref().ok_or_else(|| {
            Error::config(
                "semantic search needs a vector index: configure `vectors:` (or `backend: faiss` / \
                 `backend: chromadb`)",
            )
        })
    }

    /// Each query's nearest records in `collection`: embedded as one batch, one index call.
    async fn similar(
        &self,
        collection: Collection,
        queries: &[&str],
        n_results: usize,
        filter: VectorFilter,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let index = self.require_index()?;
        if n_results > MAX_RESULTS {
            return Err(Error::invalid("n_results", format!("at most {MAX_RESULTS}, got {n_results}")));
        }
        if queries.len() > MAX_QUERIES {
            return Err(Error::invalid(
                "queries",
                format!("at most {MAX_QUERIES} in one call, got {}", queries.len()),
            ));
        }
        if n_results == 0 || queries.is_empty() {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let identity = self.embedder.identity().await?;
        let texts: Vec<String> = queries.iter().map(|q| (*q).to_owned()).collect();
        let vectors = self.embedder.embed(&texts).await?;
        index.search_many(collection, &identity, &vectors, n_results, &filter).await
    }

    /// Embeds and indexes entities just stored. A failure is logged and counted, never
    /// returned: the entity is stored, and the next open (or `repair_index`) adds its vector.
    async fn index_entities<T: Searchable>(&self, collection: Collection, items: &[T]) {
        if self.index.is_none() {
            return;
        }
        if let Err(e) = self.embed_and_index(collection, items).await {
            self.sync.failed_writes.fetch_add(items.len() as u64, Ordering::Relaxed);
            log::warn!(
                "{} {collection} stored but not indexed: {e}; the next open (or `repair_index`) adds them",
                items.len()
            );
        }
    }

    /// Embeds `items` and upserts their vectors; returns how many.
    pub(crate) async fn embed_and_index<T: Searchable>(
        &self,
        collection: Collection,
        items: &[T],
    ) -> Result<u64> {
        let index = self.require_index()?;
        if items.is_empty() {
            return Ok(0);
        }
        let identity = self.embedder.identity().await?;
        let texts: Vec<String> = items.iter().map(Searchable::text).collect();
        let vectors = self.embedder.embed(&texts).await?;
        let records = items.iter().zip(vectors).map(|(item, v)| item.record(v)).collect();
        index.upsert(collection, &identity, records).await?;
        Ok(items.len() as u64)
    }

    pub(crate) fn record_repair(&self, report: &RepairReport) {
        if report.touched() > 0 {
            *self.sync.last_repair.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
        }
        self.sync.failed_writes.store(0, Ordering::Relaxed);
    }

    /// Makes every indexed vector durable (also done every few seconds and on close).
    pub async fn flush(&self) -> Result<()> {
        match &self.index {
            Some(index) => index.flush().await,
            None => Ok(()),
        }
    }

    /// Rebuilds the vector index from the store: every model, dataset and prediction is
    /// embedded again with the current embedder. Shows a progress bar on a terminal.
    pub async fn reindex(&self) -> Result<ReindexReport> {
        self.reindex_with_progress(true).await
    }

    /// [`reindex`](Self::reindex), with a progress bar or without (a server has no terminal).
    pub async fn reindex_with_progress(&self, progress: bool) -> Result<ReindexReport> {
        if let Some(remote) = &self.remote {
            return remote::reindex(remote).await;
        }
        let index = self.require_index()?;
        let counts = self.store.statistics().await?;
        let total = counts.models + counts.datasets + counts.predictions;
        let bar = if progress { ProgressBar::new(total) } else { ProgressBar::hidden() };
        let bar = bar.with_style(
            ProgressStyle::with_template("reindex {bar:40} {pos}/{len} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        index.reset().await?;
        let mut report = ReindexReport::default();
        bar.set_message("models");
        report.models =
            self.reindex_collection(Collection::Models, &bar, |page| self.store.list_models(page)).await?;
        bar.set_message("datasets");
        report.datasets = self
            .reindex_collection(Collection::Datasets, &bar, |page| self.store.list_datasets(page))
            .await?;
        bar.set_message("predictions");
        report.predictions = self
            .reindex_collection(Collection::Predictions, &bar, |page| self.store.list_predictions(page))
            .await?;
        for collection in Collection::ALL {
            index.optimize(collection).await?;
        }
        index.flush().await?;
        self.sync.failed_writes.store(0, Ordering::Relaxed);
        bar.finish_and_clear();
        Ok(report)
    }

    async fn reindex_collection<T, F, Fut>(
        &self,
        collection: Collection,
        bar: &ProgressBar,
        list: F,
    ) -> Result<u64>
    where
        T: Searchable,
        F: Fn(Page) -> Fut,
        Fut: Future<Output = Result<Vec<T>>>,
    {
        let mut page = Page::first(REINDEX_BATCH);
        let mut done = 0u64;
        loop {
            let items = list(page).await?;
            let Some(last) = items.last() else { break };
            page = Page::first(REINDEX_BATCH).after(last.id());
            done += self.embed_and_index(collection, &items).await?;
            bar.inc(items.len() as u64);
        }
        Ok(done)
    }

    /// Rebuilds one collection's index in the type that suits its size (SPEC §7).
    pub async fn optimize_index(&self, collection: Collection) -> Result<CollectionInfo> {
        if let Some(remote) = &self.remote {
            return remote::optimize(remote, collection).await;
        }
        let info = self.require_index()?.optimize(collection).await?;
        self.flush().await?;
        Ok(info)
    }
}

/// The store's API, forwarded to the store; what is created is then indexed (the only
/// calls this layer changes), and close flushes the index first.
#[async_trait]
impl StoreLayer for AiDatabase {
    fn inner(&self) -> &dyn MetadataStore {
        self.store.as_ref()
    }
    async fn create_model(&self, model: NewModel) -> Result<Model> {
        let model = self.store.create_model(model).await?;
        self.index_entities(Collection::Models, std::slice::from_ref(&model)).await;
        Ok(model)
    }
    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset> {
        let dataset = self.store.create_dataset(dataset).await?;
        self.index_entities(Collection::Datasets, std::slice::from_ref(&dataset)).await;
        Ok(dataset)
    }
    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction> {
        let prediction = self.store.log_prediction(prediction).await?;
        self.index_entities(Collection::Predictions, std::slice::from_ref(&prediction)).await;
        Ok(prediction)
    }
    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        let predictions = self.store.log_predictions(predictions).await?;
        self.index_entities(Collection::Predictions, &predictions).await;
        Ok(predictions)
    }
    /// Imports into the store, then indexes the batch's models, datasets and predictions
    /// (those already present too: an upsert), as a create would.
    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        let written = self.store.import(batch.clone()).await?;
        match &batch {
            ImportBatch::Models(v) => self.index_entities(Collection::Models, v).await,
            ImportBatch::Datasets(v) => self.index_entities(Collection::Datasets, v).await,
            ImportBatch::Predictions(v) => self.index_entities(Collection::Predictions, v).await,
            _ => {}
        }
        Ok(written)
    }
    async fn close(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.store.close().await?;
        flushed
    }
}
