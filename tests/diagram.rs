//! The diagram of every message-passing binary, drawn by the binary itself: each kind it draws
//! is one the algorithm declares (so it has its fixed colour), no two kinds look alike, and
//! ranks with roles are named by them.

mod common;

use common::*;
use mpidist::algos::anti_entropy::Replicas;
use mpidist::algos::clocks::{lamport::Lamport, vector::Vector};
use mpidist::algos::failure_detector::FailureDetector;
use mpidist::algos::hashmap::DistributedHashmap;
use mpidist::algos::leader_election::LeaderElection;
use mpidist::algos::map_reduce::tasks::TaskMode;
use mpidist::algos::raft::Raft;
use mpidist::algos::sequence_paxos::SequencePaxos;
use mpidist::algos::single_paxos::SinglePaxos;
use mpidist::algos::swim::Swim;
use mpidist::shared::Algorithm;

/// Draw `name`'s diagram of the run `flags`; check its legend against `declared`, and return
/// each lane's role, by rank.
fn drawn(name: &str, flags: &str, declared: &[&str]) -> Vec<(String, String)> {
    let svg = scratch(&format!("{name}-diagram.svg"));
    let line = format!("{flags} --diagram {}", svg.to_str().unwrap());
    let r = direct(name, &args(&line));
    assert_eq!(r.code, 0, "{name} {flags}: {}{}", r.stdout, r.stderr);
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let class_is = |n: &roxmltree::Node<'_, '_>, c: &str| n.attribute("class") == Some(c);
    let mut looks = Vec::new();
    for g in doc.descendants().filter(|n| class_is(n, "kind")) {
        let kind = g.attribute("data-kind").unwrap();
        assert!(
            declared.contains(&kind),
            "{name} draws {kind}, which it does not declare in Algorithm::KINDS"
        );
        let line = g.children().find(|c| c.has_tag_name("line")).unwrap();
        let look = (
            line.attribute("stroke").unwrap(),
            line.attribute("stroke-dasharray"),
        );
        assert!(
            !looks.contains(&look),
            "{name}: {kind} looks like another kind"
        );
        looks.push(look);
    }
    assert!(!looks.is_empty(), "{name}: no kinds in the legend");
    doc.descendants()
        .filter(|n| class_is(n, "role"))
        .map(|n| {
            let rank = n.attribute("data-rank").unwrap().to_string();
            (rank, n.text().unwrap_or("").to_string())
        })
        .collect()
}

fn roles(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(r, role)| (r.to_string(), role.to_string()))
        .collect()
}

#[test]
fn every_binary_draws_declared_kinds_in_distinct_colours_and_names_roles() {
    let none: Vec<(String, String)> = Vec::new();
    let raft = drawn(
        "raft",
        "--sim --np 4 --requests 6 --crash 0@22 --restart 0@70 --delay 1..3 --seed 1",
        Raft::KINDS,
    );
    let servers = [("0", "server"), ("1", "server"), ("2", "server")];
    assert_eq!(
        raft,
        roles(&[servers[0], servers[1], servers[2], ("3", "client")])
    );
    let seq = drawn(
        "sequence-paxos",
        "--sim --np 4 --requests 8 --crash 0@22 --delay 1..3 --seed 1",
        SequencePaxos::KINDS,
    );
    assert_eq!(seq, raft, "the same layout of servers and a client");
    let paxos = drawn(
        "single-paxos",
        "--sim --np 5 --delay 1..4 --crash 2@8 --seed 17",
        SinglePaxos::KINDS,
    );
    assert_eq!(
        paxos,
        roles(&[
            ("0", "client"),
            ("1", "proposer"),
            ("2", "acceptor"),
            ("3", "acceptor"),
            ("4", "learner")
        ])
    );
    drawn(
        "single-paxos",
        "--sim --np 4 --colocate --crash 0@5",
        SinglePaxos::KINDS,
    );
    for backend in ["abd", "raft"] {
        let map = drawn(
            "distributed-hashmap",
            &format!("--sim --np 5 --backend {backend} --crash 0@20"),
            DistributedHashmap::KINDS,
        );
        assert_eq!(map.len(), 5, "{map:?}");
    }
    let tasks = drawn(
        "map-reduce",
        "--sim --np 3 --mode tasks --generate 20K --crash 2@5",
        TaskMode::KINDS,
    );
    assert_eq!(
        tasks,
        roles(&[("0", "master"), ("1", "worker"), ("2", "worker")])
    );
    let flat = [
        (
            "leader-election",
            "--sim --np 4 --variant ballot --crash 2@250 --duration 520",
            LeaderElection::KINDS,
        ),
        (
            "failure-detector",
            "--sim --np 4 --crash 1@50",
            FailureDetector::KINDS,
        ),
        (
            "swim",
            "--sim --np 4 --crash 1@50 --duration 300 --suspicion 100",
            Swim::KINDS,
        ),
        (
            "lamport",
            "--sim --np 4 --pattern random --events 8 --drop 0.2",
            Lamport::KINDS,
        ),
        ("vector", "--sim --np 4 --drop 0.1", Vector::KINDS),
        (
            "anti-entropy",
            "--sim --np 4 --crdt orset --updates 3 --sync merkle",
            Replicas::KINDS,
        ),
        (
            "anti-entropy",
            "--sim --np 4 --crdt lwwmap --updates 3 --mode pull",
            Replicas::KINDS,
        ),
    ];
    for (name, flags, kinds) in flat {
        assert_eq!(
            drawn(name, flags, kinds),
            none,
            "{name}: every rank plays one part"
        );
    }
}
