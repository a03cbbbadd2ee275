//! Fixing the sheet in the window: a cell typed over in the preview (double
//! click or Enter, Escape to cancel, Tab to the next problem), rows removed,
//! clean-up suggestions applied by kind, the list of changes with a revert
//! for each, and the keys that move through a table of any size.

use eframe::egui::{self, Key, Modifiers, RichText};
use pantry_core::clean::{CleanUp, CleanUpCount, CleanUpTally};
use pantry_core::edits::SheetEdits;

use super::Action;
use super::preview::Preview;
use super::theme::{self, OK_TEXT, WARN_TEXT};

/// A cell being typed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellEditor {
    /// The row's number.
    pub row: u64,
    /// The column's index.
    pub column: usize,
    /// The text as typed so far.
    pub text: String,
    /// The text before (the edit's, else the file's).
    pub before: String,
    focused: bool,
}

impl CellEditor {
    /// Starts editing a cell that reads `before`.
    pub fn new(row: u64, column: usize, before: &str) -> CellEditor {
        CellEditor {
            row,
            column,
            text: before.to_owned(),
            before: before.to_owned(),
            focused: false,
        }
    }
}

/// What the broker did in the editor this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorOutcome {
    Typing,
    /// Enter, or a click elsewhere.
    Commit,
    /// Tab: commit, then edit the next problem.
    CommitAndNext,
    /// Escape.
    Cancel,
}

/// The text box in place of a cell.
pub fn editor_ui(ui: &mut egui::Ui, editor: &mut CellEditor) -> EditorOutcome {
    // Taken before the text box sees them: Tab would move the focus away.
    let (enter, tab, escape) = ui.input_mut(|i| {
        (
            i.consume_key(Modifiers::NONE, Key::Enter),
            i.consume_key(Modifiers::NONE, Key::Tab),
            i.consume_key(Modifiers::NONE, Key::Escape),
        )
    });
    let response = ui.add(
        egui::TextEdit::singleline(&mut editor.text)
            .id_salt(("cell editor", editor.row, editor.column))
            .desired_width(f32::INFINITY)
            .hint_text("empty"),
    );
    if escape {
        return EditorOutcome::Cancel;
    }
    // Asked until it holds: the release of a double click can take the
    // focus away again on the frame after it was given.
    if !editor.focused {
        if response.has_focus() {
            editor.focused = true;
        } else {
            response.request_focus();
        }
        return EditorOutcome::Typing;
    }
    if escape {
        EditorOutcome::Cancel
    } else if tab {
        EditorOutcome::CommitAndNext
    } else if enter || response.lost_focus() {
        EditorOutcome::Commit
    } else {
        EditorOutcome::Typing
    }
}

/// The action that keeps what the editor holds (nothing when unchanged):
/// the file's text again drops the edit.
pub fn commit(editor: &CellEditor, original: &str, then_next: bool) -> Option<Action> {
    if editor.text == editor.before && !then_next {
        return None;
    }
    let text = (editor.text != original).then(|| editor.text.clone());
    Some(Action::EditCell {
        row: editor.row,
        column: editor.column,
        text,
        then_next,
    })
}

/// The broker's changes as the list shows them, taken from the preview
/// before it is lent out for the frame.
pub struct ChangeList {
    /// Row, column, header, the file's text and the text typed.
    cells: Vec<(u64, usize, String, String, String)>,
}

impl ChangeList {
    /// The edited cells of `edits`, with their headers and the file's text.
    pub fn of(preview: &Preview, edits: &SheetEdits) -> ChangeList {
        let mut cells = Vec::with_capacity(edits.edited_cells());
        for (&row, columns) in &edits.cells {
            for (&column, text) in columns {
                let header = preview.headers.get(column).cloned().unwrap_or_default();
                let before = preview
                    .rows
                    .index_of(row)
                    .and_then(|i| preview.rows.cells(i).nth(column))
                    .unwrap_or("")
                    .to_owned();
                cells.push((row, column, header, before, text.clone()));
            }
        }
        ChangeList { cells }
    }

