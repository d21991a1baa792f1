//! A token verified once, ready to check every action of its runs.
//!
//! ```
//! use token::{ConcreteAction, FixedClock, NoRevocations, SigningKey, Timestamp, VerifiedToken};
//! # let key = SigningKey::generate()?;
//! # let claims = warden_core::claims::example();
//! # let tok = token::paseto::sign(&claims, &key)?;
//! let clock = FixedClock::new(Timestamp::from_unix(1_800_000_100));
//! let verified = VerifiedToken::verify(&tok, key.public_key(), &clock, &NoRevocations)?;
//! let mut run = verified.monitor(&clock, NoRevocations);
//! assert!(run.check(&ConcreteAction::call_no_args("get_balance")).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::keyset::VerifyingKeys;
use crate::paseto::{self, TokenError};
use warden_core::action::ConcreteAction;
use warden_core::claims::{Claims, Clock};
use warden_core::envelope::Envelope;
use warden_core::monitor::{Allowed, Monitor, Refusal, RunState};
use warden_core::revocation::RevocationList;

/// A token whose signature, lifetime and revocation were checked when it was
/// verified. Its envelope is ready for [`Monitor`]s.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    claims: Claims,
}

impl VerifiedToken {
    /// Verify `token` once: signature with the key it names among `key`
    /// (a [`PublicKey`](crate::PublicKey) or a [`KeySet`](crate::KeySet)),
    /// lifetime by `clock`, and `revocations`.
    pub fn verify<K: VerifyingKeys + ?Sized>(
        token: &str,
        key: &K,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<VerifiedToken, TokenError> {
        let claims = paseto::verify_unrevoked(token, key, clock, revocations)?;
        Ok(VerifiedToken { claims })
    }

    /// The verified claims, as signed.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The claims' envelope: the least privilege the plan needs, against
    /// which every action of the run is checked.
    pub fn envelope(&self) -> &Envelope {
        &self.claims.envelope
    }

    /// Start monitoring one run under this token.
    pub fn monitor<C: Clock, R: RevocationList>(
        &self,
        clock: C,
        revocations: R,
    ) -> Monitor<'_, C, R> {
        self.claims.monitor(clock, revocations)
    }

    /// Check one action of the run whose state is `state` (see
    /// [`Claims::check_run`]).
    pub fn check_run(
        &self,
        state: &mut RunState,
        a: &ConcreteAction,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<Allowed, Refusal> {
        self.claims.check_run(state, a, clock, revocations)
    }

    /// Check one action a human approved (an `approve each` rule held it):
    /// every other check runs again ([`Claims::check_run_approved`]).
    pub fn check_run_approved(
        &self,
        state: &mut RunState,
        a: &ConcreteAction,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<Allowed, Refusal> {
        self.claims.check_run_approved(state, a, clock, revocations)
    }

    /// Check a result of the tool `tool` as it arrives, against the plan's
    /// assumptions about that tool's results: a result that fails one
    /// stops the run ([`Claims::check_result_run`]).
    pub fn check_result_run(
        &self,
        state: &mut RunState,
        tool: &str,
        result: &serde_json::Value,
        clock: &dyn Clock,
        revocations: &dyn RevocationList,
    ) -> Result<Allowed, Refusal> {
        self.claims
            .check_result_run(state, tool, result, clock, revocations)
    }

    /// The state of a run that has done nothing yet under this token.
    pub fn new_run(&self) -> RunState {
        RunState::new(&self.claims.envelope)
    }
}
