//! Unit tests: the exact effects of every handler, and the checks fed broken histories.

use std::time::Duration;

use super::*;
use crate::shared::process::{effects_of, sends_of};
use crate::shared::{Effect, Process};

/// np 6: client 0, proposer 1, acceptors 2-4 (quorum 2), learner 5.
const NP: usize = 6;

fn args() -> Args {
    Args {
        proposers: Some(1),
        acceptors: Some(3),
        learners: Some(1),
        colocate: false,
        resend: 20,
        patience: 100,
        backoff: 40,
        give_up: 5_000,
        quorum: None,
        accept_in_phase1: false,
    }
}

fn rank(r: Rank) -> Paxos {
    SinglePaxos::build(&args(), r, NP)
}

fn b(round: u64, rank: Rank) -> Ballot {
    Ballot { round, rank }
}

type Fx = Vec<Effect<Msg, Timer>>;

/// One handler of `p` as its own rank, through the shared harness.
fn run(p: &mut Paxos, f: impl FnOnce(&mut Paxos, &mut C)) -> Fx {
    let me = p.me;
    effects_of(p, me, NP, f)
}

type C<'a> = crate::shared::Ctx<'a, Msg, Timer>;

fn msg(p: &mut Paxos, from: Rank, m: Msg) -> Fx {
    run(p, |p, c| p.on_message(from, m, c))
}

fn to_all(ranks: &[Rank], m: Msg) -> Vec<(Rank, Msg)> {
    ranks.iter().map(|&r| (r, m.clone())).collect()
}

const ACCEPTORS: [Rank; 3] = [2, 3, 4];

/// Proposer 1 with value 1234, Prepare(1, 1) sent.
fn preparing() -> Paxos {
    let mut p = rank(1);
    msg(&mut p, 0, Msg::Propose(1234));
    p
}

#[test]
fn client_proposes_its_value_and_asks_the_learners() {
    let mut c = rank(0);
    let fx = run(&mut c, |p, c| p.on_start(c));
    let v = c.client.as_ref().unwrap().value.unwrap();
    assert!(
        (1000..2000).contains(&v),
        "rank 0 draws from 1000..2000: {v}"
    );
    assert_eq!(sends_of(&fx), vec![(1, Msg::Propose(v)), (5, Msg::Query)]);
    assert!(fx.contains(&Effect::SetTimer {
        timer: Timer::Ask,
        after: Duration::from_millis(40)
    }));
    assert!(fx.contains(&Effect::SetTimer {
        timer: Timer::GiveUp,
        after: Duration::from_millis(5_000)
    }));
}

#[test]
fn phase_1_a_proposer_with_a_value_prepares_ballot_1() {
    let mut p = rank(1);
    let fx = msg(&mut p, 0, Msg::Propose(1234));
    assert_eq!(sends_of(&fx), to_all(&ACCEPTORS, Msg::Prepare(b(1, 1))));
    assert!(fx.contains(&Effect::SetTimer {
        timer: Timer::Retry,
        after: Duration::from_millis(100)
    }));
    // A second client's value does not restart it.
    assert_eq!(msg(&mut p, 0, Msg::Propose(999)), vec![]);
}

#[test]
fn acceptor_promises_once_and_nacks_lower_ballots() {
    let mut a = rank(2);
    let fx = msg(&mut a, 1, Msg::Prepare(b(2, 1)));
    assert_eq!(
        sends_of(&fx),
        vec![(
            1,
            Msg::Promise {
                b: b(2, 1),
                accepted: None
            }
        )]
    );
    let fx = msg(&mut a, 7, Msg::Prepare(b(1, 7)));
    assert_eq!(
        sends_of(&fx),
        vec![(
            7,
            Msg::Nack {
                b: b(1, 7),
                promised: b(2, 1)
            }
        )]
    );
    let fx = msg(&mut a, 7, Msg::Accept { b: b(1, 7), v: 5 });
    assert_eq!(
        sends_of(&fx),
        vec![(
            7,
            Msg::Nack {
                b: b(1, 7),
                promised: b(2, 1)
            }
        )]
    );
    assert_eq!(a.acceptor.as_ref().unwrap().accepted, None);
}

