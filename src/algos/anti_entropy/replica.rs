//! One replica: its seeded updates, gossip (push, pull, push-pull; full state or deltas) or
//! Merkle sync each round, and the convergence it observes (see the module doc of [`super`]).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::crdt::{entry_hash, fnv, Clock, CrdtKind, Dot, Entry, Op, State, Value};
use super::merkle::{self, Tree};
use super::{Args, GossipMode, Scenario, SyncKind};
use crate::shared::{Ctx, Kind, Process, Rank};

/// What a rank last said of itself, relayed by everyone: its report counter, whether it has
/// issued all its updates, and its state's digest then. Join: the higher counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub seq: u32,
    pub finished: bool,
    pub digest: u64,
}

/// A gossip payload: the whole state, or the deltas the receiver lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// Every entry (nothing when the sender knows the receiver already has its state).
    Full(Vec<(u32, Entry)>),
    /// (origin, seq, key, delta) of each update beyond what the receiver is known to hold.
    Deltas(Vec<(u32, u32, u32, Entry)>),
}

impl Payload {
    fn is_empty(&self) -> bool {
        match self {
            Payload::Full(v) => v.is_empty(),
            Payload::Deltas(v) => v.is_empty(),
        }
    }
}

/// Messages of `anti-entropy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Gossip push (push and push-pull: `answer` asks for what the sender lacks back).
    Push {
        payload: Payload,
        /// The sender's version vector (deltas mode).
        vv: Vec<u32>,
        reports: Vec<Report>,
        answer: bool,
    },
    /// Gossip pull: send me what I lack.
    Pull { vv: Vec<u32>, reports: Vec<Report> },
    /// The answer to a pull or a push-pull push.
    Answer {
        payload: Payload,
        vv: Vec<u32>,
        reports: Vec<Report>,
    },
    /// Merkle sync: my hashes of these nodes at `level` (the root first, with the reports).
    Tree {
        level: u32,
        nodes: Vec<(u32, u64)>,
        reports: Option<Vec<Report>>,
    },
    /// Merkle sync at the leaves: my entries for the keys that differ, and the keys I lack;
    /// `back`: answer with yours for both.
    Entries {
        entries: Vec<(u32, Entry)>,
        want: Vec<u32>,
        back: bool,
        reports: Vec<Report>,
    },
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Push { .. } => "Push",
            Msg::Pull { .. } => "Pull",
            Msg::Answer { .. } => "Answer",
            Msg::Tree { .. } => "Tree",
            Msg::Entries { .. } => "Entries",
        }
    }
}

/// Timers of a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Issue the next update.
    Update,
    /// A gossip or Merkle round.
    Round,
    /// `--duration`: stop waiting for convergence.
    Deadline,
}

/// One update issued at this rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issued {
    pub dot: Dot,
    pub op: Op,
    /// LWW-Map timestamp (0 for the others).
    pub ts: u64,
    pub at_ms: f64,
    /// Its delta: the key and entry it joined in.
    pub key: u32,
    pub delta: Entry,
}

/// How a rank's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum End {
    /// Every rank had finished its updates and reported this rank's digest.
    Converged,
    /// `--duration` came first.
    Deadline,
}

/// What a replica reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaOutput {
    pub state: State,
    pub value: Value,
    pub digest: u64,
    pub ops: Vec<Issued>,
    /// When it issued its last update.
    pub finished_ms: Option<f64>,
    /// When its state last changed.
    pub last_change_ms: f64,
    /// When it observed convergence.
    pub converged_ms: Option<f64>,
    pub end: Option<End>,
    /// Rounds it ran (gossip or Merkle), and how many when its state last changed.
    pub rounds: u64,
    pub rounds_at_last_change: u64,
}

