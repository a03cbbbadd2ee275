//! The window (filled in by the desktop-window work).

use std::path::PathBuf;

pub fn run(_file: Option<PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!("the window is not built yet")
}
