//! Prometheus `/metrics`: requests by route and status, their latency, errors of the store
//! and the index, and the index's size (read at scrape time).

use std::sync::Arc;
use std::time::Instant;

use aimdb::AiDatabase;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route template (`/api/v1/models/{id}`), so ids do not explode the series.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectionLabels {
    collection: String,
}

/// The server's metrics and the registry they are written from.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    errors: Family<KindLabels, Counter>,
    vectors: Family<CollectionLabels, Gauge>,
    failed_vector_writes: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("aimdb");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to ~26 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
        });
        registry.register("http_request_duration_seconds", "Time to answer, by route", latency.clone());
        let errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Requests that failed in the store or the index: unavailable (503) or backend (500)",
            errors.clone(),
        );
        let vectors = Family::<CollectionLabels, Gauge>::default();
        registry.register("index_vectors", "Vectors in the index, by collection", vectors.clone());
        let failed_vector_writes = Gauge::default();
        registry.register(
            "index_failed_vector_writes",
            "Records stored since start whose vector could not be written (repaired at the next open)",
            failed_vector_writes.clone(),
        );
        Metrics { registry, requests, latency, errors, vectors, failed_vector_writes }
    }

    /// The text exposition, with the index's figures read now.
    async fn render(&self, db: &AiDatabase) -> Result<String, std::fmt::Error> {
        if let Ok(stats) = db.get_statistics().await
            && let Some(index) = stats.index
        {
            for collection in index.collections {
                let labels = CollectionLabels { collection: collection.collection.as_str().to_owned() };
                self.vectors.get_or_create(&labels).set(collection.vectors as i64);
            }
            self.failed_vector_writes.set(index.failed_vector_writes as i64);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Counts and times every request by its route template.
pub(crate) async fn record(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    metrics
        .latency
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(started.elapsed().as_secs_f64());
    metrics.requests.get_or_create(&RequestLabels { method, route, status: status.as_u16() }).inc();
    let kind = match status {
        StatusCode::SERVICE_UNAVAILABLE => Some("unavailable"),
        StatusCode::INTERNAL_SERVER_ERROR => Some("backend"),
        _ => None,
    };
    if let Some(kind) = kind {
        metrics.errors.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }
    response
}

/// `GET /metrics`.
pub(crate) async fn scrape(metrics: Arc<Metrics>, db: AiDatabase) -> Response {
    match metrics.render(&db).await {
        Ok(text) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
