//! The eBPF layers on this kernel, as root: in a fresh run cgroup with the
//! node's programs linked and a policy of "connect 127.0.0.1 port P", every
//! other connect, sendto and bind is refused with EPERM and recorded; exec,
//! fork and exit are reported.
//! Through the launcher, `ebpf::for_launcher` gives the two cgroup layers
//! `Run::with_layer` takes, and the run's events stream out; a syscall that
//! another layer refuses is reported with the path, directory descriptor or
//! address it named.
//!
//! These tests need root (CI runs `make test` as root). Without root each
//! says it was skipped and why (`testkit`), except the one that checks what
//! an unprivileged load says, which runs.

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use enforcer::ebpf::{
    Disposition, EbpfLayers, Event, NetOp, NetPolicy, Reports, RunRules, for_launcher, probe,
};
use enforcer::{FileRights, FileScope, KernelPolicy, Layer, NetRule, Run, RunOptions};

const PROBE: &str = env!("CARGO_BIN_EXE_warden-escape-probe");

/// Returns from the calling test, saying it was skipped and why, unless this
/// is root (`make test` runs the tests as root, then again unprivileged).
macro_rules! root_or_return {
    () => {
        if !testkit::root_or_skip!("loading the eBPF programs, making cgroups") {
            return;
        }
    };
}

/// A fresh cgroup, removed on drop.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "warden-ebpf-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // Runs sit at one depth, under the runs' cgroup.
        let path = enforcer::cgroup::run_parent()
            .expect("the runs' cgroup")
            .join(name);
        std::fs::create_dir(&path).expect("create a test cgroup");
        TestCgroup(path)
    }

    fn procs(&self) -> CString {
        CString::new(
            self.0
                .join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Forks a child that joins `procs` (a cgroup.procs path) and then runs
/// `body`, which may only make async-signal-safe calls. Returns its pid.
fn fork_in_cgroup(procs: &CString, body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only makes raw syscalls (open, write, close, socket
    // calls, fork, execve, _exit) before it exits or execs.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        unsafe {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                libc::_exit(120);
            }
            libc::close(fd);
            libc::_exit(body());
        }
    }
    pid
}

fn wait_status(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid");
    status
}

/// Collects events until `done` holds or 5 s pass.
fn collect(
    stream: &mut enforcer::ebpf::EventStream,
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut events = Vec::new();
    while !done(&events) && Instant::now() < deadline {
        if let Some(e) = stream.next_timeout(Duration::from_millis(100)) {
            events.push(e);
        }
    }
    events
}

fn sockaddr4(ip: [u8; 4], port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    }
}

fn sockaddr6(ip: [u8; 16], port: u16) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as u16,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: ip },
        sin6_scope_id: 0,
    }
}

/// 0 on success, else the errno. Async-signal-safe.
unsafe fn errno_of(rc: libc::c_int) -> i32 {
    if rc == 0 {
        0
    } else {
        unsafe { *libc::__errno_location() }
    }
}

unsafe fn try_connect<T>(family: i32, kind: i32, addr: &T) -> i32 {
    unsafe {
        let s = libc::socket(family, kind, 0);
        if s < 0 {
            return -1;
        }
        let rc = libc::connect(s, (addr as *const T).cast(), size_of::<T>() as u32);
        let e = errno_of(rc);
        libc::close(s);
        e
    }
}

unsafe fn try_sendto(addr: &libc::sockaddr_in) -> i32 {
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if s < 0 {
            return -1;
        }
        let rc = libc::sendto(
            s,
            b"x".as_ptr().cast(),
            1,
            0,
            (addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as u32,
        );
        let e = if rc == 1 { 0 } else { errno_of(-1) };
        libc::close(s);
        e
    }
}

/// A TCP Fast Open `sendto`: connects and sends in one call.
unsafe fn try_fastopen(addr: &libc::sockaddr_in) -> i32 {
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if s < 0 {
            return -1;
        }
        let rc = libc::sendto(
            s,
            b"x".as_ptr().cast(),
            1,
            libc::MSG_FASTOPEN,
            (addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as u32,
        );
        let e = if rc >= 0 { 0 } else { errno_of(-1) };
        libc::close(s);
        e
    }
}

