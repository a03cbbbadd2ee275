//! The import engine: read and map on one thread while the database loads
//! the previous batch with `COPY`, and report progress as it goes. The same
//! engine serves every entity: links are resolved batch by batch
//! ([`crate::links`]) before the rows are encoded and sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::types::{ToSql, Type};

use crate::copy_format::{CopyBatch, ReadyBatch, copy_statement};
use crate::database::{ConnectError, ConnectionSettings, database_reason};
use crate::duplicates::{
    DuplicatePolicy, MatchAction, MatchedRow, NearDuplicates, StagedStatements, match_message,
};
use crate::edits::SheetEdits;
use crate::entity::{Entity, EntityDescription};
use crate::history::{self, ImportBatch, ImportStatus};
use crate::links::{LinkPolicies, LinkResolver};
use crate::mapping::{ColumnMap, MappedSheet, Record, RowIssue, Severity};
use crate::report::ImportReport;
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{FileNotice, ReadError};

/// Rows per COPY batch unless told otherwise. Chosen by measurement (README,
/// "Performance"): every batch is a transaction whose commit waits for the
/// WAL flush, so 200,000 rows took 2.4-2.7 s in batches of 1,000, 1.8-2.0 s
/// in batches of 5,000 and 1.4-1.5 s in batches of 20,000; peak memory rose
/// from 22 to 70 MB. 20,000 still moves the progress bar several times a
/// second and keeps bisecting a refused batch short.
pub const DEFAULT_BATCH_SIZE: usize = 20_000;

/// Records the reader hands over at a time (their links are looked up
/// together). Smaller than a batch because a record in memory weighs several
/// times its encoded row.
const READ_CHUNK_ROWS: usize = 5_000;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Worksheet name for workbooks (first sheet when `None`).
    pub sheet: Option<String>,
    /// The entity the rows are (from the sheet name or headers when `None`).
    pub entity: Option<Entity>,
    /// What link columns do with names the CRM lacks.
    pub links: LinkPolicies,
    /// Rows per COPY batch.
    pub batch_size: usize,
    /// Import the file even if it was imported completely before.
    pub again: bool,
    /// The workbook run this import is one sheet of
    /// ([`crate::workbook::import_workbook`] sets it).
    pub run: Option<i64>,
    /// The broker's saved choices for this shape of sheet (header row,
    /// column targets, values); recorded with the import.
    pub mapping: SavedMapping,
    /// The broker's edits to rows of this file (totals rows kept, what a
    /// row matching a CRM record does).
    pub edits: SheetEdits,
    /// What rows matching records already in the CRM do.
    pub on_duplicate: DuplicatePolicy,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            sheet: None,
            entity: None,
            links: LinkPolicies::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            again: false,
            run: None,
            mapping: SavedMapping::default(),
            edits: SheetEdits::default(),
            on_duplicate: DuplicatePolicy::default(),
        }
    }
}

/// Why an import could not run, or stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The sheet lacks a column the entity needs.
    #[error("{path}: {message}")]
    Sheet {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        message: String,
    },
    /// No connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The database lacks the CRM schema.
    #[error(
        "the database has no CRM schema for {entity} yet (table {entity} with import_notes, import_batch_id and import_source_row is missing): run `pantry-import migrate` first"
    )]
    NotMigrated {
        /// The entity whose table is missing or old.
        entity: Entity,
    },
    /// This file was imported completely before; nothing was done.
    #[error("{} was already imported completely (import {}, {}, {} rows stored); pass --again to import it a second time", path.display(), batch.id, batch.started_at, batch.succeeded)]
    AlreadyImported {
        /// The file.
        path: PathBuf,
        /// The earlier import.
        batch: Box<ImportBatch>,
    },
    /// This workbook was imported completely before, as a run of its sheets.
    #[error("{} was already imported completely (run {}, {}, {} sheets); pass --again to import it a second time", path.display(), run.id, run.started_at, run.imports.len())]
    RunAlreadyImported {
        /// The workbook.
        path: PathBuf,
        /// The earlier run.
        run: Box<crate::history::ImportRun>,
    },
    /// Another client is importing the same file right now.
    #[error("{} is being imported right now in another session (import {import_id}); wait for it to finish, or cancel it there, and run this again", path.display())]
    InProgress {
        /// The file.
        path: PathBuf,
        /// The import running.
        import_id: i64,
    },
    /// The database refused something that is not about a single row.
    #[error("the database refused the import: {0}")]
    Database(String),
    /// The connection or the file failed part way; `report` says what was
    /// committed before.
    #[error("the import stopped after {} rows were stored: {reason}", report.succeeded)]
    Interrupted {
        /// What happened.
        reason: String,
        /// What was done before it happened.
        report: Box<ImportReport>,
    },
    /// A workbook run stopped part way; `report` says what each sheet
    /// committed before.
    #[error("the run stopped after {} rows were stored: {reason}", report.succeeded())]
    RunInterrupted {
        /// What happened, and in which sheet.
        reason: String,
        /// What was done before it happened.
        report: Box<crate::workbook::RunReport>,
    },
}

/// Live counts of a running import or check, shared between the worker and
/// whoever watches it (a window reads it every frame).
#[derive(Default)]
pub struct ImportProgress {
    rows_read: AtomicU64,
    rows_total: AtomicU64,
    reading_done: AtomicBool,
    bytes_read: std::sync::Mutex<Option<(Arc<AtomicU64>, u64)>>,
    batch_size: AtomicU64,
    batches_done: AtomicU64,
    succeeded: AtomicU64,
    already_stored: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    updated: AtomicU64,
    cancelled: AtomicBool,
    waker: std::sync::Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for ImportProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportProgress")
            .field("now", &self.snapshot())
            .finish()
    }
}

/// A copy of the counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProgressSnapshot {
    /// Data rows read from the file so far.
    pub rows_read: u64,
    /// Total data rows, once known (or estimated from bytes read).
    pub rows_total_estimate: u64,
    /// Whether the whole file has been read.
    pub reading_done: bool,
    /// Fraction of the file read, 0 to 1.
    pub fraction_read: f32,
    /// Batches committed (or settled row by row).
    pub batches_done: u64,
    /// Batches expected in all (estimated until reading is done).
    pub batches_total: u64,
    /// Rows stored, including those an interrupted run stored before.
    pub succeeded: u64,
    /// Rows an interrupted earlier run had stored (this run resumes it).
    pub already_stored: u64,
    /// Rows refused (by validation or the database).
    pub failed: u64,
    /// Rows that matched a CRM record and were skipped.
    pub skipped: u64,
    /// Rows that updated the CRM record they matched (counted in
    /// `succeeded` too).
    pub updated: u64,
}

