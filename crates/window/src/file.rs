//! The open file: its preview, its sheets, the broker's choices for each,
//! and what was looked up for it. One [`OpenFile`] per file, replaced whole
//! when another file opens, so nothing of one file lingers into the next.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eframe::egui;
use pantry_core::edits::SheetEdits;
use pantry_core::entity::Entity;
use pantry_core::import::EarlierImport;
use pantry_core::links::LinkPolicies;
use pantry_core::run::{RunPlan, SheetPlan};
use pantry_core::saved_mapping::SavedMapping;
use pantry_core::workbook::WorkbookPlan;

use super::ImportScope;
use super::crm_matches::CrmMatchesState;
use super::preview::{self, Preview, PreviewLoader, PreviewRequest};
use super::task::{self, Task};
use super::workbook_panel::{LinkSummaryState, SheetCounts};

/// The broker's choices for one sheet: kept here only, and read again by
/// the preview and the import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetChoices {
    /// Header row, column targets, value replacements.
    pub mapping: SavedMapping,
    /// Cells typed over, rows removed, totals rows kept, clean-ups, what
    /// rows matching a CRM record do.
    pub edits: SheetEdits,
    /// The header as the preview last read it with these choices (cells,
    /// row number), so a run checks it before storing anything.
    pub header: Option<(Vec<String>, u64)>,
}

/// A file's choices kept until it is imported, by sheet: what the window
/// stores, under the file's fingerprint, so that a restart loses nothing.
pub type KeptChoices = Vec<(Option<String>, SavedMapping, SheetEdits)>;

/// A file's size and time of change, to notice it changed on disk.
type FileStamp = (u64, Option<std::time::SystemTime>);

/// A file's stamp now.
fn file_stamp(path: &Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()))
}

/// Everything about the open file.
pub struct OpenFile {
    /// The file.
    pub path: PathBuf,
    /// The sheet on screen, as read (or being read).
    pub preview: Preview,
    /// The sheet on screen read again with new choices, shown once read to
    /// its end: until then the old one stays, so that nothing on screen
    /// (the table's scroll, the panes) moves under the pointer.
    pending: Option<Preview>,
    loader: Option<PreviewLoader>,
    /// A workbook's sheets, once read (`None` for a text file or a
    /// workbook of one sheet): the tabs, each with what it is imported as.
    pub workbook: Option<WorkbookPlan>,
    workbook_task: Option<Task<WorkbookPlan>>,
    /// The broker's choices, per sheet (by name; `None` for a text file).
    pub choices: BTreeMap<Option<String>, SheetChoices>,
    /// Counts of each sheet previewed so far.
    pub sheet_counts: SheetCounts,
    /// What the workbook's link columns name, in the workbook and the CRM.
    pub link_summary: LinkSummaryState,
    /// Per link column, what names the CRM lacks do.
    pub link_policies: LinkPolicies,
    /// The sheet's rows found in the CRM, when looked for.
    pub crm_matches: CrmMatchesState,
    /// Choices remembered for these headers, while the broker decides
    /// whether to use them.
    pub offered_mapping: Option<SavedMapping>,
    /// The file's stamp when the first edit was made: edits name rows and
    /// columns, so they hold only for that content.
    edits_stamp: Option<FileStamp>,
    /// The file's content hash, once the broker changed something: its
    /// choices are kept under it until it is imported.
    pub fingerprint: Option<String>,
    /// Choices kept from an earlier start, put back once the file's first
    /// reading says which sheet is on screen and what it holds.
    pub restore_after_read: Option<(String, KeptChoices)>,
    /// The last message about saving or loading a mapping file.
    pub mapping_message: Option<String>,
    /// A finished earlier import of the same file, while the broker decides.
    pub repeat: Option<EarlierImport>,
}

impl OpenFile {
    /// Starts reading `path` (its sheet `sheet`, as `entity`, or as its
    /// sheet name or headers say); a workbook's sheets are looked at in the
    /// background.
    pub fn open(
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        path: PathBuf,
        sheet: Option<String>,
        entity: Option<Entity>,
    ) -> OpenFile {
        let workbook_task = WorkbookPlan::may_hold_sheets(&path)
            .then(|| super::workbook_panel::read_plan(runtime, ctx, path.clone()));
        let (preview, loader) = preview::start_loading(
            PreviewRequest {
                path: path.clone(),
                sheet,
                entity,
                mapping: SavedMapping::default(),
                edits: SheetEdits::default(),
            },
            ctx.clone(),
        );
        OpenFile {
            path,
            preview,
            pending: None,
            loader: Some(loader),
            workbook: None,
            workbook_task,
            choices: BTreeMap::new(),
            sheet_counts: SheetCounts::new(),
            link_summary: LinkSummaryState::default(),
            link_policies: LinkPolicies::default(),
            crm_matches: CrmMatchesState::default(),
            offered_mapping: None,
            edits_stamp: None,
            fingerprint: None,
            restore_after_read: None,
            mapping_message: None,
            repeat: None,
        }
    }

