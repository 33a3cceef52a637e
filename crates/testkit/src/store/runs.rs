//! Training runs, hyperparameters, metrics and experiments.

use std::collections::BTreeMap;

use aimdb_core::{
    Entity, NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewTrainingRun, RunSummary, TagTarget,
    TrainingRunId, TrainingRunUpdate, time,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::model_with_run;
use crate::{StoreHarness, expect_already_exists, expect_invalid, expect_not_found};

/// Run summaries in one call: the same as the single reads, in the order asked, missing
/// runs skipped, and "latest" meaning the greatest step (unset = 0), then the latest time.
pub async fn run_summaries(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, first) = model_with_run(&store, "m").await;
    let second = store.create_training_run(NewTrainingRun::without_version()).await.unwrap();
    let bare = store.create_training_run(NewTrainingRun::without_version()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    let at = |s: i64| t0 + Duration::seconds(s);
    store
        .log_metrics(
            first.id,
            vec![
                NewMetric::new("loss", 0.9).with_step(5).with_timestamp(at(1)),
                NewMetric::new("loss", 0.5).with_step(3).with_timestamp(at(9)),
                NewMetric::new("acc", 0.1).with_timestamp(at(5)),
                NewMetric::new("acc", 0.2).with_step(0).with_timestamp(at(6)),
                NewMetric::new("acc", 0.3).with_timestamp(at(2)),
                NewMetric::new("f1", 0.4).with_step(2).with_timestamp(at(3)),
                NewMetric::new("f1", 0.6).with_step(2).with_timestamp(at(3)),
                NewMetric::new("f1", 0.5).with_step(1).with_timestamp(at(3)),
            ],
        )
        .await
        .unwrap();
    store.log_metrics(second.id, vec![NewMetric::new("loss", 0.7).with_step(1)]).await.unwrap();
    store.log_hyperparameters(first.id, BTreeMap::from([("lr".to_owned(), json!(0.01))])).await.unwrap();
    store
        .set_tags(TagTarget::TrainingRun(second.id), BTreeMap::from([("k".to_owned(), "v".to_owned())]))
        .await
        .unwrap();
    // A model's tag is not a run's, whatever their ids.
    let model_tag = BTreeMap::from([("model-only".to_owned(), "x".to_owned())]);
    store.set_tags(TagTarget::Model(version.model_id), model_tag).await.unwrap();

    let asked = [second.id, TrainingRunId(9_999), first.id, bare.id, second.id];
    let summaries = store.get_run_summaries(&asked).await.unwrap();
    let ids: Vec<_> = summaries.iter().map(|s| s.run.id).collect();
    assert_eq!(ids, [second.id, first.id, bare.id, second.id], "order kept, missing skipped");
    for summary in &summaries {
        let id = summary.run.id;
        assert_eq!(summary.run, store.get_training_run(id).await.unwrap());
        assert_eq!(summary.hyperparameters, store.get_hyperparameters(id).await.unwrap());
        assert_eq!(summary.tags, store.get_tags(TagTarget::TrainingRun(id)).await.unwrap());
        let points = store.get_metrics(id, None).await.unwrap();
        assert_eq!(summary.latest_metrics, RunSummary::latest_points(points), "run {id}");
    }
    let latest = &summaries[1].latest_metrics;
    assert_eq!(latest["loss"].metric_value, 0.9, "step 5 beats a later time at step 3");
    assert_eq!(latest["acc"].metric_value, 0.2, "unset step is 0; then the latest time");
    assert_eq!(latest["f1"].metric_value, 0.6, "same step and time: the one logged last");
    assert!(!summaries[1].tags.contains_key("model-only"));
    assert!(summaries[2].latest_metrics.is_empty() && summaries[2].tags.is_empty());
    assert!(store.get_run_summaries(&[]).await.unwrap().is_empty());
}

/// Runs: defaults, explicit fields, and both references checked.
pub async fn training_runs(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, plain) = model_with_run(&store, "m").await;
    assert_eq!(plain.status, "started");
    assert_eq!(plain.dataset_id, None);
    assert_eq!(plain.completed_at, None);
    let dataset = store.create_dataset(NewDataset::new("d")).await.unwrap();
    let started = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + Duration::nanoseconds(123_456_789);
    let run = store
        .create_training_run(
            NewTrainingRun::new(version.id)
                .with_dataset_id(dataset.id)
                .with_run_name("baseline")
                .with_status("running")
                .with_started_at(started)
                .with_artifacts(json!({"checkpoint": "/ckpt/best.pt"})),
        )
        .await
        .unwrap();
    assert_eq!(run.started_at, time::truncate(started), "truncated to microseconds");
    assert_eq!(store.get_training_run(run.id).await.unwrap(), run);
    expect_not_found(
        store.create_training_run(NewTrainingRun::new(999_999.into())).await,
        Entity::ModelVersion,
    );
    expect_not_found(
        store.create_training_run(NewTrainingRun::new(version.id).with_dataset_id(999_999)).await,
        Entity::Dataset,
    );
    assert_eq!(store.statistics().await.unwrap().training_runs, 2);
}

