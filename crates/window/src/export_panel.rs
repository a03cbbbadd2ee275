//! The Export view (the seed's "Import/Export" page): an entity's live
//! records, or those one import stored, to CSV or XLSX, with a progress bar
//! for large tables.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::entity::Entity;
use pantry_core::export::{ExportFormat, ExportProgress, ExportSummary, export};
use pantry_core::history::{ImportBatch, ImportStatus};

use super::Action;
use super::task::{self, Task};
use super::theme::{self, FAIL_TEXT, OK_TEXT};

/// What to export, and the export running or last finished.
pub struct ExportForm {
    /// Which records.
    pub entity: Entity,
    /// Only those this import stored (`None`: every live record).
    pub import: Option<i64>,
    /// CSV or XLSX.
    pub format: ExportFormat,
    /// The file's name, without its extension, as the broker typed it
    /// (empty: named after what is exported).
    pub name: String,
    running: Option<(Arc<ExportProgress>, Task<Option<ExportSummary>>)>,
    /// What the last export came to.
    pub message: Option<Result<String, String>>,
}

impl Default for ExportForm {
    fn default() -> ExportForm {
        ExportForm {
            entity: Entity::Organizations,
            import: None,
            format: ExportFormat::Csv,
            name: String::new(),
            running: None,
            message: None,
        }
    }
}

impl ExportForm {
    /// Whether an export is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Asks where to save, then exports in the background. Where no file
    /// dialog can ask, the file goes to `beside` (a folder) under a name no
    /// earlier file has.
    pub fn start(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
        beside: PathBuf,
    ) {
        if self.running.is_some() {
            return;
        }
        let (entity, import) = (self.entity, self.import);
        let extension = match self.format {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        };
        let name = self.file_name();
        let progress = ExportProgress::new();
        let followed = Arc::clone(&progress);
        let repaint = ctx.clone();
        self.message = None;
        let task = task::spawn(runtime, ctx, async move {
            let path = match super::dialogs::save_target(
                "Export from the CRM",
                &beside.join("export"),
                &name,
                extension,
            )
            .await
            {
                super::dialogs::SaveTarget::Chosen(path)
                | super::dialogs::SaveTarget::Beside(path) => path,
                super::dialogs::SaveTarget::Cancelled => return Ok(None),
            };
            let mut client = settings.connect().await.map_err(|e| e.to_string())?;
            // The bar moves while the rows are written.
            let ticking = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    repaint.request_repaint();
                }
            });
            // A second connection lists the notes' keys meanwhile; without
            // one (a server at its connection limit) they are listed first.
            let mut helper = settings.connect().await.ok();
            let outcome = export(
                &mut client,
                helper.as_mut(),
                entity,
                import,
                &path,
                &followed,
            )
            .await;
            ticking.abort();
            outcome.map(Some).map_err(|e| e.to_string())
        });
        self.running = Some((progress, task));
    }

    /// The name the file is saved under (without extension): the broker's,
    /// with no folder in it, else one after what is exported.
    pub fn default_name(&self) -> String {
        match self.import {
            Some(id) => format!("{} of import {id}", self.entity.name()),
            None => self.entity.name().to_owned(),
        }
    }

    fn file_name(&self) -> String {
        let typed: String = self
            .name
            .trim()
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | ':') {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        let typed = typed
            .strip_suffix(".csv")
            .or_else(|| typed.strip_suffix(".xlsx"))
            .unwrap_or(&typed)
            .trim_matches('.')
            .to_owned();
        if typed.is_empty() {
            self.default_name()
        } else {
            typed
        }
    }

    /// Stops the running export at its next batch.
    pub fn cancel(&self) {
        if let Some((progress, _)) = &self.running {
            progress.cancel();
        }
    }

    /// Takes the answer once it has come.
    pub fn poll(&mut self) {
        let Some((progress, task)) = self.running.take() else {
            return;
        };
        let mut slot = Some(task);
        match task::take_ready(&mut slot) {
            None => self.running = slot.map(|task| (progress, task)),
            Some(Ok(None)) => {}
            Some(Ok(Some(summary))) => {
                self.message = Some(Ok(format!(
                    "✔ {} written to {}",
                    summary.entity.count(summary.rows),
                    summary.path.display()
                )));
            }
            Some(Err(message)) => self.message = Some(Err(message)),
        }
    }
}

