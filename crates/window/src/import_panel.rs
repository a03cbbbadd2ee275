//! The import card: the button, then live progress (batch k of n, rows/s,
//! stored and failed counts, each sheet of a workbook) with Cancel, then
//! where to see the results. One [`ImportRun`] for a sheet and a workbook
//! alike.

use std::sync::Arc;
use std::time::Instant;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::history::ImportStatus;
use pantry_core::import::{EarlierImport, ImportError, ImportOptions};
use pantry_core::links::LinkPolicy;
use pantry_core::progress::RunProgress;
use pantry_core::report::RunReport;
use pantry_core::run::{self, RunPlan};

use super::file::OpenFile;
use super::preview::PreviewCounts;
use super::task::{self, Task};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};
use super::workbook_panel;
use super::{Action, ImportScope, PantryApp};

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// It ran to the end (or was cancelled); the report says which.
    Done(RunReport),
    /// The database has no CRM tables yet; nothing was sent.
    NeedsSchema(String),
    /// The same file was imported completely before; nothing was sent.
    AlreadyImported(Box<EarlierImport>),
    /// It could not run, or stopped part way; `report` says what was stored.
    Stopped {
        reason: String,
        report: Option<RunReport>,
    },
}

/// One run (a sheet, or a workbook's sheets), running or finished.
pub struct ImportRun {
    /// What runs.
    pub plan: RunPlan,
    /// Its live counts, sheet by sheet.
    pub progress: Arc<RunProgress>,
    task: Option<Task<RunOutcome>>,
    /// How it ended, once it has.
    pub outcome: Option<RunOutcome>,
    started: Instant,
    finished: Option<Instant>,
    /// Rows of the sheet on screen and rows that will import, known from
    /// the preview (a run of one sheet).
    pub expected: PreviewCounts,
    /// Rows per batch.
    pub batch_size: usize,
}

impl ImportRun {
    /// Starts importing `plan` into the database of `settings`.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        plan: RunPlan,
        options: ImportOptions,
        settings: ConnectionSettings,
        (expected, acting_as): (PreviewCounts, Option<String>),
    ) -> ImportRun {
        let waker_ctx = ctx.clone();
        let progress = RunProgress::new(&plan, Some(Arc::new(move || waker_ctx.request_repaint())));
        let batch_size = options.batch_size;
        let (task_plan, task_progress) = (plan.clone(), Arc::clone(&progress));
        let task = task::spawn(runtime, ctx, async move {
            let mut options = options;
            if let Some(email) = acting_as {
                // Said before anything starts: an unknown user, or a role
                // that cannot act as one.
                let acting = async {
                    let client = settings.connect().await.map_err(|e| e.to_string())?;
                    pantry_core::users::ActingUser::resolve(&client, &email)
                        .await
                        .map_err(|e| e.to_string())
                };
                match acting.await {
                    Ok(acting) => options.acting = Some(acting),
                    Err(reason) => {
                        return Ok(RunOutcome::Stopped {
                            reason,
                            report: None,
                        });
                    }
                }
            }
            let outcome = run::import(&task_plan, &settings, &options, task_progress).await;
            Ok(match outcome {
                Ok(report) => RunOutcome::Done(report),
                Err(ImportError::NotMigrated { .. }) => {
                    RunOutcome::NeedsSchema(settings.describe())
                }
                Err(ImportError::AlreadyImported { earlier, .. }) => {
                    RunOutcome::AlreadyImported(earlier)
                }
                Err(ImportError::Interrupted { cause, report }) => RunOutcome::Stopped {
                    reason: cause.to_string(),
                    report: Some(*report),
                },
                Err(other) => RunOutcome::Stopped {
                    reason: other.to_string(),
                    report: None,
                },
            })
        });
        ImportRun {
            plan,
            progress,
            task: Some(task),
            outcome: None,
            started: Instant::now(),
            finished: None,
            expected,
            batch_size,
        }
    }

    /// Whether it is still running.
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
        self.finished = Some(Instant::now());
        true
    }

    /// The report, when there is one.
    pub fn report(&self) -> Option<&RunReport> {
        match &self.outcome {
            Some(RunOutcome::Done(report)) => Some(report),
            Some(RunOutcome::Stopped { report, .. }) => report.as_ref(),
            Some(RunOutcome::NeedsSchema(_) | RunOutcome::AlreadyImported(_)) | None => None,
        }
    }

    /// Whether it imports a whole workbook or one sheet, so that "again"
    /// and "resume" do the same.
    pub fn scope(&self) -> ImportScope {
        if self.plan.whole_workbook {
            ImportScope::WholeWorkbook
        } else {
            ImportScope::ThisSheet
        }
    }

    /// Whether it ran to the end (not cancelled, not stopped).
    pub fn finished_whole(&self) -> bool {
        matches!(&self.outcome, Some(RunOutcome::Done(report)) if !report.cancelled)
    }

    /// Rows settled per second so far (rows an earlier run stored are not
    /// this run's speed).
    pub fn rows_per_second(&self) -> f64 {
        let snapshot = self.progress.snapshot();
        let elapsed = self
            .finished
            .unwrap_or_else(Instant::now)
            .duration_since(self.started)
            .as_secs_f64();
        if elapsed > 0.0 {
            (snapshot.succeeded + snapshot.failed).saturating_sub(snapshot.already_stored) as f64
                / elapsed
        } else {
            0.0
        }
    }
}

