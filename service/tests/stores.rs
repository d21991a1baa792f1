//! The store's contract, run against both back ends behind the one
//! [`Store`] trait: SQLite in a temporary file, and a real PostgreSQL
//! (`testkit::postgres`, started per test). Then what only a shared
//! database has: two stores (two replicas) writing one chain and one run.

use serde_json::json;
use service::audit::{CheckpointSigner, EventKind, NewEvent, Problem};
use service::store::postgres::{PgOptions, PgStore};
use service::store::sqlite::{SqliteOptions, SqliteStore};
use service::store::{ApprovalRecord, ApprovalState, RecordQuery, StateOp, Store, StoreError, Txn};
use std::sync::Arc;
use testkit::postgres::Postgres;

fn signer() -> CheckpointSigner {
    CheckpointSigner::new(token::SigningKey::from_seed(&[7; 32]).unwrap())
}

fn ev(i: u64) -> NewEvent {
    NewEvent::new(
        EventKind::Submission,
        json!({"submission_id": format!("s{i}"), "agent": "bot"}),
    )
}

/// A back end under test: opens a store (again) on the same data.
trait Backend {
    fn open(&self, checkpoint_every: u64) -> Arc<dyn Store>;
    /// Runs SQL on the data behind the store's back (an attacker, or an
    /// older version).
    fn sql(&self, sql: &str);
    /// Takes the store back to before the Merkle tree (its schema and data).
    fn drop_tree(&self);
    /// The log's read-only handle, as `warden audit` opens it.
    fn log(&self) -> service::store::AuditLog;
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    fn open(&self, checkpoint_every: u64) -> Arc<dyn Store> {
        Arc::new(
            SqliteStore::open(
                &self.0.path().join("w.db"),
                Some(signer()),
                SqliteOptions {
                    checkpoint_every,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    }

    fn sql(&self, sql: &str) {
        rusqlite::Connection::open(self.path())
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    fn drop_tree(&self) {
        self.sql(
            "DROP TABLE audit_tree; DELETE FROM meta WHERE key = 'tree';
             UPDATE meta SET value = '3' WHERE key = 'schema';",
        );
    }

    fn log(&self) -> service::store::AuditLog {
        service::store::AuditLog::open(&self.path(), None).unwrap()
    }
}

impl Sqlite {
    fn path(&self) -> std::path::PathBuf {
        self.0.path().join("w.db")
    }
}

struct Pg(Postgres);

impl Backend for Pg {
    fn open(&self, checkpoint_every: u64) -> Arc<dyn Store> {
        Arc::new(
            PgStore::open(
                PgOptions {
                    checkpoint_every,
                    ..PgOptions::new(self.0.url())
                },
                Some(signer()),
            )
            .unwrap(),
        )
    }

    fn sql(&self, sql: &str) {
        let psql = std::process::Command::new("psql")
            .args([&self.0.url(), "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql (postgresql-client) is installed with postgresql");
        assert!(psql.status.success(), "{psql:?}");
    }

    fn drop_tree(&self) {
        self.sql(
            "DROP TABLE audit_tree; ALTER TABLE audit_head DROP COLUMN tree;
             DELETE FROM warden_schema WHERE version = 3;",
        );
    }

    fn log(&self) -> service::store::AuditLog {
        service::store::AuditLog::open(std::path::Path::new(""), Some(&self.0.url())).unwrap()
    }
}

fn sqlite() -> Sqlite {
    Sqlite(tempfile::tempdir().unwrap())
}

fn pg() -> Pg {
    Pg(Postgres::start())
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
        marks: Vec::new(),
        call: None,
    }
}

fn chain_checkpoints_and_reopen(b: &dyn Backend) {
    {
        let s = b.open(3);
        for i in 0..7 {
            s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
        }
        s.close();
    }
    let s = b.open(3);
    let rep = s
        .verify_chain(&token::KeySet::from(signer().public_key()))
        .unwrap()
        .unwrap();
    // 7 events, 2 periodic checkpoints, 1 on close.
    assert_eq!((rep.records, rep.checkpoints, rep.uncovered), (10, 3, 0));
    let c = s.commit(Txn::events(vec![ev(8)])).wait_blocking().unwrap();
    assert_eq!(c.last_seq(), 11);
    let q = RecordQuery {
        kinds: vec![EventKind::Submission],
        limit: 2,
        ..Default::default()
    };
    assert_eq!(s.records(&q).unwrap().len(), 2);
}

fn approvals_decide_once_and_revocations_once(b: &dyn Backend) {
    let s = b.open(0);
    let create = Txn {
        ops: vec![StateOp::CreateApproval(approval("a1"))],
        events: vec![ev(1)],
    };
    s.commit(create.clone()).wait_blocking().unwrap();
    assert!(matches!(
        s.commit(create).wait_blocking().unwrap_err(),
        StoreError::DuplicateApproval(_)
    ));
    let decide = |id: &str, state| Txn {
        ops: vec![StateOp::DecideApproval {
            id: id.into(),
            state,
            by: "alice".into(),
            reason: "ok".into(),
            at_ms: 5,
            token: None,
        }],
        events: vec![ev(2)],
    };
    s.commit(decide("a1", ApprovalState::Denied))
        .wait_blocking()
        .unwrap();
    assert!(matches!(
        s.commit(decide("a1", ApprovalState::Approved))
            .wait_blocking()
            .unwrap_err(),
        StoreError::NotPending {
            state: "denied",
            ..
        }
    ));
    assert!(matches!(
        s.commit(decide("nope", ApprovalState::Approved))
            .wait_blocking()
            .unwrap_err(),
        StoreError::ApprovalNotFound(_)
    ));
    let a = s.approval("a1").unwrap().unwrap();
    assert_eq!(a.state, ApprovalState::Denied);
    assert_eq!(a.reasons, approval("a1").reasons);
    assert_eq!(s.approvals(ApprovalState::Denied, 10).unwrap(), vec![a]);
    let revoke = || Txn {
        ops: vec![StateOp::Revoke {
            token_id: "t1".into(),
            by: "bob".into(),
            reason: "leaked".into(),
            at_ms: 9,
        }],
        events: vec![ev(3)],
    };
    s.commit(revoke()).wait_blocking().unwrap();
    assert!(matches!(
        s.commit(revoke()).wait_blocking().unwrap_err(),
        StoreError::AlreadyRevoked(_)
    ));
    assert_eq!(s.revoked().unwrap(), vec!["t1".to_string()]);
    // The failed transactions wrote no records.
    assert_eq!(s.records(&RecordQuery::default()).unwrap().len(), 3);
}

/// Counts one more action of run `t` if fewer than `max`, in the store's
/// transaction; returns whether it counted.
fn count_one(s: &dyn Store, max: u64) -> bool {
    let counted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = counted.clone();
    s.check_run(
        "t".into(),
        i64::MAX / 2,
        Box::new(move |state, revs| {
            assert!(!revs.is_revoked("t").unwrap());
            let n: u64 = state.map_or(0, |s| s.parse().unwrap());
            if n >= max {
                return Txn::events(vec![ev(1000)]);
            }
            c.store(true, std::sync::atomic::Ordering::SeqCst);
            Txn {
                ops: vec![StateOp::SaveRun {
                    token_id: "t".into(),
                    state: (n + 1).to_string(),
                    expires_s: i64::MAX / 2,
                    at_ms: 1,
                }],
                events: vec![ev(n)],
            }
        }),
    )
    .wait_blocking()
    .unwrap();
    counted.load(std::sync::atomic::Ordering::SeqCst)
}

/// Many threads over `stores` (one per replica) count one run up to `max`:
/// exactly `max` count, whatever the interleaving.
fn a_run_counts_under_its_lock(stores: &[Arc<dyn Store>], max: u64) {
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            std::thread::spawn(move || (0..4).filter(|_| count_one(&*s, max)).count())
        })
        .collect();
    let counted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(counted as u64, max);
    assert_eq!(stores[0].run_state("t").unwrap(), Some(max.to_string()));
}

fn keys() -> token::KeySet {
    token::KeySet::from(signer().public_key())
}

/// Every record's inclusion proof and every consistency proof from a head
/// kept earlier verify offline; a record changed behind the store's back
/// fails both.
fn proofs_verify_and_tampering_fails(b: &dyn Backend) {
    let s = b.open(5);
    for i in 0..13 {
        s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
    }
    // The head an auditor keeps now (16 records: 13 and 2 checkpoints).
    let kept = s.prove_inclusion(1).unwrap().head;
    assert_eq!(kept.seq, 15);
    for i in 0..30 {
        s.commit(Txn::events(vec![ev(100 + i), ev(200 + i)]))
            .wait_blocking()
            .unwrap();
    }
    let head = s.prove_inclusion(1).unwrap().head;
    for seq in 1..=head.seq {
        let p = s.prove_inclusion(seq).unwrap();
        assert_eq!(p.head, head);
        p.verify(&keys())
            .unwrap_or_else(|e| panic!("record {seq}: {e}"));
        let mut forged = p.clone();
        forged.record.body.push(' ');
        assert!(forged.verify(&keys()).is_err(), "record {seq}");
    }
    for old in 1..=head.seq {
        let c = s.prove_consistency(old, None).unwrap();
        c.verify(&keys(), None, None)
            .unwrap_or_else(|e| panic!("consistency from {old}: {e}"));
    }
    let c = s.prove_consistency(kept.seq, None).unwrap();
    c.verify(&keys(), Some(&kept), None).unwrap();
    // A proof between two earlier sizes needs the later size's head too.
    let mid = s.prove_consistency(3, Some(kept.seq)).unwrap();
    assert!(mid.head.is_none());
    assert!(mid.verify(&keys(), None, None).is_err());
    mid.verify(&keys(), None, Some(&kept)).unwrap();
    assert!(matches!(
        s.prove_inclusion(head.seq + 1),
        Err(StoreError::NoProof(_))
    ));
    assert!(matches!(
        s.prove_consistency(head.seq + 1, None),
        Err(StoreError::NoProof(_))
    ));
    // The proofs from the read-only handle are the store's.
    assert_eq!(
        b.log().prove_inclusion(7).unwrap(),
        s.prove_inclusion(7).unwrap()
    );
    s.close();
    drop(s);
    // Record 3 rewritten behind the store's back: its proof fails, and so
    // does the consistency of the rewritten log with the head kept.
    b.sql("UPDATE audit SET body = '{\"agent\":\"evil\"}' WHERE seq = 3");
    let log = b.log();
    let p = log.prove_inclusion(3).unwrap();
    assert!(p.verify(&keys()).is_err());
    let c = log.prove_consistency(kept.seq, None).unwrap();
    assert!(matches!(
        c.verify(&keys(), Some(&kept), None),
        Err(transparency::VerifyError::OldRootMismatch)
    ));
}

/// A log from before the tree (schema and signed head of the previous
/// version) gets its tree on start; its history then proves itself.
fn an_old_log_gets_its_tree_on_start(b: &dyn Backend) {
    let s = b.open(4);
    for i in 0..21 {
        s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
    }
    s.close();
    drop(s);
    let last = b
        .log()
        .records(&RecordQuery::default())
        .unwrap()
        .pop()
        .unwrap();
    // The previous version's head: seq and hash, no root.
    let hash: [u8; 32] = hex::decode(&last.hash).unwrap().try_into().unwrap();
    let key = token::SigningKey::from_seed(&[7; 32]).unwrap();
    let legacy = transparency::SignedHead {
        seq: last.seq,
        hash: last.hash.clone(),
        root: None,
        signature: hex::encode(key.sign(&transparency::head::head_message(last.seq, &hash, None))),
        kid: Some(key.public_key().key_id().to_string()),
    };
    let legacy = serde_json::to_string(&legacy).unwrap().replace('\'', "''");
    b.drop_tree();
    b.sql(&match b.log() {
        service::store::AuditLog::Sqlite(_) => {
            format!("UPDATE meta SET value = '{legacy}' WHERE key = 'head'")
        }
        service::store::AuditLog::Postgres(_) => {
            format!("UPDATE audit_head SET signed_head = '{legacy}' WHERE id = 1")
        }
    });
    // The old log verifies, and proves nothing yet.
    let rep = b.log().verify(keys()).unwrap().unwrap();
    assert!(rep.head_signed);
    assert!(b.log().prove_inclusion(1).is_err());
    let s = b.open(4);
    let p = s.prove_inclusion(last.seq).unwrap();
    assert_eq!(p.head.seq, last.seq);
    p.verify(&keys()).unwrap();
    for seq in 1..=last.seq {
        s.prove_inclusion(seq).unwrap().verify(&keys()).unwrap();
    }
    let c = s.prove_consistency(5, None).unwrap();
    c.verify(&keys(), None, None).unwrap();
    s.commit(Txn::events(vec![ev(99)])).wait_blocking().unwrap();
    s.close();
    let rep = b.log().verify(keys()).unwrap().unwrap();
    assert!(rep.head_signed);
    assert_eq!(
        Some(rep.root),
        b.log().prove_inclusion(1).unwrap().head.root
    );
}

#[test]
fn sqlite_keeps_the_contract() {
    let b = sqlite();
    proofs_verify_and_tampering_fails(&b);
    let b = sqlite();
    an_old_log_gets_its_tree_on_start(&b);
    let b = sqlite();
    chain_checkpoints_and_reopen(&b);
    let b = sqlite();
    approvals_decide_once_and_revocations_once(&b);
    let b = sqlite();
    a_run_counts_under_its_lock(&[b.open(10)], 20);
}

#[test]
fn postgres_keeps_the_contract() {
    let b = pg();
    proofs_verify_and_tampering_fails(&b);
    let b = pg();
    an_old_log_gets_its_tree_on_start(&b);
    let b = pg();
    chain_checkpoints_and_reopen(&b);
    let b = pg();
    approvals_decide_once_and_revocations_once(&b);
}

/// Two stores on one database (two replicas): one run, one count.
#[test]
fn two_postgres_stores_share_a_run() {
    let b = pg();
    a_run_counts_under_its_lock(&[b.open(10), b.open(10)], 20);
    let s = b.open(10);
    assert!(
        s.verify_chain(&token::KeySet::from(signer().public_key()))
            .unwrap()
            .is_ok()
    );
}

/// Two stores on one database commit at once: one chain, no fork, that
/// verifies with its signed head.
#[test]
fn two_postgres_stores_append_to_one_chain() {
    let b = pg();
    let stores = [b.open(10), b.open(10)];
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = stores[t % 2].clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    s.commit(Txn::events(vec![ev(t as u64 * 100 + i)]))
                        .wait_blocking()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for s in &stores {
        s.close();
    }
    let rep = b
        .open(10)
        .verify_chain(&token::KeySet::from(signer().public_key()))
        .unwrap()
        .unwrap();
    assert_eq!(rep.records - rep.checkpoints, 200);
    assert!(rep.head_signed);
    // One tree over both replicas' records.
    let log = b.log();
    for seq in [1, 77, rep.records] {
        log.prove_inclusion(seq).unwrap().verify(&keys()).unwrap();
    }
}

/// Records cut off behind the service's back: `verify` names the cut, and
/// a store refuses to open on top of it.
#[test]
fn a_cut_postgres_chain_is_detected_and_not_written_over() {
    let b = pg();
    let s = b.open(0);
    for i in 0..6 {
        s.commit(Txn::events(vec![ev(i)])).wait_blocking().unwrap();
    }
    std::mem::forget(s); // a SIGKILL: no closing checkpoint
    let psql = std::process::Command::new("psql")
        .args([&b.0.url(), "-q", "-c", "DELETE FROM audit WHERE seq > 4"])
        .output()
        .expect("psql (postgresql-client) is installed with postgresql");
    assert!(psql.status.success(), "{psql:?}");
    let log = service::store::AuditLog::open(std::path::Path::new(""), Some(&b.0.url())).unwrap();
    let err = log.verify(signer().public_key()).unwrap().unwrap_err();
    assert_eq!(err.problem, Problem::TailCut { last: 4, head: 6 });
    let e = PgStore::open(PgOptions::new(b.0.url()), Some(signer())).unwrap_err();
    assert!(e.to_string().contains("refusing to write"), "{e}");
}
