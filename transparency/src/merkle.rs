//! RFC 6962 Merkle trees (§2.1): hashing, the compact right edge a log
//! appends to ([`Frontier`]), inclusion and consistency proofs read from
//! any [`NodeSource`], and their verification (the algorithms of RFC 9162
//! §2.1.3.2 and §2.1.4.2, which check the proofs RFC 6962 defines).
//!
//! A leaf's hash is `SHA-256(0x00 || leaf bytes)`, a node's
//! `SHA-256(0x01 || left || right)`, and the tree over `n` leaves splits at
//! the largest power of two below `n`; the empty tree's root is
//! `SHA-256("")`.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n >= 2`): where RFC 6962
/// splits a tree of `n` leaves.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees that make up a tree of `size` leaves, left to
/// right, as `(level, index)`: one per set bit of `size`, the largest first.
pub(crate) fn decomposition(size: u64) -> impl Iterator<Item = (u32, u64)> {
    let mut start = 0u64;
    (0..64u32).rev().filter_map(move |level| {
        if size >> level & 1 == 1 {
            let at = start >> level;
            start += 1 << level;
            Some((level, at))
        } else {
            None
        }
    })
}

/// Where a proof reads the hashes of complete subtrees: node `(level,
/// index)` covers leaves `index * 2^level .. (index + 1) * 2^level`; level 0
/// is the leaves' hashes.
pub trait NodeSource {
    /// Why a node cannot be read (a store's error; never, in memory).
    type Error;
    /// The hash of node `(level, index)`. Proofs only ask for nodes of
    /// complete subtrees inside the tree they prove.
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Leaf hashes in memory are a node source (every node computed from them).
impl NodeSource for [Hash] {
    type Error = std::convert::Infallible;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        let start = (index << level) as usize;
        Ok(root_of(&self[start..start + (1usize << level)]))
    }
}

/// The root of a tree over these leaf hashes, in memory.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Why a proof cannot be made from a source.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProveError<E> {
    /// An inclusion proof was asked for a leaf index not below the tree size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    NoSuchLeaf {
        /// The leaf index asked for (from 0).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("a tree of {old} leaves is not a prefix of a tree of {new}")]
    BadSizes {
        /// The earlier tree size.
        old: u64,
        /// The later tree size.
        new: u64,
    },
    /// The node source failed.
    #[error(transparent)]
    Source(E),
}

/// The hash of leaves `start..end` (a subtree of RFC 6962's recursion: a
/// complete one is read from the source, a partial one is computed from the
/// complete ones it splits into).
pub fn subtree<S: NodeSource + ?Sized>(
    src: &mut S,
    start: u64,
    end: u64,
) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return src.node(level, start >> level);
    }
    let k = split(n);
    let left = subtree(src, start, start + k)?;
    let right = subtree(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource + ?Sized>(src: &mut S, size: u64) -> Result<Hash, S::Error> {
    subtree(src, 0, size)
}

/// The audit path of leaf `index` in the tree of `size` leaves (RFC 6962
/// §2.1.1), the deepest sibling first.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProveError::NoSuchLeaf { index, size });
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out).map_err(ProveError::Source)?;
    Ok(out)
}

