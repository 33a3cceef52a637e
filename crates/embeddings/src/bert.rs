//! Sentence embeddings from a BERT-family model in Candle, as sentence-transformers
//! computes them: the pooling, normalisation and token limit the model directory declares
//! (mean pooling, L2 normalisation and 256 tokens for all-MiniLM-L6-v2).

use std::sync::Mutex;

use aimdb_core::config::EmbeddingPrecision;
use aimdb_core::{EmbedderIdentity, Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::encoder::{CpuEncoder, Scratch};
use crate::files::ModelFiles;
use crate::sentence::{SentenceConfig, check_architecture};
use crate::team::lock;

/// Texts per forward pass.
pub const BATCH: usize = 32;

fn candle(what: &str) -> impl FnOnce(candle_core::Error) -> Error + '_ {
    move |e| Error::backend(format!("embedding model: {what}"), e)
}

/// The network: our CPU encoder, or candle-transformers' model on a GPU.
enum Network {
    Cpu(CpuEncoder),
    Gpu(BertModel),
}

/// A loaded sentence embedder.
pub struct SentenceBert {
    network: Network,
    tokenizer: Tokenizer,
    device: Device,
    sentence: SentenceConfig,
    normalize: bool,
    hidden_size: usize,
    identity: EmbedderIdentity,
}

impl std::fmt::Debug for SentenceBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceBert")
            .field("identity", &self.identity)
            .field("device", &self.device)
            .field("sentence", &self.sentence)
            .finish()
    }
}

impl SentenceBert {
    /// Loads weights and tokenizer (blocking: ~90 MB read for MiniLM) and what the model
    /// directory declares (see [`SentenceConfig`]). `normalize` forces L2 normalisation on or
    /// off; `None` follows the model (its `Normalize` module), as sentence-transformers does.
    /// On CPU, half-precision products where the CPU has AVX512-FP16
    /// ([`EmbeddingPrecision::Auto`]); [`SentenceBert::load_with`] chooses.
    pub fn load(files: &ModelFiles, device: Device, normalize: Option<bool>) -> Result<Self> {
        Self::load_with(files, device, normalize, EmbeddingPrecision::Auto)
    }

