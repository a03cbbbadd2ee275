//! Verification after an import (SPEC.md, "Export and verification"): what
//! one import stored, counted by query in the database rather than taken
//! from the program's own messages; the distributions of the stored rows'
//! charted fields; a random sample of stored rows beside their spreadsheet
//! rows, cell by cell; and the links that ended empty although the file
//! named a record.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::entity::{Entity, EntityDescription, FieldKind, FieldSpec};
use crate::export::{field_text_sql, moment_text, notes_object};
use crate::mapping::ColumnMap;
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{ReadError, SheetRow, Spreadsheet};

/// Stored rows shown beside their spreadsheet rows.
pub const SAMPLE_ROWS: i64 = 10;

/// Links that ended empty, listed at most.
const EMPTY_LINKS_LISTED: i64 = 1_000;

/// What went wrong verifying an import.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No import has that number.
    #[error("there is no import {0}; `pantry-import history` lists them")]
    NoSuchImport(i64),
    /// The database refused a query or went away.
    #[error("reading from the database: {}", crate::database::database_reason(.0))]
    Database(tokio_postgres::Error),
    /// The history names an entity this program does not know.
    #[error("import {import} stored '{entity}', which this version does not know")]
    UnknownEntity {
        /// The import.
        import: i64,
        /// What the history says.
        entity: String,
    },
    /// The spreadsheet given is not the one the import read.
    #[error(
        "{path} is not the file import {import} read ({file_name}); its content differs",
        path = path.display()
    )]
    OtherFile {
        /// The import.
        import: i64,
        /// The file given.
        path: std::path::PathBuf,
        /// The file the import read.
        file_name: String,
    },
    /// The spreadsheet could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl From<tokio_postgres::Error> for VerifyError {
    fn from(error: tokio_postgres::Error) -> Self {
        VerifyError::Database(error)
    }
}

/// What one import stored, as the database says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The import.
    pub import: i64,
    /// What it stored.
    pub entity: Entity,
    /// The file's name.
    pub file_name: String,
    /// Its worksheet, empty for text files.
    pub sheet: String,
    /// Data rows the import read from the file (`None` while unfinished).
    pub file_rows: Option<u64>,
    /// Live records the import created, counted in the table.
    pub stored_rows: u64,
    /// Rows refused, as the import recorded them.
    pub failed_rows: u64,
    /// Rows that matched a CRM record and were skipped, counted in the
    /// import's match records.
    pub skipped_rows: u64,
    /// Rows that updated the record they matched, counted likewise.
    pub updated_rows: u64,
    /// Records the import created that were undone since.
    pub undone_rows: u64,
    /// By charted field's header: each stored value (empty: none) and how
    /// many stored rows hold it, most first.
    pub distributions: BTreeMap<String, BTreeMap<String, u64>>,
    /// The same, in chart order: most first.
    #[serde(skip)]
    pub charts: Vec<Distribution>,
    /// Stored rows whose link is empty although the file named a record.
    pub empty_links: Vec<EmptyLink>,
    /// A random sample of stored rows, by row number.
    pub sample: Vec<SampleRow>,
}

impl Verification {
    /// The JSON of SPEC.md's headless contract.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// One charted field's values among the stored rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    /// The field's header.
    pub field: String,
    /// Each value and its count, most first.
    pub values: Vec<(String, u64)>,
}

/// A stored row whose link ended empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptyLink {
    /// Spreadsheet row number.
    pub row: u64,
    /// The link's header.
    pub column: String,
    /// The name the file gave, kept in import notes.
    pub name: String,
}

/// One stored row beside its spreadsheet row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleRow {
    /// Spreadsheet row number.
    pub row: u64,
    /// Field by field.
    pub cells: Vec<SampleCell>,
}

/// One field of a sample row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleCell {
    /// The field's header.
    pub field: String,
    /// What the CRM holds, as an export writes it.
    pub stored: String,
    /// The spreadsheet's cell, when the file was given and has the column.
    pub file: Option<String>,
    /// Whether they read the same, ignoring case and surrounding spaces
    /// (the rules change some values on purpose: `casual` is stored as
    /// `Casual Dining`).
    pub same: bool,
}

/// The import's row of the history, as verification needs it.
struct Batch {
    entity: Entity,
    file_name: String,
    sheet: String,
    fingerprint: String,
    total_rows: Option<i32>,
    failed: i32,
    mapping: SavedMapping,
}

