//! `warden completions SHELL`: a completion script for a shell, generated
//! from the CLI definition (`clap_complete`). `make install` installs the
//! bash, zsh and fish ones.

use clap_complete::Shell;
use std::io::Write;
use std::process::ExitCode;

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: Args, mut cli: clap::Command) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "warden", &mut script);
    match std::io::stdout().write_all(&script) {
        // A reader that stopped early (`| head`) wanted no more.
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden completions: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
