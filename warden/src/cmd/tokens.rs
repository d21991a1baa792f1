//! What the token subcommands (`keygen`, `issue`, `inspect`, `attenuate`)
//! and the commands that hold a run to a token (`exec`, `mcp`) share:
//! reading a token argument and the key that signed it, rendering errors.

use crate::exit;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// The token a run holds, the key that signed it and the revocation list
/// it is checked against: `--token`, `--pub`, `--revocations`, the same
/// for every command that runs under a token.
#[derive(clap::Args)]
pub struct TokenArgs {
    /// The token: its text, a file holding it, or `-` for standard input.
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// The keys it may be signed by: a `warden.pub` file, `k4.public.…`
    /// text, or a key set file (keys with their states: active,
    /// verify-only, retired). Repeatable; the token's `kid` picks the key.
    #[arg(long = "pub", value_name = "KEY", required = true)]
    pub public_keys: Vec<String>,
    /// A revocation list: the token is refused if its id (or an ancestor's)
    /// is in it, and the run is stopped if it is added while the run runs.
    #[arg(long, value_name = "FILE")]
    pub revocations: Option<PathBuf>,
}

/// What [`TokenArgs::load`] read: nothing is verified yet.
pub struct HeldToken {
    /// The token's text.
    pub text: String,
    /// The keys it may be signed by.
    pub key: token::KeySet,
    /// The revocation list, when one was given.
    pub revocations: Option<token::FileRevocations>,
}

impl TokenArgs {
    /// Reads the token, the key and the revocation list; an error is
    /// rendered here and returned as the bad-input exit code.
    pub fn load(&self) -> Result<HeldToken, ExitCode> {
        let text = read_token_arg(&self.token).map_err(fail)?;
        let key = token::KeySet::load_all(&self.public_keys).map_err(fail)?;
        let revocations = match &self.revocations {
            Some(path) => Some(token::FileRevocations::open(path).map_err(fail)?),
            None => None,
        };
        Ok(HeldToken {
            text,
            key,
            revocations,
        })
    }

    /// The same arguments for a child `warden` that checks the token again.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut out = vec!["--token".into(), self.token.clone().into()];
        for k in &self.public_keys {
            out.push("--pub".into());
            out.push(k.into());
        }
        if let Some(r) = &self.revocations {
            out.push("--revocations".into());
            out.push(r.clone().into());
        }
        out
    }
}

/// Print `e` (with its causes) for people and return the bad-input exit code.
pub fn fail(e: impl std::error::Error + Send + Sync + 'static) -> ExitCode {
    eprintln!("{:?}", miette::Report::new(Plain(Box::new(e))));
    ExitCode::from(exit::BAD_INPUT)
}

/// Adapts any error to miette's rendering. The token crate's messages
/// already spell out their cause, so the chain is not repeated.
#[derive(Debug)]
struct Plain(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Plain {}

impl miette::Diagnostic for Plain {}

/// Why a token argument could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenArgError {
    #[error("could not read the token from {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// A token given on the command line: the token text itself (`v4.public.…`),
/// `-` for standard input, or a file holding it.
pub fn read_token_arg(arg: &str) -> Result<String, TokenArgError> {
    if arg.starts_with("v4.") {
        return Ok(arg.to_string());
    }
    let mut text = String::new();
    if arg == "-" {
        std::io::stdin()
            .take(token::paseto::MAX_TOKEN_LEN as u64 + 2)
            .read_to_string(&mut text)
            .map_err(|source| TokenArgError::Read {
                what: "standard input".into(),
                source,
            })?;
    } else {
        let f = std::fs::File::open(arg).map_err(|source| TokenArgError::Read {
            what: arg.to_string(),
            source,
        })?;
        f.take(token::paseto::MAX_TOKEN_LEN as u64 + 2)
            .read_to_string(&mut text)
            .map_err(|source| TokenArgError::Read {
                what: arg.to_string(),
                source,
            })?;
    }
    Ok(text.trim().to_string())
}

/// A duration on the command line: `90s`, `15m`, `2h`, `1d`.
pub fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` needs a unit: s, m, h or d (e.g. 15m)"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 90s, 15m, 2h)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{unit}` is not a unit: use s, m, h or d")),
    };
    let secs = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too long"))?;
    if secs == 0 {
        return Err("a token lifetime must be at least 1s".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}
