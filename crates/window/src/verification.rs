//! After every import, what went in, checked in the database: rows in the
//! file against rows stored (counted by query), the stored values'
//! distributions as bar charts, a random sample of stored rows beside their
//! spreadsheet rows, and links that ended empty.

use std::path::PathBuf;

use eframe::egui::{self, RichText};
use egui_plot::{Bar, BarChart, Plot, PlotPoint, Text};
use pantry_core::database::ConnectionSettings;
use pantry_core::verify::{Distribution, Verification, verify};

use super::task::{self, Task};
use super::theme::{self, ACCENT, FAIL_TEXT, OK_TEXT, WARN_TEXT};

/// The verification of the imports of the last run (one per sheet).
#[derive(Default)]
pub struct VerificationState {
    /// The imports asked about.
    pub imports: Vec<i64>,
    task: Option<Task<Vec<Verification>>>,
    /// What the database said, once it answered.
    pub result: Option<Result<Vec<Verification>, String>>,
}

impl VerificationState {
    /// Verifies `imports` (with the file each read) in the background.
    pub fn start(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
        imports: Vec<(i64, PathBuf)>,
    ) {
        // Asked again each time: a resumed import keeps its number, and its
        // counts have changed.
        let ids: Vec<i64> = imports.iter().map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return;
        }
        self.imports = ids;
        self.result = None;
        self.task = Some(task::spawn(runtime, ctx, async move {
            let client = settings.connect().await.map_err(|e| e.to_string())?;
            let mut verified = Vec::with_capacity(imports.len());
            for (import, file) in imports {
                // The file may have moved since: the sample then shows the CRM side only.
                let file = file.is_file().then_some(file);
                let verification = match verify(&client, import, file.as_deref()).await {
                    Err(pantry_core::verify::VerifyError::OtherFile { .. }) => {
                        verify(&client, import, None).await
                    }
                    other => other,
                };
                verified.push(verification.map_err(|e| e.to_string())?);
            }
            Ok(verified)
        }));
    }

    /// Takes the answer once it has come.
    pub fn poll(&mut self) {
        if let Some(answer) = task::take_ready(&mut self.task) {
            self.result = Some(answer);
        }
    }

    /// Forgets the last verification (another file, another database).
    pub fn clear(&mut self) {
        *self = VerificationState::default();
    }
}

/// The whole verification: one section per import.
pub fn verification_ui(ui: &mut egui::Ui, state: &VerificationState) {
    ui.add_space(12.0);
    ui.separator();
    ui.label(theme::bold("What went in, checked in the CRM").size(18.0));
    match &state.result {
        None if state.imports.is_empty() => {}
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.weak("Counting the stored rows in the database…");
            });
        }
        Some(Err(message)) => {
            ui.colored_label(FAIL_TEXT, format!("Could not verify the import: {message}"));
        }
        Some(Ok(verified)) => {
            for verification in verified {
                if verified.len() > 1 {
                    ui.add_space(8.0);
                    ui.label(theme::bold(format!(
                        "{} ({})",
                        if verification.sheet.is_empty() {
                            &verification.file_name
                        } else {
                            &verification.sheet
                        },
                        verification.entity.name()
                    )));
                }
                one_import_ui(ui, verification);
            }
        }
    }
}

fn one_import_ui(ui: &mut egui::Ui, verification: &Verification) {
    counts_ui(ui, verification);
    if !verification.charts.iter().all(|c| c.values.is_empty()) {
        ui.add_space(8.0);
        let charts: Vec<&Distribution> = verification
            .charts
            .iter()
            .filter(|c| !c.values.is_empty())
            .collect();
        let per_row = ((ui.available_width() + 16.0) / (CHART_WIDTH + 16.0))
            .floor()
            .max(1.0);
        for row in charts.chunks(per_row as usize) {
            ui.horizontal_top(|ui| {
                for chart in row {
                    chart_ui(ui, ("verification", verification.import), chart);
                    ui.add_space(16.0);
                }
            });
            ui.add_space(8.0);
        }
    }
    empty_links_ui(ui, verification);
    sample_ui(ui, verification);
}

/// Rows in the file beside where each went, as the database counts them.
fn counts_ui(ui: &mut egui::Ui, verification: &Verification) {
    let (text, weak) = (ui.visuals().text_color(), ui.visuals().weak_text_color());
    // Totals rows and rows the broker removed: read, not imported.
    let accounted = verification.stored_rows
        + verification.undone_rows
        + verification.updated_rows
        + verification.skipped_rows
        + verification.failed_rows;
    let left_out = verification
        .file_rows
        .and_then(|rows| rows.checked_sub(accounted))
        .unwrap_or(0);
    let failed_color = if verification.failed_rows > 0 {
        FAIL_TEXT
    } else {
        weak
    };
    // (label, count, colour, shown even when zero)
    let figures = [
        (
            "stored by this import",
            verification.stored_rows,
            OK_TEXT,
            true,
        ),
        ("records updated", verification.updated_rows, ACCENT, false),
        (
            "skipped (in the CRM)",
            verification.skipped_rows,
            weak,
            false,
        ),
        ("failed", verification.failed_rows, failed_color, true),
        (
            "left out (totals rows, rows you removed)",
            left_out,
            weak,
            false,
        ),
        ("undone since", verification.undone_rows, WARN_TEXT, false),
    ];
    ui.horizontal_wrapped(|ui| {
        let figure = |ui: &mut egui::Ui, label: &str, value: String, color| {
            ui.vertical(|ui| {
                ui.label(theme::bold(value).size(20.0).color(color));
                ui.weak(label);
            });
            ui.add_space(18.0);
        };
        let file_rows = verification
            .file_rows
            .map_or_else(|| "—".to_owned(), theme::thousands);
        figure(ui, "rows in the file", file_rows, text);
        for (label, count, color, always) in figures {
            if always || count > 0 {
                figure(ui, label, theme::thousands(count), color);
            }
        }
    });
}

