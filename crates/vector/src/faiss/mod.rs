//! The embedded FAISS index (SPEC §7).

mod backend;
mod blas;
mod collection;
mod concurrent;
mod journal;
pub mod layout;
mod lock;
mod persist;
mod vectors;

pub use backend::FaissIndex;
pub use blas::{blas_min_batch, openblas_core};
