//! Revocation: a list of token ids that must no longer be honoured, consulted
//! by every check.
//!
//! A list that cannot be consulted (unreadable file, a line that is not a
//! token id) is an error, and every check then refuses: a typo in the list
//! must never quietly un-revoke a token.
//!
//! The file format of [`FileRevocations`]: UTF-8 text, one token id (32
//! lowercase hex digits, the `jti` claim) per line; blank lines and lines
//! starting with `#` are ignored; a `#` after an id starts a comment.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use warden_core::claims::TokenId;
use warden_core::revocation::TokenIdSet;
pub use warden_core::revocation::{
    MemoryRevocations, NoRevocations, RevocationError, RevocationList,
};

/// What identifies one version of the file: if any of it changes, reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        }
    }
}

#[derive(Debug)]
struct Loaded {
    stamp: Stamp,
    /// The file was modified so recently that a further change within the
    /// same timestamp tick would leave the stamp unchanged (as in git's "racy
    /// clean" problem): reload on every check until it settles.
    racy: bool,
    ids: TokenIdSet,
}

/// How long after a modification a file's stamp is not trusted.
const RACY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// A revocation list kept in a text file (format in the module docs). Each
/// check looks at the file's metadata and reloads it when it changed
/// (replaced, rewritten or appended to), so a revocation takes effect on the
/// next check without restarting anything. A file modified in the last two
/// seconds is re-read on every check, so that two writes within one
/// timestamp tick cannot hide the second.
#[derive(Debug)]
pub struct FileRevocations {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

impl FileRevocations {
    /// Open and read the list. A missing file is an error: create an empty
    /// one for "nothing revoked".
    pub fn open(path: impl Into<PathBuf>) -> Result<FileRevocations, RevocationError> {
        let path = path.into();
        let loaded = load(&path)?;
        Ok(FileRevocations {
            path,
            loaded: RwLock::new(loaded),
        })
    }

    /// The list file this was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `id` to the list file (creating it if needed).
    pub fn append(path: &Path, id: &TokenId) -> Result<(), RevocationError> {
        use std::io::Write;
        let io_err = |source| RevocationError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err)?;
        writeln!(f, "{id}").map_err(io_err)?;
        f.sync_all().map_err(io_err)
    }

    fn refresh(&self) -> Result<(), RevocationError> {
        let meta = fs::metadata(&self.path).map_err(|source| RevocationError::Io {
            path: self.path.clone(),
            source,
        })?;
        let stamp = Stamp::of(&meta);
        {
            let cur = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            if cur.stamp == stamp && !cur.racy {
                return Ok(());
            }
        }
        let fresh = load(&self.path)?;
        let mut cur = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        *cur = fresh;
        Ok(())
    }
}

impl RevocationList for FileRevocations {
    fn is_revoked(&self, id: &TokenId) -> Result<bool, RevocationError> {
        self.refresh()?;
        let cur = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        Ok(cur.ids.contains(id))
    }
}

fn load(path: &Path) -> Result<Loaded, RevocationError> {
    let io_err = |source| RevocationError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Stamp before reading: a change during the read shows up as a new
    // stamp on the next check, which reloads again.
    let meta = fs::metadata(path).map_err(io_err)?;
    let stamp = Stamp::of(&meta);
    let racy = match meta.modified() {
        Ok(m) => std::time::SystemTime::now()
            .duration_since(m)
            .map_or(true, |age| age < RACY_WINDOW),
        Err(_) => true,
    };
    let text = fs::read_to_string(path).map_err(io_err)?;
    let ids = parse_list(&text).map_err(|(line, text)| RevocationError::BadLine {
        path: path.to_path_buf(),
        line,
        text,
    })?;
    Ok(Loaded { stamp, racy, ids })
}

/// Parse the text of a revocation list; on error, the 1-based line number
/// and the offending text.
pub fn parse_list(text: &str) -> Result<TokenIdSet, (usize, String)> {
    let mut ids = TokenIdSet::default();
    for (n, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let id = content
            .parse::<TokenId>()
            .map_err(|_| (n + 1, content.to_string()))?;
        ids.insert(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpfile(tag: &str) -> PathBuf {
        let mut r = [0u8; 6];
        getrandom::fill(&mut r).unwrap();
        std::env::temp_dir().join(format!("warden-revoked-{tag}-{}", crate::keys::hex(&r)))
    }

    #[test]
    fn parses_ids_comments_and_blank_lines() {
        let a = TokenId::from_bytes([1; 16]);
        let text = format!("# revoked\n\n{a}  # leaked in a log\n");
        let set = parse_list(&text).unwrap();
        assert!(set.contains(&a));
        assert_eq!(set.len(), 1);
        assert_eq!(parse_list("nope\n").unwrap_err(), (1, "nope".to_string()));
    }

    #[test]
    fn file_list_reloads_when_the_file_changes() {
        let p = tmpfile("reload");
        fs::write(&p, "").unwrap();
        let list = FileRevocations::open(&p).unwrap();
        let a = TokenId::from_bytes([1; 16]);
        let b = TokenId::from_bytes([2; 16]);
        assert!(!list.is_revoked(&a).unwrap());
        FileRevocations::append(&p, &a).unwrap();
        assert!(list.is_revoked(&a).unwrap());
        assert!(!list.is_revoked(&b).unwrap());
        // Replace the file wholesale (a new inode), as editors do.
        let tmp = tmpfile("reload-new");
        fs::write(&tmp, format!("{b}\n")).unwrap();
        fs::rename(&tmp, &p).unwrap();
        assert!(!list.is_revoked(&a).unwrap());
        assert!(list.is_revoked(&b).unwrap());
        fs::remove_file(&p).unwrap();
    }

    #[test]
    fn an_unreadable_or_bad_list_fails_closed() {
        let p = tmpfile("bad");
        assert!(FileRevocations::open(&p).is_err());
        fs::write(&p, "").unwrap();
        let list = FileRevocations::open(&p).unwrap();
        let a = TokenId::from_bytes([1; 16]);
        fs::write(&p, "not-an-id\n").unwrap();
        let e = list.is_revoked(&a).unwrap_err();
        assert!(matches!(e, RevocationError::BadLine { line: 1, .. }), "{e}");
        fs::remove_file(&p).unwrap();
        assert!(matches!(
            list.is_revoked(&a),
            Err(RevocationError::Io { .. })
        ));
    }
}
