//! The `main` of every binary: parse the command line, run under MPI or the simulator, check,
//! print, write the report, trace and diagram, and exit with the documented code.
//!
//! Exit codes: 0 every check held; 1 a check failed; 2 bad usage; 3 the run did not finish;
//! 4 a checker could not decide (its budget spent) and nothing else went wrong;
//! 130 and 143 a SIGINT or SIGTERM ended it early (what it had done was still checked,
//! printed and written).
//!
//! Bad input is found before anything runs, and said once (by rank 0 under mpirun, every rank
//! exiting 2): the options, the output files (opened, [`Outputs`]) and `--data-dir`
//! ([`data_dir`]). Results go to standard output through a [`Console`], which a closed pipe
//! silences without ending the run.

mod console;
pub mod data_dir;

use std::ffi::OsString;
use std::fmt::Debug;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser};
use serde::Serialize;
use serde_json::Value;

use super::algorithm::Algorithm;
use super::cli::CommonArgs;
use super::faults::FaultPlan;
use super::interrupt;
use super::mpi::{run_mpi, MpiConfig, SetupFailed, World};
use super::observe::outputs::Outputs;
use super::observe::report::{Check, Ending, RunResult};
use super::observe::{diagram, trace};
use super::process::Process;
use super::runtime::sim::{simulate, SimConfig};
pub use console::Console;

/// Exit codes.
pub mod code {
    pub const OK: u8 = 0;
    pub const CHECK_FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const DID_NOT_FINISH: u8 = 3;
    /// A SIGINT (Ctrl-C) ended the run early: 128 + 2.
    pub const INTERRUPTED: u8 = 130;
    /// A SIGTERM ended the run early: 128 + 15.
    pub const TERMINATED: u8 = 143;
    pub const UNDECIDED: u8 = 4;
}

#[derive(Parser, Debug)]
struct Cli<T: Args> {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    algo: T,
}

/// The rank mpirun gave this process, read before MPI starts (to print usage errors once).
fn launcher_rank() -> Option<u32> {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

/// Print one sentence naming the problem; the usage exit code.
pub fn usage_error(msg: &str) -> u8 {
    console::error(msg);
    code::USAGE
}

/// A usage error of one rank of several: said unless `quiet` (every rank but one finds the
/// same problem, and one says it); the usage exit code either way.
fn refuse(quiet: bool, msg: &str) -> u8 {
    if quiet {
        code::USAGE
    } else {
        usage_error(msg)
    }
}

/// The refusal of `--restart` and `--crash-after-persist` by a binary whose ranks cannot
/// recover (they keep nothing on stable storage).
pub fn refuse_recovery(name: &str, faults: &FaultPlan) -> Result<(), String> {
    if faults.recovers() {
        return Err(format!(
            "{name} is crash-stop: its ranks keep nothing on stable storage, so --restart and --crash-after-persist are only for algorithms that recover (raft, distributed-hashmap --backend raft)"
        ));
    }
    Ok(())
}

/// One sentence for faults aimed at a leader given to an algorithm with no leader.
pub fn refuse_leader_faults(name: &str, faults: &FaultPlan) -> Result<(), String> {
    match faults.at_leader.first() {
        Some(a) => Err(format!(
            "{name} has no leader to aim at ({}): --crash leader@MS and --partition leader|rest@A..B are for raft, sequence-paxos, leader-election and distributed-hashmap --backend raft",
            if a.until_ms.is_some() { "--partition leader|rest" } else { "--crash leader" }
        )),
        None => Ok(()),
    }
}

/// The output files the options name, the binary's own included, opened (created) before
/// the run.
fn open_outputs<B: Binary>(args: &B::Args, common: &CommonArgs) -> Result<Outputs, String> {
    let own = B::own_outputs(args);
    Outputs::open(
        [
            ("report", common.report.as_deref()),
            ("trace", common.trace.as_deref()),
            ("diagram", common.diagram.as_deref()),
        ]
        .into_iter()
        .chain(own.iter().map(|(what, p)| (*what, Some(p.as_path())))),
    )
}

/// Entry point of every binary.
pub fn main<B: Binary>() -> ExitCode {
    init_logging();
    ExitCode::from(run::<B>(std::env::args_os().collect()))
}

/// The command line of a binary: common options, its own, and whether this process is an
/// mpirun rank other than 0 (which prints nothing of usage errors).
pub struct Parsed<T> {
    pub common: CommonArgs,
    pub algo: T,
    pub quiet: bool,
}

/// Parse `argv`; on error or `--help`, print (once under mpirun) and return the exit code.
pub fn parse<T: Args>(
    name: &'static str,
    about: &'static str,
    argv: &[OsString],
) -> Result<Parsed<T>, u8> {
    let quiet = launcher_rank().is_some_and(|r| r != 0);
    let cmd = Cli::<T>::command().name(name).about(about);
    match cmd
        .try_get_matches_from(argv)
        .and_then(|m| Cli::<T>::from_arg_matches(&m))
    {
        Ok(cli) => Ok(Parsed {
            common: cli.common,
            algo: cli.algo,
            quiet,
        }),
        Err(e) => {
            if !quiet {
                let _ = e.print();
            }
            Err(e.exit_code() as u8)
        }
    }
}

/// Set up logging (`RUST_LOG`) for diagnostics; results never go through it.
pub fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
}

