//! The fleet's [`Store`]: one PostgreSQL database shared by any number of
//! service replicas (`warden serve --store postgres://…`).
//!
//! - **One audit chain.** The chain's head (last seq, its hash, records since
//!   the last checkpoint, the signed head) is the single row of
//!   `audit_head`. Every writing transaction takes that row `FOR UPDATE`
//!   first, so appends from all replicas are serialized and the chain never
//!   forks (the primary key on `audit.seq` would refuse a fork anyway). Each
//!   replica commits in groups, like the SQLite writer, so the lock is taken
//!   once per group and not once per record.
//! - **Run state is never cached.** Each action check reads the run's row
//!   `FOR UPDATE` (inserting it first if the run has none, so two replicas
//!   starting the same run also take turns) and whether the token is
//!   revoked, decides, and writes the new state in the same transaction:
//!   two replicas cannot together exceed an `at most` count, and a token
//!   revoked on one replica is refused by the next check on any.
//! - **Approval decisions** are one `UPDATE … WHERE state = 'pending'`: the
//!   row lock makes the second decision see the first.
//! - **Migrations** are versioned (`warden_schema`) and run on start under
//!   an advisory lock, so replicas starting together apply each once.
//!
//! Commits are durable when answered: PostgreSQL's `synchronous_commit`
//! (on by default) flushes the WAL before `COMMIT` returns. When the
//! database is unreachable calls fail with [`StoreError::Unavailable`]; the
//! pool reconnects by itself when it comes back.
//!
//! The driver is `tokio-postgres` with a `deadpool-postgres` pool, on a small
//! runtime of the store's own (the [`Store`] trait is synchronous: its
//! readers block their caller, like SQLite's). Connections are plaintext:
//! keep the database on a trusted network (the manifests' NetworkPolicy).

use super::tree::{self, TreeRead};
use super::writer::{
    Chain, WriteConn, Writer, WriterHandle, check_signed_head, parse_frontier, parse_hash,
    parse_signed_head, verify_log,
};
use super::{
    ApprovalRecord, ApprovalRow, ApprovalState, ConsistencyProof, InclusionProof, IssuedToken,
    RecordQuery, RunRead, StateOp, Store, StoreError, finish_approval, not_pending, now_ms,
};
use crate::audit::{AuditRecord, CheckpointSigner, Hash, SignedHead, VerifyFailure, VerifyReport};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_postgres::NoTls;

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`. Never edit
/// one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_kind ON audit(kind, seq);
CREATE TABLE audit_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    since_checkpoint BIGINT NOT NULL,
    signed_head TEXT
);
INSERT INTO audit_head(id, seq, hash, since_checkpoint)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    spec TEXT NOT NULL,
    plan TEXT NOT NULL,
    reasons TEXT NOT NULL,
    envelope TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    decided_by TEXT,
    decision_reason TEXT,
    decided_ms BIGINT,
    token_id TEXT,
    token TEXT,
    submitted_by TEXT,
    marks TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX approvals_state ON approvals(state, created_ms);
CREATE TABLE runs (
    token_id TEXT PRIMARY KEY,
    state TEXT,
    expires_s BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE revocations (
    token_id TEXT PRIMARY KEY,
    revoked_ms BIGINT NOT NULL,
    revoked_by TEXT NOT NULL,
    reason TEXT NOT NULL
);
",
    // Version 2: an approval may be of one tool call (`call`, JSON; NULL for a plan's).
    "ALTER TABLE approvals ADD COLUMN call TEXT;
",
    // Version 3: the audit log's Merkle tree: the stored subtrees, and the
    // tree's right edge beside the chain's head (NULL: no tree yet; the
    // writer builds it over the existing records when it starts).
    "CREATE TABLE audit_tree (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
ALTER TABLE audit_head ADD COLUMN tree BYTEA;
",
];

/// The advisory lock key under which migrations run ("warden" in ASCII).
const MIGRATION_LOCK: i64 = 0x7761_7264_656e;

/// Options of a [`PgStore`].
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/db` (or a libpq key=value string).
    pub url: String,
    /// Sign a checkpoint after this many records (0: only on request).
    pub checkpoint_every: u64,
    /// At most this many transactions per group commit.
    pub max_group: usize,
    /// Connections in the pool (readers; the writer holds one more).
    pub pool_size: usize,
}

