//! PASETO v4.public: sign claims into a token, and verify a token back into
//! claims.
//!
//! A Warden token is `v4.public.` + base64url(claims JSON ‖ Ed25519
//! signature) + `.` + base64url(footer JSON), exactly as the PASETO
//! specification writes it, with no implicit assertion. The footer is
//! `{"kid":"k4.pid.…"}`, the PASERK id of the signing key; it is covered by
//! the signature. Any PASETO v4 library verifies a Warden token with the
//! public key alone.
//!
//! Verification refuses, each with its own [`TokenError`]: text that is not a
//! well-formed token (including any non-canonical base64), a token signed by
//! another key, a bad signature, claims that are not Warden's, and a token
//! outside its lifetime by the given [`Clock`].

use crate::claims::{CLAIMS_VERSION, Claims, Clock, Timestamp, TokenId};
use crate::keys::{PublicKey, SigningKey};
use crate::revocation::{RevocationError, RevocationList};
use pasetors::token::{Public, UntrustedToken};
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Serialize};

/// The header of every token this crate writes.
pub const HEADER: &str = "v4.public.";

/// Longer tokens are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 1 << 20;

const SIGNATURE_LEN: usize = 64;

/// Why a token was refused (or could not be made).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error(
        "the token was signed by another key ({token_key}); the given public key is {given_key}"
    )]
    WrongKey {
        token_key: String,
        given_key: String,
    },
    #[error("bad signature: the token was altered after it was signed")]
    BadSignature,
    #[error("the token expired at {exp} (it is now {now})")]
    Expired { exp: Timestamp, now: Timestamp },
    #[error("the token is not valid before {nbf} (it is now {now})")]
    NotYetValid { nbf: Timestamp, now: Timestamp },
    #[error("the token's claims are not Warden claims: {0}")]
    Claims(String),
    #[error("the token {id} is revoked")]
    Revoked { id: TokenId },
    #[error("the revocation list could not be consulted, so the token is refused: {0}")]
    Revocation(#[from] RevocationError),
    #[error("could not sign the token: {0}")]
    Sign(String),
}

/// The footer of a Warden token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Footer {
    /// The PASERK id (`k4.pid.…`) of the signing key.
    pub kid: String,
}

/// Sign `claims` with `key`.
pub fn sign(claims: &Claims, key: &SigningKey) -> Result<String, TokenError> {
    let message = serde_json::to_vec(claims).map_err(|e| TokenError::Sign(e.to_string()))?;
    let footer = serde_json::to_vec(&Footer {
        kid: key.public_key().key_id().to_string(),
    })
    .map_err(|e| TokenError::Sign(e.to_string()))?;
    let token = PublicToken::sign(key.inner(), &message, Some(&footer), None)
        .map_err(|e| TokenError::Sign(format!("{e:?}")))?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Sign(format!(
            "the token would be {} bytes, over the limit of {MAX_TOKEN_LEN}",
            token.len()
        )));
    }
    Ok(token)
}

/// A token split into its parts, nothing checked but its shape.
struct Parsed {
    untrusted: UntrustedToken<Public, V4>,
    footer: Footer,
}

fn parse(token: &str) -> Result<Parsed, TokenError> {
    let token = token.trim_end_matches(['\n', '\r']);
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed(format!(
            "{} bytes is over the limit of {MAX_TOKEN_LEN}",
            token.len()
        )));
    }
    if !token.starts_with(HEADER) {
        let shown: String = token.chars().take(10).collect();
        return Err(TokenError::Malformed(format!(
            "a Warden token starts with `{HEADER}`, this one with `{shown}`"
        )));
    }
    let parts: Vec<&str> = token[HEADER.len()..].split('.').collect();
    let [body, footer_b64] = parts[..] else {
        return Err(TokenError::Malformed(
            "expected `v4.public.PAYLOAD.FOOTER` (a Warden token always has a footer)".into(),
        ));
    };
    if body.is_empty() || footer_b64.is_empty() {
        return Err(TokenError::Malformed("an empty payload or footer".into()));
    }
    let untrusted = UntrustedToken::<Public, V4>::try_from(token)
        .map_err(|e| TokenError::Malformed(format!("not PASETO v4.public ({e:?})")))?;
    if untrusted.untrusted_message().len() <= SIGNATURE_LEN {
        return Err(TokenError::Malformed(
            "too short to hold a signature".into(),
        ));
    }
    // Base64 can spell the same bytes more than one way (the unused low bits
    // of the last character); accept only the one spelling we write, so that
    // every altered character is an altered token.
    if !canonical_b64(body) || !canonical_b64(footer_b64) {
        return Err(TokenError::Malformed("non-canonical base64".into()));
    }
    let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer())
        .map_err(|e| TokenError::Malformed(format!("the footer is not Warden's: {e}")))?;
    Ok(Parsed { untrusted, footer })
}

