//! The REST API under `/api/v1`: one module per family of records.

mod admin;
mod catalog;
mod predictions;
mod runs;
mod series;
mod tags;

use std::sync::Arc;

use aimdb::{AiDatabase, Dataset, Model, OptionalJson, Prediction, SearchHit};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

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
                format!(
                    "{len} records in one batch; the server takes at most {} (max_batch)",
                    self.config.max_batch
                ),
            ));
        }
        Ok(())
    }
}

/// The OpenAPI document's header; the paths and schemas come from the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "aimdb",
        description = "The aimdb REST API: models, versions, datasets, training runs, hyperparameters, \
                       metrics, experiments and predictions, and search by meaning. Errors are \
                       `{\"error\": {\"kind\", \"message\", ...}}`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub(crate) struct ApiDoc;

/// Declares the bearer tokens of `aimdb serve`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// A model found by meaning: its fields and `similarity_score`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the answer in the OpenAPI document")]
struct ModelHit {
    #[serde(flatten)]
    model: Model,
    /// `(1 + cosine) / 2`, in `[0, 1]`.
    similarity_score: f32,
}

/// A dataset found by meaning: its fields and `similarity_score`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the answer in the OpenAPI document")]
struct DatasetHit {
    #[serde(flatten)]
    dataset: Dataset,
    /// `(1 + cosine) / 2`, in `[0, 1]`.
    similarity_score: f32,
}

/// A prediction found by meaning: its fields and `similarity_score`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the answer in the OpenAPI document")]
struct PredictionHit {
    #[serde(flatten)]
    prediction: Prediction,
    /// `(1 + cosine) / 2`, in `[0, 1]`.
    similarity_score: f32,
}

/// Every `/api/v1` route and the health checks, with their OpenAPI description.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    use utoipa::OpenApi as _;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(admin::routes())
        .merge(catalog::routes())
        .merge(runs::routes())
        .merge(series::routes())
        .merge(predictions::routes())
        .merge(tags::routes())
}

/// Search hits in the wire form: the entity's fields and `similarity_score`.
fn hits<T: Serialize + OptionalJson>(hits: &[SearchHit<T>]) -> ApiResult {
    Ok(axum::Json(hit_values(hits)?).into_response())
}

/// One list of hits per query (`POST .../search`).
fn hits_many<T: Serialize + OptionalJson>(answers: &[Vec<SearchHit<T>>]) -> ApiResult {
    let lists = answers.iter().map(|answer| hit_values(answer)).collect::<aimdb::Result<Vec<_>>>()?;
    Ok(axum::Json(lists).into_response())
}

fn hit_values<T: Serialize + OptionalJson>(hits: &[SearchHit<T>]) -> aimdb::Result<Vec<Value>> {
    hits.iter()
        .map(|hit| {
            let mut value = aimdb_remote::wire::to_value(&hit.item)?;
            if let Value::Object(map) = &mut value {
                map.insert("similarity_score".into(), serde_json::json!(hit.similarity_score));
            }
            Ok(value)
        })
        .collect()
}

/// Several searches by meaning in one request: the queries, hits per query, and the same
/// filters as the `GET` search's parameters.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SearchMany {
    /// The query texts (at most `max_batch`).
    queries: Vec<String>,
    /// Hits per query (default 5 for models and datasets, 10 for predictions; at most 10000).
    n: Option<usize>,
    /// Models: only this framework.
    framework: Option<String>,
    /// Models: only this architecture.
    architecture: Option<String>,
    /// Models: only this task type.
    task_type: Option<String>,
    /// Datasets: only this format.
    format: Option<String>,
    /// Predictions: only this model version.
    model_version_id: Option<i64>,
}

impl SearchMany {
    /// Decodes the body, refusing a filter the collection does not have and batches over
    /// `max_batch`.
    fn parse(state: &AppState, body: Value, allowed: &[&str]) -> ApiResult<SearchMany> {
        let search: SearchMany = aimdb_remote::wire::decode(body, "")?;
        state.check_batch("queries", search.queries.len())?;
        let given = [
            ("framework", search.framework.is_some()),
            ("architecture", search.architecture.is_some()),
            ("task_type", search.task_type.is_some()),
            ("format", search.format.is_some()),
            ("model_version_id", search.model_version_id.is_some()),
        ];
        if let Some((field, _)) = given.iter().find(|(field, set)| *set && !allowed.contains(field)) {
            return Err(ApiError::invalid(*field, "this collection has no such filter"));
        }
        Ok(search)
    }

    fn queries(&self) -> Vec<&str> {
        self.queries.iter().map(String::as_str).collect()
    }
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
