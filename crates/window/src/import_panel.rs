//! The import card: the button, then live progress (batch k of n, rows/s,
//! stored and failed counts) with Cancel, then where to see the results.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::history::{ImportBatch, ImportStatus};
use pantry_core::import::{self, ImportError, ImportOptions, ImportProgress};
use pantry_core::links::LinkPolicy;
use pantry_core::report::ImportReport;

use pantry_core::duplicates::DuplicatePolicy;

use super::preview::PreviewCounts;
use super::theme::{self, FAIL_TEXT, OK_TEXT};
use super::workbook_panel;
use super::{Action, PantryApp};

/// How an import ended.
#[derive(Debug)]
pub enum ImportOutcome {
    /// It ran to the end (or was cancelled); the report says which.
    Done(ImportReport),
    /// The database has no CRM tables yet; nothing was sent.
    NeedsSchema(String),
    /// The same file was imported completely before; nothing was sent.
    AlreadyImported(Box<ImportBatch>),
    /// It could not run, or stopped part way; `report` says what was stored.
    Stopped {
        reason: String,
        report: Option<ImportReport>,
    },
}

/// One import, running or finished.
pub struct ImportRun {
    pub progress: Arc<ImportProgress>,
    receiver: Option<Receiver<ImportOutcome>>,
    pub outcome: Option<ImportOutcome>,
    started: Instant,
    finished: Option<Instant>,
    /// Rows of the file and rows that will import, known from the preview.
    pub expected: PreviewCounts,
    pub batch_size: usize,
}

impl ImportRun {
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        path: PathBuf,
        options: ImportOptions,
        settings: ConnectionSettings,
        expected: PreviewCounts,
    ) -> ImportRun {
        let waker_ctx = ctx.clone();
        let progress = ImportProgress::new(Some(Arc::new(move || waker_ctx.request_repaint())));
        let batch_size = options.batch_size;
        let (sender, receiver) = mpsc::channel();
        let task_progress = Arc::clone(&progress);
        let ctx = ctx.clone();
        runtime.spawn(async move {
            let outcome = match import::import_file(&path, &settings, &options, task_progress).await
            {
                Ok(report) => ImportOutcome::Done(report),
                Err(ImportError::NotMigrated { .. }) => {
                    ImportOutcome::NeedsSchema(settings.describe())
                }
                Err(ImportError::AlreadyImported { batch, .. }) => {
                    ImportOutcome::AlreadyImported(batch)
                }
                Err(ImportError::Interrupted { reason, report }) => ImportOutcome::Stopped {
                    reason,
                    report: Some(*report),
                },
                Err(other) => ImportOutcome::Stopped {
                    reason: other.to_string(),
                    report: None,
                },
            };
            let _ = sender.send(outcome);
            ctx.request_repaint();
        });
        ImportRun {
            progress,
            receiver: Some(receiver),
            outcome: None,
            started: Instant::now(),
            finished: None,
            expected,
            batch_size,
        }
    }

    pub fn is_running(&self) -> bool {
        self.outcome.is_none()
    }

    /// Picks up the outcome; true on the frame the import ends.
    pub fn poll(&mut self) -> bool {
        let Some(receiver) = &self.receiver else {
            return false;
        };
        let outcome = match receiver.try_recv() {
            Ok(outcome) => outcome,
            Err(mpsc::TryRecvError::Empty) => return false,
            Err(mpsc::TryRecvError::Disconnected) => ImportOutcome::Stopped {
                reason: "the import stopped unexpectedly".to_owned(),
                report: None,
            },
        };
        self.outcome = Some(outcome);
        self.receiver = None;
        self.finished = Some(Instant::now());
        true
    }

    /// The report, when there is one.
    pub fn report(&self) -> Option<&ImportReport> {
        match &self.outcome {
            Some(ImportOutcome::Done(report)) => Some(report),
            Some(ImportOutcome::Stopped { report, .. }) => report.as_ref(),
            Some(ImportOutcome::NeedsSchema(_) | ImportOutcome::AlreadyImported(_)) | None => None,
        }
    }

    /// Rows settled per second so far.
    pub fn rows_per_second(&self) -> f64 {
        let snapshot = self.progress.snapshot();
        let elapsed = self
            .finished
            .unwrap_or_else(Instant::now)
            .duration_since(self.started)
            .as_secs_f64();
        if elapsed > 0.0 {
            // Only what this run did: rows an earlier run stored are not its speed.
            (snapshot.succeeded + snapshot.failed).saturating_sub(snapshot.already_stored) as f64
                / elapsed
        } else {
            0.0
        }
    }
}

