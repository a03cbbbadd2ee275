//! A whole workbook in the window: its sheets as tabs with what each is
//! imported as, the "Import all sheets" card with what each sheet's link
//! columns name in the workbook and the CRM.

use std::path::PathBuf;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::links;
use pantry_core::mapping::ColumnMap;
use pantry_core::run::RunPlan;
use pantry_core::workbook::{self, LinkColumnSummary, LinkName, WorkbookPlan};

use super::file::OpenFile;
use super::preview::{LinkColumn, PreviewCounts};
use super::task::{self, Task};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};
use super::{Action, ImportScope, PantryApp};

/// The links summary of the open workbook against the connected CRM:
/// computed once per workbook, plan and connection.
#[derive(Default)]
pub struct LinkSummaryState {
    pub summary: Option<Vec<LinkColumnSummary>>,
    pub failed: Option<String>,
    task: Option<Task<Vec<LinkColumnSummary>>>,
}

impl LinkSummaryState {
    /// Picks up the answer, or starts asking when nothing was asked yet.
    pub fn poll_or_start(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        plan: &RunPlan,
        settings: ConnectionSettings,
    ) {
        match task::take_ready(&mut self.task) {
            Some(Ok(summary)) => self.summary = Some(summary),
            Some(Err(error)) => self.failed = Some(error),
            None if self.task.is_none() && self.summary.is_none() && self.failed.is_none() => {
                let plan = plan.clone();
                self.task = Some(task::spawn(runtime, ctx, async move {
                    let client = settings.connect().await.map_err(|e| e.to_string())?;
                    workbook::link_summary(&plan, &client)
                        .await
                        .map_err(|e| e.to_string())
                }));
            }
            None => {}
        }
    }
}

/// Per link column of the workbook: where its names were found, and what
/// happens to the rest under the column's policy.
fn link_summary_ui(ui: &mut egui::Ui, app: &PantryApp, file: &OpenFile, actions: &mut Vec<Action>) {
    let state = &file.link_summary;
    ui.label(theme::bold("Links"));
    if !app.connection.is_verified() {
        ui.weak("Connect to see which names the CRM already has.");
        return;
    }
    if let Some(error) = &state.failed {
        ui.add(egui::Label::new(RichText::new(format!("✖ {error}")).color(FAIL_TEXT)).wrap());
        return;
    }
    let Some(summary) = &state.summary else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak("Looking up the names in the CRM…");
        });
        return;
    };
    if summary.is_empty() {
        ui.weak("No sheet links to another record.");
    }
    for column in summary {
        ui.label(RichText::new(format!(
            "{} · {} → {}",
            column.sheet,
            column.column,
            column.target.name()
        )));
        let mut parts = Vec::new();
        if column.in_workbook > 0 {
            parts.push(format!(
                "{} in this workbook",
                theme::thousands(column.in_workbook)
            ));
        }
        if column.in_crm > 0 {
            parts.push(format!("{} in the CRM", theme::thousands(column.in_crm)));
        }
        let not_found = column.not_found_cells();
        if not_found > 0 {
            // What the column's choice under "Names not found" does to them.
            let policy = column
                .entity
                .description()
                .fields
                .iter()
                .find(|f| f.column == column.field)
                .map(|f| file.link_policies.for_field(f).describe());
            parts.push(format!(
                "{} not found{}",
                theme::thousands(not_found),
                policy.map_or_else(String::new, |p| format!(": {p}"))
            ));
        }
        let ambiguous = column.ambiguous_cells();
        if ambiguous > 0 {
            parts.push(format!("{} ambiguous", theme::thousands(ambiguous)));
        }
        ui.weak(parts.join(" · "));
        for name in column.not_found.iter().take(3) {
            let closest = if name.candidates.is_empty() {
                String::new()
            } else {
                format!(" (closest: {})", name.candidates.join(", "))
            };
            ui.add(
                egui::Label::new(
                    RichText::new(format!("  not found: '{}'{closest}", name.name))
                        .color(WARN_TEXT),
                )
                .wrap(),
            );
        }
        for name in column.ambiguous.iter().take(10) {
            ambiguous_name_ui(ui, file, column, name, actions);
        }
    }
    ui.add_space(4.0);
}

