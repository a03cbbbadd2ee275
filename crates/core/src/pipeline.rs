//! The one read–link–load loop behind `check`, `import` and the look for a
//! file's rows in the CRM.
//!
//! - [`read_rows`] reads and maps every row of an opened sheet, counting
//!   each on the sheet's progress; a check counts what it hands back.
//! - [`spawn_reader`] runs it on a thread of its own and hands over the
//!   records in chunks (already encoded for `COPY` when the entity has no
//!   links), at most one chunk ahead, so memory stays flat.
//! - [`spawn_linker`] resolves each chunk's link names on a connection of
//!   its own and encodes the rows, so the lookups overlap the batch in
//!   flight.
//! - [`drain`] hands each batch to a [`BatchSink`]: the import's loader
//!   ([`crate::staging::LoadSink`]) or the read-only scan
//!   ([`crate::staging::ScanSink`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use crate::copy_format::{CopyBatch, ReadyBatch};
use crate::duplicates::{MatchedRow, NearDuplicates};
use crate::import::ImportError;
use crate::links::{LinkPolicies, LinkResolver};
use crate::mapping::{MappedSheet, Record, RowCounts, RowFate, RowIssue, RowOutcome};
use crate::progress::{ImportProgress, ReadCounter};
use crate::report::SheetReport;
use crate::run::SheetPlan;
use crate::spreadsheet::{FileNotice, ReadError};

/// Records the reader hands over at a time (their links are looked up
/// together). Smaller than a batch because a record in memory weighs several
/// times its encoded row.
pub(crate) const READ_CHUNK_ROWS: usize = 5_000;

/// Opens a planned sheet of `file`: the sheet as its entity, with the
/// broker's mapping and edits. A header that lacks a required column stops
/// here, naming it.
pub(crate) fn open_planned(file: &Path, plan: &SheetPlan) -> Result<MappedSheet, ImportError> {
    let mapped = MappedSheet::open_with(file, plan.sheet.as_deref(), plan.entity, &plan.mapping)?
        .with_edits(&plan.edits);
    if let Some(fatal) = mapped.fatal_issue() {
        return Err(ImportError::Sheet {
            path: file.to_path_buf(),
            problems: vec![format!("row {}: {}", fatal.row, fatal.message)],
        });
    }
    Ok(mapped)
}

/// Reads every row of `mapped`, counting each on `progress`, and hands its
/// outcome to `each`, which returns `false` to stop. Stops too when the
/// progress is cancelled. `Ok(true)`: every row was read.
pub(crate) fn read_rows(
    mapped: &mut MappedSheet,
    progress: &ImportProgress,
    mut each: impl FnMut(RowOutcome) -> bool,
) -> Result<bool, ReadError> {
    let mut counter = ReadCounter::start(progress, mapped);
    let mut stopped = false;
    let read = mapped.map_rows(|_, outcome| {
        counter.row();
        stopped = !each(outcome) || progress.is_cancelled();
        !stopped
    });
    counter.end(read.is_ok() && !stopped);
    read.map(|()| !stopped)
}

/// The check of one opened sheet, with no database: what an import would
/// do (`succeeded` = would import). `each` sees every record that would be
/// stored (a workbook's check collects the names later sheets link to).
pub(crate) fn check_sheet(
    file: &Path,
    mut mapped: MappedSheet,
    progress: &ImportProgress,
    mut each: impl FnMut(&Record),
) -> Result<SheetReport, ImportError> {
    let started = std::time::Instant::now();
    let mut issues = mapped.header_issues().to_vec();
    let mut counts = RowCounts::default();
    read_rows(&mut mapped, progress, |outcome| {
        counts.add(&outcome.fate);
        match &outcome.fate {
            RowFate::Record(record) => {
                each(record);
                progress.succeeded.fetch_add(1, Ordering::Relaxed);
            }
            RowFate::Failed => {
                progress.failed.fetch_add(1, Ordering::Relaxed);
            }
            RowFate::TotalsRow | RowFate::Removed => {}
        }
        issues.extend(outcome.issues);
        true
    })?;
    let mut notices = mapped.notices().to_vec();
    notices.extend(mapped.read_notices());
    let columns = mapped.columns().uses();
    let report = SheetReport::new(
        file,
        notices,
        counts.rows,
        counts.records,
        issues,
        progress.is_cancelled(),
        started.elapsed(),
    )
    .of_sheet(
        mapped.entity(),
        mapped.spreadsheet().sheet().map(str::to_owned),
        Some(mapped.spreadsheet().header_row()),
    );
    Ok(SheetReport { columns, ..report })
}

