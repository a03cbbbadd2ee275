//! Fixes to records already in the CRM (SPEC.md, "Data quality in the
//! CRM"): clean-ups applied to stored values, and duplicate merges. Each is
//! one entry of the import history, with every record it changed kept as
//! it was before (`import_matches.previous`), so `undo` puts it all back.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::clean::CleanUp;
use crate::entity::{Entity, EntityDescription};

/// Why a fix was not made.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// A merge needs two records or more.
    #[error("a merge needs at least two different records")]
    TooFew,
    /// An id names no record of the entity.
    #[error("there is no {entity} with the id {id}")]
    NoSuchRecord {
        /// The entity.
        entity: &'static str,
        /// The id given.
        id: Uuid,
    },
    /// A record was deleted already.
    #[error("'{0}' is deleted; only live records can be merged")]
    Deleted(String),
    /// `--keep` names a record outside the group.
    #[error("the record to keep ({0}) is not one of the records to merge")]
    KeepNotInGroup(Uuid),
    /// A record changed after the audit the merge was chosen from.
    #[error(
        "'{shown}' was changed at {at}, after the check the merge was chosen from; check again before merging"
    )]
    ChangedSince {
        /// How the record shows.
        shown: String,
        /// When it changed.
        at: String,
    },
    /// The database refused or failed.
    #[error("{0}")]
    Database(String),
}

impl From<tokio_postgres::Error> for FixError {
    fn from(error: tokio_postgres::Error) -> Self {
        FixError::Database(crate::database::database_reason(&error))
    }
}

/// The columns that link to records of `entity`, as `(table, column)`:
/// what a merge moves to its survivor (contacts, products, opportunities,
/// interactions, parent organizations), from the entities' descriptions.
pub fn links_to(entity: Entity) -> Vec<(&'static str, &'static str)> {
    Entity::ALL
        .iter()
        .flat_map(|other| {
            let description = other.description();
            description
                .fields
                .iter()
                .filter(move |f| f.link().is_some_and(|t| t.entity == entity))
                .map(move |f| (description.table, f.column))
        })
        .collect()
}

/// A merge to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// Whose records.
    pub entity: Entity,
    /// The records, two or more.
    pub ids: Vec<Uuid>,
    /// The survivor (default: the most complete record, then the oldest).
    pub keep: Option<Uuid>,
    /// Refuse when a record changed after this instant (the
    /// [`crate::audit::Audit::as_of`] the group was shown from).
    pub unchanged_since: Option<String>,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// The history entry: `undo` takes this number.
    pub entry: i64,
    /// The record kept.
    pub survivor: Uuid,
    /// How it shows now.
    pub survivor_shown: String,
    /// The records merged into it and soft-deleted, as they showed.
    pub merged: Vec<(Uuid, String)>,
    /// Fields the survivor took from the others (it had them empty).
    pub filled: Vec<String>,
    /// Records of any entity whose link moved to the survivor.
    pub links_moved: u64,
}

/// One record of a merge as it was before.
struct Before {
    id: Uuid,
    shown: String,
    row: Map<String, Json>,
    deleted: bool,
    changed_after: Option<String>,
}

