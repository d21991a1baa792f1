//! `warden doctor`: which enforcement layers this machine supports, and why
//! the others are missing.

use crate::exit;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object: `{"layers": [{"layer", "supported", "detail"}],
    /// "cleaned": {"cgroups", "ebpf_runs", "errors"}}`.
    #[arg(long)]
    json: bool,
    /// Only remove what runs whose `warden exec` died left behind (their
    /// cgroups, killed first, and their eBPF map entries); probe nothing.
    /// Every `warden doctor` does this first, as root.
    #[arg(long)]
    clean: bool,
    /// With `--clean`: clean again every SECONDS, until killed (the node
    /// agent of `deploy/`, a DaemonSet). A failed clean-up is reported and
    /// the next one goes on.
    #[arg(long, value_name = "SECONDS", requires = "clean", value_parser = clap::value_parser!(u64).range(1..))]
    every: Option<u64>,
}

pub fn run(args: Args) -> ExitCode {
    if let Some(every) = args.every {
        loop {
            let cleaned = enforcer::doctor::clean();
            if args.json {
                if !cleaned.is_empty() {
                    // One line per clean-up that did something.
                    println!("{}", serde_json::json!({ "cleaned": cleaned }));
                }
            } else {
                eprint!("{}", cleaned.render());
            }
            std::thread::sleep(std::time::Duration::from_secs(every));
        }
    }
    let cleaned = enforcer::doctor::clean();
    if args.clean {
        if args.json {
            return print_json(&serde_json::json!({ "cleaned": cleaned }));
        }
        eprint!("{}", cleaned.render());
        return if cleaned.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let statuses = enforcer::doctor::Doctor::new().run();
    if args.json {
        return print_json(&serde_json::json!({ "layers": statuses, "cleaned": cleaned }));
    }
    eprint!("{}", cleaned.render());
    print!("{}", enforcer::doctor::render(&statuses));
    ExitCode::SUCCESS
}

fn print_json(out: &serde_json::Value) -> ExitCode {
    match serde_json::to_string_pretty(out) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warden doctor: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