fn path<S: NodeSource + ?Sized>(
    src: &mut S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m - start < k {
        path(src, m, start, start + k, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        path(src, m, start + k, end, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `new`
/// leaves (RFC 6962 §2.1.2); empty when `old` is 0 or `new`.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &mut S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if old > new {
        return Err(ProveError::BadSizes { old, new });
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut out).map_err(ProveError::Source)?;
    }
    Ok(out)
}

fn subproof<S: NodeSource + ?Sized>(
    src: &mut S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// Why a proof does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index (from 0).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The proof has more or fewer hashes than the tree sizes call for.
    #[error("the proof has the wrong number of hashes for these sizes")]
    WrongLength,
    /// The proof is well formed but leads to another root.
    #[error("the proof leads to root {computed}, not the root {expected}")]
    RootMismatch {
        /// The root the proof leads to, hex.
        computed: String,
        /// The root it should lead to, hex.
        expected: String,
    },
    /// The earlier tree size is larger than the later one.
    #[error("the old tree ({old} leaves) is larger than the new one ({new})")]
    Shrunk {
        /// The earlier tree size.
        old: u64,
        /// The later tree size.
        new: u64,
    },
    /// The two sizes are equal but the roots differ: the log forked.
    #[error("two trees of the same size {size} have different roots")]
    Forked {
        /// The tree size both roots claim.
        size: u64,
    },
}

fn mismatch(computed: &Hash, expected: &Hash) -> ProofError {
    ProofError::RootMismatch {
        computed: hex::encode(computed),
        expected: hex::encode(expected),
    }
}

/// The root an inclusion proof leads to from `leaf` at `index` in a tree of
/// `size` leaves (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(r)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root
/// is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let r = root_from_inclusion(leaf, index, size, proof)?;
    if &r != root {
        return Err(mismatch(&r, root));
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::Shrunk { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if old_root != new_root {
            return Err(ProofError::Forked { size: old });
        }
        return Ok(());
    }
    if old == 0 {
        // The empty tree is a prefix of every tree.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongLength);
    };
    // A power-of-two old tree is a node of the new one: the proof starts
    // above it, with the old root.
    let (seed, rest) = if old.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root {
        return Err(mismatch(&fr, old_root));
    }
    if &sr != new_root {
        return Err(mismatch(&sr, new_root));
    }
    Ok(())
}

/// The right edge of a growing tree: the roots of its complete subtrees
/// (one per set bit of the size, the largest first). Appending a leaf
/// costs one hash per subtree it completes; the root is at most 63 more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// A frontier's stored form does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a stored tree frontier is malformed: {0}")]
pub struct FrontierError(String);

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; `on_node(level, index, hash)` is called for the
    /// leaf (level 0) and for every complete subtree it completes, lowest
    /// first. An error from `on_node` is returned once the frontier is
    /// updated (the caller discards it along with its transaction).
    pub fn push<E>(
        &mut self,
        leaf: Hash,
        mut on_node: impl FnMut(u32, u64, &Hash) -> Result<(), E>,
    ) -> Result<(), E> {
        let n = self.size;
        let mut h = leaf;
        let mut result = on_node(0, n, &h);
        let mut level = 0u32;
        while n >> level & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            level += 1;
            if result.is_ok() {
                result = on_node(level, ((n + 1) >> level) - 1, &h);
            }
        }
        self.hashes.push(h);
        self.size += 1;
        result
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return EMPTY_ROOT;
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The frontier of the first `size` leaves of a source.
    pub fn from_source<S: NodeSource + ?Sized>(
        src: &mut S,
        size: u64,
    ) -> Result<Frontier, S::Error> {
        let hashes = decomposition(size)
            .map(|(level, index)| src.node(level, index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frontier { size, hashes })
    }

    /// The stored form: the size (8 bytes, big-endian), then the hashes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Reads [`Frontier::to_bytes`] back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Frontier, FrontierError> {
        let (size, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| FrontierError("shorter than its size".into()))?;
        let size = u64::from_be_bytes(*size);
        if rest.len() != 32 * size.count_ones() as usize {
            return Err(FrontierError(format!(
                "{} bytes of hashes for a tree of {size} leaves",
                rest.len()
            )));
        }
        let hashes = rest
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        Ok(Frontier { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split(n), k, "{n}");
        }
        assert_eq!(split((1 << 63) + 1), 1 << 63);
    }

    #[test]
    fn the_frontier_reports_every_complete_subtree() {
        let ls = leaves(13);
        let mut f = Frontier::new();
        let mut nodes = Vec::new();
        for l in &ls {
            f.push(*l, |level, index, h| {
                nodes.push((level, index, *h));
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        // 13 leaves and 6 + 3 + 1 complete inner nodes.
        assert_eq!(nodes.len(), 13 + 10);
        for (level, index, h) in nodes {
            let mut src = ls.clone();
            assert_eq!(src.as_mut_slice().node(level, index).unwrap(), h);
        }
        assert_eq!(f.root(), root_of(&ls));
        assert_eq!(Frontier::from_bytes(&f.to_bytes()).unwrap(), f);
        assert!(Frontier::from_bytes(&f.to_bytes()[..40]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_inclusion_proof_verifies_and_tampering_fails(size in 1usize..300, pick in any::<u64>(), bit in 0usize..256) {
            let ls = leaves(size);
            let root = root_of(&ls);
            let index = pick % size as u64;
            let mut src = ls.clone();
            let proof = inclusion_proof(src.as_mut_slice(), index, size as u64).unwrap();
            prop_assert!(verify_inclusion(&ls[index as usize], index, size as u64, &proof, &root).is_ok());
            let flip = |h: &Hash| { let mut h = *h; h[bit / 8] ^= 1 << (bit % 8); h };
            // A tampered leaf, root, or proof hash; a wrong index or size.
            prop_assert!(verify_inclusion(&flip(&ls[index as usize]), index, size as u64, &proof, &root).is_err());
            prop_assert!(verify_inclusion(&ls[index as usize], index, size as u64, &proof, &flip(&root)).is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i] = flip(&bad[i]);
                prop_assert!(verify_inclusion(&ls[index as usize], index, size as u64, &bad, &root).is_err());
                prop_assert!(verify_inclusion(&ls[index as usize], index, size as u64, &proof[1..], &root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(verify_inclusion(&ls[index as usize], index, size as u64, &longer, &root).is_err());
            if size > 1 {
                let other = (index + 1) % size as u64;
                prop_assert!(verify_inclusion(&ls[index as usize], other, size as u64, &proof, &root).is_err());
            }
            // (A wrong size with the same root may verify when the path has
            // the same shape: the signed head binds size and root together.)
        }

        #[test]
        fn every_consistency_proof_verifies_and_tampering_fails(new in 1usize..300, pick in any::<u64>(), bit in 0usize..256) {
            let ls = leaves(new);
            let old = 1 + pick % new as u64;
            let (old_root, new_root) = (root_of(&ls[..old as usize]), root_of(&ls));
            let mut src = ls.clone();
            let proof = consistency_proof(src.as_mut_slice(), old, new as u64).unwrap();
            prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &proof).is_ok());
            let flip = |h: &Hash| { let mut h = *h; h[bit / 8] ^= 1 << (bit % 8); h };
            prop_assert!(verify_consistency(old, new as u64, &flip(&old_root), &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new as u64, &old_root, &flip(&new_root), &proof).is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i] = flip(&bad[i]);
                prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &bad).is_err());
                prop_assert!(verify_consistency(old, new as u64, &old_root, &new_root, &proof[1..]).is_err());
            }
            // A rewritten prefix: one old leaf changed, the new tree rebuilt.
            let mut rewritten = ls.clone();
            let at = (pick >> 32) as usize % old as usize;
            rewritten[at] = flip(&rewritten[at]);
            let mut src = rewritten.clone();
            let forged = consistency_proof(src.as_mut_slice(), old, new as u64).unwrap();
            prop_assert!(verify_consistency(old, new as u64, &old_root, &root_of(&rewritten), &forged).is_err());
        }

        #[test]
        fn proofs_from_the_frontier_nodes_match(size in 1usize..200) {
            let ls = leaves(size);
            let mut f = Frontier::new();
            for l in &ls {
                f.push(*l, |_, _, _| Ok::<_, ()>(())).unwrap();
            }
            let mut src = ls.clone();
            prop_assert_eq!(f.root(), root(src.as_mut_slice(), size as u64).unwrap());
            prop_assert_eq!(Frontier::from_source(src.as_mut_slice(), size as u64).unwrap(), f);
        }
    }
}
