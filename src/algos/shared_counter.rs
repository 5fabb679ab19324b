//! Distributed shared primitives on MPI RMA windows: a counter, a max register, a swap and a
//! compare-and-swap register, hosted on one rank and hammered by all.
//!
//! Every rank performs K operations on one shared cell (see [`crate::shared::mpi::primitives`]);
//! rank 0 gathers every value each operation returned and checks atomicity, not just the
//! final total:
//! - fetch-add and cas (a compare-and-swap increment that retries on contention): the final
//!   value is initial + (operations done), and the returned old values are exactly
//!   initial .. initial + total - 1, each once (a lost update repeats a value; a torn one skips);
//! - max: the final value is the maximum ever written (values are seeded, negative ones
//!   included: the original lost those), the values a rank reads are monotone, and a rank
//!   never reads less than what it wrote before;
//! - swap: the returned previous values and the final value are exactly the written values
//!   plus the initial one: every write is accounted for once;
//! - read: every read sees the initial value.
//!
//! `--scheme legacy` is the C originals' layout done correctly: one slot per rank on the host,
//! an exclusive lock, a Get of every slot and an update of the own slot per operation.
//!
//! Roles: rank `--host` hosts the cell (and works like the others); everyone operates. A
//! `--crash` of a non-host rank stops its operations at that time; the checks count what it
//! completed. A crash of the host is refused: the primitive is centralized on it.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::shared::cli::CommonArgs;
use crate::shared::interrupt::{self, Signal};
use crate::shared::mpi::primitives::{
    self, Cell, LegacyCell, LegacyLocal, LocalCell, MaxRegister, RmaCellHost,
};
use crate::shared::mpi::World;
use crate::shared::observe::outputs::Outputs;
use crate::shared::observe::report::{Ending, Metrics, RankResult, RunResult};
use crate::shared::process::{process_rng, Rank};
use crate::shared::run::{self, code, Binary, Conclusion};
use crate::shared::Check;

/// The operation every rank repeats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    /// Atomic fetch-and-add of 1 (a ticket counter).
    FetchAdd,
    /// Increment by compare-and-swap, retrying on contention.
    Cas,
    /// Write a seeded value into a max register.
    Max,
    /// Swap in a unique value (the "reset" the originals meant).
    Swap,
    /// Atomic read.
    Read,
}

/// Where the cell lives and how it is updated.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// One cell, MPI-3 atomics (fetch-and-op, compare-and-swap), no lock.
    Rma,
    /// The originals' layout: a slot per rank, exclusive lock, Get all, update own.
    Legacy,
}

/// Options of the `shared-counter` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct CounterArgs {
    /// The operation every rank performs.
    #[arg(long, value_enum, default_value_t = OpKind::FetchAdd)]
    pub op: OpKind,
    /// Operations per rank.
    #[arg(long, default_value_t = 1000, value_name = "K", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub ops: u64,
    /// The rank that hosts the shared cell.
    #[arg(long, default_value_t = 0, value_name = "RANK")]
    pub host: usize,
    /// rma (MPI-3 atomics) or legacy (the originals' locked scheme).
    #[arg(long, value_enum, default_value_t = Scheme::Rma)]
    pub scheme: Scheme,
}

/// What one rank did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RankLog {
    pub ops_done: u64,
    /// The value each operation returned (the old value; the read value for reads).
    pub returned: Vec<i64>,
    /// The value each max or swap operation wrote.
    pub written: Vec<i64>,
    /// Failed compare-and-swap attempts (contention).
    pub retries: u64,
    pub elapsed_s: f64,
    pub crashed: bool,
    pub timed_out: bool,
    /// A signal stopped its operations (SIGINT, SIGTERM).
    pub interrupted: Option<Signal>,
    /// The host it ran on (under MPI).
    pub host: String,
}

