//! Escape tests: a run whose policy reads one directory tree, writes one
//! directory, executes two programs (and a script) and connects to one
//! loopback port tries every way out listed in issue 5; each must be refused
//! with the expected errno, and the permitted operations must still work.
//!
//! Run as root (CI is root). Without root, the tests that need the cgroup
//! fail with a clear message rather than skip.

use enforcer::{FileAccess, FileScope, KernelPolicy, NetRule, Run, RunOptions, RunOutcome};
use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PROBE: &str = env!("CARGO_BIN_EXE_warden-escape-probe");
const EACCES: i32 = libc::EACCES;
const EPERM: i32 = libc::EPERM;
const EXDEV: i32 = libc::EXDEV;

fn require_root() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the escape tests need root (the run's cgroup); CI runs them as root"
    );
}

/// The world of one test: a readable tree, a writable directory, a secret
/// outside both, a forbidden program, an allowed program and script, two
/// loopback listeners (one allowed, one not).
struct Fixture {
    _tmp: tempfile::TempDir,
    read_dir: PathBuf,
    write_dir: PathBuf,
    secret: PathBuf,
    forbidden_prog: PathBuf,
    allowed_prog: PathBuf,
    script: PathBuf,
    out: PathBuf,
    ok_port: u16,
    bad_port: u16,
    _listeners: (TcpListener, TcpListener),
}

fn copy_exec(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
}

impl Fixture {
    fn new() -> Self {
        require_root();
        let tmp = tempfile::Builder::new()
            .prefix("warden-escape-")
            .tempdir()
            .unwrap();
        let root = tmp.path();
        let (read_dir, write_dir, secret_dir, forbidden_dir, bin) = (
            root.join("read"),
            root.join("write"),
            root.join("secret"),
            root.join("forbidden"),
            root.join("bin"),
        );
        for d in [&read_dir, &write_dir, &secret_dir, &forbidden_dir, &bin] {
            fs::create_dir(d).unwrap();
        }
        fs::write(read_dir.join("data.txt"), "visible\n").unwrap();
        let secret = secret_dir.join("secret.txt");
        fs::write(&secret, "top secret\n").unwrap();
        let forbidden_prog = forbidden_dir.join("probe");
        copy_exec(Path::new(PROBE), &forbidden_prog);
        let allowed_prog = bin.join("true");
        copy_exec(Path::new("/bin/true"), &allowed_prog);
        // An allowed script whose interpreter is not allowed.
        let script = bin.join("script.sh");
        fs::write(&script, "#!/bin/sh\necho escaped > /dev/null\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let ok = TcpListener::bind("127.0.0.1:0").unwrap();
        let bad = TcpListener::bind("127.0.0.1:0").unwrap();
        let (ok_port, bad_port) = (
            ok.local_addr().unwrap().port(),
            bad.local_addr().unwrap().port(),
        );
        let out = root.join("probe.out");
        Fixture {
            _tmp: tmp,
            read_dir,
            write_dir,
            secret,
            forbidden_prog,
            allowed_prog,
            script,
            out,
            ok_port,
            bad_port,
            _listeners: (ok, bad),
        }
    }

    fn policy(&self) -> KernelPolicy {
        let mut p = KernelPolicy::new();
        // The spec's baseline: loader, libc, /proc for the fd and root tricks.
        for dir in ["/usr/lib", "/lib", "/lib64", "/proc"] {
            p.allow_path(dir, FileScope::Tree, FileAccess::READ)
                .unwrap();
        }
        p.allow_path("/etc/ld.so.cache", FileScope::File, FileAccess::READ)
            .unwrap();
        p.allow_path(
            "/dev/null",
            FileScope::File,
            FileAccess::READ | FileAccess::WRITE,
        )
        .unwrap();
        // The envelope.
        p.allow_path(&self.read_dir, FileScope::Tree, FileAccess::READ)
            .unwrap();
        p.allow_path(
            &self.write_dir,
            FileScope::Tree,
            FileAccess::READ | FileAccess::WRITE | FileAccess::CREATE | FileAccess::REMOVE,
        )
        .unwrap();
        p.allow_exec(PROBE).unwrap();
        p.allow_exec(&self.allowed_prog).unwrap();
        p.allow_exec(&self.script).unwrap();
        p.allow_net(NetRule::tcp_connect(
            "127.0.0.1/32".parse().unwrap(),
            self.ok_port,
        ))
        .unwrap();
        p
    }

    /// Runs the probe with `args` under the policy; returns the outcome, its
    /// stdout and stderr.
    fn probe(&self, args: &[&str]) -> (RunOutcome, String, String) {
        self.run(PROBE, args)
    }

    fn run(&self, program: &str, args: &[&str]) -> (RunOutcome, String, String) {
        let policy = self.policy();
        let err_path = self.out.with_extension("err");
        let out = fs::File::create(&self.out).unwrap();
        let err = fs::File::create(&err_path).unwrap();
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let opts = RunOptions {
            quiet: true,
            require: [
                enforcer::Layer::Landlock,
                enforcer::Layer::Seccomp,
                enforcer::Layer::Cgroup,
            ]
            .into_iter()
            .collect(),
            ..RunOptions::default()
        };
        let outcome = Run::new(&policy)
            .options(opts)
            .stdout(out)
            .stderr(err)
            .spawn(program, &args)
            .unwrap();
        (
            outcome,
            fs::read_to_string(&self.out).unwrap(),
            fs::read_to_string(&err_path).unwrap(),
        )
    }

    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }
}

