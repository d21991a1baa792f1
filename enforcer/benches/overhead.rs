//! Overhead of the enforcer's layers, as `warden exec` applies them as root
//! with its default flags (Landlock + seccomp + the run's cgroup + the eBPF
//! layers, no event stream): the same open/close, TCP connect/close, unix
//! socket connect/close and fork/exec/wait loops run confined and
//! unconfined; an unconfined open/close loop with a confined run active on
//! the machine and without (what a run costs the rest of the host); and the
//! start-up of a confined `/bin/true` (the node's programs opened, the run's
//! entries written and its cgroup links made, cgroup created and removed,
//! Landlock and seccomp applied).
//!
//! `cargo bench -p enforcer --bench overhead` runs the criterion benches,
//! then prints every figure measured in one run: the confined / unconfined
//! ratio of each loop (median of alternating rounds), with a breakdown per
//! layer, the Landlock floor, the host tax, and the median start-up.
//! `cargo bench -p enforcer --bench overhead -- --ratios-only` skips
//! criterion (`--startup-only`: the start-up alone; `--loop unix`, given
//! once or more, only those loops' ratios; `--loop host-tax`: the host tax). The machine is shared: take
//! several runs. `--with-bpf-lsm` adds the BPF LSM programs to the confined
//! side (`warden exec --require bpf-lsm`), on a kernel that loads them
//! (`scripts/guest/run.sh`; see `docs/benchmarks.md`).

use criterion::Criterion;
use enforcer::{
    FileRights, FileScope, KernelPolicy, Layer, LayerSet, NetRule, Output, Run, RunOptions,
};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOOP: &str = env!("CARGO_BIN_EXE_warden-overhead-loop");

/// Whether the confined side has the BPF LSM programs too (`--with-bpf-lsm`).
fn with_bpf_lsm() -> bool {
    std::env::args().any(|a| a == "--with-bpf-lsm")
}

/// Which layers a confined run has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stack {
    /// No confinement at all: a plain child process.
    Unconfined,
    /// Everything `warden exec` applies as root.
    Full,
    /// One layer alone (for the breakdown).
    Only(Layer),
}

impl Stack {
    fn name(self) -> String {
        match self {
            Stack::Unconfined => "unconfined".into(),
            Stack::Full => "confined".into(),
            Stack::Only(l) => format!("{l} only"),
        }
    }
}

struct World {
    _tmp: tempfile::TempDir,
    file: PathBuf,
    out: PathBuf,
    port: u16,
    sock: PathBuf,
    policy: KernelPolicy,
}

/// A loopback listener whose accept queue holds a whole round of the
/// connect loop (`listen(4096)`; std's default is 128): a connection the
/// queue cannot take waits a 1 s SYN retransmission, which made the
/// connect/close figure measure the listener thread's scheduling instead of
/// the layers.
fn deep_listener() -> TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns until
    // it is handed to TcpListener.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 4096), 0);
        TcpListener::from_raw_fd(fd)
    }
}

/// The last CPU this process may run on.
fn last_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}

