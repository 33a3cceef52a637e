//! Search on CUDA GPUs over the exact vectors the FAISS index keeps (the `gpu` feature).
//!
//! Why not FAISS's own GPU build: it compiles FAISS's CUDA sources (tens of minutes, a CUDA
//! toolkit on every build machine, CUDA 13 untested) and copies the index type by type. This
//! path is one cuBLAS product of the queries with a collection's vectors and an exact top-k on
//! the device, through `cudarc` (the CUDA layer Candle's embeddings use): nothing CUDA is
//! needed to build it (the libraries are loaded at run time, the kernels compiled by NVRTC
//! when a device opens), and its answers are exact, so they equal the CPU index's:
//!
//! - flat collections: the same `k` nearest as FAISS's exact search;
//! - IVF collections: FAISS's own quantizer picks the probed lists (same `nprobe`), and only
//!   vectors in those lists are candidates, scored exactly: the CPU IVF's answer. IVF-PQ
//!   collections are scored on the exact vectors in the probed lists (the CPU re-ranks its
//!   compressed candidates on them), so their recall is at least the CPU's.
//!
//! Every listed device holds one shard of each collection's vectors (an even split, then
//! appends go where there is most room); each shard answers its `k` best and the host merges
//! them (FAISS's `index_cpu_to_all_gpus` with `shard = true`).
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aimdb_core::config::VectorDevice;
use aimdb_core::{DistanceMetric, Error, Result};
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, CudaView, LaunchConfig, PushKernelArg,
};

const KERNELS: &str = include_str!("kernels.cu");
/// Candidates one block of the top-k kernel sorts (its `CHUNK`).
const CHUNK: usize = 1024;
/// The most results one query can ask of the GPU: each top-k pass must at least halve the
/// candidates. Larger searches run on the CPU index.
pub const MAX_K: usize = CHUNK / 2;
/// Scores one shard holds at once (floats, 512 MiB): batches of queries are split so that
/// `queries x rows` stays under it.
const SCORE_BUDGET: usize = 1 << 27;
/// Threads per block of the top-k kernel (two candidates each).
const TOPK_THREADS: u32 = (CHUNK / 2) as u32;

/// Per query, (entity id, selection score) of its best rows.
type Candidates = Vec<Vec<(i64, f32)>>;

fn cuda_error(what: &'static str) -> impl FnOnce(cudarc::driver::DriverError) -> Error {
    move |e| Error::backend(format!("cuda: {what}: {e}"), e)
}

/// The GPUs a FAISS directory searches on, one shard each.
pub struct Gpus {
    device: VectorDevice,
    shards: Vec<Shard>,
}

impl std::fmt::Debug for Gpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpus").field("device", &self.device.to_string()).finish_non_exhaustive()
    }
}

/// One shard's device: its stream, cuBLAS handle and kernels. One search at a time uses it.
struct Shard {
    ordinal: usize,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    adjust: CudaFunction,
    topk: CudaFunction,
    /// Stand-ins for the kernels' unused pointer arguments.
    none_f32: CudaSlice<f32>,
    none_i32: CudaSlice<i32>,
    none_u8: CudaSlice<u8>,
    busy: Mutex<()>,
}

/// One collection's vectors on the shards, one part each. Writes change it in place (rows
/// appended into spare room, removed rows masked) until it would need more room or holds
/// too many removed rows; then it is dropped and copied afresh at the next search.
pub struct Mirror {
    parts: Vec<Part>,
    /// Where each live entity's row is: (part, row).
    rows: HashMap<i64, (usize, usize)>,
    dim: usize,
    l2: bool,
    /// IVF lists (0 for an exact collection).
    nlist: usize,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("rows", &self.rows.len()).field("parts", &self.parts.len()).finish()
    }
}

struct Part {
    shard: usize,
    stream: Arc<CudaStream>,
    /// Entity id of each row in use; a removed row keeps its id and is masked by `alive`.
    ids: Vec<i64>,
    /// Rows the device buffers have room for.
    capacity: usize,
    vectors: CudaSlice<f32>,
    /// Half of each row's squared norm (L2 only).
    half_norms: Option<CudaSlice<f32>>,
    /// Each row's IVF list (IVF only).
    lists: Option<CudaSlice<i32>>,
    /// 1 for each live row, 0 for a removed one; copied to the device once a row is removed.
    alive: Vec<u8>,
    alive_on_device: Option<CudaSlice<u8>>,
    removed: usize,
}

impl Part {
    fn free(&self) -> usize {
        self.capacity - self.ids.len()
    }

