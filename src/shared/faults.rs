//! The fault plan: crash-stop ranks, crash-recovery for algorithms that persist their state,
//! and fair-loss, duplicating, reordering links.
//!
//! One plan, parsed from the common flags, applied by both drivers at the transport boundary:
//! the sender decides each message's fate from its own seeded RNG, so a simulated run is
//! reproducible and an MPI run injects the same kinds of faults. Algorithms that need reliable
//! links build them on top; the runtime does not hide loss.

use std::fmt;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::process::Rank;

/// `--crash RANK@MS`: the rank stops at that time and never recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    pub rank: Rank,
    pub at_ms: u64,
}

/// `--partition 0,1|2,3@FROM..TO`: messages between different groups are dropped in
/// `[from_ms, to_ms)`. A rank named in no group is not cut off from anyone, except where
/// there is one group only: it is then cut off from every rank outside it (the leader cut off
/// from the rest, [`AtLeader`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub groups: Vec<Vec<Rank>>,
    pub from_ms: u64,
    pub to_ms: u64,
}

impl Partition {
    fn group_of(&self, r: Rank) -> Option<usize> {
        self.groups.iter().position(|g| g.contains(&r))
    }
    /// Whether a message from `a` to `b` sent at `t_ms` crosses the cut while it is up.
    pub fn cuts(&self, a: Rank, b: Rank, t_ms: u64) -> bool {
        if t_ms < self.from_ms || t_ms >= self.to_ms {
            return false;
        }
        match (self.group_of(a), self.group_of(b)) {
            (Some(x), Some(y)) => x != y,
            (None, None) => false,
            _ => self.groups.len() == 1,
        }
    }
}

/// A fault aimed at the leader: `--crash leader@MS` (`until_ms` none) or
/// `--partition leader|rest@MS..UNTIL` (the leader cut off from every other rank). Which rank
/// it hits is not known before the run: at `at_ms` every rank that believes it leads
/// ([`Process::leads`](super::process::Process::leads)) takes it, deciding for itself, in
/// both drivers. Two ranks can both believe it (a deposed leader that has not heard of its
/// successor); both are hit. `hit` is filled in after the run: the ranks it hit (empty: no
/// rank led then, or the run ended first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtLeader {
    pub at_ms: u64,
    pub until_ms: Option<u64>,
    #[serde(default)]
    pub hit: Option<Vec<Rank>>,
}

impl AtLeader {
    fn what(&self) -> String {
        match self.until_ms {
            None => format!("crash the leader at {} ms", self.at_ms),
            Some(to) => format!("cut the leader off during {}..{to} ms", self.at_ms),
        }
    }
    /// As the output states it: what, and whom it hit once the run told.
    fn phrase(&self, end_ms: Option<u64>) -> String {
        match (&self.hit, end_ms) {
            (Some(h), _) if !h.is_empty() => {
                let ranks: Vec<String> = h.iter().map(|r| r.to_string()).collect();
                format!("{} (rank {})", self.what(), ranks.join(" and "))
            }
            (Some(_), Some(end)) if self.at_ms <= end => {
                format!("{} (no rank led then)", self.what())
            }
            _ => self.what(),
        }
    }
}

/// `--crash` as given: a rank, or whichever rank leads at that time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashFlag {
    Rank(Crash),
    Leader(u64),
}

/// `--partition` as given: groups of ranks, or the leader against the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionFlag {
    Groups(Partition),
    Leader(u64, u64),
}

