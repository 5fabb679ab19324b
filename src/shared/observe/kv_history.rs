//! Client histories of a key-value map: the file outside checkers read (Porcupine, Knossos, a
//! student's own), written by `--history FILE` (`distributed-hashmap`, and `raft`'s key-value
//! clients) and read back by `distributed-hashmap --check-history FILE`; and their check.
//!
//! The format: one JSON object a line, one line per client operation:
//! `{"client": 5, "op": "put", "key": "key-3", "value": "v5.12", "call": 1200, "ret": 1450}` or
//! `{"client": 5, "op": "get", "key": "key-3", "output": "v5.12", "call": 1500, "ret": 1720}`.
//! - `call` and `ret` are µs on one clock (rank 0's); `"ret": null`: it never returned;
//! - `eps` (µs, only where not 0): that client's clock uncertainty; the operation may have
//!   been pending from `call - eps` to `ret + eps`, so intervals are widened by it and no
//!   violation is claimed that a clock error could explain;
//! - values are strings, equal strings equal values; a get's `"output": null`: the key was
//!   absent (or, with `"ret": null`, nothing came back);
//! - a put that never returned may have taken effect at any time after its call, or never; a
//!   get that never returned constrains nothing.
//!
//! The check is key by key (linearizability is local): each key's history is a register's
//! ([`super::linearizability`]), and each violation is shrunk to a minimal set of operations.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::linearizability::{self, Operation, RegOp, Verdict};
use super::report::Check;

/// What an operation did; values are ids into [`KvHistory::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvCall {
    Put(u32),
    /// What a get returned (`None`: the key was absent, or it never returned).
    Get(Option<u32>),
}

/// One client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvOp {
    pub client: u64,
    /// An id into [`KvHistory::keys`].
    pub key: u32,
    pub what: KvCall,
    pub call_us: i64,
    /// `None`: it never returned.
    pub ret_us: Option<i64>,
    /// The client's clock uncertainty (µs, at least 0).
    pub eps_us: i64,
}

/// A history: operations, and the names of their keys and values (interned: one id a name).
#[derive(Debug, Clone, Default)]
pub struct KvHistory {
    pub keys: Vec<String>,
    pub values: Vec<String>,
    pub ops: Vec<KvOp>,
    key_ids: HashMap<String, u32>,
    value_ids: HashMap<String, u32>,
}

/// Times beyond this (µs, about 36,000 years) are refused, so that widening never overflows.
const MAX_TIME: i64 = 1 << 60;

fn intern(names: &mut Vec<String>, ids: &mut HashMap<String, u32>, name: &str) -> u32 {
    if let Some(&id) = ids.get(name) {
        return id;
    }
    let id = names.len() as u32;
    names.push(name.to_string());
    ids.insert(name.to_string(), id);
    id
}

/// The verdict on a history.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub keys: usize,
    /// Operations checked (gets that never returned are not).
    pub ops: usize,
    /// One line per key with no linearization: the minimal operations and why.
    pub violations: Vec<String>,
    /// One line per key the search gave up on.
    pub undecided: Vec<String>,
}

impl Checked {
    /// The `linearizability` check: failed on a violation (undecided keys listed after them),
    /// else undecided if the search gave up on a key, else passed with `ok_detail`.
    pub fn to_check(&self, ok_detail: String) -> Check {
        const NAME: &str = "linearizability";
        if self.violations.is_empty() && !self.undecided.is_empty() {
            let mut some = self.undecided[..self.undecided.len().min(5)].join("; ");
            if self.undecided.len() > 5 {
                some += &format!("; and {} more", self.undecided.len() - 5);
            }
            return Check::undecided(
                NAME,
                format!(
                    "no violation found, but the search gave up on {} of {} keys: {some}",
                    self.undecided.len(),
                    self.keys,
                ),
            );
        }
        let all = self.violations.iter().chain(&self.undecided).cloned();
        Check::from_violations(NAME, ok_detail, all.collect())
    }
}

impl KvHistory {
    /// The id of key `name`.
    pub fn key(&mut self, name: &str) -> u32 {
        intern(&mut self.keys, &mut self.key_ids, name)
    }

