//! `warden-escape-probe ATTACK ARGS...`: tries one named operation from
//! inside a run and reports precisely what the kernel answered, for the
//! enforcer's escape tests.
//!
//! Output: one line on stdout, `allowed [DETAIL]` or `refused ERRNO NAME`.
//! Exit status: 0 allowed, 10 refused, 2 bad usage or a failure of the probe
//! itself (not of the attack). Attacks that `exec` report through the
//! executed program's own status when the exec succeeds.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io::Error;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

#[path = "escape_probe/meta.rs"]
mod meta;

const REFUSED: u8 = 10;
const USAGE: u8 = 2;

enum Outcome {
    Allowed(String),
    Refused(i32),
}

type Probe = Result<Outcome, String>;

fn errno() -> i32 {
    Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn refused_or<T>(rc: i64, ok: impl FnOnce() -> T) -> Result<T, i32> {
    if rc < 0 { Err(errno()) } else { Ok(ok()) }
}

fn cstr(s: &OsStr) -> Result<CString, String> {
    CString::new(s.as_bytes()).map_err(|_| format!("{s:?} has a NUL byte"))
}

fn arg(args: &[OsString], i: usize, what: &str) -> Result<OsString, String> {
    args.get(i)
        .cloned()
        .ok_or_else(|| format!("missing argument: {what}"))
}

fn open_read(path: &OsStr) -> Probe {
    let p = cstr(path)?;
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Ok(Outcome::Refused(errno()));
    }
    let mut buf = [0u8; 256];
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    let e = errno();
    unsafe { libc::close(fd) };
    if n < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed(format!("read {n} bytes")))
}

fn open_write(path: &OsStr, text: &[u8]) -> Probe {
    let p = cstr(path)?;
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        return Ok(Outcome::Refused(errno()));
    }
    let n = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
    let e = errno();
    unsafe { libc::close(fd) };
    if n < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed(format!("wrote {n} bytes")))
}

fn exec(program: &OsStr, argv: &[OsString]) -> Probe {
    let p = cstr(program)?;
    let mut owned = vec![p.clone()];
    for a in argv {
        owned.push(cstr(a)?);
    }
    let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    unsafe { libc::execv(p.as_ptr(), ptrs.as_ptr()) };
    Ok(Outcome::Refused(errno()))
}

/// A socket of `kind` (`SOCK_STREAM`, `SOCK_DGRAM`) and the address
/// `host:PORT`; `Err(errno)` when the socket is refused.
fn socket_to(
    kind: i32,
    host: [u8; 4],
    port: &OsStr,
) -> Result<Result<(i32, libc::sockaddr_in), i32>, String> {
    let port: u16 = port
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad port {port:?}"))?;
    let fd = unsafe { libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(Err(errno()));
    }
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(host),
        },
        sin_zero: [0; 8],
    };
    Ok(Ok((fd, addr)))
}

fn tcp(kind: &str, port: &OsStr, host: [u8; 4]) -> Probe {
    let (fd, addr) = match socket_to(libc::SOCK_STREAM, host, port)? {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Refused(e)),
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let ptr = (&addr as *const libc::sockaddr_in).cast::<libc::sockaddr>();
    let rc = unsafe {
        if kind == "connect" {
            libc::connect(fd, ptr, len)
        } else {
            libc::bind(fd, ptr, len)
        }
    };
    let e = errno();
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed(format!(
        "{kind} {}:{}",
        std::net::Ipv4Addr::from(host),
        u16::from_be(addr.sin_port)
    )))
}

/// `listen` on a TCP socket that was never bound: the kernel would pick an
/// ephemeral port without any `bind` (reported as `allowed listen PORT`).
fn listen_unbound() -> Probe {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(Outcome::Refused(errno()));
    }
    let rc = unsafe { libc::listen(fd, 1) };
    let e = errno();
    if rc < 0 {
        unsafe { libc::close(fd) };
        return Ok(Outcome::Refused(e));
    }
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    unsafe { libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) };
    unsafe { libc::close(fd) };
    Ok(Outcome::Allowed(format!(
        "listen {}",
        u16::from_be(addr.sin_port)
    )))
}

fn io_uring_setup() -> Probe {
    // struct io_uring_params is 120 bytes; zeroed is a valid request.
    let mut params = [0u8; 120];
    let rc = unsafe { libc::syscall(libc::SYS_io_uring_setup, 8u32, params.as_mut_ptr()) };
    match refused_or(rc, || rc) {
        Ok(fd) => {
            unsafe { libc::close(fd as i32) };
            Ok(Outcome::Allowed("io_uring ring created".into()))
        }
        Err(e) => Ok(Outcome::Refused(e)),
    }
}

