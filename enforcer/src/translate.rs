//! Compiles a token's envelope (and the spec's baseline) into the
//! [`KernelPolicy`] the layers enforce, recording every widening.
//!
//! What each envelope shape becomes:
//!
//! | envelope | kernel policy | widening |
//! |----------|---------------|----------|
//! | `read "/f"` | read the file | - |
//! | `write "/f"` (exists) | write the file | - |
//! | `write "/d/f"` (new) | write + create under `/d/` | yes |
//! | `delete "/d/f"` | remove under `/d/` | yes |
//! | any access on `tree "/d/"` | that access under `/d/` | - |
//! | any access on a glob | that access under its literal prefix | yes |
//! | `exec "/p" ["a", "b"]` (literal arguments) | exec `/p` with exactly those arguments (`exec_args`) | Landlock: any arguments, narrowed by the eBPF exec check |
//! | `exec "/p" [param]` | exec `/p`, any arguments | yes |
//! | `connect host:port` | TCP connect to the addresses the host resolves to now (pinned) | Landlock: port only, narrowed by eBPF |
//! | `listen port` | TCP bind on any local address, that port | - |
//! | a path, host or port from a param | nothing (the kernel cannot know the value) | unexpressed |
//!
//! A value from a `let` result (`unknown`) was allowed by the spec for every
//! value, and is compiled to "any" for its field.

use crate::error::PolicyError;
use crate::layer::{Layer, LayerSet};
use crate::policy::{
    FileRights, FileScope, KernelPolicy, NetDirection, NetRule, PinnedHost, PortRange, Proto,
    Unexpressed, Widening,
};
use ipnet::IpNet;
use planlang::ast::{ActionKind, CmpOp};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use warden_core::cond::Cond;
use warden_core::cond::Operand;
use warden_core::cond::Pattern;
use warden_core::envelope::Envelope;
use warden_core::envelope::ExecGrant;
use warden_core::envelope::FileAccess;
use warden_core::envelope::PathTarget;
use warden_core::envelope::UnixOp;
use warden_core::envelope::ValueMatch;
use warden_core::value::Value;

/// Why an envelope cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// A grant makes a rule the policy refuses (a path that is not
    /// normalized, say).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The resolver failed on a host name of a connect grant.
    #[error("cannot resolve host `{host}` to pin its addresses: {source}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// A host name of a connect grant resolves to no address.
    #[error("host `{host}` resolves to no address")]
    NoAddress {
        /// The host name.
        host: String,
    },
    /// A connect or listen grant's port is not a whole number from 0 to
    /// 65535.

    #[error("`{value}` is not a port (0-65535)")]
    Port {
        /// The port value, as the envelope holds it.
        value: String,
    },
}

/// Resolves a host name to addresses.
pub type Resolver<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<IpAddr>>;

/// The system resolver (`getaddrinfo`).
pub fn system_resolver(host: &str) -> std::io::Result<Vec<IpAddr>> {
    let mut out: Vec<IpAddr> = (host, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn any_v4() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::default())
}

fn any_v6() -> IpNet {
    IpNet::V6(ipnet::Ipv6Net::default())
}

struct Compiler<'a> {
    policy: KernelPolicy,
    layers: &'a LayerSet,
    resolve: Resolver<'a>,
}

impl KernelPolicy {
    /// Compiles `envelope` for the layers in `layers`, resolving host names
    /// with the system resolver.
    pub fn from_envelope(envelope: &Envelope, layers: &LayerSet) -> Result<Self, TranslateError> {
        Self::from_envelope_with(envelope, layers, &system_resolver)
    }

