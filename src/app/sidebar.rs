//! The left sidebar: where the broker is (Import/Export, Organizations) and
//! the steps of an import.

use eframe::egui::{self, Color32, RichText};

use pantry_import::entity::Entity;

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
            ui.label(RichText::new("IMPORT AS").small().weak());
            let open_entity = app.preview.as_ref().map(|p| p.entity);
            for entity in Entity::ALL {
                let selected = open_entity == Some(entity);
                let text = if selected {
                    format!("⬆  {}", entity.title())
                } else {
                    format!("    {}", entity.title())
                };
                let button = ui.add_enabled(
                    open_entity.is_some(),
                    egui::Button::selectable(selected, text),
                );
                let button = if open_entity.is_some() {
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
