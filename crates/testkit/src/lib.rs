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
//! Vector indexes join the same way with [`vector_index_suite!`] and an [`IndexHarness`].
//!
//! Each case becomes its own `#[test]`, so failures name the case and backend.
#![deny(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use aimdb_core::{DistanceMetric, MetadataStore, VectorIndex};
use async_trait::async_trait;

mod assert;
pub mod index;
pub mod restart;
pub mod store;
pub mod synthetic;

pub use assert::{expect_already_exists, expect_invalid, expect_not_found};

/// Opens the store under test. One harness is built per test case over fresh,
/// empty data; `open` may be called again after `close` and must reach the same data.
#[async_trait]
pub trait StoreHarness: Send + Sync {
    /// Opens (or reopens) the store.
    async fn open(&self) -> Arc<dyn MetadataStore>;
}

/// Opens the vector index under test, like [`StoreHarness`] for stores.
#[async_trait]
pub trait IndexHarness: Send + Sync {
    /// Opens (or reopens, after the previous handle was dropped) the index.
    async fn open(&self) -> Arc<dyn VectorIndex>;
    /// Recall@10 against exact search this index promises on the suite's clustered data.
    fn min_recall(&self) -> f64 {
        1.0
    }
    /// The index kind the recall case's data must end up in after `optimize` (e.g. `ivf`).
    fn trained_kind(&self) -> Option<&str> {
        None
    }
    /// How far a reported score may be from `(1 + exact cosine) / 2`.
    fn score_tolerance(&self) -> f32 {
        1e-4
    }
    /// Opens the index [`open`](Self::open) opens, configured with `metric` instead; `None`
    /// for an index with one fixed metric (the metric case then checks cosine only).
    async fn open_with_metric(&self, metric: DistanceMetric) -> Option<Arc<dyn VectorIndex>> {
        let _ = metric;
        None
    }
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
        $crate::__suite_cases! { store; $harness;
            model_round_trip, model_not_found, duplicate_names, invalid_input_names_field,
            pagination, read_by_ids, model_versions, datasets, training_runs, run_without_version,
            partial_update, tags, run_summaries, hyperparameters, metrics, metric_batch_is_atomic, non_finite_values_rejected,
            experiments, predictions, prediction_batch_is_atomic, unicode,
            case_sensitive_names, large_json, statistics, concurrent_writers, reopen,
            proptest_round_trips, import_keeps_ids, import_is_all_or_nothing
        }
    };
}

/// Generates one `#[test]` per conformance case for a vector index, like
/// [`metadata_store_suite!`] with an [`IndexHarness`].
#[macro_export]
macro_rules! vector_index_suite {
    ($harness:expr) => {
        $crate::__suite_cases! { index; $harness;
            add_and_search, collections_are_separate, upsert_replaces, remove, ids, filters,
            embedder_and_input_errors, reopen, reset, recall, distance_metrics, search_many
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __suite_cases {
    ($module:ident; $harness:expr; $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::block_on(async {
                match $harness.await {
                    Some(harness) => $crate::$module::$case(&harness).await,
                    None => $crate::skip(concat!("no server for ", stringify!($case))),
                }
            })
        }
    )*};
}
