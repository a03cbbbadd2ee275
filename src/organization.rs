//! The fixed mapping from a broker's organization sheet to the CRM's
//! `organizations` table, and the validation that goes with it.
//!
//! [`OrganizationMapper::map_row`] is the one place where a raw row becomes a
//! typed [`Organization`]: every rule of the spec's mapping table lives here.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::spreadsheet::{SUSPICIOUS_RECORD_LINES, SheetRow, column_letter};

/// A field of the `organizations` table that a spreadsheet column maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `name`, required.
    Name,
    /// `priority`, A to D.
    Priority,
    /// `segment`, and through it `type`.
    Segment,
    /// `primary_manager_name`.
    PrimaryManager,
    /// `secondary_manager_name`.
    SecondaryManager,
    /// `website` (the LINKEDIN column).
    Website,
    /// `phone`, kept as written.
    Phone,
    /// `address_line_1`.
    AddressLine1,
    /// `city`.
    City,
    /// `state_province`.
    StateProvince,
    /// `postal_code`, text with leading zeros kept.
    PostalCode,
    /// `notes`.
    Notes,
}

impl Field {
    /// Every mapped field, in the order of the spec's table.
    pub const ALL: [Field; 12] = [
        Field::Name,
        Field::Priority,
        Field::Segment,
        Field::PrimaryManager,
        Field::SecondaryManager,
        Field::Website,
        Field::Phone,
        Field::AddressLine1,
        Field::City,
        Field::StateProvince,
        Field::PostalCode,
        Field::Notes,
    ];

    /// The database column it fills.
    pub fn column(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Priority => "priority",
            Field::Segment => "segment",
            Field::PrimaryManager => "primary_manager_name",
            Field::SecondaryManager => "secondary_manager_name",
            Field::Website => "website",
            Field::Phone => "phone",
            Field::AddressLine1 => "address_line_1",
            Field::City => "city",
            Field::StateProvince => "state_province",
            Field::PostalCode => "postal_code",
            Field::Notes => "notes",
        }
    }

    /// The column's length limit in characters, as `migrations/` declares it.
    pub fn max_chars(self) -> Option<usize> {
        match self {
            Field::Name | Field::Website | Field::AddressLine1 => Some(255),
            Field::Segment | Field::City | Field::StateProvince => Some(100),
            Field::Phone => Some(50),
            Field::PostalCode => Some(20),
            Field::Priority => None,
            Field::PrimaryManager | Field::SecondaryManager | Field::Notes => None,
        }
    }

    /// The field a header names, matching ignoring case, spaces and
    /// punctuation (`PRIORITY-FOCUS (A-D)`, `Priority Focus` and `priority`
    /// are all [`Field::Priority`]).
    pub fn from_header(header: &str) -> Option<Field> {
        let key = header_key(header);
        Some(match key.as_str() {
            "organizations" | "organization" | "organizationname" | "name" | "company"
            | "companyname" | "accountname" => Field::Name,
            "priorityfocusad" | "priorityfocus" | "priority" => Field::Priority,
            "segment" => Field::Segment,
            "primaryacctmanager" | "primaryaccountmanager" | "primarymanager" => {
                Field::PrimaryManager
            }
            "secondaryacctmanager" | "secondaryaccountmanager" | "secondarymanager" => {
                Field::SecondaryManager
            }
            "linkedin" | "website" => Field::Website,
            "phone" | "phonenumber" | "telephone" => Field::Phone,
            "streetaddress" | "address" | "addressline1" | "street" => Field::AddressLine1,
            "city" => Field::City,
            "state" | "stateprovince" | "province" => Field::StateProvince,
            "zipcode" | "zip" | "postalcode" | "postcode" => Field::PostalCode,
            "notes" | "note" => Field::Notes,
            _ => return None,
        })
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.column())
    }
}

/// A header reduced to lower-case letters and digits.
fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The CRM's `organization_type` enum values this import produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrganizationType {
    /// A wholesale distributor.
    Distributor,
    /// A restaurant, caterer, school...
    Customer,
}

