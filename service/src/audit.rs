//! The tamper-evident audit log: a hash chain of records with signed
//! checkpoints.
//!
//! Each record carries its sequence number (1, 2, 3, ...), the time, a kind,
//! a JSON body, the hash of the previous record, and its own hash: SHA-256 over
//! a canonical, length-prefixed encoding of those fields (see
//! [`record_hash`]). Changing, deleting or reordering any record breaks the
//! chain at that record. Every so often the writer appends a `checkpoint`
//! record whose body is an Ed25519 signature over the previous record's hash:
//! whoever holds only the public key can then prove that the whole prefix was
//! written by the service, so an attacker with write access to the database
//! cannot simply recompute the chain.
//!
//! Every record is also a leaf of an RFC 6962 Merkle tree (the
//! `transparency` crate: the record encoding, the tree, the proofs), and the
//! signed head carries the tree's root: a signed tree head, from which a
//! record's inclusion and a later head's consistency are proven without the
//! rest of the log (`Store::prove_inclusion`, `Store::prove_consistency`).
//!
//! The tail: records appended after the last checkpoint and then cut off
//! would leave a shorter chain that still verifies. So with every commit the
//! writer also rewrites a [`SignedHead`] (the last record's seq and hash,
//! signed) in the same transaction as the records: a log whose last record
//! is not the one the head names was cut (or extended by someone without the
//! key). What remains undetectable from the file alone: replacing the whole
//! store with an older copy of itself (an earlier head and its records are
//! consistent). Compare the head `warden audit verify` prints with one kept
//! elsewhere (a previous run, the live event stream) to catch that.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use token::{KeySet, PublicKey, SigningKey};
use transparency::Frontier;
pub use transparency::record::{parse_hash, record_hash};
pub use transparency::{AuditRecord, GENESIS, Hash, SignedHead};

const CHECKPOINT_DOMAIN: &[u8] = b"warden.audit.checkpoint.v1\0";

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A plan was submitted (before it was checked).
    Submission,
    /// The verifier's verdict on a submission.
    Verdict,
    /// A capability token was issued.
    Token,
    /// A pending approval was created, approved or denied.
    Approval,
    /// A token was revoked.
    Revocation,
    /// An enforcement layer reported an event of a run.
    Enforcement,
    /// A spec was loaded, or failed to load and the previous version stayed.
    Spec,
    /// The service started or stopped.
    Service,
    /// A signed checkpoint over the chain so far.
    Checkpoint,
}

impl EventKind {
    /// Every kind, in the order of the enum.
    pub const ALL: [EventKind; 9] = [
        EventKind::Submission,
        EventKind::Verdict,
        EventKind::Token,
        EventKind::Approval,
        EventKind::Revocation,
        EventKind::Enforcement,
        EventKind::Spec,
        EventKind::Service,
        EventKind::Checkpoint,
    ];

    /// The kind's name as records store it (`kind`), in snake case:
    /// `submission`, `verdict`, ... `checkpoint`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Submission => "submission",
            EventKind::Verdict => "verdict",
            EventKind::Token => "token",
            EventKind::Approval => "approval",
            EventKind::Revocation => "revocation",
            EventKind::Enforcement => "enforcement",
            EventKind::Spec => "spec",
            EventKind::Service => "service",
            EventKind::Checkpoint => "checkpoint",
        }
    }

    /// The kind named `s` ([`EventKind::as_str`]'s spelling), or `None`.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record to append: the writer assigns seq, time and hashes.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// What the record is about.
    pub kind: EventKind,
    /// The record's body; stored as its compact JSON text, which is what
    /// the record's hash covers.
    pub body: serde_json::Value,
}

impl NewEvent {
    /// A record of `kind` with `body`.
    pub fn new(kind: EventKind, body: serde_json::Value) -> Self {
        NewEvent { kind, body }
    }
}

