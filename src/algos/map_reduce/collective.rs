//! Collective mode under mpirun: rounds of map, combine and `MPI_Alltoallv` shuffle, then
//! `MPI_Gatherv` of the result to rank 0, which checks it against the sequential computation
//! and prints, writes and reports it (see the module doc of [`super`]).
//!
//! Timing: the run's time is rank 0's clock from a barrier before the first read to a barrier
//! after the result is at rank 0 (one clock for the whole run). The sequential computation is
//! then timed on rank 0 alone, on the same input, while the other ranks wait in a barrier that
//! sleeps (a spinning one would take a core from it): `speedup` is their ratio, in one run.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::input::{Chunk, Source, Split};
use super::job::{self, Exchange, Layout, Outcome, Shuffle, Stats, Stop};
use super::{Args, MapReduce, Read};
use crate::shared::cli::CommonArgs;
use crate::shared::interrupt::{self, Signal};
use crate::shared::mpi::{Group, World};
use crate::shared::observe::outputs::Outputs;
use crate::shared::observe::report::{Ending, Metrics, RankResult, RunResult};
use crate::shared::run::{self, code, Conclusion};
use crate::shared::Check;
use crate::with_job;

/// The world's collectives as the pipeline's [`Exchange`].
struct Mpi<'a>(&'a World);

/// A blob too large for one collective: every rank is in it, so no one can be told but by
/// an abort.
fn or_abort(world: &World, r: Result<Vec<Vec<u8>>, String>) -> Vec<Vec<u8>> {
    r.unwrap_or_else(|e| {
        crate::shared::run::usage_error(&e);
        world.abort(i32::from(code::USAGE))
    })
}

impl Shuffle for Mpi<'_> {
    fn rank(&self) -> usize {
        self.0.rank()
    }
    fn np(&self) -> usize {
        self.0.size()
    }
    fn all_to_all(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
        or_abort(self.0, self.0.all_to_all_bytes(send))
    }
}

/// A group's (one host's) collectives, for the two-level reduction's first shuffle.
struct Local<'a>(&'a World, Group);

impl Shuffle for Local<'_> {
    fn rank(&self) -> usize {
        self.1.rank()
    }
    fn np(&self) -> usize {
        self.1.size()
    }
    fn all_to_all(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
        or_abort(self.0, self.1.all_to_all_bytes(send))
    }
}

impl Exchange for Mpi<'_> {
    fn gather(&self, mine: &[u8]) -> Option<Vec<Vec<u8>>> {
        self.0.gather_to_root(mine)
    }
    fn sum(&self, v: u64) -> u64 {
        self.0.sum_u64(v)
    }
    fn max(&self, v: u64) -> u64 {
        self.0.max_u64(v)
    }
}

/// Collective mode's refusals: the simulator, and faults a collective cannot survive.
pub fn validate(_args: &Args, common: &CommonArgs, np: usize) -> Result<(), String> {
    if np == 0 {
        return Err("--np must be at least 1".into());
    }
    common.refuse_for_collectives(np, "collective mode", "--mode tasks")
}

/// Every rank's group: `group_size` consecutive ranks, or its host's index among the hosts
/// in order of their first rank.
fn groups(hosts: &[Vec<u8>], group_size: Option<u32>) -> Vec<usize> {
    match group_size {
        Some(k) => (0..hosts.len()).map(|r| r / k as usize).collect(),
        None => {
            let mut seen: Vec<&[u8]> = Vec::new();
            hosts
                .iter()
                .map(|h| match seen.iter().position(|s| s == h) {
                    Some(i) => i,
                    None => {
                        seen.push(h);
                        seen.len() - 1
                    }
                })
                .collect()
        }
    }
}

/// What one rank did, gathered at rank 0.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RankLog {
    pub stats: Stats,
    pub host: String,
    pub stopped: Option<u8>,
}

/// A rank's output in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankOutput {
    pub chunks: u64,
    pub input_bytes: u64,
    pub pairs: u64,
    pub shuffled_out: u64,
    pub keys: u64,
}

/// Prints a progress line on standard error every few seconds (rank 0).
struct Progress {
    start: Instant,
    last: Instant,
    every: Duration,
}

impl Progress {
    fn tick(&mut self, round: usize, rounds: usize, bytes: u64, total: u64, np: usize) {
        if self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let t = self.start.elapsed().as_secs_f64();
        // Rank 0's share times np: the ranks go in lockstep rounds.
        let done = (bytes * np as u64).min(total) as f64;
        eprintln!(
            "map-reduce: round {round} of {rounds}, about {:.0} of {:.0} MB mapped ({:.0}%), {:.1} s",
            done / 1e6,
            total as f64 / 1e6,
            100.0 * done / total.max(1) as f64,
            t
        );
    }
}

