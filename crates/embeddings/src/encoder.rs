//! A BERT encoder for CPU inference: matrix products on packed weights ([`crate::matmul`]:
//! one fused QKV projection per layer, biases added by the product itself), attention read
//! in place from the projection ([`crate::attention`]), and the element-wise work in single
//! fused passes.
//!
//! Why not `candle_transformers::models::bert` on CPU: profiled on 2 cores it spent
//! ~23% spinning in candle's element-wise thread pool and ~17% in scalar `erf` for
//! GELU, and ran at 0.74x sentence-transformers. Here bias, GELU, mask and softmax,
//! residual and LayerNorm each cost one pass. Work is split across threads ([`crate::team`]:
//! candle's spinning barrier pool) only when it is big enough to pay for the hand-over: a
//! search query's element-wise passes and attention run on the calling thread, and only its
//! products (split by the weights' panels) use the other cores.
//! The GPU path keeps candle-transformers' model, where those ops are cheap.

use aimdb_core::config::EmbeddingPrecision;
use aimdb_core::{Error, Result};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};

use crate::attention;
use crate::fastmath::{gelu_erf, sum};
use crate::matmul::{Layout, Unpacked, Weights};
use crate::team;

fn candle(what: &str) -> impl FnOnce(candle_core::Error) -> Error + '_ {
    move |e| Error::backend(format!("embedding model: {what}"), e)
}

/// Multiply-adds below which a product runs on one thread.
const PARALLEL_MACS: usize = 1 << 20;
/// Elements below which an element-wise pass runs on one thread.
const PARALLEL_FLOATS: usize = 1 << 15;

/// One element-wise pass, row by row. `row` is `#[inline(always)]` in every implementation,
/// so it is compiled into [`for_rows`]'s SIMD-dispatched loop (a closure would not be).
trait RowPass: Sync {
    fn row<S: pulp::Simd>(&self, simd: S, index: usize, row: &mut [f32]);
}

/// `pass` over the `width`-wide rows of `x`, on every thread when `parallel` and `x` is
/// large, and compiled for the widest SIMD the CPU has (the crate's baseline is SSE2):
/// pulp's dispatch.
fn for_rows(x: &mut [f32], width: usize, pass: &impl RowPass, parallel: bool) {
    struct Rows<'a, P> {
        rows: &'a mut [f32],
        width: usize,
        first: usize,
        pass: &'a P,
    }
    impl<P: RowPass> pulp::WithSimd for Rows<'_, P> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, simd: S) {
            for (i, row) in self.rows.chunks_mut(self.width).enumerate() {
                self.pass.row(simd, self.first + i, row);
            }
        }
    }
    let arch = pulp::Arch::new();
    if parallel && x.len() >= PARALLEL_FLOATS {
        // Chunks of ~4096 elements: one dispatch each, and enough of them to share out.
        let per = (4096 / width).max(1);
        team::for_each(x.chunks_mut(per * width).enumerate().collect(), |(c, rows)| {
            arch.dispatch(Rows { rows, width, first: per * c, pass })
        });
    } else {
        arch.dispatch(Rows { rows: x, width, first: 0, pass });
    }
}

/// GELU of every element.
struct Gelu;

impl RowPass for Gelu {
    #[inline(always)]
    fn row<S: pulp::Simd>(&self, _: S, _: usize, row: &mut [f32]) {
        row.iter_mut().for_each(|v| *v = gelu_erf(*v));
    }
}

/// `row = LayerNorm(row + residual row)`.
struct AddNorm<'a> {
    norm: &'a LayerNorm,
    residual: &'a [f32],
}

impl RowPass for AddNorm<'_> {
    #[inline(always)]
    fn row<S: pulp::Simd>(&self, simd: S, i: usize, row: &mut [f32]) {
        let h = row.len();
        row.iter_mut().zip(&self.residual[i * h..][..h]).for_each(|(v, r)| *v += r);
        self.norm.norm_row(simd, row);
    }
}

/// Token `t`'s input: word + position + token type embeddings, normalised.
struct Embed<'a> {
    encoder: &'a CpuEncoder,
    ids: &'a [u32],
    len: usize,
}

impl RowPass for Embed<'_> {
    #[inline(always)]
    fn row<S: pulp::Simd>(&self, simd: S, t: usize, row: &mut [f32]) {
        let (e, h) = (self.encoder, row.len());
        let word = &e.word[self.ids[t] as usize * h..][..h];
        let pos = &e.position[(t % self.len) * h..][..h];
        for (((v, w), p), ty) in row.iter_mut().zip(word).zip(pos).zip(&e.token_type[..h]) {
            *v = w + p + ty;
        }
        e.embedding_norm.norm_row(simd, row);
    }
}

/// Text `b`'s self-attention: its rows of the fused projection in, its rows of every
/// head's context out.
struct Attend<'a> {
    encoder: &'a CpuEncoder,
    qkv: &'a [f32],
    lengths: &'a [usize],
    len: usize,
}

