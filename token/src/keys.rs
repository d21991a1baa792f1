//! Ed25519 key pairs for signing and verifying tokens.
//!
//! Keys are stored as one line of [PASERK] text, which every PASETO library
//! (Python `pyseto`, Go `paseto`, JavaScript `paseto`/`paseto-ts`) reads:
//!
//! | file         | content                                  | mode |
//! |--------------|------------------------------------------|------|
//! | `warden.key` | `k4.secret.` + base64url(seed ‖ public)  | 0600 |
//! | `warden.pub` | `k4.public.` + base64url(public key)     | 0644 |
//!
//! base64url is RFC 4648 §5 without padding; the secret is the 32-byte
//! Ed25519 seed followed by the 32-byte public key (64 bytes), the public key
//! is 32 bytes. A key's *id* is its PASERK `k4.pid.` identifier; tokens carry
//! it in their footer (`{"kid":"k4.pid...."}`) so a verifier can tell a token
//! signed by another key from a tampered one.
//!
//! [PASERK]: https://github.com/paseto-standard/paserk

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file name of the secret key that [`write_key_pair`] creates.
pub const SECRET_KEY_FILE: &str = "warden.key";
/// The file name of the public key that [`write_key_pair`] creates.
pub const PUBLIC_KEY_FILE: &str = "warden.pub";

const SECRET_PREFIX: &str = "k4.secret.";
const PUBLIC_PREFIX: &str = "k4.public.";
const ID_PREFIX: &str = "k4.pid.";

