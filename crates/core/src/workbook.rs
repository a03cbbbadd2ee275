//! A whole workbook in one run (SPEC.md, "A whole workbook in one run"):
//! which sheet holds which entity, the dependency order the sheets go in, a
//! check that resolves links between sheets without a database, and the
//! import that runs every sheet as one run the history can undo and resume.
//!
//! Sheets are imported one after the other, each committed batch by batch as
//! a single sheet is, so a contact sheet's company names find the
//! organizations an earlier sheet of the same run stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::database::ConnectionSettings;
use crate::edits::SheetEdits;
use crate::entity::{Entity, recognise};
use crate::history::{self, ImportBatch, ImportStatus};
use crate::import::{
    self, ImportError, ImportOptions, ImportProgress, check_sheet, ensure_schema, open_sheet,
};
use crate::links::{self, CreatedOrganization, lookup_key, record_keys};
use crate::mapping::{ColumnMap, RowIssue, Severity, Value};
use crate::report::{ImportReport, SUMMARY_LINES};
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{FileNotice, ReadError, Spreadsheet};

/// One sheet of a workbook and what it is imported as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetPlan {
    /// The sheet's name.
    pub sheet: String,
    /// What its rows are; `None`: not imported (nothing in it is
    /// recognisable, as in a ReadMe, or the user said so).
    pub entity: Option<Entity>,
    /// Its header row's cells and the header's row number (empty for a
    /// sheet that cannot be read), so a run checks every header before it
    /// stores anything without opening the sheets again.
    pub headers: Vec<String>,
    /// The header's row number.
    pub header_row: u64,
    /// The broker's choices for the sheet (column targets, values), made
    /// on its tab in the window.
    pub mapping: SavedMapping,
    /// The broker's edits to the sheet's rows (totals rows kept).
    pub edits: SheetEdits,
}

impl SheetPlan {
    fn of(spreadsheet: &Spreadsheet) -> SheetPlan {
        SheetPlan {
            sheet: spreadsheet.sheet().unwrap_or_default().to_owned(),
            entity: recognise(spreadsheet.sheet(), spreadsheet.headers()).map(|(e, _)| e),
            headers: spreadsheet.headers().to_vec(),
            header_row: spreadsheet.header_row(),
            mapping: SavedMapping::default(),
            edits: SheetEdits::default(),
        }
    }
}

/// Every sheet of a workbook, in the workbook's order, with its entity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkbookPlan {
    /// The sheets.
    pub sheets: Vec<SheetPlan>,
}

impl WorkbookPlan {
    /// Applies clean-up kinds to every sheet (as `--clean` does for a
    /// whole workbook).
    pub fn clean_every_sheet(&mut self, kinds: &std::collections::BTreeSet<crate::clean::CleanUp>) {
        for sheet in &mut self.sheets {
            sheet.edits.clean.extend(kinds.iter().copied());
        }
    }

