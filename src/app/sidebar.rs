//! The left sidebar: where the broker is (Import/Export, Organizations) and
//! the steps of an import.

use eframe::egui::{self, Color32, RichText};

use super::theme::{self, ACCENT};
use super::{Action, PantryApp};

/// The steps an import goes through, in order.
const STEPS: [&str; 4] = [
    "Open a spreadsheet",
    "Review the rows",
    "Connect to the CRM",
    "Import",
];

pub fn sidebar_ui(ui: &mut egui::Ui, app: &PantryApp, actions: &mut Vec<Action>) {
    let current = current_step(app);
    egui::Panel::left("navigation")
        .resizable(false)
        .exact_size(210.0)
        .show(ui, |ui| {
            ui.add_space(12.0);
            ui.label(theme::bold("Pantry Import").size(20.0).color(ACCENT));
            ui.weak("Kitchen Pantry CRM");
            ui.add_space(16.0);
            ui.label(RichText::new("IMPORT / EXPORT").small().weak());
            let _ = ui.selectable_label(true, "⬆  Organizations");
            ui.add_enabled(false, egui::Button::selectable(false, "   Contacts"))
                .on_disabled_hover_text("Contacts come in a later version");
            ui.add_enabled(false, egui::Button::selectable(false, "   Products"))
                .on_disabled_hover_text("Products come in a later version");
            ui.add_space(20.0);
            ui.label(RichText::new("STEPS").small().weak());
            for (index, step) in STEPS.iter().enumerate() {
                let (marker, color) = if index < current {
                    ("✔", theme::OK_TEXT)
                } else if index == current {
                    ("▶", ACCENT)
                } else {
                    ("○", Color32::GRAY)
                };
                ui.horizontal(|ui| {
                    ui.label(RichText::new(marker).color(color));
                    let text = RichText::new(*step);
                    ui.label(if index == current {
                        theme::bold(*step)
                    } else {
                        text
                    });
                });
            }
            if app.preview.is_some() {
                ui.add_space(20.0);
                let running = app.import.as_ref().is_some_and(|run| run.is_running());
                if ui
                    .add_enabled(!running, egui::Button::new("Open another file…"))
                    .clicked()
                {
                    actions.push(Action::StartOver);
                }
            }
        });
}

fn current_step(app: &PantryApp) -> usize {
    if app.import.is_some() || app.connection.is_verified() {
        3
    } else if app.preview_ready() {
        2
    } else if app.preview.is_some() {
        1
    } else {
        0
    }
}
