//! The MongoDB server going away is `Unavailable`; the driver reconnects when it is back.

use std::sync::Arc;
use std::time::Duration;

use aimdb_mongo::{MongoConfig, MongoStore};
use aimdb_testkit::restart::{commands, restart_and_recover};

#[tokio::test]
async fn mongodb_restart_is_unavailable_then_recovers() {
    let Some((url, stop, start)) = commands("MONGODB") else { return };
    let config =
        MongoConfig::from_url(&url).unwrap().with_database("restart").with_timeout(Duration::from_secs(2));
    restart_and_recover(Arc::new(MongoStore::open(config).await.unwrap()), &stop, &start).await;
}
