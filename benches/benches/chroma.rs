//! Chroma through `ChromaIndex`: upsert throughput (batches of 1000 x 384) and single-query
//! latency (k=10) on a 10k collection, against the server `AIMDB_TEST_CHROMA_URL` names
//! (`cargo xtask bench` starts one). Skipped when no server is set.

use std::sync::atomic::{AtomicI64, Ordering};

use aimdb_core::config::ChromaConfig;
use aimdb_core::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
use aimdb_testkit::synthetic::Clustered;
use aimdb_vector::ChromaIndex;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const DIM: usize = 384;

fn records(points: &[f32], first: i64) -> Vec<VectorRecord> {
    points
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| VectorRecord {
            id: first + i as i64,
            vector: v.to_vec(),
            metadata: [("framework".to_owned(), if i % 2 == 0 { "pytorch" } else { "jax" }.to_owned())]
                .into(),
        })
        .collect()
}

fn chroma(c: &mut Criterion) {
    let Ok(url) = std::env::var("AIMDB_TEST_CHROMA_URL") else {
        eprintln!("chroma benches skipped: AIMDB_TEST_CHROMA_URL is not set");
        return;
    };
    let rt = Runtime::new().unwrap();
    let data = Clustered { dim: DIM, clusters: 100, spread: 0.5, subspace: 16, noise: 0.1, seed: 42 };
    let embedder = EmbedderIdentity { kind: "bench".into(), model: "clustered".into(), dim: DIM };
    let config = ChromaConfig::new(url).with_database(format!("bench_{}", std::process::id()));
    let index = rt.block_on(ChromaIndex::open(&config)).unwrap();
    let base = data.points(10_000, 1);
    rt.block_on(async {
        index.reset().await.unwrap();
        for (i, chunk) in base.chunks(1000 * DIM).enumerate() {
            index.upsert(Collection::Datasets, &embedder, records(chunk, 1 + i as i64 * 1000)).await.unwrap();
        }
    });
    let queries = data.points(100, 2);

    let mut group = c.benchmark_group("chroma");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1000));
    let next_id = AtomicI64::new(1);
    let batch = data.points(1000, 3);
    group.bench_function("upsert_1000", |b| {
        b.to_async(&rt).iter_batched(
            || records(&batch, next_id.fetch_add(1000, Ordering::Relaxed)),
            |batch| async { index.upsert(Collection::Models, &embedder, batch).await.unwrap() },
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(1));
    group.sample_size(50);
    let mut cycle = queries.chunks_exact(DIM).cycle();
    group.bench_function("query_10k", |b| {
        b.iter(|| {
            let q = cycle.next().unwrap();
            rt.block_on(index.search(Collection::Datasets, &embedder, q, 10, &VectorFilter::default()))
                .unwrap()
        })
    });
    group.finish();
    rt.block_on(index.reset()).unwrap();
}

criterion_group!(benches, chroma);
criterion_main!(benches);
