//! Bearer tokens: with any configured, every `/api` request needs one, and a read-only
//! token may only read. The token is never logged (the request log holds no headers).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Access;
use crate::error::ApiError;
use crate::routes::AppState;

/// Whether `request` only reads: `GET`, `HEAD`, and the id lookups and batched searches (a
/// `POST` for the body).
fn only_reads(request: &Request) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        || (request.method() == Method::POST
            && (request.uri().path().ends_with("/lookup")
                || request.uri().path().ends_with("/search")
                || crate::mlflow::READING_POSTS.contains(&request.uri().path())))
}

pub(crate) async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let tokens = &state.config.tokens;
    if tokens.is_empty() || !request.uri().path().starts_with("/api/") {
        // Without tokens everyone may write; the web UI asks `/api/v1/info` what it may do.
        request.extensions_mut().insert(Access::ReadWrite);
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = presented.and_then(|p| tokens.iter().find(|t| t.matches(p))) else {
        let message =
            if presented.is_some() { "the bearer token is not valid" } else { "a bearer token is required" };
        let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    if token.access() == Access::Read && !only_reads(&request) {
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this token may only read").into_response();
    }
    request.extensions_mut().insert(token.access());
    next.run(request).await
}
