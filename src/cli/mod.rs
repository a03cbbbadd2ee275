//! The headless contract of SPEC.md: `check`, `import`, `users`, `history`,
//! `undo`, `export`, `verify`, `audit`, `merge`, `watch`, `migrate`.
//!
//! Exit status: 0 every row imported (or would be), 1 some rows failed,
//! 2 the run could not happen, with a one-line reason on stderr.

mod progress_bar;
mod text;
mod watch;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pantry_core::audit;
use pantry_core::clean::{self, CleanUp};
use pantry_core::database::ConnectionSettings;
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::entity::Entity;
use pantry_core::export;
use pantry_core::fixes;
use pantry_core::history;
use pantry_core::import::{self, ImportError, ImportOptions};
use pantry_core::links::{LinkPolicies, LinkPolicy};
use pantry_core::migrate::migrate;
use pantry_core::progress::RunProgress;
use pantry_core::report::RunReport;
use pantry_core::run::{self, RunPlan};
use pantry_core::saved_mapping::SavedMapping;
use pantry_core::users::{self, ActingUser};
use pantry_core::verify;

use progress_bar::{Stage, with_progress_bar};

/// Moves a food broker's spreadsheets into the Kitchen Pantry CRM.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A spreadsheet to open in the window.
    pub file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The database a command works on.
#[derive(Debug, Args)]
pub struct DatabaseArg {
    /// postgres:// URL or key=value string (default: DATABASE_URL, then PG* variables).
    #[arg(long = "database-url", value_name = "URL")]
    pub url: Option<String>,
}

impl DatabaseArg {
    fn settings(&self) -> anyhow::Result<ConnectionSettings> {
        Ok(match &self.url {
            Some(url) => ConnectionSettings::parse(url)?,
            None => ConnectionSettings::from_env()?,
        })
    }
}

/// Whether a command prints JSON.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print one JSON object instead of text for a person.
    #[arg(long)]
    pub json: bool,
}

/// The file a check or import reads, and the broker's choices for it.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// The spreadsheet (.csv, .tsv, .txt, .xlsx, .xlsm, .xls, .xlsb, .ods).
    pub file: PathBuf,
    /// Worksheet of a workbook (default: every recognised sheet, or the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// What the rows are: organizations, contacts, products, opportunities
    /// or interactions (default: from the sheet's name, else its headers).
    #[arg(long, value_name = "ENTITY", value_parser = parse_entity)]
    pub entity: Option<Entity>,
    /// A saved mapping (JSON): header row, column targets, value replacements.
    #[arg(long, value_name = "M.json")]
    pub mapping: Option<PathBuf>,
    /// Clean-ups to apply: states, phones, emails, spaces, comma-separated
    /// (none by default; those not applied are suggested); each changed
    /// cell's original goes to import notes.
    #[arg(long, value_name = "KINDS", value_parser = parse_clean, default_value = "")]
    pub clean: CleanUps,
    /// Write the failing rows, with a reason column, to this CSV file (one
    /// per sheet for a workbook, beside it).
    #[arg(long, value_name = "PATH")]
    pub errors_csv: Option<PathBuf>,
}

impl FileArgs {
    /// The run these arguments ask for: one sheet, or a whole workbook.
    fn plan(&self) -> anyhow::Result<RunPlan> {
        let mapping = match &self.mapping {
            Some(path) => SavedMapping::read(path)?,
            None => SavedMapping::default(),
        };
        let mut plan = RunPlan::for_file(&self.file, self.sheet.clone(), self.entity, mapping)?;
        plan.clean_every_sheet(&self.clean.0);
        Ok(plan)
    }
}

