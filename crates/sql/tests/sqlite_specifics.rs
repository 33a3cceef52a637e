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
