//! The eBPF layers of a run, user side: load the programs built from
//! `enforcer-ebpf/`, fill their maps, attach them to the run's cgroup and
//! stream their events.

/// The eBPF object built by `build.rs` (aya-build), aligned for parsing.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/enforcer-ebpf"));

/// The bytes of the eBPF object compiled from `enforcer-ebpf/`; empty when the
/// build skipped it (`AYA_BUILD_SKIP=1`).
pub fn object_bytes() -> &'static [u8] {
    OBJECT
}
