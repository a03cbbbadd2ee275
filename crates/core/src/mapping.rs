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
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::clean::{CleanUp, CleanUpTally};
use crate::edits::SheetEdits;
use crate::entity::{
    Entity, EntityChoice, EntityDescription, FieldKind, FieldSpec, ORGANIZATION_TYPES, SEGMENTS,
    UnknownValue, detect_entity, header_key, recognise,
};
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{
    FileNotice, ReadError, SUSPICIOUS_RECORD_LINES, SheetRow, Spreadsheet, column_letter,
};
use crate::values::{self, DateOrder, shorten};

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
}

impl RowIssue {
    /// An issue that fails its row.
    pub fn error(row: u64, column: String, message: String) -> RowIssue {
        RowIssue {
            row,
            column,
            message,
            severity: Severity::Error,
        }
    }

    /// An issue that does not fail its row.
    pub fn warning(row: u64, column: String, message: String) -> RowIssue {
        RowIssue {
            row,
            column,
            message,
            severity: Severity::Warning,
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

/// What became of one row: the record when it can be imported, and every
/// issue found on the way.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    /// Spreadsheet row number.
    pub row: u64,
    /// `None` when an error fails the row.
    pub record: Option<Record>,
    /// Errors and warnings, in column order.
    pub issues: Vec<RowIssue>,
    /// A totals row ("Total: 7 accounts"): not imported, and not a failure
    /// either; its warning says so.
    pub skipped: bool,
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

    fn add(&mut self, field_index: usize, written: &str, mapped_to: Option<&str>) {
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

/// What a column of the sheet is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// Fills the field at this index of the entity's description.
    Field(usize),
    /// Kept in `import_notes` under its header.
    ImportNotes,
    /// Left out, as a saved mapping said (or an error report's `Reason`).
    Skipped,
    /// An error report's `Row`: the row number of the spreadsheet the row
    /// first came from, which the import keeps as its source row.
    OriginalRow,
}

/// How each column of one sheet is used, worked out once from its header.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    description: &'static EntityDescription,
    roles: Vec<ColumnRole>,
    /// Keys used in `import_notes` (header as written, made unique).
    labels: Vec<String>,
    /// The column of each field, by field index.
    fields: Vec<Option<usize>>,
}

impl ColumnMap {
    /// Maps `headers` for `entity`. The first column matching a field wins;
    /// later ones (and every unknown column) go to `import_notes`.
    pub fn new(entity: Entity, headers: &[String]) -> ColumnMap {
        ColumnMap::with_choices(entity, headers, &BTreeMap::new())
    }

    /// As [`ColumnMap::new`], but a header named in `choices` (a saved
    /// mapping's columns) goes where it says: a field's column,
    /// `import_notes`, or nowhere (`None`). Chosen fields win over the
    /// automatic match of another column.
    pub fn with_choices(
        entity: Entity,
        headers: &[String],
        choices: &BTreeMap<String, Option<String>>,
    ) -> ColumnMap {
        let description = entity.description();
        let mut fields = vec![None; description.fields.len()];
        let mut roles = Vec::with_capacity(headers.len());
        let mut labels: Vec<String> = Vec::with_capacity(headers.len());
        // Headers seen so far, so a sheet with thousands of columns stays fast.
        let mut seen = std::collections::HashSet::with_capacity(headers.len());
        let chosen = |header: &str| choices.get(header).map(Option::as_deref);
        for (index, header) in headers.iter().enumerate() {
            if let Some(Some(target)) = chosen(header.trim())
                && let Some(field) = description.field_index(target)
                && fields[field].is_none()
            {
                fields[field] = Some(index);
            }
        }
        for (index, header) in headers.iter().enumerate() {
            let trimmed = header.trim();
            let role = match chosen(trimmed) {
                Some(None) => ColumnRole::Skipped,
                Some(Some(target)) => match description.field_index(target) {
                    Some(field) if fields[field] == Some(index) => ColumnRole::Field(field),
                    _ => ColumnRole::ImportNotes,
                },
                None => match description.field_for_header(trimmed) {
                    Some(field) if fields[field].is_none() => {
                        fields[field] = Some(index);
                        ColumnRole::Field(field)
                    }
                    _ => ColumnRole::ImportNotes,
                },
            };
            let letter = column_letter(index);
            let label = if trimmed.is_empty() {
                format!("Column {letter}")
            } else if !seen.insert(trimmed) {
                format!("{trimmed} (column {letter})")
            } else {
                trimmed.to_owned()
            };
            roles.push(role);
            labels.push(label);
        }
        // Then headers that almost name a field no column took ("Adress"),
        // in a sheet of a size people type headers for.
        for (index, header) in headers.iter().enumerate().take(FUZZY_HEADER_COLUMNS) {
            if roles[index] != ColumnRole::ImportNotes || chosen(header.trim()).is_some() {
                continue;
            }
            if let Some(field) = description.field_for_header_fuzzy(header.trim())
                && fields[field].is_none()
            {
                fields[field] = Some(index);
                roles[index] = ColumnRole::Field(field);
            }
        }
        // An error report imported back (its `Row` first, `Reason` last):
        // neither is a field of the record.
        if is_error_report(headers) && !choices.contains_key(headers[0].trim()) {
            let last_index = headers.len() - 1;
            for (index, role) in [
                (0, ColumnRole::OriginalRow),
                (last_index, ColumnRole::Skipped),
            ] {
                if let ColumnRole::Field(field) = roles[index] {
                    fields[field] = None;
                }
                roles[index] = role;
            }
        }
        ColumnMap {
            description,
            roles,
            labels,
            fields,
        }
    }

    /// The column of an error report's original row numbers, when the
    /// sheet is one: always its first (asked of every row read).
    pub fn original_row_column(&self) -> Option<usize> {
        (self.roles.first() == Some(&ColumnRole::OriginalRow)).then_some(0)
    }

    /// The entity mapped to.
    pub fn entity(&self) -> Entity {
        self.description.entity
    }

    /// The role of each column, in order.
    pub fn roles(&self) -> &[ColumnRole] {
        &self.roles
    }

    /// What column `index` fills, as the preview writes it under the header.
    pub fn target(&self, index: usize) -> Cow<'static, str> {
        let field = match self.roles.get(index) {
            Some(ColumnRole::Field(field)) => field,
            Some(ColumnRole::Skipped) => return Cow::Borrowed("skipped"),
            Some(ColumnRole::OriginalRow) => return Cow::Borrowed("original row number"),
            _ => return Cow::Borrowed("import notes"),
        };
        let spec = &self.description.fields[*field];
        match &spec.kind {
            FieldKind::FullName if self.splits_full_name() => {
                Cow::Borrowed("first_name + last_name")
            }
            FieldKind::FullName => Cow::Borrowed("import notes"),
            FieldKind::Link(target) => {
                Cow::Owned(format!("{} (found by name)", target.entity.singular()))
            }
            _ => Cow::Borrowed(spec.column),
        }
    }

    /// The label of column `index` as issues and `import_notes` name it.
    pub fn label(&self, index: usize) -> String {
        self.labels
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("Column {}", column_letter(index)))
    }

    /// The column that fills the field at `field` (an index into the
    /// description's fields), if any.
    pub fn column_of(&self, field: usize) -> Option<usize> {
        self.fields.get(field).copied().flatten()
    }

    /// The column that fills the field stored in `column`, if any.
    pub fn column_of_field(&self, column: &str) -> Option<usize> {
        self.description
            .field_index(column)
            .and_then(|f| self.column_of(f))
    }

    /// How issues name a field: its column's header, else the field's name.
    fn field_label(&self, field: usize) -> String {
        match self.column_of(field) {
            Some(index) => self.label(index),
            None => self.description.fields[field].column.to_owned(),
        }
    }

    /// Whether the contacts' full-name column stands in for first and last name.
    fn splits_full_name(&self) -> bool {
        let description = self.description;
        let mapped = |column| self.column_of_field(column).is_some();
        description
            .fields
            .iter()
            .any(|f| matches!(f.kind, FieldKind::FullName) && mapped(f.column))
            && !mapped("first_name")
            && !mapped("last_name")
    }