async fn batch(client: &tokio_postgres::Client, import: i64) -> Result<Batch, VerifyError> {
    let row = client
        .query_opt(
            "SELECT entity, file_name, sheet, file_fingerprint, total_rows, failed, mapping::text \
             FROM import_batches WHERE id = $1",
            &[&import],
        )
        .await?
        .ok_or(VerifyError::NoSuchImport(import))?;
    let entity: String = row.try_get(0)?;
    let mapping: Option<String> = row.try_get(6)?;
    Ok(Batch {
        entity: entity
            .parse()
            .map_err(|_| VerifyError::UnknownEntity { import, entity })?,
        file_name: row.try_get(1)?,
        sheet: row.try_get(2)?,
        fingerprint: row.try_get(3)?,
        total_rows: row.try_get(4)?,
        failed: row.try_get(5)?,
        mapping: mapping
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default(),
    })
}

/// Verifies import `import`. With `file` (the spreadsheet it read, checked
/// by content), the sample shows each stored row beside its cells.
pub async fn verify(
    client: &tokio_postgres::Client,
    import: i64,
    file: Option<&Path>,
) -> Result<Verification, VerifyError> {
    let batch = batch(client, import).await?;
    let description = batch.entity.description();
    let table = description.table;
    let counts = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE deleted_at IS NULL), \
                 count(*) FILTER (WHERE deleted_at IS NOT NULL), \
                 (SELECT count(*) FROM import_matches m WHERE m.import_batch_id = $1 AND m.action = 'skipped'), \
                 (SELECT count(*) FROM import_matches m WHERE m.import_batch_id = $1 AND m.action = 'updated') \
                 FROM {table} WHERE import_batch_id = $1"
            ),
            &[&import],
        )
        .await?;
    let count = |index: usize| -> Result<u64, VerifyError> {
        Ok(counts.try_get::<_, i64>(index)?.max(0) as u64)
    };
    let charts = distributions(client, description, import).await?;
    let distributions = charts
        .iter()
        .map(|chart| {
            (
                chart.field.clone(),
                chart.values.iter().cloned().collect::<BTreeMap<_, _>>(),
            )
        })
        .collect();
    let empty_links = empty_links(client, description, import, &batch.mapping).await?;
    let mut sample = sample(client, description, import).await?;
    if let Some(path) = file {
        if crate::history::fingerprint(path)? != batch.fingerprint {
            return Err(VerifyError::OtherFile {
                import,
                path: path.to_path_buf(),
                file_name: batch.file_name,
            });
        }
        put_file_cells(path, &batch, &mut sample)?;
    }
    Ok(Verification {
        import,
        entity: batch.entity,
        file_rows: batch.total_rows.map(|rows| rows.max(0) as u64),
        stored_rows: count(0)?,
        undone_rows: count(1)?,
        skipped_rows: count(2)?,
        updated_rows: count(3)?,
        failed_rows: batch.failed.max(0) as u64,
        file_name: batch.file_name,
        sheet: batch.sheet,
        distributions,
        charts,
        empty_links,
        sample,
    })
}

async fn distributions(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
    import: i64,
) -> Result<Vec<Distribution>, VerifyError> {
    let mut charts = Vec::new();
    for column in description.charted {
        let Some(field) = description
            .field_index(column)
            .map(|i| &description.fields[i])
        else {
            continue;
        };
        let rows = client
            .query(
                &format!(
                    "SELECT coalesce({}, ''), count(*) FROM {} t \
                     WHERE t.import_batch_id = $1 AND t.deleted_at IS NULL \
                     GROUP BY 1 ORDER BY 2 DESC, 1",
                    field_text_sql(field),
                    description.table
                ),
                &[&import],
            )
            .await?;
        let values = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<_, String>(0)?,
                    row.try_get::<_, i64>(1)?.max(0) as u64,
                ))
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
        charts.push(Distribution {
            field: field.label.to_owned(),
            values,
        });
    }
    Ok(charts)
}

