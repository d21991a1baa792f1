//! The language reference's examples (docs/language.md: the banking plan and
//! spec, the tables of values, steps, rules and operators) parse, load and
//! have the shapes the reference describes. `tests/docs.rs` checks every
//! plan and spec block of the docs against its stated verdict.

use planlang::ast::*;
use planlang::value::Literal;

/// The banking example: the one copy, which the language reference shows.
const PLAN_EXAMPLE: &str = include_str!("../../examples/pay-bill.plan");
const SPEC_EXAMPLE: &str = include_str!("../../examples/banking.spec");

#[test]
fn the_plan_example_loads() {
    let plan = planlang::load_plan_str(PLAN_EXAMPLE, "pay.plan").unwrap();
    assert_eq!(plan.name.as_ref().unwrap().node, "pay-december-bill");
    assert_eq!(plan.agent.as_ref().unwrap().node, "banking-assistant");
    assert_eq!(plan.ttl.as_ref().unwrap().node.secs, 600);
    assert_eq!(plan.params.len(), 1);
    assert_eq!(plan.params[0].ty.node, ParamType::Number);
    assert_eq!(plan.steps.len(), 2);
    let StepKind::Action {
        action: Action::Call(call),
    } = &plan.steps[1].kind
    else {
        panic!("second step is a call")
    };
    assert_eq!(call.name.node, "send_money");
    let subject = &call.args[2].value.node;
    let ValueExpr::Ref(r) = subject else {
        panic!("bill.subject is a ref")
    };
    assert_eq!(r.name.node, "bill");
    assert_eq!(r.fields[0].node, "subject");
    assert_eq!(
        r.resolved,
        RefKind::Result {
            tool: "read_file".into()
        }
    );
    let ValueExpr::Ref(a) = &call.args[1].value.node else {
        panic!()
    };
    assert_eq!(a.resolved, RefKind::Param);
    assert_eq!(plan.steps[1].span.line, 10);
    assert_eq!(plan.steps[1].span.col, 3);
}

#[test]
fn the_spec_example_loads() {
    let spec = planlang::load_spec_str(SPEC_EXAMPLE, "banking.spec").unwrap();
    let root = &spec.root;
    assert_eq!(root.name.node, "banking");
    assert_eq!(root.version().unwrap().node, 3);
    assert_eq!(spec.max_ttl().unwrap().node.secs, 1800);
    let rules: Vec<&Rule> = spec.rules().collect();
    assert_eq!(rules.len(), 10);
    // `allow call a, b, c, d`
    let RuleKind::Effect { effect, pattern } = &rules[0].kind else {
        panic!()
    };
    assert_eq!(effect.node, Effect::Allow);
    let PatternKind::Call {
        calls: CallNames::Names { names },
    } = &pattern.matcher
    else {
        panic!()
    };
    assert_eq!(names.len(), 4);
    // `recipient in payees`: a call argument and a constant.
    let RuleKind::Effect { pattern, .. } = &rules[1].kind else {
        panic!()
    };
    let CondExpr::And { all } = &pattern.condition.as_ref().unwrap().node else {
        panic!()
    };
    let CondExpr::Compare { lhs, rhs, op } = &all[0].node else {
        panic!()
    };
    assert_eq!(op.node, CmpOp::In);
    let ValueExpr::Ref(l) = &lhs.node else {
        panic!()
    };
    assert_eq!(l.resolved, RefKind::Field);
    let ValueExpr::Ref(r) = &rhs.node else {
        panic!()
    };
    assert_eq!(r.resolved, RefKind::Const);
    let payees = spec.constant("banking.spec", "payees").unwrap();
    assert!(matches!(&payees.node, ValueExpr::List { items } if items.len() == 2));
    // never ... after ...
    assert!(matches!(rules[4].kind, RuleKind::Never { .. }));
    assert!(matches!(&rules[5].kind, RuleKind::AtMost { limit, .. } if limit.node == 3));
    // `allow connect host in [...] and port == 443`: a connect pattern with a condition.
    let RuleKind::Effect { pattern, .. } = &rules[8].kind else {
        panic!()
    };
    assert_eq!(pattern.matcher, PatternKind::Connect { target: None });
    assert!(matches!(
        pattern.condition.as_ref().unwrap().node,
        CondExpr::And { .. }
    ));
    // `ip in 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16`: a list of three cidrs.
    let RuleKind::Effect { pattern, effect } = &rules[9].kind else {
        panic!()
    };
    assert_eq!(effect.node, Effect::Deny);
    let CondExpr::Compare { rhs, .. } = &pattern.condition.as_ref().unwrap().node else {
        panic!()
    };
    let ValueExpr::List { items } = &rhs.node else {
        panic!()
    };
    assert_eq!(items.len(), 3);
    assert!(
        matches!(&items[1].node, ValueExpr::Literal { literal: Literal::Cidr(c) } if c.to_string() == "172.16.0.0/12")
    );
    // baseline and test
    let b: Vec<&Baseline> = spec.baselines().collect();
    assert_eq!(b[0].patterns.len(), 3);
    let t: Vec<&TestCase> = spec.tests().collect();
    assert_eq!(t[0].expect.node, Expectation::Reject);
    assert_eq!(t[0].plan.steps.len(), 1);
    // Substituted rules carry the constant's list instead of its name.
    let subst = spec.substituted_rules();
    let RuleKind::Effect { pattern, .. } = &subst[1].kind else {
        panic!()
    };
    let CondExpr::And { all } = &pattern.condition.as_ref().unwrap().node else {
        panic!()
    };
    let CondExpr::Compare { rhs, .. } = &all[0].node else {
        panic!()
    };
    assert!(matches!(&rhs.node, ValueExpr::List { items } if items.len() == 2));
}