impl PgOptions {
    /// Options for the database at `url`: a checkpoint every 1000 records,
    /// group commits of at most 512 transactions, 8 pooled connections.
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            checkpoint_every: 1000,
            max_group: 512,
            pool_size: 8,
        }
    }

    /// The URL without its password, for messages.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &self.redacted())
            .field("checkpoint_every", &self.checkpoint_every)
            .field("max_group", &self.max_group)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a key=value connection string)".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(p) => p,
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn db(e: tokio_postgres::Error) -> StoreError {
    // A lost connection or a refused one: the database is not there now.
    if e.is_closed() || e.code().is_none() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Db(Box::new(e))
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A pool on a runtime of its own, and the reads every PostgreSQL user of
/// the store shares (the service, `warden audit`).
pub struct PgReader {
    /// Taken on drop (a runtime may not be dropped inside another one).
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    url: String,
    /// For the feed's own (unpooled) connection.
    config: tokio_postgres::Config,
}

impl Drop for PgReader {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl PgReader {
    /// Connects (checking that the database answers and holds a Warden
    /// store of a version this build knows).
    pub fn connect(url: &str, pool_size: usize) -> Result<PgReader, StoreError> {
        let r = PgReader::new(url, pool_size)?;
        let shown = redact(url);
        r.block(|c| async move {
            let found = schema_version(&c).await?;
            let expected = MIGRATIONS.len() as i64;
            match found {
                0 => Err(StoreError::Missing(format!(
                    "{shown} (no Warden tables: `warden serve --store` creates them)"
                ))),
                v if v > expected => Err(StoreError::Schema { found, expected }),
                _ => Ok(()),
            }
        })?;
        Ok(r)
    }

    fn new(url: &str, pool_size: usize) -> Result<PgReader, StoreError> {
        let open = |source: StoreError| StoreError::Open {
            path: redact(url),
            source: Box::new(source),
        };
        let mut cfg = tokio_postgres::Config::from_str(url)
            .map_err(|e| open(StoreError::Corrupt(format!("the connection string: {e}"))))?;
        cfg.connect_timeout(Duration::from_secs(5));
        cfg.application_name("warden");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("warden-pg")
            .enable_all()
            .build()
            .map_err(|e| open(StoreError::Corrupt(format!("cannot start a runtime: {e}"))))?;
        let mgr = Manager::from_config(
            cfg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| open(StoreError::Corrupt(e.to_string())))?;
        Ok(PgReader {
            handle: rt.handle().clone(),
            rt: Some(rt),
            pool,
            url: url.to_owned(),
            config: cfg,
        })
    }

    /// Runs `f` with a pooled connection on the store's runtime and waits
    /// for it (from any thread, inside another runtime or not).
    fn block<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send,
    {
        let pool = self.pool.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let r = match pool.get().await {
                Ok(c) => f(c).await,
                Err(e) => Err(pool_err(e)),
            };
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or(Err(StoreError::WriterGone))
    }

    /// See [`Store::approval`].
    pub(crate) fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        let id = id.to_owned();
        self.block(move |c| async move {
            let st = c
                .prepare_cached(&format!("{APPROVAL_COLUMNS} WHERE id = $1"))
                .await
                .map_err(db)?;
            let row = c.query_opt(&st, &[&id]).await.map_err(db)?;
            row.map(|r| finish_approval(read_approval(&r)?)).transpose()
        })
    }

    /// See [`Store::approvals`].
    pub(crate) fn approvals(
        &self,
        state: ApprovalState,
        limit: usize,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.block(move |c| async move {
            let st = c
                .prepare_cached(&format!(
                    "{APPROVAL_COLUMNS} WHERE state = $1 ORDER BY created_ms DESC, id LIMIT $2"
                ))
                .await
                .map_err(db)?;
            let rows = c.query(&st, &[&state.as_str(), &limit]).await.map_err(db)?;
            rows.iter()
                .map(|r| finish_approval(read_approval(r)?))
                .collect()
        })
    }

    /// See [`Store::count_approvals`].
    pub(crate) fn count_approvals(&self, state: ApprovalState) -> Result<u64, StoreError> {
        self.block(move |c| async move {
            let row = c
                .query_one(
                    "SELECT count(*) FROM approvals WHERE state = $1",
                    &[&state.as_str()],
                )
                .await
                .map_err(db)?;
            let n: i64 = row.try_get(0).map_err(db)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// See [`Store::revoked`].
    pub(crate) fn revoked(&self) -> Result<Vec<String>, StoreError> {
        self.block(|c| async move {
            let rows = c
                .query("SELECT token_id FROM revocations ORDER BY token_id", &[])
                .await
                .map_err(db)?;
            rows.iter().map(|r| r.try_get(0).map_err(db)).collect()
        })
    }

    /// Whether one token is revoked, as committed.
    pub fn is_revoked(&self, token_id: &str) -> Result<bool, StoreError> {
        let id = token_id.to_owned();
        self.block(move |c| async move { is_revoked(&c, &id).await })
    }

    /// See [`Store::run_state`].
    pub(crate) fn run_state(&self, token_id: &str) -> Result<Option<String>, StoreError> {
        let id = token_id.to_owned();
        self.block(move |c| async move {
            let row = c
                .query_opt("SELECT state FROM runs WHERE token_id = $1", &[&id])
                .await
                .map_err(db)?;
            Ok(row
                .map(|r| r.try_get::<_, Option<String>>(0))
                .transpose()
                .map_err(db)?
                .flatten())
        })
    }

    /// Records with seq > `after`, in order, at most `limit`.
    pub fn page(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.block(move |c| async move { records_after(&c, after, limit).await })
    }

    /// Records matching a filter, in seq order.
    pub fn records(&self, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError> {
        q.run(|after, limit| self.page(after, limit))
    }

    /// Verifies the fleet's whole chain and its signed head in one
    /// snapshot (a `REPEATABLE READ` transaction), page by page.
    pub fn verify(
        &self,
        keys: impl Into<token::KeySet>,
    ) -> Result<Result<VerifyReport, VerifyFailure>, StoreError> {
        let keys: token::KeySet = keys.into();
        // One snapshot, read page by page.
        self.snapshot(|t| {
            let head = t.handle.block_on(read_head(t.c)).and_then(|(_, h)| h);
            verify_log(keys, head, |after| {
                t.handle.block_on(records_after(t.c, after, 4096))
            })
        })
    }

    /// Runs `f` on one snapshot of the log (a `REPEATABLE READ`
    /// transaction), on a thread of its own that blocks on the runtime.
    fn snapshot<T: Send>(
        &self,
        f: impl FnOnce(&mut PgTree<'_>) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        let handle = self.handle.clone();
        let pool = self.pool.clone();
        std::thread::scope(|s| {
            s.spawn(move || {
                let c = handle.block_on(pool.get()).map_err(pool_err)?;
                handle
                    .block_on(c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                    .map_err(db)?;
                let r = f(&mut PgTree {
                    handle: &handle,
                    c: &c,
                });
                let _ = handle.block_on(c.batch_execute("COMMIT"));
                r
            })
            .join()
            .unwrap_or(Err(StoreError::WriterGone))
        })
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
struct PgTree<'a> {
    handle: &'a tokio::runtime::Handle,
    c: &'a Object,
}

impl TreeRead for PgTree<'_> {
    fn head(&mut self) -> Result<Option<SignedHead>, StoreError> {
        self.handle.block_on(read_head(self.c)).and_then(|(_, h)| h)
    }

    fn tree_size(&mut self) -> Result<u64, StoreError> {
        if self.handle.block_on(schema_version(self.c))? < 3 {
            return Ok(0);
        }
        Ok(self
            .handle
            .block_on(read_head_with(self.c, false, true))?
            .0
            .tree
            .size())
    }

    fn stored_node(&mut self, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
        let (level, idx) = (level as i32, seq_i64(index)?);
        let row = self
            .handle
            .block_on(self.c.query_opt(
                "SELECT hash FROM audit_tree WHERE level = $1 AND idx = $2",
                &[&level, &idx],
            ))
            .map_err(db)?;
        row.map(|r| {
            r.try_get::<_, Vec<u8>>(0)
                .map_err(db)?
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("audit tree node {level}/{idx}")))
        })
        .transpose()
    }

    fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.handle.block_on(records_after(self.c, after, limit))
    }
}

const APPROVAL_COLUMNS: &str =
    "SELECT id, submission_id, agent, spec, plan, reasons, envelope, state, created_ms,
            decided_by, decision_reason, decided_ms, token_id, token, submitted_by, marks, call
     FROM approvals";

fn read_approval(r: &tokio_postgres::Row) -> Result<ApprovalRow, StoreError> {
    Ok((
        ApprovalRecord {
            id: r.try_get(0).map_err(db)?,
            submission_id: r.try_get(1).map_err(db)?,
            agent: r.try_get(2).map_err(db)?,
            spec: r.try_get(3).map_err(db)?,
            plan: r.try_get(4).map_err(db)?,
            reasons: Vec::new(),
            envelope_json: r.try_get(6).map_err(db)?,
            state: ApprovalState::Pending,
            created_ms: r.try_get(8).map_err(db)?,
            decided_by: r.try_get(9).map_err(db)?,
            decision_reason: r.try_get(10).map_err(db)?,
            decided_ms: r.try_get(11).map_err(db)?,
            token_id: r.try_get(12).map_err(db)?,
            token: r.try_get(13).map_err(db)?,
            submitted_by: r.try_get(14).map_err(db)?,
            marks: Vec::new(),
            call: None,
        },
        r.try_get(5).map_err(db)?,
        r.try_get(7).map_err(db)?,
        r.try_get(15).map_err(db)?,
        r.try_get(16).map_err(db)?,
    ))
}

fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("audit seq {seq}")))
}

async fn records_after(
    c: &Object,
    after: u64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let st = c
        .prepare_cached(
            "SELECT seq, time_ms, kind, body, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .await
        .map_err(db)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c
        .query(&st, &[&seq_i64(after)?, &limit])
        .await
        .map_err(db)?;
    read_records(&rows)
}

fn read_records(rows: &[tokio_postgres::Row]) -> Result<Vec<AuditRecord>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                seq: r.try_get::<_, i64>(0).map_err(db)? as u64,
                time_ms: r.try_get(1).map_err(db)?,
                kind: r.try_get(2).map_err(db)?,
                body: r.try_get(3).map_err(db)?,
                prev_hash: r.try_get(4).map_err(db)?,
                hash: r.try_get(5).map_err(db)?,
            })
        })
        .collect()
}