/// A name that matches several CRM records, with the record picked for it
/// (until one is, its rows fail).
fn ambiguous_name_ui(
    ui: &mut egui::Ui,
    file: &OpenFile,
    column: &LinkColumnSummary,
    name: &LinkName,
    actions: &mut Vec<Action>,
) {
    let key = links::lookup_key(column.target, &name.name);
    let picked = file
        .link_policies
        .picked
        .get(&(column.field.to_owned(), key.clone()))
        .and_then(|id| name.ids.iter().position(|i| i == id));
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "  '{}' ({} cells) matches {}:",
                name.name,
                theme::thousands(name.cells),
                name.candidates.len()
            ))
            .color(if picked.is_some() { OK_TEXT } else { FAIL_TEXT }),
        );
        let shown = picked.map_or("pick one (else these rows fail)", |i| {
            name.candidates[i].as_str()
        });
        egui::ComboBox::from_id_salt(("pick", column.field, &key))
            .selected_text(shown)
            .show_ui(ui, |ui| {
                for (index, (id, candidate)) in name.ids.iter().zip(&name.candidates).enumerate() {
                    if ui
                        .selectable_label(picked == Some(index), candidate)
                        .clicked()
                    {
                        actions.push(Action::PickLinkTarget(column.field, key.clone(), *id));
                    }
                }
            });
    });
}

/// The workbook's sheets as tabs: the one on screen, and what each is
/// imported as ("not imported" for a ReadMe).
pub fn sheet_tabs_ui(
    ui: &mut egui::Ui,
    plan: &WorkbookPlan,
    current: Option<&str>,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Sheets:").weak());
        for sheet in &plan.sheets {
            let name = sheet.sheet.as_deref().unwrap_or_default();
            let selected = current == Some(name);
            let what = sheet
                .entity
                .map_or_else(|| "not imported".to_owned(), |e| e.title().to_owned());
            let text = RichText::new(format!("{name} · {what}"));
            let text = if sheet.entity.is_none() {
                text.weak()
            } else {
                text
            };
            let button =
                ui.add(egui::Button::selectable(selected, text))
                    .on_hover_text(match sheet.entity {
                        Some(entity) => format!(
                            "Imported as {} with the other sheets; click to preview it",
                            entity.name()
                        ),
                        None => "Not imported; click to preview it and choose what its rows are"
                            .to_owned(),
                    });
            if button.clicked() && !selected {
                actions.push(Action::PickSheet(name.to_owned()));
            }
        }
    });
}

/// The import card of a workbook: every sheet to import, in the order they
/// will run, and the button that runs them all.
pub fn run_start_ui(
    ui: &mut egui::Ui,
    app: &PantryApp,
    file: &OpenFile,
    plan: &WorkbookPlan,
    ready: bool,
    actions: &mut Vec<Action>,
) {
    let order = plan.import_order();
    ui.label(theme::bold("The whole workbook"));
    ui.weak(
        "Sheets run in this order, so a contact's company can be an account of the first sheet:",
    );
    egui::Grid::new("workbook-order")
        .num_columns(3)
        .spacing([8.0, 2.0])
        .show(ui, |ui| {
            for (index, (sheet, entity)) in order.iter().enumerate() {
                ui.label(format!("{}.", index + 1));
                ui.label(sheet);
                let counts = file.sheet_counts.get(sheet);
                ui.label(
                    RichText::new(match counts {
                        Some(c) => entity.count(c.would_import),
                        None => entity.title().to_owned(),
                    })
                    .weak(),
                );
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    link_summary_ui(ui, app, file, actions);
    let button = ui.add_enabled(
        ready,
        theme::primary_button(format!("Import all {} sheets", order.len())),
    );
    if button.clicked() {
        actions.push(Action::StartImport(ImportScope::WholeWorkbook));
    }
    ui.add_space(6.0);
}

/// Reads a workbook's plan in the background.
pub fn read_plan(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
    path: PathBuf,
) -> Task<WorkbookPlan> {
    task::spawn(runtime, ctx, async move {
        tokio::task::spawn_blocking(move || WorkbookPlan::read(&path).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    })
}

/// The link columns of every sheet `plan` imports, one per field: a
/// policy chosen for "Company" holds for "Organization" on another sheet
/// too, as both fill `organization_id`.
pub fn workbook_link_columns(plan: &WorkbookPlan) -> Vec<LinkColumn> {
    let mut columns: Vec<LinkColumn> = Vec::new();
    for (sheet, entity) in plan.import_order() {
        let Some(entry) = plan.sheet(&sheet) else {
            continue;
        };
        let map = ColumnMap::new(entity, &entry.headers);
        for field in entity.description().fields {
            let (Some(target), Some(index)) = (field.link(), map.column_of_field(field.column))
            else {
                continue;
            };
            let header = map.label(index);
            match columns.iter_mut().find(|c| c.field == field.column) {
                Some(known) => {
                    if !known.header.split(" / ").any(|h| h == header) {
                        known.header = format!("{} / {header}", known.header);
                    }
                    known.required |= field.required;
                }
                None => columns.push(LinkColumn {
                    field: field.column,
                    header,
                    target: target.entity,
                    required: field.required,
                    entity,
                }),
            }
        }
    }
    columns
}

/// The counts of a previewed sheet, kept per sheet for the workbook card.
pub type SheetCounts = std::collections::HashMap<String, PreviewCounts>;
