//! Past imports of the connected CRM, each with an Undo button.

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::history::{self, EntryKind, ImportBatch, ImportStatus, UndoReport, UndoTarget};

use super::Action;
use super::task::{self, Task};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};

/// The list of one database's imports, and what the last undo said.
#[derive(Default)]
pub struct HistoryPanel {
    pub imports: Vec<ImportBatch>,
    pub message: Option<String>,
    pub loaded: bool,
    /// The database the list belongs to (`user@host:port/db`), shown above it.
    pub database: Option<String>,
    listing: Option<Task<Vec<ImportBatch>>>,
    undoing: Option<Task<(UndoTarget, Vec<UndoReport>)>>,
    /// An undo waiting for the broker to confirm.
    pub confirm_undo: Option<UndoTarget>,
    /// The last undo left rows someone changed since: it can be done again,
    /// forced.
    pub left_alone: Option<(UndoTarget, usize)>,
    /// Scroll the confirmation into view on the next frame.
    reveal_confirm: bool,
}

impl HistoryPanel {
    /// Whether a listing or an undo is running.
    pub fn busy(&self) -> bool {
        self.listing.is_some() || self.undoing.is_some()
    }

    /// Forgets the list: the connection now points elsewhere (or nowhere).
    pub fn forget(&mut self) {
        *self = HistoryPanel::default();
    }

    /// Reloads the list in the background.
    pub fn refresh(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
    ) {
        let database = settings.describe();
        if self.database.as_deref() != Some(database.as_str()) {
            // Another database: the old list must not be undone against it.
            self.forget();
            self.database = Some(database);
        }
        self.listing = Some(task::spawn(runtime, ctx, async move {
            let client = settings.connect().await.map_err(|e| e.to_string())?;
            history::list(&client, 20).await.map_err(|e| e.to_string())
        }));
    }

    /// Marks the rows of an import, or of every sheet of a workbook run,
    /// deleted (rows edited since are spared).
    pub fn undo(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
        target: UndoTarget,
        force: bool,
    ) {
        self.confirm_undo = None;
        self.left_alone = None;
        self.undoing = Some(task::spawn(runtime, ctx, async move {
            let mut client = settings.connect().await.map_err(|e| e.to_string())?;
            history::undo(&mut client, target, force)
                .await
                .map(|reports| (target, reports))
                .map_err(|e| e.to_string())
        }));
    }

    /// What an undo did, in words: an import's rows out of the CRM, a
    /// fix's records back as they were.
    fn undone_message(&mut self, target: UndoTarget, reports: &[UndoReport]) -> String {
        let kind = reports.first().map_or(EntryKind::Import, |r| r.kind);
        let what = match (target, kind) {
            (UndoTarget::Run(run), _) => format!("Run #{run} ({} sheets)", reports.len()),
            (UndoTarget::Import(id), EntryKind::Import) => format!("Import #{id}"),
            (UndoTarget::Import(id), EntryKind::Merge) => format!("Merge #{id}"),
            (UndoTarget::Import(id), EntryKind::CleanUp) => format!("Clean-up #{id}"),
            (UndoTarget::Import(id), EntryKind::LinkManagers) => format!("Manager link #{id}"),
            (UndoTarget::Import(id), EntryKind::Removal) => format!("Removal #{id}"),
            (UndoTarget::Pass(run, pass), _) => format!("Pass {pass} of sync #{run}"),
        };
        let deleted: u64 = reports.iter().map(|r| r.soft_deleted).sum();
        let kept: usize = reports.iter().map(|r| r.edited_left_alone.len()).sum();
        let restored: u64 = reports.iter().map(|r| r.restored).sum();
        if kind == EntryKind::Merge && kept > 0 {
            self.left_alone = Some((target, kept));
            return format!(
                "✖ {what} was not undone: {kept} of its records were changed since the merge."
            );
        }
        let mut message = if kind == EntryKind::Import {
            format!(
                "✔ {what}: {} {} taken out of the CRM (marked deleted, not erased).",
                theme::thousands(deleted),
                if deleted == 1 { "row" } else { "rows" }
            )
        } else {
            format!("✔ {what} undone.")
        };
        if restored > 0 {
            let (records, have) = if restored == 1 {
                ("record", "has its")
            } else {
                ("records", "have their")
            };
            let it_updated = if kind == EntryKind::Import {
                " it updated"
            } else {
                ""
            };
            message.push_str(&format!(
                " {} {records}{it_updated} {have} values from before again.",
                theme::thousands(restored)
            ));
        }
        if kept > 0 {
            message.push_str(&format!(
                " {kept} rows someone changed after the import were kept."
            ));
            self.left_alone = Some((target, kept));
        }
        message
    }

