//! Keeping a spreadsheet and the CRM in step (SPEC.md, "Keeping a
//! spreadsheet and the CRM in step"): a [`Sync`] imports its file again
//! each time it is saved ([`watch::FileWatch`] says when), each pass an
//! ordinary import with `--on-duplicate update` recorded in the history as
//! one run of kind `sync`, each pass undoable.
//!
//! - **Unchanged rows cost no write.** The sync keeps per row (by its match
//!   key, the identity an import finds its record by) a fingerprint of its
//!   mapped values from the last pass; the import's reader leaves out every
//!   row whose fingerprint is the same, so a one-cell edit writes one row.
//! - **Conflicts.** For a changed row whose record was changed in the CRM
//!   since (its `updated_at` moved on), the fields are compared one by one
//!   with their values when last in step: what only the file changed is
//!   written, what both changed keeps the CRM's value and is listed with
//!   both values.
//! - **Gone rows** are listed; with `remove_missing`, the records this sync
//!   created are soft-deleted as a history entry of the pass.

mod keep;
mod rows;
mod store;
pub mod watch;
mod written_over;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use serde::Serialize;

pub use keep::{StopWhen, SyncEvent, keep_in_step};
pub use rows::{Conflict, FieldConflict};
use rows::{PassGate, RowState};

use crate::database::{ConnectError, ConnectionSettings};
use crate::duplicates::DuplicatePolicy;
use crate::entity::Entity;
use crate::import::{ImportError, ImportOptions, file_name};
use crate::links::LinkPolicies;
use crate::mapping::{Record, Severity};
use crate::progress::RunProgress;
use crate::report::RunReport;
use crate::run::{self, RunPlan};
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::ReadError;

/// The say of a pass on each record of one sheet, run by the import's
/// reader: `false` leaves the record out.
pub type SheetGate = Box<dyn FnMut(&mut Record) -> bool + Send>;

/// A pass of a sync, as the import of its file sees it: the run and pass
/// its imports belong to, and the gate its rows go through.
#[derive(Clone)]
pub struct SyncPass {
    pub(crate) run: i64,
    pub(crate) pass: i32,
    pub(crate) gate: PassGate,
}

impl std::fmt::Debug for SyncPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncPass {{ run: {}, pass: {} }}", self.run, self.pass)
    }
}

impl PassGate {
    /// The gate of one sheet.
    pub(crate) fn sheet(&self, sheet: &str, _entity: Entity) -> SheetGate {
        let (gate, sheet) = (self.clone(), sheet.to_owned());
        Box::new(move |record| gate.admit(&sheet, record))
    }
}

/// What a sync reads and how it imports: the same choices as `import`.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Worksheet of a workbook (default: every recognised sheet).
    pub sheet: Option<String>,
    /// What the rows are (default: from the sheet's name or headers).
    pub entity: Option<Entity>,
    /// The broker's mapping.
    pub mapping: SavedMapping,
    /// What link columns do with names the CRM lacks.
    pub links: LinkPolicies,
    /// The CRM user the passes act for.
    pub acting: Option<crate::users::ActingUser>,
    /// Soft-delete the records this sync created whose rows left the file.
    pub remove_missing: bool,
}

/// Why a sync could not start, or a pass could not happen.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The database lacks the sync's tables.
    #[error(
        "the database has no tables for keeping a file in step yet (sync_rows): run `pantry-import migrate` first"
    )]
    NotMigrated,
    /// Another session keeps the same file in step.
    #[error("{} is being kept in step by another session (sync {sync}); stop it there first", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
        /// The sync.
        sync: i64,
    },
    /// The file could not be read as it is now: mid-save, say. Nothing was
    /// imported; the watch tries again.
    #[error(transparent)]
    Unreadable(#[from] ReadError),
    /// The pass's import failed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The database refused or the connection was lost.
    #[error("{0}")]
    Database(String),
}

impl From<tokio_postgres::Error> for SyncError {
    fn from(error: tokio_postgres::Error) -> Self {
        SyncError::Database(crate::database::database_reason(&error))
    }
}

impl SyncError {
    /// Whether trying again once the file settles may succeed: the file
    /// could not be read (half-written, locked), and nothing was stored.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Unreadable(_) | SyncError::Import(ImportError::Read(_)) => true,
            SyncError::Import(ImportError::InSheet { error, .. }) => {
                matches!(**error, ImportError::Read(_))
            }
            _ => false,
        }
    }

    /// Whether the file as saved cannot be imported (a required column
    /// gone from its header, say), nothing stored: the next save may mend
    /// it, so the watch goes on.
    pub fn is_about_the_file(&self) -> bool {
        self.is_retryable()
            || matches!(
                self,
                SyncError::Import(ImportError::Sheet { .. } | ImportError::InSheet { .. })
            )
    }
}