/// A rank's output in the report (the values themselves are checked, not reported).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankOutput {
    pub ops_done: u64,
    pub ops_per_s: f64,
    pub retries: u64,
}

/// The cell's starting value for `op`.
pub fn initial(op: OpKind) -> i64 {
    match op {
        OpKind::Max => i64::MIN,
        _ => 0,
    }
}

/// When a rank stops working.
pub struct Limits {
    pub start: Instant,
    pub crash_at: Option<Duration>,
    pub deadline: Duration,
}

/// Perform `k` operations of `op` on `cell` as `rank`.
pub fn run_rank<C: Cell>(
    cell: &C,
    op: OpKind,
    rank: Rank,
    k: u64,
    seed: u64,
    limits: &Limits,
) -> RankLog {
    let mut rng = process_rng(seed, rank);
    let mut log = RankLog::default();
    let counter = primitives::SharedCounter(cell);
    let register = MaxRegister(cell);
    for i in 0..k {
        let t = limits.start.elapsed();
        if limits.crash_at.is_some_and(|c| t >= c) {
            log.crashed = true;
            break;
        }
        if t >= limits.deadline {
            log.timed_out = true;
            break;
        }
        if let Some(s) = interrupt::signal() {
            log.interrupted = Some(s);
            break;
        }
        let value = match op {
            OpKind::FetchAdd => counter.fetch_add(1),
            OpKind::Cas => {
                let (v, retries) = counter.cas_increment();
                log.retries += retries;
                v
            }
            OpKind::Max => {
                let v = rng.gen_range(-1_000_000..=1_000_000);
                log.written.push(v);
                register.write(v)
            }
            OpKind::Swap => {
                let v = (rank as u64 * k + i + 1) as i64;
                log.written.push(v);
                cell.swap(v)
            }
            OpKind::Read => cell.load(),
        };
        log.returned.push(value);
        log.ops_done += 1;
    }
    log.elapsed_s = limits.start.elapsed().as_secs_f64();
    log
}

