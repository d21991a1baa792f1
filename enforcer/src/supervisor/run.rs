//! One run's supervisor: the filter and socket pair made before the
//! command's process is cloned ([`Prepared`]), the thread that answers the
//! listener's notifications (`serve`), and the handle that stops it and
//! reports what it did ([`Supervisor`], [`SupervisorStats`]).

use super::call::{self, Decoded, ThreadMemory};
use super::creds::{Creds, ThreadStatus};
use super::error::{CallError, Stop, SupervisorError};
use super::filter::{self, IOCTLS, SUPERVISED};
use super::observe::{self, ChangeKind, MAX_OBSERVED, ObservedChange};
use super::rules::{Decide, FileId};
use super::target::{self, Held};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Refusals kept in [`SupervisorStats::refused`] (all are counted).
pub const MAX_KEPT: usize = 256;

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6).
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// What the supervisor enforces, for the layer report.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MetadataReport {
    /// The supervised syscalls of this architecture.
    pub syscalls: Vec<String>,
    /// The supervised `ioctl` commands.
    pub ioctls: Vec<String>,
    /// How the write rules decide: `landlock` (files and trees by inode)
    /// or `bpf-lsm` (the envelope's exact shapes).
    pub rules: String,
}

impl MetadataReport {
    /// One line for the seccomp layer's detail.
    pub fn summary(&self) -> String {
        format!(
            "metadata changes ({} syscalls: chmod, chown, utimes, xattrs, file_setattr...; {} ioctls: FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR, FS_IOC_SETVERSION...) made by the launcher's supervisor only under the write rules ({}), others EPERM",
            self.syscalls.len(),
            self.ioctls.len(),
            self.rules
        )
    }
}

/// One refused call.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MetadataRefusal {
    /// The calling thread.
    pub tid: i32,
    /// The syscall (`ioctl(FS_IOC_SETFLAGS)` for an ioctl).
    pub syscall: String,
    /// The file the call reached, as the kernel names it; the path as the
    /// caller gave it when it reached none; empty for a descriptor without
    /// a path.
    pub path: String,
    /// Why: outside the write envelope, or the supervisor could not check
    /// the call (which refuses it too).
    pub reason: String,
}

impl fmt::Display for MetadataRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}: {}", self.syscall, self.path, self.reason)
    }
}

/// What the supervisor did during a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SupervisorStats {
    /// Calls made for their callers (with the kernel's answer, success or
    /// not).
    pub performed: u64,
    /// Refused calls, the first [`MAX_KEPT`].
    pub refused: Vec<MetadataRefusal>,
    /// Refused calls, all of them.
    pub refused_total: u64,
    /// In observe mode ([`Supervisor::observe`]): the distinct changes the
    /// run made, the first [`MAX_OBSERVED`].
    pub observed: BTreeSet<ObservedChange>,
    /// Distinct changes beyond [`MAX_OBSERVED`], not kept.
    pub observed_dropped: u64,
}

/// The supervisor's filter and the socket pair its listener crosses,
/// made before the command's process is cloned.
pub struct Prepared {
    program: Vec<libc::sock_filter>,
    parent: OwnedFd,
    child: OwnedFd,
}

/// `CMSG_SPACE(sizeof(int))` on 64-bit Linux.
const CMSG_ROOM: usize = 24;

#[repr(C, align(8))]
struct CmsgBuf([u8; CMSG_ROOM]);

// SAFETY (both): CMSG_SPACE/CMSG_LEN are arithmetic on their argument.
const _: () = assert!(unsafe { libc::CMSG_SPACE(4) } as usize <= CMSG_ROOM);

impl Prepared {
    /// The filter of this architecture and a socket pair (close-on-exec).
    pub fn new() -> Result<Self, SupervisorError> {
        Self::with_program(filter::for_this_arch())
    }

    /// For observe mode ([`Supervisor::observe`]): the metadata calls and
    /// the calls that create or remove a directory entry
    /// ([`ENTRY_CALLS`](super::ENTRY_CALLS)).
    pub fn observing() -> Result<Self, SupervisorError> {
        Self::with_program(filter::for_this_arch_observing())
    }

