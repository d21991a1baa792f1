//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod doctor;
pub mod fmt;
pub mod parse;
