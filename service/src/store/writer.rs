//! The write path every back end shares: group commit, the hash chain and
//! its Merkle tree, checkpoints, the signed tree head, and run checks under
//! the store's lock.
//!
//! A back end provides a [`WriteConn`]: a connection that can begin a
//! transaction (taking the chain's head: SQLite has one writer, PostgreSQL
//! locks the head row), open and close savepoints, apply one [`StateOp`],
//! read a run's row, insert a record and commit. Everything else (which
//! records a transaction appends, when a checkpoint is due, how a failing
//! transaction is rolled back alone, when callers are answered) is here,
//! once.

use super::{Committed, RunCheck, RunRead, StateOp, StoreError, Txn};
use crate::audit::{
    AuditRecord, ChainVerifier, CheckpointSigner, GENESIS, Hash, NewEvent, Problem, SignedHead,
    VerifyFailure, VerifyReport, next_record_and_leaf,
};
use transparency::Frontier;

/// The Merkle tree's complete subtrees of this height and above are stored
/// (`audit_tree`); lower ones are computed from at most `2^STORED_LEVEL`
/// records when a proof needs them. One row per eight records, about,
/// instead of one per record: the append stays cheap, and a proof still
/// reads O(log n) rows.
pub(crate) const STORED_LEVEL: u32 = 4;
use tokio::sync::{broadcast, oneshot};

/// The end of the chain: the last record's seq and hash, how many records
/// follow the last checkpoint, and the Merkle tree's right edge (which
/// covers every record, once a log from before the tree is caught up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chain {
    pub seq: u64,
    pub hash: Hash,
    pub since_checkpoint: u64,
    pub tree: Frontier,
}

impl Chain {
    pub fn genesis() -> Chain {
        Chain {
            seq: 0,
            hash: GENESIS,
            since_checkpoint: 0,
            tree: Frontier::new(),
        }
    }
}

/// Parses a stored tree frontier.
pub(crate) fn parse_frontier(bytes: &[u8]) -> Result<Frontier, StoreError> {
    Frontier::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Parses a stored record hash (hex).
pub(crate) fn parse_hash(s: &str) -> Result<Hash, StoreError> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("audit hash {s:?}")))
}

/// Parses a stored signed head.
pub(crate) fn parse_signed_head(text: &str) -> Result<SignedHead, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("the signed head: {e}")))
}

/// Refuses to write on top of a log whose tail does not match its signed
/// head: records were cut off (or added) behind the service's back, and
/// signing a new head over the shortened chain would hide it.
pub(crate) fn check_signed_head(
    signer: Option<&CheckpointSigner>,
    head: Option<&SignedHead>,
    chain: &Chain,
) -> Result<(), StoreError> {
    let Some(signer) = signer else {
        return Ok(());
    };
    let ok = match head {
        None => chain.seq == 0,
        Some(h) => {
            h.verifies_with(signer.trusted())
                && h.seq == chain.seq
                && parse_hash(&h.hash).ok() == Some(chain.hash)
                // A tree behind its log is caught up by the writer; a tree
                // at the head must have the head's root.
                && (h.root.is_none()
                    || chain.tree.size() < chain.seq
                    || h.tree_root() == Some(chain.tree.root()))
        }
    };
    if ok {
        return Ok(());
    }
    Err(StoreError::Corrupt(format!(
        "the audit log ends at record {} but its signed head {}; refusing to write on top of it \
         (run `warden audit verify` to see what is wrong)",
        chain.seq,
        match head {
            None => "is missing".to_string(),
            Some(h) => format!("names record {}", h.seq),
        }
    )))
}

/// Verifies a whole log, read page by page (records with seq above the
/// argument, in order; an empty page ends it), against its signed head,
/// both read in one snapshot by the caller.
pub(crate) fn verify_log(
    keys: impl Into<token::KeySet>,
    head: Result<Option<SignedHead>, StoreError>,
    mut page: impl FnMut(u64) -> Result<Vec<AuditRecord>, StoreError>,
) -> Result<Result<VerifyReport, VerifyFailure>, StoreError> {
    let mut v = ChainVerifier::new(keys);
    let mut after = 0;
    loop {
        let page = page(after)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            if let Err(e) = v.push(r) {
                return Ok(Err(e));
            }
        }
    }
    match head {
        Ok(h) => Ok(v.finish_with_head(h.as_ref())),
        Err(StoreError::Corrupt(_)) => Ok(Err(VerifyFailure {
            seq: after.max(1),
            problem: Problem::BadHead,
        })),
        Err(e) => Err(e),
    }
}

