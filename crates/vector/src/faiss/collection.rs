//! One collection's FAISS index, its exact vectors and its records' filter fields.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aimdb_core::{Collection, CollectionInfo, DistanceMetric, Error, Result, VectorFilter, VectorHit};
use faiss::index::IndexImpl;
use faiss::index::autotune::ParameterSpace;
use faiss::selector::IdSelector;
use faiss::{Idx, Index, MetricType, index_factory};
use serde::{Deserialize, Serialize};

use super::concurrent::FlatView;
use super::layout::{Layout, Planner};
use super::persist::{self, CollectionFiles};
use super::vectors::VectorFile;
use crate::common::raw;
#[cfg(feature = "gpu")]
use crate::gpu::{self, Mirror};

/// Compressed scores are re-ranked on exact vectors; this many candidates per result, and at
/// least `REFINE_MIN`. At 1M x 384 (PQ48, nprobe 64) 64 candidates gave recall@10 0.73, 256
/// gave 0.94; one exact vector costs a 1.5 KB read from the page cache, about 2 us.
const REFINE_FACTOR: usize = 16;
const REFINE_MIN: usize = 256;
/// Filtered searches first ask FAISS for this many candidates per result, then scan exactly.
const FILTER_OVERFETCH: usize = 8;
/// An exact collection holding at least this many floats (16 MiB: 10,900 vectors of 384)
/// scans a single query (or a batch too small for BLAS) on several threads: one thread does
/// not reach the memory bandwidth (1M x 384 on the 2-core bench VM: 124 ms on one core, 73 on
/// two); below this the threads' start costs more than they save.
const SPLIT_SCAN_FLOATS: usize = 1 << 22;
/// Vectors added to FAISS per call while rebuilding, to bound the temporary copy.
const ADD_CHUNK: usize = 65_536;
/// A slot offset with this bit set is a row of `pending` (not yet in the vectors file).
const PENDING: u64 = 1 << 63;
/// A trained index is trained again once the collection has grown this many times past what
/// it was trained on: data often arrives sorted (by name, by time), and lists trained on the
/// first part alone serve the rest badly (recall@10 0.897 instead of 0.924 on 20k real
/// embeddings inserted by name). Retraining at each doubling costs at most one training's
/// worth of work per vector added, amortised; it runs in the background ([`Retrain`]).
const RETRAIN_GROWTH: usize = 2;

/// The GPUs searches run on (`device: cuda`); a type with no values without the `gpu` feature.
#[cfg(feature = "gpu")]
pub(crate) type Gpus = crate::gpu::Gpus;
/// The GPUs searches run on (`device: cuda`); a type with no values without the `gpu` feature.
#[cfg(not(feature = "gpu"))]
#[derive(Debug)]
pub(crate) enum Gpus {}

pub(crate) fn faiss_error(what: impl Into<String>) -> impl FnOnce(faiss::error::Error) -> Error {
    let what = what.into();
    move |e| Error::backend(format!("faiss: {what}: {e}"), e)
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |e| Error::backend(format!("faiss index files: {what}: {e}"), e)
}

/// Where a record's exact vector is and what filters see of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Slot {
    offset: u64,
    metadata: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(crate) struct CollectionIndex {
    collection: Collection,
    dim: usize,
    metric: DistanceMetric,
    layout: Layout,
    nprobe: Option<u32>,
    /// Vectors the index was trained on (0 while flat).
    trained_on: usize,
    index: IndexImpl,
    /// The exact vectors of the last checkpoint; `None` before the first one.
    vectors: Option<VectorFile>,
    /// Exact vectors written since the last checkpoint (rows of `dim`): only a checkpoint,
    /// under the directory's exclusive lock, appends to the shared vectors file.
    pending: Vec<f32>,
    slots: HashMap<i64, Slot>,
    /// Files of the last saved generation; `None` until saved.
    pub(crate) saved: Option<CollectionFiles>,
    pub(crate) dirty: bool,
    /// While a background [`Retrain`] of this copy runs: the ids written since it took its
    /// snapshot, which it applies again at the swap. `None` otherwise (and in a reloaded copy,
    /// which makes a running retrain give up).
    changed_since_snapshot: Option<Vec<i64>>,
    /// The vectors on the GPUs: copied at the first GPU search, then changed in place by
    /// writes while it has room (`Mirror`), dropped by a rebuild.
    #[cfg(feature = "gpu")]
    mirror: std::sync::Mutex<Option<std::sync::Arc<Mirror>>>,
}

