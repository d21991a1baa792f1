//! The canonical printer and the parser agree: for any syntax tree,
//! `parse(fmt(tree)) == tree` (spans aside), and `fmt` is a fixed point.

use planlang::ast::*;
use planlang::span::{Ident, Spanned};
use planlang::value::{Cidr, Duration, Literal, Number};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn sp<T>(t: T) -> Spanned<T> {
    Spanned::synthetic(t)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,7}",
        // Names that start like keywords must stay names.
        prop::sample::select(vec![
            "reader", "into", "order", "nothing", "callx", "anyone", "path", "port", "argv"
        ])
        .prop_map(String::from),
    ]
    .prop_filter("keywords are reserved", |s| {
        !planlang::KEYWORDS.contains(&s.as_str())
    })
}

fn ident() -> impl Strategy<Value = Ident> {
    name().prop_map(sp)
}

fn qname() -> impl Strategy<Value = Spanned<String>> {
    prop::collection::vec(name(), 1..3).prop_map(|p| sp(p.join(".")))
}

fn cidr() -> impl Strategy<Value = Cidr> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, p)| Cidr::new(IpAddr::V4(Ipv4Addr::from(a)), p).unwrap().trunc()),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| Cidr::new(IpAddr::V6(Ipv6Addr::from(a)), p).unwrap().trunc()),
        // Addresses with zero runs, where `::` appears.
        (any::<u16>(), 0u8..=128).prop_map(|(a, p)| Cidr::new(
            IpAddr::V6(Ipv6Addr::from(a as u128)),
            p
        )
        .unwrap()
        .trunc()),
        any::<u32>()
            .prop_map(|a| Cidr::new(IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped()), 128).unwrap()),
    ]
}

fn number() -> impl Strategy<Value = Number> {
    (any::<i64>(), 0u32..8).prop_map(|(m, s)| Number::new(m, s))
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        "[ -~]{0,12}".prop_map(Literal::String),
        number().prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
        (0u64..10_000_000).prop_map(|s| Literal::Duration(Duration::from_secs(s))),
        cidr().prop_map(Literal::Cidr),
    ]
}

fn reference() -> impl Strategy<Value = Ref> {
    (
        name(),
        prop::collection::vec(name(), 0..2),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(n, f, i)| Ref {
            name: sp(n),
            fields: f.into_iter().map(sp).collect(),
            index: i.map(sp),
            resolved: RefKind::Unresolved,
        })
}

fn value() -> impl Strategy<Value = Spanned<ValueExpr>> {
    let leaf = prop_oneof![
        literal().prop_map(|literal| ValueExpr::Literal { literal }),
        reference().prop_map(ValueExpr::Ref),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner.prop_map(sp), 0..4).prop_map(|items| ValueExpr::List { items })
    })
    .prop_map(sp)
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::In,
        CmpOp::Under,
        CmpOp::StartsWith,
        CmpOp::EndsWith,
        CmpOp::Contains,
        CmpOp::Matches,
    ])
}

fn cond() -> impl Strategy<Value = Spanned<CondExpr>> {
    let cidrs = prop::collection::vec(
        cidr().prop_map(|c| {
            sp(ValueExpr::Literal {
                literal: Literal::Cidr(c),
            })
        }),
        1..4,
    )
    .prop_map(|items| sp(ValueExpr::List { items }));
    let leaf = prop_oneof![
        (cmp_op(), value(), value()).prop_map(|(op, lhs, rhs)| CondExpr::Compare {
            op: sp(op),
            lhs,
            rhs
        }),
        (value(), cidrs).prop_map(|(lhs, rhs)| CondExpr::Compare {
            op: sp(CmpOp::In),
            lhs,
            rhs
        }),
        ident().prop_map(|field| CondExpr::Has { field }),
        (value(), qname()).prop_map(|(value, tool)| CondExpr::FromCall { value, tool }),
        value().prop_map(|value| CondExpr::Value { value }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let c = inner.prop_map(sp);
        prop_oneof![
            prop::collection::vec(c.clone(), 2..4).prop_map(|all| CondExpr::And { all }),
            prop::collection::vec(c.clone(), 2..4).prop_map(|any| CondExpr::Or { any }),
            c.prop_map(|c| CondExpr::Not { cond: Box::new(c) }),
        ]
    })
    .prop_map(sp)
}

fn call() -> impl Strategy<Value = Call> {
    (qname(), prop::collection::vec((ident(), value()), 0..4)).prop_map(|(name, args)| Call {
        name,
        args: args
            .into_iter()
            .map(|(name, value)| Arg { name, value })
            .collect(),
    })
}

