//! Issuing: turn an accepted plan into a signed token, and narrow a token
//! for a sub-agent.
//!
//! The plan and spec are named in the token by the SHA-256 of their
//! canonical `fmt` text ([`plan_hash`], [`spec_hash`]), so a reformatted file
//! keeps its hash and any edit that changes meaning changes it.

use crate::claims::{
    self, CLAIMS_VERSION, Claims, ClaimsError, Clock, Digest, EnforcementProof, TokenId,
};
use crate::enforcement::EnforcementError;
use crate::keys::SigningKey;
use crate::paseto::{self, TokenError};
use planlang::LoadedSpec;
use planlang::ast::Plan;
use std::time::Duration;
use verifier::containment::{self, ContainmentError};
use verifier::envelope::Envelope;

/// The issuer named in tokens when none is given.
pub const DEFAULT_ISSUER: &str = "warden";

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the issuer name must not be empty")]
    EmptyIssuer,
    #[error(transparent)]
    Containment(#[from] ContainmentError),
    #[error("the parent token has expired (at {0}); nothing can be narrowed from it")]
    ParentExpired(claims::Timestamp),
    #[error(transparent)]
    Enforcement(#[from] EnforcementError),
    /// No enforcement profile keeps the envelope inside what was proven: a
    /// token no run could start under is not issued.
    #[error("no enforcement profile is proven; the kernel layers would widen the envelope:\n{}", crate::enforcement::describe(.0))]
    NotEnforceable(Vec<EnforcementProof>),
}

/// Choices of the one issuing a token.
#[derive(Clone, Debug)]
pub struct IssueOptions {
    /// Who issues (`iss`).
    pub issuer: String,
    /// A lifetime asked for on the command line; it replaces the plan's
    /// `ttl`, and is capped by the spec's `max ttl` all the same.
    pub ttl: Option<Duration>,
    /// The enforcement profiles proven for the token's envelope (the
    /// `enforcement` claim; see [`crate::claims::EnforcementProof`]).
    pub enforcement: Vec<EnforcementProof>,
}

impl Default for IssueOptions {
    fn default() -> Self {
        IssueOptions {
            issuer: DEFAULT_ISSUER.to_string(),
            ttl: None,
            enforcement: Vec::new(),
        }
    }
}

/// A signed token and what it says.
#[derive(Clone, Debug)]
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

/// SHA-256 of the plan's canonical text.
pub fn plan_hash(plan: &Plan) -> Digest {
    Digest::of_text(&planlang::fmt_plan(plan))
}

/// SHA-256 of the spec's canonical text: the root spec's `fmt` text, then
/// each included spec's (in load order), each followed by a newline.
pub fn spec_hash(spec: &LoadedSpec) -> Digest {
    let mut text = String::new();
    for s in spec.specs() {
        text.push_str(&planlang::fmt_spec(s));
        text.push('\n');
    }
    Digest::of_text(&text)
}

/// Sign a token for `plan`, which the verifier accepted against `spec` with
/// `envelope`. The lifetime is the requested one (`opts.ttl`, else the plan's
/// `ttl`, else 15 minutes), capped by the spec's `max ttl`. The enforcement
/// profiles are the caller's ([`IssueOptions::enforcement`], from
/// [`crate::enforcement::prove_profiles`]): `warden exec` starts no run under
/// a token without a proven one.
pub fn issue(
    plan: &Plan,
    spec: &LoadedSpec,
    envelope: Envelope,
    key: &SigningKey,
    clock: &dyn Clock,
    opts: &IssueOptions,
) -> Result<Issued, IssueError> {
    if opts.issuer.trim().is_empty() {
        return Err(IssueError::EmptyIssuer);
    }
    let requested = opts
        .ttl
        .or_else(|| plan.ttl.as_ref().map(|t| t.node.as_std()));
    let max = spec.max_ttl().map(|t| t.node.as_std());
    let ttl = claims::effective_ttl(requested, max)?;
    let (iat, nbf, exp) = claims::lifetime(clock, ttl)?;
    let claims = Claims {
        warden: CLAIMS_VERSION,
        iss: opts.issuer.clone(),
        sub: plan.agent.as_ref().map(|a| a.node.clone()),
        jti: TokenId::random()?,
        iat,
        nbf,
        exp,
        plan: plan.name.as_ref().map(|n| n.node.clone()),
        plan_hash: plan_hash(plan),
        spec: Some(spec.root.name.node.clone()),
        spec_hash: spec_hash(spec),
        ancestors: Vec::new(),
        envelope,
        enforcement: opts.enforcement.clone(),
    };
    let token = paseto::sign(&claims, key)?;
    Ok(Issued { token, claims })
}

/// Narrow `parent` for a sub-agent that will run `sub`: prove the sub-plan
/// inside the parent's envelope (for every value of its params), then sign
/// a token whose envelope is the sub-plan's own least privilege. The new
/// token never outlives its parent, names the parent (and its ancestors) in
/// `ancestors` so that revoking any of them revokes it, and keeps the
/// parent's spec. Its enforcement profiles are proven against the parent's
/// ([`crate::enforcement::prove_attenuated`]); when none is, nothing is
/// issued.
pub fn attenuate(
    parent: &Claims,
    sub: &Plan,
    key: &SigningKey,
    clock: &dyn Clock,
    opts: &IssueOptions,
) -> Result<Issued, IssueError> {
    if opts.issuer.trim().is_empty() {
        return Err(IssueError::EmptyIssuer);
    }
    let now = clock.now();
    if now >= parent.exp {
        return Err(IssueError::ParentExpired(parent.exp));
    }
    let envelope = containment::contain(&parent.envelope, sub)?;
    let enforcement = crate::enforcement::prove_attenuated(parent, &envelope)?;
    if crate::enforcement::proven(&enforcement).next().is_none() {
        return Err(IssueError::NotEnforceable(enforcement));
    }
    let requested = opts
        .ttl
        .or_else(|| sub.ttl.as_ref().map(|t| t.node.as_std()));
    let ttl = claims::effective_ttl(requested, None)?;
    let (iat, nbf, exp) = claims::lifetime(clock, ttl)?;
    let mut ancestors = parent.ancestors.clone();
    ancestors.push(parent.jti);
    let claims = Claims {
        warden: CLAIMS_VERSION,
        iss: opts.issuer.clone(),
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
    let token = paseto::sign(&claims, key)?;
    Ok(Issued { token, claims })
}
