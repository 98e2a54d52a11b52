//! The `heapcost` binary: parse the command line, run, map errors to exit codes.
//!
//! Exit codes: 0 success (also when stdout is closed early, as in
//! `heapcost top | head`), 2 bad input or usage.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let quiet = cli.quiet;
    let mut config: heapcost::Config = cli.command.into();
    config.progress = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = heapcost::run(&config, &mut out).and_then(|summary| {
        out.flush().map_err(heapcost::Error::Output)?;
        Ok(summary)
    });
    match result {
        Ok(summary) => {
            if !quiet {
                for w in &summary.warnings {
                    eprintln!("heapcost: warning: {w}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heapcost: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