fn exec_memfd(source: &OsStr) -> Probe {
    let bytes = std::fs::read(source).map_err(|e| format!("reading {source:?}: {e}"))?;
    let name = c"probe";
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    if fd < 0 {
        return Ok(Outcome::Refused(errno()));
    }
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if n < 0 || n as usize != bytes.len() {
        return Err(format!("writing the memfd: {}", Error::last_os_error()));
    }
    let argv = [name.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    let empty = c"";
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            empty.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Ok(Outcome::Refused(errno()))
}

/// `execv(PROGRAM, [ARGV0, ARGS...])`: the kernel's `argv[0]` is whatever
/// the caller says.
fn exec_argv0(program: &OsStr, argv0: &OsStr, args: &[OsString]) -> Probe {
    let mut argv = vec![argv0.to_owned()];
    argv.extend_from_slice(args);
    let p = cstr(program)?;
    let owned = argv
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    unsafe { libc::execv(p.as_ptr(), ptrs.as_ptr()) };
    Ok(Outcome::Refused(errno()))
}

/// `chdir(DIR)`, then `execv(NAME, [NAME, ARGS...])`: a program named
/// relative to the working directory (`./prog`).
fn exec_in(dir: &OsStr, name: &OsStr, args: &[OsString]) -> Probe {
    let d = cstr(dir)?;
    if unsafe { libc::chdir(d.as_ptr()) } != 0 {
        return Err(format!("chdir {dir:?}: {}", Error::last_os_error()));
    }
    exec(name, args)
}

/// `execveat(fd, PATH, [NAME, ARGS...], flags)`.
fn execveat(fd: i32, path: &CStr, name: &OsStr, args: &[OsString], flags: i32) -> Probe {
    let mut owned = vec![cstr(name)?];
    for a in args {
        owned.push(cstr(a)?);
    }
    let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let envp = [std::ptr::null::<libc::c_char>()];
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            path.as_ptr(),
            ptrs.as_ptr(),
            envp.as_ptr(),
            flags,
        )
    };
    Ok(Outcome::Refused(errno()))
}

/// `execveat(fd of DIR, NAME, ...)`: a program named relative to a
/// directory descriptor.
fn exec_at(dir: &OsStr, name: &OsStr, args: &[OsString]) -> Probe {
    let fd = dir_fd(dir)?;
    execveat(fd, &cstr(name)?, name, args, 0)
}

/// A descriptor of `program` that survives the exec (`O_PATH`, no
/// `O_CLOEXEC`: `/proc/self/fd/N` must still name it while the kernel
/// loads it).
fn path_fd(program: &OsStr) -> Result<i32, String> {
    let p = cstr(program)?;
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_PATH) };
    if fd < 0 {
        return Err(format!("open {program:?}: {}", Error::last_os_error()));
    }
    Ok(fd)
}

/// `execveat(fd of PROGRAM, "", AT_EMPTY_PATH)`: the program by descriptor.
fn exec_fd(program: &OsStr, args: &[OsString]) -> Probe {
    let fd = path_fd(program)?;
    execveat(fd, c"", program, args, libc::AT_EMPTY_PATH)
}

/// `execv("/proc/self/fd/N")` of a descriptor of PROGRAM.
fn exec_proc_fd(program: &OsStr, args: &[OsString]) -> Probe {
    let fd = path_fd(program)?;
    exec(OsStr::new(&format!("/proc/self/fd/{fd}")), args)
}

