//! `TextEmbedder`: the configured embedder the facade uses. Loads the model on first
//! use, falls back to the hash embedding (with a warning saying why) unless strict,
//! and caches vectors in a bounded LRU.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aimdb_core::config::{EmbeddingConfig, EmbeddingDevice};
use aimdb_core::{Embedder, EmbedderIdentity, Error, Result};
use async_trait::async_trait;
use candle_core::Device;
use lru::LruCache;
use tokio::sync::OnceCell;

use crate::bert::SentenceBert;
use crate::files::{self, hub_cache_dir};
use crate::hash::HashEmbedder;
use crate::openai::{OPENAI_PREFIX, OpenAiEmbedder};

/// Model name that selects the hash embedding on purpose (no warning).
pub const HASH_MODEL: &str = "hash";

#[derive(Debug)]
enum Backend {
    Transformer(Arc<SentenceBert>),
    OpenAi(OpenAiEmbedder),
    Hash { fallback_reason: Option<String> },
}

#[derive(Debug)]
struct Loaded {
    backend: Backend,
    identity: EmbedderIdentity,
}

/// The embedder described by an [`EmbeddingConfig`].
pub struct TextEmbedder {
    config: EmbeddingConfig,
    cache_dir: PathBuf,
    loaded: OnceCell<Loaded>,
    cache: Option<Mutex<LruCache<String, Arc<[f32]>>>>,
}

impl std::fmt::Debug for TextEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEmbedder")
            .field("config", &self.config)
            .field("loaded", &self.loaded.get())
            .finish()
    }
}

impl TextEmbedder {
    /// An embedder for `config`; nothing is loaded until first use.
    pub fn new(config: EmbeddingConfig) -> Self {
        let cache = NonZeroUsize::new(config.cache_size).map(|n| Mutex::new(LruCache::new(n)));
        TextEmbedder { config, cache_dir: hub_cache_dir(), loaded: OnceCell::new(), cache }
    }

    /// Looks for hub models in `dir` instead of the default Hugging Face cache.
    #[must_use]
    pub fn with_hub_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = dir.into();
        self
    }

    /// What is embedding: `transformer (model=all-MiniLM-L6-v2)`, `hash (model=sha256)`,
    /// or the hash fallback with its reason. Loads the model if needed.
    pub async fn backend(&self) -> Result<String> {
        let loaded = self.load().await?;
        let id = &loaded.identity;
        Ok(match &loaded.backend {
            Backend::Hash { fallback_reason: Some(reason) } => {
                format!("{} (model={}) as fallback: {reason}", id.kind, id.model)
            }
            _ => format!("{} (model={})", id.kind, id.model),
        })
    }

    async fn load(&self) -> Result<&Loaded> {
        self.loaded
            .get_or_try_init(|| async {
                if let Some(model) = self.config.model.strip_prefix(OPENAI_PREFIX) {
                    return load_openai(&self.config, model).await;
                }
                let config = self.config.clone();
                let cache_dir = self.cache_dir.clone();
                tokio::task::spawn_blocking(move || load(&config, &cache_dir))
                    .await
                    .map_err(|e| Error::backend("embedding model loader panicked", e))?
            })
            .await
    }

    fn cached(&self, text: &str) -> Option<Arc<[f32]>> {
        let cache = self.cache.as_ref()?;
        cache.lock().unwrap_or_else(|p| p.into_inner()).get(text).cloned()
    }

    fn remember(&self, text: &str, vector: &Arc<[f32]>) {
        if let Some(cache) = &self.cache {
            cache.lock().unwrap_or_else(|p| p.into_inner()).put(text.to_owned(), Arc::clone(vector));
        }
    }
}

fn device(choice: EmbeddingDevice) -> Result<Device> {
    match choice {
        EmbeddingDevice::Cpu => Ok(Device::Cpu),
        EmbeddingDevice::Auto => {
            Device::cuda_if_available(0).map_err(|e| Error::backend("probe CUDA device", e))
        }
        #[cfg(feature = "cuda")]
        EmbeddingDevice::Cuda => Device::new_cuda(0).map_err(|e| Error::backend("open CUDA device 0", e)),
        #[cfg(not(feature = "cuda"))]
        EmbeddingDevice::Cuda => {
            Err(Error::config("EMBEDDING_DEVICE=cuda, but aimdb-embed was built without its `cuda` feature"))
        }
    }
}

