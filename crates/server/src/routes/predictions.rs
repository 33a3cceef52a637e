//! Predictions: log one or a batch, read, list, look up by ids, search.

use aimdb::{MetadataStore, ModelVersionId, NewPrediction, Prediction, PredictionFilter, PredictionId};
use aimdb_remote::wire::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{Ids, PageParams};
use super::{AppState, OneOrMany, SearchMany, created, hits, hits_many, one_or_many};
use crate::error::ApiResult;
use crate::extract::{Body, Id, Params, record, records};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log_predictions, list_predictions))
        .routes(routes!(search_predictions, search_predictions_many))
        .routes(routes!(lookup_predictions))
        .routes(routes!(get_prediction))
        .routes(routes!(version_predictions))
}

/// One prediction, or an array of them written in one transaction.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the body in the OpenAPI document")]
enum PredictionBody {
    One(NewPrediction),
    Many(Vec<NewPrediction>),
}

/// The stored prediction, or the stored batch in the order given.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the answer in the OpenAPI document")]
enum PredictionAnswer {
    One(Prediction),
    Many(Vec<Prediction>),
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Latest {
    /// How many (default 100).
    limit: Option<u32>,
}

/// A search by meaning over predictions' input and output.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PredictionSearch {
    /// The query text.
    q: String,
    /// How many hits (default 10, at most 10000).
    n: Option<usize>,
    /// Only predictions of this model version.
    model_version_id: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/predictions", tag = "predictions", request_body = PredictionBody,
    responses((status = 201, body = PredictionAnswer), (status = "4XX", body = ErrorBody)))]
/// One prediction (answered with it) or an array (one transaction, answered in order).
async fn log_predictions(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    match one_or_many::<NewPrediction>(body, "predictions")? {
        OneOrMany::One(prediction) => record(created(), &s.db.log_prediction(prediction).await?),
        OneOrMany::Many(batch) => {
            s.check_batch("predictions", batch.len())?;
            let logged = s.db.log_predictions(batch).await?;
            let mut response = records(&logged)?;
            *response.status_mut() = created();
            Ok(response)
        }
    }
}

#[utoipa::path(get, path = "/api/v1/predictions", tag = "predictions", params(PageParams),
    responses((status = 200, body = Vec<Prediction>), (status = "4XX", body = ErrorBody)))]
async fn list_predictions(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_predictions(page.into()).await?)
}

#[utoipa::path(get, path = "/api/v1/predictions/{id}", tag = "predictions", params(("id" = i64, Path)),
    responses((status = 200, body = Prediction), (status = "4XX", body = ErrorBody)))]
async fn get_prediction(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_prediction(PredictionId(id)).await?)
}

#[utoipa::path(post, path = "/api/v1/predictions/lookup", tag = "predictions", request_body = Ids,
    responses((status = 200, body = Vec<Prediction>), (status = "4XX", body = ErrorBody)))]
async fn lookup_predictions(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let ids: Vec<PredictionId> = Ids::parse(&s, body)?.into_iter().map(PredictionId).collect();
    records(&s.db.get_predictions_by_ids(&ids).await?)
}

#[utoipa::path(get, path = "/api/v1/versions/{id}/predictions", tag = "predictions", params(("id" = i64, Path), Latest),
    responses((status = 200, body = Vec<Prediction>, description = "newest first"), (status = "4XX", body = ErrorBody)))]
/// The latest `limit` (default 100) predictions of a version, newest first.
async fn version_predictions(State(s): State<AppState>, Id(id): Id, Params(q): Params<Latest>) -> ApiResult {
    records(&s.db.get_predictions(ModelVersionId(id), q.limit.unwrap_or(100)).await?)
}

#[utoipa::path(get, path = "/api/v1/predictions/search", tag = "search", params(PredictionSearch),
    responses((status = 200, body = Vec<super::PredictionHit>), (status = "4XX", body = ErrorBody)))]
async fn search_predictions(State(s): State<AppState>, Params(p): Params<PredictionSearch>) -> ApiResult {
    let filter = PredictionFilter { model_version_id: p.model_version_id.map(ModelVersionId) };
    hits(&s.db.search_similar_predictions(&p.q, p.n.unwrap_or(10), &filter).await?)
}

#[utoipa::path(post, path = "/api/v1/predictions/search", tag = "search", request_body = SearchMany,
    responses((status = 200, body = Vec<Vec<super::PredictionHit>>, description = "one list per query, in their order"), (status = "4XX", body = ErrorBody)))]
/// Several searches in one request (see `POST /api/v1/models/search`).
async fn search_predictions_many(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let p = SearchMany::parse(&s, body, &["model_version_id"])?;
    let filter = PredictionFilter { model_version_id: p.model_version_id.map(ModelVersionId) };
    hits_many(&s.db.search_similar_predictions_many(&p.queries(), p.n.unwrap_or(10), &filter).await?)
}
