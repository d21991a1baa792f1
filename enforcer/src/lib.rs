//! The enforcer: runs a command and all of its descendants inside a token's
//! envelope, with kernel layers that refuse everything the envelope does not
//! name.
//!
//! The envelope is first compiled into a [`KernelPolicy`] (what the layers can
//! express, plus what they had to widen); [`launch`](fn@launch) then
//! prepares each layer before forking (Landlock ruleset, seccomp program,
//! the run's cgroup), applies them in the child just before `exec`, and
//! returns the command's

//! exit status. A layer the operator requires that cannot be applied stops
//! the run before the command starts: the enforcer fails closed.
//!
//! ```
//! use enforcer::{FileRights, FileScope, KernelPolicy};
//!
//! let mut policy = KernelPolicy::new();
//! policy.allow_path("/srv/data", FileScope::Tree, FileRights::READ)?;
//! policy.allow_exec("/usr/bin/git")?;
//! assert!(policy.syscalls.allows("openat") && !policy.syscalls.allows("ptrace"));
//! # Ok::<(), enforcer::PolicyError>(())
//! ```
//!
//! The eBPF layers (cgroup socket programs, tracepoints) live in [`ebpf`];
//! the BPF LSM layer, for kernels that load `lsm` programs, in [`lsm`].
#![warn(missing_docs)]

mod bpf_probe;
pub mod cgroup;
pub mod doctor;
pub mod ebpf;
pub mod error;
pub mod landlock;
pub mod launch;
pub mod layer;
pub mod learn;
pub mod lifecycle;
pub mod lsm;
pub mod policy;
pub mod proven;
pub mod seccomp;
pub mod spawn;
pub mod supervisor;
mod syscall_table;
pub mod translate;

pub use error::{LayerError, PolicyError, RunError};
pub use launch::{CgroupLayer, LayerReport, Run, RunOptions, RunOutcome, launch};
pub use layer::{Layer, LayerSet};
pub use lifecycle::{StopHandle, StopReason};
pub use policy::{
    FileRights, FileRule, FileScope, KernelPolicy, NetDirection, NetRule, PortRange, Proto,
    SyscallAllowlist,
};
pub use spawn::Output;
pub use translate::TranslateError;

#[cfg(test)]
mod tests {
    /// No two files of the enforcer import each other (the module graph has
    /// no 2-cycle; `testkit::imports` reads it from the source).
    #[test]
    fn no_two_files_import_each_other() {
        testkit::imports::assert_none(env!("CARGO_MANIFEST_DIR"));
    }
}
