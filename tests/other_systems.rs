//! Files from other systems (SPEC.md, "Files from other systems"): exports
//! of HubSpot, Salesforce, Pipedrive and Zoho and a manufacturer's price
//! list, headed exactly as those systems write them, imported with no
//! entity and no mapping into an empty CRM. Every cell is then looked for
//! in the database: in the column `expected.json` says a careful person
//! would put it in (right), in another column (wrong), only in the record's
//! import notes (kept, not placed), or nowhere (lost).
//!
//! `cargo test --test other_systems -- --nocapture` prints the table the
//! README shows.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{TestDatabase, import_file};
use pantry_core::import::ImportOptions;
use pantry_core::links::{LinkPolicies, LinkPolicy};
use pantry_core::progress::ImportProgress;
use pantry_core::report::SheetReport;
use pantry_core::spreadsheet::{SheetRow, Spreadsheet};

/// What a careful person says about one file.
struct Expected {
    system: String,
    entity: String,
    /// Header → the CRM column its cells belong in (`table.column` or
    /// `column`); `None`: the CRM has none, import notes keep them.
    columns: BTreeMap<String, Option<String>>,
}

struct Corpus {
    /// The files, in the order their links need.
    order: Vec<String>,
    files: BTreeMap<String, Expected>,
}

/// Cells of one file, by where they ended up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    /// The entity the file was read as.
    read_as: &'static str,
    /// Cells whose header has a CRM column.
    placeable: u64,
    /// Of those, cells stored in that column.
    right: u64,
    /// Cells stored in a column other than the expected one.
    wrong: u64,
    /// Cells of a CRM column kept only in import notes.
    in_notes: u64,
    /// Cells neither in a column nor in import notes.
    lost: u64,
    /// Values of a placed column its rules did not understand (an unknown
    /// stage or type): placed, but not as a value of the CRM's.
    not_understood: u64,
}

impl Tally {
    fn share_right(&self) -> f64 {
        if self.placeable == 0 {
            return 100.0;
        }
        self.right as f64 * 100.0 / self.placeable as f64
    }
}

