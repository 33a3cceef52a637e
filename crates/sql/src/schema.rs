//! The one place that spells each table: its columns, how an entity becomes values to
//! bind ([`Record::cells`]) and how a row becomes an entity again ([`Record::decode`]).
//! Every statement on these tables is generated from it (see `statements.rs`).

use std::marker::PhantomData;

use aimdb_core::{
    Dataset, Entity, Experiment, ExperimentRunDetail, Identified, Metric, Model, ModelVersion, Prediction,
    Result, Timestamp, TrainingRun, TrainingRunId,
};
use serde_json::Value;

use crate::codec::{json_text, opt_json_text, parse_json};
use crate::dialect::{Dialect, Row};
use crate::error::corrupt;

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit integer.
    Int,
    /// Double.
    Real,
    /// Text.
    Text,
    /// JSON: text on SQLite and MySQL, `json` on PostgreSQL.
    Json,
    /// A UTC timestamp in microseconds, in each database's own type.
    Time,
}

/// One value to bind or just read. JSON travels as its text.
#[derive(Debug)]
pub enum Cell {
    /// An integer.
    Int(Option<i64>),
    /// A double.
    Real(Option<f64>),
    /// Text or JSON text.
    Text(Option<String>),
    /// A timestamp.
    Time(Option<Timestamp>),
}

/// A table whose rows are entities with an `id`.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    pub entity: Entity,
    /// Position in [`TABLES`] (and in the per-table statements).
    pub slot: usize,
    /// Every column, `id` first.
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::{Int, Json, Real, Text, Time};

#[rustfmt::skip]
pub(crate) const MODELS: Table = Table {
    name: "models", entity: Entity::Model, slot: 0,
    columns: &[
        ("id", Int), ("name", Text), ("description", Text), ("architecture", Text), ("framework", Text),
        ("task_type", Text), ("input_shape", Json), ("output_shape", Json), ("created_at", Time),
        ("updated_at", Time),
    ],
};
#[rustfmt::skip]
pub(crate) const MODEL_VERSIONS: Table = Table {
    name: "model_versions", entity: Entity::ModelVersion, slot: 1,
    columns: &[
        ("id", Int), ("model_id", Int), ("version", Text), ("checkpoint_path", Text), ("config", Json),
        ("status", Text), ("created_at", Time),
    ],
};
#[rustfmt::skip]
pub(crate) const DATASETS: Table = Table {
    name: "datasets", entity: Entity::Dataset, slot: 2,
    columns: &[
        ("id", Int), ("name", Text), ("description", Text), ("source_path", Text), ("format", Text),
        ("size_bytes", Int), ("num_samples", Int), ("split_info", Json), ("preprocessing", Json),
        ("created_at", Time),
    ],
};
#[rustfmt::skip]
pub(crate) const TRAINING_RUNS: Table = Table {
    name: "training_runs", entity: Entity::TrainingRun, slot: 3,
    columns: &[
        ("id", Int), ("model_version_id", Int), ("dataset_id", Int), ("run_name", Text), ("status", Text),
        ("started_at", Time), ("completed_at", Time), ("duration_seconds", Real), ("final_loss", Real),
        ("best_metric_value", Real), ("artifacts", Json),
    ],
};
#[rustfmt::skip]
pub(crate) const EXPERIMENTS: Table = Table {
    name: "experiments", entity: Entity::Experiment, slot: 4,
    columns: &[
        ("id", Int), ("name", Text), ("description", Text), ("hypothesis", Text), ("status", Text),
        ("created_at", Time), ("completed_at", Time), ("results", Json),
    ],
};
#[rustfmt::skip]
pub(crate) const PREDICTIONS: Table = Table {
    name: "predictions", entity: Entity::Prediction, slot: 5,
    columns: &[
        ("id", Int), ("model_version_id", Int), ("input_data", Json), ("output_data", Json),
        ("confidence", Real), ("inference_time_ms", Real), ("timestamp", Time), ("metadata", Json),
    ],
};

/// Every entity table, by slot.
pub(crate) const TABLES: [&Table; 6] =
    [&MODELS, &MODEL_VERSIONS, &DATASETS, &TRAINING_RUNS, &EXPERIMENTS, &PREDICTIONS];

