//! BPF LSM programs: the most precise layer, for kernels that load `lsm`
//! programs. Each hook refuses (EACCES for files and exec, EPERM for the
//! network, signals and ptrace) an operation of a process in the run's cgroup
//! that the envelope does not grant, before it happens; processes outside the
//! run are never affected.
//!
//! Files are matched two ways (see `enforcer_common::lsm`): by the path that
//! `bpf_d_path` resolves, in the `LSM_PATHS` trie, for `file_open` and
//! `bprm_check_security`; and by the inode of the directory and its
//! ancestors, in `LSM_INODES`, for the `path_*` hooks, which get no `struct
//! file`. Kernel struct offsets come from the running kernel's BTF through
//! `LSM_OFFSETS`, read-only global data that user space fills at load time.

use core::ptr::read_volatile;

use aya_ebpf::{
    helpers::{
        bpf_d_path, bpf_probe_read_kernel, bpf_probe_read_kernel_buf,
        bpf_probe_read_kernel_str_bytes,
    },
    macros::{lsm, map},
    maps::{HashMap, LpmTrie, PerCpuArray, lpm_trie::Key},
    programs::LsmContext,
};
use enforcer_common::lsm::{
    ACCESS_CREATE, ACCESS_EXEC, ACCESS_READ, ACCESS_REMOVE, ACCESS_WRITE, EVENT_LSM, InodeKey,
    InodeRule, LSM_MAX_DEPTH, LSM_MAX_INODES, LSM_MAX_PATHS, LSM_NAME_MAX, LSM_NAME_RULES,
    LSM_OP_CREATE, LSM_OP_EXEC, LSM_OP_OPEN, LSM_OP_PTRACE, LSM_OP_REMOVE, LSM_OP_SIGNAL,
    LSM_PATH_MAX, LsmKey, LsmOffsets, NAME_EXACT, NAME_SUFFIX, NAME_SUFFIX_TREE, NameRule,
    PathRule,
};
use enforcer_common::{
    DIR_CONNECT, EVENT_NET, FAMILY_INET, FAMILY_INET6, NET_OP_CONNECT, NetKeyV4, NetKeyV6,
    PROTO_TCP, PROTO_UDP, PortRule, RUN_KEY_LEN, RUN_LSM, RUN_OBSERVE_ONLY, RunEntry,
    VERDICT_OBSERVED, VERDICT_REFUSED, run_keyed,
};

const EPERM: i32 = 1;
const EACCES: i32 = 13;

/// `fmode_t` bits of `struct file.f_mode`.
const FMODE_READ: u32 = 1;
const FMODE_WRITE: u32 = 2;
const FMODE_EXEC: u32 = 0x20;
/// `__FMODE_EXEC` in `struct file.f_flags` (the open flags).
const O_FMODE_EXEC: u32 = 0x20;

/// `ptrace_access_check` mode bit of an attach (`PTRACE_MODE_ATTACH`).
const PTRACE_MODE_ATTACH: u32 = 0x02;

const AF_UNSPEC: u16 = 0;
const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const SOCK_STREAM: u16 = 1;
const SOCK_DGRAM: u16 = 2;

/// Bytes of the buffer `bpf_d_path` writes into.
const BUF: usize = 512;

/// Kernel struct offsets, from the running kernel's BTF (set by user space
/// with `EbpfLoader::set_global`). Read-only: the verifier sees constants.
#[unsafe(no_mangle)]
static LSM_OFFSETS: LsmOffsets = LsmOffsets {
    file_f_path: 0,
    file_f_mode: 0,
    file_f_flags: 0,
    binprm_file: 0,
    path_dentry: 0,
    dentry_d_parent: 0,
    dentry_d_inode: 0,
    dentry_d_name_name: 0,
    dentry_d_name_len: 0,
    inode_i_ino: 0,
    inode_i_sb: 0,
    sb_s_dev: 0,
    socket_type: 0,
    task_cgroups: 0,
    css_set_dfl_cgrp: 0,
    cgroup_kn: 0,
    cgroup_self_parent: 0,
    css_cgroup: 0,
    kernfs_node_id: 0,
};

/// Reads one offset so that the compiler cannot fold it to the zero above.
#[inline(always)]
fn offset(field: &u32) -> usize {
    unsafe { read_volatile(field) as usize }
}

