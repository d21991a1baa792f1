//! Revoked token ids, consulted by every check: the [`RevocationList`]
//! trait and the lists that need no I/O. (A list kept in a file is the
//! `token` crate's `FileRevocations`.)
//!
//! A list that cannot be consulted is an error, and every check then
//! refuses: a typo in a list must never quietly un-revoke a token.
//!
//! ```
//! use warden_core::claims::TokenId;
//! use warden_core::revocation::{MemoryRevocations, RevocationList};
//! let list = MemoryRevocations::default();
//! list.revoke(TokenId::from_bytes([7; 16]));
//! assert!(list.is_revoked(&TokenId::from_bytes([7; 16])).unwrap());
//! ```

use crate::claims::{Claims, TokenId};
use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Why a revocation list could not be consulted.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: `{text}` is not a token id (32 lowercase hex digits)")]
    BadLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("the revocation store failed: {0}")]
    Store(String),
}

/// Something that knows which tokens are revoked.
pub trait RevocationList: Send + Sync {
    /// Whether `id` is revoked. An error means "cannot tell", and callers
    /// refuse the token.
    fn is_revoked(&self, id: &TokenId) -> Result<bool, RevocationError>;
}

impl<R: RevocationList + ?Sized> RevocationList for &R {
    fn is_revoked(&self, id: &TokenId) -> Result<bool, RevocationError> {
        (**self).is_revoked(id)
    }
}

impl<R: RevocationList + ?Sized> RevocationList for Arc<R> {
    fn is_revoked(&self, id: &TokenId) -> Result<bool, RevocationError> {
        (**self).is_revoked(id)
    }
}

/// No token is revoked: for deployments without a revocation list.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocations;

impl RevocationList for NoRevocations {
    fn is_revoked(&self, _: &TokenId) -> Result<bool, RevocationError> {
        Ok(false)
    }
}

/// An in-memory list, for orchestrators that manage revocation themselves.
#[derive(Debug, Default)]
pub struct MemoryRevocations(RwLock<HashSet<TokenId>>);

impl MemoryRevocations {
    pub fn revoke(&self, id: TokenId) {
        // A poisoned lock still holds a valid set: keep revoking.
        let mut set = self.0.write().unwrap_or_else(|p| p.into_inner());
        set.insert(id);
    }
}

impl RevocationList for MemoryRevocations {
    fn is_revoked(&self, id: &TokenId) -> Result<bool, RevocationError> {
        let set = self.0.read().unwrap_or_else(|p| p.into_inner());
        Ok(set.contains(id))
    }
}

impl Claims {
    /// The first of the token and the tokens it was narrowed from that
    /// `revocations` names (`None`: none is revoked).
    pub fn revoked_by(
        &self,
        revocations: &dyn RevocationList,
    ) -> Result<Option<TokenId>, RevocationError> {
        if revocations.is_revoked(&self.jti)? {
            return Ok(Some(self.jti));
        }
        for ancestor in &self.ancestors {
            if revocations.is_revoked(ancestor)? {
                return Ok(Some(*ancestor));
            }
        }
        Ok(None)
    }
}
