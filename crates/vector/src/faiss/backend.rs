//! [`FaissIndex`]: the embedded [`VectorIndex`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockWriteGuard};
use std::time::Duration;

use aimdb_core::config::FaissConfig;
use aimdb_core::{
    Collection, CollectionInfo, DistanceMetric, EmbedderIdentity, Error, Result, VectorFilter, VectorHit,
    VectorIndex, VectorRecord, check_embedder, check_metric,
};
use async_trait::async_trait;

use super::collection::{CollectionIndex, Gpus, Retrain};
use super::journal::{self, Change, Entry, Journal};
use super::layout::Planner;
use super::lock::{self, DirLock};
use super::persist::{self, FORMAT, Manifest, ManifestId};
use crate::common::{check_vector, prepare, query_vector};
use aimdb_core::fslock::LockMode;

/// How long a process waits for the directory lock by default.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// A journal this long (or half the size of the exact vectors, if larger) is folded into
/// the index files by the writer that grew it: it bounds what every opener replays.
const JOURNAL_MIN_CHECKPOINT: u64 = 8 << 20;
/// Searches reading at most this many stored floats (4 MiB, ~100 µs: 2,700 vectors of 384
/// exact, far more through an inverted file) run on the async thread, within tokio's
/// budget between awaits; larger ones go to a blocking thread.
const INLINE_SEARCH_FLOATS: usize = 1 << 20;

/// FAISS indexes for the three collections, persisted in one directory that any number of
/// processes may share.
///
/// Vectors are compared by the configured [`DistanceMetric`] (cosine by default: stored
/// unit-length and searched by inner product), recorded in the directory with the embedder.
/// Every write is appended to the directory's journal (or, if large, folded straight into the
/// index files) under an exclusive file lock before it returns, so a crashed process loses
/// nothing it acknowledged, and every read first replays what other processes appended (under
/// a shared lock). [`VectorIndex::flush`] folds the journal into the index files (a
/// checkpoint), as writers also do once the journal grows long. The index is derived data and
/// `reindex` rebuilds it.
#[derive(Clone)]
pub struct FaissIndex {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// The configured metric; the directory's own is [`State::metric`].
    metric: DistanceMetric,
    planner: Planner,
    lock: DirLock,
    /// Searches share it (read), everything that changes the copy takes it alone (write).
    state: RwLock<State>,
    /// Background retrains running in this process, and their end signalled.
    retrains: Mutex<usize>,
    retrained: Condvar,
    /// Where searches run when not on the CPU (`device: cuda`).
    gpus: Option<Arc<Gpus>>,
}

/// This process's copy of the index: the last checkpoint it loaded plus the journal entries
/// it has applied since.
#[derive(Default)]
struct State {
    embedder: Option<EmbedderIdentity>,
    /// How the vectors are compared; meaningful once `embedder` is set.
    metric: DistanceMetric,
    next_file: u64,
    collections: BTreeMap<Collection, CollectionIndex>,
    /// The manifest this copy comes from; `None` when there was none.
    manifest: Option<ManifestId>,
    /// The journal the manifest names, read up to what has been applied.
    journal: Option<Journal>,
    /// Memory may differ from the files (a write failed half-way): reload before the next use.
    stale: bool,
}