    fn with_program(program: Vec<libc::sock_filter>) -> Result<Self, SupervisorError> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: room for two descriptors.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(SupervisorError::io(
                "socketpair",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: two new descriptors nothing else owns.
        let (parent, child) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Self {
            program,
            parent,
            child,
        })
    }

    /// What it supervises (`rules` says which decision the launcher chose).
    pub fn report(&self, rules: &str) -> MetadataReport {
        MetadataReport {
            syscalls: SUPERVISED
                .iter()
                .filter(|n| crate::policy::number_of(n).is_some())
                .map(|n| (*n).to_owned())
                .collect(),
            ioctls: IOCTLS.iter().map(|(_, n, _)| (*n).to_owned()).collect(),
            rules: rules.to_owned(),
        }
    }

    /// In the command's process between the clone and `exec` (after
    /// Landlock, before the allowlist): sets `no_new_privs`, installs the
    /// filter with a new listener, sends the listener to the launcher and
    /// closes it. Async-signal-safe: system calls on data prepared before
    /// the clone, nothing allocated.
    pub fn install_in_child(&self) -> io::Result<()> {
        let Ok(len) = u16::try_from(self.program.len()) else {
            return Err(io::Error::from_raw_os_error(libc::E2BIG));
        };
        let prog = libc::sock_fprog {
            len,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        let install = |flags: libc::c_ulong| {
            // SAFETY: the kernel copies the program, which outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    flags,
                    &prog as *const libc::sock_fprog,
                )
            }
        };
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Once the supervisor holds a call, only a fatal signal interrupts
        // the caller's wait (Linux 5.19): a change made is never made twice
        // by a restarted call.
        let mut fd = install(
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        );
        if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            fd = install(libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
        }
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = fd as RawFd;
        let sent = send_fd(self.child.as_raw_fd(), listener);
        // SAFETY: our own descriptor; the launcher holds its copy.
        unsafe { libc::close(listener) };
        sent
    }

    /// In the launcher, once the command's process has installed the
    /// filter (its `exec` succeeded): the listener, close-on-exec.
    pub fn receive(&self) -> Result<OwnedFd, SupervisorError> {
        let mut buf = CmsgBuf([0; CMSG_ROOM]);
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: a zeroed msghdr is valid; its pointers outlive recvmsg.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = CMSG_ROOM as _;
        // SAFETY: as above.
        let n = unsafe {
            libc::recvmsg(
                self.parent.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock => SupervisorError::NoListener,
                _ => SupervisorError::io("receiving the listener", e),
            });
        }
        // SAFETY: `msg` was filled by recvmsg; the header is checked
        // before its data is read.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            if c.is_null()
                || (*c).cmsg_level != libc::SOL_SOCKET
                || (*c).cmsg_type != libc::SCM_RIGHTS
                || (*c).cmsg_len < libc::CMSG_LEN(4) as _
            {
                return Err(SupervisorError::NoListener);
            }
            let mut fd: RawFd = -1;
            std::ptr::copy_nonoverlapping(libc::CMSG_DATA(c), (&mut fd as *mut RawFd).cast(), 4);
            if fd < 0 {
                return Err(SupervisorError::NoListener);
            }
            Ok(OwnedFd::from_raw_fd(fd))
        }
    }
}

/// Sends `fd` over the socket `sock` (one byte of data, `SCM_RIGHTS`).
/// Async-signal-safe.
fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    let mut buf = CmsgBuf([0; CMSG_ROOM]);
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: a zeroed msghdr is valid; the control buffer has room for one
    // descriptor (checked at compile time) and outlives sendmsg.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::copy_nonoverlapping((&fd as *const RawFd).cast(), libc::CMSG_DATA(c), 4);
        if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs `work` with the caller's credentials `creds`, and returns what it
