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
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::entity::{
    Entity, EntityChoice, EntityDescription, FieldKind, FieldSpec, ORGANIZATION_TYPES, SEGMENTS,
    UnknownValue, detect_entity, header_key,
};
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

/// One record ready for the database: every rule already applied. Its
/// values follow the entity's stored fields
/// ([`EntityDescription::stored_fields`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The entity.
    pub entity: Entity,
    /// The spreadsheet row it came from.
    pub source_row: u64,
    /// One value per stored field, in `COPY` order.
    pub values: Vec<Value>,
    /// Unmapped cells and originals of changed values, by column.
    pub notes: ImportNotes,
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
}

/// What a column of the sheet is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// Fills the field at this index of the entity's description.
    Field(usize),
    /// Kept in `import_notes` under its header.
    ImportNotes,
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
        let description = entity.description();
        let mut fields = vec![None; description.fields.len()];
        let mut roles = Vec::with_capacity(headers.len());
        let mut labels: Vec<String> = Vec::with_capacity(headers.len());
        // Headers seen so far, so a sheet with thousands of columns stays fast.
        let mut seen = std::collections::HashSet::with_capacity(headers.len());
        for (index, header) in headers.iter().enumerate() {
            let trimmed = header.trim();
            let role = match description.field_for_header(trimmed) {
                Some(field) if fields[field].is_none() => {
                    fields[field] = Some(index);
                    ColumnRole::Field(field)
                }
                _ => ColumnRole::ImportNotes,
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
        ColumnMap {
            description,
            roles,
            labels,
            fields,
        }
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
    pub fn target(&self, index: usize) -> &'static str {
        match self.roles.get(index) {
            Some(ColumnRole::Field(field)) => self.description.fields[*field].column,
            _ => "import notes",
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
    /// Per duplicate key of the description: hash of the key to its first row.
    keys_seen: Vec<HashMap<u64, u64, ahash::RandomState>>,
    hasher: ahash::RandomState,
    /// Reused for duplicate keys, so no row allocates for them.
    key_scratch: String,
    /// The column of a header that looks like an email address's, when no
    /// field takes it (organizations): its values are still checked.
    unmapped_email: Option<usize>,
}

impl RowMapper {
    /// A mapper for a sheet of `entity` with these headers.
    pub fn new(entity: Entity, headers: &[String]) -> RowMapper {
        let columns = ColumnMap::new(entity, headers);
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
                .map(|_| HashMap::default())
                .collect(),
            hasher: ahash::RandomState::new(),
            key_scratch: String::new(),
            unmapped_email,
            columns,
        }
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
        };
        self.check_cells(row, &mut out);

        let full_name = if self.columns.splits_full_name() {
            self.split_full_name(row, &mut out)
        } else {
            Ok(None)
        };
        let mut values = Vec::with_capacity(description.fields.len());
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
            let value = if cell.is_empty() {
                blank_value(field, &label, &mut out)
            } else {
                self.read_cell(index, field, &cell, &label, &mut out, &mut segment_type)
            };
            values.push(value);
        }
        if description.entity == Entity::Organizations {
            organization_type_from_segment(description, &mut values, segment_type);
        }
        self.check_lengths(&values, &mut out);
        self.warn_duplicates(&values, &mut out);

        let failed = out.issues.iter().any(|i| i.severity == Severity::Error);
        RowOutcome {
            row: row.number,
            record: (!failed).then(|| Record {
                entity: description.entity,
                source_row: row.number,
                values,
                notes: out.notes,
            }),
            issues: out.issues,
        }
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
        for (index, cell) in row.cells().enumerate() {
            let role = columns.roles.get(index).copied();
            let kept_whole = match role {
                // A full name is kept whole: split, the split is a guess;
                // beside first and last name columns, it is not used.
                Some(ColumnRole::Field(field)) => {
                    matches!(columns.description.fields[field].kind, FieldKind::FullName)
                }
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
            out.notes.push(columns.label(index), cell);
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
                        out.notes.push(label.to_owned(), cell);
                    }
                    Value::Label(found)
                }
                None => {
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
                            out.notes.push(label.to_owned(), cell);
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
                            out.notes.push(label.to_owned(), cell);
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
            FieldKind::Money(digits) => {
                out.parsed(label, cell, values::money(cell, *digits), false, Value::Money)
            }
            FieldKind::WholeNumber => {
                out.parsed(label, cell, values::whole_number(cell), false, Value::Int)
            }
            FieldKind::ShelfLifeDays => {
                out.parsed(label, cell, values::shelf_life_days(cell), true, Value::Int)
            }
            FieldKind::DurationMinutes => {
                out.parsed(label, cell, values::duration_minutes(cell), true, Value::Int)
            }
            FieldKind::Probability => {
                out.parsed(label, cell, values::probability(cell), false, Value::Int)
            }
            FieldKind::Date => out.parsed(label, cell, values::date(cell, order), true, Value::Date),
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
                    out.notes.push(label.to_owned(), cell);
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
                        out.notes.push(label.to_owned(), cell);
                    }
                    Value::Label(found)
                }
                None => {
                    out.notes.push(label.to_owned(), cell);
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
                    out.notes.push(label.to_owned(), cell);
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
        let stored: Vec<&FieldSpec> = description.stored_fields().collect();
        let value_of = |column: &str| {
            stored
                .iter()
                .position(|f| f.column == column)
                .and_then(|i| values.get(i))
                .and_then(Value::to_text)
        };
        for (key_index, key) in description.duplicate_keys.iter().enumerate() {
            let parts: Vec<Cow<'_, str>> = key.fields.iter().filter_map(|c| value_of(c)).collect();
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
            let seen = &mut self.keys_seen[key_index];
            match seen.get(&hash) {
                Some(&first) => {
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
                None => {
                    seen.insert(hash, out.number);
                }
            }
            return;
        }
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
        out.error(
            label.to_owned(),
            format!("Missing required field '{name}'"),
        );
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
                out.notes.push(label.to_owned(), raw);
            }
            priority
        }
        Some(priority) if rest == "+" || rest == "-" => {
            out.notes.push(label.to_owned(), raw);
            out.warning(
                label.to_owned(),
                format!("Priority '{raw}' imported as {priority}"),
            );
            priority
        }
        _ => {
            out.notes.push(label.to_owned(), raw);
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
                out.notes.push(label.to_owned(), raw);
            }
            let implied = if *from == "distributor" {
                "distributor"
            } else {
                "customer"
            };
            ((*to).to_owned(), implied)
        }
        None => {
            out.warning(
                label.to_owned(),
                format!("Unknown segment '{raw}', kept as written (type customer)"),
            );
            (raw.to_owned(), "customer")
        }
    }
}

