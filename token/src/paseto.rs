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
//! Tokens are signed and verified with ring's Ed25519 (the one Ed25519
//! library of Warden, also behind the service's TLS and the audit log's
//! checkpoints) over PASETO's pre-authentication encoding. Verification
//! decodes the token once and reads the claims JSON once, straight into the
//! typed [`Claims`]; the official PASETO v4 test vectors and an agreement
//! test against the `pasetors` library keep it honest.
//!
//! Verification refuses, each with its own [`TokenError`]: text that is not a
//! well-formed token (including any non-canonical base64), a token signed by
//! another key, a bad signature, claims that are not Warden's, and a token
//! outside its lifetime by the given [`Clock`].

use crate::keys::{PublicKey, SigningKey};
use crate::keyset::VerifyingKeys;
use serde::{Deserialize, Serialize};
use warden_core::claims::{Claims, ClaimsError, Clock, OutsideLifetime, Timestamp, TokenId};
use warden_core::revocation::{RevocationError, RevocationList};

/// The header of every token this crate writes.
pub const HEADER: &str = "v4.public.";

/// Longer tokens are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 1 << 20;

use crate::keys::SIGNATURE_LEN;

/// Why a token was refused (or could not be made).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a token this crate can read, before any key is tried: over
    /// [`MAX_TOKEN_LEN`], without the `v4.public.` header, not canonical
    /// base64url, too short for a signature, or a footer that is not
    /// Warden's.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Verified with one public key, the token names another in its footer.
    #[error(
        "the token was signed by another key ({token_key}); the given public key is {given_key}"
    )]
    WrongKey {
        /// The key id in the token's footer (`k4.pid.…`).
        token_key: String,
        /// The id of the public key given to verify it.
        given_key: String,
    },
    /// The key set has no usable key for the token's `kid`: unknown, or retired.
    #[error(transparent)]
    Key(#[from] crate::keyset::KeyChoiceError),
    /// The Ed25519 signature does not verify over the token's
    /// pre-authentication encoding with the key it names.
    #[error("bad signature: the token was altered after it was signed")]
    BadSignature,
    /// The clock's now is at or past the token's `exp`.
    #[error("{}", OutsideLifetime::Expired { exp: *exp, now: *now })]
    Expired {
        /// The token's expiry (`exp` claim).
        exp: Timestamp,
        /// The clock's now.
        now: Timestamp,
    },
    /// The clock's now is before the token's `nbf`.
    #[error("{}", OutsideLifetime::NotYetValid { nbf: *nbf, now: *now })]
    NotYetValid {
        /// The start of the token's lifetime (`nbf` claim).
        nbf: Timestamp,
        /// The clock's now.
        now: Timestamp,
    },
    /// Claims this Warden does not read: not Warden's, of a layout version
    /// outside [`warden_core::claims::ACCEPTED_VERSIONS`], or malformed.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The signed claims have `exp` at or before `nbf`: no instant is
    /// inside the lifetime.
    #[error("the token expires ({exp}) before it becomes valid ({nbf})")]
    EmptyLifetime {
        /// The `nbf` claim.
        nbf: Timestamp,
        /// The `exp` claim.
        exp: Timestamp,
    },
    /// The revocation list names the token or one it was narrowed from.
    #[error("the token {id} is revoked")]
    Revoked {
        /// The revoked id: the token's own `jti`, or an ancestor's.
        id: TokenId,
    },
    /// The revocation list could not be read; the token is refused (fail
    /// closed).
    #[error("the revocation list could not be consulted, so the token is refused: {0}")]
    Revocation(#[from] RevocationError),
    /// The claims could not be serialised, or the token would exceed
    /// [`MAX_TOKEN_LEN`].
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
    let token = sign_payload(message, key)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Sign(format!(
            "the token would be {} bytes, over the limit of {MAX_TOKEN_LEN}",
            token.len()
        )));
    }
    Ok(token)
}

/// A v4.public token of `message` with Warden's footer: the Ed25519
/// signature covers `PAE(header, message, footer, "")`.
fn sign_payload(mut message: Vec<u8>, key: &SigningKey) -> Result<String, TokenError> {
    use base64::Engine as _;
    let footer = serde_json::to_vec(&Footer {
        kid: key.public_key().key_id().to_string(),
    })
    .map_err(|e| TokenError::Sign(e.to_string()))?;
    let signature = key.sign(&pae(&[HEADER.as_bytes(), &message, &footer, b""]));
    message.extend_from_slice(&signature);
    let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Ok(format!(
        "{HEADER}{}.{}",
        b64.encode(&message),
        b64.encode(&footer)
    ))
}