#[test]
fn acceptor_accepts_and_tells_the_learners_and_the_proposer() {
    let mut a = rank(2);
    msg(&mut a, 1, Msg::Prepare(b(2, 1)));
    let fx = msg(&mut a, 1, Msg::Accept { b: b(2, 1), v: 42 });
    let acc = Msg::Accepted { b: b(2, 1), v: 42 };
    assert_eq!(sends_of(&fx), vec![(5, acc.clone()), (1, acc)]);
    // A later Prepare learns what it accepted.
    let fx = msg(&mut a, 1, Msg::Prepare(b(3, 1)));
    assert_eq!(
        sends_of(&fx),
        vec![(
            1,
            Msg::Promise {
                b: b(3, 1),
                accepted: Some((b(2, 1), 42))
            }
        )]
    );
}

#[test]
fn phase_1_adopts_the_value_of_the_highest_accepted_ballot() {
    let mut p = preparing();
    // NACKed by a ballot of round 5: the retry goes to round 6.
    msg(
        &mut p,
        2,
        Msg::Nack {
            b: b(1, 1),
            promised: b(5, 3),
        },
    );
    let fx = run(&mut p, |p, c| p.on_timer(Timer::Retry, c));
    assert_eq!(sends_of(&fx), to_all(&ACCEPTORS, Msg::Prepare(b(6, 1))));
    let fx = msg(
        &mut p,
        2,
        Msg::Promise {
            b: b(6, 1),
            accepted: Some((b(2, 0), 11)),
        },
    );
    assert_eq!(sends_of(&fx), vec![]);
    // A stale promise (the old ballot) does not count.
    assert_eq!(
        msg(
            &mut p,
            3,
            Msg::Promise {
                b: b(1, 1),
                accepted: None
            }
        ),
        vec![]
    );
    let fx = msg(
        &mut p,
        4,
        Msg::Promise {
            b: b(6, 1),
            accepted: Some((b(4, 3), 22)),
        },
    );
    // Not 1234 (its client's) nor 11: the value of the highest accepted ballot.
    assert_eq!(
        sends_of(&fx),
        to_all(&ACCEPTORS, Msg::Accept { b: b(6, 1), v: 22 })
    );
}

#[test]
fn phase_1_without_accepted_values_proposes_the_clients_value() {
    let mut p = preparing();
    msg(
        &mut p,
        2,
        Msg::Promise {
            b: b(1, 1),
            accepted: None,
        },
    );
    // A duplicate promise is not a second vote.
    assert_eq!(
        msg(
            &mut p,
            2,
            Msg::Promise {
                b: b(1, 1),
                accepted: None
            }
        ),
        vec![]
    );
    let fx = msg(
        &mut p,
        3,
        Msg::Promise {
            b: b(1, 1),
            accepted: None,
        },
    );
    assert_eq!(
        sends_of(&fx),
        to_all(
            &ACCEPTORS,
            Msg::Accept {
                b: b(1, 1),
                v: 1234
            }
        )
    );
}

#[test]
fn resend_goes_to_the_acceptors_that_have_not_answered() {
    let mut p = preparing();
    msg(
        &mut p,
        3,
        Msg::Promise {
            b: b(1, 1),
            accepted: None,
        },
    );
    let fx = run(&mut p, |p, c| p.on_timer(Timer::Resend, c));
    assert_eq!(sends_of(&fx), to_all(&[2, 4], Msg::Prepare(b(1, 1))));
    msg(
        &mut p,
        4,
        Msg::Promise {
            b: b(1, 1),
            accepted: None,
        },
    );
    msg(
        &mut p,
        4,
        Msg::Accepted {
            b: b(1, 1),
            v: 1234,
        },
    );
    let fx = run(&mut p, |p, c| p.on_timer(Timer::Resend, c));
    assert_eq!(
        sends_of(&fx),
        to_all(
            &[2, 3],
            Msg::Accept {
                b: b(1, 1),
                v: 1234
            }
        )
    );
}

#[test]
fn nack_gives_the_ballot_up_and_backs_off_at_random() {
    let mut p = preparing();
    let fx = msg(
        &mut p,
        2,
        Msg::Nack {
            b: b(1, 1),
            promised: b(3, 2),
        },
    );
    assert_eq!(fx[0], Effect::CancelTimer(Timer::Resend));
    match fx[1] {
        Effect::SetTimer {
            timer: Timer::Retry,
            after,
        } => {
            assert!(after <= Duration::from_millis(40), "{after:?}")
        }
        ref e => panic!("expected the backoff, got {e:?}"),
    }
    assert_eq!(fx.len(), 2);
    assert_eq!(p.output().nacks, 1);
    // A NACK for an older ballot changes nothing but the next round.
    assert_eq!(
        msg(
            &mut p,
            3,
            Msg::Nack {
                b: b(0, 1),
                promised: b(3, 2)
            }
        ),
        vec![]
    );
}

