//! What a column's values say it holds (SPEC.md, "Values as evidence"):
//! e-mail addresses, phone numbers, web addresses, ZIP or postal codes,
//! states, dates, money, numbers, the values of one enumeration. A header
//! match another system's export or other words made is confirmed by them,
//! or gives way when they say otherwise; a column whose header says nothing
//! known is placed by them alone only when they are unmistakable (e-mail
//! and web addresses).

use crate::clean;
use crate::entity::{FieldKind, FieldSpec, ORGANIZATION_TYPES};
use crate::spreadsheet::SheetRow;
use crate::values::{self, DateOrder};

/// Data rows a sheet's columns are sampled from.
pub const SAMPLE_ROWS: usize = 200;

/// The fewest non-empty values that can say anything about a column.
const FEWEST: usize = 3;

/// A column's non-empty values among the first rows, per column.
#[derive(Debug, Clone, Default)]
pub struct ColumnSamples {
    columns: Vec<Vec<String>>,
}

impl ColumnSamples {
    /// The non-empty cells of each of `width` columns in `rows`.
    pub fn of<'r>(width: usize, rows: impl IntoIterator<Item = &'r SheetRow>) -> ColumnSamples {
        let mut columns = vec![Vec::new(); width];
        for row in rows {
            for (index, column) in columns.iter_mut().enumerate() {
                let cell = row.get(index).trim();
                if !cell.is_empty() {
                    column.push(cell.to_owned());
                }
            }
        }
        ColumnSamples { columns }
    }

    /// The values of column `index` (none when it was not sampled).
    pub fn column(&self, index: usize) -> &[String] {
        self.columns.get(index).map_or(&[], Vec::as_slice)
    }
}

/// What values of a kind are called in a notice: "e-mail addresses".
pub fn kind_words(field: &FieldSpec) -> &'static str {
    match &field.kind {
        FieldKind::Email => "e-mail addresses",
        FieldKind::Phone => "phone numbers",
        FieldKind::PostalCode => "ZIP or postal codes",
        FieldKind::Date | FieldKind::DateTime => "dates",
        FieldKind::Money(_) => "amounts of money",
        FieldKind::WholeNumber => "whole numbers",
        FieldKind::Probability => "percentages",
        FieldKind::ShelfLifeDays | FieldKind::DurationMinutes => "lengths of time",
        FieldKind::YesNo { .. } => "yes or no",
        FieldKind::Priority => "priorities A to D",
        FieldKind::OrganizationType => "organization types",
        FieldKind::Enum { enumeration, .. } => enumeration.name,
        _ if field.column == "state_province" => "states",
        _ if is_web_field(field) => "web addresses",
        _ => "values of that kind",
    }
}

/// Whether a field holds a web address.
fn is_web_field(field: &FieldSpec) -> bool {
    matches!(field.column, "website" | "linkedin_url")
}

/// Whether `cell` is a value `field` takes, when its kind can tell;
/// `None` for free text, names and links.
fn fits(field: &FieldSpec, cell: &str) -> Option<bool> {
    Some(match &field.kind {
        FieldKind::Email => values::looks_like_email(cell),
        FieldKind::Phone => values::looks_like_phone(cell) && !values::looks_like_email(cell),
        FieldKind::PostalCode => looks_like_postal_code(cell),
        FieldKind::Date => {
            values::date(cell, DateOrder::MonthFirst).is_ok()
                || values::date(cell, DateOrder::DayFirst).is_ok()
        }
        FieldKind::DateTime => {
            values::date_time(cell, DateOrder::MonthFirst).is_ok()
                || values::date_time(cell, DateOrder::DayFirst).is_ok()
        }
        FieldKind::Money(digits) => values::money(cell, *digits).is_ok(),
        FieldKind::WholeNumber => values::whole_number(cell).is_ok(),
        FieldKind::Probability => values::probability(cell).is_ok(),
        FieldKind::ShelfLifeDays => values::shelf_life_days(cell).is_ok(),
        FieldKind::DurationMinutes => values::duration_minutes(cell).is_ok(),
        FieldKind::YesNo { .. } => values::yes_no(cell).is_some(),
        FieldKind::Priority => {
            let upper = cell.trim().to_uppercase();
            matches!(upper.trim_end_matches(['+', '-']), "A" | "B" | "C" | "D")
        }
        FieldKind::OrganizationType => ORGANIZATION_TYPES.find(cell).is_some(),
        FieldKind::Enum { enumeration, .. } => enumeration.find(cell).is_some(),
        _ if field.column == "state_province" => clean::state_code(cell).is_some(),
        _ if is_web_field(field) => looks_like_web_address(cell),
        _ => return None,
    })
}

/// The share of `samples` that `field` takes, when its kind can tell and
/// there are enough of them.
pub fn share(field: &FieldSpec, samples: &[String]) -> Option<f64> {
    if samples.len() < FEWEST {
        return None;
    }
    let mut fitting = 0usize;
    for cell in samples {
        if fits(field, cell)? {
            fitting += 1;
        }
    }
    Some(fitting as f64 / samples.len() as f64)
}

