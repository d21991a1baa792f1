//! The specs in force: every `*.spec` file of one directory, by file stem.
//!
//! The registry holds an immutable map behind an [`ArcSwap`]: a request
//! takes a snapshot with one atomic load and keeps using it even while a
//! reload swaps in a new map, so reloading never blocks or drops requests.
//! A reload compiles every spec file again; a spec that fails keeps its
//! previous version in force and the failure is reported (returned, logged
//! and audited by the caller). A spec whose file is removed is taken out of
//! force: the security team removed it.

use crate::engine::{Engine, PreparedSpec};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// One spec in force.
pub struct SpecEntry<S> {
    /// The spec's name: its file's stem (`banking` for `banking.spec`).
    pub name: String,
    /// The spec's file.
    pub file: PathBuf,
    /// The spec compiled, with its hash.
    pub prepared: PreparedSpec<S>,
}

/// What a reload did to one spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecChange {
    /// Compiled and put in force (first load or changed text).
    Loaded {
        /// The hash of the version now in force.
        spec_hash: String,
    },
    /// Compiled to the same spec as before: nothing changed.
    Unchanged,
    /// Failed to compile; the previous version (if any) stays in force.
    Failed {
        /// The diagnostics, rendered like a compiler's.
        error: String,
        /// Whether a previous version stays in force.
        kept_previous: bool,
    },
    /// The file is gone; the spec is no longer in force.
    Removed,
}

/// The outcome of a reload for one spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecStatus {
    /// The spec's name (its file's stem).
    pub name: String,
    /// The spec's file.
    pub file: PathBuf,
    /// What the reload did to it.
    pub change: SpecChange,
    /// Whether a version of this spec is in force after the reload.
    pub in_force: bool,
    /// The hash of the version in force (empty if none).
    pub spec_hash: String,
}

/// The registry of specs.
pub struct SpecRegistry<E: Engine> {
    dir: PathBuf,
    specs: ArcSwap<BTreeMap<String, Arc<SpecEntry<E::Spec>>>>,
    /// Serializes reloads; holds the directory fingerprint of the last one.
    reload: std::sync::Mutex<Option<Fingerprint>>,
}

/// File names, sizes and modification times of a directory's files.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// Why the spec directory cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the spec directory {dir}: {source}")]
pub struct SpecDirError {
    /// The spec directory.
    pub dir: String,
    /// Why it cannot be read.
    #[source]
    pub source: std::io::Error,
}

fn fingerprint(dir: &Path) -> Result<Fingerprint, SpecDirError> {
    let err = |source| SpecDirError {
        dir: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    // Includes may live in subdirectories: watch the whole tree.
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(err)? {
            let e = e.map_err(err)?;
            let md = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), md.len(), md.modified().ok()));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl<E: Engine> SpecRegistry<E> {
    /// An empty registry over `dir`; call [`SpecRegistry::reload`] to load.
    pub fn new(dir: &Path) -> Self {
        SpecRegistry {
            dir: dir.to_path_buf(),
            specs: ArcSwap::from_pointee(BTreeMap::new()),
            reload: std::sync::Mutex::new(None),
        }
    }

    /// The spec directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The spec in force under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<SpecEntry<E::Spec>>> {
        self.specs.load().get(name).cloned()
    }

    /// Names and hashes of the specs in force.
    pub fn names(&self) -> Vec<(String, String)> {
        self.specs
            .load()
            .values()
            .map(|e| (e.name.clone(), e.prepared.spec_hash.clone()))
            .collect()
    }

    /// Reloads only if a file under the directory changed since the last
    /// reload (for polling). `None`: nothing changed.
    pub fn reload_if_changed(&self, engine: &E) -> Result<Option<Vec<SpecStatus>>, SpecDirError> {
        let fp = fingerprint(&self.dir)?;
        {
            let last = self.reload.lock().unwrap_or_else(|p| p.into_inner());
            if last.as_ref() == Some(&fp) {
                return Ok(None);
            }
        }
        self.reload(engine).map(Some)
    }

    /// Compiles every `*.spec` file of the directory and swaps in the new
    /// set; failures keep the previous version of that spec.
    pub fn reload(&self, engine: &E) -> Result<Vec<SpecStatus>, SpecDirError> {
        let mut guard = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        let fp = fingerprint(&self.dir)?;
        let old = self.specs.load_full();
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for (p, _, _) in &fp {
            if p.parent() == Some(self.dir.as_path())
                && p.extension().is_some_and(|e| e == "spec")
                && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
            {
                files.push((stem.to_owned(), p.clone()));
            }
        }
        let mut next: BTreeMap<String, Arc<SpecEntry<E::Spec>>> = BTreeMap::new();
        let mut statuses = Vec::new();
        for (name, file) in files {
            let prev = old.get(&name);
            let (change, entry) = match engine.load_spec(&file) {
                Ok(loaded) => {
                    if prev.is_some_and(|p| p.prepared.spec_hash == loaded.spec_hash) {
                        (SpecChange::Unchanged, prev.cloned())
                    } else {
                        let spec_hash = loaded.spec_hash.clone();
                        (
                            SpecChange::Loaded { spec_hash },
                            Some(Arc::new(SpecEntry {
                                name: name.clone(),
                                file: file.clone(),
                                prepared: loaded,
                            })),
                        )
                    }
                }
                Err(error) => (
                    SpecChange::Failed {
                        error: error.to_string(),
                        kept_previous: prev.is_some(),
                    },
                    prev.cloned(),
                ),
            };
            statuses.push(SpecStatus {
                name: name.clone(),
                file,
                change,
                in_force: entry.is_some(),
                spec_hash: entry
                    .as_ref()
                    .map(|e| e.prepared.spec_hash.clone())
                    .unwrap_or_default(),
            });
            if let Some(e) = entry {
                next.insert(name, e);
            }
        }
        for (name, e) in old.iter() {
            if !next.contains_key(name) && !statuses.iter().any(|s| &s.name == name) {
                statuses.push(SpecStatus {
                    name: name.clone(),
                    file: e.file.clone(),
                    change: SpecChange::Removed,
                    in_force: false,
                    spec_hash: String::new(),
                });
            }
        }
        self.specs.store(Arc::new(next));
        *guard = Some(fp);
        Ok(statuses)
    }
}
