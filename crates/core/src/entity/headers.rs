//! Which field a header names (SPEC.md, "Files from other systems"), in
//! this order: an alias (the spec's own, or a header another system's
//! export gives the field); the header with an export's decorations
//! removed (`Billing City`, `Organization - Name`, `State/Region`);
//! words of the same meaning (`Postal Code` is `Zip`, `Cell` is
//! `Mobile`). The decorations and the words are data, below.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{Entity, EntityDescription, FieldKind, header_key};

/// How a column came to its field, as `check --json` and the window say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    /// Its header is one of the field's aliases.
    Alias,
    /// Its header names the field once an export's decorations are removed,
    /// or in other words of the same meaning.
    Words,
    /// Its values (e-mail addresses, web addresses) show what it holds; its
    /// header says nothing known.
    Values,
    /// A saved mapping file says so.
    Mapping,
    /// The broker chose it in the window.
    Chosen,
}

impl How {
    /// A few words, for under a column's header.
    pub fn short(self) -> &'static str {
        match self {
            How::Alias => "known header",
            How::Words => "read from its words",
            How::Values => "from its values",
            How::Mapping => "saved mapping",
            How::Chosen => "your choice",
        }
    }

    /// In the broker's words, for the window.
    pub fn describe(self) -> &'static str {
        match self {
            How::Alias => "its header is one the CRM knows for this field",
            How::Words => "its header names this field in other words",
            How::Values => "its values show what it holds",
            How::Mapping => "the mapping file says so",
            How::Chosen => "you chose it",
        }
    }
}

/// A header's match: the field (an index into the description's fields),
/// how, and whether the column's values are to confirm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderMatch {
    /// The field.
    pub field: usize,
    /// How the header names it.
    pub how: How,
    /// Matched by the spec's own aliases: trusted whatever the values.
    /// Other matches (another system's header, other words) give way when
    /// the values say otherwise.
    pub trusted: bool,
}

/// Words exports put before a field's own words for an address: `Billing
/// City`, `Mailing Street`, `Address 1: City`.
const ADDRESS_PREFIXES: &[&[&str]] = &[
    &["billing"],
    &["shipping"],
    &["mailing"],
    &["bill"],
    &["ship"],
    &["address", "1"],
    &["primary", "address"],
];

/// Words a record's own entity puts before its fields in an export
/// (`Organization - Name` in Pipedrive's organizations, `Deal - Title`):
/// removed only on a sheet of that entity, since on another sheet they say
/// the column is about a linked record.
const ENTITY_PREFIXES: &[(Entity, &[&str])] = &[
    (Entity::Organizations, &["organization"]),
    (Entity::Organizations, &["organisation"]),
    (Entity::Contacts, &["person"]),
    (Entity::Contacts, &["contact"]),
    (Entity::Products, &["product"]),
    (Entity::Opportunities, &["deal"]),
    (Entity::Opportunities, &["opportunity"]),
    (Entity::Interactions, &["activity"]),
    (Entity::Interactions, &["task"]),
];

/// Words exports put after a field's own words: `State/Region`,
/// `Country/Region`, `Phone 1`, Pipedrive's `City of Address`.
const SUFFIXES: &[&[&str]] = &[&["region"], &["1"], &["of", "address"]];

/// Words that mark a number or code (`Phone #`, `SKU No.`), removed only
/// when what is left names a field that is not a name or a link (`Account
/// #` is no organization).
const NUMBER_MARKS: &[&str] = &["number", "no", "num", "nbr"];

/// Words of the same meaning, each phrase to one word (SPEC.md): Company,
/// Account, Customer, Operator; Zip, Postal Code; State, Region, Province;
/// Owner, Rep, Salesperson, Account Manager; Mobile, Cell; Domain, Website,
/// URL; Employees, Headcount.
const SYNONYMS: &[(&[&str], &str)] = &[
    (&["postal", "code"], "zip"),
    (&["zip", "code"], "zip"),
    (&["postcode"], "zip"),
    (&["web", "site"], "website"),
    (&["account", "manager"], "manager"),
    (&["sales", "rep"], "manager"),
    (&["salesperson"], "manager"),
    (&["owner"], "manager"),
    (&["rep"], "manager"),
    (&["cell", "phone"], "mobile"),
    (&["mobile", "phone"], "mobile"),
    (&["cell"], "mobile"),
    (&["company"], "organization"),
    (&["account"], "organization"),
    (&["customer"], "organization"),
    (&["operator"], "organization"),
    (&["organisation"], "organization"),
    (&["province"], "state"),
    (&["region"], "state"),
    (&["domain"], "website"),
    (&["url"], "website"),
    (&["homepage"], "website"),
    (&["headcount"], "employees"),
    (&["telephone"], "phone"),
    (&["tel"], "phone"),
    (&["e", "mail"], "email"),
];

/// Words that say a column holds money: a `$` beside them adds nothing.
const MONEY_WORDS: &[&str] = &["price", "cost", "amount", "value", "revenue"];

