//! A linearizability checker for histories of read/write registers, in the style of Wing &
//! Gong with Lowe's memoization (the algorithm of Porcupine and Knossos' `wgl`).
//!
//! A history is a set of operations, each with the interval in which it was pending (invoke to
//! return, on one clock) and what it wrote or read. It is linearizable if the operations can be
//! put in one sequential order that respects real time (an operation that returned before
//! another was invoked comes first) and in which every read returns the latest write before it
//! (or nothing, if there is none). A key-value map is linearizable iff each key's history is
//! (P-compositionality: linearizability is local), so callers check key by key, which keeps the
//! search small.
//!
//! The search walks the operations in invoke order, tries to linearize each one whose invoke
//! came before the earliest pending return, and backtracks when a return is reached with its
//! operation not linearized. A cache of (set of linearized operations, register value) cuts
//! the revisits that make the naive search exponential.
//!
//! Writes usually write distinct values (the hashmap's are (client, operation) pairs). Then
//! each read names the write it saw and the question is polynomial: `check_distinct` decides
//! it exactly in O(n log n), whatever the concurrency, and the search is left for histories in
//! which some value was written twice.
//!
//! - An operation that never returned (timed out) may have taken effect or not: a write keeps
//!   an open interval (it may be linearized at any point after its invoke, last included,
//!   which is the same as never); a read that never returned constrains nothing and is left out.
//!   The search narrows such a write to a closed interval, or one it may drop, without
//!   changing any verdict (see [`search_within`]); the tests hold both checks to an exhaustive
//!   search from the definition on random histories with repeated values.
//! - Clock uncertainty: intervals are widened by each operation's uncertainty on both sides,
//!   so two operations that might have overlapped count as concurrent and no violation is
//!   reported that a clock error could explain. Operations that touch (one returns the
//!   microsecond the other is invoked) also count as concurrent.
//! - On a violation, [`explain`] shrinks the history to a minimal set of operations that is
//!   still not linearizable (without any one of them it would be) and says why.

use std::collections::HashSet;

/// What an operation did. Values are ids: equal ids are equal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegOp {
    Write(u32),
    /// The value read; `None`: the register was empty.
    Read(Option<u32>),
}

/// One operation of a register's history (times in µs on one clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub op: RegOp,
    pub invoke: i64,
    /// `None`: it never returned.
    pub ret: Option<i64>,
    /// How far either end may be off (clock uncertainty, µs).
    pub slack: i64,
}

impl Operation {
    fn start(&self) -> i64 {
        self.invoke - self.slack
    }
    fn end(&self) -> i64 {
        self.ret.map_or(i64::MAX, |r| r.saturating_add(self.slack))
    }
    /// Whether `self` surely returned before `other` was invoked.
    pub fn precedes(&self, other: &Operation) -> bool {
        self.end() < other.start()
    }
}

#[derive(Clone, Copy)]
struct Node {
    op: usize,
    is_call: bool,
    /// For a call: the index of its return node.
    mate: usize,
    prev: usize,
    next: usize,
}

const NIL: usize = usize::MAX;

/// The verdict on one register's history.
pub fn check(ops: &[Operation]) -> Result<(), Verdict> {
    check_within(ops, DEFAULT_BUDGET)
}

/// Search steps [`check`] takes at most per history before it says [`Verdict::Undecided`].
pub const DEFAULT_BUDGET: u64 = 50_000_000;

/// Why a history was not found linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No linearization exists; operations (indices into the input) that show it: a subset
    /// that is not linearizable on its own (distinct values), or those of the longest partial
    /// linearization the search found.
    Violation(Vec<usize>),
    /// The search ran out of its budget of steps before deciding.
    Undecided(u64),
}

/// [`check`] with a budget of search steps: histories whose writes all wrote different values
/// are decided exactly in O(n log n) (`check_distinct`), the others by the search.
pub fn check_within(all: &[Operation], budget: u64) -> Result<(), Verdict> {
    check_distinct(all).unwrap_or_else(|| search_within(all, budget))
}

/// The cluster of one write: the write and the reads that returned its value (or, with no
/// write, the reads that found the register empty).
struct Cluster {
    write: Option<usize>,
    /// The earliest end among its operations, and that operation (`None` for the empty
    /// register's cluster, which must come before every other: its `f` is `i64::MIN`).
    f: i64,
    f_op: Option<usize>,
    /// The latest start among its operations, and that operation.
    s: i64,
    s_op: usize,
}

