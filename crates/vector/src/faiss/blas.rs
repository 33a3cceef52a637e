//! FAISS and the system BLAS: which searches go to it, and OpenBLAS's kernels on a CPU newer
//! than the OpenBLAS release.
//!
//! FAISS hands its matrix products to the system BLAS: k-means training (and so every
//! retrain), exact searches of several queries at once ([`BLAS_MIN_BATCH`] or more), and the
//! IVF quantizer over such batches. OpenBLAS (`DYNAMIC_ARCH`, as distributions ship it)
//! picks its kernels by CPU model as it loads, and a release that does not know the model
//! falls back to its oldest x86-64 kernels, Prescott (SSE3). Debian 12's OpenBLAS 0.3.21 on
//! an Emerald Rapids Xeon does: an IVF index over 100k vectors of 384 trained in 14.4 s
//! instead of 5.9 s, and exact search of batches of 256 ran at a quarter of the speed of its
//! AVX-512 (`SkylakeX`) kernels.
//!
//! `OPENBLAS_CORETYPE` is OpenBLAS's own remedy, read once as the library loads, before any
//! code of ours runs. So the first FAISS index a process opens checks: when OpenBLAS reports
//! Prescott, the variable is not set, and the CPU has what a newer OpenBLAS core needs, it
//! makes the choice the variable would have made, through the function OpenBLAS itself runs
//! at load (`gotoblas_dynamic_init`). Any other BLAS, or a known CPU, is left as it is; setting
//! `OPENBLAS_CORETYPE` (even to `Prescott`) always wins.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_void};
use std::sync::OnceLock;

/// The variable OpenBLAS reads for its kernels' CPU.
const CORETYPE: &str = "OPENBLAS_CORETYPE";

/// OpenBLAS's fallback for a CPU it does not know.
const FALLBACK: &str = "Prescott";

/// The OpenBLAS kernels in use in this process once the check above has run (it runs on the
/// first call), e.g. `SkylakeX` or `Haswell`; `None` when FAISS's BLAS is not OpenBLAS.
pub fn openblas_core() -> Option<&'static str> {
    static CORE: OnceLock<Option<String>> = OnceLock::new();
    CORE.get_or_init(|| {
        warn_if_pthreads();
        select_core()
    })
    .as_deref()
}

/// Says so when OpenBLAS runs its own threads (its pthread build) beside FAISS's OpenMP ones:
/// they spin after each call while FAISS's threads work, and batched exact search at 1M ran at
/// a quarter of the speed of OpenBLAS's OpenMP build, which aimdb's binaries look for first.
fn warn_if_pthreads() {
    type Parallel = unsafe extern "C" fn() -> std::ffi::c_int;
    // SAFETY: when present, `openblas_get_parallel` is OpenBLAS's function of that name: no
    // arguments, an int (0 sequential, 1 pthreads, 2 OpenMP).
    let Some(parallel) = (unsafe { symbol::<Parallel>(c"openblas_get_parallel") }) else { return };
    // SAFETY: as above.
    if unsafe { parallel() } == 1 {
        log::warn!(
            "FAISS runs on OpenBLAS's pthread build, whose threads contend with FAISS's OpenMP \
             threads (batched searches and training run slower): install OpenBLAS's OpenMP build \
             (Debian: libopenblas0-openmp)"
        );
    }
}

/// Exact searches of this many queries or more at once go to BLAS as one matrix product,
/// reading the vectors once for the batch; fewer are scanned query by query. FAISS's default
/// is 20, so batches of 16 read the vectors 16 times: on real MiniLM text (2026-12-02, 2-core
/// Zen 5 VM) batches of 16 ran at 3.4x the rate with 8 (7,357 against 2,146 queries/s at 20k,
/// 1,417 against 376 at 100k), batches of 256 and IVF batches unchanged. Below 8 the scan
/// wins (clustered data, same VM, two runs each): with 2, batches of 2 ran at 1,171–1,201
/// against 1,775–2,253 queries/s at 20k (214–215 against 308–396 at 100k) and batches of 4
/// at 1,615–1,746 against 1,817–2,174 (312–316 against 317–424); batches of 8 gained 1.4x
/// on BLAS (2,883–3,188 against 2,116–2,131 queries/s with FAISS's 20).
const BLAS_MIN_BATCH: usize = 8;

/// Sets FAISS's process-wide [`BLAS_MIN_BATCH`], once, before the first FAISS index opens.
pub(super) fn route_batches() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // SAFETY: sets FAISS's global int, read at the start of each search; no FAISS index
        // of this process exists yet, so no search reads it meanwhile.
        unsafe { faiss_sys::faiss_set_distance_compute_blas_threshold(BLAS_MIN_BATCH as i32) };
    });
}

