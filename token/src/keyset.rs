//! The public keys a verifier trusts, each in a state, chosen by the key id
//! (`kid`) a token's footer names: how a signing key is rotated without
//! breaking the tokens it already signed.
//!
//! A key set file has one key per line, its PASERK text and then its state;
//! `#` starts a comment. A `warden.pub` file is a key set of one active key,
//! so every `--pub` takes either.
//!
//! ```text
//! # keys/warden.keys
//! k4.public.Bq9W…  active        # signs new tokens (the issuer's `key`)
//! k4.public.7hTf…  verify-only   # no longer signs; its tokens stay valid until they expire
//! k4.public.c3Xa…  retired       # its tokens are refused, naming its kid
//! ```
//!
//! | state | tokens it signed | audit history it signed |
//! |---|---|---|
//! | `active` | accepted | verifies |
//! | `verify-only` | accepted | verifies |
//! | `retired` | refused (the message names its `kid`) | verifies |
//!
//! A retired key still verifies the audit checkpoints and heads it signed:
//! retiring a key ends the authority of its tokens, not the history.

use crate::keys::{KeyError, PublicKey};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// What a key in a [`KeySet`] may still do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Signs new tokens; its tokens are accepted.
    Active,
    /// No longer signs; tokens it signed are accepted until they expire.
    VerifyOnly,
    /// Tokens it signed are refused; the audit history it signed still verifies.
    Retired,
}

impl KeyState {
    /// The word a key set file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::VerifyOnly => "verify-only",
            KeyState::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = String;
    fn from_str(s: &str) -> Result<KeyState, String> {
        match s {
            "active" => Ok(KeyState::Active),
            "verify-only" => Ok(KeyState::VerifyOnly),
            "retired" => Ok(KeyState::Retired),
            other => Err(format!(
                "`{other}` is not a key state (active, verify-only, retired)"
            )),
        }
    }
}

/// Why a key set does not verify a token signed by the key `kid`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyChoiceError {
    /// No key of the set has this id.
    #[error("the token was signed by another key ({kid}), not among the trusted keys ({})", known.join(", "))]
    Unknown {
        /// The id the token's footer names (`k4.pid.…`).
        kid: String,
        /// The ids of every key in the set, in the order they were added.
        known: Vec<String>,
    },
    /// The key is in the set, retired.
    #[error("the token was signed by {kid}, a retired key: its tokens are no longer accepted")]
    Retired {
        /// The retired key's id.
        kid: String,
    },
}

/// The public keys a verifier trusts, each with its [`KeyState`], at most
/// one entry per key id. Build it with [`KeySet::parse`], [`KeySet::load`]
/// (or [`KeySet::load_all`] for several `--pub` arguments), or from one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<(PublicKey, KeyState)>,
}

impl From<PublicKey> for KeySet {
    fn from(key: PublicKey) -> KeySet {
        KeySet {
            keys: vec![(key, KeyState::Active)],
        }
    }
}

impl From<&PublicKey> for KeySet {
    fn from(key: &PublicKey) -> KeySet {
        KeySet::from(key.clone())
    }
}

impl From<&KeySet> for KeySet {
    fn from(keys: &KeySet) -> KeySet {
        keys.clone()
    }
}

impl KeySet {
    /// An empty set (trusts nothing).
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Adds `key` in `state`; a key already in the set takes the stricter
    /// of the two states (retired over verify-only over active), so
    /// combining sources never revives a retired key.
    pub fn insert(&mut self, key: PublicKey, state: KeyState) {
        match self
            .keys
            .iter_mut()
            .find(|(k, _)| k.key_id() == key.key_id())
        {
            Some((_, s)) => *s = stricter(*s, state),
            None => self.keys.push((key, state)),
        }
    }

