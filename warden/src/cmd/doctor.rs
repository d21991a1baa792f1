//! `warden doctor`: which enforcement layers this machine supports.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    println!("enforcement layers: not built yet (the enforcer is issue 5)");
    ExitCode::SUCCESS
}
