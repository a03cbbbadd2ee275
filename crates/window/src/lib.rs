//! The desktop window. State lives in [`PantryApp`]; each panel has its own
//! file whose `*_ui` function only draws and records what the user asked for.
//! Background work (reading a file, testing a connection, importing) runs on
//! threads or the tokio runtime and reports through channels that
//! [`PantryApp::logic`] drains every frame; workers wake the window with
//! `request_repaint`.

mod about;
pub mod connection;
pub mod crm_matches;
pub mod export_panel;
pub mod fixing;
pub mod history_panel;
pub mod import_panel;
mod open_file;
pub mod preview;
mod results;
mod sidebar;
mod task;
pub mod theme;
pub mod verification;
pub mod workbook_panel;

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use pantry_core::entity::Entity;
use pantry_core::import::ImportOptions;
use pantry_core::links::{LinkPolicies, LinkPolicy};

use connection::ConnectionForm;
use import_panel::ImportRun;
use pantry_core::workbook::WorkbookPlan;
use preview::{Preview, PreviewLoader};
use workbook_panel::WorkbookRun;

/// Where the connection is remembered between runs (never with a password).
const CONNECTION_KEY: &str = "connection";

/// Where the column choices made for each set of headers are remembered.
const MAPPINGS_KEY: &str = "mappings";

