//! A sync in the database (migration V11): its run, its passes, the rows it
//! knows, and the records its passes wrote or soft-deleted. Tables and
//! columns come from the entities' descriptions; values travel only as
//! parameters.

use std::collections::HashMap;

use tokio_postgres::types::Type;

use super::rows::{CrmRecord, RowState, SyncRows};
use crate::entity::{Entity, EntityDescription};
use crate::users::ActingUser;

/// The sync of the file at `path` that goes on (not undone), or a new one.
/// Returns its run and whether it went on.
pub(crate) async fn find_or_begin(
    client: &tokio_postgres::Client,
    path: &str,
    file_name: &str,
    fingerprint: &str,
) -> Result<(i64, bool), tokio_postgres::Error> {
    let earlier = client
        .query_typed_opt(
            "SELECT id FROM import_runs WHERE kind = 'sync' AND file_path = $1 AND status <> 'undone' \
             ORDER BY id DESC LIMIT 1",
            &[(&path, Type::TEXT)],
        )
        .await?;
    if let Some(row) = earlier {
        return Ok((row.try_get(0)?, true));
    }
    let row = client
        .query_typed_one(
            "INSERT INTO import_runs (file_name, file_fingerprint, kind, file_path) \
             VALUES ($1, $2, 'sync', $3) RETURNING id",
            &[
                (&file_name, Type::TEXT),
                (&fingerprint, Type::TEXT),
                (&path, Type::TEXT),
            ],
        )
        .await?;
    Ok((row.try_get(0)?, false))
}

/// Holds the sync for this connection's session, so two watchers never
/// run passes of one sync at once. `false`: another session holds it.
/// Once held, a pass an earlier watcher was cut off in is over: its
/// imports say what it stored.
pub(crate) async fn claim(
    client: &tokio_postgres::Client,
    run: i64,
) -> Result<bool, tokio_postgres::Error> {
    // One key space of its own, apart from the imports' entity locks.
    let key = 0x7301_0000_0000_0000_i64 ^ run;
    let held: bool = client
        .query_typed_one("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)])
        .await?
        .try_get(0)?;
    if held {
        client
            .execute_typed(
                "UPDATE import_batches SET status = 'failed', finished_at = now() \
                 WHERE run_id = $1 AND status = 'running'",
                &[(&run, Type::INT8)],
            )
            .await?;
    }
    Ok(held)
}

/// Whether the database has the sync's tables (migration V11).
pub(crate) async fn ready(client: &tokio_postgres::Client) -> Result<bool, tokio_postgres::Error> {
    client
        .query_typed_one(
            "SELECT to_regclass('sync_rows') IS NOT NULL AND to_regclass('sync_passes') IS NOT NULL",
            &[],
        )
        .await?
        .try_get(0)
}

fn hashes_to_bytes(hashes: &[u64]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.to_le_bytes()).collect()
}

