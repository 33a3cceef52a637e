//! Property-based round trips: whatever valid input proptest generates is read
//! back exactly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aimdb_core::{MetadataStore, NewMetric, NewModel, NewPrediction, time};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Number, Value};

use super::model_with_run;
use crate::StoreHarness;

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |v| v.is_finite())
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[^\\x00]{{0,{max}}}")).expect("regex")
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|v| Value::Number(v.into())),
        any::<u64>().prop_map(|v| Value::Number(v.into())),
        finite().prop_map(|v| Value::Number(Number::from_f64(v).expect("finite"))),
        text(30).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(text(12), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

#[derive(Debug, Clone)]
struct Input {
    name: String,
    description: Option<String>,
    shape: Option<Value>,
    params: BTreeMap<String, Value>,
    metrics: Vec<(String, f64, Option<i64>, i64)>,
    prediction: (Value, Value, Option<f64>, Option<Value>),
}

fn input() -> impl Strategy<Value = Input> {
    let name = text(200).prop_filter("not blank", |s| !s.trim().is_empty());
    let metric = (
        proptest::string::string_regex("[a-z_/.]{1,24}").expect("regex"),
        finite(),
        proptest::option::of(any::<i64>()),
        // 1970 to 2200, in microseconds.
        0_i64..7_258_118_400_000_000,
    );
    (
        name,
        proptest::option::of(text(200)),
        proptest::option::of(json()),
        proptest::collection::btree_map(
            text(20).prop_filter("not blank", |s| !s.trim().is_empty()),
            json(),
            0..6,
        ),
        proptest::collection::vec(metric, 0..20),
        (json(), json(), proptest::option::of(finite()), proptest::option::of(json())),
    )
        .prop_map(|(name, description, shape, params, metrics, prediction)| Input {
            name,
            description,
            shape,
            params,
            metrics,
            prediction,
        })
}

async fn round_trip(store: &Arc<dyn MetadataStore>, case: usize, input: Input) -> Result<(), TestCaseError> {
    // A suffix keeps names unique across cases (shrinking replays similar names).
    let name = format!("{}#{case}", input.name);
    let mut request = NewModel::new(&name);
    if let Some(d) = &input.description {
        request = request.with_description(d.clone());
    }
    if let Some(s) = &input.shape {
        request = request.with_input_shape(s.clone());
    }
    let model = store.create_model(request).await.map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&store.get_model(model.id).await.unwrap(), &model);
    prop_assert_eq!(&store.get_model_by_name(&name).await.unwrap(), &model);
    prop_assert_eq!(&model.description, &input.description);

    let (version, run) = model_with_run(store, &format!("{name}/run")).await;
    store.log_hyperparameters(run.id, input.params.clone()).await.unwrap();
    prop_assert_eq!(store.get_hyperparameters(run.id).await.unwrap(), input.params);

    let metrics: Vec<_> = input
        .metrics
        .iter()
        .map(|(n, v, step, micros)| {
            let mut m =
                NewMetric::new(n.clone(), *v).with_timestamp(time::from_micros(*micros).expect("in range"));
            if let Some(step) = step {
                m = m.with_step(*step);
            }
            m
        })
        .collect();
    store.log_metrics(run.id, metrics).await.unwrap();
    let read = store.get_metrics(run.id, None).await.unwrap();
    prop_assert_eq!(read.len(), input.metrics.len());
    for (got, (n, v, step, micros)) in read.iter().zip(&input.metrics) {
        prop_assert_eq!(&got.metric_name, n);
        prop_assert_eq!(got.metric_value, *v);
        prop_assert_eq!(got.step, *step);
        prop_assert_eq!(time::to_micros(got.timestamp), *micros);
    }

    let (inp, out, confidence, metadata) = input.prediction;
    let mut p = NewPrediction::new(version.id, inp, out);
    if let Some(c) = confidence {
        p = p.with_confidence(c);
    }
    if let Some(m) = metadata {
        p = p.with_metadata(m);
    }
    let logged = store.log_prediction(p).await.unwrap();
    prop_assert_eq!(store.get_prediction(logged.id).await.unwrap(), logged);
    Ok(())
}

/// Generated models, hyperparameters, metrics and predictions round-trip exactly.
pub async fn proptest_round_trips(h: &dyn StoreHarness) {
    let store = h.open().await;
    let cases = std::env::var("AIMDB_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let handle = tokio::runtime::Handle::current();
    let counter = AtomicUsize::new(0);
    tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        runner
            .run(&input(), |input| {
                let case = counter.fetch_add(1, Ordering::Relaxed);
                handle.block_on(round_trip(&store, case, input))
            })
            .unwrap_or_else(|e| panic!("{e}"));
    });
}
