//! A BERT encoder for CPU inference: Candle's matmuls (one fused QKV projection
//! per layer) with the element-wise work done in single fused passes over slices.
//!
//! Why not `candle_transformers::models::bert` on CPU: profiled on 2 cores it spent
//! ~23% spinning in candle's element-wise thread pool and ~17% in scalar `erf` for
//! GELU, and ran at 0.74x sentence-transformers. Here bias, GELU, mask and softmax,
//! residual and LayerNorm each cost one pass, on rayon (candle's pool, via
//! `Device::with_context`), and never enter that spinning pool.
//! The GPU path keeps candle-transformers' model, where those ops are cheap.

use aimdb_core::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use rayon::prelude::*;

use crate::fastmath::{exp, gelu_erf};

fn candle(what: &str) -> impl FnOnce(candle_core::Error) -> Error + '_ {
    move |e| Error::backend(format!("embedding model: {what}"), e)
}

/// A dense layer: `x [n, in] -> x W^T + b [n, out]`, W stored transposed.
struct Dense {
    weight_t: Tensor,
    bias: Vec<f32>,
}

impl Dense {
    fn load(vbs: &[VarBuilder], inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        // Several source layers (Q, K, V) become one projection: rows are concatenated.
        let mut weights = Vec::new();
        let mut bias = Vec::new();
        for vb in vbs {
            weights.push(vb.get((outputs, inputs), "weight")?);
            bias.extend(vb.get(outputs, "bias")?.to_vec1::<f32>()?);
        }
        let weight = Tensor::cat(&weights, 0)?;
        Ok(Dense { weight_t: weight.t()?.contiguous()?, bias })
    }

    /// `x [n, in]` to `[n, out]` with the bias added.
    fn forward(&self, x: Vec<f32>, n: usize) -> candle_core::Result<Vec<f32>> {
        let inputs = x.len() / n.max(1);
        let x = Tensor::from_vec(x, (n, inputs), &Device::Cpu)?;
        let mut y = x.matmul(&self.weight_t)?.flatten_all()?.to_vec1::<f32>()?;
        let bias = &self.bias;
        y.par_chunks_mut(bias.len()).for_each(|row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b));
        Ok(y)
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
    fn add_and_norm(&self, x: &mut [f32], residual: &[f32]) {
        let h = self.weight.len();
        x.par_chunks_mut(h).zip(residual.par_chunks(h)).for_each(|(row, res)| {
            row.iter_mut().zip(res).for_each(|(v, r)| *v += r);
            self.norm_row(row);
        });
    }

