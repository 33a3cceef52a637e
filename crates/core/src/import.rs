//! Records written as they are, ids and timestamps kept: what migration and restore need.
//!
//! Creating through the normal API gives fresh ids and the current time; a copy of
//! another database must keep both, or every reference and every "newest first" breaks.
//! Hyperparameters, metrics and experiment links carry no id of their own and are copied
//! through their normal API (metrics with their timestamps).

use crate::entity::{Dataset, Experiment, Model, ModelVersion, Prediction, TrainingRun};
use crate::error::{Entity, Error, Result};
use crate::request::{
    NewDataset, NewExperiment, NewModel, NewModelVersion, NewPrediction, NewTrainingRun, TrainingRunUpdate,
};

/// Records of one entity for [`MetadataStore::import`](crate::MetadataStore::import).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ImportBatch {
    /// Models.
    Models(Vec<Model>),
    /// Model versions (their models imported first).
    ModelVersions(Vec<ModelVersion>),
    /// Datasets.
    Datasets(Vec<Dataset>),
    /// Training runs (their versions and datasets imported first).
    TrainingRuns(Vec<TrainingRun>),
    /// Experiments.
    Experiments(Vec<Experiment>),
    /// Predictions (their versions imported first).
    Predictions(Vec<Prediction>),
}

impl ImportBatch {
    /// The entity the records are.
    pub fn entity(&self) -> Entity {
        match self {
            ImportBatch::Models(_) => Entity::Model,
            ImportBatch::ModelVersions(_) => Entity::ModelVersion,
            ImportBatch::Datasets(_) => Entity::Dataset,
            ImportBatch::TrainingRuns(_) => Entity::TrainingRun,
            ImportBatch::Experiments(_) => Entity::Experiment,
            ImportBatch::Predictions(_) => Entity::Prediction,
        }
    }

