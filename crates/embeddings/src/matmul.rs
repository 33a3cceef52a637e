//! Matrix products for the CPU encoder, behind a safe interface:
//!
//! - [`matmul`]: strided views of plain slices on the `gemm` crate's kernels (the ones
//!   candle's CPU matmul calls), for weights in the plain layout.
//! - [`Weights`]: a dense layer's weights packed once, at load, into 64-column panels for a
//!   register-blocked AVX-512 kernel (6 rows x 64 outputs in 24 registers, the bias loaded
//!   as the accumulators' start). A panel is read from memory once per product and reused
//!   from cache by every block of rows; a product of few rows (a search query's dozen
//!   tokens) splits the panels between threads, so each reads half the weights. A model's
//!   panels share one block of memory on huge pages ([`PanelMemory`]). Where AVX-512 is
//!   missing, the plain layout and `gemm`.
//!
//! Why not candle's `Tensor::matmul` on the encoder's hot path: every call asks for the
//! thread count, which reads `/proc/cpuinfo` (num_cpus' physical count), and runs on every
//! thread whatever its size; a short query's 24 products paid both. And `gemm` packs the
//! weights again on every call, which costs as much as the product when rows are few.
//! Measured on the 2-core AVX-512 machine, MiniLM's 24 products side by side: 13-20 rows
//! 1.3-1.5x faster packed than with `gemm`; 640 rows (a batch of 32 texts) 5% slower.
#![allow(unsafe_code)]

use std::sync::Arc;

use gemm::Parallelism;

/// A read-only `rows x cols` matrix in `data`: element `(i, j)` at `i * rs + j * cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// A view with the given strides; panics when an element would lie outside `data`.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < data.len(),
            "a {rows}x{cols} view (strides {rs}, {cs}) does not fit {} elements",
            data.len()
        );
        View { data, rows, cols, rs, cs }
    }

    /// A dense row-major `rows x cols` matrix.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }
}

