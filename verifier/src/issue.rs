//! Issuing: the one path from a plan and a spec to a signed token.
//!
//! [`Issuer::decide`] checks a plan against the spec and, when the plan is
//! accepted (or needs approval), proves the envelope every enforcement
//! profile's layers would really enforce ([`crate::enforcement`]): a plan
//! whose envelope no profile keeps inside the spec is refused, with each
//! profile's counterexample. The [`Decision`] holds the verdict, the
//! counterexamples and, for an accepted plan, the claims to sign
//! ([`Draft`]). [`Issuer::sign`] turns a draft into a signed token (fresh
//! id and lifetime); [`Issuer::check_and_issue`] does both. `warden check`,
//! `warden issue`, the service's `SubmitPlan` (and so every gRPC client)
//! all go through here, so the same plan and spec give the same claims
//! whichever way they come.
//!
//! The plan and spec are named in the token by SHA-256 ([`plan_hash`],
//! [`spec_hash`]): of the canonical text `warden fmt` writes for them
//! without comments, so a reformatted file keeps its hash and any edit
//! that changes meaning changes it. `spec_hash` covers the root spec and
//! then each included spec, in load order, their canonical texts
//! concatenated (each ends with a newline): for specs already in canonical
//! form without comments it is `cat root.spec included.spec | sha256sum`.
//!
//! ```
//! use verifier::issue::{Issuance, Issuer, IssueOptions};
//! use warden_core::claims::{FixedClock, Timestamp};
//! # struct Key; impl warden_core::claims::Signer for Key {
//! #     fn sign(&self, c: &warden_core::Claims) -> Result<String, warden_core::claims::SignError> { Ok(format!("signed {}", c.jti)) } }
//! let spec = planlang::load_spec_str(r#"spec "bank" { allow call get_balance }"#, "bank.spec").unwrap();
//! let issuer = Issuer::new(&spec, "warden").unwrap();
//! let plan = planlang::load_plan_str(r#"plan "p" { call get_balance() }"#, "p.plan").unwrap();
//! let clock = FixedClock::new(Timestamp::from_unix(1_800_000_000));
//! match issuer.check_and_issue(&plan, &IssueOptions::default(), &Key, &clock).unwrap() {
//!     Issuance::Issued(issued) => assert_eq!(issued.claims.spec.as_deref(), Some("bank")),
//!     Issuance::Refused(decision) => panic!("{:?}", decision.verdict),
//! }
//! ```

use crate::check::CheckError;
use crate::compile::{CompileError, CompiledSpec};
use crate::containment::{self, ContainmentError};
use crate::enforcement::{self, EnforcementError};
use crate::report::{Outcome, Verdict};
use planlang::LoadedSpec;
use planlang::ast::Plan;
use std::time::Duration;
use warden_core::claims::{
    self, CLAIMS_VERSION, Claims, ClaimsError, Clock, Digest, EnforcementProof, SignError, Signer,
    Timestamp, TokenId,
};
use warden_core::envelope::Envelope;

/// The issuer named in tokens when none is given.
pub const DEFAULT_ISSUER: &str = "warden";

/// Why a token could not be issued (or a plan not decided).
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The spec does not compile.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The plan cannot be checked (bad input, not a verdict).
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The lifetime is zero or too long, or no random token id could be
    /// drawn.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The signer refused.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The issuer's name is empty or blank.
    #[error("the issuer name must not be empty")]
    EmptyIssuer,
    /// [`attenuate`]: the sub-plan is not provably inside the parent's
    /// envelope.
    #[error(transparent)]
    Containment(#[from] ContainmentError),
    /// [`attenuate`]: the parent token expired at this time.
    #[error("the parent token has expired (at {0}); nothing can be narrowed from it")]
    ParentExpired(Timestamp),
    /// The enforcement profiles could be neither proven nor refuted.
    #[error(transparent)]
    Enforcement(#[from] EnforcementError),
    /// No enforcement profile keeps the envelope inside what was proven: a
    /// token no run could start under is not issued.
    #[error("no enforcement profile is proven; the kernel layers would widen the envelope:\n{}", claims::describe(.0))]
    NotEnforceable(Vec<EnforcementProof>),
    /// The draft is not of an accepted plan.
    #[error("the plan was not accepted ({0}); no token is issued")]
    NotAccepted(Verdict),
}

/// Choices of the one asking for a token.
#[derive(Clone, Debug, Default)]
pub struct IssueOptions {
    /// A lifetime asked for (`warden issue --ttl`); it replaces the plan's
    /// `ttl`, and is capped by the spec's `max ttl` all the same.
    pub ttl: Option<Duration>,
    /// The agent (`sub`) when the plan names none; a plan's own `agent`
    /// wins.
    pub agent: Option<String>,
}

/// A spec ready to decide plans and issue their tokens: compiled once, with
/// the name and hash its tokens carry.
#[derive(Debug)]
pub struct Issuer {
    /// The compiled spec that checks plans, and proves the enforcement
    /// profiles of their envelopes (with the longer solver bound of
    /// [`enforcement::PROOF_TIMEOUT_MS`]: issuing happens off the hot path,
    /// and a loaded machine must not refuse a profile for lack of time).
    pub compiled: CompiledSpec,
    /// The root spec's name (`spec "NAME"`).
    pub spec_name: String,
    /// [`spec_hash`] of the spec.
    pub spec_hash: Digest,
    /// Who issues (`iss`).
    pub issuer: String,
}

/// The claims of an accepted plan, but for the token's id and lifetime.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// The agent (`sub`): the plan's `agent`, else
    /// [`IssueOptions::agent`].
    pub sub: Option<String>,
    /// The plan's name (`plan "NAME"`).
    pub plan: Option<String>,
    /// [`plan_hash`] of the plan.
    pub plan_hash: Digest,
    /// The root spec's name.
    pub spec: String,
    /// [`spec_hash`] of the spec.
    pub spec_hash: Digest,
    /// The token's lifetime: the one asked for (or the default), capped by
    /// the spec's `max ttl`; never zero.
    pub ttl: Duration,
    /// What the token grants: the envelope of the accepted plan.
    pub envelope: Envelope,
    /// The enforcement profiles, proven or refuted, for the envelope.
    pub enforcement: Vec<EnforcementProof>,
}

