//! Cost of the check `warden exec` makes at every run start: what the
//! kernel layers of the selected profile let through for the compiled
//! policy lies inside the envelope the token proves
//! (`enforcer::proven::check`: the enforced envelope recomputed and its
//! digest compared, the kernel's envelope read from the policy, the
//! verifier's containment, the exceptions).
//!
//! `cargo bench -p enforcer --bench kernel_check -- --warm-up-time 1 --measurement-time 3`

use criterion::Criterion;

use enforcer::KernelPolicy;
use enforcer::proven::{Selected, check, profile_layers};
use std::hint::black_box;
use std::net::IpAddr;
use token::Claims;
use verifier::CompiledSpec;
use warden_core::claims::profile_digest;
use warden_core::envelope::Envelope;
use warden_core::shape::Profile;

fn repo_file(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The demo's envelope: `examples/run/demo.plan` checked against its spec.
fn demo_envelope() -> Envelope {
    let spec = planlang::load_spec_str(&repo_file("examples/run/demo.spec"), "demo.spec")
        .expect("the demo spec loads");
    let spec = CompiledSpec::compile(&spec).expect("the demo spec compiles");
    let plan = planlang::load_plan_str(&repo_file("examples/run/demo.plan"), "demo.plan")
        .expect("the demo plan loads");
    spec.check(&plan)
        .expect("the demo plan checks")
        .envelope
        .expect("the demo plan is accepted")
}

/// 50 grants: 20 files, 10 programs (real ones, so their loaders are read),
/// 15 connects, 5 listens, and the demo's baseline.
fn fifty_envelope(baseline: &Envelope) -> Envelope {
    let mut files = Vec::new();
    for i in 0..20 {
        files.push(match i % 4 {
            0 => serde_json::json!({"access": "read", "target": {"shape": "tree", "dir": format!("/srv/bench/in{i}")}}),
            1 => serde_json::json!({"access": "read", "target": {"shape": "exact", "path": format!("/srv/bench/f{i}.txt")}}),
            2 => serde_json::json!({"access": "write", "target": {"shape": "glob", "glob": format!("/srv/bench/out{i}/*.tmp")}}),
            _ => serde_json::json!({"access": "write", "target": {"shape": "exact", "path": format!("/srv/bench/out{i}/r.txt")}}),
        });
    }
    let programs = [
        "/bin/sh",
        "/usr/bin/cat",
        "/usr/bin/ls",
        "/usr/bin/grep",
        "/usr/bin/sed",
        "/usr/bin/awk",
        "/usr/bin/head",
        "/usr/bin/tail",
        "/usr/bin/sort",
        "/usr/bin/env",
    ];
    let exec: Vec<_> = programs
        .iter()
        .map(|p| serde_json::json!({"program": {"shape": "exact", "path": p}, "argv": null}))
        .collect();
    let connect: Vec<_> = (0..15)
        .map(|i| {
            serde_json::json!({
                "host": {"match": "exact", "value": {"type": "cidr", "value": format!("10.{i}.0.0/16")}},
                "port": {"match": "exact", "value": {"type": "number", "value": (8000 + i).to_string()}}
            })
        })
        .collect();
    let listen: Vec<_> = (0..5)
        .map(|i| serde_json::json!({"port": {"match": "exact", "value": {"type": "number", "value": (9000 + i).to_string()}}}))
        .collect();
    let mut env: Envelope = serde_json::from_value(serde_json::json!({
        "version": 1, "files": files, "exec": exec, "connect": connect, "listen": listen,
        "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
    }))
    .expect("the bench envelope follows the schema");
    env.baseline = baseline.baseline.clone();
    env
}

fn claims_with(envelope: Envelope) -> Claims {
    let mut claims: Claims = warden_core::claims::example();
    // Every profile and alternative shape proven, as against a spec that
    // allows every file, exec and network action (what costs is the check).
    let spec = planlang::load_spec_str(
        r#"spec "bench" { allow read  allow write  allow delete  allow exec  allow connect  allow listen }"#,
        "bench.spec",
    )
    .expect("the bench spec parses");
    let spec = CompiledSpec::compile(&spec).expect("the bench spec compiles");
    claims.enforcement =
        verifier::enforcement::prove_profiles(&spec, &envelope).expect("the bench profiles prove");
    claims.envelope = envelope;
    claims
}

fn no_dns(_: &str) -> std::io::Result<Vec<IpAddr>> {
    Err(std::io::Error::other("the bench envelopes name no host"))
}

fn bench(c: &mut Criterion) {
    let demo = demo_envelope();
    let cases = [
        ("demo", claims_with(demo.clone())),
        ("50-entry", claims_with(fifty_envelope(&demo))),
    ];
    for (name, claims) in &cases {
        for profile in [Profile::Unprivileged, Profile::Root, Profile::RootBpfLsm] {
            let policy = KernelPolicy::from_envelope_with(
                &claims.envelope,
                &profile_layers(profile),
                &no_dns,
            )
            .expect("the bench envelopes compile");
            let selected = Selected {
                profile,
                digest: profile_digest(&claims.envelope, profile),
            };
            let k = check(&policy, claims, &selected)
                .unwrap_or_else(|e| panic!("{name} {profile}: {e}"));
            eprintln!(
                "{name} {profile}: {} kernel grants, {} exceptions",
                k.envelope.files.len()
                    + k.envelope.exec.len()
                    + k.envelope.connect.len()
                    + k.envelope.listen.len(),
                k.exceptions.len()
            );
            c.bench_function(&format!("check {name} {profile}"), |b| {
                b.iter(|| check(black_box(&policy), black_box(claims), black_box(&selected)))
            });
        }
    }
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
