//! Models, their versions, and datasets: create, read, list, look up by ids, search.

use aimdb::{
    Dataset, DatasetFilter, DatasetId, MetadataStore, Model, ModelFilter, ModelId, ModelVersion,
    ModelVersionId, NewDataset, NewModel, NewModelVersion, Page,
};
use aimdb_remote::wire::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, SearchMany, created, hits, hits_many};
use crate::error::ApiResult;
use crate::extract::{Body, Id, Name, Params, Record, record, records};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_model, list_models))
        .routes(routes!(search_models, search_models_many))
        .routes(routes!(lookup_models))
        .routes(routes!(model_by_name))
        .routes(routes!(get_model))
        .routes(routes!(model_versions))
        .routes(routes!(create_version))
        .routes(routes!(get_version))
        .routes(routes!(create_dataset, list_datasets))
        .routes(routes!(search_datasets, search_datasets_many))
        .routes(routes!(lookup_datasets))
        .routes(routes!(dataset_by_name))
        .routes(routes!(get_dataset))
}

/// `?after=ID&limit=N`: keyset pagination in ascending id order.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PageParams {
    /// Only records with an id greater than this (the last id of the previous page).
    after: Option<i64>,
    /// At most this many records (all when left out).
    limit: Option<u32>,
}

impl From<PageParams> for Page {
    fn from(p: PageParams) -> Page {
        Page { after: p.after, limit: p.limit }
    }
}

/// `{"ids": [...]}`: the records among them that exist, in their order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Ids {
    /// Ids to read (at most `max_batch`).
    pub(super) ids: Vec<i64>,
}

impl Ids {
    pub(super) fn parse(state: &AppState, body: serde_json::Value) -> ApiResult<Vec<i64>> {
        let ids: Ids = aimdb_remote::wire::decode(body, "")?;
        state.check_batch("ids", ids.ids.len())?;
        Ok(ids.ids)
    }
}

/// A search by meaning, with equality filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ModelSearch {
    /// The query text.
    q: String,
    /// How many hits (default 5, at most 10000).
    n: Option<usize>,
    /// Only this framework.
    framework: Option<String>,
    /// Only this architecture.
    architecture: Option<String>,
    /// Only this task type.
    task_type: Option<String>,
}

/// A search by meaning, with an equality filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DatasetSearch {
    /// The query text.
    q: String,
    /// How many hits (default 5, at most 10000).
    n: Option<usize>,
    /// Only this format.
    format: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/models", tag = "models", request_body = NewModel,
    responses((status = 201, body = Model), (status = "4XX", body = ErrorBody)))]
async fn create_model(State(s): State<AppState>, Record(model): Record<NewModel>) -> ApiResult {
    record(created(), &s.db.create_model(model).await?)
}

#[utoipa::path(get, path = "/api/v1/models", tag = "models", params(PageParams),
    responses((status = 200, body = Vec<Model>), (status = "4XX", body = ErrorBody)))]
async fn list_models(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_models(page.into()).await?)
}

#[utoipa::path(get, path = "/api/v1/models/{id}", tag = "models", params(("id" = i64, Path)),
    responses((status = 200, body = Model), (status = "4XX", body = ErrorBody)))]
async fn get_model(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_model(ModelId(id)).await?)
}

#[utoipa::path(get, path = "/api/v1/models/by-name/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 200, body = Model), (status = "4XX", body = ErrorBody)))]
async fn model_by_name(State(s): State<AppState>, Name(name): Name) -> ApiResult {
    record(StatusCode::OK, &s.db.get_model_by_name(&name).await?)
}

#[utoipa::path(post, path = "/api/v1/models/lookup", tag = "models", request_body = Ids,
    responses((status = 200, body = Vec<Model>), (status = "4XX", body = ErrorBody)))]
async fn lookup_models(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let ids: Vec<ModelId> = Ids::parse(&s, body)?.into_iter().map(ModelId).collect();
    records(&s.db.get_models_by_ids(&ids).await?)
}

#[utoipa::path(get, path = "/api/v1/models/search", tag = "search", params(ModelSearch),
    responses((status = 200, body = Vec<super::ModelHit>), (status = "4XX", body = ErrorBody)))]
async fn search_models(State(s): State<AppState>, Params(p): Params<ModelSearch>) -> ApiResult {
    let filter = ModelFilter { framework: p.framework, architecture: p.architecture, task_type: p.task_type };
    hits(&s.db.search_similar_models(&p.q, p.n.unwrap_or(5), &filter).await?)
}

