//! One run, three set-ups of `warden serve` under the same closed-loop load
//! (`service::loadgen`, the engine of `warden load`): one replica on
//! SQLite, one on PostgreSQL, two on PostgreSQL (the clients split between
//! them); then the audit chain's append ceiling on PostgreSQL, the fleet's
//! serialization point (two stores, as two replicas, appending one record
//! per transaction from many threads). PostgreSQL is a real server started
//! for the run (`testkit::postgres`). Each line gives the load average
//! when it was measured: the machine may be shared.
//!
//!   cargo bench -p warden --bench fleet
//!   WARDEN_FLEET_SECONDS=10 WARDEN_FLEET_CLIENTS=50 cargo bench -p warden --bench fleet

use service::loadgen::{LoadOptions, LoadReport};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "submitter-secret-for-the-bench-01";

const SPEC: &str = r#"spec "bank" {
  allow read under "/srv/data/"
  allow call get_balance
}
"#;

const PLAN: &str = r#"plan "look" {
  agent "bot"
  call get_balance()
}
"#;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, store: Option<&str>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(["serve", "--config"]).arg(dir.join("serve.toml"));
    if let Some(url) = store {
        cmd.args(["--store", url]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start warden serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("warden serve did not start: {line:?}"))
        .to_owned();
    Server(child, format!("http://{addr}"))
}

fn options(endpoint: &str, clients: usize, secs: u64) -> LoadOptions {
    LoadOptions {
        endpoint: endpoint.into(),
        tls_ca: None,
        secret: SECRET.into(),
        spec: "bank".into(),
        agent: "bot".into(),
        plan: PLAN.into(),
        clients,
        duration: Duration::from_secs(secs),
        max_requests: 0,
        rate: None,
    }
}

/// Loads every endpoint at once (the clients split between them) and
/// merges what they measured.
fn load(rt: &tokio::runtime::Runtime, endpoints: &[&str], clients: usize, secs: u64) -> LoadReport {
    let each = (clients / endpoints.len()).max(1);
    let runs: Vec<_> = endpoints
        .iter()
        .map(|e| rt.spawn(service::loadgen::run(options(e, each, secs))))
        .collect();
    let mut all = LoadReport::default();
    for r in runs {
        let r = rt.block_on(r).expect("load task").expect("load run");
        all.ok += r.ok;
        all.errors += r.errors;
        all.elapsed = all.elapsed.max(r.elapsed);
        all.latencies.extend(r.latencies);
    }
    all.latencies.sort();
    all
}

fn head_seq(url: &str) -> u64 {
    let out = Command::new("psql")
        .args([url, "-Atc", "SELECT seq FROM audit_head"])
        .output()
        .expect("psql");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the head's seq")
}

fn row(name: &str, r: &LoadReport, extra: &str, load: &str) {
    println!(
        "| {name} | {:.0} | {:.2} | {:.2} | {} | {extra} | {load} |",
        r.throughput(),
        r.quantile(0.5).as_secs_f64() * 1000.0,
        r.quantile(0.99).as_secs_f64() * 1000.0,
        r.errors,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with no
    // arguments and expects it to be quick: only measure when benching.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs = env_or("WARDEN_FLEET_SECONDS", 10);
    let clients = env_or("WARDEN_FLEET_CLIENTS", 50) as usize;
    let pg = testkit::postgres::Postgres::start();
    let url = pg.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let kp = token::SigningKey::from_seed(&[3; 32]).expect("key");
    std::fs::create_dir_all(d.join("keys")).expect("keys");
    std::fs::write(d.join("keys/warden.key"), &*kp.to_paserk()).expect("key");
    std::fs::set_permissions(
        d.join("keys/warden.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("key mode");
    std::fs::create_dir_all(d.join("specs")).expect("specs");
    std::fs::write(d.join("specs/bank.spec"), SPEC).expect("spec");
    std::fs::write(
        d.join("serve.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\ndb = \"warden.db\"\nspecs = \"specs\"\nkey = \"keys/warden.key\"\n\
             reload_poll_ms = 0\n[[credentials]]\nname = \"bench\"\nrole = \"submitter\"\nsecret = \"{SECRET}\"\n"
        ),
    )
    .expect("config");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "closed loop, {clients} clients, {secs} s each, one-step plan; load average (1, 5, 15 min) at the end of each"
    );
    println!("| set-up | plans/s | p50 ms | p99 ms | errors | audit appends/s | load average |");
    println!("|---|---|---|---|---|---|---|");
    {
        let s = serve(d, None);
        let r = load(&rt, &[&s.1], clients, secs);
        row("1 replica, SQLite", &r, "-", &loadavg());
    }
    {
        let s = serve(d, Some(&url));
        let before = head_seq(&url);
        let r = load(&rt, &[&s.1], clients, secs);
        let appended = head_seq(&url) - before;
        let rate = format!("{:.0}", appended as f64 / r.elapsed.as_secs_f64());
        row("1 replica, PostgreSQL", &r, &rate, &loadavg());
    }
    {
        let (a, b) = (serve(d, Some(&url)), serve(d, Some(&url)));
        let before = head_seq(&url);
        let r = load(&rt, &[&a.1, &b.1], clients, secs);
        let appended = head_seq(&url) - before;
        let rate = format!("{:.0}", appended as f64 / r.elapsed.as_secs_f64());
        row("2 replicas, PostgreSQL", &r, &rate, &loadavg());
    }

    // The append ceiling: two stores (two replicas' writers) on the
    // database, 32 threads committing one record each, for `secs`.
    use service::store::postgres::{PgOptions, PgStore};
    use service::store::{Store, Txn};
    let signer = service::audit::CheckpointSigner::new(kp);
    let stores: Vec<std::sync::Arc<PgStore>> = (0..2)
        .map(|_| {
            std::sync::Arc::new(
                PgStore::open(PgOptions::new(url.clone()), Some(signer.clone())).expect("store"),
            )
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let s = stores[i % 2].clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < until {
                    let ev = service::audit::NewEvent::new(
                        service::audit::EventKind::Enforcement,
                        serde_json::json!({"bench": i, "n": n}),
                    );
                    s.commit(Txn::events(vec![ev]))
                        .wait_blocking()
                        .expect("append");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let started = Instant::now();
    let total: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "\naudit append ceiling on PostgreSQL (2 writers, 32 threads, 1 record per transaction): {rate:.0} appends/s; load average {}",
        loadavg()
    );
    for s in &stores {
        s.close();
    }
}
