//! Just enough of the BTF format to read the running kernel's layout:
//! struct member offsets (which the programs need to read `task_struct` and
//! `linux_binprm` fields, since Rust eBPF has no CO-RE field relocation) and
//! type ids by name (which the probe needs to load `tp_btf`, `fentry` and
//! `lsm` programs).
//!
//! The format is the kernel's `include/uapi/linux/btf.h`: a header, a type
//! section of variable-length records and a string section.

use rustc_hash::FxHashMap;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::OnceLock;

use super::error::EbpfError;

const BTF_MAGIC: u16 = 0xeb9f;

/// Where the running kernel publishes its BTF.
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// BTF kinds this module looks at (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Struct,
    Union,
    Typedef,
    Func,
    Other,
}

impl Kind {
    fn of(kind_nr: u32) -> Kind {
        match kind_nr {
            4 => Kind::Struct,
            5 => Kind::Union,
            8 => Kind::Typedef,
            12 => Kind::Func,
            _ => Kind::Other,
        }
    }
}

/// One type record, decoded on demand from the blob.
#[derive(Clone, Copy, Debug)]
struct Record {
    kind_nr: u32,
    vlen: usize,
    kind_flag: bool,
    size_or_type: u32,
    /// Where the record's members (or other trailing data) start.
    body: usize,
}

/// A BTF blob, indexed: each type id's record position, and the named
/// structs, unions and typedefs by (name, kind). Members are decoded only
/// when asked for, and functions (some 60,000 in a kernel, looked up only by
/// `warden doctor`) are found by a scan, so indexing the kernel's ~6 MB of
/// BTF costs one pass and no allocation per type.
pub(crate) struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Index = type id - 1 (id 0 is `void`): the record's offset in `types`.
    records: Vec<u32>,
    by_name: FxHashMap<(&'a [u8], Kind), u32>,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The running kernel's BTF blob, mapped (or where the kernel cannot map
/// it, before Linux 6.16, read) once per process and kept for its life:
/// every run of this process reads the same kernel.
pub(crate) fn kernel_bytes() -> Result<&'static [u8], EbpfError> {
    static BYTES: OnceLock<Result<&'static [u8], (std::io::ErrorKind, String)>> = OnceLock::new();
    let read = BYTES.get_or_init(|| {
        map_read_only(Path::new(KERNEL_BTF))
            .or_else(|_| std::fs::read(KERNEL_BTF).map(|data| &*Box::leak(data.into_boxed_slice())))
            .map_err(|e| (e.kind(), e.to_string()))
    });
    read.as_ref()
        .copied()
        .map_err(|(kind, text)| EbpfError::Io {
            what: "reading the kernel's BTF",
            path: KERNEL_BTF.into(),
            source: std::io::Error::new(*kind, text.clone()),
        })
}

/// Maps a file read-only for the rest of the process (never unmapped).
fn map_read_only(path: &Path) -> std::io::Result<&'static [u8]> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len() as usize;
    if len == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "empty file",
        ));
    }
    // SAFETY: a private read-only mapping of `len` bytes of an open file;
    // the kernel's BTF never changes while it runs, and the mapping is never
    // unmapped, so the slice stays valid for the life of the process.
    unsafe {
        let at = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        );
        if at == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::slice::from_raw_parts(at.cast::<u8>(), len))
    }
}

/// The running kernel's BTF, indexed once per process.
pub(crate) fn kernel() -> Result<&'static Btf<'static>, EbpfError> {
    static INDEX: OnceLock<Result<Btf<'static>, String>> = OnceLock::new();
    let data = kernel_bytes()?;
    INDEX
        .get_or_init(|| Btf::parse(data).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| EbpfError::Btf(e.clone()))
}

/// The running kernel's BTF as aya parses it (to load `tp_btf` and `lsm`
/// programs and for the object loader), parsed once per process from the
/// same bytes.
pub(crate) fn kernel_aya() -> Result<&'static aya::Btf, EbpfError> {
    static ONCE: OnceLock<Result<aya::Btf, String>> = OnceLock::new();
    let data = kernel_bytes()?;
    ONCE.get_or_init(|| {
        aya::Btf::parse(data, aya::Endianness::default()).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| EbpfError::Btf(format!("aya could not parse the kernel's BTF: {e}")))
}

