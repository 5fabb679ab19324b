//! The [`Algorithm`] trait: what turns a [`Process`] into a binary. It names the binary,
//! declares its options, builds each rank's state machine, and checks the whole run.
//!
//! It sits above the process model (a process knows nothing of fault plans or reports) and
//! below the drivers, which run any `Algorithm`.

use std::fmt::Debug;
use std::path::PathBuf;

use serde::Serialize;

use super::cli::CommonArgs;
use super::faults::FaultPlan;
use super::observe::report::{Check, RunResult};
use super::process::{BadRecord, Process, Rank};

/// An algorithm binary: its options, how ranks are built, and how the run is checked.
pub trait Algorithm {
    /// The binary's name, as in `src/bin`.
    const NAME: &'static str;
    /// One paragraph for `--help`.
    const ABOUT: &'static str;
    /// Whether the checker needs the event history (vector timestamps of every event) even
    /// when no trace or diagram was asked for.
    const NEEDS_HISTORY: bool = false;
    /// Whether the checker compares times of different ranks (real-time order of operations):
    /// under MPI the driver then measures each rank's clock offset against rank 0 at the start
    /// ([`crate::shared::observe::report::ClockSync`]).
    const NEEDS_CLOCKS: bool = false;
    /// Whether the processes draw tickets ([`Ctx::draw_ticket`](super::Ctx::draw_ticket)): under MPI the driver then
    /// hosts a shared counter in an RMA window on rank 0.
    const USES_TICKETS: bool = false;
    /// Whether the processes persist state and can be restarted from it (`--restart`,
    /// `--crash-after-persist`); the others are crash-stop and refuse those flags.
    const RECOVERS: bool = false;
    /// Whether some rank leads ([`Process::leads`]): faults aimed at the leader
    /// (`--crash leader@MS`, `--partition leader|rest@A..B`) are refused otherwise.
    const LEADS: bool = false;
    /// The message kinds ([`Kind::kind`](super::process::Kind::kind)) in the order the
    /// diagram gives them its colours, so each kind keeps one colour in every run; list
    /// requests before their replies, the most frequent first.
    const KINDS: &'static [&'static str] = &[];
    /// Each rank's role ("server", "client"), written on its line in the diagram; empty
    /// where every rank plays the same part.
    fn roles(args: &Self::Args, np: usize) -> Vec<String> {
        let _ = (args, np);
        Vec::new()
    }
    /// Whether this run compares times across ranks: [`Algorithm::NEEDS_CLOCKS`], or an option
    /// asks for it (e.g. a client history written for an outside checker).
    fn needs_clocks(args: &Self::Args) -> bool {
        let _ = args;
        Self::NEEDS_CLOCKS
    }
    /// Files the binary's own options ask for beyond the report, trace and diagram, as
    /// (what, path), `what` naming the option (`history` for `--history`): opened before the
    /// run with the others (a path that cannot be written is refused at once), written by
    /// rank 0 (or the simulator) after the checks of one run; a sweep (`--seeds`) refuses
    /// them, the files being one run's.
    fn own_outputs(args: &Self::Args) -> Vec<(&'static str, PathBuf)> {
        let _ = args;
        Vec::new()
    }
    /// The contents of each of [`Algorithm::own_outputs`], as (what, text).
    fn files(
        args: &Self::Args,
        run: &RunResult<<Self::Proc as Process>::Output>,
    ) -> Vec<(&'static str, String)> {
        let _ = (args, run);
        Vec::new()
    }
    /// Work that replaces the run when the options ask for it (e.g. checking a history file):
    /// no MPI, no simulation; its exit code. `quiet`: print nothing (an mpirun rank but 0).
    fn instead_of_run(args: &Self::Args, common: &CommonArgs, quiet: bool) -> Option<u8> {
        let _ = (args, common, quiet);
        None
    }
    /// Algorithm-specific options.
    type Args: clap::Args + Clone + Debug + Serialize;
    /// The per-rank state machine.
    type Proc: Process;

    /// Reject options that cannot work with `np` ranks, with one sentence.
    fn validate(args: &Self::Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        let _ = (args, np, faults);
        Ok(())
    }
    /// Build rank `rank` of `np`.
    fn build(args: &Self::Args, rank: Rank, np: usize) -> Self::Proc;
    /// Rebuild rank `rank` after a crash from the records it persisted, in order (only called
    /// when `RECOVERS`; the records passed their checksums). A record it cannot replay keeps
    /// the rank out: never rebuild from less than what was stored.
    fn recover(
        args: &Self::Args,
        rank: Rank,
        np: usize,
        stored: &[Vec<u8>],
    ) -> Result<Self::Proc, BadRecord> {
        let _ = stored;
        Ok(Self::build(args, rank, np))
    }
    /// Check the algorithm's guarantees over the whole run.
    fn check(args: &Self::Args, run: &RunResult<<Self::Proc as Process>::Output>) -> Vec<Check>;
    /// Human-readable lines describing what the run computed.
    fn summarize(
        args: &Self::Args,
        run: &RunResult<<Self::Proc as Process>::Output>,
    ) -> Vec<String>;
    /// Role groups, each a name and its ranks. Under MPI each becomes a communicator of its own
    /// (`MPI_Comm_split` by membership) over which the members reduce their
    /// [`Algorithm::group_value`]; the run then checks that every value agrees, a cross-check
    /// that does not go through the gathered outputs.
    fn groups(args: &Self::Args, np: usize) -> Vec<(&'static str, Vec<Rank>)> {
        let _ = (args, np);
        Vec::new()
    }
    /// The value of a rank's output that must be the same at every rank of every group that
    /// has one (e.g. the decided value).
    fn group_value(output: &<Self::Proc as Process>::Output) -> Option<u64> {
        let _ = output;
        None
    }
    /// A rank's output as the JSON report shows it (by default all of it; long arrays are
    /// shortened either way).
    fn output_view(output: &<Self::Proc as Process>::Output) -> serde_json::Value {
        serde_json::to_value(output).unwrap_or_default()
    }
    /// Figures of the run for the JSON report (merged at its top level), beyond the common
    /// schema: latencies, rates, counts.
    fn figures(
        args: &Self::Args,
        run: &RunResult<<Self::Proc as Process>::Output>,
    ) -> Option<serde_json::Value> {
        let _ = (args, run);
        None
    }
}