/// The exact verdict on a history whose writes all wrote different values, or `None` if a
/// value was written twice.
///
/// With distinct values every read names the write it saw, and a linearization is an order of
/// clusters (a write, then the reads of its value; the reads of the empty register first) in
/// which each read follows its own write. Cluster A must come before cluster B iff some
/// operation of A precedes one of B, i.e. iff `f(A) < s(B)` (A's earliest end before B's
/// latest start). So the history is linearizable iff no read returned a value nobody wrote,
/// no read precedes its own write, and this order on clusters has no cycle. It has none iff it
/// has no cycle of two: in a cycle, let A and B be the two clusters with the smallest `f`; A's
/// predecessor P in it is not A, so `f(B) <= f(P) < s(A)`, and likewise `f(A) < s(B)`. (The
/// "zones" of Gibbons & Korach, 1997, and Anderson et al., 2010: no two forward zones overlap,
/// no backward zone lies inside a forward one.)
/// The witness of a violation is at most six operations: the two clusters' writes and the
/// operations that set their `f` and `s`, which keep the same `f` and `s` on their own.
fn check_distinct(all: &[Operation]) -> Option<Result<(), Verdict>> {
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut of_value: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (i, o) in all.iter().enumerate() {
        if let RegOp::Write(v) = o.op {
            if of_value.insert(v, clusters.len()).is_some() {
                return None;
            }
            clusters.push(Cluster {
                write: Some(i),
                f: o.end(),
                f_op: Some(i),
                s: o.start(),
                s_op: i,
            });
        }
    }
    let violation = |mut ops: Vec<usize>| {
        ops.sort_unstable();
        ops.dedup();
        Some(Err(Verdict::Violation(ops)))
    };
    let mut empty: Option<usize> = None;
    for (i, o) in all.iter().enumerate() {
        // A read that never returned constrains nothing.
        let (RegOp::Read(v), Some(_)) = (o.op, o.ret) else {
            continue;
        };
        let c = match v {
            Some(v) => match of_value.get(&v) {
                Some(&c) => c,
                None => return violation(vec![i]),
            },
            None => *empty.get_or_insert_with(|| {
                clusters.push(Cluster {
                    write: None,
                    f: i64::MIN,
                    f_op: None,
                    s: i64::MIN,
                    s_op: i,
                });
                clusters.len() - 1
            }),
        };
        let cl = &mut clusters[c];
        if let Some(w) = cl.write {
            if o.precedes(&all[w]) {
                return violation(vec![w, i]);
            }
            if o.end() < cl.f {
                (cl.f, cl.f_op) = (o.end(), Some(i));
            }
        }
        if o.start() > cl.s {
            (cl.s, cl.s_op) = (o.start(), i);
        }
    }
    // In order of f: for each cluster B, the clusters before it with f(A) < s(B) are a prefix;
    // the largest s in that prefix tells whether one of them also has B before it.
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    order.sort_by_key(|&c| (clusters[c].f, c));
    let mut best: Vec<usize> = Vec::with_capacity(order.len());
    for (j, &c) in order.iter().enumerate() {
        best.push(match j {
            0 => c,
            _ if clusters[c].s > clusters[best[j - 1]].s => c,
            _ => best[j - 1],
        });
    }
    for (j, &b) in order.iter().enumerate() {
        let cb = &clusters[b];
        let m = j.min(order.partition_point(|&a| clusters[a].f < cb.s));
        if m == 0 {
            continue;
        }
        let a = best[m - 1];
        if clusters[a].s > cb.f {
            let ca = &clusters[a];
            let ops = [
                ca.write,
                ca.f_op,
                Some(ca.s_op),
                cb.write,
                cb.f_op,
                Some(cb.s_op),
            ];
            return violation(ops.into_iter().flatten().collect());
        }
    }
    Some(Ok(()))
}

