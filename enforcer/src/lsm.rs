//! The BPF LSM layer, what it enforces: the file part of an envelope
//! compiled into the entries of the LSM programs' maps
//! (`enforcer-ebpf/src/lsm.rs`). The kernel side (the running kernel's
//! struct offsets, loading the programs, whether this kernel supports the
//! layer at all) is [`crate::ebpf::lsm`]; a run's entries are written when
//! its eBPF layers attach ([`crate::ebpf::EbpfLayers::attach_lsm`]).
//!
//! The layer is the most precise one: exact files and suffix patterns such as
//! `/tmp/out/*.tmp` after symlink resolution, exec by path, connect by
//! address, refused with EACCES/EPERM before they happen. Kernels (and
//! hypervisors) that refuse BPF trampoline programs cannot run it;
//! [`crate::ebpf::lsm::probe`] finds that out at run time by trying.
//!
//! ```no_run
//! use enforcer::lsm::{FileGrant, LsmRules, ACCESS_READ, ACCESS_WRITE};
//! let rules = LsmRules::from_grants(&[
//!     FileGrant::new("/repo/**", ACCESS_READ),
//!     FileGrant::new("/tmp/out/*.tmp", ACCESS_WRITE),
//! ])?;
//! assert!(rules.path_entries() > 0);
//! # Ok::<(), enforcer::lsm::LsmError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use enforcer_common::lsm::{
    ACCESS_CREATE, ACCESS_EXEC, ACCESS_READ, ACCESS_REMOVE, ACCESS_WRITE, InodeKey, InodeRule,
    LSM_NAME_MAX, LSM_NAME_RULES, LSM_PATH_MAX, LsmKey, LsmOffsets, NAME_EXACT, NAME_SUFFIX,
    NAME_SUFFIX_TREE, NameRule, PathRule,
};

use crate::ebpf::EbpfError;
use crate::ebpf::policy::kernel_inode;
use crate::policy::{FileRights, FileScope, KernelPolicy};

/// The LSM hooks of the layer, as named in the object and in the kernel.
pub const HOOKS: &[&str] = &[
    "file_open",
    "bprm_check_security",
    "socket_connect",
    "path_mknod",
    "path_mkdir",
    "path_symlink",
    "path_link",
    "path_unlink",
    "path_rmdir",
    "path_rename",
    "task_kill",
    "ptrace_access_check",
    "ptrace_traceme",
];

/// The global variable of the object holding [`LsmOffsets`].
pub const OFFSETS_GLOBAL: &str = "LSM_OFFSETS";

/// Why the layer cannot be compiled, loaded or attached.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    /// A file pattern this layer cannot express exactly.
    #[error("the BPF LSM layer cannot express {pattern:?}: {why}")]
    Unsupported {
        /// The pattern.
        pattern: String,
        /// Which part is the problem.
        why: &'static str,
    },
    /// More name rules on one directory than the programs carry.
    #[error("more than {max} suffix or name patterns in {dir}", max = LSM_NAME_RULES)]
    TooManyNames {
        /// The directory.
        dir: String,
    },
    /// The kernel's BTF lacks a struct member the programs read, or the
    /// shared eBPF object could not be loaded.
    #[error(transparent)]
    Ebpf(#[from] EbpfError),
    /// The kernel's BTF lacks a struct member the programs read.
    #[error("the kernel's BTF lacks what the LSM programs read: {0}")]
    Offsets(String),
    /// The kernel does not list `bpf` among its active LSMs.
    #[error("the kernel's active LSMs ({0}) do not include bpf: boot with lsm=...,bpf")]
    NotActive(String),
    /// The run is not attached to its cgroup yet.
    #[error("the eBPF layers are not attached to the run's cgroup yet")]
    NotAttached,
    /// The node has no LSM programs: this kernel did not load them.
    #[error("the BPF LSM programs are not loaded on this machine: {0}")]
    NotLoaded(String),
    /// Loading the object, a program, or a map failed.
    #[error("{what}: {source}")]
    Aya {
        /// What was being done.
        what: String,
        /// The error from aya.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub(crate) fn aya_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> LsmError {
    move |e| LsmError::Aya {
        what: what.into(),
        source: Box::new(e),
    }
}

/// One file grant of an envelope: a path pattern and the `ACCESS_*` bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// An absolute path or glob (`/a/b`, `/a/b/**`, `/a/b/*.tmp`, `/a/b/**/*.tmp`).
    pub pattern: String,
    /// `ACCESS_*` bits.
    pub access: u32,
}

