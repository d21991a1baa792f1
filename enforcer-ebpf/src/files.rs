//! Files of a run with their resolved paths (`EVENT_FILE`): reported for
//! runs with `RUN_REPORT_FILES` (`warden learn`, `warden exec --events`).

use aya_ebpf::helpers::{bpf_ktime_get_ns, generated::bpf_probe_read_kernel_str};
use enforcer_common::{
    EVENT_FILE, FILE_COMPLETE, FILE_PATH_BUF, FILE_PATH_DEPTH, FileRecord, NodeConfig, RunEntry,
};

use crate::{BPF_RB_NO_WAKEUP, read_at, reserve};

/// Sends a `FileRecord` for `file` (a `struct file *`): its mode, flags and
/// path, resolved by walking its dentries and mounts up to the root.
#[inline(always)]
pub(crate) fn report_file(
    cfg: &NodeConfig,
    run: u64,
    entry: *mut RunEntry,
    pid: u32,
    op: u32,
    fd: u32,
    file: u64,
) {
    if file == 0 {
        return;
    }
    let Some(mut event) = reserve::<FileRecord>(run, entry) else {
        return;
    };
    let e = event.as_mut_ptr();
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
    event.submit(BPF_RB_NO_WAKEUP);
}

/// Writes the names from `dentry` up to the root into `buf` (leaf first,
/// each followed by `/`), crossing mount points; returns the bytes used and
/// whether the root was reached.
#[inline(always)]
fn walk_path(cfg: &NodeConfig, mut mnt: u64, mut dentry: u64, buf: *mut u8) -> (u32, bool) {
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
