//! The real guarantee behind the run-start check: for any envelope, what
//! `enforcer::translate` gives the kernel layers of each enforcement profile
//! lies inside `warden_core::shape::enforced_envelope` for that profile
//! (the envelope the token proves), as `enforcer::proven::check_against`
//! decides it. Machine-dependent shapes are kept out of the generated
//! envelopes on purpose (an exact path naming a directory, which Landlock
//! widens to the tree and the check refuses: `proven.rs` tests it).

use enforcer::KernelPolicy;
use enforcer::proven::{check_against, kernel_envelope, profile_layers};
use proptest::prelude::*;
use std::net::IpAddr;
use warden_core::envelope::Envelope;
use warden_core::shape::Profile;
use warden_core::shape::enforced_envelope;
use warden_core::within::plainly_within;

/// Paths that do not exist on any machine, and one file that does.
const PATHS: &[&str] = &[
    "/srv/warden-agree/in/notes.txt",
    "/srv/warden-agree/out/report.txt",
    "/srv/warden-agree/a/b/c.log",
    "/opt/warden-agree/bin/tool",
    "/etc/hosts",
];
const DIRS: &[&str] = &[
    "/srv/warden-agree/in",
    "/srv/warden-agree/out",
    "/srv/warden-agree",
    "/usr/lib",
    "/",
];
const GLOBS: &[&str] = &[
    "/srv/warden-agree/out/*.tmp",
    "/srv/warden-agree/**/*.log",
    "/srv/warden-agree/in/**",
    "/srv/warden-agree/*/x",
    "/srv/warden-agree/out/x*.tmp",
    "/*",
];
/// Programs: real ones (with loaders and symlinks) and one that is not.
const PROGRAMS: &[&str] = &["/bin/sh", "/usr/bin/cat", "/opt/warden-agree/bin/tool"];
const CIDRS: &[&str] = &[
    "10.0.0.0/8",
    "127.0.0.1/32",
    "192.0.2.1/32",
    "2001:db8::/32",
];
const HOSTS: &[&str] = &["api.example", "mirror.example"];
const BASELINE: &[&str] = &[
    r#"read under "/usr/lib/""#,
    r#"read "/etc/ld.so.cache""#,
    r#"read"#,
    r#"write under "/srv/warden-agree/scratch/""#,
    r#"delete "/srv/warden-agree/scratch/old""#,
    r#"exec "/usr/bin/cat""#,
    r#"exec under "/opt/warden-agree/bin/""#,
    r#"read when path == "/etc/hostname" or path under "/usr/share/zoneinfo/""#,
    r#"read when path endswith ".so""#,
    r#"connect"#,
];

/// Both names resolve, to one shared address and one of their own.
fn resolver(host: &str) -> std::io::Result<Vec<IpAddr>> {
    let own = match host {
        "api.example" => "192.0.2.7",
        "mirror.example" => "2001:db8::7",
        _ => return Err(std::io::Error::other("no such host")),
    };
    Ok(vec!["192.0.2.99".parse().unwrap(), own.parse().unwrap()])
}

fn target() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        prop::sample::select(PATHS).prop_map(|p| serde_json::json!({"shape": "exact", "path": p})),
        prop::sample::select(DIRS).prop_map(|d| serde_json::json!({"shape": "tree", "dir": d})),
        prop::sample::select(GLOBS).prop_map(|g| serde_json::json!({"shape": "glob", "glob": g})),
        Just(serde_json::json!({"shape": "param", "param": "p"})),
        Just(serde_json::json!({"shape": "unknown", "origin": "read_file"})),
    ]
}

fn program() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        3 => prop::sample::select(PROGRAMS)
            .prop_map(|p| serde_json::json!({"shape": "exact", "path": p})),
        1 => target(),
    ]
}

fn number(n: u16) -> serde_json::Value {
    serde_json::json!({"match": "exact", "value": {"type": "number", "value": n.to_string()}})
}

fn port() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        3 => prop::sample::select(vec![22u16, 443, 8080, 65535]).prop_map(number),
        1 => Just(serde_json::json!({"match": "param", "param": "port"})),
        1 => Just(serde_json::json!({"match": "unknown", "origin": "read_file"})),
        1 => Just(serde_json::json!({"match": "unknown", "origin": null})),
    ]
}

fn host() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        prop::sample::select(CIDRS).prop_map(
            |c| serde_json::json!({"match": "exact", "value": {"type": "cidr", "value": c}})
        ),
        prop::sample::select(HOSTS).prop_map(
            |h| serde_json::json!({"match": "exact", "value": {"type": "string", "value": h}})
        ),
        Just(serde_json::json!({"match": "param", "param": "h"})),
        Just(serde_json::json!({"match": "unknown", "origin": "fetch"})),
    ]
}

