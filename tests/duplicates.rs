//! Duplicates against the CRM (SPEC.md, "Duplicates against the CRM"), with
//! the real binary against a real PostgreSQL: each policy, the city rule,
//! undo of updates and of records edited since, two imports at once, and a
//! client killed mid-import.

mod common;

use std::path::{Path, PathBuf};

use common::{TestDatabase, pantry, text};
use serde_json::Value;

/// Runs `import FILE --json` against `db` with `extra` arguments; returns
/// the exit code and the JSON.
fn import(db: &TestDatabase, file: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--database-url",
        db.url.as_str(),
        "--json",
    ];
    args.extend(extra);
    let output = pantry(&args);
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no JSON: {}", text(&output.stderr)));
    (output.status.code().unwrap_or(-1), json)
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Every live organization: name, city, priority, phone, notes.
async fn organizations(db: &TestDatabase) -> Vec<(String, String, String, String, String)> {
    db.client()
        .await
        .query(
            "SELECT name, coalesce(city, ''), priority::text, coalesce(phone, ''), \
                    coalesce(import_notes, '') \
             FROM organizations WHERE deleted_at IS NULL ORDER BY name, city",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

const MARCH: &str = "Organizations,CITY,PRIORITY,SEGMENT,PHONE\n\
    Hoboken Provisions,Hoboken,A,Casual,(201) 555-0100\n\
    Café Olé,Chicago,B,Fine Dining,\n\
    Joe's Rusty Spoon,Austin,,Casual,\n";

/// April's export: the same three (written another way), Hoboken
/// Provisions again in another city, and a new one.
const APRIL: &str = "Organizations,CITY,PRIORITY,SEGMENT,PHONE,Region\n\
    HOBOKEN PROVISIONS,Hoboken,B,,(201) 555-0199,East\n\
    Cafe Ole,Chicago,,,,\n\
    Joes Rusty Spoon,,D,,,South\n\
    Hoboken Provisions,Newark,C,,,\n\
    New Place,Boston,,,,\n";

#[tokio::test]
async fn skipping_is_the_default_and_the_same_file_twice_changes_nothing() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let march = write(dir.path(), "march.csv", MARCH);
    let april = write(dir.path(), "april.csv", APRIL);
    import(&db, &march, &[]);
    let before = organizations(&db).await;

    let (code, json) = import(&db, &april, &[]);
    assert_eq!(code, 0);
    // Case, accents and punctuation do not make another organization; another
    // city does; a blank city matches.
    assert_eq!(json["total"], 5);
    assert_eq!(json["succeeded"], 2);
    assert_eq!(json["skipped"], 3);
    assert_eq!(json["updated"], 0);
    let skipped: Vec<(u64, String)> = json["skipped_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["row"].as_u64().unwrap(),
                m["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                2,
                "Matches 'Hoboken Provisions (Hoboken)' in the CRM; skipped".to_owned()
            ),
            (
                3,
                "Matches 'Café Olé (Chicago)' in the CRM; skipped".to_owned()
            ),
            (
                4,
                "Matches 'Joe's Rusty Spoon (Austin)' in the CRM; skipped".to_owned()
            ),
        ]
    );
    let after = organizations(&db).await;
    assert_eq!(after.len(), 5);
    // The three that were there are untouched.
    for record in &before {
        assert!(after.contains(record), "{record:?} changed");
    }

    // The same month's file again: nothing changes, everything is skipped.
    let (code, json) = import(&db, &april, &["--again"]);
    assert_eq!(code, 0);
    assert_eq!(
        (json["succeeded"].as_u64(), json["skipped"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(organizations(&db).await, after);
    let history = pantry(&["history", "--database-url", &db.url]);
    let listed = text(&history.stdout);
    assert!(listed.contains("skipped"), "{listed}");
}

#[tokio::test]
async fn update_writes_only_filled_cells_and_undo_puts_every_record_back() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let march = write(dir.path(), "march.csv", MARCH);
    let april = write(dir.path(), "april.csv", APRIL);
    import(&db, &march, &[]);
    let client = db.client().await;
    // Every column of every record but updated_at, which the undo moves on.
    let snapshot = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let before = snapshot(
        client
            .query(
                "SELECT (to_jsonb(o) - 'updated_at')::text FROM organizations o ORDER BY id",
                &[],
            )
            .await
            .unwrap(),
    );

    let (code, json) = import(&db, &april, &["--on-duplicate", "update"]);
    assert_eq!(code, 0);
    assert_eq!(
        (json["succeeded"].as_u64(), json["updated"].as_u64()),
        (Some(5), Some(3))
    );
    let import_id = db.count("SELECT max(id) FROM import_batches").await;
    let after = organizations(&db).await;
    let hoboken = after
        .iter()
        .find(|o| o.0 == "Hoboken Provisions" && o.1 == "Hoboken")
        .unwrap();
    // Priority and phone from the file; the name keeps the CRM's spelling
    // (the file's differs only in case); notes merged.
    assert_eq!(hoboken.2, "B");
    assert_eq!(hoboken.3, "(201) 555-0199");
    let notes: Value = serde_json::from_str(&hoboken.4).unwrap();
    assert_eq!(notes["Region"], "East");
    assert_eq!(notes["SEGMENT"], "Casual");
    let cafe = after.iter().find(|o| o.1 == "Chicago").unwrap();
    // Blank cells blanked nothing: not the priority (whose blank means C),
    // not the accents of the name.
    assert_eq!((cafe.0.as_str(), cafe.2.as_str()), ("Café Olé", "B"));
    let joe = after.iter().find(|o| o.1 == "Austin").unwrap();
    assert_eq!((joe.0.as_str(), joe.2.as_str()), ("Joe's Rusty Spoon", "D"));
    assert_eq!(
        db.count(
            "SELECT count(*) FROM organizations WHERE updated_at > created_at AND import_source_row IS NOT NULL"
        )
        .await,
        3
    );

    // Undo: the two created are soft-deleted, the three updated are as before.
    let undo = pantry(&["undo", &import_id.to_string(), "--database-url", &db.url]);
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    assert!(
        text(&undo.stdout)
            .contains("2 rows soft-deleted, 3 updated records given back their values from before"),
        "{}",
        text(&undo.stdout)
    );
    let restored = snapshot(
        client
            .query(
                "SELECT (to_jsonb(o) - 'updated_at')::text FROM organizations o \
                 WHERE deleted_at IS NULL ORDER BY id",
                &[],
            )
            .await
            .unwrap(),
    );
    assert_eq!(restored, before);
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM import_batches WHERE id = {import_id} AND status = 'undone'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_record_edited_after_the_update_is_left_alone_unless_forced() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    import(&db, &write(dir.path(), "march.csv", MARCH), &[]);
    import(
        &db,
        &write(dir.path(), "april.csv", APRIL),
        &["--on-duplicate", "update"],
    );
    let import_id = db
        .count("SELECT max(id) FROM import_batches")
        .await
        .to_string();
    let client = db.client().await;
    client
        .execute(
            "UPDATE organizations SET phone = '(512) 555-0000' WHERE city = 'Austin'",
            &[],
        )
        .await
        .unwrap();

    let undo = pantry(&["undo", &import_id, "--database-url", &db.url]);
    assert_eq!(undo.status.code(), Some(1));
    let said = text(&undo.stdout);
    assert!(said.contains("2 updated records given back"), "{said}");
    assert!(said.contains("row 4: Joe's Rusty Spoon (Austin)"), "{said}");
    let joe = organizations(&db)
        .await
        .into_iter()
        .find(|o| o.1 == "Austin")
        .unwrap();
    // The update and the hand edit both stay.
    assert_eq!((joe.2.as_str(), joe.3.as_str()), ("D", "(512) 555-0000"));

    let forced = pantry(&["undo", &import_id, "--database-url", &db.url, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stdout));
    let joe = organizations(&db)
        .await
        .into_iter()
        .find(|o| o.1 == "Austin")
        .unwrap();
    assert_eq!((joe.2.as_str(), joe.3.as_str()), ("C", ""));
}

#[tokio::test]
async fn create_stores_every_row_and_an_unclear_match_is_not_updated() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    import(&db, &write(dir.path(), "march.csv", MARCH), &[]);
    let (code, json) = import(
        &db,
        &write(dir.path(), "april.csv", APRIL),
        &["--on-duplicate", "create"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        (json["succeeded"].as_u64(), json["skipped"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 8);

    // Now "Hoboken Provisions" in Hoboken is there twice: an update cannot
    // tell which to change, and says so.
    let (code, json) = import(
        &db,
        &write(
            dir.path(),
            "may.csv",
            "Organizations,CITY,PRIORITY\nHoboken Provisions,,D\n",
        ),
        &["--on-duplicate", "update"],
    );
    assert_eq!(code, 1);
    assert_eq!(json["failed"], 1);
    let message = json["failures"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Matches 3 organizations in the CRM ('Hoboken Provisions (Hoboken)', 'HOBOKEN PROVISIONS (Hoboken)', 'Hoboken Provisions (Newark)'); not updated"),
        "{message}"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM organizations WHERE name ILIKE 'hoboken%' AND priority = 'D'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn contacts_match_by_email_else_by_name_within_their_organization() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    import(
        &db,
        &write(
            dir.path(),
            "orgs.csv",
            "Organizations,CITY\nSysco,Chicago\nHeinz,Pittsburgh\n",
        ),
        &[],
    );
    let people = "First Name,Last Name,Company,Email,Title\n\
        Mary,Smith,Sysco,mary@sysco.com,Buyer\n\
        John,Doe,Sysco,,Chef\n\
        John,Doe,Heinz,,Owner\n";
    import(
        &db,
        &write(dir.path(), "people.csv", people),
        &["--entity", "contacts"],
    );
    let again = "First Name,Last Name,Company,Email,Title\n\
        Maria,Smith-Jones,Sysco,MARY@SYSCO.COM ,Head Buyer\n\
        John,Doe,Sysco,,Executive Chef\n\
        John,Doe,Heinz,,\n\
        John,Doe,,,Consultant\n";
    let (code, json) = import(
        &db,
        &write(dir.path(), "people again.csv", again),
        &["--entity", "contacts", "--on-duplicate", "update"],
    );
    assert_eq!(code, 0, "{json}");
    // Mary by her email (her name changed), John at Sysco by name within
    // Sysco, John at Heinz likewise (nothing filled to change); the John
    // with no company is someone else.
    assert_eq!(json["updated"], 3);
    assert_eq!(json["succeeded"], 4);
    let rows: Vec<(String, String, String)> = db
        .client()
        .await
        .query(
            "SELECT c.first_name || ' ' || c.last_name, coalesce(o.name, ''), coalesce(c.title, '') \
             FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("John Doe".into(), "".into(), "Consultant".into()),
            ("John Doe".into(), "Heinz".into(), "Owner".into()),
            ("John Doe".into(), "Sysco".into(), "Executive Chef".into()),
            (
                "Maria Smith-Jones".into(),
                "Sysco".into(),
                "Head Buyer".into()
            ),
        ]
    );
}

/// Two imports of the same file, started at the same moment, never store a
/// row twice: the batches take turns under the entity's lock and each sees
/// the other's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_imports_of_one_file_at_once_store_each_row_once() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let file = common::write_accounts(dir.path(), 20_000);
    let run = |file: PathBuf, url: String| {
        std::thread::spawn(move || {
            pantry(&[
                "import",
                file.to_str().unwrap(),
                "--database-url",
                &url,
                "--batch-size",
                "2000",
                "--again",
                "--json",
            ])
        })
    };
    let first = run(file.clone(), db.url.clone());
    let second = run(file.clone(), db.url.clone());
    let outputs = [first.join().unwrap(), second.join().unwrap()];
    // Either both ran, the later skipping what the other stored, or the
    // later found the other's import running and said so.
    let mut stored = 0;
    let mut settled = 0;
    for output in &outputs {
        if output.status.code() == Some(2) {
            let said = text(&output.stderr);
            assert!(
                said.contains("is being imported right now in another session"),
                "{said}"
            );
            continue;
        }
        let json: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", text(&output.stderr)));
        assert_eq!(json["failed"], 0, "{json}");
        stored += json["succeeded"].as_u64().unwrap();
        settled += json["succeeded"].as_u64().unwrap() + json["skipped"].as_u64().unwrap();
    }
    assert_eq!(stored, 20_000);
    assert!(settled == 20_000 || settled == 40_000, "{settled}");
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 20_000);
    assert_eq!(
        db.count("SELECT count(DISTINCT name) FROM organizations")
            .await,
        20_000
    );
}

/// A client killed with SIGKILL while updating resumes on the next run:
/// every row settled once, every updated record recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_update_resumes_with_nothing_lost_or_doubled() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let rows = 30_000;
    // Half the rows are in the CRM already.
    let crm = dir.path().join("crm");
    std::fs::create_dir(&crm).unwrap();
    let half = common::write_accounts(&crm, rows / 2);
    import(&db, &half, &[]);
    let path = dir.path().join("accounts.csv");
    let mut sheet = String::from("Organizations,CITY,PRIORITY\n");
    for i in 0..rows {
        sheet.push_str(&format!("Account {i},Chicago,A\n"));
    }
    std::fs::write(&path, sheet).unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pantry-import"))
        .args([
            "import",
            path.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--batch-size",
            "500",
            "--on-duplicate",
            "update",
        ])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while db.count("SELECT count(*) FROM import_matches").await < 2_000 {
        assert!(std::time::Instant::now() < deadline, "no batch went in");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let settled_before = db.count("SELECT count(*) FROM import_matches").await
        + db.count("SELECT count(*) FROM organizations WHERE import_batch_id = 2")
            .await;
    assert!(
        settled_before < rows as i64,
        "the kill came too late to test anything"
    );

    // The killed client's server process may take a moment to go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (code, json) = loop {
        let output = pantry(&[
            "import",
            path.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--on-duplicate",
            "update",
            "--json",
        ]);
        if output.status.code() == Some(2)
            && text(&output.stderr).contains("is being imported right now")
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let json: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", text(&output.stderr)));
        break (output.status.code().unwrap_or(-1), json);
    };
    assert_eq!(code, 0, "{json}");
    assert!(json["already_stored"].as_u64().unwrap() > 0);
    assert_eq!(
        db.count("SELECT count(*) FROM organizations").await,
        rows as i64
    );
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE priority = 'A'")
            .await,
        rows as i64
    );
    // Each of the CRM's records was updated once, by one row.
    assert_eq!(
        db.count("SELECT count(*) FROM import_matches WHERE action = 'updated'")
            .await,
        (rows / 2) as i64
    );
    assert_eq!(
        db.count("SELECT count(DISTINCT record_id) FROM import_matches")
            .await,
        (rows / 2) as i64
    );
    assert_eq!(
        db.count("SELECT updated::bigint FROM import_batches WHERE id = 2")
            .await,
        (rows / 2) as i64
    );
}

