//! The kernel side of Warden's enforcer: the eBPF programs of one run.
//!
//! - `connect4`, `connect6`, `sendmsg4`, `sendmsg6`, `bind4`, `bind6`
//!   (cgroup sock_addr, attached to the run's cgroup): allow an address and
//!   port only when the network envelope in the LPM tries `NET_V4` / `NET_V6`
//!   names it; otherwise return 0, which the kernel turns into EPERM. An
//!   IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked up in `NET_V4`.
//! - `sys_enter`, `sched_process_exec`, `sched_process_fork`,
//!   `sched_process_exit` (tp_btf, with raw_tp twins for kernels without
//!   tp_btf): scoped to the run by its cgroup id; the syscall allowlist
//!   (SIGKILL on a syscall outside it, after the run's first exec),
//!   process-tree tracking in `RUN_PIDS`, and events on the `EVENTS` ring.
//! - `sys_exit` (same): a syscall of the run that failed with EPERM or
//!   EACCES is reported with the path(s), directory descriptor(s) or socket
//!   address its arguments named (`REFUSAL_ARGS` says which argument holds
//!   what; the argument registers' offsets come with the configuration).
//!
//! Every layout shared with user space comes from `enforcer-common`. Kernel
//! struct fields are read at offsets user space takes from the running
//! kernel's BTF (`RunConfig::off_*`); nothing kernel-internal is compiled in.
#![no_std]
#![no_main]

mod lsm;

use aya_ebpf::{
    helpers::{
        bpf_get_current_ancestor_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_ktime_get_ns, bpf_probe_read_kernel,
        bpf_probe_read_kernel_str_bytes, bpf_probe_read_user, bpf_send_signal,
        generated::{self, bpf_get_current_comm as get_comm_into, bpf_probe_read_kernel_str},
    },
    macros::{btf_tracepoint, cgroup_sock_addr, map, raw_tracepoint},
    maps::{Array, HashMap, LpmTrie, RingBuf, lpm_trie::Key},
    programs::{BtfTracePointContext, RawTracePointContext, SockAddrContext},
};
use enforcer_common::{
    CONFIG_INDEX, DIR_BIND, DIR_CONNECT, EVENT_EXEC, EVENT_EXIT, EVENT_FILE, EVENT_FORK, EVENT_NET,
    EVENT_RING_BYTES, EVENT_SYSCALL_KILL, EVENT_SYSCALL_REFUSED, EventRecord, FAMILY_INET,
    FAMILY_INET6, FILE_COMPLETE, FILE_OP_EXEC, FILE_OP_OPEN, FILE_PATH_BUF, FILE_PATH_DEPTH,
    FileRecord, MAX_PREFIXES, MAX_RUN_PIDS, MAX_SYSCALLS, NET_OP_BIND, NET_OP_CONNECT,
    NET_OP_SENDMSG, OFFSET_UNKNOWN, PortRule, RunConfig, STATE_ARMED, STATE_LEN, STATE_LOST_EVENTS,
    TS_COMPAT, VERDICT_ALLOWED, VERDICT_OBSERVED, VERDICT_REFUSED,
    refusal::{
        ArgSpec, FOUND_COMPAT, FOUND_DIRFD, FOUND_NEW_DIRFD, FOUND_NEW_PATH, FOUND_PATH,
        FOUND_SOCKADDR, FOUND_TRUNCATED, MSGHDR_NAME, MSGHDR_NAMELEN, REFUSED_PATH_BUF,
        RefusalRecord, SOCKADDR_BUF,
    },
};

/// The IPv4 network envelope: prefix → allowed port ranges.
#[map]
static NET_V4: LpmTrie<[u8; 4], PortRule> = LpmTrie::with_max_entries(MAX_PREFIXES, 0);

/// The IPv6 network envelope: prefix → allowed port ranges.
#[map]
static NET_V6: LpmTrie<[u8; 16], PortRule> = LpmTrie::with_max_entries(MAX_PREFIXES, 0);