/// The length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system's random source failed, or a seed is not an
    /// Ed25519 seed.
    #[error("could not generate a key pair: {0}")]
    Generate(String),
    /// A key file or its directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// [`write_key_pair`] without `force` found a file in the way; nothing
    /// was written.
    #[error("{path} already exists (use --force to replace the key pair)")]
    Exists {
        /// The file in the way.
        path: PathBuf,
    },
    /// A secret key file is readable or writable by the group or others.
    #[error(
        "{path} is readable by other users (mode {mode:o}); a secret key must be mode 0600 (chmod 600 {path})"
    )]
    Unprotected {
        /// The secret key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The text is not a PASERK key of the expected kind (`k4.secret.`,
    /// `k4.public.`), or its bytes are not a valid key.
    #[error("{what}: {reason}")]
    Format {
        /// What was read: "secret key", "public key", or the file's path.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl KeyError {
    pub(crate) fn io(path: &Path, source: io::Error) -> KeyError {
        KeyError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The public half: verifies tokens (and the audit log's checkpoints).
/// Cheap to clone.
#[derive(Clone)]
pub struct PublicKey {
    bytes: [u8; 32],
    id: String,
}

/// PASERK's `k4.pid.` id of a public key: `k4.pid.` + base64url of the
/// 33-byte BLAKE2b of `k4.pid.` followed by the key's `k4.public.` text.
fn paserk_id(public_paserk: &str) -> String {
    use blake2::digest::{Update, VariableOutput};
    let mut h = blake2::Blake2bVar::new(33).expect("33 bytes is a valid BLAKE2b output length");
    h.update(ID_PREFIX.as_bytes());
    h.update(public_paserk.as_bytes());
    let mut out = [0u8; 33];
    h.finalize_variable(&mut out)
        .expect("the buffer is the requested length");
    format!("{ID_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
}

fn format_err(what: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Format {
        what: what.into(),
        reason: reason.into(),
    }
}

impl PublicKey {
    /// The public key of these 32 bytes (an Ed25519 point, as RFC 8032
    /// encodes it; a bad point fails every signature check).
    pub fn from_bytes(bytes: [u8; 32]) -> PublicKey {
        let id = paserk_id(&format!("{PUBLIC_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)));
        PublicKey { bytes, id }
    }

    /// Parse `k4.public.…` text (surrounding whitespace is ignored).
    pub fn from_paserk(text: &str) -> Result<PublicKey, KeyError> {
        let text = expect_kind(
            text,
            PUBLIC_PREFIX,
            SECRET_PREFIX,
            "public key",
            "this is a secret key (k4.secret.…); give the public key (warden.pub)",
        )?;
        let raw = URL_SAFE_NO_PAD
            .decode(&text[PUBLIC_PREFIX.len()..])
            .map_err(|e| {
                format_err(
                    "public key",
                    format!("not a valid k4.public PASERK (base64url: {e})"),
                )
            })?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| {
            format_err(
                "public key",
                "not a valid k4.public PASERK (a k4.public key is 32 bytes)",
            )
        })?;
        Ok(PublicKey::from_bytes(bytes))
    }

    /// The PASERK text, `k4.public.…`.
    pub fn to_paserk(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.bytes))
    }

    /// The PASERK key id, `k4.pid.…`.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The 32 bytes of the Ed25519 public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.bytes)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.bytes == other.bytes
    }
}
impl Eq for PublicKey {}

/// The secret half: signs tokens (and the audit log's checkpoints). Its
/// seed is wiped when dropped.
#[derive(Clone)]
pub struct SigningKey {
    seed: Zeroizing<[u8; 32]>,
    pair: std::sync::Arc<Ed25519KeyPair>,
    public: PublicKey,
}

impl SigningKey {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Result<SigningKey, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed).map_err(|e| KeyError::Generate(e.to_string()))?;
        SigningKey::from_seed(&seed)
    }

    /// The key pair of a 32-byte Ed25519 seed (RFC 8032).
    pub fn from_seed(seed: &[u8; 32]) -> Result<SigningKey, KeyError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| KeyError::Generate(format!("not an Ed25519 seed: {e}")))?;
        SigningKey::from_pair(seed, pair)
    }

    fn from_pair(seed: &[u8; 32], pair: Ed25519KeyPair) -> Result<SigningKey, KeyError> {
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| KeyError::Generate("an Ed25519 public key is 32 bytes".into()))?;
        Ok(SigningKey {
            seed: Zeroizing::new(*seed),
            pair: std::sync::Arc::new(pair),
            public: PublicKey::from_bytes(public),
        })
    }

    /// Parse `k4.secret.…` text (surrounding whitespace is ignored). The
    /// public half stored in it must match the seed.
    pub fn from_paserk(text: &str) -> Result<SigningKey, KeyError> {
        let text = expect_kind(
            text,
            SECRET_PREFIX,
            PUBLIC_PREFIX,
            "secret key",
            "this is a public key (k4.public.…); signing needs the secret key (warden.key)",
        )?;
        let raw = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(&text[SECRET_PREFIX.len()..])
                .map_err(|e| {
                    format_err(
                        "secret key",
                        format!("not a valid k4.secret PASERK (base64url: {e})"),
                    )
                })?,
        );
        if raw.len() != 64 {
            return Err(format_err(
                "secret key",
                "not a valid k4.secret PASERK (a k4.secret key is 64 bytes: seed and public key)",
            ));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&raw[..32]);
        let pair = Ed25519KeyPair::from_seed_and_public_key(&seed[..], &raw[32..])
            .map_err(|_| format_err("secret key", "its public half does not belong to its seed"))?;
        SigningKey::from_pair(&seed, pair)
    }

    /// The PASERK text, `k4.secret.…`, wiped from memory when dropped.
    pub fn to_paserk(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 64]);
        raw[..32].copy_from_slice(&self.seed[..]);
        raw[32..].copy_from_slice(self.public.as_bytes());
        Zeroizing::new(format!(
            "{SECRET_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(&raw[..])
        ))
    }

    /// The public half, which verifies this key's signatures.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, secret redacted)", self.public.id)
    }
}

/// Trim `text` and check that it is PASERK of the `want` kind; name the
/// mix-up when it is the `swapped` kind.
fn expect_kind<'t>(
    text: &'t str,
    want: &str,
    swapped: &str,
    what: &str,
    swapped_reason: &str,
) -> Result<&'t str, KeyError> {
    let text = text.trim();
    let reason = if text.starts_with(swapped) {
        swapped_reason.to_string()
    } else if !text.starts_with(want) {
        format!("expected PASERK text starting with `{want}`")
    } else {
        return Ok(text);
    };
    Err(KeyError::Format {
        what: what.into(),
        reason,
    })
}

/// Where [`write_key_pair`] put the two files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPaths {
    /// `DIR/warden.key` ([`SECRET_KEY_FILE`]), mode 0600.
    pub secret: PathBuf,
    /// `DIR/warden.pub` ([`PUBLIC_KEY_FILE`]).
    pub public: PathBuf,
}

