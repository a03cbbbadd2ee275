//! The health of what the CRM already holds (SPEC.md, "Data quality in the
//! CRM"): per entity a score (the share of live records with no finding),
//! findings by kind with counts and examples, duplicate groups, the
//! post-migration checklist's distributions, and the clean-ups that would
//! apply. Read-only; [`crate::fixes`] changes records, reversibly.
//!
//! Each entity is read in one streaming pass. The checks are the import's
//! own ([`crate::values::looks_like_email`], [`crate::clean`]), the match
//! keys are the database's `pantry_match_key`, so the audit flags what an
//! import would, and its duplicate groups are what an import would match.
//! Memory holds a few numbers per record (positions, key hashes, the names'
//! near keys) and capped examples, never the records' text.

mod groups;
pub mod out;
mod pass;

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::clean::CleanUp;
use crate::entity::Entity;

/// Examples kept per finding kind.
pub const EXAMPLES: usize = 5;

/// Duplicate groups kept per entity with their records' values, for
/// showing side by side; every group is counted, and written by
/// [`audit`]'s sink.
pub const GROUPS_KEPT: usize = 200;

/// What the audit found, entity by entity.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// When it looked, `YYYY-MM-DD HH:MM` in the server's time zone.
    pub checked_at: String,
    /// The same instant, exact, as PostgreSQL writes a `timestamptz`: a
    /// merge chosen from this audit is refused for a record changed after
    /// it ([`crate::fixes::MergeRequest::unchanged_since`]).
    pub as_of: String,
    /// Each entity audited.
    pub entities: Vec<EntityAudit>,
}

/// One entity's health.
#[derive(Debug, Clone, Serialize)]
pub struct EntityAudit {
    /// Which entity.
    pub entity: Entity,
    /// Live records.
    pub records: u64,
    /// Live records with at least one finding.
    pub with_findings: u64,
    /// 0-100: the share of live records with no finding (100 when empty).
    pub score: u8,
    /// Findings, by kind, in [`FindingKind::ALL`]'s order; kinds with none
    /// are left out.
    pub findings: Vec<Finding>,
    /// The first [`GROUPS_KEPT`] duplicate groups, exact ones first.
    pub groups: Vec<DuplicateGroup>,
    /// The labels of [`GroupMember::values`], in the entity's field order.
    pub group_fields: Vec<String>,
    /// Stored values by column (the checklist's priority, state, segment,
    /// manager...), most frequent first, at most [`DISTRIBUTION_VALUES`].
    pub distributions: Vec<crate::verify::Distribution>,
    /// Clean-ups that would change stored values (`audit --fix clean-ups`).
    pub clean_ups: Vec<CleanUpFinding>,
}

/// Values kept per distribution; the rest are summed as `(other)`.
pub const DISTRIBUTION_VALUES: usize = 30;

/// One kind of problem a record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Records of one match key: the same record entered twice.
    Duplicates,
    /// The same name but for a legal suffix, "The", punctuation or a typo.
    NearDuplicates,
    /// An e-mail address that is not one.
    InvalidEmails,
    /// A phone that is not a valid number.
    InvalidPhones,
    /// A state or province that is none of the US's or Canada's.
    UnknownStates,
    /// Empty fields a broker relies on.
    MissingFields,
    /// A link to a record that was deleted.
    LinksToDeleted,
    /// A manager name that is no CRM user's.
    ManagersWithoutUser,
}

