//! What the process tests share: a real `aimdb serve` started from the built binary.
#![allow(dead_code, reason = "each test binary uses part of it")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `aimdb serve` and the address it printed.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Serves `faiss.yaml` in `dir` on `bind`.
    pub fn start(dir: &Path, bind: &str) -> Self {
        Self::start_with(dir, "faiss.yaml", &["--bind", bind])
    }

    /// Serves `config` in `dir` with more `serve` arguments, embedding with the hash.
    pub fn start_with(dir: &Path, config: &str, args: &[&str]) -> Self {
        Self::spawn(dir, config, args, Some("hash"))
    }

    /// Serves `faiss.yaml` in `dir` with the default embedder (all-MiniLM-L6-v2 where it is
    /// installed, else the hash fallback: check `/api/v1/stats`).
    pub fn start_default_embedder(dir: &Path, bind: &str) -> Self {
        Self::spawn(dir, "faiss.yaml", &["--bind", bind], None)
    }

    fn spawn(dir: &Path, config: &str, args: &[&str], embedder: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aimdb"));
        command
            .args(["--config", config, "serve"])
            .args(args)
            .current_dir(dir)
            .env_remove("AIMDB_DATABASE_URL");
        match embedder {
            Some(model) => command.env("EMBEDDING_MODEL_NAME", model),
            None => command.env_remove("EMBEDDING_MODEL_NAME"),
        };
        let mut child = command.stderr(Stdio::piped()).spawn().expect("start aimdb serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("aimdb serve printed its address").unwrap();
            if let Some(rest) = line.split("on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Keep reading stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess { child, addr }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