async fn is_revoked(c: &Object, token_id: &str) -> Result<bool, StoreError> {
    let st = c
        .prepare_cached("SELECT 1 FROM revocations WHERE token_id = $1")
        .await
        .map_err(db)?;
    Ok(c.query_opt(&st, &[&token_id]).await.map_err(db)?.is_some())
}

/// The chain's head row and its signed head (`FOR UPDATE` inside a
/// writing transaction).
/// With `tree`, the tree's frontier too (a store of version 3 or later;
/// `warden audit verify` reads older ones without it).
async fn read_head_with(
    c: &Object,
    lock: bool,
    tree: bool,
) -> Result<(Chain, Result<Option<SignedHead>, StoreError>), StoreError> {
    let sql = match (lock, tree) {
        (true, _) => {
            "SELECT seq, hash, since_checkpoint, signed_head, tree FROM audit_head WHERE id = 1 FOR UPDATE"
        }
        (false, true) => {
            "SELECT seq, hash, since_checkpoint, signed_head, tree FROM audit_head WHERE id = 1"
        }
        (false, false) => {
            "SELECT seq, hash, since_checkpoint, signed_head, NULL::BYTEA FROM audit_head WHERE id = 1"
        }
    };
    let st = c.prepare_cached(sql).await.map_err(db)?;
    let row = c
        .query_opt(&st, &[])
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::Corrupt("the audit_head row is missing".into()))?;
    let seq: i64 = row.try_get(0).map_err(db)?;
    let hash: String = row.try_get(1).map_err(db)?;
    let since: i64 = row.try_get(2).map_err(db)?;
    let signed: Option<String> = row.try_get(3).map_err(db)?;
    let tree: Option<Vec<u8>> = row.try_get(4).map_err(db)?;
    let chain = Chain {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("head seq {seq}")))?,
        hash: parse_hash(&hash)?,
        since_checkpoint: u64::try_from(since).unwrap_or(0),
        tree: tree.map_or(Ok(transparency::Frontier::new()), |b| parse_frontier(&b))?,
    };
    Ok((chain, signed.map(|t| parse_signed_head(&t)).transpose()))
}

