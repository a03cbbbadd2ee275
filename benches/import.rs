//! `cargo bench`: how close `pantry-import import` comes to PostgreSQL's own
//! `psql \copy` on this machine.
//!
//! For each size it generates a broker sheet (the seed's headers, a few messy
//! rows), imports it into a fresh migrated database, exports the finished
//! rows, loads those with `psql \copy` into a second fresh migrated database
//! (same table, same indexes), and prints rows/s for both, the ratio, and
//! peak memory (from `/usr/bin/time -v`). It also times `check`.
//!
//! Then contacts: a sheet of contacts linked by organization name to
//! organizations already in the CRM (one for every ten contacts) is imported,
//! and the finished rows (links resolved) are loaded with `psql \copy` into
//! the same table of a second database holding the same organizations.
//!
//! `reimport=N` imports next month's file again with `--on-duplicate update`
//! against a hand-written staging update in psql; `scan=N` times the look
//! for a file's rows in the CRM before an import, near-duplicates included.
//!
//! Sizes default to 500, 200,000 and 1,000,000 organizations and 1,000,000
//! contacts; pass others as arguments: `cargo bench -- 200000 contacts=200000`
//! (`contacts=0` skips them). The server is `PANTRY_BENCH_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`). A benchmark, not
//! a test: it prints figures and never fails on a slow machine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pantry_core::entity::Entity;

mod common;
use common::{Run, drop_database, fresh_database, path, psql, timed};

/// The columns an import writes, as the description gives them.
fn columns(entity: Entity) -> String {
    entity.description().copy_columns().join(", ")
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let number = |text: &str| text.replace(['_', ','], "").parse::<u64>().ok();
    let sizes: Vec<u64> = arguments.iter().filter_map(|a| number(a)).collect();
    let named = |name: &str| {
        arguments
            .iter()
            .find_map(|a| a.strip_prefix(name).and_then(number))
    };
    let (contacts, xlsx, far, book, again, scan) = (
        named("contacts="),
        named("xlsx="),
        named("far="),
        named("workbook="),
        named("reimport="),
        named("scan="),
    );
    let (sizes, contacts, xlsx, far, book, again, scan) = if sizes.is_empty()
        && contacts.is_none()
        && xlsx.is_none()
        && far.is_none()
        && book.is_none()
        && again.is_none()
        && scan.is_none()
    {
        (
            vec![500, 200_000, 1_000_000],
            1_000_000,
            1_000_000,
            200_000,
            100_000,
            1_000_000,
            100_000,
        )
    } else {
        (
            sizes,
            contacts.unwrap_or(0),
            xlsx.unwrap_or(0),
            far.unwrap_or(0),
            book.unwrap_or(0),
            again.unwrap_or(0),
            scan.unwrap_or(0),
        )
    };
    let admin = std::env::var("PANTRY_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_pantry-import"));
    let work = std::env::temp_dir().join(format!("pantry-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a temporary folder");

    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:>9} | {:>9} | {:>11} | {:>9} | {:>11} | {:>6} | {:>11} | {:>6} | {:>11} | {:>8} | {:>10} | {:>8} | {:>10} | {:>6} | {:>11}",
        "rows",
        "import s",
        "import r/s",
        "\\copy s",
        "\\copy r/s",
        "ratio",
        "bare copy s",
        "ratio",
        "import peak",
        "check s",
        "check peak",
        "export s",
        "copy TO s",
        "ratio",
        "export peak"
    );
    for &rows in &sizes {
        let sheet = work.join(format!("accounts-{rows}.csv"));
        let bytes = generate(&sheet, rows);
        eprintln!("{rows} rows: {:.1} MB generated", bytes as f64 / 1e6);

        let check = timed(Command::new(&binary).args(["check", path(&sheet), "--json"]));

        let import_db = fresh_database(&admin, &binary, &format!("pantry_bench_import_{rows}"));
        let (import, stored, failed) = timed_import(&binary, &sheet, &import_db);

        let copy = copy_finished_organizations(
            &admin,
            &binary,
            &work,
            &import_db,
            &format!("pantry_bench_copy_{rows}"),
            str::to_owned,
            Indexes::Migrated,
        );
        let bare = copy_finished_organizations(
            &admin,
            &binary,
            &work,
            &import_db,
            &format!("pantry_bench_bare_{rows}"),
            str::to_owned,
            Indexes::WithoutMatching,
        );
        let export = bench_export(&work, &binary, &import_db, rows);

        let _ = writeln!(
            table,
            "{:>9} | {:>9.3} | {:>11.0} | {:>9.3} | {:>11.0} | {:>6.2} | {:>11.3} | {:>6.2} | {:>8.1} MB | {:>8.3} | {:>7.1} MB | {:>8.3} | {:>10.3} | {:>6.2} | {:>8.1} MB",
            rows,
            import.seconds,
            stored as f64 / import.seconds,
            copy.seconds,
            stored as f64 / copy.seconds,
            import.seconds / copy.seconds,
            bare.seconds,
            import.seconds / bare.seconds,
            import.peak_kib as f64 / 1024.0,
            check.seconds,
            check.peak_kib as f64 / 1024.0,
            export.0.seconds,
            export.1.seconds,
            export.0.seconds / export.1.seconds,
            export.0.peak_kib as f64 / 1024.0,
        );
        eprintln!(
            "  stored {stored} of {rows} (failed {}); import {:.3}s, \\copy {:.3}s",
            failed, import.seconds, copy.seconds
        );
        drop_database(&admin, &format!("pantry_bench_import_{rows}"));
        let _ = std::fs::remove_file(&sheet);
    }
    if xlsx > 0 {
        bench_xlsx(&admin, &binary, &work, xlsx, &mut table);
    }
    if far > 0 {
        bench_far(&admin, &binary, &work, far, &mut table);
    }
    if book > 0 {
        bench_workbook(&admin, &binary, &work, book, &mut table);
    }
    if again > 0 {
        bench_reimport(&admin, &binary, &work, again, &mut table);
    }
    if scan > 0 {
        bench_scan(&admin, &binary, &work, scan, &mut table);
    }
    if contacts > 0 {
        let _ = writeln!(
            table,
            "\n{:>9} | {:>9} | {:>9} | {:>11} | {:>9} | {:>11} | {:>6} | {:>11} | {:>6} | {:>11}",
            "contacts",
            "linked to",
            "import s",
            "import r/s",
            "\\copy s",
            "\\copy r/s",
            "ratio",
            "bare copy s",
            "ratio",
            "import peak"
        );
        bench_contacts(&admin, &binary, &work, contacts, &mut table);
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("\n{table}");
    println!(
        "ratio = import time / \\copy time of the same finished rows into the same table (lower is better); \
         bare copy = \\copy of them into the CRM without the indexes whose definition names a pantry_ function, \
         as the CRM took rows before this tool; export = `export organizations` to CSV against \
         `psql \\copy (the export's own query) TO` a CSV file (better of two runs each)"
    );
}

