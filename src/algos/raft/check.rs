//! The checks of a Raft run (the paper's five safety properties and the clients' view), its
//! figures and its summary, from every server's outputs, earlier lives included.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::kv::{self, op_of, Op};
use super::{Applied, Args, Output, RaftClientReport, ServerReport};
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::faults::Life;
use crate::shared::service::{stall_check, CommitFigures};
use crate::shared::{Check, Rank, RunResult};

/// Every life of every server: (rank, life number, report).
fn lives(run: &RunResult<Output>) -> Vec<(Rank, usize, &ServerReport)> {
    let mut v = Vec::new();
    for r in &run.ranks {
        for (life, o) in r
            .earlier
            .iter()
            .chain(std::iter::once(&r.output))
            .enumerate()
        {
            if let Output::Server(s) = o {
                v.push((r.rank, life, s.as_ref()));
            }
        }
    }
    v
}

fn clients(run: &RunResult<Output>) -> impl Iterator<Item = (Rank, bool, &RaftClientReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Client(c) => Some((r.rank, r.crashed, c)),
        Output::Server(_) => None,
    })
}

fn who(rank: Rank, life: usize) -> String {
    if life == 0 {
        format!("server {rank}")
    } else {
        format!("server {rank} (life {})", life + 1)
    }
}

/// Whether the plan lets every client finish.
fn termination_required(args: &Args, run: &RunResult<Output>) -> Result<(), String> {
    run.interrupted()?;
    let (np, faults) = (run.np, &run.applied_faults());
    let cfg = args.config(np);
    let up: Vec<Rank> = (0..cfg.service.servers)
        .filter(|&r| !faults.down_at_end(r))
        .collect();
    if up.len() < cfg.service.quorum {
        return Err(format!(
            "only {} of {} servers are up at the end, fewer than a majority",
            up.len(),
            cfg.service.servers
        ));
    }
    let clients: Vec<Rank> = (cfg.service.servers..np)
        .filter(|&r| !faults.down_at_end(r))
        .collect();
    if let Some(why) = faults.blocked_at_end(run.end_ms(), &up, &up, cfg.service.quorum, &clients) {
        return Err(why);
    }
    faults.never_delivers().map_or(Ok(()), Err)
}