async fn read_head(
    c: &Object,
) -> Result<(Chain, Result<Option<SignedHead>, StoreError>), StoreError> {
    read_head_with(c, false, false).await
}

async fn schema_version(c: &Object) -> Result<i64, StoreError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('warden_schema') IS NOT NULL", &[])
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
    if !exists {
        return Ok(0);
    }
    c.query_one(
        "SELECT COALESCE(MAX(version), 0)::BIGINT FROM warden_schema",
        &[],
    )
    .await
    .map_err(db)?
    .try_get(0)
    .map_err(db)
}

/// Applies the migrations this database lacks, each in its own
/// transaction, under an advisory lock (replicas starting together).
async fn migrate(c: &Object) -> Result<(), StoreError> {
    c.query_one("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    let res = async {
        c.batch_execute(
            "CREATE TABLE IF NOT EXISTS warden_schema (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )
        .await
        .map_err(db)?;
        let found = schema_version(c).await?;
        let expected = MIGRATIONS.len() as i64;
        if found > expected {
            return Err(StoreError::Schema { found, expected });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = i as i64 + 1;
            c.batch_execute("BEGIN").await.map_err(db)?;
            let step = async {
                c.batch_execute(sql).await.map_err(db)?;
                c.execute(
                    "INSERT INTO warden_schema(version, applied_ms) VALUES ($1, $2)",
                    &[&version, &now_ms()],
                )
                .await
                .map_err(db)?;
                c.batch_execute("COMMIT").await.map_err(db)
            }
            .await;
            if let Err(e) = step {
                let _ = c.batch_execute("ROLLBACK").await;
                return Err(e);
            }
            tracing::info!("PostgreSQL store: applied migration {version}");
        }
        Ok(())
    }
    .await;
    let _ = c
        .query_one("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    res
}

/// The writer's connection: a pooled client (taken again after a failure),
/// driven from the writer thread by blocking on the store's runtime.
struct PgConn {
    handle: tokio::runtime::Handle,
    pool: Pool,
    client: Option<Object>,
}

impl PgConn {
    /// Runs `f` on the transaction's client. Only `begin` takes a client
    /// from the pool: a connection lost inside a transaction fails the
    /// rest of the group, never continues it on another connection.
    fn with<T>(
        &mut self,
        f: impl for<'c> FnOnce(
            &'c Object,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>,
        >,
    ) -> Result<T, StoreError> {
        let handle = self.handle.clone();
        let c = self.client.as_ref().ok_or_else(|| {
            StoreError::Unavailable("the connection was lost in the transaction".into())
        })?;
        let r = handle.block_on(f(c));
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        r
    }

    fn exec(&mut self, sql: &'static str) -> Result<(), StoreError> {
        self.with(move |c| Box::pin(async move { c.batch_execute(sql).await.map_err(db) }))
    }
}

impl RunRead for PgConn {
    fn is_revoked(&mut self, token_id: &str) -> Result<bool, StoreError> {
        let id = token_id.to_owned();
        self.with(move |c| Box::pin(async move { is_revoked(c, &id).await }))
    }
}

impl WriteConn for PgConn {
    fn begin(&mut self) -> Result<Chain, StoreError> {
        if self.client.is_none() {
            let c = self.handle.block_on(self.pool.get()).map_err(pool_err)?;
            self.client = Some(c);
        }
        self.with(|c| {
            Box::pin(async move {
                c.batch_execute("BEGIN").await.map_err(db)?;
                Ok(read_head_with(c, true, true).await?.0)
            })
        })
    }

    fn savepoint(&mut self) -> Result<(), StoreError> {
        self.exec("SAVEPOINT job")
    }

    fn release(&mut self) -> Result<(), StoreError> {
        self.exec("RELEASE SAVEPOINT job")
    }

    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.exec("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")
    }

    fn run_state_for_update(
        &mut self,
        token_id: &str,
        expires_s: i64,
    ) -> Result<Option<String>, StoreError> {
        let id = token_id.to_owned();
        self.with(move |c| {
            Box::pin(async move {
                // A run without a row gets one first: its insertion is what
                // a second replica starting the same run waits on.
                let ins = c
                    .prepare_cached(
                        "INSERT INTO runs(token_id, state, expires_s, updated_ms) VALUES ($1, NULL, $2, $3)
                         ON CONFLICT (token_id) DO NOTHING",
                    )
                    .await
                    .map_err(db)?;
                c.execute(&ins, &[&id, &expires_s, &now_ms()])
                    .await
                    .map_err(db)?;
                let sel = c
                    .prepare_cached("SELECT state FROM runs WHERE token_id = $1 FOR UPDATE")
                    .await
                    .map_err(db)?;
                let row = c.query_one(&sel, &[&id]).await.map_err(db)?;
                row.try_get::<_, Option<String>>(0).map_err(db)
            })
        })
    }

    fn insert(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        let r = r.clone();
        self.with(move |c| {
            Box::pin(async move {
                let st = c
                    .prepare_cached(
                        "INSERT INTO audit(seq, time_ms, kind, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .await
                    .map_err(db)?;
                c.execute(
                    &st,
                    &[&seq_i64(r.seq)?, &r.time_ms, &r.kind, &r.body, &r.prev_hash, &r.hash],
                )
                .await
                .map_err(db)?;
                Ok(())
            })
        })
    }

    fn insert_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), StoreError> {
        let (level, idx, hash) = (level as i32, seq_i64(index)?, hash.to_vec());
        self.with(move |c| {
            Box::pin(async move {
                let st = c
                    .prepare_cached(
                        "INSERT INTO audit_tree(level, idx, hash) VALUES ($1, $2, $3)
                         ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
                    )
                    .await
                    .map_err(db)?;
                c.execute(&st, &[&level, &idx, &hash]).await.map_err(db)?;
                Ok(())
            })
        })
    }

    fn records_after(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.with(move |c| Box::pin(async move { records_after(c, after, limit).await }))
    }

    fn commit(&mut self, chain: &Chain, signed: Option<&SignedHead>) -> Result<(), StoreError> {
        let tree = chain.tree.to_bytes();
        let signed = signed
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (seq, hash, since) = (
            seq_i64(chain.seq)?,
            hex::encode(chain.hash),
            seq_i64(chain.since_checkpoint)?,
        );
        self.with(move |c| {
            Box::pin(async move {
                let st = c
                    .prepare_cached(
                        "UPDATE audit_head SET seq = $1, hash = $2, since_checkpoint = $3,
                            signed_head = COALESCE($4, signed_head), tree = $5 WHERE id = 1",
                    )
                    .await
                    .map_err(db)?;
                c.execute(&st, &[&seq, &hash, &since, &signed, &tree])
                    .await
                    .map_err(db)?;
                // Delivered to every replica's feed when (and only if) the
                // transaction commits.
                c.execute("SELECT pg_notify('warden_audit', $1)", &[&seq.to_string()])
                    .await
                    .map_err(db)?;
                c.batch_execute("COMMIT").await.map_err(db)
            })
        })
    }

    fn rollback(&mut self) {
        if self.client.is_some()
            && self.exec("ROLLBACK").is_err()
            && let Some(c) = self.client.take()
        {
            // A client whose state is unknown is not used again, here or
            // by the pool's readers.
            drop(Object::take(c));
        }
    }

    fn apply(&mut self, op: &StateOp) -> Result<(), StoreError> {
        let op = op.clone();
        self.with(move |c| Box::pin(async move { apply(c, &op).await }))
    }
}

async fn apply(c: &Object, op: &StateOp) -> Result<(), StoreError> {
    match op {
        StateOp::CreateApproval(a) => {
            let reasons = serde_json::to_string(&a.reasons)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let marks =
                serde_json::to_string(&a.marks).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let call = a
                .call
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let st = c
                .prepare_cached(
                    "INSERT INTO approvals(id, submission_id, agent, spec, plan, reasons, envelope, state,
                        created_ms, decided_by, decision_reason, decided_ms, token_id, token, submitted_by, marks, call)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
                     ON CONFLICT (id) DO NOTHING",
                )
                .await
                .map_err(db)?;
            let n = c
                .execute(
                    &st,
                    &[
                        &a.id,
                        &a.submission_id,
                        &a.agent,
                        &a.spec,
                        &a.plan,
                        &reasons,
                        &a.envelope_json,
                        &a.state.as_str(),
                        &a.created_ms,
                        &a.decided_by,
                        &a.decision_reason,
                        &a.decided_ms,
                        &a.token_id,
                        &a.token,
                        &a.submitted_by,
                        &marks,
                        &call,
                    ],
                )
                .await
                .map_err(db)?;
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
            let st = c
                .prepare_cached(
                    "UPDATE approvals SET state = $2, decided_by = $3, decision_reason = $4, decided_ms = $5,
                        token_id = $6, token = $7
                     WHERE id = $1 AND state = 'pending'",
                )
                .await
                .map_err(db)?;
            let n = c
                .execute(
                    &st,
                    &[id, &state.as_str(), by, reason, at_ms, &token_id, &token],
                )
                .await
                .map_err(db)?;
            if n == 0 {
                let cur = c
                    .query_opt("SELECT state FROM approvals WHERE id = $1", &[id])
                    .await
                    .map_err(db)?
                    .map(|r| r.try_get::<_, String>(0))
                    .transpose()
                    .map_err(db)?;
                return Err(not_pending(id, cur.as_deref()));
            }
        }
        StateOp::SaveRun {
            token_id,
            state,
            expires_s,
            at_ms,
        } => {
            let st = c
                .prepare_cached(
                    "INSERT INTO runs(token_id, state, expires_s, updated_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (token_id) DO UPDATE SET state = excluded.state,
                        expires_s = excluded.expires_s, updated_ms = excluded.updated_ms",
                )
                .await
                .map_err(db)?;
            c.execute(&st, &[token_id, state, expires_s, at_ms])
                .await
                .map_err(db)?;
        }
        StateOp::Revoke {
            token_id,
            by,
            reason,
            at_ms,
        } => {
            let st = c
                .prepare_cached(
                    "INSERT INTO revocations(token_id, revoked_ms, revoked_by, reason) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (token_id) DO NOTHING",
                )
                .await
                .map_err(db)?;
            let n = c
                .execute(&st, &[token_id, at_ms, by, reason])
                .await
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::AlreadyRevoked(token_id.clone()));
            }
        }
    }
    Ok(())
}