/// Rank 0 reads this round's splits and scatters them, one per rank (`--read root`).
fn scatter_round(
    world: &World,
    src: &Source,
    splits: &[Split],
    round: usize,
) -> Result<Option<Chunk>, String> {
    let np = world.size();
    let mut error = None;
    let parts = (world.rank() == 0).then(|| {
        (0..np)
            .map(|r| {
                let i = round * np + r;
                let chunk = match splits.get(i) {
                    Some(&s) if error.is_none() => match src.read(s) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            error = Some(e);
                            None
                        }
                    },
                    _ => None,
                };
                postcard::to_allocvec(&chunk).expect("encodes")
            })
            .collect::<Vec<_>>()
    });
    let mine = world.scatter_bytes(parts.as_deref())?;
    if let Some(e) = error {
        return Err(e);
    }
    postcard::from_bytes(&mine).map_err(|e| format!("a scattered split does not decode: {e}"))
}

/// This rank's part of a collective-mode run; rank 0's exit code (the others return OK).
pub fn under_mpi(world: &World, args: &Args, common: &CommonArgs, outputs: &mut Outputs) -> u8 {
    let (rank, np) = (world.rank(), world.size());
    let src = args.source().expect("validated");
    // Rank 0 writes the result: a path it cannot write stops every rank before the run.
    let mut out_file = None;
    let mut opened = code::OK;
    if rank == 0 {
        if let Some(p) = &args.output {
            match std::fs::File::create(p) {
                Ok(f) => out_file = Some(f),
                Err(e) => {
                    opened = run::usage_error(&format!(
                        "cannot write the result to {}: {e}; choose a writable path",
                        p.display()
                    ))
                }
            }
        }
    }
    if world.agree_on_exit_code(opened) != code::OK {
        return code::USAGE;
    }
    // The groups: hosts by name (in order of their first rank), or --group-size ranks each.
    let names = or_abort(world, world.all_gather_bytes(world.host_name().as_bytes()));
    let group_of = groups(&names, args.group_size);
    let local = args
        .two_level
        .then(|| Local(world, world.split_groups(group_of[rank] as u32)));
    let layout = Layout {
        group_of: &group_of,
        local: local.as_ref().map(|l| l as &dyn Shuffle),
    };
    let splits = src.splits(args.chunk);
    let rounds = splits.len().div_ceil(np);
    let total = src.bytes();
    let deadline = Duration::from_secs_f64(common.timeout);
    let combine = !args.no_combiner;
    let top_k = args.top_k as usize;
    world.barrier();
    let started = Instant::now();
    let mut progress = Progress {
        start: started,
        last: started,
        every: Duration::from_secs(2),
    };
    let mut mapped = 0u64;
    let result = with_job!(args.job, J => job::pipeline::<J, _>(
        &Mpi(world),
        &layout,
        rounds,
        combine,
        top_k,
        |round| {
            let chunk = match args.read {
                Read::All => match splits.get(round * np + rank) {
                    Some(&s) => src.read(s).map(Some),
                    None => Ok(None),
                },
                Read::Root => scatter_round(world, &src, &splits, round),
            };
            if let Ok(Some(c)) = &chunk {
                mapped += c.bytes;
            }
            if rank == 0 {
                progress.tick(round, rounds, mapped, total, np);
            }
            chunk
        },
        |_| {
            if let Some(s) = interrupt::signal() {
                let _ = s;
                Some(Stop::Interrupted)
            } else if started.elapsed() >= deadline {
                Some(Stop::TimedOut)
            } else {
                None
            }
        },
    ));
    world.barrier();
    let elapsed_s = started.elapsed().as_secs_f64();
    let (outcome, stats, stopped) = match result {
        Ok((o, s)) => (o, s, None),
        Err(st) => {
            if let Some(e) = &st.error {
                // The rank that could not read says so; every rank stops.
                crate::shared::run::usage_error(&format!("rank {rank}: {e}"));
            }
            (None, st.stats, Some((st.why, st.round)))
        }
    };
    let log = RankLog {
        stats,
        host: world.host_name(),
        stopped: stopped.map(|s| s.0 as u8),
    };
    let blob = postcard::to_allocvec(&log).expect("encodes");
    let Some(blobs) = world.gather_to_root(&blob) else {
        // Rank 0 now runs the sequential baseline alone: wait without taking a core.
        world.sleepy_barrier();
        return code::OK;
    };
    let logs: Vec<RankLog> = blobs
        .iter()
        .map(|b| postcard::from_bytes(b).expect("a rank's log decodes"))
        .collect();
    if let Some((Stop::Failed, _)) = stopped {
        world.sleepy_barrier();
        return code::USAGE;
    }
    let code = conclude(
        args,
        common,
        outputs,
        Finished {
            src: &src,
            splits: &splits,
            outcome,
            logs,
            elapsed_s,
            rounds,
            stopped,
            out_file,
            group_of: &group_of,
        },
    );
    world.sleepy_barrier();
    code
}

