//! The offline preview: every row of the file in a virtualised table, with
//! the mapping under each header, failing rows and warned cells coloured,
//! a summary line and a clickable list of problems. No database involved.
//!
//! Rows are kept compactly: the text of all cells in one `String` (cells
//! joined by U+001F) plus an end offset, row number and status per row, so a
//! million-row file costs about its own size in memory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use eframe::egui::{self, RichText};
use egui_extras::{Size, StripBuilder};
use pantry_core::clean::CleanUpTally;
use pantry_core::edits::SheetEdits;
use pantry_core::entity::{Entity, EntityChoice, FieldKind, FieldSpec, How};
use pantry_core::mapping::{RowCounts, RowIssue, Severity, TalliedField, TalliedValue, ValueTally};
use pantry_core::saved_mapping::SavedMapping;
use pantry_core::spreadsheet::SheetRow;
use pantry_core::workbook::WorkbookPlan;

use super::Action;
use super::file::OpenFile;
use super::fixing::{self, CellEditor};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};

mod loader;
mod table;

pub use loader::{PreviewLoader, PreviewRequest, start_loading};
use table::table_ui;

/// Separates cells inside [`RowStore::text`]; a cell holding it shows `␟`.
const CELL_SEPARATOR: char = '\u{1F}';
/// Rows in the first chunk, sent as soon as they are read so the table
/// appears at once.
const FIRST_CHUNK_ROWS: usize = 200;
/// Later chunks: whichever comes first.
const CHUNK_ROWS: usize = 50_000;
const CHUNK_TIME: Duration = Duration::from_millis(150);

/// What a row will do on import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Imports,
    ImportsWithWarnings,
    Fails,
    /// A totals row, passed over.
    Skipped,
    /// Removed by the broker: not imported, and not a problem.
    Removed,
}

/// Every row's cells, compactly.
#[derive(Debug, Default)]
pub struct RowStore {
    text: String,
    ends: Vec<usize>,
    numbers: Vec<u64>,
    status: Vec<RowStatus>,
}

impl RowStore {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no row is held yet.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The cells of row `index` (zero-based position, not row number).
    pub fn cells(&self, index: usize) -> impl Iterator<Item = &str> {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.text[start..self.ends[index]].split(CELL_SEPARATOR)
    }

    pub fn number(&self, index: usize) -> u64 {
        self.numbers[index]
    }

    pub fn status(&self, index: usize) -> RowStatus {
        self.status[index]
    }

    /// The position of the row with spreadsheet number `number`.
    pub fn index_of(&self, number: u64) -> Option<usize> {
        self.numbers.binary_search(&number).ok()
    }

    fn push(&mut self, row: &SheetRow, status: RowStatus) {
        for (i, cell) in row.cells().enumerate() {
            if i > 0 {
                self.text.push(CELL_SEPARATOR);
            }
            if cell.contains(CELL_SEPARATOR) {
                self.text.push_str(&cell.replace(CELL_SEPARATOR, "␟"));
            } else {
                self.text.push_str(cell);
            }
        }
        self.ends.push(self.text.len());
        self.numbers.push(row.number);
        self.status.push(status);
    }

    fn append(&mut self, mut chunk: RowStore) {
        let base = self.text.len();
        self.text.push_str(&chunk.text);
        self.ends.extend(chunk.ends.iter().map(|end| base + end));
        self.numbers.append(&mut chunk.numbers);
        self.status.append(&mut chunk.status);
    }
}

/// The counts of the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PreviewCounts {
    pub rows: u64,
    pub would_import: u64,
    pub would_fail: u64,
    pub warnings: u64,
    /// Totals rows and rows the broker removed, passed over.
    pub skipped: u64,
}

impl PreviewCounts {
    /// The counts of rows counted by their fate, with their warnings.
    fn of(fates: RowCounts, warnings: u64) -> PreviewCounts {
        PreviewCounts {
            rows: fates.rows,
            would_import: fates.records,
            would_fail: fates.failed,
            warnings,
            skipped: fates.passed_over(),
        }
    }
}

/// A link column of the sheet, for the import's choice of what names the
/// CRM lacks do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkColumn {
    /// The field (`organization_id`).
    pub field: &'static str,
    /// The column's header.
    pub header: String,
    /// What it links to.
    pub target: Entity,
    /// Whether a blank cell fails the row.
    pub required: bool,
    /// The entity of the sheet the column is in.
    pub entity: Entity,
}