/// A back end's write connection, driven by [`Writer`].
pub(crate) trait WriteConn: RunRead {
    /// Begins the group's transaction and returns the chain's head as of
    /// now (taking whatever lock serializes appends).
    fn begin(&mut self) -> Result<Chain, StoreError>;
    fn savepoint(&mut self) -> Result<(), StoreError>;
    fn release(&mut self) -> Result<(), StoreError>;
    fn rollback_to(&mut self) -> Result<(), StoreError>;
    fn apply(&mut self, op: &StateOp) -> Result<(), StoreError>;
    /// The stored state of a run, read under the run's lock until commit.
    fn run_state_for_update(
        &mut self,
        token_id: &str,
        expires_s: i64,
    ) -> Result<Option<String>, StoreError>;
    fn insert(&mut self, r: &AuditRecord) -> Result<(), StoreError>;
    /// Stores a complete subtree's hash (levels from [`STORED_LEVEL`] up).
    fn insert_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), StoreError>;
    /// Records with seq above `after`, in order, at most `limit`, inside
    /// the transaction (to build the tree of a log from before it).
    fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
    /// Writes the new head (the chain's end, its tree frontier, and the
    /// signed tree head, if any) and commits.
    fn commit(&mut self, chain: &Chain, signed: Option<&SignedHead>) -> Result<(), StoreError>;
    /// Rolls the transaction back (after a failure anywhere in the group).
    fn rollback(&mut self);
}

/// What the writer is asked to do.
pub(crate) enum Job {
    Commit(Txn, oneshot::Sender<Result<Committed, StoreError>>),
    Checkpoint(oneshot::Sender<Result<Committed, StoreError>>),
    /// Read a run's state under its lock, let the check decide, commit
    /// what it returns.
    Run {
        token_id: String,
        expires_s: i64,
        check: RunCheck,
        reply: oneshot::Sender<Result<Committed, StoreError>>,
    },
}

impl Job {
    pub fn fail(self, e: StoreError) {
        let (Job::Commit(_, tx) | Job::Checkpoint(tx) | Job::Run { reply: tx, .. }) = self;
        let _ = tx.send(Err(e));
    }
}

/// Group commit over a [`WriteConn`].
pub(crate) struct Writer<C: WriteConn> {
    pub conn: C,
    pub signer: Option<CheckpointSigner>,
    /// Sign a checkpoint after this many records (0: only on request).
    pub checkpoint_every: u64,
    pub max_group: usize,
    /// Where committed records go live (`None`: the back end broadcasts
    /// them itself).
    pub events: Option<broadcast::Sender<AuditRecord>>,
}