impl OrganizationType {
    /// The enum label in the database.
    pub fn label(self) -> &'static str {
        match self {
            OrganizationType::Distributor => "distributor",
            OrganizationType::Customer => "customer",
        }
    }
}

/// The CRM's `priority_level`: A (highest) to D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Priority {
    /// Highest.
    A,
    /// High.
    B,
    /// Medium, the default.
    C,
    /// Low.
    D,
}

impl Priority {
    /// The enum label in the database.
    pub fn label(self) -> &'static str {
        match self {
            Priority::A => "A",
            Priority::B => "B",
            Priority::C => "C",
            Priority::D => "D",
        }
    }

    fn from_letter(letter: char) -> Option<Priority> {
        match letter {
            'A' => Some(Priority::A),
            'B' => Some(Priority::B),
            'C' => Some(Priority::C),
            'D' => Some(Priority::D),
            _ => None,
        }
    }
}

/// One organization ready for the database: every rule already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The spreadsheet row it came from.
    pub source_row: u64,
    /// Trimmed, never empty.
    pub name: String,
    /// From PRIORITY-FOCUS; `C` when blank or unreadable.
    pub priority: Priority,
    /// From SEGMENT through the segment table; `General` when blank.
    pub segment: String,
    /// `distributor` when SEGMENT is Distributor.
    pub organization_type: OrganizationType,
    /// PRIMARY ACCT. MANAGER, as text.
    pub primary_manager_name: Option<String>,
    /// SECONDARY ACCT. MANAGER, as text.
    pub secondary_manager_name: Option<String>,
    /// LINKEDIN.
    pub website: Option<String>,
    /// PHONE, as written.
    pub phone: Option<String>,
    /// STREET ADDRESS.
    pub address_line_1: Option<String>,
    /// CITY.
    pub city: Option<String>,
    /// STATE.
    pub state_province: Option<String>,
    /// Zip Code, leading zeros kept.
    pub postal_code: Option<String>,
    /// NOTES.
    pub notes: Option<String>,
    /// Always `US` for now.
    pub country: &'static str,
    /// Always true on import.
    pub is_active: bool,
    /// JSON object text of unmapped cells and originals of changed values.
    pub import_notes: Option<String>,
}

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

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column.is_empty() {
            write!(f, "row {}: {}", self.row, self.message)
        } else {
            write!(f, "row {}, {}: {}", self.row, self.column, self.message)
        }
    }
}

/// What became of one row: the record when it can be imported, and every
/// issue found on the way.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    /// Spreadsheet row number.
    pub row: u64,
    /// `None` when an error fails the row.
    pub organization: Option<Organization>,
    /// Errors and warnings, in column order.
    pub issues: Vec<RowIssue>,
}

/// What a column of the sheet is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// Fills a field.
    Field(Field),
    /// Kept in `import_notes` under its header.
    ImportNotes,
}

/// How each column of one sheet is used, worked out once from its header.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    roles: Vec<ColumnRole>,
    /// Keys used in `import_notes` (header as written, made unique).
    labels: Vec<String>,
    /// The column of each field, indexed by `Field as usize` (looked up
    /// many times per row, so an array rather than a map).
    fields: [Option<usize>; Field::ALL.len()],
    email: Option<usize>,
}

impl ColumnMap {
    /// Maps `headers`. The first column matching a field wins; later ones
    /// (and every unknown column) go to `import_notes`.
    pub fn new(headers: &[String]) -> ColumnMap {
        let mut fields = [None; Field::ALL.len()];
        let mut roles = Vec::with_capacity(headers.len());
        let mut labels: Vec<String> = Vec::with_capacity(headers.len());
        // Headers seen so far, so a sheet with thousands of columns stays fast.
        let mut seen = std::collections::HashSet::with_capacity(headers.len());
        let mut email = None;
        for (index, header) in headers.iter().enumerate() {
            let trimmed = header.trim();
            let role = match Field::from_header(trimmed) {
                Some(field) if fields[field as usize].is_none() => {
                    fields[field as usize] = Some(index);
                    ColumnRole::Field(field)
                }
                _ => ColumnRole::ImportNotes,
            };
            if email.is_none() && header_key(trimmed).contains("email") {
                email = Some(index);
            }
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
            roles,
            labels,
            fields,
            email,
        }
    }

