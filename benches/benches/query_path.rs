//! The query path end to end on the embedded default (SQLite + FAISS, all-MiniLM-L6-v2 on
//! CPU): `search_similar_models` = embed the query + search the index + read the hits, each
//! part timed on its own and the whole, p50 and p99 over queries never asked before.
//!
//! `cargo xtask bench query_path` runs it on 100k models (`AIMDB_BENCH_MODELS` for another
//! size); `cargo xtask test` smoke-runs it on 200. The models' descriptions are spliced from
//! two of `fixtures/bench_texts.txt`'s sentences each (first words of one, last words of
//! another: distinct, sentence-like, 8-16 words); queries are spliced the other way round,
//! so none is a stored text. The database is built once per size, by the store and then the
//! open's self-repair (which embeds every model, with a progress bar), and kept in
//! `target/bench-data/query-path-N/`. Prints and writes `target/criterion/query-path-summary.json`.
//!
//! It also leaves the models' embeddings and 200 embedded queries as a real-text corpus for
//! the vector bench (`AIMDB_BENCH_DATA=target/bench-data/query-path-N/corpus`):
//! `vectors.f32` (in id order) and `queries.f32`, little-endian f32 rows of 384.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aimdb::Embedder;
use aimdb::prelude::*;
use aimdb_benches::{percentile, target_dir};
use aimdb_core::{Collection, ModelId, VectorFilter};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const K: usize = 10;
const MODEL: &str = "all-MiniLM-L6-v2";

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Queries timed per part: 200 when benchmarking, a few in the smoke run.
fn queries() -> usize {
    if benchmarking() { 200 } else { 5 }
}

fn size() -> usize {
    if let Some(n) = std::env::var("AIMDB_BENCH_MODELS").ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    if benchmarking() { 100_000 } else { 200 }
}

fn sentences() -> Vec<Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/bench_texts.txt");
    let text = fs::read_to_string(path).expect("fixtures/bench_texts.txt");
    text.lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
}

/// The first `head` words of sentence `a` and the last `tail` of sentence `b`.
fn splice(all: &[Vec<String>], a: usize, b: usize, head: usize, tail: usize) -> String {
    let (a, b) = (&all[a % all.len()], &all[b % all.len()]);
    let first = &a[..head.min(a.len())];
    let last = &b[b.len().saturating_sub(tail)..];
    first.iter().chain(last).map(String::as_str).collect::<Vec<_>>().join(" ")
}

/// Model `i`'s description: pairs (a, a + 1 + i / len) are distinct for i < len².
fn description(all: &[Vec<String>], i: usize) -> String {
    let a = i % all.len();
    splice(all, a, a + 1 + i / all.len(), 8, 8)
}

fn query(all: &[Vec<String>], i: usize) -> String {
    let a = (i * 7919) % all.len();
    splice(all, a + 3, a, 5, 5)
}

/// Held-out queries for the vector bench's corpus: spliced otherwise than [`query`] (six
/// words of each), so none is a text the timings ask (the embedder caches what it saw).
fn held_out(all: &[Vec<String>], i: usize) -> String {
    let a = (i * 7919 + 1) % all.len();
    splice(all, a + 11, a, 6, 6)
}

fn config(dir: &Path, model: &str) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.model = model.into();
    config.embedding.strict = true;
    // Every query first-time: the embedder's cache would answer repeats in microseconds.
    config.embedding.cache_size = 0;
    config
}

