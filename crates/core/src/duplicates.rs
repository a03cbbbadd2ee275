//! Duplicates against the CRM (SPEC.md, "Duplicates against the CRM"): a
//! row that matches a live record by its entity's key
//! ([`crate::entity::MatchKey`]) is skipped, updates the record, or is
//! created anyway, as the import's [`DuplicatePolicy`] (or the broker's
//! choice for that row) says.
//!
//! Matching is done by the database, a batch at a time: the batch is copied
//! into a temporary staging table, each staged row probes the entity's
//! match-key index once, and the rows are then inserted or the records
//! updated from it, all in the batch's one transaction (which also holds
//! the entity's advisory lock, so two imports never both miss each other's
//! rows). Every statement is written here once per entity from its
//! description: the values only ever travel as COPY data or parameters.
//!
//! An update writes only the cells the file fills, merges import notes, and
//! keeps the record's whole row from before in `import_matches`, so undo can
//! put it back ([`crate::history::undo`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::entity::{EntityDescription, FieldKind, FieldSpec, MatchKey};

/// What a row that matches a record already in the CRM does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatePolicy {
    /// Leave the record as it is; the row is listed as skipped.
    #[default]
    Skip,
    /// Write the row's filled cells over the record's fields.
    Update,
    /// Store the row as a new record all the same.
    Create,
}

impl DuplicatePolicy {
    /// Every policy, the default first.
    pub const ALL: [DuplicatePolicy; 3] = [
        DuplicatePolicy::Skip,
        DuplicatePolicy::Update,
        DuplicatePolicy::Create,
    ];

    /// The word the command line and the history use.
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicatePolicy::Skip => "skip",
            DuplicatePolicy::Update => "update",
            DuplicatePolicy::Create => "create",
        }
    }

    /// What it does, in the broker's words.
    pub fn describe(self) -> &'static str {
        match self {
            DuplicatePolicy::Skip => "skip them (leave the CRM's record as it is)",
            DuplicatePolicy::Update => "update the CRM's record with the file's filled cells",
            DuplicatePolicy::Create => "create a new record anyway",
        }
    }
}

impl fmt::Display for DuplicatePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that names no policy.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a duplicate policy (use skip, update or create)")]
pub struct UnknownPolicy(pub String);

impl FromStr for DuplicatePolicy {
    type Err = UnknownPolicy;

    fn from_str(text: &str) -> Result<DuplicatePolicy, UnknownPolicy> {
        DuplicatePolicy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownPolicy(text.to_owned()))
    }
}

/// What became of a row that matched a record in the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchAction {
    /// Not stored; the record left as it was.
    Skipped,
    /// The record took the row's filled cells.
    Updated,
}

/// A row that matched a record already in the CRM, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedRow {
    /// Spreadsheet row number.
    pub row: u64,
    /// Skipped or updated.
    pub action: MatchAction,
    /// The CRM record it matched.
    pub record: uuid::Uuid,
    /// In words: "Matches 'Hoboken Provisions (Hoboken)' in the CRM; skipped".
    pub message: String,
}

/// The statements that load a batch through the staging table, for one
/// entity. Parameters: see each statement.
#[derive(Debug, Clone)]
pub(crate) struct StagedStatements {
    /// The entity's table.
    pub table: &'static str,
    /// Creates the staging table, dropped at commit.
    pub create_stage: String,
    /// COPY into the staging table.
    pub copy_stage: String,
    /// Matches every staged row; `$1` the import (its own rows never match).
    pub matched: String,
    /// What each matched row does: `$1` rows the broker decided for,
    /// `$2` their policies, `$3` the import's policy.
    pub decided: String,
    /// Inserts the rows that are new or created anyway.
    pub insert: String,
    /// Inserts every staged row, when nothing can match.
    pub insert_all: String,
    /// Locks the records about to be updated, before their rows from
    /// before are recorded: a change committed by someone else after that
    /// record and before the update would otherwise be written over unseen
    /// (and an undo would give back a row from before it).
    pub lock_updated: String,
    /// Records skipped and updated rows, with each updated record's row
    /// from before: `$1` the import.
    pub record_matches: String,
    /// Updates the records: `$1` the staged rows, `$2` which of their values
    /// the file gave.
    pub update: String,
    /// Marks as forbidden the updated rows whose record row-level security
    /// left as it was (not written by this transaction), and takes them
    /// out of the import's matches: `$1` the import.
    pub forbidden: String,
    /// Adds the batch to the import's counts: `$1` the import.
    pub counts: String,
    /// The matched rows, for the report: row, action, record, shown.
    pub report: String,
    /// What a scan shows of each matched row: row, the records as they
    /// show, the staged row and the first record as JSON.
    pub scan_report: String,
}