impl FindingKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [FindingKind; 8] = [
        FindingKind::Duplicates,
        FindingKind::NearDuplicates,
        FindingKind::InvalidEmails,
        FindingKind::InvalidPhones,
        FindingKind::UnknownStates,
        FindingKind::MissingFields,
        FindingKind::LinksToDeleted,
        FindingKind::ManagersWithoutUser,
    ];

    /// The name JSON and the findings file use.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Duplicates => "duplicates",
            FindingKind::NearDuplicates => "near-duplicates",
            FindingKind::InvalidEmails => "invalid-emails",
            FindingKind::InvalidPhones => "invalid-phones",
            FindingKind::UnknownStates => "unknown-states",
            FindingKind::MissingFields => "missing-fields",
            FindingKind::LinksToDeleted => "links-to-deleted",
            FindingKind::ManagersWithoutUser => "managers-without-user",
        }
    }

    /// What it is, in the broker's words.
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::Duplicates => "Duplicates (same match key)",
            FindingKind::NearDuplicates => "Near-duplicates (similar names)",
            FindingKind::InvalidEmails => "Invalid e-mail addresses",
            FindingKind::InvalidPhones => "Phones that are not valid numbers",
            FindingKind::UnknownStates => "Unknown states",
            FindingKind::MissingFields => "Empty fields brokers rely on",
            FindingKind::LinksToDeleted => "Links to deleted records",
            FindingKind::ManagersWithoutUser => "Manager names with no CRM user",
        }
    }

    fn index(self) -> usize {
        FindingKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default()
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One kind's findings in one entity.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The kind.
    pub kind: FindingKind,
    /// Records it concerns.
    pub records: u64,
    /// The first few, as they show.
    pub examples: Vec<FindingExample>,
}

/// A record a finding concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingExample {
    /// Its id.
    pub record_id: Uuid,
    /// How it shows (a name, a person's name...).
    pub shown: String,
    /// What is wrong: "e-mail 'mary@'", "no city, no phone".
    pub detail: String,
}

/// Every record a finding concerns, as the audit's sink receives it (what
/// `audit --out` writes, one line each).
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow<'a> {
    /// The entity.
    pub entity: Entity,
    /// The kind.
    pub kind: FindingKind,
    /// The record.
    pub record_id: Uuid,
    /// How it shows.
    pub shown: &'a str,
    /// What is wrong.
    pub detail: &'a str,
    /// For duplicates, the group's number within the entity (from 1).
    pub group: Option<u32>,
}

/// Records that are probably one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateGroup {
    /// Found by similar names, not by the match key.
    pub near: bool,
    /// Its records, oldest first.
    pub members: Vec<GroupMember>,
}

/// One record of a duplicate group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMember {
    /// Its id.
    pub id: Uuid,
    /// How it shows.
    pub shown: String,
    /// When it was last changed, `YYYY-MM-DD HH:MM`.
    pub updated_at: String,
    /// Its stored values, as text, in [`EntityAudit::group_fields`] order.
    pub values: Vec<Option<String>>,
    /// Records of other entities (and child organizations) linking to it.
    pub linked: u64,
    /// When it was created (to the microsecond, so groups list the oldest
    /// first).
    pub created_at: String,
}

impl GroupMember {
    /// How many of its fields hold a value: the most complete record is the
    /// survivor a merge keeps unless told otherwise.
    pub fn filled(&self) -> usize {
        self.values
            .iter()
            .filter(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
            .count()
    }
}

impl DuplicateGroup {
    /// The survivor a merge would keep: the most complete record, then the
    /// most linked, then the oldest.
    pub fn suggested_survivor(&self) -> Option<&GroupMember> {
        self.members
            .iter()
            .enumerate()
            .max_by_key(|(i, m)| (m.filled(), m.linked, std::cmp::Reverse(*i)))
            .map(|(_, m)| m)
    }
}

/// Stored values a clean-up kind would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanUpFinding {
    /// The kind.
    pub kind: CleanUp,
    /// Values it would change.
    pub values: u64,
    /// A few, before and after.
    pub examples: Vec<(String, String)>,
}

/// Why an audit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database refused or failed.
    #[error("{0}")]
    Database(String),
    /// The findings file could not be written.
    #[error("cannot write {path}: {reason}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

impl From<tokio_postgres::Error> for AuditError {
    fn from(error: tokio_postgres::Error) -> Self {
        AuditError::Database(crate::database::database_reason(&error))
    }
}

impl From<crate::users::UsersError> for AuditError {
    fn from(error: crate::users::UsersError) -> Self {
        AuditError::Database(error.to_string())
    }
}

