//! A whole workbook in the window: its sheets as tabs with what each is
//! imported as, the "Import all sheets" card with each sheet's progress,
//! and the results of the run sheet by sheet.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::entity::Entity;
use pantry_core::history::ImportRun;
use pantry_core::import::{ImportError, ImportOptions};
use pantry_core::links;
use pantry_core::mapping::ColumnMap;
use pantry_core::workbook::{
    self, LinkColumnSummary, LinkName, RunProgress, RunReport, WorkbookPlan,
};

use super::preview::{LinkColumn, PreviewCounts};
use super::results;
use super::task::{self, Task};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};
use super::{Action, PantryApp};

/// How a workbook run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// Every sheet ran (or the run was cancelled); the report says which.
    Done(RunReport),
    /// The database has no CRM tables yet; nothing was sent.
    NeedsSchema(String),
    /// The same workbook was imported completely before; nothing was sent.
    AlreadyImported(Box<ImportRun>),
    /// It could not run, or stopped part way.
    Stopped {
        reason: String,
        report: Option<RunReport>,
    },
}

/// One import of every sheet of a workbook, running or finished.
pub struct WorkbookRun {
    pub progress: Arc<RunProgress>,
    task: Option<Task<RunOutcome>>,
    pub outcome: Option<RunOutcome>,
    started: Instant,
}

