//! The vector index suite against FAISS, once per index type.
//!
//! The IVF harnesses use small `nlist` and `m`/`nbits` so the suite's 3000 vectors train them;
//! their recall promise is what those settings reach on the suite's clustered data.

use std::sync::Arc;

use aimdb_core::config::{FaissConfig, IndexType};
use aimdb_core::{DistanceMetric, VectorIndex};
use aimdb_testkit::IndexHarness;
use aimdb_vector::FaissIndex;
use async_trait::async_trait;

struct Faiss {
    dir: tempfile::TempDir,
    config: fn(&std::path::Path) -> FaissConfig,
    min_recall: f64,
    kind: &'static str,
}

#[async_trait]
impl IndexHarness for Faiss {
    async fn open(&self) -> Arc<dyn VectorIndex> {
        Arc::new(FaissIndex::open(&(self.config)(self.dir.path())).await.expect("open faiss index"))
    }
    fn min_recall(&self) -> f64 {
        self.min_recall
    }
    fn trained_kind(&self) -> Option<&str> {
        Some(self.kind)
    }
    async fn open_with_metric(&self, metric: DistanceMetric) -> Option<Arc<dyn VectorIndex>> {
        let config = FaissConfig { metric, ..(self.config)(self.dir.path()) };
        Some(Arc::new(FaissIndex::open(&config).await.expect("open faiss index")))
    }
}

fn harness(config: fn(&std::path::Path) -> FaissConfig, min_recall: f64, kind: &'static str) -> Faiss {
    Faiss { dir: tempfile::tempdir().expect("temp dir"), config, min_recall, kind }
}

mod flat {
    use super::*;
    fn config(path: &std::path::Path) -> FaissConfig {
        FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new(path) }
    }
    aimdb_testkit::vector_index_suite!(async { Some(harness(config, 1.0, "flat")) });
}

mod auto {
    use super::*;
    fn config(path: &std::path::Path) -> FaissConfig {
        FaissConfig::new(path)
    }
    // 3000 vectors: below the 10k at which `auto` leaves exact search.
    aimdb_testkit::vector_index_suite!(async { Some(harness(config, 1.0, "flat")) });
}

mod ivf {
    use super::*;
    fn config(path: &std::path::Path) -> FaissConfig {
        FaissConfig { index_type: IndexType::Ivf, nlist: Some(16), nprobe: Some(4), ..FaissConfig::new(path) }
    }
    aimdb_testkit::vector_index_suite!(async { Some(harness(config, 0.9, "ivf")) });
}

mod ivfpq {
    use super::*;
    fn config(path: &std::path::Path) -> FaissConfig {
        FaissConfig {
            index_type: IndexType::IvfPq,
            nlist: Some(16),
            nprobe: Some(4),
            m: Some(8),
            nbits: Some(6),
            ..FaissConfig::new(path)
        }
    }
    aimdb_testkit::vector_index_suite!(async { Some(harness(config, 0.85, "ivfpq")) });
}

/// The same suite with every search on a CUDA GPU (`device: cuda`, the `gpu` feature): flat
/// and IVF, the layouts GPU search answers as the CPU does. Where no GPU opens, each case
/// skips (and fails with `AIMDB_REQUIRE_GPU` set, as on the GPU machine).
#[cfg(feature = "gpu")]
mod on_gpu {
    use super::*;
    use aimdb_core::config::VectorDevice;

    async fn gpu_harness(
        config: fn(&std::path::Path) -> FaissConfig,
        min_recall: f64,
        kind: &'static str,
    ) -> Option<Faiss> {
        let probe = tempfile::tempdir().expect("temp dir");
        match FaissIndex::open(&config(probe.path())).await {
            Ok(_) => Some(harness(config, min_recall, kind)),
            Err(e) if std::env::var_os("AIMDB_REQUIRE_GPU").is_some() => panic!("no GPU search: {e}"),
            Err(_) => None,
        }
    }

    mod flat {
        use super::*;
        fn config(path: &std::path::Path) -> FaissConfig {
            FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new(path) }
                .with_device(VectorDevice::Cuda(vec![0]))
        }
        aimdb_testkit::vector_index_suite!(async { gpu_harness(config, 1.0, "flat").await });
    }

    mod ivf {
        use super::*;
        fn config(path: &std::path::Path) -> FaissConfig {
            FaissConfig {
                index_type: IndexType::Ivf,
                nlist: Some(16),
                nprobe: Some(4),
                ..FaissConfig::new(path)
            }
            .with_device(VectorDevice::Cuda(vec![0]))
        }
        aimdb_testkit::vector_index_suite!(async { gpu_harness(config, 0.9, "ivf").await });
    }
}
