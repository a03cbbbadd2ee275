//! The five CRM entities, each described once, as data: its table, the
//! sheet names that hold it, and its fields with their header aliases,
//! kinds, limits, enumerations, required flags and links.
//!
//! Everything else reads these descriptions: the mapping ([`crate::mapping`])
//! turns a row into a record field by field, the `COPY` column list and the
//! schema check ([`crate::copy_format`], [`crate::import`]) come from the
//! stored fields, and the history ([`crate::history`]) counts rows in
//! [`EntityDescription::table`]. A field's rule is found from here in one
//! step: its [`FieldKind`] names the function of [`crate::values`] (or the
//! organization rule of [`crate::mapping`]) that reads it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::values::enum_key;

/// One of the CRM's five entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    /// Principals, distributors, customers: the accounts list.
    Organizations,
    /// The people at those organizations.
    Contacts,
    /// The principals' products.
    Products,
    /// The deals in the pipeline.
    Opportunities,
    /// The log of calls, emails and visits.
    Interactions,
}

impl Entity {
    /// Every entity, in dependency order (what links to what comes later).
    pub const ALL: [Entity; 5] = [
        Entity::Organizations,
        Entity::Contacts,
        Entity::Products,
        Entity::Opportunities,
        Entity::Interactions,
    ];

    /// The name scripts use and `import_batches.entity` stores.
    pub fn name(self) -> &'static str {
        self.description().table
    }

    /// One record, in a sentence: "organization", "contact"...
    pub fn singular(self) -> &'static str {
        match self {
            Entity::Organizations => "organization",
            Entity::Contacts => "contact",
            Entity::Products => "product",
            Entity::Opportunities => "opportunity",
            Entity::Interactions => "interaction",
        }
    }

    /// The name with a capital, for titles: "Organizations".
    pub fn title(self) -> &'static str {
        match self {
            Entity::Organizations => "Organizations",
            Entity::Contacts => "Contacts",
            Entity::Products => "Products",
            Entity::Opportunities => "Opportunities",
            Entity::Interactions => "Interactions",
        }
    }

    /// `count` records in words: "1 contact", "3 opportunities".
    pub fn count(self, count: u64) -> String {
        if count == 1 {
            format!("1 {}", self.singular())
        } else {
            format!("{count} {}", self.name())
        }
    }

    /// Its description.
    pub fn description(self) -> &'static EntityDescription {
        match self {
            Entity::Organizations => &ORGANIZATIONS,
            Entity::Contacts => &CONTACTS,
            Entity::Products => &PRODUCTS,
            Entity::Opportunities => &OPPORTUNITIES,
            Entity::Interactions => &INTERACTIONS,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An entity name that is not one of the five.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown entity '{0}' (use organizations, contacts, products, opportunities or interactions)"
)]
pub struct UnknownEntity(pub String);

impl FromStr for Entity {
    type Err = UnknownEntity;

    /// Takes the plural or singular name, in any case.
    fn from_str(text: &str) -> Result<Entity, UnknownEntity> {
        let key = enum_key(text);
        Entity::ALL
            .into_iter()
            .find(|e| key == enum_key(e.name()) || key == enum_key(e.singular()))
            .ok_or_else(|| UnknownEntity(text.to_owned()))
    }
}

/// An entity's table and fields.
#[derive(Debug)]
pub struct EntityDescription {
    /// Which entity.
    pub entity: Entity,
    /// Its table in the CRM.
    pub table: &'static str,
    /// Sheet names that hold it, as header keys (see [`header_key`]).
    pub sheet_names: &'static [&'static str],
    /// Its fields, in the order of the spec's table.
    pub fields: &'static [FieldSpec],
    /// In-file duplicate warnings: the first key whose fields are all filled
    /// is the row's key.
    pub duplicate_keys: &'static [DuplicateKey],
    /// How a row matches a record already in the CRM (SPEC.md, "Duplicates
    /// against the CRM"): the first key whose fields the row fills decides.
    pub match_keys: &'static [MatchKey],
    /// How messages show one of its records, as SQL over the table's
    /// columns (a name, a person's name, a subject).
    pub shown: &'static str,
    /// How a link cell names one of its records (`None`: nothing links to
    /// this entity): what an export writes in a link column, and what
    /// [`crate::links`] finds the record by again.
    pub linked_by: Option<LinkedBy>,
    /// Fields whose stored values the verification charts
    /// (SPEC.md, "Export and verification"), by column.
    pub charted: &'static [&'static str],
    /// Fields a broker relies on, as groups of columns of which a record
    /// should fill at least one (an organization's city; a contact's
    /// e-mail or phone): what the audit lists as empty
    /// (SPEC.md, "Data quality in the CRM").
    pub relied_on: &'static [&'static [&'static str]],
    /// By field's column, the headers other systems' exports (HubSpot,
    /// Salesforce, Pipedrive, Zoho, Dynamics 365, Copper, Odoo, QuickBooks)
    /// and brokers' own sheets give it: matched as aliases are, but a
    /// column whose values say otherwise goes to import notes. Where each
    /// system's names come from: `docs/export-headers-sources.md`.
    pub exported_as: &'static [(&'static str, &'static [&'static str])],
    /// By field's column, headers that name it only when no column of the
    /// sheet names it otherwise (a price list's Description is its
    /// product name).
    pub if_missing: &'static [(&'static str, &'static [&'static str])],
}

