//! `warden doctor`: which enforcement layers this machine supports, and why
//! the others are missing.

use crate::exit;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object: `{"layers": [{"layer", "supported", "detail"}]}`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let statuses = enforcer::doctor::Doctor::new().run();
    if args.json {
        let out = serde_json::json!({ "layers": statuses });
        match serde_json::to_string_pretty(&out) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("warden doctor: {e}");
                return ExitCode::from(exit::BAD_INPUT);
            }
        }
    } else {
        print!("{}", enforcer::doctor::render(&statuses));
    }
    ExitCode::SUCCESS
}
