//! `warden man DIR`: man pages generated from the CLI definition
//! (`clap_mangen`): `warden.1`, and `warden-COMMAND.1` for each subcommand
//! (`warden-audit-verify.1` for a nested one). `make install` installs them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: Args, cli: clap::Command) -> ExitCode {
    let written = std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("{}: {e}", args.out.display()))
        .and_then(|()| write_pages(cli, &args.out));
    match written {
        Ok(n) => {
            println!("wrote {n} man pages into {}", args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warden man: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// Writes the page of `cmd` (already named `warden-…`) and of each of its
/// visible subcommands; returns how many pages were written.
fn write_pages(mut cmd: clap::Command, dir: &Path) -> Result<usize, String> {
    cmd.build();
    let name = cmd.get_name().to_string();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .map_err(|e| format!("{name}: {e}"))?;
    std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut written = 1;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let sub = sub.clone().name(format!("{name}-{}", sub.get_name()));
        written += write_pages(sub, dir)?;
    }
    Ok(written)
}
