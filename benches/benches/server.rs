//! `aimdb serve` on loopback with SQLite + FAISS behind it (hash embedder), through the
//! remote store, against the same database in process:
//!
//! - `server/log_metrics_batch_10k` vs `in_process/log_metrics_batch_10k`: one
//!   `POST /runs/{id}/metrics` of 10k points, and the same batch without HTTP.
//! - `server/create_model_hash`: one `create_model` (store, embed, index) through HTTP.
//! - `server/search_models` vs `in_process/search_models`: one search of 2,000 models, k = 10
//!   (exact, small enough to run on the async thread: see `INLINE_SEARCH_FLOATS`).
//! - `server_concurrency/{one,two}_clients`: 64 searches per client, one client alone and
//!   two at once (elements/s: the second client's gain).
//!
//! `cargo xtask bench server` runs them in release; `cargo xtask test` runs each once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aimdb::prelude::*;
use aimdb_server::{Server, ServerConfig};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const MODELS: usize = 2_000;
const SEARCHES: u64 = 64;

fn points(n: usize) -> Vec<NewMetric> {
    (0..n)
        .map(|i| {
            NewMetric::new(if i % 2 == 0 { "loss" } else { "acc" }, 1.0 / (i as f64 + 1.0))
                .with_step(i as i64)
        })
        .collect()
}

fn query(i: u64) -> String {
    format!("model {} for image recognition", i * 31 % MODELS as u64)
}

async fn searches(db: &AiDatabase, n: u64) {
    for i in 0..n {
        let hits = db.search_similar_models(&query(i), 10, &ModelFilter::default()).await.unwrap();
        assert_eq!(hits.len(), 10);
    }
}

fn server(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = AimdbConfig::faiss(dir.path());
    config.embedding.model = "hash".into();
    let (local, remote, run) = rt.block_on(async {
        let local = create_ai_database(config).await.unwrap();
        let models = (0..MODELS).map(|i| {
            NewModel::new(format!("model-{i}")).with_description(format!("model {i} for image recognition"))
        });
        for model in models {
            local.create_model(model).await.unwrap();
        }
        let server =
            Server::bind(local.clone(), ServerConfig::new().with_bind("127.0.0.1:0".parse().unwrap()))
                .await
                .unwrap();
        let url = format!("http://{}", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        let remote = create_ai_database(AimdbConfig::from_url(url)).await.unwrap();
        let model = remote.get_model_by_name("model-0").await.unwrap();
        let version = remote.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
        let run = remote.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
        (local, remote, run.id)
    });

    let mut group = c.benchmark_group("server");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("log_metrics_batch_10k", |b| {
        b.to_async(&rt).iter_batched(
            || points(10_000),
            |batch| async { remote.log_metrics(run, batch).await.unwrap() },
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(1));
    let i = AtomicU64::new(0);
    group.bench_function("search_models", |b| {
        b.to_async(&rt).iter(|| async { searches_one(&remote, i.fetch_add(1, Ordering::Relaxed)).await })
    });
    group.finish();

    let mut group = c.benchmark_group("in_process");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("log_metrics_batch_10k", |b| {
        b.to_async(&rt).iter_batched(
            || points(10_000),
            |batch| async { local.log_metrics(run, batch).await.unwrap() },
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("search_models", |b| {
        b.to_async(&rt).iter(|| async { searches_one(&local, i.fetch_add(1, Ordering::Relaxed)).await })
    });
    group.finish();

    let mut group = c.benchmark_group("server_concurrency");
    group.sample_size(20);
    for clients in [1u64, 2] {
        group.throughput(Throughput::Elements(SEARCHES * clients));
        let name = if clients == 1 { "one_client" } else { "two_clients" };
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let remote = remote.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let tasks: Vec<_> = (0..clients)
                            .map(|_| {
                                let db = remote.clone();
                                tokio::spawn(async move { searches(&db, SEARCHES).await })
                            })
                            .collect();
                        for task in tasks {
                            task.await.unwrap();
                        }
                        total += started.elapsed();
                    }
                    total
                }
            })
        });
    }
    group.finish();

    // Last: every model it creates joins the index the searches above read.
    let mut group = c.benchmark_group("server");
    group.throughput(Throughput::Elements(1));
    let counter = AtomicU64::new(0);
    group.bench_function("create_model_hash", |b| {
        b.to_async(&rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            remote
                .create_model(NewModel::new(format!("new-{n}")).with_description("a residual network"))
                .await
                .unwrap()
        })
    });
    group.finish();
}

async fn searches_one(db: &AiDatabase, i: u64) {
    let hits = db.search_similar_models(&query(i), 10, &ModelFilter::default()).await.unwrap();
    assert_eq!(hits.len(), 10);
}

criterion_group!(benches, server);
criterion_main!(benches);
