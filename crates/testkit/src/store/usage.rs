//! Predictions: single and batch logging, newest-first reads, atomic batches.

use aimdb_core::{Entity, NewPrediction, Page};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::model_with_run;
use crate::{StoreHarness, expect_invalid, expect_not_found};

/// Predictions round-trip and come back newest first, limited.
pub async fn predictions(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, _) = model_with_run(&store, "m").await;
    let (other, _) = model_with_run(&store, "other").await;
    let base = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
    let single = store
        .log_prediction(
            NewPrediction::new(version.id, json!({"image": "cat.jpg"}), json!({"label": "cat"}))
                .with_confidence(0.97)
                .with_inference_time_ms(12.5)
                .with_timestamp(base)
                .with_metadata(json!({"client": "web"})),
        )
        .await
        .unwrap();
    assert_eq!(store.get_prediction(single.id).await.unwrap(), single);

    // Timestamps deliberately out of insertion order.
    let offsets = [5, 1, 9, 3];
    let batch: Vec<_> = offsets
        .iter()
        .map(|&m| {
            NewPrediction::new(version.id, json!({"i": m}), json!([m, m * 2]))
                .with_timestamp(base + Duration::minutes(m))
        })
        .collect();
    let logged = store.log_predictions(batch).await.unwrap();
    assert_eq!(logged.len(), 4);
    assert_eq!(logged.iter().map(|p| p.input_data["i"].as_i64().unwrap()).collect::<Vec<_>>(), offsets);
    assert!(logged.windows(2).all(|w| w[0].id < w[1].id), "ids in the order given");
    store.log_prediction(NewPrediction::new(other.id, json!(null), json!(1))).await.unwrap();

    let newest = store.get_predictions(version.id, 3).await.unwrap();
    assert_eq!(newest.iter().map(|p| p.input_data["i"].as_i64().unwrap()).collect::<Vec<_>>(), [9, 5, 3]);
    let all = store.get_predictions(version.id, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[4], single, "oldest last");
    assert!(store.get_predictions(version.id, 0).await.unwrap().is_empty());
    expect_not_found(store.get_predictions(999_999.into(), 10).await, Entity::ModelVersion);

    let listed = store.list_predictions(Page::all()).await.unwrap();
    assert_eq!(listed.len(), 6);
    assert!(listed.windows(2).all(|w| w[0].id < w[1].id));
    let page = store.list_predictions(Page::first(2).after(listed[1].id.get())).await.unwrap();
    assert_eq!(page, listed[2..4]);
    assert!(store.log_predictions(Vec::new()).await.unwrap().is_empty());
}

/// A batch with a bad item or a missing version writes nothing.
pub async fn prediction_batch_is_atomic(h: &dyn StoreHarness) {
    let store = h.open().await;
    let (version, _) = model_with_run(&store, "m").await;
    let good = |i: i64| NewPrediction::new(version.id, json!(i), json!(i));
    expect_not_found(
        store
            .log_predictions(vec![good(1), NewPrediction::new(999_999.into(), json!(2), json!(2)), good(3)])
            .await,
        Entity::ModelVersion,
    );
    expect_invalid(
        store.log_predictions(vec![good(1), good(2).with_confidence(f64::NAN)]).await,
        "predictions[1].confidence",
    );
    expect_invalid(
        store.log_prediction(good(1).with_inference_time_ms(f64::INFINITY)).await,
        "inference_time_ms",
    );
    expect_not_found(
        store.log_prediction(NewPrediction::new(999_999.into(), json!(1), json!(1))).await,
        Entity::ModelVersion,
    );
    assert_eq!(store.statistics().await.unwrap().predictions, 0);
    assert!(store.get_predictions(version.id, 10).await.unwrap().is_empty());
}
