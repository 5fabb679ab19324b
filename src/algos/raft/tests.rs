//! Unit tests: the exact effects of the handlers (PreVote, votes and their persistence, the
//! lease, the consistency check and fast backtracking, the Figure 8 commit rule, recovery,
//! snapshots, redirect, deduplication, CheckQuorum), and the checks fed broken histories.

use std::sync::Arc;
use std::time::Duration;

use super::messages::*;
use super::server::storage::Record;
use super::server::Role;
use super::*;
use crate::shared::process::{effects_at, sends_of, Durable};
use crate::shared::service::{self, deliver, Redirect, Reply, Request, ServerRole};
use crate::shared::{Ctx, Effect};

/// `servers` servers and one client, batch 2.
fn cfg(servers: usize) -> Arc<Config> {
    Arc::new(Config {
        service: service::Config::for_tests(servers),
        keys: 4,
        read_permille: 500,
        snapshot_every: 0,
    })
}

type Fx = Vec<Effect<Msg, Timer>>;

/// Run one handler of a server at `now_ms` and return its effects.
fn at(s: &mut Server, now_ms: u64, f: impl FnOnce(&mut Server, &mut Ctx<Msg, Timer>)) -> Fx {
    let me = s.me;
    effects_at(s, me, 6, Duration::from_millis(now_ms), f)
}

fn on(s: &mut Server, from: Rank, m: Msg) -> Fx {
    at(s, 0, |s, c| deliver(s, from, m, c))
}

fn timer(s: &mut Server, t: PeerTimer) -> Fx {
    at(s, 0, |s, c| s.on_timer(t, c))
}

/// The records persisted, decoded, in order.
fn persisted(fx: &Fx) -> Vec<Record> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Persist(Durable::Append(b) | Durable::Reset(b)) => {
                Some(postcard::from_bytes(b).unwrap())
            }
            _ => None,
        })
        .collect()
}

/// Index of the first effect matching `f`.
fn pos(fx: &Fx, f: impl Fn(&Effect<Msg, Timer>) -> bool) -> usize {
    fx.iter().position(f).expect("an effect")
}

fn put(seq: u32, key: u32) -> Cmd {
    Cmd::Client {
        id: CommandId { client: 9, seq },
        op: kv::Op::Put {
            key,
            value: seq as u64,
        },
        low: 0,
    }
}

fn entry(term: u64, seq: u32) -> Entry {
    Entry {
        term,
        cmd: put(seq, 1),
    }
}

fn enc(r: &Record) -> Vec<u8> {
    postcard::to_allocvec(r).unwrap()
}

/// A server restarted with term `term` and a log of entries of these terms.
fn with_log(me: Rank, servers: usize, term: u64, terms: &[u64]) -> Server {
    let entries = terms
        .iter()
        .enumerate()
        .map(|(k, &t)| entry(t, k as u32))
        .collect();
    Server::recover(
        me,
        cfg(servers),
        &[
            enc(&Record::Hard { term, vote: None }),
            enc(&Record::Entries { from: 1, entries }),
        ],
    )
    .unwrap()
}

fn vote(term: u64, granted: bool, pre: bool) -> Msg {
    Msg::from(Vote { term, granted, pre })
}

fn request_vote(term: u64, last_index: u64, last_term: u64, pre: bool) -> Msg {
    Msg::from(RequestVote {
        term,
        last_index,
        last_term,
        pre,
    })
}

/// Make `s` leader: PreVote and vote majorities from the next ranks up.
fn elect(s: &mut Server) -> Fx {
    timer(s, PeerTimer::Election);
    let others: Vec<Rank> = (0..6)
        .filter(|&r| r != s.me)
        .take(s.votes_needed())
        .collect();
    let t = s.term + 1;
    for &r in &others {
        on(s, r, vote(t, true, true));
    }
    let mut fx = Vec::new();
    for &r in &others {
        fx = on(s, r, vote(t, true, false));
    }
    assert_eq!(s.role, Role::Leader);
    fx
}

