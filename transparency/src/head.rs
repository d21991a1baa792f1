//! The signed head of the log: the last record's seq and chain hash and,
//! since the log became a Merkle tree, the tree's root over every record:
//! a signed tree head whose size is `seq`.

use crate::merkle::Hash;
use crate::record::parse_hash;
use serde::{Deserialize, Serialize};
use token::KeySet;

/// The domain tag of a head without a tree root (written before the tree).
pub const HEAD_DOMAIN: &[u8] = b"warden.audit.head.v1\0";
/// The domain tag of a signed tree head.
pub const TREE_HEAD_DOMAIN: &[u8] = b"warden.audit.tree-head.v1\0";

/// The signed head: stored beside the log, replaced atomically with each
/// commit; it is not a record of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    /// The last record's seq: the tree's size.
    pub seq: u64,
    /// The last record's chain hash, hex.
    pub hash: String,
    /// The Merkle tree's root over records 1..=seq (RFC 6962), hex; heads
    /// written before the tree have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Ed25519 signature over [`SignedHead::message`], hex.
    pub signature: String,
    /// The signing key's id (PASERK `k4.pid`); heads written before key
    /// rotation have none, and are checked against every trusted key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

impl SignedHead {
    /// What is signed: `TREE_HEAD_DOMAIN || seq (8 bytes, big-endian) ||
    /// hash || root`, or, without a root, `HEAD_DOMAIN || seq || hash`.
    /// `None` when a hash is not 64 hex digits.
    pub fn message(&self) -> Option<Vec<u8>> {
        let hash = parse_hash(&self.hash)?;
        let root = match &self.root {
            Some(r) => Some(parse_hash(r)?),
            None => None,
        };
        Some(head_message(self.seq, &hash, root.as_ref()))
    }

    /// The tree root, parsed (`None` for a head without one or a malformed one).
    pub fn tree_root(&self) -> Option<Hash> {
        self.root.as_deref().and_then(parse_hash)
    }

    /// Whether a key of `keys` (any state: a retired key still verifies the
    /// history it signed) signed this head; the one its `kid` names, when
    /// it names one.
    pub fn verifies_with(&self, keys: &KeySet) -> bool {
        let (Some(message), Ok(sig)) = (self.message(), hex::decode(&self.signature)) else {
            return false;
        };
        keys.verifies_history(self.kid.as_deref(), &message, &sig)
    }
}

/// The message a head signs (see [`SignedHead::message`]).
pub fn head_message(seq: u64, hash: &Hash, root: Option<&Hash>) -> Vec<u8> {
    let domain = if root.is_some() {
        TREE_HEAD_DOMAIN
    } else {
        HEAD_DOMAIN
    };
    let mut m = Vec::with_capacity(domain.len() + 8 + 64);
    m.extend_from_slice(domain);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    if let Some(r) = root {
        m.extend_from_slice(r);
    }
    m
}
