//! Task mode: the master and workers of the MapReduce paper (Dean & Ghemawat, OSDI 2004, §3),
//! as one sans-IO state machine per rank, run by the MPI driver and by the simulator.
//!
//! Rank 0 is the **master**, ranks 1.. are **workers**. There are M map tasks (one per split of
//! the input) and R reduce tasks (one per key partition, `--reducers`).
//!
//! - The master gives each idle live worker a task: maps first; reduces once every map is done.
//!   It resends every running assignment each `--resend` ms (links may lose it), and a reduce
//!   assignment carries where each finished map's output lives.
//! - A worker runs a map (read the split, map, combine, cut into R buckets), keeps the buckets
//!   in its memory and, after the task's work time (`--task-ms`, times `--slow-factor` on a
//!   `--slow` worker), tells the master `MapDone`. A reducer fetches bucket `part` of every map
//!   from its worker (at most 32 requests unanswered at once), merges each bucket once as it
//!   arrives (its own worker's buckets 16 per step, so that its heartbeat is never held up for
//!   long), and sends the reduced partition to the master with the list of map outputs it
//!   merged. The master commits the first copy of
//!   each partition and ignores later ones.
//! - Workers send a heartbeat each `--resend` ms. A worker silent for `--suspect` ms is declared
//!   dead (§3.3; a worker is silent while it computes, so `--suspect` must exceed a task): its
//!   running tasks go back to idle, and so do its *finished* maps while a partition is
//!   uncommitted, their output having lived only on it; they run again elsewhere,
//!   and reducers learn the new place from the resent assignment. A worker heard from again is
//!   alive again (a partition, not a crash, had hidden it).
//! - Backup tasks (§3.6): when no task of the phase is left to hand out and a worker is idle,
//!   a task running for over 3 work times, and twice the mean of the phase's finished tasks,
//!   gets a second copy; the first to finish wins.
//! - When every partition is committed, the master assembles the result and tells every worker
//!   to finish (resent until each says `Bye` or is declared dead). A worker that hears nothing
//!   from the master for `--give-up` ms stops; a master left with no live worker for that long
//!   stops too.
//!
//! Checks: the result equals the sequential computation (when the master finished);
//! `outputs-used-once`: every committed partition merged each map's output exactly once, and
//! each partition was committed once, however many times its tasks ran; `termination` where
//! the master and a worker never crash and links deliver in the end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::input::{Source, Split};
use super::job::{self, Outcome, Solo};
use super::text::Table;
use super::{Args, Mode};
use crate::shared::faults::FaultPlan;
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};
use crate::with_job;

/// A task's try: the master numbers the assignments of each task.
pub type Attempt = u32;

/// Messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Master to worker: run map `task`.
    Map { task: u32, attempt: Attempt },
    /// Master to worker: run reduce `part`; `sources` are the finished maps (task, worker,
    /// attempt) known now.
    Reduce {
        part: u32,
        attempt: Attempt,
        sources: Vec<(u32, Rank, Attempt)>,
    },
    /// Worker to master: map done, its output kept here.
    MapDone { task: u32, attempt: Attempt },
    /// Worker to master: the reduced partition (encoded pairs) and the map outputs it merged,
    /// (task, attempt), in merge order.
    ReduceDone {
        part: u32,
        attempt: Attempt,
        used: Vec<(u32, Attempt)>,
        data: Vec<u8>,
    },
    /// Reducer to a map's worker: bucket `part` of map `task`, please.
    Fetch { task: u32, part: u32 },
    /// A map's worker to a reducer.
    Bucket {
        task: u32,
        attempt: Attempt,
        part: u32,
        data: Vec<u8>,
    },
    /// Worker to master: heartbeat.
    Alive,
    /// Master to worker: the job is done.
    Finish,
    /// Worker to master: finished.
    Bye,
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Map { .. } => "Map",
            Msg::Reduce { .. } => "Reduce",
            Msg::MapDone { .. } => "MapDone",
            Msg::ReduceDone { .. } => "ReduceDone",
            Msg::Fetch { .. } => "Fetch",
            Msg::Bucket { .. } => "Bucket",
            Msg::Alive => "Alive",
            Msg::Finish => "Finish",
            Msg::Bye => "Bye",
        }
    }
}

/// Map or reduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    Map,
    Reduce,
}

/// Timers.
#[derive(Debug, Clone, PartialEq)]
pub enum Timer {
    /// Master: suspicions, resends, backups. Worker: heartbeat, fetches, give-up.
    Tick,
    /// Worker: the work of a task is over.
    Work(Phase, u32, Attempt),
    /// Worker: merge the next few buckets of maps it ran itself into partition `u32`.
    MergeLocal(u32),
}

/// What every rank knows of the job: the input, its splits, the partitions.
#[derive(Debug)]
pub struct Plan {
    pub src: Source,
    pub splits: Vec<Split>,
    pub reducers: usize,
    pub job: job::JobKind,
    pub combine: bool,
    pub top_k: usize,
    pub task: Duration,
    pub slow: Vec<Rank>,
    pub slow_factor: u32,
    pub resend: Duration,
    pub suspect: Duration,
    pub give_up: Duration,
    pub backup: bool,
}

impl Plan {
    /// The plan of `args` at `np` ranks, built once per process (the simulator's ranks, and a
    /// sweep's runs, share one read-only copy).
    pub fn of(args: &Args, np: usize) -> Arc<Plan> {
        static CACHE: Mutex<Option<(String, Arc<Plan>)>> = Mutex::new(None);
        let key = format!("{args:?} {np}");
        let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, p)) = c.as_ref() {
            if *k == key {
                return p.clone();
            }
        }
        let src = args.source().expect("validated");
        let plan = Arc::new(Plan {
            splits: src.splits(args.chunk),
            src,
            reducers: args
                .reducers
                .map_or(2 * np.saturating_sub(1).max(1), |r| r as usize),
            job: args.job,
            combine: !args.no_combiner,
            top_k: args.top_k as usize,
            task: Duration::from_millis(args.task_ms),
            slow: args.slow.clone(),
            slow_factor: args.slow_factor as u32,
            resend: Duration::from_millis(args.resend),
            suspect: Duration::from_millis(args.suspect),
            give_up: Duration::from_millis(args.give_up),
            backup: !args.no_backup,
        });
        *c = Some((key, plan.clone()));
        plan
    }

    /// The sequential result of the job on the input (computed once per process).
    pub fn sequential(&self) -> Result<Outcome, String> {
        static CACHE: Mutex<Option<(String, Result<Outcome, String>)>> = Mutex::new(None);
        let key = format!(
            "{:?} {:?} {} {}",
            self.src, self.splits, self.combine, self.top_k
        );
        let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, r)) = c.as_ref() {
            if *k == key {
                return r.clone();
            }
        }
        let r = with_job!(self.job, J => job::sequential::<J>(
            self.splits.len(),
            self.combine,
            self.top_k,
            |i| self.src.read(self.splits[i]),
        ))
        .map(|(o, _)| o);
        *c = Some((key, r.clone()));
        r
    }

    fn work_time(&self, rank: Rank) -> Duration {
        if self.slow.contains(&rank) {
            self.task * self.slow_factor
        } else {
            self.task
        }
    }
}