/// Audits `entities` (every one when empty), handing every record of every
/// finding to `sink` as it is found (examples and groups are capped in the
/// result; the sink sees all).
pub async fn audit(
    client: &tokio_postgres::Client,
    entities: &[Entity],
    sink: &mut (dyn FnMut(&FindingRow<'_>) -> Result<(), AuditError> + Send),
) -> Result<Audit, AuditError> {
    let when = client
        .query_one(
            "SELECT to_char(now(), 'YYYY-MM-DD HH24:MI'), now()::text",
            &[],
        )
        .await?;
    let (_, users) = crate::users::list_users(client).await?;
    let directory = (!users.is_empty()).then(|| crate::users::UserDirectory::new(users));
    let chosen: Vec<Entity> = if entities.is_empty() {
        Entity::ALL.to_vec()
    } else {
        entities.to_vec()
    };
    let mut audited = Vec::with_capacity(chosen.len());
    for entity in chosen {
        audited.push(pass::audit_entity(client, entity, directory.as_ref(), sink).await?);
    }
    Ok(Audit {
        checked_at: when.try_get(0)?,
        as_of: when.try_get(1)?,
        entities: audited,
    })
}

impl EntityAudit {
    /// The finding of `kind`, if any record has it.
    pub fn finding(&self, kind: FindingKind) -> Option<&Finding> {
        self.findings.iter().find(|f| f.kind == kind)
    }
}

/// Findings counted as they come: per kind, records and capped examples.
#[derive(Debug, Default)]
pub(crate) struct FindingTally {
    counts: [u64; 8],
    examples: [Vec<FindingExample>; 8],
}

impl FindingTally {
    pub fn add(&mut self, kind: FindingKind, record_id: Uuid, shown: &str, detail: &str) {
        let index = kind.index();
        self.counts[index] += 1;
        if self.examples[index].len() < EXAMPLES {
            self.examples[index].push(FindingExample {
                record_id,
                shown: shown.to_owned(),
                detail: detail.to_owned(),
            });
        }
    }

    pub fn findings(self) -> Vec<Finding> {
        FindingKind::ALL
            .into_iter()
            .zip(self.counts)
            .zip(self.examples)
            .filter(|((_, count), _)| *count > 0)
            .map(|((kind, records), examples)| Finding {
                kind,
                records,
                examples,
            })
            .collect()
    }
}

/// Values counted per column, then cut to the most frequent.
pub(crate) fn distribution(
    column: &str,
    counts: BTreeMap<String, u64>,
) -> crate::verify::Distribution {
    let mut values: Vec<(String, u64)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if values.len() > DISTRIBUTION_VALUES {
        let other: u64 = values[DISTRIBUTION_VALUES - 1..].iter().map(|v| v.1).sum();
        values.truncate(DISTRIBUTION_VALUES - 1);
        values.push(("(other)".to_owned(), other));
    }
    crate::verify::Distribution {
        field: column.to_owned(),
        values,
    }
}

/// The score of `records` of which `with_findings` have a finding.
pub(crate) fn score(records: u64, with_findings: u64) -> u8 {
    if records == 0 {
        return 100;
    }
    let clean = records.saturating_sub(with_findings) as f64;
    // Floor: one bad record in many is 99, not a perfect 100.
    (100.0 * clean / records as f64).floor() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_floor_so_a_single_finding_shows() {
        assert_eq!(score(0, 0), 100);
        assert_eq!(score(1000, 1), 99);
        assert_eq!(score(4, 1), 75);
        assert_eq!(score(3, 3), 0);
    }

    #[test]
    fn distributions_keep_the_most_frequent() {
        let counts: BTreeMap<String, u64> = (0..40).map(|i| (format!("v{i:02}"), i)).collect();
        let cut = distribution("state_province", counts);
        assert_eq!(cut.values.len(), DISTRIBUTION_VALUES);
        assert_eq!(cut.values[0], ("v39".to_owned(), 39));
        let other: u64 = (0..=10).sum();
        assert_eq!(cut.values.last(), Some(&("(other)".to_owned(), other)));
    }
}
