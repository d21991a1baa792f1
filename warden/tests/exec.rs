//! `warden exec`: a signed token's envelope is what the command may do;
//! bad tokens and missing required layers stop it before it starts.

use std::path::Path;
use std::process::Command;
use token::{Claims, Digest, SigningKey, Timestamp, TokenId, paseto};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Returns from the calling test, saying it was skipped and why, unless this
/// is root (`make test` runs the tests as root, then again unprivileged).
macro_rules! root_or_return {
    () => {
        if !testkit::root_or_skip!("the runs' cgroups and eBPF layers, setpriv to another uid") {
            return;
        }
    };
}

/// Signs a token whose envelope reads `allowed`, writes into `out_dir` and
/// runs `/bin/cat` and `/bin/sh`; returns (token file, public key file).
fn token_for(dir: &Path, allowed: &Path, out_dir: &Path, ttl: i64) -> (String, String) {
    token_with(dir, allowed, out_dir, ttl, &["/bin/cat", "/bin/sh"])
}

/// The spec the test tokens are proven against: every file and exec
/// action (what is tested here is the kernel's side).
const ALLOW_ALL: &str = r#"spec "exec-test" { allow read  allow write  allow delete  allow exec }"#;

/// [`token_for`] with these programs.
fn token_with(
    dir: &Path,
    allowed: &Path,
    out_dir: &Path,
    ttl: i64,
    programs: &[&str],
) -> (String, String) {
    token_under(ALLOW_ALL, dir, allowed, out_dir, ttl, programs)
}

/// [`token_with`], its profiles proven against `spec`.
fn token_under(
    spec: &str,
    dir: &Path,
    allowed: &Path,
    out_dir: &Path,
    ttl: i64,
    programs: &[&str],
) -> (String, String) {
    let key = SigningKey::generate().unwrap();
    let paths = token::keys::write_key_pair(&dir.join("keys"), &key, false).unwrap();
    let now = Timestamp::now();
    let tree =
        |d: &str| serde_json::json!({"access": "read", "target": {"shape": "tree", "dir": d}});
    let envelope = serde_json::json!({
        "version": 1,
        "files": [
            tree("/usr/lib"), tree("/lib"), tree("/lib64"),
            {"access": "read", "target": {"shape": "exact", "path": "/etc/ld.so.cache"}},
            {"access": "read", "target": {"shape": "exact", "path": allowed}},
            {"access": "write", "target": {"shape": "tree", "dir": out_dir}}
        ],
        "exec": programs
            .iter()
            .map(|p| serde_json::json!({"program": {"shape": "exact", "path": p}, "argv": null}))
            .collect::<Vec<_>>(),
        "connect": [], "listen": [], "calls": [], "params": [], "limits": [],
        "ordering": [], "baseline": []
    });
    let claims = Claims {
        warden: warden_core::claims::CLAIMS_VERSION,
        iss: "warden".into(),
        sub: Some("exec-test".into()),
        jti: TokenId::random().unwrap(),
        iat: now,
        nbf: now,
        exp: Timestamp::from_unix(now.unix() + ttl),
        plan: Some("exec-test".into()),
        plan_hash: Digest::of_text("plan"),
        spec: Some("exec-test".into()),
        spec_hash: Digest::of_text("spec"),
        ancestors: vec![],
        envelope: serde_json::from_value(envelope).expect("the test envelope follows the schema"),
        enforcement: vec![],
    };
    let spec = planlang::load_spec_str(spec, "exec-test.spec").unwrap();
    let mut spec = verifier::CompiledSpec::compile(&spec).unwrap();
    // The proof's solver bound, as `warden issue` gives it (the check's 2 s
    // default timed out on a loaded machine and refused every profile).
    spec.options.timeout_ms = spec
        .options
        .timeout_ms
        .max(verifier::enforcement::PROOF_TIMEOUT_MS);
    let mut claims = claims;
    claims.enforcement = verifier::enforcement::prove_profiles(&spec, &claims.envelope).unwrap();
    let tok = paseto::sign(&claims, &key).unwrap();
    let tok_path = dir.join(format!("run-{ttl}.tok"));
    std::fs::write(&tok_path, tok).unwrap();
    (
        tok_path.display().to_string(),
        paths.public.display().to_string(),
    )
}

