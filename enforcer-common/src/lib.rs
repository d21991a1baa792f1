//! Map keys, map values and event records shared by user space (`enforcer`)
//! and the kernel side (`enforcer-ebpf`). Every layout the two sides exchange
//! is defined once, here, as `#[repr(C)]` plain data; the `user` feature
//! derives `aya::Pod` for the user side.
//!
//! ```
//! use enforcer_common::{PortRange, PortRule, DIR_CONNECT, PROTO_ANY};
//! let mut rule = PortRule::EMPTY;
//! assert!(rule.push(PortRange { lo: 443, hi: 443, proto: PROTO_ANY, dirs: DIR_CONNECT, _pad: 0 }));
//! assert!(rule.allows(443, 6, DIR_CONNECT));
//! assert!(!rule.allows(80, 6, DIR_CONNECT));
//! ```
#![no_std]

pub mod lsm;
pub mod refusal;

/// Most port ranges one prefix of the network envelope can carry.
pub const MAX_PORT_RANGES: usize = 16;
/// Entries in each LPM trie (IPv4, IPv6).
pub const MAX_PREFIXES: u32 = 1024;
/// Entries of the syscall allowlist array: syscall numbers below this.
pub const MAX_SYSCALLS: u32 = 512;
/// Processes tracked for one run.
pub const MAX_RUN_PIDS: u32 = 16384;
/// Bytes of the ring buffer carrying events to user space (a power of two
/// multiple of the page size).
pub const EVENT_RING_BYTES: u32 = 1 << 20;
/// Bytes of a file name carried by an exec event, NUL included.
pub const FILENAME_LEN: usize = 256;

/// The range applies to `connect` (and `sendmsg` with an address).
pub const DIR_CONNECT: u8 = 1;
/// The range applies to `bind`.
pub const DIR_BIND: u8 = 2;

/// Any IP protocol.
pub const PROTO_ANY: u8 = 0;
/// `IPPROTO_TCP`.
pub const PROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const PROTO_UDP: u8 = 17;

/// One allowed port range for one protocol and some directions.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First allowed port (host byte order).
    pub lo: u16,
    /// Last allowed port (host byte order), inclusive.
    pub hi: u16,
    /// `PROTO_ANY`, `PROTO_TCP` or `PROTO_UDP`.
    pub proto: u8,
    /// Bit set of `DIR_CONNECT` and `DIR_BIND`.
    pub dirs: u8,
    /// Padding, always zero.
    pub _pad: u16,
}

impl PortRange {
    /// An unused slot.
    pub const EMPTY: PortRange = PortRange {
        lo: 0,
        hi: 0,
        proto: 0,
        dirs: 0,
        _pad: 0,
    };
}

/// The value of both LPM tries: the port ranges allowed for addresses under
/// a prefix. User space merges into each prefix the ranges of every shorter
/// prefix that contains it, so the longest match alone decides.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRule {
    /// Used slots of `ranges`.
    pub count: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// The ranges; only the first `count` are meaningful.
    pub ranges: [PortRange; MAX_PORT_RANGES],
}

impl PortRule {
    /// No range: everything refused.
    pub const EMPTY: PortRule = PortRule {
        count: 0,
        _pad: 0,
        ranges: [PortRange::EMPTY; MAX_PORT_RANGES],
    };

    /// Adds a range; false when the rule is full.
    pub fn push(&mut self, range: PortRange) -> bool {
        let n = self.count as usize;
        if n >= MAX_PORT_RANGES {
            return false;
        }
        self.ranges[n] = range;
        self.count += 1;
        true
    }

    /// Whether `port` over `proto` is allowed in direction `dir`.
    #[inline(always)]
    pub fn allows(&self, port: u16, proto: u8, dir: u8) -> bool {
        let mut i = 0;
        // A bounded loop the eBPF verifier accepts.
        while i < MAX_PORT_RANGES {
            if i >= self.count as usize {
                return false;
            }
            let r = &self.ranges[i];
            if r.dirs & dir != 0
                && (r.proto == PROTO_ANY || r.proto == proto)
                && r.lo <= port
                && port <= r.hi
            {
                return true;
            }
            i += 1;
        }
        false
    }
}

