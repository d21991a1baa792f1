//! `warden-overhead-loop open PATH N | connect PORT N | unix PATH N | exec
//! PROGRAM N | sleep MS`: runs N open/close, TCP connect/close, unix socket
//! connect/close or fork/exec/wait operations and prints the total
//! wall-clock and CPU time (this thread's user + system, and for `exec` its
//! children's: what the layers add in the kernel, and what a busy machine's
//! other work does not inflate) in nanoseconds, for the enforcer's overhead
//! bench (the same loop confined and unconfined); `sleep` just waits (a run
//! that is active while other processes are measured). TCP connections are
//! closed with a reset (`SO_LINGER` 0), so none waits in TIME_WAIT.

use std::ffi::CString;
use std::process::ExitCode;
use std::time::Instant;

/// Wall-clock and CPU nanoseconds of a loop.
type Times = (u128, u128);

fn thread_cpu_ns() -> u128 {
    // SAFETY: clock_gettime fills the zeroed timespec.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

fn open_loop(path: &str, n: u64) -> Result<Times, String> {
    let p = CString::new(path).map_err(|_| "path has a NUL byte".to_string())?;
    let (start, cpu) = (Instant::now(), thread_cpu_ns());
    for _ in 0..n {
        // SAFETY: a valid C string; the descriptor is closed at once.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open {path}: {}", std::io::Error::last_os_error()));
        }
        unsafe { libc::close(fd) };
    }
    Ok((start.elapsed().as_nanos(), thread_cpu_ns() - cpu))
}

fn connect_loop(port: u16, n: u64) -> Result<Times, String> {
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    let (start, cpu) = (Instant::now(), thread_cpu_ns());
    for _ in 0..n {
        // SAFETY: plain socket calls on a descriptor this loop owns.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(format!("socket: {}", std::io::Error::last_os_error()));
            }
            let rc = libc::connect(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                libc::close(fd);
                return Err(format!("connect 127.0.0.1:{port}: {e}"));
            }
            // Close with a reset: no TIME_WAIT, so long loops never run
            // short of ephemeral ports.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
            libc::close(fd);
        }
    }
    Ok((start.elapsed().as_nanos(), thread_cpu_ns() - cpu))
}

fn children_cpu_ns() -> u128 {
    // SAFETY: getrusage fills the zeroed struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    [u.ru_utime, u.ru_stime]
        .iter()
        .map(|t| t.tv_sec as u128 * 1_000_000_000 + t.tv_usec as u128 * 1000)
        .sum()
}

fn unix_loop(path: &str, n: u64) -> Result<Times, String> {
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.len() >= addr.sun_path.len() {
        return Err(format!("{path}: longer than sun_path"));
    }
    for (slot, b) in addr.sun_path.iter_mut().zip(path.bytes()) {
        *slot = b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let (start, cpu) = (Instant::now(), thread_cpu_ns());
    for _ in 0..n {
        // SAFETY: plain socket calls on a descriptor this loop owns.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(format!("socket: {}", std::io::Error::last_os_error()));
            }
            if libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) < 0 {
                let e = std::io::Error::last_os_error();
                libc::close(fd);
                return Err(format!("connect {path}: {e}"));
            }
            libc::close(fd);
        }
    }
    Ok((start.elapsed().as_nanos(), thread_cpu_ns() - cpu))
}

fn exec_loop(program: &str, n: u64) -> Result<Times, String> {
    let p = CString::new(program).map_err(|_| "program has a NUL byte".to_string())?;
    let argv = [p.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let (start, cpu, children) = (Instant::now(), thread_cpu_ns(), children_cpu_ns());
    for _ in 0..n {
        // SAFETY: the child only calls execve and _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            unsafe {
                libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(format!("{program}: status {status:#x}"));
        }
    }
    let cpu = thread_cpu_ns() - cpu + children_cpu_ns() - children;
    Ok((start.elapsed().as_nanos(), cpu))
}

/// The open/close loop before and after this process enters a minimal
/// Landlock domain, to show the floor of Landlock's own cost on this kernel:
/// `all` handles every file access with one rule (read `path`), as any
/// envelope must; `truncate` grants truncate too, so the kernel's search
/// for rules stops at the file; `unrelated` handles one access that open
/// never checks.
fn landlock_floor(path: &str, n: u64, variant: &str) -> Result<Times, String> {
    use landlock::{
        ABI, Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
    };
    let err = |e: landlock::RulesetError| e.to_string();
    // What the domain handles, and the one rule on `path` if any.
    let (handled, rule) = match variant {
        "all" => (AccessFs::from_all(ABI::V5), Some(AccessFs::ReadFile.into())),
        // A widening no envelope gets: the kernel's walk then stops at the file.
        "truncate" => (
            AccessFs::from_all(ABI::V5),
            Some(AccessFs::ReadFile | AccessFs::Truncate),
        ),
        "unrelated" => (AccessFs::MakeSock.into(), None),
        other => return Err(format!("unknown variant {other:?}")),
    };
    let before = open_loop(path, n)?;
    let mut ruleset = Ruleset::default()
        .handle_access(handled)
        .map_err(err)?
        .create()
        .map_err(err)?;
    if let Some(access) = rule {
        let fd = PathFd::new(path).map_err(|e| e.to_string())?;
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(err)?;
    }
    ruleset.restrict_self().map_err(err)?;
    let after = open_loop(path, n)?;
    // The CPU time before and after, in the wall/CPU slots.
    Ok((before.1, after.1))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.get(2).and_then(|s| s.parse::<u64>().ok());
    let result = match (args.first().map(String::as_str), args.get(1), n) {
        (Some("open"), Some(path), Some(n)) => open_loop(path, n),
        (Some("connect"), Some(port), Some(n)) => match port.parse() {
            Ok(port) => connect_loop(port, n),
            Err(_) => Err(format!("bad port {port:?}")),
        },
        (Some("unix"), Some(path), Some(n)) => unix_loop(path, n),
        (Some("exec"), Some(program), Some(n)) => exec_loop(program, n),
        (Some("sleep"), Some(ms), None) => match ms.parse::<u64>() {
            Ok(ms) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok((0, 0))
            }
            Err(_) => Err(format!("bad duration {ms:?}")),
        },
        (Some("landlock-floor"), Some(path), Some(n)) => {
            landlock_floor(path, n, args.get(3).map_or("all", String::as_str))
        }
        _ => Err(
            "usage: warden-overhead-loop open PATH N | connect PORT N | unix PATH N | \
                  exec PROGRAM N | sleep MS | landlock-floor PATH N [all|truncate|unrelated]"
                .into(),
        ),
    };
    match result {
        Ok((wall, cpu)) => {
            println!("{wall} {cpu}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warden-overhead-loop: {e}");
            ExitCode::from(2)
        }
    }
}
