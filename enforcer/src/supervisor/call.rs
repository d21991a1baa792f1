//! A notification as a call: which object it names (a path relative to a
//! directory, or a descriptor) and which change it asks for, with every
//! argument in the caller's memory copied once, here, and never read again.
//!
//! The checks the kernel makes on the arguments before it looks up the path
//! (flags, sizes, the name of an attribute, the times) are made here in the
//! same order, with the same errors, so the caller sees what the kernel
//! would have answered.

use super::error::{CallError, Stop};
use super::filter::IOCTLS;
use std::ffi::CString;
use std::io;

/// `XATTR_NAME_MAX + 1`.
const XATTR_NAME_BUF: usize = 256;
/// `XATTR_SIZE_MAX`.
const XATTR_SIZE_MAX: u64 = 65536;
/// `XATTR_ARGS_SIZE_VER0`: `struct xattr_args` (value, size, flags).
const XATTR_ARGS_SIZE_VER0: u64 = 16;
/// `FILE_ATTR_SIZE_VER0`: `struct file_attr` up to `fa_cowextsize`.
const FILE_ATTR_SIZE_VER0: u64 = 24;
/// The kernel's bound on extensible structs (`PAGE_SIZE`, 4 KiB at least).
const STRUCT_MAX: u64 = 4096;
const PATH_MAX: usize = libc::PATH_MAX as usize;
const AT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
/// `c_long` is `i64` on the 64-bit architectures the supervisor runs on.
const UTIME_NOW: i64 = libc::UTIME_NOW;
const UTIME_OMIT: i64 = libc::UTIME_OMIT;

/// What a call changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Chmod(u32),
    Chown(u32, u32),
    /// `None`: both to the current time.
    Times(Option<[(i64, i64); 2]>),
    SetXattr {
        name: CString,
        value: Vec<u8>,
        flags: i32,
    },
    RemoveXattr(CString),
    /// `struct file_attr` as the caller gave it (its size included).
    SetAttr(Vec<u8>),
    /// An `ioctl` command and the bytes of its argument the kernel reads.
    Ioctl {
        cmd: u32,
        arg: Vec<u8>,
    },
}

/// What a call names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A path, relative to `dirfd` (`AT_FDCWD`: the working directory)
    /// unless absolute; the last symlink followed or not.
    Path {
        dirfd: i32,
        path: CString,
        follow: bool,
    },
    /// `AT_EMPTY_PATH` with an empty path: what `dirfd` refers to, whatever
    /// kind of descriptor it is (`O_PATH` included).
    Empty { dirfd: i32 },
    /// The caller's open file: acted on as the `f*` syscalls act (an
    /// `O_PATH` descriptor is `EBADF` there).
    Fd(i32),
}

/// A decoded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    /// The syscall's name (`ioctl(FS_IOC_SETFLAGS)` for an ioctl).
    pub name: String,
    pub subject: Subject,
    pub op: Op,
}