    /// The role of each column, in order.
    pub fn roles(&self) -> &[ColumnRole] {
        &self.roles
    }

    /// The label of column `index` as issues and `import_notes` name it.
    pub fn label(&self, index: usize) -> String {
        self.labels
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("Column {}", column_letter(index)))
    }

    /// The column that fills `field`, if any.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.fields[field as usize]
    }

    /// Whether some column gives the organization's name.
    pub fn has_name(&self) -> bool {
        self.fields[Field::Name as usize].is_some()
    }

    /// Sheet-level problems: no name column, blank or repeated headers.
    pub fn header_issues(&self, header_row: u64, headers: &[String]) -> Vec<RowIssue> {
        let mut issues = Vec::new();
        if !self.has_name() {
            issues.push(RowIssue {
                row: header_row,
                column: String::new(),
                message: "No column holds the organization name: add a column headed 'Organizations' (or 'Organization', 'Name', 'Company')".to_owned(),
                severity: Severity::Error,
            });
        }
        let mut seen = std::collections::HashSet::with_capacity(headers.len());
        for (index, header) in headers.iter().enumerate() {
            let trimmed = header.trim();
            if trimmed.is_empty() {
                continue;
            }
            if !seen.insert(trimmed) {
                issues.push(RowIssue {
                    row: header_row,
                    column: self.label(index),
                    message: format!(
                        "The header '{trimmed}' appears twice; this column's values are kept in import notes as '{}'",
                        self.label(index)
                    ),
                    severity: Severity::Warning,
                });
            }
        }
        issues
    }
}

/// The segment table: `(SEGMENT as written, lower-cased, CRM segment)`.
const SEGMENTS: [(&str, &str); 9] = [
    ("distributor", "Distribution"),
    ("casual", "Casual Dining"),
    ("chain/group member", "Chain Restaurant"),
    ("ethnic", "Ethnic Cuisine"),
    ("pizza", "Pizza Restaurant"),
    ("fine dining", "Fine Dining"),
    ("gastropub", "Gastropub"),
    ("caterer", "Catering"),
    ("education", "Educational Institution"),
];

/// Turns rows of one sheet into [`Organization`]s. Holds what must be
/// remembered across rows (names seen, for the duplicate warning).
#[derive(Debug)]
pub struct OrganizationMapper {
    columns: ColumnMap,
    /// Hash of the normalised name to the first row that had it.
    names_seen: HashMap<u64, u64, ahash::RandomState>,
    hasher: ahash::RandomState,
    /// Reused for the normalised name, so no row allocates for it.
    name_scratch: String,
}

impl OrganizationMapper {
    /// A mapper for a sheet with these headers.
    pub fn new(headers: &[String]) -> OrganizationMapper {
        OrganizationMapper {
            columns: ColumnMap::new(headers),
            names_seen: HashMap::default(),
            hasher: ahash::RandomState::new(),
            name_scratch: String::new(),
        }
    }

    /// How the sheet's columns are used.
    pub fn columns(&self) -> &ColumnMap {
        &self.columns
    }