pub fn import_ui(ui: &mut egui::Ui, app: &PantryApp, actions: &mut Vec<Action>) {
    let Some(preview) = &app.preview else {
        return;
    };
    ui.separator();
    ui.add_space(6.0);
    ui.label(theme::bold("Import").size(17.0));
    if let Some(batch) = &app.repeat_question {
        repeat_question_ui(ui, batch, app.on_duplicate, actions);
        return;
    }
    if let Some(earlier) = &app.repeat_run {
        workbook_panel::repeat_run_ui(ui, earlier, actions);
        return;
    }
    if let Some(run) = &app.workbook_run {
        if run.is_running() {
            workbook_panel::run_progress_ui(ui, run, actions);
        } else {
            workbook_panel::run_finished_ui(ui, run, actions);
            ui.add_space(24.0);
            ui.separator();
            if ui.button("Import the workbook again").on_hover_text(
                "A run that was cut off or cancelled goes on where it stopped; a finished one asks first",
            ).clicked() {
                actions.push(Action::StartWorkbookImport);
            }
        }
        return;
    }
    match &app.import {
        Some(run) if run.is_running() => running_ui(ui, run, actions),
        Some(run) => {
            finished_ui(ui, run, actions);
            // Away from where Cancel was, so a late click lands on nothing.
            ui.add_space(24.0);
            ui.separator();
            next_import_ui(ui, app, run, actions);
        }
        None => start_button_ui(ui, app, preview, actions),
    }
}

/// After an import: resume what was cut short, or import the file again,
/// saying truthfully what each does.
fn next_import_ui(ui: &mut egui::Ui, app: &PantryApp, run: &ImportRun, actions: &mut Vec<Action>) {
    let Some(report) = run.report() else {
        if ui.button("Try the import again").clicked() {
            actions.push(Action::StartImport);
        }
        return;
    };
    let undone = report
        .import_id
        .and_then(|id| app.history.import(id))
        .is_some_and(|batch| batch.status == ImportStatus::Undone);
    let finished = matches!(run.outcome, Some(ImportOutcome::Done(ref r)) if !r.cancelled);
    if undone {
        ui.label(format!(
            "Import #{} was undone; importing the file again stores its rows anew.",
            report.import_id.unwrap_or_default()
        ));
        if ui.button("Import this file again").clicked() {
            actions.push(Action::StartImport);
        }
    } else if !finished {
        ui.label(
            "Resuming imports the rest of the file; the rows already stored are not stored twice.",
        );
        let text = format!(
            "Resume ({} of {} stored)",
            theme::thousands(report.succeeded),
            theme::thousands(run.expected.would_import.max(report.succeeded))
        );
        if ui.add(theme::primary_button(text)).clicked() {
            actions.push(Action::StartImport);
        }
    } else {
        duplicate_policy_ui(ui, app.on_duplicate, actions);
        if report.succeeded > 0 {
            let stored = theme::thousands(report.succeeded);
            let (text, warn) = match app.on_duplicate {
                DuplicatePolicy::Skip => (
                    format!(
                        "Importing this file again skips the rows already in the CRM ({stored} were stored or updated)."
                    ),
                    false,
                ),
                DuplicatePolicy::Update => (
                    format!(
                        "Importing this file again updates the records its rows match ({stored} were stored or updated)."
                    ),
                    false,
                ),
                DuplicatePolicy::Create => (
                    format!(
                        "Importing this file again adds its rows a second time ({stored} were stored or updated)."
                    ),
                    true,
                ),
            };
            let text = RichText::new(text);
            ui.label(if warn {
                text.color(theme::WARN_TEXT)
            } else {
                text.weak()
            });
        }
        if ui.button("Import this file again…").clicked() {
            actions.push(Action::StartImport);
        }
    }
}

