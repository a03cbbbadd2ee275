//! The import of one sheet into the CRM, as one step of a run
//! ([`crate::run::import`]): its entry in the history (new, or an
//! interrupted one resumed), the CRM's readiness, and the pipeline
//! ([`crate::pipeline`]) into the loader ([`crate::staging::LoadSink`]).
//! Also the errors an import can end with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio_postgres::types::Type;

use crate::database::{ConnectError, ConnectionSettings, database_reason};
use crate::duplicates::{DuplicatePolicy, NearDuplicates};
use crate::entity::{Entity, EntityDescription};
use crate::history::{self, HistoryError, ImportBatch, ImportRun, ImportStatus};
use crate::links::LinkPolicies;
use crate::mapping::ColumnMap;
use crate::pipeline::{
    DrainEnd, Incoming, READ_CHUNK_ROWS, ReaderPlan, drain, link_resolver, open_planned,
    spawn_linker, spawn_reader,
};
use crate::progress::ImportProgress;
use crate::report::{RunReport, SheetReport};
use crate::run::SheetPlan;
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::ReadError;
use crate::staging::{LoadSink, Matching};

/// Rows per COPY batch unless told otherwise. Chosen by measurement (README,
/// "Performance"): every batch is a transaction whose commit waits for the
/// WAL flush, so 200,000 rows took 2.4-2.7 s in batches of 1,000, 1.8-2.0 s
/// in batches of 5,000 and 1.4-1.5 s in batches of 20,000; peak memory rose
/// from 22 to 70 MB. 20,000 still moves the progress bar several times a
/// second and keeps bisecting a refused batch short.
pub const DEFAULT_BATCH_SIZE: usize = 20_000;

/// How a run imports: the choices that hold for every sheet of it. What
/// each sheet is and the broker's changes to it are in its
/// [`SheetPlan`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// What link columns do with names the CRM lacks.
    pub links: LinkPolicies,
    /// Rows per COPY batch.
    pub batch_size: usize,
    /// Import the file even if it was imported completely before.
    pub again: bool,
    /// What rows matching records already in the CRM do.
    pub on_duplicate: DuplicatePolicy,
    /// The CRM user the import acts for (`--as`), resolved before it starts.
    pub acting: Option<crate::users::ActingUser>,
    /// The pass of a sync this run is ([`crate::sync`]): its imports
    /// belong to the sync's run, and it decides which rows go in.
    pub sync: Option<crate::sync::SyncPass>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            links: LinkPolicies::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            again: false,
            on_duplicate: DuplicatePolicy::default(),
            acting: None,
            sync: None,
        }
    }
}

/// The finished import a repeat of the same file would do again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarlierImport {
    /// The import of the same sheet.
    Sheet(ImportBatch),
    /// The run of the same workbook.
    Run(ImportRun),
}

impl std::fmt::Display for EarlierImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EarlierImport::Sheet(batch) => write!(
                f,
                "import {}, {}, {} rows stored",
                batch.id, batch.started_at, batch.succeeded
            ),
            EarlierImport::Run(run) => write!(
                f,
                "run {}, {}, {} sheets",
                run.id,
                run.started_at,
                run.imports.len()
            ),
        }
    }
}