/// The table that holds `entity` (only entities with an id have one).
pub(crate) fn table_of(entity: Entity) -> &'static Table {
    TABLES.into_iter().find(|t| t.entity == entity).unwrap_or_else(|| unreachable!("no table holds {entity}"))
}

/// The metrics table: no id of its own; read back without `training_run_id`.
#[rustfmt::skip]
pub(crate) const METRIC_COLUMNS: &[(&str, Kind)] = &[
    ("training_run_id", Int), ("metric_name", Text), ("metric_value", Real), ("epoch", Int), ("step", Int),
    ("split", Text), ("timestamp", Time),
];

/// The rows of an [`ExperimentRunDetail`]: the link and the run's outcome.
#[rustfmt::skip]
pub(crate) const EXPERIMENT_RUN_COLUMNS: &[(&str, Kind)] = &[
    ("er.experiment_id", Int), ("er.training_run_id", Int), ("er.variant_name", Text), ("er.notes", Text),
    ("tr.status", Text), ("tr.final_loss", Real), ("tr.best_metric_value", Real),
];

/// An entity stored as one row of its [`Table`].
pub(crate) trait Record: Identified + Sync {
    const TABLE: &'static Table;
    /// Gives a just-inserted record the id the database chose.
    fn with_id(self, id: i64) -> Self;
    /// The unique key an `AlreadyExists` names.
    fn key(&self) -> String {
        self.id().to_string()
    }
    /// Records that must exist first.
    fn parents(&self) -> Vec<(Entity, i64)> {
        Vec::new()
    }
    /// The values of [`Table::columns`], in order.
    fn cells(&self) -> Vec<Cell>;
    /// A row selected with [`Table::columns`].
    fn decode<D: Dialect>(row: &mut Cols<'_, D>) -> Result<Self>;
}

fn text(v: &str) -> Cell {
    Cell::Text(Some(v.to_owned()))
}
fn opt_text(v: Option<&String>) -> Cell {
    Cell::Text(v.cloned())
}
fn json(v: Option<&Value>) -> Cell {
    Cell::Text(opt_json_text(v))
}
fn time(v: Timestamp) -> Cell {
    Cell::Time(Some(v))
}

impl Record for Model {
    const TABLE: &'static Table = &MODELS;
    fn with_id(self, id: i64) -> Self {
        Model { id: id.into(), ..self }
    }
    fn key(&self) -> String {
        self.name.clone()
    }
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(Some(self.id.0)),
            text(&self.name),
            opt_text(self.description.as_ref()),
            opt_text(self.architecture.as_ref()),
            opt_text(self.framework.as_ref()),
            opt_text(self.task_type.as_ref()),
            json(self.input_shape.as_ref()),
            json(self.output_shape.as_ref()),
            time(self.created_at),
            time(self.updated_at),
        ]
    }
    fn decode<D: Dialect>(c: &mut Cols<'_, D>) -> Result<Self> {
        Ok(Model {
            id: c.int()?.into(),
            name: c.text()?,
            description: c.opt_text()?,
            architecture: c.opt_text()?,
            framework: c.opt_text()?,
            task_type: c.opt_text()?,
            input_shape: c.opt_json()?,
            output_shape: c.opt_json()?,
            created_at: c.time()?,
            updated_at: c.time()?,
        })
    }
}

impl Record for ModelVersion {
    const TABLE: &'static Table = &MODEL_VERSIONS;
    fn with_id(self, id: i64) -> Self {
        ModelVersion { id: id.into(), ..self }
    }
    fn key(&self) -> String {
        format!("{} of model {}", self.version, self.model_id)
    }
    fn parents(&self) -> Vec<(Entity, i64)> {
        vec![(Entity::Model, self.model_id.0)]
    }
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(Some(self.id.0)),
            Cell::Int(Some(self.model_id.0)),
            text(&self.version),
            opt_text(self.checkpoint_path.as_ref()),
            json(self.config.as_ref()),
            text(&self.status),
            time(self.created_at),
        ]
    }
    fn decode<D: Dialect>(c: &mut Cols<'_, D>) -> Result<Self> {
        Ok(ModelVersion {
            id: c.int()?.into(),
            model_id: c.int()?.into(),
            version: c.text()?,
            checkpoint_path: c.opt_text()?,
            config: c.opt_json()?,
            status: c.text()?,
            created_at: c.time()?,
        })
    }
}

