//! After an import: "X succeeded, Y failed", every failed row with its
//! number and reason, the error report, and the way back.

use eframe::egui::{self, Align, RichText};
use egui_extras::{Column, TableBuilder};
use pantry_core::duplicates::MatchedRow;
use pantry_core::links::CreatedOrganization;
use pantry_core::mapping::RowIssue;
use pantry_core::report::RunReport;

use super::Action;
use super::import_panel::{ImportRun, RunOutcome};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};
use super::verification::{VerificationState, verification_ui};

/// The results of a run: the headline, what the run did, the way on, and
/// every failed row (with its sheet, for a workbook).
pub fn results_ui(
    ui: &mut egui::Ui,
    run: &ImportRun,
    verification: &VerificationState,
    save_message: Option<&str>,
    actions: &mut Vec<Action>,
) {
    ui.add_space(8.0);
    let whole_workbook = run.plan.whole_workbook;
    match &run.outcome {
        Some(RunOutcome::Done(report)) if report.cancelled && !whole_workbook => {
            ui.label(theme::bold("Import cancelled").size(24.0).color(WARN_TEXT));
            ui.label(format!(
                "{} rows were stored before you cancelled; the rest of the file was not imported. Resume it from the Import card.",
                theme::thousands(report.succeeded())
            ));
        }
        Some(RunOutcome::Done(report)) => headline_ui(ui, report),
        Some(RunOutcome::Stopped { reason, report }) => {
            let what = if whole_workbook { "run" } else { "import" };
            ui.label(
                theme::bold(format!("The {what} stopped"))
                    .size(24.0)
                    .color(FAIL_TEXT),
            );
            ui.add(egui::Label::new(RichText::new(reason).color(FAIL_TEXT)).wrap());
            if whole_workbook {
                ui.label("Import the workbook again to resume it: finished sheets are left as they are, and rows already stored are not stored twice.");
            } else if let Some(report) = report {
                ui.label(format!(
                    "{} rows were stored before it stopped. Run the import again to resume it: the rows already stored are not stored twice.",
                    theme::thousands(report.succeeded())
                ));
            }
            if let (Some(report), true) = (report, whole_workbook) {
                headline_ui(ui, report);
            }
        }
        Some(RunOutcome::NeedsSchema(_) | RunOutcome::AlreadyImported(_)) | None => return,
    }
    let Some(report) = run.report() else {
        buttons_ui(ui, None, 0, save_message, actions);
        return;
    };
    ui.weak(run_summary(run, report));
    ui.add_space(6.0);
    let save = (report.failed() > 0).then_some(if whole_workbook {
        (
            "Save error reports…",
            "One CSV per sheet with failed rows, each with its original cells and the reason",
        )
    } else {
        (
            "Save error report…",
            "The failed rows with their original cells and the reason, as CSV",
        )
    });
    let warnings = report.warnings_by_sheet();
    buttons_ui(ui, save, warnings.len(), save_message, actions);
    if !report.cancelled {
        keep_in_step_offer_ui(ui, actions);
    }
    ui.add_space(8.0);
    if whole_workbook {
        sheets_table_ui(ui, report);
    }
    let failures = report.failures_by_sheet();
    checked_ui(ui, failures.len(), |ui| {
        created_links_ui(ui, &report.created_links());
        for sheet in &report.sheets {
            matched_rows_ui(
                ui,
                sheet.sheet.as_deref().filter(|_| whole_workbook),
                &sheet.updated_list,
                &sheet.skipped_list,
            );
        }
        warnings_ui(ui, &warnings, &rows_not_imported(report));
        verification_ui(ui, verification);
    });
    failed_rows_ui(
        ui,
        &failures,
        report.failed(),
        report.cancelled,
        if whole_workbook {
            "✔ Every row of every sheet was imported."
        } else {
            "✔ Every row was imported."
        },
    );
}

