//! The kernel side of Warden's enforcer: the eBPF programs of a node.
//!
//! The programs are loaded and verified once per machine (and object
//! version) and pinned under bpffs; every run then gets only its entries in
//! the maps, keyed by the run's cgroup id, and the cgroup programs attached
//! to its cgroup. A task belongs to the run whose cgroup is its ancestor at
//! `NodeConfig::run_level`; everything else passes untouched.
//!
//! - `net`: cgroup sock_addr programs (`connect4/6`, `sendmsg4/6`,
//!   `bind4/6`, and the pathname unix socket hooks `connect_unix`,
//!   `sendmsg_unix`), attached to each run's cgroup.
//! - `process`: `sched_process_exec` (the exec check: the executed file by
//!   inode and its arguments exactly, a refused one killed before its first
//!   instruction), `sched_process_fork`, `sched_process_exit`: raw
//!   tracepoints attached once for the node.
//! - `syscalls`: `sys_exit`, attached only while some run reports refused
//!   syscalls or opened files (it puts every task of the machine on the
//!   kernel's slow syscall path).
//! - `lsm`: BPF LSM hooks, where the kernel loads them.
//!
//! Events go to the run's own ring buffer (`RUN_RINGS[run]`), which exists
//! only for runs whose events someone reads. Every layout shared with user
//! space comes from `enforcer-common`; kernel struct fields are read at
//! offsets user space takes from the running kernel's BTF.
#![no_std]
#![no_main]

mod files;
mod lsm;
mod net;
mod process;
mod syscalls;

use aya_ebpf::{
    btf_maps::{HashOfMaps, RingBuf as RunRing},
    helpers::{
        bpf_get_current_ancestor_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_ktime_get_ns, bpf_probe_read_kernel,
    },
    macros::{btf_map, map},
    maps::{Array, HashMap, LpmTrie, PerCpuArray, ring_buf::RingBufEntry},
};
use enforcer_common::{
    ARGV_MAX, ArgvKey, ArgvValue, CONFIG_INDEX, EVENT_RING_BYTES, EventRecord, ExecKey, ExecRule,
    MAX_EXEC_ARGV, MAX_EXEC_PROGRAMS, MAX_PREFIXES, MAX_RUN_PIDS, MAX_RUNS, MAX_SYSCALLS,
    MAX_UNIX_PATHS, NetKeyV4, NetKeyV6, NodeConfig, PortRule, RunEntry, RunPid, UnixKey,
};

/// Where run cgroups sit and the kernel struct offsets (one entry).
#[map]
static CONFIG: Array<NodeConfig> = Array::with_max_entries(1, 0);

/// The runs of the node: run cgroup id → flags and counters.
#[map]
static RUNS: HashMap<u64, RunEntry> = HashMap::with_max_entries(MAX_RUNS, 0);

/// Each run's event ring, for runs whose events someone reads.
#[btf_map]
static RUN_RINGS: HashOfMaps<
    u64,
    RunRing<u8, { EVENT_RING_BYTES as usize }>,
    { MAX_RUNS as usize },
> = HashOfMaps::new();

/// The processes of every run: pid (thread group id) → run and parent.
#[map]
static RUN_PIDS: HashMap<u32, RunPid> = HashMap::with_max_entries(MAX_RUN_PIDS, 0);

/// `BPF_F_NO_PREALLOC`: entries are allocated when inserted.
const NO_PREALLOC: u32 = 1;

/// The IPv4 network envelopes: run key + prefix → allowed port ranges.
#[map]
static NET_V4: LpmTrie<NetKeyV4, PortRule> = LpmTrie::with_max_entries(MAX_PREFIXES, NO_PREALLOC);

/// The IPv6 network envelopes: run key + prefix → allowed port ranges.
#[map]
static NET_V6: LpmTrie<NetKeyV6, PortRule> = LpmTrie::with_max_entries(MAX_PREFIXES, NO_PREALLOC);

/// Pathname unix sockets: run key + path (exact with its NUL, a tree with a
/// trailing `/`) → `UNIX_*` bits.
#[map]
static UNIX_PATHS: LpmTrie<UnixKey, u32> = LpmTrie::with_max_entries(MAX_UNIX_PATHS, NO_PREALLOC);

/// Programs of every run by the file executed: (run, dev, inode) → rule.
#[map]
static EXEC_PROGRAMS: HashMap<ExecKey, ExecRule> =
    HashMap::with_max_entries(MAX_EXEC_PROGRAMS, NO_PREALLOC);

/// Argument lists (and prefixes) programs may run with.
#[map]
static EXEC_ARGV: HashMap<ArgvKey, ArgvValue> =
    HashMap::with_max_entries(MAX_EXEC_ARGV, NO_PREALLOC);

/// Refusal events: syscall number → where its arguments name what was
/// refused (`refusal::ArgSpec` bits), written by user space.
#[map]
static REFUSAL_ARGS: Array<u32> = Array::with_max_entries(MAX_SYSCALLS, 0);

