//! The service's Ed25519 key as the audit log uses it.
//!
//! Key files are read (and their mode checked) by `token::keys`; the same key
//! signs tokens and audit checkpoints. This module converts between the
//! token crate's PASERK keys (`k4.secret.` + base64url(seed ‖ public key),
//! `k4.public.` + base64url(public key)) and the raw Ed25519 keys of
//! [`crate::audit`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_compact::{PublicKey, SecretKey};

const SECRET_PREFIX: &str = "k4.secret.";
const PUBLIC_PREFIX: &str = "k4.public.";

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{what}: {reason}")]
    Format { what: String, reason: String },
}

fn format_err(what: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Format {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// Parses `k4.secret.…` text.
pub fn parse_secret(text: &str, what: &str) -> Result<SecretKey, KeyError> {
    let t = text.trim();
    let b64 = t
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format_err(what, "expected PASERK text starting with `k4.secret.`"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|e| format_err(what, format!("bad base64url: {e}")))?;
    let sk = SecretKey::from_slice(&bytes)
        .map_err(|_| format_err(what, "a k4.secret key is 64 bytes (seed and public key)"))?;
    sk.validate_public_key(&sk.public_key())
        .map_err(|_| format_err(what, "the public half does not belong to the seed"))?;
    Ok(sk)
}

/// Parses `k4.public.…` text.
pub fn parse_public(text: &str, what: &str) -> Result<PublicKey, KeyError> {
    let t = text.trim();
    if t.starts_with(SECRET_PREFIX) {
        return Err(format_err(
            what,
            "this is a secret key; give the public key (warden.pub)",
        ));
    }
    let b64 = t
        .strip_prefix(PUBLIC_PREFIX)
        .ok_or_else(|| format_err(what, "expected PASERK text starting with `k4.public.`"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|e| format_err(what, format!("bad base64url: {e}")))?;
    PublicKey::from_slice(&bytes).map_err(|_| format_err(what, "a k4.public key is 32 bytes"))
}

/// The checkpoint key of the service's token signing key.
pub fn checkpoint_key(key: &token::SigningKey) -> Result<SecretKey, KeyError> {
    parse_secret(&key.to_paserk(), "the service key")
}

/// The raw Ed25519 public key of a token public key.
pub fn audit_public_key(key: &token::PublicKey) -> Result<PublicKey, KeyError> {
    parse_public(&key.to_paserk(), "the public key")
}

/// `k4.public.…` text of a public key.
pub fn public_paserk(pk: &PublicKey) -> String {
    format!("{PUBLIC_PREFIX}{}", URL_SAFE_NO_PAD.encode(pk.as_ref()))
}

/// `k4.secret.…` text of a secret key.
pub fn secret_paserk(sk: &SecretKey) -> String {
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(sk.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_compact::{KeyPair, Seed};

    #[test]
    fn round_trip_and_refusals() {
        let kp = KeyPair::from_seed(Seed::new([3; 32]));
        let s = secret_paserk(&kp.sk);
        let p = public_paserk(&kp.pk);
        assert_eq!(*parse_secret(&s, "k").unwrap(), *kp.sk);
        assert_eq!(parse_public(&format!("{p}\n"), "k").unwrap(), kp.pk);
        assert!(parse_public(&s, "k").is_err());
        assert!(parse_secret(&p, "k").is_err());
        assert!(parse_public("k4.public.!!", "k").is_err());
        assert!(parse_public("k4.public.AAAA", "k").is_err());
        // A secret whose public half was swapped is refused.
        let other = KeyPair::from_seed(Seed::new([4; 32]));
        let mut bytes = kp.sk.to_vec();
        bytes[32..].copy_from_slice(other.pk.as_ref());
        let bad = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert!(parse_secret(&bad, "k").is_err());
    }

    #[test]
    fn token_keys_convert() {
        let k = token::SigningKey::generate().unwrap();
        let sk = checkpoint_key(&k).unwrap();
        let pk = audit_public_key(k.public_key()).unwrap();
        assert_eq!(sk.public_key(), pk);
        assert_eq!(public_paserk(&pk), k.public_key().to_paserk());
    }
}
