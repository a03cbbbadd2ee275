//! When a file kept in step was saved, and a copy of it as saved.
//!
//! Changes are heard from the operating system (the `notify` crate: inotify,
//! FSEvents, ReadDirectoryChangesW) on the file's folder, since editors save
//! by writing a new file and renaming it over the old; the file's size and
//! modification time are also polled every second, for folders that send no
//! events (network shares, some containers).
//!
//! A save is taken once it has settled: no event and the same size and time
//! for [`FileWatch::settle`] (a second by default; three for a text file
//! whose last row has no line end yet). A workbook (a zip) whose
//! end-of-directory record is in place and consistent is complete, and is
//! taken after a fifth of a second. The copy is read and the file looked at
//! again after: if it changed meanwhile, the save had not settled. A copy
//! that still cannot be read (Excel's lock, a half-written file) is tried
//! again; it is never imported in part.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

/// How often the file is looked at when no event comes.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// How long a complete zip must stay the same.
const ZIP_SETTLE: Duration = Duration::from_millis(200);

/// How many looks in a row may find the file missing or unreadable before
/// that is said (a save by delete and rename, or a lock, takes less).
const SAY_AFTER: u32 = 5;

/// Why the file cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The file is not there, or its folder cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// What says a file changed: its length, modification time and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    identity: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let identity = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let identity = 0;
        Some(FileStamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            identity,
        })
    }
}

/// A copy of the file as saved, in a folder of its own removed with it;
/// it has the file's name, so the history names the file.
#[derive(Debug)]
pub struct Snapshot {
    _folder: tempfile::TempDir,
    path: PathBuf,
}

impl Snapshot {
    /// The copy.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Watches one file for saves.
pub struct FileWatch {
    path: PathBuf,
    settle: Duration,
    events: mpsc::UnboundedReceiver<()>,
    _watcher: Option<notify::RecommendedWatcher>,
    hears_events: bool,
    taken: Option<FileStamp>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("path", &self.path)
            .field("settle", &self.settle)
            .field("hears_events", &self.hears_events)
            .finish_non_exhaustive()
    }
}

