//! How checking scales with the plan: plans of 10, 100, 1,000 and 10,000
//! steps against the 200-rule spec of the benches (`benches/support/
//! big_spec.rs`), one accepted and one with every step refused, each with
//! mixed step kinds (calls with params, reads, writes, connects, exec),
//! `either` branches and `repeat` loops. For each: the time of the check
//! (cold: a fresh spec, its caches empty) and of writing its report as the
//! `--json` object, the report's size and path entries, and the process's
//! peak memory during that case (`VmHWM`, reset before each case through
//! `/proc/self/clear_refs`).
//!
//! Run: `cargo run --release -p verifier --example scale`
//! One case: `... --example scale -- 10000 reject`; write the plan and spec
//! (for `/usr/bin/time -v warden check`): `... -- 10000 reject DIR`.

use std::time::Instant;
use verifier::CompiledSpec;

#[path = "../benches/support/big_spec.rs"]
mod big_spec;
use big_spec::big_spec;

/// One step of the plan: the `k`th, allowed by the spec or refused by it.
fn step(k: usize, accept: bool) -> String {
    if accept {
        // Tools 10..110 (tool1 has `at most 50`, tool2 and tool3 an order).
        let tool = 10 + k % 100;
        match k % 8 {
            0 => format!("call tool{tool}(recipient = who, amount = amt, n = {k})"),
            1 => format!("read \"/srv/data{}/f{k}.csv\"", k % 20),
            2 => format!("write \"/tmp/job{}/out{k}\"", k % 20),
            3 => format!("call tool{tool}(recipient = \"A2\", amount = {})", k % 90),
            4 => "connect \"api.example.com\":443".to_string(),
            5 => "exec \"/usr/bin/git\" [\"status\"]".to_string(),
            6 => "write out".to_string(),
            _ => format!("read \"/srv/data{}/sub/g{k}.csv\"", k % 20),
        }
    } else {
        match k % 8 {
            0 => format!(
                "call tool{}(recipient = who, amount = big, n = {k})",
                10 + k % 100
            ),
            1 => format!("read \"/etc/f{k}\""),
            2 => format!("write \"/root/out{k}\""),
            3 => format!("call nope{k}(x = {k})"),
            4 => format!("connect \"evil{k}.example\":443"),
            5 => format!("exec \"/bin/sh{k}\""),
            6 => format!("delete \"/srv/data1/f{k}\""),
            _ => format!("read \"/srv/data{}/k{k}.key\"", k % 20),
        }
    }
}

/// A plan of `n` steps: straight runs, and every tenth block of ten an
/// `either` of two steps and a `repeat 2` of two.
fn plan(n: usize, accept: bool) -> String {
    let mut s = String::from("plan \"scale\" {\n");
    if accept {
        s.push_str("  param amt: number where amt > 0 and amt <= 100\n");
        s.push_str("  param who: string where who in [\"A1\", \"A3\"]\n");
        s.push_str("  param out: path where out under \"/tmp/job3/\"\n");
    } else {
        s.push_str("  param big: number where big > 1000\n");
        s.push_str("  param who: string where who in [\"A1\", \"A3\"]\n");
    }
    let mut k = 0;
    while k < n {
        if k % 10 == 0 && k + 4 <= n {
            s.push_str(&format!(
                "  either {{ {} }} or {{ {} }}\n  repeat 2 {{ {}\n {} }}\n",
                step(k, accept),
                step(k + 1, accept),
                step(k + 2, accept),
                step(k + 3, accept)
            ));
            k += 4;
        } else {
            s.push_str(&format!("  {}\n", step(k, accept)));
            k += 1;
        }
    }
    s.push('}');
    s
}

/// Peak resident memory since the last reset, in MB (Linux).
fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn run(n: usize, accept: bool) {
    reset_peak();
    let loaded = planlang::load_spec_str(&big_spec(), "big.spec").expect("the spec loads");
    let spec = CompiledSpec::compile(&loaded).expect("the spec compiles");
    let text = plan(n, accept);
    let p = planlang::load_plan_str(&text, "scale.plan").expect("the plan loads");
    let start = Instant::now();
    let out = spec.check(&p).expect("checks");
    let checked = start.elapsed();
    let json = serde_json::to_string(&out).expect("the report serializes");
    let total = start.elapsed();
    let want = if accept {
        verifier::Verdict::Accept
    } else {
        verifier::Verdict::Reject
    };
    assert_eq!(out.verdict, want, "{:#?}", out.violations.first());
    if !accept {
        // Every step the plan writes is refused.
        assert_eq!(out.violations.len(), n, "every step is refused");
    }
    let entries: usize = out.violations.iter().map(|v| v.path.len()).sum();
    println!(
        "{:>6} steps  {:<6}  check {:>9.2} ms  check+report {:>9.2} ms  report {:>9} bytes  {:>6} path entries  peak {:>7.1} MB",
        n,
        if accept { "accept" } else { "reject" },
        checked.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        json.len(),
        entries,
        peak_mb().unwrap_or(f64::NAN)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(n) = args.first() {
        let n: usize = n.parse().expect("STEPS is a number");
        let accept = args.get(1).map(String::as_str) != Some("reject");
        if let Some(dir) = args.get(2) {
            let dir = std::path::Path::new(dir);
            std::fs::create_dir_all(dir).expect("the directory");
            std::fs::write(dir.join("big.spec"), big_spec()).expect("writes the spec");
            let name = format!("{n}-{}.plan", if accept { "accept" } else { "reject" });
            std::fs::write(dir.join(name), plan(n, accept)).expect("writes the plan");
        }
        run(n, accept);
        return;
    }
    for accept in [true, false] {
        for n in [10, 100, 1_000, 10_000] {
            run(n, accept);
        }
    }
}
