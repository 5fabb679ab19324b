//! Unit tests: the exact effects of the handlers (election, sync, phase 2, decide, redirect,
//! NACK, resend), and the checks fed broken histories.

use std::sync::Arc;
use std::time::Duration;

use super::messages::*;
use super::server::Role;
use super::*;
use crate::shared::election::Ballot;
use crate::shared::process::{effects_at, sends_of};
use crate::shared::service::{deliver, LogArgs, Redirect, Reply, Request, ServerRole};
use crate::shared::{Ctx, Effect};

/// np 4: servers 0-2 (majority 2), client 3; batch 2.
fn cfg() -> Arc<Config> {
    Arc::new(Config::for_tests(3))
}

type Fx = Vec<Effect<Msg, Timer>>;

fn sends(fx: &Fx) -> Vec<(Rank, Msg)> {
    sends_of(fx)
}

fn b(round: u64, rank: Rank) -> Ballot {
    Ballot { round, rank }
}

fn e(seq: u32) -> Entry {
    Entry {
        id: CommandId { client: 3, seq },
        payload: seq as u64 * 10,
    }
}

/// Run one handler of a server (a role, not a whole `Process`) and return its effects.
fn run(s: &mut Server, f: impl FnOnce(&mut Server, &mut Ctx<Msg, Timer>)) -> Fx {
    let me = s.me;
    effects_at(s, me, 4, Duration::ZERO, f)
}

fn on(s: &mut Server, from: Rank, m: Msg) -> Fx {
    run(s, |s, c| deliver(s, from, m, c))
}

fn timer(s: &mut Server, t: PeerTimer) -> Fx {
    run(s, |s, c| s.on_timer(t, c))
}

/// The leader's answer: these seqs are decided.
fn reply(seqs: Vec<u32>) -> Msg {
    Msg::Reply(Reply(seqs.into_iter().map(|s| (s, ())).collect()))
}

const NONE: Ballot = Ballot { round: 0, rank: 0 };

/// Server 0 elected with ballot (1, 0) by server 1's promise; server 2 has not answered.
fn leader() -> Server {
    let mut s = Server::new(0, cfg());
    timer(&mut s, PeerTimer::Election);
    on(
        &mut s,
        1,
        Msg::from(Promise {
            b: b(1, 0),
            acc_rnd: NONE,
            log_len: 0,
            decided: 0,
            suffix: vec![],
        }),
    );
    assert_eq!(s.role, Role::Leader);
    s
}

#[test]
fn a_silent_leader_makes_a_follower_stand_with_a_higher_ballot() {
    let mut s = Server::new(1, cfg());
    let fx = timer(&mut s, PeerTimer::Election);
    let p = Msg::from(Prepare {
        b: b(1, 1),
        decided: 0,
    });
    assert_eq!(sends(&fx), vec![(0, p.clone()), (2, p)]);
    assert_eq!(s.role, Role::Candidate);
}

#[test]
fn a_promise_carries_the_accepted_round_and_the_suffix_after_the_candidates_decided_index() {
    let mut s = Server::new(1, cfg());
    // Follow leader (1, 0) with a log of three entries, one decided.
    on(
        &mut s,
        0,
        Msg::from(Prepare {
            b: b(1, 0),
            decided: 0,
        }),
    );
    on(
        &mut s,
        0,
        Msg::from(AcceptSync {
            b: b(1, 0),
            from: 0,
            entries: vec![e(0), e(1), e(2)],
            decided: 1,
        }),
    );
    let fx = on(
        &mut s,
        2,
        Msg::from(Prepare {
            b: b(2, 2),
            decided: 1,
        }),
    );
    assert_eq!(
        sends(&fx),
        vec![(
            2,
            Msg::from(Promise {
                b: b(2, 2),
                acc_rnd: b(1, 0),
                log_len: 3,
                decided: 1,
                suffix: vec![e(1), e(2)]
            })
        )]
    );
    // The old leader's ballot is refused now.
    let fx = on(
        &mut s,
        0,
        Msg::from(Accept {
            b: b(1, 0),
            start: 3,
            entries: vec![e(3)],
            decided: 1,
        }),
    );
    assert_eq!(sends(&fx), vec![(0, Msg::from(Nack { promised: b(2, 2) }))]);
}

