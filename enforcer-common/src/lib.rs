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
#![warn(missing_docs)]
#![no_std]

pub mod lsm;
pub mod refusal;

/// Most port ranges one prefix of the network envelope can carry.
pub const MAX_PORT_RANGES: usize = 16;
/// Entries in each LPM trie (IPv4, IPv6), all runs of the node.
pub const MAX_PREFIXES: u32 = 65536;
/// Entries of the refusal argument table: syscall numbers below this.
pub const MAX_SYSCALLS: u32 = 512;
/// Processes tracked for all runs of the node.
pub const MAX_RUN_PIDS: u32 = 65536;
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

/// Index of the [`NodeConfig`] in the one-entry `CONFIG` array map.
pub const CONFIG_INDEX: u32 = 0;

/// Runs one node can hold at once (entries of `RUNS` and `RUN_RINGS`).
pub const MAX_RUNS: u32 = 4096;

/// What every program of the node reads, written once when the node is
/// loaded: where run cgroups sit and the kernel struct offsets the programs
/// need, from the running kernel's BTF (nothing kernel-internal is compiled
/// in).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NodeConfig {
    /// Depth of every run's cgroup below the cgroup2 root (root = 0), for
    /// `bpf_get_current_ancestor_cgroup_id`: a task belongs to the run whose
    /// cgroup is its ancestor at this level (sub-cgroups stay in the run).
    pub run_level: u32,
    /// `task_struct.pid`.
    pub off_task_pid: u32,
    /// `task_struct.tgid`.
    pub off_task_tgid: u32,
    /// `task_struct.exit_code`.
    pub off_task_exit_code: u32,
    /// `task_struct.real_parent`.
    pub off_task_real_parent: u32,
    /// `task_struct.mm`.
    pub off_task_mm: u32,
    /// `mm_struct.arg_start`: where the new program's argument strings begin
    /// (at `sched_process_exec`, the exec's own).
    pub off_mm_arg_start: u32,
    /// `mm_struct.arg_end`.
    pub off_mm_arg_end: u32,
    /// `linux_binprm.filename`.
    pub off_binprm_filename: u32,
    /// `linux_binprm.file`.
    pub off_binprm_file: u32,
    /// `file.f_inode`.
    pub off_file_f_inode: u32,
    /// `inode.i_ino`.
    pub off_inode_i_ino: u32,
    /// `inode.i_sb`.
    pub off_inode_i_sb: u32,
    /// `super_block.s_dev`.
    pub off_sb_s_dev: u32,
    /// `bpf_sock_addr_kern.uaddr`: the kernel's copy of the address a
    /// connect or sendmsg names (the cgroup unix programs read a socket's
    /// path there).
    pub off_sock_addr_uaddr: u32,
    /// `bpf_sock_addr_kern.uaddrlen`.
    pub off_sock_addr_uaddrlen: u32,
    /// `task_struct.thread_info.status` on x86-64, where `TS_COMPAT` marks a
    /// 32-bit (`int 0x80`) syscall whose number is from another table;
    /// `OFFSET_UNKNOWN` elsewhere.
    pub off_task_ti_status: u32,
    /// `pt_regs.orig_ax` (x86-64) / `pt_regs.syscallno` (arm64): the
    /// syscall number at `sys_exit`; `OFFSET_UNKNOWN` where neither exists.
    pub off_regs_syscall_nr: u32,
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
    /// Padding, always zero.
    pub _pad: u32,
}

/// [`RunEntry::flags`]: operations outside the envelope are reported, not
/// refused (observation, `warden learn`).
pub const RUN_OBSERVE_ONLY: u32 = 1;
/// [`RunEntry::flags`]: every successful open of the run, and the file each
/// exec runs, is reported with its resolved path (`EVENT_FILE`).
pub const RUN_REPORT_FILES: u32 = 1 << 1;
/// [`RunEntry::flags`]: every allowed connect, sendmsg and bind is reported
/// too (`EVENT_NET`), not only refused ones.
pub const RUN_REPORT_ALLOWED_NET: u32 = 1 << 2;
/// [`RunEntry::flags`]: syscalls of the run that fail with EPERM or EACCES
/// are reported (the `sys_exit` program is attached while such a run lives).
pub const RUN_REPORT_SYSCALLS: u32 = 1 << 3;
/// [`RunEntry::flags`]: a program that `EXEC_PROGRAMS` does not list is left
/// to Landlock (the envelope grants programs by directory tree); without it,
/// an exec of an unlisted file is killed.
pub const RUN_EXEC_TREES: u32 = 1 << 4;
/// [`RunEntry::flags`]: the BPF LSM hooks apply to the run.
pub const RUN_LSM: u32 = 1 << 5;