    /// Whether `path` names a workbook (by its extension), so a plan is
    /// worth reading: a text file is always one sheet.
    pub fn may_hold_sheets(path: &Path) -> bool {
        path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["xlsx", "xlsm", "xls", "xlsb", "ods"]
                .iter()
                .any(|w| e.eq_ignore_ascii_case(w))
        })
    }

    /// Looks at every sheet's name and header row: a sheet is recognised by
    /// its name ("Accounts", "People") or by at least two of its headers. A
    /// CSV file is one sheet with an empty name.
    pub fn read(path: &Path) -> Result<WorkbookPlan, ReadError> {
        let first = Spreadsheet::open(path, None)?;
        let names = first.sheet_names().to_vec();
        if names.len() < 2 {
            return Ok(WorkbookPlan {
                sheets: vec![SheetPlan::of(&first)],
            });
        }
        let mut sheets = vec![SheetPlan::of(&first)];
        drop(first);
        sheets.extend(names.into_iter().skip(1).map(|name| {
            match Spreadsheet::open(path, Some(&name)) {
                Ok(spreadsheet) => SheetPlan::of(&spreadsheet),
                // A sheet that cannot be read (an empty one) holds nothing to import.
                Err(_) => SheetPlan {
                    sheet: name,
                    entity: None,
                    headers: Vec::new(),
                    header_row: 1,
                    mapping: SavedMapping::default(),
                    edits: SheetEdits::default(),
                },
            }
        }));
        Ok(WorkbookPlan { sheets })
    }

    /// The sheets to import, in dependency order (organizations, contacts,
    /// products, opportunities, interactions; workbook order within one).
    pub fn import_order(&self) -> Vec<(String, Entity)> {
        let mut order: Vec<(String, Entity)> = self
            .sheets
            .iter()
            .filter_map(|s| s.entity.map(|e| (s.sheet.clone(), e)))
            .collect();
        order.sort_by_key(|(_, entity)| Entity::ALL.iter().position(|e| e == entity));
        order
    }

    /// The plan of the sheet named `name`.
    pub fn sheet(&self, name: &str) -> Option<&SheetPlan> {
        self.sheets.iter().find(|s| s.sheet == name)
    }

    /// The sheets left out.
    pub fn passed_over(&self) -> Vec<String> {
        self.sheets
            .iter()
            .filter(|s| s.entity.is_none())
            .map(|s| s.sheet.clone())
            .collect()
    }

    /// Whether the file is a run of several sheets rather than one sheet.
    pub fn is_run(&self) -> bool {
        self.sheets.iter().filter(|s| s.entity.is_some()).count() >= 2
    }
}

/// The live counts of a run: one [`ImportProgress`] per sheet, and which
/// sheet is running.
pub struct RunProgress {
    sheets: Vec<SheetProgress>,
    current: AtomicUsize,
}

/// The progress of one sheet of a run.
pub struct SheetProgress {
    /// The sheet.
    pub sheet: String,
    /// What it is imported as.
    pub entity: Entity,
    /// Its counts.
    pub progress: Arc<ImportProgress>,
}

impl std::fmt::Debug for RunProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunProgress")
            .field("sheets", &self.sheets.len())
            .field("current", &self.current())
            .finish()
    }
}

impl RunProgress {
    /// Counters for `sheets` (in the order they run); `waker` is called
    /// whenever any count moves.
    pub fn new(
        sheets: &[(String, Entity)],
        waker: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Arc<RunProgress> {
        Arc::new(RunProgress {
            sheets: sheets
                .iter()
                .map(|(sheet, entity)| SheetProgress {
                    sheet: sheet.clone(),
                    entity: *entity,
                    progress: ImportProgress::new(waker.clone()),
                })
                .collect(),
            current: AtomicUsize::new(0),
        })
    }

    /// Every sheet's progress, in the order they run.
    pub fn sheets(&self) -> &[SheetProgress] {
        &self.sheets
    }

    /// The index of the sheet running now (or last).
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Asks the run to stop after the batch in flight of the current sheet;
    /// later sheets do not start.
    pub fn cancel(&self) {
        for sheet in &self.sheets {
            sheet.progress.cancel();
        }
    }

    /// Whether [`RunProgress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.sheets.iter().any(|s| s.progress.is_cancelled())
    }

    fn start(&self, index: usize) -> Arc<ImportProgress> {
        self.current.store(index, Ordering::Relaxed);
        Arc::clone(&self.sheets[index].progress)
    }
}