    /// Every key with its state, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, KeyState)> {
        self.keys.iter().map(|(k, s)| (k, *s))
    }

    /// Whether the set holds no key at all (it then trusts nothing).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of keys, whatever their state.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key with this id and its state, whatever the state.
    pub fn get(&self, kid: &str) -> Option<(&PublicKey, KeyState)> {
        self.iter().find(|(k, _)| k.key_id() == kid)
    }

    /// The key that verifies a token signed by `kid`: active or verify-only.
    pub fn for_token(&self, kid: &str) -> Result<&PublicKey, KeyChoiceError> {
        match self.get(kid) {
            Some((_, KeyState::Retired)) => Err(KeyChoiceError::Retired {
                kid: kid.to_string(),
            }),
            Some((key, _)) => Ok(key),
            None => Err(KeyChoiceError::Unknown {
                kid: kid.to_string(),
                known: self
                    .keys
                    .iter()
                    .map(|(k, _)| k.key_id().to_string())
                    .collect(),
            }),
        }
    }

    /// The key that verifies history (audit checkpoints and heads) signed
    /// by `kid`: any state, retired included.
    pub fn for_history(&self, kid: &str) -> Option<&PublicKey> {
        self.get(kid).map(|(k, _)| k)
    }

    /// Whether `signature` over `message` was made by a key of the set
    /// (any state: history signed by a retired key still verifies): the
    /// key `kid` names, or, for history signed before keys carried a `kid`,
    /// any key of the set.
    pub fn verifies_history(&self, kid: Option<&str>, message: &[u8], signature: &[u8]) -> bool {
        match kid {
            Some(kid) => self
                .for_history(kid)
                .is_some_and(|k| k.verifies(message, signature)),
            None => self.iter().any(|(k, _)| k.verifies(message, signature)),
        }
    }

    /// Parses a key set file's text (see the module's documentation);
    /// `what` names it in errors. A line without a state is active.
    pub fn parse(text: &str, what: &str) -> Result<KeySet, KeyError> {
        let mut set = KeySet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: String| KeyError::Format {
                what: format!("{what}, line {}", n + 1),
                reason,
            };
            let mut words = line.split_whitespace();
            let (Some(paserk), state, None) = (words.next(), words.next(), words.next()) else {
                return Err(bad(
                    "expected `k4.public.… [active|verify-only|retired]`".into()
                ));
            };
            let key = PublicKey::from_paserk(paserk).map_err(|e| match e {
                KeyError::Format { reason, .. } => bad(reason),
                other => other,
            })?;
            let state = match state {
                None => KeyState::Active,
                Some(s) => s.parse().map_err(bad)?,
            };
            if set.get(key.key_id()).is_some() {
                return Err(bad(format!("{} is listed twice", key.key_id())));
            }
            set.insert(key, state);
        }
        if set.is_empty() {
            return Err(KeyError::Format {
                what: what.to_string(),
                reason: "no key in it".into(),
            });
        }
        Ok(set)
    }

    /// Reads a key set: a file (a key set file, or a `warden.pub` holding
    /// one key), or a key's PASERK text itself.
    pub fn load(path_or_paserk: &str) -> Result<KeySet, KeyError> {
        if path_or_paserk.starts_with("k4.") {
            return KeySet::parse(path_or_paserk, "the key argument");
        }
        let path = Path::new(path_or_paserk);
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::io(path, e))?;
        KeySet::parse(&text, &path.display().to_string())
    }

    /// The union of several [`KeySet::load`]s (`--pub` given several times).
    pub fn load_all<S: AsRef<str>>(args: &[S]) -> Result<KeySet, KeyError> {
        let mut set = KeySet::new();
        for a in args {
            for (k, s) in KeySet::load(a.as_ref())?.keys {
                set.insert(k, s);
            }
        }
        if set.is_empty() {
            return Err(KeyError::Format {
                what: "the key set".into(),
                reason: "no public key was given".into(),
            });
        }
        Ok(set)
    }

    /// The file text of this set (what [`KeySet::parse`] reads back).
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# warden key set: one key per line, then active, verify-only or retired\n",
        );
        for (k, s) in self.iter() {
            out.push_str(&format!("{} {}\n", k.to_paserk(), s));
        }
        out
    }

    /// Sets the state of the key `kid`; false when it is not in the set.
    pub fn set_state(&mut self, kid: &str, state: KeyState) -> bool {
        match self.keys.iter_mut().find(|(k, _)| k.key_id() == kid) {
            Some((_, s)) => {
                *s = state;
                true
            }
            None => false,
        }
    }
}

