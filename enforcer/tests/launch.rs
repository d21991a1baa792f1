//! The launcher's contract: the command's own exit status, fail closed on a
//! missing required layer or a failed start, nothing left behind.

use enforcer::{FileRights, FileScope, KernelPolicy, Layer, RunError, RunOptions, launch};
use std::ffi::OsString;

/// Returns from the calling test, saying it was skipped and why, unless this
/// is root (`make test` runs the tests as root, then again unprivileged).
macro_rules! root_or_return {
    () => {
        if !testkit::root_or_skip!("the run's cgroup") {
            return;
        }
    };
}

fn shell_policy() -> KernelPolicy {
    let mut p = KernelPolicy::new();
    for dir in ["/usr/lib", "/lib", "/lib64"] {
        p.allow_path(dir, FileScope::Tree, FileRights::READ)
            .unwrap();
    }
    p.allow_path("/etc/ld.so.cache", FileScope::File, FileRights::READ)
        .unwrap();
    p.allow_exec("/bin/sh").unwrap();
    p
}

fn quiet() -> RunOptions {
    RunOptions {
        quiet: true,
        ..RunOptions::default()
    }
}

fn sh(script: &str) -> Vec<OsString> {
    vec!["-c".into(), script.into()]
}

#[test]
fn the_commands_exit_status_is_returned() {
    root_or_return!();
    let out = launch(&shell_policy(), &quiet(), "/bin/sh", &sh("exit 3")).unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = launch(&shell_policy(), &quiet(), "/bin/sh", &sh("exit 0")).unwrap();
    assert!(out.status.success());
}

#[test]
fn a_missing_required_layer_stops_the_run_before_it_starts() {
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let mut policy = shell_policy();
    policy
        .allow_path(
            dir.path(),
            FileScope::Tree,
            FileRights::WRITE | FileRights::CREATE,
        )
        .unwrap();
    let mut opts = quiet();
    opts.require.insert(Layer::BpfLsm);
    let script = format!("echo > {}", marker.display());
    let err = launch(&policy, &opts, "/bin/sh", &sh(&script)).unwrap_err();
    match err {
        RunError::RequiredLayerMissing { layer, .. } => assert_eq!(layer, "bpf-lsm"),
        other => panic!("unexpected {other}"),
    }
    assert!(
        !marker.exists(),
        "the command ran without its required layer"
    );
    // Without the requirement it runs, and may write where allowed.
    let out = launch(&policy, &quiet(), "/bin/sh", &sh(&script)).unwrap();
    assert!(out.status.success());
    assert!(marker.exists());
}

#[test]
fn a_program_outside_the_policy_does_not_start() {
    root_or_return!();
    let err = launch(&shell_policy(), &quiet(), "/bin/ls", &[]).unwrap_err();
    match err {
        RunError::Spawn { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(libc::EACCES))
        }
        other => panic!("unexpected {other}"),
    }
    let err = launch(&shell_policy(), &quiet(), "/no/such/program", &[]).unwrap_err();
    assert!(matches!(err, RunError::Spawn { .. }), "{err}");
}

#[test]
fn the_report_names_every_layer() {
    root_or_return!();
    let out = launch(&shell_policy(), &quiet(), "/bin/sh", &sh("true")).unwrap();
    let r = &out.layers;
    for layer in Layer::ALL {
        let applied = r.has(layer);
        let missing = r.missing.iter().any(|m| m.layer == layer);
        assert!(
            applied != missing,
            "{layer}: applied {applied}, missing {missing}"
        );
    }
    assert!(r.landlock.as_ref().unwrap().abi >= 4);
    let text = r.render();
    assert!(text.contains("layer landlock: ABI"), "{text}");
    assert!(text.contains("layer bpf-lsm not in use"), "{text}");
    assert!(!r.cgroup.as_ref().unwrap().path.exists());
}

#[test]
fn the_ebpf_layers_narrow_landlocks_port_rule_to_the_address() {
    root_or_return!();
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let probe = env!("CARGO_BIN_EXE_warden-escape-probe");
    let mut policy = shell_policy();
    policy.allow_exec(probe).unwrap();
    policy
        .allow_net(enforcer::NetRule::tcp_connect(
            "127.0.0.1/32".parse().unwrap(),
            listener.local_addr().unwrap().port(),
        ))
        .unwrap();
    let run = |addr: &str| {
        let layers = enforcer::ebpf::for_launcher(&policy, false).unwrap();
        let mut opts = quiet();
        opts.require.insert(Layer::EbpfCgroupSockAddr);
        enforcer::Run::new(&policy)
            .options(opts)
            .with_layer(Box::new(layers.sock_addr))
            .with_layer(Box::new(layers.tracepoints))
            .stdout(enforcer::Output::Null)
            .spawn(
                probe,
                &["connect-addr".into(), addr.into(), port.clone().into()],
            )
            .unwrap()
    };
    // The allowed address and port connect.
    let ok = run("127.0.0.1");
    assert_eq!(ok.status.code(), Some(0));
    assert!(ok.layers.has(Layer::EbpfTracepoints));
    // Same port, another loopback address: Landlock (ports only) lets it
    // through, the cgroup connect4 program refuses it.
    let refused = run("127.0.0.2");
    assert_eq!(refused.status.code(), Some(10));
}