    /// [`KernelPolicy::from_envelope`] with a given resolver.
    pub fn from_envelope_with(
        envelope: &Envelope,
        layers: &LayerSet,
        resolve: Resolver<'_>,
    ) -> Result<Self, TranslateError> {
        let mut c = Compiler {
            policy: KernelPolicy::new(),
            layers,
            resolve,
        };
        for grant in &envelope.files {
            c.file(grant.access, &grant.target)?;
        }
        for grant in &envelope.exec {
            c.exec(grant)?;
        }
        for grant in &envelope.connect {
            c.connect(&grant.host, &grant.port)?;
        }
        for grant in &envelope.listen {
            c.listen(&grant.port)?;
        }
        for grant in &envelope.unix {
            c.unix(grant.op, &grant.target)?;
        }
        for pattern in &envelope.baseline {
            c.baseline(pattern)?;
        }
        Ok(c.policy)
    }
}

/// The Landlock tree a glob widens to ([`warden_core::shape::glob_base`]).
fn glob_base(glob: &str) -> PathBuf {
    PathBuf::from(warden_core::shape::glob_base(glob))
}

/// Whether `path` exists and is not a directory (following symlinks, as
/// Landlock's rule will).
fn exists_not_dir(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_dir())
}

/// The directory of a path ([`warden_core::shape::parent_dir`]).
fn parent_of(path: &str) -> PathBuf {
    PathBuf::from(warden_core::shape::parent_dir(path))
}

fn access_name(a: FileAccess) -> &'static str {
    match a {
        FileAccess::Read => "read",
        FileAccess::Write => "write",
        FileAccess::Delete => "delete",
    }
}