/// Merges `request.ids` into one survivor: it takes the others' values
/// where its own are empty, every link to the others moves to it, the
/// others are soft-deleted; all in one transaction, recorded for `undo`.
pub async fn merge(
    client: &mut tokio_postgres::Client,
    request: &MergeRequest,
) -> Result<MergeReport, FixError> {
    let description = request.entity.description();
    let mut ids: Vec<Uuid> = Vec::new();
    for id in &request.ids {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    if ids.len() < 2 {
        return Err(FixError::TooFew);
    }
    let transaction = client.transaction().await?;
    let records = read_before(&transaction, description, &ids, request).await?;
    let survivor = choose_survivor(description, &records, request.keep)?;
    let others: Vec<Uuid> = ids.iter().copied().filter(|id| *id != survivor).collect();
    let (merged_row, filled) = merged_values(description, &records, survivor, &ids);
    let survivor_shown = records
        .iter()
        .find(|r| r.id == survivor)
        .map(|r| r.shown.clone())
        .unwrap_or_default();
    let title: Vec<&str> = records
        .iter()
        .filter(|r| r.id != survivor)
        .map(|r| r.shown.as_str())
        .collect();
    let entry: i64 = transaction
        .query_typed_one(
            "INSERT INTO import_batches (entity, kind, file_name, file_fingerprint, sheet, on_duplicate, total_rows) \
             VALUES ($1, 'merge', $2, '', '', 'update', $3) RETURNING id",
            &[
                (&description.table, Type::TEXT),
                (
                    &crate::values::shorten(&format!("merge into {survivor_shown}: {}", title.join(", "))),
                    Type::TEXT,
                ),
                (&i32::try_from(ids.len()).unwrap_or(i32::MAX), Type::INT4),
            ],
        )
        .await?
        .try_get(0)?;
    let links_moved =
        record_and_relink(&transaction, request.entity, entry, survivor, &ids).await?;
    record_and_fill(
        &transaction,
        description,
        entry,
        survivor,
        &others,
        merged_row,
    )
    .await?;
    transaction
        .execute_typed(
            "UPDATE import_batches SET status = 'finished', finished_at = now(), \
             succeeded = 0, updated = $2 WHERE id = $1",
            &[
                (&entry, Type::INT8),
                (&i32::try_from(ids.len()).unwrap_or(i32::MAX), Type::INT4),
            ],
        )
        .await?;
    let survivor_shown: String = transaction
        .query_typed_one(
            &format!(
                "SELECT coalesce(({}), '') FROM {} WHERE id = $1",
                description.shown, description.table
            ),
            &[(&survivor, Type::UUID)],
        )
        .await?
        .try_get(0)?;
    transaction.commit().await?;
    Ok(MergeReport {
        entry,
        survivor,
        survivor_shown,
        merged: records
            .into_iter()
            .filter(|r| r.id != survivor)
            .map(|r| (r.id, r.shown))
            .collect(),
        filled,
        links_moved,
    })
}

/// The records as they are, locked, in the order given; refused when one
/// is missing, deleted, or changed after `request.unchanged_since`.
async fn read_before(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    ids: &[Uuid],
    request: &MergeRequest,
) -> Result<Vec<Before>, FixError> {
    let since = request.unchanged_since.clone();
    let rows = transaction
        .query_typed(
            &format!(
                "SELECT t.id, coalesce(({shown}), ''), to_jsonb(t)::text, t.deleted_at IS NOT NULL, \
                 CASE WHEN t.updated_at > $2::text::timestamptz THEN to_char(t.updated_at, 'YYYY-MM-DD HH24:MI:SS') END \
                 FROM {table} t WHERE t.id = ANY($1) FOR UPDATE",
                shown = description.shown,
                table = description.table,
            ),
            &[(&ids, Type::UUID_ARRAY), (&since, Type::TEXT)],
        )
        .await?;
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        let row = rows
            .iter()
            .find(|row| row.try_get::<_, Uuid>(0).ok() == Some(*id))
            .ok_or(FixError::NoSuchRecord {
                entity: description.entity.singular(),
                id: *id,
            })?;
        let Ok(Json::Object(values)) = serde_json::from_str::<Json>(row.try_get(2)?) else {
            return Err(FixError::Database("to_jsonb gave no object".to_owned()));
        };
        records.push(Before {
            id: *id,
            shown: row.try_get(1)?,
            row: values,
            deleted: row.try_get(3)?,
            changed_after: row.try_get(4)?,
        });
    }
    for record in &records {
        if record.deleted {
            return Err(FixError::Deleted(record.shown.clone()));
        }
        if let Some(at) = &record.changed_after {
            return Err(FixError::ChangedSince {
                shown: record.shown.clone(),
                at: at.clone(),
            });
        }
    }
    Ok(records)
}

/// Whether a stored value counts as empty: NULL, or text of spaces.
fn is_empty(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => true,
        Some(Json::String(text)) => text.trim().is_empty(),
        Some(_) => false,
    }
}

/// The survivor: the one asked for, else the record with the most fields
/// filled (the first given among equals).
fn choose_survivor(
    description: &EntityDescription,
    records: &[Before],
    keep: Option<Uuid>,
) -> Result<Uuid, FixError> {
    if let Some(keep) = keep {
        return records
            .iter()
            .any(|r| r.id == keep)
            .then_some(keep)
            .ok_or(FixError::KeepNotInGroup(keep));
    }
    let filled = |record: &Before| {
        description
            .stored_fields()
            .filter(|f| !is_empty(record.row.get(f.column)))
            .count()
    };
    records
        .iter()
        .enumerate()
        .max_by_key(|(i, r)| (filled(r), std::cmp::Reverse(*i)))
        .map(|(_, r)| r.id)
        .ok_or(FixError::TooFew)
}

