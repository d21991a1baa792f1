//! The BPF LSM layer's own tests, run inside the guest as root: load and
//! attach the programs for a run's cgroup with a small envelope, then have a
//! child process (this binary again) join the cgroup and try each operation.
//! The child exits with 0 when the operation succeeded and with its errno
//! when the kernel refused it, so a refusal by a kill would show as a signal.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use enforcer::NetRule;
use enforcer::ebpf::lsm::{self, Support};
use enforcer::ebpf::{Disposition, EbpfLayers, Event, NetPolicy, Reports, RunRules};
use enforcer::lsm::{
    ACCESS_CREATE, ACCESS_EXEC, ACCESS_READ, ACCESS_REMOVE, ACCESS_WRITE, FileGrant, LsmRules,
};

/// Set in the environment of the child that performs one operation.
pub const CHILD_ENV: &str = "WARDEN_GUEST_LSM_CHILD";

const EACCES: i32 = 13;
const EPERM: i32 = 1;
/// The child's exit code when an operation failed in an unexpected way.
const CHILD_BROKEN: i32 = 200;

pub fn layer_is_available() -> Result<(), String> {
    match lsm::probe() {
        Support::Available => Ok(()),
        Support::Unavailable(why) => Err(format!("not in use: {why}")),
    }
}

/// A cgroup for one test run, removed on drop.
struct RunCgroup {
    dir: PathBuf,
}

impl RunCgroup {
    fn new(name: &str) -> Result<RunCgroup, String> {
        // Runs sit at one depth, under the runs' cgroup.
        let dir = enforcer::cgroup::run_parent()
            .map_err(|e| e.to_string())?
            .join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        Ok(RunCgroup { dir })
    }

