//! A small reader of the running kernel's BTF (`/sys/kernel/btf/vmlinux`):
//! just enough to find the byte offset of a struct member, so that the eBPF
//! programs read kernel structs at the offsets of the kernel they run on,
//! never at offsets compiled for another one.
//!
//! ```no_run
//! let btf = enforcer::btf::KernelBtf::from_sys_fs()?;
//! let f_path = btf.offset_of("file", "f_path")?;
//! let qstr_len = btf.offset_of("dentry", "d_name.len")?; // through anonymous members
//! # Ok::<(), enforcer::btf::BtfError>(())
//! ```

use std::collections::HashMap;
use std::path::Path;

/// Where the kernel publishes its own BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// Why an offset could not be found.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// The BTF file could not be read.
    #[error("cannot read kernel BTF {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The data is not BTF or is cut short.
    #[error("malformed BTF: {0}")]
    Malformed(String),
    /// No struct of that name (with members) in the kernel's BTF.
    #[error("the kernel's BTF has no struct {0}")]
    NoStruct(String),
    /// The struct has no such member (searched through anonymous members).
    #[error("struct {strukt} has no member {member} in the kernel's BTF")]
    NoMember {
        /// The struct searched.
        strukt: String,
        /// The member path asked for.
        member: String,
    },
    /// The member is a bitfield or not byte-aligned.
    #[error("{strukt}.{member} is not byte-aligned")]
    Unaligned {
        /// The struct searched.
        strukt: String,
        /// The member path asked for.
        member: String,
    },
}

#[derive(Debug, Clone)]
struct Member {
    name: String,
    type_id: u32,
    bit_offset: u32,
    bitfield: bool,
}

#[derive(Debug, Clone)]
enum Type {
    Composite(Vec<Member>),
    /// Typedef, const, volatile, restrict, type tag: refers to another type.
    Alias(u32),
    Other,
}

/// The kernel's BTF, indexed by struct name.
#[derive(Debug)]
pub struct KernelBtf {
    types: Vec<Type>,
    structs: HashMap<String, u32>,
}

fn u16_at(data: &[u8], at: usize) -> Result<u16, BtfError> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| BtfError::Malformed(format!("cut short at byte {at}")))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, BtfError> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| BtfError::Malformed(format!("cut short at byte {at}")))
}

impl KernelBtf {
    /// Reads `/sys/kernel/btf/vmlinux`.
    pub fn from_sys_fs() -> Result<KernelBtf, BtfError> {
        KernelBtf::from_file(VMLINUX_BTF)
    }