/// The Wing & Gong search with Lowe's cache alone, for any history (`check_within` calls it
/// only where a value was written twice; public to compare the two).
pub fn search_within(all: &[Operation], budget: u64) -> Result<(), Verdict> {
    // Open intervals are what makes the search blow up (each doubles the states to visit), so
    // a write that never returned, of value v, is narrowed without changing any verdict:
    // - nobody read v: it can go last, where it constrains nothing: left out;
    // - it alone wrote v: every read of v follows it, so it took effect before the earliest
    //   return of one: closed there;
    // - v was also written by others: if it took effect after every read of v had returned,
    //   the next operation is a write (a read would return v) or nothing, so it can as well go
    //   last. It is closed at the latest return of a read of v but *optional*: the search may
    //   drop it when that return comes (left out if it was invoked after it).
    let mut writers: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut read_ends: std::collections::HashMap<u32, (i64, i64)> =
        std::collections::HashMap::new();
    for o in all {
        match (o.op, o.ret) {
            (RegOp::Write(v), _) => *writers.entry(v).or_default() += 1,
            (RegOp::Read(Some(v)), Some(_)) => {
                let end = o.end();
                let e = read_ends.entry(v).or_insert((end, end));
                *e = (e.0.min(end), e.1.max(end));
            }
            (RegOp::Read(_), _) => {}
        }
    }
    // (index in `all`, the operation as searched, optional).
    let mut ops: Vec<(usize, Operation, bool)> = all
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match (o.op, o.ret) {
            (_, Some(_)) => Some((i, *o, false)),
            (RegOp::Read(_), None) => None,
            (RegOp::Write(v), None) => {
                let (first, last) = *read_ends.get(&v)?;
                let close = |end: i64| Operation {
                    ret: Some(end - o.slack),
                    ..*o
                };
                if writers[&v] == 1 {
                    Some((i, close(first), false))
                } else {
                    (o.start() <= last).then(|| (i, close(last), true))
                }
            }
        })
        .collect();
    // Numbered in invoke order: the linearized set is then a prefix (below `lo`) and a short
    // window above it, and only the window goes into the cache key.
    ops.sort_by_key(|(i, o, _)| (o.start(), *i));
    if ops.is_empty() {
        return Ok(());
    }
    // Events: calls at their start, returns at their end; at equal times calls first (so that
    // touching intervals overlap).
    let mut events: Vec<(i64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (k, (_, o, _)) in ops.iter().enumerate() {
        events.push((o.start(), true, k));
        events.push((o.end(), false, k));
    }
    events.sort_by_key(|&(t, call, k)| (t, !call, k));
    // A doubly linked list with a sentinel head at index `n`.
    let n = events.len();
    let mut nodes: Vec<Node> = Vec::with_capacity(n + 1);
    let (mut ret_at, mut call_at) = (vec![0usize; ops.len()], vec![0usize; ops.len()]);
    for (i, &(_, call, k)) in events.iter().enumerate() {
        if call {
            call_at[k] = i;
        } else {
            ret_at[k] = i;
        }
        nodes.push(Node {
            op: k,
            is_call: call,
            mate: NIL,
            prev: if i == 0 { n } else { i - 1 },
            next: if i + 1 == n { NIL } else { i + 1 },
        });
    }
    for node in nodes.iter_mut() {
        if node.is_call {
            node.mate = ret_at[node.op];
        }
    }
    nodes.push(Node {
        op: NIL,
        is_call: false,
        mate: NIL,
        prev: NIL,
        next: 0,
    });
    let head = n;

    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut lo = 0usize;
    let mut cache: HashSet<(u32, Vec<u64>, Option<u32>)> = HashSet::new();
    let mut state: Option<u32> = None;
    // (call node, state before, whether the operation was dropped rather than linearized).
    let mut stack: Vec<(usize, Option<u32>, bool)> = Vec::new();
    let mut deepest: Vec<usize> = Vec::new();
    let mut entry = nodes[head].next;
    let mut steps = 0u64;

    let unlink = |nodes: &mut Vec<Node>, i: usize| {
        let (p, nx) = (nodes[i].prev, nodes[i].next);
        nodes[p].next = nx;
        if nx != NIL {
            nodes[nx].prev = p;
        }
    };
    let relink = |nodes: &mut Vec<Node>, i: usize| {
        let (p, nx) = (nodes[i].prev, nodes[i].next);
        nodes[p].next = i;
        if nx != NIL {
            nodes[nx].prev = i;
        }
    };

    while nodes[head].next != NIL {
        steps += 1;
        if steps > budget {
            return Err(Verdict::Undecided(budget));
        }
        if entry == NIL {
            // Cannot happen: the list ends with a return, handled below.
            break;
        }
        let node = nodes[entry];
        let k = node.op;
        // A call is linearized here if the register allows it; at the return of an optional
        // operation it may be dropped (linearized last, which changes nothing).
        let next_state = match (node.is_call, ops[k].1.op) {
            (true, RegOp::Write(v)) => Some(Some(v)),
            (true, RegOp::Read(v)) if v == state => Some(state),
            (false, _) if ops[k].2 => Some(state),
            _ => None,
        };
        if let Some(s) = next_state {
            linearized[k / 64] |= 1 << (k % 64);
            let was_lo = lo;
            while lo < ops.len() && linearized[lo / 64] & (1 << (lo % 64)) != 0 {
                lo += 1;
            }
            if cache.insert((lo as u32, window(&linearized, lo), s)) {
                let call = if node.is_call { entry } else { call_at[k] };
                stack.push((call, state, !node.is_call));
                state = s;
                // Lift the call and its return out of the list.
                let mate = nodes[call].mate;
                unlink(&mut nodes, call);
                unlink(&mut nodes, mate);
                entry = nodes[head].next;
                continue;
            }
            linearized[k / 64] &= !(1 << (k % 64));
            lo = was_lo;
        }
        if node.is_call {
            entry = node.next;
            continue;
        }
        // A return whose operation is not linearized: undo the last choice (and the one before
        // a drop, which was the last choice at its level).
        if stack.len() > deepest.len() {
            deepest = stack.iter().map(|&(e, ..)| ops[nodes[e].op].0).collect();
        }
        loop {
            let Some((e, s, dropped)) = stack.pop() else {
                return Err(Verdict::Violation(deepest));
            };
            state = s;
            let k = nodes[e].op;
            linearized[k / 64] &= !(1 << (k % 64));
            lo = lo.min(k);
            let mate = nodes[e].mate;
            relink(&mut nodes, mate);
            relink(&mut nodes, e);
            if !dropped {
                entry = nodes[e].next;
                break;
            }
        }
    }
    Ok(())
}

