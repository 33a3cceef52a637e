//! `RemoteStore`: every `MetadataStore` call is one HTTP request to `aimdb serve`.

use std::collections::BTreeMap;

use aimdb_core::request::{validate_hyperparameters, validate_metrics, validate_predictions};
use aimdb_core::{
    Capabilities, Dataset, DatasetId, Error, Experiment, ExperimentId, ExperimentRun, ExperimentRunDetail,
    ImportBatch, MetadataStore, Metric, Model, ModelId, ModelVersion, ModelVersionId, NewDataset,
    NewExperiment, NewExperimentRun, NewMetric, NewModel, NewModelVersion, NewPrediction, NewTrainingRun,
    OptionalJson, Page, Prediction, PredictionId, Result, StoreInfo, StoreStatistics, TagTarget, TrainingRun,
    TrainingRunId, TrainingRunUpdate, validate_tags,
};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::RemoteConfig;
use crate::wire::{self, ErrorBody};

/// What the server says about the store behind it (`GET /api/v1/info`).
#[derive(Debug, Deserialize)]
struct ServerInfo {
    capabilities: Capabilities,
}

/// A [`MetadataStore`] served by `aimdb serve`. Requests are validated here first, as every
/// store does, so bad input fails without a round trip and the same way as in process.
#[derive(Debug, Clone)]
pub struct RemoteStore {
    http: reqwest::Client,
    config: RemoteConfig,
    capabilities: Capabilities,
}

impl RemoteStore {
    /// Connects and asks the server what it serves; [`Error::Unavailable`] when it does not
    /// answer, [`Error::Config`] when the token is refused.
    pub async fn open(config: RemoteConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Config { message: "HTTP client".into(), source: Some(e.into()) })?;
        let mut store = RemoteStore { http, config, capabilities: Capabilities::server() };
        let info: ServerInfo = wire::decode(store.call(Method::GET, "api/v1/info", None).await?, "info")?;
        // Many clients share one server: shared whatever the store behind it is.
        store.capabilities = info.capabilities;
        store.capabilities.shared = true;
        Ok(store)
    }

    /// The configuration this store was opened with.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// One request: `path` relative to the server's base URL (`api/v1/models`), an optional
    /// JSON body; the JSON answer, or the server's error as an [`Error`].
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let body = body.map(serde_json::to_vec).transpose().map_err(|e| Error::backend("encode JSON", e))?;
        self.call_raw(method, path, body).await
    }

    /// [`call`](Self::call) with the body already encoded as JSON text.
    async fn call_raw(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Value> {
        let url = self.config.url.join(path).map_err(|e| Error::invalid("path", format!("`{path}`: {e}")))?;
        let mut request = self.http.request(method.clone(), url);
        if let Some(token) = &self.config.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let what = || format!("{method} {}{path}", self.config.url);
        let response = request.send().await.map_err(|e| transport(what(), e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport(what(), e))?;
        if status.is_success() {
            if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes)
                .map_err(|e| Error::backend(format!("{}: the answer is not JSON", what()), e));
        }
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => body.error.into_error(),
            // Not aimdb's answer: a proxy in front of a stopped server says 502/503/504.
            Err(_) if matches!(status.as_u16(), 502..=504) => {
                Error::Unavailable { message: format!("{}: {status}", what()), source: None }
            }
            Err(_) => Error::Backend {
                message: format!(
                    "{}: {status}: {}",
                    what(),
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
                source: None,
            },
        })
    }

    /// [`call`](Self::call), the answer decoded as `T` (plain serde).
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let value = self.call(method, path, body).await?;
        decode_answer(value)
    }

    async fn get<T: DeserializeOwned + OptionalJson>(&self, path: &str) -> Result<T> {
        wire::from_value(self.call(Method::GET, path, None).await?, "").map_err(bad_answer)
    }

    async fn get_list<T: DeserializeOwned + OptionalJson>(&self, path: &str) -> Result<Vec<T>> {
        wire::from_values(self.call(Method::GET, path, None).await?, "").map_err(bad_answer)
    }

    async fn send<T: DeserializeOwned + OptionalJson>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T> {
        wire::from_value(self.call(method, path, Some(body)).await?, "").map_err(bad_answer)
    }

    async fn lookup<T: DeserializeOwned + OptionalJson>(
        &self,
        collection: &str,
        ids: Vec<i64>,
    ) -> Result<Vec<T>> {
        let body = json!({ "ids": ids });
        wire::from_values(
            self.call(Method::POST, &format!("api/v1/{collection}/lookup"), Some(&body)).await?,
            "",
        )
        .map_err(bad_answer)
    }
}

fn decode_answer<T: DeserializeOwned>(value: Value) -> Result<T> {
    wire::decode(value, "").map_err(bad_answer)
}

/// An answer that does not decode is the server's fault (another version?), not the caller's.
fn bad_answer(e: Error) -> Error {
    Error::Backend { message: format!("unexpected answer from the server: {e}"), source: None }
}

