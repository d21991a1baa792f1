//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod attenuate;
pub mod audit;
pub mod check;
pub mod doctor;
pub mod fmt;
pub mod inspect;
pub mod issue;
pub mod keygen;
pub mod parse;
pub mod test;
pub mod tokens;
