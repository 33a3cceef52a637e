//! `exp` and exact-form GELU as branch-free f32 code the compiler can vectorise,
//! instead of scalar libm calls (which were 22% of embedding time), in fused
//! multiply-adds: one instruction each inside the encoder's SIMD dispatch, where these
//! are inlined (outside it, in unit tests, `mul_add` is a libm call: exact, slow).

/// `e^x` for f32: range reduction to `2^n * e^r`, |r| <= ln2/2, and a degree-6
/// polynomial for `e^r` (relative error ~2 ulp; inputs below -87 flush to 0).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x.mul_add(LOG2E, ROUND);
    let n = shifted - ROUND;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    let p = horner(r, &[1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0]);
    // 2^n assembled in the exponent bits. `shifted`'s bits are ROUND's plus n (n is in
    // [-126, 127] after the clamp), so adding the bias and shifting leaves n + 127 in the
    // exponent field: integer operations that vectorise, where `n as i32` (a saturating
    // conversion) was compiled lane by lane.
    let scale = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    p * scale
}

/// `c[0] + x * (c[1] + x * (c[2] + ...))`.
#[inline(always)]
fn horner<const N: usize>(x: f32, c: &[f32; N]) -> f32 {
    let (last, rest) = c.split_last().expect("a polynomial has a coefficient");
    rest.iter().rev().fold(*last, |acc, &c| acc.mul_add(x, c))
}

/// `erf(x)` by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), the form
/// PyTorch's vectorised CPU `erf` uses.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152, 1.061_405_4];
    let ax = x.abs();
    let t = 1.0 / P.mul_add(ax, 1.0);
    let poly = t * horner(t, &A);
    let y = (-poly).mul_add(exp(-ax * ax), 1.0);
    y.copysign(x)
}

/// GELU in its exact (erf) form, as BERT's `gelu` activation.
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    let half = 0.5 * x;
    half.mul_add(erf(x * std::f32::consts::FRAC_1_SQRT_2), half)
}

/// The sum of `xs`: register by register, then within the register in a tree (a fold
/// of 16 lanes one by one is a chain of 16 dependent additions), then what is past whole
/// registers.
#[inline(always)]
pub(crate) fn sum<S: pulp::Simd>(simd: S, xs: &[f32]) -> f32 {
    let (registers, rest) = S::as_simd_f32s(xs);
    let total = registers.iter().fold(simd.splat_f32s(0.0), |acc, &x| simd.add_f32s(acc, x));
    rest.iter().fold(simd.reduce_sum_f32s(total), |acc, &x| acc + x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std() {
        let mut worst = 0.0f32;
        for i in -8_700..=8_800 {
            let x = i as f32 / 100.0;
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        let tiny = exp(-1000.0);
        assert!((0.0..1e-37).contains(&tiny), "underflow clamps: {tiny}");
    }

    #[test]
    fn erf_and_gelu_match_the_exact_forms() {
        for i in -6_000..=6_000 {
            let x = i as f64 / 1_000.0;
            let exact = libm_erf(x);
            let err = (f64::from(erf(x as f32)) - exact).abs();
            assert!(err < 5e-7, "erf({x}) off by {err}");
            let g = 0.5 * x * (1.0 + libm_erf(x / std::f64::consts::SQRT_2));
            assert!((f64::from(gelu_erf(x as f32)) - g).abs() < 2e-6 * (1.0 + x.abs()), "gelu({x})");
        }
    }

    /// erf in f64 by its Taylor series (|x| <= 3) or continued fraction (beyond).
    fn libm_erf(x: f64) -> f64 {
        let ax = x.abs();
        let value = if ax <= 3.0 {
            let (mut term, mut sum, mut k) = (ax, ax, 0.0);
            while term.abs() > 1e-17 {
                k += 1.0;
                term *= -ax * ax / k;
                sum += term / (2.0 * k + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (ax + f);
            }
            1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / (ax + f)
        };
        value.copysign(x)
    }
}
