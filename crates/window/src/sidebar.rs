//! The left sidebar: where the broker is (Import/Export, Organizations) and
//! the steps of an import.

use eframe::egui::{self, Color32, RichText};

use pantry_core::entity::Entity;

use super::import_panel::ImportRun;
use super::theme::{self, ACCENT};
use super::{Action, PantryApp, View};

/// The steps an import goes through, in order.
const STEPS: [&str; 4] = [
    "Open a spreadsheet",
    "Review the rows",
    "Connect to the CRM",
    "Import",
];

pub fn sidebar_ui(ui: &mut egui::Ui, app: &PantryApp, actions: &mut Vec<Action>) {
    egui::Panel::left("navigation")
        .resizable(false)
        .exact_size(210.0)
        .show(ui, |ui| {
            ui.add_space(12.0);
            ui.label(theme::bold("Pantry Import").size(20.0).color(ACCENT));
            ui.weak("Kitchen Pantry CRM");
            ui.add_space(16.0);
            ui.label(RichText::new("IMPORT AS").small().weak());
            // A sheet left out of the workbook's import is read as nothing.
            let open_entity = app
                .file
                .as_ref()
                .filter(|file| !file.sheet_left_out())
                .map(|file| file.preview.entity);
            for entity in Entity::ALL {
                let selected = open_entity == Some(entity);
                let text = if selected {
                    format!("⬆  {}", entity.title())
                } else {
                    format!("    {}", entity.title())
                };
                let open = app.file.is_some();
                let button = ui.add_enabled(open, egui::Button::selectable(selected, text));
                let button = if open {
                    button.on_hover_text(format!("Read this file's rows as {}", entity.name()))
                } else {
                    button.on_disabled_hover_text(
                        "Open a spreadsheet first; what its rows are is recognised from its sheet name or headers",
                    )
                };
                if button.clicked() && !selected {
                    actions.push(Action::PickEntity(entity));
                }
            }
            ui.add_space(20.0);
            ui.label(RichText::new("STEPS").small().weak());
            let done = steps_done(app);
            // The step to do now: the first one not done.
            let current = done.iter().position(|d| !d);
            for (index, step) in STEPS.iter().enumerate() {
                let (marker, color) = if done[index] {
                    ("✔", theme::OK_TEXT)
                } else if Some(index) == current {
                    ("▶", ACCENT)
                } else {
                    ("○", Color32::GRAY)
                };
                ui.horizontal(|ui| {
                    ui.label(RichText::new(marker).color(color));
                    ui.label(if Some(index) == current {
                        theme::bold(*step)
                    } else {
                        RichText::new(*step)
                    });
                });
            }
            if app.file.is_some() {
                ui.add_space(20.0);
                open_another_ui(ui, app, actions);
            }
            // The views beside the import, each a button that toggles it;
            // Keep in step once a file is kept (or was).
            let keep_in_step = app.keep.file.is_some().then_some((
                "KEEP IN STEP",
                View::KeepInStep,
                if app.keep.is_running() {
                    "    ● Watching the file"
                } else {
                    "    Passes so far"
                },
                "The file imported again at each save, its passes as they happen",
            ));
            for (heading, view, label, hover) in [
                (
                    "EXPORT",
                    View::Export,
                    "    Export from the CRM…",
                    "Any entity's records, or one import's, as CSV or Excel that imports back unchanged",
                ),
                (
                    "CRM HEALTH",
                    View::Health,
                    "    Check the CRM…",
                    "Score what the CRM holds: duplicates to merge, bad e-mails and phones, empty fields, clean-ups",
                ),
            ]
            .into_iter()
            .chain(keep_in_step)
            {
                ui.add_space(20.0);
                ui.label(RichText::new(heading).small().weak());
                let showing = app.view == view;
                if ui
                    .add(egui::Button::selectable(showing, label))
                    .on_hover_text(hover)
                    .clicked()
                {
                    actions.push(Action::Show(if showing { View::Preview } else { view }));
                }
            }
            ui.with_layout(egui::Layout::bottom_up(egui::Align::Min), |ui| {
                ui.add_space(8.0);
                if ui
                    .add(egui::Button::new(RichText::new("About Pantry Import").weak()).frame(false))
                    .clicked()
                {
                    actions.push(Action::ShowAbout);
                }
            });
        });
}

/// The button back to the drop screen (also on the narrow window's top bar).
pub fn open_another_ui(ui: &mut egui::Ui, app: &PantryApp, actions: &mut Vec<Action>) {
    let running = app.is_importing();
    let button = ui.add_enabled(!running, egui::Button::new("Open another file…"));
    let button = button
        .on_hover_text(
            "Back to the start, to drop or choose another spreadsheet (Ctrl+O opens one directly)",
        )
        .on_disabled_hover_text("Cancel the import first, or wait for it to finish");
    if button.clicked() {
        actions.push(Action::StartOver);
    }
}

/// Which steps are really done: a file that read, rows that can import,
/// a connection that answered with the CRM tables, an import that finished.
fn steps_done(app: &PantryApp) -> [bool; 4] {
    let opened = app
        .preview()
        .is_some_and(|p| p.failed.is_none() && (p.finished || p.counts.rows > 0));
    let reviewed = app.preview_ready()
        && app.preview().is_some_and(|p| {
            p.failed.is_none() && p.sheet_errors().next().is_none() && p.counts.would_import > 0
        });
    let imported = app.run.as_ref().is_some_and(ImportRun::finished_whole);
    // A finished import proves the connection as well as a test does.
    let connected = app.connection.is_verified() || imported;
    [opened, reviewed, connected, imported]
}
