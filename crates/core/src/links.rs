//! Links by name (SPEC.md, "Links by name"): a cell that names an
//! organization, a contact or an opportunity becomes that record's key.
//!
//! Names are grouped by [`name_key`] (case and spacing ignored) and found in
//! the CRM by the database's `pantry_match_key` (case, spaces and
//! punctuation ignored, the key duplicates are matched by too), among its
//! live records, which include the rows stored earlier in the same run.
//! A batch's names are resolved together: one indexed query per linked
//! entity and batch, never one per row, and each name is asked once per
//! import.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::entity::{Entity, FieldSpec, LinkTarget};
use crate::mapping::{Record, RowIssue, Value};
use crate::values::shorten;

/// What a link whose name is not in the CRM does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkPolicy {
    /// The row fails (the default for required links).
    Fail,
    /// The link stays empty, with a warning; the name is kept in import
    /// notes (the default for optional links).
    Empty,
    /// A new organization is created with the type the column implies
    /// (links to organizations only; others fail).
    Create,
}

impl LinkPolicy {
    /// Every policy, for pickers.
    pub const ALL: [LinkPolicy; 3] = [LinkPolicy::Fail, LinkPolicy::Empty, LinkPolicy::Create];

    /// The default for a link field: fail when it is required.
    pub fn default_for(field: &FieldSpec) -> LinkPolicy {
        if field.required {
            LinkPolicy::Fail
        } else {
            LinkPolicy::Empty
        }
    }

    /// How the window names it.
    pub fn describe(self) -> &'static str {
        match self {
            LinkPolicy::Fail => "fail the row",
            LinkPolicy::Empty => "leave it empty",
            LinkPolicy::Create => "create the organization",
        }
    }

    /// Whether it can apply to links to `target` (only organizations are created).
    pub fn applies_to(self, target: &LinkTarget) -> bool {
        self != LinkPolicy::Create || target.entity == Entity::Organizations
    }
}

/// The policy of each link column: one for all (`--links`), or per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPolicies {
    /// For every link column not named in `by_field`.
    pub all: Option<LinkPolicy>,
    /// By the field's database column (`principal_id`).
    pub by_field: HashMap<String, LinkPolicy>,
    /// For a name that matches several records, the one the user picked:
    /// by the field's column and the name's key ([`lookup_key`]).
    pub picked: HashMap<(String, String), Uuid>,
}

impl LinkPolicies {
    /// The policy in force for `field`. `Create` for a link that cannot
    /// create (to a contact or opportunity) falls back to the default.
    pub fn for_field(&self, field: &FieldSpec) -> LinkPolicy {
        let chosen = self
            .by_field
            .get(field.column)
            .copied()
            .or(self.all)
            .unwrap_or_else(|| LinkPolicy::default_for(field));
        match field.link() {
            Some(target) if !chosen.applies_to(target) => LinkPolicy::default_for(field),
            _ => chosen,
        }
    }
}

/// How names are compared: lower case, single spaces, no surrounding spaces.
pub fn name_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for word in name.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    key
}

/// A live record a name matched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    id: Uuid,
    /// How a message names it: "Sysco (Chicago)".
    shown: String,
    /// Organizations: its type. Contacts and opportunities: none.
    kind: Option<String>,
    /// Contacts and opportunities: their organization.
    organization: Option<Uuid>,
}

/// An organization created for a name that was not found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedOrganization {
    /// The name as the sheet wrote it.
    pub name: String,
    /// The type it was given.
    #[serde(rename = "type")]
    pub organization_type: &'static str,
    /// The first row that named it.
    pub row: u64,
}

/// What resolving one batch did.
#[derive(Debug, Default)]
pub struct ResolvedBatch {
    /// Records whose every link was resolved (or left empty by policy).
    pub records: Vec<Record>,
    /// Problems: errors for the rows left out, warnings for the others.
    pub issues: Vec<RowIssue>,
    /// Rows left out.
    pub failed: u64,
}

/// A link to a record of the sheet's own entity (a parent organization)
/// that the CRM did not hold when its row was read: the record may be a
/// row of the same sheet, stored later, so it is looked for once the
/// sheet is loaded ([`LinkResolver::link_within_import`]).
#[derive(Debug)]
struct LinkWithinImport {
    /// The stored field's column (`parent_organization_id`).
    column: &'static str,
    /// The column as issues name it.
    label: String,
    /// The name as written.
    name: String,
    /// The row as stored (`import_source_row`) and as the sheet numbers it.
    source_row: u64,
    sheet_row: u64,
}

