//! FAISS index types on synthetic clustered vectors (no embedding: the index alone).

use std::path::Path;
use std::time::Instant;

use aimdb::config::{FaissConfig, IndexType};
use aimdb::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
use aimdb_testkit::synthetic::{Clustered, exact_top_k};
use aimdb_vector::FaissIndex;

use crate::Outcome;

const DIM: usize = 384;

fn embedder() -> EmbedderIdentity {
    EmbedderIdentity { kind: "demo".into(), model: "clustered".into(), dim: DIM }
}

fn data() -> Clustered {
    Clustered { dim: DIM, clusters: 200, spread: 0.5, subspace: 16, noise: 0.1, seed: 42 }
}

fn records(points: &[f32], first: i64) -> Vec<VectorRecord> {
    points
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| VectorRecord { id: first + i as i64, vector: v.to_vec(), metadata: Default::default() })
        .collect()
}

async fn info(index: &FaissIndex) -> aimdb::CollectionInfo {
    index
        .info()
        .await
        .expect("info")
        .into_iter()
        .find(|i| i.collection == Collection::Models)
        .expect("models")
}

/// Builds `index_type` over `n` vectors; prints build time, latency and recall@10.
async fn build_and_measure(dir: &Path, index_type: IndexType, n: usize) -> Outcome {
    let points = data().points(n, 1);
    let config = FaissConfig { index_type, ..FaissConfig::new(dir.join(format!("{index_type:?}"))) };
    let index = FaissIndex::open(&config).await?;
    let start = Instant::now();
    index.upsert(Collection::Models, &embedder(), records(&points, 1)).await?;
    let built = start.elapsed();
    let i = info(&index).await;
    println!(
        "  {:<6} {n} vectors: {} (nlist={:?}, nprobe={:?}, m={:?}) built in {:.1} s",
        format!("{index_type:?}").to_lowercase(),
        i.index_kind,
        i.nlist,
        i.nprobe,
        i.m,
        built.as_secs_f64()
    );
    let queries = data().points(50, 2);
    let (mut found, mut total_ms) = (0, 0.0);
    for q in queries.chunks_exact(DIM) {
        let truth: Vec<i64> = exact_top_k(&points, DIM, q, 10).iter().map(|&i| i as i64 + 1).collect();
        let start = Instant::now();
        let hits = index.search(Collection::Models, &embedder(), q, 10, &VectorFilter::default()).await?;
        total_ms += start.elapsed().as_secs_f64() * 1e3;
        found += hits.iter().filter(|h| truth.contains(&h.id)).count();
    }
    println!(
        "         mean query {:.2} ms, recall@10 {:.3} against exact search",
        total_ms / 50.0,
        found as f64 / 500.0
    );
    Ok(())
}

/// `auto`: exact below 10k vectors, IVF from 10k (trained once, automatically).
pub async fn auto(dir: &Path) -> Outcome {
    println!("FAISS auto: flat below 10k vectors, IVF from 10k, IVF-PQ above 1M\n");
    let index = FaissIndex::open(&FaissConfig::new(dir.join("auto"))).await?;
    let points = data().points(12_000, 1);
    for (step, chunk) in points.chunks(3_000 * DIM).enumerate() {
        index.upsert(Collection::Models, &embedder(), records(chunk, 1 + step as i64 * 3_000)).await?;
        let i = info(&index).await;
        println!("  {:>6} vectors: {} (trained {}, nlist {:?})", i.vectors, i.index_kind, i.trained, i.nlist);
    }
    let hits =
        index.search(Collection::Models, &embedder(), &points[..DIM], 1, &VectorFilter::default()).await?;
    println!(
        "\n  vector 1 finds itself after the move: id {} score {:.4}",
        hits[0].id, hits[0].similarity_score
    );
    index.flush().await?;
    Ok(())
}

pub async fn ivf(dir: &Path) -> Outcome {
    println!("FAISS IVF over 50k clustered 384-d vectors\n");
    build_and_measure(dir, IndexType::Ivf, 50_000).await
}

pub async fn ivfpq(dir: &Path) -> Outcome {
    println!("FAISS IVF-PQ over 100k clustered 384-d vectors (PQ codes, exact re-rank)\n");
    build_and_measure(dir, IndexType::IvfPq, 100_000).await
}

pub async fn compare(dir: &Path) -> Outcome {
    println!("FAISS flat vs IVF vs IVF-PQ, 50k clustered 384-d vectors\n");
    for index_type in [IndexType::Flat, IndexType::Ivf, IndexType::IvfPq] {
        build_and_measure(dir, index_type, 50_000).await?;
    }
    println!("\n  at 1M vectors see `cargo xtask bench` (README, Performance)");
    Ok(())
}
