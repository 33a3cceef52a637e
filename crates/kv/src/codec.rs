//! Records as Redis hashes: one field per entity field, each value JSON-encoded, so every
//! type (numbers bit-exact, JSON documents, timestamps) round-trips through serde.

use std::collections::HashMap;

use aimdb_core::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::decode;

/// `[field, json, field, json, ...]` for every field but `id` (the id is in the key).
pub(crate) fn fields<T: Serialize>(record: &T) -> Result<Vec<String>> {
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
    Ok(out)
}

/// The record with id `id` from its hash; `None` when the hash is empty (no such record).
pub(crate) fn record<T: DeserializeOwned>(
    what: &str,
    id: i64,
    hash: HashMap<String, String>,
) -> Result<Option<T>> {
    if hash.is_empty() {
        return Ok(None);
    }
    let mut map = Map::with_capacity(hash.len() + 1);
    for (name, json) in hash {
        map.insert(name, serde_json::from_str(&json).map_err(|e| decode(what, e))?);
    }
    map.insert("id".to_owned(), Value::from(id));
    serde_json::from_value(Value::Object(map)).map(Some).map_err(|e| decode(what, e))
}

/// One JSON value per list entry (metrics, experiment links).
pub(crate) fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::backend("encode record", e))
}