impl Record for Dataset {
    const TABLE: &'static Table = &DATASETS;
    fn with_id(self, id: i64) -> Self {
        Dataset { id: id.into(), ..self }
    }
    fn key(&self) -> String {
        self.name.clone()
    }
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(Some(self.id.0)),
            text(&self.name),
            opt_text(self.description.as_ref()),
            opt_text(self.source_path.as_ref()),
            opt_text(self.format.as_ref()),
            Cell::Int(self.size_bytes),
            Cell::Int(self.num_samples),
            json(self.split_info.as_ref()),
            json(self.preprocessing.as_ref()),
            time(self.created_at),
        ]
    }
    fn decode<D: Dialect>(c: &mut Cols<'_, D>) -> Result<Self> {
        Ok(Dataset {
            id: c.int()?.into(),
            name: c.text()?,
            description: c.opt_text()?,
            source_path: c.opt_text()?,
            format: c.opt_text()?,
            size_bytes: c.opt_int()?,
            num_samples: c.opt_int()?,
            split_info: c.opt_json()?,
            preprocessing: c.opt_json()?,
            created_at: c.time()?,
        })
    }
}

impl Record for TrainingRun {
    const TABLE: &'static Table = &TRAINING_RUNS;
    fn with_id(self, id: i64) -> Self {
        TrainingRun { id: id.into(), ..self }
    }
    fn parents(&self) -> Vec<(Entity, i64)> {
        std::iter::once((Entity::ModelVersion, self.model_version_id.0))
            .chain(self.dataset_id.map(|d| (Entity::Dataset, d.0)))
            .collect()
    }
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(Some(self.id.0)),
            Cell::Int(Some(self.model_version_id.0)),
            Cell::Int(self.dataset_id.map(|d| d.0)),
            opt_text(self.run_name.as_ref()),
            text(&self.status),
            time(self.started_at),
            Cell::Time(self.completed_at),
            Cell::Real(self.duration_seconds),
            Cell::Real(self.final_loss),
            Cell::Real(self.best_metric_value),
            json(self.artifacts.as_ref()),
        ]
    }
    fn decode<D: Dialect>(c: &mut Cols<'_, D>) -> Result<Self> {
        Ok(TrainingRun {
            id: c.int()?.into(),
            model_version_id: c.int()?.into(),
            dataset_id: c.opt_int()?.map(Into::into),
            run_name: c.opt_text()?,
            status: c.text()?,
            started_at: c.time()?,
            completed_at: c.opt_time()?,
            duration_seconds: c.opt_real()?,
            final_loss: c.opt_real()?,
            best_metric_value: c.opt_real()?,
            artifacts: c.opt_json()?,
        })
    }
}

impl Record for Experiment {
    const TABLE: &'static Table = &EXPERIMENTS;
    fn with_id(self, id: i64) -> Self {
        Experiment { id: id.into(), ..self }
    }
    fn key(&self) -> String {
        self.name.clone()
    }
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(Some(self.id.0)),
            text(&self.name),
            opt_text(self.description.as_ref()),
            opt_text(self.hypothesis.as_ref()),
            text(&self.status),
            time(self.created_at),
            Cell::Time(self.completed_at),
            json(self.results.as_ref()),
        ]
    }
    fn decode<D: Dialect>(c: &mut Cols<'_, D>) -> Result<Self> {
        Ok(Experiment {
            id: c.int()?.into(),
            name: c.text()?,
            description: c.opt_text()?,
            hypothesis: c.opt_text()?,
            status: c.text()?,
            created_at: c.time()?,
            completed_at: c.opt_time()?,
            results: c.opt_json()?,
        })
    }
}

impl Record for Prediction {
    const TABLE: &'static Table = &PREDICTIONS;
    fn with_id(self, id: i64) -> Self {
        Prediction { id: id.into(), ..self }
    }
    fn parents(&self) -> Vec<(Entity, i64)> {
        vec![(Entity::ModelVersion, self.model_version_id.0)]
    }
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(Some(self.id.0)),
            Cell::Int(Some(self.model_version_id.0)),
            Cell::Text(Some(json_text(&self.input_data))),
            Cell::Text(Some(json_text(&self.output_data))),
            Cell::Real(self.confidence),
            Cell::Real(self.inference_time_ms),
            time(self.timestamp),
            json(self.metadata.as_ref()),
        ]
    }
    fn decode<D: Dialect>(c: &mut Cols<'_, D>) -> Result<Self> {
        Ok(Prediction {
            id: c.int()?.into(),
            model_version_id: c.int()?.into(),
            input_data: c.json()?,
            output_data: c.json()?,
            confidence: c.opt_real()?,
            inference_time_ms: c.opt_real()?,
            timestamp: c.time()?,
            metadata: c.opt_json()?,
        })
    }
}