/// returns (the caller's errno when it fails): on this thread when its
/// credentials (`mine`, the supervisor thread's, which never change) are
/// the same (a root run's process acting as root, an unprivileged run's
/// as its user), else on a new thread that takes them on first and ends
/// with the work: the launcher's own credentials never change.
fn as_caller<T: Send, E: Send>(
    mine: &Creds,
    creds: &Creds,
    work: impl FnOnce() -> Result<T, E> + Send,
) -> Result<Result<T, E>, CallError> {
    if mine == creds {
        return Ok(work());
    }
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("warden-metadata".into())
            .stack_size(256 * 1024)
            .spawn_scoped(s, || -> Result<Result<T, E>, CallError> {
                creds.assume()?;
                Ok(work())
            })
            .map_err(|e| CallError::io("starting a thread", e))?;
        handle
            .join()
            .map_err(|_| CallError::Other("the thread acting for the caller panicked".into()))?
    })
}

/// How one call ends.
enum Outcome {
    /// The caller gets this return value.
    Return(i64),
    /// The caller gets this errno (the kernel's own answer).
    Errno(i32),
    Refused {
        path: String,
        reason: String,
    },
    /// The call is no longer waiting (the caller was killed).
    Gone,
    /// Observe mode: the kernel makes the call itself.
    Continue,
}

/// What the supervisor thread works with.
struct Context {
    decide: Decide,
    /// Observe mode: changes are recorded, entry calls continued.
    observing: bool,
    root: FileId,
    /// The supervisor thread's credentials.
    creds: Creds,
    print_refusals: bool,
    stats: Arc<Mutex<SupervisorStats>>,
}

fn refused(path: impl Into<String>, e: CallError) -> Outcome {
    Outcome::Refused {
        path: path.into(),
        reason: format!("the supervisor could not check it ({e})"),
    }
}

impl Context {
    fn handle(&self, listener: &OwnedFd, n: &libc::seccomp_notif) -> (String, Outcome) {
        let tid = n.pid as libc::pid_t;
        let Some(name) = crate::policy::name_of(i64::from(n.data.nr)) else {
            return (
                format!("syscall {}", n.data.nr),
                refused("", CallError::Other("an unknown syscall".into())),
            );
        };
        if n.data.arch != filter::AUDIT_ARCH {
            return (
                name.to_owned(),
                refused(
                    "",
                    CallError::Other("another architecture's syscall".into()),
                ),
            );
        }
        if self.observing && observe::ENTRY_CALLS.contains(&name) {
            // The call's own answer decides nothing here: the kernel makes it.
            if let Ok(status) = ThreadStatus::of(tid) {
                let changes =
                    observe::entry_changes(name, &n.data.args, tid, status.tgid, self.root);
                self.observe(changes);
            }
            return (name.to_owned(), Outcome::Continue);
        }
        let call = match call::decode(name, &n.data.args, &ThreadMemory(tid)) {
            Ok(Decoded::Call(c)) => c,
            Ok(Decoded::Return(v)) => return (name.to_owned(), Outcome::Return(v)),
            Err(Stop::Errno(e)) => return (name.to_owned(), Outcome::Errno(e)),
            Err(Stop::Failed(e)) => return (name.to_owned(), refused("", e)),
        };
        let given = match &call.subject {
            call::Subject::Path { path, .. } => path.to_string_lossy().into_owned(),
            _ => String::new(),
        };
        let outcome = self.handle_call(listener, n, tid, &call, &given);
        (call.name, outcome)
    }

