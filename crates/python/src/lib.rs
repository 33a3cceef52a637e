//! `aimdb` for Python: the seed's API (`create_ai_database`, `create_model`,
//! `search_similar_models`, ...) over the Rust engine, as the extension module
//! `aimdb._aimdb` that the pure-Python package `aimdb` (`python/aimdb/`) re-exports.
//!
//! ```python
//! import aimdb
//!
//! with aimdb.create_ai_database(backend="faiss", index_path="./faiss_index", dimension=384) as db:
//!     db.create_model("resnet50", "Deep residual network for image recognition", "ResNet-50", "pytorch")
//!     for hit in db.search_similar_models(query="image recognition deep learning", n_results=3):
//!         print(hit["name"], hit["similarity_score"])
//! ```
//!
//! Every call blocks on one tokio runtime per process with the GIL released, so Python
//! threads run concurrently. Records come back as `dict`s with the seed's field names,
//! timestamps as aware `datetime`s (UTC), JSON fields as Python objects; errors as
//! `aimdb.AimdbError` subclasses (`errors.rs`).
#![deny(missing_docs)]

mod convert;
mod database;
mod errors;
mod inputs;
mod open;
mod runtime;

use pyo3::prelude::*;

// The engine's allocations (a 100k-point read is 200k small strings and their frees) are
// mimalloc's: with glibc's malloc, trimming and page faults were a fifth of `get_metrics`.
// Python's own objects stay with Python's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The extension module; `aimdb/__init__.py` re-exports what users call.
#[pymodule]
fn _aimdb(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Rust `log` records (an embedder falling back to hash, a vector write to repair)
    // go to Python's `logging`, logger `aimdb...`, where Python users look for them.
    let _ = pyo3_log::try_init();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<database::Database>()?;
    m.add_function(wrap_pyfunction!(open::create_ai_database, m)?)?;
    Ok(())
}