/// What [`run`] needs of a binary, whatever drives its ranks: its name and options, and how
/// it runs in one process (`--sim`) and as one rank of an mpirun job. [`run`] owns the skeleton
/// (parse, pick the driver, refuse bad input once, open the output files, the exit code); a
/// `Binary` fills it in.
///
/// There are two kinds. Every [`Algorithm`] is one (the blanket impl below): sans-IO processes
/// run by the simulator or the MPI event loop. `shared-counter`
/// ([`crate::algos::shared_counter`]) is the other: its ranks call RMA primitives directly and
/// exchange no messages, so `--sim` runs them as threads over in-process cells.
pub trait Binary {
    /// The binary's name, as in `src/bin`.
    const NAME: &'static str;
    /// One paragraph for `--help`.
    const ABOUT: &'static str;
    /// Whether the ranks exchange messages: the summary then counts them.
    const EXCHANGES_MESSAGES: bool = true;
    /// The binary's own options.
    type Args: clap::Args + Clone + Debug + Serialize;

    /// Reject options that cannot work with `np` ranks, with one sentence.
    fn validate(args: &Self::Args, common: &CommonArgs, np: usize) -> Result<(), String>;
    /// `--sim --np N`, validated: run (or sweep `--seeds`) in this process, writing `outputs`;
    /// the exit code. `argv` is the whole command line (a sweep prints how to rerun one seed).
    fn in_process(
        args: &Self::Args,
        common: &CommonArgs,
        np: usize,
        argv: &[OsString],
        outputs: &mut Outputs,
    ) -> u8;
    /// This rank's part of an mpirun job, validated; the exit code every rank agreed on
    /// ([`World::agree_on_exit_code`]). Rank 0 writes `outputs` (the others have none).
    fn under_mpi(
        world: &World,
        args: &Self::Args,
        common: &CommonArgs,
        outputs: &mut Outputs,
    ) -> u8;
    /// Work that replaces the run ([`Algorithm::instead_of_run`]); its exit code.
    fn instead_of_run(args: &Self::Args, common: &CommonArgs, quiet: bool) -> Option<u8> {
        let _ = (args, common, quiet);
        None
    }
    /// The binary's own output files ([`Algorithm::own_outputs`]).
    fn own_outputs(args: &Self::Args) -> Vec<(&'static str, PathBuf)> {
        let _ = args;
        Vec::new()
    }
}

impl<A: Algorithm> Binary for A {
    const NAME: &'static str = A::NAME;
    const ABOUT: &'static str = A::ABOUT;
    type Args = A::Args;

    fn validate(args: &A::Args, common: &CommonArgs, np: usize) -> Result<(), String> {
        if np == 0 {
            return Err("--np must be at least 1".into());
        }
        let faults = common.faults();
        faults.validate(np)?;
        if !A::RECOVERS {
            refuse_recovery(A::NAME, &faults)?;
        }
        if !A::LEADS {
            refuse_leader_faults(A::NAME, &faults)?;
        }
        if let (Some(_), Some((what, _))) = (&common.seeds, A::own_outputs(args).first()) {
            return Err(format!(
                "--{what} writes the files of one run: give --seed S instead of --seeds"
            ));
        }
        A::validate(args, np, &faults)
    }

    fn instead_of_run(args: &A::Args, common: &CommonArgs, quiet: bool) -> Option<u8> {
        A::instead_of_run(args, common, quiet)
    }

