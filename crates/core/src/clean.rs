//! Clean-up suggestions (SPEC.md, "Real spreadsheets"; the seed's
//! pre-migration checklist): state names to their two-letter code, phone
//! numbers to one format, emails trimmed and lower-cased, repeated inner
//! spaces collapsed. Nothing is changed unless the broker applies a kind;
//! the original of every changed cell then goes to `import_notes`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::entity::{FieldKind, FieldSpec};

/// One kind of clean-up, applied to a whole file at once.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CleanUp {
    /// `Illinois` → `IL` (US states, DC and territories, Canadian provinces).
    States,
    /// `312.555.0100` → `(312) 555-0100`; numbers outside North America in
    /// international format (`+44 20 7946 0958`).
    Phones,
    /// ` Mary@CafeOle.COM ` → `mary@cafeole.com`.
    Emails,
    /// `Hoboken   Provisions` → `Hoboken Provisions`.
    Spaces,
}

impl CleanUp {
    /// Every kind, in the order the window lists them.
    pub const ALL: [CleanUp; 4] = [
        CleanUp::States,
        CleanUp::Phones,
        CleanUp::Emails,
        CleanUp::Spaces,
    ];

    /// The name `--clean` takes.
    pub fn name(self) -> &'static str {
        match self {
            CleanUp::States => "states",
            CleanUp::Phones => "phones",
            CleanUp::Emails => "emails",
            CleanUp::Spaces => "spaces",
        }
    }

    /// What it does, in the broker's words.
    pub fn describe(self) -> &'static str {
        match self {
            CleanUp::States => "State names to their two-letter code",
            CleanUp::Phones => "Phone numbers to one format",
            CleanUp::Emails => "Emails trimmed and lower-cased",
            CleanUp::Spaces => "Repeated spaces inside text collapsed",
        }
    }

    /// What applying it would do to a file, as a suggestion:
    /// "3 phone numbers could take one format ('312.555.0100' →
    /// '(312) 555-0100'); apply with --clean phones".
    pub fn suggestion(self, count: &CleanUpCount) -> String {
        let what = match self {
            CleanUp::States => "state names could become their two-letter code",
            CleanUp::Phones => "phone numbers could take one format",
            CleanUp::Emails => "emails could be trimmed and lower-cased",
            CleanUp::Spaces => "cells have repeated spaces to collapse",
        };
        format!(
            "Clean-up: {} {what} ({}); apply with --clean {}",
            count.cells,
            examples_text(&count.examples, 2),
            self.name()
        )
    }

    /// Whether it looks at `field`'s cells.
    pub fn applies_to(self, field: &FieldSpec) -> bool {
        match self {
            CleanUp::States => field.column == "state_province",
            CleanUp::Phones => matches!(field.kind, FieldKind::Phone),
            CleanUp::Emails => matches!(field.kind, FieldKind::Email),
            CleanUp::Spaces => {
                matches!(field.kind, FieldKind::Text) && field.column != "state_province"
            }
        }
    }

    /// The cleaned text of a (trimmed) cell, when it differs.
    pub fn apply(self, cell: &str) -> Option<String> {
        // Each kind first looks whether there is anything to do: the
        // preview asks of every cell of a file, most of them fine.
        let cleaned = match self {
            CleanUp::States => {
                let code = cell.len() == 2 && cell.bytes().all(|b| b.is_ascii_uppercase());
                (!code)
                    .then(|| state_code(cell))
                    .flatten()
                    .map(str::to_owned)
            }
            CleanUp::Phones => phone_format(cell),
            CleanUp::Emails => (cell.trim() != cell || cell.chars().any(char::is_uppercase))
                .then(|| cell.trim().to_lowercase()),
            // Line by line: a line break in a cell is kept.
            CleanUp::Spaces => has_odd_spaces(cell).then(|| {
                cell.split('\n')
                    .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
        }?;
        (cleaned != cell).then_some(cleaned)
    }
}

impl fmt::Display for CleanUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first `most` of a clean-up's examples in words:
/// `'Illinois' → 'IL', 'Wisconsin' → 'WI'`.
pub fn examples_text(examples: &[(String, String)], most: usize) -> String {
    examples
        .iter()
        .take(most)
        .map(|(before, after)| format!("'{before}' → '{after}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `cell` of `field` as the applied `kinds` leave it, when they change it:
/// what the import stores, for showing beside the file's text.
pub fn cleaned(kinds: &BTreeSet<CleanUp>, field: &FieldSpec, cell: &str) -> Option<String> {
    let trimmed = cell.trim();
    let mut current: Option<String> = None;
    for kind in CleanUp::ALL {
        if !kinds.contains(&kind) || !kind.applies_to(field) {
            continue;
        }
        if let Some(after) = kind.apply(current.as_deref().unwrap_or(trimmed)) {
            current = Some(after);
        }
    }
    current
}

/// A `--clean` name that is not a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown clean-up '{0}': use states, phones, emails or spaces")]
pub struct UnknownCleanUp(pub String);

impl FromStr for CleanUp {
    type Err = UnknownCleanUp;

    fn from_str(text: &str) -> Result<CleanUp, UnknownCleanUp> {
        CleanUp::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownCleanUp(text.trim().to_owned()))
    }
}

/// Reads `states,phones` (as `--clean` takes it) into kinds.
pub fn parse_list(text: &str) -> Result<BTreeSet<CleanUp>, UnknownCleanUp> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// US states, DC and territories, and Canadian provinces and territories:
/// `(code, name)`.
const STATES: [(&str, &str); 69] = [
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("DC", "District of Columbia"),
    ("PR", "Puerto Rico"),
    ("GU", "Guam"),
    ("VI", "U.S. Virgin Islands"),
    ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"),
    ("AB", "Alberta"),
    ("BC", "British Columbia"),
    ("MB", "Manitoba"),
    ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"),
    ("NS", "Nova Scotia"),
    ("NT", "Northwest Territories"),
    ("NU", "Nunavut"),
    ("ON", "Ontario"),
    ("PE", "Prince Edward Island"),
    ("QC", "Quebec"),
    ("SK", "Saskatchewan"),
    ("YT", "Yukon"),
];

/// Other ways a state is commonly written, by [`state_key`].
const STATE_ALIASES: [(&str, &str); 6] = [
    ("washingtondc", "DC"),
    ("virginislands", "VI"),
    ("usvirginislands", "VI"),
    ("québec", "QC"),
    ("newfoundland", "NL"),
    ("yukonterritory", "YT"),
];

/// Whether `cell` has spaces to collapse: two in a row, a tab, or spaces
/// at the ends of a line (line breaks themselves stay).
fn has_odd_spaces(cell: &str) -> bool {
    cell.split('\n').any(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut previous_space = true;
        for c in line.chars() {
            let space = c.is_whitespace();
            if space && (previous_space || c != ' ') {
                return true;
            }
            previous_space = space;
        }
        previous_space && !line.is_empty()
    })
}

/// State names and codes by [`state_key`], made once.
static STATE_KEYS: std::sync::LazyLock<std::collections::HashMap<String, &'static str>> =
    std::sync::LazyLock::new(|| {
        let mut keys = std::collections::HashMap::new();
        for (code, name) in STATES {
            keys.insert(state_key(name), code);
            keys.insert(state_key(code), code);
        }
        for (alias, code) in STATE_ALIASES {
            keys.insert(alias.to_owned(), code);
        }
        keys
    });

/// A state's name ignoring case, spaces and punctuation.
fn state_key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The two-letter code `cell` names: a full name (`Illinois`, `new york`,
/// `Washington, D.C.`) or a code in another case (`il`).
pub fn state_code(cell: &str) -> Option<&'static str> {
    STATE_KEYS.get(&state_key(cell)).copied()
}

/// A phone number in one format: North American numbers as
/// `(312) 555-0100` (with ` ext. 12` when there is one), others in
/// international format; `None` when it is written so already, or is not a
/// phone number the `phonenumber` crate (Google's libphonenumber data)
/// finds valid.
pub fn phone_format(cell: &str) -> Option<String> {
    // Already `(312) 555-0100`: nothing to parse (the slow part).
    if written_nationally(cell) {
        return None;
    }
    let number = phonenumber::parse(Some(phonenumber::country::Id::US), cell).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    let mode = if number.code().value() == 1 {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    Some(number.format().mode(mode).to_string())
}

/// Whether `cell` is a phone number the `phonenumber` crate (Google's
/// libphonenumber data) finds valid, read as a US number unless it says
/// otherwise. A number written as `(312) 555-0100` is checked by the North
/// American plan's rule (area code and exchange not starting with 0 or 1)
/// without parsing: an audit asks this of every phone in the CRM.
pub fn phone_is_valid(cell: &str) -> bool {
    if written_nationally(cell) {
        let bytes = cell.as_bytes();
        return bytes[1] >= b'2' && bytes[6] >= b'2';
    }
    let digits = cell.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=17).contains(&digits) {
        return false;
    }
    phonenumber::parse(Some(phonenumber::country::Id::US), cell)
        .is_ok_and(|number| phonenumber::is_valid(&number))
}

/// Whether `cell` is a North American number as this clean-up writes it.
fn written_nationally(cell: &str) -> bool {
    let bytes = cell.as_bytes();
    bytes.len() == 14
        && bytes[0] == b'('
        && bytes[4] == b')'
        && bytes[5] == b' '
        && bytes[9] == b'-'
        && [1, 2, 3, 6, 7, 8, 10, 11, 12, 13]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit())
}

/// What each kind would change in a file, counted as it is read: cells,
/// and a few before/after examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanUpTally {
    /// By kind.
    pub kinds: BTreeMap<CleanUp, CleanUpCount>,
}

