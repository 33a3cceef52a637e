//! Any sentence-transformers model directory, built here around all-MiniLM-L6-v2's weights:
//! CLS pooling and a plain checkpoint against sentence-transformers' own vectors
//! (`fixtures/minilm_pooling_reference.json`) and CLS against candle-transformers' BERT (an
//! implementation independent of aimdb's CPU encoder), pooling modes concatenated, and other
//! architectures refused by name.
//!
//! Needs MiniLM in the Hugging Face cache (`cargo xtask fetch-model`); skips without it,
//! except in CI.

use std::path::{Path, PathBuf};

use aimdb_core::config::{EmbeddingConfig, EmbeddingPrecision};
use aimdb_core::{Embedder, Error};
use aimdb_embed::{
    Device, MINILM_SHORT_NAME, ModelFiles, Pooling, SentenceBert, TextEmbedder, hub_cache_dir, resolve,
};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

const TEXTS: [&str; 4] = [
    "image recognition deep learning",
    "a gradient boosted tree for tabular churn prediction",
    "",
    "Ünïcödé and emoji 🚀 survive tokenisation",
];

fn minilm() -> Option<ModelFiles> {
    match resolve(MINILM_SHORT_NAME, &hub_cache_dir()) {
        Ok(files) => Some(files),
        Err(e) => {
            aimdb_testkit::skip(&format!("model directories: {e}"));
            None
        }
    }
}

