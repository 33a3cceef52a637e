//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Kept free of dependencies so that it builds in seconds on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[cfg(test)]
mod tidy;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo [DB_PATH]   run the embedded demo (SQLite, no server) through every API call
  test             run every test: unit, conformance suites, doc tests, tidy checks, bench smoke
  bench [ARGS]     run the criterion benches in release (ARGS go to criterion, e.g. a filter)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
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

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", args.join(" "))) }
}

fn demo(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["run", "--quiet", "--package", "aimdb", "--example", "demo", "--"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}

fn test(extra: &[String]) -> Result<(), String> {
    let mut tally = Tally::default();
    // Criterion runs each bench once in test mode: benches keep compiling and working
    // without timing anything here.
    let mut runs = vec![
        vec!["test", "--workspace", "--no-fail-fast"],
        vec!["test", "--package", "aimdb-benches", "--benches"],
    ];
    runs[0].extend(extra.iter().map(String::as_str));
    let mut failures = Vec::new();
    for args in &runs {
        if let Err(e) = cargo_tallied(args, &mut tally) {
            failures.push(e);
        }
    }
    // One closing line for the whole run, whatever order cargo printed targets in.
    println!("summary: {} passed, {} failed, {} skipped", tally.passed, tally.failed, tally.skipped);
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// Test counts gathered from cargo's `test result:` lines and criterion's test mode.
#[derive(Default, Debug, PartialEq)]
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
}

impl Tally {
    fn read(&mut self, line: &str) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let mut words = part.split_whitespace().rev();
                let (Some(label), Some(n)) = (words.next(), words.next()) else { continue };
                let Ok(n) = n.parse::<u64>() else { continue };
                match label {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "ignored" => self.skipped += n,
                    _ => {}
                }
            }
        } else if line == "Success" {
            // Criterion's test mode prints `Testing <bench>` then `Success`.
            self.passed += 1;
        } else if line.starts_with("SKIPPED: ") {
            // aimdb-testkit's notice for a suite whose service is not running.
            self.skipped += 1;
        }
    }
}

/// Runs cargo, echoing its output while counting results.
fn cargo_tallied(args: &[&str], tally: &mut Tally) -> Result<(), String> {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut child = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo output: {e}"))?;
        tally.read(&line);
        let _ = writeln!(out, "{line}");
    }
    drop(out);
    let status = child.wait().map_err(|e| format!("waiting for cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", args.join(" "))) }
}

#[cfg(test)]
mod tally_tests {
    use super::Tally;

    #[test]
    fn counts_cargo_and_criterion_results() {
        let mut t = Tally::default();
        for line in [
            "test result: ok. 46 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.97s",
            "test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1s",
            "Success",
            "SKIPPED: no server for reopen",
            "test model_round_trip ... ok",
        ] {
            t.read(line);
        }
        assert_eq!(t, Tally { passed: 50, failed: 2, skipped: 2 });
    }
}

fn bench(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--package", "aimdb-benches"];
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    cargo(&args)
}
