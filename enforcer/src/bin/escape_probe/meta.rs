//! The probe's metadata changes: each made with the raw syscall it names
//! (the C library may route `chmod` through `fchmodat`, or lack a wrapper),
//! the `*at` ones relative to a descriptor of the file's directory.
//!
//! `metas OP PATH VALUE [OP PATH VALUE ...]` prints one line per change,
//! `OP allowed` or `OP refused ERRNO`, then `allowed N changes tried`.
//! Values: an octal mode (`chmod`...), `UID:GID` (`chown`...), seconds since
//! the epoch for both times (`utime`...), `NAME=VALUE` (`setxattr`...),
//! `NAME` (`removexattr`...), a number of flags (`setflags`, `fssetxattr`,
//! `file_setattr`: OR-ed into the current ones; `setversion`: the value).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const FS_IOC_SETFLAGS: u64 = 0x4008_6602;
const FS_IOC_SETVERSION: u64 = 0x4008_7602;
const FS_IOC_FSGETXATTR: u64 = 0x801c_581f;
const FS_IOC_FSSETXATTR: u64 = 0x401c_5820;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn cstr(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "a NUL byte in an argument".to_owned())
}

fn nr(name: &str) -> Result<libc::c_long, String> {
    enforcer::policy::number_of(name).ok_or_else(|| format!("no `{name}` on this architecture"))
}

/// The result of a raw syscall.
fn done(rc: libc::c_long) -> Result<(), i32> {
    if rc < 0 { Err(errno()) } else { Ok(()) }
}

/// A descriptor closed when dropped.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

fn open(path: &[u8], flags: i32) -> Result<Result<Fd, i32>, String> {
    let p = cstr(path)?;
    let fd = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) };
    Ok(if fd < 0 { Err(errno()) } else { Ok(Fd(fd)) })
}

/// The directory of `path` (an `O_PATH` descriptor) and its last name.
fn dir_and_name(path: &[u8]) -> Result<Result<(Fd, CString), i32>, String> {
    let p = Path::new(OsStr::from_bytes(path));
    let dir = p.parent().map_or(&b"."[..], |d| d.as_os_str().as_bytes());
    let dir = if dir.is_empty() { &b"."[..] } else { dir };
    let name = p.file_name().map_or(&b"."[..], |n| n.as_bytes());
    let name = cstr(name)?;
    Ok(open(dir, libc::O_PATH | libc::O_DIRECTORY)?.map(|d| (d, name)))
}

fn number(value: &str) -> Result<u64, String> {
    value.parse().map_err(|_| format!("bad number {value:?}"))
}

fn octal(value: &str) -> Result<u32, String> {
    u32::from_str_radix(value, 8).map_err(|_| format!("bad mode {value:?}"))
}

fn owner(value: &str) -> Result<(u32, u32), String> {
    let (u, g) = value.split_once(':').ok_or("owner is UID:GID")?;
    Ok((
        u.parse().map_err(|_| "bad uid")?,
        g.parse().map_err(|_| "bad gid")?,
    ))
}

fn xattr(value: &str) -> Result<(CString, Vec<u8>), String> {
    let (n, v) = value.split_once('=').ok_or("xattr is NAME=VALUE")?;
    Ok((cstr(n.as_bytes())?, v.as_bytes().to_vec()))
}

/// Runs `f` on a descriptor of `path` opened for reading (or with `flags`).
fn on_fd(
    path: &[u8],
    flags: i32,
    f: impl FnOnce(i32) -> Result<(), i32>,
) -> Result<Result<(), i32>, String> {
    Ok(open(path, flags)?.and_then(|fd| f(fd.0)))
}

/// Runs `f` on (directory descriptor, last name) of `path`.
fn on_dir(
    path: &[u8],
    f: impl FnOnce(i32, &CString) -> Result<(), i32>,
) -> Result<Result<(), i32>, String> {
    Ok(dir_and_name(path)?.and_then(|(d, name)| f(d.0, &name)))
}

