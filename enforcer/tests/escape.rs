//! Escape tests: a run whose policy reads one directory tree, writes one
//! directory, executes two programs (and a script) and connects to one
//! loopback port tries every way out listed in issue 5; each must be refused
//! with the expected errno, and the permitted operations must still work.
//!
//! The second half runs the same launcher with the eBPF layers and tries
//! the ways around the exec check (programs by inode, argument lists
//! exactly, the ELF loader, `#!` scripts, memfds) and the unix socket
//! programs (paths outside the envelope, other spellings of granted ones,
//! abstract sockets): a refused exec is killed before the new program's
//! first instruction, a refused connect or send fails with EPERM, and
//! nothing reaches the other side.
//!
//! Run as root (CI is root). Without root, the tests that need the cgroup
//! fail with a clear message rather than skip.

use enforcer::ebpf::{Disposition, Event, ExecRefusal, NetOp, Reports};
use enforcer::{FileRights, FileScope, KernelPolicy, Layer, NetRule, Run, RunOptions, RunOutcome};
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::ExitStatusExt;
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

/// Returns from the calling test, saying it was skipped and why, unless this
/// is root (`make test` runs the tests as root, then again unprivileged).
macro_rules! root_or_return {
    () => {
        if !testkit::root_or_skip!("the run's cgroup and eBPF layers") {
            return;
        }
    };
}

/// A directory the run may read, write, create and remove in.
const WRITABLE: FileRights = FileRights::READ
    .union(FileRights::WRITE)
    .union(FileRights::CREATE)
    .union(FileRights::REMOVE);

/// The spec's baseline: the loader, libc, `/proc` (for the fd and root
/// tricks), `/dev/null`.
fn baseline_policy() -> KernelPolicy {
    let mut p = KernelPolicy::new();
    for dir in ["/usr/lib", "/lib", "/lib64", "/proc"] {
        p.allow_path(dir, FileScope::Tree, FileRights::READ)
            .unwrap();
    }
    p.allow_path("/etc/ld.so.cache", FileScope::File, FileRights::READ)
        .unwrap();
    p.allow_path(
        "/dev/null",
        FileScope::File,
        FileRights::READ | FileRights::WRITE,
    )
    .unwrap();
    p
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
        let mut p = baseline_policy();
        // The envelope.
        p.allow_path(&self.read_dir, FileScope::Tree, FileRights::READ)
            .unwrap();
        p.allow_path(&self.write_dir, FileScope::Tree, WRITABLE)
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
    root_or_return!();
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
    root_or_return!();
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
    root_or_return!();
    let f = Fixture::new();
    let target = f.read_dir.join("new.txt");
    assert_refused(&f.probe(&["write", Fixture::s(&target)]), &[EACCES]);
    assert!(!target.exists());
}

#[test]
fn io_uring_setup_is_refused() {
    root_or_return!();
    let f = Fixture::new();
    assert_refused(&f.probe(&["io-uring-setup"]), &[EPERM]);
}

#[test]
fn forbidden_programs_do_not_run() {
    root_or_return!();
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
    root_or_return!();
    let f = Fixture::new();
    assert_refused(&f.probe(&["connect", &f.bad_port.to_string()]), &[EACCES]);
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    assert_refused(&f.probe(&["bind", &port.to_string()]), &[EACCES]);
}

#[test]
fn listen_without_bind_takes_no_port() {
    root_or_return!();
    // `listen` on a never-bound socket would take an ephemeral port that no
    // bind check sees: seccomp refuses `listen` when the envelope has no
    // bind rule.
    let f = Fixture::new();
    assert_refused(&f.probe(&["listen-unbound"]), &[EPERM]);
}

#[test]
fn ptrace_of_a_sibling_is_refused() {
    root_or_return!();
    let f = Fixture::new();
    assert_refused(&f.probe(&["ptrace-sibling"]), &[EPERM]);
}

#[test]
fn the_run_cannot_leave_its_cgroup() {
    root_or_return!();
    let f = Fixture::new();
    let mount = enforcer::cgroup::cgroup2_mount().unwrap();
    let procs = mount.join("cgroup.procs");
    assert_refused(&f.probe(&["cgroup-escape", Fixture::s(&procs)]), &[EACCES]);
}

#[test]
fn a_fork_storm_stays_confined_and_dies_with_the_run() {
    root_or_return!();
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

// ---------------------------------------------------------------------------
// The eBPF exec check and unix socket programs, through the launcher: the
// same `Run` as above with `enforcer::ebpf::for_launcher_with`'s two cgroup
// layers beside Landlock, seccomp and the cgroup.
// ---------------------------------------------------------------------------

/// What one run gave (with the eBPF layers, or without them).
struct EbpfRun {
    status: std::process::ExitStatus,
    out: String,
    err: String,
    events: Vec<Event>,
    /// `EbpfLayers::refusals` after the run.
    refusals: u64,
    /// What the layers enforce more widely than the policy says.
    widenings: Vec<enforcer::policy::Widening>,
}

impl EbpfRun {
    /// Killed by SIGKILL (the exec check's answer; a shell says 137).
    fn killed(&self) -> bool {
        self.status.signal() == Some(libc::SIGKILL)
    }

    /// The probe's errno, when it reported a refusal.
    fn refused_errno(&self) -> Option<i32> {
        if self.status.code() != Some(10) {
            return None;
        }
        self.out.split_whitespace().nth(1)?.parse().ok()
    }

    /// The refused execs the run reported: (file name, arguments, why).
    fn refused_execs(&self) -> Vec<(String, Vec<String>, Option<ExecRefusal>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Exec {
                    filename,
                    args,
                    verdict: Disposition::Refused,
                    refusal,
                    ..
                } => Some((filename.clone(), args.clone(), *refusal)),
                _ => None,
            })
            .collect()
    }

    /// The refused unix socket operations the run reported: (op, path).
    fn refused_unix(&self) -> Vec<(NetOp, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Unix {
                    op,
                    path,
                    verdict: Disposition::Refused,
                    ..
                } => Some((*op, path.clone())),
                _ => None,
            })
            .collect()
    }
}