/// The record that follows `(prev_seq, prev_hash)` with this event.
pub fn next_record(prev_seq: u64, prev_hash: &Hash, time_ms: i64, event: &NewEvent) -> AuditRecord {
    next_record_and_leaf(prev_seq, prev_hash, time_ms, event).0
}

/// [`next_record`], and the record's leaf hash in the Merkle tree.
pub fn next_record_and_leaf(
    prev_seq: u64,
    prev_hash: &Hash,
    time_ms: i64,
    event: &NewEvent,
) -> (AuditRecord, Hash) {
    // serde_json's Value keeps object keys sorted, so this text is canonical
    // at creation time; verification hashes the stored text, never a re-encoding.
    AuditRecord::next(
        prev_seq,
        prev_hash,
        time_ms,
        event.kind.as_str(),
        event.body.to_string(),
    )
}

fn signed_message(domain: &[u8], seq: u64, hash: &Hash) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain.len() + 8 + 32);
    m.extend_from_slice(domain);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

fn checkpoint_message(covers_seq: u64, covers_hash: &Hash) -> Vec<u8> {
    signed_message(CHECKPOINT_DOMAIN, covers_seq, covers_hash)
}

/// The body of a `checkpoint` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBody {
    /// The record the signature covers (the one just before the checkpoint).
    pub covers_seq: u64,
    /// That record's hash, hex.
    pub covers_hash: String,
    /// The signer's public key, hex (informational: verification uses the
    /// keys the verifier trusts, never this one).
    pub public_key: String,
    /// Ed25519 signature over the domain tag, `covers_seq` and `covers_hash`.
    pub signature: String,
    /// The signing key's id (PASERK `k4.pid`), which picks the trusted key
    /// that verifies it; checkpoints written before key rotation have none
    /// and are checked against every trusted key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// Signs checkpoints with the service's Ed25519 key (the one that signs
