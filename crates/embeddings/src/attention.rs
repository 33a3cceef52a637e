//! Self-attention of one text in plain loops over fixed-size blocks, which the caller's
//! SIMD dispatch ([`crate::encoder`]'s row passes run inside pulp's) compiles into
//! register-blocked AVX-512 (or AVX2) code: queries times keys, softmax, probabilities
//! times values, head by head.
//!
//! Why not `gemm` for these products: a head's are tiny (~30x32 by 32x30 for a text in a
//! batch, a dozen rows for a search query), and `gemm`'s set-up and packing on every one
//! of the 2 x 12 calls per text and layer cost more than their arithmetic (profiled: the
//! attention pass and its `gemm` calls were ~8% of a batch's time, for ~1% of its
//! multiply-adds).

use pulp::Simd;

use crate::fastmath::exp;

/// Score rows are padded to a multiple of this: whole registers for every SIMD width.
const PAD: usize = 16;
/// Query rows per block of scores: each register of keys loaded serves this many
/// (8 independent sums in flight).
const SCORE_ROWS: usize = 8;
/// Query rows per block of the context, each block two registers wide (8 sums).
const CONTEXT_ROWS: usize = 4;

/// One text's attention: `qkv` is its `[len, 3 * hidden]` fused projection (queries,
/// keys and values side by side, each head `hidden / heads` columns of each), `out` its
/// `[len, hidden]` context. Keys at or past `valid` are padding: they get no weight.
#[inline(always)]
pub(crate) fn attend<S: Simd>(
    simd: S,
    qkv: &[f32],
    out: &mut [f32],
    hidden: usize,
    heads: usize,
    valid: usize,
    len: usize,
) {
    if len == 0 {
        return;
    }
    let d = hidden / heads;
    let stride = 3 * hidden;
    let keys = valid.min(len);
    let lanes = S::F32_LANES;
    // Score rows padded to whole registers; the padding columns score 0 and the softmax
    // gives them (like the padded keys) probability 0.
    let width = keys.div_ceil(PAD).max(1) * PAD;
    let scale = 1.0 / (d as f32).sqrt();
    let mut kt = vec![0.0f32; d * width];
    let mut scores = vec![0.0f32; len * width];
    for head in 0..heads {
        let part = |i: usize, part: usize| &qkv[i * stride + part * hidden + head * d..][..d];
        // The head's keys transposed, `[d][width]`: a block of scores then reads registers.
        for j in 0..keys {
            for (c, &x) in part(j, 1).iter().enumerate() {
                kt[c * width + j] = x;
            }
        }
        for first in (0..len).step_by(SCORE_ROWS) {
            let rows = block_rows::<SCORE_ROWS>(first, len);
            let queries = rows.map(|i| part(i, 0));
            for column in (0..width).step_by(lanes) {
                let mut acc = [simd.splat_f32s(0.0); SCORE_ROWS];
                for (c, keys) in kt.chunks_exact(width).enumerate() {
                    let keys = load(simd, &keys[column..]);
                    for (acc, q) in acc.iter_mut().zip(&queries) {
                        *acc = simd.mul_add_e_f32s(simd.splat_f32s(q[c]), keys, *acc);
                    }
                }
                // Rows past the last repeat it: the same values, written again.
                for (&acc, &i) in acc.iter().zip(&rows) {
                    store(simd, &mut scores[i * width + column..], acc);
                }
            }
        }
        for row in scores.chunks_exact_mut(width) {
            softmax_prefix(simd, row, keys, scale);
        }
        // Context blocks two registers wide; where `d` is not a multiple of that, the last
        // block starts earlier and overlaps the one before (the same values again).
        let block = 2 * lanes;
        for first in (0..len).step_by(CONTEXT_ROWS) {
            let rows = block_rows::<CONTEXT_ROWS>(first, len);
            if d < block {
                for &i in &rows {
                    let p = &scores[i * width..][..keys];
                    for c in 0..d {
                        out[i * hidden + head * d + c] =
                            p.iter().enumerate().fold(0.0, |sum, (j, &p)| p.mul_add(part(j, 2)[c], sum));
                    }
                }
                continue;
            }
            for b in 0..d.div_ceil(block) {
                let column = (b * block).min(d - block);
                let mut acc = [[simd.splat_f32s(0.0); 2]; CONTEXT_ROWS];
                for j in 0..keys {
                    let values = &part(j, 2)[column..];
                    let values = [load(simd, values), load(simd, &values[lanes..])];
                    for (acc, &i) in acc.iter_mut().zip(&rows) {
                        let p = simd.splat_f32s(scores[i * width + j]);
                        for (acc, &v) in acc.iter_mut().zip(&values) {
                            *acc = simd.mul_add_e_f32s(p, v, *acc);
                        }
                    }
                }
                for (acc, &i) in acc.iter().zip(&rows) {
                    let out = &mut out[i * hidden + head * d + column..];
                    store(simd, out, acc[0]);
                    store(simd, &mut out[lanes..], acc[1]);
                }
            }
        }
    }
}