    /// Copies `rows` (of `dim`) and their norms and lists into the room after the rows in use.
    fn append(&mut self, ids: &[i64], rows: &[f32], dim: usize, lists: Option<&[i32]>) -> Result<()> {
        let (start, end) = (self.ids.len(), self.ids.len() + ids.len());
        let stream = self.stream.clone();
        stream
            .memcpy_htod(rows, &mut self.vectors.slice_mut(start * dim..end * dim))
            .map_err(cuda_error("copy vectors"))?;
        if let Some(norms) = &mut self.half_norms {
            stream
                .memcpy_htod(&half_norms(rows, dim), &mut norms.slice_mut(start..end))
                .map_err(cuda_error("copy norms"))?;
        }
        if let (Some(on_device), Some(lists)) = (&mut self.lists, lists) {
            stream
                .memcpy_htod(lists, &mut on_device.slice_mut(start..end))
                .map_err(cuda_error("copy lists"))?;
        }
        self.ids.extend_from_slice(ids);
        self.alive.resize(end, 1);
        if let Some(alive) = &mut self.alive_on_device {
            stream
                .memcpy_htod(&self.alive[start..end], &mut alive.slice_mut(start..end))
                .map_err(cuda_error("copy flags"))?;
        }
        Ok(())
    }

    /// Copies the live-row flags to the device after rows were removed.
    fn sync_alive(&mut self) -> Result<()> {
        let alive = match &mut self.alive_on_device {
            Some(alive) => alive,
            None => self
                .alive_on_device
                .insert(self.stream.alloc_zeros(self.capacity).map_err(cuda_error("alloc flags"))?),
        };
        self.stream
            .memcpy_htod(&self.alive, &mut alive.slice_mut(..self.alive.len()))
            .map_err(cuda_error("copy flags"))
    }
}

fn half_norms(rows: &[f32], dim: usize) -> Vec<f32> {
    rows.chunks_exact(dim).map(|row| row.iter().map(|x| x * x).sum::<f32>() / 2.0).collect()
}

impl Mirror {
    /// Whether this mirror scores by IVF lists (and so needs each appended row's list).
    pub fn by_lists(&self) -> bool {
        self.nlist > 0
    }

    /// Masks the rows of `ids` (those present). `Ok(false)` once a quarter of the rows are
    /// removed ones: the caller drops the mirror rather than scan the dead weight.
    pub fn remove(&mut self, ids: &[i64]) -> Result<bool> {
        let mut touched = vec![false; self.parts.len()];
        for id in ids {
            if let Some((p, row)) = self.rows.remove(id) {
                let part = &mut self.parts[p];
                part.alive[row] = 0;
                part.removed += 1;
                touched[p] = true;
            }
        }
        for (part, _) in self.parts.iter_mut().zip(touched).filter(|(_, touched)| *touched) {
            part.sync_alive()?;
        }
        let (removed, rows): (usize, usize) =
            self.parts.iter().fold((0, 0), |(r, n), part| (r + part.removed, n + part.ids.len()));
        Ok(removed * 4 <= rows)
    }

    /// Appends rows for `ids` (not present; `lists` gives each one's IVF list for an IVF
    /// mirror) into the part with the most room. `Ok(false)` when none has room for them.
    pub fn append(&mut self, ids: &[i64], vectors: &[f32], lists: Option<&[i32]>) -> Result<bool> {
        if ids.is_empty() {
            return Ok(true);
        }
        if self.by_lists() != lists.is_some() {
            return Ok(false);
        }
        let Some((p, part)) = self.parts.iter_mut().enumerate().max_by_key(|(_, part)| part.free()) else {
            return Ok(false);
        };
        if part.free() < ids.len() {
            return Ok(false);
        }
        let first = part.ids.len();
        part.append(ids, vectors, self.dim, lists)?;
        for (i, &id) in ids.iter().enumerate() {
            self.rows.insert(id, (p, first + i));
        }
        Ok(true)
    }
}

