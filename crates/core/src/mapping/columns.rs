//! How each column of a sheet is used: the field it fills, import notes, or
//! nothing, worked out once from the header row.

use std::borrow::Cow;

use crate::entity::{Entity, EntityDescription, FieldKind};
use crate::spreadsheet::column_letter;

use super::*;
use crate::saved_mapping::SavedMapping;

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
    pub(super) description: &'static EntityDescription,
    pub(super) roles: Vec<ColumnRole>,
    /// Keys used in `import_notes` (header as written, made unique).
    labels: Vec<String>,
    /// The column of each field, by field index.
    fields: Vec<Option<usize>>,
    /// Fields the saved mapping gives a value for every row, by field index.
    fixed: Vec<bool>,
}

impl ColumnMap {
    /// Maps `headers` for `entity`. The first column matching a field wins;
    /// later ones (and every unknown column) go to `import_notes`.
    pub fn new(entity: Entity, headers: &[String]) -> ColumnMap {
        ColumnMap::with_choices(entity, headers, &SavedMapping::default())
    }

    /// As [`ColumnMap::new`], but a header named in the saved mapping's
    /// columns goes where it says: a field's column, `import_notes`, or
    /// nowhere (`None`). Chosen fields win over the automatic match of
    /// another column; a field the mapping fixes for every row needs no
    /// column.
    pub fn with_choices(entity: Entity, headers: &[String], mapping: &SavedMapping) -> ColumnMap {
        let choices = &mapping.columns;
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
            fixed: description
                .fields
                .iter()
                .map(|f| mapping.fixed.contains_key(f.column))
                .collect(),
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
    pub(super) fn field_label(&self, field: usize) -> String {
        match self.column_of(field) {
            Some(index) => self.label(index),
            None => self.description.fields[field].column.to_owned(),
        }
    }

    /// Whether the contacts' full-name column stands in for first and last name.
    pub(super) fn splits_full_name(&self) -> bool {
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
                || self.fixed.get(index) == Some(&true)
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

/// Columns of a sheet whose headers are matched loosely when no alias
/// matches: beyond, a sheet is machine-made and its headers exact.
const FUZZY_HEADER_COLUMNS: usize = 200;