    /// Sheet-level problems: a required field with no column (an error that
    /// stops the import), blank or repeated headers.
    pub fn header_issues(&self, header_row: u64, headers: &[String]) -> Vec<RowIssue> {
        let mut issues = Vec::new();
        let description = self.description;
        let full_name = self.splits_full_name();
        for (index, field) in description.fields.iter().enumerate() {
            let covered = self.column_of(index).is_some()
                || (full_name && matches!(field.column, "first_name" | "last_name"));
            if !field.required || covered {
                continue;
            }
            let mut names = field.aliases.iter().take(4).map(|a| format!("'{a}'"));
            let first = names.next().unwrap_or_default();
            let others: Vec<String> = names.collect();
            let what = if field.column == "name" {
                format!("{} name", description.entity.singular())
            } else {
                format!(
                    "{}'s {}",
                    description.entity.singular(),
                    field.label.to_lowercase()
                )
            };
            issues.push(RowIssue::error(
                header_row,
                String::new(),
                if others.is_empty() {
                    format!("No column holds the {what}: add a column headed {first}")
                } else {
                    format!(
                        "No column holds the {what}: add a column headed {first} (or {})",
                        others.join(", ")
                    )
                },
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(headers.len());
        for (index, header) in headers.iter().enumerate() {
            let trimmed = header.trim();
            if trimmed.is_empty() {
                continue;
            }
            if !seen.insert(trimmed) {
                issues.push(RowIssue::warning(
                    header_row,
                    self.label(index),
                    format!(
                        "The header '{trimmed}' appears twice; this column's values are kept in import notes as '{}'",
                        self.label(index)
                    ),
                ));
            }
        }
        issues
    }
}

/// Turns rows of one sheet into [`Record`]s. Holds what must be remembered
/// across rows: how each date column is read, and the keys seen for the
/// in-file duplicate warnings.
#[derive(Debug)]
pub struct RowMapper {
    columns: ColumnMap,
    /// By field index.
    date_orders: Vec<DateOrder>,
    /// Per duplicate key of the description: the first row of each key.
    keys_seen: Vec<FirstRows>,
    /// Per duplicate key: where its fields are among a record's values.
    key_positions: Vec<Vec<usize>>,
    hasher: ahash::RandomState,
    /// Reused for duplicate keys, so no row allocates for them.
    key_scratch: String,
    /// The column of a header that looks like an email address's, when no
    /// field takes it (organizations): its values are still checked.
    unmapped_email: Option<usize>,
    /// The [`IMPORT_NOTES_HEADER`] column an export wrote, when it goes to
    /// import notes.
    exported_notes: Option<usize>,
    /// The saved mapping's replacements for unrecognised values.
    choices: SavedMapping,
    /// The broker's edits to particular rows.
    edits: SheetEdits,
    /// Unrecognised and replaced values of enumerated fields, when asked
    /// for ([`RowMapper::tally_values`]).
    tally: Option<ValueTally>,
    /// What each clean-up kind not applied would change, when asked for
    /// ([`RowMapper::suggest_clean_ups`]).
    suggestions: Option<CleanUpTally>,
    /// Phone numbers already formatted: a file repeats them, and parsing
    /// one is the slow part of cleaning.
    phones: HashMap<String, Option<String>>,
    /// An error report's original row numbers seen so far, so a row copied
    /// twice is refused rather than stored over its twin.
    original_rows: HashSet<u64>,
}

impl RowMapper {
    /// A mapper for a sheet of `entity` with these headers.
    pub fn new(entity: Entity, headers: &[String]) -> RowMapper {
        RowMapper::with_mapping(entity, headers, &SavedMapping::default())
    }

    /// A mapper that applies a saved mapping's column targets and value
    /// replacements.
    pub fn with_mapping(entity: Entity, headers: &[String], mapping: &SavedMapping) -> RowMapper {
        let columns = ColumnMap::with_choices(entity, headers, &mapping.columns);
        let description = entity.description();
        let unmapped_email = if description
            .fields
            .iter()
            .any(|f| matches!(f.kind, FieldKind::Email))
        {
            None
        } else {
            headers
                .iter()
                .position(|h| header_key(h).contains("email"))
                .filter(|&i| columns.roles[i] == ColumnRole::ImportNotes)
        };
        RowMapper {
            date_orders: vec![DateOrder::MonthFirst; description.fields.len()],
            keys_seen: description
                .duplicate_keys
                .iter()
                .map(|_| FirstRows::default())
                .collect(),
            key_positions: description
                .duplicate_keys
                .iter()
                .map(|key| {
                    key.fields
                        .iter()
                        .filter_map(|column| {
                            description
                                .stored_fields()
                                .position(|f| f.column == *column)
                        })
                        .collect()
                })
                .collect(),
            hasher: ahash::RandomState::new(),
            key_scratch: String::new(),
            unmapped_email,
            exported_notes: headers
                .iter()
                .position(|h| header_key(h) == header_key(IMPORT_NOTES_HEADER))
                .filter(|&i| columns.roles[i] == ColumnRole::ImportNotes),
            columns,
            choices: SavedMapping {
                values: mapping.values.clone(),
                ..SavedMapping::default()
            },
            edits: SheetEdits::default(),
            tally: None,
            suggestions: None,
            phones: HashMap::new(),
            original_rows: HashSet::new(),
        }
    }

    /// Applies the broker's edits to particular rows.
    pub fn set_edits(&mut self, edits: &SheetEdits) {
        self.edits = edits.clone();
    }

    /// Counts, from now on, the values of enumerated fields that the rules
    /// do not recognise or that the mapping replaced ([`ValueTally`]).
    pub fn tally_values(&mut self) {
        let description = self.columns.description;
        self.tally = Some(ValueTally::new(description, &self.columns));
    }

    /// The values counted since [`RowMapper::tally_values`].
    pub fn value_tally(&self) -> Option<&ValueTally> {
        self.tally.as_ref()
    }

    /// Counts, from now on, what each clean-up kind not applied would
    /// change ([`CleanUpTally`]).
    pub fn suggest_clean_ups(&mut self) {
        self.suggestions = Some(CleanUpTally::default());
    }

    /// The clean-ups counted since [`RowMapper::suggest_clean_ups`].
    pub fn clean_up_tally(&self) -> Option<&CleanUpTally> {
        self.suggestions.as_ref()
    }

    /// `cell` of `field` with the applied clean-up kinds done (the original
    /// kept in import notes), counting what the others would do when asked.
    fn clean_cell<'c>(
        &mut self,
        field: &FieldSpec,
        cell: Cow<'c, str>,
        label: &str,
        out: &mut RowWork,
    ) -> Cow<'c, str> {
        if cell.is_empty() || (self.edits.clean.is_empty() && self.suggestions.is_none()) {
            return cell;
        }
        let mut current = cell;
        for kind in CleanUp::ALL {
            if !kind.applies_to(field) {
                continue;
            }
            let applied = self.edits.clean.contains(&kind);
            if !applied && self.suggestions.is_none() {
                continue;
            }
            let after = match kind {
                CleanUp::Phones => {
                    if self.phones.len() > 100_000 {
                        self.phones.clear();
                    }
                    self.phones
                        .entry(current.to_string())
                        .or_insert_with_key(|written| kind.apply(written))
                        .clone()
                }
                _ => kind.apply(&current),
            };
            let Some(after) = after else {
                continue;
            };
            if applied {
                out.notes
                    .push_original(format!("{label} (as written)"), &current);
                current = Cow::Owned(after);
            } else if let Some(tally) = &mut self.suggestions {
                tally.add(kind, &current, &after);
            }
        }
        current
    }

    /// How the sheet's columns are used.
    pub fn columns(&self) -> &ColumnMap {
        &self.columns
    }

    /// Reads the date field at `field` (a field index) in `order`.
    pub fn set_date_order(&mut self, field: usize, order: DateOrder) {
        if let Some(slot) = self.date_orders.get_mut(field) {
            *slot = order;
        }
    }

    /// Applies every rule of the entity's mapping to one row.
    pub fn map_row(&mut self, row: &SheetRow) -> RowOutcome {
        let description = self.columns.description;
        let mut out = RowWork {
            number: row.number,
            issues: Vec::new(),
            notes: ImportNotes::default(),
            unrecognised: false,
        };
        // Left out by the broker: skipped, with no problem to report (the
        // list of changes says so).
        if self.edits.removed_rows.contains(&row.number) {
            return RowOutcome {
                row: row.number,
                record: None,
                issues: Vec::new(),
                skipped: true,
            };
        }
        // The broker's text in place of the file's, which goes to notes.
        let patched;
        let row = match self.edits.cells.get(&row.number) {
            Some(cells) => {
                for (&column, text) in cells {
                    let original = row.get(column);
                    if original.trim() != text.trim() {
                        out.notes.push_original(
                            format!("{} (as written)", self.columns.label(column)),
                            original,
                        );
                    }
                }
                patched = row.with_cells(cells);
                &patched
            }
            None => row,
        };
        let source_row = match self.original_row(row, &mut out) {
            Some(number) => number,
            None => row.number,
        };
        let kept = self.edits.kept_totals_rows.contains(&row.number);
        if !kept && let Some((column, cell)) = self.totals_cell(row) {
            out.warning(
                self.columns.label(column),
                format!(
                    "'{}' looks like a totals row, not one of the {}; not imported",
                    shorten(cell),
                    description.entity.name()
                ),
            );
            return RowOutcome {
                row: row.number,
                record: None,
                issues: out.issues,
                skipped: true,
            };
        }
        self.check_cells(row, &mut out);

        let full_name = if self.columns.splits_full_name() {
            self.split_full_name(row, &mut out)
        } else {
            Ok(None)
        };
        let mut values = Vec::with_capacity(description.fields.len());
        let mut given = 0u64;
        let mut segment_type = None;
        for (index, field) in description.fields.iter().enumerate() {
            if !field.is_stored() {
                continue;
            }
            let cell: Cow<'_, str> = match (&full_name, field.column) {
                (Ok(Some((first, _))), "first_name") => Cow::Borrowed(first.as_str()),
                (Ok(Some((_, last))), "last_name") => Cow::Borrowed(last.as_str()),
                // The one-word name already failed the row, saying why.
                (Err(()), "first_name" | "last_name") => {
                    values.push(Value::Null);
                    continue;
                }
                _ => match self.columns.column_of(index) {
                    Some(column) => Cow::Borrowed(row.get(column).trim()),
                    None => Cow::Borrowed(""),
                },
            };
            let label = self.columns.field_label(index);
            let cell = self.clean_cell(field, cell, &label, &mut out);
            // A value the broker mapped ("Food Truck" → "Casual Dining"),
            // its original kept in import notes.
            let (cell, replaced) = match self.choices.value_for(field.column, &cell) {
                Some(mapped) if !cell.is_empty() => {
                    out.notes
                        .push_original(format!("{label} (as written)"), &cell);
                    (Cow::Owned(mapped.to_owned()), Some(cell))
                }
                _ => (cell, None),
            };
            let value = if cell.is_empty() {
                blank_value(field, &label, &mut out)
            } else {
                given |= 1u64.checked_shl(values.len() as u32).unwrap_or(0);
                self.read_cell(index, field, &cell, &label, &mut out, &mut segment_type)
            };
            if let Some(tally) = &mut self.tally {
                match &replaced {
                    Some(written) => tally.add(index, written, Some(&cell)),
                    None if out.unrecognised => tally.add(index, &cell, None),
                    None => {}
                }
            }
            out.unrecognised = false;
            values.push(value);
        }
        if description.entity == Entity::Organizations {
            given |= organization_type_from_segment(description, &mut values, segment_type);
        }
        self.check_lengths(&values, &mut out);
        // A row that fails is not stored, so it duplicates nothing.
        if !out.issues.iter().any(|i| i.severity == Severity::Error) {
            self.warn_duplicates(&values, &mut out);
        }

        let failed = out.issues.iter().any(|i| i.severity == Severity::Error);
        RowOutcome {
            row: row.number,
            record: (!failed).then_some(Record {
                entity: description.entity,
                source_row,
                sheet_row: row.number,
                values,
                notes: out.notes,
                given,
            }),
            issues: out.issues,
            skipped: false,
        }
    }

