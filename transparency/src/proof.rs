//! Proofs as an auditor receives them (`warden audit prove`, `warden audit
//! consistency`, the gRPC calls): JSON that carries everything needed to
//! check it offline with the public keys alone.

use crate::head::SignedHead;
use crate::merkle::{self, Hash, ProofError};
use crate::record::{AuditRecord, parse_hash};
use serde::{Deserialize, Serialize};
use token::KeySet;

/// That record `record.seq` is leaf `seq - 1` of the tree `head` signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The record, with every stored field: the verifier recomputes its
    /// chain hash and its leaf hash from them.
    pub record: AuditRecord,
    /// The signed tree head whose root the audit path leads to; its `seq`
    /// is the tree size.
    pub head: SignedHead,
    /// The audit path (RFC 6962 §2.1.1), the deepest sibling first, hex.
    pub proof: Vec<String>,
}

/// That the tree of `old_size` records with root `old_root` is a prefix of
/// the tree of `new_size` records with root `new_root`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The earlier tree size: the number of records it covers.
    pub old_size: u64,
    /// The root of the first `old_size` records, hex: compare it with the
    /// head you kept (or pass that head to [`ConsistencyProof::verify`]).
    pub old_root: String,
    /// The later tree size, at least `old_size`.
    pub new_size: u64,
    /// The root of the first `new_size` records, hex; a signed head must
    /// name it ([`ConsistencyProof::verify`]).
    pub new_root: String,
    /// The log's signed head when it is at `new_size` (it signs
    /// `new_root`); for an earlier `new_size`, bring the head you kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<SignedHead>,
    /// The consistency proof from `old_size` to `new_size` (RFC 6962
    /// §2.1.2), hex; empty when `old_size` is 0 or equals `new_size`.
    pub proof: Vec<String>,
}

/// Why a proof does not prove what it says.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The head's signature does not verify with a trusted key (the one its
    /// `kid` names, when it names one), or the head's hashes or signature
    /// are not hex.
    #[error(
        "the tree head is not signed by a trusted key{}",
        kid.as_ref().map(|k| format!(" (it names {k})")).unwrap_or_default()
    )]
    BadHead {
        /// The key id the head names, if any.
        kid: Option<String>,
    },
    /// The head has no tree root (it was written before the log was a
    /// tree), or a consistency proof came with no head for its new tree.
    #[error("the tree head carries no Merkle root (it was written before the log was a tree)")]
    NoRoot,
    /// A hash in the proof, in the record or one of the proof's roots is not
    /// 64 hex digits.
    #[error("a hash in the proof is not 64 hex digits")]
    Malformed,
    /// The record's fields do not hash to its stored chain hash.
    #[error("the record's fields do not hash to its stored hash: the record was altered")]
    RecordAltered,
    /// The record's seq is 0 or beyond the head's tree size.
    #[error("record {seq} is not covered by a tree head of size {size}")]
    NotCovered {
        /// The record's seq.
        seq: u64,
        /// The head's tree size.
        size: u64,
    },
    /// The head you kept is for another tree size than the proof's
    /// `old_size`.
    #[error("the head you trust is for {trusted} records, the proof is from {claimed}")]
    OldSizeMismatch {
        /// The tree size of the head you kept.
        trusted: u64,
        /// The proof's `old_size`.
        claimed: u64,
    },
    /// No trusted signed head names `new_size` with `new_root`.
    #[error("no trusted signed head names the new tree ({size} records) with this root")]
    NewRootUnsigned {
        /// The proof's `new_size`.
        size: u64,
    },
    /// The proof's `old_root` is not the root of the head you kept.
    #[error("the proof's old root is not the root of the head you trust: the log was rewritten")]
    OldRootMismatch,
    /// The audit path or consistency proof itself does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

fn hashes(hex_list: &[String]) -> Result<Vec<Hash>, VerifyError> {
    hex_list
        .iter()
        .map(|h| parse_hash(h).ok_or(VerifyError::Malformed))
        .collect()
}

/// The head's root, after checking its signature.
fn trusted_root(head: &SignedHead, keys: &KeySet) -> Result<Hash, VerifyError> {
    if head.root.is_none() {
        return Err(VerifyError::NoRoot);
    }
    if !head.verifies_with(keys) {
        return Err(VerifyError::BadHead {
            kid: head.kid.clone(),
        });
    }
    head.tree_root().ok_or(VerifyError::Malformed)
}

impl InclusionProof {
    /// Checks the head's signature with `keys`, the record's own hash, and
    /// the audit path from its leaf to the head's root.
    pub fn verify(&self, keys: &KeySet) -> Result<(), VerifyError> {
        let root = trusted_root(&self.head, keys)?;
        let r = &self.record;
        if r.seq == 0 || r.seq > self.head.seq {
            return Err(VerifyError::NotCovered {
                seq: r.seq,
                size: self.head.seq,
            });
        }
        let stored = parse_hash(&r.hash).ok_or(VerifyError::Malformed)?;
        if r.computed_hash() != Some(stored) {
            return Err(VerifyError::RecordAltered);
        }
        let leaf = r.leaf_hash().ok_or(VerifyError::Malformed)?;
        merkle::verify_inclusion(
            &leaf,
            r.seq - 1,
            self.head.seq,
            &hashes(&self.proof)?,
            &root,
        )?;
        Ok(())
    }
}

impl ConsistencyProof {
    /// Checks the proof from `old_root` to `new_root`, and that a signed
    /// head vouches for the new tree: the proof's own `head`, or
    /// `trusted_new` (a head you kept). With `trusted_old` (a head you
    /// kept, its signature checked too), also that `old_size` and
    /// `old_root` are that head's; without it, the proof ties the new tree
    /// to `old_root` only, and you compare `old_root` yourself.
    pub fn verify(
        &self,
        keys: &KeySet,
        trusted_old: Option<&SignedHead>,
        trusted_new: Option<&SignedHead>,
    ) -> Result<(), VerifyError> {
        let old_root = parse_hash(&self.old_root).ok_or(VerifyError::Malformed)?;
        let new_root = parse_hash(&self.new_root).ok_or(VerifyError::Malformed)?;
        let vouching = trusted_new
            .or(self.head.as_ref())
            .ok_or(VerifyError::NoRoot)?;
        if trusted_root(vouching, keys)? != new_root || vouching.seq != self.new_size {
            return Err(VerifyError::NewRootUnsigned {
                size: self.new_size,
            });
        }
        if let Some(old) = trusted_old {
            let kept = trusted_root(old, keys)?;
            if old.seq != self.old_size {
                return Err(VerifyError::OldSizeMismatch {
                    trusted: old.seq,
                    claimed: self.old_size,
                });
            }
            if kept != old_root {
                return Err(VerifyError::OldRootMismatch);
            }
        }
        merkle::verify_consistency(
            self.old_size,
            self.new_size,
            &old_root,
            &new_root,
            &hashes(&self.proof)?,
        )?;
        Ok(())
    }
}