/// A field that names a CRM user in words, and the field that holds the
/// user's id ([`FieldKind::UserOf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerField {
    /// The text column (`primary_manager_name`), kept as written.
    pub name: &'static str,
    /// The user's id (`primary_manager_id`).
    pub user_id: &'static str,
}

/// A key that makes a row the same record as one already in the CRM.
#[derive(Debug)]
pub struct MatchKey {
    /// Fields the row must fill for the key to apply; text is compared
    /// ignoring case, spaces and punctuation (emails: case and surrounding
    /// spaces), other values as they are.
    pub fields: &'static [&'static str],
    /// Links that must be the same record (or both empty): "within the
    /// organization".
    pub within: &'static [&'static str],
    /// A field that keeps two records apart when both have it and it
    /// differs: the same name in another city is another organization.
    pub unless_differ: Option<&'static str>,
}

/// A key that makes two rows of one file the same record.
#[derive(Debug)]
pub struct DuplicateKey {
    /// How the warning names it: "Duplicate contact {what}: ...".
    pub what: &'static str,
    /// The fields (database columns) that make the key.
    pub fields: &'static [&'static str],
}

/// One field: where it goes, which headers fill it and how its cells are read.
#[derive(Debug)]
pub struct FieldSpec {
    /// The database column (for [`FieldKind::FullName`], the name mapping
    /// files use for the full-name column, which fills two columns).
    pub column: &'static str,
    /// The header the spec's table gives it, for messages.
    pub label: &'static str,
    /// Headers that map to it (matched by [`header_key`]), the spec's first.
    pub aliases: &'static [&'static str],
    /// How a cell becomes a value.
    pub kind: FieldKind,
    /// A blank cell (or no column) fails the row.
    pub required: bool,
    /// The column's length limit in characters, as `migrations/` declares it.
    pub max_chars: Option<usize>,
    /// What a blank cell (or no column) stores, when not NULL: a file's
    /// country wins over the CRM's `US`.
    pub blank: Option<&'static str>,
}

impl FieldSpec {
    /// Whether the field is a column of the table (the full-name column is
    /// not: it fills first and last name).
    pub fn is_stored(&self) -> bool {
        !matches!(self.kind, FieldKind::FullName)
    }

    /// The link this field makes, if it is one.
    pub fn link(&self) -> Option<&LinkTarget> {
        match &self.kind {
            FieldKind::Link(target) => Some(target),
            _ => None,
        }
    }