/// What the reading thread sends on: a chunk of records, the issues of the
/// rows read since the last chunk, and, in the last chunk, how reading ended.
pub(crate) struct ReadChunk {
    /// Records whose links the next stage resolves.
    pub records: Vec<Record>,
    /// Rows of an entity without links, encoded by the reader itself so
    /// the async side only ships bytes.
    pub encoded: CopyBatch,
    /// The rows' problems.
    pub issues: Vec<RowIssue>,
    /// Warnings of rows that nearly match a CRM record.
    pub near: Vec<RowIssue>,
    /// Rows read, by their fate (records an interrupted run stored before
    /// are counted as records, and left out of the chunk).
    pub counts: RowCounts,
    /// In the last chunk: whether every row was read (`false`: stopped).
    pub end: Option<Result<bool, ReadError>>,
}

impl ReadChunk {
    fn new(rows: usize, encodes: bool, row_bytes: usize) -> ReadChunk {
        ReadChunk {
            records: Vec::with_capacity(if encodes { 0 } else { rows }),
            encoded: CopyBatch::with_room(if encodes { rows } else { 0 }, row_bytes),
            issues: Vec::new(),
            near: Vec::new(),
            counts: RowCounts::default(),
            end: None,
        }
    }

    fn len(&self) -> usize {
        self.records.len() + self.encoded.len()
    }
}

/// How the reader works through a sheet for an import or a scan.
pub(crate) struct ReaderPlan {
    /// Rows a chunk holds.
    pub chunk_rows: usize,
    /// Encode the records as they are read (an entity without links): the
    /// chunk's `encoded`, as rows of this import.
    pub encode_for: Option<i64>,
    /// Source rows an interrupted run of this import stored, sorted: not
    /// sent again.
    pub stored: Vec<u32>,
    /// The CRM's organizations, for the near-duplicate warnings, and the
    /// label warnings give the name column.
    pub near: Option<(NearDuplicates, String)>,
    /// The CRM's users, for the manager ids of the records.
    pub managers: Option<crate::users::ManagerResolver>,
    /// A sync's say on each record: `false` leaves it out, unchanged since
    /// the sync's last pass (it may also narrow the fields an update writes).
    pub gate: Option<crate::sync::SheetGate>,
}

/// Reads `mapped` on a thread of its own and sends its rows in chunks, at
/// most one chunk ahead of whoever receives them. The thread ends with what
/// reading found to say about the whole sheet ([`MappedSheet::read_notices`]).
pub(crate) fn spawn_reader(
    mut mapped: MappedSheet,
    progress: Arc<ImportProgress>,
    plan: ReaderPlan,
) -> Result<
    (
        mpsc::Receiver<ReadChunk>,
        std::thread::JoinHandle<Vec<FileNotice>>,
    ),
    ImportError,
> {
    let (sender, receiver) = mpsc::channel::<ReadChunk>(1);
    let reader = std::thread::Builder::new()
        .name("pantry-import reader".to_owned())
        .spawn(move || {
            let mut plan = plan;
            let encodes = plan.encode_for.is_some();
            // Each batch is sized by the last one's rows, plus a margin.
            let mut row_bytes = 256;
            let mut chunk = ReadChunk::new(plan.chunk_rows, encodes, row_bytes);
            let mut closed = false;
            let result = read_rows(&mut mapped, &progress, |outcome| {
                chunk.counts.add(&outcome.fate);
                if let (Some((index, label)), Some(record)) = (&plan.near, outcome.record()) {
                    chunk.near.extend(index.warning(record, label));
                }
                if let RowFate::Record(mut record) = outcome.fate {
                    if let Some(managers) = &mut plan.managers {
                        managers.fill(&mut record);
                    }
                    let stored_before = u32::try_from(record.source_row)
                        .is_ok_and(|row| plan.stored.binary_search(&row).is_ok());
                    let unchanged = plan.gate.as_mut().is_some_and(|gate| !gate(&mut record));
                    if unchanged {
                        chunk.counts.records -= 1;
                        chunk.counts.unchanged += 1;
                    }
                    match plan.encode_for {
                        _ if stored_before || unchanged => {}
                        Some(import_id) => {
                            chunk.encoded.push(&record, uuid::Uuid::now_v7(), import_id);
                        }
                        None => chunk.records.push(record),
                    }
                }
                chunk.issues.extend(outcome.issues);
                if chunk.len() >= plan.chunk_rows {
                    if !chunk.encoded.is_empty() {
                        row_bytes = chunk.encoded.bytes() / chunk.encoded.len() + 32;
                    }
                    let full = std::mem::replace(
                        &mut chunk,
                        ReadChunk::new(plan.chunk_rows, encodes, row_bytes),
                    );
                    if sender.blocking_send(full).is_err() {
                        closed = true;
                        return false;
                    }
                }
                true
            });
            if !closed {
                chunk.end = Some(result);
                let _ = sender.blocking_send(chunk);
            }
            let mut notices = mapped.read_notices();
            if let Some(managers) = &plan.managers {
                notices.extend(managers.notices());
            }
            notices
        })
        .map_err(ImportError::Thread)?;
    Ok((receiver, reader))
}

