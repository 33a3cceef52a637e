//! A server that goes away is `Unavailable` (retryable), and the store recovers when it comes
//! back. Stop and start commands come from `cargo xtask services up`
//! (`AIMDB_TEST_<SERVER>_STOP` / `_START`). Run these from a test binary of their own: cargo
//! runs binaries one at a time, so stopping a shared server cannot disturb the suites.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Error, MetadataStore, NewModel};

fn sh(command: &str) -> bool {
    Command::new("sh").args(["-c", command]).status().is_ok_and(|s| s.success())
}

/// `(url, stop, start)` for `server` (e.g. `POSTGRES`) from the environment. No server at
/// all is a skip (a failure under CI); a server run outside xtask (no stop/start commands)
/// cannot be restarted from here, which is a notice only.
pub fn commands(server: &str) -> Option<(String, String, String)> {
    let var = |what: &str| std::env::var(format!("AIMDB_TEST_{server}_{what}")).ok();
    match (var("URL"), var("STOP"), var("START")) {
        (Some(url), Some(stop), Some(start)) => Some((url, stop, start)),
        (Some(_), _, _) => {
            eprintln!("{server} restart: server managed outside xtask (no AIMDB_TEST_{server}_STOP/START)");
            None
        }
        (None, _, _) => {
            crate::skip(&format!("{server} restart: no AIMDB_TEST_{server}_URL"));
            None
        }
    }
}

/// Writes, stops the server, expects `Unavailable`, starts it, and expects writes and reads
/// to work again within ten seconds (bounded retries).
pub async fn restart_and_recover(store: Arc<dyn MetadataStore>, stop: &str, start: &str) {
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
