//! Conversions between aimdb values and their stored SQL form.

use aimdb_core::{Result, StoreStatistics, Timestamp, time};
use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::corrupt;

/// JSON to the text stored in a column.
pub(crate) fn json_text(value: &Value) -> String {
    // Serialising a serde_json::Value cannot fail: keys are strings, numbers finite.
    serde_json::to_string(value).expect("serde_json::Value always serialises")
}

/// Optional JSON to text.
pub(crate) fn opt_json_text(value: Option<&Value>) -> Option<String> {
    value.map(json_text)
}

/// Stored text back to JSON.
pub(crate) fn parse_json(column: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

/// Optional stored text back to JSON.
pub(crate) fn parse_opt_json(column: &str, text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| parse_json(column, &t)).transpose()
}

/// Stored microseconds back to a timestamp.
pub(crate) fn micros(column: &str, value: i64) -> Result<Timestamp> {
    time::from_micros(value).ok_or_else(|| corrupt(column, format!("{value} µs is out of range")))
}

/// Optional stored microseconds back to a timestamp.
pub(crate) fn opt_micros(column: &str, value: Option<i64>) -> Result<Option<Timestamp>> {
    value.map(|v| micros(column, v)).transpose()
}

/// A count read as i64 from SQL.
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// Counts of every entity in one round trip; the same SQL on every database.
pub(crate) const STATISTICS_SQL: &str = "SELECT (SELECT COUNT(*) FROM models), (SELECT COUNT(*) FROM model_versions), \
     (SELECT COUNT(*) FROM datasets), (SELECT COUNT(*) FROM training_runs), \
     (SELECT COUNT(*) FROM training_runs WHERE status = 'completed'), \
     (SELECT COUNT(*) FROM hyperparameters), (SELECT COUNT(*) FROM metrics), \
     (SELECT COUNT(*) FROM experiments), (SELECT COUNT(*) FROM experiment_runs), \
     (SELECT COUNT(*) FROM predictions)";

/// Decodes the row of [`STATISTICS_SQL`] from any database.
pub(crate) fn statistics<R>(row: &R) -> Result<StoreStatistics>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let c = |i: usize| -> Result<u64> {
        Ok(count(row.try_get::<i64, _>(i).map_err(|e| crate::error::db("statistics", e))?))
    };
    Ok(StoreStatistics {
        models: c(0)?,
        model_versions: c(1)?,
        datasets: c(2)?,
        training_runs: c(3)?,
        completed_runs: c(4)?,
        hyperparameters: c(5)?,
        metrics: c(6)?,
        experiments: c(7)?,
        experiment_runs: c(8)?,
        predictions: c(9)?,
    })
}
