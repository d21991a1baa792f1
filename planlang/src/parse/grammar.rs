//! The pest parser of both languages, and its `Rule`s: what the text of
//! `parse` (errors in words) and `build` (pairs to syntax trees) share.

/// The grammar of both languages: `plan.pest` (values, conditions, plan
/// steps) and `spec.pest` (rules), compiled into one parser so a spec's
/// `test` blocks read plans with the plan grammar.
#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/plan.pest"]
#[grammar = "../../grammar/spec.pest"]
pub(crate) struct Grammar;
