//! A server that goes away is `Unavailable` (retryable), and the pool recovers when
//! it comes back. Stop and start commands come from `cargo xtask services up`.
//! Its own test binary: cargo runs binaries one at a time, so stopping a shared
//! server cannot disturb the conformance suites; the cases here run one by one.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Error, MetadataStore, NewModel};
use aimdb_sql::{MySqlConfig, MySqlStore, PostgresConfig, PostgresStore};
use tokio::sync::Mutex;

/// The cases stop shared servers: never two at once.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn sh(command: &str) -> bool {
    Command::new("sh").args(["-c", command]).status().is_ok_and(|s| s.success())
}

/// `(url, stop, start)` from the environment. No server at all is a skip (a failure
/// under CI); a server run outside xtask (no stop/start commands) cannot be restarted
/// from here, which is a notice only.
fn commands(server: &str) -> Option<(String, String, String)> {
    let var = |what: &str| std::env::var(format!("AIMDB_TEST_{server}_{what}")).ok();
    match (var("URL"), var("STOP"), var("START")) {
        (Some(url), Some(stop), Some(start)) => Some((url, stop, start)),
        (Some(_), _, _) => {
            eprintln!("{server} restart: server managed outside xtask (no AIMDB_TEST_{server}_STOP/START)");
            None
        }
        (None, _, _) => {
            aimdb_testkit::skip(&format!("{server} restart: no AIMDB_TEST_{server}_URL"));
            None
        }
    }
}

async fn restart_and_recover(store: Arc<dyn MetadataStore>, stop: &str, start: &str) {
    let tag = std::process::id();
    store.create_model(NewModel::new(format!("before-{tag}"))).await.unwrap();

    let stopped = sh(stop);
    let down = store.create_model(NewModel::new(format!("during-{tag}"))).await;
    // Start the server again before asserting anything, so it is up for whatever follows.
    let started = sh(start);
    assert!(stopped, "`{stop}` failed");
    assert!(started, "`{start}` failed");
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
