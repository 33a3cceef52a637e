//! FAISS at scale through `FaissIndex`: flat, IVF and IVF-PQ over clustered 384-d vectors.
//!
//! `cargo xtask bench` runs it on 1M vectors (set `AIMDB_BENCH_VECTORS` for another size);
//! `cargo xtask test` smoke-runs it on 20k. Besides criterion's single-query timings it prints
//! and writes (`target/criterion/vector-summary.json`) build time, recall@10 against exact
//! search, p50/p99 latency, index size, batched-search throughput (`search_many` in batches
//! of 1, 4, 16 and 256: queries/s) and one search right after a write, per type; for flat also
//! the time to read the vectors once on every core (its p50 over that: 1.0 is the
//! memory-bandwidth floor), and leaves the data in `target/bench-data/` so
//! `cargo xtask bench --reference` can time Python faiss-cpu on it.
//!
//! `AIMDB_BENCH_DATA=DIR` takes the vectors from `DIR/vectors.f32` (the first N rows) and
//! the queries from `DIR/queries.f32` instead: real all-MiniLM-L6-v2 embeddings of text
//! are what the query-path bench leaves in `target/bench-data/query-path-100000/corpus`.
//!
//! `AIMDB_BENCH_INDEXES=flat,ivf` limits the run to those types (flat is always built: it
//! is the exact answer recall is measured against).
//!
//! `AIMDB_BENCH_LATENCIES=DIR` writes each index's single-query latencies (ms, one per line,
//! in the order asked) to `DIR/<index>.txt`, and the reference script its own to
//! `DIR/faiss-<index>.txt`: where a p99 comes from (the first queries, or any).
//!
//! `AIMDB_BENCH_DEVICE=cuda` (built with `--features gpu`) also opens each index to search on
//! that device (`FaissConfig::device`) and measures it the same way, as `flat_cuda_0`, ...;
//! its build time is the copy to the GPU (the first search).
//!
//! Data: `aimdb_testkit::synthetic::Clustered` with 1000 clusters, each varying along its own
//! 16-dimensional subspace (deviation norm 0.5) plus isotropic noise of norm 0.1, seed 42.
//! Queries are fresh draws from the same distribution.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aimdb_benches::{percentile, target_dir};
use aimdb_core::config::{FaissConfig, IndexType, VectorDevice};
use aimdb_core::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
use aimdb_testkit::synthetic::Clustered;
use aimdb_vector::FaissIndex;
use aimdb_vector::faiss::layout::{auto_nlist, auto_nprobe};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const DIM: usize = 384;
const K: usize = 10;
const QUERIES: usize = 200;
/// Batch sizes of the batched-search throughput (`search_many`); 4 is below the size from
/// which exact batches go to BLAS (`aimdb_vector::faiss::blas_min_batch`, 8), 16 above it.
const BATCHES: [usize; 4] = [1, 4, 16, 256];

fn data() -> Clustered {
    Clustered { dim: DIM, clusters: 1000, spread: 0.5, subspace: 16, noise: 0.1, seed: 42 }
}

/// Criterion passes `--bench` when benchmarking; without it (`cargo test --benches`) this is a smoke run.
fn size() -> usize {
    if let Some(n) = std::env::var("AIMDB_BENCH_VECTORS").ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    if std::env::args().any(|a| a == "--bench") { 1_000_000 } else { 20_000 }
}

/// Little-endian f32 rows of `DIM` from `path`, at most `rows` of them.
fn read_f32(path: &Path, rows: usize) -> Vec<f32> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .take(rows * DIM)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

/// The vectors and queries: `AIMDB_BENCH_DATA`'s files, or the clustered data; and its name.
fn dataset(n: usize) -> (Vec<f32>, Vec<f32>, String) {
    match std::env::var_os("AIMDB_BENCH_DATA") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let points = read_f32(&dir.join("vectors.f32"), n);
            assert_eq!(points.len(), n * DIM, "{} holds fewer than {n} vectors", dir.display());
            (points, read_f32(&dir.join("queries.f32"), QUERIES), dir.display().to_string())
        }
        None => (data().points(n, 1), data().points(QUERIES, 2), "clustered".to_owned()),
    }
}

/// Whether `AIMDB_BENCH_INDEXES` (a comma list; all when unset) names the index type.
fn wanted(name: &str) -> bool {
    std::env::var("AIMDB_BENCH_INDEXES").map_or(true, |list| list.split(',').any(|n| n.trim() == name))
}

fn embedder() -> EmbedderIdentity {
    EmbedderIdentity { kind: "bench".into(), model: "clustered".into(), dim: DIM }
}

/// Writes `values` as little-endian f32 (what numpy's `fromfile(dtype="<f4")` reads).
fn write_f32(path: &Path, values: &[f32]) {
    let mut file = std::io::BufWriter::new(fs::File::create(path).expect("create data file"));
    for v in values {
        file.write_all(&v.to_le_bytes()).expect("write data file");
    }
}

struct Built {
    name: String,
    index: FaissIndex,
    config: FaissConfig,
    _dir: Option<tempfile::TempDir>,
    build_s: f64,
}

