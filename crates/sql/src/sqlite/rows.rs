//! Decoding SQLite rows into entities. Columns are read by position, in the
//! order of the `*_columns!()` lists, which keeps the hot metric read cheap.

use aimdb_core::{
    Dataset, Experiment, ExperimentRunDetail, Model, ModelVersion, Prediction, Result, TrainingRun,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};

use crate::codec::{micros, opt_micros, parse_json, parse_opt_json};
use crate::error::corrupt;

fn get<'r, T: Decode<'r, Sqlite> + Type<Sqlite>>(row: &'r SqliteRow, index: usize) -> Result<T> {
    row.try_get(index).map_err(|e| corrupt(&format!("#{index}"), e))
}

pub(crate) fn model(row: &SqliteRow) -> Result<Model> {
    Ok(Model {
        id: get::<i64>(row, 0)?.into(),
        name: get(row, 1)?,
        description: get(row, 2)?,
        architecture: get(row, 3)?,
        framework: get(row, 4)?,
        task_type: get(row, 5)?,
        input_shape: parse_opt_json("input_shape", get(row, 6)?)?,
        output_shape: parse_opt_json("output_shape", get(row, 7)?)?,
        created_at: micros("created_at", get(row, 8)?)?,
        updated_at: micros("updated_at", get(row, 9)?)?,
    })
}

pub(crate) fn version(row: &SqliteRow) -> Result<ModelVersion> {
    Ok(ModelVersion {
        id: get::<i64>(row, 0)?.into(),
        model_id: get::<i64>(row, 1)?.into(),
        version: get(row, 2)?,
        checkpoint_path: get(row, 3)?,
        config: parse_opt_json("config", get(row, 4)?)?,
        status: get(row, 5)?,
        created_at: micros("created_at", get(row, 6)?)?,
    })
}

pub(crate) fn dataset(row: &SqliteRow) -> Result<Dataset> {
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
        created_at: micros("created_at", get(row, 9)?)?,
    })
}

pub(crate) fn run(row: &SqliteRow) -> Result<TrainingRun> {
    Ok(TrainingRun {
        id: get::<i64>(row, 0)?.into(),
        model_version_id: get::<i64>(row, 1)?.into(),
        dataset_id: get::<Option<i64>>(row, 2)?.map(Into::into),
        run_name: get(row, 3)?,
        status: get(row, 4)?,
        started_at: micros("started_at", get(row, 5)?)?,
        completed_at: opt_micros("completed_at", get(row, 6)?)?,
        duration_seconds: get(row, 7)?,
        final_loss: get(row, 8)?,
        best_metric_value: get(row, 9)?,
        artifacts: parse_opt_json("artifacts", get(row, 10)?)?,
    })
}

pub(crate) fn experiment(row: &SqliteRow) -> Result<Experiment> {
    Ok(Experiment {
        id: get::<i64>(row, 0)?.into(),
        name: get(row, 1)?,
        description: get(row, 2)?,
        hypothesis: get(row, 3)?,
        status: get(row, 4)?,
        created_at: micros("created_at", get(row, 5)?)?,
        completed_at: opt_micros("completed_at", get(row, 6)?)?,
        results: parse_opt_json("results", get(row, 7)?)?,
    })
}

pub(crate) fn experiment_run(row: &SqliteRow) -> Result<ExperimentRunDetail> {
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

pub(crate) fn prediction(row: &SqliteRow) -> Result<Prediction> {
    Ok(Prediction {
        id: get::<i64>(row, 0)?.into(),
        model_version_id: get::<i64>(row, 1)?.into(),
        input_data: parse_json("input_data", &get::<String>(row, 2)?)?,
        output_data: parse_json("output_data", &get::<String>(row, 3)?)?,
        confidence: get(row, 4)?,
        inference_time_ms: get(row, 5)?,
        timestamp: micros("timestamp", get(row, 6)?)?,
        metadata: parse_opt_json("metadata", get(row, 7)?)?,
    })
}
