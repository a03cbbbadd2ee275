//! The broker's edits to particular rows of one sheet, made in the window:
//! unlike a [`crate::saved_mapping::SavedMapping`], which fits every file of
//! the same shape, these name row numbers of this file. The file itself is
//! never changed; the preview and the import apply them as they read.

use std::collections::{BTreeMap, BTreeSet};

use crate::duplicates::DuplicatePolicy;

/// What the broker changed in one sheet's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetEdits {
    /// Rows that look like a totals row ("Total: 7 accounts") and are to be
    /// imported all the same, by spreadsheet row number.
    pub kept_totals_rows: BTreeSet<u64>,
    /// What a row matching a record already in the CRM does, when the
    /// broker chose otherwise than the import's policy, by row number.
    pub duplicate_choices: BTreeMap<u64, DuplicatePolicy>,
}

impl SheetEdits {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.kept_totals_rows.is_empty() && self.duplicate_choices.is_empty()
    }
}
