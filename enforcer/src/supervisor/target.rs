//! The object of a call: taken from the caller (its working directory, a
//! directory or file descriptor it names), resolved to one `O_PATH`
//! descriptor with the caller's credentials, described for the decision
//! (the path the kernel gives it and the identity of every directory above
//! it), and changed through that same descriptor.

use super::call::{Op, Subject};
use super::error::{CallError, Stop};
use super::rules::{FileId, Target};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// `fchmodat2`, `file_setattr`: numbers shared by every architecture
/// (`include/uapi/asm-generic/unistd.h`; the `libc` crate lacks some),
/// checked against the syscall table in the tests.
pub(crate) const SYS_FCHMODAT2: libc::c_long = 452;
pub(crate) const SYS_FILE_SETATTR: libc::c_long = 469;
/// `PIDFD_THREAD` (Linux 6.9): a pidfd for one thread, not its process.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(last_error());
    }
    // SAFETY: a descriptor the kernel just gave us and nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `openat(dir, name, O_PATH | O_CLOEXEC | extra)`.
pub(crate) fn open_path(
    dir: Option<BorrowedFd<'_>>,
    name: &CStr,
    extra: i32,
) -> io::Result<OwnedFd> {
    let dir = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: a valid C string; the kernel checks the descriptor.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | extra) };
    owned(fd.into())
}

/// `fstat` of an open file.
fn stat_of(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the kernel checks the descriptor.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(last_error());
    }
    Ok(st)
}

/// The identity of an open file.
pub(crate) fn file_id(fd: BorrowedFd<'_>) -> io::Result<FileId> {
    stat_of(fd).map(|st| FileId {
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

fn cpath(p: &Path) -> Result<CString, CallError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| CallError::Other(format!("{} holds a NUL byte", p.display())))
}

/// A descriptor of the caller's, duplicated into this process
/// (`pidfd_getfd`), or `EBADF` for the caller when it has no such
/// descriptor.
fn their_fd(tid: libc::pid_t, fd: i32) -> Result<OwnedFd, Stop> {
    if fd < 0 {
        return Err(Stop::Errno(libc::EBADF));
    }
    // SAFETY: integer arguments.
    let mut pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    if pidfd < 0 && last_error().raw_os_error() == Some(libc::EINVAL) {
        // Before 6.9: the process's pidfd (the same file table for threads
        // created with CLONE_FILES, which is every thread libc makes).
        // SAFETY: integer arguments.
        pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, 0) };
    }
    let pidfd = owned(pidfd).map_err(|e| Stop::Failed(CallError::io("pidfd_open", e)))?;
    // SAFETY: integer arguments.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    owned(dup).map_err(|e| match e.raw_os_error() {
        Some(libc::EBADF) => Stop::Errno(libc::EBADF),
        _ => Stop::Failed(CallError::io("pidfd_getfd", e)),
    })
}

fn proc_link(tid: libc::pid_t, what: &str, extra: i32) -> Result<OwnedFd, Stop> {
    let p = CString::new(format!("/proc/{tid}/{what}"))
        .map_err(|_| Stop::Failed(CallError::Other("bad /proc path".into())))?;
    open_path(None, &p, extra)
        .map_err(|e| Stop::Failed(CallError::io("opening the caller's /proc entry", e)))
}

/// `/proc/self` and `/proc/thread-self` at the start of a caller's path
/// mean the caller, not this process.
fn as_caller_proc(path: &CStr, tgid: libc::pid_t, tid: libc::pid_t) -> CString {
    let bytes = path.to_bytes();
    for (prefix, with) in [
        (&b"/proc/self"[..], format!("/proc/{tgid}")),
        (
            &b"/proc/thread-self"[..],
            format!("/proc/{tgid}/task/{tid}"),
        ),
    ] {
        if let Some(rest) = bytes.strip_prefix(prefix)
            && (rest.is_empty() || rest[0] == b'/')
        {
            let mut out = with.into_bytes();
            out.extend_from_slice(rest);
            if let Ok(c) = CString::new(out) {
                return c;
            }
        }
    }
    path.to_owned()
}

