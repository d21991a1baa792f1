//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod audit;
pub mod doctor;
pub mod inspect;
pub mod keygen;
pub mod load;
pub mod serve;
pub mod tokens;
