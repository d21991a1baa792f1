//! The cgroup layer: one cgroup v2 per run, so that every descendant of the
//! command stays together (the eBPF programs attach to it), stays counted
//! (`pids.max` where the controller is on cgroup v2), and dies at the end of
//! the run (`cgroup.kill`).
//!
//! The child joins the cgroup itself, between `fork` and `exec`, by writing
//! `0` to the run's `cgroup.procs` through a descriptor the parent opened
//! ([`join_self`]); it is confined before its first instruction of the
//! command. The command cannot leave: Landlock gives it no access to the
//! cgroup file system.
//!
//! The run must not outlive its launcher: the eBPF programs detach when the
//! launcher dies, so a run left behind would keep only Landlock and seccomp.
//! A [`Watchdog`] process outside the run kills the run's cgroup as soon as
//! the launcher is gone, however it died (SIGKILL included), removes it, and
//! runs the launcher's clean-up command ([`RunCgroup::create_with`]) that
//! takes the run's entries out of the eBPF maps.
//!
//! What survives even the watchdog (both killed at once: a process group or
//! a PID namespace killed) is found by the next run or `warden doctor`
//! ([`purge_orphans`]): the launcher holds an exclusive `flock` on its run's
//! cgroup directory for as long as it lives, and marks the directory
//! (`user.warden.owned`); a marked `run-*` cgroup whose lock is free has no
//! launcher, so it is killed and removed. A cgroup without the mark (made by
//! an older launcher, or a test's) is never touched.

use crate::error::LayerError;
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the cgroup v2 hierarchy is mounted, from `/proc/self/mountinfo`.
pub fn cgroup2_mount() -> Result<PathBuf, LayerError> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| LayerError::CgroupIo {
        what: "reading",
        path: "/proc/self/mountinfo".into(),
        source: e,
    })?;
    parse_mountinfo(&info)
        .ok_or_else(|| LayerError::Cgroup("no cgroup2 file system is mounted".into()))
}

/// Where a cgroup v1 hierarchy holding the `pids` controller is mounted,
/// if one is (a hybrid layout: the controller is then not on cgroup v2).
pub fn pids_v1_mount() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_v1_pids(&info)
}

fn parse_v1_pids(info: &str) -> Option<PathBuf> {
    mounts(info)
        .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == "pids"))
        .map(|m| m.point)
}

/// Why a run gets no `pids.max` on this machine, for reports.
pub fn no_pids_reason(mount: &Path) -> String {
    match pids_v1_mount() {
        Some(v1) => format!(
            "the pids controller is bound to the cgroup v1 hierarchy at {} (hybrid layout), \
             not to cgroup v2 at {}: no pids.max; fork storms stay confined (every \
             descendant stays in the run's cgroup and is killed with it)",
            v1.display(),
            mount.display()
        ),
        None => format!(
            "the kernel offers no pids controller on cgroup v2 at {}: no pids.max",
            mount.display()
        ),
    }
}

fn parse_mountinfo(info: &str) -> Option<PathBuf> {
    mounts(info)
        .find(|m| m.fstype == "cgroup2")
        .map(|m| m.point)
}

/// One line of `/proc/self/mountinfo`, as far as this module reads it.
struct Mount<'a> {
    point: PathBuf,
    fstype: &'a str,
    /// The super block's options (where cgroup v1 names its controllers).
    options: &'a str,
}

/// The mounts of a mountinfo text; malformed lines are skipped.
fn mounts(info: &str) -> impl Iterator<Item = Mount<'_>> {
    info.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut fields = right.split_whitespace();
        let fstype = fields.next()?;
        let options = fields.nth(1).unwrap_or("");
        let point = left.split_whitespace().nth(4)?;
        Some(Mount {
            point: PathBuf::from(unescape_octal(point)),
            fstype,
            options,
        })
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup every run's cgroup is made in, `<cgroup2 mount>/warden`,
/// created when missing. Runs all sit at one depth below the root, which is
/// how the eBPF programs tell a run's processes (`NodeConfig::run_level`).
pub fn run_parent() -> Result<PathBuf, LayerError> {
    let parent = cgroup2_mount()?.join("warden");
    if !parent.is_dir() {
        fs::create_dir(&parent)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(io_err("creating", &parent))?;
    }
    Ok(parent)
}