impl std::fmt::Debug for EbpfRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {:?}, stdout {:?}, stderr {:?}, events {:#?}",
            self.status, self.out, self.err, self.events
        )
    }
}

/// Runs the probe with `args` under `policy` through the launcher, with the
/// eBPF layers reporting `ebpf` (none: without them), every layer required
/// except those in `disable` (which are not applied). The events are read
/// once the run is over: every process of it has exited, so each record is
/// in the ring.
fn run_with(
    policy: &KernelPolicy,
    ebpf: Option<Reports>,
    disable: &[Layer],
    args: &[&str],
) -> EbpfRun {
    require_root();
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut require = vec![Layer::Landlock, Layer::Seccomp, Layer::Cgroup];
    let mut run = Run::new(policy);
    let mut events = None;
    let mut state = None;
    if let Some(reports) = ebpf {
        let layers = enforcer::ebpf::for_launcher_with(policy, false, reports)
            .expect("the eBPF layers load");
        assert_eq!(
            layers.events.is_none(),
            reports == Reports::Nothing,
            "a ring exactly for runs whose events someone reads"
        );
        events = layers.events;
        state = Some(layers.tracepoints.share());
        run = run
            .with_layer(Box::new(layers.sock_addr))
            .with_layer(Box::new(layers.tracepoints));
        require.extend([Layer::EbpfCgroupSockAddr, Layer::EbpfTracepoints]);
    }
    let opts = RunOptions {
        quiet: true,
        require: require
            .into_iter()
            .filter(|l| !disable.contains(l))
            .collect(),
        disable: disable.iter().copied().collect(),
        ..RunOptions::default()
    };
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let outcome = run
        .options(opts)
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn(PROBE, &args)
        .expect("the run starts");
    if let Some(ebpf) = ebpf {
        for layer in [Layer::EbpfCgroupSockAddr, Layer::EbpfTracepoints] {
            assert_eq!(
                outcome.layers.has(layer),
                !disable.contains(&layer),
                "{ebpf:?}: {:#?}",
                outcome.layers
            );
        }
    }
    let events = events
        .as_mut()
        .map(|s| s.drain().collect())
        .unwrap_or_default();
    let refusals = state.map_or(0, |s| {
        s.with_layers(|l| l.refusals()).expect("the run's entry")
    });
    let read = |f: &mut fs::File| {
        let mut s = String::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_string(&mut s).unwrap();
        s
    };
    EbpfRun {
        status: outcome.status,
        widenings: outcome.layers.widenings,
        out: read(&mut out),
        err: read(&mut err),
        events,
        refusals,
    }
}

/// [`run_with`] the eBPF layers reporting processes (exec, fork, exit, and
/// refused network and unix socket operations), every layer applied.
fn run_ebpf(policy: &KernelPolicy, args: &[&str]) -> EbpfRun {
    run_with(policy, Some(Reports::Processes), &[], args)
}

/// A static program without libc whose `_start` writes `ran\n` to MARKER
/// (a path compiled in) and exits 0. Nothing runs before that write (no
/// loader, no libc start-up): a killed exec that leaves no marker stopped
/// the program before its first system call.
const MARKER_C: &str = r#"
static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return r;
}
void _start(void) {
    static const char path[] = MARKER;
    long fd = sys3(2 /* open */, (long)path, 01 | 0100 | 01000 /* O_WRONLY|O_CREAT|O_TRUNC */, 0644);
    if (fd >= 0) {
        sys3(1 /* write */, fd, (long)"ran\n", 4);
        sys3(3 /* close */, fd, 0, 0);
    }
    sys3(60 /* exit */, fd >= 0 ? 0 : 1, 0, 0);
    for (;;) {}
}
"#;

/// The world of the exec and unix socket tests: a directory of granted
/// programs (`bin/mark`, the marker program), a directory the run may
/// write (where the marker goes), and room for more.
struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    write: PathBuf,
    /// The static marker program.
    mark: PathBuf,
    /// What `mark` writes.
    marker: PathBuf,
}

impl World {
    fn new() -> Self {
        require_root();
        let tmp = tempfile::Builder::new()
            .prefix("warden-escape-")
            .tempdir()
            .unwrap();
        let root = tmp.path().to_path_buf();
        let (bin, write) = (root.join("bin"), root.join("write"));
        fs::create_dir(&bin).unwrap();
        fs::create_dir(&write).unwrap();
        let marker = write.join("ran");
        let src = root.join("mark.c");
        fs::write(&src, MARKER_C).unwrap();
        let mark = bin.join("mark");
        let built = std::process::Command::new("cc")
            .args(["-static", "-nostdlib", "-fno-stack-protector", "-O2"])
            .arg(format!("-DMARKER=\"{}\"", marker.display()))
            .arg("-o")
            .arg(&mark)
            .arg(&src)
            .status()
            .expect("cc (gcc) runs");
        assert!(built.success(), "cc -static -nostdlib failed");
        World {
            _tmp: tmp,
            root,
            bin,
            write,
            mark,
            marker,
        }
    }

    /// Reading the loader, libc and /proc; writing `write/`; the probe
    /// with any arguments. No other program.
    fn policy(&self) -> KernelPolicy {
        let mut p = baseline_policy();
        p.allow_path(&self.write, FileScope::Tree, WRITABLE)
            .unwrap();
        p.allow_exec(PROBE).unwrap();
        p
    }

    /// Whether the marker program ran since the last call (the marker is
    /// removed).
    fn take_marker(&self) -> bool {
        match fs::remove_file(&self.marker) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => panic!("removing the marker: {e}"),
        }
    }
}

/// Asserts the run was killed by the exec check for `why`, after an exec of
/// `filename` with `args`, and that the marker program never ran.
#[track_caller]
fn assert_exec_killed(w: &World, run: &EbpfRun, filename: &str, args: &[&str], why: ExecRefusal) {
    assert!(run.killed(), "not killed: {run:?}");
    assert!(!w.take_marker(), "the refused program ran: {run:?}");
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        run.refused_execs(),
        [(filename.to_owned(), args, Some(why))],
        "{run:?}"
    );
}

