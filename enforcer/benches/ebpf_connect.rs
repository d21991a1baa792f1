//! Overhead of the eBPF network layer: a TCP connect/close loop to a loopback
//! listener, unconfined and then from inside a cgroup with the programs
//! attached, against a sibling cgroup without them (the benchmark process
//! moves itself between the two). Needs root; prints the per-run cost of
//! each program (kernel statistics) and the with/without ratio at the end.
//!
//! `cargo bench -p enforcer --bench ebpf_connect`

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;

use enforcer::NetRule;
use enforcer::ebpf::{EbpfLayers, NetPolicy, Reports, RunRules};

fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split_whitespace().nth(4)?;
        (right.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

/// The cgroup v2 directory this process is in now.
fn own_cgroup(mount: &std::path::Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(mount.join(rel.trim_start_matches('/')))
}

fn join(cgroup: &std::path::Path) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(cgroup.join("cgroup.procs"))
        .expect("open cgroup.procs");
    f.write_all(b"0").expect("join cgroup");
}

fn connect_close(addr: SocketAddr) {
    let s = TcpStream::connect(addr).expect("connect");
    // Close with a reset: no TIME_WAIT, so the loop never runs short of
    // ephemeral ports and measures connect itself.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this function owns, with a valid value.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size_of::<libc::linger>() as u32,
        )
    };
    drop(s);
}

/// Drains the listener's accept queue in the background.
fn listener() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
    addr
}

/// This thread's CPU time (user + system): what the loop itself costs,
/// independent of how busy the shared machine is.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall-clock and CPU time of `n` connect/close.
fn timed_loop(addr: SocketAddr, n: u32) -> (Duration, Duration) {
    let (start, cpu) = (Instant::now(), thread_cpu());
    for _ in 0..n {
        connect_close(addr);
    }
    (start.elapsed(), thread_cpu() - cpu)
}

fn bench(c: &mut Criterion) {
    if !testkit::root_or_skip!("loading and attaching the eBPF programs; nothing measured") {
        return;
    }
    // `cargo test --all-targets` runs benches once without `--bench`: check
    // that the setup works, measure nothing.
    let measuring = std::env::args().any(|a| a == "--bench");
    let addr = listener();
    let mount = cgroup2_mount().expect("cgroup2 mounted");
    let home = own_cgroup(&mount).expect("own cgroup");
    // Two cgroups set up alike, one level deep each: `run` under the runs'
    // cgroup, where the node's programs are linked, `bare` beside it, where
    // none are, so the ratio between them is the cost of the eBPF layers
    // alone (a new cgroup has costs of its own, e.g. socket memory
    // accounting).
    let parent = enforcer::cgroup::run_parent().expect("the runs' cgroup");
    let run = parent.join(format!("ebpf-bench-run-{}", std::process::id()));
    let bare = mount.join(format!("warden-ebpf-bench-bare-{}", std::process::id()));
    std::fs::create_dir_all(&run).expect("create bench cgroup");
    std::fs::create_dir_all(&bare).expect("create bench cgroup");

    let mut rules = RunRules {
        net: NetPolicy::allow([NetRule::tcp_connect(
            "127.0.0.1/32".parse().unwrap(),
            addr.port(),
        )]),
        ..RunRules::default()
    };
    rules.exec.trees = true;
    let mut layers = EbpfLayers::load(rules, Reports::Refusals).expect("load");
    layers.attach(&run).expect("attach");
    let mut events = layers.events().expect("events");
    // Keep the ring drained as a real run's event writer would.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let drain = std::thread::spawn(move || {
        let mut count = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            count += u64::from(events.next_timeout(Duration::from_millis(50)).is_some());
            count += events.drain().count() as u64;
        }
        (count, thread_cpu())
    });

    let mut group = c.benchmark_group("connect_close_loopback");
    join(&bare);
    group.bench_function("cgroup_without_ebpf", |b| b.iter(|| connect_close(addr)));
    let stats_fd = enforcer::ebpf::enable_program_stats().expect("bpf stats");
    join(&run);
    group.bench_function("cgroup_with_ebpf", |b| b.iter(|| connect_close(addr)));
    group.finish();

    if !measuring {
        join(&home);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = drain.join();
        drop((layers, stats_fd));
        let _ = std::fs::remove_dir(&run);
        let _ = std::fs::remove_dir(&bare);
        return;
    }
    // Interleaved batches for the ratio; the median batch of each side, so
    // that a stall of the shared machine does not decide the figure.
    let (n, batches) = (200u32, 41);
    let mut confined = Vec::new();
    let mut unconfined = Vec::new();
    for i in 0..batches {
        let order = if i % 2 == 0 {
            [&run, &bare]
        } else {
            [&bare, &run]
        };
        for cg in order {
            join(cg);
            let t = timed_loop(addr, n);
            if cg == &run {
                confined.push(t);
            } else {
                unconfined.push(t);
            }
        }
    }
    join(&home);
    for s in layers.program_stats().expect("program stats") {
        if s.runs > 0 {
            println!(
                "  {:<20} {:>9} runs, {:>7.0} ns per run",
                s.name,
                s.runs,
                s.mean_ns()
            );
        }
    }
    drop(stats_fd);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Ok((count, cpu)) = drain.join() {
        println!(
            "  event reader: {count} events, {:.0} ns of its CPU per event",
            cpu.as_nanos() as f64 / count.max(1) as f64
        );
    }
    drop(layers);
    let _ = std::fs::remove_dir(&run);
    let _ = std::fs::remove_dir(&bare);
    let median = |v: Vec<Duration>| {
        let mut v = v;
        v.sort_unstable();
        v[v.len() / 2].as_nanos() as f64 / f64::from(n)
    };
    let split = |v: &[(Duration, Duration)]| {
        (
            median(v.iter().map(|t| t.0).collect()),
            median(v.iter().map(|t| t.1).collect()),
        )
    };
    let ((cw, cc), (uw, uc)) = (split(&confined), split(&unconfined));
    println!(
        "connect/close loopback, median of {batches} interleaved batches of {n}:\n  \
         wall clock: cgroup without eBPF {uw:.0} ns, with eBPF {cw:.0} ns, ratio {:.3}\n  \
         thread CPU: cgroup without eBPF {uc:.0} ns, with eBPF {cc:.0} ns, ratio {:.3}",
        cw / uw,
        cc / uc
    );
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
}
