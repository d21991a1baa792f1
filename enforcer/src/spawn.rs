//! Starting the run's command: a child created directly inside the run's
//! cgroup with `clone3(CLONE_INTO_CGROUP)`, confined, then `execve`.
//!
//! Moving a process into a cgroup by writing `cgroup.procs` takes the
//! kernel's cgroup thread-group lock for writing, which waits for an RCU
//! grace period: 10-20 ms of every run's start-up on this VM. A child
//! created inside the cgroup never moves, so it waits for nothing, and it
//! is inside the run (and its eBPF programs) from its first instruction.
//! Kernels without `clone3` (before 5.7) fall back to `fork` and a write to
//! `cgroup.procs` in the child, as before.
//!
//! Between the clone and `exec` the child runs with one thread in a copy
//! of a multi-threaded parent, so it only makes system calls on data
//! prepared beforehand: no allocation, no lock. Any failure is sent to the
//! parent as an errno over a close-on-exec pipe and the child exits 127
//! without executing anything: the launcher fails closed.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// Where a standard stream of the command goes.
#[derive(Debug, Default)]
pub enum Output {
    /// The launcher's own stream.
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A file or other descriptor.
    Fd(OwnedFd),
}

impl From<File> for Output {
    fn from(f: File) -> Self {
        Output::Fd(f.into())
    }
}

impl From<OwnedFd> for Output {
    fn from(fd: OwnedFd) -> Self {
        Output::Fd(fd)
    }
}

impl Output {
    /// The descriptor the child puts in place of its stream, if any.
    fn open(&self) -> io::Result<Option<OwnedFd>> {
        match self {
            Output::Inherit => Ok(None),
            Output::Null => Ok(Some(File::options().write(true).open("/dev/null")?.into())),
            Output::Fd(fd) => fd.try_clone().map(Some),
        }
    }
}

/// What the child does between the clone and `exec`, in this order: join
/// the run's cgroup (only where `clone3` is missing), die with the
/// launcher, the Landlock ruleset, the metadata supervisor's filter (its
/// listener sent to the launcher), the seccomp filters.
pub(crate) struct Confinement<'a> {
    /// The run's cgroup directory (`CLONE_INTO_CGROUP`).
    pub cgroup_dir: Option<&'a File>,
    /// Its `cgroup.procs`, for the fallback without `clone3`.
    pub cgroup_procs: Option<RawFd>,
    pub landlock_ruleset: Option<RawFd>,
    pub metadata: Option<&'a crate::supervisor::Prepared>,
    pub seccomp: Option<&'a crate::seccomp::PreparedSeccomp>,
}

/// Every signal a launcher may catch ([`crate::lifecycle::forward_termination_signals`],
/// and SIGCHLD for a launcher that reaps every child): what a command's
/// process resets to the defaults.
pub(crate) const CAUGHT_SIGNALS: [libc::c_int; 4] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD];

/// [`CAUGHT_SIGNALS`] blocked in the calling thread while this value lives
/// (across the clone of a command, whose child resets them to their
/// defaults before it unblocks them); the previous mask is restored on drop.
pub(crate) struct CaughtSignalsBlocked(libc::sigset_t);

impl CaughtSignalsBlocked {
    pub(crate) fn new() -> CaughtSignalsBlocked {
        // SAFETY: sigset_t is plain data, filled by sigemptyset/sigaddset;
        // pthread_sigmask only changes this thread's mask.
        unsafe {
            let mut block: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut block);
            for sig in CAUGHT_SIGNALS {
                libc::sigaddset(&mut block, sig);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
            CaughtSignalsBlocked(old)
        }
    }
}

impl Drop for CaughtSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// A started command.
pub(crate) struct Child {
    pid: libc::pid_t,
    /// Readable once the command has exited (`CLONE_PIDFD`, or
    /// `pidfd_open` after a `fork`).
    pidfd: Option<OwnedFd>,
    reaped: bool,
    /// Its status, when a launcher that reaps every child reaped it.
    status: Option<ExitStatus>,
}

impl Child {
    /// The command's process id.
    pub(crate) fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// A descriptor that polls readable when the command has exited.
    pub(crate) fn pidfd(&self) -> Option<RawFd> {
        self.pidfd.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Records the status of the command, reaped by `waitpid(-1)`.
    pub(crate) fn reaped_with(&mut self, raw: libc::c_int) {
        self.reaped = true;
        self.status = Some(ExitStatus::from_raw(raw));
    }

    /// Waits for the command to end.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        self.wait_with(0)?
            .ok_or_else(|| io::Error::other("waitpid returned without a status"))
    }