/// Why an import could not run, or stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Sheets lack a column their entity needs; nothing was stored.
    #[error("{}: {}", path.display(), problems.join("; "))]
    Sheet {
        /// The file.
        path: PathBuf,
        /// Each sheet's problem, naming the sheet (and its header's row).
        problems: Vec<String>,
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
    /// This file (or workbook) was imported completely before; nothing was done.
    #[error("{} was already imported completely ({earlier})", path.display())]
    AlreadyImported {
        /// The file.
        path: PathBuf,
        /// The earlier import or run.
        earlier: Box<EarlierImport>,
    },
    /// Another client is importing the same file right now.
    #[error("{} is being imported right now in another session (import {import_id}); wait for it to finish, or cancel it there, and run this again", path.display())]
    InProgress {
        /// The file.
        path: PathBuf,
        /// The import running.
        import_id: i64,
    },
    /// The database refused something that is not about a single row
    /// (a missing privilege, say).
    #[error("the database refused the import: {}", database_reason(.0))]
    Refused(tokio_postgres::Error),
    /// The connection was lost part way.
    #[error("the connection to the database was lost ({}); run the same import again to resume it", database_reason(.0))]
    ConnectionLost(tokio_postgres::Error),
    /// The import history could not be read or written.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The CRM's row-level security refused a batch, which was not stored
    /// (in words: who may not do what to which table).
    #[error("{0}; nothing of that batch was stored")]
    RowSecurity(String),
    /// The CRM users could not be read.
    #[error("CRM users: {0}")]
    Users(#[from] crate::users::UsersError),
    /// The thread reading the file stopped without saying how.
    #[error("the file reader stopped unexpectedly")]
    ReaderStopped,
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Thread(std::io::Error),
    /// One sheet of a workbook run could not be imported.
    #[error("sheet '{sheet}': {error}")]
    InSheet {
        /// The sheet.
        sheet: String,
        /// What happened to it.
        error: Box<ImportError>,
    },
    /// The run stopped part way; `report` says what each sheet committed
    /// before.
    #[error("the {} stopped after {} rows were stored: {cause}", if report.whole_workbook { "run" } else { "import" }, report.succeeded())]
    Interrupted {
        /// What stopped it.
        cause: Box<ImportError>,
        /// What was done before it happened.
        report: Box<RunReport>,
    },
}

impl From<tokio_postgres::Error> for ImportError {
    /// A refusal by the database, or a lost connection.
    fn from(error: tokio_postgres::Error) -> Self {
        if error.as_db_error().is_some() {
            ImportError::Refused(error)
        } else {
            ImportError::ConnectionLost(error)
        }
    }
}

impl From<tokio::task::JoinError> for ImportError {
    fn from(_: tokio::task::JoinError) -> Self {
        ImportError::ReaderStopped
    }
}

impl ImportError {
    /// The error of one sheet of a workbook, naming the sheet.
    pub(crate) fn in_sheet(self, sheet: &str) -> ImportError {
        match self {
            ImportError::Sheet { path, problems } => ImportError::Sheet {
                path,
                problems: problems
                    .into_iter()
                    .map(|p| format!("sheet '{sheet}', {p}"))
                    .collect(),
            },
            other => ImportError::InSheet {
                sheet: sheet.to_owned(),
                error: Box::new(other),
            },
        }
    }
}

/// How one sheet's import ended, once it had begun storing.
pub(crate) enum SheetEnd {
    /// Every row read and settled, or cancelled by the broker.
    Done(SheetReport),
    /// Something stopped it; the report says what was stored before.
    Stopped(SheetReport, ImportError),
}

/// Where one sheet's import goes in the history: the run it is part of
/// (`None`: it is the run), the sync's pass it is made by, and the file's
/// fingerprint.
pub(crate) struct HistoryPlace<'a> {
    pub run: Option<i64>,
    pub pass: Option<i32>,
    pub fingerprint: &'a str,
}