/// Why a column goes where it goes, as the header shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnReason {
    /// How it came to its field; `None` for import notes or skipped.
    pub how: Option<How>,
    /// For a column kept in import notes, the field its header suggests
    /// but its values did not bear out.
    pub likely: Option<&'static str>,
}

/// A file as the preview shows it.
#[derive(Debug)]
pub struct Preview {
    pub path: PathBuf,
    pub sheet: Option<String>,
    pub sheets: Vec<String>,
    /// What the rows are read as, and why.
    pub entity: Entity,
    pub entity_choice: EntityChoice,
    pub link_columns: Vec<LinkColumn>,
    pub description: String,
    /// The header's row number, and whether the broker chose it.
    pub header_row: u64,
    pub header_chosen: bool,
    /// The first rows above the header, not imported: number and cells.
    pub above_header: Vec<(u64, Vec<String>)>,
    pub headers: Vec<String>,
    /// Per column: the CRM field it fills, or "import notes".
    pub targets: Vec<String>,
    /// Per column: why it goes where it goes.
    pub reasons: Vec<ColumnReason>,
    /// Per column: the name issues use for it.
    pub labels: Vec<String>,
    pub rows: RowStore,
    /// Sorted by row; header problems (row 1) first.
    pub issues: Vec<RowIssue>,
    pub notices: Vec<String>,
    pub counts: PreviewCounts,
    /// Positions of rows with an error or a warning.
    pub problem_rows: Vec<usize>,
    pub finished: bool,
    /// Why the file could not be read at all.
    pub failed: Option<String>,
    pub fraction_read: f32,
    /// Values of enumerated fields to map, once the whole file is read.
    pub value_tally: Option<ValueTally>,
    /// What the clean-up kinds not applied would change, once read.
    pub clean_up_tally: Option<CleanUpTally>,
    /// The manager names of the rows that import, with their row counts
    /// (by name as written), once read.
    pub manager_names: Vec<(String, u64)>,
    /// The cell being typed over.
    pub editing: Option<CellEditor>,
    /// The column of the selected row that Enter edits.
    pub selected_column: usize,
    /// Once the sheet is read again: open the editor on the next problem
    /// after this cell (row number, column), as Tab asked.
    pub edit_next_after: Option<(u64, usize)>,
    pub only_problems: bool,
    pub selected: Option<usize>,
    /// A row above the header, selected (by row number).
    pub selected_above: Option<u64>,
    /// The row (by number) to select once read: the one selected before
    /// the sheet was read again with other choices.
    pub reselect: Option<u64>,
    scroll_to: Option<usize>,
}