/// A retrain of one collection off the locks: [`CollectionIndex::start_retrain`] takes the
/// snapshot (a training sample and the ids) under the state's write lock in a moment,
/// [`train`](Self::train) and [`fill`](Self::fill) build the new index while searches and
/// writes go on, and [`CollectionIndex::finish_retrain`] swaps it in under the write lock,
/// after applying what was written meanwhile.
pub(crate) struct Retrain {
    pub collection: Collection,
    layout: Layout,
    nprobe: Option<u32>,
    /// The layout and training size of the copy it started from: a copy rebuilt meanwhile
    /// (by `optimize`) is not swapped.
    from: (Layout, usize),
    ids: Vec<i64>,
    sample: Vec<f32>,
    index: IndexImpl,
}

impl CollectionIndex {
    /// An empty, exact collection.
    pub fn create(collection: Collection, dim: usize, metric: DistanceMetric) -> Result<Self> {
        Ok(CollectionIndex {
            collection,
            dim,
            metric,
            layout: Layout::Flat,
            nprobe: None,
            trained_on: 0,
            index: new_index(dim, Layout::Flat, metric)?,
            vectors: None,
            pending: Vec::new(),
            slots: HashMap::new(),
            saved: None,
            dirty: true,
            changed_since_snapshot: None,
            #[cfg(feature = "gpu")]
            mirror: Default::default(),
        })
    }

    /// Vector length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Adds or replaces records. `vectors` holds `ids.len() * dim` floats, unit-length for
    /// cosine (kept as they are when owned and nothing is pending).
    /// Returns whether the collection was trained (rebuilt) on the way.
    pub fn upsert(
        &mut self,
        planner: &Planner,
        ids: &[i64],
        vectors: Cow<'_, [f32]>,
        metadata: Vec<BTreeMap<String, String>>,
    ) -> Result<bool> {
        self.dirty = true;
        if let Some(changed) = &mut self.changed_since_snapshot {
            changed.extend_from_slice(ids);
        }
        let existing: Vec<i64> = ids.iter().copied().filter(|id| self.slots.contains_key(id)).collect();
        self.remove(&existing)?;
        let first_row = (self.pending.len() / self.dim) as u64;
        match vectors {
            // A bulk write's vectors become the pending rows, uncopied.
            Cow::Owned(vectors) if self.pending.is_empty() => self.pending = vectors,
            vectors => self.pending.extend_from_slice(&vectors),
        }
        for (row, (id, metadata)) in ids.iter().zip(metadata).enumerate() {
            self.slots.insert(*id, Slot { offset: PENDING | (first_row + row as u64), metadata });
        }
        // Exact search until there is enough data to train on, then train, automatically
        // (a small training: at most `min_train` vectors). Training again as the collection
        // outgrows it happens in the background (`retrain_due`).
        if self.layout == Layout::Flat {
            let target = planner.target(self.len(), self.dim)?;
            if target != Layout::Flat && self.len() >= target.min_train() {
                // The rebuild reads every vector from `pending` and the vectors file: adding
                // these to the exact index first would copy them once more (1.5 GB at 1M x 384).
                let nprobe = planner.nprobe(target);
                self.rebuild(target, nprobe)?;
                return Ok(true);
            }
        }
        let labels: Vec<Idx> = ids.iter().map(|&id| Idx::new(id as u64)).collect();
        let added = std::mem::take(&mut self.pending);
        let vectors = &added[first_row as usize * self.dim..];
        let result = self.index.add_with_ids(vectors, &labels).map_err(faiss_error("add"));
        if result.is_ok() {
            self.mirror_append(ids, vectors);
        }
        self.pending = added;
        result.map(|()| false)
    }

    /// Whether a trained index has grown [`RETRAIN_GROWTH`] times past its training.
    fn outgrown(&self) -> bool {
        self.layout != Layout::Flat && self.len() >= RETRAIN_GROWTH * self.trained_on.max(1)
    }

    /// Whether this copy should start a background retrain: outgrown, none running, and
    /// enough vectors for the layout the size calls for.
    pub fn retrain_due(&self, planner: &Planner) -> bool {
        self.outgrown()
            && self.changed_since_snapshot.is_none()
            && planner
                .target(self.len(), self.dim)
                .is_ok_and(|t| t != Layout::Flat && self.len() >= t.min_train())
    }

