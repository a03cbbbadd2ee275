//! Past imports of the connected CRM, each with an Undo button.

use std::sync::mpsc::{self, Receiver};

use eframe::egui::{self, RichText};
use pantry_import::database::ConnectionSettings;
use pantry_import::history::{self, ImportBatch, ImportStatus, UndoReport};

use super::Action;
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};

enum HistoryAnswer {
    Listed(Result<Vec<ImportBatch>, String>),
    Undone(Result<UndoReport, String>),
}

/// The list and what the last undo said.
#[derive(Default)]
pub struct HistoryPanel {
    pub imports: Vec<ImportBatch>,
    pub message: Option<String>,
    pub loaded: bool,
    busy: bool,
    receiver: Option<Receiver<HistoryAnswer>>,
    /// An undo waiting for the broker to confirm.
    pub confirm_undo: Option<i64>,
}

impl HistoryPanel {
    /// Reloads the list in the background.
    pub fn refresh(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
    ) {
        self.spawn(runtime, ctx, async move {
            let listed = match settings.connect().await {
                Ok(client) => history::list(&client, 20).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            HistoryAnswer::Listed(listed)
        });
    }

    /// Soft-deletes the rows of import `id` (edited rows are spared).
    pub fn undo(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
        id: i64,
    ) {
        self.confirm_undo = None;
        self.spawn(runtime, ctx, async move {
            let undone = match settings.connect().await {
                Ok(mut client) => history::undo(&mut client, id, false)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            HistoryAnswer::Undone(undone)
        });
    }

    fn spawn(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        work: impl std::future::Future<Output = HistoryAnswer> + Send + 'static,
    ) {
        let (sender, receiver) = mpsc::channel();
        let ctx = ctx.clone();
        runtime.spawn(async move {
            let _ = sender.send(work.await);
            ctx.request_repaint();
        });
        self.receiver = Some(receiver);
        self.busy = true;
    }

    /// Picks up answers; true when an undo finished (so the list should reload).
    pub fn poll(&mut self) -> bool {
        let Some(receiver) = &self.receiver else {
            return false;
        };
        let Ok(answer) = receiver.try_recv() else {
            return false;
        };
        self.receiver = None;
        self.busy = false;
        match answer {
            HistoryAnswer::Listed(Ok(imports)) => {
                self.imports = imports;
                self.loaded = true;
                false
            }
            HistoryAnswer::Listed(Err(error)) => {
                self.message = Some(format!("✖ Cannot read the import history: {error}"));
                false
            }
            HistoryAnswer::Undone(Ok(report)) => {
                let mut message = format!(
                    "✔ Import {}: {} rows removed (soft-deleted).",
                    report.import_id,
                    theme::thousands(report.soft_deleted)
                );
                if !report.edited_left_alone.is_empty() {
                    message.push_str(&format!(
                        " {} rows edited since the import were left alone.",
                        report.edited_left_alone.len()
                    ));
                }
                self.message = Some(message);
                true
            }
            HistoryAnswer::Undone(Err(error)) => {
                self.message = Some(format!("✖ Undo failed: {error}"));
                false
            }
        }
    }
}

pub fn history_ui(ui: &mut egui::Ui, panel: &mut HistoryPanel, actions: &mut Vec<Action>) {
    egui::CollapsingHeader::new(theme::bold("Past imports"))
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!panel.busy, egui::Button::new("Refresh"))
                    .clicked()
                {
                    actions.push(Action::RefreshHistory);
                }
                if panel.busy {
                    ui.spinner();
                }
            });
            if let Some(message) = &panel.message {
                let color = if message.starts_with('✖') {
                    FAIL_TEXT
                } else {
                    OK_TEXT
                };
                ui.add(egui::Label::new(RichText::new(message).color(color)).wrap());
            }
            if panel.loaded && panel.imports.is_empty() {
                ui.weak("No imports into this database yet.");
            }
            for batch in &panel.imports {
                ui.separator();
                ui.horizontal_wrapped(|ui| {
                    ui.label(theme::bold(format!("#{}", batch.id)));
                    ui.label(&batch.file_name);
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
                    ui.weak(format!(
                        "{} stored, {} failed",
                        theme::thousands(u64::try_from(batch.succeeded).unwrap_or(0)),
                        theme::thousands(u64::try_from(batch.failed).unwrap_or(0))
                    ));
                });
                if batch.status != ImportStatus::Undone {
                    if panel.confirm_undo == Some(batch.id) {
                        ui.label(
                            RichText::new(format!(
                                "Remove the {} {} of import #{}? Rows edited since stay.",
                                theme::thousands(u64::try_from(batch.succeeded).unwrap_or(0)),
                                batch.entity.name(),
                                batch.id
                            ))
                            .color(WARN_TEXT),
                        );
                        ui.horizontal(|ui| {
                            if ui.button("Yes, undo it").clicked() {
                                actions.push(Action::UndoImport(batch.id));
                            }
                            if ui.button("Keep it").clicked() {
                                panel.confirm_undo = None;
                            }
                        });
                    } else if ui
                        .add_enabled(!panel.busy, egui::Button::new("Undo this import…"))
                        .clicked()
                    {
                        panel.confirm_undo = Some(batch.id);
                    }
                }
            }
        });
}