/// The survivor's row with the others' values where its own are empty (the
/// first record given that has one), and the labels of the fields filled.
/// A link to a record of the group itself (a parent merged into its child)
/// is dropped: a record cannot link to itself. Import notes are joined,
/// the survivor's keys first.
fn merged_values(
    description: &EntityDescription,
    records: &[Before],
    survivor: Uuid,
    group: &[Uuid],
) -> (Map<String, Json>, Vec<String>) {
    let Some(kept) = records.iter().find(|r| r.id == survivor) else {
        return (Map::new(), Vec::new());
    };
    let mut row = kept.row.clone();
    let mut filled = Vec::new();
    let in_group = |value: &Json| {
        value
            .as_str()
            .and_then(|v| v.parse::<Uuid>().ok())
            .is_some_and(|id| group.contains(&id))
    };
    for field in description.stored_fields() {
        let own = row.get(field.column).cloned().unwrap_or(Json::Null);
        if field.link().is_some() && in_group(&own) {
            row.insert(field.column.to_owned(), Json::Null);
        }
        if !is_empty(row.get(field.column)) {
            continue;
        }
        let taken = records
            .iter()
            .filter(|r| r.id != survivor)
            .filter_map(|r| r.row.get(field.column))
            .find(|value| !(is_empty(Some(value)) || field.link().is_some() && in_group(value)));
        if let Some(value) = taken {
            row.insert(field.column.to_owned(), value.clone());
            filled.push(field.label.to_owned());
        }
    }
    // The survivor's notes first: its keys win.
    let notes = joined_notes(
        std::iter::once(kept)
            .chain(records.iter().filter(|r| r.id != survivor))
            .filter_map(|r| r.row.get("import_notes")),
    );
    row.insert("import_notes".to_owned(), notes);
    (row, filled)
}

/// Import notes of several records as one: JSON objects joined (earlier
/// keys win), text that is not one kept under its own key.
fn joined_notes<'a>(notes: impl Iterator<Item = &'a Json>) -> Json {
    let mut joined = Map::new();
    let mut texts = 0;
    for note in notes {
        let Some(text) = note.as_str().filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(object)) => {
                for (key, value) in object {
                    joined.entry(key).or_insert(value);
                }
            }
            _ => {
                // A key no note holds yet: an earlier merge's text stays.
                let key = loop {
                    texts += 1;
                    let key = if texts == 1 {
                        "notes before the merge".to_owned()
                    } else {
                        format!("notes before the merge ({texts})")
                    };
                    if !joined.contains_key(&key) {
                        break key;
                    }
                };
                joined.insert(key, Json::String(text.to_owned()));
            }
        }
    }
    if joined.is_empty() {
        Json::Null
    } else {
        Json::String(Json::Object(joined).to_string())
    }
}

/// Records every record linking to the group (its row before) and moves
/// its link to the survivor. Records of the group itself are left to
/// [`record_and_fill`]. Returns how many links moved.
async fn record_and_relink(
    transaction: &tokio_postgres::Transaction<'_>,
    entity: Entity,
    entry: i64,
    survivor: Uuid,
    group: &[Uuid],
) -> Result<u64, FixError> {
    let others: Vec<Uuid> = group.iter().copied().filter(|id| *id != survivor).collect();
    let mut moved = 0;
    for (table, column) in links_to(entity) {
        let linking: Entity = table
            .parse()
            .map_err(|e: crate::entity::UnknownEntity| FixError::Database(e.to_string()))?;
        moved += transaction
            .query_typed_one(
                &format!(
                    "WITH linking AS (SELECT t.* FROM {table} t \
                       WHERE t.{column} = ANY($2) AND t.id <> ALL($3) FOR UPDATE), \
                     recorded AS (INSERT INTO import_matches \
                       (import_batch_id, source_row, record_id, action, previous, record_entity) \
                       SELECT $1, 0, l.id, 'updated', to_jsonb(l), $5 FROM linking l), \
                     moved AS (UPDATE {table} t SET {column} = $4 FROM linking l \
                       WHERE t.id = l.id RETURNING t.id) \
                     SELECT count(*) FROM moved"
                ),
                &[
                    (&entry, Type::INT8),
                    (&others, Type::UUID_ARRAY),
                    (&group, Type::UUID_ARRAY),
                    (&survivor, Type::UUID),
                    (&linking.name(), Type::TEXT),
                ],
            )
            .await?
            .try_get::<_, i64>(0)?;
    }
    Ok(u64::try_from(moved).unwrap_or(0))
}

