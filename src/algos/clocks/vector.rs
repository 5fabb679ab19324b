//! Vector clocks.
//!
//! Every rank keeps a vector `V` of np counters. Rules: before every event, `V[me] += 1`; a
//! message carries `V`; on receive, `V = max(V, V_msg)` element-wise, then `V[me] += 1`. Then
//! for any two events, `e → f` exactly when `V(e) < V(f)`, and `e ∥ f` (concurrent) exactly
//! when neither vector dominates: vector clocks characterize causality, which Lamport clocks
//! only respect.
//!
//! Roles and patterns:
//! - `--pattern ring --rounds R` (the C original's token ring, done right): rank 0 starts a
//!   token that travels 0 → 1 → … → np-1 → 0, R times. The original incremented every entry
//!   at every hop; here only the owner's entry ticks and receives merge. Rank 0 is done after
//!   R rounds, or after `--patience` ms without the token (lost to `--drop` or a crash).
//! - `--pattern random --events K`: K seeded random local events and sends per rank, which
//!   produces real concurrency.
//!
//! The checker compares the algorithm's vectors with the ground-truth vector timestamps the
//! driver records: for every pair of events, `V(e) < V(f)` holds exactly when `e → f`, and
//! concurrency is detected exactly. It reports how many pairs are ordered and concurrent.

use std::cmp::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::workload::{Action, ClockTimer, RandomWorkload};
use crate::shared::observe::history::{vc_cmp, EventKind, History};
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// Communication patterns.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pattern {
    /// A token passed around the ring R times (the original program).
    Ring,
    /// K seeded random local events and sends per rank.
    Random,
}

/// Options of the `vector` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct VectorArgs {
    /// Communication pattern.
    #[arg(long, value_enum, default_value_t = Pattern::Ring)]
    pub pattern: Pattern,
    /// Trips of the token around the ring with --pattern ring.
    #[arg(long, default_value_t = 2, value_name = "R", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rounds: u32,
    /// Events per rank with --pattern random.
    #[arg(long, default_value_t = 10, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub events: u32,
    /// Rank 0 stops waiting for the token after MS without it.
    #[arg(long, default_value_t = 500, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub patience: u64,
}

/// Messages: each carries the sender's vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// The ring's token on trip `round` (1-based), so duplicates can be recognized.
    Token {
        round: u32,
        vc: Vec<u64>,
    },
    Note {
        vc: Vec<u64>,
    },
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Token { .. } => "Token",
            Msg::Note { .. } => "Note",
        }
    }
}

/// One rank's vector clock.
#[derive(Debug, Clone)]
pub struct VectorProcess {
    rank: Rank,
    vc: Vec<u64>,
    pattern: Pattern,
    rounds: u32,
    patience: Duration,
    workload: RandomWorkload,
    /// Ring: the last trip that came home (rank 0) or was forwarded (the others).
    tokens_home: u32,
    gave_up: bool,
    done: bool,
}

/// What a rank reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub vc: Vec<u64>,
    /// Ring, rank 0: completed rounds.
    pub rounds: u32,
    pub gave_up: bool,
}

type C<'a> = Ctx<'a, Msg, ClockTimer>;

impl VectorProcess {
    pub fn new(args: &VectorArgs, rank: Rank, np: usize) -> Self {
        let random = args.pattern == Pattern::Random;
        VectorProcess {
            rank,
            vc: vec![0; np],
            pattern: args.pattern,
            rounds: args.rounds,
            patience: Duration::from_millis(args.patience),
            workload: RandomWorkload::new(if random { args.events } else { 0 }),
            tokens_home: 0,
            gave_up: false,
            // Ring ranks other than 0 only react.
            done: !random && rank != 0,
        }
    }

    fn tick(&mut self) {
        self.vc[self.rank] += 1;
    }

    fn tick_send(&mut self, to: Rank, make: impl FnOnce(Vec<u64>) -> Msg, ctx: &mut C) {
        self.tick();
        ctx.send(to, make(self.vc.clone()));
        ctx.stamp(self.vc.clone());
    }

    fn tick_local(&mut self, label: String, ctx: &mut C) {
        self.tick();
        ctx.local(label);
        ctx.stamp(self.vc.clone());
    }