impl WorkbookRun {
    /// Starts importing `sheets` (in that order) of the workbook at `path`.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        path: PathBuf,
        plan: &WorkbookPlan,
        options: ImportOptions,
        settings: ConnectionSettings,
    ) -> WorkbookRun {
        let plan = plan.clone();
        let waker_ctx = ctx.clone();
        let progress = RunProgress::new(
            &plan.import_order(),
            Some(Arc::new(move || waker_ctx.request_repaint())),
        );
        let task_progress = Arc::clone(&progress);
        let task = task::spawn(runtime, ctx, async move {
            let outcome =
                workbook::import_workbook(&path, &settings, &plan, &options, task_progress).await;
            Ok(match outcome {
                Ok(report) => RunOutcome::Done(report),
                Err(ImportError::NotMigrated { .. }) => {
                    RunOutcome::NeedsSchema(settings.describe())
                }
                Err(ImportError::RunAlreadyImported { run, .. }) => {
                    RunOutcome::AlreadyImported(run)
                }
                Err(ImportError::RunInterrupted { reason, report }) => RunOutcome::Stopped {
                    reason,
                    report: Some(*report),
                },
                Err(other) => RunOutcome::Stopped {
                    reason: other.to_string(),
                    report: None,
                },
            })
        });
        WorkbookRun {
            progress,
            task: Some(task),
            outcome: None,
            started: Instant::now(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.outcome.is_none()
    }

    /// Picks up the outcome; true on the frame the run ends.
    pub fn poll(&mut self) -> bool {
        let outcome = match task::take_ready(&mut self.task) {
            None => return false,
            Some(Ok(outcome)) => outcome,
            Some(Err(reason)) => RunOutcome::Stopped {
                reason,
                report: None,
            },
        };
        self.outcome = Some(outcome);
        true
    }

    /// The report, when there is one.
    pub fn report(&self) -> Option<&RunReport> {
        match &self.outcome {
            Some(RunOutcome::Done(report)) => Some(report),
            Some(RunOutcome::Stopped { report, .. }) => report.as_ref(),
            _ => None,
        }
    }
}

/// The links summary of the open workbook against the connected CRM:
/// computed once per workbook, plan and connection.
#[derive(Default)]
pub struct LinkSummaryState {
    pub summary: Option<Vec<LinkColumnSummary>>,
    pub failed: Option<String>,
    task: Option<Task<Vec<LinkColumnSummary>>>,
}

impl LinkSummaryState {
    /// Picks up the answer, or starts asking when nothing was asked yet.
    pub fn poll_or_start(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        path: &std::path::Path,
        plan: &WorkbookPlan,
        settings: ConnectionSettings,
    ) {
        match task::take_ready(&mut self.task) {
            Some(Ok(summary)) => self.summary = Some(summary),
            Some(Err(error)) => self.failed = Some(error),
            None if self.task.is_none() && self.summary.is_none() && self.failed.is_none() => {
                let (path, plan) = (path.to_path_buf(), plan.clone());
                self.task = Some(task::spawn(runtime, ctx, async move {
                    let client = settings.connect().await.map_err(|e| e.to_string())?;
                    workbook::link_summary(&path, &plan, &client)
                        .await
                        .map_err(|e| e.to_string())
                }));
            }
            None => {}
        }
    }
}

/// Per link column of the workbook: where its names were found, and what
/// happens to the rest under the column's policy.
fn link_summary_ui(ui: &mut egui::Ui, app: &PantryApp, actions: &mut Vec<Action>) {
    let state = &app.link_summary;
    ui.label(theme::bold("Links"));
    if !app.connection.is_verified() {
        ui.weak("Connect to see which names the CRM already has.");
        return;
    }
    if let Some(error) = &state.failed {
        ui.add(egui::Label::new(RichText::new(format!("✖ {error}")).color(FAIL_TEXT)).wrap());
        return;
    }
    let Some(summary) = &state.summary else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak("Looking up the names in the CRM…");
        });
        return;
    };
    if summary.is_empty() {
        ui.weak("No sheet links to another record.");
    }
    for column in summary {
        ui.label(RichText::new(format!(
            "{} · {} → {}",
            column.sheet,
            column.column,
            column.target.name()
        )));
        let mut parts = Vec::new();
        if column.in_workbook > 0 {
            parts.push(format!(
                "{} in this workbook",
                theme::thousands(column.in_workbook)
            ));
        }
        if column.in_crm > 0 {
            parts.push(format!("{} in the CRM", theme::thousands(column.in_crm)));
        }
        let not_found = column.not_found_cells();
        if not_found > 0 {
            // What the column's choice under "Names not found" does to them.
            let policy = column
                .entity
                .description()
                .fields
                .iter()
                .find(|f| f.column == column.field)
                .map(|f| app.link_policies.for_field(f).describe());
            parts.push(format!(
                "{} not found{}",
                theme::thousands(not_found),
                policy.map_or_else(String::new, |p| format!(": {p}"))
            ));
        }
        let ambiguous = column.ambiguous_cells();
        if ambiguous > 0 {
            parts.push(format!("{} ambiguous", theme::thousands(ambiguous)));
        }
        ui.weak(parts.join(" · "));
        for name in column.not_found.iter().take(3) {
            let closest = if name.candidates.is_empty() {
                String::new()
            } else {
                format!(" (closest: {})", name.candidates.join(", "))
            };
            ui.add(
                egui::Label::new(
                    RichText::new(format!("  not found: '{}'{closest}", name.name))
                        .color(WARN_TEXT),
                )
                .wrap(),
            );
        }
        for name in column.ambiguous.iter().take(10) {
            ambiguous_name_ui(ui, app, column, name, actions);
        }
    }
    ui.add_space(4.0);
}

/// A name that matches several CRM records, with the record picked for it
/// (until one is, its rows fail).
fn ambiguous_name_ui(
    ui: &mut egui::Ui,
    app: &PantryApp,
    column: &LinkColumnSummary,
    name: &LinkName,
    actions: &mut Vec<Action>,
) {
    let key = links::lookup_key(column.target, &name.name);
    let picked = app
        .link_policies
        .picked
        .get(&(column.field.to_owned(), key.clone()))
        .and_then(|id| name.ids.iter().position(|i| i == id));
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "  '{}' ({} cells) matches {}:",
                name.name,
                theme::thousands(name.cells),
                name.candidates.len()
            ))
            .color(if picked.is_some() { OK_TEXT } else { FAIL_TEXT }),
        );
        let shown = picked.map_or("pick one (else these rows fail)", |i| {
            name.candidates[i].as_str()
        });
        egui::ComboBox::from_id_salt(("pick", column.field, &key))
            .selected_text(shown)
            .show_ui(ui, |ui| {
                for (index, (id, candidate)) in name.ids.iter().zip(&name.candidates).enumerate() {
                    if ui
                        .selectable_label(picked == Some(index), candidate)
                        .clicked()
                    {
                        actions.push(Action::PickLinkTarget(column.field, key.clone(), *id));
                    }
                }
            });
    });
}

