//! From a raw row to a typed [`Record`]: the one place where every rule of
//! an entity's description ([`crate::entity`]) is applied, for every entity.
//!
//! [`RowMapper::map_row`] reads each field with its kind's rule from
//! [`crate::values`] (or the organization rules below), keeps every unmapped
//! cell and the original of every changed value in `import_notes`, and
//! reports problems as [`RowIssue`]s: errors fail the row, warnings never do.
//! [`MappedSheet`] is the one read-map loop that `check`, `import` and the
//! window's preview all run.

use std::borrow::Cow;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::entity::{Entity, EntityDescription};

mod columns;
pub mod evidence;
mod row;
mod sheet;
#[cfg(test)]
mod tests;

pub use columns::{ColumnMap, ColumnRole, ColumnUse};
pub use row::RowMapper;
pub use sheet::MappedSheet;

/// Whether an issue fails its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is not imported.
    Error,
    /// The row is imported; the broker may want to look.
    Warning,
}

/// A problem with one cell or row, in words a broker understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    /// Spreadsheet row number (header = 1).
    pub row: u64,
    /// The column's header as written, or its letter when the header is blank.
    pub column: String,
    /// What is wrong and what was done.
    pub message: String,
    /// Error or warning.
    #[serde(skip)]
    pub severity: Severity,
    /// A warning whose row is passed over, neither stored nor failed (a
    /// totals row): what the results say of it.
    #[serde(skip)]
    pub row_left_out: bool,
}

impl RowIssue {
    /// An issue that fails its row.
    pub fn error(row: u64, column: String, message: String) -> RowIssue {
        RowIssue {
            row,
            column,
            message,
            severity: Severity::Error,
            row_left_out: false,
        }
    }

    /// An issue that does not fail its row.
    pub fn warning(row: u64, column: String, message: String) -> RowIssue {
        RowIssue {
            row,
            column,
            message,
            severity: Severity::Warning,
            row_left_out: false,
        }
    }

    /// A warning on a row that is passed over, not imported.
    pub fn left_out(row: u64, column: String, message: String) -> RowIssue {
        RowIssue {
            row_left_out: true,
            ..RowIssue::warning(row, column, message)
        }
    }
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column.is_empty() {
            write!(f, "row {}: {}", self.row, self.message)
        } else {
            write!(f, "row {}, {}: {}", self.row, self.column, self.message)
        }
    }
}

/// A field's value, typed as its database column is.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// Text (also `VARCHAR`).
    Text(String),
    /// An enum label.
    Label(&'static str),
    /// A boolean.
    Bool(bool),
    /// An `INTEGER`.
    Int(i32),
    /// A `NUMERIC` amount.
    Money(Decimal),
    /// A `DATE`.
    Date(NaiveDate),
    /// A date and time of day as the sheet wrote it, without a zone; it is
    /// placed in the importing machine's time zone when stored.
    Timestamp(NaiveDateTime),
    /// The name a link cell gives; it becomes the linked record's key (or
    /// NULL) when the import resolves links ([`crate::links`]).
    LinkName(String),
    /// A linked record's key, once resolved.
    Key(uuid::Uuid),
}

impl Value {
    /// The value as text, as a broker would read it back; `None` for NULL.
    pub fn to_text(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Null => return None,
            Value::Text(text) | Value::LinkName(text) => Cow::Borrowed(text.as_str()),
            Value::Label(label) => Cow::Borrowed(*label),
            Value::Bool(value) => Cow::Borrowed(if *value { "true" } else { "false" }),
            Value::Int(value) => Cow::Owned(value.to_string()),
            Value::Money(value) => Cow::Owned(value.to_string()),
            Value::Date(value) => Cow::Owned(value.format("%Y-%m-%d").to_string()),
            Value::Timestamp(value) => Cow::Owned(value.format("%Y-%m-%d %H:%M:%S").to_string()),
            Value::Key(key) => Cow::Owned(key.to_string()),
        })
    }
}