    /// Applies every rule of the mapping to one row.
    pub fn map_row(&mut self, row: &SheetRow) -> RowOutcome {
        let mut issues = Vec::new();
        let mut notes = ImportNotes::default();
        let number = row.number;
        let columns = &self.columns;

        // Cells that cannot be stored at all fail the row.
        for (index, cell) in row.cells().enumerate() {
            if cell.contains('\0') {
                issues.push(error(
                    number,
                    columns.label(index),
                    "The cell contains a NUL character (byte 0), which the database cannot store; the file may be damaged".to_owned(),
                ));
            }
        }

        if row.lines > SUSPICIOUS_RECORD_LINES {
            let column = row
                .cells()
                .position(|cell| cell.contains('\n'))
                .map_or_else(String::new, |index| columns.label(index));
            issues.push(error(
                number,
                column,
                format!(
                    "This row runs over {} lines of the file: a quote (\") in it is probably never closed, so the lines after it were read into one cell; fix the quote and check again",
                    row.lines
                ),
            ));
        }

        // Unmapped columns, and cells past the header's width.
        for (index, cell) in row.cells().enumerate() {
            let role = columns.roles.get(index).copied();
            if matches!(role, Some(ColumnRole::Field(_))) || cell.trim().is_empty() {
                continue;
            }
            if role.is_none() {
                issues.push(warning(
                    number,
                    columns.label(index),
                    format!(
                        "The row has more cells than the header; '{}' is kept in import notes",
                        shorten(cell)
                    ),
                ));
            }
            notes.push(columns.label(index), cell);
        }

        let text = |field: Field| -> (Option<usize>, &str) {
            match columns.column_of(field) {
                Some(index) => (Some(index), row.get(index).trim()),
                None => (None, ""),
            }
        };
        let label_of = |field: Field| {
            columns
                .column_of(field)
                .map_or_else(|| field.column().to_owned(), |i| columns.label(i))
        };

        // name
        let (_, name) = text(Field::Name);
        if name.is_empty() {
            issues.push(error(
                number,
                label_of(Field::Name),
                "Missing required field 'name'".to_owned(),
            ));
        } else {
            // Same name ignoring case and spacing: "ABC  restaurant" is "ABC Restaurant".
            self.name_scratch.clear();
            for word in name.split_whitespace() {
                if !self.name_scratch.is_empty() {
                    self.name_scratch.push(' ');
                }
                if word.is_ascii() {
                    let start = self.name_scratch.len();
                    self.name_scratch.push_str(word);
                    self.name_scratch[start..].make_ascii_lowercase();
                } else {
                    self.name_scratch
                        .extend(word.chars().flat_map(char::to_lowercase));
                }
            }
            let key = self.hasher.hash_one(self.name_scratch.as_str());
            match self.names_seen.get(&key) {
                Some(&first) => issues.push(warning(
                    number,
                    label_of(Field::Name),
                    format!("Duplicate organization name: '{name}' in rows {first}, {number}"),
                )),
                None => {
                    self.names_seen.insert(key, number);
                }
            }
        }

        // priority
        let (_, raw_priority) = text(Field::Priority);
        let priority = if raw_priority.is_empty() {
            Priority::C
        } else {
            let upper = raw_priority.to_uppercase();
            let mut chars = upper.chars();
            let first = chars.next().and_then(Priority::from_letter);
            let rest = chars.as_str();
            match first {
                Some(priority) if rest.is_empty() => {
                    // Nothing is lost: even `b` for `B` keeps its original.
                    if raw_priority != priority.label() {
                        notes.push(label_of(Field::Priority), raw_priority);
                    }
                    priority
                }
                Some(priority) if rest == "+" || rest == "-" => {
                    notes.push(label_of(Field::Priority), raw_priority);
                    issues.push(warning(
                        number,
                        label_of(Field::Priority),
                        format!("Priority '{raw_priority}' imported as {}", priority.label()),
                    ));
                    priority
                }
                _ => {
                    notes.push(label_of(Field::Priority), raw_priority);
                    issues.push(warning(
                        number,
                        label_of(Field::Priority),
                        format!("Invalid priority value: '{raw_priority}', imported as C"),
                    ));
                    Priority::C
                }
            }
        };

        // segment and type
        let (_, raw_segment) = text(Field::Segment);
        let (segment, organization_type) = if raw_segment.is_empty() {
            ("General".to_owned(), OrganizationType::Customer)
        } else {
            let lower = raw_segment.to_lowercase();
            let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
            match SEGMENTS.iter().find(|(from, _)| *from == lower) {
                Some((from, to)) => {
                    if *to != raw_segment {
                        notes.push(label_of(Field::Segment), raw_segment);
                    }
                    let kind = if *from == "distributor" {
                        OrganizationType::Distributor
                    } else {
                        OrganizationType::Customer
                    };
                    ((*to).to_owned(), kind)
                }
                None => {
                    issues.push(warning(
                        number,
                        label_of(Field::Segment),
                        format!("Unknown segment '{raw_segment}', kept as written (type customer)"),
                    ));
                    (raw_segment.to_owned(), OrganizationType::Customer)
                }
            }
        };

        // postal code: a US ZIP that lost its leading zero in Excel
        let (_, raw_zip) = text(Field::PostalCode);
        let postal_code =
            if (3..=4).contains(&raw_zip.len()) && raw_zip.bytes().all(|b| b.is_ascii_digit()) {
                let padded = format!("{raw_zip:0>5}");
                notes.push(label_of(Field::PostalCode), raw_zip);
                issues.push(warning(
                number,
                label_of(Field::PostalCode),
                format!(
                    "ZIP code '{raw_zip}' lost its leading zeros in Excel; imported as '{padded}'"
                ),
            ));
                Some(padded)
            } else {
                non_empty(raw_zip)
            };

        // phone and email are kept as written; odd ones are pointed out
        let (_, phone) = text(Field::Phone);
        if !phone.is_empty() && !looks_like_phone(phone) {
            issues.push(warning(
                number,
                label_of(Field::Phone),
                format!(
                    "Phone number '{}' does not look like a phone number; kept as written",
                    shorten(phone)
                ),
            ));
        }
        if let Some(index) = columns.email {
            let email = row.get(index).trim();
            if !email.is_empty() && !looks_like_email(email) {
                issues.push(warning(
                    number,
                    columns.label(index),
                    format!("Invalid email format: '{}'", shorten(email)),
                ));
            }
        }

        let organization = Organization {
            source_row: number,
            name: name.to_owned(),
            priority,
            segment,
            organization_type,
            primary_manager_name: non_empty(text(Field::PrimaryManager).1),
            secondary_manager_name: non_empty(text(Field::SecondaryManager).1),
            website: non_empty(text(Field::Website).1),
            phone: non_empty(phone),
            address_line_1: non_empty(text(Field::AddressLine1).1),
            city: non_empty(text(Field::City).1),
            state_province: non_empty(text(Field::StateProvince).1),
            postal_code,
            notes: non_empty(text(Field::Notes).1),
            country: "US",
            is_active: true,
            import_notes: notes.into_json(),
        };

        // Values the database would refuse fail the row here, with the column named.
        for field in Field::ALL {
            let Some(limit) = field.max_chars() else {
                continue;
            };
            let value = match field {
                Field::Segment => Some(organization.segment.as_str()),
                Field::PostalCode => organization.postal_code.as_deref(),
                Field::Name => Some(organization.name.as_str()),
                _ => columns.column_of(field).map(|i| row.get(i).trim()),
            };
            if let Some(value) = value {
                let length = value.chars().count();
                if length > limit {
                    issues.push(error(
                        number,
                        label_of(field),
                        format!(
                            "Too long for the CRM: {length} characters, the '{}' field holds at most {limit}",
                            field.column()
                        ),
                    ));
                }
            }
        }

        let failed = issues.iter().any(|i| i.severity == Severity::Error);
        RowOutcome {
            row: number,
            organization: (!failed).then_some(organization),
            issues,
        }
    }
}