    fn own_outputs(args: &A::Args) -> Vec<(&'static str, PathBuf)> {
        A::own_outputs(args)
    }

    fn in_process(
        args: &A::Args,
        common: &CommonArgs,
        np: usize,
        argv: &[OsString],
        outputs: &mut Outputs,
    ) -> u8 {
        match &common.seeds {
            Some(seeds) => sweep::<A>(args, common, np, seeds.clone(), argv),
            None => {
                let run = simulate::<A>(args, &sim_config(common, np, common.seed));
                conclude::<A>(args, common, outputs, &run)
            }
        }
    }

    fn under_mpi(world: &World, args: &A::Args, common: &CommonArgs, outputs: &mut Outputs) -> u8 {
        // Stable storage of ranks that recover: --data-dir, or a fresh folder per job (rank 0's
        // process id, which every rank learns) removed at the end.
        let (data_dir, temporary) = match &common.data_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!("mpidist-{}-{}", A::NAME, world.root_pid())),
                A::RECOVERS,
            ),
        };
        if A::RECOVERS && common.data_dir.is_some() {
            let code = settle_data_dir(world, &data_dir);
            if code != code::OK {
                return code;
            }
        }
        let cfg = MpiConfig {
            seed: common.seed,
            faults: common.faults(),
            timeout: Duration::from_secs_f64(common.timeout),
            record: common.wants_history(),
            data_dir: data_dir.clone(),
            fsync: !common.no_fsync,
            recv_buffer: common.recv_buffer_kib as usize * 1024,
        };
        let code = match run_mpi::<A>(world, args, &cfg) {
            Ok(Some(run)) => conclude::<A>(args, common, outputs, &run),
            Ok(None) => 0,
            Err(SetupFailed) => code::USAGE,
        };
        // Agreed before the folder goes: then no rank still uses it.
        let code = world.agree_on_exit_code(code);
        if temporary {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        code
    }
}

