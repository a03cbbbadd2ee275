//! The table of rows: every row at once (only the visible ones drawn),
//! problems marked, the mapping under each header, cells typed over in place.

use eframe::egui::{self, Align, RichText};
use egui_extras::{Column, TableBuilder};
use pantry_core::clean;
use pantry_core::edits::SheetEdits;
use pantry_core::entity::{Entity, FieldKind, FieldSpec};
use pantry_core::mapping::{RowIssue, Severity};
use pantry_core::saved_mapping::IMPORT_NOTES;

use crate::Action;
use crate::fixing::{self, EditorOutcome};
use crate::theme::{self, FAIL_FILL, FAIL_TEXT, WARN_FILL, WARN_TEXT};

use super::*;

/// The header row's height: the header, its target, and why.
const HEADER_HEIGHT: f32 = 72.0;

/// The menu under a header: the field its column fills, import notes, or
/// nothing. Choosing recomputes the preview.
fn column_target_menu_ui(
    ui: &mut egui::Ui,
    entity: Entity,
    header: &str,
    shown: RichText,
    actions: &mut Vec<Action>,
) {
    let header = header.trim().to_owned();
    ui.menu_button(shown, |ui| {
        ui.label(RichText::new(format!("'{header}' goes to")).weak());
        egui::ScrollArea::vertical()
            .max_height(320.0)
            .show(ui, |ui| {
                // A manager's user id is found from the name, not a column.
                let fields = entity.description().fields.iter();
                for field in fields.filter(|f| !matches!(f.kind, FieldKind::UserOf(_))) {
                    if ui.button(field.column).clicked() {
                        actions.push(Action::SetColumnTarget(
                            header.clone(),
                            Some(field.column.to_owned()),
                        ));
                    }
                }
            });
        ui.separator();
        if ui.button("import notes").clicked() {
            actions.push(Action::SetColumnTarget(
                header.clone(),
                Some(IMPORT_NOTES.to_owned()),
            ));
        }
        if ui.button("skip this column").clicked() {
            actions.push(Action::SetColumnTarget(header.clone(), None));
        }
    })
    .response
    .on_hover_text("Choose the CRM field this column fills");
}

/// What the broker did to the table this frame.
#[derive(Default)]
struct TableClicks {
    row: Option<usize>,
    column: Option<usize>,
    above: Option<u64>,
    double: Option<(usize, usize)>,
}

/// The cell being typed over, lent out of the preview for the frame, and
/// what typing came to.
struct EditorState {
    editor: Option<CellEditor>,
    outcome: EditorOutcome,
    drawn: bool,
}

pub(super) fn table_ui(
    ui: &mut egui::Ui,
    preview: &mut Preview,
    (edits, mapping): (&SheetEdits, &SavedMapping),
    actions: &mut Vec<Action>,
) {
    if preview.headers.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.spinner();
        });
        return;
    }
    // The rows above the header come first, greyed, so one can be chosen
    // as the header; they are not data, so "only problems" leaves them out.
    let above = if preview.only_problems {
        0
    } else {
        preview.above_header.len()
    };
    let visible_count = if preview.only_problems {
        preview.problem_rows.len()
    } else {
        above + preview.rows.len()
    };
    let scroll_to = preview.scroll_to.take().map(|index| {
        if preview.only_problems {
            preview
                .problem_rows
                .binary_search(&index)
                .unwrap_or_else(|i| i)
        } else {
            above + index
        }
    });
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 8.0;
    let mut builder = table_builder(ui, preview, row_height);
    if let Some(row) = scroll_to {
        builder = builder.scroll_to_row(row, Some(Align::Center));
    }
    // Per column, its field, so that the table shows what the applied
    // clean-ups and the values mapped make of a cell.
    let description = preview.entity.description();
    let fields: Vec<Option<&FieldSpec>> = preview
        .targets
        .iter()
        .map(|t| description.field_index(t).map(|i| &description.fields[i]))
        .collect();
    let mut clicks = TableClicks::default();
    let mut editing = EditorState {
        editor: preview.editing.take(),
        outcome: EditorOutcome::Typing,
        drawn: false,
    };
    builder
        .header(HEADER_HEIGHT, |mut header| {
            header_ui(&mut header, preview, actions)
        })
        .body(|body| {
            body.rows(row_height, visible_count, |mut table_row| {
                if table_row.index() < above {
                    let (number, cells) = &preview.above_header[table_row.index()];
                    table_row.set_selected(preview.selected_above == Some(*number));
                    if above_header_row_ui(&mut table_row, *number, cells, preview.headers.len()) {
                        clicks.above = Some(*number);
                    }
                    return;
                }
                let index = if preview.only_problems {
                    preview.problem_rows[table_row.index()]
                } else {
                    table_row.index() - above
                };
                row_ui(
                    &mut table_row,
                    preview,
                    Changes {
                        edits,
                        mapping,
                        fields: &fields,
                    },
                    index,
                    &mut editing,
                    &mut clicks,
                );
            });
        });
    finish_editing(preview, editing, actions);
    if let Some(index) = clicks.row {
        preview.selected = Some(index);
        preview.selected_above = None;
        if let Some(column) = clicks.column {
            preview.selected_column = column;
        }
    }
    if let Some((index, column)) = clicks.double {
        preview.selected_above = None;
        fixing::start_editing(preview, edits, index, column);
    }
    if let Some(number) = clicks.above {
        preview.selected_above = Some(number);
        preview.selected = None;
    }
}

