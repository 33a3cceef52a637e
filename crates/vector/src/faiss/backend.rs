//! [`FaissIndex`]: the embedded [`VectorIndex`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use aimdb_core::config::FaissConfig;
use aimdb_core::{
    Collection, CollectionInfo, EmbedderIdentity, Error, Result, VectorFilter, VectorHit, VectorIndex,
    VectorRecord, check_embedder,
};
use async_trait::async_trait;

use super::collection::CollectionIndex;
use super::layout::Planner;
use super::persist::{self, FORMAT, Manifest};
use crate::common::{check_vector, prepare, unit};

/// FAISS indexes for the three collections, persisted in one directory.
///
/// Vectors are stored unit-length and searched by inner product, so scores are cosines;
/// hits report `(1 + cosine) / 2`. Writes are in memory until [`VectorIndex::flush`], which
/// replaces the files atomically; the index is derived data and `reindex` rebuilds it.
#[derive(Clone)]
pub struct FaissIndex {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    planner: Planner,
    state: Mutex<State>,
}

struct State {
    embedder: Option<EmbedderIdentity>,
    next_file: u64,
    collections: BTreeMap<Collection, CollectionIndex>,
    /// The embedder or the set of collections changed since the last save.
    dirty: bool,
}

impl fmt::Debug for FaissIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaissIndex").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl FaissIndex {
    /// Opens the index in `config.path`, creating the directory if needed.
    pub async fn open(config: &FaissConfig) -> Result<Self> {
        let planner = Planner::new(config)?;
        let dir = config.path.clone();
        let state = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || load(&dir)
        })
        .await
        .map_err(|e| Error::backend("faiss open task", e))??;
        Ok(FaissIndex { inner: Arc::new(Inner { dir, planner, state: Mutex::new(state) }) })
    }

    /// Sets how many IVF lists one collection probes per query (capped at `nlist`), without
    /// rebuilding: the recall-versus-speed dial. Kept at the next flush; `InvalidInput` for a
    /// collection that searches exactly.
    pub async fn set_nprobe(&self, collection: Collection, nprobe: u32) -> Result<()> {
        self.with_state(move |_, state| match state.collections.get_mut(&collection) {
            Some(index) => index.tune_nprobe(nprobe),
            None => Err(Error::invalid("nprobe", format!("{collection} holds no vectors yet"))),
        })
        .await
    }

    /// The directory holding the index files.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// Runs `f` on the state in a blocking thread: FAISS calls are CPU-bound.
    async fn with_state<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut State) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut state = lock(&inner.state);
            f(&inner, &mut state)
        })
        .await
        .map_err(|e| Error::backend("faiss task", e))?
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic mid-write leaves at worst a collection missing a record, which reindex repairs.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io_error(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::backend(format!("faiss index files: {what}: {e}"), e)
}

fn load(dir: &Path) -> Result<State> {
    std::fs::create_dir_all(dir).map_err(io_error("create index directory"))?;
    let Some(manifest) = persist::read_manifest(dir).map_err(io_error("read manifest"))? else {
        return Ok(State { embedder: None, next_file: 1, collections: BTreeMap::new(), dirty: false });
    };
    let mut collections = BTreeMap::new();
    for (collection, files) in &manifest.collections {
        collections.insert(*collection, CollectionIndex::load(*collection, dir, files)?);
    }
    Ok(State { embedder: manifest.embedder, next_file: manifest.next_file, collections, dirty: false })
}

impl State {
    fn fresh_vectors_path(&mut self, dir: &Path, collection: Collection) -> PathBuf {
        let n = self.next_file;
        self.next_file += 1;
        self.dirty = true;
        dir.join(format!("{collection}.{n}.vec"))
    }

