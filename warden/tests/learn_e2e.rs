//! From an observed run to a token, end to end, on everyday tools (root).
//!
//! For each command: an unconfined run gives the reference (exit status,
//! output, the files it makes); `warden learn --emit-spec` proposes a plan
//! and a starter spec (every starter rule is checked to be one learned step
//! in its enforced shape, and `read "/etc/shadow"` stays refused);
//! `warden issue` proves the plan against it; `warden exec` under the token
//! must give the same status, output and files. Then a rule a learned step
//! needs is removed: `warden issue` refuses naming that step, and a token
//! for the plan without that step makes the command fail at run time
//! (EACCES/EPERM, or a kill for an exec). `cargo build` of a tiny crate:
//! the learned token also kills `cargo publish`. One line per command with
//! its learned and widened step counts is printed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Runs `warden ARGS...` without colours.
fn warden(args: &[&str]) -> Output {
    Command::new(WARDEN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// One everyday command.
struct Case {
    name: &'static str,
    cwd: PathBuf,
    cmd: Vec<String>,
    /// Extra environment (over a fixed minimal one).
    env: Vec<(String, String)>,
    /// Restores the state the command starts from.
    reset: Box<dyn Fn()>,
    /// What the run leaves that must be the same confined (a listing, a
    /// file's content), read after the run.
    result: Box<dyn Fn() -> String>,
    /// The start of the plan line of a step the command needs: its rule
    /// is removed from the starter spec, then the step from the plan.
    needed: String,
    /// Normalises stdout where runs differ (`ls -la` times).
    normalise: fn(&str) -> String,
}

fn same(s: &str) -> String {
    s.to_owned()
}

/// `ls -la` without its times (and the `total` line).
fn without_times(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("total"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 8 {
                format!(
                    "{} {} {} {} {} {}",
                    f[0],
                    f[1],
                    f[2],
                    f[3],
                    f[4],
                    f[8..].join(" ")
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Hex runs of 7 or more characters (commit hashes) as `HASH`.
fn without_hashes(s: &str) -> String {
    s.split_inclusive(|c: char| !c.is_ascii_hexdigit())
        .map(|w| {
            let hex = w.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
            if hex.len() >= 7 {
                w.replacen(hex, "HASH", 1)
            } else {
                w.to_owned()
            }
        })
        .collect()
}

fn sh(cwd: &Path, script: &str) {
    let st = Command::new("/bin/sh")
        .args(["-c", script])
        .current_dir(cwd)
        .envs(base_env())
        .status()
        .unwrap();
    assert!(st.success(), "setup `{script}` failed");
}

fn capture(cwd: &Path, script: &str) -> String {
    let o = Command::new("/bin/sh")
        .args(["-c", script])
        .current_dir(cwd)
        .envs(base_env())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The commands' empty home directory (removed at the end of the test).
fn home_dir() -> PathBuf {
    std::env::temp_dir().join(format!("warden-e2e-home-{}", std::process::id()))
}

/// The environment every command gets (nothing of the test's own).
fn base_env() -> Vec<(String, String)> {
    let home = home_dir();
    std::fs::create_dir_all(&home).unwrap();
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LC_ALL", "C"),
        ("TZ", "UTC"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_AUTHOR_NAME", "A"),
        ("GIT_AUTHOR_EMAIL", "a@example.com"),
        ("GIT_COMMITTER_NAME", "A"),
        ("GIT_COMMITTER_EMAIL", "a@example.com"),
        ("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z"),
        ("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([("HOME".to_owned(), home.display().to_string())])
    .collect()
}

/// Runs the case's command (unconfined when `pre` is empty, else as
/// `warden PRE... CMD...`).
fn run(case: &Case, pre: &[&str]) -> Output {
    let mut c = if pre.is_empty() {
        let mut c = Command::new(&case.cmd[0]);
        c.args(&case.cmd[1..]);
        c
    } else {
        let mut c = Command::new(WARDEN);
        c.args(pre).args(&case.cmd);
        c
    };
    c.current_dir(&case.cwd)
        .env_clear()
        .envs(base_env())
        .envs(case.env.iter().cloned())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The plan lines that are steps, and how many of them have a reason
/// (a comment line right above: widened).
fn count_steps(plan: &str) -> (usize, usize) {
    let (mut steps, mut widened, mut why) = (0, 0, false);
    for line in plan.lines() {
        let l = line.trim_start();
        if l.starts_with("//   ") || l.starts_with("// Observed too") {
            continue;
        }
        if l.starts_with("//") {
            why = true;
            continue;
        }
        if ["exec ", "read ", "write ", "delete ", "connect ", "listen "]
            .iter()
            .any(|k| l.starts_with(k))
        {
            steps += 1;
            widened += usize::from(why);
        }
        why = false;
    }
    (steps, widened)
}

/// Every rule of the starter spec is one learned step in its enforced
/// shape (or, for the baseline, one step the plan lists as granted by
/// it), and nothing else: checked by rewriting each rule as the step it
/// was made from.
fn assert_no_wider(spec: &str, plan: &str) {
    let steps: BTreeSet<String> = plan
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.starts_with("//") || l.starts_with("//   "))
        .map(|l| l.trim_start_matches("//   ").to_owned())
        .collect();
    let tree = |target: &str| -> String {
        match target.strip_prefix("under ") {
            Some(dir) => {
                let dir = dir.trim_matches('"').trim_end_matches('/');
                format!("\"{dir}/**\"")
            }
            None => target.to_owned(),
        }
    };
    let mut in_baseline = false;
    for line in spec.lines().map(str::trim) {
        if line.starts_with("baseline {") {
            in_baseline = true;
            continue;
        }
        if line == "}" {
            in_baseline = false;
            continue;
        }
        if line.is_empty() || line.starts_with("//") || line.starts_with("spec ") {
            continue;
        }
        if line.starts_with("deny ") {
            continue;
        }
        let rule = if in_baseline {
            line.to_owned()
        } else {
            line.strip_prefix("allow ")
                .unwrap_or_else(|| panic!("a starter rule that is no allow: {line}"))
                .to_owned()
        };
        let (kind, rest) = rule.split_once(' ').unwrap();
        let wanted: Vec<String> = match kind {
            "read" | "write" | "delete" => vec![format!("{kind} {}", tree(rest))],
            "exec" => match rest.split_once(" when ") {
                None => vec![format!("exec {rest}")],
                Some((program, conds)) => conds
                    .split(" or ")
                    .map(|c| {
                        let list = c.strip_prefix("argv == ").unwrap();
                        format!("exec {program} {list}")
                    })
                    .collect(),
            },
            "connect" if rest.starts_with('"') => vec![format!("connect {rest}")],
            "connect" => {
                let ip = rest
                    .strip_prefix("ip in ")
                    .and_then(|r| r.split_once(" and port == "));
                match ip {
                    Some((ip, port)) => vec![format!("connect {ip}:{port}")],
                    None => panic!("a connect rule without an address: {line}"),
                }
            }
            "listen" => vec![format!("listen {}", rest.strip_prefix("port == ").unwrap())],
            _ => panic!("an unexpected starter rule: {line}"),
        };
        for w in wanted {
            assert!(
                steps.contains(&w),
                "starter rule `{line}` is not a learned step (`{w}`):\n{plan}\n{spec}"
            );
        }
    }
}

/// A tiny HTTP server on loopback: answers every GET with `body`.
fn http_server(body: &'static str) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        while !flag.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    let _ = write!(
                        s,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
                        body.len()
                    );
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    });
    (port, stop)
}

fn require(program: &str) {
    assert!(
        Path::new(program).exists(),
        "{program} is needed by the end-to-end test (scripts/deps.sh installs it)"
    );
}

fn git_repo(dir: &Path, staged: bool) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    sh(
        dir,
        "git init -q -b main . && echo one > a.txt && git add a.txt && git commit -q -m init && echo two > b.txt && echo more >> a.txt",
    );
    if staged {
        sh(dir, "git add b.txt");
    }
}

fn cases(root: &Path, port: u16) -> Vec<Case> {
    let git = "/usr/local/bin/git";
    let git = if Path::new(git).exists() {
        git
    } else {
        "/usr/bin/git"
    };
    for p in [
        git,
        "/usr/bin/python3",
        "/usr/bin/node",
        "/usr/bin/tar",
        "/usr/bin/curl",
    ] {
        require(p);
    }
    let mut out = Vec::new();
    let repo = |n: &str| root.join(n).join("repo");
    let status_repo = repo("git-status");
    let r = status_repo.clone();
    let r2 = status_repo.clone();
    out.push(Case {
        name: "git status",
        cwd: status_repo.clone(),
        cmd: vec![git.into(), "status".into(), "--short".into()],
        env: vec![],
        reset: Box::new(move || git_repo(&r, false)),
        result: Box::new(move || capture(&r2, "git status --short")),
        needed: format!("read {:?}", format!("{}/**", status_repo.display())),
        normalise: same,
    });
    let add_repo = repo("git-add");
    let (r, r2) = (add_repo.clone(), add_repo.clone());
    out.push(Case {
        name: "git add",
        cwd: add_repo.clone(),
        cmd: vec![git.into(), "add".into(), "b.txt".into()],
        env: vec![],
        reset: Box::new(move || git_repo(&r, false)),
        result: Box::new(move || capture(&r2, "git diff --cached --name-only")),
        needed: format!("write {:?}", format!("{}/.git/**", add_repo.display())),
        normalise: same,
    });
    let commit_repo = repo("git-commit");
    let (r, r2) = (commit_repo.clone(), commit_repo.clone());
    out.push(Case {
        name: "git commit",
        cwd: commit_repo.clone(),
        cmd: vec![
            git.into(),
            "commit".into(),
            "-q".into(),
            "-m".into(),
            "second".into(),
        ],
        env: vec![],
        reset: Box::new(move || git_repo(&r, true)),
        result: Box::new(move || without_hashes(&capture(&r2, "git log --format='%H %s'"))),
        needed: format!("write {:?}", format!("{}/.git/**", commit_repo.display())),
        normalise: without_hashes,
    });

    let py = root.join("python");
    std::fs::create_dir_all(&py).unwrap();
    std::fs::write(
        py.join("job.py"),
        "import json, hashlib, collections, re, datetime\n\
         d = {'sum': sum(range(10)), 'h': hashlib.sha256(b'x').hexdigest()[:8],\n\
              'c': collections.Counter('abca').most_common(1), 'r': re.sub('a', 'b', 'aa')}\n\
         with open('out.json', 'w') as f:\n    json.dump(d, f)\nprint(json.dumps(d))\n",
    )
    .unwrap();
    let (p, p2) = (py.clone(), py.clone());
    out.push(Case {
        name: "python script",
        cwd: py.clone(),
        cmd: vec!["/usr/bin/python3".into(), "job.py".into()],
        env: vec![("PYTHONDONTWRITEBYTECODE".into(), "1".into())],
        reset: Box::new(move || {
            let _ = std::fs::remove_file(p.join("out.json"));
        }),
        result: Box::new(move || std::fs::read_to_string(p2.join("out.json")).unwrap_or_default()),
        needed: format!("write {:?}", format!("{}/**", py.display())),
        normalise: same,
    });

    let js = root.join("node");
    std::fs::create_dir_all(&js).unwrap();
    std::fs::write(
        js.join("job.js"),
        "const fs = require('fs'); const path = require('path');\n\
         const data = { n: [1, 2, 3].map(x => x * 2), p: path.basename(__filename) };\n\
         fs.writeFileSync(path.join(__dirname, 'out.json'), JSON.stringify(data));\n\
         console.log(JSON.stringify(data));\n",
    )
    .unwrap();
    let (j, j2) = (js.clone(), js.clone());
    out.push(Case {
        name: "node script",
        cwd: js.clone(),
        cmd: vec!["/usr/bin/node".into(), "job.js".into()],
        env: vec![],
        reset: Box::new(move || {
            let _ = std::fs::remove_file(j.join("out.json"));
        }),
        result: Box::new(move || std::fs::read_to_string(j2.join("out.json")).unwrap_or_default()),
        needed: format!("read {:?}", js.join("job.js").display().to_string()),
        normalise: same,
    });

    let tar = root.join("tar");
    std::fs::create_dir_all(tar.join("src/sub")).unwrap();
    sh(
        &tar,
        "for i in 1 2 3; do echo $i > src/f$i; done; echo s > src/sub/s; touch -d 2024-01-01 src src/* src/sub/*",
    );
    let (t, t2) = (tar.clone(), tar.clone());
    out.push(Case {
        name: "tar create",
        cwd: tar.clone(),
        cmd: vec![
            "/usr/bin/tar".into(),
            "czf".into(),
            "out.tgz".into(),
            "src".into(),
        ],
        env: vec![],
        reset: Box::new(move || {
            let _ = std::fs::remove_file(t.join("out.tgz"));
        }),
        result: Box::new(move || capture(&t2, "tar tzvf out.tgz")),
        needed: format!("read {:?}", format!("{}/src/**", tar.display())),
        normalise: same,
    });
    let untar = root.join("untar");
    std::fs::create_dir_all(&untar).unwrap();
    sh(&untar, &format!("tar czf in.tgz -C {} src", tar.display()));
    let (u, u2) = (untar.clone(), untar.clone());
    out.push(Case {
        name: "tar extract",
        cwd: untar.clone(),
        cmd: vec![
            "/usr/bin/tar".into(),
            "xzf".into(),
            "in.tgz".into(),
            "-C".into(),
            "x".into(),
        ],
        env: vec![],
        reset: Box::new(move || {
            let _ = std::fs::remove_dir_all(u.join("x"));
            std::fs::create_dir_all(u.join("x")).unwrap();
        }),
        result: Box::new(move || {
            capture(
                &u2,
                "find x/src -exec stat -c '%n %s %a %Y' {} + | sort && cat x/src/f1 x/src/sub/s",
            )
        }),
        needed: format!("write {:?}", format!("{}/x/**", untar.display())),
        normalise: same,
    });

    let pipe = root.join("pipeline");
    std::fs::create_dir_all(&pipe).unwrap();
    std::fs::write(pipe.join("in.txt"), "pear\napple\nfig\nbanana\napricot\n").unwrap();
    let (q, q2) = (pipe.clone(), pipe.clone());
    out.push(Case {
        name: "sort | grep",
        cwd: pipe.clone(),
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "/usr/bin/sort in.txt > sorted.txt && /usr/bin/grep '^a' sorted.txt > a.txt && /usr/bin/sort -r in.txt | /usr/bin/grep -c a > count.txt".into(),
        ],
        env: vec![],
        reset: Box::new(move || {
            for f in ["sorted.txt", "a.txt", "count.txt"] {
                let _ = std::fs::remove_file(q.join(f));
            }
        }),
        result: Box::new(move || capture(&q2, "cat sorted.txt a.txt count.txt")),
        needed: "exec \"/usr/bin/grep\" [\"-c\"".to_owned(),
        normalise: same,
    });

    let list = root.join("ls");
    std::fs::create_dir_all(list.join("d/sub")).unwrap();
    std::fs::write(list.join("d/x.txt"), "x").unwrap();
    std::fs::write(list.join("d/y.txt"), "yy").unwrap();
    out.push(Case {
        name: "ls -la",
        cwd: list.clone(),
        cmd: vec!["/usr/bin/ls".into(), "-la".into(), "d".into()],
        env: vec![],
        reset: Box::new(|| {}),
        result: Box::new(String::new),
        needed: format!("read {:?}", format!("{}/d/**", list.display())),
        normalise: without_times,
    });

    let fetch = root.join("curl");
    std::fs::create_dir_all(&fetch).unwrap();
    out.push(Case {
        name: "curl http",
        cwd: fetch,
        cmd: vec![
            "/usr/bin/curl".into(),
            "-sS".into(),
            format!("http://127.0.0.1:{port}/hello.txt"),
        ],
        env: vec![],
        reset: Box::new(|| {}),
        result: Box::new(String::new),
        needed: format!("connect 127.0.0.1:{port}"),
        normalise: same,
    });

    // A toolchain: the cargo that runs this test, its rustc, offline.
    let cargo = PathBuf::from(env!("CARGO"));
    let rustc = cargo.with_file_name("rustc");
    let krate = root.join("crate");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::create_dir_all(krate.join("home")).unwrap();
    std::fs::create_dir_all(krate.join("tmp")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    )
    .unwrap();
    std::fs::write(
        krate.join("src/main.rs"),
        "fn main() { println!(\"tiny {}\", 6 * 7); }\n",
    )
    .unwrap();
    let (k, k2) = (krate.clone(), krate.clone());
    out.push(Case {
        name: "cargo build",
        cwd: krate.clone(),
        cmd: vec![
            cargo.display().to_string(),
            "build".into(),
            "--offline".into(),
            "-q".into(),
        ],
        env: vec![
            (
                "CARGO_HOME".into(),
                krate.join("home").display().to_string(),
            ),
            (
                "CARGO_TARGET_DIR".into(),
                krate.join("target").display().to_string(),
            ),
            ("RUSTC".into(), rustc.display().to_string()),
            ("TMPDIR".into(), krate.join("tmp").display().to_string()),
            ("CARGO_INCREMENTAL".into(), "0".into()),
        ],
        reset: Box::new(move || {
            let _ = std::fs::remove_dir_all(k.join("target"));
            let _ = std::fs::remove_file(k.join("Cargo.lock"));
        }),
        result: Box::new(move || capture(&k2, "target/debug/tiny")),
        needed: format!("write {:?}", format!("{}/**", krate.display())),
        normalise: same,
    });
    out
}

fn failed_for_lack_of_a_grant(o: &Output) -> bool {
    let stderr = text(&o.stderr);
    o.status.signal() == Some(libc::SIGKILL)
        || o.status.code() == Some(128 + libc::SIGKILL)
        || stderr.contains("Permission denied")
        || stderr.contains("Operation not permitted")
        || stderr.contains("EACCES")
        || stderr.contains("EPERM")
        // A connect the eBPF programs refused (EPERM), as warden reports it.
        || stderr.contains("the eBPF layers refused")
}

#[test]
fn everyday_commands_run_under_the_token_learned_from_them() {
    if !testkit::root_or_skip!(
        "warden learn observes each command with eBPF, in a cgroup of its own"
    ) {
        return;
    }
    let started = std::time::Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("warden-e2e-")
        .tempdir()
        .unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let keys = root.join("keys");
    let o = warden(&["keygen", "--out", keys.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (key, public) = (keys.join("warden.key"), keys.join("warden.pub"));
    let (port, stop) = http_server("hello from the test server\n");
    let mut profile = String::new();

    let mut table = Vec::new();
    let mut failures = Vec::new();
    for case in cases(&root, port) {
        let files = root.join(format!(
            "learned-{}",
            case.name.replace(' ', "-").replace('|', "")
        ));
        std::fs::create_dir_all(&files).unwrap();
        let (plan_file, spec_file, out_file) = (
            files.join("learned.plan"),
            files.join("learned.spec"),
            files.join("command.out"),
        );
        // The reference: unconfined.
        (case.reset)();
        let reference = run(&case, &[]);
        let ref_result = (case.result)();
        assert!(
            reference.status.success(),
            "{}: the unconfined run failed: {}",
            case.name,
            text(&reference.stderr)
        );
        // Learned.
        (case.reset)();
        let learn = run(
            &case,
            &[
                "learn",
                "--quiet",
                "--emit-spec",
                spec_file.to_str().unwrap(),
                "--command-output",
                out_file.to_str().unwrap(),
                "--",
            ],
        );
        assert!(
            learn.status.success(),
            "{}: {}",
            case.name,
            text(&learn.stderr)
        );
        let plan = text(&learn.stdout);
        std::fs::write(&plan_file, &plan).unwrap();
        if let Some(p) = plan.split("in the shapes of the ").nth(1) {
            profile = p.split(' ').next().unwrap_or_default().to_owned();
        }
        let spec = std::fs::read_to_string(&spec_file).unwrap();
        planlang::load_plan_str(&plan, "learned.plan").unwrap();
        assert_eq!(
            (case.normalise)(&std::fs::read_to_string(&out_file).unwrap()),
            (case.normalise)(&text(&reference.stdout)),
            "{}: the observed run's output differs",
            case.name
        );
        assert_no_wider(&spec, &plan);
        let (steps, widened) = count_steps(&plan);
        table.push(format!(
            "{:<14} {steps:>3} learned steps, {widened:>3} widened",
            case.name
        ));
        // A secret stays refused by the starter spec.
        let shadow = files.join("shadow.plan");
        std::fs::write(&shadow, "plan \"s\" {\n  read \"/etc/shadow\"\n}\n").unwrap();
        let o = warden(&[
            "check",
            shadow.to_str().unwrap(),
            "--spec",
            spec_file.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}: /etc/shadow is not refused\n{spec}",
            case.name
        );

        // Issued and run under the token.
        let issue = |plan: &Path, spec: &Path, token: &Path| -> Output {
            let o = warden(&[
                "issue",
                plan.to_str().unwrap(),
                "--spec",
                spec.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ]);
            if o.status.success() {
                std::fs::write(token, &o.stdout).unwrap();
            }
            o
        };
        let token = files.join("learned.tok");
        let o = issue(&plan_file, &spec_file, &token);
        if !o.status.success() {
            failures.push(format!(
                "{}: warden issue refused the learned plan against its starter spec:\n{}\n{plan}",
                case.name,
                text(&o.stderr)
            ));
            continue;
        }
        let exec = |token: &Path, quiet: bool| {
            (case.reset)();
            run(
                &case,
                &[
                    "exec",
                    if quiet {
                        "--quiet"
                    } else {
                        "--require=landlock"
                    },
                    "--token",
                    token.to_str().unwrap(),
                    "--pub",
                    public.to_str().unwrap(),
                    "--",
                ],
            )
        };
        let confined = exec(&token, true);
        let result = (case.result)();
        if confined.status.code() != reference.status.code()
            || (case.normalise)(&text(&confined.stdout))
                != (case.normalise)(&text(&reference.stdout))
            || result != ref_result
        {
            failures.push(format!(
                "{}: confined run differs: {} vs {}\nstdout: {}\nreference: {}\nresult: {result}\nreference result: {ref_result}\nstderr: {}\n{plan}",
                case.name,
                confined.status,
                reference.status,
                text(&confined.stdout),
                text(&reference.stdout),
                text(&confined.stderr)
            ));
            continue;
        }

        // The rule a learned step needs, removed: refused naming the step.
        let needed = plan
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&case.needed))
            .unwrap_or_else(|| panic!("{}: no step `{}` in\n{plan}", case.name, case.needed))
            .to_owned();
        let narrower: String = spec
            .lines()
            .filter(|l| {
                !rule_of(&needed)
                    .is_some_and(|r| l.trim() == r || l.trim().starts_with(&format!("{r} when ")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(narrower, spec, "{}: no rule for `{needed}`", case.name);
        let narrower_file = files.join("narrower.spec");
        std::fs::write(&narrower_file, &narrower).unwrap();
        let o = issue(&plan_file, &narrower_file, &files.join("never.tok"));
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}: issued without the rule for `{needed}`",
            case.name
        );
        assert!(
            text(&o.stderr).contains(&needed),
            "{}: the refusal does not name `{needed}`:\n{}",
            case.name,
            text(&o.stderr)
        );
        // The plan without the step: issued, and the command fails.
        let without: String = plan
            .lines()
            .filter(|l| l.trim() != needed)
            .map(|l| format!("{l}\n"))
            .collect();
        let without_file = files.join("without.plan");
        std::fs::write(&without_file, &without).unwrap();
        let token_without = files.join("without.tok");
        let o = issue(&without_file, &spec_file, &token_without);
        assert!(o.status.success(), "{}: {}", case.name, text(&o.stderr));
        let o = exec(&token_without, false);
        assert!(
            !o.status.success() && failed_for_lack_of_a_grant(&o),
            "{}: without `{needed}` the command did not fail for lack of a grant: {}\n{}",
            case.name,
            o.status,
            text(&o.stderr)
        );

        if case.name == "cargo build" {
            // Its exec arguments are outside the envelope: killed.
            let publish = Case {
                cmd: vec![case.cmd[0].clone(), "publish".into(), "--offline".into()],
                ..case
            };
            let o = run(
                &publish,
                &[
                    "exec",
                    "--quiet",
                    "--token",
                    token.to_str().unwrap(),
                    "--pub",
                    public.to_str().unwrap(),
                    "--",
                ],
            );
            assert!(
                o.status.signal() == Some(libc::SIGKILL) || o.status.code() == Some(137),
                "cargo publish was not killed: {}\n{}",
                o.status,
                text(&o.stderr)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    // Straight to the test's stderr, past the harness's capture: the table
    // shows whether the test passes or not.
    let mut report = format!(
        "warden learn end to end (profile {profile}, the best of this machine; {:.0?}):\n",
        started.elapsed()
    );
    for line in &table {
        report.push_str(&format!("  {line}\n"));
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
    let _ = std::fs::remove_dir_all(home_dir());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The starter rule made from a plan step (`read "/d/**"` is `allow read
/// under "/d/"`); `None` for a step whose rule is not one line of its own.
fn rule_of(step: &str) -> Option<String> {
    let (kind, rest) = step.split_once(' ')?;
    Some(match kind {
        "read" | "write" | "delete" => match rest.strip_suffix("/**\"") {
            Some(dir) => format!("allow {kind} under {dir}/\""),
            None => format!("allow {kind} {rest}"),
        },
        "exec" => {
            let program = rest.split(' ').next()?;
            format!("allow exec {program}")
        }
        "connect" => match rest.rsplit_once(':') {
            Some((ip, port)) if !rest.starts_with('"') => {
                format!("allow connect ip in {ip} and port == {port}")
            }
            _ => format!("allow connect {rest}"),
        },
        "listen" => format!("allow listen port == {rest}"),
        _ => return None,
    })
}
