//! The metadata store suite against a real MongoDB-wire server (`cargo xtask services up
//! mongodb` starts secantusdb and sets `AIMDB_TEST_MONGODB_URL`). Each case gets its own
//! database, so cases share one server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aimdb_core::MetadataStore;
use aimdb_mongo::{MongoConfig, MongoStore};
use aimdb_testkit::StoreHarness;

struct Mongo {
    config: MongoConfig,
}

#[async_trait::async_trait]
impl StoreHarness for Mongo {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        Arc::new(MongoStore::open(self.config.clone()).await.expect("open mongodb store"))
    }
}

fn harness() -> Option<Mongo> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("AIMDB_TEST_MONGODB_URL").ok()?;
    let database = format!("aimdb_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    Some(Mongo {
        config: MongoConfig::from_url(&url).expect("AIMDB_TEST_MONGODB_URL").with_database(database),
    })
}

aimdb_testkit::metadata_store_suite!(async { harness() });
