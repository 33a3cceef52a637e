//! The seed's demo embedding, bit-exact: SHA-256 of the UTF-8 text, value
//! `i` = `digest[i % 32] / 255.0`, 384 dimensions, not normalised.

use aimdb_core::{Embedder, EmbedderIdentity, Result};
use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// Dimension of the hash embedding (the seed's, matching MiniLM's).
pub const HASH_DIM: usize = 384;

/// A deterministic embedding with no model: useful for tests and as the fallback.
/// It captures no meaning: only identical texts are similar.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashEmbedder;

impl HashEmbedder {
    /// The identity recorded by indexes built with this embedder.
    pub fn identity() -> EmbedderIdentity {
        EmbedderIdentity { kind: "hash".into(), model: "sha256".into(), dim: HASH_DIM }
    }

    /// Embeds one text.
    pub fn embed_one(text: &str) -> Vec<f32> {
        let digest = Sha256::digest(text.as_bytes());
        (0..HASH_DIM).map(|i| f32::from(digest[i % digest.len()]) / 255.0).collect()
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    async fn identity(&self) -> Result<EmbedderIdentity> {
        Ok(Self::identity())
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| Self::embed_one(t)).collect())
    }
}