/// Resolves the link columns of one import, batch by batch, remembering
/// every name it has looked up.
#[derive(Debug)]
pub struct LinkResolver {
    /// The entity whose rows are linked.
    entity: Entity,
    /// Links to the entity's own records not found yet.
    within_import: Vec<LinkWithinImport>,
    /// Link fields: (index among stored fields, spec, policy, label).
    links: Vec<(usize, &'static FieldSpec, LinkPolicy, String)>,
    known: HashMap<(Entity, String), Vec<Candidate>>,
    created: Vec<CreatedOrganization>,
    /// The user's picks among several matches ([`LinkPolicies::picked`]).
    picked: HashMap<(String, String), Uuid>,
    /// The CRM user the organizations it creates are written for.
    acting: Option<crate::users::ActingUser>,
}

impl LinkResolver {
    /// A resolver for `entity`; `label` names a field's column as issues do.
    pub fn new(
        entity: Entity,
        policies: &LinkPolicies,
        label: impl Fn(&FieldSpec) -> String,
    ) -> LinkResolver {
        let description = entity.description();
        let mut links: Vec<(usize, &'static FieldSpec, LinkPolicy, String)> = description
            .stored_fields()
            .enumerate()
            .filter(|(_, f)| f.link().is_some())
            .map(|(i, f)| (i, f, policies.for_field(f), label(f)))
            .collect();
        // Organizations first: contacts and opportunities are looked up
        // within the row's organization.
        links.sort_by_key(|(_, f, _, _)| f.link().map(|t| t.within_organization));
        LinkResolver {
            entity,
            within_import: Vec::new(),
            links,
            picked: policies.picked.clone(),
            acting: None,
            known: HashMap::new(),
            created: Vec::new(),
        }
    }

    /// Whether the entity has any link column at all.
    pub fn has_links(&self) -> bool {
        !self.links.is_empty()
    }

    /// The organizations created so far.
    pub fn created(&self) -> &[CreatedOrganization] {
        &self.created
    }

    /// Resolves the links of `records`: looks up the names not seen yet,
    /// creates the organizations the policy asks for (tied to `import_id`,
    /// so undo removes them), and sets each link to its record's key.
    pub async fn resolve(
        &mut self,
        client: &tokio_postgres::Client,
        import_id: i64,
        records: Vec<Record>,
    ) -> Result<ResolvedBatch, tokio_postgres::Error> {
        let mut batch = ResolvedBatch::default();
        if self.links.is_empty() {
            batch.records = records;
            return Ok(batch);
        }
        for target in [
            Entity::Organizations,
            Entity::Contacts,
            Entity::Opportunities,
        ] {
            self.look_up(client, target, &records).await?;
        }
        self.create_missing(client, import_id, &records).await?;
        for mut record in records {
            let mut issues = Vec::new();
            let mut failed = false;
            for (position, field, policy, label) in &self.links {
                let Some(target) = field.link() else { continue };
                let Some(Value::LinkName(name)) = record.values.get(*position).cloned() else {
                    continue;
                };
                let organization = self.row_organization(&record);
                let matches = self.matches(target, &name, organization);
                let row = record.sheet_row;
                let what = target.entity.singular();
                record.values[*position] = match matches.as_slice() {
                    [only] => {
                        if let (Some(expected), Some(kind)) = (target.implied_type, &only.kind)
                            && kind != expected
                        {
                            issues.push(RowIssue::warning(
                                row,
                                label.clone(),
                                format!(
                                    "'{}' is a {kind} in the CRM, not a {expected}; linked anyway",
                                    shorten(&name)
                                ),
                            ));
                        }
                        Value::Key(only.id)
                    }
                    [] if *policy == LinkPolicy::Empty && target.entity == self.entity => {
                        record.notes.push_original(label.clone(), &name);
                        self.within_import.push(LinkWithinImport {
                            column: field.column,
                            label: label.clone(),
                            name,
                            source_row: record.source_row,
                            sheet_row: row,
                        });
                        Value::Null
                    }
                    [] if *policy == LinkPolicy::Empty => {
                        record.notes.push_original(label.clone(), &name);
                        issues.push(RowIssue::warning(
                            row,
                            label.clone(),
                            format!(
                                "No {what} '{}' in the CRM; left empty (the name is kept in import notes)",
                                shorten(&name)
                            ),
                        ));
                        Value::Null
                    }
                    [] => {
                        failed = true;
                        issues.push(RowIssue::error(
                            row,
                            label.clone(),
                            format!("No {what} '{}' in the CRM", shorten(&name)),
                        ));
                        Value::Null
                    }
                    several
                        if let Some(id) = self
                            .picked
                            .get(&(field.column.to_owned(), lookup_key(target.entity, &name)))
                            .filter(|id| several.iter().any(|c| c.id == **id)) =>
                    {
                        Value::Key(*id)
                    }
                    several => {
                        failed = true;
                        let mut shown: Vec<&str> =
                            several.iter().map(|c| c.shown.as_str()).collect();
                        shown.sort_unstable();
                        issues.push(RowIssue::error(
                            row,
                            label.clone(),
                            format!(
                                "'{}' matches {} {} in the CRM: {}",
                                shorten(&name),
                                several.len(),
                                target.entity.name(),
                                shown.join(", ")
                            ),
                        ));
                        Value::Null
                    }
                };
            }
            batch.issues.extend(issues);
            if failed {
                batch.failed += 1;
            } else {
                batch.records.push(record);
            }
        }
        Ok(batch)
    }

    /// Makes the organizations it creates act for `acting`.
    pub fn act_as(&mut self, acting: Option<crate::users::ActingUser>) {
        self.acting = acting;
    }

    /// Once the sheet is loaded, links to records of the sheet's own entity
    /// that the CRM lacked when their rows were read ("Parent Company"
    /// naming an organization further down the same file): each is set
    /// when exactly one live record now has the name (never the row
    /// itself), in one statement per field; the others stay empty, with
    /// a warning each. Returns those warnings.
    pub async fn link_within_import(
        &mut self,
        client: &tokio_postgres::Client,
        import_id: i64,
    ) -> Result<Vec<RowIssue>, tokio_postgres::Error> {
        let pending = std::mem::take(&mut self.within_import);
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let entity = self.entity;
        let keys: Vec<String> = pending
            .iter()
            .map(|link| lookup_key(entity, &link.name))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut found: HashMap<String, Vec<Candidate>> = HashMap::new();
        for (key, candidate) in find_by_keys(client, entity, &keys).await? {
            found.entry(key).or_default().push(candidate);
        }
        let mut issues = Vec::new();
        let mut updates: HashMap<&'static str, (Vec<Uuid>, Vec<i32>)> = HashMap::new();
        let what = entity.singular();
        for link in &pending {
            let candidates = found
                .get(&lookup_key(entity, &link.name))
                .map_or(&[][..], Vec::as_slice);
            let message = match candidates {
                [only] => {
                    let (ids, rows) = updates.entry(link.column).or_default();
                    ids.push(only.id);
                    rows.push(i32::try_from(link.source_row).unwrap_or(i32::MAX));
                    continue;
                }
                [] => format!(
                    "No {what} '{}' in the CRM or in this sheet; left empty (the name is kept in import notes)",
                    shorten(&link.name)
                ),
                several => format!(
                    "'{}' matches {} {}; left empty (the name is kept in import notes)",
                    shorten(&link.name),
                    several.len(),
                    entity.name()
                ),
            };
            issues.push(RowIssue::warning(
                link.sheet_row,
                link.label.clone(),
                message,
            ));
        }
        let table = entity.description().table;
        for (column, (ids, rows)) in updates {
            // Identifiers from the entity's description, values as parameters.
            let sql = format!(
                "UPDATE {table} AS t SET {column} = u.id \
                 FROM unnest($1::uuid[], $2::int[]) AS u(id, source_row) \
                 WHERE t.import_batch_id = $3 AND t.import_source_row = u.source_row \
                 AND t.id <> u.id"
            );
            client
                .execute_typed(
                    &sql,
                    &[
                        (&ids, Type::UUID_ARRAY),
                        (&rows, Type::INT4_ARRAY),
                        (&import_id, Type::INT8),
                    ],
                )
                .await?;
        }
        Ok(issues)
    }

    /// The key of the row's own organization, once its link is resolved.
    fn row_organization(&self, record: &Record) -> Option<Uuid> {
        self.links.iter().find_map(|(position, field, _, _)| {
            match (field.column, record.values.get(*position)) {
                ("organization_id", Some(Value::Key(id))) => Some(*id),
                _ => None,
            }
        })
    }

    /// The live records `name` names; for contacts and opportunities, those
    /// of the row's organization when the row gives one.
    fn matches(
        &self,
        target: &LinkTarget,
        name: &str,
        organization: Option<Uuid>,
    ) -> Vec<Candidate> {
        let found = self
            .known
            .get(&(target.entity, lookup_key(target.entity, name)))
            .cloned()
            .unwrap_or_default();
        match organization {
            Some(organization) if target.within_organization => {
                let within: Vec<Candidate> = found
                    .iter()
                    .filter(|c| c.organization == Some(organization))
                    .cloned()
                    .collect();
                within
            }
            _ => found,
        }
    }

    /// One query for every name of `target` in the batch not asked before.
    async fn look_up(
        &mut self,
        client: &tokio_postgres::Client,
        target: Entity,
        records: &[Record],
    ) -> Result<(), tokio_postgres::Error> {
        let mut names: HashSet<String> = HashSet::new();
        for (position, field, _, _) in &self.links {
            if field.link().map(|t| t.entity) != Some(target) {
                continue;
            }
            for record in records {
                if let Some(Value::LinkName(name)) = record.values.get(*position) {
                    let key = lookup_key(target, name);
                    if !self.known.contains_key(&(target, key.clone())) {
                        names.insert(key);
                    }
                }
            }
        }
        if names.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = names.into_iter().collect();
        for key in &keys {
            self.known.insert((target, key.clone()), Vec::new());
        }
        for (key, candidate) in find_by_keys(client, target, &keys).await? {
            self.known.entry((target, key)).or_default().push(candidate);
        }
        Ok(())
    }

    /// Creates, in one statement, the organizations that link columns with
    /// the `Create` policy name and the CRM lacks.
    async fn create_missing(
        &mut self,
        client: &tokio_postgres::Client,
        import_id: i64,
        records: &[Record],
    ) -> Result<(), tokio_postgres::Error> {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        let mut types = Vec::new();
        let mut planned = HashSet::new();
        for (position, field, policy, _) in &self.links {
            let Some(target) = field.link() else { continue };
            if *policy != LinkPolicy::Create || target.entity != Entity::Organizations {
                continue;
            }
            for record in records {
                let Some(Value::LinkName(name)) = record.values.get(*position) else {
                    continue;
                };
                let key = name_key(name);
                let missing = self
                    .known
                    .get(&(Entity::Organizations, key.clone()))
                    .is_some_and(Vec::is_empty);
                if missing && planned.insert(key) {
                    let organization_type = target.implied_type.unwrap_or("customer");
                    ids.push(Uuid::now_v7());
                    names.push(name.clone());
                    types.push(organization_type);
                    self.created.push(CreatedOrganization {
                        name: name.clone(),
                        organization_type,
                        row: record.sheet_row,
                    });
                }
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        // As the import's user, under the CRM's row-level security.
        let acting = self.acting.as_ref();
        let (begun, entered) = tokio::join!(
            client.batch_execute("BEGIN"),
            crate::users::ActingUser::enter_if_any(acting, client)
        );
        begun?;
        entered?;
        let inserted = client
            .execute_typed(
                "INSERT INTO organizations (id, name, type, import_batch_id) \
                 SELECT n.id, n.name, n.type::organization_type, $4 \
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS n(id, name, type)",
                &[
                    (&ids, Type::UUID_ARRAY),
                    (&names, Type::TEXT_ARRAY),
                    (&types, Type::TEXT_ARRAY),
                    (&import_id, Type::INT8),
                ],
            )
            .await;
        match inserted {
            Ok(_) => client.batch_execute("COMMIT").await?,
            Err(error) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(error);
            }
        }
        for ((id, name), kind) in ids.into_iter().zip(names).zip(types) {
            self.known.insert(
                (Entity::Organizations, name_key(&name)),
                vec![Candidate {
                    id,
                    shown: name,
                    kind: Some(kind.to_owned()),
                    organization: None,
                }],
            );
        }
        Ok(())
    }
}

/// The live records of `target` each key names, in one query: every key is
/// looked up in a subquery that `OFFSET 0` keeps from being flattened, so
/// the cost follows the keys, not the size of the CRM. (`= ANY($1)` of
/// 20,000 names was measured at 2.5 s when the planner filtered row by row,
/// and a hash join rescans every organization for every batch.) The query
/// is written from how the target's description says its records are
/// named ([`crate::entity::LinkedBy`]): keys that hold an e-mail address are matched on
/// its e-mail field, the others on its name's match key.
async fn find_by_keys(
    client: &tokio_postgres::Client,
    target: Entity,
    keys: &[String],
) -> Result<Vec<(String, Candidate)>, tokio_postgres::Error> {
    let description = target.description();
    let Some(by) = &description.linked_by else {
        return Ok(Vec::new());
    };
    let table = description.table;
    let select = format!(
        "SELECT t.id, {name}, {detail}, {kind}, {organization}, k.key",
        name = by.name_sql("t"),
        detail = by.detail,
        kind = by.kind.unwrap_or("NULL::text"),
        organization = by
            .organization
            .map_or_else(|| "NULL::uuid".to_owned(), |c| format!("t.{c}")),
    );
    let by_name = format!(
        "{select} FROM unnest($1::text[]) AS k(key), LATERAL (SELECT * FROM {table} t \
         WHERE pantry_match_key({}) = pantry_match_key(k.key) AND t.deleted_at IS NULL OFFSET 0) t",
        by.name_sql("t")
    );
    let rows = match by.email {
        Some(email) => {
            let (emails, names): (Vec<&String>, Vec<&String>) =
                keys.iter().partition(|k| k.contains('@'));
            let by_email = format!(
                "{select} FROM unnest($2::text[]) AS k(key), LATERAL (SELECT * FROM {table} t \
                 WHERE lower(btrim(t.{email})) = k.key AND t.deleted_at IS NULL OFFSET 0) t"
            );
            client
                .query_typed(
                    &format!("{by_email} UNION ALL {by_name}"),
                    &[(&names, Type::TEXT_ARRAY), (&emails, Type::TEXT_ARRAY)],
                )
                .await?
        }
        None => {
            client
                .query_typed(&by_name, &[(&keys, Type::TEXT_ARRAY)])
                .await?
        }
    };
    rows.iter()
        .map(|row| {
            let name: String = row.try_get(1)?;
            let detail: String = row.try_get(2)?;
            let candidate = Candidate {
                id: row.try_get(0)?,
                shown: if detail.is_empty() {
                    name
                } else {
                    format!("{name} ({detail})")
                },
                kind: row.try_get(3)?,
                organization: row.try_get(4)?,
            };
            Ok((row.try_get(5)?, candidate))
        })
        .collect()
}

/// How the CRM answers for each of `keys` (names as [`lookup_key`] gives
/// them): the records each names, with their keys, as messages show them
/// and sorted so. For the preview's links summary; the import itself
/// resolves with [`LinkResolver`].
pub async fn crm_matches(
    client: &tokio_postgres::Client,
    target: Entity,
    keys: &[String],
) -> Result<HashMap<String, Vec<(Uuid, String)>>, tokio_postgres::Error> {
    let mut found: HashMap<String, Vec<(Uuid, String)>> = HashMap::new();
    for (key, candidate) in find_by_keys(client, target, keys).await? {
        found
            .entry(key)
            .or_default()
            .push((candidate.id, candidate.shown));
    }
    for candidates in found.values_mut() {
        candidates.sort_by(|a, b| a.1.cmp(&b.1));
    }
    Ok(found)
}

/// The CRM's names of `target` closest to `name` (at most `limit`, best
/// first): records whose name starts as `name` does, ranked by Jaro-Winkler
/// similarity, so a typo ("Hobokn Provisions") finds its record.
pub async fn closest_names(
    client: &tokio_postgres::Client,
    target: Entity,
    name: &str,
    limit: usize,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let key = name_key(name);
    let prefix: String = key.chars().take(2).collect();
    let description = target.description();
    let Some(by) = &description.linked_by else {
        return Ok(Vec::new());
    };
    let name_sql = by.name_sql("");
    let sql = format!(
        "SELECT {name_sql} FROM {} WHERE deleted_at IS NULL \
         AND left(pantry_name_key({name_sql}), 2) = $1 LIMIT 200",
        description.table
    );
    let rows = client.query_typed(&sql, &[(&prefix, Type::TEXT)]).await?;
    let mut ranked: Vec<(f64, String)> = rows
        .iter()
        .filter_map(|row| row.try_get::<_, Option<String>>(0).ok().flatten())
        .map(|candidate| (strsim::jaro_winkler(&key, &name_key(&candidate)), candidate))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.dedup_by(|a, b| a.1 == b.1);
    Ok(ranked.into_iter().take(limit).map(|(_, n)| n).collect())
}

/// The keys a later sheet of the same workbook may name `record` by, as
/// its description says records are named: its e-mail and its name, each
/// as [`match_name`] gives it.
pub fn record_keys(record: &Record) -> Vec<String> {
    let Some(by) = &record.entity.description().linked_by else {
        return Vec::new();
    };
    let text = |column: &str| record.text(column).filter(|t| !t.trim().is_empty());
    let mut keys: Vec<String> = by
        .email
        .and_then(text)
        .map(|e| match_name(record.entity, &e))
        .into_iter()
        .collect();
    let parts: Option<Vec<_>> = by.name.iter().map(|field| text(field)).collect();
    if let Some(parts) = parts {
        keys.push(match_name(record.entity, &parts.join(" ")));
    }
    keys
}

/// The key two link names share when they name the same record, as the
/// CRM matches them (`pantry_match_key`): an e-mail ignoring case and
/// surrounding spaces, else the name ignoring case, accents, spaces and
/// punctuation (`St. Vincent Hospital Cafe` is `St Vincent Hospital Café`).
/// A workbook's sheets name each other's records by it.
pub fn match_name(target: Entity, name: &str) -> String {
    match target {
        Entity::Contacts if name.contains('@') => name.trim().to_lowercase(),
        _ => crate::duplicates::match_key(name),
    }
}

/// The key a name is looked up by: contacts are found by email when the
/// cell holds one, else by full name.
pub fn lookup_key(target: Entity, name: &str) -> String {
    match target {
        Entity::Contacts if name.contains('@') => name.trim().to_lowercase(),
        _ => name_key(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{CONTACTS, OPPORTUNITIES, PRODUCTS};

    #[test]
    fn names_match_ignoring_case_and_spacing() {
        assert_eq!(name_key("  Sysco   Foods  "), "sysco foods");
        assert_eq!(name_key("SYSCO\tFoods"), "sysco foods");
        assert_eq!(
            lookup_key(Entity::Contacts, " Jane@Acme.com "),
            "jane@acme.com"
        );
        assert_eq!(lookup_key(Entity::Contacts, "Jane  Smith"), "jane smith");
    }

    #[test]
    fn policies_default_by_required_and_create_only_organizations() {
        let principal = &PRODUCTS.fields[PRODUCTS.field_index("principal_id").unwrap()];
        let contact = &OPPORTUNITIES.fields[OPPORTUNITIES.field_index("contact_id").unwrap()];
        let organization = &CONTACTS.fields[CONTACTS.field_index("organization_id").unwrap()];
        let defaults = LinkPolicies::default();
        assert_eq!(defaults.for_field(principal), LinkPolicy::Fail);
        assert_eq!(defaults.for_field(organization), LinkPolicy::Empty);
        let create = LinkPolicies {
            all: Some(LinkPolicy::Create),
            ..LinkPolicies::default()
        };
        assert_eq!(create.for_field(principal), LinkPolicy::Create);
        assert_eq!(create.for_field(contact), LinkPolicy::Empty);
        let mut by_field = HashMap::new();
        by_field.insert("organization_id".to_owned(), LinkPolicy::Fail);
        let mixed = LinkPolicies {
            all: Some(LinkPolicy::Create),
            by_field,
            ..LinkPolicies::default()
        };
        assert_eq!(mixed.for_field(organization), LinkPolicy::Fail);
    }
}