/// tokens).
#[derive(Clone)]
pub struct CheckpointSigner {
    secret: Arc<SigningKey>,
    /// The keys whose signed heads the store accepts when it opens a log
    /// (the signer's own, and those it rotated from).
    trusted: KeySet,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field(
                "public_key",
                &hex::encode(self.secret.public_key().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A signer with `secret`, trusting only its own public key.
    pub fn new(secret: SigningKey) -> Self {
        let trusted = KeySet::from(secret.public_key());
        CheckpointSigner {
            secret: Arc::new(secret),
            trusted,
        }
    }

    /// Also trusts the history signed by `keys` (key rotation: the head of
    /// a log written under the previous key verifies with it).
    pub fn trusting(mut self, keys: &KeySet) -> Self {
        for (k, s) in keys.iter() {
            self.trusted.insert(k.clone(), s);
        }
        self
    }

    /// The keys whose history this signer continues.
    pub fn trusted(&self) -> &KeySet {
        &self.trusted
    }

    /// The public half of the signing key.
    pub fn public_key(&self) -> PublicKey {
        self.secret.public_key().clone()
    }

    /// The checkpoint event that signs the chain up to `(seq, hash)`.
    pub fn checkpoint(&self, covers_seq: u64, covers_hash: &Hash) -> NewEvent {
        let sig = self
            .secret
            .sign(&checkpoint_message(covers_seq, covers_hash));
        let body = CheckpointBody {
            covers_seq,
            covers_hash: hex::encode(covers_hash),
            public_key: hex::encode(self.secret.public_key().as_bytes()),
            signature: hex::encode(sig),
            kid: Some(self.secret.public_key().key_id().to_string()),
        };
        NewEvent::new(
            EventKind::Checkpoint,
            serde_json::to_value(body).unwrap_or(serde_json::Value::Null),
        )
    }
}

impl CheckpointSigner {
    /// The signed tree head naming the record `(seq, hash)` as the last
    /// one and `root` as the Merkle tree's root over records 1..=seq.
    pub fn head(&self, seq: u64, hash: &Hash, root: &Hash) -> SignedHead {
        let message = transparency::head::head_message(seq, hash, Some(root));
        SignedHead {
            seq,
            hash: hex::encode(hash),
            root: Some(hex::encode(root)),
            signature: hex::encode(self.secret.sign(&message)),
            kid: Some(self.secret.public_key().key_id().to_string()),
        }
    }
}

/// Why a record breaks the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A sequence number is skipped: a record was deleted (or the records
    /// are out of order).
    #[error("record {expected} is missing (the next stored record is {found})")]
    Missing {
        /// The seq that should come next.
        expected: u64,
        /// The seq of the record found in its place.
        found: u64,
    },
    /// The record's `prev_hash` is not the previous record's hash: the
    /// record before it was changed and rehashed, or records were
    /// reordered.
    #[error("its prev_hash does not match the hash of the record before it")]
    BrokenLink,
    /// The record's stored hash is not the hash of its fields: the record
    /// itself was changed.
    #[error("its hash does not match its contents (stored {stored}, computed {computed})")]
    HashMismatch {
        /// The hash the record carries, hex.
        stored: String,
        /// The hash of its fields, hex.
        computed: String,
    },
    /// `hash` or `prev_hash` is not 64 hex digits.
    #[error("a hash field is not 64 hex digits")]
    MalformedHash,
    /// A `checkpoint` record whose body is not a [`CheckpointBody`] (or
    /// whose signature is not 64 bytes of hex).
    #[error("checkpoint body is malformed: {0}")]
    MalformedCheckpoint(String),
    /// A checkpoint that names another record than the one just before it
    /// (another seq, or another hash: the chain before it was rewritten).
    #[error("checkpoint covers record {covers} but follows record {previous}")]
    CheckpointMisplaced {
        /// The seq the checkpoint says it signs.
        covers: u64,
        /// The seq of the record before the checkpoint.
        previous: u64,
    },
    /// A checkpoint's signature verifies with none of the trusted keys.
    #[error("checkpoint signature does not verify with any trusted public key")]
    BadSignature,
    /// The signed head names a record after the last one: the tail was
    /// cut off.
    #[error(
        "the log ends at record {last} but its signed head names record {head}: records were cut off the tail"
    )]
    TailCut {
        /// The seq of the log's last record (0: no records).
        last: u64,
        /// The seq the signed head names.
        head: u64,
    },
    /// Records follow the one the signed head names: appended by someone
    /// without the key.
    #[error(
        "the signed head names record {head}, but the log goes on after it: records were added without the service key"
    )]
    UnsignedTail {
        /// The seq the signed head names.
        head: u64,
    },
    /// The signed head names the last record's seq with another hash: the
    /// tail was replaced.
    #[error("the signed head names record {seq} with another hash: the tail was replaced")]
    HeadMismatch {
        /// The seq of the last record, which the head names.
        seq: u64,
    },
    /// The signed head's Merkle root is not the root of the records.
    #[error(
        "the signed head's Merkle root is not the root of the log's records: the tree or the records were rewritten"
    )]
    RootMismatch,
    /// A log with records has no signed head.
    #[error("the log has no signed head (it was removed, or the store was written without a key)")]
    NoHead,
    /// The signed head is malformed, or no trusted key verifies its
    /// signature.
    #[error(
        "the signed head is malformed or its signature does not verify with the trusted public key"
    )]
    BadHead,
}

/// The first bad record of a log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq} is bad: {problem}")]
pub struct VerifyFailure {
    /// The seq of the first bad record (for a missing record, the seq that
    /// is missing; for a cut tail, the first seq cut off).
    pub seq: u64,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What a successful verification proved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of records checked.
    pub records: u64,
    /// Number of checkpoints whose signature verified.
    pub checkpoints: u64,
    /// Sequence number of the last record signed by a checkpoint (0: none).
    pub last_checkpoint: u64,
    /// Records after the last checkpoint (chained, not yet signed).
    pub uncovered: u64,
    /// The hash of the last record (hex), or empty for an empty log.
    pub head: String,
    /// The Merkle tree's root over every record (hex; RFC 6962).
    pub root: String,
    /// Whether a signed head names the last record (so no record after the
    /// last checkpoint was cut off).
    pub head_signed: bool,
}