/// One run of the node, `RUNS[cgroup id]`. A task belongs to a run when its
/// cgroup's ancestor at [`NodeConfig::run_level`] is the run's cgroup.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RunEntry {
    /// `RUN_*` bits.
    pub flags: u32,
    /// The process that holds the run's entries (`warden exec`): while it
    /// lives, the entries are its to take out, even after the run's cgroup
    /// is gone (it still reads the counters).
    pub owner: u32,
    /// Events lost because the run's ring was full (a reader too slow).
    pub lost_events: u64,
    /// Operations the programs refused (or, observing, would have).
    pub refusals: u64,
}

/// A process of a run, `RUN_PIDS[pid]` (thread group id).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RunPid {
    /// The run's cgroup id.
    pub run: u64,
    /// The parent's thread group id.
    pub ppid: u32,
    /// Padding, always zero.
    pub _pad: u32,
}

/// Bytes of a run key (the run's cgroup id, big-endian) at the front of the
/// LPM trie keys, so that a trie holds every run's entries and a lookup
/// never leaves its own run's prefix.
pub const RUN_KEY_LEN: usize = 8;

/// `NET_V4` key data: run key, then the IPv4 address.
pub type NetKeyV4 = [u8; RUN_KEY_LEN + 4];
/// `NET_V6` key data: run key, then the IPv6 address.
pub type NetKeyV6 = [u8; RUN_KEY_LEN + 16];

/// The run key followed by `addr`: the data of an LPM key whose prefix
/// length is `8 * RUN_KEY_LEN` + the address's prefix length.
#[inline(always)]
pub fn run_keyed<const N: usize, const M: usize>(run: u64, addr: &[u8; N]) -> [u8; M] {
    let mut out = [0u8; M];
    let id = run.to_be_bytes();
    let mut i = 0;
    while i < RUN_KEY_LEN && i < M {
        out[i] = id[i];
        i += 1;
    }
    let mut j = 0;
    while j < N && RUN_KEY_LEN + j < M {
        out[RUN_KEY_LEN + j] = addr[j];
        j += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Exec: programs by inode, argv exactly.
// ---------------------------------------------------------------------------

/// Bytes of a program's arguments (after the kernel's `argv[0]`, NULs
/// included) that the exec check reads; an exec whose arguments are longer
/// is refused where the program's arguments are checked.
pub const ARGV_MAX: usize = 4096;
/// Entries of `EXEC_PROGRAMS` (all runs).
pub const MAX_EXEC_PROGRAMS: u32 = 16384;
/// Entries of `EXEC_ARGV` (all runs).
pub const MAX_EXEC_ARGV: u32 = 16384;

/// A program of a run by the file the kernel executes: `EXEC_PROGRAMS` key.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExecKey {
    /// The run's cgroup id.
    pub run: u64,
    /// `inode->i_sb->s_dev`, the kernel's encoding (`major << 20 | minor`).
    pub dev: u64,
    /// `inode->i_ino`.
    pub ino: u64,
}

/// [`ExecRule::flags`]: any arguments.
pub const EXEC_ANY_ARGS: u32 = 1;
/// [`ExecRule::flags`]: `EXEC_ARGV` holds argument lists it may run with
/// exactly (`ARGV_EXACT`).
pub const EXEC_EXACT_ARGS: u32 = 1 << 1;
/// [`ExecRule::flags`]: never (the ELF loader run directly); also what a
/// program that is not listed gets, unless the run has `RUN_EXEC_TREES`.
pub const EXEC_NEVER: u32 = 1 << 2;
/// Distinct prefix lengths one program's rule carries.
pub const EXEC_PREFIXES: usize = 4;

/// `EXEC_PROGRAMS` value: how a program may be run.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ExecRule {
    /// `EXEC_*` bits; a rule with no bit that lets it run refuses.
    pub flags: u32,
    /// Used entries of `prefix_lens`.
    pub prefix_count: u32,
    /// Byte lengths of the argument prefixes `EXEC_ARGV` holds for the
    /// program (`ARGV_PREFIX`: a `#!` script run by this interpreter, its
    /// path and the interpreter's argument from the `#!` line first, then
    /// any arguments). Each ends with its last argument's NUL.
    pub prefix_lens: [u32; EXEC_PREFIXES],
}

/// [`ArgvKey::kind`]: the whole argument list.
pub const ARGV_EXACT: u32 = 1;
/// [`ArgvKey::kind`]: the first arguments; more may follow.
pub const ARGV_PREFIX: u32 = 2;