/// The key a sheet's mapping is remembered by: its headers, in order.
fn header_set_key(headers: &[String]) -> String {
    headers
        .iter()
        .map(|h| h.trim())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Opens the window; `file` is previewed at once when given.
pub fn run(file: Option<PathBuf>) -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(window_title(file.as_deref()))
        .with_app_id("pantry-import")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([720.0, 480.0])
        .with_drag_and_drop(true);
    // The same icon as the desktop entry's, for the title bar and task bar.
    if let Ok(icon) = eframe::icon_data::from_png_bytes(include_bytes!(
        "../../../assets/icons/256x256/pantry-import.png"
    )) {
        viewport = viewport.with_icon(Arc::new(icon));
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "Pantry Import",
        options,
        Box::new(move |cc| Ok(Box::new(PantryApp::new(cc, file)))),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// "Pantry Import — accounts.xlsx" once a file is open.
pub fn window_title(file: Option<&std::path::Path>) -> String {
    match file.and_then(|f| f.file_name()) {
        Some(name) => format!("Pantry Import — {}", name.to_string_lossy()),
        None => "Pantry Import".to_owned(),
    }
}

/// What the user did this frame that needs more than drawing.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    OpenDialog,
    OpenPath(PathBuf),
    PickSheet(String),
    /// Read the open file's rows as another entity.
    PickEntity(Entity),
    /// Leave the sheet on screen out of the workbook's import.
    SkipSheet,
    /// Send a column (by its header) to a field, to import notes
    /// (`import_notes`), or nowhere (`None`).
    SetColumnTarget(String, Option<String>),
    /// Apply the choices remembered for these headers (`true`), or not.
    UseRememberedMapping(bool),
    /// Read the header from this row (`None`: find it automatically).
    SetHeaderRow(Option<u64>),
    /// Import a row that looks like a totals row (`true`), or skip it again.
    KeepTotalsRow(u64, bool),
    /// Import `text` for a cell (row number, column index) instead of the
    /// file's (`None`: the file's again); `then_next` opens the next problem.
    EditCell {
        row: u64,
        column: usize,
        text: Option<String>,
        then_next: bool,
    },
    /// Leave a row out of the import (`true`), or put it back.
    RemoveRow(u64, bool),
    /// Apply a clean-up kind to the whole sheet (`true`), or undo it.
    ApplyCleanUp(pantry_core::clean::CleanUp, bool),
    /// Map a value of an enumerated field, as written, to an allowed value
    /// (`None`: leave it to the field's rule).
    MapValue(&'static str, String, Option<String>),
    /// Write the column choices to a mapping file.
    SaveMapping,
    /// Apply a mapping file's choices.
    LoadMapping,
    /// Import every sheet of the workbook as one run.
    StartWorkbookImport,
    /// What a link column does with names the CRM lacks.
    SetLinkPolicy(&'static str, LinkPolicy),
    /// What rows matching records already in the CRM do.
    SetDuplicatePolicy(pantry_core::duplicates::DuplicatePolicy),
    /// What one row matching a CRM record does (`None`: as the import).
    SetRowDuplicatePolicy(u64, Option<pantry_core::duplicates::DuplicatePolicy>),
    /// Look for the open sheet's rows in the CRM.
    ScanCrmMatches,
    /// The record a link column's name (by its key) stands for, among the
    /// several it matches.
    PickLinkTarget(&'static str, String, uuid::Uuid),
    TestConnection,
    Migrate,
    StartImport,
    /// Import a file the history says was imported completely before.
    ImportAgainAnyway,
    DismissRepeat,
    RefreshHistory,
    UndoImport(i64),
    /// Undo every sheet of a workbook run.
    UndoRun(i64),
    CancelImport,
    SaveErrorReport,
    /// Show the Export view.
    ShowExport,
    /// Show the Export view set to one import's records.
    ExportImport(i64, Entity),
    HideExport,
    StartExport,
    CancelExport,
    /// Save the rows imported with warnings, with each warning, as CSV.
    SaveWarnings,
    ShowResults,
    ShowPreview,
    StartOver,
    ShowAbout,
}

/// What saving or loading a mapping file came to.
enum MappingFileAnswer {
    Saved(PathBuf),
    Loaded(pantry_core::saved_mapping::SavedMapping),
    Failed(String),
    Cancelled,
}

/// What a native file dialog gave back.
enum DialogAnswer {
    Picked(PathBuf),
    Cancelled,
    /// The desktop has no dialog to show (on Linux: no XDG desktop portal).
    Unavailable,
}

/// A dialog that "returns nothing" faster than a person can press Cancel
/// was never shown: rfd reports a missing portal the same way as a cancel.
fn dialog_unavailable(asked: std::time::Instant) -> bool {
    asked.elapsed() < std::time::Duration::from_millis(250)
}

/// The whole state of the window.
pub struct PantryApp {
    runtime: Arc<tokio::runtime::Runtime>,
    ctx: egui::Context,
    /// The file being previewed, and its loader while it still reads.
    pub preview: Option<Preview>,
    loader: Option<PreviewLoader>,
    pub connection: ConnectionForm,
    pub import: Option<ImportRun>,
    /// A finished earlier import of the same file, while the broker decides.
    pub repeat_question: Option<pantry_core::history::ImportBatch>,
    /// The open workbook's sheets and what each is imported as (once read).
    pub workbook: Option<WorkbookPlan>,
    workbook_task: Option<task::Task<WorkbookPlan>>,
    /// Counts of each sheet previewed so far.
    pub sheet_counts: workbook_panel::SheetCounts,
    /// The import of every sheet of the workbook, running or finished.
    pub workbook_run: Option<WorkbookRun>,
    /// A finished earlier run of the same workbook, while the broker decides.
    pub repeat_run: Option<pantry_core::history::ImportRun>,
    /// What the workbook's link columns name, in the workbook and the CRM.
    pub link_summary: workbook_panel::LinkSummaryState,
    pub history: history_panel::HistoryPanel,
    /// Per link column of the open file, what names the CRM lacks do.
    pub link_policies: LinkPolicies,
    /// What rows matching records already in the CRM do.
    pub on_duplicate: pantry_core::duplicates::DuplicatePolicy,
    /// The open sheet's rows found in the CRM, when looked for.
    pub crm_matches: crm_matches::CrmMatchesState,
    /// The broker's column choices for the open file, applied to the
    /// preview and the import.
    pub mapping: pantry_core::saved_mapping::SavedMapping,
    /// The last choices made for each set of headers, kept between runs.
    remembered_mappings:
        std::collections::HashMap<String, pantry_core::saved_mapping::SavedMapping>,
    /// Choices remembered for the open file's headers, while the broker
    /// decides whether to use them.
    pub offered_mapping: Option<pantry_core::saved_mapping::SavedMapping>,
    /// The broker's edits to rows of the open sheet.
    pub edits: pantry_core::edits::SheetEdits,
    /// The open file's size and time of change when the edits were made:
    /// edits name rows and columns, so they hold only for that content.
    edits_stamp: Option<(u64, Option<std::time::SystemTime>)>,
    mapping_dialog: Option<task::Task<MappingFileAnswer>>,
    /// Whether the results of the last import are on screen.
    pub showing_results: bool,
    /// A problem to show at the top of the window until dismissed.
    pub error: Option<String>,
    /// Path typed into the "open" box.
    pub typed_path: String,
    pending: Vec<Action>,
    file_dialog: Option<task::Task<DialogAnswer>>,
    /// The last message about saving the error report.
    pub save_message: Option<String>,
    /// The last message about saving or loading a mapping file.
    pub mapping_message: Option<String>,
    save_dialog: Option<task::Task<Option<String>>>,
    /// The connection the history was listed for, to notice a change.
    history_connection: Option<String>,
    /// The window's title as last set.
    pub title: String,
    /// Whether the About window is open.
    pub showing_about: bool,
    /// What the last import stored, checked in the database.
    pub verification: verification::VerificationState,
    /// The Export view's choices and its running export.
    pub export: export_panel::ExportForm,
    /// Whether the Export view is on screen.
    pub showing_export: bool,
}

impl PantryApp {
    /// Builds the app, restoring the remembered connection and previewing
    /// `file` if given.
    pub fn new(cc: &eframe::CreationContext<'_>, file: Option<PathBuf>) -> PantryApp {
        theme::install(&cc.egui_ctx);
        let remembered: Option<connection::RememberedConnection> = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, CONNECTION_KEY));
        let mut connection = remembered.map(ConnectionForm::from).unwrap_or_default();
        let remembered_mappings = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, MAPPINGS_KEY))
            .unwrap_or_default();
        let mut pending = Vec::new();
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            connection.fill_from_url(&url);
            // A connection given from outside (scripts/demo) is tried at once.
            pending.push(Action::TestConnection);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pantry-import worker")
            .enable_all()
            .build()
            .map(Arc::new);
        let (runtime, error) = match runtime {
            Ok(runtime) => (runtime, None),
            Err(e) => {
                // Without a runtime nothing can connect; the preview still works.
                let fallback = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .map(Arc::new)
                    .unwrap_or_else(|_| std::process::abort());
                (
                    fallback,
                    Some(format!("Cannot start background workers: {e}")),
                )
            }
        };
        let mut app = PantryApp {
            runtime,
            ctx: cc.egui_ctx.clone(),
            preview: None,
            loader: None,
            connection,
            import: None,
            repeat_question: None,
            workbook: None,
            workbook_task: None,
            sheet_counts: workbook_panel::SheetCounts::new(),
            workbook_run: None,
            repeat_run: None,
            link_summary: workbook_panel::LinkSummaryState::default(),
            history: history_panel::HistoryPanel::default(),
            link_policies: LinkPolicies::default(),
            on_duplicate: pantry_core::duplicates::DuplicatePolicy::default(),
            crm_matches: crm_matches::CrmMatchesState::default(),
            mapping: pantry_core::saved_mapping::SavedMapping::default(),
            remembered_mappings,
            offered_mapping: None,
            edits: pantry_core::edits::SheetEdits::default(),
            edits_stamp: None,
            mapping_dialog: None,
            showing_results: false,
            error,
            typed_path: String::new(),
            pending,
            file_dialog: None,
            save_message: None,
            mapping_message: None,
            save_dialog: None,
            history_connection: None,
            title: window_title(None),
            showing_about: false,
            verification: verification::VerificationState::default(),
            export: export_panel::ExportForm::default(),
            showing_export: false,
        };
        if let Some(file) = file {
            app.open(file, None, None);
        }
        app
    }

    /// Starts reading `path` in the background as `entity` (or what its
    /// sheet shows); the first rows show at once.
    pub fn open(&mut self, path: PathBuf, sheet: Option<String>, entity: Option<Entity>) {
        if self.is_importing() {
            self.error = Some(
                "An import is running; cancel it or wait before opening another file.".to_owned(),
            );
            return;
        }
        if !path.is_file() {
            // Stay where the broker is: a typo should not become an empty preview.
            self.error = Some(if path.exists() {
                format!("{} is a folder, not a spreadsheet.", path.display())
            } else {
                format!(
                    "There is no file at {}. Check the spelling, or drop the file on the window.",
                    path.display()
                )
            });
            return;
        }
        self.error = None;
        // Changed on disk since the edits were made: they would land on
        // other rows.
        let same_file = self.preview.as_ref().is_some_and(|p| p.path == path);
        if same_file
            && !self.edits.is_empty()
            && self.edits_stamp.is_some()
            && file_stamp(&path) != self.edits_stamp
        {
            self.error = Some(format!(
                "{} changed on disk since you edited it; your changes to its rows were set aside.",
                path.display()
            ));
            self.edits = pantry_core::edits::SheetEdits::default();
            self.edits_stamp = None;
        }
        self.showing_results = false;
        self.import = None;
        self.workbook_run = None;
        self.repeat_run = None;
        self.save_message = None;
        // Choices for link columns hold for this file, across sheets and entities.
        if self
            .preview
            .as_ref()
            .is_none_or(|p| p.path != path || p.sheet != sheet)
        {
            // Column choices belong to one sheet's headers, edits to its
            // rows; a workbook's sheet keeps those made on its tab.
            let kept = self
                .workbook
                .as_ref()
                .filter(|_| self.preview.as_ref().is_some_and(|p| p.path == path))
                .zip(sheet.as_deref())
                .and_then(|(plan, sheet)| plan.sheet(sheet));
            self.mapping = kept.map(|s| s.mapping.clone()).unwrap_or_default();
            self.edits = kept.map(|s| s.edits.clone()).unwrap_or_default();
        }
        if self.preview.as_ref().is_none_or(|p| p.path != path) {
            self.mapping_message = None;
            self.link_policies = LinkPolicies::default();
            self.workbook = None;
            self.sheet_counts.clear();
            self.link_summary = workbook_panel::LinkSummaryState::default();
            self.workbook_task = WorkbookPlan::may_hold_sheets(&path)
                .then(|| workbook_panel::read_plan(&self.runtime, &self.ctx, path.clone()));
        }
        self.typed_path = path.display().to_string();
        // What the CRM holds was looked up for the rows as they were.
        self.crm_matches = crm_matches::CrmMatchesState::default();
        // Read again with other choices, the same row stays selected.
        let reselect = self
            .preview
            .as_ref()
            .filter(|p| p.path == path && p.sheet == sheet)
            .and_then(Preview::selected_number);
        let (mut preview, loader) = preview::start_loading(
            preview::PreviewRequest {
                path,
                sheet,
                entity,
                mapping: self.mapping.clone(),
                edits: self.edits.clone(),
            },
            self.ctx.clone(),
        );
        preview.reselect = reselect;
        self.preview = Some(preview);
        self.loader = Some(loader);
    }

    /// Whether an import (of a sheet or of the whole workbook) is running.
    pub fn is_importing(&self) -> bool {
        self.import.as_ref().is_some_and(ImportRun::is_running)
            || self
                .workbook_run
                .as_ref()
                .is_some_and(WorkbookRun::is_running)
    }

    /// Whether the preview has finished loading.
    pub fn preview_ready(&self) -> bool {
        self.preview.as_ref().is_some_and(|p| p.finished)
    }

    fn handle(&mut self, action: Action) {
        match action {
            Action::OpenDialog => self.open_dialog(),
            Action::OpenPath(path) => self.open(path, None, None),
            Action::PickSheet(sheet) => {
                if let Some(path) = self.preview.as_ref().map(|p| p.path.clone()) {
                    // As the workbook's plan has it, which the broker may have changed.
                    let entity = self.workbook.as_ref().and_then(|plan| {
                        plan.sheets
                            .iter()
                            .find(|s| s.sheet == sheet)
                            .and_then(|s| s.entity)
                    });
                    self.open(path, Some(sheet), entity);
                }
            }
            Action::PickEntity(entity) => {
                if let Some(preview) = &self.preview {
                    let (path, sheet) = (preview.path.clone(), preview.sheet.clone());
                    // Column choices name the fields of the entity they were made for.
                    self.mapping = pantry_core::saved_mapping::SavedMapping::default();
                    if let (Some(plan), Some(sheet)) = (&mut self.workbook, &sheet) {
                        workbook_panel::set_sheet_entity(plan, sheet, Some(entity));
                        self.link_summary = workbook_panel::LinkSummaryState::default();
                    }
                    self.open(path, sheet, Some(entity));
                }
            }
            Action::SkipSheet => {
                if let (Some(plan), Some(sheet)) = (
                    &mut self.workbook,
                    self.preview.as_ref().and_then(|p| p.sheet.as_deref()),
                ) {
                    workbook_panel::set_sheet_entity(plan, sheet, None);
                    self.link_summary = workbook_panel::LinkSummaryState::default();
                }
            }
            Action::StartWorkbookImport => self.start_workbook_import(false),
            Action::SetColumnTarget(header, target) => {
                self.change_mapping(|mapping| {
                    mapping.columns.insert(header, target);
                });
            }
            Action::SetHeaderRow(row) => {
                // Another header row means other headers: their choices go.
                self.change_mapping(|mapping| {
                    mapping.header_row = row;
                    mapping.columns.clear();
                });
            }
            Action::MapValue(field, written, target) => {
                self.change_mapping(|mapping| {
                    let values = mapping.values.entry(field.to_owned()).or_default();
                    values.retain(|from, _| !from.trim().eq_ignore_ascii_case(written.trim()));
                    if let Some(target) = target {
                        values.insert(written, target);
                    }
                    if values.is_empty() {
                        mapping.values.remove(field);
                    }
                });
            }
            Action::KeepTotalsRow(row, keep) => {
                self.change_edits(|edits| set_member(&mut edits.kept_totals_rows, row, keep));
            }
            Action::EditCell {
                row,
                column,
                text,
                then_next,
            } => {
                self.change_edits(|edits| edits.set_cell(row, column, text));
                if then_next && let Some(preview) = &mut self.preview {
                    preview.edit_next_after = Some((row, column));
                }
            }
            Action::RemoveRow(row, remove) => {
                self.change_edits(|edits| set_member(&mut edits.removed_rows, row, remove));
            }
            Action::ApplyCleanUp(kind, apply) => {
                self.change_edits(|edits| set_member(&mut edits.clean, kind, apply));
            }
            Action::SaveMapping => self.save_mapping(),
            Action::LoadMapping => self.load_mapping(),
            Action::UseRememberedMapping(use_it) => {
                if let (Some(offered), true) = (self.offered_mapping.take(), use_it) {
                    self.apply_mapping(offered);
                }
            }
            Action::SetDuplicatePolicy(policy) => self.on_duplicate = policy,
            Action::SetRowDuplicatePolicy(row, policy) => match policy {
                Some(policy) => {
                    self.edits.duplicate_choices.insert(row, policy);
                }
                None => {
                    self.edits.duplicate_choices.remove(&row);
                }
            },
            Action::ScanCrmMatches => {
                if let (Some(preview), Ok(settings)) = (&self.preview, self.connection.settings()) {
                    let options = ImportOptions {
                        sheet: preview.sheet.clone(),
                        entity: Some(preview.entity),
                        links: self.link_policies.clone(),
                        mapping: self.mapping.clone(),
                        edits: self.edits.clone(),
                        ..ImportOptions::default()
                    };
                    self.crm_matches.start(
                        &self.runtime,
                        &self.ctx,
                        preview.path.clone(),
                        options,
                        settings,
                    );
                }
            }
            Action::SetLinkPolicy(field, policy) => {
                self.link_policies.by_field.insert(field.to_owned(), policy);
            }
            Action::PickLinkTarget(field, key, id) => {
                self.link_policies
                    .picked
                    .insert((field.to_owned(), key), id);
            }
            Action::TestConnection => self.connection.test(&self.runtime, &self.ctx),
            Action::Migrate => self.connection.migrate(&self.runtime, &self.ctx),
            Action::StartImport => self.start_import(false),
            Action::ImportAgainAnyway => {
                if self.repeat_run.is_some() {
                    self.start_workbook_import(true);
                } else {
                    self.start_import(true);
                }
            }
            Action::DismissRepeat => {
                self.repeat_question = None;
                self.repeat_run = None;
            }
            Action::RefreshHistory => self.refresh_history(),
            Action::UndoImport(id) => {
                if let Ok(settings) = self.connection.settings() {
                    self.history.undo(&self.runtime, &self.ctx, settings, id);
                }
            }
            Action::UndoRun(run) => {
                if let Ok(settings) = self.connection.settings() {
                    self.history
                        .undo_run(&self.runtime, &self.ctx, settings, run);
                }
            }
            Action::CancelImport => {
                if let Some(run) = &self.import {
                    run.progress.cancel();
                }
                if let Some(run) = &self.workbook_run {
                    run.progress.cancel();
                }
            }
            Action::ShowExport => self.showing_export = true,
            Action::ExportImport(id, entity) => {
                if !self.export.is_running() {
                    self.export.entity = entity;
                    self.export.import = Some(id);
                }
                self.showing_export = true;
            }
            Action::HideExport => self.showing_export = false,
            Action::StartExport => {
                if let Ok(settings) = self.connection.settings() {
                    // Without a file dialog: beside the open file, else here.
                    let folder = self
                        .preview
                        .as_ref()
                        .and_then(|p| p.path.parent().map(std::path::Path::to_path_buf))
                        .or_else(|| std::env::current_dir().ok())
                        .unwrap_or_default();
                    self.export
                        .start(&self.runtime, &self.ctx, settings, folder);
                }
            }
            Action::CancelExport => self.export.cancel(),
            Action::SaveErrorReport => self.save_report(false),
            Action::SaveWarnings => self.save_report(true),
            Action::ShowResults => {
                self.showing_results = self.import.is_some() || self.workbook_run.is_some();
            }
            Action::ShowPreview => self.showing_results = false,
            Action::ShowAbout => self.showing_about = true,
            Action::StartOver => {
                if self.is_importing() {
                    return;
                }
                self.preview = None;
                self.loader = None;
                self.import = None;
                self.workbook = None;
                self.workbook_task = None;
                self.workbook_run = None;
                self.sheet_counts.clear();
                self.showing_results = false;
                self.typed_path.clear();
                self.save_message = None;
                self.verification.clear();
            }
        }
    }

    /// Changes the edits of the open sheet and reads it again with them;
    /// the first edit notes the file's stamp, since edits name its rows.
    fn change_edits(&mut self, change: impl FnOnce(&mut pantry_core::edits::SheetEdits)) {
        if self.edits.is_empty()
            && let Some(preview) = &self.preview
        {
            self.edits_stamp = file_stamp(&preview.path);
        }
        change(&mut self.edits);
        self.reload();
    }

    /// Changes the open sheet's mapping, remembers it for its headers, and
    /// reads the sheet again with it.
    fn change_mapping(
        &mut self,
        change: impl FnOnce(&mut pantry_core::saved_mapping::SavedMapping),
    ) {
        let Some(preview) = &self.preview else {
            return;
        };
        change(&mut self.mapping);
        self.mapping.entity = Some(preview.entity.name().to_owned());
        self.offered_mapping = None;
        // Remembered once read, by the headers it gives.
        self.reload();
    }

    /// Reads the open sheet again, as the same entity, with the current
    /// mapping and edits.
    fn reload(&mut self) {
        if let Some(preview) = &self.preview {
            let (path, sheet, entity) =
                (preview.path.clone(), preview.sheet.clone(), preview.entity);
            self.open(path, sheet, Some(entity));
        }
    }

    fn save_mapping(&mut self) {
        let Some(preview) = &self.preview else {
            return;
        };
        if self.mapping_dialog.is_some() {
            return;
        }
        let mut mapping = self.mapping.clone();
        mapping.entity = Some(preview.entity.name().to_owned());
        let spreadsheet = preview.path.clone();
        let stem = spreadsheet
            .file_stem()
            .map_or_else(|| "sheet".to_owned(), |s| s.to_string_lossy().into_owned());
        self.mapping_dialog = Some(task::spawn(&self.runtime, &self.ctx, async move {
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
        }));
    }

    fn load_mapping(&mut self) {
        if self.mapping_dialog.is_some() || self.preview.is_none() {
            return;
        }
        self.mapping_dialog = Some(task::spawn(&self.runtime, &self.ctx, async move {
            let asked = std::time::Instant::now();
            let picked = rfd::AsyncFileDialog::new()
                .set_title("Load a mapping")
                .add_filter("Mapping", &["json"])
                .pick_file()
                .await
                .map(|h| h.path().to_path_buf());
            Ok(match picked {
                Some(path) => match pantry_core::saved_mapping::SavedMapping::read(&path) {
                    Ok(mapping) => MappingFileAnswer::Loaded(mapping),
                    Err(e) => MappingFileAnswer::Failed(e.to_string()),
                },
                None if dialog_unavailable(asked) => MappingFileAnswer::Failed(
                    "No file dialog is available on this desktop to pick a mapping file."
                        .to_owned(),
                ),
                None => MappingFileAnswer::Cancelled,
            })
        }));
    }

    /// Applies a mapping file's choices to the open sheet.
    pub fn apply_mapping(&mut self, mapping: pantry_core::saved_mapping::SavedMapping) {
        let Some(preview) = &self.preview else {
            return;
        };
        let (path, sheet) = (preview.path.clone(), preview.sheet.clone());
        let entity = mapping.entity().unwrap_or(preview.entity);
        self.mapping = mapping;
        self.offered_mapping = None;
        self.open(path, sheet, Some(entity));
    }

    fn open_dialog(&mut self) {
        if self.file_dialog.is_some() || self.is_importing() {
            return;
        }
        self.file_dialog = Some(task::spawn(&self.runtime, &self.ctx, async move {
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
        }));
    }

    fn refresh_history(&mut self) {
        if let Ok(settings) = self.connection.settings() {
            self.history.refresh(&self.runtime, &self.ctx, settings);
        }
    }

    fn start_import(&mut self, again: bool) {
        self.repeat_question = None;
        let Some(preview) = &self.preview else {
            return;
        };
        let settings = match self.connection.settings() {
            Ok(settings) => settings,
            Err(message) => {
                self.connection.status = connection::ConnectionStatus::Failed(message);
                return;
            }
        };
        self.save_message = None;
        self.workbook_run = None;
        self.import = Some(ImportRun::start(
            &self.runtime,
            &self.ctx,
            preview.path.clone(),
            ImportOptions {
                sheet: preview.sheet.clone(),
                entity: Some(preview.entity),
                links: self.link_policies.clone(),
                again,
                mapping: self.mapping.clone(),
                edits: self.edits.clone(),
                on_duplicate: self.on_duplicate,
                ..ImportOptions::default()
            },
            settings,
            preview.counts,
        ));
        self.showing_results = false;
    }

    fn start_workbook_import(&mut self, again: bool) {
        self.repeat_run = None;
        let (Some(preview), Some(plan)) = (&self.preview, &self.workbook) else {
            return;
        };
        let settings = match self.connection.settings() {
            Ok(settings) => settings,
            Err(message) => {
                self.connection.status = connection::ConnectionStatus::Failed(message);
                return;
            }
        };
        self.save_message = None;
        self.import = None;
        self.workbook_run = Some(WorkbookRun::start(
            &self.runtime,
            &self.ctx,
            preview.path.clone(),
            plan,
            ImportOptions {
                links: self.link_policies.clone(),
                again,
                on_duplicate: self.on_duplicate,
                ..ImportOptions::default()
            },
            settings,
        ));
        self.showing_results = false;
    }

    /// Checks in the database what `imports` stored (each with its file).
    fn verify(&mut self, imports: Vec<(i64, PathBuf)>) {
        if let Ok(settings) = self.connection.settings() {
            self.verification
                .start(&self.runtime, &self.ctx, settings, imports);
        }
    }

    /// Saves the last run's error report, or its warnings (`warnings`).
    fn save_report(&mut self, warnings: bool) {
        let failed = match (&self.import, &self.workbook_run) {
            (Some(run), _) => run.report().cloned().map(results::FailedRows::Sheet),
            (None, Some(run)) => run.report().cloned().map(results::FailedRows::Run),
            (None, None) => None,
        };
        let Some(failed) = failed else {
            return;
        };
        let failed_file = failed.file().to_path_buf();
        let stem = failed_file
            .file_stem()
            .map_or_else(|| "import".to_owned(), |s| s.to_string_lossy().into_owned());
        let (name, title) = if warnings {
            (format!("{stem} - warnings"), "Save the warnings")
        } else {
            (format!("{stem} - errors"), "Save the error report")
        };
        let write = move |path: &std::path::Path| {
            if warnings {
                failed.write_warnings(path)
            } else {
                failed.write(path)
            }
        };
        self.save_dialog = Some(task::spawn(&self.runtime, &self.ctx, async move {
            let spreadsheet = failed_file;
            Ok(match save_target(title, &spreadsheet, &name, "csv").await {
                // The dialog itself asks before replacing a file.
                SaveTarget::Chosen(path) => Some(write(&path)),
                SaveTarget::Beside(path) => Some(format!(
                    "No file dialog is available on this desktop. {}",
                    write(&path)
                )),
                SaveTarget::Cancelled => None,
            })
        }));
    }
}

