//! Import history (`import_batches`): which file was imported when, by whom,
//! with what outcome; which rows each import stored, so an interrupted import
//! resumes where it stopped and one import can be undone.
//!
//! Queries use unnamed statements (`*_typed`), so they work through
//! transaction-mode poolers (PgBouncer, Supabase's port 6543) where a named
//! prepared statement may land on another server connection.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use tokio_postgres::types::Type;

use crate::database::database_reason;
use crate::duplicates::DuplicatePolicy;
use crate::entity::{Entity, EntityDescription};
use crate::spreadsheet::ReadError;

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    /// Started and not ended: running now, or cut off (then it resumes).
    Running,
    /// Every row was read and settled.
    Finished,
    /// Stopped by the user; running it again resumes it.
    Cancelled,
    /// Stopped by an error; running it again resumes it.
    Failed,
    /// Its rows were soft-deleted.
    Undone,
}

impl ImportStatus {
    /// The word `import_batches.status` stores.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Finished => "finished",
            ImportStatus::Cancelled => "cancelled",
            ImportStatus::Failed => "failed",
            ImportStatus::Undone => "undone",
        }
    }

    fn parse(text: &str) -> ImportStatus {
        match text {
            "finished" => ImportStatus::Finished,
            "cancelled" => ImportStatus::Cancelled,
            "failed" => ImportStatus::Failed,
            "undone" => ImportStatus::Undone,
            // The table's CHECK allows nothing else.
            _ => ImportStatus::Running,
        }
    }
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a history entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Imported a file.
    Import,
    /// Filled the manager ids of existing records (`users --link`).
    LinkManagers,
    /// Applied clean-ups to existing records (`audit --fix clean-ups`).
    CleanUp,
    /// Merged duplicate records (`merge`).
    Merge,
    /// Soft-deleted the records whose rows left a file kept in step
    /// (`watch --remove-missing`).
    Removal,
}

impl EntryKind {
    /// The word `import_batches.kind` stores.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Import => "import",
            EntryKind::LinkManagers => "link managers",
            EntryKind::CleanUp => "clean-up",
            EntryKind::Merge => "merge",
            EntryKind::Removal => "removal",
        }
    }

    fn parse(text: &str) -> EntryKind {
        match text {
            "link managers" => EntryKind::LinkManagers,
            "clean-up" => EntryKind::CleanUp,
            "merge" => EntryKind::Merge,
            "removal" => EntryKind::Removal,
            // The table's CHECK allows nothing else.
            _ => EntryKind::Import,
        }
    }
}

/// One recorded import, or fix of records in place ([`EntryKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportBatch {
    /// The number brokers and scripts use (`pantry-import undo 7`).
    pub id: i64,
    /// What it did.
    pub kind: EntryKind,
    /// What it imported.
    pub entity: Entity,
    /// The file's name (not its folder).
    pub file_name: String,
    /// Worksheet, empty for text files.
    pub sheet: String,
    /// Where it stands.
    pub status: ImportStatus,
    /// Data rows of the file, once read to the end.
    pub total_rows: Option<i32>,
    /// Rows stored.
    pub succeeded: i32,
    /// Rows refused.
    pub failed: i32,
    /// Rows that matched a CRM record and were skipped.
    pub skipped: i32,
    /// Rows that updated the CRM record they matched.
    pub updated: i32,
    /// When it started, `YYYY-MM-DD HH:MM` in the server's time zone.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// The database role that ran it.
    pub run_by: String,
    /// The workbook run it was one sheet of, or the sync it was part of.
    pub run_id: Option<i64>,
    /// The pass of the sync it was made by.
    pub sync_pass: Option<i32>,
}

/// One run of a whole workbook: an import per sheet, undone and resumed
/// together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRun {
    /// The number `undo --run` takes.
    pub id: i64,
    /// The workbook's name.
    pub file_name: String,
    /// Where it stands.
    pub status: ImportStatus,
    /// When it started, `YYYY-MM-DD HH:MM`.
    pub started_at: String,
    /// Its sheets' imports, in the order they ran.
    pub imports: Vec<ImportBatch>,
}

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoReport {
    /// The import (or fix) undone.
    pub import_id: i64,
    /// What the entry had done.
    pub kind: EntryKind,
    /// Rows soft-deleted now.
    pub soft_deleted: u64,
    /// Records the import had updated, given back their values from before.
    pub restored: u64,
    /// Rows edited since the import, left alone (unless forced): row number and name.
    pub edited_left_alone: Vec<(i32, String)>,
}