    fn save(&mut self, dir: &Path) -> Result<()> {
        let changed = self.collections.values().any(|c| c.dirty);
        if !self.dirty && !changed {
            return Ok(());
        }
        let generation = self.next_file;
        self.next_file += 1;
        let mut manifest = Manifest {
            format: FORMAT,
            embedder: self.embedder.clone(),
            next_file: 0,
            collections: BTreeMap::new(),
        };
        let collections: Vec<Collection> = self.collections.keys().copied().collect();
        for collection in collections {
            let fresh = self.fresh_vectors_path(dir, collection);
            let index = self.collections.get_mut(&collection).expect("listed above");
            let files = match (&index.saved, index.dirty) {
                (Some(files), false) => files.clone(),
                _ => index.save(dir, generation, &fresh)?,
            };
            manifest.collections.insert(collection, files);
        }
        manifest.next_file = self.next_file;
        persist::write_manifest(dir, &manifest).map_err(io_error("write manifest"))?;
        self.dirty = false;
        Ok(())
    }
}

#[async_trait]
impl VectorIndex for FaissIndex {
    async fn embedder(&self) -> Result<Option<EmbedderIdentity>> {
        self.with_state(|_, state| Ok(state.embedder.clone())).await
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
        // Everything is checked before the index is touched: nothing is half-written.
        let records = prepare(embedder, records)?;
        let dim = embedder.dim;
        let mut ids = Vec::with_capacity(records.len());
        let mut vectors = Vec::with_capacity(records.len() * dim);
        let mut metadata = Vec::with_capacity(records.len());
        for record in records {
            ids.push(record.id);
            vectors.extend_from_slice(&record.vector);
            metadata.push(record.metadata);
        }
        let embedder = embedder.clone();
        self.with_state(move |inner, state| {
            match &state.embedder {
                Some(stored) => check_embedder(stored, &embedder)?,
                None => {
                    state.embedder = Some(embedder.clone());
                    state.dirty = true;
                }
            }
            if !state.collections.contains_key(&collection) {
                let path = state.fresh_vectors_path(&inner.dir, collection);
                state.collections.insert(collection, CollectionIndex::create(collection, dim, &path)?);
            }
            let index = state.collections.get_mut(&collection).expect("inserted above");
            index.upsert(&inner.planner, &ids, &vectors, metadata)
        })
        .await
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
        let mut query = query.to_vec();
        unit(&mut query);
        let embedder = embedder.clone();
        let filter = filter.clone();
        self.with_state(move |_, state| {
            if let Some(stored) = &state.embedder {
                check_embedder(stored, &embedder)?;
            }
            match state.collections.get_mut(&collection) {
                Some(index) => index.search(&query, k, &filter),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    async fn remove(&self, collection: Collection, ids: &[i64]) -> Result<()> {
        let ids = ids.to_vec();
        self.with_state(move |_, state| match state.collections.get_mut(&collection) {
            Some(index) => index.remove(&ids),
            None => Ok(()),
        })
        .await
    }

    async fn reset(&self) -> Result<()> {
        self.with_state(|_, state| {
            state.collections.clear();
            state.embedder = None;
            state.dirty = true;
            Ok(())
        })
        .await
    }

    async fn info(&self) -> Result<Vec<CollectionInfo>> {
        self.with_state(|inner, state| {
            Ok(Collection::ALL
                .iter()
                .map(|c| match state.collections.get(c) {
                    Some(index) => index.info(&inner.planner),
                    None => {
                        let layout = inner.planner.target(0, 1).map(|l| l.kind()).unwrap_or("flat");
                        let mut info = CollectionInfo::exact(*c, layout, 0);
                        info.trained = layout == "flat";
                        info
                    }
                })
                .collect())
        })
        .await
    }

    async fn flush(&self) -> Result<()> {
        self.with_state(|inner, state| state.save(&inner.dir)).await
    }

    async fn optimize(&self, collection: Collection) -> Result<CollectionInfo> {
        self.with_state(move |inner, state| match state.collections.get_mut(&collection) {
            Some(index) => {
                index.optimize(&inner.planner)?;
                Ok(index.info(&inner.planner))
            }
            None => Ok(CollectionInfo::exact(collection, "flat", 0)),
        })
        .await
    }
}
