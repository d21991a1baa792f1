//! Map keys and values of the BPF LSM layer: the file part of a run's envelope
//! as the LSM programs see it.
//!
//! Two maps carry it, because the hooks see files in two ways:
//!
//! - `LSM_PATHS`, an LPM trie keyed by run and path bytes ([`LsmKey`] → [`PathRule`]),
//!   for the hooks that get a `struct file` and resolve it with `bpf_d_path`
//!   (`file_open`, `bprm_check_security`). An exact file is stored with its
//!   terminating NUL (`"/etc/hosts\0"`), so it matches only itself; a directory
//!   tree is stored with a trailing slash (`"/repo/"`), so it matches everything
//!   below; the longest match decides, and user space merges into every entry
//!   the access of the shorter entries that contain it.
//! - `LSM_INODES`, a hash map keyed by inode ([`InodeKey`] → [`InodeRule`]), for
//!   the hooks that only get a directory and a name (`path_mknod`, `path_mkdir`,
//!   `path_unlink`, `path_rmdir`, `path_rename`, `path_link`, `path_symlink`):
//!   the programs look up the directory and its ancestors.
//!
//! Both carry [`NameRule`]s for shapes Landlock cannot express, such as
//! `/tmp/out/*.tmp`: a suffix (or an exact name) for the entries directly in a
//! directory, or anywhere below it.
//!
//! ```
//! use enforcer_common::lsm::{NameRule, ACCESS_WRITE, NAME_SUFFIX};
//! let rule = NameRule::new(b".tmp", NAME_SUFFIX, ACCESS_WRITE).unwrap();
//! assert!(rule.matches(b"a.tmp"));
//! assert!(!rule.matches(b"a.tmpx"));
//! assert!(!rule.matches(b"sub/a.tmp"));
//! ```

/// Open for reading (`FMODE_READ`), list a directory.
pub const ACCESS_READ: u32 = 1;
/// Open for writing (`FMODE_WRITE`), truncate.
pub const ACCESS_WRITE: u32 = 1 << 1;
/// Create a file, directory, link or node (the new name).
pub const ACCESS_CREATE: u32 = 1 << 2;
/// Remove (unlink, rmdir, rename away).
pub const ACCESS_REMOVE: u32 = 1 << 3;
/// Execute (`execve`, and the open of the file it runs).
pub const ACCESS_EXEC: u32 = 1 << 4;

/// Bytes of a path in an `LSM_PATHS` key: the LPM trie's largest key
/// (`LPM_DATA_SIZE_MAX`, 256 bytes) less the run key in front.
pub const LSM_PATH_MAX: usize = 256 - crate::RUN_KEY_LEN;
/// `LSM_PATHS` key data: the run key (the run's cgroup id, big-endian), then
/// the path.
pub type LsmKey = [u8; crate::RUN_KEY_LEN + LSM_PATH_MAX];
/// Bytes of a name in a [`NameRule`].
pub const LSM_NAME_MAX: usize = 32;
/// Name rules one entry carries.
pub const LSM_NAME_RULES: usize = 4;
/// Entries of `LSM_PATHS` (all runs).
pub const LSM_MAX_PATHS: u32 = 65536;
/// Entries of `LSM_INODES` (all runs).
pub const LSM_MAX_INODES: u32 = 65536;
/// Ancestors of a directory the inode hooks look up before refusing.
pub const LSM_MAX_DEPTH: u32 = 32;

/// [`NameRule::kind`]: the whole name equals `name`.
pub const NAME_EXACT: u8 = 1;
/// [`NameRule::kind`]: the name ends with `name`, directly in the directory.
pub const NAME_SUFFIX: u8 = 2;
/// [`NameRule::kind`]: the name ends with `name`, anywhere below the directory.
pub const NAME_SUFFIX_TREE: u8 = 3;

/// One rule on the last component of a path, relative to the directory of
/// the entry that carries it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameRule {
    /// The name or suffix, right-aligned (the last `len` bytes count, the
    /// others are zero), so the kernel side compares it with the end of a
    /// path at fixed positions.
    pub name: [u8; LSM_NAME_MAX],
    /// Used bytes of `name` (0: an empty suffix, every name).
    pub len: u8,
    /// `NAME_EXACT`, `NAME_SUFFIX` or `NAME_SUFFIX_TREE`; 0 for an unused slot.
    pub kind: u8,
    /// Padding, always zero.
    pub _pad: u16,
    /// The `ACCESS_*` bits the rule grants.
    pub access: u32,
}

impl NameRule {
    /// An unused slot.
    pub const EMPTY: NameRule = NameRule {
        name: [0; LSM_NAME_MAX],
        len: 0,
        kind: 0,
        _pad: 0,
        access: 0,
    };