/// Where a caller's own `/proc` entry leads (after [`as_caller_proc`]).
#[derive(Debug, PartialEq, Eq)]
enum ProcStart {
    /// `/proc/TGID/fd/N`: its descriptor `N`.
    Fd(i32),
    /// `/proc/TGID/cwd`.
    Cwd,
    /// `/proc/TGID/root`.
    Root,
}

/// `/proc/TGID[/task/TID]/{fd/N,cwd,root}` at the start of `path` (the
/// caller's magic links, which the supervisor follows itself, taking what
/// they lead to from the caller), and the rest of the path.
fn proc_start(path: &[u8], tgid: libc::pid_t, tid: libc::pid_t) -> Option<(ProcStart, &[u8])> {
    let process = format!("/proc/{tgid}");
    let thread = format!("/proc/{tgid}/task/{tid}");
    let rest = [thread.as_bytes(), process.as_bytes()]
        .into_iter()
        .find_map(|p| path.strip_prefix(p).filter(|r| r.starts_with(b"/")))?;
    let (first, rest) = split_first(&rest[1..]);
    match first {
        b"cwd" => Some((ProcStart::Cwd, rest)),
        b"root" => Some((ProcStart::Root, rest)),
        b"fd" => {
            let (n, rest) = split_first(rest.strip_prefix(b"/")?);
            let n = std::str::from_utf8(n).ok()?.parse().ok()?;
            Some((ProcStart::Fd(n), rest))
        }
        _ => None,
    }
}

/// The first component of `path` and what follows it (from its `/`).
fn split_first(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().position(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, &[]),
    }
}

/// What the supervisor takes from the caller before resolving anything.
pub(crate) enum Held {
    /// Resolve `path` (as the caller) from `base` (`None`: an absolute
    /// path, from the root, checked to be the caller's).
    Lookup {
        base: Option<OwnedFd>,
        path: CString,
        follow: bool,
    },
    /// The object is this descriptor (its working directory, or a
    /// duplicate of its descriptor), `fd_call`: acted on with the `f*`
    /// syscalls.
    Object { fd: OwnedFd, fd_call: bool },
}

/// Takes what `subject` names from thread `tid` of process `tgid`. `root`
/// is this process's root directory: a caller whose root differs is
/// refused (no run can change its root: `chroot`, `pivot_root`, `setns`
/// and new namespaces are refused to every run).
pub(crate) fn gather(
    tid: libc::pid_t,
    tgid: libc::pid_t,
    subject: &Subject,
    root: FileId,
) -> Result<Held, Stop> {
    match subject {
        Subject::Fd(fd) => Ok(Held::Object {
            fd: their_fd(tid, *fd)?,
            fd_call: true,
        }),
        Subject::Empty { dirfd } => {
            let fd = match *dirfd {
                libc::AT_FDCWD => proc_link(tid, "cwd", 0)?,
                d => their_fd(tid, d)?,
            };
            Ok(Held::Object { fd, fd_call: false })
        }
        Subject::Path {
            dirfd,
            path,
            follow,
        } => {
            let theirs = proc_link(tid, "root", libc::O_DIRECTORY)?;
            let same_root = file_id(theirs.as_fd())
                .map_err(|e| Stop::Failed(CallError::io("the caller's root", e)))?;
            if same_root != root {
                return Err(Stop::Failed(CallError::Other(
                    "the caller's root directory is not the launcher's".into(),
                )));
            }
            let path = as_caller_proc(path, tgid, tid);
            if let Some((start, rest)) = proc_start(path.to_bytes(), tgid, tid) {
                let base = match start {
                    ProcStart::Fd(n) => their_fd(tid, n)?,
                    ProcStart::Cwd => proc_link(tid, "cwd", 0)?,
                    ProcStart::Root => proc_link(tid, "root", 0)?,
                };
                let rest: Vec<u8> = rest.iter().copied().skip_while(|b| *b == b'/').collect();
                if rest.is_empty() {
                    // The link itself is not a file whose metadata a run
                    // may change; following it, the file it leads to.
                    return match follow {
                        true => Ok(Held::Object {
                            fd: base,
                            fd_call: false,
                        }),
                        false => Err(Stop::Failed(CallError::Other(
                            "a /proc link itself is no file of the run's".into(),
                        ))),
                    };
                }
                let rest = CString::new(rest).map_err(|_| Stop::Errno(libc::EINVAL))?;
                return Ok(Held::Lookup {
                    base: Some(base),
                    path: rest,
                    follow: *follow,
                });
            }
            let base = match (path.to_bytes().first(), *dirfd) {
                (Some(b'/'), _) => None,
                (_, libc::AT_FDCWD) => Some(proc_link(tid, "cwd", libc::O_DIRECTORY)?),
                (_, d) => Some(their_fd(tid, d)?),
            };
            Ok(Held::Lookup {
                base,
                path,
                follow: *follow,
            })
        }
    }
}

