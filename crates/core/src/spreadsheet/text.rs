//! Text files: CSV, TSV and TXT in the encodings Excel writes, with the
//! delimiter found from the file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::Encoding;

use super::*;

pub(super) struct TextRows {
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// Spreadsheet row number of the last record read.
    last_row: u64,
}

impl TextRows {
    pub(super) fn read(&mut self, path: &Path, row: &mut SheetRow) -> Result<bool, ReadError> {
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

pub(super) fn csv_error_message(error: &csv::Error) -> String {
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
pub(super) struct CountingReader<R> {
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

pub(super) fn open_text(
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

pub(super) fn encoding_label(encoding: &'static Encoding) -> &'static str {
    if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        "UTF-16"
    } else {
        encoding.name()
    }
}

/// Scans the whole file once for UTF-8 validity; returns the line of the
/// first invalid byte. A file that is valid UTF-8 is UTF-8; anything else
/// without a BOM is what Excel on Windows writes, Windows-1252.
pub(super) fn first_invalid_utf8(path: &Path) -> Result<Option<u64>, ReadError> {
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
pub(super) fn guess_delimiter(sample: &str, path: &Path) -> u8 {
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