/// Imports one sheet of `file` into the database of `settings`. An error
/// means nothing was stored by this call; once rows go in, how it ended is
/// a [`SheetEnd`].
pub(crate) async fn import_sheet(
    file: &Path,
    plan: &SheetPlan,
    place: HistoryPlace<'_>,
    settings: &ConnectionSettings,
    options: &ImportOptions,
    progress: Arc<ImportProgress>,
) -> Result<SheetEnd, ImportError> {
    let started = Instant::now();
    let batch_size = options.batch_size.max(1);
    progress
        .batch_size
        .store(batch_size as u64, Ordering::Relaxed);
    let (open_path, open_plan) = (file.to_path_buf(), plan.clone());
    let mapped =
        tokio::task::spawn_blocking(move || open_planned(&open_path, &open_plan)).await??;
    let entity = mapped.entity();
    let sheet_notices = mapped.notices().to_vec();
    // The report's frame: what the sheet says of itself before any row.
    let mut report = SheetReport::new(
        file,
        sheet_notices.clone(),
        0,
        0,
        Vec::new(),
        false,
        started.elapsed(),
    );
    report.entity = entity;
    // The sheet read (which may not be the first, when that was a ReadMe).
    report.sheet = mapped.spreadsheet().sheet().map(str::to_owned);
    report.header_row = Some(mapped.spreadsheet().header_row());
    let header_issues = mapped.header_issues().to_vec();
    report.columns = mapped.columns().uses();

    let client = settings.connect().await?;
    ensure_schema(&client, entity).await?;
    let sheet_name = report.sheet.clone().unwrap_or_default();
    let (import_id, stored) = start_or_resume(
        &client,
        file,
        entity,
        &sheet_name,
        &place,
        &plan.mapping,
        options,
    )
    .await?;
    if let Some(acting) = &options.acting {
        history::record_acting_user(&client, import_id, &acting.user).await?;
    }
    let already_stored = stored.len() as u64;
    progress.succeeded.store(already_stored, Ordering::Relaxed);
    progress
        .already_stored
        .store(already_stored, Ordering::Relaxed);
    progress.wake();

    let load = Load {
        client: &client,
        settings,
        options,
        import_id,
        batch_size,
        progress,
    };
    let (drained, created) = load.rows(mapped, plan, stored).await?;
    let (status, total_rows) = match &drained.end {
        DrainEnd::Finished => (
            ImportStatus::Finished,
            Some(drained.settled + already_stored),
        ),
        DrainEnd::Cancelled => (ImportStatus::Cancelled, None),
        DrainEnd::Failed(_) => (ImportStatus::Failed, None),
    };
    let mut issues = header_issues;
    issues.extend(drained.issues);
    // The sheet's own notices, not the frame's (which, built before any
    // row, says the sheet has none).
    let mut notices = sheet_notices;
    notices.extend(drained.read_notices);
    let mut report = SheetReport {
        import_id: Some(import_id),
        already_stored,
        created_links: created,
        columns: report.columns,
        ..SheetReport::new(
            file,
            notices,
            drained.settled + already_stored,
            drained.succeeded + already_stored,
            issues,
            matches!(drained.end, DrainEnd::Cancelled),
            started.elapsed(),
        )
        .of_sheet(entity, report.sheet, report.header_row)
    };
    report.add_matched(drained.matched);
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
    Ok(match (drained.end, closed) {
        (DrainEnd::Failed(error), _) => SheetEnd::Stopped(report, error),
        (_, Err(error)) => SheetEnd::Stopped(report, error.into()),
        (_, Ok(())) => SheetEnd::Done(report),
    })
}

/// The loading of one sheet's rows by one import.
struct Load<'a> {
    client: &'a tokio_postgres::Client,
    settings: &'a ConnectionSettings,
    options: &'a ImportOptions,
    import_id: i64,
    batch_size: usize,
    progress: Arc<ImportProgress>,
}

