//! Leader election, two ways.
//!
//! - `--variant omega` (default): the Ω detector built from the heartbeat failure detector
//!   ([`super::failure_detector::Detector`]): a rank trusts the lowest-ranked rank that it does
//!   not suspect (itself included). Once the detector stops making mistakes, all correct ranks
//!   trust the same correct rank.
//! - `--variant ballot`: the blog's ballot election done right. A rank that hears no live
//!   leader for a randomized timeout (T..2T, T = `--timeout-initial`) becomes a candidate with
//!   a unique ballot (round, rank), higher than any it has seen, and asks everyone for votes; a
//!   rank votes for a ballot higher than any it promised before; a candidate with a majority
//!   becomes leader and sends `Leader` heartbeats every `--period`; everyone adopts the highest
//!   ballot it saw (a leader that sees a higher one steps down). In adaptive mode a rank's
//!   election timeout grows by `--delta` after each candidacy it starts, so that lossy links
//!   eventually stop causing needless elections.
//!
//! The checker:
//! - safety (ballot): no two ranks were ever leader with the same ballot, and the leader of a
//!   ballot is the rank the ballot names;
//! - at the end, all correct ranks trust the same leader and it is correct: required when the
//!   fault plan lets the system settle (the last crash and partition end by half the run; for
//!   the ballot variant a majority of ranks correct; for fixed timeouts, no lossy links).
//!
//! The report adds the election time after each crash of a leader (crash to the moment every
//! correct rank trusts the new leader), the number of leader changes, and messages per election.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::failure_detector::{Detector, FdArgs, FdOutput, FdTimer, Heartbeat, Mode};
pub use crate::shared::election::{election_delay, Ballot};
use crate::shared::faults::FaultPlan;
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// The two algorithms.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variant {
    /// Lowest-ranked unsuspected rank (Ω from the failure detector).
    Omega,
    /// Randomized candidacies with unique (round, rank) ballots and majority votes.
    Ballot,
}

/// Where ballot rounds come from.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ballots {
    /// One more than the highest round seen.
    Local,
    /// A ticket from the shared counter on an MPI RMA window (unique across the run).
    Rma,
}

/// Options of the `leader-election` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// omega (from the failure detector) or ballot (votes).
    #[arg(long, value_enum, default_value_t = Variant::Omega)]
    pub variant: Variant,
    /// Ballot rounds (ballot variant): local, or tickets of the RMA SharedCounter.
    #[arg(long, value_enum, default_value_t = Ballots::Local)]
    pub ballots: Ballots,
    #[command(flatten)]
    pub fd: FdArgs,
}

/// Messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Failure-detector heartbeat (omega).
    Heartbeat,
    RequestVote(Ballot),
    Vote(Ballot),
    /// The leader's heartbeat for its ballot (ballot).
    Leader(Ballot),
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
            Msg::RequestVote(_) => "RequestVote",
            Msg::Vote(_) => "Vote",
            Msg::Leader(_) => "Leader",
        }
    }
}

/// Timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Fd(FdTimer),
    /// No leader heard for too long: stand (ballot).
    Election,
    /// The leader's heartbeat (ballot).
    LeaderBeat,
    End,
}

impl From<FdTimer> for Timer {
    fn from(t: FdTimer) -> Self {
        Timer::Fd(t)
    }
}

/// A change of the trusted leader at a time (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at_ms: f64,
    pub leader: Option<Rank>,
}

/// What a rank reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub leader: Option<Rank>,
    pub changes: Vec<Change>,
    /// Ballots this rank led, with when it won them (ballot variant).
    pub led: Vec<(Ballot, f64)>,
    /// Candidacies it started (ballot variant).
    pub candidacies: u64,
    /// The failure detector's view (omega variant).
    pub fd: Option<FdOutput>,
}

type C<'a> = Ctx<'a, Msg, Timer>;