/// The value table: every literal kind, as the reference writes it.
#[test]
fn every_value_example_parses() {
    let values = [
        r#""a\tb""#,
        r#""/repo/src/**""#,
        "443",
        "98.7",
        "-1",
        "true",
        "false",
        "90s",
        "15m",
        "2h",
        "10.0.0.0/8",
        "::1/128",
        "192.168.1.7",
        r#"["status", "diff"]"#,
        "[]",
    ];
    for v in values {
        let src = format!("spec \"v\" {{\n  let x = {v}\n}}\n");
        let spec = planlang::load_spec_str(&src, "v.spec").unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(spec.root.lets().count(), 1, "{v}");
    }
    let src = "spec \"v\" { let a = \"a\\tb\" let n = 98.7 let d = 2h let c = 192.168.1.7 }";
    let spec = planlang::load_spec_str(src, "v.spec").unwrap();
    let lets: Vec<&LetConst> = spec.root.lets().collect();
    assert_eq!(
        lets[0].value.node,
        ValueExpr::Literal {
            literal: Literal::String("a\tb".into())
        }
    );
    assert_eq!(planlang::fmt_value(&lets[1].value.node), "98.7");
    assert_eq!(
        lets[2].value.node,
        ValueExpr::Literal {
            literal: Literal::Duration(planlang::value::Duration::from_secs(7200))
        }
    );
    let ValueExpr::Literal {
        literal: Literal::Cidr(c),
    } = &lets[3].value.node
    else {
        panic!()
    };
    assert_eq!(c.prefix_len(), 32);
}

/// Every step of the steps table.
#[test]
fn every_step_example_parses() {
    let src = r#"plan "steps" {
  param h: host
  read "/repo/src/**"
  write "/tmp/out.txt"
  delete "/tmp/out.txt"
  exec "/usr/bin/git" ["status", "--short"]
  exec "/usr/bin/make"
  connect "github.com":443
  connect 140.82.112.0/20:443
  connect [::1]:8080
  connect [2001:db8::/32]:443
  connect h:22
  connect "/run/postgresql/.s.PGSQL.5432"
  listen 8080
  listen "/run/app/api.sock"
  call github.create_pr(title = "fix", draft = true)
  let issues = call github.list_issues(repo = "warden")
  call notify(text = issues.first.title)
  either { read "/a" } or { read "/b" } or { read "/c" }
  repeat 3 { call poll() }
  repeat at most 5 { call retry(n = 1) }
}
"#;
    let plan = planlang::load_plan_str(src, "steps.plan").unwrap();
    assert_eq!(plan.steps.len(), 19);
    let kinds: Vec<ActionKind> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Action { action } => Some(action.kind()),
            _ => None,
        })
        .collect();
    assert!(kinds.contains(&ActionKind::Listen) && kinds.contains(&ActionKind::Delete));
    let StepKind::Action {
        action: Action::Exec { args, .. },
    } = &plan.steps[3].kind
    else {
        panic!()
    };
    assert_eq!(args.as_ref().unwrap().len(), 2);
    let StepKind::Action {
        action: Action::Exec { args, .. },
    } = &plan.steps[4].kind
    else {
        panic!()
    };
    assert!(args.is_none(), "absent list: any arguments");
    let StepKind::Action {
        action: Action::Connect { host, .. },
    } = &plan.steps[7].kind
    else {
        panic!()
    };
    assert!(
        matches!(&host.node, ValueExpr::Literal { literal: Literal::Cidr(c) } if c.to_string() == "::1/128")
    );
    // `connect PATH`: a pathname unix socket; `listen PATH`: one bound there.
    let StepKind::Action {
        action: Action::ConnectUnix { path },
    } = &plan.steps[10].kind
    else {
        panic!("connect PATH is a unix socket connect")
    };
    assert!(
        matches!(&path.node, ValueExpr::Literal { literal: Literal::String(p) } if p == "/run/postgresql/.s.PGSQL.5432")
    );
    assert!(matches!(
        &plan.steps[11].kind,
        StepKind::Action {
            action: Action::Listen { .. }
        }
    ));
    assert!(matches!(
        &plan.steps[12].kind,
        StepKind::Action {
            action: Action::ListenUnix { .. }
        }
    ));
    let StepKind::Either { branches } = &plan.steps[16].kind else {
        panic!()
    };
    assert_eq!(branches.len(), 3);
    let StepKind::Repeat { at_most, count, .. } = &plan.steps[18].kind else {
        panic!()
    };
    assert!(*at_most);
    assert_eq!(count.node, 5);
}

