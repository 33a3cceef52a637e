//! `AiDatabase` itself passes the conformance suite: created from configuration as the
//! seed's `faiss` preset (SQLite metadata beside a FAISS index that every create feeds),
//! reopened through `create_ai_database`.

use std::sync::Arc;

use aimdb::{AimdbConfig, MetadataStore, create_ai_database};
use aimdb_testkit::StoreHarness;

struct Facade {
    dir: tempfile::TempDir,
}

#[async_trait::async_trait]
impl StoreHarness for Facade {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        let mut config = AimdbConfig::faiss(self.dir.path().join("nested/dir"));
        config.embedding.model = "hash".into();
        let db = create_ai_database(config).await.expect("open");
        assert!(db.index().is_some());
        Arc::new(db)
    }
}

aimdb_testkit::metadata_store_suite!(async { Some(Facade { dir: tempfile::tempdir().unwrap() }) });

#[tokio::test]
async fn statistics_name_the_backend() {
    let db = create_ai_database(AimdbConfig::from_url("memory://")).await.unwrap();
    let stats = db.get_statistics().await.unwrap();
    assert_eq!((stats.backend.as_str(), stats.counts.models), ("memory", 0));
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["models"], 0, "counts are flattened: {json}");
}

#[tokio::test]
async fn the_configured_embedder_is_attached() {
    let mut config = AimdbConfig::from_url("memory://");
    config.embedding.model = "hash".into();
    let db = create_ai_database(config).await.unwrap();
    let id = db.embedder().identity().await.unwrap();
    assert_eq!((id.kind.as_str(), id.model.as_str(), id.dim), ("hash", "sha256", 384));
}

/// `create_ai_database` with a server URL reaches the real server when one is up.
#[tokio::test]
async fn server_urls_open_their_stores() {
    let servers = [
        ("AIMDB_TEST_POSTGRES_URL", "postgres"),
        ("AIMDB_TEST_MYSQL_URL", "mysql"),
        ("AIMDB_TEST_REDIS_URL", "redis"),
        ("AIMDB_TEST_MONGODB_URL", "mongodb"),
    ];
    for (var, backend) in servers {
        let Ok(url) = std::env::var(var) else {
            aimdb_testkit::skip(&format!("no {var} for the facade's {backend} check"));
            continue;
        };
        let db = create_ai_database(AimdbConfig::from_url(url).with_echo(true)).await.unwrap();
        assert_eq!(db.get_statistics().await.unwrap().backend, backend);
    }
}
