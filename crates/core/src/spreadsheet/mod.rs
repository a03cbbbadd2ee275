//! Reading a broker's file: CSV/TSV/TXT in any encoding Excel writes, and
//! workbooks (`.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods`).
//!
//! A [`Spreadsheet`] yields a header and then one [`SheetRow`] at a time, each
//! carrying the row number the broker sees in Excel (header = row 1). Text
//! files are streamed, so memory does not grow with the file.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many bytes of a text file are looked at to guess its delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// A record spanning more lines than this is almost surely an unclosed quote
/// that swallowed the lines after it.
pub const SUSPICIOUS_RECORD_LINES: u64 = 100;

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system refused to open or read the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The file holds no rows at all.
    #[error("{path}: the file is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a spreadsheet this program can read.
    #[error("{path}: {reason}")]
    NotASpreadsheet {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The workbook is password protected.
    #[error(
        "{path}: the workbook is encrypted with a password; save an unprotected copy and open that"
    )]
    Encrypted {
        /// The file.
        path: PathBuf,
    },
    /// The named sheet does not exist.
    #[error("{path}: there is no sheet named '{sheet}' (sheets: {})", available.join(", "))]
    NoSuchSheet {
        /// The file.
        path: PathBuf,
        /// The sheet asked for.
        sheet: String,
        /// The sheets the workbook has.
        available: Vec<String>,
    },
    /// The workbook reader failed.
    #[error("{path}: cannot read the workbook: {message}")]
    Workbook {
        /// The file.
        path: PathBuf,
        /// What the workbook reader said.
        message: String,
    },
    /// A row of a text file could not be parsed.
    #[error("{path}, row {row}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// Spreadsheet row number.
        row: u64,
        /// What went wrong.
        message: String,
    },
}

/// Something about the whole file the broker should know, which does not stop
/// the import (for example the encoding that was guessed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNotice {
    /// The spreadsheet row it concerns, when there is one.
    pub row: Option<u64>,
    /// Plain words.
    pub message: String,
}

/// The kind of file, decided from its content (and its extension for text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Delimited text.
    Text,
    /// An Excel or OpenDocument workbook.
    Workbook,
}

/// One data row of a sheet.
#[derive(Debug, Clone, Default)]
pub struct SheetRow {
    /// The row number as the spreadsheet shows it (header = 1).
    pub number: u64,
    /// How many lines of a text file the row spans (quoted line breaks add
    /// lines, not rows); 1 for workbooks.
    pub lines: u64,
    cells: csv::StringRecord,
}

impl SheetRow {
    /// Builds a row from cells, for callers that already hold them.
    pub fn from_cells<'a>(number: u64, cells: impl IntoIterator<Item = &'a str>) -> Self {
        let mut record = csv::StringRecord::new();
        for cell in cells {
            record.push_field(cell);
        }
        SheetRow {
            number,
            lines: 1,
            cells: record,
        }
    }

    /// The cell at zero-based column `index`, or `""` past the end of a short row.
    /// A cell that an export or error report kept from running as a formula
    /// (`'=SUM(A1)`, see [`crate::report::neutralise_formula`]) reads as
    /// written before (`=SUM(A1)`).
    pub fn get(&self, index: usize) -> &str {
        let cell = self.cells.get(index).unwrap_or("");
        match cell.strip_prefix('\'') {
            Some(marked) if marked.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) => marked,
            _ => cell,
        }
    }

    /// The row with some cells replaced (by column index), as the broker
    /// edited them; cells past the end are added.
    pub fn with_cells(&self, replaced: &std::collections::BTreeMap<usize, String>) -> SheetRow {
        let width = self
            .cells
            .len()
            .max(replaced.keys().next_back().map_or(0, |last| last + 1));
        let mut record = csv::StringRecord::with_capacity(self.cells.as_slice().len(), width);
        for index in 0..width {
            match replaced.get(&index) {
                Some(text) => record.push_field(text),
                None => record.push_field(self.cells.get(index).unwrap_or("")),
            }
        }
        SheetRow {
            number: self.number,
            lines: self.lines,
            cells: record,
        }
    }

    /// How many cells the row has, as written.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no cells at all.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Whether every cell is blank (such rows are skipped, as Excel's trailing
    /// `,,,,` lines are).
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|cell| cell.trim().is_empty())
    }

    /// The cells in column order.
    pub fn cells(&self) -> impl Iterator<Item = &str> {
        self.cells.iter()
    }
}

