//! Export (SPEC.md, "Export and verification"): the live records of one
//! entity, or those one import stored, written as a CSV or XLSX file that
//! imports back unchanged.
//!
//! The columns are the entity's fields under the headers the import maps
//! from ([`FieldSpec::label`]), links written as the linked record's name
//! ([`EntityDescription::linked_by`]), enums as their labels, then each
//! `import_notes` key as a column of its own, except the originals of
//! changed values, which go together as one JSON object in an
//! [`IMPORT_NOTES_HEADER`] column that the import reads back into
//! `import_notes`. Everything is read through a portal, a few thousand rows
//! at a time, and written as it comes, so a table of millions of records
//! needs little memory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Local, NaiveDate, Timelike, Utc};
use tokio_postgres::types::ToSql;

use crate::entity::{Entity, EntityDescription, FieldKind, FieldSpec, header_key};
use crate::mapping::IMPORT_NOTES_HEADER;
use crate::report::{needs_neutralising, neutralise_formula};

/// Rows fetched from the server at a time.
const FETCH_ROWS: i32 = 5_000;

/// Rows between two looks at the progress (and at Cancel).
const PROGRESS_ROWS: u64 = 5_000;

/// The most data rows one XLSX sheet holds (Excel's limit, less the header).
const XLSX_MAX_ROWS: u64 = 1_048_575;

/// The file an export writes, chosen by the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// UTF-8 with a byte-order mark, so Excel reads accents right.
    Csv,
    /// An Excel workbook of one sheet.
    Xlsx,
}

impl ExportFormat {
    /// The format `path`'s extension names.
    pub fn of(path: &Path) -> Result<ExportFormat, ExportError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(ExportFormat::Csv),
            Some("xlsx") => Ok(ExportFormat::Xlsx),
            _ => Err(ExportError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// What went wrong in an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The server gave a snapshot id of an unexpected shape.
    #[error("the database gave an unexpected snapshot id '{0}'")]
    Snapshot(String),
    /// The path does not end in `.csv` or `.xlsx`.
    #[error("{path}: export to a file ending in .csv or .xlsx", path = path.display())]
    UnknownFormat {
        /// The path given.
        path: PathBuf,
    },
    /// No import has that number.
    #[error("there is no import {0}; `pantry-import history` lists them")]
    NoSuchImport(i64),
    /// The import stored another entity.
    #[error("import {import} stored {stored}, not {asked}")]
    OtherEntity {
        /// The import.
        import: i64,
        /// What it stored.
        stored: String,
        /// What was asked for.
        asked: &'static str,
    },
    /// More rows than one XLSX sheet holds.
    #[error(
        "{rows} {entity} are more than an Excel sheet holds (1,048,575 rows); export them as CSV"
    )]
    TooManyForXlsx {
        /// Rows to export.
        rows: u64,
        /// The entity's name.
        entity: &'static str,
    },
    /// The database refused a query or went away.
    #[error("reading from the database: {}", crate::database::database_reason(.0))]
    Database(tokio_postgres::Error),
    /// The folder to write the file in does not exist.
    #[error("cannot write {}: there is no folder {}", path.display(), path.parent().unwrap_or(path).display())]
    NoFolder {
        /// The file asked for.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("{path}: {source}", path = path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Stopped by the user; the partial file was removed.
    #[error("export cancelled")]
    Cancelled,
}

impl From<tokio_postgres::Error> for ExportError {
    fn from(error: tokio_postgres::Error) -> Self {
        ExportError::Database(error)
    }
}

/// How far an export has come, shared with whoever shows it.
#[derive(Debug, Default)]
pub struct ExportProgress {
    total: AtomicU64,
    written: AtomicU64,
    cancelled: AtomicBool,
}

impl ExportProgress {
    /// A new count, to share.
    pub fn new() -> Arc<ExportProgress> {
        Arc::new(ExportProgress::default())
    }

    /// Rows to write, once counted, and rows written so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.total.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }

    /// Asks the export to stop at its next batch.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// The entity exported.
    pub entity: Entity,
    /// Data rows written.
    pub rows: u64,
    /// The header row.
    pub headers: Vec<String>,
    /// The file.
    pub path: PathBuf,
}

