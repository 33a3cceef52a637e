//! Criterion benches live in `benches/`; this holds what several of them share.

use std::path::{Path, PathBuf};

/// The workspace's `target/` directory, where benches leave data and summaries.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").join("target")
}

/// The value at quantile `p` (0 to 1) of `sorted`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