macro_rules! off {
    ($field:ident) => {
        offset(&LSM_OFFSETS.$field)
    };
}

#[map]
static LSM_PATHS: LpmTrie<LsmKey, PathRule> = LpmTrie::with_max_entries(LSM_MAX_PATHS, 1);

#[map]
static LSM_INODES: HashMap<InodeKey, InodeRule> = HashMap::with_max_entries(LSM_MAX_INODES, 1);

/// Bytes kept free before the text in [`Scratch`], so that the last
/// `LSM_NAME_MAX` bytes of any text can be read without underflow.
const PAD: usize = LSM_NAME_MAX;

/// Per-CPU working memory: too large for the 512-byte stack.
#[repr(C)]
pub struct Scratch {
    /// `text[PAD..]`: a path from `bpf_d_path`, or a dentry's name.
    text: [u8; PAD + BUF],
    /// The LPM key built from the run and the path.
    key: Key<LsmKey>,
    /// The last `LSM_NAME_MAX` bytes of the text (right-aligned, like the
    /// names of the rules), read in one go.
    tail: Tail,
}

#[repr(C, align(8))]
pub struct Tail([u8; LSM_NAME_MAX]);

// Name rules are compared as four u64 words: keep them 8-byte aligned.
const _: () = assert!(core::mem::size_of::<NameRule>() % 8 == 0);
const _: () = assert!(core::mem::offset_of!(PathRule, names) % 8 == 0);
const _: () = assert!(core::mem::offset_of!(InodeRule, names) % 8 == 0);
const _: () = assert!(LSM_NAME_MAX == 32);

#[map]
static LSM_SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// A run the LSM hooks apply to.
#[derive(Clone, Copy)]
struct Run {
    /// The run's cgroup id.
    id: u64,
    entry: *mut RunEntry,
}

/// The run of the current task, when the LSM hooks apply to it; `None`
/// otherwise, and then every hook allows.
#[inline(always)]
fn current_run() -> Option<Run> {
    let cfg = crate::config()?;
    let (id, entry) = crate::current_run(cfg)?;
    if crate::flags(entry) & RUN_LSM == 0 {
        return None;
    }
    Some(Run { id, entry })
}

/// The verdict for an operation outside the envelope, reported as an event
/// (`what` in the record's file name field; the path for file operations).
#[inline(always)]
fn refuse(run: Run, errno: i32, op: u32, what: Option<*const u8>) -> i32 {
    let observe = crate::flags(run.entry) & RUN_OBSERVE_ONLY != 0;
    crate::count_refusal(run.entry);
    if let Some(mut entry) = crate::new_event(run.id, run.entry, EVENT_LSM, crate::current_tgid()) {
        let e = entry.as_mut_ptr();
        unsafe {
            (*e).number = op;
            (*e).verdict = if observe {
                VERDICT_OBSERVED
            } else {
                VERDICT_REFUSED
            };
            match what {
                Some(text) => {
                    let _ = bpf_probe_read_kernel_str_bytes(text, &mut (*e).filename);
                }
                None => crate::put_comm(e),
            }
        }
        entry.submit(0);
    }
    if observe { 0 } else { -errno }
}

/// The path `path_granted` last resolved on this CPU, for the event.
#[inline(always)]
fn last_text() -> Option<*const u8> {
    LSM_SCRATCH
        .get_ptr(0)
        .map(|s| unsafe { (*s).text.as_ptr().wrapping_add(PAD) })
}

#[inline(always)]
unsafe fn read<T>(base: *const u8, off: usize) -> T {
    // A NULL or stale pointer reads as an error, which the callers treat
    // as zero (and so refuse where a value was needed).
    unsafe {
        bpf_probe_read_kernel(base.wrapping_add(off) as *const T).unwrap_or(core::mem::zeroed())
    }
}

/// Copies the `LSM_NAME_MAX` bytes of `s.text` that end at `text[PAD + end]`
/// into `s.tail` (one helper call: no loop with a variable index).
#[inline(always)]
fn load_tail(s: &mut Scratch, end: usize) -> bool {
    if end > BUF {
        return false;
    }
    let src = s.text.as_ptr().wrapping_add(end);
    unsafe { bpf_probe_read_kernel_buf(src, &mut s.tail.0) }.is_ok()
}

