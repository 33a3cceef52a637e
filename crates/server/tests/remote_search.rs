//! Semantic search through a remote database: the facade's own search cases (shared source),
//! run by a client whose store is a real server; the server embeds, indexes and searches.

mod common;
#[path = "../../aimdb/tests/search_cases/mod.rs"]
mod search_cases;

use aimdb::{Collection, MetadataStore, ModelFilter, NewModel};
use aimdb_server::ServerConfig;

#[tokio::test]
async fn filters_scores_and_every_collection_through_http() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::serve(common::faiss_config(dir.path()), ServerConfig::new()).await;
    let db = common::client(addr).await;
    assert!(db.index().is_none(), "the client holds no index: the server searches");
    search_cases::filters_scores_and_every_collection(&db).await;
}

#[tokio::test]
async fn batched_searches_through_http() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::serve(common::faiss_config(dir.path()), ServerConfig::new()).await;
    search_cases::batches(&common::client(addr).await).await;
}

#[tokio::test]
async fn search_finds_by_meaning_through_http() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::serve(search_cases::minilm_config(dir.path()), ServerConfig::new()).await;
    let db = common::client(addr).await;
    if !search_cases::has_minilm(&db).await {
        return;
    }
    search_cases::meaning(&db).await;
}

#[tokio::test]
async fn reindex_and_optimize_through_http() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::serve(common::faiss_config(dir.path()), ServerConfig::new()).await;
    let db = common::client(addr).await;
    for i in 0..20 {
        db.create_model(NewModel::new(format!("m{i}")).with_description(format!("model number {i}")))
            .await
            .unwrap();
    }
    let report = db.reindex().await.unwrap();
    assert_eq!(report.models, 20);
    let info = db.optimize_index(Collection::Models).await.unwrap();
    assert_eq!((info.collection, info.vectors), (Collection::Models, 20));
    let hits = db.search_similar_models("m7 model number 7", 1, &ModelFilter::default()).await.unwrap();
    assert_eq!(hits[0].item.name, "m7");
    assert_eq!(db.get_statistics().await.unwrap().counts.models, 20);
}

#[tokio::test]
async fn a_server_without_an_index_says_so() {
    let addr = common::serve(aimdb::AimdbConfig::from_url("memory://"), ServerConfig::new()).await;
    let db = common::client(addr).await;
    let err = db.search_similar_models("x", 1, &ModelFilter::default()).await.unwrap_err();
    assert!(matches!(err, aimdb::Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("vector index"), "{err}");
    assert!(!db.store().info().capabilities.persistent, "a memory store behind the server is not persistent");
}