    fn norm_row(&self, row: &mut [f32]) {
        let n = row.len() as f32;
        let mean = row.iter().sum::<f32>() / n;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
            *v = (*v - mean) * inv * w + b;
        }
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
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        // sentence-transformers checkpoints name tensors without the `bert.` prefix that
        // transformers' BertModel checkpoints carry; accept both.
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") { vb } else { vb.pp("bert") };
        Self::load_inner(vb, config).map_err(candle("load encoder weights"))
    }

    fn load_inner(vb: VarBuilder, c: &Config) -> candle_core::Result<Self> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let e = vb.pp("embeddings");
        let layers = (0..c.num_hidden_layers)
            .map(|n| {
                let l = vb.pp(format!("encoder.layer.{n}"));
                let a = l.pp("attention");
                let s = a.pp("self");
                Ok(Layer {
                    qkv: Dense::load(&[s.pp("query"), s.pp("key"), s.pp("value")], h, h)?,
                    attention_out: Dense::load(&[a.pp("output.dense")], h, h)?,
                    attention_norm: LayerNorm::load(a.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
                    intermediate: Dense::load(&[l.pp("intermediate.dense")], h, i)?,
                    output: Dense::load(&[l.pp("output.dense")], i, h)?,
                    output_norm: LayerNorm::load(l.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
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
    /// `lengths[b]` tokens of row `b` are real, the rest padding.
    pub(crate) fn forward(&self, ids: &[u32], lengths: &[usize], len: usize) -> Result<Vec<f32>> {
        if len > self.max_positions {
            return Err(Error::invalid(
                "text",
                format!("{len} tokens exceed {} positions", self.max_positions),
            ));
        }
        let h = self.hidden;
        let n = ids.len();
        let mut x = vec![0.0f32; n * h];
        x.par_chunks_mut(h).enumerate().for_each(|(t, row)| {
            let word = &self.word[ids[t] as usize * h..][..h];
            let pos = &self.position[(t % len) * h..][..h];
            for (((v, w), p), ty) in row.iter_mut().zip(word).zip(pos).zip(&self.token_type[..h]) {
                *v = w + p + ty;
            }
            self.embedding_norm.norm_row(row);
        });
        for layer in &self.layers {
            x = self.layer(layer, x, lengths, len).map_err(candle("forward"))?;
        }
        Ok(x)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: Vec<f32>,
        lengths: &[usize],
        len: usize,
    ) -> candle_core::Result<Vec<f32>> {
        let (h, heads) = (self.hidden, self.heads);
        let d = h / heads;
        let batch = lengths.len();
        let n = batch * len;
        let qkv = layer.qkv.forward(x.clone(), n)?;

        // [n, 3h] into q [b*heads, len, d], k^T [b*heads, d, len], v [b*heads, len, d].
        let bh = batch * heads;
        let (mut q, mut kt, mut v) = (vec![0.0; n * h], vec![0.0; n * h], vec![0.0; n * h]);
        for b in 0..batch {
            for t in 0..len {
                let row = &qkv[(b * len + t) * 3 * h..][..3 * h];
                for head in 0..heads {
                    let g = b * heads + head;
                    let src = head * d;
                    q[(g * len + t) * d..][..d].copy_from_slice(&row[src..src + d]);
                    v[(g * len + t) * d..][..d].copy_from_slice(&row[2 * h + src..2 * h + src + d]);
                    for j in 0..d {
                        kt[(g * d + j) * len + t] = row[h + src + j];
                    }
                }
            }
        }
        let q = Tensor::from_vec(q, (bh, len, d), &Device::Cpu)?;
        let kt = Tensor::from_vec(kt, (bh, d, len), &Device::Cpu)?;
        let v = Tensor::from_vec(v, (bh, len, d), &Device::Cpu)?;
        let mut scores = q.matmul(&kt)?.flatten_all()?.to_vec1::<f32>()?;
        let scale = 1.0 / (d as f32).sqrt();
        scores.par_chunks_mut(len * len).enumerate().for_each(|(g, matrix)| {
            let valid = lengths[g / heads];
            for row in matrix.chunks_mut(len) {
                softmax_prefix(row, valid, scale);
            }
        });
        let probs = Tensor::from_vec(scores, (bh, len, len), &Device::Cpu)?;
        let context = probs.matmul(&v)?.flatten_all()?.to_vec1::<f32>()?;
        let mut merged = vec![0.0; n * h];
        for g in 0..bh {
            let (b, head) = (g / heads, g % heads);
            for t in 0..len {
                merged[(b * len + t) * h + head * d..][..d]
                    .copy_from_slice(&context[(g * len + t) * d..][..d]);
            }
        }

        let mut attended = layer.attention_out.forward(merged, n)?;
        layer.attention_norm.add_and_norm(&mut attended, &x);
        let mut inner = layer.intermediate.forward(attended.clone(), n)?;
        inner.par_chunks_mut(4096).for_each(|chunk| chunk.iter_mut().for_each(|v| *v = gelu_erf(*v)));
        let mut out = layer.output.forward(inner, n)?;
        layer.output_norm.add_and_norm(&mut out, &attended);
        Ok(out)
    }
}

/// Softmax of `row[..valid] * scale`; padded keys get probability 0.
fn softmax_prefix(row: &mut [f32], valid: usize, scale: f32) {
    let (keys, padding) = row.split_at_mut(valid.min(row.len()));
    let max = keys.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s * scale));
    let mut sum = 0.0;
    for s in keys.iter_mut() {
        *s = exp(*s * scale - max);
        sum += *s;
    }
    let inv = 1.0 / sum;
    keys.iter_mut().for_each(|s| *s *= inv);
    padding.fill(0.0);
}