/// `export organizations` of what `url` holds to CSV, against `psql \copy`
/// of the export's own query (`export::records_query`) to a CSV file:
/// alternated twice, the better of each.
fn bench_export(work: &Path, binary: &Path, url: &str, rows: u64) -> (Run, Run) {
    let exported = work.join(format!("export-{rows}.csv"));
    let copied = work.join(format!("copy-to-{rows}.csv"));
    let query = pantry_core::export::records_query(Entity::Organizations, false);
    let mut best: Option<(Run, Run)> = None;
    for _ in 0..2 {
        let export = timed(Command::new(binary).args([
            "export",
            "organizations",
            "--out",
            path(&exported),
            "--database-url",
            url,
        ]));
        let copy = timed(Command::new("psql").args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            &format!(
                "\\copy ({query}) TO '{}' WITH (FORMAT csv, HEADER)",
                copied.display()
            ),
        ]));
        best = Some(match best {
            None => (export, copy),
            Some((e, c)) => (
                if export.seconds < e.seconds {
                    export
                } else {
                    e
                },
                if copy.seconds < c.seconds { copy } else { c },
            ),
        });
    }
    let _ = std::fs::remove_file(&exported);
    let _ = std::fs::remove_file(&copied);
    best.expect("two runs")
}

/// How the anchor's table is indexed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexes {
    /// As migrated: the import's matching indexes included.
    Migrated,
    /// Without the indexes whose definition names a `pantry_` function: the
    /// CRM as it took rows before this tool added them.
    WithoutMatching,
}

/// Drops the indexes the import's matching added to `table` (those whose
/// definition names a `pantry_` function, and the `_match_` ones): the CRM as
/// it took rows before this tool.
fn drop_matching_indexes(url: &str, table: &str) {
    psql(
        url,
        &format!(
            "DO $$ DECLARE i record; BEGIN \
               FOR i IN SELECT indexname FROM pg_indexes WHERE tablename = '{table}' \
                 AND (indexdef LIKE '%pantry\\_%' OR indexname LIKE '%\\_match\\_%') LOOP \
                 EXECUTE format('DROP INDEX %I', i.indexname); \
               END LOOP; END $$"
        ),
    );
}

/// The anchor: exports the organizations `from` holds (the import's finished
/// rows), then times `psql \copy` of them into a fresh database named `name`,
/// reached through `reach` (the proxy of the far run, or directly).
fn copy_finished_organizations(
    admin: &str,
    binary: &Path,
    work: &Path,
    from: &str,
    name: &str,
    reach: impl Fn(&str) -> String,
    indexes: Indexes,
) -> Run {
    let finished = work.join(format!("finished-{name}.csv"));
    psql(
        from,
        &format!(
            "\\copy (SELECT {} FROM organizations) TO '{}' WITH (FORMAT csv)",
            columns(Entity::Organizations),
            finished.display()
        ),
    );
    let copy_db = fresh_database(admin, binary, name);
    if indexes == Indexes::WithoutMatching {
        drop_matching_indexes(&copy_db, "organizations");
    }
    let copy = timed(Command::new("psql").args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        &reach(&copy_db),
        "-c",
        &format!(
            "\\copy organizations ({}) FROM '{}' WITH (FORMAT csv)",
            columns(Entity::Organizations),
            finished.display()
        ),
    ]));
    drop_database(admin, name);
    let _ = std::fs::remove_file(&finished);
    copy
}

