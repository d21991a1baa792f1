//! `warden audit verify | show | prove | consistency | verify-proof`: prove
//! the service's audit log intact, print it filtered, and prove one record's
//! inclusion or a later head's consistency with an earlier one (RFC 6962),
//! checkable offline with the public keys alone.

use crate::exit;
use miette::IntoDiagnostic;
use service::audit::EventKind;
use service::store::AuditLog;
use service::store::RecordQuery;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand)]
enum AuditCommand {
    /// Check the hash chain, every checkpoint signature and the signed head;
    /// name the first bad record.
    Verify(VerifyArgs),
    /// Print audit records, filtered.
    Show(ShowArgs),
    /// Print (JSON) the proof that record SEQ is in the Merkle tree the
    /// log's signed tree head signs.
    Prove(ProveArgs),
    /// Print (JSON) the proof that the log's first OLD_SIZE records are a
    /// prefix of its first NEW_SIZE (default: the signed tree head's size).
    Consistency(ConsistencyArgs),
    /// Check a proof from `prove` or `consistency` offline, with the public
    /// keys alone.
    VerifyProof(VerifyProofArgs),
}

/// Where the log is: a SQLite file, or a fleet's PostgreSQL store.
#[derive(clap::Args)]
struct LogArgs {
    /// The service's store (SQLite file).
    #[arg(long, default_value = "warden.db")]
    db: PathBuf,
    /// A fleet's PostgreSQL store instead (`postgres://…`, as given to
    /// `warden serve --store`): the one log every replica appends to.
    #[arg(
        long,
        value_name = "URL",
        env = "WARDEN_STORE",
        hide_env_values = true,
        conflicts_with = "db"
    )]
    store: Option<String>,
}

impl LogArgs {
    fn open(&self) -> Result<AuditLog, service::store::StoreError> {
        AuditLog::open(&self.db, self.store.as_deref())
    }
}

#[derive(clap::Args)]
struct ProveArgs {
    /// The record's sequence number.
    #[arg(value_name = "SEQ")]
    seq: u64,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(clap::Args)]
struct ConsistencyArgs {
    /// The size (record count) of the tree head you kept.
    #[arg(value_name = "OLD_SIZE")]
    old: u64,
    /// The later size (default: the log's signed tree head).
    #[arg(value_name = "NEW_SIZE")]
    new: Option<u64>,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(clap::Args)]
struct VerifyProofArgs {
    /// The proof (JSON from `warden audit prove` or `consistency`; `-` reads stdin).
    #[arg(value_name = "PROOF")]
    proof: String,
    /// The trusted keys: `warden.pub`, `k4.public.…` or a key set file
    /// (retired keys still verify the heads they signed). Repeatable.
    #[arg(long = "pub", required = true)]
    public_keys: Vec<String>,
    /// For a consistency proof: the signed tree head you kept earlier (a
    /// head's JSON, or an earlier proof's file, whose `head` is used).
    /// Without it the proof only ties the new head to the old root it
    /// names, and you compare that root yourself.
    #[arg(long, value_name = "FILE")]
    old_head: Option<PathBuf>,
    /// For a consistency proof to a size before the log's current head:
    /// the signed tree head you kept at that size.
    #[arg(long, value_name = "FILE")]
    new_head: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    log: LogArgs,
    /// The trusted keys that sign checkpoints: `warden.pub`, `k4.public.…`
    /// or a key set file (retired keys still verify the history they
    /// signed). Repeatable.
    #[arg(long = "pub", required = true)]
    public_keys: Vec<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ShowArgs {
    #[command(flatten)]
    log: LogArgs,
    /// Only records of this kind (repeatable): submission, verdict, token,
    /// approval, revocation, enforcement, spec, service, checkpoint.
    #[arg(long = "kind")]
    kinds: Vec<String>,
    /// Only records since this time: RFC 3339 (`2026-01-02T03:04:05Z`), unix
    /// seconds, or an age (`90s`, `15m`, `2h`, `7d`).
    #[arg(long)]
    since: Option<String>,
    /// Only records about this token id.
    #[arg(long)]
    token_id: Option<String>,
    /// Only records about this agent.
    #[arg(long)]
    agent: Option<String>,
    /// Only records with a sequence number above this.
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// At most this many records.
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Show(a) => show(a),
        AuditCommand::Prove(a) => prove(a),
        AuditCommand::Consistency(a) => consistency(a),
        AuditCommand::VerifyProof(a) => verify_proof(a),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::from(exit::ACCEPT)
        }
        Err(e) => bad_input(miette::miette!("{e}")),
    }
}

