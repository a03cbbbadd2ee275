//! CRM users (SPEC.md, "CRM users", the seed's Phase 2): where they live
//! (`auth.users` on a Supabase database, `crm_users` elsewhere), how a
//! manager name written in a sheet finds its user, and the user an import
//! acts for, under the CRM's row-level security when the database has it.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::duplicates::match_key;
use crate::entity::EntityDescription;
use crate::mapping::{Record, Value};
use crate::spreadsheet::FileNotice;

/// One CRM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrmUser {
    /// Its id: what `created_by` and the manager ids hold.
    pub id: Uuid,
    /// Its e-mail address, by which `--as` names it.
    pub email: String,
    /// Its name as the CRM shows it (may be empty).
    pub full_name: String,
}

impl CrmUser {
    /// "Dana Whitfield <dana@broker.com>", or the e-mail alone.
    pub fn describe(&self) -> String {
        if self.full_name.is_empty() {
            self.email.clone()
        } else {
            format!("{} <{}>", self.full_name, self.email)
        }
    }
}

/// Where a database keeps its CRM users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSource {
    /// Supabase Auth's `auth.users`; its row-level security applies.
    SupabaseAuth,
    /// The `crm_users` table of migration V8.
    CrmUsers,
}

/// Why users could not be listed, matched or acted for.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The database refused or failed.
    #[error("{}", crate::database::database_reason(.0))]
    Database(#[from] tokio_postgres::Error),
    /// `--as` names nobody.
    #[error("no CRM user has the e-mail '{email}'{}", known_users(.known))]
    UnknownUser {
        /// The e-mail given.
        email: String,
        /// The users there are (at most a few), to choose from.
        known: Vec<String>,
    },
    /// The connecting role cannot act as a Supabase user.
    #[error(
        "the database role '{role}' cannot become 'authenticated', so it cannot import as a CRM user \
         under row-level security; connect as postgres (Supabase's direct connection or session pooler), \
         or grant it: GRANT authenticated TO {role}"
    )]
    CannotBecomeAuthenticated {
        /// The role connected.
        role: String,
    },
    /// A `--map NAME=EMAIL` that is not of that shape.
    #[error("'{0}' is not NAME=EMAIL")]
    BadMap(String),
}

fn known_users(known: &[String]) -> String {
    if known.is_empty() {
        " (the CRM has no users)".to_owned()
    } else {
        format!("; users: {}", known.join(", "))
    }
}

/// Which table holds the database's users.
pub async fn user_source(client: &tokio_postgres::Client) -> Result<UserSource, UsersError> {
    let row = client
        .query_one("SELECT to_regclass('auth.users') IS NOT NULL", &[])
        .await?;
    Ok(if row.try_get(0)? {
        UserSource::SupabaseAuth
    } else {
        UserSource::CrmUsers
    })
}

