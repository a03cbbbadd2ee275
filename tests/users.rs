//! CRM users (SPEC.md, "CRM users"): manager names matched to users at
//! import, imports acting as a user under a Supabase-shaped database's
//! row-level security, and `users --link` with its undo, against real
//! PostgreSQL (a database shaped like Supabase's is built by
//! tests/data/supabase/auth_schema.sql; see its SOURCE.md).

mod common;

use common::{TestDatabase, data, import_file, pantry, text};
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::import::{ImportError, ImportOptions};
use pantry_core::progress::ImportProgress;
use pantry_core::users::{ActingUser, UsersError};
use uuid::Uuid;

const DANA: &str = "00000000-0000-7000-8000-00000000da0a";
const SAM: &str = "00000000-0000-7000-8000-0000000005a0";
const VIC: &str = "00000000-0000-7000-8000-0000000000f1";

/// A migrated CRM shaped like a Supabase project: auth.users with Dana and
/// Sam (sales team, may write) and Vic (may only read).
async fn supabase_crm() -> TestDatabase {
    let db = TestDatabase::migrated().await;
    let client = db.client().await;
    let schema = std::fs::read_to_string(data("supabase/auth_schema.sql")).unwrap();
    client.batch_execute(&schema).await.unwrap();
    for (id, email, name, writer) in [
        (DANA, "dana@broker.com", "Dana Whitfield", true),
        (SAM, "sam@broker.com", "Sam Ortiz", true),
        (VIC, "vic@broker.com", "Vic Ames", false),
    ] {
        let id: Uuid = id.parse().unwrap();
        let meta = serde_json::json!({ "full_name": name }).to_string();
        client
            .execute(
                "INSERT INTO auth.users (id, aud, role, email, raw_user_meta_data) \
                 VALUES ($1, 'authenticated', 'authenticated', $2, $3::text::jsonb)",
                &[&id, &email, &meta],
            )
            .await
            .unwrap();
        if writer {
            client
                .execute("INSERT INTO crm_writers VALUES ($1)", &[&id])
                .await
                .unwrap();
        }
    }
    db
}

async fn acting(db: &TestDatabase, email: &str) -> Result<ActingUser, UsersError> {
    ActingUser::resolve(&db.client().await, email).await
}

