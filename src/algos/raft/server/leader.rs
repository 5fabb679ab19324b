//! The leader: client commands into the log, pipelined and batched AppendEntries within a
//! flow-control window, probing and fast backtracking, the commit rule of Figure 8,
//! heartbeats and CheckQuorum.
//!
//! A follower's match index only grows while one leader leads: within one life the follower
//! never removes entries that match the leader's, so a refusal at or below it from the life
//! that acknowledged it is stale (sent before the acknowledgement, reordered by `--delay`).
//! Every AppendResp says when the follower's life started; a refusal from a later life means
//! it came back with less than it acknowledged (its storage lost them, which the runtime
//! normally catches before the restart). The leader then notes it, counts it
//! (`follower_logs_shrank`), forgets the match index and probes down from what the follower
//! says it has, one round trip per refusal, each lower than the last, so repair ends.

use super::{Role, Server, C};
use crate::algos::raft::kv::Op;
use crate::algos::raft::messages::{AppendEntries, AppendResp, InstallSnapshot, PeerTimer};
use crate::algos::raft::{Cmd, Entry, Msg};
use crate::shared::clients::CommandId;
use crate::shared::quorum::quorum_index;
use crate::shared::service::{Redirect, Reply, Request};
use crate::shared::Rank;

/// The leader's view of one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Progress {
    /// The next index to send.
    pub(super) next: u64,
    /// The highest index known to match the leader's log, and the follower's life that said
    /// so (when it started, µs).
    pub(super) matched: u64,
    pub(super) matched_life: u64,
    /// `matched` at the last heartbeat tick (no progress since then: resend).
    pub(super) matched_at_tick: u64,
    /// Probing: one AppendEntries at a time, until the follower's log matches; otherwise
    /// entries are pipelined.
    pub(super) probing: bool,
    /// Heard from since the last CheckQuorum.
    pub(super) heard: bool,
}

impl Server {
    pub(super) fn on_client_request(&mut self, client: Rank, req: Request<Op>, ctx: &mut C) {
        let Request { low, cmds } = req;
        if self.role != Role::Leader {
            ctx.send(
                client,
                Msg::Redirect(Redirect {
                    leader: self.leader,
                }),
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
            ctx.send(client, Msg::Reply(Reply(answers)));
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

    /// One AppendEntries from `next` (or the snapshot if that entry is compacted away), and
    /// wait for its answer.
    pub(super) fn send_probe(&mut self, f: Rank, ctx: &mut C) {
        let p = self.peers[f];
        if p.next <= self.log.offset {
            self.send_snapshot(f, ctx);
            return;
        }
        let last = self.log.last_index();
        let end = last.min(p.next + self.cfg.service.batch as u64 - 1);
        let entries = if p.next <= last {
            self.log.slice(p.next, end).to_vec()
        } else {
            Vec::new()
        };
        self.send_append(f, p.next - 1, entries, ctx);
    }

    pub(super) fn send_snapshot(&mut self, f: Rank, ctx: &mut C) {
        let snapshot = self
            .snapshot
            .clone()
            .expect("entries are compacted into a snapshot");
        self.peers[f].next = snapshot.last_index + 1;
        self.peers[f].probing = true;
        ctx.send(
            f,
            InstallSnapshot {
                term: self.term,
                snapshot,
            },
        );
    }

    pub(super) fn send_append(&mut self, f: Rank, prev: u64, entries: Vec<Entry>, ctx: &mut C) {
        let prev_term = self.log.term_at(prev).expect("prev is in the log");
        ctx.send(
            f,
            AppendEntries {
                term: self.term,
                prev_index: prev,
                prev_term,
                entries,
                commit: self.commit,
            },
        );
    }

    /// Entries a pipelining follower may have in flight beyond what it acknowledged.
    pub(super) fn window(&self) -> u64 {
        (self.cfg.service.batch as u64 * 64).max(4096)
    }

    /// Send a replicating follower what it lacks, `batch` entries per message, up to the
    /// flow-control window.
    pub(super) fn pump(&mut self, f: Rank, ctx: &mut C) {
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
            let end = upto.min(next + self.cfg.service.batch as u64 - 1);
            let entries = self.log.slice(next, end).to_vec();
            self.send_append(f, next - 1, entries, ctx);
            next = end + 1;
        }
        self.peers[f].next = next;
    }

    /// A heartbeat that cannot be refused (from the acknowledged index), or a probe.
    pub(super) fn send_probe_or_heartbeat(&mut self, f: Rank, ctx: &mut C) {
        let p = self.peers[f];
        if p.probing || p.matched < self.log.offset {
            self.send_probe(f, ctx);
        } else {
            self.send_append(f, p.matched, Vec::new(), ctx);
        }
    }

    pub(super) fn on_append_resp(&mut self, from: Rank, r: AppendResp, ctx: &mut C) {
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
            if r.index > p.matched {
                (p.matched, p.matched_life) = (r.index, r.life_us);
            }
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
        if r.rejected <= p.matched {
            if r.life_us <= p.matched_life {
                // From the life that acknowledged it, sent before that acknowledgement.
                return;
            }
            // A later life refused an entry an earlier one acknowledged: its log shrank.
            let had = p.matched;
            p.matched = 0;
            p.matched_at_tick = 0;
            self.follower_logs_shrank += 1;
            ctx.note(format!(
                "follower {from} refused index {} after acknowledging {had}: its log shrank; probing down from {}",
                r.rejected, r.index
            ));
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
    pub(super) fn last_index_of_term(&self, term: u64, upto: u64) -> Option<u64> {
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
    pub(super) fn advance_commit(&mut self, ctx: &mut C) {
        let n = quorum_index(self.peers.iter().map(|p| p.matched as usize), self.quorum()) as u64;
        if n > self.commit && self.log.term_at(n) == Some(self.term) {
            self.commit = n;
            match self.commits.last_mut() {
                Some(c) if c.0 == self.term => c.1 = n,
                _ => self.commits.push((self.term, n)),
            }
            self.apply(ctx);
            self.note_caught_up(ctx);
        }
    }

    pub(super) fn on_heartbeat(&mut self, ctx: &mut C) {
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
        ctx.set_timer(PeerTimer::Heartbeat, self.cfg.service.heartbeat);
    }

    pub(super) fn on_check_quorum(&mut self, ctx: &mut C) {
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
        ctx.set_timer(PeerTimer::CheckQuorum, self.cfg.service.election);
    }
}
