//! Predictions: log one or a batch, read, list, look up by ids, search.

use aimdb::{MetadataStore, ModelVersionId, NewPrediction, PredictionFilter, PredictionId};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::catalog::{Ids, PageParams};
use super::{AppState, OneOrMany, created, hits, one_or_many};
use crate::error::ApiResult;
use crate::extract::{Body, Id, Params, record, records};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/predictions", post(log_predictions).get(list_predictions))
        .route("/api/v1/predictions/search", get(search_predictions))
        .route("/api/v1/predictions/lookup", post(lookup_predictions))
        .route("/api/v1/predictions/{id}", get(get_prediction))
        .route("/api/v1/versions/{id}/predictions", get(version_predictions))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Latest {
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictionSearch {
    q: String,
    n: Option<usize>,
    model_version_id: Option<i64>,
}

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

async fn list_predictions(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_predictions(page.into()).await?)
}

async fn get_prediction(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_prediction(PredictionId(id)).await?)
}

async fn lookup_predictions(State(s): State<AppState>, Body(body): Body) -> ApiResult {
    let ids: Vec<PredictionId> = Ids::parse(&s, body)?.into_iter().map(PredictionId).collect();
    records(&s.db.get_predictions_by_ids(&ids).await?)
}

/// The latest `limit` (default 100) predictions of a version, newest first.
async fn version_predictions(State(s): State<AppState>, Id(id): Id, Params(q): Params<Latest>) -> ApiResult {
    records(&s.db.get_predictions(ModelVersionId(id), q.limit.unwrap_or(100)).await?)
}

async fn search_predictions(State(s): State<AppState>, Params(p): Params<PredictionSearch>) -> ApiResult {
    let filter = PredictionFilter { model_version_id: p.model_version_id.map(ModelVersionId) };
    hits(&s.db.search_similar_predictions(&p.q, p.n.unwrap_or(10), &filter).await?)
}
