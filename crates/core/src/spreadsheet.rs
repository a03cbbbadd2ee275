//! Reading a broker's file: CSV/TSV/TXT in any encoding Excel writes, and
//! workbooks (`.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods`).
//!
//! A [`Spreadsheet`] yields a header and then one [`SheetRow`] at a time, each
//! carrying the row number the broker sees in Excel (header = row 1). Text
//! files are streamed, so memory does not grow with the file.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use calamine::{Data, Reader};
use encoding_rs::Encoding;

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

    /// The file's size in bytes.
    pub fn bytes_total(&self) -> u64 {
        self.bytes_total
    }

    /// A shared counter of the bytes read so far, for progress bars on other
    /// threads. For workbooks it advances in proportion to rows read.
    pub fn bytes_read_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes_read)
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

// ---------------------------------------------------------------------------
// Text files

struct TextRows {
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// Spreadsheet row number of the last record read.
    last_row: u64,
}

impl TextRows {
    fn read(&mut self, path: &Path, row: &mut SheetRow) -> Result<bool, ReadError> {
        match self.reader.read_record(&mut row.cells) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(error) => {
                return Err(ReadError::Row {
                    path: path.to_path_buf(),
                    row: self.last_row + 1,
                    message: csv_error_message(&error),
                });
            }
        }
        // The record's position is where the parser started looking, before
        // any blank lines; the reader's is just past the record. Excel shows
        // blank lines as rows, so they count; a line break inside quotes
        // does not start a new row.
        let start_line = row.cells.position().map_or(0, |p| p.line());
        let end_line = self.reader.position().line();
        let inner_breaks =
            memchr::memchr_iter(b'\n', row.cells.as_slice().as_bytes()).count() as u64;
        let blank_lines = end_line
            .saturating_sub(start_line)
            .saturating_sub(1 + inner_breaks);
        self.last_row += 1 + blank_lines;
        row.number = self.last_row;
        row.lines = 1 + inner_breaks;
        Ok(true)
    }
}

fn csv_error_message(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "column {}: the text is not valid UTF-8; save the file as 'CSV UTF-8' and try again",
            err.field() + 1
        ),
        csv::ErrorKind::Io(io) => format!("cannot read the file: {io}"),
        _ => error.to_string(),
    }
}

/// Counts bytes as the CSV parser pulls them, for progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open_text(
    path: &Path,
    file: File,
    head: &[u8],
    bytes_total: u64,
) -> Result<Spreadsheet, ReadError> {
    let mut notices = Vec::new();
    let (encoding, bom_len) = match Encoding::for_bom(head) {
        Some((encoding, bom_len)) => (encoding, bom_len),
        None => match first_invalid_utf8(path)? {
            None => (encoding_rs::UTF_8, 0),
            Some(line) => {
                notices.push(FileNotice {
                    row: Some(line),
                    message: format!(
                        "The file is not UTF-8 (first non-UTF-8 text on line {line}); it was read as Windows-1252, as Excel's 'CSV (Comma delimited)' writes it"
                    ),
                });
                (encoding_rs::WINDOWS_1252, 0)
            }
        },
    };

    // Decode the sniffing block the same way the stream will be decoded.
    let (sample, _, _) = encoding.decode(&head[bom_len..]);
    let delimiter = guess_delimiter(&sample, path);

    let bytes_read = Arc::new(AtomicU64::new(0));
    let counted = CountingReader {
        inner: file,
        count: Arc::clone(&bytes_read),
    };
    let stream: Box<dyn Read + Send> = if encoding == encoding_rs::UTF_8 {
        let mut reader = BufReader::with_capacity(256 * 1024, counted);
        io::copy(&mut (&mut reader).take(bom_len as u64), &mut io::sink()).map_err(|source| {
            ReadError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Box::new(reader)
    } else {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .build(BufReader::with_capacity(256 * 1024, counted)),
        )
    };
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(256 * 1024)
        .from_reader(stream);

    let kind_name = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("tsv") => "TSV",
        Some("txt") => "text",
        _ => "CSV",
    };
    let delimiter_name = match delimiter {
        b'\t' => "tab".to_owned(),
        other => format!("'{}'", other as char),
    };
    Ok(Spreadsheet {
        path: path.to_path_buf(),
        kind: FileKind::Text,
        headers: Vec::new(),
        header_row: 1,
        pending: std::collections::VecDeque::new(),
        above_header: Vec::new(),
        notices,
        source: RowSource::Text(TextRows {
            reader,
            last_row: 0,
        }),
        bytes_total,
        bytes_read,
        description: format!(
            "{kind_name}, {}, {delimiter_name}-separated",
            encoding_label(encoding)
        ),
        sheet_names: Vec::new(),
        sheet: None,
    })
}

