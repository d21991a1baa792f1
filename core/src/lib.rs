//! Warden's core: everything an orchestrator needs to check a run against a
//! token's claims, and everything the verifier and the enforcer share,
//! without a solver and without I/O.
//!
//! - [`vocab`]: the kinds of action, the operators, the param types;
//! - [`value`], [`path`], [`net`]: concrete values, paths and globs,
//!   addresses;
//! - [`action`]: a [`ConcreteAction`], what a run
//!   really does;
//! - [`cond`]: conditions and rule patterns evaluated on concrete actions;
//! - [`envelope`]: the least privilege of an accepted plan, and whether it
//!   permits an action;
//! - [`shape`]: the layer shapes, what each kernel layer can express;
//! - [`within`]: whether one envelope's grants lie inside another's;
//! - [`claims`]: what a token says, versioned; [`wire`]: its JSON, with
//!   a schema (`docs/token.schema.json`);
//! - [`monitor`]: the runtime check of one run, with a typed refusal;
//!   [`flow`]: how its refusing rules read `from call`;
//! - [`revocation`]: revoked token ids.
//!
//! The orchestrator loop: take the claims of a token verified once (the
//! `token` crate verifies the signature; here they are read from JSON), then
//! check each call of the run.
//!
//! ```
//! use warden_core::{Claims, ConcreteAction, FixedClock, NoRevocations, Number, RefusalReason, Timestamp};
//! let claims: Claims = warden_core::claims::example(); // a verified token's
//! let clock = FixedClock::new(Timestamp::from_unix(1_800_000_100));
//! let mut run = claims.monitor(&clock, NoRevocations);
//! let amount = Number::from(40);
//! let pay = ConcreteAction::call("send_money", [("recipient", "UK12345678901234567890".into()), ("amount", amount.into())]);
//! run.check(&pay)?; // allowed: perform the call
//! let elsewhere = ConcreteAction::call("send_money", [("recipient", "US133000000121212121212".into()), ("amount", 40.into())]);
//! let refusal = run.check(&elsewhere).unwrap_err(); // refused: do not perform it
//! assert!(matches!(refusal.reason, RefusalReason::Envelope(_)));
//! println!("{}", refusal.reason); // why, for the agent or the log
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod action;
pub mod assume;
pub mod claims;
pub mod cond;
pub mod envelope;
pub mod flow;
pub mod monitor;
pub mod net;
pub mod path;
pub mod revocation;
pub mod shape;
pub mod value;
pub mod vocab;
pub mod wire;
pub mod within;

pub use action::ConcreteAction;
pub use claims::{Claims, Clock, FixedClock, SystemClock, Timestamp, TokenId};
pub use envelope::Envelope;
pub use monitor::{Allowed, Monitor, Refusal, RefusalReason, RunState};
pub use revocation::{MemoryRevocations, NoRevocations, RevocationList};
pub use value::{Field, Number, Value};
pub use vocab::{ActionKind, CmpOp, ParamType};

#[cfg(test)]
mod tests {
    /// No two files of the core import each other (the module graph has no
    /// 2-cycle; `testkit::imports` reads it from the source).
    #[test]
    fn no_two_files_import_each_other() {
        testkit::imports::assert_none(env!("CARGO_MANIFEST_DIR"));
    }
}
