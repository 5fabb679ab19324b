//! Ctrl-C and `kill`: SIGINT and SIGTERM end a run early, not the process.
//!
//! [`install`] registers flag-setting handlers (the `signal-hook` crate: no hand-written
//! `unsafe`). The drivers look at the flag: the simulator stops at its next event, the MPI
//! event loop ends the run as it does at `--timeout` (every rank learns of it in the next
//! quiescence wave), and `shared-counter` stops its operations. The run is then checked,
//! printed and written as far as it went, and the process exits with 128 + the signal's
//! number (130 for SIGINT, 143 for SIGTERM), as a shell expects of a program a signal ended.
//! A second signal ends the process at once, with the same code.
//!
//! Under mpirun, mpirun forwards the signal to every rank. Open MPI 4 turns a Ctrl-C (or a
//! SIGTERM to mpirun) into a SIGCONT to the ranks, a SIGTERM one `odls_base_sigkill_timeout`
//! later (default 1 s) and a SIGKILL one more later: the ranks have that long to check, gather
//! and write what they did.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

use serde::{Deserialize, Serialize};
use signal_hook::consts::{SIGINT, SIGTERM};

/// The signal that asked this run to end (its number), 0 for none.
static SIGNAL: AtomicUsize = AtomicUsize::new(0);
/// Set by the first signal: a second one then exits at once.
static ARMED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// A signal that ends a run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM (`kill`, or mpirun passing on a Ctrl-C).
    Term,
}

impl Signal {
    fn number(self) -> i32 {
        match self {
            Signal::Int => SIGINT,
            Signal::Term => SIGTERM,
        }
    }
    fn from_number(n: usize) -> Option<Signal> {
        match n as i32 {
            SIGINT => Some(Signal::Int),
            SIGTERM => Some(Signal::Term),
            _ => None,
        }
    }
    /// "SIGINT" or "SIGTERM".
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }
    /// The exit code of a run it ended: 128 + its number (130, 143).
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }
}

/// Register the handlers of SIGINT and SIGTERM (once; later calls do nothing). If they
/// cannot be registered, the signals keep their default action (the process ends at once).
pub fn install() {
    INSTALL.call_once(|| {
        for (sig, code) in [(SIGINT, 130), (SIGTERM, 143)] {
            // The shutdown first: it sees ARMED as the previous signal left it.
            let registered = signal_hook::flag::register_conditional_shutdown(sig, code, &ARMED)
                .and_then(|_| signal_hook::flag::register(sig, &ARMED))
                .and_then(|_| signal_hook::flag::register_usize(sig, &SIGNAL, sig as usize));
            if let Err(e) = registered {
                log::warn!("cannot handle signal {sig}: {e}");
            }
        }
    });
}

/// Whether a signal asked the run to end (one relaxed load: cheap enough for a hot loop).
pub fn requested() -> bool {
    SIGNAL.load(Ordering::Relaxed) != 0
}

/// The signal that asked the run to end, if any.
pub fn signal() -> Option<Signal> {
    Signal::from_number(SIGNAL.load(Ordering::Relaxed))
}

/// Record a signal that another rank received: this rank's run ends as if it had.
pub fn note(signal: Signal) {
    SIGNAL.store(signal.number() as usize, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
        assert_eq!(Signal::from_number(2), Some(Signal::Int));
        assert_eq!(Signal::from_number(15), Some(Signal::Term));
        assert_eq!(Signal::from_number(0), None);
    }
}
