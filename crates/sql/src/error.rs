//! Mapping sqlx errors onto aimdb's error kinds. The sqlx error is kept as source.

use aimdb_core::{Entity, Error};
use sqlx::error::ErrorKind;

/// SQLite result codes (primary code in the low byte) meaning "try again".
const SQLITE_RETRYABLE: [u32; 2] = [5, 6]; // SQLITE_BUSY, SQLITE_LOCKED
/// PostgreSQL SQLSTATEs meaning the server is going away or full: admin shutdown,
/// crash shutdown, cannot connect now, too many connections (class 08 is added below).
const POSTGRES_RETRYABLE: [&str; 4] = ["57P01", "57P02", "57P03", "53300"];

/// Maps any sqlx error met while doing `what`.
pub(crate) fn driver_error(what: &str, err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::unavailable(format!("{what}: {err}"), err),
        sqlx::Error::Database(e) if is_retryable_code(e.code().as_deref()) => {
            Error::unavailable(format!("{what}: {err}"), err)
        }
        _ => Error::backend(format!("{what}: {err}"), err),
    }
}

fn is_retryable_code(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    match code.parse::<u32>() {
        Ok(sqlite) => SQLITE_RETRYABLE.contains(&(sqlite & 0xff)),
        Err(_) => code.starts_with("08") || POSTGRES_RETRYABLE.contains(&code),
    }
}

fn kind(err: &sqlx::Error) -> Option<ErrorKind> {
    match err {
        sqlx::Error::Database(e) => Some(e.kind()),
        _ => None,
    }
}

/// Maps an error from a write of `entity` with unique key `key`: a unique violation is
/// `AlreadyExists`, a foreign-key violation is `NotFound` for `parent` (the one parent
/// the statement references), anything else maps as [`db`].
pub(crate) fn write_error(
    entity: Entity,
    key: impl std::fmt::Display,
    parent: Option<(Entity, i64)>,
) -> impl FnOnce(sqlx::Error) -> Error {
    move |err| match (kind(&err), parent) {
        (Some(ErrorKind::UniqueViolation), _) => Error::already_exists(entity, key),
        (Some(ErrorKind::ForeignKeyViolation), Some((parent, id))) => Error::not_found(parent, id),
        _ => driver_error(&format!("write {entity} {key}"), err),
    }
}

/// A stored value that cannot be decoded: the database holds something aimdb did not write.
pub(crate) fn corrupt(column: &str, err: impl Into<aimdb_core::BoxError>) -> Error {
    Error::Backend { message: format!("cannot decode column {column}"), source: Some(err.into()) }
}
