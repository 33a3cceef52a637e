//! Conformance suites that every aimdb backend must pass (SPEC §9).
//!
//! A backend joins with one line in a test file, naming a future that builds a
//! [`StoreHarness`] over fresh, empty data (or `None` to skip when its server is
//! not running):
//!
//! ```ignore
//! aimdb_testkit::metadata_store_suite!(async { Some(my_backend::TestHarness::new().await) });
//! ```
//!
//! Each case becomes its own `#[test]`, so failures name the case and backend.
#![deny(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use aimdb_core::MetadataStore;
use async_trait::async_trait;

mod assert;
pub mod store;

pub use assert::{expect_already_exists, expect_invalid, expect_not_found};

/// Opens the store under test. One harness is built per test case over fresh,
/// empty data; `open` may be called again after `close` and must reach the same data.
#[async_trait]
pub trait StoreHarness: Send + Sync {
    /// Opens (or reopens) the store.
    async fn open(&self) -> Arc<dyn MetadataStore>;
}

/// Runs a test body on a multi-threaded runtime (concurrency cases need real parallelism).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// Prints why a suite is skipped, or panics when running in CI (`CI=true`), where a
/// missing service is a failure rather than a skip (SPEC §8).
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Generates one `#[test]` per conformance case for a metadata store.
///
/// `$harness` is an expression evaluating to a future of `Option<H>` where
/// `H: StoreHarness`; `None` skips the case (see [`skip`]).
#[macro_export]
macro_rules! metadata_store_suite {
    ($harness:expr) => {
        $crate::__metadata_store_cases! { $harness;
            model_round_trip, model_not_found, duplicate_names, invalid_input_names_field,
            pagination, model_versions, datasets, training_runs, partial_update,
            hyperparameters, metrics, metric_batch_is_atomic, non_finite_values_rejected,
            experiments, predictions, prediction_batch_is_atomic, unicode,
            case_sensitive_names, large_json, statistics, concurrent_writers, reopen,
            proptest_round_trips
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __metadata_store_cases {
    ($harness:expr; $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::block_on(async {
                match $harness.await {
                    Some(harness) => $crate::store::$case(&harness).await,
                    None => $crate::skip(concat!("no server for ", stringify!($case))),
                }
            })
        }
    )*};
}
