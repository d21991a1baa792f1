//! `warden exec` as the run's init, on the host and as PID 1 of a PID
//! namespace (a container's entrypoint): SIGTERM reaches the agent, whose
//! status is the run's; a grace ends with the run killed; the token's
//! expiry and its revocation end the run; and nothing of a run is left
//! (its cgroup, its eBPF entries), however it ended: SIGTERM, SIGKILL of
//! `warden exec` (its watchdog cleans, or the next exec or `warden doctor`),
//! 50 runs at once. Without root, `warden exec` is the subreaper of the
//! run's tree and stops all of it.
//!
//! No timing is asserted: a run outliving its token is never killed before
//! its expiry, and how long after it ends is printed (`--nocapture`), with
//! a 30 s bound that only says it ended; everything else is the order of
//! events and the state left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Every test holds it shared; one that must see its leftovers cleaned by
/// nothing but the clean-up under test holds it alone (any run's start
/// purges the cgroups of runs whose launcher is gone).
static RUNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

macro_rules! require_root {
    () => {{
        if !testkit::root_or_skip!("cgroups, eBPF, PID namespaces") {
            return;
        }
        RUNS.read().unwrap_or_else(|p| p.into_inner())
    }};
}

/// Polls `done` every 20 ms for up to 30 s (a loaded machine is slow, never
/// this slow).
fn wait_for(what: &str, done: impl Fn() -> bool) {
    wait_value(what, || done().then_some(()))
}