    /// The choices for the sheet on screen.
    pub fn choices(&self) -> &SheetChoices {
        static NONE: std::sync::LazyLock<SheetChoices> =
            std::sync::LazyLock::new(SheetChoices::default);
        self.choices.get(&self.preview.sheet).unwrap_or(&NONE)
    }

    /// The mapping of the sheet on screen.
    pub fn mapping(&self) -> &SavedMapping {
        &self.choices().mapping
    }

    /// The edits of the sheet on screen.
    pub fn edits(&self) -> &SheetEdits {
        &self.choices().edits
    }

    /// Reads `sheet` (the one on screen when `None`) again, as `entity`,
    /// with its choices; the row selected stays selected.
    pub fn show_sheet(
        &mut self,
        ctx: &egui::Context,
        sheet: Option<String>,
        entity: Option<Entity>,
    ) {
        let same = sheet == self.preview.sheet;
        let reselect = same.then(|| self.preview.selected_number()).flatten();
        let choices = self.choices.get(&sheet).cloned().unwrap_or_default();
        // What the CRM holds was looked up for the rows as they were.
        self.crm_matches = CrmMatchesState::default();
        let (mut preview, loader) = preview::start_loading(
            PreviewRequest {
                path: self.path.clone(),
                sheet,
                entity,
                mapping: choices.mapping,
                edits: choices.edits,
            },
            ctx.clone(),
        );
        preview.reselect = reselect;
        let shown = &self.preview;
        if same && shown.finished && shown.failed.is_none() && !shown.headers.is_empty() {
            self.pending = Some(preview);
        } else {
            self.pending = None;
            self.preview = preview;
        }
        self.loader = Some(loader);
    }

    /// How far the sheet on screen is read again, while it is.
    pub fn reading_again(&self) -> Option<f32> {
        self.pending.as_ref().map(|p| p.fraction_read)
    }

    /// Reads the sheet on screen again, as the same entity, with its choices.
    pub fn reload(&mut self, ctx: &egui::Context) {
        let (sheet, entity) = (self.preview.sheet.clone(), self.preview.entity);
        self.show_sheet(ctx, sheet, Some(entity));
    }

    /// Sets the edits aside when the file changed on disk since they were
    /// made (they would land on other rows); says so.
    pub fn set_aside_stale_edits(&mut self) -> Option<String> {
        let stale = self.edits_stamp.is_some() && file_stamp(&self.path) != self.edits_stamp;
        if !stale || self.choices.values().all(|c| c.edits.is_empty()) {
            return None;
        }
        for choices in self.choices.values_mut() {
            choices.edits = SheetEdits::default();
        }
        self.edits_stamp = None;
        Some(format!(
            "{} changed on disk since you edited it; your changes to its rows were set aside.",
            self.path.display()
        ))
    }

    /// The choices to keep for this file until it is imported, under its
    /// fingerprint (`None`: nothing was changed).
    pub fn kept_choices(&self) -> Option<(&str, KeptChoices)> {
        let fingerprint = self.fingerprint.as_deref()?;
        let kept: KeptChoices = self
            .choices
            .iter()
            .filter(|(_, c)| !c.mapping.chooses_nothing() || !c.edits.is_empty())
            .map(|(sheet, c)| (sheet.clone(), c.mapping.clone(), c.edits.clone()))
            .collect();
        Some((fingerprint, kept))
    }

    /// Puts back the choices kept for this file (its fingerprint is
    /// `fingerprint`) and reads the sheet on screen again with them; says so.
    pub fn restore(&mut self, ctx: &egui::Context, fingerprint: String, kept: KeptChoices) {
        let (mut cells, mut removed, mut mapped) = (0, 0, false);
        let mut clean = std::collections::BTreeSet::new();
        for (sheet, mapping, edits) in kept {
            mapped |= !mapping.chooses_nothing();
            cells += edits.edited_cells();
            removed += edits.removed_rows.len();
            clean.extend(edits.clean.iter().copied());
            let choices = self.choices.entry(sheet).or_default();
            choices.mapping = mapping;
            choices.edits = edits;
        }
        self.edits_stamp = file_stamp(&self.path);
        self.fingerprint = Some(fingerprint);
        let mut what = super::fixing::changes_in_words(cells, removed, &clean);
        if mapped {
            what.insert(0, "your column and value choices".to_owned());
        }
        self.mapping_message = Some(format!(
            "Your changes from last time are back ({}); they are kept until the file is imported.",
            what.join(", ")
        ));
        self.reload(ctx);
    }

