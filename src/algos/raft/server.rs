//! The server: follower, pre-candidate, candidate or leader of Raft, with its persisted state
//! (term, vote, log, snapshot) and the key-value state machine it applies the log to.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::kv::Kv;
use super::{Applied, Cmd, Config, Entry, Led, Msg, ServerReport, Snapshot, Timer};
use crate::algos::leader_election::election_delay;
use crate::shared::clients::{quorum_index, CommandId};
use crate::shared::{Ctx, Rank};

type C<'a> = Ctx<'a, Msg, Timer>;

/// A hasher for command ids, one multiply per word: the leader checks every command against
/// the set of those in its log, and SipHash showed in profiles (the ids come from our own
/// clients, so flooding is not a concern).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type IdSet = HashSet<CommandId, BuildHasherDefault<IdHasher>>;

/// A client and the (seq, result) of its commands applied.
type ClientResults = (u32, Vec<(u32, Option<u64>)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Asking for PreVotes: its term is unchanged.
    PreCandidate,
    Candidate,
    Leader,
}

/// What a server writes to stable storage, replayed in order on a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// Its term and vote.
    Hard { term: u64, vote: Option<Rank> },
    /// The log from index `from` on (what was there from `from` on is replaced).
    Entries { from: u64, entries: Vec<Entry> },
    /// A snapshot, with the hard state and the log after it: all that is stored.
    Snap {
        term: u64,
        vote: Option<Rank>,
        snapshot: Snapshot,
        entries: Vec<Entry>,
    },
}

/// [`Record`] as written: the same encoding, borrowing the entries instead of copying them.
#[derive(Serialize)]
enum RecordRef<'a> {
    Hard {
        term: u64,
        vote: Option<Rank>,
    },
    Entries {
        from: u64,
        entries: &'a [Entry],
    },
    Snap {
        term: u64,
        vote: Option<Rank>,
        snapshot: &'a Snapshot,
        entries: &'a [Entry],
    },
}

fn encode(r: &RecordRef) -> Vec<u8> {
    postcard::to_allocvec(r).expect("records serialize")
}

/// The log after a snapshot: entries `offset + 1 ..= last_index()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// The last index in the snapshot (0: none) and its term.
    pub offset: u64,
    pub offset_term: u64,
    pub entries: Vec<Entry>,
}

impl Log {
    pub fn last_index(&self) -> u64 {
        self.offset + self.entries.len() as u64
    }
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }
    /// The term of entry `i`, if the log (or its snapshot's last entry) has it.
    pub fn term_at(&self, i: u64) -> Option<u64> {
        if i == self.offset {
            Some(self.offset_term)
        } else if i < self.offset || i > self.last_index() {
            None
        } else {
            Some(self.entries[(i - self.offset - 1) as usize].term)
        }
    }
    pub fn get(&self, i: u64) -> &Entry {
        &self.entries[(i - self.offset - 1) as usize]
    }
    /// Entries `from ..= to`.
    pub fn slice(&self, from: u64, to: u64) -> &[Entry] {
        &self.entries[(from - self.offset - 1) as usize..(to - self.offset) as usize]
    }
    /// Keep entries up to `i`.
    fn truncate_after(&mut self, i: u64) {
        self.entries
            .truncate((i.max(self.offset) - self.offset) as usize);
    }
    /// Drop entries up to `i` (now in a snapshot whose last term is `term`).
    fn compact(&mut self, i: u64, term: u64) {
        let n = (i.min(self.last_index()) - self.offset) as usize;
        self.entries.drain(..n);
        self.offset = i;
        self.offset_term = term;
    }
    /// (term, first index) of each run of entries of one term.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (k, e) in self.entries.iter().enumerate() {
            if runs.last().is_none_or(|r| r.0 != e.term) {
                runs.push((e.term, self.offset + 1 + k as u64));
            }
        }
        runs
    }
}

