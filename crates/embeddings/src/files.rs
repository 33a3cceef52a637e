//! Finding a model's files: a local directory, or the Hugging Face cache (offline:
//! this crate never downloads; `cargo xtask fetch-model` fills the cache).

use std::path::{Path, PathBuf};

use aimdb_core::{Error, Result};

/// Short names accepted for the default model, and its hub id.
pub const MINILM_SHORT_NAME: &str = "all-MiniLM-L6-v2";
/// Hub id of the default model.
pub const MINILM_HUB_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The files a BERT-family sentence embedder needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFiles {
    /// Name reported in the embedder identity (e.g. `all-MiniLM-L6-v2`).
    pub name: String,
    /// `config.json`.
    pub config: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
}

const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The hub cache directory: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (the same rules as Python's huggingface_hub).
pub fn hub_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
        return dir.into();
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return Path::new(&home).join("hub");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/huggingface/hub")
}

/// The hub id a configured name stands for: short names of known models expand,
/// `org/name` is kept.
pub fn hub_id(name: &str) -> String {
    if name.eq_ignore_ascii_case(MINILM_SHORT_NAME) { MINILM_HUB_ID.to_owned() } else { name.to_owned() }
}

/// Resolves `name` (a local directory, a hub id, or a short name) to files on disk,
/// looking in `cache` for hub ids. The error says where it looked and how to fix it.
pub fn resolve(name: &str, cache: &Path) -> Result<ModelFiles> {
    let dir = Path::new(name);
    if dir.is_dir() {
        let display = dir.file_name().map_or_else(|| name.to_owned(), |n| n.to_string_lossy().into_owned());
        return in_dir(dir, display);
    }
    let id = hub_id(name);
    let short = id.rsplit('/').next().unwrap_or(&id).to_owned();
    // Legacy hub ids have no organisation (`bert-base-uncased`): looked up as given.
    let repo = hf_hub::Cache::new(cache.to_path_buf()).model(id.clone());
    let found: Vec<_> = FILES.iter().map(|f| repo.get(f)).collect();
    match found.as_slice() {
        [Some(config), Some(tokenizer), Some(weights)] => Ok(ModelFiles {
            name: short,
            config: config.clone(),
            tokenizer: tokenizer.clone(),
            weights: weights.clone(),
        }),
        _ if !id.contains('/') => Err(Error::config(format!(
            "embedding model `{name}` is neither a directory nor a hub id in the Hugging Face cache at {} \
             (known short name: {MINILM_SHORT_NAME})",
            cache.display()
        ))),
        _ => Err(Error::config(format!(
            "embedding model `{id}` is not in the Hugging Face cache at {} (this build never downloads); \
             run `cargo xtask fetch-model`",
            cache.display()
        ))),
    }
}

fn in_dir(dir: &Path, name: String) -> Result<ModelFiles> {
    let [config, tokenizer, weights] = FILES.map(|f| dir.join(f));
    for path in [&config, &tokenizer, &weights] {
        if !path.is_file() {
            return Err(Error::config(format!("embedding model directory lacks {}", path.display())));
        }
    }
    Ok(ModelFiles { name, config, tokenizer, weights })
}