struct Finished<'a> {
    src: &'a Source,
    splits: &'a [Split],
    outcome: Option<Outcome>,
    logs: Vec<RankLog>,
    elapsed_s: f64,
    rounds: usize,
    stopped: Option<(Stop, usize)>,
    out_file: Option<std::fs::File>,
    group_of: &'a [usize],
}

/// The figures of a run, for the report (merged at its top level) and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub input_bytes: u64,
    pub splits: usize,
    pub rounds: usize,
    pub elapsed_s: f64,
    pub input_mb_per_s: f64,
    /// The sequential computation on rank 0, same input, same code (absent with --no-check).
    pub sequential_s: Option<f64>,
    /// sequential_s / elapsed_s.
    pub speedup: Option<f64>,
    pub combiner: bool,
    pub pairs: u64,
    /// Bytes every rank sent to other ranks in the shuffle, and kept for itself.
    pub shuffled_bytes: u64,
    pub shuffled_self_bytes: u64,
    /// (shuffled + kept) / input bytes.
    pub shuffle_per_input_byte: f64,
    /// The groups the ranks were counted in: "hosts" or "K ranks" (--group-size).
    pub grouped_by: String,
    pub groups: usize,
    /// Of `shuffled_bytes`, those sent to a rank of another group (across hosts).
    pub cross_group_bytes: u64,
    pub cross_group_per_input_byte: f64,
    /// Two-level: bytes shuffled among the ranks of a group before the world's shuffle.
    pub two_level: bool,
    pub local_shuffled_bytes: u64,
    pub result_lines: usize,
    pub invalid_utf8: u64,
}

