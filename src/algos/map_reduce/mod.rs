//! Map-reduce: word count, an inverted index and tf-idf over a corpus, two ways.
//!
//! The book's case study (*Distributed Computing From First Principles*, "Case Studies:
//! Map-reduce") sketches it on MPI collectives and leaves the building to the reader. Two modes
//! here, one set of job functions ([`job`]), one check:
//!
//! **Collective mode** (`--mode collectives`, under mpirun; [`collective`]). Every rank maps
//! its own splits of the input (`--read all`, the book's case 2: each rank reads its byte
//! ranges), or rank 0 reads them and hands them out with `MPI_Scatterv` (`--read root`, case
//! 1). The work goes in rounds, one split per rank per round, so that a rank holds one split,
//! never the input: map, combine locally (a combiner: one pair per distinct key of the split;
//! `--no-combiner` sends every occurrence), cut the pairs by key hash into one bucket per rank,
//! and shuffle with `MPI_Alltoall` (the bucket sizes) then `MPI_Alltoallv` (the bytes); each
//! rank reduces what it receives into its share of the keys. At the end the results are
//! gathered at rank 0 with `MPI_Gatherv` (tf-idf first routes every posting to its document's
//! rank with one more all-to-all, and gathers only the top k per document). Before each
//! shuffle the ranks agree (`MPI_Allreduce`, max) on whether to go on: a rank past
//! `--timeout`, signalled, or unable to read its split stops them all, instead of leaving them
//! in a collective. A collective cannot lose a rank: `--crash` and message faults are refused.
//!
//! **Task mode** (`--mode tasks`; [`tasks`]): the MapReduce paper's master and workers, as a
//! state machine that runs under mpirun and in the simulator with every fault. Rank 0 is the
//! master; it hands out map tasks (a split each) and, once every map is done, reduce tasks
//! (one partition of the keys each). A map keeps its output on its worker; a reducer fetches
//! its bucket from every map's worker and sends the reduced partition to the master. A worker
//! that stops answering (`--crash`, a partition) is declared dead after `--suspect` ms: its
//! running tasks, and its *finished* maps whose output now lives nowhere else, are run again
//! elsewhere. Near the end, a task still running gets a backup copy on an idle worker (the
//! straggler of `--slow`); the first copy to finish wins, the other's output is ignored.
//!
//! **Checks.** The result equals the sequential computation of the same job on the same input
//! (the same functions run in one process, [`job::sequential`]), key by key (exactly: scores
//! too, computed in the same order). Collective mode also checks that every split was mapped
//! exactly once (split and byte counts). Task mode checks that every committed partition used
//! each map task's output exactly once, and that every partition was committed once, even
//! when tasks ran twice; and termination where the master and a worker survive and links
//! eventually deliver ("not required" otherwise, with the reason).
//!
//! A word is a maximal run of Unicode alphanumeric characters, lowercased ([`text`]); invalid
//! UTF-8 is read as U+FFFD, a separator. Results (`--output FILE`) are `word<TAB>count`
//! (wordcount), `word<TAB>doc,doc,...` (index), `doc<TAB>word<TAB>score` (tfidf, top
//! `--top-k` per document), sorted, the same under every mode and np.

pub mod collective;
pub mod input;
pub mod job;
pub mod tasks;
pub mod text;

use std::ffi::OsString;
use std::path::PathBuf;

use serde::Serialize;

use self::input::{parse_size, Source};
use self::job::JobKind;
use crate::shared::cli::CommonArgs;
use crate::shared::mpi::World;
use crate::shared::observe::outputs::Outputs;
use crate::shared::run::{self, code, Binary};

/// How the work is distributed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mode {
    /// Rounds of map, combine and MPI_Alltoallv shuffle; MPI_Gatherv to rank 0 (mpirun only).
    Collectives,
    /// A master (rank 0) hands out map and reduce tasks to workers and re-executes the tasks
    /// of workers that die (mpirun or --sim, with every fault).
    Tasks,
}

