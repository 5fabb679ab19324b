//! The SVG space-time diagram of a run (`--diagram FILE.svg`), drawn for a learner: one
//! horizontal line per rank, time flowing to the right along an axis in milliseconds, each
//! message an arrow coloured by its kind (a legend names the kinds), dropped messages cut short
//! with a red ×, messages that never arrived with a grey ?, crashes as a red X where the line
//! ends, and the state changes the algorithm notes ([`crate::shared::Ctx::note`]: "leader",
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
/// Colours of message kinds, in first-seen order (red is kept for drops and crashes).
const PALETTE: [&str; 9] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#9c755f", "#edc948", "#ff9da7",
    "#6b6ecf",
];
const RED: &str = "#d62728";
const GREY: &str = "#8c8c8c";

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

/// An SVG space-time diagram of `history` titled `title`.
pub fn svg(history: &History, title: &str) -> String {
    let h = history;
    let np = h.ranks.len();
    let Layout { col, col_time } = layout(h);
    let cols = col_time.len().max(1);
    let x = |c: usize| LEFT + DX * (c as f64 + 0.5);
    let y = |r: Rank| TOP + DY * r as f64;

    // Message kinds in the order of their first send in time, each with its colour.
    let mut first_send: Vec<(u64, &str)> = Vec::new();
    for (_, e) in h.events() {
        if let EventKind::Send { kind, .. } = &e.kind {
            match first_send.iter_mut().find(|(_, k)| k == kind) {
                Some(f) => f.0 = f.0.min(e.t_us),
                None => first_send.push((e.t_us, kind)),
            }
        }
    }
    first_send.sort();
    let kinds: Vec<&str> = first_send.into_iter().map(|(_, k)| k).collect();
    let colour = |kind: &str| {
        let i = kinds.iter().position(|k| *k == kind).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    // One arrowhead per colour (SVG 1.1 markers cannot take the line's colour).
    let arrow = |kind: &str| {
        let i = kinds.iter().position(|k| *k == kind).unwrap_or(0);
        format!("arrow{}", i % PALETTE.len())
    };

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
    for k in &kinds {
        let c = colour(k);
        let w = 30.0 + CHAR_W * k.chars().count() as f64;
        item(&mut legend, w, &|lx, ly| {
            format!(
                r##"<line x1="{lx:.0}" y1="{:.0}" x2="{:.0}" y2="{:.0}" stroke="{c}" stroke-width="2" marker-end="url(#{})"/><text x="{:.0}" y="{ly:.0}">{}</text>"##,
                ly - 4.0,
                lx + 22.0,
                ly - 4.0,
                arrow(k),
                lx + 28.0,
                xml_escape(k)
            ) + "\n"
        });
    }
    let extras: [(&str, &str); 4] = [
        ("dropped", "×"),
        ("never arrived", "?"),
        ("crash", "X"),
        ("state change", "◆"),
    ];
    for (what, mark) in extras {
        let w = 18.0 + CHAR_W * what.len() as f64;
        let c = match mark {
            "?" => GREY,
            "◆" => "#222",
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
    let height = axis_y + 46.0;
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
    for (i, c) in PALETTE.iter().enumerate().take(kinds.len()) {
        let _ = write!(
            s,
            r##"<marker id="arrow{i}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"##
        );
    }
    s.push_str("</defs>\n");
    s.push_str(&legend);

    // Rank lines, ending at a crash.
    for (r, es) in h.ranks.iter().enumerate() {
        let end = es
            .iter()
            .position(|e| e.kind == EventKind::Crash)
            .map(|i| x(col[r][i]))
            .unwrap_or(x(cols));
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.0}" font-size="12">rank {r}</text><line x1="{LEFT}" y1="{:.0}" x2="{end:.0}" y2="{:.0}" stroke="#bbb" stroke-width="2"/>"##,
            y(r) + 4.0,
            y(r),
            y(r)
        );
    }

    // The time axis: a tick per column, a label wherever one fits.
    let span = col_time.last().copied().unwrap_or(0);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{axis_y:.0}" x2="{:.0}" y2="{axis_y:.0}" stroke="#444"/><text x="10" y="{:.0}">time</text>"##,
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
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.0}" fill="#666">columns keep causal order; spacing is not proportional to time</text>"##,
        axis_y + 34.0
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
            } = &e.kind
            else {
                continue;
            };
            let c = colour(kind);
            let (x1, y1) = (x(col[r][i]), y(r));
            let got = &receipts[r][*seq as usize];
            for j in got {
                let _ = writeln!(
                    s,
                    r##"<line x1="{x1:.0}" y1="{y1:.0}" x2="{:.0}" y2="{:.0}" stroke="{c}" stroke-width="1.5" marker-end="url(#{})"><title>{}</title></line>"##,
                    x(col[*to][*j]),
                    y(*to),
                    arrow(kind),
                    xml_escape(&e.label)
                );
            }
            if got.is_empty() {
                // Cut short halfway: dropped by the fault plan (red ×) or never arrived (grey ?).
                let (x2, y2) = (x1 + DX * 0.8, (y1 + y(*to)) / 2.0);
                let (mc, mark, why) = if *copies == 0 {
                    (RED, "×", "dropped")
                } else {
                    (GREY, "?", "never arrived")
                };
                let _ = writeln!(
                    s,
                    r##"<line x1="{x1:.0}" y1="{y1:.0}" x2="{x2:.0}" y2="{y2:.0}" stroke="{c}" stroke-dasharray="4 3"><title>{} ({why})</title></line><text x="{:.0}" y="{:.0}" fill="{mc}" font-size="15" font-weight="bold" class="plain">{mark}</text>"##,
                    xml_escape(&e.label),
                    x2 - 4.0,
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
                EventKind::Note => {
                    let _ = writeln!(
                        s,
                        r##"<path d="M{cx:.0},{:.0} l5,5 l-5,5 l-5,-5 z" fill="#222"><title>{tip}</title></path>"##,
                        cy - 5.0
                    );
                    let text = truncate(&e.label, NOTE_MAX);
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
                        r##"<text x="{start:.0}" y="{ty:.0}" fill="#222"><title>{tip}</title>{}</text>"##,
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
        let svg = svg(&two_rank_history(), "t");
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
        let svg = svg(&h, "notes");
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