impl Preview {
    fn new(
        path: PathBuf,
        sheet: Option<String>,
        entity: Option<Entity>,
        header_chosen: bool,
    ) -> Preview {
        Preview {
            path,
            sheet,
            sheets: Vec::new(),
            entity: entity.unwrap_or(Entity::Organizations),
            entity_choice: if entity.is_some() {
                EntityChoice::Given
            } else {
                EntityChoice::Headers
            },
            link_columns: Vec::new(),
            description: String::new(),
            header_row: 1,
            header_chosen,
            above_header: Vec::new(),
            headers: Vec::new(),
            targets: Vec::new(),
            reasons: Vec::new(),
            labels: Vec::new(),
            rows: RowStore::default(),
            issues: Vec::new(),
            notices: Vec::new(),
            counts: PreviewCounts::default(),
            problem_rows: Vec::new(),
            finished: false,
            failed: None,
            fraction_read: 0.0,
            value_tally: None,
            clean_up_tally: None,
            manager_names: Vec::new(),
            editing: None,
            selected_column: 0,
            edit_next_after: None,
            only_problems: false,
            selected: None,
            selected_above: None,
            reselect: None,
            scroll_to: None,
        }
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// The issues of the row numbered `number`.
    pub fn issues_for(&self, number: u64) -> &[RowIssue] {
        let start = self.issues.partition_point(|i| i.row < number);
        let end = self.issues.partition_point(|i| i.row <= number);
        &self.issues[start..end]
    }

    /// Problems of the sheet itself (its header row), errors first.
    pub fn sheet_errors(&self) -> impl Iterator<Item = &RowIssue> {
        self.issues
            .iter()
            .take_while(|i| i.row < self.rows.numbers.first().copied().unwrap_or(u64::MAX))
            .filter(|i| i.severity == Severity::Error)
    }

    /// The number of the selected row, if any.
    pub fn selected_number(&self) -> Option<u64> {
        self.selected
            .filter(|&i| i < self.rows.len())
            .map(|i| self.rows.number(i))
    }

    /// Brings row `index` into view and selects it.
    /// Counts the manager names (columns the entity's description says
    /// name a CRM user) of the rows that import.
    pub fn count_manager_names(&mut self) {
        let description = self.entity.description();
        let columns: Vec<usize> = self
            .targets
            .iter()
            .enumerate()
            .filter(|(_, t)| description.managers().any(|m| m.name == t.as_str()))
            .map(|(i, _)| i)
            .collect();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        if !columns.is_empty() {
            for index in 0..self.rows.len() {
                if !matches!(
                    self.rows.status(index),
                    RowStatus::Imports | RowStatus::ImportsWithWarnings
                ) {
                    continue;
                }
                for (column, cell) in self.rows.cells(index).enumerate() {
                    let name = cell.trim();
                    if columns.contains(&column) && !name.is_empty() {
                        *counts.entry(name.to_owned()).or_default() += 1;
                    }
                }
            }
        }
        self.manager_names = counts.into_iter().collect();
    }

    pub fn reveal(&mut self, index: usize) {
        self.selected = Some(index);
        self.selected_above = None;
        self.scroll_to = Some(index);
    }
}

/// The offer of last time's column choices for a file with these headers.
pub fn offered_mapping_ui(ui: &mut egui::Ui, offered: &SavedMapping, actions: &mut Vec<Action>) {
    egui::Frame::new()
        .fill(theme::WARN_FILL)
        .inner_margin(egui::Margin::same(8))
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "A file with these headers was mapped before ({}). Use the mapping from last time?",
                    offered.summary()
                ));
                if ui.button("Use it").clicked() {
                    actions.push(Action::UseRememberedMapping(true));
                }
                if ui.button("No, thanks").clicked() {
                    actions.push(Action::UseRememberedMapping(false));
                }
            });
        });
    ui.add_space(4.0);
}

/// Draws the preview. In a workbook of several sheets (`workbook`) the
/// sheets are tabs under the file's name, and a sheet can be left out.
/// The broker's choices for the sheet on screen, and where its reading
/// stands, as the part above the table shows them.
struct SheetState<'a> {
    edits: &'a SheetEdits,
    /// Values every row gets for fields no column fills.
    fixed: &'a BTreeMap<String, String>,
    /// Whether the sheet is left out of the workbook's import.
    left_out: bool,
    /// How far the sheet is read again with new choices, while it is.
    reading_again: Option<f32>,
}

pub fn preview_ui(ui: &mut egui::Ui, file: &mut OpenFile, actions: &mut Vec<Action>) {
    let skipped = file.sheet_left_out();
    let reading_again = file.reading_again();
    let no_edits = SheetEdits::default();
    let OpenFile {
        preview,
        workbook,
        choices,
        mapping_message,
        ..
    } = file;
    let edits = choices.get(&preview.sheet).map_or(&no_edits, |c| &c.edits);
    let no_mapping = SavedMapping::default();
    let mapping = choices
        .get(&preview.sheet)
        .map_or(&no_mapping, |c| &c.mapping);
    let fixed = &mapping.fixed;
    let height = ui.available_height();
    let settled = preview.finished && reading_again.is_none();
    // What the file is and what it comes to, above the table. In a small
    // window it scrolls within its share, so that the table and the panes
    // below stay in reach.
    egui::Panel::top("preview-top")
        .resizable(false)
        .show_separator_line(false)
        .show(ui, |ui| {
            let share = (height * 0.3).max(110.0);
            // Never shorter than it was for this sheet: a banner or notice
            // that goes would otherwise move the table under the pointer.
            let tallest_id = egui::Id::unique(("preview-top", &preview.path, &preview.sheet));
            let tallest = ui
                .ctx()
                .data(|d| d.get_temp::<f32>(tallest_id))
                .unwrap_or(0.0);
            ui.set_min_height(tallest.min(share));
            let shown = egui::ScrollArea::vertical()
                .id_salt("preview-top")
                .min_scrolled_height(share)
                .max_height(share)
                .show(ui, |ui| {
                    preview_top_ui(
                        ui,
                        preview,
                        workbook.as_ref(),
                        mapping_message,
                        &SheetState {
                            edits,
                            fixed,
                            left_out: skipped,
                            reading_again,
                        },
                        actions,
                    );
                });
            // Measured once the sheet is read: what shows while it loads
            // is no height to keep.
            if settled {
                let height = shown.inner_rect.height();
                ui.ctx()
                    .data_mut(|d| d.insert_temp(tallest_id, tallest.max(height)));
            }
        });
    if preview.failed.is_some() {
        return;
    }
    fixing::keyboard(ui.ctx(), preview, edits);
    panes_ui(ui, preview, edits, actions);
    // The rest, between the panes: a region of its own, so the table's
    // column lines stop at the pane below.
    let rest = ui.cursor().intersect(ui.max_rect());
    ui.scope_builder(egui::UiBuilder::new().max_rect(rest), |ui| {
        ui.shrink_clip_rect(rest);
        selected_row_ui(ui, preview, edits, actions);
        // Wide sheets scroll sideways; the table scrolls its rows itself.
        egui::ScrollArea::horizontal()
            .id_salt("preview-columns")
            .max_height(ui.available_height())
            .show(ui, |ui| table_ui(ui, preview, (edits, mapping), actions));
    });
}

