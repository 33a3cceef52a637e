//! Experiments, runs, params, metrics and tags: MLflow's tracking service.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aimdb::{
    AiDatabase, Error, Experiment, ExperimentId, MetadataStore, Metric, NewExperiment, NewExperimentRun,
    NewMetric, NewTrainingRun, Page, RunSummary, TagTarget, TrainingRun, TrainingRunId, TrainingRunUpdate,
};
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::filter::{self, Field, Scope, Subject};
use super::wire::{self, DEFAULT_EXPERIMENT, EXPERIMENT_TAG, KeyValue, NOTE_TAG, RUN_NAME_TAG, USER_TAG};
use super::{Message, MlflowError, MlflowResult, Search, at, lenient, ok, page};
use crate::routes::AppState;

/// MLflow's `log-batch` limits.
const MAX_BATCH_METRICS: usize = 1000;
const MAX_BATCH_PARAMS: usize = 100;
const MAX_BATCH_TAGS: usize = 100;
/// MLflow's limit on a param value.
const MAX_PARAM_VALUE_CHARS: usize = 6000;
/// `runs/search` answers at most this many runs per page (MLflow's limit).
const MAX_SEARCH_RESULTS: usize = 50_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&at("experiments/get-by-name"), get(experiment_by_name))
        .route(&at("experiments/create"), post(create_experiment))
        .route(&at("experiments/get"), get(get_experiment))
        .route(&at("experiments/search"), post(search_experiments).get(search_experiments))
        .route(&at("experiments/set-experiment-tag"), post(set_experiment_tag))
        .route(&at("experiments/delete"), post(delete_experiment))
        .route(&at("experiments/restore"), post(restore_experiment))
        .route(&at("runs/create"), post(create_run))
        .route(&at("runs/get"), get(get_run))
        .route(&at("runs/update"), post(update_run))
        .route(&at("runs/delete"), post(delete_run))
        .route(&at("runs/restore"), post(restore_run))
        .route(&at("runs/set-tag"), post(set_tag))
        .route(&at("runs/delete-tag"), post(delete_tag))
        .route(&at("runs/log-parameter"), post(log_param))
        .route(&at("runs/log-metric"), post(log_metric))
        .route(&at("runs/log-batch"), post(log_batch))
        .route(&at("runs/search"), post(search_runs))
        .route(&at("metrics/get-history"), get(metric_history))
}

// ---- experiments ----

async fn all_experiments(db: &AiDatabase) -> Result<Vec<Experiment>, MlflowError> {
    Ok(db.list_experiments(Page::all()).await?)
}

/// The experiment an MLflow id names; `"0"` is `Default`, made on first use.
async fn experiment(db: &AiDatabase, id: &str) -> Result<Experiment, MlflowError> {
    if id == "0" {
        if let Some(found) = all_experiments(db).await?.into_iter().find(|e| e.name == DEFAULT_EXPERIMENT) {
            return Ok(found);
        }
        return match db.create_experiment(NewExperiment::new(DEFAULT_EXPERIMENT)).await {
            // Another request made it first.
            Err(Error::AlreadyExists { .. }) => Box::pin(experiment(db, id)).await,
            other => Ok(other?),
        };
    }
    let number =
        id.parse::<i64>().map_err(|_| MlflowError::missing(format!("no experiment with id {id:?}")))?;
    db.get_experiment(ExperimentId(number)).await.map_err(|e| match e {
        Error::NotFound { .. } => MlflowError::missing(format!("no experiment with id {id:?}")),
        other => other.into(),
    })
}

async fn experiment_json(db: &AiDatabase, experiment: &Experiment) -> Result<Value, MlflowError> {
    let tags = db.get_tags(TagTarget::Experiment(experiment.id)).await?;
    Ok(wire::experiment(experiment, &tags))
}

#[derive(Deserialize)]
struct ByName {
    experiment_name: String,
}

async fn experiment_by_name(State(s): State<AppState>, Message(q): Message<ByName>) -> MlflowResult {
    let found = all_experiments(&s.db).await?.into_iter().find(|e| e.name == q.experiment_name);
    let Some(found) = found else {
        return Err(MlflowError::missing(format!(
            "Could not find experiment with name '{}'",
            q.experiment_name
        )));
    };
    ok(json!({ "experiment": experiment_json(&s.db, &found).await? }))
}

