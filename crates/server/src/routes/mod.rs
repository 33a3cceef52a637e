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