#[test]
fn exec_arguments_are_checked_exactly() {
    root_or_return!();
    let w = World::new();
    let mark = Fixture::s(&w.mark);
    let mut policy = w.policy();
    policy
        .allow_exec_args(&w.mark, vec!["--mark".into(), "now".into()])
        .unwrap();
    policy
        .allow_exec_args(&w.mark, vec!["solo".into()])
        .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["exec", mark];
        all.extend_from_slice(args);
        run_ebpf(&policy, &all)
    };

    // The granted lists run, and the program's effect happens.
    for granted in [&["--mark", "now"][..], &["solo"]] {
        let r = run(granted);
        assert_eq!(r.status.code(), Some(0), "{r:?}");
        assert!(w.take_marker(), "{granted:?} did not run: {r:?}");
        assert!(r.refused_execs().is_empty(), "{r:?}");
    }
    // argv[0] is whatever the caller says, and is not an argument.
    let r = run_ebpf(
        &policy,
        &["exec-argv0", mark, "anything at all", "--mark", "now"],
    );
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert!(w.take_marker(), "{r:?}");

    // Any other list: killed before `_start`'s first instruction.
    for refused in [
        &["--mark", "later"][..],
        &["--mark", "now", "extra"],
        &["--mark"],
        &[],
        // The same bytes but one argument: boundaries count.
        &["--mark now"],
        &["solo", ""],
    ] {
        let r = run(refused);
        assert_exec_killed(&w, &r, mark, refused, ExecRefusal::Arguments);
    }

    // From a shell the run may use, a refused exec kills the shell's child
    // only: the shell sees status 137 (128 + SIGKILL).
    let mut with_sh = policy.clone();
    with_sh.allow_exec("/bin/sh").unwrap();
    let status = w.write.join("status");
    let script = format!(
        "{mark} --mark now; echo $? > {s}; {mark} --mark later; echo $? >> {s}",
        s = status.display()
    );
    let r = run_ebpf(&with_sh, &["exec", "/bin/sh", "-c", &script]);
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert_eq!(fs::read_to_string(&status).unwrap(), "0\n137\n", "{r:?}");
    assert!(w.take_marker(), "the granted list ran");
    assert_eq!(
        r.refused_execs(),
        [(
            mark.to_owned(),
            vec!["--mark".to_owned(), "later".to_owned()],
            Some(ExecRefusal::Arguments)
        )],
        "{r:?}"
    );

    // Arguments longer than the check reads (ARGV_MAX = 4096 bytes): the
    // program's arguments are checked, so it is killed unread.
    let long = "x".repeat(5000);
    let r = run(&["--mark", &long]);
    assert!(r.killed(), "{r:?}");
    assert!(!w.take_marker());
    let refused = r.refused_execs();
    assert_eq!(refused.len(), 1, "{r:?}");
    assert_eq!(refused[0].0, mark);
    assert_eq!(refused[0].2, Some(ExecRefusal::ArgumentsUnreadable));
    // The event carries the first bytes of the arguments and says so.
    assert!(
        r.events.iter().any(|e| matches!(e,
            Event::Exec { args, args_cut: true, verdict: Disposition::Refused, .. }
            if args.first().map(String::as_str) == Some("--mark"))),
        "{r:?}"
    );
}

/// A granted list the check could never read whole (longer than
/// `ARGV_MAX`) is not silently narrowed: the layer refuses to attach, so the
/// run, which requires it, does not start.
#[test]
fn a_granted_argument_list_longer_than_the_check_reads_stops_the_run() {
    root_or_return!();
    let w = World::new();
    let mut policy = w.policy();
    let long = "y".repeat(4096);
    policy.allow_exec_args(&w.mark, vec![long.clone()]).unwrap();
    let layers = enforcer::ebpf::for_launcher_with(&policy, false, Reports::Nothing)
        .expect("the eBPF layers load");
    let opts = RunOptions {
        quiet: true,
        require: [Layer::EbpfTracepoints].into_iter().collect(),
        ..RunOptions::default()
    };
    let args = [OsString::from(long)];
    let err = Run::new(&policy)
        .options(opts)
        .with_layer(Box::new(layers.sock_addr))
        .with_layer(Box::new(layers.tracepoints))
        .spawn(&w.mark, &args)
        .expect_err("the run must not start");
    assert!(err.to_string().contains("longer than 4096 bytes"), "{err}");
    assert!(!w.take_marker(), "the program ran");
}

/// The command the launcher starts is an exec of the run like any other:
/// held to its granted argument lists from its first instruction.
#[test]
fn the_command_itself_is_held_to_its_arguments() {
    root_or_return!();
    let w = World::new();
    let granted = w.write.join("granted.txt");
    let other = w.write.join("other.txt");
    let mut policy = w.policy();
    policy.exec_args.clear();
    policy.exec.clear();
    policy
        .allow_exec_args(PROBE, vec!["write".into(), Fixture::s(&granted).into()])
        .unwrap();
    let r = run_ebpf(&policy, &["write", Fixture::s(&granted)]);
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert_eq!(fs::read_to_string(&granted).unwrap(), "probe\n");
    let r = run_ebpf(&policy, &["write", Fixture::s(&other)]);
    assert!(r.killed(), "{r:?}");
    assert!(!other.exists(), "the refused command ran");
    let other_s = Fixture::s(&other);
    assert_eq!(
        r.refused_execs(),
        [(
            PROBE.to_owned(),
            vec!["write".to_owned(), other_s.to_owned()],
            Some(ExecRefusal::Arguments)
        )],
        "{r:?}"
    );
}

