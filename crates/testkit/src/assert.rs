//! Assertions on error kinds that print the whole error when they fail.

use std::fmt::Debug;

use aimdb_core::{Entity, Error, Result};

/// Asserts `result` is `NotFound` for `entity`.
#[track_caller]
pub fn expect_not_found<T: Debug>(result: Result<T>, entity: Entity) {
    match result {
        Err(Error::NotFound { entity: e, .. }) if e == entity => {}
        other => panic!("expected {entity} NotFound, got {other:?}"),
    }
}

/// Asserts `result` is `AlreadyExists` for `entity`.
#[track_caller]
pub fn expect_already_exists<T: Debug>(result: Result<T>, entity: Entity) {
    match result {
        Err(Error::AlreadyExists { entity: e, .. }) if e == entity => {}
        other => panic!("expected {entity} AlreadyExists, got {other:?}"),
    }
}

/// Asserts `result` is `InvalidInput` naming exactly `field`.
#[track_caller]
pub fn expect_invalid<T: Debug>(result: Result<T>, field: &str) {
    match result {
        Err(Error::InvalidInput { field: f, .. }) if f == field => {}
        other => panic!("expected InvalidInput on `{field}`, got {other:?}"),
    }
}
