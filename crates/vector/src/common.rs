//! What every index does the same way: input checks, unit vectors, scores, batch dedup.

use std::collections::BTreeMap;

use aimdb_core::{EmbedderIdentity, Error, Result, VectorRecord};

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
/// upserted one by one) with unit-length vectors, in id order.
pub(crate) fn prepare(embedder: &EmbedderIdentity, records: Vec<VectorRecord>) -> Result<Vec<VectorRecord>> {
    for (i, record) in records.iter().enumerate() {
        if record.id < 0 {
            return Err(Error::invalid(format!("records[{i}].id"), "must not be negative"));
        }
        check_vector(|| format!("records[{i}].vector"), &record.vector, embedder.dim)?;
    }
    let mut latest: BTreeMap<i64, VectorRecord> = BTreeMap::new();
    for mut record in records {
        unit(&mut record.vector);
        latest.insert(record.id, record);
    }
    Ok(latest.into_values().collect())
}

/// `(1 + cosine) / 2`, clamped to `[0, 1]` against rounding.
pub(crate) fn score(cosine: f32) -> f32 {
    ((1.0 + cosine) / 2.0).clamp(0.0, 1.0)
}