/// How wide one chart is drawn.
const CHART_WIDTH: f32 = 300.0;

/// One field's stored values as horizontal bars, most first, each named
/// with its count; `id` tells charts of one field apart.
pub fn chart_ui(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    chart: &Distribution,
) {
    const SHOWN: usize = 12;
    ui.vertical(|ui| {
        ui.set_width(CHART_WIDTH);
        ui.label(theme::bold(&chart.field));
        let bars: Vec<(String, u64, egui::Color32)> = chart
            .values
            .iter()
            .take(SHOWN)
            .map(|(value, count)| (shown_value(value).to_owned(), *count, ACCENT))
            .collect();
        bars_ui(ui, ("distribution", id, &chart.field), CHART_WIDTH, &bars);
        if chart.values.len() > SHOWN {
            ui.weak(format!("and {} more values", chart.values.len() - SHOWN));
        }
    });
}

/// Horizontal bars, in the order given from the top, each named with its
/// count to its right: a still chart (no dragging or zooming), `width` wide.
pub fn bars_ui(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    width: f32,
    bars: &[(String, u64, egui::Color32)],
) {
    let most = bars.iter().map(|(_, n, _)| *n).max().unwrap_or(1).max(1) as f64;
    let top = bars.len() as f64 - 1.0;
    let drawn: Vec<Bar> = bars
        .iter()
        .enumerate()
        .map(|(index, (name, count, color))| {
            Bar::new(top - index as f64, *count as f64)
                .name(name)
                .fill(color.gamma_multiply(0.75))
                .width(0.7)
        })
        .collect();
    let text_color = ui.visuals().text_color();
    Plot::new(id)
        .height(24.0 * bars.len() as f32 + 12.0)
        .width(width)
        .show_axes(false)
        .show_grid(false)
        .show_background(false)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .include_x(0.0)
        .include_x(most * 2.3)
        .show_x(false)
        .show_y(false)
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("bars", drawn).horizontal().color(ACCENT));
            for (index, (name, count, _)) in bars.iter().enumerate() {
                plot.text(
                    Text::new(
                        format!("{name}-{index}"),
                        PlotPoint::new(*count as f64 + most * 0.04, top - index as f64),
                        RichText::new(format!("{name}  {}", theme::thousands(*count))).size(13.0),
                    )
                    .anchor(egui::Align2::LEFT_CENTER)
                    .color(text_color),
                );
            }
        });
}

fn shown_value(value: &str) -> &str {
    if value.is_empty() { "(empty)" } else { value }
}

fn empty_links_ui(ui: &mut egui::Ui, verification: &Verification) {
    let links = &verification.empty_links;
    ui.add_space(6.0);
    if links.is_empty() {
        ui.label(RichText::new("✔ Every link the file named was found.").color(OK_TEXT));
        return;
    }
    egui::CollapsingHeader::new(
        theme::bold(format!(
            "{} link{} ended empty: the CRM has no record of that name",
            theme::thousands(links.len() as u64),
            if links.len() == 1 { "" } else { "s" }
        ))
        .color(WARN_TEXT),
    )
    .id_salt(("empty links", verification.import))
    .show(ui, |ui| {
        for link in links.iter().take(200) {
            ui.label(format!("Row {}: {} '{}'", link.row, link.column, link.name));
        }
    });
}

/// Each sampled row: its fields as stored beside the file's cells, those
/// the rules changed in amber.
fn sample_ui(ui: &mut egui::Ui, verification: &Verification) {
    if verification.sample.is_empty() {
        return;
    }
    ui.add_space(6.0);
    egui::CollapsingHeader::new(theme::bold(format!(
        "{} stored rows picked at random, beside the spreadsheet",
        verification.sample.len()
    )))
    .id_salt(("sample", verification.import))
    .default_open(true)
    .show(ui, |ui| {
        for row in &verification.sample {
            let changed = row
                .cells
                .iter()
                .filter(|c| c.file.is_some() && !c.same)
                .count();
            egui::CollapsingHeader::new(format!(
                "Row {}{}",
                row.row,
                match changed {
                    0 => String::new(),
                    1 => " · 1 value changed by the rules".to_owned(),
                    n => format!(" · {n} values changed by the rules"),
                }
            ))
            .id_salt(("sample row", verification.import, row.row))
            .show(ui, |ui| {
                egui::Grid::new(("sample grid", verification.import, row.row))
                    .striped(true)
                    .num_columns(3)
                    .show(ui, |ui| {
                        ui.label(theme::bold("Field"));
                        ui.label(theme::bold("In the CRM"));
                        ui.label(theme::bold("In the spreadsheet"));
                        ui.end_row();
                        for cell in &row.cells {
                            let file = cell.file.as_deref().unwrap_or("");
                            if cell.stored.is_empty() && file.is_empty() {
                                continue;
                            }
                            ui.label(&cell.field);
                            let stored = RichText::new(&cell.stored);
                            ui.label(if cell.file.is_some() && !cell.same {
                                stored.color(WARN_TEXT)
                            } else {
                                stored
                            });
                            match &cell.file {
                                Some(text) => ui.label(text),
                                None => ui.weak("(not in the file)"),
                            };
                            ui.end_row();
                        }
                    });
            });
        }
    });
}
