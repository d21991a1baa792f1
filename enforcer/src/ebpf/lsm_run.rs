//! The BPF LSM rules of one run in the node's maps: written when the run
//! attaches, taken out when it ends.

use aya::maps::HashMap as BpfHashMap;
use aya::maps::MapData;
use aya::maps::lpm_trie::{Key, LpmTrie};
use enforcer_common::RUN_KEY_LEN;
use enforcer_common::lsm::{InodeKey, InodeRule, LSM_PATH_MAX, LsmKey, PathRule};

use super::node::Node;
use crate::lsm::{LsmError, LsmRules, aya_err, names_array};

/// Writes the rules of the run `run` (its cgroup id) into the node's
/// `LSM_PATHS` and `LSM_INODES`; what was written, to take out again.
pub(crate) fn fill(rules: &LsmRules, node: &Node, run: u64) -> Result<Written, LsmError> {
    let mut written = Written::default();
    let result = fill_into(rules, node, run, &mut written);
    if let Err(e) = result {
        written.remove(node);
        return Err(e);
    }
    Ok(written)
}

fn fill_into(
    rules: &LsmRules,
    node: &Node,
    run: u64,
    written: &mut Written,
) -> Result<(), LsmError> {
    let mut trie: LpmTrie<MapData, LsmKey, PathRule> = node.typed_map("LSM_PATHS")?;
    for (key, entry) in &rules.paths {
        let mut data: LsmKey = [0u8; RUN_KEY_LEN + LSM_PATH_MAX];
        data[..RUN_KEY_LEN].copy_from_slice(&run.to_be_bytes());
        data[RUN_KEY_LEN..RUN_KEY_LEN + key.len()].copy_from_slice(key);
        let value = PathRule {
            access: entry.access,
            prefix_len: key.len() as u32,
            names: names_array(&entry.names),
        };
        let key_bits = ((RUN_KEY_LEN + key.len()) * 8) as u32;
        let lpm = Key::new(key_bits, data);
        written.paths.push(lpm);
        trie.insert(&lpm, value, 0).map_err(aya_err(format!(
            "insert {} into LSM_PATHS",
            String::from_utf8_lossy(key)
        )))?;
    }
    let mut hash: BpfHashMap<MapData, InodeKey, InodeRule> = node.typed_map("LSM_INODES")?;
    for (key, rule) in &rules.inodes {
        let key = InodeKey { run, ..*key };
        written.inodes.push(key);
        hash.insert(key, rule, 0)
            .map_err(aya_err("insert into LSM_INODES"))?;
    }
    Ok(())
}

/// The entries one run wrote into the LSM maps.
#[derive(Default)]
pub(crate) struct Written {
    paths: Vec<Key<LsmKey>>,
    inodes: Vec<InodeKey>,
}

impl std::fmt::Debug for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("paths", &self.paths.len())
            .field("inodes", &self.inodes.len())
            .finish()
    }
}

impl Written {
    /// Takes the entries out of the node's maps (what fails is ignored: the
    /// run is gone either way, and its entries match no process any more).
    pub(crate) fn remove(&self, node: &Node) {
        if let Ok(mut trie) = node.typed_map::<LpmTrie<MapData, LsmKey, PathRule>>("LSM_PATHS") {
            self.paths.iter().for_each(|k| drop(trie.remove(k)));
        }
        if let Ok(mut hash) =
            node.typed_map::<BpfHashMap<MapData, InodeKey, InodeRule>>("LSM_INODES")
        {
            self.inodes.iter().for_each(|k| drop(hash.remove(k)));
        }
    }
}
