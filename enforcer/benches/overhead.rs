//! Overhead of the enforcer's layers: the same open/close and connect/close
//! loops run confined (Landlock + seccomp + cgroup) and unconfined, and the
//! start-up of a confined `/bin/true`.
//!
//! `cargo bench -p enforcer --bench overhead` also prints the confined /
//! unconfined ratios measured in one run (median of 7 alternating rounds).

use criterion::Criterion;
use enforcer::{FileAccess, FileScope, KernelPolicy, NetRule, Run, RunOptions, launch};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const LOOP: &str = env!("CARGO_BIN_EXE_warden-overhead-loop");

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

    /// Runs the loop `n` times; returns the loop's own time.
    fn run_loop(&self, kind: &str, n: u64, confined: bool) -> Duration {
        let target = match kind {
            "open" => self.file.display().to_string(),
            _ => self.port.to_string(),
        };
        let args: Vec<OsString> = vec![kind.into(), target.into(), n.to_string().into()];
        let out = fs::File::create(&self.out).expect("the loop's output file");
        if confined {
            let opts = RunOptions {
                quiet: true,
                ..RunOptions::default()
            };
            let outcome = Run::new(&self.policy)
                .options(opts)
                .stdout(Stdio::from(out))
                .spawn(LOOP, &args)
                .expect("a confined loop");
            assert!(outcome.status.success(), "the confined loop failed");
        } else {
            let status = Command::new(LOOP)
                .args(&args)
                .stdout(Stdio::from(out))
                .status()
                .expect("an unconfined loop");
            assert!(status.success(), "the unconfined loop failed");
        }
        let mut text = String::new();
        fs::File::open(&self.out)
            .and_then(|mut f| f.read_to_string(&mut text))
            .expect("the loop's output");
        Duration::from_nanos(text.trim().parse().expect("nanoseconds"))
    }
}

fn loops(c: &mut Criterion, world: &World) {
    for kind in ["open", "connect"] {
        let mut group = c.benchmark_group(format!("{kind}_close"));
        for confined in [false, true] {
            let name = if confined { "confined" } else { "unconfined" };
            group.bench_function(name, |b| {
                b.iter_custom(|iters| world.run_loop(kind, iters, confined))
            });
        }
        group.finish();
    }
}

fn startup(c: &mut Criterion, world: &World) {
    let opts = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    c.bench_function("launch_bin_true", |b| {
        b.iter(|| {
            let outcome = launch(&world.policy, &opts, "/bin/true", &[]).expect("launch");
            assert!(outcome.status.success());
        })
    });
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Confined / unconfined per-operation time, median of alternating rounds.
fn ratios(world: &World) {
    for (kind, n) in [("open", 200_000u64), ("connect", 5_000)] {
        let (mut confined, mut free) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            free.push(world.run_loop(kind, n, false).as_nanos() as f64 / n as f64);
            confined.push(world.run_loop(kind, n, true).as_nanos() as f64 / n as f64);
        }
        let (c, f) = (median(confined), median(free));
        println!(
            "overhead {kind}/close: confined {c:.0} ns/op, unconfined {f:.0} ns/op, ratio {:.3}x",
            c / f
        );
    }
}

fn main() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the overhead bench runs the confined side with its cgroup: run it as root"
    );
    let world = World::new();
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    loops(&mut c, &world);
    startup(&mut c, &world);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        ratios(&world);
    }
}