/// One rank.
pub struct LeaderElectionProcess {
    me: Rank,
    np: usize,
    variant: Variant,
    ballots: Ballots,
    fd: Detector,
    mode: Mode,
    period: Duration,
    election_timeout: Duration,
    delta: Duration,
    duration: Duration,
    leader: Option<Rank>,
    changes: Vec<Change>,
    /// Highest ballot seen or promised.
    promised: Ballot,
    candidate: Option<Ballot>,
    votes: Vec<bool>,
    leading: Option<Ballot>,
    led: Vec<(Ballot, f64)>,
    candidacies: u64,
    done: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl LeaderElectionProcess {
    pub fn new(args: &Args, me: Rank, np: usize) -> Self {
        LeaderElectionProcess {
            me,
            np,
            variant: args.variant,
            ballots: args.ballots,
            fd: Detector::new(&args.fd, me, np),
            mode: args.fd.mode,
            period: Duration::from_millis(args.fd.period),
            election_timeout: Duration::from_millis(args.fd.timeout_initial),
            delta: Duration::from_millis(args.fd.delta),
            duration: Duration::from_millis(args.fd.duration),
            leader: None,
            changes: Vec::new(),
            promised: Ballot { round: 0, rank: 0 },
            candidate: None,
            votes: vec![false; np],
            leading: None,
            led: Vec::new(),
            candidacies: 0,
            done: false,
        }
    }

    fn set_leader(&mut self, leader: Option<Rank>, ctx: &mut C) {
        if leader != self.leader {
            self.leader = leader;
            self.changes.push(Change {
                at_ms: ms(ctx.now()),
                leader,
            });
            ctx.note(match leader {
                Some(l) => format!("trust rank{l}"),
                None => "no leader".to_string(),
            });
        }
    }

    /// Ω: the lowest-ranked rank not suspected (this rank never suspects itself).
    fn omega_update(&mut self, ctx: &mut C) {
        let l = (0..self.np).find(|&r| r == self.me || !self.fd.is_suspected(r));
        self.set_leader(l, ctx);
    }

    fn arm_election(&mut self, ctx: &mut C) {
        let t = self.election_timeout;
        let wait = ctx.rng().gen_range(t..=2 * t);
        ctx.set_timer(Timer::Election, wait);
    }

    fn stand(&mut self, ctx: &mut C) {
        match self.ballots {
            Ballots::Local => self.stand_in(self.promised.round + 1, ctx),
            // The candidacy goes on in `on_ticket`.
            Ballots::Rma => ctx.draw_ticket(),
        }
    }

    fn stand_in(&mut self, round: u64, ctx: &mut C) {
        let b = Ballot {
            round,
            rank: self.me,
        };
        self.promised = b;
        self.candidate = Some(b);
        self.votes = vec![false; self.np];
        self.votes[self.me] = true;
        self.candidacies += 1;
        self.leading = None;
        self.set_leader(None, ctx);
        ctx.note(format!("stand with ballot ({}, {})", b.round, b.rank));
        if self.mode == Mode::Adaptive {
            // Every candidacy may have been needless (a lost heartbeat): wait longer next time.
            self.election_timeout += self.delta;
        }
        ctx.broadcast(&Msg::RequestVote(b));
        self.arm_election(ctx);
        self.maybe_win(ctx);
    }

    fn maybe_win(&mut self, ctx: &mut C) {
        let Some(b) = self.candidate else { return };
        if self.votes.iter().filter(|&&v| v).count() * 2 > self.np {
            self.candidate = None;
            self.leading = Some(b);
            self.led.push((b, ms(ctx.now())));
            ctx.note(format!("leader with ballot ({}, {})", b.round, b.rank));
            self.set_leader(Some(self.me), ctx);
            ctx.cancel_timer(Timer::Election);
            ctx.broadcast(&Msg::Leader(b));
            ctx.set_timer(Timer::LeaderBeat, self.period);
        }
    }

    /// Adopt a higher ballot: forget any candidacy or leadership of ours.
    fn adopt(&mut self, b: Ballot, ctx: &mut C) {
        self.promised = b;
        self.candidate = None;
        if self.leading.is_some_and(|l| l < b) {
            self.leading = None;
            ctx.cancel_timer(Timer::LeaderBeat);
        }
    }
}

impl Process for LeaderElectionProcess {
    type Msg = Msg;
    type Timer = Timer;
    type Output = Output;

    fn leads(&self) -> bool {
        self.leader == Some(self.me)
    }