impl Load<'_> {
    /// Reads, links and loads every row of `mapped` not `stored` by an
    /// earlier, interrupted run of the import; gives what the batches came
    /// to and the organizations the links created.
    async fn rows(
        &self,
        mapped: crate::mapping::MappedSheet,
        plan: &SheetPlan,
        stored: Vec<u32>,
    ) -> Result<
        (
            crate::pipeline::Drained,
            Vec<crate::links::CreatedOrganization>,
        ),
        ImportError,
    > {
        let (client, import_id, batch_size) = (self.client, self.import_id, self.batch_size);
        let description = mapped.entity().description();
        let live_before = live_records(client, description, import_id).await?;
        // Near-duplicates of organizations already in the CRM are warned
        // about as the rows are read ("Joes Rusty Spoon Inc." for "Joe's
        // Rusty Spoon").
        // A sync's later passes read the whole CRM's names at each save
        // for warnings its first pass gave: they go without.
        let later_pass = self.options.sync.as_ref().is_some_and(|s| s.pass > 1);
        let near = if live_before && !later_pass {
            near_duplicates(client, mapped.columns()).await?
        } else {
            None
        };
        // PostgreSQL's COPY into a table is refused under row-level
        // security: such an import goes through the staging table.
        let row_level_security = self
            .options
            .acting
            .as_ref()
            .is_some_and(|a| a.row_level_security);
        let matching = Matching::new(
            description,
            self.options.on_duplicate,
            &plan.edits.duplicate_choices,
            (live_before, row_level_security),
        );
        if matching.is_some() {
            refresh_statistics(client, description).await?;
        }
        let mut links = link_resolver(&mapped, &self.options.links);
        links.act_as(self.options.acting.clone());
        // The reader hands over records in small chunks and runs at most
        // one chunk ahead: records weigh about four times their encoded
        // rows, so memory stays flat (and near the encoded batches')
        // whatever the size. Without links it encodes them itself and its
        // batches go straight to the loader: a stage between them would
        // only hold two more batches.
        let has_links = links.has_links();
        let gate = self.options.sync.as_ref().map(|sync| {
            let sheet = mapped.spreadsheet().sheet().unwrap_or_default();
            sync.gate.sheet(sheet, description.entity)
        });
        // The rows are not stored yet: a role that may not read the users
        // leaves the names as text, and says so.
        let mut unread_users = None;
        let managers = match crate::users::ManagerResolver::for_import(
            client,
            description,
            &plan.mapping.users,
        )
        .await
        {
            Ok(resolver) => resolver,
            Err(error) => {
                unread_users = Some(crate::spreadsheet::FileNotice {
                    row: None,
                    message: format!("Manager names are kept as text only: {error}"),
                });
                None
            }
        };
        let (chunks, reader) = spawn_reader(
            mapped,
            Arc::clone(&self.progress),
            ReaderPlan {
                managers,
                chunk_rows: if has_links {
                    batch_size.min(READ_CHUNK_ROWS)
                } else {
                    batch_size
                },
                encode_for: (!has_links).then_some(import_id),
                stored,
                near,
                gate,
            },
        )?;
        // Links are resolved, and rows encoded, one batch ahead of the load
        // on a connection of their own, so the lookups overlap the COPY in
        // flight.
        let mut incoming = if has_links {
            let destination = crate::pipeline::Destination {
                import_id,
                batch_size,
            };
            spawn_linker(links, self.settings.connect().await?, destination, chunks)
        } else {
            Incoming::Encoded(chunks)
        };
        let mut sink = LoadSink::new(client, description, matching, import_id)
            .acting(self.options.acting.as_ref());
        let mut drained = drain(&mut incoming, &mut sink, &self.progress).await;
        let mut created = Vec::new();
        if let Some(mut links) = incoming.close().await {
            created = links.created().to_vec();
            // Only a sheet read to its end has every record its rows name.
            if matches!(drained.end, DrainEnd::Finished) {
                let warnings = links.link_within_import(client, import_id).await?;
                drained.issues.extend(warnings);
            }
        }
        drained.read_notices = reader.join().unwrap_or_default();
        drained.read_notices.extend(unread_users);
        self.progress.wake();
        Ok((drained, created))
    }
}