impl StagedStatements {
    /// The statements of `description`'s entity.
    pub fn new(description: &'static EntityDescription) -> StagedStatements {
        let table = description.table;
        let columns = description.copy_columns().join(", ");
        let matched = matched_statement(description);
        let stored: Vec<&FieldSpec> = description.stored_fields().collect();
        let assignments: Vec<String> = stored
            .iter()
            .enumerate()
            .map(|(bit, field)| {
                let column = field.column;
                // A blank cell never blanks a value, nor does a value the
                // rules left empty (an unknown name in a link column). A
                // key's text that differs only as the match ignores
                // ("Cafe Ole" for "Café Olé") keeps the CRM's spelling.
                let differs = match compared_as(description, column) {
                    Compared::Text => format!(
                        " AND pantry_match_key(s.{column}) IS DISTINCT FROM pantry_match_key(t.{column})"
                    ),
                    Compared::Email => format!(
                        " AND lower(btrim(s.{column})) IS DISTINCT FROM lower(btrim(t.{column}))"
                    ),
                    Compared::AsIs => String::new(),
                };
                let differs = if key_columns(description).contains(&column) {
                    differs
                } else {
                    String::new()
                };
                format!(
                    "{column} = CASE WHEN (g.given >> {bit}) & 1 = 1 AND s.{column} IS NOT NULL{differs} \
                     THEN s.{column} ELSE t.{column} END"
                )
            })
            .collect();
        StagedStatements {
            table,
            create_stage: format!(
                "CREATE TEMP TABLE pantry_stage ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"
            ),
            copy_stage: format!("COPY pantry_stage ({columns}) FROM STDIN (FORMAT binary)"),
            matched,
            decided: "CREATE TEMP TABLE pantry_decided ON COMMIT DROP AS \
                 SELECT m.source_row, m.ids, m.shown, CASE \
                 WHEN p.policy = 'create' THEN 'create' \
                 WHEN p.policy = 'skip' THEN 'skipped' \
                 WHEN cardinality(m.ids) > 1 THEN 'ambiguous' \
                 WHEN m.source_row > min(m.source_row) OVER (PARTITION BY m.ids[1]) THEN 'repeated' \
                 ELSE 'updated' END AS action \
                 FROM pantry_matched m \
                 LEFT JOIN unnest($1::int4[], $2::text[]) AS o(source_row, policy) ON o.source_row = m.source_row \
                 CROSS JOIN LATERAL (SELECT coalesce(o.policy, $3::text) AS policy) p"
            .to_owned(),
            insert: format!(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM pantry_stage s \
                 WHERE NOT EXISTS (SELECT 1 FROM pantry_decided d \
                 WHERE d.source_row = s.import_source_row AND d.action <> 'create')"
            ),
            insert_all: format!(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM pantry_stage"
            ),
            lock_updated: format!(
                "SELECT 1 FROM {table} t JOIN pantry_decided d ON t.id = d.ids[1] \
                 WHERE d.action = 'updated' ORDER BY t.id FOR UPDATE OF t"
            ),
            record_matches: format!(
                "INSERT INTO import_matches (import_batch_id, source_row, record_id, action, previous) \
                 SELECT $1, d.source_row, d.ids[1], \
                 CASE WHEN d.action = 'updated' THEN 'updated' ELSE 'skipped' END, \
                 CASE WHEN d.action = 'updated' THEN to_jsonb(t) END \
                 FROM pantry_decided d JOIN {table} t ON t.id = d.ids[1] \
                 WHERE d.action IN ('skipped', 'repeated', 'updated') \
                 AND EXISTS (SELECT 1 FROM pantry_decided WHERE action <> 'create')"
            ),
            update: format!(
                "UPDATE {table} t SET {}, \
                 import_notes = pantry_merge_notes(t.import_notes, s.import_notes), updated_at = now(), \
                 updated_by = coalesce(nullif(current_setting('pantry.acting_user', true), '')::uuid, t.updated_by) \
                 FROM pantry_stage s \
                 JOIN pantry_decided d ON d.source_row = s.import_source_row AND d.action = 'updated' \
                 JOIN unnest($1::int4[], $2::int8[]) AS g(source_row, given) ON g.source_row = s.import_source_row \
                 WHERE t.id = d.ids[1] \
                 AND EXISTS (SELECT 1 FROM pantry_decided WHERE action = 'updated')",
                assignments.join(", ")
            ),
            forbidden: format!(
                "WITH refused AS (UPDATE pantry_decided d SET action = 'forbidden' \
                 WHERE d.action = 'updated' AND NOT EXISTS (SELECT 1 FROM {table} t \
                 WHERE t.id = d.ids[1] AND t.xmin = pg_current_xact_id()::xid) RETURNING d.source_row) \
                 DELETE FROM import_matches m USING refused r \
                 WHERE m.import_batch_id = $1 AND m.source_row = r.source_row"
            ),
            counts: "UPDATE import_batches SET \
                 succeeded = succeeded + (SELECT count(*) FROM pantry_stage) \
                   - (SELECT count(*) FROM pantry_decided WHERE action <> 'create'), \
                 updated = updated + (SELECT count(*) FROM pantry_decided WHERE action = 'updated'), \
                 skipped = skipped + (SELECT count(*) FROM pantry_decided WHERE action IN ('skipped', 'repeated')), \
                 failed = failed + (SELECT count(*) FROM pantry_decided WHERE action IN ('ambiguous', 'forbidden')), \
                 heartbeat_at = now() \
                 WHERE id = $1"
                .to_owned(),
            report: "SELECT d.source_row, d.action, d.ids, d.shown[1:3] \
                 FROM pantry_decided d WHERE d.action <> 'create' ORDER BY d.source_row"
                .to_owned(),
            scan_report: format!(
                "SELECT m.source_row, m.shown[1:3], to_jsonb(s)::text, \
                 (SELECT to_jsonb(t) FROM {table} t WHERE t.id = m.ids[1])::text \
                 FROM pantry_matched m JOIN pantry_stage s ON s.import_source_row = m.source_row ORDER BY 1"
            ),
        }
    }
}

