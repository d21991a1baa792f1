//! How a run ends: the launcher is the run's init, and nothing of a run
//! outlives the authority it runs under.
//!
//! A run ends when its command exits; whatever of it is left then is killed
//! with its cgroup ([`crate::cgroup::RunCgroup::finish`]). Before that,
//! three things end it:
//!
//! - a termination signal to the launcher (SIGTERM, SIGINT, SIGHUP: a pod
//!   deleted, `docker stop`, Ctrl-C), once the process called
//!   [`forward_termination_signals`] and the run is its init
//!   ([`crate::RunOptions::init`]): forwarded to the command, which has
//!   [`crate::RunOptions::grace`] to end; then the run is killed;
//! - the token's expiry ([`crate::RunOptions::expires`]): SIGTERM to the
//!   command at `exp` minus the grace (at most [`EXPIRY_GRACE_CAP`]), the
//!   run killed at `exp`;
//! - a [`StopHandle`]: a revocation source (a watched revocation list,
//!   [`RevocationWatch`]; a service's revocation feed) kills the run at once.
//!
//! Killed means `cgroup.kill` on the run's cgroup. A run without a cgroup
//! (no root) has its launcher as subreaper (`PR_SET_CHILD_SUBREAPER`): every
//! orphan of the run is re-parented to the launcher instead of init, so the
//! whole tree stays findable, and it is killed process by process. A
//! launcher that is PID 1 (a container's entrypoint) reaps every child
//! re-parented to it.
//!
//! ```no_run
//! use enforcer::lifecycle::{StopHandle, StopReason};
//!
//! let stop = StopHandle::new()?;
//! let for_the_subscriber = stop.clone();
//! // ... RunOptions { stop: Some(stop), .. } for the run; then, from any
//! // thread, when the revocation feed names the token:
//! for_the_subscriber.stop(StopReason::Revoked { id: "9f…".into() });
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::spawn::Child;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a run has to end after a forwarded termination signal before
/// it is killed, by default (`warden exec --grace`).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(25);

/// The most of the grace a run gets before its token expires: SIGTERM at
/// `exp` minus the smaller of the two, killed at `exp`.
pub const EXPIRY_GRACE_CAP: Duration = Duration::from_secs(10);

/// When a run under a token that expires at `exp` gets SIGTERM: `exp`
/// minus `grace`, at most [`EXPIRY_GRACE_CAP`] before it.
pub fn expiry_term_at(exp: SystemTime, grace: Duration) -> SystemTime {
    exp.checked_sub(grace.min(EXPIRY_GRACE_CAP))
        .filter(|at| *at >= SystemTime::UNIX_EPOCH)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

// ───────────────────────────── stop handle ─────────────────────────────

/// Why a run was stopped at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The token, or one it was attenuated from (`id`), was revoked.
    Revoked {
        /// The revoked token's id.
        id: String,
    },
    /// The revocation source cannot be consulted any more: fail closed.
    RevocationUnavailable {
        /// What failed.
        why: String,
    },
    /// Another reason, in the caller's words.
    Other {
        /// The reason.
        why: String,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Revoked { id } => write!(f, "the token {id} was revoked"),
            StopReason::RevocationUnavailable { why } => {
                write!(f, "the revocation list cannot be consulted ({why})")
            }
            StopReason::Other { why } => f.write_str(why),
        }
    }
}

/// Stops a run at once, from any thread: the run's launcher kills its
/// cgroup (or its process tree) as soon as [`StopHandle::stop`] is called,
/// and a run not started yet never starts. Clone it for every source that
/// may stop the run (a revocation list watch, a service subscription); the
/// first reason given is the one reported.
#[derive(Clone)]
pub struct StopHandle(Arc<StopShared>);

struct StopShared {
    /// An eventfd the launcher polls.
    event: OwnedFd,
    reason: Mutex<Option<StopReason>>,
}

impl fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopHandle")
            .field("reason", &self.reason())
            .finish()
    }
}

impl StopHandle {
    /// A handle no source has used yet.
    pub fn new() -> io::Result<StopHandle> {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(StopHandle(Arc::new(StopShared {
            // SAFETY: a descriptor just created and owned by nothing else.
            event: unsafe { OwnedFd::from_raw_fd(fd) },
            reason: Mutex::new(None),
        })))
    }

