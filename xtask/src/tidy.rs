//! Tidy checks: project invariants that `cargo test` enforces (after rust-analyzer).

use std::fs;
use std::path::{Path, PathBuf};

use crate::root;

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    crate::walk(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")).collect()
}

/// Names in the `[dependencies]` table of a manifest (not dev- or build-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in read(manifest).lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && let Some((name, _)) = line.split_once('=') {
            names.push(name.trim().split('.').next().unwrap_or_default().to_owned());
        }
    }
    names
}

const LIBRARY_CRATES: [&str; 10] = [
    "crates/core",
    "crates/remote",
    "crates/server",
    "crates/testkit",
    "crates/sql",
    "crates/kv",
    "crates/document",
    "crates/embeddings",
    "crates/vector",
    "crates/aimdb",
];

#[test]
fn public_crates_deny_missing_docs() {
    for krate in LIBRARY_CRATES {
        let lib = read(format!("{krate}/src/lib.rs"));
        assert!(lib.contains("#![deny(missing_docs)]"), "{krate}/src/lib.rs lacks #![deny(missing_docs)]");
        assert!(lib.starts_with("//!"), "{krate}/src/lib.rs must start with crate docs");
    }
}

#[test]
fn core_depends_on_no_driver() {
    const DRIVERS: [&str; 9] = [
        "sqlx",
        "redis",
        "deadpool-redis",
        "mongodb",
        "faiss",
        "chromadb",
        "candle-core",
        "tokenizers",
        "hf-hub",
    ];
    let deps = dependencies("crates/core/Cargo.toml");
    for driver in DRIVERS {
        assert!(!deps.iter().any(|d| d == driver), "aimdb-core must not depend on {driver}");
    }
}

#[test]
fn adapters_depend_on_core_only() {
    let adapters = [
        ("crates/sql/Cargo.toml", "aimdb-sql"),
        ("crates/embeddings/Cargo.toml", "aimdb-embed"),
        ("crates/vector/Cargo.toml", "aimdb-vector"),
        ("crates/kv/Cargo.toml", "aimdb-redis"),
        ("crates/document/Cargo.toml", "aimdb-mongo"),
        ("crates/remote/Cargo.toml", "aimdb-remote"),
    ];
    for (adapter, own) in adapters {
        let deps = dependencies(adapter);
        assert!(deps.iter().any(|d| d == "aimdb-core"), "{adapter} must depend on aimdb-core");
        for other in [
            "aimdb",
            "aimdb-sql",
            "aimdb-redis",
            "aimdb-mongo",
            "aimdb-vector",
            "aimdb-embed",
            "aimdb-remote",
        ] {
            assert!(other == own || !deps.iter().any(|d| d == other), "{adapter} must not depend on {other}");
        }
    }
}

#[test]
fn no_archived_yaml_crate() {
    let lock = read("Cargo.lock");
    assert!(!lock.contains("name = \"serde_yaml\"\n"), "serde_yaml is archived: use serde-saphyr");
}

#[test]
fn readme_gives_the_two_setup_commands() {
    let readme = read("README.md");
    for command in ["cargo xtask demo", "cargo xtask test"] {
        assert!(readme.contains(command), "README.md must give `{command}`");
    }
    let ci = read(".ci/run");
    assert!(ci.contains("cargo xtask test"), ".ci/run must call the README's test command");
}

#[test]
fn tests_time_nothing() {
    // Speed is measured by criterion benches, never asserted in tests.
    for krate in LIBRARY_CRATES {
        for file in rust_files(&root().join(krate).join("tests")) {
            let text = fs::read_to_string(&file).unwrap();
            assert!(!text.contains("Instant::now"), "{} times code: use a criterion bench", file.display());
        }
    }
}

/// Every crate cargo builds for the tests, the benches, the CLI and the wheel depends on the
/// hakari-managed `workspace-hack`, so all of them see the same features of shared
/// dependencies and reuse one build of each (`cargo hakari generate && cargo hakari
/// manage-deps` after a dependency change; xtask stays out so it builds alone, first).
#[test]
fn crates_share_dependency_builds_through_workspace_hack() {
    for manifest in LIBRARY_CRATES
        .iter()
        .chain(&["crates/cli", "crates/python", "benches"])
        .map(|c| format!("{c}/Cargo.toml"))
    {
        assert!(
            dependencies(&manifest).iter().any(|d| d == "workspace-hack"),
            "{manifest} lacks workspace-hack"
        );
    }
    assert!(!read("xtask/Cargo.toml").contains("workspace-hack"), "xtask must build without the world");
}

#[test]
fn workspace_crates_inherit_package_metadata() {
    for manifest in LIBRARY_CRATES
        .iter()
        .map(|c| format!("{c}/Cargo.toml"))
        .chain(["xtask/Cargo.toml".into(), "benches/Cargo.toml".into()])
    {
        let text = read(&manifest);
        for key in ["version.workspace = true", "edition.workspace = true", "[lints]"] {
            assert!(text.contains(key), "{manifest} lacks `{key}`");
        }
    }
}

#[test]
fn unsafe_lives_in_audited_files() {
    // SQLite's statement API for bulk metric reads; FAISS's const search through `&self`;
    // the embedding encoder's matrix kernels (gemm's raw-pointer API, AVX-512 intrinsics);
    // GPU search's cuBLAS calls and kernel launches; OpenBLAS's kernel choice (dlsym).
    const ALLOWED: [&str; 5] = [
        "crates/sql/src/sqlite/bulk.rs",
        "crates/vector/src/faiss/concurrent.rs",
        "crates/vector/src/faiss/blas.rs",
        "crates/embeddings/src/matmul.rs",
        "crates/vector/src/gpu/mod.rs",
    ];
    for file in rust_files(&root().join("crates")) {
        let text = fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
        if ALLOWED.contains(&rel.as_str()) {
            let blocks = text.matches("unsafe {").count() + text.matches("unsafe{").count();
            let reasons = text.matches("// SAFETY:").count();
            assert!(reasons >= blocks, "{rel}: {blocks} unsafe blocks but {reasons} SAFETY comments");
        } else {
            assert!(!text.contains("allow(unsafe_code)"), "{rel} allows unsafe code; only {ALLOWED:?} may");
        }
    }
}