/// The run's settings (one entry, `CONFIG_INDEX`).
#[map]
static CONFIG: Array<RunConfig> = Array::with_max_entries(1, 0);

/// Syscall allowlist: entry `nr` is 1 when syscall `nr` is allowed.
#[map]
static SYSCALLS: Array<u8> = Array::with_max_entries(MAX_SYSCALLS, 0);

/// Run state: `STATE_ARMED`, `STATE_LOST_EVENTS`.
#[map]
static STATE: Array<u64> = Array::with_max_entries(STATE_LEN, 0);

/// The run's processes: pid (thread group id) → parent pid.
#[map]
static RUN_PIDS: HashMap<u32, u32> = HashMap::with_max_entries(MAX_RUN_PIDS, 0);

/// Refusal events: syscall number → where its arguments name what was
/// refused (`refusal::ArgSpec` bits), written by user space.
#[map]
static REFUSAL_ARGS: Array<u32> = Array::with_max_entries(MAX_SYSCALLS, 0);

/// Events to user space.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENT_RING_BYTES, 0);

const SIGKILL: u32 = 9;
/// `BPF_RB_NO_WAKEUP`: submit without waking a reader blocked in poll.
const BPF_RB_NO_WAKEUP: u64 = 1;
const MAPPED_V4_PREFIX: u32 = u32::from_ne_bytes([0, 0, 0xff, 0xff]);

#[inline(always)]
fn config() -> Option<&'static RunConfig> {
    CONFIG.get(CONFIG_INDEX)
}

/// Whether the current task belongs to the run: its cgroup, or a cgroup
/// below it, is the run's cgroup.
#[inline(always)]
fn in_run(cfg: &RunConfig) -> bool {
    if cfg.cgroup_id == 0 {
        return false;
    }
    // SAFETY: a helper without memory arguments.
    let id = unsafe { bpf_get_current_ancestor_cgroup_id(cfg.cgroup_level as i32) };
    id == cfg.cgroup_id
}

#[inline(always)]
fn count_lost_event() {
    if let Some(lost) = STATE.get_ptr_mut(STATE_LOST_EVENTS) {
        // SAFETY: a valid pointer into the array map; the count is advisory.
        unsafe { *lost += 1 };
    }
}

/// Reserves an event with its common fields filled in; `None` (and a lost
/// event counted) when the ring is full.
#[inline(always)]
fn new_event(kind: u32, pid: u32) -> Option<aya_ebpf::maps::ring_buf::RingBufEntry<EventRecord>> {
    let Some(mut entry) = EVENTS.reserve::<EventRecord>(0) else {
        count_lost_event();
        return None;
    };
    let e = entry.as_mut_ptr();
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
    Some(entry)
}