/// A connect host as the language writes it: a name, an address, a param.
fn host() -> impl Strategy<Value = Spanned<ValueExpr>> {
    prop_oneof![
        "[a-z.]{1,12}".prop_map(|s| ValueExpr::Literal {
            literal: Literal::String(s)
        }),
        cidr().prop_map(|c| ValueExpr::Literal {
            literal: Literal::Cidr(c)
        }),
        reference().prop_map(ValueExpr::Ref),
    ]
    .prop_map(sp)
}

fn port() -> impl Strategy<Value = Spanned<ValueExpr>> {
    prop_oneof![
        (0u32..=65535).prop_map(|p| ValueExpr::Literal {
            literal: Literal::Number(Number::from(p))
        }),
        reference().prop_map(ValueExpr::Ref),
    ]
    .prop_map(sp)
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        value().prop_map(|path| Action::Read { path }),
        value().prop_map(|path| Action::Write { path }),
        value().prop_map(|path| Action::Delete { path }),
        (
            value(),
            prop::option::of(prop::collection::vec(value(), 0..3))
        )
            .prop_map(|(program, args)| Action::Exec { program, args }),
        (host(), port()).prop_map(|(host, port)| Action::Connect { host, port }),
        value().prop_map(|path| Action::ConnectUnix { path }),
        port().prop_map(|port| Action::Listen { port }),
        // The parser makes a unix listen of a string literal only (a name
        // is a port until loading knows its type).
        "/[a-z./*]{0,12}".prop_map(|p| Action::ListenUnix {
            path: sp(ValueExpr::Literal {
                literal: Literal::String(p)
            })
        }),
        call().prop_map(Action::Call),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let leaf = prop_oneof![
        action().prop_map(|action| StepKind::Action { action }),
        (ident(), call()).prop_map(|(name, call)| StepKind::Let {
            name,
            call,
            assume: None,
        }),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        let block = prop::collection::vec(
            inner.prop_map(|kind| Step {
                kind,
                span: Default::default(),
            }),
            0..3,
        )
        .prop_map(|steps| Block {
            steps,
            span: Default::default(),
        });
        prop_oneof![
            prop::collection::vec(block.clone(), 2..4)
                .prop_map(|branches| StepKind::Either { branches }),
            (1u64..1000, any::<bool>(), block).prop_map(|(n, at_most, body)| StepKind::Repeat {
                count: sp(n),
                at_most,
                body
            }),
        ]
    })
    .prop_map(|kind| Step {
        kind,
        span: Default::default(),
    })
}

fn param_type() -> impl Strategy<Value = ParamType> {
    prop::sample::select(vec![
        ParamType::String,
        ParamType::Number,
        ParamType::Bool,
        ParamType::Path,
        ParamType::Host,
    ])
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::option::of(any::<String>().prop_map(sp)),
        prop::option::of(any::<String>().prop_map(sp)),
        prop::option::of("[ -~]{0,20}".prop_map(sp)),
        prop::option::of((0u64..1_000_000).prop_map(|s| sp(Duration::from_secs(s)))),
        prop::collection::vec((ident(), param_type(), prop::option::of(cond())), 0..3),
        prop::collection::vec(step(), 0..5),
    )
        .prop_map(|(name, agent, goal, ttl, params, steps)| Plan {
            name,
            agent,
            goal,
            ttl,
            params: params
                .into_iter()
                .map(|(name, ty, condition)| Param {
                    name,
                    ty: sp(ty),
                    condition,
                    span: Default::default(),
                })
                .collect(),
            steps,
            span: Default::default(),
        })
}

fn pattern() -> impl Strategy<Value = PatternExpr> {
    let target = prop::option::of(prop_oneof![
        value().prop_map(|path| PathTargetExpr::Exact { path }),
        value().prop_map(|path| PathTargetExpr::Under { path }),
    ]);
    let path_kind = prop::sample::select(vec![
        ActionKind::Read,
        ActionKind::Write,
        ActionKind::Delete,
        ActionKind::Exec,
    ]);
    let matcher = prop_oneof![
        Just(PatternKind::Any),
        (path_kind, target).prop_map(|(action, target)| PatternKind::Path { action, target }),
        socket_target().prop_map(|target| PatternKind::Connect { target }),
        socket_target().prop_map(|target| PatternKind::Listen { target }),
        Just(PatternKind::Call {
            calls: CallNames::Any
        }),
        prop::collection::vec(qname(), 1..4).prop_map(|names| PatternKind::Call {
            calls: CallNames::Names { names }
        }),
    ];
    (matcher, prop::option::of(cond())).prop_map(|(matcher, condition)| PatternExpr {
        matcher,
        condition,
        span: Default::default(),
    })
}

