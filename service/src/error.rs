//! The service's errors as values, and their one mapping to gRPC
//! [`Status`] codes: every handler returns a [`ServiceError`] (or a
//! [`DecideError`], [`AuthError`], [`StoreError`]), and only the
//! `From<…> for Status` impls here decide which code a client sees.

use crate::auth::AuthError;
use crate::engine::PlanError;
use crate::server::DecideError;
use crate::store::StoreError;
use tonic::Status;

/// A request field that is missing or out of bounds. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The named field is missing or blank.
    #[error("{0} is required")]
    Required(&'static str),
    /// A field is longer than its limit.
    #[error("{what} is longer than {max} bytes")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its limit, in bytes.
        max: usize,
    },
    /// The token text is larger than 1 MiB.
    #[error("token is larger than 1 MiB")]
    TokenTooLarge,
    /// `call_digest` is not 64 hex digits.
    #[error("call_digest must be a SHA-256 in hex (64 digits)")]
    CallDigest,
    /// The plan is larger than `max_plan_bytes`.
    #[error("the plan is {size} bytes; the limit is {limit} bytes")]
    PlanTooLarge {
        /// The plan's size, in bytes.
        size: usize,
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The request's `agent` is not the agent the plan names.
    #[error("the request says agent {request:?} but the plan says agent {plan:?}")]
    AgentMismatch {
        /// The agent the request names.
        request: String,
        /// The agent the plan names.
        plan: String,
    },
    /// `detail_json` does not parse; the parser's message.
    #[error("detail_json is not JSON: {0}")]
    DetailNotJson(String),
    /// `detail_json` is JSON but not an object.
    #[error("detail_json must be a JSON object")]
    DetailNotObject,
    /// `detail_json` is larger than 64 KiB.
    #[error("detail_json is larger than 64 KiB")]
    DetailTooLarge,
    /// An event kind no record has (see [`crate::audit::EventKind`]).
    #[error("unknown event kind {0:?}")]
    UnknownEventKind(String),
}