    /// The values an enumerated field can take (priority, segment, type,
    /// role, category, stage, interaction type, yes/no), for mapping the
    /// values a sheet writes otherwise; `None` for a field of free values.
    pub fn allowed_values(&self) -> Option<Vec<&'static str>> {
        let labels =
            |enumeration: &Enumeration| enumeration.values.iter().map(|(l, _)| *l).collect();
        match &self.kind {
            FieldKind::Enum { enumeration, .. } => Some(labels(enumeration)),
            FieldKind::OrganizationType => Some(labels(&ORGANIZATION_TYPES)),
            FieldKind::YesNo { .. } => Some(vec!["yes", "no"]),
            FieldKind::Priority => Some(vec!["A", "B", "C", "D"]),
            FieldKind::Segment => Some(SEGMENTS.iter().map(|(_, segment)| *segment).collect()),
            _ => None,
        }
    }

    /// Whether a sheet with no column for the field can give every row one
    /// value ([`crate::saved_mapping::SavedMapping::fixed`]): a list of
    /// principals' type, a price list's category, a log of calls' type.
    pub fn takes_one_value_per_sheet(&self) -> bool {
        matches!(self.kind, FieldKind::OrganizationType)
            || (self.required
                && matches!(
                    self.kind,
                    FieldKind::Enum {
                        unknown: UnknownValue::Fail,
                        ..
                    } | FieldKind::Link(_)
                ))
    }

    /// What the field's rule does with a value it does not recognise, in
    /// the broker's words ("imported as C", "the row fails").
    pub fn unrecognised_outcome(&self) -> String {
        match &self.kind {
            FieldKind::Enum { unknown, .. } => match unknown {
                UnknownValue::Fail => "the row fails".to_owned(),
                UnknownValue::Empty => "left empty".to_owned(),
                UnknownValue::Default(label) => format!("imported as {label}"),
            },
            FieldKind::OrganizationType => "type from the segment".to_owned(),
            FieldKind::YesNo { blank } => {
                format!("imported as {}", if *blank { "yes" } else { "no" })
            }
            FieldKind::Priority => "imported as C".to_owned(),
            _ => "kept as written".to_owned(),
        }
    }

    /// What the field's rule does with `written`, a value it does not
    /// recognise, said plainly and saying that the CRM has no such value
    /// ("The CRM has no stage 'Negotiating': imported as New Lead").
    pub fn unrecognised_explained(&self, written: &str) -> String {
        let what = self.label.to_lowercase();
        let none = format!("The CRM has no {what} '{written}'");
        match &self.kind {
            FieldKind::Enum { unknown, .. } => match unknown {
                UnknownValue::Fail => format!("{none}: the row fails unless you choose one"),
                UnknownValue::Empty => {
                    format!("{none}: the {what} is left empty and '{written}' kept in import notes")
                }
                UnknownValue::Default(label) => {
                    format!("{none}: imported as {label}, '{written}' kept in import notes")
                }
            },
            FieldKind::OrganizationType => {
                format!("{none}: the type comes from the segment, '{written}' kept in import notes")
            }
            FieldKind::YesNo { blank } => format!(
                "'{written}' is neither yes nor no: imported as {}, kept in import notes",
                if *blank { "yes" } else { "no" }
            ),
            FieldKind::Priority => format!(
                "The CRM's priorities are A to D: '{written}' is imported as C, kept in import notes"
            ),
            FieldKind::Segment => format!(
                "The CRM's list of segments has no '{written}': it is stored as written, \
                 a segment of its own that the CRM's filters do not offer (the type is customer)"
            ),
            _ => format!("'{written}' is stored as written"),
        }
    }
}

/// How a field's cells are read; each kind's rule is one function of
/// [`crate::values`] or of the organization rules in [`crate::mapping`].
#[derive(Debug)]
pub enum FieldKind {
    /// Text as written (trimmed).
    Text,
    /// Text as written; odd ones warned ([`crate::values::looks_like_phone`]).
    Phone,
    /// Trimmed; malformed ones kept and warned ([`crate::values::looks_like_email`]).
    Email,
    /// One of an enumeration's labels ([`Enumeration::find`]).
    Enum {
        /// Its labels and aliases.
        enumeration: &'static Enumeration,
        /// The label a blank cell gets (`None`: empty, or fails when required).
        blank: Option<&'static str>,
        /// What an unknown value does.
        unknown: UnknownValue,
    },
    /// Money in US format ([`crate::values::money`]) with this many digits
    /// left of the point.
    Money(u32),
    /// A whole number ([`crate::values::whole_number`]).
    WholeNumber,
    /// Days, also in weeks, months or years ([`crate::values::shelf_life_days`]).
    ShelfLifeDays,
    /// Minutes, also as `1h 30m` or `1:30` ([`crate::values::duration_minutes`]).
    DurationMinutes,
    /// 0 to 100 ([`crate::values::probability`]).
    Probability,
    /// yes/no ([`crate::values::yes_no`]); `blank` is what a blank cell means.
    YesNo {
        /// The value of a blank cell.
        blank: bool,
    },
    /// A date ([`crate::values::date`]), with the column-level day-first guess.
    Date,
    /// A date with an optional time ([`crate::values::date_time`]).
    DateTime,
    /// A link by name to a record already in the CRM ([`crate::links`]).
    Link(LinkTarget),
    /// A contact's full name, split at the last space into first and last name.
    FullName,
    /// Organization priority A-D: `A+` is A (warning), blank or unknown is C.
    Priority,
    /// Organization segment through the segment table; it also sets the type.
    Segment,
    /// Organization type; a TYPE column wins over the one SEGMENT implies.
    OrganizationType,
    /// A US ZIP code whose leading zeros Excel dropped gets them back.
    PostalCode,
    /// The id of the CRM user the field `.0` names in words, found by
    /// [`crate::users`] as the rows are read for an import (a cell of its
    /// own, as an id, is read as one).
    UserOf(&'static str),
}

/// What a value an enumeration does not know does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownValue {
    /// The row fails, listing the allowed values.
    Fail,
    /// The field stays empty, with a warning.
    Empty,
    /// The field gets this label, with a warning.
    Default(&'static str),
}

/// What a link field points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTarget {
    /// The entity linked to.
    pub entity: Entity,
    /// For links to organizations: the type the column implies, given to an
    /// organization created for a name not found (and expected of a match).
    pub implied_type: Option<&'static str>,
    /// Matched among the records of the row's own organization, when given.
    pub within_organization: bool,
}