#[test]
fn phase_2_a_majority_of_acceptances_decides_and_tells_learners_and_clients() {
    let mut p = preparing();
    msg(
        &mut p,
        2,
        Msg::Promise {
            b: b(1, 1),
            accepted: None,
        },
    );
    msg(
        &mut p,
        3,
        Msg::Promise {
            b: b(1, 1),
            accepted: None,
        },
    );
    assert_eq!(
        msg(
            &mut p,
            2,
            Msg::Accepted {
                b: b(1, 1),
                v: 1234
            }
        ),
        vec![]
    );
    let fx = msg(
        &mut p,
        3,
        Msg::Accepted {
            b: b(1, 1),
            v: 1234,
        },
    );
    assert_eq!(
        fx,
        vec![
            Effect::Note("decided 1234".into()),
            Effect::CancelTimer(Timer::Resend),
            Effect::CancelTimer(Timer::Retry),
            Effect::Send {
                to: 0,
                msg: Msg::Decided(1234)
            },
            Effect::Send {
                to: 5,
                msg: Msg::Decided(1234)
            },
            Effect::CancelTimer(Timer::Ask),
        ]
    );
    assert!(p.is_done());
    // Later acceptances and retries change nothing.
    assert_eq!(
        msg(
            &mut p,
            4,
            Msg::Accepted {
                b: b(1, 1),
                v: 1234
            }
        ),
        vec![]
    );
    assert_eq!(run(&mut p, |p, c| p.on_timer(Timer::Retry, c)), vec![]);
}

#[test]
fn learner_needs_a_majority_in_one_ballot() {
    let mut l = rank(5);
    assert_eq!(msg(&mut l, 2, Msg::Accepted { b: b(1, 1), v: 7 }), vec![]);
    // Same value, another ballot: not the same vote.
    assert_eq!(msg(&mut l, 3, Msg::Accepted { b: b(2, 1), v: 7 }), vec![]);
    // The same acceptor twice: one vote.
    assert_eq!(msg(&mut l, 2, Msg::Accepted { b: b(1, 1), v: 7 }), vec![]);
    let fx = msg(&mut l, 4, Msg::Accepted { b: b(2, 1), v: 7 });
    assert_eq!(
        fx,
        vec![
            Effect::Note("decided 7".into()),
            Effect::Send {
                to: 0,
                msg: Msg::Decided(7)
            },
            Effect::CancelTimer(Timer::Ask),
        ]
    );
    // Then it answers queries with the decision.
    assert_eq!(
        sends_of(&msg(&mut l, 0, Msg::Query)),
        vec![(0, Msg::Decided(7))]
    );
}

#[test]
fn learner_ignores_accepted_from_non_acceptors() {
    let mut l = rank(5);
    msg(&mut l, 0, Msg::Accepted { b: b(1, 1), v: 7 });
    msg(&mut l, 1, Msg::Accepted { b: b(1, 1), v: 7 });
    assert!(l.output().learned.is_empty());
}

#[test]
fn a_colocated_rank_decides_once_in_every_role() {
    let a = Args {
        colocate: true,
        proposers: None,
        acceptors: None,
        learners: None,
        ..args()
    };
    let mut p = SinglePaxos::build(&a, 0, 3);
    let fx = effects_of(&mut p, 0, 3, |p, c| p.on_message(1, Msg::Decided(9), c));
    assert_eq!(
        fx.iter().filter(|e| matches!(e, Effect::Note(_))).count(),
        1
    );
    let o = p.output();
    assert_eq!((o.heard.len(), o.learned.len(), o.decided.len()), (1, 1, 1));
    assert!(p.is_done());
    effects_of(&mut p, 0, 3, |p, c| p.on_message(2, Msg::Decided(9), c));
    let o = p.output();
    assert_eq!((o.heard.len(), o.learned.len(), o.decided.len()), (1, 1, 1));
}