/// Asserts the probe reported `refused` with one of `errnos`.
#[track_caller]
fn assert_refused(result: &(RunOutcome, String, String), errnos: &[i32]) {
    let (outcome, out, err) = result;
    assert_eq!(outcome.status.code(), Some(10), "not refused: {out} {err}");
    let errno: i32 = out
        .split_whitespace()
        .nth(1)
        .and_then(|e| e.parse().ok())
        .unwrap_or_else(|| panic!("bad probe output {out:?}"));
    assert!(
        errnos.contains(&errno),
        "refused with {out:?}, expected errno in {errnos:?}"
    );
}

#[track_caller]
fn assert_allowed(result: &(RunOutcome, String, String)) {
    let (outcome, out, err) = result;
    assert_eq!(outcome.status.code(), Some(0), "not allowed: {out} {err}");
    assert!(out.starts_with("allowed"), "{out:?}");
}

#[test]
fn permitted_operations_work() {
    let f = Fixture::new();
    let data = f.read_dir.join("data.txt");
    assert_allowed(&f.probe(&["read", Fixture::s(&data)]));
    let written = f.write_dir.join("out.txt");
    assert_allowed(&f.probe(&["write", Fixture::s(&written)]));
    assert_eq!(fs::read_to_string(&written).unwrap(), "probe\n");
    assert_allowed(&f.probe(&["connect", &f.ok_port.to_string()]));
    // exec of an allowed program: `true` exits 0.
    let (outcome, _, err) = f.probe(&["exec", Fixture::s(&f.allowed_prog)]);
    assert_eq!(outcome.status.code(), Some(0), "{err}");
    // And the layers were all there.
    for layer in [
        enforcer::Layer::Landlock,
        enforcer::Layer::Seccomp,
        enforcer::Layer::Cgroup,
    ] {
        assert!(outcome.layers.has(layer), "{layer} missing");
    }
}

#[test]
fn reads_outside_the_envelope_are_refused() {
    let f = Fixture::new();
    let secret = Fixture::s(&f.secret);
    assert_refused(&f.probe(&["read", secret]), &[EACCES]);
    let link = f.write_dir.join("link");
    assert_refused(
        &f.probe(&["symlink-read", secret, Fixture::s(&link)]),
        &[EACCES],
    );
    let hard = f.write_dir.join("hard");
    assert_refused(
        &f.probe(&["hardlink-read", secret, Fixture::s(&hard)]),
        &[EACCES, EXDEV],
    );
    assert!(!hard.exists(), "the hardlink must not have been created");
    let dotdot = format!("{}/../secret/secret.txt", Fixture::s(&f.read_dir));
    assert_refused(&f.probe(&["read", &dotdot]), &[EACCES]);
    assert_refused(&f.probe(&["proc-root-read", secret]), &[EACCES]);
    assert_refused(&f.probe(&["opath-fd-read", secret]), &[EACCES]);
}