/// A header's words: lower-case letters and digits, `#` read as "number",
/// and `$` as "price" when no other word says money (`Case $` is a case
/// price; `Amount ($)` is an amount).
fn words_of(header: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut dollar = false;
    for c in header.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            match c {
                '#' => words.push("number".to_owned()),
                '$' => dollar = true,
                _ => {}
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if dollar && !words.iter().any(|w| MONEY_WORDS.contains(&w.as_str())) {
        words.push("price".to_owned());
    }
    words
}

/// `words` with each phrase of [`SYNONYMS`] replaced by its word, joined.
fn canonical(words: &[String]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut at = 0;
    'words: while at < words.len() {
        for (phrase, word) in SYNONYMS {
            let end = at + phrase.len();
            if end <= words.len() && words[at..end].iter().zip(*phrase).all(|(a, b)| a == b) {
                out.push(word);
                at = end;
                continue 'words;
            }
        }
        out.push(&words[at]);
        at += 1;
    }
    out.join(" ")
}

/// `words` without `prefix` at its start, if it is there and something is left.
fn without_prefix<'w>(words: &'w [String], prefix: &[&str]) -> Option<&'w [String]> {
    (words.len() > prefix.len() && words.iter().zip(prefix).all(|(a, b)| a == b))
        .then(|| &words[prefix.len()..])
}

/// `words` without `suffix` at its end, if it is there and something is left.
fn without_suffix<'w>(words: &'w [String], suffix: &[&str]) -> Option<&'w [String]> {
    let start = words.len().checked_sub(suffix.len())?;
    (start > 0 && words[start..].iter().zip(suffix).all(|(a, b)| a == b)).then(|| &words[..start])
}

/// One entity's headers, looked up by key: worked out once per entity.
struct HeaderTables {
    /// The spec's aliases, by [`header_key`].
    own: HashMap<String, usize>,
    /// Other systems' headers, by [`header_key`].
    exported: HashMap<String, usize>,
    /// Both, by their words of the same meaning ([`canonical`]).
    words: HashMap<String, usize>,
}