/// Look into `--data-dir` on every rank (on a cluster each host has its own) before anyone
/// writes there; rank 0 says, once, why the run is refused, or that an earlier run's storage
/// is replaced (and removes it, before any rank creates its file). The agreed exit code.
fn settle_data_dir(world: &World, dir: &std::path::Path) -> u8 {
    let mine = match data_dir::inspect(dir) {
        Err(e) => format!("E{e}"),
        Ok(data_dir::Found::Earlier(n)) => format!("N{n}"),
        Ok(data_dir::Found::Nothing) => String::new(),
    };
    world.settle(&mine, |all| {
        if let Some(e) = all.iter().find_map(|s| s.strip_prefix('E')) {
            return usage_error(e);
        }
        let files: usize = all
            .iter()
            .filter_map(|s| s.strip_prefix('N')?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        if files == 0 {
            return code::OK;
        }
        console::note(&format!(
            "--data-dir {} holds the storage of an earlier run ({files} files): this run starts afresh and replaces it",
            dir.display()
        ));
        match data_dir::remove_earlier(dir) {
            Ok(()) => code::OK,
            Err(e) => usage_error(&e),
        }
    })
}

/// The skeleton every binary's `main` runs: parse `argv`, then run `B` in this process
/// (`--sim`) or as a rank of an mpirun job; returns the exit code.
pub fn run<B: Binary>(argv: Vec<OsString>) -> u8 {
    let cli = match parse::<B::Args>(B::NAME, B::ABOUT, &argv) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let (args, common, quiet) = (&cli.algo, &cli.common, cli.quiet);
    if let Some(code) = B::instead_of_run(args, common, quiet) {
        return code;
    }
    if common.simulated() {
        // Under mpirun every rank checks the input and all exit alike; rank 0 alone speaks,
        // and runs the simulation.
        let Some(np) = common.np.map(usize::from) else {
            let msg = if common.sim {
                "--sim needs --np N, the number of simulated ranks"
            } else {
                "--seeds sweeps the simulator and needs --np N, the number of simulated ranks (under mpirun too)"
            };
            return refuse(quiet, msg);
        };
        if let Err(msg) = B::validate(args, common, np) {
            return refuse(quiet, &msg);
        }
        if quiet {
            return code::OK;
        }
        let mut outputs = match open_outputs::<B>(args, common) {
            Ok(o) => o,
            Err(msg) => return usage_error(&msg),
        };
        interrupt::install();
        return B::in_process(args, common, np, &argv, &mut outputs);
    }
    if common.np.is_some() {
        return refuse(
            quiet,
            "--np is for --sim; under mpirun the number of ranks is mpirun's -np",
        );
    }
    let Some(world) = World::init() else {
        return refuse(quiet, "MPI could not be initialized");
    };
    // After MPI_Init, so that nothing MPI installs replaces the handlers.
    interrupt::install();
    let root = world.rank() == 0;
    if let Err(msg) = B::validate(args, common, world.size()) {
        return refuse(quiet || !root, &msg);
    }
    // Rank 0 writes the outputs: it opens them now, and a path it cannot write stops every
    // rank before the run.
    let mut outputs = Outputs::none();
    let mut opened = code::OK;
    if root {
        match open_outputs::<B>(args, common) {
            Ok(o) => outputs = o,
            Err(msg) => opened = usage_error(&msg),
        }
    }
    if world.agree_on_exit_code(opened) != code::OK {
        return code::USAGE;
    }
    B::under_mpi(&world, args, common, &mut outputs)
}

fn sim_config(common: &CommonArgs, np: usize, seed: u64) -> SimConfig {
    SimConfig {
        np,
        seed,
        faults: common.faults(),
        timeout_us: (common.timeout * 1e6) as u64,
        record: common.wants_history(),
    }
}

/// Rank 0 (or the simulator): check, print, write outputs; returns the exit code.
fn conclude<A: Algorithm>(
    args: &A::Args,
    common: &CommonArgs,
    outputs: &mut Outputs,
    run: &RunResult<<A::Proc as Process>::Output>,
) -> u8 {
    let mut checks = A::check(args, run);
    checks.extend(run.group_check());
    checks.extend(run.storage_check());
    let code = finish::<A, _>(
        common,
        outputs,
        Conclusion {
            args,
            run,
            checks,
            summary: A::summarize(args, run),
            figures: A::figures(args, run),
            view: A::output_view,
            kinds: A::KINDS,
            roles: A::roles(args, run.np),
        },
    );
    // The algorithm's own files (`--history`), opened with the others before the run.
    A::files(args, run)
        .iter()
        .fold(code, |code, (what, text)| match outputs.write(what, text) {
            Ok(()) => code,
            Err(e) => usage_error(&e),
        })
}

/// What rank 0 (or the simulator) concluded of a run, for [`finish`] to print and write.
pub struct Conclusion<'a, Args, O> {
    /// The binary's options, as the report shows them.
    pub args: &'a Args,
    pub run: &'a RunResult<O>,
    pub checks: Vec<Check>,
    /// What the run computed, one line each.
    pub summary: Vec<String>,
    /// Figures merged at the report's top level.
    pub figures: Option<Value>,
    /// A rank's output as the report shows it.
    pub view: fn(&O) -> Value,
    /// The message kinds in colour order, and each rank's role, for the diagram.
    pub kinds: &'static [&'static str],
    pub roles: Vec<String>,
}

