//! Key names. Everything lives under `NAMESPACE:`; records are hashes at `NS:entity:ID`.

use aimdb_core::Entity;

#[derive(Clone, Debug)]
pub(crate) struct Keys {
    ns: String,
}

impl Keys {
    pub fn new(ns: &str) -> Self {
        Keys { ns: ns.to_owned() }
    }

    /// `INCR` counter giving the entity's next id.
    pub fn seq(&self, e: Entity) -> String {
        format!("{}:seq:{e}", self.ns)
    }
    /// Prefix of the entity's records; the id is appended.
    pub fn record_prefix(&self, e: Entity) -> String {
        format!("{}:{e}:", self.ns)
    }
    /// One record (a hash of JSON-encoded fields).
    pub fn record(&self, e: Entity, id: i64) -> String {
        format!("{}:{e}:{id}", self.ns)
    }
    /// Sorted set of every id (score = id): paging and counts.
    pub fn ids(&self, e: Entity) -> String {
        format!("{}:{e}:ids", self.ns)
    }
    /// Hash of unique name to id.
    pub fn names(&self, e: Entity) -> String {
        format!("{}:{e}:names", self.ns)
    }
    /// A model's versions (score = id).
    pub fn versions(&self, model: i64) -> String {
        format!("{}:model:{model}:versions", self.ns)
    }
    /// A model's version strings to ids.
    pub fn version_names(&self, model: i64) -> String {
        format!("{}:model:{model}:version_names", self.ns)
    }
    /// A record's tags (name to value).
    pub fn tags(&self, e: Entity, id: i64) -> String {
        format!("{}:{e}:{id}:tags", self.ns)
    }
    /// A run's hyperparameters (name to JSON value).
    pub fn params(&self, run: i64) -> String {
        format!("{}:training_run:{run}:params", self.ns)
    }
    /// A run's metrics in logging order (JSON each).
    pub fn metrics(&self, run: i64) -> String {
        format!("{}:training_run:{run}:metrics", self.ns)
    }
    /// An experiment's run links in order (JSON each).
    pub fn experiment_runs(&self, experiment: i64) -> String {
        format!("{}:experiment:{experiment}:runs", self.ns)
    }
    /// The training run ids linked to an experiment (uniqueness).
    pub fn experiment_run_ids(&self, experiment: i64) -> String {
        format!("{}:experiment:{experiment}:run_ids", self.ns)
    }
    /// A model version's predictions (score = id).
    pub fn version_predictions(&self, version: i64) -> String {
        format!("{}:model_version:{version}:predictions", self.ns)
    }
    /// Ids of completed runs.
    pub fn completed_runs(&self) -> String {
        format!("{}:completed_runs", self.ns)
    }
    /// Count of rows that have no id of their own (metrics, hyperparameters, experiment runs).
    pub fn count(&self, e: Entity) -> String {
        format!("{}:count:{e}", self.ns)
    }
}