fn encoding_label(encoding: &'static Encoding) -> &'static str {
    if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        "UTF-16"
    } else {
        encoding.name()
    }
}

/// Scans the whole file once for UTF-8 validity; returns the line of the
/// first invalid byte. A file that is valid UTF-8 is UTF-8; anything else
/// without a BOM is what Excel on Windows writes, Windows-1252.
fn first_invalid_utf8(path: &Path) -> Result<Option<u64>, ReadError> {
    let io_error = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut carry = 0usize;
    let mut lines = 1u64;
    loop {
        let n = file.read(&mut buf[carry..]).map_err(io_error)?;
        let filled = carry + n;
        if n == 0 {
            // A truncated sequence at the very end is invalid too.
            return Ok((carry > 0).then_some(lines));
        }
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => {
                lines += memchr::memchr_iter(b'\n', &buf[..filled]).count() as u64;
                carry = 0;
            }
            Err(error) => {
                let valid = error.valid_up_to();
                lines += memchr::memchr_iter(b'\n', &buf[..valid]).count() as u64;
                if error.error_len().is_some() {
                    return Ok(Some(lines));
                }
                // An incomplete sequence at the block's end: keep it for the next read.
                buf.copy_within(valid..filled, 0);
                carry = filled - valid;
            }
        }
    }
}

/// Picks the delimiter whose field count is the most consistent over the
/// first lines; ties go to the earlier of `,` `;` tab `|`.
fn guess_delimiter(sample: &str, path: &Path) -> u8 {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let candidates: [u8; 4] = if extension.as_deref() == Some("tsv") {
        [b'\t', b',', b';', b'|']
    } else {
        [b',', b';', b'\t', b'|']
    };
    // Drop a probably cut last line from the sample.
    let sample = match sample.rfind('\n') {
        Some(end) if sample.len() >= SNIFF_BYTES - 4 => &sample[..end],
        _ => sample,
    };
    let mut best = (candidates[0], 0usize);
    for &delimiter in &candidates {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(sample.as_bytes());
        let mut counts = Vec::new();
        let mut record = csv::ByteRecord::new();
        while counts.len() < 50 && matches!(reader.read_byte_record(&mut record), Ok(true)) {
            counts.push(record.len());
        }
        let Some(&first) = counts.first() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&c| c == first).count();
        // Score: rows agreeing with the header's width, weighted by the width.
        let score = agreeing * 1000 + first;
        if score > best.1 {
            best = (delimiter, score);
        }
    }
    best.0
}

// ---------------------------------------------------------------------------
// Workbooks

struct WorkbookRows {
    range: calamine::Range<Data>,
    /// Spreadsheet row number of the range's first row.
    first_row: u64,
    /// Index of the next row within the range.
    next: usize,
    rows_total: usize,
}

impl WorkbookRows {
    fn read(&mut self, row: &mut SheetRow) -> bool {
        let width = self.range.width();
        if self.next >= self.rows_total {
            return false;
        }
        row.cells.clear();
        row.number = self.first_row + self.next as u64;
        row.lines = 1;
        let mut text = String::new();
        let mut last_non_empty = 0;
        for column in 0..width {
            text.clear();
            if let Some(cell) = self.range.get((self.next, column)) {
                cell_text(cell, &mut text);
            }
            if !text.is_empty() {
                last_non_empty = column + 1;
            }
            row.cells.push_field(&text);
        }
        row.cells.truncate(last_non_empty.max(1));
        self.next += 1;
        true
    }
}

/// An `.xlsx`/`.xlsm` sheet read row by row on a thread of its own, so a
/// million-row workbook takes the memory of its shared strings and a few
/// batches of rows, not of the whole sheet, and its XML is parsed while
/// the previous rows are mapped.
struct StreamedRows {
    batches: std::sync::mpsc::Receiver<Result<Vec<(u64, csv::StringRecord)>, String>>,
    current: std::vec::IntoIter<(u64, csv::StringRecord)>,
    /// The sheet's last row, from its dimensions (0 when unknown), for progress.
    last_row: u64,
}

/// Rows sent to the reader at a time.
const STREAM_BATCH_ROWS: usize = 4096;

