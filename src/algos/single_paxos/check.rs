//! The checks of a single-decree Paxos run (validity, uniform agreement, integrity,
//! termination), its figures and its summary, from every rank's output.

use serde::Serialize;

use super::{Args, Output, Value};
use crate::shared::{Check, Rank, RunResult};

/// Whether the plan lets the run decide: who must stay up, and links that deliver eventually.
fn termination_required(args: &Args, run: &RunResult<Output>) -> Result<(), String> {
    run.interrupted()?;
    let (np, faults) = (run.np, &run.applied_faults());
    let layout = args.layout(np);
    let up = |v: &Vec<Rank>| {
        v.iter()
            .filter(|&&r| faults.crash_time_ms(r).is_none())
            .count()
    };
    if up(&layout.acceptors) < layout.quorum {
        return Err(format!(
            "only {} of {} acceptors stay up, fewer than a quorum of {}",
            up(&layout.acceptors),
            layout.acceptors.len(),
            layout.quorum
        ));
    }
    if up(&layout.proposers) == 0 {
        return Err("every proposer crashes".into());
    }
    if up(&layout.clients) == 0 {
        return Err("every client crashes".into());
    }
    let alive = |v: &Vec<Rank>| -> Vec<Rank> {
        (v.iter().copied())
            .filter(|&r| faults.crash_time_ms(r).is_none())
            .collect()
    };
    let all: Vec<Rank> = alive(&layout.clients)
        .into_iter()
        .chain(alive(&layout.learners))
        .collect();
    if let Some(why) = faults.blocked_at_end(
        run.end_ms(),
        &alive(&layout.proposers),
        &alive(&layout.acceptors),
        layout.quorum,
        &all,
    ) {
        return Err(why);
    }
    faults.never_delivers().map_or(Ok(()), Err)
}

/// The four checks of a run.
pub fn checks(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
    let proposed: Vec<Value> = run.ranks.iter().filter_map(|r| r.output.proposed).collect();
    let mut decided: Vec<(Rank, Value)> = Vec::new();
    let mut validity = Vec::new();
    let mut integrity = Vec::new();
    for r in &run.ranks {
        let o = &r.output;
        for (what, list) in [
            ("heard", &o.heard),
            ("learned", &o.learned),
            ("decided", &o.decided),
        ] {
            if list.len() > 1 {
                integrity.push(format!(
                    "rank {} {what} {} times ({:?})",
                    r.rank,
                    list.len(),
                    list.iter().map(|d| d.0).collect::<Vec<_>>()
                ));
            }
        }
        for v in o.decisions() {
            if !proposed.contains(&v) {
                validity.push(format!(
                    "rank {} decided {v}, which no client proposed",
                    r.rank
                ));
            }
            decided.push((r.rank, v));
        }
    }
    let mut agreement = Vec::new();
    if let Some(&(r0, v0)) = decided.first() {
        for &(r, v) in &decided {
            if v != v0 {
                agreement.push(format!("rank {r0} decided {v0} but rank {r} decided {v}"));
            }
        }
    }
    let n = decided.len();
    let value = decided.first().map(|d| d.1);
    let mut checks = vec![
        Check::from_violations(
            "validity",
            match value {
                Some(v) => format!("{v} was proposed by a client (proposed: {proposed:?})"),
                None => "nothing was decided".into(),
            },
            validity,
        ),
        Check::from_violations(
            "uniform-agreement",
            format!(
                "{n} decisions, all of {}",
                value.map_or("none".into(), |v| v.to_string())
            ),
            agreement,
        ),
        Check::from_violations("integrity", "no rank decided twice".into(), integrity),
    ];
    let layout = args.layout(run.np);
    let missing: Vec<String> = run
        .correct_ranks()
        .filter(|r| {
            let roles = layout.roles_of(r.rank);
            (roles.client && r.output.heard.is_empty())
                || (roles.learner && r.output.learned.is_empty())
        })
        .map(|r| format!("correct rank {} never decided", r.rank))
        .chain(run.correct_ranks().filter(|r| r.output.gave_up).map(|r| {
            format!(
                "correct rank {} gave up after {} ms without a decision (any decision came after the proposers stopped competing)",
                r.rank, args.give_up
            )
        }))
        .collect();
    checks.push(Check::if_required(
        "termination",
        termination_required(args, run),
        "every correct client and learner decided".into(),
        missing,
    ));
    checks
}

/// The figures of a run, for the report (merged at its top level).
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// The value decided (any rank's first decision; agreement is checked apart).
    pub decided: Option<Value>,
    /// When the first learner learned it (ms).
    pub first_learned_ms: Option<f64>,
    /// Ballots started and nacks received, over every proposer.
    pub ballots: u32,
    pub nacks: u32,
    /// Messages sent in the whole run.
    pub messages: u64,
}

/// The figures of a run.
pub fn figures(_args: &Args, run: &RunResult<Output>) -> Figures {
    let first = run
        .ranks
        .iter()
        .flat_map(|r| r.output.learned.iter().map(|d| d.1))
        .fold(f64::INFINITY, f64::min);
    Figures {
        decided: run.ranks.iter().find_map(|r| r.output.decisions().next()),
        first_learned_ms: first.is_finite().then_some(first),
        ballots: run.ranks.iter().map(|r| r.output.ballots).sum(),
        nacks: run.ranks.iter().map(|r| r.output.nacks).sum(),
        messages: run.metrics().total.sent,
    }
}

/// What the run decided, rank by rank.
pub fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
    let layout = args.layout(run.np);
    let mut lines = vec![layout.describe()];
    for r in &run.ranks {
        let o = &r.output;
        let mut parts = Vec::new();
        if let Some(v) = o.proposed {
            parts.push(format!("proposed {v}"));
        }
        if o.ballots > 0 {
            parts.push(format!("{} ballots, {} nacks", o.ballots, o.nacks));
        }
        let roles = layout.roles_of(r.rank);
        match o.accepted {
            Some((b, v)) => parts.push(format!("accepted {v} in ({}, {})", b.round, b.rank)),
            None if roles.acceptor => parts.push("accepted nothing".into()),
            None => {}
        }
        if roles.client || roles.proposer || roles.learner {
            parts.push(match o.decisions().next() {
                Some(v) => format!("decided {v}"),
                None => "decided nothing".into(),
            });
        }
        lines.push(format!(
            "rank {}: {}{}",
            r.rank,
            parts.join(", "),
            if r.crashed {
                " (crashed)"
            } else if o.gave_up {
                " (gave up)"
            } else {
                ""
            }
        ));
    }
    lines
}