    /// The records' ids, in the order given.
    pub fn ids(&self) -> Vec<i64> {
        match self {
            ImportBatch::Models(v) => v.iter().map(|r| r.id.0).collect(),
            ImportBatch::ModelVersions(v) => v.iter().map(|r| r.id.0).collect(),
            ImportBatch::Datasets(v) => v.iter().map(|r| r.id.0).collect(),
            ImportBatch::TrainingRuns(v) => v.iter().map(|r| r.id.0).collect(),
            ImportBatch::Experiments(v) => v.iter().map(|r| r.id.0).collect(),
            ImportBatch::Predictions(v) => v.iter().map(|r| r.id.0).collect(),
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        match self {
            ImportBatch::Models(v) => v.len(),
            ImportBatch::ModelVersions(v) => v.len(),
            ImportBatch::Datasets(v) => v.len(),
            ImportBatch::TrainingRuns(v) => v.len(),
            ImportBatch::Experiments(v) => v.len(),
            ImportBatch::Predictions(v) => v.len(),
        }
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks every record as its create request would be checked, ids positive and
    /// unique within the batch; the error names the field and the record.
    pub fn validate(&self) -> Result<()> {
        let entity = self.entity();
        let mut seen = std::collections::HashSet::new();
        for id in self.ids() {
            if id <= 0 {
                return Err(Error::invalid("id", format!("{entity} ids are positive, got {id}")));
            }
            if !seen.insert(id) {
                return Err(Error::invalid("id", format!("{entity} {id} appears twice in one import")));
            }
        }
        let unique: Vec<(&str, String)> = match self {
            ImportBatch::Models(v) => v.iter().map(|m| ("name", m.name.clone())).collect(),
            ImportBatch::Datasets(v) => v.iter().map(|d| ("name", d.name.clone())).collect(),
            ImportBatch::Experiments(v) => v.iter().map(|x| ("name", x.name.clone())).collect(),
            ImportBatch::ModelVersions(v) => {
                v.iter().map(|m| ("version", format!("{} of model {}", m.version, m.model_id))).collect()
            }
            ImportBatch::TrainingRuns(_) | ImportBatch::Predictions(_) => Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for (field, key) in unique {
            if !seen.insert(key.clone()) {
                return Err(Error::invalid(field, format!("{entity} {key} appears twice in one import")));
            }
        }
        // The field named as `name of model 7`: the request types name only the field.
        let at = |id: i64| {
            move |e: Error| match e {
                Error::InvalidInput { field, reason } => {
                    Error::InvalidInput { field: format!("{field} of {entity} {id}"), reason }
                }
                other => other,
            }
        };
        match self {
            ImportBatch::Models(v) => v.iter().try_for_each(|m| {
                NewModel {
                    name: m.name.clone(),
                    description: m.description.clone(),
                    architecture: m.architecture.clone(),
                    framework: m.framework.clone(),
                    task_type: m.task_type.clone(),
                    input_shape: m.input_shape.clone(),
                    output_shape: m.output_shape.clone(),
                }
                .validate()
                .map_err(at(m.id.0))
            }),
            ImportBatch::ModelVersions(v) => v.iter().try_for_each(|m| {
                NewModelVersion {
                    model_id: m.model_id,
                    version: m.version.clone(),
                    checkpoint_path: m.checkpoint_path.clone(),
                    config: m.config.clone(),
                    status: Some(m.status.clone()),
                }
                .validate()
                .map_err(at(m.id.0))
            }),
            ImportBatch::Datasets(v) => v.iter().try_for_each(|d| {
                NewDataset {
                    name: d.name.clone(),
                    description: d.description.clone(),
                    source_path: d.source_path.clone(),
                    format: d.format.clone(),
                    size_bytes: d.size_bytes,
                    num_samples: d.num_samples,
                    split_info: d.split_info.clone(),
                    preprocessing: d.preprocessing.clone(),
                }
                .validate()
                .map_err(at(d.id.0))
            }),
            ImportBatch::TrainingRuns(v) => v.iter().try_for_each(|r| {
                NewTrainingRun {
                    model_version_id: r.model_version_id,
                    dataset_id: r.dataset_id,
                    run_name: r.run_name.clone(),
                    status: Some(r.status.clone()),
                    started_at: Some(r.started_at),
                    artifacts: r.artifacts.clone(),
                }
                .validate()
                .and_then(|()| {
                    TrainingRunUpdate {
                        model_version_id: None,
                        status: None,
                        completed_at: r.completed_at,
                        duration_seconds: r.duration_seconds,
                        final_loss: r.final_loss,
                        best_metric_value: r.best_metric_value,
                        artifacts: None,
                    }
                    .validate()
                })
                .map_err(at(r.id.0))
            }),
            ImportBatch::Experiments(v) => v.iter().try_for_each(|x| {
                NewExperiment {
                    name: x.name.clone(),
                    description: x.description.clone(),
                    hypothesis: x.hypothesis.clone(),
                    status: Some(x.status.clone()),
                    completed_at: x.completed_at,
                    results: x.results.clone(),
                }
                .validate()
                .map_err(at(x.id.0))
            }),
            ImportBatch::Predictions(v) => v.iter().try_for_each(|p| {
                NewPrediction {
                    model_version_id: p.model_version_id,
                    input_data: p.input_data.clone(),
                    output_data: p.output_data.clone(),
                    confidence: p.confidence,
                    inference_time_ms: p.inference_time_ms,
                    timestamp: Some(p.timestamp),
                    metadata: p.metadata.clone(),
                }
                .validate()
                .map_err(at(p.id.0))
            }),
        }
    }
}

/// A record with an id of its own, as imported.
pub trait Identified: Clone + Send + 'static {
    /// Which entity this is.
    const ENTITY: Entity;
    /// Its id.
    fn id(&self) -> i64;
}

macro_rules! record {
    ($($ty:ty => $entity:ident),* $(,)?) => {$(
        impl Identified for $ty {
            const ENTITY: Entity = Entity::$entity;
            fn id(&self) -> i64 {
                self.id.0
            }
        }
    )*};
}

record! {
    Model => Model,
    ModelVersion => ModelVersion,
    Dataset => Dataset,
    TrainingRun => TrainingRun,
    Experiment => Experiment,
    Prediction => Prediction,
}