/// The leader's view of one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Peer {
    /// The next index to send.
    next: u64,
    /// The highest index known to match the leader's log.
    matched: u64,
    /// `matched` at the last heartbeat tick (no progress since then: resend).
    matched_at_tick: u64,
    /// Probing: one AppendEntries at a time, until the follower's log matches; otherwise
    /// entries are pipelined.
    probing: bool,
    /// Heard from since the last CheckQuorum.
    heard: bool,
}

/// A server rank.
#[derive(Debug, Clone)]
pub struct Server {
    pub me: Rank,
    cfg: Arc<Config>,
    // Persisted.
    pub term: u64,
    pub vote: Option<Rank>,
    pub log: Log,
    pub snapshot: Option<Snapshot>,
    // Volatile.
    pub role: Role,
    pub leader: Option<Rank>,
    pub commit: u64,
    pub applied: u64,
    pub sm: Kv,
    votes: Vec<bool>,
    /// When it last heard from a leader (µs), for the lease that makes it ignore candidates.
    heard_leader_us: Option<u64>,
    peers: Vec<Peer>,
    /// Client commands in the leader's log and not applied yet (deduplication).
    in_log: IdSet,
    // Report.
    led: Vec<Led>,
    commits: Vec<(u64, u64)>,
    applied_runs: Vec<(u64, Vec<Applied>)>,
    leader_overwrites: Vec<(u64, u64)>,
    recovered: Option<(usize, u64)>,
    started_us: u64,
    /// After a restart: the leader's commit index when it first heard from it, and when it
    /// had applied that much.
    catch_up_target: Option<u64>,
    caught_up_us: Option<u64>,
    snapshots_taken: u32,
    snapshots_installed: u32,
    pub gave_up: bool,
}

