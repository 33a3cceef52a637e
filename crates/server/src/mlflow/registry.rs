//! Registered models, model versions and aliases: MLflow's model registry on aimdb's models
//! and versions. Every aimdb model is a registered model (its name is the key).

use std::borrow::Cow;
use std::collections::BTreeMap;

use aimdb::{
    AiDatabase, Error, MetadataStore, Model, ModelVersion, NewModel, NewModelVersion, Page, TagTarget,
    TrainingRunUpdate,
};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::filter::{self, Field, Scope, Subject};
use super::tracking::{load_active_run, run_id};
use super::wire::{self, KeyValue, deleted};
use super::{Message, MlflowError, MlflowResult, Search, at, lenient, ok, page};
use crate::routes::AppState;

/// A model's alias `a` is its tag `aimdb.alias.a` holding the version.
const ALIAS_PREFIX: &str = "aimdb.alias.";
/// A description set after creation (aimdb's own is fixed when the model is made).
const DESCRIPTION_TAG: &str = "aimdb.description";
/// The MLflow run a version was registered from.
const RUN_TAG: &str = "aimdb.run_id";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&at("registered-models/create"), post(create_model))
        .route(&at("registered-models/get"), get(get_model))
        .route(&at("registered-models/search"), get(search_models))
        .route(&at("registered-models/update"), axum::routing::patch(update_model))
        .route(&at("registered-models/delete"), axum::routing::delete(delete_model))
        .route(&at("registered-models/set-tag"), post(set_model_tag))
        .route(&at("registered-models/delete-tag"), axum::routing::delete(delete_model_tag))
        .route(&at("registered-models/get-latest-versions"), post(latest_versions).get(latest_versions))
        .route(&at("registered-models/alias"), post(set_alias).delete(delete_alias).get(version_by_alias))
        .route(&at("model-versions/create"), post(create_version))
        .route(&at("model-versions/get"), get(get_version))
        .route(&at("model-versions/search"), get(search_versions))
        .route(&at("model-versions/update"), axum::routing::patch(update_version))
        .route(&at("model-versions/delete"), axum::routing::delete(delete_version))
        .route(&at("model-versions/set-tag"), post(set_version_tag))
        .route(&at("model-versions/delete-tag"), axum::routing::delete(delete_version_tag))
        .route(&at("model-versions/get-download-uri"), get(download_uri))
}

fn no_model(name: &str) -> MlflowError {
    MlflowError::missing(format!("Registered Model with name={name} not found"))
}

/// A registered model with its tags and live versions.
struct Registered {
    model: Model,
    tags: BTreeMap<String, String>,
    versions: Vec<Version>,
}

/// A model version with its tags.
struct Version {
    version: ModelVersion,
    tags: BTreeMap<String, String>,
}

impl Registered {
    async fn load(db: &AiDatabase, name: &str) -> Result<Registered, MlflowError> {
        let model = db.get_model_by_name(name).await.map_err(|e| match e {
            Error::NotFound { .. } => no_model(name),
            other => other.into(),
        })?;
        let registered = Self::of(db, model).await?;
        if deleted(&registered.tags) {
            return Err(no_model(name));
        }
        Ok(registered)
    }

    async fn of(db: &AiDatabase, model: Model) -> Result<Registered, MlflowError> {
        let tags = db.get_tags(TagTarget::Model(model.id)).await?;
        let mut versions = Vec::new();
        for version in db.get_model_versions(model.id).await? {
            let tags = db.get_tags(TagTarget::ModelVersion(version.id)).await?;
            if !deleted(&tags) {
                versions.push(Version { version, tags });
            }
        }
        Ok(Registered { model, tags, versions })
    }

    fn description(&self) -> &str {
        self.tags.get(DESCRIPTION_TAG).map(String::as_str).or(self.model.description.as_deref()).unwrap_or("")
    }