/// Whether `rule` matches a name whose last bytes are in `tail`.
/// `name_len`: bytes of the last path component; `direct`: the component
/// is directly in the directory that carries the rule.
#[inline(always)]
fn name_matches(rule: &NameRule, tail: &Tail, name_len: usize, direct: bool) -> bool {
    let len = rule.len as usize;
    // The suffix lies within the last component; an empty suffix matches
    // every name, but a name is never empty.
    if len > LSM_NAME_MAX || len > name_len || name_len == 0 {
        return false;
    }
    match rule.kind {
        NAME_EXACT => {
            if !direct || name_len != len {
                return false;
            }
        }
        NAME_SUFFIX => {
            if !direct {
                return false;
            }
        }
        NAME_SUFFIX_TREE => {}
        _ => return false,
    }
    // Both right-aligned: compare the last `len` bytes as four words.
    let first = LSM_NAME_MAX - len;
    let t = tail.0.as_ptr() as *const u64;
    let n = rule.name.as_ptr() as *const u64;
    let mut w = 0;
    while w < 4 {
        let lo = w * 8;
        let mask: u64 = if first <= lo {
            !0
        } else if first >= lo + 8 {
            0
        } else {
            !0u64 << ((first - lo) * 8)
        };
        let (a, b) = unsafe { (read_volatile(t.add(w)), read_volatile(n.add(w))) };
        if (a ^ b) & mask != 0 {
            return false;
        }
        w += 1;
    }
    true
}

/// The access the name rules grant (only the tree-wide ones with `tree_only`).
#[inline(always)]
fn names_grant(
    names: &[NameRule; LSM_NAME_RULES],
    tail: &Tail,
    name_len: usize,
    direct: bool,
    tree_only: bool,
) -> u32 {
    let mut access = 0;
    let mut k = 0;
    while k < LSM_NAME_RULES {
        let rule = &names[k];
        if (!tree_only || rule.kind == NAME_SUFFIX_TREE)
            && name_matches(rule, tail, name_len, direct)
        {
            access |= rule.access;
        }
        k += 1;
    }
    access
}

/// What the envelope grants on the path of `path` (a `struct path` pointer
/// the verifier knows as such): `ACCESS_*` bits, 0 when nothing matches.
#[inline(always)]
fn path_granted(run: Run, path: *mut aya_ebpf::bindings::path) -> u32 {
    let Some(s) = LSM_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    let s = unsafe { &mut *s };
    let text = s.text.as_mut_ptr().wrapping_add(PAD);
    let n = unsafe { bpf_d_path(path, text as *mut _, BUF as u32) };
    if n <= 0 {
        // Unresolvable (or longer than BUF): fail closed.
        return 0;
    }
    let len = n as usize; // includes the NUL
    if !(2..=BUF).contains(&len) {
        return 0;
    }
    // The key: the run, then the first LSM_PATH_MAX bytes of the path; a
    // longer path matches only directory trees (its exact and name rules
    // cannot be checked).
    let key_len = if len > LSM_PATH_MAX {
        LSM_PATH_MAX
    } else {
        len
    };
    let id = run.id.to_be_bytes();
    let mut i = 0;
    while i < RUN_KEY_LEN {
        s.key.data[i] = id[i];
        i += 1;
    }
    if unsafe { bpf_probe_read_kernel_buf(text, &mut s.key.data[RUN_KEY_LEN..]) }.is_err() {
        return 0;
    }
    s.key.prefix_len = ((RUN_KEY_LEN + key_len) * 8) as u32;
    let Some(rule) = LSM_PATHS.get(&s.key) else {
        return 0;
    };
    let access = rule.access;
    if len > LSM_PATH_MAX {
        return access;
    }
    let start = rule.prefix_len as usize;
    let end = len - 1;
    if start >= end || !load_tail(s, end) {
        return access;
    }
    // The last component: after the last '/', found from the dentry's name
    // length (d_path ends with it); direct when the entry is its directory.
    let dentry: *const u8 = unsafe { read(path as *const u8, off!(path_dentry)) };
    let name_len: u32 = unsafe { read(dentry, off!(dentry_d_name_len)) };
    let name_len = name_len as usize;
    if name_len == 0 || name_len > end {
        return access;
    }
    let direct = start + name_len == end;
    access | names_grant(&rule.names, &s.tail, name_len, direct, false)
}