fn ack(s: &mut Server, from: Rank, index: u64) -> Fx {
    let term = s.term;
    on(
        s,
        from,
        Msg::from(AppendResp {
            term,
            ok: true,
            index,
            conflict_term: 0,
            rejected: 0,
            life_us: 0,
            done: false,
        }),
    )
}

#[test]
fn a_prevote_changes_no_term_and_persists_nothing() {
    let mut s = Server::new(1, cfg(3));
    let fx = timer(&mut s, PeerTimer::Election);
    assert_eq!(s.role, Role::PreCandidate);
    assert_eq!(s.term, 0);
    assert!(persisted(&fx).is_empty());
    assert_eq!(
        sends_of(&fx),
        vec![
            (0, request_vote(1, 0, 0, true)),
            (2, request_vote(1, 0, 0, true))
        ]
    );
}

#[test]
fn a_candidate_persists_its_term_and_vote_before_asking() {
    let mut s = Server::new(1, cfg(3));
    timer(&mut s, PeerTimer::Election);
    let fx = on(&mut s, 0, vote(1, true, true));
    assert_eq!((s.role, s.term, s.vote), (Role::Candidate, 1, Some(1)));
    assert_eq!(
        persisted(&fx),
        vec![Record::Hard {
            term: 1,
            vote: Some(1)
        }]
    );
    let p = pos(&fx, |e| matches!(e, Effect::Persist(_)));
    let first_send = pos(&fx, |e| matches!(e, Effect::Send { .. }));
    assert!(p < first_send, "{fx:?}");
    assert_eq!(sends_of(&fx)[0], (0, request_vote(1, 0, 0, false)));
    // A majority of votes: leader, with a no-op of its term, persisted before it is sent.
    let fx = on(&mut s, 2, vote(1, true, false));
    assert_eq!(s.role, Role::Leader);
    assert_eq!(
        persisted(&fx),
        vec![Record::Entries {
            from: 1,
            entries: vec![Entry {
                term: 1,
                cmd: Cmd::Noop
            }]
        }]
    );
    assert!(sends_of(&fx).iter().all(|(_, m)| matches!(
        m,
        Msg::Peer(Peer::AppendEntries(AppendEntries {
            term: 1,
            prev_index: 0,
            ..
        }))
    )));
}

#[test]
fn a_vote_is_durable_before_it_leaves_and_never_given_twice_in_a_term() {
    let mut s = Server::new(0, cfg(3));
    let fx = on(&mut s, 1, request_vote(1, 0, 0, false));
    assert_eq!(
        persisted(&fx),
        vec![
            Record::Hard {
                term: 1,
                vote: None
            },
            Record::Hard {
                term: 1,
                vote: Some(1)
            }
        ]
    );
    let last_persist = fx
        .iter()
        .rposition(|e| matches!(e, Effect::Persist(_)))
        .unwrap();
    let send = pos(&fx, |e| matches!(e, Effect::Send { .. }));
    assert!(last_persist < send);
    assert_eq!(sends_of(&fx), vec![(1, vote(1, true, false))]);
    assert_eq!(
        sends_of(&on(&mut s, 2, request_vote(1, 0, 0, false))),
        vec![(2, vote(1, false, false))]
    );
    // Restarted from what it stored, it still refuses rank 2 in term 1.
    let stored: Vec<Vec<u8>> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Persist(Durable::Append(b)) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let mut back = Server::recover(0, cfg(3), &stored).unwrap();
    assert_eq!((back.term, back.vote), (1, Some(1)));
    assert_eq!(
        sends_of(&on(&mut back, 2, request_vote(1, 0, 0, false))),
        vec![(2, vote(1, false, false))]
    );
}

#[test]
fn votes_go_only_to_logs_at_least_as_up_to_date() {
    // Our log ends with term 2 at index 2.
    let mut s = with_log(0, 3, 2, &[1, 2]);
    // A longer log of an older last term loses; a shorter one of the same term too.
    let fx = on(&mut s, 1, request_vote(3, 5, 1, true));
    assert_eq!(sends_of(&fx), vec![(1, vote(2, false, true))]);
    let fx = on(&mut s, 1, request_vote(3, 1, 2, false));
    assert_eq!(sends_of(&fx), vec![(1, vote(3, false, false))]);
    // The same last term and index wins.
    let fx = on(&mut s, 2, request_vote(3, 2, 2, false));
    assert_eq!(sends_of(&fx), vec![(2, vote(3, true, false))]);
}

