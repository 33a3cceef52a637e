//! A server that goes away is `Unavailable` (retryable), and the pool recovers when
//! it comes back. Stop and start commands come from `cargo xtask services up`.
//! Its own test binary: cargo runs binaries one at a time, so stopping a shared
//! server cannot disturb the conformance suites; the cases here run one by one.

use std::sync::Arc;
use std::time::Duration;

use aimdb_sql::{MySqlConfig, MySqlStore, PostgresConfig, PostgresStore};
use aimdb_testkit::restart::{commands, restart_and_recover};
use tokio::sync::Mutex;

/// The cases stop shared servers: never two at once.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

#[tokio::test]
async fn postgres_restart_is_unavailable_then_recovers() {
    let _guard = ONE_AT_A_TIME.lock().await;
    let Some((url, stop, start)) = commands("POSTGRES") else { return };
    let config = PostgresConfig::from_url(&url).unwrap().with_acquire_timeout(Duration::from_secs(2));
    restart_and_recover(Arc::new(PostgresStore::open(config).await.unwrap()), &stop, &start).await;
}

#[tokio::test]
async fn mysql_restart_is_unavailable_then_recovers() {
    let _guard = ONE_AT_A_TIME.lock().await;
    let Some((url, stop, start)) = commands("MYSQL") else { return };
    let config = MySqlConfig::from_url(&url).unwrap().with_acquire_timeout(Duration::from_secs(2));
    restart_and_recover(Arc::new(MySqlStore::open(config).await.unwrap()), &stop, &start).await;
}
