//! Property: a sub-plan narrowed from a parent plan (a file or a glob inside
//! the parent's glob, a sub-CIDR, a port or a narrower port param inside the
//! parent's range, a file or a narrower path param inside the parent's path
//! param, a value from the parent param's list, a unix socket inside the
//! parent's socket glob, fewer repetitions) is proven inside the parent's
//! envelope; the same sub-plan with any one entry widened
//! is refused, by a counterexample or a named structural reason, never for
//! want of a proof.

use planlang::{load_plan_str, load_spec_str};
use proptest::prelude::*;
use verifier::CompiledSpec;
use verifier::containment::{ContainmentError, contain};
use verifier::report::{Reason, Verdict};
use warden_core::envelope::Envelope;

const SPEC: &str = r#"
spec "wide" {
  allow read under "/srv/"
  allow write under "/tmp/"
  allow connect
  allow listen
  allow call deploy, notify
  at most 3 call notify
}
"#;

/// One grant of the parent, and how a sub-plan narrows or widens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// `read "/srv/data/**/*.csv"`
    Glob,
    /// `connect 10.0.0.0/8:443`
    Cidr,
    /// `connect "api.example":port`, `port` in 8000..9000
    PortRange,
    /// `write out`, `out under "/tmp/out/"`
    PathParam,
    /// `call deploy(env = env)`, `env in ["staging", "prod"]`
    ListParam,
    /// `repeat 2 { call notify() }` under the spec's `at most 3`
    Count,
    /// `connect "/run/app/*.sock"` (unix sockets)
    Socket,
}

const GRANTS: [Grant; 7] = [
    Grant::Glob,
    Grant::Cidr,
    Grant::PortRange,
    Grant::PathParam,
    Grant::ListParam,
    Grant::Count,
    Grant::Socket,
];