fn prove(a: ProveArgs) -> ExitCode {
    let proof = a.log.open().and_then(|log| log.prove_inclusion(a.seq));
    match proof {
        Ok(p) => print_json(&p),
        Err(e) => bad_input(miette::miette!("{e}")),
    }
}

fn consistency(a: ConsistencyArgs) -> ExitCode {
    let proof = a
        .log
        .open()
        .and_then(|log| log.prove_consistency(a.old, a.new));
    match proof {
        Ok(p) => print_json(&p),
        Err(e) => bad_input(miette::miette!("{e}")),
    }
}

fn read_json(path: &str) -> Result<serde_json::Value, String> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
}

/// A kept head: a head's JSON, or a proof file whose `head` is taken.
fn read_head(path: &std::path::Path) -> Result<transparency::SignedHead, String> {
    let shown = path.display().to_string();
    let mut v = read_json(&shown)?;
    if let Some(h) = v.get_mut("head") {
        v = h.take();
    }
    serde_json::from_value(v).map_err(|e| format!("{shown} is not a signed tree head: {e}"))
}

fn verify_proof(a: VerifyProofArgs) -> ExitCode {
    let keys = match token::KeySet::load_all(&a.public_keys).into_diagnostic() {
        Ok(k) => k,
        Err(e) => return bad_input(e),
    };
    let loaded = (|| {
        let v = read_json(&a.proof)?;
        let heads = (
            a.old_head.as_deref().map(read_head).transpose()?,
            a.new_head.as_deref().map(read_head).transpose()?,
        );
        Ok::<_, String>((v, heads))
    })();
    let (v, (old_head, new_head)) = match loaded {
        Ok(x) => x,
        Err(e) => return bad_input(miette::miette!("{e}")),
    };
    let shape = |e: serde_json::Error| miette::miette!("{}: not a proof: {e}", a.proof);
    let (result, what) = if v.get("record").is_some() {
        let p: transparency::InclusionProof = match serde_json::from_value(v).map_err(shape) {
            Ok(p) => p,
            Err(e) => return bad_input(e),
        };
        let what = format!(
            "record {} is in the tree of {} records whose root {} is signed by {}",
            p.record.seq,
            p.head.seq,
            p.head.root.as_deref().unwrap_or("-"),
            p.head.kid.as_deref().unwrap_or("a trusted key")
        );
        (p.verify(&keys), what)
    } else {
        let p: transparency::ConsistencyProof = match serde_json::from_value(v).map_err(shape) {
            Ok(p) => p,
            Err(e) => return bad_input(e),
        };
        let what = format!(
            "the tree of {} records (root {}){} is a prefix of the signed tree of {} records (root {})",
            p.old_size,
            p.old_root,
            if old_head.is_some() {
                ", the head you kept,"
            } else {
                ""
            },
            p.new_size,
            p.new_root
        );
        (p.verify(&keys, old_head.as_ref(), new_head.as_ref()), what)
    };
    match result {
        Ok(()) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": true, "statement": what})
                );
            } else {
                println!("proof verified: {what}");
                if what.contains("prefix") && old_head.is_none() {
                    println!(
                        "note: compare the old root with the head you kept, or pass it with --old-head"
                    );
                }
            }
            ExitCode::from(exit::ACCEPT)
        }
        Err(e) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": false, "problem": e.to_string()})
                );
            } else {
                println!("proof NOT verified: {e}");
            }
            ExitCode::from(exit::REJECT)
        }
    }
}

fn bad_input(report: miette::Report) -> ExitCode {
    eprintln!("{report:?}");
    ExitCode::from(exit::BAD_INPUT)
}

