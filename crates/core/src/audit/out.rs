//! The findings file of `audit --out`: every record of every finding, one
//! line each, written as the audit finds them (CSV, UTF-8 with BOM, or
//! XLSX in constant memory).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{AuditError, FindingRow};
use crate::export::ExportFormat;
use crate::report::neutralise_formula;

/// The findings file's columns.
pub const HEADERS: [&str; 6] = ["Entity", "Finding", "Record", "Id", "Detail", "Group"];

/// A findings file being written.
pub enum FindingsFile {
    /// CSV.
    Csv {
        /// The writer (boxed: the XLSX workbook is too).
        writer: Box<csv::Writer<std::io::BufWriter<std::fs::File>>>,
        /// Where.
        path: PathBuf,
    },
    /// XLSX, saved by [`FindingsFile::finish`].
    Xlsx {
        /// The workbook.
        workbook: Box<rust_xlsxwriter::Workbook>,
        /// Where.
        path: PathBuf,
        /// The next row.
        row: u32,
    },
}

fn output_error(path: &Path, reason: impl std::fmt::Display) -> AuditError {
    AuditError::Output {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl FindingsFile {
    /// Creates `path` (`.csv` or `.xlsx`) with its header.
    pub fn create(path: &Path) -> Result<FindingsFile, AuditError> {
        let format = ExportFormat::of(path).map_err(|e| output_error(path, e))?;
        match format {
            ExportFormat::Csv => {
                let file = std::fs::File::create(path).map_err(|e| output_error(path, e))?;
                let mut out = std::io::BufWriter::new(file);
                out.write_all("\u{feff}".as_bytes())
                    .map_err(|e| output_error(path, e))?;
                let mut writer = csv::Writer::from_writer(out);
                writer
                    .write_record(HEADERS)
                    .map_err(|e| output_error(path, e))?;
                Ok(FindingsFile::Csv {
                    writer: Box::new(writer),
                    path: path.to_path_buf(),
                })
            }
            ExportFormat::Xlsx => {
                let mut workbook = Box::new(rust_xlsxwriter::Workbook::new());
                let sheet = workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(|e| output_error(path, e))?;
                sheet
                    .set_name("Findings")
                    .map_err(|e| output_error(path, e))?;
                let bold = rust_xlsxwriter::Format::new().set_bold();
                for (column, (header, width)) in HEADERS
                    .iter()
                    .zip([14.0, 22.0, 36.0, 38.0, 50.0, 8.0])
                    .enumerate()
                {
                    let column = column as u16;
                    sheet
                        .set_column_width(column, width)
                        .map_err(|e| output_error(path, e))?;
                    sheet
                        .write_string_with_format(0, column, *header, &bold)
                        .map_err(|e| output_error(path, e))?;
                }
                Ok(FindingsFile::Xlsx {
                    workbook,
                    path: path.to_path_buf(),
                    row: 1,
                })
            }
        }
    }

    /// Writes one finding's record.
    pub fn write(&mut self, finding: &FindingRow<'_>) -> Result<(), AuditError> {
        let id = finding.record_id.to_string();
        let group = finding.group.map(|g| g.to_string()).unwrap_or_default();
        let cells = [
            finding.entity.name(),
            finding.kind.name(),
            finding.shown,
            id.as_str(),
            finding.detail,
            group.as_str(),
        ];
        match self {
            FindingsFile::Csv { writer, path } => writer
                .write_record(cells.iter().map(|c| neutralise_formula(c)))
                .map_err(|e| output_error(path, e)),
            FindingsFile::Xlsx {
                workbook,
                path,
                row,
            } => {
                let sheet = workbook
                    .worksheet_from_index(0)
                    .map_err(|e| output_error(path, e))?;
                for (column, cell) in cells.iter().enumerate() {
                    sheet
                        .write_string(*row, column as u16, *cell)
                        .map_err(|e| output_error(path, e))?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    /// Flushes and closes the file.
    pub fn finish(self) -> Result<(), AuditError> {
        match self {
            FindingsFile::Csv { mut writer, path } => {
                writer.flush().map_err(|e| output_error(&path, e))
            }
            FindingsFile::Xlsx {
                mut workbook, path, ..
            } => workbook.save(&path).map_err(|e| output_error(&path, e)),
        }
    }
}
