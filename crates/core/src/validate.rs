//! Input checks shared by every store, so that each backend rejects the same
//! requests with the same error before anything is written.

use serde_json::Value;

use crate::error::{Error, Result};

/// Longest accepted name (model, dataset, experiment, version, metric, hyperparameter).
///
/// MySQL indexes at most 3072 bytes per key; 255 four-byte characters fit.
pub const MAX_NAME_CHARS: usize = 255;

/// A required name: not blank, at most [`MAX_NAME_CHARS`], no NUL.
pub fn name(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(field, format!("longer than {MAX_NAME_CHARS} characters")));
    }
    text(field, value)
}

/// Any stored text: no NUL characters (PostgreSQL cannot store them).
pub fn text(field: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

/// Optional text.
pub fn opt_text(field: &str, value: Option<&str>) -> Result<()> {
    value.map_or(Ok(()), |v| text(field, v))
}

/// A float that every backend can store: NaN and infinities are rejected.
pub fn finite(field: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("must be finite, got {value}")))
    }
}

/// Optional float.
pub fn opt_finite(field: &str, value: Option<f64>) -> Result<()> {
    value.map_or(Ok(()), |v| finite(field, v))
}

/// A count that cannot be negative.
pub fn opt_non_negative(field: &str, value: Option<i64>) -> Result<()> {
    match value {
        Some(v) if v < 0 => Err(Error::invalid(field, format!("must not be negative, got {v}"))),
        _ => Ok(()),
    }
}

/// JSON: no NUL inside strings or keys, at any depth.
pub fn json(field: &str, value: &Value) -> Result<()> {
    match value {
        Value::String(s) => text(field, s),
        Value::Array(items) => items.iter().try_for_each(|v| json(field, v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            text(field, k)?;
            json(field, v)
        }),
        _ => Ok(()),
    }
}

/// Optional JSON.
pub fn opt_json(field: &str, value: Option<&Value>) -> Result<()> {
    value.map_or(Ok(()), |v| json(field, v))
}
