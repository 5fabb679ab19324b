//! [`RankRunner`]: one rank as both drivers see it: the algorithm's process plus what the
//! runtime keeps around it (timers, seeded RNGs, fault decisions, metrics, the event recorder).
//!
//! Everything that must behave the same under MPI and in the simulator lives here, so the two
//! drivers only differ in how bytes move and how time passes.
//!
//! Stable storage ([`super::store`]) fails the rank, never the job: a failed write or sync
//! crashes it for good (nothing that waited for the write leaves), and a restart whose records
//! do not read back whole (or do not replay) keeps it down; either is recorded in the rank's
//! [`StorageLog`] and its history, and handed to the driver once ([`RankRunner::take_alert`]).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use rand_chacha::ChaCha8Rng;

use super::store::{MemStore, Store};
use crate::shared::faults::{Fate, FaultPlan, Life};
use crate::shared::observe::history::{Event, Recorder, Sent};
use crate::shared::observe::report::{Metrics, RankResult};
use crate::shared::observe::report::{StorageFault, StorageLog};
use crate::shared::process::{process_rng, BadRecord, Ctx, Effect, Kind, Process, Rank};

/// What travels between ranks: the algorithm's message plus runtime metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<M> {
    /// The sender's message sequence number (identifies the message in the history).
    pub seq: u64,
    /// Length of the longest causal chain of messages ending with this one, minus one.
    pub steps: u64,
    /// The sender's ground-truth vector timestamp, when the history is recorded.
    pub vc: Option<Vec<u64>>,
    pub msg: M,
}

/// A message leaving a rank, with the extra delay the fault plan gave this copy.
#[derive(Debug, Clone)]
pub struct Outgoing<M> {
    pub to: Rank,
    pub delay_us: u64,
    pub env: Envelope<M>,
}

/// Runs one rank's process for a driver: calls its handlers and carries out their effects
/// (timers, fault decisions, storage, metrics, the recorder). Named for that job, not `Node`,
/// which algorithms use for their own per-rank types; the driver only moves bytes and time.
pub struct RankRunner<P: Process> {
    pub rank: Rank,
    np: usize,
    proc: P,
    rng: ChaCha8Rng,
    net_rng: ChaCha8Rng,
    faults: FaultPlan,
    rec: Recorder,
    pub metrics: Metrics,
    /// Armed timers: (timer, deadline µs, arming order for deterministic ties).
    timers: Vec<(P::Timer, u64, u64)>,
    timer_seq: u64,
    next_seq: u64,
    steps: u64,
    done: bool,
    crashed: bool,
    effects: Vec<Effect<P::Msg, P::Timer>>,
    /// Tickets asked for and not yet handed over by the driver.
    tickets_wanted: u32,
    /// Stable storage: what a restart gets back.
    store: Box<dyn Store>,
    /// Scheduled crashes and restarts still to come: (µs, what).
    life: VecDeque<(u64, Life)>,
    /// Times (µs) from which the next write to storage crashes the rank right after it.
    persist_crashes: VecDeque<u64>,
    /// The outputs of earlier lives.
    earlier: Vec<P::Output>,
    started: bool,
    /// Torn tails cut and the storage fault that stopped the rank, if any.
    storage: StorageLog,
    /// A storage fault the driver has not been told of yet.
    alert: Option<String>,
    /// The faults aimed at the leader that hit this rank (indices into the plan's list).
    hit_as_leader: Vec<usize>,
    /// Cut off from every other rank until then (µs): a `leader|rest` partition that hit it.
    isolated_until_us: u64,
}

const LABEL_MAX: usize = 96;