fn stricter(a: KeyState, b: KeyState) -> KeyState {
    use KeyState::*;
    match (a, b) {
        (Retired, _) | (_, Retired) => Retired,
        (VerifyOnly, _) | (_, VerifyOnly) => VerifyOnly,
        _ => Active,
    }
}

/// What verifies a token's signature: one public key (the token must name
/// it), or a [`KeySet`] (the key the token names, unless retired).
pub trait VerifyingKeys {
    /// The key for a token whose footer names `kid`, or why there is none.
    fn token_key(&self, kid: &str) -> Result<&PublicKey, crate::paseto::TokenError>;
}

impl VerifyingKeys for PublicKey {
    fn token_key(&self, kid: &str) -> Result<&PublicKey, crate::paseto::TokenError> {
        if kid == self.key_id() {
            Ok(self)
        } else {
            Err(crate::paseto::TokenError::WrongKey {
                token_key: kid.to_string(),
                given_key: self.key_id().to_string(),
            })
        }
    }
}

impl VerifyingKeys for KeySet {
    fn token_key(&self, kid: &str) -> Result<&PublicKey, crate::paseto::TokenError> {
        self.for_token(kid).map_err(crate::paseto::TokenError::Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    fn key() -> PublicKey {
        SigningKey::generate().unwrap().public_key().clone()
    }

    #[test]
    fn a_file_round_trips_and_a_pub_file_is_a_set_of_one() {
        let (a, b, c) = (key(), key(), key());
        let mut set = KeySet::from(a.clone());
        set.insert(b.clone(), KeyState::VerifyOnly);
        set.insert(c.clone(), KeyState::Retired);
        assert_eq!(KeySet::parse(&set.to_text(), "t").unwrap(), set);
        let one = KeySet::parse(&format!("{}\n", a.to_paserk()), "warden.pub").unwrap();
        assert_eq!(one.get(a.key_id()), Some((&a, KeyState::Active)));
    }

    #[test]
    fn tokens_are_refused_by_retired_and_unknown_keys_history_is_not() {
        let (a, b, other) = (key(), key(), key());
        let mut set = KeySet::from(b.clone());
        set.insert(a.clone(), KeyState::Retired);
        assert_eq!(set.for_token(b.key_id()), Ok(&b));
        let e = set.for_token(a.key_id()).unwrap_err();
        assert!(
            e.to_string().contains(a.key_id()) && e.to_string().contains("retired"),
            "{e}"
        );
        assert_eq!(set.for_history(a.key_id()), Some(&a));
        let e = set.for_token(other.key_id()).unwrap_err();
        assert!(
            matches!(&e, KeyChoiceError::Unknown { kid, known } if kid == other.key_id() && known.len() == 2)
        );
    }

    #[test]
    fn combining_sources_never_revives_a_retired_key() {
        let a = key();
        let mut set = KeySet::new();
        set.insert(a.clone(), KeyState::Retired);
        set.insert(a.clone(), KeyState::Active);
        assert_eq!(set.get(a.key_id()).unwrap().1, KeyState::Retired);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let a = key();
        for (text, says) in [
            ("", "no key"),
            ("# only a comment\n", "no key"),
            ("k4.public.xyz active\n", "line 1"),
            (&format!("{} sometimes\n", a.to_paserk()), "not a key state"),
            (
                &format!("{0}\n{0} retired\n", a.to_paserk()),
                "listed twice",
            ),
            (&format!("\n{} active extra\n", a.to_paserk()), "line 2"),
        ] {
            let e = KeySet::parse(text, "k.keys").unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