/// The SQL that makes a CRM record `t` the same as the staged row `s` by
/// `key`: text ignoring case, spaces and punctuation (the fields of one key
/// together, as the match-key indexes of migration V6 hold them), emails
/// ignoring case and surrounding spaces, other values as they are.
/// The statement that matches every staged row to the live records of
/// its key: one index probe per key that applies to the row (the first key
/// whose fields the row fills decides), with how each record shows taken
/// on the same probe. `$1` is the import, whose own rows never match.
fn matched_statement(description: &EntityDescription) -> String {
    let table = description.table;
    let keys = description.match_keys;
    let mut matched = String::from(
        "CREATE TEMP TABLE pantry_matched ON COMMIT DROP AS SELECT s.import_source_row AS source_row, ",
    );
    let ids: Vec<String> = (0..keys.len()).map(|k| format!("k{k}.ids")).collect();
    let shown_by_key: Vec<String> = (0..keys.len()).map(|k| format!("k{k}.shown")).collect();
    // How the records show is taken on the same index probe that finds
    // them, not looked up again for the report.
    matched.push_str(&format!(
        "coalesce({}) AS ids, coalesce({}) AS shown ",
        ids.join(", "),
        shown_by_key.join(", ")
    ));
    matched.push_str("FROM pantry_stage s ");
    for (index, key) in keys.iter().enumerate() {
        // An earlier key that applies to the row decides alone.
        let mut applies: Vec<String> = key
            .fields
            .iter()
            .map(|f| format!("s.{f} IS NOT NULL"))
            .collect();
        for earlier in &keys[..index] {
            let filled: Vec<String> = earlier
                .fields
                .iter()
                .map(|f| format!("s.{f} IS NOT NULL"))
                .collect();
            applies.push(format!("NOT ({})", filled.join(" AND ")));
        }
        matched.push_str(&format!(
            "LEFT JOIN LATERAL (SELECT array_agg(t.id ORDER BY t.created_at, t.id) AS ids, \
             array_agg(({}) ORDER BY t.created_at, t.id) AS shown \
             FROM {table} t WHERE {} AND t.deleted_at IS NULL \
             AND t.import_batch_id IS DISTINCT FROM $1 AND {}) k{index} ON true ",
            description.shown,
            applies.join(" AND "),
            key_condition(description, key),
        ));
    }
    matched.push_str(&format!("WHERE coalesce({}) IS NOT NULL", ids.join(", ")));

    matched
}