impl fmt::Debug for FaissIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaissIndex").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl FaissIndex {
    /// Searches `queries` (checked, prepared for the metric, concatenated) in one FAISS call.
    async fn search_batch(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        queries: Vec<f32>,
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let metric = self.inner.metric;
        let nq = queries.len() / embedder.dim.max(1);
        let embedder = embedder.clone();
        let filter = filter.clone();
        let gpus = self.inner.gpus.clone();
        let on_cpu = gpus.is_none();
        let search = move |state: &State| {
            if let Some(stored) = &state.embedder {
                check_embedder(stored, &embedder)?;
                check_metric(state.metric, metric)?;
            }
            match state.collections.get(&collection) {
                Some(index) => index.search_many(&queries, k, &filter, gpus.as_deref()),
                None => Ok(vec![Vec::new(); nq]),
            }
        };
        // A small search costs less than the hop to a blocking thread and back (two
        // wake-ups, ~30 µs): on a current copy it runs here, which is what lets two
        // clients of a server search at nearly twice one client's rate on two cores.
        // GPU searches may first copy the vectors over: never on the async thread.
        if on_cpu
            && let Ok(state) = self.inner.state.try_read()
            && state.is_current(&self.inner.dir)?
            && state
                .collections
                .get(&collection)
                .is_none_or(|c| c.search_cost().saturating_mul(nq) <= INLINE_SEARCH_FLOATS)
        {
            return search(&state);
        }
        self.with_read(search).await
    }

    /// Opens the index in `config.path`, creating the directory if needed.
    pub async fn open(config: &FaissConfig) -> Result<Self> {
        let planner = Planner::new(config)?;
        let metric = config.metric;
        let dir = config.path.clone();
        let timeout = config.lock_timeout_ms.map_or(DEFAULT_LOCK_TIMEOUT, Duration::from_millis);
        let device = config.device.clone();
        let inner = tokio::task::spawn_blocking(move || {
            // Before this process's first FAISS call (see blas.rs).
            super::blas::openblas_core();
            super::blas::route_batches();
            let gpus = open_gpus(&device)?;
            std::fs::create_dir_all(&dir).map_err(io_error("create index directory"))?;
            let lock = DirLock::open(&dir, timeout).map_err(io_error("open lock file"))?;
            let inner = Inner {
                dir,
                metric,
                planner,
                lock,
                state: RwLock::new(State::default()),
                retrains: Mutex::new(0),
                retrained: Condvar::new(),
                gpus,
            };
            inner.run(LockMode::Shared, |_, _| Ok(()))?;
            if lock_state(&inner.state).journal.is_none() {
                inner.run(LockMode::Exclusive, |_, _| Ok(()))?;
            }
            Ok::<_, Error>(inner)
        })
        .await
        .map_err(|e| Error::backend("faiss open task", e))??;
        Ok(FaissIndex { inner: Arc::new(inner) })
    }

    /// Sets how many IVF lists one collection probes per query (capped at `nlist`), without
    /// rebuilding: the recall-versus-speed dial, for every process sharing the directory.
    /// `InvalidInput` for a collection that searches exactly.
    pub async fn set_nprobe(&self, collection: Collection, nprobe: u32) -> Result<()> {
        self.with_state(LockMode::Exclusive, move |inner, state| {
            if !state.collections.contains_key(&collection) {
                return Err(Error::invalid("nprobe", format!("{collection} holds no vectors yet")));
            }
            state.write(inner, Entry::plain(Change::Nprobe { collection, nprobe }))
        })
        .await
    }

    /// The directory holding the index files.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// Whether this process is retraining a collection in the background: one that has
    /// doubled since it was trained is trained again on all of it while searches and writes
    /// go on, and swapped in when ready. [`flush`](VectorIndex::flush) (and so closing the
    /// database) waits for it.
    pub fn retraining(&self) -> bool {
        *self.inner.running() > 0
    }

    /// Runs `f` in a blocking thread (FAISS calls are CPU-bound) holding the directory lock
    /// in `mode`, after catching up with what other processes wrote.
    async fn with_state<T, F>(&self, mode: LockMode, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut State) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.run(mode, f))
            .await
            .map_err(|e| Error::backend("faiss task", e))?
    }

    /// Runs `f` on this process's copy, beside other readers (see [`Inner::read`]): on this
    /// thread when the runtime has other workers to move its tasks to (`block_in_place`),
    /// else in a blocking thread. The hop to a blocking thread and back (two wake-ups, with
    /// FAISS's OpenMP threads competing for the cores) cost 10–20% of IVF batch searches at
    /// 20k vectors on two cores.
    async fn with_read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&State) -> Result<T> + Send + 'static,
    {
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
            return tokio::task::block_in_place(|| self.inner.read(f));
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.read(f))
            .await
            .map_err(|e| Error::backend("faiss task", e))?
    }
}

/// The GPUs `device` names, `None` for the CPU.
fn open_gpus(device: &aimdb_core::config::VectorDevice) -> Result<Option<Arc<Gpus>>> {
    if device.is_cpu() {
        return Ok(None);
    }
    #[cfg(feature = "gpu")]
    {
        Ok(Some(Arc::new(Gpus::open(device)?)))
    }
    #[cfg(not(feature = "gpu"))]
    Err(Error::config(format!(
        "vectors.device = {device} needs aimdb-vector built with its `gpu` feature (this build searches on the CPU only)"
    )))
}

