//! The supervisor in observe mode, for `warden learn`: nothing is refused,
//! and what the run changed in the file system, beyond the files it opened
//! (which the eBPF file events report), is recorded with resolved paths.
//!
//! - **Metadata changes** ([`super::SUPERVISED`], the `ioctl`s) are made
//!   exactly as under enforcement (the caller's arguments read once, the
//!   path resolved with its credentials to an `O_PATH` descriptor, the
//!   change made on that descriptor as the caller), every one allowed; a
//!   change that succeeded is recorded with the kernel's path of the
//!   descriptor it was made on. So the record is the file that changed,
//!   whatever the caller's memory or the file system did meanwhile.
//! - **Entries created or removed** ([`ENTRY_CALLS`]: `unlink`, `rmdir`,
//!   `rename`, `mkdir`, `link`, `symlink`, `mknod` and their `*at`
//!   forms): the directory part of each path is resolved (the caller's
//!   working directory or descriptor, symlinks followed, as the kernel
//!   would) and recorded with the entry's name, then the kernel makes the
//!   call itself (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`): the call depends on
//!   the caller's umask and credentials, which the launcher cannot take on
//!   exactly. An entry is recorded as removed when it exists at the call
//!   (`rm -f` of a missing file removes nothing), as created when it does
//!   not (`mkdir -p` of an existing one creates nothing); a rename's new
//!   name that exists is both (the old entry is replaced). This is
//!   observation only: a run racing its own calls could make the record
//!   differ from what the kernel did, which is never a way around
//!   enforcement (nothing is enforced here, and the learned plan is
//!   reviewed and proven before it is enforced).

use super::call::{Memory, ThreadMemory};
use super::error::Stop;
use super::rules::FileId;
use super::target;
use serde::Serialize;
use std::ffi::CString;
use std::os::fd::AsFd;

/// The syscalls that create or remove a directory entry, observed in
/// observe mode.
pub const ENTRY_CALLS: &[&str] = &[
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
];

/// What a run did to a file, as observe mode records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Its metadata changed (mode, owner, times, xattrs, flags).
    Metadata,
    /// A new entry was made at the path (a directory, a link, a node, a
    /// rename's new name).
    Created,
    /// The entry at the path was removed (unlinked, a directory removed,
    /// renamed away, or replaced by a rename).
    Removed,
}

/// One change of a run, with the path resolved.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObservedChange {
    /// What changed at the path.
    pub kind: ChangeKind,

    /// The absolute path (symlinks in its directories resolved).
    pub path: String,
    /// The syscall (`fchmodat`, `renameat2`, `ioctl(FS_IOC_SETFLAGS)`).
    pub syscall: String,
}

/// Distinct changes kept (more are counted in
/// [`super::SupervisorStats::observed_dropped`]).
pub const MAX_OBSERVED: usize = 100_000;

/// What one path argument of an entry call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Remove,
    Create,
    /// A rename's new name: created, and removed too when it exists.
    Replace,
    /// A rename's name in an exchange: both exist and both are replaced.
    Exchange,
}

/// The path arguments of an entry call: `(dirfd, path address, role)`.
fn entry_args(name: &str, a: &[u64; 6]) -> Option<Vec<(i32, u64, Role)>> {
    let cwd = libc::AT_FDCWD;
    let fd = |v: u64| v as i32;
    Some(match name {
        "unlink" | "rmdir" => vec![(cwd, a[0], Role::Remove)],
        "unlinkat" => vec![(fd(a[0]), a[1], Role::Remove)],
        "rename" => vec![(cwd, a[0], Role::Remove), (cwd, a[1], Role::Replace)],
        "renameat" => vec![
            (fd(a[0]), a[1], Role::Remove),
            (fd(a[2]), a[3], Role::Replace),
        ],
        "renameat2" if a[4] as u32 & libc::RENAME_EXCHANGE != 0 => vec![
            (fd(a[0]), a[1], Role::Exchange),
            (fd(a[2]), a[3], Role::Exchange),
        ],
        "renameat2" => vec![
            (fd(a[0]), a[1], Role::Remove),
            (fd(a[2]), a[3], Role::Replace),
        ],
        "mkdir" | "mknod" => vec![(cwd, a[0], Role::Create)],
        "mkdirat" | "mknodat" => vec![(fd(a[0]), a[1], Role::Create)],
        "link" | "symlink" => vec![(cwd, a[1], Role::Create)],
        "linkat" => vec![(fd(a[2]), a[3], Role::Create)],
        "symlinkat" => vec![(fd(a[1]), a[2], Role::Create)],
        _ => return None,
    })
}

