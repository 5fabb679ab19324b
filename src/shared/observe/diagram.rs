//! The SVG space-time diagram of a run (`--diagram FILE.svg`), drawn for a learner: one
//! horizontal line per rank, named with its role where the algorithm has roles
//! ([`crate::shared::Algorithm::roles`]), time flowing to the right along an axis in
//! milliseconds, each message an arrow coloured by its kind (a legend names the kinds; each
//! kind has one colour in every run, [`crate::shared::Algorithm::KINDS`]; an open arrowhead
//! for an answer that says no, [`crate::shared::Kind::refused`]), a message to itself an arc
//! above the line, a red × on the intended receiver's line where the fault plan dropped
//! a message, a grey ? there for one that never arrived, a red X where a rank crashed and a
//! green ▶ where it restarted (both on the time axis too; the line is drawn again for each
//! life), and the state changes the algorithm notes ([`crate::shared::Ctx::note`]: "leader",
//! "suspect rank0") written on the rank's line. Vector timestamps and full labels appear on
//! hover. One self-contained file that opens in a browser.
//!
//! Layout: events are placed in columns, taken in time order as far as causality allows (a
//! receive always lies right of its send, and each rank's events keep their order). An event
//! lies right of every event more than a quantum (1/120 of the run) earlier, so the columns
//! read left to right in time, while events close in time share columns; the axis labels the
//! columns with their times, so the spacing is causal, not proportional to time.

use std::fmt::Write as _;

use super::history::{Event, EventKind, History};
use crate::shared::process::Rank;

const DX: f64 = 24.0;
const DY: f64 = 72.0;
const LEFT: f64 = 72.0;
const TOP: f64 = 96.0;
/// Width of one character at the label font size (monospace, 10 px).
const CHAR_W: f64 = 6.1;
const NOTE_MAX: usize = 30;
/// Lane names are written again every this many pixels along a wide diagram.
const NAME_EVERY: f64 = 960.0;
/// Colours of message kinds (red and grey are kept for drops, crashes and losses), the most
/// distinct first: kinds the algorithm declares take them in its order ([`Look::kinds`]),
/// others by their name ([`kind_colours`]), so a kind has the same colour in every run.
const PALETTE: [&str; 16] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#393b79", "#00796b", "#d4a017", "#7b4173", "#6b6ecf", "#637939", "#a55194", "#5ab4ac",
];

/// What the algorithm says about its diagram.
#[derive(Debug, Clone, Copy, Default)]
pub struct Look<'a> {
    /// Its message kinds, in the order they take the palette's colours.
    pub kinds: &'a [&'a str],
    /// Each rank's role ("server", "acceptor"), written under its name; empty: none.
    pub roles: &'a [String],
}

const RED: &str = "#d62728";
const GREY: &str = "#8c8c8c";
const GREEN: &str = "#2a9d2a";

/// Column of every event, and the earliest time in each column.
struct Layout {
    col: Vec<Vec<usize>>,
    col_time: Vec<u64>,
}