    /// Picks up answers; `Some` when an undo finished (so the list should
    /// reload), with what it took back.
    pub fn poll(&mut self) -> Option<Option<UndoTarget>> {
        match task::take_ready(&mut self.listing) {
            Some(Ok(imports)) => {
                self.imports = imports;
                self.loaded = true;
                // A listing that works clears an earlier failure to list.
                if self.message.as_deref().is_some_and(|m| m.starts_with('✖')) {
                    self.message = None;
                }
            }
            Some(Err(error)) => {
                self.imports.clear();
                self.loaded = false;
                self.message = Some(if error.contains("import_batches") {
                    "✖ This database has no import history yet: create the CRM tables first."
                        .to_owned()
                } else if error.contains("run_id") || error.contains("mapping") {
                    "✖ This database's import history is older than this program: update the CRM tables (pantry-import migrate) to list it."
                        .to_owned()
                } else {
                    format!("✖ Cannot read the import history: {error}")
                });
            }
            None => {}
        }
        match task::take_ready(&mut self.undoing) {
            Some(Ok((target, reports))) => {
                self.message = Some(self.undone_message(target, &reports));
                Some(Some(target))
            }
            Some(Err(error)) => {
                self.message = Some(format!("✖ Undo failed: {error}"));
                Some(None)
            }
            None => None,
        }
    }

    /// The import with number `id`, as last listed.
    pub fn import(&self, id: i64) -> Option<&ImportBatch> {
        self.imports.iter().find(|batch| batch.id == id)
    }
}

pub fn history_ui(ui: &mut egui::Ui, panel: &mut HistoryPanel, actions: &mut Vec<Action>) {
    egui::CollapsingHeader::new(theme::bold("Past imports"))
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!panel.busy(), egui::Button::new("Refresh"))
                    .clicked()
                {
                    actions.push(Action::RefreshHistory);
                }
                if panel.busy() {
                    ui.spinner();
                }
            });
            if let Some(database) = &panel.database {
                ui.weak(format!("In {database}"));
            }
            if let Some(message) = &panel.message {
                let color = if message.starts_with('✖') {
                    FAIL_TEXT
                } else {
                    OK_TEXT
                };
                ui.add(egui::Label::new(RichText::new(message).color(color)).wrap());
                if let Some((target, kept)) = panel.left_alone
                    && ui
                        .button(format!("Undo them too ({kept} changed since)"))
                        .on_hover_text("Takes out, or gives back, the rows someone changed after the import as well")
                        .clicked()
                {
                    actions.push(Action::UndoForced(target));
                }
            }
            if panel.loaded && panel.imports.is_empty() {
                ui.weak("No imports into this database yet.");
            }
            let mut runs_shown = Vec::new();
            for batch in &panel.imports {
                ui.separator();
                if let Some(run) = batch.run_id
                    && !runs_shown.contains(&run)
                {
                    runs_shown.push(run);
                    let busy = panel.undoing.is_some() || panel.listing.is_some();
                    run_header_ui(
                        ui,
                        &panel.imports,
                        &mut panel.confirm_undo,
                        busy,
                        run,
                        actions,
                    );
                }
                ui.horizontal_wrapped(|ui| {
                    if batch.run_id.is_some() {
                        ui.weak("↳");
                    }
                    ui.label(theme::bold(format!("#{}", batch.id)));
                    if let Some(pass) = batch.sync_pass {
                        let what = if batch.kind == EntryKind::Removal {
                            "removals"
                        } else {
                            "changes"
                        };
                        ui.label(format!("pass {pass}, {what}"));
                    } else if batch.run_id.is_some() {
                        ui.label(format!("sheet '{}'", batch.sheet));
                    } else {
                        ui.label(&batch.file_name);
                    }
                    ui.weak(batch.entity.name());
                });
                let status_color = match batch.status {
                    ImportStatus::Finished => OK_TEXT,
                    ImportStatus::Undone => egui::Color32::GRAY,
                    _ => WARN_TEXT,
                };
                ui.horizontal_wrapped(|ui| {
                    ui.weak(&batch.started_at);
                    ui.label(RichText::new(batch.status.as_str()).color(status_color));
                    ui.weak(batch_counts(batch));
                });
                if batch.status != ImportStatus::Undone {
                    if panel.confirm_undo == Some(UndoTarget::Import(batch.id)) {
                        ui.label(
                            RichText::new(undo_question(batch))
                            .color(WARN_TEXT),
                        );
                        let buttons = ui.horizontal(|ui| {
                            if ui.button("Yes, undo it").clicked() {
                                actions.push(Action::Undo(UndoTarget::Import(batch.id)));
                            }
                            if ui.button("Keep it").clicked() {
                                panel.confirm_undo = None;
                            }
                        });
                        // At 1280x800 the buttons could sit below the fold.
                        if std::mem::take(&mut panel.reveal_confirm) {
                            buttons.response.scroll_to_me(Some(egui::Align::BOTTOM));
                        }
                    } else {
                        let busy = panel.busy();
                        let mut confirm = false;
                        ui.horizontal(|ui| {
                            confirm = ui
                                .add_enabled(!busy, egui::Button::new("Undo this import…"))
                                .clicked();
                            if ui
                                .button("Export its rows…")
                                .on_hover_text("The records this import stored, as CSV or Excel")
                                .clicked()
                            {
                                actions.push(Action::ExportImport(batch.id, batch.entity));
                            }
                        });
                        if confirm {
                            panel.confirm_undo = Some(UndoTarget::Import(batch.id));
                            panel.reveal_confirm = true;
                        }
                    }
                }
            }
        });
}