/// A row gone from the file since the last pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoneRow {
    /// The sheet it was in (empty for a text file).
    pub sheet: String,
    /// Its record, as it shows.
    pub record: String,
    /// The record.
    pub id: uuid::Uuid,
    /// Soft-deleted by this pass (`remove_missing`, a record the sync created).
    pub removed: bool,
    /// Deleted in the CRM already (by someone, or by an undo).
    pub deleted_before: bool,
}

/// A failing row of a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassFailure {
    /// The sheet (empty for a text file).
    pub sheet: String,
    /// The spreadsheet row.
    pub row: u64,
    /// The column.
    pub column: String,
    /// Why.
    pub message: String,
}

/// What one pass came to: one JSON line of `watch --json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PassReport {
    /// The sync (its run in the history).
    pub sync: i64,
    /// The pass, 1 the first.
    pub pass: i32,
    /// The file.
    pub file: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows that wrote nothing: unchanged since the last pass, already as
    /// the CRM holds them, or held as the CRM holds them by a conflict.
    /// With `created`, `updated` and `failed`, every row read.
    pub unchanged: u64,
    /// Records created.
    pub created: u64,
    /// Records updated.
    pub updated: u64,
    /// Rows that failed (with the reasons in `failures`).
    pub failed: u64,
    /// Rows changed in the file whose record changed in the CRM too.
    pub conflicts: Vec<Conflict>,
    /// Rows gone from the file since the last pass (or, removed now,
    /// before).
    pub gone: Vec<GoneRow>,
    /// Records soft-deleted because their rows left the file.
    pub removed: u64,
    /// The history entries the pass made (`undo` takes one back; `undo
    /// --run SYNC --pass P` the whole pass).
    pub imports: Vec<i64>,
    /// Failing rows, with reasons.
    pub failures: Vec<PassFailure>,
    /// Whether every row of the file was read and settled.
    pub complete: bool,
    /// What stopped the pass part way, if anything.
    pub stopped: Option<String>,
    /// What else the pass has to say (gone rows not looked for, say).
    pub notices: Vec<String>,
    /// How long the pass took, in seconds.
    pub seconds: f64,
}

impl PassReport {
    /// The pass in a line: "pass 3: 1 updated, 99,999 unchanged".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let conflicts = match self.conflicts.len() {
            1 => "conflict",
            _ => "conflicts",
        };
        for (count, what) in [
            (self.created, "created"),
            (self.updated, "updated"),
            (self.failed, "failed"),
            (self.conflicts.len() as u64, conflicts),
            (self.gone.len() as u64, "gone from the file"),
            (self.removed, "removed"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {what}"));
            }
        }
        parts.push(format!("{} unchanged", self.unchanged));
        format!("pass {}: {}", self.pass, parts.join(", "))
    }
}

/// How often a sync claimed by another session is asked for, and how long
/// between: a session that just stopped has let go within a second.
const CLAIM_TRIES: u32 = 8;
const CLAIM_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Rows recorded as in step per statement.
const SAVE_CHUNK: usize = 5_000;

/// A row the sync knows that the file no longer holds: its key, its
/// record, and the pass that first found it gone.
type MissingRow = (String, uuid::Uuid, Option<i32>);

/// A file kept in step with the CRM: the sync's run, and what it knows of
/// each row.
pub struct Sync {
    settings: ConnectionSettings,
    client: tokio_postgres::Client,
    file: PathBuf,
    options: SyncOptions,
    run: i64,
    continued: bool,
    rows: rows::SyncRows,
    /// A time before any change the last pass could not see: records
    /// stamped before it were compared then (`None`: none were yet).
    since: Option<String>,
    /// Records changed in the CRM since the sync last saw them, found by
    /// this pass or an earlier one, until the sync sees them again.
    changed_in_crm: HashMap<uuid::Uuid, rows::CrmRecord>,
}

