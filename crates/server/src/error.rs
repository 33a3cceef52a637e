//! Every error answer: `{"error": {"kind", "message", ...}}` with the status of its kind.

use aimdb::Error;
use aimdb_remote::wire::{ErrorBody, ErrorDetail};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a client should wait before retrying an `unavailable` answer.
const RETRY_AFTER_SECONDS: &str = "1";

/// An error answer; handlers return `Result<_, ApiError>` and `?` converts store errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
}

impl ApiError {
    /// An answer of the server's own (`kind`, e.g. `unauthorized`).
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        ApiError { status, detail: ErrorDetail::new(kind, message) }
    }

    /// 422 naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::invalid(field, reason).into()
    }

    /// 413: the body or a batch is larger than the configured limit.
    pub fn too_large(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message).with_field(field)
    }

    /// The same answer naming `field`.
    #[must_use]
    pub fn with_field(mut self, field: &str) -> Self {
        self.detail.field = Some(field.to_owned());
        self
    }

    /// The status this answer carries.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::AlreadyExists { .. } => StatusCode::CONFLICT,
            Error::InvalidInput { .. } | Error::DimensionMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            // E.g. a search on a server without an index: not served as configured, which is
            // neither the client's input nor a crash.
            Error::Config { .. } => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The driver's error stays here, in the log; the answer names only the kind.
            tracing::error!(error = %error, source = ?std::error::Error::source(&error), "request failed");
        }
        ApiError { status, detail: ErrorDetail::of(&error) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (self.status, axum::Json(ErrorBody { error: self.detail })).into_response();
        if unavailable {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        response
    }
}

/// What handlers return.
pub type ApiResult<T = Response> = Result<T, ApiError>;
