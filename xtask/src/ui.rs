//! The web UI's npm packages: `cargo xtask vendor-ui` installs them from
//! `crates/server/ui/package-lock.json` and copies the files the page loads, with each
//! package's licence and manifest, into `crates/server/ui/static/vendor/<package>/`, which is
//! committed: building aimdb needs neither npm nor the network.

use std::path::Path;
use std::process::Command;

/// For each package: the files the UI loads (and its licence and manifest), by path in it.
pub const VENDORED: &[(&str, &[&str])] = &[
    ("preact", &["dist/preact.mjs", "LICENSE", "package.json"]),
    ("htm", &["dist/htm.mjs", "LICENSE", "package.json"]),
    ("uplot", &["dist/uPlot.esm.js", "dist/uPlot.min.css", "LICENSE", "package.json"]),
];

pub fn vendor(root: &Path) -> Result<(), String> {
    let ui = root.join("crates/server/ui");
    eprintln!("xtask: npm ci in {} (the versions package-lock.json pins)", ui.display());
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&ui)
        .status()
        .map_err(|e| format!("cannot run npm (install Node.js): {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed ({status})"));
    }
    let vendor = ui.join("static/vendor");
    let _ = std::fs::remove_dir_all(&vendor);
    for (package, files) in VENDORED {
        let to = vendor.join(package);
        std::fs::create_dir_all(&to).map_err(|e| format!("create {}: {e}", to.display()))?;
        for file in *files {
            let from = ui.join("node_modules").join(package).join(file);
            let name = Path::new(file).file_name().expect("a file name");
            std::fs::copy(&from, to.join(name)).map_err(|e| format!("copy {}: {e}", from.display()))?;
        }
    }
    eprintln!("xtask: vendored {} packages into {}", VENDORED.len(), vendor.display());
    Ok(())
}