impl RowPass for Attend<'_> {
    #[inline(always)]
    fn row<S: pulp::Simd>(&self, simd: S, b: usize, out: &mut [f32]) {
        let (e, len) = (self.encoder, self.len);
        let span = len * 3 * e.hidden;
        attention::attend(simd, &self.qkv[b * span..][..span], out, e.hidden, e.heads, self.lengths[b], len);
    }
}

/// The sum of `f(x)` over `xs` in 16 lanes (a plain fold is one scalar chain:
/// floating-point addition is not reassociated), the lanes then added in a tree.
#[inline(always)]
fn sum_by<S: pulp::Simd>(simd: S, xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 16];
    let chunks = xs.chunks_exact(16);
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f(x);
        }
    }
    sum(simd, &lanes) + rest
}

/// A dense layer: `x [n, in] -> x W^T + b [n, out]`.
struct Dense {
    weights: Weights,
}

impl Dense {
    /// The layer's weights as stored; several source layers (Q, K, V) become one
    /// projection: their rows are concatenated.
    fn read(vbs: &[VarBuilder], inputs: usize, outputs: usize) -> candle_core::Result<Unpacked> {
        let mut weights = Vec::new();
        let mut bias = Vec::new();
        for vb in vbs {
            weights.push(vb.get((outputs, inputs), "weight")?);
            bias.extend(vb.get(outputs, "bias")?.to_vec1::<f32>()?);
        }
        let w_t = candle_core::Tensor::cat(&weights, 0)?.t()?.contiguous()?.flatten_all()?.to_vec1()?;
        Ok(Unpacked { w_t, bias, inputs })
    }