#[test]
fn a_new_leader_adopts_the_log_of_the_highest_accepted_round_and_syncs_the_followers() {
    let mut s = Server::new(2, cfg());
    // Server 2 accepted e0 in (1, 0) only; decided nothing.
    on(
        &mut s,
        0,
        Msg::from(Prepare {
            b: b(1, 0),
            decided: 0,
        }),
    );
    on(
        &mut s,
        0,
        Msg::from(AcceptSync {
            b: b(1, 0),
            from: 0,
            entries: vec![e(0)],
            decided: 0,
        }),
    );
    timer(&mut s, PeerTimer::Election);
    assert_eq!(s.promised, b(2, 2));
    // Server 1 accepted e0, e1, e2 in (1, 0): its log wins over the candidate's own.
    let fx = on(
        &mut s,
        1,
        Msg::from(Promise {
            b: b(2, 2),
            acc_rnd: b(1, 0),
            log_len: 3,
            decided: 0,
            suffix: vec![e(0), e(1), e(2)],
        }),
    );
    assert_eq!(s.role, Role::Leader);
    assert_eq!(s.log, vec![e(0), e(1), e(2)]);
    assert_eq!(
        sends(&fx),
        vec![(
            1,
            Msg::from(AcceptSync {
                b: b(2, 2),
                from: 0,
                entries: vec![e(0), e(1), e(2)],
                decided: 0
            })
        )]
    );
    assert!(fx.contains(&Effect::Note("leader (2, 2)".into())));
}

#[test]
fn the_leader_appends_requests_once_and_sends_them_in_batches() {
    let mut s = leader();
    on(&mut s, 1, Msg::from(Accepted { b: b(1, 0), len: 0 }));
    let fx = on(
        &mut s,
        3,
        Msg::Request(Request {
            low: 0,
            cmds: vec![(0, 0), (1, 10), (2, 20)],
        }),
    );
    // Server 1 is synchronized: two Accepts (batch 2); server 2 has not promised: nothing.
    assert_eq!(
        sends(&fx),
        vec![
            (
                1,
                Msg::from(Accept {
                    b: b(1, 0),
                    start: 0,
                    entries: vec![e(0), e(1)],
                    decided: 0
                })
            ),
            (
                1,
                Msg::from(Accept {
                    b: b(1, 0),
                    start: 2,
                    entries: vec![e(2)],
                    decided: 0
                })
            ),
        ]
    );
    // A retried command already in the log is not appended again.
    assert_eq!(
        sends(&on(
            &mut s,
            3,
            Msg::Request(Request {
                low: 0,
                cmds: vec![(1, 10)]
            })
        )),
        vec![]
    );
    assert_eq!(s.log.len(), 3);
}

#[test]
fn a_majority_of_acceptances_decides_and_answers_the_client_once() {
    let mut s = leader();
    on(&mut s, 1, Msg::from(Accepted { b: b(1, 0), len: 0 }));
    on(
        &mut s,
        3,
        Msg::Request(Request {
            low: 0,
            cmds: vec![(0, 0), (1, 10), (2, 20)],
        }),
    );
    let fx = on(&mut s, 1, Msg::from(Accepted { b: b(1, 0), len: 2 }));
    assert_eq!(sends(&fx), vec![(3, reply(vec![0, 1]))]);
    assert_eq!(s.decided, 2);
    // An old acknowledgement decides nothing more.
    assert_eq!(
        sends(&on(&mut s, 1, Msg::from(Accepted { b: b(1, 0), len: 1 }))),
        vec![]
    );
    // A retry of a decided command is answered at once.
    assert_eq!(
        sends(&on(
            &mut s,
            3,
            Msg::Request(Request {
                low: 0,
                cmds: vec![(0, 0)]
            })
        )),
        vec![(3, reply(vec![0]))]
    );
}

#[test]
fn a_follower_redirects_clients_to_its_leader() {
    let mut s = Server::new(1, cfg());
    assert_eq!(
        sends(&on(
            &mut s,
            3,
            Msg::Request(Request {
                low: 0,
                cmds: vec![(0, 0)]
            })
        )),
        vec![(3, Msg::Redirect(Redirect { leader: None }))]
    );
    on(
        &mut s,
        0,
        Msg::from(Prepare {
            b: b(1, 0),
            decided: 0,
        }),
    );
    on(
        &mut s,
        0,
        Msg::from(AcceptSync {
            b: b(1, 0),
            from: 0,
            entries: vec![],
            decided: 0,
        }),
    );
    assert_eq!(
        sends(&on(
            &mut s,
            3,
            Msg::Request(Request {
                low: 0,
                cmds: vec![(0, 0)]
            })
        )),
        vec![(3, Msg::Redirect(Redirect { leader: Some(0) }))]
    );
}

#[test]
fn a_nack_with_a_higher_ballot_makes_the_leader_step_down() {
    let mut s = leader();
    let fx = on(&mut s, 2, Msg::from(Nack { promised: b(5, 2) }));
    assert_eq!(s.role, Role::Follower);
    assert!(fx.contains(&Effect::CancelTimer(PeerTimer::Heartbeat.into())));
    // Its next candidacy goes above round 5.
    timer(&mut s, PeerTimer::Election);
    assert_eq!(s.promised, b(6, 0));
}

