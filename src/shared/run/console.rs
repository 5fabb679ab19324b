//! Where a binary's words go. Results go to standard output, where a closed pipe
//! (`... | head`) ends the printing but not the run: Rust ignores SIGPIPE, so `println!` would
//! panic there, before the report and trace were written. Errors and notes go to standard
//! error, one sentence each, and never panic either.

use std::fmt::Display;
use std::io::{StdoutLock, Write};

/// Standard output, until a write to it fails (a closed pipe); then nothing more is printed.
pub struct Console {
    out: StdoutLock<'static>,
    open: bool,
}

impl Console {
    pub fn new() -> Console {
        Console {
            out: std::io::stdout().lock(),
            open: true,
        }
    }

    /// Print one line (nothing once standard output is closed).
    pub fn line(&mut self, line: impl Display) {
        if self.open && writeln!(self.out, "{line}").is_err() {
            self.open = false;
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

/// Print `error: {msg}` on standard error.
pub fn error(msg: &str) {
    let _ = writeln!(std::io::stderr(), "error: {msg}");
}

/// Print `note: {msg}` on standard error.
pub fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "note: {msg}");
}
