//! Assumptions on tool results (`let X = call T(...) where COND`): the
//! proof may rely on them, the token carries them, and the monitor holds
//! every result and every value a later step uses to them.

use serde_json::json;
use token::{Clock, FixedClock, NoRevocations, SigningKey, Timestamp, VerifiedToken};
use verifier::CompiledSpec;
use verifier::issue::{plan_hash, spec_hash};
use verifier::report::{Reason, Verdict};
use warden_core::action::ConcreteAction;
use warden_core::claims::{CLAIMS_VERSION, Claims, TokenId};
use warden_core::envelope::ValueMatch;
use warden_core::monitor::RefusalReason;
use warden_core::value::{Field, Value};

const SPEC: &str = r#"spec "bank" {
  allow call read_bill, notify
  allow call send_money when recipient == "UK1" and amount > 0 and amount <= 1000
}"#;

/// Pays a bill's amount, assuming it is at most 100 (or not assuming).
fn plan(assume: &str) -> String {
    format!(
        r#"plan "pay" {{
  let bill = call read_bill(file = "bill.txt"){assume}
  call send_money(recipient = "UK1", amount = bill.amount)
  call notify(text = bill.subject)
}}"#
    )
}

const ASSUME: &str = r#" where bill.amount > 0 and bill.amount <= 100 and bill.currency == "EUR""#;

fn compiled() -> (CompiledSpec, planlang::LoadedSpec) {
    let loaded = planlang::load_spec_str(SPEC, "bank.spec").unwrap();
    (CompiledSpec::compile(&loaded).unwrap(), loaded)
}

fn check(spec: &CompiledSpec, text: &str) -> verifier::Outcome {
    let plan = planlang::load_plan_str(text, "pay.plan").unwrap_or_else(|e| panic!("{e:?}"));
    spec.check(&plan).unwrap()
}

#[test]
fn a_plan_is_accepted_only_thanks_to_its_assumption() {
    let (spec, _) = compiled();
    let out = check(&spec, &plan(ASSUME));
    assert_eq!(out.verdict, Verdict::Accept, "{out:#?}");
    let env = out.envelope.unwrap();
    assert_eq!(env.assumptions.len(), 1);
    assert_eq!(env.assumptions[0].tool, "read_bill");
    let send = env.calls.iter().find(|c| c.name == "send_money").unwrap();
    assert_eq!(
        send.args["amount"],
        ValueMatch::Assumed {
            field: "bill.amount".into()
        }
    );
    // A field the assumption does not name stays an unknown of the tool.
    let notify = env.calls.iter().find(|c| c.name == "notify").unwrap();
    assert_eq!(
        notify.args["text"],
        ValueMatch::Unknown {
            origin: Some("read_bill".into())
        }
    );

    // Without the assumption: refused, and the counterexample's amount is a
    // number the spec refuses (not an empty string).
    let out = check(&spec, &plan(""));
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    assert_eq!(out.violations[0].reason, Reason::NothingAllows);
    // An assumption too weak for the spec is refused with a witness that
    // meets it.
    let out = check(
        &spec,
        &plan(" where bill.amount > 0 and bill.amount <= 5000"),
    );
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    let w = &out.violations[0].witness["bill.amount"];
    let n: rust_decimal::Decimal = w.parse().unwrap_or_else(|e| panic!("{w}: {e}"));
    assert!(
        n > 1000.into() && n <= 5000.into(),
        "the witness meets the assumption and breaks the spec: {w}"
    );
}

#[test]
fn two_results_of_one_name_keep_their_own_assumptions() {
    let (spec, _) = compiled();
    // Branch 2's assumption is too weak; assuming both at once would make
    // the proof vacuous (no amount is <= 100 and > 2000).
    let text = r#"plan {
      either {
        let bill = call read_bill(file = "a") where bill.amount > 0 and bill.amount <= 100
        call send_money(recipient = "UK1", amount = bill.amount)
      } or {
        let bill = call read_bill(file = "b") where bill.amount > 2000
        call send_money(recipient = "UK1", amount = bill.amount)
      }
    }"#;
    let out = check(&spec, text);
    assert_eq!(out.verdict, Verdict::Reject, "{out:#?}");
    assert!(
        out.violations[0].witness.contains_key("bill#2.amount"),
        "{out:#?}"
    );
}