fn openat2(base: Option<&OwnedFd>, path: &CStr, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain integers; zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC | flags) as u64;
    how.resolve = resolve;
    let dir = base.map_or(libc::AT_FDCWD, |b| b.as_raw_fd());
    // SAFETY: a valid C string and open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    owned(fd)
}

/// Resolves `path` from `base` to one `O_PATH` descriptor, as the calling
/// thread (the caller's credentials: search permission on each directory).
/// An error is the caller's own (`ENOENT`, `EACCES`, `ELOOP`, ...).
///
/// A path without a symlink is one `openat2` (`RESOLVE_NO_SYMLINKS`). A
/// path with one is walked a component at a time ([`walk`]), because no
/// link into `/proc` may be followed here: looked up in this process,
/// `/proc/self/...` reached through a symlink (`/dev/fd/N`, `/dev/stdout`)
/// would be this process's, not the caller's, and whether this process
/// happens to hold descriptor `N` must not change the answer. The
/// caller's own links at the start of a path were followed by [`gather`];
/// a path that needs any other link in `/proc` is refused, a symlink loop
/// is `ELOOP`.
pub(crate) fn resolve(base: Option<&OwnedFd>, path: &CStr, follow: bool) -> Result<OwnedFd, Stop> {
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    match openat2(base, path, nofollow, libc::RESOLVE_NO_SYMLINKS) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => walk(base, path.to_bytes(), follow),
        Err(e) => Err(caller_errno(e)),
    }
}

/// The caller's answer for a failed lookup.
fn caller_errno(e: io::Error) -> Stop {
    Stop::Errno(e.raw_os_error().unwrap_or(libc::EPERM))
}

/// At most this many symlinks in one lookup, as the kernel's
/// `MAXSYMLINKS`; one more is `ELOOP`.
const MAX_SYMLINKS: usize = 40;

/// `PROC_SUPER_MAGIC`: the `f_type` of every procfs mount.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Whether `fd` is on a procfs mount.
fn on_procfs(fd: &OwnedFd) -> Result<bool, Stop> {
    // SAFETY: a zeroed statfs is a valid out-buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the kernel checks the descriptor.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Stop::Failed(CallError::io("fstatfs", last_error())));
    }
    Ok(st.f_type as i64 == PROC_SUPER_MAGIC)
}

/// The text of the symlink `fd` holds (an `O_PATH | O_NOFOLLOW` descriptor).
fn link_text(fd: &OwnedFd) -> Result<Vec<u8>, Stop> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is as long as passed; an empty path names `fd`.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(caller_errno(last_error()));
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// `fs.protected_symlinks`, read once: whether the kernel refuses to
/// follow a symlink in a sticky world-writable directory (`/tmp`) that
/// neither the follower nor the directory's owner owns.
fn protected_symlinks() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/protected_symlinks").map_or(true, |v| v.trim() != "0")
    })
}