/// The rows (by sheet, for a workbook) that did not go in: failed, or
/// skipped as already in the CRM.
fn rows_not_imported(report: &RunReport) -> std::collections::HashSet<(Option<&str>, u64)> {
    report
        .sheets
        .iter()
        .flat_map(|sheet| {
            let name = sheet.sheet.as_deref().filter(|_| report.whole_workbook);
            sheet
                .failures
                .iter()
                .map(|issue| issue.row)
                .chain(sheet.skipped_list.iter().map(|matched| matched.row))
                .chain(
                    sheet
                        .warning_list
                        .iter()
                        .filter(|issue| issue.row_left_out)
                        .map(|issue| issue.row),
                )
                .map(move |row| (name, row))
        })
        .collect()
}

/// "11 succeeded, 2 failed, 3 skipped", large.
fn headline_ui(ui: &mut egui::Ui, report: &RunReport) {
    let counts = report.counts();
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 0.0;
        ui.label(
            theme::bold(format!(
                "{} succeeded, ",
                theme::thousands(counts.succeeded)
            ))
            .size(26.0)
            .color(OK_TEXT),
        );
        let failed = theme::bold(format!("{} failed", theme::thousands(counts.failed))).size(26.0);
        ui.label(if counts.failed > 0 {
            failed.color(FAIL_TEXT)
        } else {
            failed.weak()
        });
        if counts.skipped > 0 {
            ui.label(
                theme::bold(format!(", {} skipped", theme::thousands(counts.skipped)))
                    .size(26.0)
                    .weak(),
            );
        }
    });
    if counts.updated > 0 {
        ui.label(format!(
            "{} of the rows that succeeded updated a record already in the CRM.",
            theme::thousands(counts.updated)
        ));
    }
}

/// One line per sheet of a workbook's run.
fn sheets_table_ui(ui: &mut egui::Ui, report: &RunReport) {
    egui::Grid::new("run-sheets")
        .striped(true)
        .num_columns(8)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for title in [
                "Sheet",
                "Imported as",
                "Rows",
                "Stored",
                "Updated",
                "Skipped",
                "Failed",
                "Warnings",
            ] {
                ui.label(theme::bold(title));
            }
            ui.end_row();
            for sheet in &report.sheets {
                ui.label(sheet.sheet.as_deref().unwrap_or_default());
                ui.label(sheet.entity.title());
                ui.label(theme::thousands(sheet.total));
                ui.label(
                    RichText::new(theme::thousands(sheet.succeeded - sheet.updated)).color(OK_TEXT),
                );
                ui.label(theme::thousands(sheet.updated));
                ui.label(theme::thousands(sheet.skipped));
                let failed = RichText::new(theme::thousands(sheet.failed));
                ui.label(if sheet.failed > 0 {
                    failed.color(FAIL_TEXT)
                } else {
                    failed.weak()
                });
                ui.label(theme::thousands(sheet.warnings));
                ui.end_row();
            }
        });
    if !report.passed_over.is_empty() {
        ui.weak(format!("Not imported: {}", report.passed_over.join(", ")));
    }
    ui.add_space(8.0);
}

/// What the run did besides failing rows (created links, matched rows,
/// warnings, the verification), scrolling in the space the failed rows'
/// table that follows leaves it: all of it but what `failures` rows need,
/// at least half.
pub fn checked_ui(ui: &mut egui::Ui, failures: usize, add: impl FnOnce(&mut egui::Ui)) {
    let row = ui.text_style_height(&egui::TextStyle::Body) + 8.0;
    let table = if failures == 0 {
        0.0
    } else {
        (failures as f32 + 1.0) * row + 60.0
    };
    let height = (ui.available_height() - table).max(ui.available_height() * 0.5);
    egui::ScrollArea::vertical()
        .id_salt("what went in")
        .max_height(height)
        .auto_shrink([false, true])
        .show(ui, add);
    ui.add_space(8.0);
}

