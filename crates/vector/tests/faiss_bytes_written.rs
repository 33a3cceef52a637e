//! What a bulk write costs on disk. Alone in its test binary: it reads the process's I/O
//! counters (`/proc/self/io`, Linux), which tests running beside it would move.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;

use aimdb_core::config::{FaissConfig, IndexType};
use aimdb_core::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
use aimdb_testkit::synthetic::Clustered;
use aimdb_vector::FaissIndex;

const DIM: usize = 384;

/// Bytes this process has handed to `write` and its kin so far.
fn bytes_written() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").expect("/proc/self/io");
    io.lines().find_map(|l| l.strip_prefix("wchar: ")).expect("wchar").parse().unwrap()
}

/// A write larger than the journal's bound (8 MiB) goes straight into a checkpoint: its
/// vectors are written twice (the exact vectors file and the FAISS index), not a third time
/// into a journal entry the checkpoint then supersedes. Small writes still go to the journal,
/// and another handle sees both.
#[tokio::test]
async fn a_bulk_write_is_written_once_to_each_file_not_to_the_journal_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new(dir.path()) };
    let embedder = EmbedderIdentity { kind: "test".into(), model: "bytes".into(), dim: DIM };
    let n = (8 << 20) / (4 * DIM) + 1_000;
    let points =
        Clustered { dim: DIM, clusters: 20, spread: 0.5, subspace: 0, noise: 0.0, seed: 5 }.points(n + 1, 1);
    let records = |from: usize, to: usize| -> Vec<VectorRecord> {
        (from..to)
            .map(|i| VectorRecord {
                id: i as i64 + 1,
                vector: points[i * DIM..][..DIM].to_vec(),
                metadata: BTreeMap::new(),
            })
            .collect()
    };
    let index = FaissIndex::open(&config).await.unwrap();
    let vector_bytes = (n * DIM * 4) as u64;

    let before = bytes_written();
    index.upsert(Collection::Models, &embedder, records(0, n)).await.unwrap();
    let written = bytes_written() - before;
    assert!(
        written > 2 * vector_bytes && written < 2 * vector_bytes + vector_bytes / 2,
        "{written} bytes written for {vector_bytes} bytes of vectors"
    );

    let before = bytes_written();
    index.upsert(Collection::Models, &embedder, records(n, n + 1)).await.unwrap();
    let written = bytes_written() - before;
    assert!(written < 4 * DIM as u64 + 1_024, "one record appended to the journal: {written} bytes");

    let other = FaissIndex::open(&config).await.unwrap();
    let q = &points[(n - 7) * DIM..][..DIM];
    let hits = other.search(Collection::Models, &embedder, q, 1, &VectorFilter::default()).await.unwrap();
    assert_eq!(hits[0].id, n as i64 - 6);
    let info = other.info().await.unwrap().into_iter().find(|i| i.collection == Collection::Models).unwrap();
    assert_eq!(info.vectors, n as u64 + 1);
}