/// The kernel's `may_follow_link`: whether a follower with file system
/// uid `fsuid` may follow a symlink owned by `link_uid` in a directory
/// of mode `dir_mode` owned by `dir_uid`, when symlinks are protected.
fn may_follow_link(fsuid: libc::uid_t, link_uid: libc::uid_t, dir_mode: u32, dir_uid: u32) -> bool {
    let sticky_world_writable = libc::S_ISVTX | libc::S_IWOTH;
    link_uid == fsuid
        || dir_mode & sticky_world_writable != sticky_world_writable
        || dir_uid == link_uid
}

/// Whether the calling thread may follow the symlink `link` (its `stat`)
/// found in `dir`, as the kernel would decide for it.
fn may_follow(dir: &OwnedFd, link: &libc::stat) -> bool {
    if !protected_symlinks() {
        return true;
    }
    let Ok(d) = stat_of(dir.as_fd()) else {
        return false;
    };
    // setfsuid(-1) changes nothing and returns this thread's fsuid.
    // SAFETY: an integer argument.
    let fsuid = unsafe { libc::syscall(libc::SYS_setfsuid, u32::MAX) } as libc::uid_t;
    may_follow_link(fsuid, link.st_uid, d.st_mode, d.st_uid)
}

/// The kernel's lookup of `path` from `base` (`None`: the current working
/// directory for a relative path), one component at a time, each opened
/// `O_PATH | O_NOFOLLOW` from the descriptor of the one before (so the
/// kernel still checks search permission, mounts and `..` at the root),
/// symlinks expanded here, under the kernel's `fs.protected_symlinks`
/// rule ([`may_follow`]): one whose own directory is on procfs (`self`,
/// `thread-self`, `fd/N`, `cwd`, `exe`, ...) refuses the call.
fn walk(base: Option<&OwnedFd>, path: &[u8], follow: bool) -> Result<OwnedFd, Stop> {
    let fail = |what: &str| Stop::Failed(CallError::Other(what.into()));
    let root = || {
        open_path(None, c"/", libc::O_DIRECTORY).map_err(|e| Stop::Failed(CallError::io("/", e)))
    };
    if path.is_empty() {
        return Err(Stop::Errno(libc::ENOENT));
    }
    let mut dir = match (path[0], base) {
        (b'/', _) => root()?,
        (_, Some(b)) => b
            .try_clone()
            .map_err(|e| Stop::Failed(CallError::io("dup", e)))?,
        (_, None) => open_path(None, c".", libc::O_DIRECTORY)
            .map_err(|e| Stop::Failed(CallError::io(".", e)))?,
    };
    // What is left to look up, first component last; a trailing `/` is a
    // final `.`, so that the last name must be a directory (and a symlink
    // there is followed, as by the kernel).
    let mut left: Vec<Vec<u8>> = Vec::new();
    let push = |left: &mut Vec<Vec<u8>>, p: &[u8]| {
        if p.ends_with(b"/") {
            left.push(b".".to_vec());
        }
        for c in p.split(|b| *b == b'/').rev() {
            if !c.is_empty() {
                left.push(c.to_vec());
            }
        }
    };
    push(&mut left, path);
    let mut links = 0;
    while let Some(name) = left.pop() {
        let last = left.is_empty();
        let c = CString::new(name).map_err(|_| Stop::Errno(libc::EINVAL))?;
        let next = open_path(Some(dir.as_fd()), &c, libc::O_NOFOLLOW).map_err(caller_errno)?;
        let st = stat_of(next.as_fd()).map_err(|e| Stop::Failed(CallError::io("fstat", e)))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK || (last && !follow) {
            dir = next;
            continue;
        }
        if !may_follow(&dir, &st) {
            return Err(Stop::Errno(libc::EACCES));
        }
        if on_procfs(&next)? {
            return Err(fail(
                "the path leads through a /proc link the supervisor does not follow",
            ));
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(Stop::Errno(libc::ELOOP));
        }
        let text = link_text(&next)?;
        if text.is_empty() {
            return Err(Stop::Errno(libc::ENOENT));
        }
        if text[0] == b'/' {
            dir = root()?;
        }
        push(&mut left, &text);
    }
    Ok(dir)
}

