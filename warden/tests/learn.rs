//! `warden learn -- CMD`: the plan it prints loads, is canonical
//! (`warden fmt --check` accepts it) and names what the command did.

use std::process::Command;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Returns from the calling test, saying it was skipped and why, unless this
/// is root (`make test` runs the tests as root, then again unprivileged).
macro_rules! root_or_return {
    () => {
        if !testkit::root_or_skip!(
            "warden learn observes the command with eBPF, in a cgroup of its own"
        ) {
            return;
        }
    };
}

#[test]
fn the_learned_plan_is_valid_and_covers_the_command() {
    root_or_return!();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let (input, output) = (dir.join("in.txt"), dir.join("out.txt"));
    std::fs::write(&input, "x\n").unwrap();
    let script = format!("/bin/cat {} > {}", input.display(), output.display());
    let r = Command::new(WARDEN)
        .args(["learn", "--name", "copy", "--profile", "root", "--"])
        .args(["/bin/sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    let plan = String::from_utf8(r.stdout).unwrap();
    assert!(plan.contains("plan \"copy\""), "{plan}");
    for step in [
        format!("read {:?}", input.display().to_string()),
        // Created: without BPF LSM, its directory's tree.
        format!("write {:?}", format!("{}/**", dir.display())),
        "// created out.txt: without BPF LSM creation is granted on the whole directory tree"
            .to_owned(),
        "exec \"/bin/sh\" [\"-c\",".to_owned(),
        format!("exec \"/bin/cat\" [{:?}]", input.display().to_string()),
    ] {
        assert!(plan.contains(&step), "`{step}` missing from\n{plan}");
    }
    assert!(stderr.contains("warden learn:"), "{stderr}");
    let file = dir.join("learned.plan");
    std::fs::write(&file, &plan).unwrap();
    let check = Command::new(WARDEN)
        .args(["fmt", "--check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let parse = Command::new(WARDEN)
        .arg("parse")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        parse.status.success(),
        "{}",
        String::from_utf8_lossy(&parse.stderr)
    );

    // Bad input changes nothing: an events file that cannot be created.
    let r = Command::new(WARDEN)
        .args([
            "learn",
            "--events",
            "/nonexistent/dir/e.jsonl",
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn what_the_system_refused_is_listed_never_learned() {
    root_or_return!();
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().canonicalize().unwrap().join("secret.txt");
    std::fs::write(&secret, "x\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // As nobody, the root-only file cannot be opened (and the loader is not
    // sent to look for libraries in root's toolchain).
    let r = Command::new(WARDEN)
        .env_remove("LD_LIBRARY_PATH")
        .args([
            "learn",
            "--",
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", "/bin/cat"])
        .arg(&secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    let line = format!("  openat {}: EACCES", secret.display());
    assert!(
        stderr.contains("the system refused (not in the plan)") && stderr.contains(&line),
        "{stderr}"
    );
    let plan = String::from_utf8(r.stdout).unwrap();
    // The goal line and the exec steps quote the command; no file step
    // names the file.
    assert!(
        !plan.lines().any(|l| l.contains("secret.txt")
            && ["read", "write", "delete"]
                .iter()
                .any(|k| l.trim_start().starts_with(k))),
        "{plan}"
    );
    // A directory that holds a secret is never made a tree by the
    // threshold (the files read in /etc stay files).
    assert!(!plan.contains("read \"/etc/**\""), "{plan}");
}

/// Standard output is the plan and nothing else: a command that prints
/// text that would break a plan (an unbalanced brace, a step) has it on
/// warden's stderr, or in `--command-output FILE`.
#[test]
fn stdout_is_the_plan_whatever_the_command_prints() {
    root_or_return!();
    let tmp = tempfile::tempdir().unwrap();
    let noise = "} plan \"evil\" { exec \"/bin/sh\"\n";
    let script = format!("printf '%s' '{noise}'; printf 'to stderr\\n' >&2");
    let r = Command::new(WARDEN)
        .args(["learn", "--quiet", "--", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let plan = String::from_utf8(r.stdout).unwrap();
    planlang::load_plan_str(&plan, "p.plan").unwrap();
    assert!(plan.starts_with("// Proposed by `warden learn`"), "{plan}");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains(noise) && stderr.contains("to stderr"),
        "{stderr}"
    );

    let out = tmp.path().join("out.txt");
    let r = Command::new(WARDEN)
        .args(["learn", "--quiet", "--command-output"])
        .arg(&out)
        .args(["--", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    assert!(r.status.success());
    let plan = String::from_utf8(r.stdout).unwrap();
    planlang::load_plan_str(&plan, "p.plan").unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), noise);
    assert!(!String::from_utf8_lossy(&r.stderr).contains("evil"));
}

/// `--spec S` leaves out the steps S's baseline grants; they are listed in
/// a comment, not as steps.
#[test]
fn the_steps_a_specs_baseline_grants_are_left_out() {
    root_or_return!();
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("base.spec");
    std::fs::write(
        &spec,
        "spec \"base\" {\n  baseline {\n    read under \"/usr/lib/\"\n    read \"/etc/ld.so.cache\"\n  }\n}\n",
    )
    .unwrap();
    let r = Command::new(WARDEN)
        .args(["learn", "--quiet", "--spec"])
        .arg(&spec)
        .args(["--", "/bin/cat", "/etc/hostname"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let plan = String::from_utf8(r.stdout).unwrap();
    let steps: Vec<&str> = plan
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("read "))
        .collect();
    assert!(steps.contains(&"read \"/etc/hostname\""), "{plan}");
    assert!(
        !steps
            .iter()
            .any(|l| l.contains("/usr/lib/") || l.contains("ld.so.cache")),
        "{plan}"
    );
    assert!(plan.contains("//   read \"/etc/ld.so.cache\""), "{plan}");
}