    /// Stops the run at once for `reason`. Never blocks; calling it again
    /// (or from another source) changes nothing.
    pub fn stop(&self, reason: StopReason) {
        {
            let mut held = self.0.reason.lock().unwrap_or_else(|p| p.into_inner());
            if held.is_none() {
                *held = Some(reason);
            }
        }
        let one = 1u64;
        // SAFETY: writes 8 bytes to our eventfd; it never blocks (EFD_NONBLOCK).
        unsafe { libc::write(self.0.event.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Why the run was stopped, once it was.
    pub fn reason(&self) -> Option<StopReason> {
        self.0
            .reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn fd(&self) -> RawFd {
        self.0.event.as_raw_fd()
    }

    fn drain(&self) {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes from our non-blocking eventfd.
        unsafe { libc::read(self.fd(), (&raw mut count).cast(), 8) };
    }
}

// ───────────────────────────── signals ─────────────────────────────

/// The signals that ask a run to end, forwarded to its command.
pub const TERMINATION_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The signal pipe's ends (-1 until made): the handler writes two bytes a
/// signal (its number, and 1 when the kernel sent it, e.g. a terminal's
/// Ctrl-C to the foreground process group).
static SIGNAL_READ: AtomicI32 = AtomicI32::new(-1);
static SIGNAL_WRITE: AtomicI32 = AtomicI32::new(-1);
static SIGNAL_SETUP: Mutex<()> = Mutex::new(());
static FORWARDING: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let fd = SIGNAL_WRITE.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: async-signal-safe: one write of two bytes (atomic on a
    // pipe), errno saved and restored.
    unsafe {
        let errno = *libc::__errno_location();
        let kernel = !info.is_null() && (*info).si_code == libc::SI_KERNEL;
        let record = [sig as u8, u8::from(kernel)];
        libc::write(fd, record.as_ptr().cast(), record.len());
        *libc::__errno_location() = errno;
    }
}

/// The signal pipe's read end, made on first use (it lives as long as the
/// process).
fn signal_pipe() -> io::Result<RawFd> {
    let _setup = SIGNAL_SETUP.lock().unwrap_or_else(|p| p.into_inner());
    let read = SIGNAL_READ.load(Ordering::SeqCst);
    if read >= 0 {
        return Ok(read);
    }
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_WRITE.store(fds[1], Ordering::SeqCst);
    SIGNAL_READ.store(fds[0], Ordering::SeqCst);
    Ok(fds[0])
}

fn install(sig: libc::c_int) -> io::Result<()> {
    signal_pipe()?;
    // SAFETY: a zeroed sigaction is valid; the handler is async-signal-safe.
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        if sig == libc::SIGCHLD {
            sa.sa_flags |= libc::SA_NOCLDSTOP;
        }
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Catches SIGTERM, SIGINT and SIGHUP for the rest of the process's life:
/// instead of ending the launcher (and leaving the run to its watchdog),
/// they reach the run that is this process's init ([`crate::RunOptions::init`])
/// and start its grace period. Call it first thing in a launcher (`warden
/// exec`), before anything that takes time. The command's own dispositions
/// are the defaults again after `exec`.
pub fn forward_termination_signals() -> io::Result<()> {
    for sig in TERMINATION_SIGNALS {
        install(sig)?;
    }
    FORWARDING.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether [`forward_termination_signals`] was called.
pub fn forwarding_signals() -> bool {
    FORWARDING.load(Ordering::SeqCst)
}

/// Wakes the launcher on SIGCHLD: a launcher that reaps every child.
pub(crate) fn reap_on_sigchld() -> io::Result<()> {
    install(libc::SIGCHLD)
}

/// One signal taken from the pipe.
struct Received {
    signal: libc::c_int,
    from_kernel: bool,
}

fn read_signals(fd: RawFd) -> Vec<Received> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into `buf` from our non-blocking pipe.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        for record in buf[..n as usize].chunks_exact(2) {
            out.push(Received {
                signal: libc::c_int::from(record[0]),
                from_kernel: record[1] == 1,
            });
        }
    }
}

fn signal_name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        n => format!("signal {n}"),
    }
}

// ───────────────────────────── the end of a run ─────────────────────────────

/// Why the launcher killed a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillCause {
    /// The grace period after a termination signal ended.
    GraceEnded,
    /// The token expired.
    Expired,
    /// A [`StopHandle`] stopped it.
    Stopped(StopReason),
}

impl fmt::Display for KillCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillCause::GraceEnded => f.write_str("the grace period ended"),
            KillCause::Expired => f.write_str("the token expired"),
            KillCause::Stopped(reason) => reason.fmt(f),
        }
    }
}