    /// For a row of an error report imported back, the row number of the
    /// spreadsheet it first came from (its `Row` cell); a row without one,
    /// or with one an earlier row had, fails.
    fn original_row(&mut self, row: &SheetRow, out: &mut RowWork) -> Option<u64> {
        let column = self.columns.original_row_column()?;
        let cell = row.get(column).trim();
        let label = self.columns.label(column);
        match cell.parse::<u64>() {
            Ok(number) if number > 0 && number <= i32::MAX as u64 => {
                if self.original_rows.insert(number) {
                    Some(number)
                } else {
                    out.error(
                        label,
                        format!(
                            "Row {number} appears twice in this error report; each row keeps the number of the spreadsheet row it came from, so remove the copy"
                        ),
                    );
                    None
                }
            }
            _ => {
                out.error(
                    label,
                    format!(
                        "'{}' is not the number of a spreadsheet row; a row of an error report keeps the one it was given (add new rows to a file of their own)",
                        shorten(cell)
                    ),
                );
                None
            }
        }
    }

    /// The name cell of a totals row, when `row` is one: the cell of the
    /// entity's name (its first required text field, or the full name)
    /// reads `Total`, `Totals`, `Grand Total`, `Subtotal` or `Sum`, alone
    /// or with a count (`Total: 7 accounts`). `Total Wine & More` is a name.
    fn totals_cell<'r>(&self, row: &'r SheetRow) -> Option<(usize, &'r str)> {
        let description = self.columns.description;
        let name_field = description
            .fields
            .iter()
            .position(|f| f.required && matches!(f.kind, FieldKind::Text | FieldKind::FullName))?;
        let column = self.columns.column_of(name_field).or_else(|| {
            description
                .fields
                .iter()
                .position(|f| matches!(f.kind, FieldKind::FullName))
                .and_then(|full| self.columns.column_of(full))
        })?;
        let cell = row.get(column);
        is_totals_label(cell).then_some((column, cell))
    }

    /// Cells that cannot be stored at all, an unclosed quote, and the cells
    /// no field takes (kept in import notes).
    fn check_cells(&self, row: &SheetRow, out: &mut RowWork) {
        let columns = &self.columns;
        for (index, cell) in row.cells().enumerate() {
            if cell.contains('\0') {
                out.error(
                    columns.label(index),
                    "The cell contains a NUL character (byte 0), which the database cannot store; the file may be damaged".to_owned(),
                );
            }
        }
        if row.lines > SUSPICIOUS_RECORD_LINES {
            let column = row
                .cells()
                .position(|cell| cell.contains('\n'))
                .map_or_else(String::new, |index| columns.label(index));
            out.error(
                column,
                format!(
                    "This row runs over {} lines of the file: a quote (\") in it is probably never closed, so the lines after it were read into one cell; fix the quote and check again",
                    row.lines
                ),
            );
        }
        for index in 0..row.len() {
            let cell = row.get(index);
            let role = columns.roles.get(index).copied();
            let kept_whole = match role {
                // A full name is kept whole: split, the split is a guess;
                // beside first and last name columns, it is not used.
                Some(ColumnRole::Field(field)) => {
                    matches!(columns.description.fields[field].kind, FieldKind::FullName)
                }
                Some(ColumnRole::Skipped | ColumnRole::OriginalRow) => false,
                _ => true,
            };
            if !kept_whole || cell.trim().is_empty() {
                continue;
            }
            if role.is_none() {
                out.warning(
                    columns.label(index),
                    format!(
                        "The row has more cells than the header; '{}' is kept in import notes",
                        shorten(cell)
                    ),
                );
            }
            if self.exported_notes == Some(index) {
                out.notes.push_exported(columns.label(index), cell);
            } else {
                out.notes.push(columns.label(index), cell);
            }
        }
        if let Some(index) = self.unmapped_email {
            let email = row.get(index).trim();
            if !email.is_empty() && !values::looks_like_email(email) {
                out.warning(
                    columns.label(index),
                    format!("Invalid email format: '{}'", shorten(email)),
                );
            }
        }
    }

    /// Contacts with one name column: "Mary Ann Smith" is "Mary Ann" + "Smith".
    /// `Err` when the name is one word (the row has failed).
    fn split_full_name(
        &self,
        row: &SheetRow,
        out: &mut RowWork,
    ) -> Result<Option<(String, String)>, ()> {
        let description = self.columns.description;
        let Some(column) = description
            .fields
            .iter()
            .position(|f| matches!(f.kind, FieldKind::FullName))
            .and_then(|field| self.columns.column_of(field))
        else {
            return Ok(None);
        };
        let label = self.columns.label(column);
        let name = row.get(column).split_whitespace().collect::<Vec<_>>();
        match name.split_last() {
            None => Ok(None),
            Some((_, [])) => {
                out.error(
                    label,
                    format!(
                        "'{}' is one word: a contact needs a first and a last name",
                        shorten(name.join(" ").as_str())
                    ),
                );
                Err(())
            }
            Some((last, first)) => {
                let first = first.join(" ");
                if first.contains(' ') {
                    out.warning(
                        label,
                        format!(
                            "'{} {last}' split into first name '{first}' and last name '{last}'",
                            shorten(&first)
                        ),
                    );
                }
                Ok(Some((first, (*last).to_owned())))
            }
        }
    }

    /// Reads one non-empty cell with its field's rule.
    fn read_cell(
        &self,
        index: usize,
        field: &FieldSpec,
        cell: &str,
        label: &str,
        out: &mut RowWork,
        segment_type: &mut Option<&'static str>,
    ) -> Value {
        let order = self.date_orders[index];
        match &field.kind {
            FieldKind::Text | FieldKind::FullName => Value::Text(cell.to_owned()),
            FieldKind::Phone => {
                if !values::looks_like_phone(cell) {
                    out.warning(
                        label.to_owned(),
                        format!(
                            "Phone number '{}' does not look like a phone number; kept as written",
                            shorten(cell)
                        ),
                    );
                }
                Value::Text(cell.to_owned())
            }
            FieldKind::Email => {
                if !values::looks_like_email(cell) {
                    out.warning(
                        label.to_owned(),
                        format!("Invalid email format: '{}'", shorten(cell)),
                    );
                }
                Value::Text(cell.to_owned())
            }
            FieldKind::Enum {
                enumeration,
                unknown,
                ..
            } => match enumeration.find(cell) {
                Some(found) => {
                    if found != cell {
                        out.notes.push_original(label.to_owned(), cell);
                    }
                    Value::Label(found)
                }
                None => {
                    out.unrecognised = true;
                    let allowed = enumeration.allowed();
                    let name = enumeration.name;
                    match unknown {
                        UnknownValue::Fail => {
                            out.error(
                                label.to_owned(),
                                format!("Unknown {name} '{}': use one of {allowed}", shorten(cell)),
                            );
                            Value::Null
                        }
                        UnknownValue::Empty => {
                            out.notes.push_original(label.to_owned(), cell);
                            out.warning(
                                label.to_owned(),
                                format!(
                                    "Unknown {name} '{}', left empty (the CRM knows {allowed})",
                                    shorten(cell)
                                ),
                            );
                            Value::Null
                        }
                        UnknownValue::Default(default) => {
                            out.notes.push_original(label.to_owned(), cell);
                            out.warning(
                                label.to_owned(),
                                format!(
                                    "Unknown {name} '{}', imported as {default} (the CRM knows {allowed})",
                                    shorten(cell)
                                ),
                            );
                            Value::Label(default)
                        }
                    }
                }
            },
            FieldKind::Money(digits) => out.parsed(
                label,
                cell,
                values::money(cell, *digits),
                false,
                Value::Money,
            ),
            FieldKind::WholeNumber => {
                out.parsed(label, cell, values::whole_number(cell), false, Value::Int)
            }
            FieldKind::ShelfLifeDays => {
                out.parsed(label, cell, values::shelf_life_days(cell), true, Value::Int)
            }
            FieldKind::DurationMinutes => out.parsed(
                label,
                cell,
                values::duration_minutes(cell),
                true,
                Value::Int,
            ),
            FieldKind::Probability => {
                out.parsed(label, cell, values::probability(cell), false, Value::Int)
            }
            FieldKind::Date => {
                out.parsed(label, cell, values::date(cell, order), true, Value::Date)
            }
            FieldKind::DateTime => out.parsed(
                label,
                cell,
                values::date_time(cell, order),
                true,
                Value::Timestamp,
            ),
            FieldKind::YesNo { blank } => match values::yes_no(cell) {
                Some(value) => Value::Bool(value),
                None => {
                    out.unrecognised = true;
                    out.notes.push_original(label.to_owned(), cell);
                    out.warning(
                        label.to_owned(),
                        format!(
                            "'{}' is not yes or no; imported as {}",
                            shorten(cell),
                            if *blank { "yes" } else { "no" }
                        ),
                    );
                    Value::Bool(*blank)
                }
            },
            FieldKind::Link(_) => Value::LinkName(cell.to_owned()),
            FieldKind::Priority => Value::Label(read_priority(cell, label, out)),
            FieldKind::Segment => {
                let (segment, implied) = read_segment(cell, label, out);
                *segment_type = Some(implied);
                Value::Text(segment)
            }
            FieldKind::OrganizationType => match ORGANIZATION_TYPES.find(cell) {
                Some(found) => {
                    if found != cell {
                        out.notes.push_original(label.to_owned(), cell);
                    }
                    Value::Label(found)
                }
                None => {
                    out.unrecognised = true;
                    out.notes.push_original(label.to_owned(), cell);
                    out.warning(
                        label.to_owned(),
                        format!(
                            "Unknown type '{}': the type comes from the segment (the CRM knows {})",
                            shorten(cell),
                            ORGANIZATION_TYPES.allowed()
                        ),
                    );
                    Value::Null
                }
            },
            FieldKind::PostalCode => {
                // A US ZIP that lost its leading zero in Excel.
                if (3..=4).contains(&cell.len()) && cell.bytes().all(|b| b.is_ascii_digit()) {
                    let padded = format!("{cell:0>5}");
                    out.notes.push_original(label.to_owned(), cell);
                    out.warning(
                        label.to_owned(),
                        format!(
                            "ZIP code '{cell}' lost its leading zeros in Excel; imported as '{padded}'"
                        ),
                    );
                    Value::Text(padded)
                } else {
                    Value::Text(cell.to_owned())
                }
            }
        }
    }

    /// Values the database would refuse for their length fail the row here,
    /// with the column named.
    fn check_lengths(&self, values: &[Value], out: &mut RowWork) {
        let description = self.columns.description;
        for ((index, field), value) in description
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_stored())
            .zip(values)
        {
            let (Some(limit), Value::Text(text)) = (field.max_chars, value) else {
                continue;
            };
            // Most cells are short: only count characters when the bytes could exceed.
            if text.len() <= limit {
                continue;
            }
            let length = text.chars().count();
            if length > limit {
                out.error(
                    self.columns.field_label(index),
                    format!(
                        "Too long for the CRM: {length} characters, the '{}' field holds at most {limit}",
                        field.column
                    ),
                );
            }
        }
    }

    /// The same record twice in one file is worth a look, never a failure.
    fn warn_duplicates(&mut self, values: &[Value], out: &mut RowWork) {
        let description = self.columns.description;
        for (key_index, key) in description.duplicate_keys.iter().enumerate() {
            let parts: Vec<Cow<'_, str>> = self.key_positions[key_index]
                .iter()
                .filter_map(|&position| values.get(position).and_then(Value::to_text))
                .collect();
            if parts.len() < key.fields.len() {
                // The next key decides ("by SKU, else by name").
                continue;
            }
            // Same text ignoring case and spacing: "ABC  restaurant" is "ABC Restaurant".
            self.key_scratch.clear();
            for part in &parts {
                for word in part.split_whitespace() {
                    if !self.key_scratch.is_empty() {
                        self.key_scratch.push(' ');
                    }
                    if word.is_ascii() {
                        let start = self.key_scratch.len();
                        self.key_scratch.push_str(word);
                        self.key_scratch[start..].make_ascii_lowercase();
                    } else {
                        self.key_scratch
                            .extend(word.chars().flat_map(char::to_lowercase));
                    }
                }
                self.key_scratch.push('\u{1F}');
            }
            let hash = self.hasher.hash_one(self.key_scratch.as_str());
            if let Some(first) = self.keys_seen[key_index].first_or_insert(hash, out.number) {
                let field = description.field_index(key.fields[0]).unwrap_or(0);
                out.warning(
                    self.columns.field_label(field),
                    format!(
                        "Duplicate {} {}: '{}' in rows {first}, {}",
                        description.entity.singular(),
                        key.what,
                        duplicate_display(key.fields, &parts),
                        out.number
                    ),
                );
            }
            return;
        }
    }
}

