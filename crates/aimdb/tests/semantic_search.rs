//! Semantic search through the facade: the `faiss` preset, filters, scores, reindex, and
//! the embedder check. The meaning-based case needs all-MiniLM-L6-v2 (`cargo xtask
//! fetch-model`); the rest use the hash embedder.

use aimdb::Collection;
use aimdb::prelude::*;

mod search_cases;

fn hash_config(dir: &std::path::Path) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.model = "hash".into();
    config
}

#[tokio::test]
async fn search_finds_by_meaning_with_minilm() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(search_cases::minilm_config(dir.path())).await.unwrap();
    if let Err(e) = db.embedder().identity().await {
        aimdb_testkit::skip(&format!("all-MiniLM-L6-v2 is not installed (cargo xtask fetch-model): {e}"));
        return;
    }
    search_cases::meaning(&db).await;
}

#[tokio::test]
async fn filters_scores_and_every_collection() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    search_cases::filters_scores_and_every_collection(&db).await;
}

#[tokio::test]
async fn batched_searches_answer_like_single_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    search_cases::batches(&db).await;
}

#[tokio::test]
async fn vectors_persist_and_a_lost_index_is_repaired_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    search_cases::catalog(&db).await;
    let before = db.search_similar_models("bert-base", 3, &ModelFilter::default()).await.unwrap();
    db.close().await.unwrap();

    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    assert_eq!(db.search_similar_models("bert-base", 3, &ModelFilter::default()).await.unwrap(), before);
    db.close().await.unwrap();

    // Lose the index files; the store still has everything.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("metadata.db") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    assert_eq!(db.search_similar_models("bert-base", 3, &ModelFilter::default()).await.unwrap(), before);
    let repair = db.get_statistics().await.unwrap().index.unwrap().last_repair.expect("repaired at open");
    assert_eq!((repair.added, repair.removed), (6, 0));

    // An index holding ids the store does not (files from another copy) loses them.
    let index = db.index().unwrap();
    let identity = db.embedder().identity().await.unwrap();
    let stray =
        aimdb::VectorRecord { id: 999, vector: vec![0.5; identity.dim], metadata: Default::default() };
    index.upsert(Collection::Models, &identity, vec![stray]).await.unwrap();
    let repair = db.repair_index().await.unwrap();
    assert_eq!((repair.added, repair.removed), (0, 1));
    assert!(!index.ids(Collection::Models).await.unwrap().contains(&999));

    let report = db.reindex().await.unwrap();
    assert_eq!((report.models, report.datasets, report.predictions), (6, 0, 0));
    assert_eq!(db.search_similar_models("bert-base", 3, &ModelFilter::default()).await.unwrap(), before);
    let info = db.optimize_index(Collection::Models).await.unwrap();
    assert_eq!((info.index_kind.as_str(), info.vectors), ("flat", 6));
}

#[tokio::test]
async fn another_embedder_is_refused_until_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    search_cases::catalog(&db).await;
    db.close().await.unwrap();

    // Same files, an embedder with another identity (a stand-in for switching models).
    let index = aimdb_vector::FaissIndex::open(&aimdb::config::FaissConfig::new(dir.path())).await.unwrap();
    let other =
        aimdb::EmbedderIdentity { kind: "transformer".into(), model: "all-MiniLM-L6-v2".into(), dim: 384 };
    let err =
        aimdb::VectorIndex::search(&index, Collection::Models, &other, &[0.1; 384], 1, &Default::default())
            .await
            .unwrap_err();
    assert!(err.to_string().contains("reindex"), "{err}");
}

#[tokio::test]
async fn search_without_an_index_says_how_to_get_one() {
    let db = create_ai_database(AimdbConfig::from_url("memory://")).await.unwrap();
    let err = db.search_similar_models("x", 1, &ModelFilter::default()).await.unwrap_err();
    assert!(err.to_string().contains("vectors:"), "{err}");
}