/// The card on the right: the repeat question, the run's progress or its
/// end, or what an import will do and the button.
pub fn import_ui(ui: &mut egui::Ui, app: &PantryApp, actions: &mut Vec<Action>) {
    let Some(file) = &app.file else {
        return;
    };
    ui.separator();
    ui.add_space(6.0);
    ui.label(theme::bold("Import").size(17.0));
    if let Some(earlier) = &file.repeat {
        repeat_question_ui(ui, earlier, app.on_duplicate, actions);
        return;
    }
    match &app.run {
        Some(run) if run.is_running() => running_ui(ui, run, actions),
        Some(run) => {
            finished_ui(ui, run, actions);
            // Away from where Cancel was, so a late click lands on nothing.
            ui.add_space(24.0);
            ui.separator();
            next_import_ui(ui, app, run, actions);
        }
        None => start_button_ui(ui, app, file, actions),
    }
}

/// After an import: resume what was cut short, or import the file again,
/// saying truthfully what each does.
fn next_import_ui(ui: &mut egui::Ui, app: &PantryApp, run: &ImportRun, actions: &mut Vec<Action>) {
    let Some(report) = run.report() else {
        if ui.button("Try the import again").clicked() {
            actions.push(Action::StartImport(run.scope()));
        }
        return;
    };
    if run.plan.whole_workbook {
        // What importing the workbook again does with the rows now in the
        // CRM, chosen here as for a sheet.
        duplicate_policy_ui(ui, app.on_duplicate, actions);
        if ui
            .button("Import the workbook again")
            .on_hover_text(
                "A run that was cut off or cancelled goes on where it stopped; a finished one asks first",
            )
            .clicked()
        {
            actions.push(Action::StartImport(run.scope()));
        }
        return;
    }
    let import_id = report.first().and_then(|sheet| sheet.import_id);
    let undone = import_id
        .and_then(|id| app.history.import(id))
        .is_some_and(|batch| batch.status == ImportStatus::Undone);
    let succeeded = report.succeeded();
    if undone {
        ui.label(format!(
            "Import #{} was undone; importing the file again stores its rows anew.",
            import_id.unwrap_or_default()
        ));
        if ui.button("Import this file again").clicked() {
            actions.push(Action::StartImport(run.scope()));
        }
    } else if !run.finished_whole() {
        ui.label(
            "Resuming imports the rest of the file; the rows already stored are not stored twice.",
        );
        let text = format!(
            "Resume ({} of {} stored)",
            theme::thousands(succeeded),
            theme::thousands(run.expected.would_import.max(succeeded))
        );
        if ui.add(theme::primary_button(text)).clicked() {
            actions.push(Action::StartImport(run.scope()));
        }
    } else {
        duplicate_policy_ui(ui, app.on_duplicate, actions);
        if succeeded > 0 {
            let stored = theme::thousands(succeeded);
            let text = RichText::new(format!(
                "{} ({stored} were stored or updated).",
                again_would(app.on_duplicate)
            ));
            ui.label(if app.on_duplicate == DuplicatePolicy::Create {
                text.color(WARN_TEXT)
            } else {
                text.weak()
            });
        }
        if ui.button("Import this file again…").clicked() {
            actions.push(Action::StartImport(run.scope()));
        }
    }
}

