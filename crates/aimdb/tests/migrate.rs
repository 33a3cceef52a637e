//! Migration through every backend this machine runs: SQLite -> PostgreSQL -> MariaDB ->
//! Redis -> MongoDB -> the `faiss` preset -> the `chromadb` preset -> memory, each hop
//! into a fresh database, each checked against the source through the public API. Servers
//! come from `cargo xtask services up` (missing ones skip locally and fail in CI).

use aimdb::config::VectorConfig;
use aimdb::prelude::*;
use aimdb::{ImportBatch, MigrateOptions, NewDataset, StoreStatistics};
use serde_json::json;
use sqlx::Connection;

fn quiet() -> MigrateOptions {
    // Small batches so that paging is exercised with a handful of records.
    MigrateOptions::default().with_progress(false).with_batch_size(2)
}

fn hash(mut config: AimdbConfig) -> AimdbConfig {
    config.embedding.model = "hash".into();
    config
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros())
}

/// `admin` with its database replaced by a new, empty one.
async fn fresh_sql(admin: &str) -> String {
    let name = unique("aimdb_mig");
    let create = sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"));
    if admin.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(create).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::MySqlConnection::connect(admin).await.unwrap();
        sqlx::query(create).execute(&mut conn).await.unwrap();
    }
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Every entity, with timestamps out of id order, JSON of every shape, unicode.
async fn populate(db: &AiDatabase) {
    let t0 = chrono::Utc::now() - chrono::Duration::days(30);
    let resnet = db
        .create_model(
            NewModel::new("resnet50").with_framework("pytorch").with_input_shape(json!([3, 224, 224])),
        )
        .await
        .unwrap();
    let bert = db.create_model(NewModel::new("bert-ü").with_framework("transformers")).await.unwrap();
    db.create_model(NewModel::new("xgboost")).await.unwrap();
    let v1 = db.create_model_version(NewModelVersion::new(resnet.id, "1.0")).await.unwrap();
    let v2 = db
        .create_model_version(NewModelVersion::new(resnet.id, "2.0").with_config(json!({"layers": 50})))
        .await
        .unwrap();
    let vb = db.create_model_version(NewModelVersion::new(bert.id, "base")).await.unwrap();
    let imagenet = db.create_dataset(NewDataset::new("imagenet").with_format("jpeg")).await.unwrap();
    db.create_dataset(NewDataset::new("glue").with_split_info(json!({"train": 0.8}))).await.unwrap();
    let mut runs = Vec::new();
    for (i, version) in [v1.id, v2.id, vb.id, v2.id].into_iter().enumerate() {
        let mut new =
            NewTrainingRun::new(version).with_started_at(t0 + chrono::Duration::hours(10 - i as i64));
        if i == 0 {
            new = new.with_dataset_id(imagenet.id).with_artifacts(json!(null));
        }
        let run = db.create_training_run(new).await.unwrap();
        db.log_hyperparameters(
            run.id,
            [("lr".into(), json!(0.1 / (i + 1) as f64)), ("opt".into(), json!("adam"))].into(),
        )
        .await
        .unwrap();
        let metrics = (0..5_i32)
            .map(|e| {
                NewMetric::new(if e % 2 == 0 { "loss" } else { "acc" }, 1.0 / f64::from(e + 1))
                    .with_epoch(i64::from(e))
            })
            .collect();
        db.log_metrics(run.id, metrics).await.unwrap();
        runs.push(run);
    }
    db.update_training_run(runs[0].id, TrainingRunUpdate::completed().with_final_loss(0.25)).await.unwrap();
    let unlinked =
        db.create_training_run(NewTrainingRun::without_version().with_run_name("mlflow")).await.unwrap();
    let sweep = db.create_experiment(NewExperiment::new("sweep")).await.unwrap();
    let tag = |k: &str, v: &str| [(k.to_owned(), v.to_owned())].into();
    db.set_tags(TagTarget::Model(resnet.id), tag("team", "vision")).await.unwrap();
    db.set_tags(TagTarget::ModelVersion(v2.id), tag("stage", "production")).await.unwrap();
    db.set_tags(TagTarget::TrainingRun(unlinked.id), tag("mlflow.runName", "crisp-owl-3")).await.unwrap();
    db.set_tags(TagTarget::Experiment(sweep.id), tag("goal", "lr")).await.unwrap();
    db.create_experiment(NewExperiment::new("empty")).await.unwrap();
    for run in [&runs[2], &runs[0]] {
        db.add_experiment_run(NewExperimentRun::new(sweep.id, run.id).with_variant_name("v")).await.unwrap();
    }
    let predictions = (0..5)
        .map(|i| {
            NewPrediction::new(v2.id, json!({"image": format!("{i}.jpg")}), json!({"label": "cat"}))
                .with_timestamp(t0 + chrono::Duration::minutes(5 - i))
                .with_confidence(0.9)
        })
        .collect();
    db.log_predictions(predictions).await.unwrap();
}