/// The line above a workbook run's imports: the run, and its undo.
fn run_header_ui(
    ui: &mut egui::Ui,
    imports: &[ImportBatch],
    confirm: &mut Option<UndoTarget>,
    busy: bool,
    run: i64,
    actions: &mut Vec<Action>,
) {
    let sheets: Vec<&ImportBatch> = imports.iter().filter(|b| b.run_id == Some(run)).collect();
    let file = sheets
        .first()
        .map(|b| b.file_name.clone())
        .unwrap_or_default();
    let live: Vec<&&ImportBatch> = sheets
        .iter()
        .filter(|b| b.status != ImportStatus::Undone)
        .collect();
    let stored: i64 = live.iter().map(|b| i64::from(b.succeeded)).sum();
    let updated: i64 = live.iter().map(|b| i64::from(b.updated)).sum();
    let count = sheets.len();
    // A sync's imports are its passes' (and its removals).
    let passes: std::collections::BTreeSet<i32> =
        sheets.iter().filter_map(|b| b.sync_pass).collect();
    ui.horizontal_wrapped(|ui| {
        if passes.is_empty() {
            ui.label(theme::bold(format!("Run #{run}")));
            ui.label(&file);
            ui.weak(format!("{count} sheets"));
        } else {
            ui.label(theme::bold(format!("Sync #{run}")));
            ui.label(&file);
            ui.weak(match passes.len() {
                1 => "kept in step, 1 pass wrote".to_owned(),
                n => format!("kept in step, {n} passes wrote"),
            });
        }
    });
    if stored == 0 && updated == 0 {
        return;
    }
    if *confirm == Some(UndoTarget::Run(run)) {
        let count = |n: i64| theme::thousands(u64::try_from(n).unwrap_or(0));
        let question = match (stored, updated) {
            (stored, 0) => format!(
                "Take the {} rows of every sheet of run #{run} out of the CRM?",
                count(stored)
            ),
            (0, updated) => format!(
                "Give the {} records run #{run} updated their values from before?",
                count(updated)
            ),
            (stored, updated) => format!(
                "Take the {} rows of every sheet of run #{run} out of the CRM, and give the {} records it updated their values from before?",
                count(stored),
                count(updated)
            ),
        };
        ui.label(
            RichText::new(format!("{question} Rows someone changed since are kept."))
                .color(WARN_TEXT),
        );
        ui.horizontal(|ui| {
            if ui.button("Yes, undo the run").clicked() {
                actions.push(Action::Undo(UndoTarget::Run(run)));
            }
            if ui.button("Keep it").clicked() {
                *confirm = None;
            }
        });
    } else if ui
        .add_enabled(!busy, egui::Button::new("Undo the whole run…"))
        .clicked()
    {
        *confirm = Some(UndoTarget::Run(run));
    }
}

/// An import's counts in a line: "11 stored, 3 updated, 32 skipped, 2 failed".
fn batch_counts(batch: &ImportBatch) -> String {
    let count = |n: i32| theme::thousands(u64::try_from(n).unwrap_or(0));
    // The history's `succeeded` counts the rows stored as new records.
    let stored = batch.succeeded;
    let mut parts = vec![format!("{} stored", count(stored))];
    if batch.updated > 0 {
        parts.push(format!("{} updated", count(batch.updated)));
    }
    if batch.skipped > 0 {
        parts.push(format!("{} skipped", count(batch.skipped)));
    }
    parts.push(format!("{} failed", count(batch.failed)));
    parts.join(", ")
}

/// What undoing an import will do, asked before it is done.
fn undo_question(batch: &ImportBatch) -> String {
    let count = |n: i32| theme::thousands(u64::try_from(n).unwrap_or(0));
    let stored = batch.succeeded;
    let mut what = Vec::new();
    if stored > 0 {
        what.push(format!(
            "take the {} {} it stored out of the CRM",
            count(stored),
            batch.entity.name()
        ));
    }
    if batch.updated > 0 {
        what.push(format!(
            "give the {} records it updated their values from before",
            count(batch.updated)
        ));
    }
    if what.is_empty() {
        return format!(
            "Import #{} stored and updated nothing; mark it undone?",
            batch.id
        );
    }
    let question = theme::capitalise(&what.join(" and "));
    format!(
        "{question} (import #{})? Rows someone changed since the import are kept.",
        batch.id
    )
}