impl ImportProgress {
    /// A new counter set; `waker` is called whenever the counts move, so a
    /// window can repaint.
    pub fn new(waker: Option<Arc<dyn Fn() + Send + Sync>>) -> Arc<ImportProgress> {
        let progress = ImportProgress::default();
        if let Ok(mut slot) = progress.waker.lock() {
            *slot = waker;
        }
        Arc::new(progress)
    }

    /// Asks the import to stop after the batch in flight.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.wake();
    }

    /// Whether [`ImportProgress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The counts now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let rows_read = self.rows_read.load(Ordering::Relaxed);
        let reading_done = self.reading_done.load(Ordering::Relaxed);
        let fraction_read = if reading_done {
            1.0
        } else {
            match self.bytes_read.lock().ok().and_then(|b| b.clone()) {
                Some((counter, total)) if total > 0 => {
                    (counter.load(Ordering::Relaxed) as f64 / total as f64).min(1.0) as f32
                }
                _ => 0.0,
            }
        };
        let rows_total_estimate = if reading_done {
            self.rows_total.load(Ordering::Relaxed)
        } else if fraction_read > 0.01 {
            ((rows_read as f64 / f64::from(fraction_read)) as u64).max(rows_read)
        } else {
            rows_read
        };
        let batch_size = self.batch_size.load(Ordering::Relaxed).max(1);
        ProgressSnapshot {
            rows_read,
            rows_total_estimate,
            reading_done,
            fraction_read,
            batches_done: self.batches_done.load(Ordering::Relaxed),
            batches_total: rows_total_estimate.div_ceil(batch_size),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            already_stored: self.already_stored.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            updated: self.updated.load(Ordering::Relaxed),
        }
    }

    fn wake(&self) {
        let waker = self.waker.lock().ok().and_then(|w| w.clone());
        if let Some(waker) = waker {
            waker();
        }
    }
}

/// Opens the sheet as its entity; a header that lacks a required column
/// stops here, naming it.
pub(crate) fn open_sheet(
    path: &Path,
    sheet: Option<&str>,
    entity: Option<Entity>,
    mapping: &SavedMapping,
) -> Result<MappedSheet, ImportError> {
    let mapped = MappedSheet::open_with(path, sheet, entity, mapping)?;
    if let Some(fatal) = mapped.fatal_issue() {
        return Err(ImportError::Sheet {
            path: path.to_path_buf(),
            message: format!("row {}: {}", fatal.row, fatal.message),
        });
    }
    Ok(mapped)
}

/// Counts each row read on `progress`, and wakes its watcher now and then.
struct ReadCounter<'a> {
    progress: &'a ImportProgress,
    read: u64,
    last_wake: Instant,
}

impl<'a> ReadCounter<'a> {
    fn start(progress: &'a ImportProgress, sheet: &MappedSheet) -> ReadCounter<'a> {
        let spreadsheet = sheet.spreadsheet();
        if let Ok(mut slot) = progress.bytes_read.lock() {
            *slot = Some((spreadsheet.bytes_read_counter(), spreadsheet.bytes_total()));
        }
        ReadCounter {
            progress,
            read: 0,
            last_wake: Instant::now(),
        }
    }

    fn row(&mut self) {
        self.read += 1;
        self.progress.rows_read.store(self.read, Ordering::Relaxed);
        if self.last_wake.elapsed() > Duration::from_millis(50) {
            self.last_wake = Instant::now();
            self.progress.wake();
        }
    }

    fn end(self, complete: bool) {
        if complete {
            self.progress.rows_total.store(self.read, Ordering::Relaxed);
            self.progress.reading_done.store(true, Ordering::Relaxed);
        }
        self.progress.wake();
    }
}

/// Reads, maps and validates a file without any database: the report says
/// what an import would do (`succeeded` = would import). Links are not
/// looked up: only a database knows its names.
pub fn check_file(
    path: &Path,
    sheet: Option<&str>,
    entity: Option<Entity>,
    mapping: &SavedMapping,
    edits: &SheetEdits,
    progress: &ImportProgress,
) -> Result<ImportReport, ImportError> {
    let mut mapped = open_sheet(path, sheet, entity, mapping)?.with_edits(edits);
    mapped.suggest_clean_ups();
    let offline = mapped.offline_link_notice();
    let mut report = check_sheet(path, mapped, progress, |_| {})?;
    report.notices.extend(offline);
    Ok(report)
}

/// The check of one opened sheet; `each` sees every record that would be
/// stored (a workbook's check collects the names later sheets link to).
pub(crate) fn check_sheet(
    path: &Path,
    mut mapped: MappedSheet,
    progress: &ImportProgress,
    mut each: impl FnMut(&Record),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut issues = mapped.header_issues().to_vec();
    let (mut total, mut failed, mut skipped) = (0u64, 0u64, 0u64);
    let mut counter = ReadCounter::start(progress, &mapped);
    mapped.map_rows(|_, outcome| {
        counter.row();
        total += 1;
        if let Some(record) = &outcome.record {
            each(record);
            progress.succeeded.fetch_add(1, Ordering::Relaxed);
        } else if outcome.skipped {
            skipped += 1;
        } else {
            failed += 1;
            progress.failed.fetch_add(1, Ordering::Relaxed);
        }
        issues.extend(outcome.issues);
        !progress.is_cancelled()
    })?;
    let cancelled = progress.is_cancelled();
    counter.end(!cancelled);
    let mut notices = mapped.notices().to_vec();
    notices.extend(mapped.clean_up_notices());
    let mut report = ImportReport::new(
        path,
        notices,
        total,
        total - failed - skipped,
        issues,
        cancelled,
        started.elapsed(),
    );
    report.entity = mapped.entity();
    report.sheet = mapped.spreadsheet().sheet().map(str::to_owned);
    report.header_row = Some(mapped.spreadsheet().header_row());
    Ok(report)
}

/// What the reading thread sends the loader: a batch of records, the issues
/// of the rows read since the last message, and, in the last message, how
/// reading ended.
struct ReadChunk {
    /// Records whose links the next stage resolves.
    records: Vec<Record>,
    /// Rows of an entity without links, encoded by the reader itself so
    /// the async side only ships bytes.
    encoded: CopyBatch,
    issues: Vec<RowIssue>,
    invalid_rows: u64,
    /// Totals rows, passed over with a warning.
    skipped_rows: u64,
    /// In the last chunk: whether every row was read (`false`: cancelled).
    end: Option<Result<bool, ReadError>>,
}

impl ReadChunk {
    fn new(rows: usize, encodes: bool, row_bytes: usize) -> ReadChunk {
        ReadChunk {
            records: Vec::with_capacity(if encodes { 0 } else { rows }),
            encoded: CopyBatch::with_room(if encodes { rows } else { 0 }, row_bytes),
            issues: Vec::new(),
            invalid_rows: 0,
            skipped_rows: 0,
            end: None,
        }
    }