/// Write `warden.key` (mode 0600) and `warden.pub` into `dir`, creating the
/// directory (mode 0700) if needed.
///
/// Without `force`, an existing file in the way is an error and nothing is
/// written; files are created with `O_EXCL`, so a file that appears
/// concurrently is never overwritten. With `force`, each file is written to a
/// fresh temporary file beside it and renamed into place, so a reader sees
/// the old key or the new one, never half of one.
pub fn write_key_pair(dir: &Path, key: &SigningKey, force: bool) -> Result<KeyPaths, KeyError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| KeyError::io(dir, e))?;
    }
    let paths = KeyPaths {
        secret: dir.join(SECRET_KEY_FILE),
        public: dir.join(PUBLIC_KEY_FILE),
    };
    let secret_text = {
        let mut s = key.to_paserk();
        s.push('\n');
        s
    };
    let public_text = format!("{}\n", key.public_key().to_paserk());

    if force {
        replace_file(&paths.secret, secret_text.as_bytes(), 0o600)?;
        replace_file(&paths.public, public_text.as_bytes(), 0o644)?;
        return Ok(paths);
    }

    for p in [&paths.secret, &paths.public] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(KeyError::Exists { path: p.clone() });
        }
    }
    create_exclusive(&paths.secret, secret_text.as_bytes(), 0o600)?;
    if let Err(e) = create_exclusive(&paths.public, public_text.as_bytes(), 0o644) {
        // Change no state: take back the secret key we just created.
        let _ = fs::remove_file(&paths.secret);
        return Err(e);
    }
    Ok(paths)
}

fn create_exclusive(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                KeyError::io(path, e)
            }
        })?;
    // The umask may have narrowed the mode; make it exact.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| KeyError::io(path, e))?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(KeyError::io(path, e));
    }
    Ok(())
}

fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| KeyError::Generate(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", hex(&tag)));
    create_exclusive(&tmp, bytes, mode)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        KeyError::io(path, e)
    })
}

/// Read a secret key file. Refuses a file that group or others can read or
/// write, as `ssh` does.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let meta = fs::metadata(path).map_err(|e| KeyError::io(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Unprotected {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| KeyError::io(path, e))?);
    SigningKey::from_paserk(&text).map_err(|e| in_file(path, e))
}

/// Read a public key: a file holding `k4.public.…`, or the PASERK text
/// itself.
pub fn load_public_key(path_or_paserk: &str) -> Result<PublicKey, KeyError> {
    if path_or_paserk.starts_with(PUBLIC_PREFIX) {
        return PublicKey::from_paserk(path_or_paserk);
    }
    let path = Path::new(path_or_paserk);
    let text = fs::read_to_string(path).map_err(|e| KeyError::io(path, e))?;
    PublicKey::from_paserk(&text).map_err(|e| in_file(path, e))
}