fn issue(envelope: warden_core::Envelope) -> (VerifiedToken, FixedClock) {
    let (_, loaded) = compiled();
    let plan = planlang::load_plan_str(&plan(ASSUME), "pay.plan").unwrap();
    let key = SigningKey::generate().unwrap();
    let clock = FixedClock::new(Timestamp::from_unix(1_800_000_000));
    let now = clock.now();
    let claims = Claims {
        warden: CLAIMS_VERSION,
        iss: "warden".into(),
        sub: None,
        jti: TokenId::random().unwrap(),
        iat: now,
        nbf: now,
        exp: Timestamp::from_unix(now.unix() + 600),
        plan: None,
        plan_hash: plan_hash(&plan),
        spec: None,
        spec_hash: spec_hash(&loaded),
        ancestors: vec![],
        envelope,
        enforcement: vec![],
    };
    let tok = token::paseto::sign(&claims, &key).unwrap();
    let verified = VerifiedToken::verify(&tok, key.public_key(), &clock, &NoRevocations).unwrap();
    (verified, clock)
}

fn send(amount: i64) -> ConcreteAction {
    ConcreteAction::call(
        "send_money",
        [
            ("recipient", Field::new("UK1".into())),
            (
                "amount",
                Field::from_call(Value::Number(amount.into()), "read_bill"),
            ),
        ],
    )
}

fn read() -> ConcreteAction {
    ConcreteAction::call("read_bill", [("file", Field::new("bill.txt".into()))])
}

#[test]
fn the_token_carries_the_assumption_and_the_monitor_holds_results_to_it() {
    let (spec, _) = compiled();
    let env = check(&spec, &plan(ASSUME)).envelope.unwrap();
    let (tok, clock) = issue(env);
    // The signed token carries it, by its wire name.
    let wire = serde_json::to_value(tok.claims()).unwrap();
    assert_eq!(wire["envelope"]["assume"][0]["tool"], "read_bill");
    assert!(
        wire["envelope"]["assume"][0]["at"]
            .as_str()
            .unwrap()
            .starts_with("pay.plan:2:")
    );

    // A result that meets it: the amount it holds may be paid.
    let mut run = tok.monitor(&clock, NoRevocations);
    run.check(&read()).unwrap();
    run.check_result(
        "read_bill",
        &json!({"amount": 40, "currency": "EUR", "subject": "Dec"}),
    )
    .unwrap();
    run.check(&send(40)).unwrap();
    // A value from the tool that breaks the field's part is refused, even
    // though some result met the assumption.
    let e = run.check(&send(400)).unwrap_err();
    assert!(matches!(e.reason, RefusalReason::Envelope(_)), "{e}");

    // A result that breaks it stops the run before the next step.
    let mut run = tok.monitor(&clock, NoRevocations);
    run.check(&read()).unwrap();
    let e = run
        .check_result("read_bill", &json!({"amount": 400, "currency": "EUR"}))
        .unwrap_err();
    let said = e.to_string();
    assert!(matches!(e.reason, RefusalReason::Assumption(_)), "{said}");
    assert!(
        said.contains("bill.amount > 0 and bill.amount <= 100 and bill.currency == \"EUR\""),
        "{said}"
    );
    assert!(said.contains("pay.plan:2:"), "the span: {said}");
    assert!(said.contains("`bill.amount` is 400"), "{said}");
    let e = run.check(&send(40)).unwrap_err();
    assert!(matches!(e.reason, RefusalReason::Assumption(_)), "{e}");
    assert!(run.state().stopped().is_some());
    // The stop survives a stored state.
    let text = serde_json::to_string(run.state()).unwrap();
    let mut back: warden_core::monitor::RunState = serde_json::from_str(&text).unwrap();
    let e = tok
        .check_run(&mut back, &read(), &clock, &NoRevocations)
        .unwrap_err();
    assert!(matches!(e.reason, RefusalReason::Assumption(_)), "{e}");

    // A result of another tool is not held to it.
    let mut run = tok.monitor(&clock, NoRevocations);
    run.check_result("notify", &json!("sent")).unwrap();
}

#[test]
fn a_token_whose_assumption_relates_two_fields_is_refused() {
    let (spec, _) = compiled();
    let env = check(&spec, &plan(ASSUME)).envelope.unwrap();
    let (tok, _) = issue(env);
    let mut wire = serde_json::to_value(tok.claims()).unwrap();
    let w = &mut wire["envelope"]["assume"][0]["where"];
    *w = json!({"or": [{"<=": [{"ref": "bill.amount"}, 5]}, {"==": [{"ref": "bill.currency"}, "EUR"]}]});
    let e = serde_json::from_value::<Claims>(wire).unwrap_err();
    assert!(e.to_string().contains("relates two fields"), "{e}");
}
