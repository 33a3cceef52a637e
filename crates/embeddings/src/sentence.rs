//! What a sentence-transformers model directory declares beside the network: its modules
//! (`modules.json`), how token vectors are pooled (`1_Pooling/config.json`), whether the
//! result is normalised (a `Normalize` module) and how many tokens it reads
//! (`sentence_bert_config.json`). A plain Hugging Face checkpoint (no `modules.json`) is
//! read as sentence-transformers reads one: mean pooling, no normalisation.

use std::path::Path;

use aimdb_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

/// The `model_type`s whose checkpoints the BERT encoder runs.
const BERT_FAMILY: [&str; 1] = ["bert"];

/// Pooling modes, in the order sentence-transformers concatenates them when several are on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pooling {
    /// The first token's vector (`[CLS]`): BGE, Arctic, mxbai.
    pub cls: bool,
    /// The element-wise maximum over the text's tokens.
    pub max: bool,
    /// The mean over the text's tokens: MiniLM, E5, GTE.
    pub mean: bool,
    /// The sum over the text's tokens divided by the square root of their number.
    pub mean_sqrt_len: bool,
    /// The mean weighted by position (1, 2, ...), as SGPT.
    pub weighted_mean: bool,
    /// The last token's vector, for decoder-style embedders.
    pub last_token: bool,
}

impl Pooling {
    /// Mean pooling alone: sentence-transformers' choice for a plain checkpoint.
    pub const MEAN: Pooling = Pooling {
        cls: false,
        max: false,
        mean: true,
        mean_sqrt_len: false,
        weighted_mean: false,
        last_token: false,
    };

    /// How many vectors of the hidden size one sentence vector concatenates.
    pub fn modes(&self) -> usize {
        [self.cls, self.max, self.mean, self.mean_sqrt_len, self.weighted_mean, self.last_token]
            .iter()
            .filter(|on| **on)
            .count()
    }

    /// Pools each text's real tokens (`lengths[b]` of the `len` rows of `hidden` for text `b`,
    /// rows of `dim`), then L2-normalises each result when `normalize`.
    pub fn pool(
        &self,
        hidden: &[f32],
        lengths: &[usize],
        len: usize,
        dim: usize,
        normalize: bool,
    ) -> Vec<Vec<f32>> {
        lengths
            .iter()
            .enumerate()
            .map(|(b, &n)| {
                let n = n.clamp(1, len.max(1));
                let rows = |t: usize| &hidden[(b * len + t) * dim..][..dim];
                let mut out = Vec::with_capacity(dim * self.modes());
                if self.cls {
                    out.extend_from_slice(rows(0));
                }
                if self.max {
                    let mut max = rows(0).to_vec();
                    for t in 1..n {
                        max.iter_mut().zip(rows(t)).for_each(|(m, v)| *m = m.max(*v));
                    }
                    out.extend(max);
                }
                if self.mean || self.mean_sqrt_len {
                    let mut sum = vec![0.0f32; dim];
                    for t in 0..n {
                        sum.iter_mut().zip(rows(t)).for_each(|(s, v)| *s += v);
                    }
                    if self.mean {
                        out.extend(sum.iter().map(|s| s / n as f32));
                    }
                    if self.mean_sqrt_len {
                        out.extend(sum.iter().map(|s| s / (n as f32).sqrt()));
                    }
                }
                if self.weighted_mean {
                    let mut sum = vec![0.0f32; dim];
                    for t in 0..n {
                        let w = (t + 1) as f32;
                        sum.iter_mut().zip(rows(t)).for_each(|(s, v)| *s += w * v);
                    }
                    let total = (n * (n + 1) / 2) as f32;
                    out.extend(sum.iter().map(|s| s / total));
                }
                if self.last_token {
                    out.extend_from_slice(rows(n - 1));
                }
                if normalize {
                    // As torch.nn.functional.normalize: divide by max(norm, 1e-12).
                    let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                    out.iter_mut().for_each(|v| *v /= norm);
                }
                out
            })
            .collect()
    }
}

/// What the model directory declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentenceConfig {
    /// How token vectors become one.
    pub pooling: Pooling,
    /// Whether a `Normalize` module follows the pooling.
    pub normalize: bool,
    /// Tokens read per text; longer texts are truncated.
    pub max_seq_length: usize,
}

