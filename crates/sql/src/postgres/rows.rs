//! Decoding PostgreSQL rows into entities, by position in the `*_columns!()` lists.
//! JSON columns are selected as text and parsed by serde_json, exactly as written.

use aimdb_core::{
    Dataset, Experiment, ExperimentRunDetail, Metric, Model, ModelVersion, Prediction, Result, TrainingRun,
    TrainingRunId,
};
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

use crate::codec::{parse_json, parse_opt_json};
use crate::error::corrupt;

macro_rules! pg_model_columns {
    () => {
        "id, name, description, architecture, framework, task_type, input_shape::text, \
         output_shape::text, created_at, updated_at"
    };
}
pub(crate) use pg_model_columns;
macro_rules! pg_version_columns {
    () => {
        "id, model_id, version, checkpoint_path, config::text, status, created_at"
    };
}
pub(crate) use pg_version_columns;
macro_rules! pg_dataset_columns {
    () => {
        "id, name, description, source_path, format, size_bytes, num_samples, split_info::text, \
         preprocessing::text, created_at"
    };
}
pub(crate) use pg_dataset_columns;
macro_rules! pg_run_columns {
    () => {
        "id, model_version_id, dataset_id, run_name, status, started_at, completed_at, \
         duration_seconds, final_loss, best_metric_value, artifacts::text"
    };
}
pub(crate) use pg_run_columns;
macro_rules! pg_metric_columns {
    () => {
        "metric_name, metric_value, epoch, step, split, timestamp"
    };
}
pub(crate) use pg_metric_columns;
macro_rules! pg_experiment_columns {
    () => {
        "id, name, description, hypothesis, status, created_at, completed_at, results::text"
    };
}
pub(crate) use pg_experiment_columns;
macro_rules! pg_prediction_columns {
    () => {
        "id, model_version_id, input_data::text, output_data::text, confidence, inference_time_ms, \
         timestamp, metadata::text"
    };
}
pub(crate) use pg_prediction_columns;

fn get<'r, T: Decode<'r, Postgres> + Type<Postgres>>(row: &'r PgRow, index: usize) -> Result<T> {
    row.try_get(index).map_err(|e| corrupt(&format!("#{index}"), e))
}

pub(crate) fn model(row: &PgRow) -> Result<Model> {
    Ok(Model {
        id: get::<i64>(row, 0)?.into(),
        name: get(row, 1)?,
        description: get(row, 2)?,
        architecture: get(row, 3)?,
        framework: get(row, 4)?,
        task_type: get(row, 5)?,
        input_shape: parse_opt_json("input_shape", get(row, 6)?)?,
        output_shape: parse_opt_json("output_shape", get(row, 7)?)?,
        created_at: get(row, 8)?,
        updated_at: get(row, 9)?,
    })
}

pub(crate) fn version(row: &PgRow) -> Result<ModelVersion> {
    Ok(ModelVersion {
        id: get::<i64>(row, 0)?.into(),
        model_id: get::<i64>(row, 1)?.into(),
        version: get(row, 2)?,
        checkpoint_path: get(row, 3)?,
        config: parse_opt_json("config", get(row, 4)?)?,
        status: get(row, 5)?,
        created_at: get(row, 6)?,
    })
}

pub(crate) fn dataset(row: &PgRow) -> Result<Dataset> {
    Ok(Dataset {
        id: get::<i64>(row, 0)?.into(),
        name: get(row, 1)?,
        description: get(row, 2)?,
        source_path: get(row, 3)?,
        format: get(row, 4)?,
        size_bytes: get(row, 5)?,
        num_samples: get(row, 6)?,
        split_info: parse_opt_json("split_info", get(row, 7)?)?,
        preprocessing: parse_opt_json("preprocessing", get(row, 8)?)?,
        created_at: get(row, 9)?,
    })
}

pub(crate) fn run(row: &PgRow) -> Result<TrainingRun> {
    Ok(TrainingRun {
        id: get::<i64>(row, 0)?.into(),
        model_version_id: get::<i64>(row, 1)?.into(),
        dataset_id: get::<Option<i64>>(row, 2)?.map(Into::into),
        run_name: get(row, 3)?,
        status: get(row, 4)?,
        started_at: get(row, 5)?,
        completed_at: get(row, 6)?,
        duration_seconds: get(row, 7)?,
        final_loss: get(row, 8)?,
        best_metric_value: get(row, 9)?,
        artifacts: parse_opt_json("artifacts", get(row, 10)?)?,
    })
}

pub(crate) fn metric(run: TrainingRunId, row: &PgRow) -> Result<Metric> {
    Ok(Metric {
        training_run_id: run,
        metric_name: get(row, 0)?,
        metric_value: get(row, 1)?,
        epoch: get(row, 2)?,
        step: get(row, 3)?,
        split: get(row, 4)?,
        timestamp: get(row, 5)?,
    })
}

pub(crate) fn experiment(row: &PgRow) -> Result<Experiment> {
    Ok(Experiment {
        id: get::<i64>(row, 0)?.into(),
        name: get(row, 1)?,
        description: get(row, 2)?,
        hypothesis: get(row, 3)?,
        status: get(row, 4)?,
        created_at: get(row, 5)?,
        completed_at: get(row, 6)?,
        results: parse_opt_json("results", get(row, 7)?)?,
    })
}

pub(crate) fn experiment_run(row: &PgRow) -> Result<ExperimentRunDetail> {
    Ok(ExperimentRunDetail {
        experiment_id: get::<i64>(row, 0)?.into(),
        training_run_id: get::<i64>(row, 1)?.into(),
        variant_name: get(row, 2)?,
        notes: get(row, 3)?,
        status: get(row, 4)?,
        final_loss: get(row, 5)?,
        best_metric_value: get(row, 6)?,
    })
}

pub(crate) fn prediction(row: &PgRow) -> Result<Prediction> {
    Ok(Prediction {
        id: get::<i64>(row, 0)?.into(),
        model_version_id: get::<i64>(row, 1)?.into(),
        input_data: parse_json("input_data", &get::<String>(row, 2)?)?,
        output_data: parse_json("output_data", &get::<String>(row, 3)?)?,
        confidence: get(row, 4)?,
        inference_time_ms: get(row, 5)?,
        timestamp: get(row, 6)?,
        metadata: parse_opt_json("metadata", get(row, 7)?)?,
    })
}