unsafe fn try_bind(addr: &libc::sockaddr_in) -> i32 {
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if s < 0 {
            return -1;
        }
        let rc = libc::bind(
            s,
            (addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as u32,
        );
        let e = errno_of(rc);
        libc::close(s);
        e
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mapped(v4: [u8; 4]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[10] = 0xff;
    a[11] = 0xff;
    a[12..].copy_from_slice(&v4);
    a
}

#[test]
fn probe_reports_the_program_kinds_of_this_kernel() {
    root_or_return!();
    let results = probe();
    eprintln!("{results:#?}");
    let by_kind: BTreeMap<_, _> = results.iter().map(|r| (r.kind, r)).collect();
    // The kernel facts of this project: these load here.
    for kind in [
        "cgroup_sock_addr",
        "tp_btf",
        "raw_tp",
        "socket_filter",
        "cgroup_device",
    ] {
        assert!(by_kind[kind].loads, "{kind}: {}", by_kind[kind].reason);
    }
    for r in &results {
        assert_eq!(r.loads, r.errno.is_none() && r.reason.is_empty(), "{r:?}");
    }
    assert!(by_kind.contains_key("lsm") && by_kind.contains_key("fentry"));
}

#[test]
fn network_envelope_refuses_everything_but_the_allowed_port() {
    root_or_return!();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = allowed.local_addr().unwrap().port();
    let q = other.local_addr().unwrap().port();
    let r = free_port();

    let mut rules = RunRules {
        net: NetPolicy::allow([NetRule::tcp_connect("127.0.0.1/32".parse().unwrap(), p)]),
        ..RunRules::default()
    };
    rules.exec.trees = true;
    let mut layers = EbpfLayers::load(rules, Reports::Refusals).expect("load");
    let cgroup = TestCgroup::new();
    layers.attach(&cgroup.0).expect("attach");
    let mut events = layers.events().expect("events");

    let ok = sockaddr4([127, 0, 0, 1], p);
    let other_port = sockaddr4([127, 0, 0, 1], q);
    let other_host = sockaddr4([127, 0, 0, 2], p);
    let mapped_ok = sockaddr6(mapped([127, 0, 0, 1]), p);
    let mapped_other = sockaddr6(mapped([127, 0, 0, 1]), q);
    let udp = sockaddr4([127, 0, 0, 1], q);
    let bind_to = sockaddr4([127, 0, 0, 1], r);
    let true_path = CString::new("/bin/true").unwrap();
    let argv = [true_path.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];

    let mut pipe = [0i32; 2];
    // SAFETY: a two-int buffer.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    let procs = cgroup.procs();
    let child = fork_in_cgroup(&procs, || unsafe {
        libc::close(pipe[0]);
        let results: [i32; 8] = [
            try_connect(libc::AF_INET, libc::SOCK_STREAM, &ok),
            try_connect(libc::AF_INET, libc::SOCK_STREAM, &other_port),
            try_connect(libc::AF_INET, libc::SOCK_STREAM, &other_host),
            try_connect(libc::AF_INET6, libc::SOCK_STREAM, &mapped_ok),
            try_connect(libc::AF_INET6, libc::SOCK_STREAM, &mapped_other),
            try_sendto(&udp),
            try_bind(&bind_to),
            try_fastopen(&other_port),
        ];
        libc::write(pipe[1], results.as_ptr().cast(), size_of_val(&results));
        libc::close(pipe[1]);
        // A fork inside the run, then an exec.
        let grandchild = libc::fork();
        if grandchild == 0 {
            libc::_exit(3);
        }
        let mut st = 0;
        libc::waitpid(grandchild, &mut st, 0);
        libc::execve(true_path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        121
    });
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(pipe[1]) };
    let mut results = [0i32; 8];
    // SAFETY: reading into a buffer of the right size.
    let n = unsafe { libc::read(pipe[0], results.as_mut_ptr().cast(), size_of_val(&results)) };
    unsafe { libc::close(pipe[0]) };
    let status = wait_status(child);
    assert_eq!(
        n as usize,
        size_of_val(&results),
        "child reported its results"
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "/bin/true ran: {status:#x}"
    );

    let eperm = libc::EPERM;
    assert_eq!(
        results,
        [0, eperm, eperm, 0, eperm, eperm, eperm, eperm],
        "connect P, connect Q, connect 127.0.0.2:P, connect [::ffff:127.0.0.1]:P, \
         connect [::ffff:127.0.0.1]:Q, sendto Q, bind R, TCP Fast Open sendto Q"
    );

    let pid = child as u32;
    let seen = collect(&mut events, |ev| {
        ev.iter()
            .any(|e| matches!(e, Event::Exit { pid: x, .. } if *x == pid))
            && ev.iter().filter(|e| e.is_refusal()).count() >= 6
    });
    let net: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Net {
                pid: x,
                op,
                addr,
                port,
                verdict,
                ..
            } if *x == pid => Some((*op, addr.to_string(), *port, *verdict)),
            _ => None,
        })
        .collect();
    let lo = "127.0.0.1".to_owned();
    let expect = [
        (NetOp::Connect, lo.clone(), p, Disposition::Allowed),
        (NetOp::Connect, lo.clone(), q, Disposition::Refused),
        (
            NetOp::Connect,
            "127.0.0.2".to_owned(),
            p,
            Disposition::Refused,
        ),
        (NetOp::Connect, lo.clone(), p, Disposition::Allowed),
        (NetOp::Connect, lo.clone(), q, Disposition::Refused),
        (NetOp::Sendmsg, lo.clone(), q, Disposition::Refused),
        (NetOp::Bind, lo.clone(), r, Disposition::Refused),
        (NetOp::Connect, lo.clone(), q, Disposition::Refused),
    ];
    assert_eq!(net, expect, "all events: {seen:#?}");

    let forked = seen.iter().find_map(|e| match e {
        Event::Fork { pid: x, child, .. } if *x == pid => Some(*child),
        _ => None,
    });
    let grandchild = forked.unwrap_or_else(|| panic!("no fork event: {seen:#?}"));
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Exit { pid, status, .. }
            if *pid == grandchild && *status == 3 << 8)),
        "grandchild exit with status 3: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Exec { pid: x, filename, .. }
            if *x == pid && filename == "/bin/true")),
        "exec event: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Exit { pid: x, status: 0, .. } if *x == pid)),
        "exit event: {seen:#?}"
    );
    assert_eq!(layers.lost_events().unwrap(), 0);
    let json = serde_json::to_string(&seen[0]).unwrap();
    assert!(json.contains("\"event\""), "{json}");

    // Outside the run's cgroup nothing is judged: this process connects to Q.
    let outside = std::net::TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, q));
    assert!(
        outside.is_ok(),
        "processes outside the run are not confined"
    );
    drop((allowed, other));
}