/// Whether the unused low bits of the last character of unpadded base64url
/// text are zero (the text was decoded successfully before).
fn canonical_b64(text: &str) -> bool {
    let Some(&last) = text.as_bytes().last() else {
        return true;
    };
    let sextet = match last {
        b'A'..=b'Z' => last - b'A',
        b'a'..=b'z' => last - b'a' + 26,
        b'0'..=b'9' => last - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return false,
    };
    match text.len() % 4 {
        0 => true,
        2 => sextet & 0x0f == 0,
        3 => sextet & 0x03 == 0,
        _ => false,
    }
}

fn parse_claims(payload: &[u8]) -> Result<Claims, TokenError> {
    let claims: Claims =
        serde_json::from_slice(payload).map_err(|e| TokenError::Claims(e.to_string()))?;
    if claims.warden != CLAIMS_VERSION {
        return Err(TokenError::Claims(format!(
            "claims version {} (this Warden reads version {CLAIMS_VERSION})",
            claims.warden
        )));
    }
    if claims.exp <= claims.nbf {
        return Err(TokenError::Claims(format!(
            "it expires ({}) before it becomes valid ({})",
            claims.exp, claims.nbf
        )));
    }
    Ok(claims)
}

/// Check the signature of `token` with `key` and its lifetime at `clock`'s
/// now; return its claims.
pub fn verify(token: &str, key: &PublicKey, clock: &dyn Clock) -> Result<Claims, TokenError> {
    let parsed = parse(token)?;
    if PublicToken::verify(key.inner(), &parsed.untrusted, None, None).is_err() {
        return Err(if parsed.footer.kid != key.key_id() {
            TokenError::WrongKey {
                token_key: parsed.footer.kid,
                given_key: key.key_id().to_string(),
            }
        } else {
            TokenError::BadSignature
        });
    }
    let claims = parse_claims(parsed.untrusted.untrusted_payload())?;
    check_lifetime(&claims, clock.now())?;
    Ok(claims)
}

/// [`verify`], then consult `revocations`: a revoked token, or a list that
/// cannot be read, is refused.
pub fn verify_unrevoked(
    token: &str,
    key: &PublicKey,
    clock: &dyn Clock,
    revocations: &dyn RevocationList,
) -> Result<Claims, TokenError> {
    let claims = verify(token, key, clock)?;
    check_revocation(&claims, revocations)?;
    Ok(claims)
}

/// Refuse a revoked token, or any token when the list cannot be consulted.
pub fn check_revocation(
    claims: &Claims,
    revocations: &dyn RevocationList,
) -> Result<(), TokenError> {
    if revocations.is_revoked(&claims.jti)? {
        return Err(TokenError::Revoked { id: claims.jti });
    }
    for ancestor in &claims.ancestors {
        if revocations.is_revoked(ancestor)? {
            return Err(TokenError::Revoked { id: *ancestor });
        }
    }
    Ok(())
}

/// Refuse claims outside `nbf <= now < exp`.
pub fn check_lifetime(claims: &Claims, now: Timestamp) -> Result<(), TokenError> {
    if now < claims.nbf {
        return Err(TokenError::NotYetValid {
            nbf: claims.nbf,
            now,
        });
    }
    if now >= claims.exp {
        return Err(TokenError::Expired {
            exp: claims.exp,
            now,
        });
    }
    Ok(())
}

/// What a token says, read WITHOUT checking its signature: for people
/// inspecting a token they hold no public key for. Never act on it.
#[derive(Debug)]
pub struct Unverified {
    /// The key id the footer names (unverified).
    pub key_id: String,
    /// The claims, or why they are not Warden claims.
    pub claims: Result<Claims, TokenError>,
}