    /// Changes the choices of the sheet on screen and reads it again with
    /// them. The first edit notes the file's stamp, since edits name its rows.
    pub fn change(&mut self, ctx: &egui::Context, change: impl FnOnce(&mut SheetChoices)) {
        if self.edits_stamp.is_none() {
            self.edits_stamp = file_stamp(&self.path);
        }
        if self.fingerprint.is_none() {
            self.fingerprint = pantry_core::history::fingerprint(&self.path).ok();
        }
        let choices = self.choices.entry(self.preview.sheet.clone()).or_default();
        change(choices);
        if choices.mapping.entity.is_none() && !choices.mapping.chooses_nothing() {
            choices.mapping.entity = Some(self.preview.entity.name().to_owned());
        }
        self.offered_mapping = None;
        // A workbook's links were looked up for its sheets as they were.
        self.link_summary = LinkSummaryState::default();
        self.reload(ctx);
    }

    /// Moves what the background work has read into the state; `Some` with
    /// the headers once the sheet on screen is read to the end.
    pub fn poll(&mut self) -> Option<Vec<String>> {
        // A workbook that cannot be read shows its error in the preview; the
        // tabs just stay away.
        if let Some(Ok(plan)) = task::take_ready(&mut self.workbook_task) {
            self.workbook = (plan.sheets.len() > 1).then_some(plan);
        }
        self.crm_matches.poll();
        let reading = self.pending.as_mut().unwrap_or(&mut self.preview);
        let done = self
            .loader
            .as_mut()
            .is_some_and(|loader| loader.drain_into(reading));
        if !done {
            return None;
        }
        self.loader = None;
        if let Some(read) = self.pending.as_mut() {
            read.count_manager_names();
        } else {
            self.preview.count_manager_names();
        }
        if let Some(mut read) = self.pending.take() {
            let old = &mut self.preview;
            read.only_problems = old.only_problems && !read.problem_rows.is_empty();
            read.selected_column = old.selected_column;
            read.edit_next_after = old.edit_next_after.take();
            self.preview = read;
        }
        let preview = &self.preview;
        if preview.failed.is_some() {
            return None;
        }
        if let Some(sheet) = &preview.sheet {
            self.sheet_counts.insert(sheet.clone(), preview.counts);
        }
        if let Some(choices) = self.choices.get_mut(&preview.sheet) {
            choices.header = Some((preview.headers.clone(), preview.header_row));
        }
        Some(preview.headers.clone())
    }

    /// Whether the whole file is to be imported as one run of its sheets.
    pub fn is_whole_workbook(&self) -> bool {
        self.workbook.as_ref().is_some_and(WorkbookPlan::is_run)
    }

    /// The run an Import click starts: every sheet of a workbook run, or
    /// the sheet on screen, each with the broker's choices.
    pub fn run_plan(&self, scope: ImportScope) -> RunPlan {
        match self.workbook.as_ref().filter(|plan| plan.is_run()) {
            Some(workbook) if scope == ImportScope::WholeWorkbook => {
                let mut plan = workbook.run_plan(&self.path);
                for sheet in &mut plan.sheets {
                    if let Some(choices) = self.choices.get(&sheet.sheet) {
                        sheet.mapping = choices.mapping.clone();
                        sheet.edits = choices.edits.clone();
                        if let Some((headers, row)) = &choices.header {
                            sheet.headers = headers.clone();
                            sheet.header_row = *row;
                        }
                    }
                }
                plan
            }
            _ => {
                let choices = self.choices();
                RunPlan::one_sheet(
                    &self.path,
                    SheetPlan {
                        mapping: choices.mapping.clone(),
                        edits: choices.edits.clone(),
                        ..SheetPlan::new(self.preview.sheet.clone(), Some(self.preview.entity))
                    },
                )
            }
        }
    }

    /// Whether the sheet on screen is left out of the workbook's import.
    pub fn sheet_left_out(&self) -> bool {
        self.workbook.as_ref().is_some_and(|plan| {
            plan.sheets
                .iter()
                .any(|s| s.sheet == self.preview.sheet && s.entity.is_none())
        })
    }
}
