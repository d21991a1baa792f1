//! Just enough of the BTF format to read the running kernel's layout:
//! struct member offsets (which the programs need to read `task_struct` and
//! `linux_binprm` fields, since Rust eBPF has no CO-RE field relocation) and
//! type ids by name (which the probe needs to load `tp_btf`, `fentry` and
//! `lsm` programs).
//!
//! The format is the kernel's `include/uapi/linux/btf.h`: a header, a type
//! section of variable-length records and a string section.

use std::collections::HashMap;

use super::EbpfError;

const BTF_MAGIC: u16 = 0xeb9f;

/// BTF kinds this module looks at (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Struct,
    Union,
    Typedef,
    Func,
    Other,
}

#[derive(Clone, Debug)]
struct Type {
    name_off: u32,
    kind: Kind,
    /// Struct/union members: (name offset, type id, bit offset).
    members: Vec<(u32, u32, u32)>,
    /// For typedef and qualifiers: the referenced type.
    referenced: u32,
    /// Whether this is a modifier (typedef, volatile, const, restrict,
    /// type tag) that `resolve` looks through.
    modifier: bool,
}

/// A parsed BTF blob.
pub(crate) struct Btf {
    /// Index = type id; id 0 is `void`.
    types: Vec<Type>,
    strings: Vec<u8>,
    by_name: HashMap<String, Vec<u32>>,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl Btf {
    /// The running kernel's BTF, `/sys/kernel/btf/vmlinux`.
    pub(crate) fn from_kernel() -> Result<Self, EbpfError> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path).map_err(|source| EbpfError::Io {
            what: "reading the kernel's BTF",
            path: path.into(),
            source,
        })?;
        Self::parse(&data)
    }

    /// Parses a little-endian BTF blob.
    pub(crate) fn parse(data: &[u8]) -> Result<Self, EbpfError> {
        let bad = |why: &str| EbpfError::Btf(why.to_owned());
        if data.len() < 24 || u16::from_le_bytes([data[0], data[1]]) != BTF_MAGIC {
            return Err(bad("not little-endian BTF (bad magic)"));
        }
        let hdr_len = u32_at(data, 4).ok_or_else(|| bad("short header"))? as usize;
        let field = |at| u32_at(data, at).map(|v| v as usize);
        let (type_off, type_len, str_off, str_len) =
            match (field(8), field(12), field(16), field(20)) {
                (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
                _ => return Err(bad("short header")),
            };
        let types_sec = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or_else(|| bad("type section out of bounds"))?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or_else(|| bad("string section out of bounds"))?
            .to_vec();

        let void = Type {
            name_off: 0,
            kind: Kind::Other,
            members: Vec::new(),
            referenced: 0,
            modifier: false,
        };
        let mut types = vec![void];
        let mut at = 0usize;
        while at < types_sec.len() {
            let short = || bad("truncated type record");
            let name_off = u32_at(types_sec, at).ok_or_else(short)?;
            let info = u32_at(types_sec, at + 4).ok_or_else(short)?;
            let size_or_type = u32_at(types_sec, at + 8).ok_or_else(short)?;
            at += 12;
            let kind_nr = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 == 1;
            let mut ty = Type {
                name_off,
                kind: Kind::Other,
                members: Vec::new(),
                referenced: size_or_type,
                modifier: false,
            };
            let extra = match kind_nr {
                1 => 4,               // INT
                2 | 7 | 12 | 16 => 0, // PTR, FWD, FUNC, FLOAT
                3 => 12,              // ARRAY
                4 | 5 => {
                    ty.kind = if kind_nr == 4 {
                        Kind::Struct
                    } else {
                        Kind::Union
                    };
                    for m in 0..vlen {
                        let base = at + m * 12;
                        let m_name = u32_at(types_sec, base).ok_or_else(short)?;
                        let m_type = u32_at(types_sec, base + 4).ok_or_else(short)?;
                        let m_off = u32_at(types_sec, base + 8).ok_or_else(short)?;
                        let bits = if kind_flag {
                            m_off & 0x00ff_ffff
                        } else {
                            m_off
                        };
                        ty.members.push((m_name, m_type, bits));
                    }
                    vlen * 12
                }
                6 => vlen * 8, // ENUM
                8..=11 | 18 => {
                    // TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
                    ty.modifier = true;
                    if kind_nr == 8 {
                        ty.kind = Kind::Typedef;
                    }
                    0
                }
                13 => vlen * 8,  // FUNC_PROTO
                14 => 4,         // VAR
                15 => vlen * 12, // DATASEC
                17 => 4,         // DECL_TAG
                19 => vlen * 12, // ENUM64
                other => return Err(EbpfError::Btf(format!("unknown BTF kind {other}"))),
            };
            if kind_nr == 12 {
                ty.kind = Kind::Func;
            }
            at += extra;
            types.push(ty);
        }

        let mut btf = Btf {
            types,
            strings,
            by_name: HashMap::new(),
        };
        for id in 1..btf.types.len() {
            let name = btf.name(btf.types[id].name_off);
            if !name.is_empty() {
                let name = name.to_owned();
                btf.by_name.entry(name).or_default().push(id as u32);
            }
        }
        Ok(btf)
    }

    fn name(&self, off: u32) -> &str {
        let start = off as usize;
        let Some(rest) = self.strings.get(start..) else {
            return "";
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// The id of the type named `name` of kind `kind`.
    pub(crate) fn type_id(&self, name: &str, kind: Kind) -> Option<u32> {
        self.by_name
            .get(name)?
            .iter()
            .copied()
            .find(|id| self.types[*id as usize].kind == kind)
    }

    fn resolve(&self, mut id: u32) -> u32 {
        // Bounded: a malformed blob cannot loop forever.
        for _ in 0..32 {
            match self.types.get(id as usize) {
                Some(t) if t.modifier => id = t.referenced,
                _ => break,
            }
        }
        id
    }

    /// Byte offset of `member` in `struct strukt`, looking through anonymous
    /// struct and union members.
    pub(crate) fn member_offset(&self, strukt: &str, member: &str) -> Result<u32, EbpfError> {
        let id = self
            .type_id(strukt, Kind::Struct)
            .ok_or_else(|| EbpfError::Btf(format!("struct {strukt} not in the kernel's BTF")))?;
        let bits = self.find_member(id, member, 0).ok_or_else(|| {
            EbpfError::Btf(format!(
                "struct {strukt} has no member {member} in the kernel's BTF"
            ))
        })?;
        if bits % 8 != 0 {
            return Err(EbpfError::Btf(format!("{strukt}.{member} is a bit field")));
        }
        Ok(bits / 8)
    }

    fn find_member(&self, id: u32, member: &str, depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        let ty = self.types.get(id as usize)?;
        for (name_off, m_type, bits) in &ty.members {
            let name = self.name(*name_off);
            if name == member {
                return Some(*bits);
            }
            if name.is_empty() {
                let inner = self.resolve(*m_type);
                let inner_kind = self.types.get(inner as usize).map(|t| t.kind);
                if matches!(inner_kind, Some(Kind::Struct | Kind::Union))
                    && let Some(off) = self.find_member(inner, member, depth + 1)
                {
                    return Some(bits + off);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a BTF blob: `struct s { int a; union { int b; long c; }; int d; }`.
    fn blob() -> Vec<u8> {
        let strings = b"\0s\0a\0b\0c\0d\0int\0long\0".to_vec();
        let off = |s: &str| {
            let needle = format!("\0{s}\0");
            strings
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .map(|p| p as u32 + 1)
                .unwrap_or(0)
        };
        let mut types = Vec::new();
        let mut push = |words: &[u32]| {
            for w in words {
                types.extend_from_slice(&w.to_le_bytes());
            }
        };
        // 1: int
        push(&[off("int"), 1 << 24, 4, 32]);
        // 2: long
        push(&[off("long"), 1 << 24, 8, 64]);
        // 3: anonymous union { b: int @0, c: long @0 }
        push(&[0, (5 << 24) | 2, 8, off("b"), 1, 0, off("c"), 2, 0]);
        // 4: struct s { a @0, <anon> @64, d @128 }
        push(&[
            off("s"),
            (4 << 24) | 3,
            24,
            off("a"),
            1,
            0,
            0,
            3,
            64,
            off("d"),
            1,
            128,
        ]);
        let mut data = Vec::new();
        data.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        data.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            data.extend_from_slice(&w.to_le_bytes());
        }
        data.extend_from_slice(&types);
        data.extend_from_slice(&strings);
        data
    }

    #[test]
    fn finds_direct_and_anonymous_members() {
        let btf = Btf::parse(&blob()).unwrap();
        assert_eq!(btf.member_offset("s", "a").unwrap(), 0);
        assert_eq!(btf.member_offset("s", "b").unwrap(), 8);
        assert_eq!(btf.member_offset("s", "c").unwrap(), 8);
        assert_eq!(btf.member_offset("s", "d").unwrap(), 16);
        assert!(btf.member_offset("s", "e").is_err());
        assert!(btf.member_offset("t", "a").is_err());
        assert_eq!(btf.type_id("s", Kind::Struct), Some(4));
    }

    #[test]
    fn refuses_garbage() {
        assert!(Btf::parse(b"not btf at all, not btf at all").is_err());
        let mut truncated = blob();
        truncated.truncate(40);
        assert!(Btf::parse(&truncated).is_err());
    }

    #[test]
    fn reads_the_running_kernel() {
        // The kernel facts of this project: BTF is available.
        let btf = Btf::from_kernel().expect("/sys/kernel/btf/vmlinux readable");
        let pid = btf.member_offset("task_struct", "pid").unwrap();
        let tgid = btf.member_offset("task_struct", "tgid").unwrap();
        assert_eq!(tgid, pid + 4, "pid and tgid are adjacent in task_struct");
        assert!(btf.member_offset("linux_binprm", "filename").is_ok());
        assert!(btf.type_id("btf_trace_sys_enter", Kind::Typedef).is_some());
    }
}
