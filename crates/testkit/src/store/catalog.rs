//! Models, versions and datasets: round trips, lookups, uniqueness, validation, paging.

use aimdb_core::{Entity, NewDataset, NewExperiment, NewModel, NewModelVersion, NewPrediction, Page, time};
use serde_json::json;

use crate::{StoreHarness, expect_already_exists, expect_invalid, expect_not_found};

/// Every field of a model is stored and read back by id, by name and in lists.
pub async fn model_round_trip(h: &dyn StoreHarness) {
    let store = h.open().await;
    let before = time::now();
    let created = store
        .create_model(
            NewModel::new("resnet50")
                .with_description("Deep residual network for image recognition")
                .with_architecture("ResNet-50")
                .with_framework("pytorch")
                .with_task_type("image_classification")
                .with_input_shape(json!([null, 3, 224, 224]))
                .with_output_shape(json!([null, 1000])),
        )
        .await
        .unwrap();
    assert!(created.id.get() > 0);
    assert_eq!(created.created_at, created.updated_at);
    assert!(created.created_at >= before && created.created_at <= time::now());
    assert_eq!(created.framework.as_deref(), Some("pytorch"));

    assert_eq!(store.get_model(created.id).await.unwrap(), created);
    assert_eq!(store.get_model_by_name("resnet50").await.unwrap(), created);
    assert_eq!(store.list_models(Page::all()).await.unwrap(), vec![created.clone()]);

    let bare = store.create_model(NewModel::new("bare")).await.unwrap();
    assert_eq!(bare.description, None);
    assert_eq!(bare.input_shape, None);
    assert_eq!(store.get_model(bare.id).await.unwrap(), bare);
    assert!(bare.id > created.id, "ids increase");
}

/// Lookups of missing records are `NotFound` naming the entity.
pub async fn model_not_found(h: &dyn StoreHarness) {
    let store = h.open().await;
    expect_not_found(store.get_model(999_999.into()).await, Entity::Model);
    expect_not_found(store.get_model_by_name("missing").await, Entity::Model);
    expect_not_found(store.get_model_version(999_999.into()).await, Entity::ModelVersion);
    expect_not_found(store.get_dataset(999_999.into()).await, Entity::Dataset);
    expect_not_found(store.get_dataset_by_name("missing").await, Entity::Dataset);
    expect_not_found(store.get_training_run(999_999.into()).await, Entity::TrainingRun);
    expect_not_found(store.get_experiment(999_999.into()).await, Entity::Experiment);
    expect_not_found(store.get_prediction(999_999.into()).await, Entity::Prediction);
    expect_not_found(store.get_model_versions(999_999.into()).await, Entity::Model);
}

/// Unique names collide as `AlreadyExists`, and the failed create writes nothing.
pub async fn duplicate_names(h: &dyn StoreHarness) {
    let store = h.open().await;
    store.create_model(NewModel::new("bert")).await.unwrap();
    expect_already_exists(store.create_model(NewModel::new("bert")).await, Entity::Model);
    store.create_dataset(NewDataset::new("imagenet")).await.unwrap();
    expect_already_exists(store.create_dataset(NewDataset::new("imagenet")).await, Entity::Dataset);
    store.create_experiment(NewExperiment::new("lr-sweep")).await.unwrap();
    expect_already_exists(store.create_experiment(NewExperiment::new("lr-sweep")).await, Entity::Experiment);
    let stats = store.statistics().await.unwrap();
    assert_eq!((stats.models, stats.datasets, stats.experiments), (1, 1, 1));
    // A model and a dataset may share a name: uniqueness is per entity.
    store.create_dataset(NewDataset::new("bert")).await.unwrap();
}

/// Bad input is `InvalidInput` naming the field, and nothing is written.
pub async fn invalid_input_names_field(h: &dyn StoreHarness) {
    let store = h.open().await;
    expect_invalid(store.create_model(NewModel::new("")).await, "name");
    expect_invalid(store.create_model(NewModel::new("   ")).await, "name");
    expect_invalid(store.create_model(NewModel::new("a".repeat(256))).await, "name");
    expect_invalid(store.create_model(NewModel::new("nul\0byte")).await, "name");
    expect_invalid(store.create_model(NewModel::new("ok").with_description("bad\0")).await, "description");
    expect_invalid(
        store.create_model(NewModel::new("ok").with_input_shape(json!({"k": "v\0"}))).await,
        "input_shape",
    );
    expect_invalid(store.create_dataset(NewDataset::new("d").with_size_bytes(-1)).await, "size_bytes");
    expect_invalid(store.create_dataset(NewDataset::new("d").with_num_samples(-5)).await, "num_samples");
    expect_invalid(store.create_experiment(NewExperiment::new("")).await, "name");
    let model = store.create_model(NewModel::new("a".repeat(255))).await.unwrap();
    expect_invalid(store.create_model_version(NewModelVersion::new(model.id, "")).await, "version");
    expect_invalid(
        store.create_model_version(NewModelVersion::new(model.id, "1").with_status("")).await,
        "status",
    );
    let stats = store.statistics().await.unwrap();
    assert_eq!((stats.models, stats.model_versions, stats.datasets, stats.experiments), (1, 0, 0, 0));
}

