//! Unit and property tests: the merge laws on random states, our CRDTs against the `crdts`
//! crate on the same operations and merges, the checker against broken runs, and the handlers.

use std::collections::{BTreeMap, BTreeSet};

use crdts::{CmRDT, CvRDT};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::check::{self, specified};
use super::crdt::*;
use super::replica::{lww_map_script, Issued, Msg, Payload, Replica, ReplicaOutput, Timer};
use super::*;
use crate::shared::process::{effects_of, sends_of};
use crate::shared::Process;

fn random_entry(kind: CrdtKind, rng: &mut ChaCha8Rng) -> Entry {
    let dot = |rng: &mut ChaCha8Rng| (rng.gen_range(0..3), rng.gen_range(1..5));
    match kind {
        CrdtKind::Gcounter | CrdtKind::Pncounter => Entry::Slot(Slot {
            p: rng.gen_range(0..10),
            n: if kind == CrdtKind::Pncounter {
                rng.gen_range(0..10)
            } else {
                0
            },
        }),
        CrdtKind::Orset => Entry::Tags(Tags {
            adds: (0..rng.gen_range(0..4)).map(|_| dot(rng)).collect(),
            removed: (0..rng.gen_range(0..3)).map(|_| dot(rng)).collect(),
        }),
        CrdtKind::Lwwmap => Entry::Lww(Lww {
            ts: rng.gen_range(0..4),
            rank: rng.gen_range(0..3),
            value: rng.gen_bool(0.7).then(|| rng.gen_range(0..3)),
        }),
    }
}

fn random_state(kind: CrdtKind, rng: &mut ChaCha8Rng) -> State {
    let mut s = State::default();
    for _ in 0..rng.gen_range(0..5) {
        s.entries
            .insert(rng.gen_range(0..4), random_entry(kind, rng));
    }
    s
}

fn joined(a: &State, b: &State) -> State {
    let mut j = a.clone();
    j.join(b);
    j
}

const KINDS: [CrdtKind; 4] = [
    CrdtKind::Gcounter,
    CrdtKind::Pncounter,
    CrdtKind::Orset,
    CrdtKind::Lwwmap,
];

#[test]
fn merge_is_commutative_associative_and_idempotent_on_random_states() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for kind in KINDS {
        for _ in 0..3000 {
            let (a, b, c) = (
                random_state(kind, &mut rng),
                random_state(kind, &mut rng),
                random_state(kind, &mut rng),
            );
            assert_eq!(joined(&a, &b), joined(&b, &a), "{kind:?} commutative");
            assert_eq!(
                joined(&joined(&a, &b), &c),
                joined(&a, &joined(&b, &c)),
                "{kind:?} associative"
            );
            assert_eq!(joined(&a, &a), a, "{kind:?} idempotent");
            // The order agrees with the join: a <= a ⊔ b, and a <= b iff a ⊔ b = b.
            assert!(a.leq(&joined(&a, &b)));
            assert_eq!(a.leq(&b), joined(&a, &b) == b, "{kind:?} order");
            // A join reports a change exactly when the state changed.
            let mut j = a.clone();
            assert_eq!(j.join(&b), j != a);
        }
    }
}

/// One replica of ours beside one of the `crdts` crate, given the same operations.
struct Pair {
    rank: u32,
    seq: u32,
    clock: Clock,
    ours: State,
    g: crdts::GCounter<u32>,
    pn: crdts::PNCounter<u32>,
    set: crdts::Orswot<u32, u32>,
    map: BTreeMap<u32, crdts::LWWReg<Option<u32>, (u64, u32)>>,
}

