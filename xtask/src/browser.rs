//! The web UI's browser tests (`crates/server/ui/tests`): Debian's Chromium, driven by
//! Playwright from PyPI in a venv cached with the others under `~/.cache/aimdb`, against
//! `aimdb serve` on a seeded database. Screenshots land in `target/ui-screenshots`.

use std::path::Path;

use crate::tally::Tally;
use crate::{python, services, system};

const CHROMIUM: &str = "/usr/bin/chromium";

pub fn suite(root: &Path, env: &[(String, String)], tally: &mut Tally) -> Result<(), String> {
    if !Path::new(CHROMIUM).exists() {
        system::apt_install(&["chromium", "fonts-liberation"]).map_err(|e| format!("Chromium {e}"))?;
    }
    let python =
        services::python_venv("browser-venv", &["playwright>=1.50,<2", "pytest"], "playwright, pytest")?;
    let mut env = env.to_vec();
    env.push(("AIMDB_CHROMIUM".into(), CHROMIUM.into()));
    python::pytest(root, &python, "crates/server/ui/tests", &env, tally)
}