fn error(row: u64, column: String, message: String) -> RowIssue {
    RowIssue {
        row,
        column,
        message,
        severity: Severity::Error,
    }
}

fn warning(row: u64, column: String, message: String) -> RowIssue {
    RowIssue {
        row,
        column,
        message,
        severity: Severity::Warning,
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A cell quoted in a message, cut to a readable length.
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

fn looks_like_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    // Digits, separators, and "ext"/"x" for extensions.
    let allowed = value.chars().all(|c| {
        c.is_ascii_digit() || " +-().,/.#".contains(c) || "ext".contains(c.to_ascii_lowercase())
    });
    (7..=20).contains(&digits) && allowed
}

fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains(char::is_whitespace)
}

/// The `import_notes` object being built for one row: keys in column order.
#[derive(Debug, Default)]
struct ImportNotes {
    entries: Vec<(String, String)>,
}

impl ImportNotes {
    fn push(&mut self, key: String, value: &str) {
        self.entries.push((key, value.to_owned()));
    }

    fn into_json(self) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        serde_json::to_string(&self).ok()
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

    fn mapper() -> OrganizationMapper {
        let headers: Vec<String> = SEED_HEADERS.iter().map(|h| (*h).to_owned()).collect();
        OrganizationMapper::new(&headers)
    }

