//! Token sizes for banking plans of 10 and 210 steps against the banking
//! spec (`examples/banking.spec`), issued through the one issuance path:
//! the bytes of the signed token (`v4.public.…`, as it travels in an HTTP
//! header) and of its claims' JSON.
//!
//! Run: `cargo run --release -p verifier --example token_size`

use verifier::issue::{Issuance, IssueOptions, Issuer};
use warden_core::claims::SystemClock;

/// A plan of `steps` distinct steps the banking spec accepts: reads of
/// statements, bank API calls, `git` and one payment param.
fn plan(steps: usize) -> String {
    let mut s = format!(
        "plan \"bank-{steps}\" {{\n  agent \"banking-assistant\"\n  ttl 10m\n  param amount: number where amount > 0 and amount <= 100\n"
    );
    for k in 0..steps {
        let step = match k % 7 {
            0 => format!("read \"/srv/bank/statements/{k}.csv\""),
            1 => format!("call read_file(file_path = \"bill-{k}.txt\")"),
            2 => "call get_balance()".to_owned(),
            3 => format!("call get_most_recent_transactions(n = {k})"),
            4 => "exec \"/usr/bin/git\" [\"status\"]".to_owned(),
            5 => format!("call get_iban(account = \"acct-{k}\")"),
            _ if k < 21 => {
                "call send_money(recipient = \"UK12345678901234567890\", amount = amount)"
                    .to_owned()
            }
            _ => format!("read \"/srv/bank/statements/m{k}.csv\""),
        };
        s.push_str("  ");
        s.push_str(&step);
        s.push('\n');
    }
    s.push('}');
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = planlang::load_spec_str(
        include_str!("../../examples/banking.spec"),
        "examples/banking.spec",
    )
    .map_err(|d| d.to_string())?;
    let issuer = Issuer::new(&spec, "warden")?;
    let key = token::SigningKey::generate()?;
    println!("| plan | token bytes | claims JSON bytes |");
    println!("|------|------------:|------------------:|");
    for steps in [10, 210] {
        let text = plan(steps);
        let plan = planlang::load_plan_str(&text, "bank.plan").map_err(|d| d.to_string())?;
        match issuer.check_and_issue(&plan, &IssueOptions::default(), &key, &SystemClock)? {
            Issuance::Issued(issued) => {
                let json = serde_json::to_vec(&issued.claims)?;
                println!(
                    "| {steps} steps | {} | {} |",
                    issued.token.len(),
                    json.len()
                );
            }
            Issuance::Refused(d) => {
                return Err(format!("the {steps}-step plan was refused: {:?}", d.verdict).into());
            }
        }
    }
    Ok(())
}