/// What cells one column holds, which decides how each format writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellKind {
    /// Text as stored; links and enums are text too.
    Text,
    /// A number, read as the database writes it (`1234.50`).
    Number,
    /// A calendar date.
    Date,
    /// A moment, written in this machine's time zone, as the import reads it.
    Moment,
}

/// One exported field column: its header, its SQL and its kind.
struct FieldColumn {
    header: &'static str,
    sql: String,
    kind: CellKind,
}

/// One cell as read: text borrowed from the database row where it can be,
/// so a million rows do not cost a million copies of every cell.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'a> {
    Empty,
    Text(std::borrow::Cow<'a, str>),
    Number(&'a str),
    Date(NaiveDate),
    Moment(chrono::NaiveDateTime),
}

/// The fields an export writes: the stored ones, but the ids of the CRM
/// users the manager names stand for, which an import finds again.
fn exported_fields(description: &EntityDescription) -> impl Iterator<Item = &FieldSpec> {
    description
        .stored_fields()
        .filter(|f| !matches!(f.kind, FieldKind::UserOf(_)))
}

/// The columns of `description`'s fields, in the description's order.
fn field_columns(description: &EntityDescription) -> Vec<FieldColumn> {
    exported_fields(description)
        .map(|field| {
            let (sql, kind) = field_sql(field);
            FieldColumn {
                header: field.label,
                sql,
                kind,
            }
        })
        .collect()
}

/// The SQL (over the table as `t`) that reads `field` as an export writes
/// it, and the kind of its cells. Every kind but [`CellKind::Moment`] reads
/// as text.
fn field_sql(field: &FieldSpec) -> (String, CellKind) {
    let column = field.column;
    match &field.kind {
        FieldKind::Link(target) => {
            let linked = target.entity.description();
            let written = linked
                .linked_by
                .as_ref()
                .map_or_else(|| "NULL".to_owned(), |by| by.written_sql("l"));
            (
                format!(
                    "(SELECT {written} FROM {} l WHERE l.id = t.{column})",
                    linked.table
                ),
                CellKind::Text,
            )
        }
        FieldKind::Enum { .. }
        | FieldKind::Priority
        | FieldKind::Segment
        | FieldKind::OrganizationType => (format!("t.{column}::text"), CellKind::Text),
        FieldKind::Money(_)
        | FieldKind::WholeNumber
        | FieldKind::ShelfLifeDays
        | FieldKind::DurationMinutes
        | FieldKind::Probability => (format!("t.{column}::text"), CellKind::Number),
        FieldKind::Date => (format!("to_char(t.{column}, 'YYYY-MM-DD')"), CellKind::Date),
        FieldKind::DateTime => (format!("t.{column}"), CellKind::Moment),
        FieldKind::YesNo { .. } => (
            format!("CASE WHEN t.{column} THEN 'yes' WHEN NOT t.{column} THEN 'no' END"),
            CellKind::Text,
        ),
        FieldKind::Text
        | FieldKind::Phone
        | FieldKind::Email
        | FieldKind::PostalCode
        | FieldKind::FullName => (format!("t.{column}"), CellKind::Text),
        FieldKind::UserOf(_) => (format!("t.{column}::text"), CellKind::Text),
    }
}

/// The SQL (over the table as `t`) that reads `field` as text, as an export
/// writes it; moments in the server's time zone.
pub(crate) fn field_text_sql(field: &FieldSpec) -> String {
    match field_sql(field) {
        (sql, CellKind::Moment) => format!("to_char({sql}, 'YYYY-MM-DD HH24:MI')"),
        (sql, _) => sql,
    }
}

/// Whether an `import_notes` key is written as a column of its own: only
/// when that header would come back into `import_notes` under the same key.
/// Originals of changed values (`SEGMENT (as written)`, or a key naming a
/// field's column) go into the JSON column instead, so they never fill the
/// field on the way back.
fn is_own_column(description: &EntityDescription, key: &str) -> bool {
    let trimmed = key.trim();
    trimmed == key
        && !trimmed.is_empty()
        && !trimmed.ends_with("(as written)")
        && header_key(trimmed) != header_key(IMPORT_NOTES_HEADER)
        && description.field_for_header(trimmed).is_none()
        && description.field_for_header_fuzzy(trimmed).is_none()
}

/// The rows an export reads: the entity's live records, or those `import`
/// stored.
fn filter(import: Option<i64>) -> &'static str {
    match import {
        Some(_) => "t.deleted_at IS NULL AND t.import_batch_id = $1",
        None => "t.deleted_at IS NULL",
    }
}