#[tokio::test]
async fn a_near_duplicate_is_imported_with_a_warning_naming_the_record() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    import(&db, &write(dir.path(), "march.csv", MARCH), &[]);
    let may = "Organizations,CITY\n\
        The Joes Rusty Spoon Inc.,Austin\n\
        Hoboken Provisons,Hoboken\n\
        Hoboken Pizza,Hoboken\n";
    let (code, json) = import(&db, &write(dir.path(), "may.csv", may), &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["succeeded"], 3);
    let warnings: Vec<(u64, String)> = json["warning_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["row"].as_u64().unwrap(),
                w["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        warnings,
        vec![
            (
                2,
                "'The Joes Rusty Spoon Inc.' looks like 'Joe's Rusty Spoon (Austin)', already in the CRM: \
                 a near-duplicate, not the same organization (check before importing it as new)"
                    .to_owned()
            ),
            (
                3,
                "'Hoboken Provisons' looks like 'Hoboken Provisions (Hoboken)', already in the CRM: \
                 a near-duplicate, not the same organization (check before importing it as new)"
                    .to_owned()
            ),
        ]
    );
}

/// Migration V9 made `pantry_match_key` skip the accent step for ASCII
/// names: every key must be what V6's definition gave, or the indexes built
/// on it would lie.
#[tokio::test]
async fn the_faster_match_key_gives_every_value_the_key_it_had() {
    let db = TestDatabase::migrated().await;
    let client = db.client().await;
    let v6 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/V6__duplicates.sql"),
    )
    .unwrap();
    // V6's function, under another name.
    let start = v6
        .find("CREATE OR REPLACE FUNCTION pantry_match_key")
        .unwrap();
    let end = start + v6[start..].find("$$;").unwrap() + 3;
    let old = v6[start..end].replace(
        "pantry_match_key(value TEXT)",
        "pantry_match_key_v6(value TEXT)",
    );
    client.batch_execute(&old).await.unwrap();
    let values: Vec<&str> = vec![
        "Joe's  Rusty-Spoon, Inc.",
        "Café Olé",
        "CAFÉ OLÉ",
        "Straße 5",
        "Łódź Foods",
        "ÆBLE & Ørsted",
        "Ünïcödé",
        "tab\tname\nline",
        "ABC 123",
        "   ",
        "",
        "Sushi 🍣 Bar",
        "Ω-mega",
        "naïve — café",
    ];
    for value in values {
        let row = client
            .query_one(
                "SELECT pantry_match_key($1), pantry_match_key_v6($1)",
                &[&value],
            )
            .await
            .unwrap();
        let (new, old): (Option<String>, Option<String>) = (row.get(0), row.get(1));
        assert_eq!(new, old, "{value:?}");
    }
}
