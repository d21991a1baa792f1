//! The seam between the service and Warden's deciding parts.
//!
//! The service handles transport, authentication, state and the audit log;
//! an [`Engine`] parses plans, proves them against compiled specs, signs
//! tokens, and checks concrete actions against a token's envelope. The
//! production engine is [`crate::warden_engine::WardenEngine`] (planlang, the
//! verifier, the token crate).

use crate::proto;
use std::path::Path;

pub use verifier::Verdict;

/// The protobuf form of a verdict.
pub fn verdict_to_proto(v: Verdict) -> proto::Verdict {
    match v {
        Verdict::Accept => proto::Verdict::Accept,
        Verdict::Reject => proto::Verdict::Reject,
        Verdict::Approve => proto::Verdict::Approve,
    }
}

/// A spec compiled and ready to check plans.
pub struct PreparedSpec<S> {
    /// The engine's compiled form of the spec.
    pub compiled: S,
    /// Hex SHA-256 of the spec's canonical text (what tokens carry).
    pub spec_hash: String,
}

/// The result of checking one plan.
pub struct Decision<A> {
    /// Accept (a token is issued), approve (a human must decide) or
    /// reject.
    pub verdict: Verdict,
    /// On reject: why, each with a concrete witness.
    pub counterexamples: Vec<proto::Counterexample>,
    /// On approve: the approve rules that matched, for the approver.
    pub approval_reasons: Vec<String>,
    /// On approve: the same, with where the rule and the step are.
    pub approval_marks: Vec<crate::store::ApprovalMark>,
    /// On accept or approve: the envelope, JSON.
    pub envelope_json: String,
    /// Hex SHA-256 of the plan's canonical text.
    pub plan_hash: String,
    /// The plan's `agent`, if it names one.
    pub plan_agent: Option<String>,
    /// What issuing a token needs (present on accept and approve).
    pub accepted: Option<A>,
}

/// A plan that cannot be checked: bad input.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Parse or name-resolution errors, rendered like a compiler's.
    #[error("{0}")]
    Invalid(String),
    /// The verifier failed (a bug or a resource limit), not the plan.
    #[error("the verifier failed: {0}")]
    Internal(String),
}

/// A spec that cannot be loaded: its diagnostics, rendered like a
/// compiler's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the token: {0}")]
pub struct SignError(pub String);

/// Why a token is not honoured.
#[derive(Debug, thiserror::Error)]
pub enum TokenRefused {
    /// Not a token at all.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// A token, but not one this service trusts now (another key, expired,
    /// not yet valid, bad signature).
    #[error("token not accepted: {0}")]
    Invalid(String),
}

/// Why an action is not allowed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The envelope does not allow it.
    #[error("{0}")]
    Refused(String),
    /// The action itself is malformed (a relative path, no action kind).
    #[error("malformed action: {0}")]
    Malformed(String),
    /// The token is no longer honoured (revoked, or one it was narrowed from;
    /// expired; the revocation list cannot be consulted).
    #[error("token not accepted: {0}")]
    TokenNotHonoured(String),
}

/// A signed token and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The token, as the agent's orchestrator receives it.
    pub token: String,
    /// The token's id (`jti`), what revocations and audit records name.
    pub token_id: String,
    /// When the token expires, in Unix seconds.
    pub expires_at: i64,
}

/// A verified token: its id, its expiry and the engine's view of it.
pub struct Verified<T> {
    /// The token's id (`jti`).
    pub token_id: String,
    /// When the token expires, in Unix seconds.
    pub expires_at: i64,
    /// The engine's verified token, which checks the run's actions.
    pub token: T,
}

/// Warden's deciding parts, as the service needs them.
pub trait Engine: Send + Sync + 'static {
    /// A compiled spec.
    type Spec: Send + Sync + 'static;
    /// What issuing a token for an accepted plan needs.
    type Accepted: Send + 'static;
    /// A token whose signature and lifetime were verified.
    type Token: Send + Sync + 'static;
    /// The state of the run under a token (param bindings, `at most`
    /// counts, what `never`/`require` have seen). The service keeps one per
    /// token and stores it, serialized, before it answers an allow, so that
    /// a restart goes on counting.
    type RunState: Clone + Send + serde::Serialize + serde::de::DeserializeOwned + 'static;

    /// Loads and compiles the spec at `path` (following includes).
    fn load_spec(&self, path: &Path) -> Result<PreparedSpec<Self::Spec>, SpecError>;

    /// Parses `plan` and proves it against `spec`.
    fn check(
        &self,
        spec_name: &str,
        spec: &PreparedSpec<Self::Spec>,
        plan: &str,
    ) -> Result<Decision<Self::Accepted>, PlanError>;

    /// Signs a token for an accepted (or approved) plan.
    fn issue(&self, accepted: &Self::Accepted, agent: &str) -> Result<Issued, SignError>;

    /// Verifies a token's signature and lifetime (revocation is checked on
    /// every action, with the service's list).
    fn verify_token(&self, token: &str) -> Result<Verified<Self::Token>, TokenRefused>;

    /// The state of a run under `token` that has done nothing yet.
    fn new_run(&self, token: &Self::Token) -> Self::RunState;

    /// Checks one concrete action of the run under `token` whose state is
    /// `run`: revocation (of the token or one it was narrowed from) and
    /// lifetime, the envelope, param bindings, `at most` counts and
    /// `never`/`require` ordering. On `Ok` the action is recorded in `run`;
    /// on `Err` `run` is unchanged.
    fn check_action(
        &self,
        token: &Self::Token,
        run: &mut Self::RunState,
        action: &proto::Action,
        revocations: &dyn token::RevocationList,
    ) -> Result<(), ActionError>;

    /// Checks a result of the tool `tool` the run under `token` received,
    /// against the plan's assumptions about that tool's results. On a
    /// refusal (`ActionError::Refused`) `run` records that the run is
    /// stopped: every later check of it is refused.
    fn check_result(
        &self,
        token: &Self::Token,
        run: &mut Self::RunState,
        tool: &str,
        result: &serde_json::Value,
        revocations: &dyn token::RevocationList,
    ) -> Result<(), ActionError>;
}