impl Compiler<'_> {
    fn widen(&mut self, shape: String, enforced: String, layer: &str, narrowed_by: Option<Layer>) {
        let narrowed_by = narrowed_by
            .filter(|l| self.layers.contains(l))
            .map(|l| l.name().to_owned());
        self.policy.widenings.push(Widening {
            shape,
            enforced,
            layer: layer.to_owned(),
            narrowed_by,
        });
    }

    fn unexpressed(&mut self, shape: String, reason: &str) {
        self.policy.unexpressed.push(Unexpressed {
            shape,
            reason: reason.to_owned(),
        });
    }

    fn file(&mut self, access: FileAccess, target: &PathTarget) -> Result<(), TranslateError> {
        let name = access_name(access);
        let on_tree = match access {
            FileAccess::Read => FileRights::READ,
            FileAccess::Write => FileRights::WRITE | FileRights::CREATE,
            FileAccess::Delete => FileRights::REMOVE,
        };
        match target {
            PathTarget::Exact { path } => match access {
                FileAccess::Read => {
                    self.policy
                        .allow_path(path, FileScope::File, FileRights::READ)?;
                }
                // A file that exists (a device such as /dev/null too) is
                // written as it is: no creation right, no directory tree.
                FileAccess::Write if exists_not_dir(path) => {
                    self.policy
                        .allow_path(path, FileScope::File, FileRights::WRITE)?;
                }
                FileAccess::Write | FileAccess::Delete => {
                    // Creating and removing are rights on the directory.
                    let dir = parent_of(path);
                    self.policy.allow_widened(&dir, on_tree, path)?;
                    self.widen(
                        format!("{name} {path:?}"),
                        format!("{on_tree} under {:?}", dir.display().to_string()),
                        "landlock",
                        Some(Layer::BpfLsm),
                    );
                }
            },
            PathTarget::Tree { dir } => {
                self.policy.allow_path(dir, FileScope::Tree, on_tree)?;
            }
            PathTarget::Glob { glob } => {
                let base = glob_base(glob);
                self.policy.allow_widened(&base, on_tree, glob)?;
                self.widen(
                    format!("{name} {glob:?}"),
                    format!("{on_tree} under {:?}", base.display().to_string()),
                    "landlock",
                    warden_core::shape::lsm_expresses(glob).then_some(Layer::BpfLsm),
                );
            }
            PathTarget::Param { param } => self.unexpressed(
                format!("{name} (path from param `{param}`)"),
                "the path is known only when the action happens; the kernel layers grant nothing for it",
            ),
            PathTarget::Unknown { .. } => {
                self.policy.allow_path("/", FileScope::Tree, on_tree)?;
            }
        }
        Ok(())
    }

    fn exec(&mut self, grant: &ExecGrant) -> Result<(), TranslateError> {
        match &grant.program {
            PathTarget::Exact { path } => match grant.literal_argv() {
                // The eBPF exec check holds the program to these arguments;
                // Landlock alone lets it run with any.
                Some(args) => {
                    let args = args.into_iter().map(str::to_owned).collect();
                    self.policy.allow_exec_args(path, args)?;
                    self.widen(
                        format!("exec {path:?} with fixed arguments"),
                        format!("exec {path:?} with any arguments"),
                        "landlock",
                        Some(Layer::EbpfTracepoints),
                    );
                }
                None => {
                    self.policy.allow_exec(path)?;
                    if let Some(argv) = &grant.argv {
                        self.widen(
                            format!("exec {path:?} with {} argument(s) from params or results", argv.len()),
                            format!("exec {path:?} with any arguments"),
                            "landlock",
                            None,
                        );
                    }
                }
            },
            PathTarget::Tree { dir } => {
                self.policy
                    .allow_path(dir, FileScope::Tree, FileRights::EXEC | FileRights::READ)?;
            }
            PathTarget::Glob { glob } => {
                let base = glob_base(glob);
                self.policy
                    .allow_widened(&base, FileRights::EXEC | FileRights::READ, glob)?;
                self.widen(
                    format!("exec {glob:?}"),
                    format!("exec under {:?}", base.display().to_string()),
                    "landlock",
                    Some(Layer::BpfLsm),
                );
            }
            PathTarget::Param { param } => self.unexpressed(
                format!("exec (program from param `{param}`)"),
                "the program is known only when the action happens; the kernel layers grant nothing for it",
            ),
            PathTarget::Unknown { .. } => {
                self.policy
                    .allow_path("/", FileScope::Tree, FileRights::EXEC | FileRights::READ)?;
            }
        }
        Ok(())
    }

    fn port(&mut self, m: &ValueMatch, shape: &str) -> Result<Option<PortRange>, TranslateError> {
        match m {
            ValueMatch::Exact {
                value: Value::Number(n),
            } => {
                let port =
                    n.normalize()
                        .to_string()
                        .parse::<u16>()
                        .map_err(|_| TranslateError::Port {
                            value: n.to_string(),
                        })?;
                Ok(Some(PortRange::single(port)))
            }
            ValueMatch::Exact { value } => Err(TranslateError::Port {
                value: format!("{value:?}"),
            }),
            ValueMatch::Param { param } => {
                self.unexpressed(
                    format!("{shape} (port from param `{param}`)"),
                    "the port is known only when the action happens; the kernel layers grant nothing for it",
                );
                Ok(None)
            }
            ValueMatch::Unknown { .. } => Ok(Some(PortRange {
                first: 1,
                last: u16::MAX,
            })),
            // Granted to call arguments only: nothing here.
            ValueMatch::Assumed { field } => {
                self.unexpressed(
                    format!("{shape} (port from the result field `{field}`)"),
                    "a result field is granted to call arguments only; the kernel layers grant nothing for it",
                );
                Ok(None)
            }
        }
    }

    /// A pathname unix socket: a connect by its path for the eBPF unix
    /// programs (nothing else can hold it), a bind as Landlock's make-sock
    /// right on its directory.
    fn unix(&mut self, op: UnixOp, target: &PathTarget) -> Result<(), TranslateError> {
        let what = match op {
            UnixOp::Connect => "connect",
            UnixOp::Listen => "listen",
        };
        let (path, scope): (PathBuf, FileScope) = match target {
            PathTarget::Exact { path } => (path.into(), FileScope::File),
            PathTarget::Tree { dir } => (dir.into(), FileScope::Tree),
            PathTarget::Glob { glob } => {
                let base = glob_base(glob);
                self.widen(
                    format!("{what} {glob:?}"),
                    format!("{what} under {:?}", base.display().to_string()),
                    "ebpf-cgroup-sock-addr",
                    None,
                );
                (base, FileScope::Tree)
            }
            PathTarget::Param { param } => {
                self.unexpressed(
                    format!("{what} (unix socket from param `{param}`)"),
                    "the path is known only when the action happens; the kernel layers grant nothing for it",
                );
                return Ok(());
            }
            PathTarget::Unknown { .. } => ("/".into(), FileScope::Tree),
        };
        match op {
            UnixOp::Connect => {
                self.policy.allow_unix_connect(&path, scope)?;
            }
            UnixOp::Listen => {
                // Binding creates the socket file: a right on its directory.
                let dir = match scope {
                    FileScope::File => {
                        let dir = parent_of(&path.display().to_string());
                        self.widen(
                            format!("listen {:?}", path.display().to_string()),
                            format!("listen under {:?}", dir.display().to_string()),
                            "landlock",
                            None,
                        );
                        dir
                    }
                    FileScope::Tree => path,
                };
                self.policy
                    .allow_path(&dir, FileScope::Tree, FileRights::MAKE_SOCK)?;
            }
        }
        Ok(())
    }

    fn connect(&mut self, host: &ValueMatch, port: &ValueMatch) -> Result<(), TranslateError> {
        let Some(ports) = self.port(port, "connect")? else {
            return Ok(());
        };
        let cidrs: Vec<IpNet> = match host {
            ValueMatch::Exact {
                value: Value::Cidr(net),
            } => vec![*net],
            ValueMatch::Exact {
                value: Value::String(name),
            } => {
                let addrs = (self.resolve)(name).map_err(|source| TranslateError::Resolve {
                    host: name.clone(),
                    source,
                })?;
                if addrs.is_empty() {
                    return Err(TranslateError::NoAddress { host: name.clone() });
                }
                self.policy.pinned.push(PinnedHost {
                    host: name.clone(),
                    addresses: addrs.clone(),
                });
                addrs.into_iter().map(IpNet::from).collect()
            }
            ValueMatch::Exact { value } => {
                self.unexpressed(
                    format!("connect {value:?}"),
                    "not a host name or an address",
                );
                return Ok(());
            }
            ValueMatch::Param { param } => {
                self.unexpressed(
                    format!("connect (host from param `{param}`)"),
                    "the host is known only when the action happens; the kernel layers grant nothing for it",
                );
                return Ok(());
            }
            ValueMatch::Unknown { .. } => vec![any_v4(), any_v6()],
            // Granted to call arguments only: nothing here.
            ValueMatch::Assumed { field } => {
                self.unexpressed(
                    format!("connect (host from the result field `{field}`)"),
                    "a result field is granted to call arguments only; the kernel layers grant nothing for it",
                );
                return Ok(());
            }
        };
        for cidr in cidrs {
            self.policy.allow_net(NetRule {
                cidr,
                ports,
                proto: Proto::Tcp,
                direction: NetDirection::Connect,
            })?;
            if cidr.prefix_len() != 0 {
                self.widen(
                    format!("connect {cidr} ports {}-{}", ports.first, ports.last),
                    format!(
                        "TCP connect to any address on ports {}-{}",
                        ports.first, ports.last
                    ),
                    "landlock",
                    Some(Layer::EbpfCgroupSockAddr),
                );
            }
        }
        Ok(())
    }

    fn listen(&mut self, port: &ValueMatch) -> Result<(), TranslateError> {
        let Some(ports) = self.port(port, "listen")? else {
            return Ok(());
        };
        for cidr in [any_v4(), any_v6()] {
            self.policy.allow_net(NetRule {
                cidr,
                ports,
                proto: Proto::Tcp,
                direction: NetDirection::Bind,
            })?;
        }
        Ok(())
    }

    /// A baseline pattern: `read under "/usr/lib/"`, `read "/etc/ld.so.cache"`,
    /// `exec "/bin/sh"`, or an `or` of such.
    fn baseline(&mut self, pattern: &Pattern) -> Result<(), TranslateError> {
        if pattern.kind.and_then(UnixOp::of).is_some() && pattern.calls.is_none() {
            // The unix socket grants of the baseline, as the proof reads
            // them (`baseline_grants`: plain `path` patterns); a pattern on
            // anything else (a bare `connect` is also the network) grants
            // the kernel layers nothing.
            let (grants, _) = warden_core::shape::baseline_grants(std::slice::from_ref(pattern));
            if grants.unix.is_empty() {
                self.unexpressed(
                    format!("baseline {pattern:?}"),
                    "only `path == \"...\"` and `path under \"...\"` socket baselines reach the kernel",
                );
            }
            for g in &grants.unix {
                self.unix(g.op, &g.target)?;
            }
            return Ok(());
        }
        let access = match pattern.kind {
            Some(ActionKind::Read) => FileRights::READ,
            Some(ActionKind::Write) => FileRights::WRITE | FileRights::CREATE,
            Some(ActionKind::Delete) => FileRights::REMOVE,
            Some(ActionKind::Exec) => FileRights::EXEC | FileRights::READ,
            _ => {
                self.unexpressed(
                    format!("baseline {pattern:?}"),
                    "only read, write, delete and exec baselines reach the kernel",
                );
                return Ok(());
            }
        };
        self.baseline_cond(access, &pattern.when)
    }

    fn baseline_cond(&mut self, access: FileRights, cond: &Cond) -> Result<(), TranslateError> {
        let is_path = |o: &Operand| matches!(o, Operand::Ref { name, fields, index } if name == "path" && fields.is_empty() && index.is_none());
        match cond {
            Cond::True => {
                self.policy.allow_path("/", FileScope::Tree, access)?;
            }
            Cond::Or { any } => {
                for c in any {
                    self.baseline_cond(access, c)?;
                }
            }
            Cond::Cmp {
                op,
                lhs,
                rhs:
                    Operand::Value {
                        value: Value::String(path),
                    },
            } if is_path(lhs) && matches!(op, CmpOp::Eq | CmpOp::Under) => {
                let normal = warden_core::path::normalize_path(path).map_err(|_| {
                    PolicyError::UnnormalizedPath {
                        path: PathBuf::from(path),
                    }
                })?;
                let scope = if *op == CmpOp::Eq {
                    FileScope::File
                } else {
                    FileScope::Tree
                };
                if scope == FileScope::File && access.contains(FileRights::EXEC) {
                    self.policy.allow_exec(&normal)?;
                } else {
                    self.policy.allow_path(&normal, scope, access)?;
                }
            }
            Cond::False => {}
            other => self.unexpressed(
                format!("baseline {access} when {other:?}"),
                "only `path == \"...\"` and `path under \"...\"` baselines reach the kernel",
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn envelope(json: serde_json::Value) -> Envelope {
        serde_json::from_value(json).unwrap()
    }

    fn no_dns(host: &str) -> std::io::Result<Vec<IpAddr>> {
        match host {
            "api.example" => Ok(vec!["192.0.2.7".parse().unwrap()]),
            _ => Err(std::io::Error::other("no such host")),
        }
    }

    fn empty() -> serde_json::Value {
        serde_json::json!({
            "version": 1, "files": [], "exec": [], "connect": [], "listen": [],
            "calls": [], "params": [], "limits": [], "ordering": [], "baseline": []
        })
    }

    fn all_layers() -> LayerSet {
        Layer::ALL.into_iter().collect()
    }

    #[test]
    fn globs_keep_their_literal_directory() {
        assert_eq!(glob_base("/repo/**/*.rs"), PathBuf::from("/repo"));
        assert_eq!(glob_base("/tmp/out/*.tmp"), PathBuf::from("/tmp/out"));
        assert_eq!(glob_base("/*"), PathBuf::from("/"));
    }

    #[test]
    fn files_exec_and_net_compile_with_their_widenings() {
        let mut e = empty();
        e["files"] = serde_json::json!([
            {"access": "read", "target": {"shape": "tree", "dir": "/srv/data"}},
            {"access": "write", "target": {"shape": "glob", "glob": "/tmp/out/*.tmp"}},
            {"access": "read", "target": {"shape": "param", "param": "p"}}
        ]);
        e["exec"] = serde_json::json!([
            {"program": {"shape": "exact", "path": "/usr/bin/git"},
             "argv": [{"match": "exact", "value": {"type": "string", "value": "status"}}]}
        ]);
        e["connect"] = serde_json::json!([
            {"host": {"match": "exact", "value": {"type": "string", "value": "api.example"}},
             "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}
        ]);
        e["listen"] = serde_json::json!([
            {"port": {"match": "exact", "value": {"type": "number", "value": "8080"}}}
        ]);
        let env = envelope(e);
        let layers: LayerSet = [Layer::Landlock, Layer::Seccomp, Layer::EbpfCgroupSockAddr]
            .into_iter()
            .collect();
        let p = KernelPolicy::from_envelope_with(&env, &layers, &no_dns).unwrap();
        assert!(p.files.iter().any(|r| r.path == Path::new("/srv/data")
            && r.scope == FileScope::Tree
            && r.access == FileRights::READ));
        assert!(p.files.iter().any(|r| r.path == Path::new("/tmp/out")
            && r.access == FileRights::WRITE | FileRights::CREATE));
        assert_eq!(p.exec, [PathBuf::from("/usr/bin/git")]);
        assert_eq!(p.tcp_connect_ports().into_iter().collect::<Vec<_>>(), [443]);
        assert_eq!(p.tcp_bind_ports().into_iter().collect::<Vec<_>>(), [8080]);
        assert_eq!(p.pinned[0].host, "api.example");
        // The glob and argv are widened with nothing to narrow them; the
        // address is widened by Landlock and narrowed by eBPF.
        let narrowed: Vec<_> = p
            .widenings
            .iter()
            .map(|w| w.narrowed_by.as_deref())
            .collect();
        assert_eq!(narrowed, [None, None, Some("ebpf-cgroup-sock-addr")]);
        assert_eq!(p.unexpressed.len(), 1);
        assert!(p.unexpressed[0].shape.contains("param `p`"));
    }

    #[test]
    fn bad_ports_and_unknown_hosts_are_errors() {
        let mut e = empty();
        e["connect"] = serde_json::json!([
            {"host": {"match": "exact", "value": {"type": "cidr", "value": "10.0.0.0/8"}},
             "port": {"match": "exact", "value": {"type": "number", "value": "70000"}}}
        ]);
        let err = KernelPolicy::from_envelope_with(&envelope(e), &all_layers(), &no_dns);
        assert!(matches!(err, Err(TranslateError::Port { .. })), "{err:?}");
        let mut e = empty();
        e["connect"] = serde_json::json!([
            {"host": {"match": "exact", "value": {"type": "string", "value": "nowhere.example"}},
             "port": {"match": "exact", "value": {"type": "number", "value": "443"}}}
        ]);
        let err = KernelPolicy::from_envelope_with(&envelope(e), &all_layers(), &no_dns);
        assert!(
            matches!(err, Err(TranslateError::Resolve { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn new_files_and_deletes_widen_to_their_directory() {
        let mut e = empty();
        e["files"] = serde_json::json!([
            {"access": "write", "target": {"shape": "exact", "path": "/no/such/dir/out.txt"}},
            {"access": "delete", "target": {"shape": "exact", "path": "/no/such/dir/old.txt"}}
        ]);
        let p = KernelPolicy::from_envelope_with(&envelope(e), &all_layers(), &no_dns).unwrap();
        assert_eq!(p.files.len(), 2);
        assert!(p.files.iter().all(|r| r.path == Path::new("/no/such/dir")));
        assert_eq!(p.widenings.len(), 2);
    }
}