impl Inner {
    /// Trains and fills `retrain`'s index off the locks (reading the snapshot's vectors a chunk
    /// at a time under a read guard), then swaps it in and checkpoints under the exclusive
    /// lock; again while the collection has outgrown the result meanwhile. `lock` (this
    /// collection's retrain lock) is released inside the last swap's critical section, so a
    /// write after it finds the lock free. Gives up quietly when the copy it started from is
    /// gone (reloaded after another process's checkpoint, reset, or rebuilt by `optimize`):
    /// a later write starts over.
    fn retrain(&self, mut retrain: Retrain, lock: File) -> Result<()> {
        let collection = retrain.collection;
        let mut lock = Some(lock);
        loop {
            retrain.train()?;
            for chunk in retrain.chunks() {
                let state = self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some(index) = state.collections.get(&collection).filter(|c| c.accepts(&retrain)) else {
                    return Ok(());
                };
                let (ids, vectors) = index.read_present(&chunk)?;
                drop(state);
                retrain.fill(&ids, &vectors)?;
            }
            let next = self.run(LockMode::Exclusive, |inner, state| {
                let Some(index) = state.collections.get_mut(&collection).filter(|c| c.accepts(&retrain))
                else {
                    return Ok(None);
                };
                index.finish_retrain(retrain).inspect_err(|_| state.stale = true)?;
                // Other processes load the retrained index rather than train their own.
                state.checkpoint(&inner.dir)?;
                match state.collections.get_mut(&collection) {
                    Some(index) if index.retrain_due(&inner.planner) => {
                        index.start_retrain(&inner.planner).map(Some)
                    }
                    _ => {
                        drop(lock.take());
                        Ok(None)
                    }
                }
            })?;
            match next {
                Some(again) => retrain = again,
                None => return Ok(()),
            }
        }
    }

    fn abandon_retrain(&self, collection: Collection) {
        if let Some(index) = lock_state(&self.state).collections.get_mut(&collection) {
            index.abandon_retrain();
        }
    }

    /// The count of background retrains (a panic elsewhere never leaves it unusable).
    fn running(&self) -> std::sync::MutexGuard<'_, usize> {
        self.retrains.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn retrain_done(&self) {
        *self.running() -= 1;
        self.retrained.notify_all();
    }

    /// Blocks until no background retrain runs.
    fn wait_for_retrains(&self) {
        let running = self.running();
        drop(self.retrained.wait_while(running, |n| *n > 0));
    }

    /// Runs `f` holding only a read guard when this copy is already current, so searches run
    /// in parallel; otherwise catches up first, as [`run`](Self::run) does. The currency
    /// check needs no directory lock: a manifest is replaced by an atomic rename and the
    /// journal only grows, so a check that races a writer sees the old state (searched as it
    /// was a moment before) or a change (and takes the locked path).
    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T>) -> Result<T> {
        if let Ok(state) = self.state.read()
            && state.is_current(&self.dir)?
        {
            return f(&state);
        }
        self.run(LockMode::Shared, |_, state| f(state))
    }

    fn run<T>(&self, mode: LockMode, f: impl FnOnce(&Inner, &mut State) -> Result<T>) -> Result<T> {
        let mut state = lock_state(&self.state);
        let _guard = self.lock.acquire(mode)?;
        state.catch_up(&self.dir, &self.planner)?;
        if mode == LockMode::Exclusive && state.journal.is_none() {
            // A new directory, one written before journals, or one whose files were removed:
            // writers need a journal, so the first one writes a manifest naming one.
            state.checkpoint(&self.dir)?;
        }
        f(self, &mut state)
    }
}

/// Runs `retrain` on a thread of its own, holding the collection's retrain `lock`, counted
/// in `inner.retrains` until it ends; false when no thread could be started.
fn spawn_retrain(inner: &Arc<Inner>, retrain: Retrain, lock: File) -> bool {
    *inner.running() += 1;
    let collection = retrain.collection;
    let spawned = std::thread::Builder::new().name(format!("aimdb-retrain-{collection}")).spawn({
        let inner = Arc::clone(inner);
        move || {
            let mut running = Running { inner, collection, ended: false };
            match running.inner.retrain(retrain, lock) {
                Ok(()) => running.ended = true,
                Err(e) => {
                    log::warn!("{collection}: background retrain failed ({e}); the next write tries again")
                }
            }
        }
    });
    if let Err(e) = spawned {
        log::warn!("{collection}: no thread for a background retrain ({e}); the next write tries again");
        inner.retrain_done();
        return false;
    }
    true
}