/// `connect PATH` and `listen PATH`: PATH may be a glob or a `path` param
/// (`listen p` with a `path` param is a unix socket once loaded); a
/// connect with `HOST:PORT` stays the network form.
#[test]
fn unix_socket_steps_take_globs_and_path_params() {
    let src = r#"plan "sockets" {
  param p: path where p under "/run/app/"
  param port: number
  connect "/run/app/*.sock"
  connect p
  listen p
  listen port
  connect "localhost":5432
}
"#;
    let plan = planlang::load_plan_str(src, "s.plan").unwrap();
    let actions: Vec<&Action> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Action { action } => Some(action),
            _ => None,
        })
        .collect();
    assert!(matches!(actions[0], Action::ConnectUnix { .. }));
    assert!(
        matches!(actions[1], Action::ConnectUnix { path } if matches!(&path.node, ValueExpr::Ref(r) if r.resolved == RefKind::Param))
    );
    assert!(
        matches!(actions[2], Action::ListenUnix { .. }),
        "a path param"
    );
    assert!(
        matches!(actions[3], Action::Listen { .. }),
        "a number param"
    );
    assert!(matches!(actions[4], Action::Connect { .. }));
    // The loaded tree prints and loads back to itself.
    let text = planlang::fmt_plan(&plan);
    assert_eq!(planlang::load_plan_str(&text, "s.plan").unwrap(), plan);
}

/// The Conditions section: `path` on connect/listen of a unix socket, and
/// the shorthand `connect under "/run/app/"` / `connect "/run/x.sock"`.
#[test]
fn unix_socket_patterns_name_the_path() {
    let src = r#"spec "sockets" {
  allow connect under "/run/app/"
  allow connect "/run/x.sock"
  allow connect when path under "/run/postgresql/"
  allow listen under "/run/app/"
  deny connect "/var/run/docker.sock"
  allow connect host in ["api.example"] and port == 443
}
"#;
    let spec = planlang::load_spec_str(src, "s.spec").unwrap();
    let rules: Vec<&Rule> = spec.rules().collect();
    let pattern = |i: usize| match &rules[i].kind {
        RuleKind::Effect { pattern, .. } => pattern,
        _ => panic!("effect rules only"),
    };
    assert!(matches!(
        &pattern(0).matcher,
        PatternKind::Connect {
            target: Some(PathTargetExpr::Under { .. })
        }
    ));
    assert!(matches!(
        &pattern(1).matcher,
        PatternKind::Connect {
            target: Some(PathTargetExpr::Exact { .. })
        }
    ));
    let CondExpr::Compare { lhs, .. } = &pattern(2).condition.as_ref().unwrap().node else {
        panic!()
    };
    assert!(
        matches!(&lhs.node, ValueExpr::Ref(r) if r.resolved == RefKind::Field && r.name.node == "path")
    );
    assert!(matches!(
        &pattern(3).matcher,
        PatternKind::Listen {
            target: Some(PathTargetExpr::Under { .. })
        }
    ));
    assert_eq!(
        pattern(5).matcher,
        PatternKind::Connect { target: None },
        "a network connect pattern keeps its bare condition"
    );
    let text = planlang::fmt_spec(&spec.root);
    assert!(
        text.contains("  allow connect under \"/run/app/\"\n"),
        "{text}"
    );
    assert!(
        text.contains("  allow connect path under \"/run/postgresql/\"\n"),
        "{text}"
    );
    assert_eq!(
        planlang::load_spec_str(&text, "s.spec").unwrap().root,
        spec.root
    );
}

/// Every rule kind and operator of the tables.
#[test]
fn every_rule_and_operator_example_parses() {
    let src = r#"spec "ops" {
  let contacts = ["a@acme.com"]
  let limit = 1000
  include "other.spec"
  allow listen port == 8080
  allow call pay when amount <= limit and amount >= 1 and amount < 5000 and amount > 0 and amount != 13
  allow exec "/usr/bin/git" when argv[0] in ["status"]
  allow connect ip in 10.0.0.0/8
  allow read when path under "/repo/"
  deny write when path endswith ".tmp" or path startswith "/etc/" or path contains "secret"
  allow call pay when recipient matches "^[A-Z]{2}[0-9]{20}$"
  approve call mail when has recipient
  deny call post when body from call read_inbox
  allow call mail when recipients endswith "@acme.com" and recipients in contacts and not (cc contains "x@evil.com")
  require call login before call pay
  never any after call read_secrets
  at most 2 write under "/tmp/"
  allow call *
  deny delete
  max ttl 1h
}
"#;
    let spec = planlang::parse_spec(src, "ops.spec").unwrap();
    assert_eq!(spec.rules().count(), 15);
    assert_eq!(spec.includes().count(), 1);
    let text = planlang::fmt_spec(&spec);
    assert_eq!(
        planlang::parse_spec(&text, "ops.spec").unwrap(),
        spec,
        "{text}"
    );
}