/// What happened to a run before its command ended, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopEvent {
    /// The launcher received a termination signal; `forwarded` unless the
    /// terminal had sent it to the command's process group already.
    Signal {
        /// The signal's number.
        signal: libc::c_int,
        /// Whether the launcher sent it on to the command.
        forwarded: bool,
    },

    /// SIGTERM sent to the command: its token expires within the grace.
    Expiring,
    /// The run was killed.
    Killed(KillCause),
}

/// How the launcher waits for a run and ends it early.
pub(crate) struct Ending<'a> {
    pub grace: Duration,
    pub expires: Option<SystemTime>,
    pub stop: Option<&'a StopHandle>,
    /// Termination signals are forwarded to the command.
    pub signals: bool,
    /// Every child is reaped (PID 1, or a subreaper).
    pub reap: bool,
    pub quiet: bool,
}

/// Waits for the command of a run to end, forwarding termination signals,
/// sending SIGTERM before the token expires and calling `kill` (once) when
/// the grace ends, the token expires or the stop handle is used. With
/// `reap`, every child that ends is reaped; those that are not the command
/// are handed to `reaped_other`. Returns the command's status and what
/// happened, in order.
pub(crate) fn wait(
    child: &mut Child,
    ending: &Ending<'_>,
    kill: &mut dyn FnMut(),
    reaped_other: &mut dyn FnMut(libc::pid_t),
) -> io::Result<(ExitStatus, Vec<StopEvent>)> {
    let say = |what: String| {
        if !ending.quiet {
            eprintln!("warden: {what}");
        }
    };
    let pid = child.pid();
    let term_at = ending.expires.map(|exp| expiry_term_at(exp, ending.grace));
    let signals = if ending.signals || ending.reap {
        Some(signal_pipe()?)
    } else {
        None
    };
    let mut events = Vec::new();
    let mut kill_at: Option<Instant> = None;
    let mut term_sent = false;
    let mut killed = false;
    loop {
        if ending.reap {
            reap_children(child, reaped_other);
        }
        if let Some(status) = child.try_wait()? {
            return Ok((status, events));
        }
        for r in signals.map(read_signals).unwrap_or_default() {
            if !ending.signals || !TERMINATION_SIGNALS.contains(&r.signal) {
                // SIGCHLD: children are reaped at the top of the loop.
                continue;
            }
            // A terminal sends its signals to the whole foreground process
            // group, the command's too when it stayed in ours: once is enough.
            // SAFETY: plain system calls on our own child.
            let same_group = unsafe { libc::getpgid(pid) == libc::getpgrp() };
            let forwarded = !(r.from_kernel && same_group);
            if forwarded {
                // SAFETY: our child, not reaped yet (try_wait said so).
                unsafe { libc::kill(pid, r.signal) };
            }
            events.push(StopEvent::Signal {
                signal: r.signal,
                forwarded,
            });
            let name = signal_name(r.signal);
            let how = if forwarded {
                "forwarded to the run"
            } else {
                "the run has it from the terminal"
            };
            if killed {
                continue;
            }
            if kill_at.is_none() {
                kill_at = Some(Instant::now() + ending.grace);
                say(format!(
                    "{name}: {how}, killed in {} s unless it ends",
                    ending.grace.as_secs_f64()
                ));
            } else {
                say(format!("{name}: {how}; the grace period goes on"));
            }
        }
        if !killed {
            let now = SystemTime::now();
            let cause = if let Some(reason) = ending.stop.and_then(StopHandle::reason) {
                Some(KillCause::Stopped(reason))
            } else if ending.expires.is_some_and(|exp| now >= exp) {
                Some(KillCause::Expired)
            } else if kill_at.is_some_and(|at| Instant::now() >= at) {
                Some(KillCause::GraceEnded)
            } else {
                None
            };
            if let Some(cause) = cause {
                kill();
                killed = true;
                say(format!("{cause}: the run is killed"));
                events.push(StopEvent::Killed(cause));
                continue;
            }
            if !term_sent && term_at.is_some_and(|at| now >= at) {
                term_sent = true;
                // SAFETY: our child, not reaped yet.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                events.push(StopEvent::Expiring);
                let left = ending
                    .expires
                    .and_then(|exp| exp.duration_since(now).ok())
                    .unwrap_or_default();
                say(format!(
                    "the token expires in {:.1} s: SIGTERM sent to the run, killed at the expiry unless it ends",
                    left.as_secs_f64()
                ));
            }
        }
        // Sleep until something happens or the next deadline is due.
        let mut timeout: Option<Duration> = None;
        let mut at_most = |d: Duration| timeout = Some(timeout.map_or(d, |t| t.min(d)));
        if !killed {
            if let Some(at) = kill_at {
                at_most(at.saturating_duration_since(Instant::now()));
            }
            let next = if term_sent { ending.expires } else { term_at };
            if let Some(next) = next {
                // A wall-clock deadline, looked at again at least once a
                // second: a clock step moves it by no more than that.
                let until = next.duration_since(SystemTime::now()).unwrap_or_default();
                at_most(until.min(Duration::from_secs(1)));
            }
        }
        if child.pidfd().is_none() {
            at_most(Duration::from_millis(20));
        }
        let mut fds: Vec<libc::pollfd> = [
            child.pidfd(),
            signals,
            ending.stop.filter(|_| !killed).map(StopHandle::fd),
        ]
        .into_iter()
        .flatten()
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
        let ms = timeout.map_or(-1, |d| {
            i32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
        });
        // SAFETY: `fds` is a valid array of its length; EINTR just loops.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if let Some(stop) = ending.stop {
            stop.drain();
        }
    }
}

