//! The options every binary shares (one clap struct, flattened into each binary's own).

use std::ops::Range;
use std::path::PathBuf;

use clap::Args;

use super::faults::{self, AtLeader, Crash, CrashFlag, FaultPlan, Partition, PartitionFlag};

/// Common options: driver, seed, time limit, outputs and the fault plan.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Run all ranks in this process under the deterministic simulator (no mpirun).
    #[arg(long, help_heading = "Run")]
    pub sim: bool,
    /// Number of simulated ranks (with --sim or --seeds; under mpirun use mpirun's -np).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(..=4096), help_heading = "Run")]
    pub np: Option<u16>,
    /// Seed of every random choice (latencies, faults, the algorithm's own RNG).
    #[arg(long, default_value_t = 1, value_name = "S", help_heading = "Run")]
    pub seed: u64,
    /// Sweep seeds A..B (end exclusive) in the simulator; exit 0 only if every seed passes.
    #[arg(long, value_name = "A..B", value_parser = parse_seeds, conflicts_with_all = ["seed", "report", "trace", "diagram"], help_heading = "Run")]
    pub seeds: Option<Range<u64>>,
    /// Give up after SECS (wall clock under MPI, virtual time in the simulator): exit 3.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = parse_timeout, allow_hyphen_values = true, help_heading = "Run")]
    pub timeout: f64,
    /// Under MPI, each rank's pre-posted receive buffer in KiB; a larger message is received
    /// by a matched probe into a buffer of its size (one copy more).
    #[arg(long = "recv-buffer", default_value_t = 1024, value_name = "KIB", value_parser = clap::value_parser!(u32).range(1..=1 << 20), help_heading = "Run")]
    pub recv_buffer_kib: u32,
    /// Write a JSON report of the run (schema in the README).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
    /// Write the run's events as a ShiViz log (regex in the README).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub trace: Option<PathBuf>,
    /// Draw the run as an SVG space-time diagram (readable up to ~8 ranks, ~200 events).
    #[arg(long, value_name = "FILE.svg", help_heading = "Output")]
    pub diagram: Option<PathBuf>,
    /// Under MPI, where ranks that recover keep their stable storage, one file per rank
    /// (default: a fresh temporary folder, removed at the end).
    #[arg(long, value_name = "DIR", help_heading = "Storage")]
    pub data_dir: Option<PathBuf>,
    /// Do not fdatasync stable storage: a write then survives the crash of its process but
    /// not of its machine.
    #[arg(long, help_heading = "Storage")]
    pub no_fsync: bool,
    /// Crash-stop RANK at MS milliseconds after the start (repeatable); `leader@MS`: the rank
    /// that leads at MS (each rank decides for itself; binaries with a leader).
    #[arg(long = "crash", value_name = "RANK@MS", value_parser = faults::parse_crash_flag, allow_hyphen_values = true, help_heading = "Faults")]
    pub crashes: Vec<CrashFlag>,
    /// Bring RANK back at MS with only what it persisted, crashing it first if it is up
    /// (repeatable; algorithms that recover: raft).
    #[arg(long = "restart", value_name = "RANK@MS", value_parser = faults::parse_crash, allow_hyphen_values = true, help_heading = "Faults")]
    pub restarts: Vec<Crash>,
    /// Crash RANK right after its first write to stable storage from MS on, before the sends
    /// that depend on the write (repeatable; with --restart to bring it back).
    #[arg(long = "crash-after-persist", value_name = "RANK@MS", value_parser = faults::parse_crash, allow_hyphen_values = true, help_heading = "Faults")]
    pub persist_crashes: Vec<Crash>,
    /// Drop each message with probability P.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = faults::parse_probability, allow_hyphen_values = true, help_heading = "Faults")]
    pub drop: f64,
    /// Duplicate each message with probability P.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = faults::parse_probability, allow_hyphen_values = true, help_heading = "Faults")]
    pub dup: f64,
    /// Delay each message copy by a uniform MIN..MAX milliseconds (reorders messages).
    #[arg(long, value_name = "MIN..MAX", value_parser = faults::parse_delay, allow_hyphen_values = true, help_heading = "Faults")]
    pub delay: Option<(u64, u64)>,
    /// Drop messages between groups during FROM..TO ms, e.g. 0,1|2,3@100..300 (repeatable);
    /// `leader|rest@FROM..TO`: the rank that leads at FROM, cut off from all others.
    #[arg(long = "partition", value_name = "G|G@FROM..TO", value_parser = faults::parse_partition_flag, allow_hyphen_values = true, help_heading = "Faults")]
    pub partitions: Vec<PartitionFlag>,
    /// From MS on, links stop dropping, duplicating and delaying (a liveness phase).
    #[arg(long, value_name = "MS", value_parser = faults::parse_heal, allow_hyphen_values = true, help_heading = "Faults")]
    pub heal: Option<u64>,
}