/// The workbook's sheets as tabs: the one on screen, and what each is
/// imported as ("not imported" for a ReadMe).
pub fn sheet_tabs_ui(
    ui: &mut egui::Ui,
    plan: &WorkbookPlan,
    current: Option<&str>,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Sheets:").weak());
        for sheet in &plan.sheets {
            let selected = current == Some(sheet.sheet.as_str());
            let what = sheet
                .entity
                .map_or_else(|| "not imported".to_owned(), |e| e.title().to_owned());
            let text = RichText::new(format!("{} · {what}", sheet.sheet));
            let text = if sheet.entity.is_none() {
                text.weak()
            } else {
                text
            };
            let button =
                ui.add(egui::Button::selectable(selected, text))
                    .on_hover_text(match sheet.entity {
                        Some(entity) => format!(
                            "Imported as {} with the other sheets; click to preview it",
                            entity.name()
                        ),
                        None => "Not imported; click to preview it and choose what its rows are"
                            .to_owned(),
                    });
            if button.clicked() && !selected {
                actions.push(Action::PickSheet(sheet.sheet.clone()));
            }
        }
    });
}

/// The import card of a workbook: every sheet to import, in the order they
/// will run, and the button that runs them all.
pub fn run_start_ui(
    ui: &mut egui::Ui,
    app: &PantryApp,
    plan: &WorkbookPlan,
    ready: bool,
    actions: &mut Vec<Action>,
) {
    let order = plan.import_order();
    ui.label(theme::bold("The whole workbook"));
    ui.weak(
        "Sheets run in this order, so a contact's company can be an account of the first sheet:",
    );
    egui::Grid::new("workbook-order")
        .num_columns(3)
        .spacing([8.0, 2.0])
        .show(ui, |ui| {
            for (index, (sheet, entity)) in order.iter().enumerate() {
                ui.label(format!("{}.", index + 1));
                ui.label(sheet);
                let counts = app.sheet_counts.get(sheet);
                ui.label(
                    RichText::new(match counts {
                        Some(c) => entity.count(c.would_import),
                        None => entity.title().to_owned(),
                    })
                    .weak(),
                );
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    link_summary_ui(ui, app, actions);
    let button = ui.add_enabled(
        ready,
        theme::primary_button(format!("Import all {} sheets", order.len())),
    );
    if button.clicked() {
        actions.push(Action::StartWorkbookImport);
    }
    ui.add_space(6.0);
}

/// Each sheet's progress while the run goes: done, running (with its bar),
/// or waiting.
pub fn run_progress_ui(ui: &mut egui::Ui, run: &WorkbookRun, actions: &mut Vec<Action>) {
    let current = run.progress.current();
    for (index, sheet) in run.progress.sheets().iter().enumerate() {
        let now = sheet.progress.snapshot();
        let (marker, color) = if index < current {
            ("✔", OK_TEXT)
        } else if index == current {
            ("▶", theme::ACCENT)
        } else {
            ("○", egui::Color32::GRAY)
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new(marker).color(color));
            ui.label(theme::bold(&sheet.sheet));
            ui.weak(sheet.entity.title());
        });
        if index <= current {
            if index == current {
                let total = now.rows_total_estimate.max(now.rows_read).max(1);
                ui.add(
                    egui::ProgressBar::new(
                        ((now.succeeded + now.failed) as f32 / total as f32).min(1.0),
                    )
                    .animate(true),
                );
            }
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    RichText::new(format!("{} stored", theme::thousands(now.succeeded)))
                        .color(OK_TEXT),
                );
                ui.label("·");
                ui.label(
                    RichText::new(format!("{} failed", theme::thousands(now.failed)))
                        .color(FAIL_TEXT),
                );
            });
        }
    }
    let seconds = run.started.elapsed().as_secs_f64();
    ui.weak(format!("{seconds:.0} s"));
    if run.progress.is_cancelled() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Stopping after this batch…");
        });
    } else if ui.button("Cancel").clicked() {
        actions.push(Action::CancelImport);
    }
}