#[derive(Deserialize)]
struct Module {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

#[derive(Deserialize)]
struct SentenceBertFile {
    max_seq_length: Option<usize>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(|e| Error::config(format!("read {}: {e}", path.display())))?;
    serde_json::from_slice(&text).map_err(|e| Error::config(format!("parse {}: {e}", path.display())))
}

/// Checks that `config.json` (already parsed) describes a network the BERT encoder runs;
/// otherwise a [`Error::Config`] naming the architecture.
pub fn check_architecture(name: &str, config: &Value) -> Result<()> {
    let model_type = config.get("model_type").and_then(Value::as_str).unwrap_or("");
    let architectures: Vec<&str> = config
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let bert = BERT_FAMILY.contains(&model_type)
        || (model_type.is_empty() && architectures.iter().any(|a| a.starts_with("Bert")));
    if bert {
        return Ok(());
    }
    let described = match (model_type, architectures.is_empty()) {
        ("", true) => "of an unnamed architecture (config.json has no `model_type`)".to_owned(),
        ("", false) => format!("a {}", architectures.join(", ")),
        (kind, _) => format!("a `{kind}` model ({})", architectures.join(", ")),
    };
    Err(Error::config(format!(
        "embedding model `{name}` is {described}; aimdb runs BERT-family encoders \
         (model_type `bert`: MiniLM, BGE, E5, GTE, ...)"
    )))
}

impl SentenceConfig {
    /// Reads what `dir` declares; `max_positions` (the network's `max_position_embeddings`)
    /// bounds the tokens read when the directory does not say.
    pub fn read(dir: &Path, max_positions: usize) -> Result<SentenceConfig> {
        let modules_path = dir.join("modules.json");
        if !modules_path.is_file() {
            return Ok(SentenceConfig {
                pooling: Pooling::MEAN,
                normalize: false,
                max_seq_length: max_positions,
            });
        }
        let modules: Vec<Module> = read_json(&modules_path)?;
        let mut pooling = None;
        let mut normalize = false;
        for module in &modules {
            let kind = module.kind.rsplit('.').next().unwrap_or(&module.kind);
            match kind {
                "Transformer" => {}
                "Pooling" => {
                    let file: PoolingFile = read_json(&dir.join(&module.path).join("config.json"))?;
                    pooling = Some(Pooling {
                        cls: file.pooling_mode_cls_token,
                        max: file.pooling_mode_max_tokens,
                        mean: file.pooling_mode_mean_tokens,
                        mean_sqrt_len: file.pooling_mode_mean_sqrt_len_tokens,
                        weighted_mean: file.pooling_mode_weightedmean_tokens,
                        last_token: file.pooling_mode_lasttoken,
                    });
                }
                "Normalize" => normalize = true,
                _ => {
                    return Err(Error::config(format!(
                        "{}: the module `{}` is not supported (aimdb runs Transformer, Pooling and \
                         Normalize modules)",
                        modules_path.display(),
                        module.kind
                    )));
                }
            }
        }
        let pooling = pooling.unwrap_or(Pooling::MEAN);
        if pooling.modes() == 0 {
            return Err(Error::config(format!("{}: the Pooling module turns on no mode", dir.display())));
        }
        let declared = dir.join("sentence_bert_config.json");
        let max_seq_length =
            if declared.is_file() { read_json::<SentenceBertFile>(&declared)?.max_seq_length } else { None };
        let max_seq_length = max_seq_length.unwrap_or(max_positions).min(max_positions);
        Ok(SentenceConfig { pooling, normalize, max_seq_length })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two texts of three positions, two dimensions: the first has 3 real tokens, the second 2.
    fn hidden() -> Vec<f32> {
        vec![1.0, -1.0, 3.0, 0.0, 2.0, 5.0, /* text 2 */ 4.0, 2.0, -2.0, 6.0, 9.0, 9.0]
    }

    fn pool(pooling: Pooling) -> Vec<Vec<f32>> {
        pooling.pool(&hidden(), &[3, 2], 3, 2, false)
    }

    #[test]
    fn each_mode_pools_the_real_tokens_only() {
        let none = Pooling::default();
        assert_eq!(pool(Pooling { cls: true, ..none }), vec![vec![1.0, -1.0], vec![4.0, 2.0]]);
        assert_eq!(pool(Pooling { max: true, ..none }), vec![vec![3.0, 5.0], vec![4.0, 6.0]]);
        assert_eq!(pool(Pooling::MEAN), vec![vec![2.0, 4.0 / 3.0], vec![1.0, 4.0]]);
        let sqrt = pool(Pooling { mean_sqrt_len: true, ..none });
        assert!((sqrt[1][0] - 2.0 / 2f32.sqrt()).abs() < 1e-6, "{sqrt:?}");
        // Weights 1, 2, 3: (1 + 6 + 6) / 6 and (-1 + 0 + 15) / 6.
        let weighted = pool(Pooling { weighted_mean: true, ..none });
        assert_eq!(weighted[0], vec![13.0 / 6.0, 14.0 / 6.0]);
        assert_eq!(pool(Pooling { last_token: true, ..none }), vec![vec![2.0, 5.0], vec![-2.0, 6.0]]);
    }

    #[test]
    fn modes_concatenate_in_sentence_transformers_order_and_normalise_together() {
        let both = Pooling { cls: true, ..Pooling::MEAN };
        assert_eq!(pool(both)[1], vec![4.0, 2.0, 1.0, 4.0]);
        let unit = both.pool(&hidden(), &[3, 2], 3, 2, true);
        let norm: f32 = unit[1].iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6);
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const MODULES: &str = r#"[
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
    ]"#;

    #[test]
    fn reads_a_sentence_transformers_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "modules.json", MODULES);
        write(
            dir.path(),
            "1_Pooling/config.json",
            r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
        );
        write(dir.path(), "sentence_bert_config.json", r#"{"max_seq_length": 512, "do_lower_case": true}"#);
        let config = SentenceConfig::read(dir.path(), 512).unwrap();
        assert_eq!(config.pooling, Pooling { cls: true, ..Pooling::default() });
        assert!(config.normalize);
        assert_eq!(config.max_seq_length, 512);
    }

    #[test]
    fn a_plain_checkpoint_is_mean_pooled_without_normalisation() {
        let dir = tempfile::tempdir().unwrap();
        let config = SentenceConfig::read(dir.path(), 512).unwrap();
        assert_eq!(config, SentenceConfig { pooling: Pooling::MEAN, normalize: false, max_seq_length: 512 });
    }

    #[test]
    fn unknown_modules_and_architectures_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "modules.json",
            r#"[{"path": "", "type": "sentence_transformers.models.Transformer"},
                {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#,
        );
        let err = SentenceConfig::read(dir.path(), 512).unwrap_err().to_string();
        assert!(err.contains("sentence_transformers.models.Dense"), "{err}");

        let roberta = serde_json::json!({"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"]});
        let err = check_architecture("bge-m3", &roberta).unwrap_err().to_string();
        assert!(err.contains("xlm-roberta") && err.contains("XLMRobertaModel"), "{err}");
        check_architecture("bge", &serde_json::json!({"model_type": "bert"})).unwrap();
    }
}
