//! The default [`Store`]: one SQLite file in WAL mode.
//!
//! One writer thread owns the write connection and commits in groups: it
//! takes every transaction waiting in its queue, applies each inside a
//! savepoint (a failing one rolls back alone), appends the audit records to
//! the hash chain, adds a signed checkpoint every N records, and commits the
//! group with one `fsync`. Only then does it answer the callers. With
//! `synchronous=FULL` a commit in WAL mode is on disk when it returns, so an
//! acknowledged record survives a crash of the process *and* of the machine;
//! `NORMAL` would only survive the process. Grouping keeps that affordable:
//! under load one fsync covers many submissions.
//!
//! Readers use their own connection; WAL lets them read while the writer
//! writes.

use super::tree::{self, TreeRead};
use super::writer::{
    Chain, WriteConn, Writer, WriterHandle, check_signed_head, parse_hash, parse_signed_head,
    verify_log,
};
use super::{
    ApprovalRecord, ApprovalRow, ApprovalState, ConsistencyProof, InclusionProof, IssuedToken,
    RecordQuery, RunRead, StateOp, Store, StoreError, finish_approval, not_pending, now_ms,
};
use crate::audit::{AuditRecord, CheckpointSigner, Hash, SignedHead};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use tokio::sync::broadcast;

const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_kind ON audit(kind, seq);
CREATE TABLE IF NOT EXISTS audit_tree (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    spec TEXT NOT NULL,
    plan TEXT NOT NULL,
    reasons TEXT NOT NULL,
    envelope TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    decided_by TEXT,
    decision_reason TEXT,
    decided_ms INTEGER,
    token_id TEXT,
    token TEXT,
    submitted_by TEXT,
    marks TEXT NOT NULL DEFAULT '[]',
    call TEXT
);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals(state, created_ms);
CREATE TABLE IF NOT EXISTS runs (
    token_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_s INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    token_id TEXT PRIMARY KEY,
    revoked_ms INTEGER NOT NULL,
    revoked_by TEXT NOT NULL,
    reason TEXT NOT NULL
);
";

/// Options of a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Sign a checkpoint after this many records (0: only on request).
    pub checkpoint_every: u64,
    /// At most this many transactions per group commit.
    pub max_group: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            checkpoint_every: 1000,
            max_group: 512,
        }
    }
}

/// A SQLite-backed store.
pub struct SqliteStore {
    path: PathBuf,
    writer: WriterHandle,
    reader: Mutex<Connection>,
    events: broadcast::Sender<AuditRecord>,
    /// Dropping it stops the WAL checkpointer.
    wal_stop: Mutex<Option<mpsc::Sender<()>>>,
    wal_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(Box::new(e))
    }
}

fn open_err(path: &Path) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Open {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|s| s.parse::<i64>().ok()).unwrap_or(-1))
}

/// Runs one migration step's statements in one transaction, rolled back
/// when any fails.
fn migration(conn: &Connection, statements: &str) -> Result<(), StoreError> {
    conn.execute_batch(&format!("BEGIN IMMEDIATE;\n{statements}\nCOMMIT;"))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    Ok(())
}

/// Version 1 to 2: approvals record their submitter (read back from the
/// submission's audit record, which has always named it) and their marked
/// steps (none for older rows). One transaction.
fn migrate_v1(conn: &Connection) -> Result<(), StoreError> {
    migration(
        conn,
        "ALTER TABLE approvals ADD COLUMN submitted_by TEXT;
         ALTER TABLE approvals ADD COLUMN marks TEXT NOT NULL DEFAULT '[]';
         UPDATE approvals SET submitted_by = (
             SELECT json_extract(a.body, '$.submitted_by') FROM audit a
             WHERE a.kind = 'submission'
               AND json_extract(a.body, '$.submission_id') = approvals.submission_id
             LIMIT 1);
         CREATE INDEX IF NOT EXISTS approvals_state ON approvals(state, created_ms);
         UPDATE meta SET value = '2' WHERE key = 'schema';",
    )
}

/// Version 2 to 3: an approval may be of one tool call (`call`, JSON; NULL
/// for a plan's).
fn migrate_v2(conn: &Connection) -> Result<(), StoreError> {
    migration(
        conn,
        "ALTER TABLE approvals ADD COLUMN call TEXT;
         UPDATE meta SET value = '3' WHERE key = 'schema';",
    )
}

/// Version 3 to 4: the audit log's Merkle tree (`audit_tree`, the stored
/// subtrees; meta `tree`, its right edge). The writer builds the tree over
/// the existing records when it starts (`Writer::catch_up`), in its first
/// transaction, and signs a tree head.
fn migrate_v3(conn: &Connection) -> Result<(), StoreError> {
    migration(
        conn,
        "CREATE TABLE IF NOT EXISTS audit_tree (
             level INTEGER NOT NULL,
             idx INTEGER NOT NULL,
             hash BLOB NOT NULL,
             PRIMARY KEY (level, idx)
         ) WITHOUT ROWID;
         UPDATE meta SET value = '4' WHERE key = 'schema';",
    )
}

