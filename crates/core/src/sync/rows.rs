//! What a sync knows of each row of its file, and the gate that decides, as
//! each record is read, whether it goes in: unchanged rows are left out,
//! and a row whose record was changed in the CRM since writes only what the
//! CRM did not change (the rest are conflicts, the CRM's value kept).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::duplicates::{Compared, compared_as, match_key, update_writes};
use crate::entity::{Entity, EntityDescription, MatchKey};
use crate::mapping::{Record, Value};

/// A row of the file as the sync last left it in step with the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowState {
    /// The entity its sheet holds.
    pub entity: Entity,
    /// [`RowPrint::fingerprint`] of the row then.
    pub fingerprint: [u8; 16],
    /// Per stored field, the hash of the file's value then.
    pub file_hashes: Vec<u64>,
    /// Per stored field, the hash of the CRM's value then.
    pub crm_hashes: Vec<u64>,
    /// The record it is.
    pub record: uuid::Uuid,
    /// The record's `updated_at` then, as the server writes it.
    pub stamp: Option<String>,
    /// The pass that found it gone from the file.
    pub gone_since: Option<i32>,
}

/// Maps keyed by text the sync makes itself, hashed fast.
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// Every row the sync knows, by sheet and row key.
#[derive(Debug, Default)]
pub(crate) struct SyncRows {
    sheets: HashMap<String, FastMap<String, RowState>>,
}

impl SyncRows {
    /// The row `key` of `sheet`.
    pub fn get(&self, sheet: &str, key: &str) -> Option<&RowState> {
        self.sheets.get(sheet)?.get(key)
    }

    /// The row `key` of `sheet`, to change.
    pub fn get_mut(&mut self, sheet: &str, key: &str) -> Option<&mut RowState> {
        self.sheets.get_mut(sheet)?.get_mut(key)
    }

    /// Knows a row.
    pub fn insert(&mut self, sheet: &str, key: String, state: RowState) {
        match self.sheets.get_mut(sheet) {
            Some(rows) => {
                rows.insert(key, state);
            }
            None => {
                let mut rows = FastMap::default();
                rows.insert(key, state);
                self.sheets.insert(sheet.to_owned(), rows);
            }
        }
    }

    /// Forgets a row.
    pub fn remove(&mut self, sheet: &str, key: &str) {
        if let Some(rows) = self.sheets.get_mut(sheet) {
            rows.remove(key);
        }
    }

    /// How many rows it knows.
    pub fn len(&self) -> usize {
        self.sheets.values().map(HashMap::len).sum()
    }

    /// Every row: sheet, key, state.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &RowState)> {
        self.sheets.iter().flat_map(|(sheet, rows)| {
            rows.iter()
                .map(move |(key, state)| (sheet.as_str(), key.as_str(), state))
        })
    }
}

/// A row of the file as read now: who it is and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct RowPrint {
    /// Its identity across saves: the match key an import finds its record
    /// by (the same name, the same e-mail), else its whole content.
    pub key: String,
    /// A hash of every value it maps to and its import notes.
    pub fingerprint: [u8; 16],
}

impl RowPrint {
    /// The print of `record`.
    pub fn of(record: &Record) -> RowPrint {
        let description = record.entity.description();
        let mut hasher = blake3::Hasher::new();
        for value in &record.values {
            hash_value(&mut hasher, value.to_text().as_deref());
        }
        hasher.update(&record.given.to_le_bytes());
        for (key, value) in record.notes.entries() {
            hasher.update(key.as_bytes());
            hasher.update(&[0x1f]);
            hasher.update(value.as_bytes());
            hasher.update(&[0x1e]);
        }
        let mut fingerprint = [0; 16];
        fingerprint.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        let key = row_key(description, record).unwrap_or_else(|| {
            fingerprint
                .iter()
                .fold(String::from("row "), |mut text, byte| {
                    text.push_str(&format!("{byte:02x}"));
                    text
                })
        });
        RowPrint { key, fingerprint }
    }
}

fn hash_value(hasher: &mut blake3::Hasher, text: Option<&str>) {
    match text {
        Some(text) => {
            hasher.update(&[1]);
            hasher.update(text.as_bytes());
        }
        None => {
            hasher.update(&[0]);
        }
    }
    hasher.update(&[0x1f]);
}

/// The hash of one value as text (`None`: empty), the same for the file's
/// values and the CRM's.
pub(crate) fn value_hash(text: Option<&str>) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hash_value(&mut hasher, text);
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    u64::from_le_bytes(bytes)
}