/// The database of `n` models, built on first use.
fn database(rt: &Runtime, n: usize) -> PathBuf {
    let dir = target_dir().join("bench-data").join(format!("query-path-{n}"));
    let done = dir.join("built");
    if done.exists() {
        return dir;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("bench dir");
    let all = sentences();
    rt.block_on(async {
        let store = aimdb::open_metadata_store(&config(&dir, MODEL)).await.expect("store");
        let frameworks = ["pytorch", "tensorflow", "jax", "sklearn", "xgboost"];
        for i in 0..n {
            let model = NewModel::new(format!("model-{i:06}"))
                .with_description(description(&all, i))
                .with_framework(frameworks[i % frameworks.len()]);
            store.create_model(model).await.expect("create model");
        }
        store.close().await.expect("close store");
        // The open finds n models the index lacks and embeds them all (progress bar).
        let db = create_ai_database(config(&dir, MODEL)).await.expect("open");
        db.optimize_index(Collection::Models).await.expect("optimize");
        db.close().await.expect("close");
    });
    fs::write(&done, "").expect("mark built");
    dir
}

/// Writes the corpus the vector bench reads: the models' vectors, from the index's exact
/// vectors file (`[id: i64][f32; dim]` records, the manifest names it), and embedded queries.
fn export_corpus(rt: &Runtime, db: &AiDatabase, dir: &Path, all: &[Vec<String>]) {
    let out = dir.join("corpus");
    if out.join("queries.f32").exists() {
        return;
    }
    fs::create_dir_all(&out).expect("corpus dir");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let models = &manifest["collections"]["models"];
    let dim = models["dim"].as_u64().expect("dim") as usize;
    let len = models["vectors_len"].as_u64().expect("vectors_len") as usize;
    let bytes = fs::read(dir.join(models["vectors_file"].as_str().expect("vectors_file"))).expect("vectors");
    // The last record of an id is its current vector.
    let mut rows = std::collections::BTreeMap::new();
    for record in bytes[..len].chunks_exact(8 + 4 * dim) {
        rows.insert(i64::from_le_bytes(record[..8].try_into().expect("id")), &record[8..]);
    }
    let vectors: Vec<u8> = rows.values().flat_map(|v| v.iter().copied()).collect();
    fs::write(out.join("vectors.f32"), vectors).expect("write vectors");
    let texts: Vec<String> = (0..200).map(|i| held_out(all, i)).collect();
    let queries = rt.block_on(db.embedder().embed(&texts)).expect("embed queries");
    let floats: Vec<u8> = queries.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    fs::write(out.join("queries.f32"), floats).expect("write queries");
}

fn summary(name: &str, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!("\"{name}_p50_ms\":{:.3},\"{name}_p99_ms\":{:.3}", percentile(&ms, 0.5), percentile(&ms, 0.99))
}

fn query_path(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    if let Err(e) =
        rt.block_on(aimdb_embed::TextEmbedder::new(config(Path::new("."), MODEL).embedding).identity())
    {
        eprintln!("query_path skipped: {e} (`cargo xtask fetch-model`)");
        return;
    }
    let n = size();
    let dir = database(&rt, n);
    let db = rt.block_on(create_ai_database(config(&dir, MODEL))).expect("open");
    let all = sentences();
    export_corpus(&rt, &db, &dir, &all);
    let index = db.index().expect("an index").clone();
    let identity = rt.block_on(db.embedder().identity()).expect("identity");
    let info = rt.block_on(index.info()).expect("info");
    let models = info.iter().find(|i| i.collection == Collection::Models).expect("models collection");
    assert_eq!(models.vectors as usize, n, "every model indexed");
    // Warm up: the model's first call allocates its buffers.
    rt.block_on(db.search_similar_models("warm up", K, &ModelFilter::default())).expect("search");

    let (mut embed, mut search, mut read, mut whole) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let ms = |start: Instant| start.elapsed().as_secs_f64() * 1e3;
    for i in 0..queries() {
        // The parts on one fresh query, the whole on another: none is answered twice.
        let text = query(&all, 2 * i);
        let start = Instant::now();
        let vectors = rt.block_on(db.embedder().embed(&[text])).expect("embed");
        embed.push(ms(start));
        let start = Instant::now();
        let hits = rt
            .block_on(index.search(Collection::Models, &identity, &vectors[0], K, &VectorFilter::default()))
            .expect("search");
        search.push(ms(start));
        let ids: Vec<ModelId> = hits.iter().map(|h| ModelId(h.id)).collect();
        let start = Instant::now();
        let found = rt.block_on(db.store().get_models_by_ids(&ids)).expect("read");
        read.push(ms(start));
        assert_eq!(found.len(), ids.len());

        let text = query(&all, 2 * i + 1);
        let start = Instant::now();
        let hits = rt.block_on(db.search_similar_models(&text, K, &ModelFilter::default())).expect("search");
        whole.push(ms(start));
        assert_eq!(hits.len(), K.min(n));
    }
    let line = format!(
        "{{\"models\":{n},\"index_kind\":\"{}\",\"nlist\":{},\"nprobe\":{},{},{},{},{}}}",
        models.index_kind,
        models.nlist.map_or("null".into(), |v| v.to_string()),
        models.nprobe.map_or("null".into(), |v| v.to_string()),
        summary("embed", embed),
        summary("search", search),
        summary("read", read),
        summary("end_to_end", whole),
    );
    eprintln!("query_path: {line}");
    let out = target_dir().join("criterion");
    fs::create_dir_all(&out).expect("criterion dir");
    fs::write(out.join("query-path-summary.json"), format!("{line}\n")).expect("summary");

    let mut group = c.benchmark_group("query_path");
    group.sample_size(20);
    let mut next = (10_000..).map(|i| query(&all, i));
    group.bench_function(format!("search_similar_models_{n}"), |b| {
        b.iter(|| {
            let text = next.next().expect("endless");
            rt.block_on(db.search_similar_models(&text, K, &ModelFilter::default())).expect("search")
        })
    });
    group.finish();
    rt.block_on(db.close()).expect("close");
}

criterion_group!(benches, query_path);
criterion_main!(benches);
