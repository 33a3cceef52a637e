//! Python arguments to aimdb requests: JSON fields, timestamps, batch items and filters.
//!
//! Wrong Python types are `TypeError`s naming the argument; values the engine refuses are
//! `InvalidInput` with `.field` set, as in Rust.

use aimdb::{
    DatasetFilter, ModelFilter, ModelVersionId, NewMetric, NewPrediction, PredictionFilter, Timestamp,
};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use crate::errors;

/// A JSON field (`config`, `input_data`, ...): any object `json.dumps` accepts. `None`
/// means unset.
pub(crate) fn json(field: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Value>> {
    match obj {
        None => Ok(None),
        Some(obj) if obj.is_none() => Ok(None),
        Some(obj) => json_required(field, obj).map(Some),
    }
}

/// A JSON field that must be given (`None` is JSON `null`).
pub(crate) fn json_required(field: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    pythonize::depythonize::<Value>(obj)
        .map_err(|e| PyTypeError::new_err(format!("{field}: not representable as JSON: {e}")))
}

/// A timestamp: an aware `datetime` (converted to UTC). Naive ones are refused: whether
/// they mean local time or UTC is a guess.
pub(crate) fn timestamp(field: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Timestamp>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    if let Ok(aware) = obj.extract::<DateTime<FixedOffset>>() {
        return Ok(Some(aware.with_timezone(&Utc)));
    }
    if obj.extract::<NaiveDateTime>().is_ok() {
        return Err(errors::invalid(
            field,
            "a naive datetime is ambiguous; give one with a tzinfo (e.g. timezone.utc)",
        ));
    }
    Err(PyTypeError::new_err(format!("{field}: expected a datetime, got {}", type_name(obj))))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

/// The items of a batch (`metrics`, `predictions`): each a `dict` of the seed's field
/// names; `field` names the item in errors (`metrics[3]`).
fn item<'a, 'py>(obj: &'a Bound<'py, PyAny>, field: impl Fn() -> String) -> PyResult<&'a Bound<'py, PyDict>> {
    obj.cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err(format!("{}: expected a dict, got {}", field(), type_name(obj))))
}

/// Walks a batch item's keys once, refusing any not in `known` (a typo must not be dropped).
fn check_keys(dict: &Bound<'_, PyDict>, field: &str, known: &[&str]) -> PyResult<()> {
    for key in dict.keys() {
        let key =
            key.cast::<PyString>().map_err(|_| PyTypeError::new_err(format!("{field}: keys must be str")))?;
        let key = key.to_str()?;
        if !known.contains(&key) {
            return Err(errors::invalid(
                &format!("{field}.{key}"),
                format!("unknown field; expected {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `dict[key]` extracted as `T`, `None` when absent or `None`.
fn get<'py, T: FromPyObjectOwned<'py>>(
    dict: &Bound<'py, PyDict>,
    field: &str,
    key: &str,
) -> PyResult<Option<T>> {
    extract(dict.get_item(key)?, || field.to_owned(), key)
}

/// `value` extracted as `T`, `None` when absent or `None`; a `TypeError` naming `field.key`
/// (the name is only made on error: batches are the hot path).
fn extract<'py, T: FromPyObjectOwned<'py>>(
    value: Option<Bound<'py, PyAny>>,
    field: impl Fn() -> String,
    key: &str,
) -> PyResult<Option<T>> {
    match value {
        Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|_| {
            PyTypeError::new_err(format!(
                "{}.{key}: expected {}, got {}",
                field(),
                std::any::type_name::<T>().rsplit("::").next().unwrap_or("?"),
                type_name(&v)
            ))
        }),
        _ => Ok(None),
    }
}

fn required<T>(value: Option<T>, field: impl Fn() -> String, key: &str) -> PyResult<T> {
    value.ok_or_else(|| errors::invalid(&format!("{}.{key}", field()), "required"))
}

const METRIC_KEYS: [&str; 6] = ["metric_name", "metric_value", "epoch", "step", "split", "timestamp"];

/// One item of `log_metrics`: `{"metric_name", "metric_value", "epoch"?, "step"?, "split"?, "timestamp"?}`.
pub(crate) fn metric(obj: &Bound<'_, PyAny>, index: usize) -> PyResult<NewMetric> {
    let py = obj.py();
    let field = || format!("metrics[{index}]");
    let dict = item(obj, field)?;
    // Interned keys: looking a key up by `&str` would make a Python string per lookup.
    let [name, value, epoch, step, split, time] = [
        dict.get_item(intern!(py, "metric_name"))?,
        dict.get_item(intern!(py, "metric_value"))?,
        dict.get_item(intern!(py, "epoch"))?,
        dict.get_item(intern!(py, "step"))?,
        dict.get_item(intern!(py, "split"))?,
        dict.get_item(intern!(py, "timestamp"))?,
    ];
    // Keys are looked up, not walked; more keys than were found means one is unknown, and
    // walking them names it.
    let found = [&name, &value, &epoch, &step, &split, &time].iter().filter(|v| v.is_some()).count();
    if found != dict.len() {
        check_keys(dict, &field(), &METRIC_KEYS)?;
    }
    let mut metric = NewMetric::new(
        required(extract::<String>(name, field, "metric_name")?, field, "metric_name")?,
        required(extract::<f64>(value, field, "metric_value")?, field, "metric_value")?,
    );
    metric.epoch = extract(epoch, field, "epoch")?;
    metric.step = extract(step, field, "step")?;
    metric.split = extract(split, field, "split")?;
    if let Some(time) = time.filter(|t| !t.is_none()) {
        metric.timestamp = timestamp(&format!("{}.timestamp", field()), Some(&time))?;
    }
    Ok(metric)
}

const PREDICTION_KEYS: &[&str] =
    &["input_data", "output_data", "confidence", "inference_time_ms", "metadata", "timestamp"];

/// One item of `log_predictions`: `{"input_data", "output_data", "confidence"?, ...}`.
pub(crate) fn prediction(
    obj: &Bound<'_, PyAny>,
    version: ModelVersionId,
    index: usize,
) -> PyResult<NewPrediction> {
    let field = format!("predictions[{index}]");
    let dict = item(obj, || field.clone())?;
    check_keys(dict, &field, PREDICTION_KEYS)?;
    let input = dict
        .get_item("input_data")?
        .ok_or_else(|| errors::invalid(&format!("{field}.input_data"), "required"))?;
    let output = dict
        .get_item("output_data")?
        .ok_or_else(|| errors::invalid(&format!("{field}.output_data"), "required"))?;
    let mut prediction = NewPrediction::new(
        version,
        json_required(&format!("{field}.input_data"), &input)?,
        json_required(&format!("{field}.output_data"), &output)?,
    );
    prediction.confidence = get(dict, &field, "confidence")?;
    prediction.inference_time_ms = get(dict, &field, "inference_time_ms")?;
    prediction.metadata = json(&format!("{field}.metadata"), dict.get_item("metadata")?.as_ref())?;
    prediction.timestamp = timestamp(&format!("{field}.timestamp"), dict.get_item("timestamp")?.as_ref())?;
    Ok(prediction)
}

/// `**filters` of a search, each `str` (or `int` for `model_version_id`); an unknown name
/// is an `InvalidInput` that lists the known ones.
fn filters<'py>(
    filters: Option<&Bound<'py, PyDict>>,
    known: &[&str],
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let mut out = Vec::new();
    for (key, value) in filters.into_iter().flat_map(|f| f.iter()) {
        let key: String = key.extract()?;
        if !known.contains(&key.as_str()) {
            return Err(errors::invalid(&key, format!("not a filter here; expected {}", known.join(", "))));
        }
        if !value.is_none() {
            out.push((key, value));
        }
    }
    Ok(out)
}

fn text(key: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    value
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{key}: expected str, got {}", type_name(value))))
}

pub(crate) fn model_filter(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<ModelFilter> {
    let mut filter = ModelFilter::default();
    for (key, value) in filters(kwargs, &["framework", "architecture", "task_type"])? {
        let value = Some(text(&key, &value)?);
        match key.as_str() {
            "framework" => filter.framework = value,
            "architecture" => filter.architecture = value,
            _ => filter.task_type = value,
        }
    }
    Ok(filter)
}

pub(crate) fn dataset_filter(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<DatasetFilter> {
    let mut filter = DatasetFilter::default();
    for (key, value) in filters(kwargs, &["format"])? {
        filter.format = Some(text(&key, &value)?);
    }
    Ok(filter)
}

pub(crate) fn prediction_filter(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<PredictionFilter> {
    let mut filter = PredictionFilter::default();
    for (key, value) in filters(kwargs, &["model_version_id"])? {
        let id: i64 = value
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{key}: expected int, got {}", type_name(&value))))?;
        filter.model_version_id = Some(ModelVersionId(id));
    }
    Ok(filter)
}
