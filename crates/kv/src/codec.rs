//! Records as Redis hashes: one field per entity field, each value JSON-encoded, so every
//! type (numbers bit-exact, JSON documents, timestamps) round-trips through serde.

use std::collections::HashMap;

use aimdb_core::{Error, OptionalJson, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::decode;

/// Names of the optional JSON fields that hold `Some(null)` (see [`OptionalJson`]).
pub(crate) const JSON_NULLS: &str = "_json_nulls";

/// `[field, json, field, json, ...]` for every field but `id` (the id is in the key), and
/// `_json_nulls` when an optional JSON field holds `Some(null)`.
pub(crate) fn fields<T: Serialize + OptionalJson>(record: &T) -> Result<Vec<String>> {
    let Value::Object(map) = serde_json::to_value(record).map_err(|e| Error::backend("encode record", e))?
    else {
        return Err(Error::backend("encode record", "not an object"));
    };
    let mut out = Vec::with_capacity(map.len() * 2);
    for (name, value) in map {
        if name != "id" {
            out.push(name);
            out.push(value.to_string());
        }
    }
    let nulls = record.json_nulls();
    if !nulls.is_empty() {
        out.push(JSON_NULLS.to_owned());
        out.push(nulls.join(","));
    }
    Ok(out)
}

/// The record with id `id` from its hash; `None` when the hash is empty (no such record).
pub(crate) fn record<T: DeserializeOwned + OptionalJson>(
    what: &str,
    id: i64,
    mut hash: HashMap<String, String>,
) -> Result<Option<T>> {
    if hash.is_empty() {
        return Ok(None);
    }
    let nulls = hash.remove(JSON_NULLS).unwrap_or_default();
    let mut map = Map::with_capacity(hash.len() + 1);
    for (name, json) in hash {
        map.insert(name, serde_json::from_str(&json).map_err(|e| decode(what, e))?);
    }
    map.insert("id".to_owned(), Value::from(id));
    let mut record: T = serde_json::from_value(Value::Object(map)).map_err(|e| decode(what, e))?;
    record.restore_json_nulls(&nulls.split(',').filter(|n| !n.is_empty()).collect::<Vec<_>>());
    Ok(Some(record))
}

/// One JSON value per list entry (metrics, experiment links).
pub(crate) fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::backend("encode record", e))
}
