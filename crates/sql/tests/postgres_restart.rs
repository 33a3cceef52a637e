//! A server that goes away is `Unavailable` (retryable), and the pool recovers when
//! it comes back. Its own test binary: cargo runs binaries one at a time, so stopping
//! the shared server cannot disturb the conformance suite.

use std::process::Command;
use std::time::Duration;

use aimdb_core::{Error, MetadataStore, NewModel};
use aimdb_sql::{PostgresConfig, PostgresStore};

fn sh(command: &str) {
    let status = Command::new("sh").args(["-c", command]).status().expect("run sh");
    assert!(status.success(), "`{command}` failed");
}

#[tokio::test]
async fn server_restart_is_unavailable_then_recovers() {
    let vars = ["AIMDB_TEST_POSTGRES_URL", "AIMDB_TEST_POSTGRES_STOP", "AIMDB_TEST_POSTGRES_START"]
        .map(std::env::var);
    let [Ok(url), Ok(stop), Ok(start)] = vars else {
        aimdb_testkit::skip(
            "postgres restart: no AIMDB_TEST_POSTGRES_{URL,STOP,START} (cargo xtask services up)",
        );
        return;
    };
    let config = PostgresConfig::from_url(&url).unwrap().with_acquire_timeout(Duration::from_secs(2));
    let store = PostgresStore::open(config).await.unwrap();
    let tag = std::process::id();
    store.create_model(NewModel::new(format!("before-{tag}"))).await.unwrap();

    sh(&stop);
    let down = store.create_model(NewModel::new(format!("during-{tag}"))).await;
    // Start the server again before asserting, so a failure here leaves it up for others.
    sh(&start);
    match &down {
        Err(e @ Error::Unavailable { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Unavailable while the server is down, got {other:?}"),
    }

    // Bounded retries: the pool replaces its dead connections once the server is back.
    let mut last = None;
    for _ in 0..50 {
        match store.create_model(NewModel::new(format!("after-{tag}"))).await {
            Ok(model) => {
                assert_eq!(store.get_model(model.id).await.unwrap().name, format!("after-{tag}"));
                return;
            }
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => panic!("after restart: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the store did not recover within 10 s: {last:?}");
}