/// What a rank's life brings at a scheduled time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// It stops (crash-stop until a restart, if any).
    Crash,
    /// It comes back with only what it persisted (after crashing now if it is up).
    Restart,
    /// The fault [`FaultPlan::at_leader`]`[i]`, taken if the rank leads then.
    AtLeader(usize),
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    pub crashes: Vec<Crash>,
    /// `--restart RANK@MS`: the rank comes back (crashing first if it is up), with what it
    /// persisted and nothing else. Only for algorithms that recover.
    #[serde(default)]
    pub restarts: Vec<Crash>,
    /// `--crash-after-persist RANK@MS`: the rank crashes right after its first write to stable
    /// storage at or after MS, before the sends that depend on that write.
    #[serde(default)]
    pub persist_crashes: Vec<Crash>,
    pub drop: f64,
    pub dup: f64,
    /// Extra per-message delay, uniform in `[min, max]` milliseconds.
    pub delay_ms: Option<(u64, u64)>,
    pub partitions: Vec<Partition>,
    /// From this time on (ms), links stop dropping, duplicating and delaying: a liveness
    /// phase after a lossy one (crashes stay).
    pub heal_ms: Option<u64>,
    /// Faults aimed at whichever rank leads at their time (see [`AtLeader`]).
    #[serde(default)]
    pub at_leader: Vec<AtLeader>,
}

/// What happens to one message at the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Lost (`--drop` or a partition).
    Dropped,
    /// Sent once, after an extra delay (µs).
    Once(u64),
    /// Sent twice, each copy with its own extra delay (µs).
    Twice(u64, u64),
}

impl FaultPlan {
    /// True when the plan injects nothing.
    pub fn is_empty(&self) -> bool {
        self.crashes.is_empty()
            && self.restarts.is_empty()
            && self.persist_crashes.is_empty()
            && self.drop == 0.0
            && self.dup == 0.0
            && self.delay_ms.is_none()
            && self.partitions.is_empty()
            && self.at_leader.is_empty()
    }

    /// The plan with the faults aimed at the leader made concrete: the crashes and partitions
    /// they turned into on the ranks they hit (what the checkers judge a run by).
    pub fn concrete(&self) -> FaultPlan {
        let mut plan = self.clone();
        for a in std::mem::take(&mut plan.at_leader) {
            for &rank in a.hit.iter().flatten() {
                match a.until_ms {
                    None => plan.crashes.push(Crash {
                        rank,
                        at_ms: a.at_ms,
                    }),
                    Some(to_ms) => plan.partitions.push(Partition {
                        groups: vec![vec![rank]],
                        from_ms: a.at_ms,
                        to_ms,
                    }),
                }
            }
        }
        plan
    }

    /// The plan as the run carried it out: `hits[i]` are the ranks the fault
    /// `at_leader[i]` hit.
    pub fn with_hits(&self, hits: impl Fn(usize) -> Vec<Rank>) -> FaultPlan {
        let mut plan = self.clone();
        for (i, a) in plan.at_leader.iter_mut().enumerate() {
            a.hit = Some(hits(i));
        }
        plan
    }

    /// When `rank` crashes, if ever (the earliest of its crashes).
    pub fn crash_time_ms(&self, rank: Rank) -> Option<u64> {
        self.crashes
            .iter()
            .filter(|c| c.rank == rank)
            .map(|c| c.at_ms)
            .min()
    }

    /// The scheduled crashes and restarts of `rank`, in time order (ms); at equal times a
    /// crash comes first.
    pub fn life_of(&self, rank: Rank) -> Vec<(u64, Life)> {
        let mut v: Vec<(u64, Life)> = self
            .crashes
            .iter()
            .filter(|c| c.rank == rank)
            .map(|c| (c.at_ms, Life::Crash))
            .chain(
                self.restarts
                    .iter()
                    .filter(|c| c.rank == rank)
                    .map(|c| (c.at_ms, Life::Restart)),
            )
            .collect();
        v.sort_by_key(|&(t, l)| (t, l == Life::Restart));
        v
    }

    /// What the driver of `rank` must carry out, in time order (ms): its crashes and restarts
    /// and the faults aimed at the leader (taken or not when due); at equal times a crash
    /// comes first, then the aimed faults, then a restart.
    pub fn schedule_of(&self, rank: Rank) -> Vec<(u64, Life)> {
        let mut v = self.life_of(rank);
        v.extend((self.at_leader.iter().enumerate()).map(|(i, a)| (a.at_ms, Life::AtLeader(i))));
        let order = |l: &Life| match l {
            Life::Crash => 0,
            Life::AtLeader(_) => 1,
            Life::Restart => 2,
        };
        v.sort_by_key(|(t, l)| (*t, order(l)));
        v
    }