impl<C: WriteConn> Writer<C> {
    /// Builds the tree of a log from before it, then commits jobs in
    /// groups until the queue closes, then signs what no checkpoint covers
    /// yet.
    pub fn run(
        &mut self,
        rx: std::sync::mpsc::Receiver<Job>,
        ready: std::sync::mpsc::SyncSender<Result<(), StoreError>>,
    ) {
        let (tx, mut first_rx) = oneshot::channel();
        self.commit_group(vec![Job::Commit(Txn::default(), tx)]);
        let first = first_rx
            .try_recv()
            .unwrap_or(Err(StoreError::WriterGone))
            .map(|_| ());
        let failed = first.is_err();
        let _ = ready.send(first);
        if failed {
            return;
        }
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            while group.len() < self.max_group {
                match rx.try_recv() {
                    Ok(j) => group.push(j),
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
        if self.signer.is_some() {
            let (tx, _rx) = oneshot::channel();
            self.commit_group(vec![Job::Checkpoint(tx)]);
        }
    }

    fn append(
        &mut self,
        chain: &mut Chain,
        ev: &NewEvent,
        time_ms: i64,
    ) -> Result<AuditRecord, StoreError> {
        let (r, leaf) = next_record_and_leaf(chain.seq, &chain.hash, time_ms, ev);
        self.conn.insert(&r)?;
        self.grow_tree(chain, leaf)?;
        chain.seq = r.seq;
        chain.hash = parse_hash(&r.hash)?;
        chain.since_checkpoint += 1;
        Ok(r)
    }

    /// Appends a leaf to the tree, storing the subtrees it completes.
    fn grow_tree(&mut self, chain: &mut Chain, leaf: Hash) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        chain.tree.push(leaf, |level, index, h| {
            if level >= STORED_LEVEL {
                conn.insert_node(level, index, h)
            } else {
                Ok(())
            }
        })
    }

    /// Builds the tree over records it does not cover yet: a log written
    /// before the tree (the migration, on start), or records a replica of an
    /// older version appended. Each record's hash and link are checked on
    /// the way: a tree is never built over a broken chain. Returns whether
    /// it added anything.
    fn catch_up(&mut self, chain: &mut Chain) -> Result<bool, StoreError> {
        let start = chain.tree.size();
        if start == chain.seq {
            return Ok(false);
        }
        if start > chain.seq {
            return Err(StoreError::Corrupt(format!(
                "the audit tree covers {start} records but the log has {}",
                chain.seq
            )));
        }
        let mut prev: Option<Hash> = None;
        let mut after = start;
        while after < chain.seq {
            let page = self.conn.records_after(after, 4096)?;
            if page.is_empty() {
                break;
            }
            for r in page {
                let bad = |what: &str| {
                    StoreError::Corrupt(format!(
                        "audit record {} {what}; the Merkle tree is not built over a broken log \
                         (run `warden audit verify`)",
                        r.seq
                    ))
                };
                if r.seq != after + 1 {
                    return Err(bad("is out of sequence"));
                }
                let stored = parse_hash(&r.hash)?;
                if prev.is_some_and(|p| parse_hash(&r.prev_hash).ok() != Some(p))
                    || r.computed_hash() != Some(stored)
                {
                    return Err(bad("does not match its hash or its predecessor's"));
                }
                let leaf = r.leaf_hash().ok_or_else(|| bad("has a malformed hash"))?;
                self.grow_tree(chain, leaf)?;
                prev = Some(stored);
                after = r.seq;
            }
        }
        if chain.tree.size() != chain.seq || prev != Some(chain.hash) {
            return Err(StoreError::Corrupt(format!(
                "the audit log's records end before its head (record {})",
                chain.seq
            )));
        }
        tracing::info!(
            "built the audit log's Merkle tree over records {} to {}",
            start + 1,
            chain.seq
        );
        Ok(true)
    }

    /// Appends a checkpoint inside a savepoint: on error nothing of it
    /// stays, in the transaction or in `chain`.
    fn append_checkpoint(
        &mut self,
        chain: &mut Chain,
        time_ms: i64,
    ) -> Result<Option<AuditRecord>, StoreError> {
        if self.signer.is_none() || chain.since_checkpoint == 0 {
            return Ok(None);
        }
        let before = chain.clone();
        self.conn.savepoint()?;
        match self.append_checkpoint_record(chain, time_ms) {
            Ok(r) => {
                self.conn.release()?;
                Ok(r)
            }
            Err(e) => {
                self.conn.rollback_to()?;
                *chain = before;
                Err(e)
            }
        }
    }

    fn append_checkpoint_record(
        &mut self,
        chain: &mut Chain,
        time_ms: i64,
    ) -> Result<Option<AuditRecord>, StoreError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let ev = signer.checkpoint(chain.seq, &chain.hash);
        let r = self.append(chain, &ev, time_ms)?;
        chain.since_checkpoint = 0;
        Ok(Some(r))
    }

    /// Applies one transaction inside a savepoint; on error the savepoint
    /// is rolled back and the chain restored, the rest of the group intact.
    fn apply_job(
        &mut self,
        chain: &mut Chain,
        job: JobBody,
        time_ms: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let before = chain.clone();
        self.conn.savepoint()?;
        let res = (|| {
            let txn = match job {
                JobBody::Txn(t) => t,
                JobBody::Run {
                    token_id,
                    expires_s,
                    check,
                } => {
                    let state = self.conn.run_state_for_update(&token_id, expires_s)?;
                    check(state, &mut self.conn)
                }
            };
            for op in &txn.ops {
                self.conn.apply(op)?;
            }
            let mut recs = Vec::with_capacity(txn.events.len());
            for ev in &txn.events {
                recs.push(self.append(chain, ev, time_ms)?);
            }
            Ok(recs)
        })();
        match res {
            Ok(recs) => {
                self.conn.release()?;
                Ok(recs)
            }
            Err(e) => {
                self.conn.rollback_to()?;
                *chain = before;
                Err(e)
            }
        }
    }

