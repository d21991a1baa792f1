//! Token speed: verifying a signed token (target < 100 µs) and checking one
//! tool call against a verified 50-entry envelope (target < 2 µs p50).
//! Run: `cargo bench -p token --bench token`.

use criterion::{Criterion, black_box};
use std::collections::BTreeMap;
use token::{
    Claims, Digest, FixedClock, MemoryRevocations, NoRevocations, SigningKey, Timestamp, TokenId,
    VerifiedToken, paseto,
};
use warden_core::action::ConcreteAction;
use warden_core::cond::{Cond, Operand, Pattern};
use warden_core::envelope::{
    CallGrant, CountLimit, Envelope, FileAccess, FileGrant, Location, PathTarget, ValueMatch,
};
use warden_core::value::{Field, Number as Decimal, Value};
use warden_core::vocab::{ActionKind, CmpOp};

fn num(n: i64) -> Value {
    Value::Number(Decimal::from(n))
}

/// `entries` grants: calls `tool_i(recipient = "R{i}", amount = amount)`
/// with `amount` a param `where amount > 0 and amount <= 100`, a few file
/// grants, an `at most` limit on the last tool and a baseline pattern.
fn envelope(entries: usize) -> Envelope {
    let mut env = Envelope::default();
    env.params
        .push(warden_core::envelope::example_amount_param());
    for i in 0..entries.saturating_sub(5) {
        let mut args = BTreeMap::new();
        args.insert(
            "recipient".to_string(),
            ValueMatch::Exact {
                value: Value::String(format!("R{i}")),
            },
        );
        args.insert(
            "amount".to_string(),
            ValueMatch::Param {
                param: "amount".into(),
            },
        );
        env.calls.push(CallGrant {
            name: format!("tool_{i}"),
            args,
        });
    }
    for i in 0..entries.min(5) {
        env.files.push(FileGrant {
            access: FileAccess::Read,
            target: PathTarget::Tree {
                dir: format!("/srv/data{i}"),
            },
        });
    }
    let last = format!("tool_{}", entries.saturating_sub(6));
    env.limits.push(CountLimit {
        limit: u64::MAX,
        pattern: Pattern {
            kind: Some(ActionKind::Call),
            calls: Some(vec![last]),
            when: Cond::True,
        },
        rule: Location::synthetic(),
    });
    env.baseline.push(Pattern {
        kind: Some(ActionKind::Read),
        calls: None,
        when: Cond::Cmp {
            op: CmpOp::Under,
            lhs: Operand::field("path"),
            rhs: Operand::Value {
                value: Value::String("/usr/lib/".into()),
            },
        },
    });
    env
}

fn claims(entries: usize) -> Claims {
    let now = Timestamp::from_unix(1_800_000_000);
    Claims {
        warden: warden_core::claims::CLAIMS_VERSION,
        iss: "warden".into(),
        sub: Some("bench-agent".into()),
        jti: TokenId::from_bytes([3; 16]),
        iat: now,
        nbf: now,
        exp: Timestamp::from_unix(now.unix() + 900),
        plan: Some("bench".into()),
        plan_hash: Digest::of_text("plan"),
        spec: Some("bench".into()),
        spec_hash: Digest::of_text("spec"),
        ancestors: vec![],
        envelope: envelope(entries),
        enforcement: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate().expect("key");
    let clock = FixedClock::new(Timestamp::from_unix(1_800_000_100));
    for entries in [1usize, 50] {
        let tok = paseto::sign(&claims(entries), &key).expect("sign");
        c.bench_function(&format!("verify token ({entries}-entry envelope)"), |b| {
            b.iter(|| {
                paseto::verify_unrevoked(black_box(&tok), key.public_key(), &clock, &NoRevocations)
                    .expect("verify")
            })
        });
    }
    let tok = paseto::sign(&claims(50), &key).expect("sign");
    c.bench_function("sign token (50-entry envelope)", |b| {
        let cl = claims(50);
        b.iter(|| paseto::sign(black_box(&cl), &key).expect("sign"))
    });

    // The check of one tool call against a verified 50-entry envelope: the
    // worst case of the scan (the last call grant), with a param condition,
    // an `at most` limit and revocation consulted.
    let revoked = MemoryRevocations::default();
    revoked.revoke(TokenId::from_bytes([9; 16]));
    let verified = VerifiedToken::verify(&tok, key.public_key(), &clock, &revoked).expect("verify");
    let call = ConcreteAction::call(
        "tool_44",
        [
            ("recipient", Field::new(Value::String("R44".into()))),
            ("amount", Field::new(num(42))),
        ],
    );
    let mut run = verified.monitor(&clock, &revoked);
    run.check(&call).expect("allowed");
    c.bench_function("check tool call (50-entry envelope)", |b| {
        b.iter(|| run.check(black_box(&call)).expect("allowed"))
    });
    let outside = ConcreteAction::call(
        "tool_44",
        [
            ("recipient", Field::new(Value::String("ATTACKER".into()))),
            ("amount", Field::new(num(42))),
        ],
    );
    c.bench_function("refuse tool call (50-entry envelope)", |b| {
        b.iter(|| run.check(black_box(&outside)).expect_err("refused"))
    });
    let read = ConcreteAction::read("/srv/data4/x/y.csv").expect("path");
    c.bench_function("check file read (50-entry envelope)", |b| {
        b.iter(|| run.check(black_box(&read)).expect("allowed"))
    });
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
