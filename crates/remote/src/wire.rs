//! The JSON the server and the client exchange, in one place.
//!
//! Entities and requests are their serde form (the seed's field names, as the CLI's
//! `--json` prints them) with one rule on top: an optional JSON field that is unset is
//! left out, and one that holds JSON `null` is sent as `null`. Plain serde would write both
//! as `null`, and "JSON given is JSON returned" would lose the difference.

use aimdb_core::{
    Dataset, Entity, Error, Experiment, ImportBatch, Model, ModelVersion, OptionalJson, Prediction, Result,
    TrainingRun,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `record` as JSON: unset optional JSON fields left out, `Some(null)` kept as `null`.
pub fn to_value<T: Serialize + OptionalJson>(record: &T) -> Result<Value> {
    let mut value = serde_json::to_value(record).map_err(|e| Error::backend("encode JSON", e))?;
    if let Value::Object(map) = &mut value {
        for (name, field) in record.optional_json() {
            if field.is_none() {
                map.remove(name);
            }
        }
    }
    Ok(value)
}

/// Each record of `records` as [`to_value`] writes it.
pub fn to_values<T: Serialize + OptionalJson>(records: &[T]) -> Result<Value> {
    records.iter().map(to_value).collect::<Result<Vec<_>>>().map(Value::Array)
}

/// The inverse of [`to_value`]: an optional JSON field present as `null` is `Some(null)`.
/// A value that does not fit is [`Error::InvalidInput`] naming the field by its path
/// (`metrics[3].metric_value`), with `prefix` before it.
pub fn from_value<T: DeserializeOwned + OptionalJson>(value: Value, prefix: &str) -> Result<T> {
    // serde would also take a struct from an array of its fields in order: not on the wire.
    let nulls: Vec<String> = match &value {
        Value::Object(map) => map.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect(),
        other => {
            return Err(Error::invalid(
                field_name(prefix),
                format!("expected an object, got {}", kind(other)),
            ));
        }
    };
    let mut record: T = decode(value, prefix)?;
    record.restore_json_nulls(&nulls.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(record)
}

/// [`from_value`] over a JSON array.
pub fn from_values<T: DeserializeOwned + OptionalJson>(value: Value, prefix: &str) -> Result<Vec<T>> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| from_value(item, &format!("{prefix}[{i}]")))
            .collect(),
        other => Err(Error::invalid(field_name(prefix), format!("expected an array, got {}", kind(&other)))),
    }
}

/// Plain serde decoding with the failing field named by its path.
pub fn decode<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| invalid_at(&e, prefix))
}

/// [`decode`] straight from JSON text, without a `Value` in between (10k-point metric
/// batches decode several times faster). `Ok(Err(_))` is text that is not JSON at all
/// (the server answers 400 for it, 422 for JSON of the wrong shape).
pub fn decode_slice<T: DeserializeOwned>(bytes: &[u8], prefix: &str) -> Result<Result<T, serde_json::Error>> {
    // Tracking the path costs a third of the decoding: only a failure needs it.
    if let Ok(decoded) = serde_json::from_slice(bytes) {
        return Ok(Ok(decoded));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let decoded = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(decoded) => decoded,
        Err(e) if e.inner().is_data() => return Err(invalid_at(&e, prefix)),
        Err(e) => return Ok(Err(e.into_inner())),
    };
    Ok(deserializer.end().map(|()| decoded))
}

/// The field a decoding error is about, by its path under `prefix`.
fn invalid_at<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>, prefix: &str) -> Error {
    let mut path = e.path().to_string();
    let reason = e.inner().to_string();
    // A missing field is reported at its parent: name the field itself.
    if let Some(missing) = reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
        path = if path == "." { missing.to_owned() } else { format!("{path}.{missing}") };
    }
    let field = match (prefix, path.as_str()) {
        (prefix, ".") => field_name(prefix),
        ("", path) => path.to_owned(),
        (prefix, path) if path.starts_with('[') => format!("{prefix}{path}"),
        (prefix, path) => format!("{prefix}.{path}"),
    };
    Error::invalid(field, reason)
}

fn field_name(prefix: &str) -> String {
    if prefix.is_empty() { "body".to_owned() } else { prefix.to_owned() }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An [`ImportBatch`] as `{"entity": "model", "records": [...]}`.
pub fn import_to_value(batch: &ImportBatch) -> Result<Value> {
    let records = match batch {
        ImportBatch::Models(v) => to_values(v)?,
        ImportBatch::ModelVersions(v) => to_values(v)?,
        ImportBatch::Datasets(v) => to_values(v)?,
        ImportBatch::TrainingRuns(v) => to_values(v)?,
        ImportBatch::Experiments(v) => to_values(v)?,
        ImportBatch::Predictions(v) => to_values(v)?,
        other => {
            return Err(Error::invalid("entity", format!("{} cannot be imported remotely", other.entity())));
        }
    };
    Ok(serde_json::json!({ "entity": batch.entity().as_str(), "records": records }))
}

/// The inverse of [`import_to_value`].
pub fn import_from_value(value: Value) -> Result<ImportBatch> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        entity: String,
        records: Value,
    }
    let raw: Raw = decode(value, "")?;
    let records = raw.records;
    Ok(match entity(&raw.entity)? {
        Entity::Model => ImportBatch::Models(from_values::<Model>(records, "records")?),
        Entity::ModelVersion => ImportBatch::ModelVersions(from_values::<ModelVersion>(records, "records")?),
        Entity::Dataset => ImportBatch::Datasets(from_values::<Dataset>(records, "records")?),
        Entity::TrainingRun => ImportBatch::TrainingRuns(from_values::<TrainingRun>(records, "records")?),
        Entity::Experiment => ImportBatch::Experiments(from_values::<Experiment>(records, "records")?),
        Entity::Prediction => ImportBatch::Predictions(from_values::<Prediction>(records, "records")?),
        other => return Err(Error::invalid("entity", format!("{other} records cannot be imported"))),
    })
}

