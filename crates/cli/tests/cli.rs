//! The `aimdb` binary: output, JSON, and the exit codes scripts rely on.

use std::process::{Command, Output};

fn aimdb(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aimdb"))
        .args(args)
        .current_dir(dir)
        .env_remove("AIMDB_CONFIG")
        .env_remove("AIMDB_DATABASE_URL")
        .env("EMBEDDING_MODEL_NAME", "hash")
        .output()
        .expect("run aimdb")
}

#[test]
fn commands_print_results_and_exit_with_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("faiss.yaml");
    std::fs::write(&config, "backend: faiss\nindex_path: ./idx\n").unwrap();
    let cfg = config.to_str().unwrap();

    let created = aimdb(
        dir.path(),
        &["--config", cfg, "--json", "models", "create", "resnet50", "--framework", "pytorch"],
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let model: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!((model["id"].as_i64(), model["framework"].as_str()), (Some(1), Some("pytorch")));

    let got = aimdb(dir.path(), &["--config", cfg, "models", "get", "--name", "resnet50"]);
    assert!(String::from_utf8_lossy(&got.stdout).starts_with("1\tresnet50\tpytorch"));
    let hits =
        aimdb(dir.path(), &["--config", cfg, "--json", "models", "search", "resnet50 pytorch", "-n", "1"]);
    let hits: serde_json::Value = serde_json::from_slice(&hits.stdout).unwrap();
    assert_eq!(hits[0]["name"], "resnet50");
    assert!(hits[0]["similarity_score"].as_f64().unwrap() > 0.999);

    let codes = [
        (vec!["models", "get", "42"], 3),
        (vec!["models", "create", "resnet50"], 4),
        (vec!["metrics", "log", "1", "loss", "NaN"], 5),
        (vec!["models", "frobnicate"], 2),
    ];
    for (args, code) in codes {
        let mut all = vec!["--config", cfg, "--json"];
        all.extend(args.iter().copied());
        let output = aimdb(dir.path(), &all);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let missing = aimdb(dir.path(), &["--json", "models", "get", "42"]);
    let error: serde_json::Value = serde_json::from_slice(&missing.stderr).unwrap();
    assert_eq!(error["error"], "not_found", "errors are JSON with --json");

    let stats = aimdb(dir.path(), &["--config", cfg, "--json", "stats"]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["models"], 1);
    assert_eq!(stats["index"]["collections"][0]["vectors"], 1);
    let no_index = aimdb(dir.path(), &["models", "search", "x"]);
    assert_eq!(no_index.status.code(), Some(7), "search without an index is a configuration error");
}

/// A run started without a model version, linked later; tags set, read and deleted.
#[test]
fn runs_without_a_version_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sqlite.yaml");
    std::fs::write(&config, "backend: sqlite\ndb_path: ./a.db\n").unwrap();
    let cfg = config.to_str().unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--config", cfg, "--json"];
        all.extend(args);
        let output = aimdb(dir.path(), &all);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let run = json(&["runs", "create", "--name", "sweep"]);
    assert_eq!((run["id"].as_i64(), run["model_version_id"].is_null()), (Some(1), true));
    json(&["models", "create", "resnet50"]);
    let version = aimdb(dir.path(), &["--config", cfg, "runs", "update", "1", "--version", "1"]);
    assert_eq!(version.status.code(), Some(3), "no version 1 yet: not found");

    let tags = json(&["tags", "set", "run", "1", "mlflow.user=ana", "note=a=b"]);
    assert_eq!(tags, serde_json::json!({"mlflow.user": "ana", "note": "a=b"}));
    json(&["tags", "set", "model", "1", "team=vision"]);
    assert_eq!(json(&["tags", "get", "model", "1"]), serde_json::json!({"team": "vision"}));
    assert_eq!(json(&["tags", "delete", "run", "1", "note"]), serde_json::json!({"deleted": true}));
    let text = aimdb(dir.path(), &["--config", cfg, "tags", "get", "run", "1"]);
    assert_eq!(String::from_utf8_lossy(&text.stdout).trim(), "mlflow.user\tana");
    let missing = aimdb(dir.path(), &["--config", cfg, "tags", "get", "experiment", "9"]);
    assert_eq!(missing.status.code(), Some(3));
    let bad = aimdb(dir.path(), &["--config", cfg, "tags", "set", "dataset", "1", "a=b"]);
    assert_eq!(bad.status.code(), Some(2), "datasets take no tags: a usage error");
}

/// `aimdb migrate`: a URL to a configured database with an index; a second run is refused
/// unless forced, and then copies nothing.
#[test]
fn migrate_copies_checks_and_reindexes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("src.yaml"), "metadata:\n  url: sqlite://./src.db\n").unwrap();
    for name in ["resnet50", "bert"] {
        let created =
            aimdb(dir.path(), &["--config", "src.yaml", "models", "create", name, "--framework", "pytorch"]);
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    }
    std::fs::write(dir.path().join("dst.yaml"), "backend: faiss\nindex_path: ./dst\n").unwrap();
    let migrate = |extra: &[&str]| {
        let mut args = vec!["--json", "migrate", "--from", "sqlite://./src.db", "--to", "dst.yaml"];
        args.extend(extra);
        aimdb(dir.path(), &args)
    };
    let first = migrate(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(
        (report["written"]["models"].as_u64(), report["index"]["models"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(report["verified"].as_u64().unwrap() >= 2, "{report}");
    let hits =
        aimdb(dir.path(), &["--config", "dst.yaml", "--json", "models", "search", "bert pytorch", "-n", "1"]);
    let hits: serde_json::Value = serde_json::from_slice(&hits.stdout).unwrap();
    assert_eq!((hits[0]["name"].as_str(), hits[0]["id"].as_i64()), (Some("bert"), Some(2)), "ids kept");

    let refused = migrate(&[]);
    assert_eq!(refused.status.code(), Some(5), "{}", String::from_utf8_lossy(&refused.stderr));
    let error: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert!(error["message"].as_str().unwrap().contains("--force"), "{error}");
    let forced = migrate(&["--force"]);
    let report: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_eq!(report["written"]["models"], 0, "a re-run copies nothing");
}