/// Polls `found` like [`wait_for`]; returns what it found.
fn wait_value<T>(what: &str, found: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = found() {
            return v;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A key pair, a token and an output directory every test user can reach.
struct Fixture {
    dir: tempfile::TempDir,
    out: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        // The unprivileged test runs warden as uid 65534.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
        let keys = dir.path().join("keys");
        let keygen = Command::new(WARDEN)
            .args(["keygen", "--out"])
            .arg(&keys)
            .output()
            .unwrap();
        assert!(keygen.status.success(), "{keygen:?}");
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.path().join("s.spec"),
            r#"spec "lifecycle" {
  max ttl 1h
  baseline {
    read under "/usr/lib/"
    read under "/lib/"
    read under "/lib64/"
    read "/etc/ld.so.cache"
  }
  allow read
  allow write
  allow exec
}
"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("p.plan"),
            format!(
                "plan \"lifecycle\" {{\n  exec \"/bin/sh\"\n  exec \"/usr/bin/sleep\"\n  exec \"/usr/bin/setsid\"\n  read \"/dev/null\"\n  write \"{}/*\"\n}}\n",
                out.display()
            ),
        )
        .unwrap();
        Fixture { dir, out }
    }

    /// Issues a token that lives `ttl` (`10m`, `4s`); returns its file.
    fn token(&self, ttl: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let d = self.dir.path();
        let issued = Command::new(WARDEN)
            .arg("issue")
            .arg(d.join("p.plan"))
            .arg("--spec")
            .arg(d.join("s.spec"))
            .arg("--key")
            .arg(d.join("keys/warden.key"))
            .args(["--ttl", ttl])
            .output()
            .unwrap();
        assert_eq!(
            issued.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&issued.stderr)
        );
        let path = d.join(format!("run-{ttl}.tok"));
        std::fs::write(&path, &issued.stdout).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    fn public_key(&self) -> PathBuf {
        self.dir.path().join("keys/warden.pub")
    }

    /// The token's id and expiry, from `warden inspect --json`.
    fn claims(&self, token: &Path) -> (String, SystemTime) {
        let out = Command::new(WARDEN)
            .arg("inspect")
            .arg(token)
            .arg("--pub")
            .arg(self.public_key())
            .arg("--json")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let claims = &v["claims"];
        let exp = claims["exp"].as_str().unwrap();
        let date = Command::new("date")
            .args(["-d", exp, "+%s"])
            .output()
            .unwrap();
        let secs: u64 = String::from_utf8_lossy(&date.stdout)
            .trim()
            .parse()
            .unwrap();
        (
            claims["jti"].as_str().unwrap().to_owned(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        )
    }

    /// What the agent wrote in `$OUT/log`, line by line.
    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.out.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// How `warden exec` is started.
#[derive(Clone, Copy, Debug, PartialEq)]
enum As {
    /// A process of the host.
    Host,
    /// PID 1 of a new PID namespace (`unshare --pid --fork`).
    Pid1,
    /// uid 65534 on the host: no cgroup, no eBPF.
    Nobody,
    /// uid 65534 as PID 1 of a new PID namespace: a container's unprivileged
    /// entrypoint (deploy/overlays/single-node).
    Pid1Nobody,
}

impl As {
    fn root(self) -> bool {
        matches!(self, As::Host | As::Pid1)
    }
}

/// A `warden exec` in the background; killed (with its watchdog, whose
/// clean-up then runs) if a test fails before it ends.
struct Exec {
    child: Child,
    how: As,
    stderr: PathBuf,
}

impl Exec {
    fn start(fx: &Fixture, how: As, token: &Path, extra: &[&str], script: &str) -> Exec {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let stderr = fx.dir.path().join(format!(
            "stderr-{}",
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut cmd = match how {
            As::Host => Command::new(WARDEN),
            As::Pid1 => {
                let mut c = Command::new("unshare");
                c.args(["--pid", "--fork", "--", WARDEN]);
                c
            }
            As::Nobody | As::Pid1Nobody => {
                let mut c = Command::new(if how == As::Nobody {
                    "setpriv"
                } else {
                    "unshare"
                });
                if how == As::Pid1Nobody {
                    c.args(["--pid", "--fork", "--", "setpriv"]);
                }
                c.args([
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "--",
                    WARDEN,
                ]);
                c
            }
        };
        cmd.args(["exec", "--token"])
            .arg(token)
            .arg("--pub")
            .arg(fx.public_key())
            .args(extra)
            .args(["--", "/bin/sh", "-c", script])
            .env("OUT", &fx.out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        Exec {
            child: cmd.spawn().unwrap(),
            how,
            stderr,
        }
    }

    /// The `warden exec` process, as the host sees it.
    fn warden_pid(&self) -> i32 {
        let me = self.child.id() as i32;
        match self.how {
            As::Pid1 | As::Pid1Nobody => {
                wait_value("unshare's child", || children(me).first().copied())
            }
            _ => me,
        }
    }

    /// The agent (the shell) and the watchdog (none without root),
    /// children of `warden exec`.
    fn agent_and_watchdog(&self) -> (i32, Option<i32>) {
        let warden = self.warden_pid();
        wait_value("the agent and its watchdog", || {
            let (mut agent, mut watchdog) = (None, None);
            for pid in children(warden) {
                match comm(pid).as_deref() {
                    Some("warden-watchdog") => watchdog = Some(pid),
                    Some("sh") => agent = Some(pid),
                    _ => {}
                }
            }
            let complete = !self.how.root() || watchdog.is_some();
            agent.filter(|_| complete).map(|a| (a, watchdog))
        })
    }

    /// Waits until the agent wrote its `lines`-th line (its start); returns
    /// the agent, its watchdog and the run's cgroup with its id.
    fn started(&self, fx: &Fixture, lines: usize) -> (i32, Option<i32>, PathBuf, u64) {
        wait_for("the agent's start", || fx.log().len() == lines);
        let (agent, watchdog) = self.agent_and_watchdog();
        let (cgroup, id) = run_cgroup(agent);
        (agent, watchdog, cgroup, id)
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to a process of this test.
        assert_eq!(unsafe { libc::kill(self.warden_pid(), sig) }, 0);
    }

    /// Waits for the end: its status and what it said on stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().unwrap();
        (status, std::fs::read_to_string(&self.stderr).unwrap())
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let warden = self.warden_pid();
            for pid in children(warden) {
                // SAFETY: processes of this test.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            // SAFETY: a process of this test.
            unsafe { libc::kill(warden, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

fn alive(pid: i32) -> bool {
    // A zombie is dead: its parent just has not reaped it yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let end = s.rfind(')')?;
            s[end + 1..].split_whitespace().next().map(|st| st != "Z")
        })
        .unwrap_or(false)
}

/// The run's cgroup and its id (the id the eBPF maps are keyed by), from a
/// process of the run.
fn run_cgroup(pid: i32) -> (PathBuf, u64) {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 line");
    let path = enforcer::cgroup::cgroup2_mount()
        .unwrap()
        .join(rel.trim_start_matches('/'));
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("run-"),
        "{}",
        path.display()
    );
    let id = std::fs::metadata(&path).unwrap().ino();
    (path, id)
}

/// Nothing of the run is left: its cgroup and its eBPF entries are gone.
fn nothing_left(cgroup: &Path, id: u64) -> bool {
    !cgroup.exists() && !enforcer::ebpf::run_ids().unwrap().contains(&id)
}

/// The agent: says it started, then waits; SIGTERM runs `on_term`.
fn agent(on_term: &str) -> String {
    format!(
        "trap '{on_term}' TERM; echo started >> \"$OUT/log\"; sleep 600 & while :; do wait $!; done"
    )
}

fn position(text: &str, what: &str) -> usize {
    text.find(what)
        .unwrap_or_else(|| panic!("no {what:?} in:\n{text}"))
}

#[test]
fn sigterm_reaches_the_agent_whose_status_is_the_runs_and_nothing_is_left() {
    let _runs = require_root!();
    for how in [As::Host, As::Pid1] {
        let fx = Fixture::new();
        let tok = fx.token("10m");
        let run = Exec::start(
            &fx,
            how,
            &tok,
            &[],
            &agent("echo term >> \"$OUT/log\"; exit 7"),
        );
        let (agent, _, cgroup, id) = run.started(&fx, 1);
        assert!(enforcer::ebpf::run_ids().unwrap().contains(&id), "{how:?}");
        run.signal(libc::SIGTERM);
        let (status, err) = run.wait();
        assert_eq!(status.code(), Some(7), "{how:?}: {err}");
        assert_eq!(fx.log(), ["started", "term"], "{how:?}");
        assert!(err.contains("SIGTERM: forwarded to the run"), "{err}");
        assert!(nothing_left(&cgroup, id), "{how:?}: {}", cgroup.display());
        assert!(!alive(agent), "{how:?}");
    }
}

#[test]
fn as_pid1_it_reaps_the_orphans_reparented_to_it() {
    let _runs = require_root!();
    let fx = Fixture::new();
    let tok = fx.token("10m");
    // A subshell starts a process and exits at once: the process is an
    // orphan, re-parented to PID 1.
    // As root and as uid 65534 (no cgroup: also the subreaper).
    let script = format!("(/bin/sh -c 'exec sleep 1' &); {}", agent("exit 4"));
    for how in [As::Pid1, As::Pid1Nobody] {
        let run = Exec::start(&fx, how, &tok, &[], &script);
        let warden = run.warden_pid();
        let orphan = wait_value("the orphan re-parented to warden", || {
            children(warden)
                .into_iter()
                .find(|&p| comm(p).as_deref() == Some("sleep"))
        });
        // Once it exits it is reaped: no zombie stays behind.
        wait_for("the orphan reaped", || !children(warden).contains(&orphan));
        run.signal(libc::SIGTERM);
        let (status, err) = run.wait();
        assert_eq!(status.code(), Some(4), "{how:?}: {err}");
        // The agent's `sleep 600`, found in the run's cgroup or, without
        // one, among the launcher's descendants as `/proc` names them.
        assert!(
            err.contains("1 process(es) the command left behind were killed"),
            "{how:?}: {err}"
        );
    }
}

#[test]
fn the_run_is_killed_when_the_grace_ends() {
    let _runs = require_root!();
    for how in [As::Host, As::Pid1] {
        let fx = Fixture::new();
        let tok = fx.token("10m");
        // The agent notes SIGTERM and goes on.
        let run = Exec::start(
            &fx,
            how,
            &tok,
            &["--grace", "1"],
            &agent("echo term >> \"$OUT/log\""),
        );
        let (_, _, cgroup, id) = run.started(&fx, 1);
        run.signal(libc::SIGTERM);
        let (status, err) = run.wait();
        assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{how:?}: {err}");
        assert_eq!(fx.log(), ["started", "term"], "{how:?}");
        assert!(
            position(&err, "SIGTERM: forwarded to the run, killed in 1 s")
                < position(&err, "the grace period ended: the run is killed"),
            "{err}"
        );
        assert!(nothing_left(&cgroup, id), "{how:?}");
    }
}

#[test]
fn a_killed_launcher_leaves_nothing_its_watchdog_or_the_next_run_does_not_clean() {
    let _runs = require_root!();
    let fx = Fixture::new();
    let tok = fx.token("10m");
    let script = agent("exit 1");

    // SIGKILL of warden exec alone: its watchdog kills and removes the
    // cgroup, then takes the run's eBPF entries out (`warden doctor --clean`).
    let run = Exec::start(&fx, As::Host, &tok, &["--quiet"], &script);
    let (_, _, cgroup, id) = run.started(&fx, 1);
    run.signal(libc::SIGKILL);
    let (status, _) = run.wait();
    assert_eq!(status.code(), None);
    wait_for("the watchdog's clean-up", || nothing_left(&cgroup, id));

    // The watchdog killed too (a process group killed at once): the run's
    // processes go on in their cgroup until `warden doctor` (or any later
    // run) finds its lock free.
    let (cgroup, id, sleeper) = orphaned_run(&fx, &tok, 2);
    let doctor = Command::new(WARDEN)
        .args(["doctor", "--clean", "--json"])
        .output()
        .unwrap();
    assert!(doctor.status.success(), "{doctor:?}");
    assert!(nothing_left(&cgroup, id), "{}", cgroup.display());
    assert!(!alive(sleeper));

    // PID 1 killed: its namespace dies with it, watchdog included; the next
    // `warden exec` removes what it left.
    let run = Exec::start(&fx, As::Pid1, &tok, &["--quiet"], &script);
    let (_, _, cgroup, id) = run.started(&fx, 3);
    run.signal(libc::SIGKILL);
    run.wait();
    let next = Command::new(WARDEN)
        .args(["exec", "--quiet", "--token"])
        .arg(&tok)
        .arg("--pub")
        .arg(fx.public_key())
        .args(["--", "/bin/sh", "-c", "exit 0"])
        .output()
        .unwrap();
    assert!(next.status.success(), "{next:?}");
    assert!(nothing_left(&cgroup, id), "{}", cgroup.display());
}

/// A run whose `warden exec` and watchdog were both killed (a process group
/// killed at once), `lines` being its agent's line in the log: its cgroup,
/// the cgroup's id and the agent's sleep, which lives on.
fn orphaned_run(fx: &Fixture, tok: &Path, lines: usize) -> (PathBuf, u64, i32) {
    let run = Exec::start(fx, As::Host, tok, &["--quiet"], &agent("exit 1"));
    let (agent, watchdog, cgroup, id) = run.started(fx, lines);
    let sleeper = wait_value("the agent's sleep", || children(agent).first().copied());
    // SAFETY: a process of this test.
    assert_eq!(unsafe { libc::kill(watchdog.unwrap(), libc::SIGKILL) }, 0);
    run.signal(libc::SIGKILL);
    run.wait();
    (cgroup, id, sleeper)
}

#[test]
fn the_node_agent_cleans_what_killed_runs_left_as_long_as_it_runs() {
    // Alone: no other run's start may purge what this test leaves.
    let _alone = {
        drop(require_root!());
        RUNS.write().unwrap_or_else(|p| p.into_inner())
    };
    let fx = Fixture::new();
    let tok = fx.token("10m");
    let (first, first_id, first_sleeper) = orphaned_run(&fx, &tok, 1);
    assert!(alive(first_sleeper), "nothing should have cleaned yet");
    let mut node = Command::new(WARDEN)
        .args(["doctor", "--clean", "--every", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first clean-up", || nothing_left(&first, first_id));
    assert!(!alive(first_sleeper));
    // A later one: the agent goes on cleaning.
    let (second, second_id, second_sleeper) = orphaned_run(&fx, &tok, 2);
    wait_for("a later clean-up", || nothing_left(&second, second_id));
    assert!(!alive(second_sleeper));
    assert!(node.try_wait().unwrap().is_none(), "the node agent ended");
    node.kill().unwrap();
    node.wait().unwrap();
}

#[test]
fn fifty_runs_at_once_leave_nothing() {
    let _runs = require_root!();
    let fx = Fixture::new();
    let tok = fx.token("10m");
    let runs: Vec<Exec> = (0..50)
        .map(|i| {
            let how = if i % 5 == 0 { As::Pid1 } else { As::Host };
            let on_term = format!("exit {}", 10 + i);
            Exec::start(&fx, how, &tok, &["--quiet"], &agent(&on_term))
        })
        .collect();
    wait_for("50 agents started", || fx.log().len() == 50);
    let cgroups: Vec<(PathBuf, u64)> = runs
        .iter()
        .map(|r| run_cgroup(r.agent_and_watchdog().0))
        .collect();
    for r in &runs {
        r.signal(libc::SIGTERM);
    }
    for (i, r) in runs.into_iter().enumerate() {
        let (status, err) = r.wait();
        assert_eq!(status.code(), Some(10 + i as i32), "run {i}: {err}");
    }
    for (cgroup, id) in &cgroups {
        assert!(nothing_left(cgroup, *id), "{}", cgroup.display());
    }
}

#[test]
fn a_run_outliving_its_token_is_stopped_at_the_expiry() {
    let _runs = require_root!();
    let fx = Fixture::new();
    let tok = fx.token("5s");
    let (_, exp) = fx.claims(&tok);
    let grace = Duration::from_secs(2);
    let runs: Vec<Exec> = [As::Host, As::Pid1]
        .iter()
        .map(|&how| {
            // The agent notes SIGTERM and goes on: only the kill ends it.
            let script = format!(
                "trap 'echo term >> \"$OUT/{how:?}\"' TERM; sleep 600 & while :; do wait $!; done"
            );
            Exec::start(&fx, how, &tok, &["--grace", "2"], &script)
        })
        .collect();
    for run in runs {
        let how = run.how;
        let (status, err) = run.wait();
        let ended = SystemTime::now();
        assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{how:?}: {err}");
        let said = std::fs::read_to_string(fx.out.join(format!("{how:?}"))).unwrap();
        assert_eq!(said, "term\n", "{how:?}");
        assert!(
            position(&err, "the token expires in")
                < position(&err, "the token expired: the run is killed"),
            "{err}"
        );
        // Killed at the expiry, never before it. How long after is measured
        // and printed, not asserted (a loaded machine is slower); the bound
        // here only says it ended at all.
        assert!(ended >= exp, "{how:?}: ended before the expiry");
        let late = ended.duration_since(exp).unwrap_or_default();
        eprintln!("{how:?}: the run ended {late:?} after its token's expiry (grace {grace:?})");
        assert!(
            late < Duration::from_secs(30),
            "{how:?}: still running {late:?} after the expiry"
        );
    }
    // Every check after the expiry refuses: a new run does not start.
    let late = Command::new(WARDEN)
        .args(["exec", "--quiet", "--token"])
        .arg(&tok)
        .arg("--pub")
        .arg(fx.public_key())
        .args(["--", "/bin/sh", "-c", "exit 0"])
        .output()
        .unwrap();
    assert_eq!(late.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&late.stderr).contains("expired"));
}

#[test]
fn a_revocation_kills_the_run_at_once() {
    let _runs = require_root!();
    let fx = Fixture::new();
    let tok = fx.token("10m");
    let (jti, _) = fx.claims(&tok);
    let list = fx.dir.path().join("revoked");
    std::fs::write(&list, "# revoked tokens\n").unwrap();
    let revocations = list.to_str().unwrap();
    let run = Exec::start(
        &fx,
        As::Host,
        &tok,
        &["--revocations", revocations],
        &agent("echo term >> \"$OUT/log\"; exit 7"),
    );
    let (_, _, cgroup, id) = run.started(&fx, 1);
    token::FileRevocations::append(&list, &jti.parse().unwrap()).unwrap();
    let (status, err) = run.wait();
    // Killed, not asked: the trap never ran.
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{err}");
    assert_eq!(fx.log(), ["started"]);
    assert!(
        err.contains(&format!("the token {jti} was revoked: the run is killed")),
        "{err}"
    );
    assert!(nothing_left(&cgroup, id));
    // And it does not start again.
    let again = Exec::start(
        &fx,
        As::Host,
        &tok,
        &["--revocations", revocations],
        "exit 0",
    );
    let (status, err) = again.wait();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn without_root_the_launcher_is_the_subreaper_and_stops_the_whole_tree() {
    let _runs = require_root!();
    let fx = Fixture::new();
    let tok = fx.token("10m");
    // A detached process (its own session, re-parented when its parent
    // exits): without a cgroup only the subreaper still knows it.
    let script = format!(
        "{}; {}",
        "setsid -f /bin/sh -c 'echo $$ > \"$OUT/detached\"; exec sleep 600'",
        agent("echo term >> \"$OUT/log\"; exit 3")
    );
    let run = Exec::start(&fx, As::Nobody, &tok, &[], &script);
    // The pid file exists before the shell has written the pid into it.
    let read_detached = || {
        std::fs::read_to_string(fx.out.join("detached"))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
    };
    wait_for("the agent's start", || {
        fx.log() == ["started"] && read_detached().is_some()
    });
    let detached: i32 = read_detached().unwrap();
    let warden = run.warden_pid();
    wait_for("the detached process re-parented to warden", || {
        children(warden).contains(&detached) || !alive(detached)
    });
    assert!(alive(detached));
    run.signal(libc::SIGTERM);
    let (status, err) = run.wait();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("not root"), "{err}");
    assert_eq!(fx.log(), ["started", "term"]);
    assert!(!alive(detached), "the detached process outlived the run");
}