/// A background retrain's thread: however it ends, even by a panic, it is counted out, and
/// unless it ended normally the collection is unmarked so a later write starts another.
struct Running {
    inner: Arc<Inner>,
    collection: Collection,
    ended: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.ended {
            self.inner.abandon_retrain(self.collection);
        }
        self.inner.retrain_done();
    }
}

fn lock_state(state: &RwLock<State>) -> RwLockWriteGuard<'_, State> {
    state.write().unwrap_or_else(|poisoned| {
        // A panic mid-operation may have left memory half-changed: reload from the files, once.
        let mut guard = poisoned.into_inner();
        guard.stale = true;
        state.clear_poison();
        guard
    })
}

fn io_error(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::backend(format!("faiss index files: {what}: {e}"), e)
}

impl State {
    /// Whether this copy already holds what the files hold.
    fn is_current(&self, dir: &Path) -> Result<bool> {
        if self.stale || persist::manifest_id(dir).map_err(io_error("read manifest"))? != self.manifest {
            return Ok(false);
        }
        match &self.journal {
            Some(journal) => Ok(!journal.has_new().map_err(io_error("read journal"))?),
            None => Ok(true),
        }
    }

    /// Brings this copy up to date with the files: reloads when another process wrote a
    /// checkpoint (or a write here failed), then applies the journal entries not seen yet.
    fn catch_up(&mut self, dir: &Path, planner: &Planner) -> Result<()> {
        let id = persist::manifest_id(dir).map_err(io_error("read manifest"))?;
        if self.stale || id != self.manifest {
            *self = State::load(dir)?;
            self.manifest = id;
        }
        let Some(journal) = self.journal.as_mut() else { return Ok(()) };
        let entries = journal.read_new().map_err(io_error("read journal"))?;
        for entry in entries {
            if let Err(e) = self.apply(planner, &entry.change, Cow::Owned(entry.vectors)) {
                // Applied once by its writer, so this is not expected; skipping keeps the index
                // usable, and the database's self-repair restores what the store holds.
                log::error!("faiss journal: skipping an entry that does not apply here: {e}");
            }
        }
        Ok(())
    }

    /// The last checkpoint on disk, with its journal not yet applied.
    fn load(dir: &Path) -> Result<State> {
        let Some(manifest) = persist::read_manifest(dir).map_err(io_error("read manifest"))? else {
            return Ok(State { next_file: 1, ..State::default() });
        };
        let mut collections = BTreeMap::new();
        for (collection, files) in &manifest.collections {
            collections.insert(*collection, CollectionIndex::load(*collection, dir, files, manifest.metric)?);
        }
        let journal = match &manifest.journal {
            Some(name) => Some(Journal::open(dir, name).map_err(io_error("open journal"))?),
            None => None,
        };
        Ok(State {
            embedder: manifest.embedder,
            metric: manifest.metric,
            next_file: manifest.next_file,
            collections,
            manifest: None,
            journal,
            stale: false,
        })
    }

    /// Applies one change to memory (`vectors`: an upsert's, handed over when owned); returns
    /// whether a collection was trained on the way.
    fn apply(&mut self, planner: &Planner, change: &Change, vectors: Cow<'_, [f32]>) -> Result<bool> {
        match change {
            Change::Upsert { collection, embedder, metric, ids, metadata } => {
                match &self.embedder {
                    Some(stored) => {
                        check_embedder(stored, embedder)?;
                        check_metric(self.metric, *metric)?;
                    }
                    None => {
                        self.embedder = Some(embedder.clone());
                        self.metric = *metric;
                    }
                }
                if !self.collections.contains_key(collection) {
                    let created = CollectionIndex::create(*collection, embedder.dim, self.metric)?;
                    self.collections.insert(*collection, created);
                }
                let index = self.collections.get_mut(collection).expect("inserted above");
                index.upsert(planner, ids, vectors, metadata.clone())
            }
            Change::Remove { collection, ids } => {
                if let Some(index) = self.collections.get_mut(collection) {
                    index.remove(ids)?;
                }
                Ok(false)
            }
            Change::Reset => {
                self.collections.clear();
                self.embedder = None;
                Ok(false)
            }
            Change::Nprobe { collection, nprobe } => {
                if let Some(index) = self.collections.get_mut(collection) {
                    index.tune_nprobe(*nprobe)?;
                }
                Ok(false)
            }
        }
    }