/// Per stored field of `record`, the hash of its value.
pub(crate) fn file_hashes(record: &Record) -> Vec<u64> {
    record
        .values
        .iter()
        .map(|v| value_hash(v.to_text().as_deref()))
        .collect()
}

/// The match key the import finds `record`'s record by: the first of its
/// entity's whose fields it fills.
fn key_used(description: &EntityDescription, record: &Record) -> Option<&'static MatchKey> {
    description.match_keys.iter().find(|key| {
        key.fields
            .iter()
            .all(|column| record.text(column).is_some_and(|t| !t.trim().is_empty()))
    })
}

/// The row key of `record`: the match key it is found by, compared as the
/// import compares it, with the links the key is within and the field
/// that keeps two records apart.
fn row_key(description: &EntityDescription, record: &Record) -> Option<String> {
    let key = key_used(description, record)?;
    let mut text = String::new();
    for column in key.fields {
        if let Some(value) = record.text(column) {
            text.push_str(&compared(description, column, &value));
        }
        text.push('\u{1f}');
    }
    for column in key.within.iter().chain(key.unless_differ.iter()) {
        if let Some(value) = record.text(column) {
            text.push_str(&compared(description, column, &value));
        }
        text.push('\u{1f}');
    }
    Some(text)
}

/// A value as a key compares it.
fn compared(description: &EntityDescription, column: &str, value: &str) -> String {
    match compared_as(description, column) {
        Compared::Text => match_key(value),
        Compared::Email => value.trim().to_lowercase(),
        Compared::AsIs => match_key(value),
    }
}

/// A record's values as the CRM holds them now, for a record changed there
/// since the sync's last pass.
#[derive(Debug, Clone)]
pub(crate) struct CrmRecord {
    /// Per stored field, its value as text (`None`: empty).
    pub values: Vec<Option<String>>,
    /// Soft-deleted (or gone) since.
    pub deleted: bool,
    /// How it shows ("Sysco Foods (Chicago)").
    pub shown: String,
}

/// One field of a conflict: the CRM's value, kept, and the file's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldConflict {
    /// The CRM column.
    pub field: String,
    /// The CRM's value (kept).
    pub crm: String,
    /// The file's value (not written).
    pub file: String,
}

/// A row changed in the file whose record was changed in the CRM too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The sheet (empty for a text file).
    pub sheet: String,
    /// The spreadsheet row.
    pub row: u64,
    /// The record, as it shows.
    pub record: String,
    /// What happened: which fields, or that it was deleted.
    pub reason: String,
    /// The fields both changed, each with both values.
    pub fields: Vec<FieldConflict>,
}

/// What the gate saw of one sheet during a pass.
#[derive(Debug, Default)]
pub(crate) struct SheetSeen {
    /// Rows read, by key.
    pub keys: HashSet<String, ahash::RandomState>,
    /// Rows let in, by row number: key, print and file hashes.
    pub admitted: HashMap<u64, (String, RowPrint, Vec<u64>)>,
    /// Rows that wrote nothing but are now in step, by row number, with
    /// their record: changed in the file to what the CRM already held, or
    /// stored by an import of this very file before the sync began.
    pub settled: HashMap<u64, (String, RowPrint, Vec<u64>, uuid::Uuid)>,
    /// Rows changed in the file whose record cannot take any of them
    /// (deleted in the CRM, or a field it is matched by changed there), by
    /// key: as the file holds them now, the CRM's side as last seen, so
    /// the same row is not listed again at the next save while a new edit
    /// of it is.
    pub held: Vec<(String, RowState)>,
    /// Rows that wrote nothing: unchanged since the last pass, already as
    /// the CRM holds them, or kept as the CRM holds them (a conflict).
    pub unchanged: u64,
    /// Conflicts found.
    pub conflicts: Vec<Conflict>,
}

/// What the gate decides from, for one pass: the rows the sync knows, and
/// the records changed in the CRM since it last saw them.
#[derive(Debug, Default)]
pub(crate) struct GateState {
    pub rows: SyncRows,
    pub changed_in_crm: HashMap<uuid::Uuid, CrmRecord>,
    pub seen: HashMap<String, SheetSeen>,
    /// Per sheet, the records an earlier import of the same file (the same
    /// bytes) stored or updated, by row: the sync's first pass takes them
    /// as in step instead of writing them again.
    pub adopted: HashMap<String, HashMap<u64, uuid::Uuid>>,
}

