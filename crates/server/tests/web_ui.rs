//! What the web UI needs from the server: its files embedded and served with a strict
//! content policy, the access a token has, run summaries, and metric series downsampled to
//! the pixels a chart shows. (The pages themselves are tested in Chromium:
//! `crates/server/ui/tests`.)

mod common;

use std::net::SocketAddr;

use aimdb::AimdbConfig;
use aimdb_server::{ServerConfig, Token};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Client::new().get(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

async fn post(addr: SocketAddr, path: &str, body: Value) -> Value {
    let response = Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_pages_files_are_embedded_and_served_with_a_strict_policy() {
    let config =
        ServerConfig::new().with_token(Token::read_write("writer")).with_token(Token::read_only("reader"));
    let addr = common::serve(AimdbConfig::from_url("memory://"), config).await;
    let client = Client::new();

    // The page and its files need no token: the data behind them does.
    let page = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    let etag = page.headers()["etag"].clone();
    assert!(page.text().await.unwrap().contains("/ui/app/main.js"));
    let again = client.get(format!("http://{addr}/")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    for (path, mime) in [
        ("/ui/app/main.js", "text/javascript"),
        ("/ui/app/style.css", "text/css"),
        ("/ui/vendor/uplot/uPlot.esm.js", "text/javascript"),
        ("/ui/vendor/preact/LICENSE", ""),
    ] {
        let answer = client.get(format!("http://{addr}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert!(answer.headers()["content-type"].to_str().unwrap().starts_with(mime), "{path}");
    }
    let (missing, body) = get(addr, "/ui/app/nothing.js", None).await;
    assert_eq!((missing, body["error"]["kind"].as_str()), (StatusCode::NOT_FOUND, Some("no_route")));

    // What the UI shows depends on what the token may do.
    assert_eq!(get(addr, "/api/v1/info", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(addr, "/api/v1/info", Some("reader")).await.1["access"], "read");
    assert_eq!(get(addr, "/api/v1/info", Some("writer")).await.1["access"], "read-write");
    let open = common::serve(AimdbConfig::from_url("memory://"), ServerConfig::new()).await;
    assert_eq!(get(open, "/api/v1/info", None).await.1["access"], "read-write");
}

#[tokio::test]
async fn run_summaries_and_downsampled_metric_series() {
    let addr = common::serve(AimdbConfig::from_url("memory://"), ServerConfig::new()).await;
    let run = post(addr, "/api/v1/runs", json!({"run_name": "long"})).await["id"].as_i64().unwrap();
    post(addr, &format!("/api/v1/runs/{run}/hyperparameters"), json!({"lr": 0.01})).await;
    let train: Vec<Value> = (0..5000)
        .map(|step| json!({"metric_name": "loss", "metric_value": 1.0 / (1.0 + step as f64), "step": step}))
        .collect();
    post(addr, &format!("/api/v1/runs/{run}/metrics"), Value::Array(train)).await;
    let val: Vec<Value> = (0..10)
        .map(|i| json!({"metric_name": "loss", "metric_value": 2.0 - i as f64 / 10.0, "step": i * 500, "split": "val"}))
        .collect();
    post(addr, &format!("/api/v1/runs/{run}/metrics"), Value::Array(val)).await;

    let (status, summaries) = get(addr, "/api/v1/runs/summaries", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summaries[0]["run"]["run_name"], "long");
    assert_eq!(summaries[0]["hyperparameters"]["lr"], 0.01);
    assert_eq!(summaries[0]["latest_metrics"]["loss"]["step"], 4999);
    let (_, named) = get(addr, &format!("/api/v1/runs/summaries?ids={run},999"), None).await;
    assert_eq!(named.as_array().unwrap().len(), 1, "ids that do not exist are left out");
    let (bad, body) = get(addr, "/api/v1/runs/summaries?ids=1,x", None).await;
    assert_eq!((bad, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ids")));
    let (both, _) = get(addr, "/api/v1/runs/summaries?ids=1&limit=2", None).await;
    assert_eq!(both, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, answer) = get(addr, &format!("/api/v1/runs/{run}/metrics/series?points=100"), None).await;
    assert_eq!((status, answer["x"].as_str()), (StatusCode::OK, Some("step")));
    let series = answer["series"].as_array().unwrap();
    let (train, val) = (&series[0], &series[1]);
    assert_eq!((train["split"].as_str(), train["total"].as_u64()), (Some("train"), Some(5000)));
    assert_eq!(train["x"].as_array().unwrap().len(), 100);
    assert_eq!((train["x"][0].as_f64(), train["x"][99].as_f64()), (Some(0.0), Some(4999.0)));
    assert_eq!((train["y_min"].as_f64(), train["y_max"].as_f64()), (Some(1.0 / 5000.0), Some(1.0)));
    assert_eq!((val["split"].as_str(), val["x"].as_array().unwrap().len()), (Some("val"), 10));

    let (status, by_epoch) =
        get(addr, &format!("/api/v1/runs/{run}/metrics/series?x=time&name=loss"), None).await;
    assert_eq!((status, by_epoch["x"].as_str()), (StatusCode::OK, Some("time")));
    let (few, body) = get(addr, &format!("/api/v1/runs/{run}/metrics/series?points=2"), None).await;
    assert_eq!((few, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("points")));
    let (axis, _) = get(addr, &format!("/api/v1/runs/{run}/metrics/series?x=pixels"), None).await;
    assert_eq!(axis, StatusCode::UNPROCESSABLE_ENTITY);
    let (missing, _) = get(addr, "/api/v1/runs/999/metrics/series", None).await;
    assert_eq!(missing, StatusCode::NOT_FOUND);
}
