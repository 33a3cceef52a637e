//! FAISS searches from several threads at once, and one query's scan (an exact matrix, or
//! the lists an inverted file probes) split across the threads of FAISS's own OpenMP team.
//!
//! The `faiss` crate's `Index::search` takes `&mut self`, so a shared index could only be
//! searched by one thread at a time. FAISS's own `Index::search` is a `const` method, safe to
//! call concurrently on a CPU index as long as nothing modifies it meanwhile (FAISS's
//! threading notes); the crate offers `&self` search only on concrete index types, not on the
//! `IndexImpl` that `index_factory` returns. This is the same call on `IndexImpl`.
#![allow(unsafe_code)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ffi::{c_uint, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use aimdb_core::{Error, Result};
use faiss::index::{IndexImpl, SearchResult};
use faiss::{Idx, Index};

/// Rows scored per kernel call in a split scan: 4096 scores (16 KiB) stay in L1/L2.
const SCAN_BLOCK: usize = 4096;

/// Searches `index` for the `k` nearest of one `query` through a shared reference. The caller
/// guarantees no thread modifies `index` meanwhile: it holds a read guard of the lock that
/// every modification takes for writing.
pub fn search(index: &IndexImpl, query: &[f32], k: usize) -> Result<SearchResult> {
    // SAFETY: `inner_ptr` is the live FAISS index `index` owns for as long as the borrow.
    unsafe { search_raw(index.inner_ptr(), index.d() as usize, query, k) }
}

/// [`search`] on a raw FAISS index of `dim` dimensions.
///
/// # Safety
/// `index` points to a live FAISS index that nothing modifies until this returns.
unsafe fn search_raw(
    index: *mut faiss_sys::FaissIndex,
    dim: usize,
    query: &[f32],
    k: usize,
) -> Result<SearchResult> {
    let nq = query.len() / dim.max(1);
    let mut distances = vec![0f32; k * nq];
    let mut labels = vec![Idx::none(); k * nq];
    // SAFETY: `index` is live and unmodified (the caller's promise); the query holds `nq * d`
    // floats and the outputs `k * nq` entries, as `faiss_Index_search` reads and writes;
    // `Idx` is `#[repr(transparent)]` over `idx_t`; a const search does not modify the index.
    let code = unsafe {
        faiss_sys::faiss_Index_search(
            index,
            nq as faiss_sys::idx_t,
            query.as_ptr(),
            k as faiss_sys::idx_t,
            distances.as_mut_ptr(),
            labels.as_mut_ptr().cast(),
        )
    };
    if code != 0 {
        // SAFETY: right after the failed call, on its thread.
        return Err(unsafe { last_error("faiss search", code) });
    }
    Ok(SearchResult { distances, labels })
}

/// The error of a FAISS call on this thread that returned `code` (non-zero).
///
/// # Safety
/// Called right after that call, on its thread: FAISS sets its thread-local last error
/// before returning a non-zero code, and the message is copied out before any other call.
unsafe fn last_error(what: &str, code: i32) -> Error {
    // SAFETY: the caller's promise above.
    let message = unsafe {
        let last = faiss_sys::faiss_get_last_error();
        if last.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(last).to_string_lossy().into_owned()
        }
    };
    Error::backend(format!("{what} (code {code})"), message)
}

/// The entity ids in each inverted list of an IVF (or IVF-PQ) index, list by list; `None`
/// for any other index. The caller holds the read guard, as for [`search`].
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
pub fn ivf_lists(index: &IndexImpl) -> Option<Vec<Vec<i64>>> {
    // SAFETY: `inner_ptr` is the live index `index` owns; the cast returns null unless it is
    // an `IndexIVF`; each list is read into a buffer of the size FAISS reports for it, and no
    // modification runs meanwhile (the read guard).
    unsafe {
        let ivf = faiss_sys::faiss_IndexIVF_cast(index.inner_ptr());
        if ivf.is_null() {
            return None;
        }
        let lists = (0..faiss_sys::faiss_IndexIVF_nlist(ivf))
            .map(|list| {
                let mut ids = vec![0 as faiss_sys::idx_t; faiss_sys::faiss_IndexIVF_get_list_size(ivf, list)];
                if !ids.is_empty() {
                    faiss_sys::faiss_IndexIVF_invlists_get_ids(ivf, list, ids.as_mut_ptr());
                }
                ids
            })
            .collect();
        Some(lists)
    }
}