/// One change: `Ok(Ok(()))` made, `Ok(Err(errno))` refused, `Err` a
/// failure of the probe.
pub fn op(op: &str, path: &[u8], value: &str) -> Result<Result<(), i32>, String> {
    let p = cstr(path)?;
    let nofollow = libc::AT_SYMLINK_NOFOLLOW;
    let empty = c"".as_ptr();
    let secs = |v: &str| -> Result<i64, String> { Ok(number(v)? as i64) };
    Ok(match op {
        "chmod" => done(unsafe { libc::syscall(nr("chmod")?, p.as_ptr(), octal(value)?) }),
        "fchmod" => {
            let mode = octal(value)?;
            return on_fd(path, libc::O_RDONLY, |fd| {
                done(unsafe { libc::syscall(libc::SYS_fchmod, fd, mode) })
            });
        }
        "fchmodat" | "fchmodat2" | "fchmodat2-nofollow" => {
            let mode = octal(value)?;
            let (call, flags) = match op {
                "fchmodat" => (nr("fchmodat")?, 0),
                "fchmodat2" => (nr("fchmodat2")?, 0),
                _ => (nr("fchmodat2")?, nofollow),
            };
            return on_dir(path, |d, n| {
                done(unsafe { libc::syscall(call, d, n.as_ptr(), mode, flags) })
            });
        }
        "fchmodat2-empty" => {
            let mode = octal(value)?;
            let call = nr("fchmodat2")?;
            return on_fd(path, libc::O_PATH, |fd| {
                done(unsafe { libc::syscall(call, fd, empty, mode, libc::AT_EMPTY_PATH) })
            });
        }
        "chmod-procfd" | "chmod-devfd" => {
            // Through a magic link to an O_PATH descriptor of the file.
            let mode = octal(value)?;
            let call = nr("chmod")?;
            let dir = if op == "chmod-procfd" {
                "/proc/self/fd"
            } else {
                "/dev/fd"
            };
            return on_fd(path, libc::O_PATH, |fd| {
                // Through /dev/fd, a number far above any the supervisor
                // holds: looked up in the supervisor, /dev/fd/N would not
                // exist there at all.
                let high = match op {
                    "chmod-devfd" => {
                        let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 900) };
                        if high < 0 {
                            return Err(errno());
                        }
                        Some(Fd(high))
                    }
                    _ => None,
                };
                let fd = high.as_ref().map_or(fd, |h| h.0);
                let link = CString::new(format!("{dir}/{fd}")).map_err(|_| libc::EINVAL)?;
                done(unsafe { libc::syscall(call, link.as_ptr(), mode) })
            });
        }
        "chown" | "lchown" => {
            let (u, g) = owner(value)?;
            done(unsafe { libc::syscall(nr(op)?, p.as_ptr(), u, g) })
        }
        "fchown" => {
            let (u, g) = owner(value)?;
            return on_fd(path, libc::O_RDONLY, |fd| {
                done(unsafe { libc::syscall(libc::SYS_fchown, fd, u, g) })
            });
        }
        "fchownat" | "fchownat-nofollow" => {
            let (u, g) = owner(value)?;
            let flags = if op == "fchownat" { 0 } else { nofollow };
            return on_dir(path, |d, n| {
                done(unsafe { libc::syscall(libc::SYS_fchownat, d, n.as_ptr(), u, g, flags) })
            });
        }
        "fchownat-empty" => {
            let (u, g) = owner(value)?;
            return on_fd(path, libc::O_PATH, |fd| {
                done(unsafe {
                    libc::syscall(libc::SYS_fchownat, fd, empty, u, g, libc::AT_EMPTY_PATH)
                })
            });
        }
        "utime" => {
            let t = secs(value)?;
            let buf = libc::utimbuf {
                actime: t,
                modtime: t,
            };
            done(unsafe { libc::syscall(nr("utime")?, p.as_ptr(), &buf) })
        }
        "utimes" | "futimesat" => {
            let t = secs(value)?;
            let tv = [libc::timeval {
                tv_sec: t,
                tv_usec: 0,
            }; 2];
            if op == "utimes" {
                done(unsafe { libc::syscall(nr("utimes")?, p.as_ptr(), tv.as_ptr()) })
            } else {
                let call = nr("futimesat")?;
                return on_dir(path, |d, n| {
                    done(unsafe { libc::syscall(call, d, n.as_ptr(), tv.as_ptr()) })
                });
            }
        }
        "utimensat" | "utimensat-nofollow" | "futimens" => {
            let t = secs(value)?;
            let ts = [libc::timespec {
                tv_sec: t,
                tv_nsec: 0,
            }; 2];
            let call = libc::SYS_utimensat;
            return match op {
                "futimens" => on_fd(path, libc::O_RDONLY, |fd| {
                    done(unsafe {
                        libc::syscall(call, fd, std::ptr::null::<libc::c_char>(), ts.as_ptr(), 0)
                    })
                }),
                _ => {
                    let flags = if op == "utimensat" { 0 } else { nofollow };
                    on_dir(path, |d, n| {
                        done(unsafe { libc::syscall(call, d, n.as_ptr(), ts.as_ptr(), flags) })
                    })
                }
            };
        }
        "setxattr" | "lsetxattr" => {
            let (n, v) = xattr(value)?;
            done(unsafe { libc::syscall(nr(op)?, p.as_ptr(), n.as_ptr(), v.as_ptr(), v.len(), 0) })
        }
        "fsetxattr" => {
            let (n, v) = xattr(value)?;
            return on_fd(path, libc::O_RDONLY, |fd| {
                done(unsafe {
                    libc::syscall(libc::SYS_fsetxattr, fd, n.as_ptr(), v.as_ptr(), v.len(), 0)
                })
            });
        }
        "setxattrat" => {
            let (n, v) = xattr(value)?;
            // struct xattr_args { __u64 value; __u32 size; __u32 flags; }
            let args: [u64; 2] = [v.as_ptr() as u64, v.len() as u64];
            let call = nr("setxattrat")?;
            return on_dir(path, |d, name| {
                done(unsafe {
                    libc::syscall(
                        call,
                        d,
                        name.as_ptr(),
                        0,
                        n.as_ptr(),
                        args.as_ptr(),
                        16usize,
                    )
                })
            });
        }
        "removexattr" | "lremovexattr" => {
            let n = cstr(value.as_bytes())?;
            done(unsafe { libc::syscall(nr(op)?, p.as_ptr(), n.as_ptr()) })
        }
        "fremovexattr" => {
            let n = cstr(value.as_bytes())?;
            return on_fd(path, libc::O_RDONLY, |fd| {
                done(unsafe { libc::syscall(libc::SYS_fremovexattr, fd, n.as_ptr()) })
            });
        }
        "removexattrat" => {
            let n = cstr(value.as_bytes())?;
            let call = nr("removexattrat")?;
            return on_dir(path, |d, name| {
                done(unsafe { libc::syscall(call, d, name.as_ptr(), 0, n.as_ptr()) })
            });
        }
        "setflags" | "setversion" => {
            let v = number(value)? as libc::c_int;
            let cmd = if op == "setflags" {
                FS_IOC_SETFLAGS
            } else {
                FS_IOC_SETVERSION
            };
            return on_fd(path, libc::O_RDONLY, |fd| {
                let mut value = v;
                if op == "setflags" {
                    // OR-ed into the current flags (FS_IOC_GETFLAGS).
                    let mut now: libc::c_int = 0;
                    if unsafe { libc::ioctl(fd, 0x8008_6601, &mut now) } < 0 {
                        return Err(errno());
                    }
                    value |= now;
                }
                done(unsafe { libc::ioctl(fd, cmd as _, &value) }.into())
            });
        }
        "fssetxattr" => {
            let v = number(value)? as u32;
            return on_fd(path, libc::O_RDONLY, |fd| {
                let mut fsx = [0u8; 28];
                if unsafe { libc::ioctl(fd, FS_IOC_FSGETXATTR as _, fsx.as_mut_ptr()) } < 0 {
                    return Err(errno());
                }
                let xflags = u32::from_ne_bytes([fsx[0], fsx[1], fsx[2], fsx[3]]) | v;
                fsx[..4].copy_from_slice(&xflags.to_ne_bytes());
                done(unsafe { libc::ioctl(fd, FS_IOC_FSSETXATTR as _, fsx.as_ptr()) }.into())
            });
        }
        "file_setattr" => {
            let v = number(value)?;
            let (get, set) = (nr("file_getattr")?, nr("file_setattr")?);
            return on_dir(path, |d, n| {
                // struct file_attr { __u64 fa_xflags; __u32 x4; }: 24 bytes.
                let mut attr = [0u64; 3];
                done(unsafe { libc::syscall(get, d, n.as_ptr(), attr.as_mut_ptr(), 24usize, 0) })?;
                attr[0] |= v;
                done(unsafe { libc::syscall(set, d, n.as_ptr(), attr.as_ptr(), 24usize, 0) })
            });
        }
        other => return Err(format!("unknown metadata change `{other}`")),
    })
}