fn argv() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        Just(serde_json::json!([
            {"match": "exact", "value": {"type": "string", "value": "-c"}},
            {"match": "param", "param": "cmd"}
        ])),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    let files = prop::collection::vec(
        (
            prop::sample::select(vec!["read", "write", "delete"]),
            target(),
        )
            .prop_map(|(a, t)| serde_json::json!({"access": a, "target": t})),
        0..8,
    );
    let exec = prop::collection::vec(
        (program(), argv()).prop_map(|(p, a)| serde_json::json!({"program": p, "argv": a})),
        0..4,
    );
    let connect = prop::collection::vec(
        (host(), port()).prop_map(|(h, p)| serde_json::json!({"host": h, "port": p})),
        0..4,
    );
    let listen = prop::collection::vec(port().prop_map(|p| serde_json::json!({"port": p})), 0..3);
    // Unix sockets: a connect or a listen on any path target.
    let unix = prop::collection::vec(
        (prop::sample::select(vec!["connect", "listen"]), target())
            .prop_map(|(op, t)| serde_json::json!({"op": op, "target": t})),
        0..3,
    );
    let baseline = prop::sample::subsequence(BASELINE, 0..4);
    let grants = (files, exec, connect, listen, unix);
    (grants, baseline).prop_map(|((files, exec, connect, listen, unix), baseline)| {
        let mut env: Envelope = serde_json::from_value(serde_json::json!({
            "version": 1, "files": files, "exec": exec, "connect": connect, "listen": listen,
            "unix": unix, "calls": [],
            "params": [
                {"name": "p", "type": "path", "where": null},
                {"name": "port", "type": "number", "where": null},
                {"name": "h", "type": "host", "where": null},
                {"name": "cmd", "type": "string", "where": null}
            ],
            "limits": [], "ordering": [], "baseline": []
        }))
        .expect("generated envelopes follow the schema");
        let spec = format!("spec \"b\" {{ baseline {{\n{}\n}} }}", baseline.join("\n"));
        let spec = planlang::load_spec_str(&spec, "b.spec").expect("baseline patterns load");
        env.baseline = spec
            .baselines()
            .flat_map(|b| &b.patterns)
            .map(|p| {
                planlang::lower::pattern(p, &Default::default()).expect("baseline patterns lower")
            })
            .collect();
        env
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn what_compile_grants_is_inside_the_enforced_envelope(env in envelope()) {
        for profile in Profile::ALL {
            let policy = KernelPolicy::from_envelope_with(&env, &profile_layers(profile), &resolver)
                .expect("generated envelopes compile");
            let enforced = enforced_envelope(&env, profile);
            let r = check_against(&policy, profile, &enforced);
            prop_assert!(r.is_ok(), "{profile}: {}\nkernel: {:#?}\nenforced: {:#?}",
                r.as_ref().err().map(ToString::to_string).unwrap_or_default(),
                kernel_envelope(&policy, profile).map(|k| k.envelope),
                enforced);
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same policy with one more rule the envelope never asked for is
    /// refused under every profile (the check is not vacuous).
    #[test]
    fn one_more_rule_is_refused(env in envelope(), extra in 0usize..3) {
        for profile in Profile::ALL {
            let mut policy = KernelPolicy::from_envelope_with(&env, &profile_layers(profile), &resolver)
                .expect("generated envelopes compile");
            let enforced = enforced_envelope(&env, profile);
            // Skip an envelope whose enforced form already grants it.
            let mut wanted = Envelope::default();
            let target = |path: &str| warden_core::envelope::PathTarget::Tree { dir: path.into() };
            match extra {
                0 => wanted.files.push(warden_core::envelope::FileGrant {
                    access: warden_core::envelope::FileAccess::Read,
                    target: target("/root/.ssh"),
                }),
                1 => wanted.exec.push(warden_core::envelope::ExecGrant {
                    program: target("/usr/bin/warden-agree-python"),
                    argv: None,
                }),
                _ => {}
            }
            prop_assume!(extra == 2 || plainly_within(&enforced, &wanted).is_err());
            match extra {
                0 => {
                    policy.allow_path("/root/.ssh", enforcer::policy::FileScope::Tree,
                        enforcer::policy::FileRights::READ).expect("a valid rule");
                }
                1 => {
                    policy.allow_exec("/usr/bin/warden-agree-python").expect("a valid rule");
                }
                _ => {
                    policy.syscalls.allow("bpf").expect("a known syscall");
                }
            }
            prop_assert!(check_against(&policy, profile, &enforced).is_err(), "{profile}: extra {extra}");
        }
    }
}
