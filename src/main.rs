//! `pantry-import`: with no command it opens the window; `check`, `import`
//! and `migrate` run headless for scripts.

mod app;
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match args.command {
        Some(command) => cli::run(command),
        None => match app::run(args.file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("pantry-import: cannot open the window: {error}");
                ExitCode::from(2)
            }
        },
    }
}