impl FileGrant {
    /// A grant.
    pub fn new(pattern: impl Into<String>, access: u32) -> FileGrant {
        FileGrant {
            pattern: pattern.into(),
            access,
        }
    }

    /// The grants of a [`KernelPolicy`]'s files and programs (a program may
    /// be executed and read, as the policy says). A rule that widens an
    /// envelope shape for Landlock (`/tmp/out/*.tmp` as the tree
    /// `/tmp/out/`, [`crate::policy::FileRule::exact`]) is given in its exact
    /// form when this layer expresses it, so the layer enforces it as the
    /// envelope says (and as the `root+bpf-lsm` profile proved it).
    pub fn from_policy(policy: &KernelPolicy) -> Vec<FileGrant> {
        let mut out = Vec::with_capacity(policy.files.len() + policy.exec.len());
        for rule in &policy.files {
            if let Some(exact) = rule
                .exact
                .as_deref()
                .filter(|e| warden_core::shape::lsm_expresses(e))
            {
                out.push(FileGrant::new(exact, access_bits(rule.access)));
                continue;
            }
            let path = rule.path.display().to_string();
            let pattern = match rule.scope {
                FileScope::File => path,
                FileScope::Tree if path.ends_with('/') => format!("{path}**"),
                FileScope::Tree => format!("{path}/**"),
            };
            out.push(FileGrant::new(pattern, access_bits(rule.access)));
        }
        for program in &policy.exec {
            out.push(FileGrant::new(
                program.display().to_string(),
                ACCESS_EXEC | ACCESS_READ,
            ));
        }
        out
    }
}

/// The `ACCESS_*` bits of a policy's [`FileRights`] (the same five rights).
fn access_bits(access: FileRights) -> u32 {
    [
        (FileRights::READ, ACCESS_READ),
        (FileRights::WRITE, ACCESS_WRITE),
        (FileRights::CREATE, ACCESS_CREATE),
        (FileRights::REMOVE, ACCESS_REMOVE),
        (FileRights::EXEC, ACCESS_EXEC),
    ]
    .iter()
    .filter(|(a, _)| access.contains(*a))
    .fold(0, |bits, (_, b)| bits | b)
}

/// The shape of a pattern that the layer enforces exactly: written once,
/// in the core, for this compiler and for the proof of the enforced
/// envelope alike.
pub use warden_core::shape::LsmShape as Shape;

// The core's bound on suffixes is this layer's.
const _: () = assert!(LSM_NAME_MAX == warden_core::shape::LSM_SUFFIX_MAX);

/// Classifies a pattern ([`warden_core::shape::lsm_shape`]), or says why
/// the layer cannot express it exactly (the proven-envelope step then
/// widens it or refuses the run).
pub fn shape(pattern: &str) -> Result<Shape, LsmError> {
    warden_core::shape::lsm_shape(pattern).map_err(|why| LsmError::Unsupported {
        pattern: pattern.to_string(),
        why,
    })
}

