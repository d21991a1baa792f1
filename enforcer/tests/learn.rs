//! `enforcer::learn`: a small shell script that reads a file, writes one,
//! runs `/bin/true` and connects to a loopback listener is observed (root,
//! nothing refused), and the proposed plan names all of them and loads.

use enforcer::ebpf::JsonLines;
use enforcer::learn::{PlanOptions, observe};
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
    fs::write(&input, "data\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\n/bin/cat {} > /dev/null\necho done > {}\n/bin/true\n{PROBE} connect {port}\n",
            input.display(),
            output.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();

    let sink = JsonLines::new(fs::File::create(&events).unwrap());
    let (observation, _) = observe(&script, &[] as &[OsString], true, sink).unwrap();
    assert!(observation.status.success(), "the script failed");
    assert_eq!(fs::read_to_string(&output).unwrap(), "done\n");
    let seen = &observation.observed;
    let plan = seen
        .plan(&PlanOptions {
            tree_threshold: 0,
            ..PlanOptions::default()
        })
        .unwrap();

    let step = |kind: &str, what: &str| format!("{kind} {}", serde_json::to_string(what).unwrap());
    for needed in [
        step("exec", script.to_str().unwrap()),
        step("exec", "/bin/true"),
        step("exec", "/bin/cat"),
        step("exec", PROBE),
        step("read", input.to_str().unwrap()),
        step("write", output.to_str().unwrap()),
        format!("connect 127.0.0.1:{port}"),
    ] {
        assert!(plan.contains(&needed), "`{needed}` missing from\n{plan}");
    }
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
    // With aggregation, the files read in the script's directory (the script
    // itself, the input) become one tree.
    let aggregated = seen
        .plan(&PlanOptions {
            tree_threshold: 2,
            ..PlanOptions::default()
        })
        .unwrap();
    let tree = step("read", &format!("{}/**", dir.display()));
    assert!(
        aggregated.contains(&tree),
        "`{tree}` missing from\n{aggregated}"
    );
    assert!(
        aggregated.lines().count() < plan.lines().count(),
        "{aggregated}"
    );
    drop(listener);
}