fn build(rt: &Runtime, name: &'static str, config: impl Fn(&Path) -> FaissConfig, points: &[f32]) -> Built {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let start = Instant::now();
    let index = rt.block_on(async {
        let index = FaissIndex::open(&config).await.expect("open");
        // One batch: training sees the whole collection, as after a reindex.
        let records = points
            .chunks_exact(DIM)
            .enumerate()
            .map(|(i, v)| VectorRecord { id: i as i64 + 1, vector: v.to_vec(), metadata: Default::default() })
            .collect();
        index.upsert(Collection::Models, &embedder(), records).await.expect("upsert");
        index.optimize(Collection::Models).await.expect("optimize");
        index.flush().await.expect("flush");
        index
    });
    Built { name: name.to_owned(), index, config, _dir: Some(dir), build_s: start.elapsed().as_secs_f64() }
}

/// `built`'s directory opened to search on `device`, its vectors copied there by a first search.
fn on_device(rt: &Runtime, built: &Built, device: &VectorDevice, query: &[f32]) -> Built {
    let config = built.config.clone().with_device(device.clone());
    let start = Instant::now();
    let index = rt.block_on(FaissIndex::open(&config)).expect("open on the device");
    search(rt, &index, query);
    let name = format!("{}_{}", built.name, device.to_string().replace([':', ','], "_"));
    Built { name, index, config, _dir: None, build_s: start.elapsed().as_secs_f64() }
}

