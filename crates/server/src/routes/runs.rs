//! Training runs, their hyperparameters and metrics, and experiments.

use std::collections::BTreeMap;

use aimdb::{
    ExperimentId, MetadataStore, NewExperiment, NewExperimentRun, NewMetric, NewTrainingRun, TrainingRunId,
    TrainingRunUpdate,
};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::catalog::PageParams;
use super::{AppState, OneOrMany, created, one_or_many};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, Params, Record, json, record, records};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/runs", post(create_run).get(list_runs))
        .route("/api/v1/runs/{id}", get(get_run).patch(update_run))
        .route("/api/v1/runs/{id}/hyperparameters", post(log_hyperparameters).get(get_hyperparameters))
        .route("/api/v1/runs/{id}/metrics", post(log_metrics).get(get_metrics))
        .route("/api/v1/experiments", post(create_experiment).get(list_experiments))
        .route("/api/v1/experiments/{id}", get(get_experiment))
        .route("/api/v1/experiments/{id}/runs", post(add_experiment_run).get(experiment_runs))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricQuery {
    name: Option<String>,
}

async fn create_run(State(s): State<AppState>, Record(run): Record<NewTrainingRun>) -> ApiResult {
    record(created(), &s.db.create_training_run(run).await?)
}

async fn list_runs(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_training_runs(page.into()).await?)
}

async fn get_run(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_training_run(TrainingRunId(id)).await?)
}

async fn update_run(State(s): State<AppState>, Id(id): Id, Record(update): Record<TrainingRunUpdate>) -> ApiResult {
    record(StatusCode::OK, &s.db.update_training_run(TrainingRunId(id), update).await?)
}

/// `{"name": value, ...}`: a name logged again is overwritten.
async fn log_hyperparameters(State(s): State<AppState>, Id(id): Id, Body(body): Body) -> ApiResult {
    let params: BTreeMap<String, Value> = aimdb_remote::wire::decode(body, "hyperparameters")?;
    s.check_batch("hyperparameters", params.len())?;
    s.db.log_hyperparameters(TrainingRunId(id), params).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_hyperparameters(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_hyperparameters(TrainingRunId(id)).await?))
}

/// One metric (answered with the stored point) or an array of them: one transaction,
/// answered with `{"written": n}`.
async fn log_metrics(State(s): State<AppState>, Id(id): Id, Body(body): Body) -> ApiResult {
    let run = TrainingRunId(id);
    match one_or_many::<NewMetric>(body, "metrics")? {
        OneOrMany::One(metric) => Ok(json(StatusCode::CREATED, &s.db.log_metric(run, metric).await?)),
        OneOrMany::Many(metrics) => {
            s.check_batch("metrics", metrics.len())?;
            let written = s.db.log_metrics(run, metrics).await?;
            Ok(json(StatusCode::CREATED, &json!({ "written": written })))
        }
    }
}

async fn get_metrics(State(s): State<AppState>, Id(id): Id, Params(q): Params<MetricQuery>) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_metrics(TrainingRunId(id), q.name.as_deref()).await?))
}

async fn create_experiment(State(s): State<AppState>, Record(experiment): Record<NewExperiment>) -> ApiResult {
    record(created(), &s.db.create_experiment(experiment).await?)
}

async fn list_experiments(State(s): State<AppState>, Params(page): Params<PageParams>) -> ApiResult {
    records(&s.db.list_experiments(page.into()).await?)
}

async fn get_experiment(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    record(StatusCode::OK, &s.db.get_experiment(ExperimentId(id)).await?)
}

/// The body's `experiment_id` may be left out; when given it must match the path.
async fn add_experiment_run(State(s): State<AppState>, Id(id): Id, Body(mut body): Body) -> ApiResult {
    if let Value::Object(map) = &mut body {
        match map.get("experiment_id") {
            None => {
                map.insert("experiment_id".into(), json!(id));
            }
            Some(given) if *given != json!(id) => {
                return Err(ApiError::invalid("experiment_id", format!("{given} differs from the path's {id}")));
            }
            Some(_) => {}
        }
    }
    let link: NewExperimentRun = aimdb_remote::wire::decode(body, "")?;
    Ok(json(StatusCode::CREATED, &s.db.add_experiment_run(link).await?))
}

async fn experiment_runs(State(s): State<AppState>, Id(id): Id) -> ApiResult {
    Ok(json(StatusCode::OK, &s.db.get_experiment_runs(ExperimentId(id)).await?))
}