#[test]
fn a_follower_that_hears_its_leader_ignores_candidates() {
    let mut s = Server::new(2, cfg(3));
    at(&mut s, 100, |s, c| {
        deliver(
            s,
            0,
            Msg::from(AppendEntries {
                term: 1,
                prev_index: 0,
                prev_term: 0,
                entries: vec![],
                commit: 0,
            }),
            c,
        )
    });
    assert_eq!(s.leader, Some(0));
    // 30 ms later (within T = 50 ms): refused, and the term stays.
    let fx = at(&mut s, 130, |s, c| {
        deliver(s, 1, request_vote(2, 0, 0, false), c)
    });
    assert_eq!(sends_of(&fx), vec![(1, vote(1, false, false))]);
    assert_eq!(s.term, 1);
    // After T without the leader: granted.
    let fx = at(&mut s, 160, |s, c| {
        deliver(s, 1, request_vote(2, 0, 0, true), c)
    });
    assert_eq!(sends_of(&fx), vec![(1, vote(2, true, true))]);
}

#[test]
fn the_consistency_check_refuses_gaps_and_conflicts_and_truncates_a_conflicting_suffix() {
    let mut s = with_log(1, 3, 3, &[1, 1, 2, 2]);
    let ae = |prev_index, prev_term, entries: Vec<Entry>| {
        Msg::from(AppendEntries {
            term: 3,
            prev_index,
            prev_term,
            entries,
            commit: 0,
        })
    };
    let resp = |ok, index, conflict_term, rejected| {
        (
            0,
            Msg::from(AppendResp {
                term: 3,
                ok,
                index,
                conflict_term,
                rejected,
                life_us: 0,
                done: false,
            }),
        )
    };
    // A gap: its last index + 1.
    assert_eq!(
        sends_of(&on(&mut s, 0, ae(6, 3, vec![]))),
        vec![resp(false, 5, 0, 6)]
    );
    // A conflict at index 4 (term 2 here, 3 at the leader): the first index of term 2.
    assert_eq!(
        sends_of(&on(&mut s, 0, ae(4, 3, vec![]))),
        vec![resp(false, 3, 2, 4)]
    );
    // A match at 2 with entries of term 3: the suffix of term 2 goes, persisted from 3 on.
    let fx = on(&mut s, 0, ae(2, 1, vec![entry(3, 7)]));
    assert_eq!(sends_of(&fx), vec![resp(true, 3, 0, 0)]);
    assert_eq!(
        persisted(&fx),
        vec![Record::Entries {
            from: 3,
            entries: vec![entry(3, 7)]
        }]
    );
    assert_eq!(s.log.last_index(), 3);
    // A duplicate of what it has changes nothing and is acknowledged again.
    let fx = on(&mut s, 0, ae(2, 1, vec![entry(3, 7)]));
    assert!(persisted(&fx).is_empty());
    assert_eq!(sends_of(&fx), vec![resp(true, 3, 0, 0)]);
}

#[test]
fn the_leader_backtracks_over_a_whole_conflicting_term() {
    // Leader of term 4 with [1, 1, 3, 3] plus its no-op (index 5).
    let mut s = with_log(0, 3, 3, &[1, 1, 3, 3]);
    elect(&mut s);
    assert_eq!(s.log.last_index(), 5);
    // Follower 1 has term 2 at index 5 starting at 3: the leader has no term 2, so it
    // resends from 3, with batch 2 entries (3, 4) after prev 2.
    let fx = on(
        &mut s,
        1,
        Msg::from(AppendResp {
            term: 4,
            ok: false,
            index: 3,
            conflict_term: 2,
            rejected: 4,
            life_us: 0,
            done: false,
        }),
    );
    assert_eq!(
        sends_of(&fx),
        vec![(
            1,
            Msg::from(AppendEntries {
                term: 4,
                prev_index: 2,
                prev_term: 1,
                entries: vec![entry(3, 2), entry(3, 3)],
                commit: 0
            })
        )]
    );
    // A stale refusal (not of the probe now awaited) is ignored.
    let fx = on(
        &mut s,
        1,
        Msg::from(AppendResp {
            term: 4,
            ok: false,
            index: 2,
            conflict_term: 0,
            rejected: 5,
            life_us: 0,
            done: false,
        }),
    );
    assert!(sends_of(&fx).is_empty());
}

