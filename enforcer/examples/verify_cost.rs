//! What the kernel verifier costs for each tracing program of the eBPF
//! object, the part of `warden exec`'s start-up the programs' code decides:
//! instructions the verifier walked (`verified_insns`) and load time.
//!
//! ```text
//! cargo run -p enforcer --example verify_cost                 # the object this build embeds
//! cargo run -p enforcer --example verify_cost -- OBJECT 15    # another object, 15 loads each
//! ```
//!
//! Root only. Each program is loaded `ROUNDS` times from a fresh copy of the
//! object (nothing attached); the median and the minimum load time are
//! printed. Compare two objects (before/after a change of `enforcer-ebpf/`)
//! in alternating runs: the machine's load moves the times, not the counts.

use std::process::ExitCode;
use std::time::Instant;

use aya::programs::{BtfTracePoint, RawTracePoint};

/// `(program, tracepoint)`: the `tp_btf` programs; their `raw_` twins are
/// measured too.
const PROGRAMS: &[(&str, &str)] = &[
    ("sys_enter", "sys_enter"),
    ("sys_exit", "sys_exit"),
    ("sys_exit_files", "sys_exit"),
    ("sched_process_exec", "sched_process_exec"),
    ("sched_process_exec_files", "sched_process_exec"),
    ("sched_process_fork", "sched_process_fork"),
    ("sched_process_exit", "sched_process_exit"),
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verify_cost: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let object = match args.next() {
        Some(path) => std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?,
        None => enforcer::ebpf::object_bytes().to_vec(),
    };
    if object.is_empty() {
        return Err("no eBPF object (built with AYA_BUILD_SKIP=1?)".into());
    }
    let rounds: usize = match args.next() {
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(format!("ROUNDS must be a positive number, not {n:?}"))?,
        None => 9,
    };
    let btf = aya::Btf::from_sys_fs().map_err(|e| format!("the kernel's BTF: {e}"))?;
    println!(
        "{:<30} {:>14} {:>12} {:>12}",
        "program", "verified insns", "median", "min"
    );
    for &(name, tracepoint) in PROGRAMS {
        let raw = format!("raw_{name}");
        for (program, is_raw) in [(name, false), (raw.as_str(), true)] {
            let mut times = Vec::with_capacity(rounds);
            let mut insns = None;
            for _ in 0..rounds {
                let mut ebpf = aya::EbpfLoader::new()
                    .load(&object)
                    .map_err(|e| format!("the object: {e}"))?;
                let p = ebpf
                    .program_mut(program)
                    .ok_or(format!("no program {program}"))?;
                let start = Instant::now();
                let info = if is_raw {
                    let p: &mut RawTracePoint = p.try_into().map_err(|e| format!("{e}"))?;
                    p.load().map_err(|e| format!("{program}: {e}"))?;
                    p.info()
                } else {
                    let p: &mut BtfTracePoint = p.try_into().map_err(|e| format!("{e}"))?;
                    p.load(tracepoint, &btf)
                        .map_err(|e| format!("{program}: {e}"))?;
                    p.info()
                };
                times.push(start.elapsed());
                insns = info.ok().and_then(|i| i.verified_instruction_count());
            }
            times.sort_unstable();
            let (median, min) = (times[times.len() / 2], times[0]);
            println!(
                "{program:<30} {:>14} {:>9.2} ms {:>9.2} ms",
                insns.map_or("?".to_owned(), |n| n.to_string()),
                median.as_secs_f64() * 1e3,
                min.as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