/// The fewest queries that FAISS searches at once through BLAS in this process (once the
/// first index has opened: [`BLAS_MIN_BATCH`]).
pub fn blas_min_batch() -> usize {
    // SAFETY: reads FAISS's global int.
    unsafe { faiss_sys::faiss_get_distance_compute_blas_threshold() }.max(0) as usize
}

fn select_core() -> Option<String> {
    type Name = unsafe extern "C" fn() -> *const c_char;
    type Call = unsafe extern "C" fn();
    // SAFETY: when present, `openblas_get_corename` is OpenBLAS's function of that name: no
    // arguments, a static NUL-terminated string.
    let corename = unsafe { symbol::<Name>(c"openblas_get_corename") }?;
    // SAFETY: as above.
    let current = unsafe { core_name(corename) };
    if !current.eq_ignore_ascii_case(FALLBACK) || std::env::var_os(CORETYPE).is_some() {
        return Some(current);
    }
    let Some(wanted) = newest_core() else { return Some(current) };
    // SAFETY: OpenBLAS's own function of that name (no arguments, no result).
    let quit = unsafe { symbol::<Call>(c"gotoblas_dynamic_quit") };
    // SAFETY: as above.
    let init = unsafe { symbol::<Call>(c"gotoblas_dynamic_init") };
    let (Some(quit), Some(init)) = (quit, init) else { return Some(current) };
    // SAFETY: `quit` forgets the kernel table and `init` picks one again, reading the
    // variable, exactly as OpenBLAS does when it loads. This runs once per process, before
    // its first FAISS index exists, so no FAISS call is using BLAS meanwhile; BLAS calls of
    // other libraries sharing this OpenBLAS at that instant are the one hazard (none of
    // aimdb's). The variable is set for the call and removed after: no other thread of
    // aimdb reads the environment through C meanwhile.
    unsafe {
        std::env::set_var(CORETYPE, wanted);
        quit();
        init();
        std::env::remove_var(CORETYPE);
    }
    // SAFETY: as above.
    let now = unsafe { core_name(corename) };
    log::info!(
        "OpenBLAS does not know this CPU and fell back to its {FALLBACK} (SSE3) kernels; \
         switched to {now}, as {CORETYPE}={wanted} would (set {CORETYPE} to choose)"
    );
    Some(now)
}

/// The newest OpenBLAS x86-64 core whose instructions this CPU has; `None` when only SSE3
/// fits. (A build lacking that core keeps Prescott, which the log then says.)
fn newest_core() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512cd")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl")
        {
            return Some("SkylakeX");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some("Haswell");
        }
        if is_x86_feature_detected!("avx") {
            return Some("SandyBridge");
        }
    }
    None
}

/// The function `name` among the libraries loaded in this process, `None` when none has it.
/// Looked up globally, then in FAISS's BLAS by name: a Python extension module and what it
/// links are loaded outside the global scope.
///
/// # Safety
/// `F` must be a function pointer type matching the function's real signature.
unsafe fn symbol<F: Copy>(name: &CStr) -> Option<F> {
    assert_eq!(size_of::<F>(), size_of::<*mut c_void>(), "a function pointer type");
    // SAFETY: `name` is NUL-terminated; `RTLD_DEFAULT` searches the global scope.
    let mut found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    for library in [c"libblas.so.3", c"libopenblas.so.0"] {
        if !found.is_null() {
            break;
        }
        // SAFETY: `RTLD_NOLOAD` only returns a handle to a library already loaded (taking a
        // reference that `dlclose` gives back); a symbol found stays valid after that, since
        // whoever loaded the library keeps it loaded.
        unsafe {
            let handle = libc::dlopen(library.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
            if !handle.is_null() {
                found = libc::dlsym(handle, name.as_ptr());
                libc::dlclose(handle);
            }
        }
    }
    // SAFETY: a non-null address of a function, reinterpreted as the caller's matching type.
    (!found.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, F>(&found) })
}

/// The name `corename` returns.
///
/// # Safety
/// `corename` is OpenBLAS's `openblas_get_corename`.
unsafe fn core_name(corename: unsafe extern "C" fn() -> *const c_char) -> String {
    // SAFETY: it returns a static NUL-terminated string (never null in OpenBLAS).
    let name = unsafe { corename() };
    if name.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated, static.
    unsafe { CStr::from_ptr(name) }.to_string_lossy().trim().to_owned()
}
