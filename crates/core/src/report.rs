//! The outcome of an import or a check: counts, the failed rows with their
//! reasons, warnings; as a short text, as JSON, or as an error-report CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::duplicates::{MatchAction, MatchedRow};
use crate::entity::Entity;
use crate::links::CreatedOrganization;
use crate::mapping::{ColumnUse, RowIssue, Severity};
use crate::run::SheetPlan;
use crate::spreadsheet::{FileNotice, ReadError, SheetRow, Spreadsheet};

/// How many failed rows the short summary lists before saying "and N more".
/// Failed rows a terminal summary lists before "... and N more".
pub const SUMMARY_LINES: usize = 50;

/// What an import did (or a check would do).
#[derive(Debug, Clone, Serialize)]
pub struct SheetReport {
    /// The file read.
    pub file: PathBuf,
    /// The worksheet read, for workbooks.
    pub sheet: Option<String>,
    /// What its rows were imported as.
    pub entity: Entity,
    /// Data rows read (blank rows are not counted).
    pub total: u64,
    /// Rows stored (for a check: rows that would be stored).
    pub succeeded: u64,
    /// Rows not stored.
    pub failed: u64,
    /// Rows that matched a record already in the CRM and were skipped.
    pub skipped: u64,
    /// Rows that updated the CRM record they matched (counted in
    /// `succeeded` too).
    pub updated: u64,
    /// Number of warnings.
    pub warnings: u64,
    /// Why rows failed, by row.
    pub failures: Vec<RowIssue>,
    /// Warnings, by row.
    pub warning_list: Vec<RowIssue>,
    /// The skipped rows: each with the record it matched.
    pub skipped_list: Vec<MatchedRow>,
    /// The rows that updated a record: each with the record.
    pub updated_list: Vec<MatchedRow>,
    /// Notes about the whole file.
    #[serde(serialize_with = "serialize_notices")]
    pub notices: Vec<FileNotice>,
    /// Whether the run was cancelled before the end.
    pub cancelled: bool,
    /// The import's number in the history (`None` for a check).
    pub import_id: Option<i64>,
    /// Rows an earlier, interrupted run of this import had stored already
    /// (included in `succeeded`).
    pub already_stored: u64,
    /// Organizations created for link names the CRM lacked (the `create`
    /// link policy); the JSON gives their number as `created_links` and the
    /// list as `created_organizations`.
    #[serde(serialize_with = "serialize_count", rename = "created_links")]
    pub created_links: Vec<CreatedOrganization>,
    /// Wall time.
    #[serde(serialize_with = "serialize_seconds", rename = "seconds")]
    pub elapsed: Duration,
    /// The header's row number, so the error report reads the rows below
    /// the same header (`None`: found again automatically).
    #[serde(skip)]
    pub header_row: Option<u64>,
    /// Each column's field and how it came to it.
    pub columns: Vec<ColumnUse>,
    /// Why the sheet cannot be imported as it is (a required field that no
    /// column holds), for a check of a workbook that goes on to its other
    /// sheets; its rows are not read. An import refuses the whole run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_import: Option<String>,
}

fn serialize_count<S: serde::Serializer>(
    created: &[CreatedOrganization],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(created.len() as u64)
}

fn serialize_notices<S: serde::Serializer>(
    notices: &[FileNotice],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(notices.iter().map(|n| &n.message))
}