#[derive(Deserialize)]
struct CreateExperiment {
    name: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_experiment(State(s): State<AppState>, Message(q): Message<CreateExperiment>) -> MlflowResult {
    if q.name.trim().is_empty() {
        return Err(MlflowError::invalid("experiment name must not be empty"));
    }
    if all_experiments(&s.db).await?.iter().any(|e| e.name == q.name) {
        return Err(MlflowError::exists(format!("Experiment '{}' already exists.", q.name)));
    }
    let tags = wire::tag_map(q.tags)?;
    let mut new = NewExperiment::new(q.name);
    if let Some(note) = tags.get(NOTE_TAG) {
        new = new.with_description(note.clone());
    }
    let created = s.db.create_experiment(new).await?;
    if !tags.is_empty() {
        s.db.set_tags(TagTarget::Experiment(created.id), tags).await?;
    }
    ok(json!({ "experiment_id": wire::experiment_id(&created) }))
}

#[derive(Deserialize)]
struct ExperimentRef {
    experiment_id: String,
}

async fn get_experiment(State(s): State<AppState>, Message(q): Message<ExperimentRef>) -> MlflowResult {
    let found = experiment(&s.db, &q.experiment_id).await?;
    ok(json!({ "experiment": experiment_json(&s.db, &found).await? }))
}

struct ExperimentRow {
    experiment: Experiment,
    tags: BTreeMap<String, String>,
}

impl Subject for ExperimentRow {
    fn field(&self, scope: Scope, key: &str) -> Option<Field<'_>> {
        match (scope, key) {
            (Scope::Tag, key) => self.tags.get(key).map(|v| Field::Str(Cow::Borrowed(v))),
            (Scope::Attribute, "name") => Some(Field::Str(Cow::Borrowed(&self.experiment.name))),
            (Scope::Attribute, "experiment_id") => {
                Some(Field::Str(Cow::Owned(wire::experiment_id(&self.experiment))))
            }
            (Scope::Attribute, "creation_time" | "last_update_time") => {
                Some(Field::Num(wire::millis(self.experiment.created_at) as f64))
            }
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct SearchExperiments {
    #[serde(default)]
    view_type: Option<String>,
    #[serde(flatten)]
    search: Search,
}

async fn search_experiments(
    State(s): State<AppState>,
    Message(q): Message<SearchExperiments>,
) -> MlflowResult {
    let (view, q) = (q.view_type, q.search);
    let clauses = filter::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut order = filter::parse_order(&q.order_by)?;
    if order.is_empty() {
        order = filter::parse_order(&["creation_time DESC".to_owned(), "experiment_id ASC".to_owned()])?;
    }
    let mut rows = Vec::new();
    for experiment in all_experiments(&s.db).await? {
        let tags = s.db.get_tags(TagTarget::Experiment(experiment.id)).await?;
        let row = ExperimentRow { experiment, tags };
        if in_view(view.as_deref(), wire::deleted(&row.tags)) && filter::matches(&clauses, &row) {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| filter::order_cmp(&order, a, b));
    let max = max_results(q.max_results, 1000)?;
    let (rows, next) = page(rows, max, q.page_token.as_deref())?;
    let experiments: Vec<Value> = rows.iter().map(|r| wire::experiment(&r.experiment, &r.tags)).collect();
    ok(json!({ "experiments": experiments, "next_page_token": next }))
}

#[derive(Deserialize)]
struct ExperimentTag {
    experiment_id: String,
    key: String,
    #[serde(default)]
    value: String,
}

async fn set_experiment_tag(State(s): State<AppState>, Message(q): Message<ExperimentTag>) -> MlflowResult {
    wire::check_not_internal(&q.key)?;
    let found = experiment(&s.db, &q.experiment_id).await?;
    s.db.set_tags(TagTarget::Experiment(found.id), [(q.key, q.value)].into()).await?;
    ok(json!({}))
}

/// Whether a record, deleted or not, is in MLflow's `ViewType` (`ACTIVE_ONLY` by default).
fn in_view(view: Option<&str>, deleted: bool) -> bool {
    match view.unwrap_or("ACTIVE_ONLY") {
        "DELETED_ONLY" => deleted,
        "ALL" => true,
        _ => !deleted,
    }
}

/// MLflow's soft delete: the experiment and its runs are marked deleted, kept, and hidden
/// from searches unless asked for.
async fn delete_experiment(State(s): State<AppState>, Message(q): Message<ExperimentRef>) -> MlflowResult {
    if q.experiment_id == "0" {
        return Err(MlflowError::invalid(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
        ));
    }
    let found = experiment(&s.db, &q.experiment_id).await?;
    for link in s.db.get_experiment_runs(found.id).await? {
        wire::soft_delete(&s.db, TagTarget::TrainingRun(link.training_run_id)).await?;
    }
    // Last: a delete cut short leaves the experiment visible, to be deleted again.
    wire::soft_delete(&s.db, TagTarget::Experiment(found.id)).await?;
    ok(json!({}))
}

/// Undoes [`delete_experiment`], its runs included (as MLflow does).
async fn restore_experiment(State(s): State<AppState>, Message(q): Message<ExperimentRef>) -> MlflowResult {
    let found = experiment(&s.db, &q.experiment_id).await?;
    for link in s.db.get_experiment_runs(found.id).await? {
        wire::restore(&s.db, TagTarget::TrainingRun(link.training_run_id)).await?;
    }
    wire::restore(&s.db, TagTarget::Experiment(found.id)).await?;
    ok(json!({}))
}

fn max_results(given: Option<i64>, default: usize) -> Result<usize, MlflowError> {
    match given {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= MAX_SEARCH_RESULTS => Ok(n as usize),
        Some(n) => Err(MlflowError::invalid(format!("max_results {n} is not in 1..={MAX_SEARCH_RESULTS}"))),
    }
}

// ---- runs ----

/// A run with everything MLflow answers about it.
pub(super) struct RunView {
    run: TrainingRun,
    tags: BTreeMap<String, String>,
    params: BTreeMap<String, String>,
    /// The latest point of each metric ([`RunSummary::latest_points`]: MLflow's rule).
    latest: BTreeMap<String, Metric>,
}

/// The training run an MLflow run id names.
pub(super) fn run_id(id: &str) -> Result<TrainingRunId, MlflowError> {
    id.parse::<i64>()
        .map(TrainingRunId)
        .map_err(|_| MlflowError::missing(format!("Run with id={id} not found")))
}

/// MLflow's 404 for a missing run; other store errors as they are.
fn run_error(id: TrainingRunId) -> impl FnOnce(Error) -> MlflowError {
    move |e| match e {
        Error::NotFound { .. } => MlflowError::missing(format!("Run with id={} not found", id.0)),
        other => other.into(),
    }
}

/// Writes go to active runs only, as in MLflow.
fn check_active(id: TrainingRunId, tags: &BTreeMap<String, String>) -> Result<(), MlflowError> {
    if wire::deleted(tags) {
        return Err(MlflowError::invalid(format!(
            "The run {} must be in the 'active' state. Current state is deleted.",
            id.0
        )));
    }
    Ok(())
}

impl RunView {
    fn of(summary: RunSummary) -> RunView {
        let params = summary.hyperparameters.iter().map(|(k, v)| (k.clone(), wire::param_text(v))).collect();
        RunView { run: summary.run, tags: summary.tags, params, latest: summary.latest_metrics }
    }

    async fn load(db: &AiDatabase, id: TrainingRunId) -> Result<RunView, MlflowError> {
        let found = db.get_run_summaries(&[id]).await?.pop();
        found.map(RunView::of).ok_or_else(|| MlflowError::missing(format!("Run with id={} not found", id.0)))
    }

    pub(super) fn id(&self) -> TrainingRunId {
        self.run.id
    }

    pub(super) fn model_version(&self) -> Option<aimdb::ModelVersionId> {
        self.run.model_version_id
    }

    fn deleted(&self) -> bool {
        wire::deleted(&self.tags)
    }

    fn experiment_id(&self) -> &str {
        self.tags.get(EXPERIMENT_TAG).map_or("0", String::as_str)
    }

    fn status(&self) -> &'static str {
        wire::run_status(&self.run.status, self.run.completed_at.is_some())
    }

    fn name(&self) -> &str {
        self.run.run_name.as_deref().or(self.tags.get(RUN_NAME_TAG).map(String::as_str)).unwrap_or("")
    }

    fn info(&self) -> RunInfo<'_> {
        let id = self.run.id.0.to_string();
        RunInfo {
            run_uuid: id.clone(),
            run_name: self.name(),
            experiment_id: self.experiment_id(),
            user_id: self.tags.get(USER_TAG).map_or("", String::as_str),
            status: self.status(),
            start_time: wire::millis(self.run.started_at),
            end_time: self.run.completed_at.map(wire::millis),
            artifact_uri: format!("mlflow-artifacts:/{}/{id}/artifacts", self.experiment_id()),
            lifecycle_stage: if self.deleted() { "deleted" } else { "active" },
            run_id: id,
        }
    }

    /// The run in MLflow's form, serialized straight from the view: a search answering
    /// hundreds of runs builds no JSON tree.
    fn wire(&self) -> RunWire<'_> {
        RunWire {
            info: self.info(),
            data: RunData {
                metrics: self.latest.values().map(Into::into).collect(),
                params: self.params.iter().map(wire::Pair::of).collect(),
                tags: wire::tag_list(&self.tags),
            },
            inputs: Empty {},
        }
    }
}

/// MLflow's `RunInfo`.
#[derive(serde::Serialize)]
struct RunInfo<'a> {
    run_id: String,
    run_uuid: String,
    run_name: &'a str,
    experiment_id: &'a str,
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: &'static str,
}

