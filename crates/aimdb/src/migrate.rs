//! Copying one aimdb database into another: every entity, ids and references kept, then
//! checked record by record, then the target's vector index rebuilt from the copy.

use std::fmt::Debug;

use aimdb_core::{
    Entity, Error, Identified, ImportBatch, MetadataStore, Model, NewExperimentRun, NewMetric, Page, Result,
    StoreStatistics, TagTarget, TrainingRun,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::database::{AiDatabase, ReindexReport};

/// How [`AiDatabase::migrate_from`] behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// Copy into a target that already holds records. Records whose ids are there are
    /// kept as they are; the rest are copied. Off (the default): a non-empty target is
    /// refused, so a typo in `--to` cannot merge two databases.
    pub allow_non_empty: bool,
    /// Records per read and per write.
    pub batch_size: u32,
    /// Draw a progress bar (on a terminal only).
    pub progress: bool,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions { allow_non_empty: false, batch_size: 500, progress: true }
    }
}

impl MigrateOptions {
    /// Allows (or refuses) a target that already holds records.
    #[must_use]
    pub fn with_allow_non_empty(mut self, allow: bool) -> Self {
        self.allow_non_empty = allow;
        self
    }

    /// Sets the records per read and per write (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, n: u32) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Shows or hides the progress bar.
    #[must_use]
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
}

/// What a migration copied and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationReport {
    /// Counts in the source.
    pub source: StoreStatistics,
    /// Records the target gained (a re-run writes nothing).
    pub written: StoreStatistics,
    /// Counts in the target afterwards.
    pub target: StoreStatistics,
    /// Records compared field by field with the source after the copy.
    pub verified: u64,
    /// The target's vector index, rebuilt from the copy, when it has one.
    pub index: Option<ReindexReport>,
}

fn total(s: &StoreStatistics) -> u64 {
    s.models
        + s.model_versions
        + s.datasets
        + s.training_runs
        + s.hyperparameters
        + s.metrics
        + s.experiments
        + s.experiment_runs
        + s.predictions
}

fn delta(after: &StoreStatistics, before: &StoreStatistics) -> StoreStatistics {
    StoreStatistics {
        models: after.models.saturating_sub(before.models),
        model_versions: after.model_versions.saturating_sub(before.model_versions),
        datasets: after.datasets.saturating_sub(before.datasets),
        training_runs: after.training_runs.saturating_sub(before.training_runs),
        completed_runs: after.completed_runs.saturating_sub(before.completed_runs),
        hyperparameters: after.hyperparameters.saturating_sub(before.hyperparameters),
        metrics: after.metrics.saturating_sub(before.metrics),
        experiments: after.experiments.saturating_sub(before.experiments),
        experiment_runs: after.experiment_runs.saturating_sub(before.experiment_runs),
        predictions: after.predictions.saturating_sub(before.predictions),
    }
}

/// A check that failed: the target does not hold what the source holds.
fn differs(what: impl std::fmt::Display, detail: impl Into<String>) -> Error {
    let detail = detail.into();
    Error::backend(format!("migration check failed: {what} differs between source and target"), detail)
}

/// Calls `each` with every page of `list`, in ascending id order.
async fn pages<T: Identified>(
    size: u32,
    list: impl AsyncFn(Page) -> Result<Vec<T>>,
    mut each: impl AsyncFnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    let mut page = Page::first(size);
    loop {
        let items = list(page).await?;
        let Some(last) = items.last() else { return Ok(()) };
        page = Page::first(size).after(last.id());
        each(items).await?;
    }
}

/// Compares every record of `source` with the target's record of the same id: `list`
/// reads the target's page that should line up with the source's, `get` what does not.
async fn compare<T: Identified + PartialEq + Debug>(
    size: u32,
    bar: &ProgressBar,
    source: impl AsyncFn(Page) -> Result<Vec<T>>,
    target: impl AsyncFn(Page) -> Result<Vec<T>>,
    get: impl AsyncFn(i64) -> Result<T>,
) -> Result<u64> {
    let mut checked = 0;
    pages(size, source, async |items: Vec<T>| {
        let first = items[0].id();
        let theirs = target(Page::first(items.len() as u32).after(first - 1)).await?;
        let theirs: std::collections::HashMap<i64, T> = theirs.into_iter().map(|t| (t.id(), t)).collect();
        for ours in &items {
            let id = ours.id();
            let found = match theirs.get(&id) {
                Some(t) => t.clone(),
                None => get(id).await.map_err(|e| differs(format!("{} {id}", T::ENTITY), e.to_string()))?,
            };
            if &found != ours {
                return Err(differs(
                    format!("{} {id}", T::ENTITY),
                    format!("source {ours:?}, target {found:?}"),
                ));
            }
        }
        checked += items.len() as u64;
        bar.inc(items.len() as u64);
        Ok(())
    })
    .await?;
    Ok(checked)
}