/// The values of one metric row, in [`METRIC_COLUMNS`] order.
pub(crate) fn metric_cells(m: &Metric) -> [Cell; 7] {
    [
        Cell::Int(Some(m.training_run_id.0)),
        text(&m.metric_name),
        Cell::Real(Some(m.metric_value)),
        Cell::Int(m.epoch),
        Cell::Int(m.step),
        text(&m.split),
        time(m.timestamp),
    ]
}

/// A metric row selected with [`METRIC_COLUMNS`] less `training_run_id`.
pub(crate) fn decode_metric<D: Dialect>(run: TrainingRunId, c: &mut Cols<'_, D>) -> Result<Metric> {
    Ok(Metric {
        training_run_id: run,
        metric_name: c.text()?,
        metric_value: c.real()?,
        epoch: c.opt_int()?,
        step: c.opt_int()?,
        split: c.text()?,
        timestamp: c.time()?,
    })
}

/// A row selected with [`EXPERIMENT_RUN_COLUMNS`].
pub(crate) fn decode_experiment_run<D: Dialect>(c: &mut Cols<'_, D>) -> Result<ExperimentRunDetail> {
    Ok(ExperimentRunDetail {
        experiment_id: c.int()?.into(),
        training_run_id: c.int()?.into(),
        variant_name: c.opt_text()?,
        notes: c.opt_text()?,
        status: c.text()?,
        final_loss: c.opt_real()?,
        best_metric_value: c.opt_real()?,
    })
}

/// `opt_x` reads the next column as `Option<T>`, `x` as `T` (NULL is an error).
macro_rules! getters {
    ($($opt:ident, $req:ident: $kind:ident => $variant:ident($t:ty);)*) => {$(
        pub fn $opt(&mut self) -> Result<Option<$t>> {
            match self.next(Kind::$kind)? {
                Cell::$variant(v) => Ok(v),
                other => unreachable!("read {:?} as {other:?}", Kind::$kind),
            }
        }
        pub fn $req(&mut self) -> Result<$t> {
            self.$opt()?.ok_or_else(|| self.null())
        }
    )*};
}

/// Reads a row's columns left to right, naming the column in any decoding error.
pub(crate) struct Cols<'r, D: Dialect> {
    row: &'r Row<D>,
    names: &'static [(&'static str, Kind)],
    at: usize,
    dialect: PhantomData<D>,
}

impl<'r, D: Dialect> Cols<'r, D> {
    /// Reads `row`, whose columns are `names` (for messages; may be empty).
    pub fn new(row: &'r Row<D>, names: &'static [(&'static str, Kind)]) -> Self {
        Cols { row, names, at: 0, dialect: PhantomData }
    }

    fn name(&self, index: usize) -> String {
        self.names.get(index).map_or_else(|| format!("#{index}"), |(n, _)| (*n).to_owned())
    }

    fn next(&mut self, kind: Kind) -> Result<Cell> {
        let cell = D::read(self.row, self.at, kind).map_err(|e| corrupt(&self.name(self.at), e))?;
        self.at += 1;
        Ok(cell)
    }

    /// The error for a NULL in the column just read.
    fn null(&self) -> aimdb_core::Error {
        corrupt(&self.name(self.at - 1), "unexpected NULL")
    }

    getters! {
        opt_int, int: Int => Int(i64);
        opt_real, real: Real => Real(f64);
        opt_text, text: Text => Text(String);
        opt_time, time: Time => Time(Timestamp);
    }
    pub fn opt_json(&mut self) -> Result<Option<Value>> {
        let name = self.name(self.at);
        match self.next(Kind::Json)? {
            Cell::Text(v) => v.map(|t| parse_json(&name, &t)).transpose(),
            other => unreachable!("read Json as {other:?}"),
        }
    }
    pub fn json(&mut self) -> Result<Value> {
        self.opt_json()?.ok_or_else(|| self.null())
    }
}