    fn len(&self) -> usize {
        self.records.len() + self.encoded.len()
    }
}

/// How the loading loop ended.
enum LoadEnd {
    Finished,
    Cancelled,
    Failed(String),
}

/// Where an import starts: a new entry in the history, or an interrupted
/// one resumed with the rows it had stored.
async fn start_or_resume(
    client: &tokio_postgres::Client,
    path: &Path,
    entity: Entity,
    fingerprint: &str,
    sheet_name: &str,
    options: &ImportOptions,
) -> Result<(i64, Vec<u32>), ImportError> {
    let (again, run, mapping) = (options.again, options.run, &options.mapping);
    let history_error = |e: history::HistoryError| ImportError::Database(e.to_string());
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    // Within a run, only that run's own import of the sheet counts.
    let earlier = match run {
        Some(run) => history::latest_in_run(client, run, entity, sheet_name).await,
        None => history::latest_for(client, entity, fingerprint, sheet_name).await,
    }
    .map_err(history_error)?;
    match earlier {
        Some(batch) if batch.status == ImportStatus::Finished && !again && run.is_none() => {
            Err(ImportError::AlreadyImported {
                path: path.to_path_buf(),
                batch: Box::new(batch),
            })
        }
        Some(batch) if batch.status != ImportStatus::Finished => {
            history::resume(client, batch.id)
                .await
                .map_err(|e| match e {
                    history::HistoryError::InProgress(import_id) => ImportError::InProgress {
                        path: path.to_path_buf(),
                        import_id,
                    },
                    other => history_error(other),
                })?;
            let stored = history::stored_rows(client, entity, batch.id)
                .await
                .map_err(history_error)?;
            Ok((batch.id, stored))
        }
        _ => {
            let recorded = (*mapping != SavedMapping::default()).then(|| mapping.to_json());
            let id = history::begin(
                client,
                &history::NewImport {
                    entity,
                    file_name: &file_name,
                    fingerprint,
                    sheet: sheet_name,
                    run,
                    mapping: recorded.as_deref(),
                    on_duplicate: options.on_duplicate,
                },
            )
            .await
            .map_err(history_error)?;
            Ok((id, Vec::new()))
        }
    }
}

/// Imports the rows of `path` into the database of `settings`, as the
/// entity `options` names or the sheet shows.
pub async fn import_file(
    path: &Path,
    settings: &ConnectionSettings,
    options: &ImportOptions,
    progress: Arc<ImportProgress>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let batch_size = options.batch_size.max(1);
    progress
        .batch_size
        .store(batch_size as u64, Ordering::Relaxed);

    let open_path = path.to_path_buf();
    let sheet = options.sheet.clone();
    let entity = options.entity;
    let mapping = options.mapping.clone();
    let edits = options.edits.clone();
    let (mut mapped, fingerprint) = tokio::task::spawn_blocking(move || {
        let mapped = open_sheet(&open_path, sheet.as_deref(), entity, &mapping)?.with_edits(&edits);
        let fingerprint = history::fingerprint(&open_path)?;
        Ok::<_, ImportError>((mapped, fingerprint))
    })
    .await
    .map_err(|e| ImportError::Database(format!("the reader stopped: {e}")))??;
    let entity = mapped.entity();
    let description = entity.description();
    let notices: Vec<FileNotice> = mapped.notices().to_vec();
    let header_issues = mapped.header_issues().to_vec();
    // The sheet read (which may not be the first, when that was a ReadMe).
    let sheet_name = mapped.spreadsheet().sheet().unwrap_or_default().to_owned();
    let header_row = mapped.spreadsheet().header_row();
    let links = {
        let columns = mapped.columns();
        LinkResolver::new(entity, &options.links, |field| {
            columns
                .column_of_field(field.column)
                .map_or_else(|| field.label.to_owned(), |i| columns.label(i))
        })
    };

    let client = settings.connect().await?;
    ensure_schema(&client, entity).await?;
    let (import_id, stored) =
        start_or_resume(&client, path, entity, &fingerprint, &sheet_name, options).await?;
    let already_stored = stored.len() as u64;
    progress.succeeded.store(already_stored, Ordering::Relaxed);
    progress
        .already_stored
        .store(already_stored, Ordering::Relaxed);
    progress.wake();
    let live_before = live_records(&client, description, import_id).await?;
    // Near-duplicates of organizations already in the CRM are warned about
    // as the rows are read ("Joes Rusty Spoon Inc." for "Joe's Rusty Spoon").
    let near = if live_before {
        near_duplicates(&client, mapped.columns()).await?
    } else {
        None
    };

    // The reader hands over records in small chunks and runs at most one
    // chunk ahead: records weigh about four times their encoded rows, so
    // memory stays flat (and near the encoded batches') whatever the size.
    let encodes = !links.has_links();
    let chunk_rows = if encodes {
        batch_size
    } else {
        batch_size.min(READ_CHUNK_ROWS)
    };
    let (sender, receiver) = mpsc::channel::<ReadChunk>(1);
    let reader_progress = Arc::clone(&progress);
    let reader = std::thread::Builder::new()
        .name("pantry-import reader".to_owned())
        .spawn(move || {
            // Each batch is sized by the last one's rows, plus a margin.
            let mut row_bytes = 256;
            let mut chunk = ReadChunk::new(chunk_rows, encodes, row_bytes);
            let mut closed = false;
            let mut stopped_early = false;
            let mut counter = ReadCounter::start(&reader_progress, &mapped);
            let result = mapped.map_rows(|_, mut outcome| {
                counter.row();
                if let (Some((index, label)), Some(record)) = (&near, &outcome.record) {
                    outcome.issues.extend(index.warning(record, label));
                }
                match outcome.record {
                    // Stored by the interrupted run this one resumes.
                    Some(record)
                        if u32::try_from(record.source_row)
                            .is_ok_and(|row| stored.binary_search(&row).is_ok()) => {}
                    Some(record) if encodes => {
                        chunk
                            .encoded
                            .push(description, &record, uuid::Uuid::now_v7(), import_id);
                    }
                    Some(record) => chunk.records.push(record),
                    None if outcome.skipped => chunk.skipped_rows += 1,
                    None => chunk.invalid_rows += 1,
                }
                chunk.issues.extend(outcome.issues);
                if chunk.len() >= chunk_rows {
                    if !chunk.encoded.is_empty() {
                        row_bytes = chunk.encoded.bytes() / chunk.encoded.len() + 32;
                    }
                    let full = std::mem::replace(
                        &mut chunk,
                        ReadChunk::new(chunk_rows, encodes, row_bytes),
                    );
                    if sender.blocking_send(full).is_err() {
                        closed = true;
                        return false;
                    }
                }
                stopped_early = reader_progress.is_cancelled();
                !stopped_early
            });
            counter.end(result.is_ok() && !stopped_early);
            if !closed {
                chunk.end = Some(result.map(|()| !stopped_early));
                let _ = sender.blocking_send(chunk);
            }
        })
        .map_err(|e| ImportError::Database(format!("cannot start the reader: {e}")))?;

    // Links are resolved, and rows encoded, one batch ahead of the load on a
    // connection of their own, so the lookups overlap the COPY in flight.
    // Without links the reader's batches go straight to the loader: a stage
    // between them would only hold two more batches in memory.
    let (mut prepared, preparer) = if links.has_links() {
        let link_client = settings.connect().await?;
        let (prepared_sender, prepared) = mpsc::channel::<PreparedChunk>(1);
        let preparer = tokio::spawn(prepare_chunks(
            links,
            link_client,
            Destination {
                description,
                import_id,
                batch_size,
            },
            receiver,
            prepared_sender,
        ));
        (Incoming::Linked(prepared), Some(preparer))
    } else {
        (Incoming::Encoded(receiver), None)
    };

    let mut issues = header_issues;
    let mut succeeded = 0u64;
    let mut matched = Vec::new();
    // Rows stored, refused or invalid so far: what the report's total covers.
    let mut settled = 0u64;
    let target = LoadTarget {
        statement: copy_statement(description),
        matching: matching(&client, description, options, live_before).await?,
    };
    let end = loop {
        let Some(chunk) = prepared.recv().await else {
            break LoadEnd::Failed("the file reader stopped unexpectedly".to_owned());
        };
        // Cancel takes effect between batches: the one in flight has finished.
        if progress.is_cancelled() {
            break LoadEnd::Cancelled;
        }
        let not_stored = chunk.invalid_rows + chunk.unlinked_rows;
        progress.failed.fetch_add(not_stored, Ordering::Relaxed);
        settled += not_stored + chunk.skipped_rows;
        issues.extend(chunk.issues);
        if !chunk.batch.is_empty() || chunk.unlinked_rows > 0 {
            let rows = chunk.batch.len() as u64;
            let batch = chunk.batch.freeze();
            match load_batch(&client, &target, &batch, import_id, chunk.unlinked_rows).await {
                Ok(result) => {
                    let failed = (result.refusals.len() + result.ambiguous.len()) as u64;
                    let skipped = result
                        .matched
                        .iter()
                        .filter(|m| m.action == MatchAction::Skipped)
                        .count() as u64;
                    let updated = result.matched.len() as u64 - skipped;
                    // Stored or updated: the rows whose data went in.
                    let stored = rows - failed - skipped;
                    succeeded += stored;
                    settled += rows;
                    progress.succeeded.fetch_add(stored, Ordering::Relaxed);
                    progress.failed.fetch_add(failed, Ordering::Relaxed);
                    progress.skipped.fetch_add(skipped, Ordering::Relaxed);
                    progress.updated.fetch_add(updated, Ordering::Relaxed);
                    issues.extend(result.refusals);
                    issues.extend(result.ambiguous);
                    matched.extend(result.matched);
                    progress.batches_done.fetch_add(1, Ordering::Relaxed);
                    progress.wake();
                }
                Err(reason) => break LoadEnd::Failed(reason),
            }
        }
        match chunk.end {
            None => {}
            // Every row read and settled: finished, even if Cancel came
            // while the last batch was loading.
            Some(Ok(true)) => break LoadEnd::Finished,
            Some(Ok(false)) => break LoadEnd::Cancelled,
            Some(Err(error)) => break LoadEnd::Failed(error),
        }
    };
    // Closing the channel stops the linking stage, which stops the reader.
    drop(prepared);
    let created = match preparer {
        Some(preparer) => preparer
            .await
            .map(|links| links.created().to_vec())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let _ = reader.join();
    progress.wake();

    let (status, total_rows) = match &end {
        LoadEnd::Finished => (ImportStatus::Finished, Some(settled + already_stored)),
        LoadEnd::Cancelled => (ImportStatus::Cancelled, None),
        LoadEnd::Failed(_) => (ImportStatus::Failed, None),
    };
    let mut report = ImportReport::new(
        path,
        notices,
        settled + already_stored,
        succeeded + already_stored,
        issues,
        matches!(end, LoadEnd::Cancelled),
        started.elapsed(),
    );
    report.entity = entity;
    report.sheet = (!sheet_name.is_empty()).then_some(sheet_name);
    report.import_id = Some(import_id);
    report.already_stored = already_stored;
    report.header_row = Some(header_row);
    report.created_links = created;
    report.add_matched(matched);
    // When the connection is gone this fails too; the import then stays
    // 'running' in the history and the next run resumes it.
    let closed = history::finish(
        &client,
        entity,
        import_id,
        status,
        total_rows,
        report.failed,
    )
    .await;
    match end {
        LoadEnd::Finished | LoadEnd::Cancelled => match closed {
            Ok(()) => Ok(report),
            Err(error) => Err(ImportError::Interrupted {
                reason: error.to_string(),
                report: Box::new(report),
            }),
        },
        LoadEnd::Failed(reason) => Err(ImportError::Interrupted {
            reason,
            report: Box::new(report),
        }),
    }
}

/// Checks the entity's table has every column the import writes (and the
/// link lookups need) before any row is sent.
pub async fn ensure_schema(
    client: &tokio_postgres::Client,
    entity: Entity,
) -> Result<(), ImportError> {
    let description = entity.description();
    let wanted: Vec<&str> = description.copy_columns();
    let row = client
        .query_typed_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = ANY($2)",
            &[
                (&description.table, Type::TEXT),
                (&wanted, Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(|e| ImportError::Database(database_reason(&e)))?;
    let found: i64 = row.get(0);
    // Links and duplicates are matched by pantry_match_key, and the history
    // keeps what each import did with duplicates (migration V6).
    let history_ready = client
        .query_typed_one(
            "SELECT to_regprocedure('pantry_match_key(text)') IS NOT NULL \
             AND to_regclass('import_matches') IS NOT NULL \
             AND (SELECT count(*) = 5 FROM information_schema.columns \
                  WHERE table_schema = current_schema() AND table_name = 'import_batches' \
                  AND column_name IN ('run_id', 'mapping', 'skipped', 'updated', 'on_duplicate'))",
            &[],
        )
        .await
        .map_err(|e| ImportError::Database(database_reason(&e)))?
        .get::<_, bool>(0);
    if usize::try_from(found).is_ok_and(|f| f == wanted.len()) && history_ready {
        Ok(())
    } else {
        Err(ImportError::NotMigrated { entity })
    }
}

/// What the linking stage hands the loader: a batch ready to send.
struct PreparedChunk {
    batch: CopyBatch,
    issues: Vec<RowIssue>,
    /// Rows that failed their mapping.
    invalid_rows: u64,
    /// Totals rows, passed over with a warning.
    skipped_rows: u64,
    /// Rows whose links failed (not found, ambiguous).
    unlinked_rows: u64,
    /// In the last message: how reading (or linking) ended.
    end: Option<Result<bool, String>>,
}

/// Where prepared rows go: the entity's table, in one import, in batches.
struct Destination {
    description: &'static EntityDescription,
    import_id: i64,
    batch_size: usize,
}

impl PreparedChunk {
    fn new(rows: usize) -> PreparedChunk {
        PreparedChunk {
            batch: CopyBatch::with_capacity(rows),
            issues: Vec::new(),
            invalid_rows: 0,
            skipped_rows: 0,
            unlinked_rows: 0,
            end: None,
        }
    }
}

/// Where the loader's batches come from: the reader itself (rows of an
/// entity without links, encoded as they were read), or the linking stage.
enum Incoming {
    Encoded(mpsc::Receiver<ReadChunk>),
    Linked(mpsc::Receiver<PreparedChunk>),
}

impl Incoming {
    async fn recv(&mut self) -> Option<PreparedChunk> {
        match self {
            Incoming::Encoded(chunks) => chunks.recv().await.map(|chunk| PreparedChunk {
                batch: chunk.encoded,
                issues: chunk.issues,
                invalid_rows: chunk.invalid_rows,
                skipped_rows: chunk.skipped_rows,
                unlinked_rows: 0,
                end: chunk.end.map(|result| result.map_err(|e| e.to_string())),
            }),
            Incoming::Linked(prepared) => prepared.recv().await,
        }
    }
}

/// The linking stage: resolves the links of each chunk the reader sends
/// (on `client`; one query per linked entity and chunk), encodes the rows
/// that keep them, and hands the loader a batch once it holds `batch_size`
/// rows. Returns the resolver, which knows the organizations it created.
async fn prepare_chunks(
    mut links: LinkResolver,
    client: tokio_postgres::Client,
    to: Destination,
    mut input: mpsc::Receiver<ReadChunk>,
    output: mpsc::Sender<PreparedChunk>,
) -> LinkResolver {
    let mut prepared = PreparedChunk::new(to.batch_size);
    while let Some(chunk) = input.recv().await {
        prepared.issues.extend(chunk.issues);
        prepared.invalid_rows += chunk.invalid_rows;
        prepared.skipped_rows += chunk.skipped_rows;
        prepared.end = chunk.end.map(|result| result.map_err(|e| e.to_string()));
        let records = if chunk.records.is_empty() {
            chunk.records
        } else {
            match links.resolve(&client, to.import_id, chunk.records).await {
                Ok(resolved) => {
                    prepared.issues.extend(resolved.issues);
                    prepared.unlinked_rows += resolved.failed;
                    resolved.records
                }
                Err(error) => {
                    prepared.end = Some(Err(fatal_reason(&error)));
                    let _ = output.send(prepared).await;
                    return links;
                }
            }
        };
        for record in &records {
            prepared
                .batch
                .push(to.description, record, uuid::Uuid::now_v7(), to.import_id);
        }
        prepared.batch.append(chunk.encoded);
        let last = prepared.end.is_some();
        if last || prepared.batch.len() >= to.batch_size {
            let full = std::mem::replace(&mut prepared, PreparedChunk::new(to.batch_size));
            if output.send(full).await.is_err() || last {
                return links;
            }
        }
    }
    links
}

/// What ends an import rather than a row: a refusal of the whole import
/// (such as a missing privilege) or a lost connection.
fn fatal_reason(error: &tokio_postgres::Error) -> String {
    if error.as_db_error().is_some() {
        format!(
            "the database refused the import: {}",
            database_reason(error)
        )
    } else {
        format!(
            "the connection to the database was lost ({}); run the same import again to resume it",
            database_reason(error)
        )
    }
}

/// How the import matches rows against the CRM, or `None` when every row is
/// created (the policy is create, and no row was decided otherwise).
async fn matching(
    client: &tokio_postgres::Client,
    description: &'static EntityDescription,
    options: &ImportOptions,
    live_before: bool,
) -> Result<Option<Matching>, ImportError> {
    let choices = &options.edits.duplicate_choices;
    if options.on_duplicate == DuplicatePolicy::Create
        && choices.values().all(|p| *p == DuplicatePolicy::Create)
    {
        return Ok(None);
    }
    refresh_statistics(client, description).await?;
    Ok(Some(Matching {
        statements: StagedStatements::new(description),
        policy: options.on_duplicate,
        chosen_rows: choices
            .keys()
            .map(|row| i32::try_from(*row).unwrap_or(i32::MAX))
            .collect(),
        chosen_policies: choices.values().map(|p| p.as_str().to_owned()).collect(),
        live_before,
        entity: description.entity,
    }))
}

/// The CRM's organizations by the keys near-duplicates are found by, and
/// the sheet's name column that warnings name; `None` for other entities.
async fn near_duplicates(
    client: &tokio_postgres::Client,
    columns: &ColumnMap,
) -> Result<Option<(NearDuplicates, String)>, ImportError> {
    if columns.entity() != Entity::Organizations {
        return Ok(None);
    }
    let index = NearDuplicates::load(client)
        .await
        .map_err(|e| ImportError::Database(database_reason(&e)))?;
    let label = columns
        .column_of_field("name")
        .map_or_else(|| "name".to_owned(), |c| columns.label(c));
    Ok(Some((index, label)))
}

/// Whether the CRM holds live records of the entity other than the rows
/// this import stored (when it resumes).
async fn live_records(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
    import_id: i64,
) -> Result<bool, ImportError> {
    // The table is the description's own, never the user's.
    Ok(client
        .query_typed_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE deleted_at IS NULL \
                 AND import_batch_id IS DISTINCT FROM $1)",
                description.table
            ),
            &[(&import_id, Type::INT8)],
        )
        .await
        .map_err(|e| ImportError::Database(database_reason(&e)))?
        .get(0))
}

/// Gives the planner the table's statistics when it has none, or when a
/// fifth of its rows changed since: without them it takes a freshly loaded
/// table for an empty one and matches each row by reading every record
/// (15,000 records matched in batches of 500 took 9.5 minutes; with
/// statistics, under a second). ANALYZE reads a sample, about a second for a
/// million rows; a role that may not analyze the table gets a warning from
/// the server, not an error, and the import goes on.
async fn refresh_statistics(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
) -> Result<(), ImportError> {
    let stale: bool = client
        .query_typed_one(
            "SELECT coalesce((SELECT (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) \
                 OR s.n_mod_since_analyze > greatest(c.reltuples, 0) * 0.2 \
               FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
               WHERE s.relid = to_regclass($1)), true)",
            &[(&description.table, Type::TEXT)],
        )
        .await
        .map_err(|e| ImportError::Database(database_reason(&e)))?
        .get(0);
    if stale {
        // The table name is the description's own, never the user's.
        client
            .batch_execute(&format!("ANALYZE {}", description.table))
            .await
            .map_err(|e| ImportError::Database(database_reason(&e)))?;
    }
    Ok(())
}

