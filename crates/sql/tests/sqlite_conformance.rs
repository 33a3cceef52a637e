//! SQLite passes the whole conformance suite, on a file (so reopen is exercised)
//! and in memory.

use std::sync::Arc;

use aimdb_core::MetadataStore;
use aimdb_sql::{SqliteConfig, SqliteStore};
use aimdb_testkit::StoreHarness;
use tempfile::TempDir;

struct SqliteFile {
    dir: TempDir,
}

#[async_trait::async_trait]
impl StoreHarness for SqliteFile {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        let store = SqliteStore::open(SqliteConfig::new(self.dir.path().join("aimdb.db"))).await;
        Arc::new(store.expect("open sqlite"))
    }
}

aimdb_testkit::metadata_store_suite!(async { Some(SqliteFile { dir: tempfile::tempdir().unwrap() }) });

mod in_memory {
    use super::*;

    struct SqliteMemory(Arc<SqliteStore>);

    #[async_trait::async_trait]
    impl StoreHarness for SqliteMemory {
        async fn open(&self) -> Arc<dyn MetadataStore> {
            self.0.clone()
        }
    }

    aimdb_testkit::metadata_store_suite!(async {
        Some(SqliteMemory(Arc::new(SqliteStore::open(SqliteConfig::in_memory()).await.unwrap())))
    });
}
