//! TextEmbedder policy: fallback with a reason, strict mode, cache, order.

use aimdb_core::config::{EmbeddingConfig, EmbeddingDevice};
use aimdb_core::{Embedder, Error};
use aimdb_embed::{HashEmbedder, TextEmbedder, resolve};

fn config(model: &str) -> EmbeddingConfig {
    EmbeddingConfig { model: model.into(), ..EmbeddingConfig::default() }
}

#[tokio::test]
async fn missing_model_falls_back_to_hash_and_says_why() {
    let empty = tempfile::tempdir().unwrap();
    let embedder = TextEmbedder::new(config("all-MiniLM-L6-v2")).with_hub_cache(empty.path());
    let backend = embedder.backend().await.unwrap();
    assert!(backend.starts_with("hash (model=sha256) as fallback: "), "{backend}");
    assert!(backend.contains("fetch-model"), "the reason says how to fix it: {backend}");
    assert_eq!(embedder.identity().await.unwrap(), HashEmbedder::identity());
    let v = embedder.embed(&["x".to_owned()]).await.unwrap();
    assert_eq!(v[0], HashEmbedder::embed_one("x"));
}

#[tokio::test]
async fn strict_mode_makes_a_missing_model_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let strict = EmbeddingConfig { strict: true, ..config("all-MiniLM-L6-v2") };
    let embedder = TextEmbedder::new(strict).with_hub_cache(empty.path());
    match embedder.identity().await {
        Err(Error::Config { message, .. }) => assert!(message.contains("all-MiniLM-L6-v2"), "{message}"),
        other => panic!("expected a Config error, got {other:?}"),
    }
    assert!(embedder.embed(&["x".to_owned()]).await.is_err());
}

#[tokio::test]
async fn cuda_without_the_feature_is_explained() {
    if cfg!(feature = "cuda") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(dir.path().join(f), "{}").unwrap();
    }
    let strict = EmbeddingConfig {
        strict: true,
        device: EmbeddingDevice::Cuda,
        ..config(dir.path().to_str().unwrap())
    };
    let err = TextEmbedder::new(strict).identity().await.unwrap_err();
    assert!(err.to_string().contains("cuda"), "{err}");
}

#[test]
fn resolution_errors_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = resolve(dir.path().to_str().unwrap(), dir.path()).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
    let err = resolve("no-such-model", dir.path()).unwrap_err();
    assert!(err.to_string().contains("no-such-model"), "{err}");
    let err = resolve("org/model", dir.path()).unwrap_err();
    assert!(err.to_string().contains("org/model") && err.to_string().contains("fetch-model"), "{err}");
}

#[tokio::test]
async fn cache_is_bounded_and_order_is_kept() {
    let embedder = TextEmbedder::new(EmbeddingConfig { cache_size: 2, ..config("hash") });
    let texts: Vec<String> = ["c", "a", "b", "a", "", "c"].iter().map(|s| s.to_string()).collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    for (t, v) in texts.iter().zip(&vectors) {
        assert_eq!(*v, HashEmbedder::embed_one(t));
    }
    let off = TextEmbedder::new(EmbeddingConfig { cache_size: 0, ..config("hash") });
    assert_eq!(off.embed(&texts).await.unwrap(), vectors);
}
