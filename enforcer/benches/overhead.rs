//! Overhead of the enforcer's layers, as `warden exec` applies them as root
//! (Landlock + seccomp + the run's cgroup + the eBPF layers): the same
//! open/close and connect/close loops run confined and unconfined, and the
//! start-up of a confined `/bin/true` (eBPF programs loaded and attached,
//! cgroup created and removed, Landlock and seccomp applied).
//!
//! `cargo bench -p enforcer --bench overhead` runs the criterion benches,
//! then prints the three figures of issue 5 measured in one run: the
//! confined / unconfined ratio of each loop (median of alternating rounds)
//! and the median start-up, with a breakdown per layer to show where the
//! cost is. `cargo bench -p enforcer --bench overhead -- --ratios-only`
//! skips criterion (`--startup-only`: the start-up alone). The machine is
//! shared: take several runs.

use criterion::Criterion;
use enforcer::{
    FileAccess, FileScope, KernelPolicy, Layer, LayerSet, NetRule, Output, Run, RunOptions,
};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOOP: &str = env!("CARGO_BIN_EXE_warden-overhead-loop");

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
    policy: KernelPolicy,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let file = tmp.path().join("data.txt");
        fs::write(&file, "data\n").expect("writing the bench file");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        let mut policy = KernelPolicy::new();
        for dir in ["/usr/lib", "/lib", "/lib64"] {
            policy
                .allow_path(dir, FileScope::Tree, FileAccess::READ)
                .expect("baseline");
        }
        policy
            .allow_path("/etc/ld.so.cache", FileScope::File, FileAccess::READ)
            .expect("baseline")
            .allow_path(&file, FileScope::File, FileAccess::READ)
            .expect("the bench file")
            .allow_exec(LOOP)
            .expect("the loop")
            .allow_exec("/bin/true")
            .expect("true")
            .allow_net(NetRule::tcp_connect(
                "127.0.0.1/32".parse().expect("cidr"),
                port,
            ))
            .expect("the port");
        let out = tmp.path().join("loop.out");
        World {
            _tmp: tmp,
            file,
            out,
            port,
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
        let all: LayerSet = Layer::ALL.into_iter().collect();
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
            require: keep
                .iter()
                .copied()
                .filter(|l| *l != Layer::BpfLsm)
                .collect(),
            disable: all.difference(&keep).copied().collect(),
            ..RunOptions::default()
        };
        let mut run = Run::new(&self.policy)
            .options(options)
            .stdout(out.map_or(Output::Null, Output::from));
        if keep.contains(&Layer::EbpfTracepoints) {
            let layers = enforcer::ebpf::for_launcher(&self.policy, false).expect("eBPF layers");
            run = run
                .with_layer(Box::new(layers.sock_addr))
                .with_layer(Box::new(layers.tracepoints));
        }
        run.spawn(program, args)
            .expect("a confined run")
            .status
            .success()
    }

    /// Runs the loop `n` times under `stack`; returns the loop's own time.
    fn run_loop(&self, kind: &str, n: u64, stack: Stack) -> Duration {
        let target = match kind {
            "open" => self.file.display().to_string(),
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
        Duration::from_nanos(text.trim().parse().expect("nanoseconds"))
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
                b.iter_custom(|iters| world.run_loop(kind, iters, stack))
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
fn ratios(world: &World) {
    let breakdown = [
        Stack::Only(Layer::Landlock),
        Stack::Only(Layer::Seccomp),
        Stack::Only(Layer::EbpfTracepoints),
    ];
    for (kind, n, rounds) in [("open", 200_000u64, 9usize), ("connect", 2_000, 7)] {
        let stacks: Vec<Stack> = [Stack::Unconfined, Stack::Full]
            .into_iter()
            .chain(breakdown)
            .collect();
        let mut times = vec![Vec::new(); stacks.len()];
        for _ in 0..rounds {
            for (i, stack) in stacks.iter().enumerate() {
                times[i].push(world.run_loop(kind, n, *stack).as_nanos() as f64 / n as f64);
            }
        }
        let medians: Vec<f64> = times.into_iter().map(median).collect();
        let free = medians[0];
        println!(
            "overhead {kind}/close: confined {:.0} ns/op, unconfined {free:.0} ns/op, ratio {:.3}x \
             (median of {rounds} alternating rounds of {n})",
            medians[1],
            medians[1] / free
        );
        for (stack, m) in stacks.iter().zip(&medians).skip(2) {
            println!(
                "    {:<22} {m:.0} ns/op, ratio {:.3}x",
                stack.name(),
                m / free
            );
        }
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
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the overhead bench runs the confined side with its cgroup and eBPF: run it as root"
    );
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
    if bench && !std::env::args().any(|a| a == "--startup-only") {
        ratios(&world);
    }
    if bench {
        startups(&world);
    }
}