impl StreamedRows {
    /// Starts reading sheet `name` of `workbook`.
    fn start(mut workbook: XlsxBook, name: String) -> Result<StreamedRows, calamine::XlsxError> {
        // The dimensions first (and any error opening the sheet), then the
        // thread reads from the start again.
        let dimensions = workbook.worksheet_cells_reader(&name)?.dimensions();
        let column_offset = dimensions.start.1;
        let last_row = u64::from(dimensions.end.0) + 1;
        let (sender, batches) = std::sync::mpsc::sync_channel(4);
        std::thread::Builder::new()
            .name("pantry-import xlsx".to_owned())
            .spawn(move || stream_sheet(&mut workbook, &name, column_offset, &sender))
            .map_err(calamine::XlsxError::Io)?;
        Ok(StreamedRows {
            batches,
            current: Vec::new().into_iter(),
            last_row: if dimensions.end.0 > 0 { last_row } else { 0 },
        })
    }

    fn read(&mut self, path: &Path, row: &mut SheetRow) -> Result<bool, ReadError> {
        loop {
            if let Some((number, cells)) = self.current.next() {
                row.number = number;
                row.lines = 1;
                row.cells = cells;
                return Ok(true);
            }
            match self.batches.recv() {
                Ok(Ok(batch)) => self.current = batch.into_iter(),
                Ok(Err(message)) => {
                    return Err(ReadError::Workbook {
                        path: path.to_path_buf(),
                        message,
                    });
                }
                // The thread has sent everything.
                Err(_) => return Ok(false),
            }
        }
    }
}

type XlsxBook = calamine::Xlsx<BufReader<File>>;

/// The reading thread: groups the sheet's cells into rows (cells arrive in
/// row order) and sends them in batches until the sheet ends or nobody listens.
fn stream_sheet(
    workbook: &mut XlsxBook,
    name: &str,
    column_offset: u32,
    sender: &std::sync::mpsc::SyncSender<Result<Vec<(u64, csv::StringRecord)>, String>>,
) {
    let mut reader = match workbook.worksheet_cells_reader(name) {
        Ok(reader) => reader,
        Err(error) => {
            let _ = sender.send(Err(error.to_string()));
            return;
        }
    };
    let mut batch = Vec::with_capacity(STREAM_BATCH_ROWS);
    // The row being built: its index and cells, straight into a record.
    let mut row: Option<(u32, csv::StringRecord)> = None;
    let mut text = String::new();
    loop {
        let cell = match reader.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(error) => {
                let _ = sender.send(Err(error.to_string()));
                return;
            }
        };
        let (row_index, column) = cell.get_position();
        text.clear();
        match cell.get_value() {
            // Most cells: text, borrowed from the shared strings.
            calamine::DataRef::SharedString(shared) => text.push_str(shared),
            calamine::DataRef::String(owned) => text.push_str(owned),
            other => cell_text(&Data::from(other.clone()), &mut text),
        }
        if text.is_empty() {
            continue;
        }
        if row.as_ref().is_some_and(|(index, _)| *index != row_index) {
            if let Some((index, record)) = row.take() {
                batch.push((u64::from(index) + 1, record));
            }
            if batch.len() >= STREAM_BATCH_ROWS {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(STREAM_BATCH_ROWS));
                if sender.send(Ok(full)).is_err() {
                    return;
                }
            }
        }
        let (_, record) = row.get_or_insert_with(|| (row_index, csv::StringRecord::new()));
        // Cells left of the sheet's dimensions cannot exist; should a writer
        // get them wrong, such a cell lands in the first free column.
        let position = column.saturating_sub(column_offset) as usize;
        while record.len() < position {
            record.push_field("");
        }
        record.push_field(&text);
    }
    if let Some((index, record)) = row.take() {
        batch.push((u64::from(index) + 1, record));
    }
    if !batch.is_empty() {
        let _ = sender.send(Ok(batch));
    }
}

