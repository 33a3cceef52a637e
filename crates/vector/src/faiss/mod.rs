//! The embedded FAISS index (SPEC §7).

mod backend;
mod collection;
pub mod layout;
mod persist;
mod vectors;

pub use backend::FaissIndex;
