//! `aimdb.Database`: the seed's methods, with its parameter names and positional order.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aimdb::{
    AiDatabase, Collection, DatasetId, ExperimentId, MetadataStore, ModelId, ModelVersionId, NewDataset,
    NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction, NewTrainingRun,
    Page, TrainingRunId, TrainingRunUpdate,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tokio::runtime::Runtime;

use crate::{convert, errors, inputs, runtime};

/// The most records one `list_*` call returns.
const MAX_LIST: u32 = 10_000;

/// An id (`int`) or a unique name (`str`).
#[derive(FromPyObject)]
pub(crate) enum Key {
    /// By id.
    Id(i64),
    /// By name.
    Name(String),
}

/// An open aimdb database. Made by `create_ai_database(...)`; a context manager that
/// closes it on exit.
///
/// Creates return the new record's `int` id; reads return `dict`s with the seed's field
/// names. Every call releases the GIL while the engine works.
#[pyclass(frozen, module = "aimdb")]
pub(crate) struct Database {
    /// `None` once closed.
    inner: RwLock<Option<AiDatabase>>,
    /// The process that opened it: connections and the index belong to it.
    pid: u32,
    /// Kept to drop the database inside it (pools shut down through tokio).
    runtime: Arc<Runtime>,
    /// `backend location` for `repr`.
    label: String,
}

impl Database {
    pub(crate) fn new(db: AiDatabase) -> PyResult<Self> {
        let info = db.store().info();
        let index = match db.config().vectors.as_ref() {
            Some(aimdb::config::VectorConfig::Faiss(faiss)) => format!(" + faiss {}", faiss.path.display()),
            Some(aimdb::config::VectorConfig::Chroma(chroma)) => format!(" + chroma {}", chroma.url),
            _ => String::new(),
        };
        Ok(Database {
            label: format!("{} {}{index}", info.backend, info.location),
            inner: RwLock::new(Some(db)),
            pid: std::process::id(),
            runtime: runtime::runtime()?,
        })
    }

    /// Runs `call` on the open database with the GIL released.
    fn run<T, F, Fut>(&self, py: Python<'_>, call: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(AiDatabase) -> Fut,
        Fut: std::future::Future<Output = aimdb::Result<T>> + Send,
    {
        let db = self.db()?;
        runtime::block_on(py, call(db))
    }

    /// The open database, or why there is none.
    fn db(&self) -> PyResult<AiDatabase> {
        if std::process::id() != self.pid {
            return Err(errors::raise(
                "AimdbError",
                format!(
                    "this database was opened in process {} and cannot be used after fork; \
                     call create_ai_database again in the child",
                    self.pid
                ),
            ));
        }
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or_else(|| errors::raise("AimdbError", "the database is closed"))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Pools and the index's flusher are tokio tasks: drop them with the runtime entered.
        if std::process::id() == self.pid {
            let _entered = self.runtime.enter();
            self.inner.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        } else {
            // Another process's connections: forgetting them is all a child can do.
            std::mem::forget(self.inner.get_mut().unwrap_or_else(|p| p.into_inner()).take());
        }
    }
}

fn page(limit: u32, after: Option<i64>) -> PyResult<Page> {
    if limit == 0 || limit > MAX_LIST {
        return Err(errors::invalid("limit", format!("between 1 and {MAX_LIST}, got {limit}")));
    }
    let page = Page::first(limit);
    Ok(match after {
        Some(id) => page.after(id),
        None => page,
    })
}

fn collection(name: &str) -> PyResult<Collection> {
    Collection::ALL.into_iter().find(|c| c.as_str() == name).ok_or_else(|| {
        errors::invalid("collection", format!("`{name}`: expected models, datasets or predictions"))
    })
}

#[pymethods]
impl Database {
    fn __repr__(&self) -> String {
        let state = if self.inner.read().map(|g| g.is_none()).unwrap_or(false) { " (closed)" } else { "" };
        format!("<aimdb.Database {}{state}>", self.label)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Flushes the vector index and closes the store; later calls raise `AimdbError`.
    /// Closing twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.inner.write().unwrap_or_else(|p| p.into_inner()).take();
        match taken {
            // Taken out already: `run` would find the database closed.
            Some(db) if std::process::id() == self.pid => {
                runtime::block_on(py, async move { db.close().await })
            }
            Some(db) => {
                std::mem::forget(db);
                Ok(())
            }
            None => Ok(()),
        }
    }

