//! The vector index conformance cases. Each takes a harness over a fresh, empty index.

use std::collections::BTreeMap;
use std::sync::Arc;

use aimdb_core::{
    Collection, CollectionInfo, DistanceMetric, EmbedderIdentity, Error, VectorFilter, VectorHit,
    VectorIndex, VectorRecord,
};

use crate::IndexHarness;
use crate::synthetic::{Clustered, cosine, exact_top_k};

/// The dimension of the suite's vectors.
pub const DIM: usize = 32;
/// Vectors in the recall case: enough to train every index type the harnesses configure
/// (IVF-PQ with 6-bit codes needs 39 * 64).
pub const RECALL_N: usize = 3_000;

fn embedder() -> EmbedderIdentity {
    EmbedderIdentity { kind: "test".into(), model: "suite".into(), dim: DIM }
}

fn record(id: i64, vector: Vec<f32>, framework: &str) -> VectorRecord {
    let metadata = BTreeMap::from([("framework".to_owned(), framework.to_owned())]);
    VectorRecord { id, vector, metadata }
}

/// A unit vector along axis `axis` (mod DIM), optionally negated.
fn axis(axis: usize, sign: f32) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[axis % DIM] = sign;
    v
}

fn no_filter() -> VectorFilter {
    VectorFilter::default()
}

fn filter(key: &str, value: &str) -> VectorFilter {
    VectorFilter { equals: BTreeMap::from([(key.to_owned(), value.to_owned())]) }
}

async fn search(index: &Arc<dyn VectorIndex>, query: &[f32], k: usize, f: &VectorFilter) -> Vec<VectorHit> {
    index.search(Collection::Models, &embedder(), query, k, f).await.expect("search")
}

async fn count(index: &Arc<dyn VectorIndex>, collection: Collection) -> u64 {
    let info = index.info().await.expect("info");
    info.iter().find(|i| i.collection == collection).expect("every collection is listed").vectors
}

/// Eight axis-aligned records: ids 1..=8 along axes 0..8, half `pytorch`, half `jax`.
async fn seed_axes(index: &Arc<dyn VectorIndex>) {
    let records = (0..8)
        .map(|i| record(i as i64 + 1, axis(i, 1.0), if i % 2 == 0 { "pytorch" } else { "jax" }))
        .collect();
    index.upsert(Collection::Models, &embedder(), records).await.expect("upsert");
}

/// Nearest first; identical scores 1, orthogonal 0.5, opposite 0; scores in [0, 1].
pub async fn add_and_search<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    assert_eq!(index.embedder().await.unwrap(), None, "empty index has no embedder");
    assert!(search(&index, &axis(0, 1.0), 5, &no_filter()).await.is_empty(), "empty index finds nothing");
    seed_axes(&index).await;
    assert_eq!(index.embedder().await.unwrap(), Some(embedder()));
    assert_eq!(count(&index, Collection::Models).await, 8);

    let hits = search(&index, &axis(2, 1.0), 3, &no_filter()).await;
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].id, 3);
    assert!((hits[0].similarity_score - 1.0).abs() < 1e-4, "identical: {hits:?}");
    assert!((hits[1].similarity_score - 0.5).abs() < 1e-4, "orthogonal: {hits:?}");
    assert!(hits.windows(2).all(|w| w[0].similarity_score >= w[1].similarity_score));

    let opposite = search(&index, &axis(2, -1.0), 8, &no_filter()).await;
    let last = opposite.last().expect("8 hits");
    assert_eq!(last.id, 3);
    assert!(last.similarity_score.abs() < 1e-4, "opposite scores 0: {opposite:?}");
    assert!(opposite.iter().all(|h| (0.0..=1.0).contains(&h.similarity_score)));

    // Scale does not matter: similarity is cosine.
    let scaled: Vec<f32> = axis(4, 1.0).iter().map(|x| x * 37.5).collect();
    assert_eq!(search(&index, &scaled, 1, &no_filter()).await[0].id, 5);
    assert_eq!(search(&index, &axis(0, 1.0), 100, &no_filter()).await.len(), 8, "k above count");
    assert!(search(&index, &axis(0, 1.0), 0, &no_filter()).await.is_empty(), "k = 0");
}

