//! What the server is, how it is, and the whole-database operations.

use aimdb::{
    Capabilities, Collection, CollectionInfo, ImportBatch, MetadataStore, Page, ReindexReport, Statistics,
};
use aimdb_remote::wire::ErrorBody;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::config::Access;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Name, json};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(info))
        .routes(routes!(stats))
        .routes(routes!(reindex))
        .routes(routes!(optimize))
        .routes(routes!(import))
}

/// What `/api/v1/info` answers.
#[derive(Serialize, ToSchema)]
struct ServerInfo {
    /// The store behind the server (`sqlite`, `postgres`, ...).
    backend: &'static str,
    /// Where it keeps its data (password redacted).
    location: String,
    /// What the store can do.
    capabilities: Capabilities,
    /// This server's version.
    version: &'static str,
    /// Whether semantic search is configured.
    index: bool,
    /// What the presented token may do: `read` or `read-write` (the web UI shows write
    /// actions only for the latter).
    access: &'static str,
}

/// Records of one entity to write as given, ids kept (migration, restore).
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the body in the OpenAPI document")]
struct ImportBody {
    /// `model`, `model_version`, `dataset`, `training_run`, `experiment` or `prediction`.
    entity: String,
    /// The records, as read from another database.
    records: Vec<serde_json::Value>,
}

/// How many records were written.
#[derive(Serialize, ToSchema)]
struct Written {
    written: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is up")))]
/// The process is up (no store access).
async fn healthz() -> StatusCode {
    StatusCode::OK
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "the store answers"), (status = 503, body = ErrorBody)))]
/// The store answers: 503 (with `Retry-After`) while it does not.
async fn readyz(State(s): State<AppState>) -> ApiResult {
    s.db.list_models(Page::first(1)).await?;
    Ok(json(StatusCode::OK, &json!({ "ready": true })))
}

#[utoipa::path(get, path = "/api/v1/info", tag = "operations", responses((status = 200, body = ServerInfo)))]
/// The store behind the server: backend, location, capabilities, and this server's version.
async fn info(State(s): State<AppState>, access: Option<Extension<Access>>) -> ApiResult {
    let info = s.db.store().info();
    let answer = ServerInfo {
        backend: info.backend,
        location: info.location,
        capabilities: info.capabilities,
        version: env!("CARGO_PKG_VERSION"),
        index: s.db.index().is_some(),
        access: match access.map_or(Access::Read, |Extension(a)| a) {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
        },
    };
    Ok(json(StatusCode::OK, &answer))
}

#[utoipa::path(get, path = "/api/v1/stats", tag = "operations", responses((status = 200, body = Statistics), (status = "4XX", body = ErrorBody)))]
/// Counts of every entity (at the top level) and the index's state.
async fn stats(State(s): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_statistics().await?))
}

#[utoipa::path(post, path = "/api/v1/reindex", tag = "operations", responses((status = 200, body = ReindexReport), (status = "4XX", body = ErrorBody)))]
async fn reindex(State(s): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.reindex_with_progress(false).await?))
}

#[utoipa::path(post, path = "/api/v1/optimize/{collection}", tag = "operations", params(("collection" = Collection, Path)),
    responses((status = 200, body = CollectionInfo), (status = "4XX", body = ErrorBody)))]
async fn optimize(State(s): State<AppState>, Name(collection): Name) -> ApiResult {
    let collection = Collection::ALL.into_iter().find(|c| c.as_str() == collection).ok_or_else(|| {
        ApiError::invalid("collection", format!("`{collection}`: expected models, datasets or predictions"))
    })?;
    Ok(json(StatusCode::OK, &s.db.optimize_index(collection).await?))
}

#[utoipa::path(post, path = "/api/v1/import", tag = "operations", request_body = ImportBody,
    responses((status = 200, body = Written), (status = "4XX", body = ErrorBody)))]
/// `{"entity": "model", "records": [...]}`: records written as given, ids kept.
async fn import(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let batch: ImportBatch = aimdb_remote::wire::import_from_value(body)?;
    s.check_batch("records", batch.len())?;
    let written = s.db.import(batch).await?;
    Ok(json(StatusCode::OK, &Written { written }))
}