fn verify(a: VerifyArgs) -> ExitCode {
    let key = match token::KeySet::load_all(&a.public_keys).into_diagnostic() {
        Ok(k) => k,
        Err(e) => return bad_input(e),
    };
    let reader = match a.log.open().into_diagnostic() {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    match reader.verify(&key) {
        Err(e) => bad_input(miette::miette!("{e}")),
        Ok(Ok(rep)) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "intact": true, "records": rep.records, "checkpoints": rep.checkpoints,
                        "last_checkpoint": rep.last_checkpoint, "uncovered": rep.uncovered, "head": rep.head,
                        "head_seq": rep.records, "head_signed": rep.head_signed, "tree_root": rep.root,
                    })
                );
            } else {
                println!(
                    "audit log intact: {} records, {} signed checkpoints (last at record {}), head {}",
                    rep.records,
                    rep.checkpoints,
                    rep.last_checkpoint,
                    if rep.head.is_empty() { "-" } else { &rep.head }
                );
                println!(
                    "Merkle tree root over the {} records: {}",
                    rep.records, rep.root
                );
                if rep.uncovered > 0 {
                    println!(
                        "note: the last {} records are not yet covered by a signed checkpoint; the signed head covers them",
                        rep.uncovered
                    );
                }
                if rep.records > 0 {
                    println!(
                        "note: a copy of the store from an earlier time would verify too: compare this head (record {}) with one kept elsewhere",
                        rep.records
                    );
                }
            }
            ExitCode::from(exit::ACCEPT)
        }
        Ok(Err(fail)) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"intact": false, "first_bad_record": fail.seq, "problem": fail.problem.to_string()})
                );
            } else {
                println!("audit log NOT intact: {fail}");
            }
            ExitCode::from(exit::REJECT)
        }
    }
}

/// Parses `--since`: RFC 3339, unix seconds, or an age before `now_ms`.
fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return secs
            .checked_mul(1000)
            .ok_or_else(|| format!("--since {s}: out of range"));
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let mult: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "--since {s:?}: expected RFC 3339, unix seconds, or an age like 15m"
            ));
        }
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("--since {s:?}: {num:?} is not a number"))?;
    n.checked_mul(mult)
        .map(|d| now_ms - d)
        .ok_or_else(|| format!("--since {s}: out of range"))
}

fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn show(a: ShowArgs) -> ExitCode {
    let mut kinds = Vec::new();
    for k in &a.kinds {
        match EventKind::parse(k) {
            Some(k) => kinds.push(k),
            None => {
                let all: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                return bad_input(miette::miette!(
                    "unknown record kind {k:?}; the kinds are {}",
                    all.join(", ")
                ));
            }
        }
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let since_ms = match a.since.as_deref().map(|s| parse_since(s, now)).transpose() {
        Ok(s) => s,
        Err(e) => return bad_input(miette::miette!("{e}")),
    };
    let reader = match a.log.open().into_diagnostic() {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let q = RecordQuery {
        kinds,
        since_ms,
        after_seq: a.after,
        token_id: a.token_id,
        agent: a.agent,
        limit: a.limit,
    };
    let records = match reader.records(&q) {
        Ok(r) => r,
        Err(e) => return bad_input(miette::miette!("{e}")),
    };
    for r in records {
        if a.json {
            println!(
                "{}",
                serde_json::json!({
                    "seq": r.seq, "time_ms": r.time_ms, "time": format_time(r.time_ms), "kind": r.kind,
                    "body": r.body_json(), "prev_hash": r.prev_hash, "hash": r.hash,
                })
            );
        } else {
            println!(
                "{:>6}  {}  {:<11}  {}",
                r.seq,
                format_time(r.time_ms),
                r.kind,
                r.body
            );
        }
    }
    ExitCode::from(exit::ACCEPT)
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_forms() {
        let now = 1_000_000_000;
        assert_eq!(parse_since("15m", now).unwrap(), now - 900_000);
        assert_eq!(parse_since("2", now).unwrap(), 2000);
        assert_eq!(parse_since("1970-01-01T00:00:01Z", now).unwrap(), 1000);
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("xm", now).is_err());
    }
}
