//! The enforcer's check at run start ([`enforcer::proven`]) against real
//! proofs: tokens whose enforcement profiles the verifier proved (or
//! refused) for a spec. Here, beside the verifier, because the enforcer
//! itself links no solver.

use enforcer::layer::Layer;
use enforcer::policy::{FileRights, FileScope, KernelPolicy};
use enforcer::proven::*;
use std::net::IpAddr;
use std::path::Path;
use token::Claims;
use verifier::CompiledSpec;
use warden_core::claims::profile_digest;
use warden_core::envelope::{
    Envelope, ExecGrant, FileAccess, FileGrant, ListenGrant, PathTarget, ValueMatch,
};
use warden_core::shape::Profile;
use warden_core::value::Value;
use warden_core::within::NotWithin;

fn claims_for(spec: &str, envelope: serde_json::Value) -> Claims {
    let loaded = planlang::load_spec_str(spec, "t.spec").unwrap();
    let mut compiled = CompiledSpec::compile(&loaded).unwrap();
    compiled.options.timeout_ms = 60_000;
    let mut env = serde_json::json!({
        "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
        "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
    });
    for (k, v) in envelope.as_object().unwrap() {
        env[k] = v.clone();
    }
    let env: warden_core::envelope::Envelope = serde_json::from_value(env).unwrap();
    let mut claims: Claims = warden_core::claims::example();
    claims.envelope = env;
    claims.enforcement =
        verifier::enforcement::prove_profiles(&compiled, &claims.envelope).unwrap();
    claims
}

fn glob_claims() -> Claims {
    claims_for(
        r#"spec "s" {
  allow write under "/tmp/out/" when path endswith ".tmp"
  deny write under "/tmp/out/" when path endswith ".sh"
}"#,
        serde_json::json!({"files": [
            {"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}}
        ]}),
    )
}

#[test]
fn the_richest_proven_profile_the_machine_applies_is_chosen() {
    let claims = claims_for(
        r#"spec "s" { allow read under "/srv/" }"#,
        serde_json::json!({"files": [
            {"access": "read", "target": {"shape": "exact", "path": "/srv/a"}}
        ]}),
    );
    let s = select(&claims, &[], |_| Ok(())).unwrap();
    assert_eq!(s.profile, Profile::RootBpfLsm);
    let s = select(&claims, &[], |p| {
        if p == Profile::Unprivileged {
            Ok(())
        } else {
            Err("not root".into())
        }
    })
    .unwrap();
    assert_eq!(s.profile, Profile::Unprivileged);
    assert_eq!(required_layers(s.profile).len(), 2);
}