/// Deliver `first` from `leader` to `follower`, and every answer between the two after it,
/// until none is left; returns how many went (panics past 1,000: an endless exchange).
fn exchange(leader: &mut Server, follower: &mut Server, first: Msg) -> usize {
    let (l, f) = (leader.me, follower.me);
    let mut queue = std::collections::VecDeque::from([(l, f, first)]);
    let mut n = 0;
    while let Some((from, to, m)) = queue.pop_front() {
        n += 1;
        assert!(n < 1000, "an endless exchange");
        let (s, back) = if to == f {
            (&mut *follower, l)
        } else {
            (&mut *leader, f)
        };
        for (dest, m) in sends_of(&on(s, from, m)) {
            if dest == back {
                queue.push_back((to, dest, m));
            }
        }
    }
    n
}

#[test]
fn a_follower_back_with_less_than_it_acknowledged_is_noticed_and_probed_down() {
    // Leader of term 4 with 5 entries, committed once follower 1 acknowledged them all; the
    // follower then came back with an empty log (its storage lost them, undetected).
    let mut s = with_log(0, 3, 3, &[1, 1, 3, 3]);
    elect(&mut s);
    ack(&mut s, 1, 5);
    let mut forgetful = Server::new(1, cfg(3));
    at(&mut forgetful, 20, |f, c| f.on_start(c));
    let refusal = |rejected, index, life_us| {
        Msg::from(AppendResp {
            term: 4,
            ok: false,
            index,
            conflict_term: 0,
            rejected,
            life_us,
            done: false,
        })
    };
    // A refusal at the acknowledged index from the life that acknowledged it was sent before
    // the acknowledgement (pipelined AppendEntries overtook each other): stale.
    let fx = on(&mut s, 1, refusal(5, 1, 0));
    assert!(sends_of(&fx).is_empty());
    assert_eq!(s.report().follower_logs_shrank, 0);
    // From a later life: the leader resets its match index and probes from the follower's end
    // (index 1, after prev 0).
    let fx = on(&mut s, 1, refusal(5, 1, 20_000));
    assert_eq!(s.report().follower_logs_shrank, 1);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Note(n) if n.contains("follower 1 refused index 5 after acknowledging 5"))));
    assert_eq!(
        sends_of(&fx),
        vec![(
            1,
            Msg::from(AppendEntries {
                term: 4,
                prev_index: 0,
                prev_term: 0,
                entries: vec![entry(1, 0), entry(1, 1)],
                commit: 5
            })
        )]
    );
    // The whole repair, from a heartbeat at the acknowledged index on, ends with the
    // follower's log whole.
    let mut s = with_log(0, 3, 3, &[1, 1, 3, 3]);
    elect(&mut s);
    ack(&mut s, 1, 5);
    let heartbeat = Msg::from(AppendEntries {
        term: 4,
        prev_index: 5,
        prev_term: 4,
        entries: vec![],
        commit: 5,
    });
    let n = exchange(&mut s, &mut forgetful, heartbeat);
    assert!(n <= 8, "{n} messages");
    assert_eq!(forgetful.log.last_index(), 5);
    assert_eq!(s.report().follower_logs_shrank, 1);
    // A stale refusal below the match index (pipelined, answered before the follower caught
    // up) is still ignored.
    let fx = on(&mut s, 1, refusal(3, 2, 20_000));
    assert!(sends_of(&fx).is_empty());
    assert_eq!(s.report().follower_logs_shrank, 1);
}