/// Collections do not see each other's records.
pub async fn collections_are_separate<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    index
        .upsert(Collection::Datasets, &embedder(), vec![record(1, axis(9, 1.0), "csv")])
        .await
        .expect("upsert dataset");
    let hits =
        index.search(Collection::Datasets, &embedder(), &axis(0, 1.0), 10, &no_filter()).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!((hits[0].similarity_score - 0.5).abs() < 1e-4, "dataset 1 is on axis 9: {hits:?}");
    assert_eq!(search(&index, &axis(0, 1.0), 1, &no_filter()).await[0].id, 1);
    let none = index.search(Collection::Predictions, &embedder(), &axis(0, 1.0), 5, &no_filter()).await;
    assert!(none.unwrap().is_empty());
}

/// Upserting an id replaces its vector and metadata; the last of duplicates in a batch wins.
pub async fn upsert_replaces<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    index.upsert(Collection::Models, &embedder(), vec![record(1, axis(20, 1.0), "tf")]).await.unwrap();
    assert_eq!(count(&index, Collection::Models).await, 8, "replaced, not added");
    let hits = search(&index, &axis(20, 1.0), 1, &no_filter()).await;
    assert_eq!((hits[0].id, hits[0].similarity_score > 0.999), (1, true));
    assert!(search(&index, &axis(0, 1.0), 1, &no_filter()).await[0].similarity_score < 0.51);
    assert_eq!(search(&index, &axis(20, 1.0), 5, &filter("framework", "tf")).await.len(), 1);
    assert!(
        search(&index, &axis(0, 1.0), 5, &filter("framework", "pytorch")).await.iter().all(|h| h.id != 1)
    );

    let batch = vec![record(30, axis(21, 1.0), "a"), record(30, axis(22, 1.0), "b")];
    index.upsert(Collection::Models, &embedder(), batch).await.unwrap();
    let hits = search(&index, &axis(22, 1.0), 1, &no_filter()).await;
    assert_eq!((hits[0].id, hits[0].similarity_score > 0.999), (30, true));
    assert_eq!(count(&index, Collection::Models).await, 9);
}

/// Removed ids are gone; unknown ids are ignored.
pub async fn remove<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    index.remove(Collection::Models, &[3, 999]).await.expect("remove");
    assert_eq!(count(&index, Collection::Models).await, 7);
    let hits = search(&index, &axis(2, 1.0), 8, &no_filter()).await;
    assert_eq!(hits.len(), 7);
    assert!(hits.iter().all(|h| h.id != 3));
    index.remove(Collection::Predictions, &[1]).await.expect("remove from an empty collection");
    index.upsert(Collection::Models, &embedder(), vec![record(3, axis(2, 1.0), "jax")]).await.unwrap();
    assert_eq!(search(&index, &axis(2, 1.0), 1, &no_filter()).await[0].id, 3, "re-added after removal");
}

/// `ids` lists what a collection holds, ascending (what self-repair compares with the store).
pub async fn ids<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    assert_eq!(index.ids(Collection::Models).await.expect("ids of an empty index"), Vec::<i64>::new());
    seed_axes(&index).await;
    index.remove(Collection::Models, &[3]).await.expect("remove");
    index.upsert(Collection::Models, &embedder(), vec![record(5, axis(7, -1.0), "jax")]).await.unwrap();
    assert_eq!(index.ids(Collection::Models).await.unwrap(), vec![1, 2, 4, 5, 6, 7, 8]);
    assert_eq!(index.ids(Collection::Datasets).await.unwrap(), Vec::<i64>::new(), "collections are separate");
}

/// Filters are exact matches on metadata and never return non-matching records.
pub async fn filters<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    let hits = search(&index, &axis(1, 1.0), 8, &filter("framework", "pytorch")).await;
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>().len(), 4);
    assert!(hits.iter().all(|h| h.id % 2 == 1), "pytorch records have odd ids: {hits:?}");
    assert!(
        search(&index, &axis(1, 1.0), 8, &filter("framework", "PyTorch")).await.is_empty(),
        "exact match"
    );
    assert!(search(&index, &axis(1, 1.0), 8, &filter("task", "x")).await.is_empty(), "unknown key");
    let two = VectorFilter {
        equals: BTreeMap::from([("framework".into(), "jax".into()), ("framework2".into(), "x".into())]),
    };
    assert!(search(&index, &axis(1, 1.0), 8, &two).await.is_empty(), "all conditions must hold");
}

