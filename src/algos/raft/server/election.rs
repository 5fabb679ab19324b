//! Elections: PreVote, candidacy, votes (persisted before they leave), and the role changes.

use super::leader::Progress;
use super::{Role, Server, C};
use crate::algos::raft::messages::{PeerTimer, RequestVote, Vote};
use crate::algos::raft::{Cmd, Entry, Led};
use crate::shared::election::election_delay;
use crate::shared::Rank;

impl Server {
    pub(super) fn arm_election(&self, ctx: &mut C, first: bool) {
        let after = election_delay(self.me, first, self.cfg.service.election, ctx.rng());
        ctx.set_timer(PeerTimer::Election, after);
    }

    pub(super) fn become_follower(&mut self, term: u64, ctx: &mut C) {
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
        ctx.cancel_timer(PeerTimer::Heartbeat);
        ctx.cancel_timer(PeerTimer::CheckQuorum);
        self.arm_election(ctx, false);
    }

    pub(super) fn start_prevote(&mut self, ctx: &mut C) {
        if self.role == Role::Leader {
            return;
        }
        self.role = Role::PreCandidate;
        self.leader = None;
        self.heard_leader_us = None;
        self.votes = vec![false; self.cfg.service.servers];
        self.votes[self.me] = true;
        let m = RequestVote {
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

    pub(super) fn become_candidate(&mut self, ctx: &mut C) {
        self.term += 1;
        self.vote = Some(self.me);
        self.role = Role::Candidate;
        // Term and vote are durable before any RequestVote leaves.
        self.persist_hard(ctx);
        ctx.note(format!("candidate (term {})", self.term));
        self.votes = vec![false; self.cfg.service.servers];
        self.votes[self.me] = true;
        let m = RequestVote {
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

    pub(super) fn become_leader(&mut self, ctx: &mut C) {
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
        // Restarted and elected before hearing another leader: it has caught up once it applied
        // all it held when it took over.
        self.aim_catch_up(last);
        ctx.cancel_timer(PeerTimer::Election);
        for p in &mut self.peers {
            *p = Progress {
                next: last + 1,
                matched: 0,
                matched_life: 0,
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
        ctx.set_timer(PeerTimer::Heartbeat, self.cfg.service.heartbeat);
        ctx.set_timer(PeerTimer::CheckQuorum, self.cfg.service.election);
        self.advance_commit(ctx);
    }

    pub(super) fn on_request_vote(&mut self, from: Rank, m: RequestVote, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let lease = self.cfg.service.election.as_micros() as u64;
        // A live leader is heard from: ignore the candidate (it may be cut off, or flapping).
        let led = self.role == Role::Leader
            || (self.leader.is_some() && self.heard_leader_us.is_some_and(|t| now < t + lease));
        if led {
            ctx.send(
                from,
                Vote {
                    term: self.term,
                    granted: false,
                    pre: m.pre,
                },
            );
            if self.role == Role::Leader {
                // Bring it back: it missed us (the last commit before we finished, or all we
                // sent while it was down: resend from what it matched, as a heartbeat tick
                // would; a leader done with its work has no ticks left).
                let p = self.peers[from];
                if !p.probing && p.matched < self.log.last_index() {
                    self.peers[from].next = p.matched + 1;
                    self.pump(from, ctx);
                } else {
                    self.send_probe_or_heartbeat(from, ctx);
                }
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
                Vote {
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
            Vote {
                term: self.term,
                granted,
                pre: false,
            },
        );
    }

    pub(super) fn on_vote(&mut self, from: Rank, m: Vote, ctx: &mut C) {
        let Vote { term, granted, pre } = m;
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
}
