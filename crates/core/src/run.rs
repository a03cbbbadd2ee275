//! A run: what `check` and `import` do with a file, whether it is one
//! sheet (a CSV, or one sheet of a workbook) or every recognised sheet of a
//! workbook (SPEC.md, "A whole workbook in one run"). A single sheet is a
//! run of one sheet: one [`RunPlan`], one [`check`] and one [`import`] that
//! return one [`RunReport`] made of sheet reports.
//!
//! Sheets run in dependency order (organizations, contacts, products,
//! opportunities, interactions), each committed batch by batch, so a
//! contact sheet's company names find the organizations an earlier sheet of
//! the same run stored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clean::CleanUp;
use crate::database::ConnectionSettings;
use crate::edits::SheetEdits;
use crate::entity::Entity;
use crate::history::{self, ImportBatch, ImportStatus};
use crate::import::{
    EarlierImport, HistoryPlace, ImportError, ImportOptions, SheetEnd, ensure_schema, file_name,
    import_sheet,
};
use crate::mapping::evidence::{ColumnSamples, SAMPLE_ROWS};
use crate::mapping::{ColumnMap, Severity};
use crate::pipeline::{check_sheet, open_planned};
use crate::progress::RunProgress;
use crate::report::{RunReport, SheetReport};
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{FileNotice, ReadError, Spreadsheet};
use crate::workbook::{LinkColumnSummary, WorkbookLinks, WorkbookPlan};

/// One sheet of a run and how to read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SheetPlan {
    /// The sheet's name; `None` for a text file, or for a workbook's first
    /// sheet that holds something recognisable.
    pub sheet: Option<String>,
    /// What its rows are. In a run, `None`: as its name or headers say. In
    /// a [`WorkbookPlan`], `None`: not imported (nothing in it is
    /// recognisable, as in a ReadMe, or the broker said so).
    pub entity: Option<Entity>,
    /// Its header row's cells, when read for the plan (a workbook's sheets,
    /// so a run checks every header before it stores anything); empty when
    /// the header is found as the sheet is opened.
    pub headers: Vec<String>,
    /// The header's row number, with `headers`.
    pub header_row: u64,
    /// The broker's choices for the sheet (header row, column targets,
    /// values).
    pub mapping: SavedMapping,
    /// The broker's edits to the sheet's rows.
    pub edits: SheetEdits,
}

impl SheetPlan {
    /// A sheet of a file as `entity`, or as its name or headers say.
    pub fn new(sheet: Option<String>, entity: Option<Entity>) -> SheetPlan {
        SheetPlan {
            sheet,
            entity,
            ..SheetPlan::default()
        }
    }

    /// The header problem that stops the import of this sheet (a required
    /// field no column holds), when its header was read for the plan: the
    /// header and its first rows are read again, so that the columns are
    /// placed as the import will place them, values included.
    fn header_problem(&self, file: &Path) -> Result<Option<String>, ReadError> {
        let Some(entity) = self.entity else {
            return Ok(None);
        };
        if self.headers.is_empty() {
            return Ok(None);
        }
        let header_row = self.mapping.header_row.or(Some(self.header_row));
        let mut spreadsheet =
            Spreadsheet::open_with_header(file, self.sheet.as_deref(), header_row)?;
        let headers = spreadsheet.headers().to_vec();
        let samples = ColumnSamples::of(headers.len(), spreadsheet.peek_rows(SAMPLE_ROWS)?);
        let issue = ColumnMap::build(entity, &headers, &self.mapping, &samples)
            .header_issues(spreadsheet.header_row(), &headers)
            .into_iter()
            .find(|issue| issue.severity == Severity::Error);
        Ok(issue.map(|issue| format!("row {}: {}", issue.row, issue.message)))
    }
}

/// What a run does: the file, and its sheets in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// The file.
    pub file: PathBuf,
    /// The sheets to read, in dependency order.
    pub sheets: Vec<SheetPlan>,
    /// Sheets of the workbook not imported.
    pub passed_over: Vec<String>,
    /// Whether this is a workbook's sheets run together: recorded as one
    /// run in the history, undone and resumed as one, reported sheet by
    /// sheet. A run of one sheet is that sheet's import.
    pub whole_workbook: bool,
}

impl RunPlan {
    /// A run of one sheet.
    pub fn one_sheet(file: &Path, sheet: SheetPlan) -> RunPlan {
        RunPlan {
            file: file.to_path_buf(),
            sheets: vec![sheet],
            passed_over: Vec::new(),
            whole_workbook: false,
        }
    }

