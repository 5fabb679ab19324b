//! The `main` of every binary: parse the command line, run under MPI or the simulator, check,
//! print, write the report, trace and diagram, and exit with the documented code.
//!
//! Exit codes: 0 every check held; 1 a check failed; 2 bad usage; 3 the run did not finish;
//! 4 a checker could not decide (its budget spent) and nothing else went wrong.

use std::ffi::OsString;
use std::fmt::Debug;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser};
use serde::Serialize;
use serde_json::Value;

use super::algorithm::Algorithm;
use super::cli::CommonArgs;
use super::mpi::{run_mpi, MpiConfig, SetupFailed, World};
use super::observe::report::{Check, Ending, RunResult};
use super::observe::{diagram, trace};
use super::process::Process;
use super::runtime::sim::{simulate, SimConfig};

/// Exit codes.
pub mod code {
    pub const OK: u8 = 0;
    pub const CHECK_FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const DID_NOT_FINISH: u8 = 3;
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
    eprintln!("error: {msg}");
    code::USAGE
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
/// (parse, pick the driver, refuse bad input once, the exit code); a `Binary` fills it in.
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
    /// `--sim --np N`, validated: run (or sweep `--seeds`) in this process; the exit code.
    /// `argv` is the whole command line (a sweep prints how to rerun one seed).
    fn in_process(args: &Self::Args, common: &CommonArgs, np: usize, argv: &[OsString]) -> u8;
    /// This rank's part of an mpirun job, validated; the exit code every rank agreed on
    /// ([`World::agree_on_exit_code`]).
    fn under_mpi(world: &World, args: &Self::Args, common: &CommonArgs) -> u8;
    /// Work that replaces the run ([`Algorithm::instead_of_run`]); its exit code.
    fn instead_of_run(args: &Self::Args, common: &CommonArgs, quiet: bool) -> Option<u8> {
        let _ = (args, common, quiet);
        None
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
        if faults.recovers() && !A::RECOVERS {
            return Err(format!(
                "{} is crash-stop: its ranks keep nothing on stable storage, so --restart and --crash-after-persist are only for algorithms that recover (raft)",
                A::NAME
            ));
        }
        if let (Some(_), Some(flag)) = (&common.seeds, A::one_run_option(args)) {
            return Err(format!(
                "{flag} writes the files of one run: give --seed S instead of --seeds"
            ));
        }
        A::validate(args, np, &faults)
    }

    fn instead_of_run(args: &A::Args, common: &CommonArgs, quiet: bool) -> Option<u8> {
        A::instead_of_run(args, common, quiet)
    }

    fn in_process(args: &A::Args, common: &CommonArgs, np: usize, argv: &[OsString]) -> u8 {
        match &common.seeds {
            Some(seeds) => sweep::<A>(args, common, np, seeds.clone(), argv),
            None => {
                let run = simulate::<A>(args, &sim_config(common, np, common.seed));
                conclude::<A>(args, common, &run)
            }
        }
    }

    fn under_mpi(world: &World, args: &A::Args, common: &CommonArgs) -> u8 {
        // Stable storage of ranks that recover: --data-dir, or a fresh folder per job (rank 0's
        // process id, which every rank learns) removed at the end.
        let (data_dir, temporary) = match &common.data_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!("mpidist-{}-{}", A::NAME, world.root_pid())),
                A::RECOVERS,
            ),
        };
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
            Ok(Some(run)) => conclude::<A>(args, common, &run),
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
    if common.simulated() && quiet {
        // Started by mpirun with --sim: the simulation runs once, on rank 0.
        return code::OK;
    }
    if common.simulated() {
        let Some(np) = common.np.map(usize::from) else {
            return usage_error("--sim needs --np N, the number of simulated ranks");
        };
        if let Err(msg) = B::validate(args, common, np) {
            return usage_error(&msg);
        }
        return B::in_process(args, common, np, &argv);
    }
    if common.np.is_some() {
        return if quiet {
            code::USAGE
        } else {
            usage_error("--np is for --sim; under mpirun the number of ranks is mpirun's -np")
        };
    }
    let Some(world) = World::init() else {
        return usage_error("MPI could not be initialized");
    };
    if let Err(msg) = B::validate(args, common, world.size()) {
        return if world.rank() == 0 && !quiet {
            usage_error(&msg)
        } else {
            code::USAGE
        };
    }
    B::under_mpi(&world, args, common)
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
    run: &RunResult<<A::Proc as Process>::Output>,
) -> u8 {
    let mut checks = A::check(args, run);
    checks.extend(run.group_check());
    let code = finish::<A, _>(
        common,
        Conclusion {
            args,
            run,
            checks,
            summary: A::summarize(args, run),
            figures: A::figures(args, run),
            view: A::output_view,
        },
    );
    A::files(args, run)
        .iter()
        .fold(code, |code, (path, text)| write_or(path, text, code))
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
}

