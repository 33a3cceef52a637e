//! Semantic search through the facade: the `faiss` preset, filters, scores, reindex, and
//! the embedder check. The meaning-based case needs all-MiniLM-L6-v2 (`cargo xtask
//! fetch-model`); the rest use the hash embedder.

use aimdb::prelude::*;
use aimdb::{Collection, NewDataset, NewPrediction};
use serde_json::json;

fn hash_config(dir: &std::path::Path) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.model = "hash".into();
    config
}

async fn catalog(db: &AiDatabase) {
    let models = [
        (
            "resnet50",
            "Deep residual network for image classification",
            "ResNet-50",
            "pytorch",
            "image_classification",
        ),
        ("bert-base", "Bidirectional transformer for language understanding", "BERT", "pytorch", "nlp"),
        (
            "xgb-churn",
            "Gradient boosted trees predicting customer churn",
            "XGBoost",
            "xgboost",
            "tabular_classification",
        ),
        (
            "wav2vec2",
            "Self-supervised speech recognition from raw audio",
            "wav2vec",
            "pytorch",
            "speech_recognition",
        ),
        ("yolo-v8", "Real-time object detection in images and video", "YOLO", "pytorch", "object_detection"),
        ("tf-unet", "U-Net for medical image segmentation", "U-Net", "tensorflow", "image_segmentation"),
    ];
    for (name, description, architecture, framework, task) in models {
        db.create_model(
            NewModel::new(name)
                .with_description(description)
                .with_architecture(architecture)
                .with_framework(framework)
                .with_task_type(task),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn search_finds_by_meaning_with_minilm() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AimdbConfig::faiss(dir.path());
    config.embedding.strict = true; // no silent hash fallback: this case is about meaning
    let db = create_ai_database(config).await.unwrap();
    if let Err(e) = db.embedder().identity().await {
        aimdb_testkit::skip(&format!("all-MiniLM-L6-v2 is not installed (cargo xtask fetch-model): {e}"));
        return;
    }
    catalog(&db).await;
    let hits = db
        .search_similar_models("image recognition deep learning", 3, &ModelFilter::default())
        .await
        .unwrap();
    assert_eq!(hits[0].item.name, "resnet50", "{hits:#?}");
    let hits =
        db.search_similar_models("convert speech audio to text", 1, &ModelFilter::default()).await.unwrap();
    assert_eq!(hits[0].item.name, "wav2vec2");
    let hits = db
        .search_similar_models("image recognition", 5, &ModelFilter::default().with_framework("tensorflow"))
        .await
        .unwrap();
    assert_eq!(hits.iter().map(|h| h.item.name.as_str()).collect::<Vec<_>>(), ["tf-unet"]);
    let stats = db.get_statistics().await.unwrap();
    let index = stats.index.expect("index statistics");
    assert_eq!(
        (index.embedder.kind.as_str(), index.embedder.model.as_str()),
        ("transformer", "all-MiniLM-L6-v2")
    );
}

#[tokio::test]
async fn filters_scores_and_every_collection() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    catalog(&db).await;

    let all = db.search_similar_models("resnet50", 10, &ModelFilter::default()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|h| (0.0..=1.0).contains(&h.similarity_score)));
    assert!(all.windows(2).all(|w| w[0].similarity_score >= w[1].similarity_score));
    let filter = ModelFilter::default().with_framework("pytorch").with_task_type("nlp");
    let hits = db.search_similar_models("anything", 10, &filter).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.item.name.as_str()).collect::<Vec<_>>(), ["bert-base"]);
    let hits =
        db.search_similar_models("x", 10, &ModelFilter::default().with_architecture("YOLO")).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(db.search_similar_models("x", 0, &ModelFilter::default()).await.unwrap().is_empty());
    aimdb_testkit::expect_invalid(
        db.search_similar_models("x", 1_000_000, &ModelFilter::default()).await,
        "n_results",
    );

    db.create_dataset(NewDataset::new("imagenet").with_format("jpeg").with_description("Labelled photos"))
        .await
        .unwrap();
    db.create_dataset(NewDataset::new("squad").with_format("json")).await.unwrap();
    let hits =
        db.search_similar_datasets("photos", 5, &DatasetFilter::default().with_format("json")).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.item.name.as_str()).collect::<Vec<_>>(), ["squad"]);

    let model = db.get_model_by_name("resnet50").await.unwrap();
    let v1 = db.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
    let v2 = db.create_model_version(NewModelVersion::new(model.id, "2")).await.unwrap();
    let batch = (0..5)
        .map(|i| {
            NewPrediction::new(
                if i < 3 { v1.id } else { v2.id },
                json!({"image": i}),
                json!({"label": "cat"}),
            )
        })
        .collect();
    db.log_predictions(batch).await.unwrap();
    db.log_prediction(NewPrediction::new(v2.id, json!({"image": 9}), json!({"label": "dog"}))).await.unwrap();
    let hits = db
        .search_similar_predictions("cat", 10, &PredictionFilter::default().with_model_version(v2.id))
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h.item.model_version_id == v2.id));
    let json = serde_json::to_value(&hits[0]).unwrap();
    assert!(json["similarity_score"].is_number() && json["output_data"].is_object(), "hit flattens: {json}");

    let stats = db.get_statistics().await.unwrap();
    let index = stats.index.unwrap();
    let vectors: Vec<u64> = index.collections.iter().map(|c| c.vectors).collect();
    assert_eq!(vectors, [6, 2, 6], "models, datasets, predictions: {index:?}");
    assert_eq!(index.collections[0].index_kind, "flat");
    assert_eq!(index.index_embedder, Some(index.embedder.clone()));
    assert_eq!(index.failed_vector_writes, 0);
}

#[tokio::test]
async fn vectors_persist_and_a_lost_index_is_repaired_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_ai_database(hash_config(dir.path())).await.unwrap();
    catalog(&db).await;
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
    catalog(&db).await;
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
