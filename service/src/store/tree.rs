//! Proofs from a store's audit tree, the same for every back end: a back
//! end gives a [`TreeRead`] over one snapshot (its signed head, its stored
//! subtrees, its records), and the proofs are read from it in O(log n)
//! rows (the complete subtrees from [`STORED_LEVEL`] up, and at most two
//! runs of `2^STORED_LEVEL` records for the levels below).

use super::StoreError;
use super::writer::STORED_LEVEL;
use crate::audit::{AuditRecord, Hash, SignedHead};
use std::collections::HashMap;
use transparency::merkle::{self, NodeSource, ProveError};
use transparency::{ConsistencyProof, InclusionProof};

/// One consistent snapshot of a store's log, for proofs.
pub(crate) trait TreeRead {
    /// The signed tree head (`None`: the log has none).
    fn head(&mut self) -> Result<Option<SignedHead>, StoreError>;
    /// How many records the stored tree covers.
    fn tree_size(&mut self) -> Result<u64, StoreError>;
    /// A stored complete subtree (levels from [`STORED_LEVEL`] up).
    fn stored_node(&mut self, level: u32, index: u64) -> Result<Option<Hash>, StoreError>;
    /// Records with seq above `after`, in order, at most `limit`.
    fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
}

/// The tree's nodes over a [`TreeRead`]: stored ones read, lower ones
/// computed from the leaves of their block of records (kept for the proof).
struct Nodes<'a, R: ?Sized> {
    read: &'a mut R,
    blocks: HashMap<u64, Vec<Hash>>,
}

impl<R: TreeRead + ?Sized> Nodes<'_, R> {
    fn block(&mut self, b: u64) -> Result<&[Hash], StoreError> {
        if !self.blocks.contains_key(&b) {
            let first = b << STORED_LEVEL;
            let records = self.read.records_after(first, 1 << STORED_LEVEL)?;
            let mut leaves = Vec::with_capacity(records.len());
            for (i, r) in records.iter().enumerate() {
                if r.seq != first + i as u64 + 1 {
                    return Err(StoreError::Corrupt(format!(
                        "audit record {} is missing",
                        first + i as u64 + 1
                    )));
                }
                leaves.push(r.leaf_hash().ok_or_else(|| {
                    StoreError::Corrupt(format!("audit record {} has a malformed hash", r.seq))
                })?);
            }
            self.blocks.insert(b, leaves);
        }
        Ok(self.blocks.get(&b).map(Vec::as_slice).unwrap_or(&[]))
    }
}

impl<R: TreeRead + ?Sized> NodeSource for Nodes<'_, R> {
    type Error = StoreError;

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        if level >= STORED_LEVEL {
            return self.read.stored_node(level, index)?.ok_or_else(|| {
                StoreError::Corrupt(format!("the audit tree lacks node {level}/{index}"))
            });
        }
        let first = index << level;
        let b = first >> STORED_LEVEL;
        let at = (first - (b << STORED_LEVEL)) as usize;
        let leaves = self.block(b)?;
        let span = leaves.get(at..at + (1usize << level)).ok_or_else(|| {
            StoreError::Corrupt(format!("audit records of node {level}/{index} are missing"))
        })?;
        Ok(merkle::root_of(span))
    }
}

fn prove_err(e: ProveError<StoreError>) -> StoreError {
    match e {
        ProveError::Source(e) => e,
        e => StoreError::NoProof(e.to_string()),
    }
}

/// The signed head, with a root, and a tree that covers it.
fn signed_tree<R: TreeRead + ?Sized>(read: &mut R) -> Result<SignedHead, StoreError> {
    let head = read.head()?.ok_or_else(|| {
        StoreError::NoProof("the log has no signed head (a store written without a key)".into())
    })?;
    if head.root.is_none() || read.tree_size()? < head.seq {
        return Err(StoreError::NoProof(
            "the log's Merkle tree is not built yet: start the service once with this version to build it"
                .into(),
        ));
    }
    Ok(head)
}

/// The tree's right edge over the first `size` records, read from the
/// stored subtrees (and at most 15 records).
pub(crate) fn frontier<R: TreeRead + ?Sized>(
    read: &mut R,
    size: u64,
) -> Result<transparency::Frontier, StoreError> {
    let mut nodes = Nodes {
        read,
        blocks: HashMap::new(),
    };
    transparency::Frontier::from_source(&mut nodes, size)
}

/// See [`super::Store::prove_inclusion`].
pub(crate) fn prove_inclusion<R: TreeRead + ?Sized>(
    read: &mut R,
    seq: u64,
) -> Result<InclusionProof, StoreError> {
    let head = signed_tree(read)?;
    if seq == 0 || seq > head.seq {
        return Err(StoreError::NoProof(format!(
            "record {seq} is not in the log's signed tree (records 1 to {})",
            head.seq
        )));
    }
    let record = read
        .records_after(seq - 1, 1)?
        .into_iter()
        .next()
        .filter(|r| r.seq == seq)
        .ok_or_else(|| StoreError::Corrupt(format!("audit record {seq} is missing")))?;
    let mut nodes = Nodes {
        read,
        blocks: HashMap::new(),
    };
    let proof = merkle::inclusion_proof(&mut nodes, seq - 1, head.seq).map_err(prove_err)?;
    Ok(InclusionProof {
        record,
        head,
        proof: proof.iter().map(hex::encode).collect(),
    })
}

/// See [`super::Store::prove_consistency`].
pub(crate) fn prove_consistency<R: TreeRead + ?Sized>(
    read: &mut R,
    old: u64,
    new: Option<u64>,
) -> Result<ConsistencyProof, StoreError> {
    let head = signed_tree(read)?;
    let new = new.unwrap_or(head.seq);
    if old > new || new > head.seq {
        return Err(StoreError::NoProof(format!(
            "sizes {old} and {new}: both must be at most the signed head's {} and in order",
            head.seq
        )));
    }
    let mut nodes = Nodes {
        read,
        blocks: HashMap::new(),
    };
    let proof = merkle::consistency_proof(&mut nodes, old, new).map_err(prove_err)?;
    let old_root = merkle::root(&mut nodes, old)?;
    let new_root = merkle::root(&mut nodes, new)?;
    Ok(ConsistencyProof {
        old_size: old,
        old_root: hex::encode(old_root),
        new_size: new,
        new_root: hex::encode(new_root),
        head: (new == head.seq).then_some(head),
        proof: proof.iter().map(hex::encode).collect(),
    })
}
