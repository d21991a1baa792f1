//! Real tokens against the checked-in schema: `warden issue` signs tokens for
//! plans with every kind of grant the example specs allow; each verifies, and
//! its claims follow `docs/token.schema.json` (what another language reads
//! them by). `clients/python/test_token.py` does the same from Python, and
//! has `warden inspect` refuse a token of another version.

mod common;

use common::{repo, tmp, warden};
use std::path::Path;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo("docs/token.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// `warden issue PLAN --spec SPEC`: the token, which must be issued.
fn issue(dir: &Path, plan: &str, spec: &str) -> String {
    let key = dir.join("keys/warden.key");
    let out = warden(&[
        "issue",
        plan,
        "--spec",
        spec,
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "warden issue {plan} --spec {spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The claims JSON a `v4.public` token carries: its body less the 64-byte
/// signature.
fn signed_payload(tok: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body = tok
        .strip_prefix("v4.public.")
        .and_then(|rest| rest.split('.').next())
        .expect("a v4.public token");
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    raw.truncate(raw.len() - 64);
    raw
}

const BANK_PLAN: &str = r#"plan "pay" {
  agent "banking-assistant"
  ttl 10m
  param amount: number where amount > 0 and amount <= 100
  let bill = call read_file(file_path = "bill.txt")
  call get_balance()
  call send_money(recipient = "UK12345678901234567890", amount = amount, subject = bill.subject)
  read "/srv/bank/statements/2026-11.pdf"
  exec "/usr/bin/git" ["status"]
  connect "api.bank.example":443
}
"#;

const DEVOPS_PLAN: &str = r#"plan "inspect" {
  agent "devops-agent"
  ttl 10m
  param n: number where n >= 1 and n <= 3
  read "/srv/deploy/web.yaml"
  write "/srv/deploy/out/web.yaml"
  connect "ghcr.io":443
  connect 10.20.0.1:6443
  exec "/usr/bin/kubectl" ["get", "pods", "-n", "web"]
  call pagerduty.note(text = "looked", times = n)
}
"#;

const OPS_SPEC: &str = r#"spec "ops" {
  allow call open_ticket, deploy
  require call open_ticket before call deploy
  never call deploy after call rollback
}
"#;

const OPS_PLAN: &str = r#"plan "ship" {
  call open_ticket()
  call deploy(version = "v2")
}
"#;

#[test]
fn issued_tokens_follow_the_schema() {
    let dir = tmp("token-schema");
    let d = dir.path();
    let out = warden(&["keygen", "--out", d.join("keys").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key =
        token::PublicKey::from_paserk(&std::fs::read_to_string(d.join("keys/warden.pub")).unwrap())
            .unwrap();
    std::fs::write(d.join("pay.plan"), BANK_PLAN).unwrap();
    std::fs::write(d.join("inspect.plan"), DEVOPS_PLAN).unwrap();
    std::fs::write(d.join("ops.spec"), OPS_SPEC).unwrap();
    std::fs::write(d.join("ship.plan"), OPS_PLAN).unwrap();
    let cases = [
        (
            repo("examples/run/demo.plan"),
            repo("examples/run/demo.spec"),
        ),
        (
            repo("examples/run/suffix.plan"),
            repo("examples/run/suffix.spec"),
        ),
        (
            d.join("pay.plan").display().to_string(),
            repo("examples/banking.spec"),
        ),
        (
            d.join("inspect.plan").display().to_string(),
            repo("specs/devops-agent.spec"),
        ),
        (
            d.join("ship.plan").display().to_string(),
            d.join("ops.spec").display().to_string(),
        ),
    ];
    let schema = schema();
    let mut seen = std::collections::BTreeSet::new();
    for (plan, spec) in &cases {
        let tok = issue(d, plan, spec);
        let claims = token::paseto::verify(&tok, &key, &token::SystemClock)
            .unwrap_or_else(|e| panic!("{plan}: {e}"));
        // The payload as signed, not as re-serialized here.
        let payload = signed_payload(&tok);
        let json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let errors: Vec<String> = schema.iter_errors(&json).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{plan}: {errors:#?}\n{json:#}");
        assert_eq!(json["warden"], warden_core::claims::CLAIMS_VERSION);
        assert_eq!(serde_json::to_value(&claims).unwrap(), json);
        let env = json["envelope"].as_object().unwrap();
        seen.extend(env.keys().cloned());
    }
    // The tokens exercise the envelope's kinds of grant, not only calls.
    for member in [
        "files", "exec", "connect", "calls", "params", "limits", "ordering", "baseline",
    ] {
        assert!(
            seen.contains(member),
            "no issued token has `{member}`: {seen:?}"
        );
    }
}
