//! Search on a CUDA GPU (`device: cuda`, the `gpu` feature) gives the CPU index's answers:
//! the same ids in the same order (ties aside) and scores within 1e-4, for exact and IVF
//! collections, every metric, filters, several shards, and after changes.
//!
//! Needs a CUDA device and its libraries (libcuda, libcublas, libnvrtc on the library path);
//! without them each test says why and passes, unless `AIMDB_REQUIRE_GPU` is set (the GPU
//! machine's run sets it). `AIMDB_TEST_GPU_DEVICE` picks the device (default `cuda`).

use std::collections::BTreeMap;

use aimdb_core::config::{FaissConfig, IndexType, VectorDevice};
use aimdb_core::{
    Collection, DistanceMetric, EmbedderIdentity, VectorFilter, VectorHit, VectorIndex, VectorRecord,
};
use aimdb_testkit::synthetic::Clustered;
use aimdb_vector::FaissIndex;

const DIM: usize = 384;
const N: usize = 20_000;

fn embedder() -> EmbedderIdentity {
    EmbedderIdentity { kind: "test".into(), model: "gpu".into(), dim: DIM }
}

fn data() -> Clustered {
    Clustered { dim: DIM, clusters: 200, spread: 0.5, subspace: 16, noise: 0.1, seed: 11 }
}

fn records(points: &[f32], first_id: i64) -> Vec<VectorRecord> {
    points
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| {
            let id = first_id + i as i64;
            let metadata = BTreeMap::from([("shard".to_owned(), (id % 3).to_string())]);
            VectorRecord { id, vector: v.to_vec(), metadata }
        })
        .collect()
}

fn device() -> VectorDevice {
    std::env::var("AIMDB_TEST_GPU_DEVICE").map_or(VectorDevice::Cuda(vec![0]), |d| d.parse().unwrap())
}

/// The same directory opened to search on `device`.
async fn on_gpu(config: &FaissConfig, device: VectorDevice) -> FaissIndex {
    FaissIndex::open(&config.clone().with_device(device)).await.unwrap()
}

/// Whether this machine searches on a GPU; says why not (before any CPU index is built).
async fn gpu_here() -> bool {
    let dir = tempfile::tempdir().unwrap();
    match FaissIndex::open(&FaissConfig::new(dir.path()).with_device(device())).await {
        Ok(_) => true,
        Err(e) if std::env::var_os("AIMDB_REQUIRE_GPU").is_none() => {
            eprintln!("skipped: no GPU search here: {e}");
            false
        }
        Err(e) => panic!("AIMDB_REQUIRE_GPU is set but the GPU does not open: {e}"),
    }
}

/// A CPU index in a fresh directory holding `N` clustered vectors, trained and saved.
async fn cpu_index(
    dir: &std::path::Path,
    config: impl Fn(FaissConfig) -> FaissConfig,
) -> (FaissIndex, FaissConfig) {
    let config = config(FaissConfig::new(dir));
    let index = FaissIndex::open(&config).await.unwrap();
    index.upsert(Collection::Models, &embedder(), records(&data().points(N, 1), 1)).await.unwrap();
    index.optimize(Collection::Models).await.unwrap();
    index.flush().await.unwrap();
    (index, config)
}

fn queries(n: usize) -> Vec<Vec<f32>> {
    data().points(n, 2).chunks_exact(DIM).map(<[f32]>::to_vec).collect()
}

/// Same ids in the same order, except where the CPU's scores tie (1e-5), and scores within 1e-4.
fn assert_same(cpu: &[Vec<VectorHit>], gpu: &[Vec<VectorHit>], what: &str) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: answers");
    for (q, (c, g)) in cpu.iter().zip(gpu).enumerate() {
        assert_eq!(c.len(), g.len(), "{what}: query {q}: hits {c:?} vs {g:?}");
        for (i, (a, b)) in c.iter().zip(g).enumerate() {
            assert!(
                (a.similarity_score - b.similarity_score).abs() <= 1e-4,
                "{what}: query {q} hit {i}: score {} on CPU, {} on GPU",
                a.similarity_score,
                b.similarity_score
            );
            let tie =
                |j: usize| c.get(j).is_some_and(|o| (o.similarity_score - a.similarity_score).abs() <= 1e-5);
            assert!(
                a.id == b.id || tie(i + 1) || (i > 0 && tie(i - 1)),
                "{what}: query {q} hit {i}: id {} on CPU, {} on GPU",
                a.id,
                b.id
            );
        }
    }
}

async fn compare(cpu: &FaissIndex, gpu: &FaissIndex, what: &str) {
    let queries = queries(64);
    let filter = VectorFilter { equals: BTreeMap::from([("shard".to_owned(), "1".to_owned())]) };
    for (k, filter, label) in [
        (10, VectorFilter::default(), "k=10"),
        (100, VectorFilter::default(), "k=100"),
        (10, filter, "filtered"),
    ] {
        let c = cpu.search_many(Collection::Models, &embedder(), &queries, k, &filter).await.unwrap();
        let g = gpu.search_many(Collection::Models, &embedder(), &queries, k, &filter).await.unwrap();
        assert_same(&c, &g, &format!("{what}, {label}"));
    }
    let c =
        cpu.search(Collection::Models, &embedder(), &queries[0], 5, &VectorFilter::default()).await.unwrap();
    let g =
        gpu.search(Collection::Models, &embedder(), &queries[0], 5, &VectorFilter::default()).await.unwrap();
    assert_same(&[c], &[g], &format!("{what}, one query"));
}

