//! What the supervisor decides on, and the decisions the launcher chooses
//! between: the policy's write rules as Landlock applies them, or (under
//! the `root+bpf-lsm` profile) as the BPF LSM layer is given them.

use crate::lsm::{ACCESS_WRITE, LsmError, LsmRules};
use crate::policy::{FileRights, KernelPolicy};
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file's identity: device and inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device, as `stat`'s `st_dev` gives it.
    pub dev: u64,
    /// The inode number on that device.
    pub ino: u64,
}

impl FileId {
    /// The identity of what `path` names now (symlinks followed).
    pub fn of_path(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// The object a supervised call reached, as the decision sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its path as the kernel names it (the link of `/proc/self/fd/N` of
    /// the descriptor the call resolved to: symlinks and `..` resolved).
    pub path: PathBuf,
    /// The identity of `/` and of each directory below it on that path,
    /// the object itself last: the dentries Landlock walks (from the
    /// object up to the root) when it checks an access.
    pub chain: Vec<FileId>,
}

/// A decision: may the caller change the metadata of this target?
pub type Decide = Box<dyn Fn(&Target) -> bool + Send>;

/// The policy's write rules, ready to decide.
#[derive(Clone, Debug)]
pub struct WriteRules {
    /// The files and directories of the rules granting write, by identity
    /// (Landlock's rules hold the inode, not the name).
    ids: HashSet<FileId>,
    /// Under BPF LSM: the rules as that layer is given them.
    exact: Option<LsmRules>,
    paths: Vec<PathBuf>,
}

impl WriteRules {
    /// Exactly as Landlock applies the rules: a rule granting `write` on a
    /// file covers that file, on a directory that directory and everything
    /// below it, by inode (rules on paths that do not exist are skipped, as
    /// Landlock skips them).
    pub fn landlock(policy: &KernelPolicy) -> Self {
        let paths: Vec<PathBuf> = policy
            .files
            .iter()
            .filter(|r| r.access.contains(FileRights::WRITE))
            .map(|r| r.path.clone())
            .collect();
        let ids = paths.iter().filter_map(|p| FileId::of_path(p)).collect();
        Self {
            ids,
            exact: None,
            paths,
        }
    }

    /// Under the `root+bpf-lsm` profile: a rule's exact shape
    /// ([`crate::policy::FileRule::exact`], `/tmp/out/*.tmp`) instead of the
    /// tree Landlock widens it to, decided on the path the way the LSM
    /// programs decide ([`LsmRules::path_access`]); Landlock's rules must
    /// allow it too (the run is under both layers).
    pub fn bpf_lsm(policy: &KernelPolicy) -> Result<Self, LsmError> {
        let mut rules = Self::landlock(policy);
        rules.exact = Some(LsmRules::for_launch(policy)?);
        Ok(rules)
    }

    /// Which of the two this is (`landlock` or `bpf-lsm`).
    pub fn shape(&self) -> &'static str {
        if self.exact.is_some() {
            "bpf-lsm"
        } else {
            "landlock"
        }
    }

    /// The rule paths granting write.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Whether the metadata of `target` may change.
    pub fn allows(&self, target: &Target) -> bool {
        let by_landlock = target.chain.iter().any(|id| self.ids.contains(id));
        let by_lsm = match (&self.exact, target.path.to_str()) {
            (None, _) => true,
            (Some(rules), Some(path)) => rules.path_access(path) & ACCESS_WRITE != 0,
            (Some(_), None) => false,
        };
        by_landlock && by_lsm
    }

    /// As a decision for the supervisor.
    pub fn into_decision(self) -> Decide {
        Box::new(move |t| self.allows(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::FileScope;

    fn target(path: &Path) -> Target {
        // The chain the supervisor would walk: each prefix's identity.
        let mut chain = Vec::new();
        let mut p = PathBuf::from("/");
        chain.push(FileId::of_path(&p).unwrap());
        for c in path.components().skip(1) {
            p.push(c);
            chain.push(FileId::of_path(&p).unwrap());
        }
        Target {
            path: path.to_path_buf(),
            chain,
        }
    }

    #[test]
    fn write_rules_cover_their_file_or_tree_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in ["w", "r", "w/sub"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        for f in ["w/sub/a", "r/b", "one", "two"] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        let mut p = KernelPolicy::new();
        p.allow_path(root.join("w"), FileScope::Tree, FileRights::WRITE)
            .unwrap()
            .allow_path(root.join("r"), FileScope::Tree, FileRights::READ)
            .unwrap()
            .allow_path(root.join("one"), FileScope::File, FileRights::WRITE)
            .unwrap()
            .allow_path(root.join("two"), FileScope::File, FileRights::CREATE)
            .unwrap();
        let rules = WriteRules::landlock(&p);
        assert_eq!(rules.shape(), "landlock");
        for yes in ["w", "w/sub", "w/sub/a", "one"] {
            assert!(rules.allows(&target(&root.join(yes))), "{yes}");
        }
        for no in ["r", "r/b", "two", ""] {
            assert!(!rules.allows(&target(&root.join(no))), "{no}");
        }
    }

    #[test]
    fn under_bpf_lsm_the_exact_shape_decides() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let out = root.join("out");
        std::fs::create_dir(&out).unwrap();
        for f in ["a.tmp", "b.sh"] {
            std::fs::write(out.join(f), "x").unwrap();
        }
        let mut p = KernelPolicy::new();
        let glob = format!("{}/*.tmp", out.display());
        p.allow_widened(&out, FileRights::WRITE | FileRights::CREATE, &glob)
            .unwrap();
        let landlock = WriteRules::landlock(&p);
        let exact = WriteRules::bpf_lsm(&p).unwrap();
        assert_eq!(exact.shape(), "bpf-lsm");
        let (tmp, sh) = (target(&out.join("a.tmp")), target(&out.join("b.sh")));
        assert!(landlock.allows(&tmp) && landlock.allows(&sh));
        assert!(exact.allows(&tmp));
        assert!(!exact.allows(&sh));
        // The path alone is not enough: Landlock's inode chain must agree.
        let elsewhere = Target {
            chain: vec![FileId { dev: 0, ino: 0 }],
            ..tmp
        };
        assert!(!exact.allows(&elsewhere));
    }
}
