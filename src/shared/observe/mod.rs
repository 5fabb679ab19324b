//! What a run leaves behind for people and checkers: the event history with ground-truth vector
//! timestamps ([`history`]), the ShiViz log ([`trace`]), the SVG space-time diagram
//! ([`diagram`]), message metrics ([`metrics`]) and the run's result, checks and JSON report
//! ([`report`]), latency percentiles ([`latency`]), the output files, opened before the run
//! ([`outputs`]), the linearizability checker ([`linearizability`]) and the client histories
//! of a key-value map it reads, in the file format outside checkers read too ([`kv_history`]).
//! Nothing here drives a run; the drivers fill these in.

pub mod diagram;
pub mod history;
pub mod kv_history;
pub mod latency;
pub mod linearizability;
pub mod metrics;
pub mod outputs;
pub mod report;
pub mod trace;
