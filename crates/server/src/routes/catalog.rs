//! Models, their versions, and datasets: create, read, list, look up by ids, search.

use aimdb::{
    DatasetFilter, DatasetId, MetadataStore, ModelFilter, ModelId, NewDataset, NewModel, NewModelVersion,
    ModelVersionId, Page,
};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{AppState, created, hits};
use crate::error::ApiResult;
use crate::extract::{Body, Id, Name, Params, Record, record, records};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/models", post(create_model).get(list_models))
        .route("/api/v1/models/search", get(search_models))
        .route("/api/v1/models/lookup", post(lookup_models))
        .route("/api/v1/models/by-name/{name}", get(model_by_name))
        .route("/api/v1/models/{id}", get(get_model))
        .route("/api/v1/models/{id}/versions", get(model_versions))
        .route("/api/v1/versions", post(create_version))
        .route("/api/v1/versions/{id}", get(get_version))
        .route("/api/v1/datasets", post(create_dataset).get(list_datasets))
        .route("/api/v1/datasets/search", get(search_datasets))
        .route("/api/v1/datasets/lookup", post(lookup_datasets))
        .route("/api/v1/datasets/by-name/{name}", get(dataset_by_name))
        .route("/api/v1/datasets/{id}", get(get_dataset))
}

/// `?after=ID&limit=N`: keyset pagination in ascending id order.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageParams {
    after: Option<i64>,
    limit: Option<u32>,
}

impl From<PageParams> for Page {
    fn from(p: PageParams) -> Page {
        Page { after: p.after, limit: p.limit }
    }
}

/// `{"ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Ids {
    pub(super) ids: Vec<i64>,
}

impl Ids {
    pub(super) fn parse(state: &AppState, body: serde_json::Value) -> ApiResult<Vec<i64>> {
        let ids: Ids = aimdb_remote::wire::decode(body, "")?;
        state.check_batch("ids", ids.ids.len())?;
        Ok(ids.ids)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSearch {
    q: String,
    n: Option<usize>,
    framework: Option<String>,
    architecture: Option<String>,
    task_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetSearch {
    q: String,
    n: Option<usize>,
    format: Option<String>,
}

async fn create_model(State(s): State<AppState>, Record(model): Record<NewModel>) -> ApiResult {
    record(created(), &s.db.create_model(model).await?)
}

async fn list_models(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_models(page.into()).await?)
}

async fn get_model(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_model(ModelId(id)).await?)
}

async fn model_by_name(State(s): State<AppState>, Name(name): Name) -> ApiResult {
    record(StatusCode::OK, &s.db.get_model_by_name(&name).await?)
}

async fn lookup_models(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let ids: Vec<ModelId> = Ids::parse(&s, body)?.into_iter().map(ModelId).collect();
    records(&s.db.get_models_by_ids(&ids).await?)
}

async fn search_models(State(s): State<AppState>, Params(p): Params<ModelSearch>) -> ApiResult {
    let filter = ModelFilter { framework: p.framework, architecture: p.architecture, task_type: p.task_type };
    hits(&s.db.search_similar_models(&p.q, p.n.unwrap_or(5), &filter).await?)
}

async fn model_versions(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    records(&s.db.get_model_versions(ModelId(id)).await?)
}

async fn create_version(State(s): State<AppState>, Record(version): Record<NewModelVersion>) -> ApiResult {
    record(created(), &s.db.create_model_version(version).await?)
}

async fn get_version(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_model_version(ModelVersionId(id)).await?)
}

async fn create_dataset(State(s): State<AppState>, Record(dataset): Record<NewDataset>) -> ApiResult {
    record(created(), &s.db.create_dataset(dataset).await?)
}

async fn list_datasets(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_datasets(page.into()).await?)
}

async fn get_dataset(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_dataset(DatasetId(id)).await?)
}

async fn dataset_by_name(State(s): State<AppState>, Name(name): Name) -> ApiResult {
    record(StatusCode::OK, &s.db.get_dataset_by_name(&name).await?)
}

async fn lookup_datasets(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let ids: Vec<DatasetId> = Ids::parse(&s, body)?.into_iter().map(DatasetId).collect();
    records(&s.db.get_datasets_by_ids(&ids).await?)
}

async fn search_datasets(State(s): State<AppState>, Params(p): Params<DatasetSearch>) -> ApiResult {
    let filter = DatasetFilter { format: p.format };
    hits(&s.db.search_similar_datasets(&p.q, p.n.unwrap_or(5), &filter).await?)
}
