//! The state machine: committed entries applied in order to the key-value map, the leader's
//! answers to clients, and snapshots.

use super::{Role, Server, C};
use crate::algos::raft::{Applied, Cmd, Msg, Snapshot};
use crate::shared::service::Reply;
use crate::shared::service::ServerRole;
use crate::shared::Rank;

/// A client and the (seq, result) of its commands applied.
type ClientResults = (u32, Vec<(u32, Option<u64>)>);

impl Server {
    pub(super) fn apply(&mut self, ctx: &mut C) {
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
            ctx.send(c as Rank, Msg::Reply(Reply(results)));
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

    pub(super) fn take_snapshot(&mut self, ctx: &mut C) {
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
}