/// Rows whose link is empty while import notes keep a name under a header
/// that fills that link (the import keeps the name there when it leaves a
/// link empty).
async fn empty_links(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
    import: i64,
    mapping: &SavedMapping,
) -> Result<Vec<EmptyLink>, VerifyError> {
    let mut found = Vec::new();
    for (index, field) in description.fields.iter().enumerate() {
        if field.link().is_none() {
            continue;
        }
        let rows = client
            .query(
                &format!(
                    "SELECT import_source_row, import_notes FROM {} \
                     WHERE import_batch_id = $1 AND deleted_at IS NULL \
                     AND {} IS NULL AND import_notes IS NOT NULL \
                     ORDER BY import_source_row LIMIT $2",
                    description.table, field.column
                ),
                &[&import, &EMPTY_LINKS_LISTED],
            )
            .await?;
        for row in rows {
            let number: Option<i32> = row.try_get(0)?;
            let notes = notes_object(row.try_get(1)?);
            let named = notes.iter().find_map(|(key, value)| {
                let fills = match mapping.columns.get(key) {
                    Some(target) => target.as_deref() == Some(field.column),
                    None => description.field_for_header(key) == Some(index),
                };
                match value {
                    serde_json::Value::String(name) if fills => Some(name.clone()),
                    _ => None,
                }
            });
            if let Some(name) = named {
                found.push(EmptyLink {
                    row: number.map_or(0, |n| n.max(0) as u64),
                    column: field.label.to_owned(),
                    name,
                });
            }
        }
    }
    found.sort_by(|a, b| (a.row, &a.column).cmp(&(b.row, &b.column)));
    Ok(found)
}

async fn sample(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
    import: i64,
) -> Result<Vec<SampleRow>, VerifyError> {
    let fields: Vec<_> = description.stored_fields().collect();
    // Moments are read as they are and written in this machine's time
    // zone, as the import read them and the export writes them.
    let moment = |field: &FieldSpec| matches!(field.kind, FieldKind::DateTime);
    let select: Vec<String> = fields
        .iter()
        .map(|field| match moment(field) {
            true => format!("t.{}", field.column),
            false => format!("coalesce({}, '')", field_text_sql(field)),
        })
        .collect();
    let rows = client
        .query(
            &format!(
                "SELECT * FROM (SELECT t.import_source_row, {} FROM {} t \
                 WHERE t.import_batch_id = $1 AND t.deleted_at IS NULL \
                 ORDER BY random() LIMIT $2) s ORDER BY 1",
                select.join(", "),
                description.table
            ),
            &[&import, &SAMPLE_ROWS],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let number: Option<i32> = row.try_get(0)?;
            let cells = fields
                .iter()
                .enumerate()
                .map(|(index, field)| {
                    let stored = match moment(field) {
                        true => row
                            .try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(index + 1)?
                            .map(|at| moment_text(&at.with_timezone(&chrono::Local).naive_local()))
                            .unwrap_or_default(),
                        false => row.try_get(index + 1)?,
                    };
                    Ok(SampleCell {
                        field: field.label.to_owned(),
                        stored,
                        file: None,
                        same: false,
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            Ok(SampleRow {
                row: number.map_or(0, |n| n.max(0) as u64),
                cells,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(VerifyError::from)
}

/// Reads the sample's rows from the file and puts each field's cell beside
/// its stored value, with the columns mapped as the import mapped them.
fn put_file_cells(path: &Path, batch: &Batch, sample: &mut [SampleRow]) -> Result<(), ReadError> {
    let Some(last) = sample.iter().map(|row| row.row).max() else {
        return Ok(());
    };
    let sheet = (!batch.sheet.is_empty()).then_some(batch.sheet.as_str());
    let mut spreadsheet = Spreadsheet::open_with_header(path, sheet, batch.mapping.header_row)?;
    let columns = ColumnMap::with_choices(batch.entity, spreadsheet.headers(), &batch.mapping);
    let description = batch.entity.description();
    let full_name = description
        .fields
        .iter()
        .position(|f| matches!(f.kind, FieldKind::FullName))
        .and_then(|i| columns.column_of(i));
    // An error report's rows are stored under the row they came from.
    let original = columns.original_row_column();
    let mut row = SheetRow::default();
    while spreadsheet.read_row(&mut row)? && (original.is_some() || row.number <= last) {
        let number = original
            .and_then(|column| row.get(column).trim().parse::<u64>().ok())
            .unwrap_or(row.number);
        let Some(shown) = sample.iter_mut().find(|s| s.row == number) else {
            continue;
        };
        for (field, cell) in description.stored_fields().zip(shown.cells.iter_mut()) {
            let column = description
                .field_index(field.column)
                .and_then(|i| columns.column_of(i))
                .or(match field.column {
                    "first_name" | "last_name" => full_name,
                    _ => None,
                });
            if let Some(column) = column {
                let text = row.get(column).trim().to_owned();
                cell.same = text.to_lowercase() == cell.stored.trim().to_lowercase();
                cell.file = Some(text);
            }
        }
    }
    Ok(())
}
