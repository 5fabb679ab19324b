//! The follower: the consistency check, conflicting suffixes replaced, the commit index
//! learned, snapshots installed, and catching up after a restart.

use super::log::Log;
use super::{Role, Server, C};
use crate::algos::raft::messages::{AppendEntries, AppendResp, InstallSnapshot};
use crate::shared::Rank;

impl Server {
    /// Hear from the leader of `term` (>= ours): follow it, and no election for now.
    pub(super) fn follow(&mut self, from: Rank, term: u64, ctx: &mut C) {
        if term > self.term || self.role != Role::Follower {
            self.become_follower(term, ctx);
        } else {
            self.arm_election(ctx, false);
        }
        self.leader = Some(from);
        self.heard_leader_us = Some(ctx.now().as_micros() as u64);
    }

    pub(super) fn on_append_entries(&mut self, from: Rank, m: AppendEntries, ctx: &mut C) {
        let reject = |s: &Self, index: u64, conflict_term: u64| AppendResp {
            term: s.term,
            ok: false,
            index,
            conflict_term,
            rejected: m.prev_index,
            life_us: s.started_us,
            done: s.executed_all(),
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
    pub(super) fn aim_catch_up(&mut self, commit: u64) {
        if self.recovered.is_some() && self.catch_up_target.is_none() {
            self.catch_up_target = Some(commit);
        }
    }

    /// Once it applied what catching up meant, say when.
    pub(super) fn note_caught_up(&mut self, ctx: &mut C) {
        if self.caught_up_us.is_none() && self.catch_up_target.is_some_and(|t| self.applied >= t) {
            self.caught_up_us = Some(ctx.now().as_micros() as u64);
            ctx.note(format!("caught up at {}", self.applied));
        }
    }

    /// Learn the commit index (up to what matches the leader), apply, and acknowledge.
    pub(super) fn answer_ok(&mut self, from: Rank, matched: u64, commit: u64, ctx: &mut C) {
        let c = commit.min(matched);
        if c > self.commit {
            self.commit = c;
            self.apply(ctx);
        }
        self.note_caught_up(ctx);
        ctx.send(
            from,
            AppendResp {
                term: self.term,
                ok: true,
                index: matched,
                conflict_term: 0,
                rejected: 0,
                life_us: self.started_us,
                done: self.executed_all(),
            },
        );
    }

    pub(super) fn on_install_snapshot(&mut self, from: Rank, m: InstallSnapshot, ctx: &mut C) {
        let InstallSnapshot { term, snapshot: s } = m;
        if term < self.term {
            let m = AppendResp {
                term: self.term,
                ok: false,
                index: 0,
                conflict_term: 0,
                rejected: 0,
                life_us: self.started_us,
                done: self.executed_all(),
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
}
