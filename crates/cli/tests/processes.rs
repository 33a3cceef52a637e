//! Several real OS processes on one embedded database: the CLI in parallel loops on one
//! `faiss` preset directory, a process killed with SIGKILL in the middle of an ingestion, and
//! SQLite alone with many writer processes.
//!
//! The child processes are the `aimdb` binary, or this test binary run again with
//! `AIMDB_TEST_CHILD` set (then only `child` does anything: it is the child's whole program).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use aimdb::prelude::*;
use aimdb::{Collection, VectorIndex};
use aimdb_core::config::FaissConfig;

const CHILD: &str = "AIMDB_TEST_CHILD";

/// One test at a time: each starts several processes, and two cores shared by all of them
/// would stretch the moment between a store commit and its index write far beyond real use.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn faiss_config(dir: &Path) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.model = "hash".into();
    config
}

/// The text a model with only a name and description is embedded as.
fn model_text(name: &str, description: &str) -> String {
    format!("{name} {description}")
}

/// Runs this test binary again as a child doing `task`.
fn spawn_child(task: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", "child", "--nocapture", "--test-threads", "1"]).env(CHILD, task);
    // The child's own test-harness lines must not mix into this run's output.
    command.stdout(Stdio::null());
    command
}

/// The children's program; a no-op in a normal test run.
#[tokio::test]
async fn child() {
    let Ok(task) = std::env::var(CHILD) else { return };
    let parts: Vec<&str> = task.split('|').collect();
    match parts[..] {
        ["ingest", dir] => {
            let db = create_ai_database(faiss_config(Path::new(dir))).await.unwrap();
            for i in 0..100_000 {
                let name = format!("model-{i:06}");
                db.create_model(NewModel::new(&name).with_description("ingested")).await.unwrap();
                // Reported only once stored: the parent kills after some report.
                println!("stored {name}");
            }
        }
        ["sqlite", url, worker, writes] => {
            let db = create_ai_database(AimdbConfig::from_url(url)).await.unwrap();
            let writes: usize = writes.parse().unwrap();
            for i in 0..writes {
                let model = db.create_model(NewModel::new(format!("w{worker}-{i}"))).await.unwrap();
                let version = db.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
                let run = db.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
                let points = (0..10).map(|step| NewMetric::new("loss", 1.0 / f64::from(step + 1))).collect();
                db.log_metrics(run.id, points).await.unwrap();
            }
            db.close().await.unwrap();
        }
        _ => panic!("unknown child task {task}"),
    }
}

/// The raw index, without the database's self-repair, to see what the writers left.
async fn indexed_ids(dir: &Path) -> Vec<i64> {
    let index = aimdb_vector::FaissIndex::open(&FaissConfig::new(dir)).await.unwrap();
    index.ids(Collection::Models).await.unwrap()
}

async fn stored_ids(dir: &Path) -> Vec<i64> {
    let store = aimdb::open_metadata_store(&faiss_config(dir)).await.unwrap();
    let ids = store.list_models(Page::all()).await.unwrap().iter().map(|m| m.id.get()).collect();
    store.close().await.unwrap();
    ids
}

#[tokio::test]
async fn cli_processes_in_parallel_lose_no_vector_and_report_no_false_failure() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faiss");
    let config = dir.path().join("faiss.yaml");
    std::fs::write(&config, format!("backend: faiss\nindex_path: {}\n", data.display())).unwrap();
    const LOOPS: usize = 3;
    const EACH: usize = 15;
    let loops: Vec<_> = (0..LOOPS)
        .map(|worker| {
            let config = config.clone();
            std::thread::spawn(move || {
                (0..EACH)
                    .map(|i| {
                        let name = format!("loop{worker}-model{i}");
                        let output = Command::new(env!("CARGO_BIN_EXE_aimdb"))
                            .args(["--config", config.to_str().unwrap(), "models", "create", &name])
                            .args(["--description", "made by a shell loop"])
                            .env("EMBEDDING_MODEL_NAME", "hash")
                            .env_remove("AIMDB_DATABASE_URL")
                            .output()
                            .unwrap();
                        (name, output)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut names = Vec::new();
    for handle in loops {
        for (name, output) in handle.join().unwrap() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "`models create {name}` failed: {stderr}");
            assert!(!stderr.contains("disagreed"), "no repair was needed: {stderr}");
            names.push(name);
        }
    }

    // What the processes left, read without any repair.
    let stored = stored_ids(&data).await;
    assert_eq!(stored.len(), LOOPS * EACH);
    assert_eq!(indexed_ids(&data).await, stored, "every stored model has its vector");

    let db = create_ai_database(faiss_config(&data)).await.unwrap();
    let stats = db.get_statistics().await.unwrap();
    assert_eq!(stats.index.unwrap().last_repair, None, "nothing to repair at open");
    for name in names {
        let hits = db
            .search_similar_models(&model_text(&name, "made by a shell loop"), 1, &ModelFilter::default())
            .await
            .unwrap();
        assert_eq!(hits[0].item.name, name);
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_process_killed_mid_ingestion_leaves_a_database_that_opens_whole() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faiss");
    let mut ingest =
        spawn_child(&format!("ingest|{}", data.display())).stdout(Stdio::piped()).spawn().unwrap();
    let lines = BufReader::new(ingest.stdout.take().unwrap()).lines();
    let mut reported = 0;
    for line in lines {
        if line.unwrap().starts_with("stored ") {
            reported += 1;
            if reported == 3_000 {
                break;
            }
        }
    }
    assert_eq!(reported, 3_000, "the child stopped early");
    ingest.kill().unwrap(); // SIGKILL: no destructor, no flush
    ingest.wait().unwrap();

    let db = create_ai_database(faiss_config(&data)).await.unwrap();
    let stats = db.get_statistics().await.unwrap();
    let index = stats.index.unwrap();
    assert!(stats.counts.models >= 3_000, "{}", stats.counts.models);
    assert_eq!(index.collections[0].vectors, stats.counts.models, "counts agree after open");
    eprintln!("after SIGKILL at {} models: {:?}", stats.counts.models, index.last_repair);
    if let Some(repair) = &index.last_repair {
        // At most the record whose vector was on its way when the process died.
        assert!(repair.added <= 1 && repair.removed == 0, "{repair:?}");
    }
    let last = db.list_models(Page::all()).await.unwrap();
    for model in last.iter().rev().take(5) {
        let hits = db
            .search_similar_models(&model_text(&model.name, "ingested"), 1, &ModelFilter::default())
            .await
            .unwrap();
        assert_eq!(hits[0].item.id, model.id, "{} is found", model.name);
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_writer_processes_all_succeed() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let _serial = SERIAL.lock().await;
    const WORKERS: usize = 6;
    const WRITES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    // A new file: the processes also race to create and migrate it.
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let children: Vec<_> = (0..WORKERS)
        .map(|w| spawn_child(&format!("sqlite|{url}|{w}|{WRITES}")).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    for c in children {
        let output = c.wait_with_output().unwrap();
        assert!(output.status.success(), "a writer failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let db = create_ai_database(AimdbConfig::from_url(&url)).await.unwrap();
    let stats = db.get_statistics().await.unwrap();
    let total = (WORKERS * WRITES) as u64;
    assert_eq!(
        (stats.counts.models, stats.counts.training_runs, stats.counts.metrics),
        (total, total, 10 * total)
    );
    for w in 0..WORKERS {
        db.get_model_by_name(&format!("w{w}-{}", WRITES - 1)).await.unwrap();
    }
    db.close().await.unwrap();
}
