//! `cargo xtask services up|down [NAMES]`: real servers on free loopback ports for the
//! backend tests (SPEC §8). State lives in `target/services/`; `up` writes
//! `target/services/env` with the URLs tests read (`AIMDB_TEST_POSTGRES_URL`, ...).
//! Only loopback addresses; every server started is stopped by `down`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The services `up` starts when none are named.
pub const ALL: &[&str] = &["postgres"];

fn state_dir(root: &Path) -> PathBuf {
    root.join("target/services")
}

/// A free TCP port on 127.0.0.1 (the OS picks; the listener closes before the server binds).
fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `program`, as `user` when we are root (database servers refuse to run as root).
fn run_as(user: Option<&str>, program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    let output = command.args(args).output().map_err(|e| format!("run {}: {e}", program.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} failed: {}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Installs Debian packages when we may (root with apt-get), else says the command.
fn apt_install(packages: &[&str]) -> Result<(), String> {
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

/// The newest PostgreSQL server binaries under /usr/lib/postgresql.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort_by_key(|p| p.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()));
    versions.pop()
}

/// A shell command line running `program args` as `user` when root, for tests to run.
fn command_line(user: Option<&str>, program: &Path, args: &[&str]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let prefix = user.map(|u| format!("runuser -u {u} -- ")).unwrap_or_default();
    format!("{prefix}{} {}", program.display(), quoted.join(" "))
}

fn postgres_up(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let bin = match postgres_bin() {
        Some(bin) => bin,
        None => {
            apt_install(&["postgresql"])?;
            postgres_bin().ok_or("postgresql installed but no initdb found under /usr/lib/postgresql")?
        }
    };
    let user = is_root().then_some("postgres");
    let data = dir.join("postgres");
    let _ = fs::remove_dir_all(&data);
    fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    if let Some(user) = user {
        run_as(None, Path::new("chown"), &["-R", user, data.to_str().ok_or("non-UTF-8 path")?])?;
    }
    let data_arg = data.to_str().ok_or("non-UTF-8 path")?;
    run_as(
        user,
        &bin.join("initdb"),
        &["-D", data_arg, "-U", "aimdb", "--auth=trust", "-E", "UTF8", "--no-locale"],
    )?;
    let port = free_port()?;
    let options = format!("-p {port} -c listen_addresses=127.0.0.1 -k {data_arg} -c max_connections=200");
    let log = format!("{data_arg}/server.log");
    let pg_ctl = bin.join("pg_ctl");
    let start = ["-D", data_arg, "-l", &log, "-o", &options, "-w", "-t", "60", "start"];
    run_as(user, &pg_ctl, &start)?;
    Ok(vec![
        ("AIMDB_TEST_POSTGRES_URL".into(), format!("postgres://aimdb@127.0.0.1:{port}/postgres")),
        // For the restart test: stop and start the same server on the same port.
        (
            "AIMDB_TEST_POSTGRES_STOP".into(),
            command_line(user, &pg_ctl, &["-D", data_arg, "-m", "fast", "-w", "stop"]),
        ),
        ("AIMDB_TEST_POSTGRES_START".into(), command_line(user, &pg_ctl, &start)),
    ])
}

fn postgres_down(dir: &Path) -> Result<(), String> {
    let data = dir.join("postgres");
    if !data.join("postmaster.pid").exists() {
        return Ok(());
    }
    let bin = postgres_bin().ok_or("no pg_ctl to stop postgres with")?;
    let user = is_root().then_some("postgres");
    run_as(
        user,
        &bin.join("pg_ctl"),
        &["-D", data.to_str().ok_or("non-UTF-8 path")?, "-m", "fast", "-w", "stop"],
    )
}

/// Starts `names` (or [`ALL`]); returns the environment tests need. A service that
/// cannot start is reported and left out: tests then skip it, or fail under CI=true.
pub fn up(root: &Path, names: &[String]) -> Vec<(String, String)> {
    let dir = state_dir(root);
    let _ = fs::create_dir_all(&dir);
    let names: Vec<String> =
        if names.is_empty() { ALL.iter().map(|s| s.to_string()).collect() } else { names.to_vec() };
    let mut env = Vec::new();
    for name in &names {
        let started = match name.as_str() {
            "postgres" => postgres_up(&dir),
            other => Err(format!("unknown service `{other}`; known: {}", ALL.join(", "))),
        };
        match started {
            Ok(vars) => {
                eprintln!("xtask: {name} up: {}={}", vars[0].0, vars[0].1);
                env.extend(vars);
            }
            Err(e) => eprintln!("xtask: {name} not started: {e}"),
        }
    }
    let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let _ = fs::write(dir.join("env"), lines);
    env
}

/// Stops every service `up` started.
pub fn down(root: &Path) -> Result<(), String> {
    let dir = state_dir(root);
    let mut errors = Vec::new();
    if let Err(e) = postgres_down(&dir) {
        errors.push(format!("postgres: {e}"));
    }
    let _ = fs::remove_file(dir.join("env"));
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// `cargo xtask services up|down [NAMES]`.
pub fn command(root: &Path, args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("up") => {
            let env = up(root, &args[1..]);
            for (k, v) in &env {
                println!("export {k}=\"{}\"", v.replace('"', "\\\""));
            }
            Ok(())
        }
        Some("down") => down(root),
        _ => Err("usage: cargo xtask services up|down [postgres]".into()),
    }
}
