//! Token speed: verification of a signed token (target < 100 µs).
//! Run: `cargo bench -p token --bench token`.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use token::{Claims, Digest, FixedClock, NoRevocations, SigningKey, Timestamp, TokenId, paseto};

fn claims(entries: usize) -> Claims {
    let now = Timestamp::from_unix(1_800_000_000);
    let calls: Vec<_> = (0..entries)
        .map(|i| serde_json::json!({"name": format!("tool_{i}"), "args": {"amount": {"le": 100}}}))
        .collect();
    Claims {
        warden: token::CLAIMS_VERSION,
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
        envelope: serde_json::json!({ "calls": calls }),
        baseline: serde_json::json!([{"read": {"under": "/usr/lib/"}}]),
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
    c.bench_function("decode token unverified (50-entry envelope)", |b| {
        b.iter(|| paseto::decode_unverified(black_box(&tok)).expect("decode"))
    });
    let cl = claims(50);
    c.bench_function("sign token (50-entry envelope)", |b| {
        b.iter(|| paseto::sign(black_box(&cl), &key).expect("sign"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