/// An open spreadsheet, positioned after its header row.
pub struct Spreadsheet {
    path: PathBuf,
    kind: FileKind,
    headers: Vec<String>,
    header_row: u64,
    notices: Vec<FileNotice>,
    source: RowSource,
    bytes_total: u64,
    bytes_read: Arc<AtomicU64>,
    description: String,
    sheet_names: Vec<String>,
    sheet: Option<String>,
    /// Rows read while looking for the header, below it: handed out first.
    pending: std::collections::VecDeque<SheetRow>,
    /// The first rows above the header (titles, dates, notes), at most
    /// [`HEADER_SEARCH_ROWS`], for a broker choosing another header row.
    above_header: Vec<SheetRow>,
}

enum RowSource {
    Text(TextRows),
    Workbook(WorkbookRows),
    Streamed(StreamedRows),
}

impl std::fmt::Debug for Spreadsheet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spreadsheet")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Spreadsheet {
    /// Opens `path` and reads its header. `sheet` picks a workbook sheet by
    /// name (the first sheet when `None`; ignored for text files).
    pub fn open(path: &Path, sheet: Option<&str>) -> Result<Spreadsheet, ReadError> {
        Spreadsheet::open_with_header(path, sheet, None)
    }

    /// As [`Spreadsheet::open`], with the header at row `header_row` when
    /// given (a saved mapping's, or the broker's click) instead of the one
    /// found automatically.
    pub fn open_with_header(
        path: &Path,
        sheet: Option<&str>,
        header_row: Option<u64>,
    ) -> Result<Spreadsheet, ReadError> {
        let io_error = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_error)?;
        let bytes_total = file.metadata().map_err(io_error)?.len();
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut file)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(io_error)?;
        file.rewind().map_err(io_error)?;
        if head.is_empty() {
            return Err(ReadError::Empty {
                path: path.to_path_buf(),
            });
        }
        let mut spreadsheet = match sniff_kind(path, &head)? {
            FileKind::Workbook => open_workbook(path, sheet, bytes_total)?,
            FileKind::Text => open_text(path, file, &head, bytes_total)?,
        };
        spreadsheet.read_header(header_row)?;
        Ok(spreadsheet)
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Text or workbook.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The header cells as written (blank ones stay blank).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The spreadsheet row number of the header.
    pub fn header_row(&self) -> u64 {
        self.header_row
    }

    /// The first non-blank rows above the header, which are not imported
    /// (at most 30): where a broker looks to choose another header row.
    pub fn rows_above_header(&self) -> &[SheetRow] {
        &self.above_header
    }

    /// Notes about the whole file (encoding guessed, sheet chosen...).
    pub fn notices(&self) -> &[FileNotice] {
        &self.notices
    }

    /// A short description such as "CSV, Windows-1252, ';'-separated" or
    /// "workbook sheet 'Accounts'".
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The worksheets of a workbook, in order, for a sheet picker (none for
    /// text files).
    pub fn sheet_names(&self) -> &[String] {
        &self.sheet_names
    }

    /// The worksheet being read, for workbooks.
    pub fn sheet(&self) -> Option<&str> {
        self.sheet.as_deref()
    }

    /// What the sheet is called, for telling what it holds: a workbook
    /// sheet's name, or a text file's name without its extension.
    pub fn name_hint(&self) -> Option<crate::entity::NameHint<'_>> {
        match &self.sheet {
            Some(sheet) => Some(crate::entity::NameHint::Sheet(sheet)),
            None => self
                .path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .map(crate::entity::NameHint::File),
        }
    }

    /// The file's size in bytes.
    pub fn bytes_total(&self) -> u64 {
        self.bytes_total
    }

    /// A shared counter of the bytes read so far, for progress bars on other
    /// threads. For workbooks it advances in proportion to rows read.
    pub fn bytes_read_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes_read)
    }

    /// The next `count` data rows (fewer at the end of the sheet), read
    /// ahead: [`Spreadsheet::read_row`] still hands them out in turn.
    pub fn peek_rows(&mut self, count: usize) -> Result<&[SheetRow], ReadError> {
        while self.pending.len() < count {
            let mut row = SheetRow::default();
            if !self.read_next(&mut row)? {
                break;
            }
            self.pending.push_back(row);
        }
        Ok(self.pending.make_contiguous())
    }

    /// Reads the next non-blank data row into `row`. Returns `false` at the end.
    pub fn read_row(&mut self, row: &mut SheetRow) -> Result<bool, ReadError> {
        if let Some(pending) = self.pending.pop_front() {
            *row = pending;
            return Ok(true);
        }
        self.read_next(row)
    }

    /// The next non-blank row from the source itself.
    fn read_next(&mut self, row: &mut SheetRow) -> Result<bool, ReadError> {
        loop {
            let more = match &mut self.source {
                RowSource::Text(text) => text.read(&self.path, row)?,
                RowSource::Streamed(stream) => stream.read(&self.path, row)?,
                RowSource::Workbook(book) => {
                    let more = book.read(row);
                    if book.rows_total > 0 {
                        let done = self.bytes_total * book.next as u64 / book.rows_total as u64;
                        self.bytes_read.store(done, Ordering::Relaxed);
                    }
                    more
                }
            };
            if !more {
                self.bytes_read.store(self.bytes_total, Ordering::Relaxed);
                return Ok(false);
            }
            if let RowSource::Streamed(stream) = &self.source
                && stream.last_row > 0
            {
                let done = self.bytes_total * row.number.min(stream.last_row) / stream.last_row;
                self.bytes_read.store(done, Ordering::Relaxed);
            }
            if !row.is_blank() {
                return Ok(true);
            }
        }
    }

    /// Finds the header among the first rows (SPEC.md, "Header row"): the
    /// first row whose cells match at least two known headers of one
    /// entity, else the first with two text cells and a row below it, else
    /// the first row. Rows above it (titles, dates) are named in a notice;
    /// rows below it that were read on the way are kept for `read_row`.
    fn read_header(&mut self, chosen: Option<u64>) -> Result<(), ReadError> {
        let mut looked_at = Vec::new();
        let mut known = None;
        while chosen.is_some() || looked_at.len() < HEADER_SEARCH_ROWS {
            let mut row = SheetRow::default();
            if !self.read_next(&mut row)? {
                break;
            }
            if let Some(chosen) = chosen {
                let number = row.number;
                looked_at.push(row);
                if number >= chosen {
                    if number > chosen {
                        return Err(ReadError::Row {
                            path: self.path.clone(),
                            row: chosen,
                            message: "the header row chosen is blank".to_owned(),
                        });
                    }
                    known = Some(looked_at.len() - 1);
                    break;
                }
                continue;
            }
            let cells: Vec<String> = row.cells().map(str::to_owned).collect();
            looked_at.push(row);
            if crate::entity::known_header_count(&cells) >= 2 {
                known = Some(looked_at.len() - 1);
                break;
            }
        }
        if looked_at.is_empty() {
            return Err(ReadError::Empty {
                path: self.path.clone(),
            });
        }
        if let Some(chosen) = chosen
            && known.is_none()
        {
            return Err(ReadError::Row {
                path: self.path.clone(),
                row: chosen,
                message: "the header row chosen is past the last row".to_owned(),
            });
        }
        let at = known
            .or_else(|| {
                (0..looked_at.len().saturating_sub(1)).find(|&i| text_cells(&looked_at[i]) >= 2)
            })
            .unwrap_or(0);
        let mut rows = looked_at.into_iter();
        let above: Vec<SheetRow> = rows.by_ref().take(at).collect();
        let Some(header) = rows.next() else {
            return Err(ReadError::Empty {
                path: self.path.clone(),
            });
        };
        self.pending = rows.collect();
        self.header_row = header.number;
        self.headers = header.cells().map(str::to_owned).collect();
        if !above.is_empty() {
            // A header chosen far down would name every row above it: five do.
            let mut named: Vec<String> = above
                .iter()
                .take(5)
                .map(|r| {
                    let text: Vec<&str> = r.cells().filter(|c| !c.trim().is_empty()).collect();
                    format!(
                        "row {}: '{}'",
                        r.number,
                        crate::values::shorten(&text.join(" "))
                    )
                })
                .collect();
            if above.len() > named.len() {
                named.push(format!("and {} more", above.len() - named.len()));
            }
            self.notices.push(FileNotice {
                row: Some(header.number),
                message: format!(
                    "The header is row {}; the row{} above it {} skipped ({})",
                    header.number,
                    if above.len() == 1 { "" } else { "s" },
                    if above.len() == 1 { "was" } else { "were" },
                    named.join(", "),
                ),
            });
        }
        self.above_header = above;
        self.above_header.truncate(HEADER_SEARCH_ROWS);
        Ok(())
    }
}