/// Writes the task's command name where an exec event carries its file name.
#[inline(always)]
fn put_comm(e: *mut EventRecord) {
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
fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

// ---------------------------------------------------------------------------
// Network: cgroup sock_addr programs.
// ---------------------------------------------------------------------------

/// Reads a 32-bit context field with one 4-byte load, the access size the
/// verifier accepts for every `bpf_sock_addr` field.
#[inline(always)]
fn ctx_u32(field: *const u32) -> u32 {
    // SAFETY: `field` points into the program's context.
    unsafe { core::ptr::read_volatile(field) }
}

/// Decides one sock_addr hook: 1 lets the call through, 0 refuses it (EPERM).
#[inline(always)]
fn sock_addr_verdict(ctx: &SockAddrContext, v6: bool, op: u8) -> i32 {
    let sa = ctx.sock_addr;
    let dir = if op == NET_OP_BIND {
        DIR_BIND
    } else {
        DIR_CONNECT
    };
    // SAFETY: the fields below are read with 4-byte loads from the context.
    let (port_raw, proto) = unsafe {
        (
            ctx_u32(&raw const (*sa).user_port),
            ctx_u32(&raw const (*sa).protocol),
        )
    };
    // The port is in network byte order in the low 16 bits.
    let port = u16::from_be(port_raw as u16);
    let proto = proto as u8;

    let mut addr = [0u8; 16];
    let mut family = FAMILY_INET;
    // The rule for the address, then one port check (one copy of the
    // port loop for the verifier to walk).
    let rule = if v6 {
        // SAFETY: four 4-byte loads of `user_ip6`.
        let w = unsafe {
            [
                ctx_u32(&raw const (*sa).user_ip6[0]),
                ctx_u32(&raw const (*sa).user_ip6[1]),
                ctx_u32(&raw const (*sa).user_ip6[2]),
                ctx_u32(&raw const (*sa).user_ip6[3]),
            ]
        };
        // One comparison, not three: each `&&` would be a branch after which
        // the kernel verifier knows something different about the words,
        // and it would verify all that follows once per branch.
        if (w[0] | w[1] | (w[2] ^ MAPPED_V4_PREFIX)) == 0 {
            // ::ffff:a.b.c.d reaches a.b.c.d: the IPv4 envelope decides.
            let v4 = w[3].to_ne_bytes();
            addr[..4].copy_from_slice(&v4);
            rule_v4(v4)
        } else {
            family = FAMILY_INET6;
            let mut i = 0;
            while i < 4 {
                let b = w[i].to_ne_bytes();
                addr[i * 4] = b[0];
                addr[i * 4 + 1] = b[1];
                addr[i * 4 + 2] = b[2];
                addr[i * 4 + 3] = b[3];
                i += 1;
            }
            NET_V6.get(Key::new(128, addr))
        }
    } else {
        // SAFETY: one 4-byte load of `user_ip4`.
        let v4 = unsafe { ctx_u32(&raw const (*sa).user_ip4) }.to_ne_bytes();
        addr[..4].copy_from_slice(&v4);
        rule_v4(v4)
    };
    let allowed = rule.is_some_and(|r| r.allows(port, proto, dir));

    let cfg = config();
    let observe = cfg.is_some_and(|c| c.observe_only != 0);
    let verdict = if allowed {
        VERDICT_ALLOWED
    } else if observe {
        VERDICT_OBSERVED
    } else {
        VERDICT_REFUSED
    };
    if verdict == VERDICT_ALLOWED && cfg.is_none_or(|c| c.report_allowed_net == 0) {
        return 1;
    }
    if let Some(mut entry) = new_event(EVENT_NET, current_tgid()) {
        let e = entry.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe {
            (*e).family = family;
            (*e).port = port;
            (*e).op = op;
            (*e).verdict = verdict;
            (*e).proto = proto;
            (*e).addr = addr;
        }
        put_comm(e);
        // An allowed operation is routine: do not wake the reader for it
        // (it picks the event up at its next wake-up or poll timeout), so a
        // busy run does not pay a context switch per connect.
        let flags = if verdict == VERDICT_ALLOWED {
            BPF_RB_NO_WAKEUP
        } else {
            0
        };
        entry.submit(flags);
    }
    if verdict == VERDICT_REFUSED { 0 } else { 1 }
}

#[inline(always)]
fn rule_v4(addr: [u8; 4]) -> Option<&'static PortRule> {
    NET_V4.get(Key::new(32, addr))
}

/// TCP connect and UDP connect over IPv4.
#[cgroup_sock_addr(connect4)]
pub fn connect4(ctx: SockAddrContext) -> i32 {
    sock_addr_verdict(&ctx, false, NET_OP_CONNECT)
}

/// TCP connect and UDP connect over IPv6 (and IPv4-mapped addresses).
#[cgroup_sock_addr(connect6)]
pub fn connect6(ctx: SockAddrContext) -> i32 {
    sock_addr_verdict(&ctx, true, NET_OP_CONNECT)
}