/// The exec check knows a program by the inode the kernel executes: every
/// name of the granted file runs it, and no other file runs, whatever
/// Landlock lets through.
///
/// The fixture makes Landlock the wider layer on purpose: `copies/` is
/// granted exec as a *file* rule on a directory, which Landlock applies to
/// the whole tree (a widening it reports), while the exec check lists the
/// directory's own inode only and no exec tree (`RUN_EXEC_TREES` off). So a
/// copy of the granted program in `copies/` passes Landlock (shown by the
/// same run without the eBPF layers) and only the exec check refuses it.
#[test]
fn a_program_is_known_by_its_inode() {
    root_or_return!();
    let w = World::new();
    let mark = Fixture::s(&w.mark);
    let copies = w.root.join("copies");
    fs::create_dir(&copies).unwrap();
    let copy = copies.join("mark");
    copy_exec(&w.mark, &copy);
    let link = w.write.join("mark-link");
    std::os::unix::fs::symlink(&w.mark, &link).unwrap();
    let mut policy = w.policy();
    policy.allow_exec(&w.mark).unwrap();
    policy
        .allow_path(&copies, FileScope::File, FileRights::EXEC)
        .unwrap();
    let bin = Fixture::s(&w.bin);

    // Every name of the granted file: path, symlink, `./mark` from its
    // directory, `execveat(dirfd, "mark")`, `execveat(fd, "",
    // AT_EMPTY_PATH)`, `/proc/self/fd/N`.
    for args in [
        &["exec", mark][..],
        &["exec", Fixture::s(&link)],
        &["exec-in", bin, "./mark"],
        &["exec-at", bin, "mark"],
        &["exec-fd", mark],
        &["exec-proc-fd", mark],
    ] {
        let r = run_ebpf(&policy, args);
        assert_eq!(r.status.code(), Some(0), "{args:?}: {r:?}");
        assert!(w.take_marker(), "{args:?} did not run the program: {r:?}");
    }

    // Landlock alone lets the copy run (it says it widens the rule)...
    let copy_s = Fixture::s(&copy);
    let r = run_with(&policy, None, &[], &["exec", copy_s]);
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert!(w.take_marker(), "Landlock let the copy run");
    assert!(
        r.widenings
            .iter()
            .any(|wd| wd.layer == "landlock" && wd.shape.contains(Fixture::s(&copies))),
        "{:#?}",
        r.widenings
    );
    // ...the exec check does not: another inode, killed before it runs.
    let r = run_ebpf(&policy, &["exec", copy_s]);
    assert_exec_killed(&w, &r, copy_s, &[], ExecRefusal::Program);
}

/// A memfd copy of a granted program: seccomp refuses `memfd_create`
/// unless the memfd is sealed against exec (EPERM), and the kernel refuses
/// to execute a sealed one (EACCES), by either route. Where seccomp is not
/// there, the exec check kills it: another inode.
#[test]
fn a_memfd_copy_of_a_granted_program_does_not_run() {
    root_or_return!();
    let w = World::new();
    let mark = Fixture::s(&w.mark);
    let mut policy = w.policy();
    policy.allow_exec(&w.mark).unwrap();
    for how in ["at", "proc"] {
        for (flags, errno, layer) in [
            (
                "plain",
                EPERM,
                "seccomp refuses memfd_create without MFD_NOEXEC_SEAL",
            ),
            ("exec", EPERM, "seccomp refuses memfd_create with MFD_EXEC"),
            (
                "sealed",
                EACCES,
                "the kernel does not execute a sealed memfd",
            ),
        ] {
            let r = run_ebpf(&policy, &["exec-memfd-via", mark, flags, how]);
            assert_eq!(
                r.refused_errno(),
                Some(errno),
                "{flags} {how} ({layer}): {r:?}"
            );
            assert!(!w.take_marker());
            assert!(r.refused_execs().is_empty(), "{r:?}");
        }
    }
    // Without seccomp, an executable memfd reaches the exec check (Landlock
    // does not see a file on the kernel's internal mount).
    for how in ["at", "proc"] {
        let r = run_with(
            &policy,
            Some(Reports::Processes),
            &[Layer::Seccomp],
            &["exec-memfd-via", mark, "exec", how],
        );
        assert!(r.killed(), "{how}: {r:?}");
        assert!(!w.take_marker(), "the memfd copy ran");
        let refused = r.refused_execs();
        assert_eq!(refused.len(), 1, "{r:?}");
        assert_eq!(refused[0].2, Some(ExecRefusal::Program), "{r:?}");
    }
}

/// The ELF loader of a granted program is not a program of the run:
/// `ld.so PROGRAM` is killed (Landlock must let the loader run, since every
/// dynamic program needs it), while the program itself runs.
#[test]
fn the_elf_loader_run_directly_is_killed() {
    root_or_return!();
    let w = World::new();
    let policy = w.policy();
    let out = w.write.join("out.txt");
    let out_s = Fixture::s(&out);
    let loader = "/lib64/ld-linux-x86-64.so.2";
    let r = run_ebpf(&policy, &["exec", PROBE, "write", out_s]);
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert_eq!(fs::read_to_string(&out).unwrap(), "probe\n");
    fs::remove_file(&out).unwrap();

    let r = run_ebpf(&policy, &["exec", loader, PROBE, "write", out_s]);
    assert!(r.killed(), "{r:?}");
    assert!(!out.exists(), "the program ran through its loader");
    assert_eq!(
        r.refused_execs(),
        [(
            loader.to_owned(),
            [PROBE, "write", out_s].map(String::from).to_vec(),
            Some(ExecRefusal::Program)
        )],
        "{r:?}"
    );
}