/// Reaps every child that has ended; the command's status is kept in
/// `child`, the others are handed to `other`.
pub(crate) fn reap_children(child: &mut Child, other: &mut dyn FnMut(libc::pid_t)) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let rc = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if rc <= 0 {
            return;
        }
        if rc == child.pid() {
            child.reaped_with(status);
        } else {
            other(rc);
        }
    }
}

// ───────────────────────────── the run's process tree ─────────────────────────────

/// Makes this process the subreaper of its descendants (a run without a
/// cgroup): an orphan of the run is re-parented here instead of to init,
/// so the whole tree stays below the launcher and is stopped with the run.
pub(crate) fn become_subreaper() -> io::Result<()> {
    // SAFETY: a prctl without pointers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `(state, ppid)` of a process, from `/proc/PID/stat`.
fn stat_of(pid: libc::pid_t) -> Option<(u8, libc::pid_t)> {
    parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// `(state, ppid)` of the process whose `/proc/PID` directory is open.
fn stat_in(dir: &std::fs::File) -> Option<(u8, libc::pid_t)> {
    use std::io::Read;
    // SAFETY: openat relative to a directory we hold, a constant name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c"stat".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a descriptor just opened, owned here.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut text = Vec::new();
    file.read_to_end(&mut text).ok()?;
    parse_stat(&text)
}

/// This process as `/proc` names it: its pid in the PID namespace of the
/// `/proc` mount, which is not `getpid()` for PID 1 of a namespace that
/// kept its parent's `/proc` (`unshare --pid --fork` without
/// `--mount-proc`).
fn proc_self() -> libc::pid_t {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        // SAFETY: getpid has no arguments.
        .unwrap_or_else(|| unsafe { libc::getpid() })
}

fn parse_stat(text: &[u8]) -> Option<(u8, libc::pid_t)> {
    // "pid (comm) state ppid ...": comm may hold anything, up to the last ')'.
    let end = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(end + 2..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The live (not zombie) descendants of this process, with their parents.
fn descendants() -> HashMap<libc::pid_t, libc::pid_t> {
    let me = proc_self();
    let mut children: HashMap<libc::pid_t, Vec<(libc::pid_t, u8)>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.filter_map(Result::ok) {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some((state, ppid)) = stat_of(pid) {
                children.entry(ppid).or_default().push((pid, state));
            }
        }
    }
    let mut found = HashMap::new();
    let mut queue = vec![me];
    while let Some(parent) = queue.pop() {
        for &(pid, state) in children.get(&parent).into_iter().flatten() {
            queue.push(pid);
            if !matches!(state, b'Z' | b'X') {
                found.insert(pid, parent);
            }
        }
    }
    found
}

/// Kills every live descendant of this process (the run's tree, the
/// launcher being its subreaper) until none is left; returns how many were
/// killed. Pids are those of `/proc` (its PID namespace may be a parent
/// of ours): each process is signalled through its `/proc/PID` directory
/// (a pidfd to `pidfd_send_signal`), opened before its parent is read again
/// through it, so a pid reused in between is never hit.
pub(crate) fn kill_descendants() -> usize {
    let mut killed = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive = descendants();
        if alive.is_empty() || Instant::now() > deadline {
            return killed.len();
        }
        for (pid, parent) in alive {
            let Ok(dir) = std::fs::File::open(format!("/proc/{pid}")) else {
                continue;
            };
            if stat_in(&dir).map(|(_, ppid)| ppid) != Some(parent) {
                continue;
            }
            // SAFETY: pidfd_send_signal on a /proc/PID directory we hold,
            // no siginfo.
            let sent = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    dir.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if sent == 0 {
                killed.insert(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reaps every ended child of this process, without waiting.
pub(crate) fn reap_all() {
    loop {
        // SAFETY: waitpid without a status pointer.
        if unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } <= 0 {
            return;
        }
    }
}

// ───────────────────────────── a watched revocation list ─────────────────────────────

/// Watches a revocation list file while a run runs, and stops the run
/// ([`StopHandle::stop`]) as soon as `check` says its token is no longer
/// honoured: on every change in the file's directory (inotify, which also
/// sees a Kubernetes ConfigMap's symlink swap) and at least once a second.
/// The thread ends when the value is dropped.
pub struct RevocationWatch {
    wake: OwnedFd,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RevocationWatch {
    /// Starts watching `path`; `check` is called once now (a revocation
    /// between the run's start check and this watch), then on every change.
    pub fn start(
        path: &Path,
        check: impl Fn() -> Option<StopReason> + Send + 'static,
        stop: StopHandle,
    ) -> io::Result<RevocationWatch> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir_c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
        // SAFETY: inotify_init1 returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just created, owned here.
        let inotify = unsafe { OwnedFd::from_raw_fd(raw) };
        let mask = libc::IN_CLOSE_WRITE
            | libc::IN_MODIFY
            | libc::IN_ATTRIB
            | libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_FROM
            | libc::IN_MOVED_TO
            | libc::IN_DELETE_SELF
            | libc::IN_MOVE_SELF;
        // SAFETY: a valid C string and our inotify descriptor.
        if unsafe { libc::inotify_add_watch(inotify.as_raw_fd(), dir_c.as_ptr(), mask) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: eventfd returns a new descriptor or -1.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just created, owned here.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        if let Some(reason) = check() {
            stop.stop(reason);
        }
        let wake_fd = wake.as_raw_fd();
        let thread = std::thread::Builder::new()
            .name("warden-revocations".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let mut fds = [
                        libc::pollfd {
                            fd: inotify.as_raw_fd(),
                            events: libc::POLLIN,
                            revents: 0,
                        },
                        libc::pollfd {
                            fd: wake_fd,
                            events: libc::POLLIN,
                            revents: 0,
                        },
                    ];
                    // SAFETY: two valid pollfds.
                    unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
                    if fds[1].revents != 0 {
                        return;
                    }
                    // SAFETY: drains the non-blocking inotify descriptor.
                    while unsafe {
                        libc::read(inotify.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                    } > 0
                    {}
                    if let Some(reason) = check() {
                        stop.stop(reason);
                        return;
                    }
                }
            })?;
        Ok(RevocationWatch {
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for RevocationWatch {
    fn drop(&mut self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_stop_reason_wins_and_wakes_the_poller() {
        let h = StopHandle::new().unwrap();
        assert_eq!(h.reason(), None);
        let other = h.clone();
        std::thread::spawn(move || {
            other.stop(StopReason::Revoked { id: "a".into() });
        })
        .join()
        .unwrap();
        h.stop(StopReason::Other { why: "b".into() });
        assert_eq!(h.reason(), Some(StopReason::Revoked { id: "a".into() }));
        let mut fd = libc::pollfd {
            fd: h.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        assert_eq!(unsafe { libc::poll(&mut fd, 1, 0) }, 1);
        h.drain();
        assert_eq!(unsafe { libc::poll(&mut fd, 1, 0) }, 0);
    }

    #[test]
    fn expiry_sigterm_comes_at_most_ten_seconds_early() {
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let at = |grace| {
            exp.duration_since(expiry_term_at(exp, Duration::from_secs(grace)))
                .unwrap()
        };
        assert_eq!(at(25), Duration::from_secs(10));
        assert_eq!(at(3), Duration::from_secs(3));
        assert_eq!(at(0), Duration::ZERO);
        let early = SystemTime::UNIX_EPOCH + Duration::from_secs(2);
        assert_eq!(
            expiry_term_at(early, Duration::from_secs(25)),
            SystemTime::UNIX_EPOCH
        );
    }

    #[test]
    fn stat_reads_state_and_parent_past_a_strange_name() {
        // SAFETY: plain system calls.
        let (me, parent) = unsafe { (libc::getpid(), libc::getppid()) };
        let (state, ppid) = stat_of(me).unwrap();
        assert_eq!(ppid, parent);
        assert!(state.is_ascii_uppercase(), "{}", state as char);
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "exec -a 'x) Z 1 (' sleep 5"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let (_, ppid) = stat_of(child.id() as libc::pid_t).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(ppid, me);
    }

    /// Whether the handle's poller is woken within `ms` milliseconds.
    fn woken_within(h: &StopHandle, ms: i32) -> bool {
        let mut fd = libc::pollfd {
            fd: h.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut fd, 1, ms) == 1 }
    }

    #[test]
    fn a_revocation_file_watch_stops_on_the_first_change_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("revoked");
        std::fs::write(&list, "").unwrap();
        let h = StopHandle::new().unwrap();
        let path = list.clone();
        let check = move || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            text.contains("abc")
                .then(|| StopReason::Revoked { id: "abc".into() })
        };
        let watch = RevocationWatch::start(&list, check, h.clone()).unwrap();
        std::fs::write(&list, "other\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(h.reason(), None);
        std::fs::write(&list, "abc\n").unwrap();
        // Stopped on the change (or, at the latest, by the once-a-second look).
        assert!(woken_within(&h, 5_000));
        assert_eq!(h.reason(), Some(StopReason::Revoked { id: "abc".into() }));
        drop(watch);
    }

    #[test]
    fn a_revocation_file_watch_sees_a_configmap_update() {
        // What the kubelet does to a mounted ConfigMap: the file is a
        // symlink through `..data`, which is swapped to a new directory.
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("..v1")).unwrap();
        std::fs::write(d.join("..v1/revoked"), "# nothing\n").unwrap();
        symlink("..v1", d.join("..data")).unwrap();
        symlink("..data/revoked", d.join("revoked")).unwrap();
        let h = StopHandle::new().unwrap();
        let path = d.join("revoked");
        let check = move || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            text.lines()
                .any(|l| l == "abc")
                .then(|| StopReason::Revoked { id: "abc".into() })
        };
        let watch = RevocationWatch::start(&d.join("revoked"), check, h.clone()).unwrap();
        assert_eq!(h.reason(), None);
        std::fs::create_dir(d.join("..v2")).unwrap();
        std::fs::write(d.join("..v2/revoked"), "abc\n").unwrap();
        symlink("..v2", d.join("..data_tmp")).unwrap();
        std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
        assert!(woken_within(&h, 5_000));
        assert_eq!(h.reason(), Some(StopReason::Revoked { id: "abc".into() }));
        drop(watch);
    }
}
