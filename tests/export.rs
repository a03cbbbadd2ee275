//! Export and verification against a real PostgreSQL: every entity exported,
//! imported into an empty CRM and exported again gives the same bytes (CSV)
//! or the same cells (XLSX); `verify`'s numbers are the database's.

mod common;

use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use common::{TestDatabase, pantry, text};
use pantry_core::entity::Entity;
use pantry_core::export::{ExportProgress, export};
use pantry_core::import::ImportOptions;
use pantry_core::progress::ImportProgress;
use pantry_core::report::SheetReport;
use pantry_core::run::SheetPlan;

/// The broker's sheets, messy on purpose: accents, quotes, line breaks,
/// ZIP codes and SKUs with leading zeros, values the rules change (their
/// originals kept in import notes), columns that go to import notes, a
/// formula-looking cell, and a link to a company the CRM does not have.
const SHEETS: [(Entity, &str, &str); 5] = [
    (
        Entity::Organizations,
        "organizations.csv",
        "Organizations,PRIORITY-FOCUS (A-D),SEGMENT,TYPE,PRIMARY ACCT. MANAGER,PHONE,STREET ADDRESS,CITY,STATE,Zip Code,NOTES,Region\n\
         Café Olé,A+,casual,,Zoë Brontë,(312) 555-0100,\"12 \"\"Main\"\" St\",Chicago,IL,02134,\"Likes the
new menu\",North\n\
         Acme Foods,A,,principal,Ann,+1 312 555 0101,,Boston,MA,02110,=HYPERLINK(\"x\"),\n\
         \"Hoboken Provisions, LLC\",b,Food Truck,,,,1 River Rd,Hoboken,NJ,07030,,South\n\
         Sysco,,distributor,,,,,Houston,TX,77077,,\n",
    ),
    (
        Entity::Contacts,
        "contacts.csv",
        "Name,Company,Title,Role,Email,Phone,Primary,Notes,Birthday\n\
         Mary O'Brien,Café Olé,Chef,DM,Mary@CafeOle.com,(312) 555-0102,yes,\"Met at the \"\"show\"\"\",1 May\n\
         Raj Patel,Nowhere Bistro,Owner,Purchaser,raj@nowhere.com,,,,\n\
         José Núñez,Acme Foods,,,,,no,,\n",
    ),
    (
        Entity::Products,
        "products.csv",
        "Product,Principal,SKU,Category,Unit Cost,List Price,Min Order,Shelf Life,Active,Description\n\
         Crème Fraîche,Acme Foods,00123,Dairy,\"$1,234.50\",$1500,12,2 weeks,,\"Cultured
cream\"\n\
         Olive Oil,Acme Foods,,Grocery,3.5,,,1 year,no,\n",
    ),
    (
        Entity::Opportunities,
        "opportunities.csv",
        "Opportunity,Organization,Contact,Principal,Distributor,Stage,Value,Probability,Close Date,Notes\n\
         Spring menu,Café Olé,mary@cafeole.com,Acme Foods,Sysco,Won,\"$12,000\",50%,3/15/2026,\"Call \"\"back\"\"\"\n\
         Summer menu,Hoboken Provisions LLC,,,,,,,,\n",
    ),
    (
        Entity::Interactions,
        "interactions.csv",
        "Type,Subject,Date,Description,Duration,Follow Up,Follow Up Date,Outcome,Contact,Organization,Opportunity\n\
         Phone Call,\"Tasting, round 2\",2026-03-14 2:30 PM,\"Brought
samples\",1h 30m,yes,3/20/2026,Good,Mary O'Brien,Café Olé,Spring menu\n\
         Visit,Walk-in,3/1/2026,,,,,,,Acme Foods,\n",
    ),
];