    fn on_start(&mut self, ctx: &mut C) {
        ctx.set_timer(Timer::End, self.duration);
        match self.variant {
            Variant::Omega => {
                self.fd.start(ctx);
                self.omega_update(ctx);
            }
            Variant::Ballot => self.arm_election(ctx),
        }
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        match msg {
            Msg::Heartbeat => {
                if self.fd.on_heartbeat(from, ctx) {
                    self.omega_update(ctx);
                }
            }
            Msg::RequestVote(b) => {
                if b > self.promised {
                    self.adopt(b, ctx);
                    self.set_leader(None, ctx);
                    ctx.send(from, Msg::Vote(b));
                    self.arm_election(ctx);
                }
            }
            Msg::Vote(b) => {
                if self.candidate == Some(b) {
                    self.votes[from] = true;
                    self.maybe_win(ctx);
                }
            }
            Msg::Leader(b) => {
                if b >= self.promised && b.rank == from {
                    self.adopt(b, ctx);
                    self.set_leader(Some(from), ctx);
                    self.arm_election(ctx);
                }
            }
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut C) {
        match timer {
            Timer::Fd(FdTimer::Beat) => self.fd.beat(ctx),
            Timer::Fd(FdTimer::Peer(p)) => {
                if self.fd.on_timeout(p, ctx) {
                    self.omega_update(ctx);
                }
            }
            Timer::Election => self.stand(ctx),
            Timer::LeaderBeat => {
                if let Some(b) = self.leading {
                    ctx.broadcast(&Msg::Leader(b));
                    ctx.set_timer(Timer::LeaderBeat, self.period);
                }
            }
            Timer::End => self.done = true,
        }
    }

    fn on_ticket(&mut self, ticket: u64, ctx: &mut C) {
        // A fresh ticket exceeds every round drawn before it, so every round seen: the max
        // only guards the invariant that a candidate's ballot is above its promise.
        let round = (ticket + 1).max(self.promised.round + 1);
        self.stand_in(round, ctx);
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn output(&self) -> Output {
        Output {
            leader: self.leader,
            changes: self.changes.clone(),
            led: self.led.clone(),
            candidacies: self.candidacies,
            fd: (self.variant == Variant::Omega).then(|| self.fd.report()),
        }
    }
}

/// Whether the fault plan lets every correct rank settle on one correct leader by the end.
pub fn settles(args: &Args, np: usize, faults: &FaultPlan) -> bool {
    let half = args.fd.duration / 2;
    let crashed: std::collections::BTreeSet<Rank> = faults.crashes.iter().map(|c| c.rank).collect();
    let quiet_end = faults.crashes.iter().all(|c| c.at_ms <= half)
        && faults.partitions.iter().all(|p| p.to_ms <= half);
    let no_loss = faults.drop == 0.0 || faults.heal_ms.is_some_and(|h| h <= half);
    let links_ok = no_loss && (args.fd.mode == Mode::Adaptive || !faults.lossy_at(half));
    let quorum = match args.variant {
        Variant::Omega => crashed.len() < np,
        Variant::Ballot => (np - crashed.len()) * 2 > np,
    };
    quiet_end && links_ok && quorum
}

/// The leader-election checks.
pub fn check_election(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
    let mut checks = Vec::new();
    if args.variant == Variant::Ballot {
        let mut led: Vec<(Ballot, Rank)> = run
            .ranks
            .iter()
            .flat_map(|r| r.output.led.iter().map(move |(b, _)| (*b, r.rank)))
            .collect();
        led.sort_unstable();
        let mut bad = Vec::new();
        for w in led.windows(2) {
            if w[0].0 == w[1].0 {
                bad.push(format!(
                    "ranks {} and {} both led ballot ({}, {})",
                    w[0].1, w[1].1, w[0].0.round, w[0].0.rank
                ));
            }
        }
        for (b, r) in &led {
            if b.rank != *r {
                bad.push(format!(
                    "rank {r} led ballot ({}, {}), which names rank {}",
                    b.round, b.rank, b.rank
                ));
            }
        }
        if args.ballots == Ballots::Rma {
            let mut rounds: Vec<u64> = led.iter().map(|(b, _)| b.round).collect();
            rounds.sort_unstable();
            let dup: Vec<String> = rounds
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| {
                    format!(
                        "two leaderships in round {}: RMA tickets must be unique",
                        w[0]
                    )
                })
                .collect();
            checks.push(Check::from_violations(
                "one-leader-per-round",
                "every round is a distinct RMA ticket".into(),
                dup,
            ));
        }
        checks.push(Check::from_violations(
            "one-leader-per-ballot",
            format!(
                "{} leaderships, each ballot led by the one rank it names",
                led.len()
            ),
            bad,
        ));
    }
    let finals: Vec<(Rank, Option<Rank>)> = run
        .correct_ranks()
        .map(|r| (r.rank, r.output.leader))
        .collect();
    let crashed = |l: Rank| run.ranks[l].crashed;
    let mut bad = Vec::new();
    if let Some((_, first)) = finals.first() {
        for (r, l) in &finals {
            if l != first {
                bad.push(format!(
                    "rank {r} trusts {l:?}, rank {} trusts {first:?}",
                    finals[0].0
                ));
            }
        }
        match first {
            None => bad.push("no leader at the end".into()),
            Some(l) if crashed(*l) => bad.push(format!("the leader, rank {l}, has crashed")),
            Some(_) => {}
        }
    }
    let agreed = finals.first().and_then(|f| f.1);
    if settles(args, run.np, &run.applied_faults()) {
        checks.push(Check::from_violations(
            "one-correct-leader-at-the-end",
            format!(
                "every correct rank trusts rank {}",
                agreed.map_or("-".into(), |l| l.to_string())
            ),
            bad,
        ));
    } else {
        checks.push(Check {
            name: "one-correct-leader-at-the-end".into(),
            passed: true,
            undecided: false,
            detail: format!(
                "not required: the fault plan does not let the ranks settle (late faults, no majority, links losing messages to the end, or fixed timeouts on slow links); {}",
                if bad.is_empty() { "they agreed anyway".to_string() } else { bad.join("; ") }
            ),
        });
    }
    checks
}

/// For each crash of a rank that some correct rank trusted when it crashed: the time from the
/// crash until every correct rank trusts its final leader (ms), if they all agree.
pub fn election_times(run: &RunResult<Output>) -> Vec<(Rank, u64, Option<f64>)> {
    let correct: Vec<_> = run.correct_ranks().collect();
    let final_leader = correct.first().and_then(|r| r.output.leader);
    let agreed = final_leader.is_some() && correct.iter().all(|r| r.output.leader == final_leader);
    let trusted_at = |r: &Output, t: f64| {
        r.changes
            .iter()
            .rev()
            .find(|c| c.at_ms <= t)
            .and_then(|c| c.leader)
    };
    run.applied_faults()
        .crashes
        .iter()
        .filter(|c| {
            correct
                .iter()
                .any(|r| trusted_at(&r.output, c.at_ms as f64) == Some(c.rank))
        })
        .map(|c| {
            let t = agreed.then(|| {
                correct
                    .iter()
                    .filter_map(|r| r.output.changes.last().map(|ch| ch.at_ms))
                    .fold(c.at_ms as f64, f64::max)
                    - c.at_ms as f64
            });
            (c.rank, c.at_ms, t)
        })
        .collect()
}

/// The figures of a run, for the report (merged at its top level) and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub elections_after_leader_crashes: Vec<ElectionAfterCrash>,
    /// Changes of the trusted leader, summed over the correct ranks.
    pub leader_changes: usize,
    pub candidacies: u64,
    /// RequestVote and Vote messages sent.
    pub election_messages: u64,
    /// Under `--variant ballot` with at least one candidacy.
    pub messages_per_election: Option<f64>,
}

/// A crash of a trusted leader and how long the correct ranks took to trust a new one.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionAfterCrash {
    pub crashed_leader: Rank,
    pub at_ms: u64,
    /// `None` if the correct ranks did not agree in the end.
    pub election_time_ms: Option<f64>,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<Output>) -> Figures {
    let m = run.metrics();
    let candidacies: u64 = run.ranks.iter().map(|r| r.output.candidacies).sum();
    let election_messages = m.sent_of("RequestVote") + m.sent_of("Vote");
    Figures {
        elections_after_leader_crashes: election_times(run)
            .into_iter()
            .map(
                |(crashed_leader, at_ms, election_time_ms)| ElectionAfterCrash {
                    crashed_leader,
                    at_ms,
                    election_time_ms,
                },
            )
            .collect(),
        leader_changes: run.correct_ranks().map(|r| r.output.changes.len()).sum(),
        candidacies,
        election_messages,
        messages_per_election: (args.variant == Variant::Ballot && candidacies > 0)
            .then(|| election_messages as f64 / candidacies as f64),
    }
}