/// `file_open`: read, write, and the open of a file being executed.
#[lsm(hook = "file_open")]
pub fn file_open(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(1);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let file: *const u8 = ctx.arg(0);
    let mode: u32 = unsafe { read(file, off!(file_f_mode)) };
    let flags: u32 = unsafe { read(file, off!(file_f_flags)) };
    // The open of a program being executed (or of its ELF interpreter):
    // `open_exec` passes __FMODE_EXEC in the flags; newer kernels also set
    // FMODE_EXEC in the mode.
    let exec = mode & FMODE_EXEC != 0 || flags & O_FMODE_EXEC != 0;
    if mode & (FMODE_READ | FMODE_WRITE) == 0 && !exec {
        return 0;
    }
    let path = file.wrapping_add(off!(file_f_path)) as *mut aya_ebpf::bindings::path;
    let granted = path_granted(run, path);
    // The open of a program being executed (or of its ELF interpreter) needs
    // read or exec: whether it may run at all is bprm_check_security's call.
    let read_ok = if exec {
        granted & (ACCESS_READ | ACCESS_EXEC) != 0
    } else {
        mode & FMODE_READ == 0 || granted & ACCESS_READ != 0
    };
    let write_ok = mode & FMODE_WRITE == 0 || granted & ACCESS_WRITE != 0;
    if read_ok && write_ok {
        0
    } else {
        let op = if exec { LSM_OP_EXEC } else { LSM_OP_OPEN };
        refuse(run, EACCES, op, last_text())
    }
}

/// `bprm_check_security`: exec by path, before the program starts; called
/// again for the interpreter of a `#!` script or a binfmt handler.
#[lsm(hook = "bprm_check_security")]
pub fn bprm_check_security(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(1);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let bprm: *const u8 = ctx.arg(0);
    // A typed load (not a probe read): bpf_d_path needs the verifier to know
    // the pointer is a `struct file`.
    let file = unsafe { read_volatile(bprm.wrapping_add(off!(binprm_file)) as *const *const u8) };
    if file.is_null() {
        return refuse(run, EACCES, LSM_OP_EXEC, None);
    }
    let path = file.wrapping_add(off!(file_f_path)) as *mut aya_ebpf::bindings::path;
    if path_granted(run, path) & ACCESS_EXEC != 0 {
        0
    } else {
        refuse(run, EACCES, LSM_OP_EXEC, last_text())
    }
}

/// The inode key of a dentry, or `None` for a negative dentry.
#[inline(always)]
fn inode_key(run: Run, dentry: *const u8) -> Option<InodeKey> {
    let inode: *const u8 = unsafe { read(dentry, off!(dentry_d_inode)) };
    if inode.is_null() {
        return None;
    }
    let ino: u64 = unsafe { read(inode, off!(inode_i_ino)) };
    let sb: *const u8 = unsafe { read(inode, off!(inode_i_sb)) };
    if sb.is_null() {
        return None;
    }
    let dev: u32 = unsafe { read(sb, off!(sb_s_dev)) };
    Some(InodeKey {
        run: run.id,
        dev: dev as u64,
        ino,
    })
}