fn layout(h: &History) -> Layout {
    let np = h.ranks.len();
    let sends = h.send_index();
    let (t0, t1) = h
        .events()
        .map(|(_, e)| e.t_us)
        .fold((u64::MAX, 0), |(a, b), t| (a.min(t), b.max(t)));
    let quantum = (t1.saturating_sub(t0) / 120).max(1);
    let mut col: Vec<Vec<usize>> = h
        .ranks
        .iter()
        .map(|es| vec![usize::MAX; es.len()])
        .collect();
    let mut next = vec![0usize; np];
    let mut next_free = vec![0usize; np];
    // Placed events as (time, column), in placement order (times nearly sorted).
    let mut placed: Vec<(u64, usize)> = Vec::new();
    let (mut floor_ptr, mut floor_col) = (0usize, 0usize);
    let send_col = |col: &Vec<Vec<usize>>, e: &Event| -> Option<Option<usize>> {
        // Some(None): the send is not placed yet; None: not a receive, or no such send.
        if let EventKind::Recv { from, seq, .. } = e.kind {
            let j = *sends.get(from)?.get(seq as usize)?;
            let c = col[from][j];
            return Some((c != usize::MAX).then_some(c));
        }
        None
    };
    loop {
        let mut best: Option<(bool, u64, Rank)> = None;
        for (r, &n) in next.iter().enumerate() {
            let Some(e) = h.ranks[r].get(n) else {
                continue;
            };
            let ready = !matches!(send_col(&col, e), Some(None));
            let key = (!ready, e.t_us, r);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        let Some((_, t, r)) = best else { break };
        let i = next[r];
        let e = &h.ranks[r][i];
        let mut c = next_free[r];
        if let Some(Some(sc)) = send_col(&col, e) {
            c = c.max(sc + 1);
        }
        while floor_ptr < placed.len() && placed[floor_ptr].0 + quantum < t {
            floor_col = floor_col.max(placed[floor_ptr].1 + 1);
            floor_ptr += 1;
        }
        c = c.max(floor_col);
        col[r][i] = c;
        next_free[r] = c + 1;
        next[r] += 1;
        placed.push((t, c));
    }
    let cols = next_free.iter().copied().max().unwrap_or(0);
    let mut col_time = vec![u64::MAX; cols];
    for (r, es) in h.ranks.iter().enumerate() {
        for (i, e) in es.iter().enumerate() {
            col_time[col[r][i]] = col_time[col[r][i]].min(e.t_us);
        }
    }
    // A column can be empty only in theory; give it its left neighbour's time.
    for c in 1..cols {
        if col_time[c] == u64::MAX {
            col_time[c] = col_time[c - 1];
        }
    }
    Layout { col, col_time }
}

fn ms_label(t_us: u64, span_us: u64) -> String {
    let ms = t_us as f64 / 1000.0;
    if span_us < 10_000 {
        format!("{ms:.2} ms")
    } else if span_us < 1_000_000 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// An SVG space-time diagram of `history` titled `title`, with the algorithm's `look`.
pub fn svg(history: &History, title: &str, look: &Look<'_>) -> String {
    let h = history;
    let np = h.ranks.len();
    let Layout { col, col_time } = layout(h);
    let cols = col_time.len().max(1);
    // Room for the longest role under the rank names.
    let role_w = look
        .roles
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(0);
    let left = LEFT.max(24.0 + CHAR_W * role_w as f64);
    let x = |c: usize| left + DX * (c as f64 + 0.5);
    let y = |r: Rank| TOP + DY * r as f64;

    // Message kinds by name, each with its palette slot (and a dash past the palette).
    let kinds = kind_colours(h, look.kinds);
    let slot = |kind: &str| kinds.iter().find(|k| k.0 == kind).map_or(0, |k| k.1);
    let colour = |kind: &str| PALETTE[slot(kind) % PALETTE.len()];
    let dash = |kind: &str| match slot(kind) / PALETTE.len() {
        0 => "",
        1 => r#" stroke-dasharray="6 2""#,
        _ => r#" stroke-dasharray="2 2""#,
    };
    // One arrowhead per colour (SVG 1.1 markers cannot take the line's colour).
    let arrow = |kind: &str| format!("arrow{}", slot(kind) % PALETTE.len());

    // The legend, wrapped to the diagram's width (at least 640 px).
    let mut legend = String::new();
    let mut width = x(cols) + 40.0;
    let wrap = width.max(640.0) - 20.0;
    let (mut lx, mut ly) = (10.0, 44.0);
    let mut item = |legend: &mut String, w: f64, draw: &dyn Fn(f64, f64) -> String| {
        if lx + w > wrap && lx > 10.0 {
            lx = 10.0;
            ly += 18.0;
        }
        legend.push_str(&draw(lx, ly));
        lx += w + 16.0;
    };
    for (k, _) in &kinds {
        let c = colour(k);
        let d = dash(k);
        let w = 30.0 + CHAR_W * k.chars().count() as f64;
        item(&mut legend, w, &|lx, ly| {
            format!(
                r##"<g class="kind" data-kind="{}"><line x1="{lx:.0}" y1="{:.0}" x2="{:.0}" y2="{:.0}" stroke="{c}"{d} stroke-width="2" marker-end="url(#{})"/><text x="{:.0}" y="{ly:.0}">{}</text></g>"##,
                xml_escape(k),
                ly - 4.0,
                lx + 22.0,
                ly - 4.0,
                arrow(k),
                lx + 28.0,
                xml_escape(k)
            ) + "\n"
        });
    }
    let extras: [(&str, &str); 6] = [
        ("dropped", "×"),
        ("never arrived", "?"),
        ("crash", "X"),
        ("restart", "▶"),
        ("says no", "▷"),
        ("state change", "◆"),
    ];
    for (what, mark) in extras {
        let w = 18.0 + CHAR_W * what.len() as f64;
        let c = match mark {
            "?" => GREY,
            "◆" => "#222",
            "▶" => GREEN,
            "▷" => "#444",
            _ => RED,
        };
        item(&mut legend, w, &|lx, ly| {
            format!(
                r##"<text x="{lx:.0}" y="{ly:.0}" fill="{c}" font-weight="bold">{mark}</text><text x="{:.0}" y="{ly:.0}">{what}</text>"##,
                lx + 12.0
            ) + "\n"
        });
    }
    let top_shift = (ly - 44.0).max(0.0);
    let y = |r: Rank| y(r) + top_shift;
    let axis_y = y(np.saturating_sub(1)) + 44.0;
    let height = axis_y + 68.0;
    width = width.max(640.0);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="10">
<style>text {{ paint-order: stroke; stroke: white; stroke-width: 3px; stroke-linejoin: round; }} .plain text, text.plain {{ stroke: none; }}</style>
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="14">{}</text>"##,
        xml_escape(title)
    );
    s.push_str("<defs>");
    let mut used: Vec<usize> = kinds.iter().map(|k| k.1 % PALETTE.len()).collect();
    used.sort_unstable();
    used.dedup();
    for i in used {
        let c = PALETTE[i];
        let _ = write!(
            s,
            r##"<marker id="arrow{i}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"##
        );
        // Open, for answers that say no.
        let _ = write!(
            s,
            r##"<marker id="arrow{i}-no" viewBox="0 0 12 12" refX="10" refY="6" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M1,1 L11,6 L1,11 z" fill="white" stroke="{c}" stroke-width="1.5"/></marker>"##
        );
    }
    s.push_str("</defs>\n");
    s.push_str(&legend);

    // Rank lines, one segment per life: from the start (or a restart) to a crash (or the
    // end), dotted while the rank is down.
    for (r, es) in h.ranks.iter().enumerate() {
        let _ = write!(
            s,
            r##"<text x="10" y="{:.0}" font-size="12">rank {r}</text>"##,
            y(r) + 4.0
        );
        if let Some(role) = look.roles.get(r).filter(|role| !role.is_empty()) {
            let _ = write!(
                s,
                r##"<text x="10" y="{:.0}" fill="#555" class="role" data-rank="{r}">{}</text>"##,
                y(r) + 18.0,
                xml_escape(role)
            );
        }
        let mut from = Some(left);
        for (i, e) in es.iter().enumerate() {
            let cx = x(col[r][i]);
            match (&e.kind, from) {
                (EventKind::Crash, Some(x1)) => {
                    s.push_str(&lane(r, x1, cx, y(r)));
                    from = None;
                }
                (EventKind::Restart, None) => {
                    let down = es[..i]
                        .iter()
                        .rposition(|e| e.kind == EventKind::Crash)
                        .map_or(left, |j| x(col[r][j]));
                    let _ = write!(
                        s,
                        r##"<line x1="{down:.0}" y1="{y:.0}" x2="{cx:.0}" y2="{y:.0}" stroke="#ccc" stroke-width="1" stroke-dasharray="1 4" class="down"/>"##,
                        y = y(r)
                    );
                    from = Some(cx);
                }
                _ => {}
            }
        }
        if let Some(x1) = from {
            s.push_str(&lane(r, x1, x(cols), y(r)));
        }
        // A wide run scrolls its names out of view: repeat them along the line.
        let name = match look.roles.get(r).filter(|role| !role.is_empty()) {
            Some(role) => format!("rank {r} {}", xml_escape(role)),
            None => format!("rank {r}"),
        };
        let mut rx = left + NAME_EVERY;
        while rx + 200.0 < x(cols) {
            let _ = write!(
                s,
                r##"<text x="{rx:.0}" y="{:.0}" fill="#999" class="lane-name" data-rank="{r}">{name}</text>"##,
                y(r) + 15.0
            );
            rx += NAME_EVERY;
        }
        s.push('\n');
    }

    // The time axis: a tick per column, a label wherever one fits.
    let span = col_time.last().copied().unwrap_or(0);
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{axis_y:.0}" x2="{:.0}" y2="{axis_y:.0}" stroke="#444"/><text x="10" y="{:.0}">time</text>"##,
        x(cols),
        axis_y + 4.0
    );
    let mut label_end = f64::MIN;
    let mut last_t = None;
    for (c, &t) in col_time.iter().enumerate() {
        let cx = x(c);
        let _ = write!(
            s,
            r##"<line x1="{cx:.0}" y1="{axis_y:.0}" x2="{cx:.0}" y2="{:.0}" stroke="#444"/>"##,
            axis_y + 3.0
        );
        let text = ms_label(t, span);
        let w = CHAR_W * text.len() as f64;
        if cx - w / 2.0 > label_end + 8.0 && last_t != Some(text.clone()) {
            let _ = write!(
                s,
                r##"<line x1="{cx:.0}" y1="{axis_y:.0}" x2="{cx:.0}" y2="{:.0}" stroke="#444"/><text x="{cx:.0}" y="{:.0}" text-anchor="middle">{text}</text>"##,
                axis_y + 6.0,
                axis_y + 17.0
            );
            label_end = cx + w / 2.0;
            last_t = Some(text);
        }
    }
    // Crashes and restarts on the axis too, with their times, so a learner can read when.
    let mut fault_end = f64::MIN;
    for (r, es) in h.ranks.iter().enumerate() {
        for (i, e) in es.iter().enumerate() {
            let (mark, c, what) = match e.kind {
                EventKind::Crash => ("X", RED, "crashed"),
                EventKind::Restart => ("▶", GREEN, "restarted"),
                _ => continue,
            };
            let cx = x(col[r][i]);
            let text = format!("{mark} {}", ms_label(e.t_us, span));
            let w = CHAR_W * text.chars().count() as f64;
            let ty = if cx - 3.0 > fault_end {
                axis_y + 29.0
            } else {
                axis_y + 40.0
            };
            fault_end = fault_end.max(cx + w);
            let _ = writeln!(
                s,
                r##"<text x="{:.0}" y="{ty:.0}" fill="{c}" class="axis-fault" data-rank="{r}"><title>rank {r} {what} at {:.3} ms</title>{text}</text>"##,
                cx - 3.0,
                e.t_us as f64 / 1000.0
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{:.0}" fill="#666">columns keep causal order; spacing is not proportional to time</text>"##,
        axis_y + 56.0
    );

    // Messages first, so that event marks are drawn over the arrows.
    let receipts = receipts_of(h);
    for (r, es) in h.ranks.iter().enumerate() {
        for (i, e) in es.iter().enumerate() {
            let EventKind::Send {
                to,
                seq,
                copies,
                kind,
                refused,
            } = &e.kind
            else {
                continue;
            };
            let (c, d) = (colour(kind), dash(kind));
            let head = if *refused {
                format!("{}-no", arrow(kind))
            } else {
                arrow(kind)
            };
            let said = if *refused { " (says no)" } else { "" };
            let (x1, y1) = (x(col[r][i]), y(r));
            let got = &receipts[r][*seq as usize];
            for j in got {
                let (x2, y2) = (x(col[*to][*j]), y(*to));
                if *to == r {
                    // A message to itself (`--colocate`): an arc above the line, which a
                    // straight arrow along it would hide.
                    let _ = writeln!(
                        s,
                        r##"<path d="M{x1:.0},{y1:.0} Q{:.0},{:.0} {x2:.0},{y2:.0}" fill="none" stroke="{c}"{d} stroke-width="1.5" marker-end="url(#{})" class="self"><title>{}{}</title></path>"##,
                        (x1 + x2) / 2.0,
                        y1 - 28.0,
                        head,
                        xml_escape(&e.label),
                        said
                    );
                    continue;
                }
                let _ = writeln!(
                    s,
                    r##"<line x1="{x1:.0}" y1="{y1:.0}" x2="{x2:.0}" y2="{y2:.0}" stroke="{c}"{d} stroke-width="1.5" marker-end="url(#{})"><title>{}{}</title></line>"##,
                    head,
                    xml_escape(&e.label),
                    said
                );
            }
            if got.is_empty() {
                // Dashed to the intended receiver's line, where the mark says why it did not
                // get there: dropped by the fault plan (red ×) or never arrived (grey ?).
                let mut x2 = x1 + DX * 0.8;
                if *copies > 0 {
                    // In flight when its receiver crashed: lost there, not before.
                    let crash = h.ranks[*to]
                        .iter()
                        .position(|f| f.kind == EventKind::Crash && f.t_us >= e.t_us);
                    if let Some(k) = crash {
                        x2 = x2.max(x(col[*to][k]) + DX * 0.6);
                    }
                }
                let y2 = y(*to);
                let (mc, mark, why) = if *copies == 0 {
                    (RED, "×", "dropped")
                } else {
                    (GREY, "?", "never arrived")
                };
                let _ = writeln!(
                    s,
                    r##"<line x1="{x1:.0}" y1="{y1:.0}" x2="{x2:.0}" y2="{y2:.0}" stroke="{c}" stroke-dasharray="4 3"><title>{} ({why})</title></line><text x="{x2:.0}" y="{:.0}" fill="{mc}" font-size="15" font-weight="bold" text-anchor="middle" class="plain lost" data-to="{to}">{mark}</text>"##,
                    xml_escape(&e.label),
                    y2 + 5.0
                );
            }
        }
    }

    // Events, and the notes written on the rank lines without overlapping.
    for (r, es) in h.ranks.iter().enumerate() {
        let mut tier_end = [f64::MIN; 2];
        for (i, e) in es.iter().enumerate() {
            let (cx, cy) = (x(col[r][i]), y(r));
            let tip = xml_escape(&tooltip(e));
            match &e.kind {
                EventKind::Crash => {
                    let _ = writeln!(
                        s,
                        r##"<path d="M{:.0},{:.0} l14,14 m0,-14 l-14,14" stroke="{RED}" stroke-width="3"><title>{tip}</title></path>"##,
                        cx - 7.0,
                        cy - 7.0
                    );
                }
                EventKind::Note | EventKind::Restart => {
                    // A restart's label is never cut: it says what the new life began from.
                    let (text, ink) = if e.kind == EventKind::Restart {
                        let _ = writeln!(
                            s,
                            r##"<path d="M{:.0},{:.0} l12,7 l-12,7 z" fill="{GREEN}" class="restart"><title>{tip}</title></path>"##,
                            cx - 5.0,
                            cy - 7.0
                        );
                        (e.label.clone(), GREEN)
                    } else {
                        let _ = writeln!(
                            s,
                            r##"<path d="M{cx:.0},{:.0} l5,5 l-5,5 l-5,-5 z" fill="#222"><title>{tip}</title></path>"##,
                            cy - 5.0
                        );
                        (truncate(&e.label, NOTE_MAX), "#222")
                    };
                    let w = CHAR_W * text.chars().count() as f64;
                    // The lowest tier where the label fits; else the freest one, moved right.
                    let (tier, start) = match tier_end.iter().position(|&end| end + 6.0 <= cx - 3.0)
                    {
                        Some(t) => (t, cx - 3.0),
                        None => {
                            let t = if tier_end[0] <= tier_end[1] { 0 } else { 1 };
                            (t, tier_end[t] + 6.0)
                        }
                    };
                    tier_end[tier] = start + w;
                    let ty = cy - 10.0 - 13.0 * tier as f64;
                    if start > cx - 3.0 {
                        let _ = write!(
                            s,
                            r##"<line x1="{cx:.0}" y1="{:.0}" x2="{start:.0}" y2="{:.0}" stroke="#999" stroke-width="0.8"/>"##,
                            cy - 5.0,
                            ty - 3.0
                        );
                    }
                    let _ = writeln!(
                        s,
                        r##"<text x="{start:.0}" y="{ty:.0}" fill="{ink}"><title>{tip}</title>{}</text>"##,
                        xml_escape(&text)
                    );
                }
                kind => {
                    let (fill, stroke) = match kind {
                        EventKind::Send { kind, .. } => (colour(kind), "none"),
                        EventKind::Recv { kind, .. } => ("white", colour(kind)),
                        _ => ("#555", "none"),
                    };
                    let _ = writeln!(
                        s,
                        r##"<circle cx="{cx:.0}" cy="{cy:.0}" r="4" fill="{fill}" stroke="{stroke}" stroke-width="2"><title>{tip}</title></circle>"##
                    );
                    // A scalar logical clock (Lamport's) is short enough to show; vectors
                    // only on hover.
                    if let Some([v]) = e.stamp.as_deref() {
                        let _ = writeln!(
                            s,
                            r##"<text x="{cx:.0}" y="{:.0}" font-size="9" text-anchor="middle">{v}</text>"##,
                            cy - 8.0
                        );
                    }
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The message kinds of the run, by name, each with its palette slot: a declared kind's place
/// in `declared`; another's, the slot its name hashes to, or the next free one (taken in name
/// order). So a kind keeps its colour from run to run, and no two kinds share one until the
/// palette is full (then a dash tells them apart).
fn kind_colours<'h>(h: &'h History, declared: &[&str]) -> Vec<(&'h str, usize)> {
    let mut names: Vec<&str> = h
        .events()
        .filter_map(|(_, e)| match &e.kind {
            EventKind::Send { kind, .. } | EventKind::Recv { kind, .. } => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let n = PALETTE.len();
    let mut taken = vec![0usize; n];
    for i in 0..declared.len() {
        taken[i % n] += 1;
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Some(i) = declared.iter().position(|d| *d == name) {
            out.push((name, i));
            continue;
        }
        // FNV-1a: fixed, unlike std's hasher, so colours do not change between builds.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let round = *taken.iter().min().unwrap_or(&0);
        let first = (hash % n as u64) as usize;
        let i = (0..n)
            .map(|k| (first + k) % n)
            .find(|&i| taken[i] == round)
            .unwrap_or(first);
        out.push((name, round * n + i));
        taken[i] += 1;
    }
    out
}

/// One life of rank `r`'s line.
fn lane(r: Rank, x1: f64, x2: f64, y: f64) -> String {
    format!(
        r##"<line x1="{x1:.0}" y1="{y:.0}" x2="{x2:.0}" y2="{y:.0}" stroke="#bbb" stroke-width="2" class="lane" data-rank="{r}"/>"##
    )
}

/// `[from][seq]`: the indices, in the receiver's events, of that message's arrivals.
fn receipts_of(h: &History) -> Vec<Vec<Vec<usize>>> {
    let mut receipts: Vec<Vec<Vec<usize>>> = h
        .send_index()
        .iter()
        .map(|s| vec![Vec::new(); s.len()])
        .collect();
    for es in &h.ranks {
        for (j, e) in es.iter().enumerate() {
            if let EventKind::Recv { from, seq, .. } = e.kind {
                if let Some(v) = receipts.get_mut(from).and_then(|r| r.get_mut(seq as usize)) {
                    v.push(j);
                }
            }
        }
    }
    receipts
}

fn tooltip(e: &Event) -> String {
    let mut t = format!(
        "{} at {:.3} ms, vc {:?}",
        e.label,
        e.t_us as f64 / 1000.0,
        e.vc
    );
    if let Some(st) = &e.stamp {
        let _ = write!(t, ", stamp {st:?}");
    }
    t
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
    use crate::shared::observe::history::tests::two_rank_history;

    #[test]
    fn svg_marks_the_dropped_message_names_kinds_and_writes_notes() {
        let svg = svg(&two_rank_history(), "t", &Look::default());
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("×"), "dropped Pong must be marked");
        // One delivered arrow, plus the legend's sample arrows of the two kinds.
        assert_eq!(svg.matches("marker-end").count(), 3);
        assert!(svg.contains(">Ping</text>") && svg.contains(">Pong</text>"));
        assert!(
            svg.contains(">pinged</text>"),
            "the note is written on the line"
        );
        assert!(svg.contains(">time</text>"));
    }

    /// Three ranks: rank 0 pings rank 1, drops a Ping to rank 2, crashes at 30, and restarts
    /// at 60 to ping rank 1 again; rank 1's Pongs to rank 0, one in flight at its crash and one
    /// sent to the crashed rank, never arrive.
    fn crash_and_restart_history() -> History {
        use crate::shared::observe::history::{Recorder, Sent};
        let mut a = Recorder::new(0, 3, true);
        let mut b = Recorder::new(1, 3, true);
        let c = Recorder::new(2, 3, true);
        let sent = |to, seq, copies, kind| Sent {
            to,
            seq,
            copies,
            kind,
            refused: false,
        };
        let vc = a.send(sent(1, 0, 1, "Ping"), 10, || "send Ping to rank1".into());
        b.recv(0, 0, "Ping", vc.as_deref(), 15, || {
            "recv Ping from rank0".into()
        });
        let _ = a.send(sent(2, 1, 0, "Ping"), 20, || "send Ping to rank2".into());
        let _ = b.send(sent(0, 0, 1, "Pong"), 22, || "send Pong to rank0".into());
        a.crash(30);
        let _ = b.send(sent(0, 1, 1, "Pong"), 40, || "send Pong to rank0".into());
        a.restart(60, "restarted with 3 stored records from rank0.wal".into());
        let vc = a.send(sent(1, 2, 1, "Ping"), 70, || "send Ping to rank1".into());
        b.recv(0, 2, "Ping", vc.as_deref(), 75, || {
            "recv Ping from rank0".into()
        });
        History {
            ranks: vec![a.into_events(), b.into_events(), c.into_events()],
        }
    }

    fn num(n: roxmltree::Node<'_, '_>, attr: &str) -> f64 {
        n.attribute(attr).unwrap().parse().unwrap()
    }

    fn has_class(n: roxmltree::Node<'_, '_>, class: &str) -> bool {
        n.attribute("class")
            .is_some_and(|c| c.split(' ').any(|c| c == class))
    }

    /// The lane segments of each rank: (rank, x1, x2, y).
    fn lanes(doc: &roxmltree::Document<'_>) -> Vec<(usize, f64, f64, f64)> {
        doc.descendants()
            .filter(|n| has_class(*n, "lane"))
            .map(|n| {
                let r = n.attribute("data-rank").unwrap().parse().unwrap();
                (r, num(n, "x1"), num(n, "x2"), num(n, "y1"))
            })
            .collect()
    }

    /// The text of every `<text>`, without its tooltip.
    fn texts(doc: &roxmltree::Document<'_>) -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| {
                n.children()
                    .filter(|c| c.is_text())
                    .filter_map(|c| c.text())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_restarted_rank_has_a_lane_for_each_life_and_the_restart_is_marked() {
        let text = svg(&crash_and_restart_history(), "t", &Look::default());
        let doc = roxmltree::Document::parse(&text).unwrap();
        let of0: Vec<_> = lanes(&doc).into_iter().filter(|l| l.0 == 0).collect();
        assert_eq!(of0.len(), 2, "two lives: {of0:?}");
        assert!(
            of0[1].1 > of0[0].2,
            "the second life starts after the crash"
        );
        assert!(of0[1].2 > of0[1].1, "and is drawn: {of0:?}");
        assert_eq!(
            doc.descendants()
                .filter(|n| has_class(*n, "restart"))
                .count(),
            1
        );
        let texts = texts(&doc);
        assert!(
            texts.contains(&"restarted with 3 stored records from rank0.wal".to_string()),
            "the restart's label is whole: {texts:?}"
        );
        // The crash and the restart on the time axis, with their times.
        let on_axis: Vec<&str> = doc
            .descendants()
            .filter(|n| has_class(*n, "axis-fault"))
            .filter_map(|n| n.children().find(|c| c.is_text()).and_then(|c| c.text()))
            .collect();
        assert_eq!(on_axis, ["X 0.03 ms", "▶ 0.06 ms"]);
    }

    #[test]
    fn a_lost_message_is_marked_on_its_receivers_lane() {
        let text = svg(&crash_and_restart_history(), "t", &Look::default());
        let doc = roxmltree::Document::parse(&text).unwrap();
        let lane_y = |r: usize| lanes(&doc).iter().find(|l| l.0 == r).unwrap().3;
        let marks: Vec<_> = doc
            .descendants()
            .filter(|n| has_class(*n, "lost"))
            .map(|n| {
                let to: usize = n.attribute("data-to").unwrap().parse().unwrap();
                (to, n.text().unwrap().to_string(), num(n, "y"))
            })
            .collect();
        assert_eq!(marks.len(), 3, "{marks:?}");
        for (to, mark, y) in &marks {
            // The mark's baseline sits 5 px below the centre of its 15 px glyph.
            assert!(
                (y - 5.0 - lane_y(*to)).abs() < 1.0,
                "{mark} to rank {to}: {marks:?}"
            );
        }
        let kinds: Vec<(usize, &str)> = marks.iter().map(|m| (m.0, m.1.as_str())).collect();
        assert_eq!(kinds, [(2, "×"), (0, "?"), (0, "?")]);
        // The Pong in flight at the crash is lost at the crash, not before it.
        let crash_x = doc
            .descendants()
            .filter(|n| has_class(*n, "lane") && n.attribute("data-rank") == Some("0"))
            .map(|n| num(n, "x2"))
            .next()
            .unwrap();
        let lost_x: Vec<f64> = doc
            .descendants()
            .filter(|n| has_class(*n, "lost") && n.attribute("data-to") == Some("0"))
            .map(|n| num(n, "x"))
            .collect();
        assert!(
            lost_x.iter().all(|x| *x > crash_x),
            "{lost_x:?} vs crash at {crash_x}"
        );
    }

    #[test]
    fn every_kind_has_its_own_colour_whatever_the_order_of_first_sends() {
        use crate::shared::observe::history::{Recorder, Sent};
        // Raft's kinds, sent in one order and in the reverse.
        let raft = [
            "PreVote",
            "PreVoteResp",
            "RequestVote",
            "Vote",
            "AppendEntries",
            "AppendResp",
            "InstallSnapshot",
            "Request",
            "Redirect",
            "Reply",
        ];
        let colours = |order: &[&str]| {
            let mut a = Recorder::new(0, 2, true);
            for (seq, kind) in order.iter().enumerate() {
                let sent = Sent {
                    to: 1,
                    seq: seq as u64,
                    copies: 1,
                    kind,
                    refused: false,
                };
                let _ = a.send(sent, seq as u64, || format!("send {kind}"));
            }
            let h = History {
                ranks: vec![a.into_events(), Vec::new()],
            };
            let text = svg(&h, "t", &Look::default());
            let doc = roxmltree::Document::parse(&text).unwrap();
            let mut out: Vec<(String, String)> = doc
                .descendants()
                .filter(|n| has_class(*n, "kind"))
                .map(|g| {
                    let line = g.children().find(|c| c.has_tag_name("line")).unwrap();
                    let look = format!(
                        "{} {}",
                        line.attribute("stroke").unwrap(),
                        line.attribute("stroke-dasharray").unwrap_or("")
                    );
                    (g.attribute("data-kind").unwrap().to_string(), look)
                })
                .collect();
            out.sort();
            out
        };
        let forward = colours(&raft);
        let mut reversed = raft;
        reversed.reverse();
        assert_eq!(
            forward,
            colours(&reversed),
            "colours follow the kind, not the order"
        );
        assert_eq!(forward.len(), raft.len());
        let mut looks: Vec<&String> = forward.iter().map(|k| &k.1).collect();
        looks.sort();
        looks.dedup();
        assert_eq!(looks.len(), raft.len(), "{forward:?}");
        assert!(forward
            .iter()
            .all(|k| !k.1.starts_with(RED) && !k.1.starts_with(GREY)));
        // Past the palette, a dash tells kinds apart.
        let many: Vec<String> = (0..PALETTE.len() + 4).map(|i| format!("K{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let looks = colours(&many);
        let mut distinct: Vec<&String> = looks.iter().map(|k| &k.1).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), many.len(), "{looks:?}");
    }

    #[test]
    fn declared_kinds_take_the_palette_in_order_and_roles_name_the_lanes() {
        let roles = ["proposer".to_string(), "acceptor+learner".to_string()];
        let look = Look {
            kinds: &["Pong", "Ping"],
            roles: &roles,
        };
        let text = svg(&two_rank_history(), "t", &look);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let stroke = |kind: &str| {
            let g = doc
                .descendants()
                .find(|n| n.attribute("data-kind") == Some(kind))
                .unwrap();
            let line = g.children().find(|c| c.has_tag_name("line")).unwrap();
            line.attribute("stroke").unwrap().to_string()
        };
        assert_eq!(
            (stroke("Pong"), stroke("Ping")),
            (PALETTE[0].into(), PALETTE[1].into())
        );
        let named: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| has_class(*n, "role"))
            .map(|n| {
                let r = n.attribute("data-rank").unwrap().to_string();
                (r, n.text().unwrap().to_string())
            })
            .collect();
        assert_eq!(
            named,
            [
                ("0".to_string(), roles[0].clone()),
                ("1".to_string(), roles[1].clone())
            ]
        );
        // The lanes start right of the longest role.
        let start = lanes(&doc)[0].1;
        assert!(start >= 10.0 + CHAR_W * roles[1].len() as f64, "{start}");
    }

    #[test]
    fn a_message_to_itself_is_an_arc_off_the_line() {
        use crate::shared::observe::history::{Recorder, Sent};
        let mut a = Recorder::new(0, 1, true);
        let sent = Sent {
            to: 0,
            seq: 0,
            copies: 1,
            kind: "Prepare",
            refused: false,
        };
        let vc = a.send(sent, 10, || "send Prepare to rank0".into());
        a.recv(0, 0, "Prepare", vc.as_deref(), 12, || {
            "recv Prepare from rank0".into()
        });
        let h = History {
            ranks: vec![a.into_events()],
        };
        let text = svg(&h, "t", &Look::default());
        let doc = roxmltree::Document::parse(&text).unwrap();
        let lane_y = lanes(&doc)[0].3;
        let arrows: Vec<_> = doc
            .descendants()
            .filter(|n| {
                n.attribute("marker-end").is_some() && !has_class(n.parent().unwrap(), "kind")
            })
            .collect();
        assert_eq!(arrows.len(), 1);
        // Its path rises off the lane: some coordinate lies well above it.
        let d = arrows[0]
            .attribute("d")
            .expect("drawn as a curve, not a line");
        let ys: Vec<f64> = d
            .split([' ', 'M', 'Q'])
            .filter_map(|p| p.split(',').nth(1)?.parse().ok())
            .collect();
        assert!(
            ys.iter().any(|y| *y < lane_y - 10.0),
            "{d} at lane {lane_y}"
        );
    }

    #[test]
    fn an_answer_that_says_no_has_an_open_arrowhead() {
        use crate::shared::observe::history::{Recorder, Sent};
        let mut a = Recorder::new(0, 2, true);
        let mut b = Recorder::new(1, 2, true);
        for (seq, refused) in [(0, false), (1, true)] {
            let sent = Sent {
                to: 1,
                seq,
                copies: 1,
                kind: "Vote",
                refused,
            };
            let t = 10 * seq + 10;
            let vc = a.send(sent, t, || format!("send Vote {refused} to rank1"));
            b.recv(0, seq, "Vote", vc.as_deref(), t + 5, || "recv".into());
        }
        let h = History {
            ranks: vec![a.into_events(), b.into_events()],
        };
        let look = Look {
            kinds: &["Vote"],
            roles: &[],
        };
        let text = svg(&h, "t", &look);
        let doc = roxmltree::Document::parse(&text).unwrap();
        // The head of each delivered arrow, in send order: filled, then open.
        let heads: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("line") && n.attribute("marker-end").is_some())
            .filter(|n| !has_class(n.parent().unwrap(), "kind"))
            .map(|n| {
                let id = n.attribute("marker-end").unwrap();
                let id = &id["url(#".len()..id.len() - 1];
                let marker = doc
                    .descendants()
                    .find(|m| m.attribute("id") == Some(id))
                    .unwrap();
                let path = marker.first_element_child().unwrap();
                let title = n.first_element_child().unwrap().text().unwrap();
                (
                    path.attribute("fill").unwrap().to_string(),
                    title.to_string(),
                )
            })
            .collect();
        assert_eq!(heads.len(), 2, "{heads:?}");
        assert_eq!(heads[0].0, PALETTE[0]);
        assert_eq!(heads[1].0, "white");
        assert!(heads[1].1.ends_with("(says no)"), "{heads:?}");
    }

    #[test]
    fn a_wide_diagram_repeats_the_lane_names_along_the_lines() {
        use crate::shared::observe::history::Recorder;
        let (mut a, mut b) = (Recorder::new(0, 2, true), Recorder::new(1, 2, true));
        for i in 0..200 {
            a.local(i * 10, "tick".into());
            b.local(i * 10 + 5, "tock".into());
        }
        let h = History {
            ranks: vec![a.into_events(), b.into_events()],
        };
        let roles = ["server".to_string(), "client".to_string()];
        let look = Look {
            kinds: &[],
            roles: &roles,
        };
        let text = svg(&h, "t", &look);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let end = lanes(&doc).iter().map(|l| l.2).fold(0.0, f64::max);
        assert!(end > 2.0 * NAME_EVERY, "wide enough to need it: {end}");
        for (r, role) in roles.iter().enumerate() {
            let xs: Vec<f64> = doc
                .descendants()
                .filter(|n| has_class(*n, "lane-name"))
                .filter(|n| n.attribute("data-rank") == Some(&r.to_string()))
                .inspect(|n| assert_eq!(n.text(), Some(format!("rank {r} {role}").as_str())))
                .map(|n| num(n, "x"))
                .collect();
            // Never more than NAME_EVERY px (plus the margin) without a name in view.
            assert!(!xs.is_empty(), "rank {r}");
            let mut seen = vec![0.0];
            seen.extend(&xs);
            seen.push(end);
            for w in seen.windows(2) {
                assert!(
                    w[1] - w[0] <= NAME_EVERY + 200.0,
                    "rank {r}: {xs:?} to {end}"
                );
            }
        }
    }

    #[test]
    fn receives_lie_right_of_sends_and_columns_follow_time() {
        let h = two_rank_history();
        let l = layout(&h);
        // rank 0: send Ping (t 10), think (12); rank 1: recv Ping (20), note (22), send (25).
        assert!(l.col[1][0] > l.col[0][0]);
        for w in l.col_time.windows(2) {
            assert!(
                w[0] <= w[1],
                "column times must not go back: {:?}",
                l.col_time
            );
        }
    }

    #[test]
    fn notes_of_one_rank_never_overlap() {
        use crate::shared::observe::history::Recorder;
        let mut a = Recorder::new(0, 1, true);
        for i in 0..12 {
            a.note(i, format!("state number {i} of many"));
        }
        let h = History {
            ranks: vec![a.into_events()],
        };
        let svg = svg(&h, "notes", &Look::default());
        // (x, y, width) of every note label; no two on one tier may overlap.
        let re_x = |s: &str| -> f64 { s.parse().unwrap() };
        let mut boxes: Vec<(f64, f64, f64)> = Vec::new();
        let is_note = |t: &&str| {
            let head = &t[..t.find('>').unwrap_or(0)];
            head.contains("fill=\"#222\"") && t[head.len()..].starts_with("><title>")
        };
        for t in svg.split("<text ").filter(is_note) {
            let xs = t.split("x=\"").nth(1).unwrap().split('"').next().unwrap();
            let ys = t.split("y=\"").nth(1).unwrap().split('"').next().unwrap();
            let text = t
                .split("</title>")
                .nth(1)
                .unwrap()
                .split("</text>")
                .next()
                .unwrap();
            boxes.push((re_x(xs), re_x(ys), CHAR_W * text.chars().count() as f64));
        }
        assert_eq!(boxes.len(), 12, "{boxes:?}");
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                if a.1 == b.1 {
                    assert!(a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0, "{a:?} overlaps {b:?}");
                }
            }
        }
    }
}