/// One replica.
pub struct Replica {
    me: Rank,
    np: usize,
    kind: CrdtKind,
    sync: SyncKind,
    mode: GossipMode,
    fanout: usize,
    deltas: bool,
    updates: u32,
    update_every: Duration,
    period: Duration,
    duration: Duration,
    keys: u32,
    skew_ms: u64,
    script: Option<Vec<Op>>,
    state: State,
    clock: Clock,
    seq: u32,
    ops: Vec<Issued>,
    // Deltas mode: contiguous updates held per origin, the deltas by origin and seq, and what
    // each peer is believed to hold.
    vv: Vec<u32>,
    log: Vec<BTreeMap<u32, (u32, Entry)>>,
    known: Vec<Vec<u32>>,
    tree: Tree,
    digest: Option<u64>,
    reports: Vec<Report>,
    finished_ms: Option<f64>,
    last_change_ms: f64,
    converged_ms: Option<f64>,
    end: Option<End>,
    rounds: u64,
    rounds_at_last_change: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Replica {
    pub fn new(args: &Args, me: Rank, np: usize) -> Self {
        let writers = args.writers.map_or(np, |w| w as usize);
        let script = args.scenario.map(|s| match s {
            Scenario::LwwMap => lww_map_script(me),
        });
        let updates = match &script {
            Some(s) => s.len() as u32,
            None if me < writers => args.updates(),
            None => 0,
        };
        let space = match args.crdt {
            CrdtKind::Gcounter | CrdtKind::Pncounter => np as u32,
            CrdtKind::Orset | CrdtKind::Lwwmap => args.keys,
        };
        Replica {
            me,
            np,
            kind: args.crdt,
            sync: args.sync,
            mode: args.mode,
            fanout: (args.fanout as usize).min(np.saturating_sub(1)),
            deltas: args.deltas,
            updates,
            update_every: Duration::from_millis(args.update_every),
            period: Duration::from_millis(args.period),
            duration: Duration::from_millis(args.duration),
            keys: args.keys,
            // Each rank's hybrid clock runs ahead of real time by its own amount.
            skew_ms: if args.skew == 0 {
                0
            } else {
                fnv(&(me as u64).to_le_bytes()) % (args.skew + 1)
            },
            script,
            state: State::default(),
            clock: Clock::new(args.clock),
            seq: 0,
            ops: Vec::new(),
            vv: vec![0; np],
            log: vec![BTreeMap::new(); np],
            known: vec![vec![0; np]; np],
            tree: Tree::new(merkle::depth_for(space)),
            digest: Some(0),
            reports: vec![Report::default(); np],
            finished_ms: None,
            last_change_ms: 0.0,
            converged_ms: None,
            end: None,
            rounds: 0,
            rounds_at_last_change: 0,
        }
    }

    fn digest(&mut self) -> u64 {
        match self.digest {
            Some(d) => d,
            None => {
                let d = self.tree.root();
                self.digest = Some(d);
                d
            }
        }
    }

    /// Join one entry in; keeps the leaf hashes, the clock and the change time.
    fn join_entry(&mut self, key: u32, e: &Entry, now: Duration) -> bool {
        if !self.state.join_entry(key, e) {
            return false;
        }
        if let Entry::Lww(l) = e {
            self.clock.observe(l.ts);
        }
        let h = entry_hash(key, &self.state.entries[&key]);
        self.tree.set_leaf(key, h);
        self.digest = None;
        self.last_change_ms = ms(now);
        self.rounds_at_last_change = self.rounds;
        true
    }

    /// The next update of the workload (seeded), or of the `--scenario` script.
    fn next_op(&self, ctx: &mut Ctx<Msg, Timer>) -> Op {
        if let Some(s) = &self.script {
            return s[self.seq as usize];
        }
        let keys = self.keys;
        let rng = ctx.rng();
        match self.kind {
            CrdtKind::Gcounter => Op::Inc(self.me as u64 + 1),
            CrdtKind::Pncounter => {
                let a = rng.gen_range(1..=5);
                if rng.gen_bool(0.4) {
                    Op::Dec(a)
                } else {
                    Op::Inc(a)
                }
            }
            CrdtKind::Orset => {
                let e = rng.gen_range(0..keys);
                if rng.gen_bool(0.4) {
                    Op::Remove(e)
                } else {
                    Op::Add(e)
                }
            }
            CrdtKind::Lwwmap => {
                let k = rng.gen_range(0..keys);
                if rng.gen_bool(0.25) {
                    Op::Del(k)
                } else {
                    Op::Put(k, rng.gen_range(0..1000))
                }
            }
        }
    }

    fn issue(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        let op = self.next_op(ctx);
        self.seq += 1;
        let dot = (self.me as u32, self.seq);
        let ts = match op {
            Op::Put(..) | Op::Del(_) => self.clock.tick(ms(ctx.now()) as u64 + self.skew_ms),
            _ => 0,
        };
        let (key, delta) = self.state.delta(op, dot, ts);
        self.join_entry(key, &delta, ctx.now());
        self.log[self.me].insert(self.seq, (key, delta.clone()));
        self.vv[self.me] = self.seq;
        ctx.local(format!("{op}"));
        self.ops.push(Issued {
            dot,
            op,
            ts,
            at_ms: ms(ctx.now()),
            key,
            delta,
        });
        if self.seq == self.updates {
            self.finished_ms = Some(ms(ctx.now()));
        }
    }

    /// Refresh this rank's own report after a change; see whether convergence is observed.
    fn settle(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        let digest = self.digest();
        let finished = self.seq == self.updates;
        let mine = self.reports[self.me];
        if mine.digest != digest || mine.finished != finished || mine.seq == 0 {
            self.reports[self.me] = Report {
                seq: mine.seq + 1,
                finished,
                digest,
            };
        }
        if self.end.is_none()
            && self
                .reports
                .iter()
                .all(|r| r.seq > 0 && r.finished && r.digest == digest)
        {
            // Every rank reported this digest after its last update: it holds every update,
            // and so does this state (see the module doc).
            self.converged_ms = Some(ms(ctx.now()));
            self.end = Some(End::Converged);
            ctx.note(format!("converged: {}", self.state.value(self.kind)));
        }
    }

    fn merge_reports(&mut self, theirs: &[Report]) {
        for (r, t) in theirs.iter().enumerate().take(self.np) {
            if r != self.me && t.seq > self.reports[r].seq {
                self.reports[r] = *t;
            }
        }
    }

    /// What to ship to `peer`: nothing if it reported this very state, else the whole state
    /// or the deltas beyond what it is known to hold.
    fn payload_for(&mut self, peer: Rank, their_vv: Option<&[u32]>) -> Payload {
        let digest = self.digest();
        let same = self.reports[peer].seq > 0 && self.reports[peer].digest == digest;
        if self.deltas {
            if let Some(v) = their_vv {
                self.known[peer] = v.to_vec();
            }
            let mut out = Vec::new();
            if !same {
                for (o, log) in self.log.iter().enumerate() {
                    let from = self.known[peer][o];
                    for (&s, (k, e)) in log.range(from + 1..) {
                        out.push((o as u32, s, *k, e.clone()));
                    }
                }
            }
            for (o, &v) in self.vv.iter().enumerate() {
                self.known[peer][o] = self.known[peer][o].max(v);
            }
            Payload::Deltas(out)
        } else if same {
            Payload::Full(Vec::new())
        } else {
            Payload::Full(
                self.state
                    .entries
                    .iter()
                    .map(|(k, e)| (*k, e.clone()))
                    .collect(),
            )
        }
    }

    fn vv_out(&self) -> Vec<u32> {
        if self.deltas {
            self.vv.clone()
        } else {
            Vec::new()
        }
    }

    fn absorb(&mut self, from: Rank, payload: Payload, vv: &[u32], now: Duration) {
        if self.deltas && vv.len() == self.np {
            self.known[from] = vv.to_vec();
        }
        match payload {
            Payload::Full(entries) => {
                for (k, e) in entries {
                    self.join_entry(k, &e, now);
                }
            }
            Payload::Deltas(ds) => {
                for (o, s, k, e) in ds {
                    let o_ix = o as usize;
                    if o_ix >= self.np || s <= self.vv[o_ix] || self.log[o_ix].contains_key(&s) {
                        continue;
                    }
                    self.join_entry(k, &e, now);
                    self.log[o_ix].insert(s, (k, e));
                    while self.log[o_ix].contains_key(&(self.vv[o_ix] + 1)) {
                        self.vv[o_ix] += 1;
                    }
                }
            }
        }
    }

    fn peers(&self, ctx: &mut Ctx<Msg, Timer>) -> Vec<Rank> {
        let mut chosen = Vec::new();
        let me = self.me;
        let np = self.np;
        while chosen.len() < self.fanout {
            let p = ctx.rng().gen_range(0..np);
            if p != me && !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        chosen
    }

    fn round(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        self.rounds += 1;
        for p in self.peers(ctx) {
            match self.sync {
                SyncKind::Merkle => {
                    let root = self.digest();
                    ctx.send(
                        p,
                        Msg::Tree {
                            level: 0,
                            nodes: vec![(0, root)],
                            reports: Some(self.reports.clone()),
                        },
                    );
                }
                _ => match self.mode {
                    // Push-pull with deltas starts with the version vector alone: the answer
                    // brings exactly what this rank lacks and the peer's vector, against which
                    // this rank then sends exactly what the peer lacks (three messages, none
                    // with a stale guess of what the other holds).
                    GossipMode::Pull | GossipMode::PushPull if self.deltas => ctx.send(
                        p,
                        Msg::Pull {
                            vv: self.vv_out(),
                            reports: self.reports.clone(),
                        },
                    ),
                    GossipMode::Pull => ctx.send(
                        p,
                        Msg::Pull {
                            vv: self.vv_out(),
                            reports: self.reports.clone(),
                        },
                    ),
                    GossipMode::Push | GossipMode::PushPull => {
                        let payload = self.payload_for(p, None);
                        ctx.send(
                            p,
                            Msg::Push {
                                payload,
                                vv: self.vv_out(),
                                reports: self.reports.clone(),
                                answer: self.mode == GossipMode::PushPull,
                            },
                        );
                    }
                },
            }
        }
        ctx.set_timer(Timer::Round, self.period);
    }

    fn answer(&mut self, to: Rank, their_vv: &[u32], ctx: &mut Ctx<Msg, Timer>) {
        let vv = (self.deltas && their_vv.len() == self.np).then_some(their_vv);
        let payload = self.payload_for(to, vv);
        ctx.send(
            to,
            Msg::Answer {
                payload,
                vv: self.vv_out(),
                reports: self.reports.clone(),
            },
        );
    }

    fn on_tree(
        &mut self,
        from: Rank,
        level: u32,
        nodes: Vec<(u32, u64)>,
        ctx: &mut Ctx<Msg, Timer>,
    ) {
        let depth = self.tree.depth();
        let differ: Vec<u32> = nodes
            .iter()
            .filter(|(i, h)| self.tree.hash(level, *i) != *h)
            .map(|(i, _)| *i)
            .collect();
        if differ.is_empty() {
            if level == 0 {
                // Equal roots: say so, with the reports, so the initiator learns them.
                ctx.send(
                    from,
                    Msg::Entries {
                        entries: Vec::new(),
                        want: Vec::new(),
                        back: false,
                        reports: self.reports.clone(),
                    },
                );
            }
            return;
        }
        if level >= depth {
            let mut entries = Vec::new();
            let mut want = Vec::new();
            for k in differ {
                match self.state.entries.get(&k) {
                    Some(e) => entries.push((k, e.clone())),
                    None => want.push(k),
                }
            }
            ctx.send(
                from,
                Msg::Entries {
                    entries,
                    want,
                    back: true,
                    reports: self.reports.clone(),
                },
            );
        } else {
            let mut children = Vec::new();
            for i in differ {
                children.extend(self.tree.children(level, i));
            }
            ctx.send(
                from,
                Msg::Tree {
                    level: level + 1,
                    nodes: children,
                    reports: None,
                },
            );
        }
    }

    /// The collective merge's part before the merge: every update issued at once (at time 0),
    /// with the rank's own seeded RNG.
    pub fn issue_all(&mut self, seed: u64) {
        let mut rng = crate::shared::process::process_rng(seed, self.me);
        let mut effects = Vec::new();
        while self.seq < self.updates {
            let now = Duration::ZERO;
            self.issue(&mut Ctx::new(self.me, self.np, now, &mut rng, &mut effects));
        }
    }

    /// The state this replica holds.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The collective merge's result, joined in at `at`: every rank holds it at once.
    pub fn merged(&mut self, s: &State, at: Duration) {
        for (k, e) in &s.entries {
            self.join_entry(*k, e, at);
        }
        self.converged_ms = Some(ms(at));
        self.end = Some(End::Converged);
    }

    pub fn output(&self) -> ReplicaOutput {
        let mut tree = self.tree.clone();
        ReplicaOutput {
            state: self.state.clone(),
            value: self.state.value(self.kind),
            digest: tree.root(),
            ops: self.ops.clone(),
            finished_ms: self.finished_ms,
            last_change_ms: self.last_change_ms,
            converged_ms: self.converged_ms,
            end: self.end,
            rounds: self.rounds,
            rounds_at_last_change: self.rounds_at_last_change,
        }
    }
}

/// The updates of `lww-map.c`, by rank: r0 puts a and b, r1 puts a and deletes b, r2 and r3
/// put c; the other ranks none.
pub fn lww_map_script(rank: Rank) -> Vec<Op> {
    match rank {
        0 => vec![Op::Put(0, 1), Op::Put(1, 1)],
        1 => vec![Op::Put(0, 2), Op::Del(1)],
        2 => vec![Op::Put(2, 1)],
        3 => vec![Op::Put(2, 2)],
        _ => Vec::new(),
    }
}

impl Process for Replica {
    type Msg = Msg;
    type Timer = Timer;
    type Output = ReplicaOutput;

    fn on_start(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        if self.script.is_some() {
            // The C original issues its writes before any merge.
            while self.seq < self.updates {
                self.issue(ctx);
            }
        } else if self.updates > 0 {
            self.issue(ctx);
            if self.seq < self.updates {
                ctx.set_timer(Timer::Update, self.update_every);
            }
        }
        self.settle(ctx);
        if self.np > 1 && self.end.is_none() {
            ctx.set_timer(Timer::Round, self.period);
        }
        ctx.set_timer(Timer::Deadline, self.duration);
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut Ctx<Msg, Timer>) {
        let now = ctx.now();
        let done = self.end.is_some();
        match msg {
            Msg::Push {
                payload,
                vv,
                reports,
                answer,
            } => {
                let sent_digest = reports.get(from).map(|r| r.digest);
                let seen_me = reports.get(self.me).map_or(0, |r| r.seq);
                self.merge_reports(&reports);
                self.absorb(from, payload, &vv, now);
                self.settle(ctx);
                // A done rank no longer gossips: it answers a push from a rank behind its state
                // or its report, so that a straggler still converges (push mode has no answers
                // otherwise).
                let behind =
                    sent_digest != Some(self.digest()) || seen_me < self.reports[self.me].seq;
                if answer || (done && behind) {
                    self.answer(from, &vv, ctx);
                }
            }
            Msg::Pull { vv, reports } => {
                self.merge_reports(&reports);
                self.settle(ctx);
                self.answer(from, &vv, ctx);
            }
            Msg::Answer {
                payload,
                vv,
                reports,
            } => {
                self.merge_reports(&reports);
                self.absorb(from, payload, &vv, now);
                self.settle(ctx);
                // The third message of a push-pull delta exchange: what the peer lacks, if
                // anything, by its own version vector.
                if self.deltas && self.mode == GossipMode::PushPull && vv.len() == self.np {
                    let payload = self.payload_for(from, Some(&vv));
                    if !payload.is_empty() {
                        ctx.send(
                            from,
                            Msg::Push {
                                payload,
                                vv: self.vv_out(),
                                reports: self.reports.clone(),
                                answer: false,
                            },
                        );
                    }
                }
            }
            Msg::Tree {
                level,
                nodes,
                reports,
            } => {
                if let Some(r) = reports {
                    self.merge_reports(&r);
                    self.settle(ctx);
                }
                self.on_tree(from, level, nodes, ctx);
            }
            Msg::Entries {
                entries,
                want,
                back,
                reports,
            } => {
                self.merge_reports(&reports);
                let mut keys: Vec<u32> = entries.iter().map(|(k, _)| *k).collect();
                for (k, e) in entries {
                    self.join_entry(k, &e, now);
                }
                self.settle(ctx);
                if back {
                    keys.extend(want);
                    let entries = keys
                        .into_iter()
                        .filter_map(|k| self.state.entries.get(&k).map(|e| (k, e.clone())))
                        .collect();
                    ctx.send(
                        from,
                        Msg::Entries {
                            entries,
                            want: Vec::new(),
                            back: false,
                            reports: self.reports.clone(),
                        },
                    );
                }
            }
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Msg, Timer>) {
        match timer {
            Timer::Update => {
                self.issue(ctx);
                if self.seq < self.updates {
                    ctx.set_timer(Timer::Update, self.update_every);
                }
                self.settle(ctx);
            }
            Timer::Round => {
                if self.end.is_none() {
                    self.round(ctx);
                }
            }
            Timer::Deadline => {
                if self.end.is_none() {
                    self.end = Some(End::Deadline);
                    ctx.note("deadline: convergence not observed");
                }
            }
        }
    }

    fn is_done(&self) -> bool {
        self.end.is_some()
    }

    fn output(&self) -> ReplicaOutput {
        Replica::output(self)
    }
}
