//! The HTTP API as any client sees it: statuses and JSON errors for every kind of bad
//! input, tokens, limits, and the server still serving afterwards with nothing half-written.

mod common;

use std::net::SocketAddr;

use aimdb::{AimdbConfig, MetadataStore, NewModel};
use aimdb_server::{ServerConfig, Token};
use proptest::prelude::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Answer {
    let mut request = Client::new().request(method, format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON answer") };
    Answer { status, headers, body }
}

async fn post(addr: SocketAddr, path: &str, body: &str) -> Answer {
    send(addr, Method::POST, path, None, Some(body.as_bytes().to_vec())).await
}

fn kind(answer: &Answer) -> &str {
    answer.body["error"]["kind"].as_str().unwrap_or_else(|| panic!("not an error body: {}", answer.body))
}

async fn memory_server(config: ServerConfig) -> SocketAddr {
    common::serve(AimdbConfig::from_url("memory://"), config).await
}

#[tokio::test]
async fn every_error_kind_has_its_status() {
    let addr = memory_server(ServerConfig::new()).await;
    let created = post(addr, "/api/v1/models", r#"{"name": "resnet50", "input_shape": null}"#).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["name"], "resnet50");
    assert!(
        created.body["input_shape"].is_null() && created.body.get("output_shape").is_none(),
        "{}",
        created.body
    );

    let missing = send(addr, Method::GET, "/api/v1/models/999", None, None).await;
    assert_eq!((missing.status, kind(&missing)), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(
        (missing.body["error"]["entity"].as_str(), missing.body["error"]["key"].as_str()),
        (Some("model"), Some("999"))
    );

    let duplicate = post(addr, "/api/v1/models", r#"{"name": "resnet50"}"#).await;
    assert_eq!((duplicate.status, kind(&duplicate)), (StatusCode::CONFLICT, "already_exists"));

    let blank = post(addr, "/api/v1/models", r#"{"name": "  "}"#).await;
    assert_eq!((blank.status, kind(&blank)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"));
    assert_eq!(blank.body["error"]["field"], "name");

    let batch =
        json!([{"metric_name": "loss", "metric_value": 1.0}, {"metric_name": "loss", "metric_value": "x"}]);
    let run =
        send(addr, Method::POST, "/api/v1/runs/1/metrics", None, Some(batch.to_string().into_bytes())).await;
    assert_eq!(run.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(run.body["error"]["field"], "metrics[1].metric_value", "{}", run.body);

    let no_index = send(addr, Method::GET, "/api/v1/models/search?q=x", None, None).await;
    assert_eq!((no_index.status, kind(&no_index)), (StatusCode::NOT_IMPLEMENTED, "config"));
}

#[tokio::test]
async fn malformed_requests_are_4xx_json() {
    let addr = memory_server(ServerConfig::new().with_max_body_bytes(64 * 1024).with_max_batch(10)).await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("not JSON", b"{name: resnet".to_vec(), StatusCode::BAD_REQUEST, "body"),
        ("empty", Vec::new(), StatusCode::BAD_REQUEST, "body"),
        ("invalid UTF-8", b"{\"name\": \"\xff\xfe\"}".to_vec(), StatusCode::BAD_REQUEST, "body"),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        ("wrong type", br#"{"name": 5}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "name"),
        (
            "unknown field",
            br#"{"name": "a", "nmae": "b"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nmae",
        ),
        (
            "missing field",
            br#"{"description": "no name"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        ("not an object", br#"[1, 2]"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "body"),
        (
            "huge body",
            format!(r#"{{"name": "{}"}}"#, "x".repeat(100_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
        ),
    ];
    for (what, body, status, field) in cases {
        let answer = send(addr, Method::POST, "/api/v1/models", None, Some(body)).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert!(answer.body["error"]["message"].is_string(), "{what}: {}", answer.body);
        if answer.body["error"]["field"].is_string() {
            assert_eq!(answer.body["error"]["field"], field, "{what}: {}", answer.body);
        }
    }
    for (body, status) in [
        ("[{\"metric_name\": ", StatusCode::BAD_REQUEST),
        ("[{\"metric_name\": 1}]", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let answer =
            send(addr, Method::POST, "/api/v1/runs/1/metrics", None, Some(body.as_bytes().to_vec())).await;
        assert_eq!(answer.status, status, "metrics {body}: {}", answer.body);
        kind(&answer);
    }
    let too_many = json!((0..11).map(|i| json!({"metric_name": "m", "metric_value": i})).collect::<Vec<_>>());
    let answer =
        send(addr, Method::POST, "/api/v1/runs/1/metrics", None, Some(too_many.to_string().into_bytes()))
            .await;
    assert_eq!((answer.status, kind(&answer)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    for (method, path, status) in [
        (Method::GET, "/api/v1/models/abc", StatusCode::UNPROCESSABLE_ENTITY),
        (Method::GET, "/api/v1/models?limit=-1", StatusCode::UNPROCESSABLE_ENTITY),
        (Method::GET, "/api/v1/nothing", StatusCode::NOT_FOUND),
        (Method::DELETE, "/api/v1/models", StatusCode::METHOD_NOT_ALLOWED),
        (Method::POST, "/api/v1/optimize/planets", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let answer = send(addr, method.clone(), path, None, None).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        kind(&answer);
    }
    // Still serving, and nothing was written by any of it.
    let stats = send(addr, Method::GET, "/api/v1/stats", None, None).await;
    assert_eq!((stats.status, stats.body["models"].as_u64()), (StatusCode::OK, Some(0)));
}

#[tokio::test]
async fn tokens_guard_the_api_but_not_health() {
    let config = ServerConfig::new()
        .with_token(Token::read_write("writer-secret"))
        .with_token(Token::read_only("reader-secret"));
    let addr = memory_server(config).await;
    assert_eq!(send(addr, Method::GET, "/healthz", None, None).await.status, StatusCode::OK);

    let none = send(addr, Method::GET, "/api/v1/models", None, None).await;
    assert_eq!((none.status, kind(&none)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    let bad = send(addr, Method::GET, "/api/v1/models", Some("writer-secreT"), None).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);

    let body = || Some(br#"{"name": "m"}"#.to_vec());
    let denied = send(addr, Method::POST, "/api/v1/models", Some("reader-secret"), body()).await;
    assert_eq!((denied.status, kind(&denied)), (StatusCode::FORBIDDEN, "forbidden"));
    let written = send(addr, Method::POST, "/api/v1/models", Some("writer-secret"), body()).await;
    assert_eq!(written.status, StatusCode::CREATED);
    let read = send(addr, Method::GET, "/api/v1/models", Some("reader-secret"), None).await;
    assert_eq!((read.status, read.body.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let lookup = send(
        addr,
        Method::POST,
        "/api/v1/models/lookup",
        Some("reader-secret"),
        Some(br#"{"ids": [1]}"#.to_vec()),
    )
    .await;
    assert_eq!(lookup.status, StatusCode::OK, "a lookup only reads");

    // The remote store sends its token, and a refused one is a configuration error.
    let store = aimdb_remote::RemoteStore::open(
        aimdb_remote::RemoteConfig::from_url(&format!("http://{addr}")).unwrap().with_token("writer-secret"),
    )
    .await
    .unwrap();
    store.create_model(NewModel::new("through-the-client")).await.unwrap();
    let refused = aimdb_remote::RemoteStore::open(
        aimdb_remote::RemoteConfig::from_url(&format!("http://{addr}")).unwrap(),
    )
    .await;
    assert!(matches!(refused, Err(aimdb::Error::Config { .. })), "{refused:?}");
}

#[tokio::test]
async fn no_tokens_means_loopback_only() {
    let db = aimdb::create_ai_database(AimdbConfig::from_url("memory://")).await.unwrap();
    let open = ServerConfig::new().with_bind("0.0.0.0:0".parse().unwrap());
    let err = aimdb_server::Server::bind(db.clone(), open.clone()).await.unwrap_err();
    assert!(err.to_string().contains("--insecure-no-auth"), "{err}");
    aimdb_server::Server::bind(db.clone(), open.clone().with_insecure_no_auth(true)).await.unwrap();
    aimdb_server::Server::bind(db, open.with_token(Token::read_write("t"))).await.unwrap();
}

#[tokio::test]
async fn a_stopped_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = aimdb_remote::RemoteStore::open(
        aimdb_remote::RemoteConfig::from_url(&format!("http://{addr}")).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

/// Arbitrary JSON, from scalars to nested objects with the entities' own field names.
fn any_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "name",
        "description",
        "model_id",
        "version",
        "metric_name",
        "metric_value",
        "status",
        "input_data",
        "output_data",
        "model_version_id",
        "epoch",
        "ids",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(names.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn generated_bodies_never_crash_or_half_write() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let addr = runtime.block_on(memory_server(ServerConfig::new()));
    let paths = [
        "/api/v1/models",
        "/api/v1/versions",
        "/api/v1/datasets",
        "/api/v1/runs",
        "/api/v1/runs/1/metrics",
        "/api/v1/runs/1/hyperparameters",
        "/api/v1/experiments",
        "/api/v1/predictions",
        "/api/v1/models/lookup",
        "/api/v1/import",
    ];
    let config = ProptestConfig { cases: 200, ..ProptestConfig::default() };
    proptest!(config, |(body in any_json(), path in prop::sample::select(paths.to_vec()))| {
        let answer = runtime.block_on(send(addr, Method::POST, path, None, Some(body.to_string().into_bytes())));
        prop_assert!(answer.status.as_u16() < 500, "{path} {body}: {} {}", answer.status, answer.body);
        if !answer.status.is_success() {
            prop_assert!(answer.body["error"]["kind"].is_string(), "{path}: {}", answer.body);
        }
    });
    // Still serving, and every record a 2xx answer created is readable.
    let db = runtime.block_on(common::client(addr));
    let stats = runtime.block_on(db.get_statistics()).unwrap();
    let models = runtime.block_on(db.list_models(aimdb::Page::all())).unwrap();
    assert_eq!(stats.counts.models as usize, models.len());
}

/// `/openapi.json` is generated from the handlers: every path and method it lists is served
/// (no `no_route`, no 405), and every route the clients use is in it.
#[tokio::test]
async fn the_openapi_document_describes_what_is_served() {
    let addr = memory_server(ServerConfig::new()).await;
    let doc = send(addr, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."), "{}", doc.body);
    let paths = doc.body["paths"].as_object().unwrap();
    for required in [
        "/api/v1/models",
        "/api/v1/models/{id}",
        "/api/v1/models/search",
        "/api/v1/datasets/search",
        "/api/v1/predictions/search",
        "/api/v1/versions",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/metrics",
        "/api/v1/runs/{id}/hyperparameters",
        "/api/v1/experiments/{id}/runs",
        "/api/v1/stats",
        "/api/v1/reindex",
        "/api/v1/optimize/{collection}",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(required), "{required} is not in /openapi.json");
    }
    for (path, operations) in paths {
        let concrete = path.replace("{id}", "1").replace("{name}", "x").replace("{collection}", "models");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = send(addr, method.clone(), &concrete, None, None).await;
            assert!(
                answer.status != StatusCode::METHOD_NOT_ALLOWED && answer.body["error"]["kind"] != "no_route",
                "{method} {path} is documented but not served: {}",
                answer.body
            );
        }
    }
    assert!(doc.body["components"]["schemas"]["Model"]["properties"]["similarity_score"].is_null());
    assert!(doc.body["components"]["schemas"]["NewModel"]["properties"]["name"].is_object());
}

/// `/metrics` counts requests by route template and status and reports the index's size;
/// every answer carries a request id.
#[tokio::test]
async fn prometheus_metrics_and_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::serve(common::faiss_config(dir.path()), ServerConfig::new()).await;
    for name in ["a", "b"] {
        let answer = post(addr, "/api/v1/models", &format!(r#"{{"name": "{name}"}}"#)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        assert!(!answer.headers["x-request-id"].is_empty());
    }
    send(addr, Method::GET, "/api/v1/models/77", None, None).await;
    let text =
        Client::new().get(format!("http://{addr}/metrics")).send().await.unwrap().text().await.unwrap();
    for expected in [
        r#"aimdb_http_requests_total{method="POST",route="/api/v1/models",status="201"} 2"#,
        r#"aimdb_http_requests_total{method="GET",route="/api/v1/models/{id}",status="404"} 1"#,
        r#"aimdb_index_vectors{collection="models"} 2"#,
        "aimdb_http_request_duration_seconds_bucket",
        "aimdb_index_failed_vector_writes 0",
    ] {
        assert!(text.contains(expected), "`{expected}` missing from:\n{text}");
    }
}

/// The MLflow API's edges the Python client's tests do not reach: read-only tokens may
/// search with `POST`, repeated query fields, MLflow's error bodies for unknown endpoints,
/// artifacts, malformed input, and the 404 `get-by-name` answers for a missing experiment.
#[tokio::test]
async fn the_mlflow_api_answers_in_mlflows_own_terms() {
    let config = ServerConfig::new()
        .with_token(Token::read_write("writer-secret"))
        .with_token(Token::read_only("reader-secret"));
    let addr = memory_server(config).await;
    let w = Some("writer-secret");
    let r = Some("reader-secret");
    let call = |method: Method, path: &str, token: Option<&'static str>, body: Value| {
        let body = (method != Method::GET).then(|| body.to_string().into_bytes());
        let path = format!("/api/2.0/mlflow/{path}");
        async move { send(addr, method, &path, token, body).await }
    };
    let code = |a: &Answer| a.body["error_code"].as_str().unwrap_or_default().to_owned();

    let missing = call(Method::GET, "experiments/get-by-name?experiment_name=nope", r, Value::Null).await;
    assert_eq!((missing.status, code(&missing)), (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST".into()));
    let made = call(Method::POST, "experiments/create", w, json!({"name": "e"})).await;
    let experiment = made.body["experiment_id"].as_str().unwrap().to_owned();
    let denied = call(Method::POST, "experiments/create", r, json!({"name": "f"})).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let twice = call(Method::POST, "experiments/create", w, json!({"name": "e"})).await;
    assert_eq!((twice.status, code(&twice)), (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS".into()));

    let run = call(
        Method::POST,
        "runs/create",
        w,
        json!({"experiment_id": experiment, "start_time": "1700000000000"}),
    )
    .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    let run_id = run.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(run.body["run"]["info"]["start_time"], 1_700_000_000_000_i64);
    let logged = call(
        Method::POST,
        "runs/log-metric",
        w,
        json!({"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1_700_000_000_001_i64, "step": 3}),
    )
    .await;
    assert_eq!(logged.status, StatusCode::OK, "{}", logged.body);
    let nan =
        call(Method::POST, "runs/log-metric", w, json!({"run_id": run_id, "key": "x", "value": "NaN"})).await;
    assert_eq!((nan.status, code(&nan)), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE".into()));
    let half = json!({"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}],
                      "metrics": [{"key": "ok", "value": 1.0}, {"key": "bad", "value": "Infinity"}]});
    let refused = call(Method::POST, "runs/log-batch", w, half).await;
    assert_eq!(code(&refused), "INVALID_PARAMETER_VALUE");
    let after = call(Method::GET, &format!("runs/get?run_id={run_id}"), r, Value::Null).await;
    assert_eq!(after.body["run"]["data"]["params"], json!([]), "a refused batch writes nothing");
    assert_eq!(
        after.body["run"]["data"]["metrics"].as_array().map(Vec::len),
        Some(1),
        "only the earlier loss"
    );

    // A read-only token searches (a POST that only reads) with repeated query fields on GETs.
    let search = call(
        Method::POST,
        "runs/search",
        r,
        json!({"experiment_ids": [experiment], "filter": "metrics.loss = 0.5", "order_by": ["metrics.loss DESC"]}),
    )
    .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.body);
    assert_eq!(search.body["runs"][0]["data"]["metrics"][0]["step"], 3);
    let history = call(
        Method::GET,
        &format!("metrics/get-history?run_id={run_id}&metric_key=loss&max_results=1&order_by=a&order_by=b"),
        r,
        Value::Null,
    )
    .await;
    assert_eq!(history.body["metrics"][0]["timestamp"], 1_700_000_000_001_i64, "{}", history.body);
    let bad_filter =
        call(Method::POST, "runs/search", r, json!({"experiment_ids": [experiment], "filter": "loss <"}))
            .await;
    assert_eq!(code(&bad_filter), "INVALID_PARAMETER_VALUE");

    let reserved =
        call(Method::POST, "runs/set-tag", w, json!({"run_id": run_id, "key": "aimdb.x", "value": "1"}))
            .await;
    assert_eq!(code(&reserved), "INVALID_PARAMETER_VALUE", "aimdb.* tags are the server's");
    let not_json = send(addr, Method::POST, "/api/2.0/mlflow/runs/log-batch", w, Some(b"{".to_vec())).await;
    assert_eq!(
        (not_json.status, code(&not_json)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE".into())
    );
    let unknown = call(Method::GET, "logged-models/search", r, Value::Null).await;
    assert_eq!((unknown.status, code(&unknown)), (StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND".into()));
    let artifact =
        send(addr, Method::PUT, "/api/2.0/mlflow-artifacts/artifacts/1/2/a.txt", w, Some(b"x".to_vec()))
            .await;
    assert_eq!((artifact.status, code(&artifact)), (StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED".into()));
    assert!(artifact.body["message"].as_str().unwrap().contains("does not store artifacts"));
}

#[tokio::test]
async fn batched_searches_read_and_name_what_is_wrong() {
    let config = ServerConfig::new()
        .with_token(Token::read_write("writer"))
        .with_token(Token::read_only("reader"))
        .with_max_batch(3);
    let addr = memory_server(config).await;
    let search = |path: &'static str, body: &'static str| {
        send(addr, Method::POST, path, Some("reader"), Some(body.as_bytes().to_vec()))
    };
    // A read-only token may search in batches (the body makes it a POST); this server has no
    // index, which is a configuration answer, not a refusal.
    let unindexed = search("/api/v1/models/search", r#"{"queries": ["a", "b"]}"#).await;
    assert_eq!((unindexed.status, kind(&unindexed)), (StatusCode::NOT_IMPLEMENTED, "config"));
    let wrong_filter = search("/api/v1/datasets/search", r#"{"queries": ["a"], "framework": "jax"}"#).await;
    assert_eq!(wrong_filter.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_filter.body["error"]["field"], "framework");
    let unknown = search("/api/v1/predictions/search", r#"{"queries": ["a"], "limit": 3}"#).await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );
    let too_many = search("/api/v1/models/search", r#"{"queries": ["a", "b", "c", "d"]}"#).await;
    assert_eq!(
        (too_many.status, too_many.body["error"]["field"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("queries"))
    );
}
