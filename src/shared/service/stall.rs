//! Progress during a run, not only at its end: the longest wait of a client for an answer
//! while the plan let the service progress, checked against a bound from its timeouts.
//!
//! Each client records its waits of at least [`STALL_US`](crate::shared::clients::STALL_US)
//! with commands outstanding ([`ClientReport::stalls`], and the one still open at the end).
//! The check cuts each wait at the times the plan changes and keeps the stretches in which
//! the service could progress: links reliable (no drop, duplication or delay), a majority of
//! servers up, and a server up that reaches a majority of the up servers (itself included) and
//! the client directly, so a leader could be elected there and serve. Within such a stretch an
//! answer must come within the bound: a leader elected (a few election timeouts of up to 2T:
//! OmniPaxos shows at most 4 after partial connectivity), found by the client (a retry per
//! server it tries) and the command committed. Under MPI, wall-clock time on shared cores is
//! not bounded by the protocol's timeouts: the figure is reported, the check not required.

use std::time::Duration;

use super::options::Config;
use crate::shared::clients::ClientReport;
use crate::shared::faults::FaultPlan;
use crate::shared::observe::report::{Check, RunResult};
use crate::shared::Rank;

/// The longest a client may wait for an answer once the plan lets the service progress.
pub fn stall_bound(cfg: &Config) -> Duration {
    8 * cfg.election + cfg.servers as u32 * cfg.retry + 2 * cfg.heartbeat
}

/// Whether, at `t_ms`, `client` could be served: reliable links, a majority of servers up,
/// and an up server that reaches a majority of them and the client.
fn servable(faults: &FaultPlan, cfg: &Config, client: Rank, t_ms: u64) -> bool {
    if faults.lossy_at(t_ms) {
        return false;
    }
    let up: Vec<Rank> = (0..cfg.servers)
        .filter(|&r| faults.up_at(r, t_ms))
        .collect();
    up.len() >= cfg.quorum && faults.hub_at(t_ms, &up, &up, cfg.quorum, &[client])
}

/// The longest stretch of `[from_us, to_us)` in which `client` could be served (µs) and
/// where it begins.
fn longest_servable(
    faults: &FaultPlan,
    cfg: &Config,
    client: Rank,
    from_us: u64,
    to_us: u64,
) -> (u64, u64) {
    let mut cuts: Vec<u64> = (faults.changes_ms().into_iter())
        .map(|ms| ms * 1000)
        .filter(|&t| t > from_us && t < to_us)
        .collect();
    cuts.insert(0, from_us);
    cuts.push(to_us);
    let (mut best, mut start) = ((0, from_us), None);
    for w in cuts.windows(2) {
        if servable(faults, cfg, client, w[0] / 1000) {
            let s = *start.get_or_insert(w[0]);
            if w[1] - s > best.0 {
                best = (w[1] - s, s);
            }
        } else {
            start = None;
        }
    }
    best
}

/// Whether a partition up at some time in `[from_us, to_us)` leaves a server in no group:
/// partial connectivity (that server reaches every side, the sides not each other).
fn partial_connectivity(faults: &FaultPlan, cfg: &Config, from_us: u64, to_us: u64) -> bool {
    faults.partitions.iter().any(|p| {
        p.from_ms * 1000 < to_us
            && from_us < p.to_ms * 1000
            && p.groups.len() > 1
            && (0..cfg.servers).any(|r| !p.groups.iter().any(|g| g.contains(&r)))
    })
}

