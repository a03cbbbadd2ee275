//! Real spreadsheets (SPEC.md, "Real spreadsheets"): the header found below
//! titles, dates, blank rows and notes, in CSV and xlsx, with the rows keeping
//! their spreadsheet numbers.

mod common;

use std::path::{Path, PathBuf};

use common::{pantry, text};
use pantry_core::spreadsheet::{SheetRow, Spreadsheet};

const HEADER: [&str; 4] = ["Organizations", "SEGMENT", "CITY", "Acct Mgr"];
const DATA: [[&str; 4]; 2] = [
    ["Hoboken Provisions", "Casual", "Hoboken", "Jane Doe"],
    [
        "Total Wine & More",
        "Chain/Group Member",
        "Boston",
        "Bob Smith",
    ],
];

/// What may sit above a broker's header: a title, a date, a blank row, a
/// note of two words in one cell, a number.
fn above(count: usize) -> Vec<Vec<&'static str>> {
    [
        vec!["Kitchen Pantry - Accounts 2024"],
        vec!["Exported 2024-03-01"],
        vec![""],
        vec!["Confidential: do not forward"],
        vec!["2024", "", "7"],
    ]
    .into_iter()
    .take(count)
    .collect()
}

fn rows(title_rows: usize) -> Vec<Vec<&'static str>> {
    let mut rows = above(title_rows);
    rows.push(HEADER.to_vec());
    rows.extend(DATA.iter().map(|r| r.to_vec()));
    rows
}

fn write_csv(dir: &Path, title_rows: usize) -> PathBuf {
    let path = dir.join(format!("accounts-{title_rows}.csv"));
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    for row in rows(title_rows) {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    path
}

fn write_xlsx(dir: &Path, title_rows: usize) -> PathBuf {
    let path = dir.join(format!("accounts-{title_rows}.xlsx"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows(title_rows).iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
    }
    book.save(&path).unwrap();
    path
}

#[test]
fn the_header_is_found_below_zero_to_five_title_rows_in_csv_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    for title_rows in 0..=5 {
        for path in [
            write_csv(dir.path(), title_rows),
            write_xlsx(dir.path(), title_rows),
        ] {
            let mut sheet = Spreadsheet::open(&path, None).unwrap();
            let header_row = title_rows as u64 + 1;
            assert_eq!(sheet.header_row(), header_row, "{}", path.display());
            assert_eq!(sheet.headers(), HEADER, "{}", path.display());
            let notice = sheet
                .notices()
                .iter()
                .find(|n| n.message.starts_with("The header is row"));
            // Blank rows are not named: only rows with something in them.
            match title_rows {
                0 => assert!(notice.is_none(), "{}", path.display()),
                _ => {
                    let message = &notice.unwrap().message;
                    assert!(
                        message.starts_with(&format!("The header is row {header_row}")),
                        "{message}"
                    );
                    assert!(
                        message.contains("row 1: 'Kitchen Pantry - Accounts 2024'"),
                        "{message}"
                    );
                }
            }
            let mut row = SheetRow::default();
            let mut read = Vec::new();
            while sheet.read_row(&mut row).unwrap() {
                read.push((
                    row.number,
                    row.cells().map(str::to_owned).collect::<Vec<_>>(),
                ));
            }
            assert_eq!(read.len(), 2, "{}: {read:?}", path.display());
            assert_eq!(
                read[0].0,
                header_row + 1,
                "row numbers stay the spreadsheet's"
            );
            assert_eq!(read[0].1, DATA[0]);
            assert_eq!(read[1].0, header_row + 2);
        }
    }
}

#[test]
fn a_header_of_unknown_names_is_the_first_row_of_two_text_cells_with_data_below() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.csv");
    std::fs::write(
        &path,
        "Our list\n\nWidget,Colour,Count\nBolt,Grey,7\nNut,Black,9\n",
    )
    .unwrap();
    let sheet = Spreadsheet::open(&path, None).unwrap();
    assert_eq!(sheet.header_row(), 3);
    assert_eq!(sheet.headers(), ["Widget", "Colour", "Count"]);
}

#[test]
fn a_title_row_no_longer_fails_every_row_of_a_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_xlsx(dir.path(), 2);
    let output = pantry(&["check", path.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["entity"], "organizations");
    assert_eq!(json["total"], 2);
    assert_eq!(json["succeeded"], 2, "Total Wine & More is an organization");
    assert_eq!(json["failures"], serde_json::json!([]));
}