/// Per-CPU working memory of the exec check: an exec's arguments. Only
/// programs that run with preemption off may use it (the exec check runs in
/// a tracepoint); a preemptible one (the cgroup and LSM programs) could be
/// interrupted by another task's program on the same CPU rewriting it.
#[repr(C)]
pub struct Scratch {
    /// The arguments of an exec after `argv[0]`.
    pub buf: [u8; ARGV_MAX],
    /// The key of an `EXEC_ARGV` lookup.
    pub argv_key: ArgvKey,
}

#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// `SIGKILL`.
pub(crate) const SIGKILL: u32 = 9;
/// `BPF_RB_NO_WAKEUP`: submit without waking a reader blocked in poll.
pub(crate) const BPF_RB_NO_WAKEUP: u64 = 1;

#[inline(always)]
pub(crate) fn config() -> Option<&'static NodeConfig> {
    CONFIG.get(CONFIG_INDEX)
}

/// The run of the current task: its cgroup id and entry; `None` for a task
/// outside every run.
#[inline(always)]
pub(crate) fn current_run(cfg: &NodeConfig) -> Option<(u64, *mut RunEntry)> {
    // SAFETY: a helper without memory arguments.
    let run = unsafe { bpf_get_current_ancestor_cgroup_id(cfg.run_level as i32) };
    if run == 0 {
        return None;
    }
    RUNS.get_ptr_mut(run).map(|entry| (run, entry))
}

/// The flags of a run entry.
#[inline(always)]
pub(crate) fn flags(entry: *mut RunEntry) -> u32 {
    // SAFETY: a pointer from a map lookup, valid for this program run.
    unsafe { (*entry).flags }
}

/// Counts a refusal (or an observed operation outside the envelope). The
/// counts are advisory (the bpf target has no atomic add in `core`): two
/// CPUs counting at once may count one.
#[inline(always)]
pub(crate) fn count_refusal(entry: *mut RunEntry) {
    // SAFETY: a pointer from a map lookup, valid for this program run.
    unsafe { (*entry).refusals = (*entry).refusals.wrapping_add(1) };
}

#[inline(always)]
fn count_lost_event(entry: *mut RunEntry) {
    // SAFETY: as above.
    unsafe { (*entry).lost_events = (*entry).lost_events.wrapping_add(1) };
}

/// Reserves a record of type `T` on the run's ring; `None` when the run
/// has no ring (nobody reads its events) or the ring is full (counted).
#[inline(always)]
pub(crate) fn reserve<T: 'static>(run: u64, entry: *mut RunEntry) -> Option<RingBufEntry<T>> {
    // SAFETY: the inner map is only used through the ring helpers.
    let ring = unsafe { RUN_RINGS.get(&run) }?;
    let reserved = ring.reserve_untyped::<T>(0);
    if reserved.is_none() {
        count_lost_event(entry);
    }
    reserved
}

/// Reserves an [`EventRecord`] with its common fields filled in.
#[inline(always)]
pub(crate) fn new_event(
    run: u64,
    entry: *mut RunEntry,
    kind: u32,
    pid: u32,
) -> Option<RingBufEntry<EventRecord>> {
    let mut reserved = reserve::<EventRecord>(run, entry)?;
    let e = reserved.as_mut_ptr();
    // SAFETY: `e` points at a reserved record of the right size; every field
    // read by user space is written here or by the caller.
    unsafe {
        (*e).kind = kind;
        (*e).pid = pid;
        (*e).other_pid = 0;
        (*e).number = 0;
        (*e).time_ns = bpf_ktime_get_ns();
        (*e).family = 0;
        (*e).port = 0;
        (*e).op = 0;
        (*e).verdict = 0;
        (*e).proto = 0;
        (*e)._pad = 0;
        (*e).addr = [0; 16];
        (*e).filename[0] = 0;
    }
    Some(reserved)
}

/// Writes the task's command name where a record carries a file name.
#[inline(always)]
pub(crate) fn put_comm(e: *mut EventRecord) {
    if let Ok(comm) = bpf_get_current_comm() {
        let mut i = 0;
        while i < comm.len() {
            // SAFETY: `e` is a reserved record; `i` < 16 < FILENAME_LEN.
            unsafe { (*e).filename[i] = comm[i] };
            i += 1;
        }
        // SAFETY: as above.
        unsafe { (*e).filename[comm.len() - 1] = 0 };
    }
}

#[inline(always)]
pub(crate) fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

/// Reads a kernel value at `base + offset`; 0 when unreadable.
#[inline(always)]
pub(crate) fn read_at<T: Copy + Default>(base: u64, offset: u32) -> T {
    if base == 0 {
        return T::default();
    }
    // SAFETY: bpf_probe_read_kernel checks the address.
    unsafe { bpf_probe_read_kernel((base + offset as u64) as *const T) }.unwrap_or_default()
}

/// This CPU's working memory.
#[inline(always)]
pub(crate) fn scratch() -> Option<*mut Scratch> {
    SCRATCH.get_ptr_mut(0)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// GPL-compatible so that the verifier grants the GPL-only helpers
/// (`bpf_probe_read_kernel`, `bpf_send_signal`) the tracing programs use.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
