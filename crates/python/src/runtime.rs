//! One tokio runtime per process, and the bridge from a blocking Python call to it.

use std::future::Future;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

/// The runtime and the process it was made in. A child made by `fork` inherits the memory
/// but none of the worker threads, so it gets a runtime of its own on first use.
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// This process's runtime. Called with the GIL held, so no other thread can be inside
/// this lock when Python forks (the forking thread holds the GIL).
pub(crate) fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, runtime)) = slot.as_ref()
        && *owner == pid
    {
        return Ok(Arc::clone(runtime));
    }
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("aimdb")
            .build()
            .map_err(|e| errors::raise("AimdbError", format!("cannot start the aimdb runtime: {e}")))?,
    );
    // The parent's runtime is inherited half-alive (its threads exist only in the parent):
    // dropping it would wait for workers that are not there, so it is leaked.
    if let Some((_, inherited)) = slot.replace((pid, Arc::clone(&runtime))) {
        std::mem::forget(inherited);
    }
    Ok(runtime)
}

/// Runs `future` to completion with the GIL released; aimdb errors become Python exceptions.
pub(crate) fn block_on<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = aimdb::Result<T>> + Send,
{
    let runtime = runtime()?;
    py.detach(|| runtime.block_on(future)).map_err(errors::to_py)
}
