//! Records to Python: one `dict` per record with the seed's field names, timestamps as
//! aware `datetime`s (UTC), JSON fields as Python objects.
//!
//! Written field by field rather than through serde: serde would turn timestamps into
//! strings, and `get_metrics` of 100k points must stay well under 200 ms.

use std::collections::BTreeMap;

use aimdb::{
    Dataset, Experiment, ExperimentRunDetail, Metric, Model, ModelVersion, Prediction, SearchHit, Statistics,
    Timestamp, TrainingRun,
};
use chrono::{Datelike, Timelike};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyDict, PyList, PyString, PyTzInfo};
use serde::Serialize;
use serde_json::Value;

/// A `dict` from `key => value` pairs; keys are interned (they repeat in every record).
macro_rules! dict {
    ($py:expr, { $($key:literal => $value:expr),* $(,)? }) => {{
        let dict = PyDict::new($py);
        $( dict.set_item(pyo3::intern!($py, $key), $value)?; )*
        dict
    }};
}

/// Any serialisable value (JSON fields, statistics, reports) as Python objects.
pub(crate) fn value<'py>(py: Python<'py>, value: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, value)?)
}

/// `get_statistics`: serde's shape, with the one timestamp in it (`index.last_repair.at`)
/// an aware `datetime` like every other.
pub(crate) fn statistics<'py>(py: Python<'py>, stats: &Statistics) -> PyResult<Bound<'py, PyAny>> {
    let converted = value(py, stats)?;
    if let Some(repair) = stats.index.as_ref().and_then(|i| i.last_repair.as_ref()) {
        converted.get_item("index")?.get_item("last_repair")?.set_item("at", repair.at)?;
    }
    Ok(converted)
}

/// An aware `datetime` in UTC. Built from its fields with the shared `timezone.utc`:
/// pyo3's chrono conversion makes a new `timezone` per value, a third of `get_metrics`.
fn datetime<'py>(py: Python<'py>, ts: Timestamp) -> PyResult<Bound<'py, PyDateTime>> {
    let utc = PyTzInfo::utc(py)?;
    // A leap second (nanoseconds past 1e9) has no `datetime`: it is shown as the second's end.
    let micros = (ts.nanosecond() / 1_000).min(999_999);
    PyDateTime::new(
        py,
        ts.year(),
        ts.month() as u8,
        ts.day() as u8,
        ts.hour() as u8,
        ts.minute() as u8,
        ts.second() as u8,
        micros,
        Some(&utc),
    )
}

fn opt_datetime<'py>(py: Python<'py>, ts: Option<Timestamp>) -> PyResult<Option<Bound<'py, PyDateTime>>> {
    ts.map(|ts| datetime(py, ts)).transpose()
}

fn json<'py>(py: Python<'py>, json: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
    match json {
        Some(json) => value(py, json),
        None => Ok(py.None().into_bound(py)),
    }
}

/// A list of `convert(item)` for each item.
pub(crate) fn list<'py, T>(
    py: Python<'py>,
    items: &[T],
    convert: impl Fn(Python<'py>, &T) -> PyResult<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for item in items {
        list.append(convert(py, item)?)?;
    }
    Ok(list)
}

/// A search hit: the record's fields plus `similarity_score`.
pub(crate) fn hit<'py, T>(
    py: Python<'py>,
    hit: &SearchHit<T>,
    convert: impl Fn(Python<'py>, &T) -> PyResult<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = convert(py, &hit.item)?;
    dict.set_item(pyo3::intern!(py, "similarity_score"), f64::from(hit.similarity_score))?;
    Ok(dict)
}

pub(crate) fn model<'py>(py: Python<'py>, m: &Model) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "id" => m.id.0,
        "name" => &m.name,
        "description" => m.description.as_deref(),
        "architecture" => m.architecture.as_deref(),
        "framework" => m.framework.as_deref(),
        "task_type" => m.task_type.as_deref(),
        "input_shape" => json(py, m.input_shape.as_ref())?,
        "output_shape" => json(py, m.output_shape.as_ref())?,
        "created_at" => datetime(py, m.created_at)?,
        "updated_at" => datetime(py, m.updated_at)?,
    }))
}

pub(crate) fn version<'py>(py: Python<'py>, v: &ModelVersion) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "id" => v.id.0,
        "model_id" => v.model_id.0,
        "version" => &v.version,
        "checkpoint_path" => v.checkpoint_path.as_deref(),
        "config" => json(py, v.config.as_ref())?,
        "status" => &v.status,
        "created_at" => datetime(py, v.created_at)?,
    }))
}