/// Puts `item` in `set` or takes it out.
fn set_member<T: Ord>(set: &mut std::collections::BTreeSet<T>, item: T, member: bool) {
    if member {
        set.insert(item);
    } else {
        set.remove(&item);
    }
}

/// A file's size and time of change, to notice it changed on disk.
fn file_stamp(path: &std::path::Path) -> Option<(u64, Option<std::time::SystemTime>)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()))
}

/// Where the broker wants a file saved.
enum SaveTarget {
    /// Chosen in the dialog (which asked before replacing a file).
    Chosen(PathBuf),
    /// The desktop has no dialog: beside the spreadsheet, under a name no
    /// earlier file has.
    Beside(PathBuf),
    Cancelled,
}

/// Asks where to save `NAME.EXTENSION`, a file that belongs with `spreadsheet`.
async fn save_target(
    title: &str,
    spreadsheet: &std::path::Path,
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
            SaveTarget::Beside(results::free_path_beside(spreadsheet, name, extension))
        }
        None => SaveTarget::Cancelled,
    }
}

impl eframe::App for PantryApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // Files dropped on the window.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.pending.push(Action::OpenPath(path));
        }
        // Ctrl+O (Cmd+O) opens a file from any screen, whatever the width.
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::O)) {
            self.pending.push(Action::OpenDialog);
        }
        match task::take_ready(&mut self.file_dialog) {
            Some(Ok(DialogAnswer::Picked(path))) => self.pending.push(Action::OpenPath(path)),
            Some(Ok(DialogAnswer::Cancelled)) | None => {}
            Some(Ok(DialogAnswer::Unavailable)) => {
                self.error = Some(
                    "No file dialog is available on this desktop. Drop the file on the window, \
                     or go back with Open another file… and type its path."
                        .to_owned(),
                );
            }
            Some(Err(message)) => self.error = Some(format!("The file dialog failed: {message}")),
        }
        match task::take_ready(&mut self.save_dialog) {
            Some(Ok(Some(message))) => self.save_message = Some(message),
            Some(Ok(None)) | None => {}
            Some(Err(message)) => {
                self.save_message = Some(format!("✖ Could not save the error report: {message}"));
            }
        }
        match task::take_ready(&mut self.mapping_dialog) {
            Some(Ok(MappingFileAnswer::Saved(path))) => {
                self.mapping_message = Some(format!("✔ Mapping saved to {}", path.display()));
            }
            Some(Ok(MappingFileAnswer::Loaded(mapping))) => {
                self.apply_mapping(mapping);
                self.mapping_message = Some("✔ Mapping loaded".to_owned());
            }
            Some(Ok(MappingFileAnswer::Failed(message))) | Some(Err(message)) => {
                self.error = Some(message);
            }
            Some(Ok(MappingFileAnswer::Cancelled)) | None => {}
        }
        for action in std::mem::take(&mut self.pending) {
            self.handle(action);
        }
        let title = window_title(self.preview.as_ref().map(|p| p.path.as_path()));
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if let (Some(preview), Some(loader)) = (&mut self.preview, &mut self.loader)
            && loader.drain_into(preview)
        {
            self.loader = None;
            if let Some(after) = preview.edit_next_after.take() {
                fixing::edit_next_problem(preview, &self.edits, after);
            }
            if let Some(sheet) = &preview.sheet {
                self.sheet_counts.insert(sheet.clone(), preview.counts);
                // The workbook's run imports the sheet as its tab shows it.
                if let Some(plan) = &mut self.workbook
                    && let Some(entry) = plan.sheets.iter_mut().find(|s| &s.sheet == sheet)
                    && preview.failed.is_none()
                    && (entry.mapping != self.mapping || entry.edits != self.edits)
                {
                    entry.mapping = self.mapping.clone();
                    entry.edits = self.edits.clone();
                    entry.headers = preview.headers.clone();
                    entry.header_row = preview.header_row;
                    self.link_summary = workbook_panel::LinkSummaryState::default();
                }
            }
            // Remember the broker's choices for these headers, or offer last
            // time's for a file of the same headers.
            if !self.mapping.chooses_nothing() && preview.failed.is_none() {
                self.remembered_mappings
                    .insert(header_set_key(&preview.headers), self.mapping.clone());
            } else {
                self.offered_mapping = self
                    .remembered_mappings
                    .get(&header_set_key(&preview.headers))
                    .filter(|m| !m.chooses_nothing())
                    .cloned();
            }
        }
        // A workbook that cannot be read shows its error in the preview; the
        // tabs just stay away.
        if let Some(Ok(plan)) = task::take_ready(&mut self.workbook_task) {
            self.workbook = (plan.sheets.len() > 1).then_some(plan);
        }
        let verified_before = self.connection.is_verified();
        self.connection.poll();
        let connection = self.connection.settings().ok().map(|s| s.describe());
        if connection != self.history_connection {
            // Past imports belong to one database: never show (or undo) them
            // against another.
            self.history.forget();
            self.verification.clear();
            self.link_summary = workbook_panel::LinkSummaryState::default();
            self.history_connection = connection;
        }
        if !verified_before && self.connection.is_verified() {
            self.refresh_history();
        }
        if self.history.poll() {
            self.refresh_history();
        }
        self.crm_matches.poll();
        if let Some(run) = &mut self.import
            && run.poll()
        {
            match &run.outcome {
                Some(import_panel::ImportOutcome::NeedsSchema(description)) => {
                    // Nothing was sent: offer to create the tables, keep the preview.
                    self.connection.status =
                        connection::ConnectionStatus::NeedsMigration(description.clone());
                    self.import = None;
                }
                Some(import_panel::ImportOutcome::AlreadyImported(batch)) => {
                    // Nothing was sent: ask before importing the same file twice.
                    self.repeat_question = Some((**batch).clone());
                    self.import = None;
                }
                Some(import_panel::ImportOutcome::Done(report))
                | Some(import_panel::ImportOutcome::Stopped {
                    report: Some(report),
                    ..
                }) => {
                    let imports = report
                        .import_id
                        .map(|id| (id, report.file.clone()))
                        .into_iter()
                        .collect();
                    self.verify(imports);
                    self.showing_results = true;
                }
                _ => self.showing_results = true,
            }
            self.refresh_history();
        }
        self.verification.poll();
        self.export.poll();
        if let (Some(plan), Some(preview), Ok(settings)) =
            (&self.workbook, &self.preview, self.connection.settings())
            && plan.is_run()
            && self.connection.is_verified()
        {
            self.link_summary
                .poll_or_start(&self.runtime, ctx, &preview.path, plan, settings);
        }
        if let Some(run) = &mut self.workbook_run
            && run.poll()
        {
            match &run.outcome {
                Some(workbook_panel::RunOutcome::NeedsSchema(description)) => {
                    self.connection.status =
                        connection::ConnectionStatus::NeedsMigration(description.clone());
                    self.workbook_run = None;
                }
                Some(workbook_panel::RunOutcome::AlreadyImported(earlier)) => {
                    self.repeat_run = Some((**earlier).clone());
                    self.workbook_run = None;
                }
                Some(workbook_panel::RunOutcome::Done(report)) => {
                    let imports = report
                        .sheets
                        .iter()
                        .filter_map(|sheet| sheet.import_id.map(|id| (id, sheet.file.clone())))
                        .collect();
                    self.verify(imports);
                    self.showing_results = true;
                }
                _ => self.showing_results = true,
            }
            self.refresh_history();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut actions = Vec::new();
        // On a small window the table matters more than the navigation.
        let width = ui.available_width();
        if width >= 1000.0 {
            sidebar::sidebar_ui(ui, self, &mut actions);
        } else if self.preview.is_some() {
            // Narrow window: no sidebar, but the way to another file stays.
            egui::Panel::top("narrow-bar").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label(theme::bold("Pantry Import").color(theme::ACCENT));
                    sidebar::open_another_ui(ui, self, &mut actions);
                });
            });
        }
        if let Some(message) = self.error.clone() {
            egui::Panel::top("error").show(ui, |ui| {
                if theme::dismissable_error_ui(ui, &message) {
                    self.error = None;
                }
            });
        }
        if self.preview.is_some() {
            egui::Panel::right("database")
                .resizable(true)
                .default_size(340.0)
                .size_range(260.0..=(width * 0.4).max(260.0))
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        connection::connection_ui(ui, &mut self.connection, &mut actions);
                        ui.add_space(12.0);
                        import_panel::import_ui(ui, self, &mut actions);
                        if self.connection.is_verified() || self.history.loaded {
                            ui.add_space(12.0);
                            ui.separator();
                            history_panel::history_ui(ui, &mut self.history, &mut actions);
                        }
                    });
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.showing_export {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if !self.connection.is_verified() && self.preview.is_none() {
                        connection::connection_ui(ui, &mut self.connection, &mut actions);
                        ui.add_space(12.0);
                    }
                    export_panel::export_ui(
                        ui,
                        &mut self.export,
                        &self.history.imports,
                        self.connection.is_verified(),
                        &mut actions,
                    );
                });
            } else if self.showing_results
                && let Some(run) = &self.import
            {
                results::results_ui(
                    ui,
                    run,
                    &self.verification,
                    self.save_message.as_deref(),
                    &mut actions,
                );
            } else if self.showing_results
                && let Some(run) = &self.workbook_run
            {
                workbook_panel::run_results_ui(
                    ui,
                    run,
                    &self.verification,
                    self.save_message.as_deref(),
                    &mut actions,
                );
            } else if let Some(preview) = &mut self.preview {
                if let Some(offered) = &self.offered_mapping {
                    preview::offered_mapping_ui(ui, offered, &mut actions);
                }
                preview::preview_ui(
                    ui,
                    preview,
                    self.workbook.as_ref(),
                    &self.edits,
                    self.mapping_message.as_deref(),
                    &mut actions,
                );
            } else {
                open_file::open_file_ui(ui, &mut self.typed_path, &mut actions);
            }
        });
        about::about_ui(ui.ctx(), &mut self.showing_about);
        self.pending.extend(actions);
        if !self.pending.is_empty() {
            ui.ctx().request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, CONNECTION_KEY, &self.connection.remembered());
        eframe::set_value(storage, MAPPINGS_KEY, &self.remembered_mappings);
    }
}
