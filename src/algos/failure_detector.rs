//! A heartbeat failure detector: eventually perfect (◇P) with adaptive timeouts, or fixed.
//!
//! Every rank sends a heartbeat to every peer each `--period` ms and keeps one timer per peer.
//! When a peer's timer expires the peer is suspected; when a heartbeat arrives from a suspected
//! peer it is restored and, in `--mode adaptive`, that peer's timeout grows by `--delta` ms, so
//! that after finitely many mistakes the timeouts exceed the real delays and the detector
//! stops making false suspicions (the accuracy-oriented detector of the blog). `--mode fixed`
//! keeps the timeout constant (completeness-oriented) for comparison. Every rank stops at
//! `--duration` ms.
//!
//! The checker, at the end of the run, over the correct (never crashed) ranks:
//! - strong completeness: every crashed rank is suspected by every correct rank at the end,
//!   and never restored after its last suspicion began (required when the crash leaves time
//!   for the final timeout to expire before the end);
//! - eventual strong accuracy: no correct rank is suspected by a correct rank at the end
//!   (required in adaptive mode, and in fixed mode on links without loss or extra delay,
//!   unless a partition is still up in the last quarter of the run).
//!
//! The report adds, per crash, the detection latency (crash to the moment the last correct
//! rank suspects it), and false suspicions (in total, per peer, and by quarter of the run).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::shared::faults::FaultPlan;
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// Timeout policy.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// The timeout of a peer grows by --delta each time it was wrongly suspected.
    Adaptive,
    /// The timeout never changes.
    Fixed,
}

/// The detector's knobs (shared with leader election).
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct FdArgs {
    /// adaptive (eventually perfect) or fixed timeouts.
    #[arg(long, value_enum, default_value_t = Mode::Adaptive)]
    pub mode: Mode,
    /// Heartbeat period.
    #[arg(long, default_value_t = 10, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub period: u64,
    /// Initial timeout per peer.
    #[arg(long = "timeout-initial", default_value_t = 30, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout_initial: u64,
    /// Growth of a peer's timeout after a false suspicion (adaptive mode).
    #[arg(long, default_value_t = 20, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub delta: u64,
    /// How long every rank runs.
    #[arg(long, default_value_t = 2000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub duration: u64,
}

impl FdArgs {
    /// Reject settings that cannot work, with one sentence.
    pub fn validate(&self, np: usize, faults: &FaultPlan) -> Result<(), String> {
        if self.timeout_initial <= self.period {
            return Err(format!(
                "--timeout-initial {} must exceed --period {}: every peer would be suspected between two heartbeats",
                self.timeout_initial, self.period
            ));
        }
        let crashed: std::collections::BTreeSet<Rank> =
            faults.crashes.iter().map(|c| c.rank).collect();
        if crashed.len() == np {
            return Err(format!(
                "every one of the {np} ranks is crashed: no correct rank would be left to detect anything"
            ));
        }
        Ok(())
    }
}

/// The heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat;

/// Detector timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FdTimer {
    /// Time to send heartbeats.
    Beat,
    /// A peer's timeout.
    Peer(Rank),
}

/// One suspicion of a peer: when it began and, if it did, when it ended (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Suspicion {
    pub peer: Rank,
    pub from_ms: f64,
    pub until_ms: Option<f64>,
}

/// The detector state machine, embeddable in other algorithms: messages and timers convert
/// into the owner's through `From`.
#[derive(Debug, Clone)]
pub struct Detector {
    me: Rank,
    mode: Mode,
    period: Duration,
    delta: Duration,
    timeouts: Vec<Duration>,
    suspected: Vec<bool>,
    /// Peers that said they stopped (their run ended): no longer watched.
    left: Vec<bool>,
    log: Vec<Suspicion>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Detector {
    pub fn new(args: &FdArgs, me: Rank, np: usize) -> Self {
        Detector {
            me,
            mode: args.mode,
            period: Duration::from_millis(args.period),
            delta: Duration::from_millis(args.delta),
            timeouts: vec![Duration::from_millis(args.timeout_initial); np],
            suspected: vec![false; np],
            left: vec![false; np],
            log: Vec::new(),
        }
    }

    fn peers(&self) -> impl Iterator<Item = Rank> + '_ {
        let me = self.me;
        (0..self.suspected.len()).filter(move |&p| p != me)
    }

