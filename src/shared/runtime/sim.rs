//! The deterministic simulator: all ranks in one process, virtual time, seeded latencies, and
//! the same fault plan as under MPI.
//!
//! One event queue ordered by (virtual time, insertion order) holds starts, crashes, message
//! deliveries and timer wake-ups. Links have a seeded base latency of 0.5 to 1.5 ms and are
//! FIFO, like MPI's non-overtaking rule; `--delay` adds extra latency per copy, which reorders.
//! Every random choice comes from RNGs seeded by `--seed`, and nothing iterates a hash map, so
//! the same seed gives the same run, byte for byte. SIGINT or SIGTERM
//! ([`crate::shared::interrupt`]) stops the run at its next event.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::runner::{Envelope, Outgoing, RankRunner};
use crate::shared::algorithm::Algorithm;
use crate::shared::faults::FaultPlan;
use crate::shared::interrupt;
use crate::shared::observe::history::History;
use crate::shared::observe::report::{Ending, RunResult};
use crate::shared::process::{Process, Rank};

const BASE_LATENCY_US: std::ops::RangeInclusive<u64> = 500..=1500;

/// Parameters of one simulated run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub np: usize,
    pub seed: u64,
    pub faults: FaultPlan,
    pub timeout_us: u64,
    /// Record the event history even if the algorithm does not need it.
    pub record: bool,
}

enum Item<M> {
    /// A scheduled crash or restart.
    Life(Rank),
    Start(Rank),
    Timer(Rank),
    Deliver {
        from: Rank,
        to: Rank,
        env: Envelope<M>,
    },
}

struct Entry<M> {
    t: u64,
    seq: u64,
    item: Item<M>,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<M> Ord for Entry<M> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest entry.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.t, o.seq).cmp(&(self.t, self.seq))
    }
}

struct Queue<M> {
    heap: BinaryHeap<Entry<M>>,
    seq: u64,
}

impl<M> Queue<M> {
    fn push(&mut self, t: u64, item: Item<M>) {
        self.seq += 1;
        self.heap.push(Entry {
            t,
            seq: self.seq,
            item,
        });
    }
}

/// Run one simulation of algorithm `A`.
pub fn simulate<A: Algorithm>(
    args: &A::Args,
    cfg: &SimConfig,
) -> RunResult<<A::Proc as Process>::Output> {
    let np = cfg.np;
    let record = cfg.record || A::NEEDS_HISTORY;
    let mut runners: Vec<RankRunner<A::Proc>> = (0..np)
        .map(|r| {
            RankRunner::new(
                A::build(args, r, np),
                r,
                np,
                cfg.seed,
                cfg.faults.clone(),
                record,
            )
        })
        .collect();
    let mut link_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7369_6d75_6c61_7465);
    let mut last_arrival = vec![0u64; np * np];
    let mut q = Queue {
        heap: BinaryHeap::new(),
        seq: 0,
    };
    // Crashes first, so that a crash at 0 ms precedes the start: that rank never runs.
    for r in 0..np {
        for (t, _) in cfg.faults.schedule_of(r) {
            q.push(t * 1000, Item::Life(r));
        }
    }
    for r in 0..np {
        q.push(0, Item::Start(r));
    }
    let mut unfinished = np;
    let mut next_ticket = 0u64;
    let mut in_flight = 0usize;
    // The earliest timer wake-up queued per rank; stale wake-ups are skipped when popped.
    let mut wake: Vec<Option<u64>> = vec![None; np];
    let mut out: Vec<Outgoing<<A::Proc as Process>::Msg>> = Vec::new();
    let mut now = 0u64;
    let mut ending = Ending::Stuck;

    while let Some(Entry { t, item, .. }) = q.heap.pop() {
        if interrupt::requested() {
            ending = Ending::Interrupted;
            break;
        }
        if t > cfg.timeout_us {
            now = cfg.timeout_us;
            ending = Ending::TimedOut;
            break;
        }
        now = t;
        let rank = match &item {
            Item::Life(r) | Item::Start(r) | Item::Timer(r) => *r,
            Item::Deliver { to, .. } => *to,
        };
        let runner = &mut runners[rank];
        let was_finished = runner.finished();
        match item {
            Item::Life(_) => {
                runner.live(now, &mut out, |stored| A::recover(args, rank, np, stored))
            }
            Item::Start(_) => runner.start(now, &mut out),
            Item::Timer(_) => {
                if wake[rank] == Some(now) {
                    wake[rank] = None;
                }
                runner.fire_due_timers(now, &mut out);
            }
            Item::Deliver { from, env, .. } => {
                in_flight -= 1;
                runner.deliver(from, env, now, &mut out);
            }
        }
        // Tickets come from one counter, at once (an RMA fetch-and-add takes no message).
        runner.serve_tickets(now, &mut out, || {
            next_ticket += 1;
            next_ticket - 1
        });
        match (was_finished, runner.finished()) {
            (false, true) => unfinished -= 1,
            (true, false) => unfinished += 1,
            _ => {}
        }
        if let Some(at) = runner.next_timer() {
            if wake[rank].is_none_or(|w| at < w) {
                wake[rank] = Some(at);
                q.push(at, Item::Timer(rank));
            }
        }
        for o in out.drain(..) {
            let link = rank * np + o.to;
            let base = now + link_rng.gen_range(BASE_LATENCY_US);
            let fifo = base.max(last_arrival[link]);
            last_arrival[link] = fifo;
            in_flight += 1;
            q.push(
                fifo + o.delay_us,
                Item::Deliver {
                    from: rank,
                    to: o.to,
                    env: o.env,
                },
            );
        }
        if unfinished == 0 && in_flight == 0 {
            ending = Ending::Finished;
            break;
        }
    }

    let mut ranks = Vec::with_capacity(np);
    let mut history = History::default();
    for n in runners {
        let (result, events) = n.finish();
        ranks.push(result);
        history.ranks.push(events);
    }
    RunResult {
        algorithm: A::NAME,
        driver: "sim",
        np,
        seed: cfg.seed,
        faults: RunResult::faults_with_hits(&cfg.faults, &ranks),
        ending,
        elapsed_s: now as f64 / 1e6,
        ranks,
        history: record.then_some(history),
        groups: Vec::new(),
    }
}
