//! One module per subcommand: `Args` (clap) and `run(Args) -> ExitCode`.

pub mod attenuate;
pub mod audit;
pub mod check;
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod exec;
pub mod fmt;
pub mod follow;
pub mod inspect;
pub mod issue;
pub mod keygen;
pub mod learn;
pub mod lint;
pub mod loadgen;
pub mod man;
pub mod mcp;
pub mod parse;
pub mod report;
pub mod serve;
pub mod test;
pub mod tokens;