fn in_file(path: &Path, e: KeyError) -> KeyError {
    match e {
        KeyError::Format { reason, .. } => KeyError::Format {
            what: path.display().to_string(),
            reason,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let mut r = [0u8; 6];
        getrandom::fill(&mut r).unwrap();
        let d = std::env::temp_dir().join(format!("warden-keys-{tag}-{}", crate::keys::hex(&r)));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn paserk_round_trip() {
        let k = SigningKey::generate().unwrap();
        let text = k.to_paserk();
        assert!(text.starts_with("k4.secret."));
        let back = SigningKey::from_paserk(&text).unwrap();
        assert_eq!(back.public_key(), k.public_key());
        let pubtext = k.public_key().to_paserk();
        assert!(pubtext.starts_with("k4.public."));
        assert_eq!(&PublicKey::from_paserk(&pubtext).unwrap(), k.public_key());
        assert!(k.public_key().key_id().starts_with("k4.pid."));
    }

    fn unhex(h: &str) -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The PASERK test vectors k4.secret-1/2 and k4.pid-1/2.
    #[test]
    fn paserk_test_vectors() {
        let seed: [u8; 32] =
            unhex("707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f")
                .try_into()
                .unwrap();
        let k = SigningKey::from_seed(&seed).unwrap();
        assert_eq!(
            *k.to_paserk(),
            "k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8c5WpIyC_5kWKhS8VEYSZ05dYfuTF-ZdQFV4D9vLTcNQ"
        );
        let zero = SigningKey::from_seed(&[0; 32]).unwrap();
        assert_eq!(
            *zero.to_paserk(),
            "k4.secret.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA7aie8zrakLWKjqNAqbw1zZTIVdx3iQ6Y6wEihi1naKQ"
        );
        assert_eq!(
            PublicKey::from_bytes([0; 32]).key_id(),
            "k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE"
        );
        let pid2: [u8; 32] = seed;
        assert_eq!(
            PublicKey::from_bytes(pid2).key_id(),
            "k4.pid.9ShR3xc8-qVJ_di0tc9nx0IDIqbatdeM2mqLFBJsKRHs"
        );
    }

    /// pasetors (a PASETO library used by others) reads our PASERK text as
    /// the same key and computes the same id.
    #[test]
    fn pasetors_reads_our_keys() {
        use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
        use pasetors::paserk::{FormatAsPaserk, Id};
        use pasetors::version4::V4;
        let k = SigningKey::generate().unwrap();
        let secret = AsymmetricSecretKey::<V4>::try_from(k.to_paserk().as_str()).unwrap();
        let public = AsymmetricPublicKey::<V4>::try_from(&secret).unwrap();
        assert_eq!(public.as_bytes(), k.public_key().as_bytes());
        let mut id = String::new();
        Id::from(&public).fmt(&mut id).unwrap();
        assert_eq!(id, k.public_key().key_id());
    }

    #[test]
    fn signatures_verify_only_with_their_key_and_message() {
        let k = SigningKey::from_seed(&[7; 32]).unwrap();
        let other = SigningKey::from_seed(&[8; 32]).unwrap();
        let sig = k.sign(b"checkpoint");
        assert!(k.public_key().verifies(b"checkpoint", &sig));
        assert!(!k.public_key().verifies(b"checkpoinT", &sig));
        assert!(!other.public_key().verifies(b"checkpoint", &sig));
        assert!(!k.public_key().verifies(b"checkpoint", &sig[..63]));
    }

    #[test]
    fn swapped_halves_are_named() {
        let k = SigningKey::generate().unwrap();
        let e = SigningKey::from_paserk(&k.public_key().to_paserk()).unwrap_err();
        assert!(e.to_string().contains("public key"), "{e}");
        let e = PublicKey::from_paserk(&k.to_paserk()).unwrap_err();
        assert!(e.to_string().contains("secret key"), "{e}");
        assert!(PublicKey::from_paserk("k4.public.AAAA").is_err());
        assert!(SigningKey::from_paserk("hello").is_err());
    }

    #[test]
    fn secret_with_mismatched_public_half_is_refused() {
        let a = SigningKey::generate().unwrap();
        let b = SigningKey::generate().unwrap();
        let sa = a.to_paserk();
        let sb = b.to_paserk();
        // 64 bytes = 86 base64 chars; chars 43.. encode only public-key bits.
        // Keep a's seed, put in (most of) b's public key.
        let cut = SECRET_PREFIX.len() + 43;
        let mixed = format!("{}{}", &sa[..cut], &sb[cut..]);
        assert!(SigningKey::from_paserk(&mixed).is_err());
    }

    #[test]
    fn keygen_writes_modes_and_refuses_to_overwrite() {
        let d = tmpdir("write");
        let k = SigningKey::generate().unwrap();
        let paths = write_key_pair(&d, &k, false).unwrap();
        let mode = fs::metadata(&paths.secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load_signing_key(&paths.secret).unwrap();
        assert_eq!(loaded.public_key(), k.public_key());
        let public = load_public_key(paths.public.to_str().unwrap()).unwrap();
        assert_eq!(&public, k.public_key());

        let k2 = SigningKey::generate().unwrap();
        let e = write_key_pair(&d, &k2, false).unwrap_err();
        assert!(matches!(e, KeyError::Exists { .. }), "{e}");
        // Nothing changed.
        assert_eq!(
            load_signing_key(&paths.secret).unwrap().public_key(),
            k.public_key()
        );

        write_key_pair(&d, &k2, true).unwrap();
        assert_eq!(
            load_signing_key(&paths.secret).unwrap().public_key(),
            k2.public_key()
        );
        let mode = fs::metadata(&paths.secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_lone_public_file_blocks_keygen_and_nothing_is_written() {
        let d = tmpdir("lonepub");
        fs::write(d.join(PUBLIC_KEY_FILE), "something\n").unwrap();
        let k = SigningKey::generate().unwrap();
        assert!(matches!(
            write_key_pair(&d, &k, false),
            Err(KeyError::Exists { .. })
        ));
        assert!(!d.join(SECRET_KEY_FILE).exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn world_readable_secret_key_is_refused() {
        let d = tmpdir("perm");
        let k = SigningKey::generate().unwrap();
        let paths = write_key_pair(&d, &k, false).unwrap();
        fs::set_permissions(&paths.secret, fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_signing_key(&paths.secret).unwrap_err();
        assert!(matches!(e, KeyError::Unprotected { .. }), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn public_key_accepts_literal_paserk() {
        let k = SigningKey::generate().unwrap();
        let p = load_public_key(&k.public_key().to_paserk()).unwrap();
        assert_eq!(&p, k.public_key());
    }
}