    fn row(number: u64, cells: &[&str]) -> SheetRow {
        SheetRow::from_cells(number, cells.iter().copied())
    }

    #[test]
    fn headers_match_ignoring_case_spaces_and_punctuation() {
        assert_eq!(
            Field::from_header("PRIORITY-FOCUS (A-D)"),
            Some(Field::Priority)
        );
        assert_eq!(Field::from_header("Priority Focus"), Some(Field::Priority));
        assert_eq!(Field::from_header(" priority "), Some(Field::Priority));
        assert_eq!(
            Field::from_header("Primary Acct Manager"),
            Some(Field::PrimaryManager)
        );
        assert_eq!(Field::from_header("ZIP CODE"), Some(Field::PostalCode));
        assert_eq!(Field::from_header("Company"), Some(Field::Name));
        assert_eq!(Field::from_header("DISTRIBUTOR"), None);
        assert_eq!(Field::from_header("Territory"), None);
    }

    #[test]
    fn a_full_row_maps_as_the_spec_says() {
        let mut mapper = mapper();
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
        let org = outcome.organization.expect("row imports");
        assert_eq!(org.name, "ABC Restaurant");
        assert_eq!(org.priority, Priority::C);
        assert_eq!(org.segment, "Distribution");
        assert_eq!(org.organization_type, OrganizationType::Distributor);
        assert_eq!(org.primary_manager_name.as_deref(), Some("Jane Doe"));
        assert_eq!(org.secondary_manager_name, None);
        assert_eq!(org.postal_code.as_deref(), Some("07030"));
        assert_eq!(org.country, "US");
        assert!(org.is_active);
        assert_eq!(
            org.import_notes.as_deref(),
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
        let mut mapper = mapper();
        let priority_of = |mapper: &mut OrganizationMapper, value: &str| {
            let outcome = mapper.map_row(&row(3, &[&format!("Org {value}"), value]));
            (outcome.organization.unwrap().priority, outcome.issues.len())
        };
        assert_eq!(priority_of(&mut mapper, " b "), (Priority::B, 0));
        assert_eq!(priority_of(&mut mapper, ""), (Priority::C, 0));
        assert_eq!(priority_of(&mut mapper, "A+"), (Priority::A, 1));
        assert_eq!(priority_of(&mut mapper, "d-"), (Priority::D, 1));
        assert_eq!(priority_of(&mut mapper, "E"), (Priority::C, 1));
    }

    #[test]
    fn segments_and_types() {
        let mut mapper = mapper();
        let mut segment_of = |value: &str| {
            let outcome = mapper.map_row(&row(4, &[&format!("Org {value}"), "", value]));
            let org = outcome.organization.unwrap();
            (org.segment, org.organization_type, outcome.issues.len())
        };
        assert_eq!(
            segment_of(""),
            ("General".to_owned(), OrganizationType::Customer, 0)
        );
        assert_eq!(
            segment_of("chain/group  member"),
            ("Chain Restaurant".to_owned(), OrganizationType::Customer, 0)
        );
        assert_eq!(
            segment_of("Fine Dining"),
            ("Fine Dining".to_owned(), OrganizationType::Customer, 0)
        );
        assert_eq!(
            segment_of(" Food Truck "),
            ("Food Truck".to_owned(), OrganizationType::Customer, 1)
        );
        assert_eq!(
            segment_of("DISTRIBUTOR"),
            ("Distribution".to_owned(), OrganizationType::Distributor, 0)
        );
    }

    #[test]
    fn missing_name_fails_the_row_with_the_spec_message() {
        let mut mapper = mapper();
        let outcome = mapper.map_row(&row(12, &["   ", "A"]));
        assert!(outcome.organization.is_none());
        assert_eq!(
            outcome.issues[0].to_string(),
            "row 12, Organizations: Missing required field 'name'"
        );
    }

    #[test]
    fn duplicate_names_warn_with_both_rows() {
        let mut mapper = mapper();
        assert!(
            mapper
                .map_row(&row(23, &["ABC Restaurant"]))
                .issues
                .is_empty()
        );
        let outcome = mapper.map_row(&row(45, &["abc  restaurant"]));
        assert!(outcome.organization.is_some());
        assert_eq!(
            outcome.issues[0].message,
            "Duplicate organization name: 'abc  restaurant' in rows 23, 45"
        );
    }

    #[test]
    fn too_long_values_fail_the_row_naming_the_column() {
        let mut mapper = mapper();
        let long_city = "x".repeat(101);
        let mut cells = vec!["Org"; 10];
        cells[9] = &long_city;
        let outcome = mapper.map_row(&row(7, &cells));
        assert!(outcome.organization.is_none());
        assert_eq!(outcome.issues.last().unwrap().column, "CITY");
        assert!(
            outcome
                .issues
                .last()
                .unwrap()
                .message
                .contains("at most 100")
        );
    }

    #[test]
    fn ragged_rows_and_odd_headers_keep_everything() {
        let headers: Vec<String> = ["Name", "", "Notes", "Notes", "Email"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let mut mapper = OrganizationMapper::new(&headers);
        let issues = mapper.columns().header_issues(1, &headers);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].column, "Notes (column D)");
        let outcome = mapper.map_row(&row(
            2,
            &["Org", "blank-headed", "n1", "n2", "bob@x", "extra"],
        ));
        let org = outcome.organization.unwrap();
        assert_eq!(org.notes.as_deref(), Some("n1"));
        assert_eq!(
            org.import_notes.as_deref(),
            Some(
                r#"{"Column B":"blank-headed","Notes (column D)":"n2","Email":"bob@x","Column F":"extra"}"#
            )
        );
        let messages: Vec<&str> = outcome.issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "The row has more cells than the header; 'extra' is kept in import notes",
                "Invalid email format: 'bob@x'"
            ]
        );
    }

    #[test]
    fn no_name_column_is_a_sheet_error() {
        let headers = vec!["City".to_owned(), "State".to_owned()];
        let mapper = OrganizationMapper::new(&headers);
        let issues = mapper.columns().header_issues(1, &headers);
        assert_eq!(issues[0].severity, Severity::Error);
        assert!(
            issues[0]
                .message
                .contains("No column holds the organization name")
        );
    }

    #[test]
    fn short_zip_codes_get_their_zeros_back() {
        let mut mapper = mapper();
        let mut cells = vec![""; 12];
        cells[0] = "Org";
        cells[11] = "7030";
        let outcome = mapper.map_row(&row(2, &cells));
        let org = outcome.organization.unwrap();
        assert_eq!(org.postal_code.as_deref(), Some("07030"));
        assert_eq!(org.import_notes.as_deref(), Some(r#"{"Zip Code":"7030"}"#));
    }

    #[test]
    fn nul_bytes_fail_the_row() {
        let mut mapper = mapper();
        let outcome = mapper.map_row(&row(9, &["Org\0"]));
        assert!(outcome.organization.is_none());
        assert!(outcome.issues[0].message.contains("NUL"));
    }
}
