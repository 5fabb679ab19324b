//! Unit tests of the hashmap state machines: the exact messages of each ABD phase, duplicate
//! and stale answers, read repair, anti-entropy; and the checker fed broken histories.

use super::*;
use crate::shared::observe::report::{ClockSync, Ending, RankResult};
use crate::shared::process::{effects_at, effects_of, sends_of};
use crate::shared::service;
use crate::shared::Effect;

/// 3 servers (all replicas of every key, majorities), 1 client at rank 3.
fn cfg(args: &[&str]) -> (Args, Arc<Config>) {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        a: Args,
    }
    let mut argv = vec!["x"];
    argv.extend_from_slice(args);
    let a = Cli::parse_from(argv).a;
    let c = Arc::new(a.config(4));
    (a, c)
}

fn client_report(n: &Proc) -> ClientReport {
    match n.output() {
        Output::Client(c) => c,
        _ => panic!("a client"),
    }
}

fn replica_report(n: &Proc) -> ReplicaReport {
    match n.output() {
        Output::Replica(r) => r,
        _ => panic!("a replica"),
    }
}

fn v(clock: u64, writer: u32) -> Version {
    Version { clock, writer }
}

#[test]
fn a_replica_keeps_the_highest_version_and_acknowledges_every_store() {
    let (_, c) = cfg(&[]);
    let mut node = Proc::Replica(Box::new(Replica::new(0, c)));
    let store = |ver, val: &[u8]| Msg::Store {
        op: 1,
        key: "key-1".into(),
        version: ver,
        value: val.to_vec(),
    };
    for (ver, val) in [(v(2, 3), b"new"), (v(1, 3), b"old")] {
        let e = effects_of(&mut node, 0, 4, |n, ctx| {
            n.on_message(3, store(ver, val), ctx)
        });
        assert_eq!(sends_of(&e), vec![(3, Msg::StoreAck { op: 1 })]);
    }
    let e = effects_of(&mut node, 0, 4, |n, ctx| {
        n.on_message(
            3,
            Msg::Query {
                op: 2,
                key: "key-1".into(),
            },
            ctx,
        )
    });
    assert_eq!(
        sends_of(&e),
        vec![(
            3,
            Msg::QueryResp {
                op: 2,
                stored: Some((v(2, 3), b"new".to_vec()))
            }
        )],
        "the older store did not overwrite the newer"
    );
}

/// The client's first operation: its seq-0 query to all three replicas.
fn first_op(c: &Arc<Config>) -> (Proc, Vec<(Rank, Msg)>) {
    let mut cl = Proc::Client(Box::new(Client::new(3, c.clone())));
    let e = effects_of(&mut cl, 3, 4, |cl, ctx| cl.on_start(ctx));
    (cl, sends_of(&e))
}

#[test]
fn a_put_queries_a_read_quorum_then_stores_a_higher_version_at_a_write_quorum() {
    let (_, c) = cfg(&["--inflight", "1", "--read-ratio", "0", "--ops", "1"]);
    let (mut cl, sent) = first_op(&c);
    let Msg::Query { op, key } = &sent[0].1 else {
        panic!("{sent:?}")
    };
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>().len(), 3);
    let (op, key) = (*op, key.clone());
    let resp = |stored| Msg::QueryResp { op, stored };
    let e = effects_of(&mut cl, 3, 4, |cl, ctx| {
        cl.on_message(0, resp(Some((v(7, 4), b"x".to_vec()))), ctx)
    });
    assert!(sends_of(&e).is_empty(), "one answer is not a quorum");
    // A duplicate of the same answer does not count twice.
    let e = effects_of(&mut cl, 3, 4, |cl, ctx| {
        cl.on_message(0, resp(Some((v(7, 4), b"x".to_vec()))), ctx)
    });
    assert!(sends_of(&e).is_empty());
    let e = effects_of(&mut cl, 3, 4, |cl, ctx| cl.on_message(2, resp(None), ctx));
    let stores = sends_of(&e);
    assert_eq!(stores.len(), 3, "{stores:?}");
    let Msg::Store {
        version, key: k, ..
    } = &stores[0].1
    else {
        panic!("{stores:?}")
    };
    assert_eq!(
        (*version, k),
        (v(8, 3), &key),
        "above the highest seen, by this writer"
    );
    // A late query answer in the store phase is ignored; two acks complete the put.
    effects_of(&mut cl, 3, 4, |cl, ctx| cl.on_message(1, resp(None), ctx));
    effects_of(&mut cl, 3, 4, |cl, ctx| {
        cl.on_message(1, Msg::StoreAck { op }, ctx)
    });
    assert!(!cl.is_done());
    effects_of(&mut cl, 3, 4, |cl, ctx| {
        cl.on_message(0, Msg::StoreAck { op }, ctx)
    });
    assert!(cl.is_done());
    let r = client_report(&cl);
    assert_eq!((r.ops[0].trips, r.ops[0].return_us.is_some()), (2, true));
}

