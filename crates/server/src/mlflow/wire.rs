//! MLflow's JSON shapes (protobuf JSON, 64-bit integers as numbers) and conversions.

use std::collections::BTreeMap;

use aimdb::{AiDatabase, Experiment, MetadataStore, Metric, TagTarget, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{INTERNAL_TAG_PREFIX, MlflowError};

/// The MLflow id of an experiment: `"0"` for `Default`, as MLflow numbers it.
pub(crate) const DEFAULT_EXPERIMENT: &str = "Default";

/// `{"key", "value"}` as MLflow sends tags and params.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

/// Milliseconds since the Unix epoch, MLflow's time.
pub(crate) fn millis(ts: Timestamp) -> i64 {
    ts.timestamp_millis()
}

/// MLflow's time as aimdb's, naming `field` when out of range.
pub(crate) fn from_millis(ms: i64, field: &str) -> Result<Timestamp, MlflowError> {
    ms.checked_mul(1000)
        .and_then(aimdb::time::from_micros)
        .ok_or_else(|| MlflowError::invalid(format!("{field} {ms} is not a time in milliseconds")))
}

/// A tag or param in MLflow's form, serialized from borrowed strings.
#[derive(Serialize)]
pub(crate) struct Pair<'a> {
    key: &'a str,
    value: &'a str,
}

impl<'a> Pair<'a> {
    pub(crate) fn of((key, value): (&'a String, &'a String)) -> Self {
        Pair { key, value }
    }
}

/// Tags in MLflow's form, without aimdb's own.
pub(crate) fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Pair<'_>> {
    tags.iter().filter(|(k, _)| !k.starts_with(INTERNAL_TAG_PREFIX)).map(Pair::of).collect()
}

/// Tags from MLflow's form, refusing aimdb's reserved prefix.
pub(crate) fn tag_map(tags: Vec<KeyValue>) -> Result<BTreeMap<String, String>, MlflowError> {
    tags.into_iter()
        .map(|t| {
            check_not_internal(&t.key)?;
            Ok((t.key, t.value))
        })
        .collect()
}

/// Keys under `aimdb.` are the server's own.
pub(crate) fn check_not_internal(key: &str) -> Result<(), MlflowError> {
    if key.starts_with(INTERNAL_TAG_PREFIX) {
        return Err(MlflowError::invalid(format!(
            "tag key {key:?}: keys starting with {INTERNAL_TAG_PREFIX:?} are reserved by aimdb"
        )));
    }
    Ok(())
}

/// A hyperparameter as MLflow's string param (JSON for anything but a string).
pub(crate) fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An experiment's MLflow id.
pub(crate) fn experiment_id(experiment: &Experiment) -> String {
    if experiment.name == DEFAULT_EXPERIMENT { "0".to_owned() } else { experiment.id.0.to_string() }
}

/// An experiment in MLflow's form.
pub(crate) fn experiment(experiment: &Experiment, tags: &BTreeMap<String, String>) -> Value {
    let id = experiment_id(experiment);
    let stage = tags.get(LIFECYCLE_TAG).map_or("active", String::as_str);
    json!({
        "experiment_id": id,
        "name": experiment.name,
        "artifact_location": format!("mlflow-artifacts:/{id}"),
        "lifecycle_stage": stage,
        "creation_time": millis(experiment.created_at),
        "last_update_time": millis(experiment.created_at),
        "tags": tag_list(tags),
    })
}

/// A metric point in MLflow's form, serialized straight from the stored point (a history
/// of 100k points builds no JSON tree).
#[derive(Serialize)]
pub(crate) struct MetricPoint<'a> {
    key: &'a str,
    value: f64,
    timestamp: i64,
    step: i64,
}

impl<'a> From<&'a Metric> for MetricPoint<'a> {
    fn from(point: &'a Metric) -> Self {
        MetricPoint {
            key: &point.metric_name,
            value: point.metric_value,
            timestamp: millis(point.timestamp),
            step: point.step.unwrap_or(0),
        }
    }
}

/// Soft deletes: `deleted` here, absent when active.
pub(crate) const LIFECYCLE_TAG: &str = "aimdb.lifecycle_stage";

/// Whether a record's tags mark it soft-deleted.
pub(crate) fn deleted(tags: &BTreeMap<String, String>) -> bool {
    tags.get(LIFECYCLE_TAG).is_some_and(|s| s == "deleted")
}

/// MLflow's soft delete of one record: marked, kept, hidden from MLflow's answers.
pub(crate) async fn soft_delete(db: &AiDatabase, target: TagTarget) -> aimdb::Result<()> {
    db.set_tags(target, [(LIFECYCLE_TAG.to_owned(), "deleted".to_owned())].into()).await
}

/// Undoes [`soft_delete`].
pub(crate) async fn restore(db: &AiDatabase, target: TagTarget) -> aimdb::Result<()> {
    db.delete_tag(target, LIFECYCLE_TAG).await.map(drop)
}
/// The MLflow id of a run's experiment.
pub(crate) const EXPERIMENT_TAG: &str = "aimdb.experiment_id";
/// MLflow's own tag for a run's name.
pub(crate) const RUN_NAME_TAG: &str = "mlflow.runName";
/// MLflow's own tag for who started a run.
pub(crate) const USER_TAG: &str = "mlflow.user";
/// MLflow's own tag for a description (runs, experiments).
pub(crate) const NOTE_TAG: &str = "mlflow.note.content";

/// MLflow's run status for aimdb's (`completed` is MLflow's `FINISHED`).
pub(crate) fn run_status(status: &str, ended: bool) -> &'static str {
    match status {
        "running" | "started" => "RUNNING",
        "scheduled" => "SCHEDULED",
        "completed" | "finished" => "FINISHED",
        "failed" => "FAILED",
        "killed" => "KILLED",
        _ if ended => "FINISHED",
        _ => "RUNNING",
    }
}

/// aimdb's status for MLflow's, and whether the run has ended.
pub(crate) fn aimdb_status(status: &str) -> Result<(&'static str, bool), MlflowError> {
    Ok(match status {
        "RUNNING" => ("running", false),
        "SCHEDULED" => ("scheduled", false),
        "FINISHED" => (aimdb::request::COMPLETED_RUN_STATUS, true),
        "FAILED" => ("failed", true),
        "KILLED" => ("killed", true),
        other => {
            return Err(MlflowError::invalid(format!(
                "status {other:?} is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
            )));
        }
    })
}
