//! Counting test results across cargo runs, for one closing summary line.

/// Test counts gathered from cargo's `test result:` lines and criterion's test mode.
#[derive(Default, Debug, PartialEq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
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
pub fn cargo_tallied(args: &[&str], env: &[(String, String)], tally: &mut Tally) -> Result<(), String> {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    let mut child = crate::cargo_command(args, env)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
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
mod tests {
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
