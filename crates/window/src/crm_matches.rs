//! Before an import, when connected: which rows of the sheet are in the CRM
//! already, each beside the record it matches with the fields an update
//! would change, and what each of those rows does (the import's choice, or
//! the broker's for that row). Nothing in the CRM changes to find out.

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::edits::SheetEdits;
use pantry_core::import::ImportOptions;
use pantry_core::run::SheetPlan;
use pantry_core::scan::{self, CrmMatch, DuplicateScan};

use super::file::OpenFile;
use super::task::{self, Task};
use super::theme;
use super::{Action, PantryApp};

/// The scan of the open sheet against the CRM: running, done, or failed.
#[derive(Default)]
pub struct CrmMatchesState {
    pub scan: Option<DuplicateScan>,
    pub failed: Option<String>,
    task: Option<Task<DuplicateScan>>,
}

impl CrmMatchesState {
    /// Starts looking for the sheet's rows in the CRM.
    pub fn start(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        path: std::path::PathBuf,
        sheet: SheetPlan,
        options: ImportOptions,
        settings: ConnectionSettings,
    ) {
        self.failed = None;
        self.scan = None;
        self.task = Some(task::spawn(runtime, ctx, async move {
            scan::scan_duplicates(&path, &sheet, &settings, &options)
                .await
                .map_err(|e| e.to_string())
        }));
    }

    /// Picks up the answer; true when one came.
    pub fn poll(&mut self) -> bool {
        match task::take_ready(&mut self.task) {
            Some(Ok(scan)) => {
                self.scan = Some(scan);
                true
            }
            Some(Err(error)) => {
                self.failed = Some(error);
                true
            }
            None => false,
        }
    }

    /// Whether a scan is running.
    pub fn is_running(&self) -> bool {
        self.task.is_some()
    }
}

/// The card: a button to look, then the matches with a choice per row.
pub fn crm_matches_ui(
    ui: &mut egui::Ui,
    app: &PantryApp,
    file: &OpenFile,
    actions: &mut Vec<Action>,
) {
    let state = &file.crm_matches;
    let edits = file.edits();
    ui.label(theme::bold("Already in the CRM?"));
    if state.is_running() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak("Looking for these rows in the CRM…");
        });
        return;
    }
    if let Some(error) = &state.failed {
        ui.label(RichText::new(format!("✖ {error}")).color(theme::FAIL_TEXT));
    }
    let Some(scan) = &state.scan else {
        if ui
            .button("Look for these rows in the CRM")
            .on_hover_text(
                "Finds the rows that match records already there, and what an update would change; nothing is changed",
            )
            .clicked()
        {
            actions.push(Action::ScanCrmMatches);
        }
        return;
    };
    ui.label(format!(
        "{} of {} rows match records already in the CRM{}.",
        theme::thousands(scan.matches.len() as u64),
        theme::thousands(scan.rows),
        if scan.near.is_empty() {
            String::new()
        } else {
            format!(
                "; {} nearly match one",
                theme::thousands(scan.near.len() as u64)
            )
        }
    ));
    let effective = |row: u64| {
        edits
            .duplicate_choices
            .get(&row)
            .copied()
            .unwrap_or(app.on_duplicate)
    };
    let count = |policy: DuplicatePolicy| {
        scan.matches
            .iter()
            .filter(|m| effective(m.row) == policy)
            .count() as u64
    };
    let said: Vec<String> = [
        (DuplicatePolicy::Skip, "will be skipped"),
        (DuplicatePolicy::Update, "will update their record"),
        (DuplicatePolicy::Create, "will be created anyway"),
    ]
    .into_iter()
    .filter_map(|(policy, what)| {
        let n = count(policy);
        (n > 0).then(|| format!("{} {what}", theme::thousands(n)))
    })
    .collect();
    if !said.is_empty() {
        ui.weak(format!("Of those, {}.", said.join(", ")));
    }
    if ui.small_button("Look again").clicked() {
        actions.push(Action::ScanCrmMatches);
    }
    if scan.matches.is_empty() && scan.near.is_empty() {
        return;
    }
    let row_height = 3.0 * ui.text_style_height(&egui::TextStyle::Body) + 12.0;
    egui::ScrollArea::vertical()
        .id_salt("crm-matches")
        .max_height(260.0)
        .show_rows(ui, row_height, scan.matches.len(), |ui, range| {
            for matched in &scan.matches[range] {
                match_ui(ui, matched, edits, app.on_duplicate, actions);
            }
        });
    if !scan.near.is_empty() {
        egui::CollapsingHeader::new(format!(
            "Nearly match a record ({})",
            theme::thousands(scan.near.len() as u64)
        ))
        .id_salt("crm-near")
        .show(ui, |ui| {
            for near in scan.near.iter().take(200) {
                ui.label(
                    RichText::new(format!("Row {}: {}", near.row, near.message))
                        .color(theme::WARN_TEXT),
                );
            }
        });
    }
}

/// One matched row: the record, the fields that would change, its choice.
fn match_ui(
    ui: &mut egui::Ui,
    matched: &CrmMatch,
    edits: &SheetEdits,
    policy: DuplicatePolicy,
    actions: &mut Vec<Action>,
) {
    let chosen = edits.duplicate_choices.get(&matched.row).copied();
    ui.horizontal(|ui| {
        let label = ui.label(theme::bold(format!("Row {}", matched.row)));
        egui::ComboBox::from_id_salt(("row-policy", matched.row))
            .selected_text(chosen.unwrap_or(policy).as_str())
            .width(70.0)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(chosen.is_none(), format!("as the import: {policy}"))
                    .clicked()
                {
                    actions.push(Action::SetRowDuplicatePolicy(matched.row, None));
                }
                for option in DuplicatePolicy::ALL {
                    if ui
                        .selectable_label(chosen == Some(option), option.as_str())
                        .clicked()
                    {
                        actions.push(Action::SetRowDuplicatePolicy(matched.row, Some(option)));
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.add(
            egui::Label::new(match matched.records.as_slice() {
                [one] => format!("→ {one}"),
                many => format!("→ {} records: {}", many.len(), many.join(", ")),
            })
            .truncate(),
        );
    });
    let changes: Vec<String> = matched
        .fields
        .iter()
        .filter(|f| f.changes)
        .map(|f| {
            format!(
                "{}: {} → {}",
                f.field,
                if f.crm.is_empty() { "(empty)" } else { &f.crm },
                f.file
            )
        })
        .collect();
    let text = if changes.is_empty() {
        RichText::new("   nothing to update").weak()
    } else {
        RichText::new(format!("   {}", changes.join(" · "))).color(theme::ACCENT)
    };
    ui.add(egui::Label::new(text).truncate()).on_hover_text(
        matched
            .fields
            .iter()
            .map(|f| format!("{}: CRM '{}', file '{}'", f.field, f.crm, f.file))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    ui.add_space(2.0);
}