fn serialize_seconds<S: serde::Serializer>(
    elapsed: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((elapsed.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl SheetReport {
    /// Builds a report; issues are sorted by row and split into failures and
    /// warnings, and `failed` counts rows with at least one error.
    pub fn new(
        file: &Path,
        notices: Vec<FileNotice>,
        total: u64,
        succeeded: u64,
        mut issues: Vec<RowIssue>,
        cancelled: bool,
        elapsed: Duration,
    ) -> SheetReport {
        issues.sort_by_key(|i| i.row);
        // Failures move out; the warnings stay where they are, so a long
        // list of them is never held twice.
        let failures: Vec<RowIssue> = issues
            .extract_if(.., |i| i.severity == Severity::Error)
            .collect();
        let mut warning_list = issues;
        warning_list.shrink_to_fit();
        let mut notices = notices;
        if total == 0 && !cancelled {
            notices.push(FileNotice {
                row: None,
                message: "The sheet has a header row but no data rows below it".to_owned(),
            });
        }
        let mut failed_rows: Vec<u64> = failures.iter().map(|i| i.row).collect();
        failed_rows.dedup();
        SheetReport {
            file: file.to_path_buf(),
            sheet: None,
            entity: Entity::Organizations,
            total,
            succeeded,
            failed: failed_rows.len() as u64,
            skipped: 0,
            updated: 0,
            warnings: warning_list.len() as u64,
            failures,
            warning_list,
            skipped_list: Vec::new(),
            updated_list: Vec::new(),
            notices,
            cancelled,
            import_id: None,
            already_stored: 0,
            created_links: Vec::new(),
            elapsed,
            header_row: None,
            columns: Vec::new(),
            cannot_import: None,
        }
    }

    /// The report of a sheet of a checked workbook that cannot be imported
    /// as it is: `problem` says why; no row was read.
    pub fn cannot_import(file: &Path, sheet: &SheetPlan, problem: String) -> SheetReport {
        let mut report =
            SheetReport::new(file, Vec::new(), 0, 0, Vec::new(), false, Duration::ZERO);
        // The "no data rows" notice is not true of a sheet that was not read.
        report.notices.clear();
        report.cannot_import = Some(problem);
        report.of_sheet(
            sheet.entity.unwrap_or(Entity::Organizations),
            sheet.sheet.clone(),
            Some(sheet.header_row),
        )
    }

    /// The report as that of a sheet read as `entity`, named `sheet`, whose
    /// header is on `header_row`.
    pub fn of_sheet(
        mut self,
        entity: Entity,
        sheet: Option<String>,
        header_row: Option<u64>,
    ) -> SheetReport {
        self.entity = entity;
        self.sheet = sheet.filter(|s| !s.is_empty());
        self.header_row = header_row;
        self
    }

    /// The spec's JSON object.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        match self.write_json(&mut out) {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(e) => format!("{{\"error\":\"{e}\"}}"),
        }
    }

    /// Writes the spec's JSON object to `out` as it goes: a report of a
    /// quarter of a million warnings is never held twice, as a tree.
    pub fn write_json(&self, out: impl Write) -> Result<(), serde_json::Error> {
        /// The report plus the list of created organizations (the report
        /// itself gives only their number, as `created_links`).
        #[derive(Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            report: &'a SheetReport,
            created_organizations: &'a [CreatedOrganization],
        }
        serde_json::to_writer_pretty(
            out,
            &Json {
                report: self,
                created_organizations: &self.created_links,
            },
        )
    }

    /// Adds the rows that matched records in the CRM, skipped or updated.
    pub fn add_matched(&mut self, rows: Vec<MatchedRow>) {
        for row in rows {
            match row.action {
                MatchAction::Skipped => self.skipped_list.push(row),
                MatchAction::Updated => self.updated_list.push(row),
            }
        }
        self.skipped = self.skipped_list.len() as u64;
        self.updated = self.updated_list.len() as u64;
    }

    /// A few lines for a terminal: the counts, then the failed rows.
    /// `verb` is "succeeded" for an import, "would import" for a check.
    pub fn summary(&self, verb: &str) -> String {
        let mut out = String::new();
        for notice in &self.notices {
            let _ = writeln!(out, "note: {}", notice.message);
        }
        if let Some(id) = self.import_id
            && self.already_stored > 0
        {
            let _ = writeln!(
                out,
                "resuming import {id}: {} of {} rows already stored",
                self.already_stored, self.total
            );
        }
        let _ = writeln!(
            out,
            "{} ({}): {}",
            self.file.display(),
            self.entity,
            headline(&Counts::of(self), verb, 0, self.cancelled)
        );
        for matched in self.updated_list.iter().chain(&self.skipped_list).take(5) {
            let _ = writeln!(out, "  row {}: {}", matched.row, matched.message);
        }
        let matched = self.updated_list.len() + self.skipped_list.len();
        if matched > 5 {
            let _ = writeln!(
                out,
                "  ... and {} more matched rows (see --json)",
                matched - 5
            );
        }
        if !self.created_links.is_empty() {
            let names: Vec<String> = self
                .created_links
                .iter()
                .take(10)
                .map(|c| format!("{} ({})", c.name, c.organization_type))
                .collect();
            let more = self.created_links.len().saturating_sub(10);
            let _ = writeln!(
                out,
                "created {}: {}{}",
                Entity::Organizations.count(self.created_links.len() as u64),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        for issue in self.failures.iter().take(SUMMARY_LINES) {
            let _ = writeln!(out, "  failed {issue}");
        }
        if self.failures.len() > SUMMARY_LINES {
            let _ = writeln!(
                out,
                "  ... and {} more (see --errors-csv or --json)",
                self.failures.len() - SUMMARY_LINES
            );
        }
        let room = SUMMARY_LINES.saturating_sub(self.failures.len()).min(10);
        for issue in self.warning_list.iter().take(room) {
            let _ = writeln!(out, "  warning {issue}");
        }
        if self.warning_list.len() > room {
            let _ = writeln!(
                out,
                "  ... and {} more warnings (see --json)",
                self.warning_list.len() - room
            );
        }
        out
    }

    /// Reasons by failed row, joined when a row has several.
    pub fn failure_reasons(&self) -> BTreeMap<u64, String> {
        let mut reasons: BTreeMap<u64, String> = BTreeMap::new();
        for issue in &self.failures {
            let text = if issue.column.is_empty() {
                issue.message.clone()
            } else {
                format!("{}: {}", issue.column, issue.message)
            };
            reasons
                .entry(issue.row)
                .and_modify(|r| {
                    r.push_str("; ");
                    r.push_str(&text);
                })
                .or_insert(text);
        }
        reasons
    }

    /// Writes the failed rows with their original cells and a reason column
    /// to `out`, as a UTF-8 CSV (with BOM, so Excel reads it right). The file
    /// is read again to find the rows, so nothing was held in memory.
    pub fn write_error_csv(&self, out: impl Write) -> Result<(), ReadError> {
        let reasons = self.failure_reasons();
        let mut spreadsheet =
            Spreadsheet::open_with_header(&self.file, self.sheet.as_deref(), self.header_row)?;
        let io_error = |e: std::io::Error| ReadError::Io {
            path: self.file.clone(),
            source: e,
        };
        let mut out = out;
        out.write_all("\u{feff}".as_bytes()).map_err(io_error)?;
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let csv_error = |e: csv::Error| ReadError::Io {
            path: self.file.clone(),
            source: std::io::Error::other(e),
        };
        // An error report imported back and failing again: its rows keep
        // the numbers of the spreadsheet they came from, and its own Row
        // and Reason columns are not repeated inside the new report.
        let headers = spreadsheet.headers().to_vec();
        let again = crate::mapping::is_error_report(&headers);
        let inner = if again {
            1..headers.len() - 1
        } else {
            0..headers.len()
        };
        let mut header = vec![crate::mapping::ERROR_REPORT_ROW.to_owned()];
        header.extend(headers[inner.clone()].iter().map(|h| neutralise_formula(h)));
        header.push(crate::mapping::ERROR_REPORT_REASON.to_owned());
        writer.write_record(&header).map_err(csv_error)?;
        let mut row = SheetRow::default();
        while spreadsheet.read_row(&mut row)? {
            let Some(reason) = reasons.get(&row.number) else {
                continue;
            };
            let original = match again {
                true => row.get(0).trim().parse::<u64>().unwrap_or(row.number),
                false => row.number,
            };
            let mut record = vec![original.to_string()];
            record.extend(inner.clone().map(|i| neutralise_formula(row.get(i))));
            record.push(neutralise_formula(reason));
            writer.write_record(&record).map_err(csv_error)?;
        }
        writer.flush().map_err(io_error)?;
        Ok(())
    }
}

/// The counts a headline gives, for a sheet or summed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data rows read.
    pub total: u64,
    /// Rows stored or updated (for a check: that would be).
    pub succeeded: u64,
    /// Rows not stored.
    pub failed: u64,
    /// Rows matching a CRM record that were skipped.
    pub skipped: u64,
    /// Rows that updated the record they matched (within `succeeded`).
    pub updated: u64,
    /// Warnings.
    pub warnings: u64,
}

impl Counts {
    /// A sheet's counts.
    pub fn of(report: &SheetReport) -> Counts {
        Counts {
            total: report.total,
            succeeded: report.succeeded,
            failed: report.failed,
            skipped: report.skipped,
            updated: report.updated,
            warnings: report.warnings,
        }
    }

    fn add(mut self, other: Counts) -> Counts {
        self.total += other.total;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.updated += other.updated;
        self.warnings += other.warnings;
        self
    }

    /// Rows stored as new records (succeeded, less the updates).
    pub fn stored(&self) -> u64 {
        self.succeeded.saturating_sub(self.updated)
    }
}

/// One line of counts, the same for a sheet and a run: "13 rows, 11
/// succeeded, 2 failed, 6 warnings, 3 skipped (already in the CRM)".
fn headline(counts: &Counts, verb: &str, created: usize, cancelled: bool) -> String {
    let Counts {
        total,
        succeeded,
        failed,
        skipped,
        updated,
        warnings,
    } = *counts;
    let matched = match (skipped, updated) {
        (0, 0) => String::new(),
        (skipped, 0) => format!(", {skipped} skipped (already in the CRM)"),
        (0, updated) => format!(", {updated} of them updated records already in the CRM"),
        (skipped, updated) => format!(
            ", {skipped} skipped (already in the CRM), {updated} of them updated records already in the CRM"
        ),
    };
    let created = if created == 0 {
        String::new()
    } else {
        format!(", {} created", Entity::Organizations.count(created as u64))
    };
    let cancelled = if cancelled { " (cancelled)" } else { "" };
    format!(
        "{total} rows, {succeeded} {verb}, {failed} failed, {warnings} warnings{matched}{created}{cancelled}"
    )
}

/// What a run did, sheet by sheet: one sheet of a text file or workbook, or
/// every sheet of a workbook imported as one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The file.
    pub file: PathBuf,
    /// The run's number in the history (`None` for a check, and for a run
    /// of one sheet, which the history records as that sheet's import).
    pub run_id: Option<i64>,
    /// Whether the run is a workbook's sheets run together (reported sheet
    /// by sheet, with the sums), rather than one sheet.
    pub whole_workbook: bool,
    /// One report per sheet that ran, in the order they ran.
    pub sheets: Vec<SheetReport>,
    /// Sheets of the workbook not imported.
    pub passed_over: Vec<String>,
    /// Whether the run stopped before its last sheet was done.
    pub cancelled: bool,
    /// Wall time.
    pub elapsed: Duration,
}