    /// Reads a raw BTF file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<KernelBtf, BtfError> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.display().to_string(),
            source,
        })?;
        KernelBtf::parse(&data)
    }

    /// Parses raw (little-endian) BTF.
    pub fn parse(data: &[u8]) -> Result<KernelBtf, BtfError> {
        if u16_at(data, 0)? != MAGIC {
            return Err(BtfError::Malformed(
                "bad magic (not little-endian BTF)".into(),
            ));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_at = hdr_len.checked_add(type_off);
        let strs_at = hdr_len.checked_add(str_off);
        let (Some(types_at), Some(strs_at)) = (types_at, strs_at) else {
            return Err(BtfError::Malformed("section offsets overflow".into()));
        };
        let type_data = types_at
            .checked_add(type_len)
            .and_then(|end| data.get(types_at..end))
            .ok_or_else(|| BtfError::Malformed("type section outside the data".into()))?;
        let strings = strs_at
            .checked_add(str_len)
            .and_then(|end| data.get(strs_at..end))
            .ok_or_else(|| BtfError::Malformed("string section outside the data".into()))?;
        let name = |off: u32| -> String {
            let off = off as usize;
            strings
                .get(off..)
                .and_then(|s| s.split(|&b| b == 0).next())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default()
        };

        // Type ids start at 1; index 0 is `void`.
        let mut types = vec![Type::Other];
        let mut structs = HashMap::new();
        let mut at = 0usize;
        while at < type_data.len() {
            let name_off = u32_at(type_data, at)?;
            let info = u32_at(type_data, at + 4)?;
            let size_or_type = u32_at(type_data, at + 8)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let ty = match kind {
                KIND_STRUCT | KIND_UNION => {
                    let mut members = Vec::with_capacity(vlen);
                    for i in 0..vlen {
                        let m = at + i * 12;
                        let offset = u32_at(type_data, m + 8)?;
                        let (bit_offset, bitfield) = if kind_flag {
                            (offset & 0xff_ffff, offset >> 24 != 0)
                        } else {
                            (offset, false)
                        };
                        members.push(Member {
                            name: name(u32_at(type_data, m)?),
                            type_id: u32_at(type_data, m + 4)?,
                            bit_offset,
                            bitfield,
                        });
                    }
                    at += vlen * 12;
                    let id = types.len() as u32;
                    if kind == KIND_STRUCT && vlen > 0 {
                        structs.entry(name(name_off)).or_insert(id);
                    }
                    Type::Composite(members)
                }
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    Type::Alias(size_or_type)
                }
                KIND_INT | KIND_VAR | KIND_DECL_TAG => {
                    at += 4;
                    Type::Other
                }
                KIND_ARRAY => {
                    at += 12;
                    Type::Other
                }
                KIND_ENUM | KIND_FUNC_PROTO => {
                    at += vlen * 8;
                    Type::Other
                }
                KIND_DATASEC | KIND_ENUM64 => {
                    at += vlen * 12;
                    Type::Other
                }
                KIND_PTR | KIND_FWD | KIND_FUNC | KIND_FLOAT => Type::Other,
                other => {
                    return Err(BtfError::Malformed(format!(
                        "unknown BTF kind {other} (type {})",
                        types.len()
                    )));
                }
            };
            types.push(ty);
        }
        if at != type_data.len() {
            return Err(BtfError::Malformed(
                "type section ends inside a type".into(),
            ));
        }
        Ok(KernelBtf { types, structs })
    }

    fn members_of(&self, mut id: u32) -> Option<&[Member]> {
        // Follow typedefs and qualifiers (bounded: BTF has no cycles through them).
        for _ in 0..32 {
            match self.types.get(id as usize)? {
                Type::Composite(m) => return Some(m),
                Type::Alias(next) => id = *next,
                Type::Other => return None,
            }
        }
        None
    }

    /// The bit offset of `name` among `members`, searching anonymous
    /// struct and union members too.
    fn find<'a>(
        &'a self,
        members: &'a [Member],
        name: &str,
        depth: u32,
    ) -> Option<(u32, &'a Member)> {
        if depth > 8 {
            return None;
        }
        for m in members {
            if m.name == name {
                return Some((m.bit_offset, m));
            }
        }
        for m in members.iter().filter(|m| m.name.is_empty()) {
            if let Some(inner) = self.members_of(m.type_id)
                && let Some((off, found)) = self.find(inner, name, depth + 1)
            {
                return Some((m.bit_offset + off, found));
            }
        }
        None
    }

    /// The byte offset of `member` in `struct strukt`. `member` may be a
    /// dotted path through embedded structs (`"d_name.len"`); anonymous
    /// structs and unions are searched at every level.
    pub fn offset_of(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        let no_member = || BtfError::NoMember {
            strukt: strukt.to_string(),
            member: member.to_string(),
        };
        let id = *self
            .structs
            .get(strukt)
            .ok_or_else(|| BtfError::NoStruct(strukt.to_string()))?;
        let mut members = self.members_of(id).ok_or_else(no_member)?;
        let mut bits = 0u32;
        let mut parts = member.split('.').peekable();
        while let Some(part) = parts.next() {
            let (off, found) = self.find(members, part, 0).ok_or_else(no_member)?;
            if found.bitfield {
                return Err(BtfError::Unaligned {
                    strukt: strukt.to_string(),
                    member: member.to_string(),
                });
            }
            bits += off;
            if parts.peek().is_some() {
                members = self.members_of(found.type_id).ok_or_else(no_member)?;
            }
        }
        if !bits.is_multiple_of(8) {
            return Err(BtfError::Unaligned {
                strukt: strukt.to_string(),
                member: member.to_string(),
            });
        }
        Ok(bits / 8)
    }

    /// Whether the kernel has a struct of this name.
    pub fn has_struct(&self, strukt: &str) -> bool {
        self.structs.contains_key(strukt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a little BTF blob: `struct qstr { union { struct { u32 hash;
    /// u32 len; }; u64 hash_len; }; const char *name; }` and `struct dentry
    /// { u32 flags; <pad> struct qstr d_name; }`.
    fn sample() -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut s = |n: &str| {
            let off = strings.len() as u32;
            strings.extend_from_slice(n.as_bytes());
            strings.push(0);
            off
        };
        let (n_u32, n_u64, n_hash, n_len, n_hash_len, n_name, n_qstr, n_flags, n_dentry, n_d_name) = (
            s("u32"),
            s("u64"),
            s("hash"),
            s("len"),
            s("hash_len"),
            s("name"),
            s("qstr"),
            s("flags"),
            s("dentry"),
            s("d_name"),
        );
        let mut t = Vec::new();
        let mut ty = |name: u32, kind: u32, vlen: u32, size: u32, extra: &[u32]| {
            for w in [name, (kind << 24) | vlen, size].iter().chain(extra) {
                t.extend_from_slice(&w.to_le_bytes());
            }
        };
        // 1: u32, 2: u64
        ty(n_u32, KIND_INT, 0, 4, &[32]);
        ty(n_u64, KIND_INT, 0, 8, &[64]);
        // 3: anonymous struct { u32 hash; u32 len; }
        ty(0, KIND_STRUCT, 2, 8, &[n_hash, 1, 0, n_len, 1, 32]);
        // 4: anonymous union { struct 3; u64 hash_len; }
        ty(0, KIND_UNION, 2, 8, &[0, 3, 0, n_hash_len, 2, 0]);
        // 5: pointer to u32 (stands for const char *)
        ty(0, KIND_PTR, 0, 1, &[]);
        // 6: struct qstr { union 4; name at 64 }
        ty(n_qstr, KIND_STRUCT, 2, 16, &[0, 4, 0, n_name, 5, 64]);
        // 7: typedef-free const qstr
        ty(0, KIND_CONST, 0, 6, &[]);
        // 8: struct dentry { u32 flags; const qstr d_name at byte 32 }
        ty(
            n_dentry,
            KIND_STRUCT,
            2,
            48,
            &[n_flags, 1, 0, n_d_name, 7, 256],
        );

        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.push(1);
        out.push(0);
        for w in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&t);
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn finds_members_through_anonymous_unions_and_qualifiers() {
        let btf = KernelBtf::parse(&sample()).unwrap();
        assert_eq!(btf.offset_of("dentry", "flags").unwrap(), 0);
        assert_eq!(btf.offset_of("dentry", "d_name").unwrap(), 32);
        assert_eq!(btf.offset_of("dentry", "d_name.len").unwrap(), 36);
        assert_eq!(btf.offset_of("dentry", "d_name.name").unwrap(), 40);
        assert_eq!(btf.offset_of("qstr", "hash_len").unwrap(), 0);
    }

    #[test]
    fn unknown_names_are_typed_errors() {
        let btf = KernelBtf::parse(&sample()).unwrap();
        assert!(matches!(
            btf.offset_of("inode", "i_ino"),
            Err(BtfError::NoStruct(_))
        ));
        assert!(matches!(
            btf.offset_of("dentry", "d_nope"),
            Err(BtfError::NoMember { .. })
        ));
        assert!(matches!(
            btf.offset_of("dentry", "flags.len"),
            Err(BtfError::NoMember { .. })
        ));
    }

    #[test]
    fn malformed_data_is_refused() {
        assert!(KernelBtf::parse(&[]).is_err());
        assert!(KernelBtf::parse(&[0x9f, 0xeb, 1, 0]).is_err());
        let mut cut = sample();
        cut.truncate(40);
        assert!(KernelBtf::parse(&cut).is_err());
        let mut bad = sample();
        bad[0] = 0;
        assert!(KernelBtf::parse(&bad).is_err());
    }

    #[test]
    fn reads_this_kernels_btf_when_present() {
        // Every kernel this project supports publishes BTF (DESIGN.md);
        // a missing file is an error, not a skip.
        let btf = KernelBtf::from_sys_fs().unwrap();
        let f_path = btf.offset_of("file", "f_path").unwrap();
        let f_mode = btf.offset_of("file", "f_mode").unwrap();
        assert_ne!(f_path, f_mode);
        assert!(btf.offset_of("dentry", "d_name.len").unwrap() > 0);
    }
}