/// MLflow's `RunData`: latest metric points, params, tags.
#[derive(serde::Serialize)]
struct RunData<'a> {
    metrics: Vec<wire::MetricPoint<'a>>,
    params: Vec<wire::Pair<'a>>,
    tags: Vec<wire::Pair<'a>>,
}

/// MLflow's `Run`; `inputs` (datasets logged with the run) is always empty here.
#[derive(serde::Serialize)]
struct RunWire<'a> {
    info: RunInfo<'a>,
    data: RunData<'a>,
    inputs: Empty,
}

#[derive(serde::Serialize)]
struct Empty {}

impl Subject for RunView {
    fn field(&self, scope: Scope, key: &str) -> Option<Field<'_>> {
        let text = |s: &str| Some(Field::Str(Cow::Owned(s.to_owned())));
        match scope {
            Scope::Metric => self.latest.get(key).map(|m| Field::Num(m.metric_value)),
            Scope::Param => self.params.get(key).map(|v| Field::Str(Cow::Borrowed(v))),
            Scope::Tag => {
                if key.starts_with(super::INTERNAL_TAG_PREFIX) {
                    return None;
                }
                self.tags.get(key).map(|v| Field::Str(Cow::Borrowed(v)))
            }
            Scope::Attribute => match key {
                "run_id" | "run_uuid" => text(&self.run.id.0.to_string()),
                "run_name" => text(self.name()),
                "status" => text(self.status()),
                "user_id" => self.tags.get(USER_TAG).map(|v| Field::Str(Cow::Borrowed(v))),
                "experiment_id" => text(self.experiment_id()),
                "lifecycle_stage" => text(if self.deleted() { "deleted" } else { "active" }),
                "start_time" | "created" | "Created" => {
                    Some(Field::Num(wire::millis(self.run.started_at) as f64))
                }
                "end_time" => self.run.completed_at.map(|t| Field::Num(wire::millis(t) as f64)),
                _ => None,
            },
        }
    }
}