/// Below the table: the problems, and beside them the broker's changes, the
/// clean-ups and the values to map, in one pane whose edge the broker drags.
fn panes_ui(
    ui: &mut egui::Ui,
    preview: &mut Preview,
    edits: &SheetEdits,
    actions: &mut Vec<Action>,
) {
    let changes = fixing::ChangeList::of(preview, edits);
    // Values to map and clean-ups share the pane with the problems, so it
    // starts taller for them; the broker can drag its edge either way.
    let has_values = preview.value_tally.as_ref().is_some_and(|t| !t.is_empty())
        || preview
            .clean_up_tally
            .as_ref()
            .is_some_and(|t| !t.is_empty())
        || !edits.is_empty();
    let below = ui.available_height();
    // One pane, whatever it shows: values arriving once the file is read
    // leave its size (and the table's) as it was.
    let (pane, default_size) = ("preview-panes", (below * 0.5).clamp(150.0, 340.0));
    egui::Panel::bottom(pane)
        .resizable(true)
        .default_size(default_size)
        // The table keeps its header, the line above it and a few rows.
        .size_range(70.0..=(below - 200.0).max(70.0))
        .show(ui, |ui| {
            if has_values {
                // Lent out for the frame: the problems list borrows the preview.
                let tally = preview.value_tally.take();
                let clean_ups = preview.clean_up_tally.take();
                let entity = preview.entity;
                StripBuilder::new(ui)
                    .size(Size::remainder().at_least(200.0))
                    .size(Size::relative(0.45).at_least(280.0))
                    .horizontal(|mut strip| {
                        strip.cell(|ui| problems_ui(ui, preview));
                        strip.cell(|ui| {
                            egui::ScrollArea::vertical()
                                .id_salt("values and clean-ups")
                                .auto_shrink([false, false])
                                .show(ui, |ui| {
                                    // Here, not above the table: a line that came
                                    // and went there would move the rows under the
                                    // pointer.
                                    changes.ui(ui, edits, actions);
                                    fixing::clean_ups_ui(ui, clean_ups.as_ref(), edits, actions);
                                    if let Some(tally) = tally.as_ref().filter(|t| !t.is_empty()) {
                                        values_ui(ui, entity, tally, actions);
                                    }
                                });
                        });
                    });
                preview.value_tally = tally;
                preview.clean_up_tally = clean_ups;
            } else {
                problems_ui(ui, preview);
            }
        });
}

/// Above the table: the file, its sheets and entity, the mapping line,
/// banners and notices, and the counts.
fn preview_top_ui(
    ui: &mut egui::Ui,
    preview: &mut Preview,
    workbook: Option<&WorkbookPlan>,
    mapping_message: &Option<String>,
    state: &SheetState<'_>,
    actions: &mut Vec<Action>,
) {
    let skipped = state.left_out;
    file_header_ui(ui, preview, workbook, state, actions);
    if preview.failed.is_none() && preview.sheet_errors().next().is_none() {
        // The counts first: in a small window what follows scrolls.
        summary_ui(ui, preview, state);
    }
    mapping_line_ui(ui, preview, mapping_message.as_deref(), actions);
    if let Some(message) = &preview.failed {
        ui.add_space(8.0);
        theme::error_banner_ui(ui, message);
        return;
    }
    if skipped {
        ui.label(
            RichText::new(
                "This sheet is left out of the workbook's import. Choose what its rows are to include it.",
            )
            .color(theme::WARN_TEXT),
        );
    }
    let mut sheet_errors = false;
    for issue in preview.sheet_errors() {
        theme::error_banner_ui(ui, &issue.message);
        sheet_errors = true;
    }
    // A sheet that cannot go says why before what it comes to.
    if sheet_errors {
        summary_ui(ui, preview, state);
    }
    for notice in &preview.notices {
        ui.label(RichText::new(format!("ℹ {notice}")).weak());
    }
}

