//! Tags of models, versions, runs and experiments: `GET` the map, `POST` keys to add or
//! replace, `DELETE .../tags/{key}`.

use std::collections::BTreeMap;

use aimdb::{ExperimentId, MetadataStore, ModelId, ModelVersionId, TagTarget, TrainingRunId};
use aimdb_remote::wire::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::error::ApiResult;
use crate::extract::{Body, Id, IdKey};

/// The three tag handlers of one kind of record, under `$base/{id}/tags`.
macro_rules! tag_routes {
    ($kind:ident, $variant:ident($id:ident), $tag:literal, $get:literal, $delete:literal) => {
        pub(super) mod $kind {
            use super::*;

            pub(in super::super) fn routes() -> OpenApiRouter<AppState> {
                OpenApiRouter::new().routes(routes!(get_tags, set_tags)).routes(routes!(delete_tag))
            }

            #[utoipa::path(get, path = $get, tag = $tag, params(("id" = i64, Path)),
                responses((status = 200, body = HashMap<String, String>), (status = "4XX", body = ErrorBody)))]
            /// The record's tags.
            async fn get_tags(State(s): State<AppState>, Id(id): Id) -> ApiResult {
                Ok(crate::extract::json(StatusCode::OK, &s.db.get_tags(TagTarget::$variant($id(id))).await?))
            }

            #[utoipa::path(post, path = $get, tag = $tag, params(("id" = i64, Path)),
                request_body = HashMap<String, String>, responses((status = 204), (status = "4XX", body = ErrorBody)))]
            /// `{"key": "value", ...}`: each key added or its value replaced, the others kept.
            async fn set_tags(State(s): State<AppState>, Id(id): Id, Body(body): Body) -> ApiResult {
                let tags: BTreeMap<String, String> = aimdb_remote::wire::decode(body, "tags")?;
                s.check_batch("tags", tags.len())?;
                s.db.set_tags(TagTarget::$variant($id(id)), tags).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }

            #[utoipa::path(delete, path = $delete, tag = $tag, params(("id" = i64, Path), ("key" = String, Path)),
                responses((status = 200, description = "`{\"deleted\": bool}`: whether the tag was there"),
                    (status = "4XX", body = ErrorBody)))]
            /// Removes one tag.
            async fn delete_tag(State(s): State<AppState>, IdKey(id, key): IdKey) -> ApiResult {
                let deleted = s.db.delete_tag(TagTarget::$variant($id(id)), &key).await?;
                Ok(crate::extract::json(StatusCode::OK, &json!({ "deleted": deleted })))
            }
        }
    };
}

tag_routes!(models, Model(ModelId), "models", "/api/v1/models/{id}/tags", "/api/v1/models/{id}/tags/{key}");
tag_routes!(
    versions,
    ModelVersion(ModelVersionId),
    "versions",
    "/api/v1/versions/{id}/tags",
    "/api/v1/versions/{id}/tags/{key}"
);
tag_routes!(
    runs,
    TrainingRun(TrainingRunId),
    "runs",
    "/api/v1/runs/{id}/tags",
    "/api/v1/runs/{id}/tags/{key}"
);
tag_routes!(
    experiments,
    Experiment(ExperimentId),
    "experiments",
    "/api/v1/experiments/{id}/tags",
    "/api/v1/experiments/{id}/tags/{key}"
);

/// The tag routes of every kind.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(models::routes())
        .merge(versions::routes())
        .merge(runs::routes())
        .merge(experiments::routes())
}
