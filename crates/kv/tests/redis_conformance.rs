//! The metadata store suite against a real Redis (`cargo xtask services up redis` sets
//! `AIMDB_TEST_REDIS_URL`). Each case gets its own key namespace, so cases share one server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aimdb_core::MetadataStore;
use aimdb_redis::{RedisConfig, RedisStore};
use aimdb_testkit::StoreHarness;

struct Redis {
    config: RedisConfig,
}

#[async_trait::async_trait]
impl StoreHarness for Redis {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        Arc::new(RedisStore::open(self.config.clone()).await.expect("open redis store"))
    }
}

fn harness() -> Option<Redis> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("AIMDB_TEST_REDIS_URL").ok()?;
    let namespace = format!("test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let config =
        RedisConfig::from_url(&url).expect("AIMDB_TEST_REDIS_URL").with_namespace(namespace).unwrap();
    Some(Redis { config })
}

aimdb_testkit::metadata_store_suite!(async { harness() });
