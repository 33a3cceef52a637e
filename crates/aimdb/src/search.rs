//! Semantic search types and what each entity contributes to the index.

use std::collections::BTreeMap;

use aimdb_core::{Dataset, Model, ModelVersionId, Prediction, VectorFilter, VectorRecord};
use serde::Serialize;

/// One search result: the entity and how similar it is to the query.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SearchHit<T> {
    /// The entity, read from the metadata store.
    #[serde(flatten)]
    pub item: T,
    /// `(1 + cosine) / 2`, in `[0, 1]`, higher is more similar; the same on every index.
    pub similarity_score: f32,
}

/// Restricts [`search_similar_models`](crate::AiDatabase::search_similar_models) to models
/// whose fields equal the given values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelFilter {
    /// Required framework, e.g. `pytorch`.
    pub framework: Option<String>,
    /// Required architecture, e.g. `ResNet-50`.
    pub architecture: Option<String>,
    /// Required task type, e.g. `image_classification`.
    pub task_type: Option<String>,
}

impl ModelFilter {
    /// Only models of this framework.
    #[must_use]
    pub fn with_framework(mut self, framework: impl Into<String>) -> Self {
        self.framework = Some(framework.into());
        self
    }
    /// Only models of this architecture.
    #[must_use]
    pub fn with_architecture(mut self, architecture: impl Into<String>) -> Self {
        self.architecture = Some(architecture.into());
        self
    }
    /// Only models of this task type.
    #[must_use]
    pub fn with_task_type(mut self, task_type: impl Into<String>) -> Self {
        self.task_type = Some(task_type.into());
        self
    }
}

/// Restricts dataset search to one format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatasetFilter {
    /// Required format, e.g. `parquet`.
    pub format: Option<String>,
}

impl DatasetFilter {
    /// Only datasets of this format.
    #[must_use]
    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }
}

/// Restricts prediction search to one model version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PredictionFilter {
    /// Required model version.
    pub model_version_id: Option<ModelVersionId>,
}

impl PredictionFilter {
    /// Only predictions of this model version.
    #[must_use]
    pub fn with_model_version(mut self, id: ModelVersionId) -> Self {
        self.model_version_id = Some(id);
        self
    }
}

fn equals<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<String>)>) -> BTreeMap<String, String> {
    pairs.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect()
}

impl From<&ModelFilter> for VectorFilter {
    fn from(f: &ModelFilter) -> Self {
        VectorFilter {
            equals: equals([
                ("framework", f.framework.clone()),
                ("architecture", f.architecture.clone()),
                ("task_type", f.task_type.clone()),
            ]),
        }
    }
}

impl From<&DatasetFilter> for VectorFilter {
    fn from(f: &DatasetFilter) -> Self {
        VectorFilter { equals: equals([("format", f.format.clone())]) }
    }
}

impl From<&PredictionFilter> for VectorFilter {
    fn from(f: &PredictionFilter) -> Self {
        VectorFilter { equals: equals([("model_version_id", f.model_version_id.map(|id| id.to_string()))]) }
    }
}

/// An entity that is embedded and searched.
pub(crate) trait Searchable {
    /// The entity id.
    fn id(&self) -> i64;
    /// The text that is embedded.
    fn text(&self) -> String;
    /// The fields filters run on.
    fn metadata(&self) -> BTreeMap<String, String>;

    fn record(&self, vector: Vec<f32>) -> VectorRecord {
        VectorRecord { id: self.id(), vector, metadata: self.metadata() }
    }
}

fn join(parts: &[Option<&str>]) -> String {
    parts.iter().flatten().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

impl Searchable for Model {
    fn id(&self) -> i64 {
        self.id.get()
    }
    // The seed's text: name, description, architecture, framework, task type.
    fn text(&self) -> String {
        join(&[
            Some(&self.name),
            self.description.as_deref(),
            self.architecture.as_deref(),
            self.framework.as_deref(),
            self.task_type.as_deref(),
        ])
    }
    fn metadata(&self) -> BTreeMap<String, String> {
        equals([
            ("framework", self.framework.clone()),
            ("architecture", self.architecture.clone()),
            ("task_type", self.task_type.clone()),
        ])
    }
}

impl Searchable for Dataset {
    fn id(&self) -> i64 {
        self.id.get()
    }
    fn text(&self) -> String {
        join(&[Some(&self.name), self.description.as_deref(), self.format.as_deref()])
    }
    fn metadata(&self) -> BTreeMap<String, String> {
        equals([("format", self.format.clone())])
    }
}

impl Searchable for Prediction {
    fn id(&self) -> i64 {
        self.id.get()
    }
    fn text(&self) -> String {
        format!("input: {} output: {}", self.input_data, self.output_data)
    }
    fn metadata(&self) -> BTreeMap<String, String> {
        equals([("model_version_id", Some(self.model_version_id.to_string()))])
    }
}
