//! The Chroma index: collections `models`, `datasets`, `predictions` on a Chroma server.

mod backend;
mod error;

pub use backend::ChromaIndex;
