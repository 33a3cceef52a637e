//! Migration throughput: a SQLite database of ~17k records (200 models, 400 versions,
//! 50 datasets, 100 runs with 10 hyperparameters and 100 metrics each, 10 experiments
//! with 10 runs each, 5,000 predictions) copied and checked into a fresh SQLite file,
//! and into each server whose `AIMDB_TEST_*_URL` is set (a fresh database each time).
//! No vector index on the target: this is the store-to-store part of `aimdb migrate`.

use std::time::{Duration, Instant};

use aimdb::prelude::*;
use aimdb::{MigrateOptions, NewDataset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use sqlx::Connection;
use tokio::runtime::Runtime;

async fn populate(db: &AiDatabase) {
    let mut versions = Vec::new();
    for m in 0..200 {
        let model =
            db.create_model(NewModel::new(format!("model-{m}")).with_framework("pytorch")).await.unwrap();
        for v in 0..2 {
            versions.push(
                db.create_model_version(NewModelVersion::new(model.id, format!("{v}.0"))).await.unwrap(),
            );
        }
    }
    for d in 0..50 {
        db.create_dataset(NewDataset::new(format!("dataset-{d}")).with_split_info(json!({"train": 0.8})))
            .await
            .unwrap();
    }
    let mut runs = Vec::new();
    for (r, version) in versions.iter().take(100).enumerate() {
        let run = db.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
        db.log_hyperparameters(run.id, (0..10).map(|i| (format!("p{i}"), json!(i * r))).collect())
            .await
            .unwrap();
        db.log_metrics(
            run.id,
            (0..100_i32)
                .map(|s| NewMetric::new("loss", 1.0 / f64::from(s + 1)).with_step(i64::from(s)))
                .collect(),
        )
        .await
        .unwrap();
        runs.push(run);
    }
    for x in 0..10 {
        let experiment = db.create_experiment(NewExperiment::new(format!("experiment-{x}"))).await.unwrap();
        for run in &runs[x * 10..x * 10 + 10] {
            db.add_experiment_run(NewExperimentRun::new(experiment.id, run.id)).await.unwrap();
        }
    }
    for version in &versions[..10] {
        let batch = (0..500)
            .map(|i| {
                NewPrediction::new(version.id, json!({"i": i}), json!({"label": "cat"})).with_confidence(0.9)
            })
            .collect();
        db.log_predictions(batch).await.unwrap();
    }
}

fn fresh_name() -> String {
    format!("aimdb_bench_{}_{}", std::process::id(), now_nanos())
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// A URL for a new, empty database of the server named by `var`.
async fn fresh(var: &str, dir: &std::path::Path) -> Option<String> {
    if var == "sqlite" {
        return Some(format!("sqlite://{}", dir.join(format!("{}.db", fresh_name())).display()));
    }
    let url = std::env::var(var).ok()?;
    let name = fresh_name();
    let (base, _) = url.rsplit_once('/').unwrap();
    Some(match var {
        "AIMDB_TEST_POSTGRES_URL" | "AIMDB_TEST_MYSQL_URL" => {
            let create = sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"));
            if url.starts_with("postgres") {
                sqlx::query(create)
                    .execute(&mut sqlx::PgConnection::connect(&url).await.unwrap())
                    .await
                    .unwrap();
            } else {
                sqlx::query(create)
                    .execute(&mut sqlx::MySqlConnection::connect(&url).await.unwrap())
                    .await
                    .unwrap();
            }
            format!("{base}/{name}")
        }
        "AIMDB_TEST_REDIS_URL" => format!("{url}?namespace={name}"),
        _ => format!("{base}/{name}"),
    })
}

fn migrate(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = rt.block_on(async {
        let db = create_ai_database(AimdbConfig::sqlite(dir.path().join("source.db"))).await.unwrap();
        populate(&db).await;
        db
    });
    let counts = rt.block_on(source.get_statistics()).unwrap().counts;
    let records = counts.models
        + counts.model_versions
        + counts.datasets
        + counts.training_runs
        + counts.hyperparameters
        + counts.metrics
        + counts.experiments
        + counts.experiment_runs
        + counts.predictions;
    let mut group = c.benchmark_group("migrate");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    let targets = [
        ("sqlite", "sqlite"),
        ("postgres", "AIMDB_TEST_POSTGRES_URL"),
        ("mysql", "AIMDB_TEST_MYSQL_URL"),
        ("redis", "AIMDB_TEST_REDIS_URL"),
        ("mongodb", "AIMDB_TEST_MONGODB_URL"),
    ];
    for (name, var) in targets {
        if rt.block_on(fresh(var, dir.path())).is_none() {
            eprintln!("migrate/sqlite_to_{name} skipped: no {var}");
            continue;
        }
        group.bench_function(format!("sqlite_to_{name}_17k"), |b| {
            b.iter_custom(|iterations| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let url = fresh(var, dir.path()).await.unwrap();
                        let target = create_ai_database(AimdbConfig::from_url(url)).await.unwrap();
                        let options = MigrateOptions::default().with_progress(false);
                        let start = Instant::now();
                        target.migrate_from(&source, options).await.unwrap();
                        total += start.elapsed();
                        target.close().await.unwrap();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, migrate);
criterion_main!(benches);
