//! Printing planlang's diagnostics for people: source lines with carets,
//! colored when stderr is a terminal (and `NO_COLOR` is unset).

use planlang::Diagnostics;
use std::io::IsTerminal;

/// Whether to color output written to stderr.
pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Renders `diags` to stderr.
pub fn eprint(diags: &Diagnostics) {
    eprint!("{}", planlang::render::render(diags, color_stderr()));
}
