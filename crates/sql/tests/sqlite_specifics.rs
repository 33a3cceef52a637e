//! SQLite behaviour beyond the shared suite: runtimes, URLs, files, busy writers.

use aimdb_core::{Error, MetadataStore, NewMetric, NewModel, NewModelVersion, NewTrainingRun};
use aimdb_sql::{SqliteConfig, SqliteStore};

async fn store_with_metrics(store: &SqliteStore) -> aimdb_core::TrainingRunId {
    let model = store.create_model(NewModel::new("m")).await.unwrap();
    let version = store.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
    let run = store.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
    let points =
        (0..3_000).map(|i| NewMetric::new(if i % 3 == 0 { "loss" } else { "acc" }, f64::from(i))).collect();
    store.log_metrics(run.id, points).await.unwrap();
    run.id
}

/// The bulk metric read runs inline on a current-thread runtime (no block_in_place there).
#[tokio::test(flavor = "current_thread")]
async fn get_metrics_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("a.db"))).await.unwrap();
    let run = store_with_metrics(&store).await;
    let all = store.get_metrics(run, None).await.unwrap();
    assert_eq!(all.len(), 3_000);
    assert!(all.iter().enumerate().all(|(i, m)| m.metric_value == i as f64));
    assert_eq!(store.get_metrics(run, Some("loss")).await.unwrap().len(), 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_and_nested_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c/aimdb.db");
    let store = SqliteStore::connect(&format!("sqlite://{}", nested.display())).await.unwrap();
    store_with_metrics(&store).await;
    store.close().await.unwrap();
    assert!(nested.exists(), "parent directories are created");
    assert!(SqliteStore::connect("sqlite::memory:").await.is_ok());
    assert!(SqliteStore::connect("sqlite://:memory:").await.is_ok());
    for bad in ["postgres://x", "sqlite://", "sqlite:"] {
        assert!(matches!(SqliteConfig::from_url(bad), Err(Error::Config { .. })), "{bad}");
    }
    let missing = SqliteConfig::new(dir.path().join("nope/x.db")).with_create_if_missing(false);
    assert!(SqliteStore::open(missing).await.is_err());
}

/// Two stores on one file (as two processes would be) both write; WAL and
/// BEGIN IMMEDIATE with a busy timeout serialise them without errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_both_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SqliteStore::open(SqliteConfig::new(&path)).await.unwrap();
    let b = SqliteStore::open(SqliteConfig::new(&path)).await.unwrap();
    let run = store_with_metrics(&a).await;
    let write = |store: SqliteStore, tag: &'static str| {
        tokio::spawn(async move {
            for i in 0..50 {
                store.create_model(NewModel::new(format!("{tag}{i}"))).await.unwrap();
                store.log_metrics(run, vec![NewMetric::new(tag, f64::from(i)); 20]).await.unwrap();
            }
        })
    };
    let (ra, rb) = tokio::join!(write(a.clone(), "a"), write(b.clone(), "b"));
    ra.unwrap();
    rb.unwrap();
    let stats = b.statistics().await.unwrap();
    assert_eq!((stats.models, stats.metrics), (101, 3_000 + 2 * 50 * 20));
}

/// A file written by the first schema (runs needed a version) upgrades in place: rows,
/// references and the id sequence survive, and runs without a version work after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_the_first_schema_upgrades_in_place() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true).foreign_keys(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let source = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"));
        let mut first = sqlx::migrate::Migrator::new(source).await.unwrap();
        first.migrations =
            first.migrations.iter().filter(|m| m.version == 1).cloned().collect::<Vec<_>>().into();
        first.run(&pool).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO models (id, name, created_at, updated_at) VALUES (1, 'm', 0, 0);
             INSERT INTO model_versions (id, model_id, version, created_at) VALUES (1, 1, '1', 0);
             INSERT INTO training_runs (id, model_version_id, status, started_at) VALUES
                 (1, 1, 'completed', 5), (2, 1, 'started', 6), (3, 1, 'started', 7);
             INSERT INTO metrics (training_run_id, metric_name, metric_value, timestamp) VALUES (1, 'loss', 0.5, 8);
             INSERT INTO hyperparameters (training_run_id, name, value) VALUES (1, 'lr', '0.01');
             DELETE FROM training_runs WHERE id = 3;",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = SqliteStore::open(SqliteConfig::new(&path)).await.unwrap();
    let old = store.get_training_run(1.into()).await.unwrap();
    assert_eq!((old.model_version_id, old.status.as_str()), (Some(1.into()), "completed"));
    assert_eq!(store.get_metrics(1.into(), None).await.unwrap().len(), 1);
    assert_eq!(store.get_hyperparameters(1.into()).await.unwrap().len(), 1);
    assert_eq!(store.statistics().await.unwrap().completed_runs, 1);
    let new = store.create_training_run(NewTrainingRun::without_version()).await.unwrap();
    assert_eq!((new.id.get(), new.model_version_id), (4, None), "id 3 stays used");
    assert!(matches!(
        store.log_metrics(99.into(), vec![NewMetric::new("loss", 1.0)]).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        store.create_training_run(NewTrainingRun::new(99.into())).await.is_err(),
        "the version reference is still checked"
    );
    store.close().await.unwrap();
    // Opened again: nothing left to migrate, nothing changed.
    let again = SqliteStore::open(SqliteConfig::new(&path)).await.unwrap();
    assert_eq!(again.get_training_run(4.into()).await.unwrap(), new);
}

/// Creates alone keep the WAL bounded: SQLite's auto-checkpoint (every 1,000 pages) runs
/// only when a statement steps to its end, which an insert read for its id must do too.
/// Before, 1M models left a 13 GB WAL and an empty database file until the store closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_alone_keep_the_wal_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creates.db");
    let store = SqliteStore::open(SqliteConfig::new(&path)).await.unwrap();
    for i in 0..3_000 {
        store
            .create_model(NewModel::new(format!("model-{i}")).with_description("x".repeat(200)))
            .await
            .unwrap();
    }
    let wal = std::fs::metadata(dir.path().join("creates.db-wal")).map_or(0, |m| m.len());
    let main = std::fs::metadata(&path).unwrap().len();
    // ~13 KB of WAL per create: 40 MB unchecked; a checkpoint every 1,000 pages keeps it ~4 MB.
    assert!(wal < 12 << 20, "WAL {wal} bytes after 3,000 creates: not checkpointed");
    assert!(main > 256 << 10, "database file {main} bytes: the checkpoints folded nothing back");
    assert_eq!(store.statistics().await.unwrap().models, 3_000);
}