/// Another embedder is refused with an error that names `reindex`; bad vectors write nothing.
pub async fn embedder_and_input_errors<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    let wider = EmbedderIdentity { dim: DIM * 2, ..embedder() };
    let err = index.upsert(Collection::Models, &wider, vec![record(50, vec![0.1; DIM * 2], "x")]).await;
    assert!(matches!(&err, Err(Error::DimensionMismatch { expected, .. }) if *expected == DIM), "{err:?}");
    let other = EmbedderIdentity { model: "another".into(), ..embedder() };
    let err =
        index.upsert(Collection::Models, &other, vec![record(50, axis(0, 1.0), "x")]).await.unwrap_err();
    assert!(err.to_string().contains("reindex"), "{err}");
    let err = index.search(Collection::Models, &other, &axis(0, 1.0), 1, &no_filter()).await.unwrap_err();
    assert!(err.to_string().contains("reindex"), "{err}");
    let err = index.search(Collection::Models, &embedder(), &[1.0; 3], 1, &no_filter()).await;
    assert!(matches!(err, Err(Error::DimensionMismatch { .. })), "{err:?}");

    let mut bad = axis(0, 1.0);
    bad[5] = f32::NAN;
    let batch = vec![record(60, axis(3, 1.0), "x"), record(61, bad, "x")];
    let err = index.upsert(Collection::Models, &embedder(), batch).await;
    assert!(
        matches!(&err, Err(Error::InvalidInput { field, .. }) if field == "records[1].vector[5]"),
        "{err:?}"
    );
    let short = vec![record(62, axis(3, 1.0), "x"), record(63, vec![1.0; DIM - 1], "x")];
    let err = index.upsert(Collection::Models, &embedder(), short).await;
    assert!(
        matches!(&err, Err(Error::DimensionMismatch { context, .. }) if context.contains("records[1]")),
        "{err:?}"
    );
    assert_eq!(count(&index, Collection::Models).await, 8, "nothing of a rejected batch is written");
}

/// Flushed data survives closing and reopening, embedder identity included.
pub async fn reopen<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    index.remove(Collection::Models, &[8]).await.unwrap();
    index.upsert(Collection::Predictions, &embedder(), vec![record(5, axis(3, 1.0), "v1")]).await.unwrap();
    index.flush().await.expect("flush");
    let before = search(&index, &axis(1, 1.0), 8, &no_filter()).await;
    drop(index);

    let index = harness.open().await;
    assert_eq!(index.embedder().await.unwrap(), Some(embedder()));
    assert_eq!(search(&index, &axis(1, 1.0), 8, &no_filter()).await, before);
    assert_eq!(count(&index, Collection::Predictions).await, 1);
    let hits = search(&index, &axis(1, 1.0), 8, &filter("framework", "jax")).await;
    assert_eq!(hits.len(), 3, "metadata survives too: {hits:?}");
    // Writes after a reopen land and persist as well.
    index.upsert(Collection::Models, &embedder(), vec![record(8, axis(7, 1.0), "jax")]).await.unwrap();
    index.flush().await.unwrap();
    drop(index);
    let index = harness.open().await;
    assert_eq!(count(&index, Collection::Models).await, 8);
}

/// `reset` empties every collection and forgets the embedder, so another may build it anew.
pub async fn reset<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    seed_axes(&index).await;
    index.reset().await.expect("reset");
    assert_eq!(index.embedder().await.unwrap(), None);
    assert_eq!(count(&index, Collection::Models).await, 0);
    let other = EmbedderIdentity { kind: "other".into(), model: "m".into(), dim: DIM * 2 };
    let v = vec![0.5; DIM * 2];
    index.upsert(Collection::Models, &other, vec![record(1, v.clone(), "x")]).await.expect("new embedder");
    index.flush().await.unwrap();
    drop(index);
    let index = harness.open().await;
    assert_eq!(index.embedder().await.unwrap(), Some(other.clone()));
    let hits = index.search(Collection::Models, &other, &v, 3, &no_filter()).await.unwrap();
    assert_eq!(hits.len(), 1);
}

