//! `AiDatabase` itself passes the conformance suite: created from configuration,
//! over SQLite (file, reopened through `create_ai_database`) and over memory.

use std::sync::Arc;

use aimdb::{AimdbConfig, MetadataStore, create_ai_database};
use aimdb_testkit::StoreHarness;

struct Facade {
    dir: tempfile::TempDir,
}

#[async_trait::async_trait]
impl StoreHarness for Facade {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        let config = AimdbConfig::sqlite(self.dir.path().join("nested/dir/aimdb.db"));
        Arc::new(create_ai_database(config).await.expect("open"))
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

/// `create_ai_database` with a `postgres://` URL reaches a real server when one is up.
#[tokio::test]
async fn postgres_urls_open_a_postgres_store() {
    let Ok(url) = std::env::var("AIMDB_TEST_POSTGRES_URL") else {
        aimdb_testkit::skip("no AIMDB_TEST_POSTGRES_URL for the facade's postgres check");
        return;
    };
    let db = create_ai_database(AimdbConfig::from_url(url).with_echo(true)).await.unwrap();
    let stats = db.get_statistics().await.unwrap();
    assert_eq!(stats.backend, "postgres");
    assert!(!stats.location.contains("password"));
}