/// The table's frame: its scroll within the room left, and a column per
/// header as wide as the header and its target.
fn table_builder<'a>(ui: &'a mut egui::Ui, preview: &Preview, row_height: f32) -> TableBuilder<'a> {
    // The rows scroll within what is left under the header, however small:
    // egui's default of at least 200 px ran the last rows under the pane
    // below, out of reach in a short window.
    let body_height = (ui.available_height() - HEADER_HEIGHT).max(row_height);
    let mut builder = TableBuilder::new(ui)
        .id_salt(("preview", preview.path.clone(), preview.sheet.clone()))
        .min_scrolled_height(0.0)
        .max_scroll_height(body_height)
        .striped(true)
        .resizable(true)
        .auto_shrink([false, false])
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(Align::Center))
        .column(Column::exact(64.0));
    for (header, target) in preview.headers.iter().zip(&preview.targets) {
        // Wide enough for the header and, in small type, where it goes.
        let width = (header.chars().count() as f32 * 8.5)
            .max((target.chars().count() + 4) as f32 * 7.0)
            + 24.0;
        builder = builder.column(
            Column::initial(width.clamp(90.0, 260.0))
                .at_least(50.0)
                .clip(true),
        );
    }
    builder
}

/// Under a header, why its column goes where it goes: a few words, and a
/// sentence on hover.
fn column_reason_ui(ui: &mut egui::Ui, reason: ColumnReason, target: &str) {
    let (short, long) = match (reason.how, reason.likely) {
        (Some(how), _) => (
            RichText::new(how.short()).small().weak(),
            format!("Goes to {target}: {}.", how.describe()),
        ),
        (None, Some(likely)) => (
            RichText::new(format!("maybe {likely}?"))
                .small()
                .color(WARN_TEXT),
            format!(
                "Its header suggests {likely}, but its values do not bear that out, so it is kept \
                 in import notes (nothing is lost). Choose {likely} above to import it there."
            ),
        ),
        (None, None) if target == "skipped" => (
            RichText::new("left out").small().weak(),
            "You left this column out: it is not imported.".to_owned(),
        ),
        (None, None) => (
            RichText::new("no CRM field").small().weak(),
            "No CRM field has this header: its cells are kept in import notes under it \
             (nothing is lost). Choose a field above to import it there."
                .to_owned(),
        ),
    };
    ui.add(egui::Label::new(short).selectable(false).truncate())
        .on_hover_text(long);
}

/// The header: each column's name, under it the menu of what it fills,
/// and why.
fn header_ui(
    header: &mut egui_extras::TableRow<'_, '_>,
    preview: &Preview,
    actions: &mut Vec<Action>,
) {
    header.col(|ui| {
        ui.label(theme::bold("Row"));
    });
    for (index, name) in preview.headers.iter().enumerate() {
        let target = &preview.targets[index];
        header.col(|ui| {
            ui.vertical(|ui| {
                ui.label(theme::bold(if name.trim().is_empty() {
                    "(no header)"
                } else {
                    name.as_str()
                }));
                let mapped = if target == "import notes" || target == "skipped" {
                    RichText::new(format!("→ {target} ▾"))
                        .small()
                        .italics()
                        .weak()
                } else {
                    RichText::new(format!("→ {target} ▾"))
                        .small()
                        .color(theme::ACCENT)
                };
                column_target_menu_ui(ui, preview.entity, name, mapped, actions);
                let reason = preview.reasons.get(index).copied().unwrap_or_default();
                column_reason_ui(ui, reason, target);
            });
        });
    }
}