/// Checks records one by one, in seq order.
#[derive(Debug)]
pub struct ChainVerifier {
    keys: KeySet,
    prev_seq: u64,
    prev_hash: Hash,
    tree: Frontier,
    report: VerifyReport,
}

impl ChainVerifier {
    /// A verifier that trusts checkpoint signatures made by `keys` (one
    /// [`PublicKey`] or a [`KeySet`], whose retired keys still verify the
    /// history they signed).
    pub fn new(keys: impl Into<KeySet>) -> Self {
        ChainVerifier {
            keys: keys.into(),
            prev_seq: 0,
            prev_hash: GENESIS,
            tree: Frontier::new(),
            report: VerifyReport::default(),
        }
    }

    /// Checks the next record.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), VerifyFailure> {
        let expected = self.prev_seq + 1;
        let fail = |seq, problem| VerifyFailure { seq, problem };
        if r.seq != expected {
            return Err(fail(
                expected,
                Problem::Missing {
                    expected,
                    found: r.seq,
                },
            ));
        }
        let (Some(prev), Some(stored)) = (parse_hash(&r.prev_hash), parse_hash(&r.hash)) else {
            return Err(fail(r.seq, Problem::MalformedHash));
        };
        if prev != self.prev_hash {
            return Err(fail(r.seq, Problem::BrokenLink));
        }
        let (computed, leaf) =
            transparency::record::record_hashes(r.seq, r.time_ms, &r.kind, &r.body, &prev);
        if computed != stored {
            return Err(fail(
                r.seq,
                Problem::HashMismatch {
                    stored: r.hash.clone(),
                    computed: hex::encode(computed),
                },
            ));
        }
        if r.kind == EventKind::Checkpoint.as_str() {
            let body: CheckpointBody = serde_json::from_str(&r.body)
                .map_err(|e| fail(r.seq, Problem::MalformedCheckpoint(e.to_string())))?;
            if body.covers_seq != self.prev_seq
                || parse_hash(&body.covers_hash) != Some(self.prev_hash)
            {
                return Err(fail(
                    r.seq,
                    Problem::CheckpointMisplaced {
                        covers: body.covers_seq,
                        previous: self.prev_seq,
                    },
                ));
            }
            let sig = hex::decode(&body.signature)
                .ok()
                .filter(|b| b.len() == token::keys::SIGNATURE_LEN)
                .ok_or_else(|| {
                    fail(
                        r.seq,
                        Problem::MalformedCheckpoint("signature is not 64 bytes of hex".into()),
                    )
                })?;
            let message = checkpoint_message(body.covers_seq, &self.prev_hash);
            if !self
                .keys
                .verifies_history(body.kid.as_deref(), &message, &sig)
            {
                return Err(fail(r.seq, Problem::BadSignature));
            }
            self.report.checkpoints += 1;
            self.report.last_checkpoint = r.seq;
        }
        self.prev_seq = r.seq;
        self.prev_hash = stored;
        let _ = self.tree.push(leaf, |_, _, _| Ok::<_, ()>(()));
        self.report.records += 1;
        Ok(())
    }

    /// The report once every record was pushed.
    pub fn finish(mut self) -> VerifyReport {
        self.report.uncovered = self.prev_seq - self.report.last_checkpoint;
        self.report.head = if self.prev_seq == 0 {
            String::new()
        } else {
            hex::encode(self.prev_hash)
        };
        self.report.root = hex::encode(self.tree.root());
        self.report
    }
}