    /// Rank 0 sends the token on its next trip (or, alone, passes it to itself).
    fn launch_token(&mut self, ctx: &mut C) {
        if ctx.np() == 1 {
            for round in 1..=self.rounds {
                self.tick_local(format!("ring of one: round {round} stays home"), ctx);
            }
            self.tokens_home = self.rounds;
            self.done = true;
        } else {
            let round = self.tokens_home + 1;
            self.tick_send(1, |vc| Msg::Token { round, vc }, ctx);
            ctx.set_timer(ClockTimer::Patience, self.patience);
        }
    }
}

impl Process for VectorProcess {
    type Msg = Msg;
    type Timer = ClockTimer;
    type Output = Output;

    fn on_start(&mut self, ctx: &mut C) {
        match self.pattern {
            Pattern::Ring if self.rank == 0 => self.launch_token(ctx),
            Pattern::Ring => {}
            Pattern::Random => self.workload.schedule(ctx),
        }
    }

    fn on_message(&mut self, _from: Rank, msg: Msg, ctx: &mut C) {
        let (Msg::Token { vc, .. } | Msg::Note { vc }) = &msg;
        for (mine, theirs) in self.vc.iter_mut().zip(vc) {
            *mine = (*mine).max(*theirs);
        }
        self.tick();
        ctx.stamp(self.vc.clone());
        if let Msg::Token { round, .. } = msg {
            // A duplicated token (`--dup`) is received and merged like any message, but only
            // the first copy of each trip travels on or counts.
            if self.rank != 0 {
                if round > self.tokens_home {
                    self.tokens_home = round;
                    let next = (self.rank + 1) % ctx.np();
                    self.tick_send(next, |vc| Msg::Token { round, vc }, ctx);
                }
            } else if !self.done && round == self.tokens_home + 1 {
                self.tokens_home += 1;
                if self.tokens_home == self.rounds {
                    self.done = true;
                    ctx.cancel_timer(ClockTimer::Patience);
                } else {
                    self.launch_token(ctx);
                }
            }
        }
    }

    fn on_timer(&mut self, timer: ClockTimer, ctx: &mut C) {
        match timer {
            ClockTimer::Patience => {
                let label = format!(
                    "gave up: token lost after {} of {} rounds",
                    self.tokens_home, self.rounds
                );
                self.tick_local(label, ctx);
                self.gave_up = true;
                self.done = true;
            }
            ClockTimer::Next => {
                match self.workload.next(ctx) {
                    Action::SendTo(peer) => self.tick_send(peer, |vc| Msg::Note { vc }, ctx),
                    Action::Local => self.tick_local("local event".into(), ctx),
                }
                self.workload.schedule(ctx);
                self.done = self.workload.is_done();
            }
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn output(&self) -> Output {
        Output {
            vc: self.vc.clone(),
            rounds: self.tokens_home,
            gave_up: self.gave_up,
        }
    }
}

/// Ordered and concurrent pair counts of a history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    pub ordered: u64,
    pub concurrent: u64,
}

/// Counted from the ground truth in linear time (see [`History::happens_before_pairs`]).
pub fn pair_counts(h: &History) -> PairCounts {
    let events = h
        .events()
        .filter(|(_, e)| e.kind != EventKind::Crash)
        .count() as u64;
    let ordered = h.happens_before_pairs();
    PairCounts {
        ordered,
        concurrent: events * events.saturating_sub(1) / 2 - ordered,
    }
}

/// Up to this many events every pair is compared; beyond, each stamp must equal the ground
/// truth, which implies the pairwise property (and is linear).
pub const PAIRWISE_LIMIT: usize = 3000;

/// The vector-clock checks over a recorded history (public so that tests can feed broken ones).
pub fn check_history(h: &History) -> Vec<Check> {
    let np = h.ranks.len();
    let mut unstamped = Vec::new();
    let mut events = Vec::new(); // (rank, algorithm vector, true vector)
    for (r, e) in h.events() {
        if e.kind == EventKind::Crash {
            continue;
        }
        match &e.stamp {
            Some(v) if v.len() == np => events.push((r, v, &e.vc)),
            _ => unstamped.push(format!(
                "rank {r} event '{}' has no vector timestamp",
                e.label
            )),
        }
    }
    let stamped = Check::from_violations(
        "every-event-stamped",
        format!("{} events", events.len()),
        unstamped,
    );
    let counts = pair_counts(h);
    let mut wrong = Vec::new();
    let detail = if events.len() <= PAIRWISE_LIMIT {
        for (i, (ra, sa, ta)) in events.iter().enumerate() {
            for (rb, sb, tb) in &events[i + 1..] {
                let truth = vc_cmp(ta, tb);
                let claimed = vc_cmp(sa, sb);
                if truth != claimed {
                    let show = |o: Option<Ordering>| match o {
                        None => "concurrent",
                        Some(Ordering::Less) => "before",
                        Some(Ordering::Greater) => "after",
                        Some(Ordering::Equal) => "equal",
                    };
                    wrong.push(format!(
                        "rank {ra} {sa:?} vs rank {rb} {sb:?}: clocks say {}, happens-before says {}",
                        show(claimed),
                        show(truth)
                    ));
                }
            }
        }
        format!(
            "{} ordered and {} concurrent pairs, all classified exactly",
            counts.ordered, counts.concurrent
        )
    } else {
        for (r, s, t) in &events {
            if s != t {
                wrong.push(format!("rank {r}: vector {s:?}, happens-before says {t:?}"));
            }
        }
        format!(
            "every stamp equals the ground truth, so all {} ordered and {} concurrent pairs are classified exactly",
            counts.ordered, counts.concurrent
        )
    };
    let exact = Check::from_violations("vector-order-is-happens-before", detail, wrong);
    vec![stamped, exact]
}

/// The `vector` binary.
pub struct Vector;

impl Algorithm for Vector {
    const KINDS: &'static [&'static str] = &["Token", "Note"];
    const NAME: &'static str = "vector";
    const ABOUT: &'static str = "Vector clocks: vector order equals happens-before and concurrency is detected exactly, checked against the run's ground truth.";
    const NEEDS_HISTORY: bool = true;
    type Args = VectorArgs;
    type Proc = VectorProcess;