    fn aliases_of(&self, version: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| *v == version)
            .filter_map(|(k, _)| k.strip_prefix(ALIAS_PREFIX).map(str::to_owned))
            .collect()
    }

    fn version(&self, version: &str) -> Result<&Version, MlflowError> {
        self.versions.iter().find(|v| v.version.version == version).ok_or_else(|| {
            MlflowError::missing(format!(
                "Model Version (name={}, version={version}) not found",
                self.model.name
            ))
        })
    }

    /// The newest version (by number where versions are numbers, else by creation).
    fn latest(&self) -> Option<&Version> {
        self.versions.iter().max_by_key(|v| (v.version.version.parse::<i64>().ok(), v.version.created_at))
    }

    fn version_json(&self, v: &Version) -> Value {
        let number = &v.version.version;
        json!({
            "name": self.model.name,
            "version": number,
            "creation_timestamp": wire::millis(v.version.created_at),
            "last_updated_timestamp": wire::millis(v.version.created_at),
            "current_stage": "None",
            "description": v.tags.get(DESCRIPTION_TAG).map_or("", String::as_str),
            "source": v.version.checkpoint_path.as_deref().unwrap_or(""),
            "run_id": v.tags.get(RUN_TAG).map_or("", String::as_str),
            "status": "READY",
            "tags": wire::tag_list(&v.tags),
            "run_link": "",
            "aliases": self.aliases_of(number),
        })
    }

    fn to_json(&self) -> Value {
        let aliases: Vec<Value> = self
            .tags
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(ALIAS_PREFIX).map(|alias| json!({ "alias": alias, "version": v }))
            })
            .collect();
        let latest: Vec<Value> = self.latest().map(|v| self.version_json(v)).into_iter().collect();
        json!({
            "name": self.model.name,
            "creation_timestamp": wire::millis(self.model.created_at),
            "last_updated_timestamp": wire::millis(self.model.updated_at),
            "description": self.description(),
            "latest_versions": latest,
            "tags": wire::tag_list(&self.tags),
            "aliases": aliases,
        })
    }
}

#[derive(Deserialize)]
struct CreateModel {
    name: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    description: Option<String>,
}

async fn create_model(State(s): State<AppState>, Message(q): Message<CreateModel>) -> MlflowResult {
    let tags = wire::tag_map(q.tags)?;
    let model = match s.db.get_model_by_name(&q.name).await {
        Ok(existing) => {
            let existing = Registered::of(&s.db, existing).await?;
            if !deleted(&existing.tags) {
                return Err(MlflowError::exists(format!(
                    "Registered Model (name={}) already exists.",
                    q.name
                )));
            }
            // aimdb keeps records: a deleted name comes back as the same model.
            wire::restore(&s.db, TagTarget::Model(existing.model.id)).await?;
            let description = q.description.unwrap_or_default();
            s.db.set_tags(
                TagTarget::Model(existing.model.id),
                [(DESCRIPTION_TAG.to_owned(), description)].into(),
            )
            .await?;
            existing.model
        }
        Err(Error::NotFound { .. }) => {
            let mut new = NewModel::new(q.name.clone());
            if let Some(description) = q.description.filter(|d| !d.is_empty()) {
                new = new.with_description(description);
            }
            // Through the facade: the description is embedded, so search finds the model.
            s.db.create_model(new).await?
        }
        Err(other) => return Err(other.into()),
    };
    if !tags.is_empty() {
        s.db.set_tags(TagTarget::Model(model.id), tags).await?;
    }
    ok(json!({ "registered_model": Registered::load(&s.db, &q.name).await?.to_json() }))
}

#[derive(Deserialize)]
struct ModelRef {
    name: String,
}

async fn get_model(State(s): State<AppState>, Message(q): Message<ModelRef>) -> MlflowResult {
    ok(json!({ "registered_model": Registered::load(&s.db, &q.name).await?.to_json() }))
}

impl Subject for Registered {
    fn missing_tag_is_unequal(&self) -> bool {
        true
    }

    fn field(&self, scope: Scope, key: &str) -> Option<Field<'_>> {
        match (scope, key) {
            (Scope::Attribute, "name") => Some(Field::Str(Cow::Borrowed(&self.model.name))),
            (Scope::Attribute, "creation_timestamp") => {
                Some(Field::Num(wire::millis(self.model.created_at) as f64))
            }
            (Scope::Attribute, "last_updated_timestamp") => {
                Some(Field::Num(wire::millis(self.model.updated_at) as f64))
            }
            (Scope::Tag, key) if !key.starts_with(super::INTERNAL_TAG_PREFIX) => {
                self.tags.get(key).map(|v| Field::Str(Cow::Borrowed(v)))
            }
            _ => None,
        }
    }
}

