//! Unicode, large payloads, statistics, concurrent writers, reopen.

use std::collections::BTreeMap;
use std::sync::Arc;

use aimdb_core::{
    MetadataStore, NewDataset, NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion,
    NewPrediction, NewTrainingRun, Page, TrainingRunUpdate,
};
use futures::future::try_join_all;
use serde_json::{Value, json};

use super::model_with_run;
use crate::StoreHarness;

const UNICODE_NAMES: [&str; 6] = [
    "résnet-ünïcödé",
    "模型-图像识别",
    "نموذج-عربي",
    "🤖🧠 model",
    "e\u{301}\u{20dd} combining",
    "tab\tand\nnewline",
];

/// Text in any script, emoji and control characters round-trips byte for byte.
pub async fn unicode(h: &dyn StoreHarness) {
    let store = h.open().await;
    for name in UNICODE_NAMES {
        let created = store
            .create_model(NewModel::new(name).with_description(format!("{name} — description")))
            .await
            .unwrap();
        assert_eq!(store.get_model_by_name(name).await.unwrap(), created);
        let dataset = store.create_dataset(NewDataset::new(name)).await.unwrap();
        assert_eq!(store.get_dataset_by_name(name).await.unwrap(), dataset);
    }
    let (_, run) = model_with_run(&store, "u").await;
    store
        .log_hyperparameters(run.id, BTreeMap::from([("学习率".to_owned(), json!("η=3·10⁻⁴ 🚀"))]))
        .await
        .unwrap();
    assert_eq!(store.get_hyperparameters(run.id).await.unwrap()["学习率"], json!("η=3·10⁻⁴ 🚀"));
    store.log_metric(run.id, NewMetric::new("точность", 0.5).with_split("валидация")).await.unwrap();
    let metric = &store.get_metrics(run.id, Some("точность")).await.unwrap()[0];
    assert_eq!(metric.split, "валидация");
}

fn payload(bytes: usize) -> Value {
    // A realistic large document: many keys, nested arrays, escaped text.
    let item = json!({"token": "\"quoted\" \\ and ünïcode ✓", "logits": [0.1, -2.5, 3.25e-7]});
    let per_item = item.to_string().len() + 12;
    let map: serde_json::Map<String, Value> =
        (0..bytes / per_item).map(|i| (format!("k{i:06}"), item.clone())).collect();
    Value::Object(map)
}

/// 1 MB JSON values round-trip exactly in every JSON column that may hold them.
pub async fn large_json(h: &dyn StoreHarness) {
    let store = h.open().await;
    let big = payload(1 << 20);
    assert!(big.to_string().len() >= 1_000_000);
    let model = store.create_model(NewModel::new("big").with_input_shape(big.clone())).await.unwrap();
    assert_eq!(store.get_model(model.id).await.unwrap().input_shape.as_ref(), Some(&big));
    let version = store
        .create_model_version(NewModelVersion::new(model.id, "1").with_config(big.clone()))
        .await
        .unwrap();
    assert_eq!(store.get_model_version(version.id).await.unwrap().config.as_ref(), Some(&big));
    let prediction = store
        .log_prediction(NewPrediction::new(version.id, big.clone(), big.clone()).with_metadata(big.clone()))
        .await
        .unwrap();
    let read = store.get_prediction(prediction.id).await.unwrap();
    assert_eq!((read.input_data, read.metadata), (big.clone(), Some(big.clone())));
    let run = store.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
    store.log_hyperparameters(run.id, BTreeMap::from([("big".to_owned(), big.clone())])).await.unwrap();
    assert_eq!(store.get_hyperparameters(run.id).await.unwrap()["big"], big);
}

