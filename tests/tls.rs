//! TLS for real, against the TLS-only PostgreSQL that `./scripts/test`
//! starts (a certificate for localhost signed by a throwaway CA), and
//! importing through PgBouncer in transaction pooling mode, as Supabase's
//! pooler on port 6543 behaves.

mod common;

use std::path::Path;
use std::process::Output;

use common::{TestDatabase, pantry, with_database};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with ./scripts/test, which starts the TLS server and PgBouncer")
    })
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/broker_accounts_1252.csv")
        .display()
        .to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The test database's URL with another sslmode (and optional root certificate).
fn with_tls(url: &str, mode: &str, root: Option<&str>) -> String {
    let mut url = url::Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "sslmode" && k != "sslrootcert")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut pairs = url.query_pairs_mut();
        pairs
            .clear()
            .extend_pairs(kept)
            .append_pair("sslmode", mode);
        if let Some(root) = root {
            pairs.append_pair("sslrootcert", root);
        }
    }
    url.to_string()
}

#[tokio::test]
async fn require_encrypts_and_imports() {
    let db = TestDatabase::create_on(&env("PANTRY_TEST_TLS_URL")).await;
    let url = with_tls(&db.url, "require", None);
    let migrated = pantry(&["migrate", "--database-url", &url]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let output = pantry(&["import", &sample(), "--database-url", &url]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);
    // The server saw an encrypted session (this one, through the same settings).
    assert_eq!(
        db.count("SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl")
            .await,
        1
    );
}

#[tokio::test]
async fn verify_full_accepts_the_right_authority_and_refuses_another() {
    let db = TestDatabase::create_on(&env("PANTRY_TEST_TLS_URL")).await;
    let right = with_tls(&db.url, "verify-full", Some(&env("PANTRY_TEST_TLS_CA")));
    let output = pantry(&["migrate", "--database-url", &right]);
    assert!(output.status.success(), "{}", stderr(&output));

    let wrong = with_tls(
        &db.url,
        "verify-full",
        Some(&env("PANTRY_TEST_TLS_OTHER_CA")),
    );
    let output = pantry(&["migrate", "--database-url", &wrong]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("the secure (TLS) connection failed"),
        "{message}"
    );
    assert!(message.to_lowercase().contains("certificate"), "{message}");

    // Against 127.0.0.1 the certificate (for localhost and 127.0.0.1) still matches.
    let by_address = right.replace("localhost", "127.0.0.1");
    let output = pantry(&["migrate", "--database-url", &by_address]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn a_server_that_requires_tls_says_so_when_it_is_off() {
    let db = TestDatabase::create_on(&env("PANTRY_TEST_TLS_URL")).await;
    let url = with_tls(&db.url, "disable", None);
    let output = pantry(&["migrate", "--database-url", &url]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("requires an encrypted connection"),
        "{message}"
    );
}

#[tokio::test]
async fn imports_through_pgbouncer_in_transaction_mode() {
    let db = TestDatabase::create_on(&env("PANTRY_TEST_TLS_URL")).await;
    let pooled = with_database(&env("PANTRY_TEST_POOLER_URL"), &db.name);
    let migrated = pantry(&["migrate", "--database-url", &pooled]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let output = pantry(&[
        "import",
        &sample(),
        "--database-url",
        &pooled,
        "--batch-size",
        "3",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);
    let again = pantry(&["import", &sample(), "--database-url", &pooled]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "the history works through the pooler too"
    );
    // Matching records goes through a staging table made and dropped inside
    // each batch's transaction, under a transaction-scoped lock: it works
    // through the pooler too, batch after batch.
    let updated = pantry(&[
        "import",
        &sample(),
        "--database-url",
        &pooled,
        "--again",
        "--on-duplicate",
        "update",
        "--batch-size",
        "3",
        "--json",
    ]);
    assert_eq!(updated.status.code(), Some(1), "{}", stderr(&updated));
    let report: serde_json::Value = serde_json::from_slice(&updated.stdout).unwrap();
    // The file's two rows of 'Café Rouge' each match both records they
    // made: not updated, and said so.
    assert_eq!(report["updated"], 9, "{report}");
    assert_eq!(report["failed"], 4, "{report}");
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);
    assert_eq!(
        db.count("SELECT count(*) FROM import_matches WHERE action = 'updated'")
            .await,
        9
    );
    // Links by name are looked up on a second pooled connection, and created.
    let contacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/contacts.csv");
    let linked = pantry(&[
        "import",
        contacts.to_str().unwrap(),
        "--database-url",
        &pooled,
        "--links",
        "create",
        "--batch-size",
        "2",
        "--json",
    ]);
    assert_eq!(linked.status.code(), Some(1), "{}", stderr(&linked));
    let report: serde_json::Value = serde_json::from_slice(&linked.stdout).unwrap();
    assert_eq!(report["succeeded"], 4, "{report}");
    assert_eq!(
        report["created_links"], 3,
        "Acme Foods, Sysco and Nowhere Inc: {report}"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM contacts c JOIN organizations o ON o.id = c.organization_id \
             WHERE o.name = 'Nowhere Inc' AND c.last_name = 'Stone'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_plainly_and_never_shown() {
    let db = TestDatabase::create_on(&env("PANTRY_TEST_TLS_URL")).await;
    // The only role the TLS server asks a password of (see scripts/test).
    db.client()
        .await
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE pantry_password_check LOGIN PASSWORD 'right-horse-battery'; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        .await
        .unwrap();
    let wrong = with_tls(
        &db.url
            .replace("postgres@", "pantry_password_check:Wrong-Secret-42@"),
        "require",
        None,
    );
    let output = pantry(&["history", "--database-url", &wrong]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("the server refused the password for user 'pantry_password_check'"),
        "{message}"
    );
    assert!(!message.contains("Wrong-Secret-42"), "{message}");

    let right = wrong.replace("Wrong-Secret-42", "right-horse-battery");
    let output = pantry(&["history", "--database-url", &right]);
    assert!(
        !stderr(&output).contains("refused the password"),
        "{}",
        stderr(&output)
    );
}