/// `#!` scripts. The kernel runs a script's interpreter with the arguments
/// `[script path as called, script arguments...]` (after the `#!` line's
/// own argument, if any), so the exec check sees the interpreter, and holds
/// it to the lists of the granted scripts: the granted script's path, then
/// any arguments (a script granted with any arguments) or exactly its lists.
/// Called by another name (a symlink, a relative path) the script is
/// refused, because the interpreter's argv names it as called and the check
/// cannot tell that name leads to the granted file. The interpreter run
/// directly is killed unless the envelope grants it.
///
/// Landlock must let the interpreter run for any script: `interp/` (a copy
/// of dash) is granted exec as a file rule on the directory, which Landlock
/// widens to the tree and the exec check does not (see
/// `a_program_is_known_by_its_inode`).
#[test]
fn scripts_run_only_by_their_granted_path() {
    root_or_return!();
    let w = World::new();
    let interp_dir = w.root.join("interp");
    fs::create_dir(&interp_dir).unwrap();
    let sh = interp_dir.join("sh");
    copy_exec(Path::new("/bin/sh"), &sh);
    let script = |name: &str, out: &str| {
        let path = w.bin.join(name);
        let out = w.write.join(out);
        fs::write(
            &path,
            format!("#!{}\necho \"[$*]\" > {}\n", sh.display(), out.display()),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        (path, out)
    };
    let (any, any_out) = script("any.sh", "any.out");
    let (exact, exact_out) = script("exact.sh", "exact.out");
    let (any_s, exact_s, sh_s) = (Fixture::s(&any), Fixture::s(&exact), Fixture::s(&sh));
    let mut policy = w.policy();
    policy.allow_exec(&any).unwrap();
    policy
        .allow_exec_args(&exact, vec!["a".into(), "b c".into()])
        .unwrap();
    policy
        .allow_path(&interp_dir, FileScope::File, FileRights::EXEC)
        .unwrap();
    let take = |out: &Path| {
        let text = fs::read_to_string(out).ok();
        let _ = fs::remove_file(out);
        text
    };

    // By the granted path: with any arguments, and with the exact list.
    for (args, want) in [
        (&["exec", any_s][..], "[]\n"),
        (&["exec", any_s, "x", "y z"], "[x y z]\n"),
    ] {
        let r = run_ebpf(&policy, args);
        assert_eq!(r.status.code(), Some(0), "{args:?}: {r:?}");
        assert_eq!(take(&any_out).as_deref(), Some(want), "{r:?}");
    }
    let r = run_ebpf(&policy, &["exec", exact_s, "a", "b c"]);
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert_eq!(take(&exact_out).as_deref(), Some("[a b c]\n"));

    // The exact script with another list: the interpreter is killed; the
    // event names the script as executed and the interpreter's arguments.
    for list in [&["a"][..], &["a", "b c", "d"], &["a", "b", "c"]] {
        let mut args = vec!["exec", exact_s];
        args.extend_from_slice(list);
        let r = run_ebpf(&policy, &args);
        assert!(r.killed(), "{list:?}: {r:?}");
        assert_eq!(take(&exact_out), None, "the script ran with {list:?}");
        let mut interp_args = vec![exact_s.to_owned()];
        interp_args.extend(list.iter().map(|a| a.to_string()));
        assert_eq!(
            r.refused_execs(),
            [(
                exact_s.to_owned(),
                interp_args,
                Some(ExecRefusal::Arguments)
            )],
            "{r:?}"
        );
    }

    // Another name for the granted script: the interpreter's argv has that
    // name, not the granted path.
    let link = w.write.join("link.sh");
    std::os::unix::fs::symlink(&any, &link).unwrap();
    let link_s = Fixture::s(&link);
    let r = run_ebpf(&policy, &["exec", link_s]);
    assert!(r.killed(), "{r:?}");
    assert_eq!(take(&any_out), None, "the script ran through a symlink");
    assert_eq!(
        r.refused_execs(),
        [(
            link_s.to_owned(),
            vec![link_s.to_owned()],
            Some(ExecRefusal::Arguments)
        )],
        "{r:?}"
    );
    let r = run_ebpf(&policy, &["exec-in", Fixture::s(&w.bin), "./any.sh"]);
    assert!(r.killed(), "{r:?}");
    assert_eq!(take(&any_out), None, "the script ran by a relative path");
    assert_eq!(
        r.refused_execs(),
        [(
            "./any.sh".to_owned(),
            vec!["./any.sh".to_owned()],
            Some(ExecRefusal::Arguments)
        )],
        "{r:?}"
    );

    // The interpreter itself, with its own arguments: killed...
    let marker = Fixture::s(&w.marker);
    let command = format!("echo sh > {marker}");
    let r = run_ebpf(&policy, &["exec", sh_s, "-c", &command]);
    assert!(r.killed(), "{r:?}");
    assert!(!w.take_marker(), "the interpreter ran");
    assert_eq!(
        r.refused_execs(),
        [(
            sh_s.to_owned(),
            vec!["-c".to_owned(), command.clone()],
            Some(ExecRefusal::Arguments)
        )],
        "{r:?}"
    );
    // ...unless the envelope grants it, by file or by an exec tree: then it
    // runs with any arguments, the script through a symlink too.
    let mut by_file = policy.clone();
    by_file.allow_exec(&sh).unwrap();
    let mut by_tree = policy.clone();
    by_tree
        .allow_path(&interp_dir, FileScope::Tree, FileRights::EXEC)
        .unwrap();
    for (how, granted) in [("file", &by_file), ("tree", &by_tree)] {
        let r = run_ebpf(granted, &["exec", sh_s, "-c", &command]);
        assert_eq!(r.status.code(), Some(0), "by {how}: {r:?}");
        assert!(
            w.take_marker(),
            "granted by {how}, the interpreter ran: {r:?}"
        );
        let r = run_ebpf(granted, &["exec", link_s]);
        assert_eq!(r.status.code(), Some(0), "by {how}: {r:?}");
        assert_eq!(take(&any_out).as_deref(), Some("[]\n"));
    }
}

/// The one byte a connection queued on `listener` sent, if any connection
/// is queued (the listener is outside the run: it accepts after the run).
fn received(listener: &UnixListener) -> Option<u8> {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Ok((mut stream, _)) => {
            stream.set_nonblocking(false).unwrap();
            let mut byte = [0u8];
            stream.read_exact(&mut byte).expect("the byte sent");
            Some(byte[0])
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("accept: {e}"),
    }
}

/// Unix sockets outside the run, for the unix socket programs to keep the
/// run from: a granted socket, a stand-in for `/var/run/docker.sock`, a
/// datagram socket, a granted tree of sockets and a sibling of it.
struct Sockets {
    granted: PathBuf,
    granted_l: UnixListener,
    docker: PathBuf,
    docker_l: UnixListener,
    dgram: PathBuf,
    dgram_s: UnixDatagram,
    tree: PathBuf,
    tree_a: (PathBuf, UnixListener),
    tree_b: (PathBuf, UnixListener),
    sibling: (PathBuf, UnixListener),
}

impl Sockets {
    fn new(root: &Path) -> Self {
        let dir = |name: &str| {
            let d = root.join(name);
            fs::create_dir_all(&d).unwrap();
            d
        };
        let listen = |path: PathBuf| {
            let l = UnixListener::bind(&path).unwrap();
            (path, l)
        };
        let (granted, granted_l) = listen(dir("socks").join("granted.sock"));
        let (docker, docker_l) = listen(dir("run").join("docker.sock"));
        let dgram = dir("run").join("dgram.sock");
        let dgram_s = UnixDatagram::bind(&dgram).unwrap();
        dgram_s.set_nonblocking(true).unwrap();
        let tree = dir("tree");
        Sockets {
            granted,
            granted_l,
            docker,
            docker_l,
            dgram,
            dgram_s,
            tree_a: listen(tree.join("a.sock")),
            tree_b: listen(dir("tree/sub").join("b.sock")),
            // Its path starts with the tree's path, but it is not below it.
            sibling: listen(dir("tree2").join("c.sock")),
            tree,
        }
    }

    /// Nothing reached any socket the run may not reach.
    #[track_caller]
    fn assert_untouched(&self) {
        assert_eq!(received(&self.docker_l), None, "docker.sock was reached");
        assert_eq!(received(&self.sibling.1), None, "tree2/c.sock was reached");
        let mut buf = [0u8; 8];
        assert_eq!(
            self.dgram_s.recv(&mut buf).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock),
            "a datagram reached dgram.sock"
        );
    }
}