/// The list an IVF index puts each of `vectors` in (its quantizer's nearest centroid, as
/// `IndexIVF::add` assigns); `None` for an index that is not an inverted file.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
pub fn ivf_assign(index: &IndexImpl, vectors: &[f32]) -> Result<Option<Vec<i32>>> {
    // One call for the whole batch, as `IndexIVF::add_with_ids` makes: the quantizer's
    // arithmetic (BLAS or not) depends on how many vectors it is asked about at once.
    Ok(nearest_lists(index, vectors, Some(1))?
        .map(|(_, nearest, _)| nearest.labels.iter().map(|l| l.get().map_or(-1, |l| l as i32)).collect()))
}

/// Which lists an IVF index probes for each of `queries`: its own quantizer asked for the
/// `nprobe` nearest centroids, as `IndexIVF::search` asks it. `nq x nlist` flags (1 =
/// probed); `None` for an index that is not an inverted file.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
pub fn ivf_probes(index: &IndexImpl, queries: &[f32]) -> Result<Option<Vec<u8>>> {
    let Some((nlist, probes, nprobe)) = nearest_lists(index, queries, None)? else { return Ok(None) };
    let mut flags = vec![0u8; probes.labels.len() / nprobe * nlist];
    for (q, labels) in probes.labels.chunks_exact(nprobe).enumerate() {
        for list in labels.iter().filter_map(|l| l.get()).filter(|&l| (l as usize) < nlist) {
            flags[q * nlist + list as usize] = 1;
        }
    }
    Ok(Some(flags))
}

/// An IVF index's lists nearest each of `vectors` by its own quantizer: `k` of them, or its
/// `nprobe` when `None`; with the number of lists and the `k` used. `None` for an index that
/// is not an inverted file. The caller holds the read guard, as for [`search`].
fn nearest_lists(
    index: &IndexImpl,
    vectors: &[f32],
    k: Option<usize>,
) -> Result<Option<(usize, SearchResult, usize)>> {
    // SAFETY: as in `ivf_lists`; the quantizer is owned by the IVF index and lives as long.
    unsafe {
        let ivf = faiss_sys::faiss_IndexIVF_cast(index.inner_ptr());
        if ivf.is_null() {
            return Ok(None);
        }
        let nlist = faiss_sys::faiss_IndexIVF_nlist(ivf);
        let k = k.unwrap_or_else(|| faiss_sys::faiss_IndexIVF_nprobe(ivf)).clamp(1, nlist.max(1));
        let nearest = search_raw(faiss_sys::faiss_IndexIVF_quantizer(ivf), index.d() as usize, vectors, k)?;
        Ok(Some((nlist, nearest, k)))
    }
}

/// Searches an inverted-file index (IVF or IVF-PQ) for one `query` with the lists it probes
/// shared out between `threads` threads, as FAISS's `parallel_mode = 1` does (which its C API
/// cannot set): one query's lists are otherwise scanned on one thread. The quantizer picks
/// the `nprobe` lists as `IndexIVF::search` does; part `t` of `threads` scans the `t`-th,
/// `t + threads`-th, ... nearest of them (`search_preassigned` skips a list numbered -1), so
/// each part gets near and far lists alike, and the answers are merged.
/// `None` for an index that is not an inverted file. The caller holds the read guard, as
/// for [`search`].
pub fn ivf_split_search(
    index: &IndexImpl,
    query: &[f32],
    k: usize,
    threads: usize,
) -> Result<Option<SearchResult>> {
    let Some((_, probes, nprobe)) = nearest_lists(index, query, None)? else { return Ok(None) };
    let lists: Vec<faiss_sys::idx_t> =
        probes.labels.iter().map(|l| l.get().map_or(-1, |l| l as i64)).collect();
    // SAFETY: `inner_ptr` is the live index `index` owns, an `IndexIVF` (`nearest_lists`
    // found it so); it is not modified while the borrow lasts (the read guard).
    let ivf = Shared(unsafe { faiss_sys::faiss_IndexIVF_cast(index.inner_ptr()) });
    let parts = threads.clamp(1, nprobe);
    let parts = fork(parts, |part| {
        let mine: Vec<faiss_sys::idx_t> =
            lists.iter().enumerate().map(|(i, &list)| if i % parts == part { list } else { -1 }).collect();
        let mut distances = vec![0f32; k];
        let mut labels = vec![-1 as faiss_sys::idx_t; k];
        // SAFETY: `ivf` is live and unmodified (above); `mine` and the centroid distances hold
        // `nprobe` entries: the index's own `nprobe` capped at `nlist`, as many as
        // `search_preassigned` reads (it caps the same way);
        // the query holds `d` floats and the outputs `k` entries; the search is const.
        let code = unsafe {
            faiss_sys::faiss_IndexIVF_search_preassigned(
                ivf.get(),
                1,
                query.as_ptr(),
                k as faiss_sys::idx_t,
                mine.as_ptr(),
                probes.distances.as_ptr(),
                distances.as_mut_ptr(),
                labels.as_mut_ptr(),
                0,
            )
        };
        if code != 0 {
            // SAFETY: right after the failed call, on its thread.
            return Err(unsafe { last_error("faiss search_preassigned", code) });
        }
        Ok(distances.into_iter().zip(labels).collect::<Vec<_>>())
    });
    let mut scored = Vec::with_capacity(k * parts.len());
    // SAFETY: as above; reading the metric does not modify the index.
    let l2 = unsafe { faiss_sys::faiss_Index_metric_type(index.inner_ptr()) }
        == faiss_sys::FaissMetricType_METRIC_L2;
    for part in parts {
        for (distance, label) in part? {
            if label >= 0 {
                scored.push(Scored { key: if l2 { -distance } else { distance }, row: label as usize });
            }
        }
    }
    Ok(Some(best_of(scored, k, l2, |label| label as faiss_sys::idx_t)))
}