/// One data row: its number with what it will do, then its cells, the one
/// being typed over as a text box.
fn row_ui(
    table_row: &mut egui_extras::TableRow<'_, '_>,
    preview: &Preview,
    changes: Changes<'_>,
    index: usize,
    editing: &mut EditorState,
    clicks: &mut TableClicks,
) {
    let edits = changes.edits;
    table_row.set_selected(preview.selected == Some(index));
    let number = preview.rows.number(index);
    let status = preview.rows.status(index);
    let issues = preview.issues_for(number);
    let (_, response) = table_row.col(|ui| {
        if status == RowStatus::Fails {
            ui.painter().rect_filled(ui.max_rect(), 0.0, FAIL_FILL);
        }
        let text = match status {
            RowStatus::Fails => RichText::new(format!("✖ {number}")).color(FAIL_TEXT),
            RowStatus::ImportsWithWarnings => RichText::new(format!("⚠ {number}")).color(WARN_TEXT),
            RowStatus::Imports => RichText::new(number.to_string()).weak(),
            RowStatus::Skipped | RowStatus::Removed => RichText::new(format!("– {number}")).weak(),
        };
        // Not selectable: a click on the text selects the row.
        ui.add(egui::Label::new(text).selectable(false));
    });
    // The reason shows over the whole cell, not only its text.
    let response = if issues.is_empty() {
        response
    } else {
        response.on_hover_text(issue_text(issues))
    };
    if response.clicked() {
        clicks.row = Some(index);
    }
    let mut cells = preview.rows.cells(index);
    let row_edits = edits.cells.get(&number);
    let removed = edits.removed_rows.contains(&number);
    for (column, label) in preview.labels.iter().enumerate() {
        let original = cells.next().unwrap_or("");
        if let Some(editor) = editing
            .editor
            .as_mut()
            .filter(|e| e.row == number && e.column == column)
        {
            table_row.col(|ui| editing.outcome = fixing::editor_ui(ui, editor));
            editing.drawn = true;
            continue;
        }
        let edited = row_edits.and_then(|e| e.get(&column)).map(String::as_str);
        let cleaned = match (edited, changes.fields.get(column)) {
            (None, Some(Some(field))) => changes.of(field, original),
            _ => None,
        };
        let cell = Cell {
            original,
            edited,
            cleaned,
            issues: issues.iter().filter(|i| &i.column == label).collect(),
            fails: status == RowStatus::Fails,
            removed,
            outlined: preview.selected == Some(index) && preview.selected_column == column,
        };
        let response = cell_ui(table_row, &cell);
        if response.double_clicked() {
            clicks.double = Some((index, column));
        } else if response.clicked() {
            clicks.row = Some(index);
            clicks.column = Some(column);
        }
    }
}

/// What the broker changed that the table shows in place of the file's text.
#[derive(Clone, Copy)]
struct Changes<'a> {
    edits: &'a SheetEdits,
    mapping: &'a SavedMapping,
    /// Per column, the field it fills.
    fields: &'a [Option<&'a FieldSpec>],
}

impl Changes<'_> {
    /// What `cell` of `field` is imported as, when a value mapped or a
    /// clean-up applied changes it.
    fn of(&self, field: &FieldSpec, cell: &str) -> Option<String> {
        if let Some(mapped) = self.mapping.value_for(field.column, cell) {
            return Some(mapped.to_owned());
        }
        if self.edits.clean.is_empty() {
            return None;
        }
        clean::cleaned(&self.edits.clean, field, cell)
    }
}

/// One cell of a data row, as it will be imported.
struct Cell<'a> {
    /// The file's text.
    original: &'a str,
    /// The broker's text in its place.
    edited: Option<&'a str>,
    /// What a value mapped or the applied clean-ups make of the file's
    /// text, when they change it.
    cleaned: Option<String>,
    /// Its problems.
    issues: Vec<&'a RowIssue>,
    /// Whether its row fails.
    fails: bool,
    /// Whether its row was removed.
    removed: bool,
    /// Whether it is the cell Enter edits.
    outlined: bool,
}