fn start_button_ui(
    ui: &mut egui::Ui,
    app: &PantryApp,
    preview: &super::preview::Preview,
    actions: &mut Vec<Action>,
) {
    let counts = preview.counts;
    let needs_tables = matches!(
        app.connection.status,
        super::connection::ConnectionStatus::NeedsMigration(_)
    );
    let ready =
        preview.finished && preview.failed.is_none() && counts.would_import > 0 && !needs_tables;
    duplicate_policy_ui(ui, app.on_duplicate, actions);
    if app.connection.is_verified()
        && preview.finished
        && app.workbook.as_ref().is_none_or(|p| !p.is_run())
    {
        super::crm_matches::crm_matches_ui(ui, app, actions);
        ui.add_space(6.0);
    }
    link_policies_ui(ui, app, preview, actions);
    let whole_workbook = app.workbook.as_ref().filter(|plan| plan.is_run());
    if let Some(plan) = whole_workbook {
        workbook_panel::run_start_ui(ui, app, plan, !needs_tables, actions);
        ui.label(theme::bold("Only this sheet"));
    }
    let text = format!(
        "Import {}",
        preview.entity.count(counts.would_import).replacen(
            &counts.would_import.to_string(),
            &theme::thousands(counts.would_import),
            1
        )
    );
    // With a whole workbook to import, this sheet alone is the lesser choice.
    let button = if whole_workbook.is_some() {
        ui.add_enabled(ready, egui::Button::new(text))
    } else {
        ui.add_enabled(ready, theme::primary_button(text))
    };
    if button.clicked() {
        actions.push(Action::StartImport);
    }
    if !preview.finished {
        ui.weak("Waiting for the whole file to be read…");
    } else if counts.would_fail > 0 {
        ui.label(
            RichText::new(format!(
                "{} row{} will be skipped; they stay listed under Problems.",
                theme::thousands(counts.would_fail),
                if counts.would_fail == 1 { "" } else { "s" }
            ))
            .weak(),
        );
    }
    if needs_tables {
        // Importing cannot work yet: offer the fix here, where the broker looks.
        ui.label(
            RichText::new("The CRM tables are not in this database yet.").color(theme::WARN_TEXT),
        );
        if ui.button("Create the CRM tables").clicked() {
            actions.push(Action::Migrate);
        }
    } else if !app.connection.is_verified() && ready {
        ui.weak("Tip: test the connection first.");
    }
}