/// The warnings, each with its row, under a heading that opens and says
/// whether their rows went in: a warning of a row that failed, or was
/// skipped as already in the CRM, did not.
pub fn warnings_ui(
    ui: &mut egui::Ui,
    warnings: &[(Option<&str>, &RowIssue)],
    not_in: &std::collections::HashSet<(Option<&str>, u64)>,
) {
    if warnings.is_empty() {
        return;
    }
    let on_rows_not_in = warnings
        .iter()
        .filter(|(sheet, issue)| not_in.contains(&(*sheet, issue.row)))
        .count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let heading = match on_rows_not_in {
        0 => format!(
            "{} warning{} (the rows were imported)",
            theme::thousands(warnings.len() as u64),
            plural(warnings.len())
        ),
        all if all == warnings.len() => format!(
            "{} warning{} (on rows that were skipped, passed over or failed: not imported)",
            theme::thousands(all as u64),
            plural(all)
        ),
        some => format!(
            "{} warning{} ({} on rows that were imported, {} on rows not imported)",
            theme::thousands(warnings.len() as u64),
            plural(warnings.len()),
            theme::thousands((warnings.len() - some) as u64),
            theme::thousands(some as u64)
        ),
    };
    egui::CollapsingHeader::new(theme::bold(heading).color(WARN_TEXT))
        .id_salt("warnings")
        .show(ui, |ui| {
            let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
            egui::ScrollArea::vertical()
                .id_salt("warning rows")
                .max_height(180.0)
                .show_rows(ui, row_height, warnings.len(), |ui, range| {
                    for (sheet, issue) in &warnings[range] {
                        let place = sheet.map_or_else(String::new, |s| format!("{s}, "));
                        ui.add(egui::Label::new(format!("{place}{issue}")).truncate());
                    }
                });
        });
    ui.add_space(6.0);
}

/// The failed rows under their count, or `all_imported` when there are
/// none (and the import was not cancelled).
pub fn failed_rows_ui(
    ui: &mut egui::Ui,
    failures: &[(Option<&str>, &RowIssue)],
    failed_rows: u64,
    cancelled: bool,
    all_imported: &str,
) {
    if failures.is_empty() {
        if !cancelled {
            ui.label(RichText::new(all_imported).color(OK_TEXT).size(16.0));
        }
        return;
    }
    ui.label(theme::bold(format!(
        "Failed rows ({})",
        theme::thousands(failed_rows)
    )));
    failures_table_ui(ui, failures);
}

/// The rows that matched records already in the CRM: how many updated a
/// record and how many were skipped, each listed (row and record) under a
/// heading that opens.
pub fn matched_rows_ui(
    ui: &mut egui::Ui,
    sheet: Option<&str>,
    updated: &[MatchedRow],
    skipped: &[MatchedRow],
) {
    let mut shown = false;
    for (rows, what) in [
        (updated, "updated a record already in the CRM"),
        (skipped, "skipped: already in the CRM"),
    ] {
        if rows.is_empty() {
            continue;
        }
        shown = true;
        let place = sheet.map_or_else(String::new, |s| format!("{s}: "));
        egui::CollapsingHeader::new(theme::bold(format!(
            "{place}{} row{} {what}",
            theme::thousands(rows.len() as u64),
            if rows.len() == 1 { "" } else { "s" }
        )))
        .id_salt((sheet, what))
        .show(ui, |ui| {
            let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
            egui::ScrollArea::vertical()
                .id_salt((sheet, what, "rows"))
                .max_height(180.0)
                .show_rows(ui, row_height, rows.len(), |ui, range| {
                    for matched in &rows[range] {
                        ui.add(
                            egui::Label::new(format!("Row {}: {}", matched.row, matched.message))
                                .truncate(),
                        );
                    }
                });
        });
    }
    if shown {
        ui.add_space(6.0);
    }
}

/// The organizations a link policy created, a few by name.
pub fn created_links_ui(ui: &mut egui::Ui, created: &[&CreatedOrganization]) {
    if created.is_empty() {
        return;
    }
    let names: Vec<&str> = created.iter().take(8).map(|c| c.name.as_str()).collect();
    ui.label(format!(
        "Created for names the CRM lacked: {}{}",
        names.join(", "),
        match created.len() - names.len() {
            0 => String::new(),
            more => format!(" and {more} more"),
        }
    ));
    ui.add_space(6.0);
}