/// Why the history could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No import has that number.
    #[error("there is no import number {0}")]
    NoSuchImport(i64),
    /// No workbook run has that number.
    #[error("there is no run number {0}")]
    NoSuchRun(i64),
    /// The pass of a sync wrote nothing to undo (or there is no such pass).
    #[error("pass {1} of sync {0} wrote nothing to the CRM that undo could take back")]
    NoSuchPass(i64, i32),
    /// Another client is running the import right now.
    #[error(
        "import {0} of this file is running right now in another session; wait for it to finish (or cancel it there) and run this again"
    )]
    InProgress(i64),
    /// The database refused.
    #[error("{0}")]
    Database(String),
}

impl From<tokio_postgres::Error> for HistoryError {
    fn from(error: tokio_postgres::Error) -> Self {
        HistoryError::Database(database_reason(&error))
    }
}

const BATCH_COLUMNS: &str = "id, entity, file_name, sheet, status, total_rows, succeeded, failed, \
    to_char(started_at, 'YYYY-MM-DD HH24:MI'), to_char(finished_at, 'YYYY-MM-DD HH24:MI'), run_by, run_id, \
    skipped, updated, kind, sync_pass";

fn batch_from_row(row: &tokio_postgres::Row) -> Result<ImportBatch, HistoryError> {
    let entity: String = row.try_get(1)?;
    let status: String = row.try_get(4)?;
    Ok(ImportBatch {
        id: row.try_get(0)?,
        entity: entity.parse().map_err(|e: crate::entity::UnknownEntity| {
            HistoryError::Database(format!("import_batches holds an import of {e}"))
        })?,
        file_name: row.try_get(2)?,
        sheet: row.try_get(3)?,
        status: ImportStatus::parse(&status),
        total_rows: row.try_get(5)?,
        succeeded: row.try_get(6)?,
        failed: row.try_get(7)?,
        started_at: row.try_get(8)?,
        finished_at: row.try_get(9)?,
        run_by: row.try_get(10)?,
        run_id: row.try_get(11)?,
        skipped: row.try_get(12)?,
        updated: row.try_get(13)?,
        kind: EntryKind::parse(&row.try_get::<_, String>(14)?),
        sync_pass: row.try_get(15)?,
    })
}

/// The BLAKE3 hash of the file's bytes, in hex: the same content is the same
/// file, whatever its name or date.
pub fn fingerprint(path: &Path) -> Result<String, ReadError> {
    let io_error = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io_error)?;
        if n == 0 {
            return Ok(hasher.finalize().to_hex().to_string());
        }
        hasher.update(&buffer[..n]);
    }
}

/// The latest import of this content and sheet as `entity` that was not undone.
pub async fn latest_for(
    client: &tokio_postgres::Client,
    entity: Entity,
    fingerprint: &str,
    sheet: &str,
) -> Result<Option<ImportBatch>, HistoryError> {
    let row = client
        .query_typed_opt(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM import_batches \
                 WHERE entity = $1 AND file_fingerprint = $2 AND sheet = $3 AND status <> 'undone' \
                 ORDER BY id DESC LIMIT 1"
            ),
            &[
                (&entity.name(), Type::TEXT),
                (&fingerprint, Type::TEXT),
                (&sheet, Type::TEXT),
            ],
        )
        .await?;
    row.as_ref().map(batch_from_row).transpose()
}

/// What a new import is, for the history.
#[derive(Debug, Clone)]
pub struct NewImport<'a> {
    /// What it imports.
    pub entity: Entity,
    /// The file's name (not its folder).
    pub file_name: &'a str,
    /// The file's [`fingerprint`].
    pub fingerprint: &'a str,
    /// Worksheet, empty for text files.
    pub sheet: &'a str,
    /// The workbook run it is one sheet of.
    pub run: Option<i64>,
    /// The saved mapping it applies, as JSON.
    pub mapping: Option<&'a str>,
    /// What rows matching CRM records do.
    pub on_duplicate: DuplicatePolicy,
    /// The pass of the sync (`run`) it is part of.
    pub sync_pass: Option<i32>,
}