    fn handle_call(
        &self,
        listener: &OwnedFd,
        n: &libc::seccomp_notif,
        tid: libc::pid_t,
        call: &call::Call,
        given: &str,
    ) -> Outcome {
        let status = match ThreadStatus::of(tid) {
            Ok(s) => s,
            Err(e) => return refused(given, e),
        };
        let held = match target::gather(tid, status.tgid, &call.subject, self.root) {
            Ok(h) => h,
            Err(Stop::Errno(e)) => return Outcome::Errno(e),
            Err(Stop::Failed(e)) => return refused(given, e),
        };
        // Everything read from the caller belongs to this very call.
        if !id_valid(listener, n.id) {
            return Outcome::Gone;
        }
        let creds = &status.creds;
        let (object, fd_call) = match held {
            Held::Object { fd, fd_call } => (fd, fd_call),
            Held::Lookup { base, path, follow } => {
                match as_caller(&self.creds, creds, || {
                    target::resolve(base.as_ref(), &path, follow)
                }) {
                    Ok(Ok(fd)) => (fd, false),
                    Ok(Err(Stop::Errno(errno))) => return Outcome::Errno(errno),
                    Ok(Err(Stop::Failed(e))) | Err(e) => return refused(given, e),
                }
            }
        };
        let target = match target::describe(&object) {
            Ok(t) => t,
            Err(e) => return refused(given, e),
        };
        let path = target.path.display().to_string();
        let allowed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.decide)(&target)));
        match allowed {
            Ok(true) => {}
            Ok(false) => {
                return Outcome::Refused {
                    path,
                    reason: "outside the write envelope".into(),
                };
            }
            Err(_) => return refused(path, CallError::Other("the decision panicked".into())),
        }
        match as_caller(&self.creds, creds, || {
            target::act(&call.op, &object, fd_call)
        }) {
            Ok(Ok(v)) => {
                if self.observing {
                    self.observe([ObservedChange {
                        kind: ChangeKind::Metadata,
                        path,
                        syscall: call.name.clone(),
                    }]);
                }
                Outcome::Return(v)
            }
            Ok(Err(errno)) => Outcome::Errno(errno),
            Err(e) => refused(path, e),
        }
    }

    fn observe(&self, changes: impl IntoIterator<Item = ObservedChange>) {
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        for c in changes {
            if stats.observed.len() < MAX_OBSERVED {
                stats.observed.insert(c);
            } else if !stats.observed.contains(&c) {
                stats.observed_dropped += 1;
            }
        }
    }

    fn record(&self, tid: i32, syscall: String, outcome: &Outcome) {
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        match outcome {
            Outcome::Refused { path, reason } => {
                let refusal = MetadataRefusal {
                    tid,
                    syscall,
                    path: path.clone(),
                    reason: reason.clone(),
                };
                if self.print_refusals {
                    eprintln!("warden: refused {refusal}");
                }
                stats.refused_total += 1;
                if stats.refused.len() < MAX_KEPT {
                    stats.refused.push(refusal);
                }
            }
            Outcome::Return(_) | Outcome::Errno(_) => stats.performed += 1,
            Outcome::Gone | Outcome::Continue => {}
        }
    }
}

fn id_valid(listener: &OwnedFd, id: u64) -> bool {
    // SAFETY: the ioctl reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &id as *const u64,
        ) == 0
    }
}

/// Answers call `id`; false when the listener is broken (the loop ends, the
/// listener closes: every later call fails).
fn respond(listener: &OwnedFd, id: u64, outcome: &Outcome) -> bool {
    let (val, error, flags) = match outcome {
        Outcome::Return(v) => (*v, 0, 0),
        Outcome::Errno(e) => (0, -*e, 0),
        Outcome::Refused { .. } => (0, -libc::EPERM, 0),
        Outcome::Gone => return true,
        Outcome::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let resp = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: a valid response the ioctl reads.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &resp as *const libc::seccomp_notif_resp,
        )
    };
    // ENOENT: the caller is gone or was interrupted; nothing to answer.
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT)
}

/// The supervisor thread's loop: until told to stop, or until no process
/// uses the filter any more, or the listener fails. The listener is closed
/// when it returns.
fn serve(listener: OwnedFd, stop: OwnedFd, ctx: Context) {
    // Ask the kernel to switch to this thread directly when a call
    // arrives, and back when it is answered (Linux 6.6; an older kernel
    // only wakes it later).
    // SAFETY: the ioctl reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        if fds[0].revents & libc::POLLIN == 0 {
            // POLLHUP: no process uses the filter any more.
            return;
        }
        // SAFETY: the kernel wants a zeroed notification to fill.
        let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut n as *mut libc::seccomp_notif,
            )
        };
        if rc != 0 {
            match io::Error::last_os_error().raw_os_error() {
                // The caller went away before we took it; a signal.
                Some(libc::ENOENT) | Some(libc::EINTR) => continue,
                _ => return,
            }
        }
        let (syscall, outcome) =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ctx.handle(&listener, &n)
            })) {
                Ok(done) => done,
                Err(_) => (
                    "a metadata call".to_owned(),
                    refused("", CallError::Other("the supervisor panicked".into())),
                ),
            };
        ctx.record(n.pid as i32, syscall, &outcome);
        if !respond(&listener, n.id, &outcome) {
            return;
        }
    }
}