#[test]
fn default_builds_run_on_any_avx2_cpu() {
    // FAISS is compiled from source with these flags; AVX-512 ones (or -march=native) would
    // make every binary built on a newer machine die with SIGILL on an AVX2-only CPU.
    // AVX-512 is picked at run time: by Rust code, and by the ifuncs of FAISS's kernels that
    // the forced header clones (each with its AVX2 `default`).
    let config = read(root().join(".cargo/config.toml"));
    let line = config.lines().find(|l| l.starts_with("CXXFLAGS_x86_64")).expect("FAISS's CXXFLAGS");
    assert!(line.contains("-mavx2"), "FAISS must keep its AVX2 kernels: {line}");
    for flag in ["avx512", "-march", "x86-64-v4"] {
        assert!(!line.contains(flag), "default FAISS flags must not need `{flag}`: {line}");
    }
    let header = line.split("-include ").nth(1).and_then(|rest| rest.split([' ', '"']).next());
    let header = read(root().join("crates/vector/cxx").join(header.expect("FAISS's forced header")));
    let clones: Vec<&str> = header.lines().filter(|l| l.contains("target_clones(")).collect();
    assert!(!clones.is_empty() && clones.iter().all(|l| l.contains("\"default\"")), "{clones:?}");
    assert!(!header.contains("pragma GCC target"), "a forced header must not raise FAISS's baseline");
    for file in rust_files(&root().join("crates")) {
        let text = fs::read_to_string(&file).unwrap();
        if text.contains("target_feature(enable = \"avx512") {
            assert!(
                text.contains("is_x86_feature_detected!(\"avx512"),
                "{} uses AVX-512 without detecting it",
                file.display()
            );
        }
    }
}

#[test]
fn fixtures_match_the_shared_reference() {
    // fixtures/ is a copy so the repository tests alone; ../shared is the reference.
    let shared = root().join("../shared/fixtures");
    if !shared.is_dir() {
        return;
    }
    for name in ["hash_embedding_reference.json", "minilm_reference.json"] {
        let ours = fs::read(root().join("fixtures").join(name)).unwrap();
        let theirs = fs::read(shared.join(name)).unwrap();
        assert!(ours == theirs, "fixtures/{name} differs from ../shared/fixtures/{name}");
    }
}

#[test]
fn mysql_family_migrations_differ_only_in_collation() {
    // One schema for MySQL 8 and MariaDB; each names its exact NO PAD collation.
    let dir = root().join("crates/sql/migrations");
    for entry in fs::read_dir(dir.join("mariadb")).unwrap().flatten() {
        let name = entry.file_name();
        let mariadb = fs::read_to_string(entry.path()).unwrap();
        let mysql = fs::read_to_string(dir.join("mysql").join(&name)).unwrap();
        let normalise = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .replace("utf8mb4_nopad_bin", "COLLATION")
                .replace("utf8mb4_0900_bin", "COLLATION")
        };
        assert_eq!(normalise(&mariadb), normalise(&mysql), "{name:?} differs beyond the collation");
    }
}

/// The first `"key": "value"` in JSON text (enough for npm's manifests and lock file).
fn json_string<'a>(text: &'a str, key: &str) -> &'a str {
    let marker = format!("\"{key}\": \"");
    let start = text.find(&marker).unwrap_or_else(|| panic!("no \"{key}\" in {text:.200}")) + marker.len();
    &text[start..start + text[start..].find('"').expect("a closing quote")]
}

/// The web UI's npm packages are vendored at the versions `package-lock.json` pins, each
/// with its licence and manifest (`cargo xtask vendor-ui` refreshes them), and nothing else
/// sits in the vendor directory.
#[test]
fn vendored_ui_packages_match_the_lock_file_and_carry_their_licences() {
    let ui = root().join("crates/server/ui");
    let lock = read("crates/server/ui/package-lock.json");
    let manifest = read("crates/server/ui/package.json");
    let mut present: Vec<String> = fs::read_dir(ui.join("static/vendor"))
        .expect("crates/server/ui/static/vendor")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let mut expected: Vec<String> = crate::ui::VENDORED.iter().map(|(p, _)| (*p).to_owned()).collect();
    expected.sort();
    assert_eq!(present, expected, "static/vendor holds exactly the packages xtask vendors");
    for (package, files) in crate::ui::VENDORED {
        let dir = ui.join("static/vendor").join(package);
        for file in *files {
            let name = Path::new(file).file_name().expect("a file name");
            assert!(dir.join(name).is_file(), "{package}: {file} is not vendored");
        }
        let vendored = json_string(&read(dir.join("package.json")), "version").to_owned();
        let entry = format!("\"node_modules/{package}\": {{");
        let locked = json_string(
            &lock[lock.find(&entry).unwrap_or_else(|| panic!("{package} not in the lock"))..],
            "version",
        );
        assert_eq!(vendored, locked, "{package}: vendored {vendored}, package-lock.json pins {locked}");
        assert!(
            manifest.contains(&format!("\"{package}\": \"{locked}\"")),
            "{package}: package.json pins another version"
        );
        let licence = read(dir.join("LICENSE"));
        assert!(
            licence.contains("Permission is hereby granted") || licence.contains("Apache License"),
            "{package}: LICENSE"
        );
    }
}
