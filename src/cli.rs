//! The headless contract of SPEC.md: `check`, `import`, `migrate`.
//!
//! Exit status: 0 every row imported (or would be), 1 some rows failed,
//! 2 the run could not happen, with a one-line reason on stderr.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Parser, Subcommand};
use pantry_core::clean::{self, CleanUp};
use pantry_core::database::ConnectionSettings;
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::edits::SheetEdits;
use pantry_core::entity::Entity;
use pantry_core::export;
use pantry_core::history;
use pantry_core::import::{self, ImportError, ImportOptions, ImportProgress};
use pantry_core::links::{LinkPolicies, LinkPolicy};
use pantry_core::migrate::migrate;
use pantry_core::report::ImportReport;
use pantry_core::saved_mapping::SavedMapping;
use pantry_core::verify::{self, Verification};
use pantry_core::workbook::{self, RunProgress, RunReport, WorkbookPlan};

/// Moves a food broker's spreadsheets into the Kitchen Pantry CRM.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A spreadsheet to open in the window.
    pub file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Headless commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read, map and validate a file without a database: what would import.
    Check {
        /// The spreadsheet (.csv, .tsv, .txt, .xlsx, .xlsm, .xls, .xlsb, .ods).
        file: PathBuf,
        /// Worksheet of a workbook (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// What the rows are (default: from the sheet's name, else its headers).
        #[arg(long, value_name = "ENTITY", value_parser = parse_entity)]
        entity: Option<Entity>,
        /// A saved mapping (JSON): header row, column targets, value replacements.
        #[arg(long, value_name = "M.json")]
        mapping: Option<PathBuf>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
        /// Write the failing rows, with a reason column, to this CSV file.
        #[arg(long, value_name = "PATH")]
        errors_csv: Option<PathBuf>,
        /// Clean-ups to apply: states, phones, emails, spaces, comma-separated
        /// (none by default; those not applied are suggested).
        #[arg(long, value_name = "KINDS", value_parser = parse_clean, default_value = "")]
        clean: CleanUps,
    },
    /// Import the rows of a file into the CRM.
    Import {
        /// The spreadsheet.
        file: PathBuf,
        /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Worksheet of a workbook (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// What the rows are: organizations, contacts, products, opportunities
        /// or interactions (default: from the sheet's name, else its headers).
        #[arg(long, value_name = "ENTITY", value_parser = parse_entity)]
        entity: Option<Entity>,
        /// A saved mapping (JSON): header row, column targets, value replacements.
        #[arg(long, value_name = "M.json")]
        mapping: Option<PathBuf>,
        /// What a link column does with a name the CRM lacks: fail the row,
        /// leave the link empty, or create the organization (default: fail
        /// for required links, empty for optional ones).
        #[arg(long, value_enum, value_name = "POLICY")]
        links: Option<LinksArg>,
        /// What a row matching a record already in the CRM does: skip it,
        /// update the record with the row's filled cells, or create a new
        /// record anyway.
        #[arg(long, value_name = "POLICY", default_value = "skip", value_parser = parse_policy)]
        on_duplicate: DuplicatePolicy,
        /// Rows per COPY batch.
        #[arg(long, default_value_t = import::DEFAULT_BATCH_SIZE as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch_size: u64,
        /// Write the failed rows, with a reason column, to this CSV file.
        #[arg(long, value_name = "PATH")]
        errors_csv: Option<PathBuf>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
        /// Import the file even if it was imported completely before.
        #[arg(long)]
        again: bool,
        /// Clean-ups to apply: states, phones, emails, spaces, comma-separated
        /// (none by default); each changed cell's original goes to import notes.
        #[arg(long, value_name = "KINDS", value_parser = parse_clean, default_value = "")]
        clean: CleanUps,
    },
    /// List the latest imports, newest first.
    History {
        /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Soft-delete the rows of one import, or of every sheet of a workbook
    /// run with --run (sets deleted_at).
    Undo {
        /// The import's number, as `history` and `import` show it.
        #[arg(required_unless_present = "run", conflicts_with = "run")]
        import: Option<i64>,
        /// Undo every sheet of this workbook run instead (the `run` column
        /// of `history`).
        #[arg(long, value_name = "RUN")]
        run: Option<i64>,
        /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Also undo rows edited since the import.
        #[arg(long)]
        force: bool,
    },
    /// Write an entity's live records (or those one import stored) to a
    /// CSV or XLSX file that imports back unchanged.
    Export {
        /// organizations, contacts, products, opportunities or interactions.
        #[arg(value_name = "ENTITY", value_parser = parse_entity)]
        entity: Entity,
        /// The file to write: PATH.csv (UTF-8 with BOM) or PATH.xlsx.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Only the records this import stored.
        #[arg(long, value_name = "N")]
        import: Option<i64>,
        /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Show what one import stored, counted in the database: rows, the
    /// stored values' distributions, a random sample, links that ended empty.
    Verify {
        /// The import's number, as `history` and `import` show it.
        import: i64,
        /// The spreadsheet it read, to show the sample beside its rows.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Create or update the CRM schema.
    Migrate {
        /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
}

/// `--links`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LinksArg {
    /// The row fails.
    Fail,
    /// The link stays empty (the name is kept in import notes).
    Empty,
    /// A new organization is created (links to organizations only).
    Create,
}

fn parse_policy(text: &str) -> Result<DuplicatePolicy, String> {
    text.parse()
        .map_err(|e: pantry_core::duplicates::UnknownPolicy| e.to_string())
}

/// `--clean`: the kinds given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanUps(BTreeSet<CleanUp>);

fn parse_clean(text: &str) -> Result<CleanUps, String> {
    clean::parse_list(text)
        .map(CleanUps)
        .map_err(|e| e.to_string())
}

/// Edits that apply `clean` to every row.
fn clean_edits(clean: &CleanUps) -> SheetEdits {
    SheetEdits {
        clean: clean.0.clone(),
        ..SheetEdits::default()
    }
}

fn parse_entity(text: &str) -> Result<Entity, String> {
    text.parse()
        .map_err(|e: pantry_core::entity::UnknownEntity| e.to_string())
}

/// Runs a headless command and turns its outcome into the exit status.
pub fn run(command: Command) -> ExitCode {
    match execute(command) {
        Ok(code) => code,
        Err(error) => {
            // One line: the chain joined, as scripts read stderr.
            let mut line = error.to_string();
            for cause in error.chain().skip(1) {
                line.push_str(": ");
                line.push_str(&cause.to_string());
            }
            eprintln!("pantry-import: {}", line.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check {
            file,
            sheet,
            entity,
            mapping,
            json,
            errors_csv,
            clean,
        } => {
            let mapping = read_mapping(mapping.as_deref())?;
            let edits = clean_edits(&clean);
            if let Some(mut plan) = workbook_run(&file, sheet.as_deref(), entity, &mapping)? {
                plan.clean_every_sheet(&edits.clean);
                let order = plan.import_order();
                let progress = RunProgress::new(&order, None);
                let report = with_progress_bar(follow_run(&progress), !json, Stage::Check, || {
                    workbook::check_workbook(&file, &plan, &progress)
                })?;
                return finish_run(&report, json, errors_csv.as_deref(), "would import");
            }
            let progress = ImportProgress::new(None);
            let followed = Arc::clone(&progress);
            let report = with_progress_bar(
                move || (None, Arc::clone(&followed)),
                !json,
                Stage::Check,
                || import::check_file(&file, sheet.as_deref(), entity, &mapping, &edits, &progress),
            )?;
            finish(&report, json, errors_csv.as_deref(), "would import")
        }
        Command::Import {
            file,
            database_url,
            sheet,
            entity,
            mapping,
            links,
            on_duplicate,
            batch_size,
            errors_csv,
            json,
            again,
            clean,
        } => {
            let settings = settings(database_url.as_deref())?;
            let options = ImportOptions {
                sheet,
                entity,
                links: LinkPolicies {
                    all: links.map(|policy| match policy {
                        LinksArg::Fail => LinkPolicy::Fail,
                        LinksArg::Empty => LinkPolicy::Empty,
                        LinksArg::Create => LinkPolicy::Create,
                    }),
                    ..LinkPolicies::default()
                },
                batch_size: usize::try_from(batch_size).unwrap_or(import::DEFAULT_BATCH_SIZE),
                again,
                mapping: read_mapping(mapping.as_deref())?,
                on_duplicate,
                edits: clean_edits(&clean),
                ..ImportOptions::default()
            };
            let runtime = runtime()?;
            if let Some(mut plan) = workbook_run(
                &file,
                options.sheet.as_deref(),
                options.entity,
                &options.mapping,
            )? {
                plan.clean_every_sheet(&options.edits.clean);
                let order = plan.import_order();
                let progress = RunProgress::new(&order, None);
                let outcome =
                    with_progress_bar(follow_run(&progress), !json, Stage::Import, || {
                        runtime.block_on(workbook::import_workbook(
                            &file,
                            &settings,
                            &plan,
                            &options,
                            Arc::clone(&progress),
                        ))
                    });
                return match outcome {
                    Ok(report) => finish_run(&report, json, errors_csv.as_deref(), "succeeded"),
                    Err(ImportError::RunInterrupted { reason, report }) => {
                        eprint!("{}", report.summary("succeeded"));
                        anyhow::bail!(
                            "the run stopped after {} rows were stored: {reason}",
                            report.succeeded()
                        )
                    }
                    Err(other) => Err(other.into()),
                };
            }
            let progress = ImportProgress::new(None);
            let followed = Arc::clone(&progress);
            let outcome = with_progress_bar(
                move || (None, Arc::clone(&followed)),
                !json,
                Stage::Import,
                || {
                    runtime.block_on(import::import_file(
                        &file,
                        &settings,
                        &options,
                        Arc::clone(&progress),
                    ))
                },
            );
            match outcome {
                Ok(report) => finish(&report, json, errors_csv.as_deref(), "succeeded"),
                Err(ImportError::Interrupted { reason, report }) => {
                    // Say what is stored before failing, so nobody guesses.
                    eprint!("{}", report.summary("succeeded"));
                    anyhow::bail!(
                        "the import stopped after {} rows were stored: {reason}",
                        report.succeeded
                    )
                }
                Err(other) => Err(other.into()),
            }
        }
        Command::History { database_url, json } => {
            let settings = settings(database_url.as_deref())?;
            let imports = runtime()?.block_on(async {
                let client = settings.connect().await?;
                anyhow::Ok(history::list(&client, 50).await?)
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&imports)?);
            } else if imports.is_empty() {
                println!("no imports yet");
            } else {
                println!(
                    "{:>6}  {:>4}  {:<16}  {:<13}  {:<9}  {:>9}  {:>7}  {:>7}  {:>7}  file",
                    "import",
                    "run",
                    "started",
                    "entity",
                    "status",
                    "stored",
                    "updated",
                    "skipped",
                    "failed"
                );
                for batch in imports {
                    let sheet = if batch.sheet.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", batch.sheet)
                    };
                    println!(
                        "{:>6}  {:>4}  {:<16}  {:<13}  {:<9}  {:>9}  {:>7}  {:>7}  {:>7}  {}{sheet}",
                        batch.id,
                        batch.run_id.map_or_else(String::new, |r| r.to_string()),
                        batch.started_at,
                        batch.entity.name(),
                        batch.status.as_str(),
                        batch.succeeded,
                        batch.updated,
                        batch.skipped,
                        batch.failed,
                        batch.file_name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Undo {
            import,
            run,
            database_url,
            force,
        } => {
            let settings = settings(database_url.as_deref())?;
            let reports = runtime()?.block_on(async {
                let mut client = settings.connect().await?;
                anyhow::Ok(match (run, import) {
                    (Some(run), _) => history::undo_run(&mut client, run, force).await?,
                    (None, Some(import)) => vec![history::undo(&mut client, import, force).await?],
                    // clap requires one of them.
                    (None, None) => Vec::new(),
                })
            })?;
            let mut left_alone = 0;
            for report in &reports {
                if report.restored > 0 {
                    println!(
                        "import {}: {} rows soft-deleted, {} updated records given back their values from before",
                        report.import_id, report.soft_deleted, report.restored
                    );
                } else {
                    println!(
                        "import {}: {} rows soft-deleted",
                        report.import_id, report.soft_deleted
                    );
                }
                if report.edited_left_alone.is_empty() {
                    continue;
                }
                left_alone += report.edited_left_alone.len();
                println!(
                    "  {} rows were edited since the import and were left alone (pass --force to undo them too):",
                    report.edited_left_alone.len()
                );
                for (row, name) in &report.edited_left_alone {
                    println!("    row {row}: {name}");
                }
            }
            Ok(if left_alone == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Export {
            entity,
            out,
            import,
            database_url,
        } => {
            let settings = settings(database_url.as_deref())?;
            let progress = export::ExportProgress::new();
            let summary = runtime()?.block_on(async {
                let mut client = settings.connect().await?;
                anyhow::Ok(export::export(&mut client, entity, import, &out, &progress).await?)
            })?;
            println!(
                "{}: {} written, {} columns",
                summary.path.display(),
                entity.count(summary.rows),
                summary.headers.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            import,
            file,
            database_url,
            json,
        } => {
            let settings = settings(database_url.as_deref())?;
            let verification = runtime()?.block_on(async {
                let client = settings.connect().await?;
                anyhow::Ok(verify::verify(&client, import, file.as_deref()).await?)
            })?;
            if json {
                println!("{}", verification.to_json());
            } else {
                print_verification(&verification);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database_url } => {
            let settings = settings(database_url.as_deref())?;
            let applied = runtime()?.block_on(migrate(&settings))?;
            if applied.is_empty() {
                println!("{}: the schema is up to date", settings.describe());
            } else {
                println!("{}: applied {}", settings.describe(), applied.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `verify` as text: the counts, each distribution, the links that ended
/// empty and the sample beside its spreadsheet cells.
fn print_verification(verification: &Verification) {
    let sheet = if verification.sheet.is_empty() {
        String::new()
    } else {
        format!(" [{}]", verification.sheet)
    };
    println!(
        "import {}: {}{sheet}, {}",
        verification.import,
        verification.file_name,
        verification.entity.name()
    );
    let file_rows = verification
        .file_rows
        .map_or_else(|| "not read to the end".to_owned(), |rows| rows.to_string());
    println!("  rows in the file      {file_rows:>9}");
    println!("  stored (in the CRM)   {:>9}", verification.stored_rows);
    println!("  updated records       {:>9}", verification.updated_rows);
    println!("  skipped (in the CRM)  {:>9}", verification.skipped_rows);
    println!("  failed                {:>9}", verification.failed_rows);
    if verification.undone_rows > 0 {
        println!("  undone since          {:>9}", verification.undone_rows);
    }
    for chart in &verification.charts {
        println!("\n  {}", chart.field);
        let most = chart
            .values
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(1)
            .max(1);
        for (value, count) in &chart.values {
            let shown = if value.is_empty() { "(empty)" } else { value };
            let bar = "#".repeat(((*count * 30).div_ceil(most)) as usize);
            println!("    {shown:<24} {count:>9}  {bar}");
        }
    }
    if !verification.empty_links.is_empty() {
        println!("\n  links that ended empty");
        for link in &verification.empty_links {
            println!(
                "    row {}: {} '{}' not found",
                link.row, link.column, link.name
            );
        }
    }
    for row in &verification.sample {
        println!("\n  row {} (stored | file)", row.row);
        for cell in &row.cells {
            if cell.stored.is_empty() && cell.file.as_deref().is_none_or(str::is_empty) {
                continue;
            }
            let mark = if cell.file.is_some() && !cell.same {
                "*"
            } else {
                " "
            };
            println!(
                "   {mark}{:<24} {} | {}",
                cell.field,
                cell.stored,
                cell.file.as_deref().unwrap_or("")
            );
        }
    }
}

/// What a progress bar follows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Rows read and mapped.
    Check,
    /// Rows stored or refused, in batches.
    Import,
}

/// Runs `work` with a progress bar on stderr (rows, rows/s, batch k of n,
/// time left) when stderr is a terminal and `show` (not `--json`); scripts
/// and pipes see nothing extra. `follow` says which counts to show now: the
/// file's, or for a workbook the running sheet's with its name.
fn with_progress_bar<T>(
    follow: impl Fn() -> (Option<String>, Arc<ImportProgress>) + Send + 'static,
    show: bool,
    stage: Stage,
    work: impl FnOnce() -> T,
) -> T {
    if !show || !std::io::stderr().is_terminal() {
        return work();
    }
    let bar = indicatif::ProgressBar::new(0);
    let verb = match stage {
        Stage::Check => "checking",
        Stage::Import => "importing",
    };
    // With the total known, a bar and the time left; without, a count.
    let styles = [
        format!("{{spinner}} {verb} {{prefix}}{{wide_bar}} {{human_pos}}/{{human_len}} rows  {{msg}}  {{eta}} left"),
        format!("{{spinner}} {verb} {{prefix}}{{human_pos}} rows  {{msg}}"),
    ]
    .map(|template| indicatif::ProgressStyle::with_template(&template).ok());
    let finished = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (bar, finished) = (bar.clone(), Arc::clone(&finished));
        let styles = styles.clone();
        std::thread::spawn(move || {
            let mut shown_sheet = None;
            while !finished.load(Ordering::Relaxed) {
                let (sheet, progress) = follow();
                if sheet != shown_sheet {
                    // A new sheet of a workbook: its own bar, rate and time left.
                    bar.reset();
                    bar.set_prefix(
                        sheet
                            .as_deref()
                            .map_or_else(String::new, |s| format!("{s}  ")),
                    );
                    shown_sheet = sheet;
                }
                let now = progress.snapshot();
                let done = match stage {
                    Stage::Check => now.rows_read,
                    Stage::Import => now.succeeded + now.failed,
                };
                // Not known yet (a workbook without dimensions): no bar, no guess.
                let known = now.reading_done || now.fraction_read > 0.01;
                if let Some(style) = &styles[usize::from(!known)] {
                    bar.set_style(style.clone());
                }
                bar.set_length(now.rows_total_estimate.max(done));
                bar.set_position(done);
                let seconds = bar.elapsed().as_secs_f64().max(0.001);
                let rate = format!(
                    "{} rows/s",
                    indicatif::HumanCount((done as f64 / seconds) as u64)
                );
                bar.set_message(match stage {
                    Stage::Check => rate,
                    Stage::Import => format!(
                        "{rate}  batch {} of {}",
                        now.batches_done,
                        now.batches_total.max(now.batches_done)
                    ),
                });
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    };
    let outcome = work();
    finished.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    outcome
}

/// Which counts a progress bar follows through a workbook run.
fn follow_run(
    run: &Arc<RunProgress>,
) -> impl Fn() -> (Option<String>, Arc<ImportProgress>) + Send + 'static {
    let run = Arc::clone(run);
    move || {
        let index = run.current();
        let count = run.sheets().len();
        match run.sheets().get(index) {
            Some(sheet) => (
                Some(format!("{} ({} of {count})", sheet.sheet, index + 1)),
                Arc::clone(&sheet.progress),
            ),
            None => (None, ImportProgress::new(None)),
        }
    }
}

/// The sheets of `file` to run as one workbook run, when it is a workbook
/// with several recognised sheets and neither `--sheet`, `--entity` nor a
/// mapping (which is for one shape of sheet) says to read one.
fn workbook_run(
    file: &Path,
    sheet: Option<&str>,
    entity: Option<Entity>,
    mapping: &SavedMapping,
) -> anyhow::Result<Option<WorkbookPlan>> {
    if sheet.is_some()
        || entity.is_some()
        || *mapping != SavedMapping::default()
        || !WorkbookPlan::may_hold_sheets(file)
    {
        return Ok(None);
    }
    let plan = WorkbookPlan::read(file)?;
    Ok(plan.is_run().then_some(plan))
}

/// The mapping file given with `--mapping`, or none.
fn read_mapping(path: Option<&Path>) -> anyhow::Result<SavedMapping> {
    Ok(match path {
        Some(path) => SavedMapping::read(path)?,
        None => SavedMapping::default(),
    })
}

fn settings(url: Option<&str>) -> anyhow::Result<ConnectionSettings> {
    Ok(match url {
        Some(url) => ConnectionSettings::parse(url)?,
        None => ConnectionSettings::from_env()?,
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn finish(
    report: &ImportReport,
    json: bool,
    errors_csv: Option<&Path>,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = errors_csv {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write the error report {}", path.display()))?;
        report
            .write_error_csv(std::io::BufWriter::new(file))
            .with_context(|| format!("cannot write the error report {}", path.display()))?;
    }
    print_report(json, |out| report.write_json(out), || report.summary(verb))?;
    Ok(exit_status(report.failed, report.cancelled))
}

/// Prints a report: its JSON with `--json`, else its summary.
fn print_report(
    json: bool,
    write_json: impl FnOnce(&mut dyn Write) -> Result<(), serde_json::Error>,
    summary: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        write_json(&mut stdout).context("cannot write the JSON report")?;
        writeln!(stdout).context("cannot write the JSON report")?;
    } else {
        print!("{}", summary());
    }
    Ok(())
}

/// 0 when every row was imported (or would be), 1 when some failed or the
/// run was cancelled.
fn exit_status(failed: u64, cancelled: bool) -> ExitCode {
    if failed == 0 && !cancelled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// As [`finish`], for a workbook run.
fn finish_run(
    report: &RunReport,
    json: bool,
    errors_csv: Option<&Path>,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = errors_csv {
        report
            .write_error_csvs(path)
            .with_context(|| format!("cannot write the error reports beside {}", path.display()))?;
    }
    print_report(json, |out| report.write_json(out), || report.summary(verb))?;
    Ok(exit_status(report.failed(), report.cancelled))
}