impl AiDatabase {
    /// Copies every entity of `source` into this database with ids, timestamps and
    /// references kept, checks every record afterwards, and rebuilds this database's
    /// vector index from the copy. Safe to run again: records already copied are left as
    /// they are, so an interrupted migration resumes (with
    /// [`allow_non_empty`](MigrateOptions::allow_non_empty)).
    ///
    /// ```
    /// use aimdb::prelude::*;
    /// use aimdb::{MemoryStore, MigrateOptions};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let old = MemoryStore::new();
    /// let model = old.create_model(NewModel::new("resnet50")).await?;
    /// old.create_model_version(NewModelVersion::new(model.id, "1.0")).await?;
    ///
    /// let new = create_ai_database(AimdbConfig::from_url("memory://")).await?;
    /// let report = new.migrate_from(&old, MigrateOptions::default().with_progress(false)).await?;
    /// assert_eq!((report.written.models, report.written.model_versions), (1, 1));
    /// assert_eq!(new.get_model(model.id).await?.name, "resnet50");
    /// # Ok::<_, aimdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn migrate_from(
        &self,
        source: &dyn MetadataStore,
        options: MigrateOptions,
    ) -> Result<MigrationReport> {
        let target: &dyn MetadataStore = self.store().as_ref();
        let size = options.batch_size.max(1);
        let source_counts = source.statistics().await?;
        let before = target.statistics().await?;
        if total(&before) > 0 && !options.allow_non_empty {
            return Err(Error::invalid(
                "target",
                format!(
                    "{} already holds {} records; migrate into an empty database, or allow a \
                     non-empty one (`--force`): records whose ids are there are kept, the rest copied",
                    target.info().location,
                    total(&before)
                ),
            ));
        }
        let bar = if options.progress {
            ProgressBar::new(2 * total(&source_counts))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("migrate {bar:40} {pos}/{len} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );

        bar.set_message("models and versions");
        pages(
            size,
            async |p| source.list_models(p).await,
            async |models: Vec<Model>| {
                let mut versions = Vec::new();
                for model in &models {
                    versions.extend(source.get_model_versions(model.id).await?);
                }
                versions.sort_by_key(|v| v.id);
                bar.inc((models.len() + versions.len()) as u64);
                let tagged: Vec<TagTarget> = (models.iter().map(|m| TagTarget::Model(m.id)))
                    .chain(versions.iter().map(|v| TagTarget::ModelVersion(v.id)))
                    .collect();
                target.import(ImportBatch::Models(models)).await?;
                target.import(ImportBatch::ModelVersions(versions)).await?;
                for record in tagged {
                    copy_tags(source, target, record).await?;
                }
                Ok(())
            },
        )
        .await?;
        bar.set_message("datasets");
        pages(
            size,
            async |p| source.list_datasets(p).await,
            async |datasets| {
                bar.inc(datasets.len() as u64);
                target.import(ImportBatch::Datasets(datasets)).await.map(drop)
            },
        )
        .await?;
        bar.set_message("training runs, hyperparameters, metrics");
        pages(
            size,
            async |p| source.list_training_runs(p).await,
            async |runs: Vec<TrainingRun>| {
                bar.inc(runs.len() as u64);
                target.import(ImportBatch::TrainingRuns(runs.clone())).await?;
                for run in &runs {
                    bar.inc(copy_run_children(source, target, run).await?);
                    copy_tags(source, target, TagTarget::TrainingRun(run.id)).await?;
                }
                Ok(())
            },
        )
        .await?;
        bar.set_message("experiments");
        pages(
            size,
            async |p| source.list_experiments(p).await,
            async |experiments| {
                bar.inc(experiments.len() as u64);
                target.import(ImportBatch::Experiments(experiments.clone())).await?;
                for experiment in &experiments {
                    copy_tags(source, target, TagTarget::Experiment(experiment.id)).await?;
                    let have: std::collections::HashSet<_> = target
                        .get_experiment_runs(experiment.id)
                        .await?
                        .iter()
                        .map(|l| l.training_run_id)
                        .collect();
                    let links = source.get_experiment_runs(experiment.id).await?;
                    bar.inc(links.len() as u64);
                    for link in links.into_iter().filter(|l| !have.contains(&l.training_run_id)) {
                        let mut new = NewExperimentRun::new(link.experiment_id, link.training_run_id);
                        new.variant_name = link.variant_name;
                        new.notes = link.notes;
                        target.add_experiment_run(new).await?;
                    }
                }
                Ok(())
            },
        )
        .await?;
        bar.set_message("predictions");
        pages(
            size,
            async |p| source.list_predictions(p).await,
            async |predictions| {
                bar.inc(predictions.len() as u64);
                target.import(ImportBatch::Predictions(predictions)).await.map(drop)
            },
        )
        .await?;

        bar.set_message("checking");
        let verified = self.verify_copy(source, size, &bar).await?;
        let after = target.statistics().await?;
        let short = |s: u64, t: u64| if total(&before) == 0 { s != t } else { t < s };
        let counts = [
            (Entity::Model, source_counts.models, after.models),
            (Entity::ModelVersion, source_counts.model_versions, after.model_versions),
            (Entity::Dataset, source_counts.datasets, after.datasets),
            (Entity::TrainingRun, source_counts.training_runs, after.training_runs),
            (Entity::Hyperparameter, source_counts.hyperparameters, after.hyperparameters),
            (Entity::Metric, source_counts.metrics, after.metrics),
            (Entity::Experiment, source_counts.experiments, after.experiments),
            (Entity::ExperimentRun, source_counts.experiment_runs, after.experiment_runs),
            (Entity::Prediction, source_counts.predictions, after.predictions),
        ];
        for (entity, s, t) in counts {
            if short(s, t) {
                return Err(differs(
                    format!("the number of {entity} records"),
                    format!("source {s}, target {t}"),
                ));
            }
        }
        bar.finish_and_clear();
        let index = if self.index().is_some() {
            Some(self.reindex_with_progress(options.progress).await?)
        } else {
            None
        };
        Ok(MigrationReport {
            written: delta(&after, &before),
            source: source_counts,
            target: after,
            verified,
            index,
        })
    }

    /// Compares every source record with the target's.
    async fn verify_copy(&self, source: &dyn MetadataStore, size: u32, bar: &ProgressBar) -> Result<u64> {
        let target: &dyn MetadataStore = self.store().as_ref();
        let mut verified = compare(
            size,
            bar,
            async |p| source.list_models(p).await,
            async |p| target.list_models(p).await,
            async |id| target.get_model(id.into()).await,
        )
        .await?;
        pages(
            size,
            async |p| source.list_models(p).await,
            async |models: Vec<Model>| {
                for model in &models {
                    // One read of the target's versions per model, not one per version.
                    let theirs = target.get_model_versions(model.id).await?;
                    for version in source.get_model_versions(model.id).await? {
                        if !theirs.contains(&version) {
                            let found = theirs.iter().find(|v| v.id == version.id);
                            return Err(differs(
                                format!("model_version {}", version.id),
                                format!("{found:?}"),
                            ));
                        }
                        verified += 1;
                        bar.inc(1);
                    }
                }
                Ok(())
            },
        )
        .await?;
        verified += compare(
            size,
            bar,
            async |p| source.list_datasets(p).await,
            async |p| target.list_datasets(p).await,
            async |id| target.get_dataset(id.into()).await,
        )
        .await?;
        verified += compare(
            size,
            bar,
            async |p| source.list_training_runs(p).await,
            async |p| target.list_training_runs(p).await,
            async |id| target.get_training_run(id.into()).await,
        )
        .await?;
        pages(
            size,
            async |p| source.list_training_runs(p).await,
            async |runs: Vec<TrainingRun>| {
                for run in &runs {
                    let params = source.get_hyperparameters(run.id).await?;
                    let theirs = target.get_hyperparameters(run.id).await?;
                    if let Some((name, _)) = params.iter().find(|(k, v)| theirs.get(*k) != Some(v)) {
                        return Err(differs(
                            format!("hyperparameter `{name}` of training_run {}", run.id),
                            "",
                        ));
                    }
                    let metrics = source.get_metrics(run.id, None).await?;
                    let theirs = target.get_metrics(run.id, None).await?;
                    if !theirs.starts_with(&metrics) {
                        return Err(differs(format!("the metrics of training_run {}", run.id), ""));
                    }
                    let n = (params.len() + metrics.len()) as u64;
                    verified += n;
                    bar.inc(n);
                }
                Ok(())
            },
        )
        .await?;
        verified += compare(
            size,
            bar,
            async |p| source.list_experiments(p).await,
            async |p| target.list_experiments(p).await,
            async |id| target.get_experiment(id.into()).await,
        )
        .await?;
        pages(
            size,
            async |p| source.list_experiments(p).await,
            async |experiments: Vec<aimdb_core::Experiment>| {
                for experiment in &experiments {
                    let links = source.get_experiment_runs(experiment.id).await?;
                    let theirs = target.get_experiment_runs(experiment.id).await?;
                    if let Some(link) = links.iter().find(|l| !theirs.contains(l)) {
                        return Err(differs(
                            format!("run {} of experiment {}", link.training_run_id, experiment.id),
                            "",
                        ));
                    }
                    verified += links.len() as u64;
                    bar.inc(links.len() as u64);
                }
                Ok(())
            },
        )
        .await?;
        verified += compare(
            size,
            bar,
            async |p| source.list_predictions(p).await,
            async |p| target.list_predictions(p).await,
            async |id| target.get_prediction(id.into()).await,
        )
        .await?;
        Ok(verified)
    }
}

/// Copies a run's hyperparameters and metrics (what the target lacks); returns how many
/// the source holds.
/// Copies the tags of one record the target lacks, then checks the target holds every tag
/// of the source (a tag the target already had with another value is named).
async fn copy_tags(source: &dyn MetadataStore, target: &dyn MetadataStore, record: TagTarget) -> Result<()> {
    let tags = source.get_tags(record).await?;
    if tags.is_empty() {
        return Ok(());
    }
    let theirs = target.get_tags(record).await?;
    let missing: std::collections::BTreeMap<_, _> =
        tags.iter().filter(|(k, _)| !theirs.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !missing.is_empty() {
        target.set_tags(record, missing).await?;
    }
    if let Some((key, _)) = tags.iter().find(|(k, v)| theirs.get(*k).is_some_and(|theirs| theirs != *v)) {
        return Err(differs(format!("tag `{key}` of {record}"), "the target has another value"));
    }
    Ok(())
}

async fn copy_run_children(
    source: &dyn MetadataStore,
    target: &dyn MetadataStore,
    run: &TrainingRun,
) -> Result<u64> {
    let params = source.get_hyperparameters(run.id).await?;
    let theirs = target.get_hyperparameters(run.id).await?;
    // Like records, a hyperparameter the target already has is kept as it is (the check
    // afterwards names it if it differs); only missing names are logged.
    let missing: std::collections::BTreeMap<_, _> = params
        .iter()
        .filter(|(k, _)| !theirs.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !missing.is_empty() {
        target.log_hyperparameters(run.id, missing).await?;
    }
    let metrics = source.get_metrics(run.id, None).await?;
    let theirs = target.get_metrics(run.id, None).await?;
    // Metrics have no ids: what the target holds must be where the source's begin, and
    // only the rest is logged (a re-run logs nothing, a resumed one the remainder).
    if theirs.len() < metrics.len() {
        if !metrics.starts_with(&theirs) {
            return Err(differs(format!("the metrics of training_run {}", run.id), "the target has others"));
        }
        let rest: Vec<NewMetric> = metrics[theirs.len()..]
            .iter()
            .map(|m| {
                let mut new = NewMetric::new(m.metric_name.clone(), m.metric_value)
                    .with_split(m.split.clone())
                    .with_timestamp(m.timestamp);
                new.epoch = m.epoch;
                new.step = m.step;
                new
            })
            .collect();
        target.log_metrics(run.id, rest).await?;
    }
    Ok((params.len() + metrics.len()) as u64)
}