/// What the loader takes: a batch ready to send, with the rows read since
/// the last one.
pub(crate) struct PreparedChunk {
    /// Rows whose links are resolved, encoded.
    pub batch: CopyBatch,
    /// The rows' problems, near-duplicates among them.
    pub issues: Vec<RowIssue>,
    /// Near-duplicate warnings, apart (a scan lists them).
    pub near: Vec<RowIssue>,
    /// Rows read, by their fate.
    pub counts: RowCounts,
    /// Rows whose links failed (not found, ambiguous).
    pub unlinked_rows: u64,
    /// In the last message: how reading (or linking) ended.
    pub end: Option<Result<bool, ImportError>>,
}

impl PreparedChunk {
    fn new(rows: usize) -> PreparedChunk {
        PreparedChunk {
            batch: CopyBatch::with_capacity(rows),
            issues: Vec::new(),
            near: Vec::new(),
            counts: RowCounts::default(),
            unlinked_rows: 0,
            end: None,
        }
    }

    fn take(&mut self, chunk: ReadChunk) -> Vec<Record> {
        self.issues.extend(chunk.issues);
        self.near.extend(chunk.near);
        self.counts = self.counts.plus(chunk.counts);
        self.end = chunk.end.map(|end| end.map_err(ImportError::from));
        self.batch.append(chunk.encoded);
        chunk.records
    }
}

/// Where a linked batch goes: one import, in batches of this size.
#[derive(Clone, Copy)]
pub(crate) struct Destination {
    /// The import the rows are stored by (`-1`: a scan, which stores nothing).
    pub import_id: i64,
    pub batch_size: usize,
}

/// Where the loader's batches come from: the reader itself (rows of an
/// entity without links, encoded as they were read), or the linking stage.
pub(crate) enum Incoming {
    Encoded(mpsc::Receiver<ReadChunk>),
    Linked(
        mpsc::Receiver<PreparedChunk>,
        tokio::task::JoinHandle<LinkResolver>,
    ),
}

impl Incoming {
    async fn recv(&mut self) -> Option<PreparedChunk> {
        match self {
            Incoming::Encoded(chunks) => chunks.recv().await.map(|chunk| {
                let mut prepared = PreparedChunk::new(0);
                prepared.take(chunk);
                prepared
            }),
            Incoming::Linked(prepared, _) => prepared.recv().await,
        }
    }

    /// Stops the stages and gives back the resolver, which knows the
    /// organizations it created.
    pub(crate) async fn close(self) -> Option<LinkResolver> {
        match self {
            Incoming::Encoded(_) => None,
            Incoming::Linked(receiver, linker) => {
                // Closing the channel stops the linking stage, which stops the reader.
                drop(receiver);
                linker.await.ok()
            }
        }
    }
}

/// The linking stage, on its own connection: resolves the links of each
/// chunk the reader sends (one query per linked entity and chunk), encodes
/// the rows that keep them, and hands on a batch once it holds `batch_size`
/// rows.
pub(crate) fn spawn_linker(
    mut links: LinkResolver,
    client: tokio_postgres::Client,
    to: Destination,
    mut input: mpsc::Receiver<ReadChunk>,
) -> Incoming {
    let (output, prepared) = mpsc::channel::<PreparedChunk>(1);
    let linker = tokio::spawn(async move {
        let mut prepared = PreparedChunk::new(to.batch_size);
        while let Some(chunk) = input.recv().await {
            let records = prepared.take(chunk);
            let records = if records.is_empty() {
                records
            } else {
                match links.resolve(&client, to.import_id, records).await {
                    Ok(resolved) => {
                        prepared.issues.extend(resolved.issues);
                        prepared.unlinked_rows += resolved.failed;
                        resolved.records
                    }
                    Err(error) => {
                        prepared.end = Some(Err(ImportError::from(error)));
                        let _ = output.send(prepared).await;
                        return links;
                    }
                }
            };
            for record in &records {
                prepared
                    .batch
                    .push(record, uuid::Uuid::now_v7(), to.import_id);
            }
            let last = prepared.end.is_some();
            if last || prepared.batch.len() >= to.batch_size {
                let full = std::mem::replace(&mut prepared, PreparedChunk::new(to.batch_size));
                if output.send(full).await.is_err() || last {
                    return links;
                }
            }
        }
        links
    });
    Incoming::Linked(prepared, linker)
}

/// A resolver for the link columns of `mapped`, naming each column as the
/// sheet's issues do.
pub(crate) fn link_resolver(mapped: &MappedSheet, policies: &LinkPolicies) -> LinkResolver {
    let columns = mapped.columns();
    LinkResolver::new(mapped.entity(), policies, |field| {
        columns
            .column_of_field(field.column)
            .map_or_else(|| field.label.to_owned(), |i| columns.label(i))
    })
}