    /// Takes a retrain's snapshot and starts recording the ids written from now on.
    pub fn start_retrain(&mut self, planner: &Planner) -> Result<Retrain> {
        let layout = planner.target(self.len(), self.dim)?;
        // A retrain keeps the lists probed when their number stays (`set_nprobe`'s dial).
        let nprobe = if layout.nlist() == self.layout.nlist() { self.nprobe } else { planner.nprobe(layout) };
        let ids = self.ids();
        let sample = self.read_exact(&training_sample(&ids, layout))?;
        let index = new_index(self.dim, layout, self.metric)?;
        self.changed_since_snapshot = Some(Vec::new());
        Ok(Retrain {
            collection: self.collection,
            layout,
            nprobe,
            from: (self.layout, self.trained_on),
            ids,
            sample,
            index,
        })
    }

    /// Gives up on the running retrain (it failed): a later write starts another.
    pub fn abandon_retrain(&mut self) {
        self.changed_since_snapshot = None;
    }

    /// The exact vectors of those of `ids` still held, with their ids.
    pub fn read_present(&self, ids: &[i64]) -> Result<(Vec<i64>, Vec<f32>)> {
        let present: Vec<i64> = ids.iter().copied().filter(|id| self.slots.contains_key(id)).collect();
        let data = self.read_exact(&present)?;
        Ok((present, data))
    }

    /// Whether `retrain` may still be swapped into this copy: it started here (not in a copy
    /// since reloaded) and nothing rebuilt the index meanwhile.
    pub fn accepts(&self, retrain: &Retrain) -> bool {
        self.changed_since_snapshot.is_some() && retrain.from == (self.layout, self.trained_on)
    }

    /// Applies the writes made since the snapshot to `retrain`'s index and swaps it in.
    /// The caller checked [`accepts`](Self::accepts) and holds the state's write lock.
    pub fn finish_retrain(&mut self, mut retrain: Retrain) -> Result<()> {
        let mut changed = self.changed_since_snapshot.take().unwrap_or_default();
        changed.sort_unstable();
        changed.dedup();
        let labels: Vec<Idx> = changed.iter().map(|&id| Idx::new(id as u64)).collect();
        if !labels.is_empty() {
            let selector = IdSelector::batch(&labels).map_err(faiss_error("id selector"))?;
            retrain.index.remove_ids(&selector).map_err(faiss_error("remove while retraining"))?;
        }
        let (present, data) = self.read_present(&changed)?;
        add(&mut retrain.index, &present, &data)?;
        if retrain.index.ntotal() != self.slots.len() as u64 {
            return Err(Error::backend(
                format!(
                    "{}: retrained index holds {} vectors, the collection {}",
                    self.collection,
                    retrain.index.ntotal(),
                    self.slots.len()
                ),
                "retrain",
            ));
        }
        log::info!(
            "{}: retrained as {} over {} vectors ({} written meanwhile)",
            self.collection,
            retrain.layout.factory(),
            retrain.ids.len(),
            changed.len()
        );
        // Lists probed as dialled meanwhile (`set_nprobe`) when their number stays.
        let nprobe = if retrain.layout.nlist() == self.layout.nlist() { self.nprobe } else { retrain.nprobe };
        self.index = retrain.index;
        self.drop_mirror();
        self.layout = retrain.layout;
        self.trained_on = retrain.ids.len();
        self.set_nprobe(nprobe)?;
        self.dirty = true;
        Ok(())
    }

    /// Removes records; ids not present are ignored.
    pub fn remove(&mut self, ids: &[i64]) -> Result<()> {
        let present: Vec<Idx> =
            ids.iter().filter(|id| self.slots.contains_key(id)).map(|&id| Idx::new(id as u64)).collect();
        if present.is_empty() {
            return Ok(());
        }
        self.dirty = true;
        self.mirror_remove(ids);
        if let Some(changed) = &mut self.changed_since_snapshot {
            changed.extend_from_slice(ids);
        }
        let selector = IdSelector::batch(&present).map_err(faiss_error("id selector"))?;
        self.index.remove_ids(&selector).map_err(faiss_error("remove"))?;
        for id in ids {
            self.slots.remove(id);
        }
        Ok(())
    }

    /// Rebuilds into the layout that suits the current size; returns whether anything changed.
    pub fn optimize(&mut self, planner: &Planner) -> Result<bool> {
        let target = planner.target(self.len(), self.dim)?;
        let target = if self.len() >= target.min_train() { target } else { Layout::Flat };
        let nprobe = planner.nprobe(target);
        let outgrown = target == self.layout && self.outgrown();
        if target == self.layout && nprobe == self.nprobe && !outgrown {
            return Ok(false);
        }
        if target == self.layout && !outgrown {
            self.set_nprobe(nprobe)?;
        } else {
            self.rebuild(target, nprobe)?;
        }
        self.dirty = true;
        Ok(true)
    }

