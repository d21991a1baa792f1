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
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