/// What a reader sees through the API, in the API's orders.
async fn snapshot(db: &AiDatabase) -> serde_json::Value {
    let models = db.list_models(Page::all()).await.unwrap();
    let mut versions = Vec::new();
    for m in &models {
        versions.push(db.get_model_versions(m.id).await.unwrap());
    }
    let runs = db.list_training_runs(Page::all()).await.unwrap();
    let mut children = Vec::new();
    let mut tags = Vec::new();
    for r in &runs {
        children
            .push((db.get_hyperparameters(r.id).await.unwrap(), db.get_metrics(r.id, None).await.unwrap()));
        tags.push(db.get_tags(TagTarget::TrainingRun(r.id)).await.unwrap());
    }
    for m in &models {
        tags.push(db.get_tags(TagTarget::Model(m.id)).await.unwrap());
    }
    for v in versions.iter().flatten() {
        tags.push(db.get_tags(TagTarget::ModelVersion(v.id)).await.unwrap());
    }
    let experiments = db.list_experiments(Page::all()).await.unwrap();
    let mut links = Vec::new();
    for x in &experiments {
        links.push(db.get_experiment_runs(x.id).await.unwrap());
        tags.push(db.get_tags(TagTarget::Experiment(x.id)).await.unwrap());
    }
    let newest = db.get_predictions(versions[0][0].id, 3).await.unwrap();
    json!({
        "models": models, "versions": versions, "datasets": db.list_datasets(Page::all()).await.unwrap(),
        "runs": runs, "children": children, "experiments": experiments, "links": links,
        "predictions": db.list_predictions(Page::all()).await.unwrap(), "newest": newest, "tags": tags,
    })
}