    /// Send the first heartbeats and arm every peer's timer.
    pub fn start<M: Clone + From<Heartbeat>, T: From<FdTimer>>(&mut self, ctx: &mut Ctx<M, T>) {
        self.beat(ctx);
        for p in self.peers().collect::<Vec<_>>() {
            ctx.set_timer(FdTimer::Peer(p), self.timeouts[p]);
        }
    }

    /// Heartbeats to every peer, and the next beat.
    pub fn beat<M: Clone + From<Heartbeat>, T: From<FdTimer>>(&mut self, ctx: &mut Ctx<M, T>) {
        ctx.broadcast(&Heartbeat);
        ctx.set_timer(FdTimer::Beat, self.period);
    }

    /// A heartbeat from `from`: re-arm its timer; restore it if suspected. Returns whether
    /// the suspected set changed.
    pub fn on_heartbeat<M: Clone, T: From<FdTimer>>(
        &mut self,
        from: Rank,
        ctx: &mut Ctx<M, T>,
    ) -> bool {
        if self.left[from] {
            // A heartbeat that overtook its sender's goodbye: nothing to watch any more.
            return false;
        }
        let restored = self.suspected[from];
        if restored {
            self.suspected[from] = false;
            if let Some(s) = self.log.iter_mut().rev().find(|s| s.peer == from) {
                s.until_ms = Some(ms(ctx.now()));
            }
            if self.mode == Mode::Adaptive {
                self.timeouts[from] += self.delta;
            }
            ctx.note(format!(
                "restore rank{from}; timeout now {} ms",
                self.timeouts[from].as_millis()
            ));
        }
        ctx.set_timer(FdTimer::Peer(from), self.timeouts[from]);
        restored
    }

    /// A peer said its run is over (it stops sending heartbeats): stop watching it, so that
    /// ranks whose runs end later (their clocks started later) do not suspect it; a
    /// suspicion of it ends, since the goodbye proves it was alive.
    pub fn on_leave<M: Clone, T: From<FdTimer>>(&mut self, from: Rank, ctx: &mut Ctx<M, T>) {
        self.on_heartbeat(from, ctx);
        self.left[from] = true;
        ctx.cancel_timer(FdTimer::Peer(from));
    }

    /// A peer's timer expired: suspect it. Returns whether the suspected set changed.
    pub fn on_timeout<M: Clone, T>(&mut self, peer: Rank, ctx: &mut Ctx<M, T>) -> bool {
        if self.suspected[peer] {
            return false;
        }
        self.suspected[peer] = true;
        self.log.push(Suspicion {
            peer,
            from_ms: ms(ctx.now()),
            until_ms: None,
        });
        ctx.note(format!("suspect rank{peer}"));
        true
    }

    pub fn is_suspected(&self, r: Rank) -> bool {
        self.suspected[r]
    }

    pub fn report(&self) -> FdOutput {
        FdOutput {
            suspected: self.peers().filter(|&p| self.suspected[p]).collect(),
            suspicions: self.log.clone(),
            timeouts_ms: self.timeouts.iter().map(|t| t.as_millis() as u64).collect(),
        }
    }
}

/// What a rank's detector reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FdOutput {
    /// Suspected at the end.
    pub suspected: Vec<Rank>,
    pub suspicions: Vec<Suspicion>,
    /// Final timeout per peer.
    pub timeouts_ms: Vec<u64>,
}

/// Messages of the `failure-detector` binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    Heartbeat,
    /// The sender's run is over: it stops sending heartbeats.
    Leave,
}

impl From<Heartbeat> for Msg {
    fn from(_: Heartbeat) -> Self {
        Msg::Heartbeat
    }
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Heartbeat => "Heartbeat",
            Msg::Leave => "Leave",
        }
    }
}

