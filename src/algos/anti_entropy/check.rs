//! The checks of `anti-entropy`, over every rank's final state and the updates every rank
//! issued (see the module doc of [`super`]).

use std::collections::{BTreeMap, BTreeSet};

use super::crdt::{CrdtKind, Entry, Op, State, Value};
use super::replica::{End, Issued, ReplicaOutput};
use super::Args;
use crate::shared::faults::FaultPlan;
use crate::shared::{Check, RunResult};

/// The join of the deltas of `ops`.
pub fn join_of<'a>(ops: impl IntoIterator<Item = &'a Issued>) -> State {
    let mut s = State::default();
    for o in ops {
        s.join_entry(o.key, &o.delta);
    }
    s
}

/// Whether `state` holds `op` (its delta is below the state).
pub fn holds(state: &State, op: &Issued) -> bool {
    join_of([op]).leq(state)
}

/// The value the sequential specification gives to `ops` (the updates a state holds):
/// counters sum their increments and decrements; the OR-Set holds the elements with an add
/// that no remove of the same element observed (add-wins); the LWW-Map applies puts and
/// deletes in (timestamp, rank) order, the last writer winning.
pub fn specified(kind: CrdtKind, ops: &[&Issued]) -> Value {
    match kind {
        CrdtKind::Gcounter | CrdtKind::Pncounter => {
            let mut c: i64 = 0;
            for o in ops {
                match o.op {
                    Op::Inc(a) => c += a as i64,
                    Op::Dec(a) => c -= a as i64,
                    _ => {}
                }
            }
            Value::Counter(c)
        }
        CrdtKind::Orset => {
            let mut observed: BTreeMap<u32, BTreeSet<(u32, u32)>> = BTreeMap::new();
            for o in ops {
                if let (Op::Remove(e), Entry::Tags(t)) = (o.op, &o.delta) {
                    observed
                        .entry(e)
                        .or_default()
                        .extend(t.removed.iter().copied());
                }
            }
            let mut set = BTreeSet::new();
            for o in ops {
                if let Op::Add(e) = o.op {
                    if !observed.get(&e).is_some_and(|r| r.contains(&o.dot)) {
                        set.insert(e);
                    }
                }
            }
            Value::Set(set)
        }
        CrdtKind::Lwwmap => {
            let mut writes: Vec<&&Issued> = ops
                .iter()
                .filter(|o| matches!(o.op, Op::Put(..) | Op::Del(_)))
                .collect();
            writes.sort_by_key(|o| (o.ts, o.dot.0));
            let mut map = BTreeMap::new();
            for w in writes {
                match w.op {
                    Op::Put(k, v) => {
                        map.insert(k, v);
                    }
                    Op::Del(k) => {
                        map.remove(&k);
                    }
                    _ => {}
                }
            }
            Value::Map(map)
        }
    }
}

/// Whether the fault plan lets the replicas converge before `--duration`: every partition
/// healed, links that deliver at least half the time (or heal), bounded extra delay, and the
/// updates over, all by half the run; `Err(why)` otherwise.
pub fn convergence_required(args: &Args, faults: &FaultPlan, np: usize) -> Result<(), String> {
    let half = args.duration / 2;
    if let Some(p) = faults.partitions.iter().find(|p| p.to_ms > half) {
        return Err(format!(
            "a partition lasts until {} ms, past half of the --duration of {} ms",
            p.to_ms, args.duration
        ));
    }
    if faults.drop > 0.5 && faults.heal_ms.is_none_or(|h| h > half) {
        return Err(format!(
            "links drop {} of the messages until past half of the run",
            faults.drop
        ));
    }
    if let Some((_, hi)) = faults.delay_ms {
        if hi > args.duration / 8 && faults.heal_ms.is_none_or(|h| h > half) {
            return Err(format!(
                "messages are delayed up to {hi} ms, over an eighth of the run"
            ));
        }
    }
    let updates_end = args.updates_end_ms();
    if updates_end > half {
        return Err(format!(
            "the updates go on until {updates_end} ms, past half of the run"
        ));
    }
    let crashed: BTreeSet<usize> = faults.crashes.iter().map(|c| c.rank).collect();
    if crashed.len() >= np {
        return Err("every rank crashes".into());
    }
    Ok(())
}

