//! The machinery every algorithm uses: the process model, the two drivers (MPI and the
//! deterministic simulator), the fault plan, metrics, reports and traces.

pub mod cli;
pub mod faults;
pub mod history;
pub mod mpi_driver;
pub mod node;
pub mod primitives;
pub mod process;
pub mod report;
pub mod rma;
pub mod run;
pub mod sim;

pub use process::{Algorithm, Ctx, Effect, Kind, Process, Rank};
pub use report::{Check, RunResult};