/// The state of a task at the master.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    /// Copies running: (worker, attempt, since).
    Running(Vec<(Rank, Attempt, Duration)>),
    /// Finished by `worker` in `attempt` (a map: its output lives there).
    Done(Rank, Attempt),
}

#[derive(Debug, Clone)]
struct WorkerInfo {
    alive: bool,
    last_heard: Duration,
    /// The tasks it runs: a reduce and, while the reduce waits for a lost map, that map.
    busy: BTreeSet<(Phase, u32, Attempt)>,
    bye: bool,
}

/// One committed partition, as the master took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub part: u32,
    pub attempt: Attempt,
    pub worker: Rank,
    pub used: Vec<(u32, Attempt)>,
}

/// The master's state.
#[derive(Debug)]
pub struct Master {
    plan: Arc<Plan>,
    maps: Vec<Status>,
    parts: Vec<Status>,
    attempts: BTreeMap<(Phase, u32), Attempt>,
    workers: BTreeMap<Rank, WorkerInfo>,
    data: BTreeMap<u32, Vec<u8>>,
    out: MasterOut,
    no_worker_since: Option<Duration>,
    /// Per phase: the total time its first finished copies took, and their number.
    took: BTreeMap<Phase, (Duration, u32)>,
}

/// What the master reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MasterOut {
    pub result: Option<Outcome>,
    pub commits: Vec<Commit>,
    /// Assignments made (first runs, re-executions and backups).
    pub map_runs: u32,
    pub reduce_runs: u32,
    /// Finished maps run again because their worker was declared dead.
    pub maps_lost: u32,
    pub backups: u32,
    /// Copies that finished after another copy of their task (ignored).
    pub late_copies: u32,
    pub declared_dead: Vec<Rank>,
    pub revived: Vec<Rank>,
    pub finished_ms: Option<f64>,
    pub gave_up: bool,
    pub done: bool,
}

/// A reduce in progress at a worker.
#[derive(Debug)]
struct ReduceJob {
    attempt: Attempt,
    sources: BTreeMap<u32, (Rank, Attempt)>,
    merged: BTreeSet<u32>,
    used: Vec<(u32, Attempt)>,
    /// The partition reduced so far: each bucket is merged as it arrives, so that the worker
    /// never computes for long at once (it cannot answer the master while it computes).
    table: Partial,
    /// When each missing bucket was last asked for.
    asked: BTreeMap<u32, Duration>,
}

/// A job's reduce table, typed by the job (`Table<J::V>`, see [`with_job!`]).
struct Partial(Option<Box<dyn std::any::Any + Send>>);

impl std::fmt::Debug for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Partial")
    }
}

impl Partial {
    fn table<J: job::Job + 'static>(&mut self) -> &mut Table<J::V>
    where
        J::V: Send + 'static,
    {
        self.0
            .get_or_insert_with(|| Box::new(Table::<J::V>::default()))
            .downcast_mut()
            .expect("one job per run")
    }
}

/// Buckets a reducer asks for at once, and how long it waits before asking again: a bounded
/// window, so that resent requests cannot flood the workers faster than they answer.
const FETCH_WINDOW: usize = 32;

/// A reducer merges at most this many of its own worker's buckets in one step, then lets its
/// heartbeat and other messages through: a worker's step is as long as its work, and a lone
/// survivor of a crash holds every bucket of a 1 GB job (1,026) on its own; the master suspects
/// a worker silent for `--suspect` ms.
const LOCAL_BATCH: usize = 16;

/// A worker's state.
#[derive(Debug)]
pub struct Worker {
    plan: Arc<Plan>,
    /// Map outputs kept here: task -> (attempt, one encoded bucket per partition).
    outputs: BTreeMap<u32, (Attempt, Vec<Vec<u8>>)>,
    reduces: BTreeMap<u32, ReduceJob>,
    /// Work in progress (its message sent when the work time is over) and finished work (its
    /// message resent when the master asks again, and when it was last sent).
    pending: BTreeMap<(Phase, u32, Attempt), Msg>,
    finished: BTreeMap<(Phase, u32, Attempt), (Msg, Duration)>,
    last_master: Duration,
    out: WorkerOut,
}

/// What a worker reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerOut {
    pub maps: u32,
    pub reduces: u32,
    pub buckets_served: u32,
    pub finished: bool,
    pub gave_up: bool,
}

/// One rank.
#[derive(Debug)]
pub enum Node {
    Master(Box<Master>),
    Worker(Box<Worker>),
}

/// A rank's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    Master(Box<MasterOut>),
    Worker(WorkerOut),
}

type C<'a> = Ctx<'a, Msg, Timer>;

impl Master {
    fn new(plan: Arc<Plan>, np: usize) -> Master {
        Master {
            maps: vec![Status::Idle; plan.splits.len()],
            parts: vec![Status::Idle; plan.reducers],
            attempts: BTreeMap::new(),
            workers: (1..np)
                .map(|w| {
                    (
                        w,
                        WorkerInfo {
                            alive: true,
                            last_heard: Duration::ZERO,
                            busy: BTreeSet::new(),
                            bye: false,
                        },
                    )
                })
                .collect(),
            data: BTreeMap::new(),
            out: MasterOut::default(),
            no_worker_since: None,
            took: BTreeMap::new(),
            plan,
        }
    }