/// Whether the envelope grants `need` on the entry `dentry` of the directory
/// `dir` (a `struct path`): by the entry's own inode, by the directory's
/// rules, or by the tree rules of its ancestors (on the same mount).
#[inline(always)]
fn entry_allows(run: Run, dir: *const u8, dentry: *const u8, need: u32) -> bool {
    let Some(s) = LSM_SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    let s = unsafe { &mut *s };
    // The entry's name, into text[PAD..], and its last bytes into tail.
    let name_ptr: *const u8 = unsafe { read(dentry, off!(dentry_d_name_name)) };
    let name_len: u32 = unsafe { read(dentry, off!(dentry_d_name_len)) };
    let len = name_len as usize;
    if name_ptr.is_null() || len == 0 || len >= LSM_PATH_MAX {
        return false;
    }
    if unsafe { bpf_probe_read_kernel_str_bytes(name_ptr, &mut s.text[PAD..PAD + LSM_PATH_MAX]) }
        .is_err()
    {
        return false;
    }
    if !load_tail(s, len) {
        return false;
    }

    let mut granted = 0;
    // The entry itself (an existing file or directory named exactly).
    if let Some(key) = inode_key(run, dentry)
        && let Some(rule) = unsafe { LSM_INODES.get(key) }
    {
        granted |= rule.itself;
    }
    // Its directory.
    let mut d: *const u8 = unsafe { read(dir, off!(path_dentry)) };
    if let Some(key) = inode_key(run, d)
        && let Some(rule) = unsafe { LSM_INODES.get(key) }
    {
        granted |= rule.children | rule.tree | names_grant(&rule.names, &s.tail, len, true, false);
    }
    if granted & need == need {
        return true;
    }
    // The directory's ancestors: tree rules only.
    let mut depth = 0;
    while depth < LSM_MAX_DEPTH {
        let parent: *const u8 = unsafe { read(d, off!(dentry_d_parent)) };
        if parent.is_null() || parent == d {
            break;
        }
        d = parent;
        if let Some(key) = inode_key(run, d)
            && let Some(rule) = unsafe { LSM_INODES.get(key) }
        {
            granted |= rule.tree | names_grant(&rule.names, &s.tail, len, false, true);
            if granted & need == need {
                return true;
            }
        }
        depth += 1;
    }
    granted & need == need
}

/// One hook on an entry of a directory: `(dir, dentry)` at arguments 0, 1.
#[inline(always)]
fn entry_hook(ctx: &LsmContext, retval_arg: usize, need: u32, op: u32) -> i32 {
    let retval: i32 = ctx.arg(retval_arg);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let dir: *const u8 = ctx.arg(0);
    let dentry: *const u8 = ctx.arg(1);
    if entry_allows(run, dir, dentry, need) {
        0
    } else {
        refuse(run, EACCES, op, last_text())
    }
}

/// `path_mknod`: create a file (also `open(O_CREAT)` of a new name).
#[lsm(hook = "path_mknod")]
pub fn path_mknod(ctx: LsmContext) -> i32 {
    entry_hook(&ctx, 4, ACCESS_CREATE, LSM_OP_CREATE)
}

/// `path_mkdir`: create a directory.
#[lsm(hook = "path_mkdir")]
pub fn path_mkdir(ctx: LsmContext) -> i32 {
    entry_hook(&ctx, 3, ACCESS_CREATE, LSM_OP_CREATE)
}

/// `path_symlink`: create a symbolic link.
#[lsm(hook = "path_symlink")]
pub fn path_symlink(ctx: LsmContext) -> i32 {
    entry_hook(&ctx, 3, ACCESS_CREATE, LSM_OP_CREATE)
}

/// `path_unlink`: remove a file.
#[lsm(hook = "path_unlink")]
pub fn path_unlink(ctx: LsmContext) -> i32 {
    entry_hook(&ctx, 2, ACCESS_REMOVE, LSM_OP_REMOVE)
}

/// `path_rmdir`: remove a directory.
#[lsm(hook = "path_rmdir")]
pub fn path_rmdir(ctx: LsmContext) -> i32 {
    entry_hook(&ctx, 2, ACCESS_REMOVE, LSM_OP_REMOVE)
}

/// `path_link(old_dentry, new_dir, new_dentry)`: a hard link is a new name
/// for an existing file, so the new name needs create and the file itself
/// must be one the run may remove (it lives in the run's writable area):
/// a link can never give a second path to a file outside it.
#[lsm(hook = "path_link")]
pub fn path_link(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(3);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let old: *const u8 = ctx.arg(0);
    let new_dir: *const u8 = ctx.arg(1);
    let new: *const u8 = ctx.arg(2);
    if !entry_allows(run, new_dir, new, ACCESS_CREATE) {
        return refuse(run, EACCES, LSM_OP_CREATE, last_text());
    }
    // The old name's rights, through its inode and its parent directory.
    let Some(key) = inode_key(run, old) else {
        return refuse(run, EACCES, LSM_OP_CREATE, last_text());
    };
    let mut granted = 0;
    if let Some(rule) = unsafe { LSM_INODES.get(key) } {
        granted |= rule.itself;
    }
    let parent: *const u8 = unsafe { read(old, off!(dentry_d_parent)) };
    if let Some(pkey) = inode_key(run, parent)
        && let Some(rule) = unsafe { LSM_INODES.get(pkey) }
    {
        granted |= rule.children | rule.tree;
    }
    if granted & ACCESS_REMOVE != 0 {
        0
    } else {
        refuse(run, EACCES, LSM_OP_CREATE, last_text())
    }
}