/// What importing the same file again does under `policy`.
fn again_would(policy: DuplicatePolicy) -> &'static str {
    match policy {
        DuplicatePolicy::Skip => "Importing this file again skips the rows already in the CRM",
        DuplicatePolicy::Update => "Importing this file again updates the records its rows match",
        DuplicatePolicy::Create => "Importing this file again adds its rows a second time",
    }
}

fn start_button_ui(ui: &mut egui::Ui, app: &PantryApp, file: &OpenFile, actions: &mut Vec<Action>) {
    let preview = &file.preview;
    let counts = preview.counts;
    let needs_tables = matches!(
        app.connection.status,
        super::connection::ConnectionStatus::NeedsMigration(_)
    );
    let ready =
        preview.finished && preview.failed.is_none() && counts.would_import > 0 && !needs_tables;
    duplicate_policy_ui(ui, app.on_duplicate, actions);
    super::users_card::import_as_ui(ui, &app.crm_users, actions);
    let whole_workbook = file.is_whole_workbook();
    if app.connection.is_verified() && preview.finished && !whole_workbook {
        super::crm_matches::crm_matches_ui(ui, app, file, actions);
        ui.add_space(6.0);
    }
    link_policies_ui(ui, file, actions);
    if let Some(directory) = &app.crm_users.directory {
        super::users_card::managers_card_ui(
            ui,
            directory,
            &preview.manager_names,
            &file.mapping().users,
            actions,
        );
    }
    if let Some(plan) = file.workbook.as_ref().filter(|plan| plan.is_run()) {
        workbook_panel::run_start_ui(ui, app, file, plan, !needs_tables, actions);
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
    let button = if whole_workbook {
        ui.add_enabled(ready, egui::Button::new(text))
    } else {
        ui.add_enabled(ready, theme::primary_button(text))
    };
    if button.clicked() {
        actions.push(Action::StartImport(ImportScope::ThisSheet));
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
        ui.label(RichText::new("The CRM tables are not in this database yet.").color(WARN_TEXT));
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
fn link_policies_ui(ui: &mut egui::Ui, file: &OpenFile, actions: &mut Vec<Action>) {
    // A whole workbook's choices cover the link columns of all its sheets.
    let columns = match file.workbook.as_ref().filter(|plan| plan.is_run()) {
        Some(plan) => workbook_panel::workbook_link_columns(plan),
        None => file.preview.link_columns.clone(),
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
                let chosen = file.link_policies.for_field(field);
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

/// The question asked when the same file (or workbook) was imported
/// completely before.
fn repeat_question_ui(
    ui: &mut egui::Ui,
    earlier: &EarlierImport,
    policy: DuplicatePolicy,
    actions: &mut Vec<Action>,
) {
    egui::Frame::new()
        .fill(theme::WARN_FILL)
        .inner_margin(egui::Margin::same(10))
        .corner_radius(4.0)
        .show(ui, |ui| {
            let again = format!("{}.", again_would(policy).replace(" this file", " it"));
            match earlier {
                EarlierImport::Sheet(batch) => {
                    ui.label(theme::bold("This file was imported already").color(WARN_TEXT));
                    ui.label(format!(
                        "Import #{} of {} on {} stored {} {}. {again}",
                        batch.id,
                        batch.file_name,
                        batch.started_at,
                        theme::thousands(u64::try_from(batch.succeeded).unwrap_or(0)),
                        batch.entity.name(),
                    ));
                }
                EarlierImport::Run(run) => {
                    ui.label(theme::bold("This workbook was imported already").color(WARN_TEXT));
                    let stored: i64 = run.imports.iter().map(|b| i64::from(b.succeeded)).sum();
                    ui.label(format!(
                        "Run #{} of {} on {} stored {} rows from {} sheets. {again}",
                        run.id,
                        run.file_name,
                        run.started_at,
                        theme::thousands(u64::try_from(stored).unwrap_or(0)),
                        run.imports.len()
                    ));
                }
            }
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

/// The live counts of a run: one bar for a sheet, each sheet's progress
/// for a workbook; then Cancel.
fn running_ui(ui: &mut egui::Ui, run: &ImportRun, actions: &mut Vec<Action>) {
    if run.plan.whole_workbook {
        sheets_progress_ui(ui, run);
    } else {
        sheet_progress_ui(ui, run);
    }
    if run.progress.is_cancelled() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Stopping after this batch…");
        });
    } else if ui.button("Cancel").clicked() {
        actions.push(Action::CancelImport);
    }
}

/// One sheet's bar, batch count, and stored, failed and speed.
fn sheet_progress_ui(ui: &mut egui::Ui, run: &ImportRun) {
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
    counts_line_ui(
        ui,
        snapshot.succeeded,
        snapshot.failed,
        Some(run.rows_per_second()),
    );
}

/// Each sheet's progress while a workbook runs: done, running (with its
/// bar), or waiting.
fn sheets_progress_ui(ui: &mut egui::Ui, run: &ImportRun) {
    let current = run.progress.current();
    for (index, (sheet, plan)) in run
        .progress
        .sheets()
        .iter()
        .zip(&run.plan.sheets)
        .enumerate()
    {
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
            if let Some(entity) = plan.entity {
                ui.weak(entity.title());
            }
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
            counts_line_ui(ui, now.succeeded, now.failed, None);
        }
    }
    ui.weak(format!("{:.0} s", run.started.elapsed().as_secs_f64()));
}

/// "N stored · M failed", and the speed when given.
fn counts_line_ui(ui: &mut egui::Ui, stored: u64, failed: u64, rows_per_second: Option<f64>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{} stored", theme::thousands(stored))).color(OK_TEXT));
        ui.label("·");
        ui.label(RichText::new(format!("{} failed", theme::thousands(failed))).color(FAIL_TEXT));
        if let Some(rate) = rows_per_second {
            ui.label("·");
            ui.label(format!("{} rows/s", theme::thousands(rate as u64)));
        }
    });
}

/// The card after a run: its headline, and the way to the results.
fn finished_ui(ui: &mut egui::Ui, run: &ImportRun, actions: &mut Vec<Action>) {
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
            if run.plan.whole_workbook {
                ui.weak("Importing the workbook again resumes the run where it stopped.");
            }
        }
        (_, Some(report)) => {
            ui.label(theme::bold(format!("✔ {}", headline(report))).color(OK_TEXT));
        }
        _ => {}
    }
    if ui.button("Show results").clicked() {
        actions.push(Action::Show(super::View::Results));
    }
}

/// "11 succeeded, 2 failed", with the rows skipped and updated when there
/// are any: the same words for a sheet and a run.
pub fn headline(report: &RunReport) -> String {
    let counts = report.counts();
    let mut line = format!(
        "{} succeeded, {} failed",
        theme::thousands(counts.succeeded),
        theme::thousands(counts.failed)
    );
    if counts.skipped > 0 {
        line.push_str(&format!(", {} skipped", theme::thousands(counts.skipped)));
    }
    if counts.updated > 0 {
        line.push_str(&format!(
            " ({} of them updated)",
            theme::thousands(counts.updated)
        ));
    }
    line
}