    fn sources(&self) -> Vec<(u32, Rank, Attempt)> {
        (self.maps.iter().enumerate())
            .filter_map(|(t, s)| match s {
                Status::Done(w, a) => Some((t as u32, *w, *a)),
                _ => None,
            })
            .collect()
    }

    fn assignment(&self, phase: Phase, id: u32, attempt: Attempt) -> Msg {
        match phase {
            Phase::Map => Msg::Map { task: id, attempt },
            Phase::Reduce => Msg::Reduce {
                part: id,
                attempt,
                sources: self.sources(),
            },
        }
    }

    fn status(&mut self, phase: Phase, id: u32) -> &mut Status {
        match phase {
            Phase::Map => &mut self.maps[id as usize],
            Phase::Reduce => &mut self.parts[id as usize],
        }
    }

    /// Give `w` a copy of `(phase, id)`.
    fn start(&mut self, w: Rank, phase: Phase, id: u32, ctx: &mut C) {
        let a = self.attempts.entry((phase, id)).or_insert(0);
        *a += 1;
        let attempt = *a;
        let now = ctx.now();
        match self.status(phase, id) {
            Status::Running(copies) => copies.push((w, attempt, now)),
            s => *s = Status::Running(vec![(w, attempt, now)]),
        }
        match phase {
            Phase::Map => self.out.map_runs += 1,
            Phase::Reduce => self.out.reduce_runs += 1,
        }
        (self.workers.get_mut(&w).expect("a worker").busy).insert((phase, id, attempt));
        let msg = self.assignment(phase, id, attempt);
        ctx.send(w, msg);
    }

    /// Hand idle tasks to idle live workers; then backups.
    fn schedule(&mut self, ctx: &mut C) {
        if self.out.result.is_some() {
            return;
        }
        let maps_done = self.maps.iter().all(|s| matches!(s, Status::Done(..)));
        let phase = if maps_done { Phase::Reduce } else { Phase::Map };
        // A worker whose reduce waits for a lost map may run that map: otherwise reducers
        // waiting for maps that nobody is free to run would wait forever.
        let idle_workers: Vec<Rank> = (self.workers.iter())
            .filter(|(_, i)| {
                i.alive
                    && i.busy
                        .iter()
                        .all(|b| phase == Phase::Map && b.0 == Phase::Reduce)
            })
            .map(|(w, _)| *w)
            .collect();
        let list = match phase {
            Phase::Map => &self.maps,
            Phase::Reduce => &self.parts,
        };
        let mut idle_tasks: Vec<u32> = (list.iter().enumerate())
            .filter(|(_, s)| **s == Status::Idle)
            .map(|(i, _)| i as u32)
            .collect();
        idle_tasks.reverse();
        for w in idle_workers {
            match idle_tasks.pop() {
                Some(id) => self.start(w, phase, id, ctx),
                None if self.plan.backup && self.workers[&w].busy.is_empty() => {
                    self.backup(w, phase, ctx)
                }
                None => {}
            }
        }
    }

    /// Give idle worker `w` a backup copy of the longest-running single-copy task of `phase`,
    /// if it has run for over 3 modeled work times and 2 resends, and over twice the mean time
    /// the finished tasks of the phase took (under MPI the real computation counts).
    fn backup(&mut self, w: Rank, phase: Phase, ctx: &mut C) {
        let now = ctx.now();
        let (sum, n) = self.took.get(&phase).copied().unwrap_or_default();
        let mean = if n > 0 { sum / n } else { Duration::ZERO };
        let after = (self.plan.task * 3 + self.plan.resend * 2).max(mean * 2);
        let list = match phase {
            Phase::Map => &self.maps,
            Phase::Reduce => &self.parts,
        };
        let oldest = (list.iter().enumerate())
            .filter_map(|(i, s)| match s {
                Status::Running(c) if c.len() == 1 && c[0].0 != w => Some((c[0].2, i as u32)),
                _ => None,
            })
            .filter(|(since, _)| now.saturating_sub(*since) > after)
            .min();
        if let Some((_, id)) = oldest {
            self.out.backups += 1;
            ctx.local(format!("backup of {phase:?} {id} on rank {w}"));
            self.start(w, phase, id, ctx);
        }
    }

    /// `w` is declared dead: its running copies go, and so do its finished maps while a
    /// partition is uncommitted (their output lived only there).
    fn declare_dead(&mut self, w: Rank, ctx: &mut C) {
        let info = self.workers.get_mut(&w).expect("a worker");
        info.alive = false;
        info.busy.clear();
        self.out.declared_dead.push(w);
        ctx.note(format!("rank {w} declared dead"));
        let reduces_left = self.parts.iter().any(|s| !matches!(s, Status::Done(..)));
        for s in self.maps.iter_mut().chain(self.parts.iter_mut()) {
            if let Status::Running(c) = s {
                c.retain(|x| x.0 != w);
                if c.is_empty() {
                    *s = Status::Idle;
                }
            }
        }
        if reduces_left {
            for s in self.maps.iter_mut() {
                if matches!(s, Status::Done(x, _) if *x == w) {
                    *s = Status::Idle;
                    self.out.maps_lost += 1;
                }
            }
        }
    }

    /// A copy of `(phase, id, attempt)` finished on `w` at `now`: whether it is the first.
    fn finished(
        &mut self,
        w: Rank,
        phase: Phase,
        id: u32,
        attempt: Attempt,
        now: Duration,
    ) -> bool {
        if let Some(info) = self.workers.get_mut(&w) {
            info.busy.remove(&(phase, id, attempt));
        }
        let s = self.status(phase, id);
        let since = match s {
            Status::Done(..) => return false,
            Status::Running(c) => c.iter().find(|x| x.1 == attempt).map(|x| x.2),
            Status::Idle => None,
        };
        *s = Status::Done(w, attempt);
        if let Some(since) = since {
            let t = self.took.entry(phase).or_default();
            t.0 += now.saturating_sub(since);
            t.1 += 1;
        }
        true
    }