impl Server {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        Server {
            me,
            term: 0,
            vote: None,
            log: Log::default(),
            snapshot: None,
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            sm: Kv::default(),
            votes: vec![false; cfg.servers],
            heard_leader_us: None,
            peers: vec![Peer::default(); cfg.servers],
            in_log: IdSet::default(),
            led: Vec::new(),
            commits: Vec::new(),
            applied_runs: vec![(1, Vec::new())],
            leader_overwrites: Vec::new(),
            recovered: None,
            started_us: 0,
            catch_up_target: None,
            caught_up_us: None,
            snapshots_taken: 0,
            snapshots_installed: 0,
            gave_up: false,
            cfg,
        }
    }

    /// A server restarted with what it stored, and nothing else.
    pub fn recover(me: Rank, cfg: Arc<Config>, stored: &[Vec<u8>]) -> Self {
        let mut s = Server::new(me, cfg);
        for bytes in stored {
            let Ok(r) = postcard::from_bytes::<Record>(bytes) else {
                log::warn!("server {me}: a stored record does not decode; ignoring the rest");
                break;
            };
            match r {
                Record::Hard { term, vote } => (s.term, s.vote) = (term, vote),
                Record::Entries { from, entries } => {
                    s.log.truncate_after(from - 1);
                    s.log.entries.extend(entries);
                }
                Record::Snap {
                    term,
                    vote,
                    snapshot,
                    entries,
                } => {
                    (s.term, s.vote) = (term, vote);
                    s.log = Log {
                        offset: snapshot.last_index,
                        offset_term: snapshot.last_term,
                        entries,
                    };
                    s.sm = snapshot.kv.clone();
                    s.snapshot = Some(snapshot);
                }
            }
        }
        s.commit = s.log.offset;
        s.applied = s.log.offset;
        s.applied_runs = vec![(s.applied + 1, Vec::new())];
        s.recovered = Some((stored.len(), s.log.last_index()));
        s
    }

    fn quorum(&self) -> usize {
        self.cfg.quorum
    }

    /// Votes it needs besides its own.
    #[cfg(test)]
    pub fn votes_needed(&self) -> usize {
        self.cfg.quorum - 1
    }

    fn others(&self) -> impl Iterator<Item = Rank> + '_ {
        (0..self.cfg.servers).filter(move |&r| r != self.me)
    }

    pub fn is_done(&self) -> bool {
        // Every client's every command executed (servers do not know of client crashes: a
        // crashed client's servers stop at `--give-up`).
        self.gave_up || self.sm.executed >= self.cfg.clients as u64 * self.cfg.requests as u64
    }

    fn arm_election(&self, ctx: &mut C, first: bool) {
        let after = election_delay(self.me, first, self.cfg.election, ctx.rng());
        ctx.set_timer(Timer::Election, after);
    }

    pub fn on_start(&mut self, ctx: &mut C) {
        self.started_us = ctx.now().as_micros() as u64;
        if let Some((n, last)) = self.recovered {
            ctx.note(format!(
                "recovered term {} and {last} entries from {n} records",
                self.term
            ));
        }
        self.arm_election(ctx, self.recovered.is_none());
        ctx.set_timer(Timer::GiveUp, self.cfg.give_up);
    }

    // ---- stable storage ----

    fn persist_hard(&self, ctx: &mut C) {
        ctx.persist(encode(&RecordRef::Hard {
            term: self.term,
            vote: self.vote,
        }));
    }

    fn persist_entries(&self, from: u64, ctx: &mut C) {
        ctx.persist(encode(&RecordRef::Entries {
            from,
            entries: self.log.slice(from, self.log.last_index()),
        }));
    }

    fn persist_all(&self, ctx: &mut C) {
        let snapshot = self.snapshot.as_ref().expect("a snapshot to store");
        ctx.persist_reset(encode(&RecordRef::Snap {
            term: self.term,
            vote: self.vote,
            snapshot,
            entries: &self.log.entries,
        }));
    }

    /// Replace the log from `from` on by `entries` (persisted).
    fn write_entries(&mut self, from: u64, entries: &[Entry], ctx: &mut C) {
        if from <= self.log.last_index() {
            if self.role == Role::Leader {
                self.leader_overwrites.push((self.term, from));
            }
            self.log.truncate_after(from - 1);
        }
        self.log.entries.extend_from_slice(entries);
        self.persist_entries(from, ctx);
    }

    // ---- roles ----

    fn become_follower(&mut self, term: u64, ctx: &mut C) {
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.persist_hard(ctx);
        }
        if self.role != Role::Follower {
            ctx.note(format!("follower (term {})", self.term));
        }
        self.role = Role::Follower;
        self.leader = None;
        ctx.cancel_timer(Timer::Heartbeat);
        ctx.cancel_timer(Timer::CheckQuorum);
        self.arm_election(ctx, false);
    }

    fn start_prevote(&mut self, ctx: &mut C) {
        if self.role == Role::Leader {
            return;
        }
        self.role = Role::PreCandidate;
        self.leader = None;
        self.heard_leader_us = None;
        self.votes = vec![false; self.cfg.servers];
        self.votes[self.me] = true;
        let m = Msg::RequestVote {
            term: self.term + 1,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            pre: true,
        };
        let to: Vec<Rank> = self.others().collect();
        ctx.send_to_group(to, &m);
        self.arm_election(ctx, false);
        if self.quorum() <= 1 {
            self.become_candidate(ctx);
        }
    }

    fn become_candidate(&mut self, ctx: &mut C) {
        self.term += 1;
        self.vote = Some(self.me);
        self.role = Role::Candidate;
        // Term and vote are durable before any RequestVote leaves.
        self.persist_hard(ctx);
        ctx.note(format!("candidate (term {})", self.term));
        self.votes = vec![false; self.cfg.servers];
        self.votes[self.me] = true;
        let m = Msg::RequestVote {
            term: self.term,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            pre: false,
        };
        let to: Vec<Rank> = self.others().collect();
        ctx.send_to_group(to, &m);
        self.arm_election(ctx, false);
        if self.quorum() <= 1 {
            self.become_leader(ctx);
        }
    }

    fn become_leader(&mut self, ctx: &mut C) {
        self.role = Role::Leader;
        self.leader = Some(self.me);
        let last = self.log.last_index();
        self.led.push(Led {
            term: self.term,
            at_us: ctx.now().as_micros() as u64,
            last_index: last,
            first_index: self.log.offset + 1,
            runs: self.log.runs(),
        });
        ctx.note(format!("leader (term {})", self.term));
        ctx.cancel_timer(Timer::Election);
        for p in &mut self.peers {
            *p = Peer {
                next: last + 1,
                matched: 0,
                matched_at_tick: 0,
                probing: true,
                heard: false,
            };
        }
        self.in_log = ((self.applied + 1)..=last)
            .filter_map(|i| self.log.get(i).id())
            .collect();
        // A no-op of its term commits the entries of earlier terms (Figure 8).
        let noop = Entry {
            term: self.term,
            cmd: Cmd::Noop,
        };
        self.write_entries(last + 1, &[noop], ctx);
        self.peers[self.me].matched = last + 1;
        let to: Vec<Rank> = self.others().collect();
        for f in to {
            self.send_probe(f, ctx);
        }
        ctx.set_timer(Timer::Heartbeat, self.cfg.heartbeat);
        ctx.set_timer(Timer::CheckQuorum, self.cfg.election);
        self.advance_commit(ctx);
    }

    // ---- elections ----

    fn on_request_vote(&mut self, from: Rank, m: VoteRequest, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let lease = self.cfg.election.as_micros() as u64;
        // A live leader is heard from: ignore the candidate (it may be cut off, or flapping).
        let led = self.role == Role::Leader
            || (self.leader.is_some() && self.heard_leader_us.is_some_and(|t| now < t + lease));
        if led {
            ctx.send(
                from,
                Msg::Vote {
                    term: self.term,
                    granted: false,
                    pre: m.pre,
                },
            );
            if self.role == Role::Leader {
                // Bring it back: it missed us (e.g. the last commit before we finished).
                self.send_probe_or_heartbeat(from, ctx);
            }
            return;
        }
        let up_to_date =
            (m.last_term, m.last_index) >= (self.log.last_term(), self.log.last_index());
        if m.pre {
            let granted = m.term > self.term && up_to_date;
            let term = if granted { m.term } else { self.term };
            ctx.send(
                from,
                Msg::Vote {
                    term,
                    granted,
                    pre: true,
                },
            );
            return;
        }
        if m.term > self.term {
            self.become_follower(m.term, ctx);
        }
        let granted = m.term == self.term && self.vote.is_none_or(|v| v == from) && up_to_date;
        if granted {
            self.vote = Some(from);
            // The vote is durable before the answer leaves: it is never given twice.
            self.persist_hard(ctx);
            self.arm_election(ctx, false);
        }
        ctx.send(
            from,
            Msg::Vote {
                term: self.term,
                granted,
                pre: false,
            },
        );
    }

    fn on_vote(&mut self, from: Rank, term: u64, granted: bool, pre: bool, ctx: &mut C) {
        if term > self.term && !granted {
            self.become_follower(term, ctx);
            return;
        }
        let counting = if pre {
            self.role == Role::PreCandidate && term == self.term + 1
        } else {
            self.role == Role::Candidate && term == self.term
        };
        if !counting || !granted {
            return;
        }
        self.votes[from] = true;
        if self.votes.iter().filter(|&&v| v).count() >= self.quorum() {
            if pre {
                self.become_candidate(ctx);
            } else {
                self.become_leader(ctx);
            }
        }
    }

    // ---- replication: the leader ----

    /// One AppendEntries from `next` (or the snapshot if that entry is compacted away), and
    /// wait for its answer.
    fn send_probe(&mut self, f: Rank, ctx: &mut C) {
        let p = self.peers[f];
        if p.next <= self.log.offset {
            self.send_snapshot(f, ctx);
            return;
        }
        let last = self.log.last_index();
        let end = last.min(p.next + self.cfg.batch as u64 - 1);
        let entries = if p.next <= last {
            self.log.slice(p.next, end).to_vec()
        } else {
            Vec::new()
        };
        self.send_append(f, p.next - 1, entries, ctx);
    }

    fn send_snapshot(&mut self, f: Rank, ctx: &mut C) {
        let snapshot = self
            .snapshot
            .clone()
            .expect("entries are compacted into a snapshot");
        self.peers[f].next = snapshot.last_index + 1;
        self.peers[f].probing = true;
        ctx.send(
            f,
            Msg::InstallSnapshot {
                term: self.term,
                snapshot,
            },
        );
    }

    fn send_append(&mut self, f: Rank, prev: u64, entries: Vec<Entry>, ctx: &mut C) {
        let prev_term = self.log.term_at(prev).expect("prev is in the log");
        ctx.send(
            f,
            Msg::AppendEntries {
                term: self.term,
                prev_index: prev,
                prev_term,
                entries,
                commit: self.commit,
            },
        );
    }

    /// Entries a pipelining follower may have in flight beyond what it acknowledged.
    fn window(&self) -> u64 {
        (self.cfg.batch as u64 * 64).max(4096)
    }

    /// Send a replicating follower what it lacks, `batch` entries per message, up to the
    /// flow-control window.
    fn pump(&mut self, f: Rank, ctx: &mut C) {
        let p = self.peers[f];
        if p.probing {
            return;
        }
        if p.next <= self.log.offset {
            self.send_snapshot(f, ctx);
            return;
        }
        let upto = self.log.last_index().min(p.matched + self.window());
        let mut next = p.next;
        while next <= upto {
            let end = upto.min(next + self.cfg.batch as u64 - 1);
            let entries = self.log.slice(next, end).to_vec();
            self.send_append(f, next - 1, entries, ctx);
            next = end + 1;
        }
        self.peers[f].next = next;
    }

    /// A heartbeat that cannot be refused (from the acknowledged index), or a probe.
    fn send_probe_or_heartbeat(&mut self, f: Rank, ctx: &mut C) {
        let p = self.peers[f];
        if p.probing || p.matched < self.log.offset {
            self.send_probe(f, ctx);
        } else {
            self.send_append(f, p.matched, Vec::new(), ctx);
        }
    }

    fn on_append_resp(&mut self, from: Rank, r: AppendResp, ctx: &mut C) {
        if r.term > self.term {
            self.become_follower(r.term, ctx);
            return;
        }
        if self.role != Role::Leader || r.term != self.term {
            return;
        }
        let p = &mut self.peers[from];
        p.heard = true;
        if r.ok {
            p.matched = p.matched.max(r.index);
            if p.probing {
                p.probing = false;
                p.next = p.matched + 1;
            }
            p.next = p.next.max(p.matched + 1);
            self.pump(from, ctx);
            self.advance_commit(ctx);
            return;
        }
        // Stale: an answer to a message sent before the one now awaited.
        if (p.probing && r.rejected + 1 != p.next) || (!p.probing && r.rejected < p.matched) {
            return;
        }
        // Fast backtracking: skip the follower's whole conflicting term, or to its end.
        let mut next = r.index;
        if r.conflict_term > 0 {
            if let Some(i) = self.last_index_of_term(r.conflict_term, r.rejected) {
                next = i + 1;
            }
        }
        let p = &mut self.peers[from];
        p.next = next.clamp(p.matched + 1, r.rejected.max(p.matched + 1));
        p.probing = true;
        self.send_probe(from, ctx);
    }

    /// The last index at or before `upto` whose term is `term`, if the log has that term.
    fn last_index_of_term(&self, term: u64, upto: u64) -> Option<u64> {
        let mut i = upto.min(self.log.last_index());
        while i > self.log.offset {
            let t = self.log.get(i).term;
            if t == term {
                return Some(i);
            }
            if t < term {
                return None;
            }
            i -= 1;
        }
        None
    }

    /// Commit the highest index a majority stored, if it is of the current term.
    fn advance_commit(&mut self, ctx: &mut C) {
        let n = quorum_index(self.peers.iter().map(|p| p.matched as usize), self.quorum()) as u64;
        if n > self.commit && self.log.term_at(n) == Some(self.term) {
            self.commit = n;
            match self.commits.last_mut() {
                Some(c) if c.0 == self.term => c.1 = n,
                _ => self.commits.push((self.term, n)),
            }
            self.apply(ctx);
        }
    }

    fn on_heartbeat(&mut self, ctx: &mut C) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.log.last_index();
        let to: Vec<Rank> = self.others().collect();
        for f in to {
            let p = self.peers[f];
            if !p.probing && p.matched < last && p.matched == p.matched_at_tick {
                // No progress for a whole period: messages were lost; resend from there.
                self.peers[f].next = p.matched + 1;
                self.pump(f, ctx);
            } else {
                self.send_probe_or_heartbeat(f, ctx);
            }
            self.peers[f].matched_at_tick = self.peers[f].matched;
        }
        ctx.set_timer(Timer::Heartbeat, self.cfg.heartbeat);
    }

    fn on_check_quorum(&mut self, ctx: &mut C) {
        if self.role != Role::Leader {
            return;
        }
        let me = self.me;
        let heard = 1 + self
            .peers
            .iter()
            .enumerate()
            .filter(|(r, p)| *r != me && p.heard)
            .count();
        if heard < self.quorum() {
            ctx.note(format!("lost its majority (heard {heard})"));
            self.become_follower(self.term, ctx);
            return;
        }
        for p in &mut self.peers {
            p.heard = false;
        }
        ctx.set_timer(Timer::CheckQuorum, self.cfg.election);
    }

    // ---- replication: the follower ----

    /// Hear from the leader of `term` (>= ours): follow it, and no election for now.
    fn follow(&mut self, from: Rank, term: u64, ctx: &mut C) {
        if term > self.term || self.role != Role::Follower {
            self.become_follower(term, ctx);
        } else {
            self.arm_election(ctx, false);
        }
        self.leader = Some(from);
        self.heard_leader_us = Some(ctx.now().as_micros() as u64);
    }

    fn on_append_entries(&mut self, from: Rank, m: AppendMsg, ctx: &mut C) {
        let reject = |s: &Self, index: u64, conflict_term: u64| Msg::AppendResp {
            term: s.term,
            ok: false,
            index,
            conflict_term,
            rejected: m.prev_index,
        };
        if m.term < self.term {
            ctx.send(from, reject(self, 0, 0));
            return;
        }
        self.follow(from, m.term, ctx);
        self.aim_catch_up(m.commit);
        let (mut prev, mut prev_term, mut entries) = (m.prev_index, m.prev_term, &m.entries[..]);
        // Entries in our snapshot are committed, hence the same as the leader's.
        if prev < self.log.offset {
            let skip = ((self.log.offset - prev) as usize).min(entries.len());
            entries = &entries[skip..];
            prev += skip as u64;
            if prev < self.log.offset {
                self.answer_ok(
                    from,
                    self.log.offset.min(m.prev_index + m.entries.len() as u64),
                    m.commit,
                    ctx,
                );
                return;
            }
            prev_term = self.log.offset_term;
        }
        match self.log.term_at(prev) {
            None => {
                let hint = self.log.last_index() + 1;
                ctx.send(from, reject(self, hint, 0));
                return;
            }
            Some(t) if t != prev_term => {
                let mut first = prev;
                while first > self.log.offset + 1 && self.log.term_at(first - 1) == Some(t) {
                    first -= 1;
                }
                ctx.send(from, reject(self, first, t));
                return;
            }
            Some(_) => {}
        }
        for (k, e) in entries.iter().enumerate() {
            let idx = prev + 1 + k as u64;
            if self.log.term_at(idx) != Some(e.term) {
                self.write_entries(idx, &entries[k..], ctx);
                break;
            }
        }
        let matched = prev + entries.len() as u64;
        self.answer_ok(from, matched, m.commit, ctx);
    }

    /// After a restart, the first word of a leader sets what catching up means.
    fn aim_catch_up(&mut self, commit: u64) {
        if self.recovered.is_some() && self.catch_up_target.is_none() {
            self.catch_up_target = Some(commit);
        }
    }

    /// Learn the commit index (up to what matches the leader), apply, and acknowledge.
    fn answer_ok(&mut self, from: Rank, matched: u64, commit: u64, ctx: &mut C) {
        let c = commit.min(matched);
        if c > self.commit {
            self.commit = c;
            self.apply(ctx);
        }
        if self.caught_up_us.is_none() && self.catch_up_target.is_some_and(|t| self.applied >= t) {
            self.caught_up_us = Some(ctx.now().as_micros() as u64);
            ctx.note(format!("caught up at {}", self.applied));
        }
        ctx.send(
            from,
            Msg::AppendResp {
                term: self.term,
                ok: true,
                index: matched,
                conflict_term: 0,
                rejected: 0,
            },
        );
    }

    fn on_install_snapshot(&mut self, from: Rank, term: u64, s: Snapshot, ctx: &mut C) {
        if term < self.term {
            let m = Msg::AppendResp {
                term: self.term,
                ok: false,
                index: 0,
                conflict_term: 0,
                rejected: 0,
            };
            ctx.send(from, m);
            return;
        }
        self.follow(from, term, ctx);
        let last = s.last_index;
        self.aim_catch_up(last);
        if last > self.commit {
            if self.log.term_at(last) == Some(s.last_term) {
                self.log.compact(last, s.last_term);
            } else {
                self.log = Log {
                    offset: last,
                    offset_term: s.last_term,
                    entries: Vec::new(),
                };
            }
            self.sm = s.kv.clone();
            self.commit = last;
            self.applied = last;
            self.applied_runs.push((last + 1, Vec::new()));
            self.snapshot = Some(s);
            self.snapshots_installed += 1;
            ctx.note(format!("installed a snapshot up to {last}"));
            self.persist_all(ctx);
        }
        self.answer_ok(from, last, last, ctx);
    }

    // ---- the state machine ----

    fn apply(&mut self, ctx: &mut C) {
        let was_done = self.is_done();
        let leader = self.role == Role::Leader;
        // One Reply per client for the whole range.
        let mut replies: Vec<ClientResults> = Vec::new();
        while self.applied < self.commit {
            let i = self.applied + 1;
            let e = *self.log.get(i);
            let a = match e.cmd {
                Cmd::Noop => Applied {
                    term: e.term,
                    id: None,
                    dup: false,
                },
                Cmd::Client { id, op, low } => {
                    let r = self.sm.apply(id, op, low);
                    self.in_log.remove(&id);
                    if leader {
                        if let Some(res) = r.or_else(|| self.sm.result(id)) {
                            match replies.iter_mut().find(|(c, _)| *c == id.client) {
                                Some((_, v)) => v.push((id.seq, res)),
                                None => replies.push((id.client, vec![(id.seq, res)])),
                            }
                        }
                    }
                    Applied {
                        term: e.term,
                        id: Some(id),
                        dup: r.is_none(),
                    }
                }
            };
            self.applied_runs
                .last_mut()
                .expect("a run of applied entries")
                .1
                .push(a);
            self.applied = i;
        }
        for (c, results) in replies {
            ctx.send(c as Rank, Msg::Reply(results));
        }
        let every = self.cfg.snapshot_every;
        if every > 0 && self.applied - self.log.offset >= every {
            self.take_snapshot(ctx);
        }
        if !was_done && self.is_done() && leader {
            // Everything is executed: tell the followers now, as heartbeats stop. One that
            // misses it runs a PreVote, which we answer with what it lacks.
            let to: Vec<Rank> = self.others().collect();
            let last = self.log.last_index();
            for f in to {
                self.send_append(f, last, Vec::new(), ctx);
            }
        }
    }

    fn take_snapshot(&mut self, ctx: &mut C) {
        let i = self.applied;
        let term = self.log.term_at(i).expect("an applied entry");
        self.snapshot = Some(Snapshot {
            last_index: i,
            last_term: term,
            kv: self.sm.clone(),
        });
        self.log.compact(i, term);
        self.snapshots_taken += 1;
        self.persist_all(ctx);
    }

    // ---- clients ----

    fn on_request(&mut self, client: Rank, low: u32, cmds: Vec<(u32, super::kv::Op)>, ctx: &mut C) {
        if self.role != Role::Leader {
            ctx.send(
                client,
                Msg::Redirect {
                    leader: self.leader,
                },
            );
            return;
        }
        let mut answers = Vec::new();
        let mut new = Vec::new();
        for (seq, op) in cmds {
            let id = CommandId {
                client: client as u32,
                seq,
            };
            if self.sm.answered_long_ago(id) {
                continue;
            }
            if let Some(r) = self.sm.result(id) {
                // Executed before: answer again (the first answer was lost).
                answers.push((seq, r));
            } else if self.in_log.insert(id) {
                new.push(Entry {
                    term: self.term,
                    cmd: Cmd::Client { id, op, low },
                });
            }
        }
        if !answers.is_empty() {
            ctx.send(client, Msg::Reply(answers));
        }
        if new.is_empty() {
            return;
        }
        let from = self.log.last_index() + 1;
        self.write_entries(from, &new, ctx);
        self.peers[self.me].matched = self.log.last_index();
        let to: Vec<Rank> = self.others().collect();
        for f in to {
            if !self.peers[f].probing && self.peers[f].next == from {
                self.pump(f, ctx);
            }
        }
        self.advance_commit(ctx);
    }

    pub fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        if from >= self.cfg.servers {
            if let Msg::Request { low, cmds } = msg {
                self.on_request(from, low, cmds, ctx);
            }
            return;
        }
        match msg {
            Msg::RequestVote {
                term,
                last_index,
                last_term,
                pre,
            } => self.on_request_vote(
                from,
                VoteRequest {
                    term,
                    last_index,
                    last_term,
                    pre,
                },
                ctx,
            ),
            Msg::Vote { term, granted, pre } => self.on_vote(from, term, granted, pre, ctx),
            Msg::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append_entries(
                from,
                AppendMsg {
                    term,
                    prev_index,
                    prev_term,
                    entries,
                    commit,
                },
                ctx,
            ),
            Msg::AppendResp {
                term,
                ok,
                index,
                conflict_term,
                rejected,
            } => self.on_append_resp(
                from,
                AppendResp {
                    term,
                    ok,
                    index,
                    conflict_term,
                    rejected,
                },
                ctx,
            ),
            Msg::InstallSnapshot { term, snapshot } => {
                self.on_install_snapshot(from, term, snapshot, ctx)
            }
            Msg::Request { .. } | Msg::Redirect { .. } | Msg::Reply(_) => {}
        }
    }

    pub fn on_timer(&mut self, t: Timer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        match t {
            Timer::Election => self.start_prevote(ctx),
            Timer::Heartbeat => self.on_heartbeat(ctx),
            Timer::CheckQuorum => self.on_check_quorum(ctx),
            Timer::GiveUp => {
                self.gave_up = true;
                ctx.note("gave up".to_string());
                for t in [Timer::Election, Timer::Heartbeat, Timer::CheckQuorum] {
                    ctx.cancel_timer(t);
                }
            }
            Timer::Retry => {}
        }
    }

    pub fn report(&self) -> ServerReport {
        ServerReport {
            term: self.term,
            led: self.led.clone(),
            commits: self.commits.clone(),
            applied: self.applied_runs.clone(),
            log_offset: self.log.offset,
            log: self.log.entries.iter().map(|e| (e.term, e.id())).collect(),
            leader_overwrites: self.leader_overwrites.clone(),
            commit: self.commit,
            recovered: self.recovered,
            started_us: self.started_us,
            catch_up_target: self.catch_up_target,
            caught_up_us: self.caught_up_us,
            snapshots_taken: self.snapshots_taken,
            snapshots_installed: self.snapshots_installed,
            leader_at_end: self.role == Role::Leader,
            gave_up: self.gave_up,
        }
    }
}

/// The fields of a RequestVote.
pub struct VoteRequest {
    pub term: u64,
    pub last_index: u64,
    pub last_term: u64,
    pub pre: bool,
}

/// The fields of an AppendEntries.
pub struct AppendMsg {
    pub term: u64,
    pub prev_index: u64,
    pub prev_term: u64,
    pub entries: Vec<Entry>,
    pub commit: u64,
}

/// The fields of an AppendResp.
pub struct AppendResp {
    pub term: u64,
    pub ok: bool,
    pub index: u64,
    pub conflict_term: u64,
    pub rejected: u64,
}