impl Value {
    /// Whether `cell` is this value written the plain way, so nothing about
    /// it changed and no original needs keeping: its text, or for a moment
    /// also without zero seconds (`2026-03-14 14:30`, as exports write it)
    /// or as the date alone at midnight (as a workbook's date cell reads).
    pub fn written_as(&self, cell: &str) -> bool {
        if let Value::Timestamp(moment) = self {
            use chrono::Timelike;
            let plain = [
                (moment.second() == 0 && moment.nanosecond() == 0).then_some("%Y-%m-%d %H:%M"),
                (moment.time() == chrono::NaiveTime::MIN).then_some("%Y-%m-%d"),
            ];
            if plain
                .iter()
                .flatten()
                .any(|format| moment.format(format).to_string() == cell)
            {
                return true;
            }
        }
        self.to_text().is_some_and(|text| text == cell)
    }
}

/// One record ready for the database: every rule already applied. Its
/// values follow the entity's stored fields
/// ([`EntityDescription::stored_fields`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The entity.
    pub entity: Entity,
    /// The spreadsheet row it came from, as stored (`import_source_row`):
    /// for an error report imported back, the row of the spreadsheet the
    /// report was made from.
    pub source_row: u64,
    /// Its row in the sheet being read, which its problems name.
    pub sheet_row: u64,
    /// One value per stored field, in `COPY` order.
    pub values: Vec<Value>,
    /// Unmapped cells and originals of changed values, by column.
    pub notes: ImportNotes,
    /// Bit `i` set: value `i` came from a cell the row fills (not from a
    /// blank cell's default), so an update of a CRM record writes it.
    pub given: u64,
}

impl Record {
    /// The value of the field stored in `column`.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.entity
            .description()
            .stored_fields()
            .position(|f| f.column == column)
            .and_then(|i| self.values.get(i))
    }

    /// The value of `column` as text (`None` when NULL or no such field).
    pub fn text(&self, column: &str) -> Option<Cow<'_, str>> {
        self.get(column).and_then(Value::to_text)
    }
}

/// What became of one row: its fate, and every issue found on the way.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    /// Spreadsheet row number.
    pub row: u64,
    /// Whether it goes in, and if not, why.
    pub fate: RowFate,
    /// Errors and warnings, in column order.
    pub issues: Vec<RowIssue>,
}

impl RowOutcome {
    /// The record, when the row goes in.
    pub fn record(&self) -> Option<&Record> {
        match &self.fate {
            RowFate::Record(record) => Some(record),
            _ => None,
        }
    }
}

/// What a row comes to: a record to store, or the reason it is left out.
#[derive(Debug, Clone)]
pub enum RowFate {
    /// Every rule passed: the record to store.
    Record(Record),
    /// An error fails the row; its issues say why.
    Failed,
    /// A totals row ("Total: 7 accounts"): not imported, and not a
    /// failure either; its warning says so.
    TotalsRow,
    /// Left out by the broker ("Remove this row"), with no problem to report.
    Removed,
}

/// Rows counted by their fate: what a check, an import's reader and the
/// preview all count the same way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Data rows read.
    pub rows: u64,
    /// Rows whose record goes in.
    pub records: u64,
    /// Rows an error fails.
    pub failed: u64,
    /// Totals rows passed over.
    pub totals_rows: u64,
    /// Rows the broker removed.
    pub removed: u64,
    /// Rows a sync left out because nothing in them changed since its
    /// last pass ([`crate::sync`]).
    pub unchanged: u64,
}

impl RowCounts {
    /// Counts one row.
    pub fn add(&mut self, fate: &RowFate) {
        self.rows += 1;
        match fate {
            RowFate::Record(_) => self.records += 1,
            RowFate::Failed => self.failed += 1,
            RowFate::TotalsRow => self.totals_rows += 1,
            RowFate::Removed => self.removed += 1,
        }
    }

