//! Exit codes: the contract for scripts and CI (docs/introduction.md). Keep it stable.

/// The plan is accepted (or the command succeeded).
#[allow(dead_code)]
pub const ACCEPT: u8 = 0;
/// The plan is rejected (or a check found differences / failures).
#[allow(dead_code)]
pub const REJECT: u8 = 1;
/// Bad input: unreadable file, parse error, unknown option, bad token.
pub const BAD_INPUT: u8 = 2;
/// The plan needs a human's approval.
#[allow(dead_code)]
pub const NEEDS_APPROVAL: u8 = 3;
/// `warden diff`: no difference was found, but equivalence is not proved
/// (the solver gave up, or the specs use what the analysis does not model).
pub const UNKNOWN: u8 = 4;