/// Whether the values of a column matched to `field` by another system's
/// header say it holds something else.
pub fn contradicts(field: &FieldSpec, samples: &[String]) -> bool {
    share(field, samples).is_some_and(|share| share < 0.5)
}

/// Whether the values of a column matched to `field` only in other words
/// confirm it: at least half of them are values it takes (`None`: its kind
/// cannot tell). A column with no values cannot confirm anything.
pub fn confirms(field: &FieldSpec, samples: &[String]) -> Option<bool> {
    fits(field, "")?;
    let fitting = samples
        .iter()
        .filter(|cell| fits(field, cell) == Some(true))
        .count();
    Some(!samples.is_empty() && fitting * 2 >= samples.len())
}

/// A first value of `samples` that `field` does not take, for a notice.
pub fn odd_example<'s>(field: &FieldSpec, samples: &'s [String]) -> Option<&'s str> {
    samples
        .iter()
        .find(|cell| fits(field, cell) == Some(false))
        .map(String::as_str)
}

/// What the values of a column whose header names nothing known
/// unmistakably are: e-mail addresses, or web addresses.
pub fn unmistakable(samples: &[String]) -> Option<Unmistakable> {
    if samples.len() < FEWEST {
        return None;
    }
    let all = |test: fn(&str) -> bool| {
        samples.iter().filter(|c| test(c)).count() * 10 >= samples.len() * 9
    };
    if all(values::looks_like_email) {
        Some(Unmistakable::Emails)
    } else if all(looks_like_web_address) {
        Some(Unmistakable::WebAddresses)
    } else if all(|c| {
        values::looks_like_phone(c) && c.chars().filter(char::is_ascii_digit).count() >= 7
    }) {
        Some(Unmistakable::Phones)
    } else {
        None
    }
}

/// What a column's values are, beyond doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmistakable {
    /// E-mail addresses: the entity's e-mail field takes them.
    Emails,
    /// Web addresses: the entity's website takes them.
    WebAddresses,
    /// Phone numbers: which phone field is not for the values to say.
    Phones,
}

/// A US ZIP code (`60601`, `60601-1234`, or one that lost its leading
/// zeros), or a Canadian postal code (`M5V 2T6`).
fn looks_like_postal_code(cell: &str) -> bool {
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    match cell.split_once('-') {
        Some((zip, plus)) => digits(zip, 5..=5) && digits(plus, 4..=4),
        None if digits(cell, 3..=5) => true,
        None => {
            let compact: Vec<char> = cell.chars().filter(|c| !c.is_whitespace()).collect();
            compact.len() == 6
                && compact.iter().enumerate().all(|(i, c)| {
                    if i % 2 == 0 {
                        c.is_ascii_alphabetic()
                    } else {
                        c.is_ascii_digit()
                    }
                })
        }
    }
}

/// A web address or a bare domain: `https://…`, `www.…`, `acme.com`.
fn looks_like_web_address(cell: &str) -> bool {
    let lower = cell.trim().to_ascii_lowercase();
    if lower.contains(char::is_whitespace) || lower.contains('@') {
        return false;
    }
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("www.") {
        return true;
    }
    let host = lower.split('/').next().unwrap_or_default();
    match host.rsplit_once('.') {
        Some((name, top)) => {
            !name.is_empty()
                // `.com` to `.restaurant` and longer: top-level domains
                // reach 24 letters.
                && (2..=24).contains(&top.len())
                && top.chars().all(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::ORGANIZATIONS;

    fn values(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn values_confirm_or_contradict_a_field() {
        let field =
            |column: &str| &ORGANIZATIONS.fields[ORGANIZATIONS.field_index(column).unwrap()];
        let states = values(&["IL", "Indiana", "wi", "New York"]);
        let regions = values(&["Midwest", "Northeast", "South", "IL"]);
        assert!(!contradicts(field("state_province"), &states));
        assert!(contradicts(field("state_province"), &regions));
        let zips = values(&["60601", "07030", "1234", "60601-1234", "M5V 2T6"]);
        assert_eq!(share(field("postal_code"), &zips), Some(1.0));
        assert!(contradicts(
            field("postal_code"),
            &values(&["Chicago", "Boston", "Austin"])
        ));
        // Free text says nothing; too few values say nothing.
        assert_eq!(share(field("city"), &zips), None);
        assert_eq!(share(field("postal_code"), &values(&["x", "y"])), None);
    }

    #[test]
    fn only_unmistakable_values_place_a_column_alone() {
        assert_eq!(
            unmistakable(&values(&["a@b.com", "c@d.org", "e@f.net"])),
            Some(Unmistakable::Emails)
        );
        assert_eq!(
            unmistakable(&values(&["acme.com", "https://www.b.org/x", "www.c.net"])),
            Some(Unmistakable::WebAddresses)
        );
        assert_eq!(
            unmistakable(&values(&[
                "(312) 555-0100",
                "312.555.0101",
                "+1 312 555 0102"
            ])),
            Some(Unmistakable::Phones)
        );
        assert_eq!(
            unmistakable(&values(&["Chicago", "Boston", "a@b.com"])),
            None
        );
        assert_eq!(unmistakable(&values(&["60601", "07030", "02134"])), None);
    }
}