    fn heard(&mut self, w: Rank, ctx: &mut C) {
        let now = ctx.now();
        if let Some(info) = self.workers.get_mut(&w) {
            info.last_heard = now;
            if !info.alive {
                info.alive = true;
                info.busy.clear();
                self.out.revived.push(w);
                ctx.note(format!("rank {w} alive again"));
            }
        }
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        self.heard(from, ctx);
        let bye = self.workers.get(&from).is_none_or(|i| i.bye);
        match msg {
            // Once the result is in, a worker not yet gone is told to finish, whatever it says
            // (it may have been cut off when Finish went out, and the master is done now).
            _ if self.out.result.is_some() && !bye && !matches!(msg, Msg::Bye) => {
                ctx.send(from, Msg::Finish)
            }
            // A sign of life back, so that an idle worker does not give the master up.
            Msg::Alive if self.workers.contains_key(&from) => ctx.send(from, Msg::Alive),
            Msg::MapDone { task, attempt } => {
                let first = self.finished(from, Phase::Map, task, attempt, ctx.now());
                self.out.late_copies += u32::from(!first);
            }
            Msg::ReduceDone {
                part,
                attempt,
                used,
                data,
            } => {
                if self.finished(from, Phase::Reduce, part, attempt, ctx.now()) {
                    self.out.commits.push(Commit {
                        part,
                        attempt,
                        worker: from,
                        used,
                    });
                    self.data.insert(part, data);
                    if self.data.len() == self.plan.reducers {
                        self.assemble(ctx);
                    }
                } else {
                    self.out.late_copies += 1;
                }
            }
            Msg::Bye => {
                if let Some(i) = self.workers.get_mut(&from) {
                    i.bye = true;
                }
                self.check_done(ctx);
            }
            _ => {}
        }
        self.schedule(ctx);
    }

    /// Every partition committed: the result, then tell the workers.
    fn assemble(&mut self, ctx: &mut C) {
        let plan = self.plan.clone();
        let result = with_job!(plan.job, J => {
            let mut table: Table<<J as job::Job>::V> = Table::default();
            for d in self.data.values() {
                job::reduce_into::<J>(&mut table, d).expect("a partition decodes");
            }
            <J as job::Job>::finish(&Solo, table, plan.top_k)
        });
        self.out.result = result;
        self.out.finished_ms = Some(ctx.now().as_secs_f64() * 1e3);
        ctx.note("result assembled");
        self.tell_finish(ctx);
    }

    fn tell_finish(&mut self, ctx: &mut C) {
        for (w, i) in &self.workers {
            if i.alive && !i.bye {
                ctx.send(*w, Msg::Finish);
            }
        }
        self.check_done(ctx);
    }

    fn check_done(&mut self, _ctx: &mut C) {
        if self.out.result.is_some() && self.workers.values().all(|i| !i.alive || i.bye) {
            self.out.done = true;
        }
    }

    fn on_tick(&mut self, ctx: &mut C) {
        let now = ctx.now();
        let suspect = self.plan.suspect;
        let silent: Vec<Rank> = (self.workers.iter())
            .filter(|(_, i)| i.alive && !i.bye && now.saturating_sub(i.last_heard) >= suspect)
            .map(|(w, _)| *w)
            .collect();
        for w in silent {
            self.declare_dead(w, ctx);
        }
        if self.out.result.is_some() {
            self.tell_finish(ctx);
        } else {
            // Resend every running assignment (a reduce's with the sources known now).
            let mut resend = Vec::new();
            for (phase, list) in [(Phase::Map, &self.maps), (Phase::Reduce, &self.parts)] {
                for (id, s) in list.iter().enumerate() {
                    if let Status::Running(c) = s {
                        for &(w, a, _) in c {
                            resend.push((w, phase, id as u32, a));
                        }
                    }
                }
            }
            for (w, phase, id, a) in resend {
                let m = self.assignment(phase, id, a);
                ctx.send(w, m);
            }
            self.schedule(ctx);
            // No live worker for --give-up: the job cannot end.
            if self.workers.values().any(|i| i.alive) {
                self.no_worker_since = None;
            } else {
                let since = *self.no_worker_since.get_or_insert(now);
                if now.saturating_sub(since) >= self.plan.give_up {
                    self.out.gave_up = true;
                    self.out.done = true;
                    ctx.note("no live worker: gave up");
                }
            }
        }
        self.check_done(ctx);
        ctx.set_timer(Timer::Tick, self.plan.resend);
    }
}

impl Worker {
    fn new(plan: Arc<Plan>) -> Worker {
        Worker {
            plan,
            outputs: BTreeMap::new(),
            reduces: BTreeMap::new(),
            pending: BTreeMap::new(),
            finished: BTreeMap::new(),
            last_master: Duration::ZERO,
            out: WorkerOut::default(),
        }
    }

    fn done(&self) -> bool {
        self.out.finished || self.out.gave_up
    }

    /// Begin work whose message goes to the master once its work time is over.
    fn begin(&mut self, key: (Phase, u32, Attempt), msg: Msg, ctx: &mut C) {
        let t = self.plan.work_time(ctx.rank());
        self.pending.insert(key, msg);
        ctx.set_timer(Timer::Work(key.0, key.1, key.2), t);
    }

    /// Whether `key` is finished here; if so, its message goes to the master again, but at most
    /// once every 4 resend intervals. The master resends an assignment each interval until it
    /// has read the answer, and a reduce's answer is the whole partition: answering each resend
    /// once buried a master that was already behind under copies of it, so that it read the
    /// heartbeats too late and declared the worker dead again and again.
    fn answer_again(&mut self, key: (Phase, u32, Attempt), ctx: &mut C) -> bool {
        let (now, again) = (ctx.now(), self.plan.resend * 4);
        let Some((m, sent)) = self.finished.get_mut(&key) else {
            return false;
        };
        if now.saturating_sub(*sent) >= again {
            *sent = now;
            ctx.send(0, m.clone());
        }
        true
    }

    fn on_map(&mut self, task: u32, attempt: Attempt, ctx: &mut C) {
        let key = (Phase::Map, task, attempt);
        if self.answer_again(key, ctx) || self.pending.contains_key(&key) {
            return;
        }
        let plan = self.plan.clone();
        let chunk = match plan.src.read(plan.splits[task as usize]) {
            Ok(c) => c,
            Err(e) => {
                // Input the master's plan saw is gone here: this worker cannot map it, and
                // says so; the master will hand it elsewhere if this one is declared dead.
                ctx.local(format!("map {task}: {e}"));
                return;
            }
        };
        let (buckets, _) =
            with_job!(plan.job, J => job::map_chunk::<J>(&chunk, plan.combine, plan.reducers));
        self.outputs.insert(task, (attempt, buckets));
        self.begin(key, Msg::MapDone { task, attempt }, ctx);
    }