#[test]
fn a_totals_row_is_skipped_with_a_warning_and_total_wine_is_an_organization() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.csv");
    std::fs::write(
        &path,
        "Kitchen Pantry - Accounts 2024\n\
         Organizations,SEGMENT,CITY\n\
         Hoboken Provisions,Casual,Hoboken\n\
         Total Wine & More,Chain/Group Member,Boston\n\
         TOTAL / Total: 2 accounts,,\n",
    )
    .unwrap();
    for command in ["check", "import"] {
        let db = (command == "import").then(|| {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(common::TestDatabase::migrated())
        });
        let mut args = vec![command, path.to_str().unwrap(), "--json"];
        if let Some(db) = &db {
            args.extend(["--database-url", db.url.as_str()]);
        }
        let output = pantry(&args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_totals_skipped(&json);
        if let Some(db) = db {
            let stored = tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(db.count("SELECT count(*) FROM organizations"));
            assert_eq!(stored, 2);
        }
    }
}

#[tokio::test]
async fn a_totals_row_the_broker_keeps_is_imported_and_the_others_are_not() {
    let db = common::TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.csv");
    std::fs::write(
        &path,
        "Organizations,CITY\n\
         Hoboken Provisions,Hoboken\n\
         Sum Total Catering,Boston\n\
         Total,Albany\n\
         Grand Total,\n",
    )
    .unwrap();
    // "Total" is a real customer in Albany; the grand total is not.
    let sheet = pantry_core::run::SheetPlan {
        edits: pantry_core::edits::SheetEdits {
            kept_totals_rows: [4].into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let report = common::import_sheet(
        &path,
        sheet,
        &db.settings(),
        &Default::default(),
        pantry_core::progress::ImportProgress::new(None),
    )
    .await
    .unwrap();
    assert_eq!((report.succeeded, report.failed), (3, 0));
    let client = db.client().await;
    let names: Vec<(String, i32)> = client
        .query(
            "SELECT name, import_source_row FROM organizations ORDER BY import_source_row",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Hoboken Provisions".to_owned(), 2),
            ("Sum Total Catering".to_owned(), 3),
            ("Total".to_owned(), 4),
        ]
    );
    assert_eq!(report.warnings, 1, "{:?}", report.warning_list);
    assert_eq!(report.warning_list[0].row, 5);
}

fn assert_totals_skipped(json: &serde_json::Value) {
    assert_eq!(json["total"], 3);
    assert_eq!(json["succeeded"], 2);
    assert_eq!(json["failed"], 0);
    assert_eq!(
        json["warning_list"],
        serde_json::json!([{
            "row": 5,
            "column": "Organizations",
            "message": "'TOTAL / Total: 2 accounts' looks like a totals row, not one of the organizations; not imported"
        }])
    );
}

#[test]
fn a_saved_mapping_sets_the_header_row_columns_and_values_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("accounts.csv");
    std::fs::write(
        &sheet,
        "Kitchen Pantry - Accounts 2024\n\
         Organizations,Acct Mgr,SEGMENT,Internal ID,Region\n\
         Hoboken Provisions,Jane Doe,Food Truck,X-17,North\n",
    )
    .unwrap();
    let mapping = dir.path().join("accounts.mapping.json");
    std::fs::write(
        &mapping,
        r#"{"entity": "organizations", "header_row": 2,
            "columns": {"Acct Mgr": "primary_manager_name", "Internal ID": null, "Region": "import_notes"},
            "values": {"segment": {"Food Truck": "Casual Dining"}}}"#,
    )
    .unwrap();

    // Without the mapping: the manager goes to notes, the segment is unknown.
    let plain = pantry(&["check", sheet.to_str().unwrap(), "--json"]);
    let plain: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert!(
        plain["warning_list"]
            .to_string()
            .contains("Unknown segment 'Food Truck'"),
        "{plain}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(common::TestDatabase::migrated());
    let output = pantry(&[
        "import",
        sheet.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["succeeded"], 1);
    assert_eq!(json["warning_list"], serde_json::json!([]), "{json}");
    runtime.block_on(async {
        let client = db.client().await;
        let row = client
            .query_one(
                "SELECT primary_manager_name, segment, type::text, import_source_row, import_notes \
                 FROM organizations",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "Jane Doe");
        assert_eq!(row.get::<_, String>(1), "Casual Dining");
        assert_eq!(row.get::<_, String>(2), "customer");
        assert_eq!(row.get::<_, i32>(3), 3, "the spreadsheet's own row number");
        let notes: String = row.get(4);
        assert!(notes.contains(r#""Region":"North""#), "{notes}");
        assert!(notes.contains(r#""SEGMENT (as written)":"Food Truck""#), "{notes}");
        assert!(!notes.contains("X-17"), "a skipped column is not kept: {notes}");
        let recorded = client
            .query_one(
                "SELECT mapping->>'header_row', mapping->'columns'->>'Acct Mgr' FROM import_batches",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(recorded.get::<_, Option<String>>(0).as_deref(), Some("2"));
        assert_eq!(
            recorded.get::<_, Option<String>>(1).as_deref(),
            Some("primary_manager_name")
        );
    });

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"entity": "organizations", "header_row": 9}"#).unwrap();
    let output = pantry(&[
        "check",
        sheet.to_str().unwrap(),
        "--mapping",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("row 9: the header row chosen is past the last row"),
        "{}",
        text(&output.stderr)
    );
}