impl ChainVerifier {
    /// [`ChainVerifier::finish`], also checking the log's signed head:
    /// signed by the trusted key and naming the last record. `head` must be
    /// read in the same snapshot as the records. An empty log needs no head.
    pub fn finish_with_head(
        self,
        head: Option<&SignedHead>,
    ) -> Result<VerifyReport, VerifyFailure> {
        let keys = self.keys.clone();
        let last = self.prev_seq;
        let last_hash = self.prev_hash;
        let root = self.tree.root();
        let mut report = self.finish();
        let fail = |seq, problem| Err(VerifyFailure { seq, problem });
        let Some(h) = head else {
            return if last == 0 {
                Ok(report)
            } else {
                fail(last, Problem::NoHead)
            };
        };
        if !h.verifies_with(&keys) {
            return fail(last.max(1), Problem::BadHead);
        }
        if h.seq > last {
            return fail(last + 1, Problem::TailCut { last, head: h.seq });
        }
        if h.seq < last {
            return fail(h.seq + 1, Problem::UnsignedTail { head: h.seq });
        }
        if parse_hash(&h.hash) != Some(last_hash) {
            return fail(last, Problem::HeadMismatch { seq: last });
        }
        // A head written before the log was a tree has no root.
        if h.root.is_some() && h.tree_root() != Some(root) {
            return fail(last, Problem::RootMismatch);
        }
        report.head_signed = true;
        Ok(report)
    }
}