    /// As [`SentenceBert::load`], with the CPU encoder's arithmetic chosen (a GPU runs
    /// candle's f32 model either way).
    pub fn load_with(
        files: &ModelFiles,
        device: Device,
        normalize: Option<bool>,
        precision: EmbeddingPrecision,
    ) -> Result<Self> {
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| Error::backend(format!("read {}", path.display()), e))
        };
        let parse = |e| Error::backend(format!("parse {}", files.config.display()), e);
        let raw: serde_json::Value = serde_json::from_slice(&read(&files.config)?).map_err(parse)?;
        check_architecture(&files.name, &raw)?;
        let config: Config = serde_json::from_value(raw).map_err(parse)?;
        let dir = files.config.parent().unwrap_or(std::path::Path::new("."));
        let sentence = SentenceConfig::read(dir, config.max_position_embeddings)?;
        let mut tokenizer = Tokenizer::from_file(&files.tokenizer).map_err(|e| Error::Backend {
            message: format!("load {}", files.tokenizer.display()),
            source: Some(e),
        })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: sentence.max_seq_length,
                ..Default::default()
            }))
            .map_err(|e| Error::Backend { message: "configure truncation".into(), source: Some(e) })?;
        // Padding is done per batch below, to the batch's own longest text.
        tokenizer.with_padding(None);
        let vb = VarBuilder::from_buffered_safetensors(read(&files.weights)?, DType::F32, &device)
            .map_err(candle("read weights"))?;
        let network = if device.is_cpu() {
            Network::Cpu(CpuEncoder::load(vb, &config, precision)?)
        } else {
            Network::Gpu(BertModel::load(vb, &config).map_err(candle("load BERT"))?)
        };
        let identity = EmbedderIdentity {
            kind: "transformer".into(),
            model: files.name.clone(),
            dim: config.hidden_size * sentence.pooling.modes(),
        };
        let normalize = normalize.unwrap_or(sentence.normalize);
        Ok(SentenceBert {
            network,
            tokenizer,
            device,
            sentence,
            normalize,
            hidden_size: config.hidden_size,
            identity,
        })
    }

    /// What the model directory declares: pooling, normalisation, token limit.
    pub fn sentence_config(&self) -> &SentenceConfig {
        &self.sentence
    }

    /// What this model is.
    pub fn identity(&self) -> &EmbedderIdentity {
        &self.identity
    }

    /// Embeds `texts` in order (blocking, CPU- or GPU-bound).
    ///
    /// Texts are sorted by token count and run in batches of at most [`BATCH`], so each
    /// batch pads only to its own longest text; results come back in the order given.
    /// On CPU, several batches run side by side, one per thread, each on one thread from
    /// start to end; one batch (a search query) shares each product out between the threads.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokenize = |e| Error::Backend { message: "tokenize".into(), source: Some(e) };
        // One text (a search query) on this thread: `encode_batch` hands even one text to
        // rayon's pool, whose wake-up costs more than tokenizing it.
        let encodings = match texts {
            [text] => vec![self.tokenizer.encode(*text, true).map_err(tokenize)?],
            _ => self.tokenizer.encode_batch(texts.to_vec(), true).map_err(tokenize)?,
        };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let batch = |chunk: &[usize]| chunk.iter().map(|&i| &encodings[i]).collect::<Vec<_>>();
        let cpu = matches!(self.network, Network::Cpu(_));
        // On CPU at least one batch per thread.
        let per = if cpu { BATCH.min(texts.len().div_ceil(crate::team::threads())).max(1) } else { BATCH };
        // Longest first, so the batches left when the threads run out of work are short.
        let chunks: Vec<&[usize]> = order.chunks(per).rev().collect();
        // Buffers for the batches, one set per thread at a time, dropped with the call.
        let scratch = Mutex::new(Vec::new());
        let forward = |chunk: &[usize], parallel: bool| {
            let mut s = lock(&scratch).pop().unwrap_or_default();
            let vectors = self.forward(&batch(chunk), parallel, &mut s);
            lock(&scratch).push(s);
            vectors
        };
        let vectors = if cpu && chunks.len() > 1 {
            // Whole batches per thread: measured on 2 cores, a batch of 32 texts with each
            // product shared out spent ~6% of its time waiting at the ends of the sections.
            crate::team::map(chunks.clone(), |chunk| forward(chunk, false))
        } else {
            chunks.iter().map(|chunk| forward(chunk, true)).collect()
        };
        let mut out = vec![Vec::new(); texts.len()];
        for (chunk, vectors) in chunks.iter().zip(vectors) {
            for (&i, v) in chunk.iter().zip(vectors?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One batch's vectors; with `parallel`, its work is shared out between the threads.
    fn forward(
        &self,
        batch: &[&tokenizers::Encoding],
        parallel: bool,
        scratch: &mut Scratch,
    ) -> Result<Vec<Vec<f32>>> {
        let lengths: Vec<usize> = batch.iter().map(|e| e.get_ids().len()).collect();
        let len = lengths.iter().copied().max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * len);
        for e in batch {
            ids.extend_from_slice(e.get_ids());
            ids.extend(std::iter::repeat_n(0, len - e.get_ids().len()));
        }
        let hidden = match &self.network {
            Network::Cpu(encoder) => encoder.forward(&ids, &lengths, len, parallel, scratch)?,
            Network::Gpu(model) => self.forward_gpu(model, ids, &lengths, len)?,
        };
        Ok(self.sentence.pooling.pool(&hidden, &lengths, len, self.hidden_size, self.normalize))
    }

    /// The last hidden states, `(batch, len, hidden)` row-major, copied back from the device
    /// (pooling is a small share of the work and then shares the CPU path's code).
    fn forward_gpu(
        &self,
        model: &BertModel,
        ids: Vec<u32>,
        lengths: &[usize],
        len: usize,
    ) -> Result<Vec<f32>> {
        let mask: Vec<u32> = lengths.iter().flat_map(|&n| (0..len).map(move |t| u32::from(t < n))).collect();
        let shape = (lengths.len(), len);
        let ids = Tensor::from_vec(ids, shape, &self.device).map_err(candle("input ids"))?;
        let mask = Tensor::from_vec(mask, shape, &self.device).map_err(candle("attention mask"))?;
        let types = ids.zeros_like().map_err(candle("token types"))?;
        let hidden = model.forward(&ids, &types, Some(&mask)).map_err(candle("forward"))?;
        hidden.flatten_all().and_then(|h| h.to_vec1::<f32>()).map_err(candle("read output"))
    }
}
