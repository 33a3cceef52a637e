//! `cargo xtask bench --mlflow [--quick]`: one MLflow client workload
//! (`benches/reference/mlflow_bench.py`) against a real `mlflow server` (SQLite store, from a
//! venv in the cache dir) and against `aimdb serve` (release build, SQLite + FAISS), side by
//! side on this machine; prints the ratios and writes `target/bench-mlflow/results.md`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::collections::BTreeMap;

use crate::server_demo::Server;
use crate::{cargo, root, services};

/// What the issue asks of each figure: aimdb at least this many times faster; and where
/// measured, the key of the client's own time (the same calls against a local server that
/// replies from memory at once), which bounds any ratio through that client.
const ROWS: [(&str, &str, f64, Option<&str>); 6] = [
    ("create_run_s", "create_run (per call)", 10.0, None),
    ("log_metric_s", "log_metric (per call)", 10.0, None),
    ("log_batch_1000_s", "log_batch of 1000 metrics (per call)", 10.0, Some("log_batch_client_only_s")),
    ("log_batch_raw_s", "runs/log-batch of 1000 metrics, raw endpoint", 10.0, None),
    ("history_raw_s", "metrics/get-history, raw endpoint", 15.0, None),
    ("search_runs_s", "search_runs over 200 runs (filter)", 5.0, Some("search_runs_client_only_s")),
];

/// A server started in its own process group, stopped with the whole group.
pub(crate) struct ProcessGroup(std::process::Child);

impl ProcessGroup {
    /// Starts `command` quietly in a group of its own: `mlflow server` runs uvicorn workers
    /// that outlive a plain kill.
    pub(crate) fn spawn(command: &mut Command) -> Result<Self, String> {
        command
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map(ProcessGroup)
            .map_err(|e| format!("start {:?}: {e}", command.get_program()))
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

pub(crate) fn wait_listening(port: u16, what: &str) -> Result<(), String> {
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("{what} did not listen on port {port} within 60 s"))
}

/// The script's `key value` lines.
type Figures = BTreeMap<String, f64>;

fn workload(python: &Path, uri: &str, label: &str, quick: bool) -> Result<Figures, String> {
    let mut command = Command::new(python);
    command.arg(root().join("benches/reference/mlflow_bench.py")).args([uri, label]);
    if quick {
        command.arg("--quick");
    }
    let output = command
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("run mlflow_bench.py: {e}"))?;
    if !output.status.success() {
        return Err(format!("mlflow_bench.py against {label} failed"));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (key, value) =
                line.split_once(' ').ok_or_else(|| format!("mlflow_bench.py printed {line:?}"))?;
            let value = value.parse::<f64>().map_err(|e| format!("{key} {value:?}: {e}"))?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

pub(crate) fn run(quick: bool) -> Result<(), String> {
    cargo(&["build", "--release", "--package", "aimdb-cli", "--bin", "aimdb"], &[])?;
    let python = services::python_venv("mlflow-server-venv", &["mlflow==3.17.*"], "mlflow.server")?;
    let dir = std::env::temp_dir().join(format!("aimdb-mlflow-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("aimdb")).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let result = side_by_side(&python, &dir, quick);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn side_by_side(python: &Path, dir: &Path, quick: bool) -> Result<(), String> {
    let mlflow_port = free_port()?;
    let _mlflow = ProcessGroup::spawn(
        Command::new(python)
            .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--port", &mlflow_port.to_string()])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--default-artifact-root")
            .arg(dir.join("artifacts")),
    )?;
    wait_listening(mlflow_port, "mlflow server")?;
    let mlflow = workload(python, &format!("http://127.0.0.1:{mlflow_port}"), "mlflow", quick)?;

    let aimdb_dir = dir.join("aimdb");
    std::fs::write(
        aimdb_dir.join("aimdb.yaml"),
        "backend: faiss\ndb_path: ./aimdb.db\nindex_path: ./index\n",
    )
    .map_err(|e| format!("write the configuration: {e}"))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let mut child = Command::new(target.join("release/aimdb"))
        .args(["--config", "aimdb.yaml", "serve", "--bind", "127.0.0.1:0"])
        .current_dir(&aimdb_dir)
        .env_remove("AIMDB_DATABASE_URL")
        .env("EMBEDDING_MODEL_NAME", "hash")
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start aimdb serve: {e}"))?;
    let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
    let _aimdb = Server(child);
    let url = loop {
        let line = lines.next().ok_or("aimdb serve exited before listening")?.map_err(|e| e.to_string())?;
        if let Some(rest) = line.split(" on ").nth(1).filter(|r| r.starts_with("http://")) {
            break rest.split_whitespace().next().unwrap_or_default().to_owned();
        }
    };
    // Drain the request log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let aimdb = workload(python, &url, "aimdb", quick)?;
    report(&mlflow, &aimdb)
}

fn report(mlflow: &Figures, aimdb: &Figures) -> Result<(), String> {
    let get = |figures: &Figures, key: &str| figures.get(key).copied().unwrap_or(f64::NAN);
    let mut table = String::from(
        "| call (same MLflow client) | mlflow server 3.17 | aimdb serve | aimdb is x faster | target | \
         the client alone: most any server could be |\n|---|---|---|---|---|---|\n",
    );
    let mut missed = Vec::new();
    for (key, what, target, alone) in ROWS {
        let (theirs, ours) = (get(mlflow, key), get(aimdb, key));
        let ratio = theirs / ours;
        if ratio < target {
            missed.push(what);
        }
        let ceiling = alone.map_or_else(String::new, |alone| {
            let alone = get(aimdb, alone);
            format!("{:.2} ms: {:.1}x", alone * 1e3, theirs / alone)
        });
        table.push_str(&format!(
            "| {what} | {:.2} ms | {:.2} ms | {ratio:.1}x | >= {target}x | {ceiling} |\n",
            theirs * 1e3,
            ours * 1e3
        ));
    }
    table.push_str(&format!(
        "\nlog_batch: {:.0} metrics/s (mlflow) vs {:.0} (aimdb); history of {} points through the client \
         (`get_metric_history`, its own parsing included): {:.2} s vs {:.2} s; search matched {} vs {} runs.\n",
        get(mlflow, "log_batch_metrics_per_s"),
        get(aimdb, "log_batch_metrics_per_s"),
        get(aimdb, "history_points"),
        get(mlflow, "history_client_s"),
        get(aimdb, "history_client_s"),
        get(mlflow, "search_runs_matches"),
        get(aimdb, "search_runs_matches"),
    ));
    println!("\n{table}");
    let out = root().join("target/bench-mlflow");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::write(out.join("results.md"), &table).map_err(|e| e.to_string())?;
    println!("written to {}", out.join("results.md").display());
    if !missed.is_empty() {
        println!("below target: {}", missed.join(", "));
    }
    Ok(())
}
