//! Which embedder runs, and what its similarities look like.

use std::path::Path;

use aimdb::prelude::*;

use crate::{Outcome, QUERIES, describe_embedder, load_catalogue};

pub async fn run(dir: &Path) -> Outcome {
    let db = create_ai_database(AimdbConfig::faiss(dir)).await?;
    println!("FAISS embedding backend: {}", describe_embedder(&db).await);
    let identity = db.embedder().identity().await?;
    println!("  dimension {}, vectors unit-length, cached in an LRU\n", identity.dim);
    let pairs = [
        ("a photo of a cat", "an image of a kitten"),
        ("a photo of a cat", "quarterly revenue grew 4%"),
        ("speech recognition", "transcribe spoken audio"),
    ];
    for (a, b) in pairs {
        let v = db.embedder().embed(&[a.to_owned(), b.to_owned()]).await?;
        let cosine: f32 = v[0].iter().zip(&v[1]).map(|(x, y)| x * y).sum();
        println!("  cos({a:?}, {b:?}) = {cosine:.3}");
    }
    load_catalogue(&db).await?;
    println!();
    for query in QUERIES {
        let hits = db.search_similar_models(query, 1, &ModelFilter::default()).await?;
        println!("  \"{query}\" -> {} ({:.3})", hits[0].item.name, hits[0].similarity_score);
    }
    if identity.kind == "hash" {
        println!(
            "\n  (the hash fallback only matches identical texts; `cargo xtask fetch-model` installs the model)"
        );
    }
    db.close().await?;
    Ok(())
}
