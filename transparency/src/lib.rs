//! Warden's audit log as a transparency log, checkable offline.
//!
//! The service appends every decision to a hash chain of
//! [`AuditRecord`]s; every record is also a leaf of an RFC 6962 Merkle tree
//! (its leaf hash is `SHA-256(0x00 || its canonical encoding)`, see
//! [`record`]), and each commit signs a [`SignedHead`]: the last record's
//! seq (the tree's size), its chain hash, and the tree's root. An
//! [`InclusionProof`] shows that one record is in the tree a head signs
//! without handing over the rest of the log; a [`ConsistencyProof`] shows
//! that a later head extends an earlier one, so nothing before the earlier
//! head was rewritten. Both verify with the public keys alone: this crate
//! needs no solver, no database and no network.
//!
//! ```
//! use transparency::merkle::{self, leaf_hash};
//!
//! let leaves: Vec<_> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
//! let root = merkle::root_of(&leaves);
//! let mut src = leaves.clone();
//! let path = merkle::inclusion_proof(src.as_mut_slice(), 3, 5).unwrap();
//! assert!(merkle::verify_inclusion(&leaves[3], 3, 5, &path, &root).is_ok());
//! let old = merkle::root_of(&leaves[..2]);
//! let proof = merkle::consistency_proof(src.as_mut_slice(), 2, 5).unwrap();
//! assert!(merkle::verify_consistency(2, 5, &old, &root, &proof).is_ok());
//! ```
#![warn(missing_docs)]

pub mod head;
pub mod merkle;
pub mod proof;
pub mod record;

pub use head::SignedHead;
pub use merkle::{EMPTY_ROOT, Frontier, Hash, NodeSource};
pub use proof::{ConsistencyProof, InclusionProof, VerifyError};
pub use record::{AuditRecord, GENESIS};