#[test]
fn a_widening_refuses_to_start_without_the_lsm_with_the_counterexample() {
    let claims = glob_claims();
    let mut asked = Vec::new();
    let err = select(&claims, &[], |p| {
        asked.push(p);
        if p == Profile::RootBpfLsm {
            Err("the kernel refuses lsm programs (EPERM)".into())
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    // Only the proven profile was probed.
    assert_eq!(asked, [Profile::RootBpfLsm]);
    let text = err.to_string();
    assert!(
        text.contains("root+bpf-lsm: proven, but this machine cannot apply it"),
        "{text}"
    );
    assert!(
        text.contains(
            "root: not proven at issue time: the kernel would enforce `write under \"/tmp/out\"`"
        ),
        "{text}"
    );
    assert!(text.contains("lets `write \"/tmp/out/"), "{text}");
    // With the LSM, it starts, and requires the layer.
    let s = select(&claims, &[], |_| Ok(())).unwrap();
    assert_eq!(s.profile, Profile::RootBpfLsm);
    assert!(required_layers(s.profile).contains(&Layer::BpfLsm));
}

#[test]
fn a_tampered_or_foreign_envelope_has_no_proof() {
    let mut claims = glob_claims();
    claims.envelope.files.clear();
    let err = select(&claims, &[], |_| Ok(())).unwrap_err();
    assert!(
        err.reasons.iter().all(|r| r.contains("holds no proof")),
        "{err}"
    );
    // --require narrows the candidates.
    let claims = glob_claims();
    let err = select(&claims, &[Layer::BpfLsm], |p| {
        if p == Profile::RootBpfLsm {
            Err("no".into())
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(
        err.reasons[1].contains("lacks the required layer bpf-lsm"),
        "{err}"
    );
}

// ─────────────── what the kernel lets through ───────────────

fn envelope(json: serde_json::Value) -> Envelope {
    let mut env = serde_json::json!({
        "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
        "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
    });
    for (k, v) in json.as_object().unwrap() {
        env[k] = v.clone();
    }
    serde_json::from_value(env).unwrap()
}

fn dns(host: &str) -> std::io::Result<Vec<IpAddr>> {
    match host {
        "api.example" => Ok(vec!["192.0.2.7".parse().unwrap()]),
        _ => Err(std::io::Error::other("no such host")),
    }
}

fn compiled(env: &Envelope, profile: Profile) -> KernelPolicy {
    KernelPolicy::from_envelope_with(env, &profile_layers(profile), &dns).unwrap()
}

fn read(target: PathTarget) -> FileGrant {
    FileGrant {
        access: FileAccess::Read,
        target,
    }
}

fn exact(path: &str) -> PathTarget {
    PathTarget::Exact { path: path.into() }
}

fn tree(dir: &str) -> PathTarget {
    PathTarget::Tree { dir: dir.into() }
}

fn cidr(net: &str) -> ValueMatch {
    ValueMatch::Exact {
        value: Value::Cidr(net.parse().unwrap()),
    }
}

fn port(p: u16) -> ValueMatch {
    ValueMatch::Exact {
        value: Value::Number(p.into()),
    }
}

/// An envelope of the escape tests' shape (read a tree, write a
/// directory, run two programs, connect to one loopback port), with the
/// demo spec's baseline.
fn run_envelope() -> Envelope {
    let spec = planlang::load_spec_str(
        r#"spec "s" { baseline {
            read under "/usr/lib/"
            read under "/lib/"
            read under "/lib64/"
            read "/etc/ld.so.cache"
        } }"#,
        "b.spec",
    )
    .unwrap();
    let baseline = verifier::CompiledSpec::compile(&spec).unwrap().baseline;
    let mut env = envelope(serde_json::json!({
        "files": [
            {"access": "read", "target": {"shape": "tree", "dir": "/srv/warden-agree/in"}},
            {"access": "write", "target": {"shape": "glob", "glob": "/srv/warden-agree/out/*.tmp"}},
            {"access": "write", "target": {"shape": "exact", "path": "/srv/warden-agree/out/report.txt"}}
        ],
        "exec": [
            {"program": {"shape": "exact", "path": "/bin/sh"}, "argv": null},
            {"program": {"shape": "exact", "path": "/bin/cat"},
             "argv": [{"match": "exact", "value": {"type": "string", "value": "-n"}}]}
        ],
        "connect": [
            {"host": {"match": "exact", "value": {"type": "cidr", "value": "127.0.0.1/32"}},
             "port": {"match": "exact", "value": {"type": "number", "value": "8080"}}},
            {"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
             "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}
        ],
        "listen": [{"port": {"match": "exact", "value": {"type": "number", "value": "9000"}}}]
    }));
    env.baseline = baseline;
    env
}

#[test]
fn each_layer_set_is_described_as_it_enforces() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let file = file.to_str().unwrap().to_owned();
    let dir_text = dir.path().to_str().unwrap().to_owned();
    let mut p = KernelPolicy::new();
    p.allow_path(&file, FileScope::File, FileRights::READ)
        .unwrap()
        .allow_path(dir.path(), FileScope::File, FileRights::READ)
        .unwrap()
        .allow_path(
            "/srv/data",
            FileScope::Tree,
            FileRights::WRITE | FileRights::CREATE,
        )
        .unwrap()
        .allow_path("/srv/old", FileScope::Tree, FileRights::REMOVE)
        .unwrap()
        .allow_exec("/opt/warden-none/tool")
        .unwrap()
        .allow_widened(
            "/tmp/out",
            FileRights::WRITE | FileRights::CREATE,
            "/tmp/out/*.tmp",
        )
        .unwrap()
        .allow_net(enforcer::policy::NetRule::tcp_connect(
            "192.0.2.0/24".parse().unwrap(),
            443,
        ))
        .unwrap()
        .allow_net(enforcer::policy::NetRule::tcp_bind(
            "0.0.0.0/0".parse().unwrap(),
            8080,
        ))
        .unwrap();

    let u = kernel_envelope(&p, Profile::Unprivileged).unwrap().envelope;
    let has =
        |e: &Envelope, access, target: PathTarget| e.files.contains(&FileGrant { access, target });
    assert!(has(&u, FileAccess::Read, exact(&file)));
    // Landlock's rule on a directory holds for everything below it.
    assert!(has(&u, FileAccess::Read, tree(&dir_text)));
    assert!(has(&u, FileAccess::Write, tree("/srv/data")));
    assert!(has(&u, FileAccess::Delete, tree("/srv/old")));
    assert!(has(&u, FileAccess::Write, tree("/tmp/out")));
    // A program is run and read, with any arguments.
    assert!(has(&u, FileAccess::Read, exact("/opt/warden-none/tool")));
    assert_eq!(
        u.exec,
        [ExecGrant {
            program: exact("/opt/warden-none/tool"),
            argv: None
        }]
    );
    // Landlock matches ports, not addresses.
    let hosts: Vec<_> = u
        .connect
        .iter()
        .map(|g| (g.host.clone(), g.port.clone()))
        .collect();
    assert_eq!(
        hosts,
        [(cidr("0.0.0.0/0"), port(443)), (cidr("::/0"), port(443))]
    );
    assert_eq!(u.listen, [ListenGrant { port: port(8080) }]);
    assert_eq!(u.files.len(), 6, "{:?}", u.files);

    // The eBPF socket programs match the network.
    let r = kernel_envelope(&p, Profile::Root).unwrap().envelope;
    assert_eq!(r.files, u.files);
    assert_eq!(r.connect.len(), 1);
    assert_eq!(r.connect[0].host, cidr("192.0.2.0/24"));

    // BPF LSM narrows the widened tree back to the glob, and names the
    // directory of a file rule exactly.
    let l = kernel_envelope(&p, Profile::RootBpfLsm).unwrap().envelope;
    let glob = PathTarget::Glob {
        glob: "/tmp/out/*.tmp".into(),
    };
    assert!(has(&l, FileAccess::Write, glob));
    assert!(!has(&l, FileAccess::Write, tree("/tmp/out")));
    assert!(has(&l, FileAccess::Read, exact(&dir_text)));
}

#[test]
fn what_compile_grants_is_inside_the_enforced_envelope_of_every_profile() {
    let env = run_envelope();
    for profile in Profile::ALL {
        let policy = compiled(&env, profile);
        let enforced = warden_core::shape::enforced_envelope(&env, profile);
        let k =
            check_against(&policy, profile, &enforced).unwrap_or_else(|e| panic!("{profile}: {e}"));
        // The host name's pinned address, by name.
        assert!(k.exceptions.contains(&Exception::PinnedHost {
            host: "api.example".into(),
            addresses: vec!["192.0.2.7".parse().unwrap()],
        }));
        // The loader: only read under the root profiles (the exec check
        // kills it run directly), which the baseline covers here
        // (`read under "/lib64/"` or `/lib/`); a grant of the
        // unprivileged profile's proven envelope itself. No exception.
        let loaders: Vec<_> = k
            .exceptions
            .iter()
            .filter(|e| matches!(e, Exception::ElfLoader { .. }))
            .collect();
        assert!(loaders.is_empty(), "{profile}: {loaders:?}");
        if let Some(interp) = enforcer::landlock::elf_interpreter(Path::new("/bin/sh")) {
            let loader_runs = k.envelope.exec.iter().any(|g| {
                g.program
                    == PathTarget::Exact {
                        path: interp.display().to_string(),
                    }
            });
            assert_eq!(loader_runs, profile == Profile::Unprivileged, "{profile}");
        }
        let shown: Vec<String> = k.exceptions.iter().map(|e| e.to_string()).collect();
        assert!(shown.iter().any(|s| s.contains("api.example")), "{shown:?}");
    }
}

#[test]
fn a_policy_widened_by_hand_is_refused_naming_the_first_extra_grant() {
    let env = run_envelope();
    for profile in Profile::ALL {
        let enforced = warden_core::shape::enforced_envelope(&env, profile);
        let mut policy = compiled(&env, profile);
        policy
            .allow_path("/etc", FileScope::Tree, FileRights::READ)
            .unwrap();
        let err = check_against(&policy, profile, &enforced).unwrap_err();
        assert!(
            matches!(&err, OutsideProof::Grant { not_within: NotWithin::Outside { grant, .. }, .. } if grant == "read under \"/etc\""),
            "{profile}: {err}"
        );
        assert!(err.to_string().contains(&format!(
            "the kernel layers of profile {profile} would let `read under \"/etc\"` through"
        )));

        let mut policy = compiled(&env, profile);
        policy.allow_exec("/usr/bin/python3").unwrap();
        let err = check_against(&policy, profile, &enforced).unwrap_err();
        assert!(
            err.to_string().contains("`read \"/usr/bin/python3\"`"),
            "{err}"
        );

        let mut policy = compiled(&env, profile);
        policy.syscalls.allow("ptrace").unwrap();
        let err = check_against(&policy, profile, &enforced).unwrap_err();
        assert!(
            matches!(&err, OutsideProof::Syscall { name, .. } if name == "ptrace"),
            "{err}"
        );

        // Another address on a granted port: Landlock alone cannot tell
        // it apart (and the proof of that profile covers any address),
        // the eBPF layers can, and must not let it through.
        let mut policy = compiled(&env, profile);
        policy
            .allow_net(enforcer::policy::NetRule::tcp_connect(
                "10.0.0.0/8".parse().unwrap(),
                8080,
            ))
            .unwrap();
        let r = check_against(&policy, profile, &enforced);
        if profile.addresses() {
            let err = r.unwrap_err().to_string();
            assert!(err.contains("`connect 10.0.0.0/8:8080`"), "{err}");
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
    }
}

/// The claims of a one-grant plan under a spec, and the profile's
/// selection (the root profile).
fn one_write(spec: &str, path: &str) -> (Claims, Selected) {
    let claims = claims_for(
        spec,
        serde_json::json!({"files": [
            {"access": "write", "target": {"shape": "exact", "path": path}}
        ]}),
    );
    let profile = Profile::Root;
    let digest = profile_digest(&claims.envelope, profile);
    let selected = Selected { profile, digest };
    (claims, selected)
}

#[test]
fn a_file_that_exists_is_written_exactly_and_needs_only_its_own_proof() {
    // /dev/null exists (a device): the kernel grants it alone, which the
    // spec allows; its directory tree is not allowed, and not needed.
    let spec = r#"spec "s" { allow write "/dev/null" }"#;
    let (claims, selected) = one_write(spec, "/dev/null");
    let root = claims
        .enforcement
        .iter()
        .find(|e| e.profile == "root")
        .unwrap();
    assert!(root.proven, "{root:?}");
    let [alt] = root.alternatives.as_slice() else {
        panic!("{root:?}")
    };
    assert_eq!(alt.widened, "write under \"/dev\"");
    assert!(!alt.proven && alt.counterexample.is_some(), "{alt:?}");
    let policy = compiled(&claims.envelope, Profile::Root);
    assert!(policy.files.iter().any(|r| r.path == Path::new("/dev/null")
        && r.scope == FileScope::File
        && r.access == FileRights::WRITE));
    check(&policy, &claims, &selected).expect("/dev/null is written exactly");
}

#[test]
fn a_new_file_needs_its_directory_and_is_refused_naming_the_step_when_that_was_not_proven() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let new = format!("{d}/out.txt");
    let spec = format!(r#"spec "s" {{ allow write {new:?} }}"#);
    let (claims, selected) = one_write(&spec, &new);
    // Absent at run start: the kernel would grant the directory tree.
    let err = check(
        &compiled(&claims.envelope, Profile::Root),
        &claims,
        &selected,
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            OutsideProof::Unproven {
                situation: warden_core::shape::Situation::Absent,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(&format!("`write {new:?}`")), "{text}");
    assert!(text.contains(&format!("`write under {d:?}`")), "{text}");
    // Once the file exists, the same token starts the run.
    std::fs::write(&new, "").unwrap();
    check(
        &compiled(&claims.envelope, Profile::Root),
        &claims,
        &selected,
    )
    .expect("an existing file is written exactly");
    // A spec that allows the directory proves both shapes.
    let wide = format!(r#"spec "s" {{ allow write under {d:?} }}"#);
    std::fs::remove_file(&new).unwrap();
    let (claims, selected) = one_write(&wide, &new);
    check(
        &compiled(&claims.envelope, Profile::Root),
        &claims,
        &selected,
    )
    .expect("the directory tree was proven");
}

#[test]
fn a_directory_named_as_a_file_is_a_tree_for_landlock_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let env = Envelope {
        files: vec![read(exact(&d))],
        ..Envelope::default()
    };
    // Proven only as a file: the tree Landlock grants is outside.
    let err = check_against(
        &compiled(&env, Profile::Root),
        Profile::Root,
        &warden_core::shape::enforced_exact(&env, Profile::Root),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&format!("`read under {d:?}`")),
        "{err}"
    );
    // The directory alternative, proven, covers it.
    assert!(
        check_against(
            &compiled(&env, Profile::Root),
            Profile::Root,
            &warden_core::shape::enforced_envelope(&env, Profile::Root),
        )
        .is_ok()
    );
    // BPF LSM names the directory alone.
    let lsm = Profile::RootBpfLsm;
    assert!(
        check_against(
            &compiled(&env, lsm),
            lsm,
            &warden_core::shape::enforced_envelope(&env, lsm)
        )
        .is_ok()
    );
}

#[test]
fn the_check_recomputes_the_selected_digest() {
    let claims = glob_claims();
    let selected = select(&claims, &[], |_| Ok(())).unwrap();
    let policy = compiled(&claims.envelope, selected.profile);
    assert!(check(&policy, &claims, &selected).is_ok());
    let other = Selected {
        profile: Profile::Root,
        ..selected
    };
    let err = check(&compiled(&claims.envelope, Profile::Root), &claims, &other).unwrap_err();
    assert_eq!(
        err,
        OutsideProof::Digest {
            profile: Profile::Root
        }
    );
}

#[test]
fn a_rule_through_a_symlink_is_listed_with_the_name_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (real, link) = (
        real.to_str().unwrap().to_owned(),
        link.to_str().unwrap().to_owned(),
    );
    let env = Envelope {
        files: vec![FileGrant {
            access: FileAccess::Write,
            target: PathTarget::Glob {
                glob: format!("{link}/*.tmp"),
            },
        }],
        ..Envelope::default()
    };
    for profile in Profile::ALL {
        let k = check_against(
            &compiled(&env, profile),
            profile,
            &warden_core::shape::enforced_envelope(&env, profile),
        )
        .unwrap();
        let (target, resolved) = if profile.exact_files() {
            let glob = |d: &str| PathTarget::Glob {
                glob: format!("{d}/*.tmp"),
            };
            (glob(&link), glob(&real))
        } else {
            (tree(&link), tree(&real))
        };
        let alias = Exception::Alias {
            access: FileRights::WRITE | FileRights::CREATE,
            target,
            resolved,
        };
        assert!(
            k.exceptions.contains(&alias),
            "{profile}: {:?}",
            k.exceptions
        );
        let shown = alias.to_string();
        assert!(
            shown.contains(&format!(
                "reaches {}",
                warden_core::shape::describe_target(&alias_resolved(&alias))
            )),
            "{shown}"
        );
    }
}

fn alias_resolved(e: &Exception) -> PathTarget {
    match e {
        Exception::Alias { resolved, .. } => resolved.clone(),
        other => panic!("{other:?}"),
    }
}
