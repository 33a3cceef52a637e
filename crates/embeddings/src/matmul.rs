//! Matrix products for the CPU encoder, behind a safe interface:
//!
//! - [`matmul`]: strided views of plain slices on the `gemm` crate's kernels (the ones
//!   candle's CPU matmul calls), for weights in the plain layout.
//! - [`Weights`]: a dense layer's weights packed once, at load, into 64-column panels for a
//!   register-blocked AVX-512 kernel (6 rows x 64 outputs in 24 registers). A panel is read
//!   from memory once per product and reused from cache by every block of rows; a product
//!   of few rows (a search query's dozen tokens) splits the panels between threads, so each
//!   reads half the weights. A model's panels share one block of memory on huge pages
//!   ([`PanelMemory`]). Where AVX-512 is missing, the plain layout and `gemm`.
//! - Where the CPU has AVX512-FP16 ([`Layout::Half`]), panels and inputs in IEEE half
//!   precision: `vfmadd231ph` does 32 multiply-adds per instruction, twice `vfmadd231ps`.
//!   Half-precision sums are short-lived: each lane adds at most [`HALF_RUN`] products
//!   before they are widened and added in f32, so a product's error stays near the
//!   rounding of its inputs (parity with sentence-transformers' f32: cosine >= 0.99999).
//! - Where it has AVX512-BF16 and it is asked for ([`Layout::Brain`]), the same panels in
//!   bfloat16: `vdpbf16ps` does 32 multiply-adds per instruction into f32 sums, so only the
//!   inputs are rounded, to 8 significant bits (cosine >= 0.9999 on MiniLM, lowest 0.99994).
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
/// Products each half-precision lane adds before they are widened to f32. Measured on
/// MiniLM (2,000 texts against sentence-transformers, lowest cosine): 16 gives 0.9999983,
/// 32 0.9999976, 64 0.9999959 (most of the gap is the inputs' rounding, not the sums);
/// 32 ran 13-15% faster than 16, 64 another ~10%.
const HALF_RUN: usize = 32;
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
    /// As `Packed`, in a 16-bit format with the inputs taken two at a time: panel `p` is
    /// `[inputs / 2][64][2]` (column-major within a pair, so one 32-bit broadcast of two
    /// inputs meets both their weights); `len` elements from `start`.
    Half { memory: Arc<PanelMemory>, start: usize, len: usize, format: Format },
}

/// A 16-bit floating-point format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// IEEE half precision (11 significant bits, to 65504).
    Ieee,
    /// bfloat16 (8 significant bits, f32's range).
    Brain,
}

impl Format {
    /// `x` rounded to nearest, as bits.
    fn bits(self, x: f32) -> u16 {
        match self {
            Format::Ieee => half::f16::from_f32(x).to_bits(),
            Format::Brain => half::bf16::from_f32(x).to_bits(),
        }
    }
}

/// How a model's weights are laid out, from the CPU's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `W^T` row-major, for `gemm` (no AVX-512).
    Plain,
    /// f32 panels (AVX-512F).
    Packed,
    /// Half-precision panels (AVX512-FP16).
    Half,
    /// bfloat16 panels, f32 sums (AVX512-BF16), when asked for.
    Brain,
}

impl Layout {
    /// The default: the fastest layout this CPU runs at f32's accuracy or near it
    /// (bfloat16 only when asked for: [`Layout::brain`]).
    pub(crate) fn best() -> Self {
        if half_precision() {
            Layout::Half
        } else if avx512() {
            Layout::Packed
        } else {
            Layout::Plain
        }
    }

    /// bfloat16 panels, where this CPU runs them.
    pub(crate) fn brain() -> Option<Self> {
        brain_float().then_some(Layout::Brain)
    }

