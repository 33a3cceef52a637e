//! Timestamps: UTC, truncated to whole microseconds.
//!
//! Every backend stores microseconds (PostgreSQL and MySQL cannot keep more), so
//! values are truncated when created: what is written is exactly what is read back.

use chrono::{DateTime, SubsecRound, Utc};

/// A UTC timestamp as stored by aimdb.
pub type Timestamp = DateTime<Utc>;

/// The current time, truncated to microseconds.
pub fn now() -> Timestamp {
    truncate(Utc::now())
}

/// Truncates a timestamp to microseconds.
pub fn truncate(ts: Timestamp) -> Timestamp {
    ts.trunc_subsecs(6)
}

/// Microseconds since the Unix epoch, the integer form used by stores without a native type.
pub fn to_micros(ts: Timestamp) -> i64 {
    ts.timestamp_micros()
}

/// The inverse of [`to_micros`]; `None` when out of chrono's range.
pub fn from_micros(micros: i64) -> Option<Timestamp> {
    DateTime::from_timestamp_micros(micros)
}
