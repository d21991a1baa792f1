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
        .args(["learn", "--name", "copy", "--", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    let plan = String::from_utf8(r.stdout).unwrap();
    assert!(plan.contains("plan \"copy\""), "{plan}");
    for step in [
        format!("read {:?}", input.display().to_string()),
        format!("write {:?}", output.display().to_string()),
        "exec \"/bin/sh\"".to_owned(),
        "exec \"/bin/cat\"".to_owned(),
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
    // The goal line quotes the command; no step names the file.
    assert!(
        !plan
            .lines()
            .any(|l| l.contains("secret.txt") && !l.trim_start().starts_with("goal")),
        "{plan}"
    );
}