/// The first register's worth of `x`.
#[inline(always)]
fn load<S: Simd>(_: S, x: &[f32]) -> S::f32s {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&x[..S::F32_LANES]))
}

/// `v` into the first register's worth of `x`.
#[inline(always)]
fn store<S: Simd>(_: S, x: &mut [f32], v: S::f32s) {
    x[..S::F32_LANES].copy_from_slice(bytemuck::cast_slice(std::slice::from_ref(&v)));
}

/// The rows of the block starting at `first`: past `len`, the last row again.
#[inline(always)]
fn block_rows<const R: usize>(first: usize, len: usize) -> [usize; R] {
    std::array::from_fn(|r| (first + r).min(len - 1))
}

/// Softmax of `row[..valid] * scale`; the rest of the row gets probability 0.
///
/// Made for rows of a few dozen scores, thousands of times per text: register by
/// register, the padding masked by its index (no scalar remainder where the row is whole
/// registers long, as the encoder's are; no `memset` call in between), the maximum and
/// the sum reduced within a register in a tree (a fold of 16 lanes in a row is a chain of
/// 16 dependent additions, which dominated). The padding is set to 0 once exponentiated:
/// a tiny `exp` there would become subnormal when scaled (~100x slower arithmetic).
#[inline(always)]
pub(crate) fn softmax_prefix<S: Simd>(simd: S, row: &mut [f32], valid: usize, scale: f32) {
    let lanes = S::F32_LANES;
    // The lanes of register `r` that hold real keys.
    let real = |r: usize| simd.mask_between_m32s(0, valid.saturating_sub(r * lanes).min(lanes) as u32).mask();
    let (registers, rest) = S::as_mut_simd_f32s(row);
    let mut max = simd.splat_f32s(f32::NEG_INFINITY);
    for (r, &x) in registers.iter().enumerate() {
        max = simd.max_f32s(max, simd.select_f32s(real(r), x, max));
    }
    let tail = registers.len() * lanes;
    let max = scale
        * rest.iter().take(valid.saturating_sub(tail)).fold(simd.reduce_max_f32s(max), |m, &x| m.max(x));
    for s in row.iter_mut() {
        *s = exp(*s * scale - max);
    }
    let (registers, rest) = S::as_mut_simd_f32s(row);
    let zero = simd.splat_f32s(0.0);
    let mut sum = zero;
    for (r, x) in registers.iter_mut().enumerate() {
        *x = simd.select_f32s(real(r), *x, zero);
        sum = simd.add_f32s(sum, *x);
    }
    let mut sum = simd.reduce_sum_f32s(sum);
    for (j, x) in rest.iter_mut().enumerate() {
        *x = if tail + j < valid { *x } else { 0.0 };
        sum += *x;
    }
    let inv = 1.0 / sum;
    for s in row.iter_mut() {
        *s *= inv;
    }
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;

    struct Softmax<'a> {
        row: &'a mut [f32],
        valid: usize,
    }

    impl pulp::WithSimd for Softmax<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, simd: S) {
            softmax_prefix(simd, self.row, self.valid, 0.5)
        }
    }

    #[test]
    fn softmax_covers_the_real_keys_and_zeroes_the_padding() {
        // Padding past whole registers, within a register, none; the largest real score
        // in the remainder.
        for (len, valid) in [(38, 37), (32, 20), (16, 16), (5, 1)] {
            let scores: Vec<f32> = (0..valid).map(|i| ((i * 13) % 17) as f32 * 0.3 - 2.0).collect();
            let max = scores.iter().fold(f32::MIN, |m, &s| m.max(s * 0.5));
            let total: f32 = scores.iter().map(|s| (s * 0.5 - max).exp()).sum();
            for dispatched in [false, true] {
                let mut row = scores.clone();
                row.resize(len, 1.0e3); // padding, however large
                let run = Softmax { row: &mut row, valid };
                if dispatched {
                    pulp::Arch::new().dispatch(run)
                } else {
                    run.with_simd(pulp::Scalar::new())
                }
                for (p, s) in row.iter().zip(&scores) {
                    assert!((p - (s * 0.5 - max).exp() / total).abs() < 1e-6, "{len} {valid} {dispatched}");
                }
                assert!(row[valid..].iter().all(|&p| p == 0.0), "{len} {valid} {dispatched}: {row:?}");
            }
        }
    }

    /// Attention in f64 the textbook way: per head, softmax(q k^T / sqrt(d)) v over the
    /// first `valid` keys.
    fn reference(qkv: &[f32], hidden: usize, heads: usize, valid: usize, len: usize) -> Vec<f64> {
        let d = hidden / heads;
        let at = |i: usize, part: usize, head: usize, c: usize| {
            f64::from(qkv[i * 3 * hidden + part * hidden + head * d + c])
        };
        let mut out = vec![0.0; len * hidden];
        for head in 0..heads {
            for i in 0..len {
                let scores: Vec<f64> = (0..valid)
                    .map(|j| {
                        (0..d).map(|c| at(i, 0, head, c) * at(j, 1, head, c)).sum::<f64>() / (d as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                for c in 0..d {
                    out[i * hidden + head * d + c] = scores
                        .iter()
                        .enumerate()
                        .map(|(j, s)| (s - max).exp() / total * at(j, 2, head, c))
                        .sum();
                }
            }
        }
        out
    }

    struct Attend<'a> {
        qkv: &'a [f32],
        out: &'a mut [f32],
        hidden: usize,
        heads: usize,
        valid: usize,
        len: usize,
    }

    impl pulp::WithSimd for Attend<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, simd: S) {
            attend(simd, self.qkv, self.out, self.hidden, self.heads, self.valid, self.len)
        }
    }

    #[test]
    fn blocks_match_textbook_attention_for_every_shape() {
        // Head widths below, at and between the blocks' widths (16 and 32 floats on
        // AVX-512, 8 and 16 on AVX2); lengths below, at and past a block of rows and of
        // lanes; padding or none.
        for (hidden, heads) in [(384, 12), (128, 2), (96, 2), (40, 5), (48, 1), (64, 4)] {
            for (len, valid) in [(1, 1), (2, 2), (7, 5), (8, 8), (13, 13), (17, 11), (33, 33), (40, 23)] {
                let qkv: Vec<f32> =
                    (0..len * 3 * hidden).map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 2.0).collect();
                let expected = reference(&qkv, hidden, heads, valid, len);
                // One float at a time, eight (AVX2) and what the CPU has best (the encoder's).
                for simd in ["scalar", "avx2", "best"] {
                    let mut out = vec![f32::NAN; len * hidden];
                    let run = Attend { qkv: &qkv, out: &mut out, hidden, heads, valid, len };
                    match simd {
                        "scalar" => run.with_simd(pulp::Scalar::new()),
                        "avx2" => match pulp::x86::V3::try_new() {
                            Some(v3) => v3.vectorize(|| run.with_simd(v3)),
                            None => continue,
                        },
                        _ => pulp::Arch::new().dispatch(run),
                    }
                    for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                        assert!(
                            (f64::from(*got) - want).abs() < 1e-5,
                            "hidden {hidden}, heads {heads}, len {len}, valid {valid}, {simd}: \
                             element {i} is {got}, not {want}"
                        );
                    }
                }
            }
        }
    }
}