/// A memfd copy of SOURCE created with `flags` (`plain`: 0, `sealed`:
/// `MFD_NOEXEC_SEAL`, `exec`: `MFD_EXEC`), executed `how` (`at`:
/// `execveat(fd, "", AT_EMPTY_PATH)`, `proc`: `/proc/self/fd/N`). Refused
/// with the errno of `memfd_create` or of the exec.
fn exec_memfd_via(source: &OsStr, flags: &OsStr, how: &OsStr) -> Probe {
    const MFD_NOEXEC_SEAL: libc::c_uint = 0x8;
    const MFD_EXEC: libc::c_uint = 0x10;
    let flags = match flags.to_str() {
        Some("plain") => 0,
        Some("sealed") => MFD_NOEXEC_SEAL,
        Some("exec") => MFD_EXEC,
        _ => return Err(format!("bad memfd flags {flags:?}")),
    };
    let bytes = std::fs::read(source).map_err(|e| format!("reading {source:?}: {e}"))?;
    // No MFD_CLOEXEC: `/proc/self/fd/N` must still name it during the exec.
    let fd = unsafe { libc::memfd_create(c"probe".as_ptr(), flags) };
    if fd < 0 {
        return Ok(Outcome::Refused(errno()));
    }
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if n < 0 || n as usize != bytes.len() {
        return Err(format!("writing the memfd: {}", Error::last_os_error()));
    }
    match how.to_str() {
        Some("at") => execveat(fd, c"", OsStr::new("probe"), &[], libc::AT_EMPTY_PATH),
        Some("proc") => exec(OsStr::new(&format!("/proc/self/fd/{fd}")), &[]),
        _ => Err(format!("bad exec route {how:?}")),
    }
}

/// A `sockaddr_un` for `name` (a path, or with `abstract_`, an abstract
/// name without its leading NUL) and its length.
fn sockaddr_un(name: &[u8], abstract_: bool) -> Result<(libc::sockaddr_un, u32), String> {
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let start = usize::from(abstract_);
    if start + name.len() > addr.sun_path.len() {
        return Err(format!("socket name too long: {} bytes", name.len()));
    }
    for (slot, b) in addr.sun_path[start..].iter_mut().zip(name) {
        *slot = *b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + start + name.len();
    // A path is passed with its NUL, as libc callers do; an abstract name
    // is exactly its bytes.
    let len = if abstract_ { len } else { len + 1 };
    Ok((addr, len as u32))
}

/// `connect` a unix stream socket to `name`, then send one byte.
fn unix_connect(name: &[u8], abstract_: bool) -> Probe {
    let (addr, len) = sockaddr_un(name, abstract_)?;
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", Error::last_os_error()));
    }
    let rc = unsafe { libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) };
    if rc < 0 {
        let e = errno();
        unsafe { libc::close(fd) };
        return Ok(Outcome::Refused(e));
    }
    let n = unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
    let e = errno();
    unsafe { libc::close(fd) };
    if n != 1 {
        return Err(format!("connected, but the byte was not sent: errno {e}"));
    }
    Ok(Outcome::Allowed("connected, sent 1 byte".into()))
}

/// `sendto` one byte from an unbound unix datagram socket to `path`.
fn unix_sendto(path: &[u8]) -> Probe {
    let (addr, len) = sockaddr_un(path, false)?;
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", Error::last_os_error()));
    }
    let rc = unsafe {
        libc::sendto(
            fd,
            b"x".as_ptr().cast(),
            1,
            0,
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    let e = errno();
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed(format!("sent {rc} byte")))
}