/// The first row each key (by its 64-bit hash) was seen on, for the in-file
/// duplicate warnings: 12 bytes a key, in 64 shards, so that growing never
/// copies more than a 64th of the index at once. (One map of 16-byte entries
/// doubling in one step was the memory peak of a 5,000,000-row import.)
#[derive(Debug)]
struct FirstRows {
    shards: Vec<hashbrown::HashTable<[u32; 3]>>,
}

impl Default for FirstRows {
    fn default() -> Self {
        FirstRows {
            shards: (0..64).map(|_| hashbrown::HashTable::new()).collect(),
        }
    }
}

impl FirstRows {
    /// The first row of `hash`, or `None` after recording `row` as its first.
    fn first_or_insert(&mut self, hash: u64, row: u64) -> Option<u64> {
        // The top bits pick the shard; the table hashes with the rest.
        let shard = &mut self.shards[(hash >> 58) as usize];
        let (low, high) = (hash as u32, (hash >> 32) as u32);
        let entry_hash = |entry: &[u32; 3]| u64::from(entry[0]) | (u64::from(entry[1]) << 32);
        if let Some(entry) = shard.find(hash, |entry| entry[0] == low && entry[1] == high) {
            return Some(u64::from(entry[2]));
        }
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        shard.insert_unique(hash, [low, high, row], entry_hash);
        None
    }
}

/// Columns of a sheet whose headers are matched loosely when no alias
/// matches: beyond, a sheet is machine-made and its headers exact.
const FUZZY_HEADER_COLUMNS: usize = 200;

/// Whether a name cell is a totals label: `Total`, `Totals`, `Grand Total`,
/// `Subtotal` or `Sum` (case and punctuation ignored), repeated or not,
/// alone or followed by a count and one word (`TOTAL / Total: 7 accounts`).
fn is_totals_label(cell: &str) -> bool {
    let words: Vec<String> = cell
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut rest = words.as_slice();
    let mut labelled = false;
    loop {
        match rest {
            [first, second, tail @ ..] if first == "grand" && second == "total" => rest = tail,
            [word, tail @ ..]
                if ["total", "totals", "subtotal", "sum"].contains(&word.as_str()) =>
            {
                rest = tail;
            }
            _ => break,
        }
        labelled = true;
    }
    labelled
        && match rest {
            [] => true,
            [count] => count.chars().all(|c| c.is_ascii_digit()),
            [count, _] => count.chars().all(|c| c.is_ascii_digit()),
            _ => false,
        }
}

/// How a duplicate warning shows the key: the record's own values, then the
/// record it belongs to ("'Jane Smith' at 'Acme'").
fn duplicate_display(fields: &[&str], parts: &[Cow<'_, str>]) -> String {
    let mut own = Vec::new();
    let mut within = None;
    for (field, part) in fields.iter().zip(parts) {
        if field.ends_with("_id") {
            within = Some(part.as_ref());
        } else {
            own.push(part.as_ref());
        }
    }
    let own = shorten(&own.join(" "));
    match within {
        Some(owner) => format!("{own}' of '{}", shorten(owner)),
        None => own,
    }
}

/// The value of a blank cell (or a field with no column).
fn blank_value(field: &FieldSpec, label: &str, out: &mut RowWork) -> Value {
    match &field.kind {
        FieldKind::Enum {
            blank: Some(default),
            ..
        } => return Value::Label(default),
        FieldKind::YesNo { blank } => return Value::Bool(*blank),
        FieldKind::Priority => return Value::Label("C"),
        FieldKind::Segment => return Value::Text("General".to_owned()),
        _ => {}
    }
    if field.required {
        let name = field.column.strip_suffix("_id").unwrap_or(field.column);
        out.error(label.to_owned(), format!("Missing required field '{name}'"));
    }
    Value::Null
}

/// PRIORITY-FOCUS: A to D; `A+`/`A-` are the letter (warning); anything else is C.
fn read_priority(raw: &str, label: &str, out: &mut RowWork) -> &'static str {
    let upper = raw.to_uppercase();
    let mut chars = upper.chars();
    let first = match chars.next() {
        Some('A') => Some("A"),
        Some('B') => Some("B"),
        Some('C') => Some("C"),
        Some('D') => Some("D"),
        _ => None,
    };
    let rest = chars.as_str();
    match first {
        Some(priority) if rest.is_empty() => {
            // Nothing is lost: even `b` for `B` keeps its original.
            if raw != priority {
                out.notes.push_original(label.to_owned(), raw);
            }
            priority
        }
        Some(priority) if rest == "+" || rest == "-" => {
            out.notes.push_original(label.to_owned(), raw);
            out.warning(
                label.to_owned(),
                format!("Priority '{raw}' imported as {priority}"),
            );
            priority
        }
        _ => {
            out.unrecognised = true;
            out.notes.push_original(label.to_owned(), raw);
            out.warning(
                label.to_owned(),
                format!("Invalid priority value: '{raw}', imported as C"),
            );
            "C"
        }
    }
}