/// Rows looked through for the header.
const HEADER_SEARCH_ROWS: usize = 30;

/// Non-empty cells that are not numbers.
fn text_cells(row: &SheetRow) -> usize {
    row.cells()
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.replace(',', "").parse::<f64>().is_err())
        .count()
}

fn sniff_kind(path: &Path, head: &[u8]) -> Result<FileKind, ReadError> {
    const ZIP: &[u8] = b"PK\x03\x04";
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if head.starts_with(ZIP) || head.starts_with(OLE) {
        return Ok(FileKind::Workbook);
    }
    let has_utf16_bom = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    if !has_utf16_bom && looks_binary(head) {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let reason = if matches!(extension.as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods") {
            "the workbook is damaged or truncated (it does not start like an Excel or OpenDocument file)".to_owned()
        } else {
            "this is not a spreadsheet: it holds binary data, not text; open a .csv, .tsv, .txt, .xlsx, .xls or .ods file".to_owned()
        };
        return Err(ReadError::NotASpreadsheet {
            path: path.to_path_buf(),
            reason,
        });
    }
    Ok(FileKind::Text)
}

/// Binary content: many NUL or control bytes in the first block. A stray NUL in
/// a text file is reported per row instead.
fn looks_binary(head: &[u8]) -> bool {
    let controls = head
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C)))
        .count();
    controls * 20 > head.len() || (head.len() < 64 && controls > 0 && head.contains(&0))
}