/// The query an export reads its records with, in the file's order: every
/// field as the export writes it, then the import notes; live records, or
/// with `one_import` those of the import `$1`. (`cargo bench` times
/// `psql \copy` of it as the export's anchor.)
pub fn records_query(entity: Entity, one_import: bool) -> String {
    let select: Vec<String> = field_columns(entity.description())
        .into_iter()
        .map(|f| f.sql)
        .collect();
    format!(
        "SELECT {}, t.import_notes FROM {} t WHERE {} \
         ORDER BY t.created_at, t.import_batch_id, t.import_source_row, t.id",
        select.join(", "),
        entity.description().table,
        filter(one_import.then_some(0))
    )
}

/// Writes `entity`'s live records (or those import `import` stored) to
/// `path`, as CSV or XLSX by its extension. The file is written beside
/// `path` and moved there at the end, so a failed or cancelled export
/// leaves no half file.
///
/// `helper`, a second connection to the same database, counts the records
/// and lists their notes' keys (the header names them) while `client`'s
/// query sorts the rows, both in one snapshot: the export then costs the
/// server what the query alone does. Without one, they are listed first.
pub async fn export(
    client: &mut tokio_postgres::Client,
    helper: Option<&mut tokio_postgres::Client>,
    entity: Entity,
    import: Option<i64>,
    path: &Path,
    progress: &ExportProgress,
) -> Result<ExportSummary, ExportError> {
    let format = ExportFormat::of(path)?;
    if path
        .parent()
        .is_some_and(|folder| !folder.as_os_str().is_empty() && !folder.is_dir())
    {
        return Err(ExportError::NoFolder {
            path: path.to_path_buf(),
        });
    }
    if let Some(id) = import {
        check_import(client, entity, id).await?;
    }
    let import_param: Vec<&(dyn ToSql + Sync)> = match &import {
        Some(id) => vec![id],
        None => Vec::new(),
    };
    // One snapshot for the count, the notes' keys and the rows: a record
    // committed meanwhile is in all three or in none.
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let helper = match helper {
        // A server or pooler that cannot share the snapshot lists first.
        Some(helper) => share_snapshot(&transaction, helper).await.ok(),
        None => None,
    };
    let listing = Listing {
        table: entity.description().table,
        filter: filter(import),
        params: &import_param,
    };
    let query = records_query(entity, import.is_some());
    // The rows stream as the server sends them (the connection holds them
    // back once its buffers are full), so the server's work and this side's
    // overlap; they come once the server has sorted them all, and meanwhile
    // the helper counts and lists.
    let rows = transaction.query_raw(&query, import_param.iter().copied());
    let ((total, keys), rows) = match &helper {
        Some(helper) => {
            let (listed, rows) = tokio::join!(listing.count_and_keys(helper), rows);
            (listed?, rows?)
        }
        None => {
            let listed = listing.count_and_keys(&transaction).await?;
            (listed, rows.await?)
        }
    };
    if let Some(helper) = helper {
        // Read only: ending it changes nothing either way.
        let _ = helper.rollback().await;
    }
    progress.total.store(total, Ordering::Relaxed);
    if format == ExportFormat::Xlsx && total > XLSX_MAX_ROWS {
        return Err(ExportError::TooManyForXlsx {
            rows: total,
            entity: entity.name(),
        });
    }
    let layout = Layout::new(entity.description(), keys);
    let partial = partial_path(path);
    let outcome = write_rows(rows, &layout, format, &partial, progress).await;
    let rows = match outcome {
        // Read only: ending it changes nothing either way.
        Ok(rows) => {
            let _ = transaction.rollback().await;
            rows
        }
        Err(error) => {
            // Not waited for: the server may still be sending the rows a
            // cancel or a full disk left unread; dropping the transaction
            // ends it once the caller drops the connection.
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, path).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ExportSummary {
        entity,
        rows,
        headers: layout.headers,
        path: path.to_path_buf(),
    })
}