/// Pins the calling thread (and the processes it starts) to `cpu`, or with
/// `None` lets it run anywhere again.
fn pin_to(cpu: impl Into<Option<usize>>) {
    // SAFETY: a zeroed cpu_set_t filled with CPU_SET; sched_setaffinity
    // reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        match cpu.into() {
            Some(c) => libc::CPU_SET(c, &mut set),
            None => (0..=last_cpu()).for_each(|c| libc::CPU_SET(c, &mut set)),
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let file = tmp.path().join("data.txt");
        fs::write(&file, "data\n").expect("writing the bench file");
        let listener = deep_listener();
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            // The listener keeps to the last CPU, the loops to the first
            // (see `ratios`): where they land would otherwise change the
            // cost of every handshake from round to round.
            pin_to(last_cpu());
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        let sock = tmp.path().join("loop.sock");
        let unix = std::os::unix::net::UnixListener::bind(&sock).expect("a unix listener");
        std::thread::spawn(move || {
            pin_to(last_cpu());
            for stream in unix.incoming() {
                drop(stream);
            }
        });
        let mut policy = KernelPolicy::new();
        for dir in ["/usr/lib", "/lib", "/lib64"] {
            policy
                .allow_path(dir, FileScope::Tree, FileRights::READ)
                .expect("baseline");
        }
        policy
            .allow_path("/etc/ld.so.cache", FileScope::File, FileRights::READ)
            .expect("baseline")
            .allow_path(&file, FileScope::File, FileRights::READ)
            .expect("the bench file")
            .allow_exec(LOOP)
            .expect("the loop")
            .allow_exec("/bin/true")
            .expect("true")
            .allow_net(NetRule::tcp_connect(
                "127.0.0.1/32".parse().expect("cidr"),
                port,
            ))
            .expect("the port")
            .allow_unix_connect(&sock, FileScope::File)
            .expect("the unix socket");
        let out = tmp.path().join("loop.out");
        World {
            _tmp: tmp,
            file,
            out,
            port,
            sock,
            policy,
        }
    }

    /// Runs `program` under `stack`; returns its exit status.
    fn run(&self, stack: Stack, program: &str, args: &[OsString], out: Option<fs::File>) -> bool {
        if stack == Stack::Unconfined {
            return Command::new(program)
                .args(args)
                .stdout(out.map_or_else(Stdio::null, Stdio::from))
                .status()
                .expect("an unconfined run")
                .success();
        }
        let mut all: LayerSet = Layer::ALL.into_iter().collect();
        let lsm = with_bpf_lsm() && stack == Stack::Full;
        if !lsm {
            all.remove(&Layer::BpfLsm);
        }
        let keep: LayerSet = match stack {
            Stack::Only(l) if l.name().starts_with("ebpf") => [
                Layer::Cgroup,
                Layer::EbpfCgroupSockAddr,
                Layer::EbpfTracepoints,
            ]
            .into_iter()
            .collect(),
            Stack::Only(l) => [l].into_iter().collect(),
            _ => all.clone(),
        };
        let options = RunOptions {
            quiet: true,
            require: keep.clone(),
            disable: Layer::ALL
                .into_iter()
                .filter(|l| !keep.contains(l))
                .collect(),
            ..RunOptions::default()
        };
        let mut run = Run::new(&self.policy)
            .options(options)
            .stdout(out.map_or(Output::Null, Output::from));
        if keep.contains(&Layer::EbpfTracepoints) {
            // As `warden exec` without `--events`.
            let reports = enforcer::ebpf::Reports::Nothing;
            let layers = enforcer::ebpf::for_launcher_with(&self.policy, false, reports)
                .expect("eBPF layers");
            run = run
                .with_layer(Box::new(layers.sock_addr))
                .with_layer(Box::new(layers.tracepoints));
            if lsm {
                run = run.with_layer(Box::new(layers.bpf_lsm));
            }
        }
        run.spawn(program, args)
            .expect("a confined run")
            .status
            .success()
    }

    /// Runs the loop `n` times under `stack`; returns the loop's own
    /// wall-clock and CPU time.
    fn run_loop(&self, kind: &str, n: u64, stack: Stack) -> (Duration, Duration) {
        let target = match kind {
            "open" => self.file.display().to_string(),
            "unix" => self.sock.display().to_string(),
            "exec" => "/bin/true".to_owned(),
            _ => self.port.to_string(),
        };
        let args: Vec<OsString> = vec![kind.into(), target.into(), n.to_string().into()];
        let out = fs::File::create(&self.out).expect("the loop's output file");
        assert!(
            self.run(stack, LOOP, &args, Some(out)),
            "the {} loop failed",
            stack.name()
        );
        let mut text = String::new();
        fs::File::open(&self.out)
            .and_then(|mut f| f.read_to_string(&mut text))
            .expect("the loop's output");
        let ns: Vec<u64> = text
            .split_whitespace()
            .map(|t| t.parse().expect("nanoseconds"))
            .collect();
        (Duration::from_nanos(ns[0]), Duration::from_nanos(ns[1]))
    }

    /// Start-up and end of a run of `/bin/true` under `stack`: wall clock,
    /// and the CPU time it took (this process, its threads and the child,
    /// user + system: the eBPF verifier's work is system time), which the
    /// load of a shared machine does not inflate.
    fn startup(&self, stack: Stack) -> (Duration, Duration) {
        let cpu = || {
            let mut total = Duration::ZERO;
            for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
                // SAFETY: getrusage fills the zeroed struct.
                let mut u: libc::rusage = unsafe { std::mem::zeroed() };
                unsafe { libc::getrusage(who, &mut u) };
                for t in [u.ru_utime, u.ru_stime] {
                    total += Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
                }
            }
            total
        };
        let (start, cpu0) = (Instant::now(), cpu());
        assert!(self.run(stack, "/bin/true", &[], None));
        (start.elapsed(), cpu() - cpu0)
    }
}