/// The caller's memory, read with `process_vm_readv`.
pub(crate) trait Memory {
    /// Reads `buf.len()` bytes at `addr`, or fewer up to an unmapped page.
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// The memory of thread `tid`.
pub(crate) struct ThreadMemory(pub libc::pid_t);

impl Memory for ThreadMemory {
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: one local buffer we own, one remote range; the kernel
        // checks the remote side.
        let n = unsafe { libc::process_vm_readv(self.0, &local, 1, &remote, 1, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

fn memory_error(e: io::Error) -> Stop {
    match e.raw_os_error() {
        // A bad pointer of the caller: the kernel's own answer.
        Some(libc::EFAULT) => Stop::Errno(libc::EFAULT),
        _ => Stop::Failed(CallError::io("reading the caller's memory", e)),
    }
}

/// `len` bytes at `addr`, exactly.
fn bytes(mem: &dyn Memory, addr: u64, len: u64) -> Result<Vec<u8>, Stop> {
    let len = usize::try_from(len).map_err(|_| Stop::Errno(libc::EFAULT))?;
    let mut buf = vec![0u8; len];
    if len == 0 {
        return Ok(buf);
    }
    if addr == 0 {
        return Err(Stop::Errno(libc::EFAULT));
    }
    let n = mem.read_into(addr, &mut buf).map_err(memory_error)?;
    if n != len {
        return Err(Stop::Errno(libc::EFAULT));
    }
    Ok(buf)
}

/// A NUL-terminated string at `addr` of at most `max - 1` bytes (`too_long`
/// when there is no NUL in `max` bytes). Read a page piece at a time, so a
/// string that ends just before an unmapped page is read.
fn string(mem: &dyn Memory, addr: u64, max: usize, too_long: i32) -> Result<CString, Stop> {
    if addr == 0 {
        return Err(Stop::Errno(libc::EFAULT));
    }
    let mut out = Vec::new();
    while out.len() < max {
        let at = addr
            .checked_add(out.len() as u64)
            .ok_or(Stop::Errno(libc::EFAULT))?;
        let to_page = 4096 - (at % 4096) as usize;
        let mut chunk = vec![0u8; to_page.min(max - out.len())];
        let n = mem.read_into(at, &mut chunk).map_err(memory_error)?;
        if n == 0 {
            return Err(Stop::Errno(libc::EFAULT));
        }
        chunk.truncate(n);
        if let Some(end) = chunk.iter().position(|b| *b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return CString::new(out).map_err(|_| Stop::Errno(libc::EFAULT));
        }
        out.extend_from_slice(&chunk);
    }
    Err(Stop::Errno(too_long))
}

pub(crate) fn path(mem: &dyn Memory, addr: u64) -> Result<CString, Stop> {
    string(mem, addr, PATH_MAX, libc::ENAMETOOLONG)
}

/// `dirfd`, a path and `AT_*` flags. `fd_when_empty`: the syscall takes an
/// empty path with `AT_EMPTY_PATH` as its `f*` twin does (the `*xattrat`
/// calls and `file_setattr`), not as a lookup that accepts `O_PATH`.
fn at(
    mem: &dyn Memory,
    dirfd: i32,
    addr: u64,
    flags: i32,
    fd_when_empty: bool,
) -> Result<Subject, Stop> {
    if flags & !AT_FLAGS != 0 {
        return Err(Stop::Errno(libc::EINVAL));
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let p = match addr {
        0 if empty_ok => CString::default(),
        _ => path(mem, addr)?,
    };
    if p.is_empty() {
        return match (empty_ok, fd_when_empty && dirfd >= 0) {
            (false, _) => Err(Stop::Errno(libc::ENOENT)),
            (true, true) => Ok(Subject::Fd(dirfd)),
            (true, false) => Ok(Subject::Empty { dirfd }),
        };
    }
    Ok(Subject::Path {
        dirfd,
        path: p,
        follow: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
    })
}

fn cwd_path(mem: &dyn Memory, addr: u64, follow: bool) -> Result<Subject, Stop> {
    let p = path(mem, addr)?;
    if p.is_empty() {
        return Err(Stop::Errno(libc::ENOENT));
    }
    Ok(Subject::Path {
        dirfd: libc::AT_FDCWD,
        path: p,
        follow,
    })
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    i64::from_ne_bytes(w)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Two `(seconds, sub-second)` pairs at `addr` (`timespec` or `timeval`,
/// both two 64-bit words here), or `None` for a null pointer.
fn two_times(mem: &dyn Memory, addr: u64) -> Result<Option<[(i64, i64); 2]>, Stop> {
    if addr == 0 {
        return Ok(None);
    }
    let b = bytes(mem, addr, 32)?;
    Ok(Some([
        (i64_at(&b, 0), i64_at(&b, 8)),
        (i64_at(&b, 16), i64_at(&b, 24)),
    ]))
}

/// `utimes`/`futimesat`: microseconds, checked, as nanoseconds.
fn timevals(mem: &dyn Memory, addr: u64) -> Result<Option<[(i64, i64); 2]>, Stop> {
    let Some(t) = two_times(mem, addr)? else {
        return Ok(None);
    };
    let mut out = t;
    for (i, (s, us)) in t.into_iter().enumerate() {
        if !(0..1_000_000).contains(&us) {
            return Err(Stop::Errno(libc::EINVAL));
        }
        out[i] = (s, us * 1000);
    }
    Ok(Some(out))
}

fn nsec_valid(ns: i64) -> bool {
    ns == UTIME_NOW || ns == UTIME_OMIT || (0..1_000_000_000).contains(&ns)
}

/// What `setxattr_copy` checks and copies: flags, the name, the value.
fn xattr_set(mem: &dyn Memory, name: u64, value: u64, size: u64, flags: u64) -> Result<Op, Stop> {
    let flags = flags as i32;
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
        return Err(Stop::Errno(libc::EINVAL));
    }
    let name = xattr_name(mem, name)?;
    if size > XATTR_SIZE_MAX {
        return Err(Stop::Errno(libc::E2BIG));
    }
    let value = bytes(mem, value, size)?;
    Ok(Op::SetXattr { name, value, flags })
}

fn xattr_name(mem: &dyn Memory, addr: u64) -> Result<CString, Stop> {
    let name = string(mem, addr, XATTR_NAME_BUF, libc::ERANGE)?;
    if name.is_empty() {
        return Err(Stop::Errno(libc::ERANGE));
    }
    Ok(name)
}

/// An extensible struct of `size` bytes (at least `min`, at most a page).
fn extensible(mem: &dyn Memory, addr: u64, size: u64, min: u64) -> Result<Vec<u8>, Stop> {
    if size > STRUCT_MAX {
        return Err(Stop::Errno(libc::E2BIG));
    }
    if size < min {
        return Err(Stop::Errno(libc::EINVAL));
    }
    bytes(mem, addr, size)
}

/// What a notification asks, or the answer it gets without any object
/// being looked at (the caller's arguments are wrong, or it asks for
/// nothing: `utimensat` with both times `UTIME_OMIT`).
#[derive(Debug)]
pub(crate) enum Decoded {
    Call(Call),
    Return(i64),
}

/// Decodes syscall `name` with arguments `a`, reading the caller's memory.
pub(crate) fn decode(name: &str, a: &[u64; 6], mem: &dyn Memory) -> Result<Decoded, Stop> {
    let fd = |v: u64| v as i32;
    let at_flags = |v: u64| v as u32 as i32;
    let (subject, op) = match name {
        "chmod" => (cwd_path(mem, a[0], true)?, Op::Chmod(a[1] as u32)),
        "fchmod" => (Subject::Fd(fd(a[0])), Op::Chmod(a[1] as u32)),
        "fchmodat" => (at(mem, fd(a[0]), a[1], 0, false)?, Op::Chmod(a[2] as u32)),
        "fchmodat2" => (
            at(mem, fd(a[0]), a[1], at_flags(a[3]), false)?,
            Op::Chmod(a[2] as u32),
        ),
        "chown" | "lchown" => (
            cwd_path(mem, a[0], name == "chown")?,
            Op::Chown(a[1] as u32, a[2] as u32),
        ),
        "fchown" => (Subject::Fd(fd(a[0])), Op::Chown(a[1] as u32, a[2] as u32)),
        "fchownat" => (
            at(mem, fd(a[0]), a[1], at_flags(a[4]), false)?,
            Op::Chown(a[2] as u32, a[3] as u32),
        ),
        "utime" => {
            // struct utimbuf { time_t actime; time_t modtime; }
            let times = match a[1] {
                0 => None,
                p => {
                    let b = bytes(mem, p, 16)?;
                    Some([(i64_at(&b, 0), 0), (i64_at(&b, 8), 0)])
                }
            };
            (cwd_path(mem, a[0], true)?, Op::Times(times))
        }
        "utimes" => {
            let times = timevals(mem, a[1])?;
            (cwd_path(mem, a[0], true)?, Op::Times(times))
        }
        "futimesat" => {
            let times = timevals(mem, a[2])?;
            let dirfd = fd(a[0]);
            let subject = match a[1] {
                0 if dirfd != libc::AT_FDCWD => Subject::Fd(dirfd),
                _ => at(mem, dirfd, a[1], 0, false)?,
            };
            (subject, Op::Times(times))
        }
        "utimensat" => {
            let times = two_times(mem, a[2])?;
            if let Some([(_, n0), (_, n1)]) = times {
                if n0 == UTIME_OMIT && n1 == UTIME_OMIT {
                    return Ok(Decoded::Return(0));
                }
                if !nsec_valid(n0) || !nsec_valid(n1) {
                    return Err(Stop::Errno(libc::EINVAL));
                }
            }
            let (dirfd, flags) = (fd(a[0]), at_flags(a[3]));
            if flags & !AT_FLAGS != 0 {
                return Err(Stop::Errno(libc::EINVAL));
            }
            let subject = match a[1] {
                0 if dirfd != libc::AT_FDCWD && flags != 0 => {
                    return Err(Stop::Errno(libc::EINVAL));
                }
                0 if dirfd != libc::AT_FDCWD => Subject::Fd(dirfd),
                _ => at(mem, dirfd, a[1], flags, false)?,
            };
            (subject, Op::Times(times))
        }
        "setxattr" | "lsetxattr" => {
            let op = xattr_set(mem, a[1], a[2], a[3], a[4])?;
            (cwd_path(mem, a[0], name == "setxattr")?, op)
        }
        "fsetxattr" => (
            Subject::Fd(fd(a[0])),
            xattr_set(mem, a[1], a[2], a[3], a[4])?,
        ),
        "setxattrat" => {
            // (dirfd, path, at_flags, name, struct xattr_args *, size)
            let args = extensible(mem, a[4], a[5], XATTR_ARGS_SIZE_VER0)?;
            if args[XATTR_ARGS_SIZE_VER0 as usize..]
                .iter()
                .any(|b| *b != 0)
            {
                return Err(Stop::Errno(libc::E2BIG));
            }
            let flags = at_flags(a[2]);
            if flags & !AT_FLAGS != 0 {
                return Err(Stop::Errno(libc::EINVAL));
            }
            let (value, size, xflags) =
                (i64_at(&args, 0) as u64, u32_at(&args, 8), u32_at(&args, 12));
            let op = xattr_set(mem, a[3], value, u64::from(size), u64::from(xflags))?;
            (at(mem, fd(a[0]), a[1], flags, true)?, op)
        }
        "removexattr" | "lremovexattr" => {
            let op = Op::RemoveXattr(xattr_name(mem, a[1])?);
            (cwd_path(mem, a[0], name == "removexattr")?, op)
        }
        "fremovexattr" => (
            Subject::Fd(fd(a[0])),
            Op::RemoveXattr(xattr_name(mem, a[1])?),
        ),
        "removexattrat" => {
            let flags = at_flags(a[2]);
            if flags & !AT_FLAGS != 0 {
                return Err(Stop::Errno(libc::EINVAL));
            }
            let op = Op::RemoveXattr(xattr_name(mem, a[3])?);
            (at(mem, fd(a[0]), a[1], flags, true)?, op)
        }
        "file_setattr" => {
            // (dirfd, path, struct file_attr *, size, at_flags)
            let flags = at_flags(a[4]);
            if flags & !AT_FLAGS != 0 {
                return Err(Stop::Errno(libc::EINVAL));
            }
            let attr = extensible(mem, a[2], a[3], FILE_ATTR_SIZE_VER0)?;
            (at(mem, fd(a[0]), a[1], flags, true)?, Op::SetAttr(attr))
        }
        "ioctl" => {
            let cmd = a[1] as u32;
            let Some((_, ioctl, len)) = IOCTLS.iter().find(|(c, _, _)| *c == cmd) else {
                return Err(Stop::Failed(CallError::Other(format!(
                    "ioctl {cmd:#x} is not one the supervisor handles"
                ))));
            };
            let arg = bytes(mem, a[2], *len as u64)?;
            return Ok(Decoded::Call(Call {
                name: format!("ioctl({ioctl})"),
                subject: Subject::Fd(fd(a[0])),
                op: Op::Ioctl { cmd, arg },
            }));
        }
        other => {
            return Err(Stop::Failed(CallError::Other(format!(
                "`{other}` is not a syscall the supervisor handles"
            ))));
        }
    };
    Ok(Decoded::Call(Call {
        name: name.to_owned(),
        subject,
        op,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake address space: one mapped range.
    struct Fake {
        base: u64,
        data: Vec<u8>,
    }

    impl Memory for Fake {
        fn read_into(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
            let end = self.base + self.data.len() as u64;
            if addr < self.base || addr >= end {
                return Err(io::Error::from_raw_os_error(libc::EFAULT));
            }
            let from = (addr - self.base) as usize;
            let n = buf.len().min(self.data.len() - from);
            buf[..n].copy_from_slice(&self.data[from..from + n]);
            Ok(n)
        }
    }

    const BASE: u64 = 0x10_0000;

    /// Memory holding `parts` one after the other; returns their addresses.
    fn memory(parts: &[&[u8]]) -> (Fake, Vec<u64>) {
        let mut data = Vec::new();
        let mut addrs = Vec::new();
        for p in parts {
            addrs.push(BASE + data.len() as u64);
            data.extend_from_slice(p);
        }
        (Fake { base: BASE, data }, addrs)
    }

    fn errno(r: Result<Decoded, Stop>) -> i32 {
        match r {
            Err(Stop::Errno(e)) => e,
            other => panic!("expected an errno, got {other:?}"),
        }
    }

    fn call(r: Result<Decoded, Stop>) -> Call {
        match r {
            Ok(Decoded::Call(c)) => c,
            other => panic!("expected a call, got {other:?}"),
        }
    }

    #[test]
    fn paths_flags_and_descriptors_are_read_as_the_kernel_reads_them() {
        let (mem, at) = memory(&[b"/r/f\0", b"\0", b"user.x\0", b"val"]);
        let c = call(decode("chmod", &[at[0], 0o600, 0, 0, 0, 0], &mem));
        assert_eq!(
            c.subject,
            Subject::Path {
                dirfd: libc::AT_FDCWD,
                path: c"/r/f".into(),
                follow: true
            }
        );
        assert_eq!(c.op, Op::Chmod(0o600));
        let nofollow = libc::AT_SYMLINK_NOFOLLOW as u64;
        let c = call(decode("fchownat", &[5, at[0], 1, 2, nofollow, 0], &mem));
        assert!(matches!(
            c.subject,
            Subject::Path {
                dirfd: 5,
                follow: false,
                ..
            }
        ));
        assert_eq!(c.op, Op::Chown(1, 2));
        // An empty path: ENOENT, or the descriptor itself with AT_EMPTY_PATH.
        assert_eq!(
            errno(decode("fchmodat", &[5, at[1], 0o600, 0, 0, 0], &mem)),
            libc::ENOENT
        );
        let empty = libc::AT_EMPTY_PATH as u64;
        let c = call(decode("fchmodat2", &[5, at[1], 0o600, empty, 0, 0], &mem));
        assert_eq!(c.subject, Subject::Empty { dirfd: 5 });
        // ... which the *xattrat calls take as the descriptor's file.
        // struct xattr_args { value, size, flags }; the value is the third
        // part below, 8 bytes after the start.
        let mut xa = Vec::new();
        xa.extend_from_slice(&(BASE + 8).to_ne_bytes());
        xa.extend_from_slice(&3u32.to_ne_bytes());
        xa.extend_from_slice(&0u32.to_ne_bytes());
        let (mem2, at2) = memory(&[b"\0", b"user.x\0", b"val", &xa]);
        assert_eq!(at2[2], BASE + 8);
        let c = call(decode(
            "setxattrat",
            &[7, at2[0], empty, at2[1], at2[3], 16],
            &mem2,
        ));
        assert_eq!(c.subject, Subject::Fd(7));
        assert_eq!(
            c.op,
            Op::SetXattr {
                name: c"user.x".into(),
                value: b"val".to_vec(),
                flags: 0
            }
        );
        // Unknown AT_ flags, a bad pointer.
        assert_eq!(
            errno(decode("fchownat", &[5, at[0], 0, 0, 0x8000, 0], &mem)),
            libc::EINVAL
        );
        assert_eq!(
            errno(decode("chmod", &[0xdead_0000, 0o600, 0, 0, 0, 0], &mem)),
            libc::EFAULT
        );
        assert_eq!(
            errno(decode("chmod", &[0, 0o600, 0, 0, 0, 0], &mem)),
            libc::EFAULT
        );
        // Descriptor calls name the descriptor.
        let c = call(decode("fchmod", &[3, 0o644, 0, 0, 0, 0], &mem));
        assert_eq!(c.subject, Subject::Fd(3));
    }

    #[test]
    fn a_path_must_end_within_path_max() {
        let mut long = vec![b'a'; PATH_MAX];
        long.push(0);
        let (mem, at) = memory(&[&long]);
        assert_eq!(
            errno(decode("chmod", &[at[0], 0, 0, 0, 0, 0], &mem)),
            libc::ENAMETOOLONG
        );
        // A path that ends right before the end of the mapping is read.
        let (mem, at) = memory(&[b"/x\0"]);
        assert!(decode("chmod", &[at[0], 0, 0, 0, 0, 0], &mem).is_ok());
    }

    #[test]
    fn times_are_checked_and_converted() {
        let words = |v: [i64; 4]| v.iter().flat_map(|w| w.to_ne_bytes()).collect::<Vec<u8>>();
        let omit = words([1, UTIME_OMIT, 2, UTIME_OMIT]);
        let bad = words([1, 1_000_000_000, 2, 0]);
        let tv = words([5, 7, 6, 8]);
        let bad_tv = words([5, 1_000_000, 6, 0]);
        let (mem, at) = memory(&[b"f\0", &omit, &bad, &tv, &bad_tv]);
        assert!(matches!(
            decode(
                "utimensat",
                &[libc::AT_FDCWD as u64, at[0], at[1], 0, 0, 0],
                &mem
            ),
            Ok(Decoded::Return(0))
        ));
        let cwd = libc::AT_FDCWD as u32 as u64;
        assert_eq!(
            errno(decode("utimensat", &[cwd, at[0], at[2], 0, 0, 0], &mem)),
            libc::EINVAL
        );
        let c = call(decode("utimes", &[at[0], at[3], 0, 0, 0, 0], &mem));
        assert_eq!(c.op, Op::Times(Some([(5, 7000), (6, 8000)])));
        assert_eq!(
            errno(decode("utimes", &[at[0], at[4], 0, 0, 0, 0], &mem)),
            libc::EINVAL
        );
        // A null path with a descriptor: that descriptor (futimens).
        let c = call(decode("utimensat", &[4, 0, 0, 0, 0, 0], &mem));
        assert_eq!((c.subject, c.op), (Subject::Fd(4), Op::Times(None)));
        let nofollow = libc::AT_SYMLINK_NOFOLLOW as u64;
        assert_eq!(
            errno(decode("utimensat", &[4, 0, 0, nofollow, 0, 0], &mem)),
            libc::EINVAL
        );
        let c = call(decode("futimesat", &[4, 0, at[3], 0, 0, 0], &mem));
        assert_eq!(c.subject, Subject::Fd(4));
    }

    #[test]
    fn attribute_names_values_and_structs_are_bounded() {
        let long_name = [b'n'; XATTR_NAME_BUF];
        let (mem, at) = memory(&[b"/f\0", b"\0", &long_name, b"user.x\0"]);
        assert_eq!(
            errno(decode("removexattr", &[at[0], at[1], 0, 0, 0, 0], &mem)),
            libc::ERANGE
        );
        assert_eq!(
            errno(decode("removexattr", &[at[0], at[2], 0, 0, 0, 0], &mem)),
            libc::ERANGE
        );
        let big = XATTR_SIZE_MAX + 1;
        assert_eq!(
            errno(decode("setxattr", &[at[0], at[3], at[0], big, 0, 0], &mem)),
            libc::E2BIG
        );
        assert_eq!(
            errno(decode("setxattr", &[at[0], at[3], at[0], 1, 4, 0], &mem)),
            libc::EINVAL
        );
        let c = call(decode("lsetxattr", &[at[0], at[3], at[0], 2, 0, 0], &mem));
        assert!(matches!(c.subject, Subject::Path { follow: false, .. }));
        // file_setattr: at least VER0, at most a page.
        let attr = [0u8; 24];
        let (mem, at) = memory(&[b"/f\0", &attr]);
        assert_eq!(
            errno(decode("file_setattr", &[0, at[0], at[1], 16, 0, 0], &mem)),
            libc::EINVAL
        );
        assert_eq!(
            errno(decode("file_setattr", &[0, at[0], at[1], 8192, 0, 0], &mem)),
            libc::E2BIG
        );
        let c = call(decode("file_setattr", &[0, at[0], at[1], 24, 0, 0], &mem));
        assert_eq!(c.op, Op::SetAttr(attr.to_vec()));
    }

    #[test]
    fn ioctls_read_what_the_kernel_reads() {
        let flags = 0x40u32.to_ne_bytes();
        let (mem, at) = memory(&[&flags]);
        let c = call(decode(
            "ioctl",
            &[
                3,
                u64::from(super::super::filter::FS_IOC_SETFLAGS),
                at[0],
                0,
                0,
                0,
            ],
            &mem,
        ));
        assert_eq!(c.name, "ioctl(FS_IOC_SETFLAGS)");
        assert_eq!(c.subject, Subject::Fd(3));
        assert_eq!(
            c.op,
            Op::Ioctl {
                cmd: super::super::filter::FS_IOC_SETFLAGS,
                arg: flags.to_vec()
            }
        );
        // The 28-byte fsxattr does not fit in the 4 mapped bytes.
        let cmd = u64::from(super::super::filter::FS_IOC_FSSETXATTR);
        assert_eq!(
            errno(decode("ioctl", &[3, cmd, at[0], 0, 0, 0], &mem)),
            libc::EFAULT
        );
    }
}