    fn procs(&self) -> String {
        self.dir.join("cgroup.procs").display().to_string()
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// The envelope of the tests, on a scratch tree under /tmp.
struct Fixture {
    base: PathBuf,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let base = PathBuf::from(format!("/tmp/warden-lsm-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        for d in ["data", "out"] {
            fs::create_dir_all(base.join(d)).map_err(|e| e.to_string())?;
        }
        for (f, text) in [
            ("data/a.txt", "a"),
            ("data/b.txt", "b"),
            ("secret.txt", "secret"),
            ("out/old.tmp", "old"),
            ("out/gone.tmp", "gone"),
        ] {
            fs::write(base.join(f), text).map_err(|e| e.to_string())?;
        }
        Ok(Fixture { base })
    }

    fn p(&self, rel: &str) -> String {
        self.base.join(rel).display().to_string()
    }

    fn grants(&self) -> Result<Vec<FileGrant>, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let g = vec![
            // What every program needs to start (the spec's baseline).
            FileGrant::new("/usr/lib/**", ACCESS_READ),
            FileGrant::new("/lib/**", ACCESS_READ),
            FileGrant::new("/lib64/**", ACCESS_READ),
            FileGrant::new("/etc/ld.so.cache", ACCESS_READ),
            FileGrant::new("/proc/**", ACCESS_READ),
            FileGrant::new("/dev/null", ACCESS_READ | ACCESS_WRITE),
            // The plan: read one tree, write *.tmp in one directory, exec two programs.
            FileGrant::new(format!("{}/data/**", self.base.display()), ACCESS_READ),
            FileGrant::new(
                format!("{}/out/*.tmp", self.base.display()),
                ACCESS_READ | ACCESS_WRITE | ACCESS_CREATE | ACCESS_REMOVE,
            ),
            FileGrant::new("/usr/bin/true", ACCESS_EXEC),
            FileGrant::new(
                format!("{}/out/script.tmp", self.base.display()),
                ACCESS_EXEC,
            ),
            FileGrant::new(exe.display().to_string(), ACCESS_EXEC | ACCESS_READ),
        ];
        // The shared-library loader (under /usr/lib) is readable, as every
        // dynamic program needs, but not executable on its own.
        Ok(g)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// Runs one operation in a child that first joins the run's cgroup (or not,
/// with `procs` = "-"); returns the child's exit code (0 or the errno).
fn child(procs: &str, op: &[&str]) -> Result<i32, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(CHILD_ENV, "1")
        .arg(procs)
        .args(op)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawn the child: {e}"))?;
    if let Some(sig) = out.status.signal() {
        return Err(format!(
            "{op:?} was killed by signal {sig} (refusals must be errors, not kills)"
        ));
    }
    let code = out.status.code().unwrap_or(CHILD_BROKEN);
    if code == CHILD_BROKEN {
        return Err(format!(
            "{op:?}: the child failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(code)
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(CHILD_BROKEN)
}

/// The child: join the cgroup, perform the operation, exit with the errno.
pub fn child_main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match child_op(&args) {
        Ok(()) => 0,
        Err(code) => code,
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn child_op(args: &[String]) -> Result<(), i32> {
    let broken = |what: &str| {
        eprintln!("child: {what}");
        CHILD_BROKEN
    };
    let [procs, op, rest @ ..] = args else {
        return Err(broken("usage: PROCS OP ARGS"));
    };
    // exec-memfd reads its program before it joins the run.
    let memfd_source = match (op.as_str(), rest.first()) {
        ("exec-memfd", Some(src)) => {
            Some(fs::read(src).map_err(|e| broken(&format!("read {src}: {e}")))?)
        }
        _ => None,
    };
    if procs != "-" {
        fs::write(procs, "0").map_err(|e| broken(&format!("join the cgroup: {e}")))?;
    }
    let arg = |i: usize| {
        rest.get(i)
            .map(String::as_str)
            .ok_or_else(|| broken("missing argument"))
    };
    match op.as_str() {
        "read" => {
            let mut s = String::new();
            fs::File::open(arg(0)?)
                .and_then(|mut f| f.read_to_string(&mut s))
                .map_err(|e| errno(&e))?;
        }
        "write" => {
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(arg(0)?)
                .and_then(|mut f| f.write_all(b"x"))
                .map_err(|e| errno(&e))?;
        }
        "unlink" => fs::remove_file(arg(0)?).map_err(|e| errno(&e))?,
        "mkdir" => fs::create_dir(arg(0)?).map_err(|e| errno(&e))?,
        "rename" => fs::rename(arg(0)?, arg(1)?).map_err(|e| errno(&e))?,
        "symlink" => std::os::unix::fs::symlink(arg(0)?, arg(1)?).map_err(|e| errno(&e))?,
        "link" => fs::hard_link(arg(0)?, arg(1)?).map_err(|e| errno(&e))?,
        "exec" => {
            let e = Command::new(arg(0)?).args(&rest[1..]).exec();
            return Err(errno(&e));
        }
        "connect" => {
            let ip: std::net::IpAddr = arg(0)?.parse().map_err(|_| broken("bad address"))?;
            let port: u16 = arg(1)?.parse().map_err(|_| broken("bad port"))?;
            std::net::TcpStream::connect((ip, port)).map_err(|e| errno(&e))?;
        }
        "exec-memfd" => {
            let bytes = memfd_source.ok_or_else(|| broken("missing program"))?;
            // SAFETY: memfd_create with a NUL-terminated name.
            let fd = unsafe { libc::memfd_create(c"warden-memfd".as_ptr(), 0) };
            if fd < 0 {
                return Err(broken("memfd_create failed"));
            }
            // SAFETY: writes `bytes` to the descriptor just created.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if n != bytes.len() as isize {
                return Err(broken("write to the memfd failed"));
            }
            let argv = [c"memfd".as_ptr(), std::ptr::null()];
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            // SAFETY: execveat on our descriptor with NULL-terminated arrays.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    fd,
                    c"".as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            };
            return Err(errno(&std::io::Error::last_os_error()));
        }
        "kill" => {
            let pid: i32 = arg(0)?.parse().map_err(|_| broken("bad pid"))?;
            let sig: i32 = arg(1)?.parse().map_err(|_| broken("bad signal"))?;
            // SAFETY: kill(2) with plain integers.
            if unsafe { libc::kill(pid, sig) } != 0 {
                return Err(errno(&std::io::Error::last_os_error()));
            }
        }
        "ptrace" => {
            let pid: i32 = arg(0)?.parse().map_err(|_| broken("bad pid"))?;
            // SAFETY: PTRACE_ATTACH takes no pointers.
            let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0) };
            if r != 0 {
                return Err(errno(&std::io::Error::last_os_error()));
            }
        }
        "bench" => {
            let path = arg(0)?;
            let n: u32 = arg(1)?.parse().map_err(|_| broken("bad count"))?;
            let start = Instant::now();
            for _ in 0..n {
                drop(fs::File::open(path).map_err(|e| errno(&e))?);
            }
            println!("{}", start.elapsed().as_nanos());
        }
        other => return Err(broken(&format!("unknown op {other}"))),
    }
    Ok(())
}

struct Outcomes {
    failures: Vec<String>,
}

impl Outcomes {
    fn expect(&mut self, what: &str, got: Result<i32, String>, want: i32) {
        match got {
            Ok(code) if code == want => println!("    ok: {what}"),
            Ok(code) => {
                self.failures
                    .push(format!("{what}: got {}, want {}", name(code), name(want)))
            }
            Err(e) => self.failures.push(format!("{what}: {e}")),
        }
    }

    fn check(&mut self, what: &str, ok: bool) {
        if ok {
            println!("    ok: {what}");
        } else {
            self.failures.push(what.to_string());
        }
    }
}

fn name(code: i32) -> String {
    match code {
        0 => "success".into(),
        EACCES => "EACCES".into(),
        EPERM => "EPERM".into(),
        n => format!("errno {n}"),
    }
}

/// Loads the eBPF layers for the run's cgroup with a network envelope of one
/// loopback TCP port, attaches them, and then the LSM layer unless `lsm` is
/// false.
fn attached(cg: &RunCgroup, fx: &Fixture, port: u16, lsm: bool) -> Result<EbpfLayers, String> {
    let mut rules = RunRules {
        net: NetPolicy::allow([NetRule::tcp_connect(
            "127.0.0.1/32".parse().map_err(|e| format!("{e}"))?,
            port,
        )]),
        ..RunRules::default()
    };
    rules.exec.trees = true;
    let mut layers = EbpfLayers::load(rules, Reports::Refusals).map_err(|e| e.to_string())?;
    layers.attach(&cg.dir).map_err(|e| e.to_string())?;
    if lsm {
        let rules = LsmRules::from_grants(&fx.grants()?).map_err(|e| enforcer::lsm::render(&e))?;
        layers
            .attach_lsm(&rules)
            .map_err(|e| enforcer::lsm::render(&e))?;
    }
    Ok(layers)
}

pub fn envelope_cases() -> Result<(), String> {
    let fx = Fixture::new()?;
    let cg = RunCgroup::new("warden-lsm-cases")?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let other = listener_port_other(port);
    let mut layers = attached(&cg, &fx, port, true)?;
    let mut events = layers.events().map_err(|e| e.to_string())?;
    let procs = cg.procs();
    let run = |op: &[&str]| child(&procs, op);
    let mut o = Outcomes {
        failures: Vec::new(),
    };
    let p = |rel: &str| fx.p(rel);

    // Files: read one tree, nothing else.
    o.expect("read inside the tree", run(&["read", &p("data/a.txt")]), 0);
    o.expect("read outside it", run(&["read", &p("secret.txt")]), EACCES);
    o.expect(
        "read outside through ..",
        run(&["read", &p("data/../secret.txt")]),
        EACCES,
    );
    o.expect(
        "write inside a read-only tree",
        run(&["write", &p("data/a.txt")]),
        EACCES,
    );
    // Suffix shape: *.tmp allowed, another suffix refused, in the same directory.
    o.expect("create out/new.tmp", run(&["write", &p("out/new.tmp")]), 0);
    o.expect(
        "create out/new.sh",
        run(&["write", &p("out/new.sh")]),
        EACCES,
    );
    o.check(
        "out/new.sh was refused before it was created",
        !Path::new(&p("out/new.sh")).exists(),
    );
    o.expect(
        "truncate out/old.tmp",
        run(&["write", &p("out/old.tmp")]),
        0,
    );
    o.expect("mkdir out/d.tmp", run(&["mkdir", &p("out/d.tmp")]), 0);
    o.expect(
        "create out/d.tmp/x.tmp (not directly in out/)",
        run(&["write", &p("out/d.tmp/x.tmp")]),
        EACCES,
    );
    o.expect("mkdir out/d.sh", run(&["mkdir", &p("out/d.sh")]), EACCES);
    o.expect("mkdir data/d", run(&["mkdir", &p("data/d")]), EACCES);
    // Remove and rename.
    o.expect(
        "unlink out/gone.tmp",
        run(&["unlink", &p("out/gone.tmp")]),
        0,
    );
    o.expect(
        "unlink data/b.txt",
        run(&["unlink", &p("data/b.txt")]),
        EACCES,
    );
    o.check(
        "data/b.txt is still there",
        Path::new(&p("data/b.txt")).exists(),
    );
    o.expect(
        "rename out/new.tmp to out/moved.tmp",
        run(&["rename", &p("out/new.tmp"), &p("out/moved.tmp")]),
        0,
    );
    o.expect(
        "rename out/moved.tmp to out/moved.sh",
        run(&["rename", &p("out/moved.tmp"), &p("out/moved.sh")]),
        EACCES,
    );
    o.expect(
        "rename data/a.txt into out/a.tmp",
        run(&["rename", &p("data/a.txt"), &p("out/a.tmp")]),
        EACCES,
    );
    // Links cannot give a second path to a file outside the envelope.
    o.expect(
        "symlink out/l.tmp -> secret.txt",
        run(&["symlink", &p("secret.txt"), &p("out/l.tmp")]),
        0,
    );
    o.expect(
        "read secret.txt through the symlink",
        run(&["read", &p("out/l.tmp")]),
        EACCES,
    );
    o.expect(
        "hardlink secret.txt as out/h.tmp",
        run(&["link", &p("secret.txt"), &p("out/h.tmp")]),
        EACCES,
    );
    o.expect(
        "read /proc/self/root/ + secret",
        run(&["read", &format!("/proc/self/root{}", p("secret.txt"))]),
        EACCES,
    );
    // Exec by path, refused before the program starts (an error, not a kill).
    o.expect("exec /usr/bin/true", run(&["exec", "/usr/bin/true"]), 0);
    o.expect("exec /usr/bin/id", run(&["exec", "/usr/bin/id"]), EACCES);
    let ld = fs::canonicalize("/lib64/ld-linux-x86-64.so.2").map_err(|e| e.to_string())?;
    o.expect(
        "exec /usr/bin/id through the loader",
        run(&["exec", &ld.display().to_string(), "/usr/bin/id"]),
        EACCES,
    );
    fs::write(p("out/script.tmp"), "#!/usr/bin/id\n").map_err(|e| e.to_string())?;
    fs::set_permissions(
        p("out/script.tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| e.to_string())?;
    o.expect(
        "exec /usr/bin/true from a memfd (execveat)",
        run(&["exec-memfd", "/usr/bin/true"]),
        EACCES,
    );
    o.expect(
        "exec a script whose #! is forbidden",
        run(&["exec", &p("out/script.tmp")]),
        EACCES,
    );
    // Signals and ptrace: nothing outside the run.
    let mut outsider = Command::new("/usr/bin/sleep")
        .arg("60")
        .spawn()
        .map_err(|e| format!("spawn sleep: {e}"))?;
    let pid = outsider.id().to_string();
    o.expect(
        "kill -TERM a process outside the run",
        run(&["kill", &pid, "15"]),
        EPERM,
    );
    o.expect(
        "kill -0 (existence) outside the run",
        run(&["kill", &pid, "0"]),
        0,
    );
    o.expect(
        "ptrace attach outside the run",
        run(&["ptrace", &pid, "0"]),
        EPERM,
    );
    let _ = outsider.kill();
    let _ = outsider.wait();
    // Network: one loopback port, by address and port, v4 and mapped v6.
    let (port_s, other_s) = (port.to_string(), other.to_string());
    o.expect(
        "connect to the allowed port",
        run(&["connect", "127.0.0.1", &port_s]),
        0,
    );
    o.expect(
        "connect to another port",
        run(&["connect", "127.0.0.1", &other_s]),
        EPERM,
    );
    o.expect(
        "connect to another loopback address",
        run(&["connect", "127.0.0.2", &port_s]),
        EPERM,
    );
    o.expect(
        "connect to ::ffff:127.0.0.1 on another port",
        run(&["connect", "::ffff:127.0.0.1", &other_s]),
        EPERM,
    );
    o.expect(
        "connect to ::ffff:127.0.0.1 on the allowed port",
        run(&["connect", "::ffff:127.0.0.1", &port_s]),
        0,
    );
    o.expect("connect to ::1", run(&["connect", "::1", &port_s]), EPERM);
    drop(listener);
    // Processes outside the run are not affected.
    o.expect(
        "outside the run, read secret.txt",
        child("-", &["read", &p("secret.txt")]),
        0,
    );
    o.expect(
        "outside the run, exec /usr/bin/id",
        child("-", &["exec", "/usr/bin/id"]),
        0,
    );

    // Every refusal is an event of the run.
    let seen: Vec<Event> = events.drain().collect();
    let secret = p("secret.txt");
    o.check(
        "the refused open of secret.txt is an event",
        seen.iter().any(|e| matches!(e, Event::Lsm { op, target, verdict: Disposition::Refused, .. } if op == "open" && *target == secret)),
    );
    o.check(
        "the refused exec of /usr/bin/id is an event",
        seen.iter().any(|e| matches!(e, Event::Lsm { op, target, .. } if op == "exec" && target == "/usr/bin/id")),
    );
    o.check(
        "the refused signal is an event",
        seen.iter()
            .any(|e| matches!(e, Event::Lsm { op, .. } if op == "signal")),
    );
    drop(layers);

    if o.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("\n      {}", o.failures.join("\n      ")))
    }
}

/// A port other than `port` (nothing listens there).
fn listener_port_other(port: u16) -> u16 {
    if port == u16::MAX { port - 1 } else { port + 1 }
}

/// Open/close loop, interleaved rounds of three children: outside any run
/// (unconfined), in a run with the eBPF layers alone, and in a run with the
/// eBPF layers and the LSM layer (two loaded objects, two cgroups). Printed
/// as ratios of medians; TCG slows every side alike, and rounds are
/// interleaved because the guest shares the machine.
pub fn overhead() -> Result<(), String> {
    const N: &str = "20000";
    const ROUNDS: usize = 7;
    let fx = Fixture::new()?;
    let target = fx.p("data/a.txt");
    let once = |procs: &str| -> Result<f64, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let out = Command::new(exe)
            .env(CHILD_ENV, "1")
            .args([procs, "bench", &target, N])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("bench child failed: {:?}", out.status));
        }
        let ns: f64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("bench output: {e}"))?;
        Ok(ns / 20000.0)
    };
    let plain = RunCgroup::new("warden-lsm-bench-ebpf")?;
    let full = RunCgroup::new("warden-lsm-bench-lsm")?;
    let _ebpf_only = attached(&plain, &fx, 1, false)?;
    let _with_lsm = attached(&full, &fx, 1, true)?;
    let (mut none, mut ebpf, mut lsm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        none.push(once("-")?);
        ebpf.push(once(&plain.procs())?);
        lsm.push(once(&full.procs())?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (none, ebpf, lsm) = (median(&mut none), median(&mut ebpf), median(&mut lsm));
    println!(
        "    open/close per call (median of {ROUNDS}): unconfined {none:.0} ns, eBPF layers {ebpf:.0} ns, eBPF + LSM {lsm:.0} ns"
    );
    println!(
        "    ratio LSM layer (eBPF+LSM / eBPF) {:.2}x; confined / unconfined {:.2}x",
        lsm / ebpf,
        lsm / none
    );
    Ok(())
}

const PROBE: &str = env!("CARGO_BIN_EXE_warden-escape-probe");

/// `warden exec`'s path: the launcher with the eBPF layers and `bpf-lsm`
/// required. Where the layer loads (the guest) the run starts, the report
/// names `bpf-lsm`, and a suffix-shaped write plus an out-of-envelope read
/// behave as the envelope says; where it does not (this machine's host), the
/// run refuses to start and says why.
pub fn launcher_requires_bpf_lsm() -> Result<(), String> {
    use enforcer::{FileRights, FileScope, KernelPolicy, Layer, Run, RunError, RunOptions};
    let fx = Fixture::new()?;
    let mut policy = KernelPolicy::new();
    let e = |e: enforcer::PolicyError| e.to_string();
    for dir in ["/usr/lib", "/lib", "/lib64"] {
        policy
            .allow_path(dir, FileScope::Tree, FileRights::READ)
            .map_err(e)?;
    }
    policy
        .allow_path("/etc/ld.so.cache", FileScope::File, FileRights::READ)
        .map_err(e)?;
    policy
        .allow_path(fx.p("data"), FileScope::Tree, FileRights::READ)
        .map_err(e)?;
    policy.allow_exec(PROBE).map_err(e)?;
    let available = matches!(lsm::probe(), Support::Available);
    // As `warden exec` without `--events` (no event ring) and with it.
    let run_with = |reports: enforcer::ebpf::Reports,
                    args: &[&str]|
     -> Result<Option<i32>, RunError> {
        let layers = enforcer::ebpf::for_launcher_with(&policy, false, reports).map_err(|err| {
            RunError::RequiredLayerMissing {
                layer: "ebpf".into(),
                reason: err.to_string(),
            }
        })?;
        let options = RunOptions {
            quiet: true,
            require: [Layer::BpfLsm].into_iter().collect(),
            ..RunOptions::default()
        };
        let args: Vec<std::ffi::OsString> = args.iter().map(|a| a.into()).collect();
        let outcome = Run::new(&policy)
            .options(options)
            .stdout(enforcer::Output::Null)
            .stderr(enforcer::Output::Null)
            .with_layer(Box::new(layers.sock_addr))
            .with_layer(Box::new(layers.tracepoints))
            .with_layer(Box::new(layers.bpf_lsm))
            .spawn(PROBE, &args)?;
        if !outcome.layers.has(Layer::BpfLsm) {
            return Err(RunError::RequiredLayerMissing {
                layer: "bpf-lsm".into(),
                reason: "the run started without it".into(),
            });
        }
        Ok(outcome.status.code())
    };
    let run = |args: &[&str]| run_with(enforcer::ebpf::Reports::Nothing, args);
    let mut o = Outcomes {
        failures: Vec::new(),
    };
    if available {
        for (reports, how) in [
            (enforcer::ebpf::Reports::Nothing, "without events"),
            (enforcer::ebpf::Reports::Files, "with events"),
        ] {
            o.expect(
                &format!("launched with bpf-lsm {how}: read inside the tree"),
                run_with(reports, &["read", &fx.p("data/a.txt")])
                    .map(|c| c.unwrap_or(-1))
                    .map_err(|e| e.to_string()),
                0,
            );
            o.expect(
                &format!("launched with bpf-lsm {how}: read outside it (probe exit 10 = refused)"),
                run_with(reports, &["read", &fx.p("secret.txt")])
                    .map(|c| c.unwrap_or(-1))
                    .map_err(|e| e.to_string()),
                10,
            );
        }
    } else {
        match run(&["read", &fx.p("data/a.txt")]) {
            Err(RunError::RequiredLayerMissing { layer, reason }) if layer == "bpf-lsm" => {
                println!("    ok: --require bpf-lsm refuses to start here: {reason}")
            }
            other => o.failures.push(format!(
                "--require bpf-lsm where the layer does not load: {other:?}"
            )),
        }
    }
    if o.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("\n      {}", o.failures.join("\n      ")))
    }
}