#[utoipa::path(get, path = "/api/v1/models/{id}/versions", tag = "models", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ModelVersion>, description = "newest first"), (status = "4XX", body = ErrorBody)))]
async fn model_versions(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    records(&s.db.get_model_versions(ModelId(id)).await?)
}

#[utoipa::path(post, path = "/api/v1/versions", tag = "models", request_body = NewModelVersion,
    responses((status = 201, body = ModelVersion), (status = "4XX", body = ErrorBody)))]
async fn create_version(State(s): State<AppState>, Record(version): Record<NewModelVersion>) -> ApiResult {
    record(created(), &s.db.create_model_version(version).await?)
}

#[utoipa::path(get, path = "/api/v1/versions/{id}", tag = "models", params(("id" = i64, Path)),
    responses((status = 200, body = ModelVersion), (status = "4XX", body = ErrorBody)))]
async fn get_version(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_model_version(ModelVersionId(id)).await?)
}

#[utoipa::path(post, path = "/api/v1/datasets", tag = "datasets", request_body = NewDataset,
    responses((status = 201, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn create_dataset(State(s): State<AppState>, Record(dataset): Record<NewDataset>) -> ApiResult {
    record(created(), &s.db.create_dataset(dataset).await?)
}

#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", params(PageParams),
    responses((status = 200, body = Vec<Dataset>), (status = "4XX", body = ErrorBody)))]
async fn list_datasets(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_datasets(page.into()).await?)
}

#[utoipa::path(get, path = "/api/v1/datasets/{id}", tag = "datasets", params(("id" = i64, Path)),
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn get_dataset(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_dataset(DatasetId(id)).await?)
}

#[utoipa::path(get, path = "/api/v1/datasets/by-name/{name}", tag = "datasets", params(("name" = String, Path)),
    responses((status = 200, body = Dataset), (status = "4XX", body = ErrorBody)))]
async fn dataset_by_name(State(s): State<AppState>, Name(name): Name) -> ApiResult {
    record(StatusCode::OK, &s.db.get_dataset_by_name(&name).await?)
}

#[utoipa::path(post, path = "/api/v1/datasets/lookup", tag = "datasets", request_body = Ids,
    responses((status = 200, body = Vec<Dataset>), (status = "4XX", body = ErrorBody)))]
async fn lookup_datasets(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let ids: Vec<DatasetId> = Ids::parse(&s, body)?.into_iter().map(DatasetId).collect();
    records(&s.db.get_datasets_by_ids(&ids).await?)
}

#[utoipa::path(get, path = "/api/v1/datasets/search", tag = "search", params(DatasetSearch),
    responses((status = 200, body = Vec<super::DatasetHit>), (status = "4XX", body = ErrorBody)))]
async fn search_datasets(State(s): State<AppState>, Params(p): Params<DatasetSearch>) -> ApiResult {
    let filter = DatasetFilter { format: p.format };
    hits(&s.db.search_similar_datasets(&p.q, p.n.unwrap_or(5), &filter).await?)
}

#[utoipa::path(post, path = "/api/v1/models/search", tag = "search", request_body = SearchMany,
    responses((status = 200, body = Vec<Vec<super::ModelHit>>, description = "one list per query, in their order"), (status = "4XX", body = ErrorBody)))]
/// Several searches in one request: the queries embedded as one batch and searched in one
/// index call, the hits read in one lookup.
async fn search_models_many(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let p = SearchMany::parse(&s, body, &["framework", "architecture", "task_type"])?;
    let filter = ModelFilter {
        framework: p.framework.clone(),
        architecture: p.architecture.clone(),
        task_type: p.task_type.clone(),
    };
    hits_many(&s.db.search_similar_models_many(&p.queries(), p.n.unwrap_or(5), &filter).await?)
}

#[utoipa::path(post, path = "/api/v1/datasets/search", tag = "search", request_body = SearchMany,
    responses((status = 200, body = Vec<Vec<super::DatasetHit>>, description = "one list per query, in their order"), (status = "4XX", body = ErrorBody)))]
/// Several searches in one request (see `POST /api/v1/models/search`).
async fn search_datasets_many(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let p = SearchMany::parse(&s, body, &["format"])?;
    let filter = DatasetFilter { format: p.format.clone() };
    hits_many(&s.db.search_similar_datasets_many(&p.queries(), p.n.unwrap_or(5), &filter).await?)
}
