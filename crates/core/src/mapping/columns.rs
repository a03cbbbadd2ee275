//! How each column of a sheet is used: the field it fills, import notes, or
//! nothing, worked out once from the header row.

use std::borrow::Cow;

use crate::entity::{Entity, EntityDescription, FieldKind, How, header_key};
use crate::spreadsheet::column_letter;

use super::evidence::{self, ColumnSamples, Unmistakable};
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

/// How each column of one sheet is used, worked out once from its header
/// (and, when sampled, its first values).
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
    /// Per column: how it came to its field.
    how: Vec<Option<How>>,
    /// Per column kept in import notes: the field it likely fills, said in
    /// a notice, for the broker to choose.
    likely: Vec<Option<usize>>,
    /// What was decided for columns the broker may want to look at.
    notices: Vec<String>,
}

/// A column's claim on a field, before every claim is weighed.
#[derive(Debug, Clone, Copy)]
struct Claim {
    column: usize,
    field: usize,
    how: How,
    /// 3: the spec's alias; 2: another system's header; 1: other words.
    strength: u8,
    /// The share of its values the field takes, when that can be told.
    fit: Option<f64>,
    /// How close the header is to the field: its place among the field's
    /// aliases (`Manufacturer` is closer to the principal than `Brand`).
    rank: usize,
}

impl ColumnMap {
    /// Maps `headers` for `entity`, from the headers alone.
    pub fn new(entity: Entity, headers: &[String]) -> ColumnMap {
        ColumnMap::with_choices(entity, headers, &SavedMapping::default())
    }

    /// As [`ColumnMap::new`], with the broker's choices of a saved mapping.
    pub fn with_choices(entity: Entity, headers: &[String], mapping: &SavedMapping) -> ColumnMap {
        ColumnMap::build(entity, headers, mapping, &ColumnSamples::default())
    }

    /// How each column is used (SPEC.md, "Files from other systems"): a
    /// header named in the saved mapping goes where it says (a field's
    /// column, `import_notes`, or nowhere); the others by their headers,
    /// in the order of [`EntityDescription::match_header`], confirmed by
    /// their `samples` where another system's header or other words made
    /// the match. Two columns never fill one field: the closer header wins
    /// (then the values that fit better, then the first column), the other
    /// goes to import notes with a notice; so does a column whose values
    /// say it holds something else. A column whose header names nothing
    /// known is placed by its values only when they are e-mail or web
    /// addresses. A field the mapping fixes for every row needs no column.
    pub fn build(
        entity: Entity,
        headers: &[String],
        mapping: &SavedMapping,
        samples: &ColumnSamples,
    ) -> ColumnMap {
        let description = entity.description();
        let mut map = ColumnMap {
            description,
            roles: vec![ColumnRole::ImportNotes; headers.len()],
            labels: unique_labels(headers),
            fields: vec![None; description.fields.len()],
            fixed: description
                .fields
                .iter()
                .map(|f| mapping.fixed.contains_key(f.column))
                .collect(),
            how: vec![None; headers.len()],
            likely: vec![None; headers.len()],
            notices: Vec::new(),
        };
        let chosen: Vec<Option<Option<&str>>> = headers
            .iter()
            .map(|h| mapping.columns.get(h.trim()).map(Option::as_deref))
            .collect();
        map.take_chosen(headers, &chosen, mapping);
        let claims = map.claims(headers, &chosen, samples);
        map.settle(headers, claims);
        map.take_if_missing(headers, &chosen);
        map.take_by_values(&chosen, samples);
        map.mark_error_report(headers, mapping);
        map
    }

    /// The columns the saved mapping names, where it says.
    fn take_chosen(
        &mut self,
        headers: &[String],
        chosen: &[Option<Option<&str>>],
        mapping: &SavedMapping,
    ) {
        for (index, choice) in chosen.iter().enumerate() {
            let how = if mapping.picked.contains(headers[index].trim()) {
                How::Chosen
            } else {
                How::Mapping
            };
            match choice {
                Some(None) => {
                    self.roles[index] = ColumnRole::Skipped;
                    self.how[index] = Some(how);
                }
                Some(Some(target)) => {
                    if let Some(field) = self.description.field_index(target)
                        && self.fields[field].is_none()
                    {
                        self.fields[field] = Some(index);
                        self.roles[index] = ColumnRole::Field(field);
                    }
                    self.how[index] = Some(how);
                }
                None => {}
            }
        }
    }