/// The proven envelope, end to end: a token whose envelope writes
/// `out/*.tmp` under a spec that allows only `.tmp` files there is proven
/// for the `root+bpf-lsm` profile alone; here, where the layer loads,
/// `enforcer::proven::select` picks that profile and the launcher (with its
/// layers required, as `warden exec` does) lets a `.tmp` write through and
/// refuses a `.sh` write in the same directory with EACCES. On the host the
/// same token is refused before it starts (`warden/tests/exec.rs`).
pub fn proven_suffix_envelope() -> Result<(), String> {
    use enforcer::proven::{required_layers, select};
    use enforcer::{KernelPolicy, Layer, Run, RunOptions};
    use warden_core::shape::Profile;
    let fx = Fixture::new()?;
    let out = fx.p("out");
    let spec = format!(
        r#"spec "suffix" {{
  allow read under "/usr/lib/"
  allow read under "/lib/"
  allow read under "/lib64/"
  allow read "/etc/ld.so.cache"
  allow write under "{out}/" when path endswith ".tmp"
  deny write under "{out}/" when path endswith ".sh"
  allow exec "{PROBE}"
}}"#
    );
    // The verifier proves this envelope against this spec for the
    // `root+bpf-lsm` profile alone (`verifier::enforcement`'s tests assert
    // it for the same shapes); the enforcer links no solver, so the token
    // here records that proof as issuing would.
    let _ = spec;
    let tree =
        |d: &str| serde_json::json!({"access": "read", "target": {"shape": "tree", "dir": d}});
    let envelope: warden_core::envelope::Envelope = serde_json::from_value(serde_json::json!({
        "version": 1,
        "files": [
            tree("/usr/lib"), tree("/lib"), tree("/lib64"),
            {"access": "read", "target": {"shape": "exact", "path": "/etc/ld.so.cache"}},
            {"access": "write", "target": {"shape": "glob", "glob": format!("{out}/*.tmp")}}
        ],
        "exec": [{"program": {"shape": "exact", "path": PROBE}, "argv": null}],
        "connect": [], "listen": [], "calls": [], "params": [], "limits": [],
        "ordering": [], "baseline": []
    }))
    .map_err(|e| e.to_string())?;
    let mut claims: token::Claims = warden_core::claims::example();
    claims.envelope = envelope;
    claims.enforcement = Profile::ALL
        .into_iter()
        .map(|p| token::EnforcementProof {
            profile: p.name().to_owned(),
            digest: warden_core::claims::profile_digest(&claims.envelope, p),
            proven: p == Profile::RootBpfLsm,
            counterexample: None,
            alternatives: Vec::new(),
        })
        .collect();
    let selected = select(&claims, &[], |p| match (p, lsm::probe()) {
        (Profile::RootBpfLsm, Support::Unavailable(why)) => Err(why),
        _ => Ok(()),
    })
    .map_err(|e| e.to_string())?;
    if selected.profile != Profile::RootBpfLsm {
        return Err(format!("selected {}", selected.profile));
    }
    let layers = Layer::ALL.into_iter().collect();
    let policy =
        KernelPolicy::from_envelope(&claims.envelope, &layers).map_err(|e| e.to_string())?;
    let run = |args: &[&str]| -> Result<i32, String> {
        let l = enforcer::ebpf::for_launcher(&policy, false).map_err(|e| e.to_string())?;
        let options = RunOptions {
            quiet: true,
            require: required_layers(selected.profile),
            ..RunOptions::default()
        };
        let args: Vec<std::ffi::OsString> = args.iter().map(|a| a.into()).collect();
        let outcome = Run::new(&policy)
            .options(options)
            .stdout(enforcer::Output::Null)
            .stderr(enforcer::Output::Null)
            .with_layer(Box::new(l.sock_addr))
            .with_layer(Box::new(l.tracepoints))
            .with_layer(Box::new(l.bpf_lsm))
            .spawn(PROBE, &args)
            .map_err(|e| e.to_string())?;
        Ok(outcome.status.code().unwrap_or(-1))
    };
    let mut o = Outcomes {
        failures: Vec::new(),
    };
    o.expect(
        "proven root+bpf-lsm profile: write out/new.tmp",
        run(&["write", &fx.p("out/new.tmp")]),
        0,
    );
    o.expect(
        "proven root+bpf-lsm profile: write out/evil.sh (probe exit 10 = refused)",
        run(&["write", &fx.p("out/evil.sh")]),
        10,
    );
    if Path::new(&fx.p("out/evil.sh")).exists() {
        o.failures.push("out/evil.sh was created".into());
    }
    if o.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("\n      {}", o.failures.join("\n      ")))
    }
}
