//! The `Embedder` trait: text to vectors. Implemented in `aimdb-embed`.

use std::fmt::{self, Debug};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Which embedder produced a vector; an index records it and refuses another.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmbedderIdentity {
    /// `hash` or `transformer`.
    pub kind: String,
    /// Model name, e.g. `all-MiniLM-L6-v2` (`sha256` for the hash embedder).
    pub model: String,
    /// Vector length.
    pub dim: usize,
}

impl fmt::Display for EmbedderIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (model={}, dim={})", self.kind, self.model, self.dim)
    }
}

/// Turns text into fixed-length vectors.
#[async_trait]
pub trait Embedder: Send + Sync + Debug {
    /// What this embedder is; stable for the life of the process once known.
    ///
    /// May load a model on first call (embedders load lazily), hence async and fallible.
    async fn identity(&self) -> Result<EmbedderIdentity>;

    /// One vector per text, in order, each of length `identity().dim`.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}