impl std::fmt::Debug for Sync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sync")
            .field("file", &self.file)
            .field("run", &self.run)
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl Sync {
    /// Starts keeping `file` in step: goes on with its sync when it has one
    /// (not undone), else begins one. Refused while another session keeps
    /// the same file in step.
    pub async fn start(
        settings: &ConnectionSettings,
        file: &Path,
        options: SyncOptions,
    ) -> Result<Sync, SyncError> {
        // The same file however it is named (a link, `..`): one sync.
        let file = std::fs::canonicalize(file).map_err(|source| ReadError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let client = settings.connect().await?;
        if !store::ready(&client).await? {
            return Err(SyncError::NotMigrated);
        }
        let path_text = file.display().to_string();
        let (run, continued) =
            store::find_or_begin(&client, &path_text, &file_name(&file), "").await?;
        // A session just stopped (a window's sync started again, a watch
        // killed) lets go of its claim when its connection closes: a moment.
        let mut tries = 1;
        while !store::claim(&client, run).await? {
            if tries == CLAIM_TRIES {
                return Err(SyncError::Busy {
                    path: file,
                    sync: run,
                });
            }
            tries += 1;
            tokio::time::sleep(CLAIM_PAUSE).await;
        }
        let rows = store::load_rows(&client, run).await?;
        Ok(Sync {
            since: None,
            changed_in_crm: HashMap::new(),
            settings: settings.clone(),
            client,
            file,
            options,
            run,
            continued,
            rows,
        })
    }

    /// Who the sync's writes are made as, in words.
    fn acting_name(&self) -> String {
        self.options
            .acting
            .as_ref()
            .map_or_else(|| "this connection".to_owned(), |a| a.user.email.clone())
    }

    /// The sync's number: its run in the history.
    pub fn id(&self) -> i64 {
        self.run
    }

    /// The file kept in step.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Whether it went on with an earlier sync of the file.
    pub fn continued(&self) -> bool {
        self.continued
    }

    /// How many rows of the file the sync knows.
    pub fn rows_known(&self) -> usize {
        self.rows.len()
    }

    /// One pass over `snapshot`, a settled copy of the file: the rows
    /// changed since the last pass imported, conflicts and gone rows
    /// listed. A snapshot that cannot be read stores nothing
    /// ([`SyncError::is_retryable`]).
    pub async fn pass(
        &mut self,
        snapshot: &Path,
        progress: Option<Arc<dyn Fn() + Send + std::marker::Sync>>,
    ) -> Result<PassReport, SyncError> {
        let started = Instant::now();
        let plan = RunPlan::for_file(
            snapshot,
            self.options.sheet.clone(),
            self.options.entity,
            self.options.mapping.clone(),
        )?;
        let pass = store::begin_pass(&self.client, self.run).await?;
        self.look_for_changes_in_crm().await?;
        // A sync begun right after an import of the same file takes that
        // import's records as in step rather than writing them again.
        let adopted = if self.rows.len() == 0 {
            store::imported_before(&self.client, snapshot).await?
        } else {
            HashMap::new()
        };
        let gate = PassGate::default();
        {
            let mut state = gate.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.rows = std::mem::take(&mut self.rows);
            state.changed_in_crm = std::mem::take(&mut self.changed_in_crm);
            state.adopted = adopted;
        }
        let options = ImportOptions {
            links: self.options.links.clone(),
            on_duplicate: DuplicatePolicy::Update,
            again: true,
            acting: self.options.acting.clone(),
            sync: Some(SyncPass {
                run: self.run,
                pass,
                gate: gate.clone(),
            }),
            ..ImportOptions::default()
        };
        let run_progress = RunProgress::new(&plan, progress);
        let outcome = run::import(&plan, &self.settings, &options, run_progress).await;
        let state = std::mem::take(&mut *gate.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.rows = state.rows;
        self.changed_in_crm = state.changed_in_crm;
        let mut report = PassReport {
            sync: self.run,
            pass,
            file: file_name(&self.file),
            ..PassReport::default()
        };
        let run_report = match outcome {
            Ok(run_report) => run_report,
            Err(ImportError::Interrupted {
                cause,
                report: partial,
            }) => {
                // Nothing stored, for a reason in the file (half-written, a
                // column gone): no pass happened; the watch says why.
                let cause = SyncError::Import(*cause);
                if partial.succeeded() == 0 && cause.is_about_the_file() {
                    let summary = serde_json::json!({ "error": cause.to_string() }).to_string();
                    store::end_pass(&self.client, self.run, pass, &summary).await?;
                    return Err(cause);
                }
                report.stopped = Some(cause.to_string());
                *partial
            }
            Err(error) => {
                let summary = serde_json::json!({ "error": error.to_string() }).to_string();
                store::end_pass(&self.client, self.run, pass, &summary).await?;
                return Err(error.into());
            }
        };
        report.complete = report.stopped.is_none() && !run_report.cancelled;
        let mut seen = state.seen;
        self.settle(&run_report, &mut seen, &mut report).await?;
        if report.complete {
            self.gone(&run_report, &seen, &mut report).await?;
        }
        let dropped = store::drop_empty_imports(&self.client, self.run, pass).await?;
        report.imports.retain(|id| !dropped.contains(id));
        report.seconds = started.elapsed().as_secs_f64();
        let summary = serde_json::to_string(&report).unwrap_or_default();
        store::end_pass(&self.client, self.run, pass, &summary).await?;
        Ok(report)
    }

    /// Adds to the records known changed in the CRM those changed since the
    /// last look: every known row compared, the first time; after, only
    /// the records stamped since a time before anything the last look
    /// could not see.
    async fn look_for_changes_in_crm(&mut self) -> Result<(), SyncError> {
        let next_since = store::safe_since(&self.client).await?;
        let entities: BTreeSet<Entity> = self.rows.iter().map(|(.., r)| r.entity).collect();
        for entity in entities {
            let Some(since) = &self.since else {
                let changed = store::changed_in_crm(&self.client, self.run, entity).await?;
                self.changed_in_crm.extend(changed);
                continue;
            };
            let stamped = store::stamped_since(&self.client, entity, since).await?;
            if stamped.is_empty() {
                continue;
            }
            let stamps: HashMap<uuid::Uuid, Option<&str>> = self
                .rows
                .iter()
                .filter(|(.., r)| r.entity == entity)
                .map(|(.., r)| (r.record, r.stamp.as_deref()))
                .collect();
            let moved_on: Vec<uuid::Uuid> = stamped
                .iter()
                .filter(|(id, stamp)| {
                    stamps
                        .get(id)
                        .is_some_and(|known| *known != stamp.as_deref())
                })
                .map(|(id, _)| *id)
                .collect();
            for chunk in moved_on.chunks(SAVE_CHUNK) {
                let records = store::read_records(&self.client, entity, chunk).await?;
                self.changed_in_crm
                    .extend(records.into_iter().map(|(id, (record, _))| (id, record)));
            }
        }
        self.since = Some(next_since);
        Ok(())
    }

    /// Counts what the pass's imports did, and records the rows now in
    /// step: those written (with the record each went to) and those whose
    /// record already held the file's values.
    async fn settle(
        &mut self,
        run_report: &RunReport,
        seen: &mut HashMap<String, rows::SheetSeen>,
        report: &mut PassReport,
    ) -> Result<(), SyncError> {
        for sheet in &run_report.sheets {
            let name = sheet.sheet.clone().unwrap_or_default();
            report.rows += sheet.total;
            report.updated += sheet.updated;
            report.created += sheet.succeeded.saturating_sub(sheet.updated);
            report.failed += sheet.failed;
            report.failures.extend(
                sheet
                    .failures
                    .iter()
                    .filter(|issue| issue.severity == Severity::Error)
                    .map(|issue| PassFailure {
                        sheet: name.clone(),
                        row: issue.row,
                        column: issue.column.clone(),
                        message: issue.message.clone(),
                    }),
            );
            report.imports.extend(sheet.import_id);
            let Some(sheet_seen) = seen.get_mut(&name) else {
                continue;
            };
            report.unchanged += sheet_seen.unchanged;
            report.conflicts.append(&mut sheet_seen.conflicts);
            let written = match sheet.import_id {
                Some(id) => store::records_of_import(&self.client, sheet.entity, id).await?,
                None => HashMap::new(),
            };
            if let Some(import) = sheet.import_id {
                let mut written_over = self
                    .put_back_crm_changes(
                        &name,
                        (sheet.entity, import),
                        &sheet_seen.admitted,
                        &written,
                    )
                    .await?;
                report.conflicts.append(&mut written_over);
            }
            let mut in_step: Vec<(String, rows::RowPrint, Vec<u64>, uuid::Uuid)> = Vec::new();
            for (row, (key, print, hashes)) in sheet_seen.admitted.drain() {
                if let Some(record) = written.get(&row) {
                    in_step.push((key, print, hashes, *record));
                }
            }
            for (_, settled) in sheet_seen.settled.drain() {
                in_step.push(settled);
            }
            self.save_in_step(&name, sheet.entity, in_step).await?;
            self.save_held(&name, std::mem::take(&mut sheet_seen.held))
                .await?;
        }
        report.conflicts.sort_by_key(|c| (c.sheet.clone(), c.row));
        report.failures.sort_by_key(|f| (f.sheet.clone(), f.row));
        Ok(())
    }

    /// Records rows of one sheet as in step with their records as the CRM
    /// holds them now, a few thousand at a time (a first pass knows every
    /// row).
    async fn save_in_step(
        &mut self,
        sheet: &str,
        entity: Entity,
        in_step: Vec<(String, rows::RowPrint, Vec<u64>, uuid::Uuid)>,
    ) -> Result<(), SyncError> {
        for chunk in in_step.chunks(SAVE_CHUNK) {
            let ids: Vec<uuid::Uuid> = chunk.iter().map(|(.., id)| *id).collect();
            let records = store::read_records(&self.client, entity, &ids).await?;
            let mut saved = Vec::with_capacity(chunk.len());
            for (key, print, file_hashes, id) in chunk {
                let Some((crm, stamp)) = records.get(id) else {
                    continue;
                };
                let state = RowState {
                    entity,
                    fingerprint: print.fingerprint,
                    file_hashes: file_hashes.clone(),
                    crm_hashes: crm
                        .values
                        .iter()
                        .map(|v| rows::value_hash(v.as_deref()))
                        .collect(),
                    record: *id,
                    stamp: stamp.clone(),
                    gone_since: None,
                };
                // Seen again: in step as of now.
                self.changed_in_crm.remove(id);
                saved.push((key.as_str(), state));
            }
            let entries: Vec<(&str, &RowState)> = saved.iter().map(|(k, s)| (*k, s)).collect();
            store::save_rows(&self.client, self.run, sheet, &entries).await?;
            for (key, state) in saved {
                self.rows.insert(sheet, key.to_owned(), state);
            }
        }
        Ok(())
    }

    /// Records rows held whole by a conflict as the file holds them now,
    /// the CRM's side left as last seen: the record stays changed in the
    /// CRM, so a later edit of the row is held again, and the same row is
    /// not listed at every save.
    async fn save_held(
        &mut self,
        sheet: &str,
        held: Vec<(String, RowState)>,
    ) -> Result<(), SyncError> {
        for chunk in held.chunks(SAVE_CHUNK) {
            let entries: Vec<(&str, &RowState)> =
                chunk.iter().map(|(k, s)| (k.as_str(), s)).collect();
            store::save_rows(&self.client, self.run, sheet, &entries).await?;
        }
        for (key, state) in held {
            self.rows.insert(sheet, key, state);
        }
        Ok(())
    }

    /// Lists the rows gone from the file since the last pass and, with
    /// `remove_missing`, soft-deletes the records of gone rows this sync
    /// created. A gone row whose record another row of the file is now
    /// (its key changed) is forgotten, never removed.
    async fn gone(
        &mut self,
        run_report: &RunReport,
        seen: &HashMap<String, rows::SheetSeen>,
        report: &mut PassReport,
    ) -> Result<(), SyncError> {
        let empty = rows::SheetSeen::default();
        // A row that fails has no key to be known by: on a sheet with
        // failing rows, a row missing may be one of them, not gone.
        let mut read: HashSet<String> = HashSet::new();
        for sheet in &run_report.sheets {
            let name = sheet.sheet.clone().unwrap_or_default();
            if sheet.failed == 0 {
                read.insert(name);
                continue;
            }
            report.notices.push(format!(
                "{}{} rows failed, so rows gone from the file are not looked for until they pass",
                if name.is_empty() {
                    String::new()
                } else {
                    format!("sheet '{name}': ")
                },
                sheet.failed
            ));
        }
        self.back_in_the_file(seen).await?;
        let present: HashSet<uuid::Uuid> = self
            .rows
            .iter()
            .filter(|(sheet, key, _)| seen.get(*sheet).unwrap_or(&empty).keys.contains(*key))
            .map(|(.., state)| state.record)
            .collect();
        let mut gone: HashMap<(String, Entity), Vec<MissingRow>> = HashMap::new();
        for (sheet, key, state) in self.rows.iter() {
            // Only the sheets this pass read say what is gone.
            if !read.contains(sheet) || seen.get(sheet).unwrap_or(&empty).keys.contains(key) {
                continue;
            }
            gone.entry((sheet.to_owned(), state.entity))
                .or_default()
                .push((key.to_owned(), state.record, state.gone_since));
        }
        for ((sheet, entity), rows) in gone {
            let (moved, missing): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .partition(|(_, id, _)| present.contains(id));
            let moved_keys: Vec<&str> = moved.iter().map(|(k, ..)| k.as_str()).collect();
            store::forget(&self.client, self.run, &sheet, &moved_keys).await?;
            for (key, ..) in &moved {
                self.rows.remove(&sheet, key);
            }
            self.missing(&sheet, entity, missing, report).await?;
        }
        report
            .gone
            .sort_by(|a, b| (&a.sheet, &a.record).cmp(&(&b.sheet, &b.record)));
        Ok(())
    }

    /// Rows found gone by an earlier pass that are in the file again.
    async fn back_in_the_file(
        &mut self,
        seen: &HashMap<String, rows::SheetSeen>,
    ) -> Result<(), SyncError> {
        let back: Vec<(String, String)> = self
            .rows
            .iter()
            .filter(|(sheet, key, state)| {
                state.gone_since.is_some()
                    && seen.get(*sheet).is_some_and(|s| s.keys.contains(*key))
            })
            .map(|(sheet, key, _)| (sheet.to_owned(), key.to_owned()))
            .collect();
        for (sheet, key) in back {
            store::mark_back(&self.client, self.run, &sheet, &key).await?;
            if let Some(state) = self.rows.get_mut(&sheet, &key) {
                state.gone_since = None;
            }
        }
        Ok(())
    }

    /// The rows of one sheet missing from the file: listed when newly
    /// gone, removed with `remove_missing` when the sync created them.
    async fn missing(
        &mut self,
        sheet: &str,
        entity: Entity,
        missing: Vec<MissingRow>,
        report: &mut PassReport,
    ) -> Result<(), SyncError> {
        if missing.is_empty() {
            return Ok(());
        }
        let ids: Vec<uuid::Uuid> = missing.iter().map(|(_, id, _)| *id).collect();
        let records = store::gone_records(&self.client, self.run, entity, &ids).await?;
        let removable: Vec<uuid::Uuid> = if self.options.remove_missing {
            missing
                .iter()
                .filter(|(_, id, _)| {
                    records
                        .get(id)
                        .is_some_and(|(_, deleted, created)| !deleted && *created)
                })
                .map(|(_, id, _)| *id)
                .collect()
        } else {
            Vec::new()
        };
        let mut removed = HashSet::new();
        if !removable.is_empty() {
            let (entry, ids) = store::remove(
                &mut self.client,
                ((self.run, report.pass), self.options.acting.as_ref()),
                &file_name(&self.file),
                entity,
                &removable,
            )
            .await?;
            report.imports.push(entry);
            report.removed += ids.len() as u64;
            let asked: HashSet<&uuid::Uuid> = removable.iter().collect();
            let refused = asked.len().saturating_sub(ids.len());
            if refused > 0 {
                let (what, them, they) = if refused == 1 {
                    ("record was", "it", "it was")
                } else {
                    ("records were", "them", "they were")
                };
                let why = if self
                    .options
                    .acting
                    .as_ref()
                    .is_some_and(|a| a.row_level_security)
                {
                    format!(
                        "the CRM's security does not let {} change {them}",
                        self.acting_name()
                    )
                } else {
                    format!("{they} changed or deleted in the CRM meanwhile")
                };
                report
                    .notices
                    .push(format!("{refused} gone {what} left in the CRM: {why}"));
            }
            removed.extend(ids);
        }
        let mut newly_gone = Vec::new();
        let mut forgotten = Vec::new();
        for (key, id, gone_since) in &missing {
            // Not found at all: erased from the CRM.
            let (shown, deleted_before) = records.get(id).map_or_else(
                || ("a record no longer in the CRM".to_owned(), true),
                |(shown, deleted, _)| (shown.clone(), *deleted),
            );
            if removed.contains(id) || gone_since.is_none() {
                report.gone.push(GoneRow {
                    sheet: sheet.to_owned(),
                    record: shown,
                    id: *id,
                    removed: removed.contains(id),
                    deleted_before,
                });
            }
            if removed.contains(id) {
                forgotten.push(key.as_str());
            } else if gone_since.is_none() {
                newly_gone.push(key.as_str());
            }
        }
        store::mark_gone(&self.client, self.run, sheet, &newly_gone, report.pass).await?;
        store::forget(&self.client, self.run, sheet, &forgotten).await?;
        for key in forgotten {
            self.rows.remove(sheet, key);
        }
        for key in newly_gone {
            if let Some(state) = self.rows.get_mut(sheet, key) {
                state.gone_since = Some(report.pass);
            }
        }
        Ok(())
    }
}
