//! The embedded default (SQLite + FAISS in one directory): what sharing the directory between
//! processes costs a single process, and how long self-repair takes.
//!
//! - `embedded/create_model_hash`: one `create_model` on the `faiss` preset with the hash
//!   embedder: store, embed, lock the index directory, append to the journal.
//! - `embedded/repair_10k_{hash,minilm}`: open a database whose store holds 10k models its
//!   index lacks (a crash between the two, say): the open embeds and adds all of them.
//!
//! `cargo xtask bench embedded` runs them in release; `cargo xtask test` runs each once (on
//! 200 records instead of 10k).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use aimdb::Embedder;
use aimdb::prelude::*;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

fn config(dir: &Path, model: &str) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.model = model.into();
    config.embedding.strict = true;
    config
}

/// 10k when benchmarking, a few in `cargo test --benches`.
fn repair_size() -> u64 {
    if std::env::args().any(|a| a == "--bench") { 10_000 } else { 200 }
}

fn create_model(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let db = rt.block_on(create_ai_database(config(dir.path(), "hash"))).unwrap();
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("embedded");
    group.throughput(Throughput::Elements(1));
    group.bench_function("create_model_hash", |b| {
        b.to_async(rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let model = NewModel::new(format!("model-{n}")).with_description("a residual network for images");
            db.create_model(model).await.unwrap()
        })
    });
    group.finish();
    rt.block_on(db.close()).unwrap();
}

/// A preset directory whose store holds `n` models and whose index holds none of them.
fn unindexed(rt: &Runtime, n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let store = aimdb::open_metadata_store(&config(dir.path(), "hash")).await.unwrap();
        for i in 0..n {
            let model = NewModel::new(format!("model-{i}"))
                .with_description(format!("model number {i}, trained for image recognition"))
                .with_framework("pytorch");
            store.create_model(model).await.unwrap();
        }
        store.close().await.unwrap();
    });
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn repair(c: &mut Criterion, rt: &Runtime, model: &str) {
    let n = repair_size();
    // Skipped, not failed, where the model is not installed (`cargo xtask fetch-model`).
    if let Err(e) =
        rt.block_on(aimdb_embed::TextEmbedder::new(config(Path::new("."), model).embedding).identity())
    {
        eprintln!("embedded/repair_{model} skipped: {e}");
        return;
    }
    let template = unindexed(rt, n);
    let name = if model == "hash" { "hash" } else { "minilm" };
    let mut group = c.benchmark_group("embedded");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function(format!("repair_{n}_{name}"), |b| {
        b.to_async(rt).iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                copy_dir(template.path(), dir.path());
                dir
            },
            |dir| async move {
                let db = create_ai_database(config(dir.path(), model)).await.unwrap();
                let repair = db.get_statistics().await.unwrap().index.unwrap().last_repair.unwrap();
                assert_eq!(repair.added, n);
                db.close().await.unwrap();
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    create_model(c, &rt);
    repair(c, &rt, "hash");
    repair(c, &rt, "all-MiniLM-L6-v2");
}

criterion_group!(embedded, benches);
criterion_main!(embedded);
