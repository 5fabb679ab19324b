//! Lamport logical clocks.
//!
//! Every rank keeps one counter `C`. Rules: tick before every local event and every send
//! (`C += 1`, the message carries `C`); on a receive of timestamp `t`, `C = max(C, t) + 1`.
//! Then `e → f` (happens-before) implies `C(e) < C(f)` (the clock condition), and ordering
//! events by `(C, rank)` gives a total order that extends happens-before.
//!
//! Roles and patterns:
//! - `--pattern star` (the C original's exchange): rank 0 sends a request to every other rank
//!   and each replies. Unlike the original, rank 0 applies the receive rule to the replies and
//!   responders tick on send. Rank 0 is done when every reply arrived, or after `--patience`
//!   ms without news (replies lost to `--drop` or crashes).
//! - `--pattern random --events K`: every rank performs K seeded random events, each a local
//!   event or a send to a random peer.
//!
//! The checker verifies, against the ground-truth vector timestamps the driver records:
//! every event carries a Lamport timestamp; for every delivered message, send < receive; and
//! `(C, rank)` is a strict total order that extends happens-before (for every pair of events
//! with `e → f`, `(C(e), rank(e)) < (C(f), rank(f))`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::workload::{Action, ClockTimer, RandomWorkload};
use crate::shared::observe::history::{EventKind, History};
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// Communication patterns.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pattern {
    /// Rank 0 sends to every rank, each replies (the original program).
    Star,
    /// K seeded random local events and sends per rank.
    Random,
}

/// Options of the `lamport` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct LamportArgs {
    /// Communication pattern.
    #[arg(long, value_enum, default_value_t = Pattern::Star)]
    pub pattern: Pattern,
    /// Events per rank with --pattern random.
    #[arg(long, default_value_t = 10, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub events: u32,
    /// The initiator stops waiting after MS without news (lost replies).
    #[arg(long, default_value_t = 500, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub patience: u64,
}

/// Messages: each carries the sender's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    Request { ts: u64 },
    Reply { ts: u64 },
    Note { ts: u64 },
}

impl Msg {
    fn ts(&self) -> u64 {
        match self {
            Msg::Request { ts } | Msg::Reply { ts } | Msg::Note { ts } => *ts,
        }
    }
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Request { .. } => "Request",
            Msg::Reply { .. } => "Reply",
            Msg::Note { .. } => "Note",
        }
    }
}

/// One rank's Lamport clock.
#[derive(Debug, Clone)]
pub struct LamportProcess {
    clock: u64,
    pattern: Pattern,
    patience: Duration,
    workload: RandomWorkload,
    /// Star initiator: which ranks have replied.
    replied: Vec<bool>,
    gave_up: bool,
    done: bool,
}

/// What a rank reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub clock: u64,
    /// Star initiator only: replies received.
    pub replies: usize,
    /// The initiator stopped waiting for lost replies.
    pub gave_up: bool,
}

type C<'a> = Ctx<'a, Msg, ClockTimer>;

impl LamportProcess {
    pub fn new(args: &LamportArgs, rank: Rank, np: usize) -> Self {
        let initiator = args.pattern == Pattern::Star && rank == 0;
        LamportProcess {
            clock: 0,
            pattern: args.pattern,
            patience: Duration::from_millis(args.patience),
            workload: RandomWorkload::new(if args.pattern == Pattern::Random {
                args.events
            } else {
                0
            }),
            replied: if initiator {
                vec![false; np]
            } else {
                Vec::new()
            },
            gave_up: false,
            // Star responders only react; the initiator and random ranks have work to do.
            done: args.pattern == Pattern::Star && !initiator,
        }
    }

    fn tick_send(&mut self, to: Rank, make: fn(u64) -> Msg, ctx: &mut C) {
        self.clock += 1;
        ctx.send(to, make(self.clock));
        ctx.stamp([self.clock]);
    }

    fn tick_local(&mut self, label: String, ctx: &mut C) {
        self.clock += 1;
        ctx.local(label);
        ctx.stamp([self.clock]);
    }

    fn replies(&self) -> usize {
        self.replied.iter().filter(|&&r| r).count()
    }
}

impl Process for LamportProcess {
    type Msg = Msg;
    type Timer = ClockTimer;
    type Output = Output;

    fn on_start(&mut self, ctx: &mut C) {
        match self.pattern {
            Pattern::Star if ctx.rank() == 0 => {
                if ctx.np() == 1 {
                    self.tick_local("alone: no one to exchange clocks with".into(), ctx);
                    self.done = true;
                    return;
                }
                for r in 1..ctx.np() {
                    self.tick_send(r, |ts| Msg::Request { ts }, ctx);
                }
                ctx.set_timer(ClockTimer::Patience, self.patience);
            }
            Pattern::Star => {}
            Pattern::Random => self.workload.schedule(ctx),
        }
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        self.clock = self.clock.max(msg.ts()) + 1;
        ctx.stamp([self.clock]);
        match msg {
            Msg::Request { .. } => self.tick_send(from, |ts| Msg::Reply { ts }, ctx),
            Msg::Reply { .. } if !self.replied.is_empty() && !self.done => {
                self.replied[from] = true;
                if self.replies() == ctx.np() - 1 {
                    self.done = true;
                    ctx.cancel_timer(ClockTimer::Patience);
                } else {
                    ctx.set_timer(ClockTimer::Patience, self.patience);
                }
            }
            Msg::Reply { .. } | Msg::Note { .. } => {}
        }
    }

