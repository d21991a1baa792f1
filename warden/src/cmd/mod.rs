//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod doctor;
pub mod inspect;
pub mod keygen;
pub mod tokens;