/// The card after a run: its totals, and the way to the results.
pub fn run_finished_ui(ui: &mut egui::Ui, run: &WorkbookRun, actions: &mut Vec<Action>) {
    match (&run.outcome, run.report()) {
        (Some(RunOutcome::Stopped { reason, .. }), _) => {
            ui.add(egui::Label::new(RichText::new(format!("✖ {reason}")).color(FAIL_TEXT)).wrap());
        }
        (_, Some(report)) if report.cancelled => {
            ui.label(
                theme::bold(format!(
                    "Cancelled: {} stored, the rest not imported",
                    theme::thousands(report.succeeded())
                ))
                .color(WARN_TEXT),
            );
            ui.weak("Importing the workbook again resumes the run where it stopped.");
        }
        (_, Some(report)) => {
            ui.label(
                theme::bold(format!(
                    "✔ {} succeeded, {} failed",
                    theme::thousands(report.succeeded()),
                    theme::thousands(report.failed())
                ))
                .color(OK_TEXT),
            );
        }
        _ => {}
    }
    if ui.button("Show results").clicked() {
        actions.push(Action::ShowResults);
    }
}

/// The question asked when the same workbook was imported completely before.
pub fn repeat_run_ui(ui: &mut egui::Ui, run: &ImportRun, actions: &mut Vec<Action>) {
    egui::Frame::new()
        .fill(theme::WARN_FILL)
        .inner_margin(egui::Margin::same(10))
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.label(theme::bold("This workbook was imported already").color(WARN_TEXT));
            let stored: i64 = run.imports.iter().map(|b| i64::from(b.succeeded)).sum();
            ui.label(format!(
                "Run #{} of {} on {} stored {} rows from {} sheets. Importing it again adds them a second time.",
                run.id,
                run.file_name,
                run.started_at,
                theme::thousands(u64::try_from(stored).unwrap_or(0)),
                run.imports.len()
            ));
            ui.horizontal(|ui| {
                if ui.button("Import again anyway").clicked() {
                    actions.push(Action::ImportAgainAnyway);
                }
                if ui.button("Don't import").clicked() {
                    actions.push(Action::DismissRepeat);
                }
            });
        });
}