/// Who reads the input in collective mode.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Read {
    /// Every rank reads (or generates) its own splits (the book's case 2).
    All,
    /// Rank 0 reads every split and scatters them (MPI_Scatterv; the book's case 1).
    Root,
}

/// Options of the `map-reduce` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// collectives (under mpirun) or tasks (master and workers; mpirun or --sim).
    #[arg(long, value_enum, default_value_t = Mode::Collectives)]
    pub mode: Mode,
    /// wordcount, index (word -> documents) or tfidf (top-k words per document).
    #[arg(long, value_enum, default_value_t = JobKind::Wordcount)]
    pub job: JobKind,
    /// Generate a seeded Zipf corpus of SIZE bytes (K, M, G suffixes), documents of about 2 KiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub generate: Option<u64>,
    /// Text files or folders (walked, sorted); each file is a document, its index the id.
    #[arg(long = "input", value_name = "PATH", num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Seed of the generated corpus (apart from --seed, so that a sweep keeps one corpus).
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub corpus_seed: u64,
    /// Split size: what one map reads at once (bounds each rank's memory for the input).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4M")]
    pub chunk: u64,
    /// Collective mode: every rank reads its splits (all) or rank 0 scatters them (root).
    #[arg(long, value_enum, default_value_t = Read::All)]
    pub read: Read,
    /// Collective mode: the two-level reduction. Each round's map output is shuffled and
    /// merged among the ranks of one host first (MPI_Comm_split by host), then between hosts:
    /// a key leaves a host once per round, not once per rank.
    #[arg(long)]
    pub two_level: bool,
    /// Collective mode: count K consecutive ranks as one host (default: the hosts MPI names),
    /// to try --two-level on one machine.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub group_size: Option<u32>,
    /// Send every (key, value) occurrence to the shuffle instead of combining per split.
    #[arg(long)]
    pub no_combiner: bool,
    /// tfidf: words kept per document.
    #[arg(long, default_value_t = 5, value_name = "K", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub top_k: u64,
    /// Write the result to FILE (the format of --job; sorted).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Skip the sequential computation the result is checked against (for benchmarks).
    #[arg(long)]
    pub no_check: bool,
    /// Write the input (the generated corpus) to FILE and exit: what shell baselines read.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Task mode: reduce partitions (default: 2 per worker).
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub reducers: Option<u32>,
    /// Task mode: modeled work per task in ms, on top of the real computation (so that crashes
    /// and stragglers land in the middle of tasks in the simulator).
    #[arg(long, default_value_t = 2, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub task_ms: u64,
    /// Task mode: this worker is a straggler, its tasks taking --slow-factor times as long
    /// (repeatable).
    #[arg(long = "slow", value_name = "RANK")]
    pub slow: Vec<usize>,
    /// Task mode: how much slower a --slow worker is.
    #[arg(long, default_value_t = 20, value_name = "X", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub slow_factor: u64,
    /// Task mode: resend interval of assignments and requests (ms).
    #[arg(long, default_value_t = 20, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub resend: u64,
    /// Task mode: a worker silent this long is declared dead and its tasks run again (ms).
    /// A worker is silent while it computes a task: this must exceed the longest task.
    #[arg(long, default_value_t = 1000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub suspect: u64,
    /// Task mode: a worker that hears nothing from the master this long stops (ms).
    #[arg(long, default_value_t = 3000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub give_up: u64,
    /// Task mode: no backup tasks for stragglers.
    #[arg(long)]
    pub no_backup: bool,
}

impl Args {
    /// The input, opened (paths checked).
    pub fn source(&self) -> Result<Source, String> {
        Source::open(self.generate, &self.inputs, self.corpus_seed)
    }
}