fn load(config: &EmbeddingConfig, cache_dir: &std::path::Path) -> Result<Loaded> {
    if config.model.eq_ignore_ascii_case(HASH_MODEL) {
        return Ok(Loaded {
            backend: Backend::Hash { fallback_reason: None },
            identity: HashEmbedder::identity(),
        });
    }
    let transformer = files::resolve(&config.model, cache_dir).and_then(|files| {
        SentenceBert::load_with(&files, device(config.device)?, config.normalize, config.precision)
    });
    match transformer {
        Ok(model) => {
            let identity = model.identity().clone();
            tracing::info!(target: "aimdb::embed", "embedding backend: {identity}");
            Ok(Loaded { backend: Backend::Transformer(Arc::new(model)), identity })
        }
        Err(e) => fallback(config, e),
    }
}

/// An OpenAI-compatible service: one probe request learns the dimension (the identity an
/// index records), so an unreachable service is found here, at first use.
async fn load_openai(config: &EmbeddingConfig, model: &str) -> Result<Loaded> {
    let service = match OpenAiEmbedder::configured(model, config.base_url.as_deref()) {
        // Services' vectors are unit-length already (OpenAI's are); normalising is the default.
        Ok(service) => {
            service.with_dimensions(config.dimensions).with_normalize(config.normalize.unwrap_or(true))
        }
        Err(e) => return fallback(config, e),
    };
    match service.identity().await {
        Ok(identity) => {
            tracing::info!(target: "aimdb::embed", "embedding backend: {identity}");
            Ok(Loaded { backend: Backend::OpenAi(service), identity })
        }
        Err(e) => fallback(config, e),
    }
}

/// The hash embedding in place of a model that cannot be used, said loudly; or the error,
/// when strict.
fn fallback(config: &EmbeddingConfig, e: Error) -> Result<Loaded> {
    if config.strict {
        return Err(e);
    }
    let reason = e.to_string();
    tracing::warn!(
        target: "aimdb::embed",
        "embedding model `{}` unavailable ({reason}); falling back to the hash embedding, \
         which only matches identical texts. Set EMBEDDING_STRICT=true to make this an error.",
        config.model
    );
    Ok(Loaded {
        backend: Backend::Hash { fallback_reason: Some(reason) },
        identity: HashEmbedder::identity(),
    })
}

#[async_trait]
impl Embedder for TextEmbedder {
    async fn identity(&self) -> Result<EmbedderIdentity> {
        Ok(self.load().await?.identity.clone())
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let loaded = self.load().await?;
        let mut out: Vec<Option<Arc<[f32]>>> = texts.iter().map(|t| self.cached(t)).collect();
        let mut missing: Vec<String> =
            texts.iter().zip(&out).filter(|(_, v)| v.is_none()).map(|(t, _)| t.clone()).collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let vectors = match &loaded.backend {
                Backend::Hash { .. } => missing.iter().map(|t| HashEmbedder::embed_one(t)).collect(),
                Backend::OpenAi(service) => service.embed(&missing).await?,
                Backend::Transformer(model) => {
                    let model = Arc::clone(model);
                    let batch = missing.clone();
                    tokio::task::spawn_blocking(move || {
                        model.embed(&batch.iter().map(String::as_str).collect::<Vec<_>>())
                    })
                    .await
                    .map_err(|e| Error::backend("embedding worker panicked", e))??
                }
            };
            let fresh: HashMap<&str, Arc<[f32]>> = missing
                .iter()
                .zip(vectors)
                .map(|(text, vector)| {
                    let vector: Arc<[f32]> = vector.into();
                    self.remember(text, &vector);
                    (text.as_str(), vector)
                })
                .collect();
            for (slot, text) in out.iter_mut().zip(texts) {
                if slot.is_none() {
                    *slot = fresh.get(text.as_str()).cloned();
                }
            }
        }
        Ok(out.into_iter().map(|v| v.expect("every text embedded").to_vec()).collect())
    }
}