#[test]
fn a_get_writes_back_unless_a_write_quorum_already_has_the_value() {
    let (_, c) = cfg(&["--inflight", "1", "--read-ratio", "1", "--ops", "2"]);
    let (mut cl, sent) = first_op(&c);
    let Msg::Query { op, .. } = sent[0].1 else {
        panic!()
    };
    let got = |ver: u64| Msg::QueryResp {
        op,
        stored: Some((v(ver, 4), format!("v{ver}").into_bytes())),
    };
    // Two answers that agree: done in one round trip, and the next get goes out.
    effects_of(&mut cl, 3, 4, |cl, ctx| cl.on_message(0, got(5), ctx));
    let e = effects_of(&mut cl, 3, 4, |cl, ctx| cl.on_message(1, got(5), ctx));
    let next = sends_of(&e);
    assert!(matches!(next[0].1, Msg::Query { op: 1, .. }), "{next:?}");
    // Two that differ: the newer is written back before the get returns it.
    effects_of(&mut cl, 3, 4, |cl, ctx| {
        cl.on_message(
            0,
            Msg::QueryResp {
                op: 1,
                stored: Some((v(5, 4), b"v5".to_vec())),
            },
            ctx,
        )
    });
    let e = effects_of(&mut cl, 3, 4, |cl, ctx| {
        cl.on_message(
            2,
            Msg::QueryResp {
                op: 1,
                stored: Some((v(6, 4), b"v6".to_vec())),
            },
            ctx,
        )
    });
    let wb = sends_of(&e);
    assert_eq!(wb.len(), 3);
    assert!(
        matches!(&wb[0].1, Msg::Store { op: 1, version, value, .. } if *version == v(6, 4) && value == b"v6"),
        "{wb:?}"
    );
    for r in [0, 1] {
        effects_of(&mut cl, 3, 4, |cl, ctx| {
            cl.on_message(r, Msg::StoreAck { op: 1 }, ctx)
        });
    }
    let rep = client_report(&cl);
    assert_eq!(rep.ops[0].trips, 1);
    assert_eq!(rep.ops[1].trips, 2);
    assert_eq!(rep.ops[1].got, Some(Some(b"v6".to_vec())));
}

#[test]
fn an_operation_past_its_timeout_is_abandoned_with_the_reason() {
    let (_, c) = cfg(&["--inflight", "1", "--ops", "1", "--op-timeout", "1"]);
    let (mut cl, _) = first_op(&c);
    effects_at(&mut cl, 3, 4, Duration::from_millis(5), |cl, ctx| {
        cl.on_timer(Timer::Retry, ctx)
    });
    let r = client_report(&cl);
    let why = r.ops[0].failed.as_deref().unwrap();
    assert!(
        why.contains("query phase had 0 of the 2 answers") && why.contains("silent: [1, 0, 2]"),
        "{why}"
    );
    assert!(cl.is_done());
}

#[test]
fn anti_entropy_repairs_both_sides_of_a_differing_segment() {
    let (_, c) = cfg(&["--anti-entropy", "10"]);
    let mut a = Proc::Replica(Box::new(Replica::new(0, c.clone())));
    let mut b = Proc::Replica(Box::new(Replica::new(1, c.clone())));
    let put = |r: &mut Proc, key: &str, ver| {
        effects_of(r, 0, 4, |r, ctx| {
            r.on_message(
                3,
                Msg::Store {
                    op: 0,
                    key: key.into(),
                    version: ver,
                    value: b"v".to_vec(),
                },
                ctx,
            )
        });
    };
    put(&mut a, "key-1", v(2, 3));
    put(&mut b, "key-1", v(1, 3));
    put(&mut b, "key-2", v(1, 3));
    // a sends digests; b answers with its entries of the differing segments; a takes what is
    // newer there and sends back what is newer here.
    let e = effects_of(&mut a, 0, 4, |r, ctx| r.on_timer(Timer::AntiEntropy, ctx));
    let mut to_b = sends_of(&e);
    let mut round = 0;
    while let Some((to, msg)) = to_b.pop() {
        round += 1;
        assert!(round < 10);
        let (dst, from) = if to == 1 { (&mut b, 0) } else { (&mut a, 1) };
        let e = effects_of(dst, to, 4, |r, ctx| r.on_message(from, msg, ctx));
        to_b.extend(sends_of(&e));
    }
    let (ra, rb) = (replica_report(&a), replica_report(&b));
    assert_eq!(ra.store, rb.store);
    assert_eq!(ra.store.len(), 2);
    assert_eq!(ra.repaired + rb.repaired, 2);
}

fn record(key: u32, put: Option<&[u8]>, got: Option<Option<&[u8]>>, t: (u64, u64)) -> OpRecord {
    OpRecord {
        seq: 0,
        key,
        put: put.map(|p| p.to_vec()),
        got: got.map(|g| g.map(|v| v.to_vec())),
        invoke_us: t.0,
        return_us: Some(t.1),
        trips: 1,
        steps: 0,
        failed: None,
    }
}

