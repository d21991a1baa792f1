//! What a supervised metadata change costs: `chmod` round trips of a
//! confined process (the call stops, the launcher's supervisor resolves,
//! decides and makes the change, the caller gets the answer) against the
//! same loop with the seccomp layer, and so the supervisor, off; and `stat`,
//! which the supervisor never sees, in both. The supervised loop runs twice:
//! as root (the launcher's own credentials: the supervisor works on its own
//! thread) and as uid 65534 (a thread per step takes on the caller's).
//!
//! ```text
//! cargo build --release -p enforcer --bins --examples
//! target/release/examples/metadata_cost target/release/warden-escape-probe [CALLS] [ROUNDS]
//! ```
//!
//! Root (the run's cgroup); both runs have Landlock and the cgroup. The
//! rounds alternate; the medians are printed.

use enforcer::{FileRights, FileScope, KernelPolicy, Layer, Run, RunOptions};
use std::ffi::OsString;
use std::path::Path;

/// How a loop runs.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Unsupervised,
    AsRoot,
    AsNobody,
}

/// `(chmod ns, stat ns)` of one confined loop.
fn measure(
    policy: &KernelPolicy,
    probe: &str,
    file: &Path,
    calls: u32,
    mode: Mode,
) -> Result<(u64, u64), String> {
    let dir = file.parent().ok_or("no directory")?;
    let out = dir.join("out");
    let options = RunOptions {
        quiet: true,
        require: [Layer::Landlock].into_iter().collect(),
        disable: if mode == Mode::Unsupervised {
            [Layer::Seccomp].into_iter().collect()
        } else {
            Default::default()
        },
        ..RunOptions::default()
    };
    let mut args: Vec<OsString> = Vec::new();
    if mode == Mode::AsNobody {
        args.extend(["as".into(), "65534".into(), "65534".into()]);
    }
    args.extend::<[OsString; 4]>([
        "meta-loop".into(),
        calls.to_string().into(),
        file.into(),
        "600".into(),
    ]);
    let outcome = Run::new(policy)
        .options(options)
        .stdout(std::fs::File::create(&out).map_err(|e| e.to_string())?)
        .spawn(probe, &args)
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    if !outcome.status.success() {
        return Err(format!("the probe failed: {text}"));
    }
    // "allowed chmod N ns, stat M ns"
    let numbers: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers[..] {
        [chmod, stat] => Ok((chmod, stat)),
        _ => Err(format!("unexpected probe output {text:?}")),
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let probe = args
        .next()
        .ok_or("usage: metadata_cost PROBE [CALLS] [ROUNDS]")?;
    let calls: u32 = args
        .next()
        .map_or(Ok(2000), |a| a.parse())
        .map_err(|_| "bad CALLS")?;
    let rounds: usize = args
        .next()
        .map_or(Ok(7), |a| a.parse())
        .map_err(|_| "bad ROUNDS")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("subject");
    std::fs::write(&file, "x").map_err(|e| e.to_string())?;
    // Uid 65534 changes the mode of its own file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .and_then(|()| std::os::unix::fs::chown(&file, Some(65534), Some(65534)))
        .map_err(|e| e.to_string())?;
    let mut policy = KernelPolicy::new();
    for d in ["/usr/lib", "/lib", "/lib64"] {
        policy
            .allow_path(d, FileScope::Tree, FileRights::READ)
            .map_err(|e| e.to_string())?;
    }
    policy
        .allow_path("/etc/ld.so.cache", FileScope::File, FileRights::READ)
        .and_then(|p| {
            p.allow_path(
                dir.path(),
                FileScope::Tree,
                FileRights::WRITE | FileRights::CREATE,
            )
        })
        .and_then(|p| p.allow_exec(&probe))
        .map_err(|e| e.to_string())?;
    let (mut root, mut nobody, mut without) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        root.push(measure(&policy, &probe, &file, calls, Mode::AsRoot)?);
        nobody.push(measure(&policy, &probe, &file, calls, Mode::AsNobody)?);
        without.push(measure(&policy, &probe, &file, calls, Mode::Unsupervised)?);
    }
    let show = |name: &str, v: &[(u64, u64)]| {
        let chmod = median(v.iter().map(|x| x.0).collect());
        let stat = median(v.iter().map(|x| x.1).collect());
        println!(
            "{name}: chmod {chmod} ns, stat {stat} ns (medians of {rounds} rounds of {calls})"
        );
    };
    show("supervised, caller root", &root);
    show("supervised, caller uid 65534", &nobody);
    show("unsupervised (seccomp layer off), caller root", &without);
    Ok(())
}
