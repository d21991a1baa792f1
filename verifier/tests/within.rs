//! Grants inside grants ([`warden_core::within`], the check at run start)
//! on envelopes the verifier's way: baselines of loaded specs, and the
//! attenuation of unix socket grants beside it.

use verifier::CompiledSpec;
use verifier::containment::contain;
use warden_core::envelope::Envelope;
use warden_core::within::{NotWithin, grants_within, plainly_within};

/// An envelope with the grants of `json` (the rest empty).
fn grants(json: serde_json::Value) -> Envelope {
    let mut base = serde_json::json!({
        "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
        "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
    });
    for (k, v) in json.as_object().expect("an object") {
        base[k] = v.clone();
    }
    serde_json::from_value(base).expect("test envelope follows the schema")
}

fn connect(net: &str) -> serde_json::Value {
    serde_json::json!({
        "host": {"match": "exact", "value": {"type": "cidr", "value": net}},
        "port": {"match": "exact", "value": {"type": "number", "value": "443"}}
    })
}

#[test]
fn grants_inside_several_grants_together_are_inside() {
    let read = |t: serde_json::Value| serde_json::json!({"access": "read", "target": t});
    let glob = |g: &str| read(serde_json::json!({"shape": "glob", "glob": g}));
    let tree = |d: &str| read(serde_json::json!({"shape": "tree", "dir": d}));
    let outer = grants(serde_json::json!({"files": [glob("/srv/*"), glob("/srv/*/**")]}));
    let inner = grants(serde_json::json!({"files": [tree("/srv/a")]}));
    // No one grant covers it as written; the two together do.
    assert!(plainly_within(&outer, &inner).is_err());
    assert_eq!(grants_within(&outer, &inner), Ok(()));
    let wider = grants(serde_json::json!({"files": [tree("/srv")]}));
    match grants_within(&outer, &wider) {
        Err(NotWithin::Outside { grant, action }) => {
            assert_eq!(grant, "read under \"/srv\"");
            assert_eq!(action.as_deref(), Some("read \"/srv\""));
        }
        other => panic!("{other:?}"),
    }
    // A network is inside only a network that holds all of it.
    let outer = grants(serde_json::json!({"connect": [connect("10.0.0.0/8")]}));
    let inner = grants(serde_json::json!({"connect": [connect("10.1.0.0/16")]}));
    assert_eq!(plainly_within(&outer, &inner), Ok(()));
    match grants_within(&inner, &outer) {
        Err(NotWithin::Outside { grant, .. }) => assert_eq!(grant, "connect 10.0.0.0/8:443"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unix_socket_grants_inside_and_outside() {
    let unix = |op: &str, t: serde_json::Value| serde_json::json!({"op": op, "target": t});
    let tree = |d: &str| serde_json::json!({"shape": "tree", "dir": d});
    let exact = |p: &str| serde_json::json!({"shape": "exact", "path": p});
    let outer = grants(serde_json::json!({"unix": [
        unix("connect", serde_json::json!({"shape": "glob", "glob": "/run/app/*"})),
        unix("connect", serde_json::json!({"shape": "glob", "glob": "/run/app/*/**"})),
    ]}));
    let inner = grants(serde_json::json!({"unix": [unix("connect", tree("/run/app/db"))]}));
    assert_eq!(grants_within(&outer, &inner), Ok(()));
    // A connect grant is no listen grant, and no file grant.
    let listen = grants(serde_json::json!({"unix": [unix("listen", exact("/run/app/a.sock"))]}));
    assert!(matches!(
        grants_within(&outer, &listen),
        Err(NotWithin::Outside { .. })
    ));
    let file = grants(
        serde_json::json!({"files": [{"access": "write", "target": exact("/run/app/a.sock")}]}),
    );
    assert!(grants_within(&outer, &file).is_err());
    // Every socket: refuted by the socket that gives the machine away.
    let all = grants(serde_json::json!({"unix": [unix("connect", tree("/"))]}));
    match grants_within(&outer, &all) {
        Err(NotWithin::Outside { grant, action }) => {
            assert_eq!(grant, "connect under \"/\"");
            assert_eq!(action.as_deref(), Some("connect \"/var/run/docker.sock\""));
        }
        other => panic!("{other:?}"),
    }
    // The baseline's socket patterns count.
    let spec = planlang::load_spec_str(
        r#"spec "s" { baseline { connect under "/run/dbus/" } }"#,
        "b.spec",
    )
    .unwrap();
    let base = Envelope {
        baseline: CompiledSpec::compile(&spec).unwrap().baseline,
        ..Envelope::default()
    };
    let bus = grants(
        serde_json::json!({"unix": [unix("connect", exact("/run/dbus/system_bus_socket"))]}),
    );
    assert_eq!(plainly_within(&base, &bus), Ok(()));
    // Attenuation: a sub-plan inside the parent's sockets, and one not.
    let parent = grants(serde_json::json!({"unix": [unix("connect", tree("/run/app"))]}));
    let plan =
        |body: &str| planlang::load_plan_str(&format!("plan {{ {body} }}"), "s.plan").unwrap();
    assert!(contain(&parent, &plan(r#"connect "/run/app/x/db.sock""#)).is_ok());
    assert!(
        contain(
            &parent,
            &plan(r#"param p: path where p under "/run/app/"  connect p"#)
        )
        .is_ok()
    );
    assert!(contain(&parent, &plan(r#"connect "/run/app/../docker.sock""#)).is_err());
    assert!(contain(&parent, &plan(r#"listen "/run/app/x.sock""#)).is_err());
}

#[test]
fn the_baseline_counts_and_a_refusal_names_a_witness() {
    let spec = planlang::load_spec_str(
        r#"spec "s" { baseline { read under "/usr/lib/"  exec "/bin/sh" } }"#,
        "b.spec",
    )
    .unwrap();
    let mut outer = grants(serde_json::json!({
        "files": [{"access": "read", "target": {"shape": "glob", "glob": "/srv/**"}}]
    }));
    outer.baseline = CompiledSpec::compile(&spec).unwrap().baseline;
    let inner = grants(serde_json::json!({
        "files": [
            {"access": "read", "target": {"shape": "tree", "dir": "/usr/lib/x86_64"}},
            {"access": "read", "target": {"shape": "tree", "dir": "/srv/data"}},
            {"access": "read", "target": {"shape": "exact", "path": "/bin/sh"}}
        ],
        "exec": [{"program": {"shape": "exact", "path": "/bin/sh"}, "argv": null}]
    }));
    assert_eq!(plainly_within(&outer, &inner), Ok(()));
    let more = grants(serde_json::json!({
        "files": [{"access": "write", "target": {"shape": "tree", "dir": "/srv/data"}}]
    }));
    match grants_within(&outer, &more) {
        Err(NotWithin::Outside {
            grant,
            action: Some(a),
        }) => {
            assert_eq!(grant, "write under \"/srv/data\"");
            assert!(a.starts_with("write \"/srv/data/"), "{a}");
        }
        other => panic!("{other:?}"),
    }
}