/// The words of `bits` from the one holding bit `lo` to the last nonzero one.
fn window(bits: &[u64], lo: usize) -> Vec<u64> {
    let first = lo / 64;
    let mut end = bits.len();
    while end > first && bits[end - 1] == 0 {
        end -= 1;
    }
    bits[first..end].to_vec()
}

/// Why a history that [`check`] refused is not linearizable: a minimal subset of it (indices
/// into `ops`, in invoke order) that is still not linearizable, and one sentence.
///
/// The subset is 1-minimal: removing any one of its operations (a write together with the
/// reads of its value) leaves a linearizable history. Shrinking costs one check per operation;
/// it starts from the exact check's witness (at most six operations) where the values are
/// distinct, else from the whole history, and only if that has at most `limit` operations.
pub fn explain(ops: &[Operation], limit: usize) -> (Vec<usize>, String) {
    // With distinct values the exact check's witness (at most six operations) is a start.
    let mut keep: Vec<usize> = match check_distinct(ops) {
        Some(Err(Verdict::Violation(witness))) => witness,
        _ => (0..ops.len()).collect(),
    };
    let sub = |keep: &[usize]| keep.iter().map(|&i| ops[i]).collect::<Vec<_>>();
    if keep.len() <= limit {
        let mut i = 0;
        while i < keep.len() {
            let victim = keep[i];
            // A write goes with the reads of its value (else the shrink would keep a read of a
            // value "never written" and hide the real story).
            let drop: Vec<usize> = match ops[victim].op {
                RegOp::Write(v) => keep
                    .iter()
                    .copied()
                    .filter(|&j| j == victim || ops[j].op == RegOp::Read(Some(v)))
                    .collect(),
                RegOp::Read(_) => vec![victim],
            };
            let trial: Vec<usize> = keep.iter().copied().filter(|j| !drop.contains(j)).collect();
            if matches!(check(&sub(&trial)), Err(Verdict::Violation(_))) {
                keep = trial;
            } else {
                i += 1;
            }
        }
    }
    keep.sort_by_key(|&i| (ops[i].invoke, i));
    let why = reason(ops, &keep);
    (keep, why)
}