/// An issue with the sheet it belongs to, as the run's JSON lists it.
#[derive(Serialize)]
struct SheetIssue<'a> {
    sheet: &'a str,
    #[serde(flatten)]
    issue: &'a RowIssue,
}

impl RunReport {
    /// The counts summed over every sheet.
    pub fn counts(&self) -> Counts {
        self.sheets
            .iter()
            .map(Counts::of)
            .fold(Counts::default(), Counts::add)
    }

    /// Data rows read, over every sheet.
    pub fn total(&self) -> u64 {
        self.counts().total
    }

    /// Warnings, over every sheet.
    pub fn warnings(&self) -> u64 {
        self.counts().warnings
    }

    /// Rows stored (for a check: that would be stored), over every sheet.
    pub fn succeeded(&self) -> u64 {
        self.counts().succeeded
    }

    /// Rows not stored, over every sheet.
    pub fn failed(&self) -> u64 {
        self.counts().failed
    }

    /// The report of the only sheet of a run of one sheet (the first of any run).
    pub fn first(&self) -> Option<&SheetReport> {
        self.sheets.first()
    }

    /// Organizations created for link names, over every sheet.
    pub fn created_links(&self) -> Vec<&CreatedOrganization> {
        self.sheets.iter().flat_map(|s| &s.created_links).collect()
    }