/// Refuses an import that does not exist or is of another entity.
async fn check_import(
    client: &tokio_postgres::Client,
    entity: Entity,
    id: i64,
) -> Result<(), ExportError> {
    let row = client
        .query_opt("SELECT entity FROM import_batches WHERE id = $1", &[&id])
        .await?;
    let stored: String = match row {
        Some(row) => row.try_get(0)?,
        None => return Err(ExportError::NoSuchImport(id)),
    };
    if stored != entity.name() {
        return Err(ExportError::OtherEntity {
            import: id,
            stored,
            asked: entity.name(),
        });
    }
    Ok(())
}

/// Starts a read-only transaction on `helper` that sees what `transaction`
/// sees (`pg_export_snapshot`).
async fn share_snapshot<'a>(
    transaction: &tokio_postgres::Transaction<'_>,
    helper: &'a mut tokio_postgres::Client,
) -> Result<tokio_postgres::Transaction<'a>, ExportError> {
    let snapshot: String = transaction
        .query_one("SELECT pg_export_snapshot()", &[])
        .await?
        .try_get(0)?;
    // SET TRANSACTION SNAPSHOT takes no parameter; the id is the server's
    // own, and nothing but hex digits and dashes is let through.
    if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ExportError::Snapshot(snapshot));
    }
    let shared = helper
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    shared
        .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
        .await?;
    Ok(shared)
}

/// Which records an export reads, for counting them and listing their
/// notes' keys.
struct Listing<'a> {
    table: &'static str,
    filter: &'static str,
    params: &'a [&'a (dyn ToSql + Sync)],
}

impl Listing<'_> {
    /// How many records, and every key of their import notes, sorted. The
    /// server lists the keys when every note is a JSON object (what imports
    /// write), in the same pass as the count; a note typed by hand that is
    /// not one makes it refuse, inside a savepoint, and the notes are then
    /// read here.
    async fn count_and_keys(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
    ) -> Result<(u64, Vec<String>), ExportError> {
        let (table, filter) = (self.table, self.filter);
        transaction
            .batch_execute("SAVEPOINT pantry_note_keys")
            .await?;
        let listed = transaction
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE j.ord IS NULL OR j.ord = 1), \
                       coalesce(array_agg(DISTINCT j.k) FILTER (WHERE j.k IS NOT NULL), '{{}}') \
                     FROM {table} t LEFT JOIN LATERAL jsonb_object_keys(CASE WHEN \
                       btrim(t.import_notes) <> '' THEN t.import_notes::jsonb END) \
                       WITH ORDINALITY AS j(k, ord) ON true \
                     WHERE {filter}"
                ),
                self.params,
            )
            .await;
        let (count, keys): (i64, std::collections::BTreeSet<String>) = match listed {
            Ok(row) => {
                transaction
                    .batch_execute("RELEASE SAVEPOINT pantry_note_keys")
                    .await?;
                let keys: Vec<String> = row.try_get(1)?;
                (row.try_get(0)?, keys.into_iter().collect())
            }
            Err(_) => {
                transaction
                    .batch_execute("ROLLBACK TO SAVEPOINT pantry_note_keys")
                    .await?;
                let count: i64 = transaction
                    .query_one(
                        &format!("SELECT count(*) FROM {table} t WHERE {filter}"),
                        self.params,
                    )
                    .await?
                    .try_get(0)?;
                (count, self.keys_here(transaction).await?)
            }
        };
        Ok((
            u64::try_from(count).unwrap_or(0),
            keys.into_iter().collect(),
        ))
    }

    /// The notes' keys read here, note by note.
    async fn keys_here(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
    ) -> Result<std::collections::BTreeSet<String>, ExportError> {
        let statement = transaction
            .prepare(&format!(
                "SELECT t.import_notes FROM {} t WHERE {} AND t.import_notes IS NOT NULL",
                self.table, self.filter
            ))
            .await?;
        let portal = transaction.bind(&statement, self.params).await?;
        let mut keys = std::collections::BTreeSet::new();
        loop {
            let rows = transaction.query_portal(&portal, FETCH_ROWS).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let text: Option<String> = row.try_get(0)?;
                keys.extend(notes_object(text).into_iter().map(|(key, _)| key));
            }
        }
        Ok(keys)
    }
}

/// The file's columns: the fields, the notes' keys written as columns of
/// their own, and the JSON column for the others.
struct Layout {
    fields: Vec<FieldColumn>,
    own: Vec<String>,
    notes_column: bool,
    headers: Vec<String>,
}