    /// Trains a new index of `layout` on the exact vectors and moves every record into it.
    fn rebuild(&mut self, layout: Layout, nprobe: Option<u32>) -> Result<()> {
        let ids = self.ids();
        let mut index = new_index(self.dim, layout, self.metric)?;
        if !index.is_trained() {
            let data = self.read_exact(&training_sample(&ids, layout))?;
            index.train(&data).map_err(faiss_error(format!("train {}", layout.factory())))?;
        }
        for chunk in ids.chunks(ADD_CHUNK) {
            let data = self.read_exact(chunk)?;
            add(&mut index, chunk, &data)?;
        }
        log::info!("{}: rebuilt as {} over {} vectors", self.collection, layout.factory(), ids.len());
        // A background retrain of the index replaced here would be out of date.
        self.changed_since_snapshot = None;
        self.index = index;
        self.drop_mirror();
        self.layout = layout;
        self.trained_on = if layout == Layout::Flat { 0 } else { ids.len() };
        self.set_nprobe(nprobe)?;
        self.dirty = true;
        Ok(())
    }

    /// Sets the lists probed per query of a trained IVF index, without rebuilding it.
    pub fn tune_nprobe(&mut self, nprobe: u32) -> Result<()> {
        let Some(nlist) = self.layout.nlist() else {
            return Err(Error::invalid(
                "nprobe",
                format!("{} searches exactly; nothing to probe", self.collection),
            ));
        };
        if nprobe == 0 {
            return Err(Error::invalid("nprobe", "must be at least 1"));
        }
        self.set_nprobe(Some(nprobe.min(nlist)))?;
        self.dirty = true;
        Ok(())
    }

    fn set_nprobe(&mut self, nprobe: Option<u32>) -> Result<()> {
        if let Some(nprobe) = nprobe {
            let space = ParameterSpace::new().map_err(faiss_error("parameter space"))?;
            space.set_index_parameter(&self.index, "nprobe", nprobe).map_err(faiss_error("set nprobe"))?;
        }
        self.nprobe = nprobe;
        Ok(())
    }

    /// Copies `id`'s exact vector into `out` (length `dim`), from `pending` or the file.
    fn read_row(&self, id: i64, out: &mut [f32], scratch: &mut Vec<u8>) -> Result<()> {
        let slot = self.slots.get(&id).ok_or_else(|| Error::backend(format!("no slot for {id}"), "ids"))?;
        if slot.offset & PENDING != 0 {
            let row = (slot.offset & !PENDING) as usize;
            out.copy_from_slice(&self.pending[row * self.dim..(row + 1) * self.dim]);
            return Ok(());
        }
        let file =
            self.vectors.as_ref().ok_or_else(|| Error::backend(format!("{id}: no vectors file"), "ids"))?;
        file.read_into(id, slot.offset, out, scratch).map_err(io_error("read vector"))
    }

