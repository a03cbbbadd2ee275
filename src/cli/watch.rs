//! `watch`: a file kept in step with the CRM, a pass each time it is saved.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use pantry_core::sync::watch::FileWatch;
use pantry_core::sync::{PassReport, StopWhen, Sync, SyncEvent, SyncOptions, keep_in_step};

use super::{DatabaseArg, JsonArg, LinksArg, acting_user, link_policies, runtime};

/// `watch`'s arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The spreadsheet to keep in step (.csv, .xlsx, ...).
    pub file: std::path::PathBuf,
    /// Worksheet of a workbook (default: every recognised sheet).
    #[arg(long)]
    pub sheet: Option<String>,
    /// What the rows are (default: from the sheet's name, else its headers).
    #[arg(long, value_name = "ENTITY", value_parser = super::parse_entity)]
    pub entity: Option<pantry_core::entity::Entity>,
    /// A saved mapping (JSON).
    #[arg(long, value_name = "M.json")]
    pub mapping: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArg,
    /// What a link column does with a name the CRM lacks (as for `import`).
    #[arg(long, value_enum, value_name = "POLICY")]
    pub links: Option<LinksArg>,
    /// Act as this CRM user (by e-mail), as for `import`.
    #[arg(long = "as", value_name = "EMAIL")]
    pub acting_as: Option<String>,
    /// Soft-delete the records this sync created whose rows left the file
    /// (undoable); without it, such rows are only listed.
    #[arg(long)]
    pub remove_missing: bool,
    #[command(flatten)]
    pub json: JsonArg,
    /// How long a save must stay the same before it is read, in
    /// milliseconds (a complete workbook is read after 200).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub settle_ms: u64,
    /// Stop after this many passes (default: watch until stopped); the
    /// exit status is then 1 when the last pass left failing rows.
    #[arg(long, value_name = "N")]
    pub passes: Option<usize>,
}

/// Keeps the file in step until stopped (or `--passes` passes ran).
pub fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let settings = args.database.settings()?;
    let mapping = match &args.mapping {
        Some(path) => pantry_core::saved_mapping::SavedMapping::read(path)?,
        None => Default::default(),
    };
    let runtime = runtime()?;
    let json = args.json.json;
    runtime.block_on(async {
        let acting = match &args.acting_as {
            Some(email) => Some(acting_user(&settings, email).await?),
            None => None,
        };
        let options = SyncOptions {
            sheet: args.sheet.clone(),
            entity: args.entity,
            mapping,
            links: link_policies(args.links),
            acting,
            remove_missing: args.remove_missing,
        };
        let mut watch = FileWatch::new(&args.file, Duration::from_millis(args.settle_ms))?;
        let mut sync = Sync::start(&settings, &args.file, options).await?;
        if !json {
            println!(
                "Keeping {} in step with {} ({} sync {}{}); Ctrl-C stops it.",
                sync.file().display(),
                settings.describe(),
                if sync.continued() {
                    "going on with"
                } else {
                    "new"
                },
                sync.id(),
                if watch.hears_events() {
                    ""
                } else {
                    "; no file events here, looking every second"
                },
            );
        }
        let stop = StopWhen {
            passes: args.passes,
            asked: stop_on_ctrl_c(),
        };
        let mut failed = false;
        keep_in_step(&mut sync, &mut watch, stop, |event| match event {
            SyncEvent::Saved => {}
            SyncEvent::Pass(report) => {
                failed = report.failed > 0;
                if json {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                } else {
                    print_pass(&report);
                }
                let _ = std::io::stdout().flush();
            }
            SyncEvent::Waiting(why) | SyncEvent::GaveUp(why) => eprintln!("pantry-import: {why}"),
        })
        .await?;
        anyhow::Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Asks the watch to stop at the first Ctrl-C (after the pass under way,
/// so that what it wrote is recorded); a second ends the program at once.
fn stop_on_ctrl_c() -> tokio::sync::watch::Receiver<bool> {
    let (ask, asked) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "pantry-import: stopping once the pass under way ends (Ctrl-C again stops at once)"
            );
            let _ = ask.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    asked
}

/// A pass for a person: its counts, then each conflict, gone row and
/// failure.
fn print_pass(report: &PassReport) {
    println!("{} ({:.2} s)", report.summary(), report.seconds);
    for conflict in &report.conflicts {
        let row = sheet_row(&conflict.sheet, conflict.row);
        println!(
            "  conflict, {row}, '{}': {}",
            conflict.record, conflict.reason
        );
        for field in &conflict.fields {
            println!(
                "      {}: CRM '{}' (kept), file '{}'",
                field.field, field.crm, field.file
            );
        }
    }
    for gone in &report.gone {
        let what = if gone.removed {
            "removed (soft-deleted)"
        } else if gone.deleted_before {
            "already deleted in the CRM"
        } else {
            "left in the CRM"
        };
        println!("  gone from the file: '{}', {what}", gone.record);
    }
    for failure in &report.failures {
        let row = sheet_row(&failure.sheet, failure.row);
        println!("  failed, {row}, {}: {}", failure.column, failure.message);
    }
    for notice in &report.notices {
        println!("  {notice}");
    }
    if let Some(stopped) = &report.stopped {
        println!("  stopped part way: {stopped}");
    }
    if !report.imports.is_empty() {
        println!(
            "  undo this pass: pantry-import undo --run {} --pass {}",
            report.sync, report.pass
        );
    }
}

fn sheet_row(sheet: &str, row: u64) -> String {
    if sheet.is_empty() {
        format!("row {row}")
    } else {
        format!("sheet '{sheet}' row {row}")
    }
}