    /// A rule; `None` when `name` is longer than `LSM_NAME_MAX`, holds a `/`
    /// or a NUL, is empty for `NAME_EXACT`, or `kind` is unknown. An empty
    /// suffix matches every (non-empty) name.
    pub fn new(name: &[u8], kind: u8, access: u32) -> Option<NameRule> {
        if (name.is_empty() && kind == NAME_EXACT)
            || name.len() > LSM_NAME_MAX
            || name.iter().any(|&b| b == b'/' || b == 0)
            || !(NAME_EXACT..=NAME_SUFFIX_TREE).contains(&kind)
        {
            return None;
        }
        let mut rule = NameRule::EMPTY;
        rule.name[LSM_NAME_MAX - name.len()..].copy_from_slice(name);
        rule.len = name.len() as u8;
        rule.kind = kind;
        rule.access = access;
        Some(rule)
    }

    /// The name or suffix.
    pub fn bytes(&self) -> &[u8] {
        &self.name[LSM_NAME_MAX - (self.len as usize).min(LSM_NAME_MAX)..]
    }

    /// Whether the rule matches `rest`, the part of a path after the
    /// directory that carries it (no leading `/`). The reference semantics
    /// for the kernel side, which matches the same way with bounded loops.
    pub fn matches(&self, rest: &[u8]) -> bool {
        let len = self.len as usize;
        if len > LSM_NAME_MAX || rest.len() < len || rest.is_empty() || rest.ends_with(b"/") {
            return false;
        }
        let direct = !rest.contains(&b'/');
        let tail = &rest[rest.len() - len..];
        match self.kind {
            NAME_EXACT => direct && rest == self.bytes(),
            NAME_SUFFIX => direct && tail == self.bytes(),
            NAME_SUFFIX_TREE => {
                // The suffix must lie within the last component.
                !tail.contains(&b'/') && tail == self.bytes()
            }
            _ => false,
        }
    }
}

/// Value of `LSM_PATHS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRule {
    /// `ACCESS_*` granted to every path this entry matches (merged with the
    /// shorter entries that contain it).
    pub access: u32,
    /// Bytes of the entry's prefix: where the rest of a matched path starts.
    pub prefix_len: u32,
    /// Name rules for the rest of a matched path.
    pub names: [NameRule; LSM_NAME_RULES],
}

impl PathRule {
    /// Grants nothing.
    pub const EMPTY: PathRule = PathRule {
        access: 0,
        prefix_len: 0,
        names: [NameRule::EMPTY; LSM_NAME_RULES],
    };
}

/// Key of `LSM_INODES`: an inode of a run's rules, as the kernel names it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InodeKey {
    /// The run's cgroup id.
    pub run: u64,
    /// `inode->i_sb->s_dev`, the kernel's encoding (`major << 20 | minor`).
    pub dev: u64,
    /// `inode->i_ino`.
    pub ino: u64,
}

/// Value of `LSM_INODES`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InodeRule {
    /// `ACCESS_*` on this inode itself (remove this exact file or directory).
    pub itself: u32,
    /// `ACCESS_*` on every entry directly in this directory.
    pub children: u32,
    /// `ACCESS_*` on every entry anywhere below this directory.
    pub tree: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// Name rules on the entries of this directory.
    pub names: [NameRule; LSM_NAME_RULES],
}

impl Default for InodeRule {
    fn default() -> Self {
        InodeRule::EMPTY
    }
}

impl InodeRule {
    /// Grants nothing.
    pub const EMPTY: InodeRule = InodeRule {
        itself: 0,
        children: 0,
        tree: 0,
        _pad: 0,
        names: [NameRule::EMPTY; LSM_NAME_RULES],
    };
}