/// A store in a PostgreSQL database, shared by every replica pointed at it.
pub struct PgStore {
    reader: PgReader,
    writer: WriterHandle,
    events: broadcast::Sender<AuditRecord>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &redact(&self.reader.url))
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, applies the migrations this database lacks, checks that
    /// the chain's tail matches its signed head, and starts the writer.
    pub fn open(opts: PgOptions, signer: Option<CheckpointSigner>) -> Result<PgStore, StoreError> {
        let reader = PgReader::new(&opts.url, opts.pool_size)?;
        let open = |source: StoreError| StoreError::Open {
            path: opts.redacted(),
            source: Box::new(source),
        };
        let check_signer = signer.clone();
        let head_seq = reader
            .block(move |c| async move {
                migrate(&c).await?;
                // Run states of tokens that expired a day ago or more can
                // no longer matter (the margin covers a clock set back).
                c.execute(
                    "DELETE FROM runs WHERE expires_s < $1",
                    &[&(now_ms() / 1000 - 86_400)],
                )
                .await
                .map_err(db)?;
                // The head row and the last record in one snapshot: other
                // replicas may be appending meanwhile.
                c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
                    .map_err(db)?;
                let read = async {
                    Ok::<_, StoreError>((
                        read_head_with(&c, false, true).await?,
                        records_after_last(&c).await?,
                    ))
                }
                .await;
                let _ = c.batch_execute("COMMIT").await;
                let ((chain, signed), last) = read?;
                if last != (chain.seq, hex::encode(chain.hash)) {
                    return Err(StoreError::Corrupt(format!(
                        "the audit log ends at record {} but its head row names record {}; \
                         refusing to write on top of it (run `warden audit verify`)",
                        last.0, chain.seq
                    )));
                }
                check_signed_head(check_signer.as_ref(), signed?.as_ref(), &chain)?;
                Ok(chain.seq)
            })
            .map_err(|e| match e {
                e @ (StoreError::Corrupt(_) | StoreError::Schema { .. }) => e,
                e => open(e),
            })?;
        let (events, _) = broadcast::channel(4096);
        let writer = WriterHandle::spawn(
            "warden-store-writer",
            Writer {
                conn: PgConn {
                    handle: reader.handle.clone(),
                    pool: reader.pool.clone(),
                    client: None,
                },
                signer,
                checkpoint_every: opts.checkpoint_every,
                max_group: opts.max_group,
                // The feed below broadcasts every replica's records, this
                // one's included, in chain order.
                events: None,
            },
        )?;
        reader
            .handle
            .spawn(feed(reader.config.clone(), events.clone(), head_seq));
        Ok(PgStore {
            reader,
            writer,
            events,
        })
    }

    /// The reads of this store.
    pub fn reader(&self) -> &PgReader {
        &self.reader
    }
}