impl Pair {
    fn new(rank: u32) -> Self {
        Pair {
            rank,
            seq: 0,
            clock: Clock::new(ClockKind::Lamport),
            ours: State::default(),
            g: Default::default(),
            pn: Default::default(),
            set: Default::default(),
            map: BTreeMap::new(),
        }
    }
    fn apply(&mut self, op: Op) {
        self.seq += 1;
        let ts = self.clock.tick(0);
        let (k, d) = self.ours.delta(op, (self.rank, self.seq), ts);
        self.ours.join_entry(k, &d);
        let a = self.rank;
        match op {
            Op::Inc(n) => {
                let dot = self.g.inc_many(a, n);
                self.g.apply(dot);
                let o = self.pn.inc_many(a, n);
                self.pn.apply(o);
            }
            Op::Dec(n) => {
                let o = self.pn.dec_many(a, n);
                self.pn.apply(o);
            }
            Op::Add(e) => {
                let o = self.set.add(e, self.set.read_ctx().derive_add_ctx(a));
                self.set.apply(o);
            }
            Op::Remove(e) => {
                let o = self.set.rm(e, self.set.contains(&e).derive_rm_ctx());
                self.set.apply(o);
            }
            Op::Put(k, v) => self.put(k, Some(v), ts),
            Op::Del(k) => self.put(k, None, ts),
        }
    }
    fn put(&mut self, k: u32, v: Option<u32>, ts: u64) {
        let marker = (ts, self.rank);
        self.map
            .entry(k)
            .and_modify(|r| r.update(v, marker))
            .or_insert(crdts::LWWReg { val: v, marker });
    }
    fn merge_from(&mut self, o: &Pair) {
        self.ours.join(&o.ours);
        self.clock.observe(o.ours.max_ts());
        self.clock.observe(o.clock.last);
        self.g.merge(o.g.clone());
        self.pn.merge(o.pn.clone());
        self.set.merge(o.set.clone());
        for (k, r) in &o.map {
            match self.map.get_mut(k) {
                Some(mine) => mine.merge(r.clone()),
                None => {
                    self.map.insert(*k, r.clone());
                }
            }
        }
    }
    fn theirs(&self, kind: CrdtKind) -> Value {
        match kind {
            CrdtKind::Gcounter => Value::Counter(self.g.read().to_string().parse().unwrap()),
            CrdtKind::Pncounter => Value::Counter(self.pn.read().to_string().parse().unwrap()),
            CrdtKind::Orset => Value::Set(self.set.read().val.into_iter().collect()),
            CrdtKind::Lwwmap => Value::Map(
                self.map
                    .iter()
                    .filter_map(|(k, r)| r.val.map(|v| (*k, v)))
                    .collect(),
            ),
        }
    }
}

fn random_op(kind: CrdtKind, rng: &mut ChaCha8Rng) -> Op {
    let k = rng.gen_range(0..4);
    match kind {
        CrdtKind::Gcounter => Op::Inc(rng.gen_range(1..4)),
        CrdtKind::Pncounter if rng.gen_bool(0.4) => Op::Dec(rng.gen_range(1..4)),
        CrdtKind::Pncounter => Op::Inc(rng.gen_range(1..4)),
        CrdtKind::Orset if rng.gen_bool(0.4) => Op::Remove(k),
        CrdtKind::Orset => Op::Add(k),
        CrdtKind::Lwwmap if rng.gen_bool(0.3) => Op::Del(k),
        CrdtKind::Lwwmap => Op::Put(k, rng.gen_range(0..9)),
    }
}

#[test]
fn values_match_the_crdts_crate_on_the_same_operations_and_merges() {
    for kind in KINDS {
        for seed in 0..300 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut reps: Vec<Pair> = (0..3).map(Pair::new).collect();
            for _ in 0..40 {
                let i = rng.gen_range(0..3);
                if rng.gen_bool(0.6) {
                    let op = random_op(kind, &mut rng);
                    reps[i].apply(op);
                } else {
                    let j = rng.gen_range(0..3);
                    if i != j {
                        let from = std::mem::replace(&mut reps[j], Pair::new(j as u32));
                        reps[i].merge_from(&from);
                        reps[j] = from;
                    }
                }
                for r in &reps {
                    assert_eq!(
                        r.ours.value(kind),
                        r.theirs(kind),
                        "{kind:?} seed {seed}: rank {} differs from crdts",
                        r.rank
                    );
                }
            }
        }
    }
}

#[test]
fn add_wins_over_a_concurrent_remove_and_a_delete_tombstone_keeps_an_old_put_out() {
    let mut a = State::default();
    let (k, d) = a.delta(Op::Add(5), (0, 1), 0);
    a.join_entry(k, &d);
    let mut b = a.clone();
    // b removes 5 (it saw the add); a adds 5 again, concurrently.
    let (k, d) = b.delta(Op::Remove(5), (1, 1), 0);
    b.join_entry(k, &d);
    let (k, d) = a.delta(Op::Add(5), (0, 2), 0);
    a.join_entry(k, &d);
    let j = joined(&a, &b);
    assert_eq!(j.value(CrdtKind::Orset), Value::Set(BTreeSet::from([5])));
    // LWW: a delete at ts 3 beats a put at ts 2 whichever way they meet.
    let mut p = State::default();
    let (k, d) = p.delta(Op::Put(1, 7), (0, 1), 2);
    p.join_entry(k, &d);
    let mut q = State::default();
    let (k, d) = q.delta(Op::Del(1), (1, 1), 3);
    q.join_entry(k, &d);
    assert_eq!(
        joined(&p, &q).value(CrdtKind::Lwwmap),
        Value::Map(BTreeMap::new())
    );
    assert_eq!(joined(&q, &p), joined(&p, &q));
}

