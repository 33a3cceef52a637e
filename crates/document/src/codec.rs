//! Entities as BSON documents: `id` becomes `_id`, scalar fields stay native (queryable,
//! indexable), and the free-form JSON fields are stored as JSON text, because MongoDB
//! restricts `$` and `.` in keys and text keeps every number exactly as given.

use aimdb_core::{Error, OptionalJson, Result};
use mongodb::bson::{Bson, Document};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

use crate::error::decode;

/// Fields holding arbitrary JSON, in every entity.
const JSON_FIELDS: &[&str] = &[
    "input_shape",
    "output_shape",
    "config",
    "split_info",
    "preprocessing",
    "artifacts",
    "results",
    "input_data",
    "output_data",
    "metadata",
    "value",
];

/// Names of the optional JSON fields that hold `Some(null)` (see [`OptionalJson`]).
pub(crate) const JSON_NULLS: &str = "_json_nulls";

/// The document for `record`. Storage-only fields start with `_` (`_ts`, `_json_nulls`).
pub(crate) fn to_doc<T: Serialize + OptionalJson>(record: &T) -> Result<Document> {
    let nulls = record.json_nulls();
    let Value::Object(map) = serde_json::to_value(record).map_err(|e| Error::backend("encode record", e))?
    else {
        return Err(Error::backend("encode record", "not an object"));
    };
    let mut doc = Document::new();
    for (name, value) in map {
        let bson = if JSON_FIELDS.contains(&name.as_str()) {
            Bson::String(value.to_string())
        } else {
            scalar(&name, value)?
        };
        doc.insert(if name == "id" { "_id".to_owned() } else { name }, bson);
    }
    if !nulls.is_empty() {
        doc.insert(JSON_NULLS, nulls);
    }
    Ok(doc)
}

fn scalar(name: &str, value: Value) -> Result<Bson> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(b),
        Value::String(s) => Bson::String(s),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Bson::Int64(i),
            (None, Some(f)) => Bson::Double(f),
            _ => return Err(Error::backend(format!("encode {name}"), "number out of range")),
        },
        Value::Array(_) | Value::Object(_) => {
            return Err(Error::backend(format!("encode {name}"), "nested value in a scalar field"));
        }
    })
}

/// The entity in `doc`; fields starting with `_` (other than `_id`) are storage details.
pub(crate) fn from_doc<T: DeserializeOwned + OptionalJson>(what: &str, doc: Document) -> Result<T> {
    let mut map = Map::with_capacity(doc.len());
    let mut nulls = Vec::new();
    for (name, bson) in doc {
        if name == JSON_NULLS
            && let Bson::Array(names) = &bson
        {
            nulls.extend(names.iter().filter_map(|n| n.as_str().map(str::to_owned)));
        }
        if name.starts_with('_') && name != "_id" {
            continue;
        }
        let value = if JSON_FIELDS.contains(&name.as_str()) {
            match bson {
                Bson::String(text) => serde_json::from_str(&text).map_err(|e| decode(what, e))?,
                other => return Err(decode(what, format!("{name} is {other}, expected JSON text"))),
            }
        } else {
            match bson {
                Bson::Null => Value::Null,
                Bson::Boolean(b) => Value::Bool(b),
                Bson::String(s) => Value::String(s),
                Bson::Int32(i) => Value::from(i),
                Bson::Int64(i) => Value::from(i),
                Bson::Double(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
                other => return Err(decode(what, format!("{name} holds {other}"))),
            }
        };
        map.insert(if name == "_id" { "id".to_owned() } else { name }, value);
    }
    let mut record: T = serde_json::from_value(Value::Object(map)).map_err(|e| decode(what, e))?;
    record.restore_json_nulls(&nulls.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(record)
}