/// An abstract datagram socket the probe binds itself, and a byte sent to
/// it by name from a second socket of the probe (no `listen`, which the
/// run's seccomp refuses without a bind rule).
fn unix_abstract_self(name: &[u8]) -> Probe {
    let (addr, len) = sockaddr_un(name, true)?;
    let ptr = (&addr as *const libc::sockaddr_un).cast::<libc::sockaddr>();
    let (rx, tx) = unsafe {
        (
            libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0),
            libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0),
        )
    };
    if rx < 0 || tx < 0 {
        return Err(format!("socket: {}", Error::last_os_error()));
    }
    if unsafe { libc::bind(rx, ptr, len) } != 0 {
        return Ok(Outcome::Refused(errno()));
    }
    if unsafe { libc::sendto(tx, b"x".as_ptr().cast(), 1, 0, ptr, len) } != 1 {
        return Ok(Outcome::Refused(errno()));
    }
    let mut buf = [0u8; 4];
    let n = unsafe { libc::recv(rx, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n != 1 || buf[0] != b'x' {
        return Err(format!("the byte did not arrive: {n}"));
    }
    Ok(Outcome::Allowed("received 1 byte".into()))
}

fn ptrace_sibling() -> Probe {
    // Two children of the probe: one sleeps, the other tries to trace it.
    let sleeper = unsafe { libc::fork() };
    if sleeper < 0 {
        return Err(format!("fork: {}", Error::last_os_error()));
    }
    if sleeper == 0 {
        unsafe {
            libc::pause();
            libc::_exit(0);
        }
    }
    let mut pipe = [0i32; 2];
    if unsafe { libc::pipe(pipe.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", Error::last_os_error()));
    }
    let tracer = unsafe { libc::fork() };
    if tracer == 0 {
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_ATTACH,
                sleeper,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        let result: i32 = if rc < 0 { errno() } else { 0 };
        unsafe {
            libc::write(pipe[1], (&result as *const i32).cast(), 4);
            libc::_exit(0);
        }
    }
    let mut result: i32 = -1;
    let n = unsafe { libc::read(pipe[0], (&mut result as *mut i32).cast(), 4) };
    unsafe {
        libc::kill(sleeper, libc::SIGKILL);
        libc::waitpid(sleeper, std::ptr::null_mut(), 0);
        libc::waitpid(tracer, std::ptr::null_mut(), 0);
    }
    if n != 4 {
        return Err("the tracer did not report".into());
    }
    if result == 0 {
        Ok(Outcome::Allowed("attached to the sibling".into()))
    } else {
        Ok(Outcome::Refused(result))
    }
}

/// Forks a process that leaves this session and whose parent is gone (it
/// is reparented): `true` in that process, `false` here once the
/// intermediate child has been reaped.
fn detached() -> Result<bool, String> {
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", Error::last_os_error()));
    }
    if pid == 0 {
        unsafe { libc::setsid() };
        if unsafe { libc::fork() } != 0 {
            unsafe { libc::_exit(0) };
        }
        return Ok(true);
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(false)
}

/// Forks `n` children that detach (new session), outlive the probe, record
/// their pid and what they could read, then wait to be killed.
fn fork_storm(n: &OsStr, out_dir: &OsStr, forbidden: &OsStr) -> Probe {
    let n: u32 = n
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad count {n:?}"))?;
    for i in 0..n {
        if detached()? {
            let me = std::process::id();
            let read = match open_read(forbidden) {
                Ok(Outcome::Allowed(_)) => "allowed".to_string(),
                Ok(Outcome::Refused(e)) => format!("refused {e}"),
                Err(e) => format!("error {e}"),
            };
            let mut path = out_dir.to_owned();
            path.push(format!("/child-{i}"));
            let _ = open_write(&path, format!("{me}\n{read}\n").as_bytes());
            loop {
                unsafe { libc::pause() };
            }
        }
    }
    // Wait until every grandchild has written its record.
    for _ in 0..2000 {
        let done = (0..n).all(|i| {
            let mut p = out_dir.to_owned();
            p.push(format!("/child-{i}"));
            std::fs::read_to_string(&p).is_ok_and(|s| s.lines().count() == 2)
        });
        if done {
            return Ok(Outcome::Allowed(format!("{n} detached children running")));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err("the detached children did not report".into())
}

/// A directory descriptor that reads nothing (`O_PATH`), for the `*at`
/// attacks; Landlock does not check such an open.
fn dir_fd(dir: &OsStr) -> Result<i32, String> {
    let d = cstr(dir)?;
    let fd = unsafe {
        libc::open(
            d.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(format!("open {dir:?}: {}", Error::last_os_error()));
    }
    Ok(fd)
}

/// `openat(fd of DIR, NAME)`: a read relative to a directory descriptor.
fn read_at(dir: &OsStr, name: &OsStr) -> Probe {
    let fd = dir_fd(dir)?;
    let n = cstr(name)?;
    let file = unsafe { libc::openat(fd, n.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    let e = errno();
    unsafe { libc::close(fd) };
    if file < 0 {
        return Ok(Outcome::Refused(e));
    }
    unsafe { libc::close(file) };
    Ok(Outcome::Allowed(format!("opened {name:?}")))
}

/// `renameat2(fd of DIR, OLD, AT_FDCWD, NEW, 0)`.
fn rename_at(dir: &OsStr, old: &OsStr, new: &OsStr) -> Probe {
    let fd = dir_fd(dir)?;
    let (o, n) = (cstr(old)?, cstr(new)?);
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            fd,
            o.as_ptr(),
            libc::AT_FDCWD,
            n.as_ptr(),
            0,
        )
    };
    let e = errno();
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed("renamed".into()))
}

/// A UDP `sendmsg` to 127.0.0.1:PORT (the address in `msg_name`).
fn udp_sendmsg(port: &OsStr) -> Probe {
    let (fd, mut addr) = match socket_to(libc::SOCK_DGRAM, [127, 0, 0, 1], port)? {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Refused(e)),
    };
    let mut data = *b"probe";
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: a zeroed msghdr is valid; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    let rc = unsafe { libc::sendmsg(fd, &msg, 0) };
    let e = errno();
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed(format!("sent {rc} bytes")))
}

/// A UDP `sendto` 127.0.0.1:PORT without connect.
fn udp_sendto(port: &OsStr) -> Probe {
    let (fd, addr) = match socket_to(libc::SOCK_DGRAM, [127, 0, 0, 1], port)? {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Refused(e)),
    };
    let rc = unsafe {
        libc::sendto(
            fd,
            b"probe".as_ptr().cast(),
            5,
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    let e = errno();
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Ok(Outcome::Refused(e));
    }
    Ok(Outcome::Allowed(format!("sent {rc} bytes")))
}

fn cgroup_escape(procs: &OsStr) -> Probe {
    open_write(procs, b"0")
}

fn run(args: &[OsString]) -> Probe {
    let attack = arg(args, 0, "ATTACK")?;
    let attack = attack.to_str().ok_or("attack names are ASCII")?;
    match attack {
        "read" => open_read(&arg(args, 1, "PATH")?),
        "write" => open_write(&arg(args, 1, "PATH")?, b"probe\n"),
        "symlink-read" => {
            let (target, link) = (cstr(&arg(args, 1, "TARGET")?)?, arg(args, 2, "LINK")?);
            if unsafe { libc::symlink(target.as_ptr(), cstr(&link)?.as_ptr()) } != 0 {
                return Err(format!("symlink: {}", Error::last_os_error()));
            }
            open_read(&link)
        }
        "hardlink-read" => {
            let (target, link) = (cstr(&arg(args, 1, "TARGET")?)?, arg(args, 2, "LINK")?);
            if unsafe { libc::link(target.as_ptr(), cstr(&link)?.as_ptr()) } != 0 {
                return Ok(Outcome::Refused(errno()));
            }
            open_read(&link)
        }
        "proc-root-read" => {
            let mut p = OsString::from("/proc/self/root");
            p.push(arg(args, 1, "PATH")?);
            open_read(&p)
        }
        "opath-fd-read" => {
            let p = cstr(&arg(args, 1, "PATH")?)?;
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if fd < 0 {
                return Ok(Outcome::Refused(errno()));
            }
            open_read(OsStr::new(&format!("/proc/self/fd/{fd}")))
        }
        "read-at" => read_at(&arg(args, 1, "DIR")?, &arg(args, 2, "NAME")?),
        "rename-at" => rename_at(
            &arg(args, 1, "DIR")?,
            &arg(args, 2, "OLD")?,
            &arg(args, 3, "NEW")?,
        ),
        "udp-sendto" => udp_sendto(&arg(args, 1, "PORT")?),
        "udp-sendmsg" => udp_sendmsg(&arg(args, 1, "PORT")?),
        "io-uring-setup" => io_uring_setup(),
        "exec" => exec(&arg(args, 1, "PROGRAM")?, &args[2..]),
        "exec-memfd" => exec_memfd(&arg(args, 1, "SOURCE")?),
        "exec-memfd-via" => exec_memfd_via(
            &arg(args, 1, "SOURCE")?,
            &arg(args, 2, "plain|sealed|exec")?,
            &arg(args, 3, "at|proc")?,
        ),
        "exec-argv0" => exec_argv0(
            &arg(args, 1, "PROGRAM")?,
            &arg(args, 2, "ARGV0")?,
            args.get(3..).unwrap_or_default(),
        ),
        "exec-in" => exec_in(
            &arg(args, 1, "DIR")?,
            &arg(args, 2, "NAME")?,
            args.get(3..).unwrap_or_default(),
        ),
        "exec-at" => exec_at(
            &arg(args, 1, "DIR")?,
            &arg(args, 2, "NAME")?,
            args.get(3..).unwrap_or_default(),
        ),
        "exec-fd" => exec_fd(&arg(args, 1, "PROGRAM")?, &args[2..]),
        "exec-proc-fd" => exec_proc_fd(&arg(args, 1, "PROGRAM")?, &args[2..]),
        "unix-connect" => unix_connect(arg(args, 1, "PATH")?.as_bytes(), false),
        "unix-connect-in" => {
            let dir = cstr(&arg(args, 1, "DIR")?)?;
            if unsafe { libc::chdir(dir.as_ptr()) } != 0 {
                return Err(format!("chdir: {}", Error::last_os_error()));
            }
            unix_connect(arg(args, 2, "NAME")?.as_bytes(), false)
        }
        "unix-symlink-connect" => {
            let (target, link) = (cstr(&arg(args, 1, "TARGET")?)?, arg(args, 2, "LINK")?);
            if unsafe { libc::symlink(target.as_ptr(), cstr(&link)?.as_ptr()) } != 0 {
                return Err(format!("symlink: {}", Error::last_os_error()));
            }
            unix_connect(link.as_bytes(), false)
        }
        "unix-connect-abstract" => unix_connect(arg(args, 1, "NAME")?.as_bytes(), true),
        "unix-sendto" => unix_sendto(arg(args, 1, "PATH")?.as_bytes()),
        "unix-abstract-self" => unix_abstract_self(arg(args, 1, "NAME")?.as_bytes()),
        "connect" => tcp("connect", &arg(args, 1, "PORT")?, [127, 0, 0, 1]),
        "connect-addr" => {
            let addr = arg(args, 1, "IPV4")?;
            let addr: std::net::Ipv4Addr = addr
                .to_str()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| format!("bad IPv4 address {addr:?}"))?;
            tcp("connect", &arg(args, 2, "PORT")?, addr.octets())
        }
        "bind" => tcp("bind", &arg(args, 1, "PORT")?, [127, 0, 0, 1]),
        "listen-unbound" => listen_unbound(),
        "ptrace-sibling" => ptrace_sibling(),
        "cgroup-escape" => cgroup_escape(&arg(args, 1, "CGROUP_PROCS")?),
        "fork-storm" => fork_storm(
            &arg(args, 1, "N")?,
            &arg(args, 2, "OUT_DIR")?,
            &arg(args, 3, "FORBIDDEN")?,
        ),
        "metas" => meta::metas(&args[1..]).map(|n| Outcome::Allowed(format!("{n} changes tried"))),
        "meta-race" => meta::race(
            &arg(args, 1, "A")?,
            &arg(args, 2, "B")?,
            &arg(args, 3, "N")?.to_string_lossy(),
            &arg(args, 4, "MODE")?.to_string_lossy(),
        )
        .map(Outcome::Allowed),
        "meta-loop" => meta::timed(
            &arg(args, 1, "N")?.to_string_lossy(),
            &arg(args, 2, "PATH")?,
            &arg(args, 3, "MODE")?.to_string_lossy(),
        )
        .map(Outcome::Allowed),
        "meta-wait" => changed(meta::after(&arg(args, 1, "TRIGGER")?, &args[2..])?),
        "detach" => detach(&arg(args, 1, "TRIGGER")?, &arg(args, 2, "OUT")?, &args[3..]),
        "as" => {
            meta::become_user(&arg(args, 1, "UID")?, &arg(args, 2, "GID")?)?;
            run(&args[3..])
        }
        "drop-cap" => {
            meta::drop_cap(&arg(args, 1, "CAP")?)?;
            run(&args[2..])
        }
        other => Err(format!("unknown attack `{other}`")),
    }
}

fn changed(r: Result<(), i32>) -> Probe {
    Ok(match r {
        Ok(()) => Outcome::Allowed("changed".into()),
        Err(e) => Outcome::Refused(e),
    })
}

/// `detach TRIGGER OUT OP PATH VALUE`: a detached grandchild (new session,
/// parent gone) writes `OUT.ready`, waits for `TRIGGER`, makes the change
/// and writes `allowed` or `refused ERRNO` to `OUT`; the probe itself
/// prints `allowed detached` and waits to be killed.
fn detach(trigger: &OsStr, out: &OsStr, op: &[OsString]) -> Probe {
    if detached()? {
        let mut ready = out.to_owned();
        ready.push(".ready");
        let _ = open_write(&ready, b"");
        let line = match meta::after(trigger, op) {
            Ok(Ok(())) => "allowed".to_owned(),
            Ok(Err(e)) => format!("refused {e}"),
            Err(e) => format!("error {e}"),
        };
        let _ = open_write(out, line.as_bytes());
        unsafe { libc::_exit(0) };
    }
    println!("allowed detached");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        unsafe { libc::pause() };
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok(Outcome::Allowed(detail)) => {
            println!("allowed {detail}");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Refused(e)) => {
            println!("refused {e} {}", Error::from_raw_os_error(e));
            ExitCode::from(REFUSED)
        }
        Err(msg) => {
            eprintln!("warden-escape-probe: {msg}");
            ExitCode::from(USAGE)
        }
    }
}