fn search_limit(given: Option<i64>, default: usize) -> Result<usize, MlflowError> {
    match given {
        None => Ok(default),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(MlflowError::invalid(format!("max_results {n} is not in 1..=1000"))),
    }
}

async fn all_registered(db: &AiDatabase) -> Result<Vec<Registered>, MlflowError> {
    let mut out = Vec::new();
    for model in db.list_models(Page::all()).await? {
        let registered = Registered::of(db, model).await?;
        if !deleted(&registered.tags) {
            out.push(registered);
        }
    }
    Ok(out)
}

async fn search_models(State(s): State<AppState>, Message(q): Message<Search>) -> MlflowResult {
    let clauses = filter::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut order = filter::parse_order(&q.order_by)?;
    order.extend(filter::parse_order(&["name ASC".to_owned()])?);
    let mut found: Vec<Registered> =
        all_registered(&s.db).await?.into_iter().filter(|r| filter::matches(&clauses, r)).collect();
    found.sort_by(|a, b| filter::order_cmp(&order, a, b));
    let (found, next) = page(found, search_limit(q.max_results, 100)?, q.page_token.as_deref())?;
    let models: Vec<Value> = found.iter().map(Registered::to_json).collect();
    ok(json!({ "registered_models": models, "next_page_token": next }))
}