fn key_condition(description: &EntityDescription, key: &MatchKey) -> String {
    let required = |column: &str| {
        description
            .field_index(column)
            .is_some_and(|i| description.fields[i].required)
    };
    let mut parts = Vec::new();
    let text: Vec<&str> = key
        .fields
        .iter()
        .copied()
        .filter(|c| compared_as(description, c) == Compared::Text)
        .collect();
    if !text.is_empty() {
        let joined = |alias: &str| {
            text.iter()
                .map(|c| format!("{alias}.{c}"))
                .collect::<Vec<_>>()
                .join(" || ' ' || ")
        };
        parts.push(format!(
            "pantry_match_key({}) = pantry_match_key({})",
            joined("t"),
            joined("s")
        ));
    }
    for column in key.fields {
        match compared_as(description, column) {
            Compared::Text => {}
            Compared::Email => {
                parts.push(format!(
                    "lower(btrim(t.{column})) = lower(btrim(s.{column}))"
                ));
            }
            Compared::AsIs => parts.push(format!("t.{column} = s.{column}")),
        }
    }
    for column in key.within {
        // A required link is never empty: plain equality can use the index.
        if required(column) {
            parts.push(format!("t.{column} = s.{column}"));
        } else {
            parts.push(format!("t.{column} IS NOT DISTINCT FROM s.{column}"));
        }
    }
    if let Some(column) = key.unless_differ {
        parts.push(format!(
            "(coalesce(pantry_match_key(t.{column}), '') = '' \
             OR coalesce(pantry_match_key(s.{column}), '') = '' \
             OR pantry_match_key(t.{column}) = pantry_match_key(s.{column}))"
        ));
    }
    parts.join(" AND ")
}

/// Whether an update would write the file's value `file` over the record's
/// `crm` in `column` (both as text, the file's from a filled cell): the rule
/// of [`StagedStatements::update`], for showing before an import.
pub fn update_writes(description: &EntityDescription, column: &str, crm: &str, file: &str) -> bool {
    if file.is_empty() {
        return false;
    }
    if !key_columns(description).contains(&column) {
        return file != crm;
    }
    match compared_as(description, column) {
        Compared::Text => match_key(file) != match_key(crm),
        Compared::Email => file.trim().to_lowercase() != crm.trim().to_lowercase(),
        Compared::AsIs => file != crm,
    }
}

/// How a key compares a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compared {
    /// Ignoring case, accents, spaces and punctuation (`pantry_match_key`).
    Text,
    /// Ignoring case and surrounding spaces.
    Email,
    /// As stored (enums, dates, links).
    AsIs,
}

pub(crate) fn compared_as(description: &EntityDescription, column: &str) -> Compared {
    let kind = description
        .field_index(column)
        .map(|i| &description.fields[i].kind);
    match kind {
        Some(FieldKind::Text | FieldKind::FullName | FieldKind::Phone | FieldKind::PostalCode) => {
            Compared::Text
        }
        Some(FieldKind::Email) => Compared::Email,
        _ => Compared::AsIs,
    }
}

/// The columns any of the entity's match keys compares.
fn key_columns(description: &EntityDescription) -> Vec<&'static str> {
    description
        .match_keys
        .iter()
        .flat_map(|k| k.fields.iter().copied())
        .collect()
}