#[test]
fn writes_outside_the_envelope_are_refused() {
    let f = Fixture::new();
    let target = f.read_dir.join("new.txt");
    assert_refused(&f.probe(&["write", Fixture::s(&target)]), &[EACCES]);
    assert!(!target.exists());
}

#[test]
fn io_uring_setup_is_refused() {
    let f = Fixture::new();
    assert_refused(&f.probe(&["io-uring-setup"]), &[EPERM]);
}

#[test]
fn forbidden_programs_do_not_run() {
    let f = Fixture::new();
    let marker = f.write_dir.join("escaped");
    let forbidden = Fixture::s(&f.forbidden_prog);
    let marker_s = Fixture::s(&marker);
    // Directly.
    assert_refused(&f.probe(&["exec", forbidden, "write", marker_s]), &[EACCES]);
    // Through the dynamic loader: the loader may run (every dynamic program
    // needs it) but cannot read the forbidden program.
    let (outcome, _, err) = f.probe(&[
        "exec",
        "/lib64/ld-linux-x86-64.so.2",
        forbidden,
        "write",
        marker_s,
    ]);
    assert_ne!(outcome.status.code(), Some(0), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    // Through a script's `#!` whose interpreter is not allowed.
    assert_refused(&f.probe(&["exec", Fixture::s(&f.script)]), &[EACCES]);
    // From memory: memfd_create + execveat.
    assert_refused(
        &f.probe(&["exec-memfd", Fixture::s(&f.allowed_prog)]),
        &[EACCES, EPERM],
    );
    // A program the run wrote itself.
    let dropped = f.write_dir.join("dropped");
    copy_exec(&f.allowed_prog, &dropped);
    assert_refused(&f.probe(&["exec", Fixture::s(&dropped)]), &[EACCES]);
    assert!(!marker.exists(), "a forbidden program ran");
}

#[test]
fn network_outside_the_envelope_is_refused() {
    let f = Fixture::new();
    assert_refused(&f.probe(&["connect", &f.bad_port.to_string()]), &[EACCES]);
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    assert_refused(&f.probe(&["bind", &port.to_string()]), &[EACCES]);
}

#[test]
fn listen_without_bind_takes_no_port() {
    // `listen` on a never-bound socket would take an ephemeral port that no
    // bind check sees: seccomp refuses `listen` when the envelope has no
    // bind rule.
    let f = Fixture::new();
    assert_refused(&f.probe(&["listen-unbound"]), &[EPERM]);
}

#[test]
fn ptrace_of_a_sibling_is_refused() {
    let f = Fixture::new();
    assert_refused(&f.probe(&["ptrace-sibling"]), &[EPERM]);
}

#[test]
fn the_run_cannot_leave_its_cgroup() {
    let f = Fixture::new();
    let mount = enforcer::cgroup::cgroup2_mount().unwrap();
    let procs = mount.join("cgroup.procs");
    assert_refused(&f.probe(&["cgroup-escape", Fixture::s(&procs)]), &[EACCES]);
}

#[test]
fn a_fork_storm_stays_confined_and_dies_with_the_run() {
    let f = Fixture::new();
    let n = 16;
    let (outcome, out, err) = f.probe(&[
        "fork-storm",
        &n.to_string(),
        Fixture::s(&f.write_dir),
        Fixture::s(&f.secret),
    ]);
    assert_eq!(outcome.status.code(), Some(0), "{out} {err}");
    assert_eq!(
        outcome.killed_leftovers, n,
        "every detached child outlived the probe"
    );
    for i in 0..n {
        let record = fs::read_to_string(f.write_dir.join(format!("child-{i}"))).unwrap();
        let mut lines = record.lines();
        let pid: i32 = lines.next().unwrap().parse().unwrap();
        assert_eq!(
            lines.next(),
            Some("refused 13"),
            "child {i} read the secret"
        );
        // Killed and reaped by the end of the run.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            !alive || status.contains("State:\tZ"),
            "child {pid} survived the run"
        );
    }
    let cgroup = outcome.layers.cgroup.unwrap().path;
    assert!(!cgroup.exists(), "the run's cgroup was not removed");
}

