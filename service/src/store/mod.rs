//! Where the service keeps state: approvals, revocations and the audit log.
//!
//! [`Store`] is the seam for other back ends (PostgreSQL for fleets); the
//! default is [`sqlite::SqliteStore`]. Every change of state travels in a
//! [`Txn`] together with the audit records that describe it, and the store
//! commits both atomically: a state change without its record, or a record
//! without its change, cannot happen. A [`Pending`] resolves only after the
//! transaction is durable, so a response that depends on it is sent after.

pub mod postgres;
pub mod sqlite;
mod tree;
mod writer;

/// What every back end gives the [`Store`] trait's shared methods: the
/// queue to its writer (sealed: back ends live in this crate).
mod sealed {
    pub trait Backend {
        fn writer(&self) -> &super::writer::WriterHandle;
    }
}

use crate::audit::{
    AuditRecord, CheckpointSigner, EventKind, NewEvent, VerifyFailure, VerifyReport,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, oneshot};
pub use transparency::{ConsistencyProof, InclusionProof};

/// The state of an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for a human.
    Pending,
    /// Approved (for a plan, its token is issued).
    Approved,
    /// Denied.
    Denied,
}

impl ApprovalState {
    /// The state as stored and shown: `pending`, `approved`, `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
        }
    }

    /// The state [`ApprovalState::as_str`] spells `s`, or `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ApprovalState::Pending),
            "approved" => Some(ApprovalState::Approved),
            "denied" => Some(ApprovalState::Denied),
            _ => None,
        }
    }
}

/// One step of a plan that needs a human, and the spec rule that said so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalMark {
    /// The concrete action the step performs.
    pub action: String,
    /// The rule's text, if the verifier kept it.
    #[serde(default)]
    pub rule: String,
    /// Where the rule is: `file:line:column` of the spec.
    #[serde(default)]
    pub rule_at: Option<String>,
    /// Where the step is in the plan: `line:column`.
    #[serde(default)]
    pub step_line: Option<u32>,
}

/// A plan waiting for (or decided by) a human.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The approval's id (`apr_` and 32 hex digits).
    pub id: String,
    /// The submission it came from (`sub_...`; empty for a tool call's).
    pub submission_id: String,
    /// The agent the plan is for (for a tool call's approval, the
    /// credential name that asked for it).
    pub agent: String,
    /// The spec the plan was checked against (empty for a tool call's).
    pub spec: String,
    /// The plan's text (for a tool call's approval, the call's).
    pub plan: String,
    /// Why a human must look: the approve rules that matched.
    pub reasons: Vec<String>,
    /// The envelope the token would grant, JSON (empty for a tool call's).
    pub envelope_json: String,
    /// Pending, approved or denied.
    pub state: ApprovalState,
    /// When it was created, in Unix milliseconds.
    pub created_ms: i64,
    /// The credential name of whoever decided it.
    pub decided_by: Option<String>,
    /// The reason the decider gave.
    pub decision_reason: Option<String>,
    /// When it was decided, in Unix milliseconds.
    pub decided_ms: Option<i64>,
    /// The id of the token issued on approval.
    pub token_id: Option<String>,
    /// The token issued on approval.
    pub token: Option<String>,
    /// The principal (credential name) that submitted the plan; `None` for
    /// an approval recorded before submitters were, whose submission record
    /// does not name one either. Nobody may approve their own submission.
    #[serde(default)]
    pub submitted_by: Option<String>,
    /// The steps that need approval, each with its rule.
    #[serde(default)]
    pub marks: Vec<ApprovalMark>,
    /// Set for the approval of one tool call (an `approve each` rule at
    /// run time) rather than of a plan: approving it issues no token.
    #[serde(default)]
    pub call: Option<CallApproval>,
}

/// The one tool call an approval is of: `plan` holds its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallApproval {
    /// The id of the token the call runs under.
    pub token_id: String,
    /// SHA-256 (hex) of the exact call: tool name and canonical arguments.
    pub call_digest: String,
}

/// A token issued on approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's id.
    pub token_id: String,
    /// The token.
    pub token: String,
}