/// What a run did, sheet by sheet.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The workbook.
    pub file: PathBuf,
    /// The run's number in the history (`None` for a check).
    pub run_id: Option<i64>,
    /// One report per sheet that ran, in the order they ran.
    pub sheets: Vec<ImportReport>,
    /// Sheets not imported.
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
    /// Data rows read, over every sheet.
    pub fn total(&self) -> u64 {
        self.sheets.iter().map(|s| s.total).sum()
    }

    /// Rows stored (for a check: that would be stored).
    pub fn succeeded(&self) -> u64 {
        self.sheets.iter().map(|s| s.succeeded).sum()
    }

    /// Rows not stored.
    pub fn failed(&self) -> u64 {
        self.sheets.iter().map(|s| s.failed).sum()
    }

    /// Warnings.
    pub fn warnings(&self) -> u64 {
        self.sheets.iter().map(|s| s.warnings).sum()
    }

    /// Organizations created for link names, over every sheet.
    pub fn created_links(&self) -> Vec<&CreatedOrganization> {
        self.sheets.iter().flat_map(|s| &s.created_links).collect()
    }

    /// Every failure, with the name of its sheet.
    pub fn failures_by_sheet(&self) -> Vec<(Option<&str>, &RowIssue)> {
        self.issues(|s| &s.failures)
            .into_iter()
            .map(|i| (Some(i.sheet), i.issue))
            .collect()
    }

    /// Every warning, with the name of its sheet.
    pub fn warnings_by_sheet(&self) -> Vec<(Option<&str>, &RowIssue)> {
        self.issues(|s| &s.warning_list)
            .into_iter()
            .map(|i| (Some(i.sheet), i.issue))
            .collect()
    }

    fn issues<'a>(
        &'a self,
        list: impl Fn(&'a ImportReport) -> &'a [RowIssue],
    ) -> Vec<SheetIssue<'a>> {
        self.sheets
            .iter()
            .flat_map(|s| {
                let sheet = s.sheet.as_deref().unwrap_or_default();
                list(s).iter().map(move |issue| SheetIssue { sheet, issue })
            })
            .collect()
    }

    /// Writes the spec's JSON object: the sums at the top, each failure and
    /// warning with its sheet, and `sheets` with each sheet's own report.
    pub fn write_json(&self, out: impl Write) -> Result<(), serde_json::Error> {
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
            report: &'a ImportReport,
            created_organizations: &'a [CreatedOrganization],
        }
        let created = self.created_links();
        serde_json::to_writer_pretty(
            out,
            &Json {
                file: &self.file,
                run_id: self.run_id,
                total: self.total(),
                succeeded: self.succeeded(),
                failed: self.failed(),
                skipped: self.sheets.iter().map(|s| s.skipped).sum(),
                updated: self.sheets.iter().map(|s| s.updated).sum(),
                warnings: self.warnings(),
                created_links: created.len(),
                cancelled: self.cancelled,
                seconds: self.elapsed.as_secs_f64(),
                failures: self.issues(|s| &s.failures),
                warning_list: self.issues(|s| &s.warning_list),
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

    /// A few lines for a terminal: one per sheet, the totals, then the
    /// first failed rows with their sheet. `verb` as for
    /// [`ImportReport::summary`].
    pub fn summary(&self, verb: &str) -> String {
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
            let _ = writeln!(
                out,
                "  {} ({}): {} rows, {} {verb}, {} failed, {} warnings{}{}",
                sheet.sheet.as_deref().unwrap_or_default(),
                sheet.entity,
                sheet.total,
                sheet.succeeded,
                sheet.failed,
                sheet.warnings,
                match (sheet.import_id, sheet.already_stored) {
                    (Some(id), 0) => format!(" (import {id})"),
                    (Some(id), stored) => {
                        format!(" (import {id}, {stored} stored before this run resumed)")
                    }
                    (None, _) => String::new(),
                },
                if sheet.cancelled { " (cancelled)" } else { "" }
            );
        }
        if !self.passed_over.is_empty() {
            let _ = writeln!(
                out,
                "  not imported (nothing recognisable): {}",
                self.passed_over.join(", ")
            );
        }
        let created = self.created_links();
        let _ = writeln!(
            out,
            "total: {} rows, {} {verb}, {} failed, {} warnings{}{}",
            self.total(),
            self.succeeded(),
            self.failed(),
            self.warnings(),
            if created.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} created",
                    Entity::Organizations.count(created.len() as u64)
                )
            },
            if self.cancelled { " (cancelled)" } else { "" }
        );
        let failures = self.issues(|s| &s.failures);
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

    /// Writes one error report per sheet with failed rows, named after
    /// `path` with the sheet's name added (`errors - People.csv`), and
    /// returns the files written.
    pub fn write_error_csvs(&self, path: &Path) -> Result<Vec<PathBuf>, ReadError> {
        let mut written = Vec::new();
        for sheet in self.sheets.iter().filter(|s| !s.failures.is_empty()) {
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
            let target = path.with_file_name(format!("{stem} - {safe}.csv"));
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

/// What the link cells of one column of a checked sheet named.
#[derive(Default)]
struct LinkTally {
    /// Cells naming a record of an earlier sheet of the workbook.
    in_workbook: u64,
    /// Names found in no earlier sheet, by key: as written, and how often.
    elsewhere: BTreeMap<String, (String, u64)>,
}

/// A name of a link column and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkName {
    /// As the sheet writes it (its first spelling).
    pub name: String,
    /// Cells that name it.
    pub cells: u64,
    /// Ambiguous: the records it matches. Not found: the closest names.
    pub candidates: Vec<String>,
    /// Ambiguous: the keys of the records in `candidates`, to pick one
    /// ([`crate::links::LinkPolicies::picked`]).
    pub ids: Vec<uuid::Uuid>,
}

/// What one link column of a workbook's sheet names, before import: the
/// preview's links summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkColumnSummary {
    /// The sheet.
    pub sheet: String,
    /// What the sheet's rows are.
    pub entity: Entity,
    /// The column's header.
    pub column: String,
    /// The field it fills (`organization_id`).
    pub field: &'static str,
    /// What it names.
    pub target: Entity,
    /// Cells naming a record of an earlier sheet of the workbook.
    pub in_workbook: u64,
    /// Cells naming exactly one live record of the CRM.
    pub in_crm: u64,
    /// Names matching several records of the CRM.
    pub ambiguous: Vec<LinkName>,
    /// Names found in neither (without a CRM: not in the workbook).
    pub not_found: Vec<LinkName>,
}