    fn commit_group(&mut self, group: Vec<Job>) {
        let time_ms = super::now_ms();
        let mut chain = match self.conn.begin() {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                self.conn.rollback();
                for job in group {
                    job.fail(StoreError::Unavailable(format!("cannot begin: {msg}")));
                }
                return;
            }
        };
        let caught_up = match self.catch_up(&mut chain) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot build the audit log's Merkle tree: {e}");
                let msg = e.to_string();
                self.conn.rollback();
                for job in group {
                    job.fail(StoreError::Corrupt(msg.clone()));
                }
                return;
            }
        };
        let mut results: Vec<(oneshot::Sender<_>, Result<Committed, StoreError>)> =
            Vec::with_capacity(group.len());
        let mut written: Vec<AuditRecord> = Vec::new();
        for job in group {
            let (body, tx) = match job {
                Job::Commit(txn, tx) => (JobBody::Txn(txn), tx),
                Job::Run {
                    token_id,
                    expires_s,
                    check,
                    reply,
                } => (
                    JobBody::Run {
                        token_id,
                        expires_s,
                        check,
                    },
                    reply,
                ),
                Job::Checkpoint(tx) => {
                    let r = self.append_checkpoint(&mut chain, time_ms);
                    if let Ok(Some(rec)) = &r {
                        written.push(rec.clone());
                    }
                    let r = r.map(|rec| Committed {
                        records: rec.into_iter().collect(),
                    });
                    results.push((tx, r));
                    continue;
                }
            };
            let r = self.apply_job(&mut chain, body, time_ms);
            if let Ok(recs) = &r {
                written.extend(recs.iter().cloned());
            }
            results.push((tx, r.map(|records| Committed { records })));
        }
        if self.checkpoint_every > 0 && chain.since_checkpoint >= self.checkpoint_every {
            match self.append_checkpoint(&mut chain, time_ms) {
                Ok(Some(rec)) => written.push(rec),
                Ok(None) => {}
                Err(e) => tracing::error!("cannot append a checkpoint: {e}"),
            }
        }
        let signed = match &self.signer {
            Some(s) if !written.is_empty() || caught_up => {
                Some(s.head(chain.seq, &chain.hash, &chain.tree.root()))
            }
            _ => None,
        };
        if let Err(e) = self.conn.commit(&chain, signed.as_ref()) {
            tracing::error!("cannot commit up to record {}: {e}", chain.seq);
            let msg = e.to_string();
            self.conn.rollback();
            for (tx, _) in results {
                let _ = tx.send(Err(StoreError::Unavailable(format!(
                    "commit failed: {msg}"
                ))));
            }
            return;
        }
        for (tx, r) in results {
            let _ = tx.send(r);
        }
        if let Some(events) = &self.events {
            for rec in written {
                let _ = events.send(rec);
            }
        }
    }
}

enum JobBody {
    Txn(Txn),
    Run {
        token_id: String,
        expires_s: i64,
        check: RunCheck,
    },
}

/// The queue to a [`Writer`] on its own thread, and the thread.
// `pub` in a private module: the `Store` trait's default methods reach it
// through the sealed `Backend` trait.
pub struct WriterHandle {
    jobs: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl WriterHandle {
    /// Starts `writer` on a thread named `name`, once its first transaction
    /// (which builds the Merkle tree of a log from before it) committed.
    pub(crate) fn spawn<C: WriteConn + Send + 'static>(
        name: &str,
        mut writer: Writer<C>,
    ) -> Result<WriterHandle, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || writer.run(rx, ready_tx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        let handle = WriterHandle {
            jobs: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(Some(thread)),
        };
        // The writer's first transaction builds the tree of a log from
        // before it: the store opens once it is committed, or not at all.
        match ready.recv() {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => {
                handle.close();
                Err(e)
            }
            Err(_) => {
                handle.close();
                Err(StoreError::WriterGone)
            }
        }
    }

    /// Queues a job; it fails with [`StoreError::WriterGone`] once closed.
    pub(crate) fn send(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<Committed, StoreError>>) -> Job,
    ) -> super::Pending {
        let (tx, rx) = oneshot::channel();
        let job = make(tx);
        let guard = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(jobs) => {
                if let Err(std::sync::mpsc::SendError(job)) = jobs.send(job) {
                    job.fail(StoreError::WriterGone);
                }
            }
            None => job.fail(StoreError::WriterGone),
        }
        super::Pending(rx)
    }

    /// Stops the writer after it has committed everything queued.
    pub(crate) fn close(&self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}