#[test]
fn a_record_that_does_not_replay_refuses_the_restart() {
    let hard = |term| enc(&Record::Hard { term, vote: None });
    let entries = |from, n: u32| {
        enc(&Record::Entries {
            from,
            entries: (0..n).map(|k| entry(1, k)).collect(),
        })
    };
    let refused = |stored: &[Vec<u8>]| Server::recover(1, cfg(3), stored).unwrap_err();
    let e = refused(&[hard(2), vec![0xff, 0xff, 0xff]]);
    assert_eq!(e.index, 1);
    assert!(e.why.contains("does not decode"), "{e:?}");
    let e = refused(&[hard(1), entries(1, 2), entries(4, 1)]);
    assert_eq!(e.index, 2);
    assert!(e
        .why
        .contains("entries from index 4 do not follow a log of 1..=2"));
    let e = refused(&[hard(1), entries(0, 1)]);
    assert_eq!(e.index, 1);
    let e = refused(&[hard(3), hard(2)]);
    assert_eq!(e.index, 1);
    assert!(e.why.contains("term 2 is below the term 3"));
    // Overwriting a suffix, and an empty store, are fine.
    let s = Server::recover(1, cfg(3), &[hard(1), entries(1, 3), entries(2, 1)]).unwrap();
    assert_eq!(s.log.last_index(), 2);
    assert_eq!(Server::recover(1, cfg(3), &[]).unwrap().log.last_index(), 0);
}

#[test]
fn only_an_entry_of_the_current_term_is_committed_by_counting_figure_8() {
    // Figure 8 (c): the leader of term 4 holds an entry of term 2 at index 2 that a majority
    // stores. Counting replicas must not commit it: only its own no-op at 3 can, and that
    // commits 2 with it.
    let mut s = with_log(0, 5, 3, &[1, 2]);
    elect(&mut s);
    assert_eq!((s.term, s.log.last_index()), (4, 3));
    ack(&mut s, 1, 2);
    ack(&mut s, 2, 2);
    assert_eq!(
        s.commit, 0,
        "an entry of term 2 was committed by counting in term 4"
    );
    ack(&mut s, 1, 3);
    assert_eq!(s.commit, 0);
    ack(&mut s, 2, 3);
    assert_eq!(s.commit, 3);
}

#[test]
fn a_restart_replays_term_vote_log_truncations_and_snapshot() {
    let snap = Snapshot {
        last_index: 2,
        last_term: 1,
        kv: {
            let mut kv = kv::Kv::default();
            kv.apply(
                CommandId { client: 9, seq: 0 },
                kv::Op::Put { key: 1, value: 5 },
                0,
            );
            kv
        },
    };
    let s = Server::recover(
        1,
        cfg(3),
        &[
            enc(&Record::Hard {
                term: 2,
                vote: Some(0),
            }),
            enc(&Record::Snap {
                term: 2,
                vote: Some(0),
                snapshot: snap.clone(),
                entries: vec![entry(2, 3), entry(2, 4)],
            }),
            enc(&Record::Entries {
                from: 4,
                entries: vec![entry(3, 5)],
            }),
            enc(&Record::Hard {
                term: 3,
                vote: None,
            }),
        ],
    )
    .unwrap();
    assert_eq!((s.term, s.vote), (3, None));
    assert_eq!(
        (s.log.offset, s.log.last_index(), s.log.last_term()),
        (2, 4, 3)
    );
    assert_eq!((s.commit, s.applied), (2, 2));
    assert_eq!(s.sm, snap.kv);
}

#[test]
fn a_follower_behind_the_snapshot_gets_it_and_starts_from_it() {
    let mut s = Server::new(2, cfg(3));
    let snap = Snapshot {
        last_index: 10,
        last_term: 1,
        kv: kv::Kv::default(),
    };
    let fx = on(
        &mut s,
        0,
        Msg::from(InstallSnapshot {
            term: 1,
            snapshot: snap.clone(),
        }),
    );
    assert_eq!((s.commit, s.applied, s.log.offset), (10, 10, 10));
    assert!(matches!(
        persisted(&fx)[..],
        [Record::Hard { term: 1, .. }, Record::Snap { term: 1, .. }]
    ));
    assert_eq!(
        sends_of(&fx),
        vec![(
            0,
            Msg::from(AppendResp {
                term: 1,
                ok: true,
                index: 10,
                conflict_term: 0,
                rejected: 0,
                life_us: 0,
                done: false
            })
        )]
    );
}