// ───────────────────────── metadata changes ─────────────────────────

const FS_NODUMP_FL: i32 = 0x40;
const FS_XFLAG_NODUMP: &str = "128";
const FS_IOC_GETFLAGS: u64 = 0x8008_6601;
const FS_IOC_GETVERSION: u64 = 0x8008_7601;

/// Everything a metadata change could alter, read as root. `ctime` moves
/// with any change of the inode, so an unchanged `ctime` means nothing
/// changed.
#[derive(Debug, PartialEq, Eq)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    ctime: (i64, i64),
    xattrs: Vec<(String, Vec<u8>)>,
    flags: i32,
    version: i64,
}

fn cpath(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    let c = cpath(p);
    let mut names = vec![0u8; 4096];
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(n >= 0, "listxattr {}", p.display());
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let cname = std::ffi::CString::new(name).unwrap();
        let mut v = vec![0u8; 256];
        let n =
            unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(n.max(0) as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), v));
    }
    out.sort();
    out
}

fn ioctl_get(p: &Path, cmd: u64) -> i64 {
    let f = fs::File::open(p).unwrap();
    let mut v: i64 = 0;
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&f), cmd as _, &mut v) };
    assert_eq!(rc, 0, "ioctl {cmd:#x} on {}", p.display());
    v
}

fn meta_of(p: &Path) -> Meta {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(p).unwrap();
    let regular = m.file_type().is_file();
    Meta {
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: m.mtime(),
        ctime: (m.ctime(), m.ctime_nsec()),
        xattrs: if regular { xattrs(p) } else { Vec::new() },
        flags: if regular {
            ioctl_get(p, FS_IOC_GETFLAGS) as i32
        } else {
            0
        },
        version: if regular {
            ioctl_get(p, FS_IOC_GETVERSION) as u32 as i64
        } else {
            0
        },
    }
}

/// A file with mode 0644, owned by `uid:gid`, times at 2001-09-09, and the
/// attribute `user.keep`.
fn subject(path: &Path, uid: u32, gid: u32) {
    fs::write(path, "subject\n").unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    let c = cpath(path);
    let keep = c"user.keep";
    assert_eq!(
        unsafe { libc::setxattr(c.as_ptr(), keep.as_ptr(), b"1".as_ptr().cast(), 1, 0) },
        0
    );
    let t = libc::timespec {
        tv_sec: 1_000_000_000,
        tv_nsec: 0,
    };
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), 0) },
        0
    );
    assert_eq!(unsafe { libc::chown(c.as_ptr(), uid, gid) }, 0);
}

/// Each change the probe tries, with what the kernel answered (`None`:
/// made).
type Answers = Vec<(String, Option<i32>)>;

fn parse_metas(out: &str) -> Answers {
    out.lines()
        .filter(|l| !l.starts_with("allowed "))
        .map(|l| {
            let mut w = l.split_whitespace();
            let op = w.next().unwrap().to_owned();
            match w.next() {
                Some("allowed") => (op, None),
                Some("refused") => (op, Some(w.next().unwrap().parse().unwrap())),
                other => panic!("bad probe line {l:?} ({other:?})"),
            }
        })
        .collect()
}

impl Fixture {
    /// A subject file in the read-only tree, and a symlink to it from the
    /// writable directory.
    fn read_only_subject(&self) -> (PathBuf, PathBuf) {
        let target = self.read_dir.join("subject");
        subject(&target, 0, 0);
        let link = self.write_dir.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        (target, link)
    }

