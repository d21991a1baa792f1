//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod audit;
pub mod check;
pub mod doctor;
pub mod fmt;
pub mod inspect;
pub mod keygen;
pub mod load;
pub mod parse;
pub mod serve;
pub mod test;
pub mod tokens;