    /// `x [n, in]` to `y [n, out]` (overwritten) with the bias added; with `parallel`, on
    /// every thread when the product is large. `half`: room for `x` in 16 bits.
    fn forward(&self, x: &[f32], n: usize, y: &mut [f32], parallel: bool, half: &mut Vec<u16>) {
        self.weights.forward_into(x, n, y, parallel && self.weights.macs(n) >= PARALLEL_MACS, half)
    }
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(LayerNorm {
            weight: vb.get(size, "weight")?.to_vec1()?,
            bias: vb.get(size, "bias")?.to_vec1()?,
            eps: eps as f32,
        })
    }

    /// `x = LayerNorm(x + residual)`, row by row.
    fn add_and_norm(&self, x: &mut [f32], residual: &[f32], parallel: bool) {
        for_rows(x, self.weight.len(), &AddNorm { norm: self, residual }, parallel);
    }

    #[inline(always)]
    fn norm_row<S: pulp::Simd>(&self, simd: S, row: &mut [f32]) {
        let n = row.len() as f32;
        let mean = sum_by(simd, row, |v| v) / n;
        let var = sum_by(simd, row, |v| (v - mean) * (v - mean)) / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

/// A forward pass's intermediate results, reused by every layer, and by the later batches
/// of one call ([`crate::SentenceBert::embed`] keeps a pool, one set per running batch):
/// fresh buffers cost a page fault per 4 KiB and the kernel's clearing of it (~4% of a
/// batch's time profiled).
#[derive(Default)]
pub(crate) struct Scratch {
    qkv: Vec<f32>,
    merged: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
    /// A product's input in 16 bits, where the weights are.
    half: Vec<u16>,
}

impl Scratch {
    /// Buffers for `n` tokens. Each is overwritten whole by the layer that writes it, so
    /// what a buffer held is kept: the longest batch comes first, and the shorter ones
    /// after it only shrink the lengths (no fill).
    fn fit(&mut self, n: usize, hidden: usize, inner: usize) {
        self.qkv.resize(n * 3 * hidden, 0.0);
        self.merged.resize(n * hidden, 0.0);
        self.attended.resize(n * hidden, 0.0);
        self.inner.resize(n * inner, 0.0);
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// The encoder weights, laid out for CPU inference.
pub(crate) struct CpuEncoder {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    max_positions: usize,
}

impl CpuEncoder {
    pub(crate) fn load(vb: VarBuilder, config: &Config, precision: EmbeddingPrecision) -> Result<Self> {
        // sentence-transformers checkpoints name tensors without the `bert.` prefix that
        // transformers' BertModel checkpoints carry; accept both.
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") { vb } else { vb.pp("bert") };
        // Its feed-forward layers apply GELU in the exact (erf) form, as BERT and the
        // sentence-transformers models declare; anything else would give other vectors.
        if config.hidden_act != HiddenAct::Gelu {
            return Err(Error::config(format!(
                "embedding model: config.json `hidden_act` is {:?}; the CPU encoder runs `gelu`",
                config.hidden_act
            )));
        }
        let layout = match (precision, Layout::best()) {
            (EmbeddingPrecision::F32, Layout::Half) => Layout::Packed,
            (EmbeddingPrecision::Bf16, best) => Layout::brain().unwrap_or_else(|| {
                tracing::warn!(
                    "EMBEDDING_PRECISION=bf16: this CPU lacks AVX512-BF16; the encoder runs as `auto` ({best:?})"
                );
                best
            }),
            (_, best) => best,
        };
        Self::load_inner(vb, config, layout).map_err(candle("load encoder weights"))
    }

    fn load_inner(vb: VarBuilder, c: &Config, layout: Layout) -> candle_core::Result<Self> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let e = vb.pp("embeddings");
        // Every layer's dense weights are read first, then packed together (one block of
        // memory for all of them).
        let mut dense = Vec::with_capacity(4 * c.num_hidden_layers);
        let mut norms = Vec::with_capacity(c.num_hidden_layers);
        for n in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{n}"));
            let a = l.pp("attention");
            let s = a.pp("self");
            dense.push(Dense::read(&[s.pp("query"), s.pp("key"), s.pp("value")], h, h)?);
            dense.push(Dense::read(&[a.pp("output.dense")], h, h)?);
            dense.push(Dense::read(&[l.pp("intermediate.dense")], h, i)?);
            dense.push(Dense::read(&[l.pp("output.dense")], i, h)?);
            norms.push((
                LayerNorm::load(a.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
                LayerNorm::load(l.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
            ));
        }
        let mut packed =
            Weights::all_with_layout(dense, layout).map_err(candle_core::Error::wrap)?.into_iter();
        let mut next = || Dense { weights: packed.next().expect("four dense layers per layer") };
        let layers = norms
            .into_iter()
            .map(|(attention_norm, output_norm)| Layer {
                qkv: next(),
                attention_out: next(),
                attention_norm,
                intermediate: next(),
                output: next(),
                output_norm,
            })
            .collect();
        let table = |name: &str, rows: usize| -> candle_core::Result<Vec<f32>> {
            e.get((rows, h), name)?.flatten_all()?.to_vec1()
        };
        Ok(CpuEncoder {
            word: table("word_embeddings.weight", c.vocab_size)?,
            position: table("position_embeddings.weight", c.max_position_embeddings)?,
            token_type: table("token_type_embeddings.weight", c.type_vocab_size)?,
            embedding_norm: LayerNorm::load(e.pp("LayerNorm"), h, c.layer_norm_eps)?,
            layers,
            hidden: h,
            heads: c.num_attention_heads,
            max_positions: c.max_position_embeddings,
        })
    }

    /// Hidden states `[batch * len, hidden]` for token ids padded to `len`;
    /// `lengths[b]` tokens of row `b` are real, the rest padding. With `parallel`, large
    /// products and passes are shared out between the threads ([`crate::team`]); without,
    /// everything runs on the calling thread. `scratch` holds the intermediate results.
    pub(crate) fn forward(
        &self,
        ids: &[u32],
        lengths: &[usize],
        len: usize,
        parallel: bool,
        scratch: &mut Scratch,
    ) -> Result<Vec<f32>> {
        if len > self.max_positions {
            return Err(Error::invalid(
                "text",
                format!("{len} tokens exceed {} positions", self.max_positions),
            ));
        }
        let h = self.hidden;
        let n = ids.len();
        let mut x = vec![0.0f32; n * h];
        for_rows(&mut x, h, &Embed { encoder: self, ids, len }, parallel);
        scratch.fit(n, h, self.layers.first().map_or(0, |l| l.intermediate.weights.outputs()));
        for layer in &self.layers {
            self.layer(layer, &mut x, scratch, lengths, len, parallel);
        }
        Ok(x)
    }

    /// One layer, `x` in and out.
    fn layer(
        &self,
        layer: &Layer,
        x: &mut [f32],
        s: &mut Scratch,
        lengths: &[usize],
        len: usize,
        parallel: bool,
    ) {
        let h = self.hidden;
        let n = lengths.len() * len;
        layer.qkv.forward(x, n, &mut s.qkv, parallel, &mut s.half);
        // Attention is cheap next to the products (~5% of a batch's time): one pass per
        // text, parallel when the batch is large. It writes every row of `merged`.
        let attend = Attend { encoder: self, qkv: &s.qkv, lengths, len };
        for_rows(&mut s.merged, len * h, &attend, parallel);
        layer.attention_out.forward(&s.merged, n, &mut s.attended, parallel, &mut s.half);
        layer.attention_norm.add_and_norm(&mut s.attended, x, parallel);
        layer.intermediate.forward(&s.attended, n, &mut s.inner, parallel, &mut s.half);
        for_rows(&mut s.inner, 4096, &Gelu, parallel);
        layer.output.forward(&s.inner, n, x, parallel, &mut s.half);
        layer.output_norm.add_and_norm(x, &s.attended, parallel);
    }
}
