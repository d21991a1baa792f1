//! Property: for random plans that a random spec accepts, every concrete
//! action the plan can perform passes the monitor of the token issued for
//! it, and actions outside the plan do not. Plans name exact paths, globs,
//! host names and a network (CIDR), unix sockets by path, calls with
//! literal and param arguments, exec with argv, and repeat a call under the spec's `at most`: the run
//! may make that call up to the limit, never once more.

use planlang::ast::ActionKind;
use planlang::{load_plan_str, load_spec_str};
use proptest::prelude::*;
use std::collections::BTreeSet;
use token::{Clock, FixedClock, NoRevocations, SigningKey, Timestamp, VerifiedToken};
use verifier::CompiledSpec;
use verifier::issue::{plan_hash, spec_hash};
use verifier::report::Verdict;
use warden_core::action::ConcreteAction;
use warden_core::claims::{CLAIMS_VERSION, Claims, TokenId};
use warden_core::path::glob_matches;
use warden_core::value::{Field, Number as Decimal, Value};

const TOOLS: [&str; 4] = ["get_balance", "notify", "send_money", "read_file"];
const RECIPIENTS: [&str; 3] = ["UK1", "UK2", "US9"];
const PATHS: [&str; 4] = ["/srv/a.txt", "/srv/b.txt", "/etc/passwd", "/tmp/out.txt"];
const ARGS: [&str; 3] = ["status", "diff", "push"];
const PORTS: [u16; 2] = [443, 80];
const SOCKETS: [&str; 3] = [
    "/run/app/db.sock",
    "/run/app/admin.sock",
    "/var/run/docker.sock",
];

