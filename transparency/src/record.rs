//! A record of the audit log and its canonical encoding: the bytes whose
//! SHA-256 is the record's hash in the chain, and whose RFC 6962 leaf hash
//! (`SHA-256(0x00 || bytes)`) is its leaf in the Merkle tree.

use crate::merkle::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash chain's domain tag, the first bytes of every record's encoding.
pub const RECORD_DOMAIN: &[u8] = b"warden.audit.record.v1\0";

/// The `prev_hash` of record 1.
pub const GENESIS: Hash = [0u8; 32];

/// One record of the log, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The record's place in the log, from 1 with no gaps; record `seq` is
    /// leaf `seq - 1` of the Merkle tree.
    pub seq: u64,
    /// When the service appended it: milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The kind as stored (a tampered log may hold a kind we do not know).
    pub kind: String,
    /// The body exactly as stored: the hash covers these bytes.
    pub body: String,
    /// The chain hash of the record before, hex ([`GENESIS`] for record 1).
    pub prev_hash: String,
    /// This record's chain hash as stored, hex: [`record_hash`] over its
    /// other fields when the record is intact.
    pub hash: String,
}

impl AuditRecord {
    /// Builds the record that follows `prev` (seq and hash of the previous
    /// record; `(0, GENESIS)` for the first). Returns it with its leaf hash.
    pub fn next(
        prev_seq: u64,
        prev_hash: &Hash,
        time_ms: i64,
        kind: &str,
        body: String,
    ) -> (AuditRecord, Hash) {
        let seq = prev_seq + 1;
        let (hash, leaf) = record_hashes(seq, time_ms, kind, &body, prev_hash);
        let r = AuditRecord {
            seq,
            time_ms,
            kind: kind.to_owned(),
            body,
            prev_hash: hex::encode(prev_hash),
            hash: hex::encode(hash),
        };
        (r, leaf)
    }

    /// The body parsed as JSON (`Null` if it does not parse).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The record's leaf hash in the Merkle tree, from its stored fields
    /// (`None` when its `prev_hash` is not 64 hex digits).
    pub fn leaf_hash(&self) -> Option<Hash> {
        let prev = parse_hash(&self.prev_hash)?;
        Some(record_hashes(self.seq, self.time_ms, &self.kind, &self.body, &prev).1)
    }

    /// The chain hash its stored fields give (`None` as for
    /// [`AuditRecord::leaf_hash`]).
    pub fn computed_hash(&self) -> Option<Hash> {
        let prev = parse_hash(&self.prev_hash)?;
        Some(record_hash(
            self.seq,
            self.time_ms,
            &self.kind,
            &self.body,
            &prev,
        ))
    }
}

/// Parses 64 hex digits.
pub fn parse_hash(s: &str) -> Option<Hash> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Feeds the canonical encoding of a record to `put`: the domain tag, seq
/// and time as big-endian integers, kind and body each prefixed by their
/// length (8 bytes, big-endian), then the previous record's hash.
pub fn encode_record(
    seq: u64,
    time_ms: i64,
    kind: &str,
    body: &str,
    prev_hash: &Hash,
    mut put: impl FnMut(&[u8]),
) {
    put(RECORD_DOMAIN);
    put(&seq.to_be_bytes());
    put(&time_ms.to_be_bytes());
    put(&(kind.len() as u64).to_be_bytes());
    put(kind.as_bytes());
    put(&(body.len() as u64).to_be_bytes());
    put(body.as_bytes());
    put(prev_hash);
}

/// The record's encoding as bytes (the leaf's data in the Merkle tree).
pub fn record_bytes(seq: u64, time_ms: i64, kind: &str, body: &str, prev_hash: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_DOMAIN.len() + 56 + kind.len() + body.len());
    encode_record(seq, time_ms, kind, body, prev_hash, |b| {
        out.extend_from_slice(b)
    });
    out
}

/// SHA-256 over the canonical encoding: the record's hash in the chain.
pub fn record_hash(seq: u64, time_ms: i64, kind: &str, body: &str, prev_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    encode_record(seq, time_ms, kind, body, prev_hash, |b| h.update(b));
    h.finalize().into()
}

/// The chain hash and the leaf hash of a record, in one pass over its
/// encoding.
pub fn record_hashes(
    seq: u64,
    time_ms: i64,
    kind: &str,
    body: &str,
    prev_hash: &Hash,
) -> (Hash, Hash) {
    let mut chain = Sha256::new();
    let mut leaf = Sha256::new();
    leaf.update([0u8]);
    encode_record(seq, time_ms, kind, body, prev_hash, |b| {
        chain.update(b);
        leaf.update(b);
    });
    (chain.finalize().into(), leaf.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leaf_is_the_encoding_with_the_rfc_6962_prefix() {
        let prev = [7u8; 32];
        let bytes = record_bytes(3, 99, "spec", "{\"a\":1}", &prev);
        let (chain, leaf) = record_hashes(3, 99, "spec", "{\"a\":1}", &prev);
        assert_eq!(leaf, crate::merkle::leaf_hash(&bytes));
        assert_eq!(chain, <[u8; 32]>::from(Sha256::digest(&bytes)));
        assert_eq!(chain, record_hash(3, 99, "spec", "{\"a\":1}", &prev));
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        assert_ne!(
            record_hash(1, 0, "ab", "c", &GENESIS),
            record_hash(1, 0, "a", "bc", &GENESIS)
        );
    }
}
