//! Warden capability tokens: PASETO v4.public (Ed25519) signing and
//! verification, key pairs in PASERK files, and revocation lists in files.
//!
//! When the verifier accepts a plan, Warden issues a **token** whose claims
//! ([`warden_core::claims`]) name the issuer, the agent, the plan and spec
//! (by SHA-256), a lifetime, and the **envelope**, the least privilege the
//! plan needs. Anyone holding the public key verifies a token offline, in
//! any language with a PASETO library; the enforcer and the orchestrator
//! check every real action of the run against its envelope.
//!
//! - [`keys`]: Ed25519 key pairs in PASERK text files;
//! - [`paseto`]: sign and verify, with an injectable clock;
//! - [`verified`]: a [`VerifiedToken`], verified once, checking every action;
//! - [`revocation`]: revoked token ids kept in a file.
//!
//! The orchestrator loop: verify the token once, then check every call of
//! the run; a refusal is a value ([`RefusalReason`]) that renders itself.
//!
//! ```
//! use token::{ConcreteAction, NoRevocations, PublicKey, RefusalReason, SystemClock, VerifiedToken};
//! # let (tok, key) = token::doc_example_token()?;
//! let key: PublicKey = key; // `warden.pub`: PublicKey::from_paserk(&text)?
//! let verified = VerifiedToken::verify(&tok, &key, &SystemClock, &NoRevocations)?;
//! let mut run = verified.monitor(SystemClock, NoRevocations);
//! let pay = ConcreteAction::call("send_money", [("recipient", "UK12345678901234567890".into()), ("amount", 40.into())]);
//! run.check(&pay)?; // allowed: perform the call
//! let reset = ConcreteAction::call("update_password", [("to", "hunter2".into())]);
//! let refusal = run.check(&reset).unwrap_err(); // refused: do not perform it
//! assert!(matches!(refusal.reason, RefusalReason::Envelope(_)));
//! println!("{}", refusal.reason); // why, for the agent or the log
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod keys;
pub mod keyset;
pub mod paseto;
pub mod revocation;
pub mod verified;

pub use keys::{KeyError, PublicKey, SigningKey};
pub use keyset::{KeyChoiceError, KeySet, KeyState, VerifyingKeys};
pub use paseto::TokenError;
pub use revocation::FileRevocations;
pub use verified::VerifiedToken;
pub use warden_core::claims::{
    Claims, ClaimsError, Clock, Digest, EnforcementProof, FixedClock, SystemClock, Timestamp,
    TokenId,
};
pub use warden_core::monitor::{Allowed, Monitor, Refusal, RefusalReason, RunState};
pub use warden_core::revocation::{
    MemoryRevocations, NoRevocations, RevocationError, RevocationList,
};
pub use warden_core::{ConcreteAction, Field, Number, Value};

/// A token signed by a fresh key for the front page's example: the claims
/// of `warden_core::claims::example()`, valid for ten minutes from
/// now. Not for use outside examples.
#[doc(hidden)]
pub fn doc_example_token() -> Result<(String, PublicKey), Box<dyn std::error::Error>> {
    let key = SigningKey::generate()?;
    let mut claims = warden_core::claims::example();
    let now = Timestamp::now();
    claims.iat = now;
    claims.nbf = now;
    claims.exp = Timestamp::from_unix(now.unix() + 600);
    let tok = paseto::sign(&claims, &key)?;
    Ok((tok, key.public_key().clone()))
}