#[test]
fn a_duplicated_sync_never_truncates_what_was_accepted_since() {
    let mut s = Server::new(1, cfg());
    on(
        &mut s,
        0,
        Msg::from(Prepare {
            b: b(1, 0),
            decided: 0,
        }),
    );
    let sync = Msg::from(AcceptSync {
        b: b(1, 0),
        from: 0,
        entries: vec![e(0)],
        decided: 0,
    });
    on(&mut s, 0, sync.clone());
    on(
        &mut s,
        0,
        Msg::from(Accept {
            b: b(1, 0),
            start: 1,
            entries: vec![e(1), e(2)],
            decided: 0,
        }),
    );
    let fx = on(&mut s, 0, sync);
    assert_eq!(s.log, vec![e(0), e(1), e(2)]);
    assert_eq!(
        sends(&fx),
        vec![(0, Msg::from(Accepted { b: b(1, 0), len: 3 }))]
    );
}

#[test]
fn the_heartbeat_resends_prepare_sync_and_stalled_entries() {
    let mut s = leader();
    on(
        &mut s,
        3,
        Msg::Request(Request {
            low: 0,
            cmds: vec![(0, 0)],
        }),
    );
    // Server 1 promised but its sync was lost; server 2 never promised.
    let fx = timer(&mut s, PeerTimer::Heartbeat);
    assert_eq!(
        sends(&fx),
        vec![
            (
                1,
                Msg::from(AcceptSync {
                    b: b(1, 0),
                    from: 0,
                    entries: vec![e(0)],
                    decided: 0
                })
            ),
            (
                2,
                Msg::from(Prepare {
                    b: b(1, 0),
                    decided: 0
                })
            ),
        ]
    );
    on(&mut s, 1, Msg::from(Accepted { b: b(1, 0), len: 0 }));
    timer(&mut s, PeerTimer::Heartbeat);
    // No progress from server 1 since the last tick: the entry goes again.
    let fx = timer(&mut s, PeerTimer::Heartbeat);
    assert_eq!(
        sends(&fx)[0],
        (
            1,
            Msg::from(Accept {
                b: b(1, 0),
                start: 0,
                entries: vec![e(0)],
                decided: 0
            })
        )
    );
}

// ---- the checks, fed broken histories ----

fn args() -> Args {
    Args {
        service: ServiceArgs {
            clients: 1,
            requests: 3,
            inflight: 4,
            retry: 40,
            give_up: 10_000,
            log: LogArgs {
                batch: 2,
                election_timeout: 50,
                heartbeat: 10,
            },
        },
    }
}

fn id(seq: u32) -> CommandId {
    CommandId { client: 3, seq }
}

fn server(decided: Vec<CommandId>) -> Output {
    Output::Server(ServerReport {
        log_len: decided.len(),
        decided,
        led: vec![],
        leader_at_end: false,
        gave_up: false,
    })
}

fn history(logs: [Vec<CommandId>; 3], answered: Vec<u32>) -> RunResult<Output> {
    let mut outs: Vec<Output> = logs.into_iter().map(server).collect();
    outs.push(Output::Client(ClientReport {
        submitted: 3,
        done: answered.into_iter().map(|s| (s, 100, 4)).collect(),
        first_submit_us: Some(0),
        last_reply_us: 100,
        submit_gaps_us: Vec::new(),
    }));
    RunResult::of_outputs("sequence-paxos", FaultPlan::default(), outs)
}

fn failed(run: &RunResult<Output>) -> Vec<String> {
    check::checks(&args(), run)
        .into_iter()
        .filter(|c| !c.passed)
        .map(|c| c.name)
        .collect()
}

#[test]
fn a_correct_history_passes_and_lagging_followers_are_prefixes() {
    let run = history(
        [vec![id(0), id(1), id(2)], vec![id(0), id(1)], vec![]],
        vec![0, 1, 2],
    );
    assert_eq!(failed(&run), Vec::<String>::new());
}

#[test]
fn diverging_logs_fail_the_prefix_check() {
    let run = history(
        [vec![id(0), id(1), id(2)], vec![id(0), id(2)], vec![]],
        vec![0, 1, 2],
    );
    assert_eq!(failed(&run), vec!["prefix"]);
}

#[test]
fn a_command_decided_twice_or_never_submitted_is_caught() {
    let run = history(
        [vec![id(0), id(1), id(1), id(2)], vec![], vec![]],
        vec![0, 1, 2],
    );
    assert_eq!(failed(&run), vec!["at-most-once"]);
    let run = history(
        [vec![id(0), id(1), id(2), id(7)], vec![], vec![]],
        vec![0, 1, 2],
    );
    assert_eq!(failed(&run), vec!["validity"]);
}

#[test]
fn an_answer_for_an_undecided_command_and_missing_answers_are_caught() {
    let run = history([vec![id(0), id(1)], vec![], vec![]], vec![0, 1, 2]);
    assert_eq!(failed(&run), vec!["answers"]);
    let run = history([vec![id(0), id(1), id(2)], vec![], vec![]], vec![0, 1]);
    assert_eq!(failed(&run), vec!["termination"]);
}
