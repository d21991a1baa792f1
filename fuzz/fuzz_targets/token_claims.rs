//! Any bytes as the claims of a correctly signed token: verification never
//! panics; claims it accepts sign again into a token that verifies to the
//! same claims, and a run monitor over their envelope decides actions
//! without panicking.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pasetors::keys::AsymmetricSecretKey;
use pasetors::version4::{PublicToken, V4};
use token::{
    ConcreteAction, Field, FixedClock, NoRevocations, SigningKey, Value, VerifiedToken, paseto,
};

/// The fuzzer's key, and the same key as pasetors reads it (to sign raw
/// payload bytes, which `token::paseto::sign` never would).
fn keys() -> &'static (SigningKey, AsymmetricSecretKey<V4>, Vec<u8>) {
    static KEYS: OnceLock<(SigningKey, AsymmetricSecretKey<V4>, Vec<u8>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate().expect("a key");
        let secret = AsymmetricSecretKey::<V4>::try_from(key.to_paserk().as_str())
            .expect("pasetors reads the key's PASERK text");
        let footer = serde_json::to_vec(&paseto::Footer {
            kid: key.public_key().key_id().to_string(),
        })
        .expect("the footer");
        (key, secret, footer)
    })
}

fuzz_target!(|payload: &[u8]| {
    let (key, secret, footer) = keys();
    let Ok(tok) = PublicToken::sign(secret, payload, Some(footer), None) else {
        return;
    };
    // Within the claims' lifetime when they have one, so that the claims
    // themselves decide.
    let Ok(unverified) = paseto::decode_unverified(&tok) else {
        // Only an empty payload leaves no room for the signature's 64 bytes.
        assert!(
            payload.is_empty(),
            "a token pasetors signed does not decode"
        );
        return;
    };
    let Ok(claims) = unverified.claims else {
        let epoch = FixedClock::new(token::Timestamp::from_unix(0));
        assert!(paseto::verify(&tok, key.public_key(), &epoch).is_err());
        return;
    };
    let clock = FixedClock::new(claims.nbf);
    let verified = paseto::verify(&tok, key.public_key(), &clock);
    if claims.exp <= claims.nbf {
        assert!(verified.is_err(), "an empty lifetime verified: {claims:?}");
        return;
    }
    let verified = verified.expect("claims that decode, signed by the key, within their lifetime");
    assert_eq!(verified, claims);
    let again = paseto::sign(&claims, key).expect("accepted claims sign again");
    assert_eq!(
        paseto::verify(&again, key.public_key(), &clock).expect("and verify"),
        claims
    );
    let token = VerifiedToken::verify(&tok, key.public_key(), &clock, &NoRevocations)
        .expect("the monitor's verification agrees");
    let mut run = token.monitor(FixedClock::new(claims.nbf), NoRevocations);
    let actions = [
        ConcreteAction::read("/etc/passwd"),
        ConcreteAction::write("/tmp/out/x.tmp"),
        ConcreteAction::exec("/usr/bin/git", &["status"]),
        ConcreteAction::connect_unix("/run/app/db.sock"),
    ];
    for a in actions.into_iter().flatten() {
        let _ = run.check(&a);
    }
    let _ = run.check(&ConcreteAction::listen(8080));
    let _ = run.check(&ConcreteAction::call(
        "send_money",
        [(
            "recipient",
            Field::new(Value::String("UK12345678901234567890".into())),
        )],
    ));
});