impl Gpus {
    /// Opens the devices `device` names and compiles the kernels. `Config` when this machine
    /// has no CUDA driver, libraries or such device.
    pub fn open(device: &VectorDevice) -> Result<Self> {
        // SAFETY: these only try to load the shared libraries (dlopen) and report whether they
        // were found; cudarc would otherwise panic at the first call into a missing one.
        let missing = unsafe {
            [
                ("libcuda (the NVIDIA driver)", cudarc::driver::sys::is_culib_present()),
                ("libcublas", cudarc::cublas::sys::is_culib_present()),
                ("libnvrtc", cudarc::nvrtc::sys::is_culib_present()),
            ]
        };
        if let Some((name, _)) = missing.iter().find(|(_, present)| !present) {
            return Err(Error::config(format!(
                "vectors.device = {device}: {name} was not found (install the CUDA runtime libraries \
                 and put them on LD_LIBRARY_PATH)"
            )));
        }
        let count = CudaContext::device_count().map_err(cuda_error("count devices"))?.max(0) as usize;
        let ordinals = match device {
            VectorDevice::Cpu => Vec::new(),
            VectorDevice::Cuda(ordinals) => ordinals.clone(),
            VectorDevice::CudaAll => (0..count).collect(),
        };
        if ordinals.is_empty() || ordinals.iter().any(|&o| o >= count) {
            return Err(Error::config(format!(
                "vectors.device = {device}: this machine has {count} CUDA device(s)"
            )));
        }
        let ptx = cudarc::nvrtc::compile_ptx(KERNELS)
            .map_err(|e| Error::backend(format!("cuda: compile the search kernels: {e}"), e))?;
        let shards = ordinals
            .into_iter()
            .map(|ordinal| Shard::open(ordinal, ptx.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Gpus { device: device.clone(), shards })
    }

    /// The configured device.
    pub fn device(&self) -> &VectorDevice {
        &self.device
    }

    /// Copies a collection's vectors (`ids.len()` rows of `dim`) to the shards, with room for
    /// a quarter more. `lists` gives each row's IVF list and the number of lists, for an IVF
    /// collection.
    pub fn upload(
        &self,
        dim: usize,
        metric: DistanceMetric,
        ids: Vec<i64>,
        vectors: &[f32],
        lists: Option<(Vec<i32>, usize)>,
    ) -> Result<Mirror> {
        debug_assert_eq!(ids.len() * dim, vectors.len());
        let n = ids.len();
        let l2 = metric == DistanceMetric::L2;
        let nlist = lists.as_ref().map_or(0, |(_, nlist)| *nlist);
        let mut parts = Vec::with_capacity(self.shards.len());
        let mut rows = HashMap::with_capacity(n);
        for (i, shard) in self.shards.iter().enumerate() {
            let (first, end) = (n * i / self.shards.len(), n * (i + 1) / self.shards.len());
            let capacity = (end - first) + (end - first) / 4 + 256;
            let stream = shard.stream.clone();
            let alloc = "alloc the collection's copy";
            let mut part = Part {
                shard: i,
                ids: Vec::with_capacity(capacity),
                capacity,
                vectors: stream.alloc_zeros(capacity * dim).map_err(cuda_error(alloc))?,
                half_norms: if l2 {
                    Some(stream.alloc_zeros(capacity).map_err(cuda_error(alloc))?)
                } else {
                    None
                },
                lists: if nlist > 0 {
                    Some(stream.alloc_zeros(capacity).map_err(cuda_error(alloc))?)
                } else {
                    None
                },
                alive: Vec::with_capacity(capacity),
                alive_on_device: None,
                removed: 0,
                stream,
            };
            let lists = lists.as_ref().map(|(lists, _)| &lists[first..end]);
            part.append(&ids[first..end], &vectors[first * dim..end * dim], dim, lists)?;
            rows.extend(ids[first..end].iter().enumerate().map(|(row, &id)| (id, (i, row))));
            parts.push(part);
        }
        Ok(Mirror { parts, rows, dim, l2, nlist })
    }

    /// The `k` (at most [`MAX_K`]) best rows of `mirror` for each query (concatenated, `dim`
    /// floats each), as (entity id, the metric's raw value), best first. `probed` marks, per
    /// query, the IVF lists searched (`nq x nlist` flags) for an IVF mirror.
    pub fn search(
        &self,
        mirror: &Mirror,
        queries: &[f32],
        k: usize,
        probed: Option<&[u8]>,
    ) -> Result<Vec<Vec<(i64, f32)>>> {
        assert!(k <= MAX_K, "GPU search asks for {k} > {MAX_K} results");
        let nq = queries.len() / mirror.dim.max(1);
        if k == 0 || nq == 0 {
            return Ok(vec![Vec::new(); nq]);
        }
        let search = |part: &Part| self.shards[part.shard].search(part, mirror, queries, nq, k, probed);
        // Shards search at once, each from a thread of its own; one shard needs none.
        let answers: Vec<Result<Candidates>> = match mirror.parts.as_slice() {
            [part] => vec![search(part)],
            parts => std::thread::scope(|scope| {
                let running: Vec<_> = parts.iter().map(|part| scope.spawn(move || search(part))).collect();
                running
                    .into_iter()
                    .map(|handle| {
                        handle
                            .join()
                            .unwrap_or_else(|_| Err(Error::backend("cuda: a shard's search", "panicked")))
                    })
                    .collect()
            }),
        };
        let mut merged: Candidates = vec![Vec::new(); nq];
        for answer in answers {
            for (all, best) in merged.iter_mut().zip(answer?) {
                all.extend(best);
            }
        }
        Ok(merged
            .into_iter()
            .zip(queries.chunks_exact(mirror.dim))
            .map(|(mut best, query)| {
                best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                best.truncate(k);
                let norm = if mirror.l2 { query.iter().map(|x| x * x).sum::<f32>() } else { 0.0 };
                best.into_iter()
                    .map(|(id, s)| (id, if mirror.l2 { (norm - 2.0 * s).max(0.0) } else { s }))
                    .collect()
            })
            .collect())
    }
}

impl Shard {
    fn open(ordinal: usize, ptx: cudarc::nvrtc::Ptx) -> Result<Self> {
        let context = CudaContext::new(ordinal).map_err(cuda_error("open device"))?;
        let stream = context.new_stream().map_err(cuda_error("create stream"))?;
        let blas = CudaBlas::new(stream.clone()).map_err(|e| Error::backend(format!("cublas: {e}"), e))?;
        let module = context.load_module(ptx).map_err(cuda_error("load kernels"))?;
        Ok(Shard {
            ordinal,
            adjust: module.load_function("adjust").map_err(cuda_error("kernel adjust"))?,
            topk: module.load_function("topk_chunks").map_err(cuda_error("kernel topk_chunks"))?,
            none_f32: stream.alloc_zeros(1).map_err(cuda_error("alloc"))?,
            none_i32: stream.alloc_zeros(1).map_err(cuda_error("alloc"))?,
            none_u8: stream.alloc_zeros(1).map_err(cuda_error("alloc"))?,
            stream,
            blas,
            busy: Mutex::new(()),
        })
    }

