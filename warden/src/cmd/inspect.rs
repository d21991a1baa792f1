//! `warden inspect`: show a token's claims and envelope for people.

use crate::cmd::tokens::{fail, read_token_arg};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use token::{Claims, Clock, SystemClock, Timestamp, paseto};

#[derive(clap::Args)]
pub struct Args {
    /// The token: its text, a file holding it, or `-` for standard input.
    #[arg(value_name = "TOKEN")]
    token: String,
    /// Verify the signature with this public key (a `warden.pub` file,
    /// `k4.public.…` text, or a key set file; repeatable: the token's `kid`
    /// picks the key). Without it the token is decoded UNVERIFIED.
    #[arg(long = "pub", value_name = "KEY")]
    public_keys: Vec<String>,
    /// Also refuse the token if its id (or an ancestor's) is in this revocation list.
    #[arg(long, value_name = "FILE", requires = "public_keys")]
    revocations: Option<PathBuf>,
    /// Print one JSON object: `{"verified": bool, "key_id": ..., "claims": {...}}`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let text = match read_token_arg(&args.token) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let clock = SystemClock;
    let (claims, key_id, verified) = match args.public_keys.is_empty() {
        false => {
            let key = match token::KeySet::load_all(&args.public_keys) {
                Ok(k) => k,
                Err(e) => return fail(e),
            };
            let claims = match &args.revocations {
                Some(path) => match token::FileRevocations::open(path) {
                    Ok(list) => paseto::verify_unrevoked(&text, &key, &clock, &list),
                    Err(e) => return fail(e),
                },
                None => paseto::verify(&text, &key, &clock),
            };
            // Verified: the key is the one the footer names.
            match (claims, paseto::decode_unverified(&text)) {
                (Ok(c), Ok(u)) => (c, u.key_id, true),
                (Err(e), _) | (_, Err(e)) => return fail(e),
            }
        }
        true => {
            let u = match paseto::decode_unverified(&text) {
                Ok(u) => u,
                Err(e) => return fail(e),
            };
            match u.claims {
                Ok(c) => (c, u.key_id, false),
                Err(e) => return fail(e),
            }
        }
    };
    if !verified {
        eprintln!(
            "warning: UNVERIFIED: the signature was NOT checked (no --pub given); \
             anyone can write these claims"
        );
    }
    if args.json {
        let out = serde_json::json!({
            "verified": verified,
            "key_id": key_id,
            "claims": claims,
        });
        match serde_json::to_string_pretty(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(e),
        }
    } else {
        print!("{}", describe(&claims, &key_id, verified, clock.now()));
    }
    ExitCode::SUCCESS
}

/// The claims, for people.
fn describe(c: &Claims, key_id: &str, verified: bool, now: Timestamp) -> String {
    let mut s = String::new();
    if verified {
        let _ = writeln!(s, "token     VERIFIED, signed by {key_id}");
    } else {
        let _ = writeln!(
            s,
            "token     UNVERIFIED (signature NOT checked; the footer names key {key_id})"
        );
    }
    let _ = writeln!(s, "id        {}", c.jti);
    let _ = writeln!(s, "issuer    {}", c.iss);
    let _ = writeln!(
        s,
        "agent     {}",
        c.sub.as_deref().unwrap_or("(none named)")
    );
    let _ = writeln!(
        s,
        "plan      {}  {}",
        c.plan.as_deref().unwrap_or("(anonymous)"),
        c.plan_hash
    );
    let _ = writeln!(
        s,
        "spec      {}  {}",
        c.spec.as_deref().unwrap_or("(unnamed)"),
        c.spec_hash
    );
    let _ = writeln!(s, "issued    {}", c.iat);
    let state = if now < c.nbf {
        format!(
            "NOT YET VALID (starts in {})",
            human(c.nbf.unix() - now.unix())
        )
    } else if now >= c.exp {
        format!("EXPIRED {} ago", human(now.unix() - c.exp.unix()))
    } else {
        format!("expires in {}", human(c.exp.unix() - now.unix()))
    };
    let _ = writeln!(s, "valid     {} .. {}  ({state})", c.nbf, c.exp);
    if !c.ancestors.is_empty() {
        let ids: Vec<String> = c.ancestors.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(s, "narrowed  from {}", ids.join(" <- "));
    }
    let _ = writeln!(s, "envelope");
    s.push_str(&describe_envelope(&c.envelope));
    if c.enforcement.is_empty() {
        let _ = writeln!(
            s,
            "enforcement  none proven: warden exec starts no run under it"
        );
    } else {
        let _ = writeln!(
            s,
            "enforcement (per profile: the envelope its kernel layers enforce)"
        );
        for e in &c.enforcement {
            let _ = writeln!(
                s,
                "  {:<13} {}  {}",
                e.profile,
                e.digest,
                if e.proven { "proven" } else { "refused" }
            );
            if let Some(cx) = &e.counterexample {
                let _ = writeln!(s, "    {cx}");
            }
        }
    }
    s
}

/// The envelope, one grant per line, section by section (empty sections
/// are left out; `--json` shows everything).
fn describe_envelope(env: &warden_core::envelope::Envelope) -> String {
    let mut s = String::new();
    let v = match serde_json::to_value(env) {
        Ok(v) => v,
        Err(e) => return format!("  (cannot show the envelope: {e})\n"),
    };
    let Some(obj) = v.as_object() else {
        return format!("  {v}\n");
    };
    for (section, entries) in obj {
        match entries.as_array() {
            Some(list) if list.is_empty() => {}
            Some(list) => {
                let _ = writeln!(s, "  {section}:");
                for e in list {
                    let _ = writeln!(s, "    {e}");
                }
            }
            None => {
                let _ = writeln!(s, "  {section}: {entries}");
            }
        }
    }
    s
}

/// `1h 2m 3s`.
fn human(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(5), "5s");
        assert_eq!(human(65), "1m 5s");
        assert_eq!(human(3725), "1h 2m 5s");
        assert_eq!(human(-3), "0s");
    }
}