/// A model directory holding MiniLM's network and `extra` sentence-transformers files.
fn model_dir(files: &ModelFiles, extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, name) in [
        (&files.config, "config.json"),
        (&files.tokenizer, "tokenizer.json"),
        (&files.weights, "model.safetensors"),
    ] {
        std::os::unix::fs::symlink(std::fs::canonicalize(from).unwrap(), dir.path().join(name)).unwrap();
    }
    for (name, text) in extra {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn files_in(dir: &Path) -> ModelFiles {
    let at = |name: &str| -> PathBuf { dir.join(name) };
    ModelFiles {
        name: "custom".into(),
        config: at("config.json"),
        tokenizer: at("tokenizer.json"),
        weights: at("model.safetensors"),
    }
}

fn modules(normalize: bool) -> String {
    let mut modules = vec![
        r#"{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}"#,
        r#"{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}"#,
    ];
    if normalize {
        modules.push(r#"{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}"#);
    }
    format!("[{}]", modules.join(","))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Each text's `[CLS]` hidden state from candle-transformers' BERT, one text at a time.
fn reference_cls(files: &ModelFiles, texts: &[&str]) -> Vec<Vec<f32>> {
    let config: Config = serde_json::from_slice(&std::fs::read(&files.config).unwrap()).unwrap();
    let weights = std::fs::read(&files.weights).unwrap();
    let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &candle_core::Device::Cpu).unwrap();
    let model = BertModel::load(vb, &config).unwrap();
    let mut tokenizer = tokenizers::Tokenizer::from_file(&files.tokenizer).unwrap();
    // MiniLM's tokenizer.json pads to 128; padding here would be attended (no mask).
    tokenizer.with_padding(None);
    texts
        .iter()
        .map(|text| {
            let ids = tokenizer.encode(*text, true).unwrap().get_ids().to_vec();
            let n = ids.len();
            let ids = Tensor::from_vec(ids, (1, n), &candle_core::Device::Cpu).unwrap();
            let types = ids.zeros_like().unwrap();
            let hidden = model.forward(&ids, &types, None).unwrap();
            hidden.get(0).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap()
        })
        .collect()
}

/// `fixtures/minilm_pooling_reference.json` (`benches/reference/pooling_reference.py`): per
/// configuration, the files of a model directory besides MiniLM's network, and
/// sentence-transformers' vectors for it.
#[derive(serde::Deserialize)]
struct PoolingReference {
    configurations: std::collections::BTreeMap<String, Configuration>,
}

#[derive(serde::Deserialize)]
struct Configuration {
    files: std::collections::BTreeMap<String, String>,
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    text: String,
    embedding: Vec<f32>,
}

const CLS_POOLING: &str =
    r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#;

/// CLS pooling (with its own token limit), a plain checkpoint, and every other pooling mode,
/// one concatenation normalised: the same vectors as sentence-transformers, norms included:
/// within 0.1% by default and in f32, within 0.3% in bfloat16 (its products round their
/// inputs to 8 bits: a single token's state, as last-token pooling takes, comes out up to
/// 0.17% long or short on MiniLM).
#[test]
fn every_pooling_matches_sentence_transformers() {
    let Some(minilm) = minilm() else { return };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/minilm_pooling_reference.json");
    let reference: PoolingReference = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(reference.configurations.len() >= 6, "cls, plain, concatenated, mean-sqrt-len, weighted, last");
    for ((name, expected), (precision, norms)) in reference.configurations.iter().flat_map(|c| {
        [EmbeddingPrecision::F32, EmbeddingPrecision::Auto, EmbeddingPrecision::Bf16]
            .map(|p| (c, (p, if p == EmbeddingPrecision::Bf16 { 3e-3 } else { 1e-3 })))
    }) {
        let files: Vec<(&str, &str)> = expected.files.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let dir = model_dir(&minilm, &files);
        let model = SentenceBert::load_with(&files_in(dir.path()), Device::Cpu, None, precision).unwrap();
        assert_eq!(model.sentence_config().max_seq_length, expected.max_seq_length, "{name}");
        assert_eq!(model.identity().dim, expected.items[0].embedding.len(), "{name}");
        let texts: Vec<&str> = expected.items.iter().map(|i| i.text.as_str()).collect();
        assert!(texts.iter().any(|t| t.len() > 3000), "a text past the token limit is covered");
        let mut lowest = f64::MAX;
        for (item, ours) in expected.items.iter().zip(model.embed(&texts).unwrap()) {
            let c = cosine(&ours, &item.embedding);
            lowest = lowest.min(c);
            let text: String = item.text.chars().take(40).collect();
            assert!(c >= 0.9999, "{name} {precision:?} {text:?}: cosine {c}");
            let (a, b) = (norm(&ours), norm(&item.embedding));
            assert!((a - b).abs() / b < norms, "{name} {precision:?} {text:?}: norm {a} vs {b}");
        }
        eprintln!("{name} {precision:?} parity: lowest cosine over {} texts = {lowest:.7}", texts.len());
    }
}

#[test]
fn cls_pooling_matches_an_independent_bert() {
    let Some(minilm) = minilm() else { return };
    let pooling = CLS_POOLING;
    let dir = model_dir(
        &minilm,
        &[
            ("modules.json", &modules(false)),
            ("1_Pooling/config.json", pooling),
            ("sentence_bert_config.json", r#"{"max_seq_length": 128, "do_lower_case": false}"#),
        ],
    );
    let model = SentenceBert::load(&files_in(dir.path()), Device::Cpu, None).unwrap();
    assert_eq!(model.sentence_config().pooling, Pooling { cls: true, ..Pooling::default() });
    assert_eq!(model.sentence_config().max_seq_length, 128);
    assert_eq!(model.identity().dim, 384);
    let ours = model.embed(&TEXTS).unwrap();
    for ((text, ours), theirs) in TEXTS.iter().zip(&ours).zip(reference_cls(&minilm, &TEXTS)) {
        let c = cosine(ours, &theirs);
        assert!(c >= 0.9999, "{text:?}: cosine {c}");
        assert!((norm(ours) - norm(&theirs)).abs() / norm(&theirs) < 1e-3, "no Normalize module: as pooled");
    }
    // With the Normalize module, the same direction at unit length.
    let dir = model_dir(&minilm, &[("modules.json", &modules(true)), ("1_Pooling/config.json", pooling)]);
    let unit = SentenceBert::load(&files_in(dir.path()), Device::Cpu, None).unwrap().embed(&TEXTS).unwrap();
    for (unit, raw) in unit.iter().zip(&ours) {
        assert!((norm(unit) - 1.0).abs() < 1e-5 && cosine(unit, raw) > 0.99999);
    }
}

#[tokio::test]
async fn a_plain_checkpoint_is_mean_pooled_as_given_and_reads_512_tokens() {
    let Some(minilm) = minilm() else { return };
    let dir = model_dir(&minilm, &[]);
    let plain = SentenceBert::load(&files_in(dir.path()), Device::Cpu, None).unwrap();
    assert_eq!(plain.sentence_config().pooling, Pooling::MEAN);
    assert!(!plain.sentence_config().normalize);
    assert_eq!(plain.sentence_config().max_seq_length, 512, "max_position_embeddings");
    let texts: Vec<String> = TEXTS[..2].iter().map(|t| (*t).to_owned()).collect();
    let by_config = TextEmbedder::new(EmbeddingConfig {
        model: dir.path().to_str().unwrap().to_owned(),
        strict: true,
        ..EmbeddingConfig::default()
    });
    let raw = by_config.embed(&texts).await.unwrap();
    // MiniLM's own directory pools the same way, then normalises.
    let minilm_raw = TextEmbedder::new(EmbeddingConfig {
        normalize: Some(false),
        strict: true,
        ..EmbeddingConfig::default()
    })
    .embed(&texts)
    .await
    .unwrap();
    for (a, b) in raw.iter().zip(&minilm_raw) {
        assert!((norm(a) - 1.0).abs() > 1e-2, "not normalised: {}", norm(a));
        assert!(cosine(a, b) > 0.99999 && (norm(a) - norm(b)).abs() < 1e-4);
    }
    // EMBEDDING_NORMALIZE=true normalises a model that does not.
    let forced = TextEmbedder::new(EmbeddingConfig {
        model: dir.path().to_str().unwrap().to_owned(),
        normalize: Some(true),
        strict: true,
        ..EmbeddingConfig::default()
    });
    assert!((norm(&forced.embed(&texts).await.unwrap()[0]) - 1.0).abs() < 1e-5);
}

/// The seed's third option names a plain checkpoint by its legacy hub id (no organisation),
/// found in the Hugging Face cache (here MiniLM's network stands in for bert-base-uncased).
#[tokio::test]
async fn a_legacy_hub_id_names_a_plain_checkpoint_in_the_cache() {
    let Some(minilm) = minilm() else { return };
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("models--bert-base-uncased");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "local").unwrap();
    let snapshot = model_dir(&minilm, &[]);
    std::fs::create_dir_all(repo.join("snapshots")).unwrap();
    std::os::unix::fs::symlink(snapshot.path(), repo.join("snapshots/local")).unwrap();
    let embedder = TextEmbedder::new(EmbeddingConfig {
        model: "bert-base-uncased".into(),
        strict: true,
        ..EmbeddingConfig::default()
    })
    .with_hub_cache(cache.path());
    assert_eq!(embedder.backend().await.unwrap(), "transformer (model=bert-base-uncased)");
    let v = embedder.embed(&["a plain checkpoint".to_owned()]).await.unwrap();
    assert!((norm(&v[0]) - 1.0).abs() > 1e-2, "mean pooled, not normalised");
}

#[test]
fn pooling_modes_concatenate() {
    let Some(minilm) = minilm() else { return };
    let pooling = r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_max_tokens": true, "pooling_mode_mean_tokens": true}"#;
    let dir = model_dir(&minilm, &[("modules.json", &modules(false)), ("1_Pooling/config.json", pooling)]);
    let model = SentenceBert::load(&files_in(dir.path()), Device::Cpu, None).unwrap();
    assert_eq!(model.identity().dim, 3 * 384);
    let v = &model.embed(&TEXTS[..1]).unwrap()[0];
    let mean = SentenceBert::load(&files_in(model_dir(&minilm, &[]).path()), Device::Cpu, None)
        .unwrap()
        .embed(&TEXTS[..1])
        .unwrap();
    assert!(cosine(&v[2 * 384..], &mean[0]) > 0.99999, "cls, max, mean: mean is third");
    let (cls, max) = (&v[..384], &v[384..768]);
    assert!(max.iter().zip(cls).all(|(m, c)| m >= c), "the maximum bounds every token, [CLS] included");
}

#[tokio::test]
async fn other_architectures_are_refused_by_name() {
    let Some(minilm) = minilm() else { return };
    let dir = model_dir(&minilm, &[]);
    let config = dir.path().join("config.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    json["model_type"] = "xlm-roberta".into();
    json["architectures"] = serde_json::json!(["XLMRobertaModel"]);
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, json.to_string()).unwrap();
    let err = SentenceBert::load(&files_in(dir.path()), Device::Cpu, None).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("xlm-roberta") && err.to_string().contains("XLMRobertaModel"), "{err}");
    // Not strict: the hash embedding, with the reason said.
    let embedder = TextEmbedder::new(EmbeddingConfig {
        model: dir.path().to_str().unwrap().to_owned(),
        ..EmbeddingConfig::default()
    });
    let backend = embedder.backend().await.unwrap();
    assert!(backend.starts_with("hash") && backend.contains("XLMRobertaModel"), "{backend}");
}

#[test]
fn an_activation_other_than_gelu_is_refused_by_name() {
    let Some(minilm) = minilm() else { return };
    let dir = model_dir(&minilm, &[]);
    let config = dir.path().join("config.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    json["hidden_act"] = "relu".into();
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, json.to_string()).unwrap();
    let err = SentenceBert::load(&files_in(dir.path()), Device::Cpu, None).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("hidden_act") && err.to_string().contains("Relu"), "{err}");
}