/// A TYPE column wins; without one (or when it is blank or unknown) SEGMENT
/// decides.
fn organization_type_from_segment(
    description: &EntityDescription,
    values: &mut [Value],
    segment_type: Option<&'static str>,
) {
    let Some(position) = description.stored_fields().position(|f| f.column == "type") else {
        return;
    };
    if let Some(slot @ Value::Null) = values.get_mut(position) {
        *slot = Value::Label(segment_type.unwrap_or("customer"));
    }
}

/// What one row's mapping collects on the way.
struct RowWork {
    number: u64,
    issues: Vec<RowIssue>,
    notes: ImportNotes,
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
                let changed = parsed.warning.is_some()
                    || (converts && value.to_text().is_some_and(|text| text != cell));
                if changed {
                    self.notes.push(label.to_owned(), cell);
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

/// The `import_notes` of one record: keys in column order. Serialised as a
/// JSON object when the record is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportNotes {
    entries: Vec<(String, String)>,
}

impl ImportNotes {
    /// Keeps `value` under `key`.
    pub fn push(&mut self, key: String, value: &str) {
        self.entries.push((key, value.to_owned()));
    }

    /// The value kept under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
        let spreadsheet = Spreadsheet::open(path, sheet)?;
        let (entity, choice) = match entity {
            Some(entity) => (entity, EntityChoice::Given),
            None => detect_entity(spreadsheet.sheet(), spreadsheet.headers()),
        };
        let mut mapper = RowMapper::new(entity, spreadsheet.headers());
        let header_issues = mapper
            .columns()
            .header_issues(spreadsheet.header_row(), spreadsheet.headers());
        let mut notices = spreadsheet.notices().to_vec();
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
            let guesses = survey_dates(path, sheet, &date_fields)?;
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
    columns: &[(usize, usize)],
) -> Result<Vec<DateSurvey>, ReadError> {
    let mut surveys = vec![DateSurvey::default(); columns.len()];
    let mut spreadsheet = Spreadsheet::open(path, sheet)?;
    let mut row = SheetRow::default();
    while spreadsheet.read_row(&mut row)? {
        for (survey, (_, column)) in surveys.iter_mut().zip(columns) {
            survey.add(row.get(*column));
        }
    }
    Ok(surveys)
}