/// Next month's file imported again with `--on-duplicate update`: `rows`
/// organizations of which nine in ten are in the CRM already (with another
/// phone number), against the same finished rows loaded by hand in psql, in
/// one transaction: `\copy` into a staging table, `UPDATE ... FROM` it by
/// the same match key, and `INSERT` of the rest, into a second database
/// holding the same CRM.
fn bench_reimport(admin: &str, binary: &Path, work: &Path, rows: u64, table: &mut String) {
    use std::io::{BufRead, Write};
    let sheet = work.join(format!("reimport-{rows}.csv"));
    let crm = work.join(format!("reimport-crm-{rows}.csv"));
    generate(&sheet, rows);
    {
        // Last month: the first nine tenths, each with another phone number.
        let input = std::io::BufReader::new(std::fs::File::open(&sheet).expect("generated"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&crm).expect("writable"));
        for line in input.lines().take(1 + (rows * 9 / 10) as usize) {
            let line = line.expect("readable");
            let _ = writeln!(out, "{}", line.replace("(312) 555-", "(312) 556-"));
        }
        out.flush().expect("written");
    }
    let load = |url: &str| load_crm(binary, &crm, url, "last month's rows");
    let import_db = fresh_database(admin, binary, &format!("pantry_bench_again_{rows}"));
    load(&import_db);
    eprintln!("{rows} rows again, {} of them in the CRM", rows * 9 / 10);
    let import = timed(Command::new(binary).args([
        "import",
        path(&sheet),
        "--database-url",
        &import_db,
        "--on-duplicate",
        "update",
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_str(&import.stdout).unwrap_or_default();
    let count = |key: &str| report[key].as_u64().unwrap_or(0);

    // The same rows as the import stored them, loaded by hand.
    let finished = work.join(format!("reimport-finished-{rows}.csv"));
    let columns = columns(Entity::Organizations);
    psql(
        &import_db,
        &format!(
            "\\copy (SELECT {columns} FROM organizations WHERE import_source_row IS NOT NULL) TO '{}' WITH (FORMAT csv)",
            finished.display()
        ),
    );
    let copy_db = fresh_database(admin, binary, &format!("pantry_bench_again_copy_{rows}"));
    load(&copy_db);
    let stored: Vec<&str> = Entity::Organizations
        .description()
        .stored_fields()
        .map(|f| f.column)
        .collect();
    let script = work.join("reimport.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE TEMP TABLE stage AS SELECT {columns} FROM organizations WITH NO DATA;\n\
             \\copy stage FROM '{finished}' WITH (FORMAT csv)\n\
             UPDATE organizations o SET {set} FROM stage s \
             WHERE pantry_match_key(o.name) = pantry_match_key(s.name) AND o.deleted_at IS NULL;\n\
             INSERT INTO organizations ({columns}) SELECT {columns} FROM stage s WHERE NOT EXISTS \
             (SELECT 1 FROM organizations o WHERE pantry_match_key(o.name) = pantry_match_key(s.name) \
             AND o.deleted_at IS NULL);\n",
            finished = finished.display(),
            set = stored
                .iter()
                .map(|c| format!("{c} = s.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .expect("the script is written");
    let copy = timed(Command::new("psql").args([
        "-X",
        "-q",
        "-1",
        "-v",
        "ON_ERROR_STOP=1",
        &copy_db,
        "-f",
        path(&script),
    ]));
    let _ = writeln!(
        table,
        "\n{:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>16} | {:>6} | {:>11}",
        "again",
        "in CRM",
        "updated",
        "import s",
        "import r/s",
        "stage+update s",
        "ratio",
        "import peak"
    );
    let _ = writeln!(
        table,
        "{:>9} | {:>9} | {:>9} | {:>9.3} | {:>9.0} | {:>16.3} | {:>6.2} | {:>8.1} MB",
        rows,
        rows * 9 / 10,
        count("updated"),
        import.seconds,
        rows as f64 / import.seconds,
        copy.seconds,
        import.seconds / copy.seconds,
        import.peak_kib as f64 / 1024.0,
    );
    eprintln!(
        "  updated {} and stored {} of {rows} (failed {}); import {:.3}s, by hand {:.3}s",
        count("updated"),
        count("succeeded") - count("updated"),
        count("failed"),
        import.seconds,
        copy.seconds
    );
    drop_database(admin, &format!("pantry_bench_again_{rows}"));
    drop_database(admin, &format!("pantry_bench_again_copy_{rows}"));
    for file in [&sheet, &crm, &finished, &script] {
        let _ = std::fs::remove_file(file);
    }
}

/// The look for a file's rows in the CRM before an import (the window's
/// "Look for these rows in the CRM"), timed in this process through the
/// library: `rows` file rows against a CRM of `rows` organizations, a
/// quarter of them the same, half near-duplicates (a legal suffix added, or
/// a letter dropped), a quarter new.
fn bench_scan(admin: &str, binary: &Path, work: &Path, rows: u64, table: &mut String) {
    use std::io::{BufRead, Write};
    let crm = work.join(format!("scan-crm-{rows}.csv"));
    let sheet = work.join(format!("scan-file-{rows}.csv"));
    generate(&crm, rows);
    {
        let input = std::io::BufReader::new(std::fs::File::open(&crm).expect("generated"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&sheet).expect("writable"));
        for (index, line) in input.lines().enumerate() {
            let line = line.expect("readable");
            let changed = match index % 4 {
                1 => line.replacen(" Grill,", " Grill Inc,", 1),
                2 => line.replacen("Account ", "Acount ", 1),
                3 => line.replacen("Account ", "Branch ", 1),
                _ => line,
            };
            let _ = writeln!(out, "{changed}");
        }
        out.flush().expect("written");
    }
    let db = fresh_database(admin, binary, &format!("pantry_bench_scan_{rows}"));
    load_crm(binary, &crm, &db, "the CRM's rows");
    let settings =
        pantry_core::database::ConnectionSettings::parse(&db).expect("the bench URL parses");
    let options = pantry_core::import::ImportOptions::default();
    let planned = pantry_core::run::SheetPlan::new(None, Some(Entity::Organizations));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let before = peak_kib_of_this_process();
    let started = Instant::now();
    let scan = runtime
        .block_on(pantry_core::scan::scan_duplicates(
            &sheet, &planned, &settings, &options,
        ))
        .expect("the scan runs");
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_kib_of_this_process();
    let _ = writeln!(
        table,
        "\n{:>9} | {:>9} | {:>9} | {:>9} | {:>7} | {:>10} | {:>16}",
        "scan", "in CRM", "matches", "near", "scan s", "scan r/s", "bench peak"
    );
    let _ = writeln!(
        table,
        "{:>9} | {:>9} | {:>9} | {:>9} | {:>7.3} | {:>10.0} | {:>8.1} MB (was {:.1})",
        scan.rows,
        rows,
        scan.matches.len(),
        scan.near.len(),
        seconds,
        scan.rows as f64 / seconds,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
    );
    drop_database(admin, &format!("pantry_bench_scan_{rows}"));
    for file in [&crm, &sheet] {
        let _ = std::fs::remove_file(file);
    }
}

/// Imports `sheet` into `url` as the CRM a run starts from; a few rows of
/// the generated sheets fail on purpose (blank names), the rest must load.
fn load_crm(binary: &Path, sheet: &Path, url: &str, what: &str) {
    let loaded = Command::new(binary)
        .args(["import", path(sheet), "--database-url", url, "--json"])
        .output()
        .expect("import runs");
    assert!(matches!(loaded.status.code(), Some(0 | 1)), "{what} load");
}

/// The highest resident memory of this process so far (Linux), in KiB.
fn peak_kib_of_this_process() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// One-way delay the far-database run puts between client and server
/// (30 ms round trip, as to a Supabase region next door).
const FAR_DELAY: std::time::Duration = std::time::Duration::from_millis(15);

/// The import against a database 15 ms away each way, through a
/// latency-injecting proxy on 127.0.0.1, against `psql \copy` of the same
/// finished rows through the same proxy. The proxy counts the turns (bursts
/// of bytes from the client after the server spoke), about one per round trip.
fn bench_far(admin: &str, binary: &Path, work: &Path, rows: u64, table: &mut String) {
    let sheet = work.join(format!("far-{rows}.csv"));
    generate(&sheet, rows);
    let admin_url = url::Url::parse(admin).expect("PANTRY_BENCH_DATABASE_URL is a URL");
    let upstream = format!(
        "{}:{}",
        admin_url.host_str().unwrap_or("127.0.0.1"),
        admin_url.port().unwrap_or(5432)
    );
    let proxy = LatencyProxy::start(&upstream, FAR_DELAY);
    let through_proxy = |url: &str| {
        let mut url = url::Url::parse(url).expect("a database URL");
        let _ = url.set_host(Some("127.0.0.1"));
        let _ = url.set_port(Some(proxy.port));
        url.to_string()
    };
    let import_db = fresh_database(admin, binary, &format!("pantry_bench_far_{rows}"));
    let turns_before = proxy.turns();
    let (import, stored, _) = timed_import(binary, &sheet, &through_proxy(&import_db));
    let import_turns = proxy.turns() - turns_before;
    let turns_before = proxy.turns();
    let copy = copy_finished_organizations(
        admin,
        binary,
        work,
        &import_db,
        &format!("pantry_bench_far_copy_{rows}"),
        through_proxy,
        Indexes::Migrated,
    );
    let copy_turns = proxy.turns() - turns_before;
    let _ = writeln!(
        table,
        "\n{:>14} | {:>9} | {:>11} | {:>9} | {:>6} | {:>12} | {:>12}",
        "far rows", "import s", "import r/s", "\\copy s", "ratio", "import turns", "\\copy turns"
    );
    let _ = writeln!(
        table,
        "{:>14} | {:>9.3} | {:>11.0} | {:>9.3} | {:>6.2} | {:>12} | {:>12}",
        rows,
        import.seconds,
        stored as f64 / import.seconds,
        copy.seconds,
        import.seconds / copy.seconds,
        import_turns,
        copy_turns,
    );
    eprintln!(
        "  far ({} ms each way): stored {stored}; import {:.3}s in {import_turns} turns, \\copy {:.3}s in {copy_turns}",
        FAR_DELAY.as_millis(),
        import.seconds,
        copy.seconds
    );
    drop_database(admin, &format!("pantry_bench_far_{rows}"));
    let _ = std::fs::remove_file(&sheet);
}

/// A TCP proxy that delivers every chunk `delay` after it was read, in
/// order, in both directions: a link with latency but no bandwidth limit.
struct LatencyProxy {
    port: u16,
    turns: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LatencyProxy {
    fn start(upstream: &str, delay: std::time::Duration) -> LatencyProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let turns = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = std::sync::Arc::clone(&turns);
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            runtime.block_on(async move {
                listener.set_nonblocking(true).expect("non-blocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    // Whose turn it is: a client burst after the server spoke is a new turn.
                    let server_spoke =
                        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
                    tokio::spawn(delayed_pipe(
                        client_read,
                        server_write,
                        delay,
                        Side::Client {
                            turns: std::sync::Arc::clone(&counted),
                            server_spoke: std::sync::Arc::clone(&server_spoke),
                        },
                    ));
                    tokio::spawn(delayed_pipe(
                        server_read,
                        client_write,
                        delay,
                        Side::Server { server_spoke },
                    ));
                }
            });
        });
        LatencyProxy { port, turns }
    }

    fn turns(&self) -> u64 {
        self.turns.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Which way a pipe carries bytes, for counting turns.
enum Side {
    Client {
        turns: std::sync::Arc<std::sync::atomic::AtomicU64>,
        server_spoke: std::sync::Arc<std::sync::atomic::AtomicBool>,
    },
    Server {
        server_spoke: std::sync::Arc<std::sync::atomic::AtomicBool>,
    },
}

/// Copies `from` to `to`, each chunk `delay` after it was read, in order.
async fn delayed_pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: std::time::Duration,
    side: Side,
) {
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (sender, mut receiver) =
        tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, bytes)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        match &side {
            Side::Client {
                turns,
                server_spoke,
            } => {
                if server_spoke.swap(false, Relaxed) {
                    turns.fetch_add(1, Relaxed);
                }
            }
            Side::Server { server_spoke } => server_spoke.store(true, Relaxed),
        }
        let due = tokio::time::Instant::now() + delay;
        if sender.send((due, buffer[..read].to_vec())).is_err() {
            break;
        }
    }
    drop(sender);
    let _ = writer.await;
}

/// The same broker rows as a CSV and as an `.xlsx` workbook: `check` of
/// both, and the workbook's import against `psql \copy` of its finished rows.
fn bench_xlsx(admin: &str, binary: &Path, work: &Path, rows: u64, table: &mut String) {
    let csv_sheet = work.join(format!("accounts-{rows}.csv"));
    let xlsx_sheet = work.join(format!("accounts-{rows}.xlsx"));
    generate(&csv_sheet, rows);
    let started = Instant::now();
    write_xlsx(&csv_sheet, &xlsx_sheet);
    let xlsx_bytes = std::fs::metadata(&xlsx_sheet).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{rows} rows as xlsx: {:.1} MB written in {:.1} s",
        xlsx_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let check_csv = timed(Command::new(binary).args(["check", path(&csv_sheet), "--json"]));
    let check_xlsx = timed(Command::new(binary).args(["check", path(&xlsx_sheet), "--json"]));
    let import_db = fresh_database(admin, binary, &format!("pantry_bench_xlsx_{rows}"));
    let (import, stored, _) = timed_import(binary, &xlsx_sheet, &import_db);
    let copy = copy_finished_organizations(
        admin,
        binary,
        work,
        &import_db,
        &format!("pantry_bench_xlsx_copy_{rows}"),
        str::to_owned,
        Indexes::Migrated,
    );
    let _ = writeln!(
        table,
        "\n{:>14} | {:>9} | {:>10} | {:>11} | {:>9} | {:>9} | {:>6} | {:>11}",
        "xlsx rows",
        "check s",
        "check peak",
        "CSV check s",
        "import s",
        "\\copy s",
        "ratio",
        "import peak"
    );
    let _ = writeln!(
        table,
        "{:>14} | {:>9.3} | {:>7.1} MB | {:>11.3} | {:>9.3} | {:>9.3} | {:>6.2} | {:>8.1} MB",
        rows,
        check_xlsx.seconds,
        check_xlsx.peak_kib as f64 / 1024.0,
        check_csv.seconds,
        import.seconds,
        copy.seconds,
        import.seconds / copy.seconds,
        import.peak_kib as f64 / 1024.0,
    );
    eprintln!(
        "  xlsx: stored {stored} of {rows}; check {:.3}s ({:.0} MB) vs CSV {:.3}s",
        check_xlsx.seconds,
        check_xlsx.peak_kib as f64 / 1024.0,
        check_csv.seconds
    );
    drop_database(admin, &format!("pantry_bench_xlsx_{rows}"));
    for file in [&csv_sheet, &xlsx_sheet] {
        let _ = std::fs::remove_file(file);
    }
}

/// A five-sheet workbook of `rows` rows in all (a fifth per sheet, sheets in
/// the reverse of dependency order, every link naming an account of the
/// workbook), imported in one run, against the five sheets imported one by
/// one with `--sheet` (in dependency order) into another fresh database.
fn bench_workbook(admin: &str, binary: &Path, work: &Path, rows: u64, table: &mut String) {
    let per_sheet = (rows / 5).max(1);
    let accounts = per_sheet;
    let account = |i: u64| format!("Account {} Grill", i % accounts);
    /// A sheet's cells for its row `i`.
    type Cells<'a> = Box<dyn Fn(u64) -> Vec<String> + 'a>;
    let sheets: [(&str, Vec<&str>, Cells); 5] = [
        (
            "Activity Log",
            vec!["Type", "Subject", "Date", "Organization"],
            Box::new(|i| {
                vec![
                    "call".into(),
                    format!("Call {i}"),
                    "2025-03-14".into(),
                    account(i),
                ]
            }),
        ),
        (
            "Pipeline",
            vec!["Opportunity", "Organization", "Amount", "Stage"],
            Box::new(|i| {
                vec![
                    format!("Deal {i}"),
                    account(i),
                    format!("{i}.50"),
                    "Sample".into(),
                ]
            }),
        ),
        (
            "Products",
            vec!["Product", "Principal", "Category", "Case Price"],
            Box::new(|i| {
                vec![
                    format!("Item {i}"),
                    account(i),
                    "dairy".into(),
                    "24.00".into(),
                ]
            }),
        ),
        (
            "People",
            vec!["First Name", "Last Name", "Company", "Email"],
            Box::new(|i| {
                vec![
                    "Cook".into(),
                    format!("Number {i}"),
                    account(i),
                    format!("cook{i}@example.com"),
                ]
            }),
        ),
        (
            "Accounts",
            vec!["Organizations", "CITY", "SEGMENT"],
            Box::new(|i| {
                vec![
                    format!("Account {i} Grill"),
                    "Chicago".into(),
                    "Casual".into(),
                ]
            }),
        ),
    ];
    let book = work.join(format!("workbook-{rows}.xlsx"));
    let mut workbook = rust_xlsxwriter::Workbook::new();
    for (name, headers, row) in &sheets {
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .expect("a worksheet");
        sheet.set_name(*name).expect("a sheet name");
        for (column, header) in headers.iter().enumerate() {
            sheet
                .write_string(0, column as u16, *header)
                .expect("a header");
        }
        let count = if *name == "Accounts" {
            accounts
        } else {
            per_sheet
        };
        for i in 0..count {
            for (column, cell) in row(i).iter().enumerate() {
                sheet
                    .write_string(i as u32 + 1, column as u16, cell)
                    .expect("a cell");
            }
        }
    }
    workbook.save(&book).expect("the workbook is written");

    let run_db = fresh_database(admin, binary, &format!("pantry_bench_book_{rows}"));
    let (run, stored, failed) = timed_import(binary, &book, &run_db);
    let one_by_one_db = fresh_database(admin, binary, &format!("pantry_bench_sheets_{rows}"));
    let mut one_by_one = 0.0;
    let mut peak_kib = 0;
    for sheet in ["Accounts", "People", "Products", "Pipeline", "Activity Log"] {
        let single = timed(Command::new(binary).args([
            "import",
            path(&book),
            "--sheet",
            sheet,
            "--database-url",
            &one_by_one_db,
            "--json",
        ]));
        one_by_one += single.seconds;
        peak_kib = peak_kib.max(single.peak_kib);
    }
    let _ = writeln!(
        table,
        "\n{:>14} | {:>7} | {:>7} | {:>10} | {:>13} | {:>6} | {:>11}",
        "workbook rows", "stored", "failed", "one run s", "5 sheets s", "ratio", "run peak"
    );
    let _ = writeln!(
        table,
        "{:>14} | {:>7} | {:>7} | {:>10.3} | {:>13.3} | {:>6.2} | {:>8.1} MB",
        5 * per_sheet,
        stored,
        failed,
        run.seconds,
        one_by_one,
        run.seconds / one_by_one,
        run.peak_kib as f64 / 1024.0,
    );
    eprintln!(
        "  workbook: one run {:.3}s, five single-sheet imports {:.3}s (their peak {:.0} MB)",
        run.seconds,
        one_by_one,
        peak_kib as f64 / 1024.0
    );
    drop_database(admin, &format!("pantry_bench_book_{rows}"));
    drop_database(admin, &format!("pantry_bench_sheets_{rows}"));
    let _ = std::fs::remove_file(&book);
}

/// Copies a CSV sheet into an `.xlsx` workbook, every cell as text (as
/// brokers' exports keep ZIP codes), in constant memory.
fn write_xlsx(csv_sheet: &Path, xlsx_sheet: &Path) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .expect("a worksheet");
    let mut reader = csv::Reader::from_path(csv_sheet).expect("the CSV sheet reads");
    let headers = reader.headers().expect("a header").clone();
    for (column, header) in headers.iter().enumerate() {
        sheet
            .write_string(0, column as u16, header)
            .expect("a header cell");
    }
    for (index, record) in reader.records().enumerate() {
        let record = record.expect("a record");
        for (column, cell) in record.iter().enumerate() {
            if !cell.is_empty() {
                sheet
                    .write_string(index as u32 + 1, column as u16, cell)
                    .expect("a cell");
            }
        }
    }
    workbook.save(xlsx_sheet).expect("the workbook is written");
}

/// Contacts linked by name: `rows` contacts to `rows / 10` organizations
/// already in the CRM.
fn bench_contacts(admin: &str, binary: &Path, work: &Path, rows: u64, table: &mut String) {
    use std::io::Write;
    let organizations = (rows / 10).max(1);
    let accounts = work.join("crm-accounts.csv");
    let sheet = work.join(format!("contacts-{rows}.csv"));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&accounts).expect("writable"));
        let _ = writeln!(out, "Organizations,CITY,SEGMENT");
        for i in 0..organizations {
            let _ = writeln!(out, "Account {i} Grill,Chicago,Casual");
        }
        out.flush().expect("written");
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&sheet).expect("writable"),
        );
        let _ = writeln!(
            out,
            "First Name,Last Name,Email,Company,Title,Role,Phone,Primary"
        );
        let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
        for i in 0..rows {
            let r = random.next();
            let _ = writeln!(
                out,
                "Pat{},Lee {i},pat.{i}@example.com,account {}  grill,Chef,{},(312) 555-{:04},{}",
                r % 97,
                r % organizations,
                ["Decision Maker", "buyer", "Influencer", ""][(r >> 8) as usize % 4],
                r % 10_000,
                ["yes", "", "no"][(r >> 12) as usize % 3],
            );
        }
        out.flush().expect("written");
    }
    eprintln!("{rows} contacts linked to {organizations} organizations");
    let import_db = fresh_database(admin, binary, &format!("pantry_bench_contacts_{rows}"));
    let loaded = Command::new(binary)
        .args([
            "import",
            path(&accounts),
            "--database-url",
            &import_db,
            "--json",
        ])
        .output()
        .expect("import runs");
    assert!(loaded.status.success(), "the CRM's organizations load");
    let (import, stored, failed) = timed_import(binary, &sheet, &import_db);

    // The second database gets the same organizations (same keys), then the
    // finished contacts are timed into the same table with \copy.
    let crm = work.join("crm-organizations.csv");
    let finished = work.join("finished-contacts.csv");
    psql(
        &import_db,
        &format!(
            "\\copy organizations TO '{}' WITH (FORMAT csv)",
            crm.display()
        ),
    );
    psql(
        &import_db,
        &format!(
            "\\copy (SELECT {} FROM contacts) TO '{}' WITH (FORMAT csv)",
            columns(Entity::Contacts),
            finished.display()
        ),
    );
    // The same finished contacts into a CRM holding the same organizations,
    // as migrated and without the import's matching indexes.
    let copy_into = |name: &str, indexes: Indexes| {
        let copy_db = fresh_database(admin, binary, name);
        psql(
            &copy_db,
            &format!(
                "\\copy organizations FROM '{}' WITH (FORMAT csv)",
                crm.display()
            ),
        );
        if indexes == Indexes::WithoutMatching {
            drop_matching_indexes(&copy_db, "contacts");
        }
        let copy = timed(Command::new("psql").args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            &copy_db,
            "-c",
            &format!(
                "\\copy contacts ({}) FROM '{}' WITH (FORMAT csv)",
                columns(Entity::Contacts),
                finished.display()
            ),
        ]));
        drop_database(admin, name);
        copy
    };
    let copy = copy_into(
        &format!("pantry_bench_contacts_copy_{rows}"),
        Indexes::Migrated,
    );
    let bare = copy_into(
        &format!("pantry_bench_contacts_bare_{rows}"),
        Indexes::WithoutMatching,
    );
    let linked = Command::new("psql")
        .args([
            "-X",
            "-tA",
            &import_db,
            "-c",
            "SELECT count(*) FROM contacts WHERE organization_id IS NOT NULL",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = writeln!(
        table,
        "{:>9} | {:>9} | {:>9.3} | {:>11.0} | {:>9.3} | {:>11.0} | {:>6.2} | {:>11.3} | {:>6.2} | {:>8.1} MB",
        rows,
        organizations,
        import.seconds,
        stored as f64 / import.seconds,
        copy.seconds,
        stored as f64 / copy.seconds,
        import.seconds / copy.seconds,
        bare.seconds,
        import.seconds / bare.seconds,
        import.peak_kib as f64 / 1024.0,
    );
    eprintln!(
        "  stored {stored} of {rows} contacts ({linked} linked, failed {}); import {:.3}s, \\copy {:.3}s, bare {:.3}s",
        failed, import.seconds, copy.seconds, bare.seconds
    );
    drop_database(admin, &format!("pantry_bench_contacts_{rows}"));
    for file in [&accounts, &sheet, &crm, &finished] {
        let _ = std::fs::remove_file(file);
    }
}

/// Times `pantry-import import SHEET --database-url URL --json`; returns the
/// run and the rows it stored and failed.
fn timed_import(binary: &Path, sheet: &Path, url: &str) -> (Run, u64, u64) {
    let run =
        timed(Command::new(binary).args(["import", path(sheet), "--database-url", url, "--json"]));
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    let count = |key: &str| report[key].as_u64().unwrap_or(0);
    let (stored, failed) = (count("succeeded"), count("failed"));
    (run, stored, failed)
}

/// Deterministic pseudo-random numbers, so every run generates the same sheets.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Writes `rows` broker rows (about 190 bytes each) and returns the size.
fn generate(path: &Path, rows: u64) -> u64 {
    use std::io::Write;
    const SEGMENTS: [&str; 10] = [
        "Distributor",
        "Casual",
        "Chain/Group Member",
        "Ethnic",
        "Pizza",
        "Fine Dining",
        "Gastropub",
        "Caterer",
        "Education",
        "",
    ];
    const CITIES: [(&str, &str, &str); 6] = [
        ("Chicago", "IL", "60601"),
        ("Hoboken", "NJ", "07030"),
        ("Boston", "MA", "02134"),
        ("Houston", "TX", "77077"),
        ("Denver", "CO", "80202"),
        ("Seattle", "WA", "98101"),
    ];
    const MANAGERS: [&str; 4] = ["Jane Doe", "Bob Smith", "Ana Ruiz", "Li Wei"];
    let file = std::fs::File::create(path).expect("the sheet can be written");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let _ = writeln!(
        out,
        "Organizations,PRIORITY-FOCUS (A-D),SEGMENT,DISTRIBUTOR,PRIMARY ACCT. MANAGER,SECONDARY ACCT. MANAGER,LINKEDIN,PHONE,STREET ADDRESS,CITY,STATE,Zip Code,NOTES"
    );
    let mut random = Xorshift(0x2545_f491_4f6c_dd1d);
    for i in 0..rows {
        let r = random.next();
        let (city, st, zip) = CITIES[(r % 6) as usize];
        let name = if i % 997 == 13 {
            String::new()
        } else {
            format!("Account {i} {city} Grill")
        };
        let priority = match i % 50 {
            0 => "A+",
            7 => "High",
            _ => ["A", "B", "C", "D", "b", ""][(r >> 8) as usize % 6],
        };
        let segment = if i % 211 == 5 {
            "Food Truck"
        } else {
            SEGMENTS[(r >> 16) as usize % 10]
        };
        let distributor = if segment == "Distributor" {
            ""
        } else {
            ["Sysco", "US Foods", "Gordon Food Service"][(r >> 20) as usize % 3]
        };
        let notes = if i % 17 == 0 {
            "\"Call before noon, ask for the chef\""
        } else {
            "Met at the trade show"
        };
        let _ = writeln!(
            out,
            "{name},{priority},{segment},{distributor},{},{},https://www.linkedin.com/company/account-{i},(312) 555-{:04},{} Main St,{city},{st},{zip},{notes}",
            MANAGERS[(r >> 24) as usize % 4],
            MANAGERS[(r >> 28) as usize % 4],
            r % 10_000,
            r % 9_000 + 1,
        );
    }
    out.flush().expect("the sheet is written");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
