//! `warden`: the one binary. It parses arguments, calls the library crates,
//! and renders their results and errors for people. Every capability lives in
//! a library crate; each subcommand is one module under `cmd/`.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

mod cmd;
mod diagnostics;
mod exit;

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Prove AI agents' plans against a spec, issue capability tokens, and run agents inside them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand; each module in `cmd/` owns its `Args` and `run`.
#[derive(Subcommand)]
enum Command {
    /// Prove a plan against a spec: verdict, counterexamples, envelope (exit 0/1/3, 2 bad input).
    Check(cmd::check::Args),
    /// Run the `test` blocks of specs (default `specs/`); non-zero exit on any failure.
    Test(cmd::test::Args),
    /// What a spec change lets through and takes away, with witness actions (exit 0 same, 1 differ, 2 bad input).
    Diff(cmd::diff::Args),
    /// Rules that can never match, are overridden or subsumed, unused lets, missing fields (exit 0 clean, 1 findings, 2 bad input).
    Lint(cmd::lint::Args),
    /// Which enforcement layers this machine supports, and why the others are missing.
    Doctor(cmd::doctor::Args),
    /// Run a command inside a token's envelope (Landlock, seccomp, cgroup, eBPF).
    Exec(cmd::exec::Args),
    /// Observe a command (root, nothing refused) and print plan steps that cover what it did.
    Learn(cmd::learn::Args),
    /// Load a plan or spec (names resolved, types checked) and print it; `--json` for tools.
    Parse(cmd::parse::Args),
    /// Rewrite plans and specs in the canonical style; `--check` for CI.
    Fmt(cmd::fmt::Args),
    /// Prove the service's audit log intact (`verify`), or print it filtered (`show`).
    Audit(cmd::audit::Args),
    /// Make the Ed25519 key pair that signs tokens (warden.key, warden.pub).
    Keygen(cmd::keygen::Args),
    /// Show a token's claims and envelope (verified with --pub, else loudly unverified).
    Inspect(cmd::inspect::Args),
    /// Serve the gRPC API for orchestrators and approvers.
    Serve(cmd::serve::Args),
    /// The MCP gateway: start an MCP server inside the token's envelope and decide every tool call against the token.
    Mcp(cmd::mcp::Args),
    /// Approve a pending approval of a service (a plan's, or a tool call's that `warden mcp` parked).
    Approve(cmd::approve::Args),
    /// Deny a pending approval of a service.
    Deny(cmd::approve::Args),
    /// Drive a running service with many concurrent clients; report throughput and latency.
    Load(cmd::loadgen::Args),
    /// Check a plan and, when it is accepted, print a signed capability token.
    Issue(cmd::issue::Args),
    /// Narrow a token for a sub-agent, after proving its plan inside the token's envelope.
    Attenuate(cmd::attenuate::Args),
    /// Print a shell completion script (`make install` installs bash, zsh and fish ones).
    Completions(cmd::completions::Args),
    /// Write man pages for warden and each subcommand into a directory (`make install` does).
    Man(cmd::man::Args),
}

fn main() -> ExitCode {
    // Messages are never wrapped: a key id, a path or a token id split
    // across lines cannot be copied or searched for.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's --help and --version are successes; everything else is bad input.
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(exit::BAD_INPUT),
            };
        }
    };
    match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Test(args) => cmd::test::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Exec(args) => cmd::exec::run(args),
        Command::Learn(args) => cmd::learn::run(args),
        Command::Parse(args) => cmd::parse::run(args),
        Command::Fmt(args) => cmd::fmt::run(args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Mcp(args) => cmd::mcp::run(args),
        Command::Approve(args) => cmd::approve::run(args, true),
        Command::Deny(args) => cmd::approve::run(args, false),
        Command::Load(args) => cmd::loadgen::run(args),
        Command::Issue(args) => cmd::issue::run(args),
        Command::Attenuate(args) => cmd::attenuate::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Man(args) => cmd::man::run(args, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks of every subcommand (unique argument
    /// names, valid `requires`, ...), which otherwise only fail when the
    /// subcommand runs.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