    // ---- models -------------------------------------------------------------------

    /// Registers a model and indexes its description for search; returns its id.
    #[pyo3(signature = (name, description=None, architecture=None, framework=None, task_type=None, input_shape=None, output_shape=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_model(
        &self,
        py: Python<'_>,
        name: String,
        description: Option<String>,
        architecture: Option<String>,
        framework: Option<String>,
        task_type: Option<String>,
        input_shape: Option<&Bound<'_, PyAny>>,
        output_shape: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let mut model = NewModel::new(name);
        model.description = description;
        model.architecture = architecture;
        model.framework = framework;
        model.task_type = task_type;
        model.input_shape = inputs::json("input_shape", input_shape)?;
        model.output_shape = inputs::json("output_shape", output_shape)?;
        Ok(self.run(py, move |db| async move { db.create_model(model).await })?.id.0)
    }

    /// A model by id (`int`) or name (`str`); `NotFound` if there is none.
    fn get_model<'py>(&self, py: Python<'py>, model: Key) -> PyResult<Bound<'py, PyDict>> {
        let found = self.run(py, move |db| async move {
            match model {
                Key::Id(id) => db.get_model(ModelId(id)).await,
                Key::Name(name) => db.get_model_by_name(&name).await,
            }
        })?;
        convert::model(py, &found)
    }

    /// Models in id order, `limit` at a time; pass the last id seen as `after` for the next page.
    #[pyo3(signature = (limit=100, after=None))]
    fn list_models<'py>(
        &self,
        py: Python<'py>,
        limit: u32,
        after: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let page = page(limit, after)?;
        let models = self.run(py, move |db| async move { db.list_models(page).await })?;
        convert::list(py, &models, convert::model)
    }

    /// Models most similar in meaning to `query`, best first, each a model `dict` plus
    /// `similarity_score` in [0, 1]. Filters: `framework`, `architecture`, `task_type`.
    #[pyo3(signature = (query, n_results=5, **filters))]
    fn search_similar_models<'py>(
        &self,
        py: Python<'py>,
        query: String,
        n_results: usize,
        filters: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let filter = inputs::model_filter(filters)?;
        let hits = self
            .run(py, move |db| async move { db.search_similar_models(&query, n_results, &filter).await })?;
        convert::list(py, &hits, |py, hit| convert::hit(py, hit, convert::model))
    }

    // ---- model versions -------------------------------------------------------------

    /// Registers version `version` of model `model_id`; returns its id.
    #[pyo3(signature = (model_id, version, checkpoint_path=None, config=None, status=None))]
    fn create_model_version(
        &self,
        py: Python<'_>,
        model_id: i64,
        version: String,
        checkpoint_path: Option<String>,
        config: Option<&Bound<'_, PyAny>>,
        status: Option<String>,
    ) -> PyResult<i64> {
        let mut new = NewModelVersion::new(ModelId(model_id), version);
        new.checkpoint_path = checkpoint_path;
        new.config = inputs::json("config", config)?;
        new.status = status;
        Ok(self.run(py, move |db| async move { db.create_model_version(new).await })?.id.0)
    }

    /// The versions of model `model_id`, newest first.
    fn get_model_versions<'py>(&self, py: Python<'py>, model_id: i64) -> PyResult<Bound<'py, PyList>> {
        let versions =
            self.run(py, move |db| async move { db.get_model_versions(ModelId(model_id)).await })?;
        convert::list(py, &versions, convert::version)
    }

    /// One model version by id.
    fn get_model_version<'py>(&self, py: Python<'py>, version_id: i64) -> PyResult<Bound<'py, PyDict>> {
        let version =
            self.run(py, move |db| async move { db.get_model_version(ModelVersionId(version_id)).await })?;
        convert::version(py, &version)
    }

    // ---- datasets -------------------------------------------------------------------

    /// Registers a dataset and indexes its description for search; returns its id.
    #[pyo3(signature = (name, description=None, source_path=None, format=None, size_bytes=None, num_samples=None, split_info=None, preprocessing=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_dataset(
        &self,
        py: Python<'_>,
        name: String,
        description: Option<String>,
        source_path: Option<String>,
        format: Option<String>,
        size_bytes: Option<i64>,
        num_samples: Option<i64>,
        split_info: Option<&Bound<'_, PyAny>>,
        preprocessing: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let mut dataset = NewDataset::new(name);
        dataset.description = description;
        dataset.source_path = source_path;
        dataset.format = format;
        dataset.size_bytes = size_bytes;
        dataset.num_samples = num_samples;
        dataset.split_info = inputs::json("split_info", split_info)?;
        dataset.preprocessing = inputs::json("preprocessing", preprocessing)?;
        Ok(self.run(py, move |db| async move { db.create_dataset(dataset).await })?.id.0)
    }

    /// A dataset by id (`int`) or name (`str`).
    fn get_dataset<'py>(&self, py: Python<'py>, dataset: Key) -> PyResult<Bound<'py, PyDict>> {
        let found = self.run(py, move |db| async move {
            match dataset {
                Key::Id(id) => db.get_dataset(DatasetId(id)).await,
                Key::Name(name) => db.get_dataset_by_name(&name).await,
            }
        })?;
        convert::dataset(py, &found)
    }

    /// Datasets in id order, `limit` at a time (`after`: the last id seen).
    #[pyo3(signature = (limit=100, after=None))]
    fn list_datasets<'py>(
        &self,
        py: Python<'py>,
        limit: u32,
        after: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let page = page(limit, after)?;
        let datasets = self.run(py, move |db| async move { db.list_datasets(page).await })?;
        convert::list(py, &datasets, convert::dataset)
    }

    /// Datasets most similar in meaning to `query`, best first. Filter: `format`.
    #[pyo3(signature = (query, n_results=5, **filters))]
    fn search_similar_datasets<'py>(
        &self,
        py: Python<'py>,
        query: String,
        n_results: usize,
        filters: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let filter = inputs::dataset_filter(filters)?;
        let hits = self
            .run(py, move |db| async move { db.search_similar_datasets(&query, n_results, &filter).await })?;
        convert::list(py, &hits, |py, hit| convert::hit(py, hit, convert::dataset))
    }

    // ---- training runs --------------------------------------------------------------

    /// Starts a training run of model version `model_version_id` (`None`: linked later);
    /// returns its id.
    #[pyo3(signature = (model_version_id, dataset_id=None, run_name=None, status=None, started_at=None, artifacts=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_training_run(
        &self,
        py: Python<'_>,
        model_version_id: Option<i64>,
        dataset_id: Option<i64>,
        run_name: Option<String>,
        status: Option<String>,
        started_at: Option<&Bound<'_, PyAny>>,
        artifacts: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let mut run = match model_version_id {
            Some(id) => NewTrainingRun::new(ModelVersionId(id)),
            None => NewTrainingRun::without_version(),
        };
        run.dataset_id = dataset_id.map(DatasetId);
        run.run_name = run_name;
        run.status = status;
        run.started_at = inputs::timestamp("started_at", started_at)?;
        run.artifacts = inputs::json("artifacts", artifacts)?;
        Ok(self.run(py, move |db| async move { db.create_training_run(run).await })?.id.0)
    }

    /// Changes the given fields of run `run_id` (the others stay); returns the run.
    /// `status="completed"` without `completed_at` stamps it now.
    #[pyo3(signature = (run_id, status=None, final_loss=None, best_metric_value=None, completed_at=None, duration_seconds=None, artifacts=None, model_version_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn update_training_run<'py>(
        &self,
        py: Python<'py>,
        run_id: i64,
        status: Option<String>,
        final_loss: Option<f64>,
        best_metric_value: Option<f64>,
        completed_at: Option<&Bound<'_, PyAny>>,
        duration_seconds: Option<f64>,
        artifacts: Option<&Bound<'_, PyAny>>,
        model_version_id: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut update = TrainingRunUpdate::new();
        update.completed_at = inputs::timestamp("completed_at", completed_at)?;
        if status.as_deref() == Some("completed") && update.completed_at.is_none() {
            update = TrainingRunUpdate::completed();
        }
        update.status = status;
        update.final_loss = final_loss;
        update.best_metric_value = best_metric_value;
        update.duration_seconds = duration_seconds.or(update.duration_seconds);
        update.artifacts = inputs::json("artifacts", artifacts)?;
        update.model_version_id = model_version_id.map(ModelVersionId);
        let run = self
            .run(py, move |db| async move { db.update_training_run(TrainingRunId(run_id), update).await })?;
        convert::run(py, &run)
    }

    /// One training run by id.
    fn get_training_run<'py>(&self, py: Python<'py>, run_id: i64) -> PyResult<Bound<'py, PyDict>> {
        let run = self.run(py, move |db| async move { db.get_training_run(TrainingRunId(run_id)).await })?;
        convert::run(py, &run)
    }

    /// Training runs in id order, `limit` at a time (`after`: the last id seen).
    #[pyo3(signature = (limit=100, after=None))]
    fn list_training_runs<'py>(
        &self,
        py: Python<'py>,
        limit: u32,
        after: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let page = page(limit, after)?;
        let runs = self.run(py, move |db| async move { db.list_training_runs(page).await })?;
        convert::list(py, &runs, convert::run)
    }

    // ---- hyperparameters and metrics -------------------------------------------------

    /// Records `params` (`{name: value}`, values any JSON) for run `training_run_id`;
    /// re-logging a name overwrites it.
    fn log_hyperparameters(
        &self,
        py: Python<'_>,
        training_run_id: i64,
        params: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let mut map = BTreeMap::new();
        for (name, value) in params.iter() {
            let name: String = name
                .extract()
                .map_err(|_| pyo3::exceptions::PyTypeError::new_err("params: keys must be str"))?;
            let value = inputs::json_required(&format!("params.{name}"), &value)?;
            map.insert(name, value);
        }
        self.run(
            py,
            move |db| async move { db.log_hyperparameters(TrainingRunId(training_run_id), map).await },
        )
    }

    /// The hyperparameters of run `training_run_id` as `{name: value}`.
    fn get_hyperparameters<'py>(
        &self,
        py: Python<'py>,
        training_run_id: i64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let params = self
            .run(py, move |db| async move { db.get_hyperparameters(TrainingRunId(training_run_id)).await })?;
        convert::hyperparameters(py, &params)
    }

    /// Records one metric point (`split` is `"train"` unless given; `timestamp` now).
    #[pyo3(signature = (training_run_id, metric_name, metric_value, epoch=None, step=None, split=None, timestamp=None))]
    #[allow(clippy::too_many_arguments)]
    fn log_metric(
        &self,
        py: Python<'_>,
        training_run_id: i64,
        metric_name: String,
        metric_value: f64,
        epoch: Option<i64>,
        step: Option<i64>,
        split: Option<String>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut metric = NewMetric::new(metric_name, metric_value);
        metric.epoch = epoch;
        metric.step = step;
        metric.split = split;
        metric.timestamp = inputs::timestamp("timestamp", timestamp)?;
        self.run(py, move |db| async move { db.log_metric(TrainingRunId(training_run_id), metric).await })
            .map(drop)
    }

    /// Records many points at once, all or none: each a `dict` with `metric_name`,
    /// `metric_value` and optionally `epoch`, `step`, `split`, `timestamp`. Returns how many.
    fn log_metrics(
        &self,
        py: Python<'_>,
        training_run_id: i64,
        metrics: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let mut batch = Vec::with_capacity(metrics.len().unwrap_or(0));
        for (index, item) in metrics.try_iter()?.enumerate() {
            batch.push(inputs::metric(&item?, index)?);
        }
        self.run(py, move |db| async move { db.log_metrics(TrainingRunId(training_run_id), batch).await })
    }

    /// The points of run `training_run_id` in logging order, of one metric if named.
    #[pyo3(signature = (training_run_id, metric_name=None))]
    fn get_metrics<'py>(
        &self,
        py: Python<'py>,
        training_run_id: i64,
        metric_name: Option<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let metrics = self.run(py, move |db| async move {
            db.get_metrics(TrainingRunId(training_run_id), metric_name.as_deref()).await
        })?;
        convert::metrics(py, &metrics)
    }

    // ---- predictions ----------------------------------------------------------------

    /// Records one prediction of model version `model_version_id` and indexes it for
    /// search; returns its id. `input_data`, `output_data`, `metadata`: any JSON.
    #[pyo3(signature = (model_version_id, input_data, output_data, confidence=None, inference_time_ms=None, metadata=None, timestamp=None))]
    #[allow(clippy::too_many_arguments)]
    fn log_prediction(
        &self,
        py: Python<'_>,
        model_version_id: i64,
        input_data: &Bound<'_, PyAny>,
        output_data: &Bound<'_, PyAny>,
        confidence: Option<f64>,
        inference_time_ms: Option<f64>,
        metadata: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let mut prediction = NewPrediction::new(
            ModelVersionId(model_version_id),
            inputs::json_required("input_data", input_data)?,
            inputs::json_required("output_data", output_data)?,
        );
        prediction.confidence = confidence;
        prediction.inference_time_ms = inference_time_ms;
        prediction.metadata = inputs::json("metadata", metadata)?;
        prediction.timestamp = inputs::timestamp("timestamp", timestamp)?;
        Ok(self.run(py, move |db| async move { db.log_prediction(prediction).await })?.id.0)
    }

    /// Records many predictions of one model version at once, all or none: each a `dict`
    /// with `input_data`, `output_data` and optionally `confidence`, `inference_time_ms`,
    /// `metadata`, `timestamp`. Returns their ids in order.
    fn log_predictions(
        &self,
        py: Python<'_>,
        model_version_id: i64,
        predictions: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<i64>> {
        let version = ModelVersionId(model_version_id);
        let mut batch = Vec::with_capacity(predictions.len().unwrap_or(0));
        for (index, item) in predictions.try_iter()?.enumerate() {
            batch.push(inputs::prediction(&item?, version, index)?);
        }
        let stored = self.run(py, move |db| async move { db.log_predictions(batch).await })?;
        Ok(stored.iter().map(|p| p.id.0).collect())
    }

    /// The latest `limit` predictions of model version `model_version_id`, newest first.
    #[pyo3(signature = (model_version_id, limit=100))]
    fn get_predictions<'py>(
        &self,
        py: Python<'py>,
        model_version_id: i64,
        limit: u32,
    ) -> PyResult<Bound<'py, PyList>> {
        if limit > MAX_LIST {
            return Err(errors::invalid("limit", format!("at most {MAX_LIST}, got {limit}")));
        }
        let predictions = self.run(py, move |db| async move {
            db.get_predictions(ModelVersionId(model_version_id), limit).await
        })?;
        convert::list(py, &predictions, convert::prediction)
    }

    /// Predictions whose input and output are most similar in meaning to `query`, best
    /// first. Filter: `model_version_id`.
    #[pyo3(signature = (query, n_results=10, **filters))]
    fn search_similar_predictions<'py>(
        &self,
        py: Python<'py>,
        query: String,
        n_results: usize,
        filters: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let filter = inputs::prediction_filter(filters)?;
        let hits = self.run(py, move |db| async move {
            db.search_similar_predictions(&query, n_results, &filter).await
        })?;
        convert::list(py, &hits, |py, hit| convert::hit(py, hit, convert::prediction))
    }

    // ---- experiments ----------------------------------------------------------------

    /// Registers an experiment; returns its id.
    #[pyo3(signature = (name, description=None, hypothesis=None, status=None, results=None, completed_at=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_experiment(
        &self,
        py: Python<'_>,
        name: String,
        description: Option<String>,
        hypothesis: Option<String>,
        status: Option<String>,
        results: Option<&Bound<'_, PyAny>>,
        completed_at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let mut experiment = NewExperiment::new(name);
        experiment.description = description;
        experiment.hypothesis = hypothesis;
        experiment.status = status;
        experiment.results = inputs::json("results", results)?;
        experiment.completed_at = inputs::timestamp("completed_at", completed_at)?;
        Ok(self.run(py, move |db| async move { db.create_experiment(experiment).await })?.id.0)
    }

    /// One experiment by id.
    fn get_experiment<'py>(&self, py: Python<'py>, experiment_id: i64) -> PyResult<Bound<'py, PyDict>> {
        let experiment =
            self.run(py, move |db| async move { db.get_experiment(ExperimentId(experiment_id)).await })?;
        convert::experiment(py, &experiment)
    }

    /// Adds run `training_run_id` to experiment `experiment_id` as variant `variant_name`.
    #[pyo3(signature = (experiment_id, training_run_id, variant_name=None, notes=None))]
    fn add_experiment_run(
        &self,
        py: Python<'_>,
        experiment_id: i64,
        training_run_id: i64,
        variant_name: Option<String>,
        notes: Option<String>,
    ) -> PyResult<()> {
        let mut link = NewExperimentRun::new(ExperimentId(experiment_id), TrainingRunId(training_run_id));
        link.variant_name = variant_name;
        link.notes = notes;
        self.run(py, move |db| async move { db.add_experiment_run(link).await }).map(drop)
    }

    /// The runs of experiment `experiment_id` with their variant, notes, status,
    /// `final_loss` and `best_metric_value`.
    fn get_experiment_runs<'py>(&self, py: Python<'py>, experiment_id: i64) -> PyResult<Bound<'py, PyList>> {
        let runs =
            self.run(py, move |db| async move { db.get_experiment_runs(ExperimentId(experiment_id)).await })?;
        convert::list(py, &runs, convert::experiment_run)
    }

    // ---- the database and its index ------------------------------------------------

    /// Counts of every entity (`models`, ..., `completed_runs`), the backend, and the
    /// vector index's state (`index`: collections, embedder, failed vector writes).
    fn get_statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = self.run(py, move |db| async move { db.get_statistics().await })?;
        convert::statistics(py, &stats)
    }

    /// Rebuilds the vector index from the store with the current embedder; returns how
    /// many models, datasets and predictions it embedded.
    fn reindex<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = self.run(py, move |db| async move { db.reindex().await })?;
        convert::value(py, &report)
    }

    /// Rebuilds one collection's index (`"models"`, `"datasets"`, `"predictions"`) in the
    /// type that suits its size; returns its kind, trained flag and vector count.
    fn optimize_index<'py>(&self, py: Python<'py>, collection_name: &str) -> PyResult<Bound<'py, PyAny>> {
        let collection = collection(collection_name)?;
        let info = self.run(py, move |db| async move { db.optimize_index(collection).await })?;
        convert::value(py, &info)
    }
}