    /// "✎ 3 cells edited · 1 row removed · phones cleaned", opening to the
    /// list, each with a way back.
    pub fn ui(&self, ui: &mut egui::Ui, edits: &SheetEdits, actions: &mut Vec<Action>) {
        let cells = self.cells.len();
        let removed = edits.removed_rows.len();
        if cells == 0 && removed == 0 && edits.clean.is_empty() {
            return;
        }
        let parts = changes_in_words(cells, removed, &edits.clean);
        // The summary wraps in the narrow panel; the list opens below it.
        ui.label(
            theme::bold(format!("✎ Your changes: {}", parts.join(" · "))).color(theme::ACCENT),
        );
        egui::CollapsingHeader::new("Show each change")
        .id_salt("your changes")
        .show(ui, |ui| {
            ui.weak("The file is never changed: these are applied as it is imported, each original kept in the record's import notes.");
            for (row, column, header, before, text) in &self.cells {
                ui.horizontal_wrapped(|ui| {
                    if ui.small_button("Revert").clicked() {
                        actions.push(Action::EditCell {
                            row: *row,
                            column: *column,
                            text: None,
                            then_next: false,
                        });
                    }
                    ui.label(format!("Row {row}, {header}: '{}' → '{text}'", before.trim()));
                });
            }
            for &row in &edits.removed_rows {
                ui.horizontal_wrapped(|ui| {
                    if ui.small_button("Put it back").clicked() {
                        actions.push(Action::RemoveRow(row, false));
                    }
                    ui.label(format!("Row {row} removed"));
                });
            }
            for &kind in &edits.clean {
                ui.horizontal_wrapped(|ui| {
                    if ui.small_button("Undo").clicked() {
                        actions.push(Action::ApplyCleanUp(kind, false));
                    }
                    ui.label(format!("Clean-up: {}", kind.describe()));
                });
            }
        });
        ui.add_space(6.0);
    }
}

/// Each clean-up kind the file would gain from, with its count and a few
/// examples, applied on consent; the applied ones with an undo.
pub fn clean_ups_ui(
    ui: &mut egui::Ui,
    tally: Option<&CleanUpTally>,
    edits: &SheetEdits,
    actions: &mut Vec<Action>,
) {
    let suggested: Vec<(&CleanUp, &CleanUpCount)> = tally
        .map(|tally| {
            tally
                .kinds
                .iter()
                .filter(|(_, count)| count.cells > 0)
                .collect()
        })
        .unwrap_or_default();
    if suggested.is_empty() && edits.clean.is_empty() {
        return;
    }
    ui.label(theme::bold(format!(
        "Clean-up suggestions ({})",
        suggested.len()
    )))
    .on_hover_text(
        "The seed's pre-migration checklist, done here: nothing changes until you apply a kind",
    );
    for (&kind, count) in suggested {
        let (cells, examples) = (count.cells, &count.examples);
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Apply")
                .on_hover_text("Change these cells as shown; each original goes to import notes")
                .clicked()
            {
                actions.push(Action::ApplyCleanUp(kind, true));
            }
            ui.label(RichText::new(kind.describe()).strong());
            ui.weak(format!(
                "{} cell{}",
                theme::thousands(cells),
                if cells == 1 { "" } else { "s" }
            ));
        });
        for (before, after) in examples.iter().take(3) {
            ui.label(RichText::new(format!("    '{before}' → '{after}'")).color(WARN_TEXT));
        }
    }
    for &kind in &edits.clean {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("✔ {}: applied", kind.describe())).color(OK_TEXT));
            if ui.small_button("Undo").clicked() {
                actions.push(Action::ApplyCleanUp(kind, false));
            }
        });
    }
    ui.add_space(6.0);
}

/// Rows a Page Up or Page Down moves.
const PAGE_ROWS: usize = 20;

