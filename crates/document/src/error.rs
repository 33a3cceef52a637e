//! Driver errors as aimdb errors: no reachable server is `Unavailable` (retryable).

use aimdb_core::Error;
use mongodb::error::{ErrorKind, WriteFailure};

const DUPLICATE_KEY: i32 = 11000;

pub(crate) fn mongo(what: &str, e: mongodb::error::Error) -> Error {
    match e.kind.as_ref() {
        ErrorKind::Io(_) | ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. } => {
            Error::unavailable(format!("mongodb: {what}"), e)
        }
        _ => Error::backend(format!("mongodb: {what}: {e}"), e),
    }
}

/// Whether `e` is a unique index violation.
pub(crate) fn is_duplicate(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(ime) => {
            ime.write_errors.as_ref().is_some_and(|errors| errors.iter().any(|we| we.code == DUPLICATE_KEY))
        }
        ErrorKind::Command(ce) => ce.code == DUPLICATE_KEY,
        _ => false,
    }
}

pub(crate) fn decode(what: &str, e: impl Into<aimdb_core::BoxError>) -> Error {
    Error::backend(format!("mongodb: undecodable {what}"), e)
}