/// `RECALL_N` clustered records (every third `a`, the others `b`) written in batches and
/// the index optimized: the data and what `optimize` reported.
async fn seed_clustered(index: &Arc<dyn VectorIndex>, seed: u64) -> (Clustered, Vec<f32>, CollectionInfo) {
    let data = Clustered { dim: DIM, clusters: 40, spread: 0.6, subspace: 0, noise: 0.0, seed };
    let points = data.points(RECALL_N, 1);
    let records: Vec<VectorRecord> = points
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| record(i as i64 + 1, v.to_vec(), if i % 3 == 0 { "a" } else { "b" }))
        .collect();
    for batch in records.chunks(1000) {
        index.upsert(Collection::Models, &embedder(), batch.to_vec()).await.expect("upsert");
    }
    let info = index.optimize(Collection::Models).await.expect("optimize");
    (data, points, info)
}

/// Recall@10 against exact search on clustered data meets the harness's promise, with and
/// without a filter, and scores match the exact cosines.
pub async fn recall<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    let (data, points, info) = seed_clustered(&index, 7).await;
    assert_eq!(info.vectors, RECALL_N as u64);
    assert!(info.trained, "{info:?}");
    if let Some(kind) = harness.trained_kind() {
        assert_eq!(info.index_kind, kind, "{info:?}");
    }

    let queries = data.points(50, 2);
    let (mut found, mut filtered_found) = (0usize, 0usize);
    let only_a = filter("framework", "a");
    for q in queries.chunks_exact(DIM) {
        let truth: Vec<i64> = exact_top_k(&points, DIM, q, 10).iter().map(|&i| i as i64 + 1).collect();
        let hits = search(&index, q, 10, &no_filter()).await;
        found += hits.iter().filter(|h| truth.contains(&h.id)).count();
        for hit in &hits {
            let exact = cosine(&points[(hit.id as usize - 1) * DIM..][..DIM], q);
            let tolerance = harness.score_tolerance();
            assert!(((1.0 + exact) / 2.0 - hit.similarity_score).abs() <= tolerance, "{hit:?} vs {exact}");
        }
        // Ground truth among the `a` records only (ids 1, 4, 7, ...).
        let a_points: Vec<f32> = points.chunks_exact(DIM).step_by(3).flatten().copied().collect();
        let a_truth: Vec<i64> =
            exact_top_k(&a_points, DIM, q, 10).iter().map(|&i| (i * 3) as i64 + 1).collect();
        let hits = search(&index, q, 10, &only_a).await;
        assert!(hits.iter().all(|h| (h.id - 1) % 3 == 0), "filter leaked: {hits:?}");
        filtered_found += hits.iter().filter(|h| a_truth.contains(&h.id)).count();
    }
    let recall = found as f64 / 500.0;
    let filtered_recall = filtered_found as f64 / 500.0;
    let min = harness.min_recall();
    assert!(recall >= min, "recall@10 {recall} below {min}");
    assert!(filtered_recall >= min, "filtered recall@10 {filtered_recall} below {min}");
}

/// Records whose lengths differ (0.5 to 3), so the three metrics rank them differently.
fn uneven_records(n: usize) -> Vec<VectorRecord> {
    let data = Clustered { dim: DIM, clusters: 4, spread: 0.9, subspace: 0, noise: 0.0, seed: 23 };
    data.points(n, 1)
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| {
            let length = 0.5 + (i % 6) as f32 * 0.5;
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            record(i as i64 + 1, v.iter().map(|x| x * length / norm).collect(), "x")
        })
        .collect()
}

