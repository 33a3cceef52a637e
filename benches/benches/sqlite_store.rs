//! SQLite store benches (issue targets): `log_metrics` batch of 10k points,
//! `get_metrics` of a run with 100k points, single `create_model` latency.
//!
//! `cargo xtask bench` runs them in release; `cargo xtask test` runs each once.

use std::sync::atomic::{AtomicU64, Ordering};

use aimdb_core::{MetadataStore, NewMetric, NewModel, NewModelVersion, NewTrainingRun, TrainingRunId};
use aimdb_sql::{SqliteConfig, SqliteStore};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

fn points(n: usize) -> Vec<NewMetric> {
    (0..n)
        .map(|i| {
            let name = if i % 2 == 0 { "loss" } else { "accuracy" };
            NewMetric::new(name, 1.0 / (i as f64 + 1.0)).with_step(i as i64).with_epoch((i / 1000) as i64)
        })
        .collect()
}

async fn store_with_run(dir: &tempfile::TempDir) -> (SqliteStore, TrainingRunId) {
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("bench.db"))).await.unwrap();
    let model = store.create_model(NewModel::new("bench")).await.unwrap();
    let version = store.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
    let run = store.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
    (store, run.id)
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, run) = rt.block_on(store_with_run(&dir));

    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("log_metrics_batch_10k", |b| {
        b.to_async(&rt).iter_batched(
            || points(10_000),
            |batch| async { store.log_metrics(run, batch).await.unwrap() },
            BatchSize::LargeInput,
        )
    });

    let read_dir = tempfile::tempdir().unwrap();
    let (read_store, read_run) = rt.block_on(async {
        let (s, r) = store_with_run(&read_dir).await;
        for _ in 0..10 {
            s.log_metrics(r, points(10_000)).await.unwrap();
        }
        (s, r)
    });
    group.throughput(Throughput::Elements(100_000));
    group.sample_size(20);
    group.bench_function("get_metrics_100k", |b| {
        b.to_async(&rt).iter(|| async {
            assert_eq!(read_store.get_metrics(read_run, None).await.unwrap().len(), 100_000)
        })
    });

    let counter = AtomicU64::new(0);
    group.throughput(Throughput::Elements(1));
    group.sample_size(100);
    group.bench_function("create_model", |b| {
        b.to_async(&rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            store.create_model(NewModel::new(format!("model-{n}")).with_framework("pytorch")).await.unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sqlite);
criterion_main!(benches);
