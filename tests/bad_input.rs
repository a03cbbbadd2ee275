//! No input may crash or hang the program: generated garbage (a bounded
//! fuzz run with proptest) and the classic bad files each end in a report or
//! a clear message naming the file, and the row where one applies.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::check_file;
use pantry_core::progress::ImportProgress;
use pantry_core::report::SheetReport;
use proptest::prelude::*;

fn check(path: &Path) -> Result<SheetReport, String> {
    let progress = ImportProgress::new(None);
    check_file(path, Default::default(), progress.clone()).map_err(|e| e.to_string())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary bytes under every extension, and behind a zip or OLE header.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..3000),
        extension in prop::sample::select(vec!["csv", "tsv", "txt", "xlsx", "xls", "ods", "bin"]),
        prefix in prop::sample::select(vec![&b""[..], b"PK\x03\x04", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", b"\xEF\xBB\xBF", b"\xFF\xFE", b"Name,City\n"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&body);
        let path = write(dir.path(), &format!("fuzz.{extension}"), &bytes);
        match check(&path) {
            Ok(report) => prop_assert_eq!(report.total, report.succeeded + report.failed),
            Err(message) => prop_assert!(message.contains("fuzz."), "{}", message),
        }
    }

    /// Text that looks like CSV: quotes, delimiters and line breaks anywhere.
    #[test]
    fn csv_like_text_never_panics(body in "[A-Za-z0-9 ,;|\\t\"'\\r\\n=+@-]{0,400}") {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "accounts.csv", format!("Organizations,City\n{body}").as_bytes());
        let report = check(&path).expect("a CSV with a name column is always checked");
        prop_assert_eq!(report.total, report.succeeded + report.failed);
        for issue in report.failures.iter().chain(&report.warning_list) {
            prop_assert!(issue.row >= 2);
        }
    }
}

#[test]
fn truncated_workbooks_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/broker_accounts.xlsx"),
    )
    .unwrap();
    for cut in [10, whole.len() / 3, whole.len() / 2, whole.len() - 10] {
        let path = write(dir.path(), "cut.xlsx", &whole[..cut]);
        let message = check(&path).expect_err("a truncated workbook is refused");
        assert!(message.contains("cut.xlsx"), "{message}");
        assert!(
            message.contains("cannot read the workbook")
                || message.contains("damaged or truncated"),
            "{message}"
        );
    }
}

#[test]
fn a_50_megabyte_line_is_read_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Organizations,NOTES,TERRITORY\nBig Notes Co,");
    text.push_str(&"x".repeat(50 * 1024 * 1024));
    text.push_str(",North\n");
    let path = write(dir.path(), "long.csv", text.as_bytes());
    let started = Instant::now();
    let report = check(&path).unwrap();
    assert_eq!((report.total, report.succeeded), (1, 1));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // The same line as a name: the row fails, naming the column and the limit.
    let path = write(
        dir.path(),
        "long-name.csv",
        format!("Organizations\n{}\n", "n".repeat(50 * 1024 * 1024)).as_bytes(),
    );
    let report = check(&path).unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(report.failures[0].row, 2);
    assert_eq!(report.failures[0].column, "Organizations");
    assert!(
        report.failures[0].message.contains("52428800 characters"),
        "{}",
        report.failures[0].message
    );
}

#[test]
fn ten_thousand_columns_are_kept_in_import_notes() {
    let dir = tempfile::tempdir().unwrap();
    let headers: Vec<String> = std::iter::once("Organizations".to_owned())
        .chain((1..10_000).map(|i| format!("Extra {i}")))
        .collect();
    let values: Vec<String> = std::iter::once("Wide Co".to_owned())
        .chain((1..10_000).map(|i| format!("v{i}")))
        .collect();
    let path = write(
        dir.path(),
        "wide.csv",
        format!("{}\n{}\n", headers.join(","), values.join(",")).as_bytes(),
    );
    let started = Instant::now();
    let report = check(&path).unwrap();
    assert_eq!((report.total, report.succeeded), (1, 1));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn nul_bytes_and_unclosed_quotes_fail_their_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "nul.csv",
        b"Organizations,City\nGood Co,Chicago\nBad\0Co,Boston\nFine Co,Denver\n",
    );
    let report = check(&path).unwrap();
    assert_eq!((report.total, report.succeeded, report.failed), (3, 2, 1));
    assert_eq!(report.failures[0].row, 3);
    assert!(report.failures[0].message.contains("NUL character"));

    let mut text =
        String::from("Organizations,Notes\nGood Co,fine\nOpen Co,\"this quote never closes\n");
    for i in 0..200 {
        text.push_str(&format!("Lost {i},swallowed\n"));
    }
    let path = write(dir.path(), "quote.csv", text.as_bytes());
    let report = check(&path).unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(report.failures[0].row, 3);
    assert_eq!(report.failures[0].column, "Notes");
    assert!(
        report.failures[0].message.contains("probably never closed"),
        "{}",
        report.failures[0].message
    );
}

#[test]
fn invalid_utf8_in_a_utf8_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    // UTF-8 throughout, but for one Windows-1252 byte on line 4.
    let path = write(
        dir.path(),
        "mixed.csv",
        b"Organizations,City\nCaf\xc3\xa9,Z\xc3\xbcrich\nPlain,Bern\nBad \xe9,Basel\n",
    );
    let report = check(&path).unwrap();
    assert_eq!(report.notices[0].row, Some(4));
    assert!(
        report.notices[0].message.contains("line 4"),
        "{}",
        report.notices[0].message
    );
}

#[test]
fn empty_and_header_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let message = check(&write(dir.path(), "empty.csv", b"")).unwrap_err();
    assert!(
        message.ends_with("empty.csv: the file is empty"),
        "{message}"
    );
    let report = check(&write(dir.path(), "header.csv", b"Organizations,City\n")).unwrap();
    assert_eq!((report.total, report.failed), (0, 0));
    assert_eq!(
        report.notices[0].message,
        "The sheet has a header row but no data rows below it"
    );
}