/// The metric's raw value (cosine, inner product or squared distance) and the ids of the
/// `k` best records, computed here by brute force.
fn exact_ranking(metric: DistanceMetric, records: &[VectorRecord], q: &[f32], k: usize) -> Vec<(i64, f32)> {
    let mut scored: Vec<(i64, f32)> = records
        .iter()
        .map(|r| {
            let raw = match metric {
                DistanceMetric::Cosine => cosine(&r.vector, q),
                DistanceMetric::Ip => r.vector.iter().zip(q).map(|(a, b)| a * b).sum(),
                DistanceMetric::L2 => r.vector.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
            };
            (r.id, raw)
        })
        .collect();
    scored.sort_by(|a, b| metric.score(b.1).total_cmp(&metric.score(a.1)).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

/// Each metric ranks and scores as documented on [`DistanceMetric`], the metric is reported
/// and recorded, and opening with another refuses searches and writes (naming `reindex`)
/// until a reset.
pub async fn distance_metrics<H: IndexHarness>(harness: &H) {
    let records = uneven_records(60);
    let queries = uneven_records(68).split_off(60);
    let mut orders = Vec::new();
    let mut previous: Option<DistanceMetric> = None;
    for metric in [DistanceMetric::Ip, DistanceMetric::L2, DistanceMetric::Cosine] {
        let index = match harness.open_with_metric(metric).await {
            Some(index) => index,
            None if metric == DistanceMetric::Cosine => harness.open().await,
            None => continue,
        };
        if let Some(previous) = previous {
            let err =
                index.search(Collection::Models, &embedder(), &queries[0].vector, 3, &no_filter()).await;
            let err = err.expect_err("a search with another metric than the index's");
            assert!(matches!(err, Error::Config { .. }) && err.to_string().contains("reindex"), "{err}");
            assert!(err.to_string().contains(previous.as_str()), "{err}");
            let err = index.upsert(Collection::Models, &embedder(), records[..1].to_vec()).await;
            assert!(matches!(err, Err(Error::Config { .. })), "{err:?}");
            index.reset().await.expect("reset");
        }
        index.upsert(Collection::Models, &embedder(), records.clone()).await.expect("upsert");
        let info = index.info().await.unwrap();
        assert!(info.iter().all(|i| i.metric == metric), "{metric}: {info:?}");
        let mut order = Vec::new();
        for q in &queries {
            let hits = search(&index, &q.vector, 5, &no_filter()).await;
            let truth = exact_ranking(metric, &records, &q.vector, 5);
            let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
            assert_eq!(ids, truth.iter().map(|t| t.0).collect::<Vec<_>>(), "{metric}: {hits:?}");
            for (hit, (_, raw)) in hits.iter().zip(&truth) {
                let expected = metric.score(*raw);
                assert!((0.0..=1.0).contains(&hit.similarity_score), "{metric}: {hit:?}");
                assert!((hit.similarity_score - expected).abs() <= 1e-4, "{metric}: {hit:?} vs {expected}");
            }
            order.push(ids);
        }
        orders.push(order);
        index.flush().await.unwrap();
        previous = Some(metric);
    }
    // The data is chosen so that the metrics disagree: each was really applied.
    for (i, a) in orders.iter().enumerate() {
        for b in &orders[i + 1..] {
            assert_ne!(a, b, "two metrics ranked every query alike");
        }
    }
}

/// A batch answers what one search per query answers, in the queries' order, with and
/// without a filter, on the trained index; a query of the wrong dimension is named by its
/// position, and an empty batch has an empty answer.
pub async fn search_many<H: IndexHarness>(harness: &H) {
    let index = harness.open().await;
    let (data, _, _) = seed_clustered(&index, 11).await;
    let queries: Vec<Vec<f32>> = data.points(20, 3).chunks_exact(DIM).map(<[f32]>::to_vec).collect();
    for f in [no_filter(), filter("framework", "a")] {
        let batch =
            index.search_many(Collection::Models, &embedder(), &queries, 10, &f).await.expect("search_many");
        assert_eq!(batch.len(), queries.len());
        for (query, answer) in queries.iter().zip(&batch) {
            let one = search(&index, query, 10, &f).await;
            let ids = |hits: &[VectorHit]| hits.iter().map(|h| h.id).collect::<Vec<_>>();
            assert_eq!(ids(answer), ids(&one), "filter {f:?}");
            for (a, b) in answer.iter().zip(&one) {
                assert!((a.similarity_score - b.similarity_score).abs() < 1e-5, "{a:?} vs {b:?}");
            }
        }
    }
    let empty = index.search_many(Collection::Models, &embedder(), &[], 10, &no_filter()).await.unwrap();
    assert!(empty.is_empty());
    let other =
        index.search_many(Collection::Datasets, &embedder(), &queries[..2], 5, &no_filter()).await.unwrap();
    assert_eq!(
        other,
        vec![Vec::<VectorHit>::new(); 2],
        "an empty collection answers each query with nothing"
    );
    let wrong = vec![queries[0].clone(), vec![0.5; DIM + 1]];
    match index.search_many(Collection::Models, &embedder(), &wrong, 5, &no_filter()).await {
        Err(Error::DimensionMismatch { context, .. }) => assert_eq!(context, "queries[1]"),
        other => panic!("a query of the wrong dimension: {other:?}"),
    }
}