/// One change of state.
// A transaction holds one or two ops and lives until it is committed:
// boxing the approval would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum StateOp {
    /// A new pending approval.
    CreateApproval(ApprovalRecord),
    /// Approve (with the token issued) or deny a pending approval. Fails with
    /// [`StoreError::NotPending`] if it was decided meanwhile.
    DecideApproval {
        /// The approval's id.
        id: String,
        /// Approved or denied.
        state: ApprovalState,
        /// The decider's credential name.
        by: String,
        /// The reason the decider gave.
        reason: String,
        /// When, in Unix milliseconds.
        at_ms: i64,
        /// The token issued, for an approved plan.
        token: Option<IssuedToken>,
    },
    /// Store the state of the run under a token (JSON, the engine's
    /// `RunState`), replacing the previous one: what a restarted service
    /// reads back so that `at most` counts and ordering carry on.
    SaveRun {
        /// The token's id.
        token_id: String,
        /// The run's state, JSON.
        state: String,
        /// The token's expiry (unix seconds): the row is useless after it.
        expires_s: i64,
        /// When, in Unix milliseconds.
        at_ms: i64,
    },
    /// Revoke a token. Fails with [`StoreError::AlreadyRevoked`] if it was.
    Revoke {
        /// The token's id.
        token_id: String,
        /// The revoker's credential name.
        by: String,
        /// The reason the revoker gave.
        reason: String,
        /// When, in Unix milliseconds.
        at_ms: i64,
    },
}

/// State changes and the audit records that describe them, committed
/// together or not at all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Txn {
    /// The state changes, applied in order.
    pub ops: Vec<StateOp>,
    /// The audit records that describe them, appended in order.
    pub events: Vec<NewEvent>,
}

impl Txn {
    /// A transaction that only appends records.
    pub fn events(events: Vec<NewEvent>) -> Self {
        Txn {
            ops: Vec::new(),
            events,
        }
    }
}

/// What a durable transaction wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The records appended, in order (a checkpoint may follow them).
    pub records: Vec<AuditRecord>,
}

impl Committed {
    /// The sequence number of the last record of this transaction (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.records.last().map_or(0, |r| r.seq)
    }
}

/// Errors of a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The back end failed (its own error: SQLite's, PostgreSQL's).
    #[error("database error: {0}")]
    Db(#[source] BackendError),
    /// The store cannot be opened (or created, or migrated).
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The SQLite file, or the PostgreSQL URL without its password.
        path: String,
        /// The back end's error.
        #[source]
        source: BackendError,
    },
    /// A reader found no store there: no SQLite file, or a PostgreSQL
    /// database without Warden's tables.
    #[error("the store at {0} does not exist")]
    Missing(String),
    /// The store's schema version is not one this build can use (a newer
    /// Warden wrote it, or it is not a Warden store).
    #[error("the store's schema version {found} is not {expected}")]
    Schema {
        /// The version the store has.
        found: i64,
        /// The newest version this build knows (and writes).
        expected: i64,
    },
    /// A decision names an approval that does not exist.
    #[error("approval {0} not found")]
    ApprovalNotFound(String),
    /// A decision names an approval that was decided already.
    #[error("approval {id} is already {state}")]
    NotPending {
        /// The approval's id.
        id: String,
        /// Its stored state: `approved` or `denied`.
        state: &'static str,
    },
    /// An approval with this id exists already.
    #[error("approval {0} already exists")]
    DuplicateApproval(String),
    /// The token was revoked before.
    #[error("token {0} is already revoked")]
    AlreadyRevoked(String),
    /// The writer has stopped ([`Store::close`], or it failed): nothing
    /// more is committed.
    #[error("the store's writer has stopped")]
    WriterGone,
    /// The database cannot be reached or did not commit (PostgreSQL
    /// restarting, a connection lost): nothing was acknowledged, and a
    /// later call may succeed.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A stored row or record cannot be read back (bad JSON, an unknown
    /// state, a record missing from the audit tree).
    #[error("corrupt row in the store: {0}")]
    Corrupt(String),
    /// A proof was asked of what the log cannot prove (a record after its
    /// signed head, a log without one, sizes out of order).
    #[error("no proof: {0}")]
    NoProof(String),
}

/// A transaction on its way to the disk.
#[derive(Debug)]
pub struct Pending(pub(crate) oneshot::Receiver<Result<Committed, StoreError>>);

impl Pending {
    /// Waits until the transaction is durable (or failed, changing nothing).
    pub async fn wait(self) -> Result<Committed, StoreError> {
        self.0.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// [`Pending::wait`] for code outside an async runtime.
    pub fn wait_blocking(self) -> Result<Committed, StoreError> {
        self.0
            .blocking_recv()
            .unwrap_or(Err(StoreError::WriterGone))
    }

    /// A pending that has already failed.
    pub fn failed(e: StoreError) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Pending(rx)
    }
}

/// A filter over the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// Only these kinds (empty: all).
    pub kinds: Vec<EventKind>,
    /// Only records at or after this time (unix ms).
    pub since_ms: Option<i64>,
    /// Only records with seq greater than this.
    pub after_seq: u64,
    /// Only records whose body names this token id.
    pub token_id: Option<String>,
    /// Only records whose body names this agent.
    pub agent: Option<String>,
    /// At most this many records (0: no limit).
    pub limit: usize,
}