/// The run a write names, checked active.
async fn active_run(db: &AiDatabase, id: &RunRef) -> Result<TrainingRunId, MlflowError> {
    let run = run_id(id.id()?)?;
    let tags = db.get_tags(TagTarget::TrainingRun(run)).await.map_err(run_error(run))?;
    check_active(run, &tags)?;
    Ok(run)
}

/// `run_id`, or the older `run_uuid` the client still sends beside it.
#[derive(Deserialize)]
struct RunRef {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
}

impl RunRef {
    fn id(&self) -> Result<&str, MlflowError> {
        self.run_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.run_uuid.as_deref().filter(|s| !s.is_empty()))
            .ok_or_else(|| MlflowError::invalid("Missing value for required parameter 'run_id'"))
    }
}

/// Names MLflow would give: two words and a number, from the time.
fn generated_name() -> String {
    const FIRST: [&str; 8] = ["bright", "calm", "eager", "gentle", "keen", "lucid", "quiet", "swift"];
    const SECOND: [&str; 8] = ["otter", "heron", "lynx", "finch", "badger", "crane", "fox", "seal"];
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let n = nanos as usize;
    format!("{}-{}-{}", FIRST[n % 8], SECOND[(n / 8) % 8], (n / 64) % 1000)
}

#[derive(Deserialize)]
struct CreateRun {
    #[serde(default)]
    experiment_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    run_name: Option<String>,
}