    /// The exact vectors of `ids`, concatenated.
    fn read_exact(&self, ids: &[i64]) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; ids.len() * self.dim];
        let mut scratch = Vec::new();
        for (id, row) in ids.iter().zip(out.chunks_exact_mut(self.dim)) {
            self.read_row(*id, row, &mut scratch)?;
        }
        Ok(out)
    }

    /// The metric's exact raw value between `query` and each id's vector.
    fn exact_raw(&self, query: &[f32], ids: &[i64]) -> Result<Vec<(i64, f32)>> {
        let mut row = vec![0.0f32; self.dim];
        let mut scratch = Vec::new();
        ids.iter()
            .map(|&id| {
                self.read_row(id, &mut row, &mut scratch)?;
                Ok((id, raw(self.metric, query, &row)))
            })
            .collect()
    }

    /// The ids held, ascending.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.slots.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// About how many stored floats one unfiltered search reads: all of them for an exact
    /// index, the probed share of the lists (plus the centroids) for an inverted file.
    pub fn search_cost(&self) -> usize {
        let all = self.len().saturating_mul(self.dim);
        match (self.layout.nlist(), self.nprobe) {
            (Some(nlist), Some(nprobe)) => {
                let nlist = nlist.max(1) as usize;
                all / nlist * (nprobe as usize).min(nlist) + nlist * self.dim
            }
            _ => all,
        }
    }

    /// The `k` most similar records passing `filter` for each query of `queries` (concatenated,
    /// `dim` floats each, unit-length for cosine), in one FAISS call: one pass over the lists
    /// or the matrix for the whole batch, which FAISS's threads split by query.
    pub fn search_many(
        &self,
        queries: &[f32],
        k: usize,
        filter: &VectorFilter,
        gpus: Option<&Gpus>,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let n = self.len();
        let nq = queries.len() / self.dim.max(1);
        if n == 0 || k == 0 {
            return Ok(vec![Vec::new(); nq]);
        }
        let k = k.min(n);
        let filtered = !filter.equals.is_empty();
        let overfetch = if filtered { FILTER_OVERFETCH } else { 1 };
        #[cfg(feature = "gpu")]
        if let Some(gpus) = gpus
            && let want = (k * overfetch).min(n)
            && want <= gpu::MAX_K
        {
            let found = self.search_gpu(gpus, queries, want)?;
            return queries
                .chunks_exact(self.dim)
                .zip(found)
                .map(|(query, candidates)| self.hits(query, k, want, filter, candidates, true))
                .collect();
        }
        #[cfg(not(feature = "gpu"))]
        let _ = gpus;
        let want = if self.layout.lossy() { (k * REFINE_FACTOR).max(REFINE_MIN) } else { k };
        let want = (want * overfetch).min(n);
        let result = self.scan(queries, nq, want)?;
        queries
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(q, query)| {
                let found = (q * want)..((q + 1) * want);
                let candidates = result.labels[found.clone()]
                    .iter()
                    .zip(&result.distances[found])
                    .filter_map(|(label, &raw)| Some((label.get()? as i64, raw)))
                    .collect();
                self.hits(query, k, want, filter, candidates, !self.layout.lossy())
            })
            .collect()
    }

    /// The GPUs' `want` best candidates for each query, exactly scored: over every vector
    /// of an exact collection, over the lists FAISS's quantizer probes of an IVF one.
    #[cfg(feature = "gpu")]
    fn search_gpu(&self, gpus: &Gpus, queries: &[f32], want: usize) -> Result<Vec<Vec<(i64, f32)>>> {
        let mirror = self.mirror(gpus)?;
        let probed = super::concurrent::ivf_probes(&self.index, queries)?;
        gpus.search(&mirror, queries, want, probed.as_deref())
    }

    /// This collection's vectors on the GPUs, copied there first if there is no copy yet.
    #[cfg(feature = "gpu")]
    fn mirror(&self, gpus: &Gpus) -> Result<std::sync::Arc<Mirror>> {
        let mut mirror = self.mirror.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mirror) = mirror.as_ref() {
            return Ok(mirror.clone());
        }
        let started = std::time::Instant::now();
        // IVF rows go list by list, with each row's list, so the probed lists can be told.
        let (ids, lists) = match super::concurrent::ivf_lists(&self.index) {
            Some(by_list) => {
                let nlist = by_list.len();
                let mut ids = Vec::with_capacity(self.len());
                let mut lists = Vec::with_capacity(self.len());
                for (list, members) in by_list.into_iter().enumerate() {
                    lists.extend(std::iter::repeat_n(list as i32, members.len()));
                    ids.extend(members);
                }
                (ids, Some((lists, nlist)))
            }
            None => (self.ids(), None),
        };
        let vectors = self.read_exact(&ids)?;
        let uploaded = std::sync::Arc::new(gpus.upload(self.dim, self.metric, ids, &vectors, lists)?);
        log::info!(
            "{}: {} vectors copied to {} in {:.0?}",
            self.collection,
            self.len(),
            gpus.device(),
            started.elapsed()
        );
        *mirror = Some(uploaded.clone());
        Ok(uploaded)
    }

    /// Adds rows just added to FAISS to the GPUs' copy, or drops the copy when it has no room
    /// (or the device fails): the next GPU search copies afresh.
    fn mirror_append(&mut self, ids: &[i64], vectors: &[f32]) {
        #[cfg(feature = "gpu")]
        {
            // No copy, nothing to keep current (and no quantizer search to pay for).
            if self.mirror.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).is_none() {
                return;
            }
            let by_lists = self.layout.nlist().is_some();
            let lists = match by_lists.then(|| super::concurrent::ivf_assign(&self.index, vectors)) {
                Some(Ok(lists)) => lists,
                Some(Err(_)) => return self.drop_mirror(),
                None => None,
            };
            self.update_mirror(|mirror| mirror.append(ids, vectors, lists.as_deref()));
        }
        #[cfg(not(feature = "gpu"))]
        let _ = (ids, vectors);
    }

    /// Masks removed rows in the GPUs' copy (dropping it once too many are masked).
    fn mirror_remove(&mut self, ids: &[i64]) {
        #[cfg(feature = "gpu")]
        self.update_mirror(|mirror| mirror.remove(ids));
        #[cfg(not(feature = "gpu"))]
        let _ = ids;
    }

    /// Changes the GPUs' copy in place with `change`, or drops it when `change` says it no
    /// longer fits or fails. Writes hold the state's write lock, so no search shares it.
    #[cfg(feature = "gpu")]
    fn update_mirror(&mut self, change: impl FnOnce(&mut Mirror) -> Result<bool>) {
        let slot = self.mirror.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = match slot.as_mut().map(std::sync::Arc::get_mut) {
            None => return,
            Some(Some(mirror)) => change(mirror).unwrap_or_else(|e| {
                log::warn!("{}: updating the GPU copy failed ({e}); copying it afresh", self.collection);
                false
            }),
            Some(None) => false,
        };
        if !kept {
            *slot = None;
        }
    }

    /// Forgets the GPUs' copy after a change (the next GPU search copies again).
    fn drop_mirror(&mut self) {
        #[cfg(feature = "gpu")]
        {
            *self.mirror.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
    }

    /// FAISS's `want` best candidates for each query. Through a shared reference: searches of
    /// one collection run in parallel. A large exact collection is scanned by all the cores
    /// at once, for batches too small for FAISS to hand to BLAS: FAISS would scan the whole
    /// matrix once per query, one query per thread.
    fn scan(&self, queries: &[f32], nq: usize, want: usize) -> Result<faiss::index::SearchResult> {
        if nq < super::blas::blas_min_batch()
            && self.layout == Layout::Flat
            && self.len().saturating_mul(self.dim) >= SPLIT_SCAN_FLOATS
        {
            let threads = scan_threads();
            if threads > 1
                && let Some(view) = FlatView::of(&self.index)
            {
                return Ok(view.search(queries, want, self.metric == DistanceMetric::L2, threads));
            }
        }
        super::concurrent::search(&self.index, queries, want)
    }

    /// One query's answer from `candidates` (`want` of them, id and raw metric; `exact` when
    /// those are exact values, not compressed-code estimates).
    fn hits(
        &self,
        query: &[f32],
        k: usize,
        want: usize,
        filter: &VectorFilter,
        candidates: Vec<(i64, f32)>,
        exact: bool,
    ) -> Result<Vec<VectorHit>> {
        let filtered = !filter.equals.is_empty();
        let mut hits: Vec<(i64, f32)> = candidates
            .into_iter()
            .filter(|(id, _)| self.slots.get(id).is_some_and(|slot| filter.matches(&slot.metadata)))
            .collect();
        if filtered && hits.len() < k && want < self.len() {
            // Too few candidates passed: the matches lie outside the probed neighbourhood,
            // so score every matching record exactly instead of returning fewer than asked.
            let matching: Vec<i64> = self
                .slots
                .iter()
                .filter(|(_, slot)| filter.matches(&slot.metadata))
                .map(|(&id, _)| id)
                .collect();
            hits = self.exact_raw(query, &matching)?;
        } else if !exact {
            let ids: Vec<i64> = hits.iter().map(|&(id, _)| id).collect();
            hits = self.exact_raw(query, &ids)?;
        }
        let mut hits: Vec<VectorHit> = hits
            .into_iter()
            .map(|(id, raw)| VectorHit { id, similarity_score: self.metric.score(raw) })
            .collect();
        hits.sort_by(|a, b| b.similarity_score.total_cmp(&a.similarity_score).then(a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }

    /// Facts for statistics. A collection waiting for enough vectors to train reports the
    /// type it will become, untrained (it searches exactly meanwhile).
    pub fn info(&self, planner: &Planner) -> CollectionInfo {
        let pending = match self.layout {
            Layout::Flat => planner.target(self.len(), self.dim).ok().filter(|t| *t != Layout::Flat),
            _ => None,
        };
        let kind = pending.map_or(self.layout.kind(), |t| t.kind());
        let mut info = CollectionInfo::exact(self.collection, kind, self.len() as u64);
        info.trained = pending.is_none();
        info.metric = self.metric;
        info.nlist = self.layout.nlist();
        info.nprobe = self.nprobe;
        if let Layout::IvfPq { m, nbits, .. } = self.layout {
            info.m = Some(m);
            info.nbits = Some(nbits);
        }
        info
    }

    /// Writes this collection's generation `generation` files; `fresh_vectors` names a new
    /// vectors file used for the first checkpoint and when compaction is due. The caller
    /// holds the directory lock exclusively.
    pub fn save(&mut self, dir: &Path, generation: u64, fresh_vectors: &Path) -> Result<CollectionFiles> {
        if self.vectors.as_ref().is_some_and(|file| !self.sparse(file)) {
            self.append_pending()?;
        } else {
            self.rewrite_vectors(fresh_vectors)?;
        }
        let vectors = self.vectors.as_ref().expect("written above");
        vectors.sync().map_err(io_error("sync vectors"))?;
        let (vectors_file, vectors_len) = (file_name(vectors.path()), vectors.len());
        let index_file = format!("{}.{generation}.faiss", self.collection);
        let tmp = dir.join(format!("{index_file}.tmp"));
        let tmp_str = tmp.to_str().ok_or_else(|| Error::config(format!("{} is not UTF-8", tmp.display())))?;
        faiss::write_index(&self.index, tmp_str).map_err(faiss_error("write index"))?;
        persist::commit(&tmp, &dir.join(&index_file)).map_err(io_error("commit index"))?;
        let records_file = format!("{}.{generation}.records.json", self.collection);
        let records: Vec<(i64, &Slot)> = self.slots.iter().map(|(&id, slot)| (id, slot)).collect();
        let json = serde_json::to_vec(&records).map_err(|e| Error::backend("encode records", e))?;
        persist::write_atomic(&dir.join(&records_file), &json).map_err(io_error("write records"))?;
        let files = CollectionFiles {
            layout: self.layout,
            nprobe: self.nprobe,
            trained_on: Some(self.trained_on),
            dim: self.dim,
            index_file,
            records_file,
            vectors_file,
            vectors_len,
        };
        self.saved = Some(files.clone());
        self.dirty = false;
        Ok(files)
    }

    /// Whether replaced and removed records are most of the vectors file.
    fn sparse(&self, file: &VectorFile) -> bool {
        let live = self.slots.len() as u64 * file.record_len();
        file.len() > 2 * live + (1 << 20)
    }

    /// Moves the pending vectors to the end of the vectors file.
    fn append_pending(&mut self) -> Result<()> {
        let mut rows: Vec<(u64, i64)> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.offset & PENDING != 0)
            .map(|(&id, slot)| (slot.offset & !PENDING, id))
            .collect();
        rows.sort_unstable();
        let ids: Vec<i64> = rows.iter().map(|&(_, id)| id).collect();
        for chunk in ids.chunks(ADD_CHUNK) {
            let data = self.read_exact(chunk)?;
            let file = self.vectors.as_mut().expect("appending to an open file");
            let offsets = file.append(chunk, &data).map_err(io_error("append vectors"))?;
            for (id, offset) in chunk.iter().zip(offsets) {
                self.slots.get_mut(id).expect("listed above").offset = offset;
            }
        }
        self.pending = Vec::new();
        Ok(())
    }

    /// Writes every live vector to a new file at `fresh` (the first checkpoint, or compaction).
    fn rewrite_vectors(&mut self, fresh: &Path) -> Result<()> {
        let ids = self.ids();
        let mut out = VectorFile::create(fresh, self.dim).map_err(io_error("create vectors file"))?;
        for chunk in ids.chunks(ADD_CHUNK) {
            let data = self.read_exact(chunk)?;
            let offsets = out.append(chunk, &data).map_err(io_error("write vectors"))?;
            for (id, offset) in chunk.iter().zip(offsets) {
                self.slots.get_mut(id).expect("listed above").offset = offset;
            }
        }
        self.pending = Vec::new();
        self.vectors = Some(out);
        Ok(())
    }

    /// Opens a saved generation built for `metric`.
    pub fn load(
        collection: Collection,
        dir: &Path,
        files: &CollectionFiles,
        metric: DistanceMetric,
    ) -> Result<Self> {
        let index_path = dir.join(&files.index_file);
        let index_str = index_path
            .to_str()
            .ok_or_else(|| Error::config(format!("{} is not UTF-8", index_path.display())))?;
        let index = faiss::read_index(index_str).map_err(faiss_error(format!("read {index_str}")))?;
        let json = std::fs::read(dir.join(&files.records_file)).map_err(io_error("read records"))?;
        let records: Vec<(i64, Slot)> =
            serde_json::from_slice(&json).map_err(|e| Error::backend("decode records", e))?;
        let vectors = VectorFile::open(&dir.join(&files.vectors_file), files.dim, files.vectors_len)
            .map_err(io_error("open vectors file"))?;
        let mut loaded = CollectionIndex {
            collection,
            dim: files.dim,
            metric,
            layout: files.layout,
            nprobe: None,
            // Files from before this was recorded: counted as trained on what they hold.
            trained_on: files.trained_on.unwrap_or(records.len()),
            index,
            vectors: Some(vectors),
            pending: Vec::new(),
            slots: records.into_iter().collect(),
            saved: Some(files.clone()),
            dirty: false,
            changed_since_snapshot: None,
            #[cfg(feature = "gpu")]
            mirror: Default::default(),
        };
        if loaded.index.ntotal() != loaded.slots.len() as u64 {
            return Err(Error::backend(
                format!(
                    "{collection}: index holds {} vectors but its records list {}; run `reindex`",
                    loaded.index.ntotal(),
                    loaded.slots.len()
                ),
                "inconsistent files",
            ));
        }
        loaded.set_nprobe(files.nprobe)?;
        Ok(loaded)
    }
}

impl Retrain {
    /// Trains the new index on the snapshot's sample (the long part: k-means).
    pub fn train(&mut self) -> Result<()> {
        if !self.index.is_trained() {
            let sample = std::mem::take(&mut self.sample);
            self.index.train(&sample).map_err(faiss_error(format!("train {}", self.layout.factory())))?;
        }
        Ok(())
    }

    /// The snapshot's ids, in chunks of [`ADD_CHUNK`].
    pub fn chunks(&self) -> Vec<Vec<i64>> {
        self.ids.chunks(ADD_CHUNK).map(<[i64]>::to_vec).collect()
    }

    /// Adds records read from the collection to the new index.
    pub fn fill(&mut self, ids: &[i64], vectors: &[f32]) -> Result<()> {
        add(&mut self.index, ids, vectors)
    }
}

/// An evenly spaced sample of `ids` of the size training `layout` reads: faiss samples at
/// most 256 points per centroid itself, so a sample of that size saves reading the rest.
fn training_sample(ids: &[i64], layout: Layout) -> Vec<i64> {
    let centroids = layout.nlist().unwrap_or(1) as usize;
    let codebook = match layout {
        Layout::IvfPq { nbits, .. } => 1usize << nbits,
        _ => 1,
    };
    let cap = 256 * centroids.max(codebook);
    let step = ids.len().div_ceil(cap).max(1);
    ids.iter().copied().step_by(step).collect()
}

/// Threads one query's exact scan is split across: the cores, at most 8 (memory bandwidth,
/// not arithmetic, limits a scan).
fn scan_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}