#[test]
fn attach_refuses_a_directory_that_is_not_a_cgroup() {
    root_or_return!();
    let mut layers = EbpfLayers::load(RunRules::default(), Reports::Processes).unwrap();
    let err = layers.attach(Path::new("/tmp")).unwrap_err();
    assert!(
        err.to_string().contains("not a cgroup v2 directory"),
        "{err}"
    );
    let err = layers.attach(Path::new("/nonexistent/cgroup")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cgroup"), "{err}");
}

/// The eBPF layers through the launcher: the run's report lists them, the
/// command runs normally under the syscall allowlist (the same as seccomp's),
/// and its exec and connect show up on the event stream.
#[test]
fn launcher_applies_the_ebpf_layers_and_streams_events() {
    root_or_return!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut policy = probe_policy();
    policy
        .allow_net(NetRule::tcp_connect("127.0.0.1/32".parse().unwrap(), port))
        .unwrap();

    let layers = for_launcher(&policy, false).expect("load the eBPF layers");
    let events_file =
        std::env::temp_dir().join(format!("warden-ebpf-events-{}.jsonl", std::process::id()));
    let writer = layers
        .events
        .expect("a stream")
        .write_json_lines(std::fs::File::create(&events_file).unwrap());
    let outcome = spawn_probe(
        &policy,
        layers.sock_addr,
        layers.tracepoints,
        &["connect", &port.to_string()],
    );
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "the permitted connect works"
    );
    for layer in [Layer::EbpfCgroupSockAddr, Layer::EbpfTracepoints] {
        assert!(outcome.layers.has(layer), "{layer}: {:#?}", outcome.layers);
    }

    // Every event the run produced is in the file once the writer finishes.
    let written = writer.finish().expect("events written");
    let text = std::fs::read_to_string(&events_file).unwrap();
    let _ = std::fs::remove_file(&events_file);
    let seen: Vec<Event> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert_eq!(seen.len() as u64, written);
    let exec = seen
        .iter()
        .any(|e| matches!(e, Event::Exec { filename, .. } if filename == PROBE));
    let connect = seen.iter().any(|e| {
        matches!(e, Event::Net { op: NetOp::Connect, port: p, verdict: Disposition::Allowed, .. }
            if *p == port)
    });
    assert!(exec && connect, "exec and connect events: {seen:#?}");
}