impl<'a> Btf<'a> {
    /// Indexes a little-endian BTF blob.
    pub(crate) fn parse(data: &'a [u8]) -> Result<Self, EbpfError> {
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
        let section = |off: usize, len: usize, what: &str| {
            hdr_len
                .checked_add(off)
                .and_then(|start| Some((start, start.checked_add(len)?)))
                .and_then(|(start, end)| data.get(start..end))
                .ok_or_else(|| bad(what))
        };
        let types = section(type_off, type_len, "type section out of bounds")?;
        let strings = section(str_off, str_len, "string section out of bounds")?;

        let mut btf = Btf {
            types,
            strings,
            records: Vec::with_capacity(types.len() / 32),
            by_name: FxHashMap::default(),
        };
        let mut at = 0usize;
        while at < types.len() {
            let record = btf
                .record_at(at)
                .ok_or_else(|| bad("truncated type record"))?;
            let extra = match record.kind_nr {
                1 => 4,               // INT
                2 | 7 | 12 | 16 => 0, // PTR, FWD, FUNC, FLOAT
                3 => 12,              // ARRAY
                4 | 5 => record.vlen * 12,
                6 => record.vlen * 8,   // ENUM
                8..=11 | 18 => 0,       // TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
                13 => record.vlen * 8,  // FUNC_PROTO
                14 => 4,                // VAR
                15 => record.vlen * 12, // DATASEC
                17 => 4,                // DECL_TAG
                19 => record.vlen * 12, // ENUM64
                other => return Err(EbpfError::Btf(format!("unknown BTF kind {other}"))),
            };
            let next = record.body + extra;
            if next > types.len() {
                return Err(bad("truncated type record"));
            }
            let id = btf.records.len() as u32 + 1;
            let kind = Kind::of(record.kind_nr);
            if matches!(kind, Kind::Struct | Kind::Union | Kind::Typedef) {
                let name = btf.name_bytes(u32_at(types, at).unwrap_or(0));
                if !name.is_empty() {
                    btf.by_name.entry((name, kind)).or_insert(id);
                }
            }
            btf.records.push(at as u32);
            at = next;
        }
        Ok(btf)
    }

    fn record_at(&self, at: usize) -> Option<Record> {
        let info = u32_at(self.types, at + 4)?;
        Some(Record {
            kind_nr: (info >> 24) & 0x1f,
            vlen: (info & 0xffff) as usize,
            kind_flag: info >> 31 == 1,
            size_or_type: u32_at(self.types, at + 8)?,
            body: at + 12,
        })
    }

    fn record(&self, id: u32) -> Option<Record> {
        let at = *self.records.get((id as usize).checked_sub(1)?)?;
        self.record_at(at as usize)
    }

    fn name_bytes(&self, off: u32) -> &'a [u8] {
        let Some(rest) = self.strings.get(off as usize..) else {
            return b"";
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// The id of the type named `name` of kind `kind`.
    pub(crate) fn type_id(&self, name: &str, kind: Kind) -> Option<u32> {
        if kind != Kind::Func {
            return self.by_name.get(&(name.as_bytes(), kind)).copied();
        }
        self.records.iter().zip(1u32..).find_map(|(&at, id)| {
            let at = at as usize;
            let is_func = self.record_at(at)?.kind_nr == 12;
            (is_func && self.name_bytes(u32_at(self.types, at)?) == name.as_bytes()).then_some(id)
        })
    }

    /// Looks through typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> u32 {
        // Bounded: a malformed blob cannot loop forever.
        for _ in 0..32 {
            match self.record(id) {
                Some(r) if matches!(r.kind_nr, 8..=11 | 18) => id = r.size_or_type,
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
        let bits = self.find_member(id, member.as_bytes(), 0).ok_or_else(|| {
            EbpfError::Btf(format!(
                "struct {strukt} has no member {member} in the kernel's BTF"
            ))
        })?;
        if bits % 8 != 0 {
            return Err(EbpfError::Btf(format!("{strukt}.{member} is a bit field")));
        }
        Ok(bits / 8)
    }

    fn find_member(&self, id: u32, member: &[u8], depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        let r = self.record(id)?;
        if !matches!(r.kind_nr, 4 | 5) {
            return None;
        }
        for m in 0..r.vlen {
            let base = r.body + m * 12;
            let name = self.name_bytes(u32_at(self.types, base)?);
            let m_type = u32_at(self.types, base + 4)?;
            let m_off = u32_at(self.types, base + 8)?;
            let bits = if r.kind_flag {
                m_off & 0x00ff_ffff
            } else {
                m_off
            };
            if name == member {
                return Some(bits);
            }
            if name.is_empty()
                && let Some(off) = self.find_member(self.resolve(m_type), member, depth + 1)
            {
                return Some(bits + off);
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
        let data = blob();
        let btf = Btf::parse(&data).unwrap();
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
        let btf = kernel().expect("/sys/kernel/btf/vmlinux readable");
        let pid = btf.member_offset("task_struct", "pid").unwrap();
        let tgid = btf.member_offset("task_struct", "tgid").unwrap();
        assert_eq!(tgid, pid + 4, "pid and tgid are adjacent in task_struct");
        assert!(btf.member_offset("linux_binprm", "filename").is_ok());
        assert!(btf.type_id("btf_trace_sys_enter", Kind::Typedef).is_some());
    }

    #[test]
    fn the_mapping_holds_what_a_read_returns() {
        let read = std::fs::read(KERNEL_BTF).unwrap();
        match map_read_only(Path::new(KERNEL_BTF)) {
            Ok(mapped) => assert!(mapped == read.as_slice()),
            // Kernels before 6.16 cannot map it: the read is used instead.
            Err(e) => println!("not mapped here: {e}"),
        }
        assert!(kernel_bytes().unwrap() == read.as_slice());
    }

    #[test]
    fn the_kernel_is_read_and_indexed_once_per_process() {
        let ours = kernel().unwrap();
        assert!(kernel_aya().is_ok(), "aya parses the same bytes");
        // Read and indexed once per process.
        assert!(std::ptr::eq(kernel().unwrap(), ours));
    }
}