#[derive(Deserialize)]
struct Describe {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn update_model(State(s): State<AppState>, Message(q): Message<Describe>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    if let Some(description) = q.description {
        s.db.set_tags(
            TagTarget::Model(registered.model.id),
            [(DESCRIPTION_TAG.to_owned(), description)].into(),
        )
        .await?;
    }
    ok(json!({ "registered_model": Registered::load(&s.db, &q.name).await?.to_json() }))
}

async fn delete_model(State(s): State<AppState>, Message(q): Message<ModelRef>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    for v in &registered.versions {
        wire::soft_delete(&s.db, TagTarget::ModelVersion(v.version.id)).await?;
    }
    for key in registered.tags.keys().filter(|k| k.starts_with(ALIAS_PREFIX)) {
        s.db.delete_tag(TagTarget::Model(registered.model.id), key).await?;
    }
    wire::soft_delete(&s.db, TagTarget::Model(registered.model.id)).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct TagMessage {
    name: String,
    #[serde(default)]
    version: Option<String>,
    key: String,
    #[serde(default)]
    value: String,
}

async fn set_model_tag(State(s): State<AppState>, Message(q): Message<TagMessage>) -> MlflowResult {
    wire::check_not_internal(&q.key)?;
    let registered = Registered::load(&s.db, &q.name).await?;
    s.db.set_tags(TagTarget::Model(registered.model.id), [(q.key, q.value)].into()).await?;
    ok(json!({}))
}

async fn delete_model_tag(State(s): State<AppState>, Message(q): Message<TagMessage>) -> MlflowResult {
    wire::check_not_internal(&q.key)?;
    let registered = Registered::load(&s.db, &q.name).await?;
    s.db.delete_tag(TagTarget::Model(registered.model.id), &q.key).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct Latest {
    name: String,
    #[serde(default, deserialize_with = "lenient::strings")]
    stages: Vec<String>,
}

async fn latest_versions(State(s): State<AppState>, Message(q): Message<Latest>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    // Every version is in stage `None` (stages are deprecated in MLflow; aliases replace them).
    let wanted = q.stages.is_empty() || q.stages.iter().any(|s| s.eq_ignore_ascii_case("none"));
    let versions: Vec<Value> =
        registered.latest().filter(|_| wanted).map(|v| registered.version_json(v)).into_iter().collect();
    ok(json!({ "model_versions": versions }))
}

#[derive(Deserialize)]
struct AliasMessage {
    name: String,
    alias: String,
    #[serde(default)]
    version: Option<String>,
}

async fn set_alias(State(s): State<AppState>, Message(q): Message<AliasMessage>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    let version = q
        .version
        .as_deref()
        .ok_or_else(|| MlflowError::invalid("Missing value for required parameter 'version'"))?;
    registered.version(version)?;
    if q.alias.is_empty()
        || q.alias.eq_ignore_ascii_case("latest")
        || q.alias.starts_with('v') && q.alias[1..].parse::<u64>().is_ok()
    {
        return Err(MlflowError::invalid(format!(
            "alias {:?} is reserved (empty, 'latest' or v<number>)",
            q.alias
        )));
    }
    let tag = format!("{ALIAS_PREFIX}{}", q.alias);
    s.db.set_tags(TagTarget::Model(registered.model.id), [(tag, version.to_owned())].into()).await?;
    ok(json!({}))
}

async fn delete_alias(State(s): State<AppState>, Message(q): Message<AliasMessage>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    s.db.delete_tag(TagTarget::Model(registered.model.id), &format!("{ALIAS_PREFIX}{}", q.alias)).await?;
    ok(json!({}))
}

async fn version_by_alias(State(s): State<AppState>, Message(q): Message<AliasMessage>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    let Some(version) = registered.tags.get(&format!("{ALIAS_PREFIX}{}", q.alias)) else {
        return Err(MlflowError::missing(format!("Registered model alias {} not found.", q.alias)));
    };
    ok(json!({ "model_version": registered.version_json(registered.version(version)?) }))
}

#[derive(Deserialize)]
struct CreateVersion {
    name: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    description: Option<String>,
}

async fn create_version(State(s): State<AppState>, Message(q): Message<CreateVersion>) -> MlflowResult {
    let mut tags = wire::tag_map(q.tags)?;
    let registered = Registered::load(&s.db, &q.name).await?;
    let run = match q.run_id.as_deref().filter(|r| !r.is_empty()) {
        Some(id) => Some(load_active_run(&s.db, run_id(id)?).await?),
        None => None,
    };
    // Numbered after every version the model ever had (deleted ones keep their numbers).
    let all = s.db.get_model_versions(registered.model.id).await?;
    let next = all.iter().filter_map(|v| v.version.parse::<i64>().ok()).max().unwrap_or(0) + 1;
    let mut new = NewModelVersion::new(registered.model.id, next.to_string());
    if let Some(source) = q.source.filter(|s| !s.is_empty()) {
        new = new.with_checkpoint_path(source);
    }
    let version = s.db.create_model_version(new).await?;
    if let Some(run) = &run {
        tags.insert(RUN_TAG.to_owned(), run.id().to_string());
        // aimdb's run records the version it trained; the first registered from it.
        if run.model_version().is_none() {
            s.db.update_training_run(run.id(), TrainingRunUpdate::new().with_model_version_id(version.id))
                .await?;
        }
    }
    if let Some(description) = q.description.filter(|d| !d.is_empty()) {
        tags.insert(DESCRIPTION_TAG.to_owned(), description);
    }
    if !tags.is_empty() {
        s.db.set_tags(TagTarget::ModelVersion(version.id), tags).await?;
    }
    let registered = Registered::load(&s.db, &q.name).await?;
    ok(json!({ "model_version": registered.version_json(registered.version(&version.version)?) }))
}

#[derive(Deserialize)]
struct VersionRef {
    name: String,
    version: String,
}

async fn get_version(State(s): State<AppState>, Message(q): Message<VersionRef>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    ok(json!({ "model_version": registered.version_json(registered.version(&q.version)?) }))
}

async fn download_uri(State(s): State<AppState>, Message(q): Message<VersionRef>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    let version = registered.version(&q.version)?;
    ok(json!({ "artifact_uri": version.version.checkpoint_path.as_deref().unwrap_or("") }))
}

async fn update_version(State(s): State<AppState>, Message(q): Message<Describe>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    let number = q
        .version
        .as_deref()
        .ok_or_else(|| MlflowError::invalid("Missing value for required parameter 'version'"))?;
    let id = registered.version(number)?.version.id;
    if let Some(description) = q.description {
        s.db.set_tags(TagTarget::ModelVersion(id), [(DESCRIPTION_TAG.to_owned(), description)].into())
            .await?;
    }
    let registered = Registered::load(&s.db, &q.name).await?;
    ok(json!({ "model_version": registered.version_json(registered.version(number)?) }))
}

async fn delete_version(State(s): State<AppState>, Message(q): Message<VersionRef>) -> MlflowResult {
    let registered = Registered::load(&s.db, &q.name).await?;
    let id = registered.version(&q.version)?.version.id;
    for alias in registered.aliases_of(&q.version) {
        s.db.delete_tag(TagTarget::Model(registered.model.id), &format!("{ALIAS_PREFIX}{alias}")).await?;
    }
    wire::soft_delete(&s.db, TagTarget::ModelVersion(id)).await?;
    ok(json!({}))
}

/// The version a tag message names, its key checked.
async fn version_target(db: &AiDatabase, q: &TagMessage) -> Result<TagTarget, MlflowError> {
    wire::check_not_internal(&q.key)?;
    let registered = Registered::load(db, &q.name).await?;
    let id = registered.version(q.version.as_deref().unwrap_or_default())?.version.id;
    Ok(TagTarget::ModelVersion(id))
}

async fn set_version_tag(State(s): State<AppState>, Message(q): Message<TagMessage>) -> MlflowResult {
    let target = version_target(&s.db, &q).await?;
    s.db.set_tags(target, [(q.key, q.value)].into()).await?;
    ok(json!({}))
}

async fn delete_version_tag(State(s): State<AppState>, Message(q): Message<TagMessage>) -> MlflowResult {
    let target = version_target(&s.db, &q).await?;
    s.db.delete_tag(target, &q.key).await?;
    ok(json!({}))
}

/// A version of a registered model, as search reads it.
struct VersionRow<'a> {
    model: &'a Registered,
    version: &'a Version,
}

impl Subject for VersionRow<'_> {
    fn missing_tag_is_unequal(&self) -> bool {
        true
    }

    fn field(&self, scope: Scope, key: &str) -> Option<Field<'_>> {
        let v = &self.version;
        match (scope, key) {
            (Scope::Attribute, "name") => Some(Field::Str(Cow::Borrowed(&self.model.model.name))),
            (Scope::Attribute, "version" | "version_number") => {
                Some(match v.version.version.parse::<f64>() {
                    Ok(n) => Field::Num(n),
                    Err(_) => Field::Str(Cow::Borrowed(&v.version.version)),
                })
            }
            (Scope::Attribute, "run_id") => v.tags.get(RUN_TAG).map(|r| Field::Str(Cow::Borrowed(r))),
            (Scope::Attribute, "source" | "source_path") => {
                v.version.checkpoint_path.as_deref().map(|p| Field::Str(Cow::Borrowed(p)))
            }
            (Scope::Attribute, "creation_timestamp" | "last_updated_timestamp") => {
                Some(Field::Num(wire::millis(v.version.created_at) as f64))
            }
            (Scope::Tag, key) if !key.starts_with(super::INTERNAL_TAG_PREFIX) => {
                v.tags.get(key).map(|t| Field::Str(Cow::Borrowed(t)))
            }
            _ => None,
        }
    }
}

async fn search_versions(State(s): State<AppState>, Message(q): Message<Search>) -> MlflowResult {
    let clauses = filter::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut order = filter::parse_order(&q.order_by)?;
    order.extend(filter::parse_order(&["name ASC".to_owned(), "version_number DESC".to_owned()])?);
    let models = all_registered(&s.db).await?;
    let mut rows: Vec<VersionRow<'_>> = models
        .iter()
        .flat_map(|model| model.versions.iter().map(move |version| VersionRow { model, version }))
        .filter(|row| filter::matches(&clauses, row))
        .collect();
    rows.sort_by(|a, b| filter::order_cmp(&order, a, b));
    let limit = match q.max_results {
        None => 10_000,
        Some(n) if (1..=200_000).contains(&n) => n as usize,
        Some(n) => return Err(MlflowError::invalid(format!("max_results {n} is not in 1..=200000"))),
    };
    let (rows, next) = page(rows, limit, q.page_token.as_deref())?;
    let versions: Vec<Value> = rows.iter().map(|r| r.model.version_json(r.version)).collect();
    ok(json!({ "model_versions": versions, "next_page_token": next }))
}