/// An `int 0x80` (i386) syscall `nr` with two arguments without memory;
/// returns what the kernel returned.
#[cfg(target_arch = "x86_64")]
fn int80(nr: i64, arg1: i64, arg2: i64) -> i64 {
    let ret: i64;
    // SAFETY: a 32-bit syscall without memory arguments. `rbx` (the first
    // argument) cannot be an operand, so it is swapped in and out; the
    // kernel zeroes r8-r11 on this path, so they are declared clobbered.
    unsafe {
        std::arch::asm!(
            "xchg {arg1}, rbx",
            "int 0x80",
            "xchg {arg1}, rbx",
            arg1 = inout(reg) arg1 => _,
            inlateout("rax") nr => ret,
            in("rcx") arg2,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    ret
}

/// `int 0x80` getpid (i386 number 20).
#[cfg(target_arch = "x86_64")]
fn int80_getpid() -> i64 {
    int80(20, 0, 0)
}

/// `int 0x80` ptrace(PTRACE_ATTACH, own pid) (i386 number 26): EPERM
/// even for root (a process cannot trace its own thread group).
#[cfg(target_arch = "x86_64")]
fn int80_ptrace_attach_self(pid: i64) -> i64 {
    int80(26, 16, pid)
}

/// A refused 32-bit syscall numbers from another table and keeps its
/// arguments elsewhere: its event says so and names nothing.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_refused_32_bit_syscall_is_marked_and_names_nothing() {
    root_or_return!();
    let probe = fork_plain(|| if int80_getpid() > 0 { 0 } else { 1 });
    if libc::WIFSIGNALED(wait_status(probe)) {
        eprintln!("this kernel has no ia32 emulation: no 32-bit syscall to report");
        return;
    }
    let mut layers = EbpfLayers::load(RunRules::default(), Reports::Refusals).expect("load");
    let cgroup = TestCgroup::new();
    layers.attach(&cgroup.0).expect("attach");
    let mut events = layers.events().expect("events");
    let child = fork_in_cgroup(&cgroup.procs(), || {
        // SAFETY: getpid has no preconditions.
        let pid = i64::from(unsafe { libc::getpid() });
        if int80_ptrace_attach_self(pid) == -i64::from(libc::EPERM) {
            0
        } else {
            1
        }
    });
    assert_eq!(wait_status(child), 0, "i386 ptrace(ATTACH, self) is EPERM");
    let pid = child as u32;
    let refused = |ev: &[Event]| {
        ev.iter()
            .find(|e| matches!(e, Event::SyscallRefused { pid: x, .. } if *x == pid))
            .cloned()
    };
    let seen = collect(&mut events, |ev| refused(ev).is_some());
    let Some(Event::SyscallRefused {
        nr,
        name,
        compat,
        path,
        addr,
        errno,
        ..
    }) = refused(&seen)
    else {
        panic!("no refusal event: {seen:#?}");
    };
    assert_eq!((nr, errno, compat), (26, libc::EPERM, true));
    assert_eq!((name, path, addr), (None, None, None), "names nothing");
}

/// Forks a child outside any test cgroup that runs `body` and exits.
fn fork_plain(body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `body` (no allocation) and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        unsafe { libc::_exit(body()) };
    }
    pid
}

#[test]
fn a_sub_cgroup_stays_in_the_run() {
    root_or_return!();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let q = other.local_addr().unwrap().port();
    let mut layers = EbpfLayers::load(RunRules::default(), Reports::Processes).unwrap();
    let cgroup = TestCgroup::new();
    layers.attach(&cgroup.0).expect("attach");
    let mut events = layers.events().expect("events");
    let sub = cgroup.0.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub_procs = CString::new(
        sub.join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    let addr = sockaddr4([127, 0, 0, 1], q);
    let child = fork_in_cgroup(&sub_procs, || unsafe {
        try_connect(libc::AF_INET, libc::SOCK_STREAM, &addr)
    });
    let status = wait_status(child);
    let _ = std::fs::remove_dir(&sub);
    assert!(libc::WIFEXITED(status));
    assert_eq!(
        libc::WEXITSTATUS(status),
        libc::EPERM,
        "connect from a sub-cgroup"
    );
    let pid = child as u32;
    let seen = collect(&mut events, |ev| {
        ev.iter()
            .any(|e| matches!(e, Event::Exit { pid: x, .. } if *x == pid))
    });
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Exit { pid: x, .. } if *x == pid)),
        "the tracepoints see a sub-cgroup of the run: {seen:#?}"
    );
}

