//! The headless contract of SPEC.md, run through the real binary against a
//! real PostgreSQL, one throwaway database per test.

mod common;

use std::process::Output;

use common::{TestDatabase, data, pantry};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn migrate_twice_then_the_schema_is_up_to_date() {
    let db = TestDatabase::create().await;
    let first = pantry(&["migrate", "--database-url", &db.url]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("applied V1__crm_schema, V2__import_history"),
        "{}",
        stdout(&first)
    );
    let second = pantry(&["migrate", "--database-url", &db.url]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stdout(&second).contains("up to date"));
    for table in [
        "organizations",
        "contacts",
        "products",
        "opportunities",
        "interactions",
    ] {
        let exists = db
            .count(&format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = '{table}'"
            ))
            .await;
        assert_eq!(exists, 1, "table {table}");
    }
    // Every migration of migrations/ is recorded once.
    let migrations =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
            })
            .count() as i64;
    assert_eq!(migrations, 11);
    assert_eq!(
        db.count("SELECT count(*) FROM refinery_schema_history")
            .await,
        migrations
    );
}

#[tokio::test]
async fn migrate_adds_the_mvp_columns_to_an_existing_organizations_table() {
    let db = TestDatabase::create().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE organizations (id UUID PRIMARY KEY, name VARCHAR(255) NOT NULL);
             INSERT INTO organizations VALUES ('018f0000-0000-7000-8000-000000000001', 'Existing Customer');",
        )
        .await
        .unwrap();
    let output = pantry(&["migrate", "--database-url", &db.url]);
    assert!(output.status.success(), "{}", stderr(&output));
    let columns = db
        .count(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'organizations'
             AND column_name IN ('primary_manager_name', 'secondary_manager_name', 'import_notes')",
        )
        .await;
    assert_eq!(columns, 3);
    // The existing row is untouched and got the defaults.
    let row = db
        .client()
        .await
        .query_one(
            "SELECT name, priority::text, country FROM organizations",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Existing Customer");
    assert_eq!(row.get::<_, String>(1), "C");
    assert_eq!(row.get::<_, String>(2), "US");
}