/// Resolves symlinks in the longest existing prefix of `path` (the kernel
/// sees resolved paths), keeping the components that do not exist yet.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut missing = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for m in missing.iter().rev() {
                out.push(m);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The inode of `path` as a key of `LSM_INODES` (the run is set when the
/// rules are written for a run).
fn inode_of(path: &Path) -> Option<InodeKey> {
    let (dev, ino) = kernel_inode(path).ok()?;
    Some(InodeKey { run: 0, dev, ino })
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    pub(crate) access: u32,
    pub(crate) names: Vec<NameRule>,
}

fn push_name(names: &mut Vec<NameRule>, rule: NameRule, dir: &str) -> Result<(), LsmError> {
    if let Some(same) = names
        .iter_mut()
        .find(|r| r.kind == rule.kind && r.len == rule.len && r.name == rule.name)
    {
        same.access |= rule.access;
        return Ok(());
    }
    if names.len() >= LSM_NAME_RULES {
        return Err(LsmError::TooManyNames {
            dir: dir.to_string(),
        });
    }
    names.push(rule);
    Ok(())
}

pub(crate) fn names_array(names: &[NameRule]) -> [NameRule; LSM_NAME_RULES] {
    let mut out = [NameRule::EMPTY; LSM_NAME_RULES];
    for (slot, rule) in out.iter_mut().zip(names) {
        *slot = *rule;
    }
    out
}

fn name_rule(name: &str, kind: u8, access: u32, pattern: &str) -> Result<NameRule, LsmError> {
    NameRule::new(name.as_bytes(), kind, access).ok_or_else(|| LsmError::Unsupported {
        pattern: pattern.to_string(),
        why: "a name the programs cannot carry",
    })
}

type InodeEntries = BTreeMap<InodeKey, (InodeRule, Vec<NameRule>)>;

fn dir_key(d: &Path) -> Vec<u8> {
    let mut k = d.as_os_str().as_encoded_bytes().to_vec();
    if k.last() != Some(&b'/') {
        k.push(b'/');
    }
    k
}

fn file_key(f: &Path) -> Vec<u8> {
    let mut k = f.as_os_str().as_encoded_bytes().to_vec();
    k.push(0);
    k
}

fn too_long(pattern: &str) -> LsmError {
    LsmError::Unsupported {
        pattern: pattern.to_string(),
        why: "a path longer than 255 bytes",
    }
}

/// A suffix grant: a name rule on the directory's trie entry and inode.
fn add_suffix(
    paths: &mut BTreeMap<Vec<u8>, Entry>,
    inodes: &mut InodeEntries,
    dir: &Path,
    suffix: &str,
    kind: u8,
    grant: &FileGrant,
) -> Result<(), LsmError> {
    let d = resolve(dir);
    let dk = dir_key(&d);
    if dk.len() > LSM_PATH_MAX {
        return Err(too_long(&grant.pattern));
    }
    let rule = name_rule(suffix, kind, grant.access, &grant.pattern)?;
    push_name(
        &mut paths.entry(dk).or_default().names,
        rule,
        &grant.pattern,
    )?;
    if let Some(k) = inode_of(&d) {
        push_name(&mut inodes.entry(k).or_default().1, rule, &grant.pattern)?;
    }
    Ok(())
}

/// The compiled file envelope: the entries of `LSM_PATHS` and `LSM_INODES`.
#[derive(Debug, Clone, Default)]
pub struct LsmRules {
    /// Trie entries: key bytes (a directory ends with `/`, a file with NUL).
    pub(crate) paths: BTreeMap<Vec<u8>, Entry>,
    /// Inode entries for the directory hooks.
    pub(crate) inodes: BTreeMap<InodeKey, InodeRule>,
}

impl LsmRules {
    /// Compiles file grants. Paths are resolved (symlinks) as they are now;
    /// inode rules exist only for directories and files that exist now.
    pub fn from_grants(grants: &[FileGrant]) -> Result<LsmRules, LsmError> {
        let mut paths: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
        let mut inodes: InodeEntries = BTreeMap::new();
        for g in grants {
            let a = g.access;
            match shape(&g.pattern)? {
                Shape::Exact(p) => {
                    let p = resolve(Path::new(&p));
                    let key = file_key(&p);
                    if key.len() > LSM_PATH_MAX {
                        return Err(too_long(&g.pattern));
                    }
                    paths.entry(key).or_default().access |= a;
                    if let Some(k) = inode_of(&p) {
                        inodes.entry(k).or_default().0.itself |= a;
                    }
                    // By name in its directory: create and remove by name.
                    if let (Some(parent), Some(name)) = (p.parent(), p.file_name())
                        && let Some(k) = inode_of(parent)
                    {
                        let name = name.to_string_lossy();
                        if name.len() <= LSM_NAME_MAX {
                            let rule = name_rule(&name, NAME_EXACT, a, &g.pattern)?;
                            push_name(&mut inodes.entry(k).or_default().1, rule, &g.pattern)?;
                        }
                    }
                }
                Shape::Tree(d) => {
                    let d = resolve(Path::new(&d));
                    let (dk, fk) = (dir_key(&d), file_key(&d));
                    if dk.len() > LSM_PATH_MAX {
                        return Err(too_long(&g.pattern));
                    }
                    paths.entry(dk).or_default().access |= a;
                    if fk.len() <= LSM_PATH_MAX && d != Path::new("/") {
                        paths.entry(fk).or_default().access |= a;
                    }
                    if let Some(k) = inode_of(&d) {
                        let e = &mut inodes.entry(k).or_default().0;
                        e.itself |= a;
                        e.tree |= a;
                    }
                }
                Shape::Suffix(d, s) => {
                    add_suffix(&mut paths, &mut inodes, Path::new(&d), &s, NAME_SUFFIX, g)?;
                }
                Shape::TreeSuffix(d, s) => {
                    add_suffix(
                        &mut paths,
                        &mut inodes,
                        Path::new(&d),
                        &s,
                        NAME_SUFFIX_TREE,
                        g,
                    )?;
                }
            }
        }

        // Merge into every entry what the shorter entries containing it grant:
        // tree access, and the name rules that reach it.
        let snapshot = paths.clone();
        for (key, entry) in paths.iter_mut() {
            for (dk, d) in snapshot.range(..key.clone()) {
                if dk.last() != Some(&b'/') || !key.starts_with(dk) || dk == key {
                    continue;
                }
                entry.access |= d.access;
                let rest = &key[dk.len()..];
                if key.last() == Some(&0) {
                    // A file: evaluate the directory's name rules on it now.
                    let rest = &rest[..rest.len() - 1];
                    for r in &d.names {
                        if r.matches(rest) {
                            entry.access |= r.access;
                        }
                    }
                } else {
                    // A directory below: only tree suffixes reach its contents.
                    for r in d.names.iter().filter(|r| r.kind == NAME_SUFFIX_TREE) {
                        push_name(&mut entry.names, *r, &String::from_utf8_lossy(key))?;
                    }
                }
            }
        }
        let inodes = inodes
            .into_iter()
            .map(|(k, (mut rule, names))| {
                rule.names = names_array(&names);
                (k, rule)
            })
            .collect();
        Ok(LsmRules { paths, inodes })
    }

    /// The rules of a run launched under `policy`: its files and programs,
    /// and read access to each program's ELF interpreter, which the kernel
    /// opens to start it (running the interpreter directly stays refused).
    pub fn for_launch(policy: &KernelPolicy) -> Result<LsmRules, LsmError> {
        let mut grants = FileGrant::from_policy(policy);
        for program in &policy.exec {
            if let Some(interp) = crate::landlock::elf_interpreter(program) {
                grants.push(FileGrant::new(interp.display().to_string(), ACCESS_READ));
            }
        }
        LsmRules::from_grants(&grants)
    }

    /// Entries of `LSM_PATHS`.
    pub fn path_entries(&self) -> usize {
        self.paths.len()
    }

    /// Entries of `LSM_INODES`.
    pub fn inode_entries(&self) -> usize {
        self.inodes.len()
    }

    /// What the compiled envelope grants on `path` (already resolved), the
    /// way the `file_open` and `bprm_check_security` programs decide: the
    /// longest matching entry, then its name rules. The reference the
    /// kernel side is tested against.
    pub fn path_access(&self, path: &str) -> u32 {
        let mut bytes = path.as_bytes().to_vec();
        bytes.push(0);
        let key_len = bytes.len().min(LSM_PATH_MAX);
        let Some((key, entry)) = self
            .paths
            .iter()
            .filter(|(k, _)| k.len() <= key_len && bytes[..key_len].starts_with(k))
            .max_by_key(|(k, _)| k.len())
        else {
            return 0;
        };
        let mut access = entry.access;
        if bytes.len() <= LSM_PATH_MAX && key.last() == Some(&b'/') {
            let rest = &bytes[key.len()..bytes.len() - 1];
            for r in &entry.names {
                if r.matches(rest) {
                    access |= r.access;
                }
            }
        }
        access
    }
}

/// Refuses early when the kernel's list of active LSMs
/// (`/sys/kernel/security/lsm`) is readable and lacks `bpf`. Where securityfs
/// is not mounted the list is unknown, and loading the programs decides.
pub fn check_active() -> Result<(), LsmError> {
    let Ok(list) = std::fs::read_to_string("/sys/kernel/security/lsm") else {
        return Ok(());
    };
    let list = list.trim();
    if list.split(',').any(|l| l == "bpf") {
        Ok(())
    } else {
        Err(LsmError::NotActive(list.to_string()))
    }
}

/// The error with its causes, on one line.
pub fn render(e: &LsmError) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // aya's errors repeat their source in their own text: say it once.
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebpf::policy::kernel_dev;

    #[test]
    fn a_pattern_the_layer_cannot_express_is_refused_with_why() {
        assert_eq!(shape("/a/b/**").unwrap(), Shape::Tree("/a/b".into()));
        let err = shape("/a/*/*.tmp").unwrap_err().to_string();
        assert!(err.contains("a glob before the last component"), "{err}");
    }

    #[test]
    fn grants_from_a_kernel_policy() {
        let mut policy = KernelPolicy::new();
        policy
            .allow_path("/srv/data", FileScope::Tree, FileRights::READ)
            .unwrap()
            .allow_path(
                "/etc/hosts",
                FileScope::File,
                FileRights::READ | FileRights::WRITE,
            )
            .unwrap()
            .allow_exec("/usr/bin/git")
            .unwrap();
        let grants = FileGrant::from_policy(&policy);
        assert_eq!(
            grants,
            vec![
                FileGrant::new("/srv/data/**", ACCESS_READ),
                FileGrant::new("/etc/hosts", ACCESS_READ | ACCESS_WRITE),
                FileGrant::new("/usr/bin/git", ACCESS_EXEC | ACCESS_READ),
            ]
        );
    }

    #[test]
    fn widened_shapes_reach_the_layer_exactly() {
        // `write "/tmp/out/*.tmp"` is the tree /tmp/out for Landlock, and
        // the suffix rule itself here: a .tmp write allowed, a .sh refused.
        let env: warden_core::envelope::Envelope = serde_json::from_value(serde_json::json!({
            "version": 1,
            "files": [{"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}},
                      {"access": "read", "target": {"shape": "glob", "glob": "/srv/*/x"}}],
            "exec": [], "connect": [], "listen": [], "calls": [], "params": [],
            "limits": [], "ordering": [], "baseline": []
        }))
        .unwrap();
        let layers = crate::layer::Layer::ALL.into_iter().collect();
        let policy = KernelPolicy::from_envelope(&env, &layers).unwrap();
        assert_eq!(policy.files[0].exact.as_deref(), Some("/tmp/out/*.tmp"));
        let grants = FileGrant::from_policy(&policy);
        assert_eq!(
            grants,
            vec![
                FileGrant::new("/tmp/out/*.tmp", ACCESS_WRITE | ACCESS_CREATE),
                // A glob the layer cannot express keeps its widened tree.
                FileGrant::new("/srv/**", ACCESS_READ),
            ]
        );
        let rules = LsmRules::from_grants(&grants).unwrap();
        assert_ne!(rules.path_access("/tmp/out/a.tmp") & ACCESS_WRITE, 0);
        assert_eq!(rules.path_access("/tmp/out/evil.sh") & ACCESS_WRITE, 0);
    }

    #[test]
    fn kernel_dev_encoding() {
        // 8:1 (/dev/sda1) is 0x801 for stat; the kernel encodes it as 8 << 20 | 1.
        assert_eq!(kernel_dev(0x801), (8 << 20) | 1);
        // 259:65536 uses the high bits on both sides.
        let (major, minor) = (259u64, 65536u64);
        let user = ((major & 0xfff) << 8)
            | ((major & !0xfff) << 32)
            | (minor & 0xff)
            | ((minor & !0xff) << 12);
        assert_eq!(kernel_dev(user), (major << 20) | minor);
    }

    #[test]
    fn exact_tree_and_suffix_grants() {
        // Non-existent paths: no inode rules, path rules only.
        let rules = LsmRules::from_grants(&[
            FileGrant::new("/nonexistent-warden/data/**", ACCESS_READ),
            FileGrant::new(
                "/nonexistent-warden/out/*.tmp",
                ACCESS_WRITE | ACCESS_CREATE,
            ),
            FileGrant::new("/nonexistent-warden/out/keep.txt", ACCESS_READ),
            FileGrant::new("/nonexistent-warden/logs/**/*.log", ACCESS_WRITE),
        ])
        .unwrap();
        let r = |p: &str| rules.path_access(p);
        assert_eq!(r("/nonexistent-warden/data/a/b"), ACCESS_READ);
        assert_eq!(r("/nonexistent-warden/data"), ACCESS_READ);
        assert_eq!(r("/nonexistent-warden/datab"), 0);
        assert_eq!(
            r("/nonexistent-warden/out/x.tmp"),
            ACCESS_WRITE | ACCESS_CREATE
        );
        assert_eq!(r("/nonexistent-warden/out/x.sh"), 0);
        assert_eq!(r("/nonexistent-warden/out/sub/x.tmp"), 0);
        assert_eq!(r("/nonexistent-warden/out/keep.txt"), ACCESS_READ);
        assert_eq!(r("/nonexistent-warden/logs/a/b/c.log"), ACCESS_WRITE);
        assert_eq!(r("/nonexistent-warden/logs/a/b/c.log.gz"), 0);
        assert_eq!(r("/etc/passwd"), 0);
    }

    #[test]
    fn files_under_trees_merge_the_tree_and_the_names() {
        let rules = LsmRules::from_grants(&[
            FileGrant::new("/nonexistent-warden/**", ACCESS_READ),
            FileGrant::new("/nonexistent-warden/out/*.tmp", ACCESS_WRITE),
            FileGrant::new("/nonexistent-warden/out/a.tmp", ACCESS_REMOVE),
            FileGrant::new("/nonexistent-warden/**/*.log", ACCESS_WRITE),
            FileGrant::new("/nonexistent-warden/deep/x/**", ACCESS_EXEC),
        ])
        .unwrap();
        let r = |p: &str| rules.path_access(p);
        assert_eq!(
            r("/nonexistent-warden/out/a.tmp"),
            ACCESS_READ | ACCESS_WRITE | ACCESS_REMOVE
        );
        assert_eq!(
            r("/nonexistent-warden/out/b.tmp"),
            ACCESS_READ | ACCESS_WRITE
        );
        assert_eq!(
            r("/nonexistent-warden/deep/x/y.log"),
            ACCESS_READ | ACCESS_EXEC | ACCESS_WRITE
        );
        assert_eq!(
            r("/nonexistent-warden/deep/x/y.txt"),
            ACCESS_READ | ACCESS_EXEC
        );
    }

    #[test]
    fn too_many_names_in_one_directory_is_an_error() {
        let grants: Vec<_> = (0..=LSM_NAME_RULES)
            .map(|i| FileGrant::new(format!("/nonexistent-warden/*.s{i}"), ACCESS_WRITE))
            .collect();
        assert!(matches!(
            LsmRules::from_grants(&grants),
            Err(LsmError::TooManyNames { .. })
        ));
    }

    #[test]
    fn existing_directories_get_inode_rules() {
        let dir = std::env::temp_dir().join(format!("warden-lsm-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = LsmRules::from_grants(&[
            FileGrant::new(format!("{}/*.tmp", dir.display()), ACCESS_CREATE),
            FileGrant::new(format!("{}/**", dir.display()), ACCESS_READ),
        ])
        .unwrap();
        let key = inode_of(&dir).unwrap();
        let rule = rules.inodes.get(&key).unwrap();
        assert_eq!(rule.tree, ACCESS_READ);
        assert_eq!(rule.names[0].kind, NAME_SUFFIX);
        assert_eq!(rule.names[0].access, ACCESS_CREATE);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
