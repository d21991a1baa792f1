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
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Why a revocation list could not be consulted.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The list file could not be read or appended to.
    #[error("{path}: {source}")]
    Io {
        /// The list file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A line of the list file is not a token id: the whole list is refused.
    #[error("{path}:{line}: `{text}` is not a token id (32 lowercase hex digits)")]
    BadLine {
        /// The list file.
        path: PathBuf,
        /// The line's number, from 1.
        line: usize,
        /// The line's content, comment and surrounding space removed.
        text: String,
    },
    /// A list kept elsewhere (the service's database, its watch of the
    /// store) could not be consulted.
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

/// A set of token ids, hashed by their own bits.
///
/// Every check of a run looks its token's id up (and its ancestors'): with
/// the standard library's SipHash that lookup was a third of the time of a
/// whole file-read check. A token id is 128 random bits drawn by the issuer
/// and signed into the token, and the set's members come from whoever
/// revokes, never from the token presented, so hashing needs no key
/// against chosen collisions: [`IdHasher`] folds the bits.
pub type TokenIdSet = HashSet<TokenId, BuildHasherDefault<IdHasher>>;

/// The hasher of [`TokenIdSet`]: the bytes written, folded 8 at a time.
/// Only for keys that are uniformly random already (token ids).
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(23) ^ u64::from_le_bytes(word);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An in-memory list, for orchestrators that manage revocation themselves.
#[derive(Debug, Default)]
pub struct MemoryRevocations(RwLock<TokenIdSet>);

impl MemoryRevocations {
    /// Adds `id` to the list; revoking an id twice is harmless.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn an_id_set_finds_exactly_its_members() {
        let ids: Vec<TokenId> = (0..2000u32)
            .map(|i| {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&i.to_le_bytes());
                b[12..].copy_from_slice(&(i * 7919).to_be_bytes());
                TokenId::from_bytes(b)
            })
            .collect();
        let mut set = TokenIdSet::default();
        set.extend(ids.iter().step_by(2).copied());
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(set.contains(id), n % 2 == 0, "{id}");
        }
        // Ids that differ in any one half hash differently.
        let h = BuildHasherDefault::<IdHasher>::default();
        let a = TokenId::from_bytes([1; 16]);
        let mut lo = [1u8; 16];
        lo[3] = 2;
        let mut hi = [1u8; 16];
        hi[13] = 2;
        assert_ne!(h.hash_one(a), h.hash_one(TokenId::from_bytes(lo)));
        assert_ne!(h.hash_one(a), h.hash_one(TokenId::from_bytes(hi)));
    }

    #[test]
    fn memory_revocations_name_what_was_revoked_and_its_descendants() {
        let list = MemoryRevocations::default();
        let parent = TokenId::from_bytes([5; 16]);
        list.revoke(parent);
        let mut claims = crate::claims::example();
        assert_eq!(claims.revoked_by(&list).unwrap(), None);
        claims.ancestors = vec![parent];
        assert_eq!(claims.revoked_by(&list).unwrap(), Some(parent));
        list.revoke(claims.jti);
        assert_eq!(claims.revoked_by(&list).unwrap(), Some(claims.jti));
    }
}