/// Where a batch goes: straight into the entity's table, or, when rows may
/// match records already in the CRM, through the staging table
/// ([`crate::duplicates`]).
struct LoadTarget {
    /// COPY into the entity's table.
    statement: String,
    /// `None` when nothing is matched (the policy is create, row by row too).
    matching: Option<Matching>,
}

/// How an import matches its rows against the CRM.
struct Matching {
    statements: StagedStatements,
    policy: DuplicatePolicy,
    /// Rows the broker decided for, and their policies.
    chosen_rows: Vec<i32>,
    chosen_policies: Vec<String>,
    /// Whether the CRM held live records of the entity (other than this
    /// import's) when the import started; if not, and no other import of
    /// the entity has run since, a batch goes straight into the table.
    live_before: bool,
    entity: Entity,
}

/// A row the staging table matched, as the database reports it: row,
/// action, the records, how they show.
type StagedMatch = (i32, String, Vec<uuid::Uuid>, Vec<String>);

/// What one batch came to.
#[derive(Default)]
struct BatchResult {
    /// Rows the database refused, each with its reason.
    refusals: Vec<RowIssue>,
    /// Rows that matched a CRM record, skipped or updated.
    matched: Vec<MatchedRow>,
    /// Rows that matched several records and could not be updated.
    ambiguous: Vec<RowIssue>,
}