    /// The id of value `name`.
    pub fn value(&mut self, name: &str) -> u32 {
        intern(&mut self.values, &mut self.value_ids, name)
    }

    /// Clients with an operation.
    pub fn clients(&self) -> usize {
        let mut c: Vec<u64> = self.ops.iter().map(|o| o.client).collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    }

    /// The history in the file format, one line per operation, in call order.
    pub fn to_json_lines(&self) -> String {
        let mut order: Vec<&KvOp> = self.ops.iter().collect();
        order.sort_by_key(|o| (o.call_us, o.client));
        let text = |s: &str| serde_json::to_string(s).expect("a string");
        let mut out = String::with_capacity(self.ops.len() * 100);
        for o in order {
            let what = match o.what {
                KvCall::Put(v) => format!(
                    "\"op\": \"put\", \"key\": {}, \"value\": {}",
                    text(&self.keys[o.key as usize]),
                    text(&self.values[v as usize])
                ),
                KvCall::Get(v) => format!(
                    "\"op\": \"get\", \"key\": {}, \"output\": {}",
                    text(&self.keys[o.key as usize]),
                    v.map_or("null".into(), |v| text(&self.values[v as usize]))
                ),
            };
            let ret = o.ret_us.map_or("null".into(), |t| t.to_string());
            let eps = match o.eps_us {
                0 => String::new(),
                e => format!(", \"eps\": {e}"),
            };
            out += &format!(
                "{{\"client\": {}, {what}, \"call\": {}, \"ret\": {ret}{eps}}}\n",
                o.client, o.call_us
            );
        }
        out
    }