#[tokio::test]
async fn a_messy_windows_1252_export_stores_exactly_the_good_rows() {
    let db = TestDatabase::migrated().await;
    let file = data("broker_accounts_1252.csv");
    let errors = tempfile::NamedTempFile::new().unwrap();
    let output = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--errors-csv",
        errors.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("13 rows, 11 succeeded, 2 failed"), "{text}");
    assert!(
        text.contains("failed row 4, Organizations: Missing required field 'name'"),
        "{text}"
    );
    assert!(
        text.contains("failed row 13, Organizations: Too long for the CRM: 323 characters"),
        "{text}"
    );
    assert!(text.contains("Windows-1252"), "{text}");

    let client = db.client().await;
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 11);
    let rows = client
        .query(
            "SELECT name, type::text, priority::text, segment, postal_code, notes, import_notes, country, is_active,
                    primary_manager_name, secondary_manager_name, phone, city, website
             FROM organizations ORDER BY name, import_notes NULLS LAST",
            &[],
        )
        .await
        .unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == name)
            .unwrap_or_else(|| panic!("{name} stored"))
    };

    let cafe = find("Café Rouge");
    assert_eq!(cafe.get::<_, String>(1), "customer");
    assert_eq!(cafe.get::<_, String>(2), "A");
    assert_eq!(cafe.get::<_, String>(3), "Fine Dining");
    assert_eq!(
        cafe.get::<_, Option<String>>(5).as_deref(),
        Some("Loves our “smoked” sauces")
    );
    assert_eq!(
        cafe.get::<_, Option<String>>(6).as_deref(),
        Some(r#"{"DISTRIBUTOR":"Sysco","TERRITORY":"Chicago Metro"}"#)
    );
    assert_eq!(cafe.get::<_, String>(7), "US");
    assert!(cafe.get::<_, bool>(8));
    assert_eq!(
        cafe.get::<_, Option<String>>(9).as_deref(),
        Some("Jane Doe")
    );
    assert_eq!(cafe.get::<_, Option<String>>(10), None);
    assert_eq!(
        cafe.get::<_, Option<String>>(12).as_deref(),
        Some("Chicago")
    );
    assert_eq!(
        cafe.get::<_, Option<String>>(13).as_deref(),
        Some("https://www.linkedin.com/company/cafe-rouge")
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.get::<_, String>(0) == "Café Rouge")
            .count(),
        2
    );

    let sysco = find("Sysco Chicago");
    assert_eq!(sysco.get::<_, String>(1), "distributor");
    assert_eq!(sysco.get::<_, String>(2), "A");
    assert_eq!(sysco.get::<_, String>(3), "Distribution");
    assert_eq!(
        sysco.get::<_, Option<String>>(6).as_deref(),
        Some(r#"{"PRIORITY-FOCUS (A-D)":"A+","SEGMENT":"Distributor"}"#)
    );

    let smith = find("Smith & Sons, Caterers");
    assert_eq!(smith.get::<_, String>(2), "C");
    assert_eq!(smith.get::<_, String>(3), "Catering");
    assert_eq!(smith.get::<_, Option<String>>(4).as_deref(), Some("07030"));
    assert_eq!(
        smith.get::<_, Option<String>>(5).as_deref(),
        Some("Call before\nnoon")
    );

    let pizza = find("Pizza Palace");
    assert_eq!(pizza.get::<_, String>(2), "C");
    assert!(
        pizza
            .get::<_, Option<String>>(6)
            .unwrap()
            .contains(r#""PRIORITY-FOCUS (A-D)":"High""#)
    );

    assert_eq!(
        find("Ethnic Eats – Noodles").get::<_, String>(3),
        "Ethnic Cuisine"
    );
    assert_eq!(
        find("Chain Co").get::<_, Option<String>>(4).as_deref(),
        Some("02134")
    );
    assert_eq!(find("Bistro \"Le Petit\"").get::<_, String>(3), "General");
    assert_eq!(find("Mystery Org").get::<_, String>(3), "Food Truck");
    assert_eq!(
        find("Mystery Org").get::<_, Option<String>>(11).as_deref(),
        Some("call me")
    );

    let report = std::fs::read_to_string(errors.path()).unwrap();
    let mut lines = report.lines();
    assert_eq!(
        lines.next().unwrap(),
        "\u{feff}Row,Organizations,PRIORITY-FOCUS (A-D),SEGMENT,DISTRIBUTOR,PRIMARY ACCT. MANAGER,SECONDARY ACCT. MANAGER,LINKEDIN,PHONE,STREET ADDRESS,CITY,STATE,Zip Code,NOTES,TERRITORY,Reason"
    );
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), 2, "{report}");
    assert!(body[0].starts_with("4,  ,B,Casual,US Foods"), "{}", body[0]);
    assert!(
        body[0].ends_with("Organizations: Missing required field 'name'"),
        "{}",
        body[0]
    );
    assert!(body[1].starts_with("13,Le Grand Bistro"), "{}", body[1]);
}

#[tokio::test]
async fn json_output_follows_the_spec() {
    let db = TestDatabase::migrated().await;
    let file = data("broker_accounts_1252.csv");
    let output = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(json["total"], 13);
    assert_eq!(json["succeeded"], 11);
    assert_eq!(json["failed"], 2);
    assert_eq!(
        json["failures"][0],
        serde_json::json!({"row": 4, "column": "Organizations", "message": "Missing required field 'name'"})
    );
    assert_eq!(json["failures"][1]["row"], 13);
    let warnings = json["warning_list"].as_array().unwrap();
    assert_eq!(json["warnings"], warnings.len());
    assert!(warnings.contains(&serde_json::json!({
        "row": 5, "column": "PRIORITY-FOCUS (A-D)", "message": "Invalid priority value: 'High', imported as C"
    })));
    assert!(warnings.contains(&serde_json::json!({
        "row": 9, "column": "Organizations", "message": "Duplicate organization name: 'Café Rouge' in rows 2, 9"
    })));
    assert!(warnings.contains(&serde_json::json!({
        "row": 12, "column": "SEGMENT", "message": "Unknown segment 'Food Truck', kept as written (type customer)"
    })));
}