/// Print the summary, the message counts (for binaries that exchange messages), the checks
/// and the verdict; write the report, trace and diagram to the `outputs` opened before the
/// run. Returns the exit code.
pub fn finish<B: Binary, O: Serialize>(
    common: &CommonArgs,
    outputs: &mut Outputs,
    c: Conclusion<'_, B::Args, O>,
) -> u8 {
    let Conclusion {
        args,
        run,
        checks,
        summary,
        figures,
        view,
        kinds,
        roles,
    } = c;
    let name = B::NAME;
    let m = run.metrics();
    let mut out = Console::new();
    out.line(format_args!(
        "{}: np={} driver={} seed={} faults: {}",
        name, run.np, run.driver, run.seed, run.faults
    ));
    let late = run.faults.not_applied(run.end_ms());
    if !late.is_empty() {
        out.line(format_args!(
            "  faults not applied (the run ended at {} ms, before them): {}",
            run.end_ms(),
            late.join(", ")
        ));
    }
    let missed = run.faults.missed_leader(run.end_ms());
    if !missed.is_empty() {
        out.line(format_args!(
            "  faults aimed at the leader that hit no rank: {}",
            missed.join(", ")
        ));
    }
    for line in &summary {
        out.line(format_args!("  {line}"));
    }
    if B::EXCHANGES_MESSAGES {
        out.line(format_args!(
            "  messages: {} sent, {} delivered, {} dropped, {} duplicated, {} lost to crashes; {} bytes; {} communication steps; {:.3} s{}",
            m.total.sent,
            m.total.delivered,
            m.total.dropped,
            m.total.duplicated,
            m.total.lost_to_crash,
            m.total.bytes_sent,
            m.communication_steps,
            run.elapsed_s,
            if run.driver == "sim" { " (virtual)" } else { "" }
        ));
    }
    if m.decode_failures > 0 {
        out.line(format_args!(
            "  {} messages failed to decode",
            m.decode_failures
        ));
    }
    for c in &checks {
        out.line(format_args!(
            "  check {}: {} ({})",
            c.name,
            match (c.passed, c.undecided) {
                (true, _) => "passed",
                (false, true) => "UNDECIDED",
                (false, false) => "FAILED",
            },
            c.detail
        ));
    }
    let mut code = verdict(run.ending, &checks);
    out.line(verdict_line(run, code, common.timeout));
    let mut files: Vec<(&str, String)> = Vec::new();
    if outputs.wants("report") {
        let args_json = serde_json::to_value(args).unwrap_or(Value::Null);
        let mut report = run.report_with(args_json, &checks, &summary, view);
        if let Value::Object(r) = &mut report {
            if let Some(Value::Object(figures)) = figures {
                r.extend(figures);
            }
            if run.ending == Ending::Interrupted {
                let by = interrupt::signal().map_or("a signal", |s| s.name());
                r.insert("interrupted_by".into(), Value::from(by));
            }
        }
        let text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| {
            format!("{{\"error\": \"the report could not be written as JSON: {e}\"}}")
        });
        files.push(("report", text));
    }
    if let Some(h) = &run.history {
        if outputs.wants("trace") {
            files.push(("trace", trace::shiviz(h)));
        }
        if outputs.wants("diagram") {
            let title = format!(
                "{} np={} seed={} faults: {}",
                name, run.np, run.seed, run.faults
            );
            let look = diagram::Look {
                kinds,
                roles: &roles,
            };
            files.push(("diagram", diagram::svg(h, &title, &look)));
        }
    }
    for (what, text) in files {
        if let Err(e) = outputs.write(what, &text) {
            code = usage_error(&e);
        }
    }
    code
}

/// The exit code of a run: 130 or 143 if a signal ended it, else 1 if a check failed, else 3
/// if it did not finish, else 4 if a check was undecided, else 0.
pub fn verdict(ending: Ending, checks: &[Check]) -> u8 {
    if ending == Ending::Interrupted {
        interrupt::signal().map_or(code::INTERRUPTED, |s| s.exit_code())
    } else if checks.iter().any(Check::failed) {
        code::CHECK_FAILED
    } else if ending != Ending::Finished {
        code::DID_NOT_FINISH
    } else if checks.iter().any(|c| c.undecided) {
        code::UNDECIDED
    } else {
        code::OK
    }
}

/// Seconds as the user wrote them: 10 s, 0.5 s.
fn secs(s: f64) -> String {
    format!("{s} s")
}

/// The last line of a run: how it ended and the exit code. `timeout_s` is `--timeout`.
fn verdict_line<O>(run: &RunResult<O>, code: u8, timeout_s: f64) -> String {
    let elapsed = format!(
        "{:.1} s{}",
        run.elapsed_s,
        if run.driver == "sim" {
            " of virtual time"
        } else {
            ""
        }
    );
    let how = match run.ending {
        Ending::Finished => "finished".to_string(),
        Ending::TimedOut => format!(
            "did NOT finish within the --timeout of {} (it ended after {elapsed})",
            secs(timeout_s)
        ),
        Ending::Stuck => "got STUCK: no message or timer left, but a rank is not done".into(),
        Ending::Interrupted => {
            let by = interrupt::signal().map_or("a signal", |s| s.name());
            return format!(
                "result: INTERRUPTED by {by} after {elapsed}; the checks above judged the run as far as it went (exit {code})"
            );
        }
    };
    match code {
        code::OK => format!("result: {how}; all checks passed"),
        code::CHECK_FAILED => format!("result: {how}; a check FAILED (exit 1)"),
        code::UNDECIDED => format!(
            "result: {how}; a check is UNDECIDED: its checker gave up before a verdict (exit 4)"
        ),
        _ => format!("result: {how} (exit {code})"),
    }
}