    /// Whether `rank` is down at the end of the run: its last scheduled event is a crash (a
    /// crash after a write to storage counts as one unless a restart follows it).
    pub fn down_at_end(&self, rank: Rank) -> bool {
        let last = self.life_of(rank).last().copied();
        let torn = self
            .persist_crashes
            .iter()
            .filter(|c| c.rank == rank)
            .map(|c| c.at_ms)
            .max();
        match (last, torn) {
            (Some((t, Life::Restart)), Some(p)) => p >= t,
            (Some((_, l)), _) => l == Life::Crash,
            (None, torn) => torn.is_some(),
        }
    }

    /// Whether the plan brings any rank back.
    pub fn recovers(&self) -> bool {
        !self.restarts.is_empty() || !self.persist_crashes.is_empty()
    }

    /// Whether links still lose or delay messages at `t_ms` (partitions aside).
    pub fn lossy_at(&self, t_ms: u64) -> bool {
        (self.drop > 0.0 || self.dup > 0.0 || self.delay_ms.is_some())
            && self.heal_ms.is_none_or(|h| t_ms < h)
    }

    /// Why messages may never get through: links that lose half or more of them to the end.
    pub fn never_delivers(&self) -> Option<String> {
        (self.heal_ms.is_none() && self.drop >= 0.5)
            .then(|| format!("links drop {} of the messages to the end", self.drop))
    }

