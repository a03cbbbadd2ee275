//! Pantry Import moves a food broker's spreadsheets into the Kitchen Pantry
//! CRM's PostgreSQL database.
//!
//! The library is the whole engine and knows nothing of windows:
//!
//! - [`spreadsheet`] reads CSV/TSV/TXT (UTF-8, UTF-16, Windows-1252, any of
//!   `,` `;` tab `|`) and Excel/OpenDocument workbooks, row by row, with the
//!   row numbers the broker sees in Excel.
//! - [`entity`] describes the five CRM entities once, as data: tables,
//!   fields, header aliases, kinds, limits, enumerations and links.
//! - [`mapping`] applies a description to a sheet: one raw row becomes a typed
//!   [`mapping::Record`] or fails with a [`mapping::RowIssue`]; [`values`]
//!   holds the rules that read money, numbers, dates, durations and yes/no.
//! - [`saved_mapping`] holds a broker's choices for one shape of sheet (header
//!   row, column targets, value replacements) as the JSON file of SPEC.md;
//!   [`edits`] holds the changes made to rows of one file (totals rows kept,
//!   cells typed over, rows removed, [`clean`]-up kinds applied).
//! - [`duplicates`] matches rows to records already in the CRM and skips,
//!   updates or creates them, as the import's policy says.
//! - [`links`] turns names in link columns into the keys of records already
//!   in the CRM, in bulk.
//! - [`database`] connects (URLs, `key=value`, `PG*` variables, TLS by rustls),
//!   [`migrate`] applies `migrations/`.
//! - [`run`] is what `check` and `import` do with a file: a [`run::RunPlan`]
//!   of one sheet, or of every recognised sheet of a workbook
//!   ([`workbook`]), checked offline or imported sheet by sheet
//!   ([`import`]: read and encode on one thread, binary `COPY` in batches on
//!   the connection), with live counts in [`progress`]; [`scan`] looks for
//!   a file's rows in the CRM before importing them; [`report`] turns the
//!   outcome into text, JSON or an error-report CSV; [`history`] records
//!   every import so it can resume, refuse a repeat, or be undone.
//! - [`export`] writes an entity's records back out as CSV or XLSX that
//!   imports unchanged; [`verify`] shows, by query, what an import stored.
//! - [`audit`] scores what the CRM already holds and lists its problems;
//!   [`fixes`] cleans up and merges records in place, reversibly.
//! - [`sync`] keeps a spreadsheet the broker still works in and the CRM in
//!   step: each save imported again, unchanged rows left alone, conflicts
//!   and gone rows listed ([`sync::watch`] says when the file was saved).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use pantry_core::{database::ConnectionSettings, import::ImportOptions, progress::RunProgress, run};
//! let settings = ConnectionSettings::parse("postgres://postgres@127.0.0.1/crm")?;
//! let plan = run::RunPlan::for_file(std::path::Path::new("accounts.xlsx"), None, None, Default::default())?;
//! let progress = RunProgress::new(&plan, None);
//! let report = run::import(&plan, &settings, &ImportOptions::default(), progress).await?;
//! println!("{} succeeded, {} failed", report.succeeded(), report.failed());
//! # Ok(()) }
//! ```

pub mod audit;
pub mod clean;
pub mod copy_format;
pub mod database;
pub mod duplicates;
pub mod edits;
pub mod entity;
pub mod export;
pub mod fixes;
pub mod history;
pub mod import;
pub mod links;
pub mod mapping;
pub mod migrate;
mod pipeline;
pub mod progress;
pub mod report;
pub mod run;
pub mod saved_mapping;
pub mod scan;
pub mod spreadsheet;
mod staging;
pub mod sync;
pub mod users;
pub mod values;
pub mod verify;
pub mod workbook;
