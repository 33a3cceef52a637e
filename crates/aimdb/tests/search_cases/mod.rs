//! Search cases shared by the facade's tests and the server's (which run them through a
//! remote database): the same assertions in process and over HTTP.

#![allow(dead_code, reason = "each test binary uses part of this")]

use aimdb::prelude::*;
use aimdb::{NewDataset, NewPrediction};
use serde_json::json;

/// SQLite beside a FAISS index in `dir`, all-MiniLM-L6-v2 and no silent hash fallback.
pub fn minilm_config(dir: &std::path::Path) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.strict = true; // no silent hash fallback: these cases are about meaning
    config
}

/// Whether `db` can embed with all-MiniLM-L6-v2 (a skip, or a failure in CI, otherwise).
pub async fn has_minilm(db: &AiDatabase) -> bool {
    match db.get_statistics().await {
        Ok(stats) if stats.index.as_ref().is_some_and(|i| i.embedder.kind == "transformer") => true,
        other => {
            aimdb_testkit::skip(&format!(
                "all-MiniLM-L6-v2 is not installed (cargo xtask fetch-model): {other:?}"
            ));
            false
        }
    }
}

pub async fn catalog(db: &AiDatabase) {
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

/// Search by meaning: "image recognition deep learning" finds the ResNet.
pub async fn meaning(db: &AiDatabase) {
    ranks_by_meaning(db).await;
    let stats = db.get_statistics().await.unwrap();
    let index = stats.index.expect("index statistics");
    assert_eq!(
        (index.embedder.kind.as_str(), index.embedder.model.as_str()),
        ("transformer", "all-MiniLM-L6-v2")
    );
}

/// The catalog, then queries that share no word with the model they must find, with any
/// embedder that reads meaning.
pub async fn ranks_by_meaning(db: &AiDatabase) {
    catalog(db).await;
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
}

/// Filters, scores, every collection, and the index's statistics (hash embedder).
pub async fn filters_scores_and_every_collection(db: &AiDatabase) {
    catalog(db).await;

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

/// A batch of queries answers what each query answers alone, in their order, in every
/// collection, filters included; empty batches and zero results answer emptily.
pub async fn batches(db: &AiDatabase) {
    catalog(db).await;
    db.create_dataset(NewDataset::new("imagenet").with_format("jpeg").with_description("Labelled photos"))
        .await
        .unwrap();
    db.create_dataset(
        NewDataset::new("squad").with_format("json").with_description("Questions on Wikipedia"),
    )
    .await
    .unwrap();
    let model = db.get_model_by_name("resnet50").await.unwrap();
    let version = db.create_model_version(NewModelVersion::new(model.id, "1")).await.unwrap();
    let labels = ["cat", "dog", "truck"];
    let batch = labels
        .iter()
        .map(|l| NewPrediction::new(version.id, json!({"image": l}), json!({"label": l})))
        .collect();
    db.log_predictions(batch).await.unwrap();

    let queries = ["image classification", "language model", "resnet50", "object detection"];
    let names = |hits: &[aimdb::SearchHit<aimdb::Model>]| {
        hits.iter().map(|h| h.item.name.clone()).collect::<Vec<_>>()
    };
    for filter in [ModelFilter::default(), ModelFilter::default().with_framework("pytorch")] {
        let many = db.search_similar_models_many(&queries, 3, &filter).await.unwrap();
        assert_eq!(many.len(), queries.len());
        for (query, answer) in queries.iter().zip(&many) {
            let one = db.search_similar_models(query, 3, &filter).await.unwrap();
            assert_eq!(names(answer), names(&one), "{query}");
            for (a, b) in answer.iter().zip(&one) {
                assert!((a.similarity_score - b.similarity_score).abs() < 1e-5, "{query}: {a:?} vs {b:?}");
            }
        }
    }
    let datasets = db
        .search_similar_datasets_many(&["photos", "questions"], 1, &DatasetFilter::default())
        .await
        .unwrap();
    for (query, answer) in ["photos", "questions"].iter().zip(&datasets) {
        let one = db.search_similar_datasets(query, 1, &DatasetFilter::default()).await.unwrap();
        assert_eq!(answer[0].item.name, one[0].item.name);
    }
    let filter = PredictionFilter::default().with_model_version(version.id);
    let predictions = db.search_similar_predictions_many(&labels, 1, &filter).await.unwrap();
    for (label, answer) in labels.iter().zip(&predictions) {
        let one = db.search_similar_predictions(label, 1, &filter).await.unwrap();
        assert_eq!(answer[0].item.id, one[0].item.id, "{label}");
    }
    assert!(db.search_similar_models_many(&[], 3, &ModelFilter::default()).await.unwrap().is_empty());
    let none = db.search_similar_models_many(&queries, 0, &ModelFilter::default()).await.unwrap();
    assert!(none.len() == queries.len() && none.iter().all(Vec::is_empty));
    aimdb_testkit::expect_invalid(
        db.search_similar_models_many(&queries, 1_000_000, &ModelFilter::default()).await,
        "n_results",
    );
}