    /// `part`'s `k` best live rows for each query, as (entity id, selection score).
    fn search(
        &self,
        part: &Part,
        mirror: &Mirror,
        queries: &[f32],
        nq: usize,
        k: usize,
        probed: Option<&[u8]>,
    ) -> Result<Candidates> {
        let rows = part.ids.len();
        if rows == part.removed {
            return Ok(vec![Vec::new(); nq]);
        }
        let _busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (dim, stream) = (mirror.dim, &self.stream);
        let on_device = stream.clone_htod(queries).map_err(cuda_error("copy queries"))?;
        let probed = match probed {
            Some(flags) => Some(stream.clone_htod(flags).map_err(cuda_error("copy probed lists"))?),
            None => None,
        };
        let batch = (SCORE_BUDGET / rows).clamp(1, 65_535).min(nq);
        // SAFETY: every score is written by the product below before anything reads it.
        let mut scores = unsafe { stream.alloc::<f32>(batch * rows) }.map_err(cuda_error("alloc scores"))?;
        let mut best = Vec::with_capacity(nq);
        for start in (0..nq).step_by(batch) {
            let b = batch.min(nq - start);
            let queries = on_device.slice(start * dim..(start + b) * dim);
            let config = GemmConfig {
                transa: cublasOperation_t::CUBLAS_OP_T,
                transb: cublasOperation_t::CUBLAS_OP_N,
                m: rows as i32,
                n: b as i32,
                k: dim as i32,
                alpha: 1.0f32,
                lda: dim as i32,
                ldb: dim as i32,
                beta: 0.0f32,
                ldc: rows as i32,
            };
            let mut out = scores.slice_mut(..b * rows);
            // SAFETY: column-major, the product is (rows x dim, the stored row-major matrix read
            // transposed) times (dim x b, the queries) into rows x b with leading dimension
            // `rows`: every operand holds exactly those elements (`vectors` rows x dim, the
            // query slice b x dim, `out` b x rows), which is the queries' row-major score rows.
            unsafe { self.blas.gemm(config, &part.vectors, &queries, &mut out) }
                .map_err(|e| Error::backend(format!("cublas sgemm: {e}"), e))?;
            let (total, rows_i64) = ((b * rows) as i64, rows as i64);
            let lists = part.lists.as_ref().zip(probed.as_ref());
            let alive = part.alive_on_device.as_ref().filter(|_| part.removed > 0);
            if part.half_norms.is_some() || lists.is_some() || alive.is_some() {
                let norms = part.half_norms.as_ref().unwrap_or(&self.none_f32);
                let (use_norms, use_lists) = (part.half_norms.is_some() as i32, lists.is_some() as i32);
                let use_alive = alive.is_some() as i32;
                let alive = alive.unwrap_or(&self.none_u8);
                let (row_lists, flags) = match lists {
                    Some((row_lists, flags)) => {
                        (row_lists.as_view(), flags.slice(start * mirror.nlist..(start + b) * mirror.nlist))
                    }
                    None => (self.none_i32.as_view(), self.none_u8.as_view()),
                };
                let nlist = mirror.nlist as i32;
                let blocks = (b * rows).div_ceil(256).min(1 << 20) as u32;
                let launch =
                    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
                // SAFETY: `adjust` reads and writes `total` scores, reads `norms[r]`,
                // `row_lists[r]` and `alive[r]` for r < rows only when their flags are set
                // (then they hold at least `rows` entries), and `flags[q * nlist + list]` for
                // q < b, list < nlist.
                unsafe {
                    stream
                        .launch_builder(&self.adjust)
                        .arg(&mut out)
                        .arg(&total)
                        .arg(&rows_i64)
                        .arg(norms)
                        .arg(&use_norms)
                        .arg(&row_lists)
                        .arg(&flags)
                        .arg(&use_lists)
                        .arg(&nlist)
                        .arg(alive)
                        .arg(&use_alive)
                        .launch(launch)
                }
                .map_err(cuda_error("launch adjust"))?;
            }
            let (values, positions) = self.top_k(scores.slice(..b * rows), b, rows, k)?;
            for q in 0..b {
                best.push(
                    (q * k..(q + 1) * k)
                        .filter(|&i| positions[i] >= 0 && values[i] > f32::NEG_INFINITY)
                        .map(|i| (part.ids[positions[i] as usize], values[i]))
                        .collect(),
                );
            }
        }
        Ok(best)
    }