/// The magic link naming `fd` in this thread's descriptor table (the same
/// table as the process's): following it reaches the file itself, and a
/// symlink held by an `O_PATH` descriptor is not followed further.
fn magic(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/thread-self/fd/{}", fd.as_raw_fd()))
        .unwrap_or_else(|_| c"/proc/thread-self/fd/-1".to_owned())
}

/// The target as the decision sees it: the path the kernel gives the
/// descriptor, and the identity of `/` and each directory down to it,
/// walked again from `/` without following any symlink and checked to end
/// at the very same file. A file without a path (a pipe, a socket, an
/// anonymous file, a deleted file) has no target.
pub(crate) fn describe(fd: &OwnedFd) -> Result<Target, CallError> {
    let link = format!("/proc/thread-self/fd/{}", fd.as_raw_fd());
    let path =
        std::fs::read_link(&link).map_err(|e| CallError::io("reading the file's path", e))?;
    let not_on_a_path = || CallError::Other(format!("{} is not on a path", path.display()));
    if !path.is_absolute() {
        return Err(not_on_a_path());
    }
    let me = file_id(fd.as_fd()).map_err(|e| CallError::io("fstat", e))?;
    let mut dir =
        open_path(None, c"/", libc::O_DIRECTORY).map_err(|e| CallError::io("opening /", e))?;
    let mut chain = vec![file_id(dir.as_fd()).map_err(|e| CallError::io("fstat /", e))?];
    for c in path.components().skip(1) {
        let Component::Normal(name) = c else {
            return Err(not_on_a_path());
        };
        let name = cpath(Path::new(name))?;
        let next = open_path(Some(dir.as_fd()), &name, libc::O_NOFOLLOW).map_err(|e| {
            CallError::Other(format!(
                "{} changed while it was checked: {e}",
                path.display()
            ))
        })?;
        chain.push(file_id(next.as_fd()).map_err(|e| CallError::io("fstat", e))?);
        dir = next;
    }
    if chain.last() != Some(&me) {
        return Err(CallError::Other(format!(
            "{} changed while it was checked",
            path.display()
        )));
    }
    Ok(Target { path, chain })
}

fn rc(v: libc::c_long) -> Result<i64, i32> {
    if v < 0 {
        return Err(last_error().raw_os_error().unwrap_or(libc::EPERM));
    }
    Ok(v)
}

fn timespecs(t: &Option<[(i64, i64); 2]>) -> Option<[libc::timespec; 2]> {
    t.map(|t| {
        t.map(|(s, ns)| libc::timespec {
            tv_sec: s as libc::time_t,
            tv_nsec: ns as libc::c_long,
        })
    })
}