/// The preview's keys, when nothing else has the keyboard: arrows move the
/// selection (left and right the column Enter edits), Page Up/Down by a
/// page, Home/End to the first and last row, Enter edits the cell, Ctrl+F
/// shows only the rows with problems (again: all rows).
pub fn keyboard(ctx: &egui::Context, preview: &mut Preview, edits: &SheetEdits) {
    // Typing somewhere (a text box has the keyboard): the keys are its.
    if preview.editing.is_some() || ctx.egui_wants_keyboard_input() {
        return;
    }
    let (filter, keys) = ctx.input_mut(|i| {
        let filter = i.consume_key(Modifiers::COMMAND, Key::F);
        let keys: Vec<Key> = [
            Key::ArrowDown,
            Key::ArrowUp,
            Key::PageDown,
            Key::PageUp,
            Key::Home,
            Key::End,
            Key::ArrowLeft,
            Key::ArrowRight,
            Key::Enter,
        ]
        .into_iter()
        .filter(|key| i.consume_key(Modifiers::NONE, *key))
        .collect();
        (filter, keys)
    });
    if filter {
        preview.only_problems = !preview.only_problems && !preview.problem_rows.is_empty();
    }
    // The rows as they show: every row, or only those with problems.
    let shown = if preview.only_problems {
        preview.problem_rows.len()
    } else {
        preview.rows.len()
    };
    if shown == 0 {
        return;
    }
    let position = preview.selected.map(|index| {
        if preview.only_problems {
            preview
                .problem_rows
                .binary_search(&index)
                .unwrap_or_else(|i| i.min(shown - 1))
        } else {
            index
        }
    });
    let columns = preview.headers.len().max(1);
    let mut moved = None;
    for key in keys {
        let at = moved.or(position);
        match key {
            Key::ArrowDown => moved = Some(at.map_or(0, |p| (p + 1).min(shown - 1))),
            Key::ArrowUp => moved = Some(at.map_or(0, |p| p.saturating_sub(1))),
            Key::PageDown => moved = Some(at.map_or(0, |p| (p + PAGE_ROWS).min(shown - 1))),
            Key::PageUp => moved = Some(at.map_or(0, |p| p.saturating_sub(PAGE_ROWS))),
            Key::Home => moved = Some(0),
            Key::End => moved = Some(shown - 1),
            Key::ArrowRight => {
                preview.selected_column = (preview.selected_column + 1).min(columns - 1)
            }
            Key::ArrowLeft => preview.selected_column = preview.selected_column.saturating_sub(1),
            Key::Enter => {
                if let Some(index) = preview.selected.filter(|&i| i < preview.rows.len()) {
                    start_editing(preview, edits, index, preview.selected_column);
                }
            }
            _ => {}
        }
    }
    if let Some(position) = moved {
        let index = if preview.only_problems {
            preview.problem_rows[position]
        } else {
            position
        };
        preview.reveal(index);
    }
}

/// Opens the editor on a cell, holding its text as it will import (the
/// broker's edit, else the file's).
pub fn start_editing(preview: &mut Preview, edits: &SheetEdits, index: usize, column: usize) {
    let row = preview.rows.number(index);
    let current = edits
        .cells
        .get(&row)
        .and_then(|cells| cells.get(&column))
        .cloned()
        // Trimmed, as it imports: hidden spaces would end up in front of
        // what is typed.
        .unwrap_or_else(|| {
            preview
                .rows
                .cells(index)
                .nth(column)
                .unwrap_or("")
                .trim()
                .to_owned()
        });
    preview.selected = Some(index);
    preview.selected_column = column;
    preview.editing = Some(CellEditor::new(row, column, &current));
}

/// After the sheet was read again: the next problem cell after `(row,
/// column)` (or the first, wrapping), opened in the editor.
pub fn edit_next_problem(preview: &mut Preview, edits: &SheetEdits, after: (u64, usize)) {
    let column_of = |label: &str| preview.labels.iter().position(|l| l == label);
    let cells: Vec<(u64, usize)> = preview
        .issues
        .iter()
        .filter_map(|issue| column_of(&issue.column).map(|column| (issue.row, column)))
        .filter(|(row, _)| preview.rows.index_of(*row).is_some())
        .collect();
    let next = cells
        .iter()
        .find(|cell| **cell > after)
        .or_else(|| cells.first())
        .copied();
    if let Some((row, column)) = next
        && let Some(index) = preview.rows.index_of(row)
    {
        preview.reveal(index);
        start_editing(preview, edits, index, column);
    }
}

/// "3 cells edited", "1 row removed", "phones cleaned": what of each kind
/// of change there is.
pub fn changes_in_words(
    cells: usize,
    removed: usize,
    clean: &std::collections::BTreeSet<pantry_core::clean::CleanUp>,
) -> Vec<String> {
    let mut parts = Vec::new();
    if cells > 0 {
        parts.push(format!(
            "{cells} cell{} edited",
            if cells == 1 { "" } else { "s" }
        ));
    }
    if removed > 0 {
        parts.push(format!(
            "{removed} row{} removed",
            if removed == 1 { "" } else { "s" }
        ));
    }
    if !clean.is_empty() {
        let kinds: Vec<&str> = clean.iter().map(|k| k.name()).collect();
        parts.push(format!("{} cleaned", kinds.join(", ")));
    }
    parts
}
