//! `warden fmt FILE... [--check] [--stdout]`: rewrite plans and specs in the
//! canonical style. `--check` changes nothing and exits 1 naming every file
//! that is not canonical (for CI); `--stdout` prints instead of writing.
//! A file that does not parse is left alone (exit 2). `--canonical` prints
//! the text a token's `plan_hash` and `spec_hash` are taken of: comments
//! left out, blank lines only between groups of items
//! (`docs/token-format.md`).

use crate::diagnostics;
use crate::exit;
use planlang::FileKind;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Plans (`.plan`) and specs (`.spec`) to format.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Change nothing; exit 1 when a file is not in canonical style.
    #[arg(long, conflicts_with = "stdout")]
    pub check: bool,
    /// Print the formatted text instead of rewriting the files.
    #[arg(long)]
    pub stdout: bool,
    /// Print the canonical text a token hashes (`plan_hash`, `spec_hash`):
    /// without comments, blank lines only between groups of items.
    #[arg(long, conflicts_with_all = ["check", "stdout"])]
    pub canonical: bool,
}

pub fn run(args: Args) -> ExitCode {
    let mut bad_input = false;
    let mut not_canonical = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let text = match planlang::read_source(path) {
            Ok(t) => t,
            Err(e) => {
                diagnostics::eprint(&e);
                bad_input = true;
                continue;
            }
        };
        let formatted = match (FileKind::detect(path, &text), args.canonical) {
            (Some(FileKind::Plan), false) => planlang::fmt_plan_source(&text, &name),
            (Some(FileKind::Spec), false) => planlang::fmt_spec_source(&text, &name),
            (Some(FileKind::Plan), true) => {
                planlang::parse_plan(&text, &name).map(|p| planlang::fmt_plan(&p))
            }
            (Some(FileKind::Spec), true) => {
                planlang::parse_spec(&text, &name).map(|s| planlang::fmt_spec(&s))
            }
            (None, _) => {
                eprintln!(
                    "error: cannot tell whether `{name}` is a plan or a spec: name it `.plan` or `.spec`"
                );
                bad_input = true;
                continue;
            }
        };
        let formatted = match formatted {
            Ok(f) => f,
            Err(e) => {
                diagnostics::eprint(&e);
                bad_input = true;
                continue;
            }
        };
        if args.stdout || args.canonical {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = write!(std::io::stdout().lock(), "{formatted}");
        } else if formatted != text {
            if args.check {
                not_canonical.push(name);
            } else if let Err(e) = write_atomically(path, &formatted) {
                eprintln!("error: cannot write `{name}`: {e}");
                bad_input = true;
            }
        }
    }
    for name in &not_canonical {
        let _ = writeln!(std::io::stdout().lock(), "not formatted: {name}");
    }
    if bad_input {
        ExitCode::from(exit::BAD_INPUT)
    } else if !not_canonical.is_empty() {
        eprintln!("run `warden fmt` on the files above");
        ExitCode::from(exit::REJECT)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes through a temporary file in the same directory and renames it, so
/// a crash never leaves a half-written spec.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file}.warden-fmt.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