/// Verifies a whole log given in seq order.
pub fn verify<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    keys: impl Into<KeySet>,
) -> Result<VerifyReport, VerifyFailure> {
    let mut v = ChainVerifier::new(keys);
    for r in records {
        v.push(r)?;
    }
    Ok(v.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32]).unwrap()
    }

    fn chain(n: u64, signer: &CheckpointSigner, every: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        let (mut seq, mut hash) = (0, GENESIS);
        let mut since = 0;
        for i in 0..n {
            let ev = NewEvent::new(EventKind::Submission, json!({"i": i, "agent": "a"}));
            let r = next_record(seq, &hash, 1_000 + i as i64, &ev);
            seq = r.seq;
            hash = parse_hash(&r.hash).unwrap();
            out.push(r);
            since += 1;
            if since == every {
                let r = next_record(seq, &hash, 2_000, &signer.checkpoint(seq, &hash));
                seq = r.seq;
                hash = parse_hash(&r.hash).unwrap();
                out.push(r);
                since = 0;
            }
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        let s = CheckpointSigner::new(key(1));
        let log = chain(10, &s, 4);
        let rep = verify(&log, s.public_key()).unwrap();
        assert_eq!(rep.records, 12);
        assert_eq!(rep.checkpoints, 2);
        assert_eq!(rep.last_checkpoint, 10);
        assert_eq!(rep.uncovered, 2);
        assert_eq!(rep.head, log.last().unwrap().hash);
    }

    #[test]
    fn empty_log_verifies() {
        let s = CheckpointSigner::new(key(1));
        let rep = verify(&[], s.public_key()).unwrap();
        assert_eq!(
            rep,
            VerifyReport {
                root: hex::encode(transparency::EMPTY_ROOT),
                ..VerifyReport::default()
            }
        );
    }

    #[test]
    fn changed_body_names_that_record() {
        let s = CheckpointSigner::new(key(1));
        let mut log = chain(10, &s, 4);
        log[6].body = log[6].body.replace("\"a\"", "\"b\"");
        let err = verify(&log, s.public_key()).unwrap_err();
        assert_eq!(err.seq, 7);
        assert!(matches!(err.problem, Problem::HashMismatch { .. }));
    }

    #[test]
    fn recomputed_hash_breaks_next_link() {
        let s = CheckpointSigner::new(key(1));
        let mut log = chain(10, &s, 100);
        let r = &mut log[3];
        r.body = "{}".into();
        let prev = parse_hash(&r.prev_hash).unwrap();
        r.hash = hex::encode(record_hash(r.seq, r.time_ms, &r.kind, &r.body, &prev));
        let err = verify(&log, s.public_key()).unwrap_err();
        assert_eq!(err.seq, 5);
        assert_eq!(err.problem, Problem::BrokenLink);
    }

    #[test]
    fn deleted_record_is_named_missing() {
        let s = CheckpointSigner::new(key(1));
        let mut log = chain(10, &s, 100);
        log.remove(4);
        let err = verify(&log, s.public_key()).unwrap_err();
        assert_eq!(err.seq, 5);
        assert_eq!(
            err.problem,
            Problem::Missing {
                expected: 5,
                found: 6
            }
        );
    }

    #[test]
    fn swapped_records_are_caught_at_the_first() {
        let s = CheckpointSigner::new(key(1));
        let mut log = chain(10, &s, 100);
        // Swap contents but keep the seq column in order, as a reordering
        // attacker with SQL access would.
        let (a, b) = (log[2].clone(), log[3].clone());
        log[2] = AuditRecord { seq: 3, ..b };
        log[3] = AuditRecord { seq: 4, ..a };
        let err = verify(&log, s.public_key()).unwrap_err();
        assert_eq!(err.seq, 3);
    }

    #[test]
    fn checkpoint_by_another_key_is_refused() {
        let s = CheckpointSigner::new(key(1));
        let other = CheckpointSigner::new(key(2));
        let log = chain(8, &other, 4);
        let err = verify(&log, s.public_key()).unwrap_err();
        assert_eq!(err.seq, 5);
        assert_eq!(err.problem, Problem::BadSignature);
    }

    #[test]
    fn recomputed_chain_without_key_fails_at_checkpoint() {
        // An attacker rewrites record 2 and recomputes every later hash, but
        // cannot re-sign the checkpoint.
        let s = CheckpointSigner::new(key(1));
        let log = chain(6, &s, 3);
        let mut forged = Vec::new();
        let (mut seq, mut hash) = (0, GENESIS);
        for (i, r) in log.iter().enumerate() {
            let body = if i == 1 {
                "{\"forged\":true}".to_string()
            } else {
                r.body.clone()
            };
            let h = record_hash(r.seq, r.time_ms, &r.kind, &body, &hash);
            forged.push(AuditRecord {
                seq: r.seq,
                time_ms: r.time_ms,
                kind: r.kind.clone(),
                body,
                prev_hash: hex::encode(hash),
                hash: hex::encode(h),
            });
            seq = r.seq;
            hash = h;
        }
        let _ = seq;
        let err = verify(&forged, s.public_key()).unwrap_err();
        assert_eq!(err.seq, 4);
        assert!(matches!(err.problem, Problem::CheckpointMisplaced { .. }));
    }

    fn head_of(log: &[AuditRecord], s: &CheckpointSigner) -> SignedHead {
        let last = log.last().unwrap();
        let leaves: Vec<Hash> = log.iter().map(|r| r.leaf_hash().unwrap()).collect();
        s.head(
            last.seq,
            &parse_hash(&last.hash).unwrap(),
            &transparency::merkle::root_of(&leaves),
        )
    }

    fn verify_with_head(
        log: &[AuditRecord],
        head: Option<&SignedHead>,
        key: &PublicKey,
    ) -> Result<VerifyReport, VerifyFailure> {
        let mut v = ChainVerifier::new(key);
        for r in log {
            v.push(r)?;
        }
        v.finish_with_head(head)
    }

    #[test]
    fn the_signed_head_catches_a_cut_tail() {
        let s = CheckpointSigner::new(key(1));
        let log = chain(10, &s, 4);
        let head = head_of(&log, &s);
        let rep = verify_with_head(&log, Some(&head), &s.public_key()).unwrap();
        assert!(rep.head_signed);
        assert_eq!(rep.uncovered, 2);
        // Without the head the cut log would verify; with it, it does not.
        let cut = &log[..log.len() - 2];
        assert!(verify(cut, s.public_key()).is_ok());
        let err = verify_with_head(cut, Some(&head), &s.public_key()).unwrap_err();
        assert_eq!(err.seq, 11);
        assert_eq!(err.problem, Problem::TailCut { last: 10, head: 12 });
        // Every record cut, head kept.
        let err = verify_with_head(&[], Some(&head), &s.public_key()).unwrap_err();
        assert_eq!(err.problem, Problem::TailCut { last: 0, head: 12 });
        // The head deleted too.
        let err = verify_with_head(cut, None, &s.public_key()).unwrap_err();
        assert_eq!(err.problem, Problem::NoHead);
        // An empty log needs no head.
        assert!(verify_with_head(&[], None, &s.public_key()).is_ok());
    }

    #[test]
    fn the_signed_head_catches_an_added_or_replaced_tail_and_a_forged_head() {
        let s = CheckpointSigner::new(key(1));
        let log = chain(10, &s, 4);
        let head = head_of(&log, &s);
        // A record appended by someone without the key.
        let mut longer = log.clone();
        let last = longer.last().unwrap().clone();
        longer.push(next_record(
            last.seq,
            &parse_hash(&last.hash).unwrap(),
            9_999,
            &NewEvent::new(EventKind::Service, json!({"event": "forged"})),
        ));
        let err = verify_with_head(&longer, Some(&head), &s.public_key()).unwrap_err();
        assert_eq!(err.seq, 13);
        assert_eq!(err.problem, Problem::UnsignedTail { head: 12 });
        // The last two records replaced by others (rehashed): same length.
        let mut replaced = log[..log.len() - 2].to_vec();
        for i in 0..2 {
            let last = replaced.last().unwrap().clone();
            replaced.push(next_record(
                last.seq,
                &parse_hash(&last.hash).unwrap(),
                1,
                &NewEvent::new(EventKind::Service, json!({"i": i})),
            ));
        }
        let err = verify_with_head(&replaced, Some(&head), &s.public_key()).unwrap_err();
        assert_eq!(err.problem, Problem::HeadMismatch { seq: 12 });
        // A head signed by another key, or with a changed seq.
        let other = head_of(&log[..log.len() - 2], &CheckpointSigner::new(key(2)));
        let err =
            verify_with_head(&log[..log.len() - 2], Some(&other), &s.public_key()).unwrap_err();
        assert_eq!(err.problem, Problem::BadHead);
        let moved = SignedHead {
            seq: 10,
            ..head.clone()
        };
        let err = verify_with_head(&log[..10], Some(&moved), &s.public_key()).unwrap_err();
        assert_eq!(err.problem, Problem::BadHead);
        // A head is not a checkpoint: its signature does not verify as one.
        let last = log.last().unwrap();
        let sig = hex::decode(&head.signature).unwrap();
        assert!(!s.public_key().verifies(
            &checkpoint_message(last.seq, &parse_hash(&last.hash).unwrap()),
            &sig
        ));
    }

    #[test]
    fn hash_encoding_is_unambiguous() {
        // Moving bytes between kind and body changes the hash.
        let a = record_hash(1, 0, "ab", "c", &GENESIS);
        let b = record_hash(1, 0, "a", "bc", &GENESIS);
        assert_ne!(a, b);
    }

    proptest::proptest! {
        #[test]
        fn any_single_byte_change_is_detected(idx in 0usize..8, pos in 0usize..64, byte in 0u8..=255) {
            let s = CheckpointSigner::new(key(1));
            let mut log = chain(8, &s, 3);
            let i = idx % log.len();
            let mut body = log[i].body.clone().into_bytes();
            let p = pos % body.len();
            proptest::prop_assume!(body[p] != byte);
            body[p] = byte;
            log[i].body = String::from_utf8_lossy(&body).into_owned();
            proptest::prop_assume!(log[i].body.as_bytes() != chain(8, &s, 3)[i].body.as_bytes());
            let err = verify(&log, s.public_key()).unwrap_err();
            proptest::prop_assert_eq!(err.seq, log[i].seq);
        }
    }
}
