//! The verdict a spec gives one action, as the analyses compare them.

use crate::compile::ActionVerdict;
use serde::Serialize;
use std::fmt;

/// The verdict a spec gives one action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// An `allow` rule decides it.
    Allow,
    /// An `approve` rule decides it: it waits for a human.
    Approve,
    /// A `deny` rule decides it, or no rule allows it.
    Deny,
}

impl Decision {
    /// Every decision, in order.
    pub const ALL: [Decision; 3] = [Decision::Allow, Decision::Approve, Decision::Deny];

    /// `allow`, `approve` or `deny`, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ActionVerdict> for Decision {
    fn from(v: ActionVerdict) -> Decision {
        match v {
            ActionVerdict::Allow(_) => Decision::Allow,
            ActionVerdict::Approve(_) => Decision::Approve,
            ActionVerdict::Deny(_) => Decision::Deny,
        }
    }
}

/// The rule that decides a verdict, by its index in
/// [`CompiledSpec::effects`](crate::CompiledSpec::effects), if any
/// (nothing allowing is no rule).
pub fn deciding_rule(v: ActionVerdict) -> Option<usize> {
    match v {
        ActionVerdict::Allow(i) | ActionVerdict::Approve(i) => Some(i),
        ActionVerdict::Deny(i) => i,
    }
}