/// SEGMENT through the segment table (a CRM segment is kept as it is);
/// returns the segment and the type it implies.
fn read_segment(raw: &str, label: &str, out: &mut RowWork) -> (String, &'static str) {
    let lower = raw.to_lowercase();
    let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let found = SEGMENTS
        .iter()
        .find(|(from, to)| *from == lower || to.to_lowercase() == lower);
    match found {
        Some((from, to)) => {
            if *to != raw {
                out.notes.push_original(label.to_owned(), raw);
            }
            let implied = if *from == "distributor" {
                "distributor"
            } else {
                "customer"
            };
            ((*to).to_owned(), implied)
        }
        None => {
            out.unrecognised = true;
            out.warning(
                label.to_owned(),
                format!("Unknown segment '{raw}', kept as written (type customer)"),
            );
            (raw.to_owned(), "customer")
        }
    }
}

/// A TYPE column wins; without one (or when it is blank or unknown) SEGMENT
/// decides. Returns the `given` bit of the type when a segment set it.
fn organization_type_from_segment(
    description: &EntityDescription,
    values: &mut [Value],
    segment_type: Option<&'static str>,
) -> u64 {
    let Some(position) = description.stored_fields().position(|f| f.column == "type") else {
        return 0;
    };
    if let Some(slot @ Value::Null) = values.get_mut(position) {
        *slot = Value::Label(segment_type.unwrap_or("customer"));
        if segment_type.is_some() {
            return 1u64.checked_shl(position as u32).unwrap_or(0);
        }
    }
    0
}

/// What one row's mapping collects on the way.
struct RowWork {
    number: u64,
    issues: Vec<RowIssue>,
    notes: ImportNotes,
    /// Set by a rule that did not recognise its enumerated value.
    unrecognised: bool,
}

impl RowWork {
    fn error(&mut self, column: String, message: String) {
        self.issues
            .push(RowIssue::error(self.number, column, message));
    }

    fn warning(&mut self, column: String, message: String) {
        self.issues
            .push(RowIssue::warning(self.number, column, message));
    }

    /// A value from one of [`crate::values`]' readers: its warning is the
    /// row's, its error fails the row. The original is kept when the rule
    /// changed the value (`converts`: the unit or form changed, as for
    /// "3 weeks" or a date; otherwise only when it warned, since `$1,234`
    /// is 1234 written another way).
    fn parsed<T>(
        &mut self,
        label: &str,
        cell: &str,
        result: values::ValueResult<T>,
        converts: bool,
        wrap: impl FnOnce(T) -> Value,
    ) -> Value {
        match result {
            Ok(parsed) => {
                let value = wrap(parsed.value);
                let changed = parsed.warning.is_some() || (converts && !value.written_as(cell));
                if changed {
                    self.notes.push_original(label.to_owned(), cell);
                }
                if let Some(warning) = parsed.warning {
                    self.warning(label.to_owned(), warning);
                }
                value
            }
            Err(message) => {
                self.error(label.to_owned(), message);
                Value::Null
            }
        }
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

/// A sheet opened for one entity, with its column map, header problems and
/// notices: the one read-map loop behind `check`, `import` and the preview.
#[derive(Debug)]
pub struct MappedSheet {
    spreadsheet: Spreadsheet,
    mapper: RowMapper,
    choice: EntityChoice,
    header_issues: Vec<RowIssue>,
    notices: Vec<FileNotice>,
}

impl MappedSheet {
    /// Opens `path` (its sheet `sheet`, else the first) as `entity`, or as
    /// the entity its sheet name or headers say when `entity` is `None`.
    /// Date columns are looked through once first, for the day-first guess.
    pub fn open(
        path: &Path,
        sheet: Option<&str>,
        entity: Option<Entity>,
    ) -> Result<MappedSheet, ReadError> {
        MappedSheet::open_with(path, sheet, entity, &SavedMapping::default())
    }

    /// As [`MappedSheet::open`], applying a saved mapping: its header row,
    /// its entity (when `entity` is `None`), its column targets and values.
    pub fn open_with(
        path: &Path,
        sheet: Option<&str>,
        entity: Option<Entity>,
        mapping: &SavedMapping,
    ) -> Result<MappedSheet, ReadError> {
        let entity = entity.or_else(|| mapping.entity());
        let (spreadsheet, passed_over) = match (sheet, entity, mapping.header_row) {
            (None, None, None) => open_recognised_sheet(path)?,
            _ => (
                Spreadsheet::open_with_header(path, sheet, mapping.header_row)?,
                None,
            ),
        };
        let sheet = spreadsheet.sheet().map(str::to_owned);
        let sheet = sheet.as_deref();
        let (entity, choice) = match entity {
            Some(entity) => (entity, EntityChoice::Given),
            None => detect_entity(spreadsheet.sheet(), spreadsheet.headers()),
        };
        let mut mapper = RowMapper::with_mapping(entity, spreadsheet.headers(), mapping);
        let header_issues = mapper
            .columns()
            .header_issues(spreadsheet.header_row(), spreadsheet.headers());
        let mut notices = spreadsheet.notices().to_vec();
        notices.extend(passed_over);
        if mapper.columns().splits_full_name() {
            notices.push(FileNotice {
                row: None,
                message: "The sheet has one name column: each name is split at its last space into first and last name ('Mary Ann Smith' is Mary Ann + Smith)".to_owned(),
            });
        }
        let date_fields: Vec<(usize, usize)> = entity
            .description()
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.kind, FieldKind::Date | FieldKind::DateTime))
            .filter_map(|(i, _)| mapper.columns().column_of(i).map(|c| (i, c)))
            .collect();
        if !date_fields.is_empty() {
            let guesses = survey_dates(path, sheet, mapping.header_row, &date_fields)?;
            for ((field, column), survey) in date_fields.iter().zip(guesses) {
                let label = mapper.columns().label(*column);
                if let Some((order, message)) = survey.decide(&label) {
                    mapper.set_date_order(*field, order);
                    notices.push(FileNotice { row: None, message });
                }
            }
        }
        Ok(MappedSheet {
            spreadsheet,
            mapper,
            choice,
            header_issues,
            notices,
        })
    }

    /// Applies the broker's edits to particular rows ([`SheetEdits`]).
    pub fn with_edits(mut self, edits: &SheetEdits) -> MappedSheet {
        self.mapper.set_edits(edits);
        self
    }

    /// Counts the values of enumerated fields that need mapping as the
    /// rows are read ([`ValueTally`]).
    pub fn tally_values(&mut self) {
        self.mapper.tally_values();
    }

    /// Counts what each clean-up kind not applied would change as the rows
    /// are read ([`CleanUpTally`]).
    pub fn suggest_clean_ups(&mut self) {
        self.mapper.suggest_clean_ups();
    }

    /// The clean-ups counted so far, after [`MappedSheet::suggest_clean_ups`].
    pub fn clean_up_tally(&self) -> Option<&CleanUpTally> {
        self.mapper.clean_up_tally()
    }

    /// The clean-ups counted, as notices that say how to apply them.
    pub fn clean_up_notices(&self) -> Vec<FileNotice> {
        let Some(tally) = self.clean_up_tally() else {
            return Vec::new();
        };
        tally
            .kinds
            .iter()
            .filter(|(_, count)| count.cells > 0)
            .map(|(kind, count)| FileNotice {
                row: None,
                message: kind.suggestion(count),
            })
            .collect()
    }

    /// The values counted so far, after [`MappedSheet::tally_values`].
    pub fn value_tally(&self) -> Option<&ValueTally> {
        self.mapper.value_tally()
    }

    /// The entity the rows are read as.
    pub fn entity(&self) -> Entity {
        self.mapper.columns().entity()
    }

    /// Why the sheet is read as that entity.
    pub fn entity_choice(&self) -> EntityChoice {
        self.choice
    }

    /// How the columns are used.
    pub fn columns(&self) -> &ColumnMap {
        self.mapper.columns()
    }

    /// The file being read.
    pub fn spreadsheet(&self) -> &Spreadsheet {
        &self.spreadsheet
    }

    /// Problems of the header row.
    pub fn header_issues(&self) -> &[RowIssue] {
        &self.header_issues
    }

    /// The header problem that stops an import (a required field with no column).
    pub fn fatal_issue(&self) -> Option<&RowIssue> {
        self.header_issues
            .iter()
            .find(|i| i.severity == Severity::Error)
    }

    /// Notes about the whole file: its encoding, guesses made for columns.
    pub fn notices(&self) -> &[FileNotice] {
        &self.notices
    }

    /// A note naming the link columns, whose names only a database can
    /// check: for a check or preview made without one.
    pub fn offline_link_notice(&self) -> Option<FileNotice> {
        let columns = self.columns();
        let named: Vec<String> = self
            .entity()
            .description()
            .fields
            .iter()
            .filter(|f| f.link().is_some())
            .filter_map(|f| columns.column_of_field(f.column))
            .map(|column| format!("'{}'", columns.label(column)))
            .collect();
        (!named.is_empty()).then(|| FileNotice {
            row: None,
            message: format!(
                "The names in {} are looked up in the CRM when importing, not before",
                named.join(", ")
            ),
        })
    }

    /// Reads every row, maps it, and hands both to `each`, which returns
    /// `false` to stop early.
    pub fn map_rows(
        &mut self,
        mut each: impl FnMut(&SheetRow, RowOutcome) -> bool,
    ) -> Result<(), ReadError> {
        let mut row = SheetRow::default();
        while self.spreadsheet.read_row(&mut row)? {
            let outcome = self.mapper.map_row(&row);
            if !each(&row, outcome) {
                break;
            }
        }
        Ok(())
    }
}