    /// Applies `entry` here and makes it durable; the caller holds the exclusive lock. A
    /// checkpoint takes it when the journal would grow long with it, or when a collection was
    /// trained (so other processes load the trained index instead of training it again);
    /// otherwise it is appended to the journal.
    fn write(&mut self, inner: &Inner, entry: Entry) -> Result<()> {
        // Applying first checks the change (a wrong embedder, say): neither the journal nor a
        // checkpoint ever holds a change that does not apply.
        if self.checkpoint_due(entry.vector_bytes()) {
            // Decided before applying, so the vectors are handed to the index, not copied;
            // and not appended to the journal, which would write them twice (1M x 384: the
            // append took 8.5 s of a 21 s flat build on the bench VM, the copy 1.5 GB).
            self.apply(&inner.planner, &entry.change, Cow::Owned(entry.vectors))
                .inspect_err(|_| self.stale = true)?;
            return self.checkpoint(&inner.dir);
        }
        let trained = self
            .apply(&inner.planner, &entry.change, Cow::Borrowed(&entry.vectors))
            .inspect_err(|_| self.stale = true)?;
        if trained {
            return self.checkpoint(&inner.dir);
        }
        let journal = self.journal.as_mut().expect("exclusive runs start a journal");
        journal.append(&entry).map_err(io_error("append journal")).inspect_err(|_| self.stale = true)
    }

    /// Starts a background retrain of each collection that has outgrown its training, unless
    /// another process (or handle) holds that collection's retrain lock: it is retraining.
    fn start_retrains(&mut self, dir: &Path, planner: &Planner) -> Vec<(Retrain, File)> {
        let mut started = Vec::new();
        for (collection, index) in &mut self.collections {
            if !index.retrain_due(planner) {
                continue;
            }
            let lock = match lock::try_retrain_lock(dir, collection.as_str()) {
                Ok(Some(lock)) => lock,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!("{collection}: cannot take the retrain lock: {e}");
                    continue;
                }
            };
            match index.start_retrain(planner) {
                Ok(retrain) => started.push((retrain, lock)),
                Err(e) => log::warn!("{collection}: cannot start a background retrain: {e}"),
            }
        }
        started
    }

    /// Whether a change adding `adding` bytes of vectors should go into a checkpoint rather
    /// than the journal: the journal would outgrow its bound (half the exact vectors with
    /// these, at least `JOURNAL_MIN_CHECKPOINT`), or the change does not fit in one entry.
    fn checkpoint_due(&self, adding: u64) -> bool {
        let exact: u64 = self.collections.values().map(|c| c.len() as u64 * (8 + 4 * c.dim() as u64)).sum();
        let journal = self.journal.as_ref().map_or(0, Journal::len);
        adding > journal::MAX_ENTRY_VECTOR_BYTES
            || journal + adding > JOURNAL_MIN_CHECKPOINT.max((exact + adding) / 2)
    }

    /// Writes every changed collection's files and a manifest naming them and a new, empty
    /// journal; the old journal and files no longer named are deleted. Exclusive lock held.
    fn checkpoint(&mut self, dir: &Path) -> Result<()> {
        let result = self.write_checkpoint(dir);
        if result.is_err() {
            self.stale = true;
        }
        result
    }

    fn write_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let generation = self.take_file_number();
        let mut collections = BTreeMap::new();
        let names: Vec<Collection> = self.collections.keys().copied().collect();
        for collection in names {
            let fresh = dir.join(format!("{collection}.{}.vec", self.take_file_number()));
            let index = self.collections.get_mut(&collection).expect("listed above");
            let files = match (&index.saved, index.dirty) {
                (Some(files), false) => files.clone(),
                _ => index.save(dir, generation, &fresh)?,
            };
            collections.insert(collection, files);
        }
        let journal_name = format!("{}{}.log", journal::PREFIX, self.take_file_number());
        let journal = Journal::create(dir, &journal_name).map_err(io_error("create journal"))?;
        let manifest = Manifest {
            format: FORMAT,
            embedder: self.embedder.clone(),
            metric: self.metric,
            next_file: self.next_file,
            collections,
            journal: Some(journal_name),
        };
        persist::write_manifest(dir, &manifest).map_err(io_error("write manifest"))?;
        self.journal = Some(journal);
        self.manifest = persist::manifest_id(dir).map_err(io_error("read manifest"))?;
        Ok(())
    }

    fn take_file_number(&mut self) -> u64 {
        let n = self.next_file;
        self.next_file += 1;
        n
    }
}