/// Kernel struct offsets the LSM programs need, in bytes, read from the
/// running kernel's BTF when the programs load and written into their
/// read-only global data (the verifier treats them as constants, which
/// `bpf_d_path` needs for its `struct path` argument).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LsmOffsets {
    /// `struct file.f_path`.
    pub file_f_path: u32,
    /// `struct file.f_mode`.
    pub file_f_mode: u32,
    /// `struct file.f_flags`.
    pub file_f_flags: u32,
    /// `struct linux_binprm.file`.
    pub binprm_file: u32,
    /// `struct path.dentry`.
    pub path_dentry: u32,
    /// `struct dentry.d_parent`.
    pub dentry_d_parent: u32,
    /// `struct dentry.d_inode`.
    pub dentry_d_inode: u32,
    /// `struct dentry.d_name` + `struct qstr.name`.
    pub dentry_d_name_name: u32,
    /// `struct dentry.d_name` + `struct qstr.len`.
    pub dentry_d_name_len: u32,
    /// `struct inode.i_ino`.
    pub inode_i_ino: u32,
    /// `struct inode.i_sb`.
    pub inode_i_sb: u32,
    /// `struct super_block.s_dev`.
    pub sb_s_dev: u32,
    /// `struct socket.type`.
    pub socket_type: u32,
    /// `struct task_struct.cgroups`.
    pub task_cgroups: u32,
    /// `struct css_set.dfl_cgrp`.
    pub css_set_dfl_cgrp: u32,
    /// `struct cgroup.kn`.
    pub cgroup_kn: u32,
    /// `struct cgroup.self` + `struct cgroup_subsys_state.parent`.
    pub cgroup_self_parent: u32,
    /// `struct cgroup_subsys_state.cgroup`.
    pub css_cgroup: u32,
    /// `struct kernfs_node.id`.
    pub kernfs_node_id: u32,
}

/// `EventRecord::kind` of an LSM refusal: `number` holds the `LSM_OP_*`,
/// `verdict` the `VERDICT_*`, `filename` the path (open, exec), the entry's
/// name (create, remove) or the task's command (signal, ptrace). A refused
/// `socket_connect` is an `EVENT_NET` record, like the cgroup programs'.
pub const EVENT_LSM: u32 = 16;
/// `file_open` (read or write).
pub const LSM_OP_OPEN: u32 = 1;
/// `bprm_check_security`.
pub const LSM_OP_EXEC: u32 = 2;
/// create: `path_mknod`, `path_mkdir`, `path_symlink`, `path_link`, a rename's target.
pub const LSM_OP_CREATE: u32 = 4;
/// remove: `path_unlink`, `path_rmdir`, a rename's source.
pub const LSM_OP_REMOVE: u32 = 5;
/// `task_kill` of a process outside the run.
pub const LSM_OP_SIGNAL: u32 = 6;
/// `ptrace_access_check` / `ptrace_traceme` from inside the run.
pub const LSM_OP_PTRACE: u32 = 7;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` data with explicit padding fields, valid for
    // every bit pattern.
    unsafe impl aya::Pod for super::NameRule {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PathRule {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::InodeKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::InodeRule {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::LsmOffsets {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_reject_bad_names() {
        assert!(NameRule::new(b"", NAME_EXACT, ACCESS_WRITE).is_none());
        assert!(NameRule::new(b"a/b", NAME_SUFFIX, ACCESS_WRITE).is_none());
        assert!(NameRule::new(b"a\0", NAME_EXACT, ACCESS_WRITE).is_none());
        assert!(NameRule::new(&[b'x'; LSM_NAME_MAX + 1], NAME_EXACT, 1).is_none());
        assert!(NameRule::new(b"x", 9, ACCESS_WRITE).is_none());
    }

    #[test]
    fn exact_names_match_only_direct_entries() {
        let r = NameRule::new(b"report.txt", NAME_EXACT, ACCESS_WRITE).unwrap();
        assert!(r.matches(b"report.txt"));
        assert!(!r.matches(b"xreport.txt"));
        assert!(!r.matches(b"sub/report.txt"));
    }

    #[test]
    fn suffixes_match_directly_or_in_the_tree() {
        let direct = NameRule::new(b".tmp", NAME_SUFFIX, ACCESS_WRITE).unwrap();
        let tree = NameRule::new(b".tmp", NAME_SUFFIX_TREE, ACCESS_WRITE).unwrap();
        assert!(direct.matches(b".tmp"));
        assert!(direct.matches(b"x.tmp"));
        assert!(!direct.matches(b"d/x.tmp"));
        assert!(!direct.matches(b"x.tmp.sh"));
        assert!(tree.matches(b"d/e/x.tmp"));
        assert!(!tree.matches(b"d.tmp/x"));
        assert!(!tree.matches(b"tmp"));
    }

    #[test]
    fn names_are_stored_right_aligned() {
        let r = NameRule::new(b".tmp", NAME_SUFFIX, ACCESS_WRITE).unwrap();
        assert_eq!(&r.name[LSM_NAME_MAX - 4..], b".tmp");
        assert!(r.name[..LSM_NAME_MAX - 4].iter().all(|&b| b == 0));
        assert_eq!(r.bytes(), b".tmp");
    }

    #[test]
    fn empty_suffix_matches_every_name() {
        let any = NameRule::new(b"", NAME_SUFFIX, ACCESS_READ).unwrap();
        assert!(any.matches(b"x"));
        assert!(!any.matches(b""));
        assert!(!any.matches(b"d/x"));
    }
}
