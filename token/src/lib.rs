//! Warden capability tokens.
//!
//! When the verifier accepts a plan, Warden issues a **token**: a PASETO
//! v4.public (Ed25519) token whose claims name the issuer, the agent, the
//! plan and spec (by the SHA-256 of their canonical text), a lifetime, and
//! the **envelope**, the least privilege the plan needs. Anyone holding the
//! public key can verify a token offline, in any language with a PASETO
//! library; the enforcer and the orchestrator check every real action of
//! the run against its envelope.
//!
//! - [`keys`]: Ed25519 key pairs in PASERK text files;
//! - [`claims`]: what a token says, timestamps, ids, digests, the TTL rule;
//! - [`paseto`]: sign and verify, with an injectable [`Clock`];
//! - [`revocation`]: revoked token ids, consulted by every check.
//!
//! ```
//! use token::{Claims, Digest, FixedClock, SigningKey, Timestamp, TokenId, paseto};
//!
//! let key = SigningKey::generate()?;
//! let now = Timestamp::from_unix(1_800_000_000);
//! let claims = Claims {
//!     warden: token::CLAIMS_VERSION,
//!     iss: "warden".into(),
//!     sub: Some("banking-assistant".into()),
//!     jti: TokenId::random()?,
//!     iat: now,
//!     nbf: now,
//!     exp: Timestamp::from_unix(now.unix() + 600),
//!     plan: Some("pay-december-bill".into()),
//!     plan_hash: Digest::of_text("plan ..."),
//!     spec: Some("banking".into()),
//!     spec_hash: Digest::of_text("spec ..."),
//!     ancestors: vec![],
//!     envelope: verifier::envelope::Envelope::default(),
//!     enforcement: vec![],
//! };
//! let tok = paseto::sign(&claims, &key)?;
//! let back = paseto::verify(&tok, key.public_key(), &FixedClock::new(now))?;
//! assert_eq!(back.jti, claims.jti);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod claims;
pub mod enforcement;
pub mod issue;
pub mod keys;
pub mod monitor;
pub mod paseto;
pub mod revocation;

pub use claims::{
    CLAIMS_VERSION, Claims, ClaimsError, Clock, DEFAULT_TTL, Digest, EnforcementProof, FixedClock,
    SystemClock, Timestamp, TokenId, effective_ttl,
};
pub use keys::{KeyError, PublicKey, SigningKey};
pub use paseto::TokenError;
pub use revocation::{
    FileRevocations, MemoryRevocations, NoRevocations, RevocationError, RevocationList,
};

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parse exactly `out.len() * 2` lowercase hex digits into `out`.
pub(crate) fn unhex_lower(s: &str, out: &mut [u8]) -> bool {
    let b = s.as_bytes();
    if b.len() != out.len() * 2 {
        return false;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    for (i, o) in out.iter_mut().enumerate() {
        match (digit(b[2 * i]), digit(b[2 * i + 1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}