    /// The command's status if it has ended, without waiting.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.wait_with(libc::WNOHANG)
    }

    fn wait_with(&mut self, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child; `status` is a valid out-pointer.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, flags) };
            if rc == self.pid {
                self.reaped_with(status);
                return Ok(self.status);
            }
            if rc == 0 {
                return Ok(None);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // Never leave a zombie or a running command behind an error.
            // SAFETY: our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Finds `program` the way a shell does: as given when it has a `/`, else
/// the first executable file of that name in `PATH`.
fn resolve(program: &OsStr) -> io::Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        let Ok(c) = CString::new(candidate.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: a valid C string.
        let executable = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
        if executable && candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found in PATH", Path::new(program).display()),
    ))
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{:?} contains a NUL byte", s),
        )
    })
}

/// `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLONE_PIDFD: u64 = 0x1000;

/// Creates the child: `clone3` into the cgroup, or `fork` where `clone3`
/// is missing. Returns the pid (0 in the child), whether the child still
/// has to join the cgroup itself, and (in the parent) the child's pidfd
/// when `clone3` made one.
fn clone_into(cgroup_dir: Option<&File>) -> io::Result<(libc::pid_t, bool, Option<OwnedFd>)> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: CLONE_PIDFD,
        pidfd: (&raw mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(dir) = cgroup_dir {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = dir.as_raw_fd() as u64;
    }
    // SAFETY: a valid clone_args of the size passed; without CLONE_VM the
    // child runs on a copy of this stack, like fork.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc > 0 {
        // SAFETY: clone3 wrote a new descriptor that nothing else owns.
        let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
        return Ok((rc as libc::pid_t, false, pidfd));
    }
    if rc == 0 {
        return Ok((0, false, None));
    }
    let e = io::Error::last_os_error();
    if !matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::E2BIG)) {
        return Err(e);
    }
    // SAFETY: fork; the child only makes system calls before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let pidfd = if pid > 0 {
        // SAFETY: pidfd_open of our own child; the result is a new descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    } else {
        None
    };
    Ok((pid, cgroup_dir.is_some(), pidfd))
}

/// Starts `program` with `args` under `confine`; returns once the program
/// has been executed (or the error that stopped it before).
pub(crate) fn spawn(
    program: &OsStr,
    args: &[OsString],
    cwd: Option<&Path>,
    stdout: &Output,
    stderr: &Output,
    confine: &Confinement<'_>,
) -> io::Result<Child> {
    // Everything the child needs, prepared here.
    let path = cstring(resolve(program)?.as_os_str())?;
    let argv_owned: Vec<CString> = std::iter::once(program)
        .chain(args.iter().map(OsString::as_os_str))
        .map(cstring)
        .collect::<io::Result<_>>()?;
    let mut argv: Vec<*const libc::c_char> = argv_owned.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let env_owned: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstring(&kv)
        })
        .collect::<io::Result<_>>()?;
    let mut envp: Vec<*const libc::c_char> = env_owned.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let cwd = cwd.map(|d| cstring(d.as_os_str())).transpose()?;
    let out_fd = stdout.open()?;
    let err_fd = stderr.open()?;
    let mut pipe = [0 as RawFd; 2];
    // SAFETY: `pipe` has room for two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    // SAFETY: a plain system call.
    let parent = unsafe { libc::getpid() };

    // The launcher's signal handlers (they write to its signal pipe) must
    // never run in the child: the signals it catches are blocked across the
    // clone, and the child makes their dispositions the defaults before it
    // unblocks them. A signal forwarded before `exec` then acts on the
    // command as it would after.
    let caught = CaughtSignalsBlocked::new();
    let (pid, join_procs, pidfd) = clone_into(confine.cgroup_dir)?;
    if pid != 0 {
        drop(caught);
    }
    if pid == 0 {
        let errno = child(
            ChildPlan {
                path: &path,
                argv: &argv,
                envp: &envp,
                cwd: cwd.as_deref(),
                stdout: out_fd.as_ref().map(AsRawFd::as_raw_fd),
                stderr: err_fd.as_ref().map(AsRawFd::as_raw_fd),
                parent,
                join_procs: if join_procs {
                    confine.cgroup_procs
                } else {
                    None
                },
            },
            confine,
        );
        let bytes = errno.to_ne_bytes();
        // SAFETY: the child reports its errno and ends without unwinding or
        // running the parent's exit handlers.
        unsafe {
            libc::write(write_end.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        }
    }
    drop(write_end);
    let mut child = Child {
        pid,
        pidfd,
        reaped: false,
        status: None,
    };
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the rest of `buf`.
        let n = unsafe {
            libc::read(
                read_end.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        if n == 0 {
            break;
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        got += n as usize;
    }
    if got == 0 {
        // The pipe closed on exec: the program runs.
        return Ok(child);
    }
    let errno = i32::from_ne_bytes(buf);
    child.wait()?;
    Err(io::Error::from_raw_os_error(errno))
}

/// The child's data, all prepared before the clone.
struct ChildPlan<'a> {
    path: &'a CString,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    cwd: Option<&'a std::ffi::CStr>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
    parent: libc::pid_t,
    join_procs: Option<RawFd>,
}

fn errno_of(e: io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EPERM)
}

