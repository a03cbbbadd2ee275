//! `cargo bench --bench window`: an import started from the window against
//! the same import from the command line, for the same file into fresh
//! migrated databases, in the same run.
//!
//! The window is the real app state driven without a screen, as the kittest
//! tests drive it, stepped at 60 frames a second like a display: the time is
//! from the click on Import to the results. The command line's time is the
//! whole `pantry-import import` process. Rows default to 300,000; pass
//! another number as the argument. The server is `PANTRY_BENCH_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`). A benchmark, not
//! a test: it prints figures and never fails on a slow machine.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{drop_database, fresh_database, path};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

const FRAME: Duration = Duration::from_millis(16);

fn main() {
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.replace(['_', ','], "").parse().ok())
        .unwrap_or(300_000);
    let admin = std::env::var("PANTRY_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_pantry-import"));
    let work = std::env::temp_dir().join(format!("pantry-window-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a temporary folder");
    let sheet = work.join(format!("accounts-{rows}.csv"));
    write_accounts(&sheet, rows);

    // A column sent to another field: the preview is read again in the
    // background while the window keeps drawing.
    let mut recomputes = Vec::new();
    for round in 1..=3 {
        let (first, whole, longest) = recompute_in_window(&sheet);
        recomputes.push(format!(
            "{round:>5} | {rows:>9} | {first:>13.3} | {whole:>9.3} | {longest:>16.1}"
        ));
        eprintln!(
            "round {round}: recompute {whole:.3} s, first rows {first:.3} s, longest frame {longest:.1} ms"
        );
    }

    let mut lines = Vec::new();
    for round in 1..=3 {
        let cli_db = fresh_database(&admin, &binary, "pantry_bench_window_cli");
        let started = Instant::now();
        let output = Command::new(&binary)
            .args(["import", path(&sheet), "--database-url", &cli_db, "--json"])
            .output()
            .expect("the import runs");
        let cli = started.elapsed().as_secs_f64();
        assert!(output.status.success(), "the command-line import works");

        let window_db = fresh_database(&admin, &binary, "pantry_bench_window_app");
        let window = import_in_window(&sheet, &window_db, rows);
        lines.push(format!(
            "{round:>5} | {rows:>9} | {cli:>9.3} | {window:>9.3} | {:>6.2}",
            window / cli
        ));
        eprintln!("round {round}: command line {cli:.3} s, window {window:.3} s");
    }
    drop_database(&admin, "pantry_bench_window_cli");
    drop_database(&admin, "pantry_bench_window_app");
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "\n{:>5} | {:>9} | {:>9} | {:>9} | {:>6}",
        "round", "rows", "CLI s", "window s", "ratio"
    );
    for line in lines {
        println!("{line}");
    }
    println!("ratio = window import time / command-line import time (lower is better)");
    println!(
        "\n{:>5} | {:>9} | {:>13} | {:>9} | {:>16}",
        "round", "rows", "first rows s", "all s", "longest frame ms"
    );
    for line in recomputes {
        println!("{line}");
    }
    println!(
        "recompute = a column's target changed in the menu under its header, until the whole \
         file is read again; the longest frame drawn meanwhile shows whether the window froze"
    );
}

/// Opens `sheet`, sends its CITY column to import notes through the menu
/// under its header, and returns the seconds until the first rows show
/// again and until every row is read again, and the longest frame (ms)
/// drawn in between.
fn recompute_in_window(sheet: &Path) -> (f64, f64, f64) {
    let file = sheet.to_path_buf();
    let mut harness: Harness<'static, pantry_window::PantryApp> = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| pantry_window::PantryApp::new(cc, Some(file)));
    run_until(&mut harness, pantry_window::PantryApp::preview_ready);
    harness.get_by_label("→ city ▾").click();
    harness.run_steps(2);
    let started = Instant::now();
    harness.get_by_label("import notes").click();
    let mut first = None;
    let mut longest = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let frame = Instant::now();
        harness.step();
        longest = longest.max(frame.elapsed());
        let app = harness.state();
        let preview = app.preview().expect("the file stays open");
        let remapped = preview.targets.get(2).is_some_and(|t| t == "import notes");
        if first.is_none() && remapped && !preview.rows.is_empty() {
            first = Some(started.elapsed().as_secs_f64());
        }
        if (remapped && app.preview_ready()) || Instant::now() > deadline {
            break;
        }
        if let Some(rest) = FRAME.checked_sub(frame.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let whole = started.elapsed().as_secs_f64();
    (
        first.unwrap_or(whole),
        whole,
        longest.as_secs_f64() * 1000.0,
    )
}

/// Opens `sheet` in the window, fills the connection, clicks Import and
/// returns the seconds from the click to the finished import.
fn import_in_window(sheet: &Path, url: &str, rows: u64) -> f64 {
    let file = sheet.to_path_buf();
    let mut harness: Harness<'static, pantry_window::PantryApp> = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| pantry_window::PantryApp::new(cc, Some(file)));
    run_until(&mut harness, pantry_window::PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(url);
    harness.run_steps(2);
    let button = format!(
        "Import {} organizations",
        pantry_window::theme::thousands(rows)
    );
    let started = Instant::now();
    harness.get_by_label(&button).click();
    run_until(&mut harness, |app| {
        app.run.as_ref().is_some_and(|run| !run.is_running())
    });
    started.elapsed().as_secs_f64()
}

/// Steps the window a frame at a time, as a display would, until `done`.
fn run_until(
    harness: &mut Harness<'static, pantry_window::PantryApp>,
    done: impl Fn(&pantry_window::PantryApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(harness.state()) && Instant::now() < deadline {
        let frame = Instant::now();
        harness.step();
        if let Some(rest) = FRAME.checked_sub(frame.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// `rows` distinct organizations with a segment, a city and a ZIP code.
fn write_accounts(path: &Path, rows: u64) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("the sheet can be written");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let _ = writeln!(out, "Organizations,SEGMENT,CITY,STATE,Zip Code");
    for i in 0..rows {
        let _ = writeln!(out, "Account {i},Casual,Chicago,IL,60601");
    }
    out.flush().expect("the sheet is written");
}
