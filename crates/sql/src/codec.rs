//! Conversions between aimdb values and their stored SQL form.

use aimdb_core::{Result, Timestamp, time};
use serde_json::Value;

use crate::error::corrupt;

/// JSON to the text stored in a column.
pub(crate) fn json_text(value: &Value) -> String {
    // Serialising a serde_json::Value cannot fail: keys are strings, numbers finite.
    serde_json::to_string(value).expect("serde_json::Value always serialises")
}

/// Stored microseconds back to a timestamp.
pub(crate) fn micros(column: &str, value: i64) -> Result<Timestamp> {
    time::from_micros(value).ok_or_else(|| corrupt(column, format!("{value} µs is out of range")))
}

/// A count read as i64 from SQL.
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}
