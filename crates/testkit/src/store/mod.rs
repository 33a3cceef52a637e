//! The metadata store conformance cases. Each takes a harness over fresh data.

mod catalog;
mod import;
mod props;
mod robustness;
mod runs;
mod usage;

pub use catalog::{
    case_sensitive_names, datasets, duplicate_names, invalid_input_names_field, model_not_found,
    model_round_trip, model_versions, pagination, read_by_ids,
};
pub use import::{import_is_all_or_nothing, import_keeps_ids};
pub use props::proptest_round_trips;
pub use robustness::{concurrent_writers, large_json, reopen, statistics, unicode};
pub use runs::{
    experiments, hyperparameters, metric_batch_is_atomic, metrics, non_finite_values_rejected,
    partial_update, run_summaries, run_without_version, tags, training_runs,
};
pub use usage::{prediction_batch_is_atomic, predictions};

use std::sync::Arc;

use aimdb_core::{MetadataStore, ModelVersion, NewModel, NewModelVersion, NewTrainingRun, TrainingRun};

/// A model `name` with one version `1.0` and one training run of it.
pub(crate) async fn model_with_run(
    store: &Arc<dyn MetadataStore>,
    name: &str,
) -> (ModelVersion, TrainingRun) {
    let model = store.create_model(NewModel::new(name)).await.expect("create model");
    let version =
        store.create_model_version(NewModelVersion::new(model.id, "1.0")).await.expect("create version");
    let run = store.create_training_run(NewTrainingRun::new(version.id)).await.expect("create run");
    (version, run)
}
