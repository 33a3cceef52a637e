//! Import (migration, restore): records written as given, ids and timestamps kept.

use aimdb_core::{
    Dataset, Entity, Experiment, ImportBatch, Model, ModelVersion, NewModel, NewPrediction, NewTrainingRun,
    Page, Prediction, TrainingRun,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::{StoreHarness, expect_already_exists, expect_invalid, expect_not_found};

fn model(id: i64, name: &str, minutes: i64) -> Model {
    let at = Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap() + Duration::minutes(minutes);
    Model {
        id: id.into(),
        name: name.into(),
        description: Some("imported".into()),
        architecture: Some("ResNet50".into()),
        framework: None,
        task_type: Some("image_classification".into()),
        input_shape: Some(json!([3, 224, 224])),
        output_shape: Some(json!(null)),
        created_at: at,
        updated_at: at + Duration::microseconds(1),
    }
}

fn version(id: i64, model: i64, version: &str, minutes: i64) -> ModelVersion {
    ModelVersion {
        id: id.into(),
        model_id: model.into(),
        version: version.into(),
        checkpoint_path: Some(format!("s3://ckpt/{version}")),
        config: Some(json!({"lr": 0.001})),
        status: "archived".into(),
        created_at: Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap() + Duration::minutes(minutes),
    }
}

/// Records keep their ids and timestamps; re-importing writes nothing; ids created
/// afterwards continue after the highest; every entity with an id of its own imports.
pub async fn import_keeps_ids(h: &dyn StoreHarness) {
    let store = h.open().await;
    let models = vec![model(7, "b", 1), model(3, "a", 0)];
    assert_eq!(store.import(ImportBatch::Models(models.clone())).await.unwrap(), 2);
    assert_eq!(store.get_model(7.into()).await.unwrap(), models[0]);
    assert_eq!(store.get_model_by_name("a").await.unwrap(), models[1]);
    let listed = store.list_models(Page::all()).await.unwrap();
    assert_eq!(listed.iter().map(|m| m.id.get()).collect::<Vec<_>>(), [3, 7]);
    assert_eq!(store.import(ImportBatch::Models(models)).await.unwrap(), 0, "a re-run writes nothing");
    let fresh = store.create_model(NewModel::new("c")).await.unwrap();
    assert!(fresh.id.get() > 7, "ids continue after the imported ones: got {}", fresh.id);

    // Newest first follows the imported timestamps, not the import order.
    let versions = vec![version(5, 3, "1.0", 0), version(2, 3, "2.0", 10)];
    assert_eq!(store.import(ImportBatch::ModelVersions(versions.clone())).await.unwrap(), 2);
    let read = store.get_model_versions(3.into()).await.unwrap();
    assert_eq!(read, [versions[1].clone(), versions[0].clone()]);

    let dataset = Dataset {
        id: 4.into(),
        name: "imagenet".into(),
        description: None,
        source_path: Some("/data/imagenet".into()),
        format: Some("jpeg".into()),
        size_bytes: Some(150_000_000_000),
        num_samples: Some(1_281_167),
        split_info: Some(json!({"train": 0.9})),
        preprocessing: None,
        created_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
    };
    store.import(ImportBatch::Datasets(vec![dataset.clone()])).await.unwrap();
    assert_eq!(store.get_dataset(4.into()).await.unwrap(), dataset);

    let started = Utc.with_ymd_and_hms(2024, 3, 3, 0, 0, 0).unwrap();
    let runs: Vec<TrainingRun> = (0..3)
        .map(|i| TrainingRun {
            id: (10 + i).into(),
            model_version_id: (i != 1).then_some(5.into()),
            dataset_id: (i == 0).then_some(4.into()),
            run_name: Some(format!("run {i}")),
            status: if i == 2 { "started".into() } else { "completed".into() },
            started_at: started + Duration::hours(i),
            completed_at: (i < 2).then(|| started + Duration::hours(i) + Duration::minutes(30)),
            duration_seconds: (i < 2).then_some(1800.0),
            final_loss: (i < 2).then_some(0.125 + i as f64),
            best_metric_value: None,
            artifacts: Some(json!({"onnx": "model.onnx"})),
        })
        .collect();
    assert_eq!(store.import(ImportBatch::TrainingRuns(runs.clone())).await.unwrap(), 3);
    assert_eq!(store.get_training_run(10.into()).await.unwrap(), runs[0]);
    assert_eq!(store.list_training_runs(Page::first(2).after(10)).await.unwrap(), runs[1..]);
    let after = store.create_training_run(NewTrainingRun::new(5.into())).await.unwrap();
    assert!(after.id.get() > 12);

    let experiment = Experiment {
        id: 9.into(),
        name: "lr sweep".into(),
        description: None,
        hypothesis: Some("lower is better".into()),
        status: "completed".into(),
        created_at: started,
        completed_at: Some(started + Duration::days(1)),
        results: Some(json!({"best": 10})),
    };
    store.import(ImportBatch::Experiments(vec![experiment.clone()])).await.unwrap();
    assert_eq!(store.list_experiments(Page::all()).await.unwrap(), [experiment]);

    let predictions: Vec<Prediction> = (0..3)
        .map(|i| Prediction {
            id: (100 - i).into(),
            model_version_id: 2.into(),
            input_data: json!({"i": i}),
            output_data: json!([i]),
            confidence: Some(0.5),
            inference_time_ms: None,
            timestamp: started + Duration::seconds(i),
            metadata: None,
        })
        .collect();
    assert_eq!(store.import(ImportBatch::Predictions(predictions.clone())).await.unwrap(), 3);
    let newest: Vec<Prediction> = predictions.iter().rev().cloned().collect();
    assert_eq!(store.get_predictions(2.into(), 10).await.unwrap(), newest, "newest first by timestamp");
    let logged = store.log_prediction(NewPrediction::new(2.into(), json!(1), json!(2))).await.unwrap();
    assert!(logged.id.get() > 100);

    let stats = store.statistics().await.unwrap();
    assert_eq!((stats.models, stats.model_versions, stats.datasets), (3, 2, 1));
    assert_eq!(
        (stats.training_runs, stats.completed_runs, stats.experiments, stats.predictions),
        (4, 2, 1, 4)
    );
}

/// A batch with a missing parent, a taken name or a bad field writes nothing and says why.
pub async fn import_is_all_or_nothing(h: &dyn StoreHarness) {
    let store = h.open().await;
    store.import(ImportBatch::Models(vec![model(3, "a", 0)])).await.unwrap();

    let orphan = vec![version(10, 3, "1.0", 0), version(11, 999, "1.0", 0)];
    expect_not_found(store.import(ImportBatch::ModelVersions(orphan)).await, Entity::Model);
    expect_not_found(store.get_model_version(10.into()).await, Entity::ModelVersion);

    let taken = vec![model(20, "fresh", 0), model(21, "a", 0)];
    expect_already_exists(store.import(ImportBatch::Models(taken)).await, Entity::Model);
    expect_not_found(store.get_model(20.into()).await, Entity::Model);

    let twice = vec![model(30, "same", 0), model(31, "same", 0)];
    expect_invalid(store.import(ImportBatch::Models(twice)).await, "name");
    expect_invalid(store.import(ImportBatch::Models(vec![model(0, "zero", 0)])).await, "id");
    expect_invalid(store.import(ImportBatch::Models(vec![model(40, "", 0)])).await, "name of model 40");
    let run = TrainingRun {
        final_loss: Some(f64::NAN),
        ..NewTrainingRun::new(1.into()).into_run(50.into(), Utc::now())
    };
    expect_invalid(store.import(ImportBatch::TrainingRuns(vec![run])).await, "final_loss of training_run 50");
    assert_eq!(store.statistics().await.unwrap().models, 1);
    assert_eq!(store.import(ImportBatch::Predictions(Vec::new())).await.unwrap(), 0);
}