    /// These counts and `other`'s together.
    pub fn plus(self, other: RowCounts) -> RowCounts {
        RowCounts {
            rows: self.rows + other.rows,
            records: self.records + other.records,
            failed: self.failed + other.failed,
            totals_rows: self.totals_rows + other.totals_rows,
            removed: self.removed + other.removed,
            unchanged: self.unchanged + other.unchanged,
        }
    }

    /// Rows left out without failing: totals rows, removed rows and rows
    /// a sync found unchanged.
    pub fn passed_over(&self) -> u64 {
        self.totals_rows + self.removed + self.unchanged
    }
}

/// The most distinct values counted per field; a column of free text put
/// under an enumerated field would otherwise grow without end.
const TALLY_VALUES_PER_FIELD: usize = 200;

/// Per enumerated field of a sheet, the values as written that its rule
/// does not recognise, or that the mapping replaced, with their row counts:
/// what the window offers to map ("Food Truck", 12 rows → Casual Dining).
#[derive(Debug, Clone, Default)]
pub struct ValueTally {
    /// Fields with at least one such value, in column order.
    fields: Vec<TalliedField>,
}

/// One enumerated field's tallied values.
#[derive(Debug, Clone)]
pub struct TalliedField {
    /// The field's column (`segment`).
    pub field: &'static str,
    /// The sheet's column, as issues name it (`SEGMENT`).
    pub label: String,
    /// The values the field can take.
    pub allowed: Vec<&'static str>,
    /// Values in the order first seen.
    pub values: Vec<TalliedValue>,
    /// Rows whose value was not counted, past the first 200 values.
    pub uncounted_rows: u64,
    /// Field index in the description; position of each value by its key.
    index: usize,
    positions: std::collections::HashMap<String, usize>,
}

/// A value as written and how many rows hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalliedValue {
    /// The first spelling seen (values differing only in case are one).
    pub written: String,
    /// Rows holding it.
    pub rows: u64,
    /// The allowed value the mapping replaces it with, if any.
    pub mapped_to: Option<String>,
    /// The label the rules read it as, when it is another system's word
    /// for one (Salesforce `Prospecting` → New Lead).
    pub read_as: Option<&'static str>,
}

/// Other systems' words for enumerated values, read as the CRM's labels:
/// each distinct one once, with its row count, for its notice.
#[derive(Debug, Clone, Default)]
pub struct Translations {
    /// `(field index, value key)` → position in `seen`.
    positions: std::collections::HashMap<(usize, String), usize>,
    /// `(field index, first spelling, label, rows)`, in the order first seen.
    seen: Vec<(usize, String, &'static str, u64)>,
}

impl Translations {
    fn add(&mut self, field_index: usize, written: &str, label: &'static str) {
        let key = (field_index, crate::values::enum_key(written));
        if let Some(&position) = self.positions.get(&key) {
            self.seen[position].3 += 1;
        } else {
            self.positions.insert(key, self.seen.len());
            self.seen
                .push((field_index, written.trim().to_owned(), label, 1));
        }
    }