/// The message of a matched row: what it matched and what it did.
pub(crate) fn match_message(action: &str, shown: &[String], entity_name: &str) -> String {
    let first = shown.first().map_or("", String::as_str);
    match action {
        "updated" => format!("Matches '{first}' in the CRM; updated with this row's filled cells"),
        "repeated" => format!(
            "Matches '{first}' in the CRM, which an earlier row of this file updates; skipped"
        ),
        "ambiguous" => format!(
            "Matches {} {entity_name} in the CRM ({}); not updated, as it is not clear which",
            shown.len(),
            shown
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("Matches '{first}' in the CRM; skipped"),
    }
}

/// The key rows match records by, as the database's `pantry_match_key`
/// computes it: lower case, accents dropped, only letters and digits kept
/// ("Joe's Café, Inc." is "joescafeinc").
pub fn match_key(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    // Most names are ASCII: no accents to take apart.
    if text.is_ascii() {
        return text
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect();
    }
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ø' => 'o',
            'ł' => 'l',
            other => other,
        })
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Words brokers add to a name or leave out, which near-duplicates ignore.
const LEGAL_SUFFIXES: [&str; 14] = [
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "co",
    "company",
    "corp",
    "corporation",
    "plc",
    "lp",
    "llp",
    "gmbh",
    "the",
];

/// The key near-duplicates share: the match key of the name without a
/// leading "The" and a trailing legal suffix ("The Joes Rusty Spoon Inc."
/// and "Joe's Rusty Spoon" are both "joesrustyspoon").
pub fn near_key(text: &str) -> String {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(match_key)
        .filter(|w| !w.is_empty())
        .collect();
    let mut words: &[String] = &words;
    if words.len() > 1 && words[0] == "the" {
        words = &words[1..];
    }
    if words.len() > 1 && LEGAL_SUFFIXES.contains(&words[words.len() - 1].as_str()) {
        words = &words[..words.len() - 1];
    }
    words.concat()
}

/// How similar two near keys must be (normalised Damerau-Levenshtein) for
/// a typo to make a near-duplicate ("joesrustyspon" for "joesrustyspoon").
pub(crate) const NEAR_SIMILARITY: f64 = 0.9;

/// Blocks of more names than this are not compared name by name: a typo is
/// looked for only among the few names that begin alike.
pub(crate) const NEAR_BLOCK: usize = 64;

/// The CRM's live organizations, by the keys near-duplicates are found by,
/// so each file row is compared with a handful of names, never all of them
/// (SPEC.md: "computed without comparing every pair").
#[derive(Debug, Default)]
pub struct NearDuplicates {
    /// How each record shows, one after another.
    shown: String,
    ends: Vec<u32>,
    /// Record positions by the hash of their near key.
    by_near: HashMap<u64, Vec<u32>>,
    /// Every record's near key, one after another.
    near: String,
    near_ends: Vec<u32>,
    /// Record positions by the first characters of their near key, and by
    /// the last, for typos: one typo cannot fall in both ends of a name
    /// long enough to hold it.
    by_prefix: HashMap<String, Vec<u32>>,
    by_suffix: HashMap<String, Vec<u32>>,
    /// Hashes of the match keys: a row that matches exactly is a duplicate,
    /// not a near one.
    exact: HashSet<u64>,
    hasher: ahash::RandomState,
}

impl NearDuplicates {
    /// Reads the live organizations of the CRM (name, and how they show).
    pub async fn load(
        client: &tokio_postgres::Client,
    ) -> Result<NearDuplicates, tokio_postgres::Error> {
        use futures_util::StreamExt;
        let rows = client
            .query_typed_raw(
                &format!(
                    "SELECT name, {} FROM organizations WHERE deleted_at IS NULL",
                    crate::entity::ORGANIZATIONS.shown
                ),
                std::iter::empty::<(
                    &(dyn tokio_postgres::types::ToSql + Sync),
                    tokio_postgres::types::Type,
                )>(),
            )
            .await?;
        let mut rows = std::pin::pin!(rows);
        let mut index = NearDuplicates::default();
        while let Some(row) = rows.next().await {
            let row = row?;
            let name: String = row.try_get(0)?;
            let shown: Option<String> = row.try_get(1)?;
            let shown = shown.unwrap_or_else(|| name.clone());
            index.add(&name, &shown);
        }
        Ok(index)
    }