/// The fleet's live feed: listens on `warden_audit` (each replica's commit
/// notifies with its last seq) on a connection of its own, and broadcasts
/// every record after `last`, in order, whichever replica wrote it. A lost
/// connection is made again; the records committed meanwhile are read then.
async fn feed(
    config: tokio_postgres::Config,
    events: broadcast::Sender<AuditRecord>,
    mut last: u64,
) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut conn)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                // Drives the connection, and hands its notifications over.
                let driver = tokio::spawn(async move {
                    while let Some(Ok(m)) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                        if let tokio_postgres::AsyncMessage::Notification(_) = m
                            && tx.send(()).is_err()
                        {
                            break;
                        }
                    }
                });
                if let Err(e) = follow(&client, &events, &mut last, &mut rx).await {
                    tracing::warn!("the store's live feed lost its connection: {e}");
                }
                driver.abort();
            }
            Err(e) => tracing::warn!("the store's live feed cannot connect: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn follow(
    client: &tokio_postgres::Client,
    events: &broadcast::Sender<AuditRecord>,
    last: &mut u64,
    notified: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) -> Result<(), StoreError> {
    client
        .batch_execute("LISTEN warden_audit")
        .await
        .map_err(db)?;
    let page = client
        .prepare(
            "SELECT seq, time_ms, kind, body, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT 1024",
        )
        .await
        .map_err(db)?;
    loop {
        // Everything after `last`, page by page.
        loop {
            let rows = client.query(&page, &[&seq_i64(*last)?]).await.map_err(db)?;
            let n = rows.len();
            for r in read_records(&rows)? {
                *last = r.seq;
                let _ = events.send(r);
            }
            if n < 1024 {
                break;
            }
        }
        if notified.recv().await.is_none() {
            return Err(StoreError::Unavailable("the connection closed".into()));
        }
        while notified.try_recv().is_ok() {}
    }
}

