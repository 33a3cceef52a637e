//! all-MiniLM-L6-v2 in Candle matches sentence-transformers (cosine >= 0.9999 per
//! text, the empty string, unicode and a text past 256 tokens included).
//!
//! Needs the model in the Hugging Face cache (`cargo xtask fetch-model`, which
//! `cargo xtask test` runs first). Without it the tests skip, except in CI, where they fail.

use aimdb_core::Embedder;
use aimdb_core::config::{EmbeddingConfig, EmbeddingPrecision};
use aimdb_embed::{Device, MINILM_SHORT_NAME, SentenceBert, TextEmbedder, hub_cache_dir, resolve};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    model: String,
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/minilm_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn model(device: Device, precision: EmbeddingPrecision) -> Option<SentenceBert> {
    match resolve(MINILM_SHORT_NAME, &hub_cache_dir()) {
        Ok(files) => {
            Some(SentenceBert::load_with(&files, device, None, precision).expect("the cached model loads"))
        }
        Err(e) => {
            aimdb_testkit::skip(&format!("MiniLM parity: {e}"));
            None
        }
    }
}

/// The default: half-precision products where the CPU has AVX512-FP16.
#[test]
fn matches_sentence_transformers() {
    let Some(model) = model(Device::Cpu, EmbeddingPrecision::Auto) else { return };
    check_parity(&model);
}

#[test]
fn matches_sentence_transformers_in_f32() {
    let Some(model) = model(Device::Cpu, EmbeddingPrecision::F32) else { return };
    check_parity(&model);
}

/// bfloat16 products where the CPU has AVX512-BF16 (as `auto` where it lacks them).
#[test]
fn matches_sentence_transformers_in_bfloat16() {
    let Some(model) = model(Device::Cpu, EmbeddingPrecision::Bf16) else { return };
    check_parity(&model);
}

/// The same check on the GPU path (candle-transformers' BERT on cuBLAS). Needs a CUDA
/// device; run on one with `cargo test -p aimdb-embed --features cuda --test minilm_parity`.
#[cfg(feature = "cuda")]
#[test]
fn matches_sentence_transformers_on_cuda() {
    let device = Device::new_cuda(0).expect("a CUDA device (this test is built with `cuda`)");
    let Some(model) = model(device, EmbeddingPrecision::Auto) else { return };
    check_parity(&model);
}

fn check_parity(model: &SentenceBert) {
    let reference = reference();
    assert_eq!(reference.model, "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(
        reference.max_seq_length,
        model.sentence_config().max_seq_length,
        "read from sentence_bert_config.json"
    );
    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    assert!(texts.contains(&""), "the empty string is covered");
    assert!(texts.iter().any(|t| t.len() > 3000), "a text past the truncation is covered");
    let ours = model.embed(&texts).unwrap();
    let mut lowest = f64::MAX;
    for (item, v) in reference.items.iter().zip(&ours) {
        let c = cosine(v, &item.embedding);
        lowest = lowest.min(c);
        assert!(c >= 0.9999, "{:?}: cosine {c}", item.text.chars().take(40).collect::<String>());
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "normalised: {norm}");
    }
    eprintln!("MiniLM parity: lowest cosine over {} texts = {lowest:.7}", texts.len());
    // One at a time gives the same vectors as the sorted, padded batch.
    for (text, batched) in texts.iter().zip(&ours).take(5) {
        let alone = &model.embed(&[text]).unwrap()[0];
        assert!(cosine(alone, batched) > 0.99999, "padding changed {text:?}");
    }
    // Several batches at once (run side by side on CPU): every vector back in its place.
    let many: Vec<&str> = texts.iter().copied().cycle().take(4 * texts.len() + 3).collect();
    for (i, v) in model.embed(&many).unwrap().iter().enumerate() {
        assert!(cosine(v, &ours[i % texts.len()]) > 0.99999, "text {i} of {} out of place", many.len());
    }
    assert!(model.embed(&[]).unwrap().is_empty(), "no texts, no vectors");
}

#[tokio::test]
async fn finds_by_meaning() {
    if resolve(MINILM_SHORT_NAME, &hub_cache_dir()).is_err() {
        aimdb_testkit::skip("MiniLM semantic check: model not in the cache");
        return;
    }
    let embedder = TextEmbedder::new(EmbeddingConfig { strict: true, ..EmbeddingConfig::default() });
    assert_eq!(embedder.backend().await.unwrap(), "transformer (model=all-MiniLM-L6-v2)");
    let texts: Vec<String> = [
        "image recognition deep learning",
        "ResNet50-Classifier ResNet50 PyTorch image_classification Deep residual network for image classification",
        "BERT-TextClassifier BERT-base Transformers Transformer model for NLP text classification",
        "XGBoost gradient boosted trees for tabular churn prediction",
    ]
    .map(String::from)
    .into();
    let v = embedder.embed(&texts).await.unwrap();
    let scores: Vec<f64> = v[1..].iter().map(|m| cosine(&v[0], m)).collect();
    assert!(scores[0] > scores[1] && scores[0] > scores[2], "ResNet is nearest: {scores:?}");
}

#[tokio::test]
async fn hub_ids_local_directories_and_unnormalised_vectors() {
    let Ok(files) = resolve(MINILM_SHORT_NAME, &hub_cache_dir()) else {
        aimdb_testkit::skip("MiniLM names: model not in the cache");
        return;
    };
    let text = vec!["gradient boosted trees".to_owned()];
    let by_short = TextEmbedder::new(EmbeddingConfig { strict: true, ..EmbeddingConfig::default() });
    let expected = by_short.embed(&text).await.unwrap();

    let by_hub_id = TextEmbedder::new(EmbeddingConfig {
        model: "sentence-transformers/all-MiniLM-L6-v2".into(),
        strict: true,
        ..EmbeddingConfig::default()
    });
    assert_eq!(by_hub_id.embed(&text).await.unwrap(), expected);

    let dir = files.weights.parent().unwrap().to_str().unwrap().to_owned();
    let by_dir =
        TextEmbedder::new(EmbeddingConfig { model: dir, strict: true, ..EmbeddingConfig::default() });
    assert_eq!(by_dir.identity().await.unwrap().kind, "transformer");
    assert_eq!(by_dir.embed(&text).await.unwrap(), expected);

    let raw = TextEmbedder::new(EmbeddingConfig {
        normalize: Some(false),
        strict: true,
        ..EmbeddingConfig::default()
    });
    let raw = raw.embed(&text).await.unwrap();
    let norm: f32 = raw[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "EMBEDDING_NORMALIZE=false keeps the mean-pooled norm ({norm})");
    assert!(cosine(&raw[0], &expected[0]) > 0.99999, "same direction");
}