/// Decode `token` without verifying it. Only its shape is checked.
pub fn decode_unverified(token: &str) -> Result<Unverified, TokenError> {
    let parsed = parse(token)?;
    Ok(Unverified {
        key_id: parsed.footer.kid,
        claims: parse_claims(parsed.untrusted.untrusted_payload()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::FixedClock;
    use crate::revocation::MemoryRevocations;
    use std::time::Duration;

    fn setup() -> (SigningKey, Claims, String) {
        let key = SigningKey::generate().unwrap();
        let claims = crate::claims::tests::sample();
        let token = sign(&claims, &key).unwrap();
        (key, claims, token)
    }

    fn during(c: &Claims) -> FixedClock {
        FixedClock::new(Timestamp::from_unix(c.iat.unix() + 1))
    }

    #[test]
    fn round_trip() {
        let (key, claims, token) = setup();
        assert!(token.starts_with(HEADER));
        let back = verify(&token, key.public_key(), &during(&claims)).unwrap();
        assert_eq!(back, claims);
        let u = decode_unverified(&token).unwrap();
        assert_eq!(u.key_id, key.public_key().key_id());
        assert_eq!(u.claims.unwrap(), claims);
        // A trailing newline (as a file or a shell adds) is fine.
        verify(&format!("{token}\n"), key.public_key(), &during(&claims)).unwrap();
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let (key, claims, token) = setup();
        let clock = during(&claims);
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut t = bytes.to_vec();
                t[i] ^= flip;
                let Ok(s) = String::from_utf8(t) else {
                    continue;
                };
                let r = verify(&s, key.public_key(), &clock);
                assert!(r.is_err(), "flipping byte {i} by {flip:#x} was accepted");
            }
        }
    }

    #[test]
    fn altered_payload_is_a_bad_signature() {
        let (key, claims, token) = setup();
        // Change one character in the middle of the payload to another valid
        // base64 character.
        let mid = HEADER.len() + 20;
        let mut t = token.clone().into_bytes();
        t[mid] = if t[mid] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        let e = verify(&t, key.public_key(), &during(&claims)).unwrap_err();
        assert!(matches!(e, TokenError::BadSignature), "{e}");
    }

    #[test]
    fn wrong_key_is_named() {
        let (_, claims, token) = setup();
        let other = SigningKey::generate().unwrap();
        let e = verify(&token, other.public_key(), &during(&claims)).unwrap_err();
        assert!(matches!(e, TokenError::WrongKey { .. }), "{e}");
    }

    #[test]
    fn expiry_and_not_before_follow_the_clock() {
        let (key, claims, token) = setup();
        let clock = FixedClock::new(Timestamp::from_unix(claims.nbf.unix() - 1));
        let e = verify(&token, key.public_key(), &clock).unwrap_err();
        assert!(matches!(e, TokenError::NotYetValid { .. }), "{e}");
        clock.set(claims.nbf);
        verify(&token, key.public_key(), &clock).unwrap();
        clock.set(Timestamp::from_unix(claims.exp.unix() - 1));
        verify(&token, key.public_key(), &clock).unwrap();
        clock.advance(Duration::from_secs(1));
        let e = verify(&token, key.public_key(), &clock).unwrap_err();
        assert!(matches!(e, TokenError::Expired { .. }), "{e}");
    }

    #[test]
    fn base64_with_stray_low_bits_is_refused() {
        let (key, claims, token) = setup();
        let (body, footer) = token[HEADER.len()..].split_once('.').unwrap();
        // Both parts end in a character with unused low bits or none; find
        // one that has them and set one.
        for (part, is_footer) in [(body, false), (footer, true)] {
            if part.len() % 4 == 0 {
                continue;
            }
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let last = part.as_bytes()[part.len() - 1];
            let idx = alphabet.iter().position(|&c| c == last).unwrap();
            let bumped = alphabet[idx ^ 1] as char;
            let part2 = format!("{}{bumped}", &part[..part.len() - 1]);
            let t = if is_footer {
                format!("{HEADER}{body}.{part2}")
            } else {
                format!("{HEADER}{part2}.{footer}")
            };
            let e = verify(&t, key.public_key(), &during(&claims)).unwrap_err();
            assert!(matches!(e, TokenError::Malformed(_)), "{e}");
        }
    }

    #[test]
    fn malformed_tokens_are_malformed() {
        let key = SigningKey::generate().unwrap();
        let clock = FixedClock::new(Timestamp::from_unix(0));
        for bad in [
            "",
            "v4.public.",
            "v4.local.abc.def",
            "v2.public.abc",
            "v4.public.abc",
            "v4.public.abc.",
            "v4.public..abc",
            "v4.public.a.b.c",
            "v4.public.!!!!.e30",
        ] {
            let e = verify(bad, key.public_key(), &clock).unwrap_err();
            assert!(matches!(e, TokenError::Malformed(_)), "{bad:?}: {e}");
        }
        let huge = format!("{HEADER}{}", "A".repeat(MAX_TOKEN_LEN));
        assert!(matches!(
            verify(&huge, key.public_key(), &clock),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn signed_non_warden_payload_is_a_claims_error() {
        let key = SigningKey::generate().unwrap();
        let footer = serde_json::to_vec(&Footer {
            kid: key.public_key().key_id().into(),
        })
        .unwrap();
        let t = PublicToken::sign(key.inner(), br#"{"sub":"x"}"#, Some(&footer), None).unwrap();
        let e = verify(
            &t,
            key.public_key(),
            &FixedClock::new(Timestamp::from_unix(0)),
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::Claims(_)), "{e}");
    }

    #[test]
    fn revoked_tokens_and_their_children_are_refused() {
        let (key, mut claims, token) = setup();
        let clock = during(&claims);
        let list = MemoryRevocations::default();
        verify_unrevoked(&token, key.public_key(), &clock, &list).unwrap();
        list.revoke(claims.jti);
        let e = verify_unrevoked(&token, key.public_key(), &clock, &list).unwrap_err();
        assert!(
            matches!(e, TokenError::Revoked { id } if id == claims.jti),
            "{e}"
        );

        // A child of a revoked token is refused too.
        let parent = claims.jti;
        claims.ancestors = vec![parent];
        claims.jti = TokenId::from_bytes([9; 16]);
        let child = sign(&claims, &key).unwrap();
        let e = verify_unrevoked(&child, key.public_key(), &clock, &list).unwrap_err();
        assert!(
            matches!(e, TokenError::Revoked { id } if id == parent),
            "{e}"
        );
    }
}