    /// Ask for missing buckets: at most [`FETCH_WINDOW`] unanswered at once, each asked again
    /// only after a while (a lost request, or a bucket lost with a dead worker).
    fn fetch_missing(&mut self, part: u32, ctx: &mut C) {
        let (me, now) = (ctx.rank(), ctx.now());
        let again = self.plan.resend * 4;
        let Some(r) = self.reduces.get_mut(&part) else {
            return;
        };
        let pending = |t: &Duration| now.saturating_sub(*t) < again;
        let mut waiting = (r.asked.iter())
            .filter(|(task, t)| !r.merged.contains(task) && pending(t))
            .count();
        for (&task, &(w, _)) in &r.sources {
            if waiting >= FETCH_WINDOW {
                break;
            }
            if r.merged.contains(&task) || w == me || r.asked.get(&task).is_some_and(pending) {
                continue;
            }
            r.asked.insert(task, now);
            waiting += 1;
            ctx.send(w, Msg::Fetch { task, part });
        }
    }

    fn on_reduce(
        &mut self,
        part: u32,
        attempt: Attempt,
        sources: Vec<(u32, Rank, Attempt)>,
        ctx: &mut C,
    ) {
        let key = (Phase::Reduce, part, attempt);
        if self.answer_again(key, ctx) || self.pending.contains_key(&key) {
            return;
        }
        let fresh = self.reduces.get(&part).is_none_or(|r| r.attempt != attempt);
        if fresh {
            self.reduces.insert(
                part,
                ReduceJob {
                    attempt,
                    sources: BTreeMap::new(),
                    merged: BTreeSet::new(),
                    used: Vec::new(),
                    table: Partial(None),
                    asked: BTreeMap::new(),
                },
            );
        }
        let r = self.reduces.get_mut(&part).expect("inserted");
        for (task, w, a) in sources {
            if !r.merged.contains(&task) && r.sources.insert(task, (w, a)) != Some((w, a)) {
                // A new place for this bucket: ask there at once.
                r.asked.remove(&task);
            }
        }
        self.merge_local(part, ctx);
        self.fetch_missing(part, ctx);
    }

    /// Buckets of maps run here need no message: merge the next [`LOCAL_BATCH`] of them, and
    /// come back for the rest in a later step.
    fn merge_local(&mut self, part: u32, ctx: &mut C) {
        let me = ctx.rank();
        let Some(r) = self.reduces.get(&part) else {
            return;
        };
        let local: Vec<u32> = (r.sources.iter())
            .filter(|(t, (w, _))| *w == me && !r.merged.contains(t) && self.outputs.contains_key(t))
            .map(|(t, _)| *t)
            .take(LOCAL_BATCH + 1)
            .collect();
        for &task in local.iter().take(LOCAL_BATCH) {
            let (a, b) = &self.outputs[&task];
            let (a, data) = (*a, b[part as usize].clone());
            self.merge(part, task, a, &data, ctx);
        }
        if local.len() > LOCAL_BATCH {
            ctx.set_timer(Timer::MergeLocal(part), Duration::ZERO);
        }
    }