#[test]
fn a_follower_redirects_and_the_leader_appends_a_retried_command_once() {
    let mut f = Server::new(1, cfg(3));
    on(
        &mut f,
        0,
        Msg::from(AppendEntries {
            term: 1,
            prev_index: 0,
            prev_term: 0,
            entries: vec![],
            commit: 0,
        }),
    );
    let req = Msg::Request(Request {
        low: 0,
        cmds: vec![(0, kv::Op::Put { key: 1, value: 3 })],
    });
    assert_eq!(
        sends_of(&on(&mut f, 3, req.clone())),
        vec![(3, Msg::Redirect(Redirect { leader: Some(0) }))]
    );
    let mut l = Server::new(0, cfg(3));
    elect(&mut l);
    ack(&mut l, 1, 1);
    assert_eq!(l.commit, 1);
    let fx = on(&mut l, 3, req.clone());
    assert_eq!(persisted(&fx).len(), 1);
    assert_eq!(l.log.last_index(), 2);
    // The retry, before it is committed: nothing new.
    assert!(persisted(&on(&mut l, 3, req.clone())).is_empty());
    // Committed and applied: answered; the retry after that is answered from the session.
    let fx = ack(&mut l, 1, 2);
    assert_eq!(sends_of(&fx), vec![(3, Msg::Reply(Reply(vec![(0, None)])))]);
    assert_eq!(
        sends_of(&on(&mut l, 3, req)),
        vec![(3, Msg::Reply(Reply(vec![(0, None)])))]
    );
    assert_eq!(l.log.last_index(), 2);
}

#[test]
fn a_leader_that_hears_no_majority_steps_down() {
    let mut l = Server::new(0, cfg(3));
    elect(&mut l);
    // Votes are not answers to AppendEntries: nobody was heard since the election.
    timer(&mut l, PeerTimer::CheckQuorum);
    assert_eq!(l.role, Role::Follower);
    let mut l = Server::new(0, cfg(3));
    elect(&mut l);
    ack(&mut l, 2, 0);
    let fx = timer(&mut l, PeerTimer::CheckQuorum);
    assert_eq!(l.role, Role::Leader);
    assert!(fx.contains(&Effect::SetTimer {
        timer: PeerTimer::CheckQuorum.into(),
        after: Duration::from_millis(50)
    }));
}

// ---- the checks, fed broken histories ----

fn report(led: Vec<Led>, applied: Vec<Applied>, log: Vec<(u64, Option<CommandId>)>) -> Output {
    Output::Server(Box::new(ServerReport {
        term: 1,
        led,
        commits: vec![],
        applied: vec![(1, applied)],
        log_offset: 0,
        log,
        leader_overwrites: vec![],
        commit: 0,
        recovered: None,
        started_us: 0,
        catch_up_target: None,
        caught_up_us: None,
        snapshots_taken: 0,
        snapshots_installed: 0,
        follower_logs_shrank: 0,
        leader_at_end: false,
        gave_up: false,
        kv: None,
    }))
}

fn led(term: u64, last_index: u64, runs: Vec<(u64, u64)>) -> Led {
    Led {
        term,
        at_us: 0,
        last_index,
        first_index: 1,
        runs,
    }
}

fn id(seq: u32) -> Option<CommandId> {
    Some(CommandId { client: 3, seq })
}

fn applied(term: u64, seq: u32) -> Applied {
    Applied {
        term,
        id: id(seq),
        dup: false,
    }
}

fn client(done: &[u32], reads: Vec<(u32, Option<u64>)>) -> Output {
    Output::Client(RaftClientReport {
        work: ClientReport {
            submitted: 64,
            done: done.iter().map(|&s| (s, 10, 4)).collect(),
            first_submit_us: Some(0),
            last_reply_us: 10,
            ..ClientReport::default()
        },
        reads,
    })
}