impl LinkColumnSummary {
    /// Cells whose name was found nowhere.
    pub fn not_found_cells(&self) -> u64 {
        self.not_found.iter().map(|n| n.cells).sum()
    }

    /// Cells whose name matches several records.
    pub fn ambiguous_cells(&self) -> u64 {
        self.ambiguous.iter().map(|n| n.cells).sum()
    }
}

/// Names of a not-found list given their closest CRM names (each costs a
/// scan of the names sharing its first letters).
const CLOSEST_LOOKUPS: usize = 10;

/// The links summary of `plan`'s sheets against the CRM behind `client`:
/// per link column, cells naming a record of the workbook, of the CRM, of
/// several CRM records, or of none (with the closest CRM names). The
/// workbook is read once; the CRM is asked once per column, in bulk.
pub async fn link_summary(
    path: &Path,
    plan: &WorkbookPlan,
    client: &tokio_postgres::Client,
) -> Result<Vec<LinkColumnSummary>, ImportError> {
    let (open_path, open_plan) = (path.to_path_buf(), plan.clone());
    let mut summaries = tokio::task::spawn_blocking(move || {
        let progress = RunProgress::new(&open_plan.import_order(), None);
        survey(&open_path, &open_plan, &progress).map(|(_, summaries)| summaries)
    })
    .await
    .map_err(|e| ImportError::Database(format!("the reader stopped: {e}")))??;
    let database = |e: tokio_postgres::Error| ImportError::Database(e.to_string());
    for summary in &mut summaries {
        let keys: Vec<String> = summary
            .not_found
            .iter()
            .map(|n| lookup_key(summary.target, &n.name))
            .collect();
        let found = links::crm_matches(client, summary.target, &keys)
            .await
            .map_err(database)?;
        let mut not_found = Vec::new();
        for (mut name, key) in std::mem::take(&mut summary.not_found).into_iter().zip(keys) {
            match found.get(&key).map(Vec::as_slice) {
                Some([_]) => summary.in_crm += name.cells,
                Some(several) if several.len() > 1 => {
                    (name.ids, name.candidates) = several.iter().cloned().unzip();
                    summary.ambiguous.push(name);
                }
                _ => not_found.push(name),
            }
        }
        for name in not_found.iter_mut().take(CLOSEST_LOOKUPS) {
            name.candidates = links::closest_names(client, summary.target, &name.name, 3)
                .await
                .map_err(database)?;
        }
        summary.not_found = not_found;
    }
    Ok(summaries)
}