/// Timers of the `failure-detector` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Fd(FdTimer),
    End,
}

impl From<FdTimer> for Timer {
    fn from(t: FdTimer) -> Self {
        Timer::Fd(t)
    }
}

/// One rank of the `failure-detector` binary.
pub struct FailureDetectorProcess {
    fd: Detector,
    duration: Duration,
    done: bool,
}

impl Process for FailureDetectorProcess {
    type Msg = Msg;
    type Timer = Timer;
    type Output = FdOutput;

    fn on_start(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        self.fd.start(ctx);
        ctx.set_timer(Timer::End, self.duration);
    }
    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut Ctx<Msg, Timer>) {
        match msg {
            Msg::Heartbeat => {
                self.fd.on_heartbeat(from, ctx);
            }
            Msg::Leave => self.fd.on_leave(from, ctx),
        }
    }
    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Msg, Timer>) {
        match timer {
            Timer::Fd(FdTimer::Beat) => self.fd.beat(ctx),
            Timer::Fd(FdTimer::Peer(p)) => {
                self.fd.on_timeout(p, ctx);
            }
            Timer::End => {
                self.done = true;
                // Tell the others, whose runs may end later: a silence now is not a crash.
                ctx.broadcast(&Msg::Leave);
            }
        }
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn output(&self) -> FdOutput {
        self.fd.report()
    }
}

/// Whether a crash at `crash_ms` leaves `timeout_ms` (plus a period) to be detected by `end_ms`.
fn detectable(crash_ms: u64, timeout_ms: u64, period_ms: u64, end_ms: u64) -> bool {
    crash_ms + timeout_ms + period_ms < end_ms
}

/// Whether the fault plan lets eventual accuracy hold at the end: partitions healed, and
/// either adaptive timeouts on links that at least stop losing messages (bounded delays are
/// learned), or fixed ones on links that are reliable and fast enough by then.
pub fn accuracy_required(args: &FdArgs, faults: &FaultPlan) -> bool {
    let settle = args.duration * 3 / 4;
    let healed = faults.partitions.iter().all(|p| p.to_ms <= settle);
    let no_loss = faults.drop == 0.0 || faults.heal_ms.is_some_and(|h| h <= settle);
    let fast = !faults.lossy_at(settle)
        || faults
            .delay_ms
            .is_none_or(|(_, hi)| hi + args.period < args.timeout_initial);
    healed && no_loss && (args.mode == Mode::Adaptive || fast)
}

/// The detector checks over every rank's output (public: leader election reuses them).
pub fn check_detector(args: &FdArgs, run: &RunResult<FdOutput>) -> Vec<Check> {
    let end = args.duration;
    let mut incomplete = Vec::new();
    let mut required_crashes = 0;
    for c in &run.faults.crashes {
        if c.at_ms >= end {
            continue;
        }
        for r in run.correct_ranks() {
            if !detectable(c.at_ms, r.output.timeouts_ms[c.rank], args.period, end) {
                continue;
            }
            required_crashes += 1;
            let last = r.output.suspicions.iter().rev().find(|s| s.peer == c.rank);
            match last {
                Some(s) if s.until_ms.is_none() => {}
                Some(s) => incomplete.push(format!(
                    "rank {} restored crashed rank {} at {:.1} ms",
                    r.rank,
                    c.rank,
                    s.until_ms.unwrap_or_default()
                )),
                None => incomplete.push(format!(
                    "rank {} never suspected rank {}, crashed at {} ms",
                    r.rank, c.rank, c.at_ms
                )),
            }
        }
    }
    let completeness = Check::from_violations(
        "strong-completeness",
        if run.faults.crashes.is_empty() {
            "no crash to detect".into()
        } else {
            format!("{required_crashes} (crash, correct rank) pairs: each crashed rank suspected for good")
        },
        incomplete,
    );
    let correct: Vec<Rank> = run.correct_ranks().map(|r| r.rank).collect();
    let mut inaccurate = Vec::new();
    for r in run.correct_ranks() {
        for p in &r.output.suspected {
            if correct.contains(p) {
                inaccurate.push(format!(
                    "rank {} suspects correct rank {p} at the end",
                    r.rank
                ));
            }
        }
    }
    let required = accuracy_required(args, &run.faults);
    let accuracy = if required {
        Check::from_violations(
            "eventual-strong-accuracy",
            "no correct rank suspected by a correct rank at the end".into(),
            inaccurate,
        )
    } else {
        Check {
            name: "eventual-strong-accuracy".into(),
            passed: true,
            undecided: false,
            detail: format!(
                "not required (links still losing messages, fixed timeouts on slow links, or a partition up near the end); {} false suspicions remain at the end",
                inaccurate.len()
            ),
        }
    };
    vec![completeness, accuracy]
}