/// The Export view. `imports` is the connected CRM's history, for choosing
/// one import's records.
pub fn export_ui(
    ui: &mut egui::Ui,
    form: &mut ExportForm,
    imports: &[ImportBatch],
    connected: bool,
    actions: &mut Vec<Action>,
) {
    ui.add_space(8.0);
    ui.label(theme::bold("Export from the CRM").size(24.0));
    ui.weak(
        "Records come out under the same column headers an import reads, so the file can be imported back unchanged.",
    );
    ui.add_space(12.0);
    let running = form.is_running();
    ui.add_enabled_ui(!running, |ui| choices_ui(ui, form, imports));
    ui.add_space(12.0);
    ui.horizontal(|ui| {
        let button = ui
            .add_enabled(connected && !running, theme::primary_button("Export…"))
            .on_disabled_hover_text(if running {
                "An export is running"
            } else {
                "Connect to the CRM first"
            });
        if button.clicked() {
            actions.push(Action::StartExport);
        }
        if running && ui.button("Cancel").clicked() {
            actions.push(Action::CancelExport);
        }
        if ui.button("Back").clicked() {
            actions.push(Action::Show(super::View::Preview));
        }
    });
    outcome_ui(ui, form);
}

/// What to export: the entity, all its records or one import's, the format.
fn choices_ui(ui: &mut egui::Ui, form: &mut ExportForm, imports: &[ImportBatch]) {
    egui::Grid::new("export form")
        .num_columns(2)
        .spacing([16.0, 10.0])
        .show(ui, |ui| {
            ui.label("Records");
            egui::ComboBox::from_id_salt("export entity")
                .selected_text(form.entity.title())
                .show_ui(ui, |ui| {
                    for entity in Entity::ALL {
                        if ui
                            .selectable_value(&mut form.entity, entity, entity.title())
                            .changed()
                        {
                            form.import = None;
                        }
                    }
                });
            ui.end_row();

            ui.label("Which");
            let of_entity: Vec<&ImportBatch> = imports
                .iter()
                .filter(|b| b.entity == form.entity && b.status != ImportStatus::Undone)
                .collect();
            let describe = |id: i64| {
                of_entity.iter().find(|b| b.id == id).map_or_else(
                    || format!("those of import #{id}"),
                    |b| format!("those of import #{id}: {} ({})", b.file_name, b.started_at),
                )
            };
            egui::ComboBox::from_id_salt("export which")
                .width(360.0)
                .selected_text(match form.import {
                    None => "every record in the CRM".to_owned(),
                    Some(id) => describe(id),
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.import, None, "every record in the CRM");
                    for batch in &of_entity {
                        ui.selectable_value(
                            &mut form.import,
                            Some(batch.id),
                            describe(batch.id),
                        );
                    }
                });
            ui.end_row();

            ui.label("As");
            ui.horizontal(|ui| {
                ui.radio_value(&mut form.format, ExportFormat::Csv, "CSV (UTF-8)")
                    .on_hover_text("Opens in Excel with accents intact");
                ui.radio_value(&mut form.format, ExportFormat::Xlsx, "Excel workbook")
                    .on_hover_text("Text stays text (ZIP codes keep their zeros), dates are dates, numbers numbers");
            });
            ui.end_row();

            let label = ui.label("File name");
            let default_name = form.default_name();
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut form.name)
                        .hint_text(default_name)
                        .desired_width(260.0),
                )
                .labelled_by(label.id);
                ui.weak(match form.format {
                    ExportFormat::Csv => ".csv",
                    ExportFormat::Xlsx => ".xlsx",
                })
                .on_hover_text(
                    "Offered in the save dialog; where none can open, the file is saved \
                     beside the open spreadsheet under this name, never over another file",
                );
            });
            ui.end_row();
        });
}

/// The running export's progress, then what it came to.
fn outcome_ui(ui: &mut egui::Ui, form: &ExportForm) {
    if let Some((progress, _)) = &form.running {
        let (total, written) = progress.counts();
        ui.add_space(8.0);
        let fraction = if total == 0 {
            0.0
        } else {
            written as f32 / total as f32
        };
        ui.add(
            egui::ProgressBar::new(fraction)
                .text(format!(
                    "{} of {} rows written",
                    theme::thousands(written),
                    theme::thousands(total)
                ))
                .animate(true),
        );
    }
    match &form.message {
        Some(Ok(message)) => {
            ui.add_space(8.0);
            ui.label(RichText::new(message).color(OK_TEXT));
        }
        Some(Err(message)) => {
            ui.add_space(8.0);
            ui.label(RichText::new(format!("✖ Could not export: {message}")).color(FAIL_TEXT));
        }
        None => {}
    }
}