fn file_header_ui(
    ui: &mut egui::Ui,
    preview: &Preview,
    workbook: Option<&WorkbookPlan>,
    state: &SheetState<'_>,
    actions: &mut Vec<Action>,
) {
    let skipped = state.left_out;
    let in_workbook = workbook.is_some();
    ui.horizontal_wrapped(|ui| {
        ui.label(theme::bold(preview.file_name()).size(20.0));
        if !preview.description.is_empty() {
            ui.weak(&preview.description);
        }
    });
    if let Some(plan) = workbook {
        super::workbook_panel::sheet_tabs_ui(ui, plan, preview.sheet.as_deref(), actions);
    }
    // The pickers on a line of their own: a long file name never pushes
    // them under the database panel.
    ui.horizontal_wrapped(|ui| {
        ui.horizontal(|ui| {
            let label = ui.label("Rows are:");
            egui::ComboBox::from_id_salt("entity")
                .selected_text(if skipped {
                    "Not imported"
                } else {
                    preview.entity.title()
                })
                .show_ui(ui, |ui| {
                    for entity in Entity::ALL {
                        let chosen = entity == preview.entity && !skipped;
                        if ui.selectable_label(chosen, entity.title()).clicked() && !chosen {
                            actions.push(Action::PickEntity(entity));
                        }
                    }
                    if in_workbook
                        && ui.selectable_label(skipped, "Not imported").clicked()
                        && !skipped
                    {
                        actions.push(Action::SkipSheet);
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(match preview.entity_choice {
                    EntityChoice::Given => "Chosen by you",
                    EntityChoice::SheetName => "Recognised from the sheet's name",
                    EntityChoice::FileName => "Recognised from the file's name",
                    EntityChoice::Headers => "Recognised from the column headers",
                });
        });
        if preview.sheets.len() > 1 && !in_workbook {
            let current = preview.sheet.clone().unwrap_or_default();
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                let label = ui.label("Sheet:");
                egui::ComboBox::from_id_salt("sheet")
                    .selected_text(&current)
                    .show_ui(ui, |ui| {
                        for name in &preview.sheets {
                            if ui.selectable_label(*name == current, name).clicked()
                                && *name != current
                            {
                                actions.push(Action::PickSheet(name.clone()));
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id);
            });
        }
        if !skipped {
            one_value_per_sheet_ui(ui, preview, state.fixed, actions);
        }
    });
}

/// The header row and the mapping file buttons.
fn mapping_line_ui(
    ui: &mut egui::Ui,
    preview: &Preview,
    mapping_message: Option<&str>,
    actions: &mut Vec<Action>,
) {
    if preview.headers.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Header: row {}", preview.header_row))
            .on_hover_text("Select a row in the table to read the header from it instead");
        if preview.header_chosen {
            ui.weak("(chosen by you)");
            if ui.small_button("Find it automatically").clicked() {
                actions.push(Action::SetHeaderRow(None));
            }
        }
        ui.separator();
        if ui
            .button("Save mapping…")
            .on_hover_text(
                "Write the header row, column targets and value choices to a file, \
                 to import next month's file of the same shape in one step",
            )
            .clicked()
        {
            actions.push(Action::SaveMapping);
        }
        if ui
            .button("Load mapping…")
            .on_hover_text("Apply a mapping file saved before")
            .clicked()
        {
            actions.push(Action::LoadMapping);
        }
        if let Some(message) = mapping_message {
            ui.weak(message);
        }
    });
}

/// For a field no column fills that a whole sheet can share (a list of
/// principals with no TYPE column), the value every row gets.
fn one_value_per_sheet_ui(
    ui: &mut egui::Ui,
    preview: &Preview,
    fixed: &BTreeMap<String, String>,
    actions: &mut Vec<Action>,
) {
    if preview.headers.is_empty() {
        return;
    }
    for field in preview.entity.description().fields {
        if !field.takes_one_value_per_sheet()
            || preview.targets.iter().any(|target| target == field.column)
        {
            continue;
        }
        let Some(allowed) = field.allowed_values() else {
            if field.link().is_some() {
                one_name_per_sheet_ui(ui, field, fixed.get(field.column), actions);
            }
            continue;
        };
        let chosen = fixed.get(field.column);
        let has_segment = preview.targets.iter().any(|t| t == "segment");
        let unset = match field.kind {
            FieldKind::OrganizationType if has_segment => "from each row's segment",
            FieldKind::OrganizationType => "customer (no segment column says otherwise)",
            _ => "none (every row fails)",
        };
        ui.add_space(12.0);
        ui.horizontal(|ui| {
            let label = ui.label(format!(
                "{}:",
                theme::capitalise(&field.label.to_lowercase())
            ));
            egui::ComboBox::from_id_salt(("one value", field.column))
                .selected_text(match chosen {
                    Some(value) => RichText::new(value).color(theme::ACCENT),
                    None => RichText::new(unset).italics(),
                })
                .show_ui(ui, |ui| {
                    if ui.selectable_label(chosen.is_none(), unset).clicked() && chosen.is_some() {
                        actions.push(Action::SetOneValue(field.column, None));
                    }
                    for value in allowed {
                        let this = chosen.map(String::as_str) == Some(value);
                        if ui.selectable_label(this, value).clicked() && !this {
                            actions.push(Action::SetOneValue(field.column, Some(value.to_owned())));
                        }
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(format!(
                    "No column of this sheet holds the {}: give every row one value \
                     (saved with the mapping){}",
                    field.label.to_lowercase(),
                    match field.kind {
                        FieldKind::OrganizationType => {
                            ". Without one, a segment of Distributor makes a distributor, \
                             Principal, Manufacturer or Supplier a principal, any other a customer"
                        }
                        _ => "",
                    }
                ));
        });
    }
}

/// For a required link no column fills (a price list naming its
/// manufacturer only in its title), the name every row links to: typed,
/// kept on Enter or when the field is left.
fn one_name_per_sheet_ui(
    ui: &mut egui::Ui,
    field: &FieldSpec,
    chosen: Option<&String>,
    actions: &mut Vec<Action>,
) {
    let id = egui::Id::unique(("one name", field.column));
    let mut text = ui
        .data(|d| d.get_temp::<String>(id))
        .or_else(|| chosen.cloned())
        .unwrap_or_default();
    ui.add_space(12.0);
    ui.horizontal(|ui| {
        let label = ui.label(format!(
            "{} of every row:",
            theme::capitalise(&field.label.to_lowercase())
        ));
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .hint_text("a name in the CRM or this workbook")
                    .desired_width(200.0),
            )
            .labelled_by(label.id)
            .on_hover_text(format!(
                "No column of this sheet holds the {}: every row links to the record of this name \
                 (saved with the mapping)",
                field.label.to_lowercase()
            ));
        if edit.lost_focus() {
            let typed = text.trim().to_owned();
            if Some(&typed) != chosen {
                actions.push(Action::SetOneValue(
                    field.column,
                    (!typed.is_empty()).then_some(typed),
                ));
            }
            ui.data_mut(|d| d.remove::<String>(id));
        } else if edit.has_focus() {
            ui.data_mut(|d| d.insert_temp(id, text));
        }
    });
}

/// What can be done with the selected row: read the header from it, or
/// import it though it looks like a totals row.
fn selected_row_ui(
    ui: &mut egui::Ui,
    preview: &mut Preview,
    edits: &SheetEdits,
    actions: &mut Vec<Action>,
) {
    let selected = match (preview.selected_above, preview.selected) {
        (Some(number), _) => Some((number, true, None)),
        (None, Some(index)) if index < preview.rows.len() => Some((
            preview.rows.number(index),
            false,
            Some(preview.rows.status(index)),
        )),
        _ => None,
    };
    // One line of a fixed height, selected or not: a bar that came and went
    // would move the table under the pointer between the clicks of a
    // double click.
    ui.horizontal(|ui| {
        ui.set_min_height(26.0);
        let Some((number, above, status)) = selected else {
            // Cut short in a narrow window rather than pushed under the
            // panel beside it.
            ui.add(
                egui::Label::new(RichText::new(
                    "Click a row to use it as the header or remove it; double-click a cell (or press Enter) to change it.",
                ).weak())
                .truncate(),
            );
            return;
        };
        ui.label(theme::bold(format!("Row {number}")));
        if ui.small_button("✖").on_hover_text("Unselect").clicked() {
            preview.selected = None;
            preview.selected_above = None;
        }
        if above {
            ui.weak("is above the header and is not imported.");
        }
        if ui
            .button(format!("Use row {number} as the header"))
            .clicked()
        {
            actions.push(Action::SetHeaderRow(Some(number)));
        }
        let removed = edits.removed_rows.contains(&number);
        if status == Some(RowStatus::Skipped) && !removed {
            if ui
                .button("Import this totals row anyway")
                .on_hover_text("It looks like a totals row; import it as a record all the same")
                .clicked()
            {
                actions.push(Action::KeepTotalsRow(number, true));
            }
        } else if edits.kept_totals_rows.contains(&number)
            && ui.button("Skip it as a totals row again").clicked()
        {
            actions.push(Action::KeepTotalsRow(number, false));
        }
        if !above {
            if removed {
                if ui.button("Put this row back").clicked() {
                    actions.push(Action::RemoveRow(number, false));
                }
            } else if ui
                .button("Remove this row")
                .on_hover_text("Leave it out of the import (the file is not changed)")
                .clicked()
            {
                actions.push(Action::RemoveRow(number, true));
            }
            ui.weak("Double-click a cell (or press Enter) to change it");
        }
    });
}

/// The values of enumerated fields the rules do not recognise (or that
/// are mapped), each with a choice of the values the CRM allows.
fn values_ui(ui: &mut egui::Ui, entity: Entity, tally: &ValueTally, actions: &mut Vec<Action>) {
    ui.add_space(4.0);
    let count: usize = tally.fields().map(|f| f.values.len()).sum();
    ui.label(theme::bold(format!("Values to map ({count})")))
        .on_hover_text(
            "Values the CRM does not know, or knows as another system writes them; \
             give each one of the values it allows",
        );
    let description = entity.description();
    for field in tally.fields() {
        let spec = description
            .field_index(field.field)
            .map(|i| &description.fields[i]);
        let outcome = spec.map(|f| f.unrecognised_outcome()).unwrap_or_default();
        ui.label(RichText::new(format!("{} → {}", field.label, field.field)).strong());
        for value in &field.values {
            // The picker wraps under the value in a narrow pane rather
            // than being cut off at its edge.
            ui.horizontal_wrapped(|ui| {
                let written = ui.label(format!("'{}'", value.written));
                ui.weak(format!(
                    "{} row{}",
                    theme::thousands(value.rows),
                    if value.rows == 1 { "" } else { "s" }
                ));
                // Another system's word the rules read as a label.
                let outcome = match value.read_as {
                    Some(label) => format!("{label} (as other systems mean it)"),
                    None => outcome.clone(),
                };
                value_choice_ui(ui, field, value, &outcome, actions).labelled_by(written.id);
            });
            if value.mapped_to.is_none()
                && value.read_as.is_none()
                && let Some(spec) = spec
            {
                ui.indent(("why", field.field, value.written.as_str()), |ui| {
                    ui.label(
                        RichText::new(spec.unrecognised_explained(&value.written))
                            .small()
                            .weak(),
                    );
                });
            }
        }
        if field.uncounted_rows > 0 {
            ui.weak(format!(
                "and {} more rows with other values",
                theme::thousands(field.uncounted_rows)
            ));
        }
        ui.add_space(4.0);
    }
}

fn value_choice_ui(
    ui: &mut egui::Ui,
    field: &TalliedField,
    value: &TalliedValue,
    outcome: &str,
    actions: &mut Vec<Action>,
) -> egui::Response {
    let shown = match &value.mapped_to {
        Some(target) => RichText::new(format!("→ {target}")).color(theme::ACCENT),
        None => RichText::new(format!("→ {outcome}")).italics().weak(),
    };
    egui::ComboBox::from_id_salt(("value", field.field, value.written.as_str()))
        .selected_text(shown)
        .show_ui(ui, |ui| {
            if ui
                .selectable_label(
                    value.mapped_to.is_none(),
                    format!("as the rules say: {outcome}"),
                )
                .clicked()
                && value.mapped_to.is_some()
            {
                actions.push(Action::MapValue(field.field, value.written.clone(), None));
            }
            for allowed in &field.allowed {
                let chosen = value.mapped_to.as_deref() == Some(*allowed);
                if ui.selectable_label(chosen, *allowed).clicked() && !chosen {
                    actions.push(Action::MapValue(
                        field.field,
                        value.written.clone(),
                        Some((*allowed).to_owned()),
                    ));
                }
            }
        })
        .response
}

fn summary_ui(ui: &mut egui::Ui, preview: &mut Preview, state: &SheetState<'_>) {
    let (edits, left_out) = (state.edits, state.left_out);
    let counts = preview.counts;
    ui.horizontal_wrapped(|ui| {
        ui.label(theme::bold(format!("{} rows", theme::thousands(counts.rows))).size(16.0));
        if left_out {
            // Nothing of a sheet left out imports, nor fails.
            ui.label("·");
            ui.label(theme::bold("not imported").size(16.0).weak());
            return;
        }
        ui.label("·");
        ui.label(
            theme::bold(format!(
                "{} will import",
                theme::thousands(counts.would_import)
            ))
            .color(OK_TEXT)
            .size(16.0),
        );
        ui.label("·");
        let fail =
            theme::bold(format!("{} will fail", theme::thousands(counts.would_fail))).size(16.0);
        ui.label(if counts.would_fail > 0 {
            fail.color(FAIL_TEXT)
        } else {
            fail
        });
        ui.label("·");
        let warn = theme::bold(format!(
            "{} warning{}",
            theme::thousands(counts.warnings),
            if counts.warnings == 1 { "" } else { "s" }
        ))
        .size(16.0);
        ui.label(if counts.warnings > 0 {
            warn.color(WARN_TEXT)
        } else {
            warn
        });
        // Skipped rows are totals rows, or rows the broker removed.
        let removed = edits
            .removed_rows
            .iter()
            .filter(|row| preview.rows.index_of(**row).is_some())
            .count() as u64;
        let totals = counts.skipped.saturating_sub(removed);
        for (count, what) in [(totals, "totals row"), (removed, "row")] {
            if count == 0 {
                continue;
            }
            ui.label("·");
            ui.label(
                theme::bold(format!(
                    "{} {what}{} {}",
                    theme::thousands(count),
                    if count == 1 { "" } else { "s" },
                    if what == "row" {
                        "removed by you"
                    } else {
                        "skipped"
                    }
                ))
                .size(16.0)
                .weak(),
            );
        }
    });
    ui.horizontal(|ui| {
        let problems = preview.problem_rows.len();
        ui.add_enabled(
            problems > 0 || preview.only_problems,
            egui::Checkbox::new(
                &mut preview.only_problems,
                format!(
                    "Only rows with problems ({})",
                    theme::thousands(problems as u64)
                ),
            ),
        )
        .on_hover_text("Ctrl+F");
        // On the line that is always there: nothing moves when it goes.
        let reading = match state.reading_again {
            Some(fraction) => Some((fraction, "Reading again…")),
            None => (!preview.finished).then_some((preview.fraction_read, "Reading…")),
        };
        if let Some((fraction, what)) = reading {
            ui.add_space(12.0);
            ui.spinner();
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(160.0)
                    .text(format!("{what} {:.0}%", fraction * 100.0)),
            );
        }
    });
}

fn problems_ui(ui: &mut egui::Ui, preview: &mut Preview) {
    ui.add_space(4.0);
    ui.label(theme::bold(format!(
        "Problems ({})",
        theme::thousands(preview.issues.len() as u64)
    )));
    if preview.issues.is_empty() {
        ui.label(RichText::new("✔ No problems found.").color(OK_TEXT));
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut clicked = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_height, preview.issues.len(), |ui, range| {
            for issue in &preview.issues[range] {
                let (icon, color) = match issue.severity {
                    Severity::Error => ("✖", FAIL_TEXT),
                    Severity::Warning => ("⚠", WARN_TEXT),
                };
                let column = if issue.column.is_empty() {
                    String::new()
                } else {
                    format!(", {}", issue.column)
                };
                let text = RichText::new(format!(
                    "{icon}  Row {}{column}: {}",
                    issue.row, issue.message
                ))
                .color(color);
                let response = ui.add(egui::Button::new(text).frame(false).truncate());
                // The whole message on hover: the line is cut to the pane.
                let whole = format!(
                    "Row {}{column}: {}\n\nClick to show this row",
                    issue.row, issue.message
                );
                if response.on_hover_text(whole).clicked() {
                    clicked = Some(issue.row);
                }
            }
        });
    if let Some(number) = clicked
        && let Some(index) = preview.rows.index_of(number)
    {
        preview.reveal(index);
    }
}