/// The atomicity checks over every rank's log and the final value.
pub fn check(op: OpKind, final_value: i64, logs: &[RankLog]) -> Vec<Check> {
    let init = initial(op);
    let total: u64 = logs.iter().map(|l| l.ops_done).sum();
    let mut all: Vec<i64> = logs
        .iter()
        .flat_map(|l| l.returned.iter().copied())
        .collect();
    all.sort_unstable();
    match op {
        OpKind::FetchAdd | OpKind::Cas => {
            let expected_final = init + total as i64;
            let final_check = Check::from_violations(
                "final-equals-operations",
                format!("final value {final_value} = {total} operations"),
                if final_value == expected_final {
                    vec![]
                } else {
                    vec![format!(
                        "final value {final_value}, but {total} increments were done (expected {expected_final})"
                    )]
                },
            );
            let mut bad = Vec::new();
            for (i, w) in all.windows(2).enumerate() {
                if w[0] == w[1] {
                    bad.push(format!("value {} returned twice: a lost update", w[0]));
                } else if w[1] != w[0] + 1 {
                    bad.push(format!(
                        "values {} and {} returned, nothing between (at {i})",
                        w[0], w[1]
                    ));
                }
            }
            if all.first().is_some_and(|&f| f != init) {
                bad.push(format!(
                    "the first value returned is {}, not {init}",
                    all[0]
                ));
            }
            let unique = Check::from_violations(
                "every-value-returned-once",
                format!(
                    "the {total} returned old values are exactly {init}..{}",
                    init + total as i64
                ),
                bad,
            );
            vec![final_check, unique]
        }
        OpKind::Max => {
            let max_written = logs.iter().flat_map(|l| l.written.iter().copied()).max();
            let expected = max_written.map_or(init, |m| m.max(init));
            let final_check = Check::from_violations(
                "final-is-the-maximum-written",
                format!("final value {final_value}"),
                if final_value == expected {
                    vec![]
                } else {
                    vec![format!(
                        "final value {final_value}, but the largest write was {expected}"
                    )]
                },
            );
            let mut bad = Vec::new();
            for (r, l) in logs.iter().enumerate() {
                let mut own_max = init;
                for (i, (&read, &wrote)) in l.returned.iter().zip(&l.written).enumerate() {
                    if i > 0 && read < l.returned[i - 1] {
                        bad.push(format!(
                            "rank {r} read {read} after {}: not monotone",
                            l.returned[i - 1]
                        ));
                    }
                    if read < own_max {
                        bad.push(format!("rank {r} read {read} after writing {own_max}"));
                    }
                    own_max = own_max.max(wrote);
                }
            }
            let monotone = Check::from_violations(
                "reads-monotone-and-see-own-writes",
                format!("{total} reads"),
                bad,
            );
            vec![final_check, monotone]
        }
        OpKind::Swap => {
            let mut written: Vec<i64> = logs
                .iter()
                .flat_map(|l| l.written.iter().copied())
                .collect();
            written.push(init);
            written.sort_unstable();
            let mut seen = all.clone();
            seen.push(final_value);
            seen.sort_unstable();
            let bad = if seen == written {
                vec![]
            } else {
                let lost = written
                    .iter()
                    .filter(|v| seen.binary_search(v).is_err())
                    .count();
                let extra = seen
                    .iter()
                    .filter(|v| written.binary_search(v).is_err())
                    .count();
                vec![format!(
                    "the returned values and the final one are not the written ones: {lost} writes never came back, {extra} values never written"
                )]
            };
            vec![Check::from_violations(
                "every-write-accounted-once",
                format!("{total} swaps: each written value came back once or is the final value"),
                bad,
            )]
        }
        OpKind::Read => {
            let bad: Vec<String> = all
                .iter()
                .chain(std::iter::once(&final_value))
                .filter(|&&v| v != init)
                .map(|v| format!("read {v}, but nobody writes and the cell holds {init}"))
                .collect();
            vec![Check::from_violations(
                "reads-see-the-initial-value",
                format!("{total} reads of {init}"),
                bad,
            )]
        }
    }
}

/// The `shared-counter` binary: a [`Binary`] of its own kind, as its ranks call RMA primitives
/// directly instead of running a [`Process`](crate::shared::Process).
pub struct SharedCounter;

impl Binary for SharedCounter {
    const NAME: &'static str = "shared-counter";
    const ABOUT: &'static str = "Distributed shared primitives on MPI RMA windows (fetch-add, cas, max, swap, read), hosted on one rank, checked for atomicity and measured in operations per second.";
    const EXCHANGES_MESSAGES: bool = false;
    type Args = CounterArgs;

    fn validate(args: &CounterArgs, common: &CommonArgs, np: usize) -> Result<(), String> {
        validate(args, common, np)
    }

    fn in_process(
        args: &CounterArgs,
        common: &CommonArgs,
        np: usize,
        _: &[OsString],
        outputs: &mut Outputs,
    ) -> u8 {
        in_process(args, common, np, outputs)
    }

    fn under_mpi(
        world: &World,
        args: &CounterArgs,
        common: &CommonArgs,
        outputs: &mut Outputs,
    ) -> u8 {
        let code = under_mpi(world, args, common, outputs);
        world.agree_on_exit_code(code)
    }
}