/// One kind's count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanUpCount {
    /// Cells it would change.
    pub cells: u64,
    /// Up to [`CleanUpTally::EXAMPLES`] distinct `(before, after)`.
    pub examples: Vec<(String, String)>,
}

impl CleanUpTally {
    /// Examples kept per kind.
    pub const EXAMPLES: usize = 4;

    /// Counts one cell `kind` would change from `before` to `after`.
    pub fn add(&mut self, kind: CleanUp, before: &str, after: &str) {
        let count = self.kinds.entry(kind).or_default();
        count.cells += 1;
        if count.examples.len() < CleanUpTally::EXAMPLES
            && !count.examples.iter().any(|(b, _)| b == before)
        {
            count.examples.push((before.to_owned(), after.to_owned()));
        }
    }

    /// Whether no kind would change anything.
    pub fn is_empty(&self) -> bool {
        self.kinds.values().all(|count| count.cells == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_become_codes() {
        assert_eq!(CleanUp::States.apply("Illinois").as_deref(), Some("IL"));
        let description = crate::entity::Entity::Organizations.description();
        let state = &description.fields[description.field_index("state_province").unwrap()];
        let kinds: BTreeSet<CleanUp> = [CleanUp::States, CleanUp::Phones].into();
        assert_eq!(cleaned(&kinds, state, " Wisconsin ").as_deref(), Some("WI"));
        assert_eq!(cleaned(&kinds, state, "WI"), None, "unchanged");
        assert_eq!(cleaned(&BTreeSet::new(), state, "Wisconsin"), None);
        assert_eq!(CleanUp::States.apply("new york").as_deref(), Some("NY"));
        assert_eq!(CleanUp::States.apply("il").as_deref(), Some("IL"));
        assert_eq!(
            CleanUp::States.apply("Washington, D.C.").as_deref(),
            Some("DC")
        );
        assert_eq!(CleanUp::States.apply("Québec").as_deref(), Some("QC"));
        assert_eq!(CleanUp::States.apply("IL"), None, "already a code");
        assert_eq!(CleanUp::States.apply("Bavaria"), None, "not known: left");
    }

    #[test]
    fn phone_numbers_take_one_format() {
        for written in [
            "312.555.0100",
            "312-555-0100",
            "(312)555-0100",
            "+1 312 555 0100",
            "1-312-555-0100",
        ] {
            assert_eq!(
                CleanUp::Phones.apply(written).as_deref(),
                Some("(312) 555-0100"),
                "{written}"
            );
        }
        assert_eq!(CleanUp::Phones.apply("(312) 555-0100"), None);
        assert_eq!(
            CleanUp::Phones.apply("+44 20 7946 0958").as_deref(),
            None,
            "already international"
        );
        assert_eq!(
            CleanUp::Phones.apply("+442079460958").as_deref(),
            Some("+44 20 7946 0958")
        );
        assert_eq!(CleanUp::Phones.apply("call me"), None);
        assert_eq!(CleanUp::Phones.apply("555 0142"), None, "too short to know");
    }

    #[test]
    fn emails_and_spaces() {
        assert_eq!(
            CleanUp::Emails.apply("Mary@CafeOle.COM").as_deref(),
            Some("mary@cafeole.com")
        );
        assert_eq!(CleanUp::Emails.apply("mary@cafeole.com"), None);
        assert_eq!(
            CleanUp::Spaces.apply("Hoboken   Provisions").as_deref(),
            Some("Hoboken Provisions")
        );
        assert_eq!(CleanUp::Spaces.apply("Hoboken Provisions"), None);
        assert_eq!(
            CleanUp::Spaces.apply("Hoboken\tProvisions").as_deref(),
            Some("Hoboken Provisions")
        );
        assert_eq!(
            CleanUp::Spaces.apply("Call before\nnoon"),
            None,
            "a line break stays"
        );
        assert_eq!(
            CleanUp::Spaces.apply("Call  before\nnoon").as_deref(),
            Some("Call before\nnoon")
        );
        assert_eq!(
            CleanUp::Emails.apply(" mary@cafeole.com").as_deref(),
            Some("mary@cafeole.com")
        );
    }

    #[test]
    fn the_list_reads_as_the_command_line_writes_it() {
        assert_eq!(
            parse_list("states, Phones").unwrap(),
            BTreeSet::from([CleanUp::States, CleanUp::Phones])
        );
        assert!(parse_list("").unwrap().is_empty());
        assert_eq!(
            parse_list("states,zip").unwrap_err().to_string(),
            "unknown clean-up 'zip': use states, phones, emails or spaces"
        );
    }

    #[test]
    fn a_tally_counts_cells_and_keeps_a_few_examples() {
        let mut tally = CleanUpTally::default();
        for state in ["Illinois", "Illinois", "Texas", "Ohio", "Iowa", "Utah"] {
            tally.add(CleanUp::States, state, "XX");
        }
        let states = &tally.kinds[&CleanUp::States];
        assert_eq!(states.cells, 6);
        assert_eq!(states.examples.len(), CleanUpTally::EXAMPLES);
        assert_eq!(states.examples[1].0, "Texas", "distinct examples");
    }
}
