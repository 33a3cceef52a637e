//! Text embeddings for aimdb (SPEC §6).
//!
//! - [`HashEmbedder`]: the seed's demo embedding, bit-exact (SHA-256 bytes / 255).
//! - [`SentenceBert`]: all-MiniLM-L6-v2 or another BERT-family sentence model (BGE, E5,
//!   GTE, a plain BERT checkpoint) in Candle, matching sentence-transformers: the pooling
//!   (CLS, mean, max, ...), normalisation and token limit its directory declares.
//! - [`OpenAiEmbedder`]: any service speaking OpenAI's `/v1/embeddings`
//!   (`EMBEDDING_MODEL_NAME=openai:<model>`, `OPENAI_BASE_URL`, `OPENAI_API_KEY`).
//! - [`TextEmbedder`]: what a configuration asks for, loaded lazily, falling back to the
//!   hash embedding with a warning (or failing, when strict), with an LRU cache.
//!
//! ```
//! use aimdb_core::{Embedder, config::EmbeddingConfig};
//! use aimdb_embed::TextEmbedder;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = EmbeddingConfig { model: "hash".into(), ..EmbeddingConfig::default() };
//! let embedder = TextEmbedder::new(config);
//! let vectors = embedder.embed(&["image recognition".to_owned()]).await?;
//! assert_eq!(vectors[0].len(), 384);
//! assert_eq!(embedder.backend().await?, "hash (model=sha256)");
//! # Ok::<_, aimdb_core::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

mod attention;
mod bert;
mod encoder;
mod fastmath;
mod files;
mod hash;
mod matmul;
mod openai;
mod sentence;
mod team;
mod text;

pub use bert::{BATCH, SentenceBert};
pub use candle_core::Device;
pub use files::{MINILM_HUB_ID, MINILM_SHORT_NAME, ModelFiles, hub_cache_dir, hub_id, resolve};
pub use hash::{HASH_DIM, HashEmbedder};
pub use openai::{DEFAULT_OPENAI_BASE_URL, OPENAI_KIND, OPENAI_PREFIX, OpenAiEmbedder};
pub use sentence::{Pooling, SentenceConfig};
pub use text::{HASH_MODEL, TextEmbedder};