mod text;
mod workbook;

use text::*;
use workbook::*;

/// The spreadsheet's name for a zero-based column: A, B, ..., Z, AA, ...
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::Data;

    fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    fn read_all(path: &Path) -> (Vec<String>, Vec<(u64, Vec<String>)>) {
        let mut sheet = Spreadsheet::open(path, None).unwrap();
        let mut row = SheetRow::default();
        let mut rows = Vec::new();
        while sheet.read_row(&mut row).unwrap() {
            rows.push((row.number, row.cells().map(str::to_owned).collect()));
        }
        (sheet.headers().to_vec(), rows)
    }

    #[test]
    fn a_formula_guard_is_taken_off_when_read() {
        let row = SheetRow::from_cells(
            2,
            ["'=SUM(A1)", "'+1 312 555 0100", "'plain", "'-", "'", "''-x"],
        );
        let cells: Vec<&str> = (0..row.len()).map(|i| row.get(i)).collect();
        assert_eq!(
            cells,
            ["=SUM(A1)", "+1 312 555 0100", "'plain", "-", "'", "'-x"]
        );
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn semicolon_windows_1252_with_crlf() {
        // "Café;Zürich" and a curly quote, as Excel on Windows writes them.
        let bytes = b"Name;City\r\nCaf\xe9 \x93Le Grand\x94;Z\xfcrich\r\n";
        let (_dir, path) = write("export.csv", bytes);
        let (headers, rows) = read_all(&path);
        assert_eq!(headers, ["Name", "City"]);
        assert_eq!(
            rows,
            vec![(2, vec!["Café “Le Grand”".to_owned(), "Zürich".to_owned()])]
        );
        let sheet = Spreadsheet::open(&path, None).unwrap();
        assert!(sheet.description().contains("windows-1252"));
        assert_eq!(sheet.notices()[0].row, Some(2));
    }

    #[test]
    fn utf16_with_bom_tab_separated() {
        let text = "Name\tZip\r\nÆble\t07030\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let (_dir, path) = write("unicode.txt", &bytes);
        let (headers, rows) = read_all(&path);
        assert_eq!(headers, ["Name", "Zip"]);
        assert_eq!(rows, vec![(2, vec!["Æble".to_owned(), "07030".to_owned()])]);
    }

    #[test]
    fn utf8_bom_is_stripped_and_quoted_breaks_do_not_add_rows() {
        let (_dir, path) = write(
            "bom.csv",
            "\u{feff}Name,Notes\n\"A, Inc.\",\"two\nlines\"\n\nB,\"say \"\"hi\"\"\"\n".as_bytes(),
        );
        let (headers, rows) = read_all(&path);
        assert_eq!(headers, ["Name", "Notes"]);
        assert_eq!(
            rows[0],
            (2, vec!["A, Inc.".to_owned(), "two\nlines".to_owned()])
        );
        // The blank line is row 3, as Excel would show it; B is row 4.
        assert_eq!(rows[1], (4, vec!["B".to_owned(), "say \"hi\"".to_owned()]));
    }

    #[test]
    fn pipe_delimiter_is_found() {
        let (_dir, path) = write("p.txt", b"a|b|c\n1|2,5|3\n4|5|6\n");
        let (headers, rows) = read_all(&path);
        assert_eq!(headers, ["a", "b", "c"]);
        assert_eq!(rows[0].1, ["1", "2,5", "3"]);
    }

    #[test]
    fn empty_and_binary_files_are_refused_clearly() {
        let (_dir, path) = write("empty.csv", b"");
        let error = Spreadsheet::open(&path, None).unwrap_err();
        assert!(error.to_string().contains("the file is empty"), "{error}");

        let (_dir, path) = write("blank.csv", b"\n\n,,\n");
        let error = Spreadsheet::open(&path, None).unwrap_err();
        assert!(error.to_string().contains("the file is empty"), "{error}");

        let mut binary = vec![0u8; 4096];
        binary[..4].copy_from_slice(b"\x7fELF");
        let (_dir, path) = write("program.csv", &binary);
        let error = Spreadsheet::open(&path, None).unwrap_err();
        assert!(error.to_string().contains("binary data"), "{error}");

        let (_dir, path) = write("broken.xlsx", b"PK\x03\x04 not really a zip");
        let error = Spreadsheet::open(&path, None).unwrap_err();
        assert!(
            error.to_string().contains("cannot read the workbook"),
            "{error}"
        );
    }

    #[test]
    fn cell_text_formats_numbers_and_dates() {
        let mut out = String::new();
        cell_text(&Data::Float(7030.0), &mut out);
        assert_eq!(out, "7030");
        out.clear();
        cell_text(&Data::Float(2.5), &mut out);
        assert_eq!(out, "2.5");
        out.clear();
        let date =
            calamine::ExcelDateTime::new(44197.0, calamine::ExcelDateTimeType::DateTime, false);
        cell_text(&Data::DateTime(date), &mut out);
        assert_eq!(out, "2021-01-01");
    }
}
