//! `enforcer::learn`: a small shell script that reads a file, writes one,
//! makes a directory, removes a file, changes a file's mode, runs
//! `/bin/true` and connects to a loopback listener is observed (root,
//! nothing refused), and the proposed plan names all of them, in the shapes
//! of the profile asked for, and loads.

use enforcer::ebpf::JsonLines;
use enforcer::learn::{PlanOptions, Profile, observe};
use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

const PROBE: &str = env!("CARGO_BIN_EXE_warden-escape-probe");

#[test]
fn a_script_is_learned_as_a_plan_that_covers_it() {
    if !testkit::root_or_skip!("learning observes the command with eBPF, in a cgroup of its own") {
        return;
    }
    let tmp = tempfile::Builder::new()
        .prefix("warden-learn-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let (input, output, script, events) = (
        dir.join("input.txt"),
        dir.join("output.txt"),
        dir.join("job.sh"),
        dir.join("events.jsonl"),
    );
    let (kept, gone) = (dir.join("kept.txt"), dir.join("gone.txt"));
    fs::write(&input, "data\n").unwrap();
    fs::write(&kept, "data\n").unwrap();
    fs::write(&gone, "data\n").unwrap();
    fs::write(dir.join("moved.txt"), "data\n").unwrap();
    fs::write(dir.join("replaced.txt"), "data\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\n/bin/cat {} > /dev/null\necho done > {}\n/bin/true\n{PROBE} connect {port}\n/bin/chmod 600 {}\n/bin/rm {}\n/bin/mkdir {}/sub\ncd {}\n/bin/mv moved.txt replaced.txt\n/bin/rm -f missing.txt\n",
            input.display(),
            output.display(),
            kept.display(),
            gone.display(),
            dir.display(),
            dir.display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();

    let sink = JsonLines::new(fs::File::create(&events).unwrap());
    let (observation, _) = observe(
        &script,
        &[] as &[OsString],
        true,
        enforcer::Output::Inherit,
        sink,
    )
    .unwrap();
    assert!(observation.status.success(), "the script failed");
    assert_eq!(fs::read_to_string(&output).unwrap(), "done\n");
    let seen = &observation.observed;
    let exact = |profile| {
        seen.plan(&PlanOptions {
            tree_threshold: 0,
            profile,
            ..PlanOptions::default()
        })
        .unwrap()
    };
    let plan = exact(Profile::RootBpfLsm);

    let step = |kind: &str, what: &str| format!("{kind} {}", serde_json::to_string(what).unwrap());
    let file = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    for needed in [
        // A script's arguments as the kernel has them once `#!` is read.
        format!("{} [{:?}]", step("exec", &file(&script)), file(&script)),
        step("exec", "/bin/true") + " []",
        format!("{} [{:?}]", step("exec", "/bin/cat"), file(&input)),
        format!("{} [\"connect\", \"{port}\"]", step("exec", PROBE)),
        step("read", &file(&input)),
        step("write", &file(&output)),
        step("write", &file(&dir.join("sub"))),
        step("write", &file(&kept)),
        step("delete", &file(&gone)),
        // A rename removes its old name, and replaces the new one: removed
        // and created (a relative path, resolved from the caller's cwd).
        step("delete", &file(&dir.join("moved.txt"))),
        step("delete", &file(&dir.join("replaced.txt"))),
        step("write", &file(&dir.join("replaced.txt"))),
        format!("connect 127.0.0.1:{port}"),
    ] {
        assert!(plan.contains(&needed), "`{needed}` missing from\n{plan}");
    }
    assert!(plan.contains("// its metadata changed (fchmodat"), "{plan}");
    // `rm -f` of a missing file removes nothing.
    assert!(
        !plan.contains("delete \"") || !plan.contains("missing.txt\"\n"),
        "{plan}"
    );
    // Without BPF LSM, what was created or removed is the directory's tree,
    // and says why; the file that existed (chmod) stays exact.
    let root = exact(Profile::Root);
    let tree = format!("{}/**", dir.display());
    for needed in [
        format!(
            "// created output.txt, replaced.txt, sub: without BPF LSM creation is granted on the whole directory tree\n  {}",
            step("write", &tree)
        ),
        format!(
            "// removed gone.txt, moved.txt, replaced.txt: without BPF LSM removal is granted on the whole directory tree\n  {}",
            step("delete", &tree)
        ),
    ] {
        assert!(root.contains(&needed), "`{needed}` missing from\n{root}");
    }
    // Unprivileged: programs without arguments, connects by port.
    let unprivileged = exact(Profile::Unprivileged);
    assert!(
        unprivileged.contains(&format!("{}\n", step("exec", "/bin/true"))),
        "{unprivileged}"
    );
    assert!(
        unprivileged.contains("Landlock checks the port only"),
        "{unprivileged}"
    );
    // The script's interpreter runs it, so it is proposed too.
    let sh = fs::canonicalize("/bin/sh").unwrap();
    assert!(plan.contains(&step("exec", sh.to_str().unwrap())), "{plan}");
    // Nothing was refused: observation only.
    let lines = fs::read_to_string(&events).unwrap();
    assert!(
        !lines.contains("\"verdict\":\"refused\""),
        "an observed run refused something: {lines}"
    );
    assert!(lines.contains("\"verdict\":\"observed\""), "{lines}");
    // The plan loads, and is in the canonical style.
    planlang::load_plan_str(&plan, "learned.plan").unwrap();
    assert_eq!(
        planlang::fmt_plan_source(&plan, "learned.plan").unwrap(),
        plan
    );
    drop(listener);
}
