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
//! Every listed device holds one contiguous shard of each collection's vectors; each shard
//! answers its `k` best and the host merges them (FAISS's `index_cpu_to_all_gpus` with
//! `shard = true`).
#![allow(unsafe_code)]

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

/// Per query, (row in the mirror, selection score) of its best rows.
type Candidates = Vec<Vec<(usize, f32)>>;

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

/// One collection's vectors on the shards, split into contiguous parts.
pub struct Mirror {
    /// Entity id of each row, over all parts in order.
    ids: Vec<i64>,
    parts: Vec<Part>,
    dim: usize,
    l2: bool,
    /// IVF lists (0 for an exact collection).
    nlist: usize,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("rows", &self.ids.len()).field("parts", &self.parts.len()).finish()
    }
}

struct Part {
    shard: usize,
    first: usize,
    rows: usize,
    vectors: CudaSlice<f32>,
    /// Half of each row's squared norm (L2 only).
    half_norms: Option<CudaSlice<f32>>,
    /// Each row's IVF list (IVF only).
    lists: Option<CudaSlice<i32>>,
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
        let ordinals = match device {
            VectorDevice::Cpu => Vec::new(),
            VectorDevice::Cuda(ordinals) => ordinals.clone(),
            VectorDevice::CudaAll => {
                let count = CudaContext::device_count().map_err(cuda_error("count devices"))?;
                (0..count.max(0) as usize).collect()
            }
        };
        let count = CudaContext::device_count().map_err(cuda_error("count devices"))?.max(0) as usize;
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

    /// Copies a collection's vectors (`ids.len()` rows of `dim`) to the shards. `lists` gives
    /// each row's IVF list and the number of lists, for an IVF collection.
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
        for (i, shard) in self.shards.iter().enumerate() {
            let (first, end) = (n * i / self.shards.len(), n * (i + 1) / self.shards.len());
            let stream = &shard.stream;
            let rows = &vectors[first * dim..end * dim];
            let half_norms = l2.then(|| {
                let norms: Vec<f32> =
                    rows.chunks_exact(dim).map(|row| row.iter().map(|x| x * x).sum::<f32>() / 2.0).collect();
                stream.clone_htod(&norms)
            });
            parts.push(Part {
                shard: i,
                first,
                rows: end - first,
                vectors: stream.clone_htod(rows).map_err(cuda_error("copy vectors"))?,
                half_norms: half_norms.transpose().map_err(cuda_error("copy norms"))?,
                lists: match &lists {
                    Some((lists, _)) => {
                        Some(stream.clone_htod(&lists[first..end]).map_err(cuda_error("copy lists"))?)
                    }
                    None => None,
                },
            });
        }
        Ok(Mirror { ids, parts, dim, l2, nlist })
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
        let answers: Vec<Result<Candidates>> = std::thread::scope(|scope| {
            let running: Vec<_> = mirror
                .parts
                .iter()
                .map(|part| {
                    let shard = &self.shards[part.shard];
                    scope.spawn(move || shard.search(part, mirror, queries, nq, k, probed))
                })
                .collect();
            running
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| Err(Error::config("cuda: a shard's search panicked")))
                })
                .collect()
        });
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
                    .map(|(row, s)| (mirror.ids[row], if mirror.l2 { (norm - 2.0 * s).max(0.0) } else { s }))
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

    /// `part`'s `k` best rows for each query, as (row in the mirror, selection score).
    fn search(
        &self,
        part: &Part,
        mirror: &Mirror,
        queries: &[f32],
        nq: usize,
        k: usize,
        probed: Option<&[u8]>,
    ) -> Result<Candidates> {
        if part.rows == 0 {
            return Ok(vec![Vec::new(); nq]);
        }
        let _busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (dim, rows, stream) = (mirror.dim, part.rows, &self.stream);
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
            if part.half_norms.is_some() || lists.is_some() {
                let norms = part.half_norms.as_ref().unwrap_or(&self.none_f32);
                let (use_norms, use_lists) = (part.half_norms.is_some() as i32, lists.is_some() as i32);
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
                // SAFETY: `adjust` reads and writes `total` scores, reads `norms[r]` and
                // `row_lists[r]` for r < rows only when their flags are set (then they hold
                // `rows` entries), and `flags[q * nlist + list]` for q < b, list < nlist.
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
                        .launch(launch)
                }
                .map_err(cuda_error("launch adjust"))?;
            }
            let (values, positions) = self.top_k(scores.slice(..b * rows), b, rows, k)?;
            for q in 0..b {
                best.push(
                    (q * k..(q + 1) * k)
                        .filter(|&i| positions[i] >= 0 && values[i] > f32::NEG_INFINITY)
                        .map(|i| (part.first + positions[i] as usize, values[i]))
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

    /// Compiles the kernels with NVRTC when its library is on this machine (no GPU needed):
    /// a syntax error shows here, not on the first GPU.
    #[test]
    fn kernels_compile() {
        // SAFETY: only probes for the library (see `Gpus::open`).
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            eprintln!("skipped: libnvrtc not found");
            return;
        }
        cudarc::nvrtc::compile_ptx(KERNELS).unwrap();
    }
}
