//! Live counts of a running check or import, shared between the worker and
//! whoever watches it (a window reads them every frame, a terminal draws a
//! progress bar): one [`ImportProgress`] per sheet, gathered in a
//! [`RunProgress`] for the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::mapping::MappedSheet;
use crate::run::RunPlan;

/// Live counts of one sheet's check or import.
#[derive(Default)]
pub struct ImportProgress {
    rows_read: AtomicU64,
    rows_total: AtomicU64,
    reading_done: AtomicBool,
    bytes_read: std::sync::Mutex<Option<(Arc<AtomicU64>, u64)>>,
    pub(crate) batch_size: AtomicU64,
    pub(crate) batches_done: AtomicU64,
    pub(crate) succeeded: AtomicU64,
    pub(crate) already_stored: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) updated: AtomicU64,
    cancelled: AtomicBool,
    waker: std::sync::Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for ImportProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportProgress")
            .field("now", &self.snapshot())
            .finish()
    }
}

/// A copy of the counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProgressSnapshot {
    /// Data rows read from the file so far.
    pub rows_read: u64,
    /// Total data rows, once known (or estimated from bytes read).
    pub rows_total_estimate: u64,
    /// Whether the whole file has been read.
    pub reading_done: bool,
    /// Fraction of the file read, 0 to 1.
    pub fraction_read: f32,
    /// Batches committed (or settled row by row).
    pub batches_done: u64,
    /// Batches expected in all (estimated until reading is done).
    pub batches_total: u64,
    /// Rows stored, including those an interrupted run stored before.
    pub succeeded: u64,
    /// Rows an interrupted earlier run had stored (this run resumes it).
    pub already_stored: u64,
    /// Rows refused (by validation or the database).
    pub failed: u64,
    /// Rows that matched a CRM record and were skipped.
    pub skipped: u64,
    /// Rows that updated the CRM record they matched (counted in
    /// `succeeded` too).
    pub updated: u64,
}

impl ImportProgress {
    /// A new counter set; `waker` is called whenever the counts move, so a
    /// window can repaint.
    pub fn new(waker: Option<Arc<dyn Fn() + Send + Sync>>) -> Arc<ImportProgress> {
        let progress = ImportProgress::default();
        if let Ok(mut slot) = progress.waker.lock() {
            *slot = waker;
        }
        Arc::new(progress)
    }

    /// Asks the import to stop after the batch in flight.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.wake();
    }

    /// Whether [`ImportProgress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The counts now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let rows_read = self.rows_read.load(Ordering::Relaxed);
        let reading_done = self.reading_done.load(Ordering::Relaxed);
        let fraction_read = if reading_done {
            1.0
        } else {
            match self.bytes_read.lock().ok().and_then(|b| b.clone()) {
                Some((counter, total)) if total > 0 => {
                    (counter.load(Ordering::Relaxed) as f64 / total as f64).min(1.0) as f32
                }
                _ => 0.0,
            }
        };
        let rows_total_estimate = if reading_done {
            self.rows_total.load(Ordering::Relaxed)
        } else if fraction_read > 0.01 {
            ((rows_read as f64 / f64::from(fraction_read)) as u64).max(rows_read)
        } else {
            rows_read
        };
        let batch_size = self.batch_size.load(Ordering::Relaxed).max(1);
        ProgressSnapshot {
            rows_read,
            rows_total_estimate,
            reading_done,
            fraction_read,
            batches_done: self.batches_done.load(Ordering::Relaxed),
            batches_total: rows_total_estimate.div_ceil(batch_size),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            already_stored: self.already_stored.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            updated: self.updated.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn wake(&self) {
        let waker = self.waker.lock().ok().and_then(|w| w.clone());
        if let Some(waker) = waker {
            waker();
        }
    }
}

/// Counts each row read on a progress, and wakes its watcher now and then.
pub(crate) struct ReadCounter<'a> {
    progress: &'a ImportProgress,
    read: u64,
    last_wake: Instant,
}

