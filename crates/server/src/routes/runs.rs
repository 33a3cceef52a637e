//! Training runs, their hyperparameters and metrics, and experiments.

use std::collections::BTreeMap;

use aimdb::{
    Experiment, ExperimentId, ExperimentRun, ExperimentRunDetail, MetadataStore, Metric, NewExperiment,
    NewExperimentRun, NewMetric, NewTrainingRun, RunSummary, TrainingRun, TrainingRunId, TrainingRunUpdate,
};
use aimdb_remote::wire::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::PageParams;
use super::{AppState, created};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, Params, Record, Text, decode_text, json, record, records};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_run, list_runs))
        .routes(routes!(run_summaries))
        .routes(routes!(get_run, update_run))
        .routes(routes!(log_hyperparameters, get_hyperparameters))
        .routes(routes!(log_metrics, get_metrics))
        .routes(routes!(create_experiment, list_experiments))
        .routes(routes!(get_experiment))
        .routes(routes!(add_experiment_run, experiment_runs))
}

/// One metric point, or an array of them written in one transaction.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the body in the OpenAPI document")]
enum MetricBody {
    One(NewMetric),
    Many(Vec<NewMetric>),
}

/// The stored point for one metric, `{"written": n}` for an array.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the answer in the OpenAPI document")]
enum MetricAnswer {
    One(Metric),
    Many { written: usize },
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MetricQuery {
    /// Only the points of this metric.
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", request_body = NewTrainingRun,
    responses((status = 201, body = TrainingRun), (status = "4XX", body = ErrorBody)))]
async fn create_run(State(s): State<AppState>, Record(run): Record<NewTrainingRun>) -> ApiResult {
    record(created(), &s.db.create_training_run(run).await?)
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(PageParams),
    responses((status = 200, body = Vec<TrainingRun>), (status = "4XX", body = ErrorBody)))]
async fn list_runs(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_training_runs(page.into()).await?)
}

/// Which runs to summarise: a page of them, or the ones named.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SummaryQuery {
    /// Only runs with an id greater than this (the last id of the previous page).
    after: Option<i64>,
    /// At most this many runs (all when left out).
    limit: Option<u32>,
    /// Comma-separated run ids (instead of a page): those that exist, in their order.
    ids: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/runs/summaries", tag = "runs", params(SummaryQuery),
    responses((status = 200, body = Vec<RunSummary>), (status = "4XX", body = ErrorBody)))]
/// Runs with their hyperparameters, tags and the latest point of each metric (what a run
/// table shows), in ascending id order, or in the order of `ids`.
async fn run_summaries(State(s): State<AppState>, Params(q): Params<SummaryQuery>) -> ApiResult {
    let ids: Vec<TrainingRunId> = match q.ids {
        Some(ids) => {
            if q.after.is_some() || q.limit.is_some() {
                return Err(ApiError::invalid("ids", "either ids or a page (after, limit), not both"));
            }
            let ids =
                ids.split(',')
                    .filter(|id| !id.trim().is_empty())
                    .map(|id| {
                        id.trim().parse().map(TrainingRunId).map_err(|_| {
                            ApiError::invalid("ids", format!("not an integer id: `{}`", id.trim()))
                        })
                    })
                    .collect::<ApiResult<Vec<_>>>()?;
            s.check_batch("ids", ids.len())?;
            ids
        }
        None => {
            let page = aimdb::Page { after: q.after, limit: q.limit };
            s.db.list_training_runs(page).await?.into_iter().map(|run| run.id).collect()
        }
    };
    Ok(json(StatusCode::OK, &s.db.get_run_summaries(&ids).await?))
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = i64, Path)),
    responses((status = 200, body = TrainingRun), (status = "4XX", body = ErrorBody)))]
async fn get_run(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_training_run(TrainingRunId(id)).await?)
}

#[utoipa::path(patch, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = i64, Path)), request_body = TrainingRunUpdate,
    responses((status = 200, body = TrainingRun), (status = "4XX", body = ErrorBody)))]
async fn update_run(
    State(s): State<AppState>,
    Id(id): Id,
    Record(update): Record<TrainingRunUpdate>,
) -> ApiResult {
    record(StatusCode::OK, &s.db.update_training_run(TrainingRunId(id), update).await?)
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/hyperparameters", tag = "runs", params(("id" = i64, Path)),
    request_body = HashMap<String, serde_json::Value>, responses((status = 204), (status = "4XX", body = ErrorBody)))]