/// Writes a cell as the broker would read it: dates as ISO `YYYY-MM-DD`,
/// whole numbers without a trailing `.0`, text exactly as stored.
fn cell_text(cell: &Data, out: &mut String) {
    use std::fmt::Write;
    match cell {
        Data::Empty => {}
        Data::String(text) => out.push_str(text),
        Data::DateTimeIso(text) | Data::DurationIso(text) => out.push_str(text),
        Data::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Data::Float(value) => {
            if value.fract() == 0.0 && value.abs() < 1e15 {
                let _ = write!(out, "{}", *value as i64);
            } else {
                let _ = write!(out, "{value}");
            }
        }
        Data::Bool(value) => out.push_str(if *value { "TRUE" } else { "FALSE" }),
        Data::Error(error) => {
            let _ = write!(out, "{error}");
        }
        Data::DateTime(moment) => {
            if moment.is_duration() {
                let seconds = (moment.as_f64() * 86_400.0).round() as i64;
                let _ = write!(
                    out,
                    "{}:{:02}:{:02}",
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60
                );
                return;
            }
            let (year, month, day, hour, minute, second, _) = moment.to_ymd_hms_milli();
            let serial = moment.as_f64();
            if serial < 1.0 {
                let _ = write!(out, "{hour:02}:{minute:02}:{second:02}");
            } else if hour == 0 && minute == 0 && second == 0 {
                let _ = write!(out, "{year:04}-{month:02}-{day:02}");
            } else {
                let _ = write!(
                    out,
                    "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
                );
            }
        }
    }
}

fn open_workbook(
    path: &Path,
    sheet: Option<&str>,
    bytes_total: u64,
) -> Result<Spreadsheet, ReadError> {
    let workbook_error = |error: calamine::Error| match error {
        calamine::Error::Xlsx(calamine::XlsxError::Password)
        | calamine::Error::Xls(calamine::XlsError::Password)
        | calamine::Error::Xlsb(calamine::XlsbError::Password)
        | calamine::Error::Ods(calamine::OdsError::Password) => ReadError::Encrypted {
            path: path.to_path_buf(),
        },
        other => ReadError::Workbook {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    };
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    // xlsx/xlsm stream row by row; calamine reads xls, xlsb and ods whole.
    let (worksheets, name, source) = if matches!(extension.as_str(), "xlsx" | "xlsm") {
        let workbook: XlsxBook =
            calamine::open_workbook(path).map_err(|e| workbook_error(calamine::Error::Xlsx(e)))?;
        let worksheets = worksheet_names(workbook.sheets_metadata());
        let name = choose_sheet(path, &worksheets, sheet)?;
        let rows = StreamedRows::start(workbook, name.clone())
            .map_err(|e| workbook_error(calamine::Error::Xlsx(e)))?;
        (worksheets, name, RowSource::Streamed(rows))
    } else {
        let mut workbook = calamine::open_workbook_auto(path).map_err(workbook_error)?;
        let worksheets = worksheet_names(workbook.sheets_metadata());
        let name = choose_sheet(path, &worksheets, sheet)?;
        let range = workbook.worksheet_range(&name).map_err(workbook_error)?;
        let rows = WorkbookRows {
            first_row: range.start().map_or(1, |(row, _)| u64::from(row) + 1),
            rows_total: range.height(),
            range,
            next: 0,
        };
        (worksheets, name, RowSource::Workbook(rows))
    };
    let mut notices = Vec::new();
    if sheet.is_none() && worksheets.len() > 1 {
        notices.push(FileNotice {
            row: None,
            message: format!(
                "The workbook has {} sheets; reading the first, '{name}'",
                worksheets.len()
            ),
        });
    }
    Ok(Spreadsheet {
        path: path.to_path_buf(),
        kind: FileKind::Workbook,
        headers: Vec::new(),
        header_row: 1,
        pending: std::collections::VecDeque::new(),
        above_header: Vec::new(),
        notices,
        source,
        bytes_total,
        bytes_read: Arc::new(AtomicU64::new(0)),
        description: format!("workbook sheet '{name}'"),
        sheet: Some(name),
        sheet_names: worksheets,
    })
}

/// The worksheets of a workbook, in order (chart sheets left out).
fn worksheet_names(sheets: &[calamine::Sheet]) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.typ == calamine::SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect()
}

/// The sheet asked for (exactly, else ignoring case), or the first.
fn choose_sheet(
    path: &Path,
    worksheets: &[String],
    sheet: Option<&str>,
) -> Result<String, ReadError> {
    match sheet {
        Some(wanted) => worksheets
            .iter()
            .find(|name| name.as_str() == wanted)
            .or_else(|| {
                worksheets
                    .iter()
                    .find(|name| name.eq_ignore_ascii_case(wanted))
            })
            .cloned()
            .ok_or_else(|| ReadError::NoSuchSheet {
                path: path.to_path_buf(),
                sheet: wanted.to_owned(),
                available: worksheets.to_vec(),
            }),
        None => worksheets
            .first()
            .cloned()
            .ok_or_else(|| ReadError::NotASpreadsheet {
                path: path.to_path_buf(),
                reason: "the workbook has no worksheets".to_owned(),
            }),
    }
}

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