/// The results of a run: the totals, one line per sheet, then every failed
/// row with its sheet.
pub fn run_results_ui(
    ui: &mut egui::Ui,
    run: &WorkbookRun,
    verification: &super::verification::VerificationState,
    save_message: Option<&str>,
    actions: &mut Vec<Action>,
) {
    ui.add_space(8.0);
    if let Some(RunOutcome::Stopped { reason, .. }) = &run.outcome {
        ui.label(theme::bold("The run stopped").size(24.0).color(FAIL_TEXT));
        ui.add(egui::Label::new(RichText::new(reason).color(FAIL_TEXT)).wrap());
        ui.label("Import the workbook again to resume it: finished sheets are left as they are, and rows already stored are not stored twice.");
    }
    let Some(report) = run.report() else {
        results::buttons_ui(ui, None, 0, save_message, actions);
        return;
    };
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 0.0;
        ui.label(
            theme::bold(format!(
                "{} succeeded, ",
                theme::thousands(report.succeeded())
            ))
            .size(26.0)
            .color(OK_TEXT),
        );
        let failed =
            theme::bold(format!("{} failed", theme::thousands(report.failed()))).size(26.0);
        ui.label(if report.failed() > 0 {
            failed.color(FAIL_TEXT)
        } else {
            failed.weak()
        });
    });
    ui.weak(format!(
        "{} · run #{} · {} sheets in {:.1} s{}",
        report.file.display(),
        report.run_id.unwrap_or_default(),
        report.sheets.len(),
        report.elapsed.as_secs_f64(),
        if report.cancelled {
            " · cancelled"
        } else {
            ""
        }
    ));
    ui.add_space(6.0);
    let save = (report.failed() > 0).then_some((
        "Save error reports…",
        "One CSV per sheet with failed rows, each with its original cells and the reason",
    ));
    let warnings = report.warnings_by_sheet();
    results::buttons_ui(ui, save, warnings.len(), save_message, actions);
    ui.add_space(8.0);
    egui::Grid::new("run-sheets")
        .striped(true)
        .num_columns(6)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for title in [
                "Sheet",
                "Imported as",
                "Rows",
                "Stored",
                "Failed",
                "Warnings",
            ] {
                ui.label(theme::bold(title));
            }
            ui.end_row();
            for sheet in &report.sheets {
                ui.label(sheet.sheet.as_deref().unwrap_or_default());
                ui.label(sheet.entity.title());
                ui.label(theme::thousands(sheet.total));
                ui.label(RichText::new(theme::thousands(sheet.succeeded)).color(OK_TEXT));
                let failed = RichText::new(theme::thousands(sheet.failed));
                ui.label(if sheet.failed > 0 {
                    failed.color(FAIL_TEXT)
                } else {
                    failed.weak()
                });
                ui.label(theme::thousands(sheet.warnings));
                ui.end_row();
            }
        });
    if !report.passed_over.is_empty() {
        ui.weak(format!("Not imported: {}", report.passed_over.join(", ")));
    }
    let failures = report.failures_by_sheet();
    ui.add_space(8.0);
    results::checked_ui(ui, failures.len(), |ui| {
        results::created_links_ui(ui, &report.created_links());
        for sheet in &report.sheets {
            results::matched_rows_ui(
                ui,
                sheet.sheet.as_deref(),
                &sheet.updated_list,
                &sheet.skipped_list,
            );
        }
        results::warnings_ui(ui, &warnings);
        super::verification::verification_ui(ui, verification);
    });
    results::failed_rows_ui(
        ui,
        &failures,
        report.failed(),
        report.cancelled,
        "✔ Every row of every sheet was imported.",
    );
}

/// Reads a workbook's plan in the background.
pub fn read_plan(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
    path: PathBuf,
) -> Task<WorkbookPlan> {
    task::spawn(runtime, ctx, async move {
        tokio::task::spawn_blocking(move || WorkbookPlan::read(&path).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    })
}

/// The link columns of every sheet `plan` imports, one per field: a
/// policy chosen for "Company" holds for "Organization" on another sheet
/// too, as both fill `organization_id`.
pub fn workbook_link_columns(plan: &WorkbookPlan) -> Vec<LinkColumn> {
    let mut columns: Vec<LinkColumn> = Vec::new();
    for (sheet, entity) in plan.import_order() {
        let Some(entry) = plan.sheets.iter().find(|s| s.sheet == sheet) else {
            continue;
        };
        let map = ColumnMap::new(entity, &entry.headers);
        for field in entity.description().fields {
            let (Some(target), Some(index)) = (field.link(), map.column_of_field(field.column))
            else {
                continue;
            };
            let header = map.label(index);
            match columns.iter_mut().find(|c| c.field == field.column) {
                Some(known) => {
                    if !known.header.split(" / ").any(|h| h == header) {
                        known.header = format!("{} / {header}", known.header);
                    }
                    known.required |= field.required;
                }
                None => columns.push(LinkColumn {
                    field: field.column,
                    header,
                    target: target.entity,
                    required: field.required,
                    entity,
                }),
            }
        }
    }
    columns
}

/// Sets what `sheet` is imported as in `plan` (`None`: not imported).
pub fn set_sheet_entity(plan: &mut WorkbookPlan, sheet: &str, entity: Option<Entity>) {
    if let Some(entry) = plan.sheets.iter_mut().find(|s| s.sheet == sheet) {
        entry.entity = entity;
    }
}

/// The counts of a previewed sheet, kept per sheet for the workbook card.
pub type SheetCounts = std::collections::HashMap<String, PreviewCounts>;