/// `path_rename(old_dir, old_dentry, new_dir, new_dentry, flags)`: remove
/// the old name, create the new one; when the new name exists (replaced, or
/// swapped with `RENAME_EXCHANGE`) both sides need both.
#[lsm(hook = "path_rename")]
pub fn path_rename(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(5);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let old_dir: *const u8 = ctx.arg(0);
    let old: *const u8 = ctx.arg(1);
    let new_dir: *const u8 = ctx.arg(2);
    let new: *const u8 = ctx.arg(3);
    let target_exists = inode_key(run, new).is_some();
    let (old_need, new_need) = if target_exists {
        (ACCESS_REMOVE | ACCESS_CREATE, ACCESS_REMOVE | ACCESS_CREATE)
    } else {
        (ACCESS_REMOVE, ACCESS_CREATE)
    };
    if !entry_allows(run, old_dir, old, old_need) {
        return refuse(run, EACCES, LSM_OP_REMOVE, last_text());
    }
    if !entry_allows(run, new_dir, new, new_need) {
        return refuse(run, EACCES, LSM_OP_CREATE, last_text());
    }
    0
}

/// Whether a task is in the run: its default-hierarchy cgroup is the run's
/// cgroup or below it.
#[inline(always)]
fn task_in_run(task: *const u8, run: Run) -> bool {
    let cset: *const u8 = unsafe { read(task, off!(task_cgroups)) };
    if cset.is_null() {
        return false;
    }
    let mut cgrp: *const u8 = unsafe { read(cset, off!(css_set_dfl_cgrp)) };
    let mut depth = 0;
    while depth < LSM_MAX_DEPTH {
        if cgrp.is_null() {
            return false;
        }
        let kn: *const u8 = unsafe { read(cgrp, off!(cgroup_kn)) };
        if kn.is_null() {
            return false;
        }
        let id: u64 = unsafe { read(kn, off!(kernfs_node_id)) };
        if id == run.id {
            return true;
        }
        let parent_css: *const u8 = unsafe { read(cgrp, off!(cgroup_self_parent)) };
        if parent_css.is_null() {
            return false;
        }
        cgrp = unsafe { read(parent_css, off!(css_cgroup)) };
        depth += 1;
    }
    false
}

/// `task_kill(p, info, sig, cred)`: no signal from the run to a process
/// outside it (signal 0, the existence probe, delivers nothing).
#[lsm(hook = "task_kill")]
pub fn task_kill(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(4);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let sig: i32 = ctx.arg(2);
    if sig == 0 {
        return 0;
    }
    let target: *const u8 = ctx.arg(0);
    if task_in_run(target, run) {
        0
    } else {
        refuse(run, EPERM, LSM_OP_SIGNAL, None)
    }
}

/// `ptrace_access_check(child, mode)`: no plan step grants ptrace, so a
/// process of the run may attach to nothing, and may inspect (`/proc/PID/mem`,
/// `environ`: read mode) only processes of the run.
#[lsm(hook = "ptrace_access_check")]
pub fn ptrace_access_check(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(2);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let mode: u32 = ctx.arg(1);
    if mode & PTRACE_MODE_ATTACH != 0 {
        return refuse(run, EPERM, LSM_OP_PTRACE, None);
    }
    let child: *const u8 = ctx.arg(0);
    if task_in_run(child, run) {
        0
    } else {
        refuse(run, EPERM, LSM_OP_PTRACE, None)
    }
}

/// `ptrace_traceme(parent)`: nor offer itself to a tracer.
#[lsm(hook = "ptrace_traceme")]
pub fn ptrace_traceme(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(1);
    if retval != 0 {
        return retval;
    }
    match current_run() {
        Some(run) => refuse(run, EPERM, LSM_OP_PTRACE, None),
        None => 0,
    }
}

