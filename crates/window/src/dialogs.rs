//! The native file dialogs (rfd), each a one-shot background task: open a
//! spreadsheet, save or load a mapping, save an error report or the
//! warnings. Where the desktop has no dialog to show (on Linux: no XDG
//! desktop portal), files are saved beside the spreadsheet instead.

use std::path::{Path, PathBuf};

use eframe::egui;
use pantry_core::report::RunReport;
use pantry_core::saved_mapping::SavedMapping;

use super::task::{self, Task};

/// What a native file dialog gave back.
pub enum DialogAnswer {
    Picked(PathBuf),
    Cancelled,
    /// The desktop has no dialog to show (on Linux: no XDG desktop portal).
    Unavailable,
}

/// What saving or loading a mapping file came to.
pub enum MappingFileAnswer {
    Saved(PathBuf),
    Loaded(SavedMapping),
    Failed(String),
    Cancelled,
}

/// A dialog that "returns nothing" faster than a person can press Cancel
/// was never shown: rfd reports a missing portal the same way as a cancel.
fn dialog_unavailable(asked: std::time::Instant) -> bool {
    asked.elapsed() < std::time::Duration::from_millis(250)
}

/// Asks which spreadsheet to open.
pub fn open_spreadsheet(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
) -> Task<DialogAnswer> {
    task::spawn(runtime, ctx, async move {
        let asked = std::time::Instant::now();
        let picked = rfd::AsyncFileDialog::new()
            .set_title("Open a spreadsheet")
            .add_filter(
                "Spreadsheets",
                &["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "xlsb", "ods"],
            )
            .add_filter("All files", &["*"])
            .pick_file()
            .await
            .map(|handle| handle.path().to_path_buf());
        Ok(match picked {
            Some(path) => DialogAnswer::Picked(path),
            None if dialog_unavailable(asked) => DialogAnswer::Unavailable,
            None => DialogAnswer::Cancelled,
        })
    })
}

/// Asks where to save `mapping`, made for `spreadsheet`, and saves it.
pub fn save_mapping(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
    spreadsheet: PathBuf,
    mapping: SavedMapping,
) -> Task<MappingFileAnswer> {
    let stem = spreadsheet
        .file_stem()
        .map_or_else(|| "sheet".to_owned(), |s| s.to_string_lossy().into_owned());
    task::spawn(runtime, ctx, async move {
        let target = match save_target(
            "Save the mapping",
            &spreadsheet,
            &format!("{stem} - mapping"),
            "json",
        )
        .await
        {
            SaveTarget::Chosen(path) | SaveTarget::Beside(path) => path,
            SaveTarget::Cancelled => return Ok(MappingFileAnswer::Cancelled),
        };
        Ok(match std::fs::write(&target, mapping.to_json()) {
            Ok(()) => MappingFileAnswer::Saved(target),
            Err(e) => MappingFileAnswer::Failed(format!(
                "Could not save the mapping to {}: {e}",
                target.display()
            )),
        })
    })
}

/// Asks which mapping file to load, and reads it.
pub fn load_mapping(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
) -> Task<MappingFileAnswer> {
    task::spawn(runtime, ctx, async move {
        let asked = std::time::Instant::now();
        let picked = rfd::AsyncFileDialog::new()
            .set_title("Load a mapping")
            .add_filter("Mapping", &["json"])
            .pick_file()
            .await
            .map(|h| h.path().to_path_buf());
        Ok(match picked {
            Some(path) => match SavedMapping::read(&path) {
                Ok(mapping) => MappingFileAnswer::Loaded(mapping),
                Err(e) => MappingFileAnswer::Failed(e.to_string()),
            },
            None if dialog_unavailable(asked) => MappingFileAnswer::Failed(
                "No file dialog is available on this desktop to pick a mapping file.".to_owned(),
            ),
            None => MappingFileAnswer::Cancelled,
        })
    })
}

/// Asks where to save the failed rows of `report` (`warnings`: its
/// warnings) and saves them; answers with what to tell the broker, or
/// nothing when the dialog was cancelled.
pub fn save_report(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
    report: RunReport,
    warnings: bool,
) -> Task<Option<String>> {
    let stem = report
        .file
        .file_stem()
        .map_or_else(|| "import".to_owned(), |s| s.to_string_lossy().into_owned());
    let (name, title) = if warnings {
        (format!("{stem} - warnings"), "Save the warnings")
    } else {
        (format!("{stem} - errors"), "Save the error report")
    };
    task::spawn(runtime, ctx, async move {
        let write = |path: &Path| {
            if warnings {
                write_warnings(&report, path)
            } else {
                write_error_reports(&report, path)
            }
        };
        Ok(match save_target(title, &report.file, &name, "csv").await {
            // The dialog itself asks before replacing a file.
            SaveTarget::Chosen(path) => Some(write(&path)),
            SaveTarget::Beside(path) => Some(format!(
                "No file dialog is available on this desktop. {}",
                write(&path)
            )),
            SaveTarget::Cancelled => None,
        })
    })
}

/// Writes the warnings (a workbook's with their sheet) to `path`; says how
/// it went.
fn write_warnings(report: &RunReport, path: &Path) -> String {
    let written = std::fs::File::create(path).and_then(|file| {
        pantry_core::report::write_warnings_csv(
            report.warnings_by_sheet(),
            std::io::BufWriter::new(file),
        )
    });
    match written {
        Ok(()) => format!("✔ Saved the warnings to {}", path.display()),
        Err(error) => format!("✖ Could not save the warnings: {error}"),
    }
}

/// Writes the error report(s) to `path` (a workbook's beside it, one per
/// sheet with failed rows); says how it went.
fn write_error_reports(report: &RunReport, path: &Path) -> String {
    match report.write_error_csvs(path) {
        Ok(written) if written.len() == 1 && !report.whole_workbook => {
            format!("✔ Saved the error report to {}", path.display())
        }
        Ok(written) => format!(
            "✔ Saved {} error report{}: {}",
            written.len(),
            if written.len() == 1 { "" } else { "s" },
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(error) if report.whole_workbook => {
            format!("✖ Could not save the error reports: {error}")
        }
        Err(error) => format!("✖ Could not save the error report: {error}"),
    }
}

/// Where the broker wants a file saved.
pub(crate) enum SaveTarget {
    /// Chosen in the dialog (which asked before replacing a file).
    Chosen(PathBuf),
    /// The desktop has no dialog: beside the spreadsheet, under a name no
    /// earlier file has.
    Beside(PathBuf),
    Cancelled,
}

/// Asks where to save `NAME.EXTENSION`, a file that belongs with `spreadsheet`.
pub(crate) async fn save_target(
    title: &str,
    spreadsheet: &Path,
    name: &str,
    extension: &str,
) -> SaveTarget {
    let asked = std::time::Instant::now();
    let chosen = rfd::AsyncFileDialog::new()
        .set_title(title)
        .set_file_name(format!("{name}.{extension}"))
        .add_filter(extension.to_uppercase(), &[extension])
        .save_file()
        .await
        .map(|h| h.path().to_path_buf());
    match chosen {
        Some(path) => SaveTarget::Chosen(path),
        None if dialog_unavailable(asked) => {
            SaveTarget::Beside(free_path_beside(spreadsheet, name, extension))
        }
        None => SaveTarget::Cancelled,
    }
}

/// Where to save a file when no dialog can ask: beside the spreadsheet, as
/// `NAME.EXTENSION` or, when that exists, `NAME (2).EXTENSION` and so on,
/// never over an earlier file.
pub fn free_path_beside(spreadsheet: &Path, name: &str, extension: &str) -> PathBuf {
    let mut path = spreadsheet.with_file_name(format!("{name}.{extension}"));
    let mut number = 2;
    while path.exists() {
        path = spreadsheet.with_file_name(format!("{name} ({number}).{extension}"));
        number += 1;
    }
    path
}
