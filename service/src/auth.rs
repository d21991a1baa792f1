//! Who may call what: bearer credentials with roles.
//!
//! Each caller presents `authorization: Bearer <secret>`. The configuration
//! lists credentials by name and role with the SHA-256 of the secret (or,
//! for tests and demos, the secret itself). A presented secret is hashed and
//! compared with every configured digest in constant time, so neither the
//! comparison nor the position of the match leaks through timing.
//!
//! Roles: a **submitter** (an orchestrator) submits plans and reports
//! enforcement events; an **approver** (security staff) approves, denies,
//! revokes and watches the event stream; an **admin** may do everything and
//! reload specs. A submitter cannot approve; an approver cannot submit.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::metadata::MetadataMap;

/// What a credential may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An orchestrator: submits plans and polls their approvals, asks for
    /// a tool call's approval, reports enforcement events, checks actions
    /// and results, and watches revocations.
    Submitter,
    /// Security staff: approves and denies, revokes, reads approvals,
    /// streams the audit log and proves its records; it may also check
    /// actions and results and watch revocations.
    Approver,
    /// Everything either role may do, and reloading specs.
    Admin,
}

impl Role {
    /// The role's name as the config file spells it (`submitter`,
    /// `approver`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

/// One configured credential (`[[credentials]]` in the config file).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// The identity recorded in the audit log (`decided_by`, `revoked_by`).
    pub name: String,
    /// What the credential may do.
    pub role: Role,
    /// Hex SHA-256 of the secret (preferred).
    #[serde(default)]
    pub secret_sha256: Option<String>,
    /// The secret itself (for tests and demos; keep config files private).
    #[serde(default)]
    pub secret: Option<String>,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The credential's configured name (what the audit log records).
    pub name: String,
    /// The credential's role.
    pub role: Role,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    identity: Identity,
}

/// The credential table.
#[derive(Clone, Default)]
pub struct Authenticator {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("credentials", &self.entries.len())
            .finish()
    }
}

/// A credential that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// The named credential gives both `secret_sha256` and `secret`, or
    /// neither.
    #[error("credential {0:?}: give exactly one of `secret_sha256` and `secret`")]
    SecretChoice(String),
    /// The named credential's `secret_sha256` is not 64 hex digits.
    #[error("credential {0:?}: `secret_sha256` must be 64 hex digits")]
    BadDigest(String),
    /// The named credential's `secret` is shorter than 16 bytes.
    #[error("credential {0:?}: the secret must be at least 16 characters")]
    ShortSecret(String),
    /// Two credentials have this name.
    #[error("credential names must be unique: {0:?} appears twice")]
    DuplicateName(String),
    /// The configuration lists no credentials.
    #[error("no credentials are configured: every call would be refused")]
    Empty,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// A secret that cannot travel in an `authorization` header.
#[derive(Debug, thiserror::Error)]
#[error("the secret is not valid header text (printable ASCII, no line breaks)")]
pub struct InvalidSecret;

/// The `authorization` value a client sends with every call: `Bearer SECRET`.
pub fn bearer(
    secret: &str,
) -> Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>, InvalidSecret> {
    format!("Bearer {secret}")
        .parse()
        .map_err(|_| InvalidSecret)
}

/// `body` as a request that carries `secret` ([`bearer`]).
pub fn authorized<T>(body: T, secret: &str) -> Result<tonic::Request<T>, InvalidSecret> {
    let mut r = tonic::Request::new(body);
    r.metadata_mut().insert("authorization", bearer(secret)?);
    Ok(r)
}

/// Hex SHA-256 of a secret, for `secret_sha256` in the config file.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(sha256(secret.as_bytes()))
}