/// What the verifier decided for one plan.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The verdict: the check's, but reject when no enforcement profile is
    /// proven for an envelope the check accepted.
    pub verdict: Verdict,
    /// The check's outcome: its verdict, counterexamples, approvals and
    /// envelope.
    pub outcome: Outcome,
    /// The enforcement profiles proven for the envelope (empty when the
    /// check rejected the plan).
    pub enforcement: Vec<EnforcementProof>,
    /// The claims to sign, when the verdict is accept or approve.
    pub draft: Option<Draft>,
}

impl Draft {
    /// Signs these claims for issuer `iss`: a fresh id, issued now, for the
    /// draft's lifetime. Refused when no enforcement profile is proven.
    pub fn sign(
        &self,
        iss: &str,
        signer: &dyn Signer,
        clock: &dyn Clock,
    ) -> Result<Issued, IssueError> {
        if iss.trim().is_empty() {
            return Err(IssueError::EmptyIssuer);
        }
        if claims::proven(&self.enforcement).next().is_none() {
            return Err(IssueError::NotEnforceable(self.enforcement.clone()));
        }
        let (iat, nbf, exp) = claims::lifetime(clock, self.ttl)?;
        let claims = Claims {
            warden: CLAIMS_VERSION,
            iss: iss.to_owned(),
            sub: self.sub.clone(),
            jti: TokenId::random()?,
            iat,
            nbf,
            exp,
            plan: self.plan.clone(),
            plan_hash: self.plan_hash,
            spec: Some(self.spec.clone()),
            spec_hash: self.spec_hash,
            ancestors: Vec::new(),
            envelope: self.envelope.clone(),
            enforcement: self.enforcement.clone(),
        };
        let token = signer.sign(&claims)?;
        Ok(Issued { token, claims })
    }
}

impl Decision {
    /// Whether the plan was accepted but every profile's widening refused.
    pub fn refused_by_widening(&self) -> bool {
        self.outcome.verdict != Verdict::Reject && self.verdict == Verdict::Reject
    }
}

/// A signed token and what it says.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The token as the signer wrote it.
    pub token: String,
    /// The claims it carries.
    pub claims: Claims,
}

/// The answer of [`Issuer::check_and_issue`].
#[derive(Clone, Debug)]
pub enum Issuance {
    /// Accepted: the signed token.
    Issued(Box<Issued>),
    /// Rejected, or in need of a human's approval: why.
    Refused(Box<Decision>),
}

/// SHA-256 of the plan's canonical text.
pub fn plan_hash(plan: &Plan) -> Digest {
    Digest::of_text(&planlang::fmt_plan(plan))
}

/// SHA-256 of the spec's canonical text: the root spec's `fmt` text, then
/// each included spec's (in load order), concatenated.
pub fn spec_hash(spec: &LoadedSpec) -> Digest {
    let text: String = spec.specs().map(planlang::fmt_spec).collect();
    Digest::of_text(&text)
}

impl Issuer {
    /// Compiles `spec` to issue tokens naming `issuer`.
    pub fn new(spec: &LoadedSpec, issuer: &str) -> Result<Issuer, IssueError> {
        if issuer.trim().is_empty() {
            return Err(IssueError::EmptyIssuer);
        }
        Ok(Issuer {
            compiled: CompiledSpec::compile(spec)?,
            spec_name: spec.root.name.node.clone(),
            spec_hash: spec_hash(spec),
            issuer: issuer.to_owned(),
        })
    }