/// What rows that match records already in the CRM do.
fn duplicate_policy_ui(ui: &mut egui::Ui, chosen: DuplicatePolicy, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(theme::bold("Rows already in the CRM:"));
        egui::ComboBox::from_id_salt("on-duplicate")
            .selected_text(chosen.describe())
            .width(260.0)
            .show_ui(ui, |ui| {
                for policy in DuplicatePolicy::ALL {
                    if ui
                        .selectable_label(policy == chosen, policy.describe())
                        .clicked()
                        && policy != chosen
                    {
                        actions.push(Action::SetDuplicatePolicy(policy));
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(
                "A row matches a record by its name (and city), email, SKU or subject and date. \
                 Updates keep the record's values from before, so undo puts them back.",
            );
    });
    ui.add_space(4.0);
}

/// Per link column: what a name the CRM lacks does to its row.
fn link_policies_ui(
    ui: &mut egui::Ui,
    app: &PantryApp,
    preview: &super::preview::Preview,
    actions: &mut Vec<Action>,
) {
    // A whole workbook's choices cover the link columns of all its sheets.
    let columns = match app.workbook.as_ref().filter(|plan| plan.is_run()) {
        Some(plan) => workbook_panel::workbook_link_columns(plan),
        None => preview.link_columns.clone(),
    };
    if columns.is_empty() {
        return;
    }
    ui.label(theme::bold("Names not found in the CRM"));
    egui::Grid::new("link-policies")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            for column in &columns {
                let description = column.entity.description();
                let Some(field) = description
                    .field_index(column.field)
                    .map(|i| &description.fields[i])
                else {
                    continue;
                };
                let Some(target) = field.link() else { continue };
                let chosen = app.link_policies.for_field(field);
                // "Company (organization)", but just "Organization".
                let text = if column.header.eq_ignore_ascii_case(target.entity.singular()) {
                    column.header.clone()
                } else {
                    format!("{} ({})", column.header, target.entity.singular())
                };
                let label = ui.label(text);
                egui::ComboBox::from_id_salt(("link-policy", column.field))
                    .selected_text(chosen.describe())
                    .show_ui(ui, |ui| {
                        for policy in LinkPolicy::ALL {
                            if policy.applies_to(target)
                                && ui.selectable_label(policy == chosen, policy.describe()).clicked()
                            {
                                actions.push(Action::SetLinkPolicy(column.field, policy));
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text(if column.required {
                        "This link is required: a row whose name is not found fails unless the organization is created"
                    } else {
                        "Left empty, the name is kept in the row's import notes"
                    });
                ui.end_row();
            }
        });
    ui.add_space(6.0);
}

fn repeat_question_ui(
    ui: &mut egui::Ui,
    batch: &ImportBatch,
    policy: DuplicatePolicy,
    actions: &mut Vec<Action>,
) {
    egui::Frame::new()
        .fill(theme::WARN_FILL)
        .inner_margin(egui::Margin::same(10))
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.label(theme::bold("This file was imported already").color(theme::WARN_TEXT));
            ui.label(format!(
                "Import #{} of {} on {} stored {} {}. {}",
                batch.id,
                batch.file_name,
                batch.started_at,
                theme::thousands(u64::try_from(batch.succeeded).unwrap_or(0)),
                batch.entity.name(),
                match policy {
                    DuplicatePolicy::Skip =>
                        "Importing it again skips the rows already in the CRM.",
                    DuplicatePolicy::Update => {
                        "Importing it again updates the records its rows match."
                    }
                    DuplicatePolicy::Create => "Importing it again adds them a second time.",
                }
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

fn running_ui(ui: &mut egui::Ui, run: &ImportRun, actions: &mut Vec<Action>) {
    let snapshot = run.progress.snapshot();
    let done = snapshot.succeeded + snapshot.failed;
    let total = run.expected.rows.max(1);
    // The preview knows how many rows will import, so the batch count is
    // exact; a resumed import only has the rest to send.
    let batches_total = run
        .expected
        .would_import
        .saturating_sub(snapshot.already_stored)
        .div_ceil(run.batch_size.max(1) as u64)
        .max(snapshot.batches_done)
        .max(1);
    ui.add(
        egui::ProgressBar::new((done as f32 / total as f32).min(1.0))
            .show_percentage()
            .animate(true),
    );
    if snapshot.already_stored > 0 {
        ui.label(format!(
            "Resuming: {} rows were stored before",
            theme::thousands(snapshot.already_stored)
        ));
    }
    ui.label(format!(
        "Batch {} of {}",
        theme::thousands(snapshot.batches_done.min(batches_total)),
        theme::thousands(batches_total)
    ));
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!("{} stored", theme::thousands(snapshot.succeeded)))
                .color(OK_TEXT),
        );
        ui.label("·");
        ui.label(
            RichText::new(format!("{} failed", theme::thousands(snapshot.failed))).color(FAIL_TEXT),
        );
        ui.label("·");
        ui.label(format!(
            "{} rows/s",
            theme::thousands(run.rows_per_second() as u64)
        ));
    });
    if run.progress.is_cancelled() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Stopping after this batch…");
        });
    } else if ui.button("Cancel").clicked() {
        actions.push(Action::CancelImport);
    }
}

fn finished_ui(ui: &mut egui::Ui, run: &ImportRun, actions: &mut Vec<Action>) {
    match &run.outcome {
        Some(ImportOutcome::Done(report)) => {
            if report.cancelled {
                ui.label(
                    theme::bold(format!(
                        "Cancelled: {} stored, the rest not imported",
                        theme::thousands(report.succeeded)
                    ))
                    .color(theme::WARN_TEXT),
                );
                if ui.button("Show results").clicked() {
                    actions.push(Action::ShowResults);
                }
                return;
            }
            let heading = {
                format!(
                    "✔ {} succeeded, {} failed",
                    theme::thousands(report.succeeded),
                    theme::thousands(report.failed)
                )
            };
            ui.label(theme::bold(heading).color(OK_TEXT));
        }
        Some(ImportOutcome::Stopped { reason, .. }) => {
            ui.add(egui::Label::new(RichText::new(format!("✖ {reason}")).color(FAIL_TEXT)).wrap());
        }
        Some(ImportOutcome::NeedsSchema(_) | ImportOutcome::AlreadyImported(_)) | None => {}
    }
    if ui.button("Show results").clicked() {
        actions.push(Action::ShowResults);
    }
}
