//! Request extractors whose every rejection is a JSON error naming what was wrong (axum's
//! own rejections are plain text).

use aimdb::OptionalJson;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// The body as JSON (any shape): 400 for what is not JSON (or not UTF-8, or nested too
/// deeply), 413 beyond the body limit.
#[derive(Debug)]
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Text(bytes) = Text::from_request(request, state).await?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| not_json(&e))
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("body", "the body is larger than the server's limit (max_body_bytes)")
    } else {
        ApiError::new(rejection.status(), "invalid_input", rejection.body_text()).with_field("body")
    }
}

/// The body as JSON text, not parsed yet (for the handlers that decode it straight into
/// their type); 400 when empty, 413 beyond the body limit.
#[derive(Debug)]
pub struct Text(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Text {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(body_rejection)?;
        if bytes.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                "the request needs a JSON body",
            )
            .with_field("body"));
        }
        Ok(Text(bytes))
    }
}

/// Decodes JSON text as `T`: 400 for what is not JSON, 422 naming the field otherwise.
pub fn decode_text<T: DeserializeOwned>(bytes: &[u8], prefix: &str) -> ApiResult<T> {
    aimdb_remote::wire::decode_slice(bytes, prefix)?.map_err(|e| not_json(&e))
}

fn not_json(e: &serde_json::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", format!("body: not JSON: {e}")).with_field("body")
}

/// A request record (`NewModel`, ...) decoded from the body by the wire rules: 422 naming the
/// field for a wrong type, a missing or unknown field.
#[derive(Debug)]
pub struct Record<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + OptionalJson> FromRequest<S> for Record<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Body(value) = Body::from_request(request, state).await?;
        Ok(Record(aimdb_remote::wire::from_value(value, "")?))
    }
}

/// An integer id from the path: 400 naming the id otherwise.
#[derive(Debug)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid("id", e.body_text()))?;
        raw.parse().map(Id).map_err(|_| ApiError::invalid("id", format!("not an integer id: `{raw}`")))
    }
}

/// An integer id and a key from the path (`.../{id}/tags/{key}`).
#[derive(Debug)]
pub struct IdKey(pub i64, pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((raw, key)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid("key", e.body_text()))?;
        let id = raw.parse().map_err(|_| ApiError::invalid("id", format!("not an integer id: `{raw}`")))?;
        Ok(IdKey(id, key))
    }
}

/// A path segment as text (a name).
#[derive(Debug)]
pub struct Name(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Name {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid("name", e.body_text()))?;
        Ok(Name(raw))
    }
}

/// Query parameters: 400 naming the parameter otherwise.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| ApiError::invalid("query", e.body_text()))
    }
}

/// A record in the wire form, with `status`.
pub fn record<T: Serialize + OptionalJson>(status: StatusCode, record: &T) -> ApiResult {
    Ok((status, axum::Json(aimdb_remote::wire::to_value(record)?)).into_response())
}

/// Records in the wire form.
pub fn records<T: Serialize + OptionalJson>(records: &[T]) -> ApiResult {
    Ok(axum::Json(aimdb_remote::wire::to_values(records)?).into_response())
}

/// Plain serde JSON (metrics, hyperparameters, counts).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}