/// The running supervisor of one run.
pub struct Supervisor {
    stop: Option<OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Mutex<SupervisorStats>>,
}

impl Supervisor {
    /// Starts the supervisor thread on `listener` with `decide`; it prints
    /// a line per refusal on stderr when `print_refusals`.
    pub fn start(
        listener: OwnedFd,
        decide: Decide,
        print_refusals: bool,
    ) -> Result<Self, SupervisorError> {
        Self::start_with(listener, decide, print_refusals, false)
    }

    /// Starts the supervisor in observe mode on the listener of a
    /// [`Prepared::observing`] filter: every metadata change is made (with
    /// the caller's credentials, as under enforcement) and recorded with
    /// the path of the file it was made on; every call that creates or
    /// removes an entry is recorded with its resolved path and made by the
    /// kernel ([`SupervisorStats::observed`]). For `warden learn`: nothing
    /// is refused.
    pub fn observe(listener: OwnedFd) -> Result<Self, SupervisorError> {
        Self::start_with(listener, Box::new(|_| true), false, true)
    }

    fn start_with(
        listener: OwnedFd,
        decide: Decide,
        print_refusals: bool,
        observing: bool,
    ) -> Result<Self, SupervisorError> {
        let root = FileId::of_path(Path::new("/"))
            .ok_or_else(|| SupervisorError::io("stat /", io::Error::last_os_error()))?;
        // A new thread has the credentials of the one that creates it.
        let creds = Creds::current().map_err(|e| {
            SupervisorError::io("reading the launcher's credentials", io::Error::other(e))
        })?;
        let mut pipe = [0 as RawFd; 2];
        // SAFETY: room for two descriptors.
        if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(SupervisorError::io("pipe", io::Error::last_os_error()));
        }
        // SAFETY: two new descriptors nothing else owns.
        let (stop_rx, stop_tx) =
            unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
        let stats = Arc::new(Mutex::new(SupervisorStats::default()));
        let ctx = Context {
            decide,
            observing,
            root,
            creds,
            print_refusals,
            stats: Arc::clone(&stats),
        };
        let thread = std::thread::Builder::new()
            .name("warden-supervisor".into())
            .spawn(move || serve(listener, stop_rx, ctx))
            .map_err(|e| SupervisorError::io("starting the supervisor thread", e))?;
        Ok(Self {
            stop: Some(stop_tx),
            thread: Some(thread),
            stats,
        })
    }

    /// Stops the supervisor (its listener closes: the run's later metadata
    /// calls fail with `ENOSYS`) and returns what it did.
    pub fn stop(mut self) -> SupervisorStats {
        self.halt();
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn halt(&mut self) {
        // Closing the pipe's write end wakes the thread.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.halt();
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_crosses_the_socket_and_the_report_names_the_calls() {
        let p = Prepared::new().unwrap();
        assert!(matches!(p.receive(), Err(SupervisorError::NoListener)));
        // Any descriptor crosses the same way the listener does.
        let file = std::fs::File::open("/dev/null").unwrap();
        send_fd(p.child.as_raw_fd(), file.as_raw_fd()).unwrap();
        let got = p.receive().unwrap();
        // SAFETY: F_GETFD on our own descriptor.
        let flags = unsafe { libc::fcntl(got.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags, libc::FD_CLOEXEC);
        assert_ne!(got.as_raw_fd(), file.as_raw_fd());
        let r = p.report("landlock");
        assert!(r.syscalls.iter().any(|s| s == "fchmodat2"));
        assert!(r.ioctls.iter().any(|s| s == "FS_IOC_SETFLAGS"));
        assert!(r.summary().contains("(landlock)"), "{}", r.summary());
    }
}