    /// Runs `PREFIX... metas OP PATH VALUE...` and returns the answers.
    fn metas(&self, prefix: &[&str], changes: &[(&str, &Path, &str)]) -> (RunOutcome, Answers) {
        let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        args.push("metas".into());
        for (op, path, value) in changes {
            args.extend([
                op.to_string(),
                Fixture::s(path).to_owned(),
                value.to_string(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (outcome, out, err) = self.probe(&args);
        assert_eq!(outcome.status.code(), Some(0), "{out} {err}");
        let answers = parse_metas(&out);
        assert_eq!(answers.len(), changes.len(), "{out}");
        (outcome, answers)
    }
}

/// Every change the probe knows, with a value that changes something.
const CHANGES: &[(&str, &str)] = &[
    ("chmod", "600"),
    ("fchmod", "600"),
    ("fchmodat", "600"),
    ("fchmodat2", "600"),
    ("fchmodat2-empty", "600"),
    ("chmod-procfd", "600"),
    ("chown", "65534:65534"),
    ("lchown", "65534:65534"),
    ("fchown", "65534:65534"),
    ("fchownat", "65534:65534"),
    ("fchownat-empty", "65534:65534"),
    ("utime", "1234567890"),
    ("utimes", "1234567890"),
    ("futimesat", "1234567890"),
    ("utimensat", "1234567890"),
    ("utimensat-nofollow", "1234567890"),
    ("futimens", "1234567890"),
    ("setxattr", "user.x=1"),
    ("lsetxattr", "user.x=1"),
    ("fsetxattr", "user.x=1"),
    ("setxattrat", "user.x=1"),
    ("removexattr", "user.keep"),
    ("lremovexattr", "user.keep"),
    ("fremovexattr", "user.keep"),
    ("removexattrat", "user.keep"),
    ("setflags", "64"),
    ("fssetxattr", FS_XFLAG_NODUMP),
    ("file_setattr", FS_XFLAG_NODUMP),
    ("setversion", "7"),
];

#[test]
fn metadata_changes_outside_the_write_envelope_are_refused_and_change_nothing() {
    let f = Fixture::new();
    // A symlink from the writable directory into the read-only one, and a
    // path through `..`.
    let (target, link) = f.read_only_subject();
    let dotdot = f.write_dir.join("../read/subject");
    let before = meta_of(&target);
    let mut changes: Vec<(&str, &Path, &str)> = CHANGES
        .iter()
        .map(|(op, v)| (*op, target.as_path(), *v))
        .collect();
    for (op, v) in [
        ("chmod", "600"),
        ("fchmodat2", "600"),
        ("chown", "65534:65534"),
        ("fchownat", "65534:65534"),
        ("utimes", "1234567890"),
        ("utimensat", "1234567890"),
        ("setxattr", "user.x=1"),
        ("setxattrat", "user.x=1"),
        ("removexattr", "user.keep"),
        ("file_setattr", FS_XFLAG_NODUMP),
    ] {
        changes.push((op, link.as_path(), v));
        changes.push((op, dotdot.as_path(), v));
    }
    // A magic link reached through a symlink (/dev/fd -> /proc/self/fd).
    changes.push(("chmod-devfd", target.as_path(), "600"));
    let (outcome, answers) = f.metas(&[], &changes);
    for ((op, path, _), (_, answer)) in changes.iter().zip(&answers) {
        assert_eq!(
            *answer,
            Some(EPERM),
            "{op} {} was not refused",
            path.display()
        );
    }
    assert_eq!(
        meta_of(&target),
        before,
        "a refused change changed the file"
    );
    // Each refusal names the syscall and the file it reached.
    let m = &outcome.metadata;
    assert_eq!(m.refused_total as usize, changes.len());
    let real = target.canonicalize().unwrap();
    let (devfd, resolved): (Vec<_>, Vec<_>) = m
        .refused
        .iter()
        .partition(|r| r.path.starts_with("/dev/fd/"));
    assert!(resolved.iter().all(|r| Path::new(&r.path) == real), "{m:?}");
    // The magic link reached through /dev/fd is not followed at all.
    assert!(
        devfd.len() == 1 && devfd[0].reason.contains("/proc link"),
        "{m:?}"
    );
    for name in [
        "chmod",
        "fchmodat2",
        "setxattrat",
        "ioctl(FS_IOC_SETFLAGS)",
        "file_setattr",
    ] {
        assert!(m.refused.iter().any(|r| r.syscall == name), "{name}: {m:?}");
    }
    assert!(outcome.layers.metadata.is_some());
}

#[test]
fn metadata_changes_inside_the_write_envelope_are_made() {
    let f = Fixture::new();
    // One file per change, so each effect can be seen.
    let files: Vec<PathBuf> = CHANGES
        .iter()
        .map(|(op, _)| {
            let p = f.write_dir.join(op);
            subject(&p, 0, 0);
            p
        })
        .collect();
    let changes: Vec<(&str, &Path, &str)> = CHANGES
        .iter()
        .zip(&files)
        .map(|((op, v), p)| (*op, p.as_path(), *v))
        .collect();
    let (outcome, answers) = f.metas(&[], &changes);
    for ((op, _), answer) in CHANGES.iter().zip(&answers) {
        assert_eq!(answer.1, None, "{op} was refused");
    }
    assert_eq!(outcome.metadata.refused_total, 0);
    for ((op, _), path) in CHANGES.iter().zip(&files) {
        let m = meta_of(path);
        let expected = match *op {
            o if o.contains("chmod") => m.mode == 0o600,
            o if o.contains("chown") => (m.uid, m.gid) == (65534, 65534),
            o if o.contains("utime") => m.mtime == 1_234_567_890,
            o if o.contains("setxattr") && o != "fssetxattr" => {
                m.xattrs.contains(&("user.x".into(), b"1".to_vec()))
            }
            o if o.contains("removexattr") => m.xattrs.is_empty(),
            "setflags" | "fssetxattr" | "file_setattr" => m.flags & FS_NODUMP_FL != 0,
            "setversion" => m.version == 7,
            other => panic!("no expectation for {other}"),
        };
        assert!(expected, "{op} did not take effect: {m:?}");
    }
}

#[test]
fn a_symlink_in_the_writable_directory_is_its_own_but_its_target_is_not() {
    let f = Fixture::new();
    let (target, link) = f.read_only_subject();
    let before = meta_of(&target);
    let (_, answers) = f.metas(
        &[],
        &[
            ("lchown", &link, "65534:65534"),
            ("fchownat-nofollow", &link, "65534:65534"),
            ("utimensat-nofollow", &link, "1234567890"),
            // The kernel's own answer for a symlink's mode, passed on.
            ("fchmodat2-nofollow", &link, "600"),
        ],
    );
    let answers: Vec<Option<i32>> = answers.into_iter().map(|a| a.1).collect();
    assert_eq!(answers, [None, None, None, Some(libc::EOPNOTSUPP)]);
    let l = meta_of(&link);
    assert_eq!((l.uid, l.gid, l.mtime), (65534, 65534, 1_234_567_890));
    assert_eq!(meta_of(&target), before);
}

#[test]
fn a_racing_thread_cannot_flip_the_path() {
    // A second thread rewrites the path buffer between a writable and a
    // read-only file while the first calls chmod on it: the supervisor
    // reads the path once and acts on what it resolved and checked.
    let f = Fixture::new();
    let (readonly, writable) = (f.read_dir.join("race"), f.write_dir.join("race"));
    subject(&readonly, 0, 0);
    subject(&writable, 0, 0);
    let before = meta_of(&readonly);
    let (outcome, out, err) = f.probe(&[
        "meta-race",
        Fixture::s(&writable),
        Fixture::s(&readonly),
        "3000",
        "600",
    ]);
    assert_eq!(outcome.status.code(), Some(0), "{out} {err}");
    assert!(
        !out.starts_with("allowed 0 of"),
        "no chmod went through: {out}"
    );
    assert_eq!(
        meta_of(&readonly),
        before,
        "the read-only file changed: {out}"
    );
    assert_eq!(meta_of(&writable).mode, 0o600);
    let real = readonly.canonicalize().unwrap();
    assert!(
        outcome
            .metadata
            .refused
            .iter()
            .all(|r| Path::new(&r.path) == real),
        "{:?}",
        outcome.metadata
    );
}

#[test]
fn the_kernel_checks_the_callers_own_credentials() {
    let f = Fixture::new();
    // The run's processes search the fixture's directories as uid 65534.
    let root = f.read_dir.parent().unwrap();
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
    let (mine, roots, other) = (
        f.write_dir.join("mine"),
        f.write_dir.join("roots"),
        f.write_dir.join("other"),
    );
    subject(&mine, 65534, 65534);
    subject(&roots, 0, 0);
    subject(&other, 65534, 65534);
    let (roots_before, other_before) = (meta_of(&roots), meta_of(&other));
    // An unprivileged caller: its own file's mode changes; it cannot give
    // it to root, nor change root's file.
    let (_, answers) = f.metas(
        &["as", "65534", "65534"],
        &[
            ("chown", &mine, "0:0"),
            ("fchownat", &mine, "65534:0"),
            ("chmod", &mine, "600"),
            ("chmod", &roots, "600"),
            ("setxattr", &roots, "user.x=1"),
        ],
    );
    let answers: Vec<Option<i32>> = answers.into_iter().map(|a| a.1).collect();
    // (Writing an attribute of a file it may not write: EACCES.)
    assert_eq!(
        answers,
        [Some(EPERM), Some(EPERM), None, Some(EPERM), Some(EACCES)]
    );
    let m = meta_of(&mine);
    assert_eq!((m.uid, m.gid, m.mode), (65534, 65534, 0o600));
    assert_eq!(meta_of(&roots), roots_before);
    // Root without CAP_FOWNER (3) cannot change another user's file's mode.
    let (_, answers) = f.metas(&["drop-cap", "3"], &[("chmod", &other, "600")]);
    assert_eq!(answers[0].1, Some(EPERM));
    assert_eq!(meta_of(&other), other_before);
}

#[test]
fn with_the_supervisor_gone_the_calls_fail() {
    use enforcer::supervisor::{Prepared, Supervisor, WriteRules};
    use std::os::unix::process::CommandExt;
    let f = Fixture::new();
    let file = f.write_dir.join("subject");
    subject(&file, 0, 0);
    let before = meta_of(&file);
    let policy = f.policy();
    let run = |supervised: bool| {
        let trigger = f.write_dir.join(format!("go-{supervised}"));
        let prepared = Prepared::new().unwrap();
        let mut cmd = std::process::Command::new(PROBE);
        cmd.args([
            "meta-wait",
            Fixture::s(&trigger),
            "chmod",
            Fixture::s(&file),
            "600",
        ])
        .stdout(std::process::Stdio::piped());
        let installer = &prepared as *const Prepared as usize;
        // SAFETY: install_in_child is async-signal-safe (system calls on
        // data prepared before the fork); `prepared` outlives the spawn.
        unsafe {
            cmd.pre_exec(move || (*(installer as *const Prepared)).install_in_child());
        }
        let child = cmd.spawn().unwrap();
        let listener = prepared.receive().unwrap();
        let decide = WriteRules::landlock(&policy).into_decision();
        let supervisor = Supervisor::start(listener, decide, false).unwrap();
        if !supervised {
            // The listener closes with the supervisor, as it does when its
            // thread ends or the launcher dies.
            supervisor.stop();
        }
        fs::write(&trigger, "").unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run(false);
    assert!(
        out.starts_with(&format!("refused {}", libc::ENOSYS)),
        "{out}"
    );
    assert_eq!(meta_of(&file), before);
    let out = run(true);
    assert!(out.starts_with("allowed"), "{out}");
    assert_eq!(meta_of(&file).mode, 0o600);
}