/// Loads one batch. A batch the database refuses is split in halves until
/// the refused rows stand alone, so only they fail, each with the database's
/// reason. A broken connection, or a refusal of the whole import (such as a
/// missing privilege), ends the import. `already_failed` rows of the batch
/// (their links) are added to the history's count with the refusals.
async fn load_batch(
    client: &tokio_postgres::Client,
    target: &LoadTarget,
    batch: &ReadyBatch,
    import_id: i64,
    already_failed: u64,
) -> Result<BatchResult, String> {
    let mut result = BatchResult::default();
    let mut pending = Vec::new();
    if !batch.is_empty() {
        pending.push(0..batch.len());
    }
    while let Some(rows) = pending.pop() {
        match copy_rows(client, target, batch, rows.clone(), import_id).await {
            Ok(matches) => {
                let entity = target
                    .matching
                    .as_ref()
                    .map_or(Entity::Organizations, |m| m.entity);
                for (row, action, ids, shown) in matches {
                    let row = u64::try_from(row).unwrap_or_default();
                    let message = match_message(&action, &shown, entity.name());
                    match action.as_str() {
                        "ambiguous" => {
                            result
                                .ambiguous
                                .push(RowIssue::error(row, String::new(), message))
                        }
                        _ => result.matched.push(MatchedRow {
                            row,
                            action: if action == "updated" {
                                MatchAction::Updated
                            } else {
                                MatchAction::Skipped
                            },
                            record: ids.first().copied().unwrap_or_default(),
                            message,
                        }),
                    }
                }
            }
            Err(error) if is_row_refusal(&error) && !client.is_closed() => {
                if rows.len() == 1 {
                    result.refusals.push(RowIssue {
                        row: batch.source_rows()[rows.start],
                        column: String::new(),
                        message: format!(
                            "The database refused the row: {}",
                            database_reason(&error)
                        ),
                        severity: Severity::Error,
                    });
                } else {
                    let middle = rows.start + rows.len() / 2;
                    // Later half first on the stack so rows settle in order.
                    pending.push(middle..rows.end);
                    pending.push(rows.start..middle);
                }
            }
            Err(error) => return Err(fatal_reason(&error)),
        }
    }
    let failed = result.refusals.len() as u64 + already_failed;
    if failed > 0 {
        history::record_batch(client, import_id, 0, failed)
            .await
            .map_err(|e| fatal_reason(&e))?;
    }
    Ok(result)
}