#[test]
fn give_up_stops_every_timer_and_ends_the_rank() {
    let mut c = rank(0);
    run(&mut c, |p, c| p.on_start(c));
    let fx = run(&mut c, |p, c| p.on_timer(Timer::GiveUp, c));
    assert_eq!(fx[0], Effect::Note("gave up".into()));
    assert!(c.is_done() && c.output().gave_up);
    assert_eq!(run(&mut c, |p, c| p.on_timer(Timer::Ask, c)), vec![]);
}

#[test]
fn the_originals_phase_1_accept_decides_a_value_nobody_proposed() {
    let mut a = rank(2);
    a.acceptor.as_mut().unwrap().accept_in_phase1 = true;
    let fx = msg(&mut a, 1, Msg::Prepare(b(1, 1)));
    assert!(sends_of(&fx).contains(&(
        5,
        Msg::Accepted {
            b: b(1, 1),
            v: 1_000_001
        }
    )));
}

// ---- the checks, fed broken histories ----

fn out() -> Output {
    Output {
        proposed: None,
        heard: vec![],
        learned: vec![],
        decided: vec![],
        ballots: 0,
        nacks: 0,
        accepted: None,
        gave_up: false,
    }
}

/// A run of the np-6 layout with these outputs (rank 0 proposed 1500).
fn history(edit: impl FnOnce(&mut Vec<Output>), faults: FaultPlan) -> RunResult<Output> {
    let mut outs = vec![out(); NP];
    outs[0].proposed = Some(1500);
    edit(&mut outs);
    RunResult::of_outputs("single-paxos", faults, outs)
}

fn check(run: &RunResult<Output>, name: &str) -> Check {
    let checks = check::checks(&args(), run);
    checks.into_iter().find(|c| c.name == name).unwrap()
}

fn all_decide(o: &mut [Output], v: Value) {
    o[0].heard = vec![(v, 1.0)];
    o[1].decided = vec![(v, 1.0)];
    o[5].learned = vec![(v, 1.0)];
}

#[test]
fn a_correct_history_passes_every_check() {
    let run = history(|o| all_decide(o, 1500), FaultPlan::default());
    for c in check::checks(&args(), &run) {
        assert!(c.passed, "{c:?}");
    }
}

#[test]
fn validity_fails_on_the_originals_phase_1_value() {
    let run = history(|o| all_decide(o, 1_000_001), FaultPlan::default());
    let c = check(&run, "validity");
    assert!(
        !c.passed && c.detail.contains("1000001, which no client proposed"),
        "{c:?}"
    );
}

#[test]
fn agreement_fails_when_a_minority_quorum_split_the_decision() {
    // With quorum 1, proposer 1 saw 1500 accepted by acceptor 2 while the learner saw 1600
    // accepted by acceptor 3; a crashed rank's decision counts too (uniform agreement).
    let mut run = history(
        |o| {
            o[0].heard = vec![(1500, 1.0)];
            o[1].decided = vec![(1500, 1.0)];
            o[5].learned = vec![(1600, 1.0)];
        },
        FaultPlan::default(),
    );
    run.ranks[5].crashed = true;
    let c = check(&run, "uniform-agreement");
    assert!(
        !c.passed && c.detail.contains("rank 5 decided 1600"),
        "{c:?}"
    );
}

#[test]
fn integrity_fails_when_a_rank_decides_twice() {
    let run = history(
        |o| {
            all_decide(o, 1500);
            o[5].learned.push((1500, 2.0));
        },
        FaultPlan::default(),
    );
    let c = check(&run, "integrity");
    assert!(
        !c.passed && c.detail.contains("rank 5 learned 2 times"),
        "{c:?}"
    );
}

#[test]
fn termination_is_required_only_where_the_faults_permit_it() {
    let silent = |o: &mut Vec<Output>| o[0].gave_up = true;
    let c = check(&history(silent, FaultPlan::default()), "termination");
    assert!(
        !c.passed && c.detail.contains("correct rank 0 never decided"),
        "{c:?}"
    );
    let faults = FaultPlan {
        crashes: vec![crate::shared::faults::Crash { rank: 1, at_ms: 0 }],
        ..FaultPlan::default()
    };
    let mut run = history(silent, faults);
    run.ranks[1].crashed = true;
    let c = check(&run, "termination");
    assert!(
        c.passed && c.detail.contains("every proposer crashes"),
        "{c:?}"
    );
}
