//! Reading the sheet on a thread of its own: the first rows at once, then
//! the rest in chunks, each row with what it will do on import.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Instant;

use eframe::egui::{self};
use pantry_core::clean::CleanUpTally;
use pantry_core::edits::SheetEdits;
use pantry_core::entity::{Entity, EntityChoice};
use pantry_core::mapping::{MappedSheet, RowCounts, RowFate, RowIssue, Severity, ValueTally};
use pantry_core::saved_mapping::SavedMapping;
use pantry_core::spreadsheet::{self};

use super::*;

enum LoadMessage {
    Opened {
        bytes_total: u64,
        sheets: Vec<String>,
        sheet: Option<String>,
        entity: Entity,
        entity_choice: EntityChoice,
        link_columns: Vec<LinkColumn>,
        description: String,
        header_row: u64,
        above_header: Vec<(u64, Vec<String>)>,
        headers: Vec<String>,
        targets: Vec<String>,
        reasons: Vec<ColumnReason>,
        labels: Vec<String>,
        notices: Vec<String>,
        header_issues: Vec<RowIssue>,
    },
    Rows {
        rows: RowStore,
        issues: Vec<RowIssue>,
        counts: PreviewCounts,
        fraction_read: f32,
    },
    Finished(Option<ValueTally>, Option<CleanUpTally>),
    Failed(String),
}

/// The reading thread's end of a preview; dropping it stops the thread.
pub struct PreviewLoader {
    receiver: Receiver<LoadMessage>,
    stop: Arc<AtomicBool>,
}

impl Drop for PreviewLoader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl PreviewLoader {
    /// Moves what the thread has read into `preview`; true once it is done.
    pub fn drain_into(&mut self, preview: &mut Preview) -> bool {
        loop {
            match self.receiver.try_recv() {
                Ok(LoadMessage::Opened {
                    bytes_total,
                    sheets,
                    sheet,
                    entity,
                    entity_choice,
                    link_columns,
                    description,
                    header_row,
                    above_header,
                    headers,
                    targets,
                    reasons,
                    labels,
                    notices,
                    header_issues,
                }) => {
                    // The cells take about the file's size; reserving it once
                    // avoids doubling the buffer as chunks arrive.
                    preview
                        .rows
                        .text
                        .reserve(usize::try_from(bytes_total).unwrap_or(0));
                    preview.sheets = sheets;
                    preview.sheet = sheet;
                    preview.entity = entity;
                    preview.entity_choice = entity_choice;
                    preview.link_columns = link_columns;
                    preview.description = description;
                    preview.header_row = header_row;
                    preview.above_header = above_header;
                    preview.headers = headers;
                    preview.targets = targets;
                    preview.reasons = reasons;
                    preview.labels = labels;
                    preview.notices = notices;
                    preview.issues = header_issues;
                    preview.counts.warnings = preview
                        .issues
                        .iter()
                        .filter(|i| i.severity == Severity::Warning)
                        .count() as u64;
                }
                Ok(LoadMessage::Rows {
                    rows,
                    issues,
                    counts,
                    fraction_read,
                }) => {
                    let base = preview.rows.len();
                    preview.problem_rows.extend(
                        rows.status
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| {
                                !matches!(**s, RowStatus::Imports | RowStatus::Removed)
                            })
                            .map(|(i, _)| base + i),
                    );
                    preview.rows.append(rows);
                    if let Some(index) = preview.reselect.and_then(|n| preview.rows.index_of(n)) {
                        preview.selected = Some(index);
                        preview.reselect = None;
                    }
                    preview.issues.extend(issues);
                    preview.counts.rows += counts.rows;
                    preview.counts.would_import += counts.would_import;
                    preview.counts.would_fail += counts.would_fail;
                    preview.counts.warnings += counts.warnings;
                    preview.counts.skipped += counts.skipped;
                    preview.fraction_read = fraction_read;
                }
                Ok(LoadMessage::Finished(tally, clean_ups)) => {
                    preview.value_tally = tally;
                    preview.clean_up_tally = clean_ups;
                    preview.finished = true;
                    preview.fraction_read = 1.0;
                    return true;
                }
                Ok(LoadMessage::Failed(message)) => {
                    preview.failed = Some(message);
                    preview.finished = true;
                    return true;
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => {
                    preview.finished = true;
                    return true;
                }
            }
        }
    }
}

/// What to preview: a sheet of a file, read as an entity (or the one its
/// sheet name or headers say) with the broker's choices.
pub struct PreviewRequest {
    pub path: PathBuf,
    pub sheet: Option<String>,
    pub entity: Option<Entity>,
    pub mapping: SavedMapping,
    pub edits: SheetEdits,
}

/// Starts reading the requested sheet on a thread of its own.
pub fn start_loading(request: PreviewRequest, ctx: egui::Context) -> (Preview, PreviewLoader) {
    let (sender, receiver) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let preview = Preview::new(
        request.path.clone(),
        request.sheet.clone(),
        request.entity,
        request.mapping.header_row.is_some(),
    );
    let spawned = std::thread::Builder::new()
        .name("pantry-import preview".to_owned())
        .spawn(move || {
            let outcome = load(&request, &sender, &thread_stop, &ctx);
            let last = match outcome {
                Ok((tally, clean_ups)) => LoadMessage::Finished(tally, clean_ups),
                Err(message) => LoadMessage::Failed(message),
            };
            let _ = sender.send(last);
            ctx.request_repaint();
        });
    if let Err(error) = spawned {
        let (sender, receiver) = mpsc::channel();
        let _ = sender.send(LoadMessage::Failed(format!(
            "cannot start reading: {error}"
        )));
        return (preview, PreviewLoader { receiver, stop });
    }
    (preview, PreviewLoader { receiver, stop })
}

