//! The progress bar a terminal shows while a run checks or imports: rows,
//! rows/s, batch k of n and time left, per sheet of a workbook.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pantry_core::progress::RunProgress;

/// What a progress bar follows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Rows read and mapped.
    Check,
    /// Rows stored or refused, in batches.
    Import,
}

/// Runs `work` with a progress bar on stderr when stderr is a terminal and
/// `show` (not `--json`); scripts and pipes see nothing extra. The bar
/// follows the sheet of `run` running now, named when the run has several.
pub fn with_progress_bar<T>(
    run: &Arc<RunProgress>,
    show: bool,
    stage: Stage,
    work: impl FnOnce() -> T,
) -> T {
    if !show || !std::io::stderr().is_terminal() {
        return work();
    }
    let bar = indicatif::ProgressBar::new(0);
    let verb = match stage {
        Stage::Check => "checking",
        Stage::Import => "importing",
    };
    // With the total known, a bar and the time left; without, a count.
    let styles = [
        format!("{{spinner}} {verb} {{prefix}}{{wide_bar}} {{human_pos}}/{{human_len}} rows  {{msg}}  {{eta}} left"),
        format!("{{spinner}} {verb} {{prefix}}{{human_pos}} rows  {{msg}}"),
    ]
    .map(|template| indicatif::ProgressStyle::with_template(&template).ok());
    let finished = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (bar, finished, run) = (bar.clone(), Arc::clone(&finished), Arc::clone(run));
        std::thread::spawn(move || {
            let mut shown_sheet = None;
            let count = run.sheets().len();
            while !finished.load(Ordering::Relaxed) {
                let index = run.current();
                let Some(sheet) = run.current_sheet() else {
                    break;
                };
                if shown_sheet != Some(index) {
                    // A new sheet of a workbook: its own bar, rate and time left.
                    bar.reset();
                    if count > 1 {
                        bar.set_prefix(format!("{} ({} of {count})  ", sheet.sheet, index + 1));
                    }
                    shown_sheet = Some(index);
                }
                draw(&bar, &styles, stage, &sheet.progress.snapshot());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    };
    let outcome = work();
    finished.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    outcome
}

/// Sets the bar to the counts of `now`.
fn draw(
    bar: &indicatif::ProgressBar,
    styles: &[Option<indicatif::ProgressStyle>; 2],
    stage: Stage,
    now: &pantry_core::progress::ProgressSnapshot,
) {
    let done = match stage {
        Stage::Check => now.rows_read,
        Stage::Import => now.succeeded + now.failed,
    };
    // Not known yet (a workbook without dimensions): no bar, no guess.
    let known = now.reading_done || now.fraction_read > 0.01;
    if let Some(style) = &styles[usize::from(!known)] {
        bar.set_style(style.clone());
    }
    bar.set_length(now.rows_total_estimate.max(done));
    bar.set_position(done);
    let seconds = bar.elapsed().as_secs_f64().max(0.001);
    let rate = format!(
        "{} rows/s",
        indicatif::HumanCount((done as f64 / seconds) as u64)
    );
    bar.set_message(match stage {
        Stage::Check => rate,
        Stage::Import => format!(
            "{rate}  batch {} of {}",
            now.batches_done,
            now.batches_total.max(now.batches_done)
        ),
    });
}