    fn add(&mut self, name: &str, shown: &str) {
        let position = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
        self.shown.push_str(shown);
        self.ends
            .push(u32::try_from(self.shown.len()).unwrap_or(u32::MAX));
        let near = near_key(name);
        self.near.push_str(&near);
        self.near_ends
            .push(u32::try_from(self.near.len()).unwrap_or(u32::MAX));
        if near.is_empty() {
            return;
        }
        self.exact.insert(self.hasher.hash_one(match_key(name)));
        self.by_near
            .entry(self.hasher.hash_one(&near))
            .or_default()
            .push(position);
        for block in [
            self.by_prefix.entry(near_prefix(&near)).or_default(),
            self.by_suffix.entry(near_suffix(&near)).or_default(),
        ] {
            if block.len() <= NEAR_BLOCK {
                block.push(position);
            }
        }
    }

    fn shown(&self, position: u32) -> &str {
        slice(&self.shown, &self.ends, position)
    }

    /// The warning for `record` when its name nearly duplicates a record in
    /// the CRM, on the column `label` (the sheet's name column).
    pub fn warning(
        &self,
        record: &crate::mapping::Record,
        label: &str,
    ) -> Option<crate::mapping::RowIssue> {
        let name = record.text("name")?;
        let candidate = self.candidate(&name)?;
        Some(crate::mapping::RowIssue::warning(
            record.sheet_row,
            label.to_owned(),
            format!(
                "'{}' looks like '{candidate}', already in the CRM: a near-duplicate, not the same organization (check before importing it as new)",
                crate::values::shorten(&name)
            ),
        ))
    }

    /// A record `name` nearly duplicates (and does not match exactly), as
    /// it shows: the same name but for a legal suffix, "The", punctuation,
    /// or a typo.
    pub fn candidate(&self, name: &str) -> Option<&str> {
        if self.exact.contains(&self.hasher.hash_one(match_key(name))) {
            return None;
        }
        let near = near_key(name);
        if near.is_empty() {
            return None;
        }
        if let Some(position) = self
            .by_near
            .get(&self.hasher.hash_one(&near))
            .and_then(|p| p.first())
        {
            return Some(self.shown(*position));
        }
        let blocks = [
            self.by_prefix.get(&near_prefix(&near)),
            self.by_suffix.get(&near_suffix(&near)),
        ];
        blocks
            .into_iter()
            .flatten()
            .filter(|block| block.len() <= NEAR_BLOCK)
            .flatten()
            .map(|position| {
                let other = slice(&self.near, &self.near_ends, *position);
                (
                    strsim::normalized_damerau_levenshtein(&near, other),
                    position,
                )
            })
            .filter(|(similarity, _)| *similarity >= NEAR_SIMILARITY)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, position)| self.shown(*position))
    }
}

/// Text `position` of texts kept one after another in `text`, ending at `ends`.
fn slice<'a>(text: &'a str, ends: &[u32], position: u32) -> &'a str {
    let end = ends.get(position as usize).copied().unwrap_or(0) as usize;
    let start = match position {
        0 => 0,
        p => ends.get(p as usize - 1).copied().unwrap_or(0) as usize,
    };
    text.get(start..end).unwrap_or_default()
}

/// The block a near key belongs to for typos: its first five characters.
pub(crate) fn near_prefix(near: &str) -> String {
    near.chars().take(5).collect()
}

