//! The look for a file's rows in the CRM before anything is imported
//! (SPEC.md, "Duplicates against the CRM"): which rows match records
//! already there, beside the record and what an update would change, and
//! which nearly match one.
//!
//! It runs the import's own pipeline ([`crate::pipeline`]) into a staging
//! table that is rolled back ([`crate::staging::ScanSink`]), so the CRM is
//! never changed. Link names are looked up but never created.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::database::ConnectionSettings;
use crate::duplicates::StagedStatements;
use crate::import::{ImportError, ImportOptions, ensure_schema, live_records, refresh_statistics};
use crate::links::{LinkPolicies, LinkPolicy};
use crate::mapping::RowIssue;
use crate::pipeline::{
    Destination, Incoming, ReaderPlan, drain, link_resolver, open_planned, spawn_linker,
    spawn_reader,
};
use crate::progress::ImportProgress;
use crate::run::SheetPlan;
use crate::staging::ScanSink;

/// What a scan found: the file's rows that match records already in the
/// CRM, and those that nearly match one.
#[derive(Debug, Clone, Default)]
pub struct DuplicateScan {
    /// Rows read.
    pub rows: u64,
    /// Rows that match, by row.
    pub matches: Vec<CrmMatch>,
    /// Rows that nearly match a record (warnings naming it).
    pub near: Vec<RowIssue>,
    /// Wall time.
    pub elapsed: Duration,
}

/// A row and the record(s) it matches, with what an update would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmMatch {
    /// Spreadsheet row number.
    pub row: u64,
    /// The records it matches, as they show (several: an update cannot
    /// tell which).
    pub records: Vec<String>,
    /// Per stored field the row fills: the field, the CRM's value, the
    /// file's, and whether an update would change it.
    pub fields: Vec<FieldComparison>,
}

/// One field of a matched row beside the record's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldComparison {
    /// The field's column.
    pub field: &'static str,
    /// The record's value, as text (empty when NULL).
    pub crm: String,
    /// The file's value, as it would be stored.
    pub file: String,
    /// Whether an update would write it.
    pub changes: bool,
}

/// Rows a scan reads and matches at a time.
const SCAN_CHUNK_ROWS: usize = 20_000;

/// Finds which rows of `sheet` of `file` match records already in the CRM,
/// before anything is imported, as an import with `options` would match
/// them: each chunk of rows is copied into a staging table and matched (one
/// index probe per row) inside a transaction that is rolled back.
pub async fn scan_duplicates(
    file: &std::path::Path,
    sheet: &SheetPlan,
    settings: &ConnectionSettings,
    options: &ImportOptions,
) -> Result<DuplicateScan, ImportError> {
    let started = Instant::now();
    let (open_path, open_plan) = (file.to_path_buf(), sheet.clone());
    let mapped =
        tokio::task::spawn_blocking(move || open_planned(&open_path, &open_plan)).await??;
    let description = mapped.entity().description();
    let client = settings.connect().await?;
    ensure_schema(&client, mapped.entity()).await?;
    let mut scan = DuplicateScan::default();
    if !live_records(&client, description, -1).await? {
        scan.elapsed = started.elapsed();
        return Ok(scan);
    }
    refresh_statistics(&client, description).await?;
    let near = crate::import::near_duplicates(&client, mapped.columns()).await?;
    // Names the CRM lacks stay empty: a scan creates nothing.
    let links = link_resolver(
        &mapped,
        &LinkPolicies {
            all: Some(LinkPolicy::Empty),
            ..options.links.clone()
        },
    );
    let has_links = links.has_links();
    let progress = ImportProgress::new(None);
    let destination = Destination {
        import_id: -1,
        batch_size: SCAN_CHUNK_ROWS,
    };
    let (chunks, reader) = spawn_reader(
        mapped,
        Arc::clone(&progress),
        ReaderPlan {
            gate: None,
            chunk_rows: SCAN_CHUNK_ROWS,
            encode_for: (!has_links).then_some(-1),
            stored: Vec::new(),
            near,
            managers: None,
        },
    )?;
    let mut incoming = if has_links {
        spawn_linker(links, settings.connect().await?, destination, chunks)
    } else {
        Incoming::Encoded(chunks)
    };
    let mut sink = ScanSink {
        client: &client,
        description,
        statements: StagedStatements::new(description),
        matches: Vec::new(),
    };
    let drained = drain(&mut incoming, &mut sink, &progress).await;
    incoming.close().await;
    let _ = reader.join();
    if let crate::pipeline::DrainEnd::Failed(error) = drained.end {
        return Err(error);
    }
    scan.rows = progress.snapshot().rows_read;
    scan.matches = sink.matches;
    scan.matches.sort_by_key(|m| m.row);
    scan.near = drained.near;
    scan.near.sort_by_key(|n| n.row);
    scan.elapsed = started.elapsed();
    Ok(scan)
}