fn hashes_from_bytes(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|chunk| {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect()
}

/// Every row the sync knows.
pub(crate) async fn load_rows(
    client: &tokio_postgres::Client,
    run: i64,
) -> Result<SyncRows, super::SyncError> {
    let rows = client
        .query_typed(
            "SELECT sheet, row_key, entity, fingerprint, file_hashes, crm_hashes, record_id, \
             stamp::text, gone_since FROM sync_rows WHERE run_id = $1",
            &[(&run, Type::INT8)],
        )
        .await?;
    let mut known = SyncRows::default();
    for row in rows {
        let entity: String = row.try_get(2)?;
        let fingerprint: Vec<u8> = row.try_get(3)?;
        let mut print = [0; 16];
        if fingerprint.len() == 16 {
            print.copy_from_slice(&fingerprint);
        }
        let sheet: String = row.try_get(0)?;
        known.insert(
            &sheet,
            row.try_get(1)?,
            RowState {
                entity: entity
                    .parse()
                    .map_err(|e| super::SyncError::Database(format!("sync_rows holds {e}")))?,
                fingerprint: print,
                file_hashes: hashes_from_bytes(&row.try_get::<_, Vec<u8>>(4)?),
                crm_hashes: hashes_from_bytes(&row.try_get::<_, Vec<u8>>(5)?),
                record: row.try_get(6)?,
                stamp: row.try_get(7)?,
                gone_since: row.try_get(8)?,
            },
        );
    }
    Ok(known)
}

/// Per stored field, the CRM's value of `t` as text, as SQL: as an export
/// writes it, so a conflict shows and compares it in the file's words (a
/// linked record by its name, a date as a date), and the same text whenever
/// it is read, so its hash says whether the value changed.
fn crm_values(description: &EntityDescription) -> String {
    let fields: Vec<String> = description
        .stored_fields()
        .map(|f| format!("({})::text", crate::export::field_text_sql(f)))
        .collect();
    format!("ARRAY[{}]::text[]", fields.join(", "))
}

fn crm_record(
    row: &tokio_postgres::Row,
) -> Result<(uuid::Uuid, CrmRecord, Option<String>), tokio_postgres::Error> {
    Ok((
        row.try_get(0)?,
        CrmRecord {
            deleted: row.try_get(1)?,
            shown: row.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
            values: row.try_get(3)?,
        },
        row.try_get(4)?,
    ))
}

/// The records of `entity` the sync knows that were changed in the CRM
/// since it last saw them (their `updated_at` moved on, or they were
/// deleted), with their values now: every row the sync knows compared, for
/// a sync that has just started.
pub(crate) async fn changed_in_crm(
    client: &tokio_postgres::Client,
    run: i64,
    entity: Entity,
) -> Result<HashMap<uuid::Uuid, CrmRecord>, tokio_postgres::Error> {
    let description = entity.description();
    let rows = client
        .query_typed(
            &format!(
                "SELECT t.id, t.deleted_at IS NOT NULL, {shown}, {values}, t.updated_at::text \
                 FROM sync_rows s JOIN {table} t ON t.id = s.record_id \
                 WHERE s.run_id = $1 AND s.entity = $2 \
                 AND (t.updated_at IS DISTINCT FROM s.stamp OR t.deleted_at IS NOT NULL)",
                shown = description.shown,
                values = crm_values(description),
                table = description.table,
            ),
            &[(&run, Type::INT8), (&entity.name(), Type::TEXT)],
        )
        .await?;
    rows.iter()
        .map(|row| crm_record(row).map(|(id, record, _)| (id, record)))
        .collect()
}

/// The records of `entity` stamped (`updated_at`) at or after `since`,
/// with their stamps: those that may have changed since a pass that looked
/// at `since`.
pub(crate) async fn stamped_since(
    client: &tokio_postgres::Client,
    entity: Entity,
    since: &str,
) -> Result<Vec<(uuid::Uuid, Option<String>)>, tokio_postgres::Error> {
    client
        .query_typed(
            &format!(
                "SELECT id, updated_at::text FROM {} WHERE updated_at >= $1::timestamptz",
                entity.description().table
            ),
            &[(&since, Type::TEXT)],
        )
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// A time every change not yet committed will be stamped at or after: now,
/// or the start of the oldest transaction still open on the database (a
/// record's `updated_at` is its transaction's start). Where other sessions'
/// transactions cannot be seen (a role without `pg_read_all_stats`), ten
/// minutes before now.
pub(crate) async fn safe_since(
    client: &tokio_postgres::Client,
) -> Result<String, tokio_postgres::Error> {
    client
        .query_typed_one(
            "SELECT CASE WHEN bool_or(a.state IS NULL) THEN now() - interval '10 minutes' \
                ELSE least(now(), min(a.xact_start)) END::text \
             FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'",
            &[],
        )
        .await?
        .try_get(0)
}

/// The records `ids` of `entity` as the CRM holds them now, with their
/// `updated_at`.
pub(crate) async fn read_records(
    client: &tokio_postgres::Client,
    entity: Entity,
    ids: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, (CrmRecord, Option<String>)>, tokio_postgres::Error> {
    let description = entity.description();
    let rows = client
        .query_typed(
            &format!(
                "SELECT t.id, t.deleted_at IS NOT NULL, {shown}, {values}, t.updated_at::text \
                 FROM {table} t WHERE t.id = ANY($1)",
                shown = description.shown,
                values = crm_values(description),
                table = description.table,
            ),
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    rows.iter()
        .map(|row| crm_record(row).map(|(id, record, stamp)| (id, (record, stamp))))
        .collect()
}

/// The record each spreadsheet row of import `id` went to: stored, or
/// updated.
pub(crate) async fn records_of_import(
    client: &tokio_postgres::Client,
    entity: Entity,
    id: i64,
) -> Result<HashMap<u64, uuid::Uuid>, tokio_postgres::Error> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT import_source_row::int8, id FROM {} WHERE import_batch_id = $1 \
                 AND import_source_row IS NOT NULL \
                 UNION ALL SELECT source_row::int8, record_id FROM import_matches \
                 WHERE import_batch_id = $1 AND action = 'updated'",
                entity.description().table
            ),
            &[(&id, Type::INT8)],
        )
        .await?;
    let mut records = HashMap::with_capacity(rows.len());
    for row in rows {
        let source_row: i64 = row.try_get(0)?;
        records.insert(u64::try_from(source_row).unwrap_or(0), row.try_get(1)?);
    }
    Ok(records)
}

/// Per sheet, the records the latest finished import of a file with the
/// same bytes as `snapshot` stored or updated, by row (empty when there was
/// none): what a sync begun right after an import starts from.
pub(crate) async fn imported_before(
    client: &tokio_postgres::Client,
    snapshot: &std::path::Path,
) -> Result<HashMap<String, HashMap<u64, uuid::Uuid>>, super::SyncError> {
    let fingerprint = crate::history::fingerprint(snapshot)?;
    let imports = client
        .query_typed(
            "SELECT DISTINCT ON (sheet) id, entity, sheet FROM import_batches \
             WHERE file_fingerprint = $1 AND kind = 'import' AND status = 'finished' \
             ORDER BY sheet, id DESC",
            &[(&fingerprint, Type::TEXT)],
        )
        .await?;
    let mut adopted = HashMap::new();
    for import in imports {
        let entity: String = import.try_get(1)?;
        let Ok(entity) = entity.parse::<Entity>() else {
            continue;
        };
        let rows = records_of_import(client, entity, import.try_get(0)?).await?;
        adopted.insert(import.try_get(2)?, rows);
    }
    Ok(adopted)
}

/// Writes the rows of one sheet the sync now knows (new, or in step again).
pub(crate) async fn save_rows(
    client: &tokio_postgres::Client,
    run: i64,
    sheet: &str,
    rows: &[(&str, &RowState)],
) -> Result<(), tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = rows.iter().map(|(k, _)| *k).collect();
    let entities: Vec<&str> = rows.iter().map(|(_, s)| s.entity.name()).collect();
    let prints: Vec<&[u8]> = rows.iter().map(|(_, s)| &s.fingerprint[..]).collect();
    let file: Vec<Vec<u8>> = rows
        .iter()
        .map(|(_, s)| hashes_to_bytes(&s.file_hashes))
        .collect();
    let crm: Vec<Vec<u8>> = rows
        .iter()
        .map(|(_, s)| hashes_to_bytes(&s.crm_hashes))
        .collect();
    let records: Vec<uuid::Uuid> = rows.iter().map(|(_, s)| s.record).collect();
    let stamps: Vec<Option<&str>> = rows.iter().map(|(_, s)| s.stamp.as_deref()).collect();
    client
        .execute_typed(
            "INSERT INTO sync_rows (run_id, sheet, row_key, entity, fingerprint, file_hashes, crm_hashes, \
               record_id, stamp, gone_since) \
             SELECT $1, $2, k, e, f, fh, ch, r, s::timestamptz, NULL \
             FROM unnest($3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::bytea[], $8::uuid[], $9::text[]) \
               AS u (k, e, f, fh, ch, r, s) \
             ON CONFLICT (run_id, sheet, row_key) DO UPDATE SET entity = EXCLUDED.entity, \
               fingerprint = EXCLUDED.fingerprint, file_hashes = EXCLUDED.file_hashes, \
               crm_hashes = EXCLUDED.crm_hashes, record_id = EXCLUDED.record_id, \
               stamp = EXCLUDED.stamp, gone_since = NULL",
            &[
                (&run, Type::INT8),
                (&sheet, Type::TEXT),
                (&keys, Type::TEXT_ARRAY),
                (&entities, Type::TEXT_ARRAY),
                (&prints, Type::BYTEA_ARRAY),
                (&file, Type::BYTEA_ARRAY),
                (&crm, Type::BYTEA_ARRAY),
                (&records, Type::UUID_ARRAY),
                (&stamps, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    Ok(())
}

/// Marks rows of one sheet gone from the file since `pass`.
pub(crate) async fn mark_gone(
    client: &tokio_postgres::Client,
    run: i64,
    sheet: &str,
    keys: &[&str],
    pass: i32,
) -> Result<(), tokio_postgres::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    client
        .execute_typed(
            "UPDATE sync_rows SET gone_since = $4 WHERE run_id = $1 AND sheet = $2 AND row_key = ANY($3)",
            &[
                (&run, Type::INT8),
                (&sheet, Type::TEXT),
                (&keys, Type::TEXT_ARRAY),
                (&pass, Type::INT4),
            ],
        )
        .await?;
    Ok(())
}

/// A row found gone before is in the file again.
pub(crate) async fn mark_back(
    client: &tokio_postgres::Client,
    run: i64,
    sheet: &str,
    key: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute_typed(
            "UPDATE sync_rows SET gone_since = NULL WHERE run_id = $1 AND sheet = $2 AND row_key = $3",
            &[(&run, Type::INT8), (&sheet, Type::TEXT), (&key, Type::TEXT)],
        )
        .await?;
    Ok(())
}

/// Forgets rows of one sheet (their record was soft-deleted by the sync,
/// or another row of the file is that record now).
pub(crate) async fn forget(
    client: &tokio_postgres::Client,
    run: i64,
    sheet: &str,
    keys: &[&str],
) -> Result<(), tokio_postgres::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    client
        .execute_typed(
            "DELETE FROM sync_rows WHERE run_id = $1 AND sheet = $2 AND row_key = ANY($3)",
            &[
                (&run, Type::INT8),
                (&sheet, Type::TEXT),
                (&keys, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    Ok(())
}

/// How the records `ids` of `entity` show, and whether a pass of the
/// sync `run` created them (only those may be removed).
pub(crate) async fn gone_records(
    client: &tokio_postgres::Client,
    run: i64,
    entity: Entity,
    ids: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, (String, bool, bool)>, tokio_postgres::Error> {
    let description = entity.description();
    let rows = client
        .query_typed(
            &format!(
                "SELECT t.id, {shown}, t.deleted_at IS NOT NULL, \
                 EXISTS (SELECT 1 FROM import_batches b WHERE b.id = t.import_batch_id AND b.run_id = $2) \
                 FROM {table} t WHERE t.id = ANY($1)",
                shown = description.shown,
                table = description.table,
            ),
            &[(&ids, Type::UUID_ARRAY), (&run, Type::INT8)],
        )
        .await?;
    let mut records = HashMap::with_capacity(rows.len());
    for row in rows {
        records.insert(
            row.try_get(0)?,
            (
                row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
                row.try_get(2)?,
                row.try_get(3)?,
            ),
        );
    }
    Ok(records)
}

/// Soft-deletes the live records `ids` of `entity` that a pass of the sync
/// created, as one history entry of the pass (kind 'removal') that keeps
/// each record's row from before, so undo gives them back. Returns the
/// entry and the records removed.
pub(crate) async fn remove(
    client: &mut tokio_postgres::Client,
    (place, acting): ((i64, i32), Option<&ActingUser>),
    file_name: &str,
    entity: Entity,
    ids: &[uuid::Uuid],
) -> Result<(i64, Vec<uuid::Uuid>), tokio_postgres::Error> {
    let (run, pass) = place;
    let table = entity.description().table;
    let transaction = client.transaction().await?;
    // As the CRM user the sync acts for, under the CRM's security.
    ActingUser::enter_if_any(acting, transaction.client()).await?;
    let entry: i64 = transaction
        .query_typed_one(
            "INSERT INTO import_batches (entity, file_name, file_fingerprint, run_id, sync_pass, kind, \
               on_duplicate, status, finished_at) \
             VALUES ($1, $2, '', $3, $4, 'removal', 'update', 'finished', now()) RETURNING id",
            &[
                (&entity.name(), Type::TEXT),
                (&file_name, Type::TEXT),
                (&run, Type::INT8),
                (&pass, Type::INT4),
            ],
        )
        .await?
        .try_get(0)?;
    let removed: Vec<uuid::Uuid> = transaction
        .query_typed(
            &format!(
                "WITH gone AS (SELECT t.* FROM {table} t WHERE t.id = ANY($2) AND t.deleted_at IS NULL \
                   AND EXISTS (SELECT 1 FROM import_batches b WHERE b.id = t.import_batch_id AND b.run_id = $3) \
                   FOR UPDATE), \
                 kept AS (INSERT INTO import_matches (import_batch_id, source_row, record_id, action, previous) \
                   SELECT $1, 0, g.id, 'removed', to_jsonb(g) FROM gone g RETURNING record_id) \
                 UPDATE {table} t SET deleted_at = now() FROM kept k WHERE t.id = k.record_id RETURNING t.id"
            ),
            &[(&entry, Type::INT8), (&ids, Type::UUID_ARRAY), (&run, Type::INT8)],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let count = i32::try_from(removed.len()).unwrap_or(i32::MAX);
    transaction
        .execute_typed(
            "UPDATE import_batches SET total_rows = $2 WHERE id = $1",
            &[(&entry, Type::INT8), (&count, Type::INT4)],
        )
        .await?;
    transaction.commit().await?;
    Ok((entry, removed))
}

/// Starts the next pass of the sync; returns its number.
pub(crate) async fn begin_pass(
    client: &tokio_postgres::Client,
    run: i64,
) -> Result<i32, tokio_postgres::Error> {
    client
        .query_typed_one(
            "INSERT INTO sync_passes (run_id, pass) \
             SELECT $1, coalesce(max(pass), 0) + 1 FROM sync_passes WHERE run_id = $1 RETURNING pass",
            &[(&run, Type::INT8)],
        )
        .await?
        .try_get(0)
}

/// Drops the imports of a pass that wrote nothing (a save that changed no
/// row of a sheet), so the history lists only passes' real work; returns
/// those dropped.
pub(crate) async fn drop_empty_imports(
    client: &tokio_postgres::Client,
    run: i64,
    pass: i32,
) -> Result<Vec<i64>, tokio_postgres::Error> {
    client
        .query_typed(
            "DELETE FROM import_batches b WHERE b.run_id = $1 AND b.sync_pass = $2 AND b.kind = 'import' \
             AND b.succeeded = 0 AND b.updated = 0 AND b.skipped = 0 AND b.failed = 0 \
             AND b.status <> 'running' \
             AND NOT EXISTS (SELECT 1 FROM import_matches m WHERE m.import_batch_id = b.id) \
             AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.import_batch_id = b.id) \
             RETURNING b.id",
            &[(&run, Type::INT8), (&pass, Type::INT4)],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect()
}

/// Ends a pass with what it came to.
pub(crate) async fn end_pass(
    client: &tokio_postgres::Client,
    run: i64,
    pass: i32,
    summary: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute_typed(
            "UPDATE sync_passes SET finished_at = now(), summary = $3::jsonb WHERE run_id = $1 AND pass = $2",
            &[(&run, Type::INT8), (&pass, Type::INT4), (&summary, Type::TEXT)],
        )
        .await?;
    Ok(())
}

/// Of the records `ids` that import `import` updated, those whose row just
/// before the update was not stamped `stamps` (as the sync last saw it):
/// changed in the CRM since, with their values then.
pub(crate) async fn changed_before_write(
    client: &tokio_postgres::Client,
    entity: Entity,
    import: i64,
    (ids, stamps): (&[uuid::Uuid], &[Option<&str>]),
) -> Result<HashMap<uuid::Uuid, CrmRecord>, tokio_postgres::Error> {
    let description = entity.description();
    let rows = client
        .query_typed(
            &format!(
                "SELECT DISTINCT ON (m.record_id) m.record_id, v.deleted, v.shown, v.vals, NULL::text \
                 FROM import_matches m JOIN unnest($2::uuid[], $3::text[]) AS k (id, stamp) ON k.id = m.record_id \
                 CROSS JOIN LATERAL (SELECT t.deleted_at IS NOT NULL, {shown}, {values} \
                   FROM jsonb_populate_record(NULL::{table}, m.previous) t) v (deleted, shown, vals) \
                 WHERE m.import_batch_id = $1 AND m.action = 'updated' \
                 AND (m.previous->>'updated_at')::timestamptz IS DISTINCT FROM k.stamp::timestamptz \
                 ORDER BY m.record_id, m.id",

                shown = description.shown,
                values = crm_values(description),
                table = description.table,
            ),
            &[
                (&import, Type::INT8),
                (&ids, Type::UUID_ARRAY),
                (&stamps, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| crm_record(row).map(|(id, record, _)| (id, record)))
        .collect()
}

/// Puts back into record `id` the values of `columns` it held just before
/// import `import` updated it, as the CRM user the sync acts for; `false`
/// when the CRM's security did not let that user. The import's record of
/// the update is dated now, so its undo does not take the record for one
/// edited since.
pub(crate) async fn put_back(
    client: &mut tokio_postgres::Client,
    acting: Option<&ActingUser>,
    (entity, import, id): (Entity, i64, uuid::Uuid),
    columns: &[&str],
) -> Result<bool, tokio_postgres::Error> {
    let table = entity.description().table;
    let assignments: Vec<String> = columns.iter().map(|c| format!("{c} = p.{c}")).collect();
    let transaction = client.transaction().await?;
    ActingUser::enter_if_any(acting, transaction.client()).await?;
    let put = transaction
        .execute_typed(
            &format!(
                "UPDATE {table} t SET {} FROM jsonb_populate_record(NULL::{table}, \
                   (SELECT m.previous FROM import_matches m WHERE m.import_batch_id = $1 \
                    AND m.record_id = $2 AND m.action = 'updated' ORDER BY m.id LIMIT 1)) p \
                 WHERE t.id = $2",
                assignments.join(", ")
            ),
            &[(&import, Type::INT8), (&id, Type::UUID)],
        )
        .await?;
    transaction
        .execute_typed(
            "UPDATE import_matches SET applied_at = now() \
             WHERE import_batch_id = $1 AND record_id = $2 AND action = 'updated'",
            &[(&import, Type::INT8), (&id, Type::UUID)],
        )
        .await?;
    transaction.commit().await?;
    Ok(put == 1)
}