/// Detection latency of each crash (ms): crash to the moment the last correct rank suspected
/// it for good; `None` if some correct rank never did.
pub fn detection_latencies(run: &RunResult<FdOutput>) -> Vec<(Rank, Option<f64>)> {
    run.faults
        .crashes
        .iter()
        .map(|c| {
            let mut worst: Option<f64> = Some(0.0);
            for r in run.correct_ranks() {
                let t = r
                    .output
                    .suspicions
                    .iter()
                    .rev()
                    .find(|s| s.peer == c.rank && s.until_ms.is_none())
                    .map(|s| s.from_ms - c.at_ms as f64);
                worst = match (worst, t) {
                    (Some(w), Some(t)) => Some(w.max(t)),
                    _ => None,
                };
            }
            (c.rank, worst)
        })
        .collect()
}

/// False suspicions (of a rank that had not crashed then) by correct ranks, by quarter of the
/// run, and per suspected peer.
pub fn false_suspicions(run: &RunResult<FdOutput>, duration_ms: u64) -> ([u64; 4], Vec<u64>) {
    let mut quarters = [0u64; 4];
    let mut per_peer = vec![0u64; run.np];
    for r in run.correct_ranks() {
        for s in &r.output.suspicions {
            let crashed_by_then = run
                .faults
                .crash_time_ms(s.peer)
                .is_some_and(|c| (c as f64) <= s.from_ms);
            if !crashed_by_then {
                let q = ((s.from_ms / duration_ms as f64) * 4.0)
                    .floor()
                    .clamp(0.0, 3.0) as usize;
                quarters[q] += 1;
                per_peer[s.peer] += 1;
            }
        }
    }
    (quarters, per_peer)
}

/// The figures of a run, for the report (merged at its top level) and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub detection: Vec<Detection>,
    pub false_suspicions: FalseSuspicions,
    pub heartbeats_sent: u64,
}

/// How long after its crash every correct rank suspected `rank` for good.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    pub rank: Rank,
    /// `None` if some correct rank never did.
    pub latency_ms: Option<f64>,
}

/// Suspicions of ranks that had not crashed, by correct ranks.
#[derive(Debug, Clone, Serialize)]
pub struct FalseSuspicions {
    pub total: u64,
    pub per_suspected_rank: Vec<u64>,
    pub by_quarter: [u64; 4],
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<FdOutput>) -> Figures {
    let (by_quarter, per_suspected_rank) = false_suspicions(run, args.fd.duration);
    Figures {
        detection: detection_latencies(run)
            .into_iter()
            .map(|(rank, latency_ms)| Detection { rank, latency_ms })
            .collect(),
        false_suspicions: FalseSuspicions {
            total: by_quarter.iter().sum(),
            per_suspected_rank,
            by_quarter,
        },
        heartbeats_sent: run.metrics().total.sent,
    }
}

/// The `failure-detector` binary.
pub struct FailureDetector;

/// Options of the `failure-detector` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    #[command(flatten)]
    pub fd: FdArgs,
}