impl Layout {
    fn new(description: &EntityDescription, keys: Vec<String>) -> Layout {
        let fields = field_columns(description);
        let (own, original): (Vec<String>, Vec<String>) = keys
            .into_iter()
            .partition(|key| is_own_column(description, key));
        let mut headers: Vec<String> = fields.iter().map(|f| f.header.to_owned()).collect();
        headers.extend(own.iter().cloned());
        let notes_column = !original.is_empty();
        if notes_column {
            headers.push(IMPORT_NOTES_HEADER.to_owned());
        }
        Layout {
            fields,
            own,
            notes_column,
            headers,
        }
    }
}

/// Writes the rows as they come to `partial`.
async fn write_rows(
    rows: tokio_postgres::RowStream,
    layout: &Layout,
    format: ExportFormat,
    partial: &Path,
    progress: &ExportProgress,
) -> Result<u64, ExportError> {
    use futures_util::StreamExt;
    let mut sink = Sink::create(
        format,
        partial,
        &layout.headers,
        &layout.fields,
        layout.own.len(),
    )?;
    let mut written = 0u64;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        let mut cells = Vec::with_capacity(layout.headers.len());
        read_row(
            &row,
            &layout.fields,
            &layout.own,
            layout.notes_column,
            &mut cells,
        )?;
        sink.write_row(&cells)?;
        written += 1;
        if written.is_multiple_of(PROGRESS_ROWS) {
            if progress.cancelled.load(Ordering::Relaxed) {
                return Err(ExportError::Cancelled);
            }
            progress.written.store(written, Ordering::Relaxed);
        }
    }
    progress.written.store(written, Ordering::Relaxed);
    sink.finish()?;
    Ok(written)
}

/// A record's import notes as keys and values: the JSON object the import
/// writes, or text of another kind kept whole under [`IMPORT_NOTES_HEADER`].
pub(crate) fn notes_object(text: Option<String>) -> serde_json::Map<String, serde_json::Value> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return serde_json::Map::new();
    };
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => {
            let mut whole = serde_json::Map::new();
            whole.insert(
                IMPORT_NOTES_HEADER.to_owned(),
                serde_json::Value::String(text),
            );
            whole
        }
    }
}

/// Where the file is written until it is complete: beside `path`, so the
/// final rename stays on one file system.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Turns one database row into cells: the fields, the own note columns, the
/// JSON column.
fn read_row<'a>(
    row: &'a tokio_postgres::Row,
    fields: &[FieldColumn],
    own: &[String],
    notes_column: bool,
    cells: &mut Vec<Cell<'a>>,
) -> Result<(), ExportError> {
    for (index, field) in fields.iter().enumerate() {
        let cell = match field.kind {
            CellKind::Text => row
                .try_get::<_, Option<&str>>(index)?
                .map_or(Cell::Empty, |text| Cell::Text(text.into())),
            CellKind::Number => row
                .try_get::<_, Option<&str>>(index)?
                .map_or(Cell::Empty, Cell::Number),
            CellKind::Date => match row.try_get::<_, Option<&str>>(index)? {
                Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_or(Cell::Text(text.into()), Cell::Date),
                None => Cell::Empty,
            },
            CellKind::Moment => row
                .try_get::<_, Option<DateTime<Utc>>>(index)?
                .map_or(Cell::Empty, |moment| {
                    Cell::Moment(moment.with_timezone(&Local).naive_local())
                }),
        };
        cells.push(cell);
    }
    let notes = notes_object(row.try_get(fields.len())?);
    for key in own {
        cells.push(match notes.get(key) {
            Some(serde_json::Value::String(text)) => Cell::Text(text.clone().into()),
            Some(serde_json::Value::Null) | None => Cell::Empty,
            Some(other) => Cell::Text(other.to_string().into()),
        });
    }
    if notes_column {
        let originals: serde_json::Map<String, serde_json::Value> = notes
            .into_iter()
            .filter(|(key, _)| !own.contains(key))
            .collect();
        cells.push(if originals.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(serde_json::Value::Object(originals).to_string().into())
        });
    }
    Ok(())
}

