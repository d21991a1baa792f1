//! `warden keygen`: make the Ed25519 key pair that signs tokens.

use crate::cmd::tokens::fail;
use std::path::PathBuf;
use std::process::ExitCode;
use token::keys;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write `warden.key` (secret, mode 0600) and `warden.pub` into; created if missing.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace an existing key pair (tokens signed with the old key stop verifying).
    #[arg(long)]
    force: bool,
    /// Also add the new public key to this key set file (created if
    /// missing) as `active`, and make the keys active there until now
    /// `verify-only`: their tokens stay valid until they expire, new ones
    /// are the new key's (the rotation in docs/operator/tokens.md).
    #[arg(long, value_name = "KEYS_FILE")]
    add_to: Option<PathBuf>,
}

/// Adds `key` to the key set file at `path` as the one active key.
fn add_to_key_set(path: &std::path::Path, key: &token::PublicKey) -> Result<Vec<String>, String> {
    let mut set = match std::fs::read_to_string(path) {
        Ok(text) => {
            token::KeySet::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => token::KeySet::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let demoted: Vec<String> = set
        .iter()
        .filter(|(_, s)| *s == token::KeyState::Active)
        .map(|(k, _)| k.key_id().to_string())
        .collect();
    for kid in &demoted {
        set.set_state(kid, token::KeyState::VerifyOnly);
    }
    set.insert(key.clone(), token::KeyState::Active);
    // Written beside it and renamed over it: a reader never sees half a file.
    let tmp = path.with_extension("keys.tmp");
    std::fs::write(&tmp, set.to_text())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(demoted)
}

pub fn run(args: Args) -> ExitCode {
    let key = match token::SigningKey::generate() {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    match keys::write_key_pair(&args.out, &key, args.force) {
        Ok(paths) => {
            println!("wrote {} (secret key, mode 0600)", paths.secret.display());
            println!("wrote {} (public key)", paths.public.display());
            println!("key id {}", key.public_key().key_id());
            if let Some(set) = &args.add_to {
                match add_to_key_set(set, key.public_key()) {
                    Ok(demoted) => {
                        println!(
                            "added {} to {} as active",
                            key.public_key().key_id(),
                            set.display()
                        );
                        for kid in demoted {
                            println!("{kid} is now verify-only in {}", set.display());
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(crate::exit::BAD_INPUT);
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