#[test]
fn observe_only_reports_instead_of_refusing() {
    root_or_return!();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let q = other.local_addr().unwrap().port();
    let mut layers = EbpfLayers::load(RunRules::default().observe(), Reports::Processes).unwrap();
    let cgroup = TestCgroup::new();
    layers.attach(&cgroup.0).expect("attach");
    let mut events = layers.events().expect("events");
    let addr = sockaddr4([127, 0, 0, 1], q);
    let procs = cgroup.procs();
    let child = fork_in_cgroup(&procs, || unsafe {
        try_connect(libc::AF_INET, libc::SOCK_STREAM, &addr)
    });
    let status = wait_status(child);
    assert!(libc::WIFEXITED(status));
    assert_eq!(libc::WEXITSTATUS(status), 0, "observed, not refused");
    let pid = child as u32;
    let seen = collect(&mut events, |ev| {
        ev.iter()
            .any(|e| matches!(e, Event::Net { pid: x, .. } if *x == pid))
    });
    assert!(
        seen.iter().any(
            |e| matches!(e, Event::Net { pid: x, port, verdict: Disposition::Observed, .. }
            if *x == pid && *port == q)
        ),
        "{seen:#?}"
    );
}

/// `warden learn` observes: an exec the rules do not grant (here: any, no
/// program is granted) and a connect to a unix socket they do not name run,
/// and are reported as observed with what a refusal would have said.
#[test]
fn observe_only_reports_execs_and_unix_connects_instead_of_refusing() {
    root_or_return!();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("outside.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut layers = EbpfLayers::load(RunRules::default().observe(), Reports::Processes).unwrap();
    let cgroup = TestCgroup::new();
    layers.attach(&cgroup.0).expect("attach");
    let mut events = layers.events().expect("events");
    let true_path = CString::new("/bin/true").unwrap();
    let arg = CString::new("unchecked").unwrap();
    let argv = [true_path.as_ptr(), arg.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    // SAFETY: a zeroed sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as u16;
    for (slot, b) in addr
        .sun_path
        .iter_mut()
        .zip(sock.as_os_str().as_encoded_bytes())
    {
        *slot = *b as libc::c_char;
    }
    let child = fork_in_cgroup(&cgroup.procs(), || unsafe {
        if try_connect(libc::AF_UNIX, libc::SOCK_STREAM, &addr) != 0 {
            return 1;
        }
        libc::execve(true_path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        121
    });
    let status = wait_status(child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "observed, not refused: {status:#x}"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_ok(), "the connect went through");
    let pid = child as u32;
    let seen = collect(&mut events, |ev| {
        ev.iter()
            .any(|e| matches!(e, Event::Exit { pid: x, .. } if *x == pid))
    });
    let sock_s = sock.to_str().unwrap();
    assert!(
        seen.iter().any(|e| matches!(e,
            Event::Unix { pid: x, op: NetOp::Connect, path, verdict: Disposition::Observed, .. }
            if *x == pid && path == sock_s)),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e,
            Event::Exec { pid: x, filename, args, verdict: Disposition::Observed,
                refusal: Some(enforcer::ebpf::ExecRefusal::Program), .. }
            if *x == pid && filename == "/bin/true" && args == &["unchecked"])),
        "{seen:#?}"
    );
    assert_eq!(layers.refusals().unwrap(), 2, "observed, and counted");
}

/// Set in the environment of the unprivileged re-run of this test binary.
const NON_ROOT_CHILD: &str = "WARDEN_EBPF_NON_ROOT_CHILD";

/// What an unprivileged load says: that root is needed.
fn unprivileged_load_says_root_is_needed() {
    let err = EbpfLayers::load(RunRules::default(), Reports::Processes)
        .expect_err("an unprivileged load must fail");
    println!("non-root load: {err}");
    assert!(
        matches!(err, enforcer::ebpf::EbpfError::NeedsRoot(_)),
        "{err:?}"
    );
}

/// Not root: the load says root is needed. As root: this test binary, copied
/// where uid 65534 can run it (the checkout may sit below a directory only
/// root can enter, such as a `mktemp -d` directory), runs this test as uid
/// 65534.
#[test]
fn loading_without_root_says_root_is_needed() {
    if std::env::var_os(NON_ROOT_CHILD).is_some() || !testkit::is_root() {
        unprivileged_load_says_root_is_needed();
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::Builder::new()
        .prefix("warden-ebpf-non-root-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("ebpf_layers");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(&exe);
    child
        .args([
            "--exact",
            "loading_without_root_says_root_is_needed",
            "--nocapture",
        ])
        .current_dir(dir.path())
        .env(NON_ROOT_CHILD, "1")
        .uid(65534)
        .gid(65534);
    // Another test of this binary may fork while the copy's write descriptor
    // is open (it is close-on-exec, but held between that fork and its
    // exec): the exec then fails with ETXTBSY until that child has exec'd.
    let mut tries = 0;
    let out = loop {
        match child.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.expect("re-run this test as nobody"),
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("non-root load: the eBPF layers need root"),
        "{stdout}"
    );
}

/// The loader, libc and the escape probe: enough to run the probe.
fn probe_policy() -> KernelPolicy {
    let mut policy = KernelPolicy::new();
    for dir in ["/usr/lib", "/lib", "/lib64"] {
        policy
            .allow_path(dir, FileScope::Tree, FileRights::READ)
            .unwrap();
    }
    policy
        .allow_path("/etc/ld.so.cache", FileScope::File, FileRights::READ)
        .unwrap();
    policy.allow_exec(PROBE).unwrap();
    policy
}

/// Runs the escape probe with `args` through the launcher, requiring the
/// two eBPF layers besides Landlock and seccomp.
fn spawn_probe(
    policy: &KernelPolicy,
    sock_addr: enforcer::ebpf::EbpfCgroupLayer,
    tracepoints: enforcer::ebpf::EbpfCgroupLayer,
    args: &[&str],
) -> enforcer::RunOutcome {
    let options = RunOptions {
        quiet: true,
        require: [
            Layer::Landlock,
            Layer::Seccomp,
            Layer::EbpfCgroupSockAddr,
            Layer::EbpfTracepoints,
        ]
        .into_iter()
        .collect(),
        ..RunOptions::default()
    };
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    Run::new(policy)
        .options(options)
        .stdout(enforcer::Output::Null)
        .stderr(enforcer::Output::Null)
        .with_layer(Box::new(sock_addr))
        .with_layer(Box::new(tracepoints))
        .spawn(PROBE, &args)
        .expect("run")
}

/// Runs the escape probe with `args` under `policy` through the launcher
/// with the eBPF layers; returns its exit code and the run's events once
/// `done` holds for them.
fn probe_run(
    policy: &KernelPolicy,
    args: &[&str],
    done: impl FnMut(&[Event]) -> bool,
) -> (Option<i32>, Vec<Event>) {
    let layers = for_launcher(policy, false).expect("load the eBPF layers");
    let mut events = layers.events.expect("a stream");
    let outcome = spawn_probe(policy, layers.sock_addr, layers.tracepoints, args);
    (outcome.status.code(), collect(&mut events, done))
}

#[test]
fn refusals_by_other_layers_are_reported() {
    root_or_return!();
    let policy = probe_policy();
    let refused = |want: &'static str, errno: i32| {
        move |ev: &[Event]| {
            ev.iter().any(|e| {
                matches!(e, Event::SyscallRefused { name: Some(n), errno: x, .. }
                if n.starts_with(want) && *x == errno)
            })
        }
    };

    // A refusal names the path the process gave the syscall.
    let named = |want: &'static str, path: &'static str| {
        move |ev: &[Event]| {
            ev.iter().any(|e| {
                matches!(e, Event::SyscallRefused { name: Some(n), path: Some(p), .. }
                if n == want && p == path)
            })
        }
    };

    // Landlock refuses the read (EACCES).
    let (code, seen) = probe_run(
        &policy,
        &["read", "/etc/hostname"],
        named("openat", "/etc/hostname"),
    );
    assert_eq!(code, Some(10), "the probe reports a refusal");
    assert!(refused("open", libc::EACCES)(&seen), "{seen:#?}");
    assert!(named("openat", "/etc/hostname")(&seen), "{seen:#?}");
    let line = seen
        .iter()
        .find(|e| named("openat", "/etc/hostname")(std::slice::from_ref(e)))
        .and_then(Event::refusal_line);
    assert_eq!(line.as_deref(), Some("openat /etc/hostname: EACCES"));

    // Landlock refuses an exec outside the envelope: the event names it.
    let (code, seen) = probe_run(
        &policy,
        &["exec", "/usr/bin/id"],
        named("execve", "/usr/bin/id"),
    );
    assert_eq!(code, Some(10), "the probe reports a refusal");
    assert!(named("execve", "/usr/bin/id")(&seen), "{seen:#?}");

    // A connect outside the envelope (Landlock's EACCES, or the cgroup
    // program's EPERM): the event names the address and port.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect_named = move |ev: &[Event]| {
        ev.iter().any(|e| {
            matches!(e, Event::SyscallRefused { name: Some(n), addr: Some(a), port: Some(p), .. }
            if n == "connect" && *a == std::net::IpAddr::from([127, 0, 0, 1]) && *p == port)
        })
    };
    let (code, seen) = probe_run(&policy, &["connect", &port.to_string()], connect_named);
    assert_eq!(code, Some(10), "the probe reports a refusal");
    assert!(connect_named(&seen), "{seen:#?}");

    // seccomp refuses io_uring_setup (EPERM) before the syscall runs.
    let (code, seen) = probe_run(
        &policy,
        &["io-uring-setup"],
        refused("io_uring_setup", libc::EPERM),
    );
    assert_eq!(code, Some(10), "the probe reports a refusal");
    assert!(refused("io_uring_setup", libc::EPERM)(&seen), "{seen:#?}");
}

/// The six argument registers, each read where some syscall keeps what it
/// names: `openat`'s directory descriptor (1st) and relative name (2nd),
/// `renameat2`'s new directory and name (3rd, 4th), `sendto`'s address and
/// its length (5th, 6th).
#[test]
fn refusals_name_dirfds_new_names_and_sendto_addresses() {
    root_or_return!();
    let mut policy = probe_policy();
    // A UDP rule, so seccomp lets the probe make a UDP socket.
    let udp_ok = 9;
    policy
        .allow_net(NetRule {
            cidr: "127.0.0.1/32".parse().unwrap(),
            ports: enforcer::PortRange::single(udp_ok),
            proto: enforcer::Proto::Udp,
            direction: enforcer::NetDirection::Connect,
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    std::fs::write(dir.path().join("old.txt"), "x").unwrap();

    let refusal = |want: &'static str| {
        move |ev: &[Event]| {
            ev.iter()
                .find(|e| matches!(e, Event::SyscallRefused { name: Some(n), .. } if n == want))
                .cloned()
        }
    };

    // openat(fd, "old.txt"): the name as given and the descriptor (the
    // run's other refusals, such as /proc/self/maps, name theirs).
    let old_txt = |ev: &[Event]| {
        ev.iter().find_map(|e| match e {
            Event::SyscallRefused {
                name: Some(n),
                path: Some(p),
                dirfd,
                ..
            } if n == "openat" && p == "old.txt" => Some(*dirfd),
            _ => None,
        })
    };
    let (code, seen) = probe_run(&policy, &["read-at", &d, "old.txt"], |ev| {
        old_txt(ev).is_some()
    });
    assert_eq!(code, Some(10), "the probe reports a refusal");
    let Some(Some(fd)) = old_txt(&seen) else {
        panic!("no openat refusal naming old.txt with its dirfd: {seen:#?}");
    };
    assert!(fd >= 0, "a real descriptor, not AT_FDCWD: {fd}");

    // renameat2(fd, "old.txt", AT_FDCWD, "<dir>/new.txt").
    let new = format!("{d}/new.txt");
    let (code, seen) = probe_run(&policy, &["rename-at", &d, "old.txt", &new], |ev| {
        refusal("renameat2")(ev).is_some()
    });
    assert_eq!(code, Some(10), "the probe reports a refusal");
    let Some(Event::SyscallRefused {
        path,
        dirfd,
        new_path,
        new_dirfd,
        errno,
        ..
    }) = refusal("renameat2")(&seen)
    else {
        panic!("no renameat2 refusal: {seen:#?}");
    };
    assert_eq!(errno, libc::EACCES);
    assert_eq!(path.as_deref(), Some("old.txt"));
    assert!(dirfd.is_some_and(|fd| fd >= 0), "{dirfd:?}");
    assert_eq!(new_path.as_deref(), Some(new.as_str()));
    assert_eq!(new_dirfd, None, "AT_FDCWD is the cwd, not a descriptor");
    assert!(dir.path().join("old.txt").exists());

    // A path longer than the event's buffer: cut at 255 bytes, and said so.
    let long = format!("/etc/{}hostname", "./".repeat(150));
    let cut = |ev: &[Event]| {
        ev.iter().find_map(|e| match e {
            Event::SyscallRefused {
                path: Some(p),
                truncated: true,
                ..
            } if p.starts_with("/etc/././") => Some(p.clone()),
            _ => None,
        })
    };
    let (code, seen) = probe_run(&policy, &["read", &long], |ev| cut(ev).is_some());
    assert_eq!(code, Some(10), "the probe reports a refusal");
    let path = cut(&seen).unwrap_or_else(|| panic!("no truncated refusal: {seen:#?}"));
    assert_eq!(path, long[..255]);

    // UDP to 127.0.0.1:<another port> without connect: the cgroup program
    // refuses it (EPERM), the event names the destination: `sendto`'s
    // address argument, `sendmsg`'s message header's `msg_name`.
    for (attack, syscall, port) in [("udp-sendto", "sendto", 10), ("udp-sendmsg", "sendmsg", 11)] {
        let (code, seen) = probe_run(&policy, &[attack, &port.to_string()], |ev| {
            refusal(syscall)(ev).is_some()
        });
        assert_eq!(code, Some(10), "the probe reports a refusal");
        let line = refusal(syscall)(&seen).and_then(|e| e.refusal_line());
        let want = format!("{syscall} 127.0.0.1:{port}: EPERM");
        assert_eq!(line.as_deref(), Some(want.as_str()), "{seen:#?}");
    }
}

#[test]
fn a_run_whose_events_nobody_reads_observes_no_syscall() {
    root_or_return!();
    // `warden exec` without `--events`: the refusal is still enforced, but
    // no program runs on every syscall to report it.
    let policy = probe_policy();
    let layers =
        enforcer::ebpf::for_launcher_with(&policy, false, enforcer::ebpf::Reports::Processes)
            .expect("load the eBPF layers");
    let mut events = layers.events.expect("a stream");
    let tracepoints = layers.tracepoints.share();
    let outcome = spawn_probe(
        &policy,
        layers.sock_addr,
        layers.tracepoints,
        &["read", "/etc/hostname"],
    );
    assert_eq!(
        outcome.status.code(),
        Some(10),
        "Landlock still refuses the read"
    );
    assert!(tracepoints.with_layers(|l| l.reports() == Reports::Processes));
    let seen = collect(&mut events, |ev| {
        ev.iter().any(|e| matches!(e, Event::Exit { .. }))
    });
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Exec { filename, .. } if filename == PROBE)),
        "process events are still reported: {seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::SyscallRefused { .. })),
        "no syscall observed: {seen:#?}"
    );
}

#[test]
fn a_finished_runs_entry_outlives_a_purge_while_its_launcher_lives() {
    root_or_return!();
    // `warden exec` reads the run's refusal count after the run's cgroup is
    // removed; meanwhile another run's start or `warden doctor --clean`
    // purges the entries of runs whose cgroup is gone, but not of a live
    // launcher's.
    let policy = probe_policy();
    let layers = for_launcher(&policy, false).expect("load the eBPF layers");
    let tracepoints = layers.tracepoints.share();
    let outcome = spawn_probe(
        &policy,
        layers.sock_addr,
        layers.tracepoints,
        &["read", "/etc/hostname"],
    );
    assert_eq!(outcome.status.code(), Some(10), "Landlock refuses the read");
    enforcer::ebpf::purge_stale_runs().expect("purge");
    tracepoints
        .with_layers(|l| l.refusals())
        .expect("the run's entry, after the purge");
}