fn run_of(args: &Args, clients: Vec<Vec<OpRecord>>) -> RunResult<Output> {
    let mut ranks: Vec<RankResult<Output>> = (0..3)
        .map(|r| RankResult {
            rank: r,
            crashed: false,
            done: true,
            output: Output::Replica(ReplicaReport {
                store: Vec::new(),
                repaired: 0,
                exchanges: 0,
                gave_up: false,
            }),
            earlier: Vec::new(),
            metrics: Default::default(),
            clock: ClockSync::default(),
            host: String::new(),
            storage: Default::default(),
            hit_as_leader: Vec::new(),
        })
        .collect();
    for (i, ops) in clients.into_iter().enumerate() {
        ranks.push(RankResult {
            rank: 3 + i,
            crashed: false,
            done: true,
            output: Output::Client(ClientReport {
                ops,
                gave_up: false,
            }),
            earlier: Vec::new(),
            metrics: Default::default(),
            clock: ClockSync::default(),
            host: String::new(),
            storage: Default::default(),
            hit_as_leader: Vec::new(),
        });
    }
    let np = ranks.len();
    let _ = args;
    RunResult {
        algorithm: "distributed-hashmap",
        driver: "sim",
        np,
        seed: 0,
        faults: Default::default(),
        ending: Ending::Finished,
        elapsed_s: 0.0,
        ranks,
        history: None,
        groups: Vec::new(),
    }
}

#[test]
fn the_checker_refutes_a_stale_read_and_accepts_it_within_clock_uncertainty() {
    let (a, _) = cfg(&["--clients", "2", "--value-bytes", "12"]);
    let v1 = b"\0\0\0\x03\0\0\0\x01val:".as_slice();
    let v2 = b"\0\0\0\x03\0\0\0\x02val:".as_slice();
    let mut run = run_of(
        &a,
        vec![
            vec![
                record(1, Some(v1), None, (0, 10)),
                record(1, Some(v2), None, (20, 30)),
            ],
            vec![record(1, None, Some(Some(v1)), (40, 50))],
        ],
    );
    let lin = check::linearizability(&a, &run);
    assert_eq!(lin.checked.violations.len(), 1);
    assert!(
        lin.checked.violations[0].starts_with("key-1: stale read")
            && lin.checked.violations[0].contains("client 4 get -> v3.1 [0.040, 0.050] ms"),
        "{:?}",
        lin.checked.violations
    );
    // The reader's clock may be 15 µs off: the read may have overlapped the second put.
    run.ranks[4].clock = ClockSync {
        offset_us: 0,
        uncertainty_us: 15,
    };
    assert!(check::linearizability(&a, &run)
        .checked
        .violations
        .is_empty());
    // A read of a value nobody wrote.
    let phantom = run_of(
        &a,
        vec![vec![record(2, None, Some(Some(b"zzzzzzzz")), (0, 1))]],
    );
    assert!(check::linearizability(&a, &phantom).checked.violations[0].contains("no write wrote"));
}

#[test]
fn the_raft_backend_runs_rafts_server_with_its_effects_wrapped() {
    let (a, _) = cfg(&["--backend", "raft"]);
    let mut server = DistributedHashmap::build(&a, 0, 4);
    let e = effects_of(&mut server, 0, 4, |n, ctx| n.on_start(ctx));
    assert!(
        e.iter().any(|e| matches!(
            e,
            Effect::SetTimer {
                timer: Timer::Raft(_),
                ..
            }
        )),
        "{e:?}"
    );
    let mut client = DistributedHashmap::build(&a, 3, 4);
    let e = effects_of(&mut client, 3, 4, |n, ctx| n.on_start(ctx));
    let sent = sends_of(&e);
    assert!(
        matches!(&sent[0], (0, Msg::Raft(raft::Msg::Request(service::Request { cmds, .. }))) if cmds.len() == 4),
        "{sent:?}"
    );
    // A message of the other backend is ignored, not misread.
    let e = effects_of(&mut server, 0, 4, |n, ctx| {
        n.on_message(3, Msg::Finished, ctx)
    });
    assert!(e.is_empty());
}

/// Live replicas holding different versions of a key once anti-entropy settled fail
/// replicas-converged, naming the key; without anti-entropy the same state is not required to
/// converge, and the check says why.
#[test]
fn replicas_left_apart_after_anti_entropy_fail_convergence() {
    let apart = |a: &Args| {
        let mut run = run_of(a, vec![vec![]]);
        for (r, clock) in [(0, 1), (1, 1), (2, 2)] {
            if let Output::Replica(s) = &mut run.ranks[r].output {
                s.store = vec![("key-1".into(), Version { clock, writer: 3 })];
            }
        }
        let checks = check::checks(a, &run);
        checks
            .into_iter()
            .find(|c| c.name == "replicas-converged")
            .expect("an ABD run has the check")
    };
    let c = apart(&cfg(&["--clients", "1", "--anti-entropy", "5"]).0);
    assert!(!c.passed && c.detail.contains("key-1 differs"), "{c:?}");
    let c = apart(&cfg(&["--clients", "1"]).0);
    assert!(
        c.passed && c.detail.starts_with("not required: without --anti-entropy"),
        "{c:?}"
    );
}
