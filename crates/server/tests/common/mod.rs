//! A real `aimdb serve` (the same `Server` the command runs) on a free loopback port, in
//! the test's runtime: it serves until the runtime ends with the test.

#![allow(dead_code, reason = "each test binary uses part of this")]

use std::net::SocketAddr;

use aimdb::{AiDatabase, AimdbConfig, create_ai_database};
use aimdb_server::{Server, ServerConfig};

/// SQLite beside a FAISS index in `dir`, with the hash embedder (quick to start).
pub fn faiss_config(dir: &std::path::Path) -> AimdbConfig {
    let mut config = AimdbConfig::faiss(dir);
    config.embedding.model = "hash".into();
    config
}

/// Opens `config` and serves it on a free loopback port.
pub async fn serve(config: AimdbConfig, server: ServerConfig) -> SocketAddr {
    let db = create_ai_database(config).await.expect("open the served database");
    serve_db(db, server).await
}

/// Serves `db` on a free loopback port.
pub async fn serve_db(db: AiDatabase, server: ServerConfig) -> SocketAddr {
    let server = Server::bind(db, server.with_bind("127.0.0.1:0".parse().unwrap())).await.expect("bind");
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// The client database for a server at `addr`.
pub async fn client(addr: SocketAddr) -> AiDatabase {
    create_ai_database(AimdbConfig::from_url(format!("http://{addr}")))
        .await
        .expect("open the remote database")
}