/// How a link cell names a record of an entity (SPEC.md, "Links by name"),
/// from which the link lookups, the closest names offered, the names a
/// workbook's sheets give each other and the export's link columns are all
/// written.
#[derive(Debug)]
pub struct LinkedBy {
    /// The fields whose text, joined by spaces, is the record's name.
    pub name: &'static [&'static str],
    /// A field a cell holding an e-mail address is matched on instead.
    pub email: Option<&'static str>,
    /// SQL over the record as `t`: what tells records of one name apart in
    /// a message ("Sysco (Chicago)").
    pub detail: &'static str,
    /// SQL over `t`: the record's type, which a link's implied type is
    /// checked against.
    pub kind: Option<&'static str>,
    /// Its organization's key, for links matched within the row's
    /// organization.
    pub organization: Option<&'static str>,
}

impl LinkedBy {
    /// The name as SQL over the table's columns (prefixed by `alias.`
    /// when one is given).
    pub fn name_sql(&self, alias: &str) -> String {
        let prefix = if alias.is_empty() {
            String::new()
        } else {
            format!("{alias}.")
        };
        self.name
            .iter()
            .map(|field| format!("{prefix}{field}"))
            .collect::<Vec<_>>()
            .join(" || ' ' || ")
    }

    /// What an export writes for a record in a link column, as SQL over
    /// `alias`: its e-mail when it has one and is found by it, else its name.
    pub fn written_sql(&self, alias: &str) -> String {
        let name = self.name_sql(alias);
        match self.email {
            Some(email) => format!("coalesce(nullif(btrim({alias}.{email}), ''), {name})"),
            None => name,
        }
    }
}

/// A database enum's labels, each with the aliases a sheet may use, and the
/// words other systems use for them.
#[derive(Debug)]
pub struct Enumeration {
    /// How messages name it: "role", "category".
    pub name: &'static str,
    /// `(label, aliases)`.
    pub values: &'static [(&'static str, &'static [&'static str])],
    /// `(label, words)`: how other systems write a label whose meaning is
    /// clear (Salesforce `Prospecting` is a New Lead). Read like aliases,
    /// but each distinct one is named in a notice, since it is a
    /// translation the broker may want to see.
    pub elsewhere: &'static [(&'static str, &'static [&'static str])],
    keys: LazyLock<HashMap<String, EnumWord>>,
}

/// What a cell of an enumerated field reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumWord {
    /// The CRM's label.
    pub label: &'static str,
    /// Whether the cell is another system's word for it
    /// ([`Enumeration::elsewhere`]), not the label or one of its aliases.
    pub elsewhere: bool,
}

impl Enumeration {
    /// The label `text` stands for, matching loosely ([`enum_key`]): the
    /// label itself, one of its aliases or another system's word for it.
    pub fn find(&self, text: &str) -> Option<&'static str> {
        self.read(text).map(|word| word.label)
    }

    /// As [`Enumeration::find`], saying whether it was another system's word.
    pub fn read(&self, text: &str) -> Option<EnumWord> {
        self.keys.get(&enum_key(text)).copied()
    }

    /// The labels, for messages: "beverages, dairy, ...".
    pub fn allowed(&self) -> String {
        self.values
            .iter()
            .map(|(label, _)| *label)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn keys_of(
        values: &'static [(&'static str, &'static [&'static str])],
        elsewhere: &'static [(&'static str, &'static [&'static str])],
    ) -> HashMap<String, EnumWord> {
        let mut keys = HashMap::new();
        // Other systems' words first, so that a label or alias spelled the
        // same way is never reported as a translation.
        for (words, is_elsewhere) in [(elsewhere, true), (values, false)] {
            for (label, aliases) in words {
                let word = EnumWord {
                    label,
                    elsewhere: is_elsewhere,
                };
                keys.insert(
                    enum_key(label),
                    EnumWord {
                        elsewhere: false,
                        ..word
                    },
                );
                for alias in *aliases {
                    keys.insert(enum_key(alias), word);
                }
            }
        }
        keys
    }
}

mod descriptions;
mod enumerations;
mod headers;

pub use headers::{HeaderMatch, How};