    /// Checks `plan` and, when the check accepts it or asks for approval,
    /// proves the enforcement profiles of its envelope.
    pub fn decide(&self, plan: &Plan, opts: &IssueOptions) -> Result<Decision, IssueError> {
        let outcome = self.compiled.check(plan)?;
        let envelope = match (&outcome.envelope, outcome.verdict) {
            (Some(env), Verdict::Accept | Verdict::Approve) => env.clone(),
            (_, verdict) => {
                return Ok(Decision {
                    // An accepted plan without an envelope is a verifier
                    // bug: fail closed.
                    verdict: if verdict == Verdict::Accept {
                        Verdict::Reject
                    } else {
                        verdict
                    },
                    outcome,
                    enforcement: Vec::new(),
                    draft: None,
                });
            }
        };
        let requested = opts
            .ttl
            .or_else(|| plan.ttl.as_ref().map(|t| t.node.as_std()));
        let max = self.compiled.max_ttl.map(Duration::from_secs);
        let ttl = claims::effective_ttl(requested, max)?;
        let proofs = enforcement::prove_profiles(&self.compiled, &envelope)?;
        if claims::proven(&proofs).next().is_none() {
            return Ok(Decision {
                verdict: Verdict::Reject,
                outcome,
                enforcement: proofs,
                draft: None,
            });
        }
        let draft = Draft {
            sub: plan
                .agent
                .as_ref()
                .map(|a| a.node.clone())
                .or_else(|| opts.agent.clone()),
            plan: plan.name.as_ref().map(|n| n.node.clone()),
            plan_hash: plan_hash(plan),
            spec: self.spec_name.clone(),
            spec_hash: self.spec_hash,
            ttl,
            envelope,
            enforcement: proofs.clone(),
        };
        Ok(Decision {
            verdict: outcome.verdict,
            outcome,
            enforcement: proofs,
            draft: Some(draft),
        })
    }

    /// Signs the claims of `draft` (a decision's, accepted or approved by a
    /// human) as this issuer: see [`Draft::sign`].
    pub fn sign(
        &self,
        draft: &Draft,
        signer: &dyn Signer,
        clock: &dyn Clock,
    ) -> Result<Issued, IssueError> {
        draft.sign(&self.issuer, signer, clock)
    }

    /// [`Issuer::decide`], then [`Issuer::sign`] when the plan is accepted.
    pub fn check_and_issue(
        &self,
        plan: &Plan,
        opts: &IssueOptions,
        signer: &dyn Signer,
        clock: &dyn Clock,
    ) -> Result<Issuance, IssueError> {
        let decision = self.decide(plan, opts)?;
        match (&decision.draft, decision.verdict) {
            (Some(draft), Verdict::Accept) => {
                Ok(Issuance::Issued(Box::new(self.sign(draft, signer, clock)?)))
            }
            _ => Ok(Issuance::Refused(Box::new(decision))),
        }
    }
}

/// Narrow `parent` for a sub-agent that will run `sub`: prove the sub-plan
/// inside the parent's envelope (for every value of its params), then sign
/// a token whose envelope is the sub-plan's own least privilege. The new
/// token never outlives its parent, names the parent (and its ancestors) in
/// `ancestors` so that revoking any of them revokes it, and keeps the
/// parent's spec. Its enforcement profiles are proven against the parent's
/// ([`enforcement::prove_attenuated`]); when none is, nothing is issued.
pub fn attenuate(
    parent: &Claims,
    sub: &Plan,
    issuer: &str,
    ttl: Option<Duration>,
    signer: &dyn Signer,
    clock: &dyn Clock,
) -> Result<Issued, IssueError> {
    if issuer.trim().is_empty() {
        return Err(IssueError::EmptyIssuer);
    }
    let now = clock.now();
    if now >= parent.exp {
        return Err(IssueError::ParentExpired(parent.exp));
    }
    let envelope = containment::contain(&parent.envelope, sub)?;
    let enforcement = enforcement::prove_attenuated(parent, &envelope)?;
    if claims::proven(&enforcement).next().is_none() {
        return Err(IssueError::NotEnforceable(enforcement));
    }
    let requested = ttl.or_else(|| sub.ttl.as_ref().map(|t| t.node.as_std()));
    let ttl = claims::effective_ttl(requested, None)?;
    let (iat, nbf, exp) = claims::lifetime(clock, ttl)?;
    let mut ancestors = parent.ancestors.clone();
    ancestors.push(parent.jti);
    let claims = Claims {
        warden: CLAIMS_VERSION,
        iss: issuer.to_owned(),
        sub: sub
            .agent
            .as_ref()
            .map(|a| a.node.clone())
            .or_else(|| parent.sub.clone()),
        jti: TokenId::random()?,
        iat,
        nbf: nbf.max(parent.nbf),
        exp: exp.min(parent.exp),
        plan: sub.name.as_ref().map(|n| n.node.clone()),
        plan_hash: plan_hash(sub),
        spec: parent.spec.clone(),
        spec_hash: parent.spec_hash,
        ancestors,
        envelope,
        enforcement,
    };
    let token = signer.sign(&claims)?;
    Ok(Issued { token, claims })
}
