//! The runs a machine's node holds, and purging those that ended without
//! taking themselves out.

use aya::maps::{HashMap as BpfHashMap, MapData};
use enforcer_common::RunEntry;

use super::error::EbpfError;
use super::node;

/// Whether this machine's node has the BPF LSM programs (they loaded when
/// the node was made), or why not: a cheap answer for a run start, where
/// [`super::lsm::probe`] would parse the kernel's BTF and load a program.
pub fn lsm_support() -> Result<(), String> {
    crate::lsm::check_active().map_err(|e| crate::lsm::render(&e))?;
    node::Node::open().map_err(|e| e.to_string())?.lsm()
}

/// Takes out of this machine's node the entries of runs whose cgroup is
/// gone, and detaches what only they needed (`warden doctor --clean`, which
/// the watchdog of a launcher that died runs); nothing when no run made the
/// node this boot. Returns how many runs.
pub fn purge_stale_runs() -> Result<usize, EbpfError> {
    match node::Node::open_existing()? {
        Some(node) => node.purge_stale(&node.lock()?),
        None => Ok(0),
    }
}

/// The runs this machine's node holds entries for, by cgroup id (the inode
/// number of the run's cgroup directory); empty when no run made the node
/// this boot.
pub fn run_ids() -> Result<Vec<u64>, EbpfError> {
    let Some(node) = node::Node::open_existing()? else {
        return Ok(Vec::new());
    };
    let runs: BpfHashMap<MapData, u64, RunEntry> = node.typed_map("RUNS")?;
    Ok(runs.keys().filter_map(Result::ok).collect())
}