async fn create_run(State(s): State<AppState>, Message(q): Message<CreateRun>) -> MlflowResult {
    let experiment = experiment(&s.db, q.experiment_id.as_deref().unwrap_or("0")).await?;
    let mut tags = wire::tag_map(q.tags)?;
    let name = q
        .run_name
        .filter(|n| !n.is_empty())
        .or_else(|| tags.get(RUN_NAME_TAG).cloned())
        .unwrap_or_else(generated_name);
    let mut new = NewTrainingRun::without_version().with_run_name(name.clone()).with_status("running");
    if let Some(ms) = q.start_time {
        new = new.with_started_at(wire::from_millis(ms, "start_time")?);
    }
    let run = s.db.create_training_run(new).await?;
    let link = NewExperimentRun::new(experiment.id, run.id).with_variant_name(name.clone());
    s.db.add_experiment_run(link).await?;
    tags.insert(RUN_NAME_TAG.to_owned(), name);
    tags.insert(EXPERIMENT_TAG.to_owned(), wire::experiment_id(&experiment));
    if let Some(user) = q.user_id.filter(|u| !u.is_empty()) {
        tags.entry(USER_TAG.to_owned()).or_insert(user);
    }
    s.db.set_tags(TagTarget::TrainingRun(run.id), tags.clone()).await?;
    // All of it is known: a new run has these tags and nothing logged yet.
    let view = RunView { run, tags, params: BTreeMap::new(), latest: BTreeMap::new() };
    ok(json!({ "run": view.wire() }))
}

async fn get_run(State(s): State<AppState>, Message(q): Message<RunRef>) -> MlflowResult {
    let view = RunView::load(&s.db, run_id(q.id()?)?).await?;
    ok(json!({ "run": view.wire() }))
}

#[derive(Deserialize)]
struct UpdateRun {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
}

async fn update_run(State(s): State<AppState>, Message(q): Message<UpdateRun>) -> MlflowResult {
    let id = active_run(&s.db, &q.run).await?;
    let mut update = TrainingRunUpdate::new();
    if let Some(status) = q.status.as_deref() {
        let (status, ended) = wire::aimdb_status(status)?;
        update = update.with_status(status);
        if ended {
            let run = s.db.get_training_run(id).await?;
            let end = match q.end_time {
                Some(ms) => wire::from_millis(ms, "end_time")?,
                None => aimdb::time::now(),
            };
            let seconds = (end - run.started_at).num_milliseconds() as f64 / 1000.0;
            update = update.with_completed_at(end).with_duration_seconds(seconds.max(0.0));
            // aimdb's runs carry a final loss: the last `loss` MLflow logged.
            if let Some(last) =
                s.db.get_metrics(id, Some("loss")).await?.into_iter().max_by(|a, b| {
                    (a.step.unwrap_or(0), a.timestamp).cmp(&(b.step.unwrap_or(0), b.timestamp))
                })
            {
                update = update.with_final_loss(last.metric_value);
            }
        }
    }
    if !update.is_empty() {
        s.db.update_training_run(id, update).await?;
    }
    if let Some(name) = q.run_name.filter(|n| !n.is_empty()) {
        // aimdb's run name is fixed at creation; MLflow's rename lives in its tag.
        s.db.set_tags(TagTarget::TrainingRun(id), [(RUN_NAME_TAG.to_owned(), name)].into()).await?;
    }
    ok(json!({ "run_info": RunView::load(&s.db, id).await?.info() }))
}

async fn delete_run(State(s): State<AppState>, Message(q): Message<RunRef>) -> MlflowResult {
    let id = run_id(q.id()?)?;
    wire::soft_delete(&s.db, TagTarget::TrainingRun(id)).await?;
    ok(json!({}))
}