/// `EXEC_ARGV` key: an argument list (or prefix) of a program of a run, by
/// its length and [`argv_hash`]; the value holds the bytes, compared in
/// full (the hash only finds the candidate).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ArgvKey {
    /// The run's cgroup id.
    pub run: u64,
    /// The program's `s_dev`.
    pub dev: u64,
    /// The program's inode number.
    pub ino: u64,
    /// [`argv_hash`] of the bytes.
    pub hash: u64,
    /// Bytes (every argument followed by its NUL).
    pub len: u32,
    /// `ARGV_EXACT` or `ARGV_PREFIX`.
    pub kind: u32,
}

/// `EXEC_ARGV` value: the arguments, each followed by its NUL, as the kernel
/// lays them out in the new program's memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgvValue {
    /// Bytes of `bytes` used.
    pub len: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// The arguments; zero after `len`.
    pub bytes: [u8; ARGV_MAX],
}

/// The seed of [`argv_hash`].
pub const ARGV_HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// One step of [`argv_hash`]: mixes a little-endian 8-byte word in.
#[inline(always)]
pub fn argv_hash_step(h: u64, word: u64) -> u64 {
    let x = (h ^ word).wrapping_mul(0x0000_0100_0000_01b3);
    x ^ (x >> 29)
}

/// The hash `EXEC_ARGV` keys carry: [`argv_hash_step`] over the bytes as
/// little-endian 8-byte words, the last one zero-padded. Not a defence: the
/// kernel side compares the bytes after the lookup.
pub fn argv_hash(bytes: &[u8]) -> u64 {
    let mut h = ARGV_HASH_SEED;
    let mut i = 0;
    while i < bytes.len() {
        let mut w = [0u8; 8];
        let mut j = 0;
        while j < 8 && i + j < bytes.len() {
            w[j] = bytes[i + j];
            j += 1;
        }
        h = argv_hash_step(h, u64::from_le_bytes(w));
        i += 8;
    }
    h
}

// ---------------------------------------------------------------------------
// Pathname unix sockets.
// ---------------------------------------------------------------------------

/// Bytes of `sockaddr_un.sun_path`.
pub const UNIX_PATH_MAX: usize = 108;
/// `UNIX_PATHS` key data: run key, then the path. An exact path is stored
/// with its NUL (it matches only itself), a tree with a trailing `/` (it
/// matches everything below).
pub type UnixKey = [u8; RUN_KEY_LEN + UNIX_PATH_MAX + 1];
/// Entries of `UNIX_PATHS` (all runs).
pub const MAX_UNIX_PATHS: u32 = 16384;
/// `UNIX_PATHS` value bit: `connect` to the socket.
pub const UNIX_CONNECT: u32 = 1;
/// `UNIX_PATHS` value bit: a datagram sent to the socket by name.
pub const UNIX_SENDMSG: u32 = 1 << 1;

/// Whether a socket path is in the form the unix programs match: absolute,
/// no empty, `.` or `..` segment, no trailing `/` (the reference for the
/// kernel side, which refuses every other form).
pub fn unix_path_is_plain(path: &[u8]) -> bool {
    if path.is_empty() || path[0] != b'/' || path.len() > UNIX_PATH_MAX {
        return false;
    }
    if path.len() == 1 {
        return true;
    }
    if path[path.len() - 1] == b'/' {
        return false;
    }
    path[1..]
        .split(|&b| b == b'/')
        .all(|seg| !seg.is_empty() && seg != b"." && seg != b".." && !seg.contains(&0))
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
/// `FMODE_CREATED` in `file.f_mode`: this open created the file (`O_CREAT`
/// on a name that did not exist). The kernel's bit since Linux 4.19.
pub const FMODE_CREATED: u32 = 1 << 20;
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
/// one, whose number and arguments follow another table (seccomp kills the
/// process for it; a refusal event names nothing for it).
pub const TS_COMPAT: u32 = 0x0002;

/// An [`ExecRecord`]: a process of the run executed a file, or was killed
/// for an exec outside the envelope.
pub const EVENT_EXEC: u32 = 1;
/// `EventRecord::kind`: a process of the run forked.
pub const EVENT_FORK: u32 = 2;
/// `EventRecord::kind`: a process of the run exited.
pub const EVENT_EXIT: u32 = 3;
/// `EventRecord::kind`: a connect, sendmsg or bind, allowed or refused.
pub const EVENT_NET: u32 = 4;
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

/// `AF_UNIX`: a pathname unix socket; the path is in `EventRecord::filename`.
pub const FAMILY_UNIX: u16 = 1;
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
    /// Exit: the wait status.
    pub number: u32,
    /// `bpf_ktime_get_ns` when the event happened.
    pub time_ns: u64,
    /// Net: `FAMILY_INET`, `FAMILY_INET6` or `FAMILY_UNIX`.
    pub family: u16,
    /// Net: port in host byte order.
    pub port: u16,
    /// Net: `NET_OP_*`.
    pub op: u8,
    /// Net: `VERDICT_*`.
    pub verdict: u8,
    /// Net: IP protocol number (6 TCP, 17 UDP).
    pub proto: u8,
    /// Padding, always zero.
    pub _pad: u8,
    /// Net: the address, network byte order; IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    /// Unix net: the socket's path as the caller named it, NUL-terminated.
    /// Other kinds: the task's `comm`.
    pub filename: [u8; FILENAME_LEN],
}

