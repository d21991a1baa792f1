//! `warden doctor`: every layer listed, for people and as JSON.

use std::process::Command;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

#[test]
fn doctor_lists_every_layer_as_json() {
    let out = Command::new(WARDEN)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = v["layers"].as_array().unwrap();
    let names: Vec<&str> = layers
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "landlock",
            "seccomp",
            "cgroup",
            "ebpf-cgroup-sock-addr",
            "ebpf-tracepoints",
            "bpf-lsm"
        ]
    );
    for l in layers {
        assert!(l["supported"].is_boolean());
        assert!(!l["detail"].as_str().unwrap().is_empty());
    }
    // Landlock needs no privilege and is on every supported kernel.
    assert_eq!(layers[0]["supported"], true);
}

#[test]
fn doctor_prints_a_table_for_people() {
    let out = Command::new(WARDEN).arg("doctor").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // One line per layer; under each, indented, the shapes it enforces here.
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(
        text.lines().any(|l| l
            .trim_start()
            .starts_with("- exec by the executed file's inode"))
            || !rows[4].contains(" yes "),
        "{text}"
    );
    assert!(
        text.lines().next().unwrap().starts_with("landlock"),
        "{text}"
    );
}