impl Algorithm for FailureDetector {
    const KINDS: &'static [&'static str] = &["Heartbeat", "Leave"];
    const NAME: &'static str = "failure-detector";
    const ABOUT: &'static str = "Heartbeat failure detector (eventually perfect with adaptive timeouts, or fixed): strong completeness and eventual strong accuracy checked; detection latency and false suspicions measured.";
    type Args = Args;
    type Proc = FailureDetectorProcess;

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        args.fd.validate(np, faults)
    }

    fn build(args: &Args, rank: Rank, np: usize) -> FailureDetectorProcess {
        FailureDetectorProcess {
            fd: Detector::new(&args.fd, rank, np),
            duration: Duration::from_millis(args.fd.duration),
            done: false,
        }
    }

    fn check(args: &Args, run: &RunResult<FdOutput>) -> Vec<Check> {
        check_detector(&args.fd, run)
    }

    fn figures(args: &Args, run: &RunResult<FdOutput>) -> Option<serde_json::Value> {
        serde_json::to_value(figures(args, run)).ok()
    }

    fn summarize(args: &Args, run: &RunResult<FdOutput>) -> Vec<String> {
        let mut lines: Vec<String> = run
            .ranks
            .iter()
            .map(|r| {
                format!(
                    "rank {}: suspects {:?} at the end; {} suspicions{}",
                    r.rank,
                    r.output.suspected,
                    r.output.suspicions.len(),
                    if r.crashed { " (crashed)" } else { "" }
                )
            })
            .collect();
        let f = figures(args, run);
        for d in &f.detection {
            let rank = d.rank;
            lines.push(match d.latency_ms {
                Some(l) => {
                    format!("crash of rank {rank} detected by every correct rank after {l:.1} ms")
                }
                None => format!("crash of rank {rank} not detected by every correct rank"),
            });
        }
        let fs = &f.false_suspicions;
        lines.push(format!(
            "false suspicions: {} in total, by quarter of the run {:?}, per suspected rank {:?}",
            fs.total, fs.by_quarter, fs.per_suspected_rank
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::process::effects_of;
    use crate::shared::Effect;

    fn args(mode: Mode) -> FdArgs {
        FdArgs {
            mode,
            period: 10,
            timeout_initial: 30,
            delta: 5,
            duration: 1000,
        }
    }

    fn node(mode: Mode) -> FailureDetectorProcess {
        FailureDetector::build(&Args { fd: args(mode) }, 0, 3)
    }

    #[test]
    fn start_beats_to_everyone_and_arms_a_timer_per_peer() {
        let mut p = node(Mode::Adaptive);
        let fx = effects_of(&mut p, 0, 3, |p, c| p.on_start(c));
        assert_eq!(
            fx,
            vec![
                Effect::Send {
                    to: 1,
                    msg: Msg::Heartbeat
                },
                Effect::Send {
                    to: 2,
                    msg: Msg::Heartbeat
                },
                Effect::SetTimer {
                    timer: Timer::Fd(FdTimer::Beat),
                    after: Duration::from_millis(10)
                },
                Effect::SetTimer {
                    timer: Timer::Fd(FdTimer::Peer(1)),
                    after: Duration::from_millis(30)
                },
                Effect::SetTimer {
                    timer: Timer::Fd(FdTimer::Peer(2)),
                    after: Duration::from_millis(30)
                },
                Effect::SetTimer {
                    timer: Timer::End,
                    after: Duration::from_millis(1000)
                },
            ]
        );
    }

    #[test]
    fn timeout_suspects_and_heartbeat_restores_with_a_longer_timeout() {
        for (mode, next) in [(Mode::Adaptive, 35), (Mode::Fixed, 30)] {
            let mut p = node(mode);
            effects_of(&mut p, 0, 3, |p, c| p.on_start(c));
            let fx = effects_of(&mut p, 0, 3, |p, c| {
                p.on_timer(Timer::Fd(FdTimer::Peer(2)), c)
            });
            assert_eq!(fx, vec![Effect::Note("suspect rank2".into())]);
            assert_eq!(p.output().suspected, vec![2]);
            let fx = effects_of(&mut p, 0, 3, |p, c| p.on_message(2, Msg::Heartbeat, c));
            assert_eq!(
                fx,
                vec![
                    Effect::Note(format!("restore rank2; timeout now {next} ms")),
                    Effect::SetTimer {
                        timer: Timer::Fd(FdTimer::Peer(2)),
                        after: Duration::from_millis(next)
                    },
                ]
            );
            let out = p.output();
            assert!(out.suspected.is_empty());
            assert_eq!(out.timeouts_ms[2], next);
            assert_eq!(out.suspicions.len(), 1);
            assert!(out.suspicions[0].until_ms.is_some());
        }
    }

    #[test]
    fn a_heartbeat_from_a_trusted_peer_only_rearms() {
        let mut p = node(Mode::Adaptive);
        let fx = effects_of(&mut p, 0, 3, |p, c| p.on_message(1, Msg::Heartbeat, c));
        assert_eq!(
            fx,
            vec![Effect::SetTimer {
                timer: Timer::Fd(FdTimer::Peer(1)),
                after: Duration::from_millis(30)
            }]
        );
    }

    #[test]
    fn end_timer_finishes() {
        let mut p = node(Mode::Fixed);
        let e = effects_of(&mut p, 0, 3, |p, c| p.on_timer(Timer::End, c));
        assert!(p.is_done());
        assert_eq!(
            crate::shared::process::sends_of(&e),
            vec![(1, Msg::Leave), (2, Msg::Leave)]
        );
        // A peer that left is no longer watched, even if a late heartbeat follows.
        let e = effects_of(&mut p, 0, 3, |p, c| p.on_message(1, Msg::Leave, c));
        assert_eq!(
            e.last(),
            Some(&Effect::CancelTimer(Timer::Fd(FdTimer::Peer(1))))
        );
        let e = effects_of(&mut p, 0, 3, |p, c| p.on_message(1, Msg::Heartbeat, c));
        assert!(e.is_empty());
    }

    #[test]
    fn checker_catches_a_restored_crash_and_a_suspected_correct_rank() {
        use crate::shared::faults::Crash;
        use crate::shared::observe::report::{Ending, Metrics, RankResult};
        let out = |suspected: Vec<Rank>, suspicions: Vec<Suspicion>| FdOutput {
            suspected,
            suspicions,
            timeouts_ms: vec![30; 3],
        };
        let rank = |r, crashed, output| RankResult {
            rank: r,
            crashed,
            done: true,
            output,
            earlier: Vec::new(),
            metrics: Metrics::default(),
            clock: Default::default(),
            host: String::new(),
            storage: Default::default(),
            hit_as_leader: Vec::new(),
        };
        let restored = Suspicion {
            peer: 2,
            from_ms: 140.0,
            until_ms: Some(150.0),
        };
        let wrong = Suspicion {
            peer: 1,
            from_ms: 900.0,
            until_ms: None,
        };
        let run = RunResult {
            algorithm: "failure-detector",
            driver: "sim",
            np: 3,
            seed: 0,
            faults: FaultPlan {
                crashes: vec![Crash {
                    rank: 2,
                    at_ms: 100,
                }],
                ..Default::default()
            },
            ending: Ending::Finished,
            elapsed_s: 1.0,
            ranks: vec![
                rank(0, false, out(vec![1], vec![restored, wrong])),
                rank(
                    1,
                    false,
                    out(
                        vec![2],
                        vec![Suspicion {
                            peer: 2,
                            from_ms: 131.0,
                            until_ms: None,
                        }],
                    ),
                ),
                rank(2, true, out(vec![], vec![])),
            ],
            history: None,
            groups: Vec::new(),
        };
        let checks = check_detector(&args(Mode::Adaptive), &run);
        assert!(
            !checks[0].passed && checks[0].detail.contains("restored crashed rank 2"),
            "{checks:?}"
        );
        assert!(
            !checks[1].passed && checks[1].detail.contains("suspects correct rank 1"),
            "{checks:?}"
        );
        assert_eq!(detection_latencies(&run), vec![(2, None)]);
    }
}