/// `socket_connect(sock, address, addrlen)`: IPv4 and IPv6 address (CIDR)
/// and port, from the same network envelope maps as the cgroup programs;
/// an IPv4-mapped IPv6 address is matched as the IPv4 address it carries.
/// Local (`AF_UNIX`) sockets and `AF_UNSPEC` (disconnect) pass; any other
/// family is refused.
#[lsm(hook = "socket_connect")]
pub fn socket_connect(ctx: LsmContext) -> i32 {
    let retval: i32 = ctx.arg(3);
    if retval != 0 {
        return retval;
    }
    let Some(run) = current_run() else { return 0 };
    let sock: *const u8 = ctx.arg(0);
    let addr: *const u8 = ctx.arg(1);
    let addrlen: i32 = ctx.arg(2);
    // struct sockaddr_in / sockaddr_in6 are UAPI: fixed layouts.
    let family: u16 = unsafe { read(addr, 0) };
    let proto = match unsafe { read::<u16>(sock, off!(socket_type)) } {
        SOCK_STREAM => PROTO_TCP,
        SOCK_DGRAM => PROTO_UDP,
        _ => 255,
    };
    let mut ip = [0u8; 16];
    let mut port = 0u16;
    let mut v6 = false;
    let allowed = match family {
        AF_UNIX | AF_UNSPEC => true,
        AF_INET if addrlen >= 16 => {
            port = u16::from_be(unsafe { read::<u16>(addr, 2) });
            let v4: [u8; 4] = unsafe { read(addr, 4) };
            ip[..4].copy_from_slice(&v4);
            rule_v4(run, v4).is_some_and(|r| r.allows(port, proto, DIR_CONNECT))
        }
        AF_INET6 if addrlen >= 24 => {
            port = u16::from_be(unsafe { read::<u16>(addr, 2) });
            ip = unsafe { read(addr, 8) };
            let mapped = ip[..10].iter().all(|&b| b == 0) && ip[10] == 0xff && ip[11] == 0xff;
            if mapped {
                // ::ffff:a.b.c.d reaches a.b.c.d: the IPv4 envelope decides.
                let v4 = [ip[12], ip[13], ip[14], ip[15]];
                ip = [0; 16];
                ip[..4].copy_from_slice(&v4);
                rule_v4(run, v4).is_some_and(|r| r.allows(port, proto, DIR_CONNECT))
            } else {
                v6 = true;
                rule_v6(run, ip).is_some_and(|r| r.allows(port, proto, DIR_CONNECT))
            }
        }
        _ => false,
    };
    if allowed {
        return 0;
    }
    // A network event, like the cgroup programs', which never see this
    // call (the LSM refuses it first).
    let observe = crate::flags(run.entry) & RUN_OBSERVE_ONLY != 0;
    crate::count_refusal(run.entry);
    if let Some(mut entry) = crate::new_event(run.id, run.entry, EVENT_NET, crate::current_tgid()) {
        let e = entry.as_mut_ptr();
        unsafe {
            (*e).op = NET_OP_CONNECT;
            (*e).family = if v6 { FAMILY_INET6 } else { FAMILY_INET };
            (*e).port = port;
            (*e).proto = proto;
            (*e).addr = ip;
            (*e).verdict = if observe {
                VERDICT_OBSERVED
            } else {
                VERDICT_REFUSED
            };
            crate::put_comm(e);
        }
        entry.submit(0);
    }
    if observe { 0 } else { -EPERM }
}

#[inline(always)]
fn rule_v4(run: Run, addr: [u8; 4]) -> Option<&'static PortRule> {
    let key: NetKeyV4 = run_keyed(run.id, &addr);
    crate::NET_V4.get(Key::new((8 * (RUN_KEY_LEN + 4)) as u32, key))
}

#[inline(always)]
fn rule_v6(run: Run, addr: [u8; 16]) -> Option<&'static PortRule> {
    let key: NetKeyV6 = run_keyed(run.id, &addr);
    crate::NET_V6.get(Key::new((8 * (RUN_KEY_LEN + 16)) as u32, key))
}