/// Pathname unix sockets: the run connects only to the sockets its policy
/// names, by their plain absolute path; every other spelling is refused
/// with EPERM before the kernel resolves it, and the listener never sees a
/// connection or a byte. Abstract sockets are Landlock's: one bound outside
/// the run is out of the run's scope, one the run binds itself works.
#[test]
fn unix_sockets_outside_the_envelope_are_refused() {
    root_or_return!();
    let w = World::new();
    let s = Sockets::new(&w.root);
    let mut policy = w.policy();
    policy
        .allow_unix_connect(&s.granted, FileScope::File)
        .unwrap();
    policy.allow_unix_connect(&s.tree, FileScope::Tree).unwrap();
    let probe = |args: &[&str]| run_ebpf(&policy, args);
    let path = |p: &Path| p.to_str().unwrap().to_owned();

    // The granted socket, and the sockets below the granted tree: connected,
    // and the byte arrives.
    for (sock, listener) in [
        (&s.granted, &s.granted_l),
        (&s.tree_a.0, &s.tree_a.1),
        (&s.tree_b.0, &s.tree_b.1),
    ] {
        let r = probe(&["unix-connect", &path(sock)]);
        assert_eq!(r.status.code(), Some(0), "{}: {r:?}", sock.display());
        assert_eq!(received(listener), Some(b'x'), "{}", sock.display());
    }

    // Refused with EPERM, whether the name leads to a socket outside the
    // envelope or, unnormalized, to the granted one. Each is reported as
    // the caller named it.
    let socks = path(s.granted.parent().unwrap());
    let run = path(s.docker.parent().unwrap());
    let link = path(&w.write.join("docker-link.sock"));
    let proc_root = |p: &Path| format!("/proc/self/root{}", p.display());
    let refused: Vec<(Vec<String>, String)> = [
        (
            vec!["unix-connect".into(), path(&s.docker)],
            path(&s.docker),
        ),
        (
            vec!["unix-symlink-connect".into(), path(&s.docker), link.clone()],
            link.clone(),
        ),
        (
            vec!["unix-connect-in".into(), run.clone(), "docker.sock".into()],
            "docker.sock".into(),
        ),
        (
            vec![
                "unix-connect-in".into(),
                socks.clone(),
                "granted.sock".into(),
            ],
            "granted.sock".into(),
        ),
        (
            vec!["unix-connect".into(), proc_root(&s.docker)],
            proc_root(&s.docker),
        ),
        (
            vec!["unix-connect".into(), proc_root(&s.granted)],
            proc_root(&s.granted),
        ),
        (
            vec!["unix-connect".into(), format!("{socks}//granted.sock")],
            format!("{socks}//granted.sock"),
        ),
        (
            vec!["unix-connect".into(), format!("{socks}/./granted.sock")],
            format!("{socks}/./granted.sock"),
        ),
        (
            vec![
                "unix-connect".into(),
                format!("{run}/../socks/granted.sock"),
            ],
            format!("{run}/../socks/granted.sock"),
        ),
        (
            vec!["unix-connect".into(), format!("{socks}/../run/docker.sock")],
            format!("{socks}/../run/docker.sock"),
        ),
        (
            vec!["unix-connect".into(), path(&s.sibling.0)],
            path(&s.sibling.0),
        ),
    ]
    .into_iter()
    .collect();
    for (args, named) in &refused {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = probe(&args);
        assert_eq!(r.refused_errno(), Some(EPERM), "{args:?}: {r:?}");
        assert_eq!(
            r.refused_unix(),
            [(NetOp::Connect, named.clone())],
            "{args:?}: {r:?}"
        );
        assert_eq!(
            received(&s.granted_l),
            None,
            "{args:?} reached the granted socket"
        );
        s.assert_untouched();
    }
    assert!(
        fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()),
        "the run made its symlink (and was refused the connect)"
    );

    // A datagram sent by name to a socket outside the envelope.
    let r = probe(&["unix-sendto", &path(&s.dgram)]);
    assert_eq!(r.refused_errno(), Some(EPERM), "{r:?}");
    assert_eq!(
        r.refused_unix(),
        [(NetOp::Sendmsg, path(&s.dgram))],
        "{r:?}"
    );
    s.assert_untouched();

    // An abstract socket bound outside the run: Landlock's scope refuses
    // the connect (EPERM); the unix socket programs leave abstract names
    // alone (no event).
    let name = format!("warden-escape-{}", std::process::id());
    let outside = UnixListener::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap(),
    )
    .unwrap();
    let r = probe(&["unix-connect-abstract", &name]);
    assert_eq!(r.refused_errno(), Some(EPERM), "{r:?}");
    assert!(r.refused_unix().is_empty(), "{r:?}");
    assert_eq!(received(&outside), None, "the abstract socket was reached");
    // Landlock is the layer that refuses it: without Landlock the same
    // connect goes through (and the eBPF layers say nothing).
    let r = run_with(
        &policy,
        Some(Reports::Processes),
        &[Layer::Landlock],
        &["unix-connect-abstract", &name],
    );
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert_eq!(received(&outside), Some(b'x'));
    // One the run binds itself is in its scope.
    let r = probe(&["unix-abstract-self", &format!("{name}-own")]);
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert!(r.out.starts_with("allowed received 1 byte"), "{r:?}");
}