/// The directory part and the last name of a path (`"a/b/"` is `a` and
/// `b`; `"x"` is `.` and `x`); `None` for a name that is no new entry
/// (`/`, `.`, `..`).
fn split(path: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut end = path.len();
    while end > 1 && path[end - 1] == b'/' {
        end -= 1;
    }
    let path = &path[..end];
    let (dir, name) = match path.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/".to_vec(), path[1..].to_vec()),
        Some(i) => (path[..i].to_vec(), path[i + 1..].to_vec()),
        None => (b".".to_vec(), path.to_vec()),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    Some((dir, name))
}

/// Whether `name` exists in the directory `dir` (not following a symlink).
fn exists_in(dir: &std::os::fd::OwnedFd, name: &CString) -> bool {
    target::open_path(Some(dir.as_fd()), name, libc::O_NOFOLLOW).is_ok()
}

/// The changes an entry call is about to make, resolved from thread `tid`
/// of `tgid`; empty for a call that names nothing this can resolve (it is
/// then not recorded: the kernel will most likely refuse it).
pub(crate) fn entry_changes(
    name: &str,
    args: &[u64; 6],
    tid: libc::pid_t,
    tgid: libc::pid_t,
    root: FileId,
) -> Vec<ObservedChange> {
    let mut out = Vec::new();
    let Some(paths) = entry_args(name, args) else {
        return out;
    };
    let mem = ThreadMemory(tid);
    for (dirfd, addr, role) in paths {
        if let Ok(Some((path, exists))) = resolve_entry(&mem, tid, tgid, root, dirfd, addr) {
            let change = |kind| ObservedChange {
                kind,
                path: path.clone(),
                syscall: name.to_owned(),
            };
            match (role, exists) {
                (Role::Remove, true) => out.push(change(ChangeKind::Removed)),
                (Role::Create, false) | (Role::Replace, false) => {
                    out.push(change(ChangeKind::Created))
                }
                (Role::Replace, true) | (Role::Exchange, true) => {
                    out.push(change(ChangeKind::Removed));
                    out.push(change(ChangeKind::Created));
                }
                _ => {}
            }
        }
    }
    out
}

/// The absolute path an entry argument names (its directory resolved, the
/// name kept) and whether the entry exists now.
fn resolve_entry(
    mem: &dyn Memory,
    tid: libc::pid_t,
    tgid: libc::pid_t,
    root: FileId,
    dirfd: i32,
    addr: u64,
) -> Result<Option<(String, bool)>, Stop> {
    let path = super::call::path(mem, addr)?;
    let Some((dir, name)) = split(path.to_bytes()) else {
        return Ok(None);
    };
    let dir = CString::new(dir).map_err(|_| Stop::Errno(libc::EINVAL))?;
    let name = CString::new(name).map_err(|_| Stop::Errno(libc::EINVAL))?;
    let subject = super::call::Subject::Path {
        dirfd,
        path: dir,
        follow: true,
    };
    let held = target::gather(tid, tgid, &subject, root)?;
    let dir_fd = match held {
        target::Held::Object { fd, .. } => fd,
        target::Held::Lookup { base, path, follow } => {
            target::resolve(base.as_ref(), &path, follow)?
        }
    };
    let described = target::describe(&dir_fd).map_err(Stop::Failed)?;
    let exists = exists_in(&dir_fd, &name);
    let name = String::from_utf8_lossy(name.to_bytes()).into_owned();
    let dir = described.path.to_string_lossy().into_owned();
    let full = if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    };
    Ok(Some((full, exists)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_directory_and_name() {
        let s = |p: &str| split(p.as_bytes()).map(|(d, n)| (d, String::from_utf8(n).unwrap()));
        assert_eq!(s("x"), Some((b".".to_vec(), "x".into())));
        assert_eq!(s("/x"), Some((b"/".to_vec(), "x".into())));
        assert_eq!(s("a/b/"), Some((b"a".to_vec(), "b".into())));
        assert_eq!(s("/a//b"), Some((b"/a/".to_vec(), "b".into())));
        assert_eq!(s("/"), None);
        assert_eq!(s("a/.."), None);
        assert_eq!(s("."), None);
    }

    #[test]
    fn each_entry_call_names_its_paths_with_their_roles() {
        let a = [3, 10, 4, 20, 0, 0];
        assert_eq!(
            entry_args("renameat", &a),
            Some(vec![(3, 10, Role::Remove), (4, 20, Role::Replace)])
        );
        let x = [3, 10, 4, 20, u64::from(libc::RENAME_EXCHANGE), 0];
        assert_eq!(
            entry_args("renameat2", &x),
            Some(vec![(3, 10, Role::Exchange), (4, 20, Role::Exchange)])
        );
        assert_eq!(
            entry_args("symlinkat", &a),
            Some(vec![(10, 4, Role::Create)])
        );
        assert_eq!(
            entry_args("unlink", &a),
            Some(vec![(libc::AT_FDCWD, 3, Role::Remove)])
        );
        assert_eq!(entry_args("chmod", &a), None);
        for name in ENTRY_CALLS {
            assert!(entry_args(name, &a).is_some(), "{name}");
        }
    }
}