/// Index of `RunConfig` fields in the `CONFIG` array map.
pub const CONFIG_INDEX: u32 = 0;

/// Per-run settings the programs read from the one-entry `CONFIG` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RunConfig {
    /// The run's cgroup v2 id (its inode number); 0 until attached.
    pub cgroup_id: u64,
    /// Depth of the run's cgroup below the cgroup2 root (root = 0), for
    /// `bpf_get_current_ancestor_cgroup_id`, so sub-cgroups stay in the run.
    pub cgroup_level: u32,
    /// 1: network refusals are only reported (observation, `warden learn`).
    pub observe_only: u32,
    /// 1: the syscall allowlist is enforced (after the run's first exec).
    pub syscalls_enforced: u32,
    /// Byte offsets inside kernel structs, read from the running kernel's BTF.
    /// `task_struct.pid`.
    pub off_task_pid: u32,
    /// `task_struct.tgid`.
    pub off_task_tgid: u32,
    /// `task_struct.exit_code`.
    pub off_task_exit_code: u32,
    /// `task_struct.real_parent`.
    pub off_task_real_parent: u32,
    /// `linux_binprm.filename`.
    pub off_binprm_filename: u32,
    /// `task_struct.thread_info.status` on x86-64, where `TS_COMPAT` marks a
    /// 32-bit (`int 0x80`) syscall whose number is from another table;
    /// `OFFSET_UNKNOWN` elsewhere.
    pub off_task_ti_status: u32,
    /// `pt_regs.orig_ax` (x86-64) / `pt_regs.syscallno` (arm64): the
    /// syscall number at `sys_exit`; `OFFSET_UNKNOWN` where neither exists.
    pub off_regs_syscall_nr: u32,
    /// 1: every successful open of the run, and the file each exec runs,
    /// is reported with its resolved path (`EVENT_FILE`): `warden learn`,
    /// and `warden exec --events`. 0 keeps opens free of any work.
    pub report_files: u32,
    /// Syscall numbers of the open family on this architecture (`open`,
    /// `openat`, `openat2`, `creat`); `u32::MAX` for one it lacks.
    pub open_nrs: [u32; 4],
    /// Offsets for resolving an open file's path (see `off_task_pid`).
    /// `task_struct.files`.
    pub off_task_files: u32,
    /// `files_struct.fdt`.
    pub off_files_fdt: u32,
    /// `fdtable.fd`.
    pub off_fdtable_fd: u32,
    /// `fdtable.max_fds`.
    pub off_fdtable_max_fds: u32,
    /// `file.f_path` + `path.mnt`.
    pub off_file_path_mnt: u32,
    /// `file.f_path` + `path.dentry`.
    pub off_file_path_dentry: u32,
    /// `file.f_mode`.
    pub off_file_f_mode: u32,
    /// `file.f_flags`.
    pub off_file_f_flags: u32,
    /// `linux_binprm.file`.
    pub off_binprm_file: u32,
    /// `dentry.d_parent`.
    pub off_dentry_parent: u32,
    /// `dentry.d_name` + `qstr.name`.
    pub off_dentry_name: u32,
    /// `vfsmount.mnt_root`.
    pub off_vfsmount_root: u32,
    /// `mount.mnt`: the `vfsmount` embedded in a `struct mount`.
    pub off_mount_mnt: u32,
    /// `mount.mnt_parent`.
    pub off_mount_parent: u32,
    /// `mount.mnt_mountpoint`.
    pub off_mount_mountpoint: u32,
    /// Refusal events (`refusal::RefusalRecord`): where the six syscall
    /// arguments are saved in `pt_regs` at `sys_exit` (x86-64: `di`, `si`,
    /// `dx`, `r10`, `r8`, `r9`; arm64: `orig_x0`, `regs[1..6]`), from the
    /// running kernel's BTF; `OFFSET_UNKNOWN` where it lacks them.
    pub off_regs_args: [u32; refusal::SYSCALL_ARGS],
    /// 1: every allowed connect, sendmsg and bind is reported (`EVENT_NET`);
    /// 0: only refused and observed ones, for a run whose events nobody
    /// reads (an allowed connect then costs no ring-buffer record).
    pub report_allowed_net: u32,
}