#[tokio::test]
async fn migrates_through_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let source = create_ai_database(hash(AimdbConfig::sqlite(dir.path().join("source.db")))).await.unwrap();
    populate(&source).await;
    let expected = source.get_statistics().await.unwrap().counts;
    let picture = snapshot(&source).await;

    let mut hops = Vec::new();
    let server = |var: &str| {
        let url = std::env::var(var).ok();
        if url.is_none() {
            aimdb_testkit::skip(&format!("migration hop: no {var}"));
        }
        url
    };
    if let Some(admin) = server("AIMDB_TEST_POSTGRES_URL") {
        hops.push(("postgres", AimdbConfig::from_url(fresh_sql(&admin).await)));
    }
    if let Some(admin) = server("AIMDB_TEST_MYSQL_URL") {
        hops.push(("mysql", AimdbConfig::from_url(fresh_sql(&admin).await)));
    }
    if let Some(url) = server("AIMDB_TEST_REDIS_URL") {
        hops.push(("redis", AimdbConfig::from_url(format!("{url}?namespace={}", unique("mig")))));
    }
    if let Some(url) = server("AIMDB_TEST_MONGODB_URL") {
        let (base, _) = url.rsplit_once('/').unwrap();
        hops.push(("mongodb", AimdbConfig::from_url(format!("{base}/{}", unique("aimdb_mig")))));
    }
    hops.push(("faiss", AimdbConfig::faiss(dir.path().join("faiss"))));
    if let Some(url) = server("AIMDB_TEST_CHROMA_URL") {
        let mut config = AimdbConfig::chromadb(dir.path().join("chroma"), url);
        if let Some(VectorConfig::Chroma(chroma)) = &mut config.vectors {
            chroma.database = unique("mig");
        }
        hops.push(("chromadb", config));
    }
    hops.push(("memory", AimdbConfig::from_url("memory://")));

    let mut previous = source;
    for (name, config) in hops {
        let target = create_ai_database(hash(config)).await.unwrap();
        let report = target.migrate_from(&previous, quiet()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("migrated into {name}: {} records checked", report.verified);
        assert_eq!(report.written, expected, "{name}: everything written once");
        assert_eq!(report.target, expected, "{name}");
        assert!(report.verified >= 40, "{name}: {report:?}");
        assert_eq!(snapshot(&target).await, picture, "{name}: same records, ids and orders");
        if target.index().is_some() {
            let index = report.index.unwrap_or_else(|| panic!("{name}: index rebuilt"));
            assert_eq!((index.models, index.datasets, index.predictions), (3, 2, 5), "{name}");
            let hits =
                target.search_similar_models("resnet50 pytorch", 1, &ModelFilter::default()).await.unwrap();
            assert_eq!(hits[0].item.name, "resnet50", "{name}: the copy is searchable");
        }

        // Again into the same database: refused, then allowed and a no-op. (That new ids
        // continue after imported ones is a conformance case of every store.)
        let refused = target.migrate_from(&previous, quiet()).await;
        assert!(
            matches!(&refused, Err(Error::InvalidInput { field, .. }) if field == "target"),
            "{refused:?}"
        );
        let again = target.migrate_from(&previous, quiet().with_allow_non_empty(true)).await.unwrap();
        assert_eq!(again.written, StoreStatistics::default(), "{name}: a re-run writes nothing");
        previous.close().await.unwrap();
        previous = target;
    }
}

/// An interrupted migration resumes: what is already there is kept, the rest is copied.
#[tokio::test]
async fn an_interrupted_migration_resumes() {
    let source = create_ai_database(hash(AimdbConfig::from_url("memory://"))).await.unwrap();
    populate(&source).await;
    let target = create_ai_database(hash(AimdbConfig::from_url("memory://"))).await.unwrap();
    // As if the first run stopped after the first page of models and one run's metrics.
    let first = source.list_models(Page::first(2)).await.unwrap();
    target.import(ImportBatch::Models(first)).await.unwrap();
    let report = target.migrate_from(&source, quiet().with_allow_non_empty(true)).await.unwrap();
    assert_eq!(report.written.models, 1);
    assert_eq!(report.target, source.get_statistics().await.unwrap().counts);
    assert_eq!(snapshot(&target).await, snapshot(&source).await);

    // What the target holds is kept, never overwritten: a changed hyperparameter fails the
    // check by name.
    let run = source.list_training_runs(Page::first(1)).await.unwrap().remove(0);
    target.log_hyperparameters(run.id, [("lr".to_owned(), json!(42))].into()).await.unwrap();
    let err = target.migrate_from(&source, quiet().with_allow_non_empty(true)).await.unwrap_err();
    assert!(err.to_string().contains("hyperparameter `lr`"), "{err}");
    assert_eq!(target.get_hyperparameters(run.id).await.unwrap()["lr"], json!(42));

    // A target whose records differ from the source's fails the check, naming the record.
    let other = create_ai_database(hash(AimdbConfig::from_url("memory://"))).await.unwrap();
    let mut model = source.get_model_by_name("xgboost").await.unwrap();
    model.description = Some("not the same".into());
    other.import(ImportBatch::Models(vec![model])).await.unwrap();
    let err = other.migrate_from(&source, quiet().with_allow_non_empty(true)).await.unwrap_err();
    assert!(err.to_string().contains("model 3 differs"), "{err}");
}