    /// The `k` best of each of `b` rows of `ncols` scores, as `b x k` values and positions
    /// (-1 where a row has fewer), best first.
    fn top_k(
        &self,
        scores: CudaView<'_, f32>,
        b: usize,
        ncols: usize,
        k: usize,
    ) -> Result<(Vec<f32>, Vec<i32>)> {
        let stream = &self.stream;
        let mut ncols = ncols;
        let mut current: Option<(CudaSlice<f32>, CudaSlice<i32>)> = None;
        let mut scores = Some(scores);
        loop {
            let chunks = ncols.div_ceil(CHUNK);
            // SAFETY: the kernel writes every one of these (k per chunk per row).
            let (mut values, mut positions) = unsafe {
                (
                    stream.alloc::<f32>(b * chunks * k).map_err(cuda_error("alloc top-k"))?,
                    stream.alloc::<i32>(b * chunks * k).map_err(cuda_error("alloc top-k"))?,
                )
            };
            let (input, input_positions, has_positions) = match &current {
                Some((v, p)) => (v.as_view(), p.as_view(), 1i32),
                None => (scores.take().expect("the first pass"), self.none_i32.as_view(), 0i32),
            };
            let (ncols_i64, k_i32) = (ncols as i64, k as i32);
            let launch = LaunchConfig {
                grid_dim: (chunks as u32, b as u32, 1),
                block_dim: (TOPK_THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: block (chunk, row) reads `ncols` entries of row `row` of `input` (and of
            // `input_positions` when `has_positions`), which hold `b x ncols`, and writes `k`
            // entries at (row * chunks + chunk) * k of outputs sized `b x chunks x k`; k <= CHUNK.
            unsafe {
                stream
                    .launch_builder(&self.topk)
                    .arg(&input)
                    .arg(&input_positions)
                    .arg(&has_positions)
                    .arg(&ncols_i64)
                    .arg(&k_i32)
                    .arg(&mut values)
                    .arg(&mut positions)
                    .launch(launch)
            }
            .map_err(cuda_error("launch top-k"))?;
            current = Some((values, positions));
            if chunks == 1 {
                break;
            }
            ncols = chunks * k;
        }
        let (values, positions) = current.expect("one pass ran");
        Ok((
            stream.clone_dtoh(&values).map_err(cuda_error("copy top-k"))?,
            stream.clone_dtoh(&positions).map_err(cuda_error("copy top-k"))?,
        ))
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cuda:{}", self.ordinal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles the kernels with NVRTC (no GPU needed; `cargo xtask test` installs it): a
    /// syntax error shows here, not on the first GPU. Without libnvrtc it skips, but in CI.
    #[test]
    fn kernels_compile() {
        // SAFETY: only probes for the library (see `Gpus::open`).
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            assert!(std::env::var_os("CI").is_none(), "CI: libnvrtc not found on LD_LIBRARY_PATH");
            eprintln!("skipped: libnvrtc not found");
            return;
        }
        cudarc::nvrtc::compile_ptx(KERNELS).unwrap();
    }
}
