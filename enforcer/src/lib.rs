//! The enforcer: runs a command inside a token's envelope with kernel layers
//! (Landlock, seccomp, eBPF on the run's cgroup). (Being built: issue 5.)
//!
//! The eBPF layers live in [`ebpf`]:
//!
//! ```no_run
//! let object = enforcer::ebpf::object_bytes();
//! assert!(!object.is_empty());
//! ```

pub mod ebpf;