#[async_trait]
impl VectorIndex for FaissIndex {
    async fn embedder(&self) -> Result<Option<EmbedderIdentity>> {
        self.with_read(|state| Ok(state.embedder.clone())).await
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
        let metric = self.inner.metric;
        let records = prepare(embedder, metric, records)?;
        let mut ids = Vec::with_capacity(records.len());
        let mut vectors = Vec::with_capacity(records.len() * embedder.dim);
        let mut metadata = Vec::with_capacity(records.len());
        for record in records {
            ids.push(record.id);
            vectors.extend_from_slice(&record.vector);
            metadata.push(record.metadata);
        }
        let change = Change::Upsert { collection, embedder: embedder.clone(), metric, ids, metadata };
        let shared = Arc::clone(&self.inner);
        self.with_state(LockMode::Exclusive, move |inner, state| {
            state.write(inner, Entry { change, vectors })?;
            // Started here, not after the await: a caller that stops waiting (a dropped
            // request) must not leave a retrain marked as running that never runs.
            for (retrain, lock) in state.start_retrains(&inner.dir, &inner.planner) {
                let collection = retrain.collection;
                if !spawn_retrain(&shared, retrain, lock)
                    && let Some(index) = state.collections.get_mut(&collection)
                {
                    index.abandon_retrain();
                }
            }
            Ok(())
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
        let query = query_vector(self.inner.metric, query);
        Ok(self.search_batch(collection, embedder, query, k, filter).await?.pop().unwrap_or_default())
    }

    async fn search_many(
        &self,
        collection: Collection,
        embedder: &EmbedderIdentity,
        queries: &[Vec<f32>],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let mut batch = Vec::with_capacity(queries.len() * embedder.dim);
        for (i, query) in queries.iter().enumerate() {
            check_vector(|| format!("queries[{i}]"), query, embedder.dim)?;
            batch.extend(query_vector(self.inner.metric, query));
        }
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        self.search_batch(collection, embedder, batch, k, filter).await
    }

    async fn remove(&self, collection: Collection, ids: &[i64]) -> Result<()> {
        let ids = ids.to_vec();
        self.with_state(LockMode::Exclusive, move |inner, state| {
            state.write(inner, Entry::plain(Change::Remove { collection, ids }))
        })
        .await
    }

    async fn reset(&self) -> Result<()> {
        self.with_state(LockMode::Exclusive, |inner, state| state.write(inner, Entry::plain(Change::Reset)))
            .await
    }

    async fn info(&self) -> Result<Vec<CollectionInfo>> {
        self.with_state(LockMode::Shared, |inner, state| {
            Ok(Collection::ALL
                .iter()
                .map(|c| match state.collections.get(c) {
                    Some(index) => index.info(&inner.planner),
                    None => {
                        let layout = inner.planner.target(0, 1).map(|l| l.kind()).unwrap_or("flat");
                        let mut info = CollectionInfo::exact(*c, layout, 0);
                        info.trained = layout == "flat";
                        info.metric = match state.embedder {
                            Some(_) => state.metric,
                            None => inner.metric,
                        };
                        info
                    }
                })
                .collect())
        })
        .await
    }

    async fn ids(&self, collection: Collection) -> Result<Vec<i64>> {
        self.with_read(move |state| {
            Ok(state.collections.get(&collection).map(CollectionIndex::ids).unwrap_or_default())
        })
        .await
    }

    /// Waits for background retrains, then folds the journal into the index files.
    async fn flush(&self) -> Result<()> {
        // Outside the state's lock: a retrain's swap takes it.
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.wait_for_retrains())
            .await
            .map_err(|e| Error::backend("faiss task", e))?;
        self.with_state(LockMode::Exclusive, |inner, state| match &state.journal {
            Some(journal) if journal.len() > 0 => state.checkpoint(&inner.dir),
            _ => Ok(()),
        })
        .await
    }

    async fn optimize(&self, collection: Collection) -> Result<CollectionInfo> {
        self.with_state(LockMode::Exclusive, move |inner, state| {
            let Some(index) = state.collections.get_mut(&collection) else {
                return Ok(CollectionInfo::exact(collection, "flat", 0));
            };
            let optimized =
                index.optimize(&inner.planner).map(|changed| (changed, index.info(&inner.planner)));
            let (changed, info) = optimized.inspect_err(|_| state.stale = true)?;
            if changed {
                // Other processes load the rebuilt index rather than rebuild it themselves.
                state.checkpoint(&inner.dir)?;
            }
            Ok(info)
        })
        .await
    }
}