fn corpus_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read_corpus(name: &str) -> Corpus {
    let text = std::fs::read_to_string(corpus_dir(name).join("expected.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let text_of = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let files: BTreeMap<String, Expected> = json["files"]
        .as_object()
        .expect("files")
        .iter()
        .map(|(file, expected)| {
            let columns = expected["columns"]
                .as_object()
                .expect("columns")
                .iter()
                .map(|(header, column)| (header.clone(), column.as_str().map(str::to_owned)))
                .collect();
            let expected = Expected {
                system: text_of(&expected["system"]),
                entity: text_of(&expected["entity"]),
                columns,
            };
            (file.clone(), expected)
        })
        .collect();
    let order = match json["order"].as_array() {
        Some(order) => order.iter().map(text_of).collect(),
        None => files.keys().cloned().collect(),
    };
    Corpus { order, files }
}

/// The stored records of one import, by spreadsheet row, as JSON objects.
async fn stored(
    db: &TestDatabase,
    report: &SheetReport,
) -> BTreeMap<i64, serde_json::Map<String, serde_json::Value>> {
    let client = db.client().await;
    // The table name is the description's own constant, not input.
    let sql = format!(
        "SELECT import_source_row::bigint, row_to_json(t)::text FROM {} t WHERE import_batch_id = $1 AND import_source_row IS NOT NULL",
        report.entity.description().table
    );
    let rows = client.query(&sql, &[&report.import_id]).await.unwrap();
    rows.iter()
        .map(|row| {
            let json: String = row.get(1);
            let serde_json::Value::Object(object) = serde_json::from_str(&json).unwrap() else {
                panic!("a row is an object");
            };
            (row.get::<_, i64>(0), object)
        })
        .collect()
}

fn notes_hold(record: &serde_json::Map<String, serde_json::Value>, key: &str, cell: &str) -> bool {
    let Some(serde_json::Value::String(notes)) = record.get("import_notes") else {
        return false;
    };
    let notes: serde_json::Value = serde_json::from_str(notes).unwrap_or_default();
    notes
        .as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| k.starts_with(key) && v.as_str().map(str::trim) == Some(cell))
}

/// Where every cell of `path` went.
async fn tally_file(
    db: &TestDatabase,
    path: &Path,
    expected: &Expected,
    options: &ImportOptions,
) -> (Tally, Vec<String>) {
    let report = import_file(path, &db.settings(), options, ImportProgress::new(None))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let records = stored(db, &report).await;
    let mut misses = Vec::new();
    let mut tally = Tally {
        read_as: report.entity.name(),
        ..Tally::default()
    };
    for failure in &report.failures {
        misses.push(format!("row {}: failed: {}", failure.row, failure.message));
    }
    for warning in &report.warning_list {
        if warning.message.starts_with("Unknown") {
            tally.not_understood += 1;
            misses.push(format!("row {}: {}", warning.row, warning.message));
        }
    }
    let placed: BTreeMap<&str, Option<&str>> = report
        .columns
        .iter()
        .map(|c| (c.header.as_str(), c.field.as_deref()))
        .collect();
    let mut spreadsheet = Spreadsheet::open(path, None).unwrap();
    let headers = spreadsheet.headers().to_vec();
    let mut row = SheetRow::default();
    while spreadsheet.read_row(&mut row).unwrap() {
        let record = records.get(&(row.number as i64));
        for (index, header) in headers.iter().enumerate() {
            let cell = row.get(index).trim();
            if cell.is_empty() {
                continue;
            }
            let want = expected
                .columns
                .get(header)
                .unwrap_or_else(|| panic!("{header}: not in expected.json"))
                .as_deref()
                .map(|c| c.rsplit('.').next().unwrap_or(c));
            let got = placed.get(header.as_str()).copied().flatten();
            tally.placeable += u64::from(want.is_some());
            let Some(record) = record else {
                tally.lost += 1;
                misses.push(format!("row {}: not stored", row.number));
                continue;
            };
            match got {
                Some(field) if field != "skip" && !record[field].is_null() => {
                    if want == Some(field) {
                        tally.right += 1;
                    } else {
                        tally.wrong += 1;
                        misses.push(format!("'{header}' went to {field}, not {want:?}"));
                    }
                }
                _ if notes_hold(record, header, cell) => {
                    if let Some(want) = want {
                        tally.in_notes += 1;
                        misses.push(format!("'{header}' kept in notes, not in {want}"));
                    }
                }
                _ => {
                    tally.lost += 1;
                    misses.push(format!("row {}: '{header}' = '{cell}' lost", row.number));
                }
            }
        }
    }
    misses.sort();
    misses.dedup();
    (tally, misses)
}

/// Imports a corpus and prints its table; returns each file's tally. With
/// `apart`, each file goes into a CRM of its own (files of one system that
/// name each other's records go into one, in order).
async fn measure(name: &str, options: &ImportOptions, apart: bool) -> Vec<(String, Tally)> {
    let corpus = read_corpus(name);
    let mut db = TestDatabase::migrated().await;
    let mut tallies = Vec::new();
    println!(
        "\n| File | System | Read as | Cells with a CRM column | Right | Only in import notes | Wrong | Lost | Values not understood |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    let mut sum = Tally::default();
    for file in &corpus.order {
        let expected = &corpus.files[file];
        if apart {
            db = TestDatabase::migrated().await;
        }
        let (tally, misses) =
            tally_file(&db, &corpus_dir(name).join(file), expected, options).await;
        println!(
            "| {file} | {} | {} | {} | {} ({:.0}%) | {} | {} | {} | {} |",
            expected.system,
            if tally.read_as == expected.entity {
                tally.read_as.to_owned()
            } else {
                format!("**{}** (not {})", tally.read_as, expected.entity)
            },
            tally.placeable,
            tally.right,
            tally.share_right(),
            tally.in_notes,
            tally.wrong,
            tally.lost,
            tally.not_understood
        );
        for miss in misses {
            eprintln!("    {file}: {miss}");
        }
        sum.placeable += tally.placeable;
        sum.right += tally.right;
        sum.wrong += tally.wrong;
        sum.in_notes += tally.in_notes;
        sum.lost += tally.lost;
        sum.not_understood += tally.not_understood;
        tallies.push((file.clone(), tally));
    }
    println!(
        "| **all** | | | {} | {} ({:.1}%) | {} | {} | {} | {} |",
        sum.placeable,
        sum.right,
        sum.share_right(),
        sum.in_notes,
        sum.wrong,
        sum.lost,
        sum.not_understood
    );
    tallies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_of_other_systems_land_in_the_right_columns_with_nothing_wrong_or_lost() {
    let corpus = read_corpus("other_systems");
    for (file, tally) in measure("other_systems", &ImportOptions::default(), false).await {
        assert_eq!(tally.read_as, corpus.files[&file].entity, "{file}");
        assert_eq!(tally.wrong, 0, "{file}: {tally:?}");
        assert_eq!(tally.lost, 0, "{file}: {tally:?}");
        assert_eq!(tally.right, tally.placeable, "{file}: {tally:?}");
        assert_eq!(tally.not_understood, 0, "{file}: {tally:?}");
    }
}

/// Five files a helper wrote from the systems' documentation without seeing
/// the rules (Dynamics 365, Copper, Odoo, QuickBooks Online, Salesforce
/// contacts; `tests/data/unseen/SOURCES.md`), with the helper's own idea of
/// where each column belongs. Their companies are not all in the CRM, so
/// missing organizations are created, and each file goes into a CRM of its
/// own. The shares are what they are (the README shows them); nothing may
/// be lost, and each file must be read as the entity it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_rules_were_not_tuned_for_lose_nothing() {
    let corpus = read_corpus("unseen");
    let options = ImportOptions {
        links: LinkPolicies {
            all: Some(LinkPolicy::Create),
            ..LinkPolicies::default()
        },
        ..ImportOptions::default()
    };
    for (file, tally) in measure("unseen", &options, true).await {
        assert_eq!(tally.read_as, corpus.files[&file].entity, "{file}");
        assert_eq!(tally.lost, 0, "{file}: {tally:?}");
    }
}