    /// What each column not chosen claims, by its header (the words of
    /// the first columns only: beyond, a sheet is machine-made and its
    /// headers exact), with how well its values fit.
    fn claims(
        &mut self,
        headers: &[String],
        chosen: &[Option<Option<&str>>],
        samples: &ColumnSamples,
    ) -> Vec<Claim> {
        let description = self.description;
        let mut claims = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            if chosen[index].is_some() {
                continue;
            }
            let trimmed = header.trim();
            let matched = match description.match_header(trimmed) {
                Some(found) if found.how == How::Words && index >= FUZZY_HEADER_COLUMNS => None,
                Some(found) => Some((found.field, found.how, found.trusted)),
                None if index < FUZZY_HEADER_COLUMNS => description
                    .field_for_header_fuzzy(trimmed)
                    .map(|field| (field, How::Words, false)),
                None => None,
            };
            let Some((field, how, trusted)) = matched else {
                continue;
            };
            let spec = &description.fields[field];
            let values = samples.column(index);
            // Another system's header is taken unless its values say
            // otherwise; other words only when the values say so too.
            let unsure = match how {
                How::Words => evidence::confirms(spec, values) == Some(false),
                _ => !trusted && evidence::contradicts(spec, values),
            };
            if unsure {
                self.likely[index] = Some(field);
                let why = match evidence::odd_example(spec, values) {
                    Some(example) => format!(
                        "its values are not {} (such as '{}')",
                        evidence::kind_words(spec),
                        crate::values::shorten(example)
                    ),
                    None => format!("it has no {} to show it", evidence::kind_words(spec)),
                };
                self.notices.push(format!(
                    "'{}' may be {}, but {why}: it is kept in import notes; choose {} under its header to import it there",
                    self.labels[index], spec.column, spec.column
                ));
                continue;
            }
            claims.push(Claim {
                column: index,
                field,
                how,
                strength: match (how, trusted) {
                    (How::Alias, true) => 3,
                    (How::Alias, false) => 2,
                    _ => 1,
                },
                fit: evidence::share(spec, values),
                rank: description.alias_rank(field, trimmed),
            });
        }
        claims
    }

    /// Gives each field to the closest claim on it; the others keep their
    /// columns in import notes, said in a notice.
    fn settle(&mut self, headers: &[String], mut claims: Vec<Claim>) {
        claims.sort_by(|a, b| {
            b.strength
                .cmp(&a.strength)
                .then(b.fit.unwrap_or(0.0).total_cmp(&a.fit.unwrap_or(0.0)))
                .then(a.rank.cmp(&b.rank))
                .then(a.column.cmp(&b.column))
        });
        for claim in claims {
            if let Some(winner) = self.fields[claim.field] {
                // Repeated headers are said once, as header problems.
                if headers[winner].trim() != headers[claim.column].trim() {
                    let spec = &self.description.fields[claim.field];
                    self.likely[claim.column] = Some(claim.field);
                    self.notices.push(format!(
                        "'{}' and '{}' both name {}: '{}' fills it, '{}' is kept in import notes",
                        self.labels[winner],
                        self.labels[claim.column],
                        spec.column,
                        self.labels[winner],
                        self.labels[claim.column]
                    ));
                }
                continue;
            }
            self.fields[claim.field] = Some(claim.column);
            self.roles[claim.column] = ColumnRole::Field(claim.field);
            self.how[claim.column] = Some(claim.how);
        }
    }

    /// A field no column fills takes a column whose header names it only
    /// then (a price list's Description as the product name), even from a
    /// field that header names too.
    fn take_if_missing(&mut self, headers: &[String], chosen: &[Option<Option<&str>>]) {
        for field in 0..self.fields.len() {
            if self.fields[field].is_some() {
                continue;
            }
            let wanted: Vec<String> = self
                .description
                .if_missing_headers(field)
                .iter()
                .map(|h| header_key(h))
                .collect();
            let Some(index) = headers
                .iter()
                .enumerate()
                .find(|(i, h)| chosen[*i].is_none() && wanted.contains(&header_key(h)))
                .map(|(i, _)| i)
            else {
                continue;
            };
            if let ColumnRole::Field(other) = self.roles[index] {
                self.fields[other] = None;
            }
            self.fields[field] = Some(index);
            self.roles[index] = ColumnRole::Field(field);
            self.how[index] = Some(How::Words);
            self.likely[index] = None;
        }
    }

    /// Columns whose headers name nothing known, placed by unmistakable
    /// values: e-mail addresses, web addresses. Phone numbers are only
    /// said: which phone they are is for the broker.
    fn take_by_values(&mut self, chosen: &[Option<Option<&str>>], samples: &ColumnSamples) {
        for (index, choice) in chosen.iter().enumerate().take(FUZZY_HEADER_COLUMNS) {
            if choice.is_some()
                || self.roles[index] != ColumnRole::ImportNotes
                || self.likely[index].is_some()
            {
                continue;
            }
            let free = |column: &str| {
                self.description
                    .field_index(column)
                    .filter(|&f| self.fields[f].is_none())
            };
            let field = match evidence::unmistakable(samples.column(index)) {
                Some(Unmistakable::Emails) => free("email"),
                Some(Unmistakable::WebAddresses) => {
                    free("website").or_else(|| free("linkedin_url"))
                }
                Some(Unmistakable::Phones) => {
                    if let Some(phone) = free("phone") {
                        self.likely[index] = Some(phone);
                        self.notices.push(format!(
                            "'{}' holds phone numbers: it is kept in import notes; choose phone (or mobile_phone) under its header to import it there",
                            self.labels[index]
                        ));
                    }
                    None
                }
                None => None,
            };
            if let Some(field) = field {
                self.fields[field] = Some(index);
                self.roles[index] = ColumnRole::Field(field);
                self.how[index] = Some(How::Values);
            }
        }
    }

    /// An error report imported back (its `Row` first, `Reason` last):
    /// neither is a field of the record.
    fn mark_error_report(&mut self, headers: &[String], mapping: &SavedMapping) {
        if !is_error_report(headers) || mapping.columns.contains_key(headers[0].trim()) {
            return;
        }
        let last_index = headers.len() - 1;
        for (index, role) in [
            (0, ColumnRole::OriginalRow),
            (last_index, ColumnRole::Skipped),
        ] {
            if let ColumnRole::Field(field) = self.roles[index] {
                self.fields[field] = None;
            }
            self.roles[index] = role;
            self.how[index] = None;
        }
    }

    /// How column `index` came to its field (`None`: import notes, or an
    /// error report's own column).
    pub fn how(&self, index: usize) -> Option<How> {
        self.how.get(index).copied().flatten()
    }

    /// The field column `index`, kept in import notes, likely fills.
    pub fn likely(&self, index: usize) -> Option<&'static str> {
        self.likely
            .get(index)
            .copied()
            .flatten()
            .map(|field| self.description.fields[field].column)
    }

    /// Notices about the columns: which gave way to which, which values
    /// did not fit their header, which hold phone numbers.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Each column's use, as `check --json` gives it.
    pub fn uses(&self) -> Vec<ColumnUse> {
        (0..self.roles.len())
            .map(|index| ColumnUse {
                header: self.labels[index].clone(),
                field: match self.roles[index] {
                    ColumnRole::Field(field) => {
                        Some(self.description.fields[field].column.to_owned())
                    }
                    ColumnRole::Skipped => Some("skip".to_owned()),
                    ColumnRole::OriginalRow => Some("import_source_row".to_owned()),
                    ColumnRole::ImportNotes => None,
                },
                how: self.how(index),
            })
            .collect()
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
            // The column, so a parent organization reads apart from the
            // row's own organization.
            FieldKind::Link(_) => Cow::Owned(format!("{} (found by name)", spec.column)),
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

/// Columns of a sheet whose headers are matched in other words, loosely
/// or by their values: beyond, a sheet is machine-made and its headers exact.
const FUZZY_HEADER_COLUMNS: usize = crate::entity::WORDS_COLUMNS;

/// A column's use, as `check --json` gives it in `columns`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnUse {
    /// The header as written (made unique).
    pub header: String,
    /// The field it fills; `skip` when left out; `null`: import notes.
    pub field: Option<String>,
    /// How it came to it.
    pub how: Option<How>,
}

/// The label of each column as issues and `import_notes` name it: its
/// header, or its letter when blank, made unique ("Phone (column F)").
fn unique_labels(headers: &[String]) -> Vec<String> {
    // Headers seen so far, so a sheet with thousands of columns stays fast.
    let mut seen = std::collections::HashSet::with_capacity(headers.len());
    headers
        .iter()
        .enumerate()
        .map(|(index, header)| {
            let trimmed = header.trim();
            let letter = column_letter(index);
            if trimmed.is_empty() {
                format!("Column {letter}")
            } else if !seen.insert(trimmed) {
                format!("{trimmed} (column {letter})")
            } else {
                trimmed.to_owned()
            }
        })
        .collect()
}