pub use descriptions::{CONTACTS, INTERACTIONS, OPPORTUNITIES, ORGANIZATIONS, PRODUCTS};
pub use enumerations::{
    CONTACT_ROLES, INTERACTION_TYPES, OPPORTUNITY_STAGES, ORGANIZATION_TYPES, PRODUCT_CATEGORIES,
    SEGMENT_TYPES, SEGMENTS,
};

impl EntityDescription {
    /// The field that a header names, matching ignoring case, spaces and
    /// punctuation (`PRIORITY-FOCUS (A-D)`, `Priority Focus` and `priority`
    /// all name organizations' priority), another system's header for it,
    /// or other words ([`EntityDescription::match_header`]).
    pub fn field_for_header(&self, header: &str) -> Option<usize> {
        self.match_header(header).map(|found| found.field)
    }

    /// The field a header almost names ("Adress", "Organisation"): the one
    /// whose closest alias is at least 0.8 alike (normalised Levenshtein
    /// over the header keys, `strsim`: one typo in five letters) and at
    /// least 0.1 closer than any other field's. Jaro-Winkler was tried
    /// first: it rates "organisation" as close to "organizationtype" as to
    /// "organization", so nothing was ever clearly best.
    pub fn field_for_header_fuzzy(&self, header: &str) -> Option<usize> {
        let key = header_key(header);
        if key.chars().count() < 4 {
            return None;
        }
        let length = key.chars().count();
        let words = |text: &str| {
            text.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .count()
        };
        let header_words = words(header);
        let mut best = vec![0.0f64; self.fields.len()];
        for (field, spec) in self.fields.iter().enumerate() {
            for alias in spec.aliases {
                // A header of more or fewer words than the alias ("Organization
                // - ID") is another thing, not a misspelling of it.
                if words(alias) != header_words {
                    continue;
                }
                let alias = header_key(alias);
                // Below 0.8 anyway when the lengths differ by more than a fifth.
                let alias_length = alias.chars().count();
                if alias_length.abs_diff(length) * 5 > length.max(alias_length) {
                    continue;
                }
                let score = strsim::normalized_levenshtein(&key, &alias);
                best[field] = best[field].max(score);
            }
        }
        let mut scores: Vec<(f64, usize)> =
            best.into_iter().enumerate().map(|(i, s)| (s, i)).collect();
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        match scores.as_slice() {
            [(best, index), (second, _), ..] if *best >= 0.8 && best - second >= 0.1 => {
                Some(*index)
            }
            [(best, index)] if *best >= 0.8 => Some(*index),
            _ => None,
        }
    }

    /// The index of the field stored in `column`.
    pub fn field_index(&self, column: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.column == column)
    }

    /// The stored fields, in `COPY` order.
    pub fn stored_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().filter(|f| f.is_stored())
    }

    /// Every column an import writes, in `COPY` order: the key, the stored
    /// fields, then the import's own columns.
    pub fn copy_columns(&self) -> Vec<&'static str> {
        let mut columns = vec!["id"];
        columns.extend(
            self.fields
                .iter()
                .filter(|f| f.is_stored())
                .map(|f| f.column),
        );
        columns.extend(["import_notes", "import_batch_id", "import_source_row"]);
        columns
    }

    /// The fields naming a CRM user in words ("PRIMARY ACCT. MANAGER"),
    /// each with the field that holds the user's id.
    pub fn managers(&self) -> impl Iterator<Item = ManagerField> + '_ {
        self.fields.iter().filter_map(|f| match f.kind {
            FieldKind::UserOf(name) => Some(ManagerField {
                name,
                user_id: f.column,
            }),
            _ => None,
        })
    }

    /// How many of `headers` name a field of this entity (each field counted once).
    pub fn header_matches(&self, headers: &[String]) -> usize {
        let mut seen = vec![false; self.fields.len()];
        for (index, header) in headers.iter().enumerate() {
            // Past the first columns a sheet is machine-made: aliases only.
            let found = if index < WORDS_COLUMNS {
                self.match_header(header)
            } else {
                self.match_alias(header)
            };
            if let Some(found) = found {
                seen[found.field] = true;
            }
        }
        seen.iter().filter(|s| **s).count()
    }
}

/// Columns of a sheet whose headers are matched in other words (and
/// loosely); beyond, a sheet is machine-made and its headers exact.
pub const WORDS_COLUMNS: usize = 200;

/// Why a sheet was taken for an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityChoice {
    /// The user said so (`--entity`, or the window's choice).
    Given,
    /// The sheet's name says so ("Contacts", "Pipeline").
    SheetName,
    /// A text file's name says so (`hubspot-crm-exports-all-contacts.csv`),
    /// and its headers agree.
    FileName,
    /// Its headers match this entity's best.
    Headers,
}

