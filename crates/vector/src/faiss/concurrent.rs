//! FAISS searches from several threads at once.
//!
//! The `faiss` crate's `Index::search` takes `&mut self`, so a shared index could only be
//! searched by one thread at a time. FAISS's own `Index::search` is a `const` method, safe to
//! call concurrently on a CPU index as long as nothing modifies it meanwhile (FAISS's
//! threading notes); the crate offers `&self` search only on concrete index types, not on the
//! `IndexImpl` that `index_factory` returns. This is the same call on `IndexImpl`.
#![allow(unsafe_code)]

use aimdb_core::{Error, Result};
use faiss::index::{IndexImpl, SearchResult};
use faiss::{Idx, Index};

/// Searches `index` for the `k` nearest of one `query` through a shared reference. The caller
/// guarantees no thread modifies `index` meanwhile: it holds a read guard of the lock that
/// every modification takes for writing.
pub fn search(index: &IndexImpl, query: &[f32], k: usize) -> Result<SearchResult> {
    let nq = query.len() / index.d() as usize;
    let mut distances = vec![0f32; k * nq];
    let mut labels = vec![Idx::none(); k * nq];
    // SAFETY: `inner_ptr` is the live FAISS index `index` owns for as long as the borrow; the
    // query holds `nq * d` floats and the outputs `k * nq` entries, as `faiss_Index_search`
    // reads and writes; `Idx` is `#[repr(transparent)]` over `idx_t`; a const search does not
    // modify the index, and no modification runs concurrently (see above).
    let code = unsafe {
        faiss_sys::faiss_Index_search(
            index.inner_ptr(),
            nq as faiss_sys::idx_t,
            query.as_ptr(),
            k as faiss_sys::idx_t,
            distances.as_mut_ptr(),
            labels.as_mut_ptr().cast(),
        )
    };
    if code != 0 {
        // SAFETY: FAISS sets its thread-local last error before returning a non-zero code;
        // the message is copied out before any other FAISS call on this thread.
        let message = unsafe {
            let last = faiss_sys::faiss_get_last_error();
            if last.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(last).to_string_lossy().into_owned()
            }
        };
        return Err(Error::backend(format!("faiss search (code {code})"), message));
    }
    Ok(SearchResult { distances, labels })
}