    /// Merge bucket `part` of map `task` into the reduce, once.
    fn merge(&mut self, part: u32, task: u32, attempt: Attempt, data: &[u8], ctx: &mut C) {
        let maps = self.plan.splits.len();
        let job = self.plan.job;
        let Some(r) = self.reduces.get_mut(&part) else {
            return;
        };
        if r.merged.contains(&task) || self.pending.contains_key(&(Phase::Reduce, part, r.attempt))
        {
            return;
        }
        r.merged.insert(task);
        r.asked.remove(&task);
        r.used.push((task, attempt));
        with_job!(job, J => job::reduce_into::<J>(r.table.table::<J>(), data)
            .expect("a bucket decodes"));
        if r.merged.len() == maps {
            let data = with_job!(job, J => {
                let t = std::mem::take(r.table.table::<J>());
                let mut v: Vec<(String, <J as job::Job>::V)> = t.into_iter().collect();
                v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                postcard::to_allocvec(&v).expect("encodes")
            });
            let msg = Msg::ReduceDone {
                part,
                attempt: r.attempt,
                used: r.used.clone(),
                data,
            };
            let key = (Phase::Reduce, part, r.attempt);
            self.begin(key, msg, ctx);
        }
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        if from == 0 {
            self.last_master = ctx.now();
        }
        match msg {
            Msg::Finish => {
                self.out.finished = true;
                ctx.send(0, Msg::Bye);
            }
            _ if self.done() => {}
            Msg::Map { task, attempt } => self.on_map(task, attempt, ctx),
            Msg::Reduce {
                part,
                attempt,
                sources,
            } => self.on_reduce(part, attempt, sources, ctx),
            Msg::Fetch { task, part } => {
                if let Some((a, b)) = self.outputs.get(&task) {
                    self.out.buckets_served += 1;
                    ctx.send(
                        from,
                        Msg::Bucket {
                            task,
                            attempt: *a,
                            part,
                            data: b[part as usize].clone(),
                        },
                    );
                }
            }
            Msg::Bucket {
                task,
                attempt,
                part,
                data,
            } => self.merge(part, task, attempt, &data, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, t: Timer, ctx: &mut C) {
        match t {
            Timer::Tick => {
                if ctx.now().saturating_sub(self.last_master) >= self.plan.give_up {
                    self.out.gave_up = true;
                    ctx.note("the master is silent: gave up");
                    return;
                }
                ctx.send(0, Msg::Alive);
                let parts: Vec<u32> = self.reduces.keys().copied().collect();
                for p in parts {
                    self.fetch_missing(p, ctx);
                }
                ctx.set_timer(Timer::Tick, self.plan.resend);
            }
            Timer::MergeLocal(part) => self.merge_local(part, ctx),
            Timer::Work(phase, id, attempt) => {
                let key = (phase, id, attempt);
                if let Some(m) = self.pending.remove(&key) {
                    match phase {
                        Phase::Map => self.out.maps += 1,
                        Phase::Reduce => {
                            self.out.reduces += 1;
                            self.reduces.remove(&id);
                        }
                    }
                    ctx.send(0, m.clone());
                    self.finished.insert(key, (m, ctx.now()));
                }
            }
        }
    }
}

impl Process for Node {
    type Msg = Msg;
    type Timer = Timer;
    type Output = Output;

    fn on_start(&mut self, ctx: &mut C) {
        match self {
            Node::Master(m) => {
                m.schedule(ctx);
                ctx.set_timer(Timer::Tick, m.plan.resend);
            }
            Node::Worker(w) => {
                ctx.send(0, Msg::Alive);
                ctx.set_timer(Timer::Tick, w.plan.resend);
            }
        }
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        match self {
            Node::Master(m) => m.on_message(from, msg, ctx),
            Node::Worker(w) => w.on_message(from, msg, ctx),
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut C) {
        match self {
            Node::Master(m) => {
                if timer == Timer::Tick {
                    m.on_tick(ctx);
                }
            }
            Node::Worker(w) => w.on_timer(timer, ctx),
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Node::Master(m) => m.out.done,
            Node::Worker(w) => w.done(),
        }
    }

    fn output(&self) -> Output {
        match self {
            Node::Master(m) => Output::Master(Box::new(m.out.clone())),
            Node::Worker(w) => Output::Worker(w.out.clone()),
        }
    }
}

/// Task mode as an [`Algorithm`]: the common drivers run it.
pub struct TaskMode;

impl Algorithm for TaskMode {
    const NAME: &'static str = "map-reduce";
    const ABOUT: &'static str = "map-reduce in task mode";
    const KINDS: &'static [&'static str] = &[
        "Map",
        "MapDone",
        "Reduce",
        "ReduceDone",
        "Fetch",
        "Bucket",
        "Alive",
        "Finish",
        "Bye",
    ];
    type Args = Args;
    type Proc = Node;

    fn roles(args: &Args, np: usize) -> Vec<String> {
        let _ = args;
        (0..np)
            .map(|r| if r == 0 { "master" } else { "worker" }.to_string())
            .collect()
    }

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        let _ = faults;
        if args.mode != Mode::Tasks {
            return Err("internal: task mode validation of another mode".into());
        }
        if np < 2 {
            return Err(format!(
                "task mode needs a master (rank 0) and at least one worker: np 2 or more, got {np}"
            ));
        }
        if let Some(&r) = args.slow.iter().find(|&&r| r == 0 || r >= np) {
            return Err(format!(
                "--slow {r}: stragglers are workers, ranks 1..{}",
                np - 1
            ));
        }
        Ok(())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> Node {
        let plan = Plan::of(args, np);
        if rank == 0 {
            Node::Master(Box::new(Master::new(plan, np)))
        } else {
            Node::Worker(Box::new(Worker::new(plan)))
        }
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        checks(args, run)
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        summarize(args, run)
    }

    fn own_outputs(args: &Args) -> Vec<(&'static str, PathBuf)> {
        args.output.iter().map(|p| ("output", p.clone())).collect()
    }

    fn files(args: &Args, run: &RunResult<Output>) -> Vec<(&'static str, String)> {
        let (Some(_), Some(m)) = (&args.output, master(run)) else {
            return Vec::new();
        };
        let Some(result) = &m.result else {
            return Vec::new();
        };
        let mut text = Vec::new();
        result.write(&mut text).expect("writes to memory");
        vec![("output", String::from_utf8_lossy(&text).into_owned())]
    }

    fn output_view(output: &Output) -> serde_json::Value {
        match output {
            Output::Master(m) => serde_json::json!({ "master": {
                "result_lines": m.result.as_ref().map(Outcome::len),
                "commits": m.commits.len(),
                "map_runs": m.map_runs,
                "reduce_runs": m.reduce_runs,
                "maps_lost": m.maps_lost,
                "backups": m.backups,
                "late_copies": m.late_copies,
                "declared_dead": m.declared_dead,
                "revived": m.revived,
                "finished_ms": m.finished_ms,
                "gave_up": m.gave_up,
            }}),
            Output::Worker(w) => serde_json::json!({ "worker": w }),
        }
    }

    fn figures(_args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
        let m = master(run)?;
        Some(serde_json::json!({ "tasks": {
            "finished_ms": m.finished_ms,
            "map_runs": m.map_runs,
            "reduce_runs": m.reduce_runs,
            "maps_lost": m.maps_lost,
            "backups": m.backups,
            "late_copies": m.late_copies,
            "result_lines": m.result.as_ref().map(Outcome::len),
        }}))
    }
}

fn master(run: &RunResult<Output>) -> Option<&MasterOut> {
    match &run.ranks.first()?.output {
        Output::Master(m) => Some(m),
        Output::Worker(_) => None,
    }
}

/// Whether the plan lets the job finish: the master and a worker up to the end, and links
/// that deliver in the end.
fn termination_required(run: &RunResult<Output>) -> Result<(), String> {
    run.interrupted()?;
    let faults = run.applied_faults();
    if faults.crash_time_ms(0).is_some() {
        return Err("the master (rank 0) crashes".into());
    }
    let workers: Vec<Rank> = (1..run.np)
        .filter(|&w| faults.crash_time_ms(w).is_none())
        .collect();
    if workers.is_empty() {
        return Err("every worker crashes".into());
    }
    let members: Vec<Rank> = std::iter::once(0).chain(workers.iter().copied()).collect();
    if let Some(why) = faults.blocked_at_end(run.end_ms(), &[0], &members, 2, &[]) {
        return Err(why);
    }
    faults.never_delivers().map_or(Ok(()), Err)
}

/// The checks of a task-mode run.
pub fn checks(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
    let plan = Plan::of(args, run.np);
    let Some(m) = master(run) else {
        return vec![Check::from_violations(
            "master-output",
            String::new(),
            vec!["rank 0 reported no master output".into()],
        )];
    };
    let mut checks = Vec::new();
    let finished: Result<(), String> = if m.result.is_some() {
        Ok(())
    } else {
        Err("the master assembled no result".into())
    };
    match (&m.result, plan.sequential()) {
        (Some(got), Ok(want)) => checks.push(Check::from_violations(
            "equals-sequential",
            format!(
                "all {} lines equal the sequential computation's on the same input",
                want.len()
            ),
            got.differences(&want, 5),
        )),
        (Some(_), Err(e)) => checks.push(Check::from_violations(
            "equals-sequential",
            String::new(),
            vec![format!("the sequential computation failed: {e}")],
        )),
        (None, _) => checks.push(Check::if_required(
            "equals-sequential",
            finished.clone(),
            String::new(),
            vec![],
        )),
    }
    let maps = plan.splits.len() as u32;
    let mut bad = Vec::new();
    let mut parts = BTreeSet::new();
    for c in &m.commits {
        if !parts.insert(c.part) {
            bad.push(format!("partition {} committed twice", c.part));
        }
        let mut tasks: Vec<u32> = c.used.iter().map(|u| u.0).collect();
        tasks.sort_unstable();
        let dups = tasks.windows(2).filter(|w| w[0] == w[1]).count();
        tasks.dedup();
        if dups > 0 {
            bad.push(format!(
                "partition {} merged {dups} map outputs twice",
                c.part
            ));
        }
        if tasks.len() as u32 != maps {
            bad.push(format!(
                "partition {} merged {} of the {maps} map outputs",
                c.part,
                tasks.len()
            ));
        }
    }
    if m.result.is_some() && parts.len() != plan.reducers {
        bad.push(format!(
            "a result from {} of {} partitions",
            parts.len(),
            plan.reducers
        ));
    }
    let runs = m.map_runs + m.reduce_runs;
    checks.push(Check::from_violations(
        "outputs-used-once",
        format!(
            "{} partitions committed once each, each merging the {maps} map outputs once ({runs} task runs for {} tasks)",
            parts.len(),
            maps as usize + plan.reducers
        ),
        bad,
    ));
    let required = termination_required(run);
    let stuck = if m.result.is_some() {
        vec![]
    } else {
        vec![format!(
            "the master assembled no result ({} of {} partitions committed)",
            m.commits.len(),
            plan.reducers
        )]
    };
    checks.push(Check::if_required(
        "termination",
        required,
        format!(
            "the master assembled the result at {:.1} ms",
            m.finished_ms.unwrap_or(0.0)
        ),
        stuck,
    ));
    checks
}

/// What a task-mode run computed.
pub fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
    let plan = Plan::of(args, run.np);
    let mut out = vec![format!(
        "{:?} in task mode: {} map tasks ({} bytes of input), {} reduce partitions, master rank 0, workers 1..{}",
        args.job,
        plan.splits.len(),
        plan.src.bytes(),
        plan.reducers,
        run.np - 1
    )];
    for r in &run.ranks {
        if let Output::Worker(w) = &r.output {
            out.push(format!(
                "rank {}: {} maps, {} reduces, {} buckets served{}{}",
                r.rank,
                w.maps,
                w.reduces,
                w.buckets_served,
                if r.crashed { " (crashed)" } else { "" },
                if w.gave_up {
                    " (gave up: the master was silent)"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(m) = master(run) {
        out.push(format!(
            "master: {} map runs, {} reduce runs; {} finished maps lost with their worker and run again; {} backups; {} late copies ignored; declared dead {:?}{}",
            m.map_runs,
            m.reduce_runs,
            m.maps_lost,
            m.backups,
            m.late_copies,
            m.declared_dead,
            if m.revived.is_empty() {
                String::new()
            } else {
                format!(", alive again {:?}", m.revived)
            }
        ));
        match (&m.result, m.finished_ms) {
            (Some(r), Some(t)) => out.push(format!(
                "result: {} lines, assembled at {t:.1} ms{}",
                r.len(),
                args.output
                    .as_ref()
                    .map_or(String::new(), |p| format!(", written to {}", p.display()))
            )),
            _ => out.push(format!(
                "no result{}",
                if m.gave_up {
                    ": no live worker left"
                } else {
                    ""
                }
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::shared::process::{effects_at, sends_of, Effect};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(line: &str) -> Args {
        let argv = std::iter::once("t").chain(line.split_whitespace());
        Cli::parse_from(argv).args
    }

    fn master(line: &str, np: usize) -> Master {
        Master::new(Plan::of(&args(line), np), np)
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn the_master_hands_out_maps_then_reduces_with_their_places() {
        // 4 maps (4 documents, one per split), 2 partitions, workers 1 and 2.
        let mut m = master("--mode tasks --generate 8K --chunk 2K --reducers 2", 3);
        let e = effects_at(&mut m, 0, 3, at(0), |m, c| m.schedule(c));
        assert_eq!(
            sends_of(&e),
            [
                (
                    1,
                    Msg::Map {
                        task: 0,
                        attempt: 1
                    }
                ),
                (
                    2,
                    Msg::Map {
                        task: 1,
                        attempt: 1
                    }
                )
            ]
        );
        let e = effects_at(&mut m, 0, 3, at(1), |m, c| {
            m.on_message(
                1,
                Msg::MapDone {
                    task: 0,
                    attempt: 1,
                },
                c,
            )
        });
        assert_eq!(
            sends_of(&e),
            [(
                1,
                Msg::Map {
                    task: 2,
                    attempt: 1
                }
            )]
        );
        for (w, t) in [(2, 1), (1, 2)] {
            effects_at(&mut m, 0, 3, at(2), |m, c| {
                m.on_message(
                    w,
                    Msg::MapDone {
                        task: t,
                        attempt: 1,
                    },
                    c,
                )
            });
        }
        let e = effects_at(&mut m, 0, 3, at(3), |m, c| {
            m.on_message(
                2,
                Msg::MapDone {
                    task: 3,
                    attempt: 1,
                },
                c,
            )
        });
        // Maps done (0, 2 on rank 1; 1, 3 on rank 2): both reduces go out with the places.
        let places = vec![(0, 1, 1), (1, 2, 1), (2, 1, 1), (3, 2, 1)];
        assert_eq!(
            sends_of(&e),
            [
                (
                    1,
                    Msg::Reduce {
                        part: 0,
                        attempt: 1,
                        sources: places.clone()
                    }
                ),
                (
                    2,
                    Msg::Reduce {
                        part: 1,
                        attempt: 1,
                        sources: places
                    }
                )
            ]
        );
    }

    #[test]
    fn a_dead_worker_loses_its_finished_maps_until_the_reduces_are_committed() {
        let mut m = master(
            "--mode tasks --generate 8K --chunk 2K --reducers 2 --suspect 100",
            3,
        );
        effects_at(&mut m, 0, 3, at(0), |m, c| m.schedule(c));
        for (w, t) in [(1, 0), (2, 1), (1, 2), (2, 3)] {
            effects_at(&mut m, 0, 3, at(5), |m, c| {
                m.on_message(
                    w,
                    Msg::MapDone {
                        task: t,
                        attempt: 1,
                    },
                    c,
                )
            });
        }
        // Rank 2 goes silent; rank 1 keeps talking. At 120 ms rank 2 is declared dead: its
        // reduce and its finished maps 1 and 3 go back, and run again on rank 1 (whose reduce
        // waits for them).
        effects_at(&mut m, 0, 3, at(110), |m, c| m.on_message(1, Msg::Alive, c));
        let e = effects_at(&mut m, 0, 3, at(120), |m, c| m.on_tick(c));
        assert_eq!(m.out.declared_dead, [2]);
        assert_eq!(m.out.maps_lost, 2);
        let sends = sends_of(&e);
        assert!(
            sends.contains(&(
                1,
                Msg::Map {
                    task: 1,
                    attempt: 2
                }
            )),
            "{sends:?}"
        );
        assert!(!sends.iter().any(|(to, _)| *to == 2), "{sends:?}");
        // A late report of the dead worker's map is taken (it is alive again) once.
        effects_at(&mut m, 0, 3, at(130), |m, c| {
            m.on_message(
                2,
                Msg::MapDone {
                    task: 3,
                    attempt: 1,
                },
                c,
            )
        });
        assert_eq!(m.out.revived, [2]);
        assert_eq!(m.maps[3], Status::Done(2, 1));
    }

    #[test]
    fn a_reducer_merges_each_map_output_once() {
        let a = args("--mode tasks --generate 8K --chunk 2K --reducers 1");
        let plan = Plan::of(&a, 3);
        let mut w = Worker::new(plan.clone());
        let sources = vec![(0, 2, 1), (1, 2, 1), (2, 2, 1), (3, 2, 1)];
        let e = effects_at(&mut w, 1, 3, at(0), |w, c| {
            w.on_reduce(0, 1, sources.clone(), c)
        });
        assert_eq!(sends_of(&e).len(), 4, "a fetch per map");
        let bucket = |t: u32| {
            let chunk = plan.src.read(plan.splits[t as usize]).unwrap();
            job::map_chunk::<job::Wordcount>(&chunk, true, 1)
                .0
                .remove(0)
        };
        for t in [0, 1, 1, 2, 3, 3] {
            // Duplicates (a resent fetch, a duplicated message) are merged once.
            let data = bucket(t);
            effects_at(&mut w, 1, 3, at(1), |w, c| {
                w.on_message(
                    2,
                    Msg::Bucket {
                        task: t,
                        attempt: 1,
                        part: 0,
                        data,
                    },
                    c,
                )
            });
        }
        let Some(Msg::ReduceDone { used, .. }) = w.pending.values().next() else {
            panic!("the reduce is done: {:?}", w.pending);
        };
        assert_eq!(used, &[(0, 1), (1, 1), (2, 1), (3, 1)]);
    }
    #[test]
    fn a_reducer_merges_its_own_buckets_a_few_at_a_time() {
        // 40 maps, all run on this worker: the reduce merges LOCAL_BATCH of them per step,
        // so that its heartbeat goes out in between (a long step once got it declared dead).
        let a = args("--mode tasks --generate 80K --chunk 2K --reducers 1 --task-ms 0");
        let plan = Plan::of(&a, 2);
        let maps = plan.splits.len() as u32;
        assert!(maps as usize > 2 * LOCAL_BATCH, "{maps} maps");
        let mut w = Worker::new(plan);
        for t in 0..maps {
            effects_at(&mut w, 1, 2, at(0), |w, c| w.on_map(t, 1, c));
        }
        let sources: Vec<_> = (0..maps).map(|t| (t, 1, 1)).collect();
        let mut e = effects_at(&mut w, 1, 2, at(1), |w, c| w.on_reduce(0, 1, sources, c));
        let mut steps = 1;
        loop {
            let merged = w.reduces.get(&0).map_or(maps as usize, |r| r.merged.len());
            assert!(
                merged <= steps * LOCAL_BATCH,
                "{merged} merged in {steps} steps"
            );
            let again = e.iter().any(|e| {
                matches!(e, Effect::SetTimer { timer: Timer::MergeLocal(0), after } if after.is_zero())
            });
            if !again {
                break;
            }
            e = effects_at(&mut w, 1, 2, at(1), |w, c| {
                w.on_timer(Timer::MergeLocal(0), c)
            });
            steps += 1;
        }
        assert_eq!(steps, (maps as usize).div_ceil(LOCAL_BATCH));
        let Some(Msg::ReduceDone { used, .. }) = w.pending.get(&(Phase::Reduce, 0, 1)) else {
            panic!("the reduce is done: {:?}", w.pending.keys());
        };
        assert_eq!(used.len(), maps as usize);
    }
    #[test]
    fn a_finished_task_is_answered_again_at_most_once_per_four_resends() {
        // The master resends an assignment every 20 ms until it has read the answer; the
        // worker answers again only every 80 ms (a reduce's answer is a whole partition).
        let a = args("--mode tasks --generate 8K --chunk 2K --reducers 1 --task-ms 0");
        let mut w = Worker::new(Plan::of(&a, 2));
        effects_at(&mut w, 1, 2, at(0), |w, c| w.on_map(0, 1, c));
        let e = effects_at(&mut w, 1, 2, at(0), |w, c| {
            w.on_timer(Timer::Work(Phase::Map, 0, 1), c)
        });
        assert_eq!(sends_of(&e).len(), 1, "the answer");
        let mut answers = Vec::new();
        for ms in (20..=200).step_by(20) {
            let e = effects_at(&mut w, 1, 2, at(ms), |w, c| w.on_map(0, 1, c));
            if !sends_of(&e).is_empty() {
                answers.push(ms);
            }
        }
        assert_eq!(answers, [80, 160]);
    }
}
