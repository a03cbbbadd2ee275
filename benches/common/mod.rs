//! What both benchmarks need: throwaway databases with the CRM schema,
//! through `psql` and `pantry-import migrate`.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

pub fn psql(url: &str, command: &str) {
    let status = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", command])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql {command}");
}

pub fn with_database(admin: &str, database: &str) -> String {
    let mut url = url::Url::parse(admin).expect("PANTRY_BENCH_DATABASE_URL is a postgres:// URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

pub fn drop_database(admin: &str, name: &str) {
    psql(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
}

/// A new database with the CRM schema, its URL.
pub fn fresh_database(admin: &str, binary: &Path, name: &str) -> String {
    drop_database(admin, name);
    psql(admin, &format!("CREATE DATABASE {name}"));
    let url = with_database(admin, name);
    let status = Command::new(binary)
        .args(["migrate", "--database-url", &url])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("migrate runs");
    assert!(status.success(), "migrate {name}");
    url
}

/// A command's wall time, peak memory and output.
pub struct Run {
    pub seconds: f64,
    pub peak_kib: u64,
    pub stdout: String,
}

/// Runs a command under `/usr/bin/time -v`, returning wall time and peak RSS.
pub fn timed(command: &mut Command) -> Run {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&program)
        .args(&args)
        .output()
        .expect("/usr/bin/time runs (Debian package 'time')");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_kib = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if !matches!(output.status.code(), Some(0 | 1)) {
        eprintln!("{program:?} failed: {stderr}");
    }
    Run {
        seconds,
        peak_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}