/// Without anyone reading events (`warden exec` without `--events`: no
/// ring), the refusals of the exec check and the unix socket programs are
/// still counted.
#[test]
fn refusals_are_counted_when_nobody_reads_events() {
    root_or_return!();
    let w = World::new();
    let s = Sockets::new(&w.root);
    let mark = Fixture::s(&w.mark);
    let mut policy = w.policy();
    policy.allow_exec_args(&w.mark, vec!["ok".into()]).unwrap();
    policy
        .allow_unix_connect(&s.granted, FileScope::File)
        .unwrap();
    let probe = |args: &[&str]| run_with(&policy, Some(Reports::Nothing), &[], args);

    let r = probe(&["exec", mark, "ok"]);
    assert_eq!((r.status.code(), r.refusals), (Some(0), 0), "{r:?}");
    assert!(w.take_marker());
    let r = probe(&["exec", mark, "not-ok"]);
    assert!(r.killed(), "{r:?}");
    assert!(!w.take_marker());
    assert_eq!(r.refusals, 1, "{r:?}");

    let r = probe(&["unix-connect", Fixture::s(&s.granted)]);
    assert_eq!((r.status.code(), r.refusals), (Some(0), 0), "{r:?}");
    assert_eq!(received(&s.granted_l), Some(b'x'));
    let r = probe(&["unix-connect", Fixture::s(&s.docker)]);
    assert_eq!(r.refused_errno(), Some(EPERM), "{r:?}");
    assert_eq!(r.refusals, 1, "{r:?}");
    let r = probe(&["unix-sendto", Fixture::s(&s.dgram)]);
    assert_eq!(r.refused_errno(), Some(EPERM), "{r:?}");
    assert_eq!(r.refusals, 1, "{r:?}");
    s.assert_untouched();
}

// ───────────────────────── metadata changes ─────────────────────────

const FS_NODUMP_FL: i32 = 0x40;
const FS_XFLAG_NODUMP: &str = "128";
const FS_IOC_GETFLAGS: u64 = 0x8008_6601;
const FS_IOC_GETVERSION: u64 = 0x8008_7601;

/// Everything a metadata change could alter, read as root. `ctime` moves
/// with any change of the inode, so an unchanged `ctime` means nothing
/// changed. The inode flags and generation are `None` where the file
/// system has no `ioctl` for them (tmpfs has no `FS_IOC_GETVERSION`).
#[derive(Debug, PartialEq, Eq)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    ctime: (i64, i64),
    xattrs: Vec<(String, Vec<u8>)>,
    flags: Option<i32>,
    version: Option<i64>,
}

fn cpath(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    let c = cpath(p);
    let mut names = vec![0u8; 4096];
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(
        n >= 0,
        "listxattr {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
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

/// The value an `ioctl` reads, or `None` when the file system has no such
/// `ioctl` (`ENOTTY`, `EOPNOTSUPP`); any other failure fails the test.
fn ioctl_get(p: &Path, cmd: u64) -> Option<i64> {
    let f = fs::File::open(p).unwrap();
    let mut v: i64 = 0;
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&f), cmd as _, &mut v) };
    if rc == 0 {
        return Some(v);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOTTY | libc::EOPNOTSUPP) => None,
        _ => panic!("ioctl {cmd:#x} on {}: {e}", p.display()),
    }
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
            ioctl_get(p, FS_IOC_GETFLAGS).map(|f| f as i32)
        } else {
            None
        },
        version: if regular {
            ioctl_get(p, FS_IOC_GETVERSION).map(|v| v as u32 as i64)
        } else {
            None
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
        0,
        "user.keep on {} (the metadata tests need user attributes): {}",
        path.display(),
        std::io::Error::last_os_error()
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

/// The changes a test may skip, each needing more than Linux 6.7 and a file
/// system with `user.*` attributes: a newer syscall, an `ioctl` the file
/// system may lack, `/dev/fd`. Every other change of [`CHANGES`] (chmod,
/// chown, the times, the attributes by path, link and descriptor) is
/// checked everywhere: finding one of them missing fails the test, so a
/// skip can never leave a test proving nothing.
const OPTIONAL: &[&str] = &[
    // Linux 6.13.
    "setxattrat",
    "removexattrat",
    // Linux 6.17.
    "file_setattr",
    // FS_IOC_{GET,SET}FLAGS, FS_IOC_FS{GET,SET}XATTR: ext4, xfs, btrfs,
    // tmpfs..., not every file system.
    "setflags",
    "fssetxattr",
    // FS_IOC_{GET,SET}VERSION: ext4, not tmpfs.
    "setversion",
    // A symlink to /proc/self/fd that udev or systemd makes.
    "chmod-devfd",
];

/// What the running kernel and the file system of a fixture cannot do at
/// all: the changes a test skips, each with the reason.
struct Support {
    missing: Vec<(&'static str, String)>,
}

impl Support {
    fn has(&self, op: &str) -> bool {
        !self.missing.iter().any(|(o, _)| *o == op)
    }
}

/// The running kernel's release (`uname -r`).
fn kernel_release() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::uname(&mut u) }, 0);
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The type of the file system holding `p`, for a message.
fn fs_type(p: &Path) -> String {
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statfs(cpath(p).as_ptr(), &mut st) }, 0);
    let magic = st.f_type as u32;
    let name = match magic {
        0x0102_1994 => "tmpfs",
        0xef53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683e => "btrfs",
        0x794c_7630 => "overlayfs",
        0x0102_1997 => "9p",
        _ => "file system",
    };
    format!("{name}, f_type {magic:#x}")
}