fn args() -> Args {
    Args {
        service: ServiceArgs {
            clients: 1,
            requests: 2,
            inflight: 4,
            retry: 40,
            give_up: 10_000,
            log: service::LogArgs {
                batch: 2,
                election_timeout: 50,
                heartbeat: 10,
            },
        },
        keys: 4,
        read_ratio: 0.5,
        snapshot_every: 0,
        history: None,
    }
}

/// Servers 0-2 (missing ones with empty reports), then the client, rank 3.
fn cluster(mut outputs: Vec<Output>) -> Vec<Output> {
    let c = outputs.pop().expect("a client last");
    while outputs.len() < 3 {
        outputs.push(report(vec![], vec![], vec![]));
    }
    outputs.push(c);
    outputs
}

fn failed(outputs: Vec<Output>) -> Vec<String> {
    let run = RunResult::of_outputs("raft", FaultPlan::default(), cluster(outputs));
    check::checks(&args(), &run)
        .into_iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect()
}

/// Two seqs of client 3 whose ops are a put and then a get of the same key, and the get's
/// value after the put.
fn put_then_get() -> (u32, u32, u64) {
    let ops: Vec<kv::Op> = (0..64)
        .map(|s| kv::op_of(CommandId { client: 3, seq: s }, 4, 500))
        .collect();
    for (p, op) in ops.iter().enumerate() {
        if let kv::Op::Put { key, value } = op {
            for (g, op2) in ops.iter().enumerate().skip(p + 1) {
                if *op2 == (kv::Op::Get { key: *key }) {
                    return (p as u32, g as u32, *value);
                }
            }
        }
    }
    unreachable!("64 random ops over 4 keys hold a put followed by a get of its key")
}

