//! MLflow's tracking and model-registry REST API (`/api/2.0/mlflow/...`), as the `mlflow`
//! Python client (3.x) calls it, mapped onto aimdb's own records so that what MLflow logs
//! is what aimdb's API, CLI and search show:
//!
//! | MLflow | aimdb | MLflow id |
//! |---|---|---|
//! | experiment | experiment | the experiment's id in decimal; `"0"` is the experiment named `Default`, made on first use |
//! | run | training run (no model version until one is registered from it) | the run's id in decimal (`run_id` and `run_uuid`) |
//! | param | hyperparameter (a JSON string) | key |
//! | metric | metric point (`step`, `timestamp` in ms; split `train`) | key |
//! | tag | tag on the experiment, run, model or version | key |
//! | registered model | model | its name |
//! | model version | model version (`checkpoint_path` = `source`, status `READY`) | its `version` string |
//!
//! What MLflow has and aimdb's records do not is kept in tags under the reserved `aimdb.`
//! prefix, which MLflow answers leave out: a run's experiment and lifecycle stage, a
//! version's run and description, a model's aliases. Deletes of runs, registered models
//! and versions are MLflow's soft deletes (`lifecycle_stage`), since aimdb keeps records.
//! Artifacts are not stored: runs' `artifact_uri` points at `mlflow-artifacts:/...` and
//! every artifact call answers `NOT_IMPLEMENTED` saying so.

mod filter;
mod registry;
mod tracking;
mod wire;

use aimdb::Error;
use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::routes::AppState;

/// Tags under this prefix hold what MLflow has and aimdb's records lack; hidden from MLflow.
pub(crate) const INTERNAL_TAG_PREFIX: &str = "aimdb.";

/// The MLflow routes; `only_reads` in the auth layer knows which `POST`s only read.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(tracking::routes())
        .merge(registry::routes())
        .route("/api/2.0/mlflow-artifacts/{*path}", axum::routing::any(artifacts))
        .route("/api/2.0/mlflow/artifacts/{*path}", axum::routing::any(artifacts))
        .route("/api/2.0/mlflow/{*path}", axum::routing::any(no_endpoint))
}

/// The route of an MLflow endpoint, e.g. `runs/create`.
fn at(path: &str) -> String {
    format!("/api/2.0/mlflow/{path}")
}

/// MLflow `POST`s that only read (a read-only token may call them).
pub(crate) const READING_POSTS: [&str; 3] = [
    "/api/2.0/mlflow/runs/search",
    "/api/2.0/mlflow/experiments/search",
    "/api/2.0/mlflow/registered-models/get-latest-versions",
];

async fn artifacts() -> MlflowError {
    MlflowError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NOT_IMPLEMENTED",
        "aimdb serve does not store artifacts: keep them in your own store (a path, S3, ...) and \
         record where as a run tag or a model version's source",
    )
}

async fn no_endpoint(method: Method, uri: axum::http::Uri) -> MlflowError {
    MlflowError::new(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!("aimdb does not serve {method} {} of the MLflow API", uri.path()),
    )
}

/// An MLflow error answer: `{"error_code": "...", "message": "..."}`.
#[derive(Debug)]
pub(crate) struct MlflowError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl MlflowError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        MlflowError { status, code, message: message.into() }
    }

    /// 400 `INVALID_PARAMETER_VALUE`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub(crate) fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// 400 `RESOURCE_ALREADY_EXISTS`, as MLflow answers it.
    pub(crate) fn exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", message)
    }
}

impl From<Error> for MlflowError {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::NotFound { .. } => Self::missing(message),
            Error::AlreadyExists { .. } => Self::exists(message),
            Error::InvalidInput { .. } | Error::DimensionMismatch { .. } => Self::invalid(message),
            Error::Unavailable { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE", message)
            }
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "MLflow request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "the store failed; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error_code": self.code, "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

/// What MLflow handlers return.
pub(crate) type MlflowResult = Result<Response, MlflowError>;

/// A `200` with a JSON body.
pub(crate) fn ok(body: Value) -> MlflowResult {
    Ok(axum::Json(body).into_response())
}

/// An MLflow request message: the JSON body, or for `GET` (and a body-less `DELETE`) the
/// query string, as the client sends protobuf messages either way.
pub(crate) struct Message<T>(pub(crate) T);

/// Fields the client sends as repeated query parameters (`order_by=a&order_by=b`).
const REPEATED_FIELDS: [&str; 4] = ["order_by", "experiment_ids", "stages", "run_ids"];

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Message<T> {
    type Rejection = MlflowError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = request.uri().query().map(str::to_owned);
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| MlflowError::invalid(format!("could not read the request body: {e}")))?;
        let value = if body.iter().all(u8::is_ascii_whitespace) {
            query_message(query.as_deref().unwrap_or(""))
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| MlflowError::invalid(format!("malformed JSON body: {e}")))?
        };
        serde_json::from_value(value)
            .map(Message)
            .map_err(|e| MlflowError::invalid(format!("malformed request: {e}")))
    }
}

/// A query string as the JSON message it encodes: every value a string, repeated fields arrays.
fn query_message(query: &str) -> Value {
    let mut message = Map::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = Value::String(value.into_owned());
        if REPEATED_FIELDS.contains(&key.as_ref()) {
            match message.entry(key.into_owned()).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items.push(value),
                _ => unreachable!("repeated fields are arrays"),
            }
        } else {
            message.insert(key.into_owned(), value);
        }
    }
    Value::Object(message)
}

/// Serde helpers for protobuf JSON, where 64-bit integers may come as strings.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// An optional `int64` given as a number or a string.
    pub(crate) fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer")))
            }
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer")))
            }
            Some(other) => Err(serde::de::Error::custom(format!("{other} is not an integer"))),
        }
    }

    /// An optional `double` given as a number or a string (`"NaN"`, `"Infinity"` included).
    pub(crate) fn float<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => {
                s.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number")))
            }
            Some(other) => Err(serde::de::Error::custom(format!("{other} is not a number"))),
        }
    }

    /// A string or a list of strings (a repeated field sent once as a query parameter).
    pub(crate) fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        })
    }
}

/// The fields every MLflow search takes.
#[derive(serde::Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    pub(crate) filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub(crate) max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub(crate) order_by: Vec<String>,
    #[serde(default)]
    pub(crate) page_token: Option<String>,
}

/// Paging by offset: MLflow's `page_token` is opaque to clients; aimdb's is the offset.
pub(crate) fn page<T>(
    items: Vec<T>,
    max_results: usize,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), MlflowError> {
    let start = match token.filter(|t| !t.is_empty()) {
        Some(t) => {
            t.parse::<usize>().map_err(|_| MlflowError::invalid(format!("invalid page_token {t:?}")))?
        }
        None => 0,
    };
    let total = items.len();
    let end = start.saturating_add(max_results).min(total);
    let next = (end < total).then(|| end.to_string());
    Ok((items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next))
}