/// The database's active users, by e-mail.
pub async fn list_users(
    client: &tokio_postgres::Client,
) -> Result<(UserSource, Vec<CrmUser>), UsersError> {
    let source = user_source(client).await?;
    let sql = match source {
        UserSource::SupabaseAuth => {
            "SELECT id, coalesce(email, ''), coalesce(raw_user_meta_data->>'full_name', \
             raw_user_meta_data->>'name', '') FROM auth.users WHERE deleted_at IS NULL ORDER BY email"
        }
        UserSource::CrmUsers => {
            "SELECT id, email, full_name FROM crm_users WHERE is_active ORDER BY email"
        }
    };
    let users = client
        .query(sql, &[])
        .await?
        .iter()
        .map(|row| {
            Ok(CrmUser {
                id: row.try_get(0)?,
                email: row.try_get(1)?,
                full_name: row.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok((source, users))
}

/// What a manager name written in a sheet comes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "match", rename_all = "snake_case")]
pub enum UserMatch {
    /// Exactly one user fits.
    User {
        /// That user.
        user: CrmUser,
    },
    /// Several users fit equally; the name stays text.
    Several {
        /// Those users.
        candidates: Vec<CrmUser>,
    },
    /// No user fits; the name stays text.
    NoUser {
        /// The users whose names are closest, best first.
        closest: Vec<CrmUser>,
    },
    /// The broker chose to keep the name as text.
    KeptAsText,
}

impl UserMatch {
    /// The user, when exactly one fits.
    pub fn user(&self) -> Option<&CrmUser> {
        match self {
            UserMatch::User { user } => Some(user),
            _ => None,
        }
    }
}

/// The CRM's users, looked up by name as brokers write them.
#[derive(Debug, Clone, Default)]
pub struct UserDirectory {
    users: Vec<CrmUser>,
    /// Each user's name as words, folded (case, accents).
    words: Vec<Vec<String>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl UserDirectory {
    /// A directory of `users`.
    pub fn new(users: Vec<CrmUser>) -> UserDirectory {
        let words: Vec<Vec<String>> = users.iter().map(|u| name_words(&u.full_name)).collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, user_words) in words.iter().enumerate() {
            if !user_words.is_empty() {
                by_name.entry(user_words.concat()).or_default().push(index);
            }
        }
        UserDirectory {
            users,
            words,
            by_name,
        }
    }

    /// The users.
    pub fn users(&self) -> &[CrmUser] {
        &self.users
    }

    /// The user with this e-mail (case and surrounding spaces ignored).
    pub fn by_email(&self, email: &str) -> Option<&CrmUser> {
        let email = email.trim().to_lowercase();
        self.users.iter().find(|u| u.email.to_lowercase() == email)
    }

    /// The user `written` names: by full name (case, accents and spacing
    /// ignored), by e-mail, then as `D. Whitfield`, `Dana W.` or `DW` when
    /// exactly one user fits. `chosen` (name as written → e-mail, empty to
    /// keep the text) wins over the rules.
    pub fn find(&self, written: &str, chosen: &BTreeMap<String, String>) -> UserMatch {
        if let Some(email) = chosen.get(written.trim()) {
            return match self.by_email(email) {
                Some(user) if !email.trim().is_empty() => UserMatch::User { user: user.clone() },
                _ => UserMatch::KeptAsText,
            };
        }
        if written.contains('@')
            && let Some(user) = self.by_email(written)
        {
            return UserMatch::User { user: user.clone() };
        }
        let words = name_words(written);
        if words.is_empty() {
            return UserMatch::NoUser {
                closest: Vec::new(),
            };
        }
        if let Some(found) = self.by_name.get(&words.concat()) {
            return self.one_of(found.clone(), written);
        }
        let fits: Vec<usize> = (0..self.users.len())
            .filter(|&i| abbreviation_fits(&words, written, &self.words[i]))
            .collect();
        self.one_of(fits, written)
    }

    fn one_of(&self, found: Vec<usize>, written: &str) -> UserMatch {
        match found.as_slice() {
            [one] => UserMatch::User {
                user: self.users[*one].clone(),
            },
            [] => UserMatch::NoUser {
                closest: self.closest(written),
            },
            several => UserMatch::Several {
                candidates: several.iter().map(|i| self.users[*i].clone()).collect(),
            },
        }
    }

    /// Up to three users whose names are nearest `written`.
    fn closest(&self, written: &str) -> Vec<CrmUser> {
        let key = match_key(written);
        let mut scored: Vec<(f64, usize)> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, words)| (strsim::jaro_winkler(&key, &words.concat()), i))
            .filter(|(score, _)| *score >= 0.6)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(3)
            .map(|(_, i)| self.users[i].clone())
            .collect()
    }
}

/// A name's words, folded as the CRM's matching folds them.
fn name_words(name: &str) -> Vec<String> {
    name.split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .map(match_key)
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `written` (as `words`) is an abbreviation of the user's name
/// `user`: `D. Whitfield` (first initial, last name), `Dana W.` (first name,
/// last initial), or `DW` (initials, written in capitals).
fn abbreviation_fits(words: &[String], written: &str, user: &[String]) -> bool {
    let (Some(first), Some(last)) = (user.first(), user.last()) else {
        return false;
    };
    if user.len() < 2 {
        return false;
    }
    match words {
        [initial, surname] if initial.chars().count() == 1 => {
            first.starts_with(initial.as_str()) && surname == last
        }
        [given, initial] if initial.chars().count() == 1 => {
            given == first && last.starts_with(initial.as_str())
        }
        [initials] => {
            let letters = written.trim();
            (2..=3).contains(&letters.chars().count())
                && letters.chars().all(|c| c.is_uppercase())
                && user
                    .iter()
                    .filter_map(|w| w.chars().next())
                    .collect::<String>()
                    == *initials
        }
        _ => false,
    }
}

/// The CRM user an import acts for: `created_by` and `updated_by` of what it
/// writes, and on a Supabase database the user whose requests the CRM's
/// row-level security policies judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingUser {
    /// The user.
    pub user: CrmUser,
    /// Whether each transaction runs as Supabase's API runs the user's
    /// requests (role `authenticated`, the user's JWT claims).
    pub row_level_security: bool,
}

impl ActingUser {
    /// The user with the e-mail `email`, checked before anything starts: it
    /// exists, and on a Supabase database the connecting role can become
    /// `authenticated`.
    pub async fn resolve(
        client: &tokio_postgres::Client,
        email: &str,
    ) -> Result<ActingUser, UsersError> {
        let (source, users) = list_users(client).await?;
        let directory = UserDirectory::new(users);
        let Some(user) = directory.by_email(email).cloned() else {
            return Err(UsersError::UnknownUser {
                email: email.trim().to_owned(),
                known: directory
                    .users()
                    .iter()
                    .take(5)
                    .map(|u| u.email.clone())
                    .collect(),
            });
        };
        let row_level_security = source == UserSource::SupabaseAuth;
        if row_level_security {
            let row = client
                .query_one(
                    "SELECT current_user::text, to_regrole('authenticated') IS NOT NULL \
                     AND pg_has_role(current_user, 'authenticated', 'MEMBER')",
                    &[],
                )
                .await?;
            if !row.try_get::<_, bool>(1)? {
                return Err(UsersError::CannotBecomeAuthenticated {
                    role: row.try_get(0)?,
                });
            }
        }
        Ok(ActingUser {
            user,
            row_level_security,
        })
    }

    /// Makes the transaction in progress act for the user: the setting the
    /// `created_by`/`updated_by` defaults read, and under row-level security
    /// the role and claims Supabase's API would set (PostgREST sets them
    /// the same way). One statement, so that pipelined statements after it
    /// run as the user; values go as parameters, the claims built as JSON.
    pub(crate) async fn enter(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<(), tokio_postgres::Error> {
        let claims = serde_json::json!({
            "sub": self.user.id,
            "role": "authenticated",
            "email": self.user.email,
        })
        .to_string();
        let id = self.user.id.to_string();
        let sql = if self.row_level_security {
            "SELECT set_config('request.jwt.claims', $1, true), \
             set_config('pantry.acting_user', $2, true), set_config('role', 'authenticated', true)"
        } else {
            "SELECT set_config('request.jwt.claims', $1, true), \
             set_config('pantry.acting_user', $2, true)"
        };
        client
            .execute_typed(sql, &[(&claims, Type::TEXT), (&id, Type::TEXT)])
            .await?;
        Ok(())
    }

    /// Enters the user in the transaction in progress when there is one to
    /// act for.
    pub(crate) async fn enter_if_any(
        acting: Option<&ActingUser>,
        client: &tokio_postgres::Client,
    ) -> Result<(), tokio_postgres::Error> {
        match acting {
            Some(acting) => acting.enter(client).await,
            None => Ok(()),
        }
    }
}

/// In words, a refusal by row-level security ("row-level security does not
/// let dana@broker.com insert into organizations"), when `error` is one.
pub fn row_security_refusal(
    error: &tokio_postgres::Error,
    acting: Option<&ActingUser>,
    doing: &str,
) -> Option<String> {
    let db = error.as_db_error()?;
    if db.code().code() != "42501" || !db.message().contains("row-level security") {
        return None;
    }
    let who = acting.map_or("this role", |a| a.user.email.as_str());
    // PostgreSQL names the table only in its message: `... for table "x"`.
    let table = db
        .table()
        .or_else(|| db.message().rsplit('"').nth(1))
        .unwrap_or("the table");
    Some(format!(
        "row-level security does not let {who} {doing} {table} ({})",
        db.message()
    ))
}

/// Fills the manager ids of an import's records as its rows are read, so
/// that they go in with the rows (a second pass over the table would write
/// every row twice): each distinct name is matched once, the broker's
/// choices over the rules; the names left as text are said once each.
#[derive(Debug)]
pub(crate) struct ManagerResolver {
    directory: UserDirectory,
    chosen: BTreeMap<String, String>,
    /// Positions among the stored fields: the name's, the id's.
    positions: Vec<(usize, usize)>,
    found: HashMap<String, Option<Uuid>>,
    /// Names left as text, in the order first read, with why.
    left: Vec<(String, UserMatch)>,
}

impl ManagerResolver {
    /// The resolver of an import of `description`'s rows, when the entity
    /// names users and the CRM has any.
    pub(crate) async fn for_import(
        client: &tokio_postgres::Client,
        description: &EntityDescription,
        chosen: &BTreeMap<String, String>,
    ) -> Result<Option<ManagerResolver>, UsersError> {
        let stored: Vec<&str> = description.stored_fields().map(|f| f.column).collect();
        let at = |column: &str| stored.iter().position(|c| *c == column);
        let positions: Vec<(usize, usize)> = description
            .managers()
            .filter_map(|m| Some((at(m.name)?, at(m.user_id)?)))
            .collect();
        if positions.is_empty() {
            return Ok(None);
        }
        let (_, users) = list_users(client).await?;
        if users.is_empty() {
            // A CRM without users: the names are text, as they always were.
            return Ok(None);
        }
        Ok(Some(ManagerResolver {
            directory: UserDirectory::new(users),
            chosen: chosen.clone(),
            positions,
            found: HashMap::new(),
            left: Vec::new(),
        }))
    }

    /// Sets the id of each manager `record` names (unless a cell of its
    /// own gave one), as a value the row gives.
    pub(crate) fn fill(&mut self, record: &mut Record) {
        for &(name_at, id_at) in &self.positions {
            let Some(Value::Text(name)) = record.values.get(name_at) else {
                continue;
            };
            if !matches!(record.values.get(id_at), Some(Value::Null)) {
                continue;
            }
            let name = name.trim();
            let id = match self.found.get(name) {
                Some(id) => *id,
                None => {
                    let matched = self.directory.find(name, &self.chosen);
                    let id = matched.user().map(|u| u.id);
                    if id.is_none() && matched != UserMatch::KeptAsText {
                        self.left.push((name.to_owned(), matched));
                    }
                    self.found.insert(name.to_owned(), id);
                    id
                }
            };
            if let Some(id) = id {
                record.values[id_at] = Value::Key(id);
                record.given |= 1 << id_at;
            }
        }
    }

    /// One notice per name left as text, with the closest users.
    pub(crate) fn notices(&self) -> Vec<FileNotice> {
        self.left
            .iter()
            .map(|(name, matched)| FileNotice {
                row: None,
                message: match matched {
                    UserMatch::Several { candidates } => format!(
                        "Manager '{name}' fits {} CRM users ({}); kept as text. Choose one in \
                         the window's Managers card, or with \"users\" in a mapping file",
                        candidates.len(),
                        describe_all(candidates)
                    ),
                    UserMatch::NoUser { closest } if !closest.is_empty() => format!(
                        "Manager '{name}' is no CRM user; kept as text (closest: {})",
                        describe_all(closest)
                    ),
                    _ => format!("Manager '{name}' is no CRM user; kept as text"),
                },
            })
            .collect()
    }
}

fn describe_all(users: &[CrmUser]) -> String {
    users
        .iter()
        .map(CrmUser::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One manager name written in the CRM's organizations.
#[derive(Debug, Clone, Serialize)]
pub struct ManagerName {
    /// As written.
    pub name: String,
    /// Live records that carry it.
    pub records: u64,
    /// Of those, how many have no user id for it.
    pub without_user: u64,
    /// Who it is, by the rules.
    #[serde(flatten)]
    pub matched: UserMatch,
}

/// The CRM's users, and the manager names of its records with their match.
#[derive(Debug, Clone, Serialize)]
pub struct UsersReport {
    /// Where the users live.
    pub source: UserSource,
    /// The users.
    pub users: Vec<CrmUser>,
    /// Every manager name in live organizations.
    pub managers: Vec<ManagerName>,
    /// Names some record still carries without a user id: when 0, the
    /// text columns hold nothing the ids do not.
    pub unmapped_names: usize,
}

/// The users and every manager name of the CRM's live organizations.
pub async fn users_report(
    client: &tokio_postgres::Client,
    chosen: &BTreeMap<String, String>,
) -> Result<UsersReport, UsersError> {
    let (source, users) = list_users(client).await?;
    let directory = UserDirectory::new(users.clone());
    let description = crate::entity::Entity::Organizations.description();
    let pairs: Vec<String> = description
        .managers()
        .map(|m| format!("(t.{}, t.{})", m.name, m.user_id))
        .collect();
    let rows = client
        .query(
            &format!(
                "SELECT btrim(n), count(*), count(*) FILTER (WHERE v.user_id IS NULL) \
                 FROM {} t CROSS JOIN LATERAL (VALUES {}) v(n, user_id) \
                 WHERE t.deleted_at IS NULL AND btrim(coalesce(n, '')) <> '' GROUP BY 1 ORDER BY 1",
                description.table,
                pairs.join(", ")
            ),
            &[],
        )
        .await?;
    let mut managers = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let (records, without_user): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
        managers.push(ManagerName {
            matched: directory.find(&name, chosen),
            name,
            records: u64::try_from(records).unwrap_or(0),
            without_user: u64::try_from(without_user).unwrap_or(0),
        });
    }
    let unmapped_names = managers.iter().filter(|m| m.without_user > 0).count();
    Ok(UsersReport {
        source,
        users,
        managers,
        unmapped_names,
    })
}

/// What `users --link` did.
#[derive(Debug, Clone, Serialize)]
pub struct LinkedManagers {
    /// Its entry in the history (`None`: nothing to change).
    pub import_id: Option<i64>,
    /// Organizations whose manager ids it set.
    pub records: u64,
    /// Names given a user.
    pub names_linked: Vec<String>,
    /// Names left as text, with why.
    pub names_left: Vec<ManagerName>,
}

/// Reads `NAME=EMAIL` (as `--map` takes it).
pub fn parse_map(text: &str) -> Result<(String, String), UsersError> {
    match text.split_once('=') {
        Some((name, email)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), email.trim().to_owned()))
        }
        _ => Err(UsersError::BadMap(text.to_owned())),
    }
}

/// Fills the manager ids of the CRM's existing organizations from their
/// names (`chosen` over the rules), recorded in the history as an update of
/// organizations, so that `undo` gives the records the ids they had.
pub async fn link_existing(
    client: &mut tokio_postgres::Client,
    chosen: &BTreeMap<String, String>,
) -> Result<LinkedManagers, UsersError> {
    let report = users_report(client, chosen).await?;
    let mut names: (Vec<String>, Vec<Uuid>) = (Vec::new(), Vec::new());
    let mut names_left = Vec::new();
    for manager in report.managers {
        match manager.matched.user() {
            Some(user) => {
                names.0.push(manager.name.clone());
                names.1.push(user.id);
            }
            None => names_left.push(manager),
        }
    }
    let description = crate::entity::Entity::Organizations.description();
    let table = description.table;
    let managers: Vec<_> = description.managers().collect();
    let joins: Vec<String> = managers
        .iter()
        .enumerate()
        .map(|(i, m)| format!("LEFT JOIN map m{i} ON m{i}.name = btrim(t.{})", m.name))
        .collect();
    let picked: Vec<String> = (0..managers.len())
        .map(|i| format!("m{i}.id AS id{i}"))
        .collect();
    let differs: Vec<String> = managers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "(m{i}.id IS NOT NULL AND t.{} IS DISTINCT FROM m{i}.id)",
                m.user_id
            )
        })
        .collect();
    let sets: Vec<String> = managers
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{0} = coalesce(g.id{i}, t.{0})", m.user_id))
        .collect();
    let transaction = client.transaction().await?;
    let import_id: i64 = transaction
        .query_one(
            "INSERT INTO import_batches (entity, kind, file_name, file_fingerprint, sheet, on_duplicate, total_rows) \
             VALUES ('organizations', 'link managers', 'users --link (manager names to CRM users)', '', '', 'update', 0) \
             RETURNING id",
            &[],
        )
        .await?
        .try_get(0)?;
    let changed: i64 = transaction
        .query_typed_one(
            &format!(
                "WITH map AS (SELECT * FROM unnest($2::text[], $3::uuid[]) AS u(name, id)), \
                 targets AS (SELECT t.id, {picked} FROM {table} t {joins} \
                   WHERE t.deleted_at IS NULL AND ({differs})), \
                 recorded AS (INSERT INTO import_matches (import_batch_id, source_row, record_id, action, previous) \
                   SELECT $1, (row_number() OVER (ORDER BY t.id))::int, t.id, 'updated', to_jsonb(t) \
                   FROM {table} t JOIN targets g ON g.id = t.id), \
                 changed AS (UPDATE {table} t SET {sets} FROM targets g WHERE t.id = g.id RETURNING t.id) \
                 SELECT count(*) FROM changed",
                picked = picked.join(", "),
                joins = joins.join(" "),
                differs = differs.join(" OR "),
                sets = sets.join(", "),
            ),
            &[
                (&import_id, Type::INT8),
                (&names.0, Type::TEXT_ARRAY),
                (&names.1, Type::UUID_ARRAY),
            ],
        )
        .await?
        .try_get(0)?;
    let changed = i32::try_from(changed).unwrap_or(i32::MAX);
    transaction
        .execute_typed(
            "UPDATE import_batches SET status = 'finished', finished_at = now(), \
             total_rows = $2, updated = $2 WHERE id = $1",
            &[(&import_id, Type::INT8), (&changed, Type::INT4)],
        )
        .await?;
    if changed == 0 {
        // Nothing to undo: no entry in the history.
        transaction.rollback().await?;
    } else {
        transaction.commit().await?;
    }
    Ok(LinkedManagers {
        import_id: (changed > 0).then_some(import_id),
        records: u64::try_from(changed).unwrap_or(0),
        names_linked: names.0,
        names_left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, email: &str) -> CrmUser {
        CrmUser {
            id: Uuid::now_v7(),
            email: email.to_owned(),
            full_name: name.to_owned(),
        }
    }

    #[test]
    fn names_find_their_user_by_the_spec_rules() {
        let dana = user("Dana Whitfield", "dana@broker.com");
        let directory = UserDirectory::new(vec![
            dana.clone(),
            user("Dan Wheeler", "dan@broker.com"),
            user("José Núñez", "jose@broker.com"),
        ]);
        let none = BTreeMap::new();
        for written in [
            "Dana Whitfield",
            "  dana   WHITFIELD ",
            "DANA@broker.com",
            "Dana W.",
            "D. Whitfield",
        ] {
            assert_eq!(
                directory.find(written, &none).user().map(|u| &u.email),
                Some(&dana.email),
                "{written}"
            );
        }
        assert_eq!(
            directory
                .find("Jose Nunez", &none)
                .user()
                .map(|u| u.email.as_str()),
            Some("jose@broker.com"),
            "accents ignored"
        );
        assert_eq!(
            directory.find("JN", &none).user().map(|u| u.email.as_str()),
            Some("jose@broker.com")
        );
        // D. W… fits two users: neither is taken.
        assert!(matches!(
            directory.find("DW", &none),
            UserMatch::Several { candidates } if candidates.len() == 2
        ));
        match directory.find("Dana Whitfeld", &none) {
            UserMatch::NoUser { closest } => assert_eq!(closest[0].email, "dana@broker.com"),
            other => panic!("{other:?}"),
        }
        // The broker's choice wins, and can keep the text.
        let chosen: BTreeMap<String, String> = [
            ("Dana Whitfeld".to_owned(), "dana@broker.com".to_owned()),
            ("Dana Whitfield".to_owned(), String::new()),
        ]
        .into();
        assert!(directory.find("Dana Whitfeld", &chosen).user().is_some());
        assert_eq!(
            directory.find("Dana Whitfield", &chosen),
            UserMatch::KeptAsText
        );
    }
}