/// Headless commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read, map and validate a file without a database: what would import.
    Check {
        #[command(flatten)]
        file: FileArgs,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Import the rows of a file into the CRM.
    Import {
        #[command(flatten)]
        file: FileArgs,
        #[command(flatten)]
        database: DatabaseArg,
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
        #[command(flatten)]
        json: JsonArg,
        /// Import the file even if it was imported completely before.
        #[arg(long)]
        again: bool,
        /// Act as this CRM user (by e-mail): created_by/updated_by of every
        /// row, and on a Supabase database the CRM's row-level security
        /// decides what the user may write.
        #[arg(long = "as", value_name = "EMAIL")]
        acting_as: Option<String>,
    },
    /// List the CRM's users and every manager name in its organizations
    /// with the user it matches; --link fills the records' manager ids.
    Users {
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        json: JsonArg,
        /// Fill the manager ids of existing organizations from their names
        /// (recorded in the history: `undo` gives the ids back).
        #[arg(long)]
        link: bool,
        /// With --link: the user a name stands for, over the matching rules
        /// ("Dana W=dana@broker.com"; an empty e-mail keeps the name as text).
        #[arg(long = "map", value_name = "NAME=EMAIL", requires = "link", value_parser = parse_user_map)]
        map: Vec<(String, String)>,
    },
    /// List the latest imports, newest first.
    History {
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Soft-delete the rows of one import, or of every sheet of a workbook
    /// run with --run (sets deleted_at).
    Undo {
        /// The import's number, as `history` and `import` show it.
        #[arg(required_unless_present = "run", conflicts_with = "run")]
        import: Option<i64>,
        /// Undo every sheet of this workbook run instead, or every pass of
        /// this sync (the `run` column of `history`).
        #[arg(long, value_name = "RUN")]
        run: Option<i64>,
        /// With --run: only this pass of the sync.
        #[arg(long, value_name = "P", requires = "run")]
        pass: Option<i32>,
        #[command(flatten)]
        database: DatabaseArg,
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
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Show what one import stored, counted in the database: rows, the
    /// stored values' distributions, a random sample, links that ended empty.
    Verify {
        /// The import's number, as `history` and `import` show it.
        import: i64,
        /// The spreadsheet it read, to show the sample beside its rows.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Score what the CRM already holds and list its problems: duplicates,
    /// bad e-mails and phones, unknown states, empty fields, links to
    /// deleted records, manager names with no user (read-only, unless
    /// --fix clean-ups).
    Audit {
        /// Only this entity (default: all five).
        #[arg(long, value_name = "ENTITY", value_parser = parse_entity)]
        entity: Option<Entity>,
        /// Write every record of every finding to PATH.csv or PATH.xlsx.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Apply the clean-ups to the stored values (originals kept in
        /// import notes, recorded in the history: `undo` gives them back).
        #[arg(long, value_enum, value_name = "FIX")]
        fix: Option<FixArg>,
        /// With --fix clean-ups: only these kinds (states, phones, emails,
        /// spaces; default all).
        #[arg(long, value_name = "KINDS", requires = "fix", value_parser = parse_clean)]
        clean: Option<CleanUps>,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Merge duplicate records into one: the survivor takes the others'
    /// values where its own are empty, every link moves to it, the others
    /// are soft-deleted (recorded in the history: `undo` puts it all back).
    Merge {
        /// organizations, contacts, products, opportunities or interactions.
        #[arg(value_name = "ENTITY", value_parser = parse_entity)]
        entity: Entity,
        /// The records' ids (as `audit --out` lists them), two or more.
        #[arg(value_name = "ID", num_args = 2.., required = true)]
        ids: Vec<uuid::Uuid>,
        /// The record to keep (default: the most complete).
        #[arg(long, value_name = "ID")]
        keep: Option<uuid::Uuid>,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Keep a spreadsheet and the CRM in step: import it now, then again
    /// each time it is saved (unchanged rows are not written; conflicts and
    /// rows gone from the file are listed).
    Watch(watch::WatchArgs),
    /// Create or update the CRM schema.
    Migrate {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// `audit --fix`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FixArg {
    /// The clean-up kinds (states, phones, emails, spaces) on stored values.
    CleanUps,
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

/// The link policies `--links` asks for.
fn link_policies(links: Option<LinksArg>) -> LinkPolicies {
    LinkPolicies {
        all: links.map(|policy| match policy {
            LinksArg::Fail => LinkPolicy::Fail,
            LinksArg::Empty => LinkPolicy::Empty,
            LinksArg::Create => LinkPolicy::Create,
        }),
        ..LinkPolicies::default()
    }
}

/// The CRM user `--as` names, told before anything starts: an unknown
/// user, or a role that cannot act as one.
async fn acting_user(settings: &ConnectionSettings, email: &str) -> anyhow::Result<ActingUser> {
    let client = settings.connect().await?;
    Ok(ActingUser::resolve(&client, email).await?)
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

fn parse_user_map(text: &str) -> Result<(String, String), String> {
    pantry_core::users::parse_map(text).map_err(|e| e.to_string())
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
            eprintln!("pantry-import: {}", one_line(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, as scripts read stderr; a cause
/// the message already gives is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    if let Some(ImportError::AlreadyImported { .. }) = error.downcast_ref::<ImportError>() {
        line.push_str("; pass --again to import it a second time");
    }
    line.replace('\n', " ")
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { file, json } => check(&file, json.json),
        Command::Import {
            file,
            database,
            links,
            on_duplicate,
            batch_size,
            json,
            again,
            acting_as,
        } => {
            let mut options = ImportOptions {
                links: link_policies(links),
                batch_size: usize::try_from(batch_size).unwrap_or(import::DEFAULT_BATCH_SIZE),
                again,
                on_duplicate,
                ..ImportOptions::default()
            };
            if let Some(email) = acting_as {
                // Told before anything starts: an unknown user, or a role
                // that cannot act as one.
                let settings = database.settings()?;
                options.acting = Some(runtime()?.block_on(acting_user(&settings, &email))?);
            }
            import(&file, &database, &options, json.json)
        }
        Command::Users {
            database,
            json,
            link,
            map,
        } => users(&database, json.json, link, map.into_iter().collect()),
        Command::History { database, json } => {
            let settings = database.settings()?;
            let imports = runtime()?.block_on(async {
                let client = settings.connect().await?;
                anyhow::Ok(history::list(&client, 50).await?)
            })?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&imports)?);
            } else {
                text::print_history(&imports);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Undo {
            import,
            run,
            pass,
            database,
            force,
        } => {
            let target = match (run, import) {
                (Some(run), _) => match pass {
                    Some(pass) => history::UndoTarget::Pass(run, pass),
                    None => history::UndoTarget::Run(run),
                },
                (None, Some(import)) => history::UndoTarget::Import(import),
                (None, None) => anyhow::bail!("name the import to undo, or --run RUN"),
            };
            undo(target, &database, force)
        }
        Command::Export {
            entity,
            out,
            import,
            database,
        } => export(entity, &out, import, &database),
        Command::Verify {
            import,
            file,
            database,
            json,
        } => {
            let settings = database.settings()?;
            let verification = runtime()?.block_on(async {
                let client = settings.connect().await?;
                anyhow::Ok(verify::verify(&client, import, file.as_deref()).await?)
            })?;
            if json.json {
                println!("{}", verification.to_json());
            } else {
                text::print_verification(&verification);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            entity,
            out,
            fix,
            clean,
            database,
            json,
        } => match fix {
            Some(FixArg::CleanUps) => {
                let kinds = clean.map_or_else(|| CleanUp::ALL.into_iter().collect(), |c| c.0);
                fix_clean_ups(entity, &kinds, &database, json.json)
            }
            None => audit(entity, out.as_deref(), &database, json.json),
        },
        Command::Merge {
            entity,
            ids,
            keep,
            database,
            json,
        } => {
            let settings = database.settings()?;
            let request = fixes::MergeRequest {
                entity,
                ids,
                keep,
                unchanged_since: None,
            };
            let report = runtime()?.block_on(async {
                let mut client = settings.connect().await?;
                anyhow::Ok(fixes::merge(&mut client, &request).await?)
            })?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                text::print_merge(entity, &report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch(args) => watch::watch(args),
        Command::Migrate { database } => {
            let settings = database.settings()?;
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

/// `check`: what an import of the file would do, without a database.
fn check(file: &FileArgs, json: bool) -> anyhow::Result<ExitCode> {
    let plan = file.plan()?;
    let progress = RunProgress::new(&plan, None);
    let report = with_progress_bar(&progress, !json, Stage::Check, || {
        run::check(&plan, &progress)
    })?;
    let status = finish(&report, json, file.errors_csv.as_deref(), "would import")?;
    // A sheet that cannot go stops the whole import: as for any file the
    // import would refuse, the status is 2, after every sheet is reported.
    let cannot: Vec<String> = report
        .sheets
        .iter()
        .filter_map(|sheet| {
            let problem = sheet.cannot_import.as_deref()?;
            Some(format!(
                "sheet '{}', {problem}",
                sheet.sheet.as_deref().unwrap_or_default()
            ))
        })
        .collect();
    if cannot.is_empty() {
        return Ok(status);
    }
    eprintln!(
        "pantry-import: {}: an import would refuse this file until {} fixed:\n  {}",
        plan.file.display(),
        if cannot.len() == 1 {
            "this sheet is"
        } else {
            "these sheets are"
        },
        cannot.join("\n  ")
    );
    Ok(ExitCode::from(2))
}

/// `import`: the file's rows into the CRM.
fn import(
    file: &FileArgs,
    database: &DatabaseArg,
    options: &ImportOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let settings = database.settings()?;
    let plan = file.plan()?;
    let runtime = runtime()?;
    let progress = RunProgress::new(&plan, None);
    let outcome = with_progress_bar(&progress, !json, Stage::Import, || {
        runtime.block_on(run::import(
            &plan,
            &settings,
            options,
            std::sync::Arc::clone(&progress),
        ))
    });
    match outcome {
        Ok(report) => finish(&report, json, file.errors_csv.as_deref(), "succeeded"),
        Err(ImportError::Interrupted { cause, report }) => {
            // Say what is stored before failing, so nobody guesses.
            eprint!("{}", report.summary("succeeded"));
            Err(ImportError::Interrupted { cause, report }.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// `users`: the CRM's users and manager names; with `link`, the names'
/// ids filled in existing organizations.
fn users(
    database: &DatabaseArg,
    json: bool,
    link: bool,
    chosen: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<ExitCode> {
    let settings = database.settings()?;
    let runtime = runtime()?;
    if link {
        let linked = runtime.block_on(async {
            let mut client = settings.connect().await?;
            anyhow::Ok(users::link_existing(&mut client, &chosen).await?)
        })?;
        if json {
            println!("{}", serde_json::to_string_pretty(&linked)?);
        } else {
            text::print_linked_managers(&linked);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = runtime.block_on(async {
        let client = settings.connect().await?;
        anyhow::Ok(users::users_report(&client, &chosen).await?)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        text::print_users(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// `audit`: the CRM's health, printed, and every finding to `out`.
fn audit(
    entity: Option<Entity>,
    out: Option<&Path>,
    database: &DatabaseArg,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let settings = database.settings()?;
    let entities: Vec<Entity> = entity.into_iter().collect();
    let mut file = out.map(audit::out::FindingsFile::create).transpose()?;
    let report = runtime()?.block_on(async {
        let client = settings.connect().await?;
        let mut sink = |finding: &audit::FindingRow<'_>| match &mut file {
            Some(file) => file.write(finding),
            None => Ok(()),
        };
        anyhow::Ok(audit::audit(&client, &entities, &mut sink).await?)
    })?;
    if let Some(file) = file {
        file.finish()?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        text::print_audit(&report, out);
    }
    Ok(ExitCode::SUCCESS)
}

/// `audit --fix clean-ups`: the kinds applied to stored values, one
/// history entry per entity.
fn fix_clean_ups(
    entity: Option<Entity>,
    kinds: &BTreeSet<CleanUp>,
    database: &DatabaseArg,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let settings = database.settings()?;
    let entities: Vec<Entity> = entity.map_or_else(|| Entity::ALL.to_vec(), |e| vec![e]);
    let reports = runtime()?.block_on(async {
        let mut client = settings.connect().await?;
        let mut reports = Vec::new();
        for entity in entities {
            reports.push(fixes::apply_clean_ups(&mut client, entity, kinds).await?);
        }
        anyhow::Ok(reports)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        text::print_clean_ups(&reports);
    }
    Ok(ExitCode::SUCCESS)
}

/// `undo`: an import, or a workbook run, taken back out of the CRM.
fn undo(
    target: history::UndoTarget,
    database: &DatabaseArg,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let settings = database.settings()?;
    let reports = runtime()?.block_on(async {
        let mut client = settings.connect().await?;
        anyhow::Ok(history::undo(&mut client, target, force).await?)
    })?;
    Ok(if text::print_undo(&reports) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `export`: an entity's records (or one import's) to CSV or XLSX.
fn export(
    entity: Entity,
    out: &Path,
    import: Option<i64>,
    database: &DatabaseArg,
) -> anyhow::Result<ExitCode> {
    let settings = database.settings()?;
    let progress = export::ExportProgress::new();
    let summary = runtime()?.block_on(async {
        let mut client = settings.connect().await?;
        // A second connection lists the notes' keys while the rows are
        // sorted; without one (a server at its limit) they are listed first.
        let mut helper = settings.connect().await.ok();
        anyhow::Ok(
            export::export(&mut client, helper.as_mut(), entity, import, out, &progress).await?,
        )
    })?;
    println!(
        "{}: {} written, {} columns",
        summary.path.display(),
        entity.count(summary.rows),
        summary.headers.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Writes the error report when asked, prints the report (its JSON with
/// `--json`, else its summary; `verb` says "succeeded" or "would import"),
/// and gives the exit status: 0 when every row was imported (or would be),
/// 1 when some failed or the run was cancelled.
fn finish(
    report: &RunReport,
    json: bool,
    errors_csv: Option<&Path>,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = errors_csv {
        report
            .write_error_csvs(path)
            .with_context(|| format!("cannot write the error report {}", path.display()))?;
    }
    if json {
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        report
            .write_json(&mut stdout)
            .context("cannot write the JSON report")?;
        writeln!(stdout).context("cannot write the JSON report")?;
    } else {
        print!("{}", report.summary(verb));
    }
    Ok(if report.failed() == 0 && !report.cancelled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