/// Makes the change on `fd`, as the calling thread (the caller's
/// credentials). `fd_call`: `fd` is the caller's own open file, acted on
/// with the `f*` syscalls (as the caller's call would have); otherwise an
/// `O_PATH` descriptor (or the caller's directory), acted on through
/// `AT_EMPTY_PATH` or its magic link, never through a name.
pub(crate) fn act(op: &Op, fd: &OwnedFd, fd_call: bool) -> Result<i64, i32> {
    let raw = fd.as_raw_fd();
    let empty = c"".as_ptr();
    let at_empty = libc::AT_EMPTY_PATH;
    // SAFETY (each call below): valid descriptors, C strings and buffers
    // that outlive the call; the lengths passed are the buffers' own.
    unsafe {
        match op {
            Op::Chmod(mode) if fd_call => rc(libc::fchmod(raw, *mode).into()),
            Op::Chmod(mode) => {
                let r = libc::syscall(SYS_FCHMODAT2, raw, empty, *mode, at_empty);
                if r < 0 && last_error().raw_os_error() == Some(libc::ENOSYS) {
                    // Before 6.6: the magic link (a symlink is not followed).
                    return rc(libc::chmod(magic(fd).as_ptr(), *mode).into());
                }
                rc(r)
            }
            Op::Chown(uid, gid) if fd_call => rc(libc::fchown(raw, *uid, *gid).into()),
            Op::Chown(uid, gid) => rc(libc::fchownat(raw, empty, *uid, *gid, at_empty).into()),
            Op::Times(t) => {
                let ts = timespecs(t);
                let ptr = ts.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
                // The raw syscall: the C library refuses a null path.
                let (path, flags) = if fd_call {
                    (std::ptr::null(), 0)
                } else {
                    (empty, at_empty)
                };
                rc(libc::syscall(libc::SYS_utimensat, raw, path, ptr, flags))
            }
            Op::SetXattr { name, value, flags } => {
                let v = value.as_ptr().cast();
                if fd_call {
                    rc(libc::fsetxattr(raw, name.as_ptr(), v, value.len(), *flags).into())
                } else {
                    let m = magic(fd);
                    rc(libc::setxattr(m.as_ptr(), name.as_ptr(), v, value.len(), *flags).into())
                }
            }
            Op::RemoveXattr(name) if fd_call => rc(libc::fremovexattr(raw, name.as_ptr()).into()),
            Op::RemoveXattr(name) => {
                rc(libc::removexattr(magic(fd).as_ptr(), name.as_ptr()).into())
            }
            Op::SetAttr(attr) => {
                let mut buf = attr.clone();
                let (dir, path, flags, keep);
                if fd_call {
                    (dir, path, flags) = (raw, std::ptr::null(), at_empty);
                } else {
                    keep = magic(fd);
                    (dir, path, flags) = (libc::AT_FDCWD, keep.as_ptr(), 0);
                }
                rc(libc::syscall(
                    SYS_FILE_SETATTR,
                    dir,
                    path,
                    buf.as_mut_ptr(),
                    buf.len(),
                    flags,
                ))
            }
            Op::Ioctl { cmd, arg } => {
                // Room for the largest argument, zero beyond what was read.
                let mut buf = [0u8; 32];
                let n = arg.len().min(buf.len());
                buf[..n].copy_from_slice(&arg[..n]);
                rc(libc::ioctl(raw, *cmd as libc::Ioctl, buf.as_mut_ptr()).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_shared_numbers_are_the_tables() {
        assert_eq!(
            crate::policy::number_of("file_setattr"),
            Some(SYS_FILE_SETATTR)
        );
    }

    #[test]
    fn proc_self_means_the_caller() {
        let p = |s: &CStr| as_caller_proc(s, 10, 11);
        assert_eq!(p(c"/proc/self/fd/3"), c"/proc/10/fd/3".to_owned());
        assert_eq!(p(c"/proc/self"), c"/proc/10".to_owned());
        assert_eq!(
            p(c"/proc/thread-self/cwd"),
            c"/proc/10/task/11/cwd".to_owned()
        );
        assert_eq!(p(c"/proc/selfish"), c"/proc/selfish".to_owned());
        assert_eq!(p(c"rel/proc/self"), c"rel/proc/self".to_owned());
    }

    #[test]
    fn the_callers_own_proc_links_are_recognised() {
        fn p(s: &[u8]) -> Option<(ProcStart, &[u8])> {
            proc_start(s, 10, 11)
        }
        assert_eq!(p(b"/proc/10/fd/3"), Some((ProcStart::Fd(3), &b""[..])));
        assert_eq!(
            p(b"/proc/10/fd/3/a/b"),
            Some((ProcStart::Fd(3), &b"/a/b"[..]))
        );
        assert_eq!(
            p(b"/proc/10/task/11/cwd/x"),
            Some((ProcStart::Cwd, &b"/x"[..]))
        );
        assert_eq!(p(b"/proc/10/root"), Some((ProcStart::Root, &b""[..])));
        for other in [
            &b"/proc/100/fd/3"[..],
            b"/proc/10/task/12/fd/3",
            b"/proc/10/fd/x",
            b"/proc/10/exe",
            b"/proc/10",
            b"/tmp/proc/10/fd/3",
        ] {
            assert_eq!(p(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn no_magic_link_is_followed_by_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let f = std::fs::File::open(&file).unwrap();
        // Here, /proc/self is this process: a path through it is refused.
        let via_self = format!("/proc/self/fd/{}", f.as_raw_fd());
        let via_self = CString::new(via_self).unwrap();
        assert!(matches!(
            resolve(None, &via_self, true),
            Err(Stop::Failed(_))
        ));
        // Reached through a symlink (as /dev/fd is), the same link is
        // refused, whether or not this process holds such a descriptor.
        std::os::unix::fs::symlink("/proc/self/fd", dir.path().join("fd")).unwrap();
        for n in [f.as_raw_fd(), 99_999] {
            let via_link = cpath(&dir.path().join(format!("fd/{n}"))).unwrap();
            match resolve(None, &via_link, true) {
                Err(Stop::Failed(e)) => assert!(e.to_string().contains("/proc link"), "{e}"),
                Err(Stop::Errno(e)) => panic!("fd/{n}: errno {e}"),
                Ok(_) => panic!("fd/{n} was followed"),
            }
        }
        // A symlink loop is the caller's own ELOOP.
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let looped = cpath(&dir.path().join("loop")).unwrap();
        assert!(matches!(
            resolve(None, &looped, true),
            Err(Stop::Errno(libc::ELOOP))
        ));
    }

    /// What the kernel's own lookup gives: the file, or the errno.
    fn kernel(path: &CStr, follow: bool) -> Result<FileId, i32> {
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        openat2(None, path, nofollow, 0)
            .map(|fd| file_id(fd.as_fd()).unwrap())
            .map_err(|e| e.raw_os_error().unwrap())
    }

    #[test]
    fn a_symlink_in_a_sticky_world_writable_directory_is_followed_as_the_kernel_would() {
        let tmp = 0o41777;
        // Another user's link in /tmp: refused.
        assert!(!may_follow_link(1000, 1001, tmp, 0));
        // One's own link, or the directory owner's.
        assert!(may_follow_link(1000, 1000, tmp, 0));
        assert!(may_follow_link(1000, 0, tmp, 0));
        // Not sticky, or not world-writable: anyone's link.
        assert!(may_follow_link(1000, 1001, 0o40777, 0));
        assert!(may_follow_link(1000, 1001, 0o41775, 0));
    }

    #[test]
    fn the_walk_finds_what_the_kernel_finds() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let r = |p: &str| root.join(p);
        std::fs::create_dir_all(r("a/b/c")).unwrap();
        std::fs::write(r("a/b/f"), "x").unwrap();
        symlink(r("a/b"), r("abs")).unwrap();
        symlink("a/b/f", r("rel")).unwrap();
        symlink("../f", r("a/b/c/up")).unwrap();
        symlink("abs", r("chain")).unwrap();
        symlink("chain/c/up", r("deep")).unwrap();
        symlink("missing", r("dangling")).unwrap();
        symlink("loop2", r("loop1")).unwrap();
        symlink("loop1", r("loop2")).unwrap();
        symlink("/", r("slash")).unwrap();
        symlink("a/b/f/", r("filedir")).unwrap();
        let cases = [
            "abs",
            "abs/",
            "abs/f",
            "abs/f/",
            "abs/c/..",
            "abs/c/../f",
            "abs/..",
            "rel",
            "rel/",
            "a/b/c/up",
            "chain",
            "chain/c/up",
            "deep",
            "deep/",
            "dangling",
            "dangling/",
            "loop1",
            "loop1/x",
            "slash",
            "slash/..",
            "filedir",
            "a//b///f",
            "a/./b/./f",
            "a/b/f/.",
            "a/b/f/..",
            "nothing/f",
            "abs/c/up/x",
        ];
        for case in cases {
            let path = cpath(&r(case)).unwrap();
            let path = if case.ends_with('/') {
                CString::new([path.as_bytes(), b"/"].concat()).unwrap()
            } else {
                path
            };
            for follow in [true, false] {
                let walked = walk(None, path.as_bytes(), follow)
                    .map(|fd| file_id(fd.as_fd()).unwrap())
                    .map_err(|e| match e {
                        Stop::Errno(e) => e,
                        Stop::Failed(e) => panic!("{case}: {e}"),
                    });
                assert_eq!(walked, kernel(&path, follow), "{case}, follow {follow}");
                let resolved = resolve(None, &path, follow)
                    .map(|fd| file_id(fd.as_fd()).unwrap())
                    .map_err(|e| match e {
                        Stop::Errno(e) => e,
                        Stop::Failed(e) => panic!("{case}: {e}"),
                    });
                assert_eq!(resolved, walked, "{case}, follow {follow}");
            }
        }
        // Relative to a base descriptor.
        let base = open_path(None, &cpath(&r("a")).unwrap(), libc::O_DIRECTORY).unwrap();
        let fd = walk(Some(&base), b"b/c/up", true).unwrap();
        assert_eq!(
            file_id(fd.as_fd()).unwrap(),
            FileId::of_path(&r("a/b/f")).unwrap()
        );
        assert!(matches!(
            walk(Some(&base), b"", true),
            Err(Stop::Errno(libc::ENOENT))
        ));
    }

    #[test]
    fn a_target_is_its_kernel_path_and_the_directories_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/f"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("d/f"), root.join("link")).unwrap();
        let via_link = cpath(&root.join("link")).unwrap();
        let fd = resolve(None, &via_link, true).unwrap();
        let t = describe(&fd).unwrap();
        assert_eq!(t.path, root.join("d/f"));
        assert_eq!(t.chain.len(), root.join("d/f").components().count());
        assert_eq!(
            t.chain.last(),
            Some(&FileId::of_path(&root.join("d/f")).unwrap())
        );
        assert_eq!(t.chain[0], FileId::of_path(Path::new("/")).unwrap());
        // Not following: the symlink itself.
        let fd = resolve(None, &via_link, false).unwrap();
        assert_eq!(describe(&fd).unwrap().path, root.join("link"));
        // A deleted file, a pipe: no path to decide on.
        let gone = resolve(None, &cpath(&root.join("d/f")).unwrap(), true).unwrap();
        std::fs::remove_file(root.join("d/f")).unwrap();
        assert!(describe(&gone).is_err());
        let mut p = [0; 2];
        // SAFETY: room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the pipe's descriptors are ours.
        let (r, _w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        assert!(describe(&r).is_err());
    }

    #[test]
    fn changes_go_through_the_descriptor_and_never_past_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let file = root.join("f");
        std::fs::write(&file, "x").unwrap();
        std::os::unix::fs::symlink(&file, root.join("l")).unwrap();
        let fd = resolve(None, &cpath(&file).unwrap(), true).unwrap();
        assert_eq!(act(&Op::Chmod(0o604), &fd, false), Ok(0));
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&file), 0o604);
        assert_eq!(act(&Op::Times(Some([(10, 0), (20, 0)])), &fd, false), Ok(0));
        assert_eq!(
            std::os::unix::fs::MetadataExt::mtime(&std::fs::metadata(&file).unwrap()),
            20
        );
        // The symlink itself (lchown, fchmodat2 with AT_SYMLINK_NOFOLLOW):
        // its mode cannot change, and the file it points to does not.
        let link = resolve(None, &cpath(&root.join("l")).unwrap(), false).unwrap();
        assert_eq!(act(&Op::Chmod(0o600), &link, false), Err(libc::EOPNOTSUPP));
        assert_eq!(mode(&file), 0o604);
        // An O_PATH descriptor is not an open file for the f* calls.
        assert_eq!(act(&Op::Chmod(0o600), &fd, true), Err(libc::EBADF));
    }
}