/// Checks every sheet `plan` imports (in dependency order) without a
/// database, and resolves the links between them: a link naming a record of an earlier
/// sheet is counted as found; the others are listed, to be looked up in the
/// CRM when importing.
pub fn check_workbook(
    path: &Path,
    plan: &WorkbookPlan,
    progress: &RunProgress,
) -> Result<RunReport, ImportError> {
    survey(path, plan, progress).map(|(report, _)| report)
}

/// The check of a workbook, and what each link column names that no
/// earlier sheet holds.
fn survey(
    path: &Path,
    plan: &WorkbookPlan,
    progress: &RunProgress,
) -> Result<(RunReport, Vec<LinkColumnSummary>), ImportError> {
    let started = Instant::now();
    let mut summaries = Vec::new();
    let sheets = &plan.import_order();
    let passed_over = plan.passed_over();
    // Keys of the records each entity's sheets would store, and those sheets.
    let mut known: HashMap<Entity, (HashSet<String>, Vec<String>)> = HashMap::new();
    let mut reports = Vec::with_capacity(sheets.len());
    for (index, (sheet, entity)) in sheets.iter().enumerate() {
        if progress.is_cancelled() {
            break;
        }
        let sheet_progress = progress.start(index);
        let choices = plan.sheet(sheet);
        let mapped = open_sheet(
            path,
            Some(sheet),
            Some(*entity),
            choices
                .map(|c| &c.mapping)
                .unwrap_or(&SavedMapping::default()),
        )
        .map_err(|e| in_sheet(e, sheet))?
        .with_edits(choices.map(|c| &c.edits).unwrap_or(&SheetEdits::default()));
        let columns = mapped.columns();
        let links: Vec<(&'static str, Entity, String)> = entity
            .description()
            .fields
            .iter()
            .filter_map(|f| f.link().map(|target| (f, target.entity)))
            .filter_map(|(f, target)| {
                columns
                    .column_of_field(f.column)
                    .map(|c| (f.column, target, columns.label(c)))
            })
            .collect();
        let mut tallies: Vec<LinkTally> = links.iter().map(|_| LinkTally::default()).collect();
        let mut own_keys = HashSet::new();
        let mut report = check_sheet(path, mapped, &sheet_progress, |record| {
            own_keys.extend(record_keys(record));
            for ((column, target, _), tally) in links.iter().zip(&mut tallies) {
                let Some(Value::LinkName(name)) = record.get(column) else {
                    continue;
                };
                let key = lookup_key(*target, name);
                if known
                    .get(target)
                    .is_some_and(|(keys, _)| keys.contains(&key))
                {
                    tally.in_workbook += 1;
                } else {
                    tally
                        .elsewhere
                        .entry(key)
                        .or_insert_with(|| (name.clone(), 0))
                        .1 += 1;
                }
            }
        })?;
        for ((field, target, label), tally) in links.iter().zip(tallies) {
            let sheets_of_target = known.get(target).map(|(_, s)| s.as_slice());
            report
                .notices
                .extend(link_notice(label, *target, sheets_of_target, &tally));
            summaries.push(LinkColumnSummary {
                sheet: sheet.clone(),
                entity: *entity,
                column: label.clone(),
                field,
                target: *target,
                in_workbook: tally.in_workbook,
                in_crm: 0,
                ambiguous: Vec::new(),
                not_found: tally
                    .elsewhere
                    .into_values()
                    .map(|(name, cells)| LinkName {
                        name,
                        cells,
                        candidates: Vec::new(),
                        ids: Vec::new(),
                    })
                    .collect(),
            });
        }
        let entry = known.entry(*entity).or_default();
        entry.0.extend(own_keys);
        entry.1.push(sheet.clone());
        reports.push(report);
    }
    let report = RunReport {
        file: path.to_path_buf(),
        run_id: None,
        cancelled: reports.len() < sheets.len() || reports.iter().any(|r| r.cancelled),
        sheets: reports,
        passed_over,
        elapsed: started.elapsed(),
    };
    Ok((report, summaries))
}

/// What a check says of one link column: how many cells name a record of
/// the workbook, and which names must wait for the CRM.
fn link_notice(
    label: &str,
    target: Entity,
    sheets: Option<&[String]>,
    tally: &LinkTally,
) -> Option<FileNotice> {
    let elsewhere: u64 = tally.elsewhere.values().map(|(_, n)| n).sum();
    if tally.in_workbook == 0 && elsewhere == 0 {
        return None;
    }
    let examples: Vec<String> = tally
        .elsewhere
        .values()
        .take(5)
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    let more = tally.elsewhere.len().saturating_sub(examples.len());
    let listed = if more > 0 {
        format!("{} and {more} more", examples.join(", "))
    } else {
        examples.join(", ")
    };
    let message = match sheets {
        Some(sheets) => {
            let sheets = sheets
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ");
            if elsewhere == 0 {
                format!(
                    "'{label}': every name is one of the {} of this workbook ({sheets})",
                    target.name()
                )
            } else {
                format!(
                    "'{label}': {} cells name {} of this workbook ({sheets}); {elsewhere} name {} it lacks, looked up in the CRM when importing: {listed}",
                    tally.in_workbook,
                    target.name(),
                    target.name()
                )
            }
        }
        None => format!(
            "'{label}': the workbook has no sheet of {}, so its {} names are looked up in the CRM when importing",
            target.name(),
            tally.elsewhere.len()
        ),
    };
    Some(FileNotice { row: None, message })
}

/// Refuses a sheet whose header lacks a column its entity needs, from the
/// header the plan read (the rows are read when the sheet's turn comes).
fn check_header(path: &Path, sheet: &SheetPlan, entity: Entity) -> Result<(), ImportError> {
    let fatal = ColumnMap::with_choices(entity, &sheet.headers, &sheet.mapping.columns)
        .header_issues(sheet.header_row, &sheet.headers)
        .into_iter()
        .find(|issue| issue.severity == Severity::Error);
    match fatal {
        Some(issue) => Err(ImportError::Sheet {
            path: path.to_path_buf(),
            message: format!(
                "sheet '{}', row {}: {}",
                sheet.sheet, issue.row, issue.message
            ),
        }),
        None => Ok(()),
    }
}

/// Names the sheet in a header problem, which otherwise names only the file.
fn in_sheet(error: ImportError, sheet: &str) -> ImportError {
    match error {
        ImportError::Sheet { path, message } => ImportError::Sheet {
            path,
            message: format!("sheet '{sheet}', {message}"),
        },
        other => other,
    }
}

/// Imports the sheets `plan` imports, in dependency order, as one run.
/// Every sheet's header is checked before anything is stored. A run of this workbook cut off earlier is resumed: its
/// finished sheets are left as they are and the others go on. `options`
/// gives the links policy, batch size and `again`; its sheet and entity
/// are set per sheet.
pub async fn import_workbook(
    path: &Path,
    settings: &ConnectionSettings,
    plan: &WorkbookPlan,
    options: &ImportOptions,
    progress: Arc<RunProgress>,
) -> Result<RunReport, ImportError> {
    let started = Instant::now();
    let sheets = &plan.import_order();
    let passed_over = plan.passed_over();
    for sheet in &plan.sheets {
        if let Some(entity) = sheet.entity {
            check_header(path, sheet, entity)?;
        }
    }
    let open_path = path.to_path_buf();
    let fingerprint = tokio::task::spawn_blocking(move || {
        Ok::<_, ImportError>(history::fingerprint(&open_path)?)
    })
    .await
    .map_err(|e| ImportError::Database(format!("the reader stopped: {e}")))??;

    let client = settings.connect().await?;
    for entity in sheets.iter().map(|(_, e)| *e).collect::<HashSet<_>>() {
        ensure_schema(&client, entity).await?;
    }
    let history_error = |e: history::HistoryError| ImportError::Database(e.to_string());
    let run_id = match history::latest_run_for(&client, &fingerprint)
        .await
        .map_err(history_error)?
    {
        Some(run) if run.status == ImportStatus::Finished && !options.again => {
            return Err(ImportError::RunAlreadyImported {
                path: path.to_path_buf(),
                run: Box::new(run),
            });
        }
        Some(run) if run.status != ImportStatus::Finished => {
            history::set_run_status(&client, run.id, ImportStatus::Running)
                .await
                .map_err(history_error)?;
            run.id
        }
        _ => {
            let file_name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            history::begin_run(&client, &file_name, &fingerprint)
                .await
                .map_err(history_error)?
        }
    };

    let mut reports = Vec::with_capacity(sheets.len());
    let mut stopped: Option<String> = None;
    for (index, (sheet, entity)) in sheets.iter().enumerate() {
        if progress.is_cancelled() {
            break;
        }
        let sheet_progress = progress.start(index);
        let earlier = history::latest_in_run(&client, run_id, *entity, sheet)
            .await
            .map_err(history_error)?;
        if let Some(batch) = earlier.filter(|b| b.status == ImportStatus::Finished) {
            reports.push(finished_before(path, sheet, &batch));
            continue;
        }
        let choices = plan.sheet(sheet);
        let sheet_options = ImportOptions {
            sheet: Some(sheet.clone()),
            entity: Some(*entity),
            run: Some(run_id),
            again: true,
            mapping: choices.map(|c| c.mapping.clone()).unwrap_or_default(),
            edits: choices.map(|c| c.edits.clone()).unwrap_or_default(),
            ..options.clone()
        };
        match import::import_file(path, settings, &sheet_options, sheet_progress).await {
            Ok(report) => {
                let cancelled = report.cancelled;
                reports.push(report);
                if cancelled {
                    break;
                }
            }
            Err(ImportError::Interrupted { reason, report }) => {
                reports.push(*report);
                stopped = Some(format!("sheet '{sheet}': {reason}"));
                break;
            }
            Err(other) => {
                stopped = Some(format!("sheet '{sheet}': {other}"));
                break;
            }
        }
    }
    let cancelled =
        stopped.is_none() && reports.len() < sheets.len() || reports.iter().any(|r| r.cancelled);
    let status = match (&stopped, cancelled) {
        (Some(_), _) => ImportStatus::Failed,
        (None, true) => ImportStatus::Cancelled,
        (None, false) => ImportStatus::Finished,
    };
    let closed = history::set_run_status(&client, run_id, status).await;
    let report = RunReport {
        file: path.to_path_buf(),
        run_id: Some(run_id),
        sheets: reports,
        passed_over,
        cancelled,
        elapsed: started.elapsed(),
    };
    match (stopped, closed) {
        (None, Ok(())) => Ok(report),
        (Some(reason), _) | (None, Err(history::HistoryError::Database(reason))) => {
            Err(ImportError::RunInterrupted {
                reason,
                report: Box::new(report),
            })
        }
        (None, Err(other)) => Err(ImportError::RunInterrupted {
            reason: other.to_string(),
            report: Box::new(report),
        }),
    }
}

/// The report of a sheet an earlier, cut-off attempt of the run finished:
/// left as it is, its counts from the history.
fn finished_before(path: &Path, sheet: &str, batch: &ImportBatch) -> ImportReport {
    let stored = u64::try_from(batch.succeeded).unwrap_or(0);
    let failed = u64::try_from(batch.failed).unwrap_or(0);
    let total = batch
        .total_rows
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(stored + failed);
    let mut report = ImportReport::new(
        path,
        vec![FileNotice {
            row: None,
            message: format!(
                "Finished by this run before it was cut off (import {}); not read again",
                batch.id
            ),
        }],
        total,
        stored,
        Vec::new(),
        false,
        Duration::ZERO,
    );
    report.failed = failed;
    report.entity = batch.entity;
    report.sheet = Some(sheet.to_owned());
    report.import_id = Some(batch.id);
    report.already_stored = stored;
    report
}