/// The other block a near key belongs to: its last five characters.
pub(crate) fn near_suffix(near: &str) -> String {
    let count = near.chars().count();
    near.chars().skip(count.saturating_sub(5)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{CONTACTS, INTERACTIONS, ORGANIZATIONS, PRODUCTS};

    #[test]
    fn policies_read_and_say_themselves() {
        assert_eq!(
            "Update".parse::<DuplicatePolicy>().unwrap(),
            DuplicatePolicy::Update
        );
        assert_eq!(DuplicatePolicy::default(), DuplicatePolicy::Skip);
        assert!("merge".parse::<DuplicatePolicy>().is_err());
    }

    #[test]
    fn keys_become_conditions_the_match_indexes_serve() {
        assert_eq!(
            key_condition(&ORGANIZATIONS, &ORGANIZATIONS.match_keys[0]),
            "pantry_match_key(t.name) = pantry_match_key(s.name) AND \
             (coalesce(pantry_match_key(t.city), '') = '' \
             OR coalesce(pantry_match_key(s.city), '') = '' \
             OR pantry_match_key(t.city) = pantry_match_key(s.city))"
        );
        assert_eq!(
            key_condition(&CONTACTS, &CONTACTS.match_keys[0]),
            "lower(btrim(t.email)) = lower(btrim(s.email))"
        );
        assert_eq!(
            key_condition(&CONTACTS, &CONTACTS.match_keys[1]),
            "pantry_match_key(t.first_name || ' ' || t.last_name) = \
             pantry_match_key(s.first_name || ' ' || s.last_name) \
             AND t.organization_id IS NOT DISTINCT FROM s.organization_id"
        );
        assert_eq!(
            key_condition(&PRODUCTS, &PRODUCTS.match_keys[0]),
            "pantry_match_key(t.sku) = pantry_match_key(s.sku) AND t.principal_id = s.principal_id"
        );
        assert_eq!(
            key_condition(&INTERACTIONS, &INTERACTIONS.match_keys[0]),
            "pantry_match_key(t.subject) = pantry_match_key(s.subject) \
             AND t.interaction_date = s.interaction_date AND t.type = s.type \
             AND t.organization_id IS NOT DISTINCT FROM s.organization_id"
        );
    }

    #[test]
    fn near_duplicates_ignore_suffixes_punctuation_and_a_typo_but_not_an_exact_match() {
        assert_eq!(match_key("Joe's  Café, Inc."), "joescafeinc");
        assert_eq!(near_key("The Joes Rusty Spoon Inc."), "joesrustyspoon");
        assert_eq!(near_key("Joe's Rusty Spoon"), "joesrustyspoon");
        assert_eq!(near_key("Inc"), "inc");
        let mut index = NearDuplicates::default();
        index.add("Joe's Rusty Spoon", "Joe's Rusty Spoon (Austin)");
        index.add("Hoboken Provisions", "Hoboken Provisions (Hoboken)");
        assert_eq!(
            index.candidate("Joes Rusty Spoon Inc."),
            Some("Joe's Rusty Spoon (Austin)")
        );
        assert_eq!(
            index.candidate("Hoboken Provisons"),
            Some("Hoboken Provisions (Hoboken)")
        );
        // An exact match (case, accents, punctuation aside) is a duplicate.
        assert_eq!(index.candidate("JOES RUSTY SPOON"), None);
        assert_eq!(index.candidate("Sysco"), None);
        assert_eq!(index.candidate("Hoboken Pizza"), None);
        // A typo in the first characters is found by the end of the name.
        assert_eq!(
            index.candidate("Hobokn Provisions"),
            Some("Hoboken Provisions (Hoboken)")
        );
    }

    #[test]
    fn an_update_writes_what_the_staged_update_would() {
        // A key's text that differs only as matching ignores keeps the CRM's.
        assert!(!update_writes(
            &ORGANIZATIONS,
            "name",
            "Café Olé",
            "CAFE OLE"
        ));
        assert!(update_writes(
            &ORGANIZATIONS,
            "name",
            "Café Olé",
            "Café Olé Bistro"
        ));
        // Any other field is written when the file's value differs at all.
        assert!(update_writes(
            &ORGANIZATIONS,
            "phone",
            "(201) 555-0100",
            "201-555-0100"
        ));
        assert!(!update_writes(&ORGANIZATIONS, "priority", "B", "B"));
        assert!(!update_writes(
            &ORGANIZATIONS,
            "phone",
            "(201) 555-0100",
            ""
        ));
        assert!(!update_writes(
            &CONTACTS,
            "email",
            "jane@acme.com",
            " JANE@ACME.COM "
        ));
    }
}