/// Print the summary, the message counts (for binaries that exchange messages), the checks
/// and the verdict; write the report, trace and diagram. Returns the exit code.
pub fn finish<B: Binary, O: Serialize>(common: &CommonArgs, c: Conclusion<'_, B::Args, O>) -> u8 {
    let Conclusion {
        args,
        run,
        checks,
        summary,
        figures,
        view,
    } = c;
    let name = B::NAME;
    let m = run.metrics();
    println!(
        "{}: np={} driver={} seed={} faults: {}",
        name, run.np, run.driver, run.seed, run.faults
    );
    for line in &summary {
        println!("  {line}");
    }
    if B::EXCHANGES_MESSAGES {
        println!(
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
        );
    }
    if m.decode_failures > 0 {
        println!("  {} messages failed to decode", m.decode_failures);
    }
    for c in &checks {
        println!(
            "  check {}: {} ({})",
            c.name,
            match (c.passed, c.undecided) {
                (true, _) => "passed",
                (false, true) => "UNDECIDED",
                (false, false) => "FAILED",
            },
            c.detail
        );
    }
    let mut code = verdict(run.ending, &checks);
    println!("{}", verdict_line(run, code));
    if let Some(path) = &common.report {
        let args_json = serde_json::to_value(args).unwrap_or(Value::Null);
        let mut report = run.report_with(args_json, &checks, &summary, view);
        if let (Some(Value::Object(figures)), Value::Object(r)) = (figures, &mut report) {
            r.extend(figures);
        }
        code = write_or(
            path,
            &serde_json::to_string_pretty(&report).expect("json"),
            code,
        );
    }
    if let Some(h) = &run.history {
        if let Some(path) = &common.trace {
            code = write_or(path, &trace::shiviz(h), code);
        }
        if let Some(path) = &common.diagram {
            let title = format!(
                "{} np={} seed={} faults: {}",
                name, run.np, run.seed, run.faults
            );
            code = write_or(path, &diagram::svg(h, &title), code);
        }
    }
    code
}

fn write_or(path: &Path, text: &str, code: u8) -> u8 {
    match std::fs::write(path, text) {
        Ok(()) => code,
        Err(e) => usage_error(&format!("cannot write {}: {e}", path.display())),
    }
}

/// The exit code of a run: 1 if a check failed, else 3 if it did not finish, else 4 if a check
/// was undecided, else 0.
pub fn verdict(ending: Ending, checks: &[Check]) -> u8 {
    if checks.iter().any(Check::failed) {
        code::CHECK_FAILED
    } else if ending != Ending::Finished {
        code::DID_NOT_FINISH
    } else if checks.iter().any(|c| c.undecided) {
        code::UNDECIDED
    } else {
        code::OK
    }
}

fn verdict_line<O>(run: &RunResult<O>, code: u8) -> String {
    let how = match run.ending {
        Ending::Finished => "finished".to_string(),
        Ending::TimedOut => format!("did NOT finish within the {:.1} s timeout", run.elapsed_s),
        Ending::Stuck => "got STUCK: no message or timer left, but a rank is not done".into(),
    };
    match code {
        code::OK => format!("result: {how}; all checks passed"),
        code::CHECK_FAILED => format!("result: {how}; a check FAILED (exit 1)"),
        code::UNDECIDED => format!(
            "result: {how}; a check is UNDECIDED: its checker gave up before a verdict (exit 4)"
        ),
        _ => format!("result: {how} (exit 3)"),
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
    let started = std::time::Instant::now();
    for seed in seeds.clone() {
        let run = simulate::<A>(args, &sim_config(common, np, seed));
        messages += run.metrics().total.delivered;
        let checks = A::check(args, &run);
        match verdict(run.ending, &checks) {
            code::OK => passed += 1,
            c => {
                match c {
                    code::CHECK_FAILED => failed += 1,
                    code::UNDECIDED => undecided += 1,
                    _ => unfinished += 1,
                }
                println!(
                    "seed {seed}: {}",
                    verdict_line(&run, c).trim_start_matches("result: ")
                );
                for ch in checks.iter().filter(|c| !c.passed) {
                    let how = if ch.undecided { "UNDECIDED" } else { "FAILED" };
                    println!("  check {} {how}: {}", ch.name, ch.detail);
                }
                println!("  reproduce: {}", reproduce(argv, seed));
            }
        }
    }
    println!(
        "{}: swept seeds {}..{} at np={} (faults: {}): {passed} passed, {failed} failed a check, {unfinished} did not finish{}; {messages} messages delivered in {:.2} s",
        A::NAME,
        seeds.start,
        seeds.end,
        np,
        common.faults(),
        if undecided > 0 {
            format!(", {undecided} undecided")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
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
