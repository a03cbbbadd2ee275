//! The desktop window of Pantry Import. State lives in [`PantryApp`]: the
//! connection, the open file ([`file::OpenFile`], replaced whole when
//! another file opens), the run ([`import_panel::ImportRun`], one for a
//! sheet and a workbook alike) and which [`View`] is on screen. Each panel
//! has its own file whose `*_ui` function only draws and records what the
//! user asked for as an [`Action`]. Background work (reading a file,
//! testing a connection, importing) runs on threads or the tokio runtime
//! and answers through `poll_promise` tasks ([`task`]) or, for the
//! preview's stream of rows, a channel; [`PantryApp::logic`] picks the
//! answers up every frame, and workers wake the window with
//! `request_repaint`.

mod about;
pub mod connection;
pub mod crm_matches;
mod dialogs;
pub mod export_panel;
pub mod file;
pub mod fixing;
pub mod health_panel;
pub mod history_panel;
pub mod import_panel;
pub mod keep_in_step;
mod open_file;
pub mod preview;
mod results;
mod sidebar;
mod task;
pub mod theme;
pub mod users_card;
pub mod verification;
pub mod workbook_panel;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use pantry_core::clean::CleanUp;
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::entity::Entity;
use pantry_core::history::UndoTarget;
use pantry_core::import::{EarlierImport, ImportOptions};
use pantry_core::links::LinkPolicy;
use pantry_core::saved_mapping::SavedMapping;

use connection::ConnectionForm;
use dialogs::{DialogAnswer, MappingFileAnswer};
use file::OpenFile;
use import_panel::{ImportRun, RunOutcome};
use preview::Preview;

/// Where the connection is remembered between runs (never with a password).
const CONNECTION_KEY: &str = "connection";

/// Where the column choices made for each set of headers are remembered.
const MAPPINGS_KEY: &str = "mappings";

/// Where each file's choices and edits are kept until it is imported, by
/// the file's fingerprint.
const UNIMPORTED_KEY: &str = "unimported-changes";

/// How many files' unimported changes are kept, the latest first.
const UNIMPORTED_FILES: usize = 20;

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

/// What the centre of the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// The open file's rows (or, with none open, the place to drop one).
    #[default]
    Preview,
    /// What the last run did.
    Results,
    /// Records of the CRM written out to a file.
    Export,
    /// The CRM's data quality: scores, findings, merges and clean-ups.
    Health,
    /// An imported file kept in step with the CRM, its passes.
    KeepInStep,
}

