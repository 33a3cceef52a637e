//! The `chromadb` preset, and ChromaDB vs FAISS on the same data.

use std::path::Path;
use std::time::Instant;

use aimdb::prelude::*;

use crate::{CATALOGUE, Outcome, QUERIES, describe_embedder, load_catalogue};

fn chroma_url() -> String {
    std::env::var("AIMDB_CHROMA_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".to_owned())
}

/// The chromadb preset, or `None` after a notice when no server answers.
async fn open_chroma(dir: &Path) -> Result<Option<AiDatabase>, Box<dyn std::error::Error>> {
    let url = chroma_url();
    let mut config = AimdbConfig::chromadb(dir.join("chroma"), &url);
    if let Some(aimdb::config::VectorConfig::Chroma(chroma)) = &mut config.vectors {
        chroma.database = format!("aimdb_demo_{}", std::process::id());
    }
    match create_ai_database(config).await {
        Ok(db) => Ok(Some(db)),
        Err(e) if e.is_retryable() => {
            println!(
                "No Chroma server answers at {url} ({e}).\nStart one (`cargo xtask services up chromadb`, or \
                 `chroma run --port 8000`) and set AIMDB_CHROMA_URL to its URL."
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn run(dir: &Path) -> Outcome {
    let Some(db) = open_chroma(dir).await? else { return Ok(()) };
    println!("aimdb demo: SQLite metadata + Chroma at {}", chroma_url());
    println!("Chroma embedding backend: {}\n", describe_embedder(&db).await);
    load_catalogue(&db).await?;
    for query in QUERIES {
        let hits = db.search_similar_models(query, 2, &ModelFilter::default()).await?;
        let found: Vec<String> =
            hits.iter().map(|h| format!("{} ({:.3})", h.item.name, h.similarity_score)).collect();
        println!("  \"{query}\" -> {}", found.join(", "));
    }
    let filter = ModelFilter::default().with_framework("pytorch");
    let hits = db.search_similar_models("image recognition deep learning", 3, &filter).await?;
    println!(
        "  pytorch only (filtered in Chroma): {}",
        hits.iter().map(|h| h.item.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    db.index().expect("chroma").reset().await?;
    db.close().await?;
    Ok(())
}

pub async fn compare(dir: &Path) -> Outcome {
    let Some(chroma) = open_chroma(dir).await? else { return Ok(()) };
    let faiss = create_ai_database(AimdbConfig::faiss(dir.join("faiss"))).await?;
    println!("ChromaDB vs FAISS, {} models, embedder {}\n", CATALOGUE.len(), describe_embedder(&faiss).await);
    for (name, db) in [("chroma", &chroma), ("faiss", &faiss)] {
        let start = Instant::now();
        load_catalogue(db).await?;
        println!("  {name}: created and indexed in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    }
    for query in QUERIES {
        println!("\n  \"{query}\"");
        for (name, db) in [("chroma", &chroma), ("faiss", &faiss)] {
            let start = Instant::now();
            let hits = db.search_similar_models(query, 3, &ModelFilter::default()).await?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let found: Vec<String> =
                hits.iter().map(|h| format!("{} {:.4}", h.item.name, h.similarity_score)).collect();
            println!("    {name:>6} ({ms:5.1} ms): {}", found.join(" | "));
        }
    }
    println!("\nSame order, same scores: both report (1 + cosine) / 2 over the same vectors.");
    chroma.index().expect("chroma").reset().await?;
    chroma.close().await?;
    faiss.close().await?;
    Ok(())
}
