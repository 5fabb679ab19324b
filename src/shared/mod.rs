//! The machinery every algorithm uses, in rooms, from the bottom up (each uses only those
//! above it in this list):
//!
//! - [`interrupt`]: SIGINT and SIGTERM as a flag the drivers look at (a run ends early, not
//!   the process);
//! - [`process`]: the sans-IO process model (`Process`, `Ctx`, `Effect`, `Kind`, `Rank`);
//! - [`quorum`]: majorities and the index a quorum reached;
//! - [`election`]: ballots and randomized election timeouts;
//! - [`clients`]: command ids, the client workload (window, latencies);
//! - [`progress`]: the no-progress deadline behind `--give-up`;
//! - [`faults`]: the fault plan (crashes, drop, dup, delay, partitions, heal) and its decisions;
//! - [`observe`]: history, ShiViz trace, SVG diagram, metrics, results and the JSON report;
//! - [`service`]: servers and client ranks of a replicated service (options, messages, the
//!   two roles as one process, the leader-seeking closed-loop client);
//! - [`algorithm`]: the `Algorithm` trait that makes a process a checked binary;
//! - [`runtime`]: one rank as the drivers see it (`runner`) and the deterministic simulator;
//! - [`mpi`]: MPI itself: `World`, the MPI driver, RMA windows, shared primitives;
//! - [`cli`] and [`run`]: the options every binary shares and its `main`: parse, pick the
//!   simulator or MPI, print, report, exit code.

pub mod algorithm;
pub mod cli;
pub mod clients;
pub mod election;
pub mod faults;
pub mod interrupt;
pub mod mpi;
pub mod observe;
pub mod process;
pub mod progress;
pub mod quorum;
pub mod run;
pub mod runtime;
pub mod service;

pub use algorithm::Algorithm;
pub use observe::report::{Check, RunResult};
pub use process::{Ctx, Effect, Kind, Process, Rank};
