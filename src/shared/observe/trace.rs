//! The ShiViz log of a run (`--trace FILE`): one line per event, `rankN "label" {"rankN":k,...}`,
//! each rank's events in order, so that the run opens as a space-time diagram in ShiViz
//! (paste [`SHIVIZ_REGEX`] as its parsing regex).

use std::fmt::Write as _;

use super::history::History;

/// The regex to paste into ShiViz for [`shiviz`] logs.
pub const SHIVIZ_REGEX: &str = r#"(?<host>\S+) "(?<event>.*)" (?<clock>\{.*\})"#;

/// The ShiViz log: `rankN "event" {"rankN":k,...}`, one line per event, each rank's events
/// in order.
pub fn shiviz(history: &History) -> String {
    let mut out = String::new();
    for (r, i) in history.causal_order() {
        let e = &history.ranks[r][i];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::observe::history::tests::two_rank_history;

    #[test]
    fn shiviz_lines_match_the_regex_shape() {
        let log = shiviz(&two_rank_history());
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], r#"rank0 "send Ping" {"rank0":1}"#);
        assert!(lines.contains(&r#"rank1 "recv Ping @[2]" {"rank0":1,"rank1":1}"#));
    }
}