/// Bytes of a program's arguments an [`ExecRecord`] carries.
pub const EXEC_ARGS_REPORT: usize = 512;

/// [`ExecRecord::reason`]: the program is not one the run may execute.
pub const EXEC_REFUSED_PROGRAM: u32 = 1;
/// [`ExecRecord::reason`]: the program may run, but not with these arguments.
pub const EXEC_REFUSED_ARGV: u32 = 2;
/// [`ExecRecord::reason`]: the arguments are longer than `ARGV_MAX` (or
/// could not be read), and the program's arguments are checked.
pub const EXEC_REFUSED_ARGV_UNREADABLE: u32 = 3;

/// An exec of a process of the run (`EVENT_EXEC`), allowed or killed
/// before the new program's first instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecRecord {
    /// `EVENT_EXEC`, at the same place as `EventRecord::kind`.
    pub kind: u32,
    /// Process (thread group) id.
    pub pid: u32,
    /// The parent's pid.
    pub ppid: u32,
    /// `VERDICT_ALLOWED`, `VERDICT_REFUSED` (killed) or `VERDICT_OBSERVED`.
    pub verdict: u32,
    /// `bpf_ktime_get_ns` when it happened.
    pub time_ns: u64,
    /// The executed file's `s_dev` (kernel encoding) and inode number.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// Refused: an `EXEC_REFUSED_*` reason; 0 otherwise.
    pub reason: u32,
    /// Bytes of the arguments (after the kernel's `argv[0]`) in memory.
    pub args_len: u32,
    /// The file name as the exec named it (`linux_binprm.filename`).
    pub filename: [u8; FILENAME_LEN],
    /// The first `EXEC_ARGS_REPORT` bytes of the arguments, each followed by
    /// its NUL.
    pub args: [u8; EXEC_ARGS_REPORT],
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` data with explicit padding fields, valid for
    // every bit pattern.
    unsafe impl aya::Pod for super::PortRange {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PortRule {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::NodeConfig {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::RunEntry {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::RunPid {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ExecKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ExecRule {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ArgvKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ArgvValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ExecRecord {}
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
    fn run_keys_put_the_run_first_big_endian() {
        let key: NetKeyV4 = run_keyed(0x0102_0304_0506_0708, &[10, 0, 0, 1]);
        assert_eq!(key, [1, 2, 3, 4, 5, 6, 7, 8, 10, 0, 0, 1]);
    }

    #[test]
    fn argv_hashes_words_and_the_zero_padded_tail() {
        assert_eq!(argv_hash(b""), ARGV_HASH_SEED);
        let a = argv_hash(b"build\0");
        assert_ne!(a, argv_hash(b"publish\0"));
        // The tail is zero-padded: one more NUL changes nothing but the
        // length, which the map key carries beside the hash.
        assert_eq!(argv_hash(b"build\0"), argv_hash(b"build\0\0"));
        let mut w = [0u8; 8];
        w[..6].copy_from_slice(b"build\0");
        assert_eq!(a, argv_hash_step(ARGV_HASH_SEED, u64::from_le_bytes(w)));
    }

    #[test]
    fn plain_unix_paths() {
        for ok in ["/", "/run/x.sock", "/a/b/c", "/a/.hidden", "/a/..b"] {
            assert!(unix_path_is_plain(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "x.sock", "./x", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/a/", "/a\0b",
        ] {
            assert!(!unix_path_is_plain(bad.as_bytes()), "{bad:?}");
        }
        assert!(!unix_path_is_plain(&[b'/'; UNIX_PATH_MAX + 1]));
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
