//! `cargo xtask demo --demo server`: `aimdb serve` on a temporary SQLite + FAISS database,
//! the embedded demo's tour through it (the remote store), the CLI against it, then SIGTERM
//! and a clean exit.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::{cargo, demo_command, root};

/// Kills the server if the demo stops half-way.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn aimdb_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("debug").join("aimdb")
}

pub(crate) fn run() -> Result<(), String> {
    cargo(&["build", "--package", "aimdb-cli", "--bin", "aimdb"], &[])?;
    let dir = std::env::temp_dir().join(format!("aimdb-server-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("aimdb.yaml"), "backend: faiss\ndb_path: ./aimdb.db\nindex_path: ./index\n")
        .map_err(|e| format!("write the configuration: {e}"))?;
    let result = with_server(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn with_server(dir: &std::path::Path) -> Result<(), String> {
    let mut child = Command::new(aimdb_binary())
        .args(["--config", "aimdb.yaml", "serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("AIMDB_DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start aimdb serve: {e}"))?;
    let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
    let mut server = Server(child);
    let url = loop {
        let line = lines.next().ok_or("aimdb serve exited before listening")?.map_err(|e| e.to_string())?;
        eprintln!("server | {line}");
        if let Some(rest) = line.split(" on ").nth(1).filter(|r| r.starts_with("http://")) {
            break rest.split_whitespace().next().unwrap_or_default().to_owned();
        }
    };
    // The server's request log, interleaved with the demo's output.
    let log = std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| eprintln!("server | {l}")));

    let env = [("AIMDB_DATABASE_URL".to_owned(), url.clone())];
    println!("\n=== The embedded demo's tour, through the server at {url}\n");
    let status = demo_command(&["--demo".to_owned(), "remote".to_owned()], &env)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the remote demo failed ({status})"));
    }
    println!("\n=== The CLI against the same server (AIMDB_DATABASE_URL={url})\n");
    for args in [
        vec!["models", "list"],
        vec!["models", "search", "image recognition deep learning", "-n", "2"],
        vec!["runs", "get", "1"],
    ] {
        println!("$ aimdb {}", args.join(" "));
        let output = Command::new(aimdb_binary())
            .args(&args)
            .current_dir(dir)
            .env("AIMDB_DATABASE_URL", &url)
            .env_remove("AIMDB_CONFIG")
            .output()
            .map_err(|e| format!("run aimdb: {e}"))?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        if !output.status.success() {
            return Err(format!("aimdb {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr)));
        }
    }

    println!("\n=== Stopping the server (SIGTERM): it finishes requests, flushes the index, exits 0");
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().map_err(|e| format!("kill: {e}"))?;
    let status = server.0.wait().map_err(|e| e.to_string())?;
    let _ = log.join();
    if !status.success() {
        return Err(format!("aimdb serve exited with {status}"));
    }
    println!("server stopped ({status})");
    Ok(())
}