    /// The plan as far as a run that ended at `end_ms` carried it out: crashes, restarts and
    /// partitions scheduled later never happened.
    pub fn until(&self, end_ms: u64) -> FaultPlan {
        let keep = |v: &Vec<Crash>| v.iter().copied().filter(|c| c.at_ms <= end_ms).collect();
        FaultPlan {
            crashes: keep(&self.crashes),
            restarts: keep(&self.restarts),
            persist_crashes: keep(&self.persist_crashes),
            partitions: self
                .partitions
                .iter()
                .filter(|p| p.from_ms <= end_ms)
                .cloned()
                .collect(),
            at_leader: (self.at_leader.iter())
                .filter(|a| a.at_ms <= end_ms)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// The faults a run that ended at `end_ms` never reached, one phrase each.
    pub fn not_applied(&self, end_ms: u64) -> Vec<String> {
        let late = FaultPlan {
            crashes: self
                .crashes
                .iter()
                .copied()
                .filter(|c| c.at_ms > end_ms)
                .collect(),
            restarts: self
                .restarts
                .iter()
                .copied()
                .filter(|c| c.at_ms > end_ms)
                .collect(),
            persist_crashes: (self.persist_crashes.iter().copied())
                .filter(|c| c.at_ms > end_ms)
                .collect(),
            partitions: (self.partitions.iter())
                .filter(|p| p.from_ms > end_ms)
                .cloned()
                .collect(),
            ..FaultPlan::default()
        };
        let mut v = late.phrases();
        v.extend(
            (self.at_leader.iter())
                .filter(|a| a.at_ms > end_ms)
                .map(AtLeader::what),
        );
        v
    }

    /// The faults aimed at the leader that hit no rank although the run reached their time.
    pub fn missed_leader(&self, end_ms: u64) -> Vec<String> {
        (self.at_leader.iter())
            .filter(|a| a.at_ms <= end_ms && a.hit.as_ref().is_some_and(|h| h.is_empty()))
            .map(|a| a.phrase(Some(end_ms)))
            .collect()
    }

    /// Whether `rank` is up at `t_ms` by the plan: no crash since its last restart (a
    /// `--crash-after-persist` counts from its time on, as its write may come at once).
    pub fn up_at(&self, rank: Rank, t_ms: u64) -> bool {
        let last = |v: &Vec<Crash>| {
            v.iter()
                .filter(|c| c.rank == rank && c.at_ms <= t_ms)
                .map(|c| c.at_ms)
                .max()
        };
        let down = last(&self.crashes).max(last(&self.persist_crashes));
        match (down, last(&self.restarts)) {
            (None, _) => true,
            (Some(d), Some(r)) => r >= d,
            (Some(_), None) => false,
        }
    }

    /// The times (ms) at which what the plan does changes: crashes, restarts, partitions
    /// beginning and ending, the heal.
    pub fn changes_ms(&self) -> Vec<u64> {
        let mut v: Vec<u64> = (self.crashes.iter())
            .chain(&self.restarts)
            .chain(&self.persist_crashes)
            .map(|c| c.at_ms)
            .chain(self.partitions.iter().flat_map(|p| [p.from_ms, p.to_ms]))
            .chain(
                self.at_leader
                    .iter()
                    .flat_map(|a| [Some(a.at_ms), a.until_ms])
                    .flatten(),
            )
            .chain(self.heal_ms)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether `a` and `b` can exchange messages at `t_ms` (no partition up then cuts them).
    pub fn connected_at(&self, a: Rank, b: Rank, t_ms: u64) -> bool {
        !self.partitions.iter().any(|p| p.cuts(a, b, t_ms))
    }

    /// Whether a partition up at `t_ms` cuts `r` from any of `others`.
    pub fn cut_off_at(&self, r: Rank, others: &[Rank], t_ms: u64) -> bool {
        others.iter().any(|&o| !self.connected_at(r, o, t_ms))
    }

    /// Whether, at `t_ms`, a rank of `hubs` reaches `quorum` of `members` (itself included)
    /// and every rank of `all` directly: where a leader could be elected and serve.
    pub fn hub_at(
        &self,
        t_ms: u64,
        hubs: &[Rank],
        members: &[Rank],
        quorum: usize,
        all: &[Rank],
    ) -> bool {
        hubs.iter().any(|&h| {
            let reach = (members.iter())
                .filter(|&&m| self.connected_at(h, m, t_ms))
                .count();
            reach >= quorum && !self.cut_off_at(h, all, t_ms)
        })
    }

    /// Why liveness cannot be asked of a run that ended at `end_ms` with partitions still up:
    /// no rank of `hubs` reaches `quorum` of `members` (itself included) and every rank of
    /// `all` directly, so no leader could make progress; whether the ranks would finish once
    /// the partition heals, the run did not last long enough to see. `None` where one does,
    /// or no partition is up at the end.
    pub fn blocked_at_end(
        &self,
        end_ms: u64,
        hubs: &[Rank],
        members: &[Rank],
        quorum: usize,
        all: &[Rank],
    ) -> Option<String> {
        let up: Vec<&Partition> = (self.partitions.iter())
            .filter(|p| p.from_ms <= end_ms && end_ms < p.to_ms)
            .collect();
        if up.is_empty() {
            return None;
        }
        let hub = self.hub_at(end_ms, hubs, members, quorum, all);
        let named: Vec<String> = (up.iter())
            .map(|p| format!("{} ({}..{} ms)", p.groups_text(), p.from_ms, p.to_ms))
            .collect();
        (!hub).then(|| {
            format!(
                "when the run ended at {end_ms} ms the partition {} was still up and left no rank reaching a quorum",
                named.join(", ")
            )
        })
    }

    /// Reject a plan that names ranks outside `0..np`, with one sentence.
    pub fn validate(&self, np: usize) -> Result<(), String> {
        for (flag, list) in [
            ("--crash", &self.crashes),
            ("--restart", &self.restarts),
            ("--crash-after-persist", &self.persist_crashes),
        ] {
            if let Some(c) = list.iter().find(|c| c.rank >= np) {
                return Err(format!(
                    "{flag} {}@{}: rank {} does not exist (ranks are 0..{})",
                    c.rank,
                    c.at_ms,
                    c.rank,
                    np.saturating_sub(1)
                ));
            }
        }
        if let Some(a) = self
            .at_leader
            .iter()
            .find(|a| a.until_ms.is_some_and(|to| to < a.at_ms))
        {
            return Err(format!("{}: the end comes before the start", a.what()));
        }
        for p in &self.partitions {
            if let Some(r) = p.groups.iter().flatten().find(|&&r| r >= np) {
                return Err(format!(
                    "--partition names rank {r}, which does not exist (ranks are 0..{})",
                    np.saturating_sub(1)
                ));
            }
        }
        Ok(())
    }

    /// Decide the fate of a message from `from` to `to` sent at `t_us`.
    pub fn fate(&self, from: Rank, to: Rank, t_us: u64, rng: &mut ChaCha8Rng) -> Fate {
        if self.is_empty() {
            return Fate::Once(0);
        }
        let t_ms = t_us / 1000;
        if self.partitions.iter().any(|p| p.cuts(from, to, t_ms)) {
            return Fate::Dropped;
        }
        if self.heal_ms.is_some_and(|h| t_ms >= h) {
            return Fate::Once(0);
        }
        if self.drop > 0.0 && rng.gen_bool(self.drop) {
            return Fate::Dropped;
        }
        let dup = self.dup > 0.0 && rng.gen_bool(self.dup);
        let first = self.extra_delay_us(rng);
        if dup {
            Fate::Twice(first, self.extra_delay_us(rng))
        } else {
            Fate::Once(first)
        }
    }

    fn extra_delay_us(&self, rng: &mut ChaCha8Rng) -> u64 {
        match self.delay_ms {
            Some((lo, hi)) => rng.gen_range(lo * 1000..=hi * 1000),
            None => 0,
        }
    }
}

impl Partition {
    /// The groups as on the command line: `0,1|2,3`.
    pub fn groups_text(&self) -> String {
        let groups: Vec<String> = (self.groups.iter())
            .map(|g| {
                g.iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        match groups.len() {
            1 => format!("{}|rest", groups[0]),
            _ => groups.join("|"),
        }
    }
}

impl FaultPlan {
    /// One phrase per fault, in the order of the flags.
    fn phrases(&self) -> Vec<String> {
        let mut parts = Vec::new();
        for c in &self.crashes {
            parts.push(format!("crash rank {} at {} ms", c.rank, c.at_ms));
        }
        for c in &self.restarts {
            parts.push(format!("restart rank {} at {} ms", c.rank, c.at_ms));
        }
        for c in &self.persist_crashes {
            parts.push(format!(
                "crash rank {} after its first write to storage from {} ms",
                c.rank, c.at_ms
            ));
        }
        if self.drop > 0.0 {
            parts.push(format!("drop {}", self.drop));
        }
        if self.dup > 0.0 {
            parts.push(format!("dup {}", self.dup));
        }
        if let Some((lo, hi)) = self.delay_ms {
            parts.push(format!("delay {lo}..{hi} ms"));
        }
        if let Some(h) = self.heal_ms {
            parts.push(format!("links reliable from {h} ms"));
        }
        for p in &self.partitions {
            parts.push(format!(
                "partition {} during {}..{} ms",
                p.groups_text(),
                p.from_ms,
                p.to_ms
            ));
        }
        for a in &self.at_leader {
            parts.push(a.phrase(None));
        }
        parts
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "none");
        }
        write!(f, "{}", self.phrases().join(", "))
    }
}

// ---- parsers for the command line (clap value parsers: one sentence on error) ----

/// The largest time a flag may name: one day, in milliseconds.
pub const MAX_MS: u64 = 86_400_000;

fn parse_u64(s: &str, what: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{what} must be a non-negative integer, got '{s}'"))
}

fn parse_ms(s: &str, what: &str) -> Result<u64, String> {
    let v = parse_u64(s, what)?;
    if v > MAX_MS {
        return Err(format!(
            "{what} must be at most {MAX_MS} ms (a day), got {v}"
        ));
    }
    Ok(v)
}

/// `MIN..MAX` of milliseconds (at most a day) with MIN <= MAX.
pub fn parse_range(s: &str, what: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{what} must look like MIN..MAX, got '{s}'"))?;
    let (a, b) = (parse_ms(a, what)?, parse_ms(b, what)?);
    if a > b {
        return Err(format!("{what}: MIN must not exceed MAX in '{s}'"));
    }
    Ok((a, b))
}

/// `RANK@MS`.
pub fn parse_crash(s: &str) -> Result<Crash, String> {
    let (r, t) = s
        .split_once('@')
        .ok_or_else(|| format!("a crash looks like RANK@MS (e.g. 2@100), got '{s}'"))?;
    Ok(Crash {
        rank: parse_u64(r, "the crashed rank")? as Rank,
        at_ms: parse_ms(t, "the crash time")?,
    })
}

/// `--crash RANK@MS` or `--crash leader@MS`.
pub fn parse_crash_flag(s: &str) -> Result<CrashFlag, String> {
    match s.trim().strip_prefix("leader@") {
        Some(t) => Ok(CrashFlag::Leader(parse_ms(t, "the crash time")?)),
        None => parse_crash(s)
            .map(CrashFlag::Rank)
            .map_err(|e| format!("{e}, or leader@MS")),
    }
}

/// A probability in `[0, 1]`.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a probability between 0 and 1, got '{s}'"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("a probability must be between 0 and 1, got {p}"));
    }
    Ok(p)
}

/// `--heal MS`.
pub fn parse_heal(s: &str) -> Result<u64, String> {
    parse_ms(s, "the heal time")
}

/// `MIN..MAX` milliseconds.
pub fn parse_delay(s: &str) -> Result<(u64, u64), String> {
    parse_range(s, "the delay (ms)")
}

/// `0,1|2,3@FROM..TO` or `leader|rest@FROM..TO`.
pub fn parse_partition_flag(s: &str) -> Result<PartitionFlag, String> {
    match s.trim().strip_prefix("leader|rest@") {
        Some(w) => {
            let (from, to) = parse_range(w, "the partition window (ms)")?;
            Ok(PartitionFlag::Leader(from, to))
        }
        None => parse_partition(s).map(PartitionFlag::Groups),
    }
}

/// `0,1|2,3@FROM..TO`.
pub fn parse_partition(s: &str) -> Result<Partition, String> {
    let (groups, window) = s
        .split_once('@')
        .ok_or_else(|| format!("a partition looks like 0,1|2,3@FROM..TO (ms), got '{s}'"))?;
    let (from_ms, to_ms) = parse_range(window, "the partition window (ms)")?;
    let groups = groups
        .split('|')
        .map(|g| {
            g.split(',')
                .map(|r| parse_u64(r, "a partitioned rank").map(|r| r as Rank))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    if groups.len() < 2 {
        return Err(format!(
            "a partition needs at least two groups separated by '|', got '{s}'"
        ));
    }
    let mut seen: Vec<Rank> = groups.iter().flatten().copied().collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("a partition names a rank in two groups: '{s}'"));
    }
    Ok(Partition {
        groups,
        from_ms,
        to_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_flags() {
        assert_eq!(
            parse_crash("2@150"),
            Ok(Crash {
                rank: 2,
                at_ms: 150
            })
        );
        assert!(parse_crash("2").is_err());
        assert_eq!(parse_delay("1..20"), Ok((1, 20)));
        assert!(parse_delay("20..1").is_err());
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("-0.1").is_err());
        assert_eq!(parse_probability("0.25"), Ok(0.25));
        let p = parse_partition("0,1|2,3@10..20").unwrap();
        assert_eq!(p.groups, vec![vec![0, 1], vec![2, 3]]);
        assert!(p.cuts(0, 2, 10) && !p.cuts(0, 1, 10) && !p.cuts(0, 2, 20) && !p.cuts(0, 4, 15));
        assert!(parse_partition("0,1@1..2").is_err());
        assert!(parse_partition("0,1|1@1..2").is_err());
    }

    #[test]
    fn life_orders_crashes_before_restarts() {
        let at = |rank, at_ms| Crash { rank, at_ms };
        let plan = FaultPlan {
            crashes: vec![at(1, 50), at(1, 10), at(2, 5)],
            restarts: vec![at(1, 30), at(1, 50), at(3, 7)],
            persist_crashes: vec![at(4, 9)],
            ..Default::default()
        };
        assert_eq!(
            plan.life_of(1),
            vec![
                (10, Life::Crash),
                (30, Life::Restart),
                (50, Life::Crash),
                (50, Life::Restart)
            ]
        );
        assert!(!plan.down_at_end(1) && plan.down_at_end(2) && !plan.down_at_end(3));
        assert!(plan.down_at_end(4) && !plan.down_at_end(0) && plan.recovers());
    }

    #[test]
    fn faults_aimed_at_the_leader_become_concrete_on_the_ranks_they_hit() {
        assert_eq!(parse_crash_flag("leader@30"), Ok(CrashFlag::Leader(30)));
        assert!(matches!(parse_crash_flag("2@30"), Ok(CrashFlag::Rank(_))));
        assert!(parse_crash_flag("boss@30")
            .unwrap_err()
            .contains("leader@MS"));
        assert_eq!(
            parse_partition_flag("leader|rest@10..20"),
            Ok(PartitionFlag::Leader(10, 20))
        );
        let aimed = |at_ms, until_ms| AtLeader {
            at_ms,
            until_ms,
            hit: None,
        };
        let plan = FaultPlan {
            at_leader: vec![
                aimed(30, None),
                aimed(50, Some(80)),
                aimed(60, None),
                aimed(500, None),
            ],
            ..Default::default()
        };
        assert!(!plan.is_empty());
        assert_eq!(
            plan.schedule_of(3).len(),
            4,
            "every rank is told of every aimed fault"
        );
        let hits = [vec![2], vec![1], vec![], vec![]];
        let ran = plan.with_hits(|i| hits[i].clone());
        let concrete = ran.concrete().until(100);
        assert_eq!(concrete.crashes, vec![Crash { rank: 2, at_ms: 30 }]);
        assert!(concrete.at_leader.is_empty());
        // The cut-off leader reaches nobody, and nobody reaches it; the others are connected.
        let cut = &concrete.partitions[0];
        assert!(
            cut.cuts(1, 0, 50) && cut.cuts(3, 1, 79) && !cut.cuts(0, 3, 60) && !cut.cuts(1, 0, 80)
        );
        assert_eq!(cut.groups_text(), "1|rest");
        assert_eq!(
            ran.to_string(),
            "crash the leader at 30 ms (rank 2), cut the leader off during 50..80 ms (rank 1), crash the leader at 60 ms, crash the leader at 500 ms"
        );
        assert_eq!(
            ran.missed_leader(100),
            vec!["crash the leader at 60 ms (no rank led then)"]
        );
        assert_eq!(ran.not_applied(100), vec!["crash the leader at 500 ms"]);
    }

    #[test]
    fn validates_ranks() {
        let plan = FaultPlan {
            crashes: vec![Crash { rank: 4, at_ms: 0 }],
            ..Default::default()
        };
        assert!(plan
            .validate(4)
            .unwrap_err()
            .contains("rank 4 does not exist"));
        assert!(plan.validate(5).is_ok());
    }

    #[test]
    fn fate_follows_probabilities() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let plan = FaultPlan {
            drop: 0.3,
            dup: 0.5,
            delay_ms: Some((1, 2)),
            ..Default::default()
        };
        let fates: Vec<Fate> = (0..10_000).map(|_| plan.fate(0, 1, 0, &mut rng)).collect();
        let dropped = fates.iter().filter(|f| **f == Fate::Dropped).count();
        let twice = fates
            .iter()
            .filter(|f| matches!(f, Fate::Twice(..)))
            .count();
        assert!((2700..3300).contains(&dropped), "{dropped}");
        assert!((3200..3800).contains(&twice), "{twice}");
        assert!(fates.iter().all(|f| match f {
            Fate::Once(d) => (1000..=2000).contains(d),
            Fate::Twice(a, b) => (1000..=2000).contains(a) && (1000..=2000).contains(b),
            Fate::Dropped => true,
        }));
    }
}
