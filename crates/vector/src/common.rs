//! What every index does the same way: input checks, unit vectors, scores, batch dedup.

use std::collections::BTreeMap;

use aimdb_core::{DistanceMetric, EmbedderIdentity, Error, Result, VectorRecord};

/// Scales `vector` to unit length. A zero vector has no direction; it stays zero and scores
/// 0.5 against everything.
pub(crate) fn unit(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Length and finiteness; the error names `field`.
pub(crate) fn check_vector(field: impl Fn() -> String, vector: &[f32], dim: usize) -> Result<()> {
    if vector.len() != dim {
        return Err(Error::DimensionMismatch { context: field(), expected: dim, actual: vector.len() });
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!("{}[{i}]", field()), "must be finite"));
    }
    Ok(())
}

/// Checks a batch before anything is written, then keeps the last record per id (as if
/// upserted one by one) in id order, with unit-length vectors when `metric` compares angles.
pub(crate) fn prepare(
    embedder: &EmbedderIdentity,
    metric: DistanceMetric,
    records: Vec<VectorRecord>,
) -> Result<Vec<VectorRecord>> {
    for (i, record) in records.iter().enumerate() {
        if record.id < 0 {
            return Err(Error::invalid(format!("records[{i}].id"), "must not be negative"));
        }
        check_vector(|| format!("records[{i}].vector"), &record.vector, embedder.dim)?;
    }
    let mut latest: BTreeMap<i64, VectorRecord> = BTreeMap::new();
    for mut record in records {
        if metric.normalizes() {
            unit(&mut record.vector);
        }
        latest.insert(record.id, record);
    }
    Ok(latest.into_values().collect())
}

/// The query as searched: unit length when `metric` compares angles.
pub(crate) fn query_vector(metric: DistanceMetric, query: &[f32]) -> Vec<f32> {
    let mut query = query.to_vec();
    if metric.normalizes() {
        unit(&mut query);
    }
    query
}

/// The metric's raw value between two vectors as stored: the inner product (the cosine for
/// unit-length vectors), or the squared distance for `l2`.
pub(crate) fn raw(metric: DistanceMetric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        DistanceMetric::Cosine | DistanceMetric::Ip => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        DistanceMetric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
    }
}