async fn restore_run(State(s): State<AppState>, Message(q): Message<RunRef>) -> MlflowResult {
    let id = run_id(q.id()?)?;
    wire::restore(&s.db, TagTarget::TrainingRun(id)).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct RunKeyValue {
    #[serde(flatten)]
    run: RunRef,
    key: String,
    #[serde(default)]
    value: String,
}

async fn set_tag(State(s): State<AppState>, Message(q): Message<RunKeyValue>) -> MlflowResult {
    wire::check_not_internal(&q.key)?;
    let id = active_run(&s.db, &q.run).await?;
    s.db.set_tags(TagTarget::TrainingRun(id), [(q.key, q.value)].into()).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct RunKey {
    #[serde(flatten)]
    run: RunRef,
    key: String,
}

async fn delete_tag(State(s): State<AppState>, Message(q): Message<RunKey>) -> MlflowResult {
    wire::check_not_internal(&q.key)?;
    let id = active_run(&s.db, &q.run).await?;
    if !s.db.delete_tag(TagTarget::TrainingRun(id), &q.key).await? {
        return Err(MlflowError::missing(format!("No tag with name: {} in run with id {}", q.key, id.0)));
    }
    ok(json!({}))
}

/// Params are write-once in MLflow: the same value again is fine, another is refused.
async fn log_params(db: &AiDatabase, id: TrainingRunId, params: Vec<KeyValue>) -> Result<(), MlflowError> {
    if params.is_empty() {
        return Ok(());
    }
    let existing = db.get_hyperparameters(id).await?;
    let mut new = BTreeMap::new();
    for param in params {
        if param.value.chars().count() > MAX_PARAM_VALUE_CHARS {
            return Err(MlflowError::invalid(format!(
                "param {:?}: the value has more than {MAX_PARAM_VALUE_CHARS} characters",
                param.key
            )));
        }
        if let Some(old) = existing.get(&param.key).map(wire::param_text) {
            if old != param.value {
                return Err(MlflowError::invalid(format!(
                    "Changing param values is not allowed. Param with key='{}' was already logged with \
                     value='{old}' for run ID='{}'. Attempted logging new value '{}'.",
                    param.key, id.0, param.value
                )));
            }
            continue;
        }
        new.insert(param.key, Value::String(param.value));
    }
    if !new.is_empty() {
        db.log_hyperparameters(id, new).await?;
    }
    Ok(())
}

async fn log_param(State(s): State<AppState>, Message(q): Message<RunKeyValue>) -> MlflowResult {
    let id = active_run(&s.db, &q.run).await?;
    log_params(&s.db, id, vec![KeyValue { key: q.key, value: q.value }]).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct MetricMessage {
    key: String,
    #[serde(default, deserialize_with = "lenient::float")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "lenient::int")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    step: Option<i64>,
}

impl MetricMessage {
    fn into_metric(self) -> Result<NewMetric, MlflowError> {
        let Some(value) = self.value else {
            return Err(MlflowError::invalid(format!("metric {:?} has no value", self.key)));
        };
        let mut metric = NewMetric::new(self.key, value).with_step(self.step.unwrap_or(0));
        if let Some(ms) = self.timestamp {
            metric = metric.with_timestamp(wire::from_millis(ms, "timestamp")?);
        }
        Ok(metric)
    }
}

#[derive(Deserialize)]
struct LogMetric {
    #[serde(flatten)]
    run: RunRef,
    #[serde(flatten)]
    metric: MetricMessage,
}

async fn log_metric(State(s): State<AppState>, Message(q): Message<LogMetric>) -> MlflowResult {
    let id = active_run(&s.db, &q.run).await?;
    s.db.log_metric(id, q.metric.into_metric()?).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct LogBatch {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    metrics: Vec<MetricMessage>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn log_batch(State(s): State<AppState>, Message(q): Message<LogBatch>) -> MlflowResult {
    for (what, len, max) in [
        ("metrics", q.metrics.len(), MAX_BATCH_METRICS),
        ("params", q.params.len(), MAX_BATCH_PARAMS),
        ("tags", q.tags.len(), MAX_BATCH_TAGS),
    ] {
        if len > max {
            return Err(MlflowError::invalid(format!(
                "A batch logging request can contain at most {max} {what}. Got {len} {what}. \
                 Please split up {what} across multiple requests and try again."
            )));
        }
    }
    let id = active_run(&s.db, &q.run).await?;
    let tags = wire::tag_map(q.tags)?;
    let metrics = q.metrics.into_iter().map(MetricMessage::into_metric).collect::<Result<Vec<_>, _>>()?;
    // Every metric and tag is checked before anything is written (a NaN must not leave the
    // batch's params behind); then params (write-once), one metric batch, the tags.
    aimdb::request::validate_metrics(&metrics)?;
    aimdb::validate_tags(&tags)?;
    log_params(&s.db, id, q.params).await?;
    if !metrics.is_empty() {
        s.db.log_metrics(id, metrics).await?;
    }
    if !tags.is_empty() {
        s.db.set_tags(TagTarget::TrainingRun(id), tags).await?;
    }
    ok(json!({}))
}

#[derive(Deserialize)]
struct History {
    #[serde(flatten)]
    run: RunRef,
    metric_key: String,
    #[serde(default, deserialize_with = "lenient::int")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

async fn metric_history(State(s): State<AppState>, Message(q): Message<History>) -> MlflowResult {
    let id = run_id(q.run.id()?)?;
    let points = s.db.get_metrics(id, Some(&q.metric_key)).await.map_err(run_error(id))?;
    let max = match q.max_results {
        Some(n) if n >= 1 => n as usize,
        Some(n) => return Err(MlflowError::invalid(format!("max_results {n} must be at least 1"))),
        None => usize::MAX,
    };
    let (points, next) = page(points, max, q.page_token.as_deref())?;
    #[derive(serde::Serialize)]
    struct HistoryPage<'a> {
        metrics: Vec<wire::MetricPoint<'a>>,
        next_page_token: Option<String>,
    }
    let metrics = points.iter().map(Into::into).collect();
    Ok(axum::Json(HistoryPage { metrics, next_page_token: next }).into_response())
}

#[derive(Deserialize)]
struct SearchRuns {
    #[serde(default, deserialize_with = "lenient::strings")]
    experiment_ids: Vec<String>,
    #[serde(default)]
    run_view_type: Option<String>,
    #[serde(flatten)]
    search: Search,
}

async fn search_runs(State(s): State<AppState>, Message(q): Message<SearchRuns>) -> MlflowResult {
    let clauses = filter::parse(q.search.filter.as_deref().unwrap_or(""))?;
    let mut order = filter::parse_order(&q.search.order_by)?;
    // MLflow's default: newest first, ties by id.
    order.extend(filter::parse_order(&[
        "attributes.start_time DESC".to_owned(),
        "attributes.run_id".to_owned(),
    ])?);
    let mut rows = Vec::new();
    for id in &q.experiment_ids {
        let experiment = experiment(&s.db, id).await?;
        let runs: Vec<TrainingRunId> =
            s.db.get_experiment_runs(experiment.id).await?.iter().map(|link| link.training_run_id).collect();
        // One bulk read for the experiment's runs, not four reads per run.
        for summary in s.db.get_run_summaries(&runs).await? {
            let mut row = RunView::of(summary);
            // Runs aimdb users added to the experiment have no MLflow tag: they belong here.
            row.tags.entry(EXPERIMENT_TAG.to_owned()).or_insert_with(|| wire::experiment_id(&experiment));
            if in_view(q.run_view_type.as_deref(), row.deleted()) && filter::matches(&clauses, &row) {
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| filter::order_cmp(&order, a, b));
    let max = max_results(q.search.max_results, 1000)?;
    let (rows, next) = page(rows, max, q.search.page_token.as_deref())?;
    #[derive(serde::Serialize)]
    struct Found<'a> {
        runs: Vec<RunWire<'a>>,
        next_page_token: Option<String>,
    }
    let runs = rows.iter().map(RunView::wire).collect();
    Ok(axum::Json(Found { runs, next_page_token: next }).into_response())
}

/// A run's `check_active` for the registry (versions made from a deleted run are refused).
pub(super) async fn load_active_run(db: &AiDatabase, id: TrainingRunId) -> Result<RunView, MlflowError> {
    let view = RunView::load(db, id).await?;
    check_active(id, &view.tags)?;
    Ok(view)
}
