//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod audit;
pub mod check;
pub mod diff;
pub mod doctor;
pub mod fmt;
pub mod inspect;
pub mod keygen;
pub mod lint;
pub mod parse;
pub mod test;
pub mod tokens;
