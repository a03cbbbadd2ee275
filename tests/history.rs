//! Nothing lost, nothing duplicated: the import history refuses a repeat,
//! resumes an interrupted import, undoes one; faults end with clear words.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::import_file;
use common::{TestDatabase, data, pantry, text, write_accounts};
use pantry_core::import::{ImportError, ImportOptions};
use pantry_core::progress::ImportProgress;

#[tokio::test]
async fn a_finished_import_is_not_repeated_unless_asked() {
    let db = TestDatabase::migrated().await;
    let file = data("broker_accounts_1252.csv");
    let file = file.to_str().unwrap();
    let first = pantry(&["import", file, "--database-url", &db.url]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));

    let second = pantry(&["import", file, "--database-url", &db.url]);
    assert_eq!(second.status.code(), Some(2));
    let message = text(&second.stderr);
    assert!(
        message.contains("was already imported completely (import 1,"),
        "{message}"
    );
    assert!(
        message.contains("11 rows stored); pass --again"),
        "{message}"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);

    // Again: the rows are in the CRM already, so they are skipped...
    let again = pantry(&["import", file, "--database-url", &db.url, "--again"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("0 succeeded, 2 failed, 6 warnings, 11 skipped"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);
    // ...unless the broker asks for them a second time.
    let again = pantry(&[
        "import",
        file,
        "--database-url",
        &db.url,
        "--again",
        "--on-duplicate",
        "create",
    ]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 22);
    assert_eq!(
        db.count("SELECT count(DISTINCT import_batch_id) FROM organizations")
            .await,
        2
    );

    let history = pantry(&["history", "--database-url", &db.url]);
    let listing = text(&history.stdout);
    assert!(listing.contains("broker_accounts_1252.csv"), "{listing}");
    assert_eq!(listing.matches("finished").count(), 3, "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_is_resumed_with_every_row_stored_once() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_accounts(dir.path(), 60_000);
    let options = ImportOptions {
        batch_size: 1_000,
        ..ImportOptions::default()
    };

    // Another session terminates the import's backend after a few batches.
    let progress = ImportProgress::new(None);
    let watcher = Arc::clone(&progress);
    let killer_db = db.settings();
    let killer = tokio::spawn(async move {
        while watcher.snapshot().batches_done < 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let admin = killer_db.connect().await.unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'pantry-import' AND pid <> pg_backend_pid() AND datname = current_database()",
                &[],
            )
            .await
            .unwrap();
    });
    let error = import_file(&path, &db.settings(), &options, Arc::clone(&progress))
        .await
        .expect_err("the import is cut off");
    killer.await.unwrap();
    let ImportError::Interrupted { cause, report } = error else {
        panic!("not an interruption: {error}");
    };
    let reason = cause.to_string();
    assert!(reason.contains("connection"), "{reason}");
    let stored_before = db.count("SELECT count(*) FROM organizations").await as u64;
    assert_eq!(report.succeeded(), stored_before);
    assert!((5_000..60_000).contains(&stored_before), "{stored_before}");

    // The same command again: it resumes and says so.
    let output = pantry(&["import", path.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary = text(&output.stdout);
    assert!(
        summary.contains(&format!(
            "resuming import 1: {stored_before} of 60000 rows already stored"
        )),
        "{summary}"
    );
    assert!(
        summary.contains("60000 rows, 60000 succeeded, 0 failed"),
        "{summary}"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 60_000);
    assert_eq!(
        db.count("SELECT count(DISTINCT name) FROM organizations")
            .await,
        60_000
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM import_batches WHERE status = 'finished' AND succeeded = 60000"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn undo_soft_deletes_one_import_and_spares_edited_rows() {
    let db = TestDatabase::migrated().await;
    let file = data("broker_accounts_1252.csv");
    let output = pantry(&["import", file.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(output.status.code(), Some(1));
    db.client()
        .await
        .execute(
            "UPDATE organizations SET city = 'Aurora' WHERE name = 'Pizza Palace'",
            &[],
        )
        .await
        .unwrap();

    let undo = pantry(&["undo", "1", "--database-url", &db.url]);
    assert_eq!(undo.status.code(), Some(1), "{}", text(&undo.stderr));
    let said = text(&undo.stdout);
    assert!(said.contains("import 1: 10 rows soft-deleted"), "{said}");
    assert!(said.contains("row 5: Pizza Palace"), "{said}");
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")
            .await,
        1
    );

    let forced = pantry(&["undo", "1", "--force", "--database-url", &db.url]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(text(&forced.stdout).contains("import 1: 1 rows soft-deleted"));
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM organizations").await,
        11,
        "soft, not hard, deletes"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM import_batches WHERE status = 'undone'")
            .await,
        1
    );

    // An undone import may be imported again without --again.
    let again = pantry(&["import", file.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")
            .await,
        11
    );

    let missing = pantry(&["undo", "99", "--database-url", &db.url]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("there is no import number 99"));
}

#[tokio::test]
async fn a_role_that_may_only_insert_and_read_can_import() {
    let db = TestDatabase::migrated().await;
    let admin = db.client().await;
    let role = format!("{}_loader", db.name);
    let denied = format!("{}_reader", db.name);
    // Role names made here from the test's own database name.
    admin
        .batch_execute(&format!(
            "CREATE ROLE \"{role}\" LOGIN;
             GRANT SELECT, INSERT ON organizations TO \"{role}\";
             GRANT SELECT, INSERT, UPDATE ON import_batches TO \"{role}\";
             GRANT SELECT, INSERT ON import_matches TO \"{role}\";
             CREATE ROLE \"{denied}\" LOGIN;
             GRANT SELECT ON organizations, import_batches TO \"{denied}\";"
        ))
        .await
        .unwrap();
    let file = data("broker_accounts_1252.csv");
    let as_loader =
        common::with_database(&db.url, &db.name).replace("postgres@", &format!("{role}@"));
    let as_loader = if as_loader.contains('@') {
        as_loader
    } else {
        format!("{as_loader} user={role}")
    };
    let output = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &as_loader,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);

    let as_reader = as_loader.replace(&role, &denied);
    let refused = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &as_reader,
        "--again",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let message = text(&refused.stderr);
    assert!(
        message.contains("permission denied for table import_batches"),
        "{message}"
    );
    assert!(
        message.contains("needs SELECT and INSERT on the CRM tables"),
        "{message}"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);

    admin
        .batch_execute(&format!(
            "DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\"; DROP OWNED BY \"{denied}\"; DROP ROLE \"{denied}\";"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_role_that_may_not_log_in_is_told_so() {
    let db = TestDatabase::create().await;
    let role = format!("{}_nologin", db.name);
    let admin = db.client().await;
    admin
        .batch_execute(&format!("CREATE ROLE \"{role}\" NOLOGIN"))
        .await
        .unwrap();
    let url = db.url.replace("postgres@", &format!("{role}@"));
    let url = if url.contains('@') {
        url
    } else {
        format!("{url} user={role}")
    };
    let output = pantry(&["migrate", "--database-url", &url]);
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output.stderr);
    assert!(
        message.contains("the server refused the connection"),
        "{message}"
    );
    assert!(message.contains("is not permitted to log in"), "{message}");
    admin
        .batch_execute(&format!("DROP ROLE \"{role}\""))
        .await
        .unwrap();
}
