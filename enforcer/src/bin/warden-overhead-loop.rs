//! `warden-overhead-loop open PATH N | connect PORT N`: runs N open/close or
//! connect/close operations and prints the total time in nanoseconds, for
//! the enforcer's overhead bench (the same loop confined and unconfined).
//! Connections are closed with a reset (`SO_LINGER` 0), so none waits in
//! TIME_WAIT.

use std::ffi::CString;
use std::process::ExitCode;
use std::time::Instant;

fn open_loop(path: &str, n: u64) -> Result<u128, String> {
    let p = CString::new(path).map_err(|_| "path has a NUL byte".to_string())?;
    let start = Instant::now();
    for _ in 0..n {
        // SAFETY: a valid C string; the descriptor is closed at once.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open {path}: {}", std::io::Error::last_os_error()));
        }
        unsafe { libc::close(fd) };
    }
    Ok(start.elapsed().as_nanos())
}

fn connect_loop(port: u16, n: u64) -> Result<u128, String> {
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    let start = Instant::now();
    for _ in 0..n {
        // SAFETY: plain socket calls on a descriptor this loop owns.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(format!("socket: {}", std::io::Error::last_os_error()));
            }
            let rc = libc::connect(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                libc::close(fd);
                return Err(format!("connect 127.0.0.1:{port}: {e}"));
            }
            // Close with a reset: no TIME_WAIT, so long loops never run
            // short of ephemeral ports.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
            libc::close(fd);
        }
    }
    Ok(start.elapsed().as_nanos())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.get(2).and_then(|s| s.parse::<u64>().ok());
    let result = match (args.first().map(String::as_str), args.get(1), n) {
        (Some("open"), Some(path), Some(n)) => open_loop(path, n),
        (Some("connect"), Some(port), Some(n)) => match port.parse() {
            Ok(port) => connect_loop(port, n),
            Err(_) => Err(format!("bad port {port:?}")),
        },
        _ => Err("usage: warden-overhead-loop open PATH N | connect PORT N".into()),
    };
    match result {
        Ok(ns) => {
            println!("{ns}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warden-overhead-loop: {e}");
            ExitCode::from(2)
        }
    }
}
