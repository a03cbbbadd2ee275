//! `cargo bench --bench sync`: the time from a save to the CRM for a
//! one-cell edit of a workbook kept in step by `pantry-import watch`
//! (default 100,000 rows; `cargo bench --bench sync -- 20000` for others).
//!
//! The workbook (.xlsx, eight columns of accounts) is written whole each
//! time, as Excel saves it: to a new file renamed over the old. The clock
//! starts at the rename and stops when a query sees the edited cell in the
//! CRM (polled every 5 ms), so it covers the file event, the settling wait,
//! reading the copy and the pass. The pass's own time is printed beside it,
//! and, for scale, a whole `import --on-duplicate update` of the same file,
//! which is what each change cost before. A benchmark, not a test: it
//! prints figures and never fails on a slow machine.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{drop_database, fresh_database, path, timed};

const EDITS: usize = 5;

fn main() {
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.replace(['_', ','], "").parse::<usize>().ok())
        .unwrap_or(100_000);
    let admin = std::env::var("PANTRY_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_pantry-import"));
    let name = format!("pantry_bench_sync_{rows}");
    let url = fresh_database(&admin, &binary, &name);
    let folder = std::env::temp_dir().join(format!("pantry-bench-sync-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("the folder is made");
    let book = folder.join("accounts.xlsx");
    let mut phones: Vec<String> = (0..rows)
        .map(|i| format!("(312) 555-{:04}", i % 10_000))
        .collect();
    let started = Instant::now();
    write_workbook(&book, &phones);
    eprintln!(
        "{rows} rows as xlsx: {:.1} MB, written in {:.1} s",
        std::fs::metadata(&book).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("the bench database answers");
        tokio::spawn(connection);
        client
    });

    let mut watch = Command::new(&binary)
        .args(["watch", path(&book), "--json", "--database-url", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch runs");
    let pid = watch.id();
    let mut lines = BufReader::new(watch.stdout.take().expect("piped")).lines();
    let mut next_pass = || -> serde_json::Value {
        let line = lines.next().and_then(Result::ok).expect("a pass line");
        serde_json::from_str(&line).expect("JSON")
    };
    let first_started = Instant::now();
    let first = next_pass();
    println!(
        "first pass: {} rows created in {:.2} s (pass {:.2} s)",
        first["created"],
        first_started.elapsed().as_secs_f64(),
        first["seconds"].as_f64().unwrap_or(0.0)
    );

    let mut to_crm = Vec::new();
    let mut passes = Vec::new();
    for edit in 0..EDITS {
        let row = (edit * 7919 + 13) % rows;
        let phone = format!("(773) 555-{:04}", edit);
        phones[row] = phone.clone();
        let temporary = book.with_extension("saving");
        write_workbook(&temporary, &phones);
        let saved = Instant::now();
        std::fs::rename(&temporary, &book).expect("saved");
        let name = account(row);
        runtime.block_on(async {
            loop {
                let stored: Option<String> = client
                    .query_one("SELECT phone FROM organizations WHERE name = $1", &[&name])
                    .await
                    .expect("the query runs")
                    .get(0);
                if stored.as_deref() == Some(phone.as_str()) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        to_crm.push(saved.elapsed().as_secs_f64());
        let pass = next_pass();
        assert_eq!(pass["updated"], 1, "one record updated: {pass}");
        passes.push(pass["seconds"].as_f64().unwrap_or(0.0));
    }
    let peak = peak_kib(pid);
    let _ = watch.kill();
    let _ = watch.wait();

    let reimport = timed(Command::new(&binary).args([
        "import",
        path(&book),
        "--on-duplicate",
        "update",
        "--again",
        "--json",
        "--database-url",
        &url,
    ]));

    to_crm.sort_by(f64::total_cmp);
    passes.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "\n{:>8} | {:>26} | {:>24} | {:>16} | {:>10}",
        "rows",
        "save to CRM s (min/med/max)",
        "pass s (min/med/max)",
        "whole import s",
        "watch peak"
    );
    println!(
        "{:>8} | {:>8.3} {:>8.3} {:>8.3} | {:>7.3} {:>7.3} {:>7.3} | {:>16.3} | {:>7.1} MB",
        rows,
        to_crm[0],
        median(&to_crm),
        to_crm[to_crm.len() - 1],
        passes[0],
        median(&passes),
        passes[passes.len() - 1],
        reimport.seconds,
        peak as f64 / 1024.0
    );
    drop_database(&admin, &name);
    let _ = std::fs::remove_dir_all(&folder);
}

fn account(row: usize) -> String {
    format!("Account {row:06} Grill")
}

fn write_workbook(book: &Path, phones: &[String]) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .expect("a worksheet");
    let headers = [
        "Organization Name",
        "Priority",
        "Segment",
        "Phone",
        "Street Address",
        "City",
        "State",
        "Zip Code",
    ];
    for (column, header) in headers.iter().enumerate() {
        sheet
            .write_string(0, column as u16, *header)
            .expect("a header cell");
    }
    for (i, phone) in phones.iter().enumerate() {
        let row = i as u32 + 1;
        let cells = [
            account(i),
            ["A", "B", "C", "D"][i % 4].to_owned(),
            "Fine Dining".to_owned(),
            phone.clone(),
            format!("{} Main St", i % 9000 + 1),
            "Chicago".to_owned(),
            "IL".to_owned(),
            format!("{:05}", 60000 + i % 1000),
        ];
        for (column, cell) in cells.iter().enumerate() {
            sheet
                .write_string(row, column as u16, cell)
                .expect("a cell");
        }
    }
    workbook.save(book).expect("the workbook is saved");
}

/// The peak resident memory of process `pid` so far, in KiB.
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