/// What an Import click covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportScope {
    /// Every sheet of the workbook, as one run.
    WholeWorkbook,
    /// The sheet on screen.
    ThisSheet,
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
    ApplyCleanUp(CleanUp, bool),
    /// Map a value of an enumerated field, as written, to an allowed value
    /// (`None`: leave it to the field's rule).
    MapValue(&'static str, String, Option<String>),
    /// Give every row of the sheet this value of a field no column fills
    /// (`None`: leave it to the field's rule).
    SetOneValue(&'static str, Option<String>),
    /// The CRM user a manager name stands for: an e-mail, empty to keep
    /// the name as text, `None` as the rules say.
    PickUser(String, Option<String>),
    /// The CRM user imports act for (`None`: nobody).
    SetActingUser(Option<String>),
    /// Write the column choices to a mapping file.
    SaveMapping,
    /// Apply a mapping file's choices.
    LoadMapping,
    /// What a link column does with names the CRM lacks.
    SetLinkPolicy(&'static str, LinkPolicy),
    /// What rows matching records already in the CRM do.
    SetDuplicatePolicy(DuplicatePolicy),
    /// What one row matching a CRM record does (`None`: as the import).
    SetRowDuplicatePolicy(u64, Option<DuplicatePolicy>),
    /// Look for the open sheet's rows in the CRM.
    ScanCrmMatches,
    /// The record a link column's name (by its key) stands for, among the
    /// several it matches.
    PickLinkTarget(&'static str, String, uuid::Uuid),
    TestConnection,
    Migrate,
    /// Import the sheet on screen, or the whole workbook.
    StartImport(ImportScope),
    /// Import a file the history says was imported completely before.
    ImportAgainAnyway,
    DismissRepeat,
    RefreshHistory,
    /// Take an import (or a workbook run) back out of the CRM.
    Undo(UndoTarget),
    /// The same, rows someone changed since the import included.
    UndoForced(UndoTarget),
    CancelImport,
    SaveErrorReport,
    /// Save the rows imported with warnings, with each warning, as CSV.
    SaveWarnings,
    /// Show a view.
    Show(View),
    /// Show the Export view set to one import's records.
    ExportImport(i64, Entity),
    StartExport,
    CancelExport,
    /// Check the CRM's health, merge a group, apply clean-ups.
    Health(health_panel::HealthAction),
    /// Keep the imported file in step with the CRM, or stop.
    KeepInStep(keep_in_step::KeepAction),
    StartOver,
    ShowAbout,
}

/// The whole state of the window.
pub struct PantryApp {
    runtime: Arc<tokio::runtime::Runtime>,
    ctx: egui::Context,
    pub connection: ConnectionForm,
    /// The open file, with everything that belongs to it.
    pub file: Option<OpenFile>,
    /// The import running, or the last one (of a sheet or a workbook).
    pub run: Option<ImportRun>,
    /// What the centre shows.
    pub view: View,
    pub history: history_panel::HistoryPanel,
    /// What rows matching records already in the CRM do.
    pub on_duplicate: DuplicatePolicy,
    /// The choices of the last import of each set of headers, kept
    /// between runs.
    remembered_mappings: HashMap<String, SavedMapping>,
    /// Each changed file's choices and edits until it is imported, by its
    /// fingerprint, the latest first; kept between runs.
    unimported: Vec<(String, file::KeptChoices)>,
    /// What is kept between runs changed: written at once, since a window
    /// closed by the system (or a crash) would lose it otherwise.
    settings_changed: bool,
    /// A problem to show at the top of the window until dismissed.
    pub error: Option<String>,
    /// Path typed into the "open" box.
    pub typed_path: String,
    pending: Vec<Action>,
    file_dialog: Option<task::Task<DialogAnswer>>,
    mapping_dialog: Option<task::Task<MappingFileAnswer>>,
    save_dialog: Option<task::Task<Option<String>>>,
    /// The last message about saving the error report.
    pub save_message: Option<String>,
    /// The connection the history was listed for, to notice a change.
    history_connection: Option<String>,
    /// The connected CRM's users, and the one imports act for.
    pub crm_users: users_card::CrmUsersState,
    /// The window's title as last set.
    pub title: String,
    /// Whether the About window is open.
    pub showing_about: bool,
    /// What the last import stored, checked in the database.
    pub verification: verification::VerificationState,
    /// The Export view's choices and its running export.
    pub export: export_panel::ExportForm,
    /// The CRM health view's last check and its fixes.
    pub health: health_panel::HealthState,
    /// The file kept in step with the CRM, if any.
    pub keep: keep_in_step::KeepInStep,
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
        let unimported = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, UNIMPORTED_KEY))
            .unwrap_or_default();
        let mut pending = Vec::new();
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            connection.fill_from_url(&url);
            // A connection given from outside (scripts/demo) is tried at once.
            pending.push(Action::TestConnection);
        }
        let (runtime, error) = start_runtime();
        let mut app = PantryApp {
            runtime,
            ctx: cc.egui_ctx.clone(),
            connection,
            file: None,
            run: None,
            view: View::Preview,
            history: history_panel::HistoryPanel::default(),
            on_duplicate: DuplicatePolicy::default(),
            remembered_mappings,
            unimported,
            settings_changed: false,
            error,
            typed_path: String::new(),
            pending,
            file_dialog: None,
            mapping_dialog: None,
            save_dialog: None,
            save_message: None,
            history_connection: None,
            crm_users: users_card::CrmUsersState::default(),
            title: window_title(None),
            showing_about: false,
            verification: verification::VerificationState::default(),
            export: export_panel::ExportForm::default(),
            health: health_panel::HealthState::default(),
            keep: keep_in_step::KeepInStep::default(),
        };
        if let Some(file) = file {
            app.open(file, None, None);
        }
        app
    }

    /// The sheet on screen, as read so far.
    pub fn preview(&self) -> Option<&Preview> {
        self.file.as_ref().map(|f| &f.preview)
    }

    /// The sheet on screen, to change what it shows.
    pub fn preview_mut(&mut self) -> Option<&mut Preview> {
        self.file.as_mut().map(|f| &mut f.preview)
    }

    /// The broker's edits to the rows of the sheet on screen.
    pub fn edits(&self) -> Option<&pantry_core::edits::SheetEdits> {
        self.file.as_ref().map(OpenFile::edits)
    }

    /// Starts reading `path` in the background as `entity` (or what its
    /// sheet shows); the first rows show at once. Another file replaces the
    /// open one whole; the same file is read again with its choices.
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
        self.view = View::Preview;
        self.run = None;
        self.save_message = None;
        self.typed_path = path.display().to_string();
        match &mut self.file {
            Some(file) if file.path == path => {
                // Changed on disk since the edits were made: they would land
                // on other rows.
                self.error = file.set_aside_stale_edits();
                file.show_sheet(&self.ctx, sheet, entity);
            }
            _ => {
                let mut file = OpenFile::open(&self.runtime, &self.ctx, path, sheet, entity);
                self.restore_unimported(&mut file);
                self.file = Some(file);
            }
        }
    }

    /// Puts back what the broker changed in this file before, if it was
    /// never imported since.
    fn restore_unimported(&mut self, file: &mut OpenFile) {
        if self.unimported.is_empty() {
            return;
        }
        let Ok(fingerprint) = pantry_core::history::fingerprint(&file.path) else {
            return;
        };
        if let Some((_, kept)) = self.unimported.iter().find(|(f, _)| *f == fingerprint) {
            file.restore_after_read = Some((fingerprint, kept.clone()));
        }
    }

    /// Keeps the open file's choices and edits until it is imported.
    fn keep_unimported(&mut self) {
        let Some((fingerprint, kept)) = self.file.as_ref().and_then(OpenFile::kept_choices) else {
            return;
        };
        self.unimported.retain(|(f, _)| f != fingerprint);
        if !kept.is_empty() {
            self.unimported.insert(0, (fingerprint.to_owned(), kept));
            self.unimported.truncate(UNIMPORTED_FILES);
        }
        self.settings_changed = true;
    }

    /// After an import: its sheets' choices are what next month's file of
    /// the same headers is offered, and the file's changes need no keeping.
    fn remember_imported(&mut self, sheets: &[Option<String>]) {
        let Some(file) = self.file.as_ref().filter(|_| !sheets.is_empty()) else {
            return;
        };
        for sheet in sheets {
            let Some(choices) = file.choices.get(sheet) else {
                continue;
            };
            let Some((headers, _)) = &choices.header else {
                continue;
            };
            let key = header_set_key(headers);
            if choices.mapping.chooses_nothing() {
                self.remembered_mappings.remove(&key);
            } else {
                self.remembered_mappings
                    .insert(key, choices.mapping.clone());
            }
        }
        if let Some(fingerprint) = &file.fingerprint {
            self.unimported.retain(|(f, _)| f != fingerprint);
        }
        self.settings_changed = true;
    }

    /// Whether an import (of a sheet or of the whole workbook) is running.
    pub fn is_importing(&self) -> bool {
        self.run.as_ref().is_some_and(ImportRun::is_running)
    }

    /// Whether the preview has finished loading.
    pub fn preview_ready(&self) -> bool {
        self.file
            .as_ref()
            .is_some_and(|f| f.preview.finished && f.reading_again().is_none())
    }

    fn handle(&mut self, action: Action) {
        match action {
            Action::OpenDialog => self.open_dialog(),
            Action::OpenPath(path) => self.open(path, None, None),
            Action::PickSheet(sheet) => self.pick_sheet(sheet),
            Action::PickEntity(entity) => self.pick_entity(entity),
            Action::SkipSheet => self.skip_sheet(),
            Action::SetColumnTarget(..)
            | Action::SetHeaderRow(_)
            | Action::MapValue(..)
            | Action::SetOneValue(..)
            | Action::PickUser(..)
            | Action::KeepTotalsRow(..)
            | Action::EditCell { .. }
            | Action::RemoveRow(..)
            | Action::ApplyCleanUp(..)
            | Action::SetRowDuplicatePolicy(..)
            | Action::SetLinkPolicy(..)
            | Action::PickLinkTarget(..) => self.handle_choice(action),
            Action::SaveMapping => self.save_mapping(),
            Action::LoadMapping => self.load_mapping(),
            Action::UseRememberedMapping(use_it) => {
                let offered = self.file.as_mut().and_then(|f| f.offered_mapping.take());
                if let (Some(offered), true) = (offered, use_it) {
                    self.apply_mapping(offered);
                }
            }
            Action::SetDuplicatePolicy(policy) => self.on_duplicate = policy,
            Action::SetActingUser(email) => self.crm_users.acting_as = email,
            Action::ScanCrmMatches => self.scan_crm_matches(),
            Action::TestConnection => self.connection.test(&self.runtime, &self.ctx),
            Action::Migrate => self.connection.migrate(&self.runtime, &self.ctx),
            Action::StartImport(scope) => self.start_import(scope, false),
            Action::ImportAgainAnyway => {
                let scope = match self.file.as_ref().and_then(|f| f.repeat.as_ref()) {
                    Some(EarlierImport::Run(_)) => ImportScope::WholeWorkbook,
                    _ => ImportScope::ThisSheet,
                };
                self.start_import(scope, true);
            }
            Action::DismissRepeat => {
                if let Some(file) = &mut self.file {
                    file.repeat = None;
                }
            }
            Action::RefreshHistory => self.refresh_history(),
            Action::Undo(target) | Action::UndoForced(target) => {
                let force = matches!(action, Action::UndoForced(_));
                if let UndoTarget::Pass(_, pass) = target {
                    self.keep.undoing = Some(pass);
                    self.keep.undo_asked = true;
                }
                self.health.undo_started();
                if let Ok(settings) = self.connection.settings() {
                    self.history
                        .undo(&self.runtime, &self.ctx, settings, target, force);
                }
            }
            Action::CancelImport => {
                if let Some(run) = &self.run {
                    run.progress.cancel();
                }
            }
            Action::Show(View::Results) if self.run.is_none() => {}
            Action::Show(view) => self.view = view,
            Action::ExportImport(id, entity) => {
                if !self.export.is_running() {
                    self.export.entity = entity;
                    self.export.import = Some(id);
                }
                self.view = View::Export;
            }
            Action::StartExport => self.start_export(),
            Action::KeepInStep(action) => self.keep_in_step(action),
            Action::CancelExport => self.export.cancel(),
            Action::Health(action) => {
                if let Ok(settings) = self.connection.settings() {
                    self.health
                        .handle(action, &self.runtime, &self.ctx, settings);
                }
            }
            Action::SaveErrorReport => self.save_report(false),
            Action::SaveWarnings => self.save_report(true),
            Action::ShowAbout => self.showing_about = true,
            Action::StartOver => {
                if !self.is_importing() {
                    self.file = None;
                    self.run = None;
                    self.view = View::Preview;
                    self.typed_path.clear();
                    self.save_message = None;
                    self.verification.clear();
                }
            }
        }
    }

    /// A choice the broker made for the sheet on screen (its mapping, its
    /// rows, its links).
    fn handle_choice(&mut self, action: Action) {
        match action {
            Action::SetColumnTarget(header, target) => self.change(|c| {
                // Said as "your choice" under the header, not "saved mapping".
                c.mapping.picked.insert(header.trim().to_owned());
                c.mapping.columns.insert(header, target);
            }),
            // Another header row means other headers: their choices go.
            Action::SetHeaderRow(row) => self.change(|c| {
                c.mapping.header_row = row;
                c.mapping.columns.clear();
            }),
            Action::MapValue(field, written, target) => {
                self.change(|c| c.mapping.map_value(field, written, target));
            }
            Action::SetOneValue(field, value) => self.change(|c| match value {
                Some(value) => {
                    c.mapping.fixed.insert(field.to_owned(), value);
                }
                None => {
                    c.mapping.fixed.remove(field);
                }
            }),
            Action::PickUser(name, email) => self.change(|c| match email {
                Some(email) => {
                    c.mapping.users.insert(name, email);
                }
                None => {
                    c.mapping.users.remove(&name);
                }
            }),
            Action::KeepTotalsRow(row, keep) => {
                self.change(|c| set_member(&mut c.edits.kept_totals_rows, row, keep));
            }
            Action::EditCell {
                row,
                column,
                text,
                then_next,
            } => {
                self.change(|c| c.edits.set_cell(row, column, text));
                if then_next && let Some(preview) = self.preview_mut() {
                    preview.edit_next_after = Some((row, column));
                }
            }
            Action::RemoveRow(row, remove) => {
                self.change(|c| set_member(&mut c.edits.removed_rows, row, remove));
            }
            Action::ApplyCleanUp(kind, apply) => {
                self.change(|c| set_member(&mut c.edits.clean, kind, apply));
            }
            Action::SetRowDuplicatePolicy(row, policy) => {
                if let Some(file) = &mut self.file {
                    let choices = file.choices.entry(file.preview.sheet.clone()).or_default();
                    match policy {
                        Some(policy) => choices.edits.duplicate_choices.insert(row, policy),
                        None => choices.edits.duplicate_choices.remove(&row),
                    };
                }
            }
            Action::SetLinkPolicy(field, policy) => {
                if let Some(file) = &mut self.file {
                    file.link_policies.by_field.insert(field.to_owned(), policy);
                }
            }
            Action::PickLinkTarget(field, key, id) => {
                if let Some(file) = &mut self.file {
                    file.link_policies
                        .picked
                        .insert((field.to_owned(), key), id);
                }
            }
            _ => {}
        }
    }

    /// Shows another sheet of the workbook, as its tab says it is imported.
    fn pick_sheet(&mut self, sheet: String) {
        let Some(file) = &self.file else {
            return;
        };
        let entity = file
            .workbook
            .as_ref()
            .and_then(|plan| plan.sheet(&sheet))
            .and_then(|s| s.entity);
        let path = file.path.clone();
        self.open(path, Some(sheet), entity);
    }

    /// Reads the sheet on screen as another entity; in a workbook, its tab
    /// says so too.
    fn pick_entity(&mut self, entity: Entity) {
        let Some(file) = &mut self.file else {
            return;
        };
        let sheet = file.preview.sheet.clone();
        // Column choices name the fields of the entity they were made for.
        if let Some(choices) = file.choices.get_mut(&sheet) {
            choices.mapping = SavedMapping::default();
        }
        if let (Some(plan), Some(name)) = (&mut file.workbook, &sheet)
            && let Some(entry) = plan.sheet_mut(name)
        {
            entry.entity = Some(entity);
            file.link_summary = workbook_panel::LinkSummaryState::default();
        }
        let path = file.path.clone();
        self.open(path, sheet, Some(entity));
    }

    /// Leaves the sheet on screen out of the workbook's import.
    fn skip_sheet(&mut self) {
        let Some(file) = &mut self.file else {
            return;
        };
        if let (Some(plan), Some(name)) = (&mut file.workbook, &file.preview.sheet)
            && let Some(entry) = plan.sheet_mut(name)
        {
            entry.entity = None;
            file.link_summary = workbook_panel::LinkSummaryState::default();
        }
    }

    /// Changes the choices of the sheet on screen and reads it again.
    fn change(&mut self, change: impl FnOnce(&mut file::SheetChoices)) {
        if let Some(file) = &mut self.file {
            self.run = None;
            self.view = View::Preview;
            file.change(&self.ctx, change);
        }
        self.keep_unimported();
    }

    /// Applies a mapping file's choices to the sheet on screen.
    pub fn apply_mapping(&mut self, mapping: SavedMapping) {
        let Some(file) = &mut self.file else {
            return;
        };
        let entity = mapping.entity().unwrap_or(file.preview.entity);
        let sheet = file.preview.sheet.clone();
        file.choices.entry(sheet.clone()).or_default().mapping = mapping;
        file.offered_mapping = None;
        let path = file.path.clone();
        self.open(path, sheet, Some(entity));
    }

    fn scan_crm_matches(&mut self) {
        let (Some(file), Ok(settings)) = (&mut self.file, self.connection.settings()) else {
            return;
        };
        let plan = file.run_plan(ImportScope::ThisSheet);
        let Some(sheet) = plan.sheets.into_iter().next() else {
            return;
        };
        let options = ImportOptions {
            links: file.link_policies.clone(),
            ..ImportOptions::default()
        };
        let path = file.path.clone();
        file.crm_matches
            .start(&self.runtime, &self.ctx, path, sheet, options, settings);
    }

    fn start_export(&mut self) {
        if let Ok(settings) = self.connection.settings() {
            // Without a file dialog: beside the open file, else here.
            let folder = self
                .file
                .as_ref()
                .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_default();
            self.export
                .start(&self.runtime, &self.ctx, settings, folder);
        }
    }

    fn open_dialog(&mut self) {
        if self.file_dialog.is_none() && !self.is_importing() {
            self.file_dialog = Some(dialogs::open_spreadsheet(&self.runtime, &self.ctx));
        }
    }

    fn save_mapping(&mut self) {
        let Some(file) = &self.file else {
            return;
        };
        if self.mapping_dialog.is_some() {
            return;
        }
        let mut mapping = file.mapping().clone();
        mapping.entity = Some(file.preview.entity.name().to_owned());
        self.mapping_dialog = Some(dialogs::save_mapping(
            &self.runtime,
            &self.ctx,
            file.path.clone(),
            mapping,
        ));
    }

    fn load_mapping(&mut self) {
        if self.mapping_dialog.is_none() && self.file.is_some() {
            self.mapping_dialog = Some(dialogs::load_mapping(&self.runtime, &self.ctx));
        }
    }

    fn refresh_history(&mut self) {
        if let Ok(settings) = self.connection.settings() {
            self.history.refresh(&self.runtime, &self.ctx, settings);
        }
    }

    /// Starts importing the sheet on screen, or the whole workbook.
    fn start_import(&mut self, scope: ImportScope, again: bool) {
        let Some(file) = &mut self.file else {
            return;
        };
        file.repeat = None;
        let settings = match self.connection.settings() {
            Ok(settings) => settings,
            Err(message) => {
                self.connection.status = connection::ConnectionStatus::Failed(message);
                return;
            }
        };
        let plan = file.run_plan(scope);
        self.save_message = None;
        self.run = Some(ImportRun::start(
            &self.runtime,
            &self.ctx,
            plan,
            ImportOptions {
                links: file.link_policies.clone(),
                again,
                on_duplicate: self.on_duplicate,
                ..ImportOptions::default()
            },
            settings,
            (file.preview.counts, self.crm_users.acting_as.clone()),
        ));
        self.view = View::Preview;
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
        if let Some(report) = self.run.as_ref().and_then(ImportRun::report) {
            self.save_dialog = Some(dialogs::save_report(
                &self.runtime,
                &self.ctx,
                report.clone(),
                warnings,
            ));
        }
    }

    /// Picks up what the file dialogs answered.
    fn poll_dialogs(&mut self) {
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
                if let Some(file) = &mut self.file {
                    file.mapping_message = Some(format!("✔ Mapping saved to {}", path.display()));
                }
            }
            Some(Ok(MappingFileAnswer::Loaded(mapping))) => {
                self.apply_mapping(mapping);
                if let Some(file) = &mut self.file {
                    file.mapping_message = Some("✔ Mapping loaded".to_owned());
                }
            }
            Some(Ok(MappingFileAnswer::Failed(message))) | Some(Err(message)) => {
                self.error = Some(message);
            }
            Some(Ok(MappingFileAnswer::Cancelled)) | None => {}
        }
    }

    /// Picks up what the open file's background work read: once the sheet
    /// on screen is read, its choices are remembered for its headers, or
    /// last time's are offered.
    fn poll_file(&mut self) {
        let Some(file) = &mut self.file else {
            return;
        };
        let Some(headers) = file.poll() else {
            return;
        };
        if let Some((fingerprint, kept)) = file.restore_after_read.take() {
            file.restore(&self.ctx, fingerprint, kept);
            return;
        }
        if let Some(after) = file.preview.edit_next_after.take() {
            let edits = file.edits().clone();
            fixing::edit_next_problem(&mut file.preview, &edits, after);
        }
        // Offered: the choices last imported with these headers.
        let key = header_set_key(&headers);
        if file.mapping().chooses_nothing() {
            file.offered_mapping = self
                .remembered_mappings
                .get(&key)
                .filter(|m| !m.chooses_nothing())
                .cloned();
        }
    }

    /// Picks up how the run ended, once it has.
    fn poll_run(&mut self) {
        let Some(run) = &mut self.run else {
            return;
        };
        if !run.poll() {
            return;
        }
        match &run.outcome {
            Some(RunOutcome::NeedsSchema(description)) => {
                // Nothing was sent: offer to create the tables, keep the preview.
                self.connection.status =
                    connection::ConnectionStatus::NeedsMigration(description.clone());
                self.run = None;
            }
            Some(RunOutcome::AlreadyImported(earlier)) => {
                // Nothing was sent: ask before importing the same file twice.
                if let Some(file) = &mut self.file {
                    file.repeat = Some((**earlier).clone());
                }
                self.run = None;
            }
            Some(RunOutcome::Done(report))
            | Some(RunOutcome::Stopped {
                report: Some(report),
                ..
            }) => {
                // Only an import that ran to its end counts as imported.
                let imported: Vec<Option<String>> = if run.finished_whole() {
                    report.sheets.iter().map(|s| s.sheet.clone()).collect()
                } else {
                    Vec::new()
                };
                let imports = report
                    .sheets
                    .iter()
                    .filter_map(|sheet| sheet.import_id.map(|id| (id, sheet.file.clone())))
                    .collect();
                self.remember_imported(&imported);
                self.verify(imports);
                self.view = View::Results;
            }
            _ => self.view = View::Results,
        }
        self.refresh_history();
    }

    /// Follows the connection: a new one forgets what belonged to the old.
    fn poll_connection(&mut self) {
        let verified_before = self.connection.is_verified();
        self.connection.poll();
        let connection = self.connection.settings().ok().map(|s| s.describe());
        if connection != self.history_connection {
            // Past imports belong to one database: never show (or undo) them
            // against another.
            self.history.forget();
            self.verification.clear();
            self.crm_users.forget();
            self.health.forget();
            if let Some(file) = &mut self.file {
                file.link_summary = workbook_panel::LinkSummaryState::default();
            }
            self.history_connection = connection;
        }
        if !verified_before && self.connection.is_verified() {
            self.refresh_history();
            if let Ok(settings) = self.connection.settings() {
                self.crm_users.load(&self.runtime, &self.ctx, settings);
            }
        }
        self.crm_users.poll();
        if let Some(finished) = self.history.poll() {
            self.keep.undo_finished(finished);
            if finished.is_some() {
                self.refresh_history();
                // An undo changed the CRM: the health view checks it again.
                self.health
                    .changed_elsewhere(self.history.message.clone(), self.history.left_alone);
            }
        }
        if let (Some(file), Ok(settings)) = (&mut self.file, self.connection.settings())
            && file.is_whole_workbook()
            && self.connection.is_verified()
        {
            let plan = file.run_plan(ImportScope::WholeWorkbook);
            file.link_summary
                .poll_or_start(&self.runtime, &self.ctx, &plan, settings);
        }
    }

    /// The right panel: the connection, the import card, past imports.
    fn database_panel_ui(&mut self, ui: &mut egui::Ui, width: f32, actions: &mut Vec<Action>) {
        egui::Panel::right("database")
            .resizable(true)
            .default_size(340.0)
            .size_range(260.0..=(width * 0.4).max(260.0))
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    connection::connection_ui(ui, &mut self.connection, actions);
                    ui.add_space(12.0);
                    import_panel::import_ui(ui, self, actions);
                    if self.connection.is_verified() || self.history.loaded {
                        ui.add_space(12.0);
                        ui.separator();
                        history_panel::history_ui(ui, &mut self.history, actions);
                    }
                });
            });
    }

    /// The centre: the view on screen.
    fn central_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        egui::CentralPanel::default().show(ui, |ui| match (self.view, &self.run, &mut self.file) {
            (View::Export, _, _) => {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if !self.connection.is_verified() && self.file.is_none() {
                        connection::connection_ui(ui, &mut self.connection, actions);
                        ui.add_space(12.0);
                    }
                    export_panel::export_ui(
                        ui,
                        &mut self.export,
                        &self.history.imports,
                        self.connection.is_verified(),
                        actions,
                    );
                });
            }
            (View::Health, _, _) => {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if !self.connection.is_verified() && self.file.is_none() {
                        connection::connection_ui(ui, &mut self.connection, actions);
                        ui.add_space(12.0);
                    }
                    health_panel::health_ui(
                        ui,
                        &mut self.health,
                        self.connection.is_verified(),
                        actions,
                    );
                });
            }
            (View::KeepInStep, _, _) => {
                let undo_message = self.history.message.as_deref();
                keep_in_step::keep_in_step_ui(ui, &self.keep, undo_message, actions);
            }
            (View::Results, Some(run), _) => {
                results::results_ui(
                    ui,
                    run,
                    &self.verification,
                    self.save_message.as_deref(),
                    actions,
                );
            }
            (_, _, Some(file)) => {
                if let Some(offered) = &file.offered_mapping {
                    preview::offered_mapping_ui(ui, offered, actions);
                }
                preview::preview_ui(ui, file, actions);
            }
            (_, _, None) => open_file::open_file_ui(ui, &mut self.typed_path, actions),
        });
    }
}