async fn import_sheet(db: &TestDatabase, path: &Path, entity: Entity) -> SheetReport {
    common::import_sheet(
        path,
        SheetPlan::new(None, Some(entity)),
        &db.settings(),
        &ImportOptions::default(),
        ImportProgress::new(None),
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A CRM filled from the broker's sheets, plus records the CRM made itself
/// (not by an import: no import notes, the table's defaults).
async fn crm(dir: &Path) -> TestDatabase {
    let db = TestDatabase::migrated().await;
    for (entity, name, content) in SHEETS {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let report = import_sheet(&db, &path, entity).await;
        assert_eq!(report.failed, 0, "{name}: {:?}", report.failures);
    }
    db.client()
        .await
        .batch_execute(
            "INSERT INTO organizations (name, city) VALUES ('Made In The CRM', NULL);
             INSERT INTO contacts (first_name, last_name, organization_id)
               SELECT 'Pat', 'Lee', id FROM organizations WHERE name = 'Made In The CRM';",
        )
        .await
        .unwrap();
    db
}

/// Exports every entity into a new folder `dir`; with `helper`, a second
/// connection lists the notes' keys while the rows are sorted.
async fn export_all(db: &TestDatabase, dir: &Path, extension: &str, helper: bool) -> Vec<PathBuf> {
    std::fs::create_dir(dir).unwrap();
    let mut client = db.client().await;
    let mut second = if helper {
        Some(db.client().await)
    } else {
        None
    };
    let mut paths = Vec::new();
    for entity in Entity::ALL {
        let path = dir.join(format!("{}.{extension}", entity.name()));
        let summary = export(
            &mut client,
            second.as_mut(),
            entity,
            None,
            &path,
            &ExportProgress::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", entity.name()));
        assert!(summary.rows > 0, "{} exported rows", entity.name());
        paths.push(path);
    }
    paths
}

/// Imports the exports into an empty CRM, in the order links need.
async fn import_all(paths: &[PathBuf]) -> TestDatabase {
    let db = TestDatabase::migrated().await;
    for (entity, path) in Entity::ALL.into_iter().zip(paths) {
        let report = import_sheet(&db, path, entity).await;
        assert_eq!(
            (report.failed, report.skipped, report.updated),
            (0, 0, 0),
            "{}: {:?}",
            path.display(),
            report.failures
        );
        assert_eq!(report.succeeded, report.total, "{}", path.display());
    }
    db
}

fn cells(path: &Path) -> Vec<Vec<Data>> {
    let mut workbook = calamine::open_workbook_auto(path).unwrap();
    let name = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&name).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

#[tokio::test]
async fn every_entity_exported_to_csv_imports_into_an_empty_crm_and_exports_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let first = crm(dir.path()).await;
    let exported = export_all(&first, &dir.path().join("first"), "csv", false).await;

    let organizations = std::fs::read_to_string(&exported[0]).unwrap();
    assert!(organizations.starts_with('\u{feff}'), "UTF-8 with BOM");
    let lines: Vec<&str> = organizations.lines().collect();
    assert_eq!(
        lines[0],
        "\u{feff}Organizations,PRIORITY-FOCUS (A-D),SEGMENT,TYPE,PRIMARY ACCT. MANAGER,SECONDARY ACCT. MANAGER,\
         LINKEDIN,PHONE,STREET ADDRESS,CITY,STATE,Zip Code,NOTES,Email,Industry,Address Line 2,\
         Country,Annual Revenue,Employees,Parent Organization,Active,Import Notes",
        "the headers the import maps from (Region names the state in other words: a note, kept in the Import Notes column)"
    );
    assert!(
        organizations.contains(
            "Café Olé,A,Casual Dining,customer,Zoë Brontë,,,(312) 555-0100,\"12 \"\"Main\"\" St\",Chicago,IL,02134,\"Likes the\nnew menu\",,,,US,,,,yes,\"{\"\"PRIORITY-FOCUS (A-D)\"\":\"\"A+\"\",\"\"Region\"\":\"\"North\"\",\"\"SEGMENT\"\":\"\"casual\"\"}\"\n"
        ),
        "labels, accents, quotes, a line break, a ZIP's leading zero, a notes column and the originals: {organizations}"
    );
    assert!(
        organizations.contains("Made In The CRM,C,General,customer,,,,,,,,,,,,,US,,,,yes,\n"),
        "a record the CRM made itself: {organizations}"
    );
    assert!(
        organizations.contains("'=HYPERLINK(\"\"x\"\")"),
        "a formula is written as text: {organizations}"
    );
    let contacts = std::fs::read_to_string(&exported[1]).unwrap();
    assert!(
        contacts.contains("Mary,O'Brien,Café Olé,Chef,decision_maker,Mary@CafeOle.com"),
        "{contacts}"
    );
    assert!(
        contacts.contains("Raj,Patel,,Owner,buyer,raj@nowhere.com"),
        "an empty link stays empty: {contacts}"
    );
    assert!(
        contacts.contains("Nowhere Bistro"),
        "its name goes back with the import notes: {contacts}"
    );

    let second = import_all(&exported).await;
    let reexported = export_all(&second, &dir.path().join("second"), "csv", true).await;
    for (a, b) in exported.iter().zip(&reexported) {
        assert_eq!(
            text(&std::fs::read(a).unwrap()),
            text(&std::fs::read(b).unwrap()),
            "{} round trip",
            a.display()
        );
    }
    // The same records, not just the same text: import notes included.
    let sql = "SELECT name, import_notes FROM organizations ORDER BY name";
    let notes = |rows: Vec<tokio_postgres::Row>| {
        rows.iter()
            .map(|r| {
                let notes: Option<String> = r.get(1);
                let notes: Option<serde_json::Value> =
                    notes.map(|text| serde_json::from_str(&text).unwrap());
                (r.get::<_, String>(0), notes)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        notes(first.client().await.query(sql, &[]).await.unwrap()),
        notes(second.client().await.query(sql, &[]).await.unwrap())
    );
}

#[tokio::test]
async fn every_entity_exported_to_xlsx_comes_back_with_the_same_cells() {
    let dir = tempfile::tempdir().unwrap();
    let first = crm(dir.path()).await;
    let exported = export_all(&first, &dir.path().join("first"), "xlsx", true).await;

    // The first data row's cell under `header` in the export of `entity`.
    let first_cell = |entity: usize, header: &str| {
        let sheet = cells(&exported[entity]);
        let column = sheet[0]
            .iter()
            .position(|c| c == &Data::String(header.into()))
            .unwrap_or_else(|| panic!("{header} in {:?}", sheet[0]));
        sheet[1][column].clone()
    };
    assert_eq!(
        first_cell(0, "Zip Code"),
        Data::String("02134".into()),
        "a ZIP code stays text"
    );
    assert_eq!(
        first_cell(2, "List Price"),
        Data::Float(1500.0),
        "a price is a number"
    );
    let close = first_cell(3, "Close Date");
    assert!(
        matches!(close, Data::DateTime(_)),
        "a date is a date: {close:?}"
    );

    let second = import_all(&exported).await;
    let reexported = export_all(&second, &dir.path().join("second"), "xlsx", false).await;
    for (a, b) in exported.iter().zip(&reexported) {
        assert_eq!(cells(a), cells(b), "{} round trip", a.display());
    }
}

#[tokio::test]
async fn an_export_of_one_import_holds_its_rows_only_and_verify_counts_them_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = crm(dir.path()).await;
    let import: i64 = db
        .client()
        .await
        .query_one(
            "SELECT id FROM import_batches WHERE entity = 'contacts'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let out = dir.path().join("contacts of one import.csv");
    let run = pantry(&[
        "export",
        "contacts",
        "--out",
        out.to_str().unwrap(),
        "--import",
        &import.to_string(),
        "--database-url",
        &db.url,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("3 contacts written"),
        "{}",
        text(&run.stdout)
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        !written.contains("Pat,Lee"),
        "the CRM's own contact is not in it"
    );
    assert_eq!(written.lines().count(), 4, "header and 3 rows: {written}");

    // Verify against independent counts.
    let run = pantry(&[
        "verify",
        &import.to_string(),
        "--database-url",
        &db.url,
        "--json",
        "--file",
        dir.path().join("contacts.csv").to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let stored = db
        .count(&format!(
            "SELECT count(*) FROM contacts WHERE import_batch_id = {import} AND deleted_at IS NULL"
        ))
        .await;
    assert_eq!(json["file_rows"], 3);
    assert_eq!(json["stored_rows"], stored);
    assert_eq!(json["failed_rows"], 0);
    assert_eq!(
        json["distributions"]["Role"],
        serde_json::json!({"decision_maker": 1, "buyer": 1, "": 1})
    );
    assert_eq!(
        json["empty_links"],
        serde_json::json!([{"row": 3, "column": "Organization", "name": "Nowhere Bistro"}])
    );
    let sample = json["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 3, "all three rows, fewer than ten");
    let mary = &sample[0];
    assert_eq!(mary["row"], 2);
    let role = mary["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "Role")
        .unwrap();
    assert_eq!(
        (
            role["stored"].as_str(),
            role["file"].as_str(),
            role["same"].as_bool()
        ),
        (Some("decision_maker"), Some("DM"), Some(false))
    );
    let first = mary["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "First Name")
        .unwrap();
    assert_eq!(first["file"], "Mary O'Brien", "the full name it came from");

    // Undo: the numbers follow the database, not the import's messages.
    let undo = pantry(&["undo", &import.to_string(), "--database-url", &db.url]);
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    let run = pantry(&[
        "verify",
        &import.to_string(),
        "--database-url",
        &db.url,
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        (json["stored_rows"].as_u64(), json["undone_rows"].as_u64()),
        (Some(0), Some(3))
    );

    let wrong = pantry(&[
        "verify",
        &import.to_string(),
        "--database-url",
        &db.url,
        "--file",
        dir.path().join("products.csv").to_str().unwrap(),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains("is not the file import"),
        "{}",
        text(&wrong.stderr)
    );
    let missing = pantry(&["verify", "999", "--database-url", &db.url]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("there is no import 999"));
}

#[tokio::test]
async fn notes_typed_by_hand_that_are_not_json_are_exported_either_way() {
    let db = TestDatabase::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO organizations (name, import_notes) VALUES \
               ('Typed By Hand', 'call on Tuesdays'), \
               ('Imported', '{\"Booth\":\"B12\"}')",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for helper in [false, true] {
        let path = dir.path().join(format!("organizations-{helper}.csv"));
        let mut client = db.client().await;
        let mut second = if helper {
            Some(db.client().await)
        } else {
            None
        };
        let summary = export(
            &mut client,
            second.as_mut(),
            Entity::Organizations,
            None,
            &path,
            &ExportProgress::new(),
        )
        .await
        .unwrap();
        assert_eq!(summary.rows, 2);
        // The JSON key is a column of its own; the text goes whole to the
        // notes column.
        assert!(
            summary.headers.iter().any(|h| h == "Booth"),
            "{:?}",
            summary.headers
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("call on Tuesdays"), "{text}");
        written.push(text);
    }
    assert_eq!(
        written[0], written[1],
        "the same file with and without the helper"
    );
}