impl CommonArgs {
    /// The fault plan the flags describe.
    pub fn faults(&self) -> FaultPlan {
        let mut at_leader = Vec::new();
        let mut crashes: Vec<Crash> = Vec::new();
        for c in &self.crashes {
            match *c {
                CrashFlag::Rank(c) => crashes.push(c),
                CrashFlag::Leader(at_ms) => at_leader.push(AtLeader {
                    at_ms,
                    until_ms: None,
                    hit: None,
                }),
            }
        }
        let mut partitions: Vec<Partition> = Vec::new();
        for p in &self.partitions {
            match p {
                PartitionFlag::Groups(p) => partitions.push(p.clone()),
                PartitionFlag::Leader(from, to) => at_leader.push(AtLeader {
                    at_ms: *from,
                    until_ms: Some(*to),
                    hit: None,
                }),
            }
        }
        FaultPlan {
            crashes,
            restarts: self.restarts.clone(),
            persist_crashes: self.persist_crashes.clone(),
            drop: self.drop,
            dup: self.dup,
            delay_ms: self.delay,
            partitions,
            heal_ms: self.heal,
            at_leader,
        }
    }
    /// Whether to run in the simulator.
    pub fn simulated(&self) -> bool {
        self.sim || self.seeds.is_some()
    }
    /// Whether the event history must be recorded for outputs.
    pub fn wants_history(&self) -> bool {
        self.trace.is_some() || self.diagram.is_some()
    }
    /// The refusals of a run made of MPI collectives (`what`: "collective mode", "--sync
    /// allreduce"), each naming `instead`, the mode that has what was asked: the simulator (a
    /// collective needs real ranks), faults (a collective cannot lose a rank or a message), a
    /// trace or diagram (no point-to-point messages to draw).
    pub fn refuse_for_collectives(
        &self,
        np: usize,
        what: &str,
        instead: &str,
    ) -> Result<(), String> {
        if self.simulated() {
            return Err(format!(
                "{what} runs under mpirun only (MPI collectives); --sim and --seeds run {instead}: add {instead}"
            ));
        }
        let faults = self.faults();
        faults.validate(np)?;
        if !faults.is_empty() || faults.heal_ms.is_some() {
            return Err(format!("{what} cannot lose a rank or a message inside an MPI collective: --crash, --drop, --dup, --delay, --partition and --restart are for {instead}"));
        }
        if self.wants_history() {
            return Err(format!("{what} exchanges no point-to-point messages, so there is no trace or diagram to draw ({instead} has them)"));
        }
        Ok(())
    }
}

fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
        .filter(|(a, b)| a <= b)
        .ok_or_else(|| format!("--seeds must look like A..B with A <= B, got '{s}'"))?;
    if a == b {
        return Err(format!(
            "--seeds {s} is empty: the end is exclusive, try {a}..{}",
            a + 1
        ));
    }
    Ok(a..b)
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 86_400.0 => Ok(t),
        _ => Err(format!(
            "the timeout must be a number of seconds between 0 and 86400, got '{s}'"
        )),
    }
}