/// Statistics count every entity.
pub async fn statistics(h: &dyn StoreHarness) {
    let store = h.open().await;
    assert_eq!(store.statistics().await.unwrap(), Default::default());
    let (version, run) = model_with_run(&store, "m").await;
    store.create_model_version(NewModelVersion::new(version.model_id, "2")).await.unwrap();
    store.create_dataset(NewDataset::new("d")).await.unwrap();
    store.update_training_run(run.id, TrainingRunUpdate::completed()).await.unwrap();
    store.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
    store
        .log_hyperparameters(run.id, BTreeMap::from([("a".into(), json!(1)), ("b".into(), json!(2))]))
        .await
        .unwrap();
    store.log_metrics(run.id, (0..7).map(|i| NewMetric::new("loss", f64::from(i))).collect()).await.unwrap();
    let experiment = store.create_experiment(NewExperiment::new("e")).await.unwrap();
    store.add_experiment_run(NewExperimentRun::new(experiment.id, run.id)).await.unwrap();
    store
        .log_predictions((0..3).map(|i| NewPrediction::new(version.id, json!(i), json!(i))).collect())
        .await
        .unwrap();
    let s = store.statistics().await.unwrap();
    assert_eq!(
        [
            s.models,
            s.model_versions,
            s.datasets,
            s.training_runs,
            s.completed_runs,
            s.hyperparameters,
            s.metrics,
            s.experiments,
            s.experiment_runs,
            s.predictions
        ],
        [1, 2, 1, 2, 1, 2, 7, 1, 1, 3]
    );
}

const WRITERS: usize = 8;
const CREATES_PER_WRITER: usize = 200;

/// 8 tasks x 200 creates: every id unique, nothing lost; concurrent metric
/// logging on one run loses nothing either.
pub async fn concurrent_writers(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (_, run) = model_with_run(&store, "shared").await;
    let tasks = (0..WRITERS).map(|w| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(CREATES_PER_WRITER);
            for i in 0..CREATES_PER_WRITER {
                let model = store.create_model(NewModel::new(format!("w{w}-m{i}"))).await?;
                ids.push(model.id);
                if i % 4 == 0 {
                    store.log_metric(run.id, NewMetric::new(format!("w{w}"), i as f64)).await?;
                }
            }
            Ok::<_, aimdb_core::Error>(ids)
        })
    });
    let results = try_join_all(tasks).await.expect("no task panicked");
    let mut ids: Vec<_> = results.into_iter().flat_map(|r| r.expect("create")).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "duplicate ids handed out");
    assert_eq!(total, WRITERS * CREATES_PER_WRITER);
    assert_eq!(store.list_models(Page::all()).await.unwrap().len(), total + 1);
    let metrics = store.get_metrics(run.id, None).await.unwrap();
    assert_eq!(metrics.len(), WRITERS * CREATES_PER_WRITER / 4);
    for w in 0..WRITERS {
        let mine: Vec<_> =
            metrics.iter().filter(|m| m.metric_name == format!("w{w}")).map(|m| m.metric_value).collect();
        assert!(mine.windows(2).all(|p| p[0] < p[1]), "writer {w}'s points out of order");
    }
}

/// What was written survives close and reopen (stores whose capabilities say persistent).
pub async fn reopen(h: &dyn StoreHarness) {
    let store = h.open().await;
    if !store.info().capabilities.persistent {
        eprintln!("reopen: {} is not persistent; case does not apply", store.info().backend);
        return;
    }
    let (version, run) = model_with_run(&store, "kept").await;
    store.log_metrics(run.id, (0..10).map(|i| NewMetric::new("loss", f64::from(i))).collect()).await.unwrap();
    store.log_hyperparameters(run.id, BTreeMap::from([("lr".into(), json!(0.1))])).await.unwrap();
    let prediction =
        store.log_prediction(NewPrediction::new(version.id, json!("x"), json!("y"))).await.unwrap();
    let before = snapshot(&store).await;
    let metrics = store.get_metrics(run.id, None).await.unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = h.open().await;
    assert_eq!(snapshot(&store).await, before);
    assert_eq!(store.get_metrics(run.id, None).await.unwrap(), metrics);
    assert_eq!(store.get_hyperparameters(run.id).await.unwrap()["lr"], json!(0.1));
    assert_eq!(store.get_prediction(prediction.id).await.unwrap(), prediction);
    // Ids keep increasing after reopen: no reuse.
    let next = store.create_model(NewModel::new("after-reopen")).await.unwrap();
    assert!(next.id > version.model_id);
}

async fn snapshot(store: &Arc<dyn MetadataStore>) -> (Value, Value) {
    let models = store.list_models(Page::all()).await.unwrap();
    let stats = store.statistics().await.unwrap();
    (serde_json::to_value(models).unwrap(), serde_json::to_value(stats).unwrap())
}
