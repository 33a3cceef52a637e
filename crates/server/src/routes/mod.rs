//! The REST API under `/api/v1`: one module per family of records.

mod admin;
mod catalog;
mod predictions;
mod runs;

use std::sync::Arc;

use aimdb::{AiDatabase, OptionalJson, SearchHit};
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::ServerConfig;
use crate::error::{ApiError, ApiResult};

/// What every handler reaches.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) db: AiDatabase,
    pub(crate) config: Arc<ServerConfig>,
}

impl AppState {
    /// 413 when a batch holds more than the configured number of records.
    fn check_batch(&self, field: &str, len: usize) -> ApiResult<()> {
        if len > self.config.max_batch {
            return Err(ApiError::too_large(
                field,
                format!("{len} records in one batch; the server takes at most {} (max_batch)", self.config.max_batch),
            ));
        }
        Ok(())
    }
}

/// Every `/api/v1` route and the health checks.
pub(crate) fn api() -> Router<AppState> {
    Router::new()
        .merge(admin::routes())
        .merge(catalog::routes())
        .merge(runs::routes())
        .merge(predictions::routes())
}

/// Search hits in the wire form: the entity's fields and `similarity_score`.
fn hits<T: Serialize + OptionalJson>(hits: &[SearchHit<T>]) -> ApiResult {
    let items = hits
        .iter()
        .map(|hit| {
            let mut value = aimdb_remote::wire::to_value(&hit.item)?;
            if let Value::Object(map) = &mut value {
                map.insert("similarity_score".into(), serde_json::json!(hit.similarity_score));
            }
            Ok(value)
        })
        .collect::<aimdb::Result<Vec<_>>>()?;
    Ok(axum::Json(items).into_response())
}

/// A body that is one record or an array of them (`POST .../metrics`, `POST /predictions`).
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

fn one_or_many<T: DeserializeOwned + OptionalJson>(body: Value, field: &str) -> ApiResult<OneOrMany<T>> {
    use aimdb_remote::wire::{from_value, from_values};
    Ok(match body {
        Value::Array(_) => OneOrMany::Many(from_values(body, field)?),
        other => OneOrMany::One(from_value(other, "")?),
    })
}

fn created() -> StatusCode {
    StatusCode::CREATED
}