/// A workbook's first sheet that holds something recognisable (its name or
/// its headers name an entity), and a notice naming the sheets passed over
/// (a ReadMe, a Lists sheet). When no sheet is recognised, the first.
fn open_recognised_sheet(path: &Path) -> Result<(Spreadsheet, Option<FileNotice>), ReadError> {
    let first = Spreadsheet::open(path, None)?;
    if recognise(first.sheet(), first.headers()).is_some() || first.sheet_names().len() < 2 {
        return Ok((first, None));
    }
    let names = first.sheet_names().to_vec();
    let mut passed_over = vec![first.sheet().unwrap_or_default().to_owned()];
    for name in names.iter().skip(1) {
        // A sheet that cannot be read (empty, say) is passed over like a ReadMe.
        let Ok(candidate) = Spreadsheet::open(path, Some(name)) else {
            passed_over.push(name.clone());
            continue;
        };
        if recognise(candidate.sheet(), candidate.headers()).is_some() {
            let notice = FileNotice {
                row: None,
                message: format!(
                    "Opened the sheet '{name}': the sheet{} {} before it hold{} nothing recognisable as accounts, contacts, products, deals or activities",
                    if passed_over.len() == 1 { "" } else { "s" },
                    passed_over
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if passed_over.len() == 1 { "s" } else { "" },
                ),
            };
            return Ok((candidate, Some(notice)));
        }
        passed_over.push(name.clone());
    }
    Ok((first, None))
}

/// What a date column's numeric dates say about their order.
#[derive(Debug, Default, Clone, Copy)]
struct DateSurvey {
    numeric: u64,
    /// First part over 12, second not: only day-first makes sense.
    day_first_only: u64,
    /// Second part over 12: only month-first makes sense.
    month_first_only: u64,
    /// An example of each, for the notice.
    day_first_example: Option<(u32, u32)>,
    ambiguous_example: Option<(u32, u32)>,
}

impl DateSurvey {
    fn add(&mut self, cell: &str) {
        let Some((first, second)) = values::numeric_date_parts(cell.trim()) else {
            return;
        };
        self.numeric += 1;
        if first > 12 && second <= 12 {
            self.day_first_only += 1;
            self.day_first_example.get_or_insert((first, second));
        } else if second > 12 && first <= 12 {
            self.month_first_only += 1;
        } else if first <= 12 && second <= 12 {
            self.ambiguous_example.get_or_insert((first, second));
        }
    }

    /// The order to read the column in, and the notice that says so, when
    /// the column needs one.
    fn decide(&self, label: &str) -> Option<(DateOrder, String)> {
        if self.day_first_only > 0 && self.month_first_only == 0 {
            let (day, month) = self.day_first_example.unwrap_or((13, 1));
            return Some((
                DateOrder::DayFirst,
                format!(
                    "The '{label}' column has dates such as {day}/{month} that only make sense day first, so every date in it is read day first (3/4 is 3 April)"
                ),
            ));
        }
        if self.numeric > 0 && self.day_first_only == 0 && self.month_first_only == 0 {
            let (first, second) = self.ambiguous_example.unwrap_or((3, 4));
            return Some((
                DateOrder::MonthFirst,
                format!(
                    "Every date in the '{label}' column (such as {first}/{second}) could be month or day first; they are read month first, as in the US ({first}/{second} is month {first}, day {second})"
                ),
            ));
        }
        None
    }
}

