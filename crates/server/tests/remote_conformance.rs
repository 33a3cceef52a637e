//! The whole metadata conformance suite through HTTP: the remote store (`http://`, what the
//! facade opens for a server URL) against a real server on loopback, with SQLite + FAISS
//! behind it, and PostgreSQL when `cargo xtask services` runs one.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use aimdb::MetadataStore;
use aimdb_server::ServerConfig;
use aimdb_testkit::StoreHarness;

struct Served {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

#[async_trait::async_trait]
impl StoreHarness for Served {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        let db = common::client(self.addr).await;
        assert_eq!(db.store().info().backend, "remote");
        Arc::new(db)
    }
}

mod sqlite {
    use super::*;

    async fn harness() -> Option<Served> {
        let dir = tempfile::tempdir().unwrap();
        let addr = common::serve(common::faiss_config(dir.path()), ServerConfig::new()).await;
        Some(Served { addr, _dir: dir })
    }

    aimdb_testkit::metadata_store_suite!(harness());
}

mod postgres {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aimdb::AimdbConfig;
    use sqlx::Connection;

    use super::*;

    static NEXT: AtomicU32 = AtomicU32::new(0);

    /// A fresh PostgreSQL database per case, served.
    async fn harness() -> Option<Served> {
        let admin = std::env::var("AIMDB_TEST_POSTGRES_URL").ok()?;
        let name = format!("aimdb_srv{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').expect("URL ends in a database name");
        let mut config = AimdbConfig::from_url(format!("{base}/{name}"));
        config.embedding.model = "hash".into();
        let addr = common::serve(config, ServerConfig::new()).await;
        Some(Served { addr, _dir: tempfile::tempdir().unwrap() })
    }

    aimdb_testkit::metadata_store_suite!(harness());
}