impl Authenticator {
    /// The table of the configured credentials. Refuses an empty list, a
    /// name given twice, and a credential without exactly one well-formed
    /// secret (a digest of 64 hex digits, or a secret of 16 bytes or more).
    pub fn new(creds: &[CredentialConfig]) -> Result<Authenticator, AuthConfigError> {
        if creds.is_empty() {
            return Err(AuthConfigError::Empty);
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(creds.len());
        for c in creds {
            if entries.iter().any(|e| e.identity.name == c.name) {
                return Err(AuthConfigError::DuplicateName(c.name.clone()));
            }
            let digest = match (&c.secret_sha256, &c.secret) {
                (Some(h), None) => hex::decode(h.trim())
                    .ok()
                    .and_then(|v| <[u8; 32]>::try_from(v).ok())
                    .ok_or_else(|| AuthConfigError::BadDigest(c.name.clone()))?,
                (None, Some(s)) => {
                    if s.len() < 16 {
                        return Err(AuthConfigError::ShortSecret(c.name.clone()));
                    }
                    sha256(s.as_bytes())
                }
                _ => return Err(AuthConfigError::SecretChoice(c.name.clone())),
            };
            entries.push(Entry {
                digest,
                identity: Identity {
                    name: c.name.clone(),
                    role: c.role,
                },
            });
        }
        Ok(Authenticator { entries })
    }

    /// The identity behind a presented secret. Every entry is compared, in
    /// constant time, whatever matches.
    pub fn identify(&self, secret: &str) -> Option<Identity> {
        let d = sha256(secret.as_bytes());
        let mut found: Option<&Entry> = None;
        for e in &self.entries {
            if bool::from(e.digest.ct_eq(&d)) {
                found = Some(e);
            }
        }
        found.map(|e| e.identity.clone())
    }

    /// Authenticates a request and checks that its role is one of `allowed`
    /// (an admin is always allowed).
    pub fn authorize(&self, md: &MetadataMap, allowed: &[Role]) -> Result<Identity, AuthError> {
        let header = md.get("authorization").ok_or(AuthError::Unauthenticated(
            "missing `authorization: Bearer <secret>`",
        ))?;
        let value = header
            .to_str()
            .map_err(|_| AuthError::Unauthenticated("the authorization header is not text"))?;
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Unauthenticated(
                "expected `authorization: Bearer <secret>`",
            ))?;
        let id = self
            .identify(secret.trim())
            .ok_or(AuthError::Unauthenticated("unknown credential"))?;
        if id.role == Role::Admin || allowed.contains(&id.role) {
            Ok(id)
        } else {
            Err(AuthError::Role {
                name: id.name,
                role: id.role,
                needs: allowed.to_vec(),
            })
        }
    }
}

/// Why a request was not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential, or one this service does not know.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A known principal whose role may not make this call.
    #[error("{name} has role {}; this call needs {} (or admin)", role.as_str(), needs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or "))]
    Role {
        /// The credential's name.
        name: String,
        /// Its role.
        role: Role,
        /// The roles the call admits (besides admin).
        needs: Vec<Role>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn auth() -> Authenticator {
        Authenticator::new(&[
            CredentialConfig {
                name: "orch".into(),
                role: Role::Submitter,
                secret: Some("submitter-secret-0001".into()),
                secret_sha256: None,
            },
            CredentialConfig {
                name: "alice".into(),
                role: Role::Approver,
                secret: None,
                secret_sha256: Some(secret_digest("approver-secret-0001")),
            },
            CredentialConfig {
                name: "root".into(),
                role: Role::Admin,
                secret: Some("admin-secret-000001".into()),
                secret_sha256: None,
            },
        ])
        .unwrap()
    }

    fn md(v: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", v.parse().unwrap());
        m
    }

    #[test]
    fn roles_are_enforced() {
        let a = auth();
        let sub = md("Bearer submitter-secret-0001");
        let appr = md("Bearer approver-secret-0001");
        let admin = md("Bearer admin-secret-000001");
        assert_eq!(a.authorize(&sub, &[Role::Submitter]).unwrap().name, "orch");
        assert_eq!(
            a.authorize(&sub, &[Role::Approver])
                .map_err(tonic::Status::from)
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        assert_eq!(
            a.authorize(&appr, &[Role::Submitter])
                .map_err(tonic::Status::from)
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        assert_eq!(a.authorize(&appr, &[Role::Approver]).unwrap().name, "alice");
        assert_eq!(a.authorize(&admin, &[Role::Approver]).unwrap().name, "root");
    }

    #[test]
    fn missing_or_wrong_credentials_are_unauthenticated() {
        let a = auth();
        for m in [
            MetadataMap::new(),
            md("Bearer nope"),
            md("Basic submitter-secret-0001"),
            md("Bearer submitter-secret-000"),
        ] {
            assert_eq!(
                a.authorize(&m, &[Role::Submitter])
                    .map_err(tonic::Status::from)
                    .unwrap_err()
                    .code(),
                Code::Unauthenticated
            );
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        let c = |secret: Option<&str>, digest: Option<&str>| CredentialConfig {
            name: "x".into(),
            role: Role::Admin,
            secret: secret.map(Into::into),
            secret_sha256: digest.map(Into::into),
        };
        assert!(Authenticator::new(&[]).is_err());
        assert!(Authenticator::new(&[c(None, None)]).is_err());
        assert!(Authenticator::new(&[c(Some("short"), None)]).is_err());
        assert!(Authenticator::new(&[c(None, Some("abcd"))]).is_err());
        assert!(Authenticator::new(&[c(Some("long-enough-secret"), Some("ab"))]).is_err());
        let ok = c(Some("long-enough-secret"), None);
        assert!(Authenticator::new(&[ok.clone(), ok]).is_err());
    }
}
