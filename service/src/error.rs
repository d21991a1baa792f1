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
    #[error("{0} is required")]
    Required(&'static str),
    #[error("{what} is longer than {max} bytes")]
    TooLong { what: &'static str, max: usize },
    #[error("token is larger than 1 MiB")]
    TokenTooLarge,
    #[error("call_digest must be a SHA-256 in hex (64 digits)")]
    CallDigest,
    #[error("the plan is {size} bytes; the limit is {limit} bytes")]
    PlanTooLarge { size: usize, limit: usize },
    #[error("the request says agent {request:?} but the plan says agent {plan:?}")]
    AgentMismatch { request: String, plan: String },
    #[error("detail_json is not JSON: {0}")]
    DetailNotJson(String),
    #[error("detail_json must be a JSON object")]
    DetailNotObject,
    #[error("detail_json is larger than 64 KiB")]
    DetailTooLarge,
    #[error("unknown event kind {0:?}")]
    UnknownEventKind(String),
}

/// Why a call of the service failed. Bad input changes nothing; a store
/// failure leaves nothing half done (state and audit records commit
/// together).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("no spec named {name:?} is loaded (loaded: {})", loaded_list(.loaded))]
    SpecNotLoaded { name: String, loaded: Vec<String> },
    #[error("approval {0} not found")]
    ApprovalNotFound(String),
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
    TokenNotHonoured { token_id: String, reason: String },
    #[error("malformed action: {0}")]
    MalformedAction(String),
    #[error("too many runs are being checked at once; try again later")]
    TooManyRuns,
    #[error("the stored run state of token {0} is corrupt; its actions are refused")]
    CorruptRunState(String),
    #[error("cannot store the run state: {0}")]
    SaveRunState(String),
    #[error("an accepted plan came without an envelope")]
    NoEnvelope,
    #[error(transparent)]
    Sign(#[from] crate::engine::SignError),
    #[error("no randomness: {0}")]
    Randomness(String),
    #[error("a worker failed: {0}")]
    Worker(String),
    #[error(transparent)]
    SpecDir(#[from] crate::specs::SpecDirError),
    #[error(transparent)]
    Decide(#[from] DecideError),
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