impl Fixture {
    /// Makes every change of [`CHANGES`] and `chmod-devfd` once, unconfined
    /// (no run, no supervisor), on scratch files beside the fixture's
    /// directories, on their file system: `ENOSYS` means the kernel has no
    /// such syscall, `ENOTTY` or `EOPNOTSUPP` that the file system has no
    /// such `ioctl` or attribute. Says on stderr which changes `test` skips
    /// and why; fails when a change outside [`OPTIONAL`] is missing, or any
    /// change fails for another reason.
    fn support(&self, test: &str) -> Support {
        use std::io::Write;
        let dir = self.read_dir.parent().unwrap().join("support");
        fs::create_dir(&dir).unwrap();
        let tries: Vec<(&'static str, PathBuf, &str)> = CHANGES
            .iter()
            .chain(&[("chmod-devfd", "600")])
            .map(|(op, v)| {
                let p = dir.join(op);
                subject(&p, 0, 0);
                (*op, p, *v)
            })
            .collect();
        let mut cmd = std::process::Command::new(PROBE);
        cmd.arg("metas");
        for (op, p, v) in &tries {
            cmd.arg(op).arg(p).arg(v);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the probe, unconfined: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answers = parse_metas(&stdout);
        assert_eq!(answers.len(), tries.len(), "{stdout}");
        let mut missing = Vec::new();
        for ((op, _, _), (_, answer)) in tries.iter().zip(answers) {
            let Some(e) = answer else { continue };
            let error = std::io::Error::from_raw_os_error(e);
            let why = match e {
                libc::ENOSYS => format!("Linux {} has no such syscall ({error})", kernel_release()),
                libc::ENOTTY | libc::EOPNOTSUPP => format!(
                    "the file system of {} ({}) cannot ({error})",
                    dir.display(),
                    fs_type(&dir)
                ),
                libc::ENOENT if *op == "chmod-devfd" => "this system has no /dev/fd".to_owned(),
                _ => panic!("{op} fails even unconfined, on {}: {error}", dir.display()),
            };
            assert!(
                OPTIONAL.contains(op),
                "{op} cannot be checked here: {why}; the metadata tests need it everywhere"
            );
            missing.push((*op, why));
        }
        // Straight to the descriptor, past the test harness's capture: a
        // skip shows in every run's output.
        let mut err = std::io::stderr().lock();
        for (op, why) in &missing {
            let _ = writeln!(err, "{test}: skipping {op}: {why}");
        }
        Support { missing }
    }
}

#[test]
fn metadata_changes_outside_the_write_envelope_are_refused_and_change_nothing() {
    root_or_return!();
    let f = Fixture::new();
    let support =
        f.support("metadata_changes_outside_the_write_envelope_are_refused_and_change_nothing");
    // A symlink from the writable directory into the read-only one, and a
    // path through `..`.
    let (target, link) = f.read_only_subject();
    let dotdot = f.write_dir.join("../read/subject");
    let before = meta_of(&target);
    let mut changes: Vec<(&str, &Path, &str)> = CHANGES
        .iter()
        .filter(|(op, _)| support.has(op))
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
        if !support.has(op) {
            continue;
        }
        changes.push((op, link.as_path(), v));
        changes.push((op, dotdot.as_path(), v));
    }
    // A magic link reached through a symlink (/dev/fd -> /proc/self/fd).
    let devfd = support.has("chmod-devfd");
    if devfd {
        changes.push(("chmod-devfd", target.as_path(), "600"));
    }
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
    let (through_devfd, resolved): (Vec<_>, Vec<_>) = m
        .refused
        .iter()
        .partition(|r| r.path.starts_with("/dev/fd/"));
    assert!(resolved.iter().all(|r| Path::new(&r.path) == real), "{m:?}");
    // The magic link reached through /dev/fd is not followed at all.
    assert_eq!(through_devfd.len(), usize::from(devfd), "{m:?}");
    assert!(
        through_devfd
            .iter()
            .all(|r| r.reason.contains("/proc link")),
        "{m:?}"
    );
    for (op, name) in [
        ("chmod", "chmod"),
        ("fchmodat2", "fchmodat2"),
        ("setxattrat", "setxattrat"),
        ("setflags", "ioctl(FS_IOC_SETFLAGS)"),
        ("file_setattr", "file_setattr"),
    ] {
        if support.has(op) {
            assert!(m.refused.iter().any(|r| r.syscall == name), "{name}: {m:?}");
        }
    }
    assert!(outcome.layers.metadata.is_some());
}

#[test]
fn metadata_changes_inside_the_write_envelope_are_made() {
    root_or_return!();
    let f = Fixture::new();
    let support = f.support("metadata_changes_inside_the_write_envelope_are_made");
    let supported: Vec<(&str, &str)> = CHANGES
        .iter()
        .copied()
        .filter(|(op, _)| support.has(op))
        .collect();
    // One file per change, so each effect can be seen.
    let files: Vec<PathBuf> = supported
        .iter()
        .map(|(op, _)| {
            let p = f.write_dir.join(op);
            subject(&p, 0, 0);
            p
        })
        .collect();
    let changes: Vec<(&str, &Path, &str)> = supported
        .iter()
        .zip(&files)
        .map(|((op, v), p)| (*op, p.as_path(), *v))
        .collect();
    let (outcome, answers) = f.metas(&[], &changes);
    for ((op, _), answer) in supported.iter().zip(&answers) {
        assert_eq!(answer.1, None, "{op} was refused");
    }
    assert_eq!(outcome.metadata.refused_total, 0);
    for ((op, _), path) in supported.iter().zip(&files) {
        let m = meta_of(path);
        let expected = match *op {
            o if o.contains("chmod") => m.mode == 0o600,
            o if o.contains("chown") => (m.uid, m.gid) == (65534, 65534),
            o if o.contains("utime") => m.mtime == 1_234_567_890,
            o if o.contains("setxattr") && o != "fssetxattr" => {
                m.xattrs.contains(&("user.x".into(), b"1".to_vec()))
            }
            o if o.contains("removexattr") => m.xattrs.is_empty(),
            "setflags" | "fssetxattr" | "file_setattr" => {
                m.flags.is_some_and(|f| f & FS_NODUMP_FL != 0)
            }
            "setversion" => m.version == Some(7),
            other => panic!("no expectation for {other}"),
        };
        assert!(expected, "{op} did not take effect: {m:?}");
    }
}

#[test]
fn a_symlink_in_the_writable_directory_is_its_own_but_its_target_is_not() {
    root_or_return!();
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
    root_or_return!();
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
    root_or_return!();
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
    root_or_return!();
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