/// One transaction: the rows, what they did to matching records, and the
/// import's counts move together, so the history never disagrees with the
/// tables. Statements are pipelined so a batch costs three round trips (each
/// is 30 ms to a far database): BEGIN, the entity's lock, the look for other
/// imports and the COPY's preparation travel together; then the COPY; then
/// its end, the matching and the COMMIT (after a refused statement,
/// PostgreSQL answers that COMMIT with a rollback). Statements are prepared
/// and the staging table made inside the transaction, which keeps
/// transaction-mode poolers happy.
async fn copy_rows(
    client: &tokio_postgres::Client,
    target: &LoadTarget,
    batch: &ReadyBatch,
    rows: std::ops::Range<usize>,
    import_id: i64,
) -> Result<Vec<StagedMatch>, tokio_postgres::Error> {
    let count = rows.len() as u64;
    let copied = async {
        let staged = match &target.matching {
            None => None,
            Some(matching) => {
                let entity = matching.entity.name();
                let lock_params: [(&(dyn ToSql + Sync), Type); 1] = [(&entity, Type::TEXT)];
                let table = matching.statements.table;
                let look_params: [(&(dyn ToSql + Sync), Type); 3] = [
                    (&entity, Type::TEXT),
                    (&import_id, Type::INT8),
                    (&table, Type::TEXT),
                ];
                // The look is its own statement, after the lock: its snapshot
                // then holds every batch committed under the lock before. It
                // also tells whether the table has more than doubled since
                // the planner's statistics were taken.
                let (begun, locked, others, created, prepared, prepared_stage) = tokio::join!(
                    client.batch_execute("BEGIN"),
                    client.query_typed(
                        "SELECT pg_advisory_xact_lock(hashtext('pantry-import ' || $1::text)::bigint)::text",
                        &lock_params,
                    ),
                    client.query_typed_one(
                        "SELECT EXISTS (SELECT 1 FROM import_batches o WHERE o.entity = $1 AND o.id <> $2 \
                         AND (o.status = 'running' OR o.finished_at >= \
                         (SELECT started_at FROM import_batches WHERE id = $2))), \
                         (SELECT pg_relation_size(c.oid) / current_setting('block_size')::int > 2 * c.relpages + 8 \
                          FROM pg_class c WHERE c.oid = to_regclass($3))",
                        &look_params,
                    ),
                    client.batch_execute(&matching.statements.create_stage),
                    client.prepare(&target.statement),
                    client.prepare(&matching.statements.copy_stage),
                );
                begun?;
                locked?;
                created?;
                let others = others?;
                let (grown, others): (Option<bool>, bool) = (others.get(1), others.get(0));
                let (direct, stage) = (prepared?, prepared_stage?);
                // Nothing in the CRM to match: straight into the table.
                if matching.live_before || others {
                    if grown == Some(true) {
                        // Another import is filling the table: without new
                        // statistics the planner takes it for empty and
                        // matches each row by reading every record.
                        client.batch_execute(&format!("ANALYZE {table}")).await?;
                    }
                    Some((matching, stage))
                } else {
                    let sink = client.copy_in::<_, bytes::Bytes>(&direct).await?;
                    return send_and_commit(client, sink, batch, rows, import_id, count).await;
                }
            }
        };
        let Some((matching, stage)) = staged else {
            let (begun, prepared) =
                tokio::join!(client.batch_execute("BEGIN"), client.prepare(&target.statement));
            begun?;
            let sink = client.copy_in::<_, bytes::Bytes>(&prepared?).await?;
            return send_and_commit(client, sink, batch, rows, import_id, count).await;
        };
        let sink = client.copy_in::<_, bytes::Bytes>(&stage).await?;
        let mut sink = std::pin::pin!(sink);
        let [header, tuples, trailer] = batch.payload(rows.clone());
        sink.feed(header).await?;
        sink.feed(tuples).await?;
        sink.send(trailer).await?;
        let source_rows: Vec<i32> = batch.source_rows()[rows.clone()]
            .iter()
            .map(|r| i32::try_from(*r).unwrap_or(i32::MAX))
            .collect();
        let given = &batch.given()[rows];
        let policy = matching.policy.as_str();
        let statements = &matching.statements;
        let import: [(&(dyn ToSql + Sync), Type); 1] = [(&import_id, Type::INT8)];
        let decide: [(&(dyn ToSql + Sync), Type); 3] = [
            (&matching.chosen_rows, Type::INT4_ARRAY),
            (&matching.chosen_policies, Type::TEXT_ARRAY),
            (&policy, Type::TEXT),
        ];
        let update: [(&(dyn ToSql + Sync), Type); 2] =
            [(&source_rows, Type::INT4_ARRAY), (&given, Type::INT8_ARRAY)];
        let (finished, planned, matched, decided, inserted, recorded, updated, counted, report, committed) = tokio::join!(
            sink.as_mut().finish(),
            // Every record is reached through an index condition, whatever
            // the table's statistics say: a table loaded by a running import
            // looks empty to the planner, which then reads every record for
            // every row (two imports at once took minutes per batch).
            client.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"),
            client.execute_typed(&statements.matched, &import),
            client.execute_typed(&statements.decided, &decide),
            client.execute_typed(&statements.insert, &[]),
            client.execute_typed(&statements.record_matches, &import),
            client.execute_typed(&statements.update, &update),
            client.execute_typed(&statements.counts, &import),
            client.query_typed(&statements.report, &[]),
            client.batch_execute("COMMIT"),
        );
        finished?;
        planned?;
        matched?;
        decided?;
        inserted?;
        recorded?;
        updated?;
        counted?;
        let report = report?;
        committed?;
        Ok(report
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect())
    }
    .await;
    if copied.is_err() && !client.is_closed() {
        // Leave the connection usable for the next batch or bisection step;
        // the server rolls back a dead session's transaction by itself.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    copied
}

/// The COPY of `rows` straight into the entity's table, its count in the
/// import's history, and the COMMIT: the last two round trips of a batch.
async fn send_and_commit(
    client: &tokio_postgres::Client,
    sink: tokio_postgres::CopyInSink<bytes::Bytes>,
    batch: &ReadyBatch,
    rows: std::ops::Range<usize>,
    import_id: i64,
    count: u64,
) -> Result<Vec<StagedMatch>, tokio_postgres::Error> {
    let mut sink = std::pin::pin!(sink);
    let [header, tuples, trailer] = batch.payload(rows);
    sink.feed(header).await?;
    sink.feed(tuples).await?;
    sink.send(trailer).await?;
    let (finished, counted, committed) = tokio::join!(
        sink.as_mut().finish(),
        history::record_batch(client, import_id, count, 0),
        client.batch_execute("COMMIT"),
    );
    finished?;
    counted?;
    committed?;
    Ok(Vec::new())
}

/// Whether the database refused the rows themselves (bad data, a constraint,
/// a trigger), as opposed to the whole import (privileges, missing table).
fn is_row_refusal(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        let code = db.code().code();
        // 22 data exception, 23 integrity constraint, P0 raised by a trigger,
        // 54 program limit (a value too large for an index).
        ["22", "23", "P0", "54"]
            .iter()
            .any(|class| code.starts_with(class))
    })
}