impl Grant {
    /// The parent's params and step for this grant.
    fn parent(self) -> (&'static str, &'static str) {
        match self {
            Grant::Glob => ("", r#"read "/srv/data/**/*.csv""#),
            Grant::Cidr => ("", "connect 10.0.0.0/8:443"),
            Grant::PortRange => (
                "param port: number where port >= 8000 and port < 9000",
                r#"connect "api.example":port"#,
            ),
            Grant::PathParam => ("param out: path where out under \"/tmp/out/\"", "write out"),
            Grant::ListParam => (
                "param env: string where env in [\"staging\", \"prod\"]",
                "call deploy(env = env)",
            ),
            Grant::Count => ("", "repeat 2 { call notify() }"),
            Grant::Socket => ("", r#"connect "/run/app/*.sock""#),
        }
    }

    /// A narrowing of the grant, chosen by `k` (any number).
    fn narrow(self, k: u32) -> (String, String) {
        let none = String::new();
        match self {
            Grant::Glob => (
                none,
                match k % 3 {
                    0 => format!("read \"/srv/data/d{k}/f.csv\""),
                    1 => format!("read \"/srv/data/d{k}/*.csv\""),
                    _ => format!("read \"/srv/data/**/q{k}-*.csv\""),
                },
            ),
            Grant::Cidr => (
                none,
                match k % 3 {
                    0 => format!("connect 10.{}.0.0/16:443", k % 256),
                    1 => format!("connect 10.{}.{}.7:443", k % 256, k / 7 % 256),
                    _ => "connect 10.0.0.0/8:443".to_string(),
                },
            ),
            Grant::PortRange => {
                let lo = 8000 + k % 900;
                if k.is_multiple_of(2) {
                    (none, format!("connect \"api.example\":{lo}"))
                } else {
                    (
                        format!("param p: number where p >= {lo} and p <= {}", lo + 99),
                        "connect \"api.example\":p".to_string(),
                    )
                }
            }
            Grant::PathParam => {
                if k.is_multiple_of(2) {
                    (none, format!("write \"/tmp/out/d{}/r{k}.txt\"", k % 7))
                } else {
                    (
                        format!("param o: path where o under \"/tmp/out/d{k}/\""),
                        "write o".to_string(),
                    )
                }
            }
            Grant::ListParam => {
                let env = ["staging", "prod"][(k % 2) as usize];
                if k.is_multiple_of(3) {
                    (
                        format!("param e: string where e == \"{env}\""),
                        "call deploy(env = e)".to_string(),
                    )
                } else {
                    (none, format!("call deploy(env = \"{env}\")"))
                }
            }
            Grant::Count => (none, format!("repeat {} {{ call notify() }}", 1 + k % 3)),
            Grant::Socket => match k % 3 {
                0 => (none, format!("connect \"/run/app/db{k}.sock\"")),
                1 => (none, format!("connect \"/run/app/db{k}*.sock\"")),
                _ => (
                    format!("param s: path where s == \"/run/app/x{k}.sock\""),
                    "connect s".to_string(),
                ),
            },
        }
    }

    /// A widening of the grant, chosen by `k`.
    fn widen(self, k: u32) -> (String, String) {
        let none = String::new();
        match self {
            Grant::Glob => (
                none,
                match k % 3 {
                    0 => "read \"/srv/data/**\"".to_string(),
                    1 => format!("read \"/srv/data/d{k}/f.txt\""),
                    _ => format!("read \"/srv/other/d{k}/f.csv\""),
                },
            ),
            Grant::Cidr => (
                none,
                match k % 3 {
                    0 => "connect 10.0.0.0/7:443".to_string(),
                    1 => format!("connect 11.{}.0.1:443", k % 256),
                    _ => format!("connect 10.1.2.3:{}", 444 + k % 1000),
                },
            ),
            Grant::PortRange => {
                if k.is_multiple_of(2) {
                    (none, format!("connect \"api.example\":{}", 9000 + k % 500))
                } else {
                    let lo = 7000 + k % 1900;
                    (
                        format!("param p: number where p >= {lo} and p <= {}", lo + 1200),
                        "connect \"api.example\":p".to_string(),
                    )
                }
            }
            Grant::PathParam => match k % 3 {
                0 => (none, format!("write \"/tmp/r{k}.txt\"")),
                1 => (none, format!("write \"/tmp/out/../r{k}.txt\"")),
                _ => (
                    "param o: path where o under \"/tmp/\"".to_string(),
                    "write o".to_string(),
                ),
            },
            Grant::ListParam => {
                if k.is_multiple_of(2) {
                    (none, format!("call deploy(env = \"dev{k}\")"))
                } else {
                    (
                        "param e: string where e != \"prod\"".to_string(),
                        "call deploy(env = e)".to_string(),
                    )
                }
            }
            Grant::Count => (none, format!("repeat {} {{ call notify() }}", 4 + k % 3)),
            Grant::Socket => match k % 4 {
                0 => (none, format!("connect \"/run/app/sub/db{k}.sock\"")),
                1 => (none, format!("connect \"/run/app/../db{k}.sock\"")),
                2 => (none, format!("listen \"/run/app/db{k}.sock\"")),
                _ => (
                    "param s: path where s under \"/run/app/\"".to_string(),
                    "connect s".to_string(),
                ),
            },
        }
    }
}

fn plan(name: &str, parts: &[(String, String)]) -> String {
    let mut out = format!("plan \"{name}\" {{\n");
    for (param, _) in parts {
        if !param.is_empty() {
            out.push_str(&format!("  {param}\n"));
        }
    }
    for (_, step) in parts {
        out.push_str(&format!("  {step}\n"));
    }
    out.push_str("}\n");
    out
}

fn parent_envelope(grants: &[Grant]) -> Envelope {
    let spec = load_spec_str(SPEC, "wide.spec").expect("spec");
    let specs: Vec<_> = spec.specs().collect();
    let compiled = CompiledSpec::from_specs(&specs).expect("compile");
    let parts: Vec<(String, String)> = grants
        .iter()
        .map(|g| {
            let (p, s) = g.parent();
            (p.to_string(), s.to_string())
        })
        .collect();
    let text = plan("parent", &parts);
    let plan = load_plan_str(&text, "parent.plan").expect("parent plan");
    let outcome = compiled.check(&plan).expect("check");
    assert_eq!(
        outcome.verdict,
        Verdict::Accept,
        "{text}: {:?}",
        outcome.violations
    );
    outcome.envelope.expect("an accepted plan has an envelope")
}

fn grants() -> impl Strategy<Value = Vec<Grant>> {
    prop::sample::subsequence(GRANTS.to_vec(), 1..=GRANTS.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn narrowed_sub_plans_are_inside_and_widened_ones_are_not(
        grants in grants(),
        ks in prop::collection::vec(0u32..1000, GRANTS.len()),
        keep in prop::collection::vec(prop::bool::weighted(0.7), GRANTS.len()),
        wide_at in any::<prop::sample::Index>(),
        wide_k in 0u32..1000,
    ) {
        let parent = parent_envelope(&grants);

        // Narrowed: some of the parent's grants, each narrowed.
        let mut narrow: Vec<(String, String)> = grants
            .iter()
            .enumerate()
            .filter(|(i, _)| keep[*i])
            .map(|(i, g)| g.narrow(ks[i]))
            .collect();
        let text = plan("sub", &narrow);
        let sub = load_plan_str(&text, "sub.plan").expect("sub plan");
        let r = contain(&parent, &sub);
        prop_assert!(r.is_ok(), "refused:\n{text}\n{:?}", r.err());

        // The same with one grant widened (added when it was left out).
        let i = wide_at.index(grants.len());
        let wide = grants[i].widen(wide_k);
        let slot = grants[..i].iter().enumerate().filter(|(j, _)| keep[*j]).count();
        if keep[i] {
            narrow[slot] = wide;
        } else {
            narrow.insert(slot, wide);
        }
        let text = plan("sub", &narrow);
        let sub = load_plan_str(&text, "sub.plan").expect("sub plan");
        match contain(&parent, &sub) {
            Ok(e) => prop_assert!(false, "accepted:\n{text}\n{e:?}"),
            Err(ContainmentError::Outside { outcome }) => {
                prop_assert!(!outcome.violations.is_empty());
                for v in &outcome.violations {
                    prop_assert!(
                        !matches!(v.reason, Reason::Timeout | Reason::CouldNotProve),
                        "refused without a proof:\n{text}\n{v:?}"
                    );
                }
                // The counterexample: the step, and the action it would
                // perform with the witness values substituted.
                let v = &outcome.violations[0];
                prop_assert!(v.step.is_some(), "{v:?}");
                if v.reason != Reason::AtMost {
                    prop_assert!(v.action.is_some(), "{v:?}");
                }
            }
            Err(ContainmentError::Wider(_)) => {}
            Err(e) => prop_assert!(false, "refused for a wrong reason:\n{text}\n{e}"),
        }
    }
}

/// A parent token's `deny ... from call` rule binds a narrowed one: a
/// sub-plan whose flow is certain is refused, and one passing a param keeps
/// the rule in its own envelope.
#[test]
fn a_parents_deny_from_rule_binds_the_child() {
    let spec = load_spec_str(
        r#"spec "mail" {
          allow call read_inbox, send_mail
          deny call send_mail when body from call read_inbox
        }"#,
        "mail.spec",
    )
    .expect("spec");
    let spec = CompiledSpec::compile(&spec).expect("compile");
    let parent = load_plan_str(
        r#"plan { param body: string
          call read_inbox(folder = "in")
          call send_mail(body = body) }"#,
        "parent.plan",
    )
    .expect("parent plan");
    let parent = spec
        .check(&parent)
        .expect("check")
        .envelope
        .expect("accepted");
    assert_eq!(parent.deny_from.len(), 1);
    let certain = load_plan_str(
        r#"plan { let m = call read_inbox(folder = "in")
          call send_mail(body = m) }"#,
        "sub.plan",
    )
    .expect("sub plan");
    assert!(matches!(
        contain(&parent, &certain),
        Err(ContainmentError::Outside { .. })
    ));
    let unknown = load_plan_str(
        r#"plan { param body: string
          call send_mail(body = body) }"#,
        "sub.plan",
    )
    .expect("sub plan");
    let child = contain(&parent, &unknown).expect("inside");
    assert_eq!(child.deny_from.len(), 1, "{child:#?}");
    assert_eq!(child.deny_from[0].rule.line, 3);
}