/// UDP `sendto`/`sendmsg` with a destination address, IPv4.
#[cgroup_sock_addr(sendmsg4)]
pub fn sendmsg4(ctx: SockAddrContext) -> i32 {
    sock_addr_verdict(&ctx, false, NET_OP_SENDMSG)
}

/// UDP `sendto`/`sendmsg` with a destination address, IPv6.
#[cgroup_sock_addr(sendmsg6)]
pub fn sendmsg6(ctx: SockAddrContext) -> i32 {
    sock_addr_verdict(&ctx, true, NET_OP_SENDMSG)
}

/// `bind` over IPv4.
#[cgroup_sock_addr(bind4)]
pub fn bind4(ctx: SockAddrContext) -> i32 {
    sock_addr_verdict(&ctx, false, NET_OP_BIND)
}

/// `bind` over IPv6.
#[cgroup_sock_addr(bind6)]
pub fn bind6(ctx: SockAddrContext) -> i32 {
    sock_addr_verdict(&ctx, true, NET_OP_BIND)
}

// ---------------------------------------------------------------------------
// Syscalls and processes: tp_btf programs, raw_tp twins.
// ---------------------------------------------------------------------------

/// Reads a kernel value at `base + offset`; 0 when unreadable.
#[inline(always)]
fn read_at<T: Copy + Default>(base: u64, offset: u32) -> T {
    if base == 0 {
        return T::default();
    }
    // SAFETY: bpf_probe_read_kernel checks the address.
    unsafe { bpf_probe_read_kernel((base + offset as u64) as *const T) }.unwrap_or_default()
}

