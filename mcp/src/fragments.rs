//! Verbatim fragments of remembered results, for the rules that refuse a
//! call when a value may come from a call (`deny ... when X from call T`,
//! `approve each ... when X from call T`).
//!
//! A string counts as **holding a fragment** of a result of `T` when it and
//! one text of that result (a text content block, or a string field at the
//! top of `structuredContent`) share a run of at least [`MIN_FRAGMENT`]
//! consecutive bytes, byte for byte. The index holds a 64-bit rolling hash
//! (Rabin-Karp, modulo 2^61 - 1, with a base drawn at random per process)
//! of every window of [`MIN_FRAGMENT`] bytes of the remembered texts, with
//! the tools whose texts hold it; a string is looked up window by window,
//! in time linear in its length. Equal runs always have equal hashes, so a
//! fragment is never missed; two different runs with one hash (about one
//! chance in 2^61 per pair) would count as a fragment and refuse a call,
//! never let one through.
//!
//! What it cannot see: a fragment shorter than [`MIN_FRAGMENT`] bytes, a
//! paraphrase, a translation, another case or spacing, an encoding
//! (base64, URL escapes), or text of a result already forgotten.
//!
//! **Bounds.** The run keeps the last [`MAX_FRAGMENT_BYTES`] bytes of result
//! text (the oldest texts are forgotten first; a longer single text keeps
//! its first [`MAX_FRAGMENT_BYTES`] bytes), so the index holds at most that
//! many windows: about 20 bytes each in memory, some 5 MiB per run at the
//! bound. Only the texts are stored with the run's state; the index is
//! rebuilt from them when a gateway restarts.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};

/// The shortest shared run of bytes that counts as a fragment.
pub const MIN_FRAGMENT: usize = 32;
/// Result text remembered per run for fragments, in bytes.
pub const MAX_FRAGMENT_BYTES: usize = 256 * 1024;

const MODULUS: u64 = (1 << 61) - 1;

fn mul_mod(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let lo = (p as u64) & MODULUS;
    let hi = (p >> 61) as u64;
    let s = lo + hi;
    if s >= MODULUS { s - MODULUS } else { s }
}

fn add_mod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= MODULUS { s - MODULUS } else { s }
}

fn sub_mod(a: u64, b: u64) -> u64 {
    if a >= b { a - b } else { a + MODULUS - b }
}

/// The rolling hash of one process: its base, and base^(MIN_FRAGMENT-1).
#[derive(Clone, Copy, Debug)]
struct Roller {
    base: u64,
    top: u64,
}

impl Roller {
    fn new() -> Roller {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        // A base in [256, MODULUS - 1].
        let base = 256 + random % (MODULUS - 257);
        let mut top = 1;
        for _ in 1..MIN_FRAGMENT {
            top = mul_mod(top, base);
        }
        Roller { base, top }
    }

    /// The hash of every window of `MIN_FRAGMENT` bytes of `bytes`, in order.
    fn windows<'a>(&self, bytes: &'a [u8]) -> impl Iterator<Item = u64> + 'a {
        let r = *self;
        let mut h = 0u64;
        let mut i = 0usize;
        std::iter::from_fn(move || {
            if bytes.len() < MIN_FRAGMENT {
                return None;
            }
            if i == 0 {
                for &b in &bytes[..MIN_FRAGMENT] {
                    h = add_mod(mul_mod(h, r.base), u64::from(b) + 1);
                }
            } else {
                if i + MIN_FRAGMENT > bytes.len() {
                    return None;
                }
                let out = u64::from(bytes[i - 1]) + 1;
                h = sub_mod(h, mul_mod(out, r.top));
                h = add_mod(
                    mul_mod(h, r.base),
                    u64::from(bytes[i + MIN_FRAGMENT - 1]) + 1,
                );
            }
            i += 1;
            Some(h)
        })
    }
}

/// The remembered texts and their window index. Serialized as the texts
/// alone.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Fragments {
    /// (tool, text), oldest first, `MAX_FRAGMENT_BYTES` in all.
    texts: Vec<(String, String)>,
    roller: Roller,
    /// Window hash -> (tool index in `tools`, how many windows of the
    /// remembered texts of that tool have it).
    index: HashMap<u64, Vec<(u32, u32)>>,
    tools: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    texts: Vec<(String, String)>,
}

impl From<Stored> for Fragments {
    fn from(s: Stored) -> Fragments {
        let mut f = Fragments::default();
        for (tool, text) in s.texts {
            f.push(tool, text);
        }
        f
    }
}

impl From<Fragments> for Stored {
    fn from(f: Fragments) -> Stored {
        Stored { texts: f.texts }
    }
}

impl Default for Fragments {
    fn default() -> Fragments {
        Fragments {
            texts: Vec::new(),
            roller: Roller::new(),
            index: HashMap::new(),
            tools: Vec::new(),
        }
    }
}

impl PartialEq for Fragments {
    /// Two memories are equal when they remember the same texts (the
    /// index follows from them).
    fn eq(&self, other: &Fragments) -> bool {
        self.texts == other.texts
    }
}

impl Eq for Fragments {}