/// Every failed row with its reason; with a Sheet column when the rows
/// come from several sheets of a workbook.
fn failures_table_ui(ui: &mut egui::Ui, failures: &[(Option<&str>, &RowIssue)]) {
    let with_sheet = failures.iter().any(|(sheet, _)| sheet.is_some());
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 8.0;
    let mut table = TableBuilder::new(ui)
        .id_salt("failures")
        .striped(true)
        .auto_shrink([false, false])
        .cell_layout(egui::Layout::left_to_right(Align::Center));
    if with_sheet {
        table = table.column(Column::initial(120.0).clip(true).resizable(true));
    }
    let mut titles = vec!["Row", "Column", "Reason"];
    if with_sheet {
        titles.insert(0, "Sheet");
    }
    table
        .column(Column::exact(70.0))
        .column(
            Column::initial(180.0)
                .at_least(80.0)
                .clip(true)
                .resizable(true),
        )
        .column(Column::remainder().clip(true))
        .header(28.0, |mut header| {
            for title in &titles {
                header.col(|ui| {
                    ui.label(theme::bold(*title));
                });
            }
        })
        .body(|body| {
            body.rows(row_height, failures.len(), |mut row| {
                let (sheet, issue) = failures[row.index()];
                if with_sheet {
                    row.col(|ui| {
                        ui.label(sheet.unwrap_or_default());
                    });
                }
                row.col(|ui| {
                    ui.label(issue.row.to_string());
                });
                row.col(|ui| {
                    ui.label(&issue.column);
                });
                row.col(|ui| {
                    ui.add(
                        egui::Label::new(RichText::new(&issue.message).color(FAIL_TEXT)).truncate(),
                    );
                });
            });
        });
}

/// The way on from the results: save the error report(s) when `save`
/// gives the button's label and tooltip (there are failed rows), back to
/// the preview, or another file; then what the last save said.
pub fn buttons_ui(
    ui: &mut egui::Ui,
    save: Option<(&str, &str)>,
    warnings: usize,
    save_message: Option<&str>,
    actions: &mut Vec<Action>,
) {
    ui.horizontal(|ui| {
        if let Some((label, hover)) = save
            && ui
                .add(theme::primary_button(label))
                .on_hover_text(hover)
                .clicked()
        {
            actions.push(Action::SaveErrorReport);
        }
        if warnings > 0
            && ui
                .button("Save warnings…")
                .on_hover_text("Every warning with its row and column, as CSV")
                .clicked()
        {
            actions.push(Action::SaveWarnings);
        }
        if ui.button("Back to the preview").clicked() {
            actions.push(Action::Show(super::View::Preview));
        }
        if ui.button("Import another file").clicked() {
            actions.push(Action::StartOver);
        }
    });
    if let Some(message) = save_message {
        ui.label(message);
    }
}

/// The offer to keep the file just imported in step with the CRM.
fn keep_in_step_offer_ui(ui: &mut egui::Ui, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Keep in step…")
            .on_hover_text(
                "Still working in this file? Each time you save it, its changed rows go into the CRM",
            )
            .clicked()
        {
            actions.push(Action::KeepInStep(super::keep_in_step::KeepAction::Start));
        }
        ui.weak("Each save of the file brings its changes in; unchanged rows are not written.");
    });
}

/// One line on what this run did: its file, its own rows and time (a
/// resumed run's earlier rows said apart), its speed when it took long
/// enough to measure; for a workbook, its run number and sheets.
fn run_summary(run: &ImportRun, report: &RunReport) -> String {
    let counts = report.counts();
    let already: u64 = report.sheets.iter().map(|s| s.already_stored).sum();
    let this_run = counts.total.saturating_sub(already);
    let seconds = report.elapsed.as_secs_f64();
    let time = if seconds < 1.0 {
        "in under a second".to_owned()
    } else {
        format!(
            "in {seconds:.1} s ({} rows/s)",
            theme::thousands(run.rows_per_second() as u64)
        )
    };
    let mut line = format!("{}", report.file.display());
    if report.whole_workbook {
        line.push_str(&format!(
            " · run #{} · {} sheets",
            report.run_id.unwrap_or_default(),
            report.sheets.len()
        ));
    }
    line.push_str(&format!(" · {} rows {time}", theme::thousands(this_run)));
    if already > 0 {
        line.push_str(&format!(
            " · {} more were stored by the earlier run this one resumed",
            theme::thousands(already)
        ));
    }
    line.push_str(&format!(
        " · {} warnings",
        theme::thousands(counts.warnings)
    ));
    if report.cancelled && report.whole_workbook {
        line.push_str(" · cancelled");
    }
    line
}