#[test]
fn hybrid_clock_is_never_behind_what_it_saw() {
    let mut c = Clock::new(ClockKind::Hybrid);
    let t1 = c.tick(10);
    assert_eq!(hybrid_parts(t1), (10, 0));
    c.observe(50 << 16);
    let t2 = c.tick(20);
    assert!(t2 > 50 << 16, "a skewed peer's timestamp is overtaken");
    let mut l = Clock::new(ClockKind::Lamport);
    assert_eq!((l.tick(99), l.tick(0)), (1, 2));
}

fn args(line: &str) -> Args {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        a: Args,
    }
    let argv = std::iter::once("anti-entropy").chain(line.split_whitespace());
    Cli::parse_from(argv).a
}

fn outputs_after(args: &Args, np: usize) -> Vec<ReplicaOutput> {
    (0..np)
        .map(|r| {
            let mut p = Replica::new(args, r, np);
            effects_of(&mut p, r, np, |p, c| p.on_start(c));
            p.output()
        })
        .collect()
}

#[test]
fn the_lww_map_scenario_gives_the_c_originals_map() {
    let a = args("--crdt lwwmap --scenario lww-map --clock lamport");
    let outs = outputs_after(&a, 4);
    let ops: Vec<&Issued> = outs.iter().flat_map(|o| &o.ops).collect();
    assert_eq!(ops.len(), 6);
    assert_eq!(lww_map_script(1), vec![Op::Put(0, 2), Op::Del(1)]);
    let mut all = State::default();
    for o in &outs {
        all.join(&o.state);
    }
    let want = Value::Map(BTreeMap::from([(0, 2), (2, 2)]));
    assert_eq!(
        all.value(CrdtKind::Lwwmap),
        want,
        "a => v2@r1, c => v2@r3, b deleted"
    );
    assert_eq!(specified(CrdtKind::Lwwmap, &ops), want);
}

#[test]
fn start_issues_the_first_update_and_pushes_nothing_before_a_round() {
    let a = args("--crdt gcounter --updates 3");
    let mut p = Replica::new(&a, 2, 4);
    let fx = effects_of(&mut p, 2, 4, |p, c| p.on_start(c));
    assert!(sends_of(&fx).is_empty());
    assert_eq!(p.output().value, Value::Counter(3), "rank 2 adds 3");
    // A round pushes the state to one peer, asking for an answer (push-pull).
    let fx = effects_of(&mut p, 2, 4, |p, c| p.on_timer(Timer::Round, c));
    let sends = sends_of(&fx);
    assert_eq!(sends.len(), 1);
    match &sends[0].1 {
        Msg::Push {
            payload: Payload::Full(e),
            answer: true,
            ..
        } => assert_eq!(e.len(), 1),
        m => panic!("{m:?}"),
    }
}

#[test]
fn a_push_pull_exchange_leaves_both_with_the_join() {
    let a = args("--crdt orset --updates 2");
    let mut x = Replica::new(&a, 0, 2);
    let mut y = Replica::new(&a, 1, 2);
    effects_of(&mut x, 0, 2, |p, c| p.on_start(c));
    effects_of(&mut y, 1, 2, |p, c| p.on_start(c));
    let push = sends_of(&effects_of(&mut x, 0, 2, |p, c| {
        p.on_timer(Timer::Round, c)
    }));
    let answer = sends_of(&effects_of(&mut y, 1, 2, |p, c| {
        p.on_message(0, push[0].1.clone(), c)
    }));
    effects_of(&mut x, 0, 2, |p, c| p.on_message(1, answer[0].1.clone(), c));
    assert_eq!(x.output().state, y.output().state);
}

#[test]
fn deltas_ship_only_what_the_peer_lacks() {
    let a = args("--crdt lwwmap --updates 3 --deltas --mode push");
    let mut x = Replica::new(&a, 0, 2);
    effects_of(&mut x, 0, 2, |p, c| p.on_start(c));
    let first = sends_of(&effects_of(&mut x, 0, 2, |p, c| {
        p.on_timer(Timer::Round, c)
    }));
    let n = |m: &Msg| match m {
        Msg::Push {
            payload: Payload::Deltas(d),
            ..
        } => d.len(),
        m => panic!("{m:?}"),
    };
    assert_eq!(n(&first[0].1), 1);
    effects_of(&mut x, 0, 2, |p, c| p.on_timer(Timer::Update, c));
    let second = sends_of(&effects_of(&mut x, 0, 2, |p, c| {
        p.on_timer(Timer::Round, c)
    }));
    assert_eq!(n(&second[0].1), 1, "only the new update");
}