/// Why a call of the service failed. Bad input changes nothing; a store
/// failure leaves nothing half done (state and audit records commit
/// together).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller is not authenticated, or its role may not make the call.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A request field is missing or out of bounds.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The plan names a spec that is not in force.
    #[error("no spec named {name:?} is loaded (loaded: {})", loaded_list(.loaded))]
    SpecNotLoaded {
        /// The spec the request names.
        name: String,
        /// The names of the specs in force.
        loaded: Vec<String>,
    },
    /// No approval has this id.
    #[error("approval {0} not found")]
    ApprovalNotFound(String),
    /// The plan cannot be checked (it does not parse, or the verifier
    /// failed).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Not a token at all.
    #[error("malformed token: {0}")]
    MalformedToken(String),
    /// A token, but not one this service trusts now (another key, expired,
    /// not yet valid, bad signature).
    #[error("token not accepted: {0}")]
    TokenNotAccepted(String),
    /// A token verified earlier that is no longer honoured (revoked,
    /// expired, or the revocation list cannot be consulted).
    #[error("token {token_id} not accepted: {reason}")]
    TokenNotHonoured {
        /// The token's id.
        token_id: String,
        /// Why it is no longer honoured.
        reason: String,
    },
    /// The action (or the result to check) is malformed: no kind, a
    /// relative path, a result that is not JSON.
    #[error("malformed action: {0}")]
    MalformedAction(String),
    /// The cache of verified tokens is full even after dropping the
    /// expired ones.
    #[error("too many runs are being checked at once; try again later")]
    TooManyRuns,
    /// The stored state of the named token's run does not parse: its
    /// checks are refused rather than started afresh (which would reset
    /// its counts).
    #[error("the stored run state of token {0} is corrupt; its actions are refused")]
    CorruptRunState(String),
    /// The run's new state cannot be serialized.
    #[error("cannot store the run state: {0}")]
    SaveRunState(String),
    /// The engine accepted a plan but gave nothing to issue its token
    /// from (a bug).
    #[error("an accepted plan came without an envelope")]
    NoEnvelope,
    /// The token could not be signed.
    #[error(transparent)]
    Sign(#[from] crate::engine::SignError),
    /// The system gave no randomness for a new id.
    #[error("no randomness: {0}")]
    Randomness(String),
    /// A task on the blocking pool panicked or was cancelled.
    #[error("a worker failed: {0}")]
    Worker(String),
    /// The spec directory cannot be read.
    #[error(transparent)]
    SpecDir(#[from] crate::specs::SpecDirError),
    /// An approval or denial was not recorded.
    #[error(transparent)]
    Decide(#[from] DecideError),
    /// The store refused the change (already decided, already revoked) or
    /// failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn loaded_list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> Self {
        ServiceError::Worker(e.to_string())
    }
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Status {
        use ServiceError as E;
        match e {
            E::Auth(a) => a.into(),
            E::Input(i) => Status::invalid_argument(i.to_string()),
            e @ (E::MalformedToken(_) | E::MalformedAction(_)) => {
                Status::invalid_argument(e.to_string())
            }
            e @ (E::SpecNotLoaded { .. } | E::ApprovalNotFound(_)) => {
                Status::not_found(e.to_string())
            }
            e @ (E::TokenNotAccepted(_) | E::TokenNotHonoured { .. }) => {
                Status::permission_denied(e.to_string())
            }
            E::Plan(p) => p.into(),
            e @ E::TooManyRuns => Status::resource_exhausted(e.to_string()),
            e @ (E::CorruptRunState(_)
            | E::SaveRunState(_)
            | E::NoEnvelope
            | E::Sign(_)
            | E::Randomness(_)
            | E::Worker(_)) => Status::internal(e.to_string()),
            E::SpecDir(e) => {
                tracing::error!("{e}");
                Status::failed_precondition(e.to_string())
            }
            E::Decide(d) => d.into(),
            E::Store(s) => s.into(),
        }
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Status {
        match e {
            AuthError::Unauthenticated(m) => Status::unauthenticated(m),
            e @ AuthError::Role { .. } => Status::permission_denied(e.to_string()),
        }
    }
}

impl From<PlanError> for Status {
    fn from(e: PlanError) -> Status {
        match e {
            PlanError::Invalid(diag) => {
                Status::invalid_argument(format!("the plan does not parse:\n{diag}"))
            }
            PlanError::Internal(m) => {
                tracing::error!("verifier: {m}");
                Status::internal(format!("the verifier failed: {m}"))
            }
        }
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Status {
        match e {
            StoreError::ApprovalNotFound(id) => {
                Status::not_found(format!("approval {id} not found"))
            }
            e @ (StoreError::NotPending { .. } | StoreError::AlreadyRevoked(_)) => {
                Status::failed_precondition(e.to_string())
            }
            e @ StoreError::NoProof(_) => Status::failed_precondition(e.to_string()),
            e => {
                tracing::error!("store: {e}");
                Status::unavailable(format!(
                    "the audit store could not record this, so nothing was done: {e}"
                ))
            }
        }
    }
}

impl From<DecideError> for Status {
    fn from(e: DecideError) -> Status {
        match e {
            e @ DecideError::Invalid(_) => Status::invalid_argument(e.to_string()),
            e @ (DecideError::Role { .. } | DecideError::OwnSubmission { .. }) => {
                Status::permission_denied(e.to_string())
            }
            e @ DecideError::NotFound(_) => Status::not_found(e.to_string()),
            e @ (DecideError::NotPending { .. }
            | DecideError::SubmitterUnknown(_)
            | DecideError::SpecGone(_)
            | DecideError::RejectedNow(_)) => Status::failed_precondition(e.to_string()),
            DecideError::Plan(p) => p.into(),
            e @ (DecideError::Sign(_) | DecideError::Worker(_)) => Status::internal(e.to_string()),
            DecideError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let code = |e: ServiceError| Status::from(e).code();
        assert_eq!(
            code(InputError::Required("agent").into()),
            Code::InvalidArgument
        );
        assert_eq!(
            code(ServiceError::SpecNotLoaded {
                name: "x".into(),
                loaded: vec![]
            }),
            Code::NotFound
        );
        assert_eq!(
            code(ServiceError::TokenNotHonoured {
                token_id: "t".into(),
                reason: "revoked".into()
            }),
            Code::PermissionDenied
        );
        assert_eq!(code(ServiceError::TooManyRuns), Code::ResourceExhausted);
        assert_eq!(
            code(StoreError::AlreadyRevoked("t".into()).into()),
            Code::FailedPrecondition
        );
        assert_eq!(code(StoreError::WriterGone.into()), Code::Unavailable);
        assert_eq!(
            code(AuthError::Unauthenticated("unknown credential").into()),
            Code::Unauthenticated
        );
        assert_eq!(
            code(PlanError::Internal("boom".into()).into()),
            Code::Internal
        );
        let s = Status::from(ServiceError::SpecNotLoaded {
            name: "bank".into(),
            loaded: vec!["a".into(), "b".into()],
        });
        assert_eq!(
            s.message(),
            "no spec named \"bank\" is loaded (loaded: a, b)"
        );
    }
}
