//! The kernel's run-time statistics of the node's programs.

use std::path::PathBuf;
use std::time::Duration;

use super::error::EbpfError;

/// How often one program ran and for how long in total.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProgramStats {
    /// The name the program is pinned under in the node's `progs/`.
    pub name: String,
    /// How many times it ran while statistics were on.
    pub runs: u64,
    /// Its total run time over those runs, as the kernel measured it.
    pub run_time: Duration,
}

impl ProgramStats {
    /// Mean time per run, in nanoseconds (0 when it never ran).
    pub fn mean_ns(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.run_time.as_nanos() as f64 / self.runs as f64
        }
    }
}

/// Turns on the kernel's run-time statistics of eBPF programs for as long
/// as the returned descriptor lives (`BPF_ENABLE_STATS`; needs root).
pub fn enable_program_stats() -> Result<std::os::fd::OwnedFd, EbpfError> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| EbpfError::Io {
        what: "enabling eBPF run-time statistics",
        path: PathBuf::from("bpf(BPF_ENABLE_STATS)"),
        source: e.io_error,
    })
}