/// A unix socket target of `connect`/`listen`: `under VALUE`, or a string
/// (the exact form takes a string literal only: `connect NAME` is a
/// condition).
fn socket_target() -> impl Strategy<Value = Option<PathTargetExpr>> {
    prop::option::of(prop_oneof![
        any::<String>().prop_map(|p| PathTargetExpr::Exact {
            path: sp(ValueExpr::Literal {
                literal: Literal::String(p)
            })
        }),
        value().prop_map(|path| PathTargetExpr::Under { path }),
    ])
}

fn rule() -> impl Strategy<Value = Rule> {
    let effect = prop::sample::select(vec![Effect::Allow, Effect::Deny, Effect::Approve]);
    prop_oneof![
        (effect, pattern()).prop_map(|(e, pattern)| RuleKind::Effect {
            effect: sp(e),
            pattern
        }),
        (pattern(), pattern()).prop_map(|(action, after)| RuleKind::Never { action, after }),
        (pattern(), pattern()).prop_map(|(first, then)| RuleKind::Require { first, then }),
        (any::<u64>(), pattern()).prop_map(|(n, pattern)| RuleKind::AtMost {
            limit: sp(n),
            pattern
        }),
    ]
    .prop_map(|kind| Rule {
        kind,
        span: Default::default(),
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    let expect = prop::sample::select(vec![
        Expectation::Accept,
        Expectation::Reject,
        Expectation::Approve,
    ]);
    let item = prop_oneof![
        any::<u64>().prop_map(|v| SpecItem::Version { version: sp(v) }),
        (0u64..1_000_000).prop_map(|s| SpecItem::MaxTtl {
            ttl: sp(Duration::from_secs(s))
        }),
        (ident(), value()).prop_map(|(name, value)| SpecItem::Let(LetConst {
            name,
            value,
            span: Default::default()
        })),
        "[ -~]{0,16}".prop_map(|p| SpecItem::Include { path: sp(p) }),
        rule().prop_map(SpecItem::Rule),
        rule().prop_map(SpecItem::Rule),
        prop::collection::vec(pattern(), 0..3).prop_map(|patterns| SpecItem::Baseline(Baseline {
            patterns,
            span: Default::default()
        })),
        (any::<String>(), plan(), expect).prop_map(|(n, plan, e)| SpecItem::Test(TestCase {
            name: sp(n),
            plan,
            expect: sp(e),
            span: Default::default()
        })),
    ];
    (any::<String>(), prop::collection::vec(item, 0..6)).prop_map(|(name, mut items)| {
        // `version` and `max ttl` may be given once.
        let (mut version, mut ttl) = (false, false);
        items.retain(|i| match i {
            SpecItem::Version { .. } => !std::mem::replace(&mut version, true),
            SpecItem::MaxTtl { .. } => !std::mem::replace(&mut ttl, true),
            _ => true,
        });
        Spec {
            name: sp(name),
            items,
            span: Default::default(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plans_round_trip(p in plan()) {
        let text = planlang::fmt_plan(&p);
        let back = planlang::parse_plan(&text, "gen.plan").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &p, "{}", text);
        prop_assert_eq!(planlang::fmt_plan(&back), text);
    }

    #[test]
    fn specs_round_trip(s in spec()) {
        let text = planlang::fmt_spec(&s);
        let back = planlang::parse_spec(&text, "gen.spec").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &s, "{}", text);
        prop_assert_eq!(planlang::fmt_spec(&back), text);
    }
}

/// The printer's style on a hand-written example (what `warden fmt` gives).
#[test]
fn canonical_style() {
    let src = r#"plan "p" { ttl 10m agent "a"
    param amount : number where amount>0 and (amount<=100 or amount == 7)
  either { read "/a" } or { call f(x=amount,y=[1,2]) }
    connect [::1]:443 repeat at most 3 { } }"#;
    let plan = planlang::load_plan_str(src, "p.plan").unwrap();
    let want = r#"plan "p" {
  agent "a"
  ttl 10m

  param amount: number where amount > 0 and (amount <= 100 or amount == 7)

  either {
    read "/a"
  } or {
    call f(x = amount, y = [1, 2])
  }
  connect [::1]:443
  repeat at most 3 {}
}
"#;
    assert_eq!(planlang::fmt_plan(&plan), want);
}
