//! Redis errors as aimdb errors: connection trouble is `Unavailable` (retryable).

use aimdb_core::{Entity, Error};
use deadpool_redis::PoolError;
use redis::RedisError;

pub(crate) fn redis(what: &str, e: RedisError) -> Error {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        return Error::unavailable(format!("redis: {what}"), e);
    }
    // The scripts report broken rules as `AIMDB_NOTFOUND entity key` / `AIMDB_EXISTS entity key`.
    let detail = e.detail().unwrap_or_default().to_owned();
    let code = e.code().unwrap_or_default();
    let script = if code.starts_with("AIMDB_") { format!("{code} {detail}") } else { detail.clone() };
    if let Some(rest) = script.strip_prefix("AIMDB_NOTFOUND ") {
        let (entity, key) = split(rest);
        return Error::not_found(entity, key);
    }
    if let Some(rest) = script.strip_prefix("AIMDB_EXISTS ") {
        let (entity, key) = split(rest);
        return Error::already_exists(entity, key);
    }
    Error::backend(format!("redis: {what}: {e}"), e)
}

fn split(rest: &str) -> (Entity, &str) {
    let (entity, key) = rest.split_once(' ').unwrap_or((rest, ""));
    let entity = Entity::ALL.iter().copied().find(|e| e.as_str() == entity).unwrap_or(Entity::Model);
    (entity, key)
}

pub(crate) fn pool(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => redis("connect", e),
        other => Error::unavailable("redis: no connection", other),
    }
}

pub(crate) fn decode(what: &str, e: serde_json::Error) -> Error {
    Error::backend(format!("redis: undecodable {what}"), e)
}
