//! Start-up of `warden exec -- /bin/true`, the command end to end: a fresh
//! `warden` process reads and verifies the token, compiles the envelope,
//! picks the proven enforcement profile, loads and attaches the layers
//! (as root: Landlock, seccomp, the run's cgroup, the eBPF programs),
//! starts `/bin/true` inside them, waits, and removes the cgroup.
//!
//! `cargo bench -p warden --bench exec_startup` prints the median wall
//! clock and CPU time (user + system of warden and `/bin/true`; the eBPF
//! verifier's work is system time) of 31 runs, and the same for a plain
//! `/bin/true`. CPU time is what a loaded machine does not inflate; the
//! wall clock is the figure to read on an idle one. Under `cargo test`
//! (no `--bench`) it runs once, as a check that it works.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

const SPEC: &str = r#"spec "startup" {
  max ttl 10m
  allow exec "/bin/true"
  // Unprivileged runs need the ELF loader (no eBPF tells a program loading
  // itself from `ld.so ANY-FILE`): this lets the bench run without root.
  allow exec "/lib64/ld-linux-x86-64.so.2"
  allow exec "/lib/ld-linux-aarch64.so.1"
  baseline {
    read under "/usr/lib/"
    read under "/lib/"
    read under "/lib64/"
    read "/etc/ld.so.cache"
  }
}
"#;

const PLAN: &str = r#"plan "startup" {
  agent "bench"
  goal "start /bin/true"
  ttl 10m
  exec "/bin/true"
}
"#;

fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    [u.ru_utime, u.ru_stime]
        .iter()
        .map(|t| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000))
        .sum()
}

fn warden(args: &[&str]) -> std::process::Output {
    let out = Command::new(WARDEN)
        .args(args)
        .output()
        .expect("running warden");
    assert!(
        out.status.success(),
        "warden {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Issues a token for the plan; returns (token file, public key file).
fn token(dir: &Path) -> (String, String) {
    let (spec, plan, keys) = (dir.join("s.spec"), dir.join("p.plan"), dir.join("keys"));
    std::fs::write(&spec, SPEC).expect("writing the spec");
    std::fs::write(&plan, PLAN).expect("writing the plan");
    let s = |p: &Path| p.display().to_string();
    warden(&["keygen", "--out", &s(&keys)]);
    let issued = warden(&[
        "issue",
        &s(&plan),
        "--spec",
        &s(&spec),
        "--key",
        &s(&keys.join("warden.key")),
    ]);
    let tok = dir.join("t.tok");
    std::fs::write(&tok, issued.stdout).expect("writing the token");
    (s(&tok), s(&keys.join("warden.pub")))
}

/// One run of `program args`: wall clock and CPU time.
fn once(program: &str, args: &[&str]) -> (Duration, Duration) {
    let (cpu0, start) = (children_cpu(), Instant::now());
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("starting the command");
    let wall = start.elapsed();
    assert!(status.success(), "{program} {args:?}: {status}");
    (wall, children_cpu() - cpu0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (tok, key) = token(dir.path());
    let exec = [
        "exec",
        "--quiet",
        "--token",
        &tok,
        "--pub",
        &key,
        "--",
        "/bin/true",
    ];
    let runs = if bench { 31 } else { 1 };
    // SAFETY: geteuid has no preconditions.
    let who = if unsafe { libc::geteuid() } == 0 {
        "root: every layer this machine has"
    } else {
        "not root: Landlock and seccomp"
    };
    for (name, program, args) in [
        ("warden exec -- /bin/true", WARDEN, &exec[..]),
        ("/bin/true alone", "/bin/true", &[][..]),
    ] {
        let (wall, cpu): (Vec<f64>, Vec<f64>) = (0..runs)
            .map(|_| {
                let (w, c) = once(program, args);
                (w.as_secs_f64() * 1e3, c.as_secs_f64() * 1e3)
            })
            .unzip();
        println!(
            "start-up {name}: {:.1} ms wall, {:.1} ms CPU (medians of {runs}; {who})",
            median(wall),
            median(cpu)
        );
    }
}