fn exec(tok: &str, key: &str, extra: &[&str], cmd: &[&str]) -> std::process::Output {
    Command::new(WARDEN)
        .args(["exec", "--token", tok, "--pub", key, "--quiet"])
        .args(extra)
        .arg("--")
        .args(cmd)
        .output()
        .unwrap()
}

#[test]
fn the_envelope_is_enforced_and_the_status_is_the_commands() {
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let (allowed, secret, out) = (
        dir.path().join("allowed.txt"),
        dir.path().join("secret.txt"),
        dir.path().join("out"),
    );
    std::fs::write(&allowed, "hello\n").unwrap();
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::create_dir(&out).unwrap();
    let (tok, key) = token_for(dir.path(), &allowed, &out, 600);

    let ok = exec(&tok, &key, &[], &["/bin/cat", allowed.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "hello\n");

    let refused = exec(&tok, &key, &[], &["/bin/cat", secret.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Permission denied"));

    let status = exec(&tok, &key, &[], &["/bin/sh", "-c", "exit 7"]);
    assert_eq!(status.status.code(), Some(7));
}

#[test]
fn bad_tokens_and_missing_layers_stop_the_run() {
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let marker = out.join("ran");
    let script = format!("echo > {}", marker.display());
    let (tok, key) = token_for(dir.path(), &dir.path().join("none"), &out, 600);

    // A required layer this machine lacks.
    let r = exec(
        &tok,
        &key,
        &["--require", "bpf-lsm"],
        &["/bin/sh", "-c", &script],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("bpf-lsm"));
    assert!(
        !marker.exists(),
        "the command ran without its required layer"
    );

    // An expired token.
    let (old, old_key) = token_for(&dir.path().join("old"), &out, &out, -60);
    let r = exec(&old, &old_key, &[], &["/bin/sh", "-c", &script]);
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // A token signed by another key.
    let r = exec(&tok, &old_key, &[], &["/bin/sh", "-c", &script]);
    assert_eq!(r.status.code(), Some(2));
    assert!(!marker.exists());
}

/// An envelope that reads a directory by its exact name: the proof is
/// about that name, but Landlock's rule on a directory holds for every
/// file below it. Where the spec refuses that tree, the check at run start
/// sees the compiled policy grant it and refuses to start, naming the step,
/// the tree and the spec's counterexample.
#[test]
fn a_kernel_grant_outside_the_proof_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("secret.txt"), "secret\n").unwrap();
    std::fs::create_dir(&out).unwrap();
    let spec = format!(
        r#"spec "exec-test" {{ allow read  allow write  allow delete  allow exec  deny read {:?} }}"#,
        data.join("secret.txt").display().to_string()
    );
    let (tok, key) = token_under(
        &spec,
        dir.path(),
        &data,
        &out,
        600,
        &["/bin/cat", "/bin/sh"],
    );
    let marker = out.join("ran");
    let r = exec(
        &tok,
        &key,
        &[],
        &["/bin/sh", "-c", &format!("echo > {}", marker.display())],
    );
    let err = String::from_utf8_lossy(&r.stderr);
    if enforcer::ebpf::lsm::probe() == enforcer::ebpf::lsm::Support::Available {
        // BPF LSM names the directory alone: inside the proof.
        assert_eq!(r.status.code(), Some(0), "{err}");
        return;
    }
    assert_eq!(r.status.code(), Some(2), "{err}");
    let data = data.display().to_string();
    assert!(err.contains(&format!("`read {data:?}`")), "{err}");
    assert!(err.contains(&format!("`read under {data:?}`")), "{err}");
    assert!(err.contains("which was not proven"), "{err}");
    assert!(err.contains("secret.txt"), "the counterexample: {err}");
    assert!(!marker.exists(), "the command ran");

    // Under a spec that allows the tree, the same envelope runs.
    let wide = dir.path().join("wide");
    std::fs::create_dir(&wide).unwrap();
    let (tok, key) = token_for(&wide, Path::new(&data), &out, 600);
    let r = exec(
        &tok,
        &key,
        &[],
        &["/bin/sh", "-c", &format!("echo > {}", marker.display())],
    );
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(marker.exists());
}

/// `warden issue PLAN --spec SPEC --key KEYS/warden.key`.
fn issue(plan: &Path, spec: &Path, keys: &Path) -> std::process::Output {
    Command::new(WARDEN)
        .args([
            "issue",
            plan.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
        ])
        .args(["--key", keys.join("warden.key").to_str().unwrap()])
        .output()
        .unwrap()
}

/// A plan whose `write "/…/out/*.tmp"` only BPF LSM enforces exactly: the
/// token is issued (that profile is proven), and on a machine without the
/// layer the run is refused before it starts, with the counterexample the
/// widening would let through.
#[test]
fn a_widening_the_spec_refuses_stops_the_run_with_its_counterexample() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let out = out.display().to_string();
    let spec = dir.path().join("s.spec");
    std::fs::write(
        &spec,
        format!(
            r#"spec "suffix" {{
  allow write under "{out}/" when path endswith ".tmp"
  deny write under "{out}/" when path endswith ".sh"
  allow exec "/bin/sh"
}}"#
        ),
    )
    .unwrap();
    let plan = dir.path().join("p.plan");
    std::fs::write(
        &plan,
        format!("plan \"p\" {{\n  write \"{out}/*.tmp\"\n  exec \"/bin/sh\"\n}}\n"),
    )
    .unwrap();
    let keys = dir.path().join("keys");
    let keygen = Command::new(WARDEN)
        .args(["keygen", "--out", keys.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let issued = issue(&plan, &spec, &keys);
    assert_eq!(
        issued.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let tok = dir.path().join("run.tok");
    std::fs::write(&tok, &issued.stdout).unwrap();
    let key = keys.join("warden.pub");
    let inspect = Command::new(WARDEN)
        .args([
            "inspect",
            tok.to_str().unwrap(),
            "--pub",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&inspect.stdout);
    assert!(shown.contains("root+bpf-lsm"), "{shown}");
    assert!(shown.contains("refused"), "{shown}");

    let marker = format!("{out}/ran.tmp");
    let r = exec(
        tok.to_str().unwrap(),
        key.to_str().unwrap(),
        &[],
        &["/bin/sh", "-c", &format!("echo > {marker}")],
    );
    let err = String::from_utf8_lossy(&r.stderr);
    if enforcer::ebpf::lsm::probe() == enforcer::ebpf::lsm::Support::Available {
        // A kernel with BPF LSM (the guest): the exact profile runs.
        assert_eq!(r.status.code(), Some(0), "{err}");
        return;
    }
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to start"), "{err}");
    assert!(
        err.contains("root+bpf-lsm: proven, but this machine cannot apply it"),
        "{err}"
    );
    assert!(err.contains(&format!("lets `write \"{out}/")), "{err}");
    assert!(!Path::new(&marker).exists(), "the command ran");

    // A spec that refuses the widening for every profile: no token at all
    // (an argument from a param is "any arguments" to every kernel layer).
    std::fs::write(
        &plan,
        "plan \"p\" {\n  param a: string where a == \"true\"\n\n  exec \"/bin/sh\" [\"-c\", a]\n}\n",
    )
    .unwrap();
    std::fs::write(
        &spec,
        r#"spec "argv" {
  allow exec "/bin/sh" when argv[0] == "-c" and argv[1] == "true"
}"#,
    )
    .unwrap();
    let refused = issue(&plan, &spec, &keys);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(refused.stdout.is_empty());
    assert!(err.contains("no enforcement profile is proven"), "{err}");
    assert!(err.contains("exec \"/bin/sh\" with any arguments"), "{err}");
}

/// Reads the JSON lines of an events file (a line being written is skipped).
fn events_in(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Kills a `warden exec` left running and its run's processes (a test that
/// kills warden leaves them behind: no one ends the run's cgroup).
struct RunGuard {
    warden: std::process::Child,
    cgroup: Option<std::path::PathBuf>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let _ = self.warden.kill();
        let _ = self.warden.wait();
        if let Some(cg) = &self.cgroup {
            let _ = std::fs::write(cg.join("cgroup.kill"), "1");
            for _ in 0..100 {
                if std::fs::remove_dir(cg).is_ok() || !cg.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// The run's cgroup directory, from a process of the run.
fn cgroup_of(pid: u64) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(
        enforcer::cgroup::cgroup2_mount()
            .ok()?
            .join(rel.trim_start_matches('/')),
    )
}

#[test]
fn events_are_streamed_while_the_run_runs_and_survive_a_crash() {
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let (fifo, secret, out, events) = (
        dir.path().join("fifo"),
        dir.path().join("secret.txt"),
        dir.path().join("out"),
        dir.path().join("events.jsonl"),
    );
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::create_dir(&out).unwrap();
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let (tok, key) = token_for(dir.path(), &fifo, &out, 600);
    // A refused read, then a read that blocks on the FIFO until it is
    // opened for writing (never, here).
    let script = format!("/bin/cat {}; /bin/cat {}", secret.display(), fifo.display());
    let mut run = RunGuard {
        warden: Command::new(WARDEN)
            .args([
                "exec", "--token", &tok, "--pub", &key, "--quiet", "--events",
            ])
            .arg(&events)
            .args(["--", "/bin/sh", "-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
        cgroup: None,
    };

    // While the command is blocked, its events are already in the file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let seen = events_in(&events);
        if run.cgroup.is_none() {
            run.cgroup = seen
                .iter()
                .filter_map(|e| e["pid"].as_u64())
                .find_map(cgroup_of)
                .filter(|p| p.to_string_lossy().contains("/warden/run-"));
        }
        let refused = seen
            .iter()
            .any(|e| e["event"] == "syscall_refused" && e["errno"] == libc::EACCES);
        let cats = seen
            .iter()
            .filter(|e| e["event"] == "exec" && e["filename"] == "/bin/cat")
            .count();
        if refused && cats == 2 && run.cgroup.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events not streamed during the run: {seen:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        run.warden.try_wait().unwrap(),
        None,
        "the run ended too early"
    );

    // A crash of warden itself loses nothing already observed.
    let before = events_in(&events);
    run.warden.kill().unwrap();
    run.warden.wait().unwrap();
    let after = events_in(&events);
    assert!(after.len() >= before.len(), "events lost in the crash");
    assert!(
        after.iter().any(|e| e["event"] == "syscall_refused"),
        "the refusal is not in the file after the crash"
    );

    // The run does not outlive its launcher (its eBPF layers went with it):
    // the watchdog kills the run's cgroup without anyone's help.
    let cgroup = run.cgroup.clone().expect("the run's cgroup");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let populated = std::fs::read_to_string(cgroup.join("cgroup.events"))
            .map(|ev| ev.lines().any(|l| l.trim() == "populated 1"))
            .unwrap_or(false);
        if !populated {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run outlived warden: {cgroup:?} is still populated"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn events_name_the_files_opened_and_every_refusal() {
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let (allowed, secret, out, events) = (
        dir.path().join("allowed.txt"),
        dir.path().join("secret.txt"),
        dir.path().join("out"),
        dir.path().join("events.jsonl"),
    );
    std::fs::write(&allowed, "hello\n").unwrap();
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::create_dir(&out).unwrap();
    let (tok, key) = token_for(dir.path(), &allowed, &out, 600);
    let allowed = allowed.canonicalize().unwrap();
    let script = format!(
        "/bin/cat {} {} > {}/copy.txt",
        allowed.display(),
        secret.display(),
        out.display()
    );
    let r = exec(
        &tok,
        &key,
        &["--events", events.to_str().unwrap()],
        &["/bin/sh", "-c", &script],
    );
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let seen = events_in(&events);
    let file = |path: &str, write: bool| {
        seen.iter().any(|e| {
            e["event"] == "file" && e["op"] == "open" && e["path"] == path && e["write"] == write
        })
    };
    assert!(file(allowed.to_str().unwrap(), false), "{seen:#?}");
    let copy = out.canonicalize().unwrap().join("copy.txt");
    assert!(file(copy.to_str().unwrap(), true), "{seen:#?}");
    assert!(
        seen.iter().any(|e| e["event"] == "file"
            && e["op"] == "exec"
            && e["path"] == "/usr/bin/cat"
            || e["path"] == "/bin/cat"),
        "{seen:#?}"
    );
    let refusal = seen
        .iter()
        .find(|e| e["event"] == "syscall_refused" && e["comm"] == "cat")
        .unwrap_or_else(|| panic!("no refusal event: {seen:#?}"));
    assert_eq!(refusal["errno"], libc::EACCES);
    assert_eq!(refusal["name"], "openat");
    // What was refused, as `cat` named it (the run's other refusals, such
    // as the locale files, name theirs).
    let secret_refused = seen
        .iter()
        .find(|e| e["event"] == "syscall_refused" && e["path"] == secret.to_str().unwrap())
        .unwrap_or_else(|| panic!("no refusal names {}: {seen:#?}", secret.display()));
    assert_eq!(
        (
            &secret_refused["comm"],
            &secret_refused["name"],
            &secret_refused["errno"]
        ),
        (&"cat".into(), &"openat".into(), &libc::EACCES.into())
    );
    assert!(
        secret_refused.get("dirfd").is_none(),
        "AT_FDCWD is no dirfd"
    );
    for kind in ["exec", "fork", "exit"] {
        assert!(seen.iter().any(|e| e["event"] == kind), "no {kind} event");
    }
}

/// `warden exec` as uid 65534: the binary linked (or copied) where that user
/// can run it, the test's files readable by it.
fn unprivileged_warden(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let warden = bin.join("warden");
    if std::fs::hard_link(WARDEN, &warden).is_err() {
        std::fs::copy(WARDEN, &warden).unwrap();
    }
    for p in [dir, bin.as_path(), warden.as_path(), &dir.join("keys")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    warden
}

fn as_nobody(warden: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(warden);
    c
}

#[test]
fn an_unprivileged_run_is_supervised_and_fails_closed_without_its_launcher() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (readonly, out) = (root.join("readonly.txt"), root.join("out"));
    std::fs::create_dir(&out).unwrap();
    let (mine, later) = (out.join("mine"), out.join("later"));
    for f in [&readonly, &mine, &later] {
        std::fs::write(f, "x\n").unwrap();
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        chown(f, Some(65534), Some(65534)).unwrap();
    }
    chown(&out, Some(65534), Some(65534)).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    let (tok, key) = token_with(
        root,
        &readonly,
        &out,
        600,
        &[
            "/bin/sh",
            "/usr/bin/chmod",
            "/usr/bin/setsid",
            "/usr/bin/sleep",
        ],
    );
    let warden = unprivileged_warden(root);

    // Supervised: its own writable file's mode changes, the one it may only
    // read (its own too) does not, and warden says so.
    let script = format!(
        "chmod 600 {} && chmod 600 {}",
        mine.display(),
        readonly.display()
    );
    let run = as_nobody(&warden)
        .args([
            "exec", "--token", &tok, "--pub", &key, "--", "/bin/sh", "-c", &script,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("not root"), "{err}");
    assert!(err.contains("metadata changes"), "{err}");
    assert!(
        err.contains(&format!(
            "warden: refused fchmodat {:?}",
            readonly.display().to_string()
        )),
        "{err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!((mode(&mine), mode(&readonly)), (0o600, 0o644));

    // The launcher killed: a detached process of the run (no cgroup without
    // root) outlives it, and its chmod fails.
    let (ready, trigger, status, chmod_err) = (
        out.join("ready"),
        out.join("go"),
        out.join("status"),
        out.join("chmod.err"),
    );
    let inner = format!(
        "echo > {ready}; while [ ! -e {trigger} ]; do sleep 0.05; done; chmod 600 {later} 2> {chmod_err}; echo $? > {status}",
        ready = ready.display(),
        trigger = trigger.display(),
        later = later.display(),
        chmod_err = chmod_err.display(),
        status = status.display(),
    );
    // (`setsid -f`, not `&`: sh opens /dev/null for a background job, which
    // the run may not read.)
    let script = format!("setsid -f /bin/sh -c '{inner}'; exec sleep 600");
    let mut guard = RunGuard {
        warden: as_nobody(&warden)
            .args([
                "exec", "--quiet", "--token", &tok, "--pub", &key, "--", "/bin/sh", "-c", &script,
            ])
            .spawn()
            .unwrap(),
        cgroup: None,
    };
    let wait_for = |p: &Path| {
        for _ in 0..400 {
            if p.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("{} never appeared", p.display());
    };
    wait_for(&ready);
    guard.warden.kill().unwrap();
    guard.warden.wait().unwrap();
    std::fs::write(&trigger, "").unwrap();
    wait_for(&status);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let said = std::fs::read_to_string(&chmod_err).unwrap();
    assert!(said.contains("Function not implemented"), "{said}");
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "1");
    assert_eq!(mode(&later), 0o644);
}