/// Records the group's records as they are, gives the survivor its merged
/// values and soft-deletes the others.
async fn record_and_fill(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    entry: i64,
    survivor: Uuid,
    others: &[Uuid],
    merged_row: Map<String, Json>,
) -> Result<(), FixError> {
    let table = description.table;
    transaction
        .execute_typed(
            &format!(
                "INSERT INTO import_matches (import_batch_id, source_row, record_id, action, previous) \
                 SELECT $1, 0, t.id, CASE WHEN t.id = $2 THEN 'updated' ELSE 'merged' END, to_jsonb(t) \
                 FROM {table} t WHERE t.id = $2 OR t.id = ANY($3)"
            ),
            &[
                (&entry, Type::INT8),
                (&survivor, Type::UUID),
                (&others, Type::UUID_ARRAY),
            ],
        )
        .await?;
    let columns: Vec<&str> = description
        .stored_fields()
        .map(|f| f.column)
        .chain(["import_notes"])
        .collect();
    let sources: Vec<String> = columns.iter().map(|c| format!("p.{c}")).collect();
    transaction
        .execute_typed(
            &format!(
                "UPDATE {table} t SET ({}) = ({}) \
                 FROM jsonb_populate_record(NULL::{table}, $2::text::jsonb) p WHERE t.id = $1",
                columns.join(", "),
                sources.join(", ")
            ),
            &[
                (&survivor, Type::UUID),
                (&Json::Object(merged_row).to_string(), Type::TEXT),
            ],
        )
        .await?;
    transaction
        .execute_typed(
            &format!("UPDATE {table} SET deleted_at = now() WHERE id = ANY($1)"),
            &[(&others, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(())
}

/// What applying clean-ups to one entity's records did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanUpReport {
    /// The entity.
    pub entity: Entity,
    /// The history entry (`None` when nothing needed cleaning).
    pub entry: Option<i64>,
    /// Records changed.
    pub records: u64,
    /// Values changed, by kind.
    pub values: BTreeMap<CleanUp, u64>,
}

/// Records changed in one statement of a clean-up.
const CLEAN_UP_CHUNK: usize = 5_000;

/// Applies the clean-up `kinds` to the live records of `entity`: each
/// changed value's original goes to import notes (`"Phone (as written)"`,
/// as an import keeps it), each changed record's row before into the
/// history, so `undo` gives every value back. One history entry, one
/// transaction.
pub async fn apply_clean_ups(
    client: &mut tokio_postgres::Client,
    entity: Entity,
    kinds: &BTreeSet<CleanUp>,
) -> Result<CleanUpReport, FixError> {
    let description = entity.description();
    let fields: Vec<_> = description
        .stored_fields()
        .filter(|f| kinds.iter().any(|k| k.applies_to(f)))
        .collect();
    let mut report = CleanUpReport {
        entity,
        entry: None,
        records: 0,
        values: BTreeMap::new(),
    };
    if fields.is_empty() {
        return Ok(report);
    }
    let transaction = client.transaction().await?;
    let entry: i64 = transaction
        .query_typed_one(
            "INSERT INTO import_batches (entity, kind, file_name, file_fingerprint, sheet, on_duplicate, total_rows) \
             VALUES ($1, 'clean-up', $2, '', '', 'update', 0) RETURNING id",
            &[
                (&description.table, Type::TEXT),
                (
                    &format!(
                        "clean-up: {}",
                        kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
                    ),
                    Type::TEXT,
                ),
            ],
        )
        .await?
        .try_get(0)?;
    let changes = cleaned_records(&transaction, description, &fields, kinds, &mut report).await?;
    for chunk in changes.chunks(CLEAN_UP_CHUNK) {
        write_clean_ups(&transaction, description, &fields, entry, chunk).await?;
    }
    report.records = changes.len() as u64;
    if report.records == 0 {
        transaction.rollback().await?;
        return Ok(report);
    }
    let records = i32::try_from(report.records).unwrap_or(i32::MAX);
    transaction
        .execute_typed(
            "UPDATE import_batches SET status = 'finished', finished_at = now(), \
             total_rows = $2, updated = $2 WHERE id = $1",
            &[(&entry, Type::INT8), (&records, Type::INT4)],
        )
        .await?;
    transaction.commit().await?;
    report.entry = Some(entry);
    Ok(report)
}

/// One record a clean-up changes: its new values (`None`: unchanged) in
/// the fields' order, and its import notes with the originals added.
struct CleanedRecord {
    id: Uuid,
    values: Vec<Option<String>>,
    notes: String,
}

/// Reads the live records and keeps those the kinds change.
async fn cleaned_records(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    fields: &[&crate::entity::FieldSpec],
    kinds: &BTreeSet<CleanUp>,
    report: &mut CleanUpReport,
) -> Result<Vec<CleanedRecord>, FixError> {
    let columns: Vec<String> = fields
        .iter()
        .map(|f| format!("t.{}::text", f.column))
        .collect();
    let rows = transaction
        .query_typed_raw(
            &format!(
                "SELECT t.id, t.import_notes, {} FROM {} t WHERE t.deleted_at IS NULL ORDER BY t.id",
                columns.join(", "),
                description.table
            ),
            std::iter::empty::<(&(dyn ToSql + Sync), Type)>(),
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    let mut changed = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row?;
        let mut values = Vec::with_capacity(fields.len());
        let mut originals = Map::new();
        for (offset, field) in fields.iter().enumerate() {
            let value: Option<&str> = row.try_get(offset + 2)?;
            let after = value.and_then(|cell| {
                let mut current: Option<String> = None;
                for kind in kinds.iter().filter(|k| k.applies_to(field)) {
                    if let Some(after) = kind.apply(current.as_deref().unwrap_or(cell)) {
                        *report.values.entry(*kind).or_default() += 1;
                        current = Some(after);
                    }
                }
                current
            });
            if let (Some(before), Some(_)) = (value, &after) {
                originals.insert(
                    format!("{} (as written)", field.label),
                    Json::String(before.to_owned()),
                );
            }
            values.push(after);
        }
        if originals.is_empty() {
            continue;
        }
        let notes: Option<&str> = row.try_get(1)?;
        changed.push(CleanedRecord {
            id: row.try_get(0)?,
            values,
            notes: notes_with_originals(notes, originals),
        });
    }
    Ok(changed)
}

/// `notes` with `originals` added, keys already there kept (a record
/// cleaned twice keeps what it was first written as).
fn notes_with_originals(notes: Option<&str>, originals: Map<String, Json>) -> String {
    let mut object = match notes.filter(|n| !n.trim().is_empty()) {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(object)) => object,
            _ => {
                let mut object = Map::new();
                object.insert(
                    "notes before the clean-up".to_owned(),
                    Json::String(text.to_owned()),
                );
                object
            }
        },
    };
    for (key, value) in originals {
        object.entry(key).or_insert(value);
    }
    Json::Object(object).to_string()
}