#[test]
fn check_needs_no_database_and_reports_what_would_happen() {
    let file = data("broker_accounts_1252.csv");
    let output = pantry(&["check", file.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (
            json["total"].as_u64(),
            json["succeeded"].as_u64(),
            json["failed"].as_u64()
        ),
        (Some(13), Some(11), Some(2))
    );

    let summary = pantry(&["check", file.to_str().unwrap()]);
    assert!(
        stdout(&summary).contains("13 rows, 11 would import, 2 failed"),
        "{}",
        stdout(&summary)
    );
}

#[tokio::test]
async fn workbooks_keep_zip_codes_and_write_dates_as_iso() {
    let db = TestDatabase::migrated().await;
    let file = data("broker_accounts.xlsx");
    let output = pantry(&["import", file.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("3 rows, 2 succeeded, 1 failed"),
        "{}",
        stdout(&output)
    );
    let row = db
        .client()
        .await
        .query_one(
            "SELECT postal_code, phone, priority::text, import_notes FROM organizations WHERE name = 'Hoboken Deli'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "07030");
    assert_eq!(row.get::<_, String>(1), "2015550123");
    assert_eq!(row.get::<_, String>(2), "B");
    assert_eq!(
        row.get::<_, String>(3),
        r#"{"Last Visit":"2024-03-15","Rating":"4.5","Priority":"b","Segment":"Casual"}"#
    );

    let other = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--sheet",
        "Territories",
        "--database-url",
        &db.url,
    ]);
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE name = 'Jersey Shore Grill'")
            .await,
        1
    );

    let missing = pantry(&["check", file.to_str().unwrap(), "--sheet", "Nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no sheet named 'Nope' (sheets: Accounts, Territories)"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn values_never_reach_sql_text() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inject.csv");
    std::fs::write(
        &file,
        "Name,Notes\n\"'); drop table organizations; --\",\"\\\\x00 $$ ; COMMIT;\"\nRobert'); DROP TABLE contacts;--,ok\n",
    )
    .unwrap();
    let output = pantry(&["import", file.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let names: Vec<String> = db
        .client()
        .await
        .query("SELECT name FROM organizations ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        names,
        [
            "'); drop table organizations; --",
            "Robert'); DROP TABLE contacts;--"
        ]
    );
    assert_eq!(db.count("SELECT count(*) FROM contacts").await, 0);
}

#[tokio::test]
async fn rows_the_database_refuses_fail_alone_with_its_reason() {
    let db = TestDatabase::migrated().await;
    db.client()
        .await
        .batch_execute("ALTER TABLE organizations ADD CONSTRAINT no_test_names CHECK (name NOT LIKE 'Refuse%')")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.csv");
    let mut text = String::from("Organizations,CITY\n");
    for i in 0..2_500 {
        let name = if i == 777 || i == 2_001 {
            format!("Refuse {i}")
        } else {
            format!("Org {i}")
        };
        text.push_str(&format!("{name},Chicago\n"));
    }
    std::fs::write(&file, text).unwrap();
    let output = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--batch-size",
        "300",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["succeeded"], 2_498);
    assert_eq!(json["failed"], 2);
    let failures = json["failures"].as_array().unwrap();
    assert_eq!(failures[0]["row"], 779);
    assert_eq!(failures[1]["row"], 2_003);
    assert!(
        failures[0]["message"]
            .as_str()
            .unwrap()
            .contains("no_test_names"),
        "{}",
        failures[0]
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 2_498);
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE name LIKE 'Refuse%'")
            .await,
        0
    );
}

#[tokio::test]
async fn runs_that_cannot_happen_exit_2_with_one_line() {
    let db = TestDatabase::create().await;
    let file = data("broker_accounts_1252.csv");

    let unmigrated = pantry(&["import", file.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(unmigrated.status.code(), Some(2));
    assert!(
        stderr(&unmigrated).contains("run `pantry-import migrate` first"),
        "{}",
        stderr(&unmigrated)
    );
    assert_eq!(stderr(&unmigrated).lines().count(), 1);

    let missing = pantry(&["check", "/no/such/file.csv"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).starts_with("pantry-import: /no/such/file.csv:"),
        "{}",
        stderr(&missing)
    );

    let unreachable = pantry(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        "postgres://someone:hunter2secret@127.0.0.1:1/crm?sslmode=disable",
    ]);
    assert_eq!(unreachable.status.code(), Some(2));
    let message = stderr(&unreachable);
    assert!(
        message.contains("cannot reach the database server at 127.0.0.1:1"),
        "{message}"
    );
    assert!(!message.contains("hunter2secret"), "{message}");

    let no_url = pantry(&["import", file.to_str().unwrap()]);
    assert_eq!(no_url.status.code(), Some(2));
    assert!(stderr(&no_url).contains("pass --database-url or set DATABASE_URL"));

    let dir = tempfile::tempdir().unwrap();
    let no_name = dir.path().join("cities.csv");
    std::fs::write(&no_name, "City,State\nChicago,IL\n").unwrap();
    let output = pantry(&["check", no_name.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("No column holds the organization name"),
        "{}",
        stderr(&output)
    );
}