fn loops(c: &mut Criterion, world: &World) {
    for kind in ["open", "connect"] {
        let mut group = c.benchmark_group(format!("{kind}_close"));
        for stack in [Stack::Unconfined, Stack::Full] {
            group.bench_function(stack.name(), |b| {
                b.iter_custom(|iters| world.run_loop(kind, iters, stack).0)
            });
        }
        group.finish();
    }
}

fn startup(c: &mut Criterion, world: &World) {
    c.bench_function("launch_bin_true", |b| b.iter(|| world.startup(Stack::Full)));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The figures of issue 5 in one run: each loop's confined / unconfined
/// ratio (median per-op time of rounds that alternate the two), the
/// median start-up, and the same per layer.
fn ratios(world: &World, only: &[String]) {
    let breakdown = [
        Stack::Only(Layer::Landlock),
        Stack::Only(Layer::Seccomp),
        Stack::Only(Layer::EbpfTracepoints),
    ];
    // The loops run on the first CPU, the listener on the last.
    pin_to(0);
    for (kind, n, rounds) in [
        ("open", 200_000u64, 9usize),
        ("connect", 3_000, 21),
        ("unix", 20_000, 9),
        ("exec", 300, 9),
    ]
    .into_iter()
    .filter(|(kind, _, _)| only.is_empty() || only.iter().any(|o| o == kind))
    {
        let stacks: Vec<Stack> = [Stack::Unconfined, Stack::Full]
            .into_iter()
            .chain(breakdown)
            .collect();
        let mut wall = vec![Vec::new(); stacks.len()];
        let mut cpu = vec![Vec::new(); stacks.len()];
        for _ in 0..rounds {
            for (i, stack) in stacks.iter().enumerate() {
                let (w, c) = world.run_loop(kind, n, *stack);
                wall[i].push(w.as_nanos() as f64 / n as f64);
                cpu[i].push(c.as_nanos() as f64 / n as f64);
            }
        }
        let wall: Vec<f64> = wall.into_iter().map(median).collect();
        let cpu: Vec<f64> = cpu.into_iter().map(median).collect();
        println!(
            "overhead {kind}/close: confined {:.0} ns/op CPU ({:.0} wall), unconfined {:.0} ns/op \
             CPU ({:.0} wall), ratio {:.3}x CPU ({:.3}x wall) (medians of {rounds} alternating \
             rounds of {n})",
            cpu[1],
            wall[1],
            cpu[0],
            wall[0],
            cpu[1] / cpu[0],
            wall[1] / wall[0]
        );
        for (i, stack) in stacks.iter().enumerate().skip(2) {
            println!(
                "    {:<22} {:.0} ns/op CPU, ratio {:.3}x CPU ({:.3}x wall)",
                stack.name(),
                cpu[i],
                cpu[i] / cpu[0],
                wall[i] / wall[0]
            );
        }
    }
}

/// What a run costs the rest of the machine: the open/close loop
/// unconfined, while a confined run (a sleeping loop binary, `warden exec`'s
/// default layers) is active and while none is, in alternating rounds.
fn host_tax(world: &World) {
    let (n, rounds) = (200_000u64, 9);
    let (mut alone, mut beside) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (_, c) = world.run_loop("open", n, Stack::Unconfined);
        alone.push(c.as_nanos() as f64 / n as f64);
        std::thread::scope(|scope| {
            let sleeper = scope
                .spawn(|| world.run(Stack::Full, LOOP, &["sleep".into(), "1500".into()], None));
            // Let the run start: its layers attached, its process asleep.
            std::thread::sleep(Duration::from_millis(400));
            let (_, c) = world.run_loop("open", n, Stack::Unconfined);
            beside.push(c.as_nanos() as f64 / n as f64);
            assert!(
                sleeper.join().expect("the sleeping run"),
                "the sleeping run failed"
            );
        });
    }
    let (a, b) = (median(alone), median(beside));
    println!(
        "host tax: an unconfined open/close loop {:.0} ns/op CPU with a confined run active, \
         {:.0} without, ratio {:.3}x (medians of {rounds} alternating rounds of {n})",
        b,
        a,
        b / a
    );
}

