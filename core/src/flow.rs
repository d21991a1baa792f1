//! Rules that refuse or stop a call by where its values came from, as the
//! runtime monitor reads them.
//!
//! A value's provenance at run time is a guess from what the run saw: the
//! MCP gateway compares it with the results it remembers, an orchestrator
//! says what it knows. A rule that **lets a value through** when it comes
//! from a call (`allow ... when X from call T`) must not be fooled into it,
//! so it asks for the value's one known [`origin`](crate::value::Field):
//! [`Cond::eval`]. A rule that **refuses or stops** a call when a value
//! comes from a call (`deny ... when X from call T`, `approve each ... when
//! X from call T`) must not miss one either, so `X from call T` holds there
//! when the value **may** come from `T`: its origin or any of its
//! [`sources`](crate::value::Field::sources). Under a `not`, the question
//! turns around (the rule fires when the value does *not* come from `T`),
//! and the known origin alone counts. Either way a doubt about provenance
//! makes the refusing rule fire: it fails closed.
//!
//! ```
//! use warden_core::action::ConcreteAction;
//! use warden_core::cond::{Cond, Operand, Pattern};
//! use warden_core::value::{Field, Value};
//! use warden_core::vocab::ActionKind;
//! let rule = Pattern {
//!     kind: Some(ActionKind::Call),
//!     calls: Some(vec!["send_mail".into()]),
//!     when: Cond::FromCall { value: Operand::field("body"), tool: "read_inbox".into() },
//! };
//! let mut body = Field::from_call(Value::from("Quarterly numbers ..."), "read_file");
//! body.sources.insert("read_inbox".into());
//! let send = ConcreteAction::call("send_mail", [("body", body)]);
//! assert!(!rule.matches(&send)); // its known origin is read_file
//! assert!(warden_core::flow::may_match(&rule, &send)); // but it may come from read_inbox
//! ```

use crate::action::ConcreteAction;
use crate::cond::{Cond, Pattern, Scope, resolve};

/// Whether a rule that refuses or stops an action matches it, a value
/// counting as coming from a call when it may (see the module docs).
pub fn may_match(p: &Pattern, a: &ConcreteAction) -> bool {
    p.kind_matches(a.kind, a.call.as_deref()) && holds(&p.when, a, true, false)
}

/// Whether a rule that refuses or stops an action could match it for a
/// caller that cannot tell where any of its values came from: every
/// `from call` the rule asks (not under a `not`) is taken to hold of any
/// value the action has. A checker without provenance (the service's
/// `CheckAction`) refuses what this matches: it fails closed.
pub fn may_match_unseen(p: &Pattern, a: &ConcreteAction) -> bool {
    p.kind_matches(a.kind, a.call.as_deref()) && holds(&p.when, a, true, true)
}

/// `c` in `scope`, `from call` read as "may come from" where `positive`
/// (an even number of `not`s above it) and as "comes from" elsewhere; with
/// `unseen`, "may come from" holds of every value present.
fn holds(c: &Cond, scope: &dyn Scope, positive: bool, unseen: bool) -> bool {
    match c {
        Cond::And { all } => all.iter().all(|c| holds(c, scope, positive, unseen)),
        Cond::Or { any } => any.iter().any(|c| holds(c, scope, positive, unseen)),
        Cond::Not { cond } => !holds(cond, scope, !positive, unseen),
        Cond::FromCall { value, tool } if positive => {
            resolve(value, scope).is_some_and(|f| unseen || f.may_come_from(tool))
        }
        other => other.eval(scope),
    }
}

/// Whether a condition asks where a value came from.
pub fn asks_provenance(c: &Cond) -> bool {
    match c {
        Cond::FromCall { .. } => true,
        Cond::And { all: cs } | Cond::Or { any: cs } => cs.iter().any(asks_provenance),
        Cond::Not { cond } => asks_provenance(cond),
        Cond::True | Cond::False | Cond::Cmp { .. } | Cond::Has { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cond::Operand;
    use crate::value::{Field, Value};
    use crate::vocab::ActionKind;

    fn from(tool: &str) -> Cond {
        Cond::FromCall {
            value: Operand::field("body"),
            tool: tool.into(),
        }
    }

    fn rule(when: Cond) -> Pattern {
        Pattern {
            kind: Some(ActionKind::Call),
            calls: Some(vec!["send_mail".into()]),
            when,
        }
    }

    fn send(body: Field) -> ConcreteAction {
        ConcreteAction::call("send_mail", [("body", body)])
    }

    fn maybe(origin: Option<&str>, sources: &[&str]) -> Field {
        let mut f = Field::new(Value::from("text"));
        f.origin = origin.map(str::to_owned);
        f.sources = sources.iter().map(|s| s.to_string()).collect();
        f
    }

    #[test]
    fn a_possible_source_fires_a_refusing_rule_and_only_that() {
        let r = rule(from("read_inbox"));
        assert!(may_match(&r, &send(maybe(None, &["read_inbox"]))));
        assert!(may_match(&r, &send(maybe(Some("read_inbox"), &[]))));
        assert!(!may_match(&r, &send(maybe(Some("read_file"), &[]))));
        assert!(!may_match(&r, &send(maybe(None, &[]))));
        // Another call, or no such argument: the rule does not match.
        assert!(!may_match(
            &r,
            &ConcreteAction::call("post", [("body", maybe(None, &["read_inbox"]))])
        ));
        assert!(!may_match(
            &r,
            &ConcreteAction::call("send_mail", [("to", maybe(None, &["read_inbox"]))])
        ));
    }

    #[test]
    fn under_not_the_known_origin_alone_counts() {
        // `deny call send_mail when not (body from call read_file)`: a body
        // that only may come from read_file is still refused.
        let r = rule(Cond::not(from("read_file")));
        assert!(may_match(&r, &send(maybe(None, &["read_file"]))));
        assert!(!may_match(&r, &send(maybe(Some("read_file"), &[]))));
        // Two `not`s are one question again.
        let r = rule(Cond::Not {
            cond: Box::new(Cond::Not {
                cond: Box::new(from("read_inbox")),
            }),
        });
        assert!(may_match(&r, &send(maybe(None, &["read_inbox"]))));
    }

    #[test]
    fn without_provenance_every_present_value_may_come_from_the_call() {
        let r = rule(from("read_inbox"));
        assert!(may_match_unseen(&r, &send(maybe(None, &[]))));
        assert!(!may_match_unseen(
            &r,
            &ConcreteAction::call("send_mail", [("to", maybe(None, &[]))])
        ));
        assert!(!may_match(&r, &send(maybe(None, &[]))));
    }

    #[test]
    fn asks_provenance_looks_inside() {
        assert!(asks_provenance(&Cond::and(
            Cond::Has {
                field: "body".into()
            },
            Cond::not(from("x"))
        )));
        assert!(!asks_provenance(&Cond::Has {
            field: "body".into()
        }));
    }
}