    /// Every failure, with the name of its sheet (`None` for a run of one
    /// sheet, whose issues need no sheet).
    pub fn failures_by_sheet(&self) -> Vec<(Option<&str>, &RowIssue)> {
        self.issues_by_sheet(|s| &s.failures)
    }

    /// Every warning, with the name of its sheet.
    pub fn warnings_by_sheet(&self) -> Vec<(Option<&str>, &RowIssue)> {
        self.issues_by_sheet(|s| &s.warning_list)
    }

    fn issues_by_sheet<'a>(
        &'a self,
        list: impl Fn(&'a SheetReport) -> &'a [RowIssue],
    ) -> Vec<(Option<&'a str>, &'a RowIssue)> {
        self.sheets
            .iter()
            .flat_map(|s| {
                let sheet = self
                    .whole_workbook
                    .then(|| s.sheet.as_deref().unwrap_or_default());
                list(s).iter().map(move |issue| (sheet, issue))
            })
            .collect()
    }

    fn sheet_issues<'a>(
        &'a self,
        list: impl Fn(&'a SheetReport) -> &'a [RowIssue],
    ) -> Vec<SheetIssue<'a>> {
        self.sheets
            .iter()
            .flat_map(|s| {
                let sheet = s.sheet.as_deref().unwrap_or_default();
                list(s).iter().map(move |issue| SheetIssue { sheet, issue })
            })
            .collect()
    }

    /// Writes the spec's JSON object: a run of one sheet as that sheet's
    /// object; a whole workbook with the sums at the top, each failure and
    /// warning with its sheet, and `sheets` with each sheet's own report.
    pub fn write_json(&self, out: impl Write) -> Result<(), serde_json::Error> {
        if !self.whole_workbook
            && let Some(sheet) = self.first()
        {
            return sheet.write_json(out);
        }
        #[derive(Serialize)]
        struct Json<'a> {
            file: &'a Path,
            run_id: Option<i64>,
            total: u64,
            succeeded: u64,
            failed: u64,
            skipped: u64,
            updated: u64,
            warnings: u64,
            created_links: usize,
            cancelled: bool,
            seconds: f64,
            failures: Vec<SheetIssue<'a>>,
            warning_list: Vec<SheetIssue<'a>>,
            created_organizations: Vec<&'a CreatedOrganization>,
            passed_over: &'a [String],
            sheets: Vec<SheetJson<'a>>,
        }
        #[derive(Serialize)]
        struct SheetJson<'a> {
            #[serde(flatten)]
            report: &'a SheetReport,
            created_organizations: &'a [CreatedOrganization],
        }
        let created = self.created_links();
        let counts = self.counts();
        serde_json::to_writer_pretty(
            out,
            &Json {
                file: &self.file,
                run_id: self.run_id,
                total: counts.total,
                succeeded: counts.succeeded,
                failed: counts.failed,
                skipped: counts.skipped,
                updated: counts.updated,
                warnings: counts.warnings,
                created_links: created.len(),
                cancelled: self.cancelled,
                seconds: self.elapsed.as_secs_f64(),
                failures: self.sheet_issues(|s| &s.failures),
                warning_list: self.sheet_issues(|s| &s.warning_list),
                created_organizations: created,
                passed_over: &self.passed_over,
                sheets: self
                    .sheets
                    .iter()
                    .map(|report| SheetJson {
                        report,
                        created_organizations: &report.created_links,
                    })
                    .collect(),
            },
        )
    }

    /// A few lines for a terminal. One sheet: its summary. A whole
    /// workbook: a line per sheet, the totals, then the first failed rows
    /// with their sheet. `verb` as for [`SheetReport::summary`].
    pub fn summary(&self, verb: &str) -> String {
        if !self.whole_workbook
            && let Some(sheet) = self.first()
        {
            return sheet.summary(verb);
        }
        let mut out = String::new();
        for sheet in &self.sheets {
            let name = sheet.sheet.as_deref().unwrap_or_default();
            for notice in &sheet.notices {
                let _ = writeln!(out, "note [{name}]: {}", notice.message);
            }
        }
        let _ = writeln!(
            out,
            "{}{}: {} sheets",
            self.file.display(),
            self.run_id
                .map_or_else(String::new, |id| format!(" (run {id})")),
            self.sheets.len()
        );
        for sheet in &self.sheets {
            if let Some(problem) = &sheet.cannot_import {
                let _ = writeln!(
                    out,
                    "  {} ({}): cannot be imported: {problem}",
                    sheet.sheet.as_deref().unwrap_or_default(),
                    sheet.entity,
                );
                continue;
            }
            let _ = writeln!(
                out,
                "  {} ({}): {}{}",
                sheet.sheet.as_deref().unwrap_or_default(),
                sheet.entity,
                headline(&Counts::of(sheet), verb, 0, sheet.cancelled),
                match (sheet.import_id, sheet.already_stored) {
                    (Some(id), 0) => format!(" (import {id})"),
                    (Some(id), stored) => {
                        format!(" (import {id}, {stored} stored before this run resumed)")
                    }
                    (None, _) => String::new(),
                },
            );
        }
        if !self.passed_over.is_empty() {
            let _ = writeln!(
                out,
                "  not imported (nothing recognisable): {}",
                self.passed_over.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "total: {}",
            headline(
                &self.counts(),
                verb,
                self.created_links().len(),
                self.cancelled
            )
        );
        let failures = self.sheet_issues(|s| &s.failures);
        for failure in failures.iter().take(SUMMARY_LINES) {
            let _ = writeln!(out, "  failed [{}] {}", failure.sheet, failure.issue);
        }
        if failures.len() > SUMMARY_LINES {
            let _ = writeln!(
                out,
                "  ... and {} more (see --errors-csv or --json)",
                failures.len() - SUMMARY_LINES
            );
        }
        out
    }

    /// Writes the error report: for one sheet, to `path`; for a whole
    /// workbook, one per sheet with failed rows, named after `path` with the
    /// sheet's name added (`errors - People.csv`). Returns the files written.
    pub fn write_error_csvs(&self, path: &Path) -> Result<Vec<PathBuf>, ReadError> {
        let mut written = Vec::new();
        for sheet in &self.sheets {
            let target = if self.whole_workbook {
                if sheet.failures.is_empty() {
                    continue;
                }
                let name = sheet.sheet.as_deref().unwrap_or("sheet");
                let stem = path
                    .file_stem()
                    .map_or_else(|| "errors".to_owned(), |s| s.to_string_lossy().into_owned());
                let safe: String = name
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() || c == ' ' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                path.with_file_name(format!("{stem} - {safe}.csv"))
            } else {
                path.to_path_buf()
            };
            let file = std::fs::File::create(&target).map_err(|source| ReadError::Io {
                path: target.clone(),
                source,
            })?;
            sheet.write_error_csv(std::io::BufWriter::new(file))?;
            written.push(target);
        }
        Ok(written)
    }
}