/// One sentence on why the operations `keep` of `ops` admit no order.
fn reason(ops: &[Operation], keep: &[usize]) -> String {
    let writes = |v: u32| {
        keep.iter()
            .copied()
            .filter(move |&j| ops[j].op == RegOp::Write(v))
    };
    let value = |j: usize| match ops[j].op {
        RegOp::Write(u) | RegOp::Read(Some(u)) => Some(u),
        RegOp::Read(None) => None,
    };
    let mut written: Vec<u32> = keep
        .iter()
        .filter_map(|&j| match ops[j].op {
            RegOp::Write(u) => Some(u),
            RegOp::Read(_) => None,
        })
        .collect();
    let n = written.len();
    written.sort_unstable();
    written.dedup();
    let distinct = written.len() == n;
    for &r in keep {
        match ops[r].op {
            RegOp::Read(Some(v)) => {
                let mut w = writes(v).peekable();
                if w.peek().is_none() && !ops.iter().any(|o| o.op == RegOp::Write(v)) {
                    return "a read returned a value that no write wrote".into();
                }
                if w.all(|w| ops[r].precedes(&ops[w])) {
                    return "a read returned a value before the write of it was invoked".into();
                }
                // Stale: the write of v precedes another write that precedes the read.
                for w1 in writes(v) {
                    if keep.iter().any(|&x| {
                        matches!(ops[x].op, RegOp::Write(u) if u != v)
                            && ops[w1].precedes(&ops[x])
                            && ops[x].precedes(&ops[r])
                    }) {
                        return "stale read: the read returned a value that a later write, completed before the read was invoked, had overwritten".into();
                    }
                }
                // With distinct values an operation on v that precedes one on u puts u's write
                // after v's, and an operation on u that precedes the read puts it before the read.
                if distinct {
                    for &y in keep.iter().filter(|&&y| y != r && value(y) == Some(v)) {
                        for &x in keep.iter().filter(|&&x| ops[y].precedes(&ops[x])) {
                            let Some(u) = value(x).filter(|&u| u != v) else {
                                continue;
                            };
                            if keep
                                .iter()
                                .any(|&z| value(z) == Some(u) && ops[z].precedes(&ops[r]))
                            {
                                return "stale read: the read returned a value already overwritten when it was invoked: an operation on a newer value followed one on this value, and one on the newer value completed before the read".into();
                            }
                        }
                    }
                }
            }
            RegOp::Read(None) => {
                if keep
                    .iter()
                    .any(|&w| matches!(ops[w].op, RegOp::Write(_)) && ops[w].precedes(&ops[r]))
                {
                    return "lost write: a read found the key empty after a write to it had completed".into();
                }
            }
            RegOp::Write(_) => {}
        }
    }
    format!(
        "no order of these {} operations respects both their real-time order and what each read returned",
        keep.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: u32, a: i64, b: i64) -> Operation {
        Operation {
            op: RegOp::Write(v),
            invoke: a,
            ret: Some(b),
            slack: 0,
        }
    }
    fn r(v: Option<u32>, a: i64, b: i64) -> Operation {
        Operation {
            op: RegOp::Read(v),
            invoke: a,
            ret: Some(b),
            slack: 0,
        }
    }

    #[test]
    fn sequential_and_reordered_histories_pass() {
        assert!(check(&[]).is_ok());
        assert!(check(&[r(None, 0, 1), w(1, 2, 3), r(Some(1), 4, 5)]).is_ok());
        // Concurrent writes: the read may see either, in an order unlike invoke order.
        let h = [
            w(1, 0, 10),
            w(2, 1, 9),
            r(Some(1), 11, 12),
            r(Some(1), 13, 14),
        ];
        assert!(check(&h).is_ok());
        // A read concurrent with a write sees the old or the new value; two such reads may
        // differ, as long as the new one is not followed by the old one.
        let h = [w(1, 0, 1), w(2, 5, 20), r(Some(2), 6, 8), r(Some(1), 7, 9)];
        assert!(
            check(&h).is_ok(),
            "the second read linearizes before the write"
        );
        // A write that never returned may take effect late, or never.
        let pending = Operation {
            ret: None,
            ..w(2, 3, 0)
        };
        assert!(check(&[w(1, 0, 1), pending, r(Some(1), 5, 6), r(Some(2), 7, 8)]).is_ok());
        assert!(check(&[w(1, 0, 1), pending, r(Some(1), 5, 6)]).is_ok());
        // Touching intervals are concurrent: no false violation from a shared microsecond.
        assert!(check(&[w(1, 0, 5), r(None, 5, 6)]).is_ok());
    }

    #[test]
    fn stale_read_is_refused_and_explained() {
        let h = [w(1, 0, 1), w(2, 2, 3), r(Some(1), 4, 5), r(Some(2), 0, 9)];
        assert!(check(&h).is_err());
        let (ops, why) = explain(&h, 100);
        assert_eq!(ops, vec![0, 1, 2], "{why}");
        assert!(why.starts_with("stale read"), "{why}");
        // With clock uncertainty the same intervals overlap: no violation can be claimed.
        let loose: Vec<Operation> = h.iter().map(|o| Operation { slack: 1, ..*o }).collect();
        assert!(check(&loose).is_ok());
    }

    #[test]
    fn lost_write_and_phantom_values_are_refused() {
        let lost = [w(1, 0, 1), r(None, 2, 3)];
        assert!(check(&lost).is_err());
        assert!(explain(&lost, 100).1.starts_with("lost write"));
        let phantom = [w(1, 0, 1), r(Some(7), 2, 3)];
        assert!(check(&phantom).is_err());
        assert!(explain(&phantom, 100).1.contains("no write wrote"));
        let early = [r(Some(1), 0, 1), w(1, 2, 3)];
        assert!(check(&early).is_err());
        assert!(explain(&early, 100).1.contains("before the write"));
        // Stale reads shown by other operations on the values than their writes: a read of
        // the old value before the new write; a read that saw the new value after the old
        // write had completed.
        for h in [
            [w(1, 0, 100), r(Some(1), 1, 2), w(2, 3, 4), r(Some(1), 5, 6)],
            [
                w(1, 0, 1),
                w(2, 0, 10),
                r(Some(2), 2, 20),
                r(Some(1), 11, 12),
            ],
        ] {
            let (ops, why) = explain(&h, 100);
            assert!(
                ops.len() == 4 && why.starts_with("stale read"),
                "{ops:?} {why}"
            );
        }
        // Two reads that see the writes in opposite orders: no order fits both.
        let h = [
            w(1, 0, 10),
            w(2, 0, 10),
            r(Some(1), 11, 12),
            r(Some(2), 13, 14),
            r(Some(1), 15, 16),
        ];
        assert!(check(&h).is_err());
        let (ops, why) = explain(&h, 100);
        assert_eq!(ops.len(), 4, "{ops:?} {why}");
    }

    #[test]
    fn a_long_concurrent_history_is_checked_fast() {
        // 16 writers and readers over 2,000 operations with overlapping intervals.
        let mut h = Vec::new();
        let mut last = None;
        for i in 0..2000i64 {
            let t = i * 10;
            if i % 3 == 0 {
                h.push(w(i as u32, t, t + 150));
                last = Some(i as u32);
            } else {
                // Reads well after the last write see it.
                h.push(r(last, t + 160, t + 170));
            }
        }
        let t = std::time::Instant::now();
        assert!(check(&h).is_ok());
        assert!(t.elapsed().as_secs() < 5);
    }

    /// A random history of a few operations on small integer times (ties, overlaps, pending
    /// operations and clock slack are common): either linearizable by construction (each
    /// operation's interval around its point in a sequential run) or with one read changed.
    fn random_history(rng: &mut impl rand::Rng) -> Vec<Operation> {
        let n = rng.gen_range(1..=7);
        let mut h = Vec::new();
        let mut last = None;
        let mut next = 0u32;
        for i in 0..n {
            let t = 3 * i as i64 + rng.gen_range(0..3);
            let (a, b) = (t - rng.gen_range(0..6), t + rng.gen_range(0..6));
            let op = if rng.gen_bool(0.45) {
                next += 1;
                last = Some(next);
                RegOp::Write(next)
            } else {
                RegOp::Read(last)
            };
            h.push(Operation {
                op,
                invoke: a,
                ret: (!rng.gen_bool(0.1)).then_some(b),
                slack: if rng.gen_bool(0.2) { 1 } else { 0 },
            });
        }
        if rng.gen_bool(0.8) {
            let i = rng.gen_range(0..n);
            if let RegOp::Read(_) = h[i].op {
                let v = rng.gen_range(0..=next + 1);
                h[i].op = RegOp::Read((v > 0).then_some(v));
            }
        }
        h
    }

    #[test]
    fn the_exact_check_of_distinct_values_agrees_with_the_search() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut good, mut bad) = (0, 0);
        for _ in 0..50_000 {
            let h = random_history(&mut rng);
            let fast = check_distinct(&h).expect("distinct values");
            let slow = search_within(&h, DEFAULT_BUDGET);
            assert_eq!(fast.is_ok(), slow.is_ok(), "{h:?}: {fast:?} vs {slow:?}");
            assert_eq!(fast.is_ok(), exhaustive(&h), "{h:?}: {fast:?}");
            match fast {
                Ok(()) => good += 1,
                Err(Verdict::Violation(w)) => {
                    bad += 1;
                    let sub: Vec<Operation> = w.iter().map(|&i| h[i]).collect();
                    assert!(
                        w.len() <= 6 && search_within(&sub, DEFAULT_BUDGET).is_err(),
                        "{h:?}: {w:?}"
                    );
                    let (minimal, _) = explain(&h, 100);
                    let sub: Vec<Operation> = minimal.iter().map(|&i| h[i]).collect();
                    assert!(
                        search_within(&sub, DEFAULT_BUDGET).is_err(),
                        "{h:?}: {minimal:?}"
                    );
                }
                Err(v) => panic!("{v:?}"),
            }
        }
        // Both verdicts are common, so the comparison means something.
        assert!(
            good > 10_000 && bad > 5_000,
            "{good} linearizable, {bad} not"
        );
    }

    fn pending(v: u32, a: i64) -> Operation {
        Operation {
            op: RegOp::Write(v),
            invoke: a,
            ret: None,
            slack: 0,
        }
    }

    /// Linearizability from its definition, by exhaustive search: some order of the operations
    /// (reads that never returned left out) respects real time and the register. A write that
    /// never returned precedes nothing, so it can always go last (the same as never).
    /// Memoized on (set placed, value): the rest depends on nothing else.
    fn exhaustive(h: &[Operation]) -> bool {
        let ops: Vec<Operation> = h
            .iter()
            .filter(|o| o.ret.is_some() || matches!(o.op, RegOp::Write(_)))
            .copied()
            .collect();
        assert!(ops.len() <= 20);
        fn go(
            ops: &[Operation],
            placed: u32,
            state: Option<u32>,
            failed: &mut HashSet<(u32, Option<u32>)>,
        ) -> bool {
            if placed.count_ones() as usize == ops.len() {
                return true;
            }
            if failed.contains(&(placed, state)) {
                return false;
            }
            let free = |j: usize| placed & (1 << j) == 0;
            for i in (0..ops.len()).filter(|&i| free(i)) {
                if (0..ops.len()).any(|j| j != i && free(j) && ops[j].precedes(&ops[i])) {
                    continue;
                }
                let next = match ops[i].op {
                    RegOp::Write(v) => Some(v),
                    RegOp::Read(v) if v == state => v,
                    RegOp::Read(_) => continue,
                };
                if go(ops, placed | 1 << i, next, failed) {
                    return true;
                }
            }
            failed.insert((placed, state));
            false
        }
        go(&ops, 0, None, &mut HashSet::new())
    }

    #[test]
    fn a_write_that_never_returned_is_not_tied_to_the_first_read_of_its_value() {
        // put a [0,10]; get -> a [11,12]; put a [20, never]: the read saw the first put.
        let h = [w(1, 0, 10), r(Some(1), 11, 12), pending(1, 20)];
        assert!(exhaustive(&h));
        assert_eq!(search_within(&h, DEFAULT_BUDGET), Ok(()));
        assert_eq!(check(&h), Ok(()));
        // The pending write is needed by a read after the other write was overwritten.
        let h = [
            w(1, 0, 10),
            r(Some(1), 11, 12),
            pending(1, 13),
            w(2, 14, 15),
            r(Some(1), 30, 31),
        ];
        assert!(exhaustive(&h));
        assert_eq!(search_within(&h, DEFAULT_BUDGET), Ok(()));
        // ... but not if it was invoked after that read returned.
        let h = [
            w(1, 0, 10),
            w(2, 14, 15),
            r(Some(1), 30, 31),
            pending(1, 40),
        ];
        assert!(!exhaustive(&h));
        assert!(matches!(
            search_within(&h, DEFAULT_BUDGET),
            Err(Verdict::Violation(_))
        ));
        // A pending write taking effect late would break a later read: it must be dropped.
        let h = [
            w(1, 0, 1),
            pending(2, 2),
            r(Some(2), 3, 4),
            w(3, 5, 6),
            w(2, 7, 8),
            r(Some(2), 9, 10),
            r(Some(2), 11, 12),
        ];
        assert_eq!(exhaustive(&h), search_within(&h, DEFAULT_BUDGET).is_ok());
    }

    /// A random history of a few operations with small integer times and values from a small
    /// set (so values repeat), writes that never returned (some took effect, some never did),
    /// reads that never returned, clock slack; linearizable by construction, or with one read
    /// changed.
    fn random_repeated_history(rng: &mut impl rand::Rng) -> Vec<Operation> {
        let n = rng.gen_range(1..=8);
        let values = rng.gen_range(1..=3u32);
        let mut h = Vec::new();
        let mut last = None;
        for i in 0..n {
            let t = 3 * i as i64 + rng.gen_range(0..3);
            let (a, b) = (t - rng.gen_range(0..6), t + rng.gen_range(0..6));
            let never = rng.gen_bool(0.25);
            let op = if rng.gen_bool(0.5) {
                let v = rng.gen_range(1..=values);
                // A write that never returned may also never have taken effect.
                if !(never && rng.gen_bool(0.5)) {
                    last = Some(v);
                }
                RegOp::Write(v)
            } else {
                RegOp::Read(last)
            };
            h.push(Operation {
                op,
                invoke: a,
                ret: (!never).then_some(b),
                slack: if rng.gen_bool(0.15) { 1 } else { 0 },
            });
        }
        if rng.gen_bool(0.6) {
            let i = rng.gen_range(0..n);
            if let RegOp::Read(_) = h[i].op {
                let v = rng.gen_range(0..=values);
                h[i].op = RegOp::Read((v > 0).then_some(v));
            }
        }
        h
    }

    #[test]
    fn the_checks_agree_with_the_exhaustive_search_on_repeated_values_and_pending_writes() {
        use rand::SeedableRng;
        for seed in [3, 11, 2024] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (mut good, mut bad, mut pending_repeated) = (0, 0, 0);
            for _ in 0..40_000 {
                let h = random_repeated_history(&mut rng);
                let truth = exhaustive(&h);
                let searched = search_within(&h, DEFAULT_BUDGET);
                let checked = check(&h);
                assert!(
                    !matches!(searched, Err(Verdict::Undecided(_))),
                    "{h:?}: {searched:?}"
                );
                assert_eq!(truth, searched.is_ok(), "seed {seed}: {h:?}: {searched:?}");
                assert_eq!(truth, checked.is_ok(), "seed {seed}: {h:?}: {checked:?}");
                if let Some(exact) = check_distinct(&h) {
                    assert_eq!(truth, exact.is_ok(), "seed {seed}: {h:?}: {exact:?}");
                }
                if !truth {
                    bad += 1;
                    let (minimal, _) = explain(&h, 100);
                    let sub: Vec<Operation> = minimal.iter().map(|&i| h[i]).collect();
                    assert!(!exhaustive(&sub), "seed {seed}: {h:?}: {minimal:?}");
                } else {
                    good += 1;
                }
                let repeated_pending = h.iter().any(|o| {
                    o.ret.is_none()
                        && matches!(o.op, RegOp::Write(v) if h.iter().filter(|p| p.op == RegOp::Write(v)).count() > 1)
                });
                pending_repeated += repeated_pending as u32;
            }
            // Both verdicts, and pending writes of repeated values, are common.
            assert!(
                good > 8_000 && bad > 2_500 && pending_repeated > 4_000,
                "seed {seed}: {good} linearizable, {bad} not, {pending_repeated} with a pending write of a repeated value"
            );
        }
    }

    #[test]
    fn a_value_written_twice_goes_to_the_search() {
        let h = [w(1, 0, 1), w(2, 2, 3), w(1, 4, 5), r(Some(1), 6, 7)];
        assert!(check_distinct(&h).is_none());
        assert!(check(&h).is_ok());
        assert!(check(&[w(1, 0, 1), w(2, 2, 3), r(Some(1), 4, 5), w(1, 6, 7)]).is_err());
    }

    #[test]
    fn heavy_concurrency_on_one_key_is_decided() {
        // 20,000 operations on one register, about 20 pending at a time (40 at most): beyond the
        // search's budget, exact for distinct values. Linearizable by construction (each
        // interval holds its operation's point of a sequential run); then one read made stale.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut h = Vec::new();
        let mut last = None;
        for i in 0..20_000i64 {
            let t = i * 10;
            let (a, b) = (t - rng.gen_range(0..200), t + rng.gen_range(0..200));
            if rng.gen_bool(0.5) {
                h.push(w(i as u32, a, b));
                last = Some(i as u32);
            } else {
                h.push(r(last, a, b));
            }
        }
        assert!(check(&h).is_ok());
        let i = (10_000..)
            .find(|&i| matches!(h[i].op, RegOp::Read(_)))
            .unwrap();
        let first = h.iter().find_map(|o| match o.op {
            RegOp::Write(v) => Some(v),
            RegOp::Read(_) => None,
        });
        h[i].op = RegOp::Read(first);
        assert!(matches!(check(&h), Err(Verdict::Violation(_))));
        let (minimal, why) = explain(&h, 100);
        assert!(
            minimal.len() <= 6 && why.starts_with("stale read"),
            "{minimal:?} {why}"
        );
    }
}
