//! swim: simulator sweeps (1,000 seeds per fault plan), runs whose checks must be judged (not
//! waived), real mpirun runs at np 4, 8 and 16, and bad input.

mod common;

use common::*;
use serde_json::Value;

/// Fault plans for runs of 1 s at np 5, each swept over 1,000 seeds.
const PLANS: &[&str] = &[
    "--crash 2@300",                             // one crash
    "--crash 1@100 --crash 3@150 --crash 4@200", // all but two
    "--drop 0.1",                                // accuracy at the stated rate
    "--crash 4@200 --drop 0.3",                  // heavy loss: completeness only
    "--partition 3|0,1,2,4@200..350",            // a pause, refuted
    "--partition 0,1|2,3,4@200..600",            // a split longer than the suspicion
    "--join 4@200 --leave 3@500 --drop 0.05",    // membership changes
    "--crash 0@100 --drop 0.1 --dup 0.1 --delay 0..10 --heal 200",
    "--lifeguard --crash 2@300 --drop 0.1 --partition 1|0,2,3,4@500..600",
];

#[test]
fn sweeps_np5() {
    for plan in PLANS {
        let mut argv = args("--np 5 --seeds 0..1000 --duration 1000");
        argv.extend(args(plan));
        assert_sweep_passes("swim", &argv);
    }
}

#[test]
fn sweeps_np16() {
    for plan in [
        "--crash 3@200 --crash 9@250 --drop 0.1",
        "--join 14@100 --join 15@300 --leave 2@400 --crash 7@500",
        "--partition 5|0,1,2,3,4,6,7,8,9,10,11,12,13,14,15@200..300 --suspicion 600",
    ] {
        let mut argv = args("--np 16 --seeds 0..1000 --duration 2000");
        argv.extend(args(plan));
        assert_sweep_passes("swim", &argv);
    }
}

/// One simulated run's report.
fn sim(flags: &str) -> Value {
    let report = scratch(&format!("swim-{}.json", flags.len()));
    let r = direct(
        "swim",
        &args(&format!("--sim {flags} --report {}", report.display())),
    );
    assert_eq!(r.code, 0, "{flags}: {}{}", r.stdout, r.stderr);
    read_json(&report)
}

fn check<'a>(rep: &'a Value, name: &str) -> &'a str {
    rep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))["detail"]
        .as_str()
        .unwrap()
}

/// The plans of the sweeps do exercise each check: here each is judged, not waived.
#[test]
fn every_check_is_judged_somewhere() {
    let rep = sim("--np 5 --duration 1000 --crash 2@100 --drop 0.1");
    assert!(check(&rep, "completeness").starts_with("4 (crash, correct member) pairs"));
    assert!(check(&rep, "accuracy").starts_with("no correct member declared dead"));
    let rep = sim("--np 5 --duration 1000 --partition 3|0,1,2,4@200..400");
    let d = check(&rep, "refutation");
    assert!(d.starts_with("paused members suspected"), "{d}");
    let inc = rep["ranks"][3]["output"]["incarnation"].as_u64().unwrap();
    assert!(inc >= 1, "the paused member refuted: {inc}");
    let rep = sim("--np 5 --duration 1000 --join 4@200 --leave 3@500");
    assert!(check(&rep, "joins").starts_with("1 joined members"));
    assert!(check(&rep, "leaves").starts_with("1 leaving members"));
    // A pause longer than the suspicion timeout allows is declared dead: not judged then.
    let rep = sim("--np 5 --duration 1000 --suspicion 100 --partition 3|0,1,2,4@200..500");
    assert!(check(&rep, "accuracy").starts_with("not required"));
    assert!(rep["false_positives"].as_u64().unwrap() > 0, "{rep}");
}

/// SWIM's load per member is constant in n, the heartbeat detector's grows with n.
#[test]
fn messages_per_member_per_period_do_not_grow_with_n() {
    let per = |np: usize| {
        sim(&format!("--np {np} --duration 1000"))["messages_per_member_per_period"]
            .as_f64()
            .unwrap()
    };
    let (small, large) = (per(4), per(32));
    assert!((1.5..=2.5).contains(&small), "{small}");
    assert!((1.5..=2.5).contains(&large), "{large}");
}

#[test]
fn under_mpirun_at_np_4_8_16() {
    let rows = [4, 8, 16].map(|np| {
        let flags = format!(
            "--crash {}@300 --period 50 --ping-timeout 20 --suspicion 1000 --duration 4500",
            np - 1
        );
        (np, flags)
    });
    for job in mpirun_matrix("swim", &rows) {
        let (np, rep) = (job.np, job.report);
        let d = &rep["detection"][0];
        assert_eq!(d["rank"], np - 1, "{d}");
        assert!(d["latency_ms"].as_f64().is_some_and(|l| l > 1000.0), "{d}");
        assert!(
            check(&rep, "completeness").contains("pairs"),
            "np {np}: {}",
            check(&rep, "completeness")
        );
    }
}

#[test]
fn joins_leaves_and_a_pause_under_mpirun() {
    let flags = "--join 5@200 --leave 6@1500 --partition 3|0,1,2,4,5,6,7@1000..1300 \
                 --period 50 --ping-timeout 20 --suspicion 1000 --duration 4000";
    for job in mpirun_at("swim", &[8], flags) {
        let rep = job.report;
        for name in ["joins", "leaves"] {
            assert!(
                !check(&rep, name).starts_with("not required"),
                "{name}: {}",
                check(&rep, name)
            );
        }
        let d = check(&rep, "refutation");
        assert!(d.starts_with("paused members"), "{d}");
    }
}

#[test]
fn bad_input() {
    for (flags, needle) in [
        (
            "--np 4 --ping-timeout 20 --period 20",
            "must be less than --period",
        ),
        ("--np 4 --join 9@100", "rank 9 does not exist"),
        ("--np 4 --join 0@100", "the seed member"),
        ("--np 4 --join 2@300 --leave 2@100", "before it joins"),
        ("--np 4 --join 2@x", "RANK@MS"),
        ("--np 4 --leave 1@1 --leave 1@2", "twice"),
        ("--np 1", "at least 2 ranks"),
        ("--np 2 --crash 0@1 --crash 1@1", "every one of the 2 ranks"),
        ("--np 4 --k 100", "--k"),
    ] {
        let r = direct("swim", &args(&format!("--sim {flags}")));
        assert_eq!(r.code, 2, "{flags}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{flags}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn trace_diagram_and_report_of_one_run() {
    let (trace, svg, report) = (
        scratch("swim.log"),
        scratch("swim.svg"),
        scratch("swim-one.json"),
    );
    let r = direct(
        "swim",
        &args(&format!(
            "--sim --np 4 --crash 1@50 --join 3@20 --duration 300 --suspicion 100 --trace {} \
             --diagram {} --report {}",
            trace.display(),
            svg.display(),
            report.display()
        )),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let log = std::fs::read_to_string(&trace).unwrap();
    assert!(log.lines().count() > 50);
    for line in log.lines() {
        let (host, rest) = line.split_once(' ').unwrap();
        assert!(host.starts_with("rank"), "{line}");
        assert!(rest.starts_with('"') && rest.ends_with('}'), "{line}");
    }
    assert!(std::fs::read_to_string(&svg).unwrap().contains("Ping"));
    let rep = read_json(&report);
    assert_eq!(rep["algorithm"], "swim");
    assert!(log.contains("Join") && log.contains("JoinAck"));
    assert_checks_passed(&rep);
}