/// The last record's seq and hash (`(0, genesis)` for an empty log).
async fn records_after_last(c: &Object) -> Result<(u64, String), StoreError> {
    let row = c
        .query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .await
        .map_err(db)?;
    match row {
        None => Ok((0, hex::encode(crate::audit::GENESIS))),
        Some(r) => Ok((
            r.try_get::<_, i64>(0).map_err(db)? as u64,
            r.try_get(1).map_err(db)?,
        )),
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.writer.close();
    }
}

impl super::sealed::Backend for PgStore {
    fn writer(&self) -> &WriterHandle {
        &self.writer
    }
}

impl Store for PgStore {
    fn prove_inclusion(&self, seq: u64) -> Result<InclusionProof, StoreError> {
        self.reader.prove_inclusion(seq)
    }

    fn prove_consistency(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        self.reader.prove_consistency(old, new)
    }

    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        self.reader.approval(id)
    }

    fn approvals(
        &self,
        state: ApprovalState,
        limit: usize,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.reader.approvals(state, limit)
    }

    fn count_approvals(&self, state: ApprovalState) -> Result<u64, StoreError> {
        self.reader.count_approvals(state)
    }

    fn revoked(&self) -> Result<Vec<String>, StoreError> {
        self.reader.revoked()
    }

    fn run_state(&self, token_id: &str) -> Result<Option<String>, StoreError> {
        self.reader.run_state(token_id)
    }

    fn records(&self, q: &RecordQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.reader.records(q)
    }

    fn subscribe(&self) -> broadcast::Receiver<AuditRecord> {
        self.events.subscribe()
    }

    fn verify_chain(
        &self,
        keys: &token::KeySet,
    ) -> Result<Result<VerifyReport, VerifyFailure>, StoreError> {
        self.reader.verify(keys)
    }

    fn close(&self) {
        self.writer.close();
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://warden:s3cret@db:5432/warden"),
            "postgres://warden:***@db:5432/warden"
        );
        assert_eq!(
            redact("postgres://warden@db/warden"),
            "postgres://warden@db/warden"
        );
        assert!(!redact("host=db password=s3cret").contains("s3cret"));
    }
}
