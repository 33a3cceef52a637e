//! Tags: free key/value text on models, model versions, training runs and experiments
//! (what MLflow calls tags, and what teams filter runs by).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Entity, Result};
use crate::ids::{ExperimentId, ModelId, ModelVersionId, TrainingRunId};
use crate::validate;

/// Longest tag value, in characters: MLflow's limit, so whatever its client sends fits.
pub const MAX_TAG_VALUE_CHARS: usize = 8_000;

/// The record a tag belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "entity", content = "id")]
pub enum TagTarget {
    /// A model.
    Model(ModelId),
    /// A model version.
    ModelVersion(ModelVersionId),
    /// A training run.
    TrainingRun(TrainingRunId),
    /// An experiment.
    Experiment(ExperimentId),
}

impl TagTarget {
    /// The kind of record.
    pub fn entity(self) -> Entity {
        match self {
            TagTarget::Model(_) => Entity::Model,
            TagTarget::ModelVersion(_) => Entity::ModelVersion,
            TagTarget::TrainingRun(_) => Entity::TrainingRun,
            TagTarget::Experiment(_) => Entity::Experiment,
        }
    }

    /// The record's id.
    pub fn id(self) -> i64 {
        match self {
            TagTarget::Model(id) => id.0,
            TagTarget::ModelVersion(id) => id.0,
            TagTarget::TrainingRun(id) => id.0,
            TagTarget::Experiment(id) => id.0,
        }
    }

    /// The target of kind `entity` with `id`; `None` for kinds that take no tags.
    pub fn of(entity: Entity, id: i64) -> Option<Self> {
        Some(match entity {
            Entity::Model => TagTarget::Model(ModelId(id)),
            Entity::ModelVersion => TagTarget::ModelVersion(ModelVersionId(id)),
            Entity::TrainingRun => TagTarget::TrainingRun(TrainingRunId(id)),
            Entity::Experiment => TagTarget::Experiment(ExperimentId(id)),
            _ => return None,
        })
    }
}

impl fmt::Display for TagTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.entity(), self.id())
    }
}

/// Checks tag keys (names: not blank, at most 255 characters) and values (text of at most
/// [`MAX_TAG_VALUE_CHARS`]), naming the failing one as `tags.KEY`.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    tags.iter().try_for_each(|(key, value)| {
        validate::name("tags.key", key)?;
        let field = || format!("tags.{key}");
        validate::text(&field(), value)?;
        if value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(crate::Error::invalid(
                field(),
                format!("longer than {MAX_TAG_VALUE_CHARS} characters"),
            ));
        }
        Ok(())
    })
}
