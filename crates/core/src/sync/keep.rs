//! The loop that keeps a file in step: a pass now, then one per save, the
//! same for `watch` and the window's "Keep in step".

use std::time::Duration;

use super::watch::{FileWatch, Snapshot};
use super::{PassReport, Sync, SyncError};

/// How often a copy that cannot be read is tried again before the save is
/// given up (until the next one).
const TRIES: u32 = 10;

/// How long between tries.
const PAUSE: Duration = Duration::from_millis(500);

/// What happens while a file is kept in step, as it happens.
#[derive(Debug)]
pub enum SyncEvent {
    /// A save was seen and settled; a pass starts.
    Saved,
    /// A pass ended.
    Pass(Box<PassReport>),
    /// The file could not be read as saved (mid-save, locked); nothing was
    /// imported and it is tried again.
    Waiting(String),
    /// The file still could not be read after several tries, or cannot be
    /// imported as saved (a required column gone); nothing was stored, and
    /// the next save is waited for.
    GaveUp(String),
}

/// When to stop keeping a file in step, besides being dropped.
#[derive(Debug)]
pub struct StopWhen {
    /// After this many passes.
    pub passes: Option<usize>,
    /// When this turns `true`: at once while waiting for a save, after the
    /// pass under way otherwise (a pass is never cut off by it).
    pub asked: tokio::sync::watch::Receiver<bool>,
}

impl StopWhen {
    /// Only when dropped.
    pub fn never() -> StopWhen {
        let (_, asked) = tokio::sync::watch::channel(false);
        StopWhen {
            passes: None,
            asked,
        }
    }

    /// Resolves once a stop is asked for; never, if it cannot be.
    async fn asked(&mut self) {
        if self.asked.wait_for(|asked| *asked).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs a pass now, then one each time the file is saved, telling
/// `on_event` as things happen, until `stop` says so. A pass that fails on
/// the database ends it with the error.
pub async fn keep_in_step(
    sync: &mut Sync,
    watch: &mut FileWatch,
    mut stop: StopWhen,
    mut on_event: impl FnMut(SyncEvent),
) -> Result<(), SyncError> {
    let mut done = 0;
    let mut snapshot = tokio::select! {
        snapshot = copy_when_readable(watch, true, &mut on_event) => snapshot,
        () = stop.asked() => return Ok(()),
    };
    loop {
        on_event(SyncEvent::Saved);
        if pass_with_retries(sync, (watch, &mut stop), &mut snapshot, &mut on_event).await? {
            done += 1;
        }
        if stop.passes.is_some_and(|n| done >= n) || *stop.asked.borrow() {
            return Ok(());
        }
        snapshot = tokio::select! {
            snapshot = copy_when_readable(watch, false, &mut on_event) => snapshot,
            () = stop.asked() => return Ok(()),
        };
    }
}

/// A copy of the file as it is now (`now`) or at its next save, waiting as
/// long as it takes: a file missing or unreadable for a while (moved away,
/// its permissions changed, locked) is said once, and waited for.
async fn copy_when_readable(
    watch: &mut FileWatch,
    now: bool,
    on_event: &mut impl FnMut(SyncEvent),
) -> Snapshot {
    let mut said = None;
    loop {
        let copy = if now {
            watch.snapshot().await
        } else {
            watch.next_save().await
        };
        match copy {
            Ok(snapshot) => return snapshot,
            Err(error) => {
                let why = format!("{error}; waiting until it can be read");
                if said.as_ref() != Some(&why) {
                    on_event(SyncEvent::Waiting(why.clone()));
                    said = Some(why);
                }
            }
        }
    }
}

/// One pass over the save, tried again while the copy cannot be read.
/// `false`: given up.
async fn pass_with_retries(
    sync: &mut Sync,
    (watch, stop): (&mut FileWatch, &mut StopWhen),
    snapshot: &mut Snapshot,
    on_event: &mut impl FnMut(SyncEvent),
) -> Result<bool, SyncError> {
    let mut tries = 1;
    loop {
        match sync.pass(snapshot.path(), None).await {
            Ok(report) => {
                on_event(SyncEvent::Pass(Box::new(report)));
                return Ok(true);
            }
            Err(error) if error.is_retryable() && tries < TRIES => {
                on_event(SyncEvent::Waiting(format!(
                    "{} cannot be read as saved ({error}); trying again",
                    watch.path().display()
                )));
                tries += 1;
                let copy = tokio::select! {
                    copy = watch.retry(PAUSE) => copy,
                    // Stopped between tries: nothing of this save went in.
                    () = stop.asked() => return Ok(false),
                };
                *snapshot = match copy {
                    Ok(snapshot) => snapshot,
                    Err(error) => {
                        on_event(SyncEvent::GaveUp(format!(
                            "{error}; waiting for the next save"
                        )));
                        return Ok(false);
                    }
                };
            }
            Err(error) if error.is_retryable() => {
                on_event(SyncEvent::GaveUp(format!(
                    "{} could not be read after {TRIES} tries ({error}); waiting for the next save",
                    watch.path().display()
                )));
                return Ok(false);
            }
            Err(error) if error.is_about_the_file() => {
                on_event(SyncEvent::GaveUp(format!(
                    "{error}; nothing of this save was imported; waiting for the next save"
                )));
                return Ok(false);
            }
            Err(error) => return Err(error),
        }
    }
}