    /// The run the command line makes of `file`: every recognised sheet of
    /// a workbook holding two or more, when neither a sheet, an entity nor
    /// a mapping (which is for one shape of sheet) says to read one; else
    /// the one sheet.
    pub fn for_file(
        file: &Path,
        sheet: Option<String>,
        entity: Option<Entity>,
        mapping: SavedMapping,
    ) -> Result<RunPlan, ReadError> {
        if sheet.is_none()
            && entity.is_none()
            && mapping == SavedMapping::default()
            && WorkbookPlan::may_hold_sheets(file)
        {
            let workbook = WorkbookPlan::read(file)?;
            if workbook.is_run() {
                return Ok(workbook.run_plan(file));
            }
        }
        Ok(RunPlan::one_sheet(
            file,
            SheetPlan {
                mapping,
                ..SheetPlan::new(sheet, entity)
            },
        ))
    }

    /// Applies clean-up kinds to every sheet (as `--clean` does).
    pub fn clean_every_sheet(&mut self, kinds: &BTreeSet<CleanUp>) {
        for sheet in &mut self.sheets {
            sheet.edits.clean.extend(kinds.iter().copied());
        }
    }

    /// How the broker knows a sheet of the plan: its name, else the file's.
    pub fn sheet_title(&self, sheet: &SheetPlan) -> String {
        sheet.sheet.clone().unwrap_or_else(|| file_name(&self.file))
    }

    /// Each sheet's header problem (a required field no column holds), in
    /// the plan's order: `None` for a sheet that can go.
    fn header_problems(&self) -> Result<Vec<Option<String>>, ImportError> {
        self.sheets
            .iter()
            .map(|sheet| {
                sheet
                    .header_problem(&self.file)
                    .map_err(|e| self.sheet_error(sheet, e.into()))
            })
            .collect()
    }

    /// Refuses the run, naming each sheet that cannot go and why, so that
    /// nothing is stored when any sheet cannot go.
    fn refuse_unless_every_sheet_can_go(&self) -> Result<(), ImportError> {
        let problems: Vec<String> = self
            .sheets
            .iter()
            .zip(self.header_problems()?)
            .filter_map(|(sheet, problem)| {
                let problem = problem?;
                Some(match &sheet.sheet {
                    Some(name) if self.whole_workbook => format!("sheet '{name}', {problem}"),
                    _ => problem,
                })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ImportError::Sheet {
                path: self.file.clone(),
                problems,
            })
        }
    }

    /// The error of one sheet, naming it when the run has several.
    fn sheet_error(&self, sheet: &SheetPlan, error: ImportError) -> ImportError {
        match &sheet.sheet {
            Some(name) if self.whole_workbook => error.in_sheet(name),
            _ => error,
        }
    }
}

/// Reads, maps and validates every sheet of `plan` without any database:
/// the report says what an import would do (`succeeded` = would import).
/// Links between the sheets of a workbook are resolved by name; links to
/// the CRM only a database can check.
pub fn check(plan: &RunPlan, progress: &RunProgress) -> Result<RunReport, ImportError> {
    survey(plan, progress).map(|(report, _)| report)
}

/// The check of a run, and per link column of a workbook's sheets what it
/// names that no earlier sheet holds.
pub(crate) fn survey(
    plan: &RunPlan,
    progress: &RunProgress,
) -> Result<(RunReport, Vec<LinkColumnSummary>), ImportError> {
    let started = Instant::now();
    // Every sheet is reported: one that cannot go says why, and is not read.
    let problems = plan.header_problems()?;
    let mut links = WorkbookLinks::default();
    let mut reports = Vec::with_capacity(plan.sheets.len());
    for (index, (sheet, problem)) in plan.sheets.iter().zip(problems).enumerate() {
        if progress.is_cancelled() {
            break;
        }
        let sheet_progress = progress.start(index);
        if let Some(problem) = problem {
            reports.push(SheetReport::cannot_import(&plan.file, sheet, problem));
            continue;
        }
        let mut mapped = open_planned(&plan.file, sheet).map_err(|e| plan.sheet_error(sheet, e))?;
        mapped.suggest_clean_ups();
        let offline = (!plan.whole_workbook)
            .then(|| mapped.offline_link_notice())
            .flatten();
        let mut tally = plan
            .whole_workbook
            .then(|| links.sheet(&mapped, plan.sheet_title(sheet)));
        let mut report = check_sheet(&plan.file, mapped, &sheet_progress, |record| {
            if let Some(tally) = &mut tally {
                links.tally(tally, record);
            }
        })?;
        report.notices.extend(offline);
        if let Some(tally) = tally {
            report.notices.extend(links.finish(tally));
        }
        reports.push(report);
    }
    let report = RunReport {
        file: plan.file.clone(),
        run_id: None,
        whole_workbook: plan.whole_workbook,
        cancelled: reports.len() < plan.sheets.len() || reports.iter().any(|r| r.cancelled),
        sheets: reports,
        passed_over: plan.passed_over.clone(),
        elapsed: started.elapsed(),
    };
    Ok((report, links.into_summaries()))
}

