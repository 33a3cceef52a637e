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

    fn query(pairs: &[(&str, Option<String>)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }

    async fn search<T: DeserializeOwned + OptionalJson>(
        remote: &Remote,
        collection: &str,
        pairs: &[(&str, Option<String>)],
    ) -> Result<Vec<SearchHit<T>>> {
        let answer =
            remote.call(Method::GET, &format!("api/v1/{collection}/search?{}", query(pairs)), None).await?;
        let Value::Array(items) = answer else {
            return Err(Error::backend("search", "the server's answer is not a list"));
        };
        items
            .into_iter()
            .map(|mut item| {
                let score = item.as_object_mut().and_then(|m| m.remove("similarity_score"));
                let similarity_score = score.and_then(|s| s.as_f64()).unwrap_or_default() as f32;
                Ok(SearchHit { item: aimdb_remote::wire::from_value(item, "")?, similarity_score })
            })
            .collect()
    }

    pub(crate) async fn models(
        remote: &Remote,
        q: &str,
        n: usize,
        f: &ModelFilter,
    ) -> Result<Vec<SearchHit<Model>>> {
        let pairs = [
            ("q", Some(q.to_owned())),
            ("n", Some(n.to_string())),
            ("framework", f.framework.clone()),
            ("architecture", f.architecture.clone()),
            ("task_type", f.task_type.clone()),
        ];
        search(remote, "models", &pairs).await
    }

    pub(crate) async fn datasets(
        remote: &Remote,
        q: &str,
        n: usize,
        f: &DatasetFilter,
    ) -> Result<Vec<SearchHit<Dataset>>> {
        let pairs = [("q", Some(q.to_owned())), ("n", Some(n.to_string())), ("format", f.format.clone())];
        search(remote, "datasets", &pairs).await
    }

    pub(crate) async fn predictions(
        remote: &Remote,
        q: &str,
        n: usize,
        f: &PredictionFilter,
    ) -> Result<Vec<SearchHit<Prediction>>> {
        let pairs = [
            ("q", Some(q.to_owned())),
            ("n", Some(n.to_string())),
            ("model_version_id", f.model_version_id.map(|id| id.to_string())),
        ];
        search(remote, "predictions", &pairs).await
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
        _: &str,
        _: usize,
        _: &ModelFilter,
    ) -> Result<Vec<SearchHit<Model>>> {
        match *r {}
    }
    pub(crate) async fn datasets(
        r: &Remote,
        _: &str,
        _: usize,
        _: &DatasetFilter,
    ) -> Result<Vec<SearchHit<Dataset>>> {
        match *r {}
    }
    pub(crate) async fn predictions(
        r: &Remote,
        _: &str,
        _: usize,
        _: &PredictionFilter,
    ) -> Result<Vec<SearchHit<Prediction>>> {
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