/// The "progress" check of a service's run: `clients` are (rank, crashed, report).
/// `partial_limit` names a known limit of the algorithm under partial connectivity: a wait
/// over the bound while a partition left a server reaching every side is reported under it,
/// not as a failure.
pub fn stall_check<O>(
    run: &RunResult<O>,
    clients: &[(Rank, bool, &ClientReport)],
    cfg: &Config,
    partial_limit: Option<&str>,
) -> Check {
    let faults = run.applied_faults();
    let end_us = run.end_ms() * 1000;
    let bound = stall_bound(cfg).as_micros() as u64;
    let mut longest = (0, 0, 0);
    let (mut over, mut limited) = (Vec::new(), Vec::new());
    for &(rank, crashed, c) in clients {
        if crashed {
            continue;
        }
        let open = c.waiting_since_us.map(|s| (s, end_us.max(s)));
        for (a, b) in c.stalls.iter().copied().chain(open) {
            let (len, at) = longest_servable(&faults, cfg, rank, a, b);
            if len > longest.0 {
                longest = (len, rank, at);
            }
            if len > bound {
                let known =
                    partial_limit.is_some() && partial_connectivity(&faults, cfg, at, at + len);
                (if known { &mut limited } else { &mut over }).push(format!(
                    "client {rank} waited {:.0} ms for an answer from {:.0} ms on while a majority of servers was up, reachable and on reliable links (bound {:.0} ms)",
                    len as f64 / 1e3,
                    at as f64 / 1e3,
                    bound as f64 / 1e3
                ));
            }
        }
    }
    let detail = format!(
        "the longest wait for an answer while the service could progress was {:.0} ms{}; the bound is {:.0} ms (8 election timeouts T, a retry per server, 2 heartbeats)",
        longest.0 as f64 / 1e3,
        if longest.0 > 0 {
            format!(" (client {}, from {:.0} ms)", longest.1, longest.2 as f64 / 1e3)
        } else {
            String::new()
        },
        bound as f64 / 1e3
    );
    if let Err(why) = run.interrupted() {
        return Check::if_required("progress", Err(format!("{why}; {detail}")), detail, over);
    }
    let required = match (run.driver, partial_limit, limited.first()) {
        ("sim", Some(limit), Some(first)) if over.is_empty() => {
            Err(format!("a known limit: {limit}; {first}"))
        }
        ("sim", ..) => Ok(()),
        _ => Err(format!(
            "under MPI, wall-clock time on shared cores is not bounded by the timeouts; {detail}"
        )),
    };
    Check::if_required("progress", required, detail, over)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::faults::{parse_partition, Crash};

    fn waited(from_ms: u64, to_ms: u64) -> ClientReport {
        ClientReport {
            stalls: vec![(from_ms * 1000, to_ms * 1000)],
            ..ClientReport::default()
        }
    }

    fn check(faults: FaultPlan, c: &ClientReport, driver: &'static str) -> Check {
        // 3 servers and client 3; T = 50 ms: the bound is 8 * 50 + 3 * 40 + 2 * 10 = 540 ms.
        let cfg = Config::for_tests(3);
        let mut run = RunResult::of_outputs("test", faults, vec![(); 4]);
        run.driver = driver;
        run.elapsed_s = 10.0;
        stall_check(&run, &[(3, false, c)], &cfg, None)
    }

    #[test]
    fn a_wait_longer_than_the_bound_while_the_service_could_progress_fails() {
        let c = check(FaultPlan::default(), &waited(100, 800), "sim");
        assert!(!c.passed, "{c:?}");
        assert!(c.detail.contains("client 3 waited 700 ms"), "{c:?}");
        assert!(check(FaultPlan::default(), &waited(100, 600), "sim").passed);
    }

    #[test]
    fn only_the_stretch_the_plan_allowed_counts() {
        // Servers 0 and 1 down until 500 and 600 (restarted): no majority before 500 ms.
        let faults = FaultPlan {
            crashes: vec![Crash { rank: 0, at_ms: 0 }, Crash { rank: 1, at_ms: 0 }],
            restarts: vec![Crash {
                rank: 0,
                at_ms: 500,
            }],
            ..FaultPlan::default()
        };
        let c = check(faults.clone(), &waited(0, 1000), "sim");
        assert!(c.passed, "500 ms of the wait could progress: {c:?}");
        let c = check(faults, &waited(0, 1100), "sim");
        assert!(!c.passed, "600 ms could: {c:?}");
        // Every server cut from the client: nothing could be served.
        let cut = FaultPlan {
            partitions: vec![parse_partition("0,1,2|3@0..5000").unwrap()],
            ..FaultPlan::default()
        };
        assert!(check(cut, &waited(0, 5000), "sim").passed);
        // Lossy links do not count.
        let lossy = FaultPlan {
            drop: 0.1,
            heal_ms: Some(4000),
            ..FaultPlan::default()
        };
        assert!(check(lossy.clone(), &waited(0, 4500), "sim").passed);
        assert!(!check(lossy, &waited(0, 4600), "sim").passed);
    }

    #[test]
    fn a_known_limit_under_partial_connectivity_is_named_not_failed() {
        // Server 1 reaches everyone, 0 and 2 only it.
        let faults = FaultPlan {
            partitions: vec![parse_partition("0|2@0..5000").unwrap()],
            ..FaultPlan::default()
        };
        let cfg = Config::for_tests(3);
        let mut run = RunResult::of_outputs("test", faults.clone(), vec![(); 4]);
        run.elapsed_s = 10.0;
        let c = waited(100, 900);
        let limited = stall_check(&run, &[(3, false, &c)], &cfg, Some("the limit"));
        assert!(
            limited.passed
                && limited
                    .detail
                    .starts_with("not required: a known limit: the limit"),
            "{limited:?}"
        );
        assert!(!stall_check(&run, &[(3, false, &c)], &cfg, None).passed);
        // Outside the partition the bound holds as ever.
        let c = waited(6000, 7000);
        assert!(!stall_check(&run, &[(3, false, &c)], &cfg, Some("the limit")).passed);
    }

    #[test]
    fn under_mpi_the_figure_is_reported_and_the_check_not_required() {
        let c = check(FaultPlan::default(), &waited(100, 800), "mpi");
        assert!(
            c.passed && c.detail.starts_with("not required: under MPI"),
            "{c:?}"
        );
        assert!(c.detail.contains("was 700 ms"), "{c:?}");
    }
}