/// No answer at all: the server is down, restarting or unreachable, so the call may
/// succeed later.
fn transport(what: String, e: reqwest::Error) -> Error {
    if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() {
        Error::unavailable(what, e)
    } else {
        Error::backend(what, e)
    }
}

fn page_query(page: Page) -> String {
    let mut query = Vec::new();
    if let Some(after) = page.after {
        query.push(format!("after={after}"));
    }
    if let Some(limit) = page.limit {
        query.push(format!("limit={limit}"));
    }
    if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) }
}

fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// `api/v1/{kind}/{id}/tags` for the record a tag is on.
fn tags_path(target: TagTarget) -> String {
    let kind = match target {
        TagTarget::Model(_) => "models",
        TagTarget::ModelVersion(_) => "versions",
        TagTarget::TrainingRun(_) => "runs",
        TagTarget::Experiment(_) => "experiments",
    };
    format!("api/v1/{kind}/{}/tags", target.id())
}

#[async_trait]
impl MetadataStore for RemoteStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "remote",
            location: self.config.url.to_string(),
            capabilities: self.capabilities,
        }
    }

    async fn create_model(&self, model: NewModel) -> Result<Model> {
        model.validate()?;
        self.send(Method::POST, "api/v1/models", &wire::to_value(&model)?).await
    }
    async fn get_model(&self, id: ModelId) -> Result<Model> {
        self.get(&format!("api/v1/models/{id}")).await
    }
    async fn get_model_by_name(&self, name: &str) -> Result<Model> {
        self.get(&format!("api/v1/models/by-name/{}", segment(name))).await
    }
    async fn get_models_by_ids(&self, ids: &[ModelId]) -> Result<Vec<Model>> {
        self.lookup("models", ids.iter().map(|id| id.get()).collect()).await
    }
    async fn list_models(&self, page: Page) -> Result<Vec<Model>> {
        self.get_list(&format!("api/v1/models{}", page_query(page))).await
    }

    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        version.validate()?;
        self.send(Method::POST, "api/v1/versions", &wire::to_value(&version)?).await
    }
    async fn get_model_version(&self, id: ModelVersionId) -> Result<ModelVersion> {
        self.get(&format!("api/v1/versions/{id}")).await
    }
    async fn get_model_versions(&self, model_id: ModelId) -> Result<Vec<ModelVersion>> {
        self.get_list(&format!("api/v1/models/{model_id}/versions")).await
    }

    async fn create_dataset(&self, dataset: NewDataset) -> Result<Dataset> {
        dataset.validate()?;
        self.send(Method::POST, "api/v1/datasets", &wire::to_value(&dataset)?).await
    }
    async fn get_dataset(&self, id: DatasetId) -> Result<Dataset> {
        self.get(&format!("api/v1/datasets/{id}")).await
    }
    async fn get_dataset_by_name(&self, name: &str) -> Result<Dataset> {
        self.get(&format!("api/v1/datasets/by-name/{}", segment(name))).await
    }
    async fn get_datasets_by_ids(&self, ids: &[DatasetId]) -> Result<Vec<Dataset>> {
        self.lookup("datasets", ids.iter().map(|id| id.get()).collect()).await
    }
    async fn list_datasets(&self, page: Page) -> Result<Vec<Dataset>> {
        self.get_list(&format!("api/v1/datasets{}", page_query(page))).await
    }

    async fn create_training_run(&self, run: NewTrainingRun) -> Result<TrainingRun> {
        run.validate()?;
        self.send(Method::POST, "api/v1/runs", &wire::to_value(&run)?).await
    }
    async fn update_training_run(&self, id: TrainingRunId, update: TrainingRunUpdate) -> Result<TrainingRun> {
        update.validate()?;
        self.send(Method::PATCH, &format!("api/v1/runs/{id}"), &wire::to_value(&update)?).await
    }
    async fn get_training_run(&self, id: TrainingRunId) -> Result<TrainingRun> {
        self.get(&format!("api/v1/runs/{id}")).await
    }
    async fn list_training_runs(&self, page: Page) -> Result<Vec<TrainingRun>> {
        self.get_list(&format!("api/v1/runs{}", page_query(page))).await
    }

    async fn log_hyperparameters(&self, run: TrainingRunId, params: BTreeMap<String, Value>) -> Result<()> {
        validate_hyperparameters(&params)?;
        let body = serde_json::to_value(&params).map_err(|e| Error::backend("encode JSON", e))?;
        self.call(Method::POST, &format!("api/v1/runs/{run}/hyperparameters"), Some(&body)).await?;
        Ok(())
    }
    async fn get_hyperparameters(&self, run: TrainingRunId) -> Result<BTreeMap<String, Value>> {
        self.call_as(Method::GET, &format!("api/v1/runs/{run}/hyperparameters"), None).await
    }

    async fn set_tags(&self, target: TagTarget, tags: BTreeMap<String, String>) -> Result<()> {
        validate_tags(&tags)?;
        let body = serde_json::to_value(&tags).map_err(|e| Error::backend("encode JSON", e))?;
        self.call(Method::POST, &tags_path(target), Some(&body)).await?;
        Ok(())
    }
    async fn get_tags(&self, target: TagTarget) -> Result<BTreeMap<String, String>> {
        self.call_as(Method::GET, &tags_path(target), None).await
    }
    async fn delete_tag(&self, target: TagTarget, key: &str) -> Result<bool> {
        #[derive(Deserialize)]
        struct Deleted {
            deleted: bool,
        }
        let path = format!("{}/{}", tags_path(target), segment(key));
        Ok(self.call_as::<Deleted>(Method::DELETE, &path, None).await?.deleted)
    }

    async fn log_metric(&self, run: TrainingRunId, metric: NewMetric) -> Result<Metric> {
        metric.validate()?;
        let body = serde_json::to_value(&metric).map_err(|e| Error::backend("encode JSON", e))?;
        self.call_as(Method::POST, &format!("api/v1/runs/{run}/metrics"), Some(&body)).await
    }
    async fn log_metrics(&self, run: TrainingRunId, metrics: Vec<NewMetric>) -> Result<usize> {
        validate_metrics(&metrics)?;
        // Straight to text: a `Value` in between costs as much as the insert at 10k points.
        let body = serde_json::to_vec(&metrics).map_err(|e| Error::backend("encode JSON", e))?;
        #[derive(Deserialize)]
        struct Written {
            written: usize,
        }
        let answer = self.call_raw(Method::POST, &format!("api/v1/runs/{run}/metrics"), Some(body)).await?;
        Ok(decode_answer::<Written>(answer)?.written)
    }
    async fn get_metrics(&self, run: TrainingRunId, name: Option<&str>) -> Result<Vec<Metric>> {
        let query = name.map(|n| format!("?name={}", segment(n))).unwrap_or_default();
        self.call_as(Method::GET, &format!("api/v1/runs/{run}/metrics{query}"), None).await
    }

    async fn create_experiment(&self, experiment: NewExperiment) -> Result<Experiment> {
        experiment.validate()?;
        self.send(Method::POST, "api/v1/experiments", &wire::to_value(&experiment)?).await
    }
    async fn get_experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.get(&format!("api/v1/experiments/{id}")).await
    }
    async fn list_experiments(&self, page: Page) -> Result<Vec<Experiment>> {
        self.get_list(&format!("api/v1/experiments{}", page_query(page))).await
    }
    async fn add_experiment_run(&self, link: NewExperimentRun) -> Result<ExperimentRun> {
        link.validate()?;
        let body = serde_json::to_value(&link).map_err(|e| Error::backend("encode JSON", e))?;
        self.call_as(Method::POST, &format!("api/v1/experiments/{}/runs", link.experiment_id), Some(&body))
            .await
    }
    async fn get_experiment_runs(&self, id: ExperimentId) -> Result<Vec<ExperimentRunDetail>> {
        self.call_as(Method::GET, &format!("api/v1/experiments/{id}/runs"), None).await
    }

    async fn log_prediction(&self, prediction: NewPrediction) -> Result<Prediction> {
        prediction.validate()?;
        self.send(Method::POST, "api/v1/predictions", &wire::to_value(&prediction)?).await
    }
    async fn log_predictions(&self, predictions: Vec<NewPrediction>) -> Result<Vec<Prediction>> {
        validate_predictions(&predictions)?;
        let body = wire::to_values(&predictions)?;
        wire::from_values(self.call(Method::POST, "api/v1/predictions", Some(&body)).await?, "")
            .map_err(bad_answer)
    }
    async fn get_prediction(&self, id: PredictionId) -> Result<Prediction> {
        self.get(&format!("api/v1/predictions/{id}")).await
    }
    async fn get_predictions_by_ids(&self, ids: &[PredictionId]) -> Result<Vec<Prediction>> {
        self.lookup("predictions", ids.iter().map(|id| id.get()).collect()).await
    }
    async fn get_predictions(&self, version: ModelVersionId, limit: u32) -> Result<Vec<Prediction>> {
        self.get_list(&format!("api/v1/versions/{version}/predictions?limit={limit}")).await
    }
    async fn list_predictions(&self, page: Page) -> Result<Vec<Prediction>> {
        self.get_list(&format!("api/v1/predictions{}", page_query(page))).await
    }

    async fn import(&self, batch: ImportBatch) -> Result<u64> {
        batch.validate()?;
        #[derive(Deserialize)]
        struct Written {
            written: u64,
        }
        let body = wire::import_to_value(&batch)?;
        let answer: Written = self.call_as(Method::POST, "api/v1/import", Some(&body)).await?;
        Ok(answer.written)
    }

    async fn statistics(&self) -> Result<StoreStatistics> {
        // The server's statistics hold the counts at the top level, beside the index's.
        self.call_as(Method::GET, "api/v1/stats", None).await
    }

    /// Nothing to release but connections: the server's store stays open for its other clients.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
