//! `sys_exit`: what the runs' syscalls did, for runs whose events someone
//! reads. Attached only while such a run lives: a program on a syscall
//! tracepoint puts every task of the machine on the kernel's slow syscall
//! path. Enforcement never depends on it (seccomp refuses syscalls before
//! they run).
//!
//! - A syscall of a run that failed with EPERM or EACCES, whichever layer
//!   refused it, is reported with the path(s), directory descriptor(s) or
//!   socket address its arguments named (`REFUSAL_ARGS` says which argument
//!   holds what; the argument registers' offsets come with the
//!   configuration): `RUN_REPORT_SYSCALLS`.
//! - A successful open of the open family is reported with the resolved
//!   path of the file it opened: `RUN_REPORT_FILES`.

use aya_ebpf::{
    helpers::{
        bpf_get_current_task, bpf_ktime_get_ns, bpf_probe_read_user,
        generated::{self, bpf_get_current_comm as get_comm_into},
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use enforcer_common::{
    EVENT_SYSCALL_REFUSED, FILE_OP_OPEN, MAX_SYSCALLS, NodeConfig, OFFSET_UNKNOWN,
    RUN_REPORT_FILES, RUN_REPORT_SYSCALLS, RunEntry, TS_COMPAT,
    refusal::{
        ArgSpec, FOUND_COMPAT, FOUND_DIRFD, FOUND_NEW_DIRFD, FOUND_NEW_PATH, FOUND_PATH,
        FOUND_SOCKADDR, FOUND_TRUNCATED, MSGHDR_NAME, MSGHDR_NAMELEN, REFUSED_PATH_BUF,
        RefusalRecord, SOCKADDR_BUF,
    },
};

use crate::{
    REFUSAL_ARGS, config, current_run, current_tgid, files::report_file, flags, read_at, reserve,
};

/// `sys_exit(struct pt_regs *regs, long ret)`.
#[inline(always)]
fn on_sys_exit(regs: u64, ret: i64) -> i32 {
    const EPERM: i64 = 1;
    const EACCES: i64 = 13;
    if ret < 0 && ret != -EPERM && ret != -EACCES {
        return 0;
    }
    let Some(cfg) = config() else { return 0 };
    let Some((run, entry)) = current_run(cfg) else {
        return 0;
    };
    if cfg.off_regs_syscall_nr == OFFSET_UNKNOWN {
        return 0;
    }
    let run_flags = flags(entry);
    let nr: u64 = read_at(regs, cfg.off_regs_syscall_nr);
    if ret >= 0 {
        if run_flags & RUN_REPORT_FILES != 0 {
            on_open(cfg, run, entry, nr as u32, ret);
        }
    } else if run_flags & RUN_REPORT_SYSCALLS != 0 {
        report_refusal(cfg, run, entry, regs, nr, (-ret) as u32);
    }
    0
}

/// Argument `arg` (0-based) of the syscall whose registers `regs` saved;
/// `None` for no argument, or where the kernel's BTF lacks the registers
/// (offset 0 is never an argument register, and is what an unfilled
/// configuration holds).
#[inline(always)]
fn syscall_arg(cfg: &NodeConfig, regs: u64, arg: Option<u32>) -> Option<u64> {
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
fn report_refusal(
    cfg: &NodeConfig,
    run: u64,
    entry: *mut RunEntry,
    regs: u64,
    nr: u64,
    errno: u32,
) {
    let Some(mut event) = reserve::<RefusalRecord>(run, entry) else {
        return;
    };
    let e = event.as_mut_ptr();
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
    event.submit(0);
}

/// A successful syscall of a run that reports files: an open of the open
/// family is reported with the resolved path of the file it opened.
#[inline(always)]
fn on_open(cfg: &NodeConfig, run: u64, entry: *mut RunEntry, nr: u32, ret: i64) {
    if nr != cfg.open_nrs[0]
        && nr != cfg.open_nrs[1]
        && nr != cfg.open_nrs[2]
        && nr != cfg.open_nrs[3]
    {
        return;
    }
    if ret > i32::MAX as i64 {
        return;
    }
    let fd = ret as u32;
    // SAFETY: a helper without arguments.
    let task = unsafe { bpf_get_current_task() };
    let files: u64 = read_at(task, cfg.off_task_files);
    let fdt: u64 = read_at(files, cfg.off_files_fdt);
    let max_fds: u32 = read_at(fdt, cfg.off_fdtable_max_fds);
    if fd >= max_fds {
        return;
    }
    let array: u64 = read_at(fdt, cfg.off_fdtable_fd);
    if array == 0 {
        return;
    }
    let file: u64 = read_at(array + 8 * fd as u64, 0);
    report_file(cfg, run, entry, current_tgid(), FILE_OP_OPEN, fd, file);
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    on_sys_exit(ctx.arg::<u64>(0), ctx.arg::<i64>(1))
}