    fn build(args: &VectorArgs, rank: Rank, np: usize) -> VectorProcess {
        VectorProcess::new(args, rank, np)
    }

    fn check(_: &VectorArgs, run: &RunResult<Output>) -> Vec<Check> {
        check_history(run.history.as_ref().expect("vector records its history"))
    }

    fn summarize(args: &VectorArgs, run: &RunResult<Output>) -> Vec<String> {
        let mut lines: Vec<String> = run
            .ranks
            .iter()
            .map(|r| {
                format!(
                    "rank {}: final vector {:?}{}",
                    r.rank,
                    r.output.vc,
                    if r.crashed { " (crashed)" } else { "" }
                )
            })
            .collect();
        if args.pattern == Pattern::Ring {
            let o = &run.ranks[0].output;
            lines.push(format!(
                "the token completed {} of {} rounds{}",
                o.rounds,
                args.rounds,
                if o.gave_up {
                    "; rank 0 stopped waiting for a lost token"
                } else {
                    ""
                }
            ));
        }
        if let Some(h) = &run.history {
            let c = pair_counts(h);
            lines.push(format!(
                "{} ordered pairs of events, {} concurrent pairs",
                c.ordered, c.concurrent
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

    fn args(pattern: Pattern) -> VectorArgs {
        VectorArgs {
            pattern,
            rounds: 2,
            events: 3,
            patience: 100,
        }
    }

    fn call(
        p: &mut VectorProcess,
        rank: Rank,
        np: usize,
        f: impl FnOnce(&mut VectorProcess, &mut C),
    ) -> Vec<Effect<Msg, ClockTimer>> {
        effects_of(p, rank, np, f)
    }

    fn token(round: u32, vc: &[u64]) -> Msg {
        Msg::Token {
            round,
            vc: vc.to_vec(),
        }
    }

    #[test]
    fn ring_hop_merges_then_ticks_only_the_own_entry() {
        let mut p = VectorProcess::new(&args(Pattern::Ring), 1, 4);
        let fx = call(&mut p, 1, 4, |p, c| {
            p.on_message(0, token(1, &[1, 0, 0, 0]), c)
        });
        assert_eq!(
            fx,
            vec![
                Effect::Stamp(vec![1, 1, 0, 0]),
                Effect::Send {
                    to: 2,
                    msg: token(1, &[1, 2, 0, 0])
                },
                Effect::Stamp(vec![1, 2, 0, 0]),
            ]
        );
        // A duplicate of the same trip is merged but not forwarded again.
        let fx = call(&mut p, 1, 4, |p, c| {
            p.on_message(0, token(1, &[1, 0, 0, 0]), c)
        });
        assert_eq!(fx, vec![Effect::Stamp(vec![1, 3, 0, 0])]);
    }

    #[test]
    fn rank0_relaunches_until_the_last_round() {
        let mut p = VectorProcess::new(&args(Pattern::Ring), 0, 2);
        let fx = call(&mut p, 0, 2, |p, c| p.on_start(c));
        assert_eq!(
            fx,
            vec![
                Effect::Send {
                    to: 1,
                    msg: token(1, &[1, 0])
                },
                Effect::Stamp(vec![1, 0]),
                Effect::SetTimer {
                    timer: ClockTimer::Patience,
                    after: Duration::from_millis(100)
                },
            ]
        );
        let fx = call(&mut p, 0, 2, |p, c| p.on_message(1, token(1, &[1, 2]), c));
        assert_eq!(fx[0], Effect::Stamp(vec![2, 2]));
        assert_eq!(
            fx[1],
            Effect::Send {
                to: 1,
                msg: token(2, &[3, 2])
            }
        );
        // A late duplicate of trip 1 does not count as trip 2.
        let fx = call(&mut p, 0, 2, |p, c| p.on_message(1, token(1, &[1, 2]), c));
        assert_eq!(fx, vec![Effect::Stamp(vec![4, 2])]);
        assert_eq!(p.output().rounds, 1);
        let fx = call(&mut p, 0, 2, |p, c| p.on_message(1, token(2, &[3, 4]), c));
        assert_eq!(
            fx,
            vec![
                Effect::Stamp(vec![5, 4]),
                Effect::CancelTimer(ClockTimer::Patience)
            ]
        );
        assert!(p.is_done());
        assert_eq!(p.output().rounds, 2);
    }

    #[test]
    fn ring_of_one_says_what_it_did() {
        let mut p = VectorProcess::new(&args(Pattern::Ring), 0, 1);
        let fx = call(&mut p, 0, 1, |p, c| p.on_start(c));
        assert_eq!(
            fx[0],
            Effect::Local("ring of one: round 1 stays home".into())
        );
        assert!(p.is_done());
    }

    #[test]
    fn checker_catches_the_originals_merge_rule() {
        // The C original increments every entry at every hop, so a receive claims to follow
        // events it never heard of. Feed such stamps.
        use crate::shared::observe::history::{Recorder, Sent};
        let mut a = Recorder::new(0, 3, true);
        let mut b = Recorder::new(1, 3, true);
        let mut c = Recorder::new(2, 3, true);
        let m = Sent {
            to: 1,
            seq: 0,
            copies: 1,
            kind: "M",
            refused: false,
        };
        let vc = a.send(m, 0, || "send".into());
        a.stamp(vec![1, 0, 0]);
        b.recv(0, 0, "M", vc.as_deref(), 1, || "recv".into());
        b.stamp(vec![2, 1, 1]); // original: every entry incremented
        c.local(2, "local".into());
        c.stamp(vec![0, 0, 1]);
        let h = History {
            ranks: vec![a.into_events(), b.into_events(), c.into_events()],
        };
        let checks = check_history(&h);
        assert!(checks[0].passed);
        assert!(
            !checks[1].passed,
            "rank 2's local event is concurrent, not before: {checks:?}"
        );
    }

    #[test]
    fn linear_path_catches_a_wrong_stamp() {
        use crate::shared::observe::history::Recorder;
        let mut a = Recorder::new(0, 2, true);
        let b = Recorder::new(1, 2, true);
        let mut vc = vec![0u64, 0];
        for i in 0..=PAIRWISE_LIMIT {
            a.local(i as u64, "tick".into());
            vc[0] += 1;
            // One stamp forgets to tick (more events than the pairwise limit: the linear path).
            let mut stamp = vc.clone();
            if i == 7 {
                stamp[0] -= 1;
            }
            a.stamp(stamp);
        }
        let h = History {
            ranks: vec![a.into_events(), b.into_events()],
        };
        let checks = check_history(&h);
        assert!(checks[0].passed);
        assert!(!checks[1].passed, "{checks:?}");
    }
}
