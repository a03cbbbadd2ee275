//! `pantry-import`: with no command it opens the window; `check`, `import`
//! and `migrate` run headless for scripts.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_heap_growth();
    let args = cli::Cli::parse();
    match args.command {
        Some(command) => cli::run(command),
        None => match pantry_window::run(args.file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("pantry-import: cannot open the window: {error}");
                ExitCode::from(2)
            }
        },
    }
}

/// glibc raises its mmap threshold to the size of every large block freed,
/// so after the first COPY batch (a few MB) is freed, later batches come
/// from the heap, where the warnings kept between them stop it from
/// shrinking. A fixed 1 MiB threshold keeps batches in their own mappings:
/// a 5,000,000-row import with 223,697 warnings peaked at 205 MB instead of
/// 227 MB (README, "Performance").
fn limit_heap_growth() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tuning value of the allocator, before
    // any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
