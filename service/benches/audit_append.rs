//! The cost of appending to the audit log: `Store::commit` of one record
//! per transaction on a SQLite store, from one client (every append waits
//! for its own fsync) and from 16 at once (group commit: one fsync per
//! group, so the CPU cost of an append shows). It uses only the store's
//! public API, so the same file measures an older version of the store
//! too (docs/benchmarks.md gives the before/after commands and figures).
//! `WARDEN_BENCH_DIR=/dev/shm` takes the disk out (fsync is free there).
//!
//!   cargo bench -p service --bench audit_append

use criterion::Criterion;
use service::audit::{CheckpointSigner, EventKind, NewEvent};
use service::store::Store;
use service::store::Txn;
use service::store::sqlite::{SqliteOptions, SqliteStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn event(i: u64) -> NewEvent {
    // About the size of a verdict record.
    NewEvent::new(
        EventKind::Verdict,
        serde_json::json!({
            "submission_id": format!("{i:032x}"), "agent": "bench-agent", "verdict": "accept",
            "spec": "bank", "spec_hash": "c896d4910a38b1f6ba5c5555e39b519f032b2058e8c98774e98b644fb3bacb5e",
            "plan_hash": "c1278b67963327cbb96ff88ca823d8ee6875dd735d262041b548c0a6963eb437",
            "violations": [], "token_id": format!("{i:032x}"),
        }),
    )
}

fn open(dir: &std::path::Path) -> Arc<SqliteStore> {
    let key = token::SigningKey::from_seed(&[9; 32]).expect("key");
    Arc::new(
        SqliteStore::open(
            &dir.join("bench.db"),
            Some(CheckpointSigner::new(key)),
            SqliteOptions::default(),
        )
        .expect("open the store"),
    )
}

fn bench(c: &mut Criterion) {
    let base = std::env::var_os("WARDEN_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = match &base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory");
    let store = open(dir.path());
    let mut g = c.benchmark_group("audit append");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("one client", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            store
                .commit(Txn::events(vec![event(n)]))
                .wait_blocking()
                .expect("commit")
        })
    });
    // 16 clients: time per record appended (iters records in all).
    g.bench_function("16 clients, per record", |b| {
        b.iter_custom(|iters| {
            let per = iters.div_ceil(16);
            let start = Instant::now();
            let threads: Vec<_> = (0..16)
                .map(|t| {
                    let s = store.clone();
                    std::thread::spawn(move || {
                        for i in 0..per {
                            s.commit(Txn::events(vec![event(t * 1_000_000 + i)]))
                                .wait_blocking()
                                .expect("commit");
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("a client");
            }
            start.elapsed().mul_f64(iters as f64 / (per * 16) as f64)
        })
    });
    g.finish();
    store.close();
}

// What `criterion_group!` and `criterion_main!` expand to, without the
// undocumented public `benches` function they define.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
