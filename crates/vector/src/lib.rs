//! Vector indexes for aimdb: nearest-neighbour search over models, datasets and predictions.
//!
//! [`FaissIndex`] embeds FAISS (flat, IVF, IVF-PQ, or `auto` by size) in a directory of files;
//! `ChromaIndex` keeps the same collections on a Chroma server.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use aimdb_core::config::FaissConfig;
//! use aimdb_core::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
//! use aimdb_vector::FaissIndex;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let index = FaissIndex::open(&FaissConfig::new(dir.path())).await.unwrap();
//! let embedder = EmbedderIdentity { kind: "test".into(), model: "none".into(), dim: 2 };
//! let record = |id, vector: [f32; 2]| VectorRecord { id, vector: vector.to_vec(), metadata: Default::default() };
//! index.upsert(Collection::Models, &embedder, vec![record(1, [1.0, 0.0]), record(2, [0.0, 1.0])]).await.unwrap();
//!
//! let hits = index.search(Collection::Models, &embedder, &[0.9, 0.1], 1, &VectorFilter::default()).await.unwrap();
//! assert_eq!(hits[0].id, 1);
//! assert!(hits[0].similarity_score > 0.99);
//! index.flush().await.unwrap(); // atomically replaces the files
//! # });
//! ```
#![deny(missing_docs)]

#[cfg(feature = "chroma")]
pub mod chroma;
mod common;
#[cfg(feature = "faiss")]
pub mod faiss;
#[cfg(feature = "gpu")]
mod gpu;

#[cfg(feature = "chroma")]
pub use crate::chroma::ChromaIndex;
#[cfg(feature = "faiss")]
pub use crate::faiss::FaissIndex;