/// Keyset pages over ascending ids.
pub async fn pagination(h: &dyn StoreHarness) {
    let store = h.open().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(store.create_model(NewModel::new(format!("m{i}"))).await.unwrap().id);
        store.create_dataset(NewDataset::new(format!("d{i}"))).await.unwrap();
    }
    let first: Vec<_> = store.list_models(Page::first(2)).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(first, ids[..2]);
    let next: Vec<_> = store
        .list_models(Page::first(2).after(ids[1].get()))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(next, ids[2..4]);
    assert!(store.list_models(Page::all().after(ids[4].get())).await.unwrap().is_empty());
    assert_eq!(store.list_models(Page::all()).await.unwrap().len(), 5);
    assert!(store.list_models(Page::first(0)).await.unwrap().is_empty());
    let datasets = store.list_datasets(Page::first(3)).await.unwrap();
    assert_eq!(datasets.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["d0", "d1", "d2"]);
}

/// Versions: references checked, unique per model, newest first, defaults applied.
pub async fn model_versions(h: &dyn StoreHarness) {
    let store = h.open().await;
    let a = store.create_model(NewModel::new("a")).await.unwrap();
    let b = store.create_model(NewModel::new("b")).await.unwrap();
    let v1 = store
        .create_model_version(
            NewModelVersion::new(a.id, "1.0")
                .with_checkpoint_path("s3://bucket/a/1.0.pt")
                .with_config(json!({"layers": 50, "dropout": 0.1, "pretrained": true})),
        )
        .await
        .unwrap();
    assert_eq!(v1.status, "active");
    assert_eq!(v1.model_id, a.id);
    let v2 =
        store.create_model_version(NewModelVersion::new(a.id, "2.0").with_status("staging")).await.unwrap();
    let v3 = store.create_model_version(NewModelVersion::new(a.id, "3.0")).await.unwrap();
    // The same label on another model is fine.
    store.create_model_version(NewModelVersion::new(b.id, "1.0")).await.unwrap();
    expect_already_exists(
        store.create_model_version(NewModelVersion::new(a.id, "1.0")).await,
        Entity::ModelVersion,
    );
    expect_not_found(
        store.create_model_version(NewModelVersion::new(999_999.into(), "1.0")).await,
        Entity::Model,
    );
    let listed = store.get_model_versions(a.id).await.unwrap();
    assert_eq!(listed, vec![v3, v2, v1.clone()], "newest first");
    assert_eq!(store.get_model_version(v1.id).await.unwrap(), v1);
    assert_eq!(store.statistics().await.unwrap().model_versions, 4);
}

/// Datasets: every field round-trips; lookups by id and name.
pub async fn datasets(h: &dyn StoreHarness) {
    let store = h.open().await;
    let created = store
        .create_dataset(
            NewDataset::new("imagenet-1k")
                .with_description("1.28M labelled images in 1000 classes")
                .with_source_path("/data/imagenet")
                .with_format("jpeg")
                .with_size_bytes(150_000_000_000_i64)
                .with_num_samples(1_281_167)
                .with_split_info(json!({"train": 1_281_167, "val": 50_000}))
                .with_preprocessing(json!({"resize": 256, "crop": 224, "normalize": [0.485, 0.456, 0.406]})),
        )
        .await
        .unwrap();
    assert_eq!(created.size_bytes, Some(150_000_000_000));
    assert_eq!(store.get_dataset(created.id).await.unwrap(), created);
    assert_eq!(store.get_dataset_by_name("imagenet-1k").await.unwrap(), created);
    assert_eq!(store.list_datasets(Page::all()).await.unwrap(), vec![created]);
}

/// Names are compared exactly: case and Unicode normalisation matter.
pub async fn case_sensitive_names(h: &dyn StoreHarness) {
    let store = h.open().await;
    for name in ["ResNet", "resnet", "RESNET", "caf\u{e9}", "cafe\u{301}", "resnet "] {
        store.create_model(NewModel::new(name)).await.unwrap_or_else(|e| panic!("{name:?}: {e}"));
    }
    assert_eq!(store.get_model_by_name("resnet").await.unwrap().name, "resnet");
    assert_eq!(store.get_model_by_name("cafe\u{301}").await.unwrap().name, "cafe\u{301}");
    expect_not_found(store.get_model_by_name("Resnet").await, Entity::Model);
}

/// `get_*_by_ids` read many records at once, in the order asked, skipping missing ids
/// and repeating repeated ones (what search hits resolve through).
pub async fn read_by_ids(h: &dyn StoreHarness) {
    let store = h.open().await;
    let mut models = Vec::new();
    for name in ["a", "b", "c"] {
        models.push(store.create_model(NewModel::new(name)).await.unwrap());
    }
    let ids = [models[2].id, 999_999.into(), models[0].id, models[2].id];
    let found = store.get_models_by_ids(&ids).await.unwrap();
    assert_eq!(found, vec![models[2].clone(), models[0].clone(), models[2].clone()]);
    assert_eq!(store.get_models_by_ids(&[]).await.unwrap(), vec![]);
    let many: Vec<_> = models.iter().cycle().take(1_200).map(|m| m.id).collect();
    assert_eq!(store.get_models_by_ids(&many).await.unwrap().len(), 1_200, "beyond one query's parameters");

    let d1 = store.create_dataset(NewDataset::new("d1")).await.unwrap();
    let d2 = store.create_dataset(NewDataset::new("d2")).await.unwrap();
    let found = store.get_datasets_by_ids(&[d2.id, 999_999.into(), d1.id]).await.unwrap();
    assert_eq!(found, vec![d2, d1]);

    let version = store.create_model_version(NewModelVersion::new(models[0].id, "1")).await.unwrap();
    let p = store
        .log_prediction(NewPrediction::new(version.id, json!({"x": 1}), json!([0.5, 0.5])))
        .await
        .unwrap();
    assert_eq!(store.get_predictions_by_ids(&[999_999.into(), p.id]).await.unwrap(), vec![p]);
}