/// `sys_enter(struct pt_regs *regs, long id)`: a syscall of a process of the
/// run outside the allowlist kills the process (after the run's first exec,
/// so the launcher can finish setting up).
#[inline(always)]
fn on_sys_enter(id: u64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    if cfg.syscalls_enforced == 0 || !in_run(cfg) {
        return 0;
    }
    if STATE.get(STATE_ARMED).is_none_or(|armed| *armed == 0) {
        return 0;
    }
    let nr = id as i64;
    // A 32-bit syscall numbers from another table: never allowed.
    let compat = cfg.off_task_ti_status != OFFSET_UNKNOWN && {
        // SAFETY: a helper without arguments.
        let task = unsafe { bpf_get_current_task() };
        let status: u32 = read_at(task, cfg.off_task_ti_status);
        status & TS_COMPAT != 0
    };
    let allowed = !compat
        && nr >= 0
        && nr < MAX_SYSCALLS as i64
        && SYSCALLS.get(nr as u32).is_some_and(|allow| *allow != 0);
    if allowed {
        return 0;
    }
    // SAFETY: a helper without memory arguments; signals the current process.
    unsafe { bpf_send_signal(SIGKILL) };
    if let Some(mut entry) = new_event(EVENT_SYSCALL_KILL, current_tgid()) {
        let e = entry.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe {
            (*e).number = nr as u32;
            (*e).verdict = VERDICT_REFUSED;
        }
        put_comm(e);
        entry.submit(0);
    }
    0
}

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct
/// linux_binprm *bprm)`: arms the run and reports the file executed.
#[inline(always)]
fn on_exec(task: u64, bprm: u64, files: bool) -> i32 {
    let Some(cfg) = config() else { return 0 };
    if !in_run(cfg) {
        return 0;
    }
    if let Some(armed) = STATE.get_ptr_mut(STATE_ARMED) {
        // SAFETY: a valid pointer into the array map.
        unsafe { *armed = 1 };
    }
    let pid = current_tgid();
    let parent: u64 = read_at(task, cfg.off_task_real_parent);
    let ppid: i32 = read_at(parent, cfg.off_task_tgid);
    let _ = RUN_PIDS.insert(pid, ppid as u32, 0);
    if let Some(mut entry) = new_event(EVENT_EXEC, pid) {
        let e = entry.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe { (*e).other_pid = ppid as u32 };
        let filename: u64 = read_at(bprm, cfg.off_binprm_filename);
        // SAFETY: bpf_probe_read_kernel_str checks the source; the
        // destination is the record's own buffer.
        let read =
            unsafe { bpf_probe_read_kernel_str_bytes(filename as *const u8, &mut (*e).filename) };
        if read.is_err() {
            put_comm(e);
        }
        entry.submit(0);
    }
    if files && cfg.report_files != 0 {
        let file: u64 = read_at(bprm, cfg.off_binprm_file);
        report_file(cfg, pid, FILE_OP_EXEC, u32::MAX, file);
    }
    0
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct
/// *child)`: a new process of the run (threads are not reported).
#[inline(always)]
fn on_fork(child: u64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    if !in_run(cfg) {
        return 0;
    }
    let child_pid: i32 = read_at(child, cfg.off_task_pid);
    let child_tgid: i32 = read_at(child, cfg.off_task_tgid);
    if child_pid != child_tgid {
        return 0;
    }
    let parent = current_tgid();
    let child = child_tgid as u32;
    let _ = RUN_PIDS.insert(child, parent, 0);
    if let Some(mut entry) = new_event(EVENT_FORK, parent) {
        let e = entry.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe { (*e).other_pid = child };
        put_comm(e);
        entry.submit(0);
    }
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`: a process of the run
/// ended (reported when its main thread exits).
#[inline(always)]
fn on_exit(task: u64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    if !in_run(cfg) {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tgid, pid) = ((pid_tgid >> 32) as u32, pid_tgid as u32);
    if pid != tgid {
        return 0;
    }
    let _ = RUN_PIDS.remove(tgid);
    let code: i32 = read_at(task, cfg.off_task_exit_code);
    if let Some(mut entry) = new_event(EVENT_EXIT, tgid) {
        let e = entry.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe { (*e).number = code as u32 };
        put_comm(e);
        entry.submit(0);
    }
    0
}

/// `sys_exit(struct pt_regs *regs, long ret)`: a syscall of the run that
/// failed with EPERM or EACCES, whichever layer refused it, is reported with
/// what it named (`report_refusal`).
#[inline(always)]
fn on_sys_exit(regs: u64, ret: i64, files: bool) -> i32 {
    const EPERM: i64 = 1;
    const EACCES: i64 = 13;
    if ret >= 0 {
        return if files { on_success(regs, ret) } else { 0 };
    }
    if ret != -EPERM && ret != -EACCES {
        return 0;
    }
    let Some(cfg) = config() else { return 0 };
    if !in_run(cfg) || cfg.off_regs_syscall_nr == OFFSET_UNKNOWN {
        return 0;
    }
    let nr: u64 = read_at(regs, cfg.off_regs_syscall_nr);
    report_refusal(cfg, regs, nr, (-ret) as u32);
    0
}

/// Argument `arg` (0-based) of the syscall whose registers `regs` saved;
/// `None` for no argument, or where the kernel's BTF lacks the registers
/// (offset 0 is never an argument register, and is what an unfilled
/// configuration holds).
#[inline(always)]
fn syscall_arg(cfg: &RunConfig, regs: u64, arg: Option<u32>) -> Option<u64> {
    let off = *cfg.off_regs_args.get(arg? as usize)?;
    if off == 0 || off == OFFSET_UNKNOWN {
        return None;
    }
    Some(read_at(regs, off))
}

/// Copies the user string at `ptr` into `buf`; the `FOUND_*` bits to set
/// (`found` when read, plus `FOUND_TRUNCATED` when it filled the buffer).
#[inline(always)]
fn read_user_path(ptr: u64, buf: &mut [u8; REFUSED_PATH_BUF], found: u32) -> u32 {
    if ptr == 0 {
        return 0;
    }
    // SAFETY: the helper checks the user address and writes at most the
    // buffer's size into the record's own buffer.
    let n = unsafe {
        generated::bpf_probe_read_user_str(
            buf.as_mut_ptr().cast(),
            REFUSED_PATH_BUF as u32,
            ptr as *const core::ffi::c_void,
        )
    };
    if n <= 0 {
        buf[0] = 0;
        return 0;
    }
    if n as usize >= REFUSED_PATH_BUF {
        found | FOUND_TRUNCATED
    } else {
        found
    }
}

/// Sends a `RefusalRecord` for syscall `nr` of the current process that
/// failed with `errno`: the path(s), directory descriptor(s) or socket
/// address its arguments named, as `REFUSAL_ARGS` says where to find them.
/// Runs only for a failed syscall of the run: a few bounded copies, no loop.
#[inline(always)]
fn report_refusal(cfg: &RunConfig, regs: u64, nr: u64, errno: u32) {
    let Some(mut entry) = EVENTS.reserve::<RefusalRecord>(0) else {
        count_lost_event();
        return;
    };
    let e = entry.as_mut_ptr();
    // A 32-bit syscall numbers from another table and passes its arguments
    // in other registers: name nothing rather than something wrong.
    let compat = cfg.off_task_ti_status != OFFSET_UNKNOWN && {
        // SAFETY: a helper without arguments.
        let task = unsafe { bpf_get_current_task() };
        let status: u32 = read_at(task, cfg.off_task_ti_status);
        status & TS_COMPAT != 0
    };
    let spec = if compat {
        ArgSpec::NONE
    } else if nr < MAX_SYSCALLS as u64 {
        REFUSAL_ARGS
            .get(nr as u32)
            .map_or(ArgSpec::NONE, |bits| ArgSpec(*bits))
    } else {
        ArgSpec::NONE
    };
    // SAFETY: `e` points at a reserved record; every field user space reads
    // is written below (the buffers up to their NUL or `sockaddr_len`).
    unsafe {
        (*e).kind = EVENT_SYSCALL_REFUSED;
        (*e).pid = current_tgid();
        (*e).nr = nr as u32;
        (*e).errno = errno;
        (*e).time_ns = bpf_ktime_get_ns();
        (*e).comm = [0; 16];
        get_comm_into((*e).comm.as_mut_ptr().cast(), 16);
        (*e).dirfd = 0;
        (*e).new_dirfd = 0;
        (*e).sockaddr_len = 0;
        (*e).path[0] = 0;
        (*e).new_path[0] = 0;
        let mut found = if compat { FOUND_COMPAT } else { 0 };
        if let Some(ptr) = syscall_arg(cfg, regs, spec.path_arg()) {
            found |= read_user_path(ptr, &mut (*e).path, FOUND_PATH);
        }
        if let Some(ptr) = syscall_arg(cfg, regs, spec.new_path_arg()) {
            found |= read_user_path(ptr, &mut (*e).new_path, FOUND_NEW_PATH);
        }
        if let Some(fd) = syscall_arg(cfg, regs, spec.dirfd_arg()) {
            (*e).dirfd = fd as i32;
            found |= FOUND_DIRFD;
        }
        if let Some(fd) = syscall_arg(cfg, regs, spec.new_dirfd_arg()) {
            (*e).new_dirfd = fd as i32;
            found |= FOUND_NEW_DIRFD;
        }
        if let Some(mut addr) = syscall_arg(cfg, regs, spec.sockaddr_arg()) {
            let mut len = syscall_arg(cfg, regs, spec.sockaddr_len_arg()).unwrap_or(0) as u32;
            if spec.is_msghdr() && addr != 0 {
                // sendmsg: the address is the message header's `msg_name`.
                let msg = addr;
                addr = bpf_probe_read_user((msg + MSGHDR_NAME) as *const u64).unwrap_or(0);
                len = bpf_probe_read_user((msg + MSGHDR_NAMELEN) as *const u32).unwrap_or(0);
            }
            if addr != 0 && len > 0 {
                let n = if len > SOCKADDR_BUF as u32 {
                    SOCKADDR_BUF as u32
                } else {
                    len
                };
                // SAFETY: at most SOCKADDR_BUF bytes into the record's own
                // buffer; the helper checks the user address.
                let rc = generated::bpf_probe_read_user(
                    (*e).sockaddr.as_mut_ptr().cast(),
                    n,
                    addr as *const core::ffi::c_void,
                );
                if rc == 0 {
                    (*e).sockaddr_len = n;
                    found |= FOUND_SOCKADDR;
                }
            }
        }
        (*e).found = found;
    }
    entry.submit(0);
}

/// A syscall of the run that succeeded: an open of the open family is
/// reported with the resolved path of the file it opened (when the run
/// reports files).
#[inline(always)]
fn on_success(regs: u64, ret: i64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    if cfg.report_files == 0 || !in_run(cfg) || cfg.off_regs_syscall_nr == OFFSET_UNKNOWN {
        return 0;
    }
    let nr: u64 = read_at(regs, cfg.off_regs_syscall_nr);
    let nr = nr as u32;
    if nr != cfg.open_nrs[0]
        && nr != cfg.open_nrs[1]
        && nr != cfg.open_nrs[2]
        && nr != cfg.open_nrs[3]
    {
        return 0;
    }
    if ret > i32::MAX as i64 {
        return 0;
    }
    let fd = ret as u32;
    // SAFETY: a helper without arguments.
    let task = unsafe { bpf_get_current_task() };
    let files: u64 = read_at(task, cfg.off_task_files);
    let fdt: u64 = read_at(files, cfg.off_files_fdt);
    let max_fds: u32 = read_at(fdt, cfg.off_fdtable_max_fds);
    if fd >= max_fds {
        return 0;
    }
    let array: u64 = read_at(fdt, cfg.off_fdtable_fd);
    if array == 0 {
        return 0;
    }
    let file: u64 = read_at(array + 8 * fd as u64, 0);
    report_file(cfg, current_tgid(), FILE_OP_OPEN, fd, file);
    0
}

/// Sends a `FileRecord` for `file` (a `struct file *`): its mode, flags and
/// path, resolved by walking its dentries and mounts up to the root.
#[inline(always)]
fn report_file(cfg: &RunConfig, pid: u32, op: u32, fd: u32, file: u64) {
    if file == 0 {
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<FileRecord>(0) else {
        count_lost_event();
        return;
    };
    let e = entry.as_mut_ptr();
    // SAFETY: `e` points at a reserved record; every field is written.
    unsafe {
        (*e).kind = EVENT_FILE;
        (*e).pid = pid;
        (*e).op = op;
        (*e).fd = fd;
        (*e).time_ns = bpf_ktime_get_ns();
        (*e).mode = read_at(file, cfg.off_file_f_mode);
        (*e).f_flags = read_at(file, cfg.off_file_f_flags);
        let mnt: u64 = read_at(file, cfg.off_file_path_mnt);
        let dentry: u64 = read_at(file, cfg.off_file_path_dentry);
        let (len, complete) = walk_path(cfg, mnt, dentry, (*e).path.as_mut_ptr());
        (*e).len = len;
        (*e).flags = if complete { FILE_COMPLETE } else { 0 };
    }
    // Routine: the reader picks it up at its next wake-up (at most 100 ms).
    entry.submit(BPF_RB_NO_WAKEUP);
}

/// Writes the names from `dentry` up to the root into `buf` (leaf first,
/// each followed by `/`), crossing mount points; returns the bytes used and
/// whether the root was reached.
#[inline(always)]
fn walk_path(cfg: &RunConfig, mut mnt: u64, mut dentry: u64, buf: *mut u8) -> (u32, bool) {
    const HALF: usize = FILE_PATH_BUF / 2;
    let mut off = 0usize;
    let mut i = 0;
    while i < FILE_PATH_DEPTH {
        i += 1;
        if dentry == 0 || mnt == 0 {
            return (off as u32, false);
        }
        let root: u64 = read_at(mnt, cfg.off_vfsmount_root);
        let parent: u64 = read_at(dentry, cfg.off_dentry_parent);
        if dentry == root || dentry == parent {
            // The top of a mount: continue from its mount point.
            let mount = mnt - cfg.off_mount_mnt as u64;
            let up: u64 = read_at(mount, cfg.off_mount_parent);
            if up == 0 || up == mount {
                return (off as u32, true);
            }
            dentry = read_at(mount, cfg.off_mount_mountpoint);
            mnt = up + cfg.off_mount_mnt as u64;
            continue;
        }
        if off >= HALF {
            return (off as u32, false);
        }
        let name: u64 = read_at(dentry, cfg.off_dentry_name);
        // SAFETY: the destination lies inside `buf` (offset below HALF, at
        // most HALF bytes written); the helper checks the source.
        let n = unsafe {
            bpf_probe_read_kernel_str(
                buf.add(off & (HALF - 1)).cast(),
                HALF as u32,
                (name as *const u8).cast(),
            )
        };
        if n <= 1 {
            return (off as u32, false);
        }
        // Replace the NUL with the separator.
        let end = (off + n as usize - 1) & (FILE_PATH_BUF - 1);
        // SAFETY: `end` is masked into the buffer.
        unsafe { *buf.add(end) = b'/' };
        off = (off + n as usize) & (FILE_PATH_BUF - 1);
        dentry = parent;
    }
    (off as u32, false)
}

#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    on_sys_exit(ctx.arg::<u64>(0), ctx.arg::<i64>(1), false)
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn raw_sys_exit(ctx: RawTracePointContext) -> i32 {
    on_sys_exit(ctx.arg::<u64>(0), ctx.arg::<i64>(1), false)
}

#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter(ctx: BtfTracePointContext) -> i32 {
    on_sys_enter(ctx.arg::<u64>(1))
}

#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    on_exec(ctx.arg::<u64>(0), ctx.arg::<u64>(2), false)
}

#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    on_fork(ctx.arg::<u64>(1))
}

#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit(ctx: BtfTracePointContext) -> i32 {
    on_exit(ctx.arg::<u64>(0))
}

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn raw_sys_enter(ctx: RawTracePointContext) -> i32 {
    on_sys_enter(ctx.arg::<u64>(1))
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn raw_sched_process_exec(ctx: RawTracePointContext) -> i32 {
    on_exec(ctx.arg::<u64>(0), ctx.arg::<u64>(2), false)
}

#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn raw_sched_process_fork(ctx: RawTracePointContext) -> i32 {
    on_fork(ctx.arg::<u64>(1))
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn raw_sched_process_exit(ctx: RawTracePointContext) -> i32 {
    on_exit(ctx.arg::<u64>(0))
}

// The same programs with the file reports (a path walk, ~45 ms of the
// kernel verifier's time each at load): loaded instead of the plain ones only
// for runs that report files (`warden learn`, `warden exec --events`).

#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit_files(ctx: BtfTracePointContext) -> i32 {
    on_sys_exit(ctx.arg::<u64>(0), ctx.arg::<i64>(1), true)
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn raw_sys_exit_files(ctx: RawTracePointContext) -> i32 {
    on_sys_exit(ctx.arg::<u64>(0), ctx.arg::<i64>(1), true)
}

#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec_files(ctx: BtfTracePointContext) -> i32 {
    on_exec(ctx.arg::<u64>(0), ctx.arg::<u64>(2), true)
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn raw_sched_process_exec_files(ctx: RawTracePointContext) -> i32 {
    on_exec(ctx.arg::<u64>(0), ctx.arg::<u64>(2), true)
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
