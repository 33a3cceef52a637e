//! FAISS searches from several threads at once, and one query's exact scan split across
//! threads.
//!
//! The `faiss` crate's `Index::search` takes `&mut self`, so a shared index could only be
//! searched by one thread at a time. FAISS's own `Index::search` is a `const` method, safe to
//! call concurrently on a CPU index as long as nothing modifies it meanwhile (FAISS's
//! threading notes); the crate offers `&self` search only on concrete index types, not on the
//! `IndexImpl` that `index_factory` returns. This is the same call on `IndexImpl`.
#![allow(unsafe_code)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use aimdb_core::{Error, Result};
use faiss::index::{IndexImpl, SearchResult};
use faiss::{Idx, Index};

/// Rows scored per kernel call in a split scan of one query: 4096 scores (16 KiB) stay in
/// L1/L2.
const SCAN_BLOCK: usize = 4096;
/// Bytes of rows a split scan of several queries scores with each query before moving on:
/// they stay in L2 (1–2 MiB per core on current x86 servers) while every query reads them.
const SHARED_BLOCK_BYTES: usize = 256 << 10;

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
        // SAFETY: FAISS sets its thread-local last error before returning a non-zero code;
        // the message is copied out before any other FAISS call on this thread.
        let message = unsafe {
            let last = faiss_sys::faiss_get_last_error();
            if last.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(last).to_string_lossy().into_owned()
            }
        };
        return Err(Error::backend(format!("faiss search (code {code})"), message));
    }
    Ok(SearchResult { distances, labels })
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

    /// The `k` best rows for each of `queries` (`dim` floats each; largest inner product, or
    /// smallest squared L2 distance when `l2`), the matrix split into `threads` ranges scanned
    /// at once: one thread alone does not reach the memory bandwidth. Each range is read once
    /// for all the queries. Best first, `k` per query in order, as FAISS answers.
    pub fn search(&self, queries: &[f32], k: usize, l2: bool, threads: usize) -> SearchResult {
        let n = self.labels.len();
        let nq = queries.len() / self.dim.max(1);
        let per_thread = n.div_ceil(threads.max(1)).max(1);
        let parts: Vec<Vec<Vec<Scored>>> = std::thread::scope(|scope| {
            let mut ranges = (0..n).step_by(per_thread).map(|start| start..(start + per_thread).min(n));
            let mine = ranges.next().unwrap_or(0..0);
            let others: Vec<_> =
                ranges.map(|range| scope.spawn(move || self.scan(queries, range, k, l2))).collect();
            let mut parts = vec![self.scan(queries, mine, k, l2)];
            parts.extend(others.into_iter().map(|t| t.join().expect("scan thread")));
            parts
        });
        let mut result = SearchResult { distances: vec![0.0; k * nq], labels: vec![Idx::none(); k * nq] };
        for q in 0..nq {
            let mut best: Vec<Scored> = parts.iter().flat_map(|part| part[q].iter().copied()).collect();
            best.sort_unstable_by(|a, b| b.cmp(a));
            best.truncate(k);
            for (i, s) in best.iter().enumerate() {
                result.distances[q * k + i] = if l2 { -s.key } else { s.key };
                result.labels[q * k + i] = Idx::new(self.labels[s.row] as u64);
            }
        }
        result
    }

    /// The `k` best of `rows` (a range of row numbers) for each query, scored with FAISS's
    /// own kernels. With several queries the rows go by in blocks small enough to stay in
    /// the core's L2 cache while each query scores them: memory is read once for all.
    fn scan(&self, queries: &[f32], rows: std::ops::Range<usize>, k: usize, l2: bool) -> Vec<Vec<Scored>> {
        let nq = queries.len() / self.dim.max(1);
        let block_rows = if nq == 1 {
            SCAN_BLOCK
        } else {
            (SHARED_BLOCK_BYTES / (4 * self.dim.max(1))).clamp(16, SCAN_BLOCK)
        };
        let mut heaps: Vec<BinaryHeap<std::cmp::Reverse<Scored>>> =
            (0..nq).map(|_| BinaryHeap::with_capacity(k + 1)).collect();
        let mut scores = vec![0.0f32; block_rows];
        let mut start = rows.start;
        while start < rows.end {
            let count = block_rows.min(rows.end - start);
            let block = &self.rows[start * self.dim..(start + count) * self.dim];
            for (query, heap) in queries.chunks_exact(self.dim).zip(&mut heaps) {
                // SAFETY: `scores` holds `count` floats, `block` `count * dim` (rows of `dim`)
                // and `query` `dim`, as the kernels read and write; nothing else aliases
                // `scores`.
                unsafe {
                    let kernel = if l2 {
                        faiss_sys::faiss_fvec_L2sqr_ny
                    } else {
                        faiss_sys::faiss_fvec_inner_products_ny
                    };
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
            }
            start += count;
        }
        heaps.into_iter().map(|heap| heap.into_iter().map(|r| r.0).collect()).collect()
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
