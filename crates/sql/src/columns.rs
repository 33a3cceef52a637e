//! Column lists for SQL stores that keep JSON as text (SQLite, MySQL), in the order
//! each `rows.rs` decodes them. Macros, so that `concat!` builds `&'static str` queries.
#![allow(unused_macros)]

macro_rules! model_columns {
    () => {
        "id, name, description, architecture, framework, task_type, \
     input_shape, output_shape, created_at, updated_at"
    };
}
macro_rules! version_columns {
    () => {
        "id, model_id, version, checkpoint_path, config, status, created_at"
    };
}
macro_rules! dataset_columns {
    () => {
        "id, name, description, source_path, format, size_bytes, \
     num_samples, split_info, preprocessing, created_at"
    };
}
macro_rules! run_columns {
    () => {
        "id, model_version_id, dataset_id, run_name, status, started_at, \
     completed_at, duration_seconds, final_loss, best_metric_value, artifacts"
    };
}
macro_rules! metric_columns {
    () => {
        "metric_name, metric_value, epoch, step, split, timestamp"
    };
}
macro_rules! experiment_columns {
    () => {
        "id, name, description, hypothesis, status, created_at, completed_at, results"
    };
}
macro_rules! prediction_columns {
    () => {
        "id, model_version_id, input_data, output_data, \
     confidence, inference_time_ms, timestamp, metadata"
    };
}