/// `metas OP PATH VALUE...`: each change, one line each.
pub fn metas(args: &[OsString]) -> Result<usize, String> {
    if args.is_empty() || !args.len().is_multiple_of(3) {
        return Err("metas takes OP PATH VALUE triples".into());
    }
    for t in args.chunks(3) {
        let name = t[0].to_str().ok_or("op names are ASCII")?;
        let value = t[2].to_str().ok_or("values are UTF-8")?;
        match op(name, t[1].as_bytes(), value)? {
            Ok(()) => println!("{name} allowed"),
            Err(e) => println!("{name} refused {e}"),
        }
    }
    Ok(args.len() / 3)
}

/// `meta-race A B N MODE`: one thread flips a path buffer between `A` and
/// `B` as fast as it can while this one calls `chmod(buffer, MODE)` `N`
/// times. Reports how many calls succeeded.
pub fn race(a: &OsStr, b: &OsStr, n: &str, mode: &str) -> Result<String, String> {
    let (a, b) = (cstr(a.as_bytes())?, cstr(b.as_bytes())?);
    let (a, b) = (
        a.as_bytes_with_nul().to_vec(),
        b.as_bytes_with_nul().to_vec(),
    );
    let mut buffer = vec![0u8; a.len().max(b.len())];
    buffer[..a.len()].copy_from_slice(&a);
    let n = number(n)?;
    let mode = octal(mode)?;
    let call = nr("chmod")?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let buf_addr = buffer.as_mut_ptr() as usize;
    let ok = std::thread::scope(|s| {
        let stop = &stop;
        s.spawn(move || {
            let buf = buf_addr as *mut u8;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for p in [&a, &b] {
                    // Volatile byte writes: the other thread sees every state.
                    for (i, byte) in p.iter().enumerate() {
                        unsafe { buf.add(i).write_volatile(*byte) };
                    }
                }
            }
        });
        let mut ok = 0u64;
        for _ in 0..n {
            let rc = unsafe { libc::syscall(call, buf_addr as *const libc::c_char, mode) };
            if rc == 0 {
                ok += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        ok
    });
    Ok(format!("{ok} of {n} chmods succeeded"))
}

/// `meta-loop N PATH MODE`: `N` `chmod`s of `PATH`, then `N` `stat`s, timed
/// (the cost of a supervised call, and that other calls do not pay it).
pub fn timed(n: &str, path: &OsStr, mode: &str) -> Result<String, String> {
    let n = number(n)?.max(1);
    let mode = octal(mode)?;
    let p = cstr(path.as_bytes())?;
    let call = nr("chmod")?;
    let start = std::time::Instant::now();
    for _ in 0..n {
        if unsafe { libc::syscall(call, p.as_ptr(), mode) } != 0 {
            return Err(format!("chmod: {}", std::io::Error::last_os_error()));
        }
    }
    let chmod = start.elapsed().as_nanos() / u128::from(n);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let start = std::time::Instant::now();
    for _ in 0..n {
        if unsafe { libc::stat(p.as_ptr(), &mut st) } != 0 {
            return Err(format!("stat: {}", std::io::Error::last_os_error()));
        }
    }
    let stat = start.elapsed().as_nanos() / u128::from(n);
    Ok(format!("chmod {chmod} ns, stat {stat} ns"))
}

/// `meta-wait TRIGGER OP PATH VALUE`: waits (up to 20 s) until `TRIGGER`
/// exists, then makes the change.
pub fn after(trigger: &OsStr, op_args: &[OsString]) -> Result<Result<(), i32>, String> {
    let [name, path, value] = op_args else {
        return Err("meta-wait TRIGGER OP PATH VALUE".into());
    };
    for _ in 0..4000 {
        if Path::new(trigger).exists() {
            let name = name.to_str().ok_or("op names are ASCII")?;
            return op(
                name,
                path.as_bytes(),
                value.to_str().ok_or("values are UTF-8")?,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err("the trigger never appeared".into())
}

/// Takes on `uid` and `gid` (no supplementary groups) with raw syscalls.
pub fn become_user(uid: &OsStr, gid: &OsStr) -> Result<(), String> {
    let parse = |s: &OsStr| -> Result<u32, String> {
        s.to_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad id {s:?}"))
    };
    let (uid, gid) = (parse(uid)?, parse(gid)?);
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<u32>()) != 0
            || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
            || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
        {
            return Err(format!(
                "dropping to {uid}:{gid}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Drops capability `cap` from every set of this thread.
pub fn drop_cap(cap: &OsStr) -> Result<(), String> {
    let cap: u32 = cap
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad capability {cap:?}"))?;
    // _LINUX_CAPABILITY_VERSION_3, pid 0; two words of (effective,
    // permitted, inheritable).
    let mut header: [u32; 2] = [0x2008_0522, 0];
    let mut data = [0u32; 6];
    unsafe {
        if libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) != 0 {
            return Err(format!("capget: {}", std::io::Error::last_os_error()));
        }
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        for set in 0..3 {
            data[word * 3 + set] &= !bit;
        }
        if libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) != 0 {
            return Err(format!("capset: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}