/// `dst[i * dst_rs + j] = sum_k a[i, k] * b[k, j]` for `i < a.rows`, `j < b.cols`; with
/// `accumulate`, added to what `dst` holds instead.
/// On the calling thread: [`Weights::forward`] shares a layer's product out between threads.
pub(crate) fn matmul(dst: &mut [f32], dst_rs: usize, a: View, b: View, accumulate: bool) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert_eq!(b.rows, k, "inner dimensions differ: {m}x{k} times {}x{n}", b.rows);
    assert!(m == 0 || n == 0 || (dst_rs >= n && (m - 1) * dst_rs + n <= dst.len()), "destination too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_rs).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    // SAFETY: the asserts above (and in `View::new`) keep every element read within `a.data`
    // and `b.data` and every element written within `dst`, whose rows (n wide, dst_rs >= n
    // apart) do not overlap; `dst` is borrowed mutably, so nothing else aliases it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// Columns per panel: four AVX-512 registers.
const PANEL: usize = 64;
/// Rows per block: 6 x 4 accumulators and 4 registers of weights.
const BLOCK_ROWS: usize = 6;
/// Rows up to which a product on several threads splits the panels rather than the rows:
/// each thread then reads its share of the weights, not all of them.
const SPLIT_PANELS_ROWS: usize = 64;

/// A dense layer's weights `W^T` (`[inputs, outputs]`) and bias, laid out for the fastest
/// kernel this CPU has.
#[derive(Debug)]
pub(crate) struct Weights {
    data: Panels,
    /// `outputs` long, padded with zeros to whole panels when packed.
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

/// Where a layer's weights are.
#[derive(Debug)]
enum Panels {
    /// `W^T` row-major, for `gemm`.
    Plain(Vec<f32>),
    /// Panel `p` holds columns `64p..64p + 64` as `[inputs][64]`, the last one padded with
    /// zeros; `len` floats from `start` of memory shared by all the model's layers.
    Packed { memory: Arc<PanelMemory>, start: usize, len: usize },
}

/// One block of memory for every packed layer of a model, aligned to 2 MiB and advised for
/// transparent huge pages (Linux): a search query's products read all 42 MB of MiniLM's
/// weights from L3, and with 4 KiB pages every 16 rows of a panel crossed into a page the
/// TLB did not hold (two-level page walks in a VM). Measured on the 2-core VM, one thread
/// through all 24 products of a query: 2.9 ms on 4 KiB pages, 2.4-2.6 ms on huge pages.
/// Where huge pages are off (`never`) it is plain memory.
#[derive(Debug)]
struct PanelMemory {
    map: memmap2::MmapMut,
    /// Bytes from the mapping's start to the first 2 MiB boundary.
    offset: usize,
}

const HUGE_PAGE: usize = 2 << 20;

impl PanelMemory {
    fn new(floats: usize) -> std::io::Result<Self> {
        // The spare huge page lets the used part start on a boundary; what is not touched
        // takes no memory.
        let map = memmap2::MmapMut::map_anon(floats * 4 + HUGE_PAGE)?;
        // Advice, before the first write: without it the pages are small, nothing else
        // changes.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        let offset = (HUGE_PAGE - map.as_ptr() as usize % HUGE_PAGE) % HUGE_PAGE;
        Ok(PanelMemory { map, offset })
    }

    fn floats(&self) -> &[f32] {
        // The mapping is page aligned and `offset` a multiple of the page size, so the cast
        // never fails; what is left of the mapping past it is a whole number of pages.
        bytemuck::cast_slice(&self.map[self.offset..])
    }

    fn floats_mut(&mut self) -> &mut [f32] {
        bytemuck::cast_slice_mut(&mut self.map[self.offset..])
    }
}

/// A dense layer as read from the model: `w_t` `[inputs, bias.len()]` row-major.
pub(crate) struct Unpacked {
    pub(crate) w_t: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) inputs: usize,
}

impl Weights {
    /// A model's layers, packed into panels (in one [`PanelMemory`]) when AVX-512 is there.
    pub(crate) fn all(layers: Vec<Unpacked>) -> std::io::Result<Vec<Self>> {
        Self::all_with_layout(layers, avx512())
    }

    pub(crate) fn all_with_layout(layers: Vec<Unpacked>, packed: bool) -> std::io::Result<Vec<Self>> {
        for l in &layers {
            let (inputs, outputs) = (l.inputs, l.bias.len());
            assert_eq!(l.w_t.len(), inputs * outputs, "weights are not {inputs}x{outputs}");
        }
        if !packed {
            let plain = |l: Unpacked| Weights {
                outputs: l.bias.len(),
                inputs: l.inputs,
                data: Panels::Plain(l.w_t),
                bias: l.bias,
            };
            return Ok(layers.into_iter().map(plain).collect());
        }
        let size = |l: &Unpacked| l.bias.len().div_ceil(PANEL) * PANEL * l.inputs;
        let mut memory = PanelMemory::new(layers.iter().map(size).sum::<usize>().max(1))?;
        let mut starts = Vec::with_capacity(layers.len());
        let mut start = 0;
        for l in &layers {
            let len = size(l);
            pack(&l.w_t, l.inputs, l.bias.len(), &mut memory.floats_mut()[start..][..len]);
            starts.push((start, len));
            start += len;
        }
        let memory = Arc::new(memory);
        Ok(layers
            .into_iter()
            .zip(starts)
            .map(|(l, (start, len))| {
                let outputs = l.bias.len();
                let mut bias = l.bias;
                bias.resize(outputs.div_ceil(PANEL) * PANEL, 0.0);
                let data = Panels::Packed { memory: memory.clone(), start, len };
                Weights { data, bias, inputs: l.inputs, outputs }
            })
            .collect())
    }

    /// Multiply-adds of a product with `n` rows.
    pub(crate) fn macs(&self, n: usize) -> usize {
        n * self.inputs * self.outputs
    }

    /// Output columns.
    pub(crate) fn outputs(&self) -> usize {
        self.outputs
    }

    /// `x [n, inputs] W + bias` as `[n, outputs]`; with `parallel`, split between the
    /// encoder's threads ([`crate::team`]).
    #[cfg(test)]
    pub(crate) fn forward(&self, x: &[f32], n: usize, parallel: bool) -> Vec<f32> {
        let mut y = vec![f32::NAN; n * self.outputs];
        self.forward_into(x, n, &mut y, parallel);
        y
    }

    /// `x [n, inputs] W + bias` into `y` (`[n, outputs]`, what it held overwritten); with
    /// `parallel`, split between the encoder's threads ([`crate::team`]).
    pub(crate) fn forward_into(&self, x: &[f32], n: usize, y: &mut [f32], parallel: bool) {
        let (inputs, outputs) = (self.inputs, self.outputs);
        assert_eq!(x.len(), n * inputs, "input is not {n}x{inputs}");
        assert_eq!(y.len(), n * outputs, "output is not {n}x{outputs}");
        let threads = if parallel { crate::team::threads() } else { 1 };
        if n == 0 {
            return;
        }
        if threads == 1 {
            self.columns(x, n, 0, y, outputs);
        } else if n > SPLIT_PANELS_ROWS {
            // Rows split evenly between the threads.
            let mut parts = Vec::with_capacity(threads);
            let (mut rest, mut start) = (&mut y[..], 0);
            for t in 0..threads {
                let rows = n * (t + 1) / threads - start;
                let (part, tail) = rest.split_at_mut(rows * outputs);
                parts.push((start, rows, part));
                (rest, start) = (tail, start + rows);
            }
            crate::team::for_each(parts, |(start, rows, part)| {
                self.columns(&x[start * inputs..][..rows * inputs], rows, 0, part, outputs);
            });
        } else {
            // Few rows (a search query): whole panels are split instead, so each thread reads
            // its share of the weights, writing its columns into a buffer of its own.
            let panels = outputs.div_ceil(PANEL);
            let per = panels.div_ceil(threads);
            let firsts: Vec<usize> = (0..panels).step_by(per).collect();
            let pieces = crate::team::map(firsts, |first| {
                let cols = (per * PANEL).min(outputs - first * PANEL);
                let mut piece = vec![0.0; n * cols];
                self.columns(x, n, first * PANEL, &mut piece, cols);
                (first * PANEL, piece)
            });
            for (col, piece) in pieces {
                let cols = piece.len() / n;
                for (row, src) in y.chunks_mut(outputs).zip(piece.chunks(cols)) {
                    row[col..col + cols].copy_from_slice(src);
                }
            }
        }
    }

    /// Rows `x [rows, inputs]` times the `cols` columns of the weights from `col` on (a
    /// multiple of [`PANEL`]), bias added, into `out` (`[rows, cols]`), on this thread.
    fn columns(&self, x: &[f32], rows: usize, col: usize, out: &mut [f32], cols: usize) {
        let Panels::Plain(data) = &self.data else {
            return self.rows(x, rows, col / PANEL, out, cols);
        };
        let outputs = self.outputs;
        out.chunks_mut(cols).for_each(|row| row.copy_from_slice(&self.bias[col..col + cols]));
        let w = View::new(&data[col..], self.inputs, cols, outputs, 1);
        matmul(out, cols, View::rows(x, rows, self.inputs), w, true);
    }

    /// Rows `x [rows, inputs]` times the panels from `first` on, bias added, into `out`
    /// (`[rows, cols]`, `cols` the columns from panel `first` that `out` holds). Panels
    /// outer, blocks of rows inner: each panel is read from memory once and stays in
    /// cache while every block uses it.
    fn rows(&self, x: &[f32], rows: usize, first: usize, out: &mut [f32], cols: usize) {
        let inputs = self.inputs;
        let Panels::Packed { memory, start, len } = &self.data else {
            unreachable!("called for packed weights only")
        };
        let panels = &memory.floats()[*start..][..*len];
        assert!(x.len() == rows * inputs && out.len() == rows * cols);
        assert!(first * PANEL + cols <= self.outputs);
        // Blocks of nearly equal size.
        let count = rows.div_ceil(BLOCK_ROWS);
        let bounds: Vec<usize> = (0..=count).map(|b| rows * b / count).collect();
        for (i, col) in (0..cols).step_by(PANEL).enumerate() {
            let p = first + i;
            let panel = &panels[p * inputs * PANEL..][..inputs * PANEL];
            let width = PANEL.min(cols - col);
            for b in 0..count {
                let (r0, r1) = (bounds[b], bounds[b + 1]);
                // SAFETY: the kernel reads this block's `r1 - r0` rows of `x`, the
                // whole panel, 64 of the bias (padded to whole panels at load), and
                // writes `width` columns at `col` of `r1 - r0 <= 6` rows `cols` apart, within
                // `out` as sliced; it needs AVX-512F, which packing required.
                unsafe {
                    kernel::run(
                        r1 - r0,
                        &x[r0 * inputs..r1 * inputs],
                        panel,
                        &self.bias[p * PANEL..][..PANEL],
                        &mut out[r0 * cols + col..],
                        cols,
                        width,
                    );
                }
            }
        }
    }
}

/// `w_t` (`[inputs, outputs]`) into `dst` as 64-column panels, the last padded with zeros.
fn pack(w_t: &[f32], inputs: usize, outputs: usize, dst: &mut [f32]) {
    for (p, panel) in dst.chunks_mut(inputs * PANEL).enumerate() {
        let cols = PANEL.min(outputs - p * PANEL);
        for (k, row) in panel.chunks_mut(PANEL).enumerate() {
            row[..cols].copy_from_slice(&w_t[k * outputs + p * PANEL..][..cols]);
            row[cols..].fill(0.0);
        }
    }
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use std::arch::x86_64::*;

    /// `out[r][..width] = bias + sum_k x[r][k] * panel[k][..]` for `rows` rows, over one
    /// panel of `[inputs][64]`; dispatched on the row count so each kernel keeps its
    /// accumulators in registers.
    ///
    /// # Safety
    /// AVX-512F present; `x` holds `rows * inputs` elements, `panel` `inputs * 64`, `bias`
    /// 64 and `out` `(rows - 1) * out_rs + width`, `width <= 64`, `rows <= 6`.
    pub(super) unsafe fn run(
        rows: usize,
        x: &[f32],
        panel: &[f32],
        bias: &[f32],
        out: &mut [f32],
        out_rs: usize,
        width: usize,
    ) {
        let inputs = panel.len() / 64;
        let args = (x.as_ptr(), panel.as_ptr(), bias.as_ptr(), out.as_mut_ptr(), out_rs, width, inputs);
        macro_rules! dispatch {
            ($($r:literal)*) => {
                match rows {
                    // SAFETY: the caller's contract, with `rows` equal to R.
                    $($r => unsafe { block::<$r>(args) },)*
                    _ => unreachable!("at most 6 rows per block"),
                }
            };
        }
        dispatch!(1 2 3 4 5 6)
    }

    type Args = (*const f32, *const f32, *const f32, *mut f32, usize, usize, usize);

    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize>((x, panel, bias, out, out_rs, width, inputs): Args) {
        // SAFETY: every pointer stays within the bounds `run`'s contract states.
        unsafe {
            let mut start = [_mm512_setzero_ps(); 4];
            for (v, s) in start.iter_mut().enumerate() {
                *s = _mm512_loadu_ps(bias.add(v * 16));
            }
            let mut acc = [start; R];
            for k in 0..inputs {
                let w = panel.add(k * 64);
                let w = [
                    _mm512_loadu_ps(w),
                    _mm512_loadu_ps(w.add(16)),
                    _mm512_loadu_ps(w.add(32)),
                    _mm512_loadu_ps(w.add(48)),
                ];
                // Row r's input k: R streams, each read in order.
                for (r, a) in acc.iter_mut().enumerate() {
                    let b = _mm512_set1_ps(*x.add(r * inputs + k));
                    for v in 0..4 {
                        a[v] = _mm512_fmadd_ps(w[v], b, a[v]);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                let row = out.add(r * out_rs);
                for (v, a) in a.iter().enumerate() {
                    let mask = ((1u32 << width.saturating_sub(v * 16).min(16)) - 1) as u16;
                    _mm512_mask_storeu_ps(row.add(v * 16), mask, *a);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod kernel {
    pub(super) unsafe fn run(_: usize, _: &[f32], _: &[f32], _: &[f32], _: &mut [f32], _: usize, _: usize) {
        unreachable!("weights are packed only where AVX-512 is")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: View, b: View) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                out[i * b.cols + j] =
                    (0..a.cols).map(|k| a.data[i * a.rs + k * a.cs] * b.data[k * b.rs + j * b.cs]).sum();
            }
        }
        out
    }

    fn data(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104_729) % 997) as f32 / 997.0 - 0.5).collect()
    }

    #[test]
    fn strided_products_match_the_definition() {
        let (m, k, n) = (13, 40, 37);
        let a_data = data(m * 3 * k, 1);
        let b_data = data(k * n, 2);
        // a: every third block of k columns of a wider matrix; b: read transposed.
        let a = View::new(&a_data[k..], m, k, 3 * k, 1);
        let b = View::new(&b_data, k, n, 1, k);
        let expected = naive(a, b);
        let mut dst = vec![0.0; m * n];
        matmul(&mut dst, n, a, b, false);
        for (x, y) in dst.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
        // Accumulating into a wider destination leaves the columns beside it alone.
        let mut dst = vec![1.0; m * (n + 3)];
        matmul(&mut dst, n + 3, a, b, true);
        for i in 0..m {
            for j in 0..n + 3 {
                let want = if j < n { expected[i * n + j] + 1.0 } else { 1.0 };
                assert!((dst[i * (n + 3) + j] - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn packed_and_plain_weights_give_the_product_plus_bias() {
        let shapes = [(40, 70), (24, 64), (16, 32), (9, 130), (300, 96)];
        let layers = || {
            let layer = |(i, &(inputs, outputs)): (usize, &(usize, usize))| Unpacked {
                w_t: data(inputs * outputs, 3 + i),
                bias: data(outputs, 40 + i),
                inputs,
            };
            shapes.iter().enumerate().map(layer).collect::<Vec<_>>()
        };
        for layout in [false, avx512()] {
            // All layers in one call: packed ones share one block of memory.
            let all = Weights::all_with_layout(layers(), layout).unwrap();
            for (weights, dense) in all.iter().zip(layers()) {
                let (inputs, outputs) = (dense.inputs, dense.bias.len());
                for n in [0, 1, 5, 13, 14, 15, 29, 40, 100] {
                    let x = data(n * inputs, n);
                    let mut expected =
                        naive(View::rows(&x, n, inputs), View::rows(&dense.w_t, inputs, outputs));
                    expected
                        .chunks_mut(outputs)
                        .for_each(|r| r.iter_mut().zip(&dense.bias).for_each(|(v, b)| *v += b));
                    for parallel in [false, true] {
                        let y = weights.forward(&x, n, parallel);
                        assert_eq!(y.len(), expected.len());
                        for (i, (a, b)) in y.iter().zip(&expected).enumerate() {
                            assert!(
                                (a - b).abs() < 1e-4,
                                "{inputs}x{outputs} n {n} packed {layout} parallel {parallel} at {i}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn a_view_past_its_slice_panics() {
        View::new(&[0.0; 10], 3, 4, 4, 1);
    }

    #[test]
    #[should_panic(expected = "destination too small")]
    fn a_short_destination_panics() {
        let a = [1.0; 6];
        matmul(&mut [0.0; 4], 3, View::rows(&a, 2, 3), View::rows(&a, 3, 2), false);
    }
}