/// The `leader-election` binary.
pub struct LeaderElection;

impl Algorithm for LeaderElection {
    const KINDS: &'static [&'static str] = &["Heartbeat", "RequestVote", "Vote", "Leader"];
    const NAME: &'static str = "leader-election";
    const ABOUT: &'static str = "Leader election: omega (lowest unsuspected rank, from the failure detector) or ballot (randomized candidacies, unique ballots, majority votes). Checks one leader per ballot and one correct leader at the end; measures election time.";
    const LEADS: bool = true;
    // `--ballots rma` draws tickets: the driver hosts the counter on rank 0 (a small window,
    // created for every run of this binary since the choice is made at run time).
    const USES_TICKETS: bool = true;
    type Args = Args;
    type Proc = LeaderElectionProcess;

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        if args.ballots == Ballots::Rma && args.variant != Variant::Ballot {
            return Err("--ballots rma is for --variant ballot (omega has no ballots)".into());
        }
        args.fd.validate(np, faults)
    }

    fn build(args: &Args, rank: Rank, np: usize) -> LeaderElectionProcess {
        LeaderElectionProcess::new(args, rank, np)
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check_election(args, run)
    }

    fn figures(args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
        serde_json::to_value(figures(args, run)).ok()
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        let mut lines: Vec<String> = run
            .ranks
            .iter()
            .map(|r| {
                format!(
                    "rank {}: trusts {} at the end; {} leader changes{}{}",
                    r.rank,
                    r.output
                        .leader
                        .map_or("nobody".into(), |l| format!("rank {l}")),
                    r.output.changes.len(),
                    if args.variant == Variant::Ballot {
                        format!(
                            ", {} candidacies, led {} ballots",
                            r.output.candidacies,
                            r.output.led.len()
                        )
                    } else {
                        String::new()
                    },
                    if r.crashed { " (crashed)" } else { "" }
                )
            })
            .collect();
        let f = figures(args, run);
        for e in &f.elections_after_leader_crashes {
            let (rank, at) = (e.crashed_leader, e.at_ms);
            lines.push(match e.election_time_ms {
                Some(t) => format!("leader rank {rank} crashed at {at} ms: every correct rank trusted the new leader {t:.1} ms later"),
                None => format!("leader rank {rank} crashed at {at} ms: the correct ranks did not agree on a new leader"),
            });
        }
        let m = run.metrics();
        let count = |k: &str| m.sent_of(k);
        let changes = f.leader_changes;
        if args.variant == Variant::Ballot {
            let (elections, msgs) = (f.candidacies, f.election_messages);
            lines.push(format!(
                "{elections} candidacies, {msgs} election messages ({:.1} per election), {} leader heartbeats; {changes} leader changes at correct ranks",
                msgs as f64 / elections.max(1) as f64,
                count("Leader")
            ));
        } else {
            lines.push(format!(
                "no election messages: the leader follows from {} failure-detector heartbeats; {changes} leader changes at correct ranks",
                count("Heartbeat")
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::process::effects_of;
    use crate::shared::Effect;

    fn args(variant: Variant) -> Args {
        Args {
            variant,
            ballots: Ballots::Local,
            fd: FdArgs {
                mode: Mode::Adaptive,
                period: 10,
                timeout_initial: 30,
                delta: 20,
                duration: 1000,
            },
        }
    }

    #[test]
    fn omega_trusts_the_lowest_unsuspected_rank() {
        let mut p = LeaderElectionProcess::new(&args(Variant::Omega), 2, 4);
        let fx = effects_of(&mut p, 2, 4, |p, c| p.on_start(c));
        assert!(fx.contains(&Effect::Note("trust rank0".into())));
        effects_of(&mut p, 2, 4, |p, c| {
            p.on_timer(Timer::Fd(FdTimer::Peer(0)), c)
        });
        assert_eq!(p.output().leader, Some(1));
        effects_of(&mut p, 2, 4, |p, c| {
            p.on_timer(Timer::Fd(FdTimer::Peer(1)), c)
        });
        assert_eq!(p.output().leader, Some(2), "itself, never suspected");
        let fx = effects_of(&mut p, 2, 4, |p, c| p.on_message(0, Msg::Heartbeat, c));
        assert!(fx.contains(&Effect::Note("trust rank0".into())));
        assert_eq!(p.output().changes.len(), 4);
    }

    #[test]
    fn candidate_asks_for_votes_and_wins_with_a_majority() {
        let mut p = LeaderElectionProcess::new(&args(Variant::Ballot), 1, 4);
        let fx = effects_of(&mut p, 1, 4, |p, c| p.on_timer(Timer::Election, c));
        let b = Ballot { round: 1, rank: 1 };
        for to in [0, 2, 3] {
            assert!(
                fx.contains(&Effect::Send {
                    to,
                    msg: Msg::RequestVote(b)
                }),
                "{fx:?}"
            );
        }
        effects_of(&mut p, 1, 4, |p, c| p.on_message(0, Msg::Vote(b), c));
        assert_eq!(p.output().leader, None, "2 of 4 is no majority");
        let fx = effects_of(&mut p, 1, 4, |p, c| p.on_message(3, Msg::Vote(b), c));
        assert!(
            fx.contains(&Effect::Send {
                to: 2,
                msg: Msg::Leader(b)
            }),
            "{fx:?}"
        );
        assert!(fx.contains(&Effect::CancelTimer(Timer::Election)));
        assert_eq!(p.output().leader, Some(1));
        assert_eq!(p.output().led.len(), 1);
    }

    #[test]
    fn voters_promise_only_higher_ballots_and_leaders_step_down() {
        let mut p = LeaderElectionProcess::new(&args(Variant::Ballot), 0, 3);
        let high = Ballot { round: 2, rank: 2 };
        let fx = effects_of(&mut p, 0, 3, |p, c| {
            p.on_message(2, Msg::RequestVote(high), c)
        });
        assert!(fx.contains(&Effect::Send {
            to: 2,
            msg: Msg::Vote(high)
        }));
        let low = Ballot { round: 1, rank: 1 };
        let fx = effects_of(&mut p, 0, 3, |p, c| {
            p.on_message(1, Msg::RequestVote(low), c)
        });
        assert!(fx.is_empty(), "no vote for a lower ballot: {fx:?}");
        effects_of(&mut p, 0, 3, |p, c| p.on_message(1, Msg::Leader(low), c));
        assert_eq!(p.output().leader, None, "a stale leader is ignored");
        effects_of(&mut p, 0, 3, |p, c| p.on_message(2, Msg::Leader(high), c));
        assert_eq!(p.output().leader, Some(2));
        // A forged leadership (ballot names another rank) is ignored.
        let forged = Ballot { round: 9, rank: 1 };
        effects_of(&mut p, 0, 3, |p, c| p.on_message(2, Msg::Leader(forged), c));
        assert_eq!(p.output().leader, Some(2));
    }

    #[test]
    fn checker_catches_two_leaders_of_one_ballot() {
        use crate::shared::observe::report::{Ending, Metrics, RankResult};
        let b = Ballot { round: 3, rank: 0 };
        let out = |led: Vec<(Ballot, f64)>| Output {
            leader: Some(0),
            changes: vec![],
            led,
            candidacies: 1,
            fd: None,
        };
        let ranks = vec![
            RankResult {
                rank: 0,
                crashed: false,
                done: true,
                output: out(vec![(b, 1.0)]),
                earlier: Vec::new(),
                metrics: Metrics::default(),
                clock: Default::default(),
                host: String::new(),
                storage: Default::default(),
                hit_as_leader: Vec::new(),
            },
            RankResult {
                rank: 1,
                crashed: false,
                done: true,
                output: out(vec![(b, 2.0)]),
                earlier: Vec::new(),
                metrics: Metrics::default(),
                clock: Default::default(),
                host: String::new(),
                storage: Default::default(),
                hit_as_leader: Vec::new(),
            },
        ];
        let run = RunResult {
            algorithm: "leader-election",
            driver: "sim",
            np: 2,
            seed: 0,
            faults: FaultPlan::default(),
            ending: Ending::Finished,
            elapsed_s: 1.0,
            ranks,
            history: None,
            groups: Vec::new(),
        };
        let checks = check_election(&args(Variant::Ballot), &run);
        assert!(!checks[0].passed, "{checks:?}");
        assert!(checks[0].detail.contains("both led"), "{checks:?}");
    }

    #[test]
    fn rma_ballots_wait_for_a_ticket() {
        let mut a = args(Variant::Ballot);
        a.ballots = Ballots::Rma;
        let mut p = LeaderElectionProcess::new(&a, 1, 3);
        let fx = effects_of(&mut p, 1, 3, |p, c| p.on_timer(Timer::Election, c));
        assert_eq!(fx, vec![Effect::DrawTicket]);
        let fx = effects_of(&mut p, 1, 3, |p, c| p.on_ticket(41, c));
        let b = Ballot { round: 42, rank: 1 };
        assert!(
            fx.contains(&Effect::Send {
                to: 0,
                msg: Msg::RequestVote(b)
            }),
            "{fx:?}"
        );
    }
}