/// "send Msg {..} to rankN": the message text is cut so the whole label fits in
/// [`LABEL_MAX`] bytes, never the peer, which the diagram and ShiViz readers need.
fn label_of<M: std::fmt::Debug>(verb: &str, dir: &str, peer: Rank, msg: &M) -> String {
    let mut text = format!("{msg:?}");
    let suffix = format!(" {dir} rank{peer}");
    let room = LABEL_MAX.saturating_sub(verb.len() + 1 + suffix.len() + '…'.len_utf8());
    if verb.len() + 1 + text.len() + suffix.len() > LABEL_MAX {
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    format!("{verb} {text}{suffix}")
}

impl<P: Process> RankRunner<P> {
    pub fn new(proc: P, rank: Rank, np: usize, seed: u64, faults: FaultPlan, record: bool) -> Self {
        // Fault decisions draw from their own stream so that they do not perturb the
        // algorithm's random choices (a run with --drop 0 equals a run without the flag).
        let net_rng = process_rng(seed ^ 0x6e65_7477_6f72_6b00, rank);
        RankRunner {
            rank,
            np,
            proc,
            rng: process_rng(seed, rank),
            net_rng,
            rec: Recorder::new(rank, np, record),
            metrics: Metrics::default(),
            timers: Vec::new(),
            timer_seq: 0,
            next_seq: 0,
            steps: 0,
            done: false,
            crashed: false,
            effects: Vec::new(),
            tickets_wanted: 0,
            store: Box::new(MemStore::default()),
            life: faults
                .schedule_of(rank)
                .into_iter()
                .map(|(ms, l)| (ms * 1000, l))
                .collect(),
            persist_crashes: {
                let mut v: Vec<u64> = faults
                    .persist_crashes
                    .iter()
                    .filter(|c| c.rank == rank)
                    .map(|c| c.at_ms * 1000)
                    .collect();
                v.sort_unstable();
                v.into()
            },
            faults,
            earlier: Vec::new(),
            started: false,
            storage: StorageLog::default(),
            alert: None,
            hit_as_leader: Vec::new(),
            isolated_until_us: 0,
        }
    }

    /// Keep stable storage in `store` instead of memory (a file, under MPI).
    pub fn with_store(mut self, store: Box<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// Done, or crashed with no restart to come: nothing more is expected of this rank.
    pub fn finished(&self) -> bool {
        self.done || (self.crashed && !self.life.iter().any(|l| l.1 == Life::Restart))
    }

    /// When the next scheduled crash or restart is due (µs).
    pub fn next_life_us(&self) -> Option<u64> {
        self.life.front().map(|l| l.0)
    }

    /// Carry out the crashes and restarts due at `now_us`; a restart rebuilds the process with
    /// `recover` from the records in stable storage and starts it, unless they do not read
    /// back whole or do not replay: then the rank stays down for good.
    pub fn live(
        &mut self,
        now_us: u64,
        out: &mut Vec<Outgoing<P::Msg>>,
        mut recover: impl FnMut(&[Vec<u8>]) -> Result<P, BadRecord>,
    ) {
        while self.life.front().is_some_and(|l| l.0 <= now_us) {
            let (_, what) = self.life.pop_front().expect("due");
            match what {
                Life::Crash => self.crash(now_us),
                Life::AtLeader(i) => {
                    if self.crashed || !self.proc.leads() {
                        continue;
                    }
                    self.hit_as_leader.push(i);
                    match self.faults.at_leader[i].until_ms {
                        None => {
                            self.rec.note(now_us, "crashed as the leader".into());
                            self.crash(now_us);
                        }
                        Some(to_ms) => {
                            self.isolated_until_us = to_ms * 1000;
                            self.rec
                                .note(now_us, format!("cut off as the leader until {to_ms} ms"));
                        }
                    }
                }
                Life::Restart => {
                    self.crash(now_us);
                    let loaded = match self.store.load() {
                        Ok(l) => l,
                        Err(f) => return self.storage_failed(now_us, f, out),
                    };
                    let proc = match recover(&loaded.records) {
                        Ok(p) => p,
                        Err(bad) => {
                            let f = StorageFault::Lost {
                                file: self.store.name(),
                                offset: loaded.offsets.get(bad.index).copied().unwrap_or(0),
                                why: format!("record {} does not replay: {}", bad.index, bad.why),
                            };
                            return self.storage_failed(now_us, f, out);
                        }
                    };
                    if let Some(t) = loaded.torn {
                        self.rec.note(
                            now_us,
                            format!(
                                "cut a torn tail of {} bytes at byte {} of {}",
                                t.bytes, t.offset, t.file
                            ),
                        );
                        self.storage.torn_tails.push(t);
                    }
                    self.earlier.push(self.proc.output());
                    self.proc = proc;
                    self.crashed = false;
                    self.done = false;
                    self.started = true;
                    self.timers.clear();
                    self.rec.restart(
                        now_us,
                        format!("restarted with {} stored records", loaded.records.len()),
                    );
                    self.handle(now_us, out, |p, ctx| p.on_start(ctx));
                }
            }
        }
    }

    /// Stop the rank for good on a storage fault: nothing waiting for the store leaves, no
    /// restart comes.
    fn storage_failed(&mut self, now_us: u64, f: StorageFault, out: &mut Vec<Outgoing<P::Msg>>) {
        out.clear();
        self.crash(now_us);
        self.life.clear();
        self.persist_crashes.clear();
        self.rec.note(now_us, f.short().to_string());
        self.alert = Some(f.to_string());
        self.storage.fault = Some(f);
    }

    /// A storage fault not yet reported, once: the driver prints it as it happens.
    pub fn take_alert(&mut self) -> Option<String> {
        self.alert.take()
    }

    /// Whether writes to storage wait for a sync before the sends that follow them.
    pub fn store_dirty(&self) -> bool {
        self.store.dirty()
    }

    /// Make the writes to storage durable, then the sends that waited for them may leave; if
    /// the sync fails, the rank stops and they are dropped from `out`.
    pub fn sync_store(&mut self, now_us: u64, out: &mut Vec<Outgoing<P::Msg>>) {
        if let Err(f) = self.store.sync() {
            self.storage_failed(now_us, f, out);
        }
    }
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// Earliest armed timer deadline (µs), if the rank still runs timers.
    pub fn next_timer(&self) -> Option<u64> {
        if self.finished() {
            return None;
        }
        self.timers.iter().map(|t| t.1).min()
    }

    pub fn start(&mut self, now_us: u64, out: &mut Vec<Outgoing<P::Msg>>) {
        // Not at all if crashed at 0 ms; not again if restarted at 0 ms.
        if self.crashed || self.started {
            return;
        }
        self.started = true;
        self.handle(now_us, out, |p, ctx| p.on_start(ctx));
    }

    pub fn deliver(
        &mut self,
        from: Rank,
        env: Envelope<P::Msg>,
        now_us: u64,
        out: &mut Vec<Outgoing<P::Msg>>,
    ) {
        let kind = env.msg.kind();
        if self.crashed {
            self.metrics.count(kind, |c| c.lost_to_crash += 1);
            return;
        }
        if now_us < self.isolated_until_us && from != self.rank {
            // Cut off as the leader: the partition drops what reaches it, too.
            self.metrics.count(kind, |c| c.dropped += 1);
            return;
        }
        self.metrics.count(kind, |c| c.delivered += 1);
        self.steps = self.steps.max(env.steps + 1);
        let msg = env.msg;
        self.rec
            .recv(from, env.seq, kind, env.vc.as_deref(), now_us, || {
                label_of("recv", "from", from, &msg)
            });
        self.handle(now_us, out, |p, ctx| p.on_message(from, msg, ctx));
    }

    /// Fire every timer due at `now_us` and armed before this call, earliest first. Returns
    /// whether any fired.
    pub fn fire_due_timers(&mut self, now_us: u64, out: &mut Vec<Outgoing<P::Msg>>) -> bool {
        let mut fired = false;
        // Timers armed by these handlers wait for the next call: the MPI driver reads its clock
        // once a pass, so a timer re-armed with no delay would otherwise fire again and again
        // in one call, and the rank would neither read a message nor send a heartbeat.
        let armed_before = self.timer_seq;
        while !self.finished() {
            let Some(i) = self
                .timers
                .iter()
                .enumerate()
                .filter(|(_, t)| t.1 <= now_us && t.2 <= armed_before)
                .min_by_key(|(_, t)| (t.1, t.2))
                .map(|(i, _)| i)
            else {
                break;
            };
            let (timer, _, _) = self.timers.swap_remove(i);
            self.handle(now_us, out, |p, ctx| p.on_timer(timer, ctx));
            fired = true;
        }
        fired
    }

    /// Hand over tickets while the process wants them: `draw` gives the next one.
    pub fn serve_tickets(
        &mut self,
        now_us: u64,
        out: &mut Vec<Outgoing<P::Msg>>,
        mut draw: impl FnMut() -> u64,
    ) {
        while self.tickets_wanted > 0 && !self.crashed {
            self.tickets_wanted -= 1;
            let t = draw();
            self.handle(now_us, out, |p, ctx| p.on_ticket(t, ctx));
        }
    }

    /// Crash-stop: from now on the rank neither acts nor receives.
    pub fn crash(&mut self, now_us: u64) {
        if !self.crashed {
            self.crashed = true;
            self.timers.clear();
            self.rec.crash(now_us);
        }
    }

    /// Call one handler, then carry out its effects.
    fn handle(
        &mut self,
        now_us: u64,
        out: &mut Vec<Outgoing<P::Msg>>,
        f: impl FnOnce(&mut P, &mut Ctx<P::Msg, P::Timer>),
    ) {
        let mut ctx = Ctx::new(
            self.rank,
            self.np,
            dur(now_us),
            &mut self.rng,
            &mut self.effects,
        )
        .with_steps(self.steps);
        f(&mut self.proc, &mut ctx);
        self.apply(now_us, out);
    }

    fn apply(&mut self, now_us: u64, out: &mut Vec<Outgoing<P::Msg>>) {
        let mut effects = std::mem::take(&mut self.effects);
        let mut all = effects.drain(..);
        for effect in all.by_ref() {
            match effect {
                Effect::Send { to, msg } => self.send(to, msg, now_us, out),
                Effect::SetTimer { timer, after } => {
                    self.timers.retain(|t| t.0 != timer);
                    self.timer_seq += 1;
                    let at = now_us.saturating_add(after.as_micros() as u64);
                    self.timers.push((timer, at, self.timer_seq));
                }
                Effect::CancelTimer(timer) => self.timers.retain(|t| t.0 != timer),
                Effect::Local(label) => self.rec.local(now_us, label),
                Effect::Note(label) => self.rec.note(now_us, label),
                Effect::Stamp(s) => self.rec.stamp(s),
                Effect::DrawTicket => self.tickets_wanted += 1,
                Effect::Persist(d) => {
                    self.metrics.storage_writes += 1;
                    let mut wrote = self.store.write(&d);
                    let crash_now = self.persist_crashes.front().is_some_and(|&t| t <= now_us);
                    if wrote.is_ok() && crash_now {
                        wrote = self.store.sync();
                    }
                    if let Err(f) = wrote {
                        self.storage_failed(now_us, f, out);
                        break;
                    }
                    if crash_now {
                        // The write is durable; what the handler meant to do after it is not.
                        self.persist_crashes.pop_front();
                        self.crash(now_us);
                        break;
                    }
                }
            }
        }
        drop(all);
        self.effects = effects;
        if !self.done && self.proc.is_done() {
            self.done = true;
        }
    }

    fn send(&mut self, to: Rank, msg: P::Msg, now_us: u64, out: &mut Vec<Outgoing<P::Msg>>) {
        assert!(
            to < self.np,
            "rank {} sent to rank {to} of {}",
            self.rank,
            self.np
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        let bytes = postcard::experimental::serialized_size(&msg).unwrap_or(0) as u64;
        let fate = if now_us < self.isolated_until_us && to != self.rank {
            Fate::Dropped
        } else {
            self.faults.fate(self.rank, to, now_us, &mut self.net_rng)
        };
        let copies: u8 = match fate {
            Fate::Dropped => 0,
            Fate::Once(_) => 1,
            Fate::Twice(..) => 2,
        };
        self.metrics.count(msg.kind(), |c| {
            c.sent += 1;
            c.bytes_sent += bytes;
            c.dropped += u64::from(copies == 0);
            c.duplicated += u64::from(copies == 2);
        });
        let sent = Sent {
            to,
            seq,
            copies,
            kind: msg.kind(),
            refused: msg.refused(),
        };
        let vc = self
            .rec
            .send(sent, now_us, || label_of("send", "to", to, &msg));
        let env = Envelope {
            seq,
            steps: self.steps,
            vc,
            msg,
        };
        match fate {
            Fate::Dropped => {}
            Fate::Once(d) => out.push(Outgoing {
                to,
                delay_us: d,
                env,
            }),
            Fate::Twice(d1, d2) => {
                out.push(Outgoing {
                    to,
                    delay_us: d1,
                    env: env.clone(),
                });
                out.push(Outgoing {
                    to,
                    delay_us: d2,
                    env,
                });
            }
        }
    }

    /// The rank's result and its recorded events.
    pub fn finish(self) -> (RankResult<P::Output>, Vec<Event>) {
        let mut metrics = self.metrics;
        metrics.communication_steps = self.steps;
        metrics.storage_syncs = self.store.counts().1;
        (
            RankResult {
                rank: self.rank,
                crashed: self.crashed,
                done: self.done,
                output: self.proc.output(),
                earlier: self.earlier,
                metrics,
                clock: Default::default(),
                host: String::new(),
                storage: self.storage,
                hit_as_leader: self.hit_as_leader,
            },
            self.rec.into_events(),
        )
    }
}

fn dur(us: u64) -> Duration {
    Duration::from_micros(us)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::shared::faults::Crash;
    use crate::shared::observe::report::StorageFault;
    use crate::shared::process::Durable;
    use crate::shared::runtime::store::Loaded;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Ping;
    impl Kind for Ping {
        fn kind(&self) -> &'static str {
            "Ping"
        }
    }

    /// Sends a ping, persists a record, sends another; its output is how many records it
    /// was rebuilt from.
    struct Keeper(usize);
    impl Process for Keeper {
        type Msg = Ping;
        type Timer = ();
        type Output = usize;
        fn on_start(&mut self, ctx: &mut Ctx<Ping, ()>) {
            ctx.send(1, Ping);
            ctx.persist(vec![1, 2, 3]);
            ctx.send(1, Ping);
        }
        fn on_message(&mut self, _: Rank, _: Ping, _: &mut Ctx<Ping, ()>) {}
        fn on_timer(&mut self, _: (), _: &mut Ctx<Ping, ()>) {}
        fn is_done(&self) -> bool {
            false
        }
        fn output(&self) -> usize {
            self.0
        }
    }

    /// A memory store the test can reach into, and can make fail.
    #[derive(Clone, Default)]
    struct Probe {
        mem: Rc<RefCell<MemStore>>,
        fail_writes: Rc<RefCell<bool>>,
        fail_syncs: Rc<RefCell<bool>>,
    }
    impl Store for Probe {
        fn write(&mut self, d: &Durable) -> Result<(), StorageFault> {
            if *self.fail_writes.borrow() {
                return Err(StorageFault::WriteFailed {
                    file: "probe".into(),
                    error: "No space left on device (os error 28)".into(),
                });
            }
            self.mem.borrow_mut().write(d)
        }
        fn sync(&mut self) -> Result<(), StorageFault> {
            if *self.fail_syncs.borrow() {
                return Err(StorageFault::WriteFailed {
                    file: "probe".into(),
                    error: "Is a directory (os error 21)".into(),
                });
            }
            Ok(())
        }
        fn dirty(&self) -> bool {
            true
        }
        fn load(&mut self) -> Result<Loaded, StorageFault> {
            self.mem.borrow_mut().load()
        }
        fn counts(&self) -> (u64, u64) {
            (0, 0)
        }
        fn name(&self) -> String {
            "probe".into()
        }
    }

    /// Rank 0 of 2, restarted at 10 ms, started with `store`.
    fn started(store: &Probe) -> (RankRunner<Keeper>, Vec<Outgoing<Ping>>) {
        let faults = FaultPlan {
            restarts: vec![Crash { rank: 0, at_ms: 10 }],
            ..FaultPlan::default()
        };
        let mut r =
            RankRunner::new(Keeper(0), 0, 2, 1, faults, false).with_store(Box::new(store.clone()));
        let mut out = Vec::new();
        r.start(0, &mut out);
        (r, out)
    }

    fn rebuild(stored: &[Vec<u8>]) -> Result<Keeper, BadRecord> {
        Ok(Keeper(stored.len()))
    }

    #[test]
    fn a_long_label_is_cut_in_the_message_and_keeps_its_peer() {
        let long = "x".repeat(300);
        let label = label_of("send", "to", 12, &long);
        assert!(label.ends_with("… to rank12"), "{label}");
        assert!(label.starts_with("send \"xxx"), "{label}");
        assert!(label.len() <= LABEL_MAX, "{} bytes", label.len());
        // Cut on a character boundary, and short ones are left whole.
        let label = label_of("recv", "from", 3, &"é".repeat(80));
        assert!(label.ends_with("… from rank3"), "{label}");
        assert_eq!(label_of("recv", "from", 3, &1u8), "recv 1 from rank3");
    }

    #[test]
    fn a_restart_reads_its_records_back_through_the_checksummed_format() {
        let store = Probe::default();
        let (mut r, mut out) = started(&store);
        assert_eq!(out.len(), 2);
        out.clear();
        r.live(10_000, &mut out, |stored| {
            assert_eq!(stored, [vec![1, 2, 3]]);
            rebuild(stored)
        });
        assert!(!r.crashed());
        assert_eq!(r.take_alert(), None);
        let (res, _) = r.finish();
        assert_eq!((res.output, res.storage.fault), (1, None));
    }

    #[test]
    fn a_restart_is_recorded_as_a_new_life_after_the_crash() {
        use crate::shared::observe::history::EventKind;
        let faults = FaultPlan {
            restarts: vec![Crash { rank: 0, at_ms: 10 }],
            ..FaultPlan::default()
        };
        let mut r = RankRunner::new(Keeper(0), 0, 2, 1, faults, true);
        let mut out = Vec::new();
        r.start(0, &mut out);
        r.live(10_000, &mut out, rebuild);
        let (_, events) = r.finish();
        let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
        assert!(matches!(
            kinds[..],
            [
                EventKind::Send { .. },
                EventKind::Send { .. },
                EventKind::Crash,
                EventKind::Restart,
                EventKind::Send { .. },
                EventKind::Send { .. }
            ]
        ));
        assert_eq!(events[3].label, "restarted with 1 stored records");
    }

    #[test]
    fn a_damaged_store_keeps_the_rank_down_and_says_where() {
        let store = Probe::default();
        let (mut r, mut out) = started(&store);
        store.mem.borrow_mut().bytes_mut()[8 + 12 + 1] ^= 0x40;
        r.live(10_000, &mut out, |_| panic!("nothing to rebuild from"));
        assert!(r.crashed() && r.finished());
        let alert = r.take_alert().unwrap();
        assert!(
            alert.starts_with("storage lost: the simulated store, byte 8:"),
            "{alert}"
        );
        assert_eq!(r.take_alert(), None, "said once");
        let (res, _) = r.finish();
        assert!(res.crashed);
        assert!(matches!(
            res.storage.fault,
            Some(StorageFault::Lost { offset: 8, .. })
        ));
    }

    #[test]
    fn a_record_that_does_not_replay_keeps_the_rank_down_at_its_offset() {
        let store = Probe::default();
        let (mut r, mut out) = started(&store);
        r.live(10_000, &mut out, |_| {
            Err(BadRecord {
                index: 0,
                why: "it does not decode".into(),
            })
        });
        assert!(r.finished());
        let alert = r.take_alert().unwrap();
        assert!(
            alert.contains("byte 8: record 0 does not replay: it does not decode"),
            "{alert}"
        );
    }

    #[test]
    fn a_failed_sync_stops_the_rank_and_what_waited_for_it_never_leaves() {
        let store = Probe::default();
        let (mut r, mut out) = started(&store);
        assert_eq!(out.len(), 2);
        *store.fail_syncs.borrow_mut() = true;
        r.sync_store(5_000, &mut out);
        assert!(out.is_empty());
        assert!(
            r.crashed() && r.finished(),
            "no restart after a storage fault"
        );
        let alert = r.take_alert().unwrap();
        assert_eq!(
            alert,
            "storage write failed: probe: Is a directory (os error 21); it stopped as if crashed"
        );
        r.live(10_000, &mut out, rebuild);
        assert!(r.crashed());
    }

    #[test]
    fn a_failed_write_stops_the_handler_at_the_write() {
        let store = Probe::default();
        *store.fail_writes.borrow_mut() = true;
        let (mut r, out) = started(&store);
        assert!(
            out.is_empty(),
            "neither the send before nor the one after leaves"
        );
        assert!(r.crashed() && r.finished());
        assert!(r.take_alert().unwrap().contains("No space left on device"));
        let (res, _) = r.finish();
        assert!(matches!(
            res.storage.fault,
            Some(StorageFault::WriteFailed { .. })
        ));
    }
    /// Re-arms a timer with no delay each time it fires (up to 100 times), and counts the firings.
    struct Spinner(usize);
    impl Process for Spinner {
        type Msg = Ping;
        type Timer = ();
        type Output = usize;
        fn on_start(&mut self, ctx: &mut Ctx<Ping, ()>) {
            ctx.set_timer((), Duration::ZERO);
        }
        fn on_message(&mut self, _: Rank, _: Ping, _: &mut Ctx<Ping, ()>) {}
        fn on_timer(&mut self, _: (), ctx: &mut Ctx<Ping, ()>) {
            self.0 += 1;
            if self.0 < 100 {
                ctx.set_timer((), Duration::ZERO);
            }
        }
        fn is_done(&self) -> bool {
            false
        }
        fn output(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn a_timer_rearmed_with_no_delay_fires_once_per_call() {
        // Before, one call fired it forever at the same instant (a rank that merged in steps
        // through such a timer sent no heartbeat for 300 ms and was declared dead).
        let mut r = RankRunner::new(Spinner(0), 0, 1, 1, FaultPlan::default(), false);
        let mut out = Vec::new();
        r.start(0, &mut out);
        for call in 1..=3 {
            assert!(r.fire_due_timers(5, &mut out));
            assert_eq!(r.proc.0, call);
        }
    }
}
