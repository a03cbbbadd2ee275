//! One entity's audit: one streaming pass over its live records, then the
//! duplicate groups' records read back by id.

use std::collections::{BTreeMap, HashMap};

use futures_util::StreamExt;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::groups::{FoundGroup, GroupFinder};
use super::{
    AuditError, CleanUpFinding, DuplicateGroup, EntityAudit, FindingKind, FindingRow, FindingTally,
    GROUPS_KEPT, GroupMember,
};
use crate::clean::{CleanUp, CleanUpTally};
use crate::duplicates::{Compared, compared_as};
use crate::entity::{Entity, EntityDescription, FieldKind, FieldSpec};
use crate::users::UserDirectory;

/// Countries whose states the audit knows (empty is the CRM's US).
const STATE_COUNTRIES: [&str; 7] = ["", "us", "usa", "united states", "ca", "canada", "can"];

/// What the pass selects, by position in its row.
struct Selected {
    expressions: Vec<String>,
    joins: Vec<String>,
    /// Per match key: its parts, and how many of them are its own fields
    /// (the rest are the links it is within).
    keys: Vec<(Vec<usize>, usize)>,
    differ: Option<usize>,
    /// The name near-duplicates compare (organizations).
    name: Option<usize>,
    emails: Vec<(usize, &'static str)>,
    phones: Vec<(usize, &'static str)>,
    state: Option<usize>,
    country: Option<usize>,
    relied_on: Vec<Vec<(usize, &'static str)>>,
    charted: Vec<(usize, &'static str)>,
    /// Manager names kept without a user id.
    managers: Vec<usize>,
    /// Deleted records linked to: how they show.
    links: Vec<(usize, &'static str)>,
    clean: Vec<(usize, &'static FieldSpec)>,
}

impl Selected {
    fn new(description: &'static EntityDescription) -> Selected {
        let mut selected = Selected {
            // 0: id, 1: how the record shows.
            expressions: vec!["t.id".to_owned(), "t.audit_shown".to_owned()],
            joins: Vec::new(),
            keys: Vec::new(),
            differ: None,
            name: None,
            emails: Vec::new(),
            phones: Vec::new(),
            state: None,
            country: None,
            relied_on: Vec::new(),
            charted: Vec::new(),
            managers: Vec::new(),
            links: Vec::new(),
            clean: Vec::new(),
        };
        selected.add_keys(description);
        if description.entity == Entity::Organizations {
            selected.name = Some(selected.column("t.name"));
        }
        for field in description.stored_fields() {
            let column = format!("t.{}::text", field.column);
            match field.kind {
                FieldKind::Email => {
                    let at = selected.column(&column);
                    selected.emails.push((at, field.label));
                }
                FieldKind::Phone => {
                    let at = selected.column(&column);
                    selected.phones.push((at, field.label));
                }
                _ => {}
            }
            if CleanUp::ALL.iter().any(|kind| kind.applies_to(field)) {
                let at = selected.column(&column);
                selected.clean.push((at, field));
            }
        }
        if description.field_index("state_province").is_some() {
            selected.state = Some(selected.column("t.state_province::text"));
            selected.country = Some(selected.column("t.country::text"));
        }
        selected.add_checklist(description);
        selected
    }

    /// The position of `expression`, selected once.
    fn column(&mut self, expression: &str) -> usize {
        match self.expressions.iter().position(|e| e == expression) {
            Some(at) => at,
            None => {
                self.expressions.push(expression.to_owned());
                self.expressions.len() - 1
            }
        }
    }

    /// Each match key's parts as the database compares them (SPEC.md,
    /// "Duplicates against the CRM"), the same SQL the import matches by.
    fn add_keys(&mut self, description: &EntityDescription) {
        for key in description.match_keys {
            let mut parts = Vec::new();
            let text: Vec<String> = key
                .fields
                .iter()
                .filter(|c| compared_as(description, c) == Compared::Text)
                .map(|c| format!("t.{c}"))
                .collect();
            if !text.is_empty() {
                parts.push(self.column(&format!("pantry_match_key({})", text.join(" || ' ' || "))));
            }
            for column in key.fields {
                match compared_as(description, column) {
                    Compared::Text => {}
                    Compared::Email => {
                        parts.push(self.column(&format!("lower(btrim(t.{column}))")))
                    }
                    Compared::AsIs => parts.push(self.column(&format!("t.{column}::text"))),
                }
            }
            let own = parts.len();
            // Within a link: the link is part of the key, empty or not.
            for column in key.within {
                parts.push(self.column(&format!("coalesce(t.{column}::text, '')")));
            }
            self.keys.push((parts, own));
            if let Some(column) = key.unless_differ {
                self.differ = Some(self.column(&format!("pantry_match_key(t.{column})")));
            }
        }
    }

    /// Fields brokers rely on, the charted ones, manager names and links.
    fn add_checklist(&mut self, description: &'static EntityDescription) {
        for group in description.relied_on {
            let group = group
                .iter()
                .map(|column| {
                    let label = description
                        .field_index(column)
                        .map_or(*column, |i| description.fields[i].label);
                    (self.column(&format!("t.{column}::text")), label)
                })
                .collect();
            self.relied_on.push(group);
        }
        for column in description.charted {
            let at = self.column(&format!("t.{column}::text"));
            self.charted.push((at, column));
        }
        for manager in description.managers() {
            let at = self.column(&format!("t.{}::text", manager.name));
            self.charted.push((at, manager.name));
            let without = self.column(&format!(
                "CASE WHEN t.{} IS NULL THEN btrim(t.{}) END",
                manager.user_id, manager.name
            ));
            self.managers.push(without);
        }
        for field in description.fields {
            let Some(target) = field.link() else { continue };
            let linked = target.entity.description();
            let alias = format!("d{}", self.joins.len());
            // Only deleted targets: few, so the join is a small hash.
            self.joins.push(format!(
                "LEFT JOIN (SELECT id AS deleted_id, ({}) AS deleted_shown FROM {} \
                 WHERE deleted_at IS NOT NULL) {alias} ON {alias}.deleted_id = t.{}",
                linked.shown, linked.table, field.column
            ));
            let at = self.column(&format!("{alias}.deleted_shown"));
            self.links.push((at, field.label));
        }
    }

    /// The pass's query. How a record shows is computed inside the table's
    /// own subquery, whose columns nothing joined can be taken for.
    fn sql(&self, description: &EntityDescription) -> String {
        format!(
            "SELECT {} FROM (SELECT *, ({}) AS audit_shown FROM {} WHERE deleted_at IS NULL) t {}",
            self.expressions.join(", "),
            description.shown,
            description.table,
            self.joins.join(" ")
        )
    }
}

/// What the pass gathers besides findings.
#[derive(Default)]
struct Gathered {
    ids: Vec<Uuid>,
    flagged: Vec<bool>,
    tally: FindingTally,
    charted: Vec<BTreeMap<String, u64>>,
    clean_ups: CleanUpTally,
    /// Manager names already looked up: whether one is a user's.
    manager_known: HashMap<String, bool>,
}

/// One entity's audit.
pub(super) async fn audit_entity(
    client: &tokio_postgres::Client,
    entity: Entity,
    directory: Option<&UserDirectory>,
    sink: &mut (dyn FnMut(&FindingRow<'_>) -> Result<(), AuditError> + Send),
) -> Result<EntityAudit, AuditError> {
    let description = entity.description();
    let selected = Selected::new(description);
    let mut finder = GroupFinder::new(selected.name.is_some());
    let mut gathered = Gathered {
        charted: vec![BTreeMap::new(); selected.charted.len()],
        ..Gathered::default()
    };
    // The planner's estimate of the table's rows (0 when never analysed).
    let estimate: f32 = client
        .query_typed_one(
            "SELECT greatest(reltuples, 0)::real FROM pg_class WHERE oid = $1::text::regclass",
            &[(&description.table, Type::TEXT)],
        )
        .await?
        .try_get(0)?;
    // The estimate counts dead and deleted rows too: a cap keeps a bloated
    // table from reserving more than a few tens of megabytes up front.
    let estimate = (estimate as usize).min(2_000_000);
    finder.reserve(estimate);
    gathered.ids.reserve(estimate);
    gathered.flagged.reserve(estimate);
    let rows = client
        .query_typed_raw(
            &selected.sql(description),
            std::iter::empty::<(&(dyn ToSql + Sync), Type)>(),
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        read_record(
            &row,
            &selected,
            &mut finder,
            directory,
            &mut gathered,
            entity,
            sink,
        )?;
    }
    let found = finder.finish();
    let groups = settle_groups(client, description, &found, &mut gathered, sink).await?;
    let records = gathered.ids.len() as u64;
    let with_findings = gathered.flagged.iter().filter(|f| **f).count() as u64;
    Ok(EntityAudit {
        entity,
        records,
        with_findings,
        score: super::score(records, with_findings),
        findings: gathered.tally.findings(),
        groups,
        group_fields: description
            .stored_fields()
            .map(|f| f.label.to_owned())
            .collect(),
        distributions: selected
            .charted
            .iter()
            .zip(gathered.charted)
            .filter(|(_, counts)| !counts.is_empty())
            .map(|((_, column), counts)| super::distribution(column, counts))
            .collect(),
        clean_ups: gathered
            .clean_ups
            .kinds
            .into_iter()
            .map(|(kind, count)| CleanUpFinding {
                kind,
                values: count.cells,
                examples: count.examples,
            })
            .collect(),
    })
}

/// One record of the pass: its checks, its keys, its charted values.
fn read_record(
    row: &tokio_postgres::Row,
    selected: &Selected,
    finder: &mut GroupFinder,
    directory: Option<&UserDirectory>,
    gathered: &mut Gathered,
    entity: Entity,
    sink: &mut (dyn FnMut(&FindingRow<'_>) -> Result<(), AuditError> + Send),
) -> Result<(), AuditError> {
    let text = |at: usize| -> Result<Option<&str>, tokio_postgres::Error> {
        Ok(row
            .try_get::<_, Option<&str>>(at)?
            .filter(|v| !v.trim().is_empty()))
    };
    let id: Uuid = row.try_get(0)?;
    let shown = text(1)?.unwrap_or_default().to_owned();
    let key = record_key(row, selected)?;
    let differ = match selected.differ {
        Some(at) => text(at)?,
        None => None,
    };
    let name = match selected.name {
        Some(at) => text(at)?,
        None => None,
    };
    finder.add(key.as_deref(), differ, name);
    let mut problems: Vec<(FindingKind, String)> = Vec::new();
    check_values(row, selected, directory, gathered, &mut problems)?;
    for (at, counts) in selected.charted.iter().zip(gathered.charted.iter_mut()) {
        let value = text(at.0)?.map_or("(empty)", str::trim);
        // Most values were seen before: no allocation for those.
        match counts.get_mut(value) {
            Some(count) => *count += 1,
            None => {
                counts.insert(value.to_owned(), 1);
            }
        }
    }
    for (at, field) in &selected.clean {
        if let Some(value) = text(*at)? {
            for kind in CleanUp::ALL {
                if kind.applies_to(field)
                    && let Some(after) = kind.apply(value.trim())
                {
                    gathered.clean_ups.add(kind, value, &after);
                }
            }
        }
    }
    let mut counted: Vec<FindingKind> = Vec::with_capacity(problems.len());
    for (kind, detail) in &problems {
        // A record with two bad phones is one record with bad phones.
        if !counted.contains(kind) {
            counted.push(*kind);
            gathered.tally.add(*kind, id, &shown, detail);
        }
        sink(&FindingRow {
            entity,
            kind: *kind,
            record_id: id,
            shown: &shown,
            detail,
            group: None,
        })?;
    }
    gathered.flagged.push(!problems.is_empty());
    gathered.ids.push(id);
    Ok(())
}

/// Which key a record filled, first part of its hashed key, so two keys'
/// values never meet.
const KEY_NUMBERS: [&str; 4] = ["key 1", "key 2", "key 3", "key 4"];

/// The first match key whose own fields the record fills, as its parts.
fn record_key<'a>(
    row: &'a tokio_postgres::Row,
    selected: &Selected,
) -> Result<Option<Vec<&'a str>>, AuditError> {
    'keys: for (index, (parts, own)) in selected.keys.iter().enumerate() {
        let mut key = vec![KEY_NUMBERS[index.min(KEY_NUMBERS.len() - 1)]];
        for (number, at) in parts.iter().enumerate() {
            let value: Option<&str> = row.try_get(*at)?;
            match value {
                Some(value) if number >= *own || !value.is_empty() => key.push(value),
                _ => continue 'keys,
            }
        }
        return Ok(Some(key));
    }
    Ok(None)
}

/// The value checks of one record: e-mails, phones, state, empty fields
/// brokers rely on, manager names without a user, links to deleted records.
fn check_values(
    row: &tokio_postgres::Row,
    selected: &Selected,
    directory: Option<&UserDirectory>,
    gathered: &mut Gathered,
    problems: &mut Vec<(FindingKind, String)>,
) -> Result<(), AuditError> {
    let text = |at: usize| -> Result<Option<&str>, tokio_postgres::Error> {
        Ok(row
            .try_get::<_, Option<&str>>(at)?
            .filter(|v| !v.trim().is_empty()))
    };
    let valid_email: fn(&str) -> bool = crate::values::looks_like_email;
    let checks = [
        (&selected.emails, FindingKind::InvalidEmails, valid_email),
        (
            &selected.phones,
            FindingKind::InvalidPhones,
            crate::clean::phone_is_valid,
        ),
    ];
    for (columns, kind, valid) in checks {
        for (at, label) in columns {
            if let Some(value) = text(*at)?
                && !valid(value.trim())
            {
                let shown = crate::values::shorten(value);
                problems.push((kind, format!("{} '{shown}'", label.to_lowercase())));
            }
        }
    }
    if let Some(at) = selected.state {
        let country = match selected.country {
            Some(at) => text(at)?.unwrap_or_default().trim().to_lowercase(),
            None => String::new(),
        };
        if let Some(state) = text(at)?
            && STATE_COUNTRIES.contains(&country.as_str())
            && crate::clean::state_code(state).is_none()
        {
            problems.push((
                FindingKind::UnknownStates,
                format!("state '{}'", crate::values::shorten(state)),
            ));
        }
    }
    let mut missing = Vec::new();
    for group in &selected.relied_on {
        let mut filled = false;
        for (at, _) in group {
            filled |= text(*at)?.is_some();
        }
        if !filled {
            // The spec's headers are written in capitals ("CITY").
            let labels: Vec<String> = group
                .iter()
                .map(|(_, label)| label.to_lowercase())
                .collect();
            missing.push(format!("no {}", labels.join(" or ")));
        }
    }
    if !missing.is_empty() {
        problems.push((FindingKind::MissingFields, missing.join(", ")));
    }
    if let Some(directory) = directory {
        for at in &selected.managers {
            let Some(name) = text(*at)? else { continue };
            let known = match gathered.manager_known.get(name) {
                Some(known) => *known,
                None => {
                    let known = directory.find(name, &BTreeMap::new()).user().is_some();
                    gathered.manager_known.insert(name.to_owned(), known);
                    known
                }
            };
            if !known {
                problems.push((
                    FindingKind::ManagersWithoutUser,
                    format!("manager '{}' is no CRM user", crate::values::shorten(name)),
                ));
            }
        }
    }
    for (at, label) in &selected.links {
        if let Some(deleted) = text(*at)? {
            problems.push((
                FindingKind::LinksToDeleted,
                format!("{label} '{}' was deleted", crate::values::shorten(deleted)),
            ));
        }
    }
    Ok(())
}

/// The groups' findings (every record, to the sink) and the first
/// [`GROUPS_KEPT`] groups with their records' values.
async fn settle_groups(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
    found: &[FoundGroup],
    gathered: &mut Gathered,
    sink: &mut (dyn FnMut(&FindingRow<'_>) -> Result<(), AuditError> + Send),
) -> Result<Vec<DuplicateGroup>, AuditError> {
    let mut kept = Vec::new();
    // Read back in chunks, so memory holds a chunk of records' text at most.
    for (chunk_number, chunk) in found.chunks(GROUPS_KEPT).enumerate() {
        let ids: Vec<Uuid> = chunk
            .iter()
            .flat_map(|g| g.members.iter())
            .filter_map(|p| gathered.ids.get(*p as usize).copied())
            .collect();
        let members = read_members(client, description, &ids).await?;
        for (offset, group) in chunk.iter().enumerate() {
            let number = u32::try_from(chunk_number * GROUPS_KEPT + offset + 1).unwrap_or(u32::MAX);
            let kind = if group.near {
                FindingKind::NearDuplicates
            } else {
                FindingKind::Duplicates
            };
            let mut records: Vec<GroupMember> = group
                .members
                .iter()
                .filter_map(|p| gathered.ids.get(*p as usize))
                .filter_map(|id| members.get(id).cloned())
                .collect();
            records.sort_by(|a, b| a.created_at.cmp(&b.created_at));
            for position in &group.members {
                if let Some(flag) = gathered.flagged.get_mut(*position as usize) {
                    *flag = true;
                }
            }
            for member in &records {
                let others: Vec<&str> = records
                    .iter()
                    .filter(|m| m.id != member.id)
                    .map(|m| m.shown.as_str())
                    .take(3)
                    .collect();
                let detail = format!("group {number}: like '{}'", others.join("', '"));
                gathered.tally.add(kind, member.id, &member.shown, &detail);
                sink(&FindingRow {
                    entity: description.entity,
                    kind,
                    record_id: member.id,
                    shown: &member.shown,
                    detail: &detail,
                    group: Some(number),
                })?;
            }
            if chunk_number == 0 {
                kept.push(DuplicateGroup {
                    near: group.near,
                    members: records,
                });
            }
        }
    }
    Ok(kept)
}

/// The records `ids` with their stored values and how many records link
/// to each.
async fn read_members(
    client: &tokio_postgres::Client,
    description: &EntityDescription,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, GroupMember>, AuditError> {
    let values: Vec<String> = description
        .stored_fields()
        .map(|f| format!("t.{}::text", f.column))
        .collect();
    let linked = crate::fixes::links_to(description.entity)
        .iter()
        .map(|(table, column)| {
            format!(
                "(SELECT count(*) FROM {table} l WHERE l.{column} = t.id AND l.deleted_at IS NULL)"
            )
        })
        .collect::<Vec<_>>();
    let linked = if linked.is_empty() {
        "0::bigint".to_owned()
    } else {
        linked.join(" + ")
    };
    let rows = client
        .query_typed(
            &format!(
                "SELECT t.id, ({shown}), to_char(t.updated_at, 'YYYY-MM-DD HH24:MI'), {linked}, \
                 to_char(t.created_at, 'YYYY-MM-DD HH24:MI:SS.US'), {values} \
                 FROM {table} t WHERE t.id = ANY($1)",
                shown = description.shown,
                values = values.join(", "),
                table = description.table,
            ),
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    let mut members = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.try_get(0)?;
        let values = (5..row.len())
            .map(|i| row.try_get::<_, Option<String>>(i))
            .collect::<Result<_, _>>()?;
        members.insert(
            id,
            GroupMember {
                id,
                shown: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
                updated_at: row.try_get(2)?,
                values,
                linked: u64::try_from(row.try_get::<_, i64>(3)?).unwrap_or(0),
                created_at: row.try_get(4)?,
            },
        );
    }
    Ok(members)
}
