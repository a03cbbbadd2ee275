//! Workbooks: `.xlsx` and `.xlsm` streamed row by row on a thread of their
//! own, `.xls`, `.xlsb` and `.ods` read whole, as calamine reads them.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use calamine::{Data, Reader};

use super::*;

pub(super) struct WorkbookRows {
    range: calamine::Range<Data>,
    /// Spreadsheet row number of the range's first row.
    first_row: u64,
    /// Index of the next row within the range.
    pub(super) next: usize,
    pub(super) rows_total: usize,
}

impl WorkbookRows {
    pub(super) fn read(&mut self, row: &mut SheetRow) -> bool {
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
pub(super) struct StreamedRows {
    batches: std::sync::mpsc::Receiver<Result<Vec<(u64, csv::StringRecord)>, String>>,
    current: std::vec::IntoIter<(u64, csv::StringRecord)>,
    /// The sheet's last row, from its dimensions (0 when unknown), for progress.
    pub(super) last_row: u64,
}

/// Rows sent to the reader at a time.
pub(super) const STREAM_BATCH_ROWS: usize = 4096;

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

    pub(super) fn read(&mut self, path: &Path, row: &mut SheetRow) -> Result<bool, ReadError> {
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
pub(super) fn stream_sheet(
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
pub(super) fn cell_text(cell: &Data, out: &mut String) {
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

pub(super) fn open_workbook(
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
pub(super) fn worksheet_names(sheets: &[calamine::Sheet]) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.typ == calamine::SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect()
}

/// The sheet asked for (exactly, else ignoring case), or the first.
pub(super) fn choose_sheet(
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