    fn notices(&self, columns: &ColumnMap) -> Vec<String> {
        self.seen
            .iter()
            .map(|(field, written, label, rows)| {
                format!(
                    "{} '{written}' is read as {label}, as other systems and price lists mean it ({} row{}; what was written is kept in import notes)",
                    columns.field_label(*field),
                    rows,
                    if *rows == 1 { "" } else { "s" }
                )
            })
            .collect()
    }
}

impl ValueTally {
    fn new(description: &'static EntityDescription, columns: &ColumnMap) -> ValueTally {
        let mut fields: Vec<(usize, TalliedField)> = description
            .fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let allowed = field.allowed_values()?;
                let column = columns.column_of(index)?;
                Some((
                    column,
                    TalliedField {
                        field: field.column,
                        label: columns.label(column),
                        allowed,
                        values: Vec::new(),
                        uncounted_rows: 0,
                        index,
                        positions: std::collections::HashMap::new(),
                    },
                ))
            })
            .collect();
        fields.sort_by_key(|(column, _)| *column);
        ValueTally {
            fields: fields.into_iter().map(|(_, field)| field).collect(),
        }
    }

    fn add(
        &mut self,
        field_index: usize,
        written: &str,
        mapped_to: Option<&str>,
        read_as: Option<&'static str>,
    ) {
        let Some(field) = self.fields.iter_mut().find(|f| f.index == field_index) else {
            return;
        };
        let key = written.trim().to_lowercase();
        if let Some(&position) = field.positions.get(&key) {
            field.values[position].rows += 1;
        } else if field.values.len() < TALLY_VALUES_PER_FIELD {
            field.positions.insert(key, field.values.len());
            field.values.push(TalliedValue {
                written: written.trim().to_owned(),
                rows: 1,
                mapped_to: mapped_to.map(str::to_owned),
                read_as,
            });
        } else {
            field.uncounted_rows += 1;
        }
    }

    /// The fields holding values to map, in column order.
    pub fn fields(&self) -> impl Iterator<Item = &TalliedField> {
        self.fields.iter().filter(|f| !f.values.is_empty())
    }

    /// Whether no field holds a value to map.
    pub fn is_empty(&self) -> bool {
        self.fields().next().is_none()
    }
}

/// Whether a sheet with these headers is an error report this program
/// wrote: `Row` first, `Reason` last.
pub fn is_error_report(headers: &[String]) -> bool {
    matches!(headers, [first, .., last]
        if first.trim().eq_ignore_ascii_case(ERROR_REPORT_ROW)
            && last.trim().eq_ignore_ascii_case(ERROR_REPORT_REASON))
}

/// The first column of an error report: the failed row's number.
pub const ERROR_REPORT_ROW: &str = "Row";

/// The last column of an error report: why the row failed.
pub const ERROR_REPORT_REASON: &str = "Reason";

/// The header of the column an export writes the originals of changed
/// values in, as one JSON object; the import reads it back into
/// `import_notes` key by key ([`crate::export`]).
pub const IMPORT_NOTES_HEADER: &str = "Import Notes";

/// The `import_notes` of one record: keys in column order. Serialised as a
/// JSON object when the record is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportNotes {
    entries: Vec<(String, String)>,
    /// Which entries are originals of changed values (a few per row at
    /// most), so keeping the first of each looks at those alone.
    originals: Vec<usize>,
}

impl ImportNotes {
    /// Keeps a cell no field takes, under its column's label (labels are
    /// unique within a sheet).
    pub fn push(&mut self, key: String, value: &str) {
        self.entries.push((key, value.to_owned()));
    }

    /// Keeps the original of a changed value under `key`, unless an
    /// original is kept there already: the first is the original (an
    /// exported file's [`IMPORT_NOTES_HEADER`] column is read before the
    /// fields, and an edit before its clean-up or value mapping).
    pub fn push_original(&mut self, key: String, value: &str) {
        if self.originals.iter().any(|&i| self.entries[i].0 == key) {
            return;
        }
        self.originals.push(self.entries.len());
        self.entries.push((key, value.to_owned()));
    }

    /// Keeps the cell of an [`IMPORT_NOTES_HEADER`] column: a JSON object's
    /// keys each as their own note (as an export wrote them), anything else
    /// under `key`.
    pub fn push_exported(&mut self, key: String, cell: &str) {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(cell) {
            Ok(object) => {
                for (name, value) in object {
                    let text = match value {
                        serde_json::Value::String(text) => text,
                        other => other.to_string(),
                    };
                    self.push_original(name, &text);
                }
            }
            Err(_) => self.push(key, cell),
        }
    }

    /// The value kept under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every note, key and value, in column order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The JSON object text, or `None` when there is nothing to keep.
    pub fn to_json(&self) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        serde_json::to_string(self).ok()
    }
}

impl Serialize for ImportNotes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