/// The FAISS index of an [`ivf_split_search`], shared with the threads that scan its lists.
struct Shared(*mut faiss_sys::FaissIndexIVF);

impl Shared {
    fn get(&self) -> *mut faiss_sys::FaissIndexIVF {
        self.0
    }
}

// SAFETY: the threads only search the index (const), while the caller's read guard keeps
// every modification out.
unsafe impl Sync for Shared {}

/// `f(0)`, ..., `f(parts - 1)` at once on FAISS's own OpenMP team: the calling thread and
/// workers that spin a while between parallel sections (libgomp's `GOMP_SPINCOUNT`), so a
/// search right after another (or after a batch) finds them awake. A thread of its own per
/// part cost 30-50 us to start on the 2-core VM, a third of an IVF query at 20k vectors, and
/// competed with those spinning workers for the cores. Parts are handed out from a cursor, so
/// a team of fewer threads (nested in a parallel section, `OMP_NUM_THREADS=1`) runs them all.
fn fork<R: Send, F: Fn(usize) -> R + Sync>(parts: usize, f: F) -> Vec<R> {
    if parts <= 1 {
        return (0..parts).map(&f).collect();
    }
    let job = Job {
        f: &f,
        next: AtomicUsize::new(0),
        done: (0..parts).map(|_| Mutex::new(None)).collect::<Vec<Mutex<Option<std::thread::Result<R>>>>>(),
    };
    // SAFETY: `run::<R, F>` reads `data` as the `Job<R, F>` it is given, which outlives the
    // call (GOMP_parallel returns when every thread of the team has left `run`); `run` does
    // not unwind (panics are caught and carried out in `done`).
    unsafe {
        GOMP_parallel(run::<R, F>, (&raw const job).cast_mut().cast(), parts as c_uint, 0);
    }
    job.done
        .into_iter()
        .map(|slot| match slot.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => unreachable!("GOMP_parallel returned before every part ran"),
        })
        .collect()
}

/// One [`fork`]: the work, the next part to hand out and each part's outcome.
struct Job<'a, R, F> {
    f: &'a F,
    next: AtomicUsize,
    done: Vec<Mutex<Option<std::thread::Result<R>>>>,
}

/// Each OpenMP thread's share of a [`fork`]: parts from the cursor until none is left.
///
/// # Safety
/// `data` points to a live `Job<R, F>` shared with the team's other threads.
unsafe extern "C" fn run<R: Send, F: Fn(usize) -> R + Sync>(data: *mut c_void) {
    // SAFETY: the caller's promise; `Job` is only read here (`done` behind its locks).
    let job = unsafe { &*data.cast::<Job<'_, R, F>>() };
    loop {
        let part = job.next.fetch_add(1, AtomicOrdering::Relaxed);
        let Some(slot) = job.done.get(part) else { break };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.f)(part)));
        *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
    }
}

// libgomp's entry point for `#pragma omp parallel` (GCC's OpenMP ABI, which LLVM's libomp
// also exports); faiss-sys links libgomp into every static FAISS build.
unsafe extern "C" {
    fn GOMP_parallel(f: unsafe extern "C" fn(*mut c_void), data: *mut c_void, threads: c_uint, flags: c_uint);
}

/// FAISS's answer of `k` from the best of `scored` (best first; L2 keys are negated
/// distances, and rows become labels through `label`), padded with -1 labels as FAISS pads.
fn best_of(
    scored: impl IntoIterator<Item = Scored>,
    k: usize,
    l2: bool,
    label: impl Fn(usize) -> faiss_sys::idx_t,
) -> SearchResult {
    let mut best: Vec<Scored> = scored.into_iter().collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    best.truncate(k);
    let mut result = SearchResult { distances: vec![0.0; k], labels: vec![Idx::none(); k] };
    for (i, s) in best.iter().enumerate() {
        result.distances[i] = if l2 { -s.key } else { s.key };
        result.labels[i] = Idx::new(label(s.row) as u64);
    }
    result
}

