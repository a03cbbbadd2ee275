//! One raw row to a typed [`Record`]: every rule of the description, in one
//! place.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::clean::{CleanUp, CleanUpTally};
use crate::edits::SheetEdits;
use crate::entity::{
    Entity, EntityDescription, FieldKind, FieldSpec, ORGANIZATION_TYPES, SEGMENT_TYPES, SEGMENTS,
    UnknownValue, header_key,
};
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{SUSPICIOUS_RECORD_LINES, SheetRow};
use crate::values::{self, DateOrder, shorten};

use super::*;

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
    /// Other systems' words read as the CRM's labels, for one notice each.
    translations: Translations,
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
        RowMapper::with_columns(
            ColumnMap::with_choices(entity, headers, mapping),
            headers,
            mapping,
        )
    }

    /// A mapper for a sheet whose columns are used as `columns` says (its
    /// headers matched, and its values weighed), with the saved mapping's
    /// value replacements and fixed values.
    pub fn with_columns(
        columns: ColumnMap,
        headers: &[String],
        mapping: &SavedMapping,
    ) -> RowMapper {
        let description = columns.description;
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
                fixed: mapping.fixed.clone(),
                ..SavedMapping::default()
            },
            edits: SheetEdits::default(),
            tally: None,
            translations: Translations::default(),
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

    /// The other systems' words read so far, as notices: one per distinct
    /// value ("Stage 'Prospecting' ... imported as New Lead").
    pub fn translation_notices(&self) -> Vec<String> {
        self.translations.notices(&self.columns)
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
            elsewhere: None,
        };
        // Left out by the broker: skipped, with no problem to report (the
        // list of changes says so).
        if self.edits.removed_rows.contains(&row.number) {
            return RowOutcome {
                row: row.number,
                fate: RowFate::Removed,
                issues: Vec::new(),
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
            out.issues.push(RowIssue::left_out(
                row.number,
                self.columns.label(column),
                format!(
                    "'{}' looks like a totals row, not one of the {}; not imported",
                    shorten(cell),
                    description.entity.name()
                ),
            ));
            return RowOutcome {
                row: row.number,
                fate: RowFate::TotalsRow,
                issues: out.issues,
            };
        }
        self.check_cells(row, &mut out);

        let (values, given) = self.read_fields(row, &mut out);
        self.check_lengths(&values, &mut out);
        // A row that fails is not stored, so it duplicates nothing.
        if !out.issues.iter().any(|i| i.severity == Severity::Error) {
            self.warn_duplicates(&values, &mut out);
        }

        let failed = out.issues.iter().any(|i| i.severity == Severity::Error);
        let fate = if failed {
            RowFate::Failed
        } else {
            RowFate::Record(Record {
                entity: description.entity,
                source_row,
                sheet_row: row.number,
                values,
                notes: out.notes,
                given,
            })
        };
        RowOutcome {
            row: row.number,
            fate,
            issues: out.issues,
        }
    }

    /// Reads every stored field of `row` with its rule, after the broker's
    /// clean-ups and value mappings; gives the values and which of them the
    /// row's cells gave ([`Record::given`]).
    fn read_fields(&mut self, row: &SheetRow, out: &mut RowWork) -> (Vec<Value>, u64) {
        let description = self.columns.description;
        let full_name = if self.columns.splits_full_name() {
            self.split_full_name(row, out)
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
                    // The broker's value for every row, when no column fills it.
                    None => match self.choices.fixed.get(field.column) {
                        Some(value) => Cow::Owned(value.trim().to_owned()),
                        None => Cow::Borrowed(""),
                    },
                },
            };
            let label = self.columns.field_label(index);
            let cell = self.clean_cell(field, cell, &label, out);
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
                blank_value(field, &label, out)
            } else {
                given |= 1u64.checked_shl(values.len() as u32).unwrap_or(0);
                self.read_cell(index, field, &cell, &label, out, &mut segment_type)
            };
            let elsewhere = out.elsewhere.take();
            if let Some(label) = elsewhere {
                self.translations.add(index, &cell, label);
            }
            if let Some(tally) = &mut self.tally {
                match (&replaced, elsewhere) {
                    (Some(written), _) => tally.add(index, written, Some(&cell), None),
                    (None, Some(label)) => tally.add(index, &cell, None, Some(label)),
                    (None, None) if out.unrecognised => tally.add(index, &cell, None, None),
                    (None, None) => {}
                }
            }
            out.unrecognised = false;
            values.push(value);
        }
        if description.entity == Entity::Organizations {
            given |= organization_type_from_segment(description, &mut values, segment_type);
        }
        (values, given)
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
        // "Delacroix, Marc" is written last name first.
        if let Some((last, first)) = row.get(column).split_once(',')
            && !first.contains(',')
            && !first.trim().is_empty()
            && !last.trim().is_empty()
        {
            let (first, last) = (
                first.split_whitespace().collect::<Vec<_>>().join(" "),
                last.split_whitespace().collect::<Vec<_>>().join(" "),
            );
            out.warning(
                label,
                format!(
                    "'{}' read as last name, first name: first name '{first}', last name '{last}'",
                    shorten(row.get(column).trim())
                ),
            );
            return Ok(Some((first, last)));
        }
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
            } => read_enum(enumeration, unknown, cell, label, out),
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
            // A user's id given as such (a column sent to it by hand).
            FieldKind::UserOf(_) => match uuid::Uuid::parse_str(cell) {
                Ok(id) => Value::Key(id),
                Err(_) => {
                    out.warning(
                        label.to_owned(),
                        format!(
                            "'{}' is not a CRM user's id; left empty (the name column finds the user)",
                            shorten(cell)
                        ),
                    );
                    Value::Null
                }
            },
            FieldKind::Priority => Value::Label(read_priority(cell, label, out)),
            FieldKind::Segment => {
                let (segment, implied) = read_segment(cell, label, out);
                *segment_type = Some(implied);
                Value::Text(segment)
            }
            FieldKind::OrganizationType => read_organization_type(cell, label, out),
            FieldKind::PostalCode => read_postal_code(cell, label, out),
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