fn search(rt: &Runtime, index: &FaissIndex, q: &[f32]) -> Vec<i64> {
    rt.block_on(index.search(Collection::Models, &embedder(), q, K, &VectorFilter::default()))
        .expect("search")
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// Queries per second through `search_many` in batches of `batch` (queries cycled): at least
/// 512 queries and 2 s of them (a few queries in a smoke run).
fn batched_qps(rt: &Runtime, index: &FaissIndex, queries: &[f32], batch: usize) -> f64 {
    let all: Vec<Vec<f32>> = queries.chunks_exact(DIM).map(<[f32]>::to_vec).collect();
    let mut next = all.iter().cycle();
    let (min_queries, min_seconds) =
        if std::env::args().any(|a| a == "--bench") { (512, 2.0) } else { (64, 0.0) };
    let (mut done, start) = (0usize, Instant::now());
    while done < min_queries || start.elapsed().as_secs_f64() < min_seconds {
        let chunk: Vec<Vec<f32>> = next.by_ref().take(batch).cloned().collect();
        let answers = rt
            .block_on(index.search_many(Collection::Models, &embedder(), &chunk, K, &VectorFilter::default()))
            .expect("search_many");
        assert_eq!(answers.len(), batch);
        done += batch;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn index_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .expect("index dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".faiss"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// The time to read `values` once on every core (up to 8), best of 5: the floor an exact
/// scan of that many vectors approaches, its memory-bandwidth time on this machine.
fn read_once_ms(values: &[f32]) -> f64 {
    fn xor(xs: &[f32]) -> u32 {
        // Integer XOR reassociates freely, so the loop vectorises; it only keeps the reads alive.
        xs.iter().fold(0, |acc, x| acc ^ x.to_bits())
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = values.len().div_ceil(threads);
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let total = std::thread::scope(|s| {
                let parts: Vec<_> = values.chunks(chunk).map(|part| s.spawn(move || xor(part))).collect();
                parts.into_iter().fold(0, |acc, p| acc ^ p.join().expect("reader"))
            });
            std::hint::black_box(total);
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// One index's figures but the write's, as a JSON object's fields after `common` (the
/// data's): recall against `truth`, p50/p99, index size, batched queries/s, and for the exact
/// index its p50 over `read_ms`. Its latencies go to `AIMDB_BENCH_LATENCIES` when set.
fn timings(
    rt: &Runtime,
    built: &Built,
    common: &str,
    (queries, truth): (&[f32], &[Vec<i64>]),
    read_ms: f64,
) -> String {
    let mut latencies = Vec::with_capacity(QUERIES);
    let (mut hits1, mut hits10) = (0usize, 0usize);
    for (q, truth) in queries.chunks_exact(DIM).zip(truth) {
        let start = Instant::now();
        let found = search(rt, &built.index, q);
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
        hits1 += usize::from(found.first() == truth.first());
        hits10 += found.iter().filter(|id| truth.contains(id)).count();
    }
    if let Some(dir) = std::env::var_os("AIMDB_BENCH_LATENCIES") {
        let lines: String = latencies.iter().map(|ms| format!("{ms:.3}\n")).collect();
        fs::write(Path::new(&dir).join(format!("{}.txt", built.name)), lines).expect("write latencies");
    }
    latencies.sort_by(f64::total_cmp);
    let qps: Vec<String> = BATCHES
        .iter()
        .map(|&b| format!("\"qps_batch_{b}\":{:.1}", batched_qps(rt, &built.index, queries, b)))
        .collect();
    // The exact scan against the time to read its vectors once (1.0 = at bandwidth).
    let bandwidth = if built.name == "flat" {
        let p50 = percentile(&latencies, 0.5);
        format!(",\"read_once_ms\":{read_ms:.3},\"p50_over_read_once\":{:.2}", p50 / read_ms)
    } else {
        String::new()
    };
    format!(
        "\"index\":\"{}\",{common},\"build_s\":{:.2},\
         \"recall_at_1\":{:.4},\"recall_at_10\":{:.4},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"index_bytes\":{},{}{bandwidth}",
        built.name,
        built.build_s,
        hits1 as f64 / QUERIES as f64,
        hits10 as f64 / (QUERIES * K) as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        index_bytes(built.index.path()),
        qps.join(","),
    )
}

/// One write, then the next search's time in ms (the write undone after): on a GPU, whether
/// the copy there took the write in place or was copied afresh.
fn search_after_write(rt: &Runtime, built: &Built, queries: &[f32], n: usize) -> f64 {
    let record =
        VectorRecord { id: (n + 1) as i64, vector: queries[..DIM].to_vec(), metadata: Default::default() };
    rt.block_on(built.index.upsert(Collection::Models, &embedder(), vec![record])).expect("upsert");
    let start = Instant::now();
    search(rt, &built.index, &queries[DIM..2 * DIM]);
    let after_write_ms = start.elapsed().as_secs_f64() * 1e3;
    rt.block_on(built.index.remove(Collection::Models, &[(n + 1) as i64])).expect("remove");
    after_write_ms
}

fn vector_benches(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let n = size();
    let nlist = auto_nlist(n);
    let nprobe = auto_nprobe(nlist);
    eprintln!("vector bench: {n} x {DIM} clustered vectors, IVF nlist={nlist} nprobe={nprobe}");
    let (points, queries, source) = dataset(n);
    eprintln!("vector bench: data {source}");
    let data_dir = target_dir().join("bench-data");
    fs::create_dir_all(&data_dir).expect("bench-data dir");
    write_f32(&data_dir.join("vectors.f32"), &points);
    write_f32(&data_dir.join("queries.f32"), &queries);

    let flat =
        build(&rt, "flat", |p| FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new(p) }, &points);
    let ivf = wanted("ivf").then(|| {
        build(&rt, "ivf", |p| FaissConfig { index_type: IndexType::Ivf, ..FaissConfig::new(p) }, &points)
    });
    let ivfpq = wanted("ivfpq").then(|| {
        build(&rt, "ivfpq", |p| FaissConfig { index_type: IndexType::IvfPq, ..FaissConfig::new(p) }, &points)
    });
    let read_ms = read_once_ms(&points);
    eprintln!(
        "vector bench: reading the {} MB of vectors once takes {read_ms:.2} ms ({:.1} GB/s)",
        points.len() * 4 / 1_000_000,
        points.len() as f64 * 4.0 / read_ms / 1e6
    );
    drop(points);
    let mut indexes: Vec<&Built> =
        [Some(&flat), ivf.as_ref(), ivfpq.as_ref()].into_iter().flatten().collect();
    let device: Option<VectorDevice> =
        std::env::var("AIMDB_BENCH_DEVICE").ok().map(|d| d.parse().expect("AIMDB_BENCH_DEVICE"));
    let on_gpu: Vec<Built> = device
        .iter()
        .flat_map(|device| indexes.iter().map(|built| on_device(&rt, built, device, &queries[..DIM])))
        .collect();
    indexes.extend(&on_gpu);

    let truth: Vec<Vec<i64>> = queries.chunks_exact(DIM).map(|q| search(&rt, &flat.index, q)).collect();
    // Every index is timed before any is written to: a write to the exact index at 1M grows
    // its 1.5 GB of vectors, and after that much fresh memory the next index's first
    // searches ran 5-25x their usual time on the 2-core VMs (touching 3 GB without any
    // write did the same), which faiss-cpu's reference, never written to, is spared.
    let common =
        format!("\"data\":\"{source}\",\"n\":{n},\"dim\":{DIM},\"nlist\":{nlist},\"nprobe\":{nprobe}");
    let timed: Vec<_> =
        indexes.iter().map(|built| timings(&rt, built, &common, (&queries, &truth), read_ms)).collect();
    let mut summary = Vec::new();
    for (built, timed) in indexes.iter().zip(timed) {
        let after_write_ms = search_after_write(&rt, built, &queries, n);
        let line = format!("{{{timed},\"search_after_write_ms\":{after_write_ms:.3}}}");
        eprintln!("vector bench: {line}");
        summary.push(line);
    }
    let out = target_dir().join("criterion");
    fs::create_dir_all(&out).expect("criterion dir");
    fs::write(out.join("vector-summary.json"), format!("[\n{}\n]\n", summary.join(",\n"))).expect("summary");

    let mut group = c.benchmark_group("vector");
    group.sample_size(20);
    for built in &indexes {
        let mut next = queries.chunks_exact(DIM).cycle();
        group.bench_function(format!("{}_query", built.name), |b| {
            b.iter(|| search(&rt, &built.index, next.next().expect("cycle")))
        });
    }
    group.finish();
}

criterion_group!(benches, vector_benches);
criterion_main!(benches);