fn last_errno() -> i32 {
    errno_of(io::Error::last_os_error())
}

/// The child between the clone and `exec`: only system calls on prepared
/// data. Returns the errno of the step that failed (`exec` does not return
/// on success).
fn child(plan: ChildPlan<'_>, confine: &Confinement<'_>) -> i32 {
    // SAFETY (whole function): system calls with valid arguments prepared
    // by the parent; nothing allocates or takes a lock.
    unsafe {
        // The launcher's signal state is not the command's: default
        // dispositions for what the Rust runtime changed, nothing blocked.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        for sig in CAUGHT_SIGNALS {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        for (fd, target) in [(plan.stdout, 1), (plan.stderr, 2)] {
            if let Some(fd) = fd {
                // The source is close-on-exec; its copy is not.
                if libc::dup2(fd, target) < 0 {
                    return last_errno();
                }
            }
        }
        if let Some(dir) = plan.cwd
            && libc::chdir(dir.as_ptr()) != 0
        {
            return last_errno();
        }
        if let Some(procs) = plan.join_procs
            && let Err(e) = crate::cgroup::join_self(procs)
        {
            return errno_of(e);
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return last_errno();
        }
        // The launcher may have died before the line above took effect.
        if libc::getppid() != plan.parent {
            return libc::ESRCH;
        }
        if let Some(fd) = confine.landlock_ruleset
            && let Err(e) = crate::landlock::restrict_self(fd)
        {
            return errno_of(e);
        }
        if let Some(m) = confine.metadata
            && let Err(e) = m.install_in_child()
        {
            return errno_of(e);
        }
        if let Some(s) = confine.seccomp
            && let Err(e) = s.install()
        {
            return errno_of(e);
        }
        libc::execve(plan.path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
        last_errno()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unconfined() -> Confinement<'static> {
        Confinement {
            cgroup_dir: None,
            cgroup_procs: None,
            landlock_ruleset: None,
            metadata: None,
            seccomp: None,
        }
    }

    #[test]
    fn runs_a_program_and_returns_its_status() {
        let none = Output::Inherit;
        let mut c = spawn(
            OsStr::new("sh"),
            &["-c".into(), "exit 7".into()],
            None,
            &none,
            &Output::Null,
            &unconfined(),
        )
        .unwrap();
        assert_eq!(c.wait().unwrap().code(), Some(7));
    }

    #[test]
    fn output_goes_where_asked_and_cwd_applies() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let file = File::create(&out).unwrap();
        let mut c = spawn(
            OsStr::new("/bin/sh"),
            &["-c".into(), "pwd; echo \"$WARDEN_SPAWN_TEST\"".into()],
            Some(dir.path()),
            &Output::from(file),
            &Output::Inherit,
            &unconfined(),
        )
        .unwrap();
        assert!(c.wait().unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            Path::new(first).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    /// The errno that stops `program` (run in `cwd`) before it runs.
    fn refusal(program: &OsStr, cwd: Option<&Path>) -> Option<i32> {
        let inherit = Output::Inherit;
        let result = spawn(program, &[], cwd, &inherit, &inherit, &unconfined());
        result.err().map(|e| e.raw_os_error().unwrap_or(-1))
    }

    #[test]
    fn a_missing_program_or_directory_is_an_error_before_anything_runs() {
        let missing = spawn(
            OsStr::new("no-such-program-warden-test"),
            &[],
            None,
            &Output::Inherit,
            &Output::Inherit,
            &unconfined(),
        );
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        let bad_cwd = Path::new("/no/such/dir/warden");
        assert_eq!(
            refusal(OsStr::new("/bin/true"), Some(bad_cwd)),
            Some(libc::ENOENT)
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.txt");
        std::fs::write(&data, "not a program\n").unwrap();
        assert_eq!(refusal(data.as_os_str(), None), Some(libc::EACCES));
    }

    #[test]
    fn the_child_is_created_inside_the_cgroup() {
        if !testkit::root_or_skip!("creating a cgroup") {
            return;
        }
        let id = format!("spawn-test-{}", std::process::id());
        let mut cg = crate::cgroup::RunCgroup::create(&id, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cgroup");
        let confine = Confinement {
            cgroup_dir: Some(cg.dir()),
            cgroup_procs: Some(cg.procs_fd()),
            landlock_ruleset: None,
            metadata: None,
            seccomp: None,
        };
        let mut child = spawn(
            OsStr::new("/bin/cat"),
            &["/proc/self/cgroup".into()],
            None,
            &Output::from(File::create(&out).unwrap()),
            &Output::Inherit,
            &confine,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
        cg.finish().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with("0::") && l.ends_with(&format!("/run-{id}"))),
            "{text}"
        );
    }
}