/// The mark of a run's cgroup whose launcher holds its lock.
const OWNED: &std::ffi::CStr = c"user.warden.owned";

/// `flock(fd, op)`, retried on EINTR.
fn flock(fd: RawFd, op: libc::c_int) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor the caller owns.
        if unsafe { libc::flock(fd, op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The runs' parent cgroup, locked exclusively while this value lives:
/// a run's cgroup is created, locked and marked, and orphans are purged,
/// each under it, so that a purge never sees a run between its `mkdir` and
/// its lock.
struct ParentLock(#[allow(dead_code)] File);

fn lock_parent(parent: &Path) -> Result<ParentLock, LayerError> {
    let dir = File::open(parent).map_err(io_err("opening", parent))?;
    flock(dir.as_raw_fd(), libc::LOCK_EX).map_err(io_err("locking", parent))?;
    Ok(ParentLock(dir))
}

/// Kills and removes the cgroups of runs whose launcher is gone (a `warden
/// exec` and its watchdog both killed: a process group or a PID namespace
/// killed at once): marked `run-*` cgroups under the runs' parent whose
/// lock no process holds. Returns the cgroups removed. A live run is never
/// touched: its launcher holds the lock. Their eBPF entries are purged by
/// the next run's attach or `warden doctor` (their cgroup is gone).
pub fn purge_orphans() -> Result<Vec<PathBuf>, LayerError> {
    let parent = cgroup2_mount()?.join("warden");
    if !parent.is_dir() {
        return Ok(Vec::new());
    }
    let _lock = lock_parent(&parent)?;
    Ok(purge_locked(&parent))
}

/// [`purge_orphans`] with the parent's lock held.
fn purge_locked(parent: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_name().as_encoded_bytes().starts_with(b"run-") {
            continue;
        }
        let path = entry.path();
        let Ok(dir) = File::open(&path) else {
            continue;
        };
        let mut mark = [0u8; 1];
        // SAFETY: reads at most one byte into `mark`.
        let marked = unsafe {
            libc::fgetxattr(
                dir.as_raw_fd(),
                OWNED.as_ptr(),
                mark.as_mut_ptr().cast(),
                mark.len(),
            )
        } >= 0;
        if !marked || flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB).is_err() {
            continue;
        }
        // No launcher: nothing of this run may go on.
        kill_all(&path);
        if remove_dir_retrying(&path, Duration::from_secs(1)).unwrap_or(false) {
            removed.push(path);
        }
    }
    removed
}

/// Removes an emptied cgroup, retrying while the kernel still accounts its
/// last exits (EBUSY) for up to `patience`. `Ok(false)`: it was gone.
fn remove_dir_retrying(path: &Path, patience: Duration) -> std::io::Result<bool> {
    let deadline = Instant::now() + patience;
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Kills every process in the cgroup at `path` (and below it) and waits
/// briefly for it to empty; nothing when it is gone or already empty. What
/// fails is ignored: the caller is tearing the run down either way.
pub fn kill_all(path: &Path) {
    let populated = |p: &Path| {
        fs::read_to_string(p.join("cgroup.events"))
            .map(|e| e.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    };
    if !populated(path) {
        return;
    }
    let _ = fs::write(path.join("cgroup.kill"), "1");
    for _ in 0..200 {
        if !populated(path) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// What the cgroup layer does for one run.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CgroupReport {
    /// The run's cgroup directory.
    pub path: PathBuf,
    /// `pids.max`, when the pids controller is on cgroup v2.
    pub pids_max: Option<u64>,
    /// Why there is no `pids.max`, when there is none.
    pub pids_note: Option<String>,
    /// The cgroups of runs whose launcher was gone, killed and removed
    /// before this one was made ([`purge_orphans`]).
    pub purged: Vec<PathBuf>,
}

/// A cgroup created for one run; removed (and everything in it killed) by
/// [`RunCgroup::finish`] or on drop.
#[derive(Debug)]
pub struct RunCgroup {
    path: PathBuf,
    /// The directory, for `clone3(CLONE_INTO_CGROUP)`.
    dir: File,
    procs: File,
    finished: bool,
    watchdog: Option<Watchdog>,
    /// What it does.
    pub report: CgroupReport,
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> LayerError + 'a {
    move |source| LayerError::CgroupIo {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn write_file(path: &Path, value: &str) -> Result<(), LayerError> {
    fs::write(path, value).map_err(io_err("writing", path))
}

impl RunCgroup {
    /// Creates `<cgroup2 mount>/warden/run-<run_id>`, with `pids.max` when
    /// asked for and available.
    pub fn create(run_id: &str, pids_max: Option<u64>) -> Result<Self, LayerError> {
        Self::create_with(run_id, pids_max, None)
    }

    /// [`RunCgroup::create`], with a command the watchdog executes (with
    /// no environment, its standard streams on `/dev/null`) after it killed
    /// and removed the cgroup of a launcher that died: `warden doctor
    /// --clean`, which takes the run's entries out of the eBPF maps. Never
    /// run when the launcher ends the run itself. Before the new cgroup is
    /// made, the cgroups of runs whose launcher is gone are purged
    /// ([`purge_orphans`], listed in the report).
    pub fn create_with(
        run_id: &str,
        pids_max: Option<u64>,
        crash_cleanup: Option<&[std::ffi::OsString]>,
    ) -> Result<Self, LayerError> {
        if run_id.is_empty()
            || !run_id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return Err(LayerError::Cgroup(format!(
                "run id {run_id:?} must be letters, digits and dashes"
            )));
        }
        let mount = cgroup2_mount()?;
        let parent = run_parent()?;
        let mut pids_note = None;
        let pids_on_v2 = fs::read_to_string(mount.join("cgroup.controllers"))
            .map(|c| c.split_whitespace().any(|x| x == "pids"))
            .unwrap_or(false);
        let want_pids = pids_max.is_some();
        if want_pids && pids_on_v2 {
            for dir in [&mount, &parent] {
                if let Err(e) = write_file(&dir.join("cgroup.subtree_control"), "+pids") {
                    pids_note = Some(format!("cannot enable the pids controller: {e}"));
                }
            }
        } else if want_pids {
            pids_note = Some(no_pids_reason(&mount));
        }

        let path = parent.join(format!("run-{run_id}"));
        let parent_lock = lock_parent(&parent)?;
        let purged = purge_locked(&parent);
        fs::create_dir(&path).map_err(io_err("creating", &path))?;
        let dir = match File::open(&path) {
            Ok(dir) => dir,
            Err(e) => {
                let _ = fs::remove_dir(&path);
                return Err(io_err("opening", &path)(e));
            }
        };
        let mut cg = RunCgroup {
            dir,
            procs: File::open("/dev/null").map_err(io_err("opening", Path::new("/dev/null")))?,
            report: CgroupReport {
                path: path.clone(),
                pids_max: None,
                pids_note,
                purged,
            },
            path,
            finished: false,
            watchdog: None,
        };
        // From here on a drop removes the cgroup. The lock says "my launcher
        // lives" for as long as this process holds the directory open; the
        // mark says the lock means that. Without the mark (a file system
        // without user xattrs) the run is still watched by its watchdog,
        // only never purged by another process.
        flock(cg.dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB)
            .map_err(io_err("locking", &cg.path))?;
        // SAFETY: sets a one-byte attribute on a directory we hold open.
        unsafe {
            libc::fsetxattr(
                cg.dir.as_raw_fd(),
                OWNED.as_ptr(),
                b"1".as_ptr().cast(),
                1,
                0,
            )
        };
        drop(parent_lock);
        // `cgroup.kill` exists from Linux 5.14 on; before, `finish` signals
        // each process and a launcher's death leaves the run to Landlock
        // and seccomp alone.
        let kill_path = cg.path.join("cgroup.kill");
        if kill_path.exists() {
            cg.watchdog = Some(Watchdog::start(&kill_path, crash_cleanup)?);
        }
        let procs_path = cg.path.join("cgroup.procs");
        cg.procs = OpenOptions::new()
            .write(true)
            .open(&procs_path)
            .map_err(io_err("opening", &procs_path))?;
        if let (Some(max), true, None) = (pids_max, pids_on_v2, &cg.report.pids_note) {
            let pmax = cg.path.join("pids.max");
            match write_file(&pmax, &max.to_string()) {
                Ok(()) => cg.report.pids_max = Some(max),
                Err(e) => cg.report.pids_note = Some(e.to_string()),
            }
        }
        Ok(cg)
    }

    /// The run's cgroup directory (for eBPF programs to attach to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor of `cgroup.procs` for [`join_self`] in the child.
    pub fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// The open cgroup directory (to create a process inside it).
    pub fn dir(&self) -> &File {
        &self.dir
    }

    /// Process ids currently in the run's cgroup.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process of the run now (`cgroup.kill`; where the kernel
    /// has none, SIGKILL to each process listed), without waiting: the
    /// stop of a run whose grace ended, whose token expired or was
    /// revoked. [`RunCgroup::finish`] waits for the cgroup to empty.
    pub fn kill(&self) {
        let kill = self.path.join("cgroup.kill");
        if fs::write(&kill, "1").is_err() {
            for pid in self.pids() {
                // SAFETY: sending a signal has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// The watchdog's process id (a child of this process), for a launcher
    /// that reaps every child (PID 1): see [`RunCgroup::watchdog_reaped`].
    pub fn watchdog_pid(&self) -> Option<libc::pid_t> {
        self.watchdog.as_ref().map(|w| w.pid)
    }

    /// Tells the cgroup that its watchdog process was reaped by someone
    /// else (a launcher that reaps every child): it is not waited for again.
    pub fn watchdog_reaped(&mut self) {
        if let Some(w) = &mut self.watchdog {
            w.reaped = true;
        }
    }

    fn populated(&self) -> bool {
        match fs::read_to_string(self.path.join("cgroup.events")) {
            Ok(events) => events.lines().any(|l| l.trim() == "populated 1"),
            Err(_) => !self.pids().is_empty(),
        }
    }

    /// Kills every process left in the cgroup, waits until it is empty and
    /// removes it. Returns how many processes were still there.
    pub fn finish(&mut self) -> Result<usize, LayerError> {
        if self.finished {
            return Ok(0);
        }
        let left = self.pids().len();
        let kill = self.path.join("cgroup.kill");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.populated() {
            if kill.exists() {
                write_file(&kill, "1")?;
            } else {
                for pid in self.pids() {
                    // SAFETY: sending a signal has no memory effects.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if Instant::now() > deadline {
                return Err(LayerError::Cgroup(format!(
                    "processes of {} survive SIGKILL",
                    self.path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // rmdir can race with the last exit being accounted; retry briefly.
        remove_dir_retrying(
            &self.path,
            deadline.saturating_duration_since(Instant::now()),
        )
        .map_err(io_err("removing", &self.path))?;
        self.finished = true;
        if let Some(w) = self.watchdog.take() {
            w.stop();
        }
        Ok(left)
    }
}

/// A process outside the run, forked when the run's cgroup is created, that
/// writes `1` to the run's `cgroup.kill` when the launcher is gone, removes
/// the cgroup and executes the launcher's clean-up command. It waits on a
/// pipe whose only write end the launcher holds: the kernel closes it when
/// the launcher exits or is killed, and the read returns nothing. A
/// launcher that ends the run itself writes one byte first: the watchdog
/// then exits at once.
#[derive(Debug)]
struct Watchdog {
    pid: libc::pid_t,
    launcher_alive: OwnedFd,
    /// Reaped by the launcher's own reaping (PID 1).
    reaped: bool,
}

/// A command prepared for `execve` in a forked child: no allocation there.
struct Prepared {
    path: std::ffi::CString,
    _args: Vec<std::ffi::CString>,
    argv: Vec<*const libc::c_char>,
}

impl Prepared {
    fn new(command: &[std::ffi::OsString]) -> Result<Prepared, LayerError> {
        let args = command
            .iter()
            .map(|a| std::ffi::CString::new(a.as_encoded_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| LayerError::Cgroup("a clean-up argument holds a NUL byte".into()))?;
        let path = args
            .first()
            .cloned()
            .ok_or_else(|| LayerError::Cgroup("an empty clean-up command".into()))?;
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Ok(Prepared {
            path,
            _args: args,
            argv,
        })
    }
}

impl Watchdog {
    fn start(
        kill_path: &Path,
        crash_cleanup: Option<&[std::ffi::OsString]>,
    ) -> Result<Watchdog, LayerError> {
        // The cgroup itself, removed once it is empty: nothing of the run is
        // left behind (its eBPF entries are purged once the cgroup is gone,
        // by the clean-up command or the next run).
        let dir = kill_path
            .parent()
            .and_then(|d| std::ffi::CString::new(d.as_os_str().as_encoded_bytes()).ok())
            .ok_or_else(|| {
                LayerError::Cgroup(format!("bad cgroup path {}", kill_path.display()))
            })?;
        let cleanup = crash_cleanup.map(Prepared::new).transpose()?;
        let no_env: [*const libc::c_char; 1] = [std::ptr::null()];
        let kill = OpenOptions::new()
            .write(true)
            .open(kill_path)
            .map_err(io_err("opening", kill_path))?;
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(LayerError::Cgroup(format!(
                "cannot create the watchdog's pipe: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: both descriptors were just created and are owned here.
        let (wait_end, alive_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the child only makes async-signal-safe system calls (the
        // launcher may have other threads) and leaves with `_exit`.
        match unsafe { libc::fork() } {
            -1 => Err(LayerError::Cgroup(format!(
                "cannot start the run's watchdog: {}",
                std::io::Error::last_os_error()
            ))),
            0 => unsafe {
                // Keep only the two descriptors it needs: a pipe end of
                // another thread's child, inherited here, would otherwise
                // stay open as long as the run lasts.
                let (a, b) = {
                    let (x, y) = (wait_end.as_raw_fd() as u32, kill.as_raw_fd() as u32);
                    (x.min(y), x.max(y))
                };
                let ranges = [
                    (0, a.checked_sub(1)),
                    (a + 1, b.checked_sub(1)),
                    (b + 1, Some(u32::MAX)),
                ];
                for (lo, hi) in ranges {
                    let Some(hi) = hi.filter(|&hi| lo <= hi) else {
                        continue;
                    };
                    if libc::syscall(libc::SYS_close_range, lo, hi, 0) != 0 {
                        // Before Linux 5.9: one by one, up to a generous bound.
                        for fd in lo..hi.min(65_536).saturating_add(1) {
                            libc::close(fd as i32);
                        }
                    }
                }
                libc::prctl(libc::PR_SET_NAME, c"warden-watchdog".as_ptr(), 0, 0, 0);
                // Not the launcher's handlers (they write to its signal
                // pipe), and a Ctrl-C or SIGTERM meant for the process group
                // must not end the run's guardian: the launcher handles them.
                for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(sig, libc::SIG_IGN);
                }
                libc::signal(libc::SIGCHLD, libc::SIG_DFL);
                let mut byte = 0u8;
                let mut n = libc::read(wait_end.as_raw_fd(), (&raw mut byte).cast(), 1);
                while n < 0 && *libc::__errno_location() == libc::EINTR {
                    n = libc::read(wait_end.as_raw_fd(), (&raw mut byte).cast(), 1);
                }
                if n == 1 {
                    // The launcher ended the run itself.
                    libc::_exit(0);
                }
                libc::write(kill.as_raw_fd(), b"1".as_ptr().cast(), 1);
                // The kill is asynchronous: retry the removal while the
                // cgroup empties (EBUSY), for up to ten seconds.
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 10_000_000,
                };
                for _ in 0..1000 {
                    if libc::rmdir(dir.as_ptr()) == 0 || *libc::__errno_location() != libc::EBUSY {
                        break;
                    }
                    libc::nanosleep(&pause, std::ptr::null_mut());
                }
                if let Some(c) = &cleanup {
                    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                    if null >= 0 {
                        for fd in 0..3 {
                            libc::dup2(null, fd);
                        }
                    }
                    libc::execve(c.path.as_ptr(), c.argv.as_ptr(), no_env.as_ptr());
                }
                libc::_exit(0)
            },
            pid => Ok(Watchdog {
                pid,
                launcher_alive: alive_end,
                reaped: false,
            }),
        }
    }

    /// Ends the watchdog once the run is over (its cgroup killed and
    /// removed): one byte says so, and it exits without doing anything.
    fn stop(self) {
        // SAFETY: writes one byte from a static buffer to our pipe.
        unsafe { libc::write(self.launcher_alive.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        drop(self.launcher_alive);
        if self.reaped {
            return;
        }
        let mut status = 0;
        // SAFETY: reaps our own child; EINTR is retried.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        // Errors were reported by an explicit finish(); a drop on an early
        // return still removes what it can.
        let _ = self.finish();
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` is open
/// as `procs_fd`. Async-signal-safe: meant for the child before `exec`.
pub fn join_self(procs_fd: RawFd) -> std::io::Result<()> {
    // SAFETY: writes one byte from a static buffer.
    let n = unsafe { libc::write(procs_fd, b"0".as_ptr().cast(), 1) };
    if n != 1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_among_v1_mounts() {
        let info = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        assert_eq!(
            parse_mountinfo(info),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let escaped = "41 31 0:38 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(parse_mountinfo(escaped), Some(PathBuf::from("/mnt/my cg")));
        assert_eq!(parse_mountinfo("garbage\n"), None);
        assert_eq!(
            parse_v1_pids(info),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        let no_pids = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(parse_v1_pids(no_pids), None);
        assert_eq!(
            parse_v1_pids("41 31 0:38 / /u rw - cgroup2 cgroup2 rw,pids\n"),
            None
        );
    }

    #[test]
    fn run_ids_are_checked() {
        assert!(RunCgroup::create("../../x", None).is_err());
        assert!(RunCgroup::create("", None).is_err());
    }

    #[test]
    fn only_marked_run_cgroups_whose_lock_is_free_are_purged() {
        if !testkit::root_or_skip!("creating cgroups") {
            return;
        }
        let me = std::process::id();
        let mut live = RunCgroup::create(&format!("unit-live-{me}"), None).unwrap();
        let parent = run_parent().unwrap();
        let (orphan, unmarked) = (
            parent.join(format!("run-unit-orphan-{me}")),
            parent.join(format!("run-unit-unmarked-{me}")),
        );
        for dir in [&orphan, &unmarked] {
            fs::create_dir(dir).unwrap();
        }
        // Marked as its launcher marks it, but no process holds its lock.
        let c = std::ffi::CString::new(orphan.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(
            unsafe { libc::setxattr(c.as_ptr(), OWNED.as_ptr(), b"1".as_ptr().cast(), 1, 0) },
            0
        );
        purge_orphans().unwrap();
        assert!(!orphan.exists(), "an orphan was left");
        assert!(live.path().is_dir(), "a live run was purged");
        assert!(unmarked.is_dir(), "an unmarked cgroup was purged");
        fs::remove_dir(&unmarked).unwrap();
        live.finish().unwrap();
    }

    #[test]
    fn create_and_finish_a_run_cgroup() {
        if !testkit::root_or_skip!("creating a cgroup") {
            return;
        }
        let mut cg = RunCgroup::create(&format!("unit-{}", std::process::id()), Some(64)).unwrap();
        assert!(cg.path().is_dir());
        assert!(cg.pids().is_empty());
        let path = cg.path().to_path_buf();
        assert_eq!(cg.finish().unwrap(), 0);
        assert!(!path.exists());
    }
}