/// A run created without a model version records metrics and hyperparameters, and is
/// linked to a version later (as MLflow registers one after the run); a link to a missing
/// version is refused and changes nothing.
pub async fn run_without_version(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, _) = model_with_run(&store, "m").await;
    let run =
        store.create_training_run(NewTrainingRun::without_version().with_run_name("sweep-3")).await.unwrap();
    assert_eq!(run.model_version_id, None);
    assert_eq!(store.get_training_run(run.id).await.unwrap(), run);
    assert!(store.list_training_runs(Default::default()).await.unwrap().contains(&run));
    store.log_metrics(run.id, vec![NewMetric::new("loss", 0.5).with_step(1)]).await.unwrap();
    store.log_hyperparameters(run.id, BTreeMap::from([("lr".to_owned(), json!(0.01))])).await.unwrap();

    expect_not_found(
        store.update_training_run(run.id, TrainingRunUpdate::new().with_model_version_id(999_999)).await,
        Entity::ModelVersion,
    );
    expect_not_found(
        store
            .update_training_run(999_999.into(), TrainingRunUpdate::new().with_model_version_id(version.id))
            .await,
        Entity::TrainingRun,
    );
    assert_eq!(store.get_training_run(run.id).await.unwrap(), run, "a refused link changes nothing");

    let linked = store
        .update_training_run(run.id, TrainingRunUpdate::new().with_model_version_id(version.id))
        .await
        .unwrap();
    assert_eq!(linked.model_version_id, Some(version.id));
    assert_eq!((linked.run_name.as_deref(), linked.started_at), (Some("sweep-3"), run.started_at));
    assert_eq!(store.get_training_run(run.id).await.unwrap(), linked);
    let kept =
        store.update_training_run(run.id, TrainingRunUpdate::new().with_final_loss(0.1)).await.unwrap();
    assert_eq!(kept.model_version_id, Some(version.id), "an update without a version keeps the link");
    assert_eq!(store.get_metrics(run.id, None).await.unwrap().len(), 1);
}

/// Tags on models, versions, runs and experiments: set merges, values are replaced,
/// records are separate, a missing record is `NotFound`, bad keys are refused whole.
pub async fn tags(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, run) = model_with_run(&store, "m").await;
    let experiment = store.create_experiment(NewExperiment::new("e")).await.unwrap();
    let targets = [
        TagTarget::Model(version.model_id),
        TagTarget::ModelVersion(version.id),
        TagTarget::TrainingRun(run.id),
        TagTarget::Experiment(experiment.id),
    ];
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    for (i, target) in targets.into_iter().enumerate() {
        assert!(store.get_tags(target).await.unwrap().is_empty(), "{target}");
        let first = tags(&[("mlflow.runName", "sweep"), ("owner", "ana"), ("i", &i.to_string())]);
        store.set_tags(target, first).await.unwrap();
        store
            .set_tags(target, tags(&[("owner", "bo"), ("note", "ünïcode ✓ 𝛼"), ("empty", "")]))
            .await
            .unwrap();
        let want = tags(&[
            ("mlflow.runName", "sweep"),
            ("owner", "bo"),
            ("i", &i.to_string()),
            ("note", "ünïcode ✓ 𝛼"),
            ("empty", ""),
        ]);
        assert_eq!(store.get_tags(target).await.unwrap(), want, "{target}");
        assert!(store.delete_tag(target, "owner").await.unwrap());
        assert!(!store.delete_tag(target, "owner").await.unwrap(), "gone already");
        assert_eq!(store.get_tags(target).await.unwrap().len(), 4, "{target}");
    }
    let long = "x".repeat(aimdb_core::tag::MAX_TAG_VALUE_CHARS);
    store.set_tags(targets[2], tags(&[("long", &long)])).await.unwrap();
    assert_eq!(store.get_tags(targets[2]).await.unwrap()["long"], long);

    let missing = [
        (TagTarget::Model(999_999.into()), Entity::Model),
        (TagTarget::ModelVersion(999_999.into()), Entity::ModelVersion),
        (TagTarget::TrainingRun(999_999.into()), Entity::TrainingRun),
        (TagTarget::Experiment(999_999.into()), Entity::Experiment),
    ];
    for (target, entity) in missing {
        expect_not_found(store.set_tags(target, tags(&[("a", "b")])).await, entity);
        expect_not_found(store.get_tags(target).await, entity);
        expect_not_found(store.delete_tag(target, "a").await, entity);
    }
    let before = store.get_tags(targets[0]).await.unwrap();
    let too_long = "y".repeat(aimdb_core::tag::MAX_TAG_VALUE_CHARS + 1);
    expect_invalid(store.set_tags(targets[0], tags(&[("fine", "1"), ("", "blank key")])).await, "tags.key");
    expect_invalid(store.set_tags(targets[0], tags(&[("fine", "1"), ("big", &too_long)])).await, "tags.big");
    expect_invalid(store.set_tags(targets[0], tags(&[("nul", "a\0b")])).await, "tags.nul");
    assert_eq!(store.get_tags(targets[0]).await.unwrap(), before, "a refused batch writes nothing");
}