impl RecordQuery {
    /// Whether a record passes the filter.
    pub fn matches(&self, r: &AuditRecord) -> bool {
        if r.seq <= self.after_seq {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.as_str() == r.kind) {
            return false;
        }
        if self.since_ms.is_some_and(|s| r.time_ms < s) {
            return false;
        }
        if self.token_id.is_none() && self.agent.is_none() {
            return true;
        }
        let body = r.body_json();
        let field_is = |name: &str, want: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| body.get(name).and_then(|v| v.as_str()) == Some(w.as_str()))
        };
        field_is("token_id", &self.token_id) && field_is("agent", &self.agent)
    }
}

/// What a run check may read inside the store's transaction, besides the
/// run's state: whether a token is revoked, as committed (never a cache).
pub trait RunRead: Send {
    /// Whether `token_id` is revoked, as committed in the store.
    fn is_revoked(&mut self, token_id: &str) -> Result<bool, StoreError>;
}

/// A check of one action of a run: given the run's stored state (`None`
/// before its first action) read under the run's lock, and the store's
/// revocations, it returns what to commit (the new state and its records,
/// or a refusal's records) before the lock is released.
pub type RunCheck = Box<dyn FnOnce(Option<String>, &mut dyn RunRead) -> Txn + Send>;

impl RecordQuery {
    /// Runs the filter over a log read page by page (`page(after, limit)`:
    /// records with seq above `after`, in order, at most `limit`).
    pub(crate) fn run(
        &self,
        mut page: impl FnMut(u64, usize) -> Result<Vec<AuditRecord>, StoreError>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        const PAGE: usize = 4096;
        let mut out = Vec::new();
        let mut after = self.after_seq;
        loop {
            let rows = page(after, PAGE)?;
            let n = rows.len();
            for r in rows {
                after = r.seq;
                if self.matches(&r) {
                    out.push(r);
                    if self.limit != 0 && out.len() >= self.limit {
                        return Ok(out);
                    }
                }
            }
            if n < PAGE {
                return Ok(out);
            }
        }
    }
}

/// An approval row, with its reasons, state, marks and call columns still
/// as text.
pub(crate) type ApprovalRow = (ApprovalRecord, String, String, String, Option<String>);

fn finish_approval(row: ApprovalRow) -> Result<ApprovalRecord, StoreError> {
    let (mut rec, reasons, state, marks, call) = row;
    let id = &rec.id;
    rec.reasons = serde_json::from_str(&reasons)
        .map_err(|e| StoreError::Corrupt(format!("approval {id} reasons: {e}")))?;
    rec.marks = serde_json::from_str(&marks)
        .map_err(|e| StoreError::Corrupt(format!("approval {id} marks: {e}")))?;
    rec.call = call
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("approval {id} call: {e}")))?;
    rec.state = ApprovalState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("approval {id} state {state:?}")))?;
    Ok(rec)
}

/// The state and audit log of a Warden service. Writes go through the one
/// writer every back end shares (`writer.rs`: group commit, the chain, its
/// Merkle tree, checkpoints, the signed tree head).
pub trait Store: Send + Sync + 'static + sealed::Backend {
    /// Commits state changes and their audit records atomically and durably.
    fn commit(&self, txn: Txn) -> Pending {
        self.writer().send(|tx| writer::Job::Commit(txn, tx))
    }

    /// Reads the run of `token_id` under its lock (PostgreSQL: its row
    /// `FOR UPDATE`, so two replicas checking the same run take turns;
    /// SQLite: the one writer), runs `check` on it, and commits what the
    /// check returns, atomically. `expires_s` is the token's expiry.
    fn check_run(&self, token_id: String, expires_s: i64, check: RunCheck) -> Pending {
        self.writer().send(|reply| writer::Job::Run {
            token_id,
            expires_s,
            check,
            reply,
        })
    }

    /// Appends a signed checkpoint now (if the store has a signing key and
    /// records were written since the last one).
    fn checkpoint(&self) -> Pending {
        self.writer().send(writer::Job::Checkpoint)
    }

    /// That record `seq` is in the Merkle tree the current signed tree head
    /// signs (RFC 6962 inclusion proof), read in one snapshot.
    fn prove_inclusion(&self, seq: u64) -> Result<InclusionProof, StoreError>;

    /// That the tree of the first `old` records is a prefix of the tree of
    /// the first `new` (the signed head's size when `None`), in one snapshot.
    fn prove_consistency(&self, old: u64, new: Option<u64>)
    -> Result<ConsistencyProof, StoreError>;

    /// One approval.
    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError>;

    /// Approvals in a state, the most recent first, at most `limit`.
    fn approvals(
        &self,
        state: ApprovalState,
        limit: usize,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;

    /// How many approvals are in a state (`warden_approvals_pending`).
    fn count_approvals(&self, state: ApprovalState) -> Result<u64, StoreError>;

    /// Every revoked token id.
    fn revoked(&self) -> Result<Vec<String>, StoreError>;

    /// The stored run state of a token ([`StateOp::SaveRun`]), if any.
    fn run_state(&self, token_id: &str) -> Result<Option<String>, StoreError>;

    /// Audit records matching a filter, in seq order.
    fn records(&self, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Records committed from now on, as they become durable.
    fn subscribe(&self) -> broadcast::Receiver<AuditRecord>;

    /// Verifies the whole audit log against the trusted checkpoint key,
    /// and its signed head (a tail cut after the last checkpoint is caught),
    /// in one consistent read.
    fn verify_chain(
        &self,
        keys: &token::KeySet,
    ) -> Result<Result<VerifyReport, VerifyFailure>, StoreError>;

    /// Stops accepting commits once everything queued is committed; later
    /// commits fail with [`StoreError::WriterGone`].
    fn close(&self);
}

/// A back end's own error, kept as the source of a [`StoreError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where a service keeps its state: the one choice of back end
/// ([`crate::config::ServeConfig::store`] makes it from the configuration).
/// Everything above the [`Store`] trait is the same for every back end.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    /// One SQLite file on this host (the default).
    Sqlite {
        /// The database file (created if missing).
        path: PathBuf,
        /// Checkpoints and group commit.
        options: sqlite::SqliteOptions,
    },
    /// A PostgreSQL database that any number of replicas share.
    Postgres(postgres::PgOptions),
}