    fn on_timer(&mut self, timer: ClockTimer, ctx: &mut C) {
        match timer {
            ClockTimer::Patience => {
                let label = format!("gave up: {} of {} replies", self.replies(), ctx.np() - 1);
                self.tick_local(label, ctx);
                self.gave_up = true;
                self.done = true;
            }
            ClockTimer::Next => {
                match self.workload.next(ctx) {
                    Action::SendTo(peer) => self.tick_send(peer, |ts| Msg::Note { ts }, ctx),
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
            clock: self.clock,
            replies: self.replies(),
            gave_up: self.gave_up,
        }
    }
}

/// The `lamport` binary.
pub struct Lamport;

/// The stamp of an event as a scalar clock, if it has one.
fn scalar(stamp: &Option<Vec<u64>>) -> Option<u64> {
    match stamp.as_deref() {
        Some([c]) => Some(*c),
        _ => None,
    }
}

/// The Lamport checks over a recorded history (public so that tests can feed broken ones).
///
/// Happens-before is the transitive closure of program order and message edges, so `(C, rank)`
/// extends it exactly when C grows along every such edge: checking the edges (linear) is
/// checking every happens-before pair.
pub fn check_history(h: &History) -> Vec<Check> {
    let mut unstamped = Vec::new();
    let mut stamped_events = 0;
    for (r, e) in h.events() {
        if e.kind == EventKind::Crash {
            continue;
        }
        match scalar(&e.stamp) {
            Some(_) => stamped_events += 1,
            None => unstamped.push(format!(
                "rank {r} event '{}' has no Lamport timestamp",
                e.label
            )),
        }
    }
    let stamped = Check::from_violations(
        "every-event-stamped",
        format!("{stamped_events} events"),
        unstamped,
    );

    let sends = h.send_index();
    let (mut bad_msgs, mut msgs) = (Vec::new(), 0);
    for (r, e) in h.events() {
        if let EventKind::Recv { from, seq, .. } = e.kind {
            msgs += 1;
            let send = h.send_of(&sends, from, seq).and_then(|s| scalar(&s.stamp));
            match (send, scalar(&e.stamp)) {
                (Some(s), Some(t)) if s < t => {}
                (s, t) => bad_msgs.push(format!(
                    "message {seq} of rank {from} to rank {r}: send at {s:?}, receive at {t:?}"
                )),
            }
        }
    }

    let mut bad_order = bad_msgs.clone();
    let mut program_edges = 0;
    for (r, es) in h.ranks.iter().enumerate() {
        let clocks: Vec<(u64, &str)> = es
            .iter()
            .filter(|e| e.kind != EventKind::Crash)
            .filter_map(|e| scalar(&e.stamp).map(|c| (c, e.label.as_str())))
            .collect();
        for w in clocks.windows(2) {
            program_edges += 1;
            if w[0].0 >= w[1].0 {
                bad_order.push(format!(
                    "rank {r}: '{}' at {} is followed by '{}' at {}: the clock must grow",
                    w[0].1, w[0].0, w[1].1, w[1].0
                ));
            }
        }
    }
    let clock_condition = Check::from_violations(
        "clock-condition",
        format!("send < receive for all {msgs} delivered messages"),
        bad_msgs,
    );
    let total_order = Check::from_violations(
        "total-order-extends-happens-before",
        format!(
            "(clock, rank) grows along all {program_edges} program-order and {msgs} message edges, so it orders all {} happens-before pairs",
            h.happens_before_pairs()
        ),
        bad_order,
    );
    vec![stamped, clock_condition, total_order]
}

impl Algorithm for Lamport {
    const KINDS: &'static [&'static str] = &["Request", "Reply", "Note"];
    const NAME: &'static str = "lamport";
    const ABOUT: &'static str = "Lamport logical clocks: the clock condition and the (clock, rank) total order, checked against the run's happens-before relation.";
    const NEEDS_HISTORY: bool = true;
    type Args = LamportArgs;
    type Proc = LamportProcess;

    fn build(args: &LamportArgs, rank: Rank, np: usize) -> LamportProcess {
        LamportProcess::new(args, rank, np)
    }

    fn check(_: &LamportArgs, run: &RunResult<Output>) -> Vec<Check> {
        check_history(run.history.as_ref().expect("lamport records its history"))
    }

    fn summarize(args: &LamportArgs, run: &RunResult<Output>) -> Vec<String> {
        let mut lines: Vec<String> = run
            .ranks
            .iter()
            .map(|r| {
                format!(
                    "rank {}: final clock {}{}",
                    r.rank,
                    r.output.clock,
                    if r.crashed { " (crashed)" } else { "" }
                )
            })
            .collect();
        if args.pattern == Pattern::Star && run.np > 1 {
            let o = &run.ranks[0].output;
            lines.push(format!(
                "rank 0 received {} of {} replies{}",
                o.replies,
                run.np - 1,
                if o.gave_up {
                    " and stopped waiting for the rest"
                } else {
                    ""
                }
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

    fn args(pattern: Pattern) -> LamportArgs {
        LamportArgs {
            pattern,
            events: 3,
            patience: 500,
        }
    }

    fn call(
        p: &mut LamportProcess,
        rank: Rank,
        np: usize,
        f: impl FnOnce(&mut LamportProcess, &mut C),
    ) -> Vec<Effect<Msg, ClockTimer>> {
        effects_of(p, rank, np, f)
    }

    #[test]
    fn initiator_ticks_before_each_request() {
        let mut p = LamportProcess::new(&args(Pattern::Star), 0, 3);
        let fx = call(&mut p, 0, 3, |p, c| p.on_start(c));
        assert_eq!(
            fx,
            vec![
                Effect::Send {
                    to: 1,
                    msg: Msg::Request { ts: 1 }
                },
                Effect::Stamp(vec![1]),
                Effect::Send {
                    to: 2,
                    msg: Msg::Request { ts: 2 }
                },
                Effect::Stamp(vec![2]),
                Effect::SetTimer {
                    timer: ClockTimer::Patience,
                    after: Duration::from_millis(500)
                },
            ]
        );
        assert!(!p.is_done());
    }

    #[test]
    fn responder_applies_the_receive_rule_then_ticks_on_reply() {
        let mut p = LamportProcess::new(&args(Pattern::Star), 2, 3);
        assert!(p.is_done(), "responders only react");
        p.clock = 7;
        let fx = call(&mut p, 2, 3, |p, c| {
            p.on_message(0, Msg::Request { ts: 2 }, c)
        });
        assert_eq!(
            fx,
            vec![
                Effect::Stamp(vec![8]),
                Effect::Send {
                    to: 0,
                    msg: Msg::Reply { ts: 9 }
                },
                Effect::Stamp(vec![9]),
            ]
        );
    }

    #[test]
    fn initiator_merges_replies_and_finishes_on_the_last() {
        let mut p = LamportProcess::new(&args(Pattern::Star), 0, 3);
        call(&mut p, 0, 3, |p, c| p.on_start(c));
        let fx = call(&mut p, 0, 3, |p, c| {
            p.on_message(2, Msg::Reply { ts: 4 }, c)
        });
        assert_eq!(
            fx,
            vec![
                Effect::Stamp(vec![5]),
                Effect::SetTimer {
                    timer: ClockTimer::Patience,
                    after: Duration::from_millis(500)
                },
            ]
        );
        // A duplicate does not count twice.
        call(&mut p, 0, 3, |p, c| {
            p.on_message(2, Msg::Reply { ts: 4 }, c)
        });
        assert!(!p.is_done());
        let fx = call(&mut p, 0, 3, |p, c| {
            p.on_message(1, Msg::Reply { ts: 3 }, c)
        });
        assert_eq!(
            fx,
            vec![
                Effect::Stamp(vec![7]),
                Effect::CancelTimer(ClockTimer::Patience)
            ]
        );
        assert!(p.is_done());
        assert_eq!(
            p.output(),
            Output {
                clock: 7,
                replies: 2,
                gave_up: false
            }
        );
    }

    #[test]
    fn initiator_gives_up_after_patience() {
        let mut p = LamportProcess::new(&args(Pattern::Star), 0, 3);
        call(&mut p, 0, 3, |p, c| p.on_start(c));
        let fx = call(&mut p, 0, 3, |p, c| p.on_timer(ClockTimer::Patience, c));
        assert_eq!(
            fx,
            vec![
                Effect::Local("gave up: 0 of 2 replies".into()),
                Effect::Stamp(vec![3])
            ]
        );
        assert!(p.is_done() && p.output().gave_up);
    }

    #[test]
    fn checker_catches_a_receive_not_after_its_send() {
        use crate::shared::observe::history::{Recorder, Sent};
        let mut a = Recorder::new(0, 2, true);
        let mut b = Recorder::new(1, 2, true);
        let m = Sent {
            to: 1,
            seq: 0,
            copies: 1,
            kind: "M",
            refused: false,
        };
        let vc = a.send(m, 0, || "send".into());
        a.stamp(vec![5]);
        b.recv(0, 0, "M", vc.as_deref(), 1, || "recv".into());
        b.stamp(vec![3]); // wrong: must exceed 5
        let h = History {
            ranks: vec![a.into_events(), b.into_events()],
        };
        let checks = check_history(&h);
        assert!(checks[0].passed);
        assert!(!checks[1].passed, "{checks:?}");
        assert!(!checks[2].passed, "{checks:?}");
    }
}