/// One step of a generated plan.
#[derive(Clone, Debug)]
enum Step {
    Call(&'static str),
    /// `send_money(recipient = R, amount = N)`, or the param `amount` when
    /// `None`.
    Send(&'static str, Option<i64>),
    Read(&'static str),
    Write(&'static str),
    Git(&'static str),
    Connect(u16),
    /// `connect PATH` on a unix socket.
    Socket(&'static str),
    /// `read GLOB`, performed as one path it matches.
    Glob(&'static str),
    /// `connect 10.1.0.0/16:443`, performed as one address inside.
    Net,
}

/// Globs a plan may read, each with a path it matches.
const GLOBS: [(&str, &str); 2] = [
    ("/srv/*.txt", "/srv/c.txt"),
    ("/srv/**/*.csv", "/srv/x/y/z.csv"),
];

/// How often the spec's `at most` lets `notify` happen in a run.
const NOTIFY_LIMIT: usize = 2;

impl Step {
    fn text(&self) -> String {
        match self {
            Step::Call(t) => format!("call {t}()"),
            Step::Send(r, Some(n)) => format!("call send_money(recipient = {r:?}, amount = {n})"),
            Step::Send(r, None) => format!("call send_money(recipient = {r:?}, amount = amount)"),
            Step::Read(p) => format!("read {p:?}"),
            Step::Write(p) => format!("write {p:?}"),
            Step::Git(a) => format!("exec \"/usr/bin/git\" [{a:?}]"),
            Step::Connect(p) => format!("connect \"api.example\":{p}"),
            Step::Socket(p) => format!("connect {p:?}"),
            Step::Glob(g) => format!("read {g:?}"),
            Step::Net => "connect 10.1.0.0/16:443".to_string(),
        }
    }

    fn action(&self, amount: i64) -> ConcreteAction {
        let num = |n: i64| Field::new(Value::Number(Decimal::from(n)));
        match self {
            Step::Call(t) => ConcreteAction::call(*t, Vec::<(String, Field)>::new()),
            Step::Send(r, n) => ConcreteAction::call(
                "send_money",
                [
                    ("recipient", Field::new(Value::String((*r).into()))),
                    ("amount", num(n.unwrap_or(amount))),
                ],
            ),
            Step::Read(p) => ConcreteAction::read(p).expect("path"),
            Step::Write(p) => ConcreteAction::write(p).expect("path"),
            Step::Git(a) => ConcreteAction::exec("/usr/bin/git", &[*a]).expect("path"),
            Step::Connect(p) => ConcreteAction::connect("api.example", *p).expect("host"),
            Step::Socket(p) => ConcreteAction::connect_unix(p).expect("path"),
            Step::Glob(g) => {
                let (_, path) = GLOBS.iter().find(|(x, _)| x == g).expect("a known glob");
                ConcreteAction::read(path).expect("path")
            }
            Step::Net => ConcreteAction::connect("10.1.2.3", 443).expect("address"),
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        prop::sample::select(&TOOLS[..2]).prop_map(Step::Call),
        (
            prop::sample::select(&RECIPIENTS[..]),
            prop::option::of(1i64..200)
        )
            .prop_map(|(r, n)| Step::Send(r, n)),
        prop::sample::select(&PATHS[..]).prop_map(Step::Read),
        prop::sample::select(&PATHS[..]).prop_map(Step::Write),
        prop::sample::select(&ARGS[..]).prop_map(Step::Git),
        prop::sample::select(&PORTS[..]).prop_map(Step::Connect),
        prop::sample::select(&SOCKETS[..]).prop_map(Step::Socket),
        prop::sample::select(GLOBS.map(|(g, _)| g).to_vec()).prop_map(Step::Glob),
        Just(Step::Net),
    ]
}

/// A spec: a random subset of a pool of rules.
fn spec() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::bool::weighted(0.85), 10),
        prop::bool::weighted(0.3),
        prop::sample::select(vec![50i64, 100, 1000]),
    )
        .prop_map(|(mut on, deny, limit)| {
            on.push(deny);
            let pool = [
                "allow call get_balance".to_string(),
                "allow call notify".to_string(),
                format!(
                    "allow call send_money when recipient in [\"UK1\", \"UK2\"] and amount <= {limit}"
                ),
                "allow read under \"/srv/\"".to_string(),
                "allow write \"/tmp/out.txt\"".to_string(),
                "allow exec \"/usr/bin/git\" when argv[0] in [\"status\", \"diff\"]".to_string(),
                "allow connect host in [\"api.example\"] and port == 443".to_string(),
                "allow connect ip in [10.0.0.0/8] and port == 443".to_string(),
                "allow connect under \"/run/app/\"".to_string(),
                format!("at most {NOTIFY_LIMIT} call notify"),
                "deny call send_money when recipient == \"UK2\"".to_string(),
            ];
            let rules: Vec<&str> = pool
                .iter()
                .zip(on)
                .filter(|(_, on)| *on)
                .map(|(r, _)| r.as_str())
                .collect();
            format!("spec \"random\" {{\n  {}\n}}\n", rules.join("\n  "))
        })
}

fn plan_text(steps: &[Step], max: i64) -> String {
    let mut out = String::from("plan \"random\" {\n");
    if steps.iter().any(|s| matches!(s, Step::Send(_, None))) {
        out.push_str(&format!(
            "  param amount: number where amount > 0 and amount <= {max}\n"
        ));
    }
    for s in steps {
        out.push_str("  ");
        out.push_str(&s.text());
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// Actions from the vocabulary that the plan does not perform.
fn outside(steps: &[Step], max: i64) -> Vec<ConcreteAction> {
    let num = |n: i64| Field::new(Value::Number(Decimal::from(n)));
    let texts: BTreeSet<String> = steps.iter().map(|s| s.action(1).to_string()).collect();
    let mut out = Vec::new();
    for t in TOOLS {
        let called = steps.iter().any(|s| match s {
            Step::Call(c) => *c == t,
            Step::Send(..) => t == "send_money",
            _ => false,
        });
        if !called {
            out.push(ConcreteAction::call(t, Vec::<(String, Field)>::new()));
        }
    }
    for p in PATHS {
        for a in [
            ConcreteAction::read(p).expect("path"),
            ConcreteAction::write(p).expect("path"),
        ] {
            if !texts.contains(&a.to_string()) {
                out.push(a);
            }
        }
    }
    for arg in ARGS {
        let a = ConcreteAction::exec("/usr/bin/git", &[arg]).expect("path");
        if !texts.contains(&a.to_string()) {
            out.push(a);
        }
    }
    for port in PORTS {
        let a = ConcreteAction::connect("api.example", port).expect("host");
        if !texts.contains(&a.to_string()) {
            out.push(a);
        }
    }
    // Sockets the plan does not connect to, and never a listen on one (nor
    // a file of that path).
    for p in SOCKETS {
        let a = ConcreteAction::connect_unix(p).expect("path");
        if !texts.contains(&a.to_string()) {
            out.push(a);
        }
        out.push(ConcreteAction::listen_unix(p).expect("path"));
    }
    // Inside the spec's network and `/srv/`, outside the plan's network and
    // globs (no plan names these exactly).
    out.push(ConcreteAction::connect("10.2.0.1", 443).expect("address"));
    out.push(ConcreteAction::connect("10.1.2.3", 80).expect("address"));
    out.push(ConcreteAction::read("/srv/x/c.txt").expect("path"));
    out.push(ConcreteAction::read("/srv/x/y/z.tsv").expect("path"));
    // A read the plan's globs cover is inside, not outside.
    out.retain(|a| {
        let path = a.fields.get("path").and_then(|f| f.value.as_str());
        !(a.kind == ActionKind::Read
            && steps
                .iter()
                .any(|s| matches!(s, Step::Glob(g) if path.is_some_and(|p| glob_matches(g, p)))))
    });
    // Recipients the plan never pays; for the param, an amount over its
    // condition.
    for s in steps {
        if let Step::Send(r, n) = s {
            for other in RECIPIENTS.iter().filter(|o| *o != r) {
                let paid = steps
                    .iter()
                    .any(|t| matches!(t, Step::Send(x, _) if x == other));
                if !paid {
                    out.push(ConcreteAction::call(
                        "send_money",
                        [
                            ("recipient", Field::new(Value::String((*other).into()))),
                            ("amount", num(n.unwrap_or(1))),
                        ],
                    ));
                }
            }
            // (Unless another step pays that very amount to that recipient.)
            let literal = steps
                .iter()
                .any(|t| matches!(t, Step::Send(x, Some(m)) if x == r && *m == max + 1));
            if n.is_none() && !literal {
                out.push(ConcreteAction::call(
                    "send_money",
                    [
                        ("recipient", Field::new(Value::String((*r).into()))),
                        ("amount", num(max + 1)),
                    ],
                ));
            }
        }
    }
    // send_money without its amount: a call grant allows exactly its
    // arguments.
    out.push(ConcreteAction::call(
        "send_money",
        [("recipient", Field::new(Value::String("UK1".into())))],
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn accepted_plans_pass_the_monitor_and_nothing_else_does(
        spec_text in spec(),
        steps in prop::collection::vec(step(), 1..6),
        max in 1i64..100,
        pick in 0i64..1000,
    ) {
        let spec = load_spec_str(&spec_text, "random.spec").expect("spec");
        let specs: Vec<_> = spec.specs().collect();
        let compiled = CompiledSpec::from_specs(&specs).expect("compile");
        let text = plan_text(&steps, max);
        let plan = load_plan_str(&text, "random.plan").expect("plan");
        let outcome = compiled.check(&plan).expect("check");
        prop_assume!(outcome.verdict == Verdict::Accept);
        let envelope = outcome.envelope.expect("an accepted plan has an envelope");

        let key = SigningKey::generate().expect("key");
        let clock = FixedClock::new(Timestamp::from_unix(1_800_000_000));
        let now = clock.now();
        let claims = Claims {
            warden: CLAIMS_VERSION,
            iss: "warden".into(),
            sub: None,
            jti: TokenId::random().expect("id"),
            iat: now,
            nbf: now,
            exp: Timestamp::from_unix(now.unix() + 600),
            plan: None,
            plan_hash: plan_hash(&plan),
            spec: Some(spec.root.name.node.clone()),
            spec_hash: spec_hash(&spec),
            ancestors: vec![],
            envelope,
            enforcement: vec![],
        };
        let tok = token::paseto::sign(&claims, &key).expect("sign");
        let verified = VerifiedToken::verify(&tok, key.public_key(), &clock, &NoRevocations)
            .expect("verify");

        // Every action of the plan, in order, with a param value meeting its
        // `where` (one value per run).
        let amount = 1 + pick % max;
        let mut run = verified.monitor(&clock, NoRevocations);
        for s in &steps {
            let a = s.action(amount);
            let r = run.check(&a);
            prop_assert!(r.is_ok(), "{a} refused in\n{text}\nunder\n{spec_text}: {r:?}");
        }
        // `notify` again: allowed while the run stays within the spec's
        // `at most` (when the spec has it), refused from then on.
        let notified = steps.iter().filter(|s| matches!(s, Step::Call("notify"))).count();
        if notified > 0 {
            let limited = spec_text.contains("at most");
            let notify = ConcreteAction::call("notify", Vec::<(String, Field)>::new());
            for n in notified..NOTIFY_LIMIT + 2 {
                let r = run.check(&notify);
                if limited && n >= NOTIFY_LIMIT {
                    prop_assert!(r.is_err(), "notify #{} allowed for\n{text}\nunder\n{spec_text}", n + 1);
                } else {
                    prop_assert!(r.is_ok(), "notify #{} refused: {r:?}", n + 1);
                }
            }
        }
        for a in outside(&steps, max) {
            let mut run = verified.monitor(&clock, NoRevocations);
            prop_assert!(run.check(&a).is_err(), "{a} allowed for\n{text}");
        }
    }
}