/// The floor of Landlock's own cost on this kernel: the open/close loop
/// before and after a process enters a minimal Landlock domain (see
/// `warden-overhead-loop landlock-floor`), CPU time, median of 9.
fn landlock_floor(world: &World) {
    for (variant, what) in [
        (
            "all",
            "handling every file access, one rule (read the file)",
        ),
        (
            "truncate",
            "the same with truncate granted too (a widening no envelope gets)",
        ),
        (
            "unrelated",
            "handling one access open never checks, no rule",
        ),
    ] {
        let ratios: Vec<f64> = (0..9)
            .map(|_| {
                let out = Command::new(LOOP)
                    .args([
                        "landlock-floor",
                        &world.file.display().to_string(),
                        "200000",
                        variant,
                    ])
                    .output()
                    .expect("the landlock floor loop");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let ns: Vec<f64> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(|t| t.parse().expect("nanoseconds"))
                    .collect();
                ns[1] / ns[0]
            })
            .collect();
        println!(
            "    landlock floor: a domain {what}: {:.3}x CPU (median of 9)",
            median(ratios)
        );
    }
}

/// Start-up of a confined `/bin/true`, wall clock and CPU, median of 15.
fn startups(world: &World) {
    for stack in [Stack::Full, Stack::Only(Layer::Landlock), Stack::Unconfined] {
        let (wall, cpu): (Vec<f64>, Vec<f64>) = (0..15)
            .map(|_| {
                let (w, c) = world.startup(stack);
                (w.as_secs_f64() * 1e3, c.as_secs_f64() * 1e3)
            })
            .unzip();
        println!(
            "start-up /bin/true {}: {:.1} ms wall, {:.1} ms CPU (medians of 15)",
            stack.name(),
            median(wall),
            median(cpu)
        );
    }
}

fn main() {
    if !testkit::root_or_skip!("the confined side runs in a cgroup with the eBPF layers") {
        return;
    }
    let world = World::new();
    let bench = std::env::args().any(|a| a == "--bench");
    if !std::env::args().any(|a| a == "--ratios-only") {
        let mut c = Criterion::default()
            .measurement_time(Duration::from_secs(3))
            .configure_from_args();
        loops(&mut c, &world);
        startup(&mut c, &world);
        c.final_summary();
    }
    // `--loop KIND`: those loops' ratios alone.
    let args: Vec<String> = std::env::args().collect();
    let only: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--loop")
        .map(|w| w[1].clone())
        .collect();
    if bench && !std::env::args().any(|a| a == "--startup-only") {
        ratios(&world, &only);
        if only.is_empty() {
            landlock_floor(&world);
        }
        if only.is_empty() || only.iter().any(|o| o == "host-tax") {
            host_tax(&world);
        }
        pin_to(None);
    }
    if bench && only.is_empty() {
        startups(&world);
    }
}
