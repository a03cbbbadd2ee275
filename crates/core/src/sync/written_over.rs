//! A change made in the CRM in the moment between a pass's look for changes
//! and its write: the pass wrote a changed row over a record it took for
//! unchanged in the CRM. Found after the write from the record's row just
//! before it (kept in `import_matches` for undo): stamped otherwise than the
//! sync last saw it. The fields the CRM changed and the file overwrote get
//! the CRM's values back, and the row is listed as a conflict, so the CRM's
//! value is kept however close the two changes come.

use std::collections::HashMap;

use super::rows::{Conflict, FieldConflict, RowPrint, RowState, changed_in_file, value_hash};
use super::{Sync, SyncError, store};
use crate::entity::Entity;

/// Why a row written over a change in the CRM is listed.
const REASON: &str = "changed in the CRM while this pass was writing; the CRM's values put back";

/// The same, when they could not be.
const NOT_PUT_BACK: &str =
    "changed in the CRM while this pass was writing; the CRM's values could not be put back";

impl Sync {
    /// Puts back the CRM's values a pass's import wrote over (see the
    /// module), and lists those rows as conflicts. `admitted`: the rows of
    /// `sheet` let in, by row; `written`: the record each row went to.
    pub(super) async fn put_back_crm_changes(
        &mut self,
        sheet: &str,
        (entity, import): (Entity, i64),
        admitted: &HashMap<u64, (String, RowPrint, Vec<u64>)>,
        written: &HashMap<u64, uuid::Uuid>,
    ) -> Result<Vec<Conflict>, SyncError> {
        // Rows written to a record the pass took for unchanged in the CRM:
        // the record, its row, what the sync knew of it, the fields the
        // file changed.
        let mut expected: HashMap<uuid::Uuid, (u64, RowState, u64)> = HashMap::new();
        for (row, (key, _, hashes)) in admitted {
            let (Some(record), Some(known)) = (written.get(row), self.rows.get(sheet, key)) else {
                continue;
            };
            if *record == known.record && !self.changed_in_crm.contains_key(record) {
                let changed = changed_in_file(known, hashes);
                expected.insert(*record, (*row, known.clone(), changed));
            }
        }
        if expected.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = expected.keys().copied().collect();
        let stamps: Vec<Option<&str>> = ids
            .iter()
            .map(|id| {
                expected
                    .get(id)
                    .and_then(|(_, known, _)| known.stamp.as_deref())
            })
            .collect();
        let before =
            store::changed_before_write(&self.client, entity, import, (&ids, &stamps)).await?;
        if before.is_empty() {
            return Ok(Vec::new());
        }
        let moved: Vec<uuid::Uuid> = before.keys().copied().collect();
        let now = store::read_records(&self.client, entity, &moved).await?;
        let columns: Vec<&'static str> = entity
            .description()
            .stored_fields()
            .map(|f| f.column)
            .collect();
        let mut conflicts = Vec::new();
        for (id, crm_before) in before {
            let (Some((row, known, changed)), Some((current, _))) =
                (expected.get(&id), now.get(&id))
            else {
                continue;
            };
            let mut put_back = Vec::new();
            let mut fields = Vec::new();
            for (index, column) in columns.iter().enumerate() {
                let was = crm_before.values.get(index).cloned().flatten();
                let is = current.values.get(index).cloned().flatten();
                let crm_changed = known.crm_hashes.get(index) != Some(&value_hash(was.as_deref()));
                if (changed >> index) & 1 == 1 && crm_changed && was != is {
                    put_back.push(*column);
                    fields.push(FieldConflict {
                        field: (*column).to_owned(),
                        crm: was.unwrap_or_default(),
                        file: is.unwrap_or_default(),
                    });
                }
            }
            if put_back.is_empty() {
                continue;
            }
            let put = store::put_back(
                &mut self.client,
                self.options.acting.as_ref(),
                (entity, import, id),
                &put_back,
            )
            .await;
            // The pass's import is in: a value that cannot be put back is
            // said, and the pass goes on to record what it wrote.
            let reason = match put {
                Ok(true) => REASON.to_owned(),
                Ok(false) => format!(
                    "{NOT_PUT_BACK}: the CRM's security does not let {} change it",
                    self.acting_name()
                ),
                Err(error) => format!("{NOT_PUT_BACK}: {error}"),
            };
            conflicts.push(Conflict {
                sheet: sheet.to_owned(),
                row: *row,
                record: current.shown.clone(),
                reason,
                fields,
            });
        }
        Ok(conflicts)
    }
}
