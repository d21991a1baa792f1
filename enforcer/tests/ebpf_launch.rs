//! The eBPF layers through the launcher: `ebpf::for_launcher` gives the two
//! cgroup layers `Run::with_layer` takes; the run's report lists them, the
//! command runs normally under the syscall allowlist (the same as seccomp's),
//! and its exec and connect show up on the event stream.
//!
//! Needs root (CI runs `make test` as root); `WARDEN_SKIP_ROOT_TESTS=1`
//! skips explicitly.

use std::ffi::OsString;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use enforcer::ebpf::{Event, NetOp, Verdict, for_launcher};
use enforcer::{FileAccess, FileScope, KernelPolicy, Layer, NetRule, Run, RunOptions};

const PROBE: &str = env!("CARGO_BIN_EXE_warden-escape-probe");

fn need_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("WARDEN_SKIP_ROOT_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("WARDEN_SKIP_ROOT_TESTS=1: skipping an eBPF test that needs root");
        return false;
    }
    panic!("the eBPF launcher test needs root; set WARDEN_SKIP_ROOT_TESTS=1 to skip it");
}

#[test]
fn launcher_applies_the_ebpf_layers_and_streams_events() {
    if !need_root() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut policy = KernelPolicy::new();
    for dir in ["/usr/lib", "/lib", "/lib64"] {
        policy
            .allow_path(dir, FileScope::Tree, FileAccess::READ)
            .unwrap();
    }
    policy
        .allow_path("/etc/ld.so.cache", FileScope::File, FileAccess::READ)
        .unwrap();
    policy.allow_exec(PROBE).unwrap();
    policy
        .allow_net(NetRule::tcp_connect("127.0.0.1/32".parse().unwrap(), port))
        .unwrap();

    let layers = for_launcher(&policy, false).expect("load the eBPF layers");
    let mut events = layers.events;
    let options = RunOptions {
        quiet: true,
        require: [Layer::EbpfCgroupSockAddr, Layer::EbpfTracepoints]
            .into_iter()
            .collect(),
        ..RunOptions::default()
    };
    let args: Vec<OsString> = vec!["connect".into(), port.to_string().into()];
    let outcome = Run::new(&policy)
        .options(options)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .with_layer(Box::new(layers.sock_addr))
        .with_layer(Box::new(layers.tracepoints))
        .spawn(PROBE, &args)
        .expect("run");
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "the permitted connect works"
    );
    for layer in [Layer::EbpfCgroupSockAddr, Layer::EbpfTracepoints] {
        assert!(outcome.layers.has(layer), "{layer}: {:#?}", outcome.layers);
    }

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(e) = events.next_timeout(Duration::from_millis(100)) {
            seen.push(e);
        }
        let exec = seen
            .iter()
            .any(|e| matches!(e, Event::Exec { filename, .. } if filename == PROBE));
        let connect = seen.iter().any(|e| {
            matches!(e, Event::Net { op: NetOp::Connect, port: p, verdict: Verdict::Allowed, .. }
                if *p == port)
        });
        if exec && connect {
            return;
        }
    }
    panic!("exec and connect events missing: {seen:#?}");
}
