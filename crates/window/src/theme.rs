//! Fonts and colours. The font (DejaVu Sans: Latin, Greek, Cyrillic) is
//! bundled in the binary so every broker sees the same letters.

use eframe::egui::{self, Color32, FontData, FontDefinitions, FontFamily, RichText};

/// Rows that will not import.
pub const FAIL_FILL: Color32 = Color32::from_rgb(253, 226, 226);
/// Cells with a warning.
pub const WARN_FILL: Color32 = Color32::from_rgb(255, 243, 205);
/// Text for errors.
pub const FAIL_TEXT: Color32 = Color32::from_rgb(176, 32, 32);
/// Text for warnings.
pub const WARN_TEXT: Color32 = Color32::from_rgb(146, 96, 0);
/// Text for success.
pub const OK_TEXT: Color32 = Color32::from_rgb(22, 120, 56);
/// The brand colour of buttons that move the broker forward.
pub const ACCENT: Color32 = Color32::from_rgb(30, 104, 84);

/// Installs the bundled fonts and a light, calm look.
pub fn install(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::empty();
    fonts.font_data.insert(
        "DejaVuSans".to_owned(),
        std::sync::Arc::new(FontData::from_static(include_bytes!(
            "../../../fonts/DejaVuSans.ttf"
        ))),
    );
    fonts.font_data.insert(
        "DejaVuSans-Bold".to_owned(),
        std::sync::Arc::new(FontData::from_static(include_bytes!(
            "../../../fonts/DejaVuSans-Bold.ttf"
        ))),
    );
    fonts
        .families
        .insert(FontFamily::Proportional, vec!["DejaVuSans".to_owned()]);
    fonts
        .families
        .insert(FontFamily::Monospace, vec!["DejaVuSans".to_owned()]);
    fonts.families.insert(
        FontFamily::Name("bold".into()),
        vec!["DejaVuSans-Bold".to_owned(), "DejaVuSans".to_owned()],
    );
    ctx.set_fonts(fonts);
    ctx.set_theme(egui::Theme::Light);
    ctx.global_style_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(10.0, 5.0);
        style.spacing.interact_size.y = 26.0;
        // Always-visible scroll bars with a thumb big enough to grab, even
        // for a table of 300,000 rows.
        style.spacing.scroll = egui::style::ScrollStyle::solid();
        style.spacing.scroll.handle_min_length = 28.0;
    });
}

/// Bold text in the bundled bold face.
pub fn bold(text: impl Into<String>) -> RichText {
    RichText::new(text).family(FontFamily::Name("bold".into()))
}

/// A button that moves the broker forward (open, import).
pub fn primary_button(text: impl Into<String>) -> egui::Button<'static> {
    egui::Button::new(bold(text).color(Color32::WHITE).size(15.0))
        .fill(ACCENT)
        .min_size(egui::vec2(0.0, 34.0))
}

/// A red strip with a message that stays until what it says is fixed
/// (a file that cannot be read, a sheet without a name column).
pub fn error_banner_ui(ui: &mut egui::Ui, message: &str) {
    banner_ui(ui, message, false);
}

/// A red strip with a message and a Dismiss button; returns true when dismissed.
pub fn dismissable_error_ui(ui: &mut egui::Ui, message: &str) -> bool {
    banner_ui(ui, message, true)
}

fn banner_ui(ui: &mut egui::Ui, message: &str, dismissable: bool) -> bool {
    let mut dismissed = false;
    egui::Frame::new()
        .fill(FAIL_FILL)
        .inner_margin(egui::Margin::symmetric(12, 8))
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                ui.label(bold("⚠").color(FAIL_TEXT).size(16.0));
                // The text wraps short of the button instead of running under it.
                let room = ui.available_width() - if dismissable { 90.0 } else { 0.0 };
                ui.scope(|ui| {
                    ui.set_max_width(room.max(120.0));
                    ui.add(egui::Label::new(RichText::new(message).color(FAIL_TEXT)).wrap());
                });
                if dismissable {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
                        if ui.button("Dismiss").clicked() {
                            dismissed = true;
                        }
                    });
                }
            });
        });
    dismissed
}

/// Formats 1234567 as "1,234,567".
/// `text` with its first letter upper-case, to start a sentence.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
