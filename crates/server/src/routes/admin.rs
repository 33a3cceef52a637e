//! What the server is, how it is, and the whole-database operations.

use aimdb::{Collection, ImportBatch, MetadataStore, Page};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;

use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Name, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/info", get(info))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/reindex", post(reindex))
        .route("/api/v1/optimize/{collection}", post(optimize))
        .route("/api/v1/import", post(import))
}

/// The process is up (no store access).
async fn healthz() -> StatusCode {
    StatusCode::OK
}

/// The store answers: 503 (with `Retry-After`) while it does not.
async fn readyz(State(s): State<AppState>) -> ApiResult {
    s.db.list_models(Page::first(1)).await?;
    Ok(json(StatusCode::OK, &json!({ "ready": true })))
}

/// The store behind the server: backend, location, capabilities, and this server's version.
async fn info(State(s): State<AppState>) -> ApiResult {
    let info = s.db.store().info();
    Ok(json(
        StatusCode::OK,
        &json!({
            "backend": info.backend,
            "location": info.location,
            "capabilities": info.capabilities,
            "version": env!("CARGO_PKG_VERSION"),
            "index": s.db.index().is_some(),
        }),
    ))
}

/// Counts of every entity (at the top level) and the index's state.
async fn stats(State(s): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_statistics().await?))
}

async fn reindex(State(s): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.reindex_with_progress(false).await?))
}

async fn optimize(State(s): State<AppState>, Name(collection): Name) -> ApiResult {
    let collection = Collection::ALL.into_iter().find(|c| c.as_str() == collection).ok_or_else(|| {
        ApiError::invalid("collection", format!("`{collection}`: expected models, datasets or predictions"))
    })?;
    Ok(json(StatusCode::OK, &s.db.optimize_index(collection).await?))
}

/// `{"entity": "model", "records": [...]}`: records written as given, ids kept.
async fn import(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let batch: ImportBatch = aimdb_remote::wire::import_from_value(body)?;
    s.check_batch("records", batch.len())?;
    let written = s.db.import(batch).await?;
    Ok(json(StatusCode::OK, &json!({ "written": written })))
}
