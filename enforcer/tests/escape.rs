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
