//! The first screen: drop a spreadsheet, pick one, or type its path.

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use super::Action;
use super::theme::{self, ACCENT};

pub fn open_file_ui(ui: &mut egui::Ui, typed_path: &mut String, actions: &mut Vec<Action>) {
    let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    ui.vertical_centered(|ui| {
        ui.add_space((ui.available_height() * 0.15).min(120.0));
        let stroke = if hovering {
            egui::Stroke::new(2.5, ACCENT)
        } else {
            egui::Stroke::new(1.5, egui::Color32::from_gray(180))
        };
        egui::Frame::new()
            .stroke(stroke)
            .corner_radius(10.0)
            .fill(if hovering {
                egui::Color32::from_rgb(232, 245, 240)
            } else {
                egui::Color32::from_gray(250)
            })
            .inner_margin(egui::Margin::symmetric(48, 36))
            .show(ui, |ui| {
                ui.set_max_width(560.0);
                ui.vertical_centered(|ui| {
                    ui.label(RichText::new("⬇").size(40.0).color(ACCENT));
                    ui.label(theme::bold("Drop your spreadsheet here").size(22.0));
                    ui.add_space(4.0);
                    ui.label("Excel (.xlsx, .xls, .xlsm), OpenDocument (.ods) or CSV / TSV / TXT.");
                    ui.weak(
                        "Every row shows at once, with problems marked. No database needed yet.",
                    );
                    ui.add_space(14.0);
                    if ui.add(theme::primary_button("Choose a file…")).clicked() {
                        actions.push(Action::OpenDialog);
                    }
                    ui.add_space(14.0);
                    ui.horizontal(|ui| {
                        let label = ui.weak("or type its path:");
                        let field = ui
                            .add(
                                egui::TextEdit::singleline(typed_path)
                                    .hint_text("/home/me/Accounts.xlsx")
                                    .desired_width(280.0),
                            )
                            .labelled_by(label.id);
                        let entered =
                            field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        if (ui.button("Open").clicked() || entered) && !typed_path.trim().is_empty()
                        {
                            actions.push(Action::OpenPath(PathBuf::from(typed_path.trim())));
                        }
                    });
                });
            });
    });
}
