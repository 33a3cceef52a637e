//! The real `mlflow` Python client (`mlflow-skinny` 3.x from PyPI) against a real `aimdb
//! serve`: runs the pytest suite in `tests/mlflow/` with `MLFLOW_TRACKING_URI` pointing at it.
//! The interpreter is `AIMDB_MLFLOW_PYTHON`, a venv `cargo xtask test` makes under
//! `~/.cache/aimdb`; without one the test skips (and fails under `CI=true`).

use std::path::Path;
use std::process::Command;

mod common;
use common::ServerProcess;

#[test]
fn the_mlflow_client_logs_into_aimdb_serve() {
    let Some(python) = std::env::var_os("AIMDB_MLFLOW_PYTHON") else {
        aimdb_testkit::skip("AIMDB_MLFLOW_PYTHON is not set (cargo xtask test makes the mlflow venv)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("faiss.yaml"), "backend: faiss\nindex_path: ./idx\n").unwrap();
    // The real embedder, so the search case is about meaning (it checks which one it got).
    let server = ServerProcess::start_default_embedder(dir.path(), "127.0.0.1:0");
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow");
    let output = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::FutureWarning"])
        .arg(&tests)
        .current_dir(dir.path())
        .env("MLFLOW_TRACKING_URI", format!("http://{}", server.addr))
        // The client must not wander off: no telemetry, no Databricks, no proxies.
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run pytest");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{text}");
    assert!(output.status.success(), "the mlflow client tests failed:\n{text}");
}