/// The entity a sheet holds: its name when that names one, else the entity
/// whose known headers it matches best (ties go to the earlier entity; a
/// sheet that matches none is taken for organizations, whose missing name
/// column is then reported).
pub fn detect_entity(name: Option<NameHint<'_>>, headers: &[String]) -> (Entity, EntityChoice) {
    match recognise(name, headers) {
        Some(found) => found,
        None => (best_by_headers(headers).0, EntityChoice::Headers),
    }
}

/// The most headers of one entity that `cells` match: two or more make a
/// row a header row.
pub fn known_header_count(cells: &[String]) -> usize {
    Entity::ALL
        .iter()
        .map(|e| e.description().header_matches(cells))
        .max()
        .unwrap_or(0)
}

/// What a sheet is called: a workbook sheet's name, or a text file's name
/// (without its extension), which says less, being often an export's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameHint<'a> {
    /// A workbook sheet's name ("Contacts").
    Sheet(&'a str),
    /// A text file's name (`hubspot-crm-exports-all-contacts-2026-11-30`).
    File(&'a str),
}

/// The entity a sheet holds when something in it says so: its sheet name;
/// a text file's name when one entity's word is in it (`all-contacts`,
/// `price-list`) and the headers agree (two of them name its fields); or
/// at least two of its headers. A ReadMe or a Lists sheet is recognised as
/// nothing.
pub fn recognise(name: Option<NameHint<'_>>, headers: &[String]) -> Option<(Entity, EntityChoice)> {
    match name {
        Some(NameHint::Sheet(name)) => {
            let key = header_key(name);
            if let Some(entity) = Entity::ALL
                .into_iter()
                .find(|e| e.description().sheet_names.contains(&key.as_str()))
            {
                return Some((entity, EntityChoice::SheetName));
            }
        }
        Some(NameHint::File(name)) => {
            if let Some(entity) = entity_in_file_name(name)
                && entity.description().header_matches(headers) >= 2
            {
                return Some((entity, EntityChoice::FileName));
            }
        }
        None => {}
    }
    let (entity, matches) = best_by_headers(headers);
    (matches >= 2).then_some((entity, EntityChoice::Headers))
}

/// The one entity whose sheet names are words of a file's name (a word,
/// or two words together: `price-list`); none when two entities are named.
fn entity_in_file_name(name: &str) -> Option<Entity> {
    let words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let pairs = words.windows(2).map(|pair| pair.concat());
    let named: std::collections::BTreeSet<Entity> = words
        .iter()
        .cloned()
        .chain(pairs)
        .filter_map(|word| {
            Entity::ALL
                .into_iter()
                .find(|e| e.description().sheet_names.contains(&word.as_str()))
        })
        .collect();
    match named.len() {
        1 => named.into_iter().next(),
        _ => None,
    }
}

/// The entity whose known headers `headers` match best, and how many match.
/// An entity whose every required field has a column comes first, the one
/// with more required fields before the other: every sheet has a column
/// that could name an organization, but a "First Name, Last Name, Company,
/// City" sheet is contacts, and "Opportunity, Customer, Stage, City" is
/// deals, however many address columns organizations would take.
fn best_by_headers(headers: &[String]) -> (Entity, usize) {
    let mut best = (Entity::Organizations, (false, 0usize, 0usize));
    for entity in Entity::ALL {
        let description = entity.description();
        let required: Vec<&FieldSpec> = description.fields.iter().filter(|f| f.required).collect();
        // A full name column fills the first and last name.
        let fills = |found: &FieldSpec, wanted: &FieldSpec| {
            std::ptr::eq(found, wanted)
                || (matches!(found.kind, FieldKind::FullName)
                    && matches!(wanted.column, "first_name" | "last_name"))
        };
        let required_present = required.iter().all(|f| {
            headers.iter().any(|h| {
                // A bare "Name" names anything: only a field's own column
                // counts for it, never a full name.
                let bare = header_key(h) == "name";
                description.field_for_header(h).is_some_and(|i| {
                    std::ptr::eq(&description.fields[i], *f)
                        || (!bare && fills(&description.fields[i], f))
                })
            })
        });
        let matches = description.header_matches(headers);
        let score = (
            required_present && matches >= 2,
            if required_present { required.len() } else { 0 },
            matches,
        );
        if score > best.1 {
            best = (entity, score);
        }
    }
    (best.0, best.1.2)
}

/// A header (or sheet name) reduced to lower-case letters and digits, `#`
/// read as "number".
pub fn header_key(header: &str) -> String {
    let mut key = String::with_capacity(header.len());
    for c in header.chars() {
        if c == '#' {
            // "Item #" is "Item Number", not "Item".
            key.push_str("number");
        } else if c.is_alphanumeric() {
            key.extend(c.to_lowercase());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn every_alias_is_a_header_key_and_names_one_field() {
        for entity in Entity::ALL {
            let description = entity.description();
            let mut seen = std::collections::HashSet::new();
            for field in description.fields {
                for alias in field.aliases {
                    assert!(
                        seen.insert(header_key(alias)),
                        "{entity}: alias {alias} names two fields"
                    );
                }
            }
            // Another system's header names one field, and no other
            // field's alias. (Headers for a missing field name another
            // field on purpose: Description is a price list's product name.)
            let mut exported = std::collections::HashMap::new();
            for (column, headers) in description.exported_as {
                assert!(
                    description.field_index(column).is_some(),
                    "{entity}: {column}"
                );
                for header in *headers {
                    let key = header_key(header);
                    if let Some(other) = exported.insert(key.clone(), *column) {
                        assert_eq!(other, *column, "{entity}: {header} names two fields");
                    }
                    assert!(
                        !seen.contains(&key),
                        "{entity}: {header} is an alias already"
                    );
                }
            }
            for (column, _) in description.if_missing {
                assert!(
                    description.field_index(column).is_some(),
                    "{entity}: {column}"
                );
            }
            for name in description.sheet_names {
                assert_eq!(header_key(name), *name);
            }
        }
    }

    #[test]
    fn headers_match_ignoring_case_spaces_and_punctuation() {
        let orgs = &ORGANIZATIONS;
        let column = |h: &str| orgs.field_for_header(h).map(|i| orgs.fields[i].column);
        assert_eq!(column("PRIORITY-FOCUS (A-D)"), Some("priority"));
        assert_eq!(column("Priority Focus"), Some("priority"));
        assert_eq!(column(" priority "), Some("priority"));
        assert_eq!(column("Primary Acct Manager"), Some("primary_manager_name"));
        assert_eq!(column("ZIP CODE"), Some("postal_code"));
        assert_eq!(column("Company"), Some("name"));
        assert_eq!(column("DISTRIBUTOR"), None);
        assert_eq!(column("Territory"), None);
        let products = &PRODUCTS;
        assert_eq!(
            products
                .field_for_header("Item")
                .map(|i| products.fields[i].column),
            Some("name")
        );
        assert_eq!(
            products
                .field_for_header("Item #")
                .map(|i| products.fields[i].column),
            Some("sku")
        );
        let opportunities = &OPPORTUNITIES;
        assert_eq!(
            opportunities
                .field_for_header("Win %")
                .map(|i| opportunities.fields[i].column),
            Some("probability")
        );
    }

    #[test]
    fn enumerations_match_loosely_with_their_aliases() {
        assert_eq!(CONTACT_ROLES.find("Decision Maker"), Some("decision_maker"));
        assert_eq!(CONTACT_ROLES.find("DM"), Some("decision_maker"));
        assert_eq!(
            CONTACT_ROLES.find("decision-makers"),
            Some("decision_maker")
        );
        assert_eq!(CONTACT_ROLES.find("Purchaser"), Some("buyer"));
        assert_eq!(CONTACT_ROLES.find("Chef"), None);
        assert_eq!(
            PRODUCT_CATEGORIES.find("Meat and Poultry"),
            Some("meat_poultry")
        );
        assert_eq!(PRODUCT_CATEGORIES.find("Fish"), Some("seafood"));
        assert_eq!(PRODUCT_CATEGORIES.find("beverage"), Some("beverages"));
        assert_eq!(
            PRODUCT_CATEGORIES.find("Disposables"),
            Some("paper_products")
        );
        assert_eq!(OPPORTUNITY_STAGES.find("closed won"), Some("Closed - Won"));
        assert_eq!(
            OPPORTUNITY_STAGES.find("Sample / Visit Offered"),
            Some("Sample/Visit Offered")
        );
        assert_eq!(
            OPPORTUNITY_STAGES.find("Contacted"),
            Some("Initial Outreach")
        );
        assert_eq!(INTERACTION_TYPES.find("Phone Call"), Some("call"));
        assert_eq!(INTERACTION_TYPES.find("follow-up"), Some("follow_up"));
        assert_eq!(INTERACTION_TYPES.find("Trade Shows"), Some("trade_show"));
        assert_eq!(INTERACTION_TYPES.find("Contract"), Some("contract_review"));
        assert!(
            PRODUCT_CATEGORIES
                .allowed()
                .starts_with("beverages, dairy, frozen")
        );
    }

    #[test]
    fn other_systems_words_are_translations_and_never_shadow_an_alias() {
        let word = |e: &Enumeration, text| e.read(text).map(|w| (w.label, w.elsewhere));
        assert_eq!(
            word(&OPPORTUNITY_STAGES, "appointmentscheduled"),
            Some(("Sample/Visit Offered", true))
        );
        assert_eq!(
            word(&OPPORTUNITY_STAGES, "Closed Won"),
            Some(("Closed - Won", false))
        );
        assert_eq!(word(&INTERACTION_TYPES, "lunch"), Some(("meeting", true)));
        assert_eq!(
            word(&CONTACT_ROLES, "Economic Buyer"),
            Some(("decision_maker", true))
        );
        assert_eq!(
            word(&PRODUCT_CATEGORIES, "Janitorial"),
            Some(("cleaning_supplies", true))
        );
        for enumeration in [
            &CONTACT_ROLES,
            &PRODUCT_CATEGORIES,
            &OPPORTUNITY_STAGES,
            &INTERACTION_TYPES,
            &ORGANIZATION_TYPES,
        ] {
            let mut own = HashMap::new();
            for (label, aliases) in enumeration.values {
                for text in std::iter::once(label).chain(aliases.iter()) {
                    let before = own.insert(enum_key(text), *label);
                    assert!(
                        before.is_none_or(|b| b == *label),
                        "{text} names two labels"
                    );
                }
            }
            for (label, words) in enumeration.elsewhere {
                assert!(own.values().any(|l| l == label), "{label} is a label");
                for text in *words {
                    assert!(
                        !own.contains_key(&enum_key(text)),
                        "{text} is both an alias and another system's word"
                    );
                    assert_eq!(enumeration.find(text), Some(*label), "{text}");
                }
            }
        }
    }

    #[test]
    fn entity_names_parse() {
        assert_eq!("contacts".parse::<Entity>().ok(), Some(Entity::Contacts));
        assert_eq!(
            "Opportunity".parse::<Entity>().ok(),
            Some(Entity::Opportunities)
        );
        assert!("deals".parse::<Entity>().is_err());
        assert_eq!(Entity::Products.count(1), "1 product");
        assert_eq!(Entity::Opportunities.count(3), "3 opportunities");
    }

    #[test]
    fn the_entity_comes_from_the_sheet_name_else_the_headers() {
        let contacts = headers(&["First Name", "Last Name", "Company", "Email", "Phone"]);
        assert_eq!(
            detect_entity(None, &contacts),
            (Entity::Contacts, EntityChoice::Headers)
        );
        assert_eq!(
            detect_entity(Some(NameHint::Sheet("Buyers")), &headers(&["Who"])),
            (Entity::Contacts, EntityChoice::SheetName)
        );
        assert_eq!(
            detect_entity(Some(NameHint::Sheet("Activity Log")), &headers(&["x"])).0,
            Entity::Interactions
        );
        let seed = headers(&[
            "Organizations",
            "PRIORITY-FOCUS (A-D)",
            "SEGMENT",
            "PHONE",
            "CITY",
        ]);
        assert_eq!(
            detect_entity(Some(NameHint::Sheet("Sheet1")), &seed).0,
            Entity::Organizations
        );
        let products = headers(&["Product", "Manufacturer", "SKU", "Category", "Case Price"]);
        assert_eq!(detect_entity(None, &products).0, Entity::Products);
        let deals = headers(&["Deal Name", "Customer", "Stage", "Amount", "Close Date"]);
        assert_eq!(detect_entity(None, &deals).0, Entity::Opportunities);
        let calls = headers(&["Activity Type", "Subject", "Date", "Company", "Duration"]);
        assert_eq!(detect_entity(None, &calls).0, Entity::Interactions);
        // A full-name contacts sheet is still contacts.
        let people = headers(&["Contact Name", "Company", "Email", "Title"]);
        assert_eq!(detect_entity(None, &people).0, Entity::Contacts);
        assert_eq!(
            detect_entity(None, &headers(&["Name", "City"])).0,
            Entity::Organizations
        );
    }

    #[test]
    fn copy_columns_come_from_the_description() {
        assert_eq!(
            ORGANIZATIONS.copy_columns().join(", "),
            "id, name, priority, segment, type, primary_manager_name, secondary_manager_name, \
             website, phone, address_line_1, city, state_province, postal_code, notes, email, \
             industry, address_line_2, country, annual_revenue, employee_count, \
             parent_organization_id, is_active, primary_manager_id, secondary_manager_id, import_notes, import_batch_id, import_source_row"
        );
        assert!(!CONTACTS.copy_columns().contains(&"full_name"));
    }
}