/// Records a new import and returns its number.
pub async fn begin(
    client: &tokio_postgres::Client,
    new: &NewImport<'_>,
) -> Result<i64, HistoryError> {
    let row = client
        .query_typed_one(
            "INSERT INTO import_batches (entity, file_name, file_fingerprint, sheet, run_id, mapping, on_duplicate, \
             sync_pass, claimed_pid, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, pg_backend_pid(), now()) RETURNING id",
            &[
                (&new.entity.name(), Type::TEXT),
                (&new.file_name, Type::TEXT),
                (&new.fingerprint, Type::TEXT),
                (&new.sheet, Type::TEXT),
                (&new.run, Type::INT8),
                (&new.mapping, Type::TEXT),
                (&new.on_duplicate.as_str(), Type::TEXT),
                (&new.sync_pass, Type::INT4),
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The import of `sheet` as `entity` within the workbook run `run`, if it
/// has started.
pub async fn latest_in_run(
    client: &tokio_postgres::Client,
    run: i64,
    entity: Entity,
    sheet: &str,
) -> Result<Option<ImportBatch>, HistoryError> {
    let row = client
        .query_typed_opt(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM import_batches \
                 WHERE run_id = $1 AND entity = $2 AND sheet = $3 AND status <> 'undone' \
                 ORDER BY id DESC LIMIT 1"
            ),
            &[
                (&run, Type::INT8),
                (&entity.name(), Type::TEXT),
                (&sheet, Type::TEXT),
            ],
        )
        .await?;
    row.as_ref().map(batch_from_row).transpose()
}

/// The latest run of this workbook's content that was not undone.
pub async fn latest_run_for(
    client: &tokio_postgres::Client,
    fingerprint: &str,
) -> Result<Option<ImportRun>, HistoryError> {
    let id: Option<i64> = client
        .query_typed_opt(
            "SELECT id FROM import_runs WHERE file_fingerprint = $1 AND status <> 'undone' \
             ORDER BY id DESC LIMIT 1",
            &[(&fingerprint, Type::TEXT)],
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    match id {
        Some(id) => run(client, id).await.map(Some),
        None => Ok(None),
    }
}

/// A workbook run with its sheets' imports.
pub async fn run(client: &tokio_postgres::Client, id: i64) -> Result<ImportRun, HistoryError> {
    let row = client
        .query_typed_opt(
            "SELECT id, file_name, status, to_char(started_at, 'YYYY-MM-DD HH24:MI') \
             FROM import_runs WHERE id = $1",
            &[(&id, Type::INT8)],
        )
        .await?
        .ok_or(HistoryError::NoSuchRun(id))?;
    let imports = client
        .query_typed(
            &format!("SELECT {BATCH_COLUMNS} FROM import_batches WHERE run_id = $1 ORDER BY id"),
            &[(&id, Type::INT8)],
        )
        .await?;
    let status: String = row.try_get(2)?;
    Ok(ImportRun {
        id: row.try_get(0)?,
        file_name: row.try_get(1)?,
        status: ImportStatus::parse(&status),
        started_at: row.try_get(3)?,
        imports: imports
            .iter()
            .map(batch_from_row)
            .collect::<Result<_, _>>()?,
    })
}

/// Records a new workbook run and returns its number.
pub async fn begin_run(
    client: &tokio_postgres::Client,
    file_name: &str,
    fingerprint: &str,
) -> Result<i64, HistoryError> {
    let row = client
        .query_typed_one(
            "INSERT INTO import_runs (file_name, file_fingerprint) VALUES ($1, $2) RETURNING id",
            &[(&file_name, Type::TEXT), (&fingerprint, Type::TEXT)],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Sets a run's status (`Running` when it is resumed).
pub async fn set_run_status(
    client: &tokio_postgres::Client,
    id: i64,
    status: ImportStatus,
) -> Result<(), HistoryError> {
    client
        .execute_typed(
            "UPDATE import_runs SET status = $2, \
             finished_at = CASE WHEN $2 = 'running' THEN NULL ELSE now() END WHERE id = $1",
            &[(&id, Type::INT8), (&status.as_str(), Type::TEXT)],
        )
        .await?;
    Ok(())
}

/// How long an import may go without committing a batch before another
/// client may take it over, when its server process cannot be seen (behind
/// a connection pooler): a batch takes a second or two.
const SILENT_FOR: &str = "20 seconds";

/// Marks an earlier import as running again, on this connection (it is
/// being resumed). Refused while another client is still running it: its
/// server process is alive and it committed a batch lately.
pub async fn resume(client: &tokio_postgres::Client, id: i64) -> Result<(), HistoryError> {
    let taken = client
        .query_typed_opt(
            &format!(
                "UPDATE import_batches SET status = 'running', finished_at = NULL, \
                 claimed_pid = pg_backend_pid(), heartbeat_at = now() \
                 WHERE id = $1 AND (status <> 'running' OR claimed_pid IS NULL \
                   OR heartbeat_at < now() - interval '{SILENT_FOR}' \
                   OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = claimed_pid)) \
                 RETURNING id"
            ),
            &[(&id, Type::INT8)],
        )
        .await?;
    match taken {
        Some(_) => Ok(()),
        None => Err(HistoryError::InProgress(id)),
    }
}

/// The spreadsheet rows an import of `entity` has settled, sorted: those it
/// stored, and those that matched a CRM record (skipped or updated).
pub async fn stored_rows(
    client: &tokio_postgres::Client,
    entity: Entity,
    id: i64,
) -> Result<Vec<u32>, HistoryError> {
    // The table name is the description's own, never the user's.
    let rows = client
        .query_typed(
            &format!(
                "SELECT import_source_row FROM {} WHERE import_batch_id = $1 AND import_source_row IS NOT NULL \
                 UNION SELECT source_row FROM import_matches WHERE import_batch_id = $1 ORDER BY 1",
                entity.description().table
            ),
            &[(&id, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<_, i32>(0).ok())
        .filter_map(|row| u32::try_from(row).ok())
        .collect())
}

/// Adds to an import's counts: stored rows inside each batch's transaction,
/// refused rows after a batch was bisected.
pub async fn record_batch(
    client: &tokio_postgres::Client,
    id: i64,
    stored: u64,
    refused: u64,
) -> Result<(), tokio_postgres::Error> {
    let stored = i32::try_from(stored).unwrap_or(i32::MAX);
    let refused = i32::try_from(refused).unwrap_or(i32::MAX);
    client
        .execute_typed(
            "UPDATE import_batches SET succeeded = succeeded + $2, failed = failed + $3, heartbeat_at = now() \
             WHERE id = $1",
            &[(&id, Type::INT8), (&stored, Type::INT4), (&refused, Type::INT4)],
        )
        .await?;
    Ok(())
}

/// Records the CRM user import `id` acts for.
pub async fn record_acting_user(
    client: &tokio_postgres::Client,
    id: i64,
    user: &crate::users::CrmUser,
) -> Result<(), HistoryError> {
    client
        .execute_typed(
            "UPDATE import_batches SET acting_user_id = $2, acting_user_email = $3 WHERE id = $1",
            &[
                (&id, Type::INT8),
                (&user.id, Type::UUID),
                (&user.email, Type::TEXT),
            ],
        )
        .await?;
    Ok(())
}

/// Closes an import: its status, the rows read, and counts recomputed from
/// the rows actually stored.
pub async fn finish(
    client: &tokio_postgres::Client,
    entity: Entity,
    id: i64,
    status: ImportStatus,
    total_rows: Option<u64>,
    failed: u64,
) -> Result<(), HistoryError> {
    let total = total_rows.and_then(|t| i32::try_from(t).ok());
    let failed = i32::try_from(failed).unwrap_or(i32::MAX);
    client
        .execute_typed(
            &format!(
                "UPDATE import_batches SET status = $2, finished_at = now(), total_rows = coalesce($3, total_rows), \
                 failed = $4, succeeded = (SELECT count(*) FROM {} WHERE import_batch_id = $1 AND import_source_row IS NOT NULL), \
                 skipped = (SELECT count(*) FROM import_matches WHERE import_batch_id = $1 AND action = 'skipped'), \
                 updated = (SELECT count(*) FROM import_matches WHERE import_batch_id = $1 AND action = 'updated') \
                 WHERE id = $1",
                entity.description().table
            ),
            &[(&id, Type::INT8), (&status.as_str(), Type::TEXT), (&total, Type::INT4), (&failed, Type::INT4)],
        )
        .await?;
    Ok(())
}

/// The latest imports, newest first.
pub async fn list(
    client: &tokio_postgres::Client,
    limit: i64,
) -> Result<Vec<ImportBatch>, HistoryError> {
    let rows = client
        .query_typed(
            &format!("SELECT {BATCH_COLUMNS} FROM import_batches ORDER BY id DESC LIMIT $1"),
            &[(&limit, Type::INT8)],
        )
        .await?;
    rows.iter().map(batch_from_row).collect()
}

/// What an undo takes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UndoTarget {
    /// One import (`undo IMPORT`).
    Import(i64),
    /// Every sheet of a workbook run, or every pass of a sync (`undo --run RUN`).
    Run(i64),
    /// One pass of a sync (`undo --run RUN --pass P`).
    Pass(i64, i32),
}

/// Soft-deletes (sets `deleted_at` on) the rows `target` stored, and the
/// organizations it created for links, in one transaction; records it
/// updated get their values from before. Rows edited since are listed and
/// left alone unless `force`. One report per import undone.
pub async fn undo(
    client: &mut tokio_postgres::Client,
    target: UndoTarget,
    force: bool,
) -> Result<Vec<UndoReport>, HistoryError> {
    match target {
        UndoTarget::Import(id) => {
            let transaction = client.transaction().await?;
            let report = undo_in(&transaction, id, force).await?;
            transaction.commit().await?;
            Ok(vec![report])
        }
        UndoTarget::Run(run) => undo_run(client, run, None, force).await,
        UndoTarget::Pass(run, pass) => undo_run(client, run, Some(pass), force).await,
    }
}

/// Undoes every sheet of a workbook run (or every import of a sync's
/// pass, or of all its passes) in one transaction, the last first
/// (activities before the contacts they name, a later pass before the one
/// it built on).
async fn undo_run(
    client: &mut tokio_postgres::Client,
    run: i64,
    pass: Option<i32>,
    force: bool,
) -> Result<Vec<UndoReport>, HistoryError> {
    let transaction = client.transaction().await?;
    let imports: Vec<i64> = transaction
        .query_typed(
            "SELECT b.id FROM import_runs r JOIN import_batches b ON b.run_id = r.id \
             WHERE r.id = $1 AND ($2::int IS NULL OR b.sync_pass = $2) \
             ORDER BY b.id DESC FOR UPDATE OF r",
            &[(&run, Type::INT8), (&pass, Type::INT4)],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if imports.is_empty() {
        return Err(match pass {
            Some(pass) => HistoryError::NoSuchPass(run, pass),
            None => HistoryError::NoSuchRun(run),
        });
    }
    let mut reports = Vec::with_capacity(imports.len());
    for id in imports {
        reports.push(undo_in(&transaction, id, force).await?);
    }
    if pass.is_none() {
        // The whole sync undone: watching the file again begins a new one.
        transaction
            .execute_typed(
                "UPDATE import_runs r SET status = 'undone' WHERE r.id = $1 AND r.kind = 'sync' \
                 AND NOT EXISTS (SELECT 1 FROM import_batches b WHERE b.run_id = r.id AND b.status <> 'undone')",
                &[(&run, Type::INT8)],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(reports)
}

/// One import's (or fix's) undo, inside the caller's transaction.
async fn undo_in(
    transaction: &tokio_postgres::Transaction<'_>,
    id: i64,
    force: bool,
) -> Result<UndoReport, HistoryError> {
    let entry = transaction
        .query_typed_opt(
            "SELECT entity, kind FROM import_batches WHERE id = $1 FOR UPDATE",
            &[(&id, Type::INT8)],
        )
        .await?
        .ok_or(HistoryError::NoSuchImport(id))?;
    let entity: Entity =
        entry
            .try_get::<_, String>(0)?
            .parse()
            .map_err(|e: crate::entity::UnknownEntity| {
                HistoryError::Database(format!("import {id} is an import of {e}"))
            })?;
    let kind = EntryKind::parse(&entry.try_get::<_, String>(1)?);
    let description = entity.description();
    let touched = touched_entities(transaction, entity, id).await?;
    let mut edited = Vec::new();
    for other in &touched {
        edited.extend(edited_since(transaction, other.description(), entity, id).await?);
    }
    edited.extend(edited_rows(transaction, description, id).await?);
    edited.sort();
    // A merge is put back whole or not at all: half of one would leave
    // links pointing at a record while its values went elsewhere.
    if kind == EntryKind::Merge && !edited.is_empty() && !force {
        return Ok(UndoReport {
            import_id: id,
            kind,
            soft_deleted: 0,
            restored: 0,
            edited_left_alone: edited,
        });
    }
    let mut restored = 0;
    for other in &touched {
        restored += restore_updated(transaction, other.description(), entity, id, force).await?;
    }
    let soft_deleted = soft_delete_rows(transaction, entity, id, force).await?;
    transaction
        .execute_typed(
            &format!(
                "UPDATE import_batches SET status = 'undone' WHERE id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM {} WHERE import_batch_id = $1 AND deleted_at IS NULL) \
                 AND NOT EXISTS (SELECT 1 FROM import_matches WHERE import_batch_id = $1 \
                   AND action <> 'skipped' AND restored_at IS NULL)",
                description.table
            ),
            &[(&id, Type::INT8)],
        )
        .await?;
    // A run whose every sheet is undone is undone: its workbook imports
    // anew. A sync goes on after a pass is undone; only undoing the whole
    // sync ends it (`undo_run`).
    transaction
        .execute_typed(
            "UPDATE import_runs r SET status = 'undone' \
             WHERE r.id = (SELECT run_id FROM import_batches WHERE id = $1) AND r.kind <> 'sync' \
             AND NOT EXISTS (SELECT 1 FROM import_batches b WHERE b.run_id = r.id AND b.status <> 'undone')",
            &[(&id, Type::INT8)],
        )
        .await?;
    Ok(UndoReport {
        import_id: id,
        kind,
        soft_deleted,
        restored,
        edited_left_alone: if force { Vec::new() } else { edited },
    })
}

/// Rows the import stored and someone edited since.
async fn edited_rows(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    id: i64,
) -> Result<Vec<(i32, String)>, HistoryError> {
    let shown = description.shown;
    Ok(transaction
        .query_typed(
            &format!(
                "SELECT t.import_source_row, {shown} FROM {table} t \
                 WHERE t.import_batch_id = $1 AND t.import_source_row IS NOT NULL \
                 AND t.deleted_at IS NULL AND {changed} > t.created_at \
                 ORDER BY t.import_source_row",
                table = description.table,
                changed = changed_at("t"),
            ),
            &[(&id, Type::INT8)],
        )
        .await?
        .iter()
        .map(shown_row)
        .collect::<Result<_, _>>()?)
}

/// Soft-deletes the rows the import stored (those edited since only when
/// forced), and the organizations it created for links.
async fn soft_delete_rows(
    transaction: &tokio_postgres::Transaction<'_>,
    entity: Entity,
    id: i64,
    force: bool,
) -> Result<u64, HistoryError> {
    let mut soft_deleted = transaction
        .execute_typed(
            &format!(
                "UPDATE {table} t SET deleted_at = now() \
                 WHERE t.import_batch_id = $1 AND t.deleted_at IS NULL \
                 AND ($2 OR {changed} <= t.created_at)",
                table = entity.description().table,
                changed = changed_at("t"),
            ),
            &[(&id, Type::INT8), (&force, Type::BOOL)],
        )
        .await?;
    if entity != Entity::Organizations {
        // Organizations created for links by this import (no source row).
        soft_deleted += transaction
            .execute_typed(
                &format!(
                    "UPDATE organizations t SET deleted_at = now() \
                     WHERE t.import_batch_id = $1 AND t.import_source_row IS NULL \
                     AND t.deleted_at IS NULL AND ($2 OR {} <= t.created_at)",
                    changed_at("t")
                ),
                &[(&id, Type::INT8), (&force, Type::BOOL)],
            )
            .await?;
    }
    Ok(soft_deleted)
}

/// The entities whose records the entry changed and has not given back:
/// its own, and for a merge those whose links it moved.
async fn touched_entities(
    transaction: &tokio_postgres::Transaction<'_>,
    entity: Entity,
    id: i64,
) -> Result<Vec<Entity>, HistoryError> {
    let rows = transaction
        .query_typed(
            "SELECT DISTINCT coalesce(record_entity, $2) FROM import_matches \
             WHERE import_batch_id = $1 AND action <> 'skipped' AND restored_at IS NULL",
            &[(&id, Type::INT8), (&entity.name(), Type::TEXT)],
        )
        .await?;
    let mut entities = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        entities.push(name.parse().map_err(|e: crate::entity::UnknownEntity| {
            HistoryError::Database(format!("import {id} changed {e}"))
        })?);
    }
    Ok(entities)
}

/// The changes of entry `id` (of `entry_entity`) to records of
/// `description`'s entity not yet given back, first and last of each record
/// (a record updated by two rows keeps the values from before both), as SQL
/// with `$1` the entry, `$2` its entity and `$3` the records'.
const CHANGES: &str = "WITH changes AS (SELECT * FROM import_matches WHERE import_batch_id = $1 \
       AND action <> 'skipped' AND restored_at IS NULL AND coalesce(record_entity, $2) = $3), \
     firsts AS (SELECT DISTINCT ON (record_id) record_id, source_row, previous \
       FROM changes ORDER BY record_id, id), \
     lasts AS (SELECT record_id, max(applied_at) AS applied_at FROM changes GROUP BY record_id)";

/// Records the entry changed that someone edited after it: the row number
/// (0 for a fix) and how the record shows.
async fn edited_since(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    entry_entity: Entity,
    id: i64,
) -> Result<Vec<(i32, String)>, HistoryError> {
    Ok(transaction
        .query_typed(
            &format!(
                "{CHANGES} SELECT f.source_row, {shown} FROM firsts f JOIN lasts l USING (record_id) \
                 JOIN {table} t ON t.id = f.record_id WHERE {changed} > l.applied_at ORDER BY 1",
                shown = description.shown,
                table = description.table,
                changed = changed_at("t"),
            ),
            &[
                (&id, Type::INT8),
                (&entry_entity.name(), Type::TEXT),
                (&description.table, Type::TEXT),
            ],
        )
        .await?
        .iter()
        .map(shown_row)
        .collect::<Result<_, _>>()?)
}

/// Puts back the values the records the entry changed had before it, from
/// the first change of each record, `deleted_at` included (a merge
/// soft-deleted some). A record whose `updated_at` moved on since the
/// entry's last change of it was edited after it: left alone unless
/// `force`. Returns how many were restored.
async fn restore_updated(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    entry_entity: Entity,
    id: i64,
    force: bool,
) -> Result<u64, HistoryError> {
    // Every column a change writes; the table and columns are the
    // description's own, never the user's.
    let columns: Vec<&str> = description
        .stored_fields()
        .map(|f| f.column)
        .chain(["import_notes", "updated_by", "deleted_at"])
        .collect();
    let targets = columns.join(", ");
    let sources: Vec<String> = columns.iter().map(|c| format!("p.{c}")).collect();
    let table = description.table;
    let restored: i64 = transaction
        .query_typed_one(
            &format!(
                "{CHANGES}, restored AS (UPDATE {table} t SET ({targets}) = ({sources}) \
                   FROM firsts f JOIN lasts l USING (record_id) \
                   CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, f.previous) p \
                   WHERE t.id = f.record_id AND ($4 OR {changed} <= l.applied_at) RETURNING t.id), \
                 marked AS (UPDATE import_matches m SET restored_at = now() FROM restored r \
                   WHERE m.import_batch_id = $1 AND m.record_id = r.id AND m.action <> 'skipped') \
                 SELECT count(*) FROM restored",
                sources = sources.join(", "),
                changed = changed_at("t"),
            ),
            &[
                (&id, Type::INT8),
                (&entry_entity.name(), Type::TEXT),
                (&table, Type::TEXT),
                (&force, Type::BOOL),
            ],
        )
        .await?
        .try_get(0)?;
    Ok(u64::try_from(restored).unwrap_or(0))
}

/// A row number and how its record shows (an older CRM's record may show
/// as NULL: its date, say, is missing).
fn shown_row(row: &tokio_postgres::Row) -> Result<(i32, String), tokio_postgres::Error> {
    Ok((
        row.try_get(0)?,
        row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
    ))
}

/// When the record `alias` was last changed by anyone but an undo, as SQL:
/// an undo that gave a record its values back from before an import's
/// update also stamped it updated now (the CRM's trigger does), so a
/// record whose only change since is such a restore has the time its
/// values had, not the restore's (migration V7 indexes the look-up).
fn changed_at(alias: &str) -> String {
    format!(
        "coalesce((SELECT (m.previous->>'updated_at')::timestamptz FROM import_matches m \
         WHERE m.record_id = {alias}.id AND m.restored_at IS NOT NULL \
         AND m.restored_at >= {alias}.updated_at ORDER BY m.restored_at DESC, m.id LIMIT 1), \
         {alias}.updated_at)"
    )
}
