//! The eBPF layers on this kernel, as root: in a fresh cgroup with the
//! programs attached and a policy of "connect 127.0.0.1 port P", every other
//! connect, sendto and bind is refused with EPERM and recorded; a syscall
//! outside the allowlist kills the process; exec, fork and exit are reported.
//!
//! These tests need root (CI runs `make test` as root). Without root they
//! fail with a clear message, unless `WARDEN_SKIP_ROOT_TESTS=1` says to skip.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use enforcer::ebpf::{
    EbpfLayers, Event, NetOp, NetPolicy, NetRule, Proto, SyscallPolicy, Verdict, probe,
};

/// Whether to run: root, or an explicit skip; anything else fails loudly.
fn need_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("WARDEN_SKIP_ROOT_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("WARDEN_SKIP_ROOT_TESTS=1: skipping an eBPF test that needs root");
        return false;
    }
    panic!(
        "the eBPF layer tests need root (CI runs them as root); \
         set WARDEN_SKIP_ROOT_TESTS=1 to skip them explicitly"
    );
}

fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            (right.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .expect("a cgroup2 file system is mounted")
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
        let path = cgroup2_mount().join(name);
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
    if !need_root() {
        return;
    }
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
    if !need_root() {
        return;
    }
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = allowed.local_addr().unwrap().port();
    let q = other.local_addr().unwrap().port();
    let r = free_port();

    let policy = NetPolicy::allow([NetRule::connect(
        "127.0.0.1/32".parse().unwrap(),
        p..=p,
        Proto::Tcp,
    )]);
    let mut layers = EbpfLayers::load(policy, SyscallPolicy::Unrestricted).expect("load");
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
        let results: [i32; 7] = [
            try_connect(libc::AF_INET, libc::SOCK_STREAM, &ok),
            try_connect(libc::AF_INET, libc::SOCK_STREAM, &other_port),
            try_connect(libc::AF_INET, libc::SOCK_STREAM, &other_host),
            try_connect(libc::AF_INET6, libc::SOCK_STREAM, &mapped_ok),
            try_connect(libc::AF_INET6, libc::SOCK_STREAM, &mapped_other),
            try_sendto(&udp),
            try_bind(&bind_to),
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
    let mut results = [0i32; 7];
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
        [0, eperm, eperm, 0, eperm, eperm, eperm],
        "connect P, connect Q, connect 127.0.0.2:P, connect [::ffff:127.0.0.1]:P, \
         connect [::ffff:127.0.0.1]:Q, sendto Q, bind R"
    );

    let pid = child as u32;
    let seen = collect(&mut events, |ev| {
        ev.iter()
            .any(|e| matches!(e, Event::Exit { pid: x, .. } if *x == pid))
            && ev.iter().filter(|e| e.is_refusal()).count() >= 5
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
        (NetOp::Connect, lo.clone(), p, Verdict::Allowed),
        (NetOp::Connect, lo.clone(), q, Verdict::Refused),
        (NetOp::Connect, "127.0.0.2".to_owned(), p, Verdict::Refused),
        (NetOp::Connect, lo.clone(), p, Verdict::Allowed),
        (NetOp::Connect, lo.clone(), q, Verdict::Refused),
        (NetOp::Sendmsg, lo.clone(), q, Verdict::Refused),
        (NetOp::Bind, lo.clone(), r, Verdict::Refused),
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
fn syscall_outside_the_allowlist_kills_the_process() {
    if !need_root() {
        return;
    }
    // Everything but uname(2); armed at the run's first exec.
    let all_but_uname = (0..512i64).filter(|nr| *nr != libc::SYS_uname);
    let syscalls = SyscallPolicy::allow_numbers(all_but_uname).unwrap();
    let mut layers = EbpfLayers::load(NetPolicy::deny_all(), syscalls).expect("load");
    let cgroup = TestCgroup::new();
    layers.attach(&cgroup.0).expect("attach");
    let mut events = layers.events().expect("events");
    assert!(!layers.armed().unwrap());

    let uname = CString::new("/bin/uname").unwrap();
    let argv = [uname.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    let procs = cgroup.procs();
    let child = fork_in_cgroup(&procs, || unsafe {
        // Not armed yet: the launcher may still make any syscall here.
        let mut buf: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut buf) != 0 {
            return 122;
        }
        libc::execve(uname.as_ptr(), argv.as_ptr(), envp.as_ptr());
        121
    });
    let status = wait_status(child);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "uname after exec is killed: status {status:#x}"
    );
    assert!(layers.armed().unwrap());
    let pid = child as u32;
    let seen = collect(&mut events, |ev| {
        ev.iter().any(|e| matches!(e, Event::SyscallKilled { .. }))
    });
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::SyscallKilled { pid: x, nr, .. }
            if *x == pid && i64::from(*nr) == libc::SYS_uname)),
        "kill event: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Exec { pid: x, filename, .. }
            if *x == pid && filename == "/bin/uname")),
        "exec event: {seen:#?}"
    );
}

#[test]
fn attach_refuses_a_directory_that_is_not_a_cgroup() {
    if !need_root() {
        return;
    }
    let mut layers = EbpfLayers::load(NetPolicy::deny_all(), SyscallPolicy::Unrestricted).unwrap();
    let err = layers.attach(Path::new("/tmp")).unwrap_err();
    assert!(
        err.to_string().contains("not a cgroup v2 directory"),
        "{err}"
    );
    let err = layers.attach(Path::new("/nonexistent/cgroup")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cgroup"), "{err}");
}