/// A value of an enumeration: its label, or what the field does with a
/// value it does not know (fail, empty, a default), said in a warning.
fn read_enum(
    enumeration: &crate::entity::Enumeration,
    unknown: &UnknownValue,
    cell: &str,
    label: &str,
    out: &mut RowWork,
) -> Value {
    if let Some(found) = enumeration.read(cell) {
        if found.label != cell {
            out.notes.push_original(label.to_owned(), cell);
        }
        if found.elsewhere {
            out.elsewhere = Some(found.label);
        }
        return Value::Label(found.label);
    }
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

/// An organization's type, written out; unknown ones leave it to the segment.
fn read_organization_type(cell: &str, label: &str, out: &mut RowWork) -> Value {
    match ORGANIZATION_TYPES.read(cell) {
        Some(found) => {
            if found.label != cell {
                out.notes.push_original(label.to_owned(), cell);
            }
            if found.elsewhere {
                out.elsewhere = Some(found.label);
            }
            Value::Label(found.label)
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
    }
}

/// A ZIP or postal code as text; a US ZIP that lost its leading zeros in
/// Excel gets them back, with a warning.
fn read_postal_code(cell: &str, label: &str, out: &mut RowWork) -> Value {
    if (3..=4).contains(&cell.len()) && cell.bytes().all(|b| b.is_ascii_digit()) {
        let padded = format!("{cell:0>5}");
        out.notes.push_original(label.to_owned(), cell);
        out.warning(
            label.to_owned(),
            format!("ZIP code '{cell}' lost its leading zeros in Excel; imported as '{padded}'"),
        );
        Value::Text(padded)
    } else {
        Value::Text(cell.to_owned())
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

/// Whether a name cell is a totals label (case and punctuation ignored):
/// `Total`, `Totals`, `Grand Total`, `Subtotal` or `Sum`, repeated or not,
/// alone, followed by a count, by a word for the records (`TOTAL
/// ACCOUNTS`) or both (`Total: 7 accounts`); or a name that ends in
/// `total`, `totals` or `subtotal`, with a count or not (`Pipeline total`,
/// `Illinois/Indiana subtotal: 12`). `Total Wine & More` is a name.
pub(super) fn is_totals_label(cell: &str) -> bool {
    let words: Vec<String> = cell
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let is_count = |word: &String| word.chars().all(|c| c.is_ascii_digit());
    let is_label = |word: &String| ["total", "totals", "subtotal"].contains(&word.as_str());
    // "Pipeline total", "Illinois/Indiana subtotal: 12".
    let without_count = match words.as_slice() {
        [rest @ .., count] if is_count(count) => rest,
        all => all,
    };
    if let [before @ .., last] = without_count
        && !before.is_empty()
        && is_label(last)
    {
        return true;
    }
    let mut rest = words.as_slice();
    let mut labelled = false;
    loop {
        match rest {
            [first, second, tail @ ..] if first == "grand" && second == "total" => rest = tail,
            [word, tail @ ..] if is_label(word) || word == "sum" => rest = tail,
            _ => break,
        }
        labelled = true;
    }
    let is_records = |word: &String| TOTALS_RECORD_WORDS.contains(&word.as_str());
    labelled
        && match rest {
            [] => true,
            [one] => is_count(one) || is_records(one),
            [count, _] if is_count(count) => true,
            [word, count] => is_records(word) && is_count(count),
            _ => false,
        }
}

/// Words a totals row names the records it counts by (`TOTAL ACCOUNTS`).
const TOTALS_RECORD_WORDS: [&str; 22] = [
    "account",
    "accounts",
    "organization",
    "organizations",
    "organisations",
    "customers",
    "companies",
    "contacts",
    "people",
    "buyers",
    "products",
    "items",
    "deals",
    "opportunities",
    "pipeline",
    "activities",
    "calls",
    "visits",
    "rows",
    "records",
    "lines",
    "entries",
];

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
    if let Some(value) = field.blank {
        return Value::Text(value.to_owned());
    }
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
    // As the seed's sheets write it ("Distributor" for a CRM "Distribution").
    let written = found.map_or(lower.as_str(), |(from, _)| *from);
    let implied = SEGMENT_TYPES
        .iter()
        .find(|(segment, _)| *segment == written)
        .map_or("customer", |(_, implied)| *implied);
    match found {
        Some((_, to)) => {
            if *to != raw {
                out.notes.push_original(label.to_owned(), raw);
            }
            ((*to).to_owned(), implied)
        }
        // A principal's segment says what it is; the CRM has no such segment.
        None if implied != "customer" => (raw.to_owned(), implied),
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
    /// Set by a rule that read another system's word for a label.
    elsewhere: Option<&'static str>,
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
