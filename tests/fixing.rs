//! Fixing a sheet without Excel, against a real PostgreSQL: cells typed
//! over, rows removed, clean-ups applied (originals kept in import notes),
//! and the error report fixed and imported back with its rows still
//! pointing at the spreadsheet they came from.

mod common;

use std::path::Path;

use common::{TestDatabase, data, pantry, text};
use pantry_core::clean::CleanUp;
use pantry_core::edits::SheetEdits;
use pantry_core::entity::Entity;
use pantry_core::import::ImportOptions;
use pantry_core::progress::ImportProgress;
use pantry_core::report::SheetReport;
use pantry_core::run::SheetPlan;

const MESSY: &str = "Organizations,PHONE,STATE,CITY\n\
    Cafe One,312.555.0100,Illinois,Chicago\n\
    ,(312)555-0101,il,Chicago\n\
    Cafe  Three,+1 312 555 0102,New York,New  York\n\
    Not Wanted,,,\n";

async fn import(db: &TestDatabase, path: &Path, edits: SheetEdits) -> SheetReport {
    common::import_sheet(
        path,
        SheetPlan {
            edits,
            ..SheetPlan::new(None, Some(Entity::Organizations))
        },
        &db.settings(),
        &ImportOptions::default(),
        ImportProgress::new(None),
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn edits_and_clean_ups_are_what_gets_imported_and_the_originals_are_kept() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messy.csv");
    std::fs::write(&path, MESSY).unwrap();

    // As the file is, row 3 fails: no name.
    let mut edits = SheetEdits::default();
    edits.set_cell(3, 0, Some("Cafe Two".to_owned()));
    edits.removed_rows.insert(5);
    edits.clean.insert(CleanUp::States);
    edits.clean.insert(CleanUp::Phones);
    let report = import(&db, &path, edits).await;
    assert_eq!(
        (report.total, report.succeeded, report.failed),
        (4, 3, 0),
        "{:?}",
        report.failures
    );
    assert!(
        report.warning_list.iter().all(|w| w.row != 5),
        "a removed row is not a problem: {:?}",
        report.warning_list
    );
    let rows = db
        .client()
        .await
        .query(
            "SELECT import_source_row, name, phone, state_province, city, import_notes \
             FROM organizations ORDER BY import_source_row",
            &[],
        )
        .await
        .unwrap();
    let stored: Vec<(i32, String, String, String, String, serde_json::Value)> = rows
        .iter()
        .map(|r| {
            let notes: Option<String> = r.get(5);
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                notes
                    .map(|n| serde_json::from_str(&n).unwrap())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(stored.len(), 3, "row 5 was removed");
    assert_eq!(
        (&stored[0].1[..], &stored[0].2[..], &stored[0].3[..]),
        ("Cafe One", "(312) 555-0100", "IL")
    );
    assert_eq!(
        stored[0].5,
        serde_json::json!({"PHONE (as written)": "312.555.0100", "STATE (as written)": "Illinois"})
    );
    // The edited row: the typed name, its empty original kept.
    assert_eq!((stored[1].0, &stored[1].1[..]), (3, "Cafe Two"));
    assert_eq!(stored[1].5["Organizations (as written)"], "");
    assert_eq!(stored[1].3, "IL");
    // Spaces were not asked for: left as written.
    assert_eq!(
        (&stored[2].1[..], &stored[2].3[..], &stored[2].4[..]),
        ("Cafe  Three", "NY", "New  York")
    );

    // Headless: the same clean-ups by --clean, and suggestions from check.
    let check = pantry(&["check", path.to_str().unwrap()]);
    let said = text(&check.stderr) + &text(&check.stdout);
    assert!(
        said.contains("Clean-up: 3 state names could become their two-letter code ('Illinois' → 'IL', 'il' → 'IL'); apply with --clean states"),
        "{said}"
    );
    assert!(
        said.contains("apply with --clean spaces"),
        "spaces are suggested: {said}"
    );
}

#[tokio::test]
async fn the_error_report_fixed_in_excel_imports_back_and_keeps_the_original_rows() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("accounts.csv");
    std::fs::copy(data("broker_accounts_1252.csv"), &sheet).unwrap();
    let errors = dir.path().join("accounts - errors.csv");
    let first = pantry(&[
        "import",
        sheet.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--errors-csv",
        errors.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let report = std::fs::read_to_string(&errors).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert!(
        lines[0].starts_with("\u{feff}Row,Organizations,"),
        "{report}"
    );
    assert!(lines[0].ends_with(",Reason"), "{report}");
    assert!(lines[1].starts_with("4,  ,B,"), "{report}");

    // The broker fills the missing name, leaves the other row as it is.
    let fixed = report.replacen("\n4,  ,B,", "\n4,Fixed Bistro,B,", 1);
    std::fs::write(&errors, fixed).unwrap();
    let again = dir.path().join("accounts - errors again.csv");
    let retry = pantry(&[
        "import",
        errors.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--json",
        "--errors-csv",
        again.to_str().unwrap(),
    ]);
    assert_eq!(retry.status.code(), Some(1), "{}", text(&retry.stderr));
    let json: serde_json::Value = serde_json::from_slice(&retry.stdout).unwrap();
    assert_eq!(
        (
            json["total"].as_u64(),
            json["succeeded"].as_u64(),
            json["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{json}"
    );
    assert!(
        json["failures"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Too long for the CRM"),
        "{json}"
    );
    let client = db.client().await;
    let stored = client
        .query_one(
            "SELECT import_source_row, import_notes, b.file_name FROM organizations o \
             JOIN import_batches b ON b.id = o.import_batch_id WHERE name = 'Fixed Bistro'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        stored.get::<_, i32>(0),
        4,
        "the row of the spreadsheet it came from"
    );
    let notes: Option<String> = stored.get(1);
    let notes = notes.unwrap_or_default();
    assert!(
        !notes.contains("Reason") && !notes.contains("\"Row\""),
        "neither Row nor Reason is imported: {notes}"
    );
    assert_eq!(stored.get::<_, String>(2), "accounts - errors.csv");
    // The report of the retry names the first spreadsheet's row, once.
    let second = std::fs::read_to_string(&again).unwrap();
    let lines: Vec<&str> = second.lines().collect();
    assert_eq!(
        lines[0],
        report.lines().next().unwrap(),
        "the same columns: {second}"
    );
    assert!(lines[1].starts_with("13,Le Grand Bistro"), "{second}");
    assert_eq!(lines.len(), 2, "{second}");

    // A row copied twice in the report is refused, not stored over its twin.
    let twice = std::fs::read_to_string(&errors).unwrap();
    let copy = twice
        .lines()
        .find(|l| l.starts_with("4,"))
        .unwrap()
        .to_owned();
    std::fs::write(&errors, format!("{twice}{copy}\n")).unwrap();
    let check = pantry(&["check", errors.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert!(
        json["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"]
                .as_str()
                .unwrap()
                .starts_with("Row 4 appears twice in this error report")),
        "{json}"
    );
}
