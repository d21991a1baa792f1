//! Any bytes as a token: decoding (`paseto::decode_unverified`) and
//! verification never panic, and no input verifies under a key that signed
//! nothing (a fresh key per process): a forged token is always refused.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use token::{FixedClock, SigningKey, Timestamp, paseto};

/// A key made when the fuzzer starts: no input can carry its signature.
fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("a key"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = paseto::decode_unverified(text);
    let clock = FixedClock::new(Timestamp::from_unix(1_800_000_000));
    let verified = paseto::verify(text, key().public_key(), &clock);
    assert!(
        verified.is_err(),
        "a token this key never signed verified: {text}"
    );
    // Whatever verification refuses as malformed, decoding refuses too.
    if let Err(paseto::TokenError::Malformed(why)) = &verified {
        assert!(
            decoded.is_err(),
            "verify: malformed ({why}); decode: {decoded:?}"
        );
    }
});