#[test]
fn a_correct_history_passes_every_check() {
    let (p, g, v) = put_then_get();
    let log = vec![(1, None), (1, id(p)), (1, id(g))];
    let ap = vec![
        Applied {
            term: 1,
            id: None,
            dup: false,
        },
        applied(1, p),
        applied(1, g),
    ];
    let l = led(1, 0, vec![]);
    let outputs = vec![
        report(vec![l], ap.clone(), log.clone()),
        report(vec![], ap, log),
        client(&[p, g], vec![(g, Some(v))]),
    ];
    let mut a = args();
    a.service.requests = 0; // termination aside
    let run = RunResult::of_outputs("raft", FaultPlan::default(), cluster(outputs));
    let bad: Vec<_> = check::checks(&a, &run)
        .into_iter()
        .filter(|c| !c.passed)
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

/// A server whose map is not what its applied log gives (a bug in applying, or in a
/// snapshot), and two servers at the same index beyond the replayable log, holding different
/// maps: state-machines fails, naming them; the right maps pass.
#[test]
fn state_machines_are_compared_with_the_log_and_with_each_other() {
    let (p, g, v) = put_then_get();
    let ap = vec![applied(1, p), applied(1, g)];
    let log = vec![(1, id(p)), (1, id(g))];
    let kv::Op::Put { key, value } = kv::op_of(CommandId { client: 3, seq: p }, 4, 500) else {
        unreachable!()
    };
    let right = kv::digest(&[(key, value)].into());
    let with = |state: Option<(u64, u64)>, ap: Vec<Applied>| {
        let mut o = report(vec![], ap, log.clone());
        if let Output::Server(s) = &mut o {
            s.kv = state;
        }
        o
    };
    let verdict = |outputs| {
        let mut a = args();
        a.service.requests = 0;
        let run = RunResult::of_outputs("raft", FaultPlan::default(), cluster(outputs));
        let c = check::checks(&a, &run);
        c.into_iter().find(|c| c.name == "state-machines").unwrap()
    };
    let c = verdict(vec![
        with(Some((2, right)), ap.clone()),
        with(Some((1, right)), ap.clone()),
        with(Some((0, kv::digest(&Default::default()))), vec![]),
        client(&[p, g], vec![(g, Some(v))]),
    ]);
    assert!(c.passed && c.detail.starts_with("3 server lives"), "{c:?}");
    let c = verdict(vec![
        with(Some((2, right)), ap.clone()),
        with(Some((2, right ^ 1)), ap.clone()),
        client(&[p, g], vec![(g, Some(v))]),
    ]);
    assert!(
        !c.passed
            && c.detail
                .contains("server 1 applied up to index 2 and holds a map that differs"),
        "{c:?}"
    );
    // Index 7 lies beyond what any server applied entry by entry (a snapshot's).
    let c = verdict(vec![
        with(Some((7, 5)), ap.clone()),
        with(Some((7, 6)), ap),
        client(&[p, g], vec![(g, Some(v))]),
    ]);
    assert!(
        !c.passed
            && c.detail.contains(
                "server 0 and server 1 both applied up to index 7 and hold different maps"
            ),
        "{c:?}"
    );
}

#[test]
fn the_checks_catch_broken_histories() {
    let (p, g, v) = put_then_get();
    let good = vec![(1, id(p)), (1, id(g))];
    let ap = vec![applied(1, p), applied(1, g)];
    let has = |f: &[String], name: &str| f.iter().any(|x| x.starts_with(name));
    // Two leaders in term 1.
    let f = failed(vec![
        report(vec![led(1, 0, vec![])], ap.clone(), good.clone()),
        report(vec![led(1, 0, vec![])], ap.clone(), good.clone()),
        client(&[p, g], vec![(g, Some(v))]),
    ]);
    assert!(has(&f, "election-safety"), "{f:?}");
    // Same term at index 2, different entries before it.
    let f = failed(vec![
        report(vec![], ap.clone(), good.clone()),
        report(vec![], ap.clone(), vec![(1, id(3)), (1, id(g))]),
        client(&[p, g], vec![(g, Some(v))]),
    ]);
    assert!(has(&f, "log-matching"), "{f:?}");
    // Different commands applied at index 1; the get returns a stale value.
    let f = failed(vec![
        report(vec![], ap.clone(), good.clone()),
        report(vec![], vec![applied(1, 3), applied(1, g)], good.clone()),
        client(&[p, g], vec![(g, None)]),
    ]);
    assert!(has(&f, "state-machine-safety"), "{f:?}");
    assert!(has(&f, "linearizable-replies"), "{f:?}");
    // A command executed twice, one never submitted (seq 70 >= 64 submitted).
    let f = failed(vec![
        report(
            vec![],
            vec![applied(1, p), applied(1, p), applied(1, 70)],
            good.clone(),
        ),
        client(&[p], vec![]),
    ]);
    assert!(has(&f, "at-most-once") && has(&f, "validity"), "{f:?}");
    // A leader of term 2 elected without index 2, committed in term 1.
    let mut first = report(vec![led(1, 0, vec![])], ap.clone(), good.clone());
    if let Output::Server(s) = &mut first {
        s.commits = vec![(1, 2)];
    }
    let f = failed(vec![
        first,
        report(vec![led(2, 1, vec![(1, 1)])], ap.clone(), good.clone()),
        client(&[p, g], vec![(g, Some(v))]),
    ]);
    assert!(has(&f, "leader-completeness"), "{f:?}");
    // A leader that removed entries from its own log.
    let mut overwriting = report(vec![led(1, 0, vec![])], ap.clone(), good.clone());
    if let Output::Server(s) = &mut overwriting {
        s.leader_overwrites = vec![(1, 2)];
    }
    let f = failed(vec![overwriting, client(&[p, g], vec![(g, Some(v))])]);
    assert!(has(&f, "leader-append-only"), "{f:?}");
    // Answered but never executed; and a client short of its commands (termination).
    let f = failed(vec![
        report(vec![], vec![applied(1, p)], good),
        client(&[p, g], vec![]),
    ]);
    assert!(has(&f, "linearizable-replies"), "{f:?}");
    let f = failed(vec![report(vec![], vec![], vec![]), client(&[], vec![])]);
    assert!(has(&f, "termination"), "{f:?}");
}
