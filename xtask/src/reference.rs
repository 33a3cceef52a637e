//! Runs the Python reference benches on this machine and reports ratios against
//! criterion's results, so speed claims are always "x times the reference, same machine".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TEXTS: f64 = 2000.0;

fn venv(root: &Path) -> Result<PathBuf, String> {
    // An existing interpreter with sentence-transformers saves a ~6 GB venv.
    if let Some(python) = std::env::var_os("AIMDB_BENCH_PYTHON") {
        return Ok(python.into());
    }
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("xtask: creating {} with sentence-transformers (large: torch)", venv.display());
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success())
            && Command::new(&python)
                // faiss-cpu pinned to the FAISS that faiss-sys 0.7 vendors: same library, same version.
                .args(["-m", "pip", "install", "--disable-pip-version-check", "sentence-transformers"])
                .args(["faiss-cpu==1.12.0", "numpy"])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "could not prepare {}; pip install sentence-transformers faiss-cpu==1.12.0 there",
                venv.display()
            ));
        }
    }
    Ok(python)
}

/// Mean time per iteration in seconds from criterion's estimates.json.
fn criterion_mean(root: &Path, group: &str, bench: &str) -> Result<f64, String> {
    let path = root.join("target/criterion").join(group).join(bench).join("new/estimates.json");
    let text =
        fs::read_to_string(&path).map_err(|e| format!("{}: {e} (run the bench first)", path.display()))?;
    // {"mean":{"confidence_interval":{...},"point_estimate":123.4,...}: nanoseconds.
    let mean = text.split("\"mean\"").nth(1).ok_or("no mean in estimates.json")?;
    let value = mean.split("\"point_estimate\":").nth(1).ok_or("no point_estimate")?;
    let number: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    number.parse::<f64>().map(|ns| ns / 1e9).map_err(|e| format!("point_estimate `{number}`: {e}"))
}

pub fn embedding_ratio(root: &Path) -> Result<(), String> {
    let ours = TEXTS / criterion_mean(root, "embed", "minilm_2000")?;
    let python = venv(root)?;
    let output = Command::new(&python)
        .arg(root.join("benches/reference/embed_reference.py"))
        .output()
        .map_err(|e| format!("run embed_reference.py: {e}"))?;
    if !output.status.success() {
        return Err(format!("embed_reference.py failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let theirs: f64 = line
        .split("\"texts_per_s\":")
        .nth(1)
        .and_then(|v| v.split([',', '}']).next())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("unexpected reference output: {line}"))?;
    // Criterion's mean for one text; the reference's median (its runs are noisier).
    let our_short = criterion_mean(root, "embed", "minilm_one_short")? * 1e3;
    let their_short: f64 = field(&line, "one_short_ms")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no one_short_ms in reference output: {line}"))?;
    let mut report = format!(
        "| embedding all-MiniLM-L6-v2, CPU | 2,000 texts, batch 32: texts/s | one text of <= 10 words: ms |\n\
         |---|---|---|\n\
         | aimdb (Candle) | {ours:.0} | {our_short:.2} |\n\
         | sentence-transformers | {theirs:.0} | {their_short:.2} |\n\
         | ratio (> 1: aimdb faster) | {:.2}x | {:.2}x |\n",
        ours / theirs,
        their_short / our_short
    );
    // Only where the CPU has AVX512-BF16 did the bench time it.
    if let Ok(seconds) = criterion_mean(root, "embed", "minilm_2000_bf16") {
        let bf16 = TEXTS / seconds;
        report += &format!("| aimdb, `EMBEDDING_PRECISION=bf16` | {bf16:.0} ({:.2}x) | |\n", bf16 / theirs);
    }
    print!("{report}");
    let out = root.join("target/bench-report.md");
    fs::write(&out, report).map_err(|e| e.to_string())?;
    eprintln!("xtask: wrote {}", out.display());
    Ok(())
}

/// The value of `"key":` in a flat JSON object on one line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.split(&format!("\"{key}\":")).nth(1)?;
    Some(rest.split([',', '}']).next()?.trim().trim_matches('"'))
}

/// Times Python faiss-cpu on the data the vector bench left in `target/bench-data` and prints
/// aimdb's p50 latency as a ratio of it, index by index.
pub fn vector_ratio(root: &Path) -> Result<(), String> {
    let summary_path = root.join("target/criterion/vector-summary.json");
    let summary = fs::read_to_string(&summary_path)
        .map_err(|e| format!("{}: {e} (run `cargo xtask bench vector` first)", summary_path.display()))?;
    let ours: Vec<&str> = summary.lines().filter(|l| l.contains("\"index\"")).collect();
    let first = ours.first().ok_or("empty vector-summary.json")?;
    let (nlist, nprobe) = (field(first, "nlist").unwrap_or("1024"), field(first, "nprobe").unwrap_or("64"));
    let python = venv(root)?;
    eprintln!("xtask: timing Python faiss-cpu on the same data (nlist={nlist}, nprobe={nprobe})");
    let output = Command::new(&python)
        .arg(root.join("benches/reference/faiss_reference.py"))
        .args([nlist, nprobe])
        .output()
        .map_err(|e| format!("run faiss_reference.py: {e}"))?;
    if !output.status.success() {
        return Err(format!("faiss_reference.py failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let theirs = String::from_utf8_lossy(&output.stdout).into_owned();
    let n = field(first, "n").unwrap_or("?");
    let mut report = format!(
        "| {n} x 384, k=10, one query at a time | aimdb p50 ms | faiss-cpu p50 ms | time ratio (< 1: aimdb faster) | aimdb p99 ms | \
         recall@10 aimdb | recall@10 faiss-cpu | build s aimdb | build s faiss-cpu |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for line in &ours {
        let index = field(line, "index").unwrap_or("?");
        let Some(other) = theirs.lines().find(|l| field(l, "index") == Some(index)) else { continue };
        let num = |l: &str, k: &str| field(l, k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        report.push_str(&format!(
            "| {index} | {:.3} | {:.3} | {:.2}x | {:.3} | {:.4} | {:.4} | {:.1} | {:.1} |\n",
            num(line, "p50_ms"),
            num(other, "p50_ms"),
            num(line, "p50_ms") / num(other, "p50_ms"),
            num(line, "p99_ms"),
            num(line, "recall_at_10"),
            num(other, "recall_at_10"),
            num(line, "build_s"),
            num(other, "build_s"),
        ));
    }
    report.push_str(
        "\n| batched search, queries/s (< 1: aimdb slower) | batch 1 aimdb | faiss-cpu | ratio | batch 4 aimdb | \
         faiss-cpu | ratio | batch 16 aimdb | faiss-cpu | ratio | batch 256 aimdb | faiss-cpu | ratio |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for line in &ours {
        let index = field(line, "index").unwrap_or("?");
        let Some(other) = theirs.lines().find(|l| field(l, "index") == Some(index)) else { continue };
        let num = |l: &str, k: &str| field(l, k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        report.push_str(&format!("| {index} |"));
        for batch in [1, 4, 16, 256] {
            let key = format!("qps_batch_{batch}");
            let (a, b) = (num(line, &key), num(other, &key));
            report.push_str(&format!(" {a:.0} | {b:.0} | {:.2}x |", a / b));
        }
        report.push('\n');
    }
    print!("{report}");
    let out = root.join("target/bench-vector-report.md");
    fs::write(&out, &report).map_err(|e| e.to_string())?;
    eprintln!("xtask: wrote {}", out.display());
    Ok(())
}