/// `{"name": value, ...}`: a name logged again is overwritten.
async fn log_hyperparameters(State(s): State<AppState>, Id(id): Id, Body(body): Body) -> ApiResult {
    let params: BTreeMap<String, Value> = aimdb_remote::wire::decode(body, "hyperparameters")?;
    s.check_batch("hyperparameters", params.len())?;
    s.db.log_hyperparameters(TrainingRunId(id), params).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/hyperparameters", tag = "runs", params(("id" = i64, Path)),
    responses((status = 200, body = HashMap<String, serde_json::Value>), (status = "4XX", body = ErrorBody)))]
async fn get_hyperparameters(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_hyperparameters(TrainingRunId(id)).await?))
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/metrics", tag = "runs", params(("id" = i64, Path)), request_body = MetricBody,
    responses((status = 201, body = MetricAnswer), (status = "4XX", body = ErrorBody)))]
/// One metric (answered with the stored point) or an array of them: one transaction,
/// answered with `{"written": n}`.
async fn log_metrics(State(s): State<AppState>, Id(id): Id, Text(body): Text) -> ApiResult {
    let run = TrainingRunId(id);
    // Decoded straight from the text (no `Value` in between): this is the hot path.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let metrics: Vec<NewMetric> = decode_text(&body, "metrics")?;
        s.check_batch("metrics", metrics.len())?;
        let written = s.db.log_metrics(run, metrics).await?;
        return Ok(json(StatusCode::CREATED, &json!({ "written": written })));
    }
    let metric: NewMetric = decode_text(&body, "")?;
    Ok(json(StatusCode::CREATED, &s.db.log_metric(run, metric).await?))
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/metrics", tag = "runs", params(("id" = i64, Path), MetricQuery),
    responses((status = 200, body = Vec<Metric>, description = "in logging order"), (status = "4XX", body = ErrorBody)))]
async fn get_metrics(State(s): State<AppState>, Id(id): Id, Params(q): Params<MetricQuery>) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_metrics(TrainingRunId(id), q.name.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/experiments", tag = "experiments", request_body = NewExperiment,
    responses((status = 201, body = Experiment), (status = "4XX", body = ErrorBody)))]
async fn create_experiment(
    State(s): State<AppState>,
    Record(experiment): Record<NewExperiment>,
) -> ApiResult {
    record(created(), &s.db.create_experiment(experiment).await?)
}

#[utoipa::path(get, path = "/api/v1/experiments", tag = "experiments", params(PageParams),
    responses((status = 200, body = Vec<Experiment>), (status = "4XX", body = ErrorBody)))]
async fn list_experiments(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_experiments(page.into()).await?)
}

#[utoipa::path(get, path = "/api/v1/experiments/{id}", tag = "experiments", params(("id" = i64, Path)),
    responses((status = 200, body = Experiment), (status = "4XX", body = ErrorBody)))]
async fn get_experiment(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_experiment(ExperimentId(id)).await?)
}

#[utoipa::path(post, path = "/api/v1/experiments/{id}/runs", tag = "experiments", params(("id" = i64, Path)),
    request_body = NewExperimentRun, responses((status = 201, body = ExperimentRun), (status = "4XX", body = ErrorBody)))]
/// The body's `experiment_id` may be left out; when given it must match the path.
async fn add_experiment_run(State(s): State<AppState>, Id(id): Id, Body(mut body): Body) -> ApiResult {
    if let Value::Object(map) = &mut body {
        match map.get("experiment_id") {
            None => {
                map.insert("experiment_id".into(), json!(id));
            }
            Some(given) if *given != json!(id) => {
                return Err(ApiError::invalid(
                    "experiment_id",
                    format!("{given} differs from the path's {id}"),
                ));
            }
            Some(_) => {}
        }
    }
    let link: NewExperimentRun = aimdb_remote::wire::decode(body, "")?;
    Ok(json(StatusCode::CREATED, &s.db.add_experiment_run(link).await?))
}

#[utoipa::path(get, path = "/api/v1/experiments/{id}/runs", tag = "experiments", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ExperimentRunDetail>), (status = "4XX", body = ErrorBody)))]
async fn experiment_runs(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_experiment_runs(ExperimentId(id)).await?))
}
