//! The event history of a run: every send, receive and local event of every rank with its
//! ground-truth vector timestamp, kept by the drivers (never by the algorithms).
//!
//! It serves three purposes: checkers that need happens-before (Lamport and vector clocks are
//! checked against it), the ShiViz log (`--trace`), and the SVG space-time diagram
//! (`--diagram`). The vector timestamps follow the textbook rules: tick on every event, and
//! element-wise max with the sender's timestamp before ticking on a receive.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::process::Rank;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Message `seq` of this rank sent to `to`; `copies` left the sender (0 when the fault
    /// plan dropped it, 2 when it was duplicated).
    Send { to: Rank, seq: u64, copies: u8 },
    /// Message `seq` of rank `from` received.
    Recv { from: Rank, seq: u64 },
    /// A local event of the algorithm.
    Local,
    /// The rank crashed (crash-stop).
    Crash,
}

/// One event of one rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// Ground-truth vector timestamp.
    pub vc: Vec<u64>,
    /// Microseconds since the start of the run (virtual in the simulator).
    pub t_us: u64,
    pub label: String,
    /// The algorithm's own logical timestamp for this event, if it gave one.
    pub stamp: Option<Vec<u64>>,
}

/// `a` happened before `b` (strictly).
pub fn happened_before(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

/// Partial order of vector timestamps: `None` means concurrent.
pub fn vc_cmp(a: &[u64], b: &[u64]) -> Option<Ordering> {
    if a == b {
        Some(Ordering::Equal)
    } else if happened_before(a, b) {
        Some(Ordering::Less)
    } else if happened_before(b, a) {
        Some(Ordering::Greater)
    } else {
        None
    }
}

/// Records one rank's events. Off (and free) unless a checker, trace or diagram needs it.
#[derive(Debug, Clone)]
pub struct Recorder {
    rank: Rank,
    on: bool,
    vc: Vec<u64>,
    events: Vec<Event>,
}

impl Recorder {
    pub fn new(rank: Rank, np: usize, on: bool) -> Self {
        Recorder {
            rank,
            on,
            vc: if on { vec![0; np] } else { Vec::new() },
            events: Vec::new(),
        }
    }
    pub fn is_on(&self) -> bool {
        self.on
    }
    fn push(&mut self, kind: EventKind, t_us: u64, label: String) {
        self.vc[self.rank] += 1;
        self.events.push(Event {
            kind,
            vc: self.vc.clone(),
            t_us,
            label,
            stamp: None,
        });
    }
    /// A send; returns the vector timestamp to piggyback on the message.
    pub fn send(
        &mut self,
        to: Rank,
        seq: u64,
        copies: u8,
        t_us: u64,
        label: impl FnOnce() -> String,
    ) -> Option<Vec<u64>> {
        if !self.on {
            return None;
        }
        self.push(EventKind::Send { to, seq, copies }, t_us, label());
        Some(self.vc.clone())
    }
    pub fn recv(
        &mut self,
        from: Rank,
        seq: u64,
        vc: Option<&[u64]>,
        t_us: u64,
        label: impl FnOnce() -> String,
    ) {
        if !self.on {
            return;
        }
        if let Some(vc) = vc {
            for (mine, theirs) in self.vc.iter_mut().zip(vc) {
                *mine = (*mine).max(*theirs);
            }
        }
        self.push(EventKind::Recv { from, seq }, t_us, label());
    }
    pub fn local(&mut self, t_us: u64, label: String) {
        if self.on {
            self.push(EventKind::Local, t_us, label);
        }
    }
    pub fn crash(&mut self, t_us: u64) {
        if self.on {
            self.push(EventKind::Crash, t_us, "crash".into());
        }
    }
    pub fn stamp(&mut self, stamp: Vec<u64>) {
        if let Some(e) = self.events.last_mut() {
            e.stamp = Some(stamp);
        }
    }
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

/// All ranks' events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub ranks: Vec<Vec<Event>>,
}

/// The regex to paste into ShiViz for [`History::shiviz`] logs.
pub const SHIVIZ_REGEX: &str = r#"(?<host>\S+) "(?<event>.*)" (?<clock>\{.*\})"#;

impl History {
    /// Every event with its rank.
    pub fn events(&self) -> impl Iterator<Item = (Rank, &Event)> {
        self.ranks
            .iter()
            .enumerate()
            .flat_map(|(r, es)| es.iter().map(move |e| (r, e)))
    }

    /// `[rank][seq]` → index of that send in the rank's events (seqs count from 0 in the
    /// order the sends were recorded, dropped ones included).
    pub fn send_index(&self) -> Vec<Vec<usize>> {
        self.ranks
            .iter()
            .map(|es| {
                es.iter()
                    .enumerate()
                    .filter(|(_, e)| matches!(e.kind, EventKind::Send { .. }))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }

    /// The send event of message `seq` of rank `from`, through a [`History::send_index`].
    pub fn send_of<'h>(&'h self, index: &[Vec<usize>], from: Rank, seq: u64) -> Option<&'h Event> {
        let i = *index.get(from)?.get(seq as usize)?;
        self.ranks[from].get(i)
    }

    /// Number of pairs `e → f` of events (crashes excluded). With vector timestamps that tick
    /// on every event, `f` has exactly `Σ vc_f − 1` predecessors, so this is linear.
    pub fn happens_before_pairs(&self) -> u64 {
        self.events()
            .filter(|(_, e)| e.kind != EventKind::Crash)
            .map(|(_, e)| e.vc.iter().sum::<u64>() - 1)
            .sum()
    }

    /// Events in an order consistent with happens-before (by the sum of the vector).
    fn causal_order(&self) -> Vec<(Rank, usize)> {
        let mut all: Vec<(u64, Rank, usize)> = self
            .ranks
            .iter()
            .enumerate()
            .flat_map(|(r, es)| {
                es.iter()
                    .enumerate()
                    .map(move |(i, e)| (e.vc.iter().sum::<u64>(), r, i))
            })
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(_, r, i)| (r, i)).collect()
    }

    /// The ShiViz log: `rankN "event" {"rankN":k,...}`, one line per event, each rank's events
    /// in order.
    pub fn shiviz(&self) -> String {
        let mut out = String::new();
        for (r, i) in self.causal_order() {
            let e = &self.ranks[r][i];
            let clock: Vec<String> =
                e.vc.iter()
                    .enumerate()
                    .filter(|(_, &k)| k > 0)
                    .map(|(h, k)| format!("\"rank{h}\":{k}"))
                    .collect();
            let mut label = e.label.replace(['"', '\n'], "'");
            if let Some(s) = &e.stamp {
                let _ = write!(label, " @{s:?}");
            }
            let _ = writeln!(out, "rank{r} \"{label}\" {{{}}}", clock.join(","));
        }
        out
    }

    /// An SVG space-time diagram: ranks as horizontal lines, events placed in causal order
    /// (a receive always right of its send), messages as arrows, drops and crashes marked.
    pub fn svg(&self, title: &str) -> String {
        const DX: f64 = 28.0;
        const DY: f64 = 60.0;
        const LEFT: f64 = 80.0;
        const TOP: f64 = 50.0;
        let np = self.ranks.len();
        let mut col: Vec<Vec<usize>> = self.ranks.iter().map(|es| vec![0; es.len()]).collect();
        let mut next_free = vec![0usize; np];
        let sends = self.send_index();
        // receipts[from][seq]: indices (in the receiver's events) of that message's arrivals.
        let mut receipts: Vec<Vec<Vec<usize>>> =
            sends.iter().map(|s| vec![Vec::new(); s.len()]).collect();
        for es in &self.ranks {
            for (j, e) in es.iter().enumerate() {
                if let EventKind::Recv { from, seq } = e.kind {
                    if let Some(v) = receipts.get_mut(from).and_then(|r| r.get_mut(seq as usize)) {
                        v.push(j);
                    }
                }
            }
        }
        for (r, i) in self.causal_order() {
            let mut c = next_free[r];
            if let EventKind::Recv { from, seq } = self.ranks[r][i].kind {
                if let Some(&j) = sends.get(from).and_then(|s| s.get(seq as usize)) {
                    c = c.max(col[from][j] + 1);
                }
            }
            col[r][i] = c;
            next_free[r] = c + 1;
        }
        let cols = next_free.iter().copied().max().unwrap_or(0) + 1;
        let x = |c: usize| LEFT + DX * (c as f64 + 0.5);
        let y = |r: Rank| TOP + DY * r as f64;
        let width = x(cols) + 20.0;
        let height = y(np) + 10.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="monospace" font-size="12">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#336"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14">{}</text>"##,
            xml_escape(title)
        );
        for (r, es) in self.ranks.iter().enumerate() {
            let end = es
                .iter()
                .position(|e| e.kind == EventKind::Crash)
                .map(|i| x(col[r][i]))
                .unwrap_or(x(cols));
            let _ = writeln!(
                s,
                r##"<text x="10" y="{:.0}">rank {r}</text><line x1="{LEFT}" y1="{:.0}" x2="{end:.0}" y2="{:.0}" stroke="#999"/>"##,
                y(r) + 4.0,
                y(r),
                y(r)
            );
        }
        // Messages first, so that event dots are drawn over the arrows.
        for (r, es) in self.ranks.iter().enumerate() {
            for (i, e) in es.iter().enumerate() {
                let EventKind::Send { to, seq, copies } = e.kind else {
                    continue;
                };
                let (x1, y1) = (x(col[r][i]), y(r));
                let receipts = &receipts[r][seq as usize];
                for j in receipts {
                    let _ = writeln!(
                        s,
                        r##"<line x1="{x1:.0}" y1="{y1:.0}" x2="{:.0}" y2="{:.0}" stroke="#336" marker-end="url(#arrow)"/>"##,
                        x(col[to][*j]),
                        y(to)
                    );
                }
                if receipts.is_empty() {
                    // Stop halfway toward the destination: dropped (red x) or lost (grey ?).
                    let (x2, y2) = (x1 + DX * 0.8, (y1 + y(to)) / 2.0);
                    let (color, mark) = if copies == 0 {
                        ("#c00", "×")
                    } else {
                        ("#888", "?")
                    };
                    let _ = writeln!(
                        s,
                        r##"<line x1="{x1:.0}" y1="{y1:.0}" x2="{x2:.0}" y2="{y2:.0}" stroke="{color}" stroke-dasharray="4 3"/><text x="{:.0}" y="{:.0}" fill="{color}" font-size="16">{mark}</text>"##,
                        x2 - 5.0,
                        y2 + 5.0
                    );
                }
            }
        }
        for (r, es) in self.ranks.iter().enumerate() {
            for (i, e) in es.iter().enumerate() {
                let (cx, cy) = (x(col[r][i]), y(r));
                let tip = match &e.stamp {
                    Some(st) => format!("{} @{:?} vc{:?}", e.label, st, e.vc),
                    None => format!("{} vc{:?}", e.label, e.vc),
                };
                let tip = xml_escape(&tip);
                if e.kind == EventKind::Crash {
                    let _ = writeln!(
                        s,
                        r##"<path d="M{:.0},{:.0} l12,12 m0,-12 l-12,12" stroke="#c00" stroke-width="3"><title>{tip}</title></path>"##,
                        cx - 6.0,
                        cy - 6.0
                    );
                    continue;
                }
                let fill = match e.kind {
                    EventKind::Local => "#e90",
                    EventKind::Send { .. } => "#336",
                    _ => "#393",
                };
                let _ = writeln!(
                    s,
                    r##"<circle cx="{cx:.0}" cy="{cy:.0}" r="5" fill="{fill}"><title>{tip}</title></circle>"##
                );
                if let Some(st) = &e.stamp {
                    let text = st
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",");
                    let _ = writeln!(
                        s,
                        r##"<text x="{cx:.0}" y="{:.0}" font-size="9" text-anchor="middle">{}</text>"##,
                        cy - 9.0,
                        xml_escape(&text)
                    );
                }
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_rank_history() -> History {
        let mut a = Recorder::new(0, 2, true);
        let mut b = Recorder::new(1, 2, true);
        let vc = a.send(1, 0, 1, 10, || "send Ping".into());
        a.local(12, "think".into());
        b.recv(0, 0, vc.as_deref(), 20, || "recv Ping".into());
        b.stamp(vec![2]);
        let _ = b.send(0, 0, 0, 25, || "send Pong".into());
        History {
            ranks: vec![a.into_events(), b.into_events()],
        }
    }

    #[test]
    fn vector_timestamps_follow_the_rules() {
        let h = two_rank_history();
        let vcs: Vec<Vec<u64>> = h.events().map(|(_, e)| e.vc.clone()).collect();
        assert_eq!(vcs, vec![vec![1, 0], vec![2, 0], vec![1, 1], vec![1, 2]]);
        assert!(happened_before(&vcs[0], &vcs[2]));
        assert_eq!(vc_cmp(&vcs[1], &vcs[2]), None);
        assert_eq!(h.ranks[1][0].stamp, Some(vec![2]));
    }

    #[test]
    fn shiviz_lines_match_the_regex_shape() {
        let log = two_rank_history().shiviz();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], r#"rank0 "send Ping" {"rank0":1}"#);
        assert!(lines.contains(&r#"rank1 "recv Ping @[2]" {"rank0":1,"rank1":1}"#));
    }

    #[test]
    fn svg_marks_the_dropped_message() {
        let svg = two_rank_history().svg("t");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("×"), "dropped Pong must be marked");
        assert_eq!(svg.matches("marker-end").count(), 1);
    }
}
