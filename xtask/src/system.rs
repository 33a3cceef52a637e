//! The machine: root or not, Debian packages, the C/C++ toolchain FAISS builds with.

use std::process::Command;

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs Debian packages when we may (root with apt-get), else says the command.
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let command = format!("apt-get install -y {}", packages.join(" "));
    if !is_root() || Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!("missing; install with: sudo {command}"));
    }
    eprintln!("xtask: {command}");
    let quiet = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(packages);
    if quiet(&install) || (quiet(&["update", "-q"]) && quiet(&install)) {
        Ok(())
    } else {
        Err(format!("`{command}` failed"))
    }
}

/// FAISS is compiled from source by `faiss-sys` (the `faiss` crate's `static` feature): it needs
/// cmake, a C++ compiler, BLAS and LAPACK (OpenBLAS's OpenMP build, as FAISS itself is built
/// with OpenMP). Installs what is missing before cargo starts, since a build script cannot.
pub fn ensure_faiss_toolchain() -> Result<(), String> {
    let has =
        |program: &str| Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    // `gcc -print-file-name=libX.so` prints a path only when the linker can find the library.
    let links = |lib: &str| {
        Command::new("gcc")
            .arg(format!("-print-file-name={lib}"))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim().contains('/'))
    };
    let mut missing = Vec::new();
    if !has("cmake") {
        missing.push("cmake");
    }
    if !has("g++") {
        missing.push("g++");
    }
    if !links("libblas.so") {
        missing.push("libopenblas-openmp-dev");
    }
    if !links("liblapack.so") {
        missing.push("liblapack-dev");
    }
    if !missing.is_empty() {
        apt_install(&missing).map_err(|e| format!("FAISS build tools {e}"))?;
    }
    ensure_openmp_blas();
    Ok(())
}

/// OpenBLAS's OpenMP build, where the binaries look first (`.cargo/config.toml` says why).
const OPENMP_BLAS: &str = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0";

/// Installs OpenBLAS's OpenMP build beside whichever BLAS the machine has, on Debian-like
/// x86-64 Linux; without it FAISS still runs (on the other build, slower), so only a warning.
fn ensure_openmp_blas() {
    let debian_like = std::path::Path::new("/etc/debian_version").exists();
    if !cfg!(all(target_os = "linux", target_arch = "x86_64"))
        || !debian_like
        || std::path::Path::new(OPENMP_BLAS).exists()
    {
        return;
    }
    if let Err(e) = apt_install(&["libopenblas0-openmp"]) {
        eprintln!("xtask: OpenBLAS's OpenMP build (batched FAISS searches run faster on it) {e}");
    }
}