/// Imports the sheets of `plan` into the database of `settings`, in
/// dependency order, as one run. Every sheet's header is checked before
/// anything is stored. A run of this file cut off earlier is resumed: its
/// finished sheets are left as they are, and the others go on; a run
/// finished before is refused unless `options.again`.
pub async fn import(
    plan: &RunPlan,
    settings: &ConnectionSettings,
    options: &ImportOptions,
    progress: Arc<RunProgress>,
) -> Result<RunReport, ImportError> {
    let started = Instant::now();
    plan.refuse_unless_every_sheet_can_go()?;
    let open_path = plan.file.clone();
    let fingerprint =
        tokio::task::spawn_blocking(move || history::fingerprint(&open_path)).await??;
    let client = settings.connect().await?;
    let known: BTreeSet<Entity> = plan.sheets.iter().filter_map(|s| s.entity).collect();
    for entity in known {
        ensure_schema(&client, entity).await?;
    }
    let run_id = match &options.sync {
        Some(sync) => Some(sync.run),
        None if plan.whole_workbook => {
            Some(start_or_resume_run(&client, &plan.file, &fingerprint, options.again).await?)
        }
        None => None,
    };
    let pass = options.sync.as_ref().map(|sync| sync.pass);
    let mut reports = Vec::with_capacity(plan.sheets.len());
    let mut stopped: Option<ImportError> = None;
    for (index, sheet) in plan.sheets.iter().enumerate() {
        if progress.is_cancelled() {
            break;
        }
        let sheet_progress = progress.start(index);
        if let (Some(run), Some(entity), Some(name), None) =
            (run_id, sheet.entity, &sheet.sheet, pass)
        {
            let earlier = history::latest_in_run(&client, run, entity, name).await?;
            if let Some(batch) = earlier.filter(|b| b.status == ImportStatus::Finished) {
                reports.push(finished_before(&plan.file, name, &batch));
                continue;
            }
        }
        let place = HistoryPlace {
            run: run_id,
            pass,
            fingerprint: &fingerprint,
        };
        // Within a run the run decides whether a repeat may go on.
        let sheet_options = ImportOptions {
            again: options.again || run_id.is_some(),
            ..options.clone()
        };
        match import_sheet(
            &plan.file,
            sheet,
            place,
            settings,
            &sheet_options,
            sheet_progress,
        )
        .await
        {
            Ok(SheetEnd::Done(report)) => {
                let cancelled = report.cancelled;
                reports.push(report);
                if cancelled {
                    break;
                }
            }
            Ok(SheetEnd::Stopped(report, cause)) => {
                reports.push(report);
                stopped = Some(plan.sheet_error(sheet, cause));
                break;
            }
            // Nothing of a lone sheet was stored: the error as it is.
            Err(error) if run_id.is_none() => return Err(error),
            Err(error) => {
                stopped = Some(plan.sheet_error(sheet, error));
                break;
            }
        }
    }
    let cancelled = stopped.is_none() && reports.len() < plan.sheets.len()
        || reports.iter().any(|r| r.cancelled);
    // A sync's run stays open while it watches; its passes are its own.
    if let (Some(run), None) = (run_id, pass) {
        let status = match (&stopped, cancelled) {
            (Some(_), _) => ImportStatus::Failed,
            (None, true) => ImportStatus::Cancelled,
            (None, false) => ImportStatus::Finished,
        };
        if let Err(error) = history::set_run_status(&client, run, status).await {
            stopped.get_or_insert(error.into());
        }
    }
    let report = RunReport {
        file: plan.file.clone(),
        run_id,
        whole_workbook: plan.whole_workbook,
        sheets: reports,
        passed_over: plan.passed_over.clone(),
        cancelled,
        elapsed: started.elapsed(),
    };
    match stopped {
        None => Ok(report),
        Some(cause) => Err(ImportError::Interrupted {
            cause: Box::new(cause),
            report: Box::new(report),
        }),
    }
}

/// The run a workbook's import goes on with: a new one, or one cut off
/// earlier, resumed. A finished one is refused unless `again`.
async fn start_or_resume_run(
    client: &tokio_postgres::Client,
    file: &Path,
    fingerprint: &str,
    again: bool,
) -> Result<i64, ImportError> {
    match history::latest_run_for(client, fingerprint).await? {
        Some(run) if run.status == ImportStatus::Finished && !again => {
            Err(ImportError::AlreadyImported {
                path: file.to_path_buf(),
                earlier: Box::new(EarlierImport::Run(run)),
            })
        }
        Some(run) if run.status != ImportStatus::Finished => {
            history::set_run_status(client, run.id, ImportStatus::Running).await?;
            Ok(run.id)
        }
        _ => Ok(history::begin_run(client, &file_name(file), fingerprint).await?),
    }
}

/// The report of a sheet an earlier, cut-off attempt of the run finished:
/// left as it is, its counts from the history.
fn finished_before(file: &Path, sheet: &str, batch: &ImportBatch) -> SheetReport {
    let stored = u64::try_from(batch.succeeded).unwrap_or(0);
    let failed = u64::try_from(batch.failed).unwrap_or(0);
    let total = batch
        .total_rows
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(stored + failed);
    let mut report = SheetReport::new(
        file,
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