/// A moment as the import reads it back: minutes, and seconds only when
/// there are some.
pub(crate) fn moment_text(moment: &chrono::NaiveDateTime) -> String {
    if moment.second() == 0 {
        moment.format("%Y-%m-%d %H:%M").to_string()
    } else {
        moment.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// The file being written.
enum Sink {
    Csv {
        writer: csv::Writer<std::io::BufWriter<std::fs::File>>,
        path: PathBuf,
        /// Reused for the text of a date.
        moment: String,
    },
    Xlsx {
        workbook: Box<rust_xlsxwriter::Workbook>,
        path: PathBuf,
        row: u32,
        date: rust_xlsxwriter::Format,
        minute: rust_xlsxwriter::Format,
        second: rust_xlsxwriter::Format,
    },
}

/// A date as Excel holds it (1900 to 9999; others fail the export).
fn excel_date(
    day: &NaiveDate,
) -> Result<rust_xlsxwriter::ExcelDateTime, rust_xlsxwriter::XlsxError> {
    use chrono::Datelike;
    let year = u16::try_from(day.year()).unwrap_or(0);
    rust_xlsxwriter::ExcelDateTime::from_ymd(year, day.month() as u8, day.day() as u8)
}

fn xlsx_error(path: &Path, error: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    }
}

impl Sink {
    fn create(
        format: ExportFormat,
        path: &Path,
        headers: &[String],
        fields: &[FieldColumn],
        own_notes: usize,
    ) -> Result<Sink, ExportError> {
        let write_error = |source| ExportError::Write {
            path: path.to_path_buf(),
            source,
        };
        match format {
            ExportFormat::Csv => {
                let file = std::fs::File::create(path).map_err(write_error)?;
                let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
                out.write_all("\u{feff}".as_bytes()).map_err(write_error)?;
                let mut writer = csv::Writer::from_writer(out);
                let header: Vec<String> = headers.iter().map(|h| neutralise_formula(h)).collect();
                writer
                    .write_record(&header)
                    .map_err(|e| write_error(std::io::Error::other(e)))?;
                Ok(Sink::Csv {
                    writer,
                    path: path.to_path_buf(),
                    moment: String::new(),
                })
            }
            ExportFormat::Xlsx => {
                let mut workbook = Box::new(rust_xlsxwriter::Workbook::new());
                let sheet = workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(|e| xlsx_error(path, e))?;
                let bold = rust_xlsxwriter::Format::new().set_bold();
                for (column, header) in headers.iter().enumerate() {
                    sheet
                        .write_string_with_format(0, column as u16, header, &bold)
                        .map_err(|e| xlsx_error(path, e))?;
                }
                // Wider columns for text, so a broker can read it at once.
                for (column, field) in fields.iter().enumerate() {
                    let width = match field.kind {
                        CellKind::Text => 22.0,
                        CellKind::Moment => 17.0,
                        CellKind::Date => 11.0,
                        CellKind::Number => 10.0,
                    };
                    sheet
                        .set_column_width(column as u16, width)
                        .map_err(|e| xlsx_error(path, e))?;
                }
                for column in fields.len()..fields.len() + own_notes {
                    sheet
                        .set_column_width(column as u16, 18.0)
                        .map_err(|e| xlsx_error(path, e))?;
                }
                Ok(Sink::Xlsx {
                    workbook,
                    path: path.to_path_buf(),
                    row: 0,
                    date: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
                    minute: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm"),
                    second: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
                })
            }
        }
    }

    fn write_row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        match self {
            Sink::Csv {
                writer,
                path,
                moment,
            } => {
                let error = |e: csv::Error| ExportError::Write {
                    path: path.clone(),
                    source: std::io::Error::other(e),
                };
                for cell in cells {
                    match cell {
                        Cell::Empty => writer.write_field(""),
                        Cell::Text(text) if needs_neutralising(text) => {
                            writer.write_field(neutralise_formula(text))
                        }
                        Cell::Text(text) => writer.write_field(text.as_bytes()),
                        Cell::Number(text) => writer.write_field(text),
                        Cell::Date(day) => {
                            moment.clear();
                            let _ = std::fmt::Write::write_fmt(
                                moment,
                                format_args!("{}", day.format("%Y-%m-%d")),
                            );
                            writer.write_field(moment.as_bytes())
                        }
                        Cell::Moment(at) => writer.write_field(moment_text(at)),
                    }
                    .map_err(error)?;
                }
                // An empty record ends the one the fields were written to.
                writer.write_record(None::<&[u8]>).map_err(error)
            }
            Sink::Xlsx {
                workbook,
                path,
                row,
                date,
                minute,
                second,
            } => {
                *row += 1;
                let sheet = workbook
                    .worksheet_from_index(0)
                    .map_err(|e| xlsx_error(path, e))?;
                for (column, cell) in cells.iter().enumerate() {
                    let column = column as u16;
                    let written = match cell {
                        Cell::Empty => continue,
                        Cell::Text(text) => {
                            sheet.write_string(*row, column, text.as_ref()).map(|_| ())
                        }
                        Cell::Number(text) => match text.parse::<f64>() {
                            Ok(number) => sheet.write_number(*row, column, number).map(|_| ()),
                            Err(_) => sheet.write_string(*row, column, *text).map(|_| ()),
                        },
                        // A date Excel cannot hold (before 1900) goes as text.
                        Cell::Date(day) => match excel_date(day) {
                            Ok(day) => sheet
                                .write_datetime_with_format(*row, column, day, date)
                                .map(|_| ()),
                            Err(_) => sheet
                                .write_string(*row, column, day.format("%Y-%m-%d").to_string())
                                .map(|_| ()),
                        },
                        Cell::Moment(moment) => {
                            let format = if moment.second() == 0 {
                                &*minute
                            } else {
                                &*second
                            };
                            let excel = excel_date(&moment.date()).and_then(|day| {
                                day.and_hms(
                                    moment.hour() as u16,
                                    moment.minute() as u8,
                                    moment.second(),
                                )
                            });
                            match excel {
                                Ok(excel) => sheet
                                    .write_datetime_with_format(*row, column, excel, format)
                                    .map(|_| ()),
                                Err(_) => sheet
                                    .write_string(*row, column, moment_text(moment))
                                    .map(|_| ()),
                            }
                        }
                    };
                    written.map_err(|e| xlsx_error(path, e))?;
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), ExportError> {
        match self {
            Sink::Csv { writer, path, .. } => {
                let out = writer.into_inner().map_err(|e| ExportError::Write {
                    path: path.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                let file = out.into_inner().map_err(|e| ExportError::Write {
                    path: path.clone(),
                    source: e.into_error(),
                })?;
                file.sync_all()
                    .map_err(|source| ExportError::Write { path, source })
            }
            Sink::Xlsx {
                mut workbook, path, ..
            } => workbook.save(&path).map_err(|e| xlsx_error(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::Entity;

    #[test]
    fn every_field_header_maps_back_to_its_field() {
        for entity in Entity::ALL {
            let description = entity.description();
            for field in exported_fields(description) {
                let index = description.field_for_header(field.label);
                assert_eq!(
                    index.map(|i| description.fields[i].column),
                    Some(field.column),
                    "{}: {}",
                    entity.name(),
                    field.label
                );
            }
        }
    }

    #[test]
    fn only_notes_that_come_back_as_notes_get_a_column() {
        let organizations = Entity::Organizations.description();
        assert!(is_own_column(organizations, "Territory"));
        assert!(is_own_column(organizations, "Internal ID"));
        // "Region" is the state in other words: kept in the JSON column, it
        // comes back as a note whatever its values.
        assert!(!is_own_column(organizations, "Region"));
        assert!(!is_own_column(organizations, "SEGMENT (as written)"));
        assert!(!is_own_column(organizations, "PHONE"));
        assert!(!is_own_column(organizations, "Import Notes"));
        assert!(!is_own_column(organizations, " Region"));
        let contacts = Entity::Contacts.description();
        assert!(!is_own_column(contacts, "Organization"));
    }

    #[test]
    fn moments_show_seconds_only_when_there_are_some() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 14).expect("a date");
        let at = |h, m, s| day.and_hms_opt(h, m, s).expect("a time");
        assert_eq!(moment_text(&at(14, 30, 0)), "2026-03-14 14:30");
        assert_eq!(moment_text(&at(14, 30, 5)), "2026-03-14 14:30:05");
    }

    #[test]
    fn the_format_follows_the_extension() {
        assert_eq!(
            ExportFormat::of(Path::new("a.CSV")).ok(),
            Some(ExportFormat::Csv)
        );
        assert_eq!(
            ExportFormat::of(Path::new("a.xlsx")).ok(),
            Some(ExportFormat::Xlsx)
        );
        assert!(ExportFormat::of(Path::new("a.xls")).is_err());
    }
}