/// The committed sequence as the servers applied it: entry `i - 1` is what was applied at
/// index `i`, `None` where no server applied one; and disagreements (state machine safety).
fn committed(lives: &[(Rank, usize, &ServerReport)]) -> (Vec<Option<Applied>>, Vec<String>) {
    let mut seq: Vec<Option<(Applied, Rank, usize)>> = Vec::new();
    let mut bad = Vec::new();
    for &(rank, life, s) in lives {
        for (first, run) in &s.applied {
            for (k, a) in run.iter().enumerate() {
                let i = (*first as usize) + k;
                if seq.len() < i {
                    seq.resize(i, None);
                }
                match seq[i - 1] {
                    None => seq[i - 1] = Some((*a, rank, life)),
                    Some((b, r2, l2)) if b != *a => bad.push(format!(
                        "index {i}: {} applied {a:?}, {} applied {b:?}",
                        who(rank, life),
                        who(r2, l2)
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    (seq.into_iter().map(|x| x.map(|y| y.0)).collect(), bad)
}

/// The key-value maps the servers ended with (every life, crashed or not): each must equal the
/// replay of the committed sequence up to that life's applied index. Beyond the part of the
/// sequence the servers applied entry by entry (before it, snapshots only), lives at the same
/// applied index are compared with each other.
fn state_machines(
    args: &Args,
    np: usize,
    lives: &[(Rank, usize, &ServerReport)],
    seq: &[Option<Applied>],
) -> Check {
    let cfg = args.config(np);
    let states: Vec<(Rank, usize, u64, u64)> = (lives.iter())
        .filter_map(|&(r, l, s)| s.kv.map(|(i, d)| (r, l, i, d)))
        .collect();
    // Replay the known prefix once, taking the digest at every index some life stopped at.
    let known = seq.iter().take_while(|a| a.is_some()).count() as u64;
    let wanted: BTreeSet<u64> = (states.iter().map(|s| s.2))
        .filter(|&i| i <= known)
        .collect();
    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    let mut map = BTreeMap::new();
    if wanted.contains(&0) {
        expected.insert(0, kv::digest(&map));
    }
    for (i, a) in seq.iter().take(known as usize).enumerate() {
        let a = a.expect("in the known prefix");
        if let (Some(id), false) = (a.id, a.dup) {
            if let Op::Put { key, value } = op_of(id, cfg.keys, cfg.read_permille) {
                map.insert(key, value);
            }
        }
        if wanted.contains(&(i as u64 + 1)) {
            expected.insert(i as u64 + 1, kv::digest(&map));
        }
    }
    let mut bad = Vec::new();
    let mut by_index: BTreeMap<u64, Vec<(Rank, usize, u64)>> = BTreeMap::new();
    for &(r, l, i, d) in &states {
        match expected.get(&i) {
            Some(&e) if e != d => bad.push(format!(
                "{} applied up to index {i} and holds a map that differs from the log's replay there",
                who(r, l)
            )),
            Some(_) => {}
            None => by_index.entry(i).or_default().push((r, l, d)),
        }
    }
    let mut compared = 0;
    for (i, group) in &by_index {
        compared += group.len();
        if let Some(x) = group.iter().find(|x| x.2 != group[0].2) {
            bad.push(format!(
                "{} and {} both applied up to index {i} and hold different maps",
                who(group[0].0, group[0].1),
                who(x.0, x.1)
            ));
        }
    }
    let detail = match compared {
        0 => format!(
            "{} server lives' key-value maps equal the replay of the committed log at their applied index",
            states.len()
        ),
        n => format!(
            "{} server lives' key-value maps equal the replay of the committed log at their applied index; {n} beyond index {known} (applied from snapshots, not replayable) were compared with the others at the same index",
            states.len() - n
        ),
    };
    Check::from_violations("state-machines", detail, bad)
}

/// The term at index `i` of a log described by runs of (term, first index).
fn term_in_runs(runs: &[(u64, u64)], i: u64) -> Option<u64> {
    runs.iter().rev().find(|r| r.1 <= i).map(|r| r.0)
}

/// Log matching between two logs (offset, entries): if they agree on the term at some index,
/// they are the same up to there. Checking the highest such index suffices.
fn log_mismatch(
    a: (u64, &[(u64, Option<CommandId>)]),
    b: (u64, &[(u64, Option<CommandId>)]),
) -> Option<String> {
    let lo = a.0.max(b.0) + 1;
    let hi = (a.0 + a.1.len() as u64).min(b.0 + b.1.len() as u64);
    let at = |l: (u64, &[(u64, Option<CommandId>)]), i: u64| l.1[(i - l.0 - 1) as usize];
    let top = (lo..=hi).rev().find(|&i| at(a, i).0 == at(b, i).0)?;
    (lo..=top).find(|&i| at(a, i) != at(b, i)).map(|i| {
        format!(
            "both hold term {} at index {top}, but differ at index {i}: {:?} and {:?}",
            at(a, top).0,
            at(a, i),
            at(b, i)
        )
    })
}

/// The checks of a run.
pub fn checks(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
    let lives = lives(run);
    let mut checks = Vec::new();

    // Election safety.
    let mut leaders: BTreeMap<u64, BTreeSet<Rank>> = BTreeMap::new();
    for &(r, _, s) in &lives {
        for l in &s.led {
            leaders.entry(l.term).or_default().insert(r);
        }
    }
    let two: Vec<String> = leaders
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(t, v)| format!("term {t} had leaders {v:?}"))
        .collect();
    checks.push(Check::from_violations(
        "election-safety",
        format!("{} terms had a leader, one each", leaders.len()),
        two,
    ));

    // Leader append-only.
    let overwrites: Vec<String> = lives
        .iter()
        .flat_map(|&(r, l, s)| {
            s.leader_overwrites.iter().map(move |(t, i)| {
                format!(
                    "{} removed entries from {i} on while leading term {t}",
                    who(r, l)
                )
            })
        })
        .collect();
    checks.push(Check::from_violations(
        "leader-append-only",
        "no leader removed an entry from its log".into(),
        overwrites,
    ));

    // Log matching, over the final logs of every life.
    let mut mismatches = Vec::new();
    for (x, &(ra, la, a)) in lives.iter().enumerate() {
        for &(rb, lb, b) in &lives[x + 1..] {
            if let Some(m) = log_mismatch((a.log_offset, &a.log), (b.log_offset, &b.log)) {
                mismatches.push(format!("{} and {}: {m}", who(ra, la), who(rb, lb)));
            }
        }
    }
    checks.push(Check::from_violations(
        "log-matching",
        format!("{} logs pairwise consistent", lives.len()),
        mismatches,
    ));

    // State machine safety.
    let (seq, disagreements) = committed(&lives);
    checks.push(Check::from_violations(
        "state-machine-safety",
        format!("{} indexes applied, the same entry at each", seq.len()),
        disagreements,
    ));

    checks.push(state_machines(args, run.np, &lives, &seq));

    // Leader completeness: every entry committed in a term before T is in T's leader's log.
    let mut points: Vec<(u64, u64)> = lives
        .iter()
        .flat_map(|(_, _, s)| s.commits.iter().copied())
        .collect();
    points.sort_unstable();
    let mut incomplete = Vec::new();
    let mut elections = 0;
    for &(r, l, s) in &lives {
        for led in &s.led {
            elections += 1;
            let c = points
                .iter()
                .filter(|p| p.0 < led.term)
                .map(|p| p.1)
                .max()
                .unwrap_or(0);
            if c < led.first_index {
                continue; // in its snapshot: committed
            }
            let want = seq.get(c as usize - 1).copied().flatten().map(|a| a.term);
            let have = (c <= led.last_index)
                .then(|| term_in_runs(&led.runs, c))
                .flatten();
            if have.is_none() || (want.is_some() && have != want) {
                incomplete.push(format!(
                    "{} became leader of term {} with {} entries, lacking committed index {c} (term {want:?}, it had {have:?})",
                    who(r, l),
                    led.term,
                    led.last_index
                ));
            }
        }
    }
    checks.push(Check::from_violations(
        "leader-completeness",
        format!("{elections} leaders each held every entry committed before their term"),
        incomplete,
    ));

    // Validity and at most once.
    let submitted: HashMap<u32, u32> = clients(run)
        .map(|(r, _, c)| (r as u32, c.work.submitted))
        .collect();
    let mut invalid = Vec::new();
    let mut twice = Vec::new();
    let mut executed: HashMap<CommandId, usize> = HashMap::new();
    for (k, a) in seq.iter().enumerate() {
        let Some(Applied {
            id: Some(id),
            dup: false,
            ..
        }) = a
        else {
            continue;
        };
        if submitted.get(&id.client).is_none_or(|&n| id.seq >= n) {
            invalid.push(format!("index {}: {id:?} was never submitted", k + 1));
        }
        if let Some(first) = executed.insert(*id, k + 1) {
            twice.push(format!("{id:?} executed at index {first} and {}", k + 1));
        }
    }
    checks.push(Check::from_violations(
        "validity",
        "every executed command was submitted by a client".into(),
        invalid,
    ));
    checks.push(Check::from_violations(
        "at-most-once",
        format!("{} commands executed, none twice", executed.len()),
        twice,
    ));

    // Linearizable replies: replay the log; every get answered the map's state at its index.
    let cfg = args.config(run.np);
    let mut map: HashMap<u32, u64> = HashMap::new();
    let mut got: HashMap<CommandId, Option<u64>> = HashMap::new();
    let mut wrong = Vec::new();
    if let Some(gap) = seq.iter().position(|a| a.is_none()) {
        wrong.push(format!(
            "index {} was applied by no server: the replies after it cannot be checked",
            gap + 1
        ));
    }
    for a in seq.iter().flatten() {
        if let (Some(id), false) = (a.id, a.dup) {
            match op_of(id, cfg.keys, cfg.read_permille) {
                Op::Put { key, value } => {
                    map.insert(key, value);
                }
                Op::Get { key } => {
                    got.insert(id, map.get(&key).copied());
                }
            }
        }
    }
    let mut reads = 0;
    for (r, _, c) in clients(run) {
        for &(seq_no, seen) in &c.reads {
            reads += 1;
            let id = CommandId {
                client: r as u32,
                seq: seq_no,
            };
            match got.get(&id) {
                Some(&v) if v == seen => {}
                Some(&v) => wrong.push(format!(
                    "client {r}'s get {seq_no} returned {seen:?}, but the log gives {v:?} at index {}",
                    executed[&id]
                )),
                None => wrong.push(format!(
                    "client {r}'s get {seq_no} was answered but is not in the log"
                )),
            }
        }
        for &(seq_no, ..) in &c.work.done {
            let id = CommandId {
                client: r as u32,
                seq: seq_no,
            };
            if !executed.contains_key(&id) {
                wrong.push(format!(
                    "client {r} was answered for {seq_no}, which was never executed"
                ));
            }
        }
    }
    checks.push(Check::from_violations(
        "linearizable-replies",
        format!("{reads} gets returned the latest put before them in the log; every answered command is in it"),
        wrong,
    ));

    // Termination.
    let mut missing = Vec::new();
    for (r, crashed, c) in clients(run) {
        if !crashed && c.work.done.len() < args.service.requests as usize {
            missing.push(format!(
                "client {r}: {} of {} commands answered",
                c.work.done.len(),
                args.service.requests
            ));
        }
    }
    // ... and every server up at the end holds the whole committed log: a follower left
    // behind (cut off when the workload ended) is served until it catches up.
    let finals = || {
        run.ranks.iter().filter_map(|r| match &r.output {
            Output::Server(s) => Some((r.rank, r.crashed, s.as_ref())),
            Output::Client(_) => None,
        })
    };
    let end = finals().map(|(_, _, s)| s.commit).max().unwrap_or(0);
    // (One still cut off from another server when the run ended cannot be asked to.)
    let (applied, end_ms) = (run.applied_faults(), run.end_ms());
    let servers: Vec<Rank> = finals().map(|(r, ..)| r).collect();
    for (r, crashed, s) in finals() {
        if !crashed && s.commit < end && !applied.cut_off_at(r, &servers, end_ms) {
            missing.push(format!(
                "server {r} is up but committed {} of {end} entries{}",
                s.commit,
                if s.gave_up {
                    " (it gave up: no progress for --give-up)"
                } else {
                    ""
                }
            ));
        }
    }
    let work: Vec<(Rank, bool, &ClientReport)> = clients(run)
        .map(|(r, crashed, c)| (r, crashed, &c.work))
        .collect();
    checks.push(stall_check(run, &work, &args.config(run.np).service, None));
    checks.push(Check::if_required(
        "termination",
        termination_required(args, run),
        format!(
            "every correct client's {} commands answered; every server up at the end committed all {end} entries",
            args.service.requests
        ),
        missing,
    ));
    checks
}

/// Leadership changes in time order: (µs, rank, term).
fn leader_changes(run: &RunResult<Output>) -> Vec<(u64, Rank, u64)> {
    let mut v: Vec<(u64, Rank, u64)> = lives(run)
        .iter()
        .flat_map(|&(r, _, s)| s.led.iter().map(move |l| (l.at_us, r, l.term)))
        .collect();
    v.sort_unstable();
    v
}

/// A leader elected: when, who, in which term.
#[derive(Debug, Clone, Serialize)]
pub struct LeaderChange {
    pub at_ms: f64,
    pub leader: Rank,
    pub term: u64,
}

/// A new leader after the leader of the moment went down.
#[derive(Debug, Clone, Serialize)]
pub struct Takeover {
    pub crashed_leader: Rank,
    pub at_ms: f64,
    pub new_leader: Rank,
    pub term: u64,
    pub after_ms: f64,
}

/// The elections that followed leader crashes.
#[derive(Debug, Clone, Serialize)]
pub struct Elections {
    pub count: usize,
    pub mean_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub each: Vec<Takeover>,
}

/// A restarted server: what it recovered, and when it caught up with the leader.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    pub rank: Rank,
    pub life: usize,
    pub records: usize,
    pub stored_last_index: u64,
    pub target_index: Option<u64>,
    pub restarted_ms: f64,
    pub caught_up_after_ms: Option<f64>,
}

/// The figures of a run (merged into the JSON report; the summary reads them here).
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    #[serde(flatten)]
    pub commit: CommitFigures,
    pub storage_writes_per_commit: Option<f64>,
    pub storage_syncs_per_commit: Option<f64>,
    pub leader_changes: Vec<LeaderChange>,
    pub election_after_leader_crash: Elections,
    pub restarts: Vec<Restart>,
    pub snapshots_taken: u32,
    pub snapshots_installed: u32,
    /// Refusals by a follower of an index it had acknowledged, as leaders saw them.
    pub follower_logs_shrank: u32,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<Output>) -> Figures {
    let lives = lives(run);
    let (seq, _) = committed(&lives);
    let commits = seq
        .iter()
        .flatten()
        .filter(|a| a.id.is_some() && !a.dup)
        .count() as u64;
    let m = run.metrics();
    let per_commit = |x: u64| (commits > 0).then(|| x as f64 / commits as f64);
    let changes = leader_changes(run);
    // After each crash of the leader of the moment: how long until the next leader.
    // A restart takes a rank down only if it was up.
    let mut downs: Vec<(u64, Rank)> = Vec::new();
    let faults = run.applied_faults();
    for rank in 0..run.np {
        let mut up = true;
        for (ms, life) in faults.life_of(rank) {
            if up {
                downs.push((ms * 1000, rank));
            }
            up = life == Life::Restart;
        }
    }
    downs.sort_unstable();
    let mut takeovers = Vec::new();
    for &(t, rank) in &downs {
        let leading = changes.iter().rev().find(|l| l.0 <= t);
        if leading.is_some_and(|l| l.1 == rank) {
            if let Some(next) = changes.iter().find(|l| l.0 > t) {
                takeovers.push(Takeover {
                    crashed_leader: rank,
                    at_ms: t as f64 / 1e3,
                    new_leader: next.1,
                    term: next.2,
                    after_ms: (next.0 - t) as f64 / 1e3,
                });
            }
        }
    }
    let times: Vec<f64> = takeovers.iter().map(|t| t.after_ms).collect();
    let restarts = lives
        .iter()
        .filter_map(|&(r, l, s)| {
            let (records, last) = s.recovered?;
            Some(Restart {
                rank: r,
                life: l + 1,
                records,
                stored_last_index: last,
                target_index: s.catch_up_target,
                restarted_ms: s.started_us as f64 / 1e3,
                caught_up_after_ms: s.caught_up_us.map(|c| (c - s.started_us) as f64 / 1e3),
            })
        })
        .collect();
    Figures {
        commit: CommitFigures::of(
            commits,
            &clients(run).map(|(_, _, c)| &c.work).collect::<Vec<_>>(),
            &m,
            ["AppendEntries", "AppendResp"],
            &args.service.config(run.np),
        ),
        storage_writes_per_commit: per_commit(m.storage_writes),
        storage_syncs_per_commit: per_commit(m.storage_syncs),
        leader_changes: changes
            .iter()
            .map(|l| LeaderChange {
                at_ms: l.0 as f64 / 1e3,
                leader: l.1,
                term: l.2,
            })
            .collect(),
        election_after_leader_crash: Elections {
            count: times.len(),
            mean_ms: (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64),
            max_ms: times.iter().copied().reduce(f64::max),
            each: takeovers,
        },
        restarts,
        snapshots_taken: lives.iter().map(|l| l.2.snapshots_taken).sum::<u32>(),
        snapshots_installed: lives.iter().map(|l| l.2.snapshots_installed).sum::<u32>(),
        follower_logs_shrank: lives.iter().map(|l| l.2.follower_logs_shrank).sum::<u32>(),
    }
}

/// Human-readable lines.
pub fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
    let cfg = args.config(run.np);
    let mut lines = vec![format!(
        "servers 0-{} (majority {}), clients {}-{}; {} commands per client ({}% gets over {} keys), {} in flight, batch {}{}",
        cfg.service.servers - 1,
        cfg.service.quorum,
        cfg.service.servers,
        run.np - 1,
        args.service.requests,
        (args.read_ratio * 100.0).round(),
        args.keys,
        args.service.inflight,
        args.service.log.batch,
        if args.snapshot_every > 0 {
            format!(", snapshot every {}", args.snapshot_every)
        } else {
            String::new()
        }
    )];
    for r in &run.ranks {
        let tail = match &r.storage.fault {
            Some(f) => format!(" ({}: down at the end)", f.short()),
            None if r.crashed => " (down at the end)".to_string(),
            None => String::new(),
        };
        let restarts = if r.earlier.is_empty() {
            String::new()
        } else {
            format!(", restarted {} time(s)", r.earlier.len())
        };
        lines.push(match &r.output {
            Output::Server(s) => {
                format!(
                "server {}: term {}, applied {} (commit {}), log {}..{}, led {} term(s){}{}{}{}",
                r.rank,
                s.term,
                s.applied.iter().map(|(f, v)| f + v.len() as u64).max().unwrap_or(1) - 1,
                s.commit,
                s.log_offset + 1,
                s.log_offset + s.log.len() as u64,
                s.led.len(),
                if s.leader_at_end { ", leader at the end" } else { "" },
                if s.gave_up { ", gave up" } else { "" },
                restarts,
                tail
            )
            }
            Output::Client(c) => format!(
                "client {}: {} of {} commands answered, {} gets{}",
                r.rank,
                c.work.done.len(),
                c.work.submitted,
                c.reads.len(),
                tail
            ),
        });
    }
    let f = figures(args, run);
    lines.push(format!(
        "{}; {:.3} messages, {:.1} bytes and {:.3} storage syncs per commit; {} leader change(s)",
        f.commit.headline(),
        f.commit.messages_per_commit.unwrap_or(0.0),
        f.commit.bytes_per_commit.unwrap_or(0.0),
        f.storage_syncs_per_commit.unwrap_or(0.0),
        f.leader_changes.len(),
    ));
    let e = &f.election_after_leader_crash;
    if e.count > 0 {
        lines.push(format!(
            "a new leader {:.1} ms (mean) after each of {} leader crash(es), at most {:.1} ms",
            e.mean_ms.unwrap_or(0.0),
            e.count,
            e.max_ms.unwrap_or(0.0)
        ));
    }
    if f.follower_logs_shrank > 0 {
        lines.push(format!(
            "leaders saw a follower refuse an index it had acknowledged {} time(s), and probed it down",
            f.follower_logs_shrank
        ));
    }
    for r in &f.restarts {
        lines.push(format!(
            "server {} restarted at {:.1} ms from {} records (log to {}); caught up with the leader's commit index {} {}",
            r.rank,
            r.restarted_ms,
            r.records,
            r.stored_last_index,
            r.target_index.map_or("null".to_string(), |t| t.to_string()),
            r.caught_up_after_ms
                .map_or("never".to_string(), |c| format!("{c:.1} ms later"))
        ));
    }
    lines
}