/// `s` as one shell word (`|` in a partition must not become a pipe).
fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:@,=+-".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command line that reruns one seed of a sweep.
fn reproduce(argv: &[OsString], seed: u64) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut skip = false;
    let mut has_sim = false;
    for a in argv {
        let a = a.to_string_lossy().to_string();
        if skip {
            skip = false;
            continue;
        }
        if a == "--seeds" {
            skip = true;
            continue;
        }
        if a.starts_with("--seeds=") {
            continue;
        }
        has_sim |= a == "--sim";
        out.push(shell_quote(&a));
    }
    if !has_sim {
        out.push("--sim".into());
    }
    out.push(format!("--seed {seed}"));
    out.join(" ")
}

fn sweep<A: Algorithm>(
    args: &A::Args,
    common: &CommonArgs,
    np: usize,
    seeds: std::ops::Range<u64>,
    argv: &[OsString],
) -> u8 {
    let (mut passed, mut failed, mut unfinished, mut undecided) = (0u64, 0u64, 0u64, 0u64);
    let mut messages = 0u64;
    let mut interrupted_at = None;
    let started = std::time::Instant::now();
    let mut out = Console::new();
    for seed in seeds.clone() {
        let run = simulate::<A>(args, &sim_config(common, np, seed));
        if run.ending == Ending::Interrupted {
            // This seed did not run to its end: it counts neither way.
            interrupted_at = Some(seed);
            break;
        }
        messages += run.metrics().total.delivered;
        let mut checks = A::check(args, &run);
        checks.extend(run.storage_check());
        match verdict(run.ending, &checks) {
            code::OK => passed += 1,
            c => {
                match c {
                    code::CHECK_FAILED => failed += 1,
                    code::UNDECIDED => undecided += 1,
                    _ => unfinished += 1,
                }
                out.line(format_args!(
                    "seed {seed}: {}",
                    verdict_line(&run, c, common.timeout).trim_start_matches("result: ")
                ));
                for ch in checks.iter().filter(|c| !c.passed) {
                    let how = if ch.undecided { "UNDECIDED" } else { "FAILED" };
                    out.line(format_args!("  check {} {how}: {}", ch.name, ch.detail));
                }
                out.line(format_args!("  reproduce: {}", reproduce(argv, seed)));
            }
        }
    }
    let swept = match interrupted_at {
        Some(seed) => format!(
            "INTERRUPTED by {} at seed {seed} of {}..{}",
            interrupt::signal().map_or("a signal", |s| s.name()),
            seeds.start,
            seeds.end
        ),
        None => format!("swept seeds {}..{}", seeds.start, seeds.end),
    };
    out.line(format_args!(
        "{}: {swept} at np={} (faults: {}): {passed} passed, {failed} failed a check, {unfinished} did not finish{}; {messages} messages delivered in {:.2} s",
        A::NAME,
        np,
        common.faults(),
        if undecided > 0 {
            format!(", {undecided} undecided")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    ));
    if interrupted_at.is_some() {
        verdict(Ending::Interrupted, &[])
    } else if failed > 0 {
        code::CHECK_FAILED
    } else if unfinished > 0 {
        code::DID_NOT_FINISH
    } else if undecided > 0 {
        code::UNDECIDED
    } else {
        code::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_outranks_a_timeout_which_outranks_an_undecided_check() {
        let ok = Check::from_violations("a", "fine".into(), vec![]);
        let bad = Check::from_violations("b", String::new(), vec!["broken".into()]);
        let open = Check::undecided("c", "gave up".into());
        let f = Ending::Finished;
        assert_eq!(verdict(f, std::slice::from_ref(&ok)), code::OK);
        assert_eq!(verdict(f, &[ok.clone(), open.clone()]), code::UNDECIDED);
        assert_eq!(
            verdict(Ending::TimedOut, std::slice::from_ref(&open)),
            code::DID_NOT_FINISH
        );
        assert_eq!(verdict(Ending::TimedOut, &[open, bad]), code::CHECK_FAILED);
    }

    #[test]
    fn reproduce_replaces_the_sweep() {
        let argv: Vec<OsString> = ["lamport", "--np", "4", "--seeds", "0..100", "--drop", "0.1"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            reproduce(&argv, 17),
            "lamport --np 4 --drop 0.1 --sim --seed 17"
        );
        let argv: Vec<OsString> = ["vector", "--seeds=0..9", "--partition", "0|1@0..5"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            reproduce(&argv, 3),
            "vector --partition '0|1@0..5' --sim --seed 3"
        );
    }
}