/// Only the fields an update sets change; a rejected update changes nothing.
pub async fn partial_update(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (_, run) = model_with_run(&store, "m").await;

    let updated =
        store.update_training_run(run.id, TrainingRunUpdate::new().with_final_loss(0.25)).await.unwrap();
    assert_eq!(updated.final_loss, Some(0.25));
    assert_eq!((updated.status.as_str(), updated.started_at), ("started", run.started_at));
    assert_eq!(updated.best_metric_value, None);

    let done_at = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let done = store
        .update_training_run(
            run.id,
            TrainingRunUpdate::new()
                .with_status("completed")
                .with_completed_at(done_at)
                .with_duration_seconds(3600.5)
                .with_best_metric_value(0.93)
                .with_artifacts(json!(["a.pt", "b.pt"])),
        )
        .await
        .unwrap();
    assert_eq!(done.final_loss, Some(0.25), "kept from the first update");
    assert_eq!(done.completed_at, Some(done_at));
    assert_eq!(store.get_training_run(run.id).await.unwrap(), done);
    assert_eq!(store.update_training_run(run.id, TrainingRunUpdate::new()).await.unwrap(), done);
    assert_eq!(store.statistics().await.unwrap().completed_runs, 1);

    expect_invalid(
        store
            .update_training_run(run.id, TrainingRunUpdate::new().with_status("x").with_final_loss(f64::NAN))
            .await,
        "final_loss",
    );
    assert_eq!(store.get_training_run(run.id).await.unwrap(), done, "rejected update wrote nothing");
    expect_not_found(
        store.update_training_run(999_999.into(), TrainingRunUpdate::completed()).await,
        Entity::TrainingRun,
    );

    // JSON `null` is a value like any other, distinct from "not set", and can be replaced.
    let nulled = TrainingRunUpdate::new().with_artifacts(serde_json::Value::Null);
    assert_eq!(store.update_training_run(run.id, nulled).await.unwrap().artifacts, Some(json!(null)));
    let other =
        store.update_training_run(run.id, TrainingRunUpdate::new().with_final_loss(0.5)).await.unwrap();
    assert_eq!(other.artifacts, Some(json!(null)), "an update of other fields keeps the null");
    let back = TrainingRunUpdate::new().with_artifacts(json!({"best": "c.pt"}));
    store.update_training_run(run.id, back).await.unwrap();
    assert_eq!(store.get_training_run(run.id).await.unwrap().artifacts, Some(json!({"best": "c.pt"})));
    assert_eq!(store.statistics().await.unwrap().completed_runs, 1);
}

