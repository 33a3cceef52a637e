//! The vector index suite against a real Chroma server (`cargo xtask services up chromadb`
//! sets `AIMDB_TEST_CHROMA_URL`), one Chroma database per case; and Chroma against FAISS flat
//! on the same data: same order, same scores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aimdb_core::config::{ChromaConfig, FaissConfig, IndexType};
use aimdb_core::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
use aimdb_testkit::IndexHarness;
use aimdb_testkit::synthetic::Clustered;
use aimdb_vector::{ChromaIndex, FaissIndex};
use async_trait::async_trait;

struct Chroma {
    config: ChromaConfig,
}

#[async_trait]
impl IndexHarness for Chroma {
    async fn open(&self) -> Arc<dyn VectorIndex> {
        Arc::new(ChromaIndex::open(&self.config).await.expect("open chroma index"))
    }
    fn min_recall(&self) -> f64 {
        // HNSW is approximate; at the suite's 3000 vectors it is in practice exact.
        0.95
    }
}

fn harness() -> Option<Chroma> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("AIMDB_TEST_CHROMA_URL").ok()?;
    let database = format!("aimdb_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    Some(Chroma { config: ChromaConfig::new(url).with_database(database) })
}

aimdb_testkit::vector_index_suite!(async { harness() });

#[tokio::test]
async fn same_order_and_scores_as_faiss_flat() {
    let Some(chroma) = harness() else {
        aimdb_testkit::skip("no AIMDB_TEST_CHROMA_URL for the Chroma/FAISS parity check");
        return;
    };
    let chroma = chroma.open().await;
    let dir = tempfile::tempdir().unwrap();
    let faiss =
        FaissIndex::open(&FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new(dir.path()) })
            .await
            .unwrap();
    let dim = 64;
    let embedder = EmbedderIdentity { kind: "test".into(), model: "parity".into(), dim };
    let data = Clustered { dim, clusters: 10, spread: 0.8, subspace: 0, noise: 0.0, seed: 11 };
    let points = data.points(500, 1);
    let records: Vec<VectorRecord> = points
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| VectorRecord { id: i as i64 + 1, vector: v.to_vec(), metadata: Default::default() })
        .collect();
    chroma.upsert(Collection::Models, &embedder, records.clone()).await.unwrap();
    faiss.upsert(Collection::Models, &embedder, records).await.unwrap();
    for q in data.points(20, 2).chunks_exact(dim) {
        let from_chroma =
            chroma.search(Collection::Models, &embedder, q, 10, &VectorFilter::default()).await.unwrap();
        let from_faiss =
            faiss.search(Collection::Models, &embedder, q, 10, &VectorFilter::default()).await.unwrap();
        assert_eq!(from_chroma.len(), 10);
        for (c, f) in from_chroma.iter().zip(&from_faiss) {
            assert_eq!(c.id, f.id, "order differs:\n{from_chroma:?}\n{from_faiss:?}");
            assert!((c.similarity_score - f.similarity_score).abs() <= 1e-4, "{c:?} vs {f:?}");
        }
    }
}