/// Bytes of the path buffer of a [`FileRecord`]: names are written from
/// offset 0 while the offset is below half of it, each at most half long.
pub const FILE_PATH_BUF: usize = 512;
/// Directory levels (mount crossings included) walked to resolve a path.
pub const FILE_PATH_DEPTH: u32 = 40;

/// `FileRecord::op`: a successful open of the run.
pub const FILE_OP_OPEN: u32 = 1;
/// `FileRecord::op`: the file an exec runs (after `#!`: the interpreter).
pub const FILE_OP_EXEC: u32 = 2;

/// `FileRecord::flags`: the walk reached the root (the path is complete).
pub const FILE_COMPLETE: u32 = 1;

/// `file.f_mode` bits: opened for reading, for writing.
pub const FMODE_READ: u32 = 1;
/// See [`FMODE_READ`].
pub const FMODE_WRITE: u32 = 2;
/// `O_PATH` in `file.f_flags`: a descriptor that reads and writes nothing.
pub const O_PATH: u32 = 0o10_000_000;
/// `O_DIRECTORY` in `file.f_flags`.
pub const O_DIRECTORY: u32 = 0o200_000;

/// One file of the run with its resolved path (`EVENT_FILE`). The path is
/// written leaf first: `"name/parent/…/top/"`, one name per `/`; user space
/// reverses it (a name never contains `/`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FileRecord {
    /// `EVENT_FILE`, at the same place as `EventRecord::kind`.
    pub kind: u32,
    /// Process (thread group) id.
    pub pid: u32,
    /// `FILE_OP_*`.
    pub op: u32,
    /// Open: the descriptor returned.
    pub fd: u32,
    /// `bpf_ktime_get_ns` when the event happened.
    pub time_ns: u64,
    /// `file.f_mode`.
    pub mode: u32,
    /// `file.f_flags`.
    pub f_flags: u32,
    /// Bytes of `path` used.
    pub len: u32,
    /// `FILE_COMPLETE` when the walk reached the root.
    pub flags: u32,
    /// The path, leaf first (see above).
    pub path: [u8; FILE_PATH_BUF],
}

/// An offset the running kernel's BTF does not have.
pub const OFFSET_UNKNOWN: u32 = u32::MAX;

/// x86 `TS_COMPAT` in `thread_info.status`: the current syscall is a 32-bit
/// one. Such a syscall is never on the allowlist (its number means
/// something else), so a confined process making one is killed.
pub const TS_COMPAT: u32 = 0x0002;

/// Index in `STATE` of the armed flag: set by the run's first exec, after
/// which the syscall allowlist applies.
pub const STATE_ARMED: u32 = 0;
/// Index in `STATE` of the count of events lost because the ring was full.
pub const STATE_LOST_EVENTS: u32 = 1;
/// Entries of `STATE`.
pub const STATE_LEN: u32 = 2;

/// `EventRecord::kind`: a process of the run executed a file.
pub const EVENT_EXEC: u32 = 1;
/// `EventRecord::kind`: a process of the run forked.
pub const EVENT_FORK: u32 = 2;
/// `EventRecord::kind`: a process of the run exited.
pub const EVENT_EXIT: u32 = 3;
/// `EventRecord::kind`: a connect, sendmsg or bind, allowed or refused.
pub const EVENT_NET: u32 = 4;
/// `EventRecord::kind`: a syscall outside the allowlist; the process was killed.
pub const EVENT_SYSCALL_KILL: u32 = 5;
/// A [`refusal::RefusalRecord`]: a syscall of the run failed with EPERM or
/// EACCES, the errors of a refusal by some layer (Landlock, seccomp, these
/// programs), with the path or address it named.
pub const EVENT_SYSCALL_REFUSED: u32 = 6;
/// A [`FileRecord`]: a file the run opened or executed.
pub const EVENT_FILE: u32 = 7;