/// Hyperparameters keep their JSON types; re-logging a name overwrites it.
pub async fn hyperparameters(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (_, run) = model_with_run(&store, "m").await;
    let params: BTreeMap<String, Value> = [
        ("lr", json!(0.0003)),
        ("epochs", json!(90)),
        ("big", json!(9_007_199_254_740_993_u64)),
        ("negative", json!(-7)),
        ("whole_float", json!(1.0)),
        ("optimizer", json!("adamw")),
        ("nesterov", json!(true)),
        ("scheduler", Value::Null),
        ("milestones", json!([30, 60, 80])),
        ("augment", json!({"flip": true, "crop": [224, 224]})),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    store.log_hyperparameters(run.id, params.clone()).await.unwrap();
    let read = store.get_hyperparameters(run.id).await.unwrap();
    assert_eq!(read, params);
    assert!(read["whole_float"].is_f64() && read["epochs"].is_i64() && read["big"].is_u64());

    store.log_hyperparameters(run.id, BTreeMap::from([("lr".to_owned(), json!("1e-4"))])).await.unwrap();
    let read = store.get_hyperparameters(run.id).await.unwrap();
    assert_eq!(read["lr"], json!("1e-4"));
    assert_eq!(read.len(), params.len());
    store.log_hyperparameters(run.id, BTreeMap::new()).await.unwrap();

    expect_invalid(
        store.log_hyperparameters(run.id, BTreeMap::from([(String::new(), json!(1))])).await,
        "hyperparameters.name",
    );
    expect_not_found(store.log_hyperparameters(999_999.into(), params).await, Entity::TrainingRun);
    expect_not_found(store.get_hyperparameters(999_999.into()).await, Entity::TrainingRun);
    assert_eq!(store.statistics().await.unwrap().hyperparameters, 10);
}

/// Metrics come back in logging order, optionally filtered by name.
pub async fn metrics(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (_, run) = model_with_run(&store, "m").await;
    let (_, other) = model_with_run(&store, "other").await;
    let at = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let first = store
        .log_metric(run.id, NewMetric::new("loss", 2.5).with_epoch(0).with_step(0).with_timestamp(at))
        .await
        .unwrap();
    assert_eq!(first.split, "train");
    assert_eq!(first.timestamp, at);
    let batch: Vec<_> = (1..=50)
        .flat_map(|step| {
            [
                NewMetric::new("loss", 2.5 / f64::from(step)).with_step(i64::from(step)),
                NewMetric::new("accuracy", f64::from(step) / 50.0)
                    .with_step(i64::from(step))
                    .with_split("val"),
            ]
        })
        .collect();
    assert_eq!(store.log_metrics(run.id, batch).await.unwrap(), 100);
    assert_eq!(store.log_metrics(run.id, Vec::new()).await.unwrap(), 0);
    store.log_metric(other.id, NewMetric::new("loss", 9.0)).await.unwrap();
    // Logged out of step order on purpose: reads follow logging order, not step.
    store.log_metric(run.id, NewMetric::new("loss", 0.01).with_step(0)).await.unwrap();

    let all = store.get_metrics(run.id, None).await.unwrap();
    assert_eq!(all.len(), 102);
    assert_eq!(all[0], first);
    assert_eq!((all[1].metric_name.as_str(), all[1].step), ("loss", Some(1)));
    assert_eq!((all[2].metric_name.as_str(), all[2].split.as_str()), ("accuracy", "val"));
    assert_eq!(all[101].metric_value, 0.01);
    assert!(all.iter().all(|m| m.training_run_id == run.id));

    let loss = store.get_metrics(run.id, Some("loss")).await.unwrap();
    assert_eq!(loss.len(), 52);
    let steps: Vec<_> = loss.iter().map(|m| m.step).collect();
    let mut expected = vec![Some(0)];
    expected.extend((1..=50).map(Some));
    expected.push(Some(0));
    assert_eq!(steps, expected);
    assert!(store.get_metrics(run.id, Some("missing")).await.unwrap().is_empty());

    expect_not_found(
        store.log_metric(999_999.into(), NewMetric::new("loss", 1.0)).await,
        Entity::TrainingRun,
    );
    expect_not_found(store.get_metrics(999_999.into(), None).await, Entity::TrainingRun);
    assert_eq!(store.statistics().await.unwrap().metrics, 103);
}

/// A batch with one bad point writes none of it.
pub async fn metric_batch_is_atomic(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (_, run) = model_with_run(&store, "m").await;
    let mut batch: Vec<_> = (0..10).map(|i| NewMetric::new("loss", f64::from(i))).collect();
    batch[7] = NewMetric::new("", 1.0);
    expect_invalid(store.log_metrics(run.id, batch.clone()).await, "metrics[7].metric_name");
    batch[7] = NewMetric::new("loss", 1.0).with_split("");
    expect_invalid(store.log_metrics(run.id, batch.clone()).await, "metrics[7].split");
    // Validation comes before the reference check: a good batch on a missing run is NotFound.
    batch[7] = NewMetric::new("loss", 1.0);
    expect_not_found(store.log_metrics(999_999.into(), batch).await, Entity::TrainingRun);
    assert!(store.get_metrics(run.id, None).await.unwrap().is_empty());
    assert_eq!(store.statistics().await.unwrap().metrics, 0);
}

/// NaN and infinities are rejected on every float field, on every backend,
/// because not every backend can store them (documented in ARCHITECTURE.md).
pub async fn non_finite_values_rejected(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (_, run) = model_with_run(&store, "m").await;
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        expect_invalid(store.log_metric(run.id, NewMetric::new("loss", bad)).await, "metric_value");
        let batch = vec![NewMetric::new("loss", 1.0), NewMetric::new("loss", bad)];
        expect_invalid(store.log_metrics(run.id, batch).await, "metrics[1].metric_value");
        expect_invalid(
            store.update_training_run(run.id, TrainingRunUpdate::new().with_best_metric_value(bad)).await,
            "best_metric_value",
        );
        expect_invalid(
            store.update_training_run(run.id, TrainingRunUpdate::new().with_duration_seconds(bad)).await,
            "duration_seconds",
        );
    }
    // Extremes that are finite are kept exactly.
    for good in [f64::MAX, f64::MIN_POSITIVE, -0.0, 5e-324, 1e308] {
        let m = store.log_metric(run.id, NewMetric::new("extreme", good)).await.unwrap();
        assert_eq!(m.metric_value, good);
    }
    let read: Vec<_> = store
        .get_metrics(run.id, Some("extreme"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.metric_value)
        .collect();
    assert_eq!(read, [f64::MAX, f64::MIN_POSITIVE, -0.0, 5e-324, 1e308]);
    assert_eq!(store.statistics().await.unwrap().metrics, 5);
}

/// Experiments group runs; reads join each run's current outcome.
pub async fn experiments(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, baseline) = model_with_run(&store, "m").await;
    let tuned = store.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
    let experiment = store
        .create_experiment(
            NewExperiment::new("lr-sweep")
                .with_description("Does a lower LR help?")
                .with_hypothesis("3e-4 beats 1e-3"),
        )
        .await
        .unwrap();
    assert_eq!(experiment.status, "active");
    assert_eq!(experiment.completed_at, None);
    assert_eq!(store.get_experiment(experiment.id).await.unwrap(), experiment);

    store
        .add_experiment_run(NewExperimentRun::new(experiment.id, tuned.id).with_variant_name("lr=3e-4"))
        .await
        .unwrap();
    let link = store
        .add_experiment_run(
            NewExperimentRun::new(experiment.id, baseline.id)
                .with_variant_name("baseline")
                .with_notes("control"),
        )
        .await
        .unwrap();
    assert_eq!(link.notes.as_deref(), Some("control"));
    expect_already_exists(
        store.add_experiment_run(NewExperimentRun::new(experiment.id, baseline.id)).await,
        Entity::ExperimentRun,
    );
    expect_not_found(
        store.add_experiment_run(NewExperimentRun::new(999_999.into(), baseline.id)).await,
        Entity::Experiment,
    );
    expect_not_found(
        store.add_experiment_run(NewExperimentRun::new(experiment.id, 999_999.into())).await,
        Entity::TrainingRun,
    );

    store
        .update_training_run(
            tuned.id,
            TrainingRunUpdate::completed().with_final_loss(0.1).with_best_metric_value(0.9),
        )
        .await
        .unwrap();
    let runs = store.get_experiment_runs(experiment.id).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].training_run_id, tuned.id, "in the order added");
    assert_eq!(runs[0].variant_name.as_deref(), Some("lr=3e-4"));
    assert_eq!(
        (runs[0].status.as_str(), runs[0].final_loss, runs[0].best_metric_value),
        ("completed", Some(0.1), Some(0.9))
    );
    assert_eq!((runs[1].status.as_str(), runs[1].final_loss), ("started", None));
    assert_eq!(runs[1].notes.as_deref(), Some("control"));
    expect_not_found(store.get_experiment_runs(999_999.into()).await, Entity::Experiment);

    let done = store
        .create_experiment(
            NewExperiment::new("closed").with_status("completed").with_results(json!({"winner": "b"})),
        )
        .await
        .unwrap();
    assert_eq!(store.get_experiment(done.id).await.unwrap().results, Some(json!({"winner": "b"})));
    let stats = store.statistics().await.unwrap();
    assert_eq!((stats.experiments, stats.experiment_runs), (2, 2));
}