/// Draws a cell: filled when it has problems, outlined when Enter edits
/// it, its edit marked; its problems and original on hover.
fn cell_ui(table_row: &mut egui_extras::TableRow<'_, '_>, cell: &Cell<'_>) -> egui::Response {
    let shown = cell
        .edited
        .or(cell.cleaned.as_deref())
        .unwrap_or(cell.original);
    let (_, response) = table_row.col(|ui| {
        let fill = if cell.issues.iter().any(|i| i.severity == Severity::Error) || cell.fails {
            Some(FAIL_FILL)
        } else if !cell.issues.is_empty() {
            Some(WARN_FILL)
        } else {
            None
        };
        if let Some(fill) = fill {
            ui.painter().rect_filled(ui.max_rect(), 0.0, fill);
        }
        if cell.outlined {
            ui.painter().rect_stroke(
                ui.max_rect().shrink(1.0),
                2.0,
                egui::Stroke::new(1.5, theme::ACCENT),
                egui::StrokeKind::Inside,
            );
        }
        let shown = if shown.contains(['\n', '\r']) {
            shown.replace("\r\n", " ⏎ ").replace(['\n', '\r'], " ⏎ ")
        } else {
            shown.to_owned()
        };
        let text = match (cell.edited.is_some(), cell.removed) {
            (_, true) => RichText::new(shown).weak().strikethrough(),
            (true, false) => RichText::new(format!("✎ {shown}"))
                .italics()
                .color(theme::ACCENT),
            (false, false) if cell.cleaned.is_some() => RichText::new(shown).color(theme::ACCENT),
            (false, false) => RichText::new(shown),
        };
        // Not selectable: clicks (and double clicks) reach the cell.
        ui.add(egui::Label::new(text).truncate().selectable(false));
    });
    let response = if cell.issues.is_empty() {
        response
    } else {
        let owned: Vec<RowIssue> = cell.issues.iter().map(|i| (*i).clone()).collect();
        response.on_hover_text(issue_text(&owned))
    };
    match (cell.edited, &cell.cleaned) {
        (Some(_), _) => response.on_hover_text(format!("Edited; the file has '{}'", cell.original)),
        (None, Some(_)) => response.on_hover_text(format!(
            "Changed by your choices; the file has '{}'",
            cell.original
        )),
        (None, None) => response,
    }
}

/// Ends the frame's typing: the editor stays open, or what it holds is
/// kept (or dropped on Escape).
fn finish_editing(preview: &mut Preview, editing: EditorState, actions: &mut Vec<Action>) {
    let EditorState {
        editor,
        mut outcome,
        drawn,
    } = editing;
    // Scrolled out of sight (or filtered away), the text box cannot keep
    // the keyboard: what it holds is kept, as a click elsewhere would.
    if editor.is_some() && !drawn {
        outcome = EditorOutcome::Commit;
    }
    match (editor, outcome) {
        (Some(editor), EditorOutcome::Typing) => preview.editing = Some(editor),
        (Some(_), EditorOutcome::Cancel) | (None, _) => {}
        (Some(editor), EditorOutcome::Commit | EditorOutcome::CommitAndNext) => {
            let then_next = outcome == EditorOutcome::CommitAndNext;
            let original = preview
                .rows
                .index_of(editor.row)
                .and_then(|i| preview.rows.cells(i).nth(editor.column))
                .unwrap_or("");
            actions.extend(fixing::commit(&editor, original, then_next));
        }
    }
}

/// A row above the header: its number and cells, greyed; true when clicked.
fn above_header_row_ui(
    table_row: &mut egui_extras::TableRow<'_, '_>,
    number: u64,
    cells: &[String],
    columns: usize,
) -> bool {
    let hint = "Above the header: not imported. Click it to use it as the header.";
    let mut clicked = false;
    let (_, response) = table_row.col(|ui| {
        let number = egui::Label::new(RichText::new(format!("↑ {number}")).weak().italics())
            .sense(egui::Sense::click());
        clicked |= ui.add(number).on_hover_text(hint).clicked();
    });
    clicked |= response.on_hover_text(hint).clicked();
    for column in 0..columns {
        let cell = cells.get(column).map_or("", String::as_str);
        let (_, response) = table_row.col(|ui| {
            ui.add(egui::Label::new(RichText::new(cell).weak().italics()).truncate());
        });
        clicked |= response.on_hover_text(hint).clicked();
    }
    clicked
}

fn issue_text(issues: &[RowIssue]) -> String {
    issues
        .iter()
        .map(|issue| {
            let kind = match issue.severity {
                Severity::Error => "Will not import",
                Severity::Warning => "Warning",
            };
            if issue.column.is_empty() {
                format!("{kind}: {}", issue.message)
            } else {
                format!("{kind} ({}): {}", issue.column, issue.message)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