fn run_of(a: &Args, outs: Vec<ReplicaOutput>) -> RunResult<ReplicaOutput> {
    let _ = a;
    RunResult::of_outputs("anti-entropy", Default::default(), outs)
}

#[test]
fn checker_catches_a_replica_apart_an_invented_value_and_a_false_convergence() {
    let a = args("--crdt orset --updates 2");
    let mut outs = outputs_after(&a, 3);
    let mut all = State::default();
    for o in &outs {
        all.join(&o.state);
    }
    for o in &mut outs {
        o.state = all.clone();
        o.value = all.value(CrdtKind::Orset);
    }
    let good = run_of(&a, outs.clone());
    assert!(
        check::check(&a, &good).iter().all(|c| c.passed),
        "{:?}",
        check::check(&a, &good)
    );
    // Rank 1 misses an update, and says it converged.
    let mut apart = outs.clone();
    apart[1].state = outs[1].ops.iter().fold(State::default(), |mut s, o| {
        s.join_entry(o.key, &o.delta);
        s
    });
    apart[1].end = Some(replica::End::Converged);
    let c = check::check(&a, &run_of(&a, apart));
    assert!(
        !c[1].passed && c[1].detail.contains("said it had converged"),
        "{c:?}"
    );
    // Rank 2 holds an element nobody added.
    let mut invented = outs.clone();
    invented[2].state.entries.insert(
        999,
        Entry::Tags(Tags {
            adds: BTreeSet::from([(7, 7)]),
            removed: BTreeSet::new(),
        }),
    );
    let c = check::check(&a, &run_of(&a, invented));
    assert!(!c[0].passed && c[0].detail.contains("rank 2"), "{c:?}");
    // A remove that did not win over the add it observed breaks the specification.
    let mut s = State::default();
    let (k, d) = s.delta(Op::Add(1), (0, 1), 0);
    s.join_entry(k, &d);
    let add = Issued {
        dot: (0, 1),
        op: Op::Add(1),
        ts: 0,
        at_ms: 0.0,
        key: k,
        delta: d,
    };
    let (k, d) = s.delta(Op::Remove(1), (0, 2), 0);
    let rm = Issued {
        dot: (0, 2),
        op: Op::Remove(1),
        ts: 0,
        at_ms: 0.0,
        key: k,
        delta: d,
    };
    assert_eq!(
        specified(CrdtKind::Orset, &[&add, &rm]),
        Value::Set(BTreeSet::new())
    );
    assert_eq!(
        specified(CrdtKind::Orset, &[&add]),
        Value::Set(BTreeSet::from([1]))
    );
}

#[test]
fn a_push_pull_delta_exchange_is_three_messages_each_exact() {
    let a = args("--crdt orset --updates 2 --deltas");
    let mut x = Replica::new(&a, 0, 2);
    let mut y = Replica::new(&a, 1, 2);
    effects_of(&mut x, 0, 2, |p, c| p.on_start(c));
    effects_of(&mut y, 1, 2, |p, c| p.on_start(c));
    let pull = sends_of(&effects_of(&mut x, 0, 2, |p, c| {
        p.on_timer(Timer::Round, c)
    }));
    assert!(matches!(pull[0].1, Msg::Pull { .. }), "{pull:?}");
    let answer = sends_of(&effects_of(&mut y, 1, 2, |p, c| {
        p.on_message(0, pull[0].1.clone(), c)
    }));
    let back = sends_of(&effects_of(&mut x, 0, 2, |p, c| {
        p.on_message(1, answer[0].1.clone(), c)
    }));
    match &back[0].1 {
        Msg::Push {
            payload: Payload::Deltas(d),
            answer: false,
            ..
        } => assert_eq!(d.len(), 1, "only x's own update"),
        m => panic!("{m:?}"),
    }
    let none = sends_of(&effects_of(&mut y, 1, 2, |p, c| {
        p.on_message(0, back[0].1.clone(), c)
    }));
    assert!(none.is_empty());
    assert_eq!(x.output().state, y.output().state);
}