/// The exact matrix of an `IDMap2,Flat` index and its row labels, borrowed from FAISS.
pub struct FlatView<'a> {
    rows: &'a [f32],
    labels: &'a [faiss_sys::idx_t],
    dim: usize,
}

impl<'a> FlatView<'a> {
    /// The matrix of `index` when it is an `IDMap2` over an `IndexFlat` (the exact layout),
    /// `None` for any other index. The view borrows `index`: the caller holds the read guard
    /// that every modification takes for writing, so the memory stays put while it lives.
    pub fn of(index: &'a IndexImpl) -> Option<Self> {
        let dim = index.d() as usize;
        let ntotal = usize::try_from(index.ntotal()).ok()?;
        // SAFETY: `inner_ptr` is the live index `index` owns; the casts return null unless
        // the object is of that type; `xb` and `id_map` point into vectors the index owns,
        // valid and unmodified while `index` is borrowed shared (see above); their sizes are
        // checked against `ntotal * dim` and `ntotal` before the slices are made.
        unsafe {
            let idmap = faiss_sys::faiss_IndexIDMap2_cast(index.inner_ptr());
            if idmap.is_null() {
                return None;
            }
            let flat = faiss_sys::faiss_IndexFlat_cast(faiss_sys::faiss_IndexIDMap2_sub_index(idmap));
            if flat.is_null() {
                return None;
            }
            let (mut xb, mut xb_len) = (std::ptr::null_mut(), 0usize);
            faiss_sys::faiss_IndexFlat_xb(flat, &mut xb, &mut xb_len);
            let (mut ids, mut ids_len) = (std::ptr::null_mut(), 0usize);
            faiss_sys::faiss_IndexIDMap2_id_map(idmap, &mut ids, &mut ids_len);
            if ntotal == 0 || xb.is_null() || ids.is_null() || xb_len != ntotal * dim || ids_len != ntotal {
                return None;
            }
            Some(FlatView {
                rows: std::slice::from_raw_parts(xb, xb_len),
                labels: std::slice::from_raw_parts(ids, ids_len),
                dim,
            })
        }
    }

    /// The `k` best rows for `query` (largest inner product, or smallest squared L2
    /// distance when `l2`), the matrix split into `threads` ranges scanned at once: one
    /// thread alone does not reach the memory bandwidth. Best first, as FAISS answers.
    pub fn search(&self, query: &[f32], k: usize, l2: bool, threads: usize) -> SearchResult {
        let n = self.labels.len();
        let per_thread = n.div_ceil(threads.max(1)).max(1);
        let parts = fork(n.div_ceil(per_thread), |part| {
            let start = part * per_thread;
            self.scan(query, start..(start + per_thread).min(n), k, l2)
        });
        best_of(parts.into_iter().flatten(), k, l2, |row| self.labels[row])
    }

    /// The `k` best of `rows` (a range of row numbers), scored with FAISS's own kernels.
    fn scan(&self, query: &[f32], rows: std::ops::Range<usize>, k: usize, l2: bool) -> Vec<Scored> {
        let mut heap: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
        let mut scores = vec![0.0f32; SCAN_BLOCK];
        let mut start = rows.start;
        while start < rows.end {
            let count = SCAN_BLOCK.min(rows.end - start);
            let block = &self.rows[start * self.dim..(start + count) * self.dim];
            // SAFETY: `scores` holds `count` floats, `block` `count * dim` (rows of `dim`) and
            // `query` `dim`, as the kernels read and write; nothing else aliases `scores`.
            unsafe {
                let kernel =
                    if l2 { faiss_sys::faiss_fvec_L2sqr_ny } else { faiss_sys::faiss_fvec_inner_products_ny };
                kernel(scores.as_mut_ptr(), query.as_ptr(), block.as_ptr(), self.dim, count);
            }
            for (i, &score) in scores[..count].iter().enumerate() {
                // Larger is better for both: L2 distances are negated.
                let key = if l2 { -score } else { score };
                if heap.len() < k {
                    heap.push(std::cmp::Reverse(Scored { key, row: start + i }));
                } else if heap.peek().is_some_and(|worst| key > worst.0.key) {
                    heap.pop();
                    heap.push(std::cmp::Reverse(Scored { key, row: start + i }));
                }
            }
            start += count;
        }
        heap.into_iter().map(|r| r.0).collect()
    }
}

/// A row and its score (larger is better); rows order ties so the result is deterministic.
#[derive(Clone, Copy, Debug)]
struct Scored {
    key: f32,
    row: usize,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.total_cmp(&other.key).then(other.row.cmp(&self.row))
    }
}