/// Reads the date columns once, for the column-level order guess.
fn survey_dates(
    path: &Path,
    sheet: Option<&str>,
    header_row: Option<u64>,
    columns: &[(usize, usize)],
) -> Result<Vec<DateSurvey>, ReadError> {
    let mut surveys = vec![DateSurvey::default(); columns.len()];
    let mut spreadsheet = Spreadsheet::open_with_header(path, sheet, header_row)?;
    let mut row = SheetRow::default();
    while spreadsheet.read_row(&mut row)? {
        for (survey, (_, column)) in surveys.iter_mut().zip(columns) {
            survey.add(row.get(*column));
        }
    }
    Ok(surveys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_HEADERS: [&str; 14] = [
        "Organizations",
        "PRIORITY-FOCUS (A-D)",
        "SEGMENT",
        "DISTRIBUTOR",
        "PRIMARY ACCT. MANAGER",
        "SECONDARY ACCT. MANAGER",
        "LINKEDIN",
        "PHONE",
        "STREET ADDRESS",
        "CITY",
        "STATE",
        "Zip Code",
        "NOTES",
        "TERRITORY",
    ];

    fn mapper_for(entity: Entity, headers: &[&str]) -> RowMapper {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        RowMapper::new(entity, &headers)
    }

    fn organizations() -> RowMapper {
        mapper_for(Entity::Organizations, &SEED_HEADERS)
    }

    fn row(number: u64, cells: &[&str]) -> SheetRow {
        SheetRow::from_cells(number, cells.iter().copied())
    }

    fn text(record: &Record, column: &str) -> Option<String> {
        record.text(column).map(Cow::into_owned)
    }

    fn messages(outcome: &RowOutcome) -> Vec<&str> {
        outcome.issues.iter().map(|i| i.message.as_str()).collect()
    }

    #[test]
    fn a_full_organization_row_maps_as_the_spec_says() {
        let mut mapper = organizations();
        let outcome = mapper.map_row(&row(
            2,
            &[
                "  ABC Restaurant ",
                "High",
                "Distributor",
                "Sysco",
                "Jane Doe",
                "",
                "https://linkedin.com/company/abc",
                "(312) 555-0100",
                "1 Main St",
                "Chicago",
                "IL",
                "07030",
                "Met at show",
                "Chicago Metro",
            ],
        ));
        let org = outcome.record.clone().expect("row imports");
        assert_eq!(text(&org, "name").as_deref(), Some("ABC Restaurant"));
        assert_eq!(org.get("priority"), Some(&Value::Label("C")));
        assert_eq!(text(&org, "segment").as_deref(), Some("Distribution"));
        assert_eq!(org.get("type"), Some(&Value::Label("distributor")));
        assert_eq!(
            text(&org, "primary_manager_name").as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(org.get("secondary_manager_name"), Some(&Value::Null));
        assert_eq!(text(&org, "postal_code").as_deref(), Some("07030"));
        assert_eq!(
            org.notes.to_json().as_deref(),
            Some(
                r#"{"DISTRIBUTOR":"Sysco","TERRITORY":"Chicago Metro","PRIORITY-FOCUS (A-D)":"High","SEGMENT":"Distributor"}"#
            )
        );
        assert_eq!(outcome.issues.len(), 1);
        assert_eq!(
            outcome.issues[0].message,
            "Invalid priority value: 'High', imported as C"
        );
        assert_eq!(outcome.issues[0].column, "PRIORITY-FOCUS (A-D)");
        assert_eq!(outcome.issues[0].severity, Severity::Warning);
    }

    #[test]
    fn priority_rules() {
        let mut mapper = organizations();
        let mut priority_of = |value: &str| {
            let outcome = mapper.map_row(&row(3, &[&format!("Org {value}"), value]));
            let record = outcome.record.expect("imports");
            (record.get("priority").cloned(), outcome.issues.len())
        };
        assert_eq!(priority_of(" b "), (Some(Value::Label("B")), 0));
        assert_eq!(priority_of(""), (Some(Value::Label("C")), 0));
        assert_eq!(priority_of("A+"), (Some(Value::Label("A")), 1));
        assert_eq!(priority_of("d-"), (Some(Value::Label("D")), 1));
        assert_eq!(priority_of("E"), (Some(Value::Label("C")), 1));
    }

    #[test]
    fn segments_and_types() {
        let mut mapper = organizations();
        let mut segment_of = |value: &str| {
            let outcome = mapper.map_row(&row(4, &[&format!("Org {value}"), "", value]));
            let record = outcome.record.expect("imports");
            (
                text(&record, "segment").unwrap_or_default(),
                record.get("type").cloned(),
                outcome.issues.len(),
            )
        };
        let customer = Some(Value::Label("customer"));
        let distributor = Some(Value::Label("distributor"));
        assert_eq!(segment_of(""), ("General".to_owned(), customer.clone(), 0));
        assert_eq!(
            segment_of("chain/group  member"),
            ("Chain Restaurant".to_owned(), customer.clone(), 0)
        );
        assert_eq!(
            segment_of("Fine Dining"),
            ("Fine Dining".to_owned(), customer.clone(), 0)
        );
        assert_eq!(
            segment_of(" Food Truck "),
            ("Food Truck".to_owned(), customer.clone(), 1)
        );
        assert_eq!(
            segment_of("DISTRIBUTOR"),
            ("Distribution".to_owned(), distributor.clone(), 0)
        );
        // A CRM segment (as an export writes it) is kept with no warning.
        assert_eq!(
            segment_of("Casual Dining"),
            ("Casual Dining".to_owned(), customer, 0)
        );
        assert_eq!(
            segment_of("Distribution"),
            ("Distribution".to_owned(), distributor, 0)
        );
    }

    #[test]
    fn a_type_column_wins_over_the_segment() {
        let mut mapper = mapper_for(Entity::Organizations, &["Name", "Segment", "Type"]);
        let typed = mapper.map_row(&row(2, &["Acme Foods", "Distributor", "Principal"]));
        let record = typed.record.expect("imports");
        assert_eq!(record.get("type"), Some(&Value::Label("principal")));
        assert_eq!(text(&record, "segment").as_deref(), Some("Distribution"));
        let blank = mapper.map_row(&row(3, &["Beta", "Distributor", ""]));
        assert_eq!(
            blank.record.unwrap().get("type"),
            Some(&Value::Label("distributor"))
        );
        let unknown = mapper.map_row(&row(4, &["Gamma", "Casual", "Friend"]));
        assert_eq!(unknown.issues.len(), 1);
        let record = unknown.record.unwrap();
        assert_eq!(record.get("type"), Some(&Value::Label("customer")));
        assert_eq!(record.notes.get("Type"), Some("Friend"));
    }

    #[test]
    fn missing_name_fails_the_row_with_the_spec_message() {
        let mut mapper = organizations();
        let outcome = mapper.map_row(&row(12, &["   ", "A"]));
        assert!(outcome.record.is_none());
        assert_eq!(
            outcome.issues[0].to_string(),
            "row 12, Organizations: Missing required field 'name'"
        );
    }

    #[test]
    fn duplicate_names_warn_with_both_rows() {
        let mut mapper = organizations();
        assert!(
            mapper
                .map_row(&row(23, &["ABC Restaurant"]))
                .issues
                .is_empty()
        );
        let outcome = mapper.map_row(&row(45, &["abc  restaurant"]));
        assert!(outcome.record.is_some());
        assert_eq!(
            outcome.issues[0].message,
            "Duplicate organization name: 'abc  restaurant' in rows 23, 45"
        );
    }

    #[test]
    fn too_long_values_fail_the_row_naming_the_column() {
        let mut mapper = organizations();
        let long_city = "x".repeat(101);
        let mut cells = vec!["Org"; 10];
        cells[9] = &long_city;
        let outcome = mapper.map_row(&row(7, &cells));
        assert!(outcome.record.is_none());
        let last = outcome.issues.last().unwrap();
        assert_eq!(last.column, "CITY");
        assert!(last.message.contains("at most 100"), "{}", last.message);
    }

    #[test]
    fn ragged_rows_and_odd_headers_keep_everything() {
        let headers: Vec<String> = ["Name", "", "Notes", "Notes", "Email"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let mut mapper = RowMapper::new(Entity::Organizations, &headers);
        let issues = mapper.columns().header_issues(1, &headers);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].column, "Notes (column D)");
        let outcome = mapper.map_row(&row(
            2,
            &["Org", "blank-headed", "n1", "n2", "bob@x", "extra"],
        ));
        assert_eq!(
            messages(&outcome),
            [
                "The row has more cells than the header; 'extra' is kept in import notes",
                "Invalid email format: 'bob@x'"
            ]
        );
        let org = outcome.record.unwrap();
        assert_eq!(text(&org, "notes").as_deref(), Some("n1"));
        assert_eq!(
            org.notes.to_json().as_deref(),
            Some(
                r#"{"Column B":"blank-headed","Notes (column D)":"n2","Email":"bob@x","Column F":"extra"}"#
            )
        );
    }

    #[test]
    fn a_required_field_without_a_column_is_a_sheet_error() {
        let headers = vec!["City".to_owned(), "State".to_owned()];
        let columns = ColumnMap::new(Entity::Organizations, &headers);
        let issues = columns.header_issues(1, &headers);
        assert_eq!(issues[0].severity, Severity::Error);
        assert!(
            issues[0]
                .message
                .contains("No column holds the organization name"),
            "{}",
            issues[0].message
        );
        let products = vec!["Product".to_owned(), "Category".to_owned()];
        let issues = ColumnMap::new(Entity::Products, &products).header_issues(1, &products);
        assert_eq!(
            issues[0].message,
            "No column holds the product's principal: add a column headed 'Principal' (or 'Manufacturer', 'Brand', 'Supplier')"
        );
    }

    #[test]
    fn short_zip_codes_get_their_zeros_back() {
        let mut mapper = organizations();
        let mut cells = vec![""; 12];
        cells[0] = "Org";
        cells[11] = "7030";
        let outcome = mapper.map_row(&row(2, &cells));
        let org = outcome.record.unwrap();
        assert_eq!(text(&org, "postal_code").as_deref(), Some("07030"));
        assert_eq!(
            org.notes.to_json().as_deref(),
            Some(r#"{"Zip Code":"7030"}"#)
        );
    }

    #[test]
    fn nul_bytes_fail_the_row() {
        let mut mapper = organizations();
        let outcome = mapper.map_row(&row(9, &["Org\0"]));
        assert!(outcome.record.is_none());
        assert!(outcome.issues[0].message.contains("NUL"));
    }

    #[test]
    fn contacts_split_a_full_name_at_the_last_space() {
        let mut mapper = mapper_for(
            Entity::Contacts,
            &["Contact Name", "Company", "Role", "Primary"],
        );
        assert!(mapper.columns().header_issues(1, &[]).is_empty());
        let outcome = mapper.map_row(&row(2, &["Mary Ann  Smith", "Acme", "DM", "x"]));
        let record = outcome.record.clone().expect("imports");
        assert_eq!(text(&record, "first_name").as_deref(), Some("Mary Ann"));
        assert_eq!(text(&record, "last_name").as_deref(), Some("Smith"));
        assert_eq!(
            record.get("organization_id"),
            Some(&Value::LinkName("Acme".to_owned()))
        );
        assert_eq!(record.get("role"), Some(&Value::Label("decision_maker")));
        assert_eq!(record.get("is_primary_contact"), Some(&Value::Bool(true)));
        assert_eq!(record.notes.get("Contact Name"), Some("Mary Ann  Smith"));
        assert_eq!(
            messages(&outcome),
            ["'Mary Ann Smith' split into first name 'Mary Ann' and last name 'Smith'"]
        );
        // Two words split without a warning; one word fails the row.
        let plain = mapper.map_row(&row(3, &["John Smith", "", "", ""]));
        assert!(plain.issues.is_empty());
        let one = mapper.map_row(&row(4, &["Cher", "", "", ""]));
        assert!(one.record.is_none());
        assert_eq!(
            messages(&one),
            ["'Cher' is one word: a contact needs a first and a last name"]
        );
    }

    #[test]
    fn contact_rules_role_email_primary_and_duplicates() {
        let mut mapper = mapper_for(
            Entity::Contacts,
            &[
                "First Name",
                "Last Name",
                "Organization",
                "Role",
                "E-mail",
                "Primary Contact",
                "Cell",
            ],
        );
        let outcome = mapper.map_row(&row(
            8,
            &[
                "John",
                "Doe",
                "Acme",
                "Chef",
                "john@company",
                "maybe",
                "312-555-0101",
            ],
        ));
        let record = outcome.record.clone().expect("warnings never fail a row");
        assert_eq!(record.get("role"), Some(&Value::Null));
        assert_eq!(record.get("is_primary_contact"), Some(&Value::Bool(false)));
        assert_eq!(text(&record, "email").as_deref(), Some("john@company"));
        assert_eq!(
            text(&record, "mobile_phone").as_deref(),
            Some("312-555-0101")
        );
        assert_eq!(
            outcome
                .issues
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "row 8, Role: Unknown role 'Chef', left empty (the CRM knows decision_maker, influencer, buyer, end_user, gatekeeper, champion)",
                "row 8, E-mail: Invalid email format: 'john@company'",
                "row 8, Primary Contact: 'maybe' is not yes or no; imported as no",
            ]
        );
        assert_eq!(record.notes.get("Role"), Some("Chef"));
        let again = mapper.map_row(&row(
            9,
            &["Johnny", "Doe", "Other", "", "JOHN@company", "", ""],
        ));
        assert!(
            messages(&again).contains(&"Duplicate contact email: 'JOHN@company' in rows 8, 9"),
            "{:?}",
            messages(&again)
        );
        // Without an email, the same name at the same organization.
        let first = mapper.map_row(&row(10, &["Ann", "Lee", "Acme", "", "", "", ""]));
        assert!(first.issues.is_empty());
        let second = mapper.map_row(&row(11, &["ann", "LEE", "acme", "", "", "", ""]));
        assert_eq!(
            messages(&second),
            ["Duplicate contact name: 'ann LEE' of 'acme' in rows 10, 11"]
        );
        let elsewhere = mapper.map_row(&row(12, &["Ann", "Lee", "Beta", "", "", "", ""]));
        assert!(elsewhere.issues.is_empty());
    }

    #[test]
    fn product_rules() {
        let mut mapper = mapper_for(
            Entity::Products,
            &[
                "Product",
                "Manufacturer",
                "Item #",
                "Category",
                "Cost",
                "Case Price",
                "MOQ",
                "Shelf Life",
                "Active",
            ],
        );
        let outcome = mapper.map_row(&row(
            2,
            &[
                "Ketchup",
                "Heinz",
                "00123",
                "Dry Goods",
                "$1,234.567",
                "(12.00)",
                "1,000",
                "6 months",
                "",
            ],
        ));
        assert!(outcome.record.is_none(), "negative money fails the row");
        assert_eq!(
            outcome
                .issues
                .iter()
                .filter(|i| i.severity == Severity::Error)
                .count(),
            1
        );
        let outcome = mapper.map_row(&row(
            3,
            &[
                "Ketchup",
                "Heinz",
                "00123",
                "Grocery",
                "$1,234.567",
                "$24.00",
                "1,000",
                "3 weeks",
                "no",
            ],
        ));
        let record = outcome.record.clone().expect("imports");
        assert_eq!(text(&record, "sku").as_deref(), Some("00123"));
        assert_eq!(record.get("category"), Some(&Value::Label("dry_goods")));
        assert_eq!(text(&record, "unit_cost").as_deref(), Some("1234.57"));
        assert_eq!(text(&record, "list_price").as_deref(), Some("24.00"));
        assert_eq!(record.get("min_order_quantity"), Some(&Value::Int(1000)));
        assert_eq!(record.get("shelf_life_days"), Some(&Value::Int(21)));
        assert_eq!(record.get("is_active"), Some(&Value::Bool(false)));
        assert_eq!(record.notes.get("Cost"), Some("$1,234.567"));
        assert_eq!(record.notes.get("Shelf Life"), Some("3 weeks"));
        assert_eq!(record.notes.get("Category"), Some("Grocery"));
        let blank_active = mapper.map_row(&row(
            4,
            &["Mustard", "Heinz", "", "dairy", "", "", "", "", ""],
        ));
        assert_eq!(
            blank_active.record.unwrap().get("is_active"),
            Some(&Value::Bool(true))
        );
        let unknown = mapper.map_row(&row(
            5,
            &["Napkins", "Acme", "", "Linens", "", "", "", "", ""],
        ));
        assert!(unknown.record.is_none());
        assert!(
            messages(&unknown)[0]
                .starts_with("Unknown category 'Linens': use one of beverages, dairy")
        );
        let no_principal =
            mapper.map_row(&row(6, &["Soap", "", "", "Cleaning", "", "", "", "", ""]));
        assert_eq!(
            messages(&no_principal),
            ["Missing required field 'principal'"]
        );
        // The same SKU twice for one principal.
        let twice = mapper.map_row(&row(
            7,
            &[
                "Ketchup 2",
                "heinz",
                "00123",
                "dry goods",
                "",
                "",
                "",
                "",
                "",
            ],
        ));
        assert_eq!(
            messages(&twice),
            ["Duplicate product SKU: '00123' of 'heinz' in rows 3, 7"]
        );
    }

    #[test]
    fn opportunity_rules() {
        let mut mapper = mapper_for(
            Entity::Opportunities,
            &[
                "Deal Name",
                "Customer",
                "Stage",
                "Amount",
                "Win %",
                "Close Date",
            ],
        );
        let outcome = mapper.map_row(&row(
            2,
            &["Q3 menu", "Acme", "Won", "$12,500", "0.75", "3/14/24"],
        ));
        let record = outcome.record.clone().expect("imports");
        assert_eq!(record.get("stage"), Some(&Value::Label("Closed - Won")));
        assert_eq!(
            text(&record, "estimated_value").as_deref(),
            Some("12500.00")
        );
        assert_eq!(record.get("probability"), Some(&Value::Int(75)));
        assert_eq!(
            text(&record, "expected_close_date").as_deref(),
            Some("2024-03-14")
        );
        assert_eq!(messages(&outcome), ["'0.75' read as 75%"]);
        let blank = mapper.map_row(&row(3, &["Q4", "Acme", "", "", "75%", ""]));
        assert_eq!(
            blank.record.unwrap().get("stage"),
            Some(&Value::Label("New Lead"))
        );
        let unknown = mapper.map_row(&row(4, &["Q5", "Acme", "Negotiating", "", "", ""]));
        let record = unknown.record.expect("unknown stage is a warning");
        assert_eq!(record.get("stage"), Some(&Value::Label("New Lead")));
        let over = mapper.map_row(&row(5, &["Q6", "Acme", "", "", "120", ""]));
        assert!(over.record.is_none());
        let impossible = mapper.map_row(&row(6, &["Q7", "Acme", "", "", "", "2/30/2024"]));
        assert!(impossible.record.is_none());
        let no_customer = mapper.map_row(&row(7, &["Q8", "", "", "", "", ""]));
        assert_eq!(
            messages(&no_customer),
            ["Missing required field 'organization'"]
        );
    }

    #[test]
    fn interaction_rules() {
        let mut mapper = mapper_for(
            Entity::Interactions,
            &[
                "Activity Type",
                "Subject",
                "Date",
                "Duration",
                "Follow-up Required",
                "Contact",
            ],
        );
        let outcome = mapper.map_row(&row(
            2,
            &[
                "Phone Call",
                "Menu review",
                "3/14/2024 2:30 PM",
                "1h 30m",
                "Y",
                "jane@acme.com",
            ],
        ));
        let record = outcome.record.clone().expect("imports");
        assert_eq!(record.get("type"), Some(&Value::Label("call")));
        assert_eq!(
            text(&record, "interaction_date").as_deref(),
            Some("2024-03-14 14:30:00")
        );
        assert_eq!(record.get("duration_minutes"), Some(&Value::Int(90)));
        assert_eq!(record.get("follow_up_required"), Some(&Value::Bool(true)));
        assert_eq!(
            record.get("contact_id"),
            Some(&Value::LinkName("jane@acme.com".to_owned()))
        );
        let no_date = mapper.map_row(&row(3, &["call", "Check in", "", "", "", ""]));
        assert_eq!(
            messages(&no_date),
            ["Missing required field 'interaction_date'"]
        );
        let unknown = mapper.map_row(&row(4, &["Lunch", "Check in", "2024-01-02", "", "", ""]));
        assert!(unknown.record.is_none());
        assert!(messages(&unknown)[0].contains("use one of call, email, meeting"));
    }

    #[test]
    fn date_columns_are_read_in_one_order() {
        let mut day_first = DateSurvey::default();
        for cell in ["3/4/2024", "25/3/2024", "2024-01-02", ""] {
            day_first.add(cell);
        }
        let (order, notice) = day_first.decide("Close Date").expect("a notice");
        assert_eq!(order, DateOrder::DayFirst);
        assert!(
            notice.contains("'Close Date'") && notice.contains("day first"),
            "{notice}"
        );
        let mut ambiguous = DateSurvey::default();
        for cell in ["3/4/2024", "5/6/2024"] {
            ambiguous.add(cell);
        }
        let (order, notice) = ambiguous.decide("Date").expect("a notice");
        assert_eq!(order, DateOrder::MonthFirst);
        assert!(notice.contains("month first"), "{notice}");
        let mut us = DateSurvey::default();
        for cell in ["3/14/2024", "5/6/2024"] {
            us.add(cell);
        }
        assert!(us.decide("Date").is_none());
        let mut iso = DateSurvey::default();
        iso.add("2024-03-14");
        assert!(iso.decide("Date").is_none());
    }

    #[test]
    fn totals_labels_are_told_from_names_that_start_with_total() {
        for label in [
            "Total",
            "TOTALS",
            "Grand Total",
            "Subtotal:",
            "Sum",
            "Total: 7 accounts",
            "TOTAL / Total: 7 accounts",
            "total 12",
        ] {
            assert!(super::is_totals_label(label), "{label}");
        }
        for name in [
            "Total Wine & More",
            "Totally Tacos",
            "Summit Foods",
            "Sum Yung Guys Restaurant",
            "Hoboken Provisions",
            "",
        ] {
            assert!(!super::is_totals_label(name), "{name}");
        }
    }

    #[test]
    fn a_header_that_almost_names_a_field_takes_it_and_a_vague_one_does_not() {
        let headers: Vec<String> = ["Organisation", "Acct Mgr", "Citty", "Dept"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let columns = ColumnMap::new(Entity::Organizations, &headers);
        assert_eq!(columns.target(0), "name");
        assert_eq!(columns.target(1), "import notes");
        assert_eq!(columns.target(2), "city");
        assert_eq!(columns.target(3), "import notes");
    }

    #[test]
    fn a_totals_row_the_broker_keeps_imports_like_any_other() {
        let headers: Vec<String> = ["Organization", "City"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let mut mapper = RowMapper::new(Entity::Organizations, &headers);
        let totals = row(9, &["Total: 7 accounts", "Chicago"]);
        assert!(mapper.map_row(&totals).skipped);
        mapper.set_edits(&SheetEdits {
            kept_totals_rows: [9].into(),
            ..SheetEdits::default()
        });
        let kept = mapper.map_row(&totals);
        assert!(!kept.skipped);
        let record = kept.record.expect("the kept row imports");
        assert_eq!(text(&record, "name").as_deref(), Some("Total: 7 accounts"));
        // Only the row named is kept.
        assert!(mapper.map_row(&row(10, &["Grand Total", ""])).skipped);
    }

    #[test]
    fn unrecognised_and_replaced_values_are_counted_per_enumerated_field() {
        let headers: Vec<String> = ["Organization", "Segment", "Priority", "City"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let mapping = SavedMapping {
            values: [(
                "priority".to_owned(),
                [("Top".to_owned(), "A".to_owned())].into(),
            )]
            .into(),
            ..SavedMapping::default()
        };
        let mut mapper = RowMapper::with_mapping(Entity::Organizations, &headers, &mapping);
        mapper.tally_values();
        for (number, cells) in [
            (2, ["A", "Food Truck", "Top", "Food Truck"]),
            (3, ["B", "food truck", "B", "x"]),
            (4, ["C", "Casual", "top", "x"]),
            (5, ["D", "Ghost Kitchen", "Zzz", "x"]),
        ] {
            mapper.map_row(&row(number, &cells));
        }
        let tally = mapper.value_tally().expect("asked for");
        let fields: Vec<&TalliedField> = tally.fields().collect();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].field, "segment");
        assert_eq!(fields[0].label, "Segment");
        assert!(fields[0].allowed.contains(&"Casual Dining"));
        assert_eq!(
            fields[0].values,
            vec![
                TalliedValue {
                    written: "Food Truck".to_owned(),
                    rows: 2,
                    mapped_to: None
                },
                TalliedValue {
                    written: "Ghost Kitchen".to_owned(),
                    rows: 1,
                    mapped_to: None
                },
            ]
        );
        // The City column's "Food Truck" is free text, never counted.
        assert_eq!(fields[1].field, "priority");
        assert_eq!(
            fields[1].values,
            vec![
                TalliedValue {
                    written: "Top".to_owned(),
                    rows: 2,
                    mapped_to: Some("A".to_owned())
                },
                TalliedValue {
                    written: "Zzz".to_owned(),
                    rows: 1,
                    mapped_to: None
                },
            ]
        );
    }
}
