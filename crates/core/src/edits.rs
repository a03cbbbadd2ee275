//! The broker's edits to particular rows of one sheet, made in the window:
//! unlike a [`crate::saved_mapping::SavedMapping`], which fits every file of
//! the same shape, these name row numbers of this file. The file itself is
//! never changed; the preview and the import apply them as they read.

use std::collections::{BTreeMap, BTreeSet};

use crate::clean::CleanUp;
use crate::duplicates::DuplicatePolicy;

/// What the broker changed in one sheet's rows; serialized so that the
/// window can keep a file's edits until it is imported.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SheetEdits {
    /// Rows that look like a totals row ("Total: 7 accounts") and are to be
    /// imported all the same, by spreadsheet row number.
    pub kept_totals_rows: BTreeSet<u64>,
    /// What a row matching a record already in the CRM does, when the
    /// broker chose otherwise than the import's policy, by row number.
    pub duplicate_choices: BTreeMap<u64, DuplicatePolicy>,
    /// Cells the broker typed over, by row number and column index: the
    /// text imported instead of the file's (whose text goes to import
    /// notes).
    pub cells: BTreeMap<u64, BTreeMap<usize, String>>,
    /// Rows the broker took out of the import, by row number.
    pub removed_rows: BTreeSet<u64>,
    /// Clean-up kinds applied to the whole sheet.
    pub clean: BTreeSet<CleanUp>,
}

impl SheetEdits {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.kept_totals_rows.is_empty()
            && self.duplicate_choices.is_empty()
            && self.cells.is_empty()
            && self.removed_rows.is_empty()
            && self.clean.is_empty()
    }

    /// How many cells were typed over.
    pub fn edited_cells(&self) -> usize {
        self.cells.values().map(BTreeMap::len).sum()
    }

    /// Sets the text of one cell (`None`: back to the file's).
    pub fn set_cell(&mut self, row: u64, column: usize, text: Option<String>) {
        match text {
            Some(text) => {
                self.cells.entry(row).or_default().insert(column, text);
            }
            None => {
                if let Some(cells) = self.cells.get_mut(&row) {
                    cells.remove(&column);
                    if cells.is_empty() {
                        self.cells.remove(&row);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_set_back_leaves_no_trace() {
        let mut edits = SheetEdits::default();
        edits.set_cell(4, 0, Some("Café Rouge".to_owned()));
        edits.set_cell(4, 2, Some("B".to_owned()));
        assert_eq!(edits.edited_cells(), 2);
        edits.set_cell(4, 0, None);
        edits.set_cell(4, 2, None);
        assert!(edits.is_empty());
    }
}