fn conclude(args: &Args, common: &CommonArgs, outputs: &mut Outputs, f: Finished) -> u8 {
    let Finished {
        src,
        splits,
        outcome,
        logs,
        elapsed_s,
        rounds,
        stopped,
        out_file,
        group_of,
    } = f;
    let sum = |g: fn(&Stats) -> u64| logs.iter().map(|l| g(&l.stats)).sum::<u64>();
    let input_bytes = sum(|s| s.input_bytes);
    let mut checks = Vec::new();
    let mut sequential_s = None;
    let combine = !args.no_combiner;
    if let Some(outcome) = &outcome {
        if args.no_check {
            checks.push(Check::if_required(
                "equals-sequential",
                Err("--no-check skipped the sequential computation".into()),
                String::new(),
                vec![],
            ));
        } else {
            let t = Instant::now();
            let seq = with_job!(args.job, J => job::sequential::<J>(
                splits.len(),
                combine,
                args.top_k as usize,
                |i| src.read(splits[i]),
            ));
            sequential_s = Some(t.elapsed().as_secs_f64());
            match seq {
                Ok((want, seq_stats)) => {
                    let diffs = outcome.differences(&want, 5);
                    checks.push(Check::from_violations(
                        "equals-sequential",
                        format!(
                            "all {} lines equal the sequential computation's on the same input",
                            want.len()
                        ),
                        diffs,
                    ));
                    let chunks = sum(|s| s.chunks);
                    let mut bad = Vec::new();
                    if chunks != seq_stats.chunks || input_bytes != seq_stats.input_bytes {
                        bad.push(format!(
                            "the ranks mapped {chunks} splits, {input_bytes} bytes; the input has {} splits, {} bytes",
                            seq_stats.chunks, seq_stats.input_bytes
                        ));
                    }
                    checks.push(Check::from_violations(
                        "every-split-mapped-once",
                        format!("{chunks} splits, {input_bytes} bytes, each mapped by one rank"),
                        bad,
                    ));
                }
                Err(e) => checks.push(Check::from_violations(
                    "equals-sequential",
                    String::new(),
                    vec![format!("the sequential computation failed: {e}")],
                )),
            }
        }
    }
    let mut code_out = code::OK;
    if let (Some(o), Some(file)) = (&outcome, out_file) {
        let mut w = std::io::BufWriter::new(file);
        if let Err(e) = o.write(&mut w).and_then(|()| w.flush()) {
            code_out = run::usage_error(&format!(
                "cannot write the result to {}: {e}",
                args.output.as_ref().expect("a path").display()
            ));
        }
    }
    let shuffled = sum(|s| s.shuffled_out);
    let kept = sum(|s| s.shuffled_self);
    let figures = Figures {
        input_bytes,
        splits: splits.len(),
        rounds,
        elapsed_s,
        input_mb_per_s: input_bytes as f64 / 1e6 / elapsed_s.max(1e-9),
        sequential_s,
        speedup: sequential_s.map(|s| s / elapsed_s.max(1e-9)),
        combiner: combine,
        pairs: sum(|s| s.pairs),
        shuffled_bytes: shuffled,
        shuffled_self_bytes: kept,
        shuffle_per_input_byte: (shuffled + kept) as f64 / input_bytes.max(1) as f64,
        grouped_by: args
            .group_size
            .map_or("hosts".into(), |k| format!("{k} ranks")),
        groups: group_of.iter().max().map_or(0, |g| g + 1),
        cross_group_bytes: sum(|s| s.shuffled_cross),
        cross_group_per_input_byte: sum(|s| s.shuffled_cross) as f64 / input_bytes.max(1) as f64,
        two_level: args.two_level,
        local_shuffled_bytes: sum(|s| s.local_out),
        result_lines: outcome.as_ref().map_or(0, Outcome::len),
        invalid_utf8: sum(|s| s.invalid_utf8),
    };
    let mut summary = vec![format!(
        "{:?} over {} ({} splits of {} bytes, {} rounds; input read by {})",
        args.job,
        match src {
            Source::Generated { .. } => format!(
                "a generated Zipf corpus of {} documents, {} bytes (corpus seed {})",
                src.documents(),
                input_bytes,
                args.corpus_seed
            ),
            Source::Files(f) => format!("{} files, {} bytes", f.len(), input_bytes),
        },
        splits.len(),
        args.chunk,
        rounds,
        match args.read {
            Read::All => "every rank",
            Read::Root => "rank 0, scattered",
        }
    )];
    for (r, l) in logs.iter().enumerate() {
        summary.push(format!(
            "rank {r}: {} splits, {:.1} MB mapped, {} pairs, {:.1} MB shuffled out, {} keys reduced",
            l.stats.chunks,
            l.stats.input_bytes as f64 / 1e6,
            l.stats.pairs,
            l.stats.shuffled_out as f64 / 1e6,
            l.stats.keys
        ));
    }
    summary.push(format!(
        "{:.3} s, {:.1} MB/s{}; shuffle {:.3} bytes per input byte ({})",
        elapsed_s,
        figures.input_mb_per_s,
        match (sequential_s, figures.speedup) {
            (Some(s), Some(x)) => format!("; sequential {s:.3} s: speedup {x:.2}"),
            _ => String::new(),
        },
        figures.shuffle_per_input_byte,
        if combine {
            "combiner on"
        } else {
            "combiner off"
        }
    ));
    summary.push(format!(
        "{}: {:.3} bytes per input byte shuffled across groups{}",
        match (args.group_size, figures.groups) {
            (Some(k), g) => format!("{g} groups of {k} consecutive ranks (--group-size)"),
            (None, 1) => "one host".into(),
            (None, g) => format!("{g} hosts"),
        },
        figures.cross_group_per_input_byte,
        if args.two_level {
            format!(
                "; two-level: {:.3} per input byte shuffled within groups first",
                figures.local_shuffled_bytes as f64 / input_bytes.max(1) as f64
            )
        } else {
            String::new()
        }
    ));
    if let Some(o) = &outcome {
        summary.push(format!(
            "result: {} lines{}",
            o.len(),
            args.output
                .as_ref()
                .map_or(String::new(), |p| format!(", written to {}", p.display()))
        ));
    }
    if figures.invalid_utf8 > 0 {
        summary.push(format!(
            "{} invalid UTF-8 sequences were read as U+FFFD (a separator)",
            figures.invalid_utf8
        ));
    }
    if let Some((why, round)) = stopped {
        summary.push(format!("stopped at round {round} of {rounds}: {why:?}"));
    }
    let ranks = logs
        .iter()
        .enumerate()
        .map(|(r, l)| RankResult {
            rank: r,
            crashed: false,
            done: l.stopped.is_none(),
            output: RankOutput {
                chunks: l.stats.chunks,
                input_bytes: l.stats.input_bytes,
                pairs: l.stats.pairs,
                shuffled_out: l.stats.shuffled_out,
                keys: l.stats.keys,
            },
            earlier: Vec::new(),
            metrics: Metrics::default(),
            clock: Default::default(),
            host: l.host.clone(),
            storage: Default::default(),
            hit_as_leader: Vec::new(),
        })
        .collect();
    let ending = match stopped {
        None => Ending::Finished,
        Some((Stop::Interrupted, _)) => {
            // Rank 0 names the signal, though another rank may have had it.
            if interrupt::signal().is_none() {
                interrupt::note(Signal::Term);
            }
            Ending::Interrupted
        }
        Some(_) => Ending::TimedOut,
    };
    let run = RunResult {
        algorithm: "map-reduce",
        driver: "mpi",
        np: logs.len(),
        seed: common.seed,
        faults: common.faults(),
        ending,
        elapsed_s,
        ranks,
        history: None,
        groups: Vec::new(),
    };
    let code = run::finish::<MapReduce, _>(
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
    );
    code.max(code_out)
}