fn validate(args: &CounterArgs, common: &CommonArgs, np: usize) -> Result<(), String> {
    if np == 0 {
        return Err("--np must be at least 1".into());
    }
    if args.host >= np {
        return Err(format!(
            "--host {}: rank {} does not exist (ranks are 0..{})",
            args.host,
            args.host,
            np - 1
        ));
    }
    let faults = common.faults();
    faults.validate(np)?;
    run::refuse_recovery(SharedCounter::NAME, &faults)?;
    run::refuse_leader_faults(SharedCounter::NAME, &faults)?;
    if faults.drop > 0.0
        || faults.dup > 0.0
        || faults.delay_ms.is_some()
        || !faults.partitions.is_empty()
    {
        return Err(
            "shared-counter exchanges no messages: --drop, --dup, --delay and --partition do not apply (--crash does)".into(),
        );
    }
    if faults.crash_time_ms(args.host).is_some() {
        return Err(format!(
            "--crash {}: rank {} hosts the shared cell, and the primitive is centralized on it; crash another rank",
            args.host, args.host
        ));
    }
    if common.seeds.is_some() {
        return Err("shared-counter has no simulated schedule to sweep: use --seed".into());
    }
    if common.trace.is_some() || common.diagram.is_some() {
        return Err(
            "shared-counter exchanges no messages, so there is no trace or diagram to draw".into(),
        );
    }
    Ok(())
}

fn limits(common: &CommonArgs, rank: Rank) -> Limits {
    Limits {
        start: Instant::now(),
        crash_at: common
            .faults()
            .crash_time_ms(rank)
            .map(Duration::from_millis),
        deadline: Duration::from_secs_f64(common.timeout),
    }
}