/// What a duplicate scan found: the file's rows that match records already
/// in the CRM, and those that nearly match one.
#[derive(Debug, Clone, Default)]
pub struct DuplicateScan {
    /// Rows read.
    pub rows: u64,
    /// Rows that match, by row.
    pub matches: Vec<CrmMatch>,
    /// Rows that nearly match a record (warnings naming it).
    pub near: Vec<RowIssue>,
    /// Wall time.
    pub elapsed: Duration,
}

/// A row and the record(s) it matches, with what an update would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmMatch {
    /// Spreadsheet row number.
    pub row: u64,
    /// The records it matches, as they show (several: an update cannot
    /// tell which).
    pub records: Vec<String>,
    /// Per stored field the row fills: the field, the CRM's value, the
    /// file's, and whether an update would change it.
    pub fields: Vec<FieldComparison>,
}

/// One field of a matched row beside the record's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldComparison {
    /// The field's column.
    pub field: &'static str,
    /// The record's value, as text (empty when NULL).
    pub crm: String,
    /// The file's value, as it would be stored.
    pub file: String,
    /// Whether an update would write it.
    pub changes: bool,
}

/// Rows a scan reads and matches at a time.
const SCAN_CHUNK_ROWS: usize = 20_000;

/// Finds which rows of the file match records already in the CRM, before
/// anything is imported: each chunk of rows is copied into a staging table
/// and matched as an import would (one index probe per row), inside a
/// transaction that is rolled back, so the CRM is never changed. Link names
/// are looked up but never created.
pub async fn scan_duplicates(
    path: &Path,
    settings: &ConnectionSettings,
    options: &ImportOptions,
) -> Result<DuplicateScan, ImportError> {
    let started = Instant::now();
    let open_path = path.to_path_buf();
    let (sheet, entity) = (options.sheet.clone(), options.entity);
    let (mapping, edits) = (options.mapping.clone(), options.edits.clone());
    let mapped = tokio::task::spawn_blocking(move || {
        open_sheet(&open_path, sheet.as_deref(), entity, &mapping).map(|m| m.with_edits(&edits))
    })
    .await
    .map_err(|e| ImportError::Database(format!("the reader stopped: {e}")))??;
    let entity = mapped.entity();
    let description = entity.description();
    let client = settings.connect().await?;
    ensure_schema(&client, entity).await?;
    let mut scan = DuplicateScan::default();
    if !live_records(&client, description, -1).await? {
        scan.elapsed = started.elapsed();
        return Ok(scan);
    }
    refresh_statistics(&client, description).await?;
    let near = near_duplicates(&client, mapped.columns()).await?;
    let mut links = {
        let columns = mapped.columns();
        // Names the CRM lacks stay empty: a scan creates nothing.
        let policies = LinkPolicies {
            all: Some(crate::links::LinkPolicy::Empty),
            ..options.links.clone()
        };
        LinkResolver::new(entity, &policies, |field| {
            columns
                .column_of_field(field.column)
                .map_or_else(|| field.label.to_owned(), |i| columns.label(i))
        })
    };
    let (sender, mut receiver) = mpsc::channel::<Vec<Record>>(1);
    let reader = std::thread::Builder::new()
        .name("pantry-import scan".to_owned())
        .spawn(move || {
            let mut mapped = mapped;
            let mut chunk = Vec::with_capacity(SCAN_CHUNK_ROWS);
            let read = mapped.map_rows(|_, outcome| {
                if let Some(record) = outcome.record {
                    chunk.push(record);
                }
                if chunk.len() >= SCAN_CHUNK_ROWS {
                    let full = std::mem::take(&mut chunk);
                    return sender.blocking_send(full).is_ok();
                }
                true
            });
            if !chunk.is_empty() {
                let _ = sender.blocking_send(chunk);
            }
            read
        })
        .map_err(|e| ImportError::Database(format!("cannot start the reader: {e}")))?;
    let statements = StagedStatements::new(description);
    let stored: Vec<&'static str> = description.stored_fields().map(|f| f.column).collect();
    while let Some(records) = receiver.recv().await {
        scan.rows += records.len() as u64;
        if let Some((index, label)) = &near {
            scan.near
                .extend(records.iter().filter_map(|r| index.warning(r, label)));
        }
        let records = links
            .resolve(&client, 0, records)
            .await
            .map_err(|e| ImportError::Database(database_reason(&e)))?
            .records;
        let mut batch = CopyBatch::with_capacity(records.len());
        for record in &records {
            batch.push(description, record, uuid::Uuid::now_v7(), -1);
        }
        let batch = batch.freeze();
        let found = scan_batch(&client, &statements, &batch)
            .await
            .map_err(|e| ImportError::Database(database_reason(&e)))?;
        for (row, records, file, crm) in found {
            // Rows are staged in the file's order.
            let Ok(position) = batch.source_rows().binary_search(&row) else {
                continue;
            };
            let given = batch.given()[position];
            let fields = stored
                .iter()
                .enumerate()
                .filter(|(bit, _)| (given >> bit) & 1 == 1)
                .map(|(_, column)| {
                    let text = |json: &serde_json::Value| match &json[*column] {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    let (crm, file) = (text(&crm), text(&file));
                    FieldComparison {
                        field: column,
                        changes: crate::duplicates::update_writes(description, column, &crm, &file),
                        crm,
                        file,
                    }
                })
                .collect();
            scan.matches.push(CrmMatch {
                row,
                records,
                fields,
            });
        }
    }
    reader
        .join()
        .map_err(|_| ImportError::Database("the reader stopped unexpectedly".to_owned()))??;
    scan.matches.sort_by_key(|m| m.row);
    scan.near.sort_by_key(|n| n.row);
    scan.elapsed = started.elapsed();
    Ok(scan)
}

/// One chunk of a scan: staged, matched, each match's row and record as
/// JSON, and rolled back. Returns row, the records as they show, the staged
/// row and the first record.
async fn scan_batch(
    client: &tokio_postgres::Client,
    statements: &StagedStatements,
    batch: &ReadyBatch,
) -> Result<Vec<(u64, Vec<String>, serde_json::Value, serde_json::Value)>, tokio_postgres::Error> {
    let table = statements.table;
    let shown = statements.shown;
    let scanned = async {
        let (begun, created, prepared) = tokio::join!(
            client.batch_execute("BEGIN READ WRITE"),
            client.batch_execute(&statements.create_stage),
            client.prepare(&statements.copy_stage),
        );
        begun?;
        created?;
        let sink = client.copy_in::<_, bytes::Bytes>(&prepared?).await?;
        let mut sink = std::pin::pin!(sink);
        let [header, tuples, trailer] = batch.payload(0..batch.len());
        sink.feed(header).await?;
        sink.feed(tuples).await?;
        sink.send(trailer).await?;
        let import: i64 = -1;
        let params: [(&(dyn ToSql + Sync), Type); 1] = [(&import, Type::INT8)];
        let report = format!(
            "SELECT m.source_row, \
             ARRAY(SELECT {shown} FROM {table} x WHERE x.id = ANY(m.ids) ORDER BY x.created_at, x.id LIMIT 3), \
             to_jsonb(s)::text, \
             (SELECT to_jsonb(t) FROM {table} t WHERE t.id = m.ids[1])::text \
             FROM pantry_matched m JOIN pantry_stage s ON s.import_source_row = m.source_row ORDER BY 1"
        );
        let (finished, planned, matched, rows) = tokio::join!(
            sink.as_mut().finish(),
            client.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"),
            client.execute_typed(&statements.matched, &params),
            client.query_typed(&report, &[]),
        );
        finished?;
        planned?;
        matched?;
        rows
    }
    .await;
    // Nothing a scan did stays: the staging table goes with the rollback.
    let _ = client.batch_execute("ROLLBACK").await;
    Ok(scanned?
        .iter()
        .map(|row| {
            let source: i32 = row.get(0);
            let json = |i: usize| {
                row.get::<_, Option<String>>(i)
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default()
            };
            (
                u64::try_from(source).unwrap_or(0),
                row.get(1),
                json(2),
                json(3),
            )
        })
        .collect())
}