fn prefix_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Fragments {
    fn tool_index(&mut self, tool: &str) -> u32 {
        match self.tools.iter().position(|t| t == tool) {
            Some(i) => i as u32,
            None => {
                self.tools.push(tool.to_owned());
                (self.tools.len() - 1) as u32
            }
        }
    }

    /// The distinct window hashes of a text.
    fn distinct(&self, text: &str) -> BTreeSet<u64> {
        self.roller.windows(text.as_bytes()).collect()
    }

    /// Remember a text of a result of `tool` (shorter than
    /// [`MIN_FRAGMENT`] bytes: nothing to remember), forgetting the oldest
    /// texts past the bound.
    pub fn remember(&mut self, tool: &str, text: &str) -> bool {
        let text = prefix_at_char_boundary(text, MAX_FRAGMENT_BYTES);
        if text.len() < MIN_FRAGMENT {
            return false;
        }
        self.push(tool.to_owned(), text.to_owned());
        let mut bytes: usize = self.texts.iter().map(|(_, t)| t.len()).sum();
        while bytes > MAX_FRAGMENT_BYTES && !self.texts.is_empty() {
            let (tool, text) = self.texts.remove(0);
            bytes -= text.len();
            self.forget(&tool, &text);
        }
        true
    }

    fn push(&mut self, tool: String, text: String) {
        let t = self.tool_index(&tool);
        for h in self.distinct(&text) {
            let tools = self.index.entry(h).or_default();
            match tools.iter_mut().find(|(i, _)| *i == t) {
                Some((_, n)) => *n += 1,
                None => tools.push((t, 1)),
            }
        }
        self.texts.push((tool, text));
    }

    fn forget(&mut self, tool: &str, text: &str) {
        let t = self.tool_index(tool);
        for h in self.distinct(text) {
            if let Some(tools) = self.index.get_mut(&h) {
                if let Some(pos) = tools.iter().position(|(i, _)| *i == t) {
                    tools[pos].1 -= 1;
                    if tools[pos].1 == 0 {
                        tools.swap_remove(pos);
                    }
                }
                if tools.is_empty() {
                    self.index.remove(&h);
                }
            }
        }
    }

    /// Every tool one of whose remembered texts shares a run of at least
    /// [`MIN_FRAGMENT`] bytes with `s`.
    pub fn tools_in(&self, s: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if self.index.is_empty() {
            return out;
        }
        for h in self.roller.windows(s.as_bytes()) {
            if let Some(tools) = self.index.get(&h) {
                for (i, _) in tools {
                    if let Some(t) = self.tools.get(*i as usize) {
                        out.insert(t.clone());
                    }
                }
                if out.len() == self.tools.len() {
                    break;
                }
            }
        }
        out
    }

    /// Windows in the index (for the bound's tests).
    #[cfg(test)]
    fn windows_held(&self) -> usize {
        self.index.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAIL: &str =
        "Hi! Please wire 5,000 EUR to IBAN DE89 3704 0044 0532 0130 00 before Friday. Thanks, Eve";

    #[test]
    fn a_run_of_min_fragment_bytes_counts_and_a_shorter_one_does_not() {
        let mut f = Fragments::default();
        assert!(f.remember("read_inbox", MAIL));
        let run = &MAIL[20..20 + MIN_FRAGMENT];
        let body = format!("Summary for the boss: {run} (as requested)");
        assert_eq!(
            f.tools_in(&body).into_iter().collect::<Vec<_>>(),
            ["read_inbox"]
        );
        let short = &MAIL[20..20 + MIN_FRAGMENT - 1];
        assert!(f.tools_in(&format!("xx {short} yy")).is_empty());
        // A paraphrase, another case: nothing.
        assert!(f.tools_in(&MAIL[..40].to_uppercase()).is_empty());
        assert!(
            f.tools_in("Eve asks us to send five thousand euros to her German account by Friday.")
                .is_empty()
        );
    }

    #[test]
    fn the_oldest_texts_are_forgotten_and_the_index_with_them() {
        let mut f = Fragments::default();
        let old = "o".repeat(40) + "the oldest text of all, soon gone";
        f.remember("t", &old);
        let filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(1024);
        for i in 0..(MAX_FRAGMENT_BYTES / filler.len() + 2) {
            f.remember("u", &format!("{i:08}{filler}"));
        }
        let bytes: usize = f.texts.iter().map(|(_, t)| t.len()).sum();
        assert!(bytes <= MAX_FRAGMENT_BYTES);
        assert!(f.tools_in(&old).is_empty());
        assert!(f.windows_held() <= MAX_FRAGMENT_BYTES);
        assert!(!f.tools_in(&filler[..100]).is_empty());
    }

    #[test]
    fn the_index_is_rebuilt_from_the_stored_texts() {
        let mut f = Fragments::default();
        f.remember("read_inbox", MAIL);
        let text = serde_json::to_string(&f).unwrap();
        assert!(!text.contains("index"), "{text}");
        let back: Fragments = serde_json::from_str(&text).unwrap();
        assert_eq!(back, f);
        assert!(!back.tools_in(&MAIL[3..60]).is_empty());
    }

    proptest! {
        /// A run of at least MIN_FRAGMENT bytes cut anywhere from a
        /// remembered text is always found, whatever surrounds it.
        #[test]
        fn an_embedded_run_is_always_found(
            text in "[a-z ]{32,300}",
            start in 0usize..300,
            len in MIN_FRAGMENT..120usize,
            before in "[A-Z]{0,20}",
            after in "[A-Z]{0,20}",
        ) {
            let mut f = Fragments::default();
            f.remember("t", &text);
            let start = start % (text.len() - MIN_FRAGMENT + 1);
            let end = (start + len).min(text.len());
            prop_assume!(end - start >= MIN_FRAGMENT);
            let probe = format!("{before}{}{after}", &text[start..end]);
            prop_assert!(f.tools_in(&probe).contains("t"));
        }
    }
}
