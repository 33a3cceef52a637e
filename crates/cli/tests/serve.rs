//! `aimdb serve` as a real process: the CLI talks to it through `AIMDB_DATABASE_URL`, a
//! client survives the server's restart (`Unavailable` while it is down), and SIGTERM stops
//! it cleanly (exit 0, index flushed: the restarted server still finds what was written).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use aimdb::prelude::*;

mod common;
use common::ServerProcess;

fn cli(dir: &Path, addr: SocketAddr, args: &[&str]) -> Output {
    cli_with_token(dir, addr, None, args)
}

fn cli_with_token(dir: &Path, addr: SocketAddr, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aimdb"));
    match token {
        Some(token) => command.env("AIMDB_TOKEN", token),
        None => command.env_remove("AIMDB_TOKEN"),
    };
    command
        .args(args)
        .current_dir(dir)
        .env_remove("AIMDB_CONFIG")
        .env("AIMDB_DATABASE_URL", format!("http://{addr}"))
        .env("EMBEDDING_MODEL_NAME", "hash")
        .output()
        .expect("run aimdb")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_cli_works_against_a_server_that_restarts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("faiss.yaml"), "backend: faiss\nindex_path: ./idx\n").unwrap();
    let server = ServerProcess::start(dir.path(), "127.0.0.1:0");
    let addr = server.addr;

    let created =
        json(&cli(dir.path(), addr, &["--json", "models", "create", "resnet50", "--framework", "pytorch"]));
    assert_eq!(created["id"], 1);
    let hits = json(&cli(dir.path(), addr, &["--json", "models", "search", "resnet50 pytorch", "-n", "1"]));
    assert_eq!(hits[0]["name"], "resnet50");
    let stats = json(&cli(dir.path(), addr, &["--json", "stats"]));
    assert_eq!((stats["backend"].as_str(), stats["models"].as_u64()), (Some("sqlite"), Some(1)));
    assert_eq!(cli(dir.path(), addr, &["models", "get", "42"]).status.code(), Some(3), "not found");

    // A client opened before the restart: Unavailable while the server is down, then back.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(create_ai_database(AimdbConfig::from_url(format!("http://{addr}")))).unwrap();
    assert!(server.terminate().success(), "SIGTERM ends the server with exit 0");
    let down = runtime.block_on(db.create_model(NewModel::new("during")));
    assert!(matches!(&down, Err(e) if e.is_retryable()), "{down:?}");
    assert_eq!(cli(dir.path(), addr, &["models", "list"]).status.code(), Some(6), "unavailable");

    let _server = ServerProcess::start(dir.path(), &addr.to_string());
    let after = runtime.block_on(db.create_model(NewModel::new("after"))).unwrap();
    assert_eq!(after.id.get(), 2);
    // The shutdown flushed the index: the first server's vector is still found.
    let hits =
        runtime.block_on(db.search_similar_models("resnet50 pytorch", 1, &ModelFilter::default())).unwrap();
    assert_eq!(hits[0].item.name, "resnet50");
}

/// The configuration file's `server:` section: its bind address and tokens (a read-only
/// token reads, may not write; no token is refused), the environment's tokens beside them.
#[test]
fn the_server_section_configures_bind_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "backend: sqlite\ndb_path: ./aimdb.db\nserver:\n  bind: 127.0.0.1:0\n  tokens:\n    \
                - {token: reader-secret, access: read}\n    - {token: writer-secret}\n";
    std::fs::write(dir.path().join("server.yaml"), yaml).unwrap();
    let server = ServerProcess::start_with(dir.path(), "server.yaml", &[]);
    let addr = server.addr;
    let write = ["models", "create", "resnet50"];
    assert_eq!(
        cli_with_token(dir.path(), addr, None, &["models", "list"]).status.code(),
        Some(7),
        "no token"
    );
    assert_eq!(
        cli_with_token(dir.path(), addr, Some("reader-secret"), &write).status.code(),
        Some(7),
        "read-only"
    );
    assert!(cli_with_token(dir.path(), addr, Some("writer-secret"), &write).status.success());
    let listed = cli_with_token(dir.path(), addr, Some("reader-secret"), &["models", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("resnet50"));
    assert!(server.terminate().success());
}