/// The gate of one pass, shared by the reader threads of its sheets and
/// the sync that reads what they saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct PassGate {
    pub state: Arc<Mutex<GateState>>,
}

impl PassGate {
    /// Decides for one record of `sheet`; `false` leaves it out.
    pub fn admit(&self, sheet: &str, record: &mut Record) -> bool {
        let print = RowPrint::of(record);
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        let seen = state.seen.entry(sheet.to_owned()).or_default();
        // The same key twice in one file: the second is another row.
        let mut key = print.key.clone();
        let mut occurrence = 1;
        while seen.keys.contains(&key) {
            occurrence += 1;
            key = format!("{}#{occurrence}", print.key);
        }
        seen.keys.insert(key.clone());
        let known = state.rows.get(sheet, &key);
        let Some(known) = known else {
            let hashes = file_hashes(record);
            let adopted = state
                .adopted
                .get(sheet)
                .and_then(|rows| rows.get(&record.source_row));
            if let Some(record_id) = adopted {
                seen.unchanged += 1;
                seen.settled
                    .insert(record.source_row, (key, print, hashes, *record_id));
                return false;
            }
            seen.admitted
                .insert(record.source_row, (key, print, hashes));
            return true;
        };
        if known.fingerprint == print.fingerprint {
            seen.unchanged += 1;
            return false;
        }
        let hashes = file_hashes(record);
        let Some(crm) = state.changed_in_crm.get(&known.record) else {
            // Only what the file changed is written: a value the CRM kept
            // in an earlier conflict (or changed unseen) stays.
            record.given &= changed_in_file(known, &hashes);
            seen.admitted
                .insert(record.source_row, (key, print, hashes));
            return true;
        };
        let decision = decide(record, known, &hashes, crm);
        let admitted = decision.write != 0;
        if let Some(conflict) = decision.conflict(sheet, record.source_row, crm) {
            seen.conflicts.push(conflict);
        }
        if decision.whole_row_held {
            seen.unchanged += 1;
            let held = RowState {
                fingerprint: print.fingerprint,
                file_hashes: hashes,
                gone_since: None,
                ..known.clone()
            };
            seen.held.push((key, held));
            return false;
        }
        if admitted {
            record.given &= decision.write;
            seen.admitted
                .insert(record.source_row, (key, print, hashes));
        } else {
            seen.unchanged += 1;
            let record_id = known.record;
            seen.settled
                .insert(record.source_row, (key, print, hashes, record_id));
        }
        admitted
    }
}

/// Bits of the fields whose value in the file changed since the row was
/// last in step.
pub(crate) fn changed_in_file(known: &RowState, hashes: &[u64]) -> u64 {
    hashes
        .iter()
        .enumerate()
        .filter(|(index, hash)| known.file_hashes.get(*index) != Some(*hash))
        .fold(0, |bits, (index, _)| bits | (1 << index))
}

/// What a changed row whose record changed in the CRM too may write.
struct Decision {
    /// Bits of the fields to write (changed in the file only).
    write: u64,
    /// Fields that differ, changed on both sides: column, CRM, file.
    both: Vec<(&'static str, String, String)>,
    /// The record cannot take any of the row: deleted, or a field the
    /// import finds it by changed in the CRM.
    whole_row_held: bool,
    reason: Option<&'static str>,
}

impl Decision {
    fn conflict(&self, sheet: &str, row: u64, crm: &CrmRecord) -> Option<Conflict> {
        if self.both.is_empty() && self.reason.is_none() {
            return None;
        }
        Some(Conflict {
            sheet: sheet.to_owned(),
            row,
            record: crm.shown.clone(),
            reason: self
                .reason
                .unwrap_or(
                    "changed in the CRM and in the file since the last pass; the CRM's values kept",
                )
                .to_owned(),
            fields: self
                .both
                .iter()
                .map(|(field, crm, file)| FieldConflict {
                    field: (*field).to_owned(),
                    crm: crm.clone(),
                    file: file.clone(),
                })
                .collect(),
        })
    }
}

/// A file's value as an export writes it, as the CRM's values are read
/// (`yes`/`no`, a moment to the minute), to be shown beside them.
fn in_export_words(value: &Value) -> String {
    match value {
        Value::Bool(yes) => if *yes { "yes" } else { "no" }.to_owned(),
        Value::Timestamp(moment) => moment.format("%Y-%m-%d %H:%M").to_string(),
        other => other.to_text().map(|t| t.into_owned()).unwrap_or_default(),
    }
}

/// Whether the file's `value` would write something else than the CRM's
/// `crm` (as an export writes it): amounts by their value, yes/no and
/// moments in the export's words, linked records by name as a link finds
/// them, the rest as an update compares them.
fn file_differs(description: &EntityDescription, column: &str, crm: &str, value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Money(amount) => crm.parse::<rust_decimal::Decimal>().ok() != Some(*amount),
        Value::Bool(_) | Value::Timestamp(_) => in_export_words(value) != crm,
        Value::LinkName(name) => match_key(name) != match_key(crm),
        other => {
            let file = other.to_text().unwrap_or_default();
            update_writes(description, column, crm, &file)
        }
    }
}