/// Writes one chunk of cleaned records, each recorded as it was first.
async fn write_clean_ups(
    transaction: &tokio_postgres::Transaction<'_>,
    description: &EntityDescription,
    fields: &[&crate::entity::FieldSpec],
    entry: i64,
    chunk: &[CleanedRecord],
) -> Result<(), FixError> {
    let ids: Vec<Uuid> = chunk.iter().map(|r| r.id).collect();
    let notes: Vec<&str> = chunk.iter().map(|r| r.notes.as_str()).collect();
    // One array per field: its new value, or NULL to keep the stored one.
    let values: Vec<Vec<Option<&str>>> = (0..fields.len())
        .map(|i| chunk.iter().map(|r| r.values[i].as_deref()).collect())
        .collect();
    let mut parameters: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&entry, Type::INT8),
        (&ids, Type::UUID_ARRAY),
        (&notes, Type::TEXT_ARRAY),
    ];
    for field_values in &values {
        parameters.push((field_values, Type::TEXT_ARRAY));
    }
    let unnested: Vec<String> = (0..fields.len())
        .map(|i| format!("${}::text[]", i + 4))
        .collect();
    let names: Vec<String> = (0..fields.len()).map(|i| format!("v{i}")).collect();
    let sets: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{0} = coalesce(c.v{i}, t.{0})", f.column))
        .collect();
    let table = description.table;
    transaction
        .execute_typed(
            &format!(
                "WITH c AS (SELECT * FROM unnest($2::uuid[], $3::text[], {unnested}) AS c(id, notes, {names})), \
                 recorded AS (INSERT INTO import_matches (import_batch_id, source_row, record_id, action, previous) \
                   SELECT $1, 0, t.id, 'updated', to_jsonb(t) FROM {table} t JOIN c ON c.id = t.id) \
                 UPDATE {table} t SET {sets}, import_notes = c.notes FROM c WHERE t.id = c.id",
                unnested = unnested.join(", "),
                names = names.join(", "),
                sets = sets.join(", "),
            ),
            &parameters,
        )
        .await?;
    Ok(())
}
