//! The hash embedding matches the seed bit for bit.

use aimdb_core::Embedder;
use aimdb_embed::{HASH_DIM, HashEmbedder, TextEmbedder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    embedding: Vec<f64>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/hash_embedding_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn matches_the_seed_reference() {
    let reference = reference();
    assert!(reference.items.iter().any(|i| i.text.is_empty()), "the empty string is covered");
    for item in &reference.items {
        let ours = HashEmbedder::embed_one(&item.text);
        assert_eq!(ours.len(), HASH_DIM);
        for (i, (a, b)) in ours.iter().zip(&item.embedding).enumerate() {
            // The fixture is rounded to 7 decimals; byte/255 is exact to f32 precision.
            assert!((f64::from(*a) - b).abs() < 1e-7, "{:?}[{i}]: {a} vs {b}", item.text);
            let byte = (b * 255.0).round();
            assert_eq!(*a, (byte / 255.0) as f32, "{:?}[{i}] not byte/255", item.text);
        }
    }
}

#[tokio::test]
async fn selected_by_name_without_fallback() {
    let config = aimdb_core::config::EmbeddingConfig { model: "HASH".into(), ..Default::default() };
    let embedder = TextEmbedder::new(config);
    assert_eq!(embedder.backend().await.unwrap(), "hash (model=sha256)");
    let id = embedder.identity().await.unwrap();
    assert_eq!((id.kind.as_str(), id.dim), ("hash", 384));
    let texts = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()];
    let v = embedder.embed(&texts).await.unwrap();
    assert_eq!(v[0], v[2]);
    assert_ne!(v[0], v[1]);
    assert_eq!(v[0], HashEmbedder::embed_one("a"));
}