/// The runtime background work runs on; without one nothing can connect,
/// but the preview still works, and the window says why.
fn start_runtime() -> (Arc<tokio::runtime::Runtime>, Option<String>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pantry-import worker")
        .enable_all()
        .build()
        .map(Arc::new);
    match runtime {
        Ok(runtime) => (runtime, None),
        Err(e) => {
            let fallback = tokio::runtime::Builder::new_current_thread()
                .build()
                .map(Arc::new)
                .unwrap_or_else(|_| std::process::abort());
            (
                fallback,
                Some(format!("Cannot start background workers: {e}")),
            )
        }
    }
}

/// Puts `item` in `set` or takes it out.
fn set_member<T: Ord>(set: &mut BTreeSet<T>, item: T, member: bool) {
    if member {
        set.insert(item);
    } else {
        set.remove(&item);
    }
}

impl eframe::App for PantryApp {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
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
        self.poll_dialogs();
        for action in std::mem::take(&mut self.pending) {
            self.handle(action);
        }
        if std::mem::take(&mut self.settings_changed)
            && let Some(storage) = frame.storage_mut()
        {
            eframe::App::save(self, storage);
            storage.flush();
        }
        let title = window_title(self.file.as_ref().map(|f| f.path.as_path()));
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        self.poll_file();
        self.poll_connection();
        self.poll_run();
        self.verification.poll();
        self.export.poll();
        if self.keep.poll() {
            self.refresh_history();
        }
        if self.keep.take_restart() {
            self.keep_in_step(keep_in_step::KeepAction::Start);
        }
        let settings = self
            .connection
            .settings()
            .ok()
            .filter(|_| self.connection.is_verified());
        let showing = self.view == View::Health;
        if self.health.poll(&self.runtime, ctx, settings, showing) {
            self.refresh_history();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut actions = Vec::new();
        // On a small window the table matters more than the navigation.
        let width = ui.available_width();
        if width >= 1000.0 {
            sidebar::sidebar_ui(ui, self, &mut actions);
        } else {
            // Narrow window: no sidebar, but the ways to another file, the
            // export and the health view stay.
            egui::Panel::top("narrow-bar").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label(theme::bold("Pantry Import").color(theme::ACCENT));
                    if self.file.is_some() {
                        sidebar::open_another_ui(ui, self, &mut actions);
                    }
                    // The sidebar's other ways out, which a narrow window hides.
                    let keep_in_step = self
                        .keep
                        .file
                        .is_some()
                        .then_some((View::KeepInStep, "Keep in step"));
                    for (view, label) in [
                        (View::Export, "Export from the CRM…"),
                        (View::Health, "CRM health"),
                    ]
                    .into_iter()
                    .chain(keep_in_step)
                    {
                        let showing = self.view == view;
                        if ui.selectable_label(showing, label).clicked() {
                            actions.push(Action::Show(if showing { View::Preview } else { view }));
                        }
                    }
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
        if self.file.is_some() {
            self.database_panel_ui(ui, width, &mut actions);
        }
        self.central_ui(ui, &mut actions);
        about::about_ui(ui.ctx(), &mut self.showing_about);
        self.pending.extend(actions);
        if !self.pending.is_empty() {
            ui.ctx().request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, CONNECTION_KEY, &self.connection.remembered());
        eframe::set_value(storage, MAPPINGS_KEY, &self.remembered_mappings);
        eframe::set_value(storage, UNIMPORTED_KEY, &self.unimported);
    }
}