/// `EventRecord::op` for `EVENT_NET`.
pub const NET_OP_CONNECT: u8 = 1;
/// `EventRecord::op` for `EVENT_NET`.
pub const NET_OP_SENDMSG: u8 = 2;
/// `EventRecord::op` for `EVENT_NET`.
pub const NET_OP_BIND: u8 = 3;

/// `EventRecord::verdict`: the operation was allowed.
pub const VERDICT_ALLOWED: u8 = 1;
/// `EventRecord::verdict`: the operation was refused (EPERM, or SIGKILL).
pub const VERDICT_REFUSED: u8 = 2;
/// `EventRecord::verdict`: outside the envelope, allowed because the run
/// only observes.
pub const VERDICT_OBSERVED: u8 = 3;

/// `AF_INET`.
pub const FAMILY_INET: u16 = 2;
/// `AF_INET6`.
pub const FAMILY_INET6: u16 = 10;

/// One event on the ring buffer. Fields a kind does not use are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EventRecord {
    /// One of the `EVENT_*` kinds.
    pub kind: u32,
    /// Process (thread group) id of the process the event is about.
    pub pid: u32,
    /// Fork: the child's pid. Exec: the parent's pid.
    pub other_pid: u32,
    /// Syscall kill: the syscall number. Exit: the wait status.
    pub number: u32,
    /// `bpf_ktime_get_ns` when the event happened.
    pub time_ns: u64,
    /// Net: `FAMILY_INET` or `FAMILY_INET6`.
    pub family: u16,
    /// Net: port in host byte order.
    pub port: u16,
    /// Net: `NET_OP_*`.
    pub op: u8,
    /// Net and syscall kill: `VERDICT_*`.
    pub verdict: u8,
    /// Net: IP protocol number (6 TCP, 17 UDP).
    pub proto: u8,
    /// Padding, always zero.
    pub _pad: u8,
    /// Net: the address, network byte order; IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    /// Exec: the file name, NUL-terminated. Other kinds: the task's `comm`.
    pub filename: [u8; FILENAME_LEN],
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` data with explicit padding fields, valid for
    // every bit pattern.
    unsafe impl aya::Pod for super::PortRange {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PortRule {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::RunConfig {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::EventRecord {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FileRecord {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(lo: u16, hi: u16, proto: u8, dirs: u8) -> PortRange {
        PortRange {
            lo,
            hi,
            proto,
            dirs,
            _pad: 0,
        }
    }

    #[test]
    fn empty_rule_allows_nothing() {
        assert!(!PortRule::EMPTY.allows(0, PROTO_TCP, DIR_CONNECT));
        assert!(!PortRule::EMPTY.allows(443, PROTO_UDP, DIR_BIND));
    }

    #[test]
    fn ranges_match_port_proto_and_direction() {
        let mut rule = PortRule::EMPTY;
        assert!(rule.push(range(8000, 8080, PROTO_TCP, DIR_CONNECT)));
        assert!(rule.push(range(53, 53, PROTO_UDP, DIR_CONNECT | DIR_BIND)));
        assert!(rule.allows(8000, PROTO_TCP, DIR_CONNECT));
        assert!(rule.allows(8080, PROTO_TCP, DIR_CONNECT));
        assert!(!rule.allows(8081, PROTO_TCP, DIR_CONNECT));
        assert!(!rule.allows(8000, PROTO_UDP, DIR_CONNECT));
        assert!(!rule.allows(8000, PROTO_TCP, DIR_BIND));
        assert!(rule.allows(53, PROTO_UDP, DIR_BIND));
        assert!(!rule.allows(53, PROTO_TCP, DIR_CONNECT));
    }

    #[test]
    fn push_refuses_past_capacity() {
        let mut rule = PortRule::EMPTY;
        for p in 0..MAX_PORT_RANGES as u16 {
            assert!(rule.push(range(p, p, PROTO_ANY, DIR_CONNECT)));
        }
        assert!(!rule.push(range(9, 9, PROTO_ANY, DIR_CONNECT)));
        assert_eq!(rule.count as usize, MAX_PORT_RANGES);
    }
}