/// Which fields of a row changed in the file may be written over a record
/// changed in the CRM since the last pass: those the CRM left as they were.
fn decide(record: &Record, known: &RowState, hashes: &[u64], crm: &CrmRecord) -> Decision {
    let mut decision = Decision {
        write: 0,
        both: Vec::new(),
        whole_row_held: crm.deleted,
        reason: crm
            .deleted
            .then_some("deleted in the CRM since the last pass; the row is not imported again"),
    };
    if crm.deleted {
        return decision;
    }
    let description = record.entity.description();
    // The fields the import finds the record by (its e-mail, or its name
    // within its organization): changed in the CRM, it would not.
    let keys: Vec<&str> = key_used(description, record)
        .into_iter()
        .flat_map(|k| {
            k.fields
                .iter()
                .chain(k.within)
                .chain(k.unless_differ.iter())
        })
        .copied()
        .collect();
    let mut key_changes = Vec::new();
    for (index, field) in description.stored_fields().enumerate() {
        let column = field.column;
        let crm_text = crm.values.get(index).cloned().flatten();
        let file_changed = known.file_hashes.get(index) != hashes.get(index);
        let crm_changed = known.crm_hashes.get(index) != Some(&value_hash(crm_text.as_deref()));
        let value = record.values.get(index).unwrap_or(&Value::Null);
        let crm_text = crm_text.unwrap_or_default();
        let differs = file_differs(description, column, &crm_text, value);
        let file_text = in_export_words(value);
        if crm_changed && keys.contains(&column) && differs {
            key_changes.push((column, crm_text.clone(), file_text.clone()));
        }
        if !file_changed || (record.given >> index) & 1 == 0 {
            continue;
        }
        if !crm_changed {
            decision.write |= 1 << index;
        } else if differs {
            decision.both.push((column, crm_text, file_text));
        }
    }
    if !key_changes.is_empty() && (decision.write != 0 || !decision.both.is_empty()) {
        // The import finds the record by these fields: with them changed in
        // the CRM it would not, and would make a second record.
        decision.write = 0;
        decision.whole_row_held = true;
        decision.reason = Some(
            "changed in the CRM (a field it is matched by) and in the file since the last pass; the CRM's values kept",
        );
        for change in key_changes {
            if !decision.both.iter().any(|(c, _, _)| *c == change.0) {
                decision.both.push(change);
            }
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_and_the_crm_are_compared_in_the_same_words() {
        let description = Entity::Products.description();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let moment = date.and_hms_opt(14, 30, 0).unwrap();
        let amount = "12.5".parse::<rust_decimal::Decimal>().unwrap();
        for (crm, value, differs) in [
            ("yes", Value::Bool(true), false),
            ("no", Value::Bool(true), true),
            ("2026-03-14 14:30", Value::Timestamp(moment), false),
            ("2026-03-14 14:31", Value::Timestamp(moment), true),
            ("12.50", Value::Money(amount), false),
            ("12.55", Value::Money(amount), true),
            (
                "Sysco Foods",
                Value::LinkName("sysco foods".to_owned()),
                false,
            ),
            (
                "Sysco Foods",
                Value::LinkName("Blue Plate".to_owned()),
                true,
            ),
            ("anything", Value::Null, false),
        ] {
            assert_eq!(
                file_differs(description, "name", crm, &value),
                differs,
                "{crm} / {value:?}"
            );
        }
        assert_eq!(in_export_words(&Value::Bool(false)), "no");
        assert_eq!(
            in_export_words(&Value::Timestamp(moment)),
            "2026-03-14 14:30"
        );
    }
}