impl EntityDescription {
    fn header_tables(&self) -> &'static HeaderTables {
        static TABLES: [OnceLock<HeaderTables>; 5] = [const { OnceLock::new() }; 5];
        let slot = Entity::ALL
            .iter()
            .position(|e| *e == self.entity)
            .unwrap_or(0);
        TABLES[slot].get_or_init(|| {
            let mut tables = HeaderTables {
                own: HashMap::new(),
                exported: HashMap::new(),
                words: HashMap::new(),
            };
            for (index, field) in self.fields.iter().enumerate() {
                for alias in field.aliases {
                    tables.own.entry(header_key(alias)).or_insert(index);
                    tables
                        .words
                        .entry(canonical(&words_of(alias)))
                        .or_insert(index);
                }
            }
            for (column, headers) in self.exported_as {
                let Some(index) = self.field_index(column) else {
                    continue;
                };
                for header in *headers {
                    tables.exported.entry(header_key(header)).or_insert(index);
                    tables
                        .words
                        .entry(canonical(&words_of(header)))
                        .or_insert(index);
                }
            }
            tables
        })
    }

    /// How close `header` is to field `field`: its place among the field's
    /// own aliases, then among other systems' headers for it; past them all
    /// when it is neither (matched in other words).
    pub fn alias_rank(&self, field: usize, header: &str) -> usize {
        let key = header_key(header);
        let own = self.fields[field].aliases;
        let exported = self
            .exported_as
            .iter()
            .filter(|(column, _)| *column == self.fields[field].column)
            .flat_map(|(_, headers)| headers.iter());
        own.iter()
            .chain(exported)
            .position(|alias| header_key(alias) == key)
            .unwrap_or(usize::MAX)
    }

    /// The field `header` names, and how (see the module's order). `None`
    /// when it names none: the column goes to import notes, unless its
    /// values show what it holds.
    pub fn match_header(&self, header: &str) -> Option<HeaderMatch> {
        if let Some(found) = self.match_alias(header) {
            return Some(found);
        }
        let tables = self.header_tables();
        let words = words_of(header);
        let field = self
            .undecorated(&words)
            .into_iter()
            .chain(std::iter::once(words.as_slice()))
            .find_map(|candidate| self.field_of_words(tables, candidate))?;
        Some(HeaderMatch {
            field,
            how: How::Words,
            trusted: false,
        })
    }

    /// The field `header` names as an alias: the spec's own, or another
    /// system's header for it (the first step of [`Self::match_header`],
    /// enough for the columns of a machine-made sheet past the first 200).
    pub fn match_alias(&self, header: &str) -> Option<HeaderMatch> {
        let tables = self.header_tables();
        let key = header_key(header);
        if key.is_empty() {
            return None;
        }
        if let Some(&field) = tables.own.get(&key) {
            return Some(HeaderMatch {
                field,
                how: How::Alias,
                trusted: true,
            });
        }
        tables.exported.get(&key).map(|&field| HeaderMatch {
            field,
            how: How::Alias,
            trusted: false,
        })
    }

    /// The header's words with an export's decorations removed: each way
    /// of removing them, the most removed first.
    fn undecorated<'w>(&self, words: &'w [String]) -> Vec<&'w [String]> {
        let prefixes = ADDRESS_PREFIXES.iter().copied().chain(
            ENTITY_PREFIXES
                .iter()
                .filter(|(entity, _)| *entity == self.entity)
                .map(|(_, prefix)| *prefix),
        );
        let mut candidates = Vec::new();
        for prefix in prefixes {
            if let Some(rest) = without_prefix(words, prefix) {
                candidates.extend(SUFFIXES.iter().filter_map(|s| without_suffix(rest, s)));
                candidates.push(rest);
            }
        }
        candidates.extend(SUFFIXES.iter().filter_map(|s| without_suffix(words, s)));
        // Copper writes a custom field as `Buying Role cf_688412`.
        if let [rest @ .., cf, id] = words
            && !rest.is_empty()
            && cf == "cf"
            && id.bytes().all(|b| b.is_ascii_digit())
        {
            candidates.push(rest);
        }
        candidates
    }

    /// The field `words` name as they stand, in other words, or with a
    /// number mark removed (for a field that is no name or link).
    fn field_of_words(&self, tables: &HeaderTables, words: &[String]) -> Option<usize> {
        let key: String = words.concat();
        let direct = tables
            .own
            .get(&key)
            .or_else(|| tables.exported.get(&key))
            .or_else(|| tables.words.get(&canonical(words)))
            .copied();
        if direct.is_some() {
            return direct;
        }
        let rest = NUMBER_MARKS
            .iter()
            .find_map(|mark| without_suffix(words, &[mark]))?;
        let field = self.field_of_words(tables, rest)?;
        let spec = &self.fields[field];
        let names_a_record =
            spec.column == "name" || matches!(spec.kind, FieldKind::Link(_) | FieldKind::FullName);
        (!names_a_record).then_some(field)
    }

    /// The headers that name `field` (an index) only when no column of the
    /// sheet names it otherwise.
    pub fn if_missing_headers(&self, field: usize) -> &'static [&'static str] {
        let column = self.fields[field].column;
        self.if_missing
            .iter()
            .find(|(c, _)| *c == column)
            .map_or(&[], |(_, headers)| headers)
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn field(description: &EntityDescription, header: &str) -> Option<(&'static str, How)> {
        description
            .match_header(header)
            .map(|m| (description.fields[m.field].column, m.how))
    }

    #[test]
    fn an_export_header_is_an_alias_and_decorations_come_off() {
        assert_eq!(
            field(&ORGANIZATIONS, "Billing City"),
            Some(("city", How::Words))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "State/Region"),
            Some(("state_province", How::Words))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Organization - Name"),
            Some(("name", How::Alias))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Company owner"),
            Some(("primary_manager_name", How::Alias))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Address 1: ZIP/Postal Code"),
            Some(("postal_code", How::Words))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Country/Region"),
            Some(("country", How::Words))
        );
        assert_eq!(field(&ORGANIZATIONS, "Record ID"), None);
        assert_eq!(field(&ORGANIZATIONS, "Fax"), None);
        assert_eq!(field(&ORGANIZATIONS, "Account #"), None);
        // Another entity's fields stay apart: a contact's company is a link.
        assert_eq!(
            field(&CONTACTS, "Account Name"),
            Some(("organization_id", How::Alias))
        );
        assert_eq!(
            field(&CONTACTS, "Organization - Name"),
            Some(("organization_id", How::Alias))
        );
        assert_eq!(
            field(&CONTACTS, "Person - Email"),
            Some(("email", How::Words))
        );
        assert_eq!(
            field(&CONTACTS, "Cell #"),
            Some(("mobile_phone", How::Alias))
        );
        assert_eq!(
            field(&OPPORTUNITIES, "Deal - Title"),
            Some(("name", How::Alias))
        );
        assert_eq!(
            field(&OPPORTUNITIES, "Account Name"),
            Some(("organization_id", How::Alias))
        );
        assert_eq!(
            field(&INTERACTIONS, "Activity - Subject"),
            Some(("subject", How::Words))
        );
        assert_eq!(field(&PRODUCTS, "SKU #"), Some(("sku", How::Words)));
    }

    #[test]
    fn words_of_the_same_meaning_name_the_field() {
        assert_eq!(
            field(&ORGANIZATIONS, "Postal Code"),
            Some(("postal_code", How::Alias))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Customer Name"),
            Some(("name", How::Alias))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Operator Zip Code"),
            None,
            "unknown words stay unknown"
        );
        assert_eq!(
            field(&CONTACTS, "Cell Phone #"),
            Some(("mobile_phone", How::Words))
        );
        assert_eq!(
            field(&ORGANIZATIONS, "Web Site URL"),
            Some(("website", How::Alias))
        );
        // A dollar sign says price where nothing else says money.
        assert_eq!(field(&PRODUCTS, "Case $"), Some(("list_price", How::Words)));
        assert_eq!(field(&PRODUCTS, "Cost $"), Some(("unit_cost", How::Alias)));
        assert_eq!(
            field(&OPPORTUNITIES, "Amount ($)"),
            Some(("estimated_value", How::Alias))
        );
    }
}
