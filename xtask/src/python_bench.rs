//! `cargo xtask bench --python`: the Python package against the targets and, side by
//! side, the MLflow Python client against its own server (`benches/reference/python_bench.py`);
//! prints the table and writes `target/bench-python/results.md`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::mlflow_bench::{ProcessGroup, free_port, wait_listening};
use crate::{python, root, services};

/// Key, what, aimdb's target (seconds; `None`: compared only).
const ROWS: [(&str, &str, f64); 3] = [
    ("log_metrics_10k_s", "log_metrics of 10k points (MLflow: 10 log_batch of 1000)", 0.05),
    ("create_model_s", "create_model, one call, p50 (MLflow: create_registered_model)", 0.001),
    (
        "get_metrics_100k_s",
        "get_metrics of 100k points into Python objects (MLflow: get_metric_history)",
        0.2,
    ),
];

fn figures(python: &Path, args: &[&str]) -> Result<BTreeMap<String, f64>, String> {
    let output = Command::new(python)
        .arg(root().join("benches/reference/python_bench.py"))
        .args(args)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("run python_bench.py: {e}"))?;
    if !output.status.success() {
        return Err(format!("python_bench.py {} failed", args[0]));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| v.parse::<f64>().map(|v| (k.to_owned(), v)).map_err(|e| format!("{k}: {e}")))
        .collect()
}

pub(crate) fn run() -> Result<(), String> {
    let wheel = python::wheel(&root(), "release")?;
    let target = root().join("target");
    let bench_python = python::fresh_venv(&target.join("python-bench-venv"), &wheel, &[])?;
    let dir = std::env::temp_dir().join(format!("aimdb-python-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ours = figures(&bench_python, &["aimdb", &dir.display().to_string()]);

    let mlflow_python = services::python_venv("mlflow-server-venv", &["mlflow==3.17.*"], "mlflow.server")?;
    let port = free_port()?;
    let theirs = {
        let _server = ProcessGroup::spawn(
            Command::new(&mlflow_python)
                .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--port", &port.to_string()])
                .arg("--backend-store-uri")
                .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
                .arg("--default-artifact-root")
                .arg(dir.join("artifacts")),
        )?;
        wait_listening(port, "mlflow server")?;
        figures(&mlflow_python, &["mlflow", &format!("http://127.0.0.1:{port}")])
    };
    let _ = std::fs::remove_dir_all(&dir);
    let (ours, theirs) = (ours?, theirs?);

    let get = |f: &BTreeMap<String, f64>, k: &str| f.get(k).copied().unwrap_or(f64::NAN);
    let mut table = String::from(
        "| job, from Python | aimdb (SQLite, in process) | target | MLflow client + `mlflow server` 3.17 (SQLite) | aimdb is x faster |\n\
         |---|---|---|---|---|\n",
    );
    for (key, what, target) in ROWS {
        let (a, m) = (get(&ours, key), get(&theirs, key));
        let met = if a <= target { "met" } else { "MISSED" };
        table.push_str(&format!(
            "| {what} | {:.2} ms | <= {:.0} ms ({met}) | {:.2} ms | {:.0}x |\n",
            a * 1e3,
            target * 1e3,
            m * 1e3,
            m / a
        ));
    }
    table.push_str(&format!(
        "\nlog_metrics: {:.0} metrics/s from Python (target >= 200k/s).\n",
        10_000.0 / get(&ours, "log_metrics_10k_s")
    ));
    println!("\n{table}");
    let out = target.join("bench-python");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::write(out.join("results.md"), &table).map_err(|e| e.to_string())?;
    println!("written to {}", out.join("results.md").display());
    Ok(())
}