impl From<OutsideLifetime> for TokenError {
    fn from(e: OutsideLifetime) -> Self {
        match e {
            OutsideLifetime::NotYetValid { nbf, now } => TokenError::NotYetValid { nbf, now },
            OutsideLifetime::Expired { exp, now } => TokenError::Expired { exp, now },
        }
    }
}

impl warden_core::claims::Signer for SigningKey {
    fn sign(&self, claims: &Claims) -> Result<String, warden_core::claims::SignError> {
        sign(claims, self).map_err(|e| warden_core::claims::SignError(e.to_string()))
    }
}

/// A token split into its parts and decoded, nothing checked but its shape.
struct Parsed {
    /// The signed message: the claims JSON, then the 64-byte signature.
    body: Vec<u8>,
    /// The footer as signed (JSON bytes).
    footer_raw: Vec<u8>,
    footer: Footer,
}

impl Parsed {
    fn payload(&self) -> &[u8] {
        &self.body[..self.body.len() - SIGNATURE_LEN]
    }

    fn signature(&self) -> &[u8] {
        &self.body[self.body.len() - SIGNATURE_LEN..]
    }
}

/// Decode unpadded base64url, accepting only its one canonical spelling:
/// no padding, nothing outside the alphabet, and zero unused low bits in the
/// last character. So every altered character is an altered token.
fn decode_b64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

fn parse(token: &str) -> Result<Parsed, TokenError> {
    let token = token.trim_end_matches(['\n', '\r']);
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed(format!(
            "{} bytes is over the limit of {MAX_TOKEN_LEN}",
            token.len()
        )));
    }
    let Some(rest) = token.strip_prefix(HEADER) else {
        let shown: String = token.chars().take(10).collect();
        return Err(TokenError::Malformed(format!(
            "a Warden token starts with `{HEADER}`, this one with `{shown}`"
        )));
    };
    let mut parts = rest.split('.');
    let (Some(body), Some(footer_b64), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed(
            "expected `v4.public.PAYLOAD.FOOTER` (a Warden token always has a footer)".into(),
        ));
    };
    if body.is_empty() || footer_b64.is_empty() {
        return Err(TokenError::Malformed("an empty payload or footer".into()));
    }
    let (Some(body), Some(footer_raw)) = (decode_b64(body), decode_b64(footer_b64)) else {
        return Err(TokenError::Malformed(
            "not PASETO v4.public: the payload or footer is not canonical unpadded base64url"
                .into(),
        ));
    };
    if body.len() <= SIGNATURE_LEN {
        return Err(TokenError::Malformed(
            "too short to hold a signature".into(),
        ));
    }
    let footer: Footer = serde_json::from_slice(&footer_raw)
        .map_err(|e| TokenError::Malformed(format!("the footer is not Warden's: {e}")))?;
    Ok(Parsed {
        body,
        footer_raw,
        footer,
    })
}

/// PASETO's `LE64`: a length as 8 little-endian bytes, top bit clear.
fn le64(n: usize) -> [u8; 8] {
    ((n as u64) & (u64::MAX >> 1)).to_le_bytes()
}

/// PASETO's pre-authentication encoding, `PAE(pieces)`: the number of
/// pieces, then each piece's length and bytes.
fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let len = 8 + pieces.iter().map(|p| 8 + p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&le64(pieces.len()));
    for piece in pieces {
        out.extend_from_slice(&le64(piece.len()));
        out.extend_from_slice(piece);
    }
    out
}

/// Whether the Ed25519 signature of a v4.public token is valid for `key`:
/// it covers `PAE(header, payload, footer, implicit assertion)`, the
/// implicit assertion being empty.
fn signature_is_valid(parsed: &Parsed, key: &PublicKey) -> bool {
    let message = pae(&[HEADER.as_bytes(), parsed.payload(), &parsed.footer_raw, b""]);
    key.verifies(&message, parsed.signature())
}