    /// Every layout this CPU runs (for tests).
    #[cfg(test)]
    pub(crate) fn supported() -> Vec<Self> {
        let all = [
            (Layout::Plain, true),
            (Layout::Packed, avx512()),
            (Layout::Half, half_precision()),
            (Layout::Brain, brain_float()),
        ];
        all.into_iter().filter(|&(_, ok)| ok).map(|(l, _)| l).collect()
    }
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
    fn new(bytes: usize) -> std::io::Result<Self> {
        // The spare huge page lets the used part start on a boundary; what is not touched
        // takes no memory.
        let map = memmap2::MmapMut::map_anon(bytes + HUGE_PAGE)?;
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

    fn halves(&self) -> &[u16] {
        bytemuck::cast_slice(&self.map[self.offset..])
    }

    fn halves_mut(&mut self) -> &mut [u16] {
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
    /// A model's layers in `layout` (one this CPU runs: [`Layout::best`] or below); packed
    /// ones share one [`PanelMemory`].
    pub(crate) fn all_with_layout(layers: Vec<Unpacked>, layout: Layout) -> std::io::Result<Vec<Self>> {
        for l in &layers {
            let (inputs, outputs) = (l.inputs, l.bias.len());
            assert_eq!(l.w_t.len(), inputs * outputs, "weights are not {inputs}x{outputs}");
        }
        if layout == Layout::Plain {
            let plain = |l: Unpacked| Weights {
                outputs: l.bias.len(),
                inputs: l.inputs,
                data: Panels::Plain(l.w_t),
                bias: l.bias,
            };
            return Ok(layers.into_iter().map(plain).collect());
        }
        let format = match layout {
            Layout::Half => Some(Format::Ieee),
            Layout::Brain => Some(Format::Brain),
            _ => None,
        };
        let half = format.is_some();
        // Elements of a layer's panels: f32, or halves over an even number of inputs.
        let size = |l: &Unpacked| {
            let rows = if half { l.inputs.div_ceil(2) * 2 } else { l.inputs };
            l.bias.len().div_ceil(PANEL) * PANEL * rows
        };
        let element = if half { 2 } else { 4 };
        let mut memory = PanelMemory::new(layers.iter().map(size).sum::<usize>().max(1) * element)?;
        let mut starts = Vec::with_capacity(layers.len());
        let mut start = 0;
        for l in &layers {
            let len = size(l);
            if let Some(format) = format {
                pack_half(&l.w_t, l.inputs, l.bias.len(), format, &mut memory.halves_mut()[start..][..len]);
            } else {
                pack(&l.w_t, l.inputs, l.bias.len(), &mut memory.floats_mut()[start..][..len]);
            }
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
                let memory = memory.clone();
                let data = if let Some(format) = format {
                    Panels::Half { memory, start, len, format }
                } else {
                    Panels::Packed { memory, start, len }
                };
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
        self.forward_into(x, n, &mut y, parallel, &mut Vec::new());
        y
    }

    /// `x [n, inputs] W + bias` into `y` (`[n, outputs]`, what it held overwritten); with
    /// `parallel`, split between the encoder's threads ([`crate::team`]). `half` is room for
    /// the input in the panels' 16-bit format (kept by the caller: a batch's is megabytes,
    /// and fresh memory costs its page faults on every product).
    pub(crate) fn forward_into(
        &self,
        x: &[f32],
        n: usize,
        y: &mut [f32],
        parallel: bool,
        half: &mut Vec<u16>,
    ) {
        let (inputs, outputs) = (self.inputs, self.outputs);
        assert_eq!(x.len(), n * inputs, "input is not {n}x{inputs}");
        assert_eq!(y.len(), n * outputs, "output is not {n}x{outputs}");
        let threads = if parallel { crate::team::threads() } else { 1 };
        if n == 0 {
            return;
        }
        let x = match self.data {
            Panels::Half { format, .. } => {
                to_half(x, n, inputs, format, half);
                Input::Half(half)
            }
            _ => Input::F32(x),
        };
        let stride = x.stride(inputs);
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
                self.columns(x.rows(start * stride, rows * stride), rows, 0, part, outputs);
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
    fn columns(&self, x: Input, rows: usize, col: usize, out: &mut [f32], cols: usize) {
        let (Panels::Plain(data), Input::F32(x)) = (&self.data, x) else {
            return self.blocks(x, rows, col / PANEL, out, cols);
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
    fn blocks(&self, x: Input, rows: usize, first: usize, out: &mut [f32], cols: usize) {
        let stride = x.stride(self.inputs);
        assert!(x.len() == rows * stride && out.len() == rows * cols);
        assert!(first * PANEL + cols <= self.outputs);
        // Blocks of nearly equal size.
        let count = rows.div_ceil(BLOCK_ROWS);
        let bounds: Vec<usize> = (0..=count).map(|b| rows * b / count).collect();
        for (i, col) in (0..cols).step_by(PANEL).enumerate() {
            let p = first + i;
            let width = PANEL.min(cols - col);
            let bias = &self.bias[p * PANEL..][..PANEL];
            for b in 0..count {
                let (r0, r1) = (bounds[b], bounds[b + 1]);
                let out = &mut out[r0 * cols + col..];
                // SAFETY (both arms): the kernel reads this block's `r1 - r0` rows of `x`,
                // the whole panel, 64 of the bias (padded to whole panels at load), and
                // writes `width` columns at `col` of `r1 - r0 <= 6` rows `cols` apart, within
                // `out` as sliced; it needs the CPU features packing checked (AVX-512F, and
                // AVX512-FP16 or AVX512-BF16 for 16-bit panels).
                match (&self.data, x) {
                    (Panels::Packed { memory, start, len }, Input::F32(x)) => {
                        let panel =
                            &memory.floats()[*start..][..*len][p * stride * PANEL..][..stride * PANEL];
                        let x = &x[r0 * stride..r1 * stride];
                        // SAFETY: as above, f32 panels.
                        unsafe { kernel::run(r1 - r0, x, panel, bias, out, cols, width) }
                    }
                    (Panels::Half { memory, start, len, format }, Input::Half(x)) => {
                        let panel =
                            &memory.halves()[*start..][..*len][p * stride * PANEL..][..stride * PANEL];
                        let x = &x[r0 * stride..r1 * stride];
                        // SAFETY: as above, 16-bit panels of `format`.
                        unsafe {
                            match format {
                                Format::Ieee => kernel::run_half(r1 - r0, x, panel, bias, out, cols, width),
                                Format::Brain => kernel::run_brain(r1 - r0, x, panel, bias, out, cols, width),
                            }
                        }
                    }
                    _ => unreachable!("inputs are converted for the panels they meet"),
                }
            }
        }
    }
}

/// A product's input rows, as the weights' layout takes them.
#[derive(Clone, Copy)]
enum Input<'a> {
    F32(&'a [f32]),
    /// 16-bit floats, each row padded to an even length ([`to_half`]).
    Half(&'a [u16]),
}

impl<'a> Input<'a> {
    /// Elements from one row to the next, for `inputs` inputs.
    fn stride(self, inputs: usize) -> usize {
        match self {
            Input::F32(_) => inputs,
            Input::Half(_) => inputs.div_ceil(2) * 2,
        }
    }

    fn len(self) -> usize {
        match self {
            Input::F32(x) => x.len(),
            Input::Half(x) => x.len(),
        }
    }

    /// `len` elements from `start`.
    fn rows(self, start: usize, len: usize) -> Self {
        match self {
            Input::F32(x) => Input::F32(&x[start..][..len]),
            Input::Half(x) => Input::Half(&x[start..][..len]),
        }
    }
}

/// `x [n, inputs]` into `dst` in `format` (rounded to nearest), rows padded with a zero to
/// an even length.
fn to_half(x: &[f32], n: usize, inputs: usize, format: Format, dst: &mut Vec<u16>) {
    use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
    let stride = inputs.div_ceil(2) * 2;
    dst.resize(n * stride, 0);
    for (row, src) in dst.chunks_mut(stride).zip(x.chunks(inputs)) {
        match format {
            Format::Ieee => row[..inputs].reinterpret_cast_mut::<half::f16>().convert_from_f32_slice(src),
            Format::Brain => row[..inputs].reinterpret_cast_mut::<half::bf16>().convert_from_f32_slice(src),
        }
        row[inputs..].fill(0);
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

/// `w_t` (`[inputs, outputs]`) into `dst` as 16-bit panels of input pairs
/// ([`Panels::Half`]), padded with zeros to whole panels and an even number of inputs.
fn pack_half(w_t: &[f32], inputs: usize, outputs: usize, format: Format, dst: &mut [u16]) {
    let pairs = inputs.div_ceil(2);
    for (p, panel) in dst.chunks_mut(pairs * 2 * PANEL).enumerate() {
        let cols = PANEL.min(outputs - p * PANEL);
        for (pair, block) in panel.chunks_mut(2 * PANEL).enumerate() {
            for (i, h) in block.iter_mut().enumerate() {
                let (c, k) = (i / 2, 2 * pair + i % 2);
                let w = if c < cols && k < inputs { w_t[k * outputs + p * PANEL + c] } else { 0.0 };
                *h = format.bits(w);
            }
        }
    }
}

fn half_precision() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512() && std::is_x86_feature_detected!("avx512fp16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn brain_float() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512() && std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
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

    /// `$block::<R>($args)` with `R` = `$rows` (1 to 6): each kernel keeps its accumulators
    /// in registers only when the row count is a constant.
    macro_rules! by_rows {
        ($rows:expr, $block:ident, $args:expr) => {
            match $rows {
                // SAFETY: the caller's contract, with `rows` equal to R.
                r @ 1..=6 => unsafe {
                    match r {
                        1 => $block::<1>($args),
                        2 => $block::<2>($args),
                        3 => $block::<3>($args),
                        4 => $block::<4>($args),
                        5 => $block::<5>($args),
                        _ => $block::<6>($args),
                    }
                },
                _ => unreachable!("at most 6 rows per block"),
            }
        };
    }

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
        by_rows!(rows, block, args)
    }

    type Args = (*const f32, *const f32, *const f32, *mut f32, usize, usize, usize);

    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize>((x, panel, bias, out, out_rs, width, inputs): Args) {
        // SAFETY: every pointer stays within the bounds `run`'s contract states.
        unsafe {
            let mut acc = [load_bias(bias); R];
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
            store(&acc, out, out_rs, width);
        }
    }

    /// 64 floats of bias from `bias`, as four registers.
    ///
    /// # Safety
    /// AVX-512F present; `bias` points at 64 floats.
    #[target_feature(enable = "avx512f")]
    unsafe fn load_bias(bias: *const f32) -> [__m512; 4] {
        // SAFETY: the caller's contract.
        unsafe {
            [
                _mm512_loadu_ps(bias),
                _mm512_loadu_ps(bias.add(16)),
                _mm512_loadu_ps(bias.add(32)),
                _mm512_loadu_ps(bias.add(48)),
            ]
        }
    }

    /// `R` rows of 64 sums into `out` (`out_rs` apart), `width` columns of each.
    ///
    /// # Safety
    /// AVX-512F present; `out` holds `(R - 1) * out_rs + width` floats, `width <= 64`.
    #[target_feature(enable = "avx512f")]
    unsafe fn store<const R: usize>(acc: &[[__m512; 4]; R], out: *mut f32, out_rs: usize, width: usize) {
        for (r, a) in acc.iter().enumerate() {
            // SAFETY: the caller's contract; the mask keeps each row within `width`.
            unsafe {
                let row = out.add(r * out_rs);
                for (v, a) in a.iter().enumerate() {
                    let mask = ((1u32 << width.saturating_sub(v * 16).min(16)) - 1) as u16;
                    _mm512_mask_storeu_ps(row.add(v * 16), mask, *a);
                }
            }
        }
    }

    /// As [`run`] over a half-precision panel ([`super::Panels::Half`]) and half-precision
    /// input rows `x` (`rows` of `inputs` halves, `inputs` even).
    ///
    /// # Safety
    /// AVX-512F and AVX512-FP16 present; otherwise as [`run`].
    pub(super) unsafe fn run_half(
        rows: usize,
        x: &[u16],
        panel: &[u16],
        bias: &[f32],
        out: &mut [f32],
        out_rs: usize,
        width: usize,
    ) {
        let inputs = panel.len() / 64;
        let args = (x.as_ptr(), panel.as_ptr(), bias.as_ptr(), out.as_mut_ptr(), out_rs, width, inputs);
        by_rows!(rows, half_block, args)
    }

    type HalfArgs = (*const u16, *const u16, *const f32, *mut f32, usize, usize, usize);

    /// Half-precision sums of [`super::HALF_RUN`] products at a time, widened and added in
    /// f32. Each 32-bit lane pairs two inputs' weights for one column, so the f32 sums hold
    /// (even input, odd input) pairs per column until the end.
    #[target_feature(enable = "avx512f")]
    unsafe fn half_block<const R: usize>((x, panel, bias, out, out_rs, width, inputs): HalfArgs) {
        // SAFETY: every pointer stays within the bounds `run_half`'s contract states.
        unsafe {
            // sums[r][2v] holds columns 16v..16v + 8 as pairs, sums[r][2v + 1] the next 8.
            let mut sums = [[_mm512_setzero_ps(); 8]; R];
            let pairs = inputs / 2;
            let mut k0 = 0;
            while k0 < pairs {
                let k1 = (k0 + super::HALF_RUN).min(pairs);
                let run = half_run::<R>(x, inputs, panel, k0, k1);
                for (s, a) in sums.iter_mut().zip(&run) {
                    for (v, a) in a.iter().enumerate() {
                        let low = _mm512_cvtph_ps(_mm512_castsi512_si256(*a));
                        let high = _mm512_cvtph_ps(_mm512_extracti64x4_epi64::<1>(*a));
                        s[2 * v] = _mm512_add_ps(s[2 * v], low);
                        s[2 * v + 1] = _mm512_add_ps(s[2 * v + 1], high);
                    }
                }
                k0 = k1;
            }
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            for (r, s) in sums.iter().enumerate() {
                let row = out.add(r * out_rs);
                for v in 0..4 {
                    let (low, high) = (s[2 * v], s[2 * v + 1]);
                    let pairs = _mm512_add_ps(
                        _mm512_permutex2var_ps(low, even, high),
                        _mm512_permutex2var_ps(low, odd, high),
                    );
                    let y = _mm512_add_ps(pairs, _mm512_loadu_ps(bias.add(v * 16)));
                    let mask = ((1u32 << width.saturating_sub(v * 16).min(16)) - 1) as u16;
                    _mm512_mask_storeu_ps(row.add(v * 16), mask, y);
                }
            }
        }
    }

    /// As [`run`] over a bfloat16 panel ([`super::Panels::Half`] of [`super::Format::Brain`])
    /// and bfloat16 input rows `x` (`rows` of `inputs`, `inputs` even).
    ///
    /// # Safety
    /// AVX-512F and AVX512-BF16 present; otherwise as [`run`].
    pub(super) unsafe fn run_brain(
        rows: usize,
        x: &[u16],
        panel: &[u16],
        bias: &[f32],
        out: &mut [f32],
        out_rs: usize,
        width: usize,
    ) {
        let inputs = panel.len() / 64;
        let args = (x.as_ptr(), panel.as_ptr(), bias.as_ptr(), out.as_mut_ptr(), out_rs, width, inputs);
        by_rows!(rows, brain_block, args)
    }

    /// `vdpbf16ps` adds both products of a pair of inputs into the f32 lane of their column,
    /// so the sums are f32 from the start and come out in column order.
    #[target_feature(enable = "avx512f")]
    unsafe fn brain_block<const R: usize>((x, panel, bias, out, out_rs, width, inputs): HalfArgs) {
        // SAFETY: every pointer stays within the bounds `run_brain`'s contract states; the
        // broadcast reads two bfloat16 of row r at input 2k.
        unsafe {
            let mut acc = [load_bias(bias); R];
            for k in 0..inputs / 2 {
                let w = panel.add(k * 128);
                let w = [
                    _mm512_loadu_si512(w.cast()),
                    _mm512_loadu_si512(w.add(32).cast()),
                    _mm512_loadu_si512(w.add(64).cast()),
                    _mm512_loadu_si512(w.add(96).cast()),
                ];
                for (r, a) in acc.iter_mut().enumerate() {
                    let b = _mm512_set1_epi32(x.add(r * inputs + 2 * k).cast::<i32>().read_unaligned());
                    for v in 0..4 {
                        // By hand, as `vfmadd231ph` below: one spelling on every toolchain.
                        std::arch::asm!(
                            "vdpbf16ps {a}, {w}, {b}",
                            a = inout(zmm_reg) a[v],
                            w = in(zmm_reg) w[v],
                            b = in(zmm_reg) b,
                            options(pure, nomem, nostack, preserves_flags),
                        );
                    }
                }
            }
            store(&acc, out, out_rs, width);
        }
    }

    /// Input pairs `k0..k1` of `R` rows against one half-precision panel, summed in half
    /// precision from zero. A function of its own (never inlined): inside `half_block`,
    /// whose f32 sums need 48 registers, the compiler spilled these 24 accumulators to the
    /// stack on every step (measured: 55 vs 125 GMAC/s on one core).
    #[inline(never)]
    #[target_feature(enable = "avx512f")]
    unsafe fn half_run<const R: usize>(
        x: *const u16,
        inputs: usize,
        panel: *const u16,
        k0: usize,
        k1: usize,
    ) -> [[__m512i; 4]; R] {
        // SAFETY: as `half_block`; the broadcast reads two halves of row r at input 2k.
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); 4]; R];
            for k in k0..k1 {
                let w = panel.add(k * 128);
                let w = [
                    _mm512_loadu_si512(w.cast()),
                    _mm512_loadu_si512(w.add(32).cast()),
                    _mm512_loadu_si512(w.add(64).cast()),
                    _mm512_loadu_si512(w.add(96).cast()),
                ];
                for (r, a) in acc.iter_mut().enumerate() {
                    let b = _mm512_set1_epi32(x.add(r * inputs + 2 * k).cast::<i32>().read_unaligned());
                    for v in 0..4 {
                        // `vfmadd231ph` by hand: the `__m512h` intrinsics were stabilised
                        // only in early 2026; assembly builds on every toolchain.
                        std::arch::asm!(
                            "vfmadd231ph {a}, {w}, {b}",
                            a = inout(zmm_reg) a[v],
                            w = in(zmm_reg) w[v],
                            b = in(zmm_reg) b,
                            options(pure, nomem, nostack, preserves_flags),
                        );
                    }
                }
            }
            acc
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod kernel {
    pub(super) unsafe fn run(_: usize, _: &[f32], _: &[f32], _: &[f32], _: &mut [f32], _: usize, _: usize) {
        unreachable!("weights are packed only where AVX-512 is")
    }

    pub(super) unsafe fn run_half(
        _: usize,
        _: &[u16],
        _: &[u16],
        _: &[f32],
        _: &mut [f32],
        _: usize,
        _: usize,
    ) {
        unreachable!("weights are packed only where AVX-512 is")
    }

    pub(super) unsafe fn run_brain(
        _: usize,
        _: &[u16],
        _: &[u16],
        _: &[f32],
        _: &mut [f32],
        _: usize,
        _: usize,
    ) {
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
        for layout in Layout::supported() {
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
                            let (row, col) = (i / outputs, i % outputs);
                            // Half precision rounds inputs and weights (2^-11 each) and sums
                            // runs of HALF_RUN products in it: the textbook bound for that
                            // is (HALF_RUN + 2) 2^-11 times the sum of the products' sizes.
                            let size: f32 = (0..inputs)
                                .map(|k| (x[row * inputs + k] * dense.w_t[k * outputs + col]).abs())
                                .sum();
                            // bfloat16 rounds inputs and weights (2^-9 each) and sums in
                            // f32: twice that bound.
                            let tolerance = match layout {
                                Layout::Half => 1e-4 + (HALF_RUN + 2) as f32 * size / 2048.0,
                                Layout::Brain => 1e-4 + size / 128.0,
                                _ => 1e-4,
                            };
                            assert!(
                                (a - b).abs() < tolerance,
                                "{inputs}x{outputs} n {n} {layout:?} parallel {parallel} at {i}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn half_precision_sums_are_widened_before_they_lose_digits() {
        if !Layout::supported().contains(&Layout::Half) {
            return;
        }
        // 1536 products of 0.1, each rounded the same way as the sum grows: summed in half
        // precision from start to end they come out 0.8% short (152.4 for 153.6), in runs
        // of HALF_RUN widened to f32 0.25% (153.2).
        let (inputs, outputs) = (1536, 64);
        let layer = Unpacked { w_t: vec![0.1; inputs * outputs], bias: vec![0.0; outputs], inputs };
        let weights = Weights::all_with_layout(vec![layer], Layout::Half).unwrap().remove(0);
        let y = weights.forward(&vec![1.0; 2 * inputs], 2, false);
        let exact = inputs as f32 * f32::from(half::f16::from_f32(0.1));
        for v in y {
            assert!(((v - exact) / exact).abs() < 4e-3, "{v} vs {exact}");
        }
    }

    #[test]
    fn bfloat16_products_are_summed_in_f32() {
        if !Layout::supported().contains(&Layout::Brain) {
            return;
        }
        // 1536 products of 0.1 (0.10009765625 in bfloat16): summed in f32 they come out
        // within f32's rounding (153.75); summed in bfloat16, 0.2 a pair, they would stop
        // near 64, where 0.2 is less than half a step (0.5).
        let (inputs, outputs) = (1536, 64);
        let layer = Unpacked { w_t: vec![0.1; inputs * outputs], bias: vec![0.0; outputs], inputs };
        let weights = Weights::all_with_layout(vec![layer], Layout::Brain).unwrap().remove(0);
        let y = weights.forward(&vec![1.0; 2 * inputs], 2, false);
        let exact = inputs as f32 * f32::from(half::bf16::from_f32(0.1));
        for v in y {
            assert!(((v - exact) / exact).abs() < 1e-5, "{v} vs {exact}");
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