/// `--sim`: the ranks as threads on the in-process backends (real concurrency, so not
/// deterministic; the MPI-free way to try the primitives).
fn in_process(args: &CounterArgs, common: &CommonArgs, np: usize, outputs: &mut Outputs) -> u8 {
    let init = initial(args.op);
    let local = LocalCell::new(init);
    let legacy = LegacyLocal::new(np, init);
    let logs: Vec<RankLog> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..np)
            .map(|r| {
                let (local, legacy) = (&local, &legacy);
                s.spawn(move || {
                    let l = limits(common, r);
                    match args.scheme {
                        Scheme::Rma => run_rank(local, args.op, r, args.ops, common.seed, &l),
                        Scheme::Legacy => {
                            run_rank(&legacy.for_rank(r), args.op, r, args.ops, common.seed, &l)
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let final_value = match args.scheme {
        Scheme::Rma => local.load(),
        Scheme::Legacy => legacy.for_rank(0).load(),
    };
    let elapsed = logs.iter().map(|l| l.elapsed_s).fold(0.0, f64::max);
    conclude(
        args,
        common,
        outputs,
        "sim-threads",
        final_value,
        logs,
        elapsed,
    )
}

fn under_mpi(world: &World, args: &CounterArgs, common: &CommonArgs, outputs: &mut Outputs) -> u8 {
    let (rank, init) = (world.rank(), initial(args.op));
    // The run's time is rank 0's clock from before the first barrier (no rank can start
    // earlier) to after the second (every rank has finished): one clock for the whole run.
    // Per-rank timers, maxed, miss the ranks that ran while another was descheduled.
    let started;
    let (log, final_value, elapsed) = match args.scheme {
        Scheme::Rma => {
            let host = RmaCellHost::new(world, args.host, init);
            started = Instant::now();
            world.barrier();
            let log = {
                let cell = host.open();
                run_rank(
                    &cell,
                    args.op,
                    rank,
                    args.ops,
                    common.seed,
                    &limits(common, rank),
                )
            };
            world.barrier();
            let whole = started.elapsed().as_secs_f64();
            let final_value = (rank == 0).then(|| host.open().load());
            (log, final_value, whole)
        }
        Scheme::Legacy => {
            let cell = LegacyCell::new(world, args.host, init);
            started = Instant::now();
            world.barrier();
            let log = run_rank(
                &cell,
                args.op,
                rank,
                args.ops,
                common.seed,
                &limits(common, rank),
            );
            world.barrier();
            let whole = started.elapsed().as_secs_f64();
            let final_value = (rank == 0).then(|| cell.load());
            (log, final_value, whole)
        }
    };
    let log = RankLog {
        host: world.host_name(),
        ..log
    };
    let blob = postcard::to_allocvec(&log).expect("logs serialize");
    let Some(blobs) = world.gather_to_root(&blob) else {
        return code::OK;
    };
    let logs: Vec<RankLog> = blobs
        .iter()
        .map(|b| postcard::from_bytes(b).expect("logs decode"))
        .collect();
    conclude(
        args,
        common,
        outputs,
        "mpi",
        final_value.expect("rank 0 read it"),
        logs,
        elapsed,
    )
}

/// The signal that stopped some rank's operations, if any (SIGTERM if one rank had it).
fn stopped_by(logs: &[RankLog]) -> Option<Signal> {
    let signals = logs.iter().filter_map(|l| l.interrupted);
    signals.max_by_key(|s| *s == Signal::Term)
}

fn conclude(
    args: &CounterArgs,
    common: &CommonArgs,
    outputs: &mut Outputs,
    driver: &'static str,
    final_value: i64,
    logs: Vec<RankLog>,
    elapsed_s: f64,
) -> u8 {
    let checks = check(args.op, final_value, &logs);
    let figures = Figures::of(&logs, elapsed_s, final_value);
    let Throughput {
        operations: total,
        ops_per_s,
        ..
    } = figures.throughput;
    let mut summary: Vec<String> = logs
        .iter()
        .enumerate()
        .map(|(r, l)| {
            format!(
                "rank {r}: {} {:?} ops, {:.0} ops/s{}{}{}",
                l.ops_done,
                args.op,
                l.ops_done as f64 / l.elapsed_s.max(1e-9),
                if l.retries > 0 {
                    format!(", {} cas retries", l.retries)
                } else {
                    String::new()
                },
                if r == args.host { " (host)" } else { "" },
                if l.crashed { " (crashed)" } else { "" },
            )
        })
        .collect();
    summary.push(format!(
        "{:?} scheme: {total} operations in {elapsed_s:.3} s = {ops_per_s:.0} ops/s in total; final value {final_value}",
        args.scheme
    ));
    let ranks = logs
        .iter()
        .enumerate()
        .map(|(r, l)| RankResult {
            rank: r,
            crashed: l.crashed,
            done: !l.crashed && !l.timed_out,
            output: RankOutput {
                ops_done: l.ops_done,
                ops_per_s: l.ops_done as f64 / l.elapsed_s.max(1e-9),
                retries: l.retries,
            },
            earlier: Vec::new(),
            metrics: Metrics::default(),
            clock: Default::default(),
            host: l.host.clone(),
            storage: Default::default(),
            hit_as_leader: Vec::new(),
        })
        .collect();
    let run = RunResult {
        algorithm: SharedCounter::NAME,
        driver,
        np: logs.len(),
        seed: common.seed,
        faults: common.faults(),
        ending: if let Some(s) = stopped_by(&logs) {
            // Rank 0 says which signal, though another rank may have had it.
            interrupt::note(s);
            Ending::Interrupted
        } else if logs.iter().any(|l| l.timed_out) {
            Ending::TimedOut
        } else {
            Ending::Finished
        },
        elapsed_s,
        ranks,
        history: None,
        groups: Vec::new(),
    };
    run::finish::<SharedCounter, _>(
        common,
        outputs,
        Conclusion {
            args,
            run: &run,
            checks,
            summary,
            figures: serde_json::to_value(figures).ok(),
            view: |o| serde_json::to_value(o).unwrap_or_default(),
            kinds: &[],
            roles: Vec::new(),
        },
    )
}

/// The figures of a run, for the report (merged at its top level) and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub throughput: Throughput,
}

/// Every rank's operations over the whole run's time.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub operations: u64,
    pub ops_per_s: f64,
    pub final_value: i64,
}

impl Figures {
    fn of(logs: &[RankLog], elapsed_s: f64, final_value: i64) -> Self {
        let operations: u64 = logs.iter().map(|l| l.ops_done).sum();
        Figures {
            throughput: Throughput {
                operations,
                ops_per_s: operations as f64 / elapsed_s.max(1e-9),
                final_value,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(returned: Vec<i64>, written: Vec<i64>) -> RankLog {
        RankLog {
            ops_done: returned.len() as u64,
            returned,
            written,
            ..Default::default()
        }
    }

    #[test]
    fn counter_history_passes_and_broken_ones_fail() {
        let good = [log(vec![0, 2, 3], vec![]), log(vec![1, 4], vec![])];
        assert!(check(OpKind::FetchAdd, 5, &good).iter().all(|c| c.passed));
        // A lost update: two ranks got ticket 2, and the final value is one short.
        let lost = [log(vec![0, 2, 3], vec![]), log(vec![1, 2], vec![])];
        let c = check(OpKind::FetchAdd, 4, &lost);
        assert!(!c[0].passed && !c[1].passed, "{c:?}");
        assert!(c[1].detail.contains("returned twice"), "{c:?}");
        // A duplicated value with the right final total is still caught.
        let dup = [log(vec![0, 1, 1], vec![]), log(vec![3, 4], vec![])];
        let c = check(OpKind::Cas, 5, &dup);
        assert!(c[0].passed && !c[1].passed, "{c:?}");
    }

    #[test]
    fn max_history_checks() {
        let ok = [
            log(vec![i64::MIN, 5, 9], vec![5, -3, 9]),
            log(vec![5, 9], vec![2, 1]),
        ];
        assert!(check(OpKind::Max, 9, &ok).iter().all(|c| c.passed));
        // The original's bug: a write below zero lost, and a read going backwards.
        let c = check(OpKind::Max, 0, &[log(vec![i64::MIN, 0], vec![-7, -2])]);
        assert!(!c[0].passed, "{c:?}");
        let c = check(OpKind::Max, 9, &[log(vec![i64::MIN, 9, 5], vec![9, 1, 2])]);
        assert!(!c[1].passed, "{c:?}");
    }

    #[test]
    fn swap_history_checks() {
        // Writes 1, 2, 3; chain 0 -> 1 -> 3 -> 2 (final 2).
        let ok = [log(vec![0, 3], vec![1, 2]), log(vec![1], vec![3])];
        assert!(check(OpKind::Swap, 2, &ok)[0].passed);
        let broken = [log(vec![0, 1], vec![1, 2]), log(vec![1], vec![3])];
        assert!(!check(OpKind::Swap, 2, &broken)[0].passed);
    }

    #[test]
    fn threads_on_each_backend_pass_every_check() {
        for scheme in [Scheme::Rma, Scheme::Legacy] {
            for op in [
                OpKind::FetchAdd,
                OpKind::Cas,
                OpKind::Max,
                OpKind::Swap,
                OpKind::Read,
            ] {
                let init = initial(op);
                let local = LocalCell::new(init);
                let legacy = LegacyLocal::new(4, init);
                let logs: Vec<RankLog> = std::thread::scope(|s| {
                    let hs: Vec<_> = (0..4)
                        .map(|r| {
                            let (local, legacy) = (&local, &legacy);
                            s.spawn(move || {
                                let l = Limits {
                                    start: Instant::now(),
                                    crash_at: None,
                                    deadline: Duration::from_secs(60),
                                };
                                match scheme {
                                    Scheme::Rma => run_rank(local, op, r, 2000, 1, &l),
                                    Scheme::Legacy => {
                                        run_rank(&legacy.for_rank(r), op, r, 2000, 1, &l)
                                    }
                                }
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let fin = match scheme {
                    Scheme::Rma => local.load(),
                    Scheme::Legacy => legacy.for_rank(0).load(),
                };
                for c in check(op, fin, &logs) {
                    assert!(c.passed, "{scheme:?} {op:?}: {c:?}");
                }
            }
        }
    }
}
