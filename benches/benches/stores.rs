//! Store benches, the same three on every store that is available: `log_metrics`
//! batch of 10k points, `get_metrics` of a run with 100k points, single `create_model`.
//! SQLite always; PostgreSQL, MySQL, Redis and MongoDB when their `AIMDB_TEST_*_URL` is set
//! (`cargo xtask bench` starts the servers).
//!
//! `cargo xtask bench` runs them in release; `cargo xtask test` runs each once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aimdb_core::{MetadataStore, NewMetric, NewModel, NewModelVersion, NewTrainingRun, TrainingRunId};
use aimdb_mongo::{MongoConfig, MongoStore};
use aimdb_redis::{RedisConfig, RedisStore};
use aimdb_sql::{MySqlStore, PostgresStore, SqliteConfig, SqliteStore};
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

/// A fresh run under a uniquely named model, so repeated bench runs share a database.
async fn new_run(store: &dyn MetadataStore, tag: &str) -> TrainingRunId {
    let name = format!("bench-{tag}-{}", std::process::id());
    let model = store.create_model(NewModel::new(name)).await.unwrap();
    let version = store.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
    store.create_training_run(NewTrainingRun::new(version.id)).await.unwrap().id
}

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn MetadataStore>) {
    let (write_run, read_run) = rt.block_on(async {
        let read = new_run(store.as_ref(), "read").await;
        for _ in 0..10 {
            store.log_metrics(read, points(10_000)).await.unwrap();
        }
        (new_run(store.as_ref(), "write").await, read)
    });
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("log_metrics_batch_10k", |b| {
        b.to_async(rt).iter_batched(
            || points(10_000),
            |batch| async { store.log_metrics(write_run, batch).await.unwrap() },
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(100_000));
    group.sample_size(20);
    group.bench_function("get_metrics_100k", |b| {
        b.to_async(rt)
            .iter(|| async { assert_eq!(store.get_metrics(read_run, None).await.unwrap().len(), 100_000) })
    });
    let counter = AtomicU64::new(0);
    let prefix = format!("{name}-{}", std::process::id());
    group.throughput(Throughput::Elements(1));
    group.sample_size(100);
    group.bench_function("create_model", |b| {
        b.to_async(rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            store
                .create_model(NewModel::new(format!("{prefix}-model-{n}")).with_framework("pytorch"))
                .await
                .unwrap()
        })
    });
    group.finish();
}

fn stores(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rt.block_on(SqliteStore::open(SqliteConfig::new(dir.path().join("bench.db")))).unwrap();
    bench_store(c, &rt, "sqlite", Arc::new(sqlite));
    if let Ok(url) = std::env::var("AIMDB_TEST_POSTGRES_URL") {
        bench_store(c, &rt, "postgres", Arc::new(rt.block_on(PostgresStore::connect(&url)).unwrap()));
    } else {
        eprintln!("postgres benches skipped: AIMDB_TEST_POSTGRES_URL is not set");
    }
    if let Ok(url) = std::env::var("AIMDB_TEST_MYSQL_URL") {
        bench_store(c, &rt, "mysql", Arc::new(rt.block_on(MySqlStore::connect(&url)).unwrap()));
    } else {
        eprintln!("mysql benches skipped: AIMDB_TEST_MYSQL_URL is not set");
    }
    if let Ok(url) = std::env::var("AIMDB_TEST_REDIS_URL") {
        let namespace = format!("bench-{}", std::process::id());
        let config = RedisConfig::from_url(&url).unwrap().with_namespace(namespace).unwrap();
        bench_store(c, &rt, "redis", Arc::new(rt.block_on(RedisStore::open(config)).unwrap()));
    } else {
        eprintln!("redis benches skipped: AIMDB_TEST_REDIS_URL is not set");
    }
    if let Ok(url) = std::env::var("AIMDB_TEST_MONGODB_URL") {
        let config =
            MongoConfig::from_url(&url).unwrap().with_database(format!("bench_{}", std::process::id()));
        bench_store(c, &rt, "mongodb", Arc::new(rt.block_on(MongoStore::open(config)).unwrap()));
    } else {
        eprintln!("mongodb benches skipped: AIMDB_TEST_MONGODB_URL is not set");
    }
}

criterion_group!(benches, stores);
criterion_main!(benches);