/// Read the claims straight from the signed payload bytes (one pass, into
/// the typed [`Claims`]; unknown fields are refused) and check what the
/// signature cannot: the layout version and a lifetime that is not empty.
fn parse_claims(payload: &[u8]) -> Result<Claims, TokenError> {
    let claims = Claims::from_slice(payload)?;
    if claims.exp <= claims.nbf {
        return Err(TokenError::EmptyLifetime {
            nbf: claims.nbf,
            exp: claims.exp,
        });
    }
    Ok(claims)
}

/// Check the signature of `token` with the key its footer names among
/// `keys` (one [`PublicKey`], or a [`KeySet`](crate::KeySet) where a
/// retired key is refused) and its lifetime at `clock`'s now; return its
/// claims.
pub fn verify<K: VerifyingKeys + ?Sized>(
    token: &str,
    keys: &K,
    clock: &dyn Clock,
) -> Result<Claims, TokenError> {
    let parsed = parse(token)?;
    let key = keys.token_key(&parsed.footer.kid)?;
    if !signature_is_valid(&parsed, key) {
        return Err(TokenError::BadSignature);
    }
    let claims = parse_claims(parsed.payload())?;
    claims.lifetime_at(clock.now())?;
    Ok(claims)
}

/// [`verify`], then consult `revocations`: a revoked token, or a list that
/// cannot be read, is refused.
pub fn verify_unrevoked<K: VerifyingKeys + ?Sized>(
    token: &str,
    key: &K,
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
    match claims.revoked_by(revocations)? {
        Some(id) => Err(TokenError::Revoked { id }),
        None => Ok(()),
    }
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
    let claims = parse_claims(parsed.payload());
    Ok(Unverified {
        key_id: parsed.footer.kid,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use warden_core::claims::FixedClock;
    use warden_core::revocation::MemoryRevocations;

    use warden_core::claims::sample;

    fn setup() -> (SigningKey, Claims, String) {
        let key = SigningKey::generate().unwrap();
        let claims = sample();
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
        let t = sign_payload(br#"{"sub":"x"}"#.to_vec(), &key).unwrap();
        let e = verify(
            &t,
            key.public_key(),
            &FixedClock::new(Timestamp::from_unix(0)),
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::Claims(_)), "{e}");
    }

    /// A token whose claims are of a version outside the accepted range is
    /// refused as such, naming its version and the range, even when the rest
    /// of its claims would read; the accepted version reads.
    #[test]
    fn claims_of_another_version_are_refused_naming_both() {
        let key = SigningKey::generate().unwrap();
        let claims = sample();
        let clock = during(&claims);
        let accepted = warden_core::claims::ACCEPTED_VERSIONS;
        for version in [0u64, 1, u64::from(*accepted.end()) + 1, 1 << 40] {
            let mut json = serde_json::to_value(&claims).unwrap();
            json["warden"] = version.into();
            let payload = serde_json::to_vec(&json).unwrap();
            let t = sign_payload(payload, &key).unwrap();
            let e = verify(&t, key.public_key(), &clock).unwrap_err();
            assert!(
                matches!(e, TokenError::Claims(ClaimsError::Version { found, .. }) if found == version),
                "{e}"
            );
            let text = e.to_string();
            assert!(text.contains(&format!("version {version}")), "{text}");
            assert!(
                text.contains(&format!("({}..={})", accepted.start(), accepted.end())),
                "{text}"
            );
        }
        let t = sign(&claims, &key).unwrap();
        assert_eq!(verify(&t, key.public_key(), &clock).unwrap(), claims);
    }

    /// The official PASETO v4.public test vectors 4-S-2 (footer, no
    /// implicit assertion) and 4-S-3 (an implicit assertion, which Warden
    /// tokens never have).
    const VECTOR_PUBLIC_KEY: &str =
        "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2";
    const VECTOR_4_S_2: &str = "v4.public.eyJkYXRhIjoidGhpcyBpcyBhIHNpZ25lZCBtZXNzYWdlIiwiZXhwIjoiMjAyMi0wMS0wMVQwMDowMDowMCswMDowMCJ9v3Jt8mx_TdM2ceTGoqwrh4yDFn0XsHvvV_D0DtwQxVrJEBMl0F2caAdgnpKlt4p7xBnx1HcO-SPo8FPp214HDw.eyJraWQiOiJ6VmhNaVBCUDlmUmYyc25FY1Q3Z0ZUaW9lQTlDT2NOeTlEZmdMMVc2MGhhTiJ9";
    const VECTOR_4_S_3: &str = "v4.public.eyJkYXRhIjoidGhpcyBpcyBhIHNpZ25lZCBtZXNzYWdlIiwiZXhwIjoiMjAyMi0wMS0wMVQwMDowMDowMCswMDowMCJ9NPWciuD3d0o5eXJXG5pJy-DiVEoyPYWs1YSTwWHNJq6DZD3je5gf-0M4JR9ipdUSJbIovzmBECeaWmaqcaP0DQ.eyJraWQiOiJ6VmhNaVBCUDlmUmYyc25FY1Q3Z0ZUaW9lQTlDT2NOeTlEZmdMMVc2MGhhTiJ9";

    fn vector_key() -> PublicKey {
        use base64::Engine as _;
        let mut raw = [0u8; 32];
        for (i, o) in raw.iter_mut().enumerate() {
            *o = u8::from_str_radix(&VECTOR_PUBLIC_KEY[2 * i..2 * i + 2], 16).unwrap();
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        PublicKey::from_paserk(&format!("k4.public.{b64}")).unwrap()
    }

    #[test]
    fn official_test_vectors() {
        let key = vector_key();
        let clock = FixedClock::new(Timestamp::from_unix(0));
        // 4-S-2: the signature is valid, but its footer's `kid` is not the
        // PASERK id of the key, so a verifier that picks the key by `kid`
        // refuses it before the signature.
        let e = verify(VECTOR_4_S_2, &key, &clock).unwrap_err();
        assert!(matches!(e, TokenError::WrongKey { .. }), "{e}");
        let parsed = parse(VECTOR_4_S_2).unwrap();
        assert!(signature_is_valid(&parsed, &key));
        assert_eq!(
            parsed.payload(),
            br#"{"data":"this is a signed message","exp":"2022-01-01T00:00:00+00:00"}"#
        );
        // 4-S-3 was signed with an implicit assertion: without it, the
        // signature does not verify.
        let parsed = parse(VECTOR_4_S_3).unwrap();
        assert!(!signature_is_valid(&parsed, &key));
        assert!(verify(VECTOR_4_S_3, &key, &clock).is_err());
    }

    #[test]
    fn pae_is_paseto_pae() {
        // The PASETO specification's own examples of LE64 and PAE.
        assert_eq!(le64(0), [0; 8]);
        assert_eq!(le64(257), [1, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(le64(usize::MAX)[7], 0x7f);
        assert_eq!(pae(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(
            pae(&[b""]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(
            pae(&[b"test"]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00test"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Our signature check and pasetors' own verifier agree on tokens
        /// with any bytes changed, and on tokens signed by another key.
        #[test]
        fn signature_check_agrees_with_pasetors(
            edits in proptest::collection::vec((0usize..4096, 1u8..=255), 0..3),
            other_key in proptest::bool::weighted(0.2),
        ) {
            use pasetors::keys::AsymmetricPublicKey;
            use pasetors::token::{Public, UntrustedToken};
            use pasetors::version4::{PublicToken, V4};
            let key = SigningKey::generate().unwrap();
            let claims = sample();
            let token = sign(&claims, &key).unwrap();
            let verify_key = if other_key {
                SigningKey::generate().unwrap().public_key().clone()
            } else {
                key.public_key().clone()
            };
            let (body, footer) = token[HEADER.len()..].split_once('.').unwrap();
            let original = decode_b64(body).unwrap();
            let mut raw = original.clone();
            let n = raw.len();
            for (at, xor) in &edits {
                raw[at % n] ^= xor;
            }
            use base64::Engine as _;
            let edited = format!(
                "{HEADER}{}.{footer}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw)
            );
            let ours = signature_is_valid(&parse(&edited).unwrap(), &verify_key);
            let untrusted = UntrustedToken::<Public, V4>::try_from(edited.as_str()).unwrap();
            let theirs = PublicToken::verify(&AsymmetricPublicKey::<V4>::from(verify_key.as_bytes()).unwrap(), &untrusted, None, None).is_ok();
            proptest::prop_assert_eq!(ours, theirs);
            proptest::prop_assert_eq!(ours, raw == original && !other_key);
        }
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