fn entity(name: &str) -> Result<Entity> {
    Entity::ALL
        .into_iter()
        .find(|e| e.as_str() == name)
        .ok_or_else(|| Error::invalid("entity", format!("unknown entity `{name}`")))
}

/// The body of every error answer: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, with the fields of the error kind that apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// `not_found`, `already_exists`, `invalid_input`, `dimension_mismatch`, `unavailable`,
    /// `config`, `backend`, or, from the server itself, `unauthorized`, `forbidden`,
    /// `payload_too_large`, `no_route`, `method_not_allowed`.
    pub kind: String,
    /// A sentence for people.
    pub message: String,
    /// The offending field (`invalid_input`, `payload_too_large`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why the field was rejected (`invalid_input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The entity looked up or created (`not_found`, `already_exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The id or name (`not_found`, `already_exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What was checked (`dimension_mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The dimension expected (`dimension_mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<usize>,
    /// The dimension given (`dimension_mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<usize>,
}

impl ErrorDetail {
    /// An error of the server's own `kind` (not an [`Error`]).
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        ErrorDetail { kind: kind.to_owned(), message: message.into(), ..Default::default() }
    }

    /// The detail of `error`. The message of a backend error names no driver detail beyond
    /// its own text (sources stay in the server's log).
    pub fn of(error: &Error) -> Self {
        let message = error.to_string();
        match error {
            Error::NotFound { entity, key } => ErrorDetail {
                entity: Some(entity.as_str().to_owned()),
                key: Some(key.clone()),
                ..Self::new("not_found", message)
            },
            Error::AlreadyExists { entity, key } => ErrorDetail {
                entity: Some(entity.as_str().to_owned()),
                key: Some(key.clone()),
                ..Self::new("already_exists", message)
            },
            Error::InvalidInput { field, reason } => ErrorDetail {
                field: Some(field.clone()),
                reason: Some(reason.clone()),
                ..Self::new("invalid_input", message)
            },
            Error::DimensionMismatch { context, expected, actual } => ErrorDetail {
                context: Some(context.clone()),
                expected: Some(*expected),
                actual: Some(*actual),
                ..Self::new("dimension_mismatch", message)
            },
            Error::Unavailable { .. } => Self::new("unavailable", message),
            Error::Config { .. } => Self::new("config", message),
            _ => Self::new("backend", message),
        }
    }

    /// The [`Error`] this detail describes, as the client returns it. The server's own kinds
    /// map to what the caller must change: a token is configuration, a body too large is
    /// input.
    pub fn into_error(self) -> Error {
        let from_server = |what: &str| format!("the server answered: {what}");
        match self.kind.as_str() {
            "not_found" if self.entity.is_some() => {
                match entity(self.entity.as_deref().unwrap_or_default()) {
                    Ok(entity) => Error::NotFound { entity, key: self.key.unwrap_or_default() },
                    Err(_) => Error::Backend { message: from_server(&self.message), source: None },
                }
            }
            "already_exists" => match entity(self.entity.as_deref().unwrap_or_default()) {
                Ok(entity) => Error::AlreadyExists { entity, key: self.key.unwrap_or_default() },
                Err(_) => Error::Backend { message: from_server(&self.message), source: None },
            },
            "invalid_input" | "payload_too_large" => Error::InvalidInput {
                field: self.field.unwrap_or_else(|| "body".to_owned()),
                reason: self.reason.unwrap_or(self.message),
            },
            "dimension_mismatch" => Error::DimensionMismatch {
                context: self.context.unwrap_or_default(),
                expected: self.expected.unwrap_or_default(),
                actual: self.actual.unwrap_or_default(),
            },
            "unavailable" => Error::Unavailable { message: from_server(&self.message), source: None },
            "unauthorized" | "forbidden" => Error::config(format!(
                "{} (the token comes from {})",
                from_server(&self.message),
                crate::TOKEN_ENV
            )),
            "config" => Error::config(from_server(&self.message)),
            _ => Error::Backend { message: from_server(&self.message), source: None },
        }
    }
}

/// A JSON object with `key` set, for small bodies (`{"ids": [...]}`).
pub fn object(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
}