pub(crate) fn dataset<'py>(py: Python<'py>, d: &Dataset) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "id" => d.id.0,
        "name" => &d.name,
        "description" => d.description.as_deref(),
        "source_path" => d.source_path.as_deref(),
        "format" => d.format.as_deref(),
        "size_bytes" => d.size_bytes,
        "num_samples" => d.num_samples,
        "split_info" => json(py, d.split_info.as_ref())?,
        "preprocessing" => json(py, d.preprocessing.as_ref())?,
        "created_at" => datetime(py, d.created_at)?,
    }))
}

pub(crate) fn run<'py>(py: Python<'py>, r: &TrainingRun) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "id" => r.id.0,
        "model_version_id" => r.model_version_id.map(|id| id.0),
        "dataset_id" => r.dataset_id.map(|id| id.0),
        "run_name" => r.run_name.as_deref(),
        "status" => &r.status,
        "started_at" => datetime(py, r.started_at)?,
        "completed_at" => opt_datetime(py, r.completed_at)?,
        "duration_seconds" => r.duration_seconds,
        "final_loss" => r.final_loss,
        "best_metric_value" => r.best_metric_value,
        "artifacts" => json(py, r.artifacts.as_ref())?,
    }))
}

/// `get_metrics`: one `dict` per point. A run's points share a handful of names and
/// splits, so each distinct string is made once and shared by the points.
pub(crate) fn metrics<'py>(py: Python<'py>, metrics: &[Metric]) -> PyResult<Bound<'py, PyList>> {
    let mut strings = Strings { py, seen: Vec::new() };
    let [run, name, value, epoch, step, split, time] = [
        intern!(py, "training_run_id"),
        intern!(py, "metric_name"),
        intern!(py, "metric_value"),
        intern!(py, "epoch"),
        intern!(py, "step"),
        intern!(py, "split"),
        intern!(py, "timestamp"),
    ];
    // Each point's dict is a copy of one with every key already in: a dict built key by key
    // is resized on its sixth key, the copy is made at its final size.
    let template = PyDict::new(py);
    for key in [run, name, value, epoch, step, split, time] {
        template.set_item(key, py.None())?;
    }
    let mut dicts = Vec::with_capacity(metrics.len());
    for m in metrics {
        let dict = template.copy()?;
        dict.set_item(run, m.training_run_id.0)?;
        dict.set_item(name, strings.get(&m.metric_name))?;
        dict.set_item(value, m.metric_value)?;
        dict.set_item(epoch, m.epoch)?;
        dict.set_item(step, m.step)?;
        dict.set_item(split, strings.get(&m.split))?;
        dict.set_item(time, datetime(py, m.timestamp)?)?;
        dicts.push(dict);
    }
    PyList::new(py, dicts)
}

/// Python strings made once per distinct text (the first few texts: a linear scan).
struct Strings<'a, 'py> {
    py: Python<'py>,
    seen: Vec<(&'a str, Bound<'py, PyString>)>,
}

impl<'a, 'py> Strings<'a, 'py> {
    fn get(&mut self, text: &'a str) -> Bound<'py, PyString> {
        if let Some((_, s)) = self.seen.iter().find(|(t, _)| *t == text) {
            return s.clone();
        }
        let s = PyString::new(self.py, text);
        if self.seen.len() < 16 {
            self.seen.push((text, s.clone()));
        }
        s
    }
}

pub(crate) fn hyperparameters<'py>(
    py: Python<'py>,
    params: &BTreeMap<String, Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, v) in params {
        dict.set_item(name, value(py, v)?)?;
    }
    Ok(dict)
}

pub(crate) fn experiment<'py>(py: Python<'py>, e: &Experiment) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "id" => e.id.0,
        "name" => &e.name,
        "description" => e.description.as_deref(),
        "hypothesis" => e.hypothesis.as_deref(),
        "status" => &e.status,
        "created_at" => datetime(py, e.created_at)?,
        "completed_at" => opt_datetime(py, e.completed_at)?,
        "results" => json(py, e.results.as_ref())?,
    }))
}

pub(crate) fn experiment_run<'py>(py: Python<'py>, r: &ExperimentRunDetail) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "experiment_id" => r.experiment_id.0,
        "training_run_id" => r.training_run_id.0,
        "variant_name" => r.variant_name.as_deref(),
        "notes" => r.notes.as_deref(),
        "status" => &r.status,
        "final_loss" => r.final_loss,
        "best_metric_value" => r.best_metric_value,
    }))
}

pub(crate) fn prediction<'py>(py: Python<'py>, p: &Prediction) -> PyResult<Bound<'py, PyDict>> {
    Ok(dict!(py, {
        "id" => p.id.0,
        "model_version_id" => p.model_version_id.0,
        "input_data" => value(py, &p.input_data)?,
        "output_data" => value(py, &p.output_data)?,
        "confidence" => p.confidence,
        "inference_time_ms" => p.inference_time_ms,
        "timestamp" => datetime(py, p.timestamp)?,
        "metadata" => json(py, p.metadata.as_ref())?,
    }))
}
