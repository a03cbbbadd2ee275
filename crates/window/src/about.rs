//! The About view: the version, the program's licence, and the licences of
//! the bundled fonts and of the crates built into the program.

use eframe::egui::{self, RichText};

use super::theme;

/// The crates the program depends on directly, with their licences (as
/// their own manifests give them). A test keeps the list in step with
/// `Cargo.toml`; the crates they bring in are listed by `cargo tree`.
pub const CRATES: &[(&str, &str)] = &[
    ("ahash", "MIT OR Apache-2.0"),
    ("anyhow", "MIT OR Apache-2.0"),
    (
        "blake3",
        "CC0-1.0 OR Apache-2.0 OR Apache-2.0 WITH LLVM-exception",
    ),
    ("bytes", "MIT"),
    ("calamine", "MIT"),
    ("chrono", "MIT OR Apache-2.0"),
    ("clap", "MIT OR Apache-2.0"),
    ("csv", "Unlicense OR MIT"),
    ("eframe", "MIT OR Apache-2.0"),
    ("egui_extras", "MIT OR Apache-2.0"),
    ("egui_plot", "MIT OR Apache-2.0"),
    ("encoding_rs", "(Apache-2.0 OR MIT) AND BSD-3-Clause"),
    ("encoding_rs_io", "MIT OR Apache-2.0"),
    ("futures-util", "MIT OR Apache-2.0"),
    ("hashbrown", "MIT OR Apache-2.0"),
    ("indicatif", "MIT"),
    ("libc", "MIT OR Apache-2.0"),
    ("memchr", "Unlicense OR MIT"),
    ("notify", "CC0-1.0"),
    ("phonenumber", "Apache-2.0"),
    ("poll-promise", "MIT OR Apache-2.0"),
    ("refinery", "MIT"),
    ("rfd", "MIT"),
    ("rust_decimal", "MIT"),
    ("rust_xlsxwriter", "MIT OR Apache-2.0"),
    ("rustls", "Apache-2.0 OR ISC OR MIT"),
    ("rustls-pemfile", "Apache-2.0 OR ISC OR MIT"),
    ("serde", "MIT OR Apache-2.0"),
    ("serde_json", "MIT OR Apache-2.0"),
    ("strsim", "MIT"),
    ("tempfile", "MIT OR Apache-2.0"),
    ("unicode-normalization", "MIT OR Apache-2.0"),
    ("thiserror", "MIT OR Apache-2.0"),
    ("tokio", "MIT"),
    ("tokio-postgres", "MIT OR Apache-2.0"),
    ("tokio-postgres-rustls", "MIT"),
    ("url", "MIT OR Apache-2.0"),
    ("uuid", "Apache-2.0 OR MIT"),
    ("webpki-roots", "CDLA-Permissive-2.0"),
];

/// The fonts the window draws with, bundled in the program.
pub const FONTS: &str = "DejaVu Sans and DejaVu Sans Bold: the Bitstream Vera fonts licence \
    (free to use, copy and redistribute), with the DejaVu changes in the public domain";

/// The About window, while `open`.
pub fn about_ui(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("About Pantry Import")
        .open(open)
        .collapsible(false)
        .resizable(true)
        .default_width(460.0)
        .default_height(480.0)
        .show(ctx, |ui| {
            ui.label(
                theme::bold(format!("Pantry Import {}", env!("CARGO_PKG_VERSION")))
                    .size(18.0)
                    .color(theme::ACCENT),
            );
            ui.label(env!("CARGO_PKG_DESCRIPTION"));
            ui.label(format!("Licence: {}", env!("CARGO_PKG_LICENSE")));
            ui.add_space(8.0);
            ui.label(theme::bold("Fonts"));
            ui.add(egui::Label::new(FONTS).wrap());
            ui.add_space(8.0);
            ui.label(theme::bold("Built with these crates"));
            egui::ScrollArea::vertical()
                .max_height(260.0)
                .show(ui, |ui| {
                    egui::Grid::new("about-crates")
                        .num_columns(2)
                        .striped(true)
                        .show(ui, |ui| {
                            for (name, licence) in CRATES {
                                ui.label(*name);
                                ui.label(RichText::new(*licence).weak());
                                ui.end_row();
                            }
                        });
                });
        });
}

#[cfg(test)]
mod tests {
    /// Every direct dependency of the program's three crates is listed,
    /// and nothing else.
    #[test]
    fn the_crate_list_matches_the_manifests() {
        let manifests = [
            include_str!("../../../Cargo.toml"),
            include_str!("../../core/Cargo.toml"),
            include_str!("../Cargo.toml"),
        ];
        let mut names = Vec::new();
        for manifest in manifests {
            let mut in_dependencies = false;
            for line in manifest.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    in_dependencies = line == "[dependencies]"
                        || (line.starts_with("[target.") && line.ends_with(".dependencies]"));
                    continue;
                }
                if in_dependencies
                    && let Some((name, _)) = line.split_once('=')
                    && !line.starts_with('#')
                {
                    let name = name.trim().trim_end_matches(".workspace");
                    if !name.starts_with("pantry-") {
                        names.push(name.to_owned());
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        let mut listed: Vec<String> = super::CRATES.iter().map(|(n, _)| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(listed, names);
    }
}
