//! The database when the store is an `aimdb serve` server: searches, statistics and index
//! operations are the server's, one request each (it holds the index and the embedder).

use aimdb_core::{Collection, CollectionInfo, Dataset, Model, Prediction, Result};

use crate::database::{ReindexReport, Statistics};
use crate::search::{DatasetFilter, ModelFilter, PredictionFilter, SearchHit};

/// The server's client; a type with no values when the `remote` feature is off, so the
/// database's remote branches compile away.
#[cfg(feature = "remote")]
pub(crate) type Remote = aimdb_remote::RemoteStore;

/// No remote store in this build.
#[cfg(not(feature = "remote"))]
#[derive(Debug)]
pub(crate) enum Remote {}

#[cfg(feature = "remote")]
mod calls {
    use aimdb_core::{Error, OptionalJson};
    use aimdb_remote::Method;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::*;

    /// One request for the whole batch: `POST .../search` with the queries and the filter's
    /// fields, answered with one list of hits per query.
    async fn search<T: DeserializeOwned + OptionalJson>(
        remote: &Remote,
        collection: &str,
        queries: &[&str],
        n: usize,
        filter: &[(&str, Option<Value>)],
    ) -> Result<Vec<Vec<SearchHit<T>>>> {
        let mut body = serde_json::Map::new();
        body.insert("queries".into(), queries.into());
        body.insert("n".into(), n.into());
        for (key, value) in filter {
            if let Some(value) = value {
                body.insert((*key).into(), value.clone());
            }
        }
        let answer = remote
            .call(Method::POST, &format!("api/v1/{collection}/search"), Some(&Value::Object(body)))
            .await?;
        let not_lists = || Error::backend("search", "the server's answer is not a list of lists");
        let Value::Array(lists) = answer else { return Err(not_lists()) };
        lists
            .into_iter()
            .map(|list| {
                let Value::Array(items) = list else { return Err(not_lists()) };
                items
                    .into_iter()
                    .map(|mut item| {
                        let score = item.as_object_mut().and_then(|m| m.remove("similarity_score"));
                        let similarity_score = score.and_then(|s| s.as_f64()).unwrap_or_default() as f32;
                        Ok(SearchHit { item: aimdb_remote::wire::from_value(item, "")?, similarity_score })
                    })
                    .collect()
            })
            .collect()
    }

    pub(crate) async fn models(
        remote: &Remote,
        queries: &[&str],
        n: usize,
        f: &ModelFilter,
    ) -> Result<Vec<Vec<SearchHit<Model>>>> {
        let filter = [
            ("framework", f.framework.clone().map(Value::from)),
            ("architecture", f.architecture.clone().map(Value::from)),
            ("task_type", f.task_type.clone().map(Value::from)),
        ];
        search(remote, "models", queries, n, &filter).await
    }

    pub(crate) async fn datasets(
        remote: &Remote,
        queries: &[&str],
        n: usize,
        f: &DatasetFilter,
    ) -> Result<Vec<Vec<SearchHit<Dataset>>>> {
        search(remote, "datasets", queries, n, &[("format", f.format.clone().map(Value::from))]).await
    }

    pub(crate) async fn predictions(
        remote: &Remote,
        queries: &[&str],
        n: usize,
        f: &PredictionFilter,
    ) -> Result<Vec<Vec<SearchHit<Prediction>>>> {
        let filter = [("model_version_id", f.model_version_id.map(|id| Value::from(id.0)))];
        search(remote, "predictions", queries, n, &filter).await
    }

    pub(crate) async fn statistics(remote: &Remote) -> Result<Statistics> {
        remote.call_as(Method::GET, "api/v1/stats", None).await
    }

    pub(crate) async fn reindex(remote: &Remote) -> Result<ReindexReport> {
        remote.call_as(Method::POST, "api/v1/reindex", None).await
    }

    pub(crate) async fn optimize(remote: &Remote, collection: Collection) -> Result<CollectionInfo> {
        remote.call_as(Method::POST, &format!("api/v1/optimize/{collection}"), None).await
    }
}

#[cfg(not(feature = "remote"))]
mod calls {
    use super::*;

    pub(crate) async fn models(
        r: &Remote,
        _: &[&str],
        _: usize,
        _: &ModelFilter,
    ) -> Result<Vec<Vec<SearchHit<Model>>>> {
        match *r {}
    }
    pub(crate) async fn datasets(
        r: &Remote,
        _: &[&str],
        _: usize,
        _: &DatasetFilter,
    ) -> Result<Vec<Vec<SearchHit<Dataset>>>> {
        match *r {}
    }
    pub(crate) async fn predictions(
        r: &Remote,
        _: &[&str],
        _: usize,
        _: &PredictionFilter,
    ) -> Result<Vec<Vec<SearchHit<Prediction>>>> {
        match *r {}
    }
    pub(crate) async fn statistics(r: &Remote) -> Result<Statistics> {
        match *r {}
    }
    pub(crate) async fn reindex(r: &Remote) -> Result<ReindexReport> {
        match *r {}
    }
    pub(crate) async fn optimize(r: &Remote, _: Collection) -> Result<CollectionInfo> {
        match *r {}
    }
}

pub(crate) use calls::{datasets, models, optimize, predictions, reindex, statistics};
