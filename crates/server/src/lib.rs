//! `aimdb serve`: the aimdb REST API over HTTP, so many training machines record into one
//! database. Any store and index the configuration names sit behind it; clients are
//! `aimdb` itself (`AIMDB_DATABASE_URL=http://host:8080`), or anything that speaks JSON.
//!
//! ```no_run
//! # async fn demo() -> aimdb::Result<()> {
//! use aimdb::{AimdbConfig, create_ai_database};
//! use aimdb_server::{Server, ServerConfig};
//!
//! let db = create_ai_database(AimdbConfig::sqlite("aimdb.db")).await?;
//! let server = Server::bind(db, ServerConfig::new()).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(aimdb_server::shutdown_signal()).await
//! # }
//! ```
//!
//! The API: `/api/v1/models`, `/api/v1/datasets`, `/api/v1/versions`, `/api/v1/runs`,
//! `/api/v1/experiments`, `/api/v1/predictions` (create, read, list, `.../search?q=`),
//! `/api/v1/stats`, `/api/v1/reindex`, `/api/v1/optimize/{collection}`; `/healthz` and
//! `/readyz`. Errors are `{"error": {"kind", "message", ...}}` (see [`aimdb_remote::wire`]).
//! MLflow's tracking and registry API is served under `/api/2.0/mlflow` on the same store,
//! so the `mlflow` client logs into aimdb (`MLFLOW_TRACKING_URI=http://host:8080`). A web
//! UI (search, models, runs with their charts, experiments, datasets, status) is served at
//! `/`, its files embedded in the binary.
#![deny(missing_docs)]

mod auth;
pub mod config;
mod error;
mod extract;
mod metrics;
mod mlflow;
pub(crate) mod routes;
mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use aimdb::{AiDatabase, Error, MetadataStore, Result};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use config::{Access, ServerConfig, Token};
pub use error::ApiError;

use crate::routes::AppState;

/// A server bound to its address, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    router: Router,
    db: AiDatabase,
}

impl Server {
    /// Checks `config` (no tokens on a non-loopback address is refused) and binds.
    pub async fn bind(db: AiDatabase, config: ServerConfig) -> Result<Server> {
        config.check()?;
        let listener = TcpListener::bind(config.bind).await.map_err(|e| Error::Config {
            message: format!("bind {}", config.bind),
            source: Some(e.into()),
        })?;
        Ok(Server { listener, router: router(db.clone(), config), db })
    }

    /// The address it listens on (the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight, flushes the
    /// index and closes the store.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::backend("serve HTTP", e));
        let closed = self.db.close().await;
        served.and(closed)
    }
}

/// The application: every route, the limits, authentication and the request log.
pub fn router(db: AiDatabase, config: ServerConfig) -> Router {
    let max_body = config.max_body_bytes;
    let state = AppState { db, config: Arc::new(config) };
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let (api, openapi) = routes::api().split_for_parts();
    let openapi = Arc::new(openapi);
    let metrics = Arc::new(metrics::Metrics::new());
    let scrape = {
        let (metrics, db) = (metrics.clone(), state.db.clone());
        move || metrics::scrape(metrics.clone(), db.clone())
    };
    api.merge(mlflow::routes())
        .merge(ui::routes())
        .route("/openapi.json", get(move || async move { axum::Json(openapi.as_ref().clone()) }))
        .route("/metrics", get(scrape))
        // After routing, so requests are counted by route template (ids do not make series).
        .route_layer(axum::middleware::from_fn_with_state(metrics, metrics::record))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such route (the API is under /api/v1, the web UI at /)")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            // Method, path and request id; never headers (they carry the token).
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Completes on Ctrl-C or SIGTERM: what `aimdb serve` stops on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