impl<'a> ReadCounter<'a> {
    /// Starts counting the rows of `sheet`, whose bytes read give the
    /// fraction done until the rows are all read.
    pub(crate) fn start(progress: &'a ImportProgress, sheet: &MappedSheet) -> ReadCounter<'a> {
        let spreadsheet = sheet.spreadsheet();
        if let Ok(mut slot) = progress.bytes_read.lock() {
            *slot = Some((spreadsheet.bytes_read_counter(), spreadsheet.bytes_total()));
        }
        ReadCounter {
            progress,
            read: 0,
            last_wake: Instant::now(),
        }
    }

    pub(crate) fn row(&mut self) {
        self.read += 1;
        self.progress.rows_read.store(self.read, Ordering::Relaxed);
        if self.last_wake.elapsed() > Duration::from_millis(50) {
            self.last_wake = Instant::now();
            self.progress.wake();
        }
    }

    /// Reading ended: every row read (`complete`), or stopped early.
    pub(crate) fn end(self, complete: bool) {
        if complete {
            self.progress.rows_total.store(self.read, Ordering::Relaxed);
            self.progress.reading_done.store(true, Ordering::Relaxed);
        }
        self.progress.wake();
    }
}

/// The live counts of a run: one [`ImportProgress`] per sheet, and which
/// sheet is running.
pub struct RunProgress {
    sheets: Vec<SheetProgress>,
    current: AtomicUsize,
}

/// The progress of one sheet of a run.
pub struct SheetProgress {
    /// The sheet, as the broker knows it (its name, or the file's).
    pub sheet: String,
    /// Its counts.
    pub progress: Arc<ImportProgress>,
}

impl std::fmt::Debug for RunProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunProgress")
            .field("sheets", &self.sheets.len())
            .field("current", &self.current())
            .finish()
    }
}

impl RunProgress {
    /// Counters for the sheets of `plan`, in the order they run; `waker` is
    /// called whenever any count moves.
    pub fn new(plan: &RunPlan, waker: Option<Arc<dyn Fn() + Send + Sync>>) -> Arc<RunProgress> {
        Arc::new(RunProgress {
            sheets: plan
                .sheets
                .iter()
                .map(|sheet| SheetProgress {
                    sheet: plan.sheet_title(sheet),
                    progress: ImportProgress::new(waker.clone()),
                })
                .collect(),
            current: AtomicUsize::new(0),
        })
    }

    /// A run of one sheet whose counts `progress` already holds.
    pub fn of_one(sheet: String, progress: Arc<ImportProgress>) -> Arc<RunProgress> {
        Arc::new(RunProgress {
            sheets: vec![SheetProgress { sheet, progress }],
            current: AtomicUsize::new(0),
        })
    }

    /// Every sheet's progress, in the order they run.
    pub fn sheets(&self) -> &[SheetProgress] {
        &self.sheets
    }

    /// The index of the sheet running now (or last).
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// The progress of the sheet running now (or last).
    pub fn current_sheet(&self) -> Option<&SheetProgress> {
        self.sheets.get(self.current())
    }

    /// Asks the run to stop after the batch in flight of the current sheet;
    /// later sheets do not start.
    pub fn cancel(&self) {
        for sheet in &self.sheets {
            sheet.progress.cancel();
        }
    }

    /// Whether [`RunProgress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.sheets.iter().any(|s| s.progress.is_cancelled())
    }

    /// The counts of every sheet added up.
    pub fn snapshot(&self) -> ProgressSnapshot {
        self.sheets.iter().map(|s| s.progress.snapshot()).fold(
            ProgressSnapshot::default(),
            |sum, one| ProgressSnapshot {
                rows_read: sum.rows_read + one.rows_read,
                rows_total_estimate: sum.rows_total_estimate + one.rows_total_estimate,
                reading_done: one.reading_done,
                fraction_read: one.fraction_read,
                batches_done: sum.batches_done + one.batches_done,
                batches_total: sum.batches_total + one.batches_total,
                succeeded: sum.succeeded + one.succeeded,
                already_stored: sum.already_stored + one.already_stored,
                failed: sum.failed + one.failed,
                skipped: sum.skipped + one.skipped,
                updated: sum.updated + one.updated,
            },
        )
    }

    /// Marks sheet `index` as the one running, and gives its counts.
    pub(crate) fn start(&self, index: usize) -> Arc<ImportProgress> {
        self.current.store(index, Ordering::Relaxed);
        match self.sheets.get(index) {
            Some(sheet) => Arc::clone(&sheet.progress),
            // A plan and its progress always have the same sheets.
            None => ImportProgress::new(None),
        }
    }
}
