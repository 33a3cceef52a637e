//! Redis going away is `Unavailable`; the pool reconnects when it is back.

use std::sync::Arc;
use std::time::Duration;

use aimdb_redis::{RedisConfig, RedisStore};
use aimdb_testkit::restart::{commands, restart_and_recover};

#[tokio::test]
async fn redis_restart_is_unavailable_then_recovers() {
    let Some((url, stop, start)) = commands("REDIS") else { return };
    let config = RedisConfig::from_url(&url)
        .unwrap()
        .with_namespace("restart")
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    restart_and_recover(Arc::new(RedisStore::open(config).await.unwrap()), &stop, &start).await;
}