#[tokio::test]
async fn exact_search_matches_the_cpu_for_every_metric() {
    if !gpu_here().await {
        return;
    }
    for metric in DistanceMetric::ALL {
        let dir = tempfile::tempdir().unwrap();
        let (cpu, config) =
            cpu_index(dir.path(), |c| FaissConfig { index_type: IndexType::Flat, metric, ..c }).await;
        let gpu = on_gpu(&config, device()).await;
        compare(&cpu, &gpu, &format!("flat {metric}")).await;
    }
}

#[tokio::test]
async fn ivf_search_probes_the_cpu_lists() {
    if !gpu_here().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cpu, config) = cpu_index(dir.path(), |c| FaissConfig {
        index_type: IndexType::Ivf,
        nlist: Some(64),
        nprobe: Some(4),
        ..c
    })
    .await;
    let gpu = on_gpu(&config, device()).await;
    compare(&cpu, &gpu, "ivf nlist 64 nprobe 4").await;
    write_and_compare(&cpu, &gpu, "ivf").await;
}

#[tokio::test]
async fn ivfpq_on_the_gpu_scores_exactly_and_finds_at_least_as_much() {
    if !gpu_here().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cpu, config) = cpu_index(dir.path(), |c| FaissConfig {
        index_type: IndexType::IvfPq,
        nlist: Some(64),
        nprobe: Some(4),
        m: Some(16),
        nbits: Some(8),
        ..c
    })
    .await;
    let gpu = on_gpu(&config, device()).await;
    let exact_dir = tempfile::tempdir().unwrap();
    let (exact, _) = cpu_index(exact_dir.path(), |c| FaissConfig { index_type: IndexType::Flat, ..c }).await;
    let queries = queries(64);
    let none = VectorFilter::default();
    let truth = exact.search_many(Collection::Models, &embedder(), &queries, 10, &none).await.unwrap();
    let recall = |answers: &[Vec<VectorHit>]| {
        let found: usize = answers
            .iter()
            .zip(&truth)
            .map(|(a, t)| a.iter().filter(|h| t.iter().any(|x| x.id == h.id)).count())
            .sum();
        found as f64 / (10 * queries.len()) as f64
    };
    let c = cpu.search_many(Collection::Models, &embedder(), &queries, 10, &none).await.unwrap();
    let g = gpu.search_many(Collection::Models, &embedder(), &queries, 10, &none).await.unwrap();
    assert!(recall(&g) >= recall(&c), "recall@10 on the GPU {} < CPU {}", recall(&g), recall(&c));
    // Exact scores: every hit scores its exact cosine.
    let points = data().points(N, 1);
    let cosine = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
    };
    for (q, hits) in queries.iter().zip(&g) {
        for hit in hits {
            let row = &points[(hit.id as usize - 1) * DIM..][..DIM];
            let expected = (1.0 + cosine(q, row)) / 2.0;
            assert!(
                (hit.similarity_score - expected).abs() <= 1e-4,
                "id {}: {} vs {expected}",
                hit.id,
                hit.similarity_score
            );
        }
    }
}

#[tokio::test]
async fn shards_merge_and_writes_reach_the_gpu() {
    if !gpu_here().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let metric = DistanceMetric::L2;
    let (cpu, config) =
        cpu_index(dir.path(), |c| FaissConfig { index_type: IndexType::Flat, metric, ..c }).await;
    // Two shards on one GPU: the same merge as across GPUs.
    let two = match device() {
        VectorDevice::Cuda(ordinals) => VectorDevice::Cuda(vec![ordinals[0], ordinals[0]]),
        other => other,
    };
    let gpu = on_gpu(&config, two).await;
    compare(&cpu, &gpu, "two shards").await;
    write_and_compare(&cpu, &gpu, "two shards").await;
}

/// Writes through `gpu` that its copy takes in place (appends, replacements, removals), then
/// one larger than its spare room (copied afresh), each followed by the comparison.
async fn write_and_compare(cpu: &FaissIndex, gpu: &FaissIndex, what: &str) {
    let models = Collection::Models;
    gpu.upsert(models, &embedder(), records(&data().points(500, 3), N as i64 + 1)).await.unwrap();
    gpu.upsert(models, &embedder(), records(&data().points(100, 4), 3_001)).await.unwrap();
    gpu.remove(models, &(1..=2_000).collect::<Vec<i64>>()).await.unwrap();
    compare(cpu, gpu, &format!("{what}, after writes")).await;
    let hits = gpu.search(models, &embedder(), &queries(1)[0], 50, &VectorFilter::default()).await.unwrap();
    assert!(hits.iter().all(|h| h.id > 2_000), "removed ids are gone: {hits:?}");
    gpu.upsert(models, &embedder(), records(&data().points(8_000, 5), 2 * N as i64)).await.unwrap();
    compare(cpu, gpu, &format!("{what}, after a large write")).await;
}