/// Every check of a run.
pub fn check(args: &Args, run: &RunResult<ReplicaOutput>) -> Vec<Check> {
    let kind = args.crdt;
    let all_ops: Vec<&Issued> = run.ranks.iter().flat_map(|r| &r.output.ops).collect();
    let everything = join_of(all_ops.iter().copied());
    let correct: Vec<_> = run.correct_ranks().collect();

    // Only real updates: no correct replica holds what no update produced.
    let mut unreal = Vec::new();
    for r in &correct {
        if !r.output.state.leq(&everything) {
            unreal.push(format!(
                "rank {} holds {}, beyond the join of every update issued ({})",
                r.rank,
                r.output.state.value(kind),
                everything.value(kind)
            ));
        }
    }
    let real = Check::from_violations(
        "only-real-updates",
        format!(
            "every correct replica is below the join of the {} updates issued",
            all_ops.len()
        ),
        unreal,
    );

    // Strong eventual consistency: the join of every update a correct replica holds (its
    // own, and those of crashed ranks that escaped to one).
    let applied: Vec<&Issued> = run
        .ranks
        .iter()
        .flat_map(|r| r.output.ops.iter().map(move |o| (r.crashed, o)))
        .filter(|(crashed, o)| !crashed || correct.iter().any(|c| holds(&c.output.state, o)))
        .map(|(_, o)| o)
        .collect();
    let expected = join_of(applied.iter().copied());
    let mut apart = Vec::new();
    let mut early = Vec::new();
    for r in &correct {
        if r.output.state != expected {
            let line = format!(
                "rank {} ends at {} ({} entries), the join of the {} updates applied is {} ({} entries)",
                r.rank,
                r.output.state.value(kind),
                r.output.state.entries.len(),
                applied.len(),
                expected.value(kind),
                expected.entries.len()
            );
            if r.output.end == Some(End::Converged) {
                early.push(format!("{line}, though it said it had converged"));
            } else {
                apart.push(line);
            }
        }
    }
    let converged = correct.len() - apart.len() - early.len();
    let required = convergence_required(args, &run.faults, run.np);
    let sec_detail = format!(
        "all {} correct replicas equal the join of the {} updates applied ({} of them escaped crashed ranks): {}",
        correct.len(),
        applied.len(),
        applied
            .iter()
            .filter(|o| run.ranks[o.dot.0 as usize].crashed)
            .count(),
        expected.value(kind)
    );
    let sec = match (&required, early.is_empty()) {
        // Convergence announced on a state that is not the join is wrong in any plan.
        (_, false) => Check::from_violations("strong-eventual-consistency", sec_detail, early),
        (Ok(()), true) => Check::from_violations("strong-eventual-consistency", sec_detail, apart),
        (Err(why), true) => Check::if_required(
            "strong-eventual-consistency",
            Err(format!(
                "{why}; {converged} of {} correct replicas equal the join of the updates applied",
                correct.len()
            )),
            String::new(),
            Vec::new(),
        ),
    };

    // Sequential specification of the values, replica by replica.
    let mut wrong = Vec::new();
    for r in &correct {
        let held: Vec<&Issued> = all_ops
            .iter()
            .copied()
            .filter(|o| holds(&r.output.state, o))
            .collect();
        let want = specified(kind, &held);
        let got = r.output.state.value(kind);
        if got != want {
            wrong.push(format!(
                "rank {} reads {got}, the specification of the {} updates it holds gives {want}",
                r.rank,
                held.len()
            ));
        }
    }
    let spec = Check::from_violations(
        "sequential-specification",
        format!(
            "every correct replica reads what the {} specification gives for the updates it holds",
            match kind {
                CrdtKind::Gcounter | CrdtKind::Pncounter => "counter (the sum)",
                CrdtKind::Orset => "add-wins set",
                CrdtKind::Lwwmap => "last-writer-wins map, by (timestamp, rank),",
            }
        ),
        wrong,
    );
    vec![real, sec, spec]
}