/// The audit table is the same in versions 1 to 4: a reader of the log
/// accepts them all (proofs need version 4's tree).
fn check_audit_schema(conn: &Connection) -> Result<(), StoreError> {
    match schema_version(conn)? {
        1..=SCHEMA_VERSION => Ok(()),
        found => Err(StoreError::Schema {
            found,
            expected: SCHEMA_VERSION,
        }),
    }
}

fn check_schema(conn: &Connection) -> Result<(), StoreError> {
    let found = schema_version(conn)?;
    if found != SCHEMA_VERSION {
        return Err(StoreError::Schema {
            found,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn read_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get::<_, i64>(0)? as u64,
        time_ms: r.get(1)?,
        kind: r.get(2)?,
        body: r.get(3)?,
        prev_hash: r.get(4)?,
        hash: r.get(5)?,
    })
}

/// Reads records with seq > `after`, in order, at most `limit`.
fn records_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT seq, time_ms, kind, body, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = st.query_map(params![after as i64, limit as i64], read_record)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn query_records(conn: &Connection, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError> {
    q.run(|after, limit| records_after(conn, after, limit))
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`. With a signer, the
    /// writer signs a checkpoint every `opts.checkpoint_every` records.
    pub fn open(
        path: &Path,
        signer: Option<CheckpointSigner>,
        opts: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(open_err(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // The writer never copies the WAL into the database itself (that
        // stalls the commit that crosses the threshold for tens of ms): a
        // checkpointer thread does it beside it (see `checkpoint_wal`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A WAL reset after a checkpoint also shrinks the file to this.
        conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // A version 1 store's approvals table lacks the new columns, which
        // the index in SCHEMA needs: migrate first.
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        if schema_version(&conn)? == 1 {
            migrate_v1(&conn)?;
        }
        if schema_version(&conn)? == 2 {
            migrate_v2(&conn)?;
        }
        if schema_version(&conn)? == 3 {
            migrate_v3(&conn)?;
        }
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?1)",
            [SCHEMA_VERSION.to_string()],
        )?;
        check_schema(&conn)?;
        // Run states of tokens that expired a day ago or more can no longer
        // matter (the margin covers a clock set back a little).
        conn.execute(
            "DELETE FROM runs WHERE expires_s < ?1",
            [now_ms() / 1000 - 86_400],
        )?;
        let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(open_err(path))?;
        reader.busy_timeout(std::time::Duration::from_secs(10))?;
        let (events, _) = broadcast::channel(4096);
        let chain = read_chain(&conn)?;
        check_signed_head(signer.as_ref(), read_signed_head(&conn)?.as_ref(), &chain)?;
        let writer = WriterHandle::spawn(
            "warden-store-writer",
            Writer {
                conn: SqliteConn { conn, chain },
                signer,
                checkpoint_every: opts.checkpoint_every,
                max_group: opts.max_group,
                events: Some(events.clone()),
            },
        )?;
        let wal_conn = Connection::open(path).map_err(open_err(path))?;
        wal_conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let (wal_stop, wal_rx) = mpsc::channel();
        let wal_thread = std::thread::Builder::new()
            .name("warden-store-wal".into())
            .spawn(move || checkpoint_wal(wal_conn, wal_rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the WAL thread: {e}")))?;
        Ok(SqliteStore {
            wal_stop: Mutex::new(Some(wal_stop)),
            wal_thread: Mutex::new(Some(wal_thread)),
            path: path.to_owned(),
            writer,
            reader: Mutex::new(reader),
            events,
        })
    }

    /// Stops the writer after it has committed everything queued. Later
    /// commits fail with [`StoreError::WriterGone`].
    pub fn close(&self) {
        self.writer.close();
        self.wal_stop
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = self
            .wal_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = h.join();
        }
    }
}

/// WAL frames (pages) above which the checkpointer truncates the WAL.
const WAL_MAX_FRAMES: i64 = 8192;

/// Copies committed WAL frames into the database every 100 ms, beside the
/// writer (a passive checkpoint never blocks it), until `stop` is dropped.
/// Durability does not depend on it: a commit is on disk once it is in the
/// WAL (`synchronous=FULL`).
fn checkpoint_wal(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) =
        stop.recv_timeout(std::time::Duration::from_millis(100))
    {
        // (busy, frames in the WAL, frames copied)
        let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        });
        match passive {
            // Under sustained load the writer may keep the WAL from being
            // reset: bound it (about 32 MiB) with a checkpoint that waits
            // for the writer once, as SQLite's own would.
            Ok((_, frames)) if frames > WAL_MAX_FRAMES => {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                    tracing::warn!("WAL checkpoint (truncate): {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("WAL checkpoint: {e}"),
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

const APPROVAL_COLUMNS: &str =
    "SELECT id, submission_id, agent, spec, plan, reasons, envelope, state, created_ms,
            decided_by, decision_reason, decided_ms, token_id, token, submitted_by, marks, call
     FROM approvals";

fn read_approval(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApprovalRow> {
    Ok((
        ApprovalRecord {
            id: r.get(0)?,
            submission_id: r.get(1)?,
            agent: r.get(2)?,
            spec: r.get(3)?,
            plan: r.get(4)?,
            reasons: Vec::new(),
            envelope_json: r.get(6)?,
            state: ApprovalState::Pending,
            created_ms: r.get(8)?,
            decided_by: r.get(9)?,
            decision_reason: r.get(10)?,
            decided_ms: r.get(11)?,
            token_id: r.get(12)?,
            token: r.get(13)?,
            submitted_by: r.get(14)?,
            marks: Vec::new(),
            call: None,
        },
        r.get(5)?,
        r.get(7)?,
        r.get(15)?,
        r.get(16)?,
    ))
}

impl super::sealed::Backend for SqliteStore {
    fn writer(&self) -> &WriterHandle {
        &self.writer
    }
}

impl Store for SqliteStore {
    fn prove_inclusion(&self, seq: u64) -> Result<InclusionProof, StoreError> {
        AuditReader::open(&self.path)?.prove_inclusion(seq)
    }

    fn prove_consistency(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        AuditReader::open(&self.path)?.prove_consistency(old, new)
    }

    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = conn.prepare_cached(&format!("{APPROVAL_COLUMNS} WHERE id = ?1"))?;
        let row = st.query_row([id], read_approval).optional()?;
        row.map(finish_approval).transpose()
    }

    fn approvals(
        &self,
        state: ApprovalState,
        limit: usize,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = conn.prepare_cached(&format!(
            "{APPROVAL_COLUMNS} WHERE state = ?1 ORDER BY created_ms DESC, id LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st.query_map(params![state.as_str(), limit], read_approval)?;
        rows.map(|r| finish_approval(r?)).collect()
    }

    fn count_approvals(&self, state: ApprovalState) -> Result<u64, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let n: i64 = conn
            .prepare_cached("SELECT count(*) FROM approvals WHERE state = ?1")?
            .query_row([state.as_str()], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn revoked(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = conn.prepare_cached("SELECT token_id FROM revocations ORDER BY token_id")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn records(&self, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        query_records(&conn, q)
    }

    fn run_state(&self, token_id: &str) -> Result<Option<String>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        Ok(conn
            .prepare_cached("SELECT state FROM runs WHERE token_id = ?1")?
            .query_row([token_id], |r| r.get(0))
            .optional()?)
    }

    fn subscribe(&self) -> broadcast::Receiver<AuditRecord> {
        self.events.subscribe()
    }

    fn verify_chain(
        &self,
        keys: &token::KeySet,
    ) -> Result<Result<crate::audit::VerifyReport, crate::audit::VerifyFailure>, StoreError> {
        AuditReader::open(&self.path)?.verify(keys)
    }

    fn close(&self) {
        SqliteStore::close(self)
    }
}

/// Read-only access to a store's audit log, for `warden audit` (works while
/// a service is writing to it).
pub struct AuditReader {
    conn: Connection,
}

impl AuditReader {
    /// Opens an existing store read-only; never creates one.
    pub fn open(path: &Path) -> Result<AuditReader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(open_err(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        check_audit_schema(&conn)?;
        Ok(AuditReader { conn })
    }

    /// Records with seq > `after`, in order, at most `limit`.
    pub fn page(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        records_after(&self.conn, after, limit)
    }

    /// Records matching a filter, in seq order.
    pub fn records(&self, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError> {
        query_records(&self.conn, q)
    }

    /// Verifies the whole log against the trusted checkpoint keys, page by
    /// page (the log never has to fit in memory), and its signed head (so a
    /// tail cut after the last checkpoint is caught). Records and head are
    /// read in one snapshot, so a service writing meanwhile does not matter.
    pub fn verify(
        &self,
        keys: impl Into<token::KeySet>,
    ) -> Result<Result<crate::audit::VerifyReport, crate::audit::VerifyFailure>, StoreError> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let result = verify_log(keys, read_signed_head(&self.conn), |after| {
            self.page(after, 4096)
        });
        self.conn.execute_batch("COMMIT")?;
        result
    }

    /// Runs `f` on one snapshot of the log.
    fn snapshot<T>(
        &self,
        f: impl FnOnce(&mut SqliteTree<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let result = f(&mut SqliteTree(&self.conn));
        self.conn.execute_batch("COMMIT")?;
        result
    }

    /// See [`Store::prove_inclusion`].
    pub fn prove_inclusion(&self, seq: u64) -> Result<InclusionProof, StoreError> {
        self.snapshot(|t| tree::prove_inclusion(t, seq))
    }

    /// See [`Store::prove_consistency`].
    pub fn prove_consistency(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        self.snapshot(|t| tree::prove_consistency(t, old, new))
    }
}

/// A read snapshot's view of the tree.
struct SqliteTree<'a>(&'a Connection);

impl TreeRead for SqliteTree<'_> {
    fn head(&mut self) -> Result<Option<SignedHead>, StoreError> {
        read_signed_head(self.0)
    }

    fn tree_size(&mut self) -> Result<u64, StoreError> {
        if !tree_built(self.0)? {
            return Ok(0);
        }
        let last: Option<i64> = self
            .0
            .query_row("SELECT MAX(seq) FROM audit", [], |r| r.get(0))?;
        Ok(last.map_or(0, |s| s as u64))
    }

    fn stored_node(&mut self, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
        read_node(self.0, level, index)
    }

    fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        records_after(self.0, after, limit)
    }
}

fn read_node(conn: &Connection, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
    let v: Option<Vec<u8>> = conn
        .prepare_cached("SELECT hash FROM audit_tree WHERE level = ?1 AND idx = ?2")?
        .query_row(params![level, index as i64], |r| r.get(0))
        .optional()?;
    v.map(|b| {
        b.try_into()
            .map_err(|_| StoreError::Corrupt(format!("audit tree node {level}/{index}")))
    })
    .transpose()
}

/// Whether the tree covers the log (meta `tree`, written with the first
/// leaf: by the first record, or by the writer's build of a log from before
/// the tree). The right edge is not stored: it is read from the stored
/// subtrees, O(log n) rows, which also checks them against the signed root
/// when the store opens, and saves a write per commit.
fn tree_built(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM meta WHERE key = 'tree'")?
        .query_row([], |r| r.get::<_, i64>(0))
        .optional()?
        .is_some())
}

/// The tree's right edge over the first `seq` records (empty before the tree).
fn read_frontier(conn: &Connection, seq: u64) -> Result<transparency::Frontier, StoreError> {
    if tree_built(conn)? {
        tree::frontier(&mut SqliteTree(conn), seq)
    } else {
        Ok(transparency::Frontier::new())
    }
}

/// The service's revocations as a [`token::RevocationList`], read from the
/// store on every check: an enforcer or orchestrator on the same host sees a
/// revocation as soon as the service has committed it. A store that cannot
/// be read refuses every token (fail closed).
pub struct SqliteRevocations {
    conn: Mutex<Connection>,
}

impl SqliteRevocations {
    /// Opens an existing store read-only.
    pub fn open(path: &Path) -> Result<SqliteRevocations, StoreError> {
        let r = AuditReader::open(path)?;
        Ok(SqliteRevocations {
            conn: Mutex::new(r.conn),
        })
    }
}

impl token::RevocationList for SqliteRevocations {
    fn is_revoked(&self, id: &token::TokenId) -> Result<bool, token::RevocationError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let found: Option<i64> = conn
            .prepare_cached("SELECT 1 FROM revocations WHERE token_id = ?1")
            .and_then(|mut st| st.query_row([id.to_string()], |r| r.get(0)).optional())
            .map_err(|e| token::RevocationError::Store(e.to_string()))?;
        Ok(found.is_some())
    }
}

/// The log's signed head, if it has one.
fn read_signed_head(conn: &Connection) -> Result<Option<SignedHead>, StoreError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'head'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    text.map(|t| parse_signed_head(&t)).transpose()
}

/// Reads the chain's head (and how far the last checkpoint is) from disk.
fn read_chain(conn: &Connection) -> Result<Chain, StoreError> {
    let head: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((seq, hash)) = head else {
        return Ok(Chain::genesis());
    };
    let last_cp: Option<i64> = conn
        .query_row(
            "SELECT MAX(seq) FROM audit WHERE kind = 'checkpoint'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(Chain {
        seq: seq as u64,
        hash: parse_hash(&hash)?,
        since_checkpoint: seq as u64 - last_cp.map_or(0, |s| s as u64),
        tree: read_frontier(conn, seq as u64)?,
    })
}

/// The writer's connection: the one writer of the file, so the chain's head
/// is kept in memory between groups (read again after a failed commit).
struct SqliteConn {
    conn: Connection,
    chain: Chain,
}

impl RunRead for SqliteConn {
    fn is_revoked(&mut self, token_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM revocations WHERE token_id = ?1")?
            .query_row([token_id], |r| r.get::<_, i64>(0))
            .optional()?
            .is_some())
    }
}

impl WriteConn for SqliteConn {
    fn begin(&mut self) -> Result<Chain, StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(self.chain.clone())
    }

    fn savepoint(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("SAVEPOINT job")?)
    }

    fn release(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("RELEASE job")?)
    }

    fn rollback_to(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("ROLLBACK TO job; RELEASE job")?)
    }

    fn run_state_for_update(
        &mut self,
        token_id: &str,
        _expires_s: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT state FROM runs WHERE token_id = ?1")?
            .query_row([token_id], |r| r.get(0))
            .optional()?)
    }

    fn insert(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit(seq, time_ms, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![r.seq as i64, r.time_ms, r.kind, r.body, r.prev_hash, r.hash])?;
        Ok(())
    }

    fn insert_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO audit_tree(level, idx, hash) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![level, index as i64, &hash[..]])?;
        Ok(())
    }

    fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        records_after(&self.conn, after, limit)
    }

    fn commit(&mut self, chain: &Chain, signed: Option<&SignedHead>) -> Result<(), StoreError> {
        if self.chain.tree.size() == 0 && chain.tree.size() > 0 {
            self.conn.execute_batch(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('tree', 'built')",
            )?;
        }
        if let Some(head) = signed {
            let text =
                serde_json::to_string(head).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES ('head', ?1)")?
                .execute([text])?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.chain = chain.clone();
        Ok(())
    }

    fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
        match read_chain(&self.conn) {
            Ok(c) => self.chain = c,
            Err(e) => tracing::error!("cannot reload the audit head after a failed commit: {e}"),
        }
    }

    fn apply(&mut self, op: &StateOp) -> Result<(), StoreError> {
        match op {
            StateOp::CreateApproval(a) => {
                let reasons = serde_json::to_string(&a.reasons)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let marks = serde_json::to_string(&a.marks)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let call = a
                    .call
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let n = self.conn.prepare_cached(
                    "INSERT OR IGNORE INTO approvals(id, submission_id, agent, spec, plan, reasons, envelope, state,
                        created_ms, decided_by, decision_reason, decided_ms, token_id, token, submitted_by, marks, call)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                )?
                .execute(params![
                    a.id, a.submission_id, a.agent, a.spec, a.plan, reasons, a.envelope_json,
                    a.state.as_str(), a.created_ms, a.decided_by, a.decision_reason, a.decided_ms,
                    a.token_id, a.token, a.submitted_by, marks, call
                ])?;
                if n == 0 {
                    return Err(StoreError::DuplicateApproval(a.id.clone()));
                }
            }
            StateOp::DecideApproval {
                id,
                state,
                by,
                reason,
                at_ms,
                token,
            } => {
                let (token_id, token) = match token {
                    Some(IssuedToken { token_id, token }) => (Some(token_id), Some(token)),
                    None => (None, None),
                };
                let n = self.conn.prepare_cached(
                    "UPDATE approvals SET state = ?2, decided_by = ?3, decision_reason = ?4, decided_ms = ?5,
                        token_id = ?6, token = ?7
                     WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![id, state.as_str(), by, reason, at_ms, token_id, token])?;
                if n == 0 {
                    let cur: Option<String> = self
                        .conn
                        .query_row("SELECT state FROM approvals WHERE id = ?1", [id], |r| {
                            r.get(0)
                        })
                        .optional()?;
                    return Err(not_pending(id, cur.as_deref()));
                }
            }
            StateOp::SaveRun {
                token_id,
                state,
                expires_s,
                at_ms,
            } => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO runs(token_id, state, expires_s, updated_ms) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(token_id) DO UPDATE SET state = excluded.state,
                            expires_s = excluded.expires_s, updated_ms = excluded.updated_ms",
                    )?
                    .execute(params![token_id, state, expires_s, at_ms])?;
            }
            StateOp::Revoke {
                token_id,
                by,
                reason,
                at_ms,
            } => {
                let n = self
                    .conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO revocations(token_id, revoked_ms, revoked_by, reason) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![token_id, at_ms, by, reason])?;
                if n == 0 {
                    return Err(StoreError::AlreadyRevoked(token_id.clone()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EventKind, NewEvent, Problem};
    use crate::store::Txn;
    use serde_json::json;

    fn signer() -> CheckpointSigner {
        CheckpointSigner::new(token::SigningKey::from_seed(&[7; 32]).unwrap())
    }

    fn ev(i: u64) -> NewEvent {
        NewEvent::new(
            EventKind::Submission,
            json!({"submission_id": format!("s{i}"), "agent": "bot", "token_id": format!("t{i}")}),
        )
    }

    fn open(dir: &Path, every: u64) -> SqliteStore {
        SqliteStore::open(
            &dir.join("w.db"),
            Some(signer()),
            SqliteOptions {
                checkpoint_every: every,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn approval(id: &str) -> ApprovalRecord {
        ApprovalRecord {
            id: id.into(),
            submission_id: "s1".into(),
            agent: "bot".into(),
            spec: "ci".into(),
            plan: "plan {}".into(),
            reasons: vec!["approve call x".into()],
            envelope_json: "{}".into(),
            state: ApprovalState::Pending,
            created_ms: 1,
            decided_by: None,
            decision_reason: None,
            decided_ms: None,
            token_id: None,
            token: None,
            submitted_by: Some("orch".into()),
            marks: vec![crate::store::ApprovalMark {
                action: "call x".into(),
                rule: "approve call x".into(),
                rule_at: Some("ci.spec:2:3".into()),
                step_line: Some(1),
            }],
            call: None,
        }
    }

    #[test]
    fn a_call_approval_round_trips_and_a_version_2_store_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        {
            let s = SqliteStore::open(&path, None, SqliteOptions::default()).unwrap();
            s.commit(Txn {
                ops: vec![StateOp::CreateApproval(approval("a1"))],
                events: vec![ev(1)],
            })
            .wait_blocking()
            .unwrap();
            drop(s);
            Connection::open(&path)
                .unwrap()
                .execute_batch(
                    "ALTER TABLE approvals DROP COLUMN call;
                     UPDATE meta SET value = '2' WHERE key = 'schema';",
                )
                .unwrap();
        }
        let s = SqliteStore::open(&path, None, SqliteOptions::default()).unwrap();
        assert_eq!(s.approval("a1").unwrap().unwrap().call, None);
        let mut c = approval("c1");
        c.call = Some(crate::store::CallApproval {
            token_id: "tok1".into(),
            call_digest: "ab".repeat(32),
        });
        s.commit(Txn {
            ops: vec![StateOp::CreateApproval(c.clone())],
            events: vec![ev(2)],
        })
        .wait_blocking()
        .unwrap();
        assert_eq!(s.approval("c1").unwrap().unwrap(), c);
        drop(s);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn commits_chain_and_checkpoints_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = open(dir.path(), 3);
            for i in 0..7 {
                s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
            }
        }
        // 7 events + 2 periodic checkpoints + 1 on close.
        let r = AuditReader::open(&dir.path().join("w.db")).unwrap();
        let rep = r.verify(signer().public_key()).unwrap().unwrap();
        assert_eq!(rep.records, 10);
        assert_eq!(rep.checkpoints, 3);
        assert_eq!(rep.uncovered, 0);
        // Reopen continues the chain.
        let s = open(dir.path(), 3);
        let c = s.commit(Txn::events(vec![ev(8)])).wait_blocking().unwrap();
        assert_eq!(c.last_seq(), 11);
        drop(s);
        let rep = r.verify(signer().public_key()).unwrap().unwrap();
        assert_eq!(rep.records, 12);
    }

    #[test]
    fn pending_approvals_are_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 0);
        for (i, id) in ["a1", "a2", "a3"].into_iter().enumerate() {
            let mut a = approval(id);
            a.created_ms = i as i64;
            let txn = Txn {
                ops: vec![StateOp::CreateApproval(a)],
                events: vec![ev(i as u64)],
            };
            s.commit(txn).wait_blocking().unwrap();
        }
        let ids = |v: Vec<ApprovalRecord>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.approvals(ApprovalState::Pending, 10).unwrap()),
            ["a3", "a2", "a1"]
        );
        assert_eq!(
            ids(s.approvals(ApprovalState::Pending, 2).unwrap()),
            ["a3", "a2"]
        );
    }

    #[test]
    fn a_version_1_store_is_migrated_with_its_submitters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        {
            // A version 2 store taken back to version 1's approvals table.
            let s = SqliteStore::open(&path, None, SqliteOptions::default()).unwrap();
            let sub = NewEvent::new(
                EventKind::Submission,
                json!({"submission_id": "s1", "agent": "bot", "submitted_by": "orch"}),
            );
            let mut a2 = approval("a2");
            a2.submission_id = "s2".into();
            let txn = Txn {
                ops: vec![
                    StateOp::CreateApproval(approval("a1")),
                    StateOp::CreateApproval(a2),
                ],
                events: vec![sub],
            };
            s.commit(txn).wait_blocking().unwrap();
            drop(s);
            Connection::open(&path)
                .unwrap()
                .execute_batch(
                    "DROP INDEX approvals_state;
                     ALTER TABLE approvals DROP COLUMN submitted_by;
                     ALTER TABLE approvals DROP COLUMN marks;
                     ALTER TABLE approvals DROP COLUMN call;
                     UPDATE meta SET value = '1' WHERE key = 'schema';",
                )
                .unwrap();
        }
        let s = SqliteStore::open(&path, None, SqliteOptions::default()).unwrap();
        let a1 = s.approval("a1").unwrap().unwrap();
        assert_eq!(a1.submitted_by.as_deref(), Some("orch"));
        assert!(a1.marks.is_empty());
        // No submission record names a2's submitter: unknown, not guessed.
        assert_eq!(s.approval("a2").unwrap().unwrap().submitted_by, None);
        drop(s);
        let c = Connection::open(&path).unwrap();
        assert_eq!(schema_version(&c).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn approvals_decide_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 0);
        let txn = Txn {
            ops: vec![StateOp::CreateApproval(approval("a1"))],
            events: vec![ev(1)],
        };
        s.commit(txn.clone()).wait_blocking().unwrap();
        let dup = s.commit(txn).wait_blocking().unwrap_err();
        assert!(matches!(dup, StoreError::DuplicateApproval(_)));
        let decide = |state| Txn {
            ops: vec![StateOp::DecideApproval {
                id: "a1".into(),
                state,
                by: "alice".into(),
                reason: "ok".into(),
                at_ms: 5,
                token: Some(IssuedToken {
                    token_id: "t".into(),
                    token: "v4.public.x".into(),
                }),
            }],
            events: vec![ev(2)],
        };
        s.commit(decide(ApprovalState::Approved))
            .wait_blocking()
            .unwrap();
        let again = s
            .commit(decide(ApprovalState::Denied))
            .wait_blocking()
            .unwrap_err();
        assert!(matches!(
            again,
            StoreError::NotPending {
                state: "approved",
                ..
            }
        ));
        let a = s.approval("a1").unwrap().unwrap();
        assert_eq!(a.state, ApprovalState::Approved);
        assert_eq!(a.decided_by.as_deref(), Some("alice"));
        assert_eq!(a.token.as_deref(), Some("v4.public.x"));
        assert_eq!(a.reasons, vec!["approve call x".to_string()]);
        assert_eq!(a.submitted_by.as_deref(), Some("orch"));
        assert_eq!(a.marks, approval("a1").marks);
        assert!(s.approval("nope").unwrap().is_none());
        assert!(s.approvals(ApprovalState::Pending, 10).unwrap().is_empty());
        assert_eq!(s.approvals(ApprovalState::Approved, 10).unwrap(), vec![a]);
        // The failed transactions wrote no records: 2 records only.
        let recs = s.records(&RecordQuery::default()).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].seq, 2);
    }

    #[test]
    fn revoke_is_idempotent_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 0);
        let rev = || Txn {
            ops: vec![StateOp::Revoke {
                token_id: "t1".into(),
                by: "bob".into(),
                reason: "leaked".into(),
                at_ms: 9,
            }],
            events: vec![ev(1)],
        };
        s.commit(rev()).wait_blocking().unwrap();
        assert!(matches!(
            s.commit(rev()).wait_blocking().unwrap_err(),
            StoreError::AlreadyRevoked(_)
        ));
        assert_eq!(s.revoked().unwrap(), vec!["t1".to_string()]);
    }

    #[test]
    fn query_filters() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 0);
        for i in 0..5 {
            s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
        }
        s.commit(Txn::events(vec![NewEvent::new(
            EventKind::Revocation,
            json!({"token_id": "t3"}),
        )]))
        .wait_blocking()
        .unwrap();
        let q = RecordQuery {
            token_id: Some("t3".into()),
            ..Default::default()
        };
        assert_eq!(s.records(&q).unwrap().len(), 2);
        let q = RecordQuery {
            kinds: vec![EventKind::Revocation],
            ..Default::default()
        };
        assert_eq!(s.records(&q).unwrap()[0].seq, 6);
        let q = RecordQuery {
            agent: Some("bot".into()),
            limit: 2,
            ..Default::default()
        };
        assert_eq!(s.records(&q).unwrap().len(), 2);
    }

    #[test]
    fn concurrent_commits_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(open(dir.path(), 10));
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        s.commit(Txn::events(vec![ev(t * 100 + i), ev(i)]))
                            .wait_blocking()
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        s.close();
        let r = AuditReader::open(&dir.path().join("w.db")).unwrap();
        let rep = r.verify(signer().public_key()).unwrap().unwrap();
        assert_eq!(rep.records - rep.checkpoints, 400);
    }

    /// Tampering with the file directly: each attack is named at the first bad record.
    #[test]
    fn tampering_is_detected_at_the_first_bad_record() {
        let attacks: [(&str, u64); 5] = [
            (
                "UPDATE audit SET body = '{\"agent\":\"evil\"}' WHERE seq = 4",
                4,
            ),
            (
                "UPDATE audit SET hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE seq = 6",
                6,
            ),
            ("DELETE FROM audit WHERE seq = 3", 3),
            // Reorder: swap the contents of rows 2 and 5.
            (
                "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = -2",
                2,
            ),
            ("UPDATE audit SET time_ms = time_ms + 1 WHERE seq = 7", 7),
        ];
        for (sql, bad) in attacks {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("w.db");
            {
                let s = open(dir.path(), 4);
                for i in 0..8 {
                    s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
                }
            }
            let c = Connection::open(&path).unwrap();
            c.execute_batch(sql).unwrap();
            drop(c);
            let r = AuditReader::open(&path).unwrap();
            let err = r.verify(signer().public_key()).unwrap().unwrap_err();
            assert_eq!(err.seq, bad, "{sql}: {err}");
            if sql.starts_with("DELETE") {
                assert!(matches!(err.problem, Problem::Missing { .. }));
            }
        }
    }

    /// Records after the last checkpoint, cut off the tail: the signed head
    /// tells, and the store refuses to write on top of the cut log.
    #[test]
    fn a_cut_tail_is_detected_and_not_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        {
            // No periodic checkpoints: only the head covers the tail while
            // the service runs (what a SIGKILL leaves behind).
            let s = open(dir.path(), 0);
            for i in 0..6 {
                s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
            }
            let r = AuditReader::open(&path).unwrap();
            let rep = r.verify(signer().public_key()).unwrap().unwrap();
            assert!(rep.head_signed);
            assert_eq!((rep.records, rep.uncovered), (6, 6));
            // Not closed: the writer would sign a final checkpoint.
            std::mem::forget(s);
        }
        let c = Connection::open(&path).unwrap();
        c.execute_batch("DELETE FROM audit WHERE seq > 4").unwrap();
        drop(c);
        let r = AuditReader::open(&path).unwrap();
        let err = r.verify(signer().public_key()).unwrap().unwrap_err();
        assert_eq!(err.seq, 5);
        assert_eq!(err.problem, Problem::TailCut { last: 4, head: 6 });
        let e = SqliteStore::open(&path, Some(signer()), SqliteOptions::default()).unwrap_err();
        assert!(e.to_string().contains("signed head"), "{e}");
        // Removing the head as well does not help.
        let c = Connection::open(&path).unwrap();
        c.execute_batch("DELETE FROM meta WHERE key = 'head'")
            .unwrap();
        drop(c);
        let err = r.verify(signer().public_key()).unwrap().unwrap_err();
        assert_eq!(err.problem, Problem::NoHead);
        assert!(SqliteStore::open(&path, Some(signer()), SqliteOptions::default()).is_err());
    }

    #[test]
    fn run_states_are_stored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 0);
        let save = |state: &str| Txn {
            ops: vec![StateOp::SaveRun {
                token_id: "t1".into(),
                state: state.into(),
                expires_s: now_ms() / 1000 + 600,
                at_ms: now_ms(),
            }],
            events: vec![ev(1)],
        };
        assert_eq!(s.run_state("t1").unwrap(), None);
        s.commit(save("{\"n\":1}")).wait_blocking().unwrap();
        s.commit(save("{\"n\":2}")).wait_blocking().unwrap();
        assert_eq!(s.run_state("t1").unwrap().as_deref(), Some("{\"n\":2}"));
        drop(s);
        let s = open(dir.path(), 0);
        assert_eq!(s.run_state("t1").unwrap().as_deref(), Some("{\"n\":2}"));
    }

    #[test]
    fn revocations_are_a_token_revocation_list() {
        use token::RevocationList;
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 0);
        let revoked = token::TokenId::random().unwrap();
        let live = token::TokenId::random().unwrap();
        let list = SqliteRevocations::open(&dir.path().join("w.db")).unwrap();
        assert!(!list.is_revoked(&revoked).unwrap());
        s.commit(Txn {
            ops: vec![StateOp::Revoke {
                token_id: revoked.to_string(),
                by: "bob".into(),
                reason: "leaked".into(),
                at_ms: 1,
            }],
            events: vec![ev(1)],
        })
        .wait_blocking()
        .unwrap();
        assert!(list.is_revoked(&revoked).unwrap());
        assert!(!list.is_revoked(&live).unwrap());
        // A store that cannot be read refuses.
        drop(s);
        let c = Connection::open(dir.path().join("w.db")).unwrap();
        c.execute_batch("DROP TABLE revocations").unwrap();
        assert!(list.is_revoked(&live).is_err());
    }

    #[test]
    fn reader_refuses_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            AuditReader::open(&dir.path().join("none.db")),
            Err(StoreError::Missing(_))
        ));
        assert!(!dir.path().join("none.db").exists());
    }
}