    /// Read a history in the file format (blank lines are skipped, unknown fields ignored);
    /// an error is one sentence naming the line.
    pub fn parse(text: &str) -> Result<KvHistory, String> {
        let mut h = KvHistory::default();
        for (i, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                h.parse_line(line, i + 1)?;
            }
        }
        Ok(h)
    }

    fn parse_line(&mut self, line: &str, n: usize) -> Result<(), String> {
        let v: Value = serde_json::from_str(line).map_err(|e| {
            let what = e.to_string();
            let what = what.split(" at line ").next().unwrap_or_default();
            format!(
                "line {n} is not one JSON object ({what} at column {})",
                e.column()
            )
        })?;
        let Value::Object(m) = v else {
            return Err(format!("line {n} is not a JSON object"));
        };
        let string = |f: &str| match m.get(f) {
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(format!("line {n}: \"{f}\" must be a string")),
        };
        let time = |f: &str| {
            match m.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => match x.as_i64() {
                Some(t) if t.abs() <= MAX_TIME => Ok(Some(t)),
                _ => Err(format!(
                    "line {n}: \"{f}\" must be an integer number of microseconds (at most 2^60 in size)"
                )),
            },
        }
        };
        let client = m
            .get("client")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("line {n}: \"client\" must be a non-negative integer"))?;
        let key = string("key")?.ok_or_else(|| format!("line {n}: \"key\" is missing"))?;
        let call = time("call")?.ok_or_else(|| format!("line {n}: \"call\" is missing"))?;
        if !m.contains_key("ret") {
            return Err(format!(
                "line {n}: \"ret\" is missing (null: it never returned)"
            ));
        }
        let ret = time("ret")?;
        if let Some(r) = ret.filter(|&r| r < call) {
            return Err(format!("line {n}: \"ret\" {r} is before \"call\" {call}"));
        }
        let eps = time("eps")?.unwrap_or(0);
        if eps < 0 {
            return Err(format!("line {n}: \"eps\" must not be negative"));
        }
        let what = match string("op")? {
            Some("put") => {
                let v = string("value")?
                    .ok_or_else(|| format!("line {n}: a put needs a \"value\" (a string)"))?;
                KvCall::Put(self.value(v))
            }
            Some("get") => {
                if ret.is_some() && !m.contains_key("output") {
                    return Err(format!(
                        "line {n}: a get that returned needs an \"output\" (null: the key was absent)"
                    ));
                }
                let out = string("output")?.filter(|_| ret.is_some());
                KvCall::Get(out.map(|v| self.value(v)))
            }
            _ => return Err(format!("line {n}: \"op\" must be \"put\" or \"get\"")),
        };
        let key = self.key(key);
        self.ops.push(KvOp {
            client,
            key,
            what,
            call_us: call,
            ret_us: ret,
            eps_us: eps,
        });
        Ok(())
    }

    /// Check every key's history: exactly where values are distinct, by the search otherwise
    /// (or always, with `search_only`), at most `budget` search steps per key; violations of
    /// keys with at most `shrink_limit` operations are shrunk to a minimal set.
    pub fn check(&self, search_only: bool, budget: u64, shrink_limit: usize) -> Checked {
        let mut per_key: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, o) in self.ops.iter().enumerate() {
            // A get that never returned constrains nothing.
            if matches!(o.what, KvCall::Put(_)) || o.ret_us.is_some() {
                per_key.entry(o.key).or_default().push(i);
            }
        }
        let mut checked = Checked {
            keys: per_key.len(),
            ops: per_key.values().map(Vec::len).sum(),
            ..Checked::default()
        };
        for (key, hist) in &per_key {
            let name = &self.keys[*key as usize];
            let plain: Vec<Operation> = hist.iter().map(|&i| operation(&self.ops[i])).collect();
            let verdict = if search_only {
                linearizability::search_within(&plain, budget)
            } else {
                linearizability::check_within(&plain, budget)
            };
            match verdict {
                Ok(()) => {}
                Err(Verdict::Undecided(steps)) => checked.undecided.push(format!(
                    "{name}: undecided: {} operations, no verdict within {steps} search steps",
                    plain.len()
                )),
                Err(Verdict::Violation(_)) => {
                    let (minimal, why) = linearizability::explain(&plain, shrink_limit);
                    let listed: Vec<String> =
                        minimal.iter().map(|&i| self.describe(hist[i])).collect();
                    checked
                        .violations
                        .push(format!("{name}: {why}: {}", listed.join(", ")));
                }
            }
        }
        checked
    }

    /// `client 5 put v5.12 [1.200, 1.450] ms`.
    fn describe(&self, i: usize) -> String {
        let o = &self.ops[i];
        let what = match o.what {
            KvCall::Put(v) => format!("put {}", self.values[v as usize]),
            KvCall::Get(v) => format!(
                "get -> {}",
                v.map_or("nothing", |v| self.values[v as usize].as_str())
            ),
        };
        let ms = |t: i64| t as f64 / 1e3;
        let end = o
            .ret_us
            .map_or("never returned".into(), |t| format!("{:.3}", ms(t)));
        format!(
            "client {} {what} [{:.3}, {end}] ms",
            o.client,
            ms(o.call_us)
        )
    }
}