/// The `map-reduce` binary: collective mode is a [`Binary`] of its own (its ranks call MPI
/// collectives, not a [`Process`](crate::shared::Process)); task mode is the
/// [`Algorithm`](crate::shared::Algorithm) [`tasks::TaskMode`], run by the common drivers.
pub struct MapReduce;

const ABOUT: &str = "Map-reduce over MPI: word count, inverted index, tf-idf. Collective mode shuffles with MPI_Alltoallv and gathers with MPI_Gatherv; task mode is a master handing out map and reduce tasks to workers and re-running the tasks of workers that die. The result is checked against the same job computed sequentially. A word is a maximal run of Unicode alphanumeric characters, lowercased (invalid UTF-8 reads as U+FFFD, a separator).";

impl Binary for MapReduce {
    const NAME: &'static str = "map-reduce";
    const ABOUT: &'static str = ABOUT;
    const EXCHANGES_MESSAGES: bool = false;
    type Args = Args;

    fn validate(args: &Args, common: &CommonArgs, np: usize) -> Result<(), String> {
        if args.chunk == 0 {
            return Err("--chunk 0: a split needs at least one byte, e.g. --chunk 4M".into());
        }
        args.source()?;
        let only = |mode: &str, given: &[(&str, bool)]| match given.iter().find(|g| g.1) {
            Some((flag, _)) => Err(format!(
                "{flag} is an option of --mode {mode} (this run is --mode {})",
                match args.mode {
                    Mode::Collectives => "collectives",
                    Mode::Tasks => "tasks",
                }
            )),
            None => Ok(()),
        };
        match args.mode {
            Mode::Tasks => only(
                "collectives",
                &[
                    ("--read root", args.read == Read::Root),
                    ("--two-level", args.two_level),
                    ("--group-size", args.group_size.is_some()),
                ],
            )?,
            Mode::Collectives => only(
                "tasks",
                &[
                    ("--reducers", args.reducers.is_some()),
                    ("--slow", !args.slow.is_empty()),
                    ("--no-backup", args.no_backup),
                ],
            )?,
        }
        match args.mode {
            Mode::Collectives => collective::validate(args, common, np),
            Mode::Tasks => <tasks::TaskMode as Binary>::validate(args, common, np),
        }
    }

    fn instead_of_run(args: &Args, _common: &CommonArgs, quiet: bool) -> Option<u8> {
        let path = args.dump.as_ref()?;
        if quiet {
            return Some(code::OK);
        }
        let src = match args.source() {
            Ok(s) => s,
            Err(e) => return Some(run::usage_error(&e)),
        };
        let written = std::fs::File::create(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                src.dump(args.chunk, &mut w)?;
                std::io::Write::flush(&mut w).map_err(|e| e.to_string())
            });
        Some(match written {
            Ok(()) => code::OK,
            Err(e) => run::usage_error(&e),
        })
    }

    /// Task mode writes `--output` through the run's outputs, opened before the run;
    /// collective mode opens and writes it itself (on rank 0, agreed by every rank).
    fn own_outputs(args: &Args) -> Vec<(&'static str, std::path::PathBuf)> {
        match args.mode {
            Mode::Collectives => Vec::new(),
            Mode::Tasks => <tasks::TaskMode as Binary>::own_outputs(args),
        }
    }

    fn in_process(
        args: &Args,
        common: &CommonArgs,
        np: usize,
        argv: &[OsString],
        outputs: &mut Outputs,
    ) -> u8 {
        // validate() refused collective mode here.
        <tasks::TaskMode as Binary>::in_process(args, common, np, argv, outputs)
    }

    fn under_mpi(world: &World, args: &Args, common: &CommonArgs, outputs: &mut Outputs) -> u8 {
        match args.mode {
            Mode::Collectives => {
                let code = collective::under_mpi(world, args, common, outputs);
                world.agree_on_exit_code(code)
            }
            Mode::Tasks => <tasks::TaskMode as Binary>::under_mpi(world, args, common, outputs),
        }
    }
}