fn add(index: &mut IndexImpl, ids: &[i64], vectors: &[f32]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let labels: Vec<Idx> = ids.iter().map(|&id| Idx::new(id as u64)).collect();
    index.add_with_ids(vectors, &labels).map_err(faiss_error("add"))
}

fn new_index(dim: usize, layout: Layout, metric: DistanceMetric) -> Result<IndexImpl> {
    // Cosine is the inner product of unit-length vectors.
    let metric = match metric {
        DistanceMetric::Cosine | DistanceMetric::Ip => MetricType::InnerProduct,
        DistanceMetric::L2 => MetricType::L2,
    };
    index_factory(dim as u32, layout.factory(), metric)
        .map_err(faiss_error(format!("create {}", layout.factory())))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_core::config::{FaissConfig, IndexType};

    /// A bulk write's vectors become the pending rows as they are: a copy would be 1.5 GB more
    /// at the peak of a 1M x 384 build. Later writes are appended after them.
    #[test]
    fn owned_vectors_are_kept_not_copied() {
        let config = FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new("unused") };
        let planner = Planner::new(&config).unwrap();
        let mut index = CollectionIndex::create(Collection::Models, 4, DistanceMetric::Ip).unwrap();
        let vectors: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let at = vectors.as_ptr();
        index.upsert(&planner, &[1, 2, 3], Cow::Owned(vectors), vec![BTreeMap::new(); 3]).unwrap();
        assert_eq!(index.pending.as_ptr(), at, "the caller's buffer, not a copy");
        index.upsert(&planner, &[4], Cow::Borrowed(&[1.0, 1.0, 1.0, 20.0]), vec![BTreeMap::new()]).unwrap();
        assert_eq!(index.pending.len(), 16);
        let hits = index.search_many(&[0.0, 0.0, 0.0, 1.0], 4, &VectorFilter::default(), None).unwrap();
        let ids: Vec<i64> = hits[0].iter().map(|h| h.id).collect();
        assert_eq!(ids, [4, 3, 2, 1], "every row is in the index, in order of inner product");
    }
}