impl FileWatch {
    /// Watches `path`; a save is taken once it settled for `settle`.
    pub fn new(path: &Path, settle: Duration) -> Result<FileWatch, WatchError> {
        let path = std::path::absolute(path).map_err(|source| WatchError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::metadata(&path).map_err(|source| WatchError::Io {
            path: path.clone(),
            source,
        })?;
        let (sender, events) = mpsc::unbounded_channel();
        let watcher = Self::listen(&path, sender);
        Ok(FileWatch {
            path,
            settle,
            events,
            hears_events: watcher.is_some(),
            _watcher: watcher,
            taken: None,
        })
    }

    /// Listens to the file's folder for events naming the file; `None`
    /// where the system sends none (polling alone then).
    fn listen(
        path: &Path,
        sender: mpsc::UnboundedSender<()>,
    ) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher;
        let name = path.file_name()?.to_owned();
        let folder = path.parent()?.to_path_buf();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Reading the file (ours included) is no change.
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                    && event.paths.iter().any(|p| p.file_name() == Some(&name))
                {
                    let _ = sender.send(());
                }
            })
            .ok()?;
        watcher
            .watch(&folder, notify::RecursiveMode::NonRecursive)
            .ok()?;
        Some(watcher)
    }

    /// Whether an event naming the file came within `wait`. With no
    /// events to hear (polling alone), waits it out.
    async fn heard_within(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.events.recv()).await {
            Ok(Some(())) => true,
            Ok(None) => {
                tokio::time::sleep(wait).await;
                false
            }
            Err(_) => false,
        }
    }

    /// Whether the system sends events for the file (else it is polled).
    pub fn hears_events(&self) -> bool {
        self.hears_events
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a save must stay the same to be taken.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// A copy of the file as it is now, once settled (the first pass).
    /// An error says the file has been missing or unreadable for several
    /// looks in a row; asking again goes on waiting.
    pub async fn snapshot(&mut self) -> Result<Snapshot, WatchError> {
        let mut unreadable = 0;
        loop {
            let stamp = self.settled().await?;
            match self.copy(stamp) {
                Ok(Some(snapshot)) => return Ok(snapshot),
                // Changed while read: not settled after all.
                Ok(None) => {}
                // Locked or replaced mid-read, for a moment or for good.
                Err(error) => {
                    unreadable += 1;
                    if unreadable >= SAY_AFTER {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Waits for the next save (a file that differs from the last copy
    /// taken), and takes a copy once it settled. An error says the file
    /// has been missing or unreadable for several looks in a row.
    pub async fn next_save(&mut self) -> Result<Snapshot, WatchError> {
        let mut missing = 0;
        loop {
            self.heard_within(POLL_EVERY).await;
            let now = self.stamp(&mut missing)?;
            if now.is_none() || now == self.taken {
                continue;
            }
            return self.snapshot().await;
        }
    }

    /// The file's stamp now; `None` while it is missing, an error once it
    /// has been missing for several looks in a row (`missing` counts them).
    fn stamp(&self, missing: &mut u32) -> Result<Option<FileStamp>, WatchError> {
        match std::fs::metadata(&self.path) {
            Ok(_) => {
                *missing = 0;
                Ok(FileStamp::of(&self.path))
            }
            Err(source) => {
                *missing += 1;
                if *missing >= SAY_AFTER {
                    return Err(WatchError::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
                Ok(None)
            }
        }
    }

    /// Waits `pause`, or less if the file is saved again, then takes a new
    /// copy: after a copy could not be read.
    pub async fn retry(&mut self, pause: Duration) -> Result<Snapshot, WatchError> {
        self.heard_within(pause).await;
        self.snapshot().await
    }

    /// Waits until the file stayed the same for the settling time; an
    /// error when it has been missing for several looks in a row.
    async fn settled(&mut self) -> Result<FileStamp, WatchError> {
        let mut missing = 0;
        loop {
            let Some(stamp) = self.stamp(&mut missing)? else {
                // Gone for a moment (saved by delete and rename): wait.
                self.heard_within(POLL_EVERY).await;
                continue;
            };
            let settle = if zip_is_complete(&self.path) {
                ZIP_SETTLE.min(self.settle)
            } else if ends_mid_line(&self.path) {
                // A text file cut mid-row is likely still being written.
                self.settle * 3
            } else {
                self.settle
            };
            let quiet = !self.heard_within(settle).await;
            if quiet && FileStamp::of(&self.path) == Some(stamp) {
                // Events that came before the wait are spent.
                while self.events.try_recv().is_ok() {}
                return Ok(stamp);
            }
        }
    }

    /// Copies the file; `None` when it changed while being read (not
    /// settled after all), an error when it cannot be read or copied.
    fn copy(&mut self, stamp: FileStamp) -> Result<Option<Snapshot>, WatchError> {
        let io = |source| WatchError::Io {
            path: self.path.clone(),
            source,
        };
        let bytes = std::fs::read(&self.path).map_err(io)?;
        if FileStamp::of(&self.path) != Some(stamp) || bytes.len() as u64 != stamp.len {
            return Ok(None);
        }
        let folder = tempfile::Builder::new()
            .prefix("pantry-import-sync")
            .tempdir()
            .map_err(io)?;
        let name = self.path.file_name().map_or_else(
            || std::ffi::OsString::from("file"),
            std::ffi::OsStr::to_os_string,
        );
        let path = folder.path().join(name);
        std::fs::write(&path, bytes).map_err(io)?;
        self.taken = Some(stamp);
        Ok(Some(Snapshot {
            _folder: folder,
            path,
        }))
    }
}

/// Whether `path` is a text file (not a zip) whose last byte is not a line
/// end: a row may be cut.
fn ends_mid_line(path: &Path) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut last = [0; 1];
    if file.seek(SeekFrom::End(-1)).is_err() || file.read_exact(&mut last).is_err() {
        return false;
    }
    let mut head = [0; 2];
    let zip = file.seek(SeekFrom::Start(0)).is_ok()
        && file.read_exact(&mut head).is_ok()
        && head == *b"PK";
    !zip && last[0] != b'\n' && last[0] != b'\r'
}

/// Whether `path` is a zip (a workbook) whose end-of-central-directory
/// record is in place and consistent: written last, so the zip is whole.
fn zip_is_complete(path: &Path) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return false;
    };
    // The record is 22 bytes and a comment of at most 65,535.
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0; usize::try_from(tail_len).unwrap_or(0)];
    if file.seek(SeekFrom::Start(len - tail_len)).is_err() || file.read_exact(&mut tail).is_err() {
        return false;
    }
    let Some(at) = tail
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .filter(|&at| at + 22 <= tail.len())
    else {
        return false;
    };
    let record = &tail[at..at + 22];
    let word =
        |i: usize| u32::from_le_bytes([record[i], record[i + 1], record[i + 2], record[i + 3]]);
    let comment = u64::from(u16::from_le_bytes([record[20], record[21]]));
    let (size, offset) = (u64::from(word(12)), u64::from(word(16)));
    let record_at = len - tail_len + at as u64;
    // The directory ends where the record begins, and the comment ends the file.
    offset + size == record_at && record_at + 22 + comment == len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_cut_short_is_not_complete() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("book.xlsx");
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook
            .add_worksheet()
            .write_string(0, 0, "Organization Name")
            .unwrap();
        workbook.save(&path).unwrap();
        assert!(zip_is_complete(&path));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(!zip_is_complete(&path));
        std::fs::write(&path, b"Organization Name\nSysco\n").unwrap();
        assert!(!zip_is_complete(&path));
    }
}