/// A store's audit log opened for reading only (`warden audit`), from
/// either back end; it never creates a store.
pub enum AuditLog {
    /// The log of a SQLite file.
    Sqlite(sqlite::AuditReader),
    /// The log of a PostgreSQL store.
    Postgres(Box<postgres::PgReader>),
}

impl AuditLog {
    /// Opens the log of a SQLite file, or of a PostgreSQL store when `url`
    /// is given.
    pub fn open(db: &std::path::Path, url: Option<&str>) -> Result<AuditLog, StoreError> {
        match url {
            Some(url) => Ok(AuditLog::Postgres(Box::new(postgres::PgReader::connect(
                url, 2,
            )?))),
            None => Ok(AuditLog::Sqlite(sqlite::AuditReader::open(db)?)),
        }
    }

    /// Verifies the whole chain and its signed head (one snapshot).
    pub fn verify(
        &self,
        keys: impl Into<token::KeySet>,
    ) -> Result<Result<VerifyReport, VerifyFailure>, StoreError> {
        match self {
            AuditLog::Sqlite(r) => r.verify(keys),
            AuditLog::Postgres(r) => r.verify(keys),
        }
    }

    /// Records matching a filter, in seq order.
    pub fn records(&self, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError> {
        match self {
            AuditLog::Sqlite(r) => r.records(q),
            AuditLog::Postgres(r) => r.records(q),
        }
    }

    /// See [`Store::prove_inclusion`].
    pub fn prove_inclusion(&self, seq: u64) -> Result<InclusionProof, StoreError> {
        match self {
            AuditLog::Sqlite(r) => r.prove_inclusion(seq),
            AuditLog::Postgres(r) => r.prove_inclusion(seq),
        }
    }

    /// See [`Store::prove_consistency`].
    pub fn prove_consistency(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        match self {
            AuditLog::Sqlite(r) => r.prove_consistency(old, new),
            AuditLog::Postgres(r) => r.prove_consistency(old, new),
        }
    }
}

/// Opens (creating if needed) the configured store. With a signer, the
/// store signs checkpoints of the audit log and its head.
pub fn open(
    config: &StoreConfig,
    signer: Option<CheckpointSigner>,
) -> Result<Arc<dyn Store>, StoreError> {
    match config {
        StoreConfig::Sqlite { path, options } => Ok(Arc::new(sqlite::SqliteStore::open(
            path,
            signer,
            options.clone(),
        )?)),
        StoreConfig::Postgres(options) => {
            Ok(Arc::new(postgres::PgStore::open(options.clone(), signer)?))
        }
    }
}

/// The error for a decision on an approval that is not pending (`state`:
/// its stored state, `None` if there is no such approval).
pub(crate) fn not_pending(id: &str, state: Option<&str>) -> StoreError {
    match state.and_then(ApprovalState::parse) {
        None => StoreError::ApprovalNotFound(id.to_owned()),
        Some(s) => StoreError::NotPending {
            id: id.to_owned(),
            state: s.as_str(),
        },
    }
}

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