/// Writes warnings (or any row issues) as a UTF-8 CSV with BOM: `Sheet`
/// (when any issue names one), `Row`, `Column`, `Warning`. The rows they
/// name were imported; this is the list to check them by.
pub fn write_warnings_csv<'a>(
    issues: impl IntoIterator<Item = (Option<&'a str>, &'a RowIssue)>,
    out: impl Write,
) -> std::io::Result<()> {
    let issues: Vec<(Option<&str>, &RowIssue)> = issues.into_iter().collect();
    let with_sheet = issues.iter().any(|(sheet, _)| sheet.is_some());
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["Row", "Column", "Warning"];
    if with_sheet {
        header.insert(0, "Sheet");
    }
    writer.write_record(&header)?;
    for (sheet, issue) in issues {
        let mut record = vec![
            issue.row.to_string(),
            neutralise_formula(&issue.column),
            neutralise_formula(&issue.message),
        ];
        if with_sheet {
            record.insert(0, neutralise_formula(sheet.unwrap_or_default()));
        }
        writer.write_record(&record)?;
    }
    writer.flush()
}

/// Cells starting with `=`, `+`, `-`, `@` (or a tab or carriage return) are
/// prefixed with `'` so a spreadsheet shows them as text instead of running
/// them as formulas; so is a cell that starts with `'` itself, so that
/// reading it back ([`crate::spreadsheet::SheetRow::get`]) takes off only
/// the mark this added.
pub fn neutralise_formula(cell: &str) -> String {
    if needs_neutralising(cell) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// Whether [`neutralise_formula`] would change `cell`.
pub fn needs_neutralising(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\''])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(row: u64, severity: Severity, message: &str) -> RowIssue {
        RowIssue {
            row,
            column: "Organizations".to_owned(),
            message: message.to_owned(),
            severity,
            row_left_out: false,
        }
    }

    #[test]
    fn counts_failed_rows_not_failures() {
        let report = SheetReport::new(
            Path::new("x.csv"),
            Vec::new(),
            5,
            3,
            vec![
                issue(4, Severity::Error, "b"),
                issue(2, Severity::Warning, "w"),
                issue(4, Severity::Error, "c"),
                issue(3, Severity::Error, "a"),
            ],
            false,
            Duration::ZERO,
        );
        assert_eq!(report.failed, 2);
        assert_eq!(report.warnings, 1);
        assert_eq!(report.failures[0].row, 3);
        assert_eq!(
            report.failure_reasons()[&4],
            "Organizations: b; Organizations: c"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(
            json["failures"][0],
            serde_json::json!({"row": 3, "column": "Organizations", "message": "a"})
        );
        assert_eq!(json["warning_list"][0]["row"], 2);
        assert_eq!(json["succeeded"], 3);
    }

    #[test]
    fn warnings_are_written_with_their_sheet_row_and_column() {
        let first = issue(
            4,
            Severity::Warning,
            "Phone number 'x' does not look like a phone number",
        );
        let second = issue(9, Severity::Warning, "=odd");
        let mut out = Vec::new();
        write_warnings_csv([(Some("Accounts"), &first), (None, &second)], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{feff}Sheet,Row,Column,Warning\n\
             Accounts,4,Organizations,Phone number 'x' does not look like a phone number\n\
             ,9,Organizations,'=odd\n"
        );
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("Plain"), "Plain");
        assert_eq!(
            neutralise_formula("'-x"),
            "''-x",
            "an apostrophe of its own is kept"
        );
    }
}
