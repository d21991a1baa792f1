//! Processes of the runs: raw tracepoints attached once for the node.
//!
//! - `sched_process_exec` is the exec check. It fires after the kernel has
//!   loaded the new program and before the task returns to user space, so a
//!   `SIGKILL` sent here ends the process before the new program's first
//!   instruction. The executed file is identified by its inode
//!   (`linux_binprm.file`), never by the name the caller passed: a symlink,
//!   `./x`, `/dev/fd/N` or `execveat` all reach the same rule, and the ELF
//!   loader run directly is an exec of the loader. A `#!` script is run by
//!   its interpreter: the file executed is the interpreter, and its
//!   arguments are the script's path and the script's arguments. The
//!   arguments are the new program's (`mm.arg_start..arg_end`) after the
//!   kernel's `argv[0]`, compared byte for byte with the lists `EXEC_ARGV`
//!   holds for the program.
//! - `sched_process_fork` and `sched_process_exit` track the runs' processes
//!   (`RUN_PIDS`) and report them.

use core::ffi::c_void;

use aya_ebpf::{
    helpers::{
        bpf_probe_read_kernel_str_bytes, bpf_probe_read_user_buf, bpf_probe_read_user_str_bytes,
        bpf_send_signal, generated::bpf_loop,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use enforcer_common::{
    ARGV_EXACT, ARGV_HASH_SEED, ARGV_MAX, ARGV_PREFIX, ArgvValue, EVENT_EXEC, EVENT_EXIT,
    EVENT_FORK, EXEC_ANY_ARGS, EXEC_ARGS_REPORT, EXEC_EXACT_ARGS, EXEC_NEVER, EXEC_PREFIXES,
    EXEC_REFUSED_ARGV, EXEC_REFUSED_ARGV_UNREADABLE, EXEC_REFUSED_PROGRAM, ExecKey, ExecRecord,
    FILE_OP_EXEC, NodeConfig, RUN_EXEC_TREES, RUN_OBSERVE_ONLY, RUN_REPORT_FILES, RunEntry, RunPid,
    VERDICT_ALLOWED, VERDICT_OBSERVED, VERDICT_REFUSED, argv_hash_step,
};

use crate::{
    EXEC_ARGV, EXEC_PROGRAMS, RUN_PIDS, SIGKILL, Scratch, config, count_refusal, current_run,
    current_tgid, files::report_file, flags, new_event, put_comm, read_at, reserve, scratch,
};

/// Words of [`ARGV_MAX`] bytes.
const ARGV_WORDS: usize = ARGV_MAX / 8;

/// The state of the loops over an argument list, on the caller's stack:
/// `bpf_loop` runs the callback once per word, and the verifier checks the
/// callback once instead of once per iteration.
#[repr(C)]
struct Words {
    /// The arguments read from the new program (this CPU's scratch buffer).
    bytes: *const u64,
    /// The entry to compare with (`compare`), else null.
    other: *const u64,
    /// Bytes that count.
    len: u64,
    /// The hash so far (`hash_word`), or 1 while the words are equal
    /// (`compare_word`).
    acc: u64,
}

/// Word `i` of `words`, keeping only the bytes before `len` (the rest of
/// a buffer is whatever an earlier exec left).
#[inline(always)]
fn masked(words: *const u64, i: u64, len: u64) -> u64 {
    // SAFETY: `i` < ARGV_WORDS: inside a buffer of ARGV_MAX bytes.
    let w = unsafe { *words.add((i as usize) & (ARGV_WORDS - 1)) };
    let left = len - i * 8;
    if left >= 8 {
        w
    } else {
        w & ((1u64 << (left * 8)) - 1)
    }
}

#[inline(never)]
extern "C" fn hash_word(i: u64, ctx: *mut Words) -> i64 {
    // SAFETY: `ctx` is the caller's `Words`.
    let c = unsafe { &mut *ctx };
    if i >= ARGV_WORDS as u64 || i * 8 >= c.len {
        return 1;
    }
    c.acc = argv_hash_step(c.acc, masked(c.bytes, i, c.len));
    0
}

#[inline(never)]
extern "C" fn compare_word(i: u64, ctx: *mut Words) -> i64 {
    // SAFETY: `ctx` is the caller's `Words`.
    let c = unsafe { &mut *ctx };
    if i >= ARGV_WORDS as u64 || i * 8 >= c.len {
        return 1;
    }
    if masked(c.bytes, i, c.len) != masked(c.other, i, c.len) {
        c.acc = 0;
        return 1;
    }
    0
}

/// `enforcer_common::argv_hash` of the first `len` bytes of `bytes`.
#[inline(always)]
fn hash(bytes: &[u8; ARGV_MAX], len: usize) -> u64 {
    let mut w = Words {
        bytes: bytes.as_ptr().cast(),
        other: core::ptr::null(),
        len: len as u64,
        acc: ARGV_HASH_SEED,
    };
    // SAFETY: a callback of the right type with a pointer to the stack.
    unsafe {
        bpf_loop(
            ARGV_WORDS as u32,
            hash_word as *mut c_void,
            (&raw mut w).cast(),
            0,
        )
    };
    w.acc
}

/// Whether the first `len` bytes of `bytes` equal the entry's bytes.
#[inline(always)]
fn same(bytes: &[u8; ARGV_MAX], len: usize, entry: &ArgvValue) -> bool {
    if entry.len as usize != len {
        return false;
    }
    let mut w = Words {
        bytes: bytes.as_ptr().cast(),
        other: entry.bytes.as_ptr().cast(),
        len: len as u64,
        acc: 1,
    };
    // SAFETY: as above.
    unsafe {
        bpf_loop(
            ARGV_WORDS as u32,
            compare_word as *mut c_void,
            (&raw mut w).cast(),
            0,
        )
    };
    w.acc == 1
}

/// Whether the program's `EXEC_ARGV` holds the first `len` bytes of the
/// arguments as an entry of `kind`.
#[inline(always)]
fn argv_listed(s: *mut Scratch, key: ExecKey, len: usize, kind: u32) -> bool {
    // SAFETY: `s` is this CPU's scratch memory.
    let (bytes, argv_key) = unsafe { (&(*s).buf, &mut (*s).argv_key) };
    argv_key.run = key.run;
    argv_key.dev = key.dev;
    argv_key.ino = key.ino;
    argv_key.hash = hash(bytes, len);
    argv_key.len = len as u32;
    argv_key.kind = kind;
    // SAFETY: the entry is only read, during this program run.
    unsafe { EXEC_ARGV.get(argv_key) }.is_some_and(|entry| same(bytes, len, entry))
}

/// Reads the new program's arguments after `argv[0]` into the scratch
/// buffer, at most `ARGV_MAX` bytes of them (of longer ones the first, for
/// the report). Returns their length in memory (0 when they cannot be
/// located or read) and, only when they were read whole, that length for
/// the check.
#[inline(always)]
fn read_args(cfg: &NodeConfig, task: u64, s: *mut Scratch) -> (usize, Option<usize>) {
    let mm: u64 = read_at(task, cfg.off_task_mm);
    let start: u64 = read_at(mm, cfg.off_mm_arg_start);
    let end: u64 = read_at(mm, cfg.off_mm_arg_end);
    if start == 0 || end < start {
        return (0, None);
    }
    // SAFETY: `s` is this CPU's scratch memory.
    let buf = unsafe { &mut (*s).buf };
    // argv[0]: whatever the caller named the program; not an argument.
    // SAFETY: the helper checks the user address and the buffer's size.
    let Ok(first) = (unsafe { bpf_probe_read_user_str_bytes(start as *const u8, buf) }) else {
        return (0, None);
    };
    let skip = first.len() as u64 + 1;
    if skip >= ARGV_MAX as u64 || start + skip > end {
        return (0, None);
    }
    let len = (end - start - skip) as usize;
    let read = if len > ARGV_MAX { ARGV_MAX } else { len };
    if read > 0 {
        // SAFETY: as above; `read` is at most the buffer's size.
        let copied =
            unsafe { bpf_probe_read_user_buf((start + skip) as *const u8, &mut buf[..read]) };
        if copied.is_err() {
            return (0, None);
        }
    }
    (len, (len <= ARGV_MAX).then_some(len))
}

/// The exec check: 0 when the run may execute this program with these
/// arguments, else the `EXEC_REFUSED_*` reason.
#[inline(always)]
fn exec_refusal(run_flags: u32, key: ExecKey, s: *mut Scratch, args: Option<usize>) -> u32 {
    // SAFETY: as above.
    let Some(rule) = (unsafe { EXEC_PROGRAMS.get(key) }) else {
        return if run_flags & RUN_EXEC_TREES != 0 {
            0
        } else {
            EXEC_REFUSED_PROGRAM
        };
    };
    let rule = *rule;
    if rule.flags & EXEC_NEVER != 0 {
        return EXEC_REFUSED_PROGRAM;
    }
    if rule.flags & EXEC_ANY_ARGS != 0 {
        return 0;
    }
    let Some(len) = args else {
        return EXEC_REFUSED_ARGV_UNREADABLE;
    };
    if rule.flags & EXEC_EXACT_ARGS != 0 && argv_listed(s, key, len, ARGV_EXACT) {
        return 0;
    }
    // SAFETY: `s` is this CPU's scratch memory.
    let bytes = unsafe { &(*s).buf };
    let mut p = 0;
    while p < EXEC_PREFIXES {
        let n = rule.prefix_lens[p] as usize;
        if (p as u32) < rule.prefix_count
            && n > 0
            && n <= len
            && bytes[(n - 1) & (ARGV_MAX - 1)] == 0
            && argv_listed(s, key, n, ARGV_PREFIX)
        {
            return 0;
        }
        p += 1;
    }
    EXEC_REFUSED_ARGV
}

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct
/// linux_binprm *bprm)`.
#[inline(always)]
fn on_exec(task: u64, bprm: u64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    let Some((run, entry)) = current_run(cfg) else {
        return 0;
    };
    let run_flags = flags(entry);
    let pid = current_tgid();
    let parent: u64 = read_at(task, cfg.off_task_real_parent);
    let ppid: i32 = read_at(parent, cfg.off_task_tgid);
    let _ = RUN_PIDS.insert(
        pid,
        RunPid {
            run,
            ppid: ppid as u32,
            _pad: 0,
        },
        0,
    );
    let file: u64 = read_at(bprm, cfg.off_binprm_file);
    let inode: u64 = read_at(file, cfg.off_file_f_inode);
    let sb: u64 = read_at(inode, cfg.off_inode_i_sb);
    let dev: u32 = read_at(sb, cfg.off_sb_s_dev);
    let ino: u64 = read_at(inode, cfg.off_inode_i_ino);
    let key = ExecKey {
        run,
        dev: dev as u64,
        ino,
    };
    let Some(s) = scratch() else {
        // No working memory: nothing can be checked, so nothing runs.
        refuse(run_flags, entry);
        return 0;
    };
    let (args_len, args) = read_args(cfg, task, s);
    let reason = if inode == 0 {
        EXEC_REFUSED_PROGRAM
    } else {
        exec_refusal(run_flags, key, s, args)
    };
    let verdict = if reason == 0 {
        VERDICT_ALLOWED
    } else if run_flags & RUN_OBSERVE_ONLY != 0 {
        VERDICT_OBSERVED
    } else {
        VERDICT_REFUSED
    };
    if reason != 0 {
        refuse(run_flags, entry);
    }
    if let Some(mut event) = reserve::<ExecRecord>(run, entry) {
        let e = event.as_mut_ptr();
        // SAFETY: a reserved record; every field is written.
        unsafe {
            (*e).kind = EVENT_EXEC;
            (*e).pid = pid;
            (*e).ppid = ppid as u32;
            (*e).verdict = verdict as u32;
            (*e).time_ns = aya_ebpf::helpers::bpf_ktime_get_ns();
            (*e).dev = key.dev;
            (*e).ino = ino;
            (*e).reason = reason;
            (*e).args_len = args_len as u32;
            let filename: u64 = read_at(bprm, cfg.off_binprm_filename);
            if bpf_probe_read_kernel_str_bytes(filename as *const u8, &mut (*e).filename).is_err() {
                (*e).filename[0] = 0;
            }
            let bytes = &(*s).buf;
            let mut i = 0;
            while i < EXEC_ARGS_REPORT {
                (*e).args[i] = bytes[i];
                i += 1;
            }
        }
        event.submit(0);
    }
    if run_flags & RUN_REPORT_FILES != 0 {
        report_file(cfg, run, entry, pid, FILE_OP_EXEC, u32::MAX, file);
    }
    0
}

/// Counts a refused exec, and kills the process unless the run only
/// observes: the signal is delivered before the return to user space, so
/// not one instruction of the new program runs.
#[inline(always)]
fn refuse(run_flags: u32, entry: *mut RunEntry) {
    count_refusal(entry);
    if run_flags & RUN_OBSERVE_ONLY == 0 {
        // SAFETY: a helper without memory arguments; signals the current process.
        unsafe { bpf_send_signal(SIGKILL) };
    }
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct
/// *child)`: a new process of the run (threads are not reported).
#[inline(always)]
fn on_fork(child: u64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    let Some((run, entry)) = current_run(cfg) else {
        return 0;
    };
    let child_pid: i32 = read_at(child, cfg.off_task_pid);
    let child_tgid: i32 = read_at(child, cfg.off_task_tgid);
    if child_pid != child_tgid {
        return 0;
    }
    let parent = current_tgid();
    let child = child_tgid as u32;
    let _ = RUN_PIDS.insert(
        child,
        RunPid {
            run,
            ppid: parent,
            _pad: 0,
        },
        0,
    );
    if let Some(mut event) = new_event(run, entry, EVENT_FORK, parent) {
        let e = event.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe { (*e).other_pid = child };
        put_comm(e);
        event.submit(0);
    }
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`: a process of the run
/// ended (reported when its main thread exits).
#[inline(always)]
fn on_exit(task: u64) -> i32 {
    let Some(cfg) = config() else { return 0 };
    let Some((run, entry)) = current_run(cfg) else {
        return 0;
    };
    let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    let (tgid, pid) = ((pid_tgid >> 32) as u32, pid_tgid as u32);
    if pid != tgid {
        return 0;
    }
    let _ = RUN_PIDS.remove(tgid);
    let code: i32 = read_at(task, cfg.off_task_exit_code);
    if let Some(mut event) = new_event(run, entry, EVENT_EXIT, tgid) {
        let e = event.as_mut_ptr();
        // SAFETY: a reserved record.
        unsafe { (*e).number = code as u32 };
        put_comm(e);
        event.submit(0);
    }
    0
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec(ctx: RawTracePointContext) -> i32 {
    on_exec(ctx.arg::<u64>(0), ctx.arg::<u64>(2))
}

#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    on_fork(ctx.arg::<u64>(1))
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(ctx: RawTracePointContext) -> i32 {
    on_exit(ctx.arg::<u64>(0))
}
