//! The embedded demo: every call of the unified API on SQLite + FAISS (the seed's `faiss`
//! preset), ending with semantic search, with readable output.

use std::collections::BTreeMap;
use std::path::Path;

use aimdb::prelude::*;
use serde_json::json;

use crate::Outcome;

pub async fn run(dir: &Path) -> Outcome {
    let db = create_ai_database(AimdbConfig::faiss(dir)).await?;
    println!("aimdb demo: SQLite metadata + FAISS index in {}\n", dir.display());
    tour(&db).await?;
    db.close().await?;
    Ok(())
}

/// The same tour through an `aimdb serve` server: `AIMDB_DATABASE_URL=http://HOST:PORT`
/// (`cargo xtask demo --demo server` starts one, runs this, and stops it).
pub async fn remote() -> Outcome {
    let url = std::env::var("AIMDB_DATABASE_URL").map_err(|_| {
        "the remote demo needs AIMDB_DATABASE_URL=http://HOST:PORT (`cargo xtask demo --demo server` starts a server)"
    })?;
    let db = create_ai_database(AimdbConfig::from_url(&url)).await?;
    println!("aimdb demo: through the server at {url} (its store, index and embedder)\n");
    tour(&db).await
}

/// Every call of the unified API, ending with semantic search.
async fn tour(db: &AiDatabase) -> Outcome {
    println!("== Models and versions");
    let resnet = db
        .create_model(
            NewModel::new("resnet50")
                .with_description("Deep residual network trained on ImageNet for image recognition")
                .with_architecture("ResNet-50")
                .with_framework("pytorch")
                .with_task_type("image_classification")
                .with_input_shape(json!([null, 3, 224, 224]))
                .with_output_shape(json!([null, 1000])),
        )
        .await?;
    let bert = db
        .create_model(
            NewModel::new("bert-base-sentiment")
                .with_description("BERT fine-tuned for sentiment analysis of product reviews")
                .with_architecture("transformer")
                .with_framework("transformers")
                .with_task_type("text_classification"),
        )
        .await?;
    for m in db.list_models(Page::all()).await? {
        println!(
            "  model #{} {:<22} {:<14} {}",
            m.id,
            m.name,
            m.framework.unwrap_or_default(),
            m.task_type.unwrap_or_default()
        );
    }
    let v1 = db
        .create_model_version(
            NewModelVersion::new(resnet.id, "1.0.0")
                .with_checkpoint_path("checkpoints/resnet50-v1.pt")
                .with_config(json!({"layers": 50, "pretrained": true})),
        )
        .await?;
    let v2 = db.create_model_version(NewModelVersion::new(resnet.id, "1.1.0").with_status("staging")).await?;
    db.create_model_version(NewModelVersion::new(bert.id, "0.1.0")).await?;
    let versions: Vec<_> = db
        .get_model_versions(resnet.id)
        .await?
        .into_iter()
        .map(|v| format!("{} ({})", v.version, v.status))
        .collect();
    println!("  resnet50 versions, newest first: {}", versions.join(", "));
    match db.create_model(NewModel::new("resnet50")).await {
        Err(e) => println!("  registering resnet50 again -> {e}"),
        Ok(_) => unreachable!("names are unique"),
    }

    println!("\n== Datasets");
    let imagenet = db
        .create_dataset(
            NewDataset::new("imagenet-1k")
                .with_description("1.28M labelled images in 1000 classes")
                .with_format("jpeg")
                .with_num_samples(1_281_167)
                .with_size_bytes(150_000_000_000_i64)
                .with_split_info(json!({"train": 1_281_167, "val": 50_000})),
        )
        .await?;
    println!("  dataset #{} {} ({} samples)", imagenet.id, imagenet.name, imagenet.num_samples.unwrap_or(0));

    println!("\n== Training run, hyperparameters, metrics");
    let run = db
        .create_training_run(
            NewTrainingRun::new(v1.id).with_dataset_id(imagenet.id).with_run_name("baseline-sgd"),
        )
        .await?;
    let params: BTreeMap<String, serde_json::Value> = [
        ("optimizer".to_owned(), json!("sgd")),
        ("lr".to_owned(), json!(0.1)),
        ("epochs".to_owned(), json!(5)),
        ("augment".to_owned(), json!({"flip": true, "crop": 224})),
    ]
    .into();
    db.log_hyperparameters(run.id, params).await?;
    println!("  run #{} '{}' status={}", run.id, run.run_name.clone().unwrap_or_default(), run.status);
    println!("  hyperparameters: {}", serde_json::to_string(&db.get_hyperparameters(run.id).await?)?);
    let points: Vec<_> = (1..=5_i32)
        .flat_map(|epoch: i32| {
            let e = f64::from(epoch);
            [
                NewMetric::new("loss", 2.3 / e).with_epoch(epoch),
                NewMetric::new("accuracy", 0.5 + 0.08 * e).with_epoch(epoch).with_split("val"),
            ]
        })
        .collect();
    println!("  logged {} metric points in one batch", db.log_metrics(run.id, points).await?);
    for m in db.get_metrics(run.id, Some("loss")).await? {
        println!("    epoch {} loss {:.3}", m.epoch.unwrap_or(0), m.metric_value);
    }
    let done = db
        .update_training_run(
            run.id,
            TrainingRunUpdate::completed()
                .with_final_loss(0.46)
                .with_best_metric_value(0.9)
                .with_duration_seconds(5400.0),
        )
        .await?;
    println!("  run completed: final_loss={:?} best={:?}", done.final_loss, done.best_metric_value);
    if let Err(e) = db.log_metric(run.id, NewMetric::new("loss", f64::NAN)).await {
        println!("  logging a NaN loss -> {e}");
    }

    println!("\n== Experiment");
    let tuned = db.create_training_run(NewTrainingRun::new(v2.id).with_run_name("adamw-cosine")).await?;
    db.update_training_run(
        tuned.id,
        TrainingRunUpdate::completed().with_final_loss(0.38).with_best_metric_value(0.93),
    )
    .await?;
    let experiment = db
        .create_experiment(
            NewExperiment::new("optimizer-comparison").with_hypothesis("AdamW with cosine decay beats SGD"),
        )
        .await?;
    db.add_experiment_run(NewExperimentRun::new(experiment.id, run.id).with_variant_name("sgd")).await?;
    db.add_experiment_run(NewExperimentRun::new(experiment.id, tuned.id).with_variant_name("adamw")).await?;
    for r in db.get_experiment_runs(experiment.id).await? {
        println!(
            "  {:<6} run #{} {} final_loss={:?}",
            r.variant_name.unwrap_or_default(),
            r.training_run_id,
            r.status,
            r.final_loss
        );
    }

    println!("\n== Predictions");
    db.log_prediction(
        NewPrediction::new(v1.id, json!({"image": "cat.jpg"}), json!({"label": "tabby cat"}))
            .with_confidence(0.94)
            .with_inference_time_ms(11.2),
    )
    .await?;
    let batch = (0..3)
        .map(|i| {
            NewPrediction::new(v1.id, json!({"image": format!("dog{i}.jpg")}), json!({"label": "dog"}))
                .with_confidence(0.8 + 0.05 * f64::from(i))
        })
        .collect();
    db.log_predictions(batch).await?;
    for p in db.get_predictions(v1.id, 2).await? {
        println!("  #{} {} -> {} (confidence {:?})", p.id, p.input_data, p.output_data, p.confidence);
    }

    println!("\n== Statistics");
    let stats = db.get_statistics().await?;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    println!("\nFAISS embedding backend: {}", crate::describe_embedder(db).await);
    crate::warn_if_fallback(db).await;

    println!("\n== Semantic search");
    for query in ["image recognition deep learning", "what do customers think of a product"] {
        println!("  \"{query}\"");
        for hit in db.search_similar_models(query, 2, &ModelFilter::default()).await? {
            println!(
                "    {:.3}  {} ({})",
                hit.similarity_score,
                hit.item.name,
                hit.item.description.unwrap_or_default()
            );
        }
    }
    let filter = ModelFilter::default().with_framework("transformers");
    let hits = db.search_similar_models("image recognition deep learning", 1, &filter).await?;
    println!("  the same query among `transformers` models only -> {}", hits[0].item.name);
    let hits = db.search_similar_predictions("a cat", 1, &PredictionFilter::default()).await?;
    if let Some(hit) = hits.first() {
        println!(
            "  prediction nearest \"a cat\": #{} {} ({:.3})",
            hit.item.id, hit.item.output_data, hit.similarity_score
        );
    }
    Ok(())
}