/// Where an import starts: a new entry in the history, or an interrupted
/// one resumed with the rows it had stored. A sheet imported completely
/// before is refused unless `again` (within a run, the run decides that).
async fn start_or_resume(
    client: &tokio_postgres::Client,
    path: &Path,
    entity: Entity,
    sheet_name: &str,
    place: &HistoryPlace<'_>,
    mapping: &SavedMapping,
    options: &ImportOptions,
) -> Result<(i64, Vec<u32>), ImportError> {
    let fingerprint = place.fingerprint;
    // Within a run, only that run's own import of the sheet counts; a
    // sync's pass is always a new import.
    let earlier = match (place.pass, place.run) {
        (Some(_), _) => Ok(None),
        (None, Some(run)) => history::latest_in_run(client, run, entity, sheet_name).await,
        (None, None) => history::latest_for(client, entity, fingerprint, sheet_name).await,
    }?;
    match earlier {
        Some(batch)
            if batch.status == ImportStatus::Finished && !options.again && place.run.is_none() =>
        {
            Err(ImportError::AlreadyImported {
                path: path.to_path_buf(),
                earlier: Box::new(EarlierImport::Sheet(batch)),
            })
        }
        Some(batch) if batch.status != ImportStatus::Finished => {
            history::resume(client, batch.id)
                .await
                .map_err(|e| match e {
                    HistoryError::InProgress(import_id) => ImportError::InProgress {
                        path: path.to_path_buf(),
                        import_id,
                    },
                    other => other.into(),
                })?;
            let stored = history::stored_rows(client, entity, batch.id).await?;
            Ok((batch.id, stored))
        }
        _ => {
            let recorded = (*mapping != SavedMapping::default()).then(|| mapping.to_json());
            let id = history::begin(
                client,
                &history::NewImport {
                    entity,
                    file_name: &file_name(path),
                    fingerprint,
                    sheet: sheet_name,
                    run: place.run,
                    mapping: recorded.as_deref(),
                    on_duplicate: options.on_duplicate,
                    sync_pass: place.pass,
                },
            )
            .await?;
            Ok((id, Vec::new()))
        }
    }
}

/// The file's name, as the history records it (not its folder).
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Checks the entity's table has every column the import writes (and the
/// link lookups need) before any row is sent.
pub async fn ensure_schema(
    client: &tokio_postgres::Client,
    entity: Entity,
) -> Result<(), ImportError> {
    let description = entity.description();
    let wanted: Vec<&str> = description.copy_columns();
    let found: i64 = client
        .query_typed_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = ANY($2)",
            &[
                (&description.table, Type::TEXT),
                (&wanted, Type::TEXT_ARRAY),
            ],
        )
        .await?
        .try_get(0)?;
    // Links and duplicates are matched by pantry_match_key, and the history
    // keeps what each import did with duplicates (migration V6).
    let history_ready: bool = client
        .query_typed_one(
            "SELECT to_regprocedure('pantry_match_key(text)') IS NOT NULL \
             AND to_regclass('import_matches') IS NOT NULL \
             AND (SELECT count(*) = 5 FROM information_schema.columns \
                  WHERE table_schema = current_schema() AND table_name = 'import_batches' \
                  AND column_name IN ('run_id', 'mapping', 'skipped', 'updated', 'on_duplicate'))",
            &[],
        )
        .await?
        .try_get(0)?;
    if usize::try_from(found).is_ok_and(|f| f == wanted.len()) && history_ready {
        Ok(())
    } else {
        Err(ImportError::NotMigrated { entity })
    }
}

/// The CRM's organizations by the keys near-duplicates are found by, and
/// the sheet's name column that warnings name; `None` for other entities.
pub(crate) async fn near_duplicates(
    client: &tokio_postgres::Client,
    columns: &ColumnMap,
) -> Result<Option<(NearDuplicates, String)>, ImportError> {
    if columns.entity() != Entity::Organizations {
        return Ok(None);
    }
    let index = NearDuplicates::load(client).await?;
    let label = columns
        .column_of_field("name")
        .map_or_else(|| "name".to_owned(), |c| columns.label(c));
    Ok(Some((index, label)))
}

/// Whether the CRM holds live records of the entity other than the rows
/// the import `import_id` stored (when it resumes).
pub(crate) async fn live_records(
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
        .await?
        .try_get(0)?)
}

/// Gives the planner the table's statistics when it has none, or when a
/// fifth of its rows changed since: without them it takes a freshly loaded
/// table for an empty one and matches each row by reading every record
/// (15,000 records matched in batches of 500 took 9.5 minutes; with
/// statistics, under a second). ANALYZE reads a sample, about a second for a
/// million rows; a role that may not analyze the table gets a warning from
/// the server, not an error, and the import goes on.
pub(crate) async fn refresh_statistics(
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
        .await?
        .try_get(0)?;
    if stale {
        // The table name is the description's own, never the user's.
        client
            .batch_execute(&format!("ANALYZE {}", description.table))
            .await?;
    }
    Ok(())
}
