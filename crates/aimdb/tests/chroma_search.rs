//! The seed's `chromadb` preset through the whole facade, and repair after an outage:
//! with the Chroma server stopped, creates still store their entities (the vector write is
//! reported and counted), and `reindex` restores what was left out. One test in its own
//! binary, because it stops the shared server.

use aimdb::prelude::*;
use aimdb::{Collection, NewDataset};

fn sh(command: &str) -> bool {
    std::process::Command::new("sh").args(["-c", command]).status().is_ok_and(|s| s.success())
}

#[tokio::test]
async fn chromadb_preset_searches_and_reindex_repairs_an_outage() {
    let Some((url, stop, start)) = aimdb_testkit::restart::commands("CHROMA") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut config = AimdbConfig::chromadb(dir.path(), &url);
    config.embedding.model = "hash".into();
    // Each run in its own Chroma database: the server is shared.
    if let Some(aimdb::config::VectorConfig::Chroma(chroma)) = &mut config.vectors {
        chroma.database = format!("facade_{}", std::process::id());
    }
    let db = create_ai_database(config.clone()).await.unwrap();
    db.create_model(NewModel::new("resnet50").with_framework("pytorch")).await.unwrap();
    db.create_model(NewModel::new("bert").with_framework("tensorflow")).await.unwrap();
    db.create_dataset(NewDataset::new("imagenet").with_format("jpeg")).await.unwrap();
    let filter = ModelFilter::default().with_framework("pytorch");
    // The text embedded for a model is its name, description, architecture, framework, task.
    let hits = db.search_similar_models("resnet50 pytorch", 5, &filter).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.item.name.as_str()).collect::<Vec<_>>(), ["resnet50"]);
    assert!((hits[0].similarity_score - 1.0).abs() < 1e-4, "the same text scores 1: {hits:?}");

    assert!(sh(&stop), "`{stop}` failed");
    let created = db.create_model(NewModel::new("yolo").with_framework("pytorch")).await;
    let search = db.search_similar_models("yolo", 1, &ModelFilter::default()).await;
    let stats = db.get_statistics().await;
    assert!(sh(&start), "`{start}` failed");
    assert_eq!(created.unwrap().name, "yolo", "the store is the source of truth: the create succeeds");
    assert!(search.unwrap_err().is_retryable(), "search without the server is Unavailable");
    drop(stats);

    let stats = db.get_statistics().await.unwrap();
    assert_eq!(stats.index.as_ref().unwrap().failed_vector_writes, 1, "{stats:?}");
    let report = db.reindex().await.unwrap();
    assert_eq!((report.models, report.datasets), (3, 1));
    let hits = db.search_similar_models("yolo pytorch", 1, &ModelFilter::default()).await.unwrap();
    assert_eq!(hits[0].item.name, "yolo");
    let info = db.get_statistics().await.unwrap().index.unwrap();
    assert_eq!(info.failed_vector_writes, 0);
    let models = info.collections.iter().find(|c| c.collection == Collection::Models).unwrap();
    assert_eq!((models.index_kind.as_str(), models.vectors), ("chroma", 3));
}