fn write_csv(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

async fn import_as(
    db: &TestDatabase,
    path: &std::path::Path,
    email: Option<&str>,
    on_duplicate: DuplicatePolicy,
) -> Result<pantry_core::report::SheetReport, ImportError> {
    let acting = match email {
        Some(email) => Some(acting(db, email).await.expect("a user")),
        None => None,
    };
    let options = ImportOptions {
        acting,
        on_duplicate,
        again: true,
        ..ImportOptions::default()
    };
    import_file(path, &db.settings(), &options, ImportProgress::new(None)).await
}

/// Each organization's name, created_by, updated_by and manager ids.
async fn owners(
    db: &TestDatabase,
) -> Vec<(
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
)> {
    db.client()
        .await
        .query(
            "SELECT name, created_by, updated_by, primary_manager_id, secondary_manager_id \
             FROM organizations WHERE deleted_at IS NULL ORDER BY name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_as_a_user_stores_rows_that_user_owns_with_its_managers_as_users() {
    let db = supabase_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_csv(
        dir.path(),
        "accounts.csv",
        "Organizations,PRIMARY ACCT. MANAGER,SECONDARY ACCT. MANAGER\n\
         Cafe Alpha,Dana Whitfield,Sam Ortiz\n\
         Cafe Beta,D. Whitfield,Pat Unknown\n\
         Cafe Gamma,sam@broker.com,\n",
    );
    let report = import_as(&db, &path, Some("dana@broker.com"), DuplicatePolicy::Skip)
        .await
        .unwrap();
    assert_eq!(
        (report.succeeded, report.failed),
        (3, 0),
        "{:?}",
        report.failures
    );
    let (dana, sam): (Uuid, Uuid) = (DANA.parse().unwrap(), SAM.parse().unwrap());
    assert_eq!(
        owners(&db).await,
        vec![
            (
                "Cafe Alpha".into(),
                Some(dana),
                Some(dana),
                Some(dana),
                Some(sam)
            ),
            ("Cafe Beta".into(), Some(dana), Some(dana), Some(dana), None),
            ("Cafe Gamma".into(), Some(dana), Some(dana), Some(sam), None),
        ]
    );
    // The text stays, and the name no user has gets one notice.
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE secondary_manager_name = 'Pat Unknown'")
            .await,
        1
    );
    let notices: Vec<&str> = report.notices.iter().map(|n| n.message.as_str()).collect();
    assert!(
        notices.contains(&"Manager 'Pat Unknown' is no CRM user; kept as text"),
        "{notices:?}"
    );
    assert!(
        !notices.iter().any(|n| n.contains("no data rows")),
        "a sheet with rows is not said to have none: {notices:?}"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM import_batches WHERE acting_user_email = 'dana@broker.com' AND acting_user_id IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_as_a_user_the_policies_refuse_stores_nothing_and_says_why() {
    let db = supabase_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_csv(
        dir.path(),
        "accounts.csv",
        "Organizations\nCafe Alpha\nCafe Beta\n",
    );
    let error = import_as(&db, &path, Some("vic@broker.com"), DuplicatePolicy::Skip)
        .await
        .expect_err("Vic may not write");
    let message = error.to_string();
    assert!(
        message
            .contains("row-level security does not let vic@broker.com insert into organizations"),
        "{message}"
    );
    assert!(
        message.contains("nothing of that batch was stored"),
        "{message}"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 0);

    // The command line says the same, and an unknown user before anything.
    let output = pantry(&[
        "import",
        path.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--as",
        "nobody@broker.com",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no CRM user has the e-mail 'nobody@broker.com'; users: dana@broker.com, sam@broker.com, vic@broker.com"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_the_policy_forbids_for_one_record_fails_that_row_and_the_rest_go_in() {
    let db = supabase_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let dana_file = write_csv(
        dir.path(),
        "dana.csv",
        "Organizations,CITY\nCafe Alpha,Chicago\nCafe Beta,Chicago\n",
    );
    let sam_file = write_csv(
        dir.path(),
        "sam.csv",
        "Organizations,CITY\nCafe Gamma,Chicago\n",
    );
    import_as(
        &db,
        &dana_file,
        Some("dana@broker.com"),
        DuplicatePolicy::Skip,
    )
    .await
    .unwrap();
    import_as(
        &db,
        &sam_file,
        Some("sam@broker.com"),
        DuplicatePolicy::Skip,
    )
    .await
    .unwrap();
    // Next month's file, with a phone for every account, imported by Dana.
    let april = write_csv(
        dir.path(),
        "april.csv",
        "Organizations,CITY,PHONE\nCafe Alpha,Chicago,312-555-0101\nCafe Beta,Chicago,312-555-0102\n\
         Cafe Gamma,Chicago,312-555-0103\nCafe Delta,Chicago,312-555-0104\n",
    );
    let report = import_as(
        &db,
        &april,
        Some("dana@broker.com"),
        DuplicatePolicy::Update,
    )
    .await
    .unwrap();
    assert_eq!((report.succeeded, report.updated, report.failed), (3, 2, 1));
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].row, 4);
    assert_eq!(
        report.failures[0].message,
        "Matches 'Cafe Gamma (Chicago)' in the CRM, which row-level security does not let dana@broker.com update; not updated"
    );
    let phones: Vec<(String, Option<String>, Option<Uuid>)> = db
        .client()
        .await
        .query(
            "SELECT name, phone, updated_by FROM organizations ORDER BY name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let (dana, sam): (Uuid, Uuid) = (DANA.parse().unwrap(), SAM.parse().unwrap());
    assert_eq!(
        phones,
        vec![
            ("Cafe Alpha".into(), Some("312-555-0101".into()), Some(dana)),
            ("Cafe Beta".into(), Some("312-555-0102".into()), Some(dana)),
            ("Cafe Delta".into(), Some("312-555-0104".into()), Some(dana)),
            ("Cafe Gamma".into(), None, Some(sam)),
        ]
    );
    // The history counts what happened; no match is kept for the refused row.
    assert_eq!(
        db.count("SELECT count(*) FROM import_matches WHERE source_row = 4 AND action = 'updated'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_become_authenticated_is_told_before_anything_starts() {
    let db = supabase_crm().await;
    let client = db.client().await;
    let role = format!("importer_{}", db.name);
    client
        .batch_execute(&format!("CREATE ROLE {role} LOGIN; GRANT ALL ON ALL TABLES IN SCHEMA public, auth TO {role}; GRANT USAGE ON SCHEMA auth TO {role}"))
        .await
        .unwrap();
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    let settings = pantry_core::database::ConnectionSettings::parse(&url).unwrap();
    let importer = settings.connect().await.unwrap();
    let error = ActingUser::resolve(&importer, "dana@broker.com")
        .await
        .expect_err("not a member of authenticated");
    assert!(
        error.to_string().starts_with(&format!(
            "the database role '{role}' cannot become 'authenticated'"
        )),
        "{error}"
    );
    drop(importer);
    client
        .batch_execute(&format!("REVOKE ALL ON ALL TABLES IN SCHEMA public, auth FROM {role}; REVOKE USAGE ON SCHEMA auth FROM {role}; DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_postgresql_keeps_its_users_in_crm_users_and_links_existing_records_reversibly() {
    let db = TestDatabase::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO crm_users (id, full_name, email) VALUES \
             ('00000000-0000-7000-8000-00000000da0a', 'Dana Whitfield', 'dana@broker.com'), \
             ('00000000-0000-7000-8000-0000000005a0', 'Sam Ortiz', 'sam@broker.com'); \
             INSERT INTO organizations (name, primary_manager_name, secondary_manager_name) VALUES \
             ('Cafe Alpha', 'Dana Whitfield', 'SO'), ('Cafe Beta', 'Dana W.', NULL), \
             ('Cafe Gamma', 'D.W.', 'Pat Unknown')",
        )
        .await
        .unwrap();
    let before = owners(&db).await;

    // users --json: each name, its match and its records.
    let output = pantry(&["users", "--database-url", &db.url, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["source"], "crm_users");
    assert_eq!(listed["users"].as_array().unwrap().len(), 2);
    assert_eq!(listed["unmapped_names"], 5);
    let by_name = |name: &str| {
        listed["managers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} listed"))
    };
    assert_eq!(by_name("Dana W.")["user"]["email"], "dana@broker.com");
    assert_eq!(by_name("SO")["user"]["email"], "sam@broker.com");
    assert_eq!(by_name("Pat Unknown")["match"], "no_user");
    assert_eq!(by_name("D.W.")["records"], 1);

    // --link fills the ids ('D.W.' by hand), recorded in the history.
    let output = pantry(&[
        "users",
        "--database-url",
        &db.url,
        "--link",
        "--map",
        "D.W.=dana@broker.com",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let linked: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(linked["records"], 3);
    let import = linked["import_id"].as_i64().unwrap();
    let (dana, sam): (Uuid, Uuid) = (DANA.parse().unwrap(), SAM.parse().unwrap());
    let after: Vec<(String, Option<Uuid>, Option<Uuid>)> = owners(&db)
        .await
        .into_iter()
        .map(|(name, _, _, primary, secondary)| (name, primary, secondary))
        .collect();
    assert_eq!(
        after,
        vec![
            ("Cafe Alpha".into(), Some(dana), Some(sam)),
            ("Cafe Beta".into(), Some(dana), None),
            ("Cafe Gamma".into(), Some(dana), None),
        ]
    );
    let output = pantry(&["users", "--database-url", &db.url, "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["unmapped_names"], 1, "only Pat Unknown is left");

    // undo gives back the ids they had: the table as it was.
    let output = pantry(&["undo", &import.to_string(), "--database-url", &db.url]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(owners(&db).await, before);

    // An import acting as a user there: created_by is the user, no RLS.
    let dir = tempfile::tempdir().unwrap();
    let path = write_csv(
        dir.path(),
        "more.csv",
        "Organizations,PRIMARY ACCT. MANAGER\nCafe Delta,Sam Ortiz\n",
    );
    let acting = acting(&db, "sam@broker.com").await.unwrap();
    assert!(!acting.row_level_security);
    let options = ImportOptions {
        acting: Some(acting),
        ..ImportOptions::default()
    };
    import_file(&path, &db.settings(), &options, ImportProgress::new(None))
        .await
        .unwrap();
    let delta = client
        .query_one(
            "SELECT created_by, primary_manager_id FROM organizations WHERE name = 'Cafe Delta'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            delta.get::<_, Option<Uuid>>(0),
            delta.get::<_, Option<Uuid>>(1)
        ),
        (Some(sam), Some(sam))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_acting_as_a_user_removes_only_what_the_policies_let_that_user_change() {
    use pantry_core::sync::{Sync, SyncOptions};
    let db = supabase_crm().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_csv(
        dir.path(),
        "accounts.csv",
        "Organizations,CITY\nCafe One,Chicago\nCafe Two,Chicago\nCafe Three,Chicago\n",
    );
    let options = SyncOptions {
        acting: Some(acting(&db, "dana@broker.com").await.unwrap()),
        remove_missing: true,
        ..SyncOptions::default()
    };
    let mut sync = Sync::start(&db.settings(), &path, options).await.unwrap();
    let first = sync.pass(&path, None).await.unwrap();
    assert_eq!(first.created, 3, "{first:?}");
    // Cafe Two passes to Sam, whose records Dana may not change.
    db.client()
        .await
        .execute(
            "UPDATE organizations SET created_by = $1 WHERE name = 'Cafe Two'",
            &[&SAM.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    write_csv(
        dir.path(),
        "accounts.csv",
        "Organizations,CITY\nCafe One,Chicago\n",
    );
    let second = sync.pass(&path, None).await.unwrap();
    // Both are gone from the file; only Dana's own record is removed, as
    // Dana: the policies keep Sam's.
    assert_eq!(second.gone.len(), 2, "{second:?}");
    assert_eq!(second.removed, 1, "{second:?}");
    assert_eq!(
        second.notices,
        [
            "1 gone record was left in the CRM: the CRM's security does not let dana@broker.com change it"
        ]
    );
    let deleted: Vec<(String, bool)> = db
        .client()
        .await
        .query(
            "SELECT name, deleted_at IS NOT NULL FROM organizations ORDER BY name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        deleted,
        vec![
            ("Cafe One".to_owned(), false),
            ("Cafe Three".to_owned(), true),
            ("Cafe Two".to_owned(), false),
        ]
    );
}