/// What one batch came to.
#[derive(Debug, Default)]
pub(crate) struct BatchResult {
    /// Rows the database refused, each with its reason.
    pub refusals: Vec<RowIssue>,
    /// Rows that matched a CRM record, skipped or updated.
    pub matched: Vec<MatchedRow>,
    /// Rows that matched several records and could not be updated.
    pub ambiguous: Vec<RowIssue>,
}

/// Where batches go: the CRM's table (an import), or a staging table that
/// is rolled back (a scan).
pub(crate) trait BatchSink {
    /// Takes one batch; `unlinked` rows of it failed their links before.
    async fn load(&mut self, batch: ReadyBatch, unlinked: u64) -> Result<BatchResult, ImportError>;
}

/// How draining ended.
pub(crate) enum DrainEnd {
    /// Every row read and settled.
    Finished,
    /// Stopped by the broker between batches.
    Cancelled,
    /// The file, the connection or the database stopped it.
    Failed(ImportError),
}

/// What the batches came to, over the whole sheet.
pub(crate) struct Drained {
    pub end: DrainEnd,
    /// Every problem, row by row (header problems not included).
    pub issues: Vec<RowIssue>,
    /// Near-duplicate warnings (also among `issues`).
    pub near: Vec<RowIssue>,
    /// Rows stored or refused, invalid or passed over so far: what the
    /// report's total covers.
    pub settled: u64,
    /// Rows whose data went in (stored or updated).
    pub succeeded: u64,
    /// Rows that matched CRM records.
    pub matched: Vec<MatchedRow>,
    /// What reading found to say about the whole sheet, once the reader
    /// has ended ([`MappedSheet::read_notices`]).
    pub read_notices: Vec<FileNotice>,
}

/// Hands every batch that comes in to `sink`, counting on `progress`, until
/// the file is read, the broker cancels, or something fails.
pub(crate) async fn drain(
    incoming: &mut Incoming,
    sink: &mut impl BatchSink,
    progress: &ImportProgress,
) -> Drained {
    let mut drained = Drained {
        end: DrainEnd::Finished,
        issues: Vec::new(),
        near: Vec::new(),
        settled: 0,
        succeeded: 0,
        matched: Vec::new(),
        read_notices: Vec::new(),
    };
    drained.end = loop {
        let Some(chunk) = incoming.recv().await else {
            break DrainEnd::Failed(ImportError::ReaderStopped);
        };
        // Cancel takes effect between batches: the one in flight has finished.
        if progress.is_cancelled() {
            break DrainEnd::Cancelled;
        }
        let not_stored = chunk.counts.failed + chunk.unlinked_rows;
        progress.failed.fetch_add(not_stored, Ordering::Relaxed);
        drained.settled += not_stored + chunk.counts.passed_over();
        drained.issues.extend(chunk.issues);
        drained.issues.extend(chunk.near.iter().cloned());
        drained.near.extend(chunk.near);
        if !chunk.batch.is_empty() || chunk.unlinked_rows > 0 {
            let rows = chunk.batch.len() as u64;
            match sink.load(chunk.batch.freeze(), chunk.unlinked_rows).await {
                Ok(result) => {
                    let failed = (result.refusals.len() + result.ambiguous.len()) as u64;
                    let skipped = result
                        .matched
                        .iter()
                        .filter(|m| m.action == crate::duplicates::MatchAction::Skipped)
                        .count() as u64;
                    let updated = result.matched.len() as u64 - skipped;
                    // Stored or updated: the rows whose data went in.
                    let stored = rows - failed - skipped;
                    drained.succeeded += stored;
                    drained.settled += rows;
                    progress.succeeded.fetch_add(stored, Ordering::Relaxed);
                    progress.failed.fetch_add(failed, Ordering::Relaxed);
                    progress.skipped.fetch_add(skipped, Ordering::Relaxed);
                    progress.updated.fetch_add(updated, Ordering::Relaxed);
                    drained.issues.extend(result.refusals);
                    drained.issues.extend(result.ambiguous);
                    drained.matched.extend(result.matched);
                    progress.batches_done.fetch_add(1, Ordering::Relaxed);
                    progress.wake();
                }
                Err(error) => break DrainEnd::Failed(error),
            }
        }
        match chunk.end {
            None => {}
            // Every row read and settled: finished, even if Cancel came
            // while the last batch was loading.
            Some(Ok(true)) => break DrainEnd::Finished,
            Some(Ok(false)) => break DrainEnd::Cancelled,
            Some(Err(error)) => break DrainEnd::Failed(error),
        }
    };
    drained
}