/// What the preview learns once the sheet is opened: its sheets, entity,
/// header and mapping, before any row.
fn opened(mapped: &MappedSheet) -> LoadMessage {
    let spreadsheet = mapped.spreadsheet();
    let columns = mapped.columns();
    let headers = spreadsheet.headers().to_vec();
    let description = mapped.entity().description();
    let link_columns = description
        .fields
        .iter()
        .filter_map(|field| {
            let target = field.link()?;
            let column = columns.column_of_field(field.column)?;
            Some(LinkColumn {
                field: field.column,
                header: columns.label(column),
                target: target.entity,
                required: field.required,
                entity: mapped.entity(),
            })
        })
        .collect();
    LoadMessage::Opened {
        bytes_total: if spreadsheet.kind() == spreadsheet::FileKind::Text {
            spreadsheet.bytes_total()
        } else {
            0
        },
        sheets: spreadsheet.sheet_names().to_vec(),
        sheet: spreadsheet.sheet().map(str::to_owned),
        entity: mapped.entity(),
        entity_choice: mapped.entity_choice(),
        link_columns,
        description: spreadsheet.description().to_owned(),
        header_row: spreadsheet.header_row(),
        above_header: spreadsheet
            .rows_above_header()
            .iter()
            .map(|row| (row.number, row.cells().map(str::to_owned).collect()))
            .collect(),
        targets: (0..headers.len())
            .map(|i| columns.target(i).into_owned())
            .collect(),
        reasons: (0..headers.len())
            .map(|i| ColumnReason {
                how: columns.how(i),
                likely: columns.likely(i),
            })
            .collect(),
        labels: (0..headers.len()).map(|i| columns.label(i)).collect(),
        headers,
        notices: mapped
            .notices()
            .iter()
            .chain(&mapped.offline_link_notice())
            .map(|n| n.message.clone())
            .collect(),
        header_issues: mapped.header_issues().to_vec(),
    }
}

fn load(
    request: &PreviewRequest,
    sender: &Sender<LoadMessage>,
    stop: &AtomicBool,
    ctx: &egui::Context,
) -> Result<(Option<ValueTally>, Option<CleanUpTally>), String> {
    let mut mapped = MappedSheet::open_with(
        &request.path,
        request.sheet.as_deref(),
        request.entity,
        &request.mapping,
    )
    .map_err(|e| e.to_string())?
    .with_edits(&request.edits);
    mapped.tally_values();
    mapped.suggest_clean_ups();
    let opened = opened(&mapped);
    if sender.send(opened).is_err() {
        return Ok((None, None));
    }
    ctx.request_repaint();

    let bytes_read = mapped.spreadsheet().bytes_read_counter();
    let bytes_total = mapped.spreadsheet().bytes_total().max(1);
    let mut chunk = RowStore::default();
    let mut issues = Vec::new();
    let mut fates = RowCounts::default();
    let mut warnings = 0;
    let mut first = true;
    let mut last_send = Instant::now();
    let mut receiver_gone = false;
    let send = |chunk: &mut RowStore,
                issues: &mut Vec<RowIssue>,
                fates: &mut RowCounts,
                warnings: &mut u64| {
        let fraction_read =
            (bytes_read.load(Ordering::Relaxed) as f64 / bytes_total as f64).min(1.0) as f32;
        let message = LoadMessage::Rows {
            rows: std::mem::take(chunk),
            issues: std::mem::take(issues),
            counts: PreviewCounts::of(std::mem::take(fates), std::mem::take(warnings)),
            fraction_read,
        };
        let sent = sender.send(message).is_ok();
        ctx.request_repaint();
        sent
    };
    mapped
        .map_rows(|row, outcome| {
            if stop.load(Ordering::Relaxed) {
                receiver_gone = true;
                return false;
            }
            fates.add(&outcome.fate);
            let status = match &outcome.fate {
                // A totals row says why; a row the broker removed, nothing.
                RowFate::Removed => RowStatus::Removed,
                RowFate::TotalsRow => RowStatus::Skipped,
                RowFate::Failed => RowStatus::Fails,
                RowFate::Record(_) if outcome.issues.is_empty() => RowStatus::Imports,
                RowFate::Record(_) => RowStatus::ImportsWithWarnings,
            };
            warnings += outcome
                .issues
                .iter()
                .filter(|i| i.severity == Severity::Warning)
                .count() as u64;
            chunk.push(row, status);
            issues.extend(outcome.issues);
            let due = if first {
                chunk.len() >= FIRST_CHUNK_ROWS
            } else {
                chunk.len() >= CHUNK_ROWS || last_send.elapsed() >= CHUNK_TIME
            };
            if due {
                if !send(&mut chunk, &mut issues, &mut fates, &mut warnings) {
                    receiver_gone = true;
                    return false;
                }
                first = false;
                last_send = Instant::now();
            }
            true
        })
        .map_err(|e| e.to_string())?;
    if !receiver_gone {
        send(&mut chunk, &mut issues, &mut fates, &mut warnings);
    }
    Ok((
        mapped.value_tally().cloned(),
        mapped.clean_up_tally().cloned(),
    ))
}