/// An operation as the register checker sees it.
fn operation(o: &KvOp) -> Operation {
    Operation {
        op: match o.what {
            KvCall::Put(v) => RegOp::Write(v),
            KvCall::Get(v) => RegOp::Read(v),
        },
        invoke: o.call_us,
        ret: o.ret_us,
        slack: o.eps_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: u64 = linearizability::DEFAULT_BUDGET;

    #[test]
    fn a_history_survives_writing_and_reading() {
        let text = r#"{"client": 5, "op": "put", "key": "key-3", "value": "v5.1", "call": 1200, "ret": 1450}
{"client": 4, "op": "get", "key": "key-3", "output": "v5.1", "call": 1500, "ret": 1720, "eps": 15}

{"client": 4, "op": "get", "key": "key-1", "output": null, "call": 1800, "ret": null}
{"client": 4, "op": "get", "key": "key-1", "output": null, "call": 1900, "ret": 1950}
{"client": 5, "op": "put", "key": "key-3", "value": "v\"5.2", "call": 2000, "ret": null, "extra": [1]}
"#;
        let h = KvHistory::parse(text).unwrap();
        assert_eq!((h.ops.len(), h.keys.len(), h.clients()), (5, 2, 2));
        assert_eq!(h.ops[1].eps_us, 15);
        assert_eq!(h.ops[2].ret_us, None);
        let again = KvHistory::parse(&h.to_json_lines()).unwrap();
        assert_eq!(again.to_json_lines(), h.to_json_lines());
        assert_eq!(
            h.to_json_lines().lines().next().unwrap(),
            r#"{"client": 5, "op": "put", "key": "key-3", "value": "v5.1", "call": 1200, "ret": 1450}"#
        );
        let c = h.check(false, BUDGET, 100);
        assert_eq!((c.keys, c.ops), (2, 4), "the unanswered get is not checked");
        assert!(c.violations.is_empty() && c.undecided.is_empty(), "{c:?}");
    }

    #[test]
    fn bad_lines_are_named() {
        let bad = [
            (
                "not json",
                "is not one JSON object (expected ident at column 2)",
            ),
            ("[1, 2]", "is not a JSON object"),
            (
                r#"{"op": "put", "key": "k", "value": "1", "call": 1, "ret": 2}"#,
                "\"client\"",
            ),
            (
                r#"{"client": 1, "op": "del", "key": "k", "call": 1, "ret": 2}"#,
                "\"op\" must be",
            ),
            (
                r#"{"client": 1, "op": "put", "key": "k", "call": 1, "ret": 2}"#,
                "needs a \"value\"",
            ),
            (
                r#"{"client": 1, "op": "put", "key": "k", "value": 7, "call": 1, "ret": 2}"#,
                "\"value\" must be a string",
            ),
            (
                r#"{"client": 1, "op": "get", "key": "k", "call": 1, "ret": 2}"#,
                "needs an \"output\"",
            ),
            (
                r#"{"client": 1, "op": "get", "key": "k", "output": null, "call": 1.5, "ret": 2}"#,
                "\"call\" must be an integer",
            ),
            (
                r#"{"client": 1, "op": "get", "key": "k", "output": null, "call": 5, "ret": 2}"#,
                "\"ret\" 2 is before \"call\" 5",
            ),
            (
                r#"{"client": 1, "op": "get", "key": "k", "output": null, "call": 5}"#,
                "\"ret\" is missing",
            ),
            (
                r#"{"client": 1, "op": "get", "key": "k", "output": null, "call": 5, "ret": 6, "eps": -1}"#,
                "\"eps\" must not be negative",
            ),
            (
                r#"{"client": 1, "op": "get", "key": "k", "output": null, "call": 9223372036854775807, "ret": null}"#,
                "at most 2^60",
            ),
        ];
        for (line, says) in bad {
            let text = format!("\n{line}\n");
            let e = KvHistory::parse(&text).unwrap_err();
            assert!(e.starts_with("line 2") && e.contains(says), "{line}: {e}");
        }
    }

    #[test]
    fn a_value_written_twice_and_a_put_never_answered_are_checked_soundly() {
        // put a [0,10]; get -> a [11,12]; put a [20, never]: linearizable (the get saw the
        // first put; the second may take effect later or never).
        let text = r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "ret": 10}
{"client": 2, "op": "get", "key": "x", "output": "a", "call": 11, "ret": 12}
{"client": 3, "op": "put", "key": "x", "value": "a", "call": 20, "ret": null}
"#;
        let h = KvHistory::parse(text).unwrap();
        for search_only in [false, true] {
            let c = h.check(search_only, BUDGET, 100);
            assert!(c.violations.is_empty() && c.undecided.is_empty(), "{c:?}");
        }
        // With a budget of one step the search cannot decide it.
        let c = h.check(true, 1, 100);
        assert!(c.violations.is_empty(), "{c:?}");
        assert!(c.undecided[0].starts_with("x: undecided"), "{c:?}");
        // A stale read: refused and explained.
        let text = r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "ret": 10}
{"client": 1, "op": "put", "key": "x", "value": "b", "call": 11, "ret": 12}
{"client": 2, "op": "get", "key": "x", "output": "a", "call": 13, "ret": 14}
"#;
        let c = KvHistory::parse(text).unwrap().check(false, BUDGET, 100);
        assert_eq!(c.violations.len(), 1);
        assert!(
            c.violations[0].starts_with("x: stale read")
                && c.violations[0].contains("client 2 get -> a [0.013, 0.014] ms"),
            "{c:?}"
        );
    }
}
